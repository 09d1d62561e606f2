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
# # Module 01 — Tensor
#
# Every number a neural network touches — a pixel, a weight, a gradient, a loss — lives in a
# *tensor*. In this module you build `Tensor`, the one data structure the rest of TinyTorch stands
# on, with PyTorch's names, defaults and semantics, on top of NumPy.
#
# ## Learning objectives
#
# By the end of this module you can:
#
# 1. explain what a tensor is in memory: one flat block of numbers plus `shape`, `strides` and
#    `dtype`;
# 2. predict the dtype of any result: float32 by default, int64 for indices and labels, and
#    PyTorch's rules when two dtypes meet;
# 3. apply the broadcasting rule by hand (what is the shape of `(64, 3, 32, 32) - (3, 1, 1)`?);
# 4. implement elementwise arithmetic, matrix multiplication, reductions with `dim`/`keepdim`,
#    elementwise math, shape operations and indexing;
# 5. tell a *view* (same memory, free) from a *copy* (new memory, costs time), and say which
#    operations give which;
# 6. record how every result was made, so that module 05 can walk the record backwards and compute
#    gradients;
# 7. measure on your own machine what views, broadcasting, matrix multiplication and memory layout
#    cost;
# 8. build what a transformer and an ordinary PyTorch script need on top: causal masks
#    (`tril`, `masked_fill`, `where`), pieces (`split`, `chunk`), recorded casts, devices, sorting and
#    sampling, and in-place operations with the two rules that keep them from corrupting gradients.
#
# ## How to work through this module
#
# `tito module start 01` pairs this file with a notebook; work in either, top to bottom.
# Cells marked `#| export` become the package file `tinytorch/core/tensor.py`. The parts you write
# are the function bodies that, in your copy, are a single line `raise NotImplementedError(...)`:
# read the docstring and the hint comments just above that line, then replace it with your code.
# Each part is followed by a `#| test` cell that checks it and explains what went wrong when it
# fails. `tito module test 01` exports your code into the package and runs these checks plus the
# full test suite in `tests/01_tensor`; `tito module complete 01` does the same and records the
# module as done when everything passes.
#
# We use NumPy for the number crunching — its loops are compiled C. Your job is everything around
# the loops: PyTorch's names and rules, helpful errors, and the record of how results were made.

# %%
#| default_exp core.tensor

# %% [markdown]
# ## 1. What a tensor is
#
# A tensor is a grid of numbers with any number of dimensions ("rank"):
#
# ```
#  rank 0: a scalar    rank 1: a vector      rank 2: a matrix        rank 3: a stack of matrices
#
#     3.0              [1., 2., 3.]          [[1., 2., 3.],          [[[1., 2., 3.],
#                                             [4., 5., 6.]]            [4., 5., 6.]],
#                                                                     [[7., 8., 9.],
#                                                                      [0., 1., 2.]]]
#  shape ()            shape (3,)            shape (2, 3)            shape (2, 2, 3)
# ```
#
# In deep learning the dimensions have meanings: a batch of 64 RGB images of 32×32 pixels is
# `(64, 3, 32, 32)` (batch, channel, height, width); the weight of `Linear(784, 10)` is `(10, 784)`
# (out, in); a batch of 8 sentences of 20 token ids is an integer tensor `(8, 20)`.
#
# ### In memory: one flat block plus a recipe for reading it
#
# However many dimensions a tensor has, its numbers sit in **one flat block of memory**. Three
# small pieces of information say how to read that block as a grid:
#
# ```
#  x = [[1., 2., 3.],          memory, float32 (4 bytes per number):
#       [4., 5., 6.]]          ┌────┬────┬────┬────┬────┬────┐
#                              │ 1. │ 2. │ 3. │ 4. │ 5. │ 6. │
#                              └────┴────┴────┴────┴────┴────┘
#                     element:   0    1    2    3    4    5
#
#  shape   (2, 3)    how many numbers along each dimension
#  strides (3, 1)    how many elements to skip to take one step along each dimension:
#                    x[i, j] is element  i*3 + j*1  of the block
#  dtype   float32   how to read each cell (4-byte IEEE floats)
# ```
#
# (PyTorch's `x.stride()` counts elements, as above; NumPy's `.strides` counts bytes: `(12, 4)`.)
#
# This recipe is what makes many operations free. The transpose of `x` is the *same block* read
# with shape `(3, 2)` and strides `(1, 3)`: nothing is copied, only the recipe changes. Such a
# result is a **view**. We will come back to views in section 7e.
#
# Our `Tensor` keeps its numbers in one NumPy array, `tensor.data`, which holds exactly this
# block + shape + strides + dtype.

# %%
#| export
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

# PyTorch-style dtype names, so `tt.float32` reads like `torch.float32`.
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8, bool_ = np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_
DEFAULT_FLOAT = np.float32

# %% [markdown]
# ## 2. dtype: what the numbers are made of
#
# Every element of a tensor has the same type. TinyTorch follows PyTorch's defaults:
#
# | you write | dtype | why |
# |---|---|---|
# | `Tensor([1.5, 2.0])` | float32 | Python floats become float32: half the memory of float64, and precise enough |
# | `Tensor([1, 2])` | int64 | integers are for indices and class labels |
# | `Tensor([True, False])` | bool | masks |
# | `Tensor(np.zeros(3))` | float64 | an ndarray keeps its dtype (like `torch.from_numpy`) |
# | `Tensor([1, 2], dtype=float32)` | float32 | ask for a dtype explicitly |
#
# (`torch.Tensor([1, 2])`, PyTorch's legacy constructor, always makes float32; TinyTorch's `Tensor`
# infers the dtype like `torch.tensor` does.)
#
# ### When two dtypes meet: type promotion
#
# `int_tensor + float_tensor` must have *some* dtype. PyTorch sorts dtypes into three categories,
# **bool < integer < floating**, and decides like this:
#
# - different categories: the operand of the higher category decides: `int64 + float32 → float32`.
#   (NumPy would say float64 — and silently double your memory. We follow PyTorch.)
# - same category: the wider type wins: `float32 + float64 → float64`, `int32 + int64 → int64`.
# - **Python numbers are "weak"**: they adapt to the tensor. `x * 0.5` stays float32, `x + 1`
#   stays float32, and only a category jump changes anything: `int_tensor * 0.5 → float32`.
# - a 0-dimensional tensor is treated almost like a Python number: it only decides the dtype when
#   its category is higher than the other operands'.
# - `/` is true division: `int / int → float32`, as in Python 3 and PyTorch.
#
# The helpers below turn user input into an ndarray with these defaults, and compute the result
# dtype of an operation. They are given; read them, you will use them everywhere.

# %%
#| export
def _resolve_dtype(dtype, where: str):
    """A NumPy dtype from float32 / np.float32 / 'float32' / np.dtype, or a clear error naming `where`."""
    if dtype is None:
        return None
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: dtype must be a dtype such as float32, int64 or bool_, "
                        f"got {dtype!r}") from None
    if resolved.kind not in "fiub":
        raise TypeError(f"{where}: dtype must be a float, int, uint or bool type, got {resolved}")
    return resolved


def _find_ragged(data, path: str = "data"):
    """Where a nested list stops being rectangular, as a sentence; None when it is rectangular."""
    if not isinstance(data, (list, tuple)) or not data:
        return None

    def describe(item):
        return f"a list of length {len(item)}" if isinstance(item, (list, tuple)) else "a number"

    kinds = [describe(item) for item in data]
    for position, kind in enumerate(kinds):
        if kind != kinds[0]:
            return f"{path}[0] is {kinds[0]} but {path}[{position}] is {kind}"
    for position, item in enumerate(data):
        found = _find_ragged(item, f"{path}[{position}]")
        if found:
            return found
    return None


def _to_array(data, dtype, where: str) -> np.ndarray:
    """`data` as an ndarray with PyTorch's default dtypes (Python floats -> float32, ints -> int64)."""
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, np.generic):
        array = np.asarray(data)  # a NumPy scalar keeps its dtype, like an ndarray
    elif isinstance(data, (numbers.Number, list, tuple, range)):
        if isinstance(data, complex):
            raise TypeError(f"{where}: data must hold real numbers (bool, int or float), got {data!r}")
        try:
            array = np.array(data, dtype=dtype)  # with an explicit dtype, convert in one step
        except (ValueError, TypeError, OverflowError) as error:
            ragged = _find_ragged(data)
            if ragged:
                raise ValueError(f"{where}: nested lists must be rectangular (every row the same "
                                 f"length), but {ragged}") from None
            raise TypeError(f"{where}: could not turn the data into numbers ({error})") from None
        if dtype is None and array.dtype == np.float64:
            array = array.astype(DEFAULT_FLOAT)  # Python floats become float32, like torch.tensor
        elif dtype is None and array.dtype.kind == "i":
            array = array.astype(np.int64)
    elif isinstance(data, Tensor):  # (the class is defined below; this runs only when it exists)
        array = data.data
    else:
        raise TypeError(f"{where}: data must be a number, a (nested) list, an ndarray or a Tensor, "
                        f"got {type(data).__name__}")
    if array.dtype.kind not in "fiub":
        found = {"U": "text", "S": "text", "c": "complex numbers",
                 "O": "Python objects (None, ints too large for int64, mixed types?)"}
        raise TypeError(f"{where}: data must hold real numbers (bool, int or float), got "
                        f"{found.get(array.dtype.kind, 'values')} (NumPy dtype {array.dtype})")
    if dtype is not None and array.dtype != dtype:
        array = array.astype(dtype)
    return array


def _scalar_dtype(tensor_dtype: np.dtype, scalar) -> np.dtype:
    """The dtype a Python number takes next to a tensor: the tensor's, unless it jumps a category."""
    if tensor_dtype.kind == "f":
        return tensor_dtype
    if isinstance(scalar, (float, np.floating)):
        return np.dtype(DEFAULT_FLOAT)
    if tensor_dtype.kind == "b" and not isinstance(scalar, (bool, np.bool_)):
        return np.dtype(np.int64)
    return tensor_dtype


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _result_dtype(*operands) -> np.dtype:
    """PyTorch's type promotion for operands with `.dtype` and `.ndim` (Tensors or ndarrays).

    Operands with dimensions decide first; 0-d operands (and wrapped Python numbers) only when
    their category (bool < int < float) is higher.
    """
    result = None
    for group in ([x.dtype for x in operands if x.ndim > 0], [x.dtype for x in operands if x.ndim == 0]):
        if not group:
            continue
        top = max(_CATEGORY[d.kind] for d in group)
        group_dtype = np.result_type(*[d for d in group if _CATEGORY[d.kind] == top])
        if result is None or _CATEGORY[group_dtype.kind] > _CATEGORY[result.kind]:
            result = group_dtype
    return result


# %%
#| test
def test_unit_dtype_rules():
    """Default dtypes and PyTorch's promotion rules."""
    cases = [([1.5, 2.0], np.float32, "a list of Python floats"),
             ([1, 2], np.int64, "a list of Python ints"),
             ([True, False], np.bool_, "a list of bools"),
             ([1, 2.5], np.float32, "a list mixing ints and floats"),
             (np.zeros(2), np.float64, "a float64 ndarray (must keep its dtype)"),
             (np.zeros(2, dtype=np.int32), np.int32, "an int32 ndarray (must keep its dtype)"),
             (3.0, np.float32, "a Python float")]
    for data, want, what in cases:
        got = _to_array(data, None, "test").dtype
        assert got == want, f"{what}: expected dtype {np.dtype(want)}, got {got}"
    precise = _to_array([0.1], np.dtype(np.float64), "test")[0]
    assert precise == 0.1, (f"[0.1] with dtype=float64 came back as {precise!r}: the list was rounded "
                            "through float32 first; convert straight to the requested dtype")
    a = np.zeros
    promotions = [((a(2, np.int64), a(2, np.float32)), np.float32, "int64 + float32"),
                  ((a(2, np.float32), a(2, np.float64)), np.float64, "float32 + float64"),
                  ((a(2, np.uint8), a(2, np.int8)), np.int16, "uint8 + int8"),
                  ((a(2, np.float32), a((), np.float64)), np.float32, "float32 + 0-d float64"),
                  ((a(2, np.int64), a((), np.float64)), np.float64, "int64 + 0-d float64"),
                  ((a(2, np.bool_), a((), np.int64)), np.int64, "bool + 0-d int64")]
    for operands, want, what in promotions:
        got = _result_dtype(*operands)
        assert got == want, f"promotion {what}: expected {np.dtype(want)}, got {got}"
    print("✅ dtype rules: defaults and PyTorch type promotion work")


test_unit_dtype_rules()

# %% [markdown]
# ## 3. Recording how results were made
#
# Training needs gradients: how much the loss changes when each weight changes. Module 05 computes
# them with the chain rule, walking from the loss **backwards** through every operation that
# produced it. To walk backwards, it needs a record, made on the way forward:
#
# ```
#  a = Tensor([2.], requires_grad=True)
#  b = Tensor([3.], requires_grad=True)
#  c = a * b                   a ──┐
#  d = c + 1                       ├─► mul ─► c ──┐
#  loss = d.sum()              b ──┘              ├─► add ─► d ──► sum ─► loss
#                                   Tensor(1.) ───┘
#
#  loss._ctx = Node(op="sum", inputs=(d,),             saved={dim: None, keepdim: False})
#  d._ctx    = Node(op="add", inputs=(c, Tensor(1.)),  saved={})
#  c._ctx    = Node(op="mul", inputs=(a, b),           saved={})
#  a._ctx = b._ctx = None     (leaves: made by you, not by an op)
# ```
#
# Each `Node` stores what the backward walk needs at that step:
#
# - **which op** made the result (`"mul"`): module 05 has one gradient rule per op name;
# - **the inputs** (`a`, `b`): the rule for `mul` needs them (d(a·b)/da = b) and the walk continues
#   through them;
# - **a few saved values**: `exp` saves its output, because d(eˣ)/dx = eˣ; `sum` saves which
#   dimensions it summed, to know how to spread the gradient back.
#
# The exact op names and saved values are a contract with module 05, written down in
# `docs/autograd.md`. Every operation you write in this module ends the same way:
#
# ```python
# return Tensor.from_op(result_array, "op_name", (input1, input2), saved_name=value)
# ```
#
# `from_op` records a Node **only when some input requires grad and grad mode is on**. Evaluating a
# model or preparing data records nothing, so intermediate results are freed as soon as you drop
# them: a record keeps every input alive until backward runs, which is the main memory cost of
# training. A node never points at its own output, so a graph has no reference cycles and Python
# frees it promptly.

# %%
#| export
class GradMode:
    """Whether new results record how they were made (module 05's no_grad flips `enabled`)."""

    def __init__(self) -> None:
        self.enabled = True


grad_mode = GradMode()


def is_grad_enabled() -> bool:
    """True when operations record the graph that backward() walks."""
    return grad_mode.enabled


class Node:
    """How a non-leaf tensor was made: the op, the tensors it read, what backward needs.

    See docs/autograd.md for each op's `saved` values. A node never points at its own output,
    so a graph holds no reference cycles.
    """

    __slots__ = ("op", "inputs", "saved", "versions", "out_version")

    def __init__(self, op, inputs: tuple, saved: dict, out_counter=None) -> None:
        self.op = op
        self.inputs = inputs
        self.saved = saved
        # Each input's version when it was read, and the output's (for ops that saved `out`):
        # backward (module 05) refuses to run the rule if an in-place op has changed one since.
        # Until the program makes its first in-place change, every version is 0: store None then.
        self.versions = None if not inplace_changes.value else tuple([t._version for t in inputs])
        self.out_version = None if out_counter is None else (out_counter, out_counter.value)

    def __repr__(self) -> str:
        name = self.op if isinstance(self.op, str) else getattr(self.op, "__name__", repr(self.op))
        return f"Node(op={name!r}, inputs={len(self.inputs)})"


# %% [markdown]
# Random numbers (`rand`, `randn`, and later weight initialisation and dropout) come from one
# NumPy generator. `manual_seed(0)` makes a run reproducible, like `torch.manual_seed(0)`.
# `max(dim=...)` and `min(dim=...)` return a pair `(values, indices)` like PyTorch's named tuple.

# %%
#| export
_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator behind rand/randn/init/dropout, for reproducible runs."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: seed must be an int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator that random functions use unless one is passed explicitly."""
    return _generator


ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
MinMax = ValuesIndices  # what max(dim)/min(dim) return (sort and topk too), like PyTorch's named tuples


class _VersionCounter:
    """How many times a tensor's memory has been changed in place; views share one counter."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


inplace_changes = _VersionCounter()  # every in-place change anywhere in the program (section 15)


# Ops whose result may share memory with their first input (they then share its version counter).
_VIEW_OPS = frozenset({"reshape", "permute", "expand", "getitem"})

# %% [markdown]
# ## 4. Broadcasting
#
# Adding a bias vector to every row of a batch, subtracting a per-channel mean from every image:
# operations between tensors of *different* shapes are everywhere. Broadcasting is the rule that
# makes them work without loops or copies.
#
# **The rule.** Line the two shapes up **from the right**. Compare the sizes pair by pair: they must
# be **equal, or one of them must be 1** (a missing dimension counts as 1). The result takes the
# larger size of each pair; a size-1 dimension is stretched by reusing its one value.
#
# ```
#   x          (4, 3)        [[ 0,  1,  2],        b  [10, 20, 30]   shape (3,)
#   b             (3,)        [ 3,  4,  5],
#   x + b      (4, 3)         [ 6,  7,  8],     →   b is reused for every row:
#                             [ 9, 10, 11]]         [[10, 21, 32], [13, 24, 35], ...]
#
#   col (3, 1)  +  row (1, 4)  →  (3, 4)     both are stretched:
#
#    [[ 0],          [[0, 1, 2, 3]]        [[ 0,  1,  2,  3],
#     [10],    +                     =      [10, 11, 12, 13],
#     [20]]                                 [20, 21, 22, 23]]
# ```
#
# | a | b | a ⊕ b | note |
# |---|---|---|---|
# | `(4, 3)` | `(3,)` | `(4, 3)` | bias added to every row |
# | `(3, 1)` | `(1, 4)` | `(3, 4)` | outer sum: both stretch |
# | `(64, 3, 32, 32)` | `(3, 1, 1)` | `(64, 3, 32, 32)` | per-channel mean of an image batch |
# | `(8, 1, 6, 1)` | `(7, 1, 5)` | `(8, 7, 6, 5)` | four dimensions, aligned from the right |
# | `(2, 0)` | `(1,)` | `(2, 0)` | size 1 stretches to 0 too |
# | `(4, 3)` | `(4,)` | **error** | 3 vs 4 in the last dimension |
#
# Stretching costs no memory: NumPy reads the same value again with a stride of 0 (section 18
# measures this). It also hides a classic bug: predictions of shape `(N, 1)` minus targets of shape
# `(N,)` broadcast to `(N, N)` — a loss computed over N² pairs, with no error. Always know your
# shapes.
#
# Broadcasting matters for gradients too: when `b` was stretched over 4 rows, each of its elements
# influenced 4 outputs, so module 05 sums the gradient over the stretched dimensions.
#
# **Your turn.** Implement `broadcast_shapes(*shapes)` (PyTorch's `torch.broadcast_shapes`): the
# shape of the result, or a `ValueError` when the shapes do not fit. Every binary operation uses it
# to check its operands.

# %%
#| export
def broadcast_shapes(*shapes) -> tuple:
    """The shape that tensors of the given shapes broadcast to, e.g. (3, 1), (1, 4) -> (3, 4).

    Shapes are tuples of ints (an int n means (n,)). Raises ValueError when some pair of sizes
    differs and neither is 1.
    """
    shapes = [_parse_shape((shape,), "broadcast_shapes") for shape in shapes]
    # Hints:
    # - Let ndim be the longest shape's length. For i = 1 .. ndim, look at the size i places from
    #   the right in every shape that is long enough (shape[-i]); shorter shapes count as 1 there.
    # - Among those sizes, ignore the 1s. If more than one distinct size is left, the shapes do
    #   not fit: raise a ValueError that names the shapes and the dimension, worded like
    #       shapes (2, 3) and (3, 2) cannot be broadcast: at dimension -1 the sizes are 3, 2
    #   Otherwise the result size is the one size left (or 1 if none is).
    # - You collect sizes right to left, so reverse before returning a tuple.
    ### BEGIN SOLUTION
    ndim = max((len(shape) for shape in shapes), default=0)
    result = []
    for i in range(1, ndim + 1):
        sizes = [shape[-i] for shape in shapes if len(shape) >= i]
        distinct = sorted(set(sizes) - {1})
        if len(distinct) > 1:
            listed = " and ".join(str(shape) for shape in shapes)
            raise ValueError(f"shapes {listed} cannot be broadcast: at dimension -{i} the sizes are "
                             f"{', '.join(map(str, sizes))} (each pair must be equal or one of them 1)")
        result.append(distinct[0] if distinct else 1)
    return tuple(reversed(result))
    ### END SOLUTION


def _broadcast_for(op: str, *shapes) -> tuple:
    """broadcast_shapes with the op's name in front of the error."""
    try:
        return broadcast_shapes(*shapes)
    except ValueError as error:
        raise ValueError(f"{op}: {error}") from None


