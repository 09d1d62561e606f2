"""Module 08: Dataset, TensorDataset, default_collate, DataLoader, Subset and random_split."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)
from tinytorch.core.tensor import Tensor, manual_seed

FAST = settings(max_examples=40, deadline=None)


class Rows(Dataset):
    """Per-sample only (no get_batch): sample i = (vector of i's, i % 4)."""

    def __init__(self, n, width=3):
        self.n, self.width = n, width

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return np.full(self.width, index, dtype=np.float32), index % 4


def first_column(loader) -> list:
    """The sample ids in each batch: column 0 of 2-D data, the values themselves for 1-D data."""
    return [b[0].data.reshape(b[0].shape[0], -1)[:, 0].astype(int).tolist() for b in loader]


# ----- TensorDataset ---------------------------------------------------------------------------------
def test_tensor_dataset_rows_and_batches_agree():
    x = np.random.default_rng(0).standard_normal((7, 2, 3)).astype(np.float32)
    y = np.arange(7)
    ds = TensorDataset(Tensor(x), Tensor(y))
    assert len(ds) == 7
    picks = np.array([6, 0, 3, 3])
    batch = ds.get_batch(picks)
    for row, i in enumerate(picks):
        item = ds[int(i)]
        np.testing.assert_array_equal(batch[0].data[row], item[0].data)
        assert batch[1].data[row] == item[1].item() == y[i]
    assert all(isinstance(t, Tensor) and not t.requires_grad for t in ds[0])


def test_tensor_dataset_records_no_graph_even_for_grad_tensors():
    w = Tensor(np.ones((4, 2), np.float32), requires_grad=True)
    sample = TensorDataset(w)[1][0]
    assert sample._ctx is None and not sample.requires_grad, "data loading must not build a graph"


@pytest.mark.parametrize("lengths", [(12, 10), (3, 4), (5, 5, 2)])
def test_tensor_dataset_size_mismatch_names_both_lengths(lengths):
    tensors = [Tensor(np.zeros((n, 2))) for n in lengths]
    with pytest.raises(ValueError) as caught:
        TensorDataset(*tensors)
    message = str(caught.value)
    bad = next(n for n in lengths if n != lengths[0])
    assert str(lengths[0]) in message and str(bad) in message


@pytest.mark.parametrize("args, error", [((), ValueError), (([1, 2, 3],), TypeError),
                                         ((Tensor(np.float32(3.0)),), ValueError)])
def test_tensor_dataset_bad_arguments(args, error):
    with pytest.raises(error, match="TensorDataset"):
        TensorDataset(*args)


def test_dataset_base_class_demands_both_methods():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


# ----- default_collate ------------------------------------------------------------------------------
@pytest.mark.parametrize("samples, dtype, shape", [
    ([3, 1, 4], np.int64, (3,)),
    ([0.5, 2.0], np.float64, (2,)),
    ([True, False], np.bool_, (2,)),
    ([np.float32(1.5), np.float32(2.5)], np.float32, (2,)),
    ([np.zeros((2, 3), np.uint8), np.ones((2, 3), np.uint8)], np.uint8, (2, 2, 3)),
    ([Tensor(np.zeros(4, np.float32))] * 5, np.float32, (5, 4)),
])
def test_default_collate_stacks_like_pytorch(samples, dtype, shape):
    out = default_collate(samples)
    assert isinstance(out, Tensor) and out.dtype == dtype and out.shape == shape


def test_default_collate_structures():
    samples = [(np.full(2, i, np.float32), i, {"name": f"s{i}", "w": float(i)}) for i in range(3)]
    images, labels, extra = default_collate(samples)
    assert images.shape == (3, 2) and labels.data.tolist() == [0, 1, 2] and labels.dtype == np.int64
    assert extra["name"] == ["s0", "s1", "s2"] and extra["w"].dtype == np.float64
    Pair = namedtuple("Pair", "x y")
    out = default_collate([Pair(1, 2.0), Pair(3, 4.0)])
    assert isinstance(out, Pair) and out.x.data.tolist() == [1, 3]
    assert isinstance(default_collate([(1, 2), (3, 4)]), list), "tuples collate to a list, like PyTorch"


@pytest.mark.parametrize("samples, error, words", [
    ([np.zeros((2, 2)), np.zeros((2, 3))], ValueError, ["(2, 2)", "(2, 3)", "sample 1"]),
    ([(1, 2), (1, 2, 3)], ValueError, ["2", "3", "fields"]),
    ([{"a": 1}, {"b": 1}], ValueError, ["'a'", "'b'"]),
    ([object(), object()], TypeError, ["object"]),
    ([Tensor([1.0]), np.zeros(1)], TypeError, ["Tensor"]),
    ([], ValueError, ["empty"]),
])
def test_default_collate_errors_are_clear(samples, error, words):
    with pytest.raises(error) as caught:
        default_collate(samples)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_default_collate_rejects_a_non_list():
    with pytest.raises(TypeError, match="list of samples"):
        default_collate(np.zeros(3))


# ----- DataLoader -------------------------------------------------------------------------------------
@FAST
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), drop_last=st.booleans(), shuffle=st.booleans())
def test_loader_length_and_coverage(n, batch_size, drop_last, shuffle):
    loader = DataLoader(TensorDataset(np.arange(n, dtype=np.float32)), batch_size, shuffle, drop_last, seed=1)
    expected = n // batch_size if drop_last else math.ceil(n / batch_size)
    batches = [b[0].data.astype(int).tolist() for b in loader]
    assert len(loader) == len(batches) == expected
    assert all(len(b) == batch_size for b in batches[:-1] if b)
    seen = [i for b in batches for i in b]
    assert len(set(seen)) == len(seen), "no sample twice in one epoch"
    assert len(seen) == (expected * batch_size if drop_last else n)
    if not shuffle:
        assert seen == list(range(len(seen)))


