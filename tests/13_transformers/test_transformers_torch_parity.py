"""Module 13 against PyTorch: LayerNorm values and gradients, and a tiny GPT's logits, loss and gradients
from the same weights.

tests/fixtures/torch_transformers.npz was written by scripts/make_transformer_fixtures.py with torch 2.13
(never imported here). Everything is float64, so tolerances are tight.
"""

from __future__ import annotations

import numpy as np
import pytest
from support import load_torch_cases, needs_autograd

from tinytorch.core.tensor import Tensor
from tinytorch.text.transformers import GPT, GPTConfig, layer_norm

CASES = load_torch_cases("torch_transformers.npz")
RTOL, ATOL = 1e-9, 1e-11


def named(prefix: str) -> list[str]:
    return sorted(name for name in CASES if name.startswith(prefix))


def test_fixtures_cover_every_kind():
    assert len(named("ln_")) >= 5 and len(named("gpt_")) >= 2


@needs_autograd
@pytest.mark.parametrize("name", named("ln_"))
def test_layer_norm_matches_pytorch(name):
    case = CASES[name]
    inputs = {key: Tensor(case[key].copy(), requires_grad=True) for key in ("x", "weight", "bias") if key in case}
    out = layer_norm(inputs["x"], tuple(int(v) for v in case["normalized_shape"]), inputs.get("weight"),
                     inputs.get("bias"), eps=float(case["eps"]))
    np.testing.assert_allclose(out.data, case["out"], rtol=RTOL, atol=ATOL, err_msg="forward")
    out.backward(Tensor(case["gout"]))
    for key, tensor in inputs.items():
        np.testing.assert_allclose(tensor.grad.data, case[f"grad_{key}"], rtol=1e-8, atol=1e-10,
                                   err_msg=f"gradient of {key}")


def gpt_from(case: dict) -> GPT:
    n_layer, n_head, n_embd, block_size, vocab_size, bias = (int(v) for v in case["config"])
    model = GPT(GPTConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size,
                          vocab_size=vocab_size, bias=bool(bias))).double()
    state = {key[len("param:"):]: value for key, value in case.items() if key.startswith("param:")}
    model.load_state_dict(state)
    return model


@needs_autograd
@pytest.mark.parametrize("name", named("gpt_"))
def test_tiny_gpt_matches_pytorch(name):
    case = CASES[name]
    model = gpt_from(case)
    assert model.lm_head.weight is model.wte.weight, "loading a state_dict must keep the head tied"
    logits, loss = model(Tensor(case["idx"]), Tensor(case["targets"]))
    np.testing.assert_allclose(logits.data, case["logits"], rtol=1e-8, atol=1e-10, err_msg="logits")
    np.testing.assert_allclose(loss.item(), float(case["loss"]), rtol=1e-10)
    loss.backward()
    grads = {key[len("grad:"):]: value for key, value in case.items() if key.startswith("grad:")}
    ours = dict(model.named_parameters())
    assert set(ours) == set(grads), f"parameter names differ: {sorted(set(ours) ^ set(grads))}"
    for key, expected in grads.items():
        np.testing.assert_allclose(ours[key].grad.data, expected, rtol=1e-7, atol=1e-10, err_msg=f"grad of {key}")