# %% [markdown]
# ## 5. Dimensions and shapes as arguments
#
# Many operations take a dimension: `x.sum(dim=1)`, `x.transpose(0, 1)`, `cat(..., dim=0)`.
# Dimensions count from 0, and negative dimensions count from the end, like Python lists: for a
# tensor of shape `(64, 3, 32, 32)`, `dim=-1` is the width (32) and `dim=-3` the channels (3).
#
# ```
#  x.shape = (2, 3)        dim 0 goes down the rows, dim 1 (= dim -1) across the columns
#
#            dim 1 →
#   dim 0  [[1, 2, 3],
#     ↓     [4, 5, 6]]
# ```
#
# Functions that take a shape accept it both ways, as PyTorch does: `zeros(2, 3)` and
# `zeros((2, 3))`. The helpers below check those arguments once, so every operation reports a bad
# dimension or size the same way: which operation, what was expected, what came.

# %%
#| export
def _normalize_dim(dim, ndim: int, where: str) -> int:
    """A non-negative dimension from a possibly negative `dim`, or a clear IndexError.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch (x.sum(0) on a scalar is the scalar).
    """
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{where}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{where}: dim {dim} is out of range for a tensor with {ndim} dimension(s) "
                         f"(expected {-max(ndim, 1)} <= dim <= {max(ndim, 1) - 1})")
    return int(dim) % max(ndim, 1)


def _normalize_dims(dim, ndim: int, where: str):
    """None (all dimensions) or a sorted tuple of non-negative dims from an int or a sequence."""
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if not dims:
        return None  # dim=() reduces every dimension, as in PyTorch
    axes = tuple(sorted({_normalize_dim(d, ndim, where) for d in dims}))
    if len(axes) != len(dims):
        raise ValueError(f"{where}: dim {dim!r} names the same dimension twice")
    return axes


def _parse_shape(sizes: tuple, where: str, allow_minus_one: bool = False) -> tuple:
    """A shape tuple from f(2, 3) or f((2, 3)) or f([2, 3]), checking every size."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"{where}: sizes must be ints, got {tuple(sizes)!r} "
                            f"(a {type(size).__name__} among them)")
        if size < (-1 if allow_minus_one else 0):
            allowed = "non-negative (or -1 for 'infer this one')" if allow_minus_one else "non-negative"
            raise ValueError(f"{where}: sizes must be {allowed}, got {tuple(sizes)}")
    return tuple(int(s) for s in sizes)


def _infer_size(shape: tuple, numel: int, where: str, old_shape: tuple) -> tuple:
    """`shape` with its -1 (if any) replaced, checked against `numel` elements."""
    if shape.count(-1) > 1:
        raise ValueError(f"{where}: only one size can be -1 (inferred), got {shape}")
    known = 1
    for size in shape:
        known *= size if size != -1 else 1
    if -1 in shape:
        if known == 0 or numel % known:
            raise ValueError(f"{where}: cannot reshape a tensor of shape {old_shape} ({numel} elements) "
                             f"into {shape}: {numel} is not a multiple of {known}")
        return tuple(numel // known if size == -1 else size for size in shape)
    if known != numel:
        raise ValueError(f"{where}: cannot reshape a tensor of shape {old_shape} ({numel} elements) "
                         f"into {shape} ({known} elements); the number of elements must stay the same")
    return shape


def _unwrap_index(index):
    """Replace Tensors inside an index by their arrays, so NumPy can use them."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


# %%
#| test
def test_unit_broadcast_shapes():
    """broadcast_shapes follows the right-aligned rule and rejects mismatches."""
    cases = [(((4, 3), (3,)), (4, 3)), (((3, 1), (1, 4)), (3, 4)),
             (((64, 3, 32, 32), (3, 1, 1)), (64, 3, 32, 32)), (((8, 1, 6, 1), (7, 1, 5)), (8, 7, 6, 5)),
             (((2, 0), (1,)), (2, 0)), (((), (5,)), (5,)), (((), ()), ()), (((2, 3),), (2, 3)),
             (((1,), (1, 1)), (1, 1)), (((3,), 3), (3,))]
    for shapes, want in cases:
        got = broadcast_shapes(*shapes)
        assert got == want, (f"broadcast_shapes{shapes}: expected {want}, got {got!r}. Remember to "
                             "align from the right and to reverse what you collected")
    for bad in [((4, 3), (4,)), ((2, 3), (3, 2)), ((0,), (3,))]:
        try:
            broadcast_shapes(*bad)
        except ValueError as error:
            assert "broadcast" in str(error), f"the error for {bad} should say they cannot be broadcast: {error}"
        else:
            raise AssertionError(f"broadcast_shapes{bad} should raise ValueError: the sizes differ and neither is 1")
    print("✅ broadcast_shapes: right-aligned rule, size-1 stretching and errors work")


test_unit_broadcast_shapes()

# %% [markdown]
# ## 6. The Tensor class: its core
#
# `Tensor` holds the numbers and offers every operation as a method. It is a big class, so it is
# written in parts, each followed by its test. This cell is the core, and it is given: storage
# (`data`, `requires_grad`, `grad`), `from_op`, the properties (`shape`, `dtype`, `size()`,
# `stride()`, …), conversions, comparisons, and the helpers every binary operation starts with.
# It also lists the one-line methods whose work is done by functions of later sections
# (`x.masked_fill(...)` calls `masked_fill(x, ...)` from section 11, and so on).
#
# Section 7 then adds the operations, one group per cell. A Python class cannot be split across
# notebook cells, so each group is a small class of its own (`_Arithmetic`, `_Reductions`, …) and
# the call `_extend(Tensor, _Arithmetic)` right after it copies its methods into `Tensor`. After
# that there is no difference: `Tensor.__add__` *is* the `__add__` you wrote in `_Arithmetic`.
# (So in your copy, "`_Arithmetic.__add__ is not implemented yet`" means `Tensor.__add__`.)

# %%
#| export
class Tensor:
    """An n-dimensional array of numbers that remembers how it was made.

    `data` is the NumPy array holding the numbers (float32 unless you ask otherwise).
    `requires_grad=True` marks a tensor whose gradient backward() computes into `.grad`.
    `Tensor(ndarray)` shares the array's memory (like torch.as_tensor); `tensor(...)` copies.
    """

    __array_ufunc__ = None  # `ndarray + Tensor` calls Tensor.__radd__ instead of NumPy's loop

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        """Wrap `data` (number, nested list, ndarray or Tensor). An ndarray is shared, not copied."""
        self.data = _to_array(data, _resolve_dtype(dtype, "Tensor"), "Tensor")
        self.grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad is not False:
            self.requires_grad_(requires_grad)

    @staticmethod
    def from_op(data, op, inputs: tuple, **saved) -> "Tensor":
        """The result of `op` on the Tensors `inputs`, recording a Node when the graph is being built.

        `data` is the computed value; `saved` holds what the op's backward rule needs
        (docs/autograd.md). Nothing is recorded unless an input requires grad and grad mode is on.
        """
        out = Tensor.__new__(Tensor)
        out.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        out.grad = None
        out._ctx = None
        out.requires_grad = False
        if op in _VIEW_OPS and np.may_share_memory(out.data, inputs[0].data):
            out._version_counter, out._is_view = inputs[0]._counter(), True  # a view (section 15)
        if grad_mode.enabled and any(t.requires_grad for t in inputs):
            out.requires_grad = True
            out._ctx = Node(op, tuple(inputs), saved, out._counter() if "out" in saved else None)
        return out

    # The version counter is made on first need (a view or an in-place change): most tensors never
    # change in place, and they are all at version 0.
    _version_counter = None
    _is_view = False  # set on results that share memory with their input (views)

    def _counter(self) -> "_VersionCounter":
        if self._version_counter is None:
            self._version_counter = _VersionCounter()
        return self._version_counter

    # ----- autograd hooks (the engine is module 05) -------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Start (or stop) tracking operations on this leaf tensor. Returns self."""
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"requires_grad must be True or False, got {requires_grad!r}")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating-point tensors can require gradients, this "
                            f"one is {self.data.dtype}; create it with dtype=float32 or call .float()")
        self.requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that is being recorded."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The Node that made this tensor, or None for a leaf."""
        return self._ctx

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad, into `leaf.grad`.

        The engine is module 05; the graph is freed afterwards unless retain_graph=True.
        """
        try:
            from tinytorch.core import autograd
        except ImportError as error:
            raise RuntimeError("backward() needs the autograd engine from modules/05_autograd: "
                               "complete and export module 05 first") from error
        autograd.backward(self, gradient, retain_graph)

    def detach(self) -> "Tensor":
        """The same numbers (shared memory, and so the same version counter), cut off from the graph."""
        out = Tensor(self.data)
        out._version_counter = self._counter()
        return out

    @property
    def _version(self) -> int:
        """How often this tensor's memory was changed in place (PyTorch's x._version)."""
        return 0 if self._version_counter is None else self._version_counter.value

    def zero_grad(self) -> None:
        self.grad = None

    # ----- what a tensor is -------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        """The number of dimensions (PyTorch's name for ndim)."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def size(self, dim=None):
        """The shape (PyTorch's `size()`), or the length of dimension `dim`."""
        if dim is None:
            return self.data.shape
        if self.ndim == 0:
            raise IndexError(f"size: dimension {dim!r} was asked for, but the tensor has no dimensions "
                             "(it is 0-d, shape ())")
        return self.data.shape[_normalize_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        """How many elements the tensor holds."""
        return self.data.size

    @property
    def nbytes(self) -> int:
        """Bytes the elements take (numel × bytes per element)."""
        return self.data.nbytes

    def stride(self, dim=None):
        """Elements to skip for one step along each dimension (a tuple), or along `dim`."""
        strides = tuple(s // self.data.itemsize for s in self.data.strides)
        if dim is None:
            return strides
        if self.ndim == 0:
            raise IndexError(f"stride: dimension {dim!r} was asked for, but the tensor has no dimensions")
        return strides[_normalize_dim(dim, self.ndim, "stride")]

    def is_contiguous(self) -> bool:
        """True when the elements sit in memory in row-major order, with no gaps or repeats."""
        return bool(self.data.flags.c_contiguous)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, like torch's .numpy())."""
        return self.data

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Let np.asarray(tensor) and matplotlib see the numbers."""
        array = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self):
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor can become a Python number, this one "
                             f"has shape {self.shape} ({self.data.size} elements)")
        return self.data.item()

    def tolist(self):
        """The elements as (nested) Python lists of Python numbers."""
        return self.data.tolist()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                             "use .any() or .all()")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """f"{loss:.4f}" works for a 0-d tensor, as in PyTorch."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def any(self, dim=None, keepdim: bool = False) -> "Tensor":
        """True where any element (along `dim`, or of the whole tensor) is non-zero. A bool tensor."""
        axes = self._reduce_axes(dim, None, "any")
        return Tensor(np.asarray(self.data.any(axis=axes, keepdims=keepdim)))

    def all(self, dim=None, keepdim: bool = False) -> "Tensor":
        """True where every element (along `dim`, or of the whole tensor) is non-zero. A bool tensor."""
        axes = self._reduce_axes(dim, None, "all")
        return Tensor(np.asarray(self.data.all(axis=axes, keepdims=keepdim)))

    __hash__ = object.__hash__  # == is elementwise, so hash by identity (as PyTorch does)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            op = self._ctx.op if isinstance(self._ctx.op, str) else self._ctx.op.__name__
            extras.append(f"grad_fn=<{op}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ----- helpers for binary operators -------------------------------------------------------
    def _coerce(self, other, op: str) -> "Tensor":
        """`other` as a Tensor: numbers take this tensor's dtype (floats lift ints to float32)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (numbers.Real, np.bool_)):
            dtype = _scalar_dtype(self.dtype, other)
            try:
                return Tensor(np.asarray(other, dtype=dtype))
            except OverflowError:
                raise ValueError(f"{op}: the number {other!r} does not fit in this tensor's dtype "
                                 f"{dtype}") from None
        if isinstance(other, np.ndarray):
            return Tensor(_to_array(other, None, op))
        raise TypeError(f"{op}: cannot combine a Tensor with a {type(other).__name__} "
                        "(expected a Tensor, a number or an ndarray)")

    def _operands(self, other, op: str):
        """(other as a Tensor, self's array, other's array), shapes checked, arrays in the result dtype."""
        other = self._coerce(other, op)
        if self.data.shape != other.data.shape and self.data.ndim and other.data.ndim:
            _broadcast_for(op, self.data.shape, other.data.shape)  # (a 0-d operand always fits)
        a, b = self.data, other.data
        if a.dtype != b.dtype:  # (the common case, equal dtypes, needs no promotion)
            dtype = _result_dtype(a, b)
            a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
        return other, a, b

    # ----- comparisons (not recorded: a bool result has no gradient) -------------------------
    def _compare(self, other, numpy_op, name: str) -> "Tensor":
        other, a, b = self._operands(other, name)
        return Tensor(numpy_op(a, b))

    def __eq__(self, other) -> "Tensor":  # type: ignore[override]
        if not isinstance(other, (Tensor, np.ndarray, numbers.Real, np.bool_)):
            return NotImplemented  # so `x == None` is False, as in PyTorch
        return self._compare(other, np.equal, "eq")

    def __ne__(self, other) -> "Tensor":  # type: ignore[override]
        if not isinstance(other, (Tensor, np.ndarray, numbers.Real, np.bool_)):
            return NotImplemented
        return self._compare(other, np.not_equal, "ne")

    def __lt__(self, other) -> "Tensor":
        return self._compare(other, np.less, "lt")

    def __le__(self, other) -> "Tensor":
        return self._compare(other, np.less_equal, "le")

    def __gt__(self, other) -> "Tensor":
        return self._compare(other, np.greater, "gt")

    def __ge__(self, other) -> "Tensor":
        return self._compare(other, np.greater_equal, "ge")

    def eq(self, other) -> "Tensor":
        return self._compare(other, np.equal, "eq")

    def ne(self, other) -> "Tensor":
        return self._compare(other, np.not_equal, "ne")

    lt, le, gt, ge = __lt__, __le__, __gt__, __ge__

    # ----- dtype and device conversions (section 12 defines _cast and the devices) ------------
    def float(self) -> "Tensor":
        """This tensor as float32 (itself when it already is); recorded, so gradients flow back."""
        return _cast(self, np.float32, "float")

    def double(self) -> "Tensor":
        """This tensor as float64 (itself when it already is)."""
        return _cast(self, np.float64, "double")

    def half(self) -> "Tensor":
        """This tensor as float16."""
        return _cast(self, np.float16, "half")

    def long(self) -> "Tensor":
        """This tensor as int64 (itself when it already is); floats are truncated toward zero."""
        return _cast(self, np.int64, "long")

    def int(self) -> "Tensor":
        """This tensor as int32; floats are truncated toward zero."""
        return _cast(self, np.int32, "int")

    def bool(self) -> "Tensor":
        """This tensor as bool: True where an element is non-zero."""
        return _cast(self, np.bool_, "bool")

    def to(self, *args, **kwargs) -> "Tensor":
        """to(dtype), to(device), to(device, dtype), to(other_tensor): converted, or self when nothing changes.

        Devices: "cpu" (or device("cpu")) is the only one; "cuda" and "mps" raise a clear error.
        A dtype change is recorded, so a cast tensor that requires grad keeps its gradient flowing.
        """
        return _convert(self, "to", *args, **kwargs)

    def type_as(self, other: "Tensor") -> "Tensor":
        """This tensor in `other`'s dtype."""
        return _cast(self, _like(other, "type_as").dtype, "type_as")

    def cpu(self) -> "Tensor":
        """Itself: TinyTorch tensors always live on the CPU."""
        return self

    @property
    def device(self):
        """Where the tensor lives: always device(type='cpu')."""
        return CPU

    is_cuda = False

    # ----- masks, triangles and pieces (section 11 defines the functions) ---------------------
    def masked_fill(self, mask, value) -> "Tensor":
        """A copy with `value` wherever the bool `mask` (broadcast against self) is True."""
        return masked_fill(self, mask, value)

    def where(self, condition, other) -> "Tensor":
        """Elements of self where `condition` is True, of `other` elsewhere (torch's x.where)."""
        return where(condition, self, other)

    def tril(self, diagonal: int = 0) -> "Tensor":
        """The lower triangle of the last two dimensions (the rest set to 0)."""
        return tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> "Tensor":
        """The upper triangle of the last two dimensions (the rest set to 0)."""
        return triu(self, diagonal)

    def split(self, split_size_or_sections, dim: int = 0) -> tuple:
        """Views of consecutive pieces along `dim`: of one size (the last may be shorter) or of given sizes."""
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """At most `chunks` views of (nearly) equal size along `dim`."""
        return chunk(self, chunks, dim)

    def unbind(self, dim: int = 0) -> tuple:
        """Every slice along `dim`, that dimension removed: (3, 4).unbind(0) -> three (4,) views."""
        return unbind(self, dim)

    # ----- copies, transposes and new tensors (section 12) ------------------------------------
    def clone(self) -> "Tensor":
        """A copy with its own memory (same layout); recorded, so gradients flow back to self."""
        return Tensor.from_op(self.data.copy(order="K"), "clone", (self,))

    def t(self) -> "Tensor":
        """The transpose of a matrix (tensors with at most 2 dimensions; 0-d and 1-d come back as they are)."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape {self.shape}; "
                             "use .mT to transpose the last two dimensions, or .transpose(dim0, dim1)")
        return self.transpose(0, 1) if self.ndim == 2 else self.permute(*range(self.ndim))

    @property
    def mT(self) -> "Tensor":
        """The last two dimensions swapped (a batch of matrices, each transposed). A view."""
        if self.ndim < 2:
            raise ValueError(f"mT: needs at least 2 dimensions (a matrix or a batch of them), got shape {self.shape}")
        return self.transpose(-2, -1)

    def new_zeros(self, *size, dtype=None, requires_grad: bool = False) -> "Tensor":
        """Zeros of the given size, with this tensor's dtype unless `dtype` says otherwise."""
        return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad: bool = False) -> "Tensor":
        """Ones of the given size, with this tensor's dtype unless `dtype` says otherwise."""
        return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad: bool = False) -> "Tensor":
        """`fill_value` everywhere, with this tensor's dtype unless `dtype` says otherwise."""
        return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, requires_grad: bool = False) -> "Tensor":
        """A copy of `data` with this tensor's dtype unless `dtype` says otherwise."""
        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def repeat(self, *sizes) -> "Tensor":
        """Tile the tensor: (2, 3).repeat(2, 1) -> (4, 3); extra leading sizes add dimensions."""
        return repeat(self, *sizes)

    # ----- selections, sorting and tests (section 13) -----------------------------------------
    def maximum(self, other) -> "Tensor":
        """Elementwise larger of self and other (broadcast); ties share the gradient evenly."""
        return maximum(self, other)

    def minimum(self, other) -> "Tensor":
        """Elementwise smaller of self and other (broadcast); ties share the gradient evenly."""
        return minimum(self, other)

    def gather(self, dim: int, index) -> "Tensor":
        """out[i][j] = self[index[i][j]][j] for dim=0 (and likewise for other dims). out.shape == index.shape."""
        return gather(self, dim, index)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """(values, indices) sorted along `dim`; equal elements keep their order."""
        return sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> "Tensor":
        """The indices that sort the tensor along `dim`."""
        return sort(self, dim, descending, stable).indices

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """(values, indices) of the k largest (or smallest) elements along `dim`, best first."""
        return topk(self, k, dim, largest, sorted)

    def isnan(self) -> "Tensor":
        """True where an element is NaN (a bool tensor)."""
        return Tensor(np.isnan(self.data))

    def isinf(self) -> "Tensor":
        """True where an element is +inf or -inf."""
        return Tensor(np.isinf(self.data))

    def isfinite(self) -> "Tensor":
        """True where an element is neither NaN nor infinite."""
        return Tensor(np.isfinite(self.data))

    def softmax(self, dim: int) -> "Tensor":
        """Module 02's softmax along `dim` (x.softmax(-1) as in PyTorch)."""
        from tinytorch.core.activations import softmax
        return softmax(self, dim=dim)

    def log_softmax(self, dim: int) -> "Tensor":
        """Module 02's log_softmax along `dim`."""
        from tinytorch.core.activations import log_softmax
        return log_softmax(self, dim=dim)

    # ----- in-place operations (section 15) ---------------------------------------------------
    def add_(self, other, *, alpha=1) -> "Tensor":
        """self += alpha * other, in place (other broadcasts to self's shape). Returns self."""
        return _arithmetic_(self, "add", other, alpha)

    def sub_(self, other, *, alpha=1) -> "Tensor":
        """self -= alpha * other, in place. Returns self."""
        return _arithmetic_(self, "sub", other, alpha)

    def mul_(self, other) -> "Tensor":
        """self *= other, in place. Returns self."""
        return _arithmetic_(self, "mul", other, 1)

    def div_(self, other) -> "Tensor":
        """self /= other, in place (floating-point tensors only). Returns self."""
        return _arithmetic_(self, "div", other, 1)

    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_  # x += y changes x itself

    def zero_(self) -> "Tensor":
        """Set every element to 0, in place. Returns self."""
        return fill_(self, 0, "zero_")

    def fill_(self, value) -> "Tensor":
        """Set every element to `value` (a number or a 0-d tensor), in place. Returns self."""
        return fill_(self, value, "fill_")

    def clamp_(self, min=None, max=None) -> "Tensor":
        """clamp(min, max), in place. Returns self."""
        return clamp_(self, min, max)

    clip_ = clamp_

    def copy_(self, src) -> "Tensor":
        """Copy `src` (broadcast to self's shape, converted to self's dtype) into self. Returns self."""
        return copy_(self, src)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> "Tensor":
        """Fill with samples from the uniform distribution on [a, b), in place. Returns self."""
        return random_(self, "uniform_", a, b, generator)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> "Tensor":
        """Fill with samples from N(mean, std²), in place. Returns self."""
        return random_(self, "normal_", mean, std, generator)

    def __setitem__(self, index, value) -> None:
        """x[index] = value: write into the selected elements (value broadcasts; cast to self's dtype)."""
        setitem_(self, index, value)


_CLASS_BOOKKEEPING = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__firstlineno__",
                      "__static_attributes__"}


