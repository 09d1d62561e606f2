"""Module 02 with module 05's engine: every activation passes a float64 gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from support import needs_autograd

from tinytorch.core.activations import gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, tanh
from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor

pytestmark = needs_autograd

CASES = [
    ("relu", relu), ("leaky_relu", lambda x: leaky_relu(x, 0.1)), ("sigmoid", sigmoid), ("tanh", tanh),
    ("gelu", gelu), ("gelu_tanh", lambda x: gelu(x, "tanh")), ("silu", silu),
    ("softmax", lambda x: softmax(x, 1)), ("log_softmax", lambda x: log_softmax(x, 0)),
]


@pytest.mark.parametrize("name, fn", CASES, ids=[c[0] for c in CASES])
def test_activation_gradcheck(name, fn):
    data = np.random.default_rng(0).standard_normal((3, 4)) * 2
    data[np.abs(data) < 1e-3] = 0.5  # keep away from relu's kink
    assert gradcheck(fn, (Tensor(data, requires_grad=True),))
