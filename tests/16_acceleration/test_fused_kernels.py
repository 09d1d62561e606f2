"""Module 16 Part I: each fused kernel against gradcheck, the unfused ops, PyTorch fixtures and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.activations import gelu
from tinytorch.core.autograd import gradcheck
from tinytorch.core.layers import Parameter
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam, AdamW
from tinytorch.core.tensor import Tensor, default_generator, manual_seed
from tinytorch.systems import acceleration
from tinytorch.systems.acceleration import (
    FusedCausalAttention,
    adamw_step_,
    blocks,
    flash_attention,
    flash_causal_attention,
    fused_causal_attention,
    fused_gelu,
    fused_layer_norm,
    softmax_cross_entropy,
    use_fused,
)
from tinytorch.text.attention import (
    merge_heads,
    scaled_dot_product_attention,
    scaled_dot_product_attention_reference,
    split_heads,
)
from tinytorch.text.transformers import layer_norm_composed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def random(shape, seed=0, dtype=np.float64, requires_grad=True) -> Tensor:
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def forward_backward(fn, inputs, seed=1):
    """Output and input gradients of fn for a fixed random output gradient."""
    leaves = [Tensor(t.data.copy(), requires_grad=True) for t in inputs]
    out = fn(*leaves)
    out.backward(Tensor(np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)))
    return out.data, [leaf.grad.data for leaf in leaves]


def test_blocks_cover_the_range_once_in_order():
    parts = list(blocks(10, 4))
    assert [(p.start, p.stop) for p in parts] == [(0, 4), (4, 8), (8, 10)]
    assert list(blocks(0, 4)) == []


# ----- GELU -------------------------------------------------------------------------------------
def test_fused_gelu_gradcheck_float64():
    assert gradcheck(fused_gelu, [random((3, 7))])


def test_fused_gelu_equals_module_02_gelu_in_values_and_gradients_across_blocks(monkeypatch):
    monkeypatch.setattr(acceleration, "BLOCK", 1000)  # several blocks, the last one partial
    x = random((37, 129), dtype=np.float32)
    out, (grad,) = forward_backward(fused_gelu, [x])
    ref_out, (ref_grad,) = forward_backward(gelu, [x])
    np.testing.assert_allclose(out, ref_out, rtol=0, atol=1e-6)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-6)


def test_erf_by_tanh_is_within_2e_7_of_math_erf_in_float32_and_saturates():
    z = np.concatenate([np.linspace(-6, 6, 60001), [0.0, 1e-30, -1e-30, 4.0, -4.0, 1e4, -1e4]]).astype(np.float32)
    out, work = np.empty_like(z), np.empty_like(z)
    assert acceleration.erf_by_tanh_(z, out, work) is out
    expected = np.array([math.erf(float(value)) for value in z])
    assert np.abs(out - expected).max() < 2e-7, "the tanh fit of erf drifted from math.erf"
    assert np.all(np.abs(out) <= 1) and out[z >= 4].min() == 1 and out[z <= -4].max() == -1
    assert out.dtype == np.float32


def test_fused_gelu_matches_torch_fixture():
    data = np.load(FIXTURES / "torch_ops.npz")
    x = Tensor(data["gelu_exact/input0"], requires_grad=True)
    out = fused_gelu(x)
    out.backward(Tensor(data["gelu_exact/gout"]))
    np.testing.assert_allclose(out.data, data["gelu_exact/out"], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(x.grad.data, data["gelu_exact/grad0"], rtol=1e-7, atol=1e-10)


def test_fused_gelu_keeps_shape_of_a_non_contiguous_input():
    x = random((6, 4)).transpose(1, 0)
    out = fused_gelu(x)
    assert out.shape == (4, 6)
    np.testing.assert_allclose(out.data, gelu(x).data, atol=1e-12)


# ----- softmax + cross-entropy -------------------------------------------------------------------
def test_softmax_cross_entropy_gradcheck_with_ignored_rows():
    target = Tensor(np.array([0, 3, -1, 2, 1, -1]))
    assert gradcheck(lambda z: softmax_cross_entropy(z, target, ignore_index=-1), [random((6, 4))])


def test_softmax_cross_entropy_equals_module_04_cross_entropy():
    z = random((50, 65), seed=3, dtype=np.float32)
    target = Tensor(np.random.default_rng(4).integers(-1, 65, 50))
    out, (grad,) = forward_backward(lambda t: softmax_cross_entropy(t, target, -1), [z])
    ref_out, (ref_grad,) = forward_backward(lambda t: cross_entropy(t, target, ignore_index=-1), [z])
    np.testing.assert_allclose(out, ref_out, rtol=1e-6)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-7)


def test_softmax_cross_entropy_matches_torch_fixture():
    data = np.load(FIXTURES / "torch_ops.npz")
    z = Tensor(data["cross_entropy_mean/input0"], requires_grad=True)
    loss = softmax_cross_entropy(z, Tensor(data["cross_entropy_mean/input1"]))
    loss.backward(Tensor(data["cross_entropy_mean/gout"]))
    np.testing.assert_allclose(loss.data, data["cross_entropy_mean/out"], rtol=1e-10)
    np.testing.assert_allclose(z.grad.data, data["cross_entropy_mean/grad0"], rtol=1e-9, atol=1e-12)


def test_softmax_cross_entropy_can_backward_twice_with_retain_graph():
    z = random((4, 3))
    target = Tensor(np.array([0, 1, 2, 0]))
    loss = softmax_cross_entropy(z, target)
    loss.backward(retain_graph=True)
    first = z.grad.data.copy()
    z.grad = None
    loss.backward()
    np.testing.assert_array_equal(z.grad.data, first)


@pytest.mark.parametrize("logits, target, message", [
    (np.zeros((2, 3, 4)), np.array([0, 1]), "logits must be"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), "integer Tensor of shape"),
    (np.zeros((2, 3)), np.array([0, 1, 2]), r"integer Tensor of shape \(2,\)"),
    (np.zeros((2, 3)), np.array([0, 3]), "class id 3, outside"),
    (np.zeros((2, 3), dtype=np.int64), np.array([0, 1]), "floating-point"),
])
def test_softmax_cross_entropy_rejects_bad_input(logits, target, message):
    with pytest.raises((ValueError, TypeError), match=message):
        softmax_cross_entropy(Tensor(logits), Tensor(target))


# ----- attention in key blocks -------------------------------------------------------------------
@pytest.mark.parametrize("causal, length, keys, block", [(True, 7, 7, 2), (False, 5, 9, 4), (True, 5, 9, 3),
                                                         (True, 9, 5, 2), (False, 6, 6, 100)])
def test_flash_attention_gradcheck(causal, length, keys, block):
    q, k, v = random((2, length, 3), 1), random((2, keys, 3), 2), random((2, keys, 4), 3)
    assert gradcheck(lambda q, k, v: flash_attention(q, k, v, causal, None, block), [q, k, v])


@pytest.mark.parametrize("causal", [True, False])
def test_flash_attention_equals_module_12_attention_to_1e5_in_float32(causal):
    inputs = [random((2, 3, 70, 16), seed, np.float32) for seed in (1, 2, 3)]
    out, grads = forward_backward(lambda q, k, v: flash_attention(q, k, v, is_causal=causal, block_size=16), inputs)
    ref, ref_grads = forward_backward(lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=causal),
                                      inputs)
    for name, a, b in zip(("output", "dQ", "dK", "dV"), [out, *grads], [ref, *ref_grads]):
        assert np.abs(a - b).max() <= 1e-5, f"{name} differs from module 12's attention by {np.abs(a - b).max()}"


@pytest.mark.parametrize("case", ["sdpa_plain", "sdpa_causal_square", "sdpa_causal_wide", "sdpa_causal_tall",
                                  "sdpa_causal_scale"])
def test_flash_attention_matches_torch_fixtures(case):
    data = np.load(FIXTURES / "torch_text.npz")
    q, k, v = (Tensor(data[f"{case}/{n}"], requires_grad=True) for n in ("query", "key", "value"))
    scale = float(data[f"{case}/scale"])
    out = flash_attention(q, k, v, is_causal=bool(data[f"{case}/is_causal"]),
                          scale=None if np.isnan(scale) else scale, block_size=2)
    out.backward(Tensor(data[f"{case}/gout"]))
    np.testing.assert_allclose(out.data, data[f"{case}/out"], rtol=1e-5, atol=1e-6)
    for name, t in (("query", q), ("key", k), ("value", v)):
        np.testing.assert_allclose(t.grad.data, data[f"{case}/grad_{name}"], rtol=1e-5, atol=1e-6,
                                   err_msg=f"gradient of {name}")


def textbook_attention(qkv: Tensor, heads: int, dropout_p: float = 0.0) -> Tensor:
    """Module 12's composition from packed projections: split, heads, composed causal attention, merge."""
    q, k, v = (split_heads(t, heads) for t in qkv.split(qkv.shape[-1] // 3, dim=2))
    return merge_heads(scaled_dot_product_attention_reference(q, k, v, dropout_p=dropout_p, is_causal=True))


@pytest.mark.parametrize("dropout_p", [0.0, 0.3])
def test_one_node_attention_equals_module_12_composition(dropout_p):
    qkv = random((2, 7, 12), 8)

    def fused(t):
        manual_seed(4)
        return FusedCausalAttention.apply(t, 2, dropout_p, default_generator())

    def plain(t):
        manual_seed(4)
        return textbook_attention(t, 2, dropout_p)
    out, (grad,) = forward_backward(fused, [qkv])
    ref, (ref_grad,) = forward_backward(plain, [qkv])
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12, err_msg="forward")
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12, err_msg="gradient of qkv")
    assert gradcheck(fused, [qkv])