def _extend(cls: type, part: type) -> None:
    """Copy the methods of `part` (one group of operations, written in its own cell) into `cls`.

    Each copied function is renamed `cls.name` (Tensor.__add__), so tracebacks read as usual.
    """
    for name, value in vars(part).items():
        if name in _CLASS_BOOKKEEPING:
            continue
        if callable(value) and hasattr(value, "__qualname__"):
            value.__qualname__ = f"{cls.__name__}.{name}"
        setattr(cls, name, value)


# %%
def _expect(got, want, what: str, cause: str = "", dtype=None) -> None:
    """Assert that Tensor `got` holds `want` (shape, values, and `dtype` when given)."""
    assert isinstance(got, Tensor), f"{what}: expected a Tensor, got a {type(got).__name__}. {cause}"
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: expected shape {want.shape}, got {got.shape}. {cause}"
    if dtype is not None:
        assert got.dtype == dtype, f"{what}: expected dtype {np.dtype(dtype)}, got {got.dtype}. {cause}"
    assert np.allclose(got.data, want, equal_nan=True), \
        f"{what}: expected\n{want}\ngot\n{got.data}\n{cause}"


# %%
#| test
def test_unit_tensor_basics():
    """Construction, dtypes, properties and conversions (given code: this should already pass)."""
    x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert (x.shape, x.ndim, x.dtype, x.numel(), x.nbytes) == ((2, 3), 2, np.float32, 6, 24), \
        f"shape/ndim/dtype/numel/nbytes: got {(x.shape, x.ndim, x.dtype, x.numel(), x.nbytes)}"
    assert x.size() == (2, 3) and x.size(-1) == 3 and x.stride() == (3, 1)
    assert Tensor([1, 2]).dtype == np.int64 and Tensor(np.zeros(2)).dtype == np.float64
    array = np.zeros(3, dtype=np.float32)
    assert Tensor(array).data is array, "Tensor(ndarray) must share the array, not copy it"
    assert Tensor(7.5).item() == 7.5 and isinstance(Tensor(7).item(), int)
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] and len(x) == 2
    assert f"{Tensor(0.25):.2f}" == "0.25", "a 0-d tensor should format like its number"
    try:
        Tensor([1, 2]).requires_grad_()
    except TypeError:
        pass
    else:
        raise AssertionError("an int64 tensor must refuse requires_grad: gradients need floats")
    print("✅ Tensor basics: construction, dtypes and properties work")


test_unit_tensor_basics()

# %% [markdown]
# ## 7. The operations, part by part
#
# Each part below starts with the idea it rests on, then the code (your part is the body that, in
# your copy, is a single `raise NotImplementedError(...)`), then its test:
#
# | part | you implement | checked by |
# |---|---|---|
# | 7a arithmetic | `__add__`, `__sub__`, `__mul__`, `__truediv__`, `__neg__`, `__pow__` | `test_unit_arithmetic` |
# | 7b matrix multiplication | `__matmul__` | `test_unit_matmul` |
# | 7c elementwise math | `exp`, `log`, `sqrt`, `abs`, `clamp` | `test_unit_elementwise` |
# | 7d reductions (`std` is `var(...).sqrt()`, so 7c comes first) | `sum`, `mean`, `var` | `test_unit_reductions` |
# | 7e shapes | `reshape`, `permute`, `expand` | `test_unit_views` |
# | 7f indexing | `__getitem__` | `test_unit_indexing` |
#
# Everything else in the parts (`max`/`min`, `view`, `transpose`, `flatten`, the reflected
# operators, …) is given: read it, it shows the patterns you need. Write one part, run its cell,
# then run the test right after it.

# %% [markdown]
# ### 7a. Elementwise arithmetic and reflected operators
#
# `a + b`, `a - b`, `a * b`, `a / b`, `-a` and `a ** b` work element by element, with
# broadcasting. `*` is the elementwise product, not the matrix product (that is `@`).
#
# Python calls `a.__add__(b)` for `a + b`. For `2 - x`, it first tries `int.__sub__(2, x)`, which
# does not know tensors, then calls **`x.__rsub__(2)`**: the *reflected* operator. The order
# matters for `-`, `/` and `**`: `x.__rsub__(2)` must compute `2 - x`, not `x - 2`. Our reflected
# operators wrap the number as a tensor and call the normal operator on it, so `2 - x` is recorded
# as `sub(Tensor(2), x)`.
#
# Each binary method starts with the same helper, `self._operands(other, name)`, which turns
# `other` into a Tensor (numbers take this tensor's dtype, section 2), checks that the shapes
# broadcast (section 4), and returns the two NumPy arrays already converted to the result dtype. Your
# part is the NumPy operation and the record.

# %%
#| export
class _Arithmetic:
    """Section 7a: elementwise arithmetic and the reflected operators (copied into Tensor by _extend)."""

    def __add__(self, other) -> "Tensor":
        """a + b elementwise, with broadcasting. Shapes: a, b -> broadcast_shapes(a, b).

        Example: Tensor([[1., 2.], [3., 4.]]) + Tensor([10., 20.]) -> [[11., 22.], [13., 24.]]
        """
        other, a, b = self._operands(other, "add")
        # Hint: `a` and `b` are the two NumPy arrays (already in the result dtype); NumPy adds them
        #       with broadcasting. Wrap the result and record the op with the two *Tensors*:
        #           return Tensor.from_op(<result array>, "add", (self, other))
        ### BEGIN SOLUTION
        return Tensor.from_op(a + b, "add", (self, other))
        ### END SOLUTION

    def __sub__(self, other) -> "Tensor":
        """a - b elementwise, with broadcasting. Shapes: a, b -> broadcast_shapes(a, b)."""
        other, a, b = self._operands(other, "sub")
        if a.dtype == np.bool_:
            raise TypeError("sub: subtracting two bool tensors is not supported (as in PyTorch); "
                            "convert them first, e.g. a.long() - b.long()")
        # Hint: like __add__, with op name "sub" (inputs in order: self, other).
        ### BEGIN SOLUTION
        return Tensor.from_op(a - b, "sub", (self, other))
        ### END SOLUTION

    def __mul__(self, other) -> "Tensor":
        """a * b elementwise (not the matrix product, that is @), with broadcasting."""
        other, a, b = self._operands(other, "mul")
        # Hint: like __add__, with op name "mul".
        ### BEGIN SOLUTION
        return Tensor.from_op(a * b, "mul", (self, other))
        ### END SOLUTION

    def __truediv__(self, other) -> "Tensor":
        """a / b elementwise, with broadcasting; true division, so int / int gives float32.

        x / 0 gives inf (or nan for 0 / 0) without a warning, as in PyTorch.
        """
        other, a, b = self._operands(other, "div")
        if a.dtype.kind != "f":
            a, b = a.astype(DEFAULT_FLOAT), b.astype(DEFAULT_FLOAT)
        # Hint: like __add__, with op name "div".
        with np.errstate(divide="ignore", invalid="ignore"):
            ### BEGIN SOLUTION
            return Tensor.from_op(a / b, "div", (self, other))
            ### END SOLUTION

    def __neg__(self) -> "Tensor":
        """-a elementwise. Shape: unchanged."""
        if self.dtype == np.bool_:
            raise TypeError("neg: negating a bool tensor with - is not supported (as in PyTorch); "
                            "for logical not write x == False, or convert first with x.long()")
        # Hint: one input, so record (self,) — note the comma that makes it a tuple. Op name "neg".
        ### BEGIN SOLUTION
        return Tensor.from_op(-self.data, "neg", (self,))
        ### END SOLUTION

    def __pow__(self, exponent) -> "Tensor":
        """a ** b elementwise; b is usually a number (x ** 2) but may be a tensor (broadcast).

        Integer tensors raised to negative integers are an error, as in PyTorch.
        """
        exponent, a, b = self._operands(exponent, "pow")
        if a.dtype.kind in "iub" and (b < 0).any():
            raise ValueError("pow: integers to negative integer powers are not allowed (as in "
                             "PyTorch); use a float tensor, e.g. x.float() ** -1")
        # Hint: backward needs the result too (d(a**b)/db = a**b * log a), so save it:
        #           out = ...
        #           return Tensor.from_op(out, "pow", (self, exponent), out=out)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ### BEGIN SOLUTION
            out = a ** b
            return Tensor.from_op(out, "pow", (self, exponent), out=out)
            ### END SOLUTION

    def __radd__(self, other) -> "Tensor":
        return self._coerce(other, "add").__add__(self)

    def __rsub__(self, other) -> "Tensor":
        return self._coerce(other, "sub").__sub__(self)

    def __rmul__(self, other) -> "Tensor":
        return self._coerce(other, "mul").__mul__(self)

    def __rtruediv__(self, other) -> "Tensor":
        return self._coerce(other, "div").__truediv__(self)

    def __rpow__(self, other) -> "Tensor":
        return self._coerce(other, "pow").__pow__(self)

    def add(self, other) -> "Tensor":
        return self + other

    def sub(self, other) -> "Tensor":
        return self - other

    def mul(self, other) -> "Tensor":
        return self * other

    def div(self, other) -> "Tensor":
        return self / other

    def neg(self) -> "Tensor":
        return -self

    def pow(self, exponent) -> "Tensor":
        return self ** exponent


_extend(Tensor, _Arithmetic)


# %%
#| test
def test_unit_arithmetic():
    """+ - * / neg ** with broadcasting, reflected operators and dtype rules."""
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    b = Tensor([10.0, 20.0])
    _expect(a + b, [[11, 22], [13, 24]], "a + b (b broadcast over rows)", "Check Tensor.__add__.",
            np.float32)
    _expect(a - b, [[-9, -18], [-7, -16]], "a - b", "Check Tensor.__sub__ (self minus other).")
    _expect(a * b, [[10, 40], [30, 80]], "a * b (elementwise)", "Check Tensor.__mul__ with *, not @.")
    _expect(a / b, [[0.1, 0.1], [0.3, 0.2]], "a / b", "Check Tensor.__truediv__.")
    _expect(-a, [[-1, -2], [-3, -4]], "-a", "Check Tensor.__neg__.")
    _expect(a ** 2, [[1, 4], [9, 16]], "a ** 2", "Check Tensor.__pow__.", np.float32)
    _expect(2 - a, [[1, 0], [-1, -2]], "2 - a (reflected)",
            "__rsub__ must compute other - self; it calls __sub__ on the wrapped number.")
    _expect(1 / Tensor([2.0, 4.0]), [0.5, 0.25], "1 / x (reflected)")
    _expect(2 ** Tensor([1.0, 3.0]), [2, 8], "2 ** x (reflected)")
    _expect(a * 0.5, [[0.5, 1], [1.5, 2]], "a * 0.5", "A Python float must not make float32 into float64.",
            np.float32)
    _expect(Tensor([1, 2]) / Tensor([2, 2]), [0.5, 1.0], "int / int", "True division gives float32.",
            np.float32)
    _expect(Tensor([1, 2]) + Tensor([0.5, 0.5]), [1.5, 2.5], "int64 + float32",
            "PyTorch promotes to float32 here (NumPy alone would say float64).", np.float32)
    _expect(Tensor([3, 4]) * 2, [6, 8], "int64 * 2", "An int times an int stays int64.", np.int64)
    for op in ("__add__", "__sub__", "__mul__", "__truediv__", "__pow__"):
        c = getattr(a, op)(b)
        assert c._ctx is None, f"{op}: nothing requires grad, so from_op should record nothing"
    print("✅ arithmetic: + - * / neg ** with broadcasting and PyTorch dtypes work")


test_unit_arithmetic()


# %%
#| test
def test_unit_comparisons():
    """Comparisons give bool tensors and follow broadcasting (given code)."""
    x = Tensor([1.0, 2.0, 3.0])
    _expect(x > 1.5, [False, True, True], "x > 1.5", dtype=np.bool_)
    _expect(x == Tensor([1.0, 0.0, 3.0]), [True, False, True], "x == y")
    assert (x == None) is False  # noqa: E711  (PyTorch returns False too)
    print("✅ comparisons: elementwise bool results work")


test_unit_comparisons()


# %% [markdown]
# ### 7b. Matrix multiplication
#
# `a @ b` follows NumPy's and PyTorch's `matmul`:
#
# ```
#  (n,)  @ (n,)          -> ()            dot product
#  (m, n) @ (n,)         -> (m,)          matrix · vector
#  (m, n) @ (n, p)       -> (m, p)        out[i, j] = sum_k a[i, k] * b[k, j]
#  (b, m, n) @ (b, n, p) -> (b, m, p)     one product per batch index; batch dims broadcast:
#  (b, m, n) @ (n, p)    -> (b, m, p)     the same matrix for every batch element
# ```
#
# ```
#                          b: (n, p)
#                         ┌──────┬─┬──────┐
#                         │      │ │      │
#                       n │      │j│      │   column j of b
#                         │      │ │      │
#                         └──────┴─┴──────┘
#       a: (m, n)           out: (m, p)
#     ┌─────────────┐     ┌──────┬─┬──────┐
#     │             │     │      │ │      │
#   m ├─── row i ───┤   m ├──────┼•┼──────┤   out[i, j] = (row i of a) · (column j of b)
#     │             │     │      │ │      │              = n multiplications + n additions
#     └─────────────┘     └──────┴─┴──────┘
#
#  m·p outputs × 2n operations each = 2·m·n·p floating-point operations (FLOPs)
# ```
#
# The inner sizes must agree (`n`): that is the most common shape error in deep learning, so the
# message must say which sizes disagree. PyTorch requires both operands to have the same dtype.
#
# One dtype needs care: **float16**. NumPy hands float32 and float64 products to BLAS, but there
# is no float16 BLAS, so a float16 `np.matmul` runs NumPy's own plain loop — on the machine this was
# written on, a 256x256 product took 42.5 ms in float16 against 0.16 ms in float32. PyTorch's CPU
# kernels multiply float16 in float32 and round the result once; `matmul_arrays` below does the
# same (two conversions, one fast product, one rounding: 0.46 ms). `Tensor @ Tensor`, its gradient
# (module 05) and the attention kernels (module 12) go through it.

# %%
#| export
_matmul_kernel = None  # np.matmul's stand-in for float32/float64 products, once a later module installs one


def install_matmul_kernel(kernel) -> None:
    """Let `kernel(a, b, out)` compute matmul_arrays' float32 and float64 products (None: np.matmul again).

    The kernel must mean exactly np.matmul(a, b, out=out). Module 16 installs one that splits a
    large product over its thread pool (its `parallel_matmul`), so every Tensor `@`, Linear and
    backward product in the package uses all the cores it owns.
    """
    global _matmul_kernel
    if kernel is not None and not callable(kernel):
        raise TypeError(f"install_matmul_kernel: kernel must be callable or None, got {type(kernel).__name__}")
    _matmul_kernel = kernel


def matmul_arrays(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """np.matmul(a, b, out=out), except that two float16 operands are multiplied in float32 and rounded once.

    Shapes follow np.matmul. The float32 copies are temporaries: nothing float32 is kept. (Mixed
    dtypes are np.matmul's: it promotes to the wider one, which has a BLAS.) Other products go to
    the kernel install_matmul_kernel set, if any.
    """
    if a.dtype != np.float16 or b.dtype != np.float16:
        return np.matmul(a, b, out=out) if _matmul_kernel is None else _matmul_kernel(a, b, out)
    product = np.matmul(a.astype(np.float32), b.astype(np.float32))
    if out is None:
        return product.astype(np.float16)
    np.copyto(out, product, casting="same_kind")
    return out


class _MatMul:
    """Section 7b: matrix multiplication (copied into Tensor by _extend)."""

    def __matmul__(self, other) -> "Tensor":
        """Matrix product with NumPy/PyTorch rules.

        (n,) @ (n,) -> ()    (m, n) @ (n,) -> (m,)    (n,) @ (n, p) -> (p,)    (m, n) @ (n, p) -> (m, p)
        (..., m, n) @ (..., n, p) -> (..., m, p), batch dimensions broadcast.
        """
        other = self._coerce(other, "matmul")
        a, b = self.shape, other.shape
        if len(a) == 0 or len(b) == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a} and {b}")
        if self.dtype != other.dtype:
            raise TypeError(f"matmul: both operands must have the same dtype (as in PyTorch), got "
                            f"{self.dtype} and {other.dtype}; convert one, e.g. with .float()")
        inner_a, inner_b = a[-1], b[-2] if len(b) > 1 else b[0]
        if inner_a != inner_b:
            raise ValueError(f"matmul: shapes {a} and {b} do not fit: the last dimension of the first "
                             f"({inner_a}) must equal the {'second-to-last' if len(b) > 1 else 'only'} "
                             f"dimension of the second ({inner_b})")
        try:
            if len(a) > 2 and len(b) > 2:
                broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            raise ValueError(f"matmul: the batch dimensions {a[:-2]} and {b[:-2]} of shapes {a} and "
                             f"{b} cannot be broadcast") from None
        # Hint: matmul_arrays(self.data, other.data) (np.matmul, float16 done in float32)
        #       implements every case above. Record op "matmul" with inputs (self, other);
        #       nothing needs saving.
        ### BEGIN SOLUTION
        return Tensor.from_op(matmul_arrays(self.data, other.data), "matmul", (self, other))
        ### END SOLUTION

    def __rmatmul__(self, other) -> "Tensor":
        return self._coerce(other, "matmul").__matmul__(self)

    def matmul(self, other) -> "Tensor":
        return self @ other


_extend(Tensor, _MatMul)


# %%
#| test
def test_unit_matmul():
    """@ for 1-D, 2-D and batched operands."""
    a = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])                 # (2, 3)
    b = Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])               # (3, 2)
    _expect(a @ b, [[4, 5], [10, 11]], "(2, 3) @ (3, 2)", "Check Tensor.__matmul__ with np.matmul; "
            "* would be the elementwise product.")
    _expect(a @ Tensor([1.0, 1.0, 1.0]), [6, 15], "(2, 3) @ (3,)")
    _expect(Tensor([1.0, 2.0]) @ Tensor([3.0, 4.0]), 11.0, "(2,) @ (2,) is a dot product of shape ()")
    batch = Tensor(np.arange(12, dtype=np.float32).reshape(2, 2, 3))
    _expect(batch @ b, np.arange(12, dtype=np.float32).reshape(2, 2, 3) @ b.data, "(2, 2, 3) @ (3, 2)",
            "Batched: one product per leading index, and b is shared by the whole batch.")
    try:
        a @ a
    except ValueError as error:
        assert "(2, 3)" in str(error), f"the error should show both shapes: {error}"
    else:
        raise AssertionError("(2, 3) @ (2, 3) must raise ValueError: inner sizes 3 and 2 differ")
    print("✅ matmul: dot, matrix-vector, matrix-matrix and batched products work")


test_unit_matmul()


# %% [markdown]
# ### 7c. Elementwise math
#
# `exp`, `log`, `sqrt`, `abs` and `clamp` apply a function to every element. They follow IEEE and
# PyTorch conventions instead of raising: `log(0) = -inf`, `log(-1) = nan`, `sqrt(-1) = nan`.
# Integer tensors are converted to float32 first (`exp` of an integer is not an integer).
# `clamp(min, max)` limits every element to `[min, max]` — the heart of ReLU, `clamp(min=0)`.

# %%
#| export
class _ElementwiseMath:
    """Section 7c: elementwise math: exp, log, sqrt, abs, clamp (copied into Tensor by _extend)."""

    def _float_data(self) -> np.ndarray:
        """The data as floating point: integer and bool tensors become float32, as in PyTorch."""
        return self.data if self.dtype.kind == "f" else self.data.astype(DEFAULT_FLOAT)

    def exp(self) -> "Tensor":
        """e ** x elementwise. Shape: unchanged."""
        x = self._float_data()
        # Hint: compute on `x` (np.exp); d(e^x)/dx = e^x, so save the result:
        #       return Tensor.from_op(out, "exp", (self,), out=out)
        with np.errstate(over="ignore"):  # exp(1000) = inf, as in PyTorch
            ### BEGIN SOLUTION
            out = np.exp(x)
            return Tensor.from_op(out, "exp", (self,), out=out)
            ### END SOLUTION

    def log(self) -> "Tensor":
        """Natural logarithm elementwise: log 0 = -inf, log of a negative = nan (as in PyTorch)."""
        x = self._float_data()
        # Hint: np.log on `x`; op "log", nothing saved (backward uses the input: d(log x)/dx = 1/x).
        with np.errstate(divide="ignore", invalid="ignore"):
            ### BEGIN SOLUTION
            return Tensor.from_op(np.log(x), "log", (self,))
            ### END SOLUTION

    def sqrt(self) -> "Tensor":
        """Square root elementwise; sqrt of a negative = nan. Saves its output."""
        x = self._float_data()
        # Hint: np.sqrt on `x`; op "sqrt", saved out=<result> (d(sqrt x)/dx = 1 / (2 sqrt x)).
        with np.errstate(invalid="ignore"):
            ### BEGIN SOLUTION
            out = np.sqrt(x)
            return Tensor.from_op(out, "sqrt", (self,), out=out)
            ### END SOLUTION

    def abs(self) -> "Tensor":
        """|x| elementwise; keeps the dtype (integers stay integers)."""
        # Hint: np.abs on self.data; op "abs", nothing saved.
        ### BEGIN SOLUTION
        return Tensor.from_op(np.abs(self.data), "abs", (self,))
        ### END SOLUTION

    def __abs__(self) -> "Tensor":
        return self.abs()

    def clamp(self, min=None, max=None) -> "Tensor":
        """Limit every element to [min, max] (either bound may be None; min > max gives max).

        An integer tensor with a float bound becomes float32, as in PyTorch.
        """
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, numbers.Real)):
                raise TypeError(f"clamp: {name} must be a number or None, got {bound!r}")
        floats = any(isinstance(b, (float, np.floating)) for b in (min, max))
        x = self._float_data() if floats else self.data
        as_number = float if x.dtype.kind == "f" else int
        low = None if min is None else as_number(min)
        high = None if max is None else as_number(max)
        # Hints: - `x` is the data in the result dtype; `low`/`high` are the bounds as Python numbers
        #          (or None: skip that side).
        #        - np.maximum(x, low) raises everything below low up to low; np.minimum(..., high)
        #          then brings everything above high down to high.
        #        - record op "clamp" with saved min=low and max=high.
        ### BEGIN SOLUTION
        out = x
        if low is not None:
            out = np.maximum(out, low)
        if high is not None:
            out = np.minimum(out, high)
        return Tensor.from_op(out, "clamp", (self,), min=low, max=high)
        ### END SOLUTION

    clip = clamp


