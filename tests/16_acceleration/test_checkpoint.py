"""Module 16, part III: gradient checkpointing (checkpoint, CheckpointedBlock, checkpoint_blocks)."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.core.activations import gelu
from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.systems.acceleration import (
    CheckpointedBlock,
    checkpoint,
    checkpoint_blocks,
    checkpoint_sequential,
    measure_step,
)
from tinytorch.text.transformers import GPT, GPTConfig


def _gpt(dropout=0.0, n_layer=2):
    manual_seed(0)
    return GPT(GPTConfig(vocab_size=13, n_layer=n_layer, n_head=2, n_embd=16, block_size=8, dropout=dropout))


def _tokens(batch=3, length=8):
    return Tensor(np.random.default_rng(1).integers(0, 13, (batch, length)))


def _grads(model, idx):
    model.zero_grad()
    manual_seed(7)  # same dropout masks for every call
    model(idx, idx)[1].backward()
    return {name: p.grad.data.copy() for name, p in model.named_parameters()}


def test_gradcheck_float64_through_a_checkpointed_call():
    manual_seed(0)
    net = Sequential(Linear(3, 5), Linear(5, 2)).double()
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda t: gelu(checkpoint(net, t)), [x])
    assert gradcheck(lambda *ps: gelu(checkpoint(net, x)), list(net.parameters()))


def test_gpt_gradients_are_identical_and_names_unchanged():
    model, idx = _gpt(), _tokens()
    plain, keys = _grads(model, idx), list(model.state_dict())
    checkpoint_blocks(model)
    assert all(isinstance(b, CheckpointedBlock) for b in model.blocks)
    assert list(model.state_dict()) == keys
    checkpointed = _grads(model, idx)
    for name in plain:
        np.testing.assert_array_equal(plain[name], checkpointed[name], err_msg=name)


def test_dropout_mask_is_replayed_in_the_recomputation():
    model, idx = _gpt(dropout=0.3), _tokens()
    plain = _grads(model, idx)
    checkpoint_blocks(model)
    checkpointed = _grads(model, idx)
    for name in plain:
        np.testing.assert_allclose(plain[name], checkpointed[name], rtol=1e-5, atol=1e-7, err_msg=name)
    # The forward's generator state is restored after the recomputation: the caller's stream goes on.
    manual_seed(3)
    model(idx, idx)[1].backward()
    after_checkpointed = tt.rand(4).numpy()
    checkpoint_blocks(model, enabled=False)
    manual_seed(3)
    model(idx, idx)[1].backward()
    np.testing.assert_array_equal(after_checkpointed, tt.rand(4).numpy())


def test_unwrap_state_dict_round_trip_and_eval_mode():
    model = _gpt(dropout=0.2)
    checkpoint_blocks(model)
    state = {k: v.copy() for k, v in model.state_dict().items()}
    fresh = checkpoint_blocks(_gpt(dropout=0.2))
    fresh.load_state_dict(state)
    model.eval()
    assert not any(b.training or b.block.training for b in model.blocks)
    checkpoint_blocks(model, enabled=False)
    assert [type(b).__name__ for b in model.blocks] == ["TransformerBlock"] * 2
    checkpoint_blocks(checkpoint_blocks(model))  # wrapping twice wraps once
    assert all(not isinstance(b.block, CheckpointedBlock) for b in model.blocks)


def test_generation_with_a_kv_cache_is_unchanged():
    model, idx = _gpt(), _tokens(1, 3)
    expected = model.generate(idx, 4, temperature=0).numpy()
    checkpoint_blocks(model)
    np.testing.assert_array_equal(model.generate(idx, 4, temperature=0).numpy(), expected)
    np.testing.assert_array_equal(model.generate(idx, 4, temperature=0, use_cache=False).numpy(), expected)


def test_checkpointed_step_keeps_less_memory():
    model = _gpt(n_layer=4)
    tokens = _tokens(4, 9)
    plain = measure_step(model, tokens[:, :-1], tokens[:, 1:], repeats=1)
    checkpointed = measure_step(checkpoint_blocks(model), tokens[:, :-1], tokens[:, 1:], repeats=1)
    # Four blocks' activations against one block's (plus each block's input): measured, not assumed.
    assert checkpointed["activations_mb"] * 2 < plain["activations_mb"], (plain, checkpointed)
    assert checkpointed["peak_mb"] < plain["peak_mb"], (plain, checkpointed)


def test_plain_call_under_no_grad_and_without_anything_to_differentiate():
    net = Sequential(Linear(3, 2))
    x = Tensor(np.ones((2, 3), dtype=np.float32))
    with no_grad():
        assert checkpoint(net, x).grad_fn is None
    for p in net.parameters():
        p.requires_grad_(False)
    assert checkpoint(net, x).grad_fn is None
    assert checkpoint(lambda t: t * 2, x).numpy().tolist() == [[2.0] * 3] * 2


def test_bad_arguments_are_clear_errors():
    net = Linear(3, 2)
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="function must be callable"):
        checkpoint(3, x)
    with pytest.raises(ValueError, match="only use_reentrant=False"):
        checkpoint(net, x, use_reentrant=True)
    with pytest.raises(TypeError, match="preserve_rng_state must be True or False"):
        checkpoint(net, x, preserve_rng_state="yes")
    with pytest.raises(TypeError, match="must return a Tensor, got tuple"):
        checkpoint(lambda t: (t, t), x)
    with pytest.raises(TypeError, match="pass Tensors positionally.*keyword argument\\(s\\) bias"):
        checkpoint(lambda t, bias: t + bias, x, bias=x)
    assert checkpoint(lambda t, scale: t * scale, x, scale=3.0).numpy()[0, 0] == 3.0
    with pytest.raises(TypeError, match="`blocks` ModuleList"):
        checkpoint_blocks(net)
    with pytest.raises(TypeError, match="block must be a Module"):
        CheckpointedBlock(lambda t: t)


def test_checkpoint_sequential_matches_the_plain_mlp_and_keeps_less():
    import tracemalloc

    from tinytorch.core.layers import ReLU
    from tinytorch.core.losses import cross_entropy

    manual_seed(0)
    layers = [Linear(64, 256), ReLU(), Linear(256, 256), ReLU(), Linear(256, 256), ReLU(), Linear(256, 10)]
    net = Sequential(*layers)
    x = Tensor(np.random.default_rng(0).standard_normal((128, 64)).astype(np.float32))  # data: no grad
    y = Tensor(np.random.default_rng(1).integers(0, 10, 128))
    held, grads = {}, {}
    for segments in (1, 3):
        net.zero_grad()
        tracemalloc.start()
        loss = cross_entropy(checkpoint_sequential(net, segments, x), y)
        held[segments] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        loss.backward()
        grads[segments] = [p.grad.data.copy() for p in net.parameters()]
    for a, b in zip(grads[1], grads[3]):
        np.testing.assert_array_equal(a, b)
    assert held[3] < 0.65 * held[1], held  # two chunks of two keep only their input; the last three run plainly
    with pytest.raises(ValueError, match=r"segments must be an int in \[1, 7\]"):
        checkpoint_sequential(net, 8, x)
    with pytest.raises(TypeError, match="a Sequential or a non-empty list of Modules"):
        checkpoint_sequential([], 1, x)


def test_reachable_where_pytorch_code_looks():
    from tinytorch.utils.checkpoint import checkpoint as reexported
    from tinytorch.utils.checkpoint import checkpoint_sequential as reexported_sequential

    assert reexported is checkpoint and reexported_sequential is checkpoint_sequential
