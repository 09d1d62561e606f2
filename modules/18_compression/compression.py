# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 18 — Compression: pruning, distillation and low-rank layers
#
# Module 17 made every weight smaller. This module makes the model have *fewer* of them. Trained
# networks are heavily over-parameterised: most weights can be set to zero, whole channels
# removed, big matrices replaced by products of thin ones, or a big network's knowledge poured
# into a small one — at a cost in accuracy that we measure, on real digits, at every step.
#
# **You will learn to**
#
# 1. prune by **magnitude**, layer by layer and globally, with **masks that persist** through
#    optimizer steps (Adam's momentum included) and checkpoints — PyTorch's `weight_orig * mask`
#    reparametrization;
# 2. schedule **iterative pruning** with fine-tuning, and read accuracy-vs-sparsity curves;
# 3. prune whole **channels** (structured pruning) so the model becomes a genuinely smaller dense
#    model that runs faster — and measure the speed-up;
# 4. train a small student from a big teacher with **knowledge distillation** (temperature, α,
#    the T² factor) and compare it with the same student trained alone;
# 5. factorize Linear layers with the **SVD** and account for parameters and error;
# 6. store sparse weights as **CSR** and see when it beats dense storage.
#
# **Prerequisites:** modules 01–09 and 17 (`quantization.model_nbytes`, `replace_layers`).
# **Exports to:** `tinytorch/systems/compression.py`, re-exported by `tinytorch.systems`.

# %%
#| default_exp systems.compression

# %%
#| export
from __future__ import annotations

import copy
import json
import numbers
import os
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from tinytorch.core.activations import log_softmax, softmax
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import (
    GELU,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Tanh,
)
from tinytorch.core.losses import cross_entropy
from tinytorch.core.spatial import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout2d,
    MaxPool2d,
)
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import _atomic_write
from tinytorch.systems.quantization import replace_layers

# %% [markdown]
# ## 1. Magnitude pruning with masks that persist
#
# The simplest guess at which weights matter: the big ones. **Magnitude pruning** sets the
# smallest `amount` fraction of weights to zero — within each layer (*layer-wise*), or ranking
# all layers' weights together (*global*: layers whose weights are all small lose more).
#
# Setting `weight.data[small] = 0` once is not enough. The next optimizer step moves those
# weights again: their gradient is not zero, and Adam's momentum remembers the past. The zeros
# must be *enforced*. We follow PyTorch's reparametrization: a pruned layer keeps its trained
# values as the Parameter `weight_orig`, a 0/1 buffer `weight_mask`, and computes its weight as
# their product every time it is used:
#
# ```
#   before:  Linear      weight (Parameter)                            state_dict: weight, bias
#   after:   PrunedLinear weight_orig (Parameter) ─┐
#                         weight_mask (buffer)  ───┴─► weight = weight_orig * weight_mask
#                                                                       state_dict: weight_orig, weight_mask, bias
# ```
#
# - The effective weight is zero where the mask is, **whatever the optimizer does** to
#   `weight_orig` (momentum can still move those entries; they are multiplied by 0).
# - The gradient reaching `weight_orig` is the effective weight's gradient times the mask.
# - The mask is a persistent buffer, so `state_dict()` and module 07's checkpoints save it; to
#   load such a checkpoint into a fresh model, `reapply_pruning` first gives the model the same
#   pruned layers (as PyTorch needs `prune` called before `load_state_dict`).
# - `remove_pruning` folds the mask in for good: a plain `Linear` whose weight has the zeros.
#
# The pruned layer is a subclass of `Linear` (`Conv2d`) that shares the original Parameters, so
# an optimizer created before pruning keeps working, and module 17's `quantize_model` still
# recognises it.

# %%
#| export
def _check_amount(amount, where: str, name: str = "amount") -> float:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number in [0, 1], got {amount!r}")
    if not 0 <= amount <= 1:
        raise ValueError(f"{where}: {name} must be in [0, 1] (the fraction of weights to remove), got {amount}")
    return float(amount)


class _Pruned:
    """Mixin of the pruned layers: weight = weight_orig * weight_mask, recomputed on every use."""

    def _init_pruned(self, layer, mask: np.ndarray | None) -> None:
        Module.__init__(self)
        self.weight_orig = layer.weight  # the same Parameter object: existing optimizers keep working
        if layer.bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = layer.bias
        mask = np.ones(layer.weight.shape, dtype=layer.weight.dtype) if mask is None else mask
        self.register_buffer("weight_mask", Tensor(mask.astype(layer.weight.dtype)))

    @property
    def weight(self) -> Tensor:
        """The effective weight (a graph op when gradients are on: its gradient reaches weight_orig masked)."""
        return self.weight_orig * self.weight_mask

    def sparsity(self) -> float:
        return 1.0 - float(self.weight_mask.data.mean()) if self.weight_mask.data.size else 0.0


class PrunedLinear(_Pruned, Linear):
    """Linear whose weight is weight_orig * weight_mask (state_dict: weight_orig, weight_mask, bias)."""

    def __init__(self, linear: Linear, mask: np.ndarray | None = None):
        self._init_pruned(linear, mask)
        self.in_features, self.out_features = linear.in_features, linear.out_features


_CONV_ATTRIBUTES = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                    "padding_mode")


class PrunedConv2d(_Pruned, Conv2d):
    """Conv2d whose weight is weight_orig * weight_mask (state_dict: weight_orig, weight_mask, bias)."""

    def __init__(self, conv: Conv2d, mask: np.ndarray | None = None):
        self._init_pruned(conv, mask)
        for name in _CONV_ATTRIBUTES:
            setattr(self, name, getattr(conv, name))


def _prunable(module, layer_types) -> bool:
    return isinstance(module, layer_types)


def _as_pruned(layer) -> Module:
    if isinstance(layer, _Pruned):
        return layer
    return PrunedConv2d(layer) if isinstance(layer, Conv2d) else PrunedLinear(layer)


def _check_layer_types(layer_types, where: str) -> tuple:
    layer_types = tuple(layer_types)
    if not layer_types or not all(t in (Linear, Conv2d) for t in layer_types):
        raise ValueError(f"{where}: layer_types must contain Linear and/or Conv2d, got {layer_types!r}")
    return layer_types


def prunable_layers(model: Module, layer_types=(Linear, Conv2d)) -> list:
    """[(name, layer)] of the layers magnitude pruning works on, in model order."""
    layer_types = _check_layer_types(layer_types, "prunable_layers")
    return [(name, m) for name, m in model.named_modules() if _prunable(m, layer_types)]


