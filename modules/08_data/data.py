# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 08 — Data: datasets, loaders, transforms and real images
#
# A model is only as good as the data it sees, and a training loop spends a surprising share of its
# time just *getting* that data: reading files, picking samples, converting pixels, augmenting
# images, stacking them into batches. This module builds that machinery — PyTorch's
# `Dataset`/`DataLoader` and torchvision's transforms and datasets — so that the training loops of
# the next modules can be written the way PyTorch users write them:
#
# ```python
# train = MNIST(train=True, transform=Compose([ToTensor(), Normalize((0.1307,), (0.3081,))]))
# loader = DataLoader(train, batch_size=128, shuffle=True)
# for epoch in range(5):
#     for images, labels in loader:          # (128, 1, 28, 28) float32, (128,) int64
#         ...
# ```
#
# ## Learning objectives
#
# By the end of this module you will be able to:
#
# 1. Explain **why** we train on shuffled mini-batches, one epoch after another.
# 2. Write a `Dataset` (`TensorDataset`) and a `DataLoader` that batches, shuffles reproducibly
#    (a fresh permutation every epoch), drops a short last batch on request and **collates**
#    samples into Tensors.
# 3. Make the loader fast: fetch a whole batch with one **vectorized** indexing operation instead of
#    a Python loop over samples.
# 4. Store images as **uint8** and convert per batch; measure what float32 would cost.
# 5. Write **vectorized augmentation**: random flips and padded random crops for a whole batch with
#    no loop over images (`sliding_window_view` + fancy indexing).
# 6. Parse the **IDX** file format of MNIST and Fashion-MNIST from raw bytes.
# 7. Understand how real datasets reach your disk safely: mirrors, **checksums**, resumable and
#    **atomic** downloads, safe archive extraction, and why CIFAR-10's pickles must not be
#    unpickled naively.
# 8. Read PyTorch's `.pt` weight files with the same restricted unpickler: tensors rebuilt from raw
#    storages, and nothing in the file executed.
#
# **Prerequisites:** module 01 (`Tensor`, `default_generator`). **Exports to:**
# `tinytorch/core/data.py`, re-exported as `tinytorch.data`.
#
# Everything here runs offline: the module uses the small datasets shipped in the repository's
# `datasets/` folder, and the real datasets only when you ask for them.

# %%
#| default_exp core.data

# %%
#| export
from __future__ import annotations

import gzip
import hashlib
import http.client
import inspect
import io
import math
import numbers
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.core.tensor import Tensor, default_generator
from tinytorch.core.training import SerializationError

# %% [markdown]
# ## 1. Batches, shuffling, epochs
#
# Training follows the gradient of the loss averaged over the *whole* training set. Computing it
# exactly for every step would be too slow (60,000 images for one small step), and computing it
# from one sample at a time wastes the machine: a `(1, 784) @ (784, 256)` matmul cannot keep a
# BLAS library busy, and the Python overhead per step dominates. The compromise is the
# **mini-batch**: a random handful of B samples (32 to 512 is typical).
#
# - The batch gradient is an *unbiased estimate* of the full gradient; its noise shrinks like
#   `1/sqrt(B)`. Some noise is even welcome: it helps escape sharp minima.
# - A batch is one matrix: `(B, 784) @ (784, 256)` runs at full BLAS speed, so a batch of 128
#   costs far less than 128 single steps.
# - Memory grows with B (activations are kept for backward), so B is bounded by what fits.
#
# An **epoch** is one pass over the training set in batches. **Shuffling** matters because the
# estimate is only unbiased if every batch is a random sample. Files are often *sorted* (by class,
# by source, by date): fed in file order, a model first sees only zeros, learns "everything is a
# zero", then only ones... A fresh random permutation at the start of every epoch gives different
# batches each epoch and no order to overfit to.
#
# ```
#   Dataset            sampler               fetch + transform              collate
#  ┌─────────┐   epoch order: a new    ┌───────────────────────┐   ┌──────────────────────┐
#  │ ds[i]   │   permutation of 0..N-1 │ images[idx] (one gather)│   │ Tensor (B, 1, 28, 28)│
#  │ len(ds) │ ─► [7, 2, 9 | 4, 0, 5 │ ─►│ ToTensor, Normalize,  │ ─►│ Tensor (B,) int64    │ ─► model
#  └─────────┘    | 1, 8, 3 | 6]       │ flips, crops (batched)  │   └──────────────────────┘
#                  batch_size = 3      └───────────────────────┘
#                  last batch of 1: kept, or dropped with drop_last=True
# ```
#
# PyTorch splits this into `Dataset` (what a sample is), `Sampler` (which indices, in which order),
# `DataLoader` (batches and collation) and torchvision's `transforms`. We follow the same split,
# with one systems twist: a dataset that can fetch many samples at once offers `get_batch(indices)`
# and the loader uses it, so a batch costs one NumPy gather instead of B Python calls. (Recent
# PyTorch has the same hook under the name `__getitems__`.)

# %% [markdown]
# ## 2. Dataset and TensorDataset
#
# A **map-style dataset** is anything with `len(ds)` and `ds[i]`. `Dataset` is the base class that
# says so; subclasses fill in the two methods.
#
# `TensorDataset(*tensors)` is the simplest real dataset: tensors that share their first dimension,
# sample `i` being row `i` of each. `TensorDataset(X, y)[3]` is `(X[3], y[3])`. It is what you use
# for data that already sits in memory, like XOR or a regression table.
#
# It also gets the fast path: `get_batch(indices)` returns `(X[indices], y[indices])` — one fancy
# indexing operation per tensor, whatever the batch size.

# %%
#| export
class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i]` the i-th sample (for example (image, label)).

    Subclasses implement __getitem__ and __len__. A dataset that can gather many samples at once
    may also define `get_batch(indices)`, returning each field of the whole batch as one array or
    Tensor whose first axis has len(indices) entries; DataLoader then uses it instead of a Python
    loop over samples.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__()")


class TensorDataset(Dataset):
    """Rows of tensors that share their first dimension: ds[i] = (t0[i], t1[i], ...).

    Accepts Tensors or ndarrays (wrapped without copying). Shapes: (N, ...) each -> samples of (...).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor, got none")
        wrapped = []
        for position, t in enumerate(tensors):
            if isinstance(t, np.ndarray):
                t = Tensor(t)
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {position} must be a Tensor or ndarray, "
                                f"got {type(t).__name__}")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {position} is a 0-d tensor; every tensor "
                                 "needs a first dimension that indexes the samples")
            wrapped.append(t)
        # Hint: every tensor's first dimension must equal the first tensor's. Raise ValueError
        #       naming both lengths and the argument's position when one differs (a classic bug:
        #       12 images but 10 labels). Then keep the tuple in self.tensors.
        ### BEGIN SOLUTION
        rows = wrapped[0].shape[0]
        for position, t in enumerate(wrapped[1:], start=1):
            if t.shape[0] != rows:
                raise ValueError(f"TensorDataset: size mismatch between tensors: tensor 0 has {rows} "
                                 f"rows but tensor {position} has {t.shape[0]}; every tensor must "
                                 "have one row per sample")
        self.tensors = tuple(wrapped)
        ### END SOLUTION

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        """(t0[index], t1[index], ...) as Tensors (rows are views of the stored data, like PyTorch)."""
        # Hint: index each tensor's .data array and wrap the result in a Tensor, so no graph
        #       is recorded for data loading.
        ### BEGIN SOLUTION
        return tuple(Tensor(t.data[index]) for t in self.tensors)
        ### END SOLUTION

    def get_batch(self, indices):
        """The samples at `indices` (an int array), stacked: a tuple of Tensors of shape (B, ...)."""
        # Hint: the same as __getitem__, but with an integer array: NumPy gathers all rows at once.
        ### BEGIN SOLUTION
        rows = np.asarray(indices, dtype=np.int64)
        return tuple(Tensor(t.data[rows]) for t in self.tensors)
        ### END SOLUTION

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorDataset({len(self)} samples; tensors {shapes})"

# %%
#| test
def test_unit_tensor_dataset():
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    y = np.array([0, 1, 0, 1, 1, 0])
    ds = TensorDataset(Tensor(x), Tensor(y))
    assert len(ds) == 6, f"len(TensorDataset) should be the number of rows, 6, got {len(ds)}"
    sample = ds[2]
    assert isinstance(sample, tuple) and len(sample) == 2, (
        f"ds[2] should be a tuple (x[2], y[2]), got {type(sample).__name__} of length {len(sample)}")
    assert isinstance(sample[0], Tensor) and np.array_equal(sample[0].data, x[2]), (
        f"ds[2][0] should be the Tensor x[2] = {x[2]}, got {sample[0]!r}")
    assert sample[1].shape == () and sample[1].item() == 0, "ds[2][1] should be the 0-d label tensor y[2]"
    assert np.array_equal(ds[-1][0].data, x[-1]), "negative indices count from the end, like lists"
    batch = ds.get_batch(np.array([4, 0, 5]))
    assert np.array_equal(batch[0].data, x[[4, 0, 5]]) and np.array_equal(batch[1].data, y[[4, 0, 5]]), (
        "get_batch([4, 0, 5]) should return (x[[4, 0, 5]], y[[4, 0, 5]]) gathered in one step")
    assert TensorDataset(x)[1][0].shape == (4,), "ndarrays are accepted and wrapped in Tensors"
    try:
        TensorDataset(Tensor(np.zeros((12, 3))), Tensor(np.zeros(10)))
    except ValueError as error:
        assert "12" in str(error) and "10" in str(error), (
            f"the size-mismatch error should name both lengths (12 and 10), got: {error}")
    else:
        raise AssertionError("TensorDataset with 12 rows and 10 labels should raise ValueError")
    print("✅ TensorDataset: len, indexing, vectorized get_batch, size-mismatch error")


test_unit_tensor_dataset()

# %% [markdown]
# ## 3. Collating: from a list of samples to a batch
#
# Without a batch path, the loader calls `ds[i]` for each index and gets a list of samples, for
# example `[(image0, 3), (image1, 7), ...]`. **Collating** turns that list into the batch the
# model wants: one tensor of all images, one tensor of all labels. PyTorch's `default_collate`
# rules, which we copy:
#
# | each sample is | the batch is |
# |---|---|
# | a Tensor or ndarray of shape S | a Tensor of shape (B, *S), same dtype (all shapes must match) |
# | a Python int | an int64 Tensor (B,) — labels |
# | a Python float | a float64 Tensor (B,) (PyTorch's choice; cast if you need float32) |
# | a bool | a bool Tensor (B,) |
# | a str | the list of strings |
# | a tuple/list of fields | a list with each field collated (so `images, labels = batch` works) |
# | a dict | a dict with each key collated |
#
# A custom `collate_fn` receives the same list of samples and may build anything it likes.
# The batch path skips collation: `get_batch` already returns stacked arrays, which only need
# wrapping in Tensors. Both paths must give the same batch for the same indices; a test checks it.

# %%
#| export
def _stack_arrays(arrays: list, where: str) -> np.ndarray:
    first = arrays[0].shape
    for position, array in enumerate(arrays):
        if array.shape != first:
            raise ValueError(f"{where}: cannot stack samples of different shapes: sample 0 has shape "
                             f"{first} but sample {position} has shape {array.shape}; resize or crop "
                             "them to one size (a transform), or pass your own collate_fn")
    return np.stack(arrays)


def default_collate(batch: list):
    """Merge a list of samples into a batch, following PyTorch's default_collate.

    Tensors/ndarrays of shape S -> Tensor (B, *S); ints -> int64 (B,); floats -> float64 (B,);
    bools -> bool (B,); strings -> list; tuples/lists -> list of collated fields; dicts -> dict.
    """
    return _collate(batch, "default_collate")


def _collate(batch, where: str):
    if not isinstance(batch, (list, tuple)):
        raise TypeError(f"{where}: expected a list of samples, got {type(batch).__name__}")
    if len(batch) == 0:
        raise ValueError(f"{where}: expected a non-empty list of samples, got an empty one")
    first = batch[0]
    if isinstance(first, Tensor):
        if not all(isinstance(sample, Tensor) for sample in batch):
            kinds = sorted({type(sample).__name__ for sample in batch})
            raise TypeError(f"{where}: samples mix Tensors with other types: {kinds}")
        return Tensor(_stack_arrays([sample.data for sample in batch], where))
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor(_stack_arrays([np.asarray(sample) for sample in batch], where))
    if isinstance(first, bool) and all(isinstance(s, bool) for s in batch):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, numbers.Integral) and all(isinstance(s, numbers.Integral) for s in batch):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real) and all(isinstance(s, numbers.Real) for s in batch):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, Mapping):
        keys = set(first)
        for position, sample in enumerate(batch):
            if not isinstance(sample, Mapping) or set(sample) != keys:
                found = f"a dict with keys {sorted(sample)}" if isinstance(sample, Mapping) else type(sample).__name__
                raise ValueError(f"{where}: sample 0 is a dict with keys {sorted(keys)} but sample "
                                 f"{position} is {found}")
        return {key: _collate([sample[key] for sample in batch], f"{where}[{key!r}]") for key in first}
    if isinstance(first, Sequence):
        for position, sample in enumerate(batch):
            if not isinstance(sample, Sequence) or isinstance(sample, str) or len(sample) != len(first):
                found = len(sample) if isinstance(sample, Sequence) else type(sample).__name__
                raise ValueError(f"{where}: each sample must have the same number of fields: sample 0 "
                                 f"has {len(first)} but sample {position} has {found}")
        fields = [_collate([sample[i] for sample in batch], f"{where}[field {i}]") for i in range(len(first))]
        return type(first)(*fields) if hasattr(first, "_fields") else fields  # namedtuples keep their type
    raise TypeError(f"{where}: samples must be Tensors, ndarrays, numbers, strings, or tuples/lists/dicts "
                    f"of them; got {type(first).__name__}")


def _batch_to_tensors(fields, where: str = "get_batch"):
    """What a dataset's get_batch returned, shaped like default_collate's output (Tensors, lists)."""
    if isinstance(fields, Tensor):
        return fields
    if isinstance(fields, np.ndarray):
        return Tensor(fields)
    if isinstance(fields, Mapping):
        return {key: _batch_to_tensors(value, where) for key, value in fields.items()}
    if isinstance(fields, (tuple, list)):
        return [_batch_to_tensors(value, where) for value in fields]
    raise TypeError(f"{where} must return arrays or Tensors (or a tuple, list or dict of them), "
                    f"got {type(fields).__name__}")

# %% [markdown]
# ## 4. DataLoader
#
# `DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
# generator=None, seed=None)` — PyTorch's signature, minus worker processes, plus `seed` as a
# shortcut for "my own generator seeded with this". (`num_workers=` and `pin_memory=` are accepted,
# so PyTorch scripts run unchanged, and change nothing: every batch is built in this process.)
#
# - `len(loader)` is the number of batches: `ceil(N / B)`, or `floor(N / B)` with `drop_last`.
# - Each `iter(loader)` is one epoch. With `shuffle=True` it draws a **new permutation** of
#   `0..N-1` from the generator, so epochs differ, yet a fixed seed reproduces the whole run
#   (the cell after the test prints this for a 10-sample dataset):
#
# ```
#   DataLoader(ds, batch_size=4, shuffle=True, seed=0)
#   epoch 1: [a b c d | e f g h | i j]      one permutation, cut into batches of 4
#   epoch 2: [another permutation ...]      a fresh draw from the same generator
#   a new loader with seed=0                ->  the same two epochs again
# ```
#
# - Without `generator` or `seed`, shuffling uses the global generator, so `manual_seed(0)` at the
#   top of a script makes the data order repeatable along with the weight initialisation.
#
# - Arrays in place of a dataset: `DataLoader(images, labels, batch_size=32)` (the spelling of the
#   course's first chapters) wraps them in `TensorDataset(images, labels)` first. An int in second
#   place is PyTorch's positional `batch_size`, as in `DataLoader(ds, 64, True)`.
#
# The loader picks its fetch path once, in the constructor: the **batch path** when the dataset
# has `get_batch` and no custom `collate_fn` was given (a custom collate is promised the list of
# samples, so then we must build that list), otherwise the **per-sample path**. Bad arguments are
# caught here too, at the API boundary, with messages that say what was expected.