def test_package_attention_picks_one_node_when_short_or_with_dropout(monkeypatch):
    qkv = random((1, 6, 12), 9, np.float32)
    assert fused_causal_attention(qkv, 2)._ctx.op is FusedCausalAttention
    monkeypatch.setattr(acceleration, "FLASH_FROM", 4)
    assert fused_causal_attention(qkv, 2)._ctx.op is acceleration.FlashCausalAttention
    assert fused_causal_attention(qkv, 2, 0.2, default_generator())._ctx.op is FusedCausalAttention


def test_flash_causal_attention_equals_module_12_packed_kernel():
    qkv = random((3, 40, 24), 5, np.float32)
    out, (grad,) = forward_backward(lambda t: flash_causal_attention(t, 2, block_size=8), [qkv])
    ref, (ref_grad,) = forward_backward(lambda t: FusedCausalAttention.apply(t, 2, 0.0, None), [qkv])
    assert np.abs(out - ref).max() <= 1e-5 and np.abs(grad - ref_grad).max() <= 1e-5
    assert gradcheck(lambda t: flash_causal_attention(t, 2, block_size=3), [random((2, 7, 12), 6)])


def test_flash_attention_saves_one_float_per_query_not_the_score_matrix():
    q = random((1, 2, 256, 8), 1, np.float32)
    out = flash_attention(q, q, q, is_causal=True, block_size=32)
    saved = out._ctx.saved["ctx"].saved_tensors  # what the Function's forward kept for backward
    largest = max(a.size for a in saved)
    assert largest == q.data.size, f"largest saved array has {largest} elements; q has {q.data.size}"


