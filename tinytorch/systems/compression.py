# Generated from modules/18_compression/compression.py by `tito export`. Do not edit: edit the module.

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
    flat = np.concatenate([s.reshape(-1) for s in scores]) if scores else np.empty(0)
    keep = np.ones(total, dtype=np.float32)
    if k > 0:
        keep[np.argsort(flat, kind="stable")[:k]] = 0
    pieces = np.split(keep, np.cumsum([s.size for s in scores])[:-1])
    return [piece.reshape(s.shape) for piece, s in zip(pieces, scores)]


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


_CHANNELWISE = (ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, Dropout, Dropout2d, MaxPool2d, AvgPool2d,
                AdaptiveAvgPool2d, Identity)


def channel_scores(weight: np.ndarray, norm: str = "l1") -> np.ndarray:
    """Norm of each output channel's weights: (O, ...) -> (O,). norm: 'l1' or 'l2'."""
    rows = weight.reshape(weight.shape[0], -1)
    # Hint: L1 = sum of |w| over each row, L2 = sqrt of the sum of squares.
    if norm == "l1":
        return np.abs(rows).sum(axis=1)
    return np.sqrt((rows.astype(np.float64) ** 2).sum(axis=1))


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
        count = max(1, int(round((1 - amount) * channels)))
        order = np.argsort(-(channel_scores(weight, norm) * scale), kind="stable")
        keep = np.sort(order[:count])
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
    teacher = teacher_logits.detach() / t
    p, log_p = softmax(teacher, dim=1).detach(), log_softmax(teacher, dim=1).detach()
    log_q = log_softmax(student_logits / t, dim=1)
    kl = (p * (log_p - log_q)).sum() / student_logits.shape[0]
    hard = cross_entropy(student_logits, target)
    return kl * (alpha * t * t) + hard * (1 - alpha)


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


def choose_rank(singular_values: np.ndarray, energy: float) -> int:
    """Smallest r with sum(s[:r]^2) >= energy * sum(s^2) (at least 1)."""
    # Hint: cumulative sum of s**2 divided by the total; the first index where it reaches energy, plus 1.
    power = np.cumsum(singular_values.astype(np.float64) ** 2)
    if power[-1] == 0:
        return 1
    return int(np.searchsorted(power / power[-1], energy - 1e-12) + 1)


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
    first.weight.data[...] = root[:, None] * vt[:r]
    second.weight.data[...] = u[:, :r] * root
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


SPARSE_FORMAT = "tinytorch-sparse"
_SMETA = "__tinytorch_sparse__"


def to_csr(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 2-D array -> (data, indices, indptr); indices are uint16 when the columns allow, else int32."""
    if not isinstance(dense, np.ndarray) or dense.ndim != 2:
        raise ValueError(f"to_csr: expected a 2-D array, got {getattr(dense, 'shape', type(dense).__name__)}")
    index_type = np.uint16 if dense.shape[1] <= 2**16 else np.int32
    # Hint: rows, cols = np.nonzero(dense) (row-major order); data = dense[rows, cols];
    #       indptr = 0 followed by the cumulative count of nonzeros per row (np.bincount(rows, minlength=...)).
    rows, cols = np.nonzero(dense)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[0]))]).astype(np.int32)
    return dense[rows, cols], cols.astype(index_type), indptr


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
