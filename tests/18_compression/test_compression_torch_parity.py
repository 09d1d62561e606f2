"""Module 18 against PyTorch 2.13 (tests/fixtures/torch_quantization.npz, made by
scripts/make_compression_fixtures.py): the distillation loss, T²·KL(batchmean) + CE, and its gradient."""

from __future__ import annotations

import numpy as np
import pytest
from support import load_torch_cases

from tinytorch.core.tensor import Tensor
from tinytorch.systems import compression as C

CASES = load_torch_cases("torch_quantization.npz")


@pytest.mark.parametrize("name", sorted(k for k in CASES if k.startswith("distill_")))
def test_distillation_loss_matches_pytorch(name):
    case = CASES[name]
    student = Tensor(case["student"], requires_grad=True)
    loss = C.distillation_loss(student, Tensor(case["teacher"]), Tensor(case["target"]),
                               float(case["temperature"]), float(case["alpha"]))
    np.testing.assert_allclose(loss.item(), float(case["loss"]), rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(student.grad.data, case["grad_student"], rtol=1e-10, atol=1e-12)
