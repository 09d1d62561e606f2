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
# # Module 07 — Training: the loop that turns a model into a trained model
#
# You have every part of a learning machine: tensors that record how they were made (01),
# activations (02), layers (03), losses (04), gradients (05) and optimizers (06). What is missing
# is the *loop* that makes them work together, over and over, thousands of times — and the
# engineering around that loop that decides whether a training run is trustworthy: measuring the
# model on data it never trained on, metrics that tell more than "percent correct", knowing when to
# stop, and saving a run so that a crash at epoch 40 does not cost 40 epochs.
#
# **You will learn to**
#
# 1. write the training step in the right order — `zero_grad → forward → loss → backward → clip →
#    step → schedule` — and say what breaks when a step is missing or moved;
# 2. switch between **training and evaluation** (`model.train()` / `model.eval()` and `no_grad`)
#    and explain what each switch changes;
# 3. use a **validation set** to see overfitting in the learning curves, and stop early;
# 4. compute metrics beyond accuracy: the **confusion matrix** and per-class **precision, recall
#    and F1**, with macro averages;
# 5. save a run as a **checkpoint** that is written atomically, contains no pickle, is checked on
#    load, and **resumes** to exactly the same weights as a run that never stopped;
# 6. save and load weights the PyTorch way (`save`/`load`) and in the **safetensors** format other
#    frameworks read, with every file checked before anything is loaded and nothing ever unpickled;
# 7. measure where the time of a training step goes, and how throughput grows with batch size.
#
# **Prerequisites:** modules 01–06. **Exports to:** `tinytorch/core/training.py`, re-exported as
# `tinytorch.training`.

# %%
#| default_exp core.training

# %%
#| export
from __future__ import annotations

import contextlib
import inspect
import io
import json
import math
import numbers
import os
import sys
import tempfile
import time
import warnings
import zipfile
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.losses import CrossEntropyLoss  # noqa: F401  (also importable from here, as the course text does)
from tinytorch.core.optimizers import clip_grad_norm_, flatten_state_dict, unflatten_state_dict
from tinytorch.core.tensor import Tensor, check_device, default_generator

# %% [markdown]
# ## 1. Anatomy of the training loop
#
# Training is one short recipe repeated for every mini-batch, wrapped in a loop over **epochs**
# (one epoch = one pass over the training set):
#
# ```
#                 ┌──────────────────────────── one epoch ─────────────────────────────┐
#   train loader ─┼─► (x, y)                                                           │
#   (shuffled)    │    1. optimizer.zero_grad()      forget the last batch's gradients │
#                 │    2. out  = model(x)            forward pass, records the graph   │
#                 │    3. loss = loss_fn(out, y)     one number: how wrong we are      │
#                 │    4. loss.backward()            p.grad for every parameter p      │
#                 │    5. clip_grad_norm_(ps, max)   optional: cap the step size       │
#                 │    6. optimizer.step()           p ← p − lr · f(p.grad, state)     │
#                 │    7. scheduler.step()           optional, when it steps per batch │
#                 └─────────────────────────────────────────┬──────────────────────────┘
#                                                           ▼
#   val loader ──► evaluate: model.eval(), no_grad(), average loss and metrics
#                  scheduler.step() (per epoch) · history · callbacks (checkpoint, stop?)
# ```
#
# The order is not a matter of taste. Each arrow is a data dependency:
#
# | mistake | what happens |
# |---|---|
# | no `zero_grad()` | gradients *accumulate* (module 05): step k follows the sum of k batches' gradients |
# | `step()` before `backward()` | the update uses the previous batch's gradients (none in the first step) |
# | clipping after `step()` | the update already used the unclipped gradient: clipping does nothing |
# | `scheduler.step()` first | the schedule's first learning rate is skipped (PyTorch warns about this) |
# | evaluating in training mode | dropout still drops units: noisy, too pessimistic validation numbers |
# | evaluating without `no_grad()` | every validation batch records a graph nobody uses: time and memory wasted |
#
# Everything else in this module — metrics, history, callbacks, checkpoints — is bookkeeping
# around these seven lines. Bookkeeping matters: it is how you *know* the run worked.
#
# ### Data for this module
#
# Data loading gets its own module next (08: `Dataset`, `DataLoader`, real datasets). Until then
# a `Trainer` accepts any iterable of `(inputs, targets)` batches. The small stand-in below serves
# mini-batches from two arrays; with `shuffle=True` it draws a new order every epoch from
# TinyTorch's default random generator — exactly where PyTorch's `DataLoader` draws its order
# when you give it no generator of its own. That detail matters in section 8.

# %%
class ArrayLoader:
    """A stand-in for module 08's DataLoader: (inputs, targets) mini-batches from two arrays."""

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, batch_size: int = 32, shuffle: bool = False):
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.inputs) / self.batch_size)

    def __iter__(self):
        n = len(self.inputs)
        order = default_generator().permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            yield Tensor(self.inputs[index]), Tensor(self.targets[index])


def make_blobs(n: int = 600, classes: int = 4, features: int = 8, spread: float = 1.0, seed: int = 0):
    """Gaussian clusters, one per class: inputs (n, features) float32, labels (n,) int64."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, features))
    labels = rng.integers(0, classes, n)
    inputs = centers[labels] + rng.normal(0, spread, (n, features))
    return inputs.astype(np.float32), labels.astype(np.int64)


_x, _y = make_blobs()
print(f"blobs: inputs {_x.shape} {_x.dtype}, labels {_y.shape} {_y.dtype}, "
      f"class counts {np.bincount(_y).tolist()}; {len(ArrayLoader(_x, _y, 64))} batches of 64")

# %% [markdown]
# ## 2. Metrics: accuracy
#
# The loss is what the optimizer minimises; a **metric** is what a person wants to know. For
# classification the first metric is **accuracy**, the fraction of samples whose predicted class
# is the true one. A classifier outputs one score (logit) per class, `(N, C)` — the prediction is
# the class with the largest score, `argmax` over the class dimension (dimension 1, as in
# `CrossEntropyLoss`). Two other shapes are common, and `accuracy` accepts them too:
#
# ```
#   output (N, C) scores,  target (N,) labels   → prediction = argmax over dim 1
#   output (N,) labels,    target (N,) labels   → compare directly (integer outputs)
#   output (N,) scores,    target (N,) 0/1      → binary: prediction = output > threshold
#                                                 (0.5 for probabilities, 0.0 for logits)
# ```
#
# Metrics work on plain arrays: they are never differentiated, so they never record a graph.

# %%
#| export
def _array(values, name: str, where: str) -> np.ndarray:
    """The ndarray behind a Tensor, ndarray or list (metrics never record a graph)."""
    array = values.data if isinstance(values, Tensor) else np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must hold numbers, got dtype {array.dtype}")
    return array


def accuracy(output, target, threshold: float = 0.5) -> float:
    """Fraction of correct predictions, a float in [0, 1].

    output (N, C, *) class scores and target (N, *) labels: prediction = argmax over dim 1.
    output and target of one shape: integer outputs are labels; float outputs are binary scores,
    predicted 1 where output > threshold (0.5 for probabilities; pass 0.0 for logits).
    """
    out, tgt = _array(output, "output", "accuracy"), _array(target, "target", "accuracy")
    if out.ndim == tgt.ndim + 1:
        if out.shape[:1] + out.shape[2:] != tgt.shape:
            raise ValueError(f"accuracy: scores of shape {out.shape} need targets of shape "
                             f"{out.shape[:1] + out.shape[2:]} (dim 1 holds the classes), got {tgt.shape}")
    elif out.shape != tgt.shape:
        raise ValueError(f"accuracy: output shape {out.shape} does not fit target shape {tgt.shape}; "
                         "expected scores (N, C) with labels (N,), or two arrays of one shape")
    if tgt.size == 0:
        raise ValueError("accuracy: no samples (the accuracy of nothing is undefined)")
    # Hint: three cases, as in the table above. np.argmax(out, axis=1) picks the class; a float
    #       output of the target's shape becomes `out > threshold`; an integer one is already a
    #       label. Then the mean of (prediction == target), as a Python float.
    ### BEGIN SOLUTION
    if out.ndim == tgt.ndim + 1:
        predicted = out.argmax(axis=1)
    elif out.dtype.kind == "f":
        predicted = out > threshold
    else:
        predicted = out
    return float(np.mean(predicted == tgt))
    ### END SOLUTION


class Accuracy:
    """accuracy() as a metric object, logged as "accuracy": Trainer(model, loss, opt, [Accuracy()])."""

    name = "accuracy"

    def __init__(self, threshold: float = 0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(f"Accuracy: threshold must be a number, got {threshold!r}")
        self.threshold = float(threshold)

    def __call__(self, output, target) -> float:
        return accuracy(output, target, self.threshold)

    def __repr__(self) -> str:
        return f"Accuracy(threshold={self.threshold})"


# %%
#| test
def test_unit_accuracy():
    scores = Tensor([[2.0, 1.0, 0.0], [0.1, 0.3, 0.2], [0.0, 0.0, 5.0], [9.0, 1.0, 1.0]])
    labels = Tensor(np.array([0, 1, 1, 2]))
    got = accuracy(scores, labels)
    assert got == 0.5, (f"accuracy of scores with argmax [0, 1, 2, 0] vs labels [0, 1, 1, 2]: "
                        f"expected 0.5, got {got}. Likely cause: argmax over the wrong dim.")
    assert isinstance(got, float), f"accuracy should return a Python float, got {type(got).__name__}"
    assert accuracy(np.array([1, 2, 3]), np.array([1, 0, 3])) == 2 / 3, "integer outputs are labels"
    probs, truth = np.array([0.9, 0.2, 0.6, 0.4]), np.array([1.0, 0.0, 0.0, 0.0])
    assert accuracy(probs, truth) == 0.75, (
        "binary probabilities [0.9, 0.2, 0.6, 0.4] vs [1, 0, 0, 0] at threshold 0.5: expected 0.75")
    assert accuracy(np.array([1.5, -0.5]), np.array([1, 0]), threshold=0.0) == 1.0, "logits: threshold 0"
    try:
        accuracy(np.zeros((4, 3)), np.zeros(5, dtype=np.int64))
    except ValueError:
        pass
    else:
        raise AssertionError("accuracy with 4 score rows and 5 targets must raise ValueError")
    print("✅ accuracy: argmax over classes, integer labels, and thresholded binary scores")


test_unit_accuracy()

# %% [markdown]
# ## 3. Metrics beyond accuracy: the confusion matrix
#
# Accuracy hides *which* mistakes a model makes. On a data set that is 95 % class 0, a model that
# always answers 0 is 95 % accurate and useless. The **confusion matrix** shows everything:
# entry `cm[i, j]` counts the samples of true class `i` that were predicted as class `j`.
#
# ```
#                  predicted
#                  0    1    2        diagonal: correct predictions → accuracy = trace / total
#           0  [  50    2    0 ]      row i:    where the samples of class i went (sum = support)
#   true    1  [   5   40    5 ]      column j: what the model called j (sum = predicted count)
#           2  [   0   10   40 ]
# ```
#
# Rows are the truth and columns the prediction — scikit-learn's convention (some books transpose
# it; always label the axes).
#
# **Counting without a loop.** A Python loop over samples adds one to `cm[t, p]` at a time. The
# vectorised trick: give every (true, predicted) *pair* its own integer, `t · C + p`, which runs
# from 0 to `C² − 1`, count each integer with one `np.bincount`, and fold the `C²` counts into a
# `C × C` matrix. Pair `(1, 2)` with `C = 3` is bin 5, which lands at row 1, column 2.

# %%
#| export
def _label_pair(y_true, y_pred, num_classes, where: str):
    """Two flat int64 label arrays of equal length and the number of classes, checked."""
    true = _array(y_true, "y_true", where).reshape(-1)
    pred = _array(y_pred, "y_pred", where).reshape(-1)
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.dtype.kind == "f" and labels.size and not np.all(labels == np.round(labels)):
            raise TypeError(f"{where}: {name} must hold class labels (integers), got fractional values; "
                            "for scores, take argmax over the class dimension first")
    if true.shape != pred.shape:
        raise ValueError(f"{where}: y_true has {true.size} labels but y_pred has {pred.size}")
    true, pred = true.astype(np.int64), pred.astype(np.int64)
    if num_classes is None:
        if true.size == 0:
            raise ValueError(f"{where}: no labels, and no num_classes to size the result")
        num_classes = int(max(true.max(), pred.max())) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"{where}: num_classes must be a positive int, got {num_classes!r}")
    for name, labels in (("y_true", true), ("y_pred", pred)):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if bad.size:
            raise ValueError(f"{where}: {name} holds label {int(bad[0])}, outside 0..{num_classes - 1} "
                             f"(num_classes={num_classes})")
    return true, pred, int(num_classes)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts (C, C) int64: cm[i, j] = number of samples of true class i predicted as class j.

    Rows are the truth, columns the prediction (scikit-learn's convention). num_classes defaults
    to the largest label + 1. Vectorised: one np.bincount over the pair codes true * C + pred.
    """
    true, pred, classes = _label_pair(y_true, y_pred, num_classes, "confusion_matrix")
    # Hint: codes = true * classes + pred; np.bincount(codes, minlength=classes * classes) counts
    #       every code even when some never occur; reshape the result to (classes, classes).
    ### BEGIN SOLUTION
    counts = np.bincount(true * classes + pred, minlength=classes * classes)
    return counts.reshape(classes, classes).astype(np.int64)
    ### END SOLUTION


