# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 12 — Attention: every token looks at every other token
#
# After module 11, each token is a vector that knows *what* it is and *where* it is — but
# nothing about its neighbours. In "the bank of the river", `bank` should borrow meaning from
# `river`. **Attention** lets each position ask a question (a *query*), compare it with a label
# every position offers (a *key*), and take a weighted average of what those positions carry
# (their *values*). It is the one operation that moves information between positions in a
# transformer, and it is where a GPT spends much of its time.
#
# **You will learn to**
#
# 1. write scaled dot-product attention, `softmax(Q·Kᵀ/√d)·V`, with PyTorch's exact semantics
#    for masks (boolean "may attend", additive float masks, `is_causal`) — first composed from
#    tensor ops, which is the test oracle;
# 2. derive its backward pass (two matmuls, the softmax Jacobian, two more matmuls) and write
#    the whole thing as one `Function`, vectorised over batch and heads;
# 3. build multi-head attention twice: `MultiheadAttention` with PyTorch's parameter layout (a
#    PyTorch `state_dict` loads into it), and `CausalSelfAttention`, the block a GPT uses;
# 4. measure the O(T²) time and memory of attention, what the causal mask costs, and why softmax
#    must subtract the maximum.
#
# **Prerequisites:** modules 01–05 (`Tensor` with `masked_fill`/`split`/`view`, `Module`,
# `Linear`, softmax, autograd with `Function` and `gradcheck`) and module 11 (token vectors).
# **Exports to:** `tinytorch/text/attention.py`, re-exported by `tinytorch.nn`
# (`MultiheadAttention`, `CausalSelfAttention`) and `tinytorch.nn.functional`
# (`scaled_dot_product_attention`).

# %%
#| default_exp text.attention

# %%
#| export
from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.core.activations import softmax
from tinytorch.core.autograd import Function
from tinytorch.core.layers import Dropout, Linear, Module, Parameter, _check_probability, dropout, xavier_uniform_
from tinytorch.core.optimizers import accelerated
from tinytorch.core.tensor import Tensor, broadcast_shapes, default_generator, matmul_arrays

# %% [markdown]
# ## 1. Queries, keys, values
#
# Take a sequence of `L` query vectors and `S` key/value vectors (in self-attention they come
# from the same `T` tokens, `L = S = T`). Each query is compared with every key by a dot
# product, the `L x S` table of scores is turned into weights by a softmax along each row, and
# each output row is the weighted average of the value rows:
#
# ```
#   Q (L, E)          Kᵀ (E, S)            scores = Q·Kᵀ/√E  (L, S)         softmax rows
#   ┌──────┐        ┌──┬──┬──┬──┐          k0   k1   k2   k3               k0   k1   k2   k3
#   │  q0  │        │k0│k1│k2│k3│     q0 [ 2.1  0.3 -1.0  0.5 ]   ──►  q0 [.71  .12  .03  .14]
#   │  q1  │   ·    │  │  │  │  │  =  q1 [ 0.2  1.7  0.4 -0.3 ]        q1 [.14  .61  .17  .08]
#   │  q2  │        │  │  │  │  │     q2 [-0.5  0.1  2.4  0.9 ]        q2 [.04  .07  .73  .16]
#   └──────┘        └──┴──┴──┴──┘                                    each row sums to 1
#
#   out = weights · V   (L, S)·(S, Ev) -> (L, Ev):   out[i] = Σ_j  w[i, j] · v[j]
# ```
#
# **Why divide by √E?** If the entries of `q` and `k` have variance 1, their dot product over `E`
# dimensions has variance `E`. With `E = 64` the scores spread over ±20, the softmax turns almost
# one-hot, and its gradient vanishes. Dividing by `√E` brings the variance back to 1. (`scale`
# overrides the factor.)
#
# **Batches and heads.** Everything before the last two dimensions is a batch: shapes are
# `query (..., L, E)`, `key (..., S, E)`, `value (..., S, Ev)` → `(..., L, Ev)`. A GPT calls it
# with `(B, H, T, D)`: B sequences, H heads.
#
# ### Masks
#
# A mask decides which keys each query may look at. PyTorch has two kinds, and they mean
# different things:
#
# | `attn_mask` | meaning | what happens to the scores |
# |---|---|---|
# | bool | `True` = **may attend** | `False` entries become `-inf` (weight exactly 0) |
# | float | a bias | added to the scores (`-inf` forbids, `-1.0` discourages) |
#
# The mask must broadcast to `(..., L, S)`: one `(L, S)` table for everything, or one per
# batch entry. `is_causal=True` is the mask of a language model: query `i` may see keys
# `0..i` only — no peeking at the future. It is the lower triangle (for `L ≠ S`, the top-left
# aligned one, as in PyTorch):
#
# ```
#   causal mask (T=5)         scores after masking               weights (rows sum to 1)
#        k0 k1 k2 k3 k4            k0    k1    k2    k3    k4
#   q0 [ ■  ·  ·  ·  · ]      q0 [ 1.2  -inf  -inf  -inf  -inf ]   q0 [1.0  0    0    0    0  ]
#   q1 [ ■  ■  ·  ·  · ]      q1 [ 0.3   0.9  -inf  -inf  -inf ]   q1 [.35 .65  0    0    0  ]
#   q2 [ ■  ■  ■  ·  · ]      q2 [-0.2   0.4   1.1  -inf  -inf ]   q2 [.15 .28 .57   0    0  ]
#   q3 [ ■  ■  ■  ■  · ]      q3 [  ...                      ]
#   q4 [ ■  ■  ■  ■  ■ ]      ■ = True (may attend)   · = False
# ```
#
# PyTorch's documentation says that giving both `attn_mask` and `is_causal` is an error; we
# raise it. (PyTorch 2.13's CPU kernel in fact accepts both and combines them; write
# `attn_mask & causal` yourself if that is what you want.)
#
# A query whose every key is masked has nothing to average. PyTorch 2.13 returns a zero row
# for it (and zero gradients), rather than the `nan` a plain softmax of all `-inf` gives; we do
# the same, and the tests check it against PyTorch.
#
# The checks come first: they run before any arithmetic, so a wrong shape fails here with the
# argument's name, not deep inside a matmul.

