"""Module 08: MNIST/Fashion-MNIST on the real files, CIFAR-10 on official-format archives built
here, safe archive handling, the shipped tiny datasets and their build scripts, the registry."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import re
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import tinytorch.core.data as D
from tinytorch.core.tensor import Tensor

REPO = Path(__file__).resolve().parents[2]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def shared(make):
    folder = make.shared_datasets()
    if folder is None:
        pytest.skip("no local copy of the official MNIST files "
                    "(set TINYTORCH_DATA to a folder holding mnist/, or provide ../shared/datasets)")
    return folder


# ----- MNIST and Fashion-MNIST on the real files ------------------------------------------------------
@pytest.mark.parametrize("cls, train_counts, test_counts", [
    (D.MNIST, MNIST_TRAIN_COUNTS, MNIST_TEST_COUNTS),
    (D.FashionMNIST, [6000] * 10, [1000] * 10),
])
def test_real_files_load_verified_without_any_download(shared, forbid_network, monkeypatch, cls, train_counts,
                                                       test_counts):
    monkeypatch.setenv("TINYTORCH_DATA", str(shared))
    assert all(s.state == "verified" for s in D.dataset_status(cls.name)), "the official checksums must match"
    for train, counts in ((True, train_counts), (False, test_counts)):
        ds = cls(train=train)
        assert ds.data.shape == (sum(counts), 1, 28, 28) and ds.data.dtype == np.uint8
        assert ds.targets.dtype == np.int64 and np.bincount(ds.targets).tolist() == counts
    assert 0.1 < ds.data.mean() / 255 < 0.35, "pixel statistics of real images, not noise"


def test_real_mnist_through_a_loader(shared, forbid_network):
    ds = D.MNIST(root=shared, train=False, transform=D.Compose([D.ToTensor(), D.Normalize((0.1307,), (0.3081,))]))
    assert "Number of datapoints: 10000" in repr(ds) and str(shared / "mnist") in repr(ds)
    images, labels = next(iter(D.DataLoader(ds, batch_size=256, shuffle=True, seed=0)))
    assert images.shape == (256, 1, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64
    image, label = ds[0]
    assert isinstance(image, Tensor) and label == 7, "the first MNIST test digit is a 7"


def test_real_folder_is_left_untouched(shared, forbid_network):
    before = sorted(p.name for p in (shared / "mnist").iterdir())
    D.MNIST(root=shared, train=False)
    assert sorted(p.name for p in (shared / "mnist").iterdir()) == before


# ----- bad MNIST-format files -----------------------------------------------------------------------
def local_mnist(make, files, folder):
    """Write the files into folder/mnist and return an MNIST class that trusts their checksums."""
    (folder / "mnist").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / "mnist" / name).write_bytes(data)

    class LocalMNIST(D.MNIST):
        resources = tuple(make.resource(name, data) for name, data in files.items())

    return LocalMNIST


@pytest.mark.parametrize("images, labels, words", [
    (np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8), ["5 images", "4 labels"]),
    (np.zeros((5, 32, 32), np.uint8), np.zeros(5, np.uint8), ["(N, 28, 28)"]),
    (np.zeros((5, 28, 28), np.float32), np.zeros(5, np.uint8), ["uint8"]),
    (np.zeros((5, 28, 28), np.uint8), np.full(5, 12, np.uint8), ["0..9"]),
])
def test_wrong_contents_are_clear_errors(make, tmp_path, forbid_network, images, labels, words):
    files = {"t10k-images-idx3-ubyte.gz": make.gz(make.idx_bytes(images)),
             "t10k-labels-idx1-ubyte.gz": make.gz(make.idx_bytes(labels))}
    with pytest.raises(D.DataError) as caught:
        local_mnist(make, files, tmp_path)(root=tmp_path, train=False)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_wrong_magic_and_corrupted_gzip_name_the_file(make, tmp_path, forbid_network):
    good_labels = make.gz(make.idx_bytes(np.zeros(3, np.uint8)))
    raw = make.idx_bytes(np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8))
    for bad in (make.gz(b"\x00\x01" + raw[2:]), make.gz(raw)[:1000]):
        files = {"t10k-images-idx3-ubyte.gz": bad, "t10k-labels-idx1-ubyte.gz": good_labels}
        with pytest.raises(D.DataError, match="t10k-images-idx3-ubyte.gz"):
            local_mnist(make, files, tmp_path)(root=tmp_path, train=False)


# ----- CIFAR-10 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["binary", "python"])
def test_cifar10_from_official_format_archives(make, tmp_path, forbid_network, kind):
    cifar = make.cifar_like(kind, per_batch=20)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / cifar.filename).write_bytes(cifar.archive)
    resources = {"resources": (cifar.resource,)} if kind == "binary" else {"python_resource": cifar.resource}
    Local = type("LocalCIFAR10", (D.CIFAR10,), resources)
    train, test = Local(root=tmp_path, train=True), Local(root=tmp_path, train=False)
    assert train.data.shape == (100, 3, 32, 32) and test.data.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(train.data, cifar.train_images)
    np.testing.assert_array_equal(train.targets, cifar.train_labels)
    np.testing.assert_array_equal(test.data, cifar.test_images)
    assert train.targets.dtype == np.int64 and np.bincount(train.targets).tolist() == [10] * 10
    inner = "cifar-10-batches-bin" if kind == "binary" else "cifar-10-batches-py"
    assert (tmp_path / "cifar10" / inner).is_dir(), "the archive is extracted once, next to it"
    assert not [p for p in (tmp_path / "cifar10").iterdir() if p.name.startswith(".extract")]


def test_cifar10_download_uses_the_binary_archive(http_server, make, tmp_path):
    cifar = make.cifar_like("binary", per_batch=10)
    http_server.files["/kriz/cifar-10-binary.tar.gz"] = cifar.archive

    class LocalCIFAR10(D.CIFAR10):
        mirrors = (http_server.url("/kriz/"),)
        resources = (cifar.resource,)

    test = LocalCIFAR10(train=False)
    np.testing.assert_array_equal(test.targets, cifar.test_labels)
    assert http_server.requests == [("/kriz/cifar-10-binary.tar.gz", None)]
    assert [s.state for s in D.dataset_status("cifar10")] == ["corrupt"], (
        "the real table's checksum does not match a synthetic archive")


def test_cifar10_reads_from_the_archive_when_the_folder_is_read_only(make, tmp_path, forbid_network, monkeypatch):
    cifar = make.cifar_like("binary", per_batch=10)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / cifar.filename).write_bytes(cifar.archive)
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: False)
    Local = type("LocalCIFAR10", (D.CIFAR10,), {"resources": (cifar.resource,)})
    np.testing.assert_array_equal(Local(root=tmp_path, train=False).data, cifar.test_images)
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == [cifar.filename], "nothing written"


def test_numpy_2_pickles_load_too(make, tmp_path, forbid_network):
    cifar = make.cifar_like("python", per_batch=10, legacy_numpy_name=False)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / cifar.filename).write_bytes(cifar.archive)
    Local = type("LocalCIFAR10", (D.CIFAR10,), {"python_resource": cifar.resource})
    np.testing.assert_array_equal(Local(root=tmp_path, train=False).targets, cifar.test_labels)


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("payload", [
    pickle.dumps({"data": Exploit()}, protocol=2),
    pickle.dumps({"data": Exploit()}, protocol=5),
    pickle.dumps(Exploit(), protocol=0),
    b"cbuiltins\neval\n(S'1+1'\ntR.",
])
def test_the_restricted_unpickler_refuses_code(payload, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(D.DataError, match="refusing to load"):
        D.decode_cifar_pickle(payload, "evil")
    assert not (tmp_path / "pwned").exists()


def test_a_malicious_python_archive_is_refused(make, tmp_path, forbid_network, monkeypatch):
    monkeypatch.chdir(tmp_path)
    members = {f"cifar-10-batches-py/{n}": pickle.dumps({"data": Exploit()}, protocol=2)
               for n in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]}
    archive = make.tar_gz(members)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(archive)
    Local = type("LocalCIFAR10", (D.CIFAR10,), {"python_resource": make.resource("cifar-10-python.tar.gz", archive)})
    with pytest.raises(D.DataError, match="posix.system|nt.system"):
        Local(root=tmp_path, train=False)
    assert not (tmp_path / "pwned").exists()


def test_cifar_binary_batches_must_be_whole_records():
    with pytest.raises(D.DataError, match="3,073-byte"):
        D.decode_cifar_binary(bytes(3073 * 2 + 5), "short")
    bad_label = bytes([10]) + bytes(3072)
    with pytest.raises(D.DataError, match="0..9"):
        D.decode_cifar_binary(bad_label, "labels")


def test_missing_cifar_members_are_reported(make, tmp_path, forbid_network):
    archive = make.tar_gz({"cifar-10-batches-bin/test_batch.bin": bytes(3073)})
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(archive)
    Local = type("LocalCIFAR10", (D.CIFAR10,), {"resources": (make.resource("cifar-10-binary.tar.gz", archive),)})
    assert len(Local(root=tmp_path, train=False)) == 1
    with pytest.raises(D.DataError, match="data_batch_1"):
        Local(root=tmp_path, train=True)


# ----- safe extraction ----------------------------------------------------------------------------
def evil_archive(kind: str) -> bytes:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as tar:
        info = tarfile.TarInfo({"dotdot": "data/../../escaped.txt", "absolute": "/tmp/tinytorch-escaped.txt",
                                "symlink": "data/link", "hardlink": "data/hard", "device": "data/dev"}[kind])
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "/etc/passwd"
        elif kind == "device":
            info.type = tarfile.CHRTYPE
        else:
            info.size = 4
        tar.addfile(info, io.BytesIO(b"evil") if info.size else None)
    return stream.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_unsafe_archive_members_are_refused(tmp_path, kind):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(evil_archive(kind))
    dest = tmp_path / "out" / "deeper"
    with pytest.raises(D.DataError, match="refusing to extract"):
        D.extract_archive(archive, dest)
    assert list(dest.iterdir()) == [], "nothing may be extracted from an archive that failed the checks"
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "escaped.txt").exists()


def test_extraction_replaces_an_older_copy_and_a_broken_archive_is_clear(tmp_path, make):
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(make.tar_gz({"top/a.txt": b"new"}))
    (tmp_path / "dest" / "top").mkdir(parents=True)
    (tmp_path / "dest" / "top" / "stale.txt").write_bytes(b"old")
    assert D.extract_archive(archive, tmp_path / "dest") == ["top"]
    assert sorted(p.name for p in (tmp_path / "dest" / "top").iterdir()) == ["a.txt"]
    archive.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(D.DataError, match="not a readable tar archive"):
        D.extract_archive(archive, tmp_path / "dest2")


# ----- shipped datasets ----------------------------------------------------------------------------
SHIPPED = [(D.TinyDigits, (1, 8, 8), 1438, 359), (D.TinyMNIST, (1, 28, 28), 1000, 200),
           (D.TinyFashion, (1, 28, 28), 1000, 200)]


@pytest.mark.parametrize("cls, shape, n_train, n_test", SHIPPED)
def test_shipped_datasets_are_small_verified_and_balanced(cls, shape, n_train, n_test, forbid_network):
    path = REPO / "datasets" / cls.filename
    assert path.stat().st_size < 1_000_000, f"{path.name} should stay under 1 MB"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == cls.sha256
    with np.load(path, allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["test_images", "test_labels", "train_images", "train_labels"]
        assert all(arrays[key].dtype == np.uint8 for key in arrays.files), "plain uint8 arrays only"
    for train, n in ((True, n_train), (False, n_test)):
        ds = cls(train=train)
        assert ds.data.shape == (n, *shape) and ds.targets.dtype == np.int64
        counts = np.bincount(ds.targets, minlength=10)
        assert counts.max() - counts.min() <= (0 if cls is not D.TinyDigits else 8), "class-balanced"
        assert ds.data.max() > 200, "pixels use the 0..255 range"


def test_shipped_train_and_test_images_do_not_overlap():
    for cls, *_ in SHIPPED:
        train = {row.tobytes() for row in cls(train=True).data}
        assert not any(row.tobytes() in train for row in cls(train=False).data), cls.__name__


@pytest.mark.parametrize("cls", [D.TinyDigits, D.TinyMNIST, D.TinyFashion])
def test_readme_table_matches_the_files(cls):
    readme = (REPO / "datasets" / "README.md").read_text(encoding="utf-8")
    row = next((line for line in readme.splitlines() if f"`{cls.filename}`" in line and line.startswith("|")), None)
    assert row is not None, f"datasets/README.md has no table row for {cls.filename}"
    assert cls.sha256 in row and f"{(REPO / 'datasets' / cls.filename).stat().st_size:,}" in row


def test_a_damaged_or_missing_shipped_file_is_a_clear_error(tmp_path):
    shutil.copy(REPO / "datasets" / "tinydigits.npz", tmp_path / "tinydigits.npz")
    with open(tmp_path / "tinydigits.npz", "r+b") as stream:
        stream.seek(100)
        stream.write(b"\xff\xff")
    with pytest.raises(D.ChecksumError, match="git checkout -- datasets/tinydigits.npz"):
        D.TinyDigits(root=tmp_path)
    with pytest.raises(D.DatasetNotFoundError, match="build_tinymnist.py"):
        D.TinyMNIST(root=tmp_path)


# ----- build scripts ------------------------------------------------------------------------------
def load_build_module(name: str):
    sys.path.insert(0, str(REPO / "datasets"))
    try:
        spec = importlib.util.spec_from_file_location(name, REPO / "datasets" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO / "datasets"))


def test_tinycifar_build_script_on_an_official_format_archive(make, tmp_path, forbid_network, monkeypatch):
    cifar = make.cifar_like("binary", per_batch=30)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / cifar.filename).write_bytes(cifar.archive)
    monkeypatch.setattr(D.CIFAR10, "resources", (cifar.resource,))
    builder = load_build_module("build_tiny_from_real")
    out = builder.build(D.CIFAR10, tmp_path, tmp_path / "tinycifar.npz", train_per_class=4, test_per_class=2)
    with np.load(out, allow_pickle=False) as arrays:
        assert arrays["train_images"].shape == (40, 3, 32, 32) and arrays["test_images"].shape == (20, 3, 32, 32)
        assert np.bincount(arrays["train_labels"]).tolist() == [4] * 10
        train_rows = {r.tobytes() for r in cifar.train_images}
        assert all(r.tobytes() in train_rows for r in arrays["train_images"]), "train picks come from train"
    first = hashlib.sha256(out.read_bytes()).hexdigest()
    builder.build(D.CIFAR10, tmp_path, out, train_per_class=4, test_per_class=2)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == first, "rebuilding gives the same bytes"


def test_build_scripts_exist_for_every_shipped_dataset():
    for cls in (D.TinyDigits, D.TinyMNIST, D.TinyFashion):
        script = (REPO / "datasets" / cls.build_script).read_text(encoding="utf-8")
        assert cls.filename in script


# ----- registry ------------------------------------------------------------------------------------
def test_registry_names_and_unknown_names():
    assert list(D.DATASETS) == ["tinydigits", "tinymnist", "tinyfashion", "mnist", "fashion_mnist", "cifar10"]
    assert D.dataset_class("Fashion-MNIST") is D.FashionMNIST
    with pytest.raises(ValueError, match=re.escape("known datasets: tinydigits, tinymnist")):
        D.dataset_class("imagenet")


def test_status_never_moves_files(tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"not it")
    report = D.dataset_status("mnist", root=tmp_path)
    assert [s.state for s in report] == ["corrupt", "missing", "missing", "missing"]
    assert "md5" in report[0].detail or "sha256" in report[0].detail
    assert (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "x"))
    assert D.data_root() == tmp_path / "x" and D.data_root("~/y") == Path.home() / "y"
    monkeypatch.delenv("TINYTORCH_DATA")
    assert D.data_root() == Path.home() / ".cache" / "tinytorch"


def test_the_namespace_reexports_the_public_names():
    import tinytorch.data as data

    for name in ("Dataset", "TensorDataset", "DataLoader", "MNIST", "FashionMNIST", "CIFAR10", "TinyMNIST",
                 "Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "ColorJitter"):
        assert getattr(data, name) is getattr(D, name)
