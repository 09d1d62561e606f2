# Generated from modules/15_memoization/memoization.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.core.tensor import Tensor, default_generator, is_grad_enabled
from tinytorch.text.attention import _heads_view, attention_forward


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
        end = start + new
        self.keys[layer][:, :, start:end] = key.data
        self.values[layer][:, :, start:end] = value.data
        self.lengths[layer] = end
        return Tensor(self.keys[layer][:, :, :end]), Tensor(self.values[layer][:, :, :end])

    def __repr__(self) -> str:
        return (f"KVCache(n_layer={self.n_layer}, batch_size={self.batch_size}, n_head={self.n_head}, "
                f"max_len={self.max_len}, head_dim={self.head_dim}, length={self.length}, "
                f"dtype={self.dtype}, {self.nbytes / 2**20:.2f} MiB)")


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
    if new_tokens == 1:
        return None
    return np.tri(new_tokens, total, total - new_tokens, dtype=bool)


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
    if cache.length == length - 1 and length <= cache.max_len:
        new = tokens[:, -1:]
    else:
        cache.reset()
        new = tokens[:, -cache.max_len:]
    logits, _ = model(Tensor(new), kv_cache=cache)
    return logits.data[:, -1, :]