# %%
#| export
def _check_qkv(query, key, value, where: str) -> tuple[int, int, int]:
    """(L, S, E) after checking that query (..., L, E), key (..., S, E), value (..., S, Ev) fit together."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: {name} must be a Tensor, got {type(t).__name__}")
        if t.dtype.kind != "f":
            raise TypeError(f"{where}: {name} must be floating point, got dtype {t.dtype}; convert it with .float()")
        if t.ndim < 2:
            raise ValueError(f"{where}: {name} must have at least 2 dimensions (..., length, features), "
                             f"got shape {tuple(t.shape)}")
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(f"{where}: query, key and value must have one dtype, got {query.dtype}, {key.dtype} "
                        f"and {value.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{where}: query and key must have the same feature size E (last dimension), got "
                         f"query {tuple(query.shape)} and key {tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{where}: key and value must have the same length S (second-to-last dimension), got "
                         f"key {tuple(key.shape)} and value {tuple(value.shape)}")
    try:
        broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        hint = ("; for fewer key/value heads than query heads pass enable_gqa=True"
                if query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3] else "")
        raise ValueError(f"{where}: the batch dimensions of query {tuple(query.shape)}, key {tuple(key.shape)} "
                         f"and value {tuple(value.shape)} do not broadcast{hint}") from None
    return query.shape[-2], key.shape[-2], query.shape[-1]


def _check_mask(attn_mask, scores_shape: tuple, dtype, where: str, name: str = "attn_mask") -> None:
    """attn_mask: a bool Tensor or a float Tensor of the query's dtype that broadcasts to scores_shape."""
    if not isinstance(attn_mask, Tensor):
        raise TypeError(f"{where}: {name} must be a Tensor (bool or {dtype}), got {type(attn_mask).__name__}")
    if attn_mask.dtype != np.bool_ and attn_mask.dtype != dtype:
        raise TypeError(f"{where}: {name} must be bool (True = may attend) or float of the query's dtype {dtype} "
                        f"(added to the scores), got {attn_mask.dtype}")
    shape = tuple(attn_mask.shape)
    try:
        fits = len(shape) <= len(scores_shape) and broadcast_shapes(shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        length, keys = scores_shape[-2:]
        raise ValueError(f"{where}: {name} of shape {shape} does not broadcast to the attention scores "
                         f"{tuple(scores_shape)} (..., L={length}, S={keys}); use an (L, S) mask or one per "
                         "batch entry")


def _resolve_scale(scale, features: int, where: str) -> float:
    if scale is None:
        return 1.0 / math.sqrt(features)
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{where}: scale must be a number or None, got {scale!r}")
    return float(scale)


def causal_mask(length: int, keys: int | None = None) -> np.ndarray:
    """(L, S) bool, True where key j <= query i (top-left aligned lower triangle, PyTorch's is_causal)."""
    keys = length if keys is None else keys
    return np.tri(length, keys, dtype=bool)

# %% [markdown]
# ## 2. Attention from tensor ops (the reference)
#
# With modules 01–05 we can write attention directly, and autograd differentiates it for free:
# a matmul, a scale, a mask, a softmax, optional dropout on the weights, a matmul. It is short,
# obviously right, and the oracle every faster version is tested against. It records about a
# dozen graph nodes and keeps the `L x S` scores *and* the weights alive for backward — we will
# do better in section 3.
#
# Turn masks into the scores' language: a bool mask becomes `masked_fill(~mask, -inf)`; a float
# mask is simply added; `is_causal` is the bool mask `causal_mask(L, S)`.

# %%
#| export
def _attention_weights(query: Tensor, key: Tensor, attn_mask: Tensor | None, is_causal: bool,
                       scale: float) -> Tensor:
    """softmax(query·keyᵀ·scale + mask) (..., L, S), composed from recorded tensor ops."""
    # Hint: scores = (query @ key.transpose(-2, -1)) * scale; a bool mask keeps its True
    #       entries: scores.masked_fill(~mask, -inf) (for is_causal the mask is
    #       Tensor(causal_mask(L, S))); a float mask is added; softmax(scores, dim=-1).
    ### BEGIN SOLUTION
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        attn_mask = Tensor(causal_mask(query.shape[-2], key.shape[-2]))
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            scores = scores.masked_fill(Tensor(~attn_mask.data), float("-inf"))
        else:
            scores = scores + attn_mask
    return softmax(scores, dim=-1)
    ### END SOLUTION


def scaled_dot_product_attention_reference(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                           dropout_p: float = 0.0, is_causal: bool = False, scale=None) -> Tensor:
    """softmax(Q·Kᵀ·scale + mask)·V from tensor ops: (..., L, E), (..., S, E), (..., S, Ev) -> (..., L, Ev).

    The teaching version and test oracle. A fully masked row gives nan here (softmax of -infs).
    """
    _, _, features = _check_qkv(query, key, value, "scaled_dot_product_attention_reference")
    weights = _attention_weights(query, key, attn_mask, is_causal, _resolve_scale(scale, features, ""))
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return weights @ value

# %%
#| test
def test_unit_attention_reference():
    q = Tensor(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    k = Tensor(np.array([[10.0, 0.0], [0.0, 10.0], [0.0, 0.0]], dtype=np.float32))
    v = Tensor(np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]], dtype=np.float32))
    out = scaled_dot_product_attention_reference(q, k, v, scale=1.0)
    assert out.shape == (2, 2), f"(L=2, E) with S=3 values of Ev=2 gives (2, 2), got {out.shape}"
    assert np.allclose(out.data, [[1, 0], [0, 1]], atol=1e-3), (
        f"query 0 matches key 0 (score 10 vs 0), so it should copy value 0; got\n{out.data}\n"
        "check that scores are query @ keyᵀ and the softmax runs over the LAST axis (the keys)")
    causal = scaled_dot_product_attention_reference(q, k, v, is_causal=True)
    assert np.allclose(causal.data[0], v.data[0]), "with is_causal, query 0 sees key 0 only: output = value 0"
    only_last = Tensor(np.array([[False, False, True], [False, False, True]]))
    masked = scaled_dot_product_attention_reference(q, k, v, attn_mask=only_last)
    assert np.allclose(masked.data, 5), "bool mask: True = may attend; only key 2 allowed -> value 2"
    bias = Tensor(np.array([[0.0, -np.inf, -np.inf]] * 2, dtype=np.float32))
    assert np.allclose(scaled_dot_product_attention_reference(q, k, v, attn_mask=bias).data, [1, 0]), (
        "float mask: added to the scores; -inf forbids a key")
    print("✅ reference attention: matmul, scale, bool/float/causal masks, softmax over keys, weighted values")


test_unit_attention_reference()

# %% [markdown]
# ## 3. One `Function`: forward and backward written out
#
# Name the steps of the forward pass (per batch entry, `scale` = `1/√E` by default):
#
# ```
#   S = scale · Q·Kᵀ + M          (L, S)   scores plus the additive mask M (0 / -inf / bias)
#   P = softmax_rows(S)           (L, S)   the attention weights
#   O = P·V                       (L, Ev)
# ```
#
# Given `dO = ∂loss/∂O`, walk back:
#
# ```
#   dV = Pᵀ·dO                            (S, Ev)   like any matmul
#   dP = dO·Vᵀ                            (L, S)
#   dS = P ⊙ (dP − rowsum(dP ⊙ P))        (L, S)   softmax backward, row by row
#   dQ = scale · dS·K                     (L, E)
#   dK = scale · dSᵀ·Q                    (S, E)
#   dM = dS                                         (only when a float mask wants a gradient)
# ```
#
# The softmax line is the Jacobian of `p = softmax(s)`, `∂p_i/∂s_j = p_i(δ_ij − p_j)`, applied
# to a vector without ever building the `S x S` Jacobian: `Σ_i dp_i p_i(δ_ij − p_j) =
# p_j(dp_j − Σ_i dp_i p_i)`. A masked entry has `p = 0`, so it gets no gradient — for free.
#
# Writing this as one `Function` instead of a dozen recorded ops buys three things:
#
# - **memory**: backward needs only `Q, K, V` and `P`; the scores `S` are overwritten in place by
#   the softmax (the composed version keeps scores, shifted scores, exponentials and weights);
# - **fewer passes**: the mask is added in place, the softmax runs in place, and backward
#   reuses one `(L, S)` buffer for `dP` and `dS`;
# - **no graph overhead**: one node instead of a dozen, which matters when each op is a few
#   hundred microseconds.
#
# Everything is a batched matmul (`np.matmul` over the leading dimensions, through module 01's
# `matmul_arrays` so that float16 stays fast) or an elementwise pass, so batch and heads are
# vectorised: there is no Python loop over heads or positions.
#
# ### One layout trick: keep the scores transposed
#
# The softmax reduces each row of `S` twice (its maximum, its sum), and a GPT's rows are short
# (`S = 64`). NumPy reduces *along* a short contiguous row slowly, but reduces *across* rows —
# `max(axis=-2)`, an elementwise maximum of whole rows — with vector instructions, three to
# four times faster (the analysis measures it). So we compute the scores as `Sᵀ = K·Qᵀ`, shape
# `(S, L)`: one column per query. The softmax then runs down the columns, and every matmul
# just reads `Sᵀ` or `Pᵀ` with its axes swapped, which BLAS does for free:
#
# ```
#   forward                           backward
#   Sᵀ = scale · K·Qᵀ + Mᵀ   (S, L)    dV  = Pᵀ·dO              (S, Ev)
#   Pᵀ = softmax over axis -2          dPᵀ = V·dOᵀ              (S, L)
#   O  = (Pᵀ)ᵀ·V             (L, Ev)   dSᵀ = Pᵀ ⊙ (dPᵀ − colsum(dPᵀ ⊙ Pᵀ))
#                                      dQ  = scale · (dSᵀ)ᵀ·K,   dK = scale · dSᵀ·Q
# ```
#
# **Dropout** on the weights (training only) multiplies `P` by a mask of `0` and `1/(1−p)`
# drawn from the package's generator (`tinytorch.manual_seed`) in `(L, S)` order, exactly as
# `dropout()` of module 03 draws it; backward multiplies `dP` by the same mask.
#
# **Fully masked rows.** Their maximum is `-inf`; we shift by 0 instead, so every entry stays
# `-inf`, `exp` gives 0 and the sum is 0 — and we divide by 1 instead of 0. That query's weights
# are zero, so are its output and its gradients (PyTorch's answer).
#
# The maths lives in two array functions, `attention_forward` and `attention_backward`; the
# `Function` only saves and unpacks. (Module 15's KV cache calls `attention_forward` directly, and
# module 16 builds the GPT's fused attention kernel on the same two functions.)

