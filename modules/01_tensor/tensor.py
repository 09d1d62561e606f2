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
# (Narrative to come: objectives, the idea, the systems angle.)

# %%
#| default_exp core.tensor

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


class GradMode:
    """Whether new results record how they were made (module 05 flips `enabled`)."""

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

    __slots__ = ("op", "inputs", "saved")

    def __init__(self, op, inputs: tuple, saved: dict) -> None:
        self.op = op
        self.inputs = inputs
        self.saved = saved

    def __repr__(self) -> str:
        name = self.op if isinstance(self.op, str) else getattr(self.op, "__name__", repr(self.op))
        return f"Node(op={name!r}, inputs={len(self.inputs)})"


_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator behind rand/randn/init/dropout, for reproducible runs."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator that random functions use unless one is passed explicitly."""
    return _generator


MinMax = namedtuple("MinMax", ["values", "indices"])


# %%
#| export
def _resolve_dtype(dtype, where: str):
    """A NumPy dtype from np.float32 / 'float32' / np.dtype, or a clear error naming `where`."""
    if dtype is None:
        return None
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: dtype must be a NumPy dtype such as float32 or int64, got {dtype!r}") from None
    if resolved.kind not in "fiub":
        raise TypeError(f"{where}: dtype must be a float, int, uint or bool type, got {resolved}")
    return resolved


def _to_array(data, dtype, where: str) -> np.ndarray:
    """Turn `data` into an ndarray with PyTorch's default dtypes (float32 for Python floats)."""
    if isinstance(data, Tensor):
        array = data.data
    elif isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, (numbers.Number, list, tuple, np.generic)):
        try:
            array = np.array(data)
        except ValueError as error:
            raise ValueError(f"{where}: data must be rectangular (every row the same length): {error}") from None
        if array.dtype == np.float64 and not isinstance(data, np.generic):
            array = array.astype(DEFAULT_FLOAT)  # Python floats become float32, like torch.tensor
        elif array.dtype.kind == "i" and not isinstance(data, np.generic):
            array = array.astype(np.int64)
    else:
        raise TypeError(f"{where}: data must be a number, a (nested) list, an ndarray or a Tensor, "
                        f"got {type(data).__name__}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{where}: data must hold numbers, got an array of dtype {array.dtype}")
    if dtype is not None and array.dtype != dtype:
        array = array.astype(dtype)
    return array


# %%
#| export
def _scalar_dtype(tensor_dtype: np.dtype, scalar) -> np.dtype:
    """The dtype a Python scalar takes next to a tensor: the tensor's, unless a float meets ints."""
    if tensor_dtype.kind == "f":
        return tensor_dtype
    if isinstance(scalar, (float, np.floating)):
        return np.dtype(DEFAULT_FLOAT)
    if tensor_dtype.kind == "b" and not isinstance(scalar, (bool, np.bool_)):
        return np.dtype(np.int64)
    return tensor_dtype


