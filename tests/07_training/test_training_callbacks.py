"""Module 07 callbacks: EarlyStopping on scripted metric sequences, ModelCheckpoint best-only and
every-epoch saving, the Trainer's save_best shortcut, and a resumed run's notion of "best"."""

from __future__ import annotations

import math

import numpy as np
import pytest
from training_helpers import Scripted, Snapshots, make_trainer, split_loaders

from tinytorch.core.training import EarlyStopping, History, ModelCheckpoint, load_checkpoint

INF = math.inf
NAN = math.nan


# ----- EarlyStopping.step on its own --------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, values, stop_after, best", [
    ({"patience": 2}, [1.0, 0.8, 0.85, 0.9, 0.1], 4, 0.8),
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.8, 0.85, 0.86, 0.1], 6, 0.8),   # the count restarts at 0.8
    ({"patience": 0}, [1.0, 0.9, 0.9], 3, 0.9),                         # equal is not better
    ({"patience": 1, "min_delta": 0.05}, [1.0, 0.97, 0.5], 2, 1.0),     # 0.03 better is not enough
    ({"patience": 1, "min_delta": 0.05}, [1.0, 0.94, 0.5], None, 0.5),
    ({"patience": 1, "mode": "max"}, [0.5, 0.6, 0.55], 3, 0.6),
    ({"patience": 3, "mode": "max"}, [0.5, 0.6, 0.7, 0.8], None, 0.8),
    ({"patience": 2}, [NAN, 1.0, NAN, NAN], 4, 1.0),                    # nan never improves
    ({"patience": 1}, [INF, 2.0], 1, INF),                              # inf is no better than the start
    ({"patience": 2}, [INF, 2.0], None, 2.0),
])
def test_step_sequences(kwargs, values, stop_after, best):
    stopper = EarlyStopping(**kwargs)
    decisions = [stopper.step(v) for v in values]
    expected_stop = decisions.index(True) + 1 if True in decisions else None
    assert expected_stop == stop_after, f"{kwargs} on {values}: stopped after {expected_stop}, expected {stop_after}"
    if stop_after is None:
        assert stopper.best == best
    else:
        fresh = EarlyStopping(**kwargs)
        for v in values[:stop_after]:
            fresh.step(v)
        assert fresh.best == best and fresh.wait >= fresh.patience


@pytest.mark.parametrize("kwargs, fragment", [
    ({"patience": -1}, "patience"),
    ({"patience": 1.5}, "patience"),
    ({"min_delta": -0.1}, "min_delta"),
    ({"mode": "auto"}, "mode"),
])
def test_early_stopping_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        EarlyStopping(**kwargs)


# ----- EarlyStopping inside fit -------------------------------------------------------------------------
def test_early_stopping_stops_at_the_right_epoch():
    train, val = split_loaders()
    scripted = Scripted("val_loss", [0.9, 0.7, 0.6, 0.65, 0.61, 0.62, 0.5, 0.4])
    stopper = EarlyStopping(patience=3)
    trainer = make_trainer()
    history = trainer.fit(train, val, epochs=8, callbacks=[scripted, stopper])
    assert len(history) == 6 and trainer.epoch == 6, "best 0.6 at epoch 3; epochs 4, 5, 6 do not improve"
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (0.6, 3, 6)


def test_early_stopping_restores_the_best_weights():
    train, val = split_loaders()
    snapshots = Snapshots()
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    trainer = make_trainer()
    trainer.fit(train, val, epochs=10, callbacks=[snapshots, Scripted("val_loss", [3, 2, 1, 2, 2, 0, 0, 0, 0, 0]),
                                                  stopper])
    assert stopper.stopped_epoch == 5 and stopper.best_epoch == 3
    final = trainer.model.state_dict()
    assert all(np.array_equal(final[k], snapshots.states[3][k]) for k in final), "weights of epoch 3 restored"
    assert not all(np.array_equal(final[k], snapshots.states[5][k]) for k in final)


def test_early_stopping_without_restore_keeps_the_last_weights():
    train, val = split_loaders()
    snapshots = Snapshots()
    trainer = make_trainer()
    trainer.fit(train, val, epochs=10, callbacks=[snapshots, Scripted("val_loss", [3, 2, 1, 2, 2, 0]),
                                                  EarlyStopping(patience=2)])
    final = trainer.model.state_dict()
    assert all(np.array_equal(final[k], snapshots.states[5][k]) for k in final)


def test_early_stopping_resets_between_fits_and_announces_itself(capsys):
    train, val = split_loaders()
    stopper = EarlyStopping(monitor="train_loss", patience=1)
    trainer = make_trainer(verbose=True)
    trainer.fit(train, epochs=3, callbacks=[Scripted("train_loss", [1, 2, 3]), stopper])
    assert stopper.stopped_epoch == 2 and "early stopping after epoch 2" in capsys.readouterr().err
    trainer.fit(train, epochs=2, callbacks=[Scripted("train_loss", [0, 0, 5, 4, 3]), stopper])
    assert stopper.best == 4 and stopper.stopped_epoch is None, "a new fit starts from scratch"


