"""`tito data list | fetch | verify`, run in the real repository with a temporary data root.

The network is replaced by an in-memory fake in every test here, so nothing leaves the machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import tinytorch.core.data as D
from tito import data_cmds
from tito.errors import TitoError

REAL_ROOT = Path(__file__).resolve().parents[2]


class FakeResponse(io.BytesIO):
    """What urlopen returns, for a whole file: status 200 and a Content-Length."""

    def __init__(self, body: bytes):
        super().__init__(body)
        self.status = 200
        self.headers = {"Content-Length": str(len(body))}


def synthetic_mnist(n: int = 12) -> dict:
    """The four official MNIST file names holding n tiny random digits each (gzip'd IDX)."""
    rng = np.random.default_rng(0)
    files = {}
    for split in ("train", "t10k"):
        pixels = rng.integers(0, 256, n * 28 * 28, dtype=np.uint8).tobytes()
        header = (2051).to_bytes(4, "big") + b"".join(v.to_bytes(4, "big") for v in (n, 28, 28))
        files[f"{split}-images-idx3-ubyte.gz"] = gzip.compress(header + pixels, mtime=0)
        labels = bytes(i % 10 for i in range(n))
        files[f"{split}-labels-idx1-ubyte.gz"] = gzip.compress((2049).to_bytes(4, "big")
                                                               + n.to_bytes(4, "big") + labels, mtime=0)
    return files


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """An empty TINYTORCH_DATA, and a network that refuses every request."""
    root = tmp_path / "data"
    monkeypatch.setenv("TINYTORCH_DATA", str(root))

    def offline(url, offset, timeout):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(D, "_open_url", offline)
    return root


@pytest.fixture
def serve_mnist(monkeypatch):
    """Serve synthetic MNIST files in place of the real mirrors, with matching checksums."""
    files = synthetic_mnist()
    monkeypatch.setattr(D.MNIST, "resources", tuple(
        D.Resource(name, hashlib.md5(body).hexdigest(), hashlib.sha256(body).hexdigest())
        for name, body in files.items()))
    monkeypatch.setattr(D, "_open_url", lambda url, offset, timeout: FakeResponse(files[url.rsplit("/", 1)[1]]))
    return files


def rows(out: str) -> dict:
    """`tito data list` output as {name: line}."""
    return {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}


def test_list_in_an_empty_cache(tito, data_root):
    code, out, _ = tito(REAL_ROOT, "data", "list")
    assert code == 0
    assert out.splitlines()[0] == f"data root: {data_root} ($TINYTORCH_DATA)"
    table = rows(out)
    assert list(table) == ["tinydigits", "tinymnist", "tinyfashion", "mnist", "fashion_mnist", "cifar10"]
    for name in ("tinydigits", "tinymnist", "tinyfashion"):
        assert "shipped" in table[name] and "verified" in table[name] and f"datasets/{name}.npz" in table[name]
    assert "not downloaded" in table["mnist"] and "tito data fetch mnist" in table["mnist"]
    assert str(data_root / "cifar10") in table["cifar10"]
    assert not data_root.exists(), "listing must not create anything"


def test_list_and_verify_on_the_shared_official_files(tito, monkeypatch):
    shared = Path(os.environ.get("TINYTORCH_DATA", REAL_ROOT.parent / "shared" / "datasets"))
    if not (shared / "mnist").is_dir():
        pytest.skip("no local copy of the official files")
    monkeypatch.setenv("TINYTORCH_DATA", str(shared))
    code, out, _ = tito(REAL_ROOT, "data", "list")
    assert code == 0
    table = rows(out)
    assert "verified" in table["mnist"] and "11.6 MB" in table["mnist"]
    assert "verified" in table["fashion_mnist"]
    code, out, _ = tito(REAL_ROOT, "data", "verify", "mnist", "fashion-mnist")
    assert code == 0 and out.count("OK       ") == 8 and "8 file(s) verified, 0 problem(s)" in out


def test_verify_everything_in_an_empty_cache_passes(tito, data_root):
    code, out, _ = tito(REAL_ROOT, "data", "verify")
    assert code == 0
    assert "OK       datasets/tinymnist.npz" in out
    assert "-        mnist: not downloaded (tito data fetch mnist)" in out


def test_verify_a_named_dataset_that_is_missing_fails(tito, data_root):
    code, out, _ = tito(REAL_ROOT, "data", "verify", "mnist")
    assert code == 1
    assert f"MISSING  {data_root / 'mnist' / 'train-images-idx3-ubyte.gz'} (tito data fetch mnist)" in out


def test_a_corrupt_file_is_reported_and_left_in_place(tito, data_root):
    bad = data_root / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"truncated download")
    code, out, _ = tito(REAL_ROOT, "data", "list")
    assert code == 0 and "CORRUPT (t10k-labels-idx1-ubyte.gz)" in rows(out)["fashion_mnist"]
    code, out, _ = tito(REAL_ROOT, "data", "verify")
    assert code == 1
    assert f"CORRUPT  {bad}: sha256 is" in out and "tito data fetch fashion_mnist replaces it" in out
    assert bad.read_bytes() == b"truncated download", "verify only reads"


def test_fetch_downloads_and_verifies(tito, data_root, serve_mnist):
    code, out, _ = tito(REAL_ROOT, "data", "fetch", "mnist")
    assert code == 0, out
    assert f"mnist: 4 file(s) verified in {data_root / 'mnist'}" in out
    assert sorted(p.name for p in (data_root / "mnist").iterdir()) == sorted(serve_mnist)
    code, out, _ = tito(REAL_ROOT, "data", "verify", "mnist")
    assert code == 0 and "4 file(s) verified" in out


def test_fetch_offline_says_what_to_put_where(tito, data_root):
    code, _, err = tito(REAL_ROOT, "data", "fetch", "fashion_mnist")
    assert code == 1
    assert str(data_root / "fashion_mnist") in err and "TINYTORCH_DATA" in err
    assert "network disabled in tests" in err
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        assert name in err, f"the offline message should list every file to copy, {name} is missing"
    assert not data_root.exists(), "a failed fetch must not leave an empty cache folder behind"
    assert "Traceback" not in err


def test_fetch_a_shipped_dataset_only_verifies_it(tito, data_root):
    code, out, _ = tito(REAL_ROOT, "data", "fetch", "TinyMNIST")
    assert code == 0
    assert "tinymnist ships with the repository (datasets/tinymnist.npz, verified); nothing to download" in out


@pytest.mark.parametrize("args", [("fetch", "imagenet"), ("verify", "mnist", "nope")])
def test_unknown_names_are_usage_errors(tito, data_root, args):
    code, _, err = tito(REAL_ROOT, "data", *args)
    assert code == 2
    assert "argument NAME: expected one of tinydigits, tinymnist, tinyfashion, mnist, fashion_mnist, cifar10" in err


def test_data_needs_an_action(tito, data_root):
    code, _, err = tito(REAL_ROOT, "data")
    assert code == 2 and "ACTION" in err


def test_a_broken_package_is_a_clear_error(monkeypatch):
    def broken(name):
        raise SyntaxError("invalid syntax (data.py, line 12)")

    monkeypatch.setattr(data_cmds.importlib, "import_module", broken)
    with pytest.raises(TitoError, match="tito export 08"):
        data_cmds.load_data_module(REAL_ROOT)
