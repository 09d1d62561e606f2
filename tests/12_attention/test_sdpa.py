"""Module 12: scaled_dot_product_attention — the fused Function against the composed reference and a
plain per-query loop, float64 gradcheck for every mask kind, fully masked rows, dropout, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import needs_autograd

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.text.attention import (
    ScaledDotProductAttention,
    causal_mask,
    scaled_dot_product_attention,
    scaled_dot_product_attention_reference,
)

rng = np.random.default_rng(12)


def per_query(q, k, v, allowed=None, bias=None, scale=None):
    """Attention one query row at a time, straight from the formula (float64, no tricks)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    out = np.zeros(lead + (q.shape[-2], v.shape[-1]))
    for index in np.ndindex(*lead):
        qi, ki, vi = (np.broadcast_to(a, lead + a.shape[-2:])[index] for a in (q, k, v))
        for row in range(qi.shape[0]):
            logits = [float(qi[row] @ ki[j]) * scale for j in range(ki.shape[0])]
            if bias is not None:
                b = np.broadcast_to(bias, lead + (qi.shape[0], ki.shape[0]))[index][row]
                logits = [s + b[j] for j, s in enumerate(logits)]
            if allowed is not None:
                a = np.broadcast_to(allowed, lead + (qi.shape[0], ki.shape[0]))[index][row]
                logits = [s if a[j] else -math.inf for j, s in enumerate(logits)]
            top = max(logits)
            if top == -math.inf:
                continue  # nothing to attend to: a zero row
            weights = [math.exp(s - top) for s in logits]
            out[index][row] = sum(w * vi[j] for j, w in enumerate(weights)) / sum(weights)
    return out


def tensors(*shapes, grad=False, dtype=np.float64):
    return [Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=grad) for shape in shapes]


SHAPES = [((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)), ((4, 3), (4, 3), (4, 3)), ((2, 5, 4), (2, 3, 4), (2, 3, 7)),
          ((2, 1, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4))]


@pytest.mark.parametrize("shapes", SHAPES)
def test_no_mask_matches_the_loop(shapes):
    q, k, v = tensors(*shapes)
    out = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(out.data, per_query(q.data, k.data, v.data), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["bool", "bool_batch", "float", "float_heads", "causal", "causal_wide",
                                  "causal_tall", "scale"])
def test_masks_match_the_loop_and_the_reference(kind):
    lq, ls = {"causal_wide": (3, 6), "causal_tall": (6, 3)}.get(kind, (4, 5))
    q, k, v = tensors((2, 3, lq, 4), (2, 3, ls, 4), (2, 3, ls, 3))
    kwargs, allowed, bias, scale = {}, None, None, None
    if kind == "bool":
        allowed = rng.random((lq, ls)) > 0.3
        kwargs["attn_mask"] = Tensor(allowed)
    elif kind == "bool_batch":
        allowed = rng.random((2, 1, lq, ls)) > 0.3
        kwargs["attn_mask"] = Tensor(allowed)
    elif kind == "float":
        bias = rng.standard_normal((lq, ls))
        kwargs["attn_mask"] = Tensor(bias)
    elif kind == "float_heads":
        bias = rng.standard_normal((3, 1, ls))
        kwargs["attn_mask"] = Tensor(bias)
    elif kind.startswith("causal"):
        allowed = np.tril(np.ones((lq, ls), dtype=bool))
        kwargs["is_causal"] = True
    else:
        scale = 0.21
        kwargs["scale"] = scale
    fast = scaled_dot_product_attention(q, k, v, **kwargs)
    np.testing.assert_allclose(fast.data, per_query(q.data, k.data, v.data, allowed, bias, scale), rtol=1e-10,
                               atol=1e-12)
    slow = scaled_dot_product_attention_reference(q, k, v, **kwargs)
    np.testing.assert_allclose(fast.data, slow.data, rtol=1e-10, atol=1e-12)


def test_causal_mask_is_top_left_aligned():
    assert causal_mask(2, 4).tolist() == [[True, False, False, False], [True, True, False, False]]
    assert causal_mask(3).tolist() == np.tril(np.ones((3, 3), dtype=bool)).tolist()


def test_float32_in_float32_out():
    q, k, v = tensors((2, 4, 8), (2, 4, 8), (2, 4, 8), dtype=np.float32)
    out = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, scaled_dot_product_attention_reference(q, k, v, is_causal=True).data,
                               rtol=1e-5, atol=1e-6)


def test_one_recorded_node():
    q, k, v = tensors((2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), grad=True)
    out = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out._ctx.op is ScaledDotProductAttention, "forward and backward live in one Function"
    assert all(t._ctx is None for t in out._ctx.inputs), "inputs straight from the leaves: no other op recorded"


