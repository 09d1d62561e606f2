# Generated from modules/01_tensor/tensor.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

# PyTorch-style dtype names, so `tt.float32` reads like `torch.float32`.
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8, bool_ = np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_
DEFAULT_FLOAT = np.float32


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


def _broadcast_for(op: str, *shapes) -> tuple:
    """broadcast_shapes with the op's name in front of the error."""
    try:
        return broadcast_shapes(*shapes)
    except ValueError as error:
        raise ValueError(f"{op}: {error}") from None


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
        return Tensor.from_op(a + b, "add", (self, other))

    def __sub__(self, other) -> "Tensor":
        """a - b elementwise, with broadcasting. Shapes: a, b -> broadcast_shapes(a, b)."""
        other, a, b = self._operands(other, "sub")
        if a.dtype == np.bool_:
            raise TypeError("sub: subtracting two bool tensors is not supported (as in PyTorch); "
                            "convert them first, e.g. a.long() - b.long()")
        # Hint: like __add__, with op name "sub" (inputs in order: self, other).
        return Tensor.from_op(a - b, "sub", (self, other))

    def __mul__(self, other) -> "Tensor":
        """a * b elementwise (not the matrix product, that is @), with broadcasting."""
        other, a, b = self._operands(other, "mul")
        # Hint: like __add__, with op name "mul".
        return Tensor.from_op(a * b, "mul", (self, other))

    def __truediv__(self, other) -> "Tensor":
        """a / b elementwise, with broadcasting; true division, so int / int gives float32.

        x / 0 gives inf (or nan for 0 / 0) without a warning, as in PyTorch.
        """
        other, a, b = self._operands(other, "div")
        if a.dtype.kind != "f":
            a, b = a.astype(DEFAULT_FLOAT), b.astype(DEFAULT_FLOAT)
        # Hint: like __add__, with op name "div".
        with np.errstate(divide="ignore", invalid="ignore"):
            return Tensor.from_op(a / b, "div", (self, other))

    def __neg__(self) -> "Tensor":
        """-a elementwise. Shape: unchanged."""
        if self.dtype == np.bool_:
            raise TypeError("neg: negating a bool tensor with - is not supported (as in PyTorch); "
                            "for logical not write x == False, or convert first with x.long()")
        # Hint: one input, so record (self,) — note the comma that makes it a tuple. Op name "neg".
        return Tensor.from_op(-self.data, "neg", (self,))

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
            out = a ** b
            return Tensor.from_op(out, "pow", (self, exponent), out=out)

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
        return Tensor.from_op(matmul_arrays(self.data, other.data), "matmul", (self, other))

    def __rmatmul__(self, other) -> "Tensor":
        return self._coerce(other, "matmul").__matmul__(self)

    def matmul(self, other) -> "Tensor":
        return self @ other


_extend(Tensor, _MatMul)


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
            out = np.exp(x)
            return Tensor.from_op(out, "exp", (self,), out=out)

    def log(self) -> "Tensor":
        """Natural logarithm elementwise: log 0 = -inf, log of a negative = nan (as in PyTorch)."""
        x = self._float_data()
        # Hint: np.log on `x`; op "log", nothing saved (backward uses the input: d(log x)/dx = 1/x).
        with np.errstate(divide="ignore", invalid="ignore"):
            return Tensor.from_op(np.log(x), "log", (self,))

    def sqrt(self) -> "Tensor":
        """Square root elementwise; sqrt of a negative = nan. Saves its output."""
        x = self._float_data()
        # Hint: np.sqrt on `x`; op "sqrt", saved out=<result> (d(sqrt x)/dx = 1 / (2 sqrt x)).
        with np.errstate(invalid="ignore"):
            out = np.sqrt(x)
            return Tensor.from_op(out, "sqrt", (self,), out=out)

    def abs(self) -> "Tensor":
        """|x| elementwise; keeps the dtype (integers stay integers)."""
        # Hint: np.abs on self.data; op "abs", nothing saved.
        return Tensor.from_op(np.abs(self.data), "abs", (self,))

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
        out = x
        if low is not None:
            out = np.maximum(out, low)
        if high is not None:
            out = np.minimum(out, high)
        return Tensor.from_op(out, "clamp", (self,), min=low, max=high)

    clip = clamp


_extend(Tensor, _ElementwiseMath)


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
        out = self.data.sum(axis=axes, keepdims=keepdim, dtype=dtype)
        return Tensor.from_op(out, "sum", (self,), dim=axes, keepdim=keepdim)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None) -> "Tensor":
        """Mean over `dim` (same shapes as sum); floating-point tensors only, as in PyTorch."""
        axes = self._reduce_axes(dim, axis, "mean")
        if self.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating-point tensor, got {self.dtype}; convert with .float()")
        # Hint: like sum (NumPy's .mean takes the same axis= and keepdims=); op "mean",
        #       saved dim=axes and keepdim=keepdim.
        out = self.data.mean(axis=axes, keepdims=keepdim)
        return Tensor.from_op(out, "mean", (self,), dim=axes, keepdim=keepdim)

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
            out = self.data.var(axis=axes, ddof=correction, keepdims=keepdim)
            return Tensor.from_op(out, "var", (self,), dim=axes, keepdim=keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None,
            axis=None) -> "Tensor":
        """Standard deviation: the square root of var (so its gradient comes for free)."""
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis).sqrt()


_extend(Tensor, _Reductions)


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
        return Tensor.from_op(self.data.reshape(shape), "reshape", (self,))

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
        return Tensor.from_op(self.data.transpose(axes), "permute", (self,), dims=axes)

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
        return Tensor.from_op(np.broadcast_to(self.data, target), "expand", (self,))


_extend(Tensor, _Shapes)


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
        return Tensor.from_op(out, "getitem", (self,), index=index)


_extend(Tensor, _Indexing)


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
    return Tensor.from_op(np.concatenate(arrays, axis=axis), "cat", tuple(tensors), dim=axis)


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
    return Tensor.from_op(np.stack(arrays, axis=axis), "stack", tuple(tensors), dim=axis)


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
    out = np.where(keep, fill.data.astype(input.dtype), input.data)
    return Tensor.from_op(out, "masked_fill", (input, fill), mask=keep)


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
    return Tensor.from_op(np.where(keep, a, b), "where", (input, other), condition=keep)


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
    return Tensor.from_op(np.tril(input.data, diagonal), "tril", (input,), diagonal=int(diagonal))


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
    return Tensor.from_op(data, "cast", (input,))


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
    if tensor.requires_grad and tensor._ctx is None:
        raise _leaf_error(where)
    if tensor._is_view:
        raise RuntimeError(f"{where}: in-place on a view of a tensor that is part of the graph (a slice, "
                           "transpose or reshape of it) is not supported by TinyTorch's autograd; use the "
                           "out-of-place form (y = y + 1), or do it under no_grad()")
    return True


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
