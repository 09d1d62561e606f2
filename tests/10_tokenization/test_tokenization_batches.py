"""batch_blocks: shapes, the one-token shift, seeding, coverage of every start, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.text.tokenization import batch_blocks


def test_shapes_dtype_and_shift():
    ids = np.random.default_rng(0).integers(0, 65, 1000).astype(np.uint16)
    x, y = batch_blocks(ids, 64, 12, generator=np.random.default_rng(1))
    assert x.shape == y.shape == (12, 64) and x.dtype == y.dtype == np.int64
    assert x.data.flags.c_contiguous and y.data.flags.c_contiguous
    for row_x, row_y in zip(x.data, y.data):
        start = next(s for s in range(len(ids) - 64) if np.array_equal(ids[s:s + 64], row_x))
        assert np.array_equal(row_y, ids[start + 1:start + 65]), "y is the window shifted by one token"


def test_accepts_tensors():
    x, y = batch_blocks(tt.tensor(np.arange(50)), 5, 3, generator=np.random.default_rng(0))
    assert np.array_equal(y.data - x.data, np.ones((3, 5)))


def test_seeded_through_the_package_generator():
    ids = np.arange(10_000)
    tt.manual_seed(7)
    first = batch_blocks(ids, 16, 8)[0].data
    tt.manual_seed(7)
    assert np.array_equal(batch_blocks(ids, 16, 8)[0].data, first)
    assert not np.array_equal(batch_blocks(ids, 16, 8)[0].data, first), "consecutive batches differ"


def test_every_start_is_possible_and_none_overruns():
    ids = np.arange(20)
    x, y = batch_blocks(ids, 15, 4000, generator=np.random.default_rng(0))
    starts = x.data[:, 0]
    assert set(starts.tolist()) == set(range(5)), "starts 0..len-block-1 all occur"
    assert y.data.max() == 19


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(ids=[1, 2, 3], block_size=1, batch_size=1), TypeError, "ndarray or Tensor"),
    (dict(ids=np.zeros((4, 4), dtype=np.int64), block_size=1, batch_size=1), ValueError, "1-D integer"),
    (dict(ids=np.zeros(10), block_size=1, batch_size=1), ValueError, "dtype float64"),
    (dict(ids=np.arange(10), block_size=10, batch_size=1), ValueError, r"block_size \(10\) must be smaller"),
    (dict(ids=np.arange(10), block_size=0, batch_size=1), ValueError, "block_size must be a positive int"),
    (dict(ids=np.arange(10), block_size=2, batch_size=0), ValueError, "batch_size must be a positive int"),
    (dict(ids=np.arange(10), block_size=2, batch_size=2.0), ValueError, "batch_size"),
    (dict(ids=np.arange(10), block_size=2, batch_size=2, generator=0), TypeError, "numpy.random.Generator"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        batch_blocks(**kwargs)
