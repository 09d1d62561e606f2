"""Module 01 against PyTorch: each expression reads the same in both libraries.

tensor_fixtures.npz holds PyTorch's result of every expression (values, dtype, shape) on fixed
inputs; scripts/make_tensor_fixtures.py made it. Here `tt` is TinyTorch, so the same text runs on
our Tensor and must give the same numbers, dtype and shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import Tensor

FIXTURES = Path(__file__).with_name("tensor_fixtures.npz")

with np.load(FIXTURES, allow_pickle=False) as stored:
    EXPRESSIONS = [str(e) for e in stored["expressions"]]
    DTYPES = [str(d) for d in stored["dtypes"]]
    SHAPES = [str(s) for s in stored["shapes"]]
    VALUES = [stored[f"case_{number}"] for number in range(len(EXPRESSIONS))]
    INPUTS = {key.removeprefix("input_"): stored[key] for key in stored.files if key.startswith("input_")}


@pytest.mark.parametrize("number", range(len(EXPRESSIONS)), ids=EXPRESSIONS)
def test_matches_pytorch(number):
    expression = EXPRESSIONS[number]
    namespace = {"tt": tt, **{name: Tensor(array.copy()) for name, array in INPUTS.items()}}
    result = eval(expression, namespace)  # noqa: S307 - fixed expressions from our own fixture
    assert isinstance(result, Tensor), f"{expression}: expected a Tensor, got {type(result).__name__}"
    assert repr(tuple(result.shape)) == SHAPES[number], (
        f"{expression}: PyTorch gives shape {SHAPES[number]}, got {tuple(result.shape)}")
    assert result.dtype.name == DTYPES[number], (
        f"{expression}: PyTorch gives dtype {DTYPES[number]}, got {result.dtype}")
    want = VALUES[number]
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(result.data, want, err_msg=expression)
    else:
        np.testing.assert_allclose(result.data, want, rtol=2e-6 if want.dtype == np.float64 else 2e-5,
                                   atol=1e-6, equal_nan=True, err_msg=expression)


def test_fixture_covers_every_operation_family():
    """Guard against the fixture silently losing a family of operations."""
    text = " ".join(EXPRESSIONS)
    for name in ["@", ".sum(", ".mean(", ".max(", ".min(", ".argmax(", ".argmin(", ".var(", ".std(",
                 ".exp(", ".log(", ".sqrt(", ".abs(", ".clamp(", ".reshape(", ".view(", ".permute(",
                 ".transpose(", ".T", ".flatten(", ".squeeze(", ".unsqueeze(", ".expand(", "tt.cat(",
                 "tt.stack(", "tt.arange(", "tt.zeros(", "tt.ones(", "tt.full(", "tt.eye(", "tt.tensor(",
                 "x[", " ** ", " / ", " - ", " * ", " + "]:
        assert name in text, f"no PyTorch reference case uses {name!r}"
