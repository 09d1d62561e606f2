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
# # Module 04 — Losses
#
# Training needs one number that says how wrong the model is, and that gets smaller as the model
# gets better: the *loss*. Its gradient (module 05) is where learning starts.
#
# **You will learn to**
#
# 1. write the losses PyTorch models are trained with — mean squared error for regression, cross
#    entropy for classification, binary cross entropy for yes/no outputs — with PyTorch's exact
#    formulas, options (`weight`, `reduction`, `ignore_index`, `label_smoothing`, `pos_weight`) and
#    defaults;
# 2. explain why classification losses take *logits* and compute with log-sum-exp, and show that they
#    stay finite for logits of ±10 000;
# 3. reject bad targets (wrong dtype, wrong shape, class index out of range) with an error that says
#    what was wrong;
# 4. measure what the loss costs next to the network it trains.
#
# **Prerequisites:** modules 01–03. **Exports to:** `tinytorch/core/losses.py`, re-exported as
# `tinytorch.nn` (the Module classes) and `tinytorch.nn.functional` (the functions).

# %%
#| default_exp core.losses

# %%
#| export
from __future__ import annotations

import numbers

import numpy as np

from tinytorch.core.activations import log_softmax
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor

# %% [markdown]
# ## Reductions, and checking arguments
#
# Every loss first computes one value per element (per example, or per pixel), then *reduces*:
#
# | `reduction` | result |
# |---|---|
# | `'mean'` (default) | the average — a loss whose scale does not depend on the batch size |
# | `'sum'` | the total |
# | `'none'` | the per-element values, e.g. to weight examples yourself or to inspect the hard ones |
#
# The reduction is composed from recorded tensor ops (`sum`, and a division), so autograd
# differentiates it for free. The helpers below check the arguments every loss shares; each error
# names the function and the argument.

# %%
#| export
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

# %% [markdown]
# ## 1. Mean squared error — regression
#
# ```
#  mse_loss(input, target) = mean_i (input_i - target_i)^2
# ```
#
# Squaring makes every error positive and punishes big misses more than small ones; its gradient
# `2 (input - target) / n` is proportional to the miss. It is a plain composition of `sub`, `mul`
# and the reduction — no new op, no gradient rule.
#
# PyTorch only *warns* when input and target have different shapes and then broadcasts — which turns
# `(N, 1)` against `(N,)` into an `(N, N)` matrix of every difference, a classic silent bug. Here
# different shapes are an error.

