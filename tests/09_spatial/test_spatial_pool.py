"""Module 09: max / average / adaptive pooling — values, gradients, modules, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinytorch.core.autograd import gradcheck
from tinytorch.core.spatial import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    MaxPool2d,
    adaptive_avg_pool2d,
    avg_pool2d,
    max_pool2d,
)
from tinytorch.core.tensor import Tensor


def windows(x: np.ndarray, kernel, stride, padding, dilation=(1, 1), fill=0.0) -> np.ndarray:
    """(N, C, OH, OW, kh, kw): every pooling window, gathered the slow, obvious way."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=fill)
    span = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    oh = (xp.shape[2] - span[0]) // stride[0] + 1
    ow = (xp.shape[3] - span[1]) // stride[1] + 1
    out = np.empty(x.shape[:2] + (oh, ow) + tuple(kernel), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            r, c = i * stride[0], j * stride[1]
            out[:, :, i, j] = xp[:, :, r:r + span[0]:dilation[0], c:c + span[1]:dilation[1]]
    return out


@st.composite
def pool_configs(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, (d * (k - 1) + 1) // 2)) for k, d in zip(kernel, dilation))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    return dict(shape=shape, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                seed=draw(st.integers(0, 2**16)), integers=draw(st.booleans()))


def _fits(c) -> bool:
    return all(size + 2 * p >= d * (k - 1) + 1 for size, p, d, k in
               zip(c["shape"][2:], c["padding"], c["dilation"], c["kernel"]))


@settings(max_examples=100, deadline=None)
@given(pool_configs())
def test_max_pool_values_and_first_max_gradient(c):
    assume(_fits(c))
    rng = np.random.default_rng(c["seed"])
    data = rng.integers(-2, 3, c["shape"]).astype(np.float64) if c["integers"] else rng.standard_normal(c["shape"])
    x = Tensor(data, requires_grad=True)
    out = max_pool2d(x, c["kernel"], c["stride"], c["padding"], c["dilation"])
    win = windows(data, c["kernel"], c["stride"], c["padding"], c["dilation"], fill=-np.inf)
    np.testing.assert_array_equal(out.data, win.max(axis=(-2, -1)))
    dy = rng.standard_normal(out.shape)
    out.backward(Tensor(dy))
    # each window's gradient goes to its FIRST maximum (row-major), as in PyTorch
    flat = win.reshape(win.shape[:4] + (-1,))
    first = flat.argmax(-1)
    expected = np.zeros(data.shape)
    pad = c["padding"]
    for (n, ch, i, j), k in np.ndenumerate(first):
        r = i * c["stride"][0] + (k // c["kernel"][1]) * c["dilation"][0] - pad[0]
        q = j * c["stride"][1] + (k % c["kernel"][1]) * c["dilation"][1] - pad[1]
        if 0 <= r < data.shape[2] and 0 <= q < data.shape[3]:  # a window of padding only passes nothing
            expected[n, ch, r, q] += dy[n, ch, i, j]
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(pool_configs(), st.booleans())
def test_avg_pool_values(c, include_pad):
    c["dilation"] = (1, 1)
    c["padding"] = tuple(min(p, k // 2) for p, k in zip(c["padding"], c["kernel"]))
    assume(_fits(c))
    data = np.random.default_rng(c["seed"]).standard_normal(c["shape"])
    out = avg_pool2d(Tensor(data), c["kernel"], c["stride"], c["padding"], count_include_pad=include_pad)
    win = windows(data, c["kernel"], c["stride"], c["padding"])
    if include_pad:
        expected = win.mean(axis=(-2, -1))
    else:
        real = windows(np.ones((1, 1) + data.shape[2:]), c["kernel"], c["stride"], c["padding"]).sum(axis=(-2, -1))
        expected = win.sum(axis=(-2, -1)) / real
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda t: max_pool2d(t, 2),
    lambda t: max_pool2d(t, 3, 2, 1),
    lambda t: max_pool2d(t, (2, 3), (1, 2), dilation=(2, 1)),
    lambda t: avg_pool2d(t, 2),
    lambda t: avg_pool2d(t, 3, 1, 1),
    lambda t: avg_pool2d(t, (3, 2), 2, (1, 1), count_include_pad=False),
    lambda t: avg_pool2d(t, 2, divisor_override=3),
    lambda t: adaptive_avg_pool2d(t, (4, 3)),
    lambda t: adaptive_avg_pool2d(t, (2, None)),
    lambda t: adaptive_avg_pool2d(t, 1),
    lambda t: max_pool2d(t[0], 2),  # unbatched (C, H, W)
])
def test_pooling_gradcheck(fn):
    x = Tensor(np.random.default_rng(7).standard_normal((2, 2, 6, 7)), requires_grad=True)
    assert gradcheck(fn, (x,))


def test_adaptive_windows_follow_pytorchs_formula():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 7, 10))
    out = adaptive_avg_pool2d(Tensor(x), (3, 4)).data
    for i in range(3):
        for j in range(4):
            r0, r1 = (i * 7) // 3, -((-(i + 1) * 7) // 3)
            c0, c1 = (j * 10) // 4, -((-(j + 1) * 10) // 4)
            np.testing.assert_allclose(out[:, :, i, j], x[:, :, r0:r1, c0:c1].mean(axis=(-2, -1)))
    assert adaptive_avg_pool2d(Tensor(x), (None, 5)).shape == (2, 3, 7, 5)
    assert adaptive_avg_pool2d(Tensor(x[0]), 2).shape == (3, 2, 2)


def test_float32_stays_float32_and_input_is_not_modified():
    x = np.random.default_rng(9).standard_normal((2, 3, 8, 8)).astype(np.float32)
    keep = x.copy()
    for fn in (lambda t: max_pool2d(t, 2), lambda t: avg_pool2d(t, 3, 1, 1), lambda t: adaptive_avg_pool2d(t, 3)):
        out = fn(Tensor(x, requires_grad=True))
        assert out.dtype == np.float32
        out.sum().backward()
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("make, text", [
    (lambda: MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"),
    (lambda: MaxPool2d((3, 2), 1, (1, 0)), "MaxPool2d(kernel_size=(3, 2), stride=1, padding=(1, 0), dilation=1, "
                                           "ceil_mode=False)"),
    (lambda: AvgPool2d(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (lambda: AdaptiveAvgPool2d((3, 4)), "AdaptiveAvgPool2d(output_size=(3, 4))"),
    (lambda: AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d(output_size=1)"),
])
def test_pooling_module_repr_is_pytorchs(make, text):
    module = make()
    assert repr(module) == text
    assert list(module.parameters()) == [] and module.state_dict() == {}


def test_modules_match_the_functions():
    x = Tensor(np.random.default_rng(10).standard_normal((2, 2, 7, 7)))
    np.testing.assert_array_equal(MaxPool2d(3, 2, 1)(x).data, max_pool2d(x, 3, 2, 1).data)
    np.testing.assert_array_equal(AvgPool2d(3, 2, 1, count_include_pad=False)(x).data,
                                  avg_pool2d(x, 3, 2, 1, count_include_pad=False).data)
    np.testing.assert_array_equal(AdaptiveAvgPool2d((2, 3))(x).data, adaptive_avg_pool2d(x, (2, 3)).data)


# ----- bad input ----------------------------------------------------------------------------------
def _raises(error, fn, *pieces):
    with pytest.raises(error) as caught:
        fn()
    for piece in pieces:
        assert piece in str(caught.value), f"{piece!r} missing from: {caught.value}"


def test_pooling_bad_input():
    small = Tensor(np.zeros((1, 2, 3, 3), dtype=np.float32))
    _raises(ValueError, lambda: MaxPool2d(4)(small), "MaxPool2d", "4x4", "3x3", "(1, 2, 3, 3)")
    _raises(ValueError, lambda: AvgPool2d(5, padding=0)(small), "AvgPool2d", "5x5", "3x3")
    _raises(ValueError, lambda: MaxPool2d(2, padding=2), "MaxPool2d", "half")
    _raises(ValueError, lambda: avg_pool2d(small, 2, padding=2), "avg_pool2d", "half")
    _raises(ValueError, lambda: MaxPool2d(2)(Tensor(np.zeros((4, 4), dtype=np.float32))), "MaxPool2d", "(4, 4)")
    _raises(ValueError, lambda: MaxPool2d(0), "kernel_size")
    _raises(ValueError, lambda: MaxPool2d(2, stride=0), "stride")
    _raises(TypeError, lambda: max_pool2d(Tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), 2), "floating-point")
    _raises(ValueError, lambda: AdaptiveAvgPool2d(0), "AdaptiveAvgPool2d", "positive")
    _raises(ValueError, lambda: adaptive_avg_pool2d(small, (2, -1)), "adaptive_avg_pool2d", "positive", "(1, 2, 3, 3)")
    _raises(ValueError, lambda: AdaptiveAvgPool2d(2)(Tensor(np.zeros((2, 3), dtype=np.float32))), "(2, 3)")
    _raises(ValueError, lambda: avg_pool2d(small, 2, divisor_override=0), "divisor_override")