# %%
#| export
def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"DataLoader: {name} must be True or False, got {value!r}")
    return bool(value)


class DataLoader:
    """Batches of a dataset, one epoch per iteration (PyTorch's DataLoader without workers).

    DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
    generator=None, seed=None). With shuffle=True each epoch uses a fresh permutation drawn from
    `generator` (an np.random.Generator), from a private generator seeded with `seed`, or from
    the global default generator (so manual_seed makes the order repeatable).
    DataLoader(inputs, targets, batch_size=...) with arrays or Tensors batches TensorDataset(inputs, targets).
    num_workers and pin_memory are accepted for PyTorch scripts: every batch is built in this
    process (the batches are the same; worker processes would only overlap loading with compute).
    """

    def __init__(self, dataset, *arrays, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 generator=None, seed=None, num_workers=0, pin_memory=False):
        if arrays and not isinstance(arrays[0], (np.ndarray, Tensor)):  # PyTorch's (ds, batch_size, shuffle, ...)
            if len(arrays) > 3:
                raise TypeError(f"DataLoader: at most (dataset, batch_size, shuffle, drop_last) positionally, "
                                f"got {1 + len(arrays)} positional arguments")
            batch_size, shuffle, drop_last = (arrays + (batch_size, shuffle, drop_last)[len(arrays):])
            arrays = ()
        elif not all(isinstance(a, (np.ndarray, Tensor)) for a in arrays):
            raise TypeError("DataLoader(inputs, targets, ...): the positional arguments after the first must all be "
                            "arrays or Tensors; pass batch_size=..., shuffle=... by name")
        if arrays or isinstance(dataset, (np.ndarray, Tensor)):
            dataset = TensorDataset(dataset, *arrays)
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: dataset must support len() and [index] (a Dataset), got "
                            f"{type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader: batch_size must be a positive int, got {batch_size!r} "
                            f"({type(batch_size).__name__})")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
        self.shuffle = _check_flag(shuffle, "shuffle")
        self.drop_last = _check_flag(drop_last, "drop_last")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable (it receives the list of samples "
                            f"of one batch), got {type(collate_fn).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")
        _check_flag(pin_memory, "pin_memory")
        self.num_workers = int(num_workers)  # accepted from PyTorch scripts; batches are built in this process
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass generator or seed, not both")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator "
                            f"(np.random.default_rng(seed)), got {type(generator).__name__}")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
            generator = np.random.default_rng(int(seed))
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.generator = generator
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self._batched = collate_fn is None and callable(getattr(dataset, "get_batch", None))
        self._dataset_length()  # an empty dataset is an error now, not a silent empty epoch later

    def _dataset_length(self) -> int:
        n = len(self.dataset)
        if n == 0:
            raise ValueError(f"DataLoader: the dataset {type(self.dataset).__name__} is empty "
                             "(len 0); there is nothing to load")
        return n

    def __len__(self) -> int:
        n = self._dataset_length()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _epoch_indices(self) -> np.ndarray:
        """The sample order of one epoch: 0..N-1, or a fresh permutation when shuffling."""
        n = self._dataset_length()
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator if self.generator is not None else default_generator()
        return rng.permutation(n)

    def __iter__(self):
        """Yield the batches of one epoch, in order.

        Each batch is what the fetch path builds for the next batch_size indices of the epoch's
        order; the last, shorter batch is skipped when drop_last is set.
        """
        # Hint: order = self._epoch_indices(); walk it in steps of self.batch_size, stopping
        #       before a short last batch if self.drop_last. For the indices of one batch:
        #       - batch path (self._batched): wrap self.dataset.get_batch(indices) with
        #         _batch_to_tensors(...) and yield it;
        #       - otherwise: fetch each sample with self.dataset[int(i)] and yield
        #         self.collate_fn(list_of_samples).
        ### BEGIN SOLUTION
        order = self._epoch_indices()
        size = self.batch_size
        stop = len(order) - len(order) % size if self.drop_last else len(order)
        for start in range(0, stop, size):
            indices = order[start:start + size]
            if self._batched:
                yield _batch_to_tensors(self.dataset.get_batch(indices), f"{type(self.dataset).__name__}.get_batch")
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])
        ### END SOLUTION

    def __repr__(self) -> str:
        path = "batched get_batch" if self._batched else "per-sample + collate"
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}; {len(self)} batches per epoch, {path})")

# %%
#| test
class _SlowSquares(Dataset):
    """No get_batch: forces the per-sample path (sample i = (i as float32 vector, i % 3))."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return np.full(2, index, dtype=np.float32), index % 3


def test_unit_dataloader():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10) % 3
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3, (
        f"10 samples in batches of 4 give 3 batches (4, 4, 2); len={len(loader)}, iterated {len(batches)}")
    assert [b[0].shape[0] for b in batches] == [4, 4, 2], "without drop_last the last batch keeps 2 samples"
    assert np.array_equal(batches[1][0].data[:, 0], [4, 5, 6, 7]), "shuffle=False keeps file order"
    assert len(DataLoader(TensorDataset(x), batch_size=4, drop_last=True)) == 2, "drop_last: floor(10/4) = 2"
    assert [b[0].shape[0] for b in DataLoader(TensorDataset(x), batch_size=4, drop_last=True)] == [4, 4]

    epochs = [np.concatenate([b[0].data[:, 0] for b in DataLoader(TensorDataset(x), 3, shuffle=True, seed=7)])
              for _ in range(2)]
    assert np.array_equal(epochs[0], epochs[1]), "two loaders with the same seed must give the same order"
    assert sorted(epochs[0]) == list(range(10)), "one epoch visits every sample exactly once"
    shuffled = DataLoader(TensorDataset(x), 10, shuffle=True, seed=7)
    first, second = (next(iter(shuffled))[0].data[:, 0] for _ in range(2))
    assert not np.array_equal(first, second), "each epoch must draw a fresh permutation"

    slow = list(DataLoader(_SlowSquares(5), batch_size=2))
    assert isinstance(slow[0], list) and slow[0][0].shape == (2, 2) and slow[0][1].dtype == np.int64, (
        "per-sample path: (vector, int) samples collate to [Tensor (B, 2), int64 Tensor (B,)]")
    assert slow[2][0].shape == (1, 2), "the per-sample path keeps the short last batch too"
    fast = next(iter(DataLoader(TensorDataset(x, y), batch_size=10)))
    assert isinstance(fast, list) and np.array_equal(fast[1].data, y), "batch path returns a list like collate"
    for bad, error in [(0, ValueError), (-2, ValueError), (2.5, TypeError), ("8", TypeError), (True, TypeError)]:
        try:
            DataLoader(TensorDataset(x), batch_size=bad)
        except error as caught:
            assert "batch_size" in str(caught), f"the error should name batch_size, got: {caught}"
        else:
            raise AssertionError(f"batch_size={bad!r} should raise {error.__name__}")
    try:
        DataLoader(_SlowSquares(0))
    except ValueError as caught:
        assert "empty" in str(caught), f"an empty dataset should be reported as empty, got: {caught}"
    else:
        raise AssertionError("DataLoader over an empty dataset should raise ValueError")
    print("✅ DataLoader: batching, drop_last, seeded per-epoch shuffling, both fetch paths, bad arguments")


test_unit_dataloader()

# %%
_ids = TensorDataset(np.arange(10))
for _label, _loader in (("seed=0", DataLoader(_ids, 4, shuffle=True, seed=0)),
                        ("seed=0 again", DataLoader(_ids, 4, shuffle=True, seed=0))):
    for _epoch in (1, 2):
        print(f"{_label:<13} epoch {_epoch}:", " | ".join(str(b[0].data.tolist()) for b in _loader))

# %% [markdown]
# ### Subsets and random splits
#
# Holding out a validation set is the first thing you do with a new dataset. `Subset(ds, indices)`
# is a view of some samples; `random_split(ds, [0.9, 0.1], generator=...)` shuffles the indices
# once and cuts them into non-overlapping subsets (lengths as counts, or as fractions that sum to
# 1, exactly like PyTorch). A `Subset` keeps the fast batch path when its dataset has one.

# %%
#| export
class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order (a view; nothing is copied)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    @property
    def get_batch(self):
        """The base dataset's batch path, through our indices (absent when the base has none)."""
        base = self.dataset.get_batch  # AttributeError when absent, so hasattr(subset, "get_batch") is False
        return lambda indices: base(self.indices[np.asarray(indices, dtype=np.int64)])


