"""Module 07 Trainer: fit/evaluate/predict, modes, history, schedulers, clipping, metrics, progress."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from training_helpers import (
    SGD,
    CrossEntropyLoss,
    Linear,
    Loader,
    Probe,
    Tensor,
    blobs,
    make_trainer,
    manual_seed,
    same_weights,
    split_loaders,
)

from tinytorch.core.losses import MSELoss
from tinytorch.core.training import Callback, History, ProgressBar, Trainer, accuracy

COLUMNS = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "epoch_time",
           "samples_per_s"}


# ----- fit ----------------------------------------------------------------------------------------------
def test_fit_separates_blobs_and_fills_the_history():
    train, val = split_loaders()
    trainer = make_trainer()
    history = trainer.fit(train, val, epochs=4)
    assert isinstance(history, History) and history is trainer.history
    assert set(history.keys()) == COLUMNS
    assert len(history) == 4 and history["epoch"] == [1, 2, 3, 4]
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_accuracy"][-1] >= 0.95 and history["train_accuracy"][-1] >= 0.95
    assert history["lr"] == [0.1] * 4
    assert all(t > 0 for t in history["epoch_time"]) and all(r > 0 for r in history["samples_per_s"])
    assert trainer.epoch == 4


def test_history_values_are_sample_weighted_means():
    x, y = blobs(50)
    loader = Loader(x, y, batch_size=16)  # batches of 16, 16, 16, 2
    trainer = make_trainer(lr=0.0)  # lr 0: the weights never move, so every batch sees the same model
    history = trainer.fit(loader, loader, epochs=1)
    whole = trainer.model(Tensor(x))
    assert history["train_loss"][0] == pytest.approx(CrossEntropyLoss()(whole, Tensor(y)).item(), rel=1e-5)
    assert history["train_accuracy"][0] == pytest.approx(accuracy(whole, y))
    assert history["val_loss"][0] == pytest.approx(history["train_loss"][0], rel=1e-5)


def test_fit_without_validation_has_no_val_columns():
    train, _ = split_loaders()
    history = make_trainer().fit(train, epochs=2)
    assert set(history.keys()) == COLUMNS - {"val_loss", "val_accuracy"}


def test_fit_again_continues_counting():
    train, val = split_loaders()
    trainer = make_trainer()
    trainer.fit(train, val, epochs=2)
    trainer.fit(train, val, epochs=1)
    assert trainer.history["epoch"] == [1, 2, 3] and trainer.epoch == 3
    before = trainer.model.state_dict()
    trainer.fit(train, epochs=0)
    assert len(trainer.history) == 3 and same_weights_dict(before, trainer.model.state_dict())


def same_weights_dict(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


def test_fit_accepts_numpy_batches_and_lists():
    x, y = blobs(32)
    batches = [(x[:16], y[:16]), [x[16:], y[16:]]]
    history = make_trainer().fit(batches, epochs=1)
    assert len(history) == 1


@pytest.mark.parametrize("batch, fragment", [
    ((np.ones((2, 4), np.float32),), "pairs"),
    ("xy", "pairs"),
    (([1.0, 2.0], np.array([0, 1])), "inputs is a list"),
])
def test_bad_batches_are_named(batch, fragment):
    with pytest.raises(TypeError, match=fragment):
        make_trainer().fit([batch], epochs=1)


def test_empty_loader_is_an_error():
    with pytest.raises(ValueError, match="no batches"):
        make_trainer().fit([], epochs=1)


# ----- modes and graph recording ------------------------------------------------------------------------
def test_training_and_evaluation_modes():
    train, val = split_loaders()
    trainer = make_trainer()
    trainer.model = probe = Probe(trainer.model)
    trainer.fit(train, val, epochs=1)
    per_batch = len(train) * [(True, True)] + len(val) * [(False, False)]
    assert probe.calls == per_batch, "train batches: training mode, grads on; val batches: eval mode, no_grad"
    probe.eval()
    trainer.evaluate(val)
    assert not probe.training, "evaluate restores eval mode when the model was in eval mode"
    probe.calls.clear()
    trainer.predict(val)
    assert set(probe.calls) == {(False, False)} and not probe.training


def test_evaluate_restores_the_mode_after_an_error():
    trainer = make_trainer()
    trainer.model.train()
    with pytest.raises(TypeError):
        trainer.evaluate([("bad",)])
    assert trainer.model.training


def test_evaluate_does_not_learn_and_is_repeatable():
    _, val = split_loaders()
    trainer = make_trainer()
    before = trainer.model.state_dict()
    first, second = trainer.evaluate(val), trainer.evaluate(val)
    assert first == second and set(first) == {"loss", "accuracy", "samples"} and first["samples"] == 60
    assert same_weights_dict(before, trainer.model.state_dict())
    assert all(p.grad is None for p in trainer.model.parameters()), "evaluate computes no gradients"


def test_predict_concatenates_outputs():
    x, y = blobs(50)
    trainer = make_trainer()
    out = trainer.predict(Loader(x, y, 16))
    np.testing.assert_allclose(out.data, trainer.model(Tensor(x)).data, rtol=1e-6)
    only_inputs = trainer.predict([x[:10], x[10:]])
    assert only_inputs.shape == (50, 3) and not only_inputs.requires_grad
    with pytest.raises(ValueError, match="no batches"):
        trainer.predict([])


# ----- schedulers and clipping --------------------------------------------------------------------------
def test_scheduler_steps_once_per_epoch():
    train, _ = split_loaders()
    history = make_trainer(scheduler="step").fit(train, epochs=3)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025]), "lr is read at the start of each epoch"


def test_scheduler_steps_per_batch():
    train, _ = split_loaders()  # 180 samples in batches of 16 -> 12 steps per epoch
    trainer = make_trainer(scheduler="step", scheduler_interval="step")
    history = trainer.fit(train, epochs=2)
    assert history["lr"] == pytest.approx([0.1, 0.1 * 0.5 ** 12])
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 24)


class Plateau:
    """A ReduceLROnPlateau-like scheduler: step(metric) needs the monitored value."""

    def __init__(self):
        self.seen = []

    def step(self, metrics):
        self.seen.append(metrics)


def test_a_scheduler_that_needs_a_metric_gets_val_loss():
    train, val = split_loaders()
    plateau = Plateau()
    trainer = make_trainer()
    trainer.scheduler = plateau
    history = trainer.fit(train, val, epochs=2)
    assert plateau.seen == history["val_loss"]
    plateau.seen.clear()
    trainer.fit(train, epochs=1)
    assert plateau.seen == history["train_loss"][-1:]
    with pytest.raises(ValueError, match="once per epoch"):
        Trainer(trainer.model, CrossEntropyLoss(), trainer.optimizer, scheduler=Plateau(), scheduler_interval="step")


def test_grad_clip_limits_the_update():
    manual_seed(0)
    model = Linear(3, 1)
    x = Tensor(np.full((4, 3), 10.0, np.float32))
    y = Tensor(np.full((4, 1), 1000.0, np.float32))
    norms = {}
    for clip in (None, 0.5):
        model_copy = Linear(3, 1)
        model_copy.load_state_dict(model.state_dict())
        trainer = Trainer(model_copy, MSELoss(), SGD(model_copy.parameters(), lr=1.0), metrics=None,
                          grad_clip=clip, verbose=False)
        trainer.fit([(x, y)], epochs=1)
        change = [model_copy.state_dict()[k] - model.state_dict()[k] for k in ("weight", "bias")]
        norms[clip] = math.sqrt(sum(float((c.astype(np.float64) ** 2).sum()) for c in change))
    assert norms[None] > 1000, "without clipping the step is huge"
    assert norms[0.5] == pytest.approx(0.5, rel=1e-3), "with grad_clip=0.5 and lr=1 the step has norm 0.5"


# ----- metrics ------------------------------------------------------------------------------------------
def error_rate(output, target):
    return 1.0 - accuracy(output, target)


def test_metrics_by_name_callable_and_dict():
    train, val = split_loaders()
    history = make_trainer(metrics=["acc", error_rate]).fit(train, val, epochs=1)
    assert history["val_accuracy"][0] + history["val_error_rate"][0] == pytest.approx(1.0)
    history = make_trainer(metrics={"hit": accuracy}).fit(train, epochs=1)
    assert "train_hit" in history and "train_accuracy" not in history
    history = make_trainer(metrics=None).fit(train, epochs=1)
    assert set(history.keys()) == {"epoch", "train_loss", "lr", "epoch_time", "samples_per_s"}


@pytest.mark.parametrize("metrics, error, fragment", [
    (["f2"], ValueError, "unknown metric"),
    ([lambda o, t: 0.0], ValueError, "lambda"),
    (["accuracy", "acc"], ValueError, "twice"),
    ({"loss": accuracy}, ValueError, "loss"),
    ([3], TypeError, "name or a callable"),
])
def test_bad_metrics(metrics, error, fragment):
    with pytest.raises(error, match=fragment):
        make_trainer(metrics=metrics)


# ----- construction errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"scheduler_interval": "batch"}, ValueError, "scheduler_interval"),
    ({"grad_clip": 0}, ValueError, "grad_clip"),
    ({"grad_clip": -1.0}, ValueError, "grad_clip"),
    ({"callbacks": [object()]}, TypeError, "Callback"),
    ({"save_best": True}, ValueError, "checkpoint_path"),
])
def test_constructor_checks(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        make_trainer(**kwargs)


def test_constructor_checks_its_parts():
    trainer = make_trainer()
    with pytest.raises(TypeError, match="model"):
        Trainer(object(), CrossEntropyLoss(), trainer.optimizer)
    with pytest.raises(TypeError, match="optimizer"):
        Trainer(trainer.model, CrossEntropyLoss(), object())
    with pytest.raises(TypeError, match="loss_fn"):
        Trainer(trainer.model, "cross_entropy", trainer.optimizer)
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit([], epochs=-1)


# ----- callbacks: hook order and stopping ---------------------------------------------------------------
class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, trainer):
        self.events.append("train_begin")

    def on_epoch_begin(self, trainer, epoch):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_begin(self, trainer, batch):
        self.events.append(f"batch_begin {batch}")

    def on_batch_end(self, trainer, batch, logs):
        assert set(logs) == {"loss", "accuracy", "batch_size"}
        self.events.append(f"batch_end {batch} {logs['batch_size']}")

    def on_epoch_end(self, trainer, epoch, logs):
        assert trainer.history["epoch"][-1] == epoch == trainer.epoch, "history is written before on_epoch_end"
        self.events.append(f"epoch_end {epoch}")

    def on_train_end(self, trainer):
        self.events.append("train_end")


def test_hooks_run_in_order():
    x, y = blobs(20)
    recorder = Recorder()
    make_trainer(callbacks=recorder).fit(Loader(x, y, 16), epochs=2)
    epoch = ["batch_begin 0", "batch_end 0 16", "batch_begin 1", "batch_end 1 4"]
    assert recorder.events == (["train_begin", "epoch_begin 1"] + epoch + ["epoch_end 1", "epoch_begin 2"]
                               + epoch + ["epoch_end 2", "train_end"])


class StopAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, logs):
        trainer.stop_training = epoch >= self.epoch


def test_a_callback_can_stop_training_and_fit_callbacks_add_to_the_trainers():
    train, _ = split_loaders()
    recorder = Recorder()
    trainer = make_trainer(callbacks=[recorder])
    history = trainer.fit(train, epochs=10, callbacks=[StopAt(3)])
    assert len(history) == 3 and recorder.events[-1] == "train_end"
    history = trainer.fit(train, epochs=2)
    assert len(history) == 5, "stop_training is reset by the next fit"


# ----- progress output ----------------------------------------------------------------------------------
def test_verbose_prints_one_line_per_epoch_when_not_a_terminal(capsys):
    train, val = split_loaders()
    make_trainer(verbose=True).fit(train, val, epochs=2)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 2 and "\r" not in captured.err
    for number, line in enumerate(lines, start=1):
        for piece in (f"epoch {number}/2", f"batch {len(train)}/{len(train)}", "train_loss", "train_accuracy",
                      "val_loss", "val_accuracy", "lr 0.1", "samples/s"):
            assert piece in line, f"{piece!r} missing from the progress line {line!r}"


def test_quiet_mode_prints_nothing(capsys):
    train, val = split_loaders()
    make_trainer(verbose=False).fit(train, val, epochs=2)
    assert capsys.readouterr() == ("", "")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_one_redrawn_line_per_epoch():
    train, _ = split_loaders()
    screen = Terminal()
    make_trainer(callbacks=[ProgressBar(stream=screen, refresh=0.0)]).fit(train, epochs=2)
    text = screen.getvalue()
    assert text.count("\n") == 2, "one finished line per epoch"
    assert text.count("\r") == 2 * (len(train) + 1), "a redraw after every batch, and the final line"
    finished = [line.rsplit("\r", 1)[-1] for line in text.split("\n")[:2]]
    assert finished[0].startswith("epoch 1/2  batch 12/12") and finished[1].startswith("epoch 2/2")


def test_progress_with_a_loader_of_unknown_length():
    x, y = blobs(32)
    screen = io.StringIO()
    batches = ((x[i:i + 16], y[i:i + 16]) for i in (0, 16))
    make_trainer(metrics=None, callbacks=[ProgressBar(stream=screen)]).fit(batches, epochs=1)
    assert "batch 2/?" in screen.getvalue()


def test_identical_runs_give_identical_weights():
    """Same seed, same data: the loop itself adds no randomness (shuffles come from the seeded generator)."""
    train, val = split_loaders()
    a = make_trainer(seed=1)
    a.fit(train, val, epochs=2)
    b = make_trainer(seed=1)
    b.fit(train, val, epochs=2)
    assert same_weights(a.model, b.model)