def magnitude_masks(scores: list, amount: float) -> list:
    """0/1 masks that zero the `amount` fraction of all entries with the smallest scores (ties: lowest index).

    scores: a list of arrays (one per layer, ranked together). Exactly round(amount * total)
    entries get 0.
    """
    total = sum(s.size for s in scores)
    k = int(round(amount * total))
    # Hint: concatenate the flattened scores; the k smallest are np.argpartition(flat, k - 1)[:k]
    #       (use a stable argsort instead if you like); mark them 0 in a ones array, then split it
    #       back into arrays of each score's shape (np.split at the cumulative sizes).
    ### BEGIN SOLUTION
    flat = np.concatenate([s.reshape(-1) for s in scores]) if scores else np.empty(0)
    keep = np.ones(total, dtype=np.float32)
    if k > 0:
        keep[np.argsort(flat, kind="stable")[:k]] = 0
    pieces = np.split(keep, np.cumsum([s.size for s in scores])[:-1])
    return [piece.reshape(s.shape) for piece, s in zip(pieces, scores)]
    ### END SOLUTION


def magnitude_prune(model: Module, amount: float, scope: str = "global", layer_types=(Linear, Conv2d)) -> Module:
    """Zero the smallest-|w| `amount` fraction of weights, per layer (scope='layer') or over all ('global').

    In place: every Linear/Conv2d (of `layer_types`) becomes a PrunedLinear/PrunedConv2d whose
    mask is the new one. Already-pruned weights count as the smallest, so masks only ever lose
    ones: `amount` is the sparsity after the call. Returns the model.
    """
    where = "magnitude_prune"
    if not isinstance(model, Module):
        raise TypeError(f"{where}: model must be a Module, got {type(model).__name__}")
    amount = _check_amount(amount, where)
    if scope not in ("global", "layer"):
        raise ValueError(f"{where}: scope must be 'global' or 'layer', got {scope!r}")
    layer_types = _check_layer_types(layer_types, where)
    model = replace_layers(model, lambda m: _prunable(m, layer_types) and not isinstance(m, _Pruned), _as_pruned)
    layers = [layer for _, layer in prunable_layers(model, layer_types)]
    if not layers:
        raise ValueError(f"{where}: the model has no {' or '.join(t.__name__ for t in layer_types)} layer to prune")
    # Pruned entries score -1, below every |w|: they stay pruned.
    scores = [np.where(layer.weight_mask.data > 0, np.abs(layer.weight_orig.data), -1.0) for layer in layers]
    if scope == "global":
        masks = magnitude_masks(scores, amount)
    else:
        masks = [magnitude_masks([score], amount)[0] for score in scores]
    for layer, mask in zip(layers, masks):
        layer.weight_mask.data[...] = mask
    return model


def sparsity_report(model: Module) -> list:
    """[(name, zeros, total, sparsity)] of each Linear/Conv2d's effective weight, then ('total', ...)."""
    rows, zeros_all, total_all = [], 0, 0
    with no_grad():
        for name, layer in prunable_layers(model):
            weight = layer.weight.data
            zeros = int(np.count_nonzero(weight == 0))
            rows.append((name, zeros, weight.size, zeros / weight.size if weight.size else 0.0))
            zeros_all, total_all = zeros_all + zeros, total_all + weight.size
    rows.append(("total", zeros_all, total_all, zeros_all / total_all if total_all else 0.0))
    return rows


def remove_pruning(model: Module) -> Module:
    """Make pruning permanent, in place: every pruned layer becomes a plain Linear/Conv2d with the zeros."""
    def fold(layer):
        with no_grad():
            effective = layer.weight.data.copy()
        layer.weight_orig.data = effective  # the same Parameter object now holds the masked values
        plain = Conv2d.__new__(Conv2d) if isinstance(layer, Conv2d) else Linear.__new__(Linear)
        Module.__init__(plain)
        for name, value in vars(layer).items():
            if not name.startswith("_") and name != "training":
                object.__setattr__(plain, name, value)
        plain.weight = layer.weight_orig
        if layer.bias is None:
            plain.register_parameter("bias", None)
        else:
            plain.bias = layer.bias
        plain.training = layer.training
        return plain

    return replace_layers(model, lambda m: isinstance(m, _Pruned), fold)


def reapply_pruning(model: Module, state) -> Module:
    """Give `model` the pruned layers a saved state has, so the state (masks included) can be loaded.

    state: a state_dict (name -> array), or the path of a module 07 checkpoint. Every layer
    with a `<name>.weight_mask` entry becomes a PrunedLinear/PrunedConv2d (in place). Returns the model.
    """
    if isinstance(state, (str, os.PathLike)):
        with np.load(state, allow_pickle=False) as archive:
            keys = [key[len("model/"):] for key in archive.files if key.startswith("model/")]
    elif isinstance(state, Mapping):
        keys = list(state)
    else:
        raise TypeError(f"reapply_pruning: state must be a state_dict or a checkpoint path, got {type(state).__name__}")
    pruned = {key[:-len(".weight_mask")] if key != "weight_mask" else "" for key in keys
              if key == "weight_mask" or key.endswith(".weight_mask")}
    modules = dict(model.named_modules())
    for name in pruned:
        if name not in modules or not isinstance(modules[name], (Linear, Conv2d)):
            raise ValueError(f"reapply_pruning: the state has a mask for {name!r}, but the model has no Linear "
                             "or Conv2d there")
    targets = {id(modules[name]) for name in pruned}
    return replace_layers(model, lambda m: id(m) in targets and not isinstance(m, _Pruned), _as_pruned)


def sparsity_schedule(final_sparsity: float, steps: int, initial_sparsity: float = 0.0) -> list:
    """Sparsity after each of `steps` pruning rounds, cubic (Zhu & Gupta 2017): fast first, gentle last.

    s_t = s_f + (s_i - s_f) * (1 - t / steps)^3 for t = 1 .. steps.
    """
    final_sparsity = _check_amount(final_sparsity, "sparsity_schedule", "final_sparsity")
    initial_sparsity = _check_amount(initial_sparsity, "sparsity_schedule", "initial_sparsity")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"sparsity_schedule: steps must be a positive int, got {steps!r}")
    return [final_sparsity + (initial_sparsity - final_sparsity) * (1 - t / steps) ** 3 for t in range(1, steps + 1)]


# %%
#| test
def test_unit_magnitude_prune():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    model = Sequential(Linear(10, 8), ReLU(), Linear(8, 4))
    model[0].weight.data *= 10  # the first layer's weights are all larger
    magnitude_prune(model, 0.5, scope="layer")
    report = {name: sparsity for name, _, _, sparsity in sparsity_report(model)}
    assert report["0"] == 0.5 and report["2"] == 0.5, f"layer-wise 50% must prune half of each layer: {report}"
    assert isinstance(model[0], PrunedLinear) and isinstance(model[0], Linear)
    kept = np.abs(model[0].weight_orig.data)[model[0].weight_mask.data == 1]
    dropped = np.abs(model[0].weight_orig.data)[model[0].weight_mask.data == 0]
    assert kept.min() >= dropped.max(), "magnitude pruning must drop the smallest |w|"
    magnitude_prune(model, 0.8, scope="global")
    report = {name: sparsity for name, _, _, sparsity in sparsity_report(model)}
    zeros = sparsity_report(model)[-1][1]
    assert zeros == round(0.8 * 112), f"global 80% of 112 weights must zero {round(0.8 * 112)}, zeroed {zeros}"
    assert report["2"] > report["0"], "globally, the layer with small weights must lose more"
    for bad in (-0.1, 1.5):
        try:
            magnitude_prune(model, bad)
        except ValueError as error:
            assert "amount" in str(error) and "[0, 1]" in str(error), str(error)
        else:
            raise AssertionError(f"amount={bad} must raise ValueError")
    print(f"✅ magnitude pruning: layer-wise 50/50, global 80% -> layers {report['0']:.0%} / {report['2']:.0%}")