_extend(Tensor, _ElementwiseMath)


# %%
#| test
def test_unit_elementwise():
    """exp/log/sqrt/abs/clamp, including IEEE edge cases and int → float32."""
    x = Tensor([0.0, 1.0, 4.0])
    _expect(x.exp(), np.exp([0.0, 1.0, 4.0]), "exp", "Check Tensor.exp with np.exp.", np.float32)
    _expect(x.log(), [-np.inf, 0.0, np.log(4.0)], "log", "log(0) is -inf (no error, as in PyTorch).")
    _expect(x.sqrt(), [0, 1, 2], "sqrt", "Check Tensor.sqrt with np.sqrt.")
    _expect(Tensor([-1.0]).sqrt(), [np.nan], "sqrt(-1)", "sqrt of a negative is nan.")
    _expect(Tensor([-2, 3]).abs(), [2, 3], "abs of int64", "abs keeps integer dtypes.", np.int64)
    _expect(Tensor([1, 2]).exp(), np.exp([1.0, 2.0]), "exp of an int tensor", "Integers become float32.",
            np.float32)
    y = Tensor([-2.0, 0.5, 3.0])
    _expect(y.clamp(min=0.0), [0, 0.5, 3], "clamp(min=0)", "Check Tensor.clamp: np.maximum for min.")
    _expect(y.clamp(-1.0, 1.0), [-1, 0.5, 1], "clamp(-1, 1)", "np.minimum for max.")
    _expect(y.clamp(max=0.0), [-2, 0, 0], "clamp(max=0)", "A missing bound (None) must be skipped.")
    print("✅ elementwise math: exp/log/sqrt/abs/clamp work")


test_unit_elementwise()


# %% [markdown]
# ### 7d. Reductions: sum, mean, max, var … along dimensions
#
# A reduction combines many numbers into one. With `dim`, it combines along that dimension only,
# and that dimension disappears — unless `keepdim=True` keeps it with size 1:
#
# ```
#  x = [[1, 2, 3],      x.sum()                     -> 21                  shape ()
#       [4, 5, 6]]      x.sum(dim=0)                -> [5, 7, 9]           shape (3,)  (down the rows)
#                       x.sum(dim=1)                -> [6, 15]             shape (2,)  (across columns)
#  shape (2, 3)         x.sum(dim=1, keepdim=True)  -> [[6], [15]]         shape (2, 1)
#                       x.sum(dim=(0, 1))           -> 21                  several dims at once
# ```
#
# `keepdim=True` exists for broadcasting: `x - x.mean(dim=1, keepdim=True)` subtracts each row's
# mean from that row, because `(2, 3) - (2, 1)` broadcasts; `(2, 3) - (2,)` would not.
#
# `max(dim=d)` returns two tensors: the values and *where* they were (`indices`, int64), like
# PyTorch's `(values, indices)`. `argmax` returns only the indices — that is how a classifier turns
# scores into a predicted class. `var` divides by `N - correction` with `correction=1` by default
# (the unbiased estimate), exactly as PyTorch; `std` is its square root. Summing integers gives int64
# (a sum of many int8 values would overflow int8); `mean`, `var` and `std` need floating point.

# %%
#| export
class _Reductions:
    """Section 7d: reductions: sum, mean, max/min, argmax/argmin, var/std (copied into Tensor by _extend)."""

    def _reduce_axes(self, dim, axis, where: str):
        """Dims to reduce as a sorted tuple (None for all); `axis=` is NumPy's name for `dim=`."""
        if axis is not None:
            if dim is not None:
                raise TypeError(f"{where}: pass dim or axis, not both")
            dim = axis
        if self.ndim == 0:
            _normalize_dims(dim, 0, where)  # still reject nonsense like dim=3
            return None
        return _normalize_dims(dim, self.ndim, where)

    def sum(self, dim=None, keepdim: bool = False, *, axis=None) -> "Tensor":
        """Sum over `dim` (an int, a tuple of ints, or None for every element).

        Shapes for x of shape (2, 3): x.sum() -> (); x.sum(dim=1) -> (2,);
        x.sum(dim=1, keepdim=True) -> (2, 1). Integer and bool tensors sum to int64.
        """
        axes = self._reduce_axes(dim, axis, "sum")
        dtype = np.int64 if self.dtype.kind in "biu" else None
        # Hints: - `axes` is already checked: None (all) or a sorted tuple of non-negative dims.
        #        - NumPy: self.data.sum(axis=axes, keepdims=keepdim, dtype=dtype)
        #        - record op "sum" with saved values dim=axes and keepdim=keepdim
        ### BEGIN SOLUTION
        out = self.data.sum(axis=axes, keepdims=keepdim, dtype=dtype)
        return Tensor.from_op(out, "sum", (self,), dim=axes, keepdim=keepdim)
        ### END SOLUTION

    def mean(self, dim=None, keepdim: bool = False, *, axis=None) -> "Tensor":
        """Mean over `dim` (same shapes as sum); floating-point tensors only, as in PyTorch."""
        axes = self._reduce_axes(dim, axis, "mean")
        if self.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating-point tensor, got {self.dtype}; convert with .float()")
        # Hint: like sum (NumPy's .mean takes the same axis= and keepdims=); op "mean",
        #       saved dim=axes and keepdim=keepdim.
        ### BEGIN SOLUTION
        out = self.data.mean(axis=axes, keepdims=keepdim)
        return Tensor.from_op(out, "mean", (self,), dim=axes, keepdim=keepdim)
        ### END SOLUTION

    def _extreme(self, name: str, dim, keepdim: bool):
        """Shared body of max/min: the value (dim=None) or (values, indices) along `dim`."""
        pick = np.argmax if name == "max" else np.argmin
        if dim is None:
            if self.numel() == 0:
                raise ValueError(f"{name}: the tensor is empty, so it has no {name}imum")
            out = self.data.max() if name == "max" else self.data.min()
            return Tensor.from_op(out, name, (self,), dim=None, keepdim=False, indices=None)
        axis = _normalize_dim(dim, self.ndim, name)
        if self.ndim == 0:
            values = Tensor.from_op(self.data.copy(), name, (self,), dim=None, keepdim=False, indices=None)
            return MinMax(values, Tensor(np.zeros((), dtype=np.int64)))
        if self.shape[axis] == 0:
            raise ValueError(f"{name}: dimension {axis} has size 0, so there is no {name}imum along it")
        indices = pick(self.data, axis=axis, keepdims=True)
        values = np.take_along_axis(self.data, indices, axis=axis)
        shown = indices
        if not keepdim:
            values, shown = values.squeeze(axis), indices.squeeze(axis)
        out = Tensor.from_op(values, name, (self,), dim=axis, keepdim=keepdim, indices=indices)
        return MinMax(out, Tensor(shown.astype(np.int64)))

    def max(self, dim=None, keepdim: bool = False):
        """The largest element; with `dim`, a (values, indices) pair along that dimension.

        With a Tensor instead of a dim, the elementwise maximum (PyTorch's x.max(other)).
        """
        if isinstance(dim, Tensor):
            return maximum(self, dim)
        return self._extreme("max", dim, keepdim)

    def min(self, dim=None, keepdim: bool = False):
        """The smallest element; with `dim`, a (values, indices) pair along that dimension.

        With a Tensor instead of a dim, the elementwise minimum (PyTorch's x.min(other)).
        """
        if isinstance(dim, Tensor):
            return minimum(self, dim)
        return self._extreme("min", dim, keepdim)

    def _arg_extreme(self, name: str, dim, keepdim: bool) -> "Tensor":
        pick = np.argmax if name == "argmax" else np.argmin
        if dim is None:
            if self.numel() == 0:
                raise ValueError(f"{name}: the tensor is empty; there is no index to return")
            index = np.asarray(pick(self.data), dtype=np.int64)
            return Tensor(index.reshape((1,) * self.ndim) if keepdim else index)
        axis = _normalize_dim(dim, self.ndim, name)
        if self.ndim == 0:
            return Tensor(np.zeros((), dtype=np.int64))
        if self.shape[axis] == 0:
            raise ValueError(f"{name}: dimension {axis} has size 0; there is no index to return")
        return Tensor(pick(self.data, axis=axis, keepdims=keepdim).astype(np.int64))

    def argmax(self, dim=None, keepdim: bool = False) -> "Tensor":
        """Index of the largest element (of the flattened tensor when dim is None). int64, not recorded."""
        return self._arg_extreme("argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False) -> "Tensor":
        """Index of the smallest element (of the flattened tensor when dim is None). int64, not recorded."""
        return self._arg_extreme("argmin", dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None,
            axis=None) -> "Tensor":
        """Variance over `dim`: sum((x - mean)²) / (N - correction), N elements per result.

        correction=1 (the default, the same as unbiased=True) is the unbiased estimate;
        correction=0 (unbiased=False) divides by N. Shapes as for sum.
        """
        axes = self._reduce_axes(dim, axis, "var")
        if self.dtype.kind != "f":
            raise TypeError(f"var: needs a floating-point tensor, got {self.dtype}; convert with .float()")
        if unbiased is not None:
            if correction is not None:
                raise TypeError("var: pass unbiased or correction, not both")
            if not isinstance(unbiased, (bool, np.bool_)):
                raise TypeError(f"var: unbiased must be True or False, got {unbiased!r}")
            correction = 1 if unbiased else 0
        correction = 1 if correction is None else correction
        if isinstance(correction, bool) or not isinstance(correction, numbers.Integral) or correction < 0:
            raise ValueError(f"var: correction must be a non-negative int, got {correction!r}")
        correction = int(correction)
        # Hint: NumPy's .var takes axis=, keepdims= and ddof= (ddof is PyTorch's correction).
        #       Record op "var" with saved dim=axes, keepdim=keepdim, correction=correction.
        with np.errstate(divide="ignore", invalid="ignore"):  # N - correction <= 0 gives nan or inf
            ### BEGIN SOLUTION
            out = self.data.var(axis=axes, ddof=correction, keepdims=keepdim)
            return Tensor.from_op(out, "var", (self,), dim=axes, keepdim=keepdim, correction=correction)
            ### END SOLUTION

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None,
            axis=None) -> "Tensor":
        """Standard deviation: the square root of var (so its gradient comes for free)."""
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis).sqrt()


_extend(Tensor, _Reductions)


# %%
#| test
def test_unit_reductions():
    """sum/mean/var/std/max/argmax with dim and keepdim."""
    x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    _expect(x.sum(), 21.0, "x.sum()", "Check Tensor.sum: with dim=None, sum every element.")
    _expect(x.sum(dim=0), [5, 7, 9], "x.sum(dim=0)", "dim=0 sums down the rows.")
    _expect(x.sum(dim=1, keepdim=True), [[6], [15]], "x.sum(dim=1, keepdim=True)",
            "keepdim=True keeps the summed dimension with size 1: pass keepdims=keepdim to NumPy.")
    _expect(x.sum(dim=(0, 1)), 21.0, "x.sum(dim=(0, 1))")
    _expect(Tensor([1, 2, 3], dtype=np.int32).sum(), 6, "int32 sum", "Integer sums are int64.", np.int64)
    _expect(x.mean(dim=-1), [2, 5], "x.mean(dim=-1)", "Check Tensor.mean like sum.")
    _expect(x.var(dim=1), [1, 1], "x.var(dim=1)", "Check Tensor.var: ddof=correction, default 1.")
    _expect(x.var(dim=1, correction=0), [2 / 3, 2 / 3], "x.var(dim=1, correction=0)")
    _expect(x.std(), np.std(x.data, ddof=1), "x.std()", "std is var(...).sqrt().")
    values, indices = x.max(dim=1)
    _expect(values, [3, 6], "x.max(dim=1).values")
    _expect(indices, [2, 2], "x.max(dim=1).indices", dtype=np.int64)
    _expect(x.argmax(dim=0), [1, 1, 1], "x.argmax(dim=0)")
    print("✅ reductions: sum/mean/var/std/max/argmax with dim and keepdim work")


test_unit_reductions()


# %% [markdown]
# ### 7e. Shapes, views and copies
#
# Remember the recipe from section 1: one block of memory, read with a shape and strides. Many shape
# operations only write a new recipe — the result is a **view** that shares memory with the input:
#
# ```
#  x = arange(6).reshape(2, 3)        memory: │0│1│2│3│4│5│
#
#  expression           shape   strides   reads                       result
#  x                    (2, 3)  (3, 1)    [[0, 1, 2], [3, 4, 5]]
#  x.reshape(3, 2)      (3, 2)  (2, 1)    [[0, 1], [2, 3], [4, 5]]    view
#  x.T                  (3, 2)  (1, 3)    [[0, 3], [1, 4], [2, 5]]    view: strides swapped
#  x[:, ::2]            (2, 2)  (3, 2)    [[0, 2], [3, 5]]            view: bigger step
#  x[1]                 (3,)    (1,)      [3, 4, 5]                   view: starts at element 3
#  x[:1].expand(4, 3)   (4, 3)  (0, 1)    row 0, four times           view: stride 0 repeats
#  x.T.reshape(6)       (6,)    (1,)      [0, 3, 1, 4, 2, 5]          COPY: no single stride
#                                                                     walks 0, 3, 1, 4, 2, 5
# ```
#
# A view costs nothing (no matter how big the tensor); a copy reads and writes every element. A
# tensor is **contiguous** when its recipe reads the block in order (strides of a fresh row-major
# array). PyTorch promises a view for `view`, `permute`/`transpose`/`T`, `expand`, `squeeze`,
# `unsqueeze`, basic slicing, and `reshape`/`flatten` of a contiguous tensor; `reshape` of a
# non-contiguous tensor copies when it must. **`view` never copies**: when no strides can express
# the new shape, it raises and tells you to use `reshape` (or `.contiguous().view(...)`).
#
# All shape operations are recorded: `reshape` (also for `view`, `flatten`, `squeeze`,
# `unsqueeze`), `permute` (also for `transpose` and `T`) and `expand`. Their gradients are shape
# operations too: reshape back, permute back, sum over the expanded dimensions.

# %%
#| export
class _Shapes:
    """Section 7e: reshape/view, permute/transpose/T, flatten, squeeze/unsqueeze, expand (copied into Tensor)."""

    def reshape(self, *shape) -> "Tensor":
        """Same elements in row-major order, new shape; one size may be -1 (inferred).

        reshape(2, 3) and reshape((2, 3)) both work. Shapes: (6,) -> (2, 3); (2, 3) -> (-1,) = (6,).
        A view when the memory layout allows it, a copy otherwise.
        """
        shape = _parse_shape(shape, "reshape", allow_minus_one=True)
        shape = _infer_size(shape, self.numel(), "reshape", self.shape)
        # Hint: `shape` is now a full, checked tuple (no -1). NumPy's reshape returns a view when it
        #       can. Record op "reshape" with input (self,); nothing is saved (backward reshapes the
        #       gradient back to the input's shape, which it reads from the input).
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data.reshape(shape), "reshape", (self,))
        ### END SOLUTION

    def view(self, *shape) -> "Tensor":
        """reshape that never copies: raises when the memory layout cannot express the new shape."""
        out = self.reshape(*shape)
        if out.numel() > 1 and not np.may_share_memory(out.data, self.data):
            raise ValueError(f"view: a tensor of shape {self.shape} with strides {self.stride()} cannot "
                             f"be viewed as {out.shape} without copying; use .reshape(...), which "
                             "copies when it must, or .contiguous().view(...)")
        return out

    def contiguous(self) -> "Tensor":
        """This tensor with its elements laid out row-major in one block (itself when they already are)."""
        if self.data.flags.c_contiguous:
            return self
        return Tensor.from_op(np.ascontiguousarray(self.data), "reshape", (self,))

    def permute(self, *dims) -> "Tensor":
        """Reorder dimensions: result.shape[i] == self.shape[dims[i]]. Always a view.

        Example: x of shape (2, 3, 4); x.permute(2, 0, 1) has shape (4, 2, 3).
        """
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        axes = tuple(_normalize_dim(d, self.ndim, "permute") for d in dims) if self.ndim else ()
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} must name each of the {self.ndim} dimensions "
                             f"exactly once (a reordering of 0..{self.ndim - 1})")
        # Hint: `axes` is a checked tuple of non-negative dims. NumPy's transpose(axes) reorders
        #       dimensions without copying. Record op "permute" with saved dims=axes.
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data.transpose(axes), "permute", (self,), dims=axes)
        ### END SOLUTION

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        """Swap two dimensions (a view)."""
        axes = list(range(self.ndim))
        a = _normalize_dim(dim0, self.ndim, "transpose")
        b = _normalize_dim(dim1, self.ndim, "transpose")
        if self.ndim < 2:
            return self.permute(*axes)
        axes[a], axes[b] = axes[b], axes[a]
        return self.permute(*axes)

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (the matrix transpose for 2-D tensors)."""
        return self.permute(*reversed(range(self.ndim)))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Merge dimensions start_dim..end_dim into one: (2, 3, 4).flatten(1) -> (2, 12)."""
        if self.ndim == 0:
            return self.reshape(1)
        start = _normalize_dim(start_dim, self.ndim, "flatten")
        end = _normalize_dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
        merged = 1
        for size in self.shape[start:end + 1]:
            merged *= size
        return self.reshape(*(self.shape[:start] + (merged,) + self.shape[end + 1:]))

    def squeeze(self, dim=None) -> "Tensor":
        """Drop dimensions of size 1: all of them, or only those named by `dim` (int or tuple)."""
        if dim is None:
            shape = tuple(s for s in self.shape if s != 1)
        elif self.ndim == 0:
            _normalize_dims(dim, 0, "squeeze")
            shape = ()
        else:
            axes = _normalize_dims(dim, self.ndim, "squeeze") or ()
            shape = tuple(s for i, s in enumerate(self.shape) if not (i in axes and s == 1))
        return self.reshape(*shape)

    def unsqueeze(self, dim: int) -> "Tensor":
        """Insert a dimension of size 1 at position `dim` (-ndim-1 <= dim <= ndim): (3,) -> (1, 3)."""
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"unsqueeze: dim must be an int, got {dim!r}")
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor with {self.ndim} "
                             f"dimension(s) (expected {-self.ndim - 1} <= dim <= {self.ndim})")
        axis = dim % (self.ndim + 1)
        return self.reshape(*(self.shape[:axis] + (1,) + self.shape[axis:]))

    def expand(self, *sizes) -> "Tensor":
        """Broadcast to a bigger shape without copying; -1 keeps a size. A read-only view.

        Example: (3, 1).expand(3, 4) -> (3, 4), (3,).expand(2, 3) -> (2, 3). Only size-1
        dimensions can grow; new dimensions go in front.
        """
        sizes = _parse_shape(sizes, "expand", allow_minus_one=True)
        if len(sizes) < self.ndim:
            raise ValueError(f"expand: the new shape {sizes} has fewer dimensions than the tensor's "
                             f"shape {self.shape}")
        lead = len(sizes) - self.ndim
        if -1 in sizes[:lead]:
            raise ValueError(f"expand: -1 (keep the size) is only allowed for existing dimensions, "
                             f"got {sizes} for shape {self.shape}")
        target = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        for i, size in enumerate(self.shape):
            if size != 1 and size != target[lead + i]:
                raise ValueError(f"expand: cannot expand shape {self.shape} to {sizes}: dimension "
                                 f"{lead + i} has size {size}, and only size-1 dimensions can grow")
        # Hint: `target` is the full new shape. np.broadcast_to(array, shape) builds a view whose
        #       repeated dimensions have stride 0. Record op "expand"; nothing is saved.
        ### BEGIN SOLUTION
        return Tensor.from_op(np.broadcast_to(self.data, target), "expand", (self,))
        ### END SOLUTION


_extend(Tensor, _Shapes)


