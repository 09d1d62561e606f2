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
# # Module 11 — Embeddings: from token ids to vectors, and where they sit
#
# A tokenizer (module 10) turns text into integers: `"to be"` might become `[57, 52, 1, 39, 42]`.
# A network cannot do arithmetic with the *value* 57 — token 57 is not "more" than token 52. An
# **embedding** gives every token its own learned vector, looked up by id, and a **positional
# encoding** tells the model where in the sequence each token stands. These two tables are the
# entrance of every language model, from word2vec to GPT.
#
# **You will learn to**
#
# 1. explain an embedding as a table lookup, and as the same thing as a one-hot vector times a
#    matrix (which tells you its gradient);
# 2. write `Embedding` with PyTorch's initialisation, `padding_idx` and error messages, and its
#    backward pass — first as the clear scatter-add loop, then as a vectorised version that is
#    several times faster on the shapes a GPT really uses;
# 3. add position information three ways: a learned table (GPT-2), fixed sinusoids
#    ("Attention is all you need") and rotations of queries and keys (RoPE, used by LLaMA), and
#    say what each can and cannot do;
# 4. count what the token table costs in parameters and memory next to the rest of a small
#    GPT, and what *weight tying* saves.
#
# **Prerequisites:** modules 01–05 (`Tensor`, `Module`/`Parameter`, autograd with `Function`
# and `gradcheck`) and module 10 (what token ids are). **Exports to:**
# `tinytorch/text/embeddings.py`, re-exported by `tinytorch.nn` (`Embedding`,
# `PositionalEmbedding`, `SinusoidalPositionalEncoding`), `tinytorch.nn.functional` (`embedding`)
# and `tinytorch.text` (all of them and `RotaryEmbedding`).

# %%
#| default_exp text.embeddings

# %%
#| export
from __future__ import annotations

import numbers

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.layers import Module, Parameter, normal_
from tinytorch.core.tensor import Tensor, stack

# %% [markdown]
# ## 1. An embedding is a lookup table
#
# The layer holds one matrix, `weight`, with a row per token: `num_embeddings` rows (the
# vocabulary size `V`) of `embedding_dim` numbers (`D`). Looking up a batch of ids is indexing
# rows:
#
# ```
#   weight (V=6, D=4)                 ids (B=1, T=3) = [[2, 0, 2]]
#   ┌─────────────────────────┐
#   │ 0 │ 0.1 -0.3  0.8  0.2  │ ◄──────── id 0                 out (1, 3, 4)
#   │ 1 │ 0.5  0.0 -1.1  0.4  │                               ┌──────────────────────┐
#   │ 2 │-0.7  0.9  0.3 -0.2  │ ◄──────── id 2 (twice)  ───►  │ -0.7  0.9  0.3 -0.2  │ t=0
#   │ 3 │ ...                 │                               │  0.1 -0.3  0.8  0.2  │ t=1
#   │ 4 │ ...                 │                               │ -0.7  0.9  0.3 -0.2  │ t=2
#   │ 5 │ ...                 │                               └──────────────────────┘
#   └─────────────────────────┘        out[b, t] = weight[ids[b, t]]
# ```
#
# Any shape of ids works: the output has the ids' shape with `D` added at the end. The same
# lookup written as linear algebra: a one-hot row vector `e_i` (a 1 at position `i`, zeros
# elsewhere) times the matrix picks row `i`, `e_i · W = W[i]`. So an embedding is a `Linear`
# layer without bias applied to one-hot inputs — only far cheaper, because nobody multiplies by
# all those zeros.
#
# **Initialisation.** PyTorch draws the table from `N(0, 1)`. (GPT-2 and nanoGPT override this
# with `N(0, 0.02²)`; that is the model's choice, made in module 13, not the layer's default.)
#
# **`padding_idx`.** Batches of sentences of different lengths are padded with a special token.
# Its row starts at zero and never receives a gradient, so padding stays a zero vector however
# long you train.
#
# **Bad ids.** NumPy would happily index with `-1` (the last row) or crash with an `IndexError`
# deep inside; a token id outside `[0, V)` almost always means the tokenizer and the model
# disagree about the vocabulary. We check once, up front, and say which id and which table.