test_unit_magnitude_prune()

# %% [markdown]
# ### The masks survive Adam and checkpoints
#
# The test below first shows the problem — zero the weights by hand, take Adam steps with the
# momentum built up before, and the zeros come back — then the solution.

# %%
#| test
def test_unit_masks_persist():
    import tempfile

    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.tensor import manual_seed
    from tinytorch.core.training import load_checkpoint, save_checkpoint

    def steps(model, optimizer, n):
        x = Tensor(np.random.default_rng(0).standard_normal((16, 6)).astype(np.float32))
        y = Tensor(np.arange(16) % 3)
        for _ in range(n):
            optimizer.zero_grad()
            CrossEntropyLoss()(model(x), y).backward()
            optimizer.step()

    manual_seed(1)
    naive = Sequential(Linear(6, 12), ReLU(), Linear(12, 3))
    opt = Adam(naive.parameters(), lr=0.01)
    steps(naive, opt, 5)  # build up momentum
    small = np.abs(naive[0].weight.data) < np.median(np.abs(naive[0].weight.data))
    naive[0].weight.data[small] = 0
    steps(naive, opt, 3)
    resurrected = np.count_nonzero(naive[0].weight.data[small])
    assert resurrected > 0, "zeroing by hand should be undone by Adam's momentum (that is the point)"

    manual_seed(1)
    model = Sequential(Linear(6, 12), ReLU(), Linear(12, 3))
    opt = Adam(model.parameters(), lr=0.01)  # created BEFORE pruning: must keep working
    steps(model, opt, 5)
    magnitude_prune(model, 0.5)
    before = model[0].weight_orig.data.copy()
    steps(model, opt, 3)
    with no_grad():
        effective = model[0].weight.data
    mask = model[0].weight_mask.data
    assert (effective[mask == 0] == 0).all(), "pruned weights must stay exactly 0 through Adam steps"
    assert (effective[mask == 1] != before[mask == 1]).all(), "the kept weights must go on training"
    with tempfile.TemporaryDirectory() as folder:
        path = save_checkpoint(os.path.join(folder, "pruned.npz"), model, opt)
        manual_seed(2)
        fresh = Sequential(Linear(6, 12), ReLU(), Linear(12, 3))
        reapply_pruning(fresh, path)
        load_checkpoint(path, fresh, Adam(fresh.parameters(), lr=0.01))
    assert np.array_equal(fresh[0].weight_mask.data, mask), "the mask must round-trip through a checkpoint"
    with no_grad():
        assert np.array_equal(fresh[0].weight.data, model[0].weight.data)
    remove_pruning(fresh)
    assert type(fresh[0]) is Linear and "0.weight" in fresh.state_dict(), "remove_pruning gives back a plain Linear"
    assert (fresh[0].weight.data[mask == 0] == 0).all(), "... whose weight keeps the zeros"
    print(f"✅ by hand, Adam resurrected {resurrected} zeroed weights; with masks none; the mask survives a checkpoint")


test_unit_masks_persist()

# %% [markdown]
# ## 2. Structured pruning: a smaller dense model
#
# Unstructured zeros save nothing at run time on a CPU: a dense matmul multiplies zeros as fast
# as anything else (sparse kernels pay off only at very high sparsity). Removing a **whole
# output channel** — a row of a Linear weight, a filter of a conv — does: the layer gets
# narrower, and so does the *next* layer's input.
#
# ```
#   Conv(1→32) ─ BN(32) ─ ReLU ─ Pool ─ Conv(32→64) ─ … ─ Flatten ─ Linear(64·7·7 → 128) ─ … ─ Linear(→10)
#        ✂ rows          ✂ γ, β, μ, σ²     ✂ input columns      ✂ rows                     ✂ columns per channel
#   Conv(1→16) ─ BN(16) ─ ReLU ─ Pool ─ Conv(16→32) ─ … ─ Flatten ─ Linear(32·7·7 → 64) ─ … ─ Linear(→10)
# ```
#
# Which channels? The ones with the smallest **L1 or L2 norm** of their weights. With a
# BatchNorm after the conv, the channel's real size is its weight scaled by `|γ|/√(σ² + ε)` (BN
# multiplies by that), so we rank by the norm of the BN-folded weight. The last layer (the
# classes) is never pruned. After a Flatten, output channel `c` of the last conv owns the `H·W`
# consecutive input columns `c·HW … c·HW + HW − 1` of the next Linear.
#
# `prune_channels` works on `Sequential` chains like the milestone models; anything it cannot
# follow the channels through is a clear error.

# %%
#| export
_CHANNELWISE = (ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, Dropout, Dropout2d, MaxPool2d, AvgPool2d,
                AdaptiveAvgPool2d, Identity)


def channel_scores(weight: np.ndarray, norm: str = "l1") -> np.ndarray:
    """Norm of each output channel's weights: (O, ...) -> (O,). norm: 'l1' or 'l2'."""
    rows = weight.reshape(weight.shape[0], -1)
    # Hint: L1 = sum of |w| over each row, L2 = sqrt of the sum of squares.
    ### BEGIN SOLUTION
    if norm == "l1":
        return np.abs(rows).sum(axis=1)
    return np.sqrt((rows.astype(np.float64) ** 2).sum(axis=1))
    ### END SOLUTION


def _copy_linear(old: Linear, weight: np.ndarray, bias: np.ndarray | None) -> Linear:
    new = Linear(weight.shape[1], weight.shape[0], bias=bias is not None, dtype=weight.dtype)
    new.weight.data[...] = weight
    if bias is not None:
        new.bias.data[...] = bias
    return new


def _copy_conv(old: Conv2d, weight: np.ndarray, bias: np.ndarray | None) -> Conv2d:
    new = Conv2d(weight.shape[1], weight.shape[0], old.kernel_size, old.stride, old.padding, old.dilation,
                 bias=bias is not None, dtype=weight.dtype)
    new.weight.data[...] = weight
    if bias is not None:
        new.bias.data[...] = bias
    return new


def _copy_bn(old, keep: np.ndarray):
    new = type(old)(len(keep), old.eps, old.momentum, old.affine, old.track_running_stats)
    for name, tensor in list(old.named_parameters()) + list(old.named_buffers()):
        target = dict(list(new.named_parameters()) + list(new.named_buffers()))[name]
        target.data[...] = tensor.data[keep] if tensor.data.ndim == 1 else tensor.data
    return new


def _producer(layer) -> bool:
    return type(layer) in (Linear, Conv2d)


