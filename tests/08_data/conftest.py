"""Fixtures for module 08: official-format files built here, a local HTTP server, no internet.

Every test runs with TINYTORCH_DATA pointing into its own temporary folder and with the one
network function of tinytorch.core.data wrapped so that any URL not on 127.0.0.1 fails the test.
Files in the official formats (IDX gz, CIFAR-10 binary and python tar.gz archives with the
official member names) are generated here, small, so downloads, resumes and checksum failures
can be exercised against a local http.server thread.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import tinytorch.core.data as D

REPO = Path(__file__).resolve().parents[2]


# Read once, at import: every test then points TINYTORCH_DATA at its own temporary folder.
OFFICIAL_FILES = os.environ.get("TINYTORCH_DATA")


def shared_datasets() -> Path | None:
    """The folder of official dataset files (the $TINYTORCH_DATA the suite started with, else
    ../shared/datasets) when it holds mnist/, else None."""
    folder = Path(OFFICIAL_FILES) if OFFICIAL_FILES else REPO.parent / "shared" / "datasets"
    return folder if (folder / "mnist").is_dir() else None


# ----- official formats, written from scratch -----------------------------------------------------
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: 0, 0, type code, rank, then big-endian uint32 sizes and big-endian values."""
    magic = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    sizes = b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return magic + sizes + array.astype(array.dtype.newbyteorder(">")).tobytes()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def resource(filename: str, data: bytes) -> D.Resource:
    return D.Resource(filename, hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())


def mnist_like(n_train: int = 40, n_test: int = 20, seed: int = 0) -> SimpleNamespace:
    """The four MNIST files (official names) for random 28x28 digits whose labels cycle 0..9."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{split}-images-idx3-ubyte.gz"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}-labels-idx1-ubyte.gz"] = (np.arange(n) % 10).astype(np.uint8)
    files = {name: gz(idx_bytes(array)) for name, array in arrays.items()}
    return SimpleNamespace(arrays=arrays, files=files,
                           resources=tuple(resource(name, data) for name, data in files.items()))


class Py2Pickler(pickle._Pickler):
    """Pickles bytes as Python 2 `str` opcodes, as in the real cifar-10-python.tar.gz."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_string(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + len(obj).to_bytes(4, "little") + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_string


def py2_pickle(obj, legacy_numpy_name: bool = True) -> bytes:
    stream = io.BytesIO()
    Py2Pickler(stream, protocol=2).dump(obj)
    data = stream.getvalue()
    # Files pickled by NumPy 1.x name the module numpy.core.multiarray; NumPy 2 writes numpy._core.
    return data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray") if legacy_numpy_name else data


def tar_gz(members: dict) -> bytes:
    """A .tar.gz holding a folder entry per top folder and one regular file per member."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as tar:
        for folder in sorted({name.split("/")[0] for name in members}):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return stream.getvalue()


def cifar_like(kind: str = "binary", per_batch: int = 20, seed: int = 0, legacy_numpy_name: bool = True):
    """A CIFAR-10 archive in the official layout with `per_batch` random images per batch file.

    binary: cifar-10-batches-bin/data_batch_{1..5}.bin and test_batch.bin, records of 1 label
    byte + 3072 pixel bytes; python: cifar-10-batches-py/data_batch_{1..5}, test_batch, pickled
    dicts {b'batch_label', b'labels', b'data', b'filenames'} as Python 2 wrote them.
    """
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {name: (rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8),
                      rng.permutation(np.arange(per_batch) % 10)) for name in names}
    members = {}
    if kind == "binary":
        for name, (images, labels) in batches.items():
            records = np.concatenate([labels[:, None].astype(np.uint8), images.reshape(per_batch, -1)], axis=1)
            members[f"cifar-10-batches-bin/{name}.bin"] = records.tobytes()
        members["cifar-10-batches-bin/batches.meta.txt"] = b"\n".join(
            c.encode() for c in D.CIFAR10.classes) + b"\n"
        members["cifar-10-batches-bin/readme.html"] = b"<html>synthetic</html>"
        filename = "cifar-10-binary.tar.gz"
    else:
        for name, (images, labels) in batches.items():
            batch = {b"batch_label": f"synthetic {name}".encode(), b"labels": labels.tolist(),
                     b"data": images.reshape(per_batch, -1), b"filenames": [b"img.png"] * per_batch}
            members[f"cifar-10-batches-py/{name}"] = py2_pickle(batch, legacy_numpy_name)
        members["cifar-10-batches-py/batches.meta"] = py2_pickle(
            {b"label_names": [c.encode() for c in D.CIFAR10.classes], b"num_vis": 3072}, legacy_numpy_name)
        members["cifar-10-batches-py/readme.html"] = b"<html>synthetic</html>"
        filename = "cifar-10-python.tar.gz"
    archive = tar_gz(members)
    train = [batches[n] for n in names[:5]]
    return SimpleNamespace(
        filename=filename, archive=archive, resource=resource(filename, archive),
        train_images=np.concatenate([b[0] for b in train]), train_labels=np.concatenate([b[1] for b in train]),
        test_images=batches["test_batch"][0], test_labels=batches["test_batch"][1])


# ----- a local HTTP server -------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    """Serves server.files; honours `Range: bytes=N-` unless told not to; can cut a transfer short."""

    def do_GET(self):
        server = self.server
        asked = self.headers.get("Range")
        server.requests.append((self.path, asked))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if asked and server.range_from_zero:  # a legal but lazy answer: 206 with the whole file
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{len(body) - 1}/{len(body)}")
        elif asked and server.honour_range:
            start = int(asked.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.path in server.cut_once:  # promise everything, send half, hang up
            server.cut_once.discard(self.path)
            self.wfile.write(payload[: len(payload) // 2])
            return
        self.wfile.write(payload)

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def http_server():
    """A server on 127.0.0.1: .files {path: bytes}, .requests [(path, Range)], .url(prefix)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.files, server.requests, server.cut_once = {}, [], set()
    server.honour_range, server.range_from_zero = True, False
    server.url = lambda prefix="/": f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connecting fails at once, like being offline."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def no_internet(monkeypatch, tmp_path):
    """Only 127.0.0.1 may be contacted, and the data root is a fresh temporary folder."""
    real = D._open_url

    def local_only(url, offset, timeout):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("http", "https", "ftp"):
            assert parts.hostname == "127.0.0.1", f"a test tried to reach {url}: tests must never use the network"
        return real(url, offset, timeout)

    monkeypatch.setattr(D, "_open_url", local_only)
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "data-root"))


@pytest.fixture
def forbid_network(monkeypatch):
    """Fail the test if anything is downloaded at all."""

    def refuse(url, offset, timeout):
        raise AssertionError(f"no download was expected, but {url} was requested")

    monkeypatch.setattr(D, "_open_url", refuse)


@pytest.fixture
def make():
    """Builders of official-format files (fixtures, so no test imports conftest by name)."""
    return SimpleNamespace(idx_bytes=idx_bytes, gz=gz, resource=resource, mnist_like=mnist_like,
                           cifar_like=cifar_like, py2_pickle=py2_pickle, tar_gz=tar_gz,
                           shared_datasets=shared_datasets)
