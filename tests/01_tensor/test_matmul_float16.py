"""float16 matmul: multiplied in float32 and rounded once (PyTorch's CPU rule), float16 out, gradients too.

(How much faster than NumPy's float16 loop: benchmarks/memory_tradeoffs.py, never a timed test.)"""

from __future__ import annotations

import numpy as np
import pytest
from support import needs_autograd

import tinytorch as tt
from tinytorch.core.tensor import matmul_arrays


@pytest.mark.parametrize("shapes", [((5,), (5,)), ((3, 5), (5,)), ((5,), (5, 4)), ((3, 5), (5, 4)),
                                    ((2, 3, 5), (5, 4)), ((2, 1, 3, 5), (4, 5, 2))])
def test_float16_products_are_float32_products_rounded_once(shapes):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(shape).astype(np.float16) for shape in shapes)
    want = np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.float16)
    got = (tt.tensor(a) @ tt.tensor(b)).data
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, want)


def test_out_keeps_its_dtype_and_other_dtypes_are_untouched():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((4, 6)).astype(np.float16), rng.standard_normal((6, 3)).astype(np.float16)
    out = np.empty((4, 3), dtype=np.float16)
    assert matmul_arrays(a, b, out=out) is out
    np.testing.assert_array_equal(out, matmul_arrays(a, b))
    for dtype in (np.float32, np.float64, np.int64):
        x, y = a.astype(dtype), b.astype(dtype)
        np.testing.assert_array_equal(matmul_arrays(x, y), np.matmul(x, y))
        assert matmul_arrays(x, y).dtype == np.matmul(x, y).dtype
    mixed = matmul_arrays(a, b.astype(np.float32))  # NumPy promotes to float32 (a BLAS product)
    assert mixed.dtype == np.float32
    np.testing.assert_array_equal(mixed, np.matmul(a, b.astype(np.float32)))


@needs_autograd
def test_float16_gradients_are_float16_and_match_float32():
    rng = np.random.default_rng(3)
    a16, b16 = rng.standard_normal((8, 16)).astype(np.float16), rng.standard_normal((16, 4)).astype(np.float16)
    a, b = tt.tensor(a16, requires_grad=True), tt.tensor(b16, requires_grad=True)
    (a @ b).sum().backward()
    a32, b32 = tt.tensor(a16.astype(np.float32), requires_grad=True), tt.tensor(b16.astype(np.float32),
                                                                                 requires_grad=True)
    (a32 @ b32).sum().backward()
    assert a.grad.dtype == np.float16 and b.grad.dtype == np.float16
    np.testing.assert_array_equal(a.grad.data, a32.grad.data.astype(np.float16))
    np.testing.assert_array_equal(b.grad.data, b32.grad.data.astype(np.float16))