def test_monitor_missing_from_the_logs():
    train, _ = split_loaders()
    with pytest.raises(KeyError, match="val_loader"):
        make_trainer().fit(train, epochs=1, callbacks=[EarlyStopping()])
    with pytest.raises(KeyError, match="val_loader"):
        make_trainer().fit(train, epochs=1, callbacks=[ModelCheckpoint("never.npz")])


# ----- ModelCheckpoint ----------------------------------------------------------------------------------
def test_checkpoint_saves_only_improvements(tmp_path, monkeypatch):
    train, val = split_loaders()
    trainer = make_trainer()
    saved = []
    original = trainer.save_checkpoint
    monkeypatch.setattr(trainer, "save_checkpoint", lambda path: saved.append(trainer.epoch) or original(path))
    snapshots = Snapshots()
    checkpoint = ModelCheckpoint(tmp_path / "best.npz")
    trainer.fit(train, val, epochs=5, callbacks=[snapshots, Scripted("val_loss", [1.0, 0.5, 0.7, 0.4, 0.6]),
                                                 checkpoint])
    assert saved == [1, 2, 4], "saved when val_loss improved: epochs 1, 2 and 4"
    assert (checkpoint.best, checkpoint.best_epoch) == (0.4, 4)
    state = load_checkpoint(tmp_path / "best.npz", trainer.model)
    assert state["epoch"] == 4 and len(state["history"]) == 4
    restored = trainer.model.state_dict()
    assert all(np.array_equal(restored[k], snapshots.states[4][k]) for k in restored)


def test_checkpoint_mode_max(tmp_path):
    train, val = split_loaders()
    checkpoint = ModelCheckpoint(tmp_path / "best.npz", monitor="val_accuracy", mode="max")
    make_trainer().fit(train, val, epochs=4, callbacks=[Scripted("val_accuracy", [0.5, 0.9, 0.8, 0.9]),
                                                        checkpoint])
    assert checkpoint.best_epoch == 2, "an equal value is not an improvement"


def test_checkpoint_every_epoch_with_a_path_template(tmp_path):
    train, val = split_loaders()
    checkpoint = ModelCheckpoint(str(tmp_path / "run_{epoch:02d}.npz"), save_best_only=False)
    make_trainer().fit(train, val, epochs=3, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_01.npz", "run_02.npz", "run_03.npz"]
    assert checkpoint.last_path == str(tmp_path / "run_03.npz")


def test_save_best_shortcut(tmp_path):
    train, val = split_loaders()
    trainer = make_trainer(save_best=True, checkpoint_path=tmp_path / "best.npz")
    history = trainer.fit(train, val, epochs=4, callbacks=[Scripted("val_loss", [4.0, 1.0, 2.0, 3.0])])
    assert load_checkpoint(tmp_path / "best.npz", trainer.model)["epoch"] == 2
    assert len(history) == 4


def test_save_best_shortcut_without_validation_monitors_train_loss(tmp_path):
    train, _ = split_loaders()
    trainer = make_trainer(save_best=True, checkpoint_path=tmp_path / "best.npz")
    history = trainer.fit(train, epochs=3)
    best_epoch, _ = history.best("train_loss")
    assert load_checkpoint(tmp_path / "best.npz", trainer.model)["epoch"] == best_epoch


def test_a_resumed_run_does_not_overwrite_a_better_checkpoint(tmp_path):
    train, val = split_loaders()
    best, last = tmp_path / "best.npz", tmp_path / "last.npz"
    first = make_trainer()
    first.fit(train, val, epochs=2)
    first.history = History({"epoch": [1, 2], "val_loss": [1.0, 0.1]})  # a run whose best was 0.1
    first.save_checkpoint(last)
    worse = ModelCheckpoint(best)
    make_trainer(seed=3).fit(train, val, epochs=2, resume_from=last,
                             callbacks=[Scripted("val_loss", [0, 0, 0.5, 0.2]), worse])
    assert (worse.best, worse.best_epoch) == (0.1, 2) and not best.exists(), "0.5 and 0.2 do not beat 0.1"
    better = ModelCheckpoint(best)
    resumed = make_trainer(seed=3)
    resumed.fit(train, val, epochs=2, resume_from=last, callbacks=[Scripted("val_loss", [0, 0, 0.5, 0.05]), better])
    assert (better.best, better.best_epoch) == (0.05, 4)
    assert load_checkpoint(best, resumed.model)["epoch"] == 4


def test_checkpoint_mode_is_checked():
    with pytest.raises(ValueError, match="mode"):
        ModelCheckpoint("x.npz", mode="lowest")