# %%
#| export
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

# %% [markdown]
# ## 2. The backward pass: a scatter-add
#
# Forward copies row `ids[n]` of the table into output row `n`. Backward sends each output
# row's gradient back to the table row it came from. When a token appears twice — `2` in the
# picture above — both gradients land in the same row and must be **added**, not overwritten:
#
# ```
#   grad_out (3, 4)                        grad_weight (6, 4)
#   t=0  g0 ──────────────┐                row 0:  g1
#   t=1  g1 ────► row 0   │                row 1:  0
#   t=2  g2 ──────────────┴──► row 2       row 2:  g0 + g2      ← accumulate repeated ids
#                                          rows 3-5: 0
# ```
#
# (In the one-hot picture: `out = onehot(ids) · W`, so `dW = onehot(ids)ᵀ · dout`, and the
# one-hot transpose sums every output row of the same token.)
#
# A classic bug is `grad_weight[ids] += grad_out`: NumPy's fancy-index `+=` reads all rows,
# adds, and writes back — a repeated id is written twice and one contribution is lost.
# `np.add.at` is the unbuffered version that accumulates correctly. It is the clearest
# statement of the rule, so it is our reference. Work on 2-D arrays: `ids` flattened to `(N,)`
# and `grad_out` reshaped to `(N, D)`.

# %%
#| export
def embedding_backward_reference(ids: np.ndarray, grad_out: np.ndarray, num_embeddings: int) -> np.ndarray:
    """dL/dweight for out = weight[ids]: row v is the sum of grad_out[n] over every n with ids[n] == v.

    ids: (N,) ints in [0, num_embeddings); grad_out: (N, D) -> (num_embeddings, D), grad_out's dtype.
    The clear version (np.add.at): the oracle the fast one is tested against.
    """
    # Hint: start from zeros of shape (num_embeddings, D); np.add.at(table, row_indices, values)
    #       adds values[n] into table[row_indices[n]] one by one, so repeats accumulate.
    ### BEGIN SOLUTION
    grad_weight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    np.add.at(grad_weight, ids, grad_out)
    return grad_weight
    ### END SOLUTION

# %%
#| test
def test_unit_embedding_backward_reference():
    ids = np.array([2, 0, 2])
    grad_out = np.array([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]], dtype=np.float32)
    got = embedding_backward_reference(ids, grad_out, 4)
    want = np.array([[10, 20], [0, 0], [101, 202], [0, 0]], dtype=np.float32)
    assert got.shape == (4, 2), f"one gradient row per table row: expected (4, 2), got {got.shape}"
    assert np.array_equal(got, want), (
        f"expected rows\n{want}\ngot\n{got}\nrow 2 must be the SUM of the gradients of positions 0 and 2 "
        "(id 2 appears twice); `grad[ids] += g` keeps only one of them — use np.add.at")
    assert got.dtype == np.float32, f"keep grad_out's dtype (float32), got {got.dtype}"
    print("✅ embedding backward (reference): repeated ids accumulate; untouched rows stay zero")


test_unit_embedding_backward_reference()