# %%
#| export
_CAUSAL_BIAS: dict = {}  # (L, S, dtype) -> read-only (S, L) array of 0 / -inf, built once


def _causal_bias_t(length: int, keys: int, dtype) -> np.ndarray:
    """The additive causal mask, transposed: (S, L), 0 where key j may be seen by query i (j <= i), -inf above."""
    cache_key = (length, keys, np.dtype(dtype).str)
    bias = _CAUSAL_BIAS.get(cache_key)
    if bias is None:
        if len(_CAUSAL_BIAS) > 32:
            _CAUSAL_BIAS.clear()
        bias = np.where(causal_mask(length, keys).T, 0, -np.inf).astype(dtype)
        bias.flags.writeable = False
        _CAUSAL_BIAS[cache_key] = bias
    return bias


def softmax_(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along `axis`, in place (returns `scores`); a slice of all -inf becomes all 0 (not nan)."""
    # Hint: maxima m along axis (keepdims); where m is not finite (a fully masked query) use 0;
    #       scores -= m; np.exp(scores, out=scores); multiply by 1 / the sums along axis, using
    #       a sum of 1 where it is 0 (fully masked again). All in place: no new full-size arrays.
    ### BEGIN SOLUTION
    peak = scores.max(axis=axis, keepdims=True)
    peak[~np.isfinite(peak)] = 0
    scores -= peak
    np.exp(scores, out=scores)
    total = scores.sum(axis=axis, keepdims=True)
    total[total == 0] = 1
    scores *= np.reciprocal(total, out=total)
    return scores
    ### END SOLUTION


def attention_forward(query: np.ndarray, key: np.ndarray, value: np.ndarray, bias: np.ndarray | None,
                      scale: float, causal: bool, dropout_p: float = 0.0, generator=None,
                      out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Attention on arrays: (output (..., L, Ev), probs_t (..., S, L), keep_t (..., S, L) or None).

    bias: additive mask broadcastable to (..., L, S) with at least 2 dimensions, or None.
    probs_t are the weights transposed; keep_t the dropout multipliers (0 or 1/(1-p)), same layout.
    out: optional array (any strides) to write the output into.
    """
    # Hint: scores_t = matmul_arrays(key, query.swapaxes(-1, -2)); scale it in place; add
    #       bias.swapaxes(-1, -2) and _causal_bias_t(L, S, dtype) when given; softmax_ along
    #       axis -2. Dropout (dropout_p > 0): keep = (generator.random(batch + (L, S),
    #       dtype=np.float32) >= dropout_p) in the scores' dtype times 1/(1-p) (zeros when p == 1),
    #       keep_t = keep.swapaxes(-1, -2); weights_t = probs_t * keep_t.
    #       Output: matmul_arrays(weights_t.swapaxes(-1, -2), value, out=out).
    ### BEGIN SOLUTION
    scores_t = matmul_arrays(key, query.swapaxes(-1, -2))
    scores_t *= scale
    if bias is not None:
        scores_t += bias.swapaxes(-1, -2)
    if causal:
        scores_t += _causal_bias_t(query.shape[-2], key.shape[-2], scores_t.dtype)
    probs_t = softmax_(scores_t, axis=-2)
    keep_t, weights_t = None, probs_t
    if dropout_p > 0:
        shape = probs_t.shape[:-2] + (probs_t.shape[-1], probs_t.shape[-2])
        if dropout_p == 1:
            keep = np.zeros(shape, dtype=probs_t.dtype)
        else:
            keep = (generator.random(shape, dtype=np.float32) >= dropout_p).astype(probs_t.dtype)
            keep *= 1 / (1 - dropout_p)
        keep_t = keep.swapaxes(-1, -2)
        weights_t = probs_t * keep_t
    return matmul_arrays(weights_t.swapaxes(-1, -2), value, out=out), probs_t, keep_t
    ### END SOLUTION


def attention_backward(query: np.ndarray, key: np.ndarray, value: np.ndarray, probs_t: np.ndarray,
                       keep_t: np.ndarray | None, grad_output: np.ndarray, scale: float, needs: tuple,
                       out: tuple = (None, None, None)) -> tuple:
    """(dQ, dK, dV, dM) for attention_forward's inputs; None where needs (q, k, v, bias) says False.

    out: optional arrays to write dQ, dK, dV into (any strides); dM is (..., L, S) (a transposed view).
    """
    need_q, need_k, need_v, need_bias = needs
    # Hint: follow the transposed table above. weights_t = probs_t (times keep_t with dropout);
    #       dV = weights_t·dO; dPᵀ = V·dOᵀ (times keep_t); the column sums of dPᵀ ⊙ Pᵀ are
    #       np.einsum("...sl,...sl->...l", ...) — subtract them (as a (..., 1, L) row) in place,
    #       multiply by probs_t in place: that is dSᵀ. dM = dSᵀ.swapaxes(-1, -2) (copy it if you
    #       go on to scale dSᵀ in place); dQ = (scale·dSᵀ)ᵀ·K, dK = (scale·dSᵀ)·Q.
    ### BEGIN SOLUTION
    weights_t = probs_t if keep_t is None else probs_t * keep_t
    grad_value = matmul_arrays(weights_t, grad_output, out=out[2]) if need_v else None
    grad_query = grad_key = grad_bias = None
    if need_q or need_k or need_bias:
        grad_t = matmul_arrays(value, grad_output.swapaxes(-1, -2))  # dPᵀ
        if keep_t is not None:
            grad_t *= keep_t
        grad_t -= np.einsum("...sl,...sl->...l", grad_t, probs_t)[..., None, :]
        grad_t *= probs_t  # dSᵀ
        if need_bias:
            grad_bias = grad_t.swapaxes(-1, -2)
            if need_q or need_k:
                grad_bias = grad_bias.copy()
        grad_t *= scale
        if need_q:
            grad_query = matmul_arrays(grad_t.swapaxes(-1, -2), key, out=out[0])
        if need_k:
            grad_key = matmul_arrays(grad_t, query, out=out[1])
    return grad_query, grad_key, grad_value, grad_bias
    ### END SOLUTION


class ScaledDotProductAttention(Function):
    """softmax(Q·Kᵀ·scale + bias)·V with its own backward. bias: additive mask (>= 2-D) or None."""

    @staticmethod
    def forward(ctx, query, key, value, bias, scale: float, causal: bool, dropout_p: float, generator):
        out, probs_t, keep_t = attention_forward(query, key, value, bias, scale, causal, dropout_p, generator)
        ctx.save_for_backward(query, key, value, probs_t, keep_t)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_output):
        query, key, value, probs_t, keep_t = ctx.saved_tensors
        grads = attention_backward(query, key, value, probs_t, keep_t, grad_output, ctx.scale,
                                   ctx.needs_input_grad[:4])
        return grads + (None, None, None, None)


