"""Module 18: magnitude pruning with persistent masks, schedules, structured (channel) pruning."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Dropout, Flatten, Linear, ReLU, Sequential, Tanh
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.spatial import BatchNorm1d, BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import load_checkpoint, save_checkpoint
from tinytorch.systems import compression as C
from tinytorch.systems import quantization as Q


def mlp(seed=0) -> Sequential:
    manual_seed(seed)
    return Sequential(Flatten(), Linear(12, 16), ReLU(), Linear(16, 8), ReLU(), Linear(8, 3))


def batch(seed=0, n=10):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal((n, 1, 3, 4)).astype(np.float32)), Tensor(rng.integers(0, 3, n))


def train_steps(model, optimizer, steps, seed=0):
    x, y = batch(seed)
    for _ in range(steps):
        optimizer.zero_grad()
        CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()


# ----- masks -------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", ["layer", "global"])
@pytest.mark.parametrize("amount", [0.0, 0.3, 0.75, 1.0])
def test_sparsity_is_what_was_asked(scope, amount):
    model = C.magnitude_prune(mlp(), amount, scope=scope)
    rows = C.sparsity_report(model)
    sizes = [12 * 16, 16 * 8, 8 * 3]
    if scope == "layer":
        assert [zeros for _, zeros, _, _ in rows[:-1]] == [round(amount * n) for n in sizes]
    assert rows[-1][1] == (round(amount * sum(sizes)) if scope == "global" else sum(round(amount * n) for n in sizes))
    assert [name for name, *_ in rows] == ["1", "3", "5", "total"]


def test_global_pruning_ranks_all_layers_together():
    model = mlp()
    everything = np.concatenate([np.abs(m.weight.data).ravel() for m in model if isinstance(m, Linear)])
    threshold = np.sort(everything)[round(0.6 * everything.size) - 1]
    C.magnitude_prune(model, 0.6)
    for layer in (model[1], model[3], model[5]):
        pruned = layer.weight_mask.data == 0
        assert (np.abs(layer.weight_orig.data[pruned]) <= threshold).all()
        assert (np.abs(layer.weight_orig.data[~pruned]) >= threshold).all()


def test_masks_only_grow_when_pruning_again():
    model = C.magnitude_prune(mlp(), 0.5)
    first = [layer.weight_mask.data.copy() for layer in (model[1], model[3], model[5])]
    train_steps(model, Adam(model.parameters(), lr=0.05), 5)
    C.magnitude_prune(model, 0.7)
    for old, layer in zip(first, (model[1], model[3], model[5])):
        assert (layer.weight_mask.data <= old).all(), "a pruned weight must never come back"


@pytest.mark.parametrize("make_optimizer", [lambda p: Adam(p, lr=0.02), lambda p: AdamW(p, lr=0.02),
                                            lambda p: SGD(p, lr=0.1, momentum=0.9)])
def test_momentum_built_before_pruning_does_not_resurrect_weights(make_optimizer):
    model = mlp(1)
    optimizer = make_optimizer(model.parameters())
    train_steps(model, optimizer, 6)  # momentum everywhere
    C.magnitude_prune(model, 0.8)
    masks = [layer.weight_mask.data.copy() for layer in (model[1], model[3], model[5])]
    train_steps(model, optimizer, 6)
    with no_grad():
        for mask, layer in zip(masks, (model[1], model[3], model[5])):
            assert np.count_nonzero(layer.weight.data[mask == 0]) == 0
            assert np.count_nonzero(layer.weight.data[mask == 1]) == mask.sum()


def test_gradient_of_weight_orig_is_masked():
    model = C.magnitude_prune(mlp(2), 0.5)
    x, y = batch(2)
    CrossEntropyLoss()(model(x), y).backward()
    layer = model[3]
    assert (layer.weight_orig.grad.data[layer.weight_mask.data == 0] == 0).all()
    assert np.count_nonzero(layer.weight_orig.grad.data) > 0


def test_checkpoint_round_trip_keeps_masks_and_resumes(tmp_path):
    model = C.magnitude_prune(mlp(3), 0.7)
    optimizer = Adam(model.parameters(), lr=0.01)
    train_steps(model, optimizer, 3)
    path = save_checkpoint(tmp_path / "pruned.npz", model, optimizer)
    assert {"1.weight_orig", "1.weight_mask", "1.bias"} <= set(model.state_dict())
    fresh = mlp(4)
    with pytest.raises(ValueError):
        load_checkpoint(path, fresh)  # an unpruned model does not have the masks
    C.reapply_pruning(fresh, path)
    fresh_optimizer = Adam(fresh.parameters(), lr=0.01)
    load_checkpoint(path, fresh, fresh_optimizer)
    train_steps(model, optimizer, 2, seed=5)
    train_steps(fresh, fresh_optimizer, 2, seed=5)
    with no_grad():
        for a, b in zip(model.parameters(), fresh.parameters()):
            np.testing.assert_array_equal(a.data, b.data)
    assert C.sparsity_report(fresh)[-1][3] == C.sparsity_report(model)[-1][3]


def test_remove_pruning_and_quantize_compose():
    model = C.magnitude_prune(mlp(5), 0.6)
    x, _ = batch(6)
    with no_grad():
        before = model(x).data
    q = Q.quantize_model(model, [x])
    assert isinstance(q[1], Q.QuantizedLinear)
    assert np.count_nonzero(q[1].weight_q.data) == np.count_nonzero(model[1].weight_mask.data)
    C.remove_pruning(model)
    assert type(model[1]) is Linear and set(model.state_dict()) == set(mlp().state_dict())
    with no_grad():
        np.testing.assert_array_equal(model(x).data, before)


def test_bad_pruning_arguments():
    for amount in (-0.01, 1.01, float("nan")):
        with pytest.raises(ValueError, match=r"amount must be in \[0, 1\]"):
            C.magnitude_prune(mlp(), amount)
    with pytest.raises(TypeError, match="amount"):
        C.magnitude_prune(mlp(), "half")
    with pytest.raises(ValueError, match="scope"):
        C.magnitude_prune(mlp(), 0.5, scope="row")
    with pytest.raises(ValueError, match="no Linear"):
        C.magnitude_prune(Sequential(ReLU()), 0.5)
    with pytest.raises(ValueError, match="no Linear or Conv2d there"):
        C.reapply_pruning(mlp(), {"0.weight_mask": np.ones(3)})


def test_sparsity_schedule_is_cubic_and_ends_at_the_target():
    schedule = C.sparsity_schedule(0.9, 3)
    assert schedule[-1] == 0.9 and schedule == sorted(schedule)
    assert np.isclose(schedule[0], 0.9 * (1 - (2 / 3) ** 3))
    with pytest.raises(ValueError, match="steps"):
        C.sparsity_schedule(0.9, 0)
    with pytest.raises(ValueError, match="final_sparsity"):
        C.sparsity_schedule(1.2, 3)


# ----- structured pruning ------------------------------------------------------------------
def test_zero_norm_neurons_are_removed_without_changing_outputs():
    model = Sequential(Linear(6, 10), Tanh(), Dropout(0.2), Linear(10, 7), ReLU(), Linear(7, 2))
    manual_seed(7)
    model[0].weight.data[[2, 5, 7, 8, 9]] = 0
    model[0].bias.data[[2, 5, 7, 8, 9]] = 0
    model[3].weight.data[[0, 6]] = 0
    model[3].bias.data[[0, 6]] = 0
    model.eval()
    small = C.prune_channels(model, 0.5, norm="l2")  # 10 -> 5 (exactly the zero ones); 7 -> 4 (two zero + one)
    assert [m.weight.shape for m in small if isinstance(m, Linear)] == [(5, 6), (4, 5), (2, 4)]
    narrower = C.prune_channels(model, 2 / 7, norm="l1")  # 10 -> 7, 7 -> 5: only zero rows go
    x = Tensor(np.random.default_rng(7).standard_normal((3, 6)).astype(np.float32))
    with no_grad():
        np.testing.assert_allclose(narrower(x).data, model(x).data, atol=1e-6)
    assert C.count_parameters(narrower) < C.count_parameters(model)


def test_conv_bn_flatten_linear_chain_shrinks_consistently():
    manual_seed(8)
    model = Sequential(Conv2d(3, 8, 3, padding=1, bias=False), BatchNorm2d(8), ReLU(), MaxPool2d(2),
                       Conv2d(8, 6, 3, padding=1), ReLU(), Flatten(), Linear(6 * 4 * 4, 10, bias=False),
                       BatchNorm1d(10), ReLU(), Linear(10, 4))
    x = Tensor(np.random.default_rng(8).standard_normal((2, 3, 8, 8)).astype(np.float32))
    model.eval()
    small = C.prune_channels(model, 0.5)
    assert small[0].weight.shape == (4, 3, 3, 3) and small[1].num_features == 4
    assert small[4].weight.shape == (3, 4, 3, 3) and small[7].weight.shape == (5, 48)
    assert small[8].running_var.shape == (5,) and small[10].weight.shape == (4, 5)
    with no_grad():
        assert small(x).shape == (2, 4)
    # the BN-folded norm decides: a channel with tiny gamma goes even if its conv weights are large
    model[1].weight.data[:] = 1
    model[1].weight.data[0] = 1e-6
    model[0].weight.data[0] *= 100
    kept = C.prune_channels(model, 0.5)[0].weight.data
    assert not any(np.allclose(kept[i], model[0].weight.data[0]) for i in range(4))


def test_prune_channels_refuses_what_it_cannot_follow():
    with pytest.raises(TypeError, match="Sequential"):
        C.prune_channels(Linear(3, 3), 0.5)
    with pytest.raises(ValueError, match="at least two"):
        C.prune_channels(Sequential(Linear(3, 3)), 0.5)
    with pytest.raises(ValueError, match=r"amount must be in \[0, 1\]"):
        C.prune_channels(mlp(), 1.5)
    with pytest.raises(ValueError, match="norm"):
        C.prune_channels(mlp(), 0.5, norm="l0")
    with pytest.raises(TypeError, match="remove_pruning"):
        C.prune_channels(C.magnitude_prune(mlp(), 0.5), 0.5)

    class Odd(ReLU):
        pass

    with pytest.raises(TypeError, match="cannot follow"):
        C.prune_channels(Sequential(Linear(3, 4), Sequential(ReLU()), Linear(4, 2)), 0.5)
    assert C.prune_channels(Sequential(Linear(3, 4), Odd(), Linear(4, 2)), 0.5)[0].weight.shape == (2, 3)