def prune_channels(model: Sequential, amount: float, norm: str = "l1") -> Sequential:
    """A new, narrower Sequential: the `amount` fraction of output channels with the smallest norm removed
    from every Linear/Conv2d but the last, and the layers after each one reshaped to match.

    Supported between two such layers: BatchNorm1d/2d, activations, dropout, pooling, Flatten.
    At least one channel is kept per layer. The original model is not changed.
    """
    where = "prune_channels"
    if not isinstance(model, Sequential):
        raise TypeError(f"{where}: model must be a Sequential chain, got {type(model).__name__}")
    amount = _check_amount(amount, where)
    if norm not in ("l1", "l2"):
        raise ValueError(f"{where}: norm must be 'l1' or 'l2', got {norm!r}")
    layers = [copy.deepcopy(layer) for layer in model]
    for layer in layers:
        if isinstance(layer, _Pruned):
            raise TypeError(f"{where}: the model has masked layers; call remove_pruning first")
        if isinstance(layer, Conv2d) and layer.groups != 1:
            raise ValueError(f"{where}: grouped convolutions (groups={layer.groups}) are not supported")
    producers = [i for i, layer in enumerate(layers) if _producer(layer)]
    if len(producers) < 2:
        raise ValueError(f"{where}: need at least two Linear/Conv2d layers (the last one is never pruned)")
    for i, j in zip(producers, producers[1:]):
        layer, between = layers[i], layers[i + 1:j]
        for other in between:
            if not isinstance(other, _CHANNELWISE + (BatchNorm1d, BatchNorm2d, Flatten)):
                raise TypeError(f"{where}: cannot follow the channels of layer {i} through a {type(other).__name__}")
        weight, channels = layer.weight.data, layer.weight.shape[0]
        scale = np.ones(channels)
        for other in between:
            if isinstance(other, (BatchNorm1d, BatchNorm2d)) and other.affine and other.track_running_stats:
                scale = np.abs(other.weight.data) / np.sqrt(other.running_var.data + other.eps)
        # Hint: rank channels by channel_scores(weight, norm) * scale (the BN-folded norm); keep the
        #       largest max(1, round((1 - amount) * channels)) of them, in their original order
        #       (np.sort of the chosen indices).
        ### BEGIN SOLUTION
        count = max(1, int(round((1 - amount) * channels)))
        order = np.argsort(-(channel_scores(weight, norm) * scale), kind="stable")
        keep = np.sort(order[:count])
        ### END SOLUTION
        bias = None if layer.bias is None else layer.bias.data[keep]
        copy_fn = _copy_conv if isinstance(layer, Conv2d) else _copy_linear
        layers[i] = copy_fn(layer, weight[keep], bias)
        flattened = False
        for k in range(i + 1, j):
            if isinstance(layers[k], (BatchNorm1d, BatchNorm2d)):
                layers[k] = _copy_bn(layers[k], keep)
            flattened = flattened or isinstance(layers[k], Flatten)
        nxt = layers[j]
        w_next = nxt.weight.data
        if isinstance(nxt, Linear) and (flattened or isinstance(layer, Conv2d)):
            if w_next.shape[1] % channels:
                raise ValueError(f"{where}: Linear layer {j} has {w_next.shape[1]} inputs, not a multiple of the "
                                 f"{channels} channels before the Flatten")
            per_channel = w_next.shape[1] // channels  # H*W columns per channel, channel-major
            w_next = w_next.reshape(w_next.shape[0], channels, per_channel)[:, keep].reshape(w_next.shape[0], -1)
        else:
            w_next = w_next[:, keep]
        bias_next = None if nxt.bias is None else nxt.bias.data
        layers[j] = (_copy_conv if isinstance(nxt, Conv2d) else _copy_linear)(nxt, np.ascontiguousarray(w_next),
                                                                               bias_next)
    pruned = Sequential(OrderedDict(zip([name for name, _ in model.named_children()], layers)))
    return pruned.train(model.training)


def count_parameters(model: Module) -> int:
    return sum(p.numel() for p in model.parameters())


# %%
#| test
def test_unit_prune_channels():
    from tinytorch.core.tensor import manual_seed

    manual_seed(3)
    model = Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                       Conv2d(4, 6, 3, padding=1), ReLU(), Flatten(), Linear(6 * 3 * 3, 5), ReLU(), Linear(5, 3))
    # Channels whose output is exactly 0: zero weights and bias (and BatchNorm's beta, with its
    # running mean still 0). Removing them must not change the model's output at all.
    for layer, channels in ((model[0], [1, 3]), (model[4], [0, 2, 5]), (model[7], [0, 1, 3])):
        layer.weight.data[channels] = 0
        layer.bias.data[channels] = 0
    model[1].bias.data[[1, 3]] = 0
    model.eval()
    x = Tensor(np.random.default_rng(3).standard_normal((4, 1, 6, 6)).astype(np.float32))
    small = prune_channels(model, 0.5)
    shapes = [tuple(layer.weight.shape) for layer in small if isinstance(layer, (Conv2d, Linear))]
    assert shapes == [(2, 1, 3, 3), (3, 2, 3, 3), (2, 27), (3, 2)], (
        f"half the channels of each layer but the last should go, and the next layer's inputs with them: {shapes}")
    assert small[1].num_features == 2 and small[1].running_mean.shape == (2,), "BatchNorm must shrink too"
    with no_grad():
        difference = np.abs(small(x).data - model(x).data).max()
    assert difference < 1e-5, (f"pruning only zero-output channels must give identical outputs, differs by "
                               f"{difference:.2e}: are the kept channels the largest-norm ones, in order, and the "
                               "Linear columns after Flatten taken per channel (H*W each)?")
    assert isinstance(model[0], Conv2d) and model[0].out_channels == 4, "the original model must be unchanged"
    print(f"✅ prune_channels: zero channels removed with identical outputs, shapes {shapes}")


test_unit_prune_channels()

# %% [markdown]
# ## 3. Knowledge distillation
#
# A big network's outputs carry more information than the labels: for a "7" it may say 0.9
# seven, 0.08 one, 0.02 nine — which digits *look alike*. Hinton, Vinyals & Dean (2015) train a
# small **student** to match those soft outputs of a **teacher**, softened further by a
# temperature `T` (softmax(z/T): a higher T spreads the probability mass):
#
# ```
#   L = α · T² · KL( softmax(z_teacher / T) ‖ softmax(z_student / T) )  +  (1 − α) · CE(z_student, y)
# ```
#
# The gradient of the soft term scales like 1/T², so the T² keeps its weight the same whatever
# T you pick. The teacher is fixed (no gradient); the KL is averaged over the batch.
#
# **When does it help?** Only when the teacher knows something the student cannot get from the
# labels itself. A teacher that is barely better than the student, trained on the same plentiful
# data, teaches nothing: the soft targets then say little more than the one-hot labels (we
# measured exactly that on full MNIST with an MLP teacher: no gain in any setting). The gain
# appears when labelled data is *scarce* (the student overfits the hard labels; the soft ones
# regularize it, ten numbers per image instead of one) and the teacher has a better inductive
# bias (a CNN teaching an MLP). `benchmarks/compression.py` measures that setting: a LeNet-5
# teacher and a 784-128-10 student, both trained on 5,000 MNIST images, same epochs and seeds.
# Higher temperatures (4–8) expose more of the "dark knowledge" in the small probabilities.