def _grouped_query_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask, dropout_p, is_causal, scale,
                             where: str) -> Tensor:
    """enable_gqa: Hk key/value heads shared by groups of Hq/Hk query heads (dimension -3), as in PyTorch."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.ndim < 3:
            raise ValueError(f"{where}: enable_gqa=True needs a head dimension: {name} must be (..., H, length, "
                             f"features), got {getattr(t, 'shape', type(t).__name__)}")
    heads, kv_heads = query.shape[-3], key.shape[-3]
    if value.shape[-3] != kv_heads or heads % kv_heads:
        raise ValueError(f"{where}: with enable_gqa=True the number of key/value heads ({kv_heads} and "
                         f"{value.shape[-3]}) must be equal and divide the query heads ({heads})")
    groups = heads // kv_heads
    if groups == 1:  # as many key/value heads as query heads: plain attention
        return scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)
    length, keys = query.shape[-2], key.shape[-2]
    if isinstance(attn_mask, Tensor) and not is_causal:  # (other cases fail in the call below, with a message)
        full = broadcast_shapes(query.shape[:-3], key.shape[:-3]) + (heads, length, keys)
        _check_mask(attn_mask, full, query.dtype, where)
        if attn_mask.ndim >= 3:  # split its head dimension (H or 1) the way the queries are split
            mask_heads = attn_mask.shape[-3]
            split = (kv_heads, groups) if mask_heads == heads else (1, 1)
            attn_mask = attn_mask.reshape(*attn_mask.shape[:-3], *split, length, keys)
    # queries (..., Hk, G, L, E) against keys (..., Hk, 1, S, E): broadcasting shares each key head
    grouped = query.reshape(*query.shape[:-3], kv_heads, groups, length, query.shape[-1])
    out = scaled_dot_product_attention(grouped, key.unsqueeze(-3), value.unsqueeze(-3), attn_mask, dropout_p,
                                       is_causal, scale)
    return out.reshape(*query.shape[:-3], heads, length, value.shape[-1])


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query·keyᵀ·scale + mask)·value, like torch.nn.functional.scaled_dot_product_attention.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). attn_mask: bool
    (True = may attend) or float (added), broadcastable to (..., L, S); is_causal: the lower
    triangular mask (not together with attn_mask); scale: default 1/sqrt(E). dropout_p drops
    attention weights with the package's generator (pass 0.0 outside training, as in PyTorch).
    enable_gqa: key/value may have fewer heads (dimension -3) than query, each shared by a group of
    query heads. A query with every key masked gets a zero row, as in PyTorch 2.13.
    """
    where = "scaled_dot_product_attention"
    if not isinstance(enable_gqa, (bool, np.bool_)):
        raise TypeError(f"{where}: enable_gqa must be True or False, got {enable_gqa!r}")
    if enable_gqa:
        return _grouped_query_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, where)
    length, keys, features = _check_qkv(query, key, value, where)
    scale = _resolve_scale(scale, features, where)
    dropout_p = _check_probability(dropout_p, where)
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"{where}: is_causal must be True or False, got {is_causal!r}")
    bias = None
    if attn_mask is not None:
        if is_causal:
            raise ValueError(f"{where}: give either attn_mask or is_causal=True, not both (PyTorch's documented "
                             "rule); for both, pass attn_mask & causal_mask(L, S) as one bool mask")
        scores_shape = broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (length, keys)
        _check_mask(attn_mask, scores_shape, query.dtype, where)
        if attn_mask.ndim < 2:  # a (S,) mask: one row for every query
            attn_mask = attn_mask.reshape(1, *attn_mask.shape)
        if attn_mask.dtype == np.bool_:
            bias = Tensor(np.where(attn_mask.data, 0, -np.inf).astype(query.dtype))
        else:
            bias = attn_mask
    return ScaledDotProductAttention.apply(query, key, value, bias, scale, bool(is_causal), dropout_p,
                                           default_generator())

# %%
#| test
def test_unit_scaled_dot_product_attention():
    from tinytorch.core.autograd import gradcheck

    rng = np.random.default_rng(0)
    q, k, v = (Tensor(rng.standard_normal(shape)) for shape in [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)])
    bool_mask = Tensor(rng.random((4, 6)) > 0.3)
    float_mask = Tensor(rng.standard_normal((3, 1, 6)))
    for label, kwargs in [("no mask", {}), ("is_causal", {"is_causal": True}), ("bool mask", {"attn_mask": bool_mask}),
                          ("float mask", {"attn_mask": float_mask}), ("scale=0.3", {"scale": 0.3})]:
        fast = scaled_dot_product_attention(q, k, v, **kwargs)
        slow = scaled_dot_product_attention_reference(q, k, v, **kwargs)
        assert fast.shape == (2, 3, 4, 2), f"{label}: expected (2, 3, 4, 2), got {fast.shape}"
        error = np.nanmax(np.abs(fast.data - slow.data))
        assert error < 1e-10, f"{label}: the Function differs from the reference by {error:.3g}"
    small = [Tensor(rng.standard_normal(shape), requires_grad=True) for shape in [(2, 3, 4), (2, 5, 4), (2, 5, 3)]]
    for kwargs in [{}, {"is_causal": True}, {"attn_mask": Tensor(rng.random((3, 5)) > 0.4)}]:
        assert gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, **kwargs), small), kwargs
    blocked = np.ones((3, 5), dtype=bool)
    blocked[1] = False
    out = scaled_dot_product_attention(*small, attn_mask=Tensor(blocked))
    assert np.all(out.data[:, 1] == 0), f"a query with every key masked gets a zero row (PyTorch), got {out.data[:, 1]}"
    print("✅ scaled_dot_product_attention (one Function) = the reference for every mask kind; gradcheck passes")


test_unit_scaled_dot_product_attention()