# %%
#| test
def test_unit_confusion_matrix():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    y_pred = np.array([0, 1, 1, 1, 2, 2, 0, 0])
    expected = np.array([[2, 1, 0],
                         [0, 2, 1],
                         [1, 0, 1]])
    cm = confusion_matrix(y_true, y_pred)
    assert cm.shape == (3, 3) and cm.dtype == np.int64, (
        f"expected a (3, 3) int64 matrix, got {cm.shape} {cm.dtype}")
    assert np.array_equal(cm, expected), (
        f"expected rows = truth, columns = prediction:\n{expected}\ngot:\n{cm}\n"
        "Likely cause: the pair code is pred * C + true (transposed) or minlength is missing.")
    wide = confusion_matrix(y_true, y_pred, num_classes=5)
    assert wide.shape == (5, 5) and wide[:3, :3].tolist() == expected.tolist() and wide[3:].sum() == 0, (
        "num_classes=5 must give a (5, 5) matrix with empty rows and columns for classes 3 and 4")
    try:
        confusion_matrix([0, 3], [0, 1], num_classes=3)
    except ValueError as error:
        assert "3" in str(error)
    else:
        raise AssertionError("label 3 with num_classes=3 must raise ValueError")
    print("✅ confusion_matrix: rows are the truth, columns the prediction, counted by one bincount")


test_unit_confusion_matrix()

# %% [markdown]
# ### Precision, recall and F1
#
# Read per class from the confusion matrix, for class `c`:
#
# ```
#   TP = cm[c, c]                         true c, predicted c
#   FP = column c sum − TP                predicted c, but it was another class
#   FN = row c sum − TP                   true c, but predicted something else
#
#   precision = TP / (TP + FP)    "when the model says c, how often is it right?"
#   recall    = TP / (TP + FN)    "of all the c's, how many did the model find?"
#   F1        = 2 · P · R / (P + R)   harmonic mean: high only when both are high
# ```
#
# A spam filter needs precision (a lost real e-mail hurts); a cancer screen needs recall (a missed
# case hurts). **Macro** averaging takes the plain mean over classes, so a rare class counts as
# much as a frequent one — the always-class-0 model above gets a macro recall of `1/C`, not 95 %.
# **Weighted** averaging weights each class by its support (number of true samples); **micro**
# averaging pools all decisions, and for single-label classification equals accuracy.
#
# **Zero division.** A class the model never predicts has `TP + FP = 0`: its precision is `0/0`.
# We define every such ratio as **0** — what scikit-learn returns by default (it also prints a
# warning; we state the rule here instead). With `num_classes` given, a class that appears in
# neither the truth nor the predictions therefore scores 0 and pulls the macro average down;
# that is scikit-learn's behaviour with `labels=range(num_classes)` too.
#
# This one is written for you: everything comes from the confusion matrix you just built.

# %%
#| export
PrecisionRecallF1 = namedtuple("PrecisionRecallF1", ["precision", "recall", "f1"])

_AVERAGES = ("macro", "weighted", "micro", None)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator elementwise, with 0 where the denominator is 0 (no warning)."""
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def precision_recall_f1(y_true, y_pred, num_classes: int | None = None, average: str | None = "macro"):
    """Precision, recall and F1 of single-label predictions, per class or averaged.

    Per class c: P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2PR/(P+R); a 0/0 ratio is 0 (scikit-learn's
    default result). average: "macro" (mean over all num_classes classes), "weighted" (by
    support), "micro" (pooled; equals accuracy) -> three floats; None -> three (C,) arrays.
    Returns PrecisionRecallF1(precision, recall, f1).
    """
    if average not in _AVERAGES:
        raise ValueError(f"precision_recall_f1: average must be one of {_AVERAGES}, got {average!r}")
    return _scores_from_confusion(confusion_matrix(y_true, y_pred, num_classes), average)


def _scores_from_confusion(cm: np.ndarray, average: str | None) -> PrecisionRecallF1:
    """precision_recall_f1's arithmetic, from a confusion matrix (rows true, columns predicted)."""
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    if average is None:
        return PrecisionRecallF1(precision, recall, f1)
    if average == "micro":
        pooled = float(_ratio(tp.sum(), cm.sum()))
        return PrecisionRecallF1(pooled, pooled, pooled)
    weights = _ratio(support, support.sum()) if average == "weighted" else np.full(len(cm), 1 / len(cm))
    return PrecisionRecallF1(*(float(np.sum(weights * values)) for values in (precision, recall, f1)))


# %%
#| test
def test_unit_precision_recall_f1():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 0, 0])
    # class 0: TP 2, predicted 4, true 3; class 1: TP 1, predicted 2, true 2; class 2: never predicted
    p, r, f = precision_recall_f1(y_true, y_pred, average=None)
    assert np.allclose(p, [2 / 4, 1 / 2, 0]) and np.allclose(r, [2 / 3, 1 / 2, 0]), (
        f"per class: expected precision [0.5, 0.5, 0] and recall [0.667, 0.5, 0], got {p}, {r}")
    assert np.allclose(f, [2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), 0.5, 0]), f"per-class F1 wrong: {f}"
    macro = precision_recall_f1(y_true, y_pred)
    assert np.isclose(macro.precision, 1 / 3) and np.isclose(macro.f1, f.mean()), (
        f"macro = plain mean over the 3 classes, got {macro}")
    assert np.isclose(precision_recall_f1(y_true, y_pred, average="micro").f1, 3 / 6), "micro = accuracy"
    print("✅ precision_recall_f1: per class from the confusion matrix, 0 for a 0/0 ratio, macro/micro means")


test_unit_precision_recall_f1()

# %% [markdown]
# ## 4. History: what happened in every epoch
#
# `fit` returns a `History`: a dictionary of equally long lists, one entry per epoch —
#
# ```
#   epoch          1      2      3   ...
#   train_loss     1.21   0.64   0.41
#   train_accuracy 0.55   0.81   0.88
#   val_loss       0.82   0.52   0.47
#   val_accuracy   0.70   0.84   0.86
#   lr             0.1    0.1    0.05          learning rate at the start of the epoch
#   epoch_time     0.31   0.29   0.30          seconds (training + validation)
#   samples_per_s  9100   9400   9300          training throughput
# ```
#
# Columns are lists of plain floats so they print, plot and compare easily. A key that appears
# late (or only sometimes, like a validation run every few epochs) is padded with `nan`, so every
# column keeps one entry per epoch. `to_dict()` and `History.from_dict` convert to and from a dict
# of NumPy arrays, which is how a checkpoint stores the history.

# %%
#| export
_MODES = ("min", "max")


def _check_mode(mode, where: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"{where}: mode must be 'min' (smaller is better) or 'max', got {mode!r}")
    return mode


def _scalar(value, key: str, where: str):
    """A record value as a Python int or float."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: '{key}' must be a number, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


class History:
    """Per-epoch record of a training run: column name -> list of values, one per epoch.

    Trainer.fit writes: epoch, train_loss, train_<metric>, val_loss, val_<metric>, lr,
    epoch_time, samples_per_s. Missing values are nan, so every column has len(history) entries.
    """

    def __init__(self, history: Mapping | None = None):
        self.history: dict[str, list] = {}
        if history is not None:
            if not isinstance(history, Mapping):
                raise TypeError(f"History: expected a dict of column -> values, got {type(history).__name__}")
            columns = {key: [_scalar(v, key, "History") for v in np.asarray(values).reshape(-1)]
                       for key, values in history.items()}
            lengths = {len(values) for values in columns.values()}
            if len(lengths) > 1:
                raise ValueError(f"History: columns have different lengths: "
                                 f"{ {key: len(v) for key, v in columns.items()} }")
            self.history = columns

    def __len__(self) -> int:
        """Number of epochs recorded."""
        return max((len(values) for values in self.history.values()), default=0)

    def append(self, record: Mapping) -> None:
        """Add one epoch: record maps column -> number; absent columns get nan."""
        epochs = len(self)
        values = {key: _scalar(value, key, "History.append") for key, value in record.items()}
        for key, value in values.items():
            self.history.setdefault(key, [math.nan] * epochs).append(value)
        for key, column in self.history.items():
            if key not in values:
                column.append(math.nan)

    def __getitem__(self, key: str) -> list:
        if key not in self.history:
            raise KeyError(f"History has no column {key!r}; it has: {', '.join(self.history) or 'nothing yet'}")
        return self.history[key]

    def __contains__(self, key) -> bool:
        return key in self.history

    def keys(self):
        return self.history.keys()

    def best(self, metric: str, mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the best entry of `metric`: the smallest (mode="min") or largest.

        nan entries are skipped. The epoch comes from the "epoch" column (1-based) if present.
        """
        _check_mode(mode, "History.best")
        values = np.array(self[metric], dtype=np.float64)
        if np.all(np.isnan(values)):
            raise ValueError(f"History.best: column {metric!r} holds no numbers yet")
        index = int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))
        epochs = self.history.get("epoch")
        epoch = int(epochs[index]) if epochs is not None and not math.isnan(epochs[index]) else index + 1
        return epoch, float(values[index])

    def to_dict(self) -> dict[str, np.ndarray]:
        """Column -> 1-D array (int64 for whole-number columns like epoch, else float64)."""
        out = {}
        for key, values in self.history.items():
            integral = all(isinstance(v, int) for v in values)
            out[key] = np.array(values, dtype=np.int64 if integral else np.float64)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> History:
        """The inverse of to_dict: a History from column -> array (or list)."""
        return cls(data)

    def __repr__(self) -> str:
        return f"History({len(self)} epochs: {', '.join(self.history) or 'empty'})"


# %%
#| test
def test_unit_history():
    history = History()
    history.append({"epoch": 1, "train_loss": 1.0, "lr": 0.1})
    history.append({"epoch": 2, "train_loss": 0.5, "val_loss": 0.7, "lr": 0.1})
    history.append({"epoch": 3, "train_loss": 0.25, "val_loss": 0.9, "lr": 0.05})
    assert len(history) == 3 and history["train_loss"] == [1.0, 0.5, 0.25], (
        f"expected 3 epochs of train_loss [1.0, 0.5, 0.25], got {history.history}")
    assert math.isnan(history["val_loss"][0]), "a column that starts late is padded with nan"
    assert history.best("val_loss", "min") == (2, 0.7), f"best val_loss is epoch 2, got {history.best('val_loss')}"
    assert history.best("train_loss", "max") == (1, 1.0)
    again = History.from_dict(history.to_dict())
    assert again.history.keys() == history.history.keys() and again["epoch"] == [1, 2, 3], (
        "to_dict -> from_dict must give back the same columns")
    print("✅ History: one entry per epoch per column, nan padding, best(), dict round trip")


test_unit_history()

# %% [markdown]
# ## 5. Callbacks: code that runs at fixed points of the loop
#
# Early stopping, checkpointing, progress bars, learning-rate logging — every one of them wants to
# run "at the end of each epoch" or "after each batch". Rather than growing `fit` with an `if` for
# each feature, the loop calls **hooks** on a list of small objects, the pattern of Keras and
# PyTorch Lightning:
#
# ```
#   on_train_begin
#   ├─ on_epoch_begin(epoch)
#   │   ├─ on_batch_begin(batch) → [the seven steps] → on_batch_end(batch, logs)    × batches
#   │   └─ (validation)
#   ├─ on_epoch_end(epoch, logs)        logs = this epoch's record; may set trainer.stop_training
#   on_train_end
# ```
#
# Every hook receives the `Trainer`, so a callback can read `trainer.model`, `trainer.history` and
# `trainer.epoch`, and ask the loop to stop with `trainer.stop_training = True`. Batch logs hold
# the batch's `loss`, each metric and `batch_size`; epoch logs are the history record.
#
# The progress bar is itself a callback. On a terminal it redraws one line in place with a
# carriage return (`\r`); when stderr is a file or a pipe (a CI log, a notebook's captured
# output) redrawing would print hundreds of lines, so it prints one line per epoch instead.

