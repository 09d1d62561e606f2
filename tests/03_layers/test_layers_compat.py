"""Module 03's PyTorch-compatibility pieces: Module.to/cpu/float/double/half, F.linear and Linear's
Flatten() advice, Sequential([...]) and Dense, F.pad (all modes, against PyTorch) and F.one_hot."""

from __future__ import annotations

import numpy as np
import pytest
from support import load_torch_cases, needs_autograd

import tinytorch
from tinytorch.core.autograd import gradcheck
from tinytorch.core.layers import (
    Dense,
    Flatten,
    Identity,
    Linear,
    Module,
    Parameter,
    ReLU,
    Sequential,
    linear,
    one_hot,
    pad,
)
from tinytorch.core.tensor import Tensor, device, manual_seed

CASES = load_torch_cases("torch_compat.npz")


class WithBuffers(Module):
    def __init__(self):
        super().__init__()
        self.fc = Linear(3, 2)
        self.register_buffer("scale", Tensor(np.ones(2, dtype=np.float32)))
        self.register_buffer("steps", Tensor(np.zeros((), dtype=np.int64)))

    def forward(self, x):
        return self.fc(x) * self.scale


# ----- Module.to and friends ------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda m: m.to("cpu"), lambda m: m.to("cpu:0"), lambda m: m.to(device="cpu"), lambda m: m.cpu(),
    lambda m: m.to("cpu", non_blocking=True), lambda m: m.to(device("cpu")), lambda m: m.to(tinytorch.device("cpu")),
])
def test_to_cpu_returns_the_module_and_changes_nothing(call):
    model = WithBuffers()
    before = {name: array.copy() for name, array in model.state_dict().items()}
    assert call(model) is model
    after = model.state_dict()
    assert all(after[k].dtype == v.dtype and np.array_equal(after[k], v) for k, v in before.items())


@pytest.mark.parametrize("target", ["cuda", "cuda:0", "mps", 0, device("cuda", 1)])
def test_to_an_accelerator_is_a_clear_error(target):
    with pytest.raises(RuntimeError, match="TinyTorch runs on the CPU"):
        WithBuffers().to(target)
    model = WithBuffers()
    with pytest.raises(RuntimeError, match="CPU"):
        model.to(target, np.float64)
    assert model.fc.weight.dtype == np.float32, "a refused move changes nothing (not even the dtype)"


def test_cuda_namespace_says_there_is_no_gpu():
    assert tinytorch.cuda.is_available() is False and tinytorch.cuda.device_count() == 0


def test_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CPU"):
        WithBuffers().cuda()


@pytest.mark.parametrize("call, dtype", [
    (lambda m: m.double(), np.float64), (lambda m: m.half(), np.float16),
    (lambda m: m.to(np.float64), np.float64), (lambda m: m.to(dtype=np.float64), np.float64),
    (lambda m: m.to("cpu", np.float64), np.float64),
    (lambda m: m.to(Tensor(np.zeros(1, dtype=np.float64))), np.float64),
    (lambda m: m.double().float(), np.float32),
])
def test_dtype_casts_floating_state_in_place(call, dtype):
    model = WithBuffers()
    weight, scale = model.fc.weight, model.scale
    original = weight.data.copy()
    weight.grad = Tensor(np.ones_like(weight.data))
    assert call(model) is model
    assert model.fc.weight is weight and model.scale is scale, "the same Parameter/buffer objects stay"
    assert isinstance(model.fc.weight, Parameter) and weight.requires_grad
    assert weight.dtype == dtype and model.fc.bias.dtype == dtype and scale.dtype == dtype
    assert weight.grad.dtype == dtype, "an existing gradient is cast too"
    assert model.steps.dtype == np.int64, "integer buffers keep their type"
    np.testing.assert_allclose(weight.data.astype(np.float64), original, rtol=1e-3)
    out = model(Tensor(np.ones((1, 3), dtype=dtype)))
    assert out.dtype == dtype, "the cast model computes in its new dtype"


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((np.int64,), {}, TypeError, "only accepts floating point dtypes, got int64"),
    (("cpu", np.float32, "x"), {}, TypeError, "at most"),
    ((), {"devise": "cpu"}, TypeError, "unexpected keyword argument"),
    ((object(),), {}, TypeError, "expected a device"),
])
def test_to_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        WithBuffers().to(*args, **kwargs)


# ----- Linear, F.linear, Sequential([...]), Dense -----------------------------------------------------
def test_functional_linear_is_the_layer_s_computation():
    manual_seed(3)
    layer = Linear(4, 3)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32))
    np.testing.assert_array_equal(linear(x, layer.weight, layer.bias).data, layer(x).data)
    np.testing.assert_allclose(linear(x, layer.weight).data, x.data @ layer.weight.data.T, rtol=1e-6)


@pytest.mark.parametrize("args, error, message", [
    ((Tensor(np.ones((2, 3), dtype=np.float32)), np.ones((2, 3))), TypeError, "weight must be a Tensor"),
    ((Tensor(np.ones((2, 3), dtype=np.float32)), Tensor(np.ones(3, dtype=np.float32))), ValueError, "2-D"),
    ((Tensor(np.ones((2, 3), dtype=np.float32)), Tensor(np.ones((4, 3), dtype=np.float32)),
      Tensor(np.ones(3, dtype=np.float32))), ValueError, r"bias must have shape \(4,\)"),
])
def test_functional_linear_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        linear(*args)


