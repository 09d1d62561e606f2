"""The course's north-star snippet (README / issue 8), run as printed on a synthetic CIFAR-10 archive in the
official binary format: without Flatten() it fails with an error that names the shapes and the fix; with
Flatten() added (and fewer epochs) it trains, checkpoints, evaluates and plots."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

import tinytorch.core.data as D
from tinytorch.core.tensor import manual_seed

TESTS = Path(__file__).resolve().parents[1]

SNIPPET = textwrap.dedent("""
    from tinytorch.core.tensor import Tensor
    from tinytorch.core.networks import Sequential
    from tinytorch.core.layers import Dense
    from tinytorch.core.spatial import Conv2D
    from tinytorch.core.activations import ReLU
    from tinytorch.core.dataloader import CIFAR10Dataset, DataLoader
    from tinytorch.core.training import Trainer, CrossEntropyLoss, Accuracy
    from tinytorch.core.optimizers import Adam
    dataset = CIFAR10Dataset(download=True, flatten=False)
    train_loader = DataLoader(dataset.train_data, dataset.train_labels, batch_size=32)
    test_loader = DataLoader(dataset.test_data, dataset.test_labels, batch_size=32)
    model = Sequential([Conv2D(3, 32, kernel_size=3), ReLU(), Conv2D(32, 64, kernel_size=3), ReLU(),
                        Dense(64 * 28 * 28, 128), ReLU(), Dense(128, 10)])
    trainer = Trainer(model, CrossEntropyLoss(), Adam(lr=0.001), [Accuracy()])
    history = trainer.fit(train_loader, val_dataloader=test_loader, epochs=30, save_best=True,
                          checkpoint_path='best_model.pkl')
    from tinytorch.core.training import evaluate_model, plot_training_history
    results = evaluate_model(model, test_loader)
    print(f"Test Accuracy: {results['accuracy']:.2%}")
    plot_training_history(history)
""")

EDITS = [("from tinytorch.core.layers import Dense", "from tinytorch.core.layers import Dense, Flatten"),
         ("ReLU(),\n" + " " * 20 + "Dense(64 * 28 * 28", "ReLU(), Flatten(),\n" + " " * 20 + "Dense(64 * 28 * 28"),
         ("epochs=30", "epochs=2")]
WITH_FLATTEN = SNIPPET
for old, new in EDITS:
    WITH_FLATTEN = WITH_FLATTEN.replace(old, new)


def _cifar_builder():
    """Module 08's test helper that writes CIFAR-10 archives in the official layout (reused, not copied)."""
    spec = importlib.util.spec_from_file_location("data_test_helpers", TESTS / "08_data" / "conftest.py")
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return helpers.cifar_like


@pytest.fixture
def synthetic_cifar(tmp_path, monkeypatch):
    """TINYTORCH_DATA with a small binary CIFAR-10 archive whose checksum the dataset table accepts."""
    cifar = _cifar_builder()("binary", per_batch=4, seed=3)
    (tmp_path / "data" / "cifar10").mkdir(parents=True)
    (tmp_path / "data" / "cifar10" / cifar.filename).write_bytes(cifar.archive)
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(D.CIFAR10, "resources", (cifar.resource,))
    monkeypatch.setattr(D, "_open_url", lambda *args: pytest.fail("the snippet must not download anything here"))
    monkeypatch.chdir(tmp_path)
    return cifar


@pytest.mark.filterwarnings("ignore:ModelCheckpoint")
def test_the_snippet_as_printed_teaches_the_missing_flatten(synthetic_cifar):
    assert "Flatten" not in SNIPPET
    with pytest.raises(ValueError) as caught:
        exec(compile(SNIPPET, "north_star.py", "exec"), {})
    message = str(caught.value)
    for piece in ("(20, 64, 28, 28)", "50176", "64 * 28 * 28", "Flatten()"):
        assert piece in message, f"the error should mention {piece!r}:\n{message}"


def test_with_flatten_the_snippet_trains_checkpoints_evaluates_and_plots(synthetic_cifar, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert WITH_FLATTEN.count("Flatten()") == 1 and "epochs=2" in WITH_FLATTEN
    manual_seed(0)  # the snippet draws its initial weights from the global generator; fix where it starts
    namespace: dict = {}
    with pytest.warns(UserWarning, match="'best_model.pkl' will hold TinyTorch's pickle-free checkpoint format"):
        exec(compile(WITH_FLATTEN, "north_star.py", "exec"), namespace)
    dataset, history = namespace["dataset"], namespace["history"]
    assert dataset.train_data.shape == (20, 3, 32, 32) and dataset.test_data.shape == (4, 3, 32, 32)
    assert dataset.train_data.dtype.name == "float32" and 0 <= dataset.train_data.min() <= dataset.train_data.max() <= 1
    assert history["train_loss"][-1] < history["train_loss"][0], "two epochs on 20 images must lower the loss"
    assert (tmp_path / "best_model.pkl").read_bytes()[:2] == b"PK", "the checkpoint is an .npz, not a pickle"
    assert (tmp_path / "training_history.png").is_file()
    out = capsys.readouterr().out
    assert "Test Accuracy: " in out and "%" in out
    assert 0.0 <= namespace["results"]["accuracy"] <= 1.0


def test_flatten_true_gives_rows_of_3072(synthetic_cifar):
    from tinytorch.core.dataloader import CIFAR10Dataset

    flat = CIFAR10Dataset(flatten=True, download=False)
    assert flat.train_data.shape == (20, 3072) and flat.train_labels.shape == (20,)
    assert flat.test_labels.dtype.kind == "i"
    assert "CIFAR10Dataset(train (20, 3072)" in repr(flat)
    with pytest.raises(TypeError, match="flatten must be True or False"):
        CIFAR10Dataset(flatten="yes")
