"""Module 17: the affine map, observers and the exact int8 x int8 -> int32 product."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.systems import quantization as Q


# ----- quantize / dequantize ----------------------------------------------------------------
@settings(max_examples=40)
@given(bits=st.integers(2, 8), symmetric=st.booleans(), per_channel=st.booleans(), seed=st.integers(0, 2**16),
       shift=st.floats(-3, 3))
def test_round_trip_error_is_at_most_half_a_step(bits, symmetric, per_channel, seed, shift):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((6, 11)) * rng.uniform(0.01, 5, (6, 1)) + shift).astype(np.float32)
    qt = Q.quantize_tensor(x, bits, symmetric, per_channel, axis=0)
    assert qt.q.dtype == np.int8
    low, high = Q.qrange(bits, symmetric)
    assert qt.q.min() >= low and qt.q.max() <= high
    step = qt.scale.reshape(-1, 1) if per_channel else qt.scale
    worst = np.abs(qt.dequantize() - x)
    assert (worst <= step / 2 * (1 + 1e-5) + 1e-7).all()


def test_qrange_and_qparams_by_hand():
    assert Q.qrange(8, True) == (-127, 127) and Q.qrange(8, False) == (-128, 127)
    assert Q.qrange(2, True) == (-1, 1) and Q.qrange(4, False) == (-8, 7)
    scale, zero = Q.compute_qparams(-1.0, 3.0, bits=8, symmetric=False)
    assert scale == np.float32(4 / 255) and zero == -128 + 64  # -1 / (4/255) = -63.75 -> -64
    scale, zero = Q.compute_qparams(-0.5, 2.54, bits=8, symmetric=True)
    assert np.isclose(scale, 2.54 / 127) and zero == 0
    scale, zero = Q.compute_qparams(np.array([0.0, -2.0]), np.array([0.0, 2.0]), 8, True)
    assert scale.tolist() == [1.0, np.float32(2 / 127)] and scale.dtype == np.float32 and zero.dtype == np.int32


def test_zero_is_exact_and_range_widened_to_contain_it():
    x = np.array([2.0, 3.0, 5.0, 0.0], dtype=np.float32)  # min 0 -> z = qmin
    for symmetric in (True, False):
        qt = Q.quantize_tensor(x[:3], 8, symmetric)  # range [2, 5] widened to [0, 5]
        restored = Q.dequantize(Q.quantize(x, qt.scale, qt.zero_point, 8, symmetric), qt.scale, qt.zero_point)
        assert restored[3] == 0.0


def test_per_channel_beats_per_tensor_on_a_skewed_layer():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 32)).astype(np.float32) * 0.02
    w[3] *= 50
    errors = [np.linalg.norm(Q.quantize_tensor(w, 4, True, pc, 0).dequantize()[:3] - w[:3]) for pc in (False, True)]
    assert errors[1] < errors[0] / 8  # per tensor, the small rows mostly round to 0


def test_rounding_is_half_to_even_like_pytorch():
    codes = Q.quantize(np.array([0.5, 1.5, 2.5, -0.5], dtype=np.float32), 1.0, 0, 8, True)
    assert codes.tolist() == [0, 2, 2, 0]


@pytest.mark.parametrize("bits", [1, 9, 0, 16])
def test_bits_out_of_range_are_refused(bits):
    with pytest.raises(ValueError, match="bits must be from 2 to 8"):
        Q.quantize_tensor(np.ones(3, dtype=np.float32), bits=bits)


def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match="bits must be an int"):
        Q.qrange(8.0, True)
    with pytest.raises(TypeError, match="symmetric"):
        Q.compute_qparams(0, 1, 8, symmetric="yes")
    with pytest.raises(ValueError, match="lo <= hi"):
        Q.compute_qparams(2.0, 1.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        Q.quantize_tensor(np.array([1.0, np.inf], dtype=np.float32))
    with pytest.raises(TypeError, match="integers"):
        Q.dequantize(np.ones(2, dtype=np.float32), 1.0, 0)
    with pytest.raises(ValueError, match="axis"):
        Q.quantize(np.ones((2, 2), dtype=np.float32), 1.0, 0, axis=2)


# ----- observers ----------------------------------------------------------------------------
def test_observers_on_a_heavy_tail():
    rng = np.random.default_rng(1)
    data = rng.laplace(size=40000).astype(np.float32)
    results = {}
    for name in ("minmax", "percentile", "mse"):
        observer = Q.make_observer(name)
        for chunk in np.split(data, 8):
            observer.observe(chunk)
        lo, hi = observer.range(4, symmetric=True)
        results[name] = Q.quantization_mse(data, lo, hi, 4, True)[0]
    assert results["mse"] <= results["minmax"] and results["percentile"] < results["minmax"]
    assert observer.count == data.size and observer.sample.size <= observer.max_samples


def test_observer_sample_stays_uniform_across_batches():
    observer = Q.MinMaxObserver(max_samples=4000, seed=3)
    observer.observe(np.zeros(10000, dtype=np.float32))
    observer.observe(np.ones(30000, dtype=np.float32))
    share = observer.sample.mean()  # three quarters of everything seen were ones
    assert 0.7 < share < 0.8


def test_observer_errors():
    with pytest.raises(ValueError, match="no values observed"):
        Q.MinMaxObserver().range()
    with pytest.raises(ValueError, match="NaN"):
        Q.PercentileObserver().observe(np.array([np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match="percentile"):
        Q.PercentileObserver(percentile=120)
    with pytest.raises(ValueError, match="observer must be one of"):
        Q.make_observer("median")


# ----- integer matmul -----------------------------------------------------------------------
def test_block_bound_is_the_float32_exactness_limit():
    assert Q.BLOCK_K == 1024
    assert Q.BLOCK_K * 128 * 128 == 2**24
    # past 2^24, float32 skips odd integers, so a longer block could round: the bound is real
    assert np.float32(2**24) + np.float32(1) == np.float32(2**24)


def test_unblocked_float32_would_be_wrong_but_int8_matmul_is_exact():
    rng = np.random.default_rng(2)
    k = 8 * Q.BLOCK_K
    a = np.full((1, k), 127, dtype=np.int8)
    b = rng.choice(np.array([127, 125], dtype=np.int8), size=(k, 3))
    reference = a.astype(np.int64) @ b.astype(np.int64)
    single_pass = np.float32(0)
    for value in (a[0].astype(np.float32) * b[:, 0].astype(np.float32)):  # a sequential float32 sum
        single_pass += value
    assert int(single_pass) != reference[0, 0], "the float32 running sum past 2^24 should have rounded"
    assert (Q.int8_matmul(a, b) == reference).all()


@settings(max_examples=25)
@given(m=st.integers(1, 6), k=st.integers(1, 2500), n=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_int8_matmul_matches_int64(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (m, k), dtype=np.int64)
    b = rng.integers(-128, 128, (k, n), dtype=np.int64)
    got = Q.int8_matmul(a.astype(np.int8), b.astype(np.int8))
    assert got.dtype == np.int32 and np.array_equal(got, a @ b)


def test_affine_int_matmul_with_both_zero_points():
    rng = np.random.default_rng(4)
    qx = rng.integers(-128, 128, (7, 300)).astype(np.int8)
    qw = rng.integers(-128, 128, (5, 300)).astype(np.int8)
    zw = np.array([0, 3, -7, 127, -128])
    expected = np.einsum("mk,ok->mo", qx.astype(np.int64) + 40, qw.astype(np.int64) - zw[:, None])
    assert np.array_equal(Q.affine_int_matmul(qx, -40, qw, zw), expected)


def test_int8_matmul_rejects_other_dtypes_and_shapes():
    with pytest.raises(TypeError, match="np.int8"):
        Q.int8_matmul(np.ones((2, 2), dtype=np.int16), np.ones((2, 2), dtype=np.int8))
    with pytest.raises(ValueError, match="inner dimensions"):
        Q.int8_matmul(np.ones((2, 3), dtype=np.int8), np.ones((2, 2), dtype=np.int8))


# ----- bit packing --------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [2, 3, 4, 5, 7, 8])
def test_pack_unpack_round_trip(bits):
    low, high = Q.qrange(bits, False)
    codes = np.random.default_rng(bits).integers(low, high + 1, (5, 13)).astype(np.int8)
    packed = Q.pack_bits(codes, bits, low)
    assert packed.dtype == np.uint8 and packed.size == (codes.size * bits + 7) // 8
    assert np.array_equal(Q.unpack_bits(packed, bits, low, codes.shape), codes)
    with pytest.raises(ValueError, match="packed bytes"):
        Q.unpack_bits(packed[:-1], bits, low, codes.shape)
