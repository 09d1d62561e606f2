"""Module 07: tinytorch.save/load (pickle-free torch.save/torch.load) and safetensors read/write, including
a file made by the real `safetensors` package and headers that lie."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from support import FIXTURES
from training_helpers import mlp

from tinytorch.core.tensor import Tensor
from tinytorch.core.training import (
    SerializationError,
    load,
    load_file,
    load_file_metadata,
    save,
    save_checkpoint,
    save_file,
)


# ----- save / load --------------------------------------------------------------------------------
def test_state_dict_round_trip_loads_into_a_fresh_model(tmp_path):
    source, target = mlp(seed=0), mlp(seed=1)
    save(source.state_dict(), tmp_path / "weights.pth")
    result = target.load_state_dict(load(tmp_path / "weights.pth"))
    assert result == ([], [])
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert np.array_equal(a, b), name


def test_nested_objects_round_trip_with_their_types(tmp_path):
    obj = {"epoch": 7, "lr": 1e-3, "name": "run", "flag": True, "nothing": None, "betas": (0.9, 0.999),
           "layers": [1, 2, 3], "inf": float("inf"), 3: "int key",
           "weights": OrderedDict(w=np.arange(6.0).reshape(2, 3)),
           "t": Tensor(np.array([1.0, 2.0]), requires_grad=True), "ints": Tensor(np.array([3, 4])),
           "nested": {"deeper": [Tensor([0.5]), (np.float32(2.5), np.zeros((0, 2)))]}}
    save(obj, tmp_path / "obj.pt")
    back = load(tmp_path / "obj.pt")
    assert back["epoch"] == 7 and back["lr"] == 1e-3 and back["flag"] is True and back["nothing"] is None
    assert back["betas"] == (0.9, 0.999) and back["layers"] == [1, 2, 3] and back["inf"] == float("inf")
    assert back[3] == "int key", "int keys stay ints"
    assert isinstance(back["weights"]["w"], np.ndarray) and np.array_equal(back["weights"]["w"], obj["weights"]["w"])
    assert isinstance(back["t"], Tensor) and back["t"].requires_grad and back["t"].tolist() == [1.0, 2.0]
    assert back["ints"].dtype == np.int64
    deeper = back["nested"]["deeper"]
    assert isinstance(deeper[0], Tensor) and isinstance(deeper[1], tuple) and deeper[1][0] == 2.5
    assert deeper[1][1].shape == (0, 2)


def test_a_bare_tensor_and_file_objects(tmp_path):
    save(Tensor(np.arange(4.0)), tmp_path / "t.pt")
    assert load(tmp_path / "t.pt").tolist() == [0.0, 1.0, 2.0, 3.0]
    buffer = io.BytesIO()
    save({"x": np.ones(2)}, buffer)
    buffer.seek(0)
    assert load(buffer)["x"].tolist() == [1.0, 1.0]


def test_the_file_is_a_plain_npz_written_atomically(tmp_path):
    path = tmp_path / "model.pkl"  # the suffix does not change the format
    save({"w": np.ones(3)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl"], "no temporary file left behind"
    with np.load(path, allow_pickle=False) as archive:
        assert "__tinytorch_save__" in archive.files and "obj/w" in archive.files


def test_save_leaves_an_old_file_intact_when_it_fails(tmp_path):
    path = tmp_path / "w.pt"
    save({"w": np.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="cannot be stored without pickle"):
        save({"w": object()}, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]


@pytest.mark.parametrize("map_location", [None, "cpu", "cpu:0", {"cuda:0": "cpu"}, lambda storage, loc: storage])
def test_map_location_and_weights_only_are_accepted(tmp_path, map_location):
    save({"w": np.ones(1)}, tmp_path / "w.pt")
    for weights_only in (None, True, False):
        assert load(tmp_path / "w.pt", map_location=map_location, weights_only=weights_only)["w"].tolist() == [1.0]


def test_map_location_to_an_accelerator_is_refused(tmp_path):
    save({"w": np.ones(1)}, tmp_path / "w.pt")
    with pytest.raises(RuntimeError, match="CPU"):
        load(tmp_path / "w.pt", map_location="cuda")


class Evil:
    def __reduce__(self):
        return (os.system, ("touch HACKED",))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_is_refused_and_never_run(tmp_path, monkeypatch, protocol):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"w": Evil()}, protocol=protocol))
    with pytest.raises(SerializationError, match="is a pickle.*never unpickles"):
        load(tmp_path / "evil.pt")
    assert not (tmp_path / "HACKED").exists()


@pytest.mark.parametrize("content, message", [
    (b"", "not a zip archive"), (b"hello world", "not a zip archive"),
    (b"PK\x03\x04 truncated", "corrupt or truncated"),
])
def test_files_that_are_not_saves(tmp_path, content, message):
    (tmp_path / "x.pt").write_bytes(content)
    with pytest.raises(SerializationError, match=message):
        load(tmp_path / "x.pt")


def test_other_zips_and_checkpoints_are_named(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(SerializationError, match="neither a tinytorch.save file nor a PyTorch one"):
        load(tmp_path / "other.zip")
    save_checkpoint(tmp_path / "run.npz", mlp())
    with pytest.raises(SerializationError, match="load_checkpoint"):
        load(tmp_path / "run.npz")
    save_file({"w": np.ones(2, dtype=np.float32)}, tmp_path / "w.safetensors")
    with pytest.raises(SerializationError, match="safetensors.*load_file"):
        load(tmp_path / "w.safetensors")


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "nope.pt")
    with pytest.raises(IsADirectoryError):
        load(tmp_path)
    with pytest.raises(TypeError, match="weights_only"):
        load(tmp_path / "nope.pt", weights_only="yes")


# ----- safetensors --------------------------------------------------------------------------------------
def test_reads_the_file_made_by_the_real_safetensors_package():
    loaded = load_file(FIXTURES / "reference.safetensors")
    with np.load(FIXTURES / "reference_safetensors_values.npz", allow_pickle=False) as expected:
        names = [n for n in expected.files if n != "__metadata__"]
        assert sorted(loaded) == sorted(names)
        for name in names:
            assert isinstance(loaded[name], Tensor)
            assert loaded[name].dtype == expected[name].dtype and loaded[name].shape == expected[name].shape, name
            assert np.array_equal(loaded[name].data, expected[name]), name
        metadata = dict(expected["__metadata__"].tolist())
    assert loaded["brain"].dtype == np.float32, "BF16 widens to float32"
    assert load_file_metadata(FIXTURES / "reference.safetensors") == metadata


def test_round_trip_of_every_dtype_and_the_layout(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"w": Tensor(rng.standard_normal((3, 2)).astype(np.float32)), "d": rng.standard_normal(4),
               "h": np.float16([1, 2]), "i": np.arange(3, dtype=np.int32), "b": np.array([True, False]),
               "u": np.arange(4, dtype=np.uint8), "scalar": np.array(5, dtype=np.int64),
               "empty": np.zeros((0, 4), np.float32), "big_endian": np.arange(3, dtype=">f4")}
    path = tmp_path / "all.safetensors"
    save_file(tensors, path, metadata={"format": "pt"})
    loaded = load_file(path)
    for name, value in tensors.items():
        array = value.data if isinstance(value, Tensor) else value
        assert loaded[name].shape == array.shape and np.array_equal(loaded[name].data, array), name
        assert loaded[name].dtype == array.dtype.newbyteorder("="), name
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    assert length % 8 == 0, "the header is padded to a multiple of 8 bytes"
    header = json.loads(raw[8:8 + length])
    assert header["__metadata__"] == {"format": "pt"} and header["scalar"]["shape"] == []
    assert header["big_endian"]["dtype"] == "F32" and header["u"]["dtype"] == "U8"
    assert raw[8 + length + header["big_endian"]["data_offsets"][0]:][:4] == np.float32(0).tobytes(), "little-endian"


@pytest.mark.parametrize("tensors, metadata, error, message", [
    ([np.ones(1)], None, TypeError, "dict name -> Tensor"),
    ({"": np.ones(1)}, None, ValueError, "non-empty strings"),
    ({"__metadata__": np.ones(1)}, None, ValueError, "other than '__metadata__'"),
    ({"x": [1.0]}, None, TypeError, "Tensor or ndarray"),
    ({"x": np.ones(1, dtype=np.complex64)}, None, TypeError, "complex64"),
    ({"x": np.ones(1)}, {"a": 1}, TypeError, "metadata must be a dict of str -> str"),
])
def test_save_file_bad_arguments(tmp_path, tensors, metadata, error, message):
    with pytest.raises(error, match=message):
        save_file(tensors, tmp_path / "x.safetensors", metadata)
    assert not list(tmp_path.iterdir()), "nothing written"


def forge(header: dict, data: bytes = b"", length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return (len(text) if length is None else length).to_bytes(8, "little") + text + data


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "I8", "shape": [4],
                                                                          "data_offsets": [8, 12]}}


@pytest.mark.parametrize("content, message", [
    (b"\x01\x02", "too short"),
    (forge(GOOD, bytes(12), length=10**12), "claims 1,000,000,000,000 bytes"),
    (forge(GOOD, bytes(12), length=5), "not valid UTF-8 JSON"),
    (b"\x04\x00\x00\x00\x00\x00\x00\x00\xff\xfe\xfd\xfc", "not valid UTF-8 JSON"),
    (forge([1, 2]), "must be a JSON object"),
    (forge({"a": {"dtype": "F32", "shape": [2]}}, bytes(8)), "exactly dtype, shape and data_offsets"),
    (forge({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)), "dtype 'C64'"),
    (forge({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)), "shape"),
    (forge({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, bytes(8)), "shape"),
    (forge({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, bytes(8)), "0 <= begin <= end"),
    (forge({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)), "needs 12 bytes"),
    (forge({"a": {"dtype": "F32", "shape": [1000000000], "data_offsets": [0, 4000000000]}}, bytes(8)),
     "truncated file"),
    (forge({**GOOD, "c": {"dtype": "U8", "shape": [4], "data_offsets": [6, 10]}}, bytes(12)), "overlaps"),
    (forge({"a": GOOD["a"], "b": {"dtype": "I8", "shape": [4], "data_offsets": [10, 14]}}, bytes(14)), "gap"),
    (forge(GOOD, bytes(11)), "truncated file"),
    (forge(GOOD, bytes(13)), "trailing bytes"),
    (forge({"__metadata__": {"a": 1}, **GOOD}, bytes(12)), "__metadata__ must map strings to strings"),
])
def test_lying_or_broken_headers_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(SerializationError, match=message):
        load_file(path)


def test_a_good_forged_file_loads(tmp_path):
    path = tmp_path / "good.safetensors"
    path.write_bytes(forge(GOOD, np.float32([1, 2]).tobytes() + np.int8([1, 2, 3, 4]).tobytes()))
    loaded = load_file(path)
    assert loaded["a"].tolist() == [1.0, 2.0] and loaded["b"].tolist() == [1, 2, 3, 4]


def test_load_file_device_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_file(tmp_path / "nope.safetensors")
    save_file({"w": np.ones(1, np.float32)}, tmp_path / "w.safetensors")
    assert load_file(tmp_path / "w.safetensors", device="cpu")["w"].tolist() == [1.0]
    with pytest.raises(RuntimeError, match="CPU"):
        load_file(tmp_path / "w.safetensors", device="cuda")


def test_state_dict_through_safetensors_into_a_model(tmp_path):
    source, target = mlp(seed=0), mlp(seed=5)
    save_file(source.state_dict(), tmp_path / "m.safetensors")
    target.load_state_dict(load_file(tmp_path / "m.safetensors"))
    assert all(np.array_equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


def test_fixture_path_exists():
    assert Path(FIXTURES / "reference.safetensors").stat().st_size < 4096, "the committed fixture stays small"


def test_safe_open_reads_one_tensor_at_a_time(tmp_path):
    from tinytorch.core.training import safe_open

    path = tmp_path / "m.safetensors"
    save_file({"a": np.arange(4, dtype=np.float32), "b": np.ones((2, 2), np.int64)}, path, metadata={"k": "v"})
    with safe_open(path, framework="pt") as file:
        assert sorted(file.keys()) == ["a", "b"] and file.metadata() == {"k": "v"}
        assert file.get_tensor("b").tolist() == [[1, 1], [1, 1]] and isinstance(file.get_tensor("a"), Tensor)
        with pytest.raises(KeyError, match="no tensor named 'c'"):
            file.get_tensor("c")
    with safe_open(path, framework="np") as file:
        assert isinstance(file.get_tensor("a"), np.ndarray)
    with safe_open(FIXTURES / "reference.safetensors") as file:
        assert file.get_tensor("brain").dtype == np.float32
    with pytest.raises(ValueError, match="framework"):
        safe_open(path, framework="jax")
    with pytest.raises(RuntimeError, match="CPU"):
        safe_open(path, device="cuda")
    path.write_bytes(forge(GOOD, bytes(11)))
    with pytest.raises(SerializationError, match="truncated"):
        safe_open(path)


def test_saving_a_whole_model_or_optimizer_asks_for_its_state_dict(tmp_path):
    from tinytorch.core.optimizers import SGD

    model = mlp()
    for obj in (model, SGD(model.parameters(), lr=0.1)):
        with pytest.raises(TypeError, match=r"state_dict\(\) instead"):
            save(obj, tmp_path / "whole.pt")
    assert not list(tmp_path.iterdir())
