"""Module 16, part III: float16 storage with float32 master weights and dynamic loss scaling."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.layers import Linear
from tinytorch.core.optimizers import SGD, AdamW
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.systems.acceleration import GradScaler, MasterWeights, gpt_loss, measure_step
from tinytorch.text.transformers import GPT, GPTConfig


def _gpt():
    manual_seed(0)
    return GPT(GPTConfig(vocab_size=17, n_layer=1, n_head=2, n_embd=32, block_size=16, bias=False))


def _batches(steps, batch=4, length=17):
    rng = np.random.default_rng(0)
    return [Tensor(rng.integers(0, 17, (batch, length))) for _ in range(steps)]


def _train(half: bool, batches, lr=3e-3):
    model = _gpt()
    master = MasterWeights(model) if half else None
    optimizer = AdamW(master.parameters() if half else list(model.parameters()), lr=lr)
    scaler = GradScaler(enabled=half)
    losses = []
    for tokens in batches:
        optimizer.zero_grad()
        model.zero_grad()
        loss = gpt_loss(model, tokens[:, :-1], tokens[:, 1:])
        scaler.scale(loss).backward()
        if half:
            master.copy_grads()
        scaler.step(optimizer)
        scaler.update()
        if half:
            master.copy_weights()
        losses.append(loss.item())
    return model, master, losses, scaler


def test_float16_training_matches_float32_within_tolerance():
    batches = _batches(6)
    model32, _, losses32, _ = _train(False, batches)
    model16, master, losses16, scaler = _train(True, batches)
    assert {p.dtype for p in model16.parameters()} == {np.dtype(np.float16)}
    assert {m.dtype for m in master.parameters()} == {np.dtype(np.float32)}
    assert scaler.get_scale() == 2.0**16  # no overflow in six steps: the scale never moved
    np.testing.assert_allclose(losses16, losses32, atol=5e-3)
    assert losses32[-1] != losses32[0]  # it trained
    # Adam normalises each update to about lr, so a weight whose gradient is nearly zero may move by
    # ~lr the other way in float16: a few such weights, the rest agree closely.
    diffs = np.concatenate([np.abs(m.data - p32.data).ravel()
                            for (_, p32), m in zip(model32.named_parameters(), master.parameters())])
    assert diffs.max() < 6 * 3e-3 and diffs.mean() < 2e-4, (diffs.max(), diffs.mean())


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_overflow_skips_the_step_and_lowers_the_scale():
    model = _gpt()
    master = MasterWeights(model)
    optimizer = SGD(master.parameters(), lr=0.1)
    scaler = GradScaler(init_scale=2.0**40)  # loss x 2^40 overflows float16 (max 65504) in backward
    before = [m.data.copy() for m in master.parameters()]
    tokens = _batches(1)[0]
    scaler.scale(gpt_loss(model, tokens[:, :-1], tokens[:, 1:])).backward()
    master.copy_grads()
    assert all(p.grad is None for p in model.parameters())
    assert scaler.step(optimizer) is None and scaler.found_inf(optimizer)
    scaler.update()
    assert scaler.get_scale() == 2.0**39
    for b, m in zip(before, master.parameters()):
        np.testing.assert_array_equal(b, m.data)


def test_underflow_without_scaling_loses_gradients_that_scaling_keeps():
    model = _gpt().half()
    tokens = _batches(1)[0]
    zeros = {}
    for scale in (1.0, 2.0**16):
        model.zero_grad()
        # A loss averaged over many tokens has tiny gradients; 2^-14 stands in for a big batch.
        (gpt_loss(model, tokens[:, :-1], tokens[:, 1:]) * (2.0**-14 * scale)).backward()
        grads = np.concatenate([p.grad.data.ravel() for p in model.parameters()])
        zeros[scale] = float((grads == 0).mean())
    # float16 flushes the small gradients to zero (~30% here) unless the loss is scaled first (~0%).
    assert zeros[1.0] > 0.2 and zeros[2.0**16] < 0.01, zeros


def test_float16_halves_the_activation_memory():
    tokens = _batches(1, batch=4, length=17)[0]
    model32 = _gpt()
    full = measure_step(model32, tokens[:, :-1], tokens[:, 1:], repeats=1)
    half = measure_step(_gpt().half(), tokens[:, :-1], tokens[:, 1:], repeats=1)
    ratio = full["activations_mb"] / half["activations_mb"]
    assert 1.7 < ratio < 2.3, (full, half)


def test_growth_and_backoff_follow_pytorchs_rules():
    weight = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    optimizer = SGD([weight], lr=0.0)
    scaler = GradScaler(init_scale=4.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=2)
    pattern = [False, False, True, False, True, False, False, False]
    scales = []
    for bad in pattern:
        weight.grad = Tensor(np.array([np.nan if bad else 1.0, 1.0], dtype=np.float32))
        scaler.step(optimizer)
        scaler.update()
        scales.append(scaler.get_scale())
    # By hand from torch.amp.GradScaler's rules: x3 after two good steps in a row, x0.25 after a
    # skipped one (which also restarts the count). The next test compares with torch itself.
    assert scales == [4.0, 12.0, 3.0, 3.0, 0.75, 0.75, 2.25, 2.25]


def test_scale_sequence_equals_torch_when_available():
    torch = pytest.importorskip("torch")
    ours = GradScaler(init_scale=8.0, growth_interval=3)
    theirs = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=3)
    w_ours = Tensor(np.ones(1, dtype=np.float32), requires_grad=True)
    w_theirs = torch.ones(1, requires_grad=True)
    opt_ours, opt_theirs = SGD([w_ours], lr=0.0), torch.optim.SGD([w_theirs], lr=0.0)
    theirs.scale(torch.ones(1))  # torch creates its scale lazily, on the first scale() call
    for step in range(12):
        value = float("inf") if step in (2, 3, 9) else 1.0
        w_ours.grad = Tensor(np.array([value], dtype=np.float32))
        w_theirs.grad = torch.tensor([value])
        for scaler, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            scaler.step(opt)
            scaler.update()
        assert ours.get_scale() == theirs.get_scale(), step


def test_unscale_then_clip_then_step_and_state_dict_round_trip():
    manual_seed(0)
    layer = Linear(3, 2)
    optimizer = SGD(list(layer.parameters()), lr=0.1)
    scaler = GradScaler(init_scale=1024.0)
    scaler.scale(layer(Tensor(np.ones((1, 3), dtype=np.float32))).sum()).backward()
    scaler.unscale_(optimizer)
    np.testing.assert_allclose(layer.bias.grad.data, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="already called on this optimizer"):
        scaler.unscale_(optimizer)
    scaler.step(optimizer)  # does not unscale a second time
    np.testing.assert_allclose(layer.bias.grad.data, [1.0, 1.0])
    scaler.update()
    copy = GradScaler()
    copy.load_state_dict(scaler.state_dict())
    assert copy.state_dict() == scaler.state_dict()
    with pytest.raises(KeyError, match="missing"):
        copy.load_state_dict({"scale": 1.0})


def test_disabled_scaler_is_a_pass_through():
    scaler = GradScaler(enabled=False)
    loss = Tensor(np.array(2.0, dtype=np.float32))
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0 and not scaler.is_enabled()


@pytest.mark.parametrize("kwargs, match", [
    ({"init_scale": -1.0}, "init_scale must be a finite number > 0"),
    ({"growth_factor": 1.0}, "growth_factor must be a finite number > 1"),
    ({"backoff_factor": 1.5}, r"backoff_factor must be a finite number in \(0, 1\)"),
    ({"growth_interval": 0}, "growth_interval must be an int >= 1"),
    ({"device": "cuda"}, "one device, 'cpu'"),
])
def test_bad_scaler_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GradScaler(**kwargs)


def test_bad_uses_are_clear_errors():
    scaler = GradScaler()
    with pytest.raises(RuntimeError, match="no step"):
        scaler.update()
    with pytest.raises(TypeError, match="must be a Tensor"):
        scaler.scale(3.0)
    with pytest.raises(TypeError, match="param_groups"):
        scaler.step(object())
    with pytest.raises(ValueError, match="new_scale must be a positive number"):
        scaler.update(new_scale=0)
    with pytest.raises(ValueError, match="expected a float32 model.*float16"):
        MasterWeights(_gpt().half())
    with pytest.raises(TypeError, match="model must be a Module"):
        MasterWeights([1, 2])


def test_reachable_where_pytorch_code_looks():
    from tinytorch.amp import GradScaler as reexported

    assert reexported is GradScaler