# %%
#| export
class Callback:
    """Base class of Trainer callbacks: override the hooks you need; each receives the Trainer."""

    def on_train_begin(self, trainer) -> None:
        pass

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        pass

    def on_batch_begin(self, trainer, batch: int) -> None:
        pass

    def on_batch_end(self, trainer, batch: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        pass


def _is_tty(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _number(value: float) -> str:
    return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.3e}"


class ProgressBar(Callback):
    """Progress of each epoch on stderr: batch k/n, loss, metrics, samples/s.

    On a terminal one line is redrawn in place (\\r, at most every `refresh` seconds); otherwise
    (a file, a pipe, a captured notebook stream) one finished line is written per epoch.
    """

    def __init__(self, stream=None, refresh: float = 0.1):
        self.stream = stream  # None: whatever sys.stderr is when we write
        self.refresh = refresh
        self._width = 0

    def _out(self):
        return self.stream if self.stream is not None else sys.stderr

    def on_train_begin(self, trainer) -> None:
        self.last_epoch = trainer.target_epoch

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        self.total = trainer.num_batches
        self.batches = self.samples = 0
        self.sums: dict[str, float] = {}
        self.start = self._drawn = time.perf_counter()

    def on_batch_end(self, trainer, batch: int, logs: dict) -> None:
        n = logs.get("batch_size", 1)
        self.batches += 1
        self.samples += n
        for key, value in logs.items():
            if key != "batch_size":
                self.sums[key] = self.sums.get(key, 0.0) + value * n
        now = time.perf_counter()
        if _is_tty(self._out()) and now - self._drawn >= self.refresh:
            self._drawn = now
            means = {key: total / self.samples for key, total in self.sums.items()}
            self._write(self._line(trainer.epoch + 1, means, now - self.start), end="")

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        shown = {key: value for key, value in logs.items() if key not in ("epoch", "epoch_time", "samples_per_s")}
        text = self._line(epoch, shown, logs.get("epoch_time", time.perf_counter() - self.start),
                          logs.get("samples_per_s"))
        self._write(text, end="\n")

    def _line(self, epoch: int, values: dict, seconds: float, rate: float | None = None) -> str:
        total = "?" if self.total is None else self.total
        parts = [f"epoch {epoch}/{self.last_epoch}", f"batch {self.batches}/{total}"]
        parts += [f"{key} {_number(value)}" for key, value in values.items() if key != "lr"]
        if "lr" in values:
            parts.append(f"lr {values['lr']:.3g}")
        if rate is None:
            rate = self.samples / seconds if seconds > 0 else float("nan")
        parts.append(f"{rate:,.0f} samples/s")
        parts.append(f"{seconds:.2f}s")
        return "  ".join(parts)

    def _write(self, text: str, end: str) -> None:
        out = self._out()
        if _is_tty(out):
            out.write("\r" + text.ljust(self._width) + end)  # pad over a longer previous line
            self._width = 0 if end else len(text)
        elif end:
            out.write(text + end)
        out.flush()


# %% [markdown]
# ## 6. The Trainer
#
# `Trainer` owns the loop. You give it a model, a loss function and an optimizer (plus, if you
# like, metrics, a learning-rate scheduler, gradient clipping and callbacks), then call
# `fit(train_loader, val_loader, epochs)`.
#
# You write the two methods that carry the ideas of this module:
#
# - **`train_epoch(loader)`** — the seven steps of section 1 for every batch. Besides updating the
#   weights, it reports how the epoch went: the loss and each metric, averaged over all samples
#   (each batch's mean weighted by its size, so a smaller last batch counts for less). The
#   small `_Meter` helper keeps these running sums.
# - **`evaluate(loader)`** — the same averages on data the model must not learn from: evaluation
#   mode (`model.eval()`: dropout off), **no graph recording** (`no_grad()`), no optimizer —
#   and afterwards the model goes back to the mode it was in.
#
# **Why metrics are averaged per batch.** Averaging a batch-level accuracy weighted by batch size
# is exactly the accuracy over the whole epoch. It is *not* exact for F1, whose numerator and
# denominator do not add up across batches — which is why `evaluate_model` (section 9) collects a
# confusion matrix over the whole set instead.
#
# **Training loss vs validation loss.** The training loss of an epoch is averaged while the
# weights are still changing, so it describes "the model during the epoch" — usually a little
# worse than the model at the end. The validation loss is measured once, at the end. Early in
# training you may therefore see `val_loss < train_loss`; that is not a bug (dropout, which is
# on only in training, pushes the same way).

# %%
#| export
class _Meter:
    """Running sample-weighted sums of per-batch values (loss, metrics)."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.samples = 0

    def update(self, batch_size: int, values: Mapping) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value) * batch_size
        self.samples += batch_size

    def results(self, where: str) -> dict:
        """Averages per sample, plus "samples": how many samples were seen."""
        if self.samples == 0:
            raise ValueError(f"{where}: the loader yielded no batches")
        return {**{key: total / self.samples for key, total in self.sums.items()}, "samples": self.samples}


def _as_tensor(value, what: str, where: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(f"{where}: each batch must be (inputs, targets) of Tensors or arrays; "
                    f"{what} is a {type(value).__name__}")


def _unpack_batch(batch, where: str) -> tuple[Tensor, Tensor]:
    """(inputs, targets) from one loader item."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        length = f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""
        raise TypeError(f"{where}: the loader must yield (inputs, targets) pairs, got {type(batch).__name__}{length}")
    return _as_tensor(batch[0], "inputs", where), _as_tensor(batch[1], "targets", where)


def _batch_size(targets: Tensor) -> int:
    return int(targets.shape[0]) if targets.ndim else 1


def _length(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


_METRICS = {"accuracy": accuracy, "acc": accuracy}


def _resolve_metrics(metrics) -> dict:
    """name -> metric(output, target) -> float, from names, callables or a dict of them."""
    if metrics is None:
        return {}
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    items = metrics.items() if isinstance(metrics, Mapping) else ((None, m) for m in metrics)
    resolved = {}
    for name, metric in items:
        if isinstance(metric, str):
            if metric not in _METRICS:
                raise ValueError(f"Trainer: unknown metric {metric!r}; known names: {', '.join(_METRICS)}, "
                                 "or pass a callable metric(output, target) -> float")
            name, metric = name or ("accuracy" if metric == "acc" else metric), _METRICS[metric]
        elif not callable(metric):
            raise TypeError(f"Trainer: a metric must be a name or a callable, got {metric!r}")
        name = (name or getattr(metric, "name", None) or getattr(metric, "__name__", None)
                or getattr(getattr(metric, "func", None), "__name__", None))
        if not name or name == "<lambda>":
            raise ValueError("Trainer: cannot name a lambda metric; pass metrics={'name': fn}")
        if name in resolved or name == "loss":
            raise ValueError(f"Trainer: metric name {name!r} is used twice (or is 'loss')")
        resolved[name] = metric
    return resolved


def _wants_metric(scheduler) -> bool:
    """Does scheduler.step need a value (ReduceLROnPlateau.step(metrics))?"""
    try:
        parameters = list(inspect.signature(scheduler.step).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0].default is inspect.Parameter.empty and \
        parameters[0].kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class Trainer:
    """The training loop with metrics, history, callbacks, progress and checkpoints.

    model: a Module; loss_fn(output, target) -> scalar Tensor; optimizer: zero_grad(), step(),
    param_groups, state_dict(). metrics: names ("accuracy"), callables metric(output, target) ->
    float, or a dict name -> callable. scheduler: stepped once per epoch (scheduler_interval="epoch")
    or after every optimizer step ("step"); a scheduler whose step needs a value
    (ReduceLROnPlateau) gets val_loss, or train_loss without validation. grad_clip: max total
    gradient norm (clip_grad_norm_), or None. save_best=True with checkpoint_path adds a
    ModelCheckpoint that keeps the best epoch (val_loss, or train_loss without validation).
    verbose: a progress line per epoch on stderr. An optimizer created without parameters
    (`Adam(lr=1e-3)`) gets the model's parameters here.
    """

    def __init__(self, model, loss_fn, optimizer, metrics=("accuracy",), scheduler=None,
                 scheduler_interval: str = "epoch", grad_clip: float | None = None, callbacks=None,
                 verbose: bool = True, save_best: bool = False, checkpoint_path=None):
        for name, value, needs in (("model", model, "state_dict"), ("optimizer", optimizer, "step")):
            if not callable(getattr(value, needs, None)):
                raise TypeError(f"Trainer: {name} has no {needs}() method, got {type(value).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"Trainer: loss_fn must be callable (e.g. nn.CrossEntropyLoss()), got {loss_fn!r}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if scheduler is not None and not callable(getattr(scheduler, "step", None)):
            raise TypeError(f"Trainer: scheduler has no step() method, got {type(scheduler).__name__}")
        if scheduler is not None and scheduler_interval == "step" and _wants_metric(scheduler):
            raise ValueError(f"Trainer: {type(scheduler).__name__}.step needs a metric, so it can only step "
                             "once per epoch: use scheduler_interval='epoch'")
        if grad_clip is not None and (isinstance(grad_clip, bool) or not isinstance(grad_clip, numbers.Real)
                                      or not grad_clip > 0):
            raise ValueError(f"Trainer: grad_clip must be a positive max norm or None, got {grad_clip!r}")
        if save_best and checkpoint_path is None:
            raise ValueError("Trainer: save_best=True needs checkpoint_path='best.npz' (where to save)")
        if not getattr(optimizer, "param_groups", True):  # Adam(lr=1e-3) made without parameters
            optimizer.add_param_group({"params": list(model.parameters())})
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.metrics = _resolve_metrics(metrics)
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.callbacks = _check_callbacks(callbacks, "Trainer")
        self.verbose, self.save_best, self.checkpoint_path = verbose, save_best, checkpoint_path
        self.history = History()
        self.epoch = 0  # epochs completed, across fit() calls and resumes
        self.stop_training = False
        self.num_batches: int | None = None  # batches per epoch of the current loader, if known
        self.target_epoch = 0  # the last epoch of the current fit() call
        self._active: list = []
        self._train_loader = None  # the loader of the last fit(): its own generator goes into checkpoints

    # ----- the pieces of the loop ---------------------------------------------------------------
    def _callback(self, hook: str, *args) -> None:
        for callback in self._active:
            getattr(callback, hook)(self, *args)

    def _compute_metrics(self, outputs: Tensor, targets: Tensor) -> dict:
        return {name: float(metric(outputs, targets)) for name, metric in self.metrics.items()}

    def _step_scheduler(self, record: Mapping | None = None) -> None:
        if record is not None and _wants_metric(self.scheduler):
            self.scheduler.step(record.get("val_loss", record["train_loss"]))
        else:
            self.scheduler.step()

    def _lr(self) -> float:
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups else math.nan

    def train_epoch(self, loader) -> dict:
        """One pass over `loader` in training mode, updating the weights after every batch.

        Returns {"loss": mean loss, <metric>: mean value for each metric, "samples": count},
        means over samples (batch means weighted by batch size).
        """
        # Hint: self.model.train(); meter = _Meter(). For each (batch_index, batch) of
        #       enumerate(loader): inputs, targets = _unpack_batch(batch, "Trainer.train_epoch");
        #       self._callback("on_batch_begin", batch_index); then the seven steps of section 1:
        #       zero_grad, forward, loss, backward, clip_grad_norm_(self.model.parameters(),
        #       self.grad_clip) when self.grad_clip is not None, optimizer step, and
        #       self._step_scheduler() when a scheduler steps per "step". Then
        #       logs = {"loss": loss.item(), **self._compute_metrics(outputs, targets)};
        #       meter.update(_batch_size(targets), logs); self._callback("on_batch_end",
        #       batch_index, {**logs, "batch_size": ...}). Return meter.results("Trainer.train_epoch").
        ### BEGIN SOLUTION
        self.model.train()
        meter = _Meter()
        for batch_index, batch in enumerate(loader):
            inputs, targets = _unpack_batch(batch, "Trainer.train_epoch")
            self._callback("on_batch_begin", batch_index)
            self.optimizer.zero_grad()
            outputs = self.model(inputs)
            loss = self.loss_fn(outputs, targets)
            loss.backward()
            if self.grad_clip is not None:
                clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler_interval == "step":
                self._step_scheduler()
            logs = {"loss": loss.item(), **self._compute_metrics(outputs, targets)}
            size = _batch_size(targets)
            meter.update(size, logs)
            self._callback("on_batch_end", batch_index, {**logs, "batch_size": size})
        return meter.results("Trainer.train_epoch")
        ### END SOLUTION

    def evaluate(self, loader) -> dict:
        """Loss and metrics of the model on `loader`, without learning: eval mode, no_grad.

        Returns {"loss", <metric>..., "samples"} like train_epoch. The model is put back in the
        mode (train or eval) it was in before.
        """
        # Hint: remember was_training = self.model.training, call self.model.eval(), and inside
        #       `with no_grad():` run the model on every batch and feed the meter the loss and
        #       the metrics. Restore the mode with self.model.train(was_training) in a `finally:`
        #       so an error in the middle does not leave the model in eval mode.
        ### BEGIN SOLUTION
        was_training = self.model.training
        self.model.eval()
        meter = _Meter()
        try:
            with no_grad():
                for batch in loader:
                    inputs, targets = _unpack_batch(batch, "Trainer.evaluate")
                    outputs = self.model(inputs)
                    values = {"loss": self.loss_fn(outputs, targets).item(),
                              **self._compute_metrics(outputs, targets)}
                    meter.update(_batch_size(targets), values)
        finally:
            self.model.train(was_training)
        return meter.results("Trainer.evaluate")
        ### END SOLUTION

    def predict(self, loader) -> Tensor:
        """Model outputs for every batch of `loader`, concatenated along dim 0 (eval mode, no_grad).

        Batches may be inputs alone or (inputs, targets) pairs; targets are ignored.
        """
        was_training = self.model.training
        self.model.eval()
        outputs = []
        try:
            with no_grad():
                for batch in loader:
                    inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
                    outputs.append(self.model(_as_tensor(inputs, "inputs", "Trainer.predict")).data)
        finally:
            self.model.train(was_training)
        if not outputs:
            raise ValueError("Trainer.predict: the loader yielded no batches")
        return Tensor(np.concatenate(outputs, axis=0))

    # ----- fit ----------------------------------------------------------------------------------
    def fit(self, train_loader, val_loader=None, epochs: int = 1, callbacks=None, resume_from=None,
            val_dataloader=None, save_best: bool | None = None, checkpoint_path=None) -> History:
        """Train for `epochs` more epochs; returns the History (which grows across calls).

        val_dataloader is another name for val_loader; save_best/checkpoint_path given here
        override the Trainer's own for this call and later ones.

        resume_from: a checkpoint written by save_checkpoint / ModelCheckpoint; model, optimizer,
        scheduler, epoch count, history and random state are restored first, so fit(epochs=2,
        resume_from=...) continues exactly where that run stopped.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be a non-negative int, got {epochs!r}")
        if val_dataloader is not None:
            if val_loader is not None:
                raise TypeError("Trainer.fit: pass val_loader or val_dataloader (the same thing), not both")
            val_loader = val_dataloader
        if checkpoint_path is not None:
            self.checkpoint_path = checkpoint_path
        if save_best is not None:
            if save_best and self.checkpoint_path is None:
                raise ValueError("Trainer.fit: save_best=True needs checkpoint_path='best.npz' (where to save)")
            self.save_best = bool(save_best)
        if resume_from is not None:
            self.load_checkpoint(resume_from, train_loader)
        active = self.callbacks + _check_callbacks(callbacks, "Trainer.fit")
        if self.save_best:
            monitor = "val_loss" if val_loader is not None else "train_loss"
            with warnings.catch_warnings(record=True) as notes:  # said once, below, at the caller's line
                warnings.simplefilter("always")
                active.append(ModelCheckpoint(self.checkpoint_path, monitor=monitor, mode="min"))
            for note in notes:
                warnings.warn(note.message, note.category, stacklevel=2)
        if self.verbose and not any(isinstance(callback, ProgressBar) for callback in active):
            active.append(ProgressBar())
        self._active, self._train_loader = active, train_loader
        self.stop_training = False
        self.target_epoch = self.epoch + epochs
        self._callback("on_train_begin")
        for _ in range(epochs):
            epoch = self.epoch + 1
            self.num_batches = _length(train_loader)
            self._callback("on_epoch_begin", epoch)
            record = {"epoch": epoch}
            lr = self._lr()
            start = time.perf_counter()
            train = self.train_epoch(train_loader)
            train_seconds = time.perf_counter() - start
            record.update({f"train_{key}": value for key, value in train.items() if key != "samples"})
            if val_loader is not None:
                val = self.evaluate(val_loader)
                record.update({f"val_{key}": value for key, value in val.items() if key != "samples"})
            record["lr"] = lr
            record["epoch_time"] = time.perf_counter() - start
            record["samples_per_s"] = train["samples"] / train_seconds if train_seconds > 0 else math.nan
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self._step_scheduler(record)
            self.epoch = epoch
            self.history.append(record)
            self._callback("on_epoch_end", epoch, record)
            if self.stop_training:
                break
        self._callback("on_train_end")
        self._active = []
        return self.history

    # ----- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, path, extra=None) -> str:
        """save_checkpoint with this trainer's model, optimizer, scheduler, epoch and history."""
        return save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch=self.epoch,
                               history=self.history, extra=extra,
                               generators=_loader_generators(self._train_loader))

    def load_checkpoint(self, path, train_loader=None) -> dict:
        """Restore model, optimizer, scheduler, epoch, history and random state from `path`."""
        state = load_checkpoint(path, self.model, self.optimizer, self.scheduler,
                                generators=_loader_generators(train_loader))
        self.epoch = int(state["epoch"] or 0)
        self.history = state["history"] if state["history"] is not None else History()
        return state


def _check_callbacks(callbacks, where: str) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"{where}: callbacks must be Callback instances (subclass "
                            f"tinytorch.training.Callback), got {type(callback).__name__}")
    return callbacks


def _loader_generators(loader) -> dict:
    """Random generators a loader owns (its shuffle order), by name, to save with a checkpoint."""
    found = {}
    for owner, name in ((loader, "generator"), (getattr(loader, "sampler", None), "generator")):
        generator = getattr(owner, name, None)
        if isinstance(generator, np.random.Generator) and generator is not default_generator():
            found.setdefault("train_loader", generator)
    return found


# %% [markdown]
# ### Train on the blobs
#
# Four clusters in 8 dimensions: a small MLP should separate them in a few epochs. The test
# checks the loop through its results — loss going down, accuracy going up, the history filled in
# — and that `evaluate` records no graph and leaves the model's mode alone.

# %%
#| test
from tinytorch.core.layers import Dropout, Linear, Module, ReLU, Sequential
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import is_grad_enabled, manual_seed


class ModeProbe(Module):
    """Wraps a model; records (training, grad recording on) at every forward call."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, is_grad_enabled()))
        return self.inner(x)


def blob_trainer(seed=0, **kwargs):
    manual_seed(seed)
    model = Sequential(Linear(8, 32), ReLU(), Linear(32, 4))
    return Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1, momentum=0.9), **kwargs)


def test_unit_trainer_fit():
    x, y = make_blobs(seed=1)
    train, val = ArrayLoader(x[:480], y[:480], 32, shuffle=True), ArrayLoader(x[480:], y[480:], 64)
    trainer = blob_trainer(verbose=False)
    history = trainer.fit(train, val, epochs=5)
    expected = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "epoch_time",
                "samples_per_s"}
    assert set(history.keys()) == expected, (
        f"history columns: expected {sorted(expected)}, got {sorted(history.keys())}")
    assert len(history) == 5 and history["epoch"] == [1, 2, 3, 4, 5], f"expected 5 epochs, got {history}"
    assert history["train_loss"][-1] < history["train_loss"][0] / 3, (
        f"train_loss should fall a lot on separable blobs, got {history['train_loss']}. "
        "Likely cause: zero_grad missing (gradients accumulate) or step() before backward().")
    assert history["val_accuracy"][-1] > 0.95, f"val_accuracy should pass 0.95, got {history['val_accuracy']}"
    trainer.model = probe = ModeProbe(trainer.model)
    result = trainer.evaluate(val)
    assert probe.calls and set(probe.calls) == {(False, False)}, (
        f"evaluate must run in eval mode with graph recording off, saw (training, grad) = {set(probe.calls)}. "
        "Likely cause: model.eval() or `with no_grad():` missing.")
    assert probe.training, "evaluate must put the model back in the mode it was in (training here)"
    probe.calls.clear()
    trainer.train_epoch(val)
    assert set(probe.calls) == {(True, True)}, "train_epoch must run in training mode with gradients on"
    assert abs(result["loss"] - history["val_loss"][-1]) < 1e-6, "evaluate again gives the same val_loss"
    assert trainer.predict(val).shape == (120, 4), "predict concatenates every batch's outputs"
    print(f"✅ Trainer.fit: train_loss {history['train_loss'][0]:.3f} → {history['train_loss'][-1]:.3f}, "
          f"val_accuracy {history['val_accuracy'][-1]:.3f}; evaluate uses eval mode and restores it")


test_unit_trainer_fit()

# %% [markdown]
# Here is the same run with the progress bar on. In a terminal you would see one line being
# redrawn while each epoch runs; here, where stderr is not a terminal, one line per epoch.

# %%
_x, _y = make_blobs(seed=1)
_trainer = blob_trainer()
_history = _trainer.fit(ArrayLoader(_x[:480], _y[:480], 32, shuffle=True), ArrayLoader(_x[480:], _y[480:], 64),
                        epochs=3)
print(_history)

# %% [markdown]
# ## 7. Overfitting, validation and early stopping
#
# A model with enough parameters can memorise its training set — noise and all. The training loss
# keeps falling, but what it learns stops transferring to new data: the **validation** loss (on
# samples the optimizer never sees) reaches a minimum and then rises. That is **overfitting**, and
# the validation curve is how you see it:
#
# ```
#   loss │ ╲
#        │  ╲__  val                      the best model is at the bottom of the
#        │     ╲____            ___───    validation curve, not at the end of training
#        │          ╲_____──────
#        │   ╲___
#        │       ╲______  train
#        │              ╲___________
#        └──────────────────┬────────── epoch
#                      best epoch
# ```
#
# The data below is small and noisy on purpose: 100 points in a square, class 1 inside a circle,
# with 20 % of the *training* labels flipped at random (the validation labels are clean). A wide
# MLP trained with Adam for many epochs first learns the circle, then starts learning the flipped
# labels too. Watch the two losses part ways.
#
# The validation set must never influence the weights — not through training, and not through
# a long series of your own decisions either: if you pick hyperparameters by validation score
# hundreds of times, you slowly fit the validation set. A final **test** set, used once, keeps
# the reported number honest.

# %%
from tinytorch.core.optimizers import Adam


def noisy_circle(n_train=100, n_val=400, flip=0.2, seed=0):
    """Points in a square, class 1 inside a circle; a fraction `flip` of the TRAINING labels flipped."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n_train + n_val, 2)).astype(np.float32)
    y = (np.sqrt((x ** 2).sum(axis=1)) < 0.65).astype(np.int64)
    y_train = y[:n_train].copy()
    flipped = rng.random(n_train) < flip
    y_train[flipped] = 1 - y_train[flipped]
    return (x[:n_train], y_train), (x[n_train:], y[n_train:])


(_xt, _yt), (_xv, _yv) = noisy_circle()
manual_seed(0)
_wide = Sequential(Linear(2, 128), ReLU(), Linear(128, 128), ReLU(), Linear(128, 2))
_overfit = Trainer(_wide, CrossEntropyLoss(), Adam(_wide.parameters(), lr=0.01), verbose=False)
_full = _overfit.fit(ArrayLoader(_xt, _yt, 16, shuffle=True), ArrayLoader(_xv, _yv, 200), epochs=150)
for _e in (1, 10, 25, 50, 100, 150):
    print(f"epoch {_e:3d}: train_loss {_full['train_loss'][_e - 1]:.3f}  "
          f"train_acc {_full['train_accuracy'][_e - 1]:.2f}   val_loss {_full['val_loss'][_e - 1]:.3f}  "
          f"val_acc {_full['val_accuracy'][_e - 1]:.2f}")
_best_epoch, _best_loss = _full.best("val_loss", "min")
print(f"best val_loss {_best_loss:.3f} at epoch {_best_epoch}; at the end: {_full['val_loss'][-1]:.3f}")

# %% [markdown]
# ### Early stopping
#
# The cheapest cure is to stop near the bottom of the validation curve. `EarlyStopping` watches a
# monitored value (`val_loss` by default) at the end of each epoch:
#
# - it **improves** when it beats the best value so far by more than `min_delta`
#   (`value < best − min_delta` for mode `"min"`, `value > best + min_delta` for `"max"`);
#   then `best` becomes the value and the count of bad epochs, `wait`, goes back to 0;
# - otherwise `wait` grows by one, and when `wait` reaches `patience`, training stops.
#
# With `patience=2` and the validation losses `1.0, 0.8, 0.85, 0.9, …` the best is 0.8 at epoch
# 2, epochs 3 and 4 do not improve, and training stops after epoch 4. A `nan` never improves
# anything (every comparison with `nan` is false). `patience=0` stops at the first epoch that does
# not improve.
#
# With `restore_best_weights=True` the callback keeps a copy of the weights (`state_dict()`) of the
# best epoch and loads it back when training ends — so the model you are left with is the one at
# the bottom of the curve, not the one `patience` epochs later.

# %%
#| export
def _monitored(logs: Mapping, monitor: str, where: str) -> float:
    if monitor not in logs:
        hint = " (pass a val_loader to fit, or monitor a train_ value)" if monitor.startswith("val_") else ""
        raise KeyError(f"{where}: monitor {monitor!r} is not in this epoch's logs{hint}; "
                       f"available: {', '.join(logs)}")
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop training when `monitor` has not improved for `patience` epochs in a row.

    Improvement: value < best - min_delta (mode "min") or value > best + min_delta ("max").
    restore_best_weights: when training ends, load the best epoch's weights back into the model.
    After training: best, best_epoch, stopped_epoch (None if it never stopped the run).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "min",
                 restore_best_weights: bool = False):
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative int, got {patience!r}")
        if not isinstance(min_delta, numbers.Real) or min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be a non-negative number, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = _check_mode(mode, "EarlyStopping")
        self.restore_best_weights = restore_best_weights
        self.reset()

    def reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.best_epoch = self.stopped_epoch = self.best_state = None

    def step(self, value: float) -> bool:
        """Record one epoch's monitored value; return True when training should stop.

        Updates self.best and self.wait (epochs since the last improvement).
        """
        # Hint: decide `improved` with the mode and min_delta rule above. If improved, store the
        #       value as self.best and reset self.wait to 0 (and never stop on an improvement);
        #       otherwise add one to self.wait and stop once it reaches self.patience.
        ### BEGIN SOLUTION
        if self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return self.wait >= self.patience
        ### END SOLUTION

    def on_train_begin(self, trainer) -> None:
        self.reset()

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        stop = self.step(_monitored(logs, self.monitor, "EarlyStopping"))
        if self.wait == 0:  # this epoch improved
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_state = trainer.model.state_dict()
        if stop:
            trainer.stop_training = True
            self.stopped_epoch = epoch
            if trainer.verbose:
                print(f"early stopping after epoch {epoch}: {self.monitor} did not improve for {self.wait} "
                      f"epoch(s); best {self.best:.4g} at epoch {self.best_epoch}", file=sys.stderr)

    def on_train_end(self, trainer) -> None:
        if self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)


