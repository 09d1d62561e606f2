"""Module 16 Part II: the fast conv kernel equals module 09's im2col path (values and gradients),
passes float64 gradcheck, and is wired into conv2d through fast_kernel with a clean fallback.

The value and gradcheck tests run three times: every stride-1, one-group conv through choice 7's
shifted matmuls with one product per tap, then with cols, then every conv on the blocked im2col path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinytorch.core import spatial
from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.optimizers import accelerated
from tinytorch.core.spatial import Conv2d, conv2d, conv2d_naive
from tinytorch.core.tensor import Tensor
from tinytorch.systems import acceleration
from tinytorch.systems.acceleration import FastConv2dFunction, use_fused


def run(config, x, w, b, dy, fused: bool):
    """(output, dx, dw, db) of conv2d on one path."""
    X, W = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    B = None if b is None else Tensor(b, requires_grad=True)
    with use_fused(fused):
        out = conv2d(X, W, B, **config)
        out.backward(Tensor(dy))
    return out.data, X.grad.data, W.grad.data, None if B is None else B.grad.data


@st.composite
def configs(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    shape = (draw(st.integers(1, 5)), c_in, draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    return dict(shape=shape, weight=(c_out, c_in // groups) + kernel, bias=draw(st.booleans()), seed=draw(
        st.integers(0, 2**16)), config=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


PATHS = pytest.mark.parametrize("shifted, taps_from", [(True, 1), (True, 10**9), (False, 1)],
                                ids=["shifted-taps", "shifted-cols", "blocked"])


def choose_path(patch, shifted: bool, taps_from: int) -> None:
    patch.setattr(acceleration, "SHIFTED_MATMULS", shifted)
    patch.setattr(acceleration, "TAPS_FROM_CHANNELS", taps_from)


@PATHS
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=configs())
def test_fast_kernel_equals_module_09_values_and_gradients(shifted, taps_from, case):
    (_, _, h, w), (_, _, kh, kw) = case["shape"], case["weight"]
    (ph, pw), (dh, dw) = case["config"]["padding"], case["config"]["dilation"]
    assume(h + 2 * ph >= dh * (kh - 1) + 1 and w + 2 * pw >= dw * (kw - 1) + 1)
    rng = np.random.default_rng(case["seed"])
    x, weight = rng.standard_normal(case["shape"]), rng.standard_normal(case["weight"])
    b = rng.standard_normal(case["weight"][0]) if case["bias"] else None
    reference = conv2d_naive(x, weight, b, **case["config"])
    dy = rng.standard_normal(reference.shape)
    with pytest.MonkeyPatch.context() as patch:
        choose_path(patch, shifted, taps_from)
        fast = run(case["config"], x, weight, b, dy, True)
    plain = run(case["config"], x, weight, b, dy, False)
    np.testing.assert_allclose(fast[0], reference, rtol=1e-10, atol=1e-10)
    for name, got, want in zip(("output", "dx", "dw", "db"), fast, plain):
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=name)


GRADCHECK_CASES = [
    dict(x=(2, 3, 5, 6), w=(2, 3, 3, 3), padding=1),
    dict(x=(2, 2, 5, 4), w=(3, 2, 2, 3), padding=(0, 2), dilation=(2, 1)),  # asymmetric: shifted windows
    dict(x=(1, 2, 7, 6), w=(3, 2, 3, 2), stride=2, padding=(1, 0)),
    dict(x=(2, 4, 6, 5), w=(4, 2, 3, 3), groups=2, dilation=(2, 1), padding=2),
    dict(x=(1, 2, 4, 4), w=(2, 2, 1, 1)),
]


@PATHS
@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_fast_kernel_float64_gradcheck(monkeypatch, shifted, taps_from, case):
    choose_path(monkeypatch, shifted, taps_from)
    case = dict(case)
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal(case.pop("x")), requires_grad=True)
    w = Tensor(rng.standard_normal(case.pop("w")), requires_grad=True)
    b = Tensor(rng.standard_normal(w.shape[0]), requires_grad=True)
    g = spatial._geometry(tuple(x.shape), tuple(w.shape[2:]), spatial._pair(case.get("stride", 1), "s", "t"),
                          spatial._padding(case.get("padding", 0), tuple(w.shape[2:]), (1, 1), (1, 1), "t"),
                          spatial._pair(case.get("dilation", 1), "d", "t"), "test")
    groups = case.get("groups", 1)
    assert gradcheck(lambda *t: FastConv2dFunction.apply(*t, g, groups), [x, w, b])
    assert gradcheck(lambda *t: conv2d(*t, **case), [x, w, b])  # the same kernel, through conv2d


@pytest.mark.parametrize("budget", [1, 1 << 12, 1 << 40])
def test_the_block_size_does_not_change_the_result(monkeypatch, budget):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((7, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    dy = rng.standard_normal((7, 4, 9, 8))
    plain = run(dict(padding=1), x, w, b, dy, False)
    monkeypatch.setattr(acceleration, "_BLOCK_BYTES", budget)
    fast = run(dict(padding=1), x, w, b, dy, True)
    for got, want in zip(fast, plain):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_float32_outputs_do_not_alias_the_workspace():
    rng = np.random.default_rng(1)
    layer = Conv2d(3, 5, 3, padding=1)
    first_in = Tensor(rng.standard_normal((4, 3, 8, 8)).astype(np.float32))
    first = layer(first_in)
    kept = first.data.copy()
    layer(Tensor(rng.standard_normal((4, 3, 8, 8)).astype(np.float32)))  # reuses the scratch buffers
    np.testing.assert_array_equal(first.data, kept)
    with use_fused(False):
        plain = layer(first_in)
    assert first.dtype == np.float32
    np.testing.assert_allclose(first.data, plain.data, rtol=1e-5, atol=1e-5)


def test_the_switch_turns_the_fast_kernel_off():
    rng = np.random.default_rng(4)
    x, w = Tensor(rng.standard_normal((2, 3, 5, 5))), Tensor(rng.standard_normal((2, 3, 3, 3)))
    g = spatial._geometry((2, 3, 5, 5), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "test")
    out = accelerated("fast_conv2d", x, w, None, g, 1)
    assert out is not NotImplemented and out.grad_fn is None  # no input requires grad: no graph
    with use_fused(False):
        assert accelerated("fast_conv2d", x, w, None, g, 1) is NotImplemented
    np.testing.assert_allclose(out.data, conv2d_naive(x.data, w.data, padding=1), rtol=1e-10, atol=1e-10)


def test_a_stubbed_kernel_falls_back_to_module_09(monkeypatch):
    """A student release: module 16's kernel raises NotImplementedError, conv2d still works (module 09's)."""
    calls = []

    def stub(*args):
        calls.append(len(args))
        raise NotImplementedError("conv_forward_block is not implemented yet, see modules/16_acceleration")

    monkeypatch.setattr(acceleration, "fast_conv2d", stub)
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    out = conv2d(x, w, padding=1)
    assert calls == [5], "conv2d should have asked module 16's kernel first"
    np.testing.assert_allclose(out.data, conv2d_naive(x.data, w.data, padding=1), rtol=1e-10, atol=1e-10)
    out.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape


def test_conv2d_under_no_grad_builds_no_graph():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3))
    with no_grad():
        out = conv2d(Tensor(x), Tensor(w, requires_grad=True), padding=1)
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_allclose(out.data, conv2d_naive(x, w, padding=1), rtol=1e-10, atol=1e-10)


TRANSPOSED_CASES = [
    dict(x=(3, 8, 6, 7), w=(5, 8, 3, 3), padding=1),  # K = 72: the transposed product by default
    dict(x=(2, 8, 7, 6), w=(6, 8, 3, 3), stride=2, dilation=(1, 2), padding=(1, 2)),
    dict(x=(2, 8, 5, 5), w=(4, 4, 3, 3), groups=2, padding=1),  # grouped: always the batched product
    dict(x=(4, 3, 9, 8), w=(4, 3, 3, 3), padding=1, bias=False),
]


@pytest.mark.parametrize("from_k", [0, 10**9], ids=["transposed", "plain-order"])
@pytest.mark.parametrize("case", TRANSPOSED_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_both_product_orders_equal_module_09(monkeypatch, from_k, case):
    case = dict(case)
    monkeypatch.setattr(acceleration, "TRANSPOSED_FROM_K", from_k)
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal(case.pop("x")), rng.standard_normal(case.pop("w"))
    b = rng.standard_normal(w.shape[0]) if case.pop("bias", True) else None
    reference = conv2d_naive(x, w, b, **case)
    dy = rng.standard_normal(reference.shape)
    fast, plain = run(case, x, w, b, dy, True), run(case, x, w, b, dy, False)
    np.testing.assert_allclose(fast[0], reference, rtol=1e-10, atol=1e-10)
    for name, got, want in zip(("output", "dx", "dw", "db"), fast, plain):
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=name)
    xt = Tensor(x[:1], requires_grad=True)
    wt = Tensor(w, requires_grad=True)
    inputs = [xt, wt] + ([] if b is None else [Tensor(b, requires_grad=True)])
    assert gradcheck(lambda *t: conv2d(*t, **case), inputs)