def test_each_epoch_is_a_fresh_permutation_and_seeds_repeat():
    ds = TensorDataset(np.arange(50, dtype=np.float32))
    loader = DataLoader(ds, batch_size=50, shuffle=True, seed=3)
    epochs = [first_column(loader)[0] for _ in range(3)]
    assert len({tuple(e) for e in epochs}) == 3, "every epoch draws a new order"
    again = DataLoader(ds, batch_size=50, shuffle=True, seed=3)
    assert [first_column(again)[0] for _ in range(3)] == epochs, "the same seed replays the same epochs"
    other = DataLoader(ds, batch_size=50, shuffle=True, generator=np.random.default_rng(3))
    assert first_column(other)[0] == epochs[0], "seed=s is a generator seeded with s"


def test_global_seed_controls_the_default_shuffle():
    ds = TensorDataset(np.arange(30, dtype=np.float32))
    manual_seed(11)
    first = first_column(DataLoader(ds, batch_size=30, shuffle=True))
    manual_seed(11)
    assert first_column(DataLoader(ds, batch_size=30, shuffle=True)) == first


class TwoPaths(Dataset):
    """A dataset with both paths, so they can be compared on the very same indices."""

    def __init__(self, n):
        self.x = np.random.default_rng(0).integers(0, 255, (n, 1, 3, 3), dtype=np.uint8)
        self.y = np.arange(n) % 5

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], int(self.y[index])

    def get_batch(self, indices):
        return self.x[indices], self.y[indices]


@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_path_and_per_sample_path_give_identical_batches(shuffle):
    ds = TwoPaths(23)
    fast = DataLoader(ds, batch_size=5, shuffle=shuffle, seed=9)
    slow = DataLoader(ds, batch_size=5, shuffle=shuffle, seed=9, collate_fn=default_collate)
    assert fast._batched and not slow._batched, "a custom collate_fn must get the list of samples"
    for a, b in zip(fast, slow, strict=True):
        assert isinstance(a, list) and isinstance(b, list)
        for field_a, field_b in zip(a, b):
            assert field_a.dtype == field_b.dtype and field_a.shape == field_b.shape
            np.testing.assert_array_equal(field_a.data, field_b.data)