# %%
#| test
def test_unit_early_stopping():
    stopper = EarlyStopping(patience=2)
    decisions = [stopper.step(v) for v in [1.0, 0.8, 0.85, 0.9]]
    assert decisions == [False, False, False, True], (
        f"patience=2 on 1.0, 0.8, 0.85, 0.9: expected to stop after the 4th value, got {decisions}")
    assert stopper.best == 0.8 and stopper.wait == 2, f"expected best 0.8, wait 2; got {stopper.best}, {stopper.wait}"
    stopper = EarlyStopping(patience=1, min_delta=0.1)
    assert stopper.step(1.0) is False and stopper.step(0.95) is True, (
        "min_delta=0.1: 0.95 is not an improvement on 1.0, so patience=1 stops")
    stopper = EarlyStopping(monitor="val_accuracy", mode="max", patience=1)
    assert [stopper.step(v) for v in [0.5, 0.7, 0.6]] == [False, False, True], "mode='max': larger is better"
    stopper = EarlyStopping(patience=1)
    assert [stopper.step(v) for v in [1.0, float("nan")]] == [False, True], "nan never improves"
    assert EarlyStopping(patience=0).step(1.0) is False, "an improvement never stops training, even with patience 0"
    print("✅ EarlyStopping: improvement with min_delta and mode, patience counts bad epochs, nan never improves")


test_unit_early_stopping()

