# Generated from modules/12_attention/attention.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.core.activations import softmax
from tinytorch.core.autograd import Function
from tinytorch.core.layers import Dropout, Linear, Module, Parameter, _check_probability, dropout, xavier_uniform_
from tinytorch.core.optimizers import accelerated
from tinytorch.core.tensor import Tensor, broadcast_shapes, default_generator, matmul_arrays


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


def _attention_weights(query: Tensor, key: Tensor, attn_mask: Tensor | None, is_causal: bool,
                       scale: float) -> Tensor:
    """softmax(query·keyᵀ·scale + mask) (..., L, S), composed from recorded tensor ops."""
    # Hint: scores = (query @ key.transpose(-2, -1)) * scale; a bool mask keeps its True
    #       entries: scores.masked_fill(~mask, -inf) (for is_causal the mask is
    #       Tensor(causal_mask(L, S))); a float mask is added; softmax(scores, dim=-1).
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        attn_mask = Tensor(causal_mask(query.shape[-2], key.shape[-2]))
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            scores = scores.masked_fill(Tensor(~attn_mask.data), float("-inf"))
        else:
            scores = scores + attn_mask
    return softmax(scores, dim=-1)


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
    peak = scores.max(axis=axis, keepdims=True)
    peak[~np.isfinite(peak)] = 0
    scores -= peak
    np.exp(scores, out=scores)
    total = scores.sum(axis=axis, keepdims=True)
    total[total == 0] = 1
    scores *= np.reciprocal(total, out=total)
    return scores


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
    batch, length, width = x.shape
    return x.view(batch, length, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, D) -> (B, T, H·D): the inverse of split_heads (a copy only if x's layout needs one)."""
    # Hint: transpose dimensions 1 and 2, then reshape to (B, T, H·D) (reshape copies only when
    #       the memory layout requires it).
    batch, heads, length, dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * dim)


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
        xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            self.in_proj_bias.data[...] = 0
            self.out_proj.bias.data[...] = 0

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

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")


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
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        return split_heads(q, self.n_head), split_heads(k, self.n_head), split_heads(v, self.n_head)

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
        qkv = self.c_attn(x.reshape(batch * length, width)).reshape(batch, length, 3 * width)
        p = self.dropout if self.training else 0.0
        y = accelerated("fused_causal_attention", qkv, self.n_head, p, default_generator())  # module 16
        if y is NotImplemented:
            q, k, v = (split_heads(t, self.n_head) for t in qkv.split(width, dim=2))
            y = merge_heads(scaled_dot_product_attention_reference(q, k, v, dropout_p=p, is_causal=True))
        out = self.c_proj(y.reshape(batch * length, width)).reshape(batch, length, width)
        return self.resid_dropout(out)

    def extra_repr(self) -> str:
        return f"n_embd={self.n_embd}, n_head={self.n_head}, dropout={self.dropout}, block_size={self.block_size}"
