"""Module 03: Linear, init functions, Sequential/ModuleList, Dropout, Flatten, Identity, activation
Modules, and the tinytorch.nn namespaces."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import tinytorch.core.activations as A
from tinytorch.core import layers as L
from tinytorch.core.layers import (
    GELU,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Module,
    ModuleList,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    calculate_gain,
    dropout,
)
from tinytorch.core.tensor import Tensor, manual_seed


def f32(values):
    return Tensor(np.array(values, dtype=np.float32))


# ----- Linear ---------------------------------------------------------------------------------------
def test_linear_parameters_shapes_and_default_bound():
    manual_seed(0)
    layer = Linear(50, 20)
    assert layer.weight.shape == (20, 50) and layer.bias.shape == (20,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert isinstance(layer.weight, L.Parameter) and layer.weight.requires_grad
    bound = 1 / math.sqrt(50)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound, "weights should fill U(-1/sqrt(in), 1/sqrt(in))"
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.1 * bound / math.sqrt(3)


def test_linear_forward_by_hand():
    layer = Linear(3, 2)
    layer.weight.data[...] = [[1, 2, 3], [0, -1, 0.5]]
    layer.bias.data[...] = [0.5, -0.5]
    out = layer(f32([[1, 1, 1], [2, 0, -2]]))
    np.testing.assert_allclose(out.data, [[6.5, -1.0], [-3.5, -1.5]])
    assert out.dtype == np.float32


@pytest.mark.parametrize("shape, expected", [((3,), (2,)), ((4, 3), (4, 2)), ((5, 6, 3), (5, 6, 2)), ((0, 3), (0, 2))])
def test_linear_accepts_any_leading_dimensions(shape, expected):
    layer = Linear(3, 2)
    x = Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    out = layer(x)
    assert out.shape == expected
    np.testing.assert_allclose(out.data, x.data @ layer.weight.data.T + layer.bias.data, rtol=1e-5, atol=1e-6)


def test_linear_without_bias_and_in_float64():
    layer = Linear(4, 3, bias=False, dtype=np.float64)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = Tensor(np.ones((2, 4)))
    assert layer(x).dtype == np.float64
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T)
    assert repr(layer) == "Linear(in_features=4, out_features=3, bias=False)"


def test_linear_is_composed_of_recorded_ops():
    layer = Linear(3, 2)
    out = layer(f32([[1, 2, 3]]))
    node = out.grad_fn
    assert node.op == "add" and node.inputs[1] is layer.bias
    matmul = node.inputs[0].grad_fn
    assert matmul.op == "matmul"
    assert matmul.inputs[1].grad_fn.op == "permute" and matmul.inputs[1].grad_fn.inputs[0] is layer.weight


def test_linear_zero_features():
    layer = Linear(0, 3)
    assert layer.weight.shape == (3, 0) and not layer.bias.data.any()
    assert layer(Tensor(np.zeros((2, 0), dtype=np.float32))).tolist() == [[0.0] * 3] * 2


def test_linear_reset_parameters_redraws():
    manual_seed(5)
    layer = Linear(6, 6)
    before = layer.weight.data.copy()
    layer.reset_parameters()
    assert not np.array_equal(before, layer.weight.data)


@pytest.mark.parametrize("args, error, message", [
    ((-1, 3), ValueError, r"Linear: in_features must be >= 0, got -1"),
    ((3, -2), ValueError, r"Linear: out_features must be >= 0, got -2"),
    ((3.0, 2), TypeError, r"Linear: in_features must be an int, got 3.0"),
    ((True, 2), TypeError, r"Linear: in_features must be an int"),
    ((3, "2"), TypeError, r"Linear: out_features must be an int"),
])
def test_linear_bad_features(args, error, message):
    with pytest.raises(error, match=message):
        Linear(*args)


def test_linear_bad_dtype():
    with pytest.raises(TypeError, match="Linear: dtype must be a floating-point type, got int64"):
        Linear(2, 2, dtype=np.int64)


@pytest.mark.parametrize("x, error, message", [
    (f32([[1, 2]]), ValueError,
     r"Linear: input of shape \(1, 2\) has 2 features in its last dimension, but this layer expects in_features=3"),
    (Tensor(1.0), ValueError, r"Linear: input of shape \(\) has 0 features"),
    (Tensor([[1, 2, 3]]), TypeError, r"Linear: input must be a floating-point tensor, got dtype int64"),
    (np.ones((1, 3)), TypeError, r"Linear: input must be a Tensor, got ndarray"),
    (Tensor(np.ones((1, 3))), TypeError, r"Linear: input dtype float64 does not match the weight dtype float32"),
])
def test_linear_bad_input(x, error, message):
    with pytest.raises(error, match=message):
        Linear(3, 2)(x)


# ----- init -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, param, expected", [
    ("linear", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0), ("conv3d", None, 1.0),
    ("conv_transpose2d", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5 / 3),
    ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)), ("leaky_relu", 0, math.sqrt(2)),
])
def test_calculate_gain_table(name, param, expected):
    assert calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("args, message", [
    (("swish",), r"unsupported nonlinearity 'swish'"),
    (("leaky_relu", "0.1"), r"negative_slope '0.1' is not a valid number"),
    (("leaky_relu", True), r"negative_slope True is not a valid number"),
])
def test_calculate_gain_errors(args, message):
    with pytest.raises(ValueError, match=message):
        calculate_gain(*args)


@pytest.mark.parametrize("shape, fans", [((5, 3), (3, 5)), ((8, 4, 3, 3), (36, 72)), ((2, 6, 5), (30, 10))])
def test_fans(shape, fans):
    assert L._calculate_fan_in_and_fan_out(Tensor(np.zeros(shape, dtype=np.float32))) == fans


# init function, kwargs, expected bound of a uniform (or std of a normal), for a (300, 200) weight
FAN_IN, FAN_OUT = 200, 300
UNIFORM = [
    (L.kaiming_uniform_, {}, math.sqrt(6 / FAN_IN)),  # a=0: the leaky_relu gain with slope 0 is sqrt(2)
    (L.kaiming_uniform_, {"a": 0.01}, math.sqrt(3) * math.sqrt(2 / (1 + 0.01**2)) / math.sqrt(FAN_IN)),
    (L.kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(6 / FAN_IN)),
    (L.kaiming_uniform_, {"nonlinearity": "relu", "mode": "fan_out"}, math.sqrt(6 / FAN_OUT)),
    (L.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(FAN_IN)),
    (L.xavier_uniform_, {}, math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (L.xavier_uniform_, {"gain": 2.0}, 2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (L.uniform_, {"a": -0.3, "b": 0.7}, None),
]
NORMAL = [
    (L.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / FAN_IN)),
    (L.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "tanh"}, 5 / 3 / math.sqrt(FAN_OUT)),
    (L.xavier_normal_, {}, math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (L.normal_, {"mean": 2.0, "std": 0.5}, 0.5),
]


@pytest.mark.parametrize("fn, kwargs, bound", UNIFORM)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_inits_fill_their_interval(fn, kwargs, bound, dtype):
    w = Tensor(np.zeros((FAN_OUT, FAN_IN), dtype=dtype))
    assert fn(w, generator=np.random.default_rng(0), **kwargs) is w
    assert w.dtype == dtype
    low, high = (-bound, bound) if bound is not None else (kwargs["a"], kwargs["b"])
    assert low <= w.data.min() and w.data.max() <= high
    assert w.data.min() < low + 0.01 * (high - low) and w.data.max() > high - 0.01 * (high - low)
    assert abs(w.data.mean() - (low + high) / 2) < 0.01 * (high - low)


@pytest.mark.parametrize("fn, kwargs, std", NORMAL)
def test_normal_inits_have_the_right_std(fn, kwargs, std):
    w = Tensor(np.zeros((FAN_OUT, FAN_IN), dtype=np.float32))
    fn(w, generator=np.random.default_rng(1), **kwargs)
    assert w.dtype == np.float32
    assert abs(w.data.std() / std - 1) < 0.02
    assert abs(w.data.mean() - kwargs.get("mean", 0.0)) < 0.02 * std * 10


def test_constant_fills():
    w = Tensor(np.full((2, 3), 7.0, dtype=np.float32))
    assert L.zeros_(w) is w and not w.data.any()
    assert L.ones_(w).data.min() == 1.0 and L.constant_(w, 0.25).data.max() == 0.25


def test_init_uses_the_seeded_default_generator():
    a, b = Tensor(np.zeros((4, 4), dtype=np.float32)), Tensor(np.zeros((4, 4), dtype=np.float32))
    manual_seed(7)
    L.kaiming_uniform_(a)
    manual_seed(7)
    L.kaiming_uniform_(b)
    np.testing.assert_array_equal(a.data, b.data)


def test_init_records_nothing_and_keeps_the_tensor_a_leaf():
    p = L.Parameter(np.zeros((3, 3), dtype=np.float32))
    L.xavier_uniform_(p)
    assert p.is_leaf and p.requires_grad and p.grad is None


def test_zero_element_tensors_are_a_no_op():
    empty = Tensor(np.zeros((0, 5), dtype=np.float32))
    for fn in (L.kaiming_uniform_, L.kaiming_normal_, L.xavier_uniform_, L.xavier_normal_):
        assert fn(empty) is empty


@pytest.mark.parametrize("call, error, message", [
    (lambda: L.kaiming_uniform_(Tensor(np.zeros(3, dtype=np.float32))), ValueError,
     r"fewer than 2 dimensions \(got shape \(3,\)\)"),
    (lambda: L.xavier_normal_(Tensor(np.zeros(3, dtype=np.float32))), ValueError, "fewer than 2 dimensions"),
    (lambda: L.kaiming_normal_(Tensor(np.zeros((2, 2), dtype=np.float32)), mode="fan_avg"), ValueError,
     r"mode 'fan_avg' is not supported, use 'fan_in' or 'fan_out'"),
    (lambda: L.kaiming_uniform_(Tensor(np.zeros((2, 2), dtype=np.float32)), nonlinearity="swish"),
     ValueError, "unsupported nonlinearity"),
    (lambda: L.uniform_(Tensor(np.zeros((2, 2), dtype=np.float32)), 1.0, 0.0), ValueError,
     r"uniform_: expected a <= b, got a=1.0, b=0.0"),
    (lambda: L.normal_(Tensor(np.zeros(2, dtype=np.float32)), std=-1.0), ValueError, "std must be >= 0"),
    (lambda: L.zeros_(Tensor(np.zeros(2, dtype=np.int64))), TypeError,
     "constant_: can only initialise floating-point tensors, got dtype int64"),
    (lambda: L.xavier_uniform_(np.zeros((2, 2))), TypeError, "xavier_uniform_: expected a Tensor, got ndarray"),
])
def test_init_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----- Sequential and ModuleList --------------------------------------------------------------------
def test_sequential_forward_indexing_and_list_behaviour():
    a, b, c = Linear(4, 3), ReLU(), Linear(3, 2)
    model = Sequential(a, b, c)
    x = Tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    np.testing.assert_array_equal(model(x).data, c(b(a(x))).data)
    assert len(model) == 3 and list(model) == [a, b, c]
    assert model[0] is a and model[-1] is c and model[-3] is a
    head = model[1:]
    assert isinstance(head, Sequential) and list(head) == [b, c]
    assert [name for name, _ in head.named_children()] == ["1", "2"], "slices keep the original names"
    assert model.append(Identity()) is model and len(model) == 4
    assert [name for name, _ in model.named_children()] == ["0", "1", "2", "3"]
    assert Sequential()(x) is x


def test_sequential_from_ordered_dict():
    model = Sequential(OrderedDict([("encoder", Linear(2, 3)), ("act", Tanh())]))
    assert [name for name, _ in model.named_children()] == ["encoder", "act"]
    assert isinstance(model.encoder, Linear) and model[1] is model.act
    assert repr(model) == ("Sequential(\n  (encoder): Linear(in_features=2, out_features=3, bias=True)\n"
                           "  (act): Tanh()\n)")


@pytest.mark.parametrize("bad, hint", [
    (A.relu, r"got function \(functions such as relu are not Modules"),
    (ReLU, r"got type \(pass an instance: ReLU\(\) rather than the class ReLU\)"),
    (3, r"got int$"),
])
def test_sequential_rejects_non_modules(bad, hint):
    with pytest.raises(TypeError, match=r"Sequential: entry '1': expected a Module, " + hint):
        Sequential(Linear(2, 2), bad)
    with pytest.raises(TypeError, match="Sequential.append: expected a Module"):
        Sequential().append(bad)


@pytest.mark.parametrize("index, error", [(3, IndexError), (-4, IndexError), ("0", TypeError), (1.0, TypeError)])
def test_sequential_bad_index(index, error):
    with pytest.raises(error, match="Sequential"):
        Sequential(ReLU(), ReLU(), ReLU())[index]


def test_module_list_registers_its_modules():
    blocks = ModuleList([Linear(2, 2) for _ in range(3)])
    assert len(blocks) == 3 and isinstance(blocks[1], Linear) and blocks[-1] is blocks[2]
    assert len(list(blocks.parameters())) == 6
    blocks.append(ReLU()).extend([Identity()])
    assert [type(m).__name__ for m in blocks] == ["Linear", "Linear", "Linear", "ReLU", "Identity"]
    assert isinstance(blocks[:2], ModuleList) and len(blocks[:2]) == 2

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.layers = ModuleList([Linear(2, 2), Linear(2, 2)])

    assert [n for n, _ in Net().named_parameters()] == ["layers.0.weight", "layers.0.bias",
                                                        "layers.1.weight", "layers.1.bias"]
    with pytest.raises(TypeError, match="ModuleList.append: expected a Module"):
        ModuleList([A.relu])
    with pytest.raises(IndexError, match="ModuleList: index 5 is out of range for 2 module"):
        ModuleList([ReLU(), ReLU()])[5]


# ----- Dropout --------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_training_statistics(p, dtype):
    manual_seed(0)
    x = Tensor(np.ones((400, 500), dtype=dtype))
    out = Dropout(p)(x)
    assert out.dtype == dtype and out.shape == x.shape
    kept = out.data != 0
    np.testing.assert_allclose(out.data[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(kept.mean() - (1 - p)) < 0.01
    assert abs(out.data.mean() - 1) < 0.03, "inverted dropout keeps the expected value"


def test_dropout_eval_and_edge_probabilities():
    x = f32([[1.0, 2.0], [3.0, 4.0]])
    layer = Dropout(0.5)
    layer.eval()
    assert layer(x) is x
    assert dropout(x, 0.5, training=False) is x and dropout(x, 0.0) is x
    all_dropped = dropout(x, 1.0)
    assert not all_dropped.data.any() and all_dropped.dtype == np.float32
    assert repr(Dropout()) == "Dropout(p=0.5)" and Dropout().p == 0.5


def test_dropout_is_reproducible_with_a_seed_and_a_generator():
    x = Tensor(np.ones(1000, dtype=np.float32))
    manual_seed(3)
    a = dropout(x).data
    manual_seed(3)
    b = dropout(x).data
    np.testing.assert_array_equal(a, b)
    c = dropout(x, generator=np.random.default_rng(9)).data
    d = dropout(x, generator=np.random.default_rng(9)).data
    np.testing.assert_array_equal(c, d)


def test_dropout_records_a_mul_with_a_constant_mask():
    x = Tensor(np.ones(10, dtype=np.float32), requires_grad=True)
    out = dropout(x, 0.3)
    assert out.grad_fn.op == "mul" and out.grad_fn.inputs[0] is x
    assert not out.grad_fn.inputs[1].requires_grad


@pytest.mark.parametrize("p, error, message", [
    (-0.1, ValueError, r"dropout probability has to be between 0 and 1, but got -0.1"),
    (1.5, ValueError, r"dropout probability has to be between 0 and 1, but got 1.5"),
    ("0.5", TypeError, r"p must be a number, got '0.5'"),
    (None, TypeError, r"p must be a number"),
])
def test_dropout_bad_p(p, error, message):
    with pytest.raises(error, match="Dropout: " + message):
        Dropout(p)
    with pytest.raises(error, match="dropout: " + message):
        dropout(f32([1.0]), p)


def test_dropout_bad_input():
    with pytest.raises(TypeError, match="dropout: input must be a floating-point tensor"):
        Dropout()(Tensor([1, 2]))
    with pytest.raises(TypeError, match="dropout: input must be a Tensor"):
        Dropout()([1.0])


# ----- Flatten, Identity ----------------------------------------------------------------------------
@pytest.mark.parametrize("args, shape", [((), (2, 60)), ((0,), (120,)), ((0, 1), (6, 4, 5)), ((2,), (2, 3, 20)),
                                         ((1, 2), (2, 12, 5)), ((-3, -2), (2, 12, 5)), ((1, 1), (2, 3, 4, 5))])
def test_flatten_shapes(args, shape):
    x = Tensor(np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5))
    out = Flatten(*args)(x)
    assert out.shape == shape
    np.testing.assert_array_equal(out.data.ravel(), x.data.ravel())


def test_flatten_errors_and_repr():
    with pytest.raises(IndexError, match=r"Flatten: start_dim=1 is out of range for an input of shape \(5,\)"):
        Flatten()(f32([1, 2, 3, 4, 5]))
    with pytest.raises(TypeError, match="Flatten: end_dim must be an int"):
        Flatten(1, "last")
    with pytest.raises(TypeError, match="Flatten: input must be a Tensor"):
        Flatten()(np.zeros((2, 2)))
    assert repr(Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_identity():
    x = f32([1.0])
    assert Identity(54, unused="yes")(x) is x and repr(Identity()) == "Identity()"


# ----- activation Modules ---------------------------------------------------------------------------
MODULES = [  # (factory, function, repr): factories, so a stubbed Module fails a test, not collection
    (ReLU, A.relu, "ReLU()"),
    (LeakyReLU, A.leaky_relu, "LeakyReLU(negative_slope=0.01)"),
    (lambda: LeakyReLU(0.25), lambda t: A.leaky_relu(t, 0.25), "LeakyReLU(negative_slope=0.25)"),
    (Sigmoid, A.sigmoid, "Sigmoid()"),
    (Tanh, A.tanh, "Tanh()"),
    (GELU, A.gelu, "GELU(approximate='none')"),
    (lambda: GELU("tanh"), lambda t: A.gelu(t, "tanh"), "GELU(approximate='tanh')"),
    (SiLU, A.silu, "SiLU()"),
    (lambda: Softmax(1), lambda t: A.softmax(t, 1), "Softmax(dim=1)"),
    (lambda: LogSoftmax(-1), lambda t: A.log_softmax(t, -1), "LogSoftmax(dim=-1)"),
]


@pytest.mark.parametrize("make, fn, shown", MODULES, ids=[row[2] for row in MODULES])
def test_activation_modules(make, fn, shown):
    module = make()
    x = Tensor(np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32))
    assert isinstance(module, Module) and list(module.parameters()) == [] and module.state_dict() == {}
    np.testing.assert_array_equal(module(x).data, fn(x).data)
    assert repr(module) == shown
    assert module.eval() is module and not module.training


@pytest.mark.parametrize("make, error", [
    (lambda: LeakyReLU("x"), TypeError), (lambda: GELU("erf"), ValueError),
    (lambda: Softmax(None), TypeError), (lambda: LogSoftmax("0"), TypeError), (lambda: Softmax(), TypeError),
])
def test_activation_module_bad_settings(make, error):
    with pytest.raises(error):
        make()


# ----- namespaces -----------------------------------------------------------------------------------
def test_nn_namespaces_re_export_the_core_objects():
    import tinytorch
    import tinytorch.nn as nn
    import tinytorch.nn.functional as F
    from tinytorch.nn import init

    assert nn.Linear is Linear and nn.Module is Module and nn.Parameter is L.Parameter
    assert nn.ReLU is ReLU and nn.ReLU is not A.ReLU, "nn.ReLU is the Module from module 03"
    for name in ("Sequential", "ModuleList", "Dropout", "Flatten", "Identity", "LeakyReLU", "Sigmoid",
                 "Tanh", "GELU", "SiLU", "Softmax", "LogSoftmax"):
        assert getattr(nn, name) is getattr(L, name)
    assert F.relu is A.relu and F.softmax is A.softmax and F.dropout is dropout and F.gelu is A.gelu
    assert init.kaiming_uniform_ is L.kaiming_uniform_ and init.calculate_gain is calculate_gain
    assert tinytorch.Tensor is Tensor and tinytorch.manual_seed is manual_seed