@pytest.mark.parametrize("kwargs, message", [
    ({"block_size": 0}, "block_size must be a positive int"),
    ({"block_size": 2.5}, "block_size must be a positive int"),
    ({"is_causal": 1}, "is_causal must be True or False"),
    ({"scale": float("nan")}, "scale must be a finite number"),
])
def test_flash_attention_rejects_bad_arguments(kwargs, message):
    q = random((2, 4, 3))
    with pytest.raises((ValueError, TypeError), match=message):
        flash_attention(q, q, q, **kwargs)


def test_flash_attention_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="expected query"):
        flash_attention(random((2, 4, 3)), random((2, 5, 3)), random((2, 4, 3)))
    with pytest.raises(ValueError, match="num_heads must be a positive int dividing"):
        flash_causal_attention(random((1, 4, 12)), 3)


# ----- AdamW --------------------------------------------------------------------------------------
def three_steps_fused_and_plain(make, shape, seed):
    """[(param, exp_avg_sq) after three steps with use_fused(True), the same with use_fused(False)]."""
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    results = []
    for enabled in (True, False):
        p = Parameter(start.copy())
        optimizer = make(p)
        with use_fused(enabled):
            for g in grads:
                p.grad = Tensor(g.copy())
                optimizer.step()
        results.append((p.data.copy(), optimizer.state[p]["exp_avg_sq"].copy()))
    return results


