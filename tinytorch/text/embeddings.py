# Generated from modules/11_embeddings/embeddings.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import numbers

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.layers import Module, Parameter, normal_
from tinytorch.core.tensor import Tensor, stack


def _check_ids(ids, num_embeddings: int, where: str) -> np.ndarray:
    """The integer array behind `ids` (a Tensor or ndarray), every entry in [0, num_embeddings)."""
    data = ids.data if isinstance(ids, Tensor) else ids
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{where}: input must be a Tensor of integer token ids, got {type(ids).__name__}")
    if data.dtype.kind not in "iu":
        raise TypeError(f"{where}: input must hold integer token ids (int64, like torch.long), got dtype "
                        f"{data.dtype}; convert with ids.long() if the values are whole numbers")
    if data.size:
        low, high = data.min(), data.max()
        if low < 0 or high >= num_embeddings:
            bad = int(low) if low < 0 else int(high)
            raise IndexError(f"{where}: token id {bad} is out of range for a table of num_embeddings="
                             f"{num_embeddings} rows (valid ids are 0..{num_embeddings - 1}); does the "
                             "tokenizer's vocab_size match the model's?")
    return data


def _check_size(value, name: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _check_padding_idx(padding_idx, num_embeddings: int, where: str) -> int | None:
    """None, or a row in [0, num_embeddings); negative values count from the end, as in PyTorch."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"{where}: padding_idx must be an int or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{where}: padding_idx must be within num_embeddings ({num_embeddings}), "
                         f"got {padding_idx}")
    return int(padding_idx) % num_embeddings


def embedding_backward_reference(ids: np.ndarray, grad_out: np.ndarray, num_embeddings: int) -> np.ndarray:
    """dL/dweight for out = weight[ids]: row v is the sum of grad_out[n] over every n with ids[n] == v.

    ids: (N,) ints in [0, num_embeddings); grad_out: (N, D) -> (num_embeddings, D), grad_out's dtype.
    The clear version (np.add.at): the oracle the fast one is tested against.
    """
    # Hint: start from zeros of shape (num_embeddings, D); np.add.at(table, row_indices, values)
    #       adds values[n] into table[row_indices[n]] one by one, so repeats accumulate.
    grad_weight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    np.add.at(grad_weight, ids, grad_out)
    return grad_weight


_ONE_HOT_MAX_VOCAB = 256  # above this the sort-based accumulation wins (see the analysis)
_ONE_HOT_MAX_ELEMENTS = 1 << 22  # never build a one-hot matrix larger than 16 MiB of float32


def _accumulate_sorted(ids: np.ndarray, grad_out: np.ndarray, num_embeddings: int) -> np.ndarray:
    """Sort-based accumulation (large vocabularies): first row of each run copied, repeats summed."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    is_first = np.empty(ids.size, dtype=bool)
    is_first[:1] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=is_first[1:])
    grad_weight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    grad_weight[sorted_ids[is_first]] = grad_out[order[is_first]]
    repeats = ~is_first
    if repeats.any():
        repeat_ids, repeat_rows = sorted_ids[repeats], order[repeats]
        starts = np.flatnonzero(np.r_[True, repeat_ids[1:] != repeat_ids[:-1]])
        sums = np.add.reduceat(grad_out[repeat_rows], starts, axis=0)
        grad_weight[repeat_ids[starts]] += sums  # distinct ids: no row is written twice
    return grad_weight


def embedding_backward(ids: np.ndarray, grad_out: np.ndarray, num_embeddings: int) -> np.ndarray:
    """Same result as embedding_backward_reference, vectorised. ids (N,), grad_out (N, D) -> (V, D)."""
    # Hint: small vocabularies (num_embeddings <= _ONE_HOT_MAX_VOCAB and N * V <= _ONE_HOT_MAX_ELEMENTS):
    #       one_hot = zeros (N, V) in grad_out's dtype, one_hot[arange(N), ids] = 1, return
    #       one_hot.T @ grad_out. Otherwise return _accumulate_sorted(...) (written out above).
    n = ids.size
    if num_embeddings <= _ONE_HOT_MAX_VOCAB and n * num_embeddings <= _ONE_HOT_MAX_ELEMENTS:
        one_hot = np.zeros((n, num_embeddings), dtype=grad_out.dtype)
        one_hot[np.arange(n), ids] = 1
        return one_hot.T @ grad_out
    return _accumulate_sorted(ids, grad_out, num_embeddings)


