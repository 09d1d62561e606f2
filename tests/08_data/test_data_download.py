"""Module 08: downloads against a local HTTP server — mirrors, resume, atomicity, checksums, offline."""

from __future__ import annotations

import os

import pytest

import tinytorch.core.data as D


@pytest.fixture
def blob(make):
    data = bytes(range(256)) * 400  # 102,400 bytes
    return data, make.resource("blob.bin", data)


def test_download_verifies_and_renames_into_place(http_server, blob, tmp_path):
    data, resource = blob
    http_server.files["/m/blob.bin"] = data
    path = D.download_file(resource, [http_server.url("/m/")], tmp_path / "cache")
    assert path == tmp_path / "cache" / "blob.bin" and path.read_bytes() == data
    assert sorted(p.name for p in path.parent.iterdir()) == ["blob.bin"], "no .part or temp file left behind"
    assert http_server.requests == [("/m/blob.bin", None)]


def test_mirrors_are_tried_in_order(http_server, blob, tmp_path):
    data, resource = blob
    http_server.files["/second/blob.bin"] = data
    D.download_file(resource, [http_server.url("/first/"), http_server.url("/second/")], tmp_path)
    assert [path for path, _ in http_server.requests] == ["/first/blob.bin", "/second/blob.bin"]


def test_a_cut_connection_keeps_the_part_and_the_next_call_resumes(http_server, blob, tmp_path):
    data, resource = blob
    http_server.files["/m/blob.bin"] = data
    http_server.cut_once.add("/m/blob.bin")
    with pytest.raises(D.DownloadError) as caught:
        D.download_file(resource, [http_server.url("/m/")], tmp_path)
    assert "closed after" in str(caught.value) and "resumes" in str(caught.value)
    part = tmp_path / "blob.bin.part"
    assert not (tmp_path / "blob.bin").exists(), "a half file must never appear under the real name"
    assert part.stat().st_size == len(data) // 2
    D.download_file(resource, [http_server.url("/m/")], tmp_path)
    assert (tmp_path / "blob.bin").read_bytes() == data and not part.exists()
    assert http_server.requests[-1] == ("/m/blob.bin", f"bytes={len(data) // 2}-"), "resumed with a Range header"


def test_a_second_mirror_resumes_what_the_first_one_started(http_server, blob, tmp_path):
    data, resource = blob
    http_server.files["/a/blob.bin"] = http_server.files["/b/blob.bin"] = data
    http_server.cut_once.add("/a/blob.bin")
    D.download_file(resource, [http_server.url("/a/"), http_server.url("/b/")], tmp_path)
    assert (tmp_path / "blob.bin").read_bytes() == data
    assert http_server.requests[1] == ("/b/blob.bin", f"bytes={len(data) // 2}-")


def test_a_server_that_ignores_range_restarts_the_file(http_server, blob, tmp_path):
    data, resource = blob
    (tmp_path / "blob.bin.part").write_bytes(b"garbage that must not be kept")
    http_server.files["/m/blob.bin"] = data
    http_server.honour_range = False
    D.download_file(resource, [http_server.url("/m/")], tmp_path)
    assert (tmp_path / "blob.bin").read_bytes() == data


def test_a_206_from_byte_zero_replaces_the_part(http_server, blob, tmp_path):
    data, resource = blob
    (tmp_path / "blob.bin.part").write_bytes(data[:1000])
    http_server.files["/m/blob.bin"] = data
    http_server.range_from_zero = True
    D.download_file(resource, [http_server.url("/m/")], tmp_path)
    assert (tmp_path / "blob.bin").read_bytes() == data


def test_a_complete_part_is_finished_without_a_body(http_server, blob, tmp_path):
    data, resource = blob
    (tmp_path / "blob.bin.part").write_bytes(data)
    http_server.files["/m/blob.bin"] = data
    D.download_file(resource, [http_server.url("/m/")], tmp_path)  # the server answers 416
    assert (tmp_path / "blob.bin").read_bytes() == data


def test_checksum_mismatch_is_moved_aside_and_never_used(http_server, blob, tmp_path):
    data, resource = blob
    http_server.files["/m/blob.bin"] = data[:-1] + b"!"
    with pytest.raises(D.DownloadError) as caught:
        D.download_file(resource, [http_server.url("/m/")], tmp_path)
    assert "checksum" in str(caught.value) and "sha256" in str(caught.value)
    assert not (tmp_path / "blob.bin").exists() and not (tmp_path / "blob.bin.part").exists()
    assert (tmp_path / "blob.bin.corrupt").read_bytes() == data[:-1] + b"!"