# %% [markdown]
# On the noisy data: the same model, stopped by `EarlyStopping(patience=10, restore_best_weights=True)`.
# Compare where it stops with the best epoch of the full 150-epoch run above. Validation curves
# are noisy, so a small `patience` may stop on a plateau before the true minimum; a large one
# spends epochs past it. `restore_best_weights` makes the second mistake cheap, never the first.

# %%
manual_seed(0)
_wide = Sequential(Linear(2, 128), ReLU(), Linear(128, 128), ReLU(), Linear(128, 2))
_stopper = EarlyStopping(patience=10, restore_best_weights=True)
_stopped = Trainer(_wide, CrossEntropyLoss(), Adam(_wide.parameters(), lr=0.01), verbose=False)
_stopped.fit(ArrayLoader(_xt, _yt, 16, shuffle=True), ArrayLoader(_xv, _yv, 200), epochs=150,
             callbacks=[_stopper])
print(f"stopped after epoch {_stopper.stopped_epoch} (best val_loss {_stopper.best:.3f} at epoch "
      f"{_stopper.best_epoch}); the restored model scores val_loss "
      f"{_stopped.evaluate(ArrayLoader(_xv, _yv, 200))['loss']:.3f}")
print(f"the 150-epoch run above: best val_loss {_best_loss:.3f} at epoch {_best_epoch}, "
      f"{150 - _stopper.stopped_epoch} more epochs of compute")

# %% [markdown]
# ## 8. Checkpoints: saving a run so it can continue
#
# A checkpoint must hold **everything** that decides what the next epoch does — not only the
# weights:
#
# | state | why it matters when resuming |
# |---|---|
# | model `state_dict` | the weights (and buffers) |
# | optimizer state | momentum buffers, Adam's moments and step count, each group's current `lr` |
# | scheduler state | where the schedule is (its `last_epoch`); without it the learning rate jumps back to the start |
# | epoch, history | where to continue counting, and the curves so far |
# | random generator state | the next shuffle order and dropout masks; without it the resumed epochs see other batches |
#
# With all five saved, "train 4 epochs" and "train 2, save, start a *new process*, load, train 2
# more" produce **bit-identical weights** — the test below checks exactly that.
#
# ### Why not pickle?
#
# `pickle` (behind `torch.save` by default) can store any Python object — because loading a pickle
# *runs code* that the file names. A checkpoint downloaded from the internet can therefore run
# anything on your machine when you load it (PyTorch now defaults to `weights_only=True` for this
# reason). A checkpoint here is a `.npz` file: a zip archive of plain `.npy` arrays, read with
# `np.load(..., allow_pickle=False)`, which refuses object arrays. Numbers go in arrays; structure
# (hyperparameters, which parameter a state belongs to, the RNG state) goes into JSON strings
# stored as 0-d string arrays — module 06's `flatten_state_dict` already turns an optimizer's or a
# scheduler's nested `state_dict()` into exactly that. Nothing in the file can execute.
#
# ```
#   run.npz  (zip of .npy files)
#   ├── __tinytorch_checkpoint__     0-d str, JSON: {format, version, epoch, class names, RNG states}
#   ├── model/0.weight  model/0.bias  model/3.weight  ...      the model's state_dict
#   ├── optimizer/__layout__                                   0-d str, JSON: the nested structure
#   ├── optimizer/state/0/momentum_buffer  ...                 the arrays it refers to
#   ├── scheduler/__layout__                                   (a scheduler's state is all numbers)
#   └── history/train_loss  history/val_loss  ...              one array per History column
# ```
#
# ### Why atomic?
#
# Writing a 100 MB file takes time. If the process dies halfway — out of memory, killed job, full
# disk, power cut — a checkpoint written in place is half old, half new: corrupt, and the *only*
# copy you had is gone. The fix is a classic:
#
# ```
#   1. write the whole file to a temporary name in the SAME folder:  .run.npz.x8f2k.tmp
#   2. flush and fsync it (the bytes are on disk, not only in the OS cache)
#   3. os.replace(temporary, "run.npz")      ← atomic: readers see the old file or the new one
#   on any error: delete the temporary file; "run.npz" was never touched
# ```
#
# `os.replace` is atomic only within one file system, which is why the temporary file lives in
# the target's folder and not in `/tmp`.
#
# ### Loading: check everything, then change anything
#
# `load_checkpoint` refuses, with a message that says why, a path that is not a file, a file that
# is not a zip (corrupt or truncated), an archive without the TinyTorch marker or from a newer
# format version, a model whose keys or shapes differ (it lists the missing, unexpected and
# mis-shaped keys), and an optimizer of another type or shape. All checks run **before** any
# state is changed, so a failed load leaves your model and optimizer as they were.

# %%
#| export
CHECKPOINT_FORMAT = "tinytorch-checkpoint"
CHECKPOINT_VERSION = 1
_META = "__tinytorch_checkpoint__"


class CheckpointError(ValueError):
    """A file that is not a readable TinyTorch checkpoint, or that does not fit what it is loaded into."""


def _atomic_write(path, write) -> None:
    """Call write(file) on a temporary file next to `path`, fsync it, then os.replace it onto `path`.

    Readers see the old file or the new one, never a half-written one; on any error the
    temporary file is removed and `path` is untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _generator_states(generators, where: str) -> dict:
    states = {"default": default_generator().bit_generator.state}
    for name, generator in (generators or {}).items():
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"{where}: generators[{name!r}] must be a numpy Generator, got {type(generator).__name__}")
        states[name] = generator.bit_generator.state
    return states


def save_checkpoint(path, model, optimizer=None, scheduler=None, epoch: int | None = None, history=None,
                    extra=None, generators: Mapping | None = None) -> str:
    """Save everything needed to resume training into one .npz file, written atomically.

    Stores model.state_dict() under model/<name>; optimizer.state_dict() and
    scheduler.state_dict() flattened by flatten_state_dict under optimizer/ and scheduler/;
    epoch; history (a History or dict of columns) under history/<column>; extra (arrays,
    numbers, strings, None, lists, tuples, dicts) under extra/; and the state of TinyTorch's
    default random generator plus any named `generators`. Loads with np.load(path,
    allow_pickle=False). Returns the path, used as given (no suffix is added).
    """
    if not callable(getattr(model, "state_dict", None)):
        raise TypeError(f"save_checkpoint: model must be a Module, got {type(model).__name__}")
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral)):
        raise TypeError(f"save_checkpoint: epoch must be an int or None, got {epoch!r}")
    arrays: dict[str, np.ndarray] = {}
    model_state = model.state_dict()
    for name, array in model_state.items():
        arrays[f"model/{name}"] = np.asarray(array, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
    meta = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "epoch": None if epoch is None else int(epoch), "model": type(model).__name__,
            "model_keys": list(model_state)}
    for label, owner in (("optimizer", optimizer), ("scheduler", scheduler)):
        if owner is not None:
            arrays.update(flatten_state_dict(owner.state_dict(), prefix=f"{label}/"))
            meta[label] = type(owner).__name__
    if history is not None:
        columns = (history if isinstance(history, History) else History(history)).to_dict()
        for key, column in columns.items():
            arrays[f"history/{key}"] = column
        meta["history"] = list(columns)
    if extra is not None:
        arrays.update(flatten_state_dict(extra, prefix="extra/"))
        meta["extra"] = True
    meta["rng"] = _generator_states(generators, "save_checkpoint")
    arrays[_META] = np.array(json.dumps(meta))
    _atomic_write(path, lambda file: np.savez(file, **arrays))
    return os.fspath(path)


def _read_checkpoint(path) -> tuple[dict, dict]:
    """(arrays, meta) of a checkpoint file, or a clear error about why it is not one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_checkpoint: no such file: {path!r}")
    if not os.path.isfile(path):
        raise IsADirectoryError(f"load_checkpoint: {path!r} is not a file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"load_checkpoint: {path!r} is not a .npz checkpoint: it is not a zip archive "
                              "(a corrupt or truncated file, or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise CheckpointError(f"load_checkpoint: {path!r} is corrupt or unsafe to read: {error}") from error
    if _META not in arrays:
        raise CheckpointError(f"load_checkpoint: {path!r} is an .npz archive but not a TinyTorch checkpoint "
                              f"(it has no {_META!r} entry); for bare arrays use np.load and "
                              "model.load_state_dict")
    try:
        meta = json.loads(str(arrays.pop(_META)[()]))
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"load_checkpoint: {path!r} has an unreadable description: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"load_checkpoint: {path!r} is not a TinyTorch checkpoint (wrong format marker)")
    version = meta.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(f"load_checkpoint: {path!r} has format version {version!r}; this TinyTorch reads "
                              f"versions up to {CHECKPOINT_VERSION} (was it written by a newer TinyTorch?)")
    return arrays, meta


def _check_model(path: str, model, state: Mapping, saved_from) -> None:
    expected = {name: tuple(array.shape) for name, array in model.state_dict().items()}
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    misshaped = [f"{key}: checkpoint {tuple(state[key].shape)}, model {expected[key]}"
                 for key in expected if key in state and tuple(state[key].shape) != expected[key]]
    if missing or unexpected or misshaped:
        origin = f" (it was saved from a {saved_from})" if saved_from != type(model).__name__ else ""
        lines = [f"load_checkpoint: {path!r} does not fit this {type(model).__name__}{origin}:"]
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                            ("shape mismatch", misshaped)):
            if keys:
                lines.append(f"  {label}: " + ", ".join(keys))
        raise CheckpointError("\n".join(lines))


def _unflatten(path: str, arrays: Mapping, prefix: str):
    try:
        return unflatten_state_dict(arrays, prefix=prefix)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"load_checkpoint: {path!r} has a damaged {prefix.rstrip('/')} entry: {error}") from error


def _check_optimizer(path: str, optimizer, saved: dict) -> None:
    saved_groups = saved.get("param_groups") if isinstance(saved, dict) else None
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(saved_groups, list) or groups is None:
        return
    sizes = [len(group["params"]) for group in groups]
    saved_sizes = [len(group.get("params", ())) for group in saved_groups]
    if sizes != saved_sizes:
        raise CheckpointError(f"load_checkpoint: {path!r} holds an optimizer with parameter groups of sizes "
                              f"{saved_sizes}, this optimizer has {sizes}")
    params = {}
    for saved_group, group in zip(saved_groups, groups):
        params.update(zip(saved_group["params"], group["params"]))
    for index, entry in (saved.get("state") or {}).items():
        param = params.get(index)
        if param is None or not isinstance(entry, Mapping):
            continue
        for key, value in entry.items():
            shape = getattr(value, "shape", ())
            if len(shape) and tuple(shape) != tuple(param.shape):
                raise CheckpointError(f"load_checkpoint: {path!r}: optimizer state {key!r} of parameter {index} has "
                                      f"shape {tuple(shape)}, the parameter has shape {tuple(param.shape)}")


def load_checkpoint(path, model, optimizer=None, scheduler=None, generators: Mapping | None = None,
                    restore_rng: bool = True) -> dict:
    """Load a save_checkpoint file into model (and optimizer, scheduler); return the rest.

    Every check runs before anything changes. restore_rng: set TinyTorch's default generator
    (and the named `generators`) to their saved states, so a resumed run draws the same
    shuffles and dropout masks. Returns {"epoch", "history" (History or None), "extra", "version"}.
    Errors: FileNotFoundError / IsADirectoryError; CheckpointError (a ValueError) for a corrupt,
    foreign or mismatched file.
    """
    if not callable(getattr(model, "load_state_dict", None)):
        raise TypeError(f"load_checkpoint: model must be a Module, got {type(model).__name__}")
    path = os.fspath(path)
    arrays, meta = _read_checkpoint(path)
    model_state = {key[len("model/"):]: array for key, array in arrays.items() if key.startswith("model/")}
    _check_model(path, model, model_state, meta.get("model"))
    loaded = {}
    for label, owner in (("optimizer", optimizer), ("scheduler", scheduler)):
        if owner is None:
            continue
        if label not in meta:
            raise CheckpointError(f"load_checkpoint: {path!r} holds no {label} state; load it without {label}=")
        if meta[label] != type(owner).__name__:
            raise CheckpointError(f"load_checkpoint: {path!r} holds {meta[label]} state, but the {label} is "
                                  f"a {type(owner).__name__}")
        loaded[label] = _unflatten(path, arrays, f"{label}/")
        if label == "optimizer":
            _check_optimizer(path, owner, loaded[label])
    states = meta.get("rng", {})
    if restore_rng:
        for name in generators or {}:
            if name not in states:
                raise CheckpointError(f"load_checkpoint: {path!r} holds no state for generator {name!r}, so the "
                                      "run could not continue with the same random draws (Trainer.save_checkpoint "
                                      "and ModelCheckpoint save the train loader's own generator)")
    model.load_state_dict(model_state)
    for label, owner in (("optimizer", optimizer), ("scheduler", scheduler)):
        if owner is not None:
            owner.load_state_dict(loaded[label])
    if restore_rng:
        default_generator().bit_generator.state = states["default"]
        for name, generator in (generators or {}).items():
            generator.bit_generator.state = states[name]
    history = None
    if "history" in meta:
        history = History.from_dict({key: arrays[f"history/{key}"] for key in meta["history"]})
    extra = _unflatten(path, arrays, "extra/") if meta.get("extra") else None
    return {"epoch": meta.get("epoch"), "history": history, "extra": extra, "version": meta["version"]}


