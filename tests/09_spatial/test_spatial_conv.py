"""Module 09: conv2d / Conv2d — im2col path vs the direct loops, gradients, the layer, bad input.

conftest.py switches module 16's kernels off: these tests check module 09's own code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinytorch.core import spatial
from tinytorch.core.autograd import gradcheck
from tinytorch.core.spatial import Conv2d, conv2d, conv2d_naive
from tinytorch.core.tensor import Tensor, manual_seed


def arrays(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# ----- the fast path agrees with the loops ------------------------------------------------------
@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if stride == (1, 1) and draw(st.booleans()):
        padding = draw(st.sampled_from(["same", "valid"]))
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    shape = (draw(st.integers(1, 3)), c_in, draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    bias = draw(st.booleans())
    return dict(shape=shape, weight=(c_out, c_in // groups, kh, kw), stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=bias, seed=draw(st.integers(0, 2**16)))


def _fits(config) -> bool:
    _, _, h, w = config["shape"]
    _, _, kh, kw = config["weight"]
    (dh, dw), padding = config["dilation"], config["padding"]
    if padding == "same":
        return True
    ph, pw = (0, 0) if padding == "valid" else padding
    return h + 2 * ph >= dh * (kh - 1) + 1 and w + 2 * pw >= dw * (kw - 1) + 1


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_configs())
def test_fast_conv_matches_the_direct_loops(config):
    assume(_fits(config))
    rng = np.random.default_rng(config["seed"])
    x, w = arrays(rng, *config["shape"]), arrays(rng, *config["weight"])
    b = arrays(rng, config["weight"][0]) if config["bias"] else None
    args = {k: config[k] for k in ("stride", "padding", "dilation", "groups")}
    expected = conv2d_naive(x, w, b, **args)
    got = conv2d(Tensor(x), Tensor(w), None if b is None else Tensor(b), **args)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.data, expected, rtol=1e-10, atol=1e-10)


def test_float32_in_float32_out_and_unbatched_input():
    rng = np.random.default_rng(1)
    x, w = arrays(rng, 3, 6, 5, dtype=np.float32), arrays(rng, 2, 3, 3, 3, dtype=np.float32)
    out = conv2d(Tensor(x), Tensor(w), padding=1)
    assert out.dtype == np.float32 and out.shape == (2, 6, 5)
    np.testing.assert_allclose(out.data, conv2d_naive(x[None], w, padding=1)[0], rtol=1e-5, atol=1e-5)


def test_im2col_and_col2im_are_adjoint():
    rng = np.random.default_rng(2)
    for stride, dilation, sides in [((1, 1), (1, 1), (1, 1, 1, 1)), ((2, 3), (1, 2), (0, 1, 1, 2)),
                                    ((1, 1), (2, 1), (2, 0, 0, 1))]:
        x = rng.standard_normal((2, 3, 7, 8))
        g = spatial._geometry(x.shape, (3, 2), stride, sides, dilation, "test")
        xp = spatial.pad(x, g)
        cols = spatial.im2col(xp, g)
        assert cols.shape == (3 * 3 * 2, 2 * g.oh * g.ow)
        other = rng.standard_normal(cols.shape)
        assert np.isclose(np.vdot(cols, other), np.vdot(xp, spatial.col2im(other, g, 2)))


def test_conv2d_function_keeps_cols_and_matches_einsum_gradients():
    rng = np.random.default_rng(0)
    x = Tensor(arrays(rng, 7, 3, 9, 8), requires_grad=True)
    w = Tensor(arrays(rng, 4, 3, 3, 3), requires_grad=True)
    b = Tensor(arrays(rng, 4), requires_grad=True)
    dy = arrays(rng, 7, 4, 9, 8)
    out = conv2d(x, w, b, padding=1)
    out.backward(Tensor(dy))
    np.testing.assert_allclose(out.data, conv2d_naive(x.data, w.data, b.data, padding=1), rtol=1e-10, atol=1e-10)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x.data, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3),
                                                       axis=(2, 3))
    np.testing.assert_allclose(w.grad.data, np.einsum("nohw,nchwij->ocij", dy, windows), rtol=1e-10)
    np.testing.assert_allclose(b.grad.data, dy.sum(axis=(0, 2, 3)), rtol=1e-10)
    padded_dy = np.lib.stride_tricks.sliding_window_view(np.pad(dy, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3),
                                                         axis=(2, 3))
    expected_dx = np.einsum("nohwij,ocij->nchw", padded_dy, w.data[:, :, ::-1, ::-1])
    np.testing.assert_allclose(x.grad.data, expected_dx, rtol=1e-10, atol=1e-12)


# ----- gradients ---------------------------------------------------------------------------------
GRADCHECK_CASES = [
    dict(x=(2, 3, 5, 5), w=(2, 3, 3, 3)),
    dict(x=(1, 2, 6, 5), w=(3, 2, 3, 2), stride=2, padding=1),
    dict(x=(2, 2, 7, 6), w=(2, 2, 2, 3), stride=(2, 1), padding=(1, 2)),
    dict(x=(1, 2, 7, 7), w=(2, 2, 3, 3), dilation=2, padding=1),
    dict(x=(2, 4, 5, 4), w=(4, 2, 3, 3), groups=2, padding="same"),
    dict(x=(1, 3, 5, 6), w=(6, 1, 3, 3), groups=3, stride=2),
    dict(x=(2, 2, 4, 5), w=(3, 2, 4, 2), padding="same", dilation=(1, 2)),
    dict(x=(1, 2, 4, 4), w=(2, 2, 1, 1), bias=False),
    dict(x=(2, 5, 5), w=(2, 2, 3, 3), padding=1),  # unbatched (C, H, W)
]


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv2d_gradcheck(case):
    case = dict(case)
    rng = np.random.default_rng(3)
    x = Tensor(arrays(rng, *case.pop("x")), requires_grad=True)
    w = Tensor(arrays(rng, *case.pop("w")), requires_grad=True)
    inputs = [x, w]
    if case.pop("bias", True):
        inputs.append(Tensor(arrays(rng, w.shape[0]), requires_grad=True))
    assert gradcheck(lambda *t: conv2d(*t, **case), inputs)


def test_frozen_weight_gets_no_gradient_but_the_input_does():
    rng = np.random.default_rng(4)
    x = Tensor(arrays(rng, 2, 2, 4, 4), requires_grad=True)
    w = Tensor(arrays(rng, 3, 2, 3, 3))
    conv2d(x, w, padding=1).sum().backward()
    assert w.grad is None and x.grad is not None and x.grad.shape == x.shape


# ----- the layer ---------------------------------------------------------------------------------
def test_conv2d_layer_init_matches_pytorch_default():
    manual_seed(0)
    layer = Conv2d(8, 16, (3, 5), groups=2)
    fan_in = 4 * 3 * 5
    bound = 1 / math.sqrt(fan_in)
    assert layer.weight.shape == (16, 4, 3, 5) and layer.weight.dtype == np.float32
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.1 * bound  # U(-b, b) has std b/sqrt(3)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert Conv2d(2, 2, 3, bias=False).bias is None


@pytest.mark.parametrize("args, kwargs, text", [
    ((3, 32, 3), {"padding": 1}, "Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"),
    ((16, 33, (3, 5)), {"stride": 2, "padding": (4, 2), "dilation": (3, 1)},
     "Conv2d(16, 33, kernel_size=(3, 5), stride=(2, 2), padding=(4, 2), dilation=(3, 1))"),
    ((4, 8, 3), {"groups": 4, "bias": False}, "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), groups=4, bias=False)"),
    ((4, 8, 3), {"padding": "same"}, "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding='same')"),
])
def test_conv2d_repr_is_pytorchs(args, kwargs, text):
    assert repr(Conv2d(*args, **kwargs)) == text


def test_conv2d_layer_trains_in_float64_with_gradcheck():
    layer = Conv2d(2, 3, 2, stride=(1, 2), padding=1, dtype=np.float64)
    x = Tensor(np.random.default_rng(5).standard_normal((2, 2, 4, 5)), requires_grad=True)
    assert gradcheck(lambda x, w, b: layer(x), (x, layer.weight, layer.bias))


# ----- bad input ----------------------------------------------------------------------------------
def _raises(error, fn, *pieces):
    with pytest.raises(error) as caught:
        fn()
    message = str(caught.value)
    for piece in pieces:
        assert piece in message, f"{piece!r} missing from the error: {message}"


def test_wrong_rank_names_the_layer_and_shape():
    layer = Conv2d(3, 4, 3)
    _raises(ValueError, lambda: layer(Tensor(np.zeros((2, 3), dtype=np.float32))), "Conv2d", "(2, 3)", "4-D")
    _raises(ValueError, lambda: layer(Tensor(np.zeros((1, 2, 3, 8, 8), dtype=np.float32))), "Conv2d",
            "(1, 2, 3, 8, 8)")


def test_wrong_channel_count_names_both_counts():
    layer = Conv2d(3, 4, 3)
    _raises(ValueError, lambda: layer(Tensor(np.zeros((2, 1, 8, 8), dtype=np.float32))), "Conv2d", "3 channels",
            "(2, 1, 8, 8)")
    w = Tensor(np.zeros((4, 2, 3, 3)))
    _raises(ValueError, lambda: conv2d(Tensor(np.zeros((1, 6, 5, 5))), w, groups=2), "conv2d", "4 channels")


def test_kernel_larger_than_padded_input():
    layer = Conv2d(1, 1, 5, padding=1)
    _raises(ValueError, lambda: layer(Tensor(np.zeros((1, 1, 2, 9), dtype=np.float32))), "Conv2d", "5x5", "4x11",
            "(1, 1, 2, 9)")
    dilated = Conv2d(1, 1, 3, dilation=3)
    _raises(ValueError, lambda: dilated(Tensor(np.zeros((1, 1, 6, 6), dtype=np.float32))), "dilated to 7x7")


def test_groups_must_divide_channels():
    _raises(ValueError, lambda: Conv2d(6, 4, 3, groups=4), "Conv2d", "in_channels (6)", "groups (4)")
    _raises(ValueError, lambda: Conv2d(4, 6, 3, groups=4), "out_channels (6)")
    _raises(ValueError, lambda: conv2d(Tensor(np.zeros((1, 4, 5, 5))), Tensor(np.zeros((3, 2, 3, 3))), groups=2),
            "conv2d", "out_channels (3")


@pytest.mark.parametrize("kwargs, error, piece", [
    ({"kernel_size": 0}, ValueError, "kernel_size"),
    ({"kernel_size": 3, "stride": 0}, ValueError, "stride"),
    ({"kernel_size": 3, "padding": -1}, ValueError, "padding"),
    ({"kernel_size": 3, "padding": "full"}, ValueError, "'same'"),
    ({"kernel_size": 3, "padding": "same", "stride": 2}, ValueError, "strided"),
    ({"kernel_size": 2.5}, TypeError, "kernel_size"),
    ({"kernel_size": (3, 3, 3)}, TypeError, "pair"),
    ({"kernel_size": 3, "padding_mode": "reflect"}, ValueError, "padding_mode"),
])
def test_bad_constructor_arguments(kwargs, error, piece):
    _raises(error, lambda: Conv2d(2, 2, **kwargs), "Conv2d", piece)


def test_dtype_and_type_mistakes():
    layer = Conv2d(1, 1, 1)
    _raises(TypeError, lambda: layer(Tensor(np.zeros((1, 1, 2, 2)))), "Conv2d", "float64", "float32")
    _raises(TypeError, lambda: layer(Tensor(np.zeros((1, 1, 2, 2), dtype=np.int64))), "floating-point")
    _raises(TypeError, lambda: layer(np.zeros((1, 1, 2, 2), dtype=np.float32)), "Tensor")
    _raises(ValueError, lambda: conv2d(Tensor(np.zeros((1, 1, 3, 3))), Tensor(np.zeros((1, 3, 3)))), "4-D")
    _raises(ValueError, lambda: conv2d(Tensor(np.zeros((1, 1, 3, 3))), Tensor(np.zeros((2, 1, 1, 1))),
                                       Tensor(np.zeros(3))), "bias")
