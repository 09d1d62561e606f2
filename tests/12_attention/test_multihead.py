"""Module 12: MultiheadAttention and CausalSelfAttention — parameters and init as PyTorch/nanoGPT, shapes in
every layout, masks, dropout in train vs eval, causality, float64 gradcheck, equivalence of the two
blocks, and every bad-input error."""

from __future__ import annotations

import numpy as np
import pytest
from support import needs_autograd

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.text.attention import (
    CausalSelfAttention,
    MultiheadAttention,
    causal_mask,
    merge_heads,
    split_heads,
)

rng = np.random.default_rng(3)


def f32(*shape):
    return Tensor(rng.standard_normal(shape).astype(np.float32))


def test_mha_parameters_and_init():
    manual_seed(0)
    mha = MultiheadAttention(64, 8)
    assert [(n, p.shape) for n, p in mha.named_parameters()] == [
        ("in_proj_weight", (192, 64)), ("in_proj_bias", (192,)), ("out_proj.weight", (64, 64)),
        ("out_proj.bias", (64,))]
    bound = np.sqrt(6 / (64 + 192))  # xavier_uniform_ on the (3E, E) matrix, as PyTorch
    w = mha.in_proj_weight.data
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.9 * bound
    assert not mha.in_proj_bias.data.any() and not mha.out_proj.bias.data.any(), "biases start at zero"
    assert mha.head_dim == 8 and mha.out_proj.weight.data.std() > 0
    no_bias = MultiheadAttention(8, 2, bias=False)
    assert [n for n, _ in no_bias.named_parameters()] == ["in_proj_weight", "out_proj.weight"]


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_shapes(batch_first):
    mha = MultiheadAttention(12, 3, batch_first=batch_first)
    q = f32(2, 5, 12) if batch_first else f32(5, 2, 12)
    kv = f32(2, 7, 12) if batch_first else f32(7, 2, 12)
    out, weights = mha(q, kv, kv)
    assert out.shape == q.shape and weights.shape == (2, 5, 7)
    out, weights = mha(q, kv, kv, average_attn_weights=False)
    assert weights.shape == (2, 3, 5, 7)
    np.testing.assert_allclose(weights.data.sum(-1), 1, atol=1e-5)
    single, w1 = mha(f32(5, 12), f32(7, 12), f32(7, 12))
    assert single.shape == (5, 12) and w1.shape == (5, 7), "unbatched (L, E) inputs"


def test_mha_need_weights_paths_agree_with_masks():
    mha = MultiheadAttention(8, 2, batch_first=True)
    q, kv = f32(2, 4, 8), f32(2, 6, 8)
    padding = Tensor(np.array([[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 1]], dtype=bool))
    blocked = Tensor(rng.random((4, 6)) > 0.7)
    explicit, weights = mha(q, kv, kv, key_padding_mask=padding, attn_mask=blocked, average_attn_weights=False)
    fused, none = mha(q, kv, kv, key_padding_mask=padding, attn_mask=blocked, need_weights=False)
    assert none is None
    np.testing.assert_allclose(fused.data, explicit.data, rtol=1e-5, atol=1e-6)
    assert not weights.data[0, :, :, 4:].any() and not weights.data[1, :, :, 5].any(), "padded keys get weight 0"
    assert not weights.data[:, :, blocked.data].any(), "True in MHA's bool attn_mask = may not attend"


def test_mha_dropout_only_in_training():
    mha = MultiheadAttention(8, 2, dropout=0.5)
    x = f32(4, 2, 8)
    manual_seed(1)
    train_a = mha(x, x, x)[0].data
    manual_seed(2)
    train_b = mha(x, x, x)[0].data
    assert not np.allclose(train_a, train_b)
    mha.eval()
    np.testing.assert_array_equal(mha(x, x, x)[0].data, mha(x, x, x)[0].data)


@needs_autograd
def test_mha_gradcheck():
    mha = MultiheadAttention(4, 2, batch_first=True, dtype=np.float64)
    for p in mha.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    q = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    kv = Tensor(rng.standard_normal((2, 4, 4)), requires_grad=True)
    padding = Tensor(np.array([[0, 0, 0, 1], [0, 0, 0, 0]], dtype=bool))
    params = list(mha.parameters())

    def run(q, kv, *weights):
        return mha(q, kv, kv, key_padding_mask=padding, need_weights=False)[0]
    assert gradcheck(run, (q, kv, *params))
    assert gradcheck(lambda q: mha(q, q, q, attn_mask=Tensor(~causal_mask(3)))[1], (q,)), "weights are differentiable"


def test_mha_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(4\)"):
        MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match="num_heads must be a positive int"):
        MultiheadAttention(8, 0)
    with pytest.raises(ValueError, match="kdim/vdim"):
        MultiheadAttention(8, 2, kdim=4)
    mha = MultiheadAttention(8, 2)
    x = f32(4, 2, 8)
    with pytest.raises(ValueError, match=r"query must be \(L, N, E\) or unbatched \(L, E\) with E=embed_dim=8"):
        mha(f32(4, 2, 6), x, x)
    with pytest.raises(ValueError, match="different batch sizes"):
        mha(x, f32(4, 3, 8), f32(4, 3, 8))
    with pytest.raises(ValueError, match="key and value must have the same shape"):
        mha(x, x, f32(5, 2, 8))
    with pytest.raises(TypeError, match="dtype float64 does not match"):
        mha(Tensor(x.data.astype(np.float64)), x, x)
    with pytest.raises(ValueError, match=r"attn_mask must be a Tensor of shape \(L, S\) = \(4, 4\)"):
        mha(x, x, x, attn_mask=Tensor(np.zeros((4, 5), dtype=bool)))
    with pytest.raises(ValueError, match=r"key_padding_mask must be a Tensor of shape \(N, S\) = \(2, 4\)"):
        mha(x, x, x, key_padding_mask=Tensor(np.zeros((4, 2), dtype=bool)))
    with pytest.raises(TypeError, match="key_padding_mask must be bool"):
        mha(x, x, x, key_padding_mask=Tensor(np.zeros((2, 4), dtype=np.int64)))
    with pytest.raises(RuntimeError, match="is_causal=True .* needs attn_mask"):
        mha(x, x, x, is_causal=True)