def test_custom_collate_receives_samples():
    received = []

    def collate(samples):
        received.append(samples)
        return len(samples)

    assert list(DataLoader(TwoPaths(7), batch_size=3, collate_fn=collate)) == [3, 3, 1]
    assert all(isinstance(s, list) and isinstance(s[0], tuple) for s in received)


def test_per_sample_path_for_datasets_without_get_batch():
    batches = list(DataLoader(Rows(5), batch_size=2))
    assert [b[0].shape for b in batches] == [(2, 3), (2, 3), (1, 3)]
    assert batches[0][1].dtype == np.int64 and batches[2][1].data.tolist() == [0]


def test_a_bad_get_batch_result_is_reported():
    class Broken(TwoPaths):
        def get_batch(self, indices):
            return "not arrays"

    with pytest.raises(TypeError, match="Broken.get_batch"):
        next(iter(DataLoader(Broken(4), batch_size=2)))


@pytest.mark.parametrize("kwargs, error, word", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": -3}, ValueError, "batch_size"),
    ({"batch_size": 2.0}, TypeError, "batch_size"),
    ({"batch_size": "4"}, TypeError, "batch_size"),
    ({"batch_size": None}, TypeError, "batch_size"),
    ({"batch_size": True}, TypeError, "batch_size"),
    ({"shuffle": "yes"}, TypeError, "shuffle"),
    ({"drop_last": 1}, TypeError, "drop_last"),
    ({"collate_fn": 42}, TypeError, "collate_fn"),
    ({"seed": 1, "generator": np.random.default_rng(1)}, ValueError, "not both"),
    ({"generator": 7}, TypeError, "generator"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_bad_loader_arguments(kwargs, error, word):
    with pytest.raises(error, match=word):
        DataLoader(Rows(4), **kwargs)


def test_empty_and_non_datasets_are_refused():
    with pytest.raises(ValueError, match="empty"):
        DataLoader(Rows(0), batch_size=4)
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(42)


def test_loader_repr_names_the_path():
    assert "batched" in repr(DataLoader(TwoPaths(4), batch_size=2))
    assert "per-sample" in repr(DataLoader(Rows(4), batch_size=2))


# ----- Subset and random_split ------------------------------------------------------------------------
def test_random_split_counts_fractions_and_disjointness():
    ds = TensorDataset(np.arange(11, dtype=np.float32))
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [6, 3, 2], "floor(5.5, 3.3, 2.2) = 5, 3, 2; the leftover 1 goes first"
    values = sorted(int(p[i][0].item()) for p in parts for i in range(len(p)))
    assert values == list(range(11))
    assert [len(p) for p in random_split(ds, [4, 7])] == [4, 7]


@pytest.mark.parametrize("lengths", [[5, 5], [0.5, 0.6], [-1, 12], ["a"], []])
def test_random_split_rejects_bad_lengths(lengths):
    with pytest.raises(ValueError, match="random_split"):
        random_split(TensorDataset(np.arange(11.0)), lengths)


def test_subset_keeps_or_lacks_the_batch_path_like_its_base():
    fast = Subset(TwoPaths(10), [7, 2, 5])
    assert hasattr(fast, "get_batch")
    images, labels = next(iter(DataLoader(fast, batch_size=3)))
    assert labels.data.tolist() == [2, 2, 0]
    slow = Subset(Rows(10), [9, 1])
    assert not hasattr(slow, "get_batch"), "no batch path to forward to"
    assert first_column(DataLoader(slow, batch_size=2)) == [[9, 1]]
