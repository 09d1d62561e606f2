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
# # Module 15 — Memoization: the KV cache that makes generation fast
#
# Module 13's `GPT.generate` writes one token at a time, and for every token it runs the whole
# model over the whole context again. Token 500 pays for 500 positions, although 499 of them
# were already computed — with the same weights, on the same tokens — in the step before. The
# attention of a decoder is causal: what position `i` computes depends only on positions `≤ i`,
# so nothing about the old positions changes when a new token arrives. Their keys and values can
# be **memoized**: computed once, stored, and read back. That store is the **KV cache**, and it
# is the single most important optimisation in every LLM server.
#
# **You will learn to**
#
# 1. count the work per generated token with and without a cache (O(T²·d) against O(T·d) over a
#    context of T tokens) and measure it on your machine;
# 2. build a `KVCache`: preallocated `(batch, heads, max_len, head_dim)` arrays per layer and a
#    length counter, with `update()` that appends new keys and values and returns views;
# 3. write the **offset causal mask** that new queries need when they attend to cached keys (the
#    top-left mask of `is_causal` is wrong there);
# 4. run attention for the new tokens only, and a cached generation step (prefill once, then one
#    token per step), and prove it produces **identical tokens** to the uncached loop;
# 5. account for the cache's memory against context and batch, and say why long-context serving
#    is limited by memory, not FLOPs.
#
# **Prerequisites:** modules 01–07 and 11–13 (`Tensor`, `Module`, `no_grad`, `CausalSelfAttention`,
# `GPT`). **Exports to:** `tinytorch/systems/memoization.py`, re-exported by `tinytorch.systems`.
# `GPT.generate(..., use_cache=True)` (the default) uses this module.

# %%
#| default_exp systems.memoization

# %%
#| export
from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.core.tensor import Tensor, default_generator, is_grad_enabled
from tinytorch.text.attention import _heads_view, attention_forward

# %% [markdown]
# ## 1. Where the time goes without a cache
#
# Generating with module 13's loop, step `t` feeds the context `x₀ … x_{t-1}` (T = t tokens)
# through every layer. Per layer, that is
#
# - the projections and the MLP on **all T positions**: `≈ 24·T·d²` FLOPs (q, k, v, output: 4d²
#   per position; MLP: 8d²; times 2 for multiply-add), and
# - attention over a **T × T** score matrix: `≈ 4·T²·d` FLOPs.
#
# Only the last position's logits are used. So one new token costs `O(T·d² + T²·d)`, and a whole
# generation of N tokens `O(N²·d² + N³·d)`: doubling the length makes it 4–8 times slower.
#
# With a cache, step t feeds **only the new token**. Its query must still meet every earlier key
# and value, but those were computed in earlier steps and sit in the cache:
#
# ```
#   uncached step t:   x₀ x₁ … x_{t-1}  ──all layers──▶  K, V, Q for t positions  ──▶ last logits
#                      (t positions recomputed, t-1 of them exactly as in step t-1)
#
#   cached step t:     x_{t-1} ──layer ℓ──▶ q, k, v (1 position) ─┐
#                                                                 ▼ append k, v at slot t-1
#   cache, layer ℓ:    K: [k₀ k₁ k₂ … k_{t-2} │ k_{t-1} │ · · · · · ]   (max_len slots, preallocated)
#                      V: [v₀ v₁ v₂ … v_{t-2} │ v_{t-1} │ · · · · · ]
#                          └──── filled in earlier steps ───┘  └ free ┘
#                      q · [k₀ … k_{t-1}]ᵀ → softmax → · [v₀ … v_{t-1}]   (1 × t scores)
# ```
#
# Per token and layer: `≈ 24·d²` for the projections and MLP (one position) plus `≈ 4·T·d` for
# the attention — **O(T·d)** in the context instead of O(T²·d), and no longer any T in the
# matmul part at all. The price is memory: every layer keeps `2 · T · d` floats per sequence.
#
# The first step is special: the prompt (P tokens) has no cached keys yet, so it runs through
# the model in one go and fills the first P slots — the **prefill**. Every later step is a
# **decode** step of one token.