# %%
#| test
def test_unit_views():
    """reshape/permute/expand values, and which results share memory."""
    x = Tensor(np.arange(6, dtype=np.float32))
    r = x.reshape(2, 3)
    _expect(r, [[0, 1, 2], [3, 4, 5]], "x.reshape(2, 3)", "Check Tensor.reshape with NumPy's reshape.")
    _expect(x.reshape(-1, 2), [[0, 1], [2, 3], [4, 5]], "x.reshape(-1, 2)")
    assert np.shares_memory(r.data, x.data), "reshape of a contiguous tensor should be a view (no copy)"
    p = r.permute(1, 0)
    _expect(p, [[0, 3], [1, 4], [2, 5]], "r.permute(1, 0)", "Check Tensor.permute with transpose(axes).")
    assert np.shares_memory(p.data, x.data) and p.stride() == (1, 3), \
        f"permute must be a view with swapped strides (1, 3), got strides {p.stride()}"
    _expect(r.T, p.data, "r.T")
    _expect(r.transpose(0, 1).reshape(6), [0, 3, 1, 4, 2, 5], "r.T.reshape(6) (a copy)")
    try:
        r.T.view(6)
    except ValueError as error:
        assert "reshape" in str(error), "the view error should point to reshape"
    else:
        raise AssertionError("r.T.view(6) must raise: no strides can read [0, 3, 1, 4, 2, 5] in order")
    e = Tensor([[1.0], [2.0]]).expand(2, 3)
    _expect(e, [[1, 1, 1], [2, 2, 2]], "(2, 1).expand(2, 3)", "Check Tensor.expand with np.broadcast_to.")
    assert e.stride() == (1, 0), f"expand must repeat with stride 0 (no copy), got strides {e.stride()}"
    _expect(r.flatten(), [0, 1, 2, 3, 4, 5], "flatten")
    assert r.unsqueeze(0).shape == (1, 2, 3) and r.unsqueeze(-1).squeeze().shape == (2, 3)
    print("✅ shapes: reshape/view/permute/T/expand/flatten/squeeze and views vs copies work")


test_unit_views()


# %% [markdown]
# ### 7f. Indexing
#
# `x[...]` follows NumPy and PyTorch:
#
# - **basic indexing** — ints, slices `a:b:c`, `None` (new dimension of size 1) and `...` — gives a
#   view: `x[0]`, `x[:, 1:3]`, `x[..., None]`;
# - **advanced indexing** — int lists/tensors or bool masks — gathers elements into a copy:
#   `x[[0, 2]]` (rows 0 and 2), `embeddings[token_ids]`, `x[x > 0]` (the positive elements, 1-D).
#
# The recorded `getitem` saves the index, so module 05 can send each gradient back to the element
# it came from.

# %%
#| export
class _Indexing:
    """Section 7f: indexing: x[...] (copied into Tensor by _extend)."""

    def __getitem__(self, index) -> "Tensor":
        """x[...] with NumPy's basic (ints, slices, None, ...: a view) and advanced (int or bool
        arrays/Tensors: a copy) indexing.
        """
        index = _unwrap_index(index)
        try:
            out = self.data[index]
            if not isinstance(out, np.ndarray):  # one element: NumPy gives a copy; with `...` a 0-d view
                out = self.data[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
        except (IndexError, TypeError, ValueError) as error:
            raise IndexError(f"getitem: {error} (tensor shape {self.shape}, index {index!r})") from None
        # Hint: `out` is already computed (so bad indices raise a clear IndexError above); wrap it
        #       and record op "getitem" with saved index=index (Tensors inside were unwrapped).
        ### BEGIN SOLUTION
        return Tensor.from_op(out, "getitem", (self,), index=index)
        ### END SOLUTION


_extend(Tensor, _Indexing)


# %%
#| test
def test_unit_indexing():
    """Basic indexing (views) and advanced indexing (copies)."""
    x = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    _expect(x[1], [4, 5, 6, 7], "x[1]", "Check Tensor.__getitem__: wrap self.data[index].")
    _expect(x[:, 1:3], [[1, 2], [5, 6], [9, 10]], "x[:, 1:3]")
    assert np.shares_memory(x[:, 1:3].data, x.data), "slicing should be a view"
    _expect(x[Tensor([2, 0])], [[8, 9, 10, 11], [0, 1, 2, 3]], "x[Tensor([2, 0])] (gather rows)")
    _expect(x[x > 9.5], [10, 11], "x[x > 9.5] (bool mask)")
    _expect(x[..., None].reshape(3, 4), x.data, "x[..., None]")
    try:
        x[3]
    except IndexError as error:
        assert "getitem" in str(error)
    else:
        raise AssertionError("x[3] on 3 rows must raise IndexError")
    print("✅ indexing: ints, slices, None, ..., int tensors and bool masks work")


test_unit_indexing()


# %% [markdown]
# ## 8. Checking the record
#
# With every part in place, one last check: every operation records the op name and the saved
# values that module 05's gradient rules expect (the table in `docs/autograd.md`), and only when
# an input requires grad.

# %%
#| test
def test_unit_recording():
    """Every op records the op name and saved values from docs/autograd.md — only when needed."""
    w = Tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    x = Tensor([[1.0, 1.0], [0.0, 1.0]])
    cases = [(lambda: w + x, "add", set()), (lambda: w - 1.0, "sub", set()), (lambda: 2.0 * w, "mul", set()),
             (lambda: w / x.exp(), "div", set()), (lambda: -w, "neg", set()), (lambda: w ** 2, "pow", {"out"}),
             (lambda: w @ x, "matmul", set()), (lambda: w.sum(dim=0), "sum", {"dim", "keepdim"}),
             (lambda: w.mean(), "mean", {"dim", "keepdim"}),
             (lambda: w.max(dim=1).values, "max", {"dim", "keepdim", "indices"}),
             (lambda: w.var(), "var", {"dim", "keepdim", "correction"}),
             (lambda: w.exp(), "exp", {"out"}), (lambda: w.abs().log(), "log", set()),
             (lambda: w.abs().sqrt(), "sqrt", {"out"}), (lambda: w.abs(), "abs", set()),
             (lambda: w.clamp(min=0.0), "clamp", {"min", "max"}), (lambda: w.reshape(4), "reshape", set()),
             (lambda: w.T, "permute", {"dims"}), (lambda: w[:1].expand(3, 2), "expand", set()),
             (lambda: w[0], "getitem", {"index"})]
    for make, op, saved in cases:
        out = make()
        assert out._ctx is not None, (f"{op}: an input requires grad, so the result must record a Node; "
                                      "did you return Tensor(...) instead of Tensor.from_op(...)?")
        assert out._ctx.op == op, f"expected op name {op!r}, recorded {out._ctx.op!r}"
        assert set(out._ctx.saved) == saved, f"{op}: expected saved keys {sorted(saved)}, got {sorted(out._ctx.saved)}"
        assert out.requires_grad and not out.is_leaf
    assert (w * 2.0)._ctx.inputs[0] is w, "the recorded inputs must be the operand Tensors themselves"
    grad_mode.enabled = False
    try:
        assert (w * 2.0)._ctx is None, "with grad mode off nothing should be recorded"
    finally:
        grad_mode.enabled = True
    print("✅ recording: every op records the right op name and saved values, only when needed")


test_unit_recording()

# %% [markdown]
# ## 9. Creating tensors
#
# PyTorch has a family of functions for making tensors, and so do we:
#
# | call | result |
# |---|---|
# | `tensor([[1, 2], [3, 4]])` | a **copy** of the data (dtype inferred as in section 2) |
# | `zeros(2, 3)`, `ones(2, 3)` | filled with 0 or 1; float32 unless `dtype=` says otherwise |
# | `full((2, 3), 7.5)` | filled with a value; the dtype follows the value (float → float32, int → int64) |
# | `arange(5)`, `arange(1, 2, 0.25)` | evenly spaced values in `[start, end)`: int64 for ints, float32 otherwise |
# | `eye(3)` | the identity matrix |
# | `rand(2, 3)`, `randn(2, 3)` | uniform in [0, 1) and standard normal samples (float32), from the seeded generator |
#
# Each takes `dtype=` and `requires_grad=`; sizes can be given as `zeros(2, 3)` or `zeros((2, 3))`.

# %%
#| export
def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (PyTorch's torch.tensor)."""
    array = _to_array(data, _resolve_dtype(dtype, "tensor"), "tensor")
    return Tensor(array.copy(), requires_grad=requires_grad)


def _filled(size, value, dtype, requires_grad: bool, where: str) -> Tensor:
    shape = _parse_shape(size, where)
    dtype = _resolve_dtype(dtype, where) or np.dtype(DEFAULT_FLOAT)
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: zeros(2, 3) or zeros((2, 3)). float32 unless dtype says otherwise."""
    return _filled(size, 0, dtype, requires_grad, "zeros")


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ones(2, 3) or ones((2, 3))."""
    return _filled(size, 1, dtype, requires_grad, "ones")


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape `size` where every element is `fill_value` (its type picks the dtype)."""
    if isinstance(fill_value, complex) or not isinstance(fill_value, (numbers.Real, np.bool_)):
        raise TypeError(f"full: fill_value must be a real number, got {fill_value!r}")
    if dtype is None and not isinstance(fill_value, (float, np.floating)):
        dtype = np.bool_ if isinstance(fill_value, (bool, np.bool_)) else np.int64
    return _filled((size,) if isinstance(size, numbers.Integral) else size, fill_value, dtype,
                   requires_grad, "full")


def _like(other, where: str) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got a {type(other).__name__}")
    return other


def zeros_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros with `other`'s shape (and dtype, unless given)."""
    other = _like(other, "zeros_like")
    return zeros(*other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad)


def ones_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones with `other`'s shape (and dtype, unless given)."""
    other = _like(other, "ones_like")
    return ones(*other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad)


def _random(size, dtype, generator, where: str) -> tuple:
    shape = _parse_shape(size, where)
    dtype = _resolve_dtype(dtype, where) or np.dtype(DEFAULT_FLOAT)
    if dtype.kind != "f":
        raise TypeError(f"{where}: random samples need a floating-point dtype, got {dtype}")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{where}: generator must be a numpy.random.Generator (for example the one "
                        f"manual_seed returns), got {type(generator).__name__}")
    return shape, dtype, generator or _generator


def rand(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform samples from [0, 1): rand(2, 3) or rand((2, 3)). float32 by default."""
    shape, dtype, rng = _random(size, dtype, generator, "rand")
    return Tensor(rng.random(shape).astype(dtype, copy=False), requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Samples from the standard normal distribution N(0, 1). float32 by default."""
    shape, dtype, rng = _random(size, dtype, generator, "randn")
    return Tensor(rng.standard_normal(shape).astype(dtype, copy=False), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end): int64 when all arguments are ints, float32 otherwise."""
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"arange: {name} must be a number, got {value!r}")
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise ValueError(f"arange: end ({end}) lies on the wrong side of start ({start}) for "
                         f"step {step}; no value could ever reach it")
    all_ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = _resolve_dtype(dtype, "arange") or np.dtype(np.int64 if all_ints else DEFAULT_FLOAT)
    return Tensor(np.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def eye(n: int, m=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m defaults to n)."""
    m = n if m is None else m
    _parse_shape((n, m), "eye")
    dtype = _resolve_dtype(dtype, "eye") or np.dtype(DEFAULT_FLOAT)
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


# %%
#| test
def test_unit_creation():
    """Creation functions give PyTorch's shapes, values and dtypes (given code)."""
    src = np.array([1.0, 2.0], dtype=np.float32)
    copied = tensor(src)
    assert not np.shares_memory(copied.data, src), "tensor(...) must copy its data"
    assert zeros(2, 3).shape == (2, 3) and zeros((2, 3)).dtype == np.float32
    assert ones(2, dtype=int64).tolist() == [1, 1]
    assert full((2,), 7).dtype == np.int64 and full((2,), 7.5).dtype == np.float32
    assert arange(5).tolist() == [0, 1, 2, 3, 4] and arange(5).dtype == np.int64
    assert arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    manual_seed(0)
    first = randn(3)
    manual_seed(0)
    assert randn(3).tolist() == first.tolist(), "manual_seed must make random tensors reproducible"
    assert rand(1000).data.min() >= 0 and rand(2, 2).dtype == np.float32
    print("✅ creation: tensor/zeros/ones/full/arange/eye/rand/randn work")


test_unit_creation()

# %% [markdown]
# ## 10. Joining tensors: cat and stack
#
# `cat` joins tensors along an **existing** dimension; the other sizes must match. `stack` puts
# same-shaped tensors along a **new** dimension:
#
# ```
#  a = [[1, 2],      b = [[5, 6]]          cat([a, b], dim=0)   -> [[1, 2], [3, 4], [5, 6]]   (3, 2)
#       [3, 4]]          shape (1, 2)
#  shape (2, 2)
#
#  u = [1, 2]   v = [3, 4]                 stack([u, v])        -> [[1, 2], [3, 4]]           (2, 2)
#                                          stack([u, v], dim=1) -> [[1, 3], [2, 4]]           (2, 2)
#                                          cat([u, v])          -> [1, 2, 3, 4]               (4,)
# ```
#
# Both always copy (the inputs live in separate blocks of memory), and both promote dtypes like
# arithmetic does. Their gradient splits the output gradient back into the pieces, so they save
# `dim`.

# %%
#| export
def _tensor_list(tensors, where: str) -> list:
    """The tensors as a list, or a clear error when they are not a non-empty list/tuple of Tensors."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{where}: expected a list or tuple of Tensors, got a {type(tensors).__name__}"
                        f" (write {where}([a, b]), not {where}(a, b))")
    if not tensors:
        raise ValueError(f"{where}: expected a non-empty list of Tensors, got an empty one")
    for position, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: tensors[{position}] is a {type(t).__name__}, not a Tensor")
    return list(tensors)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; all other sizes must match.

    Shapes: [(2, 3), (4, 3)] with dim=0 -> (6, 3); [(2, 3), (2, 1)] with dim=1 -> (2, 4).
    """
    tensors = _tensor_list(tensors, "cat")
    first = tensors[0]
    for position, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"cat: tensors[{position}] is 0-dimensional and has no dimension to join "
                             "along; use stack, or unsqueeze(0) first")
    axis = _normalize_dim(dim, first.ndim, "cat")
    for position, t in enumerate(tensors):
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1:] != first.shape[:axis] + first.shape[axis + 1:]:
            raise ValueError(f"cat: tensors[{position}] has shape {t.shape}, which does not match "
                             f"tensors[0]'s shape {first.shape} outside dimension {axis}")
    dtype = _result_dtype(*tensors)
    arrays = [t.data.astype(dtype, copy=False) for t in tensors]
    # Hint: np.concatenate(arrays, axis=axis) joins the arrays (already in one dtype).
    #       Record op "cat" with *all* the tensors as inputs, tuple(tensors), and saved dim=axis.
    ### BEGIN SOLUTION
    return Tensor.from_op(np.concatenate(arrays, axis=axis), "cat", tuple(tensors), dim=axis)
    ### END SOLUTION


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension `dim`: 3 tensors of (2, 4) -> (3, 2, 4)."""
    tensors = _tensor_list(tensors, "stack")
    first = tensors[0]
    for position, t in enumerate(tensors):
        if t.shape != first.shape:
            raise ValueError(f"stack: tensors[{position}] has shape {t.shape}, but tensors[0] has "
                             f"{first.shape} (stack needs equal shapes)")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"stack: dim must be an int, got {dim!r}")
    if not -first.ndim - 1 <= dim <= first.ndim:
        raise IndexError(f"stack: dim {dim} is out of range for stacking {first.ndim}-dimensional "
                         f"tensors (expected {-first.ndim - 1} <= dim <= {first.ndim})")
    axis = dim % (first.ndim + 1)
    dtype = _result_dtype(*tensors)
    arrays = [t.data.astype(dtype, copy=False) for t in tensors]
    # Hint: np.stack(arrays, axis=axis); op "stack", inputs tuple(tensors), saved dim=axis.
    ### BEGIN SOLUTION
    return Tensor.from_op(np.stack(arrays, axis=axis), "stack", tuple(tensors), dim=axis)
    ### END SOLUTION


# %%
#| test
def test_unit_cat_stack():
    """cat joins along an existing dimension, stack along a new one."""
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    b = Tensor([[5.0, 6.0]])
    _expect(cat([a, b]), [[1, 2], [3, 4], [5, 6]], "cat([a, b], dim=0)", "Check cat with np.concatenate.")
    _expect(cat([a, a], dim=1), [[1, 2, 1, 2], [3, 4, 3, 4]], "cat([a, a], dim=1)")
    u, v = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    _expect(stack([u, v]), [[1, 2], [3, 4]], "stack([u, v])", "Check stack with np.stack.")
    _expect(stack([u, v], dim=1), [[1, 3], [2, 4]], "stack([u, v], dim=1)")
    _expect(stack([u, v], dim=-1), [[1, 3], [2, 4]], "stack([u, v], dim=-1)")
    try:
        cat([a, Tensor([1.0, 2.0, 3.0])])
    except ValueError as error:
        assert "cat" in str(error)
    else:
        raise AssertionError("cat of (2, 2) and (3,) must raise ValueError")
    w = Tensor([1.0], requires_grad=True)
    node = cat([w, u])._ctx
    assert node is not None and node.op == "cat" and node.saved == {"dim": 0} and len(node.inputs) == 2, \
        f"cat must record op 'cat' with both inputs and saved dim=0, got {node!r}"
    print("✅ cat and stack work")


test_unit_cat_stack()

# %% [markdown]
# ## 11. Masks, triangles and pieces
#
# A transformer (modules 12–13) needs a few more tools than a classifier. When a language model
# predicts token `t`, it may look at tokens `0..t` but not at the future, so the attention scores
# above the diagonal are replaced by `-inf` before the softmax:
#
# ```
#  scores (T=4)              tril(ones(4, 4)) == 0        scores.masked_fill(mask, -inf)
#  [[s00 s01 s02 s03]        [[F  T  T  T]                [[s00 -inf -inf -inf]
#   [s10 s11 s12 s13]         [F  F  T  T]                 [s10  s11 -inf -inf]
#   [s20 s21 s22 s23]         [F  F  F  T]                 [s20  s21  s22 -inf]
#   [s30 s31 s32 s33]]        [F  F  F  F]]                [s30  s31  s32  s33]]
# ```
#
# - `tril(x, diagonal=0)` keeps the **lower triangle** of the last two dimensions (on and below
#   the diagonal; `diagonal=1` keeps one more diagonal, `-1` one fewer) and zeroes the rest;
#   `triu` keeps the upper one. A batch `(B, T, T)` is handled matrix by matrix.
# - `masked_fill(mask, value)` copies the tensor and writes `value` where the bool `mask` is
#   True. The mask broadcasts: one `(T, T)` mask serves scores of shape `(B, heads, T, T)`.
# - `where(condition, a, b)` picks from `a` where `condition` is True and from `b` elsewhere; all
#   three broadcast, and numbers adapt to the tensor's dtype as in arithmetic.
#
# Their gradients are selections too: a filled element came from `value`, not from the input, so
# it sends no gradient back; `where` sends each element's gradient to the side it was picked from.
# Module 01 records `masked_fill` (saving the mask), `where` (saving the condition) and
# `tril`/`triu` (saving `diagonal`).
#
# The other direction — cutting one tensor into pieces — is what attention does with its fused
# query/key/value projection, `q, k, v = qkv.split(d_model, dim=-1)`:
#
# ```
#  x.shape = (2, 10)   x.split(4, dim=1)      -> pieces (2, 4), (2, 4), (2, 2)   one size, last shorter
#                      x.split([3, 7], dim=1) -> pieces (2, 3), (2, 7)           sizes that add up to 10
#                      x.chunk(3, dim=1)      -> pieces (2, 4), (2, 4), (2, 2)   ceil(10 / 3) = 4 each
#                      x.unbind(0)            -> two tensors of shape (10,)      the dimension disappears
# ```
#
# Every piece is a slice of the input: a **view** that costs nothing, recorded as `getitem`, so
# module 05 already knows its gradient. (Each piece's gradient is the input's shape, zero outside
# the piece; for a handful of pieces that is cheap, but unbinding a dimension of size 1,000 makes
# 1,000 input-sized arrays — prefer one op over the whole tensor to a Python loop over slices.)

# %%
#| export
def _bool_mask(mask, op: str, name: str) -> np.ndarray:
    """The array of a bool Tensor argument, or a clear TypeError naming the argument."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: {name} must be a bool Tensor, got a {type(mask).__name__}")
    if mask.dtype != np.bool_:
        raise TypeError(f"{op}: {name} must be a bool tensor (for example x > 0, or tril(ones(T, T)) == 0), "
                        f"got dtype {mask.dtype}")
    return mask.data


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """A copy of `input` with `value` wherever the bool `mask` is True; mask broadcasts.

    Shapes: input (B, H, T, T), mask (T, T) -> (B, H, T, T). `value` is a number or a 0-d Tensor
    (one that requires grad receives the gradient of every filled element). The result keeps
    input's dtype: a float value in an integer tensor is truncated, as in PyTorch.
    """
    _like(input, "masked_fill")
    keep = _bool_mask(mask, "masked_fill", "mask")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape "
                             f"{value.shape}; for elementwise values use where(mask, values, input)")
        fill = value
    elif isinstance(value, complex) or not isinstance(value, (numbers.Real, np.bool_)):
        raise TypeError(f"masked_fill: value must be a number or a 0-d Tensor, got {value!r}")
    elif input.dtype.kind != "f" and not np.isfinite(value):
        raise ValueError(f"masked_fill: value {value!r} cannot be stored in a {input.dtype} tensor")
    else:
        fill = Tensor(np.asarray(value, dtype=input.dtype))
    _broadcast_for("masked_fill", input.shape, mask.shape)
    # Hints: - np.where(condition, x, y) takes x where condition is True and y elsewhere,
    #          broadcasting all three: here the condition is `keep`, x the fill value, y the input.
    #        - Use the fill value's array in the input's dtype (`fill.data.astype(input.dtype)`), so a
    #          float32 input stays float32 even when the 0-d value tensor is float64.
    #        - Record op "masked_fill" with inputs (input, fill) and saved mask=keep: backward sends
    #          the gradient of each filled element to `fill`, of every other element to `input`.
    ### BEGIN SOLUTION
    out = np.where(keep, fill.data.astype(input.dtype), input.data)
    return Tensor.from_op(out, "masked_fill", (input, fill), mask=keep)
    ### END SOLUTION


