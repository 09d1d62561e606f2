"""Module 16 Part II: the fast max pool (winner stored in forward) equals module 09's MaxPool2dFunction
(values and gradients, ties included), passes float64 gradcheck, and is wired into max_pool2d and
MaxPool2d through accelerated() with module 09's path for every geometry it does not cover."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core import spatial
from tinytorch.core.autograd import gradcheck
from tinytorch.core.optimizers import accelerated
from tinytorch.core.spatial import MaxPool2d, MaxPool2dFunction, max_pool2d
from tinytorch.core.tensor import Tensor
from tinytorch.systems import acceleration
from tinytorch.systems.acceleration import FastMaxPool2dFunction, pool_tiles, use_fused


def geometry(shape, kernel, stride=None, padding=(0, 0, 0, 0), dilation=(1, 1)):
    return spatial._geometry(shape, kernel, kernel if stride is None else stride, padding, dilation, "test")


def run(x, dy, fused: bool, **config):
    """(output, dx) of max_pool2d on one path."""
    xt = Tensor(x, requires_grad=True)
    with use_fused(fused):
        out = max_pool2d(xt, **config)
        out.backward(Tensor(dy))
    return out.data, xt.grad.data


TILED = [((2, 3, 8, 8), 2), ((1, 2, 6, 9), (3, 3)), ((3, 1, 4, 6), (2, 3)), ((2, 2, 5, 4), (5, 1)), ((1, 1, 3, 3), 1)]


@pytest.mark.parametrize("shape,kernel", TILED)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "relu-ties"])
def test_fast_pool_equals_module_09_values_and_gradients(shape, kernel, ties):
    rng = np.random.default_rng(len(shape) + shape[2] * 7 + ties)
    x = rng.standard_normal(shape)
    if ties:  # a ReLU's output: many windows hold several equal zeros, and module 09 picks the first
        x = np.maximum(x, 0)
        x[..., ::2] = np.round(x[..., ::2])
    g = geometry(shape, spatial._pair(kernel, "kernel", "test"))
    assert pool_tiles(g)
    dy = rng.standard_normal((shape[0], shape[1], g.oh, g.ow))
    fast, plain = run(x, dy, True, kernel_size=kernel), run(x, dy, False, kernel_size=kernel)
    for name, got, want in zip(("output", "dx"), fast, plain):
        np.testing.assert_array_equal(got, want, err_msg=f"{name} for kernel {kernel}, ties={ties}")
    direct = FastMaxPool2dFunction.apply(Tensor(x), g)  # and the package call did take the fast kernel
    np.testing.assert_array_equal(direct.data, fast[0])


@pytest.mark.parametrize("shape,kernel", TILED[:3])
def test_fast_pool_float64_gradcheck(shape, kernel):
    rng = np.random.default_rng(11)
    x = Tensor(rng.standard_normal((1,) + shape[1:]), requires_grad=True)
    g = geometry(tuple(x.shape), spatial._pair(kernel, "kernel", "test"))
    assert gradcheck(lambda t: FastMaxPool2dFunction.apply(t, g), [x])


@pytest.mark.parametrize("config", [
    dict(kernel_size=2, stride=1),  # overlapping windows
    dict(kernel_size=2, padding=1),  # padded
    dict(kernel_size=2, dilation=2),  # dilated
    dict(kernel_size=3),  # 7 is not a multiple of 3: a leftover row and column
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_other_geometries_take_module_09s_path(config):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 7))
    kernel = spatial._pair(config["kernel_size"], "kernel", "test")
    stride = spatial._pair(config.get("stride", config["kernel_size"]), "stride", "test")
    pad = config.get("padding", 0)
    dilation = spatial._pair(config.get("dilation", 1), "dilation", "test")
    g = geometry(x.shape, kernel, stride, (pad,) * 4, dilation)
    assert not pool_tiles(g)
    assert accelerated("fast_max_pool2d", Tensor(x), g) is NotImplemented
    out = max_pool2d(Tensor(x), **config)
    dy = rng.standard_normal(out.shape)
    for got, want in zip(run(x, dy, True, **config), run(x, dy, False, **config)):
        np.testing.assert_array_equal(got, want)


def test_layer_unbatched_and_float32():
    rng = np.random.default_rng(5)
    layer = MaxPool2d(2)
    x = Tensor(np.maximum(rng.standard_normal((4, 6, 6)), 0).astype(np.float32), requires_grad=True)
    out = layer(x)
    assert out.shape == (4, 3, 3) and out.dtype == np.float32
    out.sum().backward()
    with use_fused(False):
        x2 = Tensor(x.data, requires_grad=True)
        plain = layer(x2)
        plain.sum().backward()
    np.testing.assert_array_equal(out.data, plain.data)
    np.testing.assert_array_equal(x.grad.data, x2.grad.data)


def test_a_stubbed_pool_kernel_falls_back_to_module_09(monkeypatch):
    """A student release: the block kernel raises NotImplementedError, max_pool2d still works (module 09's)."""
    calls = []

    def stub(x, g, out, winner):
        calls.append(g)
        raise NotImplementedError("max_pool_block is not implemented yet, see modules/16_acceleration")

    monkeypatch.setattr(acceleration, "max_pool_block", stub)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 4, 4))
    xt = Tensor(x, requires_grad=True)
    out = MaxPool2d(2)(xt)
    assert calls, "MaxPool2d should have asked module 16's kernel first (once per pool thread)"
    g = geometry(x.shape, (2, 2))
    np.testing.assert_array_equal(out.data, MaxPool2dFunction.apply(Tensor(x), g).data)
    out.sum().backward()
    assert xt.grad.shape == xt.shape


@pytest.mark.parametrize("budget", [1, 1 << 10, 1 << 40])
def test_the_block_size_does_not_change_the_result(monkeypatch, budget):
    """One image per block, a few, or the whole batch: the same values and gradients as module 09."""
    monkeypatch.setattr(acceleration, "_BLOCK_BYTES", budget)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((9, 3, 6, 8))
    dy = rng.standard_normal((9, 3, 3, 4))
    g = geometry(x.shape, (2, 2))
    xt = Tensor(x, requires_grad=True)
    out = FastMaxPool2dFunction.apply(xt, g)
    out.backward(Tensor(dy))
    reference = Tensor(x, requires_grad=True)
    want = MaxPool2dFunction.apply(reference, g)
    want.backward(Tensor(dy))
    np.testing.assert_array_equal(out.data, want.data)
    np.testing.assert_array_equal(xt.grad.data, reference.grad.data)