def test_split_and_merge_heads_are_inverse_views():
    x = f32(2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4) and np.shares_memory(heads.data, x.data), "split_heads is a view"
    np.testing.assert_array_equal(heads.data[1, 2, 3], x.data[1, 3, 8:12])
    np.testing.assert_array_equal(merge_heads(heads).data, x.data)


def test_causal_self_attention_layout():
    manual_seed(0)
    block = CausalSelfAttention(12, 3, dropout=0.1, bias=False)
    assert [(n, p.shape) for n, p in block.named_parameters()] == [("c_attn.weight", (36, 12)),
                                                                    ("c_proj.weight", (12, 12))]
    q, k, v = block.projections(f32(2, 5, 12))
    assert q.shape == k.shape == v.shape == (2, 3, 5, 4)


def test_causal_self_attention_is_causal():
    block = CausalSelfAttention(8, 2).eval()
    x = f32(2, 6, 8)
    changed = x.data.copy()
    changed[:, 4:] = 100.0
    a, b = block(x).data, block(Tensor(changed)).data
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_causal_self_attention_equals_multihead_attention_with_a_causal_mask():
    block = CausalSelfAttention(8, 2)
    mha = MultiheadAttention(8, 2, batch_first=True)
    mha.load_state_dict({"in_proj_weight": block.c_attn.weight.data, "in_proj_bias": block.c_attn.bias.data,
                         "out_proj.weight": block.c_proj.weight.data, "out_proj.bias": block.c_proj.bias.data})
    x = f32(3, 5, 8)
    want, _ = mha(x, x, x, attn_mask=Tensor(~causal_mask(5)), need_weights=False)
    np.testing.assert_allclose(block(x).data, want.data, rtol=1e-5, atol=1e-6)


def test_causal_self_attention_dropout():
    block = CausalSelfAttention(8, 2, dropout=0.3)
    x = f32(2, 5, 8)
    manual_seed(0)
    a = block(x).data
    manual_seed(0)
    np.testing.assert_array_equal(a, block(x).data)
    block.eval()
    np.testing.assert_array_equal(block(x).data, block(x).data)
    assert not np.allclose(a, block(x).data)


@needs_autograd
def test_causal_self_attention_gradcheck():
    block = CausalSelfAttention(6, 3, dtype=np.float64)
    for p in block.parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    x = Tensor(rng.standard_normal((2, 4, 6)), requires_grad=True)
    assert gradcheck(lambda x, *params: block(x), (x, *block.parameters()))


def test_causal_self_attention_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(3\)"):
        CausalSelfAttention(10, 3)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        CausalSelfAttention(8, 2, block_size=0)
    with pytest.raises(ValueError, match="dropout probability"):
        CausalSelfAttention(8, 2, dropout=2)
    block = CausalSelfAttention(8, 2, block_size=4)
    with pytest.raises(ValueError, match="sequence length 5 is longer than block_size=4"):
        block(f32(1, 5, 8))
    with pytest.raises(ValueError, match=r"\(B, T, n_embd=8\)"):
        block(f32(5, 8))
    with pytest.raises(TypeError, match="must be a Tensor"):
        block(np.zeros((1, 2, 8)))
    with pytest.raises(TypeError, match="does not match the weight dtype"):
        block(Tensor(np.zeros((1, 2, 8))))


def test_training_path_with_dropout_equals_the_sdpa_function():
    # forward composes Tensor ops; its dropout must draw the same mask as section 3's Function
    from tinytorch.core.tensor import manual_seed
    from tinytorch.text.attention import scaled_dot_product_attention

    block = CausalSelfAttention(8, 2, dropout=0.4)
    x = f32(2, 6, 8)
    manual_seed(9)
    composed = block(x).data
    manual_seed(9)
    q, k, v = block.projections(x)
    y = scaled_dot_product_attention(q, k, v, dropout_p=0.4, is_causal=True)
    one_function = block.resid_dropout(block.c_proj(merge_heads(y))).data
    np.testing.assert_allclose(composed, one_function, rtol=1e-5, atol=1e-6)


@needs_autograd
def test_block_records_the_composition_and_gradchecks_with_dropout():
    from tinytorch.text.attention import ScaledDotProductAttention

    block = CausalSelfAttention(6, 2, dropout=0.3, dtype=np.float64)
    x = Tensor(rng.standard_normal((2, 5, 6)), requires_grad=True)
    out = block(x)
    ops, stack, seen = set(), [out], set()
    while stack:
        node = stack.pop()._ctx
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            ops.add(node.op)
            stack.extend(node.inputs)
    assert ScaledDotProductAttention not in ops and {"matmul", "masked_fill"} <= ops, (
        f"textbook path: recorded Tensor ops, got {ops}")

    def forward(x, *params):
        manual_seed(4)
        return block(x)
    assert gradcheck(forward, (x, *block.parameters()))
