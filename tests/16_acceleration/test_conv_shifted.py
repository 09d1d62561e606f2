"""Module 16 choice 7: gemm_into is BLAS's C = A·B (+ C) on windows of arrays, and the shifted-matmul
convolution is taken exactly where it applies and gives module 09's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core import spatial
from tinytorch.core.spatial import Conv2d, conv2d_naive
from tinytorch.core.tensor import Tensor
from tinytorch.systems import acceleration
from tinytorch.systems.acceleration import (
    finished_images,
    gemm_available,
    gemm_into,
    shifted_layout,
    shifted_path,
    use_fused,
    window_products,
)

needs_blas = pytest.mark.skipif(not gemm_available(np.float32), reason="no OpenBLAS gemm found in this process")


def geometry(shape, kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1)):
    return spatial._geometry(shape, kernel, stride, padding, dilation, "test")


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a, transpose_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_into_is_a_product_and_accumulates(dtype, transpose_a, transpose_b):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 5) if transpose_a else (5, 7)).astype(dtype)
    b = rng.standard_normal((9, 7) if transpose_b else (7, 9)).astype(dtype)
    want = (a.T if transpose_a else a) @ (b.T if transpose_b else b)
    out = np.full((5, 9), 123.0, dtype=dtype)
    gemm_into(a, b, out, accumulate=False, transpose_a=transpose_a, transpose_b=transpose_b)
    np.testing.assert_allclose(out, want, rtol=1e-5)
    gemm_into(a, b, out, accumulate=True, transpose_a=transpose_a, transpose_b=transpose_b)
    np.testing.assert_allclose(out, 2 * want, rtol=1e-5)


@needs_blas
def test_gemm_into_reads_and_writes_windows_of_wider_arrays():
    """The point of choice 7: a window of columns is a matrix (its row stride is the leading dimension)."""
    rng = np.random.default_rng(1)
    wide = rng.standard_normal((4, 50)).astype(np.float32)
    weights = rng.standard_normal((3, 4)).astype(np.float32)
    target = np.zeros((3, 60), dtype=np.float32)
    gemm_into(weights, wide[:, 7:37], target[:, 11:41], accumulate=True)
    np.testing.assert_allclose(target[:, 11:41], weights @ wide[:, 7:37], rtol=1e-5)
    assert not target[:, :11].any() and not target[:, 41:].any(), "gemm_into wrote outside its window"


@needs_blas
@pytest.mark.parametrize("a, b, out, message", [
    (np.ones((2, 3)), np.ones((4, 2)), np.ones((2, 2)), "is not a matrix product"),
    (np.ones((2, 3)), np.ones((3, 2)), np.ones((2, 3)), "expected out of shape \\(2, 2\\)"),
    (np.ones((2, 3), np.float32), np.ones((3, 2)), np.ones((2, 2)), "one dtype"),
    (np.ones((2, 6))[:, ::2], np.ones((3, 2)), np.ones((2, 2)), "a must have contiguous rows"),
    (np.broadcast_to(np.ones(3), (2, 3)), np.ones((3, 2)), np.ones((2, 2)), "a must have contiguous rows"),
    (np.ones((2, 3)), np.ones((3, 2)), np.ones((2, 2, 1)), "out must be a 2-D NumPy array"),
    (np.ones((2, 3), np.float16), np.ones((3, 2), np.float16), np.ones((2, 2), np.float16), "no BLAS gemm for dtype"),
])
def test_gemm_into_refuses_what_blas_would_misread(a, b, out, message):
    with pytest.raises(ValueError, match=message):
        gemm_into(a, b, out, accumulate=False)


@needs_blas
def test_gemm_into_refuses_an_output_that_overlaps_an_operand():
    a = np.ones((3, 3))
    with pytest.raises(ValueError, match="out overlaps an operand"):
        gemm_into(a, np.ones((3, 3)), a, accumulate=True)


@needs_blas
@pytest.mark.parametrize("shape, kwargs, dtype, takes", [
    ((2, 16, 8, 8), dict(), np.float32, True),
    ((2, 16, 8, 8), dict(), np.float64, True),
    ((2, 16, 8, 8), dict(padding=(0, 0, 0, 0)), np.float32, True),
    ((2, 16, 8, 8), dict(dilation=(2, 2), padding=(2, 2, 2, 2)), np.float32, True),
    ((2, 3, 8, 8), dict(), np.float32, True),  # few channels: shifted, with cols
    ((2, 16, 8, 8), dict(stride=(2, 2)), np.float32, False),  # windows do not line up
    ((2, 16, 8, 8), dict(padding=(3, 3, 3, 3)), np.float32, False),  # the output overflows its image's rows
    ((2, 16, 8, 8), dict(), np.float16, False),  # no BLAS gemm for float16
])
def test_the_shifted_path_is_taken_exactly_where_it_applies(monkeypatch, shape, kwargs, dtype, takes):
    g = geometry(shape, **kwargs)
    assert (shifted_path(np.empty(shape, dtype), g, 1) is not None) == takes
    assert shifted_path(np.empty(shape, dtype), g, 2) is None  # grouped: never
    monkeypatch.setattr(acceleration, "SHIFTED_MATMULS", False)
    assert shifted_path(np.empty(shape, dtype), g, 1) is None  # switched off: never


def test_the_layout_shares_padding_between_images_and_rows():
    layout = shifted_layout(geometry((3, 16, 5, 4)), 3)
    assert (layout.rows, layout.width) == (6, 5)  # one shared zero row per image, one zero column per row
    assert layout.lead == 1 * 5 + 1 and layout.length == 3 * 6 * 5
    assert layout.offsets == tuple(i * 5 + j for i in range(3) for j in range(3))
    assert layout.total == layout.lead + layout.length + layout.offsets[-1]


@needs_blas
@pytest.mark.parametrize("c_in, c_out, size", [(3, 32, 32), (32, 32, 32), (64, 64, 16)])
def test_benchmark_sized_float32_convs_match_module_09(monkeypatch, c_in, c_out, size):
    """The benchmark's convs at batch 4, through Conv2d: shifted path taken (with cols for C = 3), float32 agrees."""
    calls = []
    forward = acceleration.shifted_conv_forward
    monkeypatch.setattr(acceleration, "shifted_conv_forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    rng = np.random.default_rng(2)
    layer = Conv2d(c_in, c_out, 3, padding=1)
    x = rng.standard_normal((4, c_in, size, size)).astype(np.float32)
    dy = Tensor(rng.standard_normal((4, c_out, size, size)).astype(np.float32))
    results = []
    for fused in (True, False):
        layer.zero_grad()
        xt = Tensor(x, requires_grad=True)
        with use_fused(fused):
            out = layer(xt)
            out.backward(dy)
        results.append((out.data, xt.grad.data, layer.weight.grad.data.copy(), layer.bias.grad.data.copy()))
    assert calls, f"Conv2d({c_in}, {c_out}, 3, padding=1) should take the shifted matmuls (once per pool thread)"
    np.testing.assert_allclose(results[0][0], conv2d_naive(x.astype(np.float64), layer.weight.data.astype(
        np.float64), layer.bias.data.astype(np.float64), padding=1), rtol=1e-4, atol=1e-4)
    for name, fast, plain in zip(("output", "dx", "dW", "db"), *results):
        assert fast.dtype == np.float32, name
        np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=2e-3, err_msg=name)