# %% [markdown]
# ## 2. The cache: preallocated arrays and a length counter
#
# Appending with `np.concatenate` would copy the whole cache every step — O(T) bytes per token,
# O(N²) over a generation, and a fresh allocation each time. Instead, the cache allocates each
# layer's keys and values **once**, at the longest length it will hold, and keeps a counter of
# the slots in use. `update(layer, k, v)` copies the new `(B, H, T_new, D)` keys and values into
# the next free slots and returns **views** `[:, :, :length]` of everything stored so far — no
# copy of the old entries, ever.
#
# The cache is for **inference only**: its arrays have no autograd history, so gradients could
# never flow into the stored keys. `update` refuses to run while grad mode is on (`GPT.generate`
# runs under `no_grad()`), and it checks that the batch size, head count, head size and dtype
# are the ones the cache was made for.
#
# **When the cache is full** it does not silently slide: `update` raises. A GPT with learned
# position embeddings (ours) computes every key from `token + position`; once the context passes
# `block_size`, module 13's loop crops it to the last `block_size` tokens, which **shifts the
# position of every kept token**, so every cached key is stale. Section 5 handles that case
# correctly: it starts again from the cropped window.

# %%
#| export
def _check_count(value, name: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class KVCache:
    """Keys and values of every layer for the positions seen so far, for inference.

    Per layer: keys and values of shape (batch_size, n_head, max_len, head_dim), allocated once;
    `length` slots are in use. update(layer, k, v) appends (B, H, T_new, D) and returns
    (B, H, length, D) views. Memory: 2 · n_layer · n_head · head_dim · itemsize bytes per position
    of each sequence (`bytes_per_token`).
    """

    def __init__(self, n_layer: int, batch_size: int, n_head: int, max_len: int, head_dim: int,
                 dtype=np.float32):
        where = "KVCache"
        self.n_layer = _check_count(n_layer, "n_layer", where)
        self.batch_size = _check_count(batch_size, "batch_size", where)
        self.n_head = _check_count(n_head, "n_head", where)
        self.max_len = _check_count(max_len, "max_len", where)
        self.head_dim = _check_count(head_dim, "head_dim", where)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"{where}: dtype must be a floating-point type, got {self.dtype}")
        shape = (self.batch_size, self.n_head, self.max_len, self.head_dim)
        # np.empty: the slots are always written before they are read, so zero-filling is wasted work.
        self.keys = [np.empty(shape, dtype=self.dtype) for _ in range(self.n_layer)]
        self.values = [np.empty(shape, dtype=self.dtype) for _ in range(self.n_layer)]
        self.lengths = [0] * self.n_layer

    @classmethod
    def for_model(cls, model, batch_size: int, max_len: int | None = None) -> "KVCache":
        """A cache sized for a GPT (its config's n_layer, n_head, n_embd; max_len <= block_size)."""
        c = model.config
        max_len = c.block_size if max_len is None else _check_count(max_len, "max_len", "KVCache.for_model")
        if max_len > c.block_size:
            raise ValueError(f"KVCache.for_model: max_len {max_len} is longer than the model's block_size "
                             f"{c.block_size}; its position table has no entries beyond that")
        dtype = next(iter(model.parameters())).dtype
        return cls(c.n_layer, batch_size, c.n_head, max_len, c.n_embd // c.n_head, dtype)

    @property
    def length(self) -> int:
        """Positions stored (the same in every layer after a complete forward)."""
        return self.lengths[0]

    def reset(self) -> None:
        """Forget every stored position (the memory stays allocated for reuse)."""
        self.lengths = [0] * self.n_layer

    @property
    def bytes_per_token(self) -> int:
        """Bytes one position of one sequence takes: keys and values, every layer."""
        return 2 * self.n_layer * self.n_head * self.head_dim * self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes allocated (all max_len slots of the whole batch)."""
        return self.bytes_per_token * self.batch_size * self.max_len

    @property
    def used_bytes(self) -> int:
        """Bytes holding stored positions."""
        return self.bytes_per_token * self.batch_size * self.length

    def _check_new(self, layer, key, value) -> int:
        """The number of new positions, after checking layer, key and value; raises a clear error otherwise."""
        where = "KVCache.update"
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer < self.n_layer:
            raise ValueError(f"{where}: layer must be an int in [0, {self.n_layer}), got {layer!r}")
        expected = (self.batch_size, self.n_head, "T_new", self.head_dim)
        for name, t in (("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{where}: {name} must be a Tensor (B, H, T_new, D), got {type(t).__name__}")
            if t.ndim != 4 or t.shape[1] != self.n_head or t.shape[3] != self.head_dim or t.shape[2] < 1:
                raise ValueError(f"{where}: {name} must have shape {expected}, got {tuple(t.shape)}")
            if t.shape[0] != self.batch_size:
                raise ValueError(f"{where}: this cache was made for batch size {self.batch_size}, got a {name} "
                                 f"for batch size {t.shape[0]}; make a new KVCache for the new batch")
            if t.dtype != self.dtype:
                raise TypeError(f"{where}: {name} has dtype {t.dtype}, the cache holds {self.dtype}; "
                                "convert it (or make the cache with that dtype)")
        if key.shape != value.shape:
            raise ValueError(f"{where}: key and value must have one shape, got {tuple(key.shape)} and "
                             f"{tuple(value.shape)}")
        if is_grad_enabled() and (key.requires_grad or value.requires_grad):
            raise RuntimeError(f"{where}: the KV cache is for inference: stored keys keep no autograd history, "
                               "so run the model under tinytorch.no_grad() (GPT.generate does)")
        new = key.shape[2]
        if self.lengths[layer] + new > self.max_len:
            raise ValueError(f"{where}: layer {layer} holds {self.lengths[layer]} of {self.max_len} positions; "
                             f"{new} more do not fit. The cache does not slide: reset() it and run the last "
                             f"{self.max_len} tokens again (or make a longer cache)")
        return new

    def update(self, layer: int, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Append key, value (B, H, T_new, D) to `layer`; return all its keys and values (B, H, length, D).

        The results are views of the cache's arrays (no copy of the old positions).
        """
        new = self._check_new(layer, key, value)
        start = self.lengths[layer]
        # Hint: the new entries go into slots start … start + new - 1 of self.keys[layer] and
        #       self.values[layer] (axis 2), copied from key.data and value.data; then advance
        #       self.lengths[layer] by `new`, and return Tensors wrapping the views [:, :, :end]
        #       (Tensor(array) shares the array, it does not copy).
        ### BEGIN SOLUTION
        end = start + new
        self.keys[layer][:, :, start:end] = key.data
        self.values[layer][:, :, start:end] = value.data
        self.lengths[layer] = end
        return Tensor(self.keys[layer][:, :, :end]), Tensor(self.values[layer][:, :, :end])
        ### END SOLUTION

    def __repr__(self) -> str:
        return (f"KVCache(n_layer={self.n_layer}, batch_size={self.batch_size}, n_head={self.n_head}, "
                f"max_len={self.max_len}, head_dim={self.head_dim}, length={self.length}, "
                f"dtype={self.dtype}, {self.nbytes / 2**20:.2f} MiB)")


# %%
#| test
def test_unit_kv_cache_update():
    cache = KVCache(n_layer=2, batch_size=2, n_head=3, max_len=5, head_dim=4)
    rng = np.random.default_rng(0)
    first = rng.standard_normal((2, 3, 2, 4)).astype(np.float32)
    second = rng.standard_normal((2, 3, 1, 4)).astype(np.float32)
    k_all, v_all = cache.update(0, Tensor(first), Tensor(first * 2))
    assert tuple(k_all.shape) == (2, 3, 2, 4), f"after 2 positions the keys are (B, H, 2, D), got {k_all.shape}"
    k_all, v_all = cache.update(0, Tensor(second), Tensor(second * 2))
    assert tuple(k_all.shape) == (2, 3, 3, 4), (f"appending 1 position to 2 gives (B, H, 3, D), got {k_all.shape}: "
                                                "does update advance self.lengths[layer]?")
    assert np.array_equal(k_all.data, np.concatenate([first, second], axis=2)), (
        "the keys must be the old ones followed by the new ones, in order along axis 2")
    assert np.array_equal(v_all.data, 2 * k_all.data), "values are stored next to their keys, in the values arrays"
    assert np.shares_memory(k_all.data, cache.keys[0]), "return views of the cache's arrays, not copies"
    assert cache.lengths == [3, 0], f"only layer 0 was updated: lengths should be [3, 0], got {cache.lengths}"
    cache.reset()
    assert cache.length == 0 and tuple(cache.update(0, Tensor(second), Tensor(second))[0].shape) == (2, 3, 1, 4)
    print("KVCache.update: appends in order, returns views, counts per layer")


test_unit_kv_cache_update()

# %% [markdown]
# ## 3. The offset causal mask
#
# In module 12, `is_causal=True` lets query `i` see keys `0 … i`: a lower triangle whose corner
# is at the **top left**. That is right when queries and keys are the same T positions. With a
# cache they are not: `T_new` new queries sit at positions `S − T_new … S − 1` of the `S` keys.
# Query `i` (counted among the new ones) is at position `S − T_new + i` and may see keys
# `0 … S − T_new + i` — the triangle's corner moves to the **bottom right**:
#
# ```
#   is_causal (top-left), T_new=3, S=5     what the cache needs (bottom-right)
#        keys 0 1 2 3 4                          keys 0 1 2 3 4
#   q0        ■ · · · ·                     q0 (pos 2) ■ ■ ■ · ·
#   q1        ■ ■ · · ·   wrong: q0 would   q1 (pos 3) ■ ■ ■ ■ ·
#   q2        ■ ■ ■ · ·   not see its past  q2 (pos 4) ■ ■ ■ ■ ■
# ```
#
# In a decode step (`T_new = 1`) the single query may see **every** key: no mask at all, which
# the function says by returning `None` (attention then skips the masking work).

# %%
#| export
def offset_causal_mask(new_tokens: int, total: int) -> np.ndarray | None:
    """(new_tokens, total) bool mask, True where new query i (at position total - new_tokens + i)
    may see key j, i.e. j <= total - new_tokens + i; None when new_tokens == 1 (it sees every key)."""
    where = "offset_causal_mask"
    new_tokens = _check_count(new_tokens, "new_tokens", where)
    total = _check_count(total, "total", where)
    if new_tokens > total:
        raise ValueError(f"{where}: new_tokens ({new_tokens}) cannot exceed total ({total}): the new "
                         "tokens' keys are part of the total")
    # Hint: np.tri(N, M, k, dtype=bool) is True where column j <= row i + k; the offset k is the
    #       number of keys cached before the new tokens.
    ### BEGIN SOLUTION
    if new_tokens == 1:
        return None
    return np.tri(new_tokens, total, total - new_tokens, dtype=bool)
    ### END SOLUTION


# %%
#| test
def test_unit_offset_causal_mask():
    mask = offset_causal_mask(3, 5)
    expected = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=bool)
    assert mask is not None and mask.shape == (3, 5), f"3 new tokens, 5 keys: a (3, 5) mask, got {mask}"
    assert np.array_equal(mask, expected), (f"new query 0 sits at position 2 and sees keys 0..2; got\n"
                                            f"{mask.astype(int)}\nexpected\n{expected.astype(int)}")
    assert np.array_equal(offset_causal_mask(4, 4), np.tril(np.ones((4, 4), dtype=bool))), (
        "with nothing cached (prefill), the mask is the ordinary causal triangle")
    assert offset_causal_mask(1, 7) is None, "one new token may see every key: return None"
    print("offset_causal_mask: the triangle's corner sits at the bottom right")


