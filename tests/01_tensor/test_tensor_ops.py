"""Module 01: operation values against NumPy, dtype rules, and broadcasting on generated shapes."""

from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import Tensor

FAST = settings(max_examples=40, deadline=None)
RNG = np.random.default_rng(0)


def values(shape, dtype=np.float32, low=-3.0, high=3.0) -> np.ndarray:
    return RNG.uniform(low, high, shape).astype(dtype)


def check(got, want, rtol=1e-5, atol=1e-6):
    assert isinstance(got, Tensor), f"expected a Tensor, got {type(got).__name__}"
    want = np.asarray(want)
    assert got.shape == want.shape, f"expected shape {want.shape}, got {got.shape}"
    np.testing.assert_allclose(got.data, want, rtol=rtol, atol=atol, equal_nan=True)


# ----- elementwise binary operators ---------------------------------------------------------------
BINARY = [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul), ("div", operator.truediv)]


@pytest.mark.parametrize("name, op", BINARY, ids=[n for n, _ in BINARY])
def test_binary_matches_numpy_and_keeps_float32(name, op):
    a, b = values((3, 4)), values((3, 4), low=0.5, high=2.0)
    out = op(Tensor(a), Tensor(b))
    check(out, op(a, b))
    assert out.dtype == np.float32
    method = getattr(Tensor(a), name)(Tensor(b))
    check(method, op(a, b))


@pytest.mark.parametrize("name, op", BINARY, ids=[n for n, _ in BINARY])
@pytest.mark.parametrize("scalar", [2, 0.5, -1.5, True, np.float64(0.25), np.int32(3)])
def test_binary_with_python_and_numpy_scalars_both_sides(name, op, scalar):
    a = values((2, 3), low=0.5, high=2.0)
    left, right = op(Tensor(a), scalar), op(scalar, Tensor(a))
    check(left, op(a, np.float32(scalar)))
    check(right, op(np.float32(scalar), a))
    assert left.dtype == right.dtype == np.float32, "a number must not change a float32 tensor's dtype"


def test_ndarray_operands_on_either_side():
    a = values((2, 3))
    b = values((3,))
    check(Tensor(a) + b, a + b)
    check(b + Tensor(a), b + a)
    check(b - Tensor(a), b - a)
    assert isinstance(b * Tensor(a), Tensor)


def test_neg_and_pow():
    a = values((2, 3), low=0.5, high=2.0)
    check(-Tensor(a), -a)
    check(Tensor(a).neg(), -a)
    check(Tensor(a) ** 3, a ** 3)
    check(Tensor(a) ** -0.5, a ** -0.5)
    check(Tensor(a) ** Tensor(np.float32([1.0, 2.0, 0.5])), a ** np.float32([1.0, 2.0, 0.5]))
    check(2.0 ** Tensor(a), np.float32(2.0) ** a)
    check(Tensor(a).pow(2), a ** 2)
    check(abs(Tensor(-a)), a)


def test_division_edge_cases_follow_ieee_without_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(Tensor([1.0, -1.0, 0.0]) / 0.0, [np.inf, -np.inf, np.nan])
        check(Tensor([0.0]).log(), [-np.inf])
        check(Tensor([-1.0]).sqrt(), [np.nan])
        check(Tensor([-1.0]).log(), [np.nan])
        check(Tensor([0.0]) ** -1.0, [np.inf])
        check(Tensor([1000.0]).exp(), [np.inf])