def test_bad_mirror_then_good_mirror_after_a_checksum_failure(http_server, blob, tmp_path):
    data, resource = blob
    http_server.files["/bad/blob.bin"] = b"x" * len(data)
    http_server.files["/good/blob.bin"] = data
    D.download_file(resource, [http_server.url("/bad/"), http_server.url("/good/")], tmp_path)
    assert (tmp_path / "blob.bin").read_bytes() == data
    assert http_server.requests[1] == ("/good/blob.bin", None), "the corrupt part is not resumed"


def test_only_http_urls_are_followed(blob, tmp_path):
    data, resource = blob
    with pytest.raises(D.DownloadError, match="only http and https"):
        D.download_file(resource, [f"file://{tmp_path}/"], tmp_path / "cache")


def test_offline_message_says_what_to_put_where(closed_port_url):
    class OfflineMNIST(D.MNIST):
        mirrors = (closed_port_url,)

    with pytest.raises(D.DownloadError) as caught:
        OfflineMNIST(train=True)
    message = str(caught.value)
    folder = D.data_root() / "mnist"
    # All four official files: copying only one split's leaves the other split unusable offline.
    for needed in (str(folder), "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                   "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                   "TINYTORCH_DATA", "f68b3c2dcbeaaa9fbdd348bbdeb94873", closed_port_url):
        assert needed in message, f"the offline message should mention {needed!r}:\n{message}"
    assert not folder.exists(), "a failed fetch must not leave an empty cache folder behind"


def test_download_false_never_touches_the_network(forbid_network):
    with pytest.raises(D.DatasetNotFoundError) as caught:
        D.FashionMNIST(train=False, download=False)
    assert "download=False" in str(caught.value) and "fashion_mnist" in str(caught.value)


def test_mnist_end_to_end_download_then_cache(http_server, make, monkeypatch):
    files = make.mnist_like(n_train=30, n_test=10)
    for name, data in files.files.items():
        http_server.files[f"/mnist/{name}"] = data

    class LocalMNIST(D.MNIST):
        mirrors = (http_server.url("/mnist/"),)
        resources = files.resources

    train = LocalMNIST(train=True)
    assert len(train) == 30 and train.data.shape == (30, 1, 28, 28)
    assert (train.data[:, 0] == files.arrays["train-images-idx3-ubyte.gz"]).all()
    assert sorted(path for path, _ in http_server.requests) == [
        "/mnist/train-images-idx3-ubyte.gz", "/mnist/train-labels-idx1-ubyte.gz"]
    LocalMNIST(train=True)
    assert len(http_server.requests) == 2, "verified files in the cache are used without any request"
    assert len(LocalMNIST(train=False)) == 10 and len(http_server.requests) == 4


def test_a_corrupt_cached_file_is_replaced(http_server, make):
    files = make.mnist_like(n_train=20, n_test=10)
    for name, data in files.files.items():
        http_server.files[f"/m/{name}"] = data

    class LocalMNIST(D.MNIST):
        mirrors = (http_server.url("/m/"),)
        resources = files.resources

    LocalMNIST(train=False)
    cached = D.data_root() / "mnist" / "t10k-labels-idx1-ubyte.gz"
    cached.write_bytes(b"scribbled over")
    assert len(LocalMNIST(train=False)) == 10
    assert (cached.parent / "t10k-labels-idx1-ubyte.gz.corrupt").read_bytes() == b"scribbled over"
    cached.write_bytes(b"scribbled again")
    with pytest.raises(D.ChecksumError, match="moved to t10k-labels-idx1-ubyte.gz.corrupt"):
        LocalMNIST(train=False, download=False)


def test_a_read_only_data_root_is_reported(tmp_path, monkeypatch, forbid_network):
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: False)  # as for a read-only mount
    with pytest.raises(D.DatasetNotFoundError, match="not writable") as caught:
        D.MNIST(root=tmp_path, train=False)
    assert "TINYTORCH_DATA" in str(caught.value) and "t10k-images-idx3-ubyte.gz" in str(caught.value)


def test_fetch_dataset_downloads_every_file(http_server, make, monkeypatch):
    files = make.mnist_like(n_train=10, n_test=10)
    for name, data in files.files.items():
        http_server.files[f"/f/{name}"] = data
    monkeypatch.setattr(D.FashionMNIST, "mirrors", (http_server.url("/f/"),))
    monkeypatch.setattr(D.FashionMNIST, "resources", files.resources)
    paths = D.fetch_dataset("fashion-mnist")
    assert [p.name for p in paths] == [r.filename for r in files.resources]
    assert all(s.state == "verified" for s in D.dataset_status("fashion_mnist"))
    with pytest.raises(ValueError, match="ships with the repository"):
        D.fetch_dataset("tinymnist")
