"""Module 19: benchmark_model on a model trained on the real TinyMNIST split, the environment, sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.data import Compose, DataLoader, Normalize, TinyMNIST, ToTensor
from tinytorch.core.layers import Dropout, Flatten, Linear, ReLU, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import Trainer
from tinytorch.systems import benchmarking as B


@pytest.fixture(scope="module")
def tinymnist():
    transform = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    train = TinyMNIST(train=True, transform=transform)
    images, labels = TinyMNIST(train=False, transform=transform).get_batch(np.arange(200))
    return train, (images.data if isinstance(images, Tensor) else images), np.asarray(labels)


@pytest.fixture(scope="module")
def trained(tinymnist):
    train, _, _ = tinymnist
    manual_seed(0)
    model = Sequential(Flatten(), Linear(784, 64), ReLU(), Dropout(0.2), Linear(64, 10))
    loader = DataLoader(train, batch_size=50, shuffle=True, seed=0)
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=3e-3), verbose=False).fit(loader, epochs=2)
    return model


def test_accuracy_on_the_real_test_split_matches_a_hand_count(tinymnist, trained):
    _, images, labels = tinymnist
    for p in trained.parameters():
        p.grad = None  # the training's last gradients
    result = B.benchmark_model(trained.train(), images, labels, batch_size=64, warmup=1, repeats=5)
    trained.eval()
    with no_grad():
        by_hand = trained(Tensor(images)).data.argmax(axis=1)
    assert np.array_equal(result.predictions, by_hand), "eval mode: Dropout off, same argmax as one big batch"
    assert result.accuracy == pytest.approx(float((by_hand == labels).mean()))
    assert result.accuracy > 0.75, f"a trained MLP on TinyMNIST should beat 75%, got {result.accuracy:.1%}"
    assert result.batch_size == 64 and result.latency.samples.size == 5 and result.throughput.samples.size == 5
    assert result.throughput_per_s == pytest.approx(64 / result.throughput.median)
    assert all(p.grad is None for p in trained.parameters()), "benchmarking builds no graph and no gradients"


def test_mode_is_restored_and_labels_are_optional(tinymnist, trained):
    _, images, _ = tinymnist
    trained.train()
    result = B.benchmark_model(trained, images[:37], batch_size=16, warmup=0, repeats=3)
    assert trained.training, "the model goes back to train mode"
    assert result.accuracy is None and result.predictions.shape == (37,), "37 = 2 full batches of 16 and one of 5"
    trained.eval()
    B.benchmark_model(trained, images[:8], batch_size=4, warmup=0, repeats=3)
    assert not trained.training


def test_to_dict_has_what_module_20_reads(tinymnist, trained):
    _, images, labels = tinymnist
    result = B.benchmark_model(trained, images[:50], labels[:50], batch_size=25, warmup=1, repeats=4)
    result.size_bytes = B.weights_size_bytes(trained)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["latency"]["median"] == result.latency.median and data["accuracy"] == result.accuracy
    assert data["latency_ms"]["p50"] == pytest.approx(result.latency.median * 1e3)
    assert data["latency_ms"]["p50"] <= data["latency_ms"]["p90"] <= data["latency_ms"]["p99"]
    assert data["size_bytes"] == result.size_bytes and data["n_samples"] == 50 and len(data["predictions"]) == 50
    assert data["environment"]["numpy"] == np.__version__ and data["peak_memory_mb"] > 0


def test_peak_memory_grows_with_the_batch():
    model = Linear(256, 2048)
    inputs = np.random.default_rng(0).standard_normal((512, 256)).astype(np.float32)
    small = B.benchmark_model(model, inputs, batch_size=32, warmup=0, repeats=3)
    large = B.benchmark_model(model, inputs, batch_size=512, warmup=0, repeats=3)
    output_mb = 512 * 2048 * 4 / 2**20
    assert large.peak_memory_mb >= output_mb, f"the (512, 2048) output alone is {output_mb} MB"
    assert large.peak_memory_mb > 8 * small.peak_memory_mb, (small.peak_memory_mb, large.peak_memory_mb)


def test_weights_size_is_the_npz_of_the_state_dict(trained):
    raw = sum(a.nbytes for a in trained.state_dict().values())
    size = B.weights_size_bytes(trained)
    assert raw < size < raw + 4096, f"an uncompressed npz is the arrays plus small headers: {raw} vs {size}"
    with pytest.raises(TypeError, match="weights_size_bytes: model must be a Module"):
        B.weights_size_bytes(np.zeros(3))


def test_environment_records_the_thread_variables(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = B.capture_environment()
    assert env["threads"]["OPENBLAS_NUM_THREADS"] == "1" and env["threads"]["OMP_NUM_THREADS"] is None
    assert env["logical_cores"] >= 1 and env["python"].count(".") == 2 and env["cpu"]
    assert json.loads(json.dumps(env)) == env


@pytest.mark.parametrize("kwargs, error, message", [
    ({"model": "model"}, TypeError, "benchmark_model: model must be a tinytorch Module, got str"),
    ({"inputs": [[1.0, 2.0]]}, TypeError, "benchmark_model: inputs must be a numpy array"),
    ({"inputs": np.zeros(4, np.float32)}, ValueError, "inputs must have a batch axis"),
    ({"inputs": np.zeros((0, 4), np.float32)}, ValueError, "inputs must have a batch axis"),
    ({"labels": np.zeros(5)}, TypeError, "labels must be an integer numpy array or None, got ndarray of float64"),
    ({"labels": np.zeros(4, np.int64)}, ValueError, r"labels must have one entry per input \(5\), got 4"),
    ({"batch_size": 0}, ValueError, "benchmark_model: batch_size must be an int >= 1, got 0"),
    ({"repeats": 1}, ValueError, "benchmark_model: repeats must be an int >= 3"),
])
def test_bad_input_is_refused_with_the_argument_named(kwargs, error, message):
    call = {"model": Linear(4, 3), "inputs": np.zeros((5, 4), np.float32), "labels": None} | kwargs
    with pytest.raises(error, match=message):
        B.benchmark_model(call.pop("model"), call.pop("inputs"), call.pop("labels"), **call)


def test_a_model_without_class_scores_is_a_clear_error():
    class Sum(Linear):
        def forward(self, x):
            return super().forward(x).sum(axis=1)

    with pytest.raises(ValueError, match=r"must return scores \(batch, ..., classes\)"):
        B.benchmark_model(Sum(4, 3), np.zeros((5, 4), np.float32), warmup=0, repeats=3)