# (left, right, operator, dtype PyTorch gives)
PROMOTIONS = [
    (lambda: Tensor([1, 2]), lambda: Tensor([0.5, 1.5]), operator.add, np.float32),
    (lambda: Tensor([1.0]), lambda: Tensor(np.array([1.0])), operator.add, np.float64),
    (lambda: Tensor([1, 2]), lambda: 0.5, operator.mul, np.float32),
    (lambda: Tensor([1, 2]), lambda: 3, operator.mul, np.int64),
    (lambda: Tensor([1, 2]), lambda: Tensor([2, 2]), operator.truediv, np.float32),
    (lambda: Tensor([1, 2]), lambda: 2, operator.truediv, np.float32),
    (lambda: Tensor([1.0], dtype=tt.float64), lambda: 2.5, operator.mul, np.float64),
    (lambda: Tensor([1.0], dtype=tt.float16), lambda: 2.5, operator.mul, np.float16),
    (lambda: Tensor([1.0]), lambda: Tensor(np.float64(2.0)), operator.add, np.float32),
    (lambda: Tensor([1, 2]), lambda: Tensor(np.float64(2.0)), operator.add, np.float64),
    (lambda: Tensor([True]), lambda: Tensor([True]), operator.add, np.bool_),
    (lambda: Tensor([True]), lambda: 2, operator.add, np.int64),
    (lambda: Tensor([1], dtype=tt.int32), lambda: Tensor([1]), operator.add, np.int64),
    (lambda: Tensor([1], dtype=tt.int32), lambda: 5, operator.add, np.int32),
    (lambda: Tensor([1], dtype=tt.uint8), lambda: Tensor([1], dtype=tt.int8), operator.add, np.int16),
    (lambda: Tensor([1, 2]), lambda: 2, operator.pow, np.int64),
    (lambda: Tensor([1, 2]), lambda: 0.5, operator.pow, np.float32),
    (lambda: Tensor([1, 2]), lambda: 1.5, operator.gt, np.bool_),
]


@pytest.mark.parametrize("left, right, op, dtype", PROMOTIONS)
def test_type_promotion_follows_pytorch(left, right, op, dtype):
    assert op(left(), right()).dtype == dtype


# ----- comparisons ----------------------------------------------------------------------------------
COMPARISONS = [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
               ("gt", operator.gt), ("ge", operator.ge)]


@pytest.mark.parametrize("name, op", COMPARISONS, ids=[n for n, _ in COMPARISONS])
def test_comparisons(name, op):
    a = np.float32([[1, 2, 3], [3, 2, 1]])
    b = np.float32([2, 2, 2])
    for got in (op(Tensor(a), Tensor(b)), getattr(Tensor(a), name)(Tensor(b))):
        assert got.dtype == np.bool_ and got.tolist() == op(a, b).tolist()
    assert op(Tensor(a), 2).tolist() == op(a, 2).tolist()
    assert op(Tensor(a), Tensor(a))._ctx is None


def test_equality_with_non_numbers_is_false_like_pytorch():
    x = Tensor([1.0])
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert (x == "a") is False


# ----- matmul ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape_a, shape_b", [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (6, 3, 4)), ((2, 1, 2, 3), (4, 3, 1)), ((3,), (2, 3, 4)),
    ((0, 3), (3, 2)),
])
def test_matmul_shapes_and_values(shape_a, shape_b):
    a, b = values(shape_a), values(shape_b)
    check(Tensor(a) @ Tensor(b), a @ b, rtol=1e-5, atol=1e-5)
    check(Tensor(a).matmul(Tensor(b)), a @ b, rtol=1e-5, atol=1e-5)


def test_matmul_with_ndarray_on_either_side():
    a, b = values((2, 3)), values((3, 2))
    check(Tensor(a) @ b, a @ b)
    check(a @ Tensor(b), a @ b)


@given(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3, max_side=4))
@FAST
def test_matmul_matches_numpy_on_generated_shapes(shapes):
    a, b = values(shapes.input_shapes[0]), values(shapes.input_shapes[1])
    check(Tensor(a) @ Tensor(b), np.matmul(a, b), rtol=1e-4, atol=1e-5)


# ----- broadcasting on generated shapes ------------------------------------------------------------
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, min_side=0, max_side=4),
       st.sampled_from(BINARY))
@FAST
def test_broadcasting_binary_ops(shapes, named_op):
    _, op = named_op
    a, b = values(shapes.input_shapes[0]), values(shapes.input_shapes[1], low=0.5, high=2.0)
    out = op(Tensor(a), Tensor(b))
    assert out.shape == shapes.result_shape
    check(out, op(a, b))
    assert tt.broadcast_shapes(*shapes.input_shapes) == np.broadcast_shapes(*shapes.input_shapes)