# %%
#| export
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: reduce((input - target)^2). Shapes: input and target equal."""
    _check_reduction(reduction, "mse_loss")
    _check_pair(input, target, "mse_loss")
    # Hint: diff = input - target; then _reduce(diff * diff, reduction).
    ### BEGIN SOLUTION
    diff = input - target
    return _reduce(diff * diff, reduction)
    ### END SOLUTION

# %%
#| test
def test_unit_mse_loss():
    prediction = Tensor([[1.0, 2.0], [3.0, 5.0]])
    target = Tensor([[1.0, 0.0], [4.0, 2.0]])
    # squared errors: 0, 4, 1, 9
    for reduction, expected in [("mean", 3.5), ("sum", 14.0), ("none", [[0.0, 4.0], [1.0, 9.0]])]:
        got = mse_loss(prediction, target, reduction=reduction)
        assert np.allclose(got.data, expected), (
            f"mse_loss(reduction={reduction!r}): expected {expected}, got {got.tolist()}")
    assert mse_loss(prediction, target).dtype == np.float32, "mse_loss must keep float32"
    try:
        mse_loss(Tensor([[1.0], [2.0]]), Tensor([1.0, 2.0]))
    except ValueError as error:
        assert "(2, 1)" in str(error) and "(2,)" in str(error), f"name both shapes, got: {error}"
    else:
        raise AssertionError("mse_loss with shapes (2, 1) and (2,) should raise ValueError")
    print("mse_loss: mean/sum/none values, dtype and the shape check are correct")


test_unit_mse_loss()

# %% [markdown]
# ## 2. Negative log likelihood and cross entropy — classification
#
# A classifier outputs one score (*logit*) per class. Softmax turns them into probabilities, and the
# loss for an example whose true class is `y` is the surprise `-log p_y`:
#
# ```
#  logits  z = [2.0, 1.0, 0.1]     softmax -> p = [0.66, 0.24, 0.10]
#  true class y = 0                 loss = -log 0.66 = 0.42     (confident and right: small)
#  true class y = 2                 loss = -log 0.10 = 2.32     (confident and wrong: large)
# ```
#
# PyTorch splits this in two:
#
# ```
#  nll_loss(logp, y)      = -logp[y]                    takes LOG-probabilities
#  cross_entropy(z, y)    = nll_loss(log_softmax(z), y) takes LOGITS
# ```
#
# and the split is about stability. `log(softmax(z))` rounds tiny probabilities to 0 and then
# `log 0 = -inf`; `log_softmax` (module 02) computes `z_y - logsumexp(z)` directly and is finite for
# any finite logits. So a model ends in a Linear layer that outputs logits, and the loss does the
# rest. (If your model already ends in `LogSoftmax`, use `nll_loss`.)
#
# **Shapes.** `input` is `(N, C)` — or `(N, C, d1, d2, ...)` for per-pixel classes, or `(C,)` for
# one unbatched example — and the class dimension is always dim 1 (dim 0 when unbatched). `target`
# holds integer class indices with the input's shape minus the class dimension: `(N,)`,
# `(N, d1, d2, ...)`, or `()`.
#
# **Options, exactly as PyTorch defines them** (`w` = `weight`, one entry per class, default all 1):
#
# ```
#  per element:   l_i = -w[y_i] * logp[i, y_i]              and l_i = 0 where y_i == ignore_index
#  'sum':         sum_i l_i
#  'mean':        sum_i l_i / sum_i w[y_i]                  (sum over the non-ignored i only)
# ```
#
# The weighted mean divides by the summed weights of the targets, not by N — so it is a weighted
# average, and up-weighting a rare class does not change the overall scale of the loss.
# `ignore_index` (default -100) marks targets that contribute nothing: padding tokens, unlabelled
# pixels.
#
# **Label smoothing** `eps` trains against a softened target, `1 - eps` on the true class and
# `eps / C` spread over all classes, which keeps the model from becoming over-confident:
#
# ```
#  l_i = (1 - eps) * (-w[y_i] logp[i, y_i])  +  (eps / C) * (-sum_c w[c] logp[i, c])
# ```
#
# with ignored elements 0 and the same reductions (the 'mean' still divides by `sum_i w[y_i]`).
#
# **The recorded op.** Picking `logp[i, y_i]` out of the array is new, so `nll_loss` records one op,
# `"nll_loss"`, whose per-element value is `coef_i * logp[i, y_i]` with `coef_i = -w[y_i]` (0 where
# ignored). It saves `target` (ignored entries replaced by 0, so they are valid indices) and `coef`;
# module 05's rule puts `coef * grad` back at those positions. Everything else — `log_softmax`, the
# reduction, label smoothing — is composed from ops that already record themselves.

# %%
#| export
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
    ### BEGIN SOLUTION
    safe = np.where(kept, labels, 0)
    picked = np.take_along_axis(logp.data, np.expand_dims(safe, 1), axis=1).squeeze(1)
    picked_weight = np.ones(safe.shape, dtype=logp.dtype) if weight is None else weight[safe]
    coef = np.where(kept, -picked_weight, 0).astype(logp.dtype, copy=False)
    values = coef * np.where(kept, picked, 0)
    per_element = Tensor.from_op(values, "nll_loss", (logp,), target=safe, coef=coef)
    denominator = -coef.sum()
    ### END SOLUTION
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
    ### BEGIN SOLUTION
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
    ### END SOLUTION

# %%
#| test
def test_unit_cross_entropy():
    import math

    logits = Tensor(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], dtype=np.float64))
    target = Tensor([0, 2])

    def logp(row, k):  # log softmax by hand
        values = logits.data[row]
        return values[k] - math.log(sum(math.exp(v) for v in values))

    per = [-logp(0, 0), -logp(1, 2)]
    got = cross_entropy(logits, target, reduction="none")
    assert np.allclose(got.data, per, rtol=1e-12), (
        f"cross_entropy(reduction='none'): expected {per}, got {got.tolist()}; likely cause: take "
        "-log_softmax at the target class of each row")
    assert np.isclose(cross_entropy(logits, target).item(), sum(per) / 2), "'mean' averages over N"
    assert np.isclose(nll_loss(log_softmax(logits, 1), target, reduction="sum").item(), sum(per)), (
        "nll_loss(log_softmax(z)) must equal cross_entropy(z)")
    w = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float64))
    weighted = cross_entropy(logits, target, weight=w).item()
    expected = (1 * per[0] + 3 * per[1]) / (1 + 3)
    assert np.isclose(weighted, expected, rtol=1e-12), (
        f"weighted mean: expected (1*l0 + 3*l1) / (1 + 3) = {expected}, got {weighted}; likely cause: "
        "divide by the summed weights of the targets, not by N")
    ignored = cross_entropy(logits, Tensor([0, -100]))
    assert np.isclose(ignored.item(), per[0]), f"ignore_index entries must not count, got {ignored.item()}"
    eps, smooth = 0.1, [-sum(logp(r, k) for k in range(3)) for r in range(2)]
    expected = sum((1 - eps) * per[r] + eps / 3 * smooth[r] for r in range(2)) / 2
    got = cross_entropy(logits, target, label_smoothing=eps).item()
    assert np.isclose(got, expected, rtol=1e-12), f"label smoothing: expected {expected}, got {got}"
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        extreme = cross_entropy(Tensor([[1e4, -1e4], [-1e4, 1e4]]), Tensor([1, 1]), reduction="none")
    assert extreme.tolist() == [2e4, 0.0], f"logits ±1e4 must give finite [2e4, 0], got {extreme.tolist()}"
    try:
        cross_entropy(logits, Tensor([0, 3]))
    except ValueError as error:
        assert "3" in str(error) and "0..2" in str(error), f"name the bad index and the range, got: {error}"
    else:
        raise AssertionError("class index 3 with C=3 should raise ValueError")
    print("cross_entropy/nll_loss: values, weights, ignore_index, label smoothing, ±1e4 and errors are correct")


test_unit_cross_entropy()

# %% [markdown]
# ## 3. Binary cross entropy — one yes/no per output
#
# For independent yes/no outputs (multi-label tagging, a single "is it a cat?" unit) the target
# `y` in [0, 1] is the probability of "yes", and the loss is the cross entropy of two outcomes:
#
# ```
#  binary_cross_entropy(p, y) = -w * ( y log p + (1 - y) log(1 - p) )         p = probabilities
# ```
#
# `log 0 = -inf` would make a single confident mistake infinite, so PyTorch clamps each log at -100
# (and computes `log(1 - p)` as `log1p(-p)`, accurate for small p). It also refuses probabilities
# outside [0, 1] — usually a sign that a sigmoid is missing.
#
# Better: give the loss the *logit* `z` and let it fold the sigmoid in. With `log sigmoid(z) =
# -softplus(-z)` and `log(1 - sigmoid(z)) = -z - softplus(-z)`,
#
# ```
#  binary_cross_entropy_with_logits(z, y) = w * ( (1 - y) z + (1 + (pos_weight - 1) y) softplus(-z) )
#  softplus(t) = log(1 + e^t) = np.logaddexp(0, t)          (never overflows)
# ```
#
# `pos_weight` multiplies the "yes" term: with 1 positive per 10 negatives, `pos_weight = 10`
# balances them. Both losses record one op for the per-element value (`"binary_cross_entropy"`,
# `"binary_cross_entropy_with_logits"`, with inputs `(input, target)` and the saved weights as
# arrays) and compose the reduction. 'mean' is the plain mean over all elements.

# %%
#| export
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
    ### BEGIN SOLUTION
    p, y = input.data, target.data
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_q = np.maximum(np.log1p(-p), -100)
    values = -(y * log_p + (1 - y) * log_q)
    if weight_array is not None:
        values = values * weight_array
    per_element = Tensor.from_op(values, "binary_cross_entropy", (input, target), weight=weight_array)
    return _reduce(per_element, reduction)
    ### END SOLUTION


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(input) without computing it: w * ((1 - y) z + (1 + (pw - 1) y) softplus(-z))."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_pair(input, target, "binary_cross_entropy_with_logits")
    weight_array = _broadcast_weight(weight, input, "weight", "binary_cross_entropy_with_logits")
    pos_weight_array = _broadcast_weight(pos_weight, input, "pos_weight", "binary_cross_entropy_with_logits")
    # Hint: softplus(-z) = np.logaddexp(0, -z). Without pos_weight the factor on it is 1.
    ### BEGIN SOLUTION
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
    ### END SOLUTION

# %%
#| test
def test_unit_binary_cross_entropy():
    import math

    def f64(values):
        return Tensor(np.array(values, dtype=np.float64))

    p, y = [0.9, 0.2, 0.5], [1.0, 0.0, 1.0]
    per = [-(t * math.log(q) + (1 - t) * math.log(1 - q)) for q, t in zip(p, y)]
    got = binary_cross_entropy(f64(p), f64(y), reduction="none")
    assert np.allclose(got.data, per, rtol=1e-12), f"BCE: expected {per}, got {got.tolist()}"
    clamped = binary_cross_entropy(Tensor([0.0, 1.0]), Tensor([1.0, 0.0]), reduction="none")
    assert clamped.tolist() == [100.0, 100.0], (
        f"log 0 must be clamped at -100 (loss 100), got {clamped.tolist()}")
    logits = [2.0, -1.0, 0.0]
    sig = [1 / (1 + math.exp(-z)) for z in logits]
    per = [-(t * math.log(s) + (1 - t) * math.log(1 - s)) for s, t in zip(sig, y)]
    got = binary_cross_entropy_with_logits(f64(logits), f64(y), reduction="none")
    assert np.allclose(got.data, per, rtol=1e-12), (
        f"BCE with logits should equal BCE of sigmoid(z): expected {per}, got {got.tolist()}")
    weighted = binary_cross_entropy_with_logits(f64(logits), f64(y), pos_weight=f64([3.0]), reduction="none")
    expected = [-(3 * t * math.log(s) + (1 - t) * math.log(1 - s)) for s, t in zip(sig, y)]
    assert np.allclose(weighted.data, expected, rtol=1e-12), (
        f"pos_weight multiplies the positive term: expected {expected}, got {weighted.tolist()}")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        extreme = binary_cross_entropy_with_logits(Tensor([1e4, -1e4, 1e4]), Tensor([1.0, 1.0, 0.0]),
                                                   reduction="none")
    assert extreme.tolist() == [0.0, 1e4, 1e4], f"logits ±1e4 must stay finite, got {extreme.tolist()}"
    try:
        binary_cross_entropy(Tensor([1.5]), Tensor([1.0]))
    except ValueError as error:
        assert "1.5" in str(error) and "sigmoid" in str(error), f"explain the bad value, got: {error}"
    else:
        raise AssertionError("BCE on input 1.5 should raise ValueError")
    print("binary_cross_entropy (+ with_logits): values, clamping, pos_weight, ±1e4 and errors are correct")


test_unit_binary_cross_entropy()

# %% [markdown]
# ## 4. Loss Modules
#
# As with activations, PyTorch offers each loss as a Module too (`criterion = nn.CrossEntropyLoss()`;
# `loss = criterion(logits, target)`), which stores the options once. Class weights are registered
# as *buffers*: part of the loss's state (saved in `state_dict`), never trained.

# %%
#| export
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

# %%
#| test
def test_unit_loss_modules():
    logits, target = Tensor([[2.0, 0.0], [0.0, 3.0]]), Tensor([0, 1])
    criterion = CrossEntropyLoss(weight=Tensor([1.0, 2.0]), label_smoothing=0.2)
    assert np.isclose(criterion(logits, target).item(),
                      cross_entropy(logits, target, weight=Tensor([1.0, 2.0]), label_smoothing=0.2).item())
    assert list(criterion.state_dict()) == ["weight"], "class weights are a (persistent) buffer"
    assert list(criterion.parameters()) == [], "a loss has no parameters"
    assert MSELoss(reduction="sum")(Tensor([1.0, 2.0]), Tensor([0.0, 0.0])).item() == 5.0
    assert repr(MSELoss()) == "MSELoss()" and repr(NLLLoss(reduction="sum")) == "NLLLoss(reduction='sum')"
    for make in (lambda: MSELoss(reduction="avg"), lambda: CrossEntropyLoss(label_smoothing=2.0)):
        try:
            make()
        except ValueError:
            pass
        else:
            raise AssertionError("bad reduction / label_smoothing should raise ValueError")
    print("loss Modules: match the functions, keep weights as buffers, validate options")


test_unit_loss_modules()

# %% [markdown]
# ## Analysis — why log-sum-exp, and what the loss costs
#
# ### The naive cross entropy breaks
#
# Compute `-log(softmax(z)[y])` literally — `exp`, normalise, `log` — and compare it with
# `cross_entropy` as logits grow. Float32 `exp` overflows above about 88.7:

# %%
#| analysis
import warnings


def naive_cross_entropy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """-log(exp(z_y) / sum exp(z)), per row, exactly as the formula reads."""
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(y)), y])


labels = np.array([0, 1])
print(f"{'logit scale':>12} {'naive':>24} {'cross_entropy':>24}  naive warnings")
for scale in (1.0, 10.0, 50.0, 100.0, 1000.0, 1e4):
    z = np.array([[1.0, -1.0], [1.0, -1.0]], dtype=np.float32) * scale
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("always")
        naive = naive_cross_entropy(z, labels)
    stable = cross_entropy(Tensor(z), Tensor(labels), reduction="none").data
    problems = sorted({str(w.message).split(" encountered")[0] for w in caught})
    print(f"{scale:>12g} {np.array2string(naive + 0.0, precision=4):>24} "  # + 0.0 turns -0 into 0
          f"{np.array2string(stable + 0.0, precision=4):>24}  {', '.join(problems) or '-'}")

# %% [markdown]
# The right answer is about 0 for the first example and about `2 * scale` for the second. The naive
# version is right for small logits, loses precision as they grow (99.98 instead of 100 at scale 50),
# and then returns `inf` (a probability that underflowed to 0, then `log 0`) and `nan` (`exp`
# overflowed, then `inf / inf`). A single `nan` in a loss poisons every weight at the next step.
# `cross_entropy` works in log space throughout and is exact at every scale.
#
# ### The loss next to the network
#
# How much of a training step is the loss? Time the forward pass of the module-03 MLP and of
# `cross_entropy` on its logits:

# %%
#| analysis
import time

from tinytorch.core.layers import Linear, ReLU, Sequential
from tinytorch.core.tensor import manual_seed


def best_time(fn, repeats: int = 10) -> float:
    """Best wall-clock time of fn() over `repeats` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