class EmbeddingFunction(Function):
    """out = weight[ids]: (V, D) table and integer ids of any shape (*) -> (*, D)."""

    @staticmethod
    def forward(ctx, weight, ids, padding_idx):
        # Hint: save ids, the table size and padding_idx on ctx (the table itself is not needed
        #       for backward); np.take(weight, ids, axis=0) is the gather.
        ctx.ids, ctx.num_embeddings, ctx.padding_idx = ids, weight.shape[0], padding_idx
        return np.take(weight, ids, axis=0)

    @staticmethod
    def backward(ctx, grad_output):
        # Hint: embedding_backward on ids.reshape(-1) and grad_output.reshape(-1, D); set the
        #       padding row (if any) to 0; return (grad_weight, None, None).
        dim = grad_output.shape[-1]
        grad_weight = embedding_backward(ctx.ids.reshape(-1), grad_output.reshape(-1, dim), ctx.num_embeddings)
        if ctx.padding_idx is not None:
            grad_weight[ctx.padding_idx] = 0
        return grad_weight, None, None


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Look up rows of `weight` (V, D) for integer ids `input` of any shape (*) -> (*, D).

    Like torch.nn.functional.embedding: the padding row gets no gradient.
    """
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ValueError(f"embedding: weight must be a 2-D Tensor (num_embeddings, embedding_dim), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    if weight.dtype.kind != "f":
        raise TypeError(f"embedding: weight must be floating point, got dtype {weight.dtype}")
    ids = _check_ids(input, weight.shape[0], "embedding")
    padding_idx = _check_padding_idx(padding_idx, weight.shape[0], "embedding")
    return EmbeddingFunction.apply(weight, ids, padding_idx)


class Embedding(Module):
    """A table of num_embeddings vectors of size embedding_dim. ids (*) -> (*, embedding_dim).

    weight: (num_embeddings, embedding_dim), N(0, 1) at start (PyTorch); the padding_idx row
    starts at zero and never receives a gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype=None):
        super().__init__()
        self.num_embeddings = _check_size(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _check_size(embedding_dim, "embedding_dim", "Embedding")
        self.padding_idx = _check_padding_idx(padding_idx, self.num_embeddings, "Embedding")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"Embedding: dtype must be a floating-point type, got {dtype}")
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: N(0, 1), then the padding row set to zero."""
        # Hint: normal_ from module 03 fills in place; then zero the padding row of .data.
        normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        ids = _check_ids(input, self.num_embeddings, "Embedding")
        return EmbeddingFunction.apply(self.weight, ids, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else f"{text}, padding_idx={self.padding_idx}"


def _check_positions(x, start, max_len: int, dim: int, where: str) -> tuple[int, int]:
    """(start, T) for token vectors x (..., T, dim) placed at positions start..start+T-1 < max_len."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: input must be a Tensor of token vectors (..., T, {dim}), got {type(x).__name__}")
    if x.ndim < 2 or x.shape[-1] != dim:
        raise ValueError(f"{where}: input must have shape (..., T, {dim}) (embedding_dim={dim}), got "
                         f"{tuple(x.shape)}")
    if isinstance(start, bool) or not isinstance(start, numbers.Integral) or start < 0:
        raise ValueError(f"{where}: start must be a non-negative int, got {start!r}")
    length = x.shape[-2]
    if start + length > max_len:
        raise ValueError(f"{where}: positions {start}..{start + length - 1} do not fit in max_len={max_len} "
                         f"(sequence length {length}); use a longer table or a shorter context")
    return int(start), length