# %% [markdown]
# ### Making it fast
#
# `np.add.at` is correct, but it handles one `(id, row)` pair at a time — a GPT step on a batch
# of 12 x 64 tokens calls it on 768 rows, with hundreds of repeats of each character. Two
# vectorised ways to accumulate, each good at one end of the range of vocabulary sizes:
#
# - **Small vocabulary (characters, `V` up to a few hundred): one-hot matmul.** Build the
#   `(N, V)` one-hot matrix and compute `onehotᵀ · grad_out` with one BLAS call. It does
#   `2·N·V·D` multiply-adds, mostly with zeros, but BLAS does them at full speed; for `V = 65`
#   that is a fraction of a millisecond.
# - **Large vocabulary (BPE, `V` ≈ 50 000): sort once, then only touch the repeats.** Sort the
#   ids (`argsort`, `N log N` on small integers). In sorted order, equal ids sit next to each
#   other, so each distinct id starts a *run*. Copy the first row of every run straight into
#   its table row (distinct ids, so a plain fancy assignment is safe), then sum the *rest* of
#   each run with `np.add.reduceat` over the few rows that repeat, and add those sums in (again
#   one row per distinct id). With 50 000 tokens most ids in a batch appear once, so the second
#   step is small.
#
# ```
#   ids      [7, 3, 7, 9, 3, 7]     sorted: 3 3 7 7 7 9      runs start at 0, 2, 5
#   firsts   rows of 3, 7, 9  ──► grad_weight[[3, 7, 9]]  = grad_out[first of each run]
#   repeats  3 | 7 7           ──► grad_weight[[3, 7]]   += reduceat(repeat rows, run starts)
# ```
#
# The switch between the two is a cost estimate: one-hot costs `N·V·D` (and `N·V` memory),
# sorting costs about `N·D` memory traffic plus a sort. `analysis` at the end measures both
# against the reference on your machine.

# %%
#| export
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
    ### BEGIN SOLUTION
    n = ids.size
    if num_embeddings <= _ONE_HOT_MAX_VOCAB and n * num_embeddings <= _ONE_HOT_MAX_ELEMENTS:
        one_hot = np.zeros((n, num_embeddings), dtype=grad_out.dtype)
        one_hot[np.arange(n), ids] = 1
        return one_hot.T @ grad_out
    return _accumulate_sorted(ids, grad_out, num_embeddings)
    ### END SOLUTION

# %%
#| test
def test_unit_embedding_backward():
    rng = np.random.default_rng(0)
    for vocab, n, dim in [(5, 40, 3), (65, 300, 8), (2000, 300, 4), (50, 1, 2)]:
        ids = rng.integers(0, vocab, n)
        grad_out = rng.standard_normal((n, dim)).astype(np.float32)
        fast = embedding_backward(ids, grad_out, vocab)
        slow = embedding_backward_reference(ids, grad_out, vocab)
        assert fast.shape == slow.shape and fast.dtype == np.float32, (
            f"V={vocab}: expected a float32 {slow.shape} gradient, got {fast.dtype} {fast.shape}")
        error = np.abs(fast - slow).max()
        path = "one-hot matmul" if vocab <= _ONE_HOT_MAX_VOCAB else "sorted runs"
        assert error < 1e-4, (f"V={vocab}, N={n}: fast backward ({path}) differs from the reference by "
                              f"{error:.3g}; are repeated ids summed exactly once each?")
    print("✅ fast embedding backward matches np.add.at: one-hot path (small V) and sorted-runs path (large V)")


test_unit_embedding_backward()

# %% [markdown]
# ## 3. `embedding` as a `Function`, and the `Embedding` layer
#
# Forward is `weight[ids]` — NumPy's `take` along axis 0 gathers the rows in one call, for ids
# of any shape. Backward flattens the ids to `(N,)` and the gradient to `(N, D)`, calls
# `embedding_backward`, and zeroes the padding row. The ids themselves get no gradient
# (integers are not differentiable), so backward returns `None` for them.
#
# `embedding(input, weight, padding_idx=None)` has PyTorch's functional signature — input
# first. The `Embedding` layer holds the `weight` Parameter and calls it.