def test_fused_adamw_is_bit_identical_to_module_06_adamw(monkeypatch):
    monkeypatch.setattr(acceleration, "BLOCK", 1000)
    fused, plain = three_steps_fused_and_plain(lambda p: AdamW([p], lr=1e-2, betas=(0.9, 0.99), weight_decay=0.1),
                                               (60, 70), 0)
    np.testing.assert_array_equal(fused[0], plain[0])
    np.testing.assert_array_equal(fused[1], plain[1])


@pytest.mark.parametrize("make", [lambda p: Adam([p], lr=1e-2, betas=(0.9, 0.99)),
                                  lambda p: AdamW([p], lr=1e-2, betas=(0.9, 0.99), weight_decay=0.0)])
def test_adam_without_weight_decay_takes_the_fused_step_and_stays_bit_identical(monkeypatch, make):
    """Adam and AdamW are one update when weight_decay is 0: both take adamw_step_, bit for bit."""
    calls = []
    fused_step = acceleration.adamw_step_
    monkeypatch.setattr(acceleration, "adamw_step_", lambda *a: calls.append(1) or fused_step(*a))
    fused, plain = three_steps_fused_and_plain(make, (30, 40), 1)
    assert len(calls) == 3, "with use_fused(True) every step should go through adamw_step_"
    np.testing.assert_array_equal(fused[0], plain[0])


def test_adamw_step_rejects_a_non_contiguous_parameter():
    p = np.zeros((4, 6), dtype=np.float32).T
    with pytest.raises(ValueError, match="C-contiguous"):
        adamw_step_(p, np.zeros_like(p), np.zeros((6, 4), np.float32), np.zeros((6, 4), np.float32), 1,
                    1e-3, 0.9, 0.999, 1e-8, 0.0)


# ----- LayerNorm --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, affine, bias", [((6,), True, True), ((3, 4), True, False), ((5,), False, False)])
def test_fused_layer_norm_equals_module_13_composition_and_gradchecks(shape, affine, bias):
    x = random((2, 3, *shape), 10)
    weight = random(shape, 11) if affine else None
    shift = random(shape, 12) if bias else None
    leaves = [t for t in (x, weight, shift) if t is not None]

    def call(fn):
        def run(x, *params):
            return fn(x, params[0] if affine else None, params[1] if bias else None, len(shape), 1e-5)
        return run
    out, grads = forward_backward(call(fused_layer_norm), leaves)
    ref, ref_grads = forward_backward(call(layer_norm_composed), leaves)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, ref_grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert gradcheck(call(fused_layer_norm), leaves)


def test_fused_layer_norm_matches_pytorch_fixtures():
    from support import load_torch_cases

    cases = load_torch_cases("torch_transformers.npz")
    names = sorted(name for name in cases if name.startswith("ln_"))
    assert len(names) >= 5
    for name in names:
        case = cases[name]
        inputs = {key: Tensor(case[key].copy(), requires_grad=True) for key in ("x", "weight", "bias") if key in case}
        dims = len(case["normalized_shape"])
        out = fused_layer_norm(inputs["x"], inputs.get("weight"), inputs.get("bias"), dims, float(case["eps"]))
        np.testing.assert_allclose(out.data, case["out"], rtol=1e-9, atol=1e-11, err_msg=name)
        out.backward(Tensor(case["gout"]))
        for key, tensor in inputs.items():
            np.testing.assert_allclose(tensor.grad.data, case[f"grad_{key}"], rtol=1e-8, atol=1e-10,
                                       err_msg=f"{name}: gradient of {key}")