manual_seed(0)
rng = np.random.default_rng(0)
model = Sequential(Linear(784, 256), ReLU(), Linear(256, 10))
batches, forward_ms, loss_ms = (16, 64, 256, 1024), [], []
for batch in batches:
    images = Tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    classes = Tensor(rng.integers(0, 10, batch))
    logits = model(images)
    network = best_time(lambda: model(images))
    loss = best_time(lambda: cross_entropy(logits, classes))
    forward_ms.append(network * 1e3)
    loss_ms.append(loss * 1e3)
    print(f"batch {batch:>5}: MLP forward {network * 1e3:7.3f} ms, cross_entropy {loss * 1e3:7.3f} ms "
          f"({loss / (network + loss):.0%} of the forward step)")

from tito.plots import plot_lines

plot_lines("loss_vs_forward_time", batches, {"MLP forward": forward_ms, "cross_entropy": loss_ms},
           xlabel="batch size", ylabel="ms per call", title="The loss is a small share of the step",
           logx=True, logy=True)

# %% [markdown]
# The loss touches only N x C numbers (C = 10 here) while the first layer alone does 2 x N x 784 x 256
# FLOPs, so for a real model the loss is a small share of the step, and a larger share only for
# tiny models or when C is large (language models with C = 50 000 classes per token, where the
# softmax over the vocabulary becomes a real cost). For small batches, fixed per-call overhead
# (Python, argument checks) dominates both.

