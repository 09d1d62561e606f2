"""Module 16 Part I wired into the package: the GPT and AdamW take the fused paths by default, the plain
ones under use_fused(False) or when a kernel is still a stub, with the same results."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.optimizers import AdamW, accelerated
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.systems import acceleration
from tinytorch.systems.acceleration import (
    FlashCausalAttention,
    FusedCausalAttention,
    FusedGELU,
    FusedLayerNorm,
    SoftmaxCrossEntropy,
    fused_enabled,
    keep_freed_memory,
    use_fused,
)
from tinytorch.text.transformers import GPT, GPTConfig


def small_gpt(block_size=16) -> GPT:
    manual_seed(0)
    return GPT(GPTConfig(block_size=block_size, vocab_size=11, n_layer=2, n_head=2, n_embd=16, bias=False))


def batch(t=16, seed=0):
    rng = np.random.default_rng(seed)
    return Tensor(rng.integers(0, 11, (3, t))), Tensor(rng.integers(0, 11, (3, t)))


def ops_in_graph(tensor) -> set:
    """Every op (class or name) recorded in the graph that made `tensor`."""
    seen, stack, ops = set(), [tensor], set()
    while stack:
        t = stack.pop()
        node = getattr(t, "_ctx", None)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        ops.add(node.op)
        stack.extend(node.inputs)
    return ops


def loss_and_grads(model, x, y):
    """(loss value, the ops of its graph, each parameter's gradient): the ops are read before backward
    frees the graph."""
    model.zero_grad()
    _, loss = model(x, y)
    ops = ops_in_graph(loss)
    loss.backward()
    return loss.item(), ops, {name: p.grad.data.copy() for name, p in model.named_parameters()}


def test_switch_defaults_on_restores_and_rejects_non_bool():
    assert fused_enabled()
    with use_fused(False):
        assert not fused_enabled()
        with use_fused(True):
            assert fused_enabled()
        assert not fused_enabled()
    assert fused_enabled()
    with pytest.raises(TypeError, match="enabled must be True or False"):
        with use_fused(0):
            pass


def test_gpt_uses_the_fused_kernels_by_default_and_the_plain_ones_when_switched_off():
    model, (x, y) = small_gpt(), batch()
    fused_loss, ops, fused = loss_and_grads(model, x, y)
    kernels = {FusedGELU, SoftmaxCrossEntropy, FusedCausalAttention, FusedLayerNorm}
    assert kernels <= ops, f"fused kernels missing from the graph: {kernels - ops}"
    with use_fused(False):
        plain_loss, plain_ops, plain = loss_and_grads(model, x, y)
    assert not kernels & plain_ops, f"use_fused(False) must take modules 12-13's compositions, got {plain_ops}"
    assert abs(fused_loss - plain_loss) < 1e-6
    for name in plain:
        np.testing.assert_allclose(fused[name], plain[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_long_sequences_take_the_blocked_attention_with_the_same_gradients(monkeypatch):
    monkeypatch.setattr(acceleration, "FLASH_FROM", 8)
    model, (x, y) = small_gpt(), batch()
    _, ops, fused = loss_and_grads(model, x, y)
    assert FlashCausalAttention in ops
    with use_fused(False):
        _, plain_ops, plain = loss_and_grads(model, x, y)
    assert FlashCausalAttention not in plain_ops
    for name in plain:
        np.testing.assert_allclose(fused[name], plain[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_a_stub_kernel_falls_back_to_the_plain_path(monkeypatch):
    def stub(*args):
        raise NotImplementedError("fused_gelu is not implemented yet, see modules/16_acceleration")

    monkeypatch.setattr(acceleration, "fused_gelu", stub)
    monkeypatch.setattr(acceleration, "softmax_cross_entropy", stub)
    monkeypatch.setattr(acceleration, "adamw_step_", stub)
    monkeypatch.setattr(acceleration, "fused_layer_norm", stub)
    monkeypatch.setattr(acceleration, "fused_causal_attention", stub)
    model, (x, y) = small_gpt(), batch()
    _, ops, _ = loss_and_grads(model, x, y)
    assert not {FusedGELU, SoftmaxCrossEntropy, FusedLayerNorm, FusedCausalAttention} & ops
    before = [p.data.copy() for p in model.parameters()]
    AdamW(model.parameters(), lr=1e-2).step()  # the plain AdamW update runs instead of the stub
    assert all(not np.array_equal(a, p.data) for a, p in zip(before, model.parameters()) if p.grad is not None)


def test_accelerated_says_not_implemented_when_switched_off_and_runs_the_kernel_when_on():
    x = Tensor(np.linspace(-2, 2, 5))
    with use_fused(False):
        assert accelerated("fused_gelu", x) is NotImplemented
    out = accelerated("fused_gelu", x)
    assert isinstance(out, Tensor) and out.shape == (5,)


def test_training_with_fused_paths_lowers_the_loss_like_the_plain_paths():
    losses = {}
    for enabled in (True, False):
        model, (x, y) = small_gpt(), batch()
        optimizer = AdamW(model.optimizer_groups(0.1), lr=1e-2, betas=(0.9, 0.99))
        with use_fused(enabled):
            for _ in range(5):
                optimizer.zero_grad()
                _, loss = model(x, y)
                loss.backward()
                optimizer.step()
        losses[enabled] = loss.item()
    assert losses[True] < np.log(11), "five fused AdamW steps on one batch should lower the loss below ln(V)"
    assert abs(losses[True] - losses[False]) < 1e-4, losses


def test_keep_freed_memory_lives_in_module_16_and_reports_whether_it_applied():
    assert isinstance(keep_freed_memory(), bool)