@given(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
       hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
@FAST
def test_broadcast_or_clear_error_on_arbitrary_shapes(shape_a, shape_b):
    a, b = Tensor(values(shape_a)), Tensor(values(shape_b))
    try:
        expected = np.broadcast_shapes(shape_a, shape_b)
    except ValueError:
        with pytest.raises(ValueError, match=r"add: shapes .* cannot be broadcast"):
            a + b
        with pytest.raises(ValueError, match="cannot be broadcast"):
            tt.broadcast_shapes(shape_a, shape_b)
    else:
        assert (a + b).shape == expected == tt.broadcast_shapes(shape_a, shape_b)


def test_broadcast_shapes_of_three_and_of_ints():
    assert tt.broadcast_shapes((2, 1, 1), (1, 3, 1), (4,)) == (2, 3, 4)
    assert tt.broadcast_shapes(3, (2, 1)) == (2, 3)
    assert tt.broadcast_shapes() == ()


# ----- reductions -----------------------------------------------------------------------------------
@st.composite
def reduction_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    dims = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    dim = None if not dims else (dims[0] - len(shape) if len(dims) == 1 else tuple(dims))
    return shape, dim, draw(st.booleans())


@given(reduction_cases())
@FAST
def test_reductions_match_numpy(case):
    shape, dim, keepdim = case
    a = values(shape)
    axis = None if dim is None else dim
    x = Tensor(a)
    check(x.sum(dim=dim, keepdim=keepdim), a.sum(axis=axis, keepdims=keepdim), rtol=1e-5, atol=1e-5)
    check(x.mean(dim=dim, keepdim=keepdim), a.mean(axis=axis, keepdims=keepdim), rtol=1e-5, atol=1e-5)
    check(x.var(dim=dim, keepdim=keepdim, correction=0), a.var(axis=axis, keepdims=keepdim),
          rtol=1e-4, atol=1e-5)
    if dim is None or isinstance(dim, int):
        check(x.max(dim=dim, keepdim=keepdim)[0] if dim is not None else x.max(),
              a.max(axis=axis, keepdims=keepdim if dim is not None else False))


@pytest.mark.parametrize("method", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_return_values_and_indices(method, dim, keepdim):
    a = values((3, 4))
    values_, indices = getattr(Tensor(a), method)(dim=dim, keepdim=keepdim)
    pick = np.argmax if method == "max" else np.argmin
    want_indices = pick(a, axis=dim, keepdims=keepdim)
    assert indices.dtype == np.int64 and indices.tolist() == want_indices.tolist()
    check(values_, getattr(a, method)(axis=dim, keepdims=keepdim))
    result = getattr(Tensor(a), method)(dim=dim)
    assert result.values is result[0] and result.indices is result[1]


def test_reductions_with_axis_alias_and_scalars():
    a = values((2, 3))
    check(Tensor(a).sum(axis=1), a.sum(axis=1))
    check(Tensor(a).mean(axis=0), a.mean(axis=0))
    check(Tensor(a).var(axis=0), a.var(axis=0, ddof=1), rtol=1e-5)
    s = Tensor(2.5)
    check(s.sum(), 2.5)
    check(s.sum(0), 2.5)
    check(s.max(), 2.5)
    assert s.max(dim=0).indices.item() == 0 and s.argmax(0).item() == 0


def test_sum_of_integers_and_bools_is_int64():
    assert Tensor([1, 2], dtype=tt.int8).sum().dtype == np.int64
    assert Tensor([100, 100], dtype=tt.uint8).sum().item() == 200
    assert Tensor([True, True, False]).sum().item() == 2


def test_var_std_correction_and_unbiased():
    a = values((4, 5))
    for correction in (0, 1, 2):
        check(Tensor(a).var(dim=1, correction=correction), a.var(axis=1, ddof=correction), rtol=1e-5)
        check(Tensor(a).std(dim=0, correction=correction), a.std(axis=0, ddof=correction), rtol=1e-5)
    check(Tensor(a).var(unbiased=False), a.var(), rtol=1e-5)
    check(Tensor(a).std(1, True, True), a.std(axis=1, ddof=1, keepdims=True), rtol=1e-5)
    with pytest.warns(RuntimeWarning, match="[Dd]egrees of freedom"):  # PyTorch warns too
        check(Tensor([1.0]).var(), np.nan)


def test_argmax_argmin():
    a = values((3, 4))
    assert Tensor(a).argmax().item() == a.argmax() and Tensor(a).argmin().item() == a.argmin()
    assert Tensor(a).argmax(dim=1).tolist() == a.argmax(axis=1).tolist()
    assert Tensor(a).argmin(dim=0, keepdim=True).shape == (1, 4)
    assert Tensor(a).argmax(keepdim=True).shape == (1, 1)
    assert Tensor([1.0, 3.0, 3.0]).argmax().item() == 1  # first of ties


# ----- elementwise math -----------------------------------------------------------------------------
UNARY = [("exp", np.exp, -3, 3), ("log", np.log, 0.1, 5), ("sqrt", np.sqrt, 0, 5), ("abs", np.abs, -3, 3)]


@pytest.mark.parametrize("name, ref, low, high", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_math(name, ref, low, high, dtype):
    a = values((3, 4), dtype=dtype, low=low, high=high)
    out = getattr(Tensor(a), name)()
    assert out.dtype == dtype
    check(out, ref(a), rtol=1e-6)


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (0.0, None), (None, 0.5), (2.0, -2.0)])
def test_clamp(low, high):
    a = values((3, 4))
    want = np.clip(a, low, high)  # min(max(a, low), high), so low > high gives high everywhere
    check(Tensor(a).clamp(low, high), want)
    check(Tensor(a).clamp(min=low, max=high), want)
    check(Tensor(a).clip(low, high), want)
    assert Tensor(a).clamp(low, high).dtype == np.float32


def test_clamp_dtypes():
    assert Tensor([-1, 2]).clamp(min=0).dtype == np.int64
    clamped = Tensor([-1, 2]).clamp(min=0.5)
    assert clamped.dtype == np.float32 and clamped.tolist() == [0.5, 2.0]
    assert Tensor([1.0], dtype=tt.float64).clamp(max=np.float32(0.5)).dtype == np.float64


# ----- shapes ---------------------------------------------------------------------------------------
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), st.data())
@FAST
def test_permute_and_reshape_match_numpy(shape, data):
    a = values(shape)
    order = data.draw(st.permutations(range(len(shape))))
    check(Tensor(a).permute(*order), np.transpose(a, order))
    check(Tensor(a).permute(order), np.transpose(a, order))
    check(Tensor(a).reshape(-1), a.reshape(-1))
    check(Tensor(a).permute(*order).reshape(a.size), np.transpose(a, order).reshape(-1))
    check(Tensor(a).flatten(), a.reshape(-1))