# %% [markdown]
# `ModelCheckpoint` is the callback that calls `save_checkpoint` during `fit`. With
# `save_best_only=True` (the default) it writes only when the monitored value beats the best so
# far, so the file always holds the best model; otherwise it writes every epoch. The path may
# contain fields from the epoch's logs, `"run_{epoch:03d}.npz"`, to keep one file per epoch.
# When a resumed run starts, it takes its "best so far" from the restored history, so a worse
# epoch after the resume cannot overwrite a better checkpoint.
# `Trainer(..., save_best=True, checkpoint_path="best.npz")` is a shortcut for it.

# %%
#| export
class ModelCheckpoint(Callback):
    """Save a full checkpoint (Trainer.save_checkpoint) at the end of epochs.

    save_best_only=True: only when `monitor` beats the best value so far (mode "min"/"max");
    False: every epoch. `path` may hold format fields from the epoch logs, e.g. "ckpt_{epoch:03d}.npz".
    After training: best, best_epoch, last_path.
    """

    def __init__(self, path, monitor: str = "val_loss", mode: str = "min", save_best_only: bool = True):
        self.path, self.monitor, self.save_best_only = os.fspath(path), monitor, save_best_only
        if not self.path.endswith(".npz"):
            warnings.warn(f"ModelCheckpoint: {self.path!r} will hold TinyTorch's pickle-free checkpoint format "
                          "(an .npz archive), whatever its suffix; load it with load_checkpoint", stacklevel=2)
        self.mode = _check_mode(mode, "ModelCheckpoint")
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = self.last_path = None

    def on_train_begin(self, trainer) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.monitor in trainer.history and not np.all(np.isnan(trainer.history[self.monitor])):
            self.best_epoch, self.best = trainer.history.best(self.monitor, self.mode)

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not (value < self.best if self.mode == "min" else value > self.best):
                return
            self.best, self.best_epoch = value, epoch
        path = self.path.format(**logs) if "{" in self.path else self.path
        self.last_path = trainer.save_checkpoint(path)


# %%
#| test
import tempfile as _tempfile
from pathlib import Path as _Path

from tinytorch.core.optimizers import StepLR


def resume_setup(seed=0):
    """Model with dropout, SGD with momentum, StepLR: all the state a resume must restore."""
    manual_seed(seed)
    model = Sequential(Linear(8, 32), ReLU(), Dropout(0.2), Linear(32, 4))
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    return Trainer(model, CrossEntropyLoss(), optimizer, scheduler=scheduler, verbose=False)


def test_unit_checkpoint_resume():
    x, y = make_blobs(n=256, seed=3)
    loader = ArrayLoader(x, y, 32, shuffle=True)
    straight = resume_setup()
    straight.fit(loader, epochs=4)
    with _tempfile.TemporaryDirectory() as folder:
        path = _Path(folder) / "run.npz"
        first = resume_setup()
        first.fit(loader, epochs=2)
        first.save_checkpoint(path)
        manual_seed(123)  # a different random state: the checkpoint must bring back its own
        second = resume_setup(seed=99)  # new objects with different initial weights
        second.fit(loader, epochs=2, resume_from=path)
        assert sorted(p.name for p in _Path(folder).iterdir()) == ["run.npz"], "no temporary files left behind"
        with np.load(path, allow_pickle=False) as archive:
            assert "model/0.weight" in archive.files, f"expected model/0.weight in {archive.files}"
    for (name, a), b in zip(straight.model.state_dict().items(), second.model.state_dict().values()):
        assert np.array_equal(a, b), (
            f"{name}: 4 straight epochs and 2 + resume + 2 differ by {np.abs(a - b).max():.3g}. Likely cause: "
            "optimizer/scheduler state or the random generator state was not saved or not restored.")
    assert second.epoch == 4 and second.history["epoch"] == [1, 2, 3, 4], "epochs continue after a resume"
    assert np.allclose(second.history["lr"], straight.history["lr"]), "the schedule continues where it was"
    print("✅ checkpoint: 4 epochs straight == 2 epochs + save + new objects + resume 2 epochs, bit for bit")


test_unit_checkpoint_resume()

# %% [markdown]
# Loading into the wrong model says exactly what does not fit:

# %%
with _tempfile.TemporaryDirectory() as _folder:
    _path = _Path(_folder) / "blobs.npz"
    save_checkpoint(_path, blob_trainer(verbose=False).model)
    try:
        load_checkpoint(_path, Sequential(Linear(8, 16), ReLU(), Linear(16, 4), ReLU(), Linear(4, 4)))
    except CheckpointError as _error:
        print(_error)

# %% [markdown]
# ## 9. A full evaluation report, and pictures
#
# `evaluate_model` runs a classifier over a whole loader (evaluation mode, `no_grad`) and adds up
# one confusion matrix batch by batch — cheap, since the matrix is only `C × C` — from which
# accuracy, per-class and macro precision/recall/F1 follow exactly. `plot_training_history` draws
# the learning curves and `plot_confusion_matrix` the matrix, as PNG files.
#
# Plotting uses **matplotlib**, an optional dependency (`pip install -e .[plot]`); everything
# else in TinyTorch needs only NumPy. The functions draw on matplotlib's non-interactive **Agg**
# renderer through its object-oriented API (`Figure` + `FigureCanvasAgg`), so they work on a
# server without a display and never change the plotting backend of your notebook.

# %%
#| export
def evaluate_model(model, loader, num_classes: int | None = None, loss_fn=None) -> dict:
    """Classification report of `model` over every (inputs, targets) batch of `loader`.

    Runs in eval mode under no_grad (the model's mode is restored). Model outputs are scores
    (N, C); num_classes defaults to C. Returns {"loss" (only with loss_fn), "accuracy",
    "precision", "recall", "f1" (macro), "per_class": {"precision", "recall", "f1", "support"},
    "confusion_matrix" (C, C)}.
    """
    was_training = model.training
    model.eval()
    cm, loss_sum, samples = None, 0.0, 0
    try:
        with no_grad():
            for batch in loader:
                inputs, targets = _unpack_batch(batch, "evaluate_model")
                outputs = model(inputs)
                if outputs.ndim != 2:
                    raise ValueError(f"evaluate_model: expected class scores (N, C) from the model, "
                                     f"got shape {outputs.shape}")
                classes = num_classes or outputs.shape[1]
                batch_cm = confusion_matrix(targets, outputs.data.argmax(axis=1), classes)
                cm = batch_cm if cm is None else cm + batch_cm
                if loss_fn is not None:
                    loss_sum += loss_fn(outputs, targets).item() * _batch_size(targets)
                samples += _batch_size(targets)
    finally:
        model.train(was_training)
    if cm is None:
        raise ValueError("evaluate_model: the loader yielded no batches")
    per_class = _scores_from_confusion(cm, average=None)
    report = {"loss": loss_sum / samples} if loss_fn is not None else {}
    report.update({"accuracy": float(np.trace(cm) / cm.sum()),
                   "precision": float(per_class.precision.mean()), "recall": float(per_class.recall.mean()),
                   "f1": float(per_class.f1.mean()),
                   "per_class": {"precision": per_class.precision, "recall": per_class.recall,
                                 "f1": per_class.f1, "support": cm.sum(axis=1)},
                   "confusion_matrix": cm})
    return report


