"""Module 01's transformer tools: masked_fill, where, tril/triu and split/chunk/unbind.

Values against PyTorch live in tensor_fixtures.npz (test_tensor_torch_parity.py); this file checks
what a fixture cannot: views, shared memory, recording, the GPT shapes, and bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import Tensor


def scores(*shape) -> Tensor:
    return Tensor(np.arange(np.prod(shape), dtype=np.float32).reshape(shape))


def test_causal_mask_on_a_batch_of_heads():
    """The GPT pattern: (B, H, T, T) scores, one (T, T) mask, -inf above the diagonal."""
    att = scores(2, 3, 4, 4)
    future = tt.tril(tt.ones(4, 4)) == 0
    masked = att.masked_fill(future, float("-inf"))
    assert masked.shape == (2, 3, 4, 4) and masked.dtype == np.float32
    assert np.isneginf(masked.data[..., 0, 1:]).all() and not np.isinf(masked.data[..., 3, :]).any()
    np.testing.assert_array_equal(masked.data[..., 2, :3], att.data[..., 2, :3])
    assert not np.shares_memory(masked.data, att.data), "masked_fill must not write into its input"


def test_masked_fill_with_a_mask_bigger_than_the_input_broadcasts_both():
    out = tt.zeros(3).masked_fill(Tensor(np.eye(3, dtype=bool)), 1.0)
    np.testing.assert_array_equal(out.data, np.eye(3))


def test_masked_fill_and_where_record_only_when_needed():
    w = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    mask = Tensor(np.array([True, False]))
    node = w.masked_fill(mask, 0.0)._ctx
    assert node.op == "masked_fill" and node.inputs[0] is w and node.saved["mask"] is mask.data
    assert tt.where(mask, w, 0.0)._ctx.op == "where"
    assert Tensor(np.ones(2)).masked_fill(mask, 0.0)._ctx is None


def test_where_broadcasts_all_three_and_promotes_like_arithmetic():
    out = tt.where(Tensor(np.array([[True], [False]])), Tensor([1.0, 2.0, 3.0]), -1.0)
    np.testing.assert_array_equal(out.data, [[1, 2, 3], [-1, -1, -1]])
    assert tt.where(Tensor([True]), Tensor(np.zeros(1, np.float64)), tt.zeros(1)).dtype == np.float64
    assert tt.where(Tensor([True, False]), 1, 0).dtype == np.int64
    assert tt.where(Tensor([True, False]), 1.0, 0).dtype == np.float32


def test_tril_triu_keep_complementary_triangles():
    x = scores(2, 3, 3)
    np.testing.assert_array_equal((x.tril() + x.triu(1)).data, x.data)
    np.testing.assert_array_equal(tt.triu(x, -1).data, np.triu(x.data, -1))
    assert x.tril().dtype == np.float32 and tt.tril(Tensor([[1, 2], [3, 4]])).dtype == np.int64


@pytest.mark.parametrize("make, shapes", [
    (lambda x: x.split(4, dim=1), [(2, 4), (2, 4), (2, 2)]),
    (lambda x: tt.split(x, [3, 0, 7], dim=-1), [(2, 3), (2, 0), (2, 7)]),
    (lambda x: x.split(10, dim=1), [(2, 10)]),
    (lambda x: x.split(1), [(1, 10), (1, 10)]),
    (lambda x: x.chunk(3, dim=1), [(2, 4), (2, 4), (2, 2)]),
    (lambda x: tt.chunk(x, 4, dim=1), [(2, 3), (2, 3), (2, 3), (2, 1)]),
    (lambda x: x.chunk(5), [(1, 10), (1, 10)]),
    (lambda x: x.unbind(), [(10,), (10,)]),
    (lambda x: tt.unbind(x, dim=-1), [(2,)] * 10),
])
def test_pieces_are_views_with_pytorchs_sizes(make, shapes):
    x = scores(2, 10)
    pieces = make(x)
    assert isinstance(pieces, tuple) and [p.shape for p in pieces] == shapes
    assert all(np.shares_memory(p.data, x.data) for p in pieces if p.numel())


def test_pieces_put_back_together_give_the_input():
    x = scores(3, 8)
    np.testing.assert_array_equal(tt.cat(list(x.split([2, 5, 1], dim=1)), dim=1).data, x.data)
    np.testing.assert_array_equal(tt.stack(list(x.unbind(1)), dim=1).data, x.data)
    q, k, v = scores(2, 5, 12).split(4, dim=-1)  # a fused qkv projection
    assert q.shape == k.shape == v.shape == (2, 5, 4)


def test_empty_dimension():
    assert [p.shape for p in tt.zeros(0).chunk(2)] == [(0,), (0,)]  # PyTorch gives 2 empty pieces
    assert [p.shape for p in tt.zeros(0, 3).split(2)] == [(0, 3)]
    assert tt.zeros(0, 3).unbind() == ()


def test_the_gpt_shape_ops_exist():
    """Batched matmul over (B, H, T, D), transpose(1, 2), contiguous().view and reshape."""
    B, T, H, D = 2, 5, 3, 4
    x = scores(B, T, H * D)
    heads = x.view(B, T, H, D).transpose(1, 2)                   # (B, H, T, D), a view
    assert heads.shape == (B, H, T, D) and np.shares_memory(heads.data, x.data)
    att = heads @ heads.transpose(-2, -1)                         # (B, H, T, T)
    assert att.shape == (B, H, T, T)
    merged = (att @ heads).transpose(1, 2).contiguous().view(B, T, H * D)
    np.testing.assert_allclose(merged.data, np.matmul(att.data, heads.data).transpose(0, 2, 1, 3).reshape(B, T, -1))
    with pytest.raises(ValueError, match="reshape"):
        (att @ heads).transpose(1, 2).view(B, T, H * D)         # not contiguous: view refuses


ERRORS = [
    (lambda: scores(2, 2).masked_fill(Tensor([1.0, 0.0]), 0.0), TypeError, r"masked_fill: mask must be a bool"),
    (lambda: scores(2, 2).masked_fill(np.ones(2, bool), 0.0), TypeError, r"mask must be a bool Tensor, got a ndarray"),
    (lambda: scores(2, 2).masked_fill(Tensor([True, False, True]), 0.0), ValueError, r"masked_fill: .*broadcast"),
    (lambda: scores(2, 2).masked_fill(Tensor([True, False]), Tensor([1.0, 2.0])), ValueError,
     r"masked_fill: value must be a number or a 0-d tensor"),
    (lambda: scores(2, 2).masked_fill(Tensor([True, False]), "x"), TypeError, r"masked_fill: value"),
    (lambda: Tensor([1, 2]).masked_fill(Tensor([True, False]), float("-inf")), ValueError, r"int64"),
    (lambda: tt.masked_fill([1.0], Tensor([True]), 0.0), TypeError, r"masked_fill: expected a Tensor"),
    (lambda: tt.where(Tensor([1, 0]), 1.0, 0.0), TypeError, r"where: condition must be a bool tensor"),
    (lambda: tt.where(Tensor([True]), Tensor([1.0]), None), TypeError, r"where: other must be a Tensor"),
    (lambda: tt.where(Tensor([True, False]), scores(3), 0.0), ValueError, r"where: .*broadcast"),
    (lambda: tt.tril(scores(3)), ValueError, r"tril: needs at least 2 dimensions.*\(3,\)"),
    (lambda: scores(3, 3).triu(0.5), TypeError, r"triu: diagonal must be an int"),
    (lambda: scores(2, 10).split([3, 3], dim=1), ValueError, r"split: the sizes \[3, 3\] add up to 6.*size 10"),
    (lambda: scores(2, 10).split(0, dim=1), ValueError, r"split: split_size must be a positive int"),
    (lambda: scores(2, 10).split(2.5), TypeError, r"split: split_size_or_sections must be an int"),
    (lambda: scores(2, 10).split([2, -1, 9], 1), TypeError, r"split: sections must be non-negative"),
    (lambda: scores(2, 10).split(2, dim=2), IndexError, r"split: dim 2 is out of range"),
    (lambda: scores(2, 10).chunk(0), ValueError, r"chunk: chunks must be a positive int"),
    (lambda: Tensor(1.0).unbind(), ValueError, r"unbind: a 0-d tensor has no dimension"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_input_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
