"""Module 08 with the spellings of the course text and of PyTorch scripts: DataLoader(inputs, targets,
batch_size=...), PyTorch's positional DataLoader(dataset, batch_size, shuffle, drop_last), and the
torch.utils.data namespace."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
from tinytorch.core.data import DataLoader, TensorDataset
from tinytorch.core.tensor import Tensor

X = np.arange(20, dtype=np.float32).reshape(10, 2)
Y = np.arange(10) % 3


@pytest.mark.parametrize("inputs, targets", [(X, Y), (Tensor(X), Tensor(Y)), (X, Tensor(Y))])
def test_inputs_and_targets_make_a_tensor_dataset(inputs, targets):
    loader = DataLoader(inputs, targets, batch_size=4)
    assert isinstance(loader.dataset, TensorDataset) and len(loader) == 3
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), Y)


def test_a_single_array_and_shuffling():
    loader = DataLoader(X, batch_size=5, shuffle=True, seed=0)
    rows = np.concatenate([b[0].data for b in loader])
    assert sorted(rows[:, 0].tolist()) == X[:, 0].tolist() and not np.array_equal(rows, X)


def test_pytorch_positional_batch_size_shuffle_drop_last():
    dataset = TensorDataset(X, Y)
    assert DataLoader(dataset, 4).batch_size == 4
    loader = DataLoader(dataset, 4, True, True)
    assert loader.shuffle and loader.drop_last and len(loader) == 2


@pytest.mark.parametrize("args, kwargs, error, message", [
    (lambda: (X, Y, 4), {}, TypeError, "must all be arrays or Tensors; pass batch_size=..."),
    (lambda: (TensorDataset(X), 4, True, False, None), {}, TypeError, "at most"),
    (lambda: (X, Y[:9]), {}, ValueError, "size mismatch"),
    (lambda: (X, Y), {"batch_size": 0}, ValueError, "batch_size"),
])
def test_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(*args(), **kwargs)


def test_torch_utils_data_namespace():
    data = tinytorch.utils.data
    assert data.DataLoader is DataLoader and data.TensorDataset is TensorDataset
    train, val = data.random_split(data.TensorDataset(X, Y), [0.8, 0.2], generator=np.random.default_rng(0))
    assert (len(train), len(val)) == (8, 2) and isinstance(train, data.Subset)
    assert issubclass(data.TensorDataset, data.Dataset)


def test_num_workers_and_pin_memory_are_accepted_and_change_nothing():
    plain = [b[0].data for b in DataLoader(X, Y, batch_size=4)]
    workers = [b[0].data for b in DataLoader(X, Y, batch_size=4, num_workers=4, pin_memory=True)]
    assert all(np.array_equal(a, b) for a, b in zip(plain, workers)) and len(plain) == len(workers)
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        DataLoader(X, Y, num_workers=-1)
    with pytest.raises(TypeError, match="pin_memory must be True or False"):
        DataLoader(X, Y, pin_memory="yes")
