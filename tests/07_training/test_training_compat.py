"""Module 07 with the course text's spelling: an optimizer made without parameters that the Trainer binds,
Accuracy(), fit(val_dataloader=..., save_best=..., checkpoint_path=...) with any suffix, a default plot path,
CrossEntropyLoss importable from core.training; and checkpoints of models with 0-d buffers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from training_helpers import Linear, Loader, ReLU, Sequential, blobs, mlp, split_loaders

from tinytorch.core import losses
from tinytorch.core.layers import Module
from tinytorch.core.optimizers import SGD, Adam, AdamW, RMSprop
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import (
    Accuracy,
    CrossEntropyLoss,
    Trainer,
    accuracy,
    load_checkpoint,
    plot_training_history,
    save_checkpoint,
)


@pytest.mark.parametrize("make", [lambda: Adam(lr=0.01), lambda: SGD(lr=0.1, momentum=0.9), lambda: AdamW(),
                                  lambda: RMSprop(lr=0.01)])
def test_an_optimizer_made_without_parameters_is_bound_by_the_trainer(make):
    optimizer = make()
    assert optimizer.param_groups == []
    model = mlp()
    trainer = Trainer(model, CrossEntropyLoss(), optimizer, verbose=False)
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [id(p) for p in model.parameters()]
    train, val = split_loaders()
    history = trainer.fit(train, val_dataloader=val, epochs=3)
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_the_unbound_optimizer_trains_exactly_like_a_bound_one():
    train, _ = split_loaders()
    runs = []
    for bound in (True, False):
        model = mlp(seed=3)
        optimizer = Adam(model.parameters(), lr=0.01) if bound else Adam(lr=0.01)
        manual_seed(0)
        Trainer(model, CrossEntropyLoss(), optimizer, verbose=False).fit(train, epochs=2)
        runs.append(model.state_dict())
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_stepping_an_unbound_optimizer_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"no parameters yet.*Adam\(model.parameters\(\), ...\).*Trainer"):
        Adam(lr=1e-3).step()


def test_accuracy_metric_object_is_logged_as_accuracy():
    metric = Accuracy()
    scores, labels = Tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]), Tensor(np.array([0, 1, 1]))
    assert metric(scores, labels) == accuracy(scores, labels) == pytest.approx(2 / 3)
    assert repr(Accuracy(0.0)) == "Accuracy(threshold=0.0)"
    train, val = split_loaders()
    model = mlp()
    history = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), [Accuracy()],
                      verbose=False).fit(train, val_dataloader=val, epochs=1)
    assert "train_accuracy" in history and "val_accuracy" in history
    with pytest.raises(TypeError, match="threshold"):
        Accuracy("0.5")


def test_cross_entropy_is_importable_from_training():
    assert CrossEntropyLoss is losses.CrossEntropyLoss


def test_val_loader_and_val_dataloader_together_is_an_error():
    train, val = split_loaders()
    model = mlp()
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), verbose=False)
    with pytest.raises(TypeError, match="not both"):
        trainer.fit(train, val, val_dataloader=val)


def test_save_best_with_a_pkl_suffix_writes_the_pickle_free_format_and_says_so(tmp_path):
    train, val = split_loaders()
    model = mlp()
    trainer = Trainer(model, CrossEntropyLoss(), Adam(lr=0.01), [Accuracy()], verbose=False)
    path = tmp_path / "best_model.pkl"
    with pytest.warns(UserWarning, match="pickle-free checkpoint format.*whatever its suffix"):
        trainer.fit(train, val_dataloader=val, epochs=2, save_best=True, checkpoint_path=str(path))
    assert path.read_bytes()[:2] == b"PK", "an .npz (zip) archive, not a pickle"
    with np.load(path, allow_pickle=False) as archive:
        assert "__tinytorch_checkpoint__" in archive.files
    fresh = mlp(seed=9)
    load_checkpoint(path, fresh)
    best = int(np.argmin(trainer.history["val_loss"]))
    assert best >= 0 and all(np.isfinite(trainer.history["val_loss"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an .npz path gets no note
        trainer.fit(train, val_dataloader=val, epochs=1, save_best=True, checkpoint_path=str(tmp_path / "b.npz"))


def test_fit_save_best_needs_a_path():
    train, _ = split_loaders()
    model = mlp()
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), verbose=False)
    with pytest.raises(ValueError, match="checkpoint_path"):
        trainer.fit(train, epochs=1, save_best=True)


def test_plot_training_history_without_a_path(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    train, val = split_loaders()
    model = mlp()
    history = Trainer(model, CrossEntropyLoss(), Adam(lr=0.01), verbose=False).fit(train, val, epochs=2)
    path = plot_training_history(history)
    assert path == "training_history.png" and (tmp_path / path).read_bytes()[:4] == b"\x89PNG"
    assert "training_history.png" in capsys.readouterr().out


class WithCounter(Module):
    """A 0-d integer buffer, like BatchNorm's num_batches_tracked."""

    def __init__(self):
        super().__init__()
        self.fc = Linear(4, 3)
        self.register_buffer("steps", Tensor(np.array(5, dtype=np.int64)))

    def forward(self, x):
        return self.fc(x)


def test_a_checkpoint_keeps_0d_buffers_0d(tmp_path):
    source, target = WithCounter(), WithCounter()
    target.steps.data[...] = 0
    save_checkpoint(tmp_path / "c.npz", source)
    load_checkpoint(tmp_path / "c.npz", target)
    assert target.steps.shape == () and target.steps.item() == 5


def test_blobs_model_still_trains_from_a_list_sequential():
    x, y = blobs()
    model = Sequential([Linear(4, 16), ReLU(), Linear(16, 3)])
    trainer = Trainer(model, CrossEntropyLoss(), Adam(lr=0.05), [Accuracy()], verbose=False)
    history = trainer.fit(Loader(x, y, 32, shuffle=True), epochs=5)
    assert history["train_accuracy"][-1] > 0.9