# %% [markdown]
# ## 4. Many heads
#
# One attention computes one weighted average per position: one kind of question. **Multi-head
# attention** splits the width `E` into `H` heads of `D = E/H` dimensions, lets each head
# attend on its own (different queries, different patterns — one head may track the previous
# character, another the start of the word), and concatenates the results:
#
# ```
#   x (B, T, E) ──Linear──► q, k, v (B, T, E) ──split E into H x D──► (B, H, T, D) each
#                                                                       │  one SDPA call,
#                                                                       ▼  all heads at once
#   out (B, T, E) ◄──Linear (out/c_proj)── merge heads (B, T, H·D) ◄── (B, H, T, D)
#
#   "split heads" is a reshape (B, T, H, D) and a transpose (B, H, T, D): no arithmetic.
# ```
#
# It costs the same FLOPs as one big head — the projections are the same size — but each head
# has its own softmax. `E` must be divisible by `H`.
#
# **Grouped-query attention.** Large models (LLaMA-2 70B, Mistral) keep fewer key/value heads
# than query heads: a group of query heads shares one key head and one value head, which shrinks
# the keys and values a generating model must keep (module 15's cache) by the group size.
# `scaled_dot_product_attention(..., enable_gqa=True)` takes keys and values with `Hk` heads in
# dimension -3 for queries with `H` heads (`Hk` divides `H`; query head `j` uses key head
# `j // (H/Hk)`, PyTorch's rule). No copies: the queries are viewed as `(..., Hk, H/Hk, L, E)` and
# the keys as `(..., Hk, 1, S, E)`, and broadcasting in the batched matmul does the sharing.
#
# ### `MultiheadAttention`, PyTorch's layout
#
# `torch.nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first)` keeps the three
# input projections stacked in one `in_proj_weight` of shape `(3E, E)` (rows `0:E` make queries,
# `E:2E` keys, `2E:3E` values) with `in_proj_bias (3E,)`, and the output projection as a
# `Linear` called `out_proj`. Its inputs are `(L, N, E)` — sequence first! — unless
# `batch_first=True`. Its masks use the *opposite* convention to `scaled_dot_product_attention`:
#
# | argument | shape | bool `True` means | float |
# |---|---|---|---|
# | `attn_mask` | `(L, S)` or `(N·H, L, S)` | **may not** attend | added |
# | `key_padding_mask` | `(N, S)` | this key is padding: ignore it | added |
#
# (`F.scaled_dot_product_attention`'s `True` means *may* attend. The two APIs grew up apart; we
# keep each one's meaning so that PyTorch code ports unchanged.) Both masks are turned into one
# additive float mask. `need_weights=True` (the default) also returns the attention weights,
# averaged over heads unless `average_attn_weights=False`; like PyTorch, that path computes them
# explicitly (section 2's ops), while `need_weights=False` takes section 3's `Function`.
# `is_causal=True` is only a hint that `attn_mask` *is* the causal mask; as in PyTorch it
# requires `attn_mask`.

# %%
#| export
def _check_heads(embed_dim, num_heads, where: str) -> tuple[int, int]:
    for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    if embed_dim % num_heads:
        raise ValueError(f"{where}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads}); "
                         f"each head gets embed_dim // num_heads features")
    return int(embed_dim), int(num_heads)


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, H·D) -> (B, H, T, D): a view, no copy."""
    # Hint: view as (B, T, H, D), then transpose dimensions 1 and 2.
    ### BEGIN SOLUTION
    batch, length, width = x.shape
    return x.view(batch, length, num_heads, width // num_heads).transpose(1, 2)
    ### END SOLUTION


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, D) -> (B, T, H·D): the inverse of split_heads (a copy only if x's layout needs one)."""
    # Hint: transpose dimensions 1 and 2, then reshape to (B, T, H·D) (reshape copies only when
    #       the memory layout requires it).
    ### BEGIN SOLUTION
    batch, heads, length, dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * dim)
    ### END SOLUTION