def random_split(dataset, lengths, generator=None) -> list:
    """Split `dataset` into non-overlapping random Subsets of the given lengths.

    `lengths` are counts summing to len(dataset), or fractions summing to 1 (PyTorch's rule: each
    gets floor(fraction * N), and the leftover samples go one each to the first subsets).
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths or any(isinstance(v, bool) or not isinstance(v, numbers.Real) or v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths must be non-negative numbers, got {lengths!r}")
    if all(isinstance(v, numbers.Integral) for v in lengths):
        counts = [int(v) for v in lengths]
    elif math.isclose(sum(lengths), 1.0) and all(v <= 1 for v in lengths):
        counts = [int(math.floor(n * v)) for v in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        raise ValueError(f"random_split: fractions must sum to 1, got {lengths!r} (sum {sum(lengths)})")
    if sum(counts) != n:
        raise ValueError(f"random_split: the lengths {counts} sum to {sum(counts)}, but the dataset "
                         f"has {n} samples")
    order = (generator if generator is not None else default_generator()).permutation(n)
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]

# %%
#| test
def test_unit_subset_random_split():
    ds = TensorDataset(np.arange(10, dtype=np.float32))
    train, val = random_split(ds, [0.8, 0.2], generator=np.random.default_rng(0))
    assert (len(train), len(val)) == (8, 2), f"fractions 0.8/0.2 of 10 give 8 and 2, got {len(train)}, {len(val)}"
    seen = sorted(int(train[i][0].item()) for i in range(8)) + sorted(int(val[i][0].item()) for i in range(2))
    assert sorted(seen) == list(range(10)), "the subsets must cover every sample exactly once"
    assert len(random_split(ds, [0.34, 0.33, 0.33], np.random.default_rng(0))[0]) == 4, (
        "leftover samples go one each to the first subsets (4, 3, 3)")
    batch = next(iter(DataLoader(val, batch_size=2)))
    assert np.array_equal(batch[0].data, val.indices.astype(np.float32)), "a Subset keeps the batch path"
    print("✅ Subset and random_split: lengths, fractions, coverage, batch path")


test_unit_subset_random_split()

# %% [markdown]
# ## 5. How images are stored: uint8 at rest, float32 in the model
#
# A grayscale MNIST digit is 28 x 28 pixels, each a brightness from 0 (black) to 255 (white). One
# byte per pixel is exactly enough — that is the `uint8` type. Models want `float32` inputs in a
# small range, which costs **four** bytes per pixel:
#
# | dataset | images | uint8 | float32 |
# |---|---|---|---|
# | MNIST train | 60,000 x 1 x 28 x 28 | 47 MB | 188 MB |
# | CIFAR-10 train | 50,000 x 3 x 32 x 32 | 154 MB | 614 MB |
#
# So datasets here keep `uint8` arrays in memory and convert **per batch**: a batch of 128 MNIST
# images is 0.4 MB of float32, made just before the model needs it. (The analysis at the end
# measures this.) Augmentations that only move pixels (flips, crops) work directly on uint8 and
# touch four times fewer bytes.
#
# **Layout.** We store images as `(N, C, H, W)` — batch, channels, height, width — which is what
# `Conv2d` expects (PyTorch's "channels first"). A single image is `(C, H, W)`; MNIST's are
# `(1, 28, 28)`. Image files and PIL use `(H, W, C)` ("channels last"); `ToTensor(channels_last=True)`
# converts those.
#
# **Transforms** are small callable objects, chained with `Compose`. Every transform here works on
# a single image `(C, H, W)` *and* on a whole batch `(N, C, H, W)`, vectorized over the batch; it
# accepts an ndarray or a Tensor and returns the same kind (except `ToTensor`, which always returns
# a Tensor). A dataset applies its `transform` to one image in `ds[i]` and to the whole batch in
# `get_batch` — same transform object, same result type.

# %%
#| export
def _pixels(img, where: str):
    """The pixel array of an image or batch, and whether it came wrapped in a Tensor."""
    if isinstance(img, Tensor):
        return img.data, True
    if isinstance(img, np.ndarray):
        return img, False
    raise TypeError(f"{where}: expected an image (C, H, W) or a batch (N, C, H, W) as an ndarray or "
                    f"Tensor, got {type(img).__name__}")


def _as_batch(array: np.ndarray, where: str) -> np.ndarray:
    """(C, H, W) -> (1, C, H, W) view; (N, C, H, W) unchanged; anything else is an error."""
    if array.ndim == 3:
        return array[None]
    if array.ndim == 4:
        return array
    raise ValueError(f"{where}: expected an image of shape (C, H, W) or a batch (N, C, H, W), got shape "
                     f"{array.shape}; add a channel axis to (H, W) images (ToTensor does)")


def _restore(batch: np.ndarray, original: np.ndarray, as_tensor: bool):
    """Undo _as_batch for a single image and re-wrap in a Tensor when the input was one."""
    out = batch[0] if original.ndim == 3 else batch
    return Tensor(out) if as_tensor else out


def _generator(generator, where: str) -> np.random.Generator | None:
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{where}: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    return generator


class Compose:
    """Apply transforms one after the other: Compose([ToTensor(), Normalize(mean, std)])."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for position, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {position} must be callable, got {type(t).__name__}")

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class ToTensor:
    """uint8 pixels in [0, 255] -> float32 Tensor in [0, 1]; float pixels are only wrapped (float32).

    Shapes: (H, W) -> (1, H, W); (C, H, W) and (N, C, H, W) keep their layout. With
    channels_last=True the input is (H, W, C) or (N, H, W, C) and becomes (C, H, W) / (N, C, H, W).
    """

    def __init__(self, channels_last: bool = False):
        self.channels_last = bool(channels_last)

    def __call__(self, img) -> Tensor:
        array, _ = _pixels(img, "ToTensor")
        if self.channels_last:
            if array.ndim not in (3, 4):
                raise ValueError(f"ToTensor(channels_last=True): expected (H, W, C) or (N, H, W, C), "
                                 f"got shape {array.shape}")
            array = np.moveaxis(array, -1, -3)
        elif array.ndim == 2:
            array = array[None]
        elif array.ndim not in (3, 4):
            raise ValueError(f"ToTensor: expected (H, W), (C, H, W) or (N, C, H, W), got shape {array.shape}")
        if array.dtype == np.uint8:
            out = array.astype(np.float32)
            out /= 255  # in place: one float32 array, no temporary
            return Tensor(out)
        if array.dtype.kind == "f":
            return Tensor(np.ascontiguousarray(array, dtype=np.float32))
        raise TypeError(f"ToTensor: expected uint8 pixels (0..255) or float pixels, got {array.dtype}")

    def __repr__(self) -> str:
        return f"ToTensor(channels_last={self.channels_last})" if self.channels_last else "ToTensor()"

# %%
#| test
def test_unit_to_tensor_compose():
    img = np.array([[[0, 51, 255]]], dtype=np.uint8)  # (1, 1, 3)
    out = ToTensor()(img)
    assert isinstance(out, Tensor) and out.dtype == np.float32, f"ToTensor must give a float32 Tensor, got {out!r}"
    assert np.allclose(out.data, [[[0.0, 0.2, 1.0]]]), f"uint8 0, 51, 255 -> 0.0, 0.2, 1.0; got {out.data}"
    assert ToTensor()(np.zeros((28, 28), np.uint8)).shape == (1, 28, 28), "(H, W) gains a channel axis"
    assert ToTensor()(np.zeros((5, 3, 8, 8), np.uint8)).shape == (5, 3, 8, 8), "a batch keeps (N, C, H, W)"
    hwc = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    chw = ToTensor(channels_last=True)(hwc)
    assert chw.shape == (3, 2, 4) and np.allclose(chw.data[1], hwc[:, :, 1] / 255), "channels_last moves C first"
    pipeline = Compose([ToTensor(), lambda t: t * 2])
    assert np.allclose(pipeline(img).data, out.data * 2), "Compose applies the transforms in order"
    try:
        ToTensor()(np.zeros((2, 2), dtype=np.int32))
    except TypeError as error:
        assert "uint8" in str(error), f"the error should say uint8 was expected, got: {error}"
    else:
        raise AssertionError("ToTensor on int32 pixels should raise TypeError")
    print("✅ ToTensor and Compose: uint8 -> float32 [0, 1], layouts, ordering, errors")


test_unit_to_tensor_compose()

# %% [markdown]
# ## 6. Normalize
#
# Networks train best when inputs are centred near 0 with unit spread. `Normalize(mean, std)`
# does, per channel `c`:
#
# ```
#     out[..., c, :, :] = (x[..., c, :, :] - mean[c]) / std[c]
# ```
#
# with the mean and std of the *training set* (MNIST: 0.1307 and 0.3081 after ToTensor). Written
# as one broadcast operation: reshape `mean` to `(C, 1, 1)` and NumPy stretches it over `H` and
# `W`, and over `N` for a batch — no loop over channels or images.
#
# Normalize expects float pixels (apply `ToTensor` first); on uint8, `x - mean` would wrap around
# or silently promote, so it is a clear error instead.

# %%
#| export
def _per_channel(values, where: str, name: str) -> tuple:
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        values = (values,)
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be a number or a sequence of numbers (one per channel), "
                        f"got {values!r}") from None
    if not out:
        raise ValueError(f"{where}: {name} must not be empty")
    return out


class Normalize:
    """(x - mean[c]) / std[c] for each channel c. Shapes: (C, H, W) or (N, C, H, W) -> same, float."""

    def __init__(self, mean, std):
        self.mean = _per_channel(mean, "Normalize", "mean")
        self.std = _per_channel(std, "Normalize", "std")
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: mean has {len(self.mean)} values but std has {len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Normalize: every std must be positive (it divides), got {self.std}")

    def __call__(self, img):
        array, as_tensor = _pixels(img, "Normalize")
        if array.dtype.kind != "f":
            raise TypeError(f"Normalize: expected float pixels, got {array.dtype}; apply ToTensor() first "
                            "(it turns uint8 0..255 into float32 0..1)")
        if array.ndim not in (3, 4):
            raise ValueError(f"Normalize: expected (C, H, W) or (N, C, H, W), got shape {array.shape}")
        channels = array.shape[-3]
        if len(self.mean) not in (1, channels):
            raise ValueError(f"Normalize: {len(self.mean)} mean/std values for an image with {channels} "
                             f"channels (shape {array.shape}); give one value per channel")
        # Hint: make mean and std arrays of the image's dtype, shaped (C, 1, 1) (or (1, 1, 1)),
        #       so broadcasting applies them per channel to (C, H, W) and (N, C, H, W) alike.
        #       Compute into a new array: never modify the caller's pixels.
        ### BEGIN SOLUTION
        mean = np.asarray(self.mean, dtype=array.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=array.dtype).reshape(-1, 1, 1)
        out = (array - mean) / std
        ### END SOLUTION
        return Tensor(out) if as_tensor else out

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"

# %%
#| test
def test_unit_normalize():
    batch = np.stack([np.full((3, 2, 2), v, dtype=np.float32) for v in (0.0, 1.0)])  # (2, 3, 2, 2)
    norm = Normalize(mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 2.0))
    out = norm(batch)
    expected = [[-1.0, -1.0, 0.0], [1.0, 3.0, 0.5]]
    assert out.shape == batch.shape and out.dtype == np.float32, (
        f"Normalize keeps shape and float32 dtype: got {out.shape} {out.dtype}")
    assert np.allclose(out[:, :, 0, 0], expected), (
        f"per-channel (x - mean) / std: expected {expected}, got {out[:, :, 0, 0].tolist()}. "
        "Likely cause: mean/std not reshaped to (C, 1, 1), so they hit the wrong axis")
    single = norm(Tensor(batch[1]))
    assert isinstance(single, Tensor) and np.allclose(single.data[:, 0, 0], expected[1]), (
        "a single (C, H, W) Tensor gives a Tensor, normalized the same way")
    assert batch[0, 0, 0, 0] == 0.0, "Normalize must not modify its input in place"
    assert np.allclose(Normalize(0.5, 0.5)(batch)[1], 1.0), "one mean/std value applies to every channel"
    for bad_input, error in [(batch.astype(np.uint8), TypeError), (np.zeros((2, 5, 4, 4), np.float32), ValueError)]:
        try:
            norm(bad_input)
        except error:
            pass
        else:
            raise AssertionError(f"Normalize on {bad_input.dtype} {bad_input.shape} should raise {error.__name__}")
    print("✅ Normalize: per-channel broadcast, single image and batch, Tensor in -> Tensor out, errors")


test_unit_normalize()

# %% [markdown]
# ## 7. Vectorized augmentation
#
# Augmentation shows the model a slightly different version of each image every epoch — mirrored,
# shifted a few pixels, brighter — so it learns what a "cat" is rather than memorising pixels. For
# CIFAR-10, random crops with padding and horizontal flips are worth several points of accuracy.
#
# The naive implementation loops over images:
#
# ```python
# for i in range(N):                      # 256 Python iterations per batch,
#     if rng.random() < p:                # each touching one small array
#         out[i] = img[i, :, :, ::-1]
# ```
#
# The batch version draws **all** random decisions at once and applies them with one indexing
# operation.
#
# **Flip.** `flip = rng.random(N) < p` is a boolean mask over the batch; `batch[flip, ..., ::-1]`
# mirrors the chosen images along W in one step.
#
# **Padded random crop.** Pad the whole batch once by `p` pixels of `fill` on every side, then cut
# a `size x size` window at a random offset `(top, left)` per image. The trick is
# `sliding_window_view`: a *view* (no copy) of every possible window,
#
# ```
#   padded                 (N, C, H+2p, W+2p)
#   windows = sliding_window_view(padded, (s, s), axis=(2, 3))
#                          (N, C, H+2p-s+1, W+2p-s+1, s, s)    windows[n, c, i, j] = padded[n, c, i:i+s, j:j+s]
#   windows[arange(N), :, top, left]
#                          (N, C, s, s)                         one gather for the whole batch
# ```
#
# The three index arrays pick, for each image `n`, the window at `(top[n], left[n])`; the `:` keeps
# all channels. Because the arrays are separated by a slice, NumPy puts their common dimension (N)
# first — exactly the layout we want.

# %%
#| export
class RandomHorizontalFlip:
    """Mirror each image left-right with probability p (independently per image in a batch)."""

    def __init__(self, p: float = 0.5, generator=None):
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.generator = _generator(generator, "RandomHorizontalFlip")

    def __call__(self, img):
        array, as_tensor = _pixels(img, "RandomHorizontalFlip")
        batch = _as_batch(array, "RandomHorizontalFlip")
        rng = self.generator if self.generator is not None else default_generator()
        # Hint: one uniform number per image decides (rng.random(n) < self.p). Copy the batch,
        #       then overwrite the chosen images with their mirror image (reverse the last axis).
        ### BEGIN SOLUTION
        flip = rng.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip, ..., ::-1]
        ### END SOLUTION
        return _restore(out, array, as_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def _crop_size(size, where: str) -> tuple:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0 for s in size)):
        raise ValueError(f"{where}: size must be a positive int or a pair (height, width), got {size!r}")
    return int(size[0]), int(size[1])