def where(condition: Tensor, input=None, other=None):
    """Elements of `input` where `condition` is True, of `other` elsewhere; all three broadcast.

    `input`/`other` are Tensors or numbers (numbers take the other operand's dtype, as in
    arithmetic). where(condition) alone returns the indices of the True elements: a tuple with
    one int64 Tensor per dimension (NumPy's nonzero).
    """
    keep = _bool_mask(condition, "where", "condition")
    if input is None and other is None:
        return tuple(Tensor(positions.astype(np.int64)) for positions in np.nonzero(keep))
    for name, value in (("input", input), ("other", other)):
        if not isinstance(value, (Tensor, numbers.Real, np.bool_)) or isinstance(value, complex):
            raise TypeError(f"where: {name} must be a Tensor or a number, got {type(value).__name__}")
    if isinstance(input, Tensor):
        other = input._coerce(other, "where")
    elif isinstance(other, Tensor):
        input = other._coerce(input, "where")
    else:
        input, other = Tensor(_to_array(input, None, "where")), Tensor(_to_array(other, None, "where"))
    _broadcast_for("where", keep.shape, input.shape, other.shape)
    dtype = _result_dtype(input, other)
    a, b = input.data.astype(dtype, copy=False), other.data.astype(dtype, copy=False)
    # Hint: `a` and `b` are already in the result dtype. np.where picks between them; record op
    #       "where" with inputs (input, other) and saved condition=keep.
    ### BEGIN SOLUTION
    return Tensor.from_op(np.where(keep, a, b), "where", (input, other), condition=keep)
    ### END SOLUTION


def _check_triangle(input, diagonal, op: str) -> None:
    _like(input, op)
    if input.ndim < 2:
        raise ValueError(f"{op}: needs at least 2 dimensions (it works on the last two), got shape {input.shape}")
    if isinstance(diagonal, bool) or not isinstance(diagonal, numbers.Integral):
        raise TypeError(f"{op}: diagonal must be an int, got {diagonal!r}")


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions: elements (i, j) with j - i <= diagonal.

    Everything above is 0. diagonal=0 keeps the main diagonal, 1 one more above it, -1 drops it.
    Shapes: (..., m, n) -> (..., m, n).
    """
    _check_triangle(input, diagonal, "tril")
    # Hint: np.tril(array, k) does exactly this on the last two dimensions of any array. Record op
    #       "tril" with saved diagonal=int(diagonal): the gradient is the same triangle of g.
    ### BEGIN SOLUTION
    return Tensor.from_op(np.tril(input.data, diagonal), "tril", (input,), diagonal=int(diagonal))
    ### END SOLUTION


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions: elements (i, j) with j - i >= diagonal."""
    _check_triangle(input, diagonal, "triu")
    return Tensor.from_op(np.triu(input.data, diagonal), "triu", (input,), diagonal=int(diagonal))


def _piece_axis(input, dim, op: str) -> int:
    _like(input, op)
    if input.ndim == 0:
        raise ValueError(f"{op}: a 0-d tensor has no dimension to cut along")
    return _normalize_dim(dim, input.ndim, op)