GRAD_CASES = {
    "none": {},
    "bool": {"attn_mask": Tensor(rng.random((3, 4)) > 0.4)},
    "bool_broadcast": {"attn_mask": Tensor(rng.random((2, 1, 1, 4)) > 0.3)},
    "float": {"attn_mask": Tensor(rng.standard_normal((3, 4)))},
    "float_broadcast": {"attn_mask": Tensor(rng.standard_normal((2, 1, 3, 1)))},
    "causal": {"is_causal": True},
    "scale": {"scale": 0.6},
    "causal_scale": {"is_causal": True, "scale": 2.0},
}


@needs_autograd
@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradcheck(name):
    q, k, v = tensors((2, 2, 3, 4), (2, 2, 4, 4), (2, 2, 4, 3), grad=True)
    kwargs = GRAD_CASES[name]
    assert gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, **kwargs), (q, k, v))


@needs_autograd
def test_gradcheck_float_mask_and_broadcast_batches():
    q, k, v = tensors((2, 1, 3, 2), (1, 2, 4, 2), (1, 2, 4, 3), grad=True)
    mask = Tensor(rng.standard_normal((1, 3, 4)), requires_grad=True)
    assert gradcheck(lambda q, k, v, m: scaled_dot_product_attention(q, k, v, attn_mask=m), (q, k, v, mask))


@needs_autograd
def test_gradients_match_the_reference():
    q, k, v = tensors((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 2), grad=True, dtype=np.float32)
    grad = Tensor(rng.standard_normal((2, 3, 5, 2)).astype(np.float32))
    scaled_dot_product_attention(q, k, v, is_causal=True).backward(grad)
    fused = [t.grad.data for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    scaled_dot_product_attention_reference(q, k, v, is_causal=True).backward(grad)
    for got, want in zip(fused, (t.grad.data for t in (q, k, v))):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@needs_autograd
def test_fully_masked_rows_give_zero_output_and_zero_gradient():
    q, k, v = tensors((2, 4, 3), (2, 5, 3), (2, 5, 3), grad=True)
    allowed = rng.random((4, 5)) > 0.3
    allowed[2] = False
    for mask in (Tensor(allowed), Tensor(np.where(allowed, 0.0, -np.inf))):
        for t in (q, k, v):
            t.grad = None
        out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert not np.isnan(out.data).any() and not out.data[:, 2].any()
        out.backward(Tensor(np.ones(out.shape)))
        assert not q.grad.data[:, 2].any() and not np.isnan(k.grad.data).any()
    # the composed reference gives nan there (softmax of -infs), which is why the fused one handles it
    with np.errstate(invalid="ignore"):
        composed = scaled_dot_product_attention_reference(q, k, v, attn_mask=Tensor(allowed))
    assert np.isnan(composed.data[:, 2]).all()
    assert gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=Tensor(allowed)), (q, k, v))


def test_large_scores_stay_finite():
    q = Tensor(np.full((1, 2, 4), 30.0, dtype=np.float32))
    k = Tensor(np.array([[[30.0] * 4, [-30.0] * 4]], dtype=np.float32))
    v = Tensor(np.array([[[1.0, 0], [0, 1.0]]], dtype=np.float32))
    out = scaled_dot_product_attention(q, k, v, scale=1.0)  # scores of 3600: exp would overflow
    np.testing.assert_allclose(out.data, [[[1, 0], [1, 0]]])


def test_dropout_uses_the_package_generator():
    q, k, v = tensors((2, 2, 6, 4), (2, 2, 6, 4), (2, 2, 6, 4), dtype=np.float32)
    manual_seed(5)
    first = scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    manual_seed(5)
    again = scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    manual_seed(5)
    composed = scaled_dot_product_attention_reference(q, k, v, dropout_p=0.5).data
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, composed, rtol=1e-5, atol=1e-6)
    assert not np.allclose(first, scaled_dot_product_attention(q, k, v).data), "dropout changes the result"
    dropped = scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    assert not dropped.data.any(), "p=1 drops every weight"


def test_dropout_statistics():
    q, k = (Tensor(np.zeros((1, 200, 4), dtype=np.float32)) for _ in range(2))
    v = Tensor(np.ones((1, 200, 1), dtype=np.float32))
    manual_seed(0)
    out = scaled_dot_product_attention(q, k, v, dropout_p=0.25).data  # uniform weights 1/200, each kept w.p. 0.75
    assert abs(out.mean() - 1) < 0.02, "kept weights are scaled by 1/(1-p): the expected output is unchanged"


@needs_autograd
def test_dropout_gradcheck():
    q, k, v = tensors((2, 3, 4), (2, 4, 4), (2, 4, 2), grad=True)

    def attend(q, k, v):
        manual_seed(7)  # the same dropout mask on every evaluation
        return scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    assert gradcheck(attend, (q, k, v))


