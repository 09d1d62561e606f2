# Generated from modules/08_data/data.py by `tito export`. Do not edit: edit the module.

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
        rows = wrapped[0].shape[0]
        for position, t in enumerate(wrapped[1:], start=1):
            if t.shape[0] != rows:
                raise ValueError(f"TensorDataset: size mismatch between tensors: tensor 0 has {rows} "
                                 f"rows but tensor {position} has {t.shape[0]}; every tensor must "
                                 "have one row per sample")
        self.tensors = tuple(wrapped)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        """(t0[index], t1[index], ...) as Tensors (rows are views of the stored data, like PyTorch)."""
        # Hint: index each tensor's .data array and wrap the result in a Tensor, so no graph
        #       is recorded for data loading.
        return tuple(Tensor(t.data[index]) for t in self.tensors)

    def get_batch(self, indices):
        """The samples at `indices` (an int array), stacked: a tuple of Tensors of shape (B, ...)."""
        # Hint: the same as __getitem__, but with an integer array: NumPy gathers all rows at once.
        rows = np.asarray(indices, dtype=np.int64)
        return tuple(Tensor(t.data[rows]) for t in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorDataset({len(self)} samples; tensors {shapes})"


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
        order = self._epoch_indices()
        size = self.batch_size
        stop = len(order) - len(order) % size if self.drop_last else len(order)
        for start in range(0, stop, size):
            indices = order[start:start + size]
            if self._batched:
                yield _batch_to_tensors(self.dataset.get_batch(indices), f"{type(self.dataset).__name__}.get_batch")
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])

    def __repr__(self) -> str:
        path = "batched get_batch" if self._batched else "per-sample + collate"
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}; {len(self)} batches per epoch, {path})")


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
        mean = np.asarray(self.mean, dtype=array.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=array.dtype).reshape(-1, 1, 1)
        out = (array - mean) / std
        return Tensor(out) if as_tensor else out

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


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
        flip = rng.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip, ..., ::-1]
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
        padded = np.pad(batch, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=self.fill) if pad else batch
        top = rng.integers(0, padded.shape[2] - th + 1, size=n)
        left = rng.integers(0, padded.shape[3] - tw + 1, size=n)
        windows = sliding_window_view(padded, (th, tw), axis=(2, 3))
        out = windows[np.arange(n), :, top, left]
        return _restore(out, array, as_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


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
    view = np.lib.stride_tricks.as_strided(storage[storage_offset:], shape=size,
                                           strides=[s * storage.itemsize for s in stride])
    return Tensor(np.array(view, dtype=native))


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
