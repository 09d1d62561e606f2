"""Module 12 against PyTorch: scaled_dot_product_attention with every mask kind (values and gradients,
including a float mask's own gradient and fully masked rows), nn.MultiheadAttention loading a PyTorch
state_dict (batch_first both ways, weights averaged or per head, masks of both kinds), and nanoGPT's
CausalSelfAttention.

tests/fixtures/torch_text.npz was written by scripts/make_text_fixtures.py with torch 2.13 (never imported
here). Everything is float64, so tolerances are tight.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import load_torch_cases

from tinytorch.core.tensor import Tensor
from tinytorch.text.attention import CausalSelfAttention, MultiheadAttention, scaled_dot_product_attention

RTOL, ATOL = 1e-9, 1e-11
CASES = load_torch_cases("torch_text.npz")


def named(prefix: str) -> list[str]:
    return sorted(name for name in CASES if name.startswith(prefix))


def close(got: Tensor, want: np.ndarray, what: str) -> None:
    """Equal within float64 rounding; nan only where PyTorch has nan."""
    np.testing.assert_allclose(got.data, want, rtol=RTOL, atol=ATOL, err_msg=what, equal_nan=True)


def test_fixtures_cover_every_kind():
    sdpa = named("sdpa_")
    assert len(sdpa) >= 15 and len(named("mha_")) >= 11 and len(named("csa_")) >= 3
    assert np.isnan(CASES["mha_fully_padded_weights"]["out"]).any(), "PyTorch: nan for a fully padded sequence"
    assert not np.isnan(CASES["mha_fully_padded_no_weights"]["out"]).any(), "... but zeros without need_weights"
    assert any(CASES[n]["attn_mask"].dtype == bool for n in sdpa if "attn_mask" in CASES[n])
    assert any("grad_attn_mask" in CASES[n] for n in sdpa) and any(CASES[n]["is_causal"] for n in sdpa)
    assert sum(bool(CASES[n]["enable_gqa"]) for n in sdpa) >= 5


@pytest.mark.parametrize("name", named("sdpa_"))
def test_sdpa_matches_pytorch(name):
    case = CASES[name]
    q, k, v = (Tensor(case[key].copy(), requires_grad=True) for key in ("query", "key", "value"))
    mask = None
    if "attn_mask" in case:
        mask = Tensor(case["attn_mask"].copy(), requires_grad="grad_attn_mask" in case)
    scale = None if math.isnan(case["scale"]) else float(case["scale"])
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=bool(case["is_causal"]), scale=scale,
                                       enable_gqa=bool(case["enable_gqa"]))
    close(out, case["out"], "forward")
    out.backward(Tensor(case["gout"]))
    for key, tensor in (("query", q), ("key", k), ("value", v)):
        close(tensor.grad, case[f"grad_{key}"], f"gradient of {key}")
    if "grad_attn_mask" in case:
        close(mask.grad, case["grad_attn_mask"], "gradient of the float mask")


def _mask(case, key):
    return Tensor(case[key].copy()) if key in case else None


@pytest.mark.parametrize("name", named("mha_"))
def test_multihead_attention_loads_a_pytorch_state_dict(name):
    case = CASES[name]
    state = {key[len("state."):]: value for key, value in case.items() if key.startswith("state.")}
    embed_dim = state["in_proj_weight"].shape[1]
    mha = MultiheadAttention(embed_dim, int(case["num_heads"]), bias=bool(case["bias"]),
                             batch_first=bool(case["batch_first"]), dtype=np.float64)
    assert sorted(state) == sorted(dict(mha.state_dict())), "the same state_dict keys as PyTorch"
    mha.load_state_dict(state)
    mha.eval()
    query = Tensor(case["query"].copy(), requires_grad=True)
    if "key" in case:
        key, value = (Tensor(case[k].copy(), requires_grad=True) for k in ("key", "value"))
    else:
        key = value = query
    with np.errstate(invalid="ignore"):  # the fully padded cases: nan, exactly where PyTorch has nan
        out, weights = mha(query, key, value, key_padding_mask=_mask(case, "key_padding_mask"),
                           need_weights=bool(case["need_weights"]), attn_mask=_mask(case, "attn_mask"),
                           average_attn_weights=bool(case["average"]))
        close(out, case["out"], "output")
        if "weights" in case:
            close(weights, case["weights"], "attention weights")
        else:
            assert weights is None
        out.backward(Tensor(case["gout"]))
    close(query.grad, case["grad_query"], "gradient of query")
    if "key" in case:
        close(key.grad, case["grad_key"], "gradient of key")
        close(value.grad, case["grad_value"], "gradient of value")
    for param_name, param in mha.named_parameters():
        close(param.grad, case[f"grad.{param_name}"], f"gradient of {param_name}")


@pytest.mark.parametrize("name", named("csa_"))
def test_causal_self_attention_matches_nanogpt_in_pytorch(name):
    case = CASES[name]
    state = {key[len("state."):]: value for key, value in case.items() if key.startswith("state.")}
    x = Tensor(case["x"].copy(), requires_grad=True)
    block = CausalSelfAttention(x.shape[-1], int(case["n_head"]), bias=bool(case["bias"]), dtype=np.float64)
    block.load_state_dict(state)
    out = block(x)
    close(out, case["out"], "output")
    out.backward(Tensor(case["gout"]))
    close(x.grad, case["grad_x"], "gradient of x")
    for param_name, param in block.named_parameters():
        close(param.grad, case[f"grad.{param_name}"], f"gradient of {param_name}")