class RandomCrop:
    """Pad by `padding` pixels of `fill`, then cut a random size x size window from each image.

    size: int or (height, width). Shapes: (C, H, W) -> (C, h, w); (N, C, H, W) -> (N, C, h, w).
    Works on uint8 and float images (the dtype is kept).
    """

    def __init__(self, size, padding=None, fill=0, generator=None):
        self.size = _crop_size(size, "RandomCrop")
        padding = 0 if padding is None else padding
        if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or padding < 0:
            raise ValueError(f"RandomCrop: padding must be a non-negative int, got {padding!r}")
        self.padding = int(padding)
        self.fill = fill
        self.generator = _generator(generator, "RandomCrop")

    def __call__(self, img):
        array, as_tensor = _pixels(img, "RandomCrop")
        batch = _as_batch(array, "RandomCrop")
        n, _, height, width = batch.shape
        th, tw = self.size
        pad = self.padding
        if th > height + 2 * pad or tw > width + 2 * pad:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image "
                             f"({height + 2 * pad}, {width + 2 * pad})")
        rng = self.generator if self.generator is not None else default_generator()
        # Hint: 1. pad the whole batch once (np.pad on axes 2 and 3 only, constant_values=self.fill);
        #       2. draw top in [0, H + 2*pad - th] and left in [0, W + 2*pad - tw], one per image
        #          (rng.integers(low, high_exclusive, size=n));
        #       3. windows = sliding_window_view(padded, (th, tw), axis=(2, 3)) and gather
        #          windows[np.arange(n), :, top, left] -> (n, C, th, tw). No loop over images.
        ### BEGIN SOLUTION
        padded = np.pad(batch, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=self.fill) if pad else batch
        top = rng.integers(0, padded.shape[2] - th + 1, size=n)
        left = rng.integers(0, padded.shape[3] - tw + 1, size=n)
        windows = sliding_window_view(padded, (th, tw), axis=(2, 3))
        out = windows[np.arange(n), :, top, left]
        ### END SOLUTION
        return _restore(out, array, as_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"

# %%
#| test
def test_unit_flip_and_crop():
    batch = np.arange(2 * 1 * 3 * 4, dtype=np.uint8).reshape(2, 1, 3, 4)
    always = RandomHorizontalFlip(p=1.0)(batch)
    assert np.array_equal(always, batch[..., ::-1]), "p=1 must mirror every image along the width axis"
    assert np.array_equal(RandomHorizontalFlip(p=0.0)(batch), batch), "p=0 must leave every image alone"
    many = np.repeat(batch[:1], 2000, axis=0)
    flipped = RandomHorizontalFlip(0.3, generator=np.random.default_rng(0))(many)
    share = np.mean(flipped[:, 0, 0, 0] == batch[0, 0, 0, -1])
    assert abs(share - 0.3) < 0.04, f"with p=0.3 about 30% of images should flip, got {share:.1%}"
    assert flipped.dtype == np.uint8 and many[5, 0, 0, 0] == batch[0, 0, 0, 0], "keep dtype, don't modify input"
    single = RandomHorizontalFlip(1.0)(Tensor(batch[0]))
    assert isinstance(single, Tensor) and single.shape == (1, 3, 4), "a single (C, H, W) Tensor stays a Tensor"

    crop = RandomCrop(3, padding=1, generator=np.random.default_rng(1))
    images = np.random.default_rng(2).integers(1, 255, size=(64, 2, 5, 5)).astype(np.uint8)
    out = crop(images)
    assert out.shape == (64, 2, 3, 3) and out.dtype == np.uint8, f"expected (64, 2, 3, 3) uint8, got {out.shape}"
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    offsets = set()
    for i in range(64):  # the slow oracle: find this image's crop among all windows of its padded image
        found = [(r, c) for r in range(5) for c in range(5) if np.array_equal(padded[i, :, r:r + 3, c:c + 3], out[i])]
        assert found, f"crop {i} is not a 3x3 window of its own padded image (channels must move together)"
        offsets.add(found[0])
    assert len(offsets) > 10, f"offsets should vary between images, only saw {sorted(offsets)}"
    assert np.array_equal(RandomCrop(5)(images), images), "size = image size and no padding is the identity"
    assert RandomCrop((2, 4))(images[0]).shape == (2, 2, 4), "(height, width) sizes and single images work"
    try:
        RandomCrop(8, padding=1)(images)
    except ValueError:
        pass
    else:
        raise AssertionError("a crop larger than the padded image should raise ValueError")
    print("✅ RandomHorizontalFlip and RandomCrop: vectorized, per-image randomness, dtypes kept")


test_unit_flip_and_crop()

# %% [markdown]
# ### Colour jitter
#
# `ColorJitter(brightness=b, contrast=c)` draws one factor per image from `U[max(0, 1-b), 1+b]`
# (and likewise for contrast). Brightness multiplies the pixels; contrast pulls them towards (or
# pushes them away from) the image's mean grey level. The order of the two is random per image,
# as in torchvision. Results are clipped to the valid range, `[0, 1]` for float or `[0, 255]` for
# uint8. This one is written for you; notice the same pattern — draw per-image random numbers as
# a vector, reshape them to `(N, 1, 1, 1)`, broadcast.

# %%
#| export
class ColorJitter:
    """Random brightness and contrast, one factor of each per image (torchvision's ColorJitter subset).

    factor ~ U[max(0, 1 - v), 1 + v]; brightness: x * f; contrast: m + f * (x - m) with m the image's
    mean grey (ITU-R 601 luma for 3 channels). Clipped to [0, 1] (float) or [0, 255] (uint8, rounded).
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, generator=None):
        for name, value in (("brightness", brightness), ("contrast", contrast)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
                raise ValueError(f"ColorJitter: {name} must be a non-negative number, got {value!r}")
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.generator = _generator(generator, "ColorJitter")

    @staticmethod
    def _factors(rng, spread: float, n: int) -> np.ndarray:
        return rng.uniform(max(0.0, 1 - spread), 1 + spread, size=n).astype(np.float32).reshape(n, 1, 1, 1)

    def __call__(self, img):
        array, as_tensor = _pixels(img, "ColorJitter")
        batch = _as_batch(array, "ColorJitter")
        if batch.dtype != np.uint8 and batch.dtype.kind != "f":
            raise TypeError(f"ColorJitter: expected uint8 or float pixels, got {batch.dtype}")
        top = 255.0 if batch.dtype == np.uint8 else 1.0
        rng = self.generator if self.generator is not None else default_generator()
        n = batch.shape[0]
        x = batch.astype(np.float32)

        def brighten(values):
            return np.clip(values * bright, 0, top)

        def contrast(values):
            if values.shape[1] == 3:
                grey = np.tensordot(np.array([0.299, 0.587, 0.114], np.float32), values, axes=([0], [1]))
                mean = grey.mean(axis=(1, 2)).reshape(n, 1, 1, 1)
            else:
                mean = values.mean(axis=(1, 2, 3), keepdims=True)
            return np.clip(mean + contra * (values - mean), 0, top)

        bright = self._factors(rng, self.brightness, n) if self.brightness else None
        contra = self._factors(rng, self.contrast, n) if self.contrast else None
        if bright is not None and contra is not None:
            brightness_first = (rng.random(n) < 0.5).reshape(n, 1, 1, 1)
            x = np.where(brightness_first, contrast(brighten(x)), brighten(contrast(x)))
        elif bright is not None:
            x = brighten(x)
        elif contra is not None:
            x = contrast(x)
        out = np.rint(x).astype(np.uint8) if batch.dtype == np.uint8 else x.astype(batch.dtype, copy=False)
        return _restore(out, array, as_tensor)

    def __repr__(self) -> str:
        return f"ColorJitter(brightness={self.brightness}, contrast={self.contrast})"

# %%
#| test
def test_unit_color_jitter():
    grey = np.full((500, 1, 2, 2), 0.5, dtype=np.float32)
    out = ColorJitter(brightness=0.4, generator=np.random.default_rng(0))(grey)
    factors = out[:, 0, 0, 0] / 0.5
    assert out.dtype == np.float32 and 0.6 - 1e-6 <= factors.min() and factors.max() <= 1.4 + 1e-6, (
        f"brightness=0.4 multiplies by factors in [0.6, 1.4], got [{factors.min():.3f}, {factors.max():.3f}]")
    assert factors.std() > 0.1, "each image should get its own factor"
    assert np.allclose(out, out[:, :1, :1, :1]), "brightness scales a whole image by one factor"
    bright = ColorJitter(brightness=3.0, generator=np.random.default_rng(1))(np.full((50, 3, 2, 2), 200, np.uint8))
    assert bright.dtype == np.uint8 and bright.max() == 255, "uint8 results are clipped to 255, not wrapped"
    flat = ColorJitter(contrast=0.9)(grey)
    assert np.allclose(flat, 0.5), "contrast leaves a flat image (all pixels = its mean) unchanged"
    print("✅ ColorJitter: per-image factors, clipping, uint8 and float")


test_unit_color_jitter()

# %% [markdown]
# ## 8. The IDX file format
#
# MNIST and Fashion-MNIST ship as four gzip-compressed **IDX** files — a format from 1998 that is
# the simplest possible container for an n-dimensional array. After `gunzip`, the training images
# file starts like this:
#
# ```
#   offset  bytes         meaning
#   0       00 00         always zero
#   2       08            element type: 0x08 uint8 (0x09 int8, 0x0B int16, 0x0C int32,
#                                                   0x0D float32, 0x0E float64)
#   3       03            number of dimensions
#   4       00 00 EA 60   size of dimension 0: 60000   (each size: unsigned 32-bit, big-endian)
#   8       00 00 00 1C   size of dimension 1: 28
#   12      00 00 00 1C   size of dimension 2: 28
#   16      ...           60000 * 28 * 28 values, row-major (C order), big-endian
# ```
#
# The label file has magic `00 00 08 01`: one dimension of 60000 uint8 labels. Read as a
# big-endian int, the magic numbers are 2051 (images) and 2049 (labels).
#
# **Big-endian** means the most significant byte comes first: `00 00 EA 60` is
# `0xEA * 256 + 0x60 = 60000`. NumPy reads it with the dtype `">u4"` (`>` big-endian, `u4`
# unsigned 4 bytes). Your machine is almost certainly little-endian, so multi-byte values must be
# converted to the native order before use; for uint8 there is nothing to swap.
#
# `np.frombuffer(data, dtype, count, offset)` views raw bytes as an array without copying or
# looping, which is how a 47 MB file becomes an array in milliseconds.
#
# Validate everything: a truncated download, a wrong file or random bytes must give a clear error,
# never a strangely shaped array.

# %%
#| export
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(data: bytes) -> np.ndarray:
    """Decode the bytes of one (already gunzipped) IDX file into a native-endian, writable ndarray.

    Layout: magic (0, 0, type code, ndim), ndim big-endian uint32 sizes, then the values
    (big-endian, C order). Raises ValueError on a bad magic, an unknown type or a wrong length.
    """
    # Hint: check len(data) >= 4 and data[0] == data[1] == 0 ("not an IDX file: bad magic ...");
    #       look the type code data[2] up in _IDX_TYPES (unknown -> ValueError); ndim = data[3].
    #       Read the ndim sizes with np.frombuffer(data, dtype=">u4", count=ndim, offset=4).
    #       The values start at offset 4 + 4 * ndim; the file must have exactly
    #       prod(sizes) * itemsize bytes after that (say how many it has and how many it should).
    #       Finish with .astype(dtype.newbyteorder("=")): native byte order, and a writable copy.
    ### BEGIN SOLUTION
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"not an IDX file: bad magic number {bytes(data[:4]).hex(' ')} "
                         "(IDX files start with two zero bytes)")
    code, ndim = data[2], data[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"bad magic number {bytes(data[:4]).hex(' ')}: unknown IDX element type 0x{code:02X}")
    body = 4 + 4 * ndim
    if len(data) < body:
        raise ValueError(f"truncated IDX header: {ndim} dimension(s) need {body} bytes, the file has {len(data)}")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = body + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"IDX size mismatch: the header promises shape {shape} ({expected} bytes in all) "
                         f"but the file has {len(data)} bytes (truncated or corrupted)")
    return np.frombuffer(data, dtype=dtype, offset=body).reshape(shape).astype(dtype.newbyteorder("="))
    ### END SOLUTION


class DataError(RuntimeError):
    """A dataset file is missing, unreadable, corrupted, or in the wrong format."""


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not (told apart by the gzip magic, not the name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: cannot read it as a gzip-compressed IDX file ({error}); the file is "
                        "damaged: delete it and download it again") from None
    try:
        return parse_idx(data)
    except ValueError as error:
        raise DataError(f"{path}: {error}") from None

# %%
#| test
def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    """The inverse of parse_idx, for tests: magic, big-endian sizes, big-endian values."""
    big = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + big.tobytes()


def test_unit_parse_idx():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = _idx_bytes(images, 0x08)
    assert data[:4] == b"\x00\x00\x08\x03", "our test writer must produce the images magic 0x00000803"
    out = parse_idx(data)
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8 and np.array_equal(out, images), (
        f"expected the (2, 3, 4) uint8 array back, got {out.shape} {out.dtype}")
    out[0, 0, 0] = 7  # must not raise: the result has to be writable
    values = np.array([1.5, -2.25, 1e6], dtype=np.float32)
    back = parse_idx(_idx_bytes(values, 0x0D))
    assert back.dtype == np.float32 and back.dtype.isnative and np.array_equal(back, values), (
        f"float32 IDX values are big-endian on disk: expected {values}, got {back} ({back.dtype}). "
        "Likely cause: read with a native dtype instead of '>f4', or not converted to native order")
    labels = parse_idx(_idx_bytes(np.array([3, 1, 4], np.uint8), 0x08))
    assert labels.tolist() == [3, 1, 4], f"1-D label files: expected [3, 1, 4], got {labels.tolist()}"
    for name, bad in [("wrong magic", b"\x01\x02" + data[2:]), ("unknown type", b"\x00\x00\x07\x03" + data[4:]),
                      ("truncated", data[:-1]), ("too long", data + b"\x00"), ("empty", b"")]:
        try:
            parse_idx(bad)
        except ValueError:
            continue
        raise AssertionError(f"parse_idx should raise ValueError for a {name} file")
    print("✅ parse_idx: header, big-endian sizes and values, native writable output, bad files rejected")


test_unit_parse_idx()

# %% [markdown]
# ## 9. Getting real datasets onto your disk, safely
#
# The code in this section and the next is written for you: read it, because every line guards
# against something that happens in real life.
#
# **Where.** Datasets live under one data root: `$TINYTORCH_DATA` if set, else
# `~/.cache/tinytorch`, one sub-folder per dataset (`mnist/`, `fashion_mnist/`, `cifar10/`) holding
# the *official* files under their official names. A folder that already has those files — a
# shared copy on a lab machine, a USB stick — is used as-is: `export TINYTORCH_DATA=/that/folder`.
# Nothing is written there unless a download is needed.
#
# **Checksums.** Each official file has a known MD5 (the value the dataset's authors and torchvision
# publish) and, where we know it, a SHA-256. A file is used only after its checksums match. MD5 is
# broken against an attacker who crafts collisions, but it still catches every accidental
# corruption; SHA-256 guards against both. A file that fails is renamed `*.corrupt` (kept for
# inspection, never read again) and downloaded afresh.
#
# **Downloads** use `urllib` only, with several mirrors tried in order (the original MNIST server
# is slow and often down). They are:
#
# - **atomic**: bytes go to `name.part`; only after the checksum passes does `os.replace` give the
#   file its real name, in one step. A crash or Ctrl-C can leave a `.part`, never a half file that
#   looks whole;
# - **resumable**: if a `.part` exists, the request asks for the rest with an HTTP `Range:
#   bytes=N-` header. A server that answers `206 Partial Content` sends only the missing bytes; one
#   that answers `200` sends the whole file, and we start over;
# - **checked for truncation**: a connection that closes early is noticed by comparing the bytes
#   received with `Content-Length`, and the `.part` is kept for the next attempt.
#
# **Offline.** When nothing can be downloaded, the error says exactly which files to put into
# which folder, where they come from, and how to point `TINYTORCH_DATA` at a folder that has them.

# %%
#| export
DEFAULT_TIMEOUT = 30.0  # seconds without progress before a mirror counts as failed


class ChecksumError(DataError):
    """A file's bytes do not match the checksum its publisher gives for it."""


class DatasetNotFoundError(DataError):
    """The files of a dataset are not on disk (and were not to be, or could not be, downloaded)."""


class DownloadError(DatasetNotFoundError):
    """Every mirror failed to deliver a file."""


@dataclass(frozen=True)
class Resource:
    """One official file of a dataset: its name and the checksums it must match."""

    filename: str
    md5: str
    sha256: str | None = None


def data_root(root=None) -> Path:
    """The folder holding one sub-folder per dataset: `root`, else $TINYTORCH_DATA, else ~/.cache/tinytorch."""
    if root is not None:
        return Path(root).expanduser()
    configured = os.environ.get("TINYTORCH_DATA")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "tinytorch"


def file_digests(path) -> dict:
    """{'md5': hex, 'sha256': hex} of a file, read once in 1 MiB chunks."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            md5.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def checksum_problem(path, resource: Resource) -> str | None:
    """None when the file matches every checksum `resource` knows; otherwise what differs."""
    digests = file_digests(path)
    for name in ("sha256", "md5"):
        expected = getattr(resource, name)
        if expected and digests[name] != expected.lower():
            return f"{name} is {digests[name]}, expected {expected}"
    return None


def move_aside(path: Path) -> Path | None:
    """Rename a bad file to *.corrupt so it is never used again; None if the folder is read-only."""
    target = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def _open_url(url: str, offset: int, timeout: float):
    """GET `url` (from byte `offset` on, with an HTTP Range header). The one place we touch the network."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"refusing to download from {url!r}: only http and https URLs are allowed")
    headers = {"User-Agent": "tinytorch-data"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _first_byte(response) -> int:
    """Where the body starts in the file: 0 for a 200, START of 'Content-Range: bytes START-END/SIZE' for a 206."""
    if response.status != 206:
        return 0
    content_range = response.headers.get("Content-Range", "")
    try:
        return int(content_range.removeprefix("bytes ").split("-")[0])
    except ValueError:
        return -1


def _transfer(url: str, part: Path, timeout: float) -> None:
    """Bring `part` up to the full file from `url`: resume it if it exists, else start it."""
    have = part.stat().st_size if part.exists() else 0
    try:
        response = _open_url(url, have, timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and have:  # "range not satisfiable": nothing left to send
            return
        raise
    with response:
        start = _first_byte(response)
        if start not in (0, have):
            raise ConnectionError(f"asked for the bytes from {have:,} on, the server sent them from {start:,}")
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        received = 0
        with open(part, "ab" if start else "wb") as out:  # a 200 (start 0) means the whole file again
            while chunk := response.read(1 << 20):
                out.write(chunk)
                received += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    if expected is not None and received < expected:
        raise ConnectionError(f"the connection closed after {received:,} of {expected:,} bytes")


def download_file(resource: Resource, mirrors, folder, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Download `resource` into `folder`, trying each mirror (a URL prefix) in turn; return its path.

    Resumes from `<name>.part`, verifies the checksums, and only then renames the file into place.
    A download that fails its checksum is moved to `<name>.corrupt` and the next mirror is tried.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / resource.filename
    part = dest.with_name(dest.name + ".part")
    failures = []
    for mirror in mirrors:
        url = mirror + resource.filename
        print(f"downloading {url}" + (f" (resuming after {part.stat().st_size:,} bytes)" if part.exists() else ""))
        try:
            _transfer(url, part, timeout)
        except (OSError, http.client.HTTPException, ValueError) as error:  # URLError, timeouts, resets
            failures.append(f"{url}: {getattr(error, 'reason', None) or error}")
            continue
        problem = checksum_problem(part, resource)
        if problem is not None:
            bad = dest.with_name(dest.name + ".corrupt")
            os.replace(part, bad)  # never resumed, never used; kept only for inspection
            failures.append(f"{url}: the downloaded file failed its checksum ({problem}); kept as {bad.name}")
            continue
        os.replace(part, dest)
        print(f"saved {dest} ({dest.stat().st_size:,} bytes, checksum OK)")
        return dest
    kept = f"; the partial download {part} is kept and the next attempt resumes it" if part.exists() else ""
    raise DownloadError(f"could not download {resource.filename}{kept}:\n  " + "\n  ".join(failures))


def _where_to_put(title: str, name: str, folder: Path, missing, mirrors) -> str:
    lines = [f"To use {title} offline, copy these official files into {folder}/ :"]
    for resource in missing:
        lines.append(f"    {resource.filename}   (md5 {resource.md5}; from {mirrors[0]}{resource.filename})")
    lines.append(f"or point TINYTORCH_DATA at a folder that already has a {name}/ sub-folder with them:")
    lines.append("    export TINYTORCH_DATA=/path/to/datasets      (or pass root=... to the dataset)")
    lines.append(f"Online, `tito data fetch {name}` downloads and verifies them.")
    return "\n".join(lines)


def fetch_files(title: str, name: str, folder, resources, mirrors, download: bool = True,
                dataset_files=None) -> list:
    """Make sure every file of `resources` is in `folder` and verified; download what is missing.

    Returns their paths. A file failing its checksum is moved to *.corrupt and never used.
    `dataset_files` (default: `resources`) are all the official files of the dataset: the advice
    on a failure lists every one of them missing from `folder`, not only this split's.
    """
    folder = Path(folder)
    missing = []
    for resource in resources:
        path = folder / resource.filename
        if not path.is_file():
            missing.append(resource)
            continue
        problem = checksum_problem(path, resource)
        if problem is None:
            continue
        moved = move_aside(path)
        if moved is None:
            raise ChecksumError(f"{path} failed its checksum ({problem}) and could not be moved aside "
                                "(read-only folder?); replace it with the official file")
        if not download:
            raise ChecksumError(f"{path} failed its checksum ({problem}); it was moved to {moved.name} and "
                                f"will not be used. Download it again (download=True or `tito data fetch {name}`)")
        print(f"{path} failed its checksum ({problem}); moved to {moved.name}, downloading it again")
        missing.append(resource)
    absent = [r for r in (dataset_files or resources) if r in missing or not (folder / r.filename).is_file()]
    if missing and not download:
        raise DatasetNotFoundError(f"{title}: {len(missing)} file(s) missing in {folder} and download=False.\n"
                                   + _where_to_put(title, name, folder, absent, mirrors))
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # removed again if all fails
    if missing:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            writable = os.access(folder, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            raise DatasetNotFoundError(f"{title}: {folder} is not writable, so the missing files cannot be "
                                       "downloaded there; set TINYTORCH_DATA to a writable folder.\n"
                                       + _where_to_put(title, name, folder, absent, mirrors))
    for resource in missing:
        try:
            download_file(resource, mirrors, folder)
        except DownloadError as error:
            for made in created:  # a failed fetch leaves no empty folder behind (a partial download stays)
                if made.is_dir() and not any(made.iterdir()):
                    made.rmdir()
            raise DownloadError(f"{title}: {error}\n" + _where_to_put(title, name, folder, absent, mirrors)) from None
    return [folder / resource.filename for resource in resources]

# %%
#| test
def test_unit_checksums_and_fetch_without_network():
    folder = Path(tempfile.mkdtemp())
    payload = b"tinytorch" * 1000
    good = Resource("file.bin", hashlib.md5(payload).hexdigest(), hashlib.sha256(payload).hexdigest())
    (folder / "file.bin").write_bytes(payload)
    assert checksum_problem(folder / "file.bin", good) is None, "the right bytes must pass their checksums"
    assert fetch_files("Demo", "demo", folder, [good], mirrors=["http://127.0.0.1:9/"], download=False) == [
        folder / "file.bin"], "a verified file is used as-is: no download is attempted"
    (folder / "file.bin").write_bytes(payload[:-1] + b"X")
    try:
        fetch_files("Demo", "demo", folder, [good], mirrors=["http://127.0.0.1:9/"], download=False)
    except ChecksumError as error:
        assert "md5" in str(error) or "sha256" in str(error), f"the error should name the checksum: {error}"
    else:
        raise AssertionError("a corrupted file must raise ChecksumError")
    assert not (folder / "file.bin").exists() and (folder / "file.bin.corrupt").exists(), (
        "a corrupted file is moved aside to *.corrupt so it is never used again")
    try:
        fetch_files("Demo", "demo", folder, [good], mirrors=["http://127.0.0.1:9/"], download=False)
    except DatasetNotFoundError as error:
        message = str(error)
        assert str(folder) in message and "file.bin" in message and "TINYTORCH_DATA" in message, (
            f"the offline message must name the folder, the file and TINYTORCH_DATA; got:\n{message}")
    else:
        raise AssertionError("a missing file with download=False must raise DatasetNotFoundError")
    shutil.rmtree(folder)
    print("✅ checksums verified, corrupt files moved aside, offline message names folder, files, TINYTORCH_DATA")


test_unit_checksums_and_fetch_without_network()

# %% [markdown]
# ## 10. Image datasets: MNIST, Fashion-MNIST, CIFAR-10
#
# All three share one shape of class, `VisionDataset`: it holds `data`, a uint8 array
# `(N, C, H, W)`, and `targets`, an int64 array `(N,)`, plus an optional `transform`.
#
# - `ds[i]` returns `(transform(data[i]), int(targets[i]))` — an image and a plain int label, as
#   torchvision does;
# - `ds.get_batch(indices)` returns `(transform(data[indices]), targets[indices])` — one gather and
#   one vectorized transform for the whole batch.
#
# The constructors follow torchvision: `MNIST(root=None, train=True, download=True, transform=None)`.
# Each dataset class names its folder (`name`), its `mirrors` and its official files
# (`resources`, with checksums), so you can point a class at a mirror of your own by changing one
# class attribute.
#
# **MNIST** (LeCun, Cortes, Burges, 1998): 70,000 handwritten digits, 28 x 28 grey.
# **Fashion-MNIST** (Xiao, Rasul, Vollgraf, 2017): the same format and sizes with photos of ten
# kinds of clothing — a drop-in replacement that is much harder to get 99% on.

# %%
#| export
def _check_index(index, n: int, where: str) -> int:
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise TypeError(f"{where}: index must be an int, got {type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"{where}: index {index} is out of range for {n} samples")
    return int(index) % n


class VisionDataset(Dataset):
    """Images as one uint8 array `data` (N, C, H, W) with int64 labels `targets` (N,).

    ds[i] -> (transform(image (C, H, W)), int label); get_batch(indices) -> (transform(images
    (B, C, H, W)), int64 labels (B,)). The transform sees a single image or a batch; the ones in
    this module handle both.
    """

    classes: tuple = ()

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform=None, split: str = ""):
        if transform is not None and not callable(transform):
            raise TypeError(f"{type(self).__name__}: transform must be callable (e.g. Compose([...])), "
                            f"got {type(transform).__name__}")
        if data.ndim != 4 or len(data) != len(targets):
            raise DataError(f"{type(self).__name__}: expected images (N, C, H, W) and N labels, got "
                            f"{data.shape} and {targets.shape}")
        self.data, self.targets, self.transform, self.split = data, targets, transform, split

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        i = _check_index(index, len(self.data), type(self).__name__)
        image = self.data[i].copy()  # a copy: a transform or the caller may write into it
        return (self.transform(image) if self.transform is not None else image), int(self.targets[i])

    def get_batch(self, indices):
        rows = np.asarray(indices, dtype=np.int64)
        images = self.data[rows]  # fancy indexing: one gather, already a copy
        return (self.transform(images) if self.transform is not None else images), self.targets[rows]

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Images: {self.data.shape[1:]} {self.data.dtype}, {self.data.nbytes / 1e6:.1f} MB in memory"]
        if self.split:
            lines.append(f"    Split: {self.split}")
        if getattr(self, "root", None) is not None:
            lines.append(f"    Root location: {self.root}")
        if self.transform is not None:
            lines.append("    Transform: " + repr(self.transform).replace("\n", "\n    "))
        return "\n".join(lines)


def _check_labels(labels: np.ndarray, classes: int, source: str) -> np.ndarray:
    if labels.ndim != 1 or labels.size == 0 or labels.min() < 0 or labels.max() >= classes:
        raise DataError(f"{source}: expected a non-empty 1-D array of labels in 0..{classes - 1}, got shape "
                        f"{labels.shape}" + (f", range {labels.min()}..{labels.max()}" if labels.size else ""))
    return labels.astype(np.int64)


class MNIST(VisionDataset):
    """MNIST handwritten digits: 60,000 train / 10,000 test images (1, 28, 28) uint8, labels 0..9.

    MNIST(root=None, train=True, download=True, transform=None); files in <data root>/mnist/.
    """

    name = "mnist"
    title = "MNIST"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/",
               "http://yann.lecun.com/exdb/mnist/")
    resources = (
        Resource("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                 "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        Resource("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
                 "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        Resource("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
                 "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        Resource("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c",
                 "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    )
    classes = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine")

    def __init__(self, root=None, train: bool = True, download: bool = True, transform=None):
        self.root = data_root(root) / self.name
        self.train = bool(train)
        prefix = "train-" if self.train else "t10k-"
        images_path, labels_path = fetch_files(
            self.title, self.name, self.root, [r for r in self.resources if r.filename.startswith(prefix)],
            self.mirrors, download, dataset_files=self.resources)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8 or images.shape[1:] != (28, 28):
            raise DataError(f"{images_path}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
        if len(labels) != len(images):
            raise DataError(f"{self.title}: {images_path.name} has {len(images)} images but "
                            f"{labels_path.name} has {len(labels)} labels")
        super().__init__(images[:, None], _check_labels(labels, 10, str(labels_path)), transform,
                         "train" if self.train else "test")

    @classmethod
    def required_files(cls, folder: Path) -> tuple:
        """The files `tito data` checks in `folder` (all four official files)."""
        return cls.resources


class FashionMNIST(MNIST):
    """Fashion-MNIST: Zalando's clothing photos in MNIST's exact format (60k/10k, (1, 28, 28))."""

    name = "fashion_mnist"
    title = "Fashion-MNIST"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://storage.googleapis.com/tensorflow/tf-keras-datasets/")
    resources = (
        Resource("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                 "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        Resource("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
                 "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        Resource("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
                 "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        Resource("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310",
                 "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    )
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# %% [markdown]
# Try it. With `download=False` nothing touches the network: either MNIST is already in your data
# root (for example `export TINYTORCH_DATA=/folder/with/mnist`), or you see the offline message
# that says where to put which file.

# %%
try:
    _mnist_test = MNIST(train=False, download=False)
    print(_mnist_test)
    print("first label:", _mnist_test[0][1], "| label counts:", np.bincount(_mnist_test.targets).tolist())
except DatasetNotFoundError as _error:
    print(_error)

# %% [markdown]
# ### CIFAR-10, pickles, and archives you should not trust
#
# CIFAR-10 (Krizhevsky, 2009): 60,000 colour photos, 32 x 32, ten classes (airplane ... truck),
# 50,000 for training in five batch files and 10,000 for testing. Its authors publish it in two
# formats, each a `.tar.gz` archive:
#
# - **python** (`cifar-10-python.tar.gz`): each batch is a *pickled* dict. Unpickling runs
#   whatever the file tells it to: a pickle can say "import `os`, call `os.system('...')`" and
#   `pickle.load` obeys. Loading a pickle from the internet means running the internet's code.
# - **binary** (`cifar-10-binary.tar.gz`): fixed-size records, `1 label byte + 3,072 pixel bytes`
#   (1,024 red, then 1,024 green, then 1,024 blue, each 32 x 32 row-major — already `(3, 32, 32)`).
#   Decoding is one `np.frombuffer` and a reshape: no code runs at all.
#
# So **TinyTorch downloads the binary version** and decodes it with NumPy. Because many people
# already have the python version (torchvision and Keras download it), a `cifar-10-python.tar.gz`
# found in the `cifar10/` folder is used too — but read with a *restricted unpickler*: a
# `pickle.Unpickler` whose `find_class`, the hook that resolves every "import X.Y" in a pickle,
# allows exactly the three NumPy functions that rebuild an array (`_reconstruct`, `ndarray`,
# `dtype`) and refuses everything else. A malicious file then fails with an error instead of
# running code.
#
# Archives are a second trap: a tar member may be named `../../.bashrc`, be an absolute path, or be
# a link pointing outside the target folder. We check every member before extracting (only plain
# files and folders, no `..`, nothing absolute, nothing resolving outside the target), use Python's
# own `filter="data"` where available, and extract into a temporary folder renamed into place only
# when complete. If the data folder is read-only, the batches are read straight from the archive in
# memory instead.

# %%
#| export
_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]  # numpy's array-rebuilding function, however it is named


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain data and NumPy arrays only: find_class allows exactly numpy's
    _reconstruct, ndarray and dtype, so a pickle cannot import (and call) anything else."""

    _allowed = {("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
                ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
                ("numpy", "ndarray"): np.ndarray,
                ("numpy", "dtype"): np.dtype}

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: this file may only hold plain "
                                         "data and NumPy arrays, so it is not what it claims to be") from None


def _check_member(member: tarfile.TarInfo, dest: Path, archive: Path) -> None:
    name = PurePosixPath(member.name)
    if not (member.isfile() or member.isdir()):
        raise DataError(f"{archive}: refusing to extract {member.name!r}: only plain files and folders are "
                        "allowed (no links, devices or pipes)")
    if name.is_absolute() or ".." in name.parts or not (dest / name).resolve().is_relative_to(dest.resolve()):
        raise DataError(f"{archive}: refusing to extract {member.name!r}: it would land outside {dest}")


def extract_archive(archive, dest) -> list:
    """Safely extract a .tar/.tar.gz into `dest`; returns the top-level names it created.

    Every member is checked first (plain files and folders only; no absolute paths, no '..');
    extraction goes to a temporary folder inside `dest`, whose entries are renamed into place at the end.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, staging, archive)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, members=members, filter="data")
            else:  # Python without extraction filters: our own checks above are the guard
                tar.extractall(staging, members=members)
        created = sorted(p.name for p in staging.iterdir())
        for top in created:
            target = dest / top
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(staging / top, target)
        return created
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise DataError(f"{archive}: not a readable tar archive ({error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read_archive_members(archive: Path, wanted: list) -> dict:
    """The bytes of the wanted members, read from the archive in memory (nothing written to disk)."""
    found = {}
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.name in wanted:
                    if not member.isfile():
                        raise DataError(f"{archive}: {member.name} is not a plain file")
                    found[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise DataError(f"{archive}: not a readable tar archive ({error})") from None
    missing = [name for name in wanted if name not in found]
    if missing:
        raise DataError(f"{archive}: the archive lacks {', '.join(missing)}; is it the official file?")
    return found


_CIFAR_RECORD = 1 + 3 * 32 * 32


def decode_cifar_binary(payload: bytes, source: str = "CIFAR-10 batch"):
    """A CIFAR-10 binary batch -> (images uint8 (N, 3, 32, 32), labels int64 (N,))."""
    if not payload or len(payload) % _CIFAR_RECORD:
        raise DataError(f"{source}: {len(payload):,} bytes is not a whole number of {_CIFAR_RECORD:,}-byte "
                        "CIFAR-10 records (1 label byte + 3,072 pixel bytes); the file is truncated or not CIFAR-10")
    records = np.frombuffer(payload, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    return records[:, 1:].reshape(-1, 3, 32, 32), _check_labels(records[:, 0], 10, source)


def decode_cifar_pickle(payload: bytes, source: str = "CIFAR-10 batch"):
    """A CIFAR-10 python batch (a pickled dict) -> (images (N, 3, 32, 32), labels (N,)), safely."""
    try:
        batch = RestrictedUnpickler(io.BytesIO(payload), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise DataError(f"{source}: not a CIFAR-10 python batch ({error})") from None
    if isinstance(batch, dict):
        batch = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in batch.items()}
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise DataError(f"{source}: not a CIFAR-10 python batch (expected a dict with 'data' and 'labels')")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{source}: 'data' should be a uint8 array (N, 3072), got "
                        f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
    labels = _check_labels(np.asarray(batch["labels"]), 10, source)
    if len(labels) != len(data):
        raise DataError(f"{source}: {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 train / 10,000 test colour images (3, 32, 32) uint8 in 10 classes.

    CIFAR10(root=None, train=True, download=True, transform=None); files in <data root>/cifar10/.
    Downloads the binary version (no pickle); an existing cifar-10-python.tar.gz is read safely.
    """

    name = "cifar10"
    title = "CIFAR-10"
    mirrors = ("https://www.cs.toronto.edu/~kriz/",)
    resources = (Resource("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"),)
    python_resource = Resource("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

    def __init__(self, root=None, train: bool = True, download: bool = True, transform=None):
        self.root = data_root(root) / self.name
        self.train = bool(train)
        resource = self.required_files(self.root)[0]
        archive, = fetch_files(self.title, self.name, self.root, [resource], self.mirrors,
                               download and resource is not self.python_resource)
        python = resource is self.python_resource
        inner = "cifar-10-batches-py" if python else "cifar-10-batches-bin"
        names = [f"data_batch_{i}" for i in range(1, 6)] if self.train else ["test_batch"]
        names = [f"{inner}/{n}" if python else f"{inner}/{n}.bin" for n in names]
        decode = decode_cifar_pickle if python else decode_cifar_binary
        parts = [decode(payload, f"{archive.name}:{member}")
                 for member, payload in self._members(archive, names).items()]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        super().__init__(images, labels, transform, "train" if self.train else "test")

    @classmethod
    def required_files(cls, folder: Path) -> tuple:
        """The binary archive, unless only the python archive is present (then that one)."""
        folder = Path(folder)
        if not (folder / cls.resources[0].filename).is_file() and (folder / cls.python_resource.filename).is_file():
            return (cls.python_resource,)
        return cls.resources

    def _members(self, archive: Path, names: list) -> dict:
        """The batch files' bytes: extracted once next to the archive, or read from it in memory."""
        if not all((self.root / name).is_file() for name in names) and os.access(self.root, os.W_OK):
            extract_archive(archive, self.root)
        if all((self.root / name).is_file() for name in names):
            return {name: (self.root / name).read_bytes() for name in names}
        return _read_archive_members(archive, names)

# %%
#| test
class _Py2Style(pickle._Pickler):
    """Writes bytes the way Python 2 wrote `str` (what the real CIFAR-10 pickles contain)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        self.write((pickle.SHORT_BINSTRING + bytes([len(obj)]) if len(obj) < 256
                    else pickle.BINSTRING + len(obj).to_bytes(4, "little")) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def test_unit_cifar_decoders_and_restricted_unpickler():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    labels = np.array([3, 9, 0, 1])
    records = np.concatenate([labels[:, None].astype(np.uint8), images.reshape(4, -1)], axis=1)
    got_images, got_labels = decode_cifar_binary(records.tobytes())
    assert np.array_equal(got_images, images) and got_labels.tolist() == [3, 9, 0, 1], (
        "binary records: byte 0 is the label, the next 3072 are the (3, 32, 32) pixels")
    stream = io.BytesIO()
    _Py2Style(stream, protocol=2).dump({b"batch_label": b"testing batch 1 of 1", b"labels": labels.tolist(),
                                        b"data": images.reshape(4, -1), b"filenames": [b"a.png"] * 4})
    py_images, py_labels = decode_cifar_pickle(stream.getvalue())
    assert np.array_equal(py_images, images) and np.array_equal(py_labels, labels), "python batches decode too"

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo this would run",))

    try:
        decode_cifar_pickle(pickle.dumps({"data": Evil()}, protocol=2))
    except DataError as error:
        assert "system" in str(error), f"the refusal should name what the pickle tried to load: {error}"
    else:
        raise AssertionError("a pickle that calls os.system must be refused, not executed")
    for bad in (records.tobytes()[:-1], b""):
        try:
            decode_cifar_binary(bad)
        except DataError:
            continue
        raise AssertionError("a truncated CIFAR-10 binary batch must raise DataError")
    print("✅ CIFAR-10: binary records and python batches decoded; a malicious pickle is refused")


test_unit_cifar_decoders_and_restricted_unpickler()

# %% [markdown]
# ### The course text's `CIFAR10Dataset`
#
# The course's opening promise writes CIFAR-10 the way early deep-learning tutorials did: one object
# holding both splits as ready-to-use arrays, handed to a loader together with their labels.
#
# ```python
# dataset = CIFAR10Dataset(download=True, flatten=False)
# train_loader = DataLoader(dataset.train_data, dataset.train_labels, batch_size=32)
# ```
#
# `CIFAR10Dataset` is that spelling over the `CIFAR10` class above — nothing is read twice or
# decoded differently. Its arrays are float32 in [0, 1], `(N, 3, 32, 32)` (or `(N, 3072)` with
# `flatten=True`), so they go straight into a model. That costs memory: the 50,000 training images
# take 614 MB as float32 against 154 MB as uint8 — the trade-off of section 5, made here for
# convenience. For large runs use `CIFAR10(transform=ToTensor())`, which converts per batch.

# %%
#| export
class CIFAR10Dataset:
    """Both CIFAR-10 splits as float32 arrays in [0, 1]: train_data (50000, 3, 32, 32), train_labels
    (50000,) int64, test_data, test_labels; flatten=True gives (N, 3072). Built on CIFAR10."""

    classes = CIFAR10.classes

    def __init__(self, root=None, download: bool = True, flatten: bool = False):
        for name, value in (("download", download), ("flatten", flatten)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"CIFAR10Dataset: {name} must be True or False, got {value!r}")
        self.flatten = bool(flatten)
        splits = {}
        for split in ("train", "test"):
            source = CIFAR10(root, train=split == "train", download=download)
            images = source.data.astype(np.float32) / np.float32(255)
            splits[split] = (images.reshape(len(images), -1) if self.flatten else images, source.targets)
            self.root = source.root
        (self.train_data, self.train_labels), (self.test_data, self.test_labels) = splits["train"], splits["test"]

    def __repr__(self) -> str:
        return (f"CIFAR10Dataset(train {self.train_data.shape}, test {self.test_data.shape}, float32 in [0, 1], "
                f"root {self.root})")

# %% [markdown]
# ## 11. Small datasets that ship with the course
#
# Real datasets are tens of megabytes and need a download. For quick experiments, tests and
# milestones that must run anywhere, the repository's `datasets/` folder holds three small ones,
# each an `.npz` file of plain uint8 arrays (saved without pickle, loaded with
# `allow_pickle=False`), verified by SHA-256 on load. `datasets/README.md` says where each comes
# from and how it was made; the scripts that made them sit next to them.
#
# | class | images | train / test | from |
# |---|---|---|---|
# | `TinyDigits` | (1, 8, 8) | 1,438 / 359 | scikit-learn's 8x8 digits (UCI), stratified split |
# | `TinyMNIST` | (1, 28, 28) | 1,000 / 200 | MNIST, 100 / 20 per class |
# | `TinyFashion` | (1, 28, 28) | 1,000 / 200 | Fashion-MNIST, 100 / 20 per class |
#
# They are `VisionDataset`s like the real ones: same `get_batch`, same transforms.

# %%
#| export
def shipped_folder() -> Path:
    """The repository's datasets/ folder, next to the tinytorch package (found from tinytorch/core/tensor.py)."""
    return Path(inspect.getfile(Tensor)).resolve().parents[2] / "datasets"


class ShippedDataset(VisionDataset):
    """A small dataset stored in the repository as an .npz of uint8 arrays, verified by SHA-256."""

    filename = ""
    sha256 = ""
    build_script = ""

    def __init__(self, root=None, train: bool = True, transform=None):
        self.root = Path(root).expanduser() if root is not None else shipped_folder()
        self.train = bool(train)
        path = self.root / self.filename
        restore = (f"it ships with the TinyTorch repository: restore it with `git checkout -- datasets/"
                   f"{self.filename}`, or rebuild it with `python datasets/{self.build_script}`")
        if not path.is_file():
            raise DatasetNotFoundError(f"{type(self).__name__}: {path} is missing; {restore}")
        problem = checksum_problem(path, Resource(self.filename, md5="", sha256=self.sha256))
        if problem is not None:
            raise ChecksumError(f"{type(self).__name__}: {path} failed its checksum ({problem}); {restore}")
        split = "train" if self.train else "test"
        with np.load(path, allow_pickle=False) as arrays:
            images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        super().__init__(images, _check_labels(labels, len(self.classes), str(path)), transform, split)

    @classmethod
    def required_files(cls, folder: Path) -> tuple:
        return (Resource(cls.filename, md5="", sha256=cls.sha256),)


class TinyDigits(ShippedDataset):
    """scikit-learn's 8x8 handwritten digits: 1,438 train / 359 test images (1, 8, 8) uint8."""

    name = "tinydigits"
    filename = "tinydigits.npz"
    sha256 = "f0f765d39e25993854c9a40512579769ce2ce2a3a6e037328a8680ff884ad781"
    build_script = "build_tinydigits.py"
    classes = MNIST.classes


class TinyMNIST(ShippedDataset):
    """1,000 train / 200 test MNIST digits (1, 28, 28) uint8, class-balanced."""

    name = "tinymnist"
    filename = "tinymnist.npz"
    sha256 = "23401fc1f2a44c785d83296f25df9278bc23dc7371be5858c2b4d7ed6fe95f96"
    build_script = "build_tinymnist.py"
    classes = MNIST.classes


class TinyFashion(ShippedDataset):
    """1,000 train / 200 test Fashion-MNIST images (1, 28, 28) uint8, class-balanced."""

    name = "tinyfashion"
    filename = "tinyfashion.npz"
    sha256 = "73c80858872e292b1b5127614e7104cebcb3bd9b7c10edbad7982de723dca46b"
    build_script = "build_tinyfashion.py"
    classes = FashionMNIST.classes

# %%
#| test
def test_unit_shipped_datasets():
    for cls, shape, sizes in [(TinyDigits, (1, 8, 8), (1438, 359)), (TinyMNIST, (1, 28, 28), (1000, 200)),
                              (TinyFashion, (1, 28, 28), (1000, 200))]:
        train, test = cls(train=True), cls(train=False)
        got = (len(train), len(test))
        assert got == sizes, f"{cls.__name__}: expected {sizes} train/test samples, got {got}"
        assert train.data.dtype == np.uint8 and train.data.shape[1:] == shape, (
            f"{cls.__name__}: images should be uint8 {shape}, got {train.data.dtype} {train.data.shape[1:]}")
        assert train.targets.dtype == np.int64 and set(np.unique(train.targets)) == set(range(10)), (
            f"{cls.__name__}: labels should be int64 covering 0..9")
    mnist = TinyMNIST(transform=Compose([ToTensor(), Normalize((0.1307,), (0.3081,))]))
    image, label = mnist[0]
    assert isinstance(image, Tensor) and image.shape == (1, 28, 28) and isinstance(label, int)
    images, labels = next(iter(DataLoader(mnist, batch_size=32, shuffle=True, seed=0)))
    assert images.shape == (32, 1, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64, (
        f"a batch should be float32 (32, 1, 28, 28) images and int64 (32,) labels, got {images.shape} "
        f"{images.dtype}, {labels.shape} {labels.dtype}")
    print("✅ TinyDigits, TinyMNIST, TinyFashion: verified, shapes, labels, a normalized batch")


test_unit_shipped_datasets()

# %% [markdown]
# ## 12. The dataset registry (used by `tito data`)
#
# `tito data list | fetch NAME | verify [NAME]` works from one table: dataset name -> class. The
# two functions below answer "which files does this dataset need, where, and are they intact?"
# without changing anything on disk, and "download whatever is missing".

# %%
#| export
DATASETS = {cls.name: cls for cls in (TinyDigits, TinyMNIST, TinyFashion, MNIST, FashionMNIST, CIFAR10)}


@dataclass
class FileStatus:
    """One file of a dataset on disk: state is 'verified', 'missing' or 'corrupt' (detail says why)."""

    path: Path
    state: str
    size: int | None = None
    detail: str = ""


def dataset_class(name: str):
    """The class registered under `name` ('mnist', 'fashion-mnist', ...); ValueError if unknown."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return DATASETS[key]


def dataset_folder(name: str, root=None, shipped=None) -> Path:
    """Where the dataset's files live: the shipped folder for the tiny ones, <data root>/<name> otherwise."""
    cls = dataset_class(name)
    if issubclass(cls, ShippedDataset):
        return Path(shipped) if shipped is not None else shipped_folder()
    return data_root(root) / cls.name


def dataset_status(name: str, root=None, shipped=None) -> list:
    """A FileStatus per required file of the dataset. Reads and hashes; never moves or writes."""
    cls = dataset_class(name)
    folder = dataset_folder(name, root, shipped)
    report = []
    for resource in cls.required_files(folder):
        path = folder / resource.filename
        if not path.is_file():
            report.append(FileStatus(path, "missing"))
            continue
        problem = checksum_problem(path, resource)
        report.append(FileStatus(path, "corrupt" if problem else "verified", path.stat().st_size, problem or ""))
    return report


def fetch_dataset(name: str, root=None) -> list:
    """Download and verify every official file of a downloadable dataset; returns their paths."""
    cls = dataset_class(name)
    if issubclass(cls, ShippedDataset):
        raise ValueError(f"{cls.name} ships with the repository; there is nothing to download")
    folder = dataset_folder(name, root)
    return fetch_files(cls.title, cls.name, folder, cls.required_files(folder), cls.mirrors, download=True)

# %% [markdown]
# ## 13. Putting it together
#
# A complete input pipeline for a digit classifier, as the training loops of the coming modules
# will use it: augmentation on uint8 (cheap), then conversion and normalization per batch.

# %%
_train_tf = Compose([RandomCrop(28, padding=2), ToTensor(), Normalize((0.1307,), (0.3081,))])
_train = TinyMNIST(train=True, transform=_train_tf)
_loader = DataLoader(_train, batch_size=128, shuffle=True, seed=0)
print(_loader)
for _epoch in range(2):
    _shapes = [(tuple(x.shape), tuple(y.shape)) for x, y in _loader]
    _x, _y = next(iter(_loader))
    print(f"epoch {_epoch}: {len(_shapes)} batches, first {_shapes[0]}, last {_shapes[-1]}, "
          f"pixel mean {float(_x.data.mean()):+.3f} std {float(_x.data.std()):.3f}")

# %% [markdown]
# ## 14. Weights from PyTorch: reading `.pt` files without running them
#
# The restricted unpickler of section 10 solves a second problem. A file written by `torch.save`
# (a `.pt` or `.pth` state_dict, the way most published weights still travel) is a zip archive:
#
# ```
#   model.pt  (zip)
#   ├── model/data.pkl      a pickle: the dict, and for each tensor a call
#   │                         torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
#   ├── model/data/0        raw bytes of storage 0 (the pickle refers to it by its key, "0")
#   ├── model/data/1  ...
#   ├── model/byteorder     "little" (or "big")
#   └── model/version       the format version
# ```
#
# `torch.load` unpickles `data.pkl` — and an unrestricted unpickler would call *any* function the
# file names. But a state_dict needs only a handful: `collections.OrderedDict`, the tensor
# rebuilders `_rebuild_tensor_v2` / `_rebuild_parameter`, and the typed storage names
# (`torch.FloatStorage`, ...) that tell the element type. `TorchUnpickler` extends
# `RestrictedUnpickler` with exactly those, mapped to our own NumPy functions; every other name
# is refused before anything runs. The storages arrive through pickle's **persistent id**
# mechanism: the pickle says "storage `0`, FloatStorage, 6 elements", and `persistent_load` reads
# `data/0` from the archive and checks it holds exactly 6 × 4 bytes. A tensor is then a
# `(offset, size, stride)` view of its storage — checked to stay inside it — copied into a Tensor.
#
# Torch does not need to be installed: the names in the pickle are only strings to look up in our
# table. A whole pickled `nn.Module` (`torch.save(model)`) names the model's classes and is
# refused, with a message that asks for the state_dict instead.

# %%
#| export
_TORCH_STORAGES = {"DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2", "BFloat16Storage": "bf16",
                   "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
                   "ByteStorage": "u1", "BoolStorage": "b1"}


@dataclass(frozen=True)
class _StorageType:
    """What find_class gives for torch.FloatStorage and the like: only the element type's name."""

    name: str


def _int_tuple(value, what: str) -> tuple:
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise pickle.UnpicklingError(f"a tensor's {what} must be a tuple of ints, got {value!r}")
    return tuple(value)


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                    metadata=None) -> Tensor:
    """torch._utils._rebuild_tensor_v2 for NumPy: the (offset, size, stride) view of a storage, copied."""
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise pickle.UnpicklingError("a tensor must be rebuilt from a storage record")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if (not isinstance(storage_offset, int) or storage_offset < 0 or len(size) != len(stride)
            or min(size + stride, default=0) < 0):
        raise pickle.UnpicklingError(f"a tensor has an invalid layout: offset {storage_offset!r}, size {size}, "
                                     f"stride {stride}")
    native = storage.dtype.newbyteorder("=")
    if math.prod(size) == 0:
        return Tensor(np.empty(size, dtype=native))
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= len(storage):
        raise pickle.UnpicklingError(f"a tensor of size {size} and stride {stride} at offset {storage_offset} "
                                     f"reaches element {last}, but its storage has only {len(storage)}")
    # Hint: np.lib.stride_tricks.as_strided(storage[storage_offset:], shape=size, strides=...) is
    #       the view (NumPy strides are in bytes: multiply by storage.itemsize); copy it into a
    #       native-byte-order array (np.array(view, dtype=native)) and wrap it in a Tensor.
    ### BEGIN SOLUTION
    view = np.lib.stride_tricks.as_strided(storage[storage_offset:], shape=size,
                                           strides=[s * storage.itemsize for s in stride])
    return Tensor(np.array(view, dtype=native))
    ### END SOLUTION


def _rebuild_parameter(data, requires_grad, backward_hooks) -> Tensor:
    """torch._utils._rebuild_parameter: a saved nn.Parameter becomes a Tensor that requires grad."""
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError("a parameter must be rebuilt from a tensor")
    if requires_grad and data.dtype.kind == "f":
        data.requires_grad_(True)
    return data


def _latin1_bytes(text, encoding="latin1") -> bytes:
    """_codecs.encode as protocol-2 pickles use it to store bytes (latin-1 text); no other codec."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


class TorchUnpickler(RestrictedUnpickler):
    """Reads the data.pkl of a torch.save zip: RestrictedUnpickler's plain data and NumPy arrays, plus
    exactly the callables that rebuild tensors. Storages come from the archive through persistent_load."""

    _allowed = {**RestrictedUnpickler._allowed,
                ("collections", "OrderedDict"): OrderedDict,
                ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
                ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
                ("_codecs", "encode"): _latin1_bytes,  # how protocol 2 stores bytes (inside NumPy arrays)
                **{("torch", name): _StorageType(name) for name in _TORCH_STORAGES}}

    def __init__(self, stream, read_record, byteorder: str):
        super().__init__(stream)
        self._read_record, self._order = read_record, "<" if byteorder == "little" else ">"
        self._storages: dict = {}

    def find_class(self, module: str, name: str):
        try:
            return super().find_class(module, name)
        except pickle.UnpicklingError:
            hint = (" (a pickled nn.Module or optimizer: save model.state_dict() instead)"
                    if module.startswith("torch") else "")
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a PyTorch weights file needs only "
                                         f"tensors, dicts and numbers, so this file is not one{hint}") from None

    def persistent_load(self, pid):
        """('storage', storage type, key, location, numel) -> the storage's elements as a 1-d array."""
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage" or not isinstance(pid[1], _StorageType)
                or not isinstance(pid[2], str) or isinstance(pid[4], bool) or not isinstance(pid[4], int)):
            raise pickle.UnpicklingError(f"unknown persistent record {pid!r} (expected a storage)")
        _, kind, key, _location, numel = pid
        if key not in self._storages:
            self._storages[key] = self._storage(kind.name, key, numel)
        return self._storages[key]

    def _storage(self, kind: str, key: str, numel: int) -> np.ndarray:
        code = _TORCH_STORAGES[kind]
        dtype = np.dtype(self._order + ("u2" if code == "bf16" else code))
        raw = self._read_record(key)
        if numel < 0 or len(raw) != numel * dtype.itemsize:
            raise pickle.UnpicklingError(f"storage {key!r} ({kind}) should hold {numel} elements = "
                                         f"{numel * dtype.itemsize} bytes, but data/{key} has {len(raw)}")
        values = np.frombuffer(raw, dtype=dtype)
        if code == "bf16":  # bfloat16 is the top half of a float32: widen it exactly
            values = (values.astype(np.uint32) << 16).view(np.float32)
        return values


def load_pytorch_file(f, source: str | None = None):
    """A torch.save zip file (a state_dict, or dicts/lists of tensors) -> the same structure with
    Tensors, without torch and without executing anything. f: a path or a binary file object.

    Refused with SerializationError: anything that is not PyTorch's zip layout, a pickle naming any
    callable besides the tensor rebuilders, storages whose size does not match, views outside them.
    """
    where = source or ("load_pytorch_file" if hasattr(f, "read") else f"load_pytorch_file({os.fspath(f)!r})")
    if not hasattr(f, "read") and not os.path.isfile(f):
        raise FileNotFoundError(f"{where}: no such file")
    try:
        archive = zipfile.ZipFile(f)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise SerializationError(f"{where}: not a PyTorch zip file ({error}); files from "
                                 "torch.save(..., _use_new_zipfile_serialization=False) are plain pickles and "
                                 "are refused") from None
    pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise SerializationError(f"{where}: expected one <archive>/data.pkl record (PyTorch's layout), found "
                                 f"{len(pickles)}")
    prefix = pickles[0][:-len("data.pkl")]
    byteorder = (archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
                 if prefix + "byteorder" in names else "little")
    if byteorder not in ("little", "big"):
        raise SerializationError(f"{where}: unknown byteorder {byteorder!r}")

    def read_record(key: str) -> bytes:
        name = f"{prefix}data/{key}"
        if name not in names:
            raise pickle.UnpicklingError(f"the pickle refers to storage {key!r}, but the archive has no {name}")
        return archive.read(name)

    try:
        with archive:
            return TorchUnpickler(io.BytesIO(archive.read(pickles[0])), read_record, byteorder).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            zipfile.BadZipFile, zlib.error) as error:
        raise SerializationError(f"{where}: {error}") from None

# %%
#| test
def _fake_torch_file(tensors: dict, extra_global=None) -> bytes:
    """A zip in torch.save's layout, written with the standard library only (no torch needed)."""
    import sys
    import types

    fake_torch, fake_utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        pass

    FloatStorage.__module__, _rebuild_tensor_v2.__module__ = "torch", "torch._utils"
    FloatStorage.__qualname__, _rebuild_tensor_v2.__qualname__ = "FloatStorage", "_rebuild_tensor_v2"
    fake_torch.FloatStorage, fake_utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2

    class Storage:
        def __init__(self, key, array):
            self.key, self.array = key, array

    class Rebuild:
        def __init__(self, storage, shape):
            self.storage, self.shape = storage, shape

        def __reduce__(self):
            strides = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
            return _rebuild_tensor_v2, (self.storage, 0, self.shape, strides, False, OrderedDict())

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.array.size)
            return None

    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = fake_torch, fake_utils
    try:
        storages = {name: Storage(str(i), np.asarray(a, dtype="<f4")) for i, (name, a) in enumerate(tensors.items())}
        state = OrderedDict((name, Rebuild(storages[name], tuple(np.shape(a)))) for name, a in tensors.items())
        if extra_global is not None:
            state["extra"] = extra_global
        stream = io.BytesIO()
        Writer(stream, protocol=2).dump(state)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", stream.getvalue())
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for storage in storages.values():
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
    return out.getvalue()


def test_unit_load_pytorch_file():
    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    state = load_pytorch_file(io.BytesIO(_fake_torch_file({"fc.weight": weight, "fc.bias": [0.5, -0.5]})))
    assert list(state) == ["fc.weight", "fc.bias"], f"keys in order, got {list(state)}"
    assert isinstance(state["fc.weight"], Tensor) and np.array_equal(state["fc.weight"].data, weight), (
        "the tensor must be rebuilt from its storage with the saved shape and strides")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo this would run",))

    try:
        load_pytorch_file(io.BytesIO(_fake_torch_file({"w": [1.0]}, extra_global=Evil())))
    except SerializationError as error:
        assert "refusing to load" in str(error) and "system" in str(error), f"the refusal should name it: {error}"
    else:
        raise AssertionError("a .pt file whose pickle calls os.system must be refused, not executed")
    print("✅ PyTorch zip state_dicts load without torch; a pickle naming os.system is refused")


test_unit_load_pytorch_file()

# %% [markdown]
# ## Analysis 1 — loader throughput vs batch size
#
# How many samples per second can each fetch path deliver? Below, the same 20,000 synthetic
# MNIST-sized uint8 images go through `ToTensor` + `Normalize`, once through the batch path
# (`get_batch`: one gather, one vectorized transform per batch) and once through the per-sample
# path (a Python call, a transform and a copy per image, then `default_collate`). Each
# measurement runs for about a fifth of a second.

# %%
#| analysis
import time


class _PerSample(Dataset):
    """Hides get_batch, so DataLoader falls back to ds[i] + default_collate."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, index):
        return self.base[index]


def samples_per_second(loader, budget=0.2) -> float:
    """Samples delivered per second, iterating until `budget` seconds have passed."""
    count, start = 0, time.perf_counter()
    while True:
        for images, _ in loader:
            count += images.shape[0]
            if time.perf_counter() - start > budget:
                return count / (time.perf_counter() - start)


_synthetic = VisionDataset(np.random.default_rng(0).integers(0, 256, (20_000, 1, 28, 28), dtype=np.uint8),
                           np.zeros(20_000, dtype=np.int64), Compose([ToTensor(), Normalize((0.1307,), (0.3081,))]))
print(f"{'batch size':>10} {'batch path':>16} {'per-sample path':>18} {'speed-up':>9}")
for _size in (1, 8, 32, 128, 512):
    _fast = samples_per_second(DataLoader(_synthetic, batch_size=_size))
    _slow = samples_per_second(DataLoader(_PerSample(_synthetic), batch_size=_size))
    print(f"{_size:>10} {_fast:>14,.0f}/s {_slow:>16,.0f}/s {_fast / _slow:>8.1f}x")

# %% [markdown]
# Read the table: at batch size 1 both paths pay Python overhead for every sample, so they are
# close. As the batch grows, the batch path's fixed cost per batch (a few Python calls) is shared
# by more samples, until copying bytes — memory bandwidth — becomes the limit; the per-sample path
# stays stuck at its cost per image. Compare the rates with the time of one training step on a
# batch of the same size: if the loader is slower, the model waits for data.

# %% [markdown]
# ## Analysis 2 — memory: uint8 at rest vs float32
#
# Measured with `nbytes` on TinyMNIST, and on arrays of the full datasets' shapes (allocated with
# `np.empty`, which reserves address space without touching the pages).

# %%
#| analysis
_tiny = TinyMNIST(train=True)
_rows = [("TinyMNIST train", _tiny.data)]
_rows += [(label, np.empty(shape, dtype=np.uint8)) for label, shape in
          [("MNIST train", (60_000, 1, 28, 28)), ("CIFAR-10 train", (50_000, 3, 32, 32))]]
print(f"{'dataset':<16} {'shape':>22} {'uint8':>10} {'float32':>10}")
for _label, _array in _rows:
    _as_float = _array.nbytes * np.dtype(np.float32).itemsize
    print(f"{_label:<16} {str(_array.shape):>22} {_array.nbytes / 1e6:>8.1f}MB {_as_float / 1e6:>8.1f}MB")
_batch = ToTensor()(_tiny.get_batch(np.arange(128))[0])
print(f"one float32 batch of 128 MNIST images: {_batch.nbytes / 1e6:.2f} MB (measured: {_batch.data.nbytes:,} bytes)")

# %% [markdown]
# ## Analysis 3 — vectorized vs per-image augmentation
#
# The same augmentation (pad 4, random 32 x 32 crop, random flip) on a batch of 256 CIFAR-sized
# uint8 images, written as a loop over images and as our batch transforms. Best of 5 runs.

# %%
#| analysis
def crop_flip_one_by_one(images, size, padding, rng):
    """The naive version: one np.pad, one slice and maybe one flip per image."""
    out = np.empty((len(images), images.shape[1], size, size), dtype=images.dtype)
    for i, image in enumerate(images):
        framed = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))
        row, col = rng.integers(0, framed.shape[1] - size + 1, size=2)
        window = framed[:, row:row + size, col:col + size]
        out[i] = window[:, :, ::-1] if rng.random() < 0.5 else window
    return out


def best_of(fn, repeats=5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


_cifar_like = np.random.default_rng(0).integers(0, 256, (256, 3, 32, 32), dtype=np.uint8)
_augment = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip()])
_loop_s = best_of(lambda: crop_flip_one_by_one(_cifar_like, 32, 4, np.random.default_rng(0)))
_vec_s = best_of(lambda: _augment(_cifar_like))
print(f"per-image loop: {_loop_s * 1e3:7.2f} ms per batch of 256 ({256 / _loop_s:>9,.0f} images/s)")
print(f"vectorized:     {_vec_s * 1e3:7.2f} ms per batch of 256 ({256 / _vec_s:>9,.0f} images/s)")
print(f"speed-up: {_loop_s / _vec_s:.1f}x")

# %% [markdown]
# ## Reflection questions
#
# Answer each in two to five sentences. Your instructor grades these by hand.
#
# **Q1.** A dataset file lists all images of class 0, then all of class 1, and so on. You train
# with `shuffle=False` and batch size 64. Describe what the loss curve looks like during the first
# epoch and why, and what the model predicts at the end of that epoch.

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q2.** From Analysis 1: at which batch size does the batch path stop getting faster per sample
# on your machine, and what limits it there? Why does the per-sample path hardly improve with
# batch size?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q3.** A classmate stores MNIST as float32 normalized arrays "to save work in the loader". Use
# Analysis 2 to say what this costs for MNIST and for CIFAR-10, and what it saves per batch.
# When could storing float32 actually be the right call?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q4.** `DataLoader(ds, shuffle=True, seed=0)` gives a different order every epoch but the same
# sequence of orders every run. Why is "the same order every epoch" worse for training, and why
# is "a different sequence every run" worse for debugging?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q5.** MD5 is considered broken, yet we still check MD5 sums of downloaded datasets. Against
# which failures does an MD5 check protect, and against which does it not? Why is loading the
# python version of CIFAR-10 with plain `pickle.load` a worse risk than a weak checksum?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# ## Summary
#
# - A `Dataset` is `len` + `[i]`; `TensorDataset` wraps in-memory tensors; `Subset` and
#   `random_split` carve out validation sets.
# - `DataLoader` batches, shuffles with a fresh permutation per epoch (reproducible with a seed),
#   honours `drop_last`, and collates samples — or, when the dataset offers `get_batch`, fetches a
#   whole batch with one gather.
# - Images live as uint8 `(N, C, H, W)` and become float32 per batch (`ToTensor`, `Normalize`);
#   augmentations (`RandomCrop`, `RandomHorizontalFlip`, `ColorJitter`) are vectorized over the batch.
# - IDX files are a 4-byte magic, big-endian sizes and raw values; `np.frombuffer` reads them.
# - Real datasets arrive through verified, resumable, atomic downloads; archives are extracted
#   safely and pickles are never trusted. Small datasets ship with the course for offline work.
# - PyTorch's `.pt` state_dicts load through a restricted unpickler that knows only the tensor
#   rebuilders; `DataLoader(images, labels, batch_size=...)` and `CIFAR10Dataset` are the course
#   text's spellings over the same classes.
#
# Next: module 09 (spatial) — convolution and pooling layers that see these image batches as images.
