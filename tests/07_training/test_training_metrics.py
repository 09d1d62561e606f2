"""Module 07 metrics: accuracy, confusion_matrix, precision_recall_f1, evaluate_model — against
values worked out by hand (or by plain loops), including every zero-division case."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from training_helpers import CrossEntropyLoss, Linear, Loader, Probe, Tensor

from tinytorch.core.training import (
    PrecisionRecallF1,
    accuracy,
    confusion_matrix,
    evaluate_model,
    precision_recall_f1,
)


# ----- accuracy ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("output, target, kwargs, expected", [
    ([[3.0, 1.0], [0.0, 2.0], [5.0, 4.0]], [0, 1, 1], {}, 2 / 3),          # argmax over dim 1
    ([[0.2, 0.7, 0.1]], [1], {}, 1.0),
    (np.zeros((2, 3, 4)), np.zeros((2, 4), np.int64), {}, 1.0),            # (N, C, L): classes in dim 1
    ([4, 0, 2, 2], [4, 1, 2, 3], {}, 0.5),                                 # integer predictions
    ([True, False], [1, 1], {}, 0.5),                                      # boolean predictions
    ([0.9, 0.4, 0.51, 0.1], [1.0, 1.0, 1.0, 0.0], {}, 0.75),               # probabilities, threshold 0.5
    ([2.0, -1.0, -0.1], [1, 0, 1], {"threshold": 0.0}, 2 / 3),             # logits, threshold 0
])
def test_accuracy_cases(output, target, kwargs, expected):
    got = accuracy(np.asarray(output), np.asarray(target), **kwargs)
    assert isinstance(got, float)
    assert got == pytest.approx(expected)


def test_accuracy_takes_tensors_and_ignores_the_graph():
    scores = Tensor(np.array([[1.0, 2.0], [3.0, 0.0]], np.float32), requires_grad=True)
    assert accuracy(scores * 2, Tensor(np.array([1, 1]))) == 0.5


@pytest.mark.parametrize("output, target, fragment", [
    (np.zeros((4, 3)), np.zeros(5, np.int64), "shape"),
    (np.zeros((4, 3, 2)), np.zeros((4, 3), np.int64), "dim 1"),
    (np.zeros(3), np.zeros(4), "shape"),
    (np.zeros((0, 3)), np.zeros(0, np.int64), "no samples"),
])
def test_accuracy_rejects_shapes_that_do_not_fit(output, target, fragment):
    with pytest.raises(ValueError, match=fragment):
        accuracy(output, target)


def test_accuracy_rejects_non_numbers():
    with pytest.raises(TypeError, match="numbers"):
        accuracy(np.array(["a", "b"]), np.array([0, 1]))


# ----- confusion matrix -------------------------------------------------------------------------------
def loop_confusion(true, pred, classes):
    cm = np.zeros((classes, classes), dtype=np.int64)
    for t, p in zip(true, pred):
        cm[t][p] += 1
    return cm


def test_confusion_matrix_by_hand():
    true = [2, 0, 2, 2, 0, 1]
    pred = [0, 0, 2, 2, 0, 2]
    cm = confusion_matrix(true, pred)
    assert cm.dtype == np.int64
    assert cm.tolist() == [[2, 0, 0],
                           [0, 0, 1],
                           [1, 0, 2]]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6).flatmap(lambda c: st.tuples(
    st.just(c), st.lists(st.tuples(st.integers(0, c - 1), st.integers(0, c - 1)), min_size=1, max_size=60))))
def test_confusion_matrix_matches_a_loop(case):
    classes, pairs = case
    true, pred = (np.array(v) for v in zip(*pairs))
    cm = confusion_matrix(true, pred, num_classes=classes)
    assert np.array_equal(cm, loop_confusion(true, pred, classes))
    assert cm.sum() == len(pairs) and np.trace(cm) == np.sum(true == pred)


def test_confusion_matrix_sizes_and_inputs():
    assert confusion_matrix([1], [1]).shape == (2, 2), "num_classes defaults to the largest label + 1"
    assert confusion_matrix([0], [3]).shape == (4, 4), "the largest label of either argument counts"
    assert confusion_matrix([], [], num_classes=3).tolist() == [[0] * 3] * 3
    tensors = confusion_matrix(Tensor(np.array([0, 1])), Tensor(np.array([1, 1])), 2)
    assert tensors.tolist() == [[0, 1], [0, 1]]
    assert confusion_matrix(np.array([[0, 1], [1, 1]]), np.array([[0, 0], [1, 1]])).tolist() == [[1, 0], [1, 2]]
    assert confusion_matrix(np.array([0.0, 1.0]), np.array([1.0, 1.0])).tolist() == [[0, 1], [0, 1]]


@pytest.mark.parametrize("true, pred, classes, error, fragment", [
    ([0, 1], [0], None, ValueError, "2 labels"),
    ([0, -1], [0, 0], None, ValueError, "-1"),
    ([0, 3], [0, 1], 3, ValueError, "label 3"),
    ([0, 1], [0, 5], 3, ValueError, "y_pred holds label 5"),
    ([0, 1], [0, 1], 0, ValueError, "positive"),
    ([0.5, 1.0], [0, 1], None, TypeError, "fractional"),
    ([], [], None, ValueError, "no labels"),
])
def test_confusion_matrix_errors(true, pred, classes, error, fragment):
    with pytest.raises(error, match=fragment):
        confusion_matrix(np.array(true), np.array(pred), classes)


# ----- precision, recall, F1 --------------------------------------------------------------------------
TRUE = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
PRED = [0, 0, 1, 2, 1, 0, 2, 2, 2, 1]
# class 0: TP 2, FP 1 (a true 1), FN 2  -> P 2/3, R 2/4
# class 1: TP 1, FP 2 (a 0 and a 2), FN 1 -> P 1/3, R 1/2
# class 2: TP 3, FP 1 (a 0), FN 1        -> P 3/4, R 3/4
P = np.array([2 / 3, 1 / 3, 3 / 4])
R = np.array([2 / 4, 1 / 2, 3 / 4])
F1 = 2 * P * R / (P + R)
SUPPORT = np.array([4, 2, 4])


def test_per_class_by_hand():
    got = precision_recall_f1(TRUE, PRED, average=None)
    assert isinstance(got, PrecisionRecallF1)
    np.testing.assert_allclose(got.precision, P)
    np.testing.assert_allclose(got.recall, R)
    np.testing.assert_allclose(got.f1, F1)


@pytest.mark.parametrize("average, expected", [
    ("macro", (P.mean(), R.mean(), F1.mean())),
    ("weighted", tuple(float(np.sum(v * SUPPORT) / SUPPORT.sum()) for v in (P, R, F1))),
    ("micro", (0.6, 0.6, 0.6)),
])
def test_averages_by_hand(average, expected):
    got = precision_recall_f1(TRUE, PRED, average=average)
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_allclose(tuple(got), expected)


def test_micro_average_is_accuracy():
    rng = np.random.default_rng(4)
    true, pred = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    assert precision_recall_f1(true, pred, average="micro").f1 == pytest.approx(accuracy(pred, true))


def test_zero_division_gives_zero_without_warnings():
    true = np.array([0, 0, 1, 1])
    pred = np.array([0, 0, 0, 0])  # class 1 is never predicted; class 2 appears nowhere
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = precision_recall_f1(true, pred, num_classes=3, average=None)
    np.testing.assert_allclose(got.precision, [0.5, 0.0, 0.0])   # class 1: 0 / 0 predicted -> 0
    np.testing.assert_allclose(got.recall, [1.0, 0.0, 0.0])      # class 2: 0 / 0 true -> 0
    np.testing.assert_allclose(got.f1, [2 / 3, 0.0, 0.0])        # P + R == 0 -> 0
    macro = precision_recall_f1(true, pred, num_classes=3)
    assert macro.f1 == pytest.approx((2 / 3) / 3), "an absent class counts as 0 in the macro mean"
    assert precision_recall_f1(true, pred).f1 == pytest.approx((2 / 3) / 2), "without num_classes: 2 classes"


def test_perfect_and_hopeless_predictions():
    labels = [0, 1, 2, 1]
    assert tuple(precision_recall_f1(labels, labels)) == (1.0, 1.0, 1.0)
    assert tuple(precision_recall_f1([0, 0, 1, 1], [1, 1, 0, 0])) == (0.0, 0.0, 0.0)


def test_bad_average():
    with pytest.raises(ValueError, match="average"):
        precision_recall_f1([0], [0], average="binary")


# ----- evaluate_model ---------------------------------------------------------------------------------
def fixed_model():
    """Linear 2 -> 3 whose prediction is: class 0 if x0 > x1 (and both > 0), else 1, with class 2 never."""
    model = Linear(2, 3)
    model.weight.data[...] = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], np.float32)
    model.bias.data[...] = 0.0
    return model


def test_evaluate_model_report_by_hand():
    x = np.array([[2, 1], [3, 0], [0, 1], [1, 2], [5, 1], [1, 4]], np.float32)
    y = np.array([0, 1, 1, 0, 2, 1])  # predicted: 0, 0, 1, 1, 0, 1
    model = fixed_model()
    report = evaluate_model(model, Loader(x, y, batch_size=4), num_classes=3, loss_fn=CrossEntropyLoss())
    assert report["confusion_matrix"].tolist() == [[1, 1, 0],
                                                   [1, 2, 0],
                                                   [1, 0, 0]]
    assert report["accuracy"] == pytest.approx(3 / 6)
    p, r = np.array([1 / 3, 2 / 3, 0.0]), np.array([1 / 2, 2 / 3, 0.0])
    f = np.divide(2 * p * r, p + r, out=np.zeros(3), where=p + r > 0)
    np.testing.assert_allclose(report["per_class"]["precision"], p)
    np.testing.assert_allclose(report["per_class"]["recall"], r)
    np.testing.assert_allclose(report["per_class"]["f1"], f)
    assert report["per_class"]["support"].tolist() == [2, 3, 1]
    assert (report["precision"], report["recall"], report["f1"]) == pytest.approx((p.mean(), r.mean(), f.mean()))
    whole = CrossEntropyLoss()(model(Tensor(x)), Tensor(y)).item()
    assert report["loss"] == pytest.approx(whole, rel=1e-5), "the loss is averaged over samples, not batches"


def test_evaluate_model_defaults_and_modes():
    x, y = np.ones((5, 2), np.float32), np.zeros(5, np.int64)
    probe = Probe(fixed_model())
    probe.train()
    report = evaluate_model(probe, Loader(x, y, 2))
    assert "loss" not in report, "no loss_fn, no loss"
    assert report["confusion_matrix"].shape == (3, 3), "num_classes defaults to the model's output width"
    assert set(probe.calls) == {(False, False)}, "eval mode and no graph recording"
    assert probe.training, "the model goes back to training mode"


def test_evaluate_model_errors():
    with pytest.raises(ValueError, match="no batches"):
        evaluate_model(fixed_model(), Loader(np.zeros((0, 2), np.float32), np.zeros(0, np.int64)))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        evaluate_model(OneD(), Loader(np.ones((2, 2), np.float32), np.zeros(2, np.int64)))
    with pytest.raises(TypeError, match="pairs"):
        evaluate_model(fixed_model(), [np.ones((2, 2), np.float32)])


class OneD(Probe):
    def __init__(self):
        super().__init__(Linear(2, 1))

    def forward(self, x):
        return self.inner(x).reshape(-1)
