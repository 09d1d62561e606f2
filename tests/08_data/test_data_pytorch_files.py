"""Module 08: PyTorch .pt/.pth files read without torch and without executing anything.

Files are built here with the standard library alone, in torch.save's zip layout (a pickle whose globals
name torch's tensor rebuilders, written through stand-in modules, plus raw storage records); a real file
made by torch 2.13 (tests/fixtures/torch_state_dict.pt) must load to the same values.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from support import FIXTURES

import tinytorch
from tinytorch.core.data import TorchUnpickler, load_pytorch_file
from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import SerializationError

STORAGES = {"f4": "FloatStorage", "f8": "DoubleStorage", "i8": "LongStorage", "f2": "HalfStorage", "u1": "ByteStorage",
            "b1": "BoolStorage"}


class Storage:
    def __init__(self, key: str, array: np.ndarray, kind: str | None = None, numel: int | None = None):
        self.key, self.array = key, array
        self.kind = kind or STORAGES[array.dtype.str[1:]]
        self.numel = array.size if numel is None else numel


class View:
    """A tensor as torch pickles it: _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)."""

    def __init__(self, storage, size, stride=None, offset=0):
        self.storage, self.size, self.offset = storage, tuple(size), offset
        self.stride = stride if stride is not None else tuple(int(np.prod(size[i + 1:])) for i in range(len(size)))


class Global:
    """Pickles as a reference to module.name, called with args (what a malicious file does)."""

    def __init__(self, module, name, args=()):
        self.module, self.name, self.args = module, name, args


def torch_zip(obj, storages, byteorder="little", prefix="archive", extra_records=None, drop_records=()) -> bytes:
    fake = {"torch": types.ModuleType("torch"), "torch._utils": types.ModuleType("torch._utils")}
    made = {}

    def stand_in(module, name, kind="function"):
        if module not in fake:  # a real module (os, builtins, ...): pickle refers to the real object
            try:
                return getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                fake[module] = types.ModuleType(module)
                sys.modules[module] = fake[module]
        if (module, name) not in made:
            thing = type(name, (), {}) if kind == "class" else (lambda *a: None)
            thing.__module__, thing.__qualname__, thing.__name__ = module, name, name
            setattr(fake[module], name, thing)
            made[(module, name)] = thing
        return made[(module, name)]

    class Writer(pickle.Pickler):
        def persistent_id(self, value):
            if isinstance(value, Storage):
                return ("storage", stand_in("torch", value.kind, "class"), value.key, "cpu", value.numel)
            return None

        def reducer_override(self, value):
            if isinstance(value, View):
                return (stand_in("torch._utils", "_rebuild_tensor_v2"),
                        (value.storage, value.offset, value.size, value.stride, False, OrderedDict()))
            if isinstance(value, Global):
                return stand_in(value.module, value.name), value.args
            return NotImplemented

    before = dict(sys.modules)
    sys.modules.update(fake)
    try:
        stream = io.BytesIO()
        Writer(stream, protocol=2).dump(obj)
    finally:
        for name in list(sys.modules):  # every stand-in module goes away again
            if name not in before:
                del sys.modules[name]
        sys.modules.update({name: before[name] for name in fake if name in before})
    out = io.BytesIO()
    order = "<" if byteorder == "little" else ">"
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(f"{prefix}/data.pkl", stream.getvalue())
        archive.writestr(f"{prefix}/byteorder", byteorder)
        archive.writestr(f"{prefix}/version", "3\n")
        for storage in storages:
            if storage.key not in drop_records:
                archive.writestr(f"{prefix}/data/{storage.key}", storage.array.astype(
                    storage.array.dtype.newbyteorder(order)).tobytes())
        for name, data in (extra_records or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def simple_state():
    weight = Storage("0", np.arange(6, dtype=np.float32))
    bias = Storage("1", np.array([0.5, -0.5], dtype=np.float32))
    state = OrderedDict([("weight", View(weight, (2, 3))), ("bias", View(bias, (2,)))])
    return state, [weight, bias]


def load_bytes(data: bytes):
    return load_pytorch_file(io.BytesIO(data))


# ----- what loads ------------------------------------------------------------------------------------
def test_the_real_torch_file_loads_to_the_same_values():
    state = load_pytorch_file(FIXTURES / "torch_state_dict.pt")
    with np.load(FIXTURES / "torch_state_dict_values.npz", allow_pickle=False) as expected:
        assert list(state) == expected["__order__"].tolist(), "keys in the saved order"
        for name in state:
            assert isinstance(state[name], Tensor), name
            assert state[name].dtype == expected[name].dtype and state[name].shape == expected[name].shape, name
            assert np.array_equal(state[name].data, expected[name]), name
    assert isinstance(state, OrderedDict)
    assert state["param"].requires_grad and not state["0.weight"].requires_grad, "nn.Parameter keeps requires_grad"
    assert state["1.num_batches_tracked"].shape == (), "0-d stays 0-d"
    assert state["view"].data.flags.writeable and state["view"].data.flags.c_contiguous, "views are copied out"


def test_torch_load_reads_pt_files_and_fills_a_model():
    state = tinytorch.core.training.load(FIXTURES / "torch_state_dict.pt", map_location="cpu", weights_only=True)
    layer = Linear(3, 2)
    layer.load_state_dict({"weight": state["0.weight"], "bias": state["0.bias"]})
    assert np.array_equal(layer.weight.data, state["0.weight"].data)


def test_a_hand_made_file_in_torch_layout():
    state, storages = simple_state()
    loaded = load_bytes(torch_zip(state, storages))
    assert loaded["weight"].tolist() == [[0, 1, 2], [3, 4, 5]] and loaded["bias"].tolist() == [0.5, -0.5]


def test_shared_storages_offsets_strides_and_dtypes():
    shared = Storage("0", np.arange(12, dtype=np.float64))
    ints = Storage("1", np.array([1, -2, 3], dtype=np.int64))
    flags = Storage("2", np.array([True, False]))
    obj = {"whole": View(shared, (3, 4)), "middle": View(shared, (3, 2), (4, 1), offset=1),
           "columns": View(shared, (4, 3), (1, 4)), "broadcast": View(ints, (2, 3), (0, 1)),
           "flags": View(flags, (2,)), "empty": View(shared, (0, 5)), "nested": [View(ints, (1,), offset=2), 7, "x"]}
    loaded = load_bytes(torch_zip(obj, [shared, ints, flags]))
    base = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(loaded["whole"].data, base) and np.array_equal(loaded["middle"].data, base[:, 1:3])
    assert np.array_equal(loaded["columns"].data, base.T)
    assert loaded["broadcast"].tolist() == [[1, -2, 3], [1, -2, 3]] and loaded["flags"].dtype == np.bool_
    assert loaded["empty"].shape == (0, 5) and loaded["nested"][0].tolist() == [3] and loaded["nested"][1:] == [7, "x"]
    loaded["middle"].data[0, 0] = -1
    assert loaded["whole"].data[0, 1] == 1, "tensors that shared a storage in torch are independent copies here"


def test_big_endian_files():
    storage = Storage("0", np.array([1.5, -2.0, 3.25], dtype=np.float32))
    loaded = load_bytes(torch_zip({"w": View(storage, (3,))}, [storage], byteorder="big"))
    assert loaded["w"].tolist() == [1.5, -2.0, 3.25] and loaded["w"].data.dtype.isnative


def test_bfloat16_widens_exactly():
    bits = (np.array([1.0, -2.5, 3.140625], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    storage = Storage("0", bits, kind="BFloat16Storage")
    loaded = load_bytes(torch_zip({"w": View(storage, (3,))}, [storage]))
    assert loaded["w"].dtype == np.float32 and loaded["w"].tolist() == [1.0, -2.5, 3.140625]


def test_numpy_arrays_in_the_pickle_still_work():
    state, storages = simple_state()
    state["stats"] = np.arange(3)
    assert load_bytes(torch_zip(state, storages))["stats"].tolist() == [0, 1, 2]


# ----- what is refused -------------------------------------------------------------------------------------
@pytest.mark.parametrize("module, name", [("os", "system"), ("posix", "system"), ("builtins", "eval"),
                                          ("subprocess", "Popen"), ("torch.nn.modules.linear", "Linear"),
                                          ("torch", "load")])
def test_unknown_globals_are_refused_before_anything_runs(tmp_path, monkeypatch, module, name):
    monkeypatch.chdir(tmp_path)
    state, storages = simple_state()
    state["payload"] = Global(module, name, ("touch HACKED",))
    with pytest.raises(SerializationError, match=rf"refusing to load [\w.]+\.{name}:"):  # os.system is posix.system
        load_bytes(torch_zip(state, storages))
    assert not (tmp_path / "HACKED").exists()


def test_a_real_malicious_file_is_refused_and_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch HACKED",))

    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
        archive.writestr("archive/byteorder", "little")
    path = tmp_path / "evil.pt"
    path.write_bytes(data.getvalue())
    with pytest.raises(SerializationError, match="refusing to load .*system"):
        tinytorch.core.training.load(path)
    assert not (tmp_path / "HACKED").exists()


def test_a_pickled_module_gets_the_state_dict_hint():
    state, storages = simple_state()
    state["model"] = Global("torch.nn.modules.linear", "Linear")
    with pytest.raises(SerializationError, match=r"save model.state_dict\(\) instead"):
        load_bytes(torch_zip(state, storages))


@pytest.mark.parametrize("build, message", [
    (lambda: torch_zip(*simple_state(), drop_records=("1",)), "no archive/data/1"),
    (lambda: torch_zip({"w": View(s := Storage("0", np.zeros(3, np.float32), numel=4), (4,))}, [s]),
     "should hold 4 elements = 16 bytes, but data/0 has 12"),
    (lambda: torch_zip({"w": View(s := Storage("0", np.zeros(6, np.float32)), (3, 3))}, [s]),
     r"reaches element 8, but its storage has only 6"),
    (lambda: torch_zip({"w": View(s := Storage("0", np.zeros(6, np.float32)), (2,), offset=5)}, [s]),
     "reaches element 6"),
    (lambda: torch_zip({"w": View(s := Storage("0", np.zeros(6, np.float32)), (2,), stride=(-1,))}, [s]),
     "invalid layout"),
    (lambda: torch_zip({"w": View(s := Storage("0", np.zeros(6, np.float32)), (2, 3), stride=(1,))}, [s]),
     "invalid layout"),
    (lambda: torch_zip(*simple_state(), byteorder="middle"), "unknown byteorder"),
    (lambda: torch_zip(*simple_state(), prefix="a/b"), "expected one <archive>/data.pkl"),
    (lambda: torch_zip(*simple_state(), extra_records={"other/data.pkl": b""}), "expected one"),
    (lambda: torch_zip(*simple_state())[:-30], "not a PyTorch zip file"),
    (lambda: pickle.dumps({"w": 1}), "not a PyTorch zip file"),
])
def test_broken_or_lying_files_are_clear_errors(build, message):
    with pytest.raises(SerializationError, match=message):
        load_bytes(build())


def test_the_allowed_table_is_exactly_the_tensor_rebuilders():
    torch_names = sorted(f"{m}.{n}" for m, n in TorchUnpickler._allowed if not m.startswith("numpy"))
    assert torch_names == sorted(["collections.OrderedDict", "_codecs.encode", "torch._utils._rebuild_tensor_v2",
                                  "torch._utils._rebuild_parameter"] + [f"torch.{n}" for n in STORAGES.values()]
                                 + ["torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
                                    "torch.BFloat16Storage"])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_pytorch_file(tmp_path / "nope.pt")