def test_without_a_blas_gemm_the_blocked_path_gives_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 16, 6, 5)), rng.standard_normal((4, 16, 3, 3))
    results = []
    for gemms in (dict(acceleration._GEMM), {}):
        monkeypatch.setattr(acceleration, "_GEMM", gemms)
        xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        out = spatial.conv2d(xt, wt, padding=1)
        out.backward(Tensor(np.cos(out.data)))
        results.append((out.data, xt.grad.data, wt.grad.data))
    assert shifted_path(x, geometry(x.shape), 1) is None
    for fast, blocked in zip(*results):
        np.testing.assert_allclose(fast, blocked, rtol=1e-10, atol=1e-10)


@needs_blas
@pytest.mark.parametrize("transpose_weights, accumulate_first", [(False, False), (True, True), (False, True)])
def test_window_products_adds_every_taps_product_into_its_window(monkeypatch, transpose_weights, accumulate_first):
    """window_products == a loop of gemm_into over taps, whatever its column blocks (here 256 at a time)."""
    monkeypatch.setattr(acceleration, "_WINDOW_BLOCK_BYTES", 1)  # the smallest block: 256 columns
    rng = np.random.default_rng(4)
    taps, m, k, length = 4, 3, 5, 700
    weights = rng.standard_normal((taps, k, m) if transpose_weights else (taps, m, k))
    source = rng.standard_normal((k, length + 40))
    source_offsets = (0, 13, 2, 40)
    out_offsets = (7, 0, 21, 3) if accumulate_first else (5,) * taps  # overwriting needs one window
    out = rng.standard_normal((m, length + 30))
    want = out.copy()
    for tap in range(taps):
        matrix = weights[tap].T if transpose_weights else weights[tap]
        product = matrix @ source[:, source_offsets[tap]:source_offsets[tap] + length]
        window = want[:, out_offsets[tap]:out_offsets[tap] + length]
        window[...] = product if tap == 0 and not accumulate_first else window + product
    window_products(weights, source, source_offsets, out, out_offsets, length, transpose_weights, accumulate_first)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