# %%
#| export
class EmbeddingFunction(Function):
    """out = weight[ids]: (V, D) table and integer ids of any shape (*) -> (*, D)."""

    @staticmethod
    def forward(ctx, weight, ids, padding_idx):
        # Hint: save ids, the table size and padding_idx on ctx (the table itself is not needed
        #       for backward); np.take(weight, ids, axis=0) is the gather.
        ### BEGIN SOLUTION
        ctx.ids, ctx.num_embeddings, ctx.padding_idx = ids, weight.shape[0], padding_idx
        return np.take(weight, ids, axis=0)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # Hint: embedding_backward on ids.reshape(-1) and grad_output.reshape(-1, D); set the
        #       padding row (if any) to 0; return (grad_weight, None, None).
        ### BEGIN SOLUTION
        dim = grad_output.shape[-1]
        grad_weight = embedding_backward(ctx.ids.reshape(-1), grad_output.reshape(-1, dim), ctx.num_embeddings)
        if ctx.padding_idx is not None:
            grad_weight[ctx.padding_idx] = 0
        return grad_weight, None, None
        ### END SOLUTION


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
        ### BEGIN SOLUTION
        normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0
        ### END SOLUTION

    def forward(self, input: Tensor) -> Tensor:
        ids = _check_ids(input, self.num_embeddings, "Embedding")
        return EmbeddingFunction.apply(self.weight, ids, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else f"{text}, padding_idx={self.padding_idx}"

# %%
#| test
def test_unit_embedding():
    from tinytorch.core.autograd import gradcheck
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    table = Embedding(10, 3)
    ids = Tensor(np.array([[2, 0, 2], [9, 9, 1]]))
    out = table(ids)
    assert out.shape == (2, 3, 3), f"ids (2, 3) and D=3 give (2, 3, 3), got {out.shape}"
    assert np.array_equal(out.data[0, 0], table.weight.data[2]), "out[b, t] must be weight[ids[b, t]]"
    big = Embedding(1000, 100)
    assert abs(big.weight.data.std() - 1) < 0.02, "PyTorch initialises the table from N(0, 1)"
    padded = Embedding(5, 2, padding_idx=0)
    assert not padded.weight.data[0].any(), "the padding row starts at zero"

    weight = Tensor(np.random.default_rng(1).standard_normal((5, 2)), requires_grad=True)
    repeated = np.array([[1, 3, 1], [0, 1, 4]])
    assert gradcheck(lambda w: embedding(Tensor(repeated), w), (weight,)), "repeated ids"
    embedding(Tensor(repeated), weight, padding_idx=1).sum().backward()
    assert not weight.grad.data[1].any(), "padding_idx=1: row 1 must get no gradient even though id 1 is used"
    assert np.allclose(weight.grad.data[[0, 3, 4]], 1) and not weight.grad.data[2].any(), (
        "each other row gets one 1 per use (sum of ones), unused rows 0")
    try:
        table(Tensor(np.array([3, 10])))
    except IndexError as error:
        assert "10" in str(error) and "num_embeddings=10" in str(error), f"name the id and the table: {error}"
    else:
        raise AssertionError("an id equal to num_embeddings must raise IndexError")
    print(f"✅ Embedding: lookup {tuple(out.shape)}, N(0,1) init, padding row frozen, out-of-range ids rejected")


test_unit_embedding()

# %% [markdown]
# ## 4. Where is each token? Positional encodings
#
# Attention (module 12) compares every token with every other token and mixes what it finds —
# and nothing in that computation knows the *order*. "dog bites man" and "man bites dog" would
# look identical. So we add to each token's vector a vector that depends only on its
# position `t`:
#
# ```
#   token ids        [ 20   8   15 ]
#                      │    │    │
#   token table      [ e20  e8  e15 ]        (T, D)
#                      +    +    +
#   position table   [ p0   p1   p2  ]        (T, D)  ← the same for every sequence
#                      =    =    =
#   into the model   [ x0   x1   x2  ]
# ```
#
# **Learned** (GPT-2, nanoGPT): positions are just another embedding table, `block_size` rows,
# trained with everything else. Flexible, but it knows nothing about position `block_size`:
# the model cannot run on longer sequences than it was trained on.
#
# **Sinusoidal** (Vaswani et al., 2017): a fixed table, no parameters,
#
# ```
#   PE[t, 2i]   = sin(t / 10000^(2i/D))
#   PE[t, 2i+1] = cos(t / 10000^(2i/D))          i = 0 .. D/2-1
# ```
#
# Each pair of columns is a clock hand turning at its own speed — from one turn every 2π
# positions (i = 0) to one turn every 2π·10000 positions. Position `t + k` is a fixed rotation
# of position `t` in every pair, so "k steps back" is a linear function the model can learn, and
# the formula works for any `t`. (For odd `D` the last column is a sine.)
#
# Both classes take the token vectors `x` of shape `(..., T, D)` and return `x` plus the rows
# for positions `start .. start+T-1`. `start` lets generation add the right position to one new
# token at a time (module 15's cache).

# %%
#| export
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
    ### BEGIN SOLUTION
    positions = np.arange(max_len, dtype=np.float64)[:, None]
    frequencies = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = positions * frequencies
    table = np.empty((max_len, dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : dim // 2])
    return table.astype(np.float32)
    ### END SOLUTION


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
        ### BEGIN SOLUTION
        positions = Tensor(np.arange(start, start + length))
        return x + self.embedding(positions)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, embedding_dim={self.embedding.embedding_dim}"

# %%
#| test
def test_unit_positional():
    import math

    table = sinusoidal_table(50, 6)
    assert table.shape == (50, 6) and table.dtype == np.float32, f"expected float32 (50, 6), got {table.shape}"
    assert np.allclose(table[0], [0, 1, 0, 1, 0, 1]), f"position 0: sin(0)=0, cos(0)=1 in every pair, got {table[0]}"
    assert np.isclose(table[7, 0], math.sin(7)) and np.isclose(table[7, 3], math.cos(7 / 10000 ** (2 / 6))), (
        "column 2i holds sin(t / 10000^(2i/D)), column 2i+1 the cosine of the same angle")
    encoding = SinusoidalPositionalEncoding(16, 6)
    assert list(encoding.parameters()) == [] and "pe" not in encoding.state_dict(), "fixed: nothing to learn or save"
    x = Tensor(np.zeros((2, 5, 6), dtype=np.float32))
    assert np.allclose(encoding(x, start=3).data[1], table[3:8]), "rows start..start+T-1 are added to every sequence"
    learned = PositionalEmbedding(8, 6)
    assert [name for name, _ in learned.named_parameters()] == ["embedding.weight"]
    x = Tensor(np.ones((2, 4, 6), dtype=np.float32), requires_grad=True)
    out = learned(x)
    assert np.allclose(out.data[0], 1 + learned.embedding.weight.data[:4]), "x + positions 0..3"
    out.sum().backward()
    position_grad = learned.embedding.weight.grad.data
    assert np.allclose(position_grad[:4], 2) and not position_grad[4:].any(), (
        "each used position row gets one gradient per sequence of the batch (2 here); unused rows none")
    try:
        learned(Tensor(np.zeros((1, 9, 6), dtype=np.float32)))
    except ValueError as error:
        assert "max_len=8" in str(error), error
    else:
        raise AssertionError("9 positions do not fit in a table of 8")
    print("✅ positional encodings: sinusoidal (fixed, no state) and learned (trained), both bounded by max_len")


test_unit_positional()

# %% [markdown]
# ## 5. Rotary position embedding (RoPE)
#
# Both encodings above are *added* to the token vector once, at the bottom of the network. Most
# recent language models (GPT-NeoX, LLaMA, Mistral) instead **rotate** the queries and keys
# inside every attention layer (Su et al., 2021, "RoFormer"). Take the features of a query in
# pairs `(x₀, x₁), (x₂, x₃), ...` and turn pair `i` of the vector at position `t` by the angle
# `t·θ_i`, with the same frequencies as the sinusoids, `θ_i = base^(−2i/D)`:
#
# ```
#   pair i at position t          ( x_2i   )      ( cos tθ_i   −sin tθ_i ) ( x_2i   )
#   rotated by angle t·θ_i:       ( x_2i+1 )  ──► ( sin tθ_i    cos tθ_i ) ( x_2i+1 )
#
#         x_2i+1                       seen as a complex number z = x_2i + i·x_2i+1:
#           ▲    ● rotated                 z  ──►  z · e^{i·t·θ_i}
#           │   ╱
#           │  ╱ ) tθ_i ● original
#           └───────────► x_2i
# ```
#
# Why rotations? A rotation by `m·θ` of the query and by `n·θ` of the key leaves their dot
# product depending on the *difference* only: `⟨R_m q, R_n k⟩ = ⟨q, R_(n−m) k⟩`. Attention scores
# then see relative positions directly — "the token three places back" means the same thing at
# position 10 and at position 1000 — and rotating never changes a vector's length. There are no
# parameters; the cos/sin tables are fixed buffers.
#
# `RotaryEmbedding(dim, max_len)` rotates a tensor `(..., T, dim)` (the queries or keys of one
# head, `dim = D` even) whose rows sit at positions `start .. start+T−1`. It is composed from
# recorded tensor ops (slices, products, `stack`), so autograd handles its backward. (We pair
# neighbouring features, as the paper does; some libraries pair feature `i` with `i + D/2`
# instead — the same idea with the features permuted.)

# %%
#| export
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
        ### BEGIN SOLUTION
        frequencies = self.base ** (-np.arange(0, self.dim, 2, dtype=np.float64) / self.dim)
        angles = np.arange(self.max_len, dtype=np.float64)[:, None] * frequencies
        self.register_buffer("cos", Tensor(np.cos(angles).astype(np.float32)), persistent=False)
        self.register_buffer("sin", Tensor(np.sin(angles).astype(np.float32)), persistent=False)
        ### END SOLUTION

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        start, length = _check_positions(x, start, self.max_len, self.dim, "RotaryEmbedding")
        cos, sin = (table.data[start:start + length] for table in (self.cos, self.sin))
        if cos.dtype != x.dtype:
            cos, sin = cos.astype(x.dtype), sin.astype(x.dtype)
        # Hint: even = x[..., 0::2], odd = x[..., 1::2]; the rotated pair is
        #       (even·cos − odd·sin, even·sin + odd·cos) with Tensor(cos), Tensor(sin) of shape (T, dim/2);
        #       stack the two along a new last axis and reshape to x's shape (that interleaves them back).
        ### BEGIN SOLUTION
        even, odd = x[..., 0::2], x[..., 1::2]
        cos, sin = Tensor(cos), Tensor(sin)
        rotated = stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
        return rotated.reshape(x.shape)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_len={self.max_len}"

# %%
#| test
def test_unit_rotary():
    rope = RotaryEmbedding(4, 32)
    x = Tensor(np.array([[1.0, 0.0, 1.0, 0.0]] * 3, dtype=np.float32))  # positions 0, 1, 2
    out = rope(x).data
    assert np.allclose(out[0], x.data[0]), "position 0 is not rotated"
    assert np.allclose(out[1, :2], [np.cos(1), np.sin(1)], atol=1e-6), (
        f"pair 0 at position 1 turns by 1 radian: expected [cos 1, sin 1], got {out[1, :2]}")
    assert np.allclose(out[2, 2:], [np.cos(2 / 100), np.sin(2 / 100)], atol=1e-6), "pair 1 turns by t·10000^(-2/4)"
    assert np.allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x.data, axis=-1)), "rotations keep lengths"
    rng = np.random.default_rng(0)
    q, k = (Tensor(np.repeat(rng.standard_normal((1, 4)), 32, axis=0).astype(np.float32)) for _ in range(2))
    scores = rope(q).data @ rope(k).data.T  # scores[m, n] for the same q and k placed at every position
    assert np.allclose(scores[3, 7], scores[20, 24], atol=1e-4) and np.allclose(scores[5, 1], scores[30, 26],
                                                                                atol=1e-4), (
        "a rotated query·key score must depend only on the offset n - m")
    print("✅ RotaryEmbedding: pairs rotated by t·θ_i, lengths kept, scores depend on relative position only")


test_unit_rotary()

# %% [markdown]
# ## Analysis — what the token table costs
#
# How big is the embedding table next to the rest of a GPT? A transformer block with width `E`
# holds about `12·E²` parameters (attention: `4·E²` for the query, key, value and output
# projections; the MLP: `8·E²` for its two `E x 4E` matrices), plus a few `E`-sized vectors for
# biases and layer norms. The token table has `V·E`, the position table `block_size·E`, and the
# output layer (the "LM head", turning vectors back into scores over the vocabulary) another
# `V·E` — unless it *shares* the token table's matrix. That sharing is **weight tying**
# (Press & Wolf 2017, used by GPT-2): the same matrix maps ids to vectors and vectors to
# scores.
#
# Below: module 13's small Shakespeare GPT (4 layers, `E = 128`, `block_size = 64`) with a
# character vocabulary (65) and with GPT-2's BPE vocabulary (50 257), and GPT-2 small itself.
# Memory counts float32 weights plus what training keeps per parameter: its gradient and
# Adam's two moment estimates (4 x 4 bytes).

# %%
#| analysis
def gpt_parameter_counts(vocab: int, layers: int, width: int, block_size: int) -> dict[str, int]:
    """Parameter count by part for a GPT-2-style model with biases (untied LM head)."""
    per_block = (4 * width * width + 4 * width       # attention: c_attn (E -> 3E) and c_proj, with biases
                 + 8 * width * width + 5 * width     # MLP: E -> 4E -> E, with biases
                 + 4 * width)                         # two LayerNorms (weight and bias)
    return {"token table": vocab * width, "positions": block_size * width,
            "blocks": layers * per_block + 2 * width, "LM head": vocab * width}


print(f"{'model':<34}{'token table':>12}{'blocks':>12}{'LM head':>12}{'tokens %':>10}"
      f"{'untied MB':>11}{'tied MB':>9}")
for label, vocab, layers, width, block in [("char GPT (V=65, 4x128)", 65, 4, 128, 64),
                                           ("BPE GPT (V=50257, 4x128)", 50257, 4, 128, 64),
                                           ("GPT-2 small (V=50257, 12x768)", 50257, 12, 768, 1024)]:
    parts = gpt_parameter_counts(vocab, layers, width, block)
    untied = sum(parts.values())
    tied = untied - parts["LM head"]
    share = 100 * parts["token table"] / tied
    print(f"{label:<34}{parts['token table']:>12,}{parts['blocks']:>12,}{parts['LM head']:>12,}{share:>9.1f}%"
          f"{untied * 16 / 2**20:>11.1f}{tied * 16 / 2**20:>9.1f}")

# %% [markdown]
# With characters, the token table is a rounding error (about 1% of the model). With a BPE
# vocabulary the same small model becomes *mostly* embedding: the 50 257 x 128 table is eight
# times larger than all four transformer blocks together, and an untied LM head doubles it.
# Tying saves `V·E` parameters — 6.4 million here, 38.6 million in GPT-2 small (a third of its
# 124 million), and 16 bytes of training memory each. This is one reason small models use small
# vocabularies, and why module 10's choice of vocabulary size is a systems decision.
#
# ### The backward pass, measured
#
# The reference (`np.add.at`) against the vectorised `embedding_backward` on the shapes a GPT
# step uses: a batch of 12 x 64 tokens and a larger one of 8 192 tokens, with a character vocabulary and a
# BPE one. Median of several runs, milliseconds.

# %%
#| analysis
import time


def median_ms(fn, repeats: int = 7) -> float:
    """Median wall-clock time of fn() over `repeats` runs, in milliseconds."""
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        fn()
        times.append(time.perf_counter() - begin)
    return sorted(times)[len(times) // 2] * 1e3


rng = np.random.default_rng(0)
print(f"{'vocab':>7}{'tokens':>8}{'dim':>5}{'np.add.at ms':>14}{'fast ms':>9}{'speed-up':>10}  path")
for vocab, tokens, dim in [(65, 768, 128), (65, 8192, 384), (2048, 768, 128), (50257, 768, 128),
                           (50257, 8192, 384)]:
    ids = rng.integers(0, vocab, tokens)
    grad_out = rng.standard_normal((tokens, dim), dtype=np.float32)
    slow = median_ms(lambda: embedding_backward_reference(ids, grad_out, vocab))
    fast = median_ms(lambda: embedding_backward(ids, grad_out, vocab))
    path = "one-hot" if vocab <= _ONE_HOT_MAX_VOCAB and tokens * vocab <= _ONE_HOT_MAX_ELEMENTS else "sorted"
    print(f"{vocab:>7}{tokens:>8}{dim:>5}{slow:>14.2f}{fast:>9.2f}{slow / fast:>9.1f}x  {path}")

# %% [markdown]
# For a character vocabulary, the one-hot matmul is several times faster than `np.add.at`, even
# though it multiplies mostly zeros: BLAS is that much faster than one-pair-at-a-time
# accumulation. For BPE, the time goes into allocating and clearing the 50 257-row gradient
# (`V·D` floats, whatever the batch) — the same dense gradient PyTorch computes by default;
# the sorted-runs path then only touches the rows that occur.
#
# If your one-hot row is *slower* than `np.add.at`, look at your machine, not the algorithm:
# a small matmul split over several BLAS threads while other programs hold the cores makes
# those threads wait for each other (on our loaded 2-core machine: 0.1 ms alone, up to 60 ms
# under load). Run it again with `OPENBLAS_NUM_THREADS=1` (or `tito system doctor`'s thread
# advice) and compare.
#
# ### What the sinusoids look like
#
# The dot product of two positions' encodings depends only on how far apart they are — a
# property the model can use to attend "three tokens back" wherever it is.

# %%
#| analysis
table = sinusoidal_table(256, 64).astype(np.float64)
print("similarity of position t with t + k (dot product / D), at three starting points t:")
print(f"{'k':>5}" + "".join(f"{'t=' + str(t):>9}" for t in (0, 50, 150)))
for k in (0, 1, 2, 4, 8, 16, 32, 64):
    print(f"{k:>5}" + "".join(f"{table[t] @ table[t + k] / 64:>9.3f}" for t in (0, 50, 150)))

# %% [markdown]
# Each column is the same: similarity falls off with distance `k` (not strictly) and does not depend on `t`.
# (It is `Σ cos(k·ω_i)`: a sum of cosines of the offset only.)

# %% [markdown]
# ## Reflection
#
# **Q1.** An `Embedding(V, D)` applied to ids is the same function as `Linear(V, D, bias=False)`
# applied to one-hot vectors. Write out the FLOPs and memory of both for a batch of `N` tokens.
# Why does every framework implement the lookup, and when (this module!) is the one-hot form
# the faster way to compute the *gradient*?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** `grad_weight[ids] += grad_out` gives a wrong answer without any error. Which rows are
# wrong, and by how much? Design a test that would catch it — what must the ids contain?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** With weight tying, the token table receives gradient from two places in one step.
# Name them. The LM head's gradient is dense (every row, every step) while the lookup's is
# sparse (only the rows of tokens in the batch): what does that mean for rare tokens, and for
# Adam's state memory?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** A model with a learned position table of 64 rows is asked to continue a 100-token
# text. What happens in this module's code, and what are your options? Which options does the
# sinusoidal encoding give you that the learned one does not?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - An embedding is a lookup `weight[ids]`: ids of any shape `(*)` give vectors `(*, D)`; it is
#   the one-hot matmul without the zeros. PyTorch initialises it `N(0, 1)`.
# - Its gradient is a scatter-add: repeated ids accumulate. `np.add.at` states it clearly; a
#   one-hot matmul (small vocabularies) or sorting into runs (large ones) does it several
#   times faster. `padding_idx`'s row gets none.
# - Attention is blind to order, so position is added: a learned table (bounded by its length)
#   or fixed sinusoids (any length, relative offsets are rotations) — or, with RoPE, the
#   queries and keys are rotated so that attention scores depend on relative position only.
# - The token table is ~1% of a character GPT but most of a small BPE GPT; weight tying saves
#   `V·E` parameters and their optimizer state.
# - Next: module 12 builds attention, which mixes these vectors across positions.
