# Generated from modules/04_losses/losses.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import numbers

import numpy as np

from tinytorch.core.activations import log_softmax
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor


_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction, where: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{where}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


def _check_float(tensor, name: str, where: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{where}: {name} must be a Tensor, got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{where}: {name} must be a floating-point tensor, got dtype {tensor.dtype}; "
                        f"convert it with {name}.float()")


def _check_pair(input, target, where: str) -> None:
    """input and target: float Tensors of one dtype and one shape (elementwise losses)."""
    _check_float(input, "input", where)
    _check_float(target, "target", where)
    if input.dtype != target.dtype:
        raise TypeError(f"{where}: input is {input.dtype} but target is {target.dtype}; convert one so "
                        "they match (e.g. target.float())")
    if input.shape != target.shape:
        raise ValueError(f"{where}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ; they must be equal (reshape one, e.g. "
                         "target.reshape(input.shape), instead of relying on broadcasting)")


def _constant(value, dtype) -> Tensor:
    """A tensor that takes part in an op but never needs a gradient (weights, denominators)."""
    return Tensor(np.asarray(value, dtype=dtype))


def _reduce(per_element: Tensor, reduction: str, denominator=None) -> Tensor:
    """Apply `reduction`; 'mean' divides the sum by `denominator` (default: the element count)."""
    if reduction == "none":
        return per_element
    total = per_element.sum()
    if reduction == "sum":
        return total
    if denominator is None:
        denominator = per_element.numel()
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty mean is nan, as in PyTorch
        return total / _constant(denominator, per_element.dtype)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: reduce((input - target)^2). Shapes: input and target equal."""
    _check_reduction(reduction, "mse_loss")
    _check_pair(input, target, "mse_loss")
    # Hint: diff = input - target; then _reduce(diff * diff, reduction).
    diff = input - target
    return _reduce(diff * diff, reduction)


def _check_class_inputs(input, target, weight, ignore_index, where: str):
    """Validate (input, target, weight, ignore_index) for nll_loss / cross_entropy.

    Returns (number of classes C, weight as an ndarray of input's dtype or None).
    """
    _check_float(input, "input", where)
    if not isinstance(target, Tensor):
        raise TypeError(f"{where}: target must be a Tensor of class indices, got {type(target).__name__}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{where}: target must hold integer class indices (int64), got dtype {target.dtype}; "
                        "class-probability targets are not supported — if these are indices, use "
                        "target.long()")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{where}: ignore_index must be an int, got {ignore_index!r}")
    if input.ndim == 0:
        raise ValueError(f"{where}: input must have a class dimension: shape (C,), (N, C) or "
                         "(N, C, d1, ...), got a 0-d tensor")
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        layout = "()" if input.ndim == 1 else "(N,)" if input.ndim == 2 else "(N, d1, ...)"
        raise ValueError(f"{where}: input of shape {tuple(input.shape)} needs a target of shape "
                         f"{layout} = {expected} (the input's shape without the class dimension), got "
                         f"target of shape {tuple(target.shape)}")
    labels = target.data
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= classes))
    if bad.any():
        raise ValueError(f"{where}: target holds class index {labels[bad].flat[0]}, but the input has "
                         f"C={classes} classes, so indices must be in 0..{classes - 1} (entries equal to "
                         f"ignore_index={ignore_index} are skipped)")
    if weight is None:
        return classes, None
    _check_float(weight, "weight", where)
    if tuple(weight.shape) != (classes,):
        raise ValueError(f"{where}: weight must have one entry per class, shape ({classes},), got "
                         f"shape {tuple(weight.shape)}")
    return classes, weight.data.astype(input.dtype, copy=False)


def _nll(logp: Tensor, target: Tensor, weight, ignore_index: int):
    """Per-element NLL of validated inputs, batched as (N, C, ...).

    Returns (per-element loss Tensor of target's shape, 'mean' denominator sum_i w[y_i]).
    """
    unbatched = logp.ndim == 1
    if unbatched:
        logp = logp.reshape(1, logp.shape[0])
    labels = target.data.reshape(1) if unbatched else target.data
    kept = labels != ignore_index
    # Define per_element (a Tensor) and denominator (a number) for the lines below the region.
    # Hint: safe = labels with ignored entries replaced by 0 (np.where);
    #       picked = logp.data[i, safe_i, ...]: np.take_along_axis(logp.data, np.expand_dims(safe, 1),
    #       axis=1), then squeeze axis 1; coef = -weight[safe] (-1 without weight), 0 where not kept,
    #       in logp's dtype. Values: coef * picked, with picked set to 0 where not kept (an ignored
    #       row may hold -inf, and 0 * -inf is nan). per_element records "nll_loss" on (logp,) with
    #       target=safe, coef=coef; denominator = -coef.sum(), the summed weights of kept targets.
    safe = np.where(kept, labels, 0)
    picked = np.take_along_axis(logp.data, np.expand_dims(safe, 1), axis=1).squeeze(1)
    picked_weight = np.ones(safe.shape, dtype=logp.dtype) if weight is None else weight[safe]
    coef = np.where(kept, -picked_weight, 0).astype(logp.dtype, copy=False)
    values = coef * np.where(kept, picked, 0)
    per_element = Tensor.from_op(values, "nll_loss", (logp,), target=safe, coef=coef)
    denominator = -coef.sum()
    if unbatched:
        per_element = per_element.reshape(())
    return per_element, denominator


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log likelihood of log-probabilities: -weight[y] * input[i, y_i], reduced.

    input: (N, C), (N, C, d1, ...) or (C,); target: integer indices (N,), (N, d1, ...) or ().
    """
    _check_reduction(reduction, "nll_loss")
    _, weight_array = _check_class_inputs(input, target, weight, ignore_index, "nll_loss")
    per_element, denominator = _nll(input, target, weight_array, ignore_index)
    return _reduce(per_element, reduction, denominator)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of logits and class indices: nll_loss(log_softmax(input, class dim), target).

    input: (N, C), (N, C, d1, ...) or (C,) logits; target: integer indices (N,), (N, d1, ...) or ().
    """
    _check_reduction(reduction, "cross_entropy")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"cross_entropy: label_smoothing must be a number, got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    classes, weight_array = _check_class_inputs(input, target, weight, ignore_index, "cross_entropy")
    class_dim = 0 if input.ndim == 1 else 1
    # Hint: logp = log_softmax(input, class_dim); (per_element, denominator) = _nll(...).
    #       With label smoothing eps > 0, also compute smooth = -(sum over the class dim of
    #       logp * w), where w is weight_array reshaped to broadcast along the class dim (or just
    #       -logp.sum(class_dim) without weight), multiplied by a 0/1 mask of the kept targets;
    #       then per_element = per_element * (1 - eps) + smooth * (eps / C). Finish with _reduce.
    logp = log_softmax(input, class_dim)
    per_element, denominator = _nll(logp, target, weight_array, ignore_index)
    if label_smoothing > 0:
        if weight_array is None:
            smooth = -logp.sum(class_dim)
        else:
            trailing = (1,) * (input.ndim - class_dim - 1)
            smooth = -(logp * _constant(weight_array.reshape((classes,) + trailing), input.dtype)).sum(class_dim)
        smooth = smooth * _constant(target.data != ignore_index, input.dtype)
        per_element = per_element * (1 - label_smoothing) + smooth * (label_smoothing / classes)
    return _reduce(per_element, reduction, denominator)


def _broadcast_weight(weight, input: Tensor, name: str, where: str):
    """`weight` as an ndarray of input's dtype that broadcasts to input's shape, or None."""
    if weight is None:
        return None
    _check_float(weight, name, where)
    try:
        fits = np.broadcast_shapes(weight.shape, input.shape) == tuple(input.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{where}: {name} of shape {tuple(weight.shape)} does not broadcast to the "
                         f"input shape {tuple(input.shape)}")
    return weight.data.astype(input.dtype, copy=False)


def _check_unit_interval(tensor: Tensor, name: str, where: str, hint: str) -> None:
    data = tensor.data
    if data.size and not ((data >= 0) & (data <= 1)).all():
        outside = data[~((data >= 0) & (data <= 1))]
        raise ValueError(f"{where}: all elements of {name} should be between 0 and 1, found "
                         f"{outside.flat[0]}{hint}")


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-weight * (y log p + (1 - y) log(1 - p)), logs clamped at -100. p = input in [0, 1]; shapes equal."""
    _check_reduction(reduction, "binary_cross_entropy")
    _check_pair(input, target, "binary_cross_entropy")
    _check_unit_interval(input, "input", "binary_cross_entropy",
                         " (did you forget a sigmoid? binary_cross_entropy_with_logits takes raw scores)")
    _check_unit_interval(target, "target", "binary_cross_entropy", "")
    weight_array = _broadcast_weight(weight, input, "weight", "binary_cross_entropy")
    # Hint: log_p = np.maximum(np.log(p), -100); log_q = np.maximum(np.log1p(-p), -100)
    #       (inside np.errstate(divide="ignore"): log 0 is -inf before the clamp);
    #       values = -(y * log_p + (1 - y) * log_q), times weight_array when given. Record the op
    #       with inputs (input, target) and weight=weight_array, then _reduce.
    p, y = input.data, target.data
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_q = np.maximum(np.log1p(-p), -100)
    values = -(y * log_p + (1 - y) * log_q)
    if weight_array is not None:
        values = values * weight_array
    per_element = Tensor.from_op(values, "binary_cross_entropy", (input, target), weight=weight_array)
    return _reduce(per_element, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(input) without computing it: w * ((1 - y) z + (1 + (pw - 1) y) softplus(-z))."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_pair(input, target, "binary_cross_entropy_with_logits")
    weight_array = _broadcast_weight(weight, input, "weight", "binary_cross_entropy_with_logits")
    pos_weight_array = _broadcast_weight(pos_weight, input, "pos_weight", "binary_cross_entropy_with_logits")
    # Hint: softplus(-z) = np.logaddexp(0, -z). Without pos_weight the factor on it is 1.
    z, y = input.data, target.data
    softplus = np.logaddexp(0, -z)
    if pos_weight_array is not None:
        softplus = softplus * (1 + (pos_weight_array - 1) * y)
    values = (1 - y) * z + softplus
    if weight_array is not None:
        values = values * weight_array
    per_element = Tensor.from_op(values, "binary_cross_entropy_with_logits", (input, target),
                                 weight=weight_array, pos_weight=pos_weight_array)
    return _reduce(per_element, reduction)


class _Loss(Module):
    """Base of the loss Modules: holds and checks `reduction`."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction, type(self).__name__)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


def _check_optional_tensor(value, name: str, where: str):
    if value is not None and not isinstance(value, Tensor):
        raise TypeError(f"{where}: {name} must be a Tensor or None, got {type(value).__name__}")
    return value


class MSELoss(_Loss):
    """criterion(input, target) = mse_loss(input, target, reduction)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """criterion(log_probs, target) = nll_loss(log_probs, target, weight, ignore_index, reduction)."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _check_optional_tensor(weight, "weight", "NLLLoss"))
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
            raise TypeError(f"NLLLoss: ignore_index must be an int, got {ignore_index!r}")
        self.ignore_index = int(ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class CrossEntropyLoss(_Loss):
    """criterion(logits, target) = cross_entropy(logits, target, weight, ignore_index, reduction,
    label_smoothing)."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.register_buffer("weight", _check_optional_tensor(weight, "weight", "CrossEntropyLoss"))
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
            raise TypeError(f"CrossEntropyLoss: ignore_index must be an int, got {ignore_index!r}")
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
            raise TypeError(f"CrossEntropyLoss: label_smoothing must be a number, got {label_smoothing!r}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class BCELoss(_Loss):
    """criterion(probs, target) = binary_cross_entropy(probs, target, weight, reduction)."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _check_optional_tensor(weight, "weight", "BCELoss"))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """criterion(logits, target) = binary_cross_entropy_with_logits(logits, target, weight,
    reduction, pos_weight)."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean", pos_weight: Tensor | None = None):
        super().__init__(reduction)
        self.register_buffer("weight", _check_optional_tensor(weight, "weight", "BCEWithLogitsLoss"))
        self.register_buffer("pos_weight", _check_optional_tensor(pos_weight, "pos_weight", "BCEWithLogitsLoss"))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)