def _slice_along(input: Tensor, axis: int, start: int, stop: int) -> Tensor:
    """input[..., start:stop, ...] along `axis`: a view, recorded as getitem."""
    return input[(slice(None),) * axis + (slice(start, stop),)]


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Consecutive views along `dim`: pieces of one size (an int; the last may be shorter) or of
    the given sizes (a list that must add up to the dimension's size).

    Shapes for x (2, 10): split(x, 4, 1) -> (2, 4), (2, 4), (2, 2); split(x, [3, 7], 1) -> (2, 3), (2, 7).
    """
    axis = _piece_axis(tensor, dim, "split")
    size = tensor.shape[axis]
    sections = split_size_or_sections
    if isinstance(sections, numbers.Integral) and not isinstance(sections, bool):
        if sections <= 0 and size > 0:
            raise ValueError(f"split: split_size must be a positive int, got {sections}")
        starts = range(0, size, int(sections)) if size else [0]  # an empty dimension: one empty piece
        bounds = [(start, min(start + int(sections), size)) for start in starts]
    elif isinstance(sections, (list, tuple)):
        for section in sections:
            if isinstance(section, bool) or not isinstance(section, numbers.Integral) or section < 0:
                raise TypeError(f"split: sections must be non-negative ints, got {list(sections)}")
        if sum(sections) != size:
            raise ValueError(f"split: the sizes {list(sections)} add up to {sum(sections)}, but dimension "
                             f"{axis} of the tensor (shape {tensor.shape}) has size {size}")
        ends = np.cumsum([0, *sections]).tolist()
        bounds = list(zip(ends[:-1], ends[1:]))
    else:
        raise TypeError(f"split: split_size_or_sections must be an int or a list of ints, got "
                        f"{type(sections).__name__}")
    return tuple(_slice_along(tensor, axis, start, stop) for start, stop in bounds)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most `chunks` views along `dim`, each of size ceil(size / chunks) (the last may be shorter).

    As in PyTorch, fewer pieces come back when the size does not allow `chunks` non-empty ones:
    a dimension of 6 in 4 chunks gives 3 pieces of 2.
    """
    if isinstance(chunks, bool) or not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    axis = _piece_axis(input, dim, "chunk")
    size = input.shape[axis]
    if size == 0:
        return tuple(_slice_along(input, axis, 0, 0) for _ in range(int(chunks)))
    return split(input, -(-size // int(chunks)), axis)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Every slice along `dim`, with that dimension removed: (3, 4).unbind(1) -> four (3,) views."""
    axis = _piece_axis(input, dim, "unbind")
    return tuple(input[(slice(None),) * axis + (i,)] for i in range(input.shape[axis]))


# %%
#| test
def test_unit_masks_and_pieces():
    """masked_fill, where, tril/triu, split/chunk/unbind: values, dtypes, views and records."""
    scores = Tensor(np.arange(9, dtype=np.float32).reshape(3, 3))
    future = tril(ones(3, 3)) == 0
    _expect(tril(ones(3, 3)), [[1, 0, 0], [1, 1, 0], [1, 1, 1]], "tril(ones(3, 3))",
            "Check tril with np.tril(array, diagonal).")
    _expect(ones(2, 3).tril(diagonal=1), [[1, 1, 0], [1, 1, 1]], "ones(2, 3).tril(diagonal=1)")
    _expect(ones(3, 3).triu(1), [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "ones(3, 3).triu(1)")
    _expect(tril(ones(2, 2, 2), -1), [[[0, 0], [1, 0]]] * 2, "tril of a batch (2, 2, 2), diagonal=-1",
            "tril works matrix by matrix on the last two dimensions.")
    _expect(scores.masked_fill(future, -np.inf), [[0, -np.inf, -np.inf], [3, 4, -np.inf], [6, 7, 8]],
            "scores.masked_fill(future, -inf)",
            "Check masked_fill: np.where(mask, value, input), value where the mask is True.", np.float32)
    batch = Tensor(np.zeros((2, 3, 3), dtype=np.float32)).masked_fill(future, 1.0)
    _expect(batch, np.broadcast_to(future.data, (2, 3, 3)), "a (3, 3) mask on a (2, 3, 3) tensor",
            "The mask broadcasts against the input.")
    _expect(Tensor([1, 2]).masked_fill(Tensor([True, False]), 0.7), [0, 2], "an int tensor filled with 0.7",
            "The result keeps the input's dtype (0.7 becomes 0 in int64).", np.int64)
    _expect(where(scores > 4, scores, 0.0), [[0, 0, 0], [0, 0, 5], [6, 7, 8]], "where(scores > 4, scores, 0.0)",
            "Check where with np.where(condition, a, b).", np.float32)
    _expect(where(Tensor([True, False]), Tensor([1, 2]), 0.5), [1, 0.5], "where(cond, int64 tensor, 0.5)",
            "A float number next to an int tensor makes the result float32.", np.float32)
    assert [p.tolist() for p in where(Tensor([[False, True], [True, True]]))] == [[0, 1, 1], [1, 0, 1]], \
        "where(condition) alone returns the indices of the True elements"
    x = Tensor(np.arange(20, dtype=np.float32).reshape(2, 10))
    assert [p.shape for p in x.split(4, dim=1)] == [(2, 4), (2, 4), (2, 2)]
    assert [p.shape for p in split(x, [3, 7], dim=1)] == [(2, 3), (2, 7)]
    assert [p.shape for p in x.chunk(3, dim=1)] == [(2, 4), (2, 4), (2, 2)]
    assert [p.shape for p in ones(6).chunk(4)] == [(2,), (2,), (2,)], "6 in 4 chunks: 3 pieces of 2"
    rows = x.unbind(0)
    _expect(rows[1], np.arange(10, 20), "x.unbind(0)[1]")
    assert all(np.shares_memory(p.data, x.data) for p in (*x.split(4, 1), *rows)), "pieces must be views"
    try:
        x.split([3, 3], dim=1)
    except ValueError as error:
        assert "10" in str(error), f"the error should name the size 10: {error}"
    else:
        raise AssertionError("split([3, 3]) of a dimension of 10 must raise ValueError")
    for bad in (lambda: scores.masked_fill(scores > 4.0 * 1, Tensor([1.0, 2.0])),
                lambda: scores.masked_fill(ones(3, 3), 0.0), lambda: tril(ones(3))):
        try:
            bad()
        except (TypeError, ValueError):
            pass
        else:
            raise AssertionError("a non-0-d value, a float mask and tril of a 1-D tensor must each raise")
    w = Tensor(np.ones((3, 3), dtype=np.float32), requires_grad=True)
    for out, op, saved in ((w.masked_fill(future, 0.0), "masked_fill", {"mask"}),
                           (where(future, w, 1.0), "where", {"condition"}), (w.tril(), "tril", {"diagonal"}),
                           (w.triu(), "triu", {"diagonal"}), (w.split(2)[1], "getitem", {"index"}),
                           (w.unbind(1)[0], "getitem", {"index"})):
        assert out._ctx is not None and out._ctx.op == op and set(out._ctx.saved) == saved, \
            f"expected a recorded {op!r} node saving {sorted(saved)}, got {out._ctx!r}"
    print("✅ masks, triangles and pieces: masked_fill, where, tril/triu, split/chunk/unbind work")


test_unit_masks_and_pieces()

# %% [markdown]
# ## 12. Conversions: dtypes, devices and copies
#
# Everyday PyTorch code converts all the time: `x.float()` before a loss, `labels.long()` for
# class indices, `model.to(device)`, `x.clone()` before changing a copy. Three ideas:
#
# - **A cast is an operation.** `y = x.double()` makes a new tensor, and if `x` requires grad the
#   result must lead back to it, or mixed-precision code silently loses its gradients. We record
#   a `cast` node; its gradient is the incoming gradient converted back to `x`'s dtype (the
#   engine converts every gradient to its input's dtype anyway). Casts to integers or bool are
#   not recorded: such a tensor cannot carry a gradient, so it starts a new leaf.
# - **A device says where the numbers live.** PyTorch scripts begin with
#   `device = torch.device("cuda" if torch.cuda.is_available() else "cpu")` and move everything
#   with `.to(device)`. TinyTorch computes with NumPy on the CPU, so `device("cpu")` is the only
#   device you can use: `.to("cpu")` returns the tensor itself, and `.to("cuda")` says plainly that
#   TinyTorch runs on the CPU (you *can* write `device("cuda")`, as in PyTorch; using it is the error).
# - **`clone()` copies, and the copy is recorded.** Unlike `tensor(x)` (a fresh leaf), the clone
#   of a tensor that requires grad passes its gradient back; its memory layout is kept.

# %%
#| export
class device:
    """Where a tensor lives, PyTorch-style: device("cpu"), device("cuda:0"), device("cuda", 1).

    Only the CPU is available in TinyTorch; other devices can be named (scripts do, before
    checking) but check_device refuses to move anything there.
    """

    KNOWN = ("cpu", "cuda", "mps")

    def __init__(self, type, index=None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a device name such as 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        if name not in self.KNOWN:
            raise ValueError(f"device: unknown device type {name!r} in {type!r} "
                             f"(expected one of {', '.join(self.KNOWN)})")
        if number:
            if not number.isdigit() or index is not None:
                raise ValueError(f"device: invalid device string {type!r} (expected e.g. 'cuda:0')")
            index = int(number)
        if index is not None and (isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0):
            raise ValueError(f"device: index must be a non-negative int, got {index!r}")
        self.type, self.index = name, None if index is None else int(index)

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(value, where: str) -> device:
    """The CPU device from "cpu", "cpu:0", device("cpu") or None; a clear RuntimeError for any other.

    Module.to(device) and Tensor.to(device) both call it.
    """
    if value is None:
        return CPU
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = device("cuda", value)  # PyTorch reads a bare int as a CUDA device index
    try:
        found = value if isinstance(value, device) else device(value)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}") from None
    if found.type != "cpu":
        raise RuntimeError(f"{where}: TinyTorch runs on the CPU only, so device {str(found)!r} is not available "
                           "(tinytorch.cuda.is_available() is False). Use 'cpu', or write device-agnostic code: "
                           "device = 'cuda' if torch.cuda.is_available() else 'cpu'")
    return found


def _cast(input: Tensor, dtype, where: str) -> Tensor:
    """`input` in `dtype` (itself when it already is). Float results are recorded as op "cast"."""
    dtype = _resolve_dtype(dtype, where)
    if input.dtype == dtype:
        return input
    data = input.data.astype(dtype)
    if dtype.kind != "f":
        return Tensor(data)  # integers and bools carry no gradient: a new leaf
    # Hint: record op "cast" with input (input,) and nothing saved: backward converts the
    #       gradient back to the input's dtype (the engine does that for every input anyway).
    ### BEGIN SOLUTION
    return Tensor.from_op(data, "cast", (input,))
    ### END SOLUTION


def _is_device_name(value) -> bool:
    return isinstance(value, device) or (isinstance(value, str) and value.partition(":")[0] in device.KNOWN)


def _convert(input: Tensor, where: str, *args, dtype=None, device=None, non_blocking: bool = False,
             copy: bool = False) -> Tensor:
    """Tensor.to's argument forms: (dtype), (device), (device, dtype), (tensor), dtype=/device= keywords."""
    target_device, target_dtype = device, dtype
    for arg in args:
        if isinstance(arg, Tensor):
            target_dtype = arg.dtype
        elif _is_device_name(arg) or (isinstance(arg, numbers.Integral) and not isinstance(arg, bool)):
            target_device = arg
        elif target_dtype is None:
            target_dtype = arg
        else:
            raise TypeError(f"{where}: unexpected argument {arg!r} (expected a dtype, a device or a tensor)")
    check_device(target_device, where)
    out = input if target_dtype is None else _cast(input, target_dtype, where)
    return out.clone() if copy and out is input else out


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile `input` sizes[i] times along dimension i (np.tile); more sizes than dims add leading dims.

    Shapes: (2, 3).repeat(2, 1) -> (4, 3); (3,).repeat(2, 2) -> (2, 6). Built from recorded ops:
    each dimension gets a new size-1 dimension in front, which expand stretches; reshape merges.
    """
    sizes = _parse_shape(sizes, "repeat")
    if len(sizes) < input.ndim:
        raise ValueError(f"repeat: needs at least one size per dimension ({input.ndim}), got {sizes}")
    shape = (1,) * (len(sizes) - input.ndim) + input.shape
    interleaved = tuple(n for size in shape for n in (1, size))
    stretched = tuple(n for count, size in zip(sizes, shape) for n in (count, size))
    merged = tuple(count * size for count, size in zip(sizes, shape))
    return input.reshape(*interleaved).expand(*stretched).reshape(*merged)


# %%
#| test
def test_unit_conversions():
    """Recorded casts, devices, clone, t/mT, new_* and repeat."""
    w = Tensor(np.array([1.5, -2.0], dtype=np.float32), requires_grad=True)
    d = w.double()
    assert d.dtype == np.float64 and d._ctx is not None and d._ctx.op == "cast", \
        f"w.double() of a tensor that requires grad must record op 'cast', got {d._ctx!r}"
    assert w.float() is w, "a cast to the same dtype returns the tensor itself"
    assert w.long().tolist() == [1, -2] and w.long()._ctx is None, "an int64 cast is a new leaf (no gradient)"
    assert w.to(float64).dtype == np.float64 and w.to("cpu") is w and w.to(CPU, float16).dtype == np.float16
    assert w.type_as(Tensor([1])).dtype == np.int64 and w.cpu() is w and w.device == device("cpu")
    for bad in ("cuda", "mps", device("cuda", 1)):
        try:
            w.to(bad)
        except RuntimeError as error:
            assert "CPU" in str(error), f"the error for {bad!r} should say TinyTorch runs on the CPU: {error}"
        else:
            raise AssertionError(f"w.to({bad!r}) must raise: TinyTorch has no GPU")
    assert repr(device("cuda:1")) == "device(type='cuda', index=1)" and str(device("cpu")) == "cpu"
    c = w.clone()
    assert not np.shares_memory(c.data, w.data) and c._ctx.op == "clone", "clone copies and is recorded"
    m = Tensor(np.arange(6.0).reshape(2, 3))
    assert m.t().shape == (3, 2) and Tensor(np.ones((2, 3, 4))).mT.shape == (2, 4, 3)
    assert m.new_zeros(2, 2).dtype == np.float64 and m.new_ones((3,)).tolist() == [1, 1, 1]
    _expect(Tensor([1, 2]).repeat(2, 2), [[1, 2, 1, 2], [1, 2, 1, 2]], "Tensor([1, 2]).repeat(2, 2)")
    _expect(m.repeat(2, 1), np.tile(m.data, (2, 1)), "m.repeat(2, 1)")
    print("✅ conversions: recorded casts, devices, clone, t/mT, new_* and repeat work")


test_unit_conversions()

# %% [markdown]
# ## 13. Selecting, sorting and comparing
#
# - `maximum(a, b)` / `minimum(a, b)` compare two tensors element by element (with
#   broadcasting) — unlike `max()`, which reduces one tensor. Where the two are equal, either
#   could have "won", so PyTorch gives each half of the gradient; we do the same.
# - `gather(input, dim, index)` picks, along `dim`, the element that `index` names: for a 2-D
#   input and `dim=1`, `out[i][j] = input[i][index[i][j]]`. It is how you read the log-probability
#   of each sample's label, and the output has the index's shape.
# - `sort(dim)` returns `(values, indices)`; `topk(k)` the `k` largest (or smallest) of them —
#   what top-k sampling in a language model does with its logits. Both pick elements, so both
#   are recorded as `gather` and send each gradient back to the element it came from.
#
# ```
#  x = [[0.1, 0.7, 0.2],        x.topk(2, dim=1)  ->  values  [[0.7, 0.2], [0.9, 0.5]]
#       [0.5, 0.9, 0.4]]                              indices [[1, 2],     [1, 0]]
#                               x.gather(1, indices) == values
# ```

# %%
#| export
def _elementwise_pair(input, other, op: str):
    """(input, other) as Tensors in their common dtype, shapes checked: the arrays come third and fourth."""
    _like(input, op)
    other, a, b = input._operands(other, op)
    return input, other, a, b


def maximum(input: Tensor, other) -> Tensor:
    """The elementwise larger of input and other (broadcast). NaN wins, as in PyTorch."""
    input, other, a, b = _elementwise_pair(input, other, "maximum")
    return Tensor.from_op(np.maximum(a, b), "maximum", (input, other))


def minimum(input: Tensor, other) -> Tensor:
    """The elementwise smaller of input and other (broadcast). NaN wins, as in PyTorch."""
    input, other, a, b = _elementwise_pair(input, other, "minimum")
    return Tensor.from_op(np.minimum(a, b), "minimum", (input, other))


def _index_array(index, where: str) -> np.ndarray:
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        found = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise TypeError(f"{where}: index must be an integer Tensor (int64), got {found}")
    return index.data


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Values along `dim` picked by `index`: out[i][j] = input[i][index[i][j]] for dim=1.

    index has input's number of dimensions and, outside `dim`, sizes no larger than input's;
    out.shape == index.shape. Recorded as op "gather" (saved: dim, index).
    """
    _like(input, "gather")
    positions = _index_array(index, "gather")
    axis = _normalize_dim(dim, input.ndim, "gather")
    if positions.ndim != input.ndim:
        raise ValueError(f"gather: index must have as many dimensions as input ({input.ndim}), "
                         f"got index shape {positions.shape}")
    for d, (have, want) in enumerate(zip(input.shape, positions.shape)):
        if d != axis and want > have:
            raise ValueError(f"gather: index shape {positions.shape} is larger than input shape {input.shape} "
                             f"at dimension {d} (only the gathered dimension {axis} may differ freely)")
    size = input.shape[axis]
    if positions.size and (positions.min() < -size or positions.max() >= size):
        raise IndexError(f"gather: index values must lie in [{-size}, {size - 1}] for dimension {axis} "
                         f"of size {size}, got values from {positions.min()} to {positions.max()}")
    positions = positions % max(size, 1)
    part = input.data[tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(positions.shape))]
    out = np.take_along_axis(part, positions, axis=axis)
    return Tensor.from_op(out, "gather", (input,), dim=axis, index=positions, unique=False)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices) of `input` sorted along `dim`; equal elements keep their original order.

    NaN counts as the largest value (last ascending, first descending), as in PyTorch.
    """
    _like(input, "sort")
    if input.ndim == 0:
        return ValuesIndices(input.clone(), Tensor(np.zeros((), dtype=np.int64)))
    axis = _normalize_dim(dim, input.ndim, "sort")
    if descending:  # a stable ascending sort of the reversed data, reversed, keeps ties in order
        size = input.shape[axis]
        flipped = np.argsort(np.flip(input.data, axis), axis=axis, kind="stable")
        order = np.flip(size - 1 - flipped, axis)
    else:
        order = np.argsort(input.data, axis=axis, kind="stable")
    values = np.take_along_axis(input.data, order, axis=axis)
    out = Tensor.from_op(values, "gather", (input,), dim=axis, index=order, unique=True)
    return ValuesIndices(out, Tensor(order.astype(np.int64)))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the k largest (largest=True) or smallest elements along `dim`, in order.

    Shapes: input (B, V), k -> values (B, k), indices (B, k) int64. (Always sorted.)
    """
    _like(input, "topk")
    axis = _normalize_dim(dim, input.ndim, "topk")
    size = input.shape[axis] if input.ndim else 1
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= size:
        raise ValueError(f"topk: k must be an int in [0, {size}] (the size of dimension {axis}), got {k!r}")
    values, indices = sort(input, axis, descending=largest)
    if input.ndim == 0:
        return ValuesIndices(values, indices)
    first_k = (slice(None),) * axis + (slice(0, int(k)),)
    return ValuesIndices(values[first_k], indices[first_k])


# %%
#| test
def test_unit_selecting_and_sorting():
    """maximum/minimum, gather, sort and topk: values, indices and records."""
    a, b = Tensor([1.0, 5.0, 3.0]), Tensor([2.0, 5.0, 1.0])
    _expect(maximum(a, b), [2, 5, 3], "maximum(a, b)")
    _expect(a.minimum(b), [1, 5, 1], "a.minimum(b)")
    _expect(a.max(b), [2, 5, 3], "a.max(b) with a tensor is maximum")
    x = Tensor([[0.1, 0.7, 0.2], [0.5, 0.9, 0.4]])
    values, indices = x.topk(2, dim=1)
    _expect(values, [[0.7, 0.2], [0.9, 0.5]], "x.topk(2).values")
    _expect(indices, [[1, 2], [1, 0]], "x.topk(2).indices", dtype=np.int64)
    _expect(x.gather(1, indices), values.data, "x.gather(1, indices)")
    _expect(x.gather(0, Tensor([[1, 0, 1]])), [[0.5, 0.7, 0.4]], "x.gather(0, [[1, 0, 1]])")
    s = Tensor([3, 1, 2, 1]).sort(descending=True)
    assert s.values.tolist() == [3, 2, 1, 1] and s.indices.tolist() == [0, 2, 1, 3], \
        f"descending sort keeps ties in their original order: got {s.indices.tolist()}"
    assert Tensor([2.0, float("nan"), 1.0]).sort().indices.tolist() == [2, 0, 1], "NaN sorts last (largest)"
    w = Tensor([1.0, 2.0], requires_grad=True)
    assert maximum(w, 1.5)._ctx.op == "maximum" and w.sort().values._ctx.op == "gather"
    assert Tensor([1.0, float("nan"), float("inf")]).isfinite().tolist() == [True, False, False]
    print("✅ selecting and sorting: maximum/minimum, gather, sort and topk work")


test_unit_selecting_and_sorting()

# %% [markdown]
# ## 14. Random integers, sampling, and NumPy interop
#
# A language model generates text by **sampling**: the softmax turns logits into probabilities,
# and `multinomial(probs, 1)` draws the next token id with exactly those chances. Training loops
# shuffle with `randperm(n)` and pick random batches with `randint(high, size)`. All of them use
# the generator that `manual_seed` resets, so a seeded run draws the same numbers every time.
#
# `multinomial` draws several samples without replacement by the "Gumbel top-k" trick: add
# independent Gumbel noise `-log(-log(u))` to each log-weight and keep the `k` largest. That is
# the same distribution as drawing one item at a time and removing it, but it is one vectorised
# step for a whole batch of rows.
#
# From NumPy: `from_numpy(a)` wraps an array **without copying** (changing one changes the other),
# `as_tensor(data)` shares when it can and copies only when it must (a list, another dtype), and
# `tensor(data)` always copies. `allclose` and `equal` answer with a Python bool.

# %%
#| export
def _generator_or_default(generator, where: str) -> np.random.Generator:
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{where}: generator must be a numpy.random.Generator (for example the one "
                        f"manual_seed returns), got {type(generator).__name__}")
    return generator or _generator


def _integer_argument(value, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    return int(value)


def randint(*args, size=None, generator=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high): randint(high, size) or randint(low, high, size). int64."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        *args, size = args
    if size is None or not 1 <= len(args) <= 2:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size), e.g. "
                        f"randint(10, (3,)); got arguments {args!r} and size={size!r}")
    low, high = (0, args[0]) if len(args) == 1 else args
    low, high = _integer_argument(low, "low", "randint"), _integer_argument(high, "high", "randint")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be larger than low ({low})")
    shape = _parse_shape((size,), "randint")
    dtype = _resolve_dtype(dtype, "randint") or np.dtype(np.int64)
    rng = _generator_or_default(generator, "randint")
    return Tensor(rng.integers(low, high, shape).astype(dtype), requires_grad=requires_grad)


def randperm(n: int, *, generator=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64)."""
    n = _integer_argument(n, "n", "randperm")
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    dtype = _resolve_dtype(dtype, "randperm") or np.dtype(np.int64)
    rng = _generator_or_default(generator, "randperm")
    return Tensor(rng.permutation(n).astype(dtype), requires_grad=requires_grad)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Draw category indices with probabilities proportional to the (non-negative) weights in `input`.

    Shapes: (C,) -> (num_samples,); (B, C) -> (B, num_samples), int64. The weights need not sum to 1.
    Without replacement each category is drawn at most once (num_samples <= C).
    """
    _like(input, "multinomial")
    num_samples = _integer_argument(num_samples, "num_samples", "multinomial")
    if input.ndim not in (1, 2) or input.dtype.kind != "f":
        raise ValueError(f"multinomial: input must be a 1-D or 2-D floating-point tensor of weights, "
                         f"got shape {input.shape} and dtype {input.dtype}")
    weights = input.data.reshape(-1, input.shape[-1]).astype(np.float64)
    categories = weights.shape[1]
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("multinomial: weights must be finite and non-negative (inf, nan or a negative value found)")
    if (weights.sum(axis=1) <= 0).any():
        raise ValueError("multinomial: every row of weights must have a positive sum")
    if num_samples <= 0 or (not replacement and num_samples > categories):
        raise ValueError(f"multinomial: num_samples must be in [1, {categories}] without replacement "
                         f"(at least 1 with replacement), got {num_samples}")
    rng = _generator_or_default(generator, "multinomial")
    rows = weights.shape[0]
    if replacement:  # inverse CDF: one searchsorted over all rows, each shifted by its row number
        cdf = np.cumsum(weights, axis=1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0
        offsets = np.arange(rows)[:, None]
        picks = np.searchsorted((cdf + offsets).ravel(), (rng.random((rows, num_samples)) + offsets).ravel(),
                                side="right").reshape(rows, num_samples) - offsets * categories
        picks = np.minimum(picks, categories - 1)
    else:  # Gumbel top-k; zero weights get keys far below any positive one, so they come last
        gumbel = -np.log(-np.log(rng.random((rows, categories)) * (1 - 1e-12) + 1e-300))
        with np.errstate(divide="ignore"):
            keys = np.where(weights > 0, np.log(weights), -1e4) + gumbel
        picks = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    picks = picks.astype(np.int64)
    return Tensor(picks[0] if input.ndim == 1 else picks)


def full_like(input: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """`fill_value` everywhere, with input's shape and dtype (unless given): full_like(i64, 2.7) -> 2s."""
    _like(input, "full_like")
    return full(input.shape, fill_value, dtype=dtype or input.dtype, requires_grad=requires_grad)


def rand_like(input: Tensor, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform samples in [0, 1) with input's shape and dtype (floating point)."""
    _like(input, "rand_like")
    dtype = _resolve_dtype(dtype, "rand_like") or input.dtype
    if dtype.kind != "f":
        raise TypeError(f"rand_like: random samples need a floating-point dtype, got {dtype}")
    return rand(*input.shape, dtype=dtype, requires_grad=requires_grad, generator=generator)


def randn_like(input: Tensor, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal samples with input's shape and dtype (floating point)."""
    _like(input, "randn_like")
    dtype = _resolve_dtype(dtype, "randn_like") or input.dtype
    if dtype.kind != "f":
        raise TypeError(f"randn_like: random samples need a floating-point dtype, got {dtype}")
    return randn(*input.shape, dtype=dtype, requires_grad=requires_grad, generator=generator)


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor that shares `array`'s memory and dtype (no copy): changing one changes the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def as_tensor(data, dtype=None) -> Tensor:
    """`data` as a Tensor, sharing memory when it can (a Tensor or ndarray of the right dtype), else a copy."""
    if isinstance(data, Tensor):
        return data if dtype is None else _cast(data, dtype, "as_tensor")
    return Tensor(_to_array(data, _resolve_dtype(dtype, "as_tensor"), "as_tensor"))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when |input - other| <= atol + rtol * |other| everywhere (shapes broadcast)."""
    _like(input, "allclose")
    _like(other, "allclose")
    _broadcast_for("allclose", input.shape, other.shape)
    return bool(np.allclose(input.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same elements."""
    _like(input, "equal")
    _like(other, "equal")
    return input.shape == other.shape and bool(np.array_equal(input.data, other.data))


# %%
#| test
def test_unit_sampling_and_numpy():
    """randint/randperm/multinomial are seeded and in range; from_numpy shares, as_tensor only when it can."""
    manual_seed(0)
    first = randint(3, 7, (50,))
    assert first.dtype == np.int64 and 3 <= first.data.min() and first.data.max() < 7
    manual_seed(0)
    assert randint(3, 7, (50,)).tolist() == first.tolist(), "manual_seed must make randint reproducible"
    assert sorted(randperm(6).tolist()) == list(range(6))
    probs = Tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    drawn = multinomial(probs, 1)
    assert drawn.shape == (2, 1) and drawn[0, 0].item() == 1 and drawn[1, 0].item() in (0, 2)
    counts = np.bincount(multinomial(Tensor([1.0, 3.0]), 4000, replacement=True).data, minlength=2)
    assert abs(counts[1] / 4000 - 0.75) < 0.04, f"weights 1:3 should give about 75% ones, got {counts}"
    assert sorted(multinomial(Tensor([1.0, 2.0, 3.0]), 3).tolist()) == [0, 1, 2], "no repeats without replacement"
    array = np.zeros(3, dtype=np.float32)
    shared = from_numpy(array)
    array[0] = 5.0
    assert shared[0].item() == 5.0, "from_numpy must share memory with the array"
    assert as_tensor(array).data is array and as_tensor([1, 2]).dtype == np.int64
    assert allclose(Tensor([1.0, 2.0]), Tensor([1.0, 2.0 + 1e-9])) and not equal(Tensor([1, 2]), Tensor([1, 3]))
    assert full_like(Tensor([1, 2]), 2.7).tolist() == [2, 2] and randn_like(zeros(2, 3)).shape == (2, 3)
    print("✅ sampling and NumPy interop: randint/randperm/multinomial, from_numpy/as_tensor, allclose/equal work")


test_unit_sampling_and_numpy()

# %% [markdown]
# ## 15. In-place operations and the version counter
#
# `x.add_(1)`, `x += 1`, `x.zero_()`, `x[0] = 5`: operations ending in `_` (and the augmented
# operators) **change the tensor itself** instead of making a new one. They save memory and are
# what optimizers are made of (`p -= lr * p.grad`). They also threaten autograd, in two ways,
# and PyTorch guards against both with a rule each:
#
# **1. A leaf that requires grad may not be changed in place while the graph is being built.**
# A weight `w` is a leaf; if `w.mul_(2)` were allowed in a forward pass, the graph would describe
# a `w` that no longer exists. So it raises — *unless* grad mode is off: under `no_grad()` nothing
# is recorded, and that is exactly how an optimizer step is written:
#
# ```python
# with no_grad():
#     w -= lr * w.grad          # changes w's memory; nothing is recorded
# ```
#
# **2. A tensor that a recorded op still needs must not change before backward.** `y = w * x`
# records `mul(w, x)`: its gradient for `w` is `g · x`, read from `x` *during backward*. Change
# `x` in place between the forward and the backward pass and the gradient would be computed from
# the wrong numbers — silently. Every tensor therefore carries a **version counter**, shared by
# all views of the same memory; every in-place op adds 1 to it. `from_op` writes down each input's
# version in the Node (or `None` while the program has made no in-place change at all, so that
# ordinary training pays nothing for the check), and backward compares before it uses a rule:
#
# ```
#  x = randn(3)            x: version 0
#  y = w * x               Node(mul, inputs=(w, x), versions=(0, 0))
#  x.add_(1)               x: version 1
#  y.sum().backward()      mul's input 1 is at version 1, expected 0  ->  RuntimeError
# ```
#
# (PyTorch checks only the tensors a rule reads; we check every input, so TinyTorch may refuse a
# backward that PyTorch would allow — never compute a wrong one. Changing `.data` directly, as our
# optimizers do, bypasses the counter: that is PyTorch's `.data` too, and the reason to use it only
# where no graph needs the old values.)
#
# **In place on a tensor inside the graph.** `h = layer(x); h += skip` (ResNet) changes a
# non-leaf. We record it: the old value of `h` becomes a hidden tensor that keeps `h`'s history,
# `h`'s memory gets the new value, and `h` gets a new Node (`add(old_h, skip)`). For `mul_`,
# `div_` and `clamp_` the hidden tensor keeps a copy of the old numbers, because their gradient
# reads them — so in a graph these save no memory, they only keep PyTorch's meaning. Views of a
# tensor in the graph (`h[0].add_(1)`, `h.T.mul_(2)`) cannot be recorded this way and raise.

# %%
#| export
_EVERYWHERE = None  # set below: a 0-d True mask, for fill_ recorded as masked_fill


def _leaf_error(where: str) -> RuntimeError:
    return RuntimeError(f"{where}: a leaf Variable that requires grad is being used in an in-place operation. "
                        "Wrap the update in `with no_grad():` (as an optimizer step does), or use the "
                        "out-of-place form (w = w * 2).")


def _must_record(tensor: Tensor, where: str, *others) -> bool:
    """Whether an in-place op on `tensor` must be recorded in the graph; raises PyTorch's errors.

    Rule 1: a leaf that requires grad may not be changed while grad mode is on.
    """
    if not grad_mode.enabled:
        return False
    involved = tensor.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)
    if not involved:
        return False
    # Hints: - a leaf (tensor._ctx is None) that requires grad: raise _leaf_error(where).
    #        - a view (tensor._is_view) cannot be recorded: raise a RuntimeError that says so and
    #          suggests the out-of-place form or no_grad().
    #        - otherwise return True: the caller records the op.
    ### BEGIN SOLUTION
    if tensor.requires_grad and tensor._ctx is None:
        raise _leaf_error(where)
    if tensor._is_view:
        raise RuntimeError(f"{where}: in-place on a view of a tensor that is part of the graph (a slice, "
                           "transpose or reshape of it) is not supported by TinyTorch's autograd; use the "
                           "out-of-place form (y = y + 1), or do it under no_grad()")
    return True
    ### END SOLUTION


def _bump(tensor: Tensor) -> Tensor:
    """Count one in-place change of `tensor`'s memory (shared by all its views). Returns tensor."""
    tensor._counter().value += 1
    inplace_changes.value += 1
    return tensor


def _writable(tensor: Tensor, where: str) -> np.ndarray:
    if not tensor.data.flags.writeable:
        raise RuntimeError(f"{where}: this tensor's memory cannot be written: more than one element refers to "
                           "a single memory location (an expand() or broadcast view). clone() it first.")
    return tensor.data


def _fits(tensor: Tensor, shape: tuple, dtype, where: str) -> None:
    """An in-place result must keep the tensor's shape, and its dtype category (no float into int)."""
    if shape != tuple(tensor.shape):
        raise RuntimeError(f"{where}: the result would have shape {shape}, but an in-place op must keep the "
                           f"tensor's shape {tensor.shape} (the other operand must broadcast to it)")
    if dtype is not None and _CATEGORY[np.dtype(dtype).kind] > _CATEGORY[tensor.dtype.kind]:
        raise RuntimeError(f"{where}: result type {np.dtype(dtype)} can't be cast to the desired output type "
                           f"{tensor.dtype}; convert first (x = x.float()) or use the out-of-place form")


def _rebase(tensor: Tensor, where: str, compute, keep_old_values: bool) -> Tensor:
    """Record an in-place op on a graph tensor: `compute(old)` is the new value of `tensor`.

    `old` takes over tensor's history (and a copy of its numbers when the op's gradient reads
    them); tensor's memory gets the new numbers and tensor gets the new Node.
    """
    old = Tensor.__new__(Tensor)
    old.data = tensor.data.copy() if keep_old_values else tensor.data
    old.grad, old._ctx, old.requires_grad = None, tensor._ctx, tensor.requires_grad
    # (old gets no version counter of its own: nobody changes it in place, it stays at version 0)
    result = compute(old)
    _fits(tensor, result.shape, result.dtype, where)
    np.copyto(_writable(tensor, where), result.data, casting="unsafe")
    tensor._ctx, tensor.requires_grad = result._ctx, result.requires_grad
    return _bump(tensor)


_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def _arithmetic_(tensor: Tensor, op: str, other, alpha) -> Tensor:
    """add_/sub_/mul_/div_ (and += -= *= /=): tensor op= alpha * other, in place."""
    where = op + "_"
    other = tensor._coerce(other, where)
    if alpha != 1:
        other = other * alpha
    if _must_record(tensor, where, other):
        forward = {"add": Tensor.__add__, "sub": Tensor.__sub__, "mul": Tensor.__mul__, "div": Tensor.__truediv__}[op]
        return _rebase(tensor, where, lambda old: forward(old, other), keep_old_values=op in ("mul", "div"))
    shape = tensor.shape if other.shape == tensor.shape else _broadcast_for(where, tensor.shape, other.shape)
    result_dtype = _result_dtype(tensor, other) if other.dtype != tensor.dtype else tensor.dtype
    if op == "div" and result_dtype.kind != "f":
        result_dtype = np.dtype(DEFAULT_FLOAT)  # true division
    _fits(tensor, shape, result_dtype, where)
    with np.errstate(divide="ignore", invalid="ignore"):
        # casting="unsafe": _fits already refused a higher category, as PyTorch does; within one
        # category PyTorch casts down (a uint8 tensor += an int64 one stays uint8)
        _UFUNCS[op](tensor.data, other.data, out=_writable(tensor, where), casting="unsafe")
    return _bump(tensor)


def fill_(tensor: Tensor, value, where: str = "fill_") -> Tensor:
    """Every element of `tensor` set to `value` (a number or a 0-d Tensor), in place."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{where}: value must be a number or a 0-d tensor, got shape {value.shape}")
    elif isinstance(value, complex) or not isinstance(value, (numbers.Real, np.bool_)):
        raise TypeError(f"{where}: value must be a number or a 0-d Tensor, got {value!r}")
    if _must_record(tensor, where, value):
        return _rebase(tensor, where, lambda old: old.masked_fill(_EVERYWHERE, value), keep_old_values=False)
    _writable(tensor, where)[...] = value.data if isinstance(value, Tensor) else value
    return _bump(tensor)


def clamp_(tensor: Tensor, min=None, max=None) -> Tensor:
    """tensor.clamp(min, max), written into tensor's own memory."""
    if _must_record(tensor, "clamp_"):
        return _rebase(tensor, "clamp_", lambda old: old.clamp(min, max), keep_old_values=True)
    result = tensor.clamp(min, max)  # checks the bounds, and gives the result dtype
    _fits(tensor, result.shape, result.dtype, "clamp_")
    np.copyto(_writable(tensor, "clamp_"), result.data)
    return _bump(tensor)


def copy_(tensor: Tensor, src) -> Tensor:
    """src (broadcast to tensor's shape, cast to its dtype) copied into tensor's memory."""
    if isinstance(src, np.ndarray):
        src = Tensor(src)
    _like(src, "copy_")
    shape = _broadcast_for("copy_", tensor.shape, src.shape)
    _fits(tensor, shape, None, "copy_")  # any dtype may be copied in (converted), as in PyTorch
    if _must_record(tensor, "copy_", src):  # recorded as where(True, src, old): old gets no gradient
        return _rebase(tensor, "copy_", lambda old: where(_EVERYWHERE, _cast(src, tensor.dtype, "copy_"), old),
                       keep_old_values=False)
    np.copyto(_writable(tensor, "copy_"), src.data, casting="unsafe")
    return _bump(tensor)


def random_(tensor: Tensor, where: str, a, b, generator) -> Tensor:
    """uniform_(a, b) and normal_(mean=a, std=b): fill a floating-point tensor with samples, in place."""
    if tensor.dtype.kind != "f":
        raise TypeError(f"{where}: needs a floating-point tensor, got {tensor.dtype}")
    for name, value in (("first", a), ("second", b)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{where}: the {name} parameter must be a number, got {value!r}")
    if where == "normal_" and b < 0:
        raise ValueError(f"{where}: std must be non-negative, got {b}")
    if _must_record(tensor, where):
        raise RuntimeError(f"{where}: filling a tensor that is part of the graph with random numbers is not "
                           "recorded; make a new tensor instead (rand_like / randn_like)")
    rng = _generator_or_default(generator, where)
    samples = rng.uniform(a, b, tensor.shape) if where == "uniform_" else rng.normal(a, b, tensor.shape)
    np.copyto(_writable(tensor, where), samples, casting="unsafe")
    return _bump(tensor)


def setitem_(tensor: Tensor, index, value) -> None:
    """tensor[index] = value (value broadcasts to the selection and is cast to tensor's dtype)."""
    if isinstance(value, Tensor):
        array = value.data
    elif isinstance(value, (numbers.Real, np.bool_, np.ndarray)) and not isinstance(value, complex):
        array = value
    else:
        raise TypeError(f"setitem: value must be a Tensor, a number or an ndarray, got {type(value).__name__}")
    if _must_record(tensor, "setitem", value):
        raise RuntimeError("setitem: x[index] = value on a tensor that is part of the graph is not recorded by "
                           "TinyTorch; build the result out of place (where(mask, value, x), masked_fill, cat)")
    try:
        _writable(tensor, "setitem")[_unwrap_index(index)] = array
    except (IndexError, ValueError, TypeError) as error:
        raise IndexError(f"setitem: {error} (tensor shape {tensor.shape}, index {index!r})") from None
    _bump(tensor)


_EVERYWHERE = Tensor(np.ones((), dtype=np.bool_))


# %%
#| test
def test_unit_inplace_and_versions():
    """In-place ops change the tensor itself, follow PyTorch's two safety rules, and count versions."""
    x = Tensor([1.0, 2.0, 3.0])
    before = x.data
    x += 1
    x.mul_(2).sub_(Tensor([1.0, 1.0, 1.0]), alpha=2)
    assert x.data is before and x.tolist() == [2.0, 4.0, 6.0], \
        f"in-place ops must write into the same memory: got {x.tolist()}, same array: {x.data is before}"
    assert x._version == 3, f"three in-place ops should give version 3, got {x._version}"
    view = x[1:]
    view.zero_()
    x[0].fill_(7.0)
    assert x.tolist() == [7.0, 0.0, 0.0] and x._version == 5, "views (even x[0]) share memory and version counter"
    w = Tensor([1.0, 2.0], requires_grad=True)
    try:
        w.add_(1)
    except RuntimeError as error:
        assert "leaf Variable that requires grad" in str(error), f"PyTorch's message expected, got: {error}"
    else:
        raise AssertionError("w.add_(1) on a leaf that requires grad must raise outside no_grad")
    grad_mode.enabled = False
    try:
        w -= 0.5 * Tensor([2.0, 2.0])  # what an optimizer step does under no_grad
    finally:
        grad_mode.enabled = True
    assert w.tolist() == [0.0, 1.0], f"under no_grad the update must change w itself, got {w.tolist()}"
    y = w * x[:2]
    assert y._ctx.versions == (w._version, x._version), "from_op must record each input's version"
    h = w * 2.0
    h += Tensor([1.0, 1.0])
    assert h._ctx.op == "add" and h.requires_grad, "in place on a graph tensor is recorded as a new node"
    for bad in (lambda: Tensor([1, 2]).add_(0.5), lambda: zeros(3).add_(ones(2, 3)),
                lambda: zeros(3, 1).expand(3, 4).add_(1), lambda: (w * 1.0)[0].mul_(2)):
        try:
            bad()
        except RuntimeError:
            pass
        else:
            raise AssertionError("int += float, a broadcast result, an expanded tensor and a view in the graph "
                                 "must each raise RuntimeError")
    print("✅ in-place ops: memory, versions, the leaf rule and recorded graph updates work")


test_unit_inplace_and_versions()

# %% [markdown]
# What does "in place" buy? An optimizer step on a 4 MiB weight, both ways, measured here. The
# out-of-place form allocates a new 4 MiB array every step (and the old one must be freed); the
# in-place form writes into the memory the weight already has.

# %%
#| analysis
import timeit

weight, step = randn(1024, 1024), randn(1024, 1024) * 0.01
t_new = min(timeit.repeat(lambda: weight - step, number=1, repeat=7))  # `w = w - step`: a new array
t_inplace = min(timeit.repeat(lambda: weight.sub_(step), number=1, repeat=7))
print(f"w = w - step (a new array): {t_new * 1e3:6.2f} ms, allocates {weight.nbytes / 2**20:.0f} MiB every step")
print(f"w -= step    (in place):    {t_inplace * 1e3:6.2f} ms, allocates nothing   ({t_new / t_inplace:.1f}x)")

# %% [markdown]
# ## 16. Function forms: `torch.sum(x)` as well as `x.sum()`
#
# PyTorch offers most methods twice: `x.sum(dim=1)` and `torch.sum(x, dim=1)`, `torch.max(x, 1)`
# (values and indices), `torch.exp(x)`. The function forms below just call the method, after
# checking that their first argument is a Tensor. Four of them share their names with Python
# built-ins (`sum`, `max`, `min`, `abs`, and `all`/`any`): defining `sum` in this file would hide
# Python's `sum` from every function here, so they are called `tensor_sum`, `tensor_max`, … and
# `tinytorch/__init__.py` exports them under PyTorch's names, so `tinytorch.sum` is `tensor_sum`.

# %%
#| export
def _function_form(name: str):
    """torch.NAME(input, ...) as input.NAME(...), with a clear error when input is not a Tensor."""
    method = getattr(Tensor, name)

    def function(input, *args, **kwargs):
        return method(_like(input, name), *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"{name}(input, ...) is input.{name}(...): " + (method.__doc__ or "").strip()
    return function


exp = _function_form("exp")
log = _function_form("log")
sqrt = _function_form("sqrt")
clamp = _function_form("clamp")
clip = _function_form("clip")
matmul = _function_form("matmul")
flatten = _function_form("flatten")
reshape = _function_form("reshape")
transpose = _function_form("transpose")
permute = _function_form("permute")
squeeze = _function_form("squeeze")
unsqueeze = _function_form("unsqueeze")
mean = _function_form("mean")
var = _function_form("var")
std = _function_form("std")
argmax = _function_form("argmax")
argmin = _function_form("argmin")
isnan = _function_form("isnan")
isinf = _function_form("isinf")
isfinite = _function_form("isfinite")
numel = _function_form("numel")
tensor_sum = _function_form("sum")
tensor_max = _function_form("max")  # tensor_max(x) -> value; (x, dim) -> (values, indices); (x, y) -> maximum
tensor_min = _function_form("min")
tensor_abs = _function_form("abs")
tensor_all = _function_form("all")
tensor_any = _function_form("any")


# %%
#| test
def test_unit_function_forms():
    """The function forms give the methods' results and reject a non-Tensor first argument."""
    x = Tensor([[1.0, 5.0], [3.0, 2.0]])
    _expect(tensor_sum(x, dim=1), [6, 5], "tensor_sum(x, dim=1)")
    values, indices = tensor_max(x, 1)
    _expect(values, [5, 3], "tensor_max(x, 1).values")
    _expect(indices, [1, 0], "tensor_max(x, 1).indices")
    _expect(tensor_max(x, Tensor([2.0, 2.0])), [[2, 5], [3, 2]], "tensor_max(x, y) is maximum")
    _expect(transpose(x, 0, 1), x.data.T, "transpose(x, 0, 1)")
    _expect(clamp(x, max=2.5), [[1, 2.5], [2.5, 2]], "clamp(x, max=2.5)")
    assert tensor_all(x > 0).item() and not tensor_any(x > 9).item() and numel(x) == 4
    try:
        exp([1.0, 2.0])
    except TypeError as error:
        assert "exp" in str(error), f"the error should name the function: {error}"
    else:
        raise AssertionError("exp([1.0, 2.0]) must raise TypeError: the function forms take Tensors")
    print("✅ function forms: tensor_sum/max/min/abs/all/any, exp, clamp, transpose, ... work")


test_unit_function_forms()

# %% [markdown]
# ## 17. Putting it together
#
# One forward pass of a linear layer on a batch, `y = x @ Wᵀ + b`, and a loss. Then we walk the
# record from the loss back to the leaves — exactly the walk module 05 makes, except that it will
# compute a gradient at every step instead of printing.

# %%
manual_seed(0)
x = randn(4, 3)                        # a batch of 4 samples with 3 features
W = randn(2, 3, requires_grad=True)    # Linear(3, 2) stores its weight as (out, in)
b = zeros(2, requires_grad=True)
y = x @ W.T + b                        # (4, 3) @ (3, 2) + (2,) -> (4, 2)
loss = (y ** 2).mean()
print(f"y has shape {y.shape}; loss = {loss:.4f}")

seen, stack_ = set(), [(loss, 0)]
while stack_:                          # depth-first walk over the recorded graph
    node_tensor, depth = stack_.pop()
    ctx = node_tensor._ctx
    if ctx is not None:
        label = f"{ctx.op}  saved={sorted(ctx.saved)}"
    else:
        label = "leaf (requires grad)" if node_tensor.requires_grad else "constant"
    print("    " * depth + f"{tuple(node_tensor.shape)}  {label}")
    if ctx and id(node_tensor) not in seen:
        seen.add(id(node_tensor))
        stack_.extend((parent, depth + 1) for parent in reversed(ctx.inputs))

# %% [markdown]
# ## 18. Systems analysis: measure it on your machine
#
# The numbers below are measured live, on your computer, each time you run this module. They answer
# four questions a framework engineer asks constantly: does this operation copy? What does
# broadcasting cost in memory? How fast is matrix multiplication, and how does it scale? Why does
# memory layout matter? Times are the best of several runs (the least disturbed by other programs).

# %%
#| analysis
import time


def best_time(fn, repeat: int = 5, number: int = 1) -> float:
    """The best (least disturbed) time of `number` calls to fn, in seconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


manual_seed(0)
big = randn(1024, 1024)
print(f"Views vs copies on a {big.shape} float32 tensor ({big.nbytes / 2**20:.0f} MiB)\n")
print(f"{'operation':<28}{'shares memory?':<16}{'time':>10}")
for name, make in [("x.reshape(-1)", lambda: big.reshape(-1)),
                   ("x.T", lambda: big.T),
                   ("x[::2, 1:]", lambda: big[::2, 1:]),
                   ("x[None].expand(8, -1, -1)", lambda: big[None].expand(8, -1, -1)),
                   ("x.T.reshape(-1)", lambda: big.T.reshape(-1)),
                   ("x[[0, 5, 9]]", lambda: big[[0, 5, 9]]),
                   ("tensor(x) (explicit copy)", lambda: tensor(big))]:
    shared = np.shares_memory(make().data, big.data)
    seconds = best_time(make, repeat=5)
    print(f"{name:<28}{'yes (view)' if shared else 'no (copy)':<16}{seconds * 1e6:>8.1f} µs")

# %% [markdown]
# A view takes a few microseconds whatever the size: it only builds a new shape and strides. A full
# copy of 4 MiB takes hundreds of microseconds or more: it reads and writes every byte. Note that
# `x.T.reshape(-1)` silently copied — that is what `view` would have refused to do.

# %%
#| analysis
column = randn(2048, 1)
expanded = column.expand(2048, 2048)
materialised = expanded.contiguous()
matrix = randn(2048, 2048)
print(f"column (2048, 1):            {column.nbytes / 2**10:8.0f} KiB in memory")
print(f"column.expand(2048, 2048):   {column.nbytes / 2**10:8.0f} KiB in memory (strides {expanded.stride()}),"
      f" {expanded.numel() * 4 / 2**20:.0f} MiB if materialised")
print(f"materialised copy:           {materialised.nbytes / 2**20:8.0f} MiB (strides {materialised.stride()})")
t_expand = best_time(lambda: column.expand(2048, 2048))
t_copy = best_time(lambda: column.expand(2048, 2048).contiguous())
t_broadcast_add = best_time(lambda: matrix + column)
t_materialised_add = best_time(lambda: matrix + column.expand(2048, 2048).contiguous())
print(f"\nexpand: {t_expand * 1e6:.1f} µs    materialise: {t_copy * 1e3:.2f} ms "
      f"({t_copy / t_expand:.0f}x slower)")
print(f"matrix + column (broadcast):          {t_broadcast_add * 1e3:.2f} ms, no extra memory")
print(f"materialise, then matrix + copy:      {t_materialised_add * 1e3:.2f} ms, 16 MiB extra")

# %% [markdown]
# Broadcasting is free in memory: the stretched dimension has stride 0, so 8 KiB stand in for
# 16 MiB. The addition itself costs about the same either way — its time goes mostly into writing
# the 16 MiB result — but materialising first adds a full copy and 16 MiB of memory that buy
# nothing. Never materialise a broadcast yourself unless you must write into it; let the operation
# broadcast.

# %%
#| analysis
def naive_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Three Python loops: the definition of matmul, and a lesson in what loops cost."""
    m, n = a.shape
    p = b.shape[1]
    out = np.zeros((m, p), dtype=a.dtype)
    for i in range(m):
        for j in range(p):
            total = 0.0
            for k in range(n):
                total += a[i, k] * b[k, j]
            out[i, j] = total
    return out


small = randn(32, 32)
t_naive = best_time(lambda: naive_matmul(small.data, small.data), repeat=1)
assert np.allclose(naive_matmul(small.data, small.data), (small @ small).data, atol=1e-4)
print(f"Python loops, n=32: {t_naive * 1e3:8.2f} ms  = {2 * 32**3 / t_naive / 1e9:8.4f} GFLOP/s\n")

print(f"{'n':>6}{'FLOPs (2n³)':>14}{'time':>12}{'GFLOP/s':>10}{'time vs n/2':>13}")
previous = None
for n in (64, 128, 256, 512, 1024):
    a_n, b_n = randn(n, n), randn(n, n)
    a_n @ b_n                                   # warm-up: the first call starts BLAS's threads
    calls = max(1, 2 ** 24 // n ** 3)           # repeat small products so each timing is long enough
    seconds = best_time(lambda: a_n @ b_n, repeat=5 if n <= 256 else 3, number=calls)
    flops = 2 * n ** 3
    ratio = f"{seconds / previous:.1f}x" if previous else ""
    print(f"{n:>6}{flops:>14.2e}{seconds * 1e3:>10.3f} ms{flops / seconds / 1e9:>10.1f}{ratio:>13}")
    previous = seconds

# %% [markdown]
# Doubling `n` multiplies the work by 8 (2n³), so the time should grow about 8× per row once the
# matrices are big enough; small products grow less because fixed overheads (Python, the call into
# NumPy, starting threads) dominate and the CPU's vector units are not kept busy. NumPy's matmul
# calls an optimised BLAS library: compare its GFLOP/s with the Python loops above — several
# orders of magnitude, for the same arithmetic. This is why TinyTorch vectorises everything.
#
# Timings are only as quiet as your machine. BLAS splits larger products across your CPU cores; if
# another program is busy on one of them, a row can come out far too slow (say, a few milliseconds
# for n=128, the length of one scheduler time slice) because one thread waits for the other. If a
# row looks wildly off, close other programs and run the cell again.

# %%
#| analysis
grid = randn(2048, 2048)
rows = lambda: [grid.data[i, :].sum() for i in range(0, 2048, 4)]       # contiguous: 8 KiB in a row
cols = lambda: [grid.data[:, j].sum() for j in range(0, 2048, 4)]       # strided: one float per 8 KiB
t_rows, t_cols = best_time(rows, repeat=3), best_time(cols, repeat=3)
print(f"sum 512 rows    (contiguous, stride 1):     {t_rows * 1e3:7.2f} ms")
print(f"sum 512 columns (strided, stride 2048):     {t_cols * 1e3:7.2f} ms   ({t_cols / t_rows:.1f}x slower)")
t_copy_c = best_time(lambda: tensor(grid), repeat=3)
t_copy_t = best_time(lambda: grid.T.contiguous(), repeat=3)
print(f"copy x               (reads in order):      {t_copy_c * 1e3:7.2f} ms")
print(f"x.T.contiguous()     (reads with stride):   {t_copy_t * 1e3:7.2f} ms   ({t_copy_t / t_copy_c:.1f}x slower)")
t_sum_c = best_time(lambda: grid.sum(dim=1), repeat=3)
t_sum_t = best_time(lambda: grid.T.sum(dim=1), repeat=3)
print(f"x.sum(dim=1)   (along contiguous rows):     {t_sum_c * 1e3:7.2f} ms")
print(f"x.T.sum(dim=1) (same work, transposed):     {t_sum_t * 1e3:7.2f} ms   ({t_sum_t / t_sum_c:.1f}x)")

# %% [markdown]
# Memory arrives in the CPU in cache lines of 64 bytes (16 float32s). Walking a row uses all 16
# numbers of every line it loads; walking a column uses one number per line and throws 15 away, so
# the same arithmetic needs up to 16× more memory traffic. Copying a transposed tensor has the same
# problem on its reading side.
#
# The last pair is different: when NumPy reduces a whole array it chooses the loop order itself. For
# `x.T.sum(dim=1)` (which is `x.sum(dim=0)`) it adds entire rows of `x` into one accumulator row,
# streaming through memory in order — so it is not slower, and often faster than summing each row
# on its own. Layout hurts when the loop order is fixed by the code: the per-column loop and the
# transposed copy above. That is why frameworks care about `contiguous()`, and why later modules
# arrange convolution data so the innermost loop runs along contiguous memory.

# %% [markdown]
# ## 19. Reflection questions
#
# Answer each in a few sentences in the cell below it. There are no hidden tests for these; they
# are graded by hand.
#
# **Question 1 (dtypes).** `Tensor([1, 2, 3])` is int64 but `Tensor([1., 2., 3.])` is float32, and
# `int64 + float32` gives float32 here, while NumPy alone gives float64. Why does a deep-learning
# framework prefer float32, and what would go wrong in a training run if a single float64 tensor
# (say, a dataset loaded with NumPy's defaults) silently promoted every result to float64?

# %% [markdown]
# **Your answer:**
#
# *(write here)*

# %% [markdown]
# **Question 2 (broadcasting).** A batch of images has shape `(64, 3, 32, 32)`; `mean` has shape
# `(3, 1, 1)`. What is the shape of `images - mean`, which dimensions are stretched, and how much
# extra memory does the stretching take? Now suppose `predictions` has shape `(64, 1)` and `targets`
# shape `(64,)`: what shape is `predictions - targets`, and why is this a bug no error will catch?

# %% [markdown]
# **Your answer:**
#
# *(write here)*

# %% [markdown]
# **Question 3 (recording).** `from_op` records a Node only when an input requires grad and grad mode
# is on. Suppose it always recorded. What would happen to memory while evaluating a trained model on
# 10,000 test images, batch after batch? Why does a Node store its inputs but never its own output?

# %% [markdown]
# **Your answer:**
#
# *(write here)*

# %% [markdown]
# **Question 4 (views).** `x.T.reshape(-1)` works but `x.T.view(-1)` raises. Using the words shape,
# strides and contiguous, explain why, and what `reshape` does that `view` refuses to do. When would
# you *want* the error?

# %% [markdown]
# **Your answer:**
#
# *(write here)*

# %% [markdown]
# **Question 5 (matmul scaling).** Look at your measured table. By what factor did the time grow from
# n=512 to n=1024, and how does that compare with the FLOP count? Why is the GFLOP/s at n=64 lower
# than at n=1024? From the Python-loop measurement, estimate how long a 1024 × 1024 product would take
# with three nested loops.

# %% [markdown]
# **Your answer:**
#
# *(write here)*

# %% [markdown]
# **Question 6 (memory layout).** Your column sums were slower than your row sums, although they add
# exactly the same number of values. Explain the difference with cache lines. If a later module
# stores a batch of images as `(batch, height, width, channels)` but its inner loop runs over
# channels, is that a good layout? What about `(batch, channels, height, width)`?

# %% [markdown]
# **Your answer:**
#
# *(write here)*

# %% [markdown]
# ## Summary
#
# You built the `Tensor`: one NumPy array plus PyTorch's rules for dtypes, broadcasting, arithmetic,
# matrix products, reductions, elementwise math, shapes and indexing — with errors that say what
# went wrong — and a record of how every result was made. On top of it sit the tools a transformer
# and everyday PyTorch code use (masks, pieces, casts, devices, sorting, sampling, function forms)
# and in-place operations guarded by PyTorch's leaf rule and version counters. You measured why views and broadcasting
# are free, why vectorised matmul is thousands of times faster than loops, and why memory layout
# matters.
#
# Next: module 02 builds activation functions (ReLU, sigmoid, softmax, …) on this Tensor, and
# module 05 turns the records you made here into gradients. Run `tito module complete 01` to check
# the whole module and record it as done.