@needs_blas
@pytest.mark.parametrize("change, message", [
    (dict(weights=np.ones((2, 3))), "weights must be a \\(taps, rows, cols\\) array"),
    (dict(source_offsets=(0, 0, 0)), "one matrix per offset"),
    (dict(source=np.ones((4, 40))), "source must be a 2-D array with 5 contiguous rows"),
    (dict(source=np.ones((5, 80))[:, ::2]), "source must be a 2-D array with 5 contiguous rows"),
    (dict(out_offsets=(0, 25)), "out's windows .* do not fit in its 30 columns"),
    (dict(source_offsets=(-1, 0)), "source's windows"),
    (dict(out=np.ones((3, 30), np.float32)), "share one dtype"),
    (dict(out_offsets=(0, 1), accumulate_first=False), "accumulate_first=False every tap needs the same out offset"),
])
def test_window_products_refuses_what_blas_would_misread(change, message):
    arguments = dict(weights=np.ones((2, 3, 5)), source=np.ones((5, 40)), source_offsets=(0, 10), out=np.ones((3, 30)),
                     out_offsets=(0, 5), length=20, transpose_weights=False, accumulate_first=True)
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        window_products(**arguments)


@needs_blas
def test_window_products_refuses_an_output_that_overlaps_its_source():
    shared = np.ones((3, 40))
    with pytest.raises(ValueError, match="out overlaps an operand"):
        window_products(np.ones((1, 3, 3)), shared, (0,), shared, (10,), 5, False, False)


def test_finished_images_counts_whole_images_before_a_column():
    layout = shifted_layout(geometry((3, 16, 5, 4)), 3)  # rows 6, width 5, lead 6: image i ends at 30 i + 30
    counts = [finished_images(layout, 5, 4, 3, below) for below in (0, 29, 30, 59, 60, 90, 10**6)]
    assert counts == [0, 0, 1, 1, 2, 3, 3]


@needs_blas
@pytest.mark.parametrize("channels", [3, 16])  # cols below TAPS_FROM_CHANNELS, a product per tap from it
@pytest.mark.parametrize("padding, dilation", [((1, 1, 1, 1), (1, 1)), ((0, 2, 1, 0), (1, 1)), ((0, 0, 0, 0), (1, 1)),
                                               ((2, 2, 2, 2), (2, 2)), ((3, 0, 0, 3), (1, 1))])
def test_one_image_blocks_give_module_09s_numbers(monkeypatch, channels, padding, dilation):
    """Forward and backward go block by block (here one image per block, the most seams between blocks):
    dx is zeroed, summed and copied out image by image, and nothing is lost or counted twice at a seam."""
    monkeypatch.setattr(acceleration, "_BLOCK_BYTES", 1)
    monkeypatch.setattr(acceleration, "_WINDOW_BLOCK_BYTES", 1)
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((4, channels, 6, 7)), rng.standard_normal((5, channels, 3, 3)), rng.standard_normal(5)
    g = geometry(x.shape, padding=padding, dilation=dilation)
    layout = shifted_path(x, g, 1)
    assert layout is not None
    dy = rng.standard_normal((4, 5, g.oh, g.ow))
    flat = acceleration.shifted_input(x, layout)
    out = acceleration.shifted_conv_forward(flat, w, b, g, layout)
    dw, dx, db = acceleration.shifted_conv_backward(flat, w, dy, g, layout, True, True, need_bias=True)
    xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
    want = spatial.Conv2dFunction.apply(xt, wt, bt, g, 1)
    want.backward(Tensor(dy))
    for name, got, expected in (("output", out, want.data), ("dW", dw, wt.grad.data), ("dx", dx, xt.grad.data),
                                ("db", db, bt.grad.data)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=name)