# %%
#| export
def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, target: Tensor,
                      temperature: float = 4.0, alpha: float = 0.9) -> Tensor:
    """α·T²·KL(p_teacher,T ‖ p_student,T) + (1 − α)·CE(student, target): a scalar Tensor.

    student_logits, teacher_logits: (N, C); target: (N,) class indices. KL per sample, averaged
    over the batch (PyTorch's reduction='batchmean'); the teacher gets no gradient.
    """
    where = "distillation_loss"
    for name, value in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(value, Tensor) or value.ndim != 2:
            raise ValueError(f"{where}: {name} must be an (N, C) Tensor, got {getattr(value, 'shape', value)!r}")
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(f"{where}: teacher_logits {tuple(teacher_logits.shape)} and student_logits "
                         f"{tuple(student_logits.shape)} must have the same shape")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"{where}: temperature must be > 0, got {temperature!r}")
    alpha = _check_amount(alpha, where, "alpha")
    t = float(temperature)
    # Hint: p = softmax of the teacher logits / t, as a constant (from .detach() or the raw array);
    #       log_q = log_softmax(student_logits / t, dim=1); kl = (p * (log p - log_q)).sum() / N
    #       (log p from the teacher's log_softmax, also constant); hard = cross_entropy(student, target).
    #       Return alpha * t * t * kl + (1 - alpha) * hard.
    ### BEGIN SOLUTION
    teacher = teacher_logits.detach() / t
    p, log_p = softmax(teacher, dim=1).detach(), log_softmax(teacher, dim=1).detach()
    log_q = log_softmax(student_logits / t, dim=1)
    kl = (p * (log_p - log_q)).sum() / student_logits.shape[0]
    hard = cross_entropy(student_logits, target)
    return kl * (alpha * t * t) + hard * (1 - alpha)
    ### END SOLUTION