test_unit_offset_causal_mask()

# %% [markdown]
# ## 4. Attention for the new tokens only
#
# `CausalSelfAttention.forward(x, kv_cache, layer_idx)` (module 12) hands a cached call to
# `cached_attention`: `x` holds only the new tokens `(B, T_new, E)`. Their q, k, v come from the
# same `c_attn` projection as always (each `(B, H, T_new, D)`); the new k and v are appended to
# the cache, and the new queries attend to **all** cached keys and values with the offset mask.
# Then the heads are merged and `c_proj` mixes them, exactly as in the uncached path — so the
# result for the new positions must be the same numbers.
#
# In Tensor ops that is `c_proj(merge_heads(scaled_dot_product_attention(q, k_all, v_all,
# attn_mask=mask)))` with `q, k, v = attn.projections(x)`. A decode step, though, does so little
# arithmetic (one position) that the *bookkeeping* of a dozen Tensor ops per layer — shape
# parsing, views, checks — costs as much as the matmuls. Since no graph is recorded, we do what
# module 12's `FusedCausalAttention` does: take the heads as strided views of the packed
# `(B, T_new, 3E)` projection and call the array function `attention_forward` directly, writing
# its output straight into the merged `(B, T_new, E)` layout.

# %%
#| export
def cached_attention(attn, x: Tensor, cache: KVCache, layer_idx: int) -> Tensor:
    """CausalSelfAttention on new tokens x (B, T_new, E) with a KV cache -> (B, T_new, E).

    Appends the new keys and values to layer `layer_idx` of `cache`; the new queries attend to every
    cached position (offset causal mask). Inference only: raises under grad mode.
    """
    if is_grad_enabled():
        raise RuntimeError("CausalSelfAttention: a KV cache is for inference: its keys keep no autograd history, "
                           "so call the model under tinytorch.no_grad() (GPT.generate does)")
    if not all(hasattr(cache, name) for name in ("update", "lengths", "max_len")):  # a KVCache, or one like it
        raise TypeError(f"CausalSelfAttention: kv_cache must be a KVCache (module 15), got {type(cache).__name__}")
    batch, new, width = x.shape
    heads = attn.n_head
    dropout_p = attn.dropout if attn.training else 0.0
    # No graph is recorded here, so the work runs on arrays, as in FusedCausalAttention (module 12):
    # every Tensor op a decode step avoids is Python overhead saved on each token of each layer.
    # Hint: qkv = attn.c_attn(x viewed as (B·T_new, E)).data viewed as (B, T_new, 3E); q, k, v =
    #       _heads_view(its thirds, heads) (views, (B, H, T_new, D)); k_all, v_all =
    #       cache.update(layer_idx, Tensor(k), Tensor(v)); the offset mask as an additive bias
    #       (0 where True, -inf where False; None stays None); out = np.empty((B, T_new, E));
    #       attention_forward(q, k_all.data, v_all.data, bias, 1/sqrt(D), False, dropout_p,
    #       default_generator(), out=_heads_view(out, heads)); then c_proj on Tensor(out) viewed as
    #       (B·T_new, E), viewed back to (B, T_new, E), and attn.resid_dropout.
    ### BEGIN SOLUTION
    qkv = attn.c_attn(x.reshape(batch * new, width)).data.reshape(batch, new, 3 * width)
    q, k, v = (_heads_view(qkv[..., i * width:(i + 1) * width], heads) for i in range(3))
    k_all, v_all = cache.update(layer_idx, Tensor(k), Tensor(v))
    mask = offset_causal_mask(new, k_all.shape[2])
    bias = None if mask is None else np.where(mask, 0, -np.inf).astype(qkv.dtype)
    out = np.empty((batch, new, width), dtype=qkv.dtype)
    attention_forward(q, k_all.data, v_all.data, bias, 1.0 / math.sqrt(width // heads), False, dropout_p,
                      default_generator(), out=_heads_view(out, heads))
    mixed = attn.c_proj(Tensor(out).reshape(batch * new, width)).reshape(batch, new, width)
    return attn.resid_dropout(mixed)
    ### END SOLUTION


# %%
#| test
def test_unit_cached_attention():
    from tinytorch.core.autograd import no_grad
    from tinytorch.core.tensor import manual_seed
    from tinytorch.text.attention import CausalSelfAttention

    manual_seed(0)
    block = CausalSelfAttention(8, 2, block_size=6).eval()
    x = Tensor(np.random.default_rng(1).standard_normal((2, 6, 8)).astype(np.float32))
    cache = KVCache(n_layer=1, batch_size=2, n_head=2, max_len=6, head_dim=4)
    with no_grad():
        full = block(x).data
        parts = [block(x[:, :3], kv_cache=cache).data]  # a 3-token prefill ...
        parts += [block(x[:, 3:5], kv_cache=cache).data]  # ... 2 tokens more (offset 3) ...
        parts += [block(x[:, 5:], kv_cache=cache).data]  # ... and one decode step
    cached = np.concatenate(parts, axis=1)
    worst = np.abs(cached - full).max()
    wrong = sorted(set(np.argwhere(np.abs(cached - full) > 1e-5)[:, 1].tolist()))
    assert worst < 1e-5, (f"feeding the tokens in pieces through the cache must give the uncached output; the "
                          f"largest difference is {worst:.3g}, at positions {wrong}: check the offset mask and "
                          "that the new queries see every cached key")
    assert cache.length == 6, f"6 tokens went in, the cache should hold 6, holds {cache.length}"
    print(f"cached_attention: pieces through the cache = one uncached pass (max difference {worst:.1e})")


test_unit_cached_attention()

# %% [markdown]
# ## 5. The cached generation step
#
# `GPT.forward(idx, kv_cache=cache)` (module 13) embeds the new tokens at positions
# `cache.length …` and passes the cache to each block with its layer index. `GPT.generate`
# (default `use_cache=True`) then needs one decision per step, which `next_token_logits` makes:
#
# - the cache holds exactly the tokens before the last one (and the context still fits): feed
#   **only the last token** — a decode step;
# - otherwise (the first step, or a context that has grown past the cache's `max_len`, which is
#   at most `block_size`): `reset()` and feed the last `max_len` tokens — a **prefill**.
#
# The second rule is what keeps the tokens identical to module 13's loop past `block_size`: that
# loop crops the context, which moves every kept token to a new position, so the cache starts
# again from the cropped window. From then on every step is a prefill of `block_size` tokens —
# as slow as the uncached loop (but never wrong). Models meant to generate far past their window
# use position schemes whose keys do not depend on the absolute position (rotary or ALiBi, with
# a sliding window over the cache); ours does not, so we do not pretend.

# %%
#| export
def next_token_logits(model, tokens: np.ndarray, cache: KVCache) -> np.ndarray:
    """Logits (B, V) of the position after `tokens` (B, T) int64, using and updating `cache`.

    Feeds only the last token when the cache holds tokens[:, :-1] (and T fits in cache.max_len);
    otherwise resets the cache and prefills it with the last cache.max_len tokens.
    """
    where = "next_token_logits"
    if not isinstance(tokens, np.ndarray) or tokens.ndim != 2 or tokens.dtype.kind not in "iu" or tokens.shape[1] < 1:
        got = f"shape {tokens.shape}, dtype {tokens.dtype}" if isinstance(tokens, np.ndarray) else type(tokens).__name__
        raise ValueError(f"{where}: tokens must be an integer array (B, T) with T >= 1, got {got}")
    if tokens.shape[0] != cache.batch_size:
        raise ValueError(f"{where}: the cache was made for batch size {cache.batch_size}, got {tokens.shape[0]} "
                         "sequences; make a new KVCache")
    length = tokens.shape[1]
    # Hint: decode when cache.length == length - 1 and length <= cache.max_len, with new = the last
    #       column kept 2-D (tokens[:, -1:]); otherwise cache.reset() and new = the last
    #       cache.max_len columns. logits, _ = model(Tensor(new), kv_cache=cache); return the last
    #       position's logits as an array (B, V).
    ### BEGIN SOLUTION
    if cache.length == length - 1 and length <= cache.max_len:
        new = tokens[:, -1:]
    else:
        cache.reset()
        new = tokens[:, -cache.max_len:]
    logits, _ = model(Tensor(new), kv_cache=cache)
    return logits.data[:, -1, :]
    ### END SOLUTION


# %%
#| test
def test_unit_cached_generation_is_identical():
    from tinytorch.core.tensor import manual_seed
    from tinytorch.text.transformers import GPT, GPTConfig

    manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16))
    for p in model.parameters():  # larger weights than the init, so the tokens depend on the context
        p.data[...] = np.random.default_rng(1).standard_normal(p.shape).astype(np.float32) * 0.4
    start = Tensor(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64))
    for kwargs in ({"temperature": 0}, {"temperature": 0.8, "top_k": 5}):
        plain = model.generate(start, 12, use_cache=False, generator=np.random.default_rng(3), **kwargs).data
        cached = model.generate(start, 12, use_cache=True, generator=np.random.default_rng(3), **kwargs).data
        assert np.array_equal(plain, cached), (
            f"with {kwargs}, cached generation must give the uncached tokens; first difference at "
            f"position {int(np.argmax((plain != cached).any(axis=0)))} (12 new tokens, block_size 8: past position "
            "8 the context is cropped, so the cache must be reset and prefilled)")
    print("generate: cached tokens = uncached tokens (greedy and sampled, past block_size too)")


