"""Small data, a stand-in loader and model factories shared by the module 07 tests.

Module 07 comes before module 08 (DataLoader), so these tests feed the Trainer from `Loader`, a
minimal iterable of (inputs, targets) batches. With shuffle=True it draws each epoch's order
from its own generator if given one, else from TinyTorch's default generator, like DataLoader.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.layers import Dropout, Linear, Module, ReLU, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam, StepLR
from tinytorch.core.tensor import Tensor, default_generator, is_grad_enabled, manual_seed
from tinytorch.core.training import Callback, Trainer


class Loader:
    def __init__(self, inputs, targets, batch_size=16, shuffle=False, generator=None):
        self.inputs, self.targets = np.asarray(inputs), np.asarray(targets)
        self.batch_size, self.shuffle, self.generator = batch_size, shuffle, generator

    def __len__(self):
        return -(-len(self.inputs) // self.batch_size)

    def __iter__(self):
        n = len(self.inputs)
        if self.shuffle:
            order = (self.generator or default_generator()).permutation(n)
        else:
            order = np.arange(n)
        for start in range(0, n, self.batch_size):
            chosen = order[start:start + self.batch_size]
            yield Tensor(self.inputs[chosen]), Tensor(self.targets[chosen])


def blobs(n=240, classes=3, features=4, spread=0.6, seed=0):
    """Well separated Gaussian clusters: float32 inputs (n, features), int64 labels (n,)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (classes, features))
    labels = rng.integers(0, classes, n)
    inputs = centers[labels] + rng.normal(0, spread, (n, features))
    return inputs.astype(np.float32), labels.astype(np.int64)


def split_loaders(n=240, batch_size=16, seed=0, **kwargs):
    x, y = blobs(n, seed=seed, **kwargs)
    cut = n * 3 // 4
    return Loader(x[:cut], y[:cut], batch_size, shuffle=True), Loader(x[cut:], y[cut:], 32)


def mlp(features=4, hidden=16, classes=3, seed=0, dropout=0.0):
    manual_seed(seed)
    layers = [Linear(features, hidden), ReLU()]
    if dropout:
        layers.append(Dropout(dropout))
    return Sequential(*layers, Linear(hidden, classes))


def make_trainer(seed=0, optimizer="sgd", lr=0.1, scheduler=None, dropout=0.0, **kwargs):
    """A Trainer for blobs(): MLP 4-16-3, cross-entropy, SGD with momentum or Adam, quiet by default."""
    model = mlp(seed=seed, dropout=dropout)
    if optimizer == "sgd":
        opt = SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        opt = Adam(model.parameters(), lr=lr)
    sched = StepLR(opt, step_size=1, gamma=0.5) if scheduler == "step" else None
    kwargs.setdefault("verbose", False)
    return Trainer(model, CrossEntropyLoss(), opt, scheduler=sched, **kwargs)


class Probe(Module):
    """Wraps a model and records (training mode, grad recording) at every forward call."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, is_grad_enabled()))
        return self.inner(x)


class Scripted(Callback):
    """Overwrites one value of each epoch's logs with the next value of a fixed sequence."""

    def __init__(self, key, values):
        self.key, self.values = key, list(values)

    def on_epoch_end(self, trainer, epoch, logs):
        logs[self.key] = self.values[epoch - 1]


class Snapshots(Callback):
    """Keeps a copy of the model's weights at the end of every epoch: epoch -> state_dict."""

    def __init__(self):
        self.states = {}

    def on_epoch_end(self, trainer, epoch, logs):
        self.states[epoch] = trainer.model.state_dict()


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)


__all__ = ["Loader", "blobs", "split_loaders", "mlp", "make_trainer", "Probe", "Scripted", "Snapshots",
           "same_weights", "SGD", "Adam", "StepLR", "CrossEntropyLoss", "Linear", "ReLU", "Sequential",
           "Tensor", "manual_seed", "default_generator"]