def distill(student: Module, teacher: Module, loader, optimizer, epochs: int = 1, temperature: float = 4.0,
            alpha: float = 0.9) -> list:
    """Train `student` on `loader` with distillation_loss against the eval-mode `teacher`; per-epoch mean loss.

    alpha=0 is plain training on the labels (the same loop, for a fair comparison).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"distill: epochs must be a positive int, got {epochs!r}")
    teacher.eval()
    history = []
    for _ in range(epochs):
        student.train()
        total, count = 0.0, 0
        for inputs, targets in loader:
            with no_grad():
                soft = teacher(inputs) if alpha > 0 else None
            logits = student(inputs)
            loss = distillation_loss(logits, soft if soft is not None else logits.detach(), targets,
                                     temperature, alpha)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(targets.data), count + len(targets.data)
        history.append(total / max(count, 1))
    return history


# %%
#| test
def test_unit_distillation_loss():
    from tinytorch.core.autograd import gradcheck

    rng = np.random.default_rng(4)
    student = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    teacher = Tensor(rng.standard_normal((5, 4)))
    target = Tensor(rng.integers(0, 4, 5))
    loss = distillation_loss(student, teacher, target, temperature=3.0, alpha=1.0)
    p = np.exp(teacher.data / 3) / np.exp(teacher.data / 3).sum(1, keepdims=True)
    q = np.exp(student.data / 3) / np.exp(student.data / 3).sum(1, keepdims=True)
    by_hand = 9.0 * (p * np.log(p / q)).sum() / 5
    assert np.isclose(loss.item(), by_hand), f"alpha=1: T²·KL should be {by_hand:.6f}, got {loss.item():.6f}"
    same = distillation_loss(teacher, teacher, target, alpha=1.0)
    assert abs(same.item()) < 1e-12, "a student equal to the teacher has zero KL"
    assert gradcheck(lambda s: distillation_loss(s, teacher, target, 2.0, 0.7), (student,))
    print("✅ distillation loss: T²·KL by hand, zero when student = teacher, gradcheck passes")


test_unit_distillation_loss()

# %% [markdown]
# ## 4. Low-rank factorization
#
# A weight `W` (out × in) is a linear map; if most of its action lives in a few directions, the
# **SVD** `W = U Σ Vᵀ` shows it: keep the `r` largest singular values and `W ≈ U_r Σ_r V_rᵀ`, the
# best rank-r approximation (Eckart–Young). As layers: `Linear(in → r)` with weight `√Σ_r V_rᵀ`,
# then `Linear(r → out)` with weight `U_r √Σ_r` and the bias:
#
# ```
#   in ──[ out × in ]──► out        becomes       in ──[ r × in ]──► r ──[ out × r ]──► out
#        in·out params                                 r·(in + out) params: smaller when r < in·out/(in + out)
# ```
#
# The relative error `‖W − W_r‖_F / ‖W‖_F = √(Σ_{i>r} σ_i² / Σ σ_i²)`; choosing `r` by an
# **energy** threshold keeps the smallest r with `Σ_{i≤r} σ_i² ≥ energy · Σ σ_i²`.

# %%
#| export
def choose_rank(singular_values: np.ndarray, energy: float) -> int:
    """Smallest r with sum(s[:r]^2) >= energy * sum(s^2) (at least 1)."""
    # Hint: cumulative sum of s**2 divided by the total; the first index where it reaches energy, plus 1.
    ### BEGIN SOLUTION
    power = np.cumsum(singular_values.astype(np.float64) ** 2)
    if power[-1] == 0:
        return 1
    return int(np.searchsorted(power / power[-1], energy - 1e-12) + 1)
    ### END SOLUTION


def low_rank_linear(linear: Linear, rank: int | None = None, energy: float | None = None) -> tuple:
    """(Sequential(Linear(in, r, bias=False), Linear(r, out)), info) approximating `linear` at rank r.

    Give exactly one of rank (1 <= r <= min(in, out)) or energy (in (0, 1]). info: rank,
    params_before, params_after, relative_error (Frobenius), energy_kept.
    """
    where = "low_rank_linear"
    if not isinstance(linear, Linear) or isinstance(linear, _Pruned):
        raise TypeError(f"{where}: expected a plain Linear, got {type(linear).__name__}")
    if (rank is None) == (energy is None):
        raise ValueError(f"{where}: give exactly one of rank= or energy=")
    weight = linear.weight.data.astype(np.float64)
    full = min(weight.shape)
    u, s, vt = np.linalg.svd(weight, full_matrices=False)
    if rank is not None:
        if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or not 1 <= rank <= full:
            raise ValueError(f"{where}: rank must be an int from 1 to min(in_features, out_features) = {full}, "
                             f"got {rank!r}")
        r = int(rank)
    else:
        if isinstance(energy, bool) or not isinstance(energy, numbers.Real) or not 0 < energy <= 1:
            raise ValueError(f"{where}: energy must be in (0, 1], got {energy!r}")
        r = choose_rank(s, float(energy))
    root = np.sqrt(s[:r])
    first = Linear(linear.in_features, r, bias=False, dtype=linear.weight.dtype)
    second = Linear(r, linear.out_features, bias=linear.bias is not None, dtype=linear.weight.dtype)
    # Hint: first.weight = root[:, None] * vt[:r]  (r, in);  second.weight = u[:, :r] * root  (out, r).
    ### BEGIN SOLUTION
    first.weight.data[...] = root[:, None] * vt[:r]
    second.weight.data[...] = u[:, :r] * root
    ### END SOLUTION
    if linear.bias is not None:
        second.bias.data[...] = linear.bias.data
    total = float((s**2).sum())
    kept = float((s[:r] ** 2).sum())
    info = {"rank": r, "params_before": linear.weight.numel() + (0 if linear.bias is None else linear.bias.numel()),
            "params_after": count_parameters(first) + count_parameters(second),
            "relative_error": float(np.sqrt(max(total - kept, 0.0) / total)) if total else 0.0,
            "energy_kept": kept / total if total else 1.0}
    return Sequential(first, second), info


def low_rank_model(model: Module, energy: float = 0.9, min_saving: float = 0.0) -> tuple:
    """A copy of `model` with each Linear replaced by its low-rank pair when that saves parameters.

    A layer is factorized only when params_after < (1 - min_saving) * params_before.
    Returns (model, {layer name: info}).
    """
    result = copy.deepcopy(model)
    names = {id(m): n for n, m in result.named_modules()}
    report = {}

    def make(layer):
        pair, info = low_rank_linear(layer, energy=energy)
        if info["params_after"] < (1 - min_saving) * info["params_before"]:
            report[names[id(layer)]] = info
            return pair
        return layer

    return replace_layers(result, lambda m: type(m) is Linear, make), report


# %%
#| test
def test_unit_low_rank():
    from tinytorch.core.tensor import manual_seed

    manual_seed(5)
    layer = Linear(12, 7)
    x = Tensor(np.random.default_rng(5).standard_normal((3, 12)).astype(np.float32))
    pair, info = low_rank_linear(layer, rank=7)
    with no_grad():
        assert np.allclose(pair(x).data, layer(x).data, atol=1e-5), "full rank must reproduce the layer"
    assert info["relative_error"] < 1e-6 and info["params_after"] == 7 * 12 + 7 * 7 + 7
    pair, info = low_rank_linear(layer, rank=2)
    s = np.linalg.svd(layer.weight.data.astype(np.float64), compute_uv=False)
    with no_grad():
        w_r = pair[1].weight.data.astype(np.float64) @ pair[0].weight.data
    measured = np.linalg.norm(w_r - layer.weight.data) / np.linalg.norm(layer.weight.data)
    assert np.isclose(measured, info["relative_error"], rtol=1e-4), "reported error must equal the real error"
    assert np.isclose(info["relative_error"], np.sqrt((s[2:] ** 2).sum() / (s**2).sum()), rtol=1e-6)
    try:
        low_rank_linear(layer, rank=8)
    except ValueError as error:
        assert "rank" in str(error) and "7" in str(error), str(error)
    else:
        raise AssertionError("rank 8 > min(12, 7) must raise ValueError")
    print(f"✅ low rank: full rank exact, rank 2 error {info['relative_error']:.1%} = sqrt(tail energy)")


test_unit_low_rank()

# %% [markdown]
# ## 5. Sparse storage: CSR
#
# A pruned weight still takes 4 bytes per entry in a dense file. **Compressed sparse row**
# stores only the nonzeros: their values, their column indices, and one offset per row:
#
# ```
#   [[0 5 0 0]        data    = [5, 3, 7, 2]
#    [3 0 7 0]   ──►  indices = [1, 0, 2, 3]          (column of each value)
#    [0 0 0 2]]       indptr  = [0, 1, 3, 4]          (row i's values: data[indptr[i]:indptr[i+1]])
# ```
#
# With float32 values and int32 indices, each nonzero costs 8 bytes against 4 for a dense
# entry: CSR wins only above 50% sparsity. Column indices below 65,536 fit in uint16 (6 bytes
# per nonzero: break-even at 33%). `save_sparse` picks CSR or dense per tensor, whichever is
# smaller, and writes one pickle-free `.npz` atomically.

# %%
#| export
SPARSE_FORMAT = "tinytorch-sparse"
_SMETA = "__tinytorch_sparse__"


def to_csr(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 2-D array -> (data, indices, indptr); indices are uint16 when the columns allow, else int32."""
    if not isinstance(dense, np.ndarray) or dense.ndim != 2:
        raise ValueError(f"to_csr: expected a 2-D array, got {getattr(dense, 'shape', type(dense).__name__)}")
    index_type = np.uint16 if dense.shape[1] <= 2**16 else np.int32
    # Hint: rows, cols = np.nonzero(dense) (row-major order); data = dense[rows, cols];
    #       indptr = 0 followed by the cumulative count of nonzeros per row (np.bincount(rows, minlength=...)).
    ### BEGIN SOLUTION
    rows, cols = np.nonzero(dense)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[0]))]).astype(np.int32)
    return dense[rows, cols], cols.astype(index_type), indptr
    ### END SOLUTION


def from_csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of to_csr: the dense (rows, cols) array."""
    rows_count, cols_count = shape
    if indptr.shape != (rows_count + 1,) or indptr[0] != 0 or indptr[-1] != data.size or indices.size != data.size \
            or (np.diff(indptr) < 0).any() or (indices.size and int(indices.max()) >= cols_count):
        raise ValueError(f"from_csr: inconsistent CSR arrays for shape {tuple(shape)}")
    dense = np.zeros(shape, dtype=data.dtype)
    rows = np.repeat(np.arange(rows_count), np.diff(indptr))
    dense[rows, indices.astype(np.int64)] = data
    return dense


def _csr_nbytes(dense2d: np.ndarray) -> int:
    nonzeros = int(np.count_nonzero(dense2d))
    index_size = 2 if dense2d.shape[1] <= 2**16 else 4
    return nonzeros * (dense2d.itemsize + index_size) + (dense2d.shape[0] + 1) * 4


def dense_state_dict(model: Module) -> OrderedDict:
    """The model's state with every pruned layer folded: `<name>.weight` holds weight_orig * mask.

    Loads into the unpruned architecture (plain Linear/Conv2d layers).
    """
    state = OrderedDict()
    pruned = {name: m for name, m in model.named_modules() if isinstance(m, _Pruned)}
    for key, array in model.state_dict().items():
        owner, _, leaf = key.rpartition(".")
        if owner in pruned and leaf == "weight_mask":
            continue
        if owner in pruned and leaf == "weight_orig":
            with no_grad():
                state[(owner + "." if owner else "") + "weight"] = pruned[owner].weight.data.copy()
        else:
            state[key] = array
    return state


def save_sparse(path, model: Module) -> dict:
    """Write `dense_state_dict(model)` to an .npz, each 2-D+ tensor as CSR when that is smaller.

    Returns {name: "csr" or "dense"}. Written atomically; read back with load_sparse.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save_sparse: model must be a Module, got {type(model).__name__}")
    arrays, layout = {}, {}
    for key, array in dense_state_dict(model).items():
        matrix = array.reshape(array.shape[0], -1) if array.ndim >= 2 else None
        if matrix is not None and _csr_nbytes(matrix) < array.nbytes:
            data, indices, indptr = to_csr(matrix)
            arrays.update({f"csr/{key}/data": data, f"csr/{key}/indices": indices, f"csr/{key}/indptr": indptr})
            layout[key] = {"kind": "csr", "shape": list(array.shape)}
        else:
            arrays[f"dense/{key}"] = array
            layout[key] = {"kind": "dense", "shape": list(array.shape)}
    meta = json.dumps({"format": SPARSE_FORMAT, "version": 1, "layout": layout}, separators=(",", ":"))
    arrays[_SMETA] = np.frombuffer(meta.encode(), dtype=np.uint8)
    _atomic_write(path, lambda file: np.savez(file, **arrays))
    return {key: entry["kind"] for key, entry in layout.items()}