test_unit_cached_generation_is_identical()

# %% [markdown]
# ## 6. Analysis: work per generated token as the context grows
#
# The claim of section 1, measured: time one generation step at context length T, uncached (a
# forward over all T tokens) and cached (one new token against T − 1 cached ones), for a GPT of
# the milestone's size with a long `block_size`.

# %%
#| analysis
import time

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import manual_seed
from tinytorch.text.transformers import GPT, GPTConfig
from tito.plots import plot_lines


def median_ms(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


manual_seed(0)
analysis_model = GPT(GPTConfig(block_size=256, vocab_size=65, n_layer=4, n_head=4, n_embd=128)).eval()
lengths = [16, 32, 64, 128, 256]
uncached_ms, cached_ms = [], []
try:
    with no_grad():
        for t in lengths:
            context = np.random.default_rng(t).integers(0, 65, (1, t))
            uncached_ms.append(median_ms(lambda: analysis_model(Tensor(context))))
            cache = KVCache.for_model(analysis_model, 1)
            analysis_model(Tensor(context[:, :-1]), kv_cache=cache)  # the t-1 earlier positions, cached

            def decode_step():
                cache.lengths = [t - 1] * cache.n_layer  # forget the previous timing's token
                analysis_model(Tensor(context[:, -1:]), kv_cache=cache)

            cached_ms.append(median_ms(decode_step))
except NotImplementedError as error:
    print(f"skipped: {error}")
else:
    print(f"{'context T':>10} {'uncached ms':>12} {'cached ms':>10} {'speed-up':>9}")
    for t, a, b in zip(lengths, uncached_ms, cached_ms):
        print(f"{t:>10} {a:>12.2f} {b:>10.2f} {a / b:>8.1f}x")
    plot_lines("generation_step_vs_context", lengths, {"uncached": uncached_ms, "cached": cached_ms},
               xlabel="context length T", ylabel="ms per generated token", title="One generation step",
               logx=True, logy=True)

# %% [markdown]
# The uncached time grows roughly in proportion to T (and faster once the T² attention shows);
# the cached step barely moves: at these sizes it is dominated by the fixed cost of one position
# through every layer (a dozen small matrix-vector products and Python overhead), and its O(T·d)
# attention part is tiny. A whole generation of N tokens adds these up: the uncached loop is
# O(N²), the cached one O(N). `benchmarks/generation.py` measures whole generations.

# %% [markdown]
# ## 7. Analysis: what the cache costs in memory
#
# Per position of one sequence the cache holds a key and a value vector per layer:
# `2 · n_layer · n_embd · 4` bytes in float32. That is small for our models and enormous for
# real ones — and it grows with **context × batch**, while the weights are paid once.

# %%
#| analysis
def cache_megabytes(n_layer: int, n_embd: int, context: int, batch: int, itemsize: int = 4) -> float:
    return 2 * n_layer * n_embd * itemsize * context * batch / 2**20


configs = {"milestone GPT (4 x 128)": (4, 128, 0.8e6), "6 x 384": (6, 384, 10.7e6),
           "GPT-2 small (12 x 768)": (12, 768, 124e6), "Llama-2-7B-like (32 x 4096)": (32, 4096, 6.7e9)}
print(f"{'':<30} {'':>10} {'':>12}   cache MiB at context x batch")
print(f"{'model':<30} {'KiB/token':>10} {'weights MiB':>12}   {'1k x 1':>8} {'4k x 8':>9} {'32k x 32':>10}")
for name, (layers, width, params) in configs.items():
    per_token = cache_megabytes(layers, width, 1, 1) * 1024
    sizes = [cache_megabytes(layers, width, t, b) for t, b in ((1024, 1), (4096, 8), (32768, 32))]
    print(f"{name:<30} {per_token:>10.1f} {params * 4 / 2**20:>12.0f}   {sizes[0]:>8.0f} {sizes[1]:>9.0f} "
          f"{sizes[2]:>10.0f}")
measured = KVCache.for_model(analysis_model, batch_size=8)
print(f"\nmeasured: {measured!r} -> {measured.bytes_per_token} bytes per token, "
      f"{sum(a.nbytes for a in measured.keys + measured.values) / 2**20:.2f} MiB in its arrays")

contexts = [256, 1024, 4096, 16384]
plot_lines("kv_cache_memory_vs_context", contexts,
           {f"batch {b}": [cache_megabytes(12, 768, t, b) for t in contexts] for b in (1, 8, 64)},
           xlabel="context length", ylabel="MiB (GPT-2 small, float32)", title="KV cache memory",
           logx=True, logy=True)

# %% [markdown]
# For GPT-2 small the cache of one 1k-token sequence (72 MiB) is already 15% of the weights;
# at 4k × 8 it is larger than the model. For a 7B model, 32 sequences of 32k tokens need a
# terabyte of cache. During decoding each step reads the **whole** cache once (every key and
# value of every layer) to do only `4·T·d` FLOPs per layer — about one FLOP per byte, far
# below what any CPU or GPU needs to be compute-bound. Long-context generation is therefore
# **memory-bound**: its speed is set by memory bandwidth and its batch size by memory capacity.
# That is why servers store the cache in 16 or 8 bits (module 17), share keys across heads
# (grouped-query attention, module 12's `enable_gqa`), and page it in blocks.

# %% [markdown]
# ## Reflection
#
# **Q1.** A 4-layer, 128-dim GPT with block_size 512 generates 512 tokens from a 1-token
# prompt. Counting only the matmuls of the projections and the MLP (24·d² FLOPs per position and
# layer), how many FLOPs does the uncached loop spend, and how many the cached one? The measured
# speed-up is far smaller than the FLOP ratio at this size: where does the rest of a decode
# step's time go?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** Our cache refuses to slide past `max_len`, and generation past `block_size` falls back
# to prefilling the cropped window every step. Explain why keeping the old keys and simply
# dropping the oldest one would give *different* tokens from module 13's loop for our GPT, and
# what property rotary embeddings (module 11) have that makes a sliding cache reasonable.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** During training, the model sees all T positions at once and no cache is used. Why
# would a KV cache not help training, and what does a training step compute that a decode step
# does not?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** A server holds 24 GiB for caches of a GPT-2-small-sized model. How many concurrent
# 2,048-token conversations fit in float32, and how many with an 8-bit cache? Which of the two
# resources — memory or FLOPs — runs out first as you add users?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - Without a cache, generating token t recomputes all t positions: O(T·d² + T²·d) per token,
#   O(N²) over a generation. Causality makes old keys and values final, so they can be memoized.
# - `KVCache` preallocates `(batch, heads, max_len, head_dim)` keys and values per layer, appends
#   with `update()` and returns views; it refuses grad mode, wrong shapes, batch sizes and dtypes,
#   and a full cache.
# - New queries attend to cached keys through the **offset causal mask** (corner at the bottom
#   right); a single decode token needs no mask.
# - `GPT.generate(use_cache=True)` prefills once and then feeds one token per step; past
#   `block_size` it prefills the cropped window, so its tokens equal the uncached loop's exactly.
# - The cache costs `2·n_layer·d` floats per token and sequence, and decoding reads all of it
#   every step: long contexts are memory-bound.
# - Next: module 16 (acceleration) makes the remaining work faster — vectorized and fused kernels,
#   memory layout, and attention computed in blocks.
