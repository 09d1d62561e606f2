"""Module 11 against PyTorch: F.embedding values and weight gradients (repeated ids, padding_idx, 3-D ids,
a large table), and nn.Embedding's zeroed padding row.

tests/fixtures/torch_text.npz was written by scripts/make_text_fixtures.py with torch 2.13 (never imported
here). Everything is float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from support import load_torch_cases

from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding, embedding

CASES = load_torch_cases("torch_text.npz")
NAMES = sorted(name for name in CASES if name.startswith("emb_") and "ids" in CASES[name])


def test_fixture_covers_the_cases():
    assert len(NAMES) >= 5 and any(CASES[name]["padding_idx"] == -1 for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_embedding_matches_pytorch(name):
    case = CASES[name]
    weight = Tensor(case["weight"].copy(), requires_grad=True)
    padding_idx = int(case["padding_idx"])
    out = embedding(Tensor(case["ids"]), weight, padding_idx=None if padding_idx == -100 else padding_idx)
    np.testing.assert_allclose(out.data, case["out"], rtol=0, atol=0)
    out.backward(Tensor(case["gout"]))
    np.testing.assert_allclose(weight.grad.data, case["grad_weight"], rtol=1e-12, atol=1e-12)


def test_module_padding_row_is_zero_like_pytorch():
    assert not CASES["emb_module_init"]["padding_row"].any()
    assert not Embedding(10, 3, padding_idx=4).weight.data[4].any()