@pytest.mark.parametrize("call, error, words", [
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=Tensor(np.ones((3, 5), bool))), ValueError,
     ["attn_mask of shape (3, 5)", "L=4, S=6"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=Tensor(np.ones((3, 2, 4, 6), bool))),
     ValueError, ["attn_mask of shape (3, 2, 4, 6)"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=Tensor(np.ones((4, 6), np.int64))), TypeError,
     ["attn_mask must be bool", "int64"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=Tensor(np.ones((4, 6), np.float32))),
     TypeError, ["attn_mask must be bool", "float32"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 6), bool)), TypeError,
     ["attn_mask must be a Tensor"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=Tensor(np.ones((4, 6), bool)), is_causal=True),
     ValueError, ["either attn_mask or is_causal"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k[..., :3], v), ValueError, ["same feature size E"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v[:, :5]), ValueError, ["same length S"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k.float(), v), TypeError, ["one dtype"]),
    (lambda q, k, v: scaled_dot_product_attention(q.long(), k, v), TypeError, ["query must be floating point"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v[0, 0]), ValueError, ["value must have at least 2"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k[:1].expand(1, 6, 5).reshape(1, 6, 5), v), ValueError, []),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, dropout_p=1.5), ValueError, ["dropout probability"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, scale="big"), TypeError, ["scale must be a number"]),
    (lambda q, k, v: scaled_dot_product_attention(q.data, k, v), TypeError, ["query must be a Tensor"]),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=1), TypeError, ["is_causal must be True"]),
])
def test_bad_input(call, error, words):
    q, k, v = tensors((2, 4, 5), (2, 6, 5), (2, 6, 3))
    if words == []:  # batch sizes 2 and 1 broadcast: not an error
        call(q, k, v)
        q, k, v = tensors((2, 4, 5), (3, 6, 5), (3, 6, 3))
        with pytest.raises(ValueError, match="do not broadcast"):
            scaled_dot_product_attention(q, k, v)
        return
    with pytest.raises(error) as caught:
        call(q, k, v)
    assert all(word in str(caught.value) for word in words), str(caught.value)


@needs_autograd
@pytest.mark.parametrize("dtype", [bool, np.float64])
def test_one_dimensional_mask_covers_every_query(dtype):
    q, k, v = tensors((3, 4), (5, 4), (5, 2), grad=True)
    row = rng.random(5) > 0.4 if dtype is bool else rng.standard_normal(5)
    row[0] = True if dtype is bool else row[0]
    out = scaled_dot_product_attention(q, k, v, attn_mask=Tensor(row))
    assert out.shape == (3, 2)
    kwargs = {"allowed": np.broadcast_to(row, (3, 5))} if dtype is bool else {"bias": np.broadcast_to(row, (3, 5))}
    np.testing.assert_allclose(out.data, per_query(q.data, k.data, v.data, **kwargs), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=Tensor(row)), (q, k, v))


def test_grouped_query_attention_equals_repeated_heads():
    q, k, v = tensors((2, 6, 4, 3), (2, 2, 5, 3), (2, 2, 5, 2))
    mask = rng.standard_normal((6, 4, 5))

    def repeated(t):
        return Tensor(np.repeat(t.data, 3, axis=-3))  # key/value head j serves query heads 3j, 3j+1, 3j+2
    for kwargs in ({}, {"is_causal": True}, {"attn_mask": Tensor(mask)}, {"attn_mask": Tensor(mask[0] > 0)}):
        grouped = scaled_dot_product_attention(q, k, v, enable_gqa=True, **kwargs)
        plain = scaled_dot_product_attention(q, repeated(k), repeated(v), **kwargs)
        assert grouped.shape == (2, 6, 4, 2)
        np.testing.assert_allclose(grouped.data, plain.data, rtol=1e-12, atol=1e-12)
    same = scaled_dot_product_attention(q, q, q, enable_gqa=True)
    np.testing.assert_array_equal(same.data, scaled_dot_product_attention(q, q, q).data)


@needs_autograd
def test_grouped_query_attention_gradcheck():
    q, k, v = tensors((1, 4, 3, 2), (1, 2, 4, 2), (1, 2, 4, 3), grad=True)
    mask = Tensor(rng.standard_normal((4, 3, 4)), requires_grad=True)
    assert gradcheck(lambda q, k, v, m: scaled_dot_product_attention(q, k, v, attn_mask=m, enable_gqa=True),
                     (q, k, v, mask))
    assert gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True), (q, k, v))


def test_grouped_query_attention_errors():
    q, k, v = tensors((2, 6, 4, 3), (2, 4, 5, 3), (2, 4, 5, 2))
    with pytest.raises(ValueError, match=r"key/value heads \(4 and 4\) must be equal and divide the query heads \(6\)"):
        scaled_dot_product_attention(q, k, v, enable_gqa=True)
    with pytest.raises(ValueError, match="enable_gqa=True needs a head dimension"):
        scaled_dot_product_attention(*tensors((4, 3), (5, 3), (5, 2)), enable_gqa=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, k[:, :2], v[:, :2], attn_mask=Tensor(np.zeros((4, 4, 5))), enable_gqa=True)
    with pytest.raises(TypeError, match="enable_gqa must be True or False"):
        scaled_dot_product_attention(q, k, v, enable_gqa="yes")
    with pytest.raises(ValueError, match="do not broadcast; for fewer key/value heads .* pass enable_gqa=True"):
        scaled_dot_product_attention(q, k[:, :2], v[:, :2])
