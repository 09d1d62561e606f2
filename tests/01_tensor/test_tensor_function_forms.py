"""The function forms (torch.sum(x, 1), torch.max(x, 1), torch.softmax(x, dim=1), ...) against PyTorch.

package_fixtures.npz holds PyTorch's result of each expression, written by scripts/make_tensor_fixtures.py
with `torch` being PyTorch; here `torch` is the tinytorch package, so the same text must give the same
values, dtype and shape. Module 02's softmax is among them, so this file needs modules 01 and 02.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinytorch
from tinytorch.core.tensor import Tensor

FIXTURES = Path(__file__).with_name("package_fixtures.npz")
INPUTS_FROM = Path(__file__).with_name("tensor_fixtures.npz")

with np.load(FIXTURES, allow_pickle=False) as stored:
    EXPRESSIONS = [str(e) for e in stored["expressions"]]
    DTYPES = [str(d) for d in stored["dtypes"]]
    SHAPES = [str(s) for s in stored["shapes"]]
    VALUES = [stored[f"case_{number}"] for number in range(len(EXPRESSIONS))]
with np.load(INPUTS_FROM, allow_pickle=False) as stored:
    INPUTS = {key.removeprefix("input_"): stored[key] for key in stored.files if key.startswith("input_")}


def _softmax_ready() -> bool:
    """Module 02 (softmax) is implemented; a learner on module 01 may not have it yet."""
    try:
        tinytorch.softmax(Tensor(np.zeros((1, 2), dtype=np.float32)), dim=1)
    except NotImplementedError:
        return False
    return True


@pytest.mark.parametrize("number", range(len(EXPRESSIONS)), ids=EXPRESSIONS)
def test_function_form_matches_pytorch(number):
    expression = EXPRESSIONS[number]
    if "softmax" in expression and not _softmax_ready():
        pytest.skip("softmax is module 02's, not implemented yet")
    namespace = {"torch": tinytorch, **{name: Tensor(array.copy()) for name, array in INPUTS.items()}}
    result = eval(expression, namespace)  # noqa: S307 - fixed expressions from our own fixture
    assert isinstance(result, Tensor), f"{expression}: expected a Tensor, got {type(result).__name__}"
    assert repr(tuple(result.shape)) == SHAPES[number], f"{expression}: PyTorch gives shape {SHAPES[number]}"
    assert result.dtype.name == DTYPES[number], (
        f"{expression}: PyTorch gives dtype {DTYPES[number]}, got {result.dtype}")
    want = VALUES[number]
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(result.data, want, err_msg=expression)
    else:
        np.testing.assert_allclose(result.data, want, rtol=2e-5, atol=1e-6, equal_nan=True, err_msg=expression)


def test_max_and_min_return_named_pairs_like_pytorch():
    x = Tensor(np.array([[1.0, 5.0], [3.0, 2.0]], dtype=np.float32))
    pair = tinytorch.max(x, 1)
    assert pair._fields == ("values", "indices") and pair.indices.dtype == np.int64
    values, indices = tinytorch.min(x, dim=0)
    assert values.tolist() == [1.0, 2.0] and indices.tolist() == [0, 1]


def test_builtin_names_are_not_shadowed_inside_the_package():
    """tinytorch.sum is the tensor function; Python's sum still works inside module 01's own code."""
    import tinytorch.core.tensor as core

    assert tinytorch.sum is core.tensor_sum and not hasattr(core, "sum")
    assert core.broadcast_shapes((2, 1), (1, 3)) == (2, 3)  # uses the builtins max/min internally


def test_allclose_and_equal_answer_with_python_bools():
    a = Tensor(np.array([1.0, 2.0]))
    assert tinytorch.allclose(a, a + 1e-9) is True and tinytorch.allclose(a, a + 1e-3) is False
    assert tinytorch.allclose(Tensor(np.array([np.nan])), Tensor(np.array([np.nan])), equal_nan=True)
    assert tinytorch.equal(a, a.clone()) is True and tinytorch.equal(a, a[:1]) is False
    assert tinytorch.allclose(a, Tensor(np.array(1.0)), atol=1.5), "shapes broadcast, as in PyTorch"


def test_dtype_aliases():
    assert tinytorch.float is np.float32 and tinytorch.long is np.int64 and tinytorch.double is np.float64
    assert tinytorch.int is np.int32 and tinytorch.half is np.float16 and tinytorch.bool is np.bool_
    assert tinytorch.zeros(2, dtype=tinytorch.long).dtype == np.int64


@pytest.mark.parametrize("call, error, message", [
    (lambda: tinytorch.sum([1.0, 2.0]), TypeError, r"sum: expected a Tensor, got a list"),
    (lambda: tinytorch.exp(np.ones(2)), TypeError, r"exp: expected a Tensor, got a ndarray"),
    (lambda: tinytorch.allclose(Tensor([1.0]), [1.0]), TypeError, r"allclose: expected a Tensor"),
    (lambda: tinytorch.allclose(Tensor([1.0, 2.0]), Tensor([1.0, 2.0, 3.0])), ValueError, r"allclose: .*broadcast"),
    (lambda: tinytorch.from_numpy([1, 2]), TypeError, r"from_numpy: expected a numpy.ndarray, got list"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
