"""Module 04: losses — values against PyTorch's formulas (written out with plain loops), options,
stability, recording, Modules and every bad-input error."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tinytorch.core.activations import log_softmax
from tinytorch.core.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from tinytorch.core.tensor import Tensor


def f64(values):
    return Tensor(np.array(values, dtype=np.float64))


def f32(values):
    return Tensor(np.array(values, dtype=np.float32))


def longs(values):
    return Tensor(np.array(values, dtype=np.int64))


# ----- a slow, obviously-correct reference for cross entropy (PyTorch's formula, element by element) --
def reference_cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    logits, target = np.asarray(logits, dtype=np.float64), np.asarray(target)
    if logits.ndim == 1:
        logits, target = logits[None], target[None]
    classes = logits.shape[1]
    weight = np.ones(classes) if weight is None else np.asarray(weight, dtype=np.float64)
    moved = np.moveaxis(logits, 1, -1).reshape(-1, classes)
    losses, weights = [], []
    for row, label in zip(moved, target.reshape(-1)):
        if label == ignore_index:
            losses.append(0.0)
            continue
        top = max(row)
        lse = top + math.log(sum(math.exp(v - top) for v in row))
        logp = [v - lse for v in row]
        nll = -weight[label] * logp[label]
        smooth = -sum(weight[c] * logp[c] for c in range(classes))
        losses.append((1 - eps) * nll + eps / classes * smooth)
        weights.append(weight[label])
    losses = np.array(losses).reshape(target.shape)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / sum(weights) if weights else float("nan")


LOGITS = [[2.0, 1.0, 0.1, -1.0], [0.5, 2.5, -1.0, 0.0], [-3.0, 0.2, 0.3, 4.0]]
TARGET = [0, 3, 3]
WEIGHT = [1.0, 2.0, 0.5, 3.0]


@pytest.mark.parametrize("reduction, weight, ignore, eps", list(itertools.product(
    ["mean", "sum", "none"], [None, WEIGHT], [-100, 3], [0.0, 0.1, 1.0])))
def test_cross_entropy_matches_pytorch_formula(reduction, weight, ignore, eps):
    got = cross_entropy(f64(LOGITS), longs(TARGET), weight=None if weight is None else f64(weight),
                        ignore_index=ignore, reduction=reduction, label_smoothing=eps)
    expected = reference_cross_entropy(LOGITS, TARGET, weight, ignore, reduction, eps)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-15)


def test_cross_entropy_numbers_by_hand():
    # logits [0, ln 3] -> probabilities [1/4, 3/4]
    logits = f64([[0.0, math.log(3)], [0.0, math.log(3)]])
    got = cross_entropy(logits, longs([1, 0]), reduction="none")
    np.testing.assert_allclose(got.data, [-math.log(0.75), -math.log(0.25)], rtol=1e-14)
    weighted = cross_entropy(logits, longs([1, 0]), weight=f64([3.0, 1.0]))
    expected = (1 * -math.log(0.75) + 3 * -math.log(0.25)) / (1 + 3)
    assert weighted.item() == pytest.approx(expected, rel=1e-14)
    smooth = cross_entropy(logits, longs([1, 1]), label_smoothing=0.2)
    # target distribution [0.1, 0.9]
    assert smooth.item() == pytest.approx(-(0.1 * math.log(0.25) + 0.9 * math.log(0.75)), rel=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, [0.5, 1.0, 2.0]])
def test_cross_entropy_spatial_input(reduction, weight):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 3, 4, 5))
    target = rng.integers(0, 3, (2, 4, 5))
    target[0, 1, 2] = -100
    got = cross_entropy(Tensor(logits), Tensor(target), weight=None if weight is None else f64(weight),
                        reduction=reduction, label_smoothing=0.05)
    expected = reference_cross_entropy(logits, target, weight, -100, reduction, 0.05)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_unbatched(reduction):
    got = cross_entropy(f64(LOGITS[0]), longs(2), weight=f64(WEIGHT), reduction=reduction, label_smoothing=0.1)
    expected = reference_cross_entropy(LOGITS[0], 2, WEIGHT, -100, reduction, 0.1)
    assert got.shape == ()
    assert got.item() == pytest.approx(float(np.squeeze(expected)), rel=1e-12)


def test_cross_entropy_all_ignored_mean_is_nan_silently():
    with np.errstate(all="raise"):
        got = cross_entropy(f32(LOGITS), longs([-100, -100, -100]))
    assert math.isnan(got.item())
    assert cross_entropy(f32(LOGITS), longs([-100] * 3), reduction="sum").item() == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]], dtype=dtype))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        per = cross_entropy(logits, longs([1, 1, 0]), reduction="none")
        smooth = cross_entropy(logits, longs([1, 1, 0]), label_smoothing=0.1)
    assert per.dtype == dtype
    np.testing.assert_allclose(per.data, [2e4, 0.0, 1e4], rtol=1e-6)
    assert np.isfinite(smooth.item())


def test_nll_loss_of_log_softmax_is_cross_entropy():
    logp = log_softmax(f64(LOGITS), dim=1)
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(
            nll_loss(logp, longs(TARGET), weight=f64(WEIGHT), reduction=reduction).data,
            cross_entropy(f64(LOGITS), longs(TARGET), weight=f64(WEIGHT), reduction=reduction).data, rtol=1e-14)


def test_nll_loss_picks_the_target_entries():
    logp = f64([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]])
    assert nll_loss(logp, longs([2, 0]), reduction="none").tolist() == [3.0, 4.0]
    assert nll_loss(logp, longs([2, 0])).item() == 3.5
    assert nll_loss(logp, longs([2, 0]), weight=f64([1.0, 0.0, 3.0])).item() == (3 * 3 + 1 * 4) / (3 + 1)
    assert nll_loss(logp, longs([2, 5]), ignore_index=5, reduction="none").tolist() == [3.0, 0.0]
    assert nll_loss(f64([-1.0, -2.0]), longs(1)).item() == 2.0


def test_ignored_entries_with_minus_infinity_stay_zero():
    logp = f64([[0.0, -np.inf], [-np.inf, 0.0]])
    assert nll_loss(logp, longs([0, -100]), reduction="none").tolist() == [0.0, 0.0]


def test_nll_loss_records_one_op_as_the_contract_says():
    logp = Tensor(np.log(np.full((3, 4), 0.25, dtype=np.float32)), requires_grad=True)
    out = nll_loss(logp, longs([1, -100, 3]), weight=f32([1.0, 2.0, 3.0, 4.0]), reduction="none")
    node = out.grad_fn
    assert node.op == "nll_loss" and node.inputs == (logp,)
    assert node.saved["target"].tolist() == [1, 0, 3], "ignored targets are saved as 0"
    assert node.saved["coef"].tolist() == [-2.0, 0.0, -4.0] and node.saved["coef"].dtype == np.float32
    assert set(node.saved) == {"target", "coef"}
    mean = nll_loss(logp, longs([1, -100, 3]), weight=f32([1.0, 2.0, 3.0, 4.0]))
    assert mean.grad_fn.op == "div" and mean.dtype == np.float32


def test_cross_entropy_records_log_softmax_then_nll():
    logits = Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    per = cross_entropy(logits, longs([0, 2]), reduction="none")
    assert per.grad_fn.op == "nll_loss"
    assert per.grad_fn.inputs[0].grad_fn.op == "log_softmax"
    assert per.grad_fn.inputs[0].grad_fn.saved["dim"] == 1


# ----- mse ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction, expected", [("mean", 3.5), ("sum", 14.0), ("none", [[0, 4], [1, 9]])])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mse_loss(reduction, expected, dtype):
    x = Tensor(np.array([[1, 2], [3, 5]], dtype=dtype))
    y = Tensor(np.array([[1, 0], [4, 2]], dtype=dtype))
    out = mse_loss(x, y, reduction=reduction)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, expected)
    assert MSELoss(reduction=reduction)(x, y).tolist() == out.tolist()


def test_mse_loss_records_a_composition_with_both_inputs():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    out = mse_loss(x, y)
    assert out.requires_grad and out.grad_fn.op == "div"


# ----- binary cross entropy ---------------------------------------------------------------------------
def bce_reference(p, y, w=1.0):
    return -w * (y * max(math.log(p) if p > 0 else -math.inf, -100)
                 + (1 - y) * max(math.log1p(-p) if p < 1 else -math.inf, -100))


P = [0.9, 0.2, 0.5, 1e-5, 0.0, 1.0, 0.3]
Y = [1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.25]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_values(reduction):
    weight = [1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 2.0]
    per = [bce_reference(p, y, w) for p, y, w in zip(P, Y, weight)]
    got = binary_cross_entropy(f64(P), f64(Y), weight=f64(weight), reduction=reduction)
    expected = {"none": per, "sum": sum(per), "mean": sum(per) / len(per)}[reduction]
    np.testing.assert_allclose(got.data, expected, rtol=1e-12)


def test_binary_cross_entropy_clamps_and_broadcasts_weight():
    got = binary_cross_entropy(f32([[0.0, 1.0], [0.5, 0.5]]), f32([[1.0, 0.0], [1.0, 0.0]]),
                               weight=f32([2.0, 1.0]), reduction="none")
    np.testing.assert_allclose(got.data, [[200.0, 100.0], [2 * math.log(2), math.log(2)]], rtol=1e-6)
    assert got.dtype == np.float32


def logits_reference(z, y, pw=1.0, w=1.0):
    log_sig = -math.log1p(math.exp(-z)) if z >= 0 else z - math.log1p(math.exp(z))
    log_one_minus = log_sig - z
    return -w * (pw * y * log_sig + (1 - y) * log_one_minus)


Z = [2.0, -1.0, 0.0, 30.0, -30.0, 0.7]
YZ = [1.0, 0.0, 1.0, 0.0, 1.0, 0.4]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", [None, 3.0])
def test_binary_cross_entropy_with_logits_values(reduction, pos_weight):
    weight = [1.0, 0.5, 2.0, 1.0, 1.0, 3.0]
    per = [logits_reference(z, y, pos_weight or 1.0, w) for z, y, w in zip(Z, YZ, weight)]
    got = binary_cross_entropy_with_logits(f64(Z), f64(YZ), weight=f64(weight), reduction=reduction,
                                           pos_weight=None if pos_weight is None else f64([pos_weight]))
    expected = {"none": per, "sum": sum(per), "mean": sum(per) / len(per)}[reduction]
    np.testing.assert_allclose(got.data, expected, rtol=1e-12)


def test_bce_with_logits_equals_bce_of_sigmoid_for_moderate_logits():
    z = np.linspace(-8, 8, 33)
    y = np.random.default_rng(0).random(33)
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(binary_cross_entropy_with_logits(Tensor(z), Tensor(y), reduction="none").data,
                               binary_cross_entropy(Tensor(p), Tensor(y), reduction="none").data, rtol=1e-9)


def test_pos_weight_broadcasts_over_classes():
    z = f64([[0.5, -0.5, 1.0], [2.0, 0.0, -1.0]])
    y = f64([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    pw = [1.0, 2.0, 4.0]
    got = binary_cross_entropy_with_logits(z, y, pos_weight=f64(pw), reduction="none")
    expected = [[logits_reference(z.data[i, j], y.data[i, j], pw[j]) for j in range(3)] for i in range(2)]
    np.testing.assert_allclose(got.data, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_finite_for_huge_logits(dtype):
    z = Tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype))
    y = Tensor(np.array([1.0, 1.0, 0.0, 0.0], dtype=dtype))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = binary_cross_entropy_with_logits(z, y, reduction="none", pos_weight=Tensor(np.array([2.0], dtype=dtype)))
    assert got.dtype == dtype
    assert got.tolist() == [0.0, 2e4, 1e4, 0.0]


def test_binary_losses_record_one_op_with_their_weights():
    p = Tensor(np.full(3, 0.5, dtype=np.float32), requires_grad=True)
    y = f32([1.0, 0.0, 1.0])
    node = binary_cross_entropy(p, y, reduction="none").grad_fn
    assert node.op == "binary_cross_entropy" and node.inputs[0] is p and node.inputs[1] is y
    assert node.saved == {"weight": None}
    node = binary_cross_entropy_with_logits(p, y, weight=f32([2.0]), pos_weight=f32([3.0]), reduction="none").grad_fn
    assert node.op == "binary_cross_entropy_with_logits" and set(node.saved) == {"weight", "pos_weight"}
    assert node.saved["weight"].tolist() == [2.0] and node.saved["pos_weight"].tolist() == [3.0]
    assert node.saved["weight"].dtype == np.float32


# ----- Modules --------------------------------------------------------------------------------------
def test_loss_modules_match_functions_and_keep_weights_as_buffers():
    logits, target = f64(LOGITS), longs(TARGET)
    weight = f64(WEIGHT)
    ce = CrossEntropyLoss(weight=weight, ignore_index=3, reduction="sum", label_smoothing=0.2)
    assert ce(logits, target).item() == pytest.approx(
        cross_entropy(logits, target, weight, 3, "sum", 0.2).item(), rel=1e-15)
    assert ce.weight is weight and list(ce.state_dict()) == ["weight"] and list(ce.parameters()) == []
    nll = NLLLoss(weight=weight)
    logp = log_softmax(logits, 1)
    assert nll(logp, target).item() == pytest.approx(nll_loss(logp, target, weight).item(), rel=1e-15)
    p, y = f64([0.2, 0.7]), f64([0.0, 1.0])
    assert BCELoss()(p, y).item() == binary_cross_entropy(p, y).item()
    bce = BCEWithLogitsLoss(pos_weight=f64([2.0]))
    assert bce(p, y).item() == binary_cross_entropy_with_logits(p, y, pos_weight=f64([2.0])).item()
    assert list(bce.state_dict()) == ["pos_weight"], "a None weight is not saved"
    assert CrossEntropyLoss().state_dict() == {}


@pytest.mark.parametrize("make, shown", [
    (MSELoss, "MSELoss()"), (lambda: MSELoss(reduction="sum"), "MSELoss(reduction='sum')"),
    (CrossEntropyLoss, "CrossEntropyLoss()"), (lambda: NLLLoss(reduction="none"), "NLLLoss(reduction='none')"),
    (BCELoss, "BCELoss()"), (BCEWithLogitsLoss, "BCEWithLogitsLoss()"),
])
def test_loss_module_repr(make, shown):
    assert repr(make()) == shown


@pytest.mark.parametrize("make, error, message", [
    (lambda: MSELoss(reduction="avg"), ValueError, r"MSELoss: reduction must be 'none', 'mean' or 'sum', got 'avg'"),
    (lambda: CrossEntropyLoss(reduction=None), ValueError, r"CrossEntropyLoss: reduction must be"),
    (lambda: CrossEntropyLoss(label_smoothing=-0.1), ValueError,
     r"label_smoothing must be between 0.0 and 1.0, got -0.1"),
    (lambda: CrossEntropyLoss(label_smoothing="0.1"), TypeError, r"label_smoothing must be a number"),
    (lambda: CrossEntropyLoss(ignore_index=1.0), TypeError, r"CrossEntropyLoss: ignore_index must be an int"),
    (lambda: NLLLoss(ignore_index=None), TypeError, r"NLLLoss: ignore_index must be an int"),
    (lambda: CrossEntropyLoss(weight=[1.0, 2.0]), TypeError,
     r"CrossEntropyLoss: weight must be a Tensor or None, got list"),
    (lambda: BCEWithLogitsLoss(pos_weight=np.ones(2)), TypeError, r"pos_weight must be a Tensor or None, got ndarray"),
    (lambda: BCELoss(reduction="mean "), ValueError, r"BCELoss: reduction must be"),
])
def test_loss_module_bad_settings(make, error, message):
    with pytest.raises(error, match=message):
        make()


# ----- bad input ------------------------------------------------------------------------------------
CLASS_LOSSES = [("cross_entropy", cross_entropy), ("nll_loss", nll_loss)]


@pytest.mark.parametrize("name, fn", CLASS_LOSSES)
@pytest.mark.parametrize("input, target, kwargs, error, message", [
    (f32([[0.0, 1.0]]), f32([1.0]), {}, TypeError,
     r"target must hold integer class indices \(int64\), got dtype float32; "
     r"class-probability targets are not supported"),
    (Tensor([[0, 1]]), longs([1]), {}, TypeError, r"input must be a floating-point tensor, got dtype int64"),
    ([[0.0, 1.0]], longs([1]), {}, TypeError, r"input must be a Tensor, got list"),
    (f32([[0.0, 1.0]]), [1], {}, TypeError, r"target must be a Tensor of class indices, got list"),
    (f32(np.zeros((4, 3))), longs([0, 1, 2]), {}, ValueError,
     r"input of shape \(4, 3\) needs a target of shape \(N,\) = \(4,\) .*got target of shape \(3,\)"),
    (f32(np.zeros((4, 3))), longs(np.zeros((4, 3), dtype=np.int64)), {}, ValueError,
     r"input of shape \(4, 3\) needs a target of shape \(N,\) = \(4,\) .*got target of shape \(4, 3\)"),
    (f32(np.zeros((2, 3, 5))), longs(np.zeros((2, 4), dtype=np.int64)), {}, ValueError,
     r"input of shape \(2, 3, 5\) needs a target of shape \(N, d1, ...\) = \(2, 5\)"),
    (f32([0.0, 1.0, 2.0]), longs([1]), {}, ValueError, r"input of shape \(3,\) needs a target of shape \(\) = \(\)"),
    (Tensor(np.float32(1.0)), longs(0), {}, ValueError, r"input must have a class dimension"),
    (f32(np.zeros((3, 3))), longs([0, 3, 1]), {}, ValueError,
     r"target holds class index 3, but the input has C=3 classes, so indices must be in 0..2 "
     r"\(entries equal to ignore_index=-100 are skipped\)"),
    (f32(np.zeros((3, 3))), longs([0, -1, -100]), {}, ValueError, r"target holds class index -1"),
    (f32(np.zeros((3, 3))), longs([0, 1, 7]), {"ignore_index": 5}, ValueError,
     r"target holds class index 7.*ignore_index=5"),
    (f32(np.zeros((3, 3))), longs([0, 1, 2]), {"weight": f32([1.0, 2.0])}, ValueError,
     r"weight must have one entry per class, shape \(3,\), got shape \(2,\)"),
    (f32(np.zeros((3, 3))), longs([0, 1, 2]), {"weight": longs([1, 2, 3])}, TypeError,
     r"weight must be a floating-point tensor"),
    (f32(np.zeros((3, 3))), longs([0, 1, 2]), {"weight": [1.0, 2.0, 3.0]}, TypeError, r"weight must be a Tensor"),
    (f32(np.zeros((3, 3))), longs([0, 1, 2]), {"reduction": "average"}, ValueError,
     r"reduction must be 'none', 'mean' or 'sum', got 'average'"),
    (f32(np.zeros((3, 3))), longs([0, 1, 2]), {"ignore_index": 1.5}, TypeError, r"ignore_index must be an int"),
])
def test_class_loss_bad_input(name, fn, input, target, kwargs, error, message):
    with pytest.raises(error, match=rf"^{name}: {message}"):
        fn(input, target, **kwargs)


def test_ignored_index_outside_range_is_fine():
    uniform = f32(np.zeros((2, 3)))
    assert cross_entropy(uniform, longs([-100, 1])).item() == pytest.approx(math.log(3), rel=1e-6)
    assert cross_entropy(uniform, longs([7, 1]), ignore_index=7).item() == pytest.approx(math.log(3), rel=1e-6)


@pytest.mark.parametrize("smoothing, error", [(1.5, ValueError), (-0.01, ValueError), ("x", TypeError),
                                               (True, TypeError)])
def test_cross_entropy_bad_label_smoothing(smoothing, error):
    with pytest.raises(error, match="cross_entropy: label_smoothing"):
        cross_entropy(f32([[0.0, 1.0]]), longs([1]), label_smoothing=smoothing)


ELEMENTWISE_LOSSES = [("mse_loss", mse_loss), ("binary_cross_entropy", binary_cross_entropy),
                      ("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits)]


@pytest.mark.parametrize("name, fn", ELEMENTWISE_LOSSES)
@pytest.mark.parametrize("input, target, kwargs, error, message", [
    (f32([[0.5], [0.5]]), f32([1.0, 0.0]), {}, ValueError,
     r"input shape \(2, 1\) and target shape \(2,\) differ; they must be equal"),
    (f32([0.5, 0.5]), longs([1, 0]), {}, TypeError,
     r"target must be a floating-point tensor, got dtype int64; convert it with target.float\(\)"),
    (Tensor([1, 0]), f32([1.0, 0.0]), {}, TypeError, r"input must be a floating-point tensor, got dtype int64"),
    (f32([0.5, 0.5]), f64([1.0, 0.0]), {}, TypeError, r"input is float32 but target is float64"),
    (f32([0.5]), [1.0], {}, TypeError, r"target must be a Tensor, got list"),
    (np.array([0.5]), f32([1.0]), {}, TypeError, r"input must be a Tensor, got ndarray"),
    (f32([0.5]), f32([1.0]), {"reduction": "mean_"}, ValueError, r"reduction must be 'none', 'mean' or 'sum'"),
])
def test_elementwise_loss_bad_input(name, fn, input, target, kwargs, error, message):
    with pytest.raises(error, match=rf"^{name}: {message}"):
        fn(input, target, **kwargs)


@pytest.mark.parametrize("name, fn", ELEMENTWISE_LOSSES[1:])
@pytest.mark.parametrize("kwarg, value, error, message", [
    ("weight", f32([1.0, 2.0, 3.0]), ValueError,
     r"weight of shape \(3,\) does not broadcast to the input shape \(2, 2\)"),
    ("weight", longs([1, 2]), TypeError, r"weight must be a floating-point tensor"),
    ("weight", [1.0, 2.0], TypeError, r"weight must be a Tensor"),
])
def test_binary_loss_bad_weight(name, fn, kwarg, value, error, message):
    with pytest.raises(error, match=rf"^{name}: {message}"):
        fn(f32([[0.5, 0.5], [0.5, 0.5]]), f32([[1.0, 0.0], [0.0, 1.0]]), **{kwarg: value})


def test_bad_pos_weight():
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) does not broadcast to the input shape \(2, 2\)"):
        binary_cross_entropy_with_logits(f32([[0.5, 0.5]] * 2), f32([[1.0, 0.0]] * 2), pos_weight=f32([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("input, target, message", [
    ([1.5, 0.5], [1.0, 0.0], r"all elements of input should be between 0 and 1, found 1.5 \(did you forget a sigmoid"),
    ([-0.1, 0.5], [1.0, 0.0], r"all elements of input should be between 0 and 1, found -0.1"),
    ([np.nan, 0.5], [1.0, 0.0], r"all elements of input should be between 0 and 1, found nan"),
    ([0.5, 0.5], [2.0, 0.0], r"all elements of target should be between 0 and 1, found 2.0$"),
])
def test_binary_cross_entropy_range_checks(input, target, message):
    with pytest.raises(ValueError, match=rf"^binary_cross_entropy: {message}"):
        binary_cross_entropy(f32(input), f32(target))
