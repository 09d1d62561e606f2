"""Gradients of module 01's transformer and compatibility ops against PyTorch's, expression by expression.

tensor_grad_fixtures.npz was written by scripts/make_tensor_fixtures.py with torch (never imported
here): for each expression, the forward values, a fixed gradient `gout` per output (tuple results
have one per piece) and PyTorch's gradient of sum(out * gout) for every float64 input. The same
expression text runs here with `tt` = tinytorch.core.tensor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core.autograd import backward
from tinytorch.core.tensor import Tensor

FIXTURES = Path(__file__).with_name("tensor_grad_fixtures.npz")

with np.load(FIXTURES, allow_pickle=False) as stored:
    EXPRESSIONS = [str(e) for e in stored["expressions"]]
    INPUTS = {key.removeprefix("input_"): stored[key] for key in stored.files if key.startswith("input_")}
    CASES = {number: {key.split("/", 1)[1]: stored[key] for key in stored.files
                      if key.startswith(f"case_{number}/")} for number in range(len(EXPRESSIONS))}


@pytest.mark.parametrize("number", range(len(EXPRESSIONS)), ids=EXPRESSIONS)
def test_gradients_match_pytorch(number):
    expression, case = EXPRESSIONS[number], CASES[number]
    leaves = {name: Tensor(array.copy(), requires_grad=True) for name, array in INPUTS.items()}
    result = eval(expression, {"tt": tt, **leaves})  # noqa: S307 - fixed expressions from our fixture
    outputs = result if isinstance(result, tuple) else (result,)
    assert len(outputs) == sum(key.startswith("out") for key in case), (
        f"{expression}: PyTorch returns {sum(key.startswith('out') for key in case)} pieces, got {len(outputs)}")
    total = None
    for k, out in enumerate(outputs):
        np.testing.assert_allclose(out.data, case[f"out{k}"], rtol=1e-12, err_msg=f"{expression}: value {k}")
        term = (out * Tensor(case[f"gout{k}"])).sum()
        total = term if total is None else total + term
    backward(total)
    for name, leaf in leaves.items():
        want = case.get(f"grad_{name}")
        if want is None:
            assert leaf.grad is None, f"{expression}: PyTorch gives {name} no gradient, got one"
        else:
            assert leaf.grad is not None, f"{expression}: PyTorch gives {name} a gradient, got none"
            np.testing.assert_allclose(leaf.grad.data, want, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{expression}: gradient of {name}")