# %% [markdown]
# ## Reflection
#
# **Q1.** A classmate ends their model with `Softmax(dim=1)` and then calls `cross_entropy` on its
# output. The code runs and the loss goes down, but slowly. What is actually being computed, and
# why does it learn worse?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** With class weights `w = [1, 10]` and a batch of 9 examples of class 0 and 1 of class 1,
# what is the 'mean' cross entropy dividing by? Why is this a better choice than dividing by N = 10?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** A model computes `p = sigmoid(z)` and then `binary_cross_entropy(p, y)`. For a positive
# example (`y = 1`) with a float32 logit `z = -120`, `p` is exactly 0. What loss do you get (think of
# the -100 clamp), and what gradient reaches `z` through the sigmoid? Why can such a model get
# stuck, and what does `binary_cross_entropy_with_logits(z, y)` give instead?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - A loss computes one value per element and reduces ('mean', 'sum', 'none') with recorded ops.
# - Classification losses take logits and work in log space (`log_softmax`, `softplus`), so they
#   are finite for any finite input; the naive formulas overflow to `inf` and `nan`.
# - PyTorch's exact conventions: the weighted mean divides by the targets' summed weights,
#   `ignore_index` entries count for nothing, label smoothing mixes in `eps / C` of every class,
#   BCE clamps logs at -100.
# - Bad targets (float classes, wrong shape, index out of range) fail at the boundary with a message.
#
# Next, module 05 gives every recorded op its gradient rule, and `loss.backward()` comes alive.
