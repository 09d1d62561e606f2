"""Module 17 against PyTorch 2.13 (values in tests/fixtures/torch_quantization.npz, made by
scripts/make_compression_fixtures.py): quantize_per_tensor/per_channel codes, fake quantization
forward and straight-through backward."""

from __future__ import annotations

import numpy as np
import pytest
from support import load_torch_cases

from tinytorch.core.tensor import Tensor
from tinytorch.systems import quantization as Q

CASES = load_torch_cases("torch_quantization.npz")


def axis_of(case):
    return None if int(case["axis"]) < 0 else int(case["axis"])


@pytest.mark.parametrize("name", sorted(k for k in CASES if k.startswith("quantize_")))
def test_quantize_codes_match_pytorch(name):
    case = CASES[name]
    # torch's quint8 codes are 0..255; the same grid shifted by 128 is int8 with zero point - 128
    shift = 128 if int(case["dtype_min"]) == 0 else 0
    codes = Q.quantize(case["x"], case["scale"], case["zero_point"] - shift, bits=8, symmetric=False,
                       axis=axis_of(case))
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(codes.astype(np.int64) + shift, case["q"])


@pytest.mark.parametrize("name", sorted(k for k in CASES if k.startswith("fakequant_")))
def test_fake_quantize_matches_pytorch_forward_and_backward(name):
    case = CASES[name]
    qmin, qmax = int(case["qmin"]), int(case["qmax"])
    symmetric = qmin == -qmax  # the symmetric grid leaves out the lowest code
    bits = int(np.log2(qmax - qmin + 1 + symmetric))
    assert Q.qrange(bits, symmetric) == (qmin, qmax)
    x = Tensor(case["x"], requires_grad=True)
    out = Q.fake_quantize(x, case["scale"], case["zero_point"], bits, symmetric, axis=axis_of(case))
    np.testing.assert_allclose(out.data, case["out"], rtol=1e-6, atol=1e-6)
    out.backward(Tensor(case["gout"]))
    np.testing.assert_array_equal(x.grad.data, case["grad_x"])