def sinusoidal_table(max_len: int, dim: int, base: float = 10000.0) -> np.ndarray:
    """(max_len, dim) float32: PE[t, 2i] = sin(t / base^(2i/dim)), PE[t, 2i+1] = cos(same angle)."""
    # Hint: angles = positions (max_len, 1) * frequencies (1, ceil(dim/2)) where frequency i is
    #       base ** (-2i / dim); even columns get sin(angles), odd columns cos(angles) (only the
    #       first dim // 2 of them). Compute in float64, return float32.
    positions = np.arange(max_len, dtype=np.float64)[:, None]
    frequencies = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = positions * frequencies
    table = np.empty((max_len, dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : dim // 2])
    return table.astype(np.float32)


class SinusoidalPositionalEncoding(Module):
    """Adds the fixed sinusoidal table: x (..., T, dim) -> x + pe[start:start+T]. No parameters.

    pe: a (max_len, dim) buffer, not saved in state_dict (it is recomputed from the formula).
    """

    def __init__(self, max_len: int, dim: int, base: float = 10000.0):
        super().__init__()
        self.max_len = _check_size(max_len, "max_len", "SinusoidalPositionalEncoding")
        self.dim = _check_size(dim, "dim", "SinusoidalPositionalEncoding")
        self.base = float(base)
        self.register_buffer("pe", Tensor(sinusoidal_table(self.max_len, self.dim, self.base)), persistent=False)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        start, length = _check_positions(x, start, self.max_len, self.dim, "SinusoidalPositionalEncoding")
        rows = self.pe.data[start:start + length]
        return x + Tensor(rows if x.dtype == rows.dtype else rows.astype(x.dtype))

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, dim={self.dim}"


class PositionalEmbedding(Module):
    """Learned positions: an Embedding over positions 0..max_len-1, added to the token vectors.

    x (..., T, embedding_dim) -> x + embedding.weight[start:start+T]; embedding.weight is N(0, 1).
    """

    def __init__(self, max_len: int, embedding_dim: int, dtype=None):
        super().__init__()
        self.max_len = _check_size(max_len, "max_len", "PositionalEmbedding")
        self.embedding = Embedding(self.max_len, embedding_dim, dtype=dtype)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        dim = self.embedding.embedding_dim
        start, length = _check_positions(x, start, self.max_len, dim, "PositionalEmbedding")
        # Hint: look up positions start..start+T-1 (np.arange) with self.embedding and add them
        #       to x; broadcasting adds the same (T, D) rows to every sequence of the batch.
        positions = Tensor(np.arange(start, start + length))
        return x + self.embedding(positions)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, embedding_dim={self.embedding.embedding_dim}"


class RotaryEmbedding(Module):
    """RoPE: rotate feature pairs (2i, 2i+1) of x (..., T, dim) by (start + t)·base^(-2i/dim).

    No parameters; cos and sin are (max_len, dim/2) buffers (not saved in state_dict).
    """

    def __init__(self, dim: int, max_len: int, base: float = 10000.0):
        super().__init__()
        self.dim = _check_size(dim, "dim", "RotaryEmbedding")
        if self.dim % 2:
            raise ValueError(f"RotaryEmbedding: dim must be even (features are rotated in pairs), got {dim}")
        self.max_len = _check_size(max_len, "max_len", "RotaryEmbedding")
        self.base = float(base)
        # Hint: angles[t, i] = t * base ** (-2i / dim) for t < max_len, i < dim // 2 (float64);
        #       register float32 buffers "cos" and "sin" of shape (max_len, dim // 2), persistent=False.
        frequencies = self.base ** (-np.arange(0, self.dim, 2, dtype=np.float64) / self.dim)
        angles = np.arange(self.max_len, dtype=np.float64)[:, None] * frequencies
        self.register_buffer("cos", Tensor(np.cos(angles).astype(np.float32)), persistent=False)
        self.register_buffer("sin", Tensor(np.sin(angles).astype(np.float32)), persistent=False)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        start, length = _check_positions(x, start, self.max_len, self.dim, "RotaryEmbedding")
        cos, sin = (table.data[start:start + length] for table in (self.cos, self.sin))
        if cos.dtype != x.dtype:
            cos, sin = cos.astype(x.dtype), sin.astype(x.dtype)
        # Hint: even = x[..., 0::2], odd = x[..., 1::2]; the rotated pair is
        #       (even·cos − odd·sin, even·sin + odd·cos) with Tensor(cos), Tensor(sin) of shape (T, dim/2);
        #       stack the two along a new last axis and reshape to x's shape (that interleaves them back).
        even, odd = x[..., 0::2], x[..., 1::2]
        cos, sin = Tensor(cos), Tensor(sin)
        rotated = stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
        return rotated.reshape(x.shape)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_len={self.max_len}"