def load_sparse(path) -> OrderedDict:
    """The state_dict saved by save_sparse (dense arrays), every entry checked. ValueError on a bad file."""
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"load_sparse: {path!r} is not an .npz file (corrupt or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(arrays.pop(_SMETA).tobytes().decode())
        if meta.get("format") != SPARSE_FORMAT:
            raise ValueError("wrong format marker")
        state = OrderedDict()
        for key, entry in meta["layout"].items():
            shape = tuple(entry["shape"])
            if entry["kind"] == "dense":
                state[key] = arrays[f"dense/{key}"].reshape(shape)
            else:
                matrix_shape = (shape[0], int(np.prod(shape[1:])))
                state[key] = from_csr(arrays[f"csr/{key}/data"], arrays[f"csr/{key}/indices"],
                                      arrays[f"csr/{key}/indptr"], matrix_shape).reshape(shape)
    except (KeyError, TypeError, ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"load_sparse: {path!r} is not a readable sparse TinyTorch file: {error}") from error
    return state


# %%
#| test
def test_unit_csr():
    import tempfile

    from tinytorch.core.tensor import manual_seed

    dense = np.array([[0, 5, 0, 0], [3, 0, 7, 0], [0, 0, 0, 2]], dtype=np.float32)
    data, indices, indptr = to_csr(dense)
    assert data.tolist() == [5, 3, 7, 2] and indices.tolist() == [1, 0, 2, 3] and indptr.tolist() == [0, 1, 3, 4], (
        f"CSR of the example: data {data.tolist()}, indices {indices.tolist()}, indptr {indptr.tolist()}")
    assert np.array_equal(from_csr(data, indices, indptr, dense.shape), dense)
    manual_seed(6)
    model = Sequential(Linear(300, 200), ReLU(), Linear(200, 10))
    magnitude_prune(model, 0.9)
    with tempfile.TemporaryDirectory() as folder:
        sparse_path = os.path.join(folder, "sparse.npz")
        kinds = save_sparse(sparse_path, model)
        dense_path = os.path.join(folder, "dense.npz")
        np.savez(dense_path, **dense_state_dict(model))
        ratio = os.path.getsize(dense_path) / os.path.getsize(sparse_path)
        state = load_sparse(sparse_path)
    plain = Sequential(Linear(300, 200), ReLU(), Linear(200, 10))
    plain.load_state_dict(state)
    with no_grad():
        assert np.array_equal(plain[0].weight.data, model[0].weight.data), "CSR round trip must be exact"
    assert kinds["0.weight"] == "csr" and kinds["0.bias"] == "dense"
    assert ratio > 5, f"at 90% sparsity CSR (6 bytes per nonzero) should be ~6x smaller than dense, got {ratio:.2f}x"
    print(f"✅ CSR: exact round trip; at 90% sparsity the file is {ratio:.2f}x smaller than dense")


test_unit_csr()

# %% [markdown]
# ## Analysis — compressing models trained on real digits
#
# As in module 17: an MLP and a CNN trained for a few seconds on `TinyMNIST` (1,000 training,
# 200 test digits). `benchmarks/compression.py` repeats the measurements on full MNIST.

# %%
#| analysis
import tempfile
import time

from tinytorch.core.data import Compose, DataLoader, Normalize, TinyMNIST, ToTensor
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training import Trainer
from tinytorch.systems.quantization import model_nbytes

transform = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
train_set, test_set = TinyMNIST(train=True, transform=transform), TinyMNIST(train=False, transform=transform)
test_loader = DataLoader(test_set, batch_size=200)


def accuracy_of(model) -> float:
    model.eval()
    correct = 0
    with no_grad():
        for images, labels in test_loader:
            correct += int((model(images).data.argmax(axis=1) == labels.data).sum())
    return correct / len(test_set)


def train(model, epochs: int, lr: float = 2e-3, seed: int = 0):
    loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=seed)
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), verbose=False).fit(loader, epochs=epochs)
    return model.eval()


