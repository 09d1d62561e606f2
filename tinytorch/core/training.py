# Generated from modules/07_training/training.py by `tito export`. Do not edit: edit the module.

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
    if out.ndim == tgt.ndim + 1:
        predicted = out.argmax(axis=1)
    elif out.dtype.kind == "f":
        predicted = out > threshold
    else:
        predicted = out
    return float(np.mean(predicted == tgt))


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
    counts = np.bincount(true * classes + pred, minlength=classes * classes)
    return counts.reshape(classes, classes).astype(np.int64)


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

    def evaluate(self, loader) -> dict:
        """Loss and metrics of the model on `loader`, without learning: eval mode, no_grad.

        Returns {"loss", <metric>..., "samples"} like train_epoch. The model is put back in the
        mode (train or eval) it was in before.
        """
        # Hint: remember was_training = self.model.training, call self.model.eval(), and inside
        #       `with no_grad():` run the model on every batch and feed the meter the loss and
        #       the metrics. Restore the mode with self.model.train(was_training) in a `finally:`
        #       so an error in the middle does not leave the model in eval mode.
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
        if self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return self.wait >= self.patience

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
    covered = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: (item[1][2], item[1][3])):
        if begin != covered:
            problem = "overlaps the previous tensor" if begin < covered else "leaves a gap after the previous tensor"
            raise SerializationError(f"{source}: {name!r} starts at byte {begin:,}, which {problem} "
                                     f"(ends at {covered:,}); the byte ranges must tile the buffer exactly")
        covered = end
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