def test_feature_maps_into_linear_get_the_flatten_advice():
    maps = Tensor(np.zeros((8, 64, 7, 7), dtype=np.float32))
    with pytest.raises(ValueError) as caught:
        Linear(64 * 7 * 7, 10)(maps)
    message = str(caught.value)
    assert "(8, 64, 7, 7)" in message and "3136" in message and "Flatten()" in message, message
    assert Linear(64 * 7 * 7, 10)(Flatten()(maps)).shape == (8, 10), "with Flatten() it works"
    with pytest.raises(ValueError, match=r"Flatten\(\) turns \(8, 64, 7, 7\) into \(N, 3136\).*in_features=3136"):
        Linear(100, 10)(maps)


def test_two_dimensional_mismatch_has_no_flatten_advice():
    with pytest.raises(ValueError) as caught:
        Linear(5, 2)(Tensor(np.zeros((3, 4), dtype=np.float32)))
    assert "Flatten" not in str(caught.value)


def test_sequential_takes_one_list_and_dense_is_linear():
    layers = [Dense(4, 3), ReLU(), Identity()]
    model = Sequential(layers)
    assert Dense is Linear and list(model) == layers
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]
    assert Sequential(tuple(layers))[0] is layers[0]
    with pytest.raises(TypeError, match="entry '1': expected a Module"):
        Sequential([Dense(2, 2), "relu"])


# ----- F.pad -------------------------------------------------------------------------------------------
def _pad_call(case):
    x, amounts, mode = case["x"], tuple(int(v) for v in case["pad"]), str(case["mode"][()])
    value = None if np.isnan(case["value"]) else float(case["value"])
    return x, amounts, mode, value


@pytest.mark.parametrize("name", sorted(k for k in CASES if k.startswith("pad_")))
def test_pad_matches_pytorch(name):
    x, amounts, mode, value = _pad_call(CASES[name])
    out = pad(Tensor(x), amounts, mode=mode, value=value)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, CASES[name]["out"])


@needs_autograd
@pytest.mark.parametrize("name", sorted(k for k in CASES if k.startswith("pad_")))
def test_pad_gradient_matches_pytorch_and_gradcheck(name):
    x, amounts, mode, value = _pad_call(CASES[name])
    t = Tensor(x, requires_grad=True)
    pad(t, amounts, mode=mode, value=value).backward(Tensor(CASES[name]["gout"]))
    np.testing.assert_allclose(t.grad.data, CASES[name]["grad_x"], rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda v: pad(v, amounts, mode=mode, value=value), (Tensor(x, requires_grad=True),))


def test_pad_keeps_dtype_and_pads_ints():
    x = Tensor(np.arange(3))
    assert pad(x, (1, 1), value=7).tolist() == [7, 0, 1, 2, 7] and pad(x, (1, 1)).dtype == np.int64
    assert pad(x, (0, 0)) is x, "nothing to pad: the input itself"


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((np.ones(3), (1, 1)), {}, TypeError, "input must be a Tensor"),
    ((Tensor(np.ones(3)), (1,)), {}, ValueError, "even length"),
    ((Tensor(np.ones(3)), [1, 1.5]), {}, TypeError, "tuple of ints"),
    ((Tensor(np.ones(3)), (1, 1, 1, 1)), {}, ValueError, "only 1"),
    ((Tensor(np.ones(3)), (1, 1)), {"mode": "wrap"}, ValueError, "mode must be one of"),
    ((Tensor(np.ones(3)), (1, 1)), {"mode": "reflect", "value": 1.0}, ValueError, "only used with mode='constant'"),
    ((Tensor(np.ones(3)), (3, 0)), {"mode": "reflect"}, ValueError, "at most 2"),
    ((Tensor(np.ones(3)), (4, 0)), {"mode": "circular"}, ValueError, "at most 3"),
    ((Tensor(np.ones(3)), (-1, 0)), {"mode": "replicate"}, ValueError, "non-negative"),
    ((Tensor(np.ones(3)), (-2, -2)), {}, ValueError, "leaves nothing"),
])
def test_pad_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        pad(*args, **kwargs)


# ----- F.one_hot -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(k for k in CASES if k.startswith("one_hot_")))
def test_one_hot_matches_pytorch(name):
    case = CASES[name]
    out = one_hot(Tensor(case["x"]), int(case["num_classes"]))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, case["out"])


@pytest.mark.parametrize("x, classes, error, message", [
    (Tensor([0.0, 1.0]), -1, TypeError, "only applicable to index tensors"),
    (Tensor(np.array([0, 3])), 3, ValueError, "smaller than num_classes=3"),
    (Tensor(np.array([-1, 0])), -1, ValueError, "non-negative"),
    (Tensor(np.zeros(0, dtype=np.int64)), -1, ValueError, "empty"),
    (Tensor(np.array([0])), 2.5, ValueError, "num_classes"),
])
def test_one_hot_bad_arguments(x, classes, error, message):
    with pytest.raises(error, match=message):
        one_hot(x, classes)