@pytest.mark.parametrize("shape, call, want", [
    ((2, 3, 4), lambda x: x.reshape(4, 6), (4, 6)),
    ((2, 3, 4), lambda x: x.reshape((-1, 4)), (6, 4)),
    ((2, 3, 4), lambda x: x.reshape([3, -1]), (3, 8)),
    ((1,), lambda x: x.reshape(()), ()),
    ((), lambda x: x.reshape(1, 1), (1, 1)),
    ((0, 3), lambda x: x.reshape(-1, 3), (0, 3)),
    ((2, 3, 4), lambda x: x.view(-1), (24,)),
    ((2, 3, 4), lambda x: x.transpose(0, 2), (4, 3, 2)),
    ((2, 3, 4), lambda x: x.transpose(-1, -2), (2, 4, 3)),
    ((3,), lambda x: x.transpose(0, -1), (3,)),
    ((2, 3, 4), lambda x: x.T, (4, 3, 2)),
    ((2, 3, 4), lambda x: x.flatten(1), (2, 12)),
    ((2, 3, 4), lambda x: x.flatten(0, -2), (6, 4)),
    ((), lambda x: x.flatten(), (1,)),
    ((1, 3, 1), lambda x: x.squeeze(), (3,)),
    ((1, 3, 1), lambda x: x.squeeze(0), (3, 1)),
    ((1, 3, 1), lambda x: x.squeeze(-1), (1, 3)),
    ((1, 3, 1), lambda x: x.squeeze(1), (1, 3, 1)),
    ((1, 3, 1), lambda x: x.squeeze((0, 2)), (3,)),
    ((3,), lambda x: x.unsqueeze(0), (1, 3)),
    ((3,), lambda x: x.unsqueeze(-1), (3, 1)),
    ((2, 3), lambda x: x.unsqueeze(1), (2, 1, 3)),
    ((3, 1), lambda x: x.expand(3, 4), (3, 4)),
    ((3, 1), lambda x: x.expand(2, -1, 4), (2, 3, 4)),
    ((3,), lambda x: x.expand((2, 3)), (2, 3)),
    ((1,), lambda x: x.expand(0), (0,)),
    ((2, 3), lambda x: x.contiguous(), (2, 3)),
])
def test_shape_operations(shape, call, want):
    a = values(shape)
    out = call(Tensor(a))
    assert out.shape == want
    if a.size and out.numel() == a.size:
        assert sorted(out.data.ravel().tolist()) == sorted(a.ravel().tolist())