def _normalize_dim(dim, ndim: int, where: str) -> int:
    """A non-negative axis from a possibly negative `dim`, or a clear IndexError."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{where}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{where}: dim {dim} is out of range for a tensor with {ndim} dimension(s) "
                         f"(expected -{max(ndim, 1)} <= dim < {max(ndim, 1)})")
    return int(dim) % max(ndim, 1)


def _normalize_dims(dim, ndim: int, where: str):
    """None (all axes) or a sorted tuple of non-negative axes from an int or a sequence of ints."""
    if dim is None:
        return None
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(sorted({_normalize_dim(d, ndim, where) for d in dims}))
    if len(axes) != len(dims):
        raise ValueError(f"{where}: dim {dim!r} names the same dimension twice")
    return axes


# %% [markdown]
# ## The Tensor class

# %%
#| export
class Tensor:
    """An n-dimensional array of numbers that remembers how it was made.

    `data` is the NumPy array that holds the numbers (float32 unless you ask otherwise).
    `requires_grad=True` marks a tensor whose gradient backward() should compute into `.grad`.
    """

    __array_ufunc__ = None  # make `ndarray + Tensor` call Tensor.__radd__ instead of NumPy's loop

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        """Wrap `data` (number, nested list, ndarray or Tensor). An ndarray is shared, not copied."""
        self.data = _to_array(data, _resolve_dtype(dtype, "Tensor"), "Tensor")
        self.grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def from_op(data, op, inputs: tuple, **saved) -> "Tensor":
        """The result of `op` on `inputs`, recording a Node when the graph is being built.

        `data` is the computed value; `saved` holds what the op's backward rule needs.
        """
        out = Tensor.__new__(Tensor)
        out.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        out.grad = None
        out._ctx = None
        out.requires_grad = False
        if grad_mode.enabled and any(t.requires_grad for t in inputs):
            out.requires_grad = True
            out._ctx = Node(op, tuple(inputs), saved)
        return out

    # ----- autograd hooks (the engine is module 05) -------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Start (or stop) tracking operations on this leaf tensor. Returns self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require gradients, "
                            f"this one is {self.data.dtype}")
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

    def backward(self, gradient=None) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad, into `leaf.grad`."""
        try:
            from tinytorch.core import autograd
        except ImportError as error:
            raise RuntimeError("backward() needs the autograd engine from modules/05_autograd: "
                               "complete and export module 05 first") from error
        autograd.backward(self, gradient)

    def detach(self) -> "Tensor":
        """The same numbers (shared memory), cut off from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # ----- what a tensor is -------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def size(self, dim=None):
        """The shape (PyTorch's `size()`), or the length of dimension `dim`."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_normalize_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        """How many elements the tensor holds."""
        return self.data.size

    @property
    def nbytes(self) -> int:
        """Bytes of memory the elements take (numel × itemsize)."""
        return self.data.nbytes

    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, like torch's .numpy())."""
        return self.data

    def item(self):
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor can become a Python number, "
                             f"this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
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

    def any(self) -> "Tensor":
        return Tensor(np.asarray(self.data.any()))

    def all(self) -> "Tensor":
        return Tensor(np.asarray(self.data.all()))

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
        """`other` as a Tensor: scalars take this tensor's dtype (floats promote ints to float32)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (numbers.Real, np.generic)):
            return Tensor(np.asarray(other, dtype=_scalar_dtype(self.dtype, other)))
        if isinstance(other, np.ndarray):
            return Tensor(other)
        raise TypeError(f"{op}: cannot combine a Tensor with a {type(other).__name__}")

    def _check_broadcast(self, other: "Tensor", op: str) -> None:
        if self.data.shape != other.data.shape:
            try:
                np.broadcast_shapes(self.data.shape, other.data.shape)
            except ValueError:
                raise ValueError(f"{op}: shapes {self.shape} and {other.shape} cannot be broadcast "
                                 "(aligned from the right, each pair of sizes must be equal or 1)") from None

    # ----- arithmetic ---------------------------------------------------------------------------
    def __add__(self, other) -> "Tensor":
        """a + b elementwise, with broadcasting. Shapes: a, b -> broadcast(a, b)."""
        other = self._coerce(other, "add")
        self._check_broadcast(other, "add")
        # Hint: compute on the arrays (`self.data`, `other.data`), then wrap and record:
        #       Tensor.from_op(result_array, "add", (self, other))
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data + other.data, "add", (self, other))
        ### END SOLUTION

    def __sub__(self, other) -> "Tensor":
        """a - b elementwise, with broadcasting."""
        other = self._coerce(other, "sub")
        self._check_broadcast(other, "sub")
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data - other.data, "sub", (self, other))
        ### END SOLUTION

    def __mul__(self, other) -> "Tensor":
        """a * b elementwise (not matrix product), with broadcasting."""
        other = self._coerce(other, "mul")
        self._check_broadcast(other, "mul")
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data * other.data, "mul", (self, other))
        ### END SOLUTION

    def __truediv__(self, other) -> "Tensor":
        """a / b elementwise, with broadcasting; integer tensors divide to float32 (true division)."""
        other = self._coerce(other, "div")
        self._check_broadcast(other, "div")
        a, b = self, other
        if a.dtype.kind != "f" and b.dtype.kind != "f":
            a, b = Tensor(a.data.astype(DEFAULT_FLOAT)), Tensor(b.data.astype(DEFAULT_FLOAT))
        ### BEGIN SOLUTION
        return Tensor.from_op(a.data / b.data, "div", (a, b))
        ### END SOLUTION

    def __neg__(self) -> "Tensor":
        """-a elementwise."""
        ### BEGIN SOLUTION
        return Tensor.from_op(-self.data, "neg", (self,))
        ### END SOLUTION

    def __pow__(self, exponent) -> "Tensor":
        """a ** b elementwise; b is usually a number (x ** 2), but may be a tensor."""
        exponent = self._coerce(exponent, "pow")
        self._check_broadcast(exponent, "pow")
        # Hint: backward needs the result too, so save it: from_op(out, "pow", (self, exponent), out=out)
        ### BEGIN SOLUTION
        out = self.data ** exponent.data
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

    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def neg(self):
        return -self

    def pow(self, exponent):
        return self ** exponent

    # ----- comparisons (no gradient: the result is boolean) -----------------------------------
    def _compare(self, other, numpy_op, name: str) -> "Tensor":
        other = self._coerce(other, name)
        self._check_broadcast(other, name)
        return Tensor(numpy_op(self.data, other.data))

    def __eq__(self, other) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.equal, "eq")

    def __ne__(self, other) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.not_equal, "ne")

    def __lt__(self, other) -> "Tensor":
        return self._compare(other, np.less, "lt")

    def __le__(self, other) -> "Tensor":
        return self._compare(other, np.less_equal, "le")

    def __gt__(self, other) -> "Tensor":
        return self._compare(other, np.greater, "gt")

    def __ge__(self, other) -> "Tensor":
        return self._compare(other, np.greater_equal, "ge")

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # ----- matrix multiplication ----------------------------------------------------------------
    def __matmul__(self, other) -> "Tensor":
        """Matrix product with NumPy/PyTorch rules.

        (n,)@(n,) -> ()   (m,n)@(n,) -> (m,)   (m,n)@(n,p) -> (m,p)
        (..., m, n) @ (..., n, p) -> (..., m, p), batch dimensions broadcast.
        """
        other = self._coerce(other, "matmul")
        a, b = self.shape, other.shape
        if len(a) == 0 or len(b) == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a} and {b}")
        inner_a, inner_b = a[-1], b[-2] if len(b) > 1 else b[0]
        if inner_a != inner_b:
            raise ValueError(f"matmul: shapes {a} and {b} do not fit: the last dimension of the first "
                             f"({inner_a}) must equal the {'second-to-last' if len(b) > 1 else 'only'} "
                             f"dimension of the second ({inner_b})")
        try:
            np.broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dimensions of {a} and {b} cannot be broadcast") from None
        ### BEGIN SOLUTION
        return Tensor.from_op(np.matmul(self.data, other.data), "matmul", (self, other))
        ### END SOLUTION

    def __rmatmul__(self, other) -> "Tensor":
        return self._coerce(other, "matmul").__matmul__(self)

    def matmul(self, other) -> "Tensor":
        return self @ other

    # ----- reductions ---------------------------------------------------------------------------
    def _reduce_axes(self, dim, axis, where: str):
        """Axes to reduce (None for all); `axis=` is accepted as NumPy's name for `dim=`."""
        if axis is not None:
            if dim is not None:
                raise TypeError(f"{where}: pass dim or axis, not both")
            dim = axis
        if self.ndim == 0:
            _normalize_dims(dim, 0, where)  # still reject nonsense like dim=3
            return None
        return _normalize_dims(dim, self.ndim, where)

    def sum(self, dim=None, keepdim: bool = False, *, axis=None) -> "Tensor":
        """Sum over `dim` (an int, a tuple of ints, or None for every element)."""
        axes = self._reduce_axes(dim, axis, "sum")
        ### BEGIN SOLUTION
        out = self.data.sum(axis=axes, keepdims=keepdim)
        return Tensor.from_op(out, "sum", (self,), dim=axes, keepdim=keepdim)
        ### END SOLUTION

    def mean(self, dim=None, keepdim: bool = False, *, axis=None) -> "Tensor":
        """Mean over `dim`; floating-point tensors only (as in PyTorch)."""
        axes = self._reduce_axes(dim, axis, "mean")
        if self.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating-point tensor, got {self.dtype}; convert with .float()")
        ### BEGIN SOLUTION
        out = self.data.mean(axis=axes, keepdims=keepdim)
        return Tensor.from_op(out, "mean", (self,), dim=axes, keepdim=keepdim)
        ### END SOLUTION

    def _extreme(self, name: str, dim, keepdim: bool):
        """Shared body of max/min: the value (dim=None) or (values, indices) along `dim`."""
        if self.numel() == 0:
            raise ValueError(f"{name}: the tensor is empty, so it has no {name}imum")
        pick = np.argmax if name == "max" else np.argmin
        if dim is None:
            out = self.data.max() if name == "max" else self.data.min()
            return Tensor.from_op(out, name, (self,), dim=None, keepdim=False, indices=None)
        axis = _normalize_dim(dim, self.ndim, name)
        if self.ndim == 0:
            return MinMax(Tensor.from_op(self.data.copy(), name, (self,), dim=None, keepdim=False,
                                         indices=None), Tensor(np.zeros((), dtype=np.int64)))
        indices = pick(self.data, axis=axis, keepdims=True)
        values = np.take_along_axis(self.data, indices, axis=axis)
        if not keepdim:
            values, shown = values.squeeze(axis), indices.squeeze(axis)
        else:
            shown = indices
        out = Tensor.from_op(values, name, (self,), dim=axis, keepdim=keepdim, indices=indices)
        return MinMax(out, Tensor(shown.astype(np.int64)))

    def max(self, dim=None, keepdim: bool = False):
        """The largest element; with `dim`, a (values, indices) pair along that dimension."""
        return self._extreme("max", dim, keepdim)

    def min(self, dim=None, keepdim: bool = False):
        """The smallest element; with `dim`, a (values, indices) pair along that dimension."""
        return self._extreme("min", dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False) -> "Tensor":
        """Index of the largest element (flattened when dim is None). int64, no gradient."""
        if dim is None:
            return Tensor(np.asarray(self.data.argmax(), dtype=np.int64))
        axis = _normalize_dim(dim, self.ndim, "argmax")
        return Tensor(np.argmax(self.data, axis=axis, keepdims=keepdim).astype(np.int64))

    def argmin(self, dim=None, keepdim: bool = False) -> "Tensor":
        """Index of the smallest element (flattened when dim is None). int64, no gradient."""
        if dim is None:
            return Tensor(np.asarray(self.data.argmin(), dtype=np.int64))
        axis = _normalize_dim(dim, self.ndim, "argmin")
        return Tensor(np.argmin(self.data, axis=axis, keepdims=keepdim).astype(np.int64))

    def var(self, dim=None, keepdim: bool = False, *, correction: int = 1, axis=None) -> "Tensor":
        """Variance over `dim`: sum((x - mean)^2) / (N - correction); correction=1 is unbiased."""
        axes = self._reduce_axes(dim, axis, "var")
        if self.dtype.kind != "f":
            raise TypeError(f"var: needs a floating-point tensor, got {self.dtype}")
        if isinstance(correction, bool) or not isinstance(correction, numbers.Integral) or correction < 0:
            raise ValueError(f"var: correction must be a non-negative int, got {correction!r}")
        ### BEGIN SOLUTION
        out = self.data.var(axis=axes, ddof=correction, keepdims=keepdim)
        return Tensor.from_op(out, "var", (self,), dim=axes, keepdim=keepdim, correction=int(correction))
        ### END SOLUTION

    def std(self, dim=None, keepdim: bool = False, *, correction: int = 1, axis=None) -> "Tensor":
        """Standard deviation: the square root of var (so its gradient comes for free)."""
        return self.var(dim, keepdim, correction=correction, axis=axis).sqrt()

    # ----- elementwise math ---------------------------------------------------------------------
    def _float_only(self, name: str) -> None:
        if self.dtype.kind != "f":
            raise TypeError(f"{name}: needs a floating-point tensor, got {self.dtype}; convert with .float()")

    def exp(self) -> "Tensor":
        """e ** x elementwise."""
        self._float_only("exp")
        ### BEGIN SOLUTION
        out = np.exp(self.data)
        return Tensor.from_op(out, "exp", (self,), out=out)
        ### END SOLUTION

    def log(self) -> "Tensor":
        """Natural logarithm elementwise (log 0 = -inf, log of a negative = nan, as in PyTorch)."""
        self._float_only("log")
        ### BEGIN SOLUTION
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(self.data)
        return Tensor.from_op(out, "log", (self,))
        ### END SOLUTION

    def sqrt(self) -> "Tensor":
        """Square root elementwise."""
        self._float_only("sqrt")
        ### BEGIN SOLUTION
        with np.errstate(invalid="ignore"):
            out = np.sqrt(self.data)
        return Tensor.from_op(out, "sqrt", (self,), out=out)
        ### END SOLUTION

    def abs(self) -> "Tensor":
        """|x| elementwise."""
        ### BEGIN SOLUTION
        return Tensor.from_op(np.abs(self.data), "abs", (self,))
        ### END SOLUTION

    def __abs__(self) -> "Tensor":
        return self.abs()

    def clamp(self, min=None, max=None) -> "Tensor":
        """Limit every element to [min, max] (either bound may be None)."""
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and not isinstance(bound, numbers.Real):
                raise TypeError(f"clamp: {name} must be a number or None, got {type(bound).__name__}")
        ### BEGIN SOLUTION
        out = self.data
        if min is not None:
            out = np.maximum(out, np.asarray(min, dtype=_scalar_dtype(self.dtype, min)))
        if max is not None:
            out = np.minimum(out, np.asarray(max, dtype=_scalar_dtype(self.dtype, max)))
        return Tensor.from_op(out, "clamp", (self,), min=min, max=max)
        ### END SOLUTION

    clip = clamp

    def float(self) -> "Tensor":
        """A float32 copy (cut from the graph if the dtype changes)."""
        return self if self.dtype == np.float32 else Tensor(self.data.astype(np.float32))

    def double(self) -> "Tensor":
        return self if self.dtype == np.float64 else Tensor(self.data.astype(np.float64))

    def long(self) -> "Tensor":
        return self if self.dtype == np.int64 else Tensor(self.data.astype(np.int64))

    def to(self, dtype) -> "Tensor":
        resolved = _resolve_dtype(dtype, "to")
        return self if self.dtype == resolved else Tensor(self.data.astype(resolved))

    # ----- shape: views and rearrangements --------------------------------------------------------
    def reshape(self, *shape) -> "Tensor":
        """Same elements, new shape (one size may be -1: inferred). A view when memory allows."""
        shape = _parse_shape(shape, "reshape", allow_minus_one=True)
        known = int(np.prod([s for s in shape if s != -1]))
        fits = shape.count(-1) == 0 and known == self.numel() or (
            shape.count(-1) == 1 and known > 0 and self.numel() % known == 0)
        if shape.count(-1) > 1 or not fits:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {self.shape} "
                             f"({self.numel()} elements) into {tuple(shape)}")
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data.reshape(shape), "reshape", (self,))
        ### END SOLUTION

    def view(self, *shape) -> "Tensor":
        """reshape under PyTorch's other name (NumPy decides whether a copy is needed)."""
        return self.reshape(*shape)

    def contiguous(self) -> "Tensor":
        """This tensor with its elements laid out row-major in one block."""
        if self.data.flags.c_contiguous:
            return self
        return Tensor.from_op(np.ascontiguousarray(self.data), "reshape", (self,))

    def permute(self, *dims) -> "Tensor":
        """Reorder dimensions: result.shape[i] == self.shape[dims[i]]. Always a view."""
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        axes = tuple(_normalize_dim(d, self.ndim, "permute") for d in dims) if self.ndim else ()
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} must list each of the {self.ndim} dimensions once")
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data.transpose(axes), "permute", (self,), dims=axes)
        ### END SOLUTION

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        """Swap two dimensions (a view)."""
        axes = list(range(self.ndim))
        a, b = _normalize_dim(dim0, self.ndim, "transpose"), _normalize_dim(dim1, self.ndim, "transpose")
        if self.ndim < 2:
            return self.permute(*axes)
        axes[a], axes[b] = axes[b], axes[a]
        return self.permute(*axes)

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (the matrix transpose for 2-D tensors)."""
        return self.permute(*reversed(range(self.ndim)))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Merge dimensions start_dim..end_dim into one."""
        if self.ndim == 0:
            return self.reshape(1)
        start = _normalize_dim(start_dim, self.ndim, "flatten")
        end = _normalize_dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
        merged = int(np.prod(self.shape[start:end + 1]))
        return self.reshape(*(self.shape[:start] + (merged,) + self.shape[end + 1:]))

    def squeeze(self, dim=None) -> "Tensor":
        """Drop dimensions of size 1 (only `dim`, when given)."""
        if dim is None:
            shape = tuple(s for s in self.shape if s != 1)
        else:
            axis = _normalize_dim(dim, self.ndim, "squeeze")
            shape = self.shape if self.ndim == 0 or self.shape[axis] != 1 else (
                self.shape[:axis] + self.shape[axis + 1:])
        return self.reshape(*shape)

    def unsqueeze(self, dim: int) -> "Tensor":
        """Insert a dimension of size 1 at position `dim` (-ndim-1 <= dim <= ndim)."""
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"unsqueeze: dim must be an int in [{-self.ndim - 1}, {self.ndim}], got {dim!r}")
        axis = dim % (self.ndim + 1)
        return self.reshape(*(self.shape[:axis] + (1,) + self.shape[axis:]))

    def expand(self, *sizes) -> "Tensor":
        """Broadcast to a bigger shape without copying (-1 keeps a size). A read-only view."""
        sizes = _parse_shape(sizes, "expand", allow_minus_one=True)
        if len(sizes) < self.ndim:
            raise ValueError(f"expand: the new shape {sizes} has fewer dimensions than {self.shape}")
        lead = len(sizes) - self.ndim
        target = tuple(self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
        for i, size in enumerate(self.shape):
            if size != 1 and size != target[lead + i]:
                raise ValueError(f"expand: cannot expand shape {self.shape} to {sizes}: "
                                 f"dimension {lead + i} has size {size}, which is not 1")
        if -1 in target:
            raise ValueError(f"expand: -1 is only allowed for existing dimensions, got {sizes}")
        ### BEGIN SOLUTION
        return Tensor.from_op(np.broadcast_to(self.data, target), "expand", (self,))
        ### END SOLUTION

    # ----- indexing -------------------------------------------------------------------------------
    def __getitem__(self, index) -> "Tensor":
        """x[...] with NumPy's basic (slices: a view) and advanced (int/bool arrays: a copy) indexing."""
        index = _unwrap_index(index)
        try:
            out = self.data[index]
        except IndexError as error:
            raise IndexError(f"getitem: {error} (tensor shape {self.shape})") from None
        ### BEGIN SOLUTION
        return Tensor.from_op(out, "getitem", (self,), index=index)
        ### END SOLUTION


# %%
#| export
def _parse_shape(sizes: tuple, where: str, allow_minus_one: bool = False) -> tuple:
    """A shape tuple from f(2, 3) or f((2, 3)), checking each size."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    lowest = -1 if allow_minus_one else 0
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < lowest:
            raise ValueError(f"{where}: sizes must be non-negative ints{' or -1' if allow_minus_one else ''}, "
                             f"got {tuple(sizes)}")
    return tuple(int(s) for s in sizes)


def _unwrap_index(index):
    """Replace Tensors inside an index by their arrays, so NumPy can use them."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _check_same_rank(tensors, where: str):
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise ValueError(f"{where}: tensors must be a non-empty list or tuple of Tensors")
    for position, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: tensors[{position}] is a {type(t).__name__}, not a Tensor")
    return list(tensors)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; all other sizes must match."""
    tensors = _check_same_rank(tensors, "cat")
    first = tensors[0]
    axis = _normalize_dim(dim, first.ndim, "cat")
    for position, t in enumerate(tensors):
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1:] != first.shape[:axis] + first.shape[axis + 1:]:
            raise ValueError(f"cat: tensors[{position}] has shape {t.shape}, which does not match "
                             f"{first.shape} outside dimension {axis}")
    ### BEGIN SOLUTION
    out = np.concatenate([t.data for t in tensors], axis=axis)
    return Tensor.from_op(out, "cat", tuple(tensors), dim=axis)
    ### END SOLUTION


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension `dim`."""
    tensors = _check_same_rank(tensors, "stack")
    first = tensors[0]
    for position, t in enumerate(tensors):
        if t.shape != first.shape:
            raise ValueError(f"stack: tensors[{position}] has shape {t.shape}, expected {first.shape} "
                             "(stack needs equal shapes)")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -first.ndim - 1 <= dim <= first.ndim:
        raise IndexError(f"stack: dim must be an int in [{-first.ndim - 1}, {first.ndim}], got {dim!r}")
    axis = dim % (first.ndim + 1)
    ### BEGIN SOLUTION
    out = np.stack([t.data for t in tensors], axis=axis)
    return Tensor.from_op(out, "stack", tuple(tensors), dim=axis)
    ### END SOLUTION


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
    """A tensor of shape `size` where every element is `fill_value`."""
    if not isinstance(fill_value, (numbers.Real, np.generic)):
        raise TypeError(f"full: fill_value must be a number, got {type(fill_value).__name__}")
    if dtype is None and not isinstance(fill_value, (float, np.floating)):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return _filled((size,) if isinstance(size, numbers.Integral) else size, fill_value, dtype,
                   requires_grad, "full")


def zeros_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return zeros(*other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad)


def ones_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return ones(*other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform samples from [0, 1)."""
    shape = _parse_shape(size, "rand")
    rng = generator or _generator
    dtype = _resolve_dtype(dtype, "rand") or np.dtype(DEFAULT_FLOAT)
    return Tensor(rng.random(shape).astype(dtype, copy=False), requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Samples from the standard normal distribution N(0, 1)."""
    shape = _parse_shape(size, "randn")
    rng = generator or _generator
    dtype = _resolve_dtype(dtype, "randn") or np.dtype(DEFAULT_FLOAT)
    return Tensor(rng.standard_normal(shape).astype(dtype, copy=False), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end): int64 for int arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"arange: {name} must be a number, got {value!r}")
    if step == 0:
        raise ValueError("arange: step must not be zero")
    all_ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = _resolve_dtype(dtype, "arange") or np.dtype(np.int64 if all_ints else DEFAULT_FLOAT)
    return Tensor(np.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def eye(n: int, m=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m defaults to n)."""
    m = n if m is None else m
    _parse_shape((n, m), "eye")
    dtype = _resolve_dtype(dtype, "eye") or np.dtype(DEFAULT_FLOAT)
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)