def _mha_bias(key_padding_mask, attn_mask, batch: int, heads: int, length: int, keys: int, dtype,
              where: str) -> Tensor | None:
    """MultiheadAttention's two masks (bool True = ignore) as one additive (N, H or 1, L, S) float mask."""
    bias = None
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor) or attn_mask.shape not in ((length, keys), (batch * heads, length, keys)):
            raise ValueError(f"{where}: attn_mask must be a Tensor of shape (L, S) = ({length}, {keys}) or "
                             f"(N·num_heads, L, S) = ({batch * heads}, {length}, {keys}), got "
                             f"{getattr(attn_mask, 'shape', type(attn_mask).__name__)}")
        _check_mask(attn_mask, (batch * heads, length, keys), dtype, where)
        mask = attn_mask.reshape(batch, heads, length, keys) if attn_mask.ndim == 3 else attn_mask
        bias = Tensor(np.where(mask.data, -np.inf, 0).astype(dtype)) if mask.dtype == np.bool_ else mask
    if key_padding_mask is not None:
        if not isinstance(key_padding_mask, Tensor) or key_padding_mask.shape != (batch, keys):
            raise ValueError(f"{where}: key_padding_mask must be a Tensor of shape (N, S) = ({batch}, {keys}), got "
                             f"{getattr(key_padding_mask, 'shape', type(key_padding_mask).__name__)}")
        _check_mask(key_padding_mask, (batch, keys), dtype, where, "key_padding_mask")
        padding = key_padding_mask.reshape(batch, 1, 1, keys)
        if padding.dtype == np.bool_:
            padding = Tensor(np.where(padding.data, -np.inf, 0).astype(dtype))
        bias = padding if bias is None else bias + padding
    return bias


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters: in_proj_weight (3E, E), in_proj_bias (3E,), out_proj.

    forward(query, key, value) with (L, N, E) inputs, or (N, L, E) when batch_first; returns
    (output like query, weights (N, L, S) averaged over heads, (N, H, L, S), or None).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, dtype=None):
        super().__init__()
        where = "MultiheadAttention"
        self.embed_dim, self.num_heads = _check_heads(embed_dim, num_heads, where)
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = _check_probability(dropout, where)
        if add_bias_kv or add_zero_attn:
            raise ValueError(f"{where}: add_bias_kv and add_zero_attn are not supported")
        if kdim not in (None, embed_dim) or vdim not in (None, embed_dim):
            raise ValueError(f"{where}: kdim/vdim different from embed_dim are not supported, got kdim={kdim}, "
                             f"vdim={vdim}")
        self.batch_first = bool(batch_first)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        self.in_proj_weight = Parameter(np.empty((3 * self.embed_dim, self.embed_dim), dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * self.embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(self.embed_dim, self.embed_dim, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: xavier_uniform_ for in_proj_weight, zero biases (out_proj.weight keeps Linear's init)."""
        # Hint: xavier_uniform_ from module 03; set in_proj_bias and out_proj.bias (if any) to 0.
        ### BEGIN SOLUTION
        xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            self.in_proj_bias.data[...] = 0
            self.out_proj.bias.data[...] = 0
        ### END SOLUTION

    def _project(self, x: Tensor, part: int) -> Tensor:
        """x @ W_part.T + b_part for part 0 (query), 1 (key) or 2 (value) of the stacked projection."""
        rows = slice(part * self.embed_dim, (part + 1) * self.embed_dim)
        out = x @ self.in_proj_weight[rows].T
        return out if self.in_proj_bias is None else out + self.in_proj_bias[rows]

    def _check_inputs(self, query, key, value, where: str) -> bool:
        """True for unbatched (L, E) inputs; checks ranks, widths and dtypes."""
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{where}: {name} must be a Tensor, got {type(t).__name__}")
            if t.ndim not in (2, 3) or t.shape[-1] != self.embed_dim:
                layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
                raise ValueError(f"{where}: {name} must be {layout} or unbatched (L, E) with E=embed_dim="
                                 f"{self.embed_dim}, got {tuple(t.shape)}")
            if t.dtype != self.in_proj_weight.dtype:
                raise TypeError(f"{where}: {name} dtype {t.dtype} does not match the weights' "
                                f"{self.in_proj_weight.dtype}; convert it (x.float() for float32)")
        if not query.ndim == key.ndim == value.ndim:
            raise ValueError(f"{where}: query, key and value must all be batched or all unbatched, got shapes "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        if key.shape != value.shape:
            raise ValueError(f"{where}: key and value must have the same shape, got {tuple(key.shape)} and "
                             f"{tuple(value.shape)}")
        if query.ndim == 3:
            batch_axis = 0 if self.batch_first else 1
            if query.shape[batch_axis] != key.shape[batch_axis]:
                raise ValueError(f"{where}: query and key have different batch sizes: {tuple(query.shape)} and "
                                 f"{tuple(key.shape)} (batch_first={self.batch_first})")
        return query.ndim == 2

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        where = "MultiheadAttention"
        unbatched = self._check_inputs(query, key, value, where)
        self_attention = query is key and key is value  # decided before the layout changes below
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{where}: is_causal=True is a hint that attn_mask is the causal mask, so it needs "
                               "attn_mask (as in PyTorch); pass attn_mask=~Tensor(causal_mask(L, L))")
        if unbatched:  # (L, E) -> one batch entry, in the batch-first layout used inside
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None and isinstance(key_padding_mask, Tensor) and key_padding_mask.ndim == 1:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        batch, length, keys = query.shape[0], query.shape[1], key.shape[1]
        # Hint: project (one matmul with in_proj_weight when self_attention, then split into three),
        #       split_heads, build the additive mask with _mha_bias, then attend: with need_weights,
        #       weights = _attention_weights(q, k, bias, False, 1/sqrt(D)), dropout (training only),
        #       out = weights @ v; else scaled_dot_product_attention. Then merge_heads, out_proj,
        #       and back to the caller's layout.
        ### BEGIN SOLUTION
        if self_attention:
            packed = query @ self.in_proj_weight.T
            if self.in_proj_bias is not None:
                packed = packed + self.in_proj_bias
            q, k, v = packed.split(self.embed_dim, dim=-1)
        else:
            q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        q, k, v = (split_heads(t, self.num_heads) for t in (q, k, v))
        bias = _mha_bias(key_padding_mask, attn_mask, batch, self.num_heads, length, keys, q.dtype, where)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            weights = _attention_weights(q, k, bias, False, 1.0 / math.sqrt(self.head_dim))
            if p > 0:
                weights = dropout(weights, p)
            out = weights @ v
        else:
            out = scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        out = self.out_proj(merge_heads(out))
        if need_weights and average_attn_weights:
            weights = weights.mean(dim=1)
        if unbatched:
            out = out.squeeze(0)
            weights = None if weights is None else weights.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights
        ### END SOLUTION

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")

# %%
#| test
def test_unit_multihead_attention():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    mha = MultiheadAttention(8, 2)
    names = [(name, p.shape) for name, p in mha.named_parameters()]
    assert names == [("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)),
                     ("out_proj.bias", (8,))], f"PyTorch's parameter names and shapes, got {names}"
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3, 8)).astype(np.float32))  # (L, N, E)
    out, weights = mha(x, x, x)
    assert out.shape == (5, 3, 8) and weights.shape == (3, 5, 5), (
        f"sequence-first: out (L, N, E) = (5, 3, 8) and weights (N, L, S) = (3, 5, 5), got {out.shape}, "
        f"{weights.shape}")
    assert np.allclose(weights.data.sum(-1), 1, atol=1e-5), "averaged attention weights still sum to 1 per query"
    fused, none = mha(x, x, x, need_weights=False)
    assert none is None and np.allclose(fused.data, out.data, atol=1e-5), "need_weights=False: same output, no weights"
    future = Tensor(~causal_mask(5))
    _, causal_weights = mha(x, x, x, attn_mask=future, average_attn_weights=False)
    assert causal_weights.shape == (3, 2, 5, 5) and not np.triu(causal_weights.data, 1).any(), (
        "MultiheadAttention's bool attn_mask: True = may NOT attend; ~causal_mask hides the future")
    try:
        MultiheadAttention(10, 3)
    except ValueError as error:
        assert "divisible" in str(error), error
    else:
        raise AssertionError("embed_dim 10 is not divisible by 3 heads")
    print("✅ MultiheadAttention: PyTorch's names/layout, sequence-first shapes, averaged weights, masks")


test_unit_multihead_attention()

# %% [markdown]
# ## 5. `CausalSelfAttention`, the GPT block
#
# A GPT only ever attends within one sequence, causally. nanoGPT's block is simpler than
# `MultiheadAttention` and lays out its weights as plain `Linear` layers:
#
# ```
#   x (B, T, E) ─ c_attn: Linear(E, 3E) ─► (B, T, 3E) ─ split ─► q | k | v   (B, T, E) each
#                                                                  │ split_heads
#                                                                  ▼
#                                 scaled_dot_product_attention(q, k, v, is_causal=True)  (B, H, T, D)
#                                                                  │ merge_heads
#   out (B, T, E) ◄─ dropout ◄─ c_proj: Linear(E, E) ◄────────────┘
# ```
#
# One matmul makes all of q, k and v (one `(E, 3E)` product instead of three `(E, E)` ones:
# fewer, larger BLAS calls). `projections(x)` — c_attn, split, split_heads — is its own small
# method because module 15 will reuse it: when generating, a *KV cache* keeps the keys and
# values of earlier tokens, so only the new token's q, k, v are computed and the cached k, v
# are concatenated in front. (Then the queries are the *last* rows of a longer key sequence, and
# `is_causal`'s top-left triangle is the wrong mask; one new token may see every cached key, so
# it needs no mask at all.)
#
# ### The training path: the textbook composition
#
# The block's `forward` is exactly the picture: `c_attn`, split into q, k and v, `split_heads`,
# attention, `merge_heads`, `c_proj`. The attention in the middle is section 2's composition
# (`scaled_dot_product_attention_reference` with `is_causal=True`): a matmul, a scale, the mask, a
# softmax, dropout, a matmul, each a recorded Tensor op, so autograd writes the whole backward
# for us — nothing new to derive, and nothing new to get wrong.
#
# It is not the fastest way. Between `c_attn` and `c_proj` it records about twenty graph nodes,
# keeps the scores, the shifted scores, the exponentials and the weights alive for backward, and
# in backward each of the three slices of the packed `(B, T, 3E)` projection allocates a zero
# array of the whole shape to write its third into. Module 16 (acceleration) replaces the middle
# with one fused node built on section 3's `attention_forward`/`attention_backward`: q, k and v
# read as strided views of the packed projection, the output written straight into the merged
# `(B, T, E)` layout, dQ, dK, dV straight into one `(B, T, 3E)` gradient — and from 256 tokens a
# kernel that never stores the `T x T` matrix. `forward` asks for it first through module 06's
# `accelerated("fused_causal_attention", ...)`; when module 16 is not there (or
# `use_fused(False)` is on) this module's composition runs. The analysis at the end measures
# what each step of that ladder buys.
#
# The Linear layers also get a 2-D input, `(B·T, E)`: one large matrix product is faster than
# `B` products of `(T, E)` that a 3-D input turns into (and so is its weight gradient).
#
# Dropout happens twice in training, as in nanoGPT: on the attention weights (inside the
# `Function`) and on the block's output (`resid_dropout`).

# %%
#| export
def _heads_view(packed: np.ndarray, num_heads: int) -> np.ndarray:
    """(B, T, H·D) array (any row stride) -> a (B, H, T, D) view of the same memory (module 15's cache)."""
    batch, length, width = packed.shape
    return packed.reshape(batch, length, num_heads, width // num_heads).transpose(0, 2, 1, 3)


class CausalSelfAttention(Module):
    """Masked multi-head self-attention (nanoGPT): x (B, T, n_embd) -> (B, T, n_embd).

    c_attn: Linear(n_embd, 3·n_embd) makes q, k, v; c_proj: Linear(n_embd, n_embd) mixes the heads.
    block_size (optional) is the longest sequence accepted.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 block_size: int | None = None, dtype=None):
        super().__init__()
        where = "CausalSelfAttention"
        self.n_embd, self.n_head = _check_heads(n_embd, n_head, where)
        self.dropout = _check_probability(dropout, where)
        if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral)
                                       or block_size < 1):
            raise ValueError(f"{where}: block_size must be a positive int or None, got {block_size!r}")
        self.block_size = block_size
        self.c_attn = Linear(self.n_embd, 3 * self.n_embd, bias=bias, dtype=dtype)
        self.c_proj = Linear(self.n_embd, self.n_embd, bias=bias, dtype=dtype)
        self.resid_dropout = Dropout(self.dropout)

    def _check_input(self, x) -> None:
        where = "CausalSelfAttention"
        if not isinstance(x, Tensor):
            raise TypeError(f"{where}: input must be a Tensor (B, T, n_embd), got {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.n_embd:
            raise ValueError(f"{where}: input must have shape (B, T, n_embd={self.n_embd}), got {tuple(x.shape)}")
        if self.block_size is not None and x.shape[1] > self.block_size:
            raise ValueError(f"{where}: sequence length {x.shape[1]} is longer than block_size={self.block_size}; "
                             "crop the context to the last block_size tokens")

    def projections(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v for tokens x (B, T, E), each (B, H, T, D): one c_attn matmul, split, heads split off."""
        # Hint: self.c_attn(x) is (B, T, 3E); .split(n_embd, dim=2) gives q, k, v; split_heads each.
        ### BEGIN SOLUTION
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        return split_heads(q, self.n_head), split_heads(k, self.n_head), split_heads(v, self.n_head)
        ### END SOLUTION

    def forward(self, x: Tensor, kv_cache=None, layer_idx: int = 0) -> Tensor:
        """x (B, T, n_embd) -> (B, T, n_embd). kv_cache: a module-15 KVCache (inference only): x holds
        only the new tokens, their keys and values are appended to layer `layer_idx` of the cache, and
        they attend to every cached position (see modules/15_memoization)."""
        self._check_input(x)
        if kv_cache is not None:
            from tinytorch.systems.memoization import cached_attention  # module 15 made the cache

            return cached_attention(self, x, kv_cache, layer_idx)
        batch, length, width = x.shape
        # Hint: qkv = self.c_attn(x viewed as (B·T, E)) viewed as (B, T, 3E); p = self.dropout in
        #       training mode, 0.0 in eval. Module 16 may have a fused kernel: y = accelerated(
        #       "fused_causal_attention", qkv, n_head, p, default_generator()); if it is
        #       NotImplemented, compose: split qkv into q, k, v (n_embd each, dim 2), split_heads,
        #       scaled_dot_product_attention_reference(q, k, v, dropout_p=p, is_causal=True),
        #       merge_heads. Then c_proj on y viewed as (B·T, E), view back to (B, T, E); resid_dropout.
        ### BEGIN SOLUTION
        qkv = self.c_attn(x.reshape(batch * length, width)).reshape(batch, length, 3 * width)
        p = self.dropout if self.training else 0.0
        y = accelerated("fused_causal_attention", qkv, self.n_head, p, default_generator())  # module 16
        if y is NotImplemented:
            q, k, v = (split_heads(t, self.n_head) for t in qkv.split(width, dim=2))
            y = merge_heads(scaled_dot_product_attention_reference(q, k, v, dropout_p=p, is_causal=True))
        out = self.c_proj(y.reshape(batch * length, width)).reshape(batch, length, width)
        return self.resid_dropout(out)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"n_embd={self.n_embd}, n_head={self.n_head}, dropout={self.dropout}, block_size={self.block_size}"

# %%
#| test
def test_unit_causal_self_attention():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    block = CausalSelfAttention(8, 2, block_size=6)
    x = Tensor(np.random.default_rng(1).standard_normal((2, 6, 8)).astype(np.float32), requires_grad=True)
    out = block(x)
    assert out.shape == (2, 6, 8), f"(B, T, E) in, (B, T, E) out; got {out.shape}"
    out[:, 2].sum().backward()
    leaked = np.abs(x.grad.data[:, 3:]).max()
    assert leaked == 0, (f"position 2's output must not depend on positions 3.. (the future), but their gradient "
                         f"is up to {leaked:.3g}: is is_causal passed to the attention?")
    assert np.abs(x.grad.data[:, :3]).max() > 0, "position 2 does depend on positions 0..2"
    q, k, v = block.projections(x)
    assert q.shape == (2, 2, 6, 4), f"projections give (B, H, T, D) = (2, 2, 6, 4), got {q.shape}"
    unfused = block.c_proj(merge_heads(scaled_dot_product_attention(q, k, v, is_causal=True)))
    assert np.allclose(out.data, unfused.data, atol=1e-5), (
        "forward must equal projections -> scaled_dot_product_attention(is_causal) -> merge_heads -> c_proj")
    try:
        block(Tensor(np.zeros((1, 7, 8), dtype=np.float32)))
    except ValueError as error:
        assert "block_size=6" in str(error), error
    else:
        raise AssertionError("7 tokens are more than block_size=6")
    print("✅ CausalSelfAttention: (B, T, E) -> (B, T, E), no information flows from the future")


test_unit_causal_self_attention()

# %% [markdown]
# ## Analysis — attention is O(T²)
#
# Every query meets every key, so the scores (and weights) are `B·H·T·T` numbers: double the
# context and they quadruple. The FLOPs are `4·B·H·T²·D` for the two matmuls forward (about
# twice that again backward), against `24·B·T·E²` for the projections around them, so for
# short contexts the projections dominate and for long ones attention does.
#
# Below: forward+backward of `scaled_dot_product_attention` (causal) for one sequence of 4
# heads of 32 dimensions, as T grows, with the memory of one weights tensor. The time should
# grow about 4x per doubling once the matrices are large enough to keep BLAS busy.

# %%
#| analysis
import time


def median_ms(fn, repeats: int = 5) -> float:
    """Median wall-clock time of fn() over `repeats` runs, in milliseconds."""
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        fn()
        times.append(time.perf_counter() - begin)
    return sorted(times)[len(times) // 2] * 1e3


def attention_step(length: int, heads: int = 4, dim: int = 32, causal: bool = True, mask=None):
    """A function that runs one forward+backward of causal attention on (1, heads, length, dim) inputs."""
    rng = np.random.default_rng(0)
    q, k, v = (Tensor(rng.standard_normal((1, heads, length, dim), dtype=np.float32), requires_grad=True)
               for _ in range(3))
    grad = Tensor(np.ones((1, heads, length, dim), dtype=np.float32))

    def step():
        scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal).backward(grad)
    return step


lengths = [64, 128, 256, 512, 1024]
times = []
print(f"{'T':>6}{'weights MB':>12}{'fwd+bwd ms':>12}{'x prev':>8}")
for length in lengths:
    times.append(median_ms(attention_step(length), repeats=5 if length < 512 else 3))
    growth = f"{times[-1] / times[-2]:>8.1f}" if len(times) > 1 else f"{'':>8}"
    print(f"{length:>6}{4 * length * length * 4 / 2**20:>12.2f}{times[-1]:>12.2f}{growth}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    from pathlib import Path

    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.loglog(lengths, times, "o-", label="measured fwd+bwd")
    axis.loglog(lengths, [times[-1] * (t / lengths[-1]) ** 2 for t in lengths], "--", label="∝ T²")
    axis.set_xlabel("sequence length T")
    axis.set_ylabel("ms")
    axis.set_title("causal attention, 4 heads x 32 dims")
    axis.legend()
    here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    figure.savefig(here / "attention_scaling.png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    print(f"plot saved to {here / 'attention_scaling.png'}")

# %% [markdown]
# Small T is dominated by fixed costs (a few NumPy calls per head batch), so the first
# doublings cost less than 4x; once the `T x T` arrays no longer fit in the CPU's caches (a few
# MiB) every pass over them goes to main memory and a doubling can cost *more* than 4x.
#
# At T = 1024 one weights tensor of 4 heads is 16 MiB; a GPT-2-sized model (12 heads, 12
# layers, batch 8) keeps `8·12·12·1024²·4` bytes ≈ 4.5 GiB of them for backward. That is why
# long-context models use *FlashAttention*: it computes the softmax block by block, never
# stores the full `T x T` matrix, and recomputes it during backward.
#
# ### What the causal mask costs
#
# Masking does not skip work here: we compute all `T²` scores and then throw half away. The
# mask itself is one more pass over the scores. Measured: no mask, `is_causal` (a cached
# additive mask), and the same mask given as a bool `attn_mask` (converted to a float mask on
# every call).

# %%
#| analysis
length = 256
bool_causal = Tensor(causal_mask(length))
for label, step in [("no mask", attention_step(length, causal=False)),
                    ("is_causal=True", attention_step(length)),
                    ("bool attn_mask", attention_step(length, causal=False, mask=bool_causal))]:
    print(f"{label:<16}{median_ms(step, repeats=9):>8.2f} ms   (T={length}, 4 heads)")
print(f"useful scores with the causal mask: {(length + 1) / (2 * length):.1%} of the {length}x{length} computed")

# %% [markdown]
# The mask is one elementwise pass among the softmax's five or six, so its own cost is a small
# fraction, within the noise of the measurement (the bool mask also pays for its conversion);
# but half of the matmul work computes scores that are then masked. Kernels that skip the
# masked blocks (FlashAttention again) get close to 2x on long causal sequences; with NumPy the
# whole-matrix matmul is still the fastest thing we can call.
#
# ### Why softmax subtracts the maximum
#
# `softmax(s) = exp(s) / Σ exp(s)`: in float32, `exp` overflows to `inf` above about 88.7, and
# `inf / inf` is `nan`. Scores that large are normal — without the `1/√E` scale a dot product of
# two 1024-dimensional vectors with entries of size 1 is easily ±100 — and after training,
# sharp attention heads produce large scores even with it. Subtracting the row maximum changes
# nothing mathematically (`exp(s−m)/Σexp(s−m)` is the same fraction) but makes the largest
# exponent `exp(0) = 1`.

# %%
#| analysis
import warnings

rng = np.random.default_rng(0)
qv, kv = (rng.standard_normal((4, 1024), dtype=np.float32) for _ in range(2))
for label, scale in [("unscaled q·k", 1.0), ("q·k / sqrt(1024)", 1 / 32)]:
    scores = (qv @ kv.T) * scale
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        naive = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    stable = softmax_(scores.copy())
    print(f"{label:<18} max |score| {np.abs(scores).max():7.1f}   naive softmax: {np.isnan(naive).sum():2d} nan of "
          f"{naive.size}   stable: {np.isnan(stable).sum()} nan, rows sum to {stable.sum(-1).round(4)}")
big = np.array([[1000.0, 999.0, 0.0]], dtype=np.float32)
with np.errstate(over="ignore"):
    overflow = np.exp(big)
print(f"scores [1000, 999, 0]: exp gives {overflow[0]}, the stable softmax {softmax_(big.copy())[0].round(4)}")

# %% [markdown]
# Unscaled scores of size ~30–100 already break the naive formula in float32; the stable one
# gives the right weights (`[0.73, 0.27, 0]` for `[1000, 999, 0]`: only differences matter).
#
# ### The layout trick and the block's paths, measured
#
# First the reason for computing the scores transposed: the row maximum of `(B·H·T, 64)` scores
# along the short rows, and the same maximum across rows of the transposed array.

# %%
#| analysis
scores = np.random.default_rng(0).standard_normal((12, 4, 64, 64), dtype=np.float32)
scores_t = np.ascontiguousarray(scores.swapaxes(-1, -2))
along = median_ms(lambda: scores.max(axis=-1, keepdims=True), repeats=21)
across = median_ms(lambda: scores_t.max(axis=-2, keepdims=True), repeats=21)
print(f"max along rows of 64 (axis -1): {along:.3f} ms   across rows (axis -2): {across:.3f} ms   "
      f"-> {along / across:.1f}x")

# %% [markdown]
# Then forward+backward of the Shakespeare GPT's attention block, `B=12, T=64, E=128, H=4`
# (module 13), with two middles between `projections` and `merge_heads`: section 2's composed
# ops (what `forward` runs without module 16) and section 3's one `Function`. Module 16 measures
# its fused node against both; `benchmarks/attention_step.py` prints all of them side by side and
# `benchmarks/gpt_step.py` compares the whole training step with PyTorch.

# %%
#| analysis
from tinytorch.core.tensor import manual_seed

manual_seed(0)
block = CausalSelfAttention(128, 4)
x = Tensor(np.random.default_rng(0).standard_normal((12, 64, 128), dtype=np.float32), requires_grad=True)
grad = Tensor(np.ones((12, 64, 128), dtype=np.float32))


def readable(attend):
    """Forward+backward through projections -> attend -> merge_heads -> c_proj."""
    def step():
        q, k, v = block.projections(x)
        block.c_proj(merge_heads(attend(q, k, v, is_causal=True))).backward(grad)
    return step


results = {"composed ops (section 2)": median_ms(readable(scaled_dot_product_attention_reference), repeats=11),
           "one Function (section 3)": median_ms(readable(scaled_dot_product_attention), repeats=11)}
for label, ms in results.items():
    print(f"{label:<30}{ms:>8.2f} ms   {ms / results['composed ops (section 2)']:.2f}x of the composition")

# %% [markdown]
# ## Reflection
#
# **Q1.** `scaled_dot_product_attention` saves `Q, K, V` and the weights `P` for backward, not
# the scores. Why is `P` enough? For the Shakespeare GPT (4 layers, B=12, H=4, T=64), how many
# MB of weights does one training step keep alive? And at T=1024?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** Without the `1/√E` scale, attention still "works" in float64. What goes wrong during
# *training* as E grows, even when nothing overflows? (Think about the softmax's gradient when
# one weight is almost 1.)

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** `F.scaled_dot_product_attention` treats a bool `True` as "may attend";
# `nn.MultiheadAttention` treats it as "may not". Port a line of code from one to the other:
# what single character changes? Which convention would you pick for a new library, and why
# is a float mask unambiguous?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** During generation a GPT produces one token at a time. Without a cache, producing
# token `t` recomputes q, k, v for all `t` earlier tokens. With a cache of k and v, what does
# one step compute, with what shapes, and how does the cost of generating `T` tokens change?
# (Module 15 builds it on `projections()`.)

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - Attention is `softmax(Q·Kᵀ/√E + M)·V`: each query takes a weighted average of the values,
#   weighted by how well it matches each key. Bool masks (`True` = may attend), float masks
#   (added) and `is_causal` (lower triangle) all become an additive `M`; fully masked rows give
#   zeros, as in PyTorch.
# - Backward is four matmuls around the softmax Jacobian-vector product
#   `dS = P ⊙ (dP − rowsum(dP ⊙ P))`; as one `Function` it keeps only `Q, K, V, P` and runs in
#   place, vectorised over batch and heads.
# - Heads split the width into `H` independent attentions at no extra FLOPs.
#   `MultiheadAttention` keeps PyTorch's layout and mask conventions; `CausalSelfAttention` is
#   nanoGPT's block with one qkv projection, composed from Tensor ops (module 16 replaces its
#   middle with a fused node, and with a blocked kernel for long sequences).
# - Time and memory grow as `T²`; the causal mask wastes half the scores; softmax must subtract
#   the maximum.
# - Next: module 13 stacks attention, an MLP and layer norms into transformer blocks and a GPT.
