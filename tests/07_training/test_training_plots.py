"""Module 07 plots: PNG files when matplotlib is installed, a clear install message when it is not."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from training_helpers import make_trainer, split_loaders

from tinytorch.core.training import History, plot_confusion_matrix, plot_training_history

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def history():
    train, val = split_loaders()
    return make_trainer(scheduler="step").fit(train, val, epochs=3)


def test_history_plot_is_a_png(tmp_path, history):
    pytest.importorskip("matplotlib")
    path = tmp_path / "history.png"
    assert plot_training_history(history, path) == str(path)
    assert path.read_bytes().startswith(PNG)
    assert [p.name for p in tmp_path.iterdir()] == ["history.png"], "written atomically: no temporary file left"


def test_history_plot_from_a_plain_dict(tmp_path):
    pytest.importorskip("matplotlib")
    columns = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_f1": [0.2, 0.4], "lr": [0.1, 0.1]}
    path = plot_training_history(columns, tmp_path / "dict.png")
    assert open(path, "rb").read(8) == PNG


def test_confusion_matrix_plot(tmp_path):
    pytest.importorskip("matplotlib")
    cm = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
    for normalize in (False, True):
        path = tmp_path / f"cm_{normalize}.png"
        plot_confusion_matrix(cm, path, class_names=["cat", "dog", "fox"], normalize=normalize)
        assert path.read_bytes().startswith(PNG)
    plot_confusion_matrix(np.zeros((2, 2), np.int64), tmp_path / "empty.png")  # an empty row is fine


@pytest.mark.parametrize("cm, names, fragment", [
    (np.zeros((2, 3)), None, "square"),
    (np.zeros(4), None, "square"),
    (np.zeros((2, 2)), ["only one"], "class_names"),
])
def test_confusion_matrix_plot_checks_its_input(tmp_path, cm, names, fragment):
    with pytest.raises(ValueError, match=fragment):
        plot_confusion_matrix(cm, tmp_path / "x.png", class_names=names)


def test_empty_history(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        plot_training_history(History(), tmp_path / "x.png")


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make every `import matplotlib...` fail, as on a machine without it."""
    for name in [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)


def test_without_matplotlib_the_message_says_how_to_install_it(tmp_path, history, no_matplotlib):
    with pytest.raises(ImportError, match=r"pip install -e \.\[plot\]") as error:
        plot_training_history(history, tmp_path / "h.png")
    assert "plot_training_history needs matplotlib" in str(error.value)
    with pytest.raises(ImportError, match=r"plot_confusion_matrix needs matplotlib.*\.\[plot\]"):
        plot_confusion_matrix(np.eye(2), tmp_path / "cm.png")
    assert list(tmp_path.iterdir()) == []
