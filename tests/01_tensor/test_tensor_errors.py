"""Module 01: bad input gets a clear error at the API boundary — which op or argument, what was
expected, what came — never a NumPy traceback from deep inside."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import Tensor


def x23() -> Tensor:
    return Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))


# (description, call, exception type, regex the message must match)
ERRORS = [
    # construction
    ("ragged list", lambda: Tensor([[1, 2], [3]]), ValueError,
     r"Tensor: nested lists must be rectangular .* "
     r"data\[0\] is a list of length 2 but data\[1\] is a list of length 1"),
    ("ragged deeper", lambda: tt.tensor([[[1], [2]], [[3], [4, 5]]]), ValueError,
     r"tensor: .*data\[1\]\[0\]"),
    ("number next to list", lambda: Tensor([1, [2]]), ValueError,
     r"data\[0\] is a number but data\[1\] is a list"),
    ("string", lambda: Tensor("abc"), TypeError, r"Tensor: data must be a number.*got str"),
    ("list of strings", lambda: Tensor(["a", "b"]), TypeError, r"Tensor: data must hold real numbers.*text"),
    ("strings with dtype", lambda: Tensor(["a"], dtype=tt.float32), TypeError, r"Tensor: could not turn"),
    ("complex number", lambda: Tensor(1 + 2j), TypeError, r"Tensor: data must hold real numbers"),
    ("complex list", lambda: tt.tensor([1 + 2j]), TypeError, r"tensor: data must hold real numbers.*complex"),
    ("complex array", lambda: Tensor(np.array([1j])), TypeError, r"complex"),
    ("None", lambda: Tensor(None), TypeError, r"Tensor: data must be .*got NoneType"),
    ("dict", lambda: Tensor({"a": 1}), TypeError, r"got dict"),
    ("None inside list", lambda: Tensor([1.0, None]), TypeError, r"real numbers"),
    ("huge int", lambda: Tensor([2 ** 70]), TypeError, r"Tensor: "),
    ("misspelt dtype", lambda: Tensor([1.0], dtype="flaot32"), TypeError,
     r"Tensor: dtype must be a dtype.*flaot32"),
    ("complex dtype", lambda: Tensor([1.0], dtype=complex), TypeError,
     r"dtype must be a float, int, uint or bool"),
    ("str dtype", lambda: tt.zeros(2, dtype=str), TypeError, r"zeros: dtype"),
    ("int requires grad", lambda: Tensor([1, 2], requires_grad=True), TypeError,
     r"only floating-point tensors can require gradients.*int64"),
    ("int requires grad via tensor", lambda: tt.tensor([1, 2], requires_grad=True), TypeError,
     r"floating-point"),
    ("requires_grad not bool", lambda: Tensor([1.0], requires_grad="yes"), TypeError, r"True or False"),
    ("requires_grad_ on bool", lambda: Tensor([True]).requires_grad_(), TypeError, r"bool"),
    # creation functions
    ("float size", lambda: tt.zeros(2.5), TypeError, r"zeros: sizes must be ints"),
    ("negative size", lambda: tt.ones(2, -1), ValueError, r"ones: sizes must be non-negative"),
    ("string size", lambda: tt.zeros("3"), TypeError, r"zeros: sizes must be ints"),
    ("full fill string", lambda: tt.full((2,), "x"), TypeError, r"full: fill_value must be a real number"),
    ("full fill complex", lambda: tt.full((2,), 1j), TypeError, r"full: fill_value"),
    ("full bad size", lambda: tt.full((2, -3), 1.0), ValueError, r"full: sizes"),
    ("rand int dtype", lambda: tt.rand(2, dtype=tt.int64), TypeError,
     r"rand: random samples need a floating-point dtype"),
    ("randn generator", lambda: tt.randn(2, generator=42), TypeError, r"randn: generator must be"),
    ("arange wrong side", lambda: tt.arange(5, 0), ValueError, r"arange: end \(0\) lies on the wrong side"),
    ("arange step 0", lambda: tt.arange(0, 5, 0), ValueError, r"arange: step must not be zero"),
    ("arange string", lambda: tt.arange("5"), TypeError, r"arange: end must be a number"),
    ("eye negative", lambda: tt.eye(-1), ValueError, r"eye: sizes"),
    ("eye float", lambda: tt.eye(2.0), TypeError, r"eye: sizes must be ints"),
    ("seed negative", lambda: tt.manual_seed(-1), ValueError, r"manual_seed: seed must be non-negative"),
    ("seed float", lambda: tt.manual_seed(1.5), TypeError, r"manual_seed: seed must be an int"),
    ("zeros_like list", lambda: tt.zeros_like([1, 2]), TypeError, r"zeros_like: expected a Tensor"),
    # properties and conversions
    ("item of many", lambda: Tensor([1.0, 2.0]).item(), ValueError,
     r"item: only a one-element tensor .* shape \(2,\) \(2 elements\)"),
    ("item of none", lambda: Tensor([]).item(), ValueError, r"item: .*0 elements"),
    ("size of scalar", lambda: Tensor(1.0).size(0), IndexError, r"size: .*no dimensions"),
    ("size out of range", lambda: x23().size(2), IndexError, r"size: dim 2 is out of range .* 2 dimension"),
    ("len of scalar", lambda: len(Tensor(1.0)), TypeError, r"len\(\) of a 0-d tensor"),
    ("iterate scalar", lambda: list(Tensor(1.0)), TypeError, r"iteration over a 0-d tensor"),
    ("truth of many", lambda: bool(Tensor([1.0, 2.0])), ValueError, r"ambiguous"),
    ("to bad dtype", lambda: x23().to("gpu"), TypeError, r"to: dtype"),
    ("format many", lambda: f"{Tensor([1.0, 2.0]):.2f}", TypeError, r"format"),
    # arithmetic and comparisons
    ("add broadcast", lambda: x23() + Tensor([1.0, 2.0]), ValueError,
     r"add: shapes \(2, 3\) and \(2,\) cannot be broadcast: at dimension -1"),
    ("sub broadcast", lambda: x23() - Tensor(np.ones((3, 2))), ValueError,
     r"sub: shapes .* cannot be broadcast"),
    ("mul broadcast", lambda: x23() * Tensor(np.ones(4)), ValueError, r"mul: "),
    ("div broadcast", lambda: x23() / Tensor(np.ones(4)), ValueError, r"div: "),
    ("pow broadcast", lambda: x23() ** Tensor(np.ones(4)), ValueError, r"pow: "),
    ("radd broadcast", lambda: np.ones(4) + x23(), ValueError, r"add: "),
    ("lt broadcast", lambda: x23() < Tensor(np.ones(4)), ValueError, r"lt: "),
    ("eq broadcast", lambda: x23() == Tensor(np.ones(4)), ValueError, r"eq: "),
    ("add string", lambda: x23() + "a", TypeError, r"add: cannot combine a Tensor with a str"),
    ("add None", lambda: x23() + None, TypeError, r"add: cannot combine a Tensor with a NoneType"),
    ("mul list", lambda: x23() * [1, 2, 3], TypeError, r"mul: cannot combine a Tensor with a list"),
    ("add complex", lambda: x23() + 1j, TypeError, r"add: cannot combine a Tensor with a complex"),
    ("rsub string", lambda: "a" - x23(), TypeError, r"sub: cannot combine"),
    ("lt string", lambda: x23() < "a", TypeError, r"lt: cannot combine"),
    ("add object array", lambda: x23() + np.array([None, 1, 2]), TypeError, r"add: data must hold real numbers"),
    ("bool minus bool", lambda: Tensor([True]) - Tensor([False]), TypeError,
     r"sub: subtracting two bool tensors"),
    ("negate bool", lambda: -Tensor([True]), TypeError, r"neg: negating a bool tensor"),
    ("int negative power", lambda: Tensor([2]) ** -1, ValueError,
     r"pow: integers to negative integer powers"),
    ("scalar overflow", lambda: Tensor([1], dtype=tt.uint8) + 300, ValueError,
     r"add: the number 300 does not fit"),
    # matmul
    ("matmul inner", lambda: x23() @ x23(), ValueError,
     r"matmul: shapes \(2, 3\) and \(2, 3\) do not fit: .*\(3\) must equal the second-to-last .*\(2\)"),
    ("matmul vectors", lambda: Tensor([1.0, 2.0]) @ Tensor([1.0, 2.0, 3.0]), ValueError,
     r"matmul: .*only dimension"),
    ("matmul scalar", lambda: Tensor(2.0) @ Tensor([1.0]), ValueError,
     r"matmul: both operands need at least 1 dimension"),
    ("matmul number", lambda: x23() @ 2.0, ValueError, r"matmul: both operands need at least 1 dimension"),
    ("matmul batch", lambda: Tensor(np.ones((2, 2, 3))) @ Tensor(np.ones((3, 3, 2))), ValueError,
     r"matmul: the batch dimensions \(2,\) and \(3,\)"),
    ("matmul dtypes", lambda: x23() @ Tensor(np.ones((3, 2), dtype=np.int64)), TypeError,
     r"matmul: both operands must have the same dtype .* float32 and int64"),
    ("matmul string", lambda: x23() @ "a", TypeError, r"matmul: cannot combine"),
    # reductions
    ("sum dim range", lambda: x23().sum(dim=2), IndexError,
     r"sum: dim 2 is out of range for a tensor with 2 dimension"),
    ("sum dim float", lambda: x23().sum(dim=1.5), TypeError, r"sum: dim must be an int, got 1.5"),
    ("sum dim twice", lambda: x23().sum(dim=(0, -2)), ValueError,
     r"sum: dim .* names the same dimension twice"),
    ("sum dim and axis", lambda: x23().sum(dim=0, axis=0), TypeError, r"sum: pass dim or axis, not both"),
    ("scalar sum dim", lambda: Tensor(1.0).sum(dim=1), IndexError, r"sum: dim 1 is out of range"),
    ("mean of ints", lambda: Tensor([1, 2]).mean(), TypeError,
     r"mean: needs a floating-point tensor, got int64"),
    ("mean dim range", lambda: x23().mean(dim=-3), IndexError, r"mean: dim -3"),
    ("var of ints", lambda: Tensor([1, 2]).var(), TypeError, r"var: needs a floating-point tensor"),
    ("std of ints", lambda: Tensor([1, 2]).std(), TypeError, r"var: needs a floating-point tensor"),
    ("var correction", lambda: x23().var(correction=-1), ValueError,
     r"var: correction must be a non-negative int"),
    ("var both", lambda: x23().var(unbiased=True, correction=1), TypeError,
     r"var: pass unbiased or correction"),
    ("var unbiased type", lambda: x23().var(0, 1), TypeError, r"var: unbiased must be True or False"),
    ("max empty", lambda: Tensor([]).max(), ValueError, r"max: the tensor is empty"),
    ("min dim empty", lambda: tt.zeros(0, 3).min(dim=0), ValueError, r"min: dimension 0 has size 0"),
    ("max dim range", lambda: x23().max(dim=5), IndexError, r"max: dim 5 is out of range"),
    ("argmax empty", lambda: Tensor([]).argmax(), ValueError, r"argmax: the tensor is empty"),
    ("argmin dim range", lambda: x23().argmin(dim=-4), IndexError, r"argmin: dim -4"),
    # elementwise math
    ("clamp no bounds", lambda: x23().clamp(), ValueError, r"clamp: give at least one of min and max"),
    ("clamp string", lambda: x23().clamp(min="a"), TypeError, r"clamp: min must be a number or None"),
    ("clamp tensor", lambda: x23().clamp(max=Tensor(1.0)), TypeError, r"clamp: max must be a number"),
    # shapes
    ("reshape count", lambda: x23().reshape(5), ValueError,
     r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(5,\) \(5 elements\)"),
    ("reshape two -1", lambda: x23().reshape(-1, -1), ValueError, r"reshape: only one size can be -1"),
    ("reshape -1 fit", lambda: x23().reshape(4, -1), ValueError, r"reshape: .*6 is not a multiple of 4"),
    ("reshape float", lambda: x23().reshape(2.0, 3), TypeError, r"reshape: sizes must be ints"),
    ("reshape -2", lambda: x23().reshape(-2, 3), ValueError, r"reshape: sizes must be non-negative"),
    ("reshape empty -1 0", lambda: tt.zeros(0).reshape(-1, 0), ValueError, r"reshape: "),
    ("view of transposed", lambda: x23().T.view(6), ValueError,
     r"view: a tensor of shape \(3, 2\) with strides \(1, 3\) cannot be viewed as \(6,\).*reshape"),
    ("view count", lambda: x23().view(7), ValueError, r"reshape: cannot reshape"),
    ("permute too few", lambda: x23().permute(0), ValueError,
     r"permute: dims \(0,\) must name each of the 2 dimensions"),
    ("permute repeat", lambda: x23().permute(0, 0), ValueError, r"permute: "),
    ("permute range", lambda: x23().permute(0, 2), IndexError, r"permute: dim 2 is out of range"),
    ("transpose range", lambda: x23().transpose(0, 2), IndexError, r"transpose: dim 2 is out of range"),
    ("flatten order", lambda: x23().flatten(1, 0), ValueError,
     r"flatten: start_dim \(1\) must not come after end_dim \(0\)"),
    ("squeeze range", lambda: x23().squeeze(3), IndexError, r"squeeze: dim 3 is out of range"),
    ("unsqueeze range", lambda: x23().unsqueeze(3), IndexError,
     r"unsqueeze: dim 3 is out of range .*-3 <= dim <= 2"),
    ("unsqueeze float", lambda: x23().unsqueeze(1.0), TypeError, r"unsqueeze: dim must be an int"),
    ("expand fewer", lambda: x23().expand(3), ValueError,
     r"expand: the new shape \(3,\) has fewer dimensions"),
    ("expand non-1", lambda: x23().expand(3, 3), ValueError,
     r"expand: cannot expand shape \(2, 3\) to \(3, 3\): dimension 0 has size 2"),
    ("expand new -1", lambda: x23().expand(-1, 2, 3), ValueError, r"expand: -1 .* only allowed for existing"),
    ("expand -2", lambda: x23().expand(2, -2), ValueError, r"expand: sizes must be non-negative"),
    # indexing
    ("index range", lambda: x23()[5], IndexError,
     r"getitem: index 5 is out of bounds .*tensor shape \(2, 3\)"),
    ("too many indices", lambda: x23()[0, 0, 0], IndexError, r"getitem: too many indices"),
    ("float index", lambda: x23()[1.5], IndexError, r"getitem: only integers"),
    ("float tensor index", lambda: x23()[Tensor([0.5])], IndexError, r"getitem: arrays used as indices"),
    ("mask shape", lambda: x23()[Tensor([True, False, True])], IndexError,
     r"getitem: boolean index did not match"),
    ("string index", lambda: x23()["a"], IndexError, r"getitem: "),
    ("ragged list index", lambda: x23()[[0, [1]]], IndexError, r"getitem: "),
    # cat, stack, broadcast_shapes
    ("cat not a list", lambda: tt.cat(x23(), x23()), TypeError,
     r"cat: expected a list or tuple of Tensors, got a Tensor"),
    ("cat empty", lambda: tt.cat([]), ValueError, r"cat: expected a non-empty list"),
    ("cat list item", lambda: tt.cat([x23(), [1.0]]), TypeError,
     r"cat: tensors\[1\] is a list, not a Tensor"),
    ("cat shapes", lambda: tt.cat([x23(), tt.zeros(3, 2)]), ValueError,
     r"cat: tensors\[1\] has shape \(3, 2\), which does not match tensors\[0\]'s shape \(2, 3\) outside dimension 0"),
    ("cat ranks", lambda: tt.cat([x23(), tt.zeros(3)]), ValueError, r"cat: tensors\[1\] has shape \(3,\)"),
    ("cat scalars", lambda: tt.cat([Tensor(1.0), Tensor(2.0)]), ValueError,
     r"cat: tensors\[0\] is 0-dimensional"),
    ("cat dim", lambda: tt.cat([x23(), x23()], dim=2), IndexError, r"cat: dim 2 is out of range"),
    ("stack shapes", lambda: tt.stack([x23(), tt.zeros(3, 2)]), ValueError,
     r"stack: tensors\[1\] has shape \(3, 2\), but tensors\[0\] has \(2, 3\)"),
    ("stack dim", lambda: tt.stack([x23(), x23()], dim=4), IndexError,
     r"stack: dim 4 is out of range .*-3 <= dim <= 2"),
    ("stack dim type", lambda: tt.stack([x23()], dim="0"), TypeError, r"stack: dim must be an int"),
    ("stack generator", lambda: tt.stack(t for t in [x23()]), TypeError, r"stack: expected a list or tuple"),
    ("broadcast_shapes", lambda: tt.broadcast_shapes((2, 3), (3, 2)), ValueError,
     r"shapes \(2, 3\) and \(3, 2\) cannot be broadcast: at dimension -1"),
    ("broadcast_shapes negative", lambda: tt.broadcast_shapes((2, -1)), ValueError,
     r"broadcast_shapes: sizes"),
    ("broadcast_shapes str", lambda: tt.broadcast_shapes("ab"), TypeError,
     r"broadcast_shapes: sizes must be ints"),
]


@pytest.mark.parametrize("call, error, pattern", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_gets_a_clear_error(call, error, pattern):
    with pytest.raises(error, match=pattern) as raised:
        call()
    assert raised.type is error, f"expected exactly {error.__name__}, got {raised.type.__name__}"
    # the error is raised by TinyTorch itself: no NumPy exception chained underneath it
    assert raised.value.__cause__ is None and raised.value.__suppress_context__ or raised.value.__context__ is None


def test_error_ids_are_unique():
    names = [e[0] for e in ERRORS]
    assert len(names) == len(set(names))
