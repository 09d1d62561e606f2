"""Module 08: the IDX format (parse_idx on bytes, read_idx on .gz and plain files)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.data import DataError, parse_idx, read_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), dtype=st.sampled_from(DTYPES))
def test_parse_idx_round_trips_every_type_and_rank(make, data, dtype):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    elements = st.floats(-1e6, 1e6, width=32) if np.dtype(dtype).kind == "f" else None
    array = data.draw(hnp.arrays(dtype, shape, elements=elements))
    out = parse_idx(make.idx_bytes(array))
    assert out.shape == array.shape and out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable and out.flags.c_contiguous


def test_mnist_magic_numbers(make):
    images = make.idx_bytes(np.zeros((2, 28, 28), np.uint8))
    labels = make.idx_bytes(np.zeros(2, np.uint8))
    assert int.from_bytes(images[:4], "big") == 2051 and int.from_bytes(labels[:4], "big") == 2049
    assert parse_idx(images).shape == (2, 28, 28) and parse_idx(labels).shape == (2,)


def test_sizes_are_big_endian(make):
    data = make.idx_bytes(np.zeros((300, 2), np.uint8))
    assert data[4:8] == b"\x00\x00\x01\x2c", "300 = 0x012C, most significant byte first"
    assert parse_idx(data).shape == (300, 2)


@pytest.mark.parametrize("corrupt, words", [
    (lambda d: b"\x08\x03" + d[2:], "magic"),
    (lambda d: d[:2] + b"\x05" + d[3:], "type"),
    (lambda d: d[:-3], "mismatch"),
    (lambda d: d + b"\x00\x00", "mismatch"),
    (lambda d: d[:9], "truncated"),
    (lambda d: b"\x00", "magic"),
])
def test_bad_idx_bytes_raise_value_error(make, corrupt, words):
    good = make.idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    with pytest.raises(ValueError, match=words):
        parse_idx(corrupt(good))


def test_read_idx_reads_gz_and_plain_files(make, tmp_path):
    array = np.arange(20, dtype=np.int16).reshape(4, 5) - 7
    (tmp_path / "plain-idx2").write_bytes(make.idx_bytes(array))
    (tmp_path / "packed.gz").write_bytes(make.gz(make.idx_bytes(array)))
    (tmp_path / "packed-without-suffix").write_bytes(make.gz(make.idx_bytes(array)))
    for name in ("plain-idx2", "packed.gz", "packed-without-suffix"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_read_idx_reports_damaged_files_by_name(make, tmp_path):
    packed = make.gz(make.idx_bytes(np.zeros((4, 4), np.uint8)))
    cases = {"cut.gz": packed[: len(packed) // 2], "flipped.gz": packed[:12] + bytes(20) + packed[32:],
             "wrongmagic.gz": gzip.compress(b"\x01\x02\x08\x01" + bytes(8)), "missing.gz": None}
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError) as caught:
            read_idx(tmp_path / name)
        assert name in str(caught.value), f"the error for {name} should name the file: {caught.value}"