def test_expand_and_transpose_values():
    a = values((3, 1))
    check(Tensor(a).expand(3, 4), np.broadcast_to(a, (3, 4)))
    b = values((2, 3, 4))
    check(Tensor(b).transpose(0, 2), np.swapaxes(b, 0, 2))
    check(Tensor(b).squeeze(), b)
    check(Tensor(b).unsqueeze(2), b[:, :, None])


# ----- indexing -------------------------------------------------------------------------------------
INDICES = [
    lambda t: 1, lambda t: -1, lambda t: (1, 2), lambda t: slice(1, 3), lambda t: (slice(None), 1),
    lambda t: (Ellipsis, 0), lambda t: None, lambda t: (slice(None), None), lambda t: slice(None, None, 2),
    lambda t: [0, 2], lambda t: ([0, 1], [2, 3]), lambda t: t(np.array([2, 0])),
    lambda t: t(np.array([[0, 1], [1, 2]])), lambda t: (t(np.array([0, 2])), slice(1, 3)),
    lambda t: t(np.array([True, False, True])), lambda t: np.array([1, 1]),
]


@pytest.mark.parametrize("make_index", INDICES)
def test_indexing_matches_numpy(make_index):
    a = values((3, 4))
    got = Tensor(a)[make_index(Tensor)]
    check(got, a[make_index(np.asarray)])


def test_bool_mask_from_a_comparison():
    a = values((3, 4))
    x = Tensor(a)
    check(x[x > 0], a[a > 0])


# ----- cat and stack --------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_cat_and_stack_match_numpy(dim):
    parts = [values((2, 3, 4)) for _ in range(3)]
    tensors = [Tensor(p) for p in parts]
    check(tt.cat(tensors, dim=dim), np.concatenate(parts, axis=dim))
    check(tt.cat(tuple(tensors), dim), np.concatenate(parts, axis=dim))
    check(tt.stack(tensors, dim=dim), np.stack(parts, axis=dim))
    check(tt.stack(tensors, dim=3), np.stack(parts, axis=3))


def test_cat_with_different_sizes_along_dim_and_single_tensor():
    a, b = values((2, 3)), values((2, 5))
    check(tt.cat([Tensor(a), Tensor(b)], dim=1), np.concatenate([a, b], axis=1))
    check(tt.cat([Tensor(a)]), a)
    check(tt.stack([Tensor(1.0), Tensor(2.0)]), [1.0, 2.0])
    assert tt.cat([Tensor([1, 2]), Tensor([0.5])]).dtype == np.float32