def _new_figure(where: str, size: tuple):
    """A matplotlib Figure on the Agg canvas, or an ImportError that says how to get matplotlib."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f"{where} needs matplotlib, an optional dependency of TinyTorch. Install it with "
                          "`pip install -e .[plot]` in the repository (or `pip install matplotlib`).") from error
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure, path, dpi: int = 100) -> str:
    """Write `figure` to `path` as a PNG, atomically; returns the path as a string."""
    _atomic_write(path, lambda file: figure.savefig(file, format="png", dpi=dpi))
    return os.fspath(path)


def plot_training_history(history, path=None) -> str:
    """Learning curves as a PNG: loss (train and val), each metric, and the learning rate if it changed.

    path=None writes training_history.png in the current folder and prints where it went.
    """
    history = history if isinstance(history, History) else History(history)
    if len(history) == 0:
        raise ValueError("plot_training_history: the history is empty")
    names = ["loss"] + [key[len("train_"):] for key in history.keys()
                        if key.startswith("train_") and key != "train_loss"]
    lr = history.history.get("lr")
    show_lr = lr is not None and len(set(v for v in lr if not math.isnan(v))) > 1
    panels = len(names) + show_lr
    figure = _new_figure("plot_training_history", (4.2 * panels, 3.4))
    axes = figure.subplots(1, panels, squeeze=False)[0]
    epochs = history.history.get("epoch", list(range(1, len(history) + 1)))
    for ax, name in zip(axes, names):
        for split, style in (("train", "-"), ("val", "--")):
            key = f"{split}_{name}"
            if key in history:
                ax.plot(epochs, history[key], style, marker="o", markersize=3, label=split)
        ax.set(title=name, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if show_lr:
        axes[-1].plot(epochs, lr, marker="o", markersize=3)
        axes[-1].set(title="learning rate", xlabel="epoch", yscale="log")
        axes[-1].grid(alpha=0.3)
    if path is None:
        path = _save_png(figure, "training_history.png")
        print(f"plot_training_history: saved the learning curves to {os.path.abspath(path)}")
        return path
    return _save_png(figure, path)


def plot_confusion_matrix(cm, path, class_names=None, normalize: bool = False) -> str:
    """The confusion matrix as a PNG heat map (rows: true class, columns: predicted class).

    normalize=True shows each row as fractions of its true class (per-class recall on the diagonal).
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square (C, C) matrix, got shape {cm.shape}")
    classes = len(cm)
    names = [str(i) for i in range(classes)] if class_names is None else [str(n) for n in class_names]
    if len(names) != classes:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class_names for a {classes}-class matrix")
    shown = _ratio(cm, cm.sum(axis=1, keepdims=True)) if normalize else cm
    size = max(3.5, 0.45 * classes + 2)
    figure = _new_figure("plot_confusion_matrix", (size + 1, size))
    ax = figure.subplots()
    image = ax.imshow(shown, cmap="Blues")
    figure.colorbar(image, ax=ax)
    ax.set(xticks=range(classes), yticks=range(classes), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true", title="confusion matrix" + (" (row-normalised)" if normalize else ""))
    if classes <= 20:
        limit = shown.max() / 2 if shown.size else 0
        for (i, j), value in np.ndenumerate(shown):
            ax.text(j, i, f"{value:.2f}" if normalize else f"{int(value)}", ha="center", va="center",
                    fontsize=8, color="white" if value > limit else "black")
    return _save_png(figure, path)


# %%
#| test
def test_unit_evaluate_model():
    x, y = make_blobs(seed=1)
    trainer = blob_trainer(verbose=False)
    trainer.fit(ArrayLoader(x[:480], y[:480], 32, shuffle=True), epochs=3)
    report = evaluate_model(trainer.model, ArrayLoader(x[480:], y[480:], 50), loss_fn=CrossEntropyLoss())
    cm = report["confusion_matrix"]
    assert cm.shape == (4, 4) and cm.sum() == 120, f"expected a (4, 4) matrix counting 120 samples, got {cm}"
    direct = trainer.evaluate(ArrayLoader(x[480:], y[480:], 50))
    assert np.isclose(report["accuracy"], direct["accuracy"]) and np.isclose(report["loss"], direct["loss"]), (
        f"evaluate_model and Trainer.evaluate disagree: {report['accuracy']} vs {direct['accuracy']}")
    assert np.isclose(report["f1"], report["per_class"]["f1"].mean()), "macro F1 = mean of per-class F1"
    print(f"✅ evaluate_model: accuracy {report['accuracy']:.3f}, macro F1 {report['f1']:.3f}, "
          f"confusion matrix over {cm.sum()} samples")


test_unit_evaluate_model()

# %% [markdown]
# Plots, when matplotlib is installed (the files go to a temporary folder here; pass your own path):

# %%
try:
    with _tempfile.TemporaryDirectory() as _folder:
        _png = plot_training_history(_full, _Path(_folder) / "history.png")
        _cm_png = plot_confusion_matrix(evaluate_model(_stopped.model, ArrayLoader(_xv, _yv, 200))["confusion_matrix"],
                                        _Path(_folder) / "cm.png", class_names=["outside", "inside"])
        print(f"wrote history.png ({os.path.getsize(_png):,} bytes) and cm.png ({os.path.getsize(_cm_png):,} bytes)")
except ImportError as _error:
    print(_error)

# %% [markdown]
# ## 10. Weights that travel: `save`, `load` and safetensors
#
# A checkpoint (section 8) is for *continuing a run*. Two more everyday jobs need files too, and
# an ordinary PyTorch script does them with two calls:
#
# ```python
# torch.save(model.state_dict(), "weights.pt")           # keep the weights (or any dict of tensors)
# model.load_state_dict(torch.load("weights.pt"))        # ... and get them back
# ```
#
# `tinytorch.save(obj, path)` and `tinytorch.load(path)` take the same arguments and give the same
# round trip — a state_dict, or any nesting of dicts, lists and tuples holding Tensors, arrays,
# numbers, strings, bools and `None` — but the file is **not a pickle**. It is the format of the
# checkpoints: an `.npz` with one plain `.npy` array per tensor, plus the structure as JSON text
# (module 06's `flatten_state_dict`, which also remembers which entries were Tensors), written
# atomically. `load` reads it with `allow_pickle=False`, so nothing in the file can run.
#
# `load` refuses what it cannot read safely, and says why: a real pickle (the file of
# `pickle.dump`, or `torch.save`'s legacy format) is refused *unopened*, because unpickling is
# running the file's instructions. One kind of pickle is accepted: the zip archive that
# `torch.save` writes by default, whose `data.pkl` only rebuilds tensors from raw storages. Module 08
# reads it with a restricted unpickler (the same idea as its CIFAR-10 reader) that admits the few
# tensor-rebuilding callables and nothing else; `load` hands such files to it.
#
# ### safetensors: the format other frameworks read
#
# To move weights between frameworks (PyTorch, JAX, the Hugging Face hub), the ecosystem settled
# on **safetensors**: a format so simple that reading it cannot execute anything, and fast because
# every tensor is one contiguous block of raw little-endian bytes.
#
# ```
#   ┌──────────┬──────────────────────────────────────────┬───────────────────────────────┐
#   │ 8 bytes  │ N bytes of JSON (padded with spaces)     │ raw tensor bytes              │
#   │ N, u64 LE│ {"__metadata__": {"format": "pt"},       │ [ fc.bias  ][ fc.weight ...  ]│
#   │          │  "fc.weight": {"dtype": "F32",           │ ▲ 0        ▲ 40               │
#   │          │     "shape": [10, 784],                  │                               │
#   │          │     "data_offsets": [40, 31400]}, ...}   │ offsets count from here       │
#   └──────────┴──────────────────────────────────────────┴───────────────────────────────┘
# ```
#
# The header is untrusted input: a file may lie about its sizes. So `load_file` checks *everything*
# before it reads a single tensor — the header length against the file size, each entry's dtype
# and shape, that `end - begin` equals `prod(shape) * itemsize`, and that the byte ranges tile the
# buffer exactly (no overlaps, no gaps, nothing missing at the end of a truncated file). A file that
# fails a check raises `SerializationError` naming the entry and the numbers; no tensor is returned.
# `save_file` writes the same layout (atomically) so PyTorch's `safetensors.torch.load_file` reads it.
# `safe_open(path)` is the lazy reader: it checks the header when the file opens, and `get_tensor(name)`
# then reads just that tensor's bytes — the way to take two layers out of a 10 GB file.

# %%
#| export
_SAVED = "__tinytorch_save__"
SAVE_FORMAT = "tinytorch-save"
SAVE_VERSION = 1


class SerializationError(ValueError):
    """A weights file that cannot be loaded safely: corrupt, truncated, lying, or holding code."""


def _check_map_location(map_location, where: str) -> None:
    """torch.load's map_location: everything lives on the CPU, so only CPU targets make sense."""
    if map_location is None or callable(map_location):
        return  # a function (storage, location) -> storage: every storage is already on the CPU
    targets = map_location.values() if isinstance(map_location, Mapping) else [map_location]
    for target in targets:
        check_device(target, where)


def save(obj, f) -> None:
    """torch.save without pickle: write `obj` (Tensors, arrays, numbers, str, bool, None in dicts,
    lists, tuples) to the path `f` (written atomically) or to a binary file object.

    The file is an .npz archive read back by load(f) with allow_pickle=False; the path is used as
    given, whatever its suffix.
    """
    if isinstance(obj, Mapping) and _SAVED in obj:
        raise ValueError(f"save: the key {_SAVED!r} is reserved for the file's format marker")
    if callable(getattr(obj, "state_dict", None)):
        raise TypeError(f"save: a whole {type(obj).__name__} object can only be stored as a pickle (code); save "
                        f"its {type(obj).__name__.lower()}.state_dict() instead and rebuild the object in code, "
                        "which is also what PyTorch recommends")
    arrays = flatten_state_dict(obj, prefix="obj/")
    arrays[_SAVED] = np.array(json.dumps({"format": SAVE_FORMAT, "version": SAVE_VERSION}))
    if hasattr(f, "write"):
        np.savez(f, **arrays)
    else:
        _atomic_write(f, lambda file: np.savez(file, **arrays))


def _read_bytes(f, where: str) -> bytes:
    if hasattr(f, "read"):
        return f.read()
    path = os.fspath(f)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no such file: {path!r}")
    if not os.path.isfile(path):
        raise IsADirectoryError(f"{where}: {path!r} is not a file")
    with open(path, "rb") as file:
        return file.read()


def _looks_like_pickle(head: bytes) -> bool:
    """Protocol 2+ pickles start with PROTO (0x80); older ones with an opcode such as '(' or ']'."""
    return head[:1] == b"\x80" or head[:1] in (b"(", b"]", b"}", b"c")


def load(f, map_location=None, weights_only=None, mmap=None, **pickle_load_args):
    """torch.load for files that cannot run code: what save() wrote, or a PyTorch zip state_dict.

    map_location ("cpu", a device, a dict or a function) and weights_only are accepted for
    compatibility: everything loads to the CPU, and only data is ever loaded (weights_only=False
    does not make pickles acceptable). A real pickle, a legacy torch.save file, or anything else
    raises SerializationError without executing any of it.
    """
    _check_map_location(map_location, "load")
    if weights_only not in (None, True, False):
        raise TypeError(f"load: weights_only must be True, False or None, got {weights_only!r}")
    where = "load" if hasattr(f, "read") else f"load({os.fspath(f)!r})"
    payload = _read_bytes(f, "load")
    if not payload.startswith(b"PK"):
        if _looks_like_pickle(payload):
            raise SerializationError(
                f"{where}: the file is a pickle. Unpickling runs instructions stored in the file, so TinyTorch "
                "never unpickles (only PyTorch's zip format, whose data.pkl rebuilds tensors, is read, by a "
                "restricted reader). If it came from torch.save(..., _use_new_zipfile_serialization=False), "
                "re-save it with the default torch.save, or with safetensors")
        if len(payload) >= 9 and payload[8:9] == b"{":
            raise SerializationError(f"{where}: this looks like a safetensors file; read it with "
                                     "tinytorch.safetensors.load_file")
        raise SerializationError(f"{where}: not a file written by tinytorch.save or torch.save "
                                 "(not a zip archive); is it truncated?")
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise SerializationError(f"{where}: the zip archive is corrupt or truncated ({error})") from None
    if f"{_SAVED}.npy" in names:
        return _load_saved(io.BytesIO(payload), where)
    if any(name.endswith("data.pkl") for name in names):
        from tinytorch.core.data import load_pytorch_file  # module 08's restricted reader (read at call time)

        return load_pytorch_file(io.BytesIO(payload), source=where)
    if f"{_META}.npy" in names:
        raise SerializationError(f"{where}: this is a training checkpoint; restore it with "
                                 "load_checkpoint(path, model, optimizer, ...)")
    raise SerializationError(f"{where}: a zip archive, but neither a tinytorch.save file nor a PyTorch one")


def _load_saved(stream, where: str):
    try:
        with np.load(stream, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(str(arrays.pop(_SAVED)[()]))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise SerializationError(f"{where}: corrupt or unsafe to read: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != SAVE_FORMAT:
        raise SerializationError(f"{where}: wrong format marker {meta!r}")
    if not isinstance(meta.get("version"), int) or meta["version"] > SAVE_VERSION:
        raise SerializationError(f"{where}: format version {meta.get('version')!r}; this TinyTorch reads "
                                 f"versions up to {SAVE_VERSION}")
    try:
        return unflatten_state_dict(arrays, prefix="obj/")
    except (KeyError, ValueError, TypeError) as error:
        raise SerializationError(f"{where}: damaged structure: {error}") from None


# ----- safetensors ---------------------------------------------------------------------------------
_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
              "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_ST_NAMES = {np.dtype(code).newbyteorder("="): name for name, code in _ST_DTYPES.items()}
_ST_MAX_HEADER = 100_000_000  # what the reference implementation accepts


def _safetensors_header(tensors: Mapping, metadata) -> tuple[bytes, list]:
    """(8-byte length + padded JSON header, [contiguous little-endian arrays in file order])."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"save_file: tensors must be a dict name -> Tensor, got {type(tensors).__name__}")
    if metadata is not None and (not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError(f"save_file: metadata must be a dict of str -> str, got {metadata!r}")
    entries = []
    for name, value in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"save_file: tensor names must be non-empty strings other than '__metadata__', "
                             f"got {name!r}")
        array = value.data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray):
            raise TypeError(f"save_file: {name!r} must be a Tensor or ndarray, got {type(value).__name__}")
        native = array.dtype.newbyteorder("=")
        if native not in _ST_NAMES:
            raise TypeError(f"save_file: {name!r} has dtype {array.dtype}, which safetensors cannot store here "
                            f"(supported: {', '.join(str(d) for d in _ST_NAMES)})")
        entries.append((name, _ST_NAMES[native], np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")))
    entries.sort(key=lambda entry: (-entry[2].dtype.itemsize, entry[0]))  # big items first keeps alignment
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    for name, code, array in entries:
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text, [array for _, _, array in entries]


def save_file(tensors: Mapping, filename, metadata: Mapping | None = None) -> None:
    """Write {name: Tensor or ndarray} as a .safetensors file (atomically); metadata: str -> str."""
    header, arrays = _safetensors_header(tensors, metadata)

    def write(file):
        file.write(header)
        for array in arrays:
            file.write(array.tobytes())

    _atomic_write(filename, write)


def _parse_safetensors_header(raw: bytes, file_size: int, source: str) -> tuple[dict, dict, int]:
    """Check an untrusted header completely: ({name: (dtype, shape, begin, end)}, metadata, data start)."""
    if file_size < 8:
        raise SerializationError(f"{source}: {file_size} bytes is too short for a safetensors file (the "
                                 "header length alone takes 8)")
    length = int.from_bytes(raw[:8], "little")
    if length > _ST_MAX_HEADER or 8 + length > file_size:
        raise SerializationError(f"{source}: the header claims {length:,} bytes, but the file has only "
                                 f"{file_size - 8:,} after the length field (truncated or not safetensors)")
    try:
        header = json.loads(raw[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise SerializationError(f"{source}: the header is not valid UTF-8 JSON ({error})") from None
    if not isinstance(header, dict):
        raise SerializationError(f"{source}: the header must be a JSON object, got {type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SerializationError(f"{source}: __metadata__ must map strings to strings, got {metadata!r}")
    data_size = file_size - 8 - length
    entries = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise SerializationError(f"{source}: entry {name!r} must have exactly dtype, shape and data_offsets, "
                                     f"got {entry!r}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _ST_DTYPES and dtype != "BF16":
            raise SerializationError(f"{source}: {name!r} has dtype {dtype!r}, which TinyTorch cannot read "
                                     f"(known: {', '.join(list(_ST_DTYPES) + ['BF16'])})")
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
            raise SerializationError(f"{source}: {name!r} has shape {shape!r}; expected a list of sizes >= 0")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(n) is int for n in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise SerializationError(f"{source}: {name!r} has data_offsets {offsets!r}; expected [begin, end] "
                                     "with 0 <= begin <= end")
        itemsize = 2 if dtype == "BF16" else np.dtype(_ST_DTYPES[dtype]).itemsize
        expected = math.prod(shape) * itemsize
        if offsets[1] - offsets[0] != expected:
            raise SerializationError(f"{source}: {name!r} of shape {shape} and dtype {dtype} needs {expected:,} "
                                     f"bytes, but its data_offsets {offsets} span {offsets[1] - offsets[0]:,}")
        entries[name] = (dtype, tuple(shape), offsets[0], offsets[1])
    # Hint: walk the entries sorted by (begin, end), keeping `covered` = where the previous tensor
    #       ended (0 at first). Each tensor must begin exactly there: begin < covered overlaps the
    #       previous tensor, begin > covered leaves a gap. Raise SerializationError naming the tensor,
    #       its begin and `covered`; then covered = end. The check after the loop compares the total.
    ### BEGIN SOLUTION
    covered = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: (item[1][2], item[1][3])):
        if begin != covered:
            problem = "overlaps the previous tensor" if begin < covered else "leaves a gap after the previous tensor"
            raise SerializationError(f"{source}: {name!r} starts at byte {begin:,}, which {problem} "
                                     f"(ends at {covered:,}); the byte ranges must tile the buffer exactly")
        covered = end
    ### END SOLUTION
    if covered != data_size:
        raise SerializationError(f"{source}: the tensors cover {covered:,} bytes but the data section holds "
                                 f"{data_size:,} ({'truncated file' if covered > data_size else 'trailing bytes'})")
    return entries, metadata, 8 + length


class safe_open:
    """safetensors' reader: `with safe_open(path, framework="pt") as f: f.keys(), f.get_tensor(name),
    f.metadata()`. The whole header is checked when the file opens; get_tensor reads one tensor.
    framework "pt" gives Tensors, "np"/"numpy" ndarrays; device must be the CPU."""

    def __init__(self, filename, framework: str = "pt", device="cpu"):
        check_device(device, "safe_open")
        if framework not in ("pt", "np", "numpy"):
            raise ValueError(f"safe_open: framework must be 'pt' or 'np', got {framework!r}")
        self.path, self.framework = os.fspath(filename), framework
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"safe_open: no such file: {self.path!r}")
        self._where = f"safe_open({self.path!r})"
        self._file = open(self.path, "rb")
        try:
            head = self._file.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else 0
            raw = head + self._file.read(min(length, _ST_MAX_HEADER + 1))
            self._entries, self._metadata, self._start = _parse_safetensors_header(
                raw, os.path.getsize(self.path), self._where)
        except BaseException:
            self._file.close()
            raise

    def keys(self) -> list:
        return list(self._entries)

    def metadata(self) -> dict:
        return dict(self._metadata)

    def get_tensor(self, name: str):
        if name not in self._entries:
            raise KeyError(f"{self._where}: no tensor named {name!r}; the file has {', '.join(self._entries)}")
        dtype, shape, begin, end = self._entries[name]
        code = "<u2" if dtype == "BF16" else _ST_DTYPES[dtype]
        count = (end - begin) // np.dtype(code).itemsize
        self._file.seek(self._start + begin)
        flat = np.empty(count, dtype=code)  # read straight into the array: one copy, from the OS
        if self._file.readinto(memoryview(flat).cast("B")) != flat.nbytes:  # the file changed since it was checked
            raise SerializationError(f"{self._where}: {name!r} is truncated")
        if dtype == "BF16":  # bfloat16 is the top half of a float32: widen it exactly
            flat = (flat.astype(np.uint32) << 16).view(np.float32)
        array = flat.astype(flat.dtype.newbyteorder("="), copy=False).reshape(shape)
        return Tensor(array) if self.framework == "pt" else array

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> safe_open:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_file(filename, device="cpu") -> dict:
    """Read a .safetensors file into {name: Tensor}; BF16 becomes float32 (exactly). Everything is
    checked before any tensor is read; a lying or truncated file raises SerializationError."""
    with safe_open(filename, "pt", device) as file:
        return {name: file.get_tensor(name) for name in file.keys()}


def load_file_metadata(filename) -> dict:
    """The __metadata__ dict (str -> str) of a .safetensors file, checked like load_file checks it."""
    with safe_open(filename) as file:
        return file.metadata()


# %%
#| test
def test_unit_save_load_and_safetensors():
    with _tempfile.TemporaryDirectory() as folder:
        model = blob_trainer(verbose=False).model
        obj = {"model": model.state_dict(), "epoch": 3, "note": "blobs", "betas": (0.9, 0.999),
               "scale": Tensor([1.5, 2.5]), "none": None}
        path = _Path(folder) / "run.pt"
        save(obj, path)
        back = load(path)
        assert (back["epoch"], back["note"], back["betas"], back["none"]) == (3, "blobs", (0.9, 0.999), None)
        assert isinstance(back["scale"], Tensor) and back["scale"].tolist() == [1.5, 2.5], "Tensors stay Tensors"
        for key, array in obj["model"].items():
            assert np.array_equal(back["model"][key], array), f"{key}: the weights must round-trip exactly"
        with np.load(path, allow_pickle=False):  # the file is a plain .npz, whatever its suffix
            pass
        evil = _Path(folder) / "evil.pt"
        evil.write_bytes(b"\x80\x04cos\nsystem\n(S'echo hacked'\ntR.")
        try:
            load(evil)
        except SerializationError as error:
            assert "pickle" in str(error), f"the refusal should say the file is a pickle: {error}"
        else:
            raise AssertionError("load must refuse a pickle, never unpickle it")
        weights = _Path(folder) / "model.safetensors"
        save_file(model.state_dict(), weights, metadata={"format": "pt"})
        raw = weights.read_bytes()
        length = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + length])
        assert header["__metadata__"] == {"format": "pt"} and header["0.weight"]["dtype"] == "F32", header
        loaded = load_file(weights)
        assert all(np.array_equal(loaded[k].data, v) for k, v in model.state_dict().items())
        weights.write_bytes(raw[:-4])  # truncated: the header now promises more bytes than there are
        try:
            load_file(weights)
        except SerializationError as error:
            assert "truncated" in str(error), f"a truncated file should be called truncated: {error}"
        else:
            raise AssertionError("a truncated safetensors file must raise SerializationError")
        lying = json.dumps({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                            "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}).encode()
        weights.write_bytes(len(lying).to_bytes(8, "little") + lying + bytes(6))
        try:
            load_file(weights)
        except SerializationError as error:
            assert "overlaps" in str(error) and "'b'" in str(error), f"name the overlapping tensor: {error}"
        else:
            raise AssertionError("tensors whose byte ranges overlap must be refused (check the tiling loop)")
    print("✅ save/load round trip (no pickle; pickles refused), safetensors written, read and validated")


test_unit_save_load_and_safetensors()

# %% [markdown]
# **Measure it.** Both formats store the same float32 bytes. The `.npz` wraps each array in a zip
# member with a small `.npy` header; safetensors puts one JSON header in front of one block of bytes.
# How much do the wrappers cost on disk, and how long do writing (with its fsync) and reading take?
# Predict before you run: which overhead grows with the number of tensors, and which with their size?

# %%
#| analysis
def file_formats(width: int, folder) -> tuple:
    """(parameters, npz bytes, safetensors bytes, save/load ms for each) for an MLP 64-w-w-10."""
    manual_seed(0)
    state = Sequential(Linear(64, width), ReLU(), Linear(width, width), ReLU(), Linear(width, 10)).state_dict()
    npz, st = _Path(folder) / "w.pt", _Path(folder) / "w.safetensors"
    timings = []
    for write, read, path in ((save, load, npz), (save_file, load_file, st)):
        start = time.perf_counter()
        write(state, path)
        middle = time.perf_counter()
        read(path)
        timings += [1e3 * (middle - start), 1e3 * (time.perf_counter() - middle)]
    return sum(a.size for a in state.values()), npz.stat().st_size, st.stat().st_size, timings


print(f"{'params':>10}{'float32 bytes':>15}{'npz bytes':>12}{'safetensors':>13}"
      f"{'npz save/load ms':>19}{'st save/load ms':>18}")
with _tempfile.TemporaryDirectory() as _folder:
    for _width in (16, 256, 1024):
        _n, _npz, _st, (_a, _b, _c, _d) = file_formats(_width, _folder)
        print(f"{_n:>10,}{4 * _n:>15,}{_npz:>12,}{_st:>13,}{_a:>10.1f} / {_b:<6.1f}{_c:>10.1f} / {_d:<6.1f}")

# %% [markdown]
# The extra bytes are a few hundred per tensor for the `.npz` (zip entry + `.npy` header) and one
# JSON line per tensor for safetensors: both vanish next to megabytes of weights. Saving time is
# mostly `fsync` (the price of a file that survives a crash), so it jumps around between runs.
# Loading differs more: the `.npz` goes through Python's `zipfile` (a CRC check and an extra copy per
# member), while safetensors reads each tensor's bytes straight into its array — one reason the
# format exists. (Where would a memory-mapped reader beat both, and what would it give up?)

# %% [markdown]
# ## 11. Systems analysis: where does a training step spend its time?
#
# One step is four phases: **data** (fetching and building the batch), **forward** (model and
# loss), **backward**, and **optimizer** (`zero_grad` + `step`). The cell below times each phase
# separately for an MLP 64 → 256 → 256 → 10 (85,000 parameters) on synthetic data, batch 64,
# best of three epochs.
#
# Before you run it, predict the shares. Forward and backward scale with the batch: each is a few
# matrix products of `batch × 256` activations. The optimizer does not: Adam makes about ten
# elementwise passes over *every parameter* per step, whatever the batch size. With a small input
# (64 features) and a small batch, that fixed cost is a large share of the step — often a third or
# more. Data loading here is only indexing two arrays in memory; with images decoded from disk and
# augmented, it is often the phase that dominates (module 08 measures it).

# %%
#| analysis
def step_breakdown(batch_size=64, n=4096, epochs=3):
    """Seconds per step spent in data / forward / backward / optimizer (best epoch)."""
    x, y = make_blobs(n, classes=10, features=64, seed=0)
    manual_seed(0)
    model = Sequential(Linear(64, 256), ReLU(), Linear(256, 256), ReLU(), Linear(256, 10))
    optimizer, loss_fn = Adam(model.parameters(), lr=1e-3), CrossEntropyLoss()
    loader = ArrayLoader(x, y, batch_size, shuffle=True)
    best = None
    for _ in range(epochs):
        totals = dict.fromkeys(("data", "forward", "backward", "optimizer"), 0.0)
        batches = iter(loader)
        steps = 0
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            if batch is None:
                break
            t1 = time.perf_counter()
            loss = loss_fn(model(batch[0]), batch[1])
            t2 = time.perf_counter()
            loss.backward()
            t3 = time.perf_counter()
            optimizer.step()
            optimizer.zero_grad()
            t4 = time.perf_counter()
            for key, seconds in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                totals[key] += seconds
            steps += 1
        per_step = {key: value / steps for key, value in totals.items()}
        if best is None or sum(per_step.values()) < sum(best.values()):
            best = per_step
    return best


_phases = step_breakdown()
_total = sum(_phases.values())
print(f"one step, batch 64: {_total * 1e3:.2f} ms")
for _name, _seconds in _phases.items():
    print(f"  {_name:<10}{_seconds * 1e3:8.3f} ms  {_seconds / _total:6.1%}  " + "█" * round(40 * _seconds / _total))

# %% [markdown]
# ### Throughput vs batch size
#
# Part of every step's cost does not depend on the batch size: Python creating Tensors and graph
# nodes, the optimizer walking every parameter, one BLAS call set up per layer. Bigger batches
# spread that fixed cost over more samples, so samples per second grow — until the matrix
# products themselves dominate and the curve flattens. (Bigger batches are not free in *learning*
# terms: fewer steps per epoch, and often a learning rate that must grow with the batch.)

# %%
#| analysis
def throughput(batch_size, steps=16):
    """Best training samples/s over 3 epochs of `steps` batches each."""
    x, y = make_blobs(batch_size * steps, classes=10, features=64, seed=0)
    manual_seed(0)
    model = Sequential(Linear(64, 256), ReLU(), Linear(256, 256), ReLU(), Linear(256, 10))
    trainer = Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3), verbose=False)
    history = trainer.fit(ArrayLoader(x, y, batch_size, shuffle=True), epochs=3)
    return max(history["samples_per_s"])  # the best epoch: other programs only ever slow us down


print(f"{'batch':>6}{'samples/s':>12}{'steps/s':>10}")
for _batch in (8, 32, 128, 512):
    _rate = throughput(_batch)
    print(f"{_batch:>6}{_rate:>12,.0f}{_rate / _batch:>10,.0f}")

# %% [markdown]
# ### Checkpoint size vs parameter count
#
# A float32 parameter takes 4 bytes, so the weights of a model with P parameters take 4P bytes.
# SGD without momentum keeps no state; SGD with momentum keeps one buffer per parameter (8P in
# total); Adam keeps two moment estimates (12P). The `.npz` container adds a small header per
# array and the JSON description — a fixed cost that matters only for tiny models.

# %%
#| analysis
def checkpoint_sizes(width, folder):
    manual_seed(0)
    model = Sequential(Linear(64, width), ReLU(), Linear(width, width), ReLU(), Linear(width, 10))
    params = sum(p.numel() for p in model.parameters())
    sizes = []
    for optimizer in (SGD(model.parameters(), lr=0.1), Adam(model.parameters())):
        loss = CrossEntropyLoss()(model(Tensor(np.ones((2, 64), np.float32))), Tensor(np.array([0, 1])))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()  # creates the optimizer's state
        path = os.path.join(folder, f"w{width}.npz")
        save_checkpoint(path, model, optimizer)
        sizes.append(os.path.getsize(path))
    return params, sizes


print(f"{'params':>10}{'4 x params':>12}{'SGD file':>12}{'Adam file':>12}{'Adam / (4 x params)':>21}")
print("(SGD without momentum keeps no state; Adam keeps two arrays per parameter)")
with _tempfile.TemporaryDirectory() as _folder:
    for _width in (16, 64, 256, 1024):
        _params, (_sgd, _adam) = checkpoint_sizes(_width, _folder)
        print(f"{_params:>10,}{4 * _params:>12,}{_sgd:>12,}{_adam:>12,}{_adam / (4 * _params):>21.2f}")

# %% [markdown]
# ## Reflection
#
# **Q1.** A classmate's loop calls `optimizer.step()` and then `loss.backward()` for each batch,
# and forgets `zero_grad()`. Describe, step by step, which gradients the first three updates use.
# Would the loss still go down at all?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** You train 50 hyperparameter settings for 100 epochs each and report the best validation
# accuracy seen, over all settings and all epochs. Why is that number an optimistic estimate of
# the accuracy on new data? What would you report instead, and what must never touch that data?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** A data set has 990 negatives and 10 positives. Model A always predicts "negative";
# model B finds 8 of the 10 positives and raises 30 false alarms. Compute accuracy and the F1 of
# the positive class for both. Which number would you report, and why?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** Your resumed run's loss curve jumps up right after the resume, then recovers. Name
# three pieces of state whose loss would each cause this (or a visibly different run), and how
# each one shows itself.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q5.** Why must the temporary file of an atomic write be in the same folder as the target,
# and what could still go wrong if we skipped the `fsync` before `os.replace`?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q6.** From the time breakdown and the throughput table: which phase would you optimise first
# for batch size 8, and which for batch size 512? Why are they different?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q7.** A downloaded `model.safetensors` of 1 MB has a header entry with shape `[1000000000]`,
# dtype `F32` and `data_offsets` `[0, 4000000000]`. Which of `load_file`'s checks rejects it, what
# would a reader that trusted the header try to do, and why is "check everything, then read" the
# rule rather than "read, and stop at the first problem"?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - The training step is `zero_grad → forward → loss → backward → clip → step → schedule`; the
#   order is forced by data dependencies, and every mistake in it has a recognisable symptom.
# - Evaluation runs in eval mode under `no_grad`; validation data shows overfitting that the
#   training loss hides, and `EarlyStopping` with `restore_best_weights` keeps the best model.
# - Accuracy is one number; the confusion matrix (one `bincount`) gives per-class precision,
#   recall and F1, and macro averages that treat rare classes fairly.
# - A checkpoint holds model, optimizer, scheduler, epoch, history and random state, as plain
#   arrays plus JSON in one `.npz`: no pickle, written atomically, validated before loading —
#   and a resumed run matches an uninterrupted one bit for bit.
# - `save`/`load` are `torch.save`/`torch.load` without pickle; safetensors files (a checked JSON
#   header and raw little-endian bytes) carry weights to and from other frameworks.
# - Next, module 08 replaces `ArrayLoader` with `Dataset`/`DataLoader` and real data sets.