def best_times(fns: dict, repeats: int = 5) -> dict:
    """Fastest run of each callable, in seconds. They take turns, so a busy moment hits all of them,
    and the fastest run is the least disturbed one (medians swing widely on a shared machine)."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


manual_seed(0)
mlp = train(Sequential(Flatten(), Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10)), epochs=8)
print(f"dense MLP: {count_parameters(mlp):,} parameters, test accuracy {accuracy_of(mlp):.1%}")

# %% [markdown]
# ### Accuracy vs sparsity: layer-wise vs global, one shot (no fine-tuning)

# %%
#| analysis
levels = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98)
curves = {"layer": [], "global": []}
for scope in curves:
    for level in levels:
        pruned = magnitude_prune(copy.deepcopy(mlp), level, scope=scope)
        curves[scope].append(accuracy_of(pruned))
print(f"{'sparsity':>9}" + "".join(f"{level:>7.0%}" for level in levels))
for scope, values in curves.items():
    print(f"{scope:>9}" + "".join(f"{v:>7.1%}" for v in values))
print("global 90%: per-layer sparsity " + ", ".join(
    f"{name} {s:.0%}" for name, _, _, s in sparsity_report(magnitude_prune(copy.deepcopy(mlp), 0.9))))

from tito.plots import plot_lines

plot_lines("compression_accuracy_vs_sparsity", [100 * v for v in levels],
           {f"{scope} magnitude": values for scope, values in curves.items()}, xlabel="sparsity (%)",
           ylabel="test accuracy", title="TinyMNIST MLP, one-shot pruning, no fine-tuning")

# %% [markdown]
# ### Iterative pruning with fine-tuning
#
# Prune a little, let the network recover for an epoch, prune more. The cubic schedule
# removes most weights early, while the network has plenty to spare, and goes gently at the end.

# %%
#| analysis
manual_seed(0)
iterative = copy.deepcopy(mlp)
for step, level in enumerate(sparsity_schedule(0.95, steps=3), start=1):
    magnitude_prune(iterative, level)
    before = accuracy_of(iterative)
    train(iterative, epochs=1, lr=5e-4, seed=step)
    print(f"round {step}: sparsity {level:.1%}, accuracy after pruning {before:.1%}, "
          f"after 1 epoch {accuracy_of(iterative):.1%}")
one_shot = accuracy_of(magnitude_prune(copy.deepcopy(mlp), 0.95))
print(f"one-shot 95% without fine-tuning: {one_shot:.1%}; dense: {accuracy_of(mlp):.1%}")

# %% [markdown]
# ### Structured pruning: fewer channels, measured speed
#
# Half of the channels of a CNN, then one epoch of fine-tuning; time one batch of 200 images
# before and after (fastest of 5 runs each, the two models taking turns).

# %%
#| analysis
manual_seed(0)
cnn = train(Sequential(Conv2d(1, 8, 3, padding=1), BatchNorm2d(8), ReLU(), MaxPool2d(2),
                       Conv2d(8, 16, 3, padding=1), BatchNorm2d(16), ReLU(), MaxPool2d(2),
                       Flatten(), Linear(16 * 7 * 7, 64), ReLU(), Linear(64, 10)), epochs=2)
slim = prune_channels(cnn, 0.5)
before_ft = accuracy_of(slim)
train(slim, epochs=1, lr=1e-3)
images = next(iter(test_loader))[0]
with no_grad():
    t = best_times({"dense": lambda: cnn(images), "slim": lambda: slim(images)})
t_dense, t_slim = t["dense"], t["slim"]
print(f"CNN {count_parameters(cnn):,} params, {accuracy_of(cnn):.1%}  ->  50% channels pruned: "
      f"{count_parameters(slim):,} params, {before_ft:.1%} before / {accuracy_of(slim):.1%} after 1 epoch")
print(f"inference, batch 200: {t_dense * 1e3:.1f} ms -> {t_slim * 1e3:.1f} ms ({t_dense / t_slim:.2f}x faster)")

# %% [markdown]
# ### Distillation: the same small student, alone and with a teacher
#
# Student: 784-32-10. Both runs start from the same initial weights and see the same batches
# in the same order (same seeds); only the loss differs. Do not expect a gain here: the teacher
# is the MLP above, not much better than the student on these 1,000 images, and on 200 test
# digits one image is half a percentage point — a single seed cannot tell a real difference from
# noise. (On 5,000 MNIST images with a LeNet-5 teacher, the benchmark's distilled students beat
# the same students trained alone; see benchmarks/README.md.)

# %%
#| analysis
for seed in (0,):  # benchmarks/compression.py runs several seeds on MNIST
    scores = {}
    for label, alpha in (("alone", 0.0), ("distilled", 0.7)):
        manual_seed(seed)
        student = Sequential(Flatten(), Linear(784, 32), ReLU(), Linear(32, 10))
        loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=seed)
        distill(student, mlp, loader, Adam(student.parameters(), lr=2e-3), epochs=4, temperature=4.0, alpha=alpha)
        scores[label] = accuracy_of(student)
    print(f"seed {seed}: student alone {scores['alone']:.1%}, distilled {scores['distilled']:.1%} "
          f"(teacher {accuracy_of(mlp):.1%}, {count_parameters(mlp) // count_parameters(student)}x the parameters)")

# %% [markdown]
# ### Low rank: energy vs parameters vs accuracy

# %%
#| analysis
print(f"{'energy':>7}{'params':>10}{'accuracy':>10}  ranks")
for energy in (0.95, 0.9, 0.8, 0.6):
    factorized, report = low_rank_model(mlp, energy=energy)
    ranks = ", ".join(f"{name}: r={info['rank']} (err {info['relative_error']:.0%})" for name, info in report.items())
    print(f"{energy:>7.2f}{count_parameters(factorized):>10,}{accuracy_of(factorized):>10.1%}  {ranks}")

# %% [markdown]
# ### Size on disk and latency after each technique
#
# Every variant of the MLP: file size, test accuracy, and the time of one batch of 200 test
# images (the variants take turns, fastest of 5). Pruned models compute with dense matrices, so
# they are exactly as fast as the dense one; the low-rank model does two thinner matmuls.

# %%
#| analysis
variants = {"dense MLP": mlp}
for level in (0.8, 0.9, 0.95):
    variants[f"{level:.0%} sparse"] = magnitude_prune(copy.deepcopy(mlp), level)
variants["low rank (90% energy)"] = low_rank_model(mlp, energy=0.9)[0]
with no_grad():
    latencies = best_times({name: (lambda m=m: m(images)) for name, m in variants.items()})
print(f"{'variant':<24}{'dense file':>12}{'CSR file':>12}{'accuracy':>10}{'ms/200 images':>15}")
with tempfile.TemporaryDirectory() as folder:
    dense_size = None
    for name, model in variants.items():
        dense_path, csr_path = os.path.join(folder, "dense.npz"), os.path.join(folder, "csr.npz")
        np.savez(dense_path, **dense_state_dict(model))
        save_sparse(csr_path, model)
        sizes = os.path.getsize(dense_path), os.path.getsize(csr_path)
        dense_size = dense_size or sizes[0]
        print(f"{name:<24}{sizes[0] / 1024:>8.0f} KiB{sizes[1] / 1024:>8.0f} KiB{accuracy_of(model):>10.1%}"
              f"{latencies[name] * 1e3:>15.2f}   (CSR {dense_size / sizes[1]:.2f}x smaller than the dense MLP)")
print(f"(in memory the dense MLP holds {model_nbytes(mlp) / 1024:.0f} KiB; a masked model in memory is larger: "
      "weight_orig and the mask)")

# %% [markdown]
# ## Reflection
#
# **Q1.** Global pruning at 90% left the last layer far less sparse than the first. Why do
# the layers' weight magnitudes differ, and why is it usually a good idea not to prune the
# first and last layers as hard as the middle ones?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** 90% unstructured sparsity did not make the MLP faster; 50% structured pruning made the
# CNN faster. Explain both. At what sparsity would a sparse matrix-vector product start to beat
# the dense one, and why so high?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** In distillation, what does the student learn from the teacher's soft outputs that the
# labels cannot tell it? Why multiply the soft term by T²?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** You can prune to 90%, store as CSR, and quantize the remaining values to int8
# (module 17). Estimate the file size of the MLP with all three, per nonzero weight.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - Magnitude pruning zeroes the smallest weights, per layer or globally; masks applied through
#   `weight = weight_orig * mask` keep them zero through any optimizer step and round-trip
#   through checkpoints.
# - Iterative pruning with fine-tuning reaches far higher sparsity than one shot.
# - Structured pruning removes whole channels and reshapes the following layers: a smaller
#   dense model that is genuinely faster.
# - Distillation trains a small student on a teacher's softened outputs (α, T, T²).
# - The SVD gives the best low-rank approximation of a Linear layer; its error is the tail of
#   the singular values.
# - CSR storage pays off above ~33–50% sparsity, depending on the index type.
# - Next: module 19 (benchmarking) measures all of this with honest statistics.
