"""The optimizers actually optimise: small problems trained end to end with autograd."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.layers import Linear, ReLU, Sequential
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.optim import SGD, Adam, AdamW, RMSprop, clip_grad_norm_
from tinytorch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, OneCycleLR, SequentialLR


def quadratic_losses(make_optimizer, steps):
    """L(θ) = ½ Σ aᵢ (θᵢ − cᵢ)² with curvatures from 1 to 50; returns the loss at every step."""
    rng = np.random.default_rng(0)
    curvature, centre = Tensor(np.logspace(0, np.log10(50), 20)), Tensor(rng.standard_normal(20))
    theta = Tensor(np.zeros(20), requires_grad=True)
    opt = make_optimizer([theta])
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        diff = theta - centre
        loss = (curvature * diff * diff).sum() * 0.5
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), theta, centre


def test_adam_minimises_a_quadratic():
    losses, theta, centre = quadratic_losses(lambda ps: Adam(ps, lr=0.1), 300)
    assert losses[-1] < 1e-6 * losses[0], f"Adam: loss went from {losses[0]:.3g} to {losses[-1]:.3g}"
    np.testing.assert_allclose(theta.data, centre.data, atol=1e-3)


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.03),
    lambda ps: SGD(ps, lr=0.02, momentum=0.9, nesterov=True),
    lambda ps: RMSprop(ps, lr=0.03),
    lambda ps: AdamW(ps, lr=0.1, weight_decay=0.0),
], ids=["sgd", "nesterov", "rmsprop", "adamw"])
def test_every_optimizer_decreases_the_quadratic(make):
    losses, _, _ = quadratic_losses(make, 200)
    assert losses[-1] < 1e-3 * losses[0], f"loss went from {losses[0]:.3g} to {losses[-1]:.3g}"


def test_momentum_beats_plain_sgd_on_an_ill_conditioned_problem():
    plain, _, _ = quadratic_losses(lambda ps: SGD(ps, lr=0.03), 150)
    heavy, _, _ = quadratic_losses(lambda ps: SGD(ps, lr=0.03, momentum=0.8), 150)
    assert heavy[-1] < 1e-3 * plain[-1]


def test_linear_regression_recovers_the_true_weights():
    manual_seed(0)
    rng = np.random.default_rng(1)
    true_w, true_b = rng.standard_normal((1, 3)).astype(np.float32), np.float32(0.5)
    x = Tensor(rng.standard_normal((128, 3)).astype(np.float32))
    y = Tensor(x.data @ true_w.T + true_b)
    model = Linear(3, 1)
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(200):
        opt.zero_grad()
        MSELoss()(model(x), y).backward()
        opt.step()
    np.testing.assert_allclose(model.weight.data, true_w, atol=1e-3)
    np.testing.assert_allclose(model.bias.data, [true_b], atol=1e-3)


def test_mlp_training_loop_with_schedule_and_clipping():
    """AdamW + warm-up/cosine + gradient clipping fits a small 3-class problem."""
    manual_seed(0)
    rng = np.random.default_rng(2)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], dtype=np.float32)
    labels = rng.integers(0, 3, 240)
    x = Tensor((centres[labels] + 0.5 * rng.standard_normal((240, 2))).astype(np.float32))
    y = Tensor(labels)
    model = Sequential(Linear(2, 32), ReLU(), Linear(32, 3))
    opt = AdamW(model.parameters(), lr=0.05, weight_decay=1e-3)
    sched = SequentialLR(opt, [LinearLR(opt, start_factor=0.2, total_iters=10), CosineAnnealingLR(opt, T_max=90)],
                         milestones=[10])
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = CrossEntropyLoss()(model(x), y)
        loss.backward()
        clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    accuracy = (model(x).data.argmax(1) == labels).mean()
    assert losses[-1] < 0.25 * losses[0] and accuracy > 0.95, f"loss {losses[0]:.3f} → {losses[-1]:.3f}, acc {accuracy}"


def test_onecycle_with_sgd_trains():
    losses_before, losses_after = [], []
    manual_seed(1)
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((64, 4)).astype(np.float32))
    y = Tensor((x.data @ rng.standard_normal((4, 1)).astype(np.float32)) ** 2)
    model = Sequential(Linear(4, 16), ReLU(), Linear(16, 1))
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=0.05, total_steps=150)
    for step in range(149):
        opt.zero_grad()
        loss = MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        (losses_before if step < 10 else losses_after).append(loss.item())
    assert np.mean(losses_after[-10:]) < 0.5 * np.mean(losses_before)
