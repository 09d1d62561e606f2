"""Module 01: making tensors, their dtypes, properties and conversions."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import Tensor

# (data, dtype PyTorch's torch.tensor infers)
INFERRED_DTYPES = [
    ([1.5, 2.0], np.float32),
    ([1, 2], np.int64),
    ([True, False], np.bool_),
    ([1, 2.5], np.float32),
    ([[1, 2], [3, 4]], np.int64),
    ([], np.float32),
    (3.0, np.float32),
    (3, np.int64),
    (True, np.bool_),
    (range(3), np.int64),
    ((1.0, 2.0), np.float32),
    (np.zeros(2), np.float64),
    (np.zeros(2, dtype=np.float32), np.float32),
    (np.zeros(2, dtype=np.int32), np.int32),
    (np.zeros(2, dtype=np.uint8), np.uint8),
    (np.float64(2.0), np.float64),
    (np.int32(2), np.int32),
]


@pytest.mark.parametrize("data, dtype", INFERRED_DTYPES, ids=[repr(d) for d, _ in INFERRED_DTYPES])
@pytest.mark.parametrize("make", [Tensor, tt.tensor], ids=["Tensor", "tensor"])
def test_inferred_dtype(make, data, dtype):
    assert make(data).dtype == dtype


@pytest.mark.parametrize("dtype", [tt.float16, tt.float32, tt.float64, tt.int8, tt.int32, tt.int64,
                                   tt.uint8, tt.bool_, "float32", np.dtype("int64"), float, int, bool])
def test_explicit_dtype(dtype):
    assert Tensor([1, 0], dtype=dtype).dtype == np.dtype(dtype)


def test_explicit_float64_keeps_precision():
    assert Tensor([0.1], dtype=tt.float64).data[0] == 0.1
    assert tt.tensor([0.1, 1 / 3], dtype="float64").tolist() == [0.1, 1 / 3]


def test_tensor_shares_ndarray_but_tensor_function_copies():
    array = np.arange(4, dtype=np.float32)
    assert Tensor(array).data is array
    assert np.shares_memory(Tensor(Tensor(array)).data, array)
    copied = tt.tensor(array)
    assert not np.shares_memory(copied.data, array)
    array[0] = 100
    assert copied.data[0] == 0


def test_new_tensor_is_a_leaf_without_grad():
    t = Tensor([1.0, 2.0])
    assert (t.requires_grad, t.grad, t._ctx, t.is_leaf, t.grad_fn) == (False, None, None, True, None)
    r = Tensor([1.0], requires_grad=True)
    assert r.requires_grad and r.is_leaf and r.requires_grad_(False) is r and not r.requires_grad


@pytest.mark.parametrize("make, shape, dtype, value", [
    (lambda: tt.zeros(2, 3), (2, 3), np.float32, 0),
    (lambda: tt.zeros((2, 3)), (2, 3), np.float32, 0),
    (lambda: tt.zeros([4]), (4,), np.float32, 0),
    (lambda: tt.zeros(), (), np.float32, 0),
    (lambda: tt.zeros(0, 3), (0, 3), np.float32, 0),
    (lambda: tt.zeros(2, dtype=tt.int64), (2,), np.int64, 0),
    (lambda: tt.ones(3), (3,), np.float32, 1),
    (lambda: tt.ones(2, 2, dtype=tt.bool_), (2, 2), np.bool_, True),
    (lambda: tt.full((2, 2), 7), (2, 2), np.int64, 7),
    (lambda: tt.full((2,), 2.5), (2,), np.float32, 2.5),
    (lambda: tt.full((2,), True), (2,), np.bool_, True),
    (lambda: tt.full(3, 1.0, dtype=tt.float64), (3,), np.float64, 1.0),
    (lambda: tt.zeros_like(Tensor([[1, 2]])), (1, 2), np.int64, 0),
    (lambda: tt.ones_like(Tensor([1.0]), dtype=tt.float64), (1,), np.float64, 1),
])
def test_filled_constructors(make, shape, dtype, value):
    t = make()
    assert (t.shape, t.dtype) == (shape, dtype)
    assert np.all(t.data == value)


@pytest.mark.parametrize("make, want, dtype", [
    (lambda: tt.arange(5), [0, 1, 2, 3, 4], np.int64),
    (lambda: tt.arange(2, 8, 2), [2, 4, 6], np.int64),
    (lambda: tt.arange(5, 0, -2), [5, 3, 1], np.int64),
    (lambda: tt.arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75], np.float32),
    (lambda: tt.arange(3, dtype=tt.float64), [0, 1, 2], np.float64),
    (lambda: tt.arange(2, 2), [], np.int64),
    (lambda: tt.eye(2), [[1, 0], [0, 1]], np.float32),
    (lambda: tt.eye(2, 3, dtype=tt.int64), [[1, 0, 0], [0, 1, 0]], np.int64),
])
def test_ranges_and_eye(make, want, dtype):
    t = make()
    assert t.dtype == dtype
    np.testing.assert_allclose(t.data, np.array(want, dtype=dtype).reshape(t.shape))
    assert t.shape == np.array(want).shape


def test_random_tensors_are_seeded_float32_and_in_range():
    tt.manual_seed(7)
    a, b = tt.rand(1000), tt.randn(2, 3)
    tt.manual_seed(7)
    assert tt.rand(1000).tolist() == a.tolist() and tt.randn(2, 3).tolist() == b.tolist()
    assert a.dtype == np.float32 and b.dtype == np.float32 and b.shape == (2, 3)
    assert 0 <= a.data.min() and a.data.max() < 1
    assert tt.randn((3,), dtype=tt.float64).dtype == np.float64
    big = tt.randn(20000)
    assert abs(big.data.mean()) < 0.05 and abs(big.data.std() - 1) < 0.05
    generator = np.random.default_rng(3)
    assert tt.rand(2, generator=generator).shape == (2,)
    assert tt.manual_seed(1) is tt.default_generator()
    assert tt.rand(2, requires_grad=True).requires_grad


def test_properties():
    x = Tensor(np.zeros((2, 3, 4), dtype=np.float32))
    assert (x.shape, x.ndim, x.dim(), x.size(), x.size(1), x.size(-1)) == ((2, 3, 4), 3, 3, (2, 3, 4), 3, 4)
    assert (x.numel(), x.nbytes, x.stride(), x.stride(0)) == (24, 96, (12, 4, 1), 12)
    assert x.is_contiguous() and not x.T.is_contiguous()
    assert x.T.shape == (4, 3, 2)
    assert Tensor(5.0).shape == () and Tensor(5.0).numel() == 1 and Tensor([]).numel() == 0


def test_python_conversions():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.numpy() is x.data
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert Tensor([2.5]).item() == 2.5 and type(Tensor([2.5]).item()) is float
    assert type(Tensor(3).item()) is int and type(Tensor(True).item()) is bool
    assert float(Tensor(1.5)) == 1.5 and int(Tensor([7])) == 7
    assert len(x) == 2 and [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]
    assert bool(Tensor([1.0])) and not bool(Tensor(0.0))
    assert f"{Tensor(1 / 3):.3f}" == "0.333" and f"{x}" == str(x)
    assert np.asarray(x).dtype == np.float32 and np.array(x, dtype=np.float64).dtype == np.float64
    assert Tensor([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])]).shape == (2, 2)
    assert x.any().item() and x.all().item() and not Tensor([0.0, 1.0]).all().item()


@pytest.mark.parametrize("method, dtype", [("float", np.float32), ("double", np.float64), ("long", np.int64)])
def test_dtype_conversion_methods(method, dtype):
    x = Tensor([1.7, -2.7])
    converted = getattr(x, method)()
    assert converted.dtype == dtype
    np.testing.assert_allclose(converted.data, x.data.astype(dtype))
    assert getattr(converted, method)() is converted  # already that dtype: the same tensor


def test_to():
    x = Tensor([1, 2])
    assert x.to(tt.float32).dtype == np.float32 and x.to("float64").dtype == np.float64
    assert x.to("cpu") is x and x.to(tt.int64) is x


def test_repr():
    assert repr(Tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(Tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=float64" in repr(Tensor(np.zeros(2)))
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))


def test_detach_shares_data_and_drops_the_graph():
    w = Tensor([1.0, 2.0], requires_grad=True)
    d = w.detach()
    assert d.data is w.data and not d.requires_grad and d._ctx is None


def test_hash_is_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2 and a in {a}
