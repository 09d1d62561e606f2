"""Module 02: activation functions — values, dtypes, stability, recording, objects and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.activations import (
    GELU,
    Activation,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    erf,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    tanh,
)
from tinytorch.core.tensor import Tensor

GRID = [-30.0, -5.0, -2.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.0, 5.0, 30.0]


def f64(values):
    return Tensor(np.array(values, dtype=np.float64))


def phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def sigmoid_ref(x):
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


# name, function under test, closed-form reference on one float
ELEMENTWISE = [
    ("relu", relu, lambda x: max(x, 0.0)),
    ("leaky_relu", leaky_relu, lambda x: x if x > 0 else 0.01 * x),
    ("leaky_relu(0.2)", lambda t: leaky_relu(t, 0.2), lambda x: x if x > 0 else 0.2 * x),
    ("leaky_relu(1.5)", lambda t: leaky_relu(t, 1.5), lambda x: x if x > 0 else 1.5 * x),
    ("sigmoid", sigmoid, sigmoid_ref),
    ("tanh", tanh, math.tanh),
    ("gelu", gelu, lambda x: x * phi(x)),
    ("gelu(tanh)", lambda t: gelu(t, "tanh"),
     lambda x: 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    ("silu", silu, lambda x: x * sigmoid_ref(x)),
]


@pytest.mark.parametrize("name, fn, reference", ELEMENTWISE, ids=[row[0] for row in ELEMENTWISE])
def test_elementwise_values_match_closed_form(name, fn, reference):
    got = fn(f64(GRID))
    expected = [reference(x) for x in GRID]
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-300, err_msg=name)
    assert got.shape == (len(GRID),)


@pytest.mark.parametrize("name, fn, reference", ELEMENTWISE, ids=[row[0] for row in ELEMENTWISE])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_keeps_dtype_and_shape(name, fn, reference, dtype):
    x = Tensor(np.linspace(-3, 3, 24, dtype=dtype).reshape(2, 3, 4))
    out = fn(x)
    assert out.dtype == dtype, f"{name} turned {np.dtype(dtype)} into {out.dtype}"
    assert out.shape == (2, 3, 4)
    expected = np.array([reference(float(v)) for v in x.data.ravel()]).reshape(2, 3, 4)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("name, fn, reference", ELEMENTWISE, ids=[row[0] for row in ELEMENTWISE])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_stable_for_huge_inputs(name, fn, reference, dtype):
    x = Tensor(np.array([-1e4, -1e3, -100.0, 100.0, 1e3, 1e4], dtype=dtype))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = fn(x)
    assert np.isfinite(out.data).all(), f"{name} gave {out.tolist()}"
    expected = [reference(float(v)) for v in x.data]
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, atol=1e-30)


def test_sigmoid_keeps_relative_precision_in_the_tails():
    x = f64([-700.0, -50.0, 50.0])
    np.testing.assert_allclose(sigmoid(x).data, [math.exp(-700), math.exp(-50), 1.0], rtol=1e-12)
    assert sigmoid(Tensor([-1e4, 1e4])).tolist() == [0.0, 1.0]


def test_relu_accepts_integers_and_keeps_them():
    out = relu(Tensor([-2, 0, 3]))
    assert out.dtype == np.int64 and out.tolist() == [0, 0, 3]


def test_tanh_and_sigmoid_identity():
    x = f64(np.linspace(-6, 6, 13))
    np.testing.assert_allclose(tanh(x).data, 2 * sigmoid(x * 2).data - 1, atol=1e-14)


def test_gelu_forms_agree_closely():
    x = f64(np.linspace(-8, 8, 401))
    assert np.max(np.abs(gelu(x).data - gelu(x, "tanh").data)) < 5e-4


def test_gelu_minimum_is_near_minus_075():
    x = f64(np.linspace(-2, 0, 20001))
    out = gelu(x).data
    assert abs(x.data[np.argmin(out)] + 0.7518) < 1e-3
    assert abs(out.min() + 0.16997) < 1e-4


# ----- erf ------------------------------------------------------------------------------------------
def test_erf_matches_math_erf_in_float64():
    grid = np.concatenate([np.linspace(-9, 9, 180001), [1.75, 2.5, -2.5, 1e-300, 5e-324, 26.0, 1e300]])
    reference = np.array([math.erf(v) for v in grid])
    assert np.max(np.abs(erf(grid) - reference)) < 1e-13
    small = grid[np.abs(grid) < 1e-3]
    np.testing.assert_allclose(erf(small), [math.erf(v) for v in small], rtol=1e-13)


def test_erf_float32_is_float32_and_accurate():
    grid = np.linspace(-6, 6, 60001).astype(np.float32)
    out = erf(grid)
    assert out.dtype == np.float32
    assert np.max(np.abs(out - np.array([math.erf(float(v)) for v in grid]))) < 1e-6


@pytest.mark.parametrize("value, expected", [(0.0, 0.0), (np.inf, 1.0), (-np.inf, -1.0), (40.0, 1.0)])
def test_erf_special_values(value, expected):
    assert erf(np.array([value]))[0] == expected


def test_erf_nan_negative_zero_empty_scalar_and_ints():
    out = erf(np.array([np.nan, -0.0, 1.0, np.nan]))
    assert np.isnan(out[0]) and np.isnan(out[3]) and out[2] == pytest.approx(math.erf(1.0), abs=1e-15)
    assert out[1] == 0.0 and math.copysign(1, out[1]) == -1
    assert erf(np.array([], dtype=np.float32)).shape == (0,)
    assert erf(np.float64(0.5)).shape == () and erf(0.5) == pytest.approx(math.erf(0.5), abs=1e-15)
    ints = erf(np.array([[0, 1], [-2, 3]]))
    assert ints.dtype == np.float64 and ints.shape == (2, 2)
    np.testing.assert_allclose(ints, [[0, math.erf(1)], [math.erf(-2), math.erf(3)]], atol=1e-15)


def test_erf_large_array_uses_every_block():
    x = np.random.default_rng(0).standard_normal(100_003) * 3
    reference = np.array([math.erf(v) for v in x[::997]])
    np.testing.assert_allclose(erf(x)[::997], reference, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=6),
                  elements=st.floats(-50, 50, allow_nan=False)))
def test_erf_is_odd_and_bounded(x):
    out = erf(x)
    assert out.shape == x.shape
    assert np.all(np.abs(out) <= 1)
    np.testing.assert_array_equal(erf(-x), -out)


# ----- softmax / log_softmax ------------------------------------------------------------------------
def test_softmax_values_by_hand():
    row = [2.0, 1.0, 0.1]
    total = sum(math.exp(v) for v in row)
    out = softmax(f64([row]), dim=1)
    np.testing.assert_allclose(out.data, [[math.exp(v) / total for v in row]], rtol=1e-14)
    np.testing.assert_allclose(log_softmax(f64([row]), dim=1).data,
                               [[v - math.log(total) for v in row]], rtol=1e-14)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_softmax_normalises_along_dim(fn, dim):
    x = f64(np.random.default_rng(1).standard_normal((2, 3, 4)) * 5)
    out = fn(x, dim)
    probs = out.data if fn is softmax else np.exp(out.data)
    np.testing.assert_allclose(probs.sum(axis=dim), 1.0, rtol=1e-12)
    shifted = np.exp(x.data - x.data.max(axis=dim, keepdims=True))
    np.testing.assert_allclose(probs, shifted / shifted.sum(axis=dim, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_and_keeps_dtype(dtype):
    x = Tensor(np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        probs = softmax(x, dim=1)
        logp = log_softmax(x, dim=1)
    assert probs.dtype == dtype and logp.dtype == dtype
    np.testing.assert_allclose(probs.data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(logp.data, [[0, -1e4, -2e4], [-math.log(3)] * 3], rtol=1e-6)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                  elements=st.floats(-100, 100, allow_nan=False)),
       st.floats(-1e3, 1e3))
def test_softmax_is_shift_invariant(x, shift):
    a = softmax(Tensor(x), dim=-1).data
    b = softmax(Tensor(x + shift), dim=-1).data
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(np.exp(log_softmax(Tensor(x), dim=-1).data), a, atol=1e-12)


# ----- recording for autograd (docs/autograd.md) ------------------------------------------------------
RECORDED = [
    ("relu", lambda t: relu(t), {}),
    ("leaky_relu", lambda t: leaky_relu(t, 0.3), {"negative_slope": 0.3}),
    ("sigmoid", sigmoid, {"out"}),
    ("tanh", tanh, {"out"}),
    ("gelu", lambda t: gelu(t), {"approximate": "none"}),
    ("gelu", lambda t: gelu(t, "tanh"), {"approximate": "tanh"}),
    ("silu", silu, {}),
    ("softmax", lambda t: softmax(t, -1), {"dim": 1, "out": None}),
    ("log_softmax", lambda t: log_softmax(t, 0), {"dim": 0, "out": None}),
]


@pytest.mark.parametrize("op, fn, saved", RECORDED, ids=[f"{row[0]}-{i}" for i, row in enumerate(RECORDED)])
def test_ops_record_themselves_as_the_contract_says(op, fn, saved):
    x = Tensor(np.array([[0.5, -1.0, 2.0]], dtype=np.float32), requires_grad=True)
    out = fn(x)
    node = out.grad_fn
    assert node is not None and node.op == op
    assert len(node.inputs) == 1 and node.inputs[0] is x
    assert set(node.saved) == set(saved)
    for key, value in (saved.items() if isinstance(saved, dict) else []):
        if key == "out":
            np.testing.assert_array_equal(node.saved["out"], out.data)
        else:
            assert node.saved[key] == value and type(node.saved[key]) is type(value)
    assert fn(Tensor(x.data)).grad_fn is None, "no graph when no input requires grad"


# ----- objects --------------------------------------------------------------------------------------
OBJECTS = [
    (ReLU(), relu, "ReLU()"),
    (LeakyReLU(), leaky_relu, "LeakyReLU(negative_slope=0.01)"),
    (LeakyReLU(0.2), lambda t: leaky_relu(t, 0.2), "LeakyReLU(negative_slope=0.2)"),
    (Sigmoid(), sigmoid, "Sigmoid()"),
    (Tanh(), tanh, "Tanh()"),
    (GELU(), gelu, "GELU(approximate='none')"),
    (GELU(approximate="tanh"), lambda t: gelu(t, "tanh"), "GELU(approximate='tanh')"),
    (SiLU(), silu, "SiLU()"),
    (Softmax(dim=0), lambda t: softmax(t, 0), "Softmax(dim=0)"),
    (LogSoftmax(dim=-1), lambda t: log_softmax(t, -1), "LogSoftmax(dim=-1)"),
]


@pytest.mark.parametrize("obj, fn, shown", OBJECTS, ids=[row[2] for row in OBJECTS])
def test_activation_objects_call_their_function_and_print(obj, fn, shown):
    x = Tensor(np.array([[-1.5, 0.0, 2.5], [0.3, -0.2, 1.0]], dtype=np.float32))
    assert isinstance(obj, Activation)
    np.testing.assert_array_equal(obj(x).data, fn(x).data)
    np.testing.assert_array_equal(obj.forward(x).data, fn(x).data)
    assert repr(obj) == shown


# ----- bad input ------------------------------------------------------------------------------------
FLOAT_ONLY = [("leaky_relu", leaky_relu), ("sigmoid", sigmoid), ("tanh", tanh), ("gelu", gelu),
              ("silu", silu), ("softmax", lambda t: softmax(t, 0)),
              ("log_softmax", lambda t: log_softmax(t, 0))]


@pytest.mark.parametrize("name, fn", FLOAT_ONLY + [("relu", relu)])
def test_non_tensor_input_is_a_type_error_naming_the_function(name, fn):
    with pytest.raises(TypeError, match=rf"^{name}: input must be a Tensor, got list"):
        fn([1.0, 2.0])


@pytest.mark.parametrize("name, fn", FLOAT_ONLY)
def test_integer_input_is_a_type_error(name, fn):
    with pytest.raises(TypeError, match=rf"^{name}: .*floating-point.*int64"):
        fn(Tensor([1, 2]))


@pytest.mark.parametrize("fn", [softmax, log_softmax])
@pytest.mark.parametrize("dim, error, message", [
    (2, IndexError, r"dim 2 is out of range for a tensor with 2 dimension\(s\) \(expected -2 <= dim < 2\)"),
    (-3, IndexError, r"dim -3 is out of range"),
    (1.0, TypeError, r"dim must be an int, got 1\.0"),
    (None, TypeError, r"dim must be an int, got None"),
    (True, TypeError, r"dim must be an int"),
])
def test_softmax_bad_dim(fn, dim, error, message):
    with pytest.raises(error, match=rf"^{fn.__name__}: {message}"):
        fn(Tensor(np.zeros((2, 3), dtype=np.float32)), dim)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_softmax_needs_a_dimension(fn):
    with pytest.raises(ValueError, match="at least 1 dimension"):
        fn(Tensor(1.0), 0)
    with pytest.raises(TypeError):
        fn(Tensor([1.0]))  # dim is required


@pytest.mark.parametrize("make, error, message", [
    (lambda: gelu(Tensor([1.0]), approximate="fast"), ValueError,
     r"gelu: approximate must be 'none' or 'tanh', got 'fast'"),
    (lambda: GELU("exact"), ValueError, r"GELU: approximate must be 'none' or 'tanh'"),
    (lambda: leaky_relu(Tensor([1.0]), "0.1"), TypeError, r"leaky_relu: negative_slope must be a number"),
    (lambda: LeakyReLU(None), TypeError, r"LeakyReLU: negative_slope must be a number"),
    (lambda: Softmax(dim="1"), TypeError, r"Softmax: dim must be an int"),
    (lambda: LogSoftmax(dim=1.5), TypeError, r"LogSoftmax: dim must be an int"),
    (lambda: Softmax(), TypeError, r"dim"),
])
def test_bad_settings(make, error, message):
    with pytest.raises(error, match=message):
        make()
