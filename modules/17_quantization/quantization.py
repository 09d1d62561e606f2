# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 17 — Quantization: int8 weights, int8 arithmetic, 4x smaller models
#
# A trained network stores every weight as a 32-bit float, but it does not need 32 bits of
# precision: the weights of one layer span a small range, and the network tolerates noise far
# larger than float32's rounding. **Quantization** stores each number as a small integer (8 bits,
# or fewer) plus one float scale per tensor or per channel. The model file shrinks 4x, memory
# traffic shrinks 4x, and on hardware with integer matrix units the arithmetic gets several times
# faster.
#
# **You will learn to**
#
# 1. map floats to integers and back with the **affine** scheme `x ≈ scale·(q − zero_point)`,
#    symmetric and asymmetric, per tensor and per channel, and bound the error (≤ scale/2);
# 2. **calibrate** activation ranges on real data with min/max, percentile and MSE observers;
# 3. multiply int8 by int8 with **exact int32 accumulation** — and prove when float32 BLAS can
#    do that exactly (every partial sum below 2^24);
# 4. build `QuantizedLinear` and `QuantizedConv2d` that dequantize once per output, and
#    `quantize_model` (post-training static quantization) and `quantize_dynamic`;
# 5. train with **fake quantization** and a straight-through estimator (QAT);
# 6. save int8 models (the file really is ~4x smaller) and measure error, accuracy, size and
#    time against the bit width on real digits.
#
# **Prerequisites:** modules 01–09 (`Tensor`, `Module`, `Linear`, losses, autograd with
# `Function`, optimizers, `Trainer` and checkpoints, data loaders, `Conv2d` with im2col).
# **Exports to:** `tinytorch/systems/quantization.py`, re-exported by `tinytorch.systems`.

# %%
#| default_exp systems.quantization

# %%
#| export
from __future__ import annotations

import copy
import json
import numbers
import os
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from tinytorch.core.autograd import Function, no_grad
from tinytorch.core.layers import Linear, Module
from tinytorch.core.spatial import Conv2d, _check_image, _geometry, _padding, im2col, pad
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import _atomic_write

# %% [markdown]
# ## 1. The affine map between floats and integers
#
# Pick a range `[lo, hi]` of real values and spread the `2^b` integers of a b-bit type evenly
# over it. Two numbers describe the map: the **scale** `s` (the real value of one integer step)
# and the **zero point** `z` (the integer that stands for the real 0):
#
# ```
#   real   lo ─────────────── 0 ─────────────────────────── hi
#           │                 │                              │
#   int   qmin ····· z-1      z      z+1 ···················qmax        s = (hi − lo) / (qmax − qmin)
#
#   quantize:    q = clamp(round(x / s) + z, qmin, qmax)                (np.int8)
#   dequantize:  x̂ = s · (q − z)                                        (float32)
# ```
#
# Inside the range, rounding moves a value by at most half a step, so **|x − x̂| ≤ s/2**. Outside
# it, values are clipped to the end of the range — the other error a range choice trades off.
#
# **Zero must be exact.** The range is always widened to contain 0, and `z` is an integer, so
# the real 0 (ReLU outputs, zero padding, pruned weights) is represented without error.
#
# **Two schemes.**
#
# - *Symmetric*: `z = 0`, the range is `[−m, m]` with `m = max|x|`, and the integers are
#   `−(2^(b−1) − 1) … 2^(b−1) − 1` (−127…127 for int8: the code −128 is left out so the grid is
#   symmetric). No zero point means cheaper arithmetic — the usual choice for **weights**, whose
#   distribution is centred on 0.
# - *Asymmetric* (affine): any `[lo, hi]`, `z ≠ 0`, all of −128…127. It wastes no codes on a
#   one-sided range — the usual choice for **activations**: after a ReLU, a symmetric scheme
#   would spend half of its codes on negative values that never occur.
#
# **Granularity.** One scale for a whole tensor (*per tensor*), or one per output channel
# (*per channel*: each row of a Linear weight, each filter of a conv). One channel with large
# weights then no longer forces a coarse grid on all the others.
#
# Every b from 2 to 8 is supported; the values always live in an `np.int8` array (in the saved
# file, fewer bits are packed densely — section 6).

# %%
#| export
class QuantizedFileError(ValueError):
    """A file that is not a readable quantized TinyTorch model, or does not fit the model it is loaded into."""


def _check_bits(bits, where: str, name: str = "bits") -> int:
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int from 2 to 8, got {bits!r} ({type(bits).__name__})")
    if not 2 <= bits <= 8:
        raise ValueError(f"{where}: {name} must be from 2 to 8 (values are stored in np.int8), got {bits}")
    return int(bits)


def _check_flag(value, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return value


def qrange(bits: int, symmetric: bool) -> tuple[int, int]:
    """(qmin, qmax) of a signed b-bit grid: symmetric (-(2^(b-1)-1), 2^(b-1)-1), else (-2^(b-1), 2^(b-1)-1)."""
    bits = _check_bits(bits, "qrange")
    half = 2 ** (bits - 1)
    return (-(half - 1) if symmetric else -half), half - 1


def compute_qparams(lo, hi, bits: int = 8, symmetric: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(scale float32, zero_point int32) that map [lo, hi] (widened to contain 0) onto the b-bit grid.

    lo, hi: numbers or arrays of the same shape (one per channel); the results have that shape.
    Symmetric: scale = max(|lo|, |hi|) / qmax, zero_point = 0. Asymmetric: scale = (hi - lo) /
    (qmax - qmin), zero_point = round(qmin - lo / scale), clipped to [qmin, qmax]. A range of
    width 0 (an all-zero channel) gets scale 1.
    """
    bits = _check_bits(bits, "compute_qparams")
    _check_flag(symmetric, "symmetric", "compute_qparams")
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if lo.shape != hi.shape:
        raise ValueError(f"compute_qparams: lo and hi must have the same shape, got {lo.shape} and {hi.shape}")
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise ValueError("compute_qparams: the range must be finite (NaN or inf in the data being quantized?)")
    if (lo > hi).any():
        raise ValueError(f"compute_qparams: expected lo <= hi, got lo={lo} and hi={hi}")
    qmin, qmax = qrange(bits, symmetric)
    # Hint: widen the range to contain 0 first: lo = min(lo, 0), hi = max(hi, 0) (np.minimum/np.maximum).
    #       Symmetric: scale = max(|lo|, |hi|) / qmax and a zero point of 0 everywhere.
    #       Asymmetric: scale = (hi - lo) / (qmax - qmin); zero_point = qmin - round(lo / scale),
    #       clipped to [qmin, qmax]. Where the scale came out 0, use 1 instead (np.where) so that
    #       quantize never divides by zero. Return scale as float32 and zero_point as int32 arrays.
    ### BEGIN SOLUTION
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    if symmetric:
        scale = np.maximum(-lo, hi) / qmax
    else:
        scale = (hi - lo) / (qmax - qmin)
    scale = np.where(scale > 0, scale, 1.0)
    if symmetric:
        zero_point = np.zeros(scale.shape)
    else:
        zero_point = np.clip(qmin - np.rint(lo / scale), qmin, qmax)
    return scale.astype(np.float32), zero_point.astype(np.int32)
    ### END SOLUTION


def _along(values, axis: int | None, ndim: int) -> np.ndarray:
    """Per-channel `values` (C,) shaped to broadcast along `axis` of an ndim-D array; scalars as they are."""
    values = np.asarray(values)
    if axis is None or values.ndim == 0:
        return values
    shape = [1] * ndim
    shape[axis] = values.shape[0]
    return values.reshape(shape)


def _check_array(x, where: str) -> np.ndarray:
    array = x.data if isinstance(x, Tensor) else np.asarray(x)
    if array.dtype.kind != "f":
        raise TypeError(f"{where}: expected floating-point values, got dtype {array.dtype}")
    return array


def _check_axis(axis, ndim: int, where: str) -> int | None:
    if axis is None:
        return None
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{where}: axis must be None or an int in [{-ndim}, {ndim}), got {axis!r}")
    return int(axis) % ndim


def quantize(x, scale, zero_point, bits: int = 8, symmetric: bool = True, axis: int | None = None) -> np.ndarray:
    """q = clamp(round(x / scale) + zero_point, qmin, qmax) as np.int8. Shape: any -> same.

    scale, zero_point: scalars, or one per index of `axis` (per channel). Rounds half to even
    (np.rint), as PyTorch does.
    """
    where = "quantize"
    x = _check_array(x, where)
    axis = _check_axis(axis, x.ndim, where)
    qmin, qmax = qrange(bits, _check_flag(symmetric, "symmetric", where))
    # Scale and zero point in x's float type: an int32 zero point would promote float32 to float64.
    scale = _along(np.asarray(scale, dtype=x.dtype), axis, x.ndim)
    zero_point = _along(np.asarray(zero_point, dtype=x.dtype), axis, x.ndim)
    # Hint: divide by the scale, round with np.rint, add the zero point, clip to [qmin, qmax]
    #       (np.clip), and convert to np.int8. Work in float32: x.dtype or wider.
    ### BEGIN SOLUTION
    q = np.rint(x / scale) + zero_point
    return np.clip(q, qmin, qmax).astype(np.int8)
    ### END SOLUTION


def dequantize(q, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """x̂ = scale * (q - zero_point) as float32. Shape: any -> same."""
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise TypeError(f"dequantize: q must hold integers (np.int8), got dtype {q.dtype}")
    axis = _check_axis(axis, q.ndim, "dequantize")
    scale = _along(np.asarray(scale, dtype=np.float32), axis, q.ndim)
    zero_point = _along(np.asarray(zero_point, dtype=np.float32), axis, q.ndim)
    # Hint: subtract in a wide type (q.astype(np.float32) - zero_point), then multiply by scale.
    ### BEGIN SOLUTION
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)
    ### END SOLUTION


@dataclass
class QuantizedTensor:
    """Integer values q (np.int8) with their scale(s) and zero point(s): x ≈ scale * (q - zero_point).

    axis: None for one scale (per tensor), or the axis that has one scale per index (per channel).
    """

    q: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    bits: int
    symmetric: bool
    axis: int | None = None

    def dequantize(self) -> np.ndarray:
        return dequantize(self.q, self.scale, self.zero_point, self.axis)

    @property
    def nbytes(self) -> int:
        """Bytes held in memory: the int8 values plus the scales and zero points."""
        return self.q.nbytes + self.scale.nbytes + self.zero_point.nbytes

    def packed_nbytes(self) -> int:
        """Bytes of the values when packed at `bits` bits each (how save_quantized stores them)."""
        return (self.q.size * self.bits + 7) // 8 + self.scale.nbytes + self.zero_point.nbytes


def _channel_ranges(x: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    if axis is None:
        return np.asarray(x.min() if x.size else 0.0), np.asarray(x.max() if x.size else 0.0)
    rows = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    if rows.shape[1] == 0:
        zeros = np.zeros(rows.shape[0])
        return zeros, zeros
    return rows.min(axis=1), rows.max(axis=1)


def quantize_tensor(x, bits: int = 8, symmetric: bool = True, per_channel: bool = False,
                    axis: int = 0) -> QuantizedTensor:
    """Quantize x with the range of its own values (min/max), per tensor or per channel along `axis`."""
    where = "quantize_tensor"
    x = _check_array(x, where)
    bits = _check_bits(bits, where)
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: x contains NaN or inf; quantization needs finite values")
    axis = _check_axis(axis, x.ndim, where) if _check_flag(per_channel, "per_channel", where) else None
    if axis is not None and x.ndim == 0:
        raise ValueError(f"{where}: per_channel needs at least a 1-D array, got a scalar")
    scale, zero_point = compute_qparams(*_channel_ranges(x, axis), bits=bits, symmetric=symmetric)
    return QuantizedTensor(quantize(x, scale, zero_point, bits, symmetric, axis), scale, zero_point, bits,
                           symmetric, axis)


# %%
#| test
def test_unit_affine_quantization():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 40)).astype(np.float32)
    for bits in (8, 4, 2):
        for symmetric in (True, False):
            qt = quantize_tensor(x, bits, symmetric)
            assert qt.q.dtype == np.int8, f"quantized values must be stored as np.int8, got {qt.q.dtype}"
            qmin, qmax = qrange(bits, symmetric)
            assert qmin <= qt.q.min() and qt.q.max() <= qmax, f"{bits}-bit values outside [{qmin}, {qmax}]"
            error = np.abs(qt.dequantize() - x).max()
            assert error <= qt.scale / 2 * (1 + 1e-5), (
                f"bits={bits}, symmetric={symmetric}: the worst error {error:.4g} exceeds scale/2 = "
                f"{qt.scale / 2:.4g}; with min/max ranges every value is inside the range, so rounding "
                "is the only error (check the zero point and the rounding)")
    relu_out = np.abs(x)
    qt = quantize_tensor(relu_out, 8, symmetric=False)
    assert qt.zero_point == -128, f"a range [0, m] should put the real 0 at qmin=-128, got {qt.zero_point}"
    assert qt.dequantize()[relu_out == relu_out.min()].min() >= 0
    zeros = np.zeros(5, dtype=np.float32)
    assert (quantize_tensor(zeros).dequantize() == 0).all(), "an all-zero tensor must come back as zeros"
    q = quantize(np.array([0.0, 1.0, -1.0, 0.5], dtype=np.float32), 0.5, 3, bits=8, symmetric=False)
    assert q.tolist() == [3, 5, 1, 4], f"q = round(x / 0.5) + 3 for [0, 1, -1, 0.5] is [3, 5, 1, 4], got {q.tolist()}"
    print("✅ quantize/dequantize: int8 storage, error <= scale/2, exact zero, both schemes")


test_unit_affine_quantization()

# %% [markdown]
# ### Per channel vs per tensor
#
# Real layers are skewed: after training, some output channels have weights ten times larger
# than others. With one scale per tensor, the large channel sets the step size and the small
# channels get only a handful of integer codes. Below, a Linear-like weight whose first row is
# 20x larger than the rest.

# %%
#| test
def test_unit_per_channel_beats_per_tensor():
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((8, 64)).astype(np.float32) * 0.05
    weight[0] *= 20
    per_tensor = quantize_tensor(weight, 8, per_channel=False)
    per_channel = quantize_tensor(weight, 8, per_channel=True, axis=0)
    assert per_channel.scale.shape == (8,), f"one scale per output row expected, got {per_channel.scale.shape}"
    err_tensor = np.mean((per_tensor.dequantize() - weight) ** 2)
    err_channel = np.mean((per_channel.dequantize() - weight) ** 2)
    small_tensor = np.mean((per_tensor.dequantize()[1:] - weight[1:]) ** 2)
    small_channel = np.mean((per_channel.dequantize()[1:] - weight[1:]) ** 2)
    assert err_channel < err_tensor / 4 and small_channel < small_tensor / 100, (
        f"per-channel MSE {err_channel:.3g} (small rows {small_channel:.3g}) should be far below per-tensor MSE "
        f"{err_tensor:.3g} (small rows {small_tensor:.3g}) on a layer whose first row is 20x larger: each row "
        "must get its own scale (quantize along axis 0)")
    print(f"✅ per-channel MSE {err_channel:.2e} vs per-tensor {err_tensor:.2e} overall; on the small rows "
          f"{small_tensor / small_channel:.0f}x better")


test_unit_per_channel_beats_per_tensor()

# %% [markdown]
# ## 2. Calibration: choosing activation ranges from data
#
# Weights are known once training ends; their min/max are exact. **Activations** depend on the
# input, so for *static* quantization we run a few hundred real inputs through the float model
# (the **calibration set**), watch the values that reach each layer, and fix a range from them.
# An **observer** does the watching. Three ways to turn what it saw into a range:
#
# ```
#   values seen ▁▂▅█▇▅▃▂▁▁                         ▁  (one outlier)
#               └──────── most of the mass ───┘    └ max
#   min/max:     [───────────────────────────────────]   covers everything; coarse steps
#   percentile:  [──────────────────────────]             clips the rare tail (99.99%)
#   MSE:         [─────────────────────────────]          the range whose quantize→dequantize
#                                                         error (rounding + clipping) is smallest
# ```
#
# Min/max never clips but one outlier can make the step size huge. A percentile ignores the top
# 0.01%. MSE search tries many clipping points and keeps the one with the least total error on
# the observed values. Observers keep exact min/max plus a bounded random sample of the values
# (so memory does not grow with the calibration set) for the percentile and MSE searches.

# %%
#| export
def _check_calibration_values(values, where: str) -> np.ndarray:
    array = _check_array(values, where).reshape(-1)
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{where}: the calibration data contains {bad} NaN or inf value(s); clean the "
                         "calibration set (ranges from non-finite values are meaningless)")
    return array


class Observer:
    """Watches the values that flow through one place during calibration and proposes a range.

    observe(values) updates the exact min/max and a random sample of at most `max_samples`
    values; range(bits, symmetric) -> (lo, hi); qparams(bits, symmetric) -> (scale, zero_point).
    """

    def __init__(self, max_samples: int = 1 << 16, seed: int = 0):
        if isinstance(max_samples, bool) or not isinstance(max_samples, numbers.Integral) or max_samples < 1:
            raise ValueError(f"{type(self).__name__}: max_samples must be a positive int, got {max_samples!r}")
        self.max_samples = int(max_samples)
        self.rng = np.random.default_rng(seed)
        self.min = np.inf
        self.max = -np.inf
        self.count = 0
        self._sample = np.empty(0, dtype=np.float32)

    def observe(self, values) -> None:
        array = _check_calibration_values(values, type(self).__name__ + ".observe")
        if array.size == 0:
            return
        self.min, self.max = min(self.min, float(array.min())), max(self.max, float(array.max()))
        self.count += array.size
        # Keep the sample a uniform draw from everything seen so far: of the `size` values of the
        # new sample, the number coming from this batch follows the hypergeometric distribution
        # (drawing `size` of the seen + new values without replacement).
        seen_before = self.count - array.size
        size = min(self.count, self.max_samples)
        from_batch = int(self.rng.hypergeometric(array.size, seen_before, size)) if seen_before else size
        old = self._sample[self.rng.choice(self._sample.size, size - from_batch, replace=False)]
        new = array[self.rng.choice(array.size, from_batch, replace=False)]
        self._sample = np.concatenate([old, new.astype(np.float32)])

    @property
    def sample(self) -> np.ndarray:
        if self.count == 0:
            raise ValueError(f"{type(self).__name__}: no values observed yet; run calibration data through the "
                             "model first (the calibration set was empty?)")
        return self._sample

    def range(self, bits: int = 8, symmetric: bool = False) -> tuple[float, float]:
        self.sample  # raises when nothing was observed
        return self.min, self.max

    def qparams(self, bits: int = 8, symmetric: bool = False) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.range(bits, symmetric)
        return compute_qparams(lo, hi, bits, symmetric)


class MinMaxObserver(Observer):
    """The range is [min, max] of everything observed: nothing is ever clipped."""


class PercentileObserver(Observer):
    """The range is [(100 - p)-th, p-th] percentile of the observed values (p = 99.99 by default)."""

    def __init__(self, percentile: float = 99.99, max_samples: int = 1 << 16, seed: int = 0):
        super().__init__(max_samples, seed)
        if isinstance(percentile, bool) or not isinstance(percentile, numbers.Real) or not 50 < percentile <= 100:
            raise ValueError(f"PercentileObserver: percentile must be in (50, 100], got {percentile!r}")
        self.percentile = float(percentile)

    def range(self, bits: int = 8, symmetric: bool = False) -> tuple[float, float]:
        # Hint: np.percentile of self.sample at 100 - p and at p (p = self.percentile).
        ### BEGIN SOLUTION
        lo, hi = np.percentile(self.sample, [100 - self.percentile, self.percentile])
        return float(lo), float(hi)
        ### END SOLUTION


def quantization_mse(values: np.ndarray, lo, hi, bits: int, symmetric: bool) -> np.ndarray:
    """Mean squared quantize->dequantize error of `values` for each candidate range (lo[i], hi[i]).

    lo, hi: (R,) candidate ranges; returns (R,) float64. Includes rounding and clipping error.
    """
    lo, hi = np.atleast_1d(lo), np.atleast_1d(hi)
    scale, zero_point = compute_qparams(lo, hi, bits, symmetric)
    qmin, qmax = qrange(bits, symmetric)
    v = values.astype(np.float32)[None, :]
    errors = np.empty(lo.shape[0])
    step = max(1, (1 << 20) // max(v.size, 1))  # candidates per chunk: temporaries of ~4 MB
    for start in range(0, lo.shape[0], step):
        s, z = scale[start:start + step, None], zero_point[start:start + step, None].astype(np.float32)
        restored = (np.clip(np.rint(v / s) + z, qmin, qmax) - z) * s
        errors[start:start + step] = np.mean((restored - v) ** 2, axis=1, dtype=np.float64)
    return errors


class MSEObserver(Observer):
    """The range whose quantization error (rounding + clipping) on the observed values is smallest.

    Tries `candidates` clipping points per end, as fractions f in (0, 1] of min and max: one
    factor for both ends in the symmetric scheme, every pair (f_lo, f_hi) in the asymmetric one
    (a one-sided outlier then shrinks only its own end). min/max (f = 1) is always a candidate,
    so the result is never worse than MinMaxObserver on the sample.
    """

    def __init__(self, candidates: int = 32, max_samples: int = 1 << 13, seed: int = 0):
        super().__init__(max_samples, seed)
        if isinstance(candidates, bool) or not isinstance(candidates, numbers.Integral) or candidates < 1:
            raise ValueError(f"MSEObserver: candidates must be a positive int, got {candidates!r}")
        self.candidates = int(candidates)

    def range(self, bits: int = 8, symmetric: bool = False) -> tuple[float, float]:
        values = self.sample
        lo, hi = min(self.min, 0.0), max(self.max, 0.0)
        factors = np.linspace(1 / self.candidates, 1.0, self.candidates)
        # Hint: the candidate ranges: symmetric: (factors * lo, factors * hi), one factor for both
        #       ends; asymmetric: every pair, np.meshgrid(factors * lo, factors * hi) flattened.
        #       quantization_mse gives each candidate's error on `values`; return the range with
        #       the smallest error (np.argmin), as two floats.
        ### BEGIN SOLUTION
        if symmetric:
            lows, highs = factors * lo, factors * hi
        else:
            lows, highs = (grid.reshape(-1) for grid in np.meshgrid(factors * lo, factors * hi))
        best = int(np.argmin(quantization_mse(values, lows, highs, bits, symmetric)))
        return float(lows[best]), float(highs[best])
        ### END SOLUTION


OBSERVERS = {"minmax": MinMaxObserver, "percentile": PercentileObserver, "mse": MSEObserver}


def make_observer(kind) -> Observer:
    """An Observer from a name ('minmax', 'percentile', 'mse'), an Observer class, or a factory."""
    if isinstance(kind, str):
        if kind not in OBSERVERS:
            raise ValueError(f"observer must be one of {sorted(OBSERVERS)}, got {kind!r}")
        return OBSERVERS[kind]()
    if isinstance(kind, type) and issubclass(kind, Observer):
        return kind()
    if callable(kind):
        made = kind()
        if isinstance(made, Observer):
            return made
    raise TypeError(f"observer must be a name {sorted(OBSERVERS)}, an Observer class or a factory returning one, "
                    f"got {kind!r}")


# %%
#| test
def test_unit_observers():
    rng = np.random.default_rng(2)
    batches = [rng.standard_normal(5000).astype(np.float32) for _ in range(4)]
    batches[2][7] = 60.0  # one outlier, 15 standard deviations out
    observers = {name: make_observer(name) for name in OBSERVERS}
    for observer in observers.values():
        for batch in batches:
            observer.observe(batch)
    everything = np.concatenate(batches)
    lo, hi = observers["minmax"].range()
    assert (lo, hi) == (everything.min(), everything.max()), f"min/max must be exact, got {(lo, hi)}"
    _, p_hi = observers["percentile"].range()
    assert p_hi < 10, f"the 99.99th percentile must ignore the single outlier at 60, got hi={p_hi:.2f}"
    errors = {}
    for name, observer in observers.items():
        r_lo, r_hi = observer.range(4, symmetric=False)
        errors[name] = quantization_mse(everything, r_lo, r_hi, 4, False)[0]
    assert errors["mse"] < errors["minmax"] / 4, (
        f"at 4 bits, on data with one huge outlier, the MSE observer's range should give far less error than "
        f"min/max: {errors}")
    assert len(observers["mse"].sample) <= observers["mse"].max_samples
    try:
        MinMaxObserver().observe(np.array([1.0, np.nan], dtype=np.float32))
    except ValueError as error:
        assert "NaN" in str(error), str(error)
    else:
        raise AssertionError("observing NaN must raise ValueError")
    print("✅ observers: exact min/max, percentile ignores outliers, MSE minimises 4-bit error: "
          + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))


test_unit_observers()

# %% [markdown]
# ## 3. Integer matrix multiplication, exactly
#
# A quantized layer computes with the integers. Write both operands in the affine form,
# `x ≈ s_x (q_x − z_x)` and `w ≈ s_w (q_w − z_w)`, and the dot product factors:
#
# ```
#   y[m, o] = Σ_k x[m, k] · w[o, k]
#           ≈ s_x · s_w[o] · Σ_k (q_x[m, k] − z_x)(q_w[o, k] − z_w[o])
#           = s_x · s_w[o] · ( Σ_k q_x·q_w  −  z_w[o]·Σ_k q_x[m, k]  −  z_x·Σ_k q_w[o, k]  +  K·z_x·z_w[o] )
#                              └ int8×int8 ┘    └ row sums of the input ┘  └ per-channel constant ┘
# ```
#
# The big term is a plain int8 × int8 matrix product, **accumulated in int32** (a product of two
# int8 values needs 15 bits; a sum of K of them, 15 + log2 K). The corrections are cheap sums
# (zero for symmetric weights), and the floats appear once per **output**: one multiply by
# `s_x·s_w[o]` — "dequantize once per output".
#
# **How we get an int32 accumulation out of NumPy.** NumPy's integer `matmul` runs plain loops
# without BLAS (try it in the analysis: tens of times slower). float32 BLAS is fast, and it is
# *exact on integers* as long as every number it forms is an integer of magnitude ≤ 2^24 (float32
# has a 24-bit significand). Each partial sum of K products is bounded by K·128·128 whatever
# order BLAS adds in, so:
#
# ```
#   K · 128 · 128 ≤ 2^24   ⟺   K ≤ 1024 = BLOCK_K
# ```
#
# We therefore cut the K dimension into blocks of at most 1024, multiply each block in float32
# (exact), convert each block's result to int32 and add the blocks in int32 (exact up to 2^31,
# i.e. K up to 131,071). The result is bit-identical to an int64 reference — the tests check it
# on the worst case, every value at −128, where a full block sums to exactly 2^24: one element more
# and a sum could pass the point beyond which float32 skips odd integers (2^24 + 1 rounds to 2^24).

# %%
#| export
FLOAT32_EXACT = 2**24          # every integer of magnitude <= 2^24 is exactly representable in float32
INT8_ABS_MAX = 128             # the largest |value| of an int8 (-128)
BLOCK_K = FLOAT32_EXACT // (INT8_ABS_MAX * INT8_ABS_MAX)  # 1024: K·128·128 <= 2^24, so a block's sums are exact
INT32_MAX_K = (2**31 - 1) // (INT8_ABS_MAX * INT8_ABS_MAX)  # longest dot product whose int32 total cannot overflow


def int8_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact (M, K) int8 @ (K, N) int8 -> (M, N) int32, using float32 BLAS on blocks of K <= BLOCK_K."""
    for name, array in (("a", a), ("b", b)):
        if not isinstance(array, np.ndarray) or array.dtype != np.int8 or array.ndim != 2:
            raise TypeError(f"int8_matmul: {name} must be a 2-D np.int8 array, got "
                            f"{getattr(array, 'dtype', type(array).__name__)} of shape {getattr(array, 'shape', '?')}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"int8_matmul: inner dimensions differ: a is {a.shape}, b is {b.shape}")
    k = a.shape[1]
    if k > INT32_MAX_K:
        raise ValueError(f"int8_matmul: K={k} could overflow the int32 accumulator (at most {INT32_MAX_K})")
    # Hint: out = int32 zeros (M, N); for each block k0:k1 of at most BLOCK_K columns of a (rows of b):
    #       multiply the two slices converted to float32 (np.matmul, which uses BLAS), convert the
    #       block's result to np.int32 (exact: it is an integer below 2^24) and add it into out.
    ### BEGIN SOLUTION
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.int32)
    for k0 in range(0, k, BLOCK_K):
        k1 = min(k0 + BLOCK_K, k)
        block = np.matmul(a[:, k0:k1].astype(np.float32), b[k0:k1].astype(np.float32))
        out += block.astype(np.int32)
    return out
    ### END SOLUTION


def affine_int_matmul(qx: np.ndarray, zx: int, qw: np.ndarray, zw: np.ndarray) -> np.ndarray:
    """Σ_k (qx[m,k] - zx)(qw[o,k] - zw[o]) for qx (M, K) and qw (O, K) int8: (M, O) int32, exact.

    One int8 GEMM plus the zero-point corrections of section 3 (skipped where a zero point is 0).
    """
    acc = int8_matmul(qx, qw.T)
    k = qx.shape[1]
    zw = np.asarray(zw, dtype=np.int32).reshape(-1)
    # Hint: the three correction terms of the formula above, all in int32:
    #       acc -= zw[None, :] * (row sums of qx)[:, None]; acc -= zx * (row sums of qw)[None, :];
    #       acc += k * zx * zw[None, :]. Sum with dtype=np.int32 (int8 sums overflow).
    ### BEGIN SOLUTION
    if zw.any():
        acc -= zw[None, :] * qx.sum(axis=1, dtype=np.int32)[:, None]
    if zx:
        acc -= np.int32(zx) * qw.sum(axis=1, dtype=np.int32)[None, :]
        acc += np.int32(k * zx) * zw[None, :]
    return acc
    ### END SOLUTION


# %%
#| test
def test_unit_int8_matmul_exact():
    worst = np.full((2, BLOCK_K), -128, dtype=np.int8)
    product = int8_matmul(worst, worst.T.copy())
    assert product.dtype == np.int32, f"the accumulator must be int32, got {product.dtype}"
    assert BLOCK_K * 128 * 128 <= 2**24 < (BLOCK_K + 1) * 128 * 128, "BLOCK_K must be the largest K with exact sums"
    assert (product == BLOCK_K * 128 * 128).all(), "a full block of -128 * -128 must sum to exactly 2^24"
    rng = np.random.default_rng(3)
    for m, k, n in ((3, 5, 4), (7, 3000, 6)):
        a = rng.integers(-128, 128, (m, k)).astype(np.int8)
        b = rng.integers(-128, 128, (k, n)).astype(np.int8)
        exact = a.astype(np.int64) @ b.astype(np.int64)
        got = int8_matmul(a, b)
        assert (got == exact).all(), (f"int8_matmul {m}x{k}x{n} differs from the int64 reference by up to "
                                      f"{np.abs(got - exact).max()}: are the K blocks at most BLOCK_K long?")
    qx = rng.integers(-128, 128, (5, 70)).astype(np.int8)
    qw = rng.integers(-128, 128, (4, 70)).astype(np.int8)
    zw = rng.integers(-10, 10, 4)
    reference = (qx.astype(np.int64) - 17) @ (qw.astype(np.int64) - zw[:, None]).T
    assert (affine_int_matmul(qx, 17, qw, zw) == reference).all(), "zero-point corrections are wrong"
    print(f"✅ int8 x int8 -> int32 is exact (blocks of K <= {BLOCK_K}; worst case hits 2^24 exactly)")


test_unit_int8_matmul_exact()

# %% [markdown]
# ## 4. Quantized layers
#
# `QuantizedLinear` holds `weight_q` (int8, one row per output), `weight_scale` and
# `weight_zero_point` (one per row, or one for all), a float32 `bias`, and — for **static**
# quantization — the calibrated `input_scale`/`input_zero_point`. Its forward:
#
# ```
#   x (float32) ──quantize with the calibrated range──► q_x (int8)
#   q_x, weight_q ──int8 GEMM, int32 accumulate──► acc (int32)          section 3
#   y = acc · (s_x · s_w) + bias  (float32)                             once per output
# ```
#
# Three modes: `"static"` (input range fixed by calibration), `"dynamic"` (the input range is
# measured on each batch at run time, no calibration needed — PyTorch's `quantize_dynamic`), and
# `"weight_only"` (int8 storage, but the weight is dequantized and multiplied in float32: the
# smallest error, the memory saving without the integer arithmetic).
#
# `QuantizedConv2d` is the same layer on im2col columns: the input is quantized, padded with the
# **zero point** (which stands for the real 0, so padding stays exact), unfolded into int8
# columns by module 09's `im2col`, and multiplied by the int8 filters.

# %%
#| export
MODES = ("static", "dynamic", "weight_only")


def _weight_qparams(weight: np.ndarray, bits: int, per_channel: bool, symmetric: bool):
    qt = quantize_tensor(weight, bits, symmetric, per_channel, axis=0)
    return qt.q, qt.scale, qt.zero_point


class _QuantizedLayer(Module):
    """Shared state of the quantized layers: int8 weights, scales, zero points, bias, input range."""

    def _init_state(self, weight_shape: tuple, out: int, bias: bool, bits: int, activation_bits: int,
                    per_channel: bool, symmetric: bool, mode: str, where: str) -> None:
        self.bits = _check_bits(bits, where)
        self.activation_bits = _check_bits(activation_bits, where, "activation_bits")
        self.per_channel = _check_flag(per_channel, "per_channel", where)
        self.symmetric = _check_flag(symmetric, "symmetric", where)
        if mode not in MODES:
            raise ValueError(f"{where}: mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        channels = (out,) if per_channel else ()
        self.register_buffer("weight_q", Tensor(np.zeros(weight_shape, dtype=np.int8)))
        self.register_buffer("weight_scale", Tensor(np.ones(channels, dtype=np.float32)))
        self.register_buffer("weight_zero_point", Tensor(np.zeros(channels, dtype=np.int8)))  # codes fit int8
        self.register_buffer("bias", Tensor(np.zeros(out, dtype=np.float32)) if bias else None)
        if mode == "static":
            self.register_buffer("input_scale", Tensor(np.ones((), dtype=np.float32)))
            self.register_buffer("input_zero_point", Tensor(np.zeros((), dtype=np.int8)))

    def config(self) -> dict:
        """The constructor arguments that are not shapes (what save_quantized records per layer)."""
        return {"bits": self.bits, "activation_bits": self.activation_bits, "per_channel": self.per_channel,
                "symmetric": self.symmetric, "mode": self.mode}

    def _set_weight(self, weight: np.ndarray, bias: np.ndarray | None, observer: Observer | None) -> None:
        q, scale, zero_point = _weight_qparams(weight, self.bits, self.per_channel, self.symmetric)
        self.weight_q.data[...] = q
        self.weight_scale.data[...] = scale
        self.weight_zero_point.data[...] = zero_point
        if bias is not None:
            self.bias.data[...] = bias
        if self.mode == "static":
            if observer is None:
                raise ValueError(f"{type(self).__name__}: static quantization needs an observer that has seen "
                                 "calibration data (or use mode='dynamic')")
            s_x, z_x = observer.qparams(self.activation_bits, symmetric=False)
            self.input_scale.data[...] = s_x
            self.input_zero_point.data[...] = z_x

    def _input_qparams(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.mode == "static":
            return self.input_scale.data, self.input_zero_point.data
        if not np.isfinite(x).all():
            raise ValueError(f"{type(self).__name__}: the input contains NaN or inf")
        return compute_qparams(x.min(), x.max(), self.activation_bits, symmetric=False)

    def dequantized_weight(self) -> np.ndarray:
        """The float32 weight that the int8 values stand for."""
        return dequantize(self.weight_q.data, self.weight_scale.data, self.weight_zero_point.data,
                          0 if self.per_channel else None)

    def _output_scale(self, s_x) -> np.ndarray:
        return (np.float32(s_x) * self.weight_scale.data).astype(np.float32)


class QuantizedLinear(_QuantizedLayer):
    """Linear with int8 weights: y = x @ W.T + b computed as one int8 GEMM with int32 accumulation.

    Shapes: (*, in_features) float32 -> (*, out_features) float32. Buffers: weight_q (out, in)
    int8; weight_scale, weight_zero_point (out,) per channel or () per tensor; bias (out,)
    float32; input_scale, input_zero_point () in static mode. Inference only (no gradients).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bits: int = 8,
                 activation_bits: int = 8, per_channel: bool = True, symmetric: bool = True, mode: str = "static"):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._init_state((self.out_features, self.in_features), self.out_features, bias, bits, activation_bits,
                         per_channel, symmetric, mode, "QuantizedLinear")

    @classmethod
    def from_float(cls, linear: Linear, observer: Observer | None = None, **config) -> "QuantizedLinear":
        """Quantize a trained Linear; `observer` has seen its inputs (static mode)."""
        if not isinstance(linear, Linear):
            raise TypeError(f"QuantizedLinear.from_float: expected a Linear, got {type(linear).__name__}")
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, **config)
        layer._set_weight(linear.weight.data, None if linear.bias is None else linear.bias.data, observer)
        return layer

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dtype != np.float32:
            raise TypeError(f"QuantizedLinear: input must be a float32 Tensor, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"QuantizedLinear: input of shape {tuple(x.shape)} does not end in "
                             f"in_features={self.in_features}")
        flat = x.data.reshape(-1, self.in_features)
        if self.mode == "weight_only":
            y = flat @ self.dequantized_weight().T
        else:
            s_x, z_x = self._input_qparams(flat)
            q_x = quantize(flat, s_x, z_x, self.activation_bits, symmetric=False)
            acc = affine_int_matmul(q_x, int(z_x), self.weight_q.data, self.weight_zero_point.data)
            y = acc.astype(np.float32)
            y *= self._output_scale(s_x)  # dequantize: one multiply per output
        if self.bias is not None:
            y += self.bias.data
        return Tensor(y.reshape(x.shape[:-1] + (self.out_features,)))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}, "
                f"mode={self.mode}, per_channel={self.per_channel}")


_CONV_ARGS = ("kernel_size", "stride", "padding", "dilation")


class QuantizedConv2d(_QuantizedLayer):
    """Conv2d with int8 weights: quantize the input, pad with its zero point, im2col (int8), int8 GEMM.

    (N, C, H, W) float32 -> (N, O, OH, OW) float32. groups=1 only. Inference only.
    Buffers as in QuantizedLinear; weight_q has the conv weight's shape (O, C, kh, kw).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, bits: int = 8, activation_bits: int = 8, per_channel: bool = True,
                 symmetric: bool = True, mode: str = "static"):
        super().__init__()
        shape_source = Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=False)
        self.in_channels, self.out_channels = shape_source.in_channels, shape_source.out_channels
        for name in _CONV_ARGS:
            setattr(self, name, getattr(shape_source, name))
        self._init_state(tuple(shape_source.weight.shape), self.out_channels, bias, bits, activation_bits,
                         per_channel, symmetric, mode, "QuantizedConv2d")

    @classmethod
    def from_float(cls, conv: Conv2d, observer: Observer | None = None, **config) -> "QuantizedConv2d":
        if not isinstance(conv, Conv2d):
            raise TypeError(f"QuantizedConv2d.from_float: expected a Conv2d, got {type(conv).__name__}")
        if conv.groups != 1:
            raise ValueError(f"QuantizedConv2d: only groups=1 is supported, got groups={conv.groups}")
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.bias is not None, **config)
        layer._set_weight(conv.weight.data, None if conv.bias is None else conv.bias.data, observer)
        return layer

    def forward(self, x: Tensor) -> Tensor:
        where = "QuantizedConv2d"
        _check_image(x, where, self.in_channels)
        if x.dtype != np.float32 or x.ndim != 4:
            raise TypeError(f"{where}: input must be a float32 (N, C, H, W) Tensor, got {x.dtype} {tuple(x.shape)}")
        sides = _padding(self.padding, self.kernel_size, self.stride, self.dilation, where)
        g = _geometry(tuple(x.shape), self.kernel_size, self.stride, sides, self.dilation, where)
        out_channels = self.out_channels
        weight = self.weight_q.data.reshape(out_channels, -1)
        out = np.empty((g.n, out_channels, g.oh, g.ow), dtype=np.float32)
        if self.mode == "weight_only":
            w_float = self.dequantized_weight().reshape(out_channels, -1)
        else:
            s_x, z_x = self._input_qparams(x.data)
            q_x = quantize(x.data, s_x, z_x, self.activation_bits, symmetric=False)
            scale = self._output_scale(s_x).reshape(-1, 1)
        step = max(1, (4 << 20) // (g.c * g.kh * g.kw * g.oh * g.ow * 4))  # images whose cols fit in 4 MiB
        for start, stop in ((s, min(s + step, g.n)) for s in range(0, g.n, step)):
            if self.mode == "weight_only":
                cols = im2col(pad(x.data[start:stop], g), g)
                y = w_float @ cols
            else:
                # Padding with the zero point: the padded code stands for the real value 0.
                cols = im2col(pad(q_x[start:stop], g, fill=int(z_x)), g)  # (C*kh*kw, n*oh*ow) int8
                acc = affine_int_matmul(cols.T, int(z_x), weight, self.weight_zero_point.data).T
                y = acc.astype(np.float32)
                y *= scale
            if self.bias is not None:
                y += self.bias.data[:, None]
            out[start:stop] = y.reshape(out_channels, stop - start, g.oh, g.ow).transpose(1, 0, 2, 3)
        return Tensor(out)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bits={self.bits}, mode={self.mode}")


QUANTIZED_TYPES = {"QuantizedLinear": QuantizedLinear, "QuantizedConv2d": QuantizedConv2d}


# %%
#| test
def test_unit_quantized_layers_match_float():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    rng = np.random.default_rng(4)
    linear = Linear(40, 12)
    x = Tensor(np.abs(rng.standard_normal((9, 40))).astype(np.float32))
    observer = MinMaxObserver()
    observer.observe(x.data)
    with no_grad():
        reference = linear(x).data
    for mode in MODES:
        q_layer = QuantizedLinear.from_float(linear, observer if mode == "static" else None, mode=mode)
        assert q_layer.weight_q.dtype == np.int8, "QuantizedLinear must store int8 weights"
        got = q_layer(x).data
        # Error budget: each weight is off by <= s_w/2, each input by <= s_x/2.
        s_x = compute_qparams(x.data.min(), x.data.max(), 8, False)[0]
        bound = np.abs(x.data).sum(1, keepdims=True) * q_layer.weight_scale.data / 2
        if mode != "weight_only":
            bound = bound + s_x / 2 * (np.abs(linear.weight.data).sum(1) + 40 * q_layer.weight_scale.data / 2)
        assert (np.abs(got - reference) <= bound * 1.01 + 1e-6).all(), (
            f"mode={mode}: QuantizedLinear is further from the float layer than the rounding bound allows "
            f"(worst excess {np.max(np.abs(got - reference) - bound):.3g})")
    conv = Conv2d(3, 5, 3, padding=1, stride=2)
    image = Tensor(rng.standard_normal((2, 3, 9, 8)).astype(np.float32))
    observer = MinMaxObserver()
    observer.observe(image.data)
    q_conv = QuantizedConv2d.from_float(conv, observer)
    with no_grad():
        float_out = conv(image).data
    got = q_conv(image).data
    assert got.shape == float_out.shape, f"QuantizedConv2d output shape {got.shape}, expected {float_out.shape}"
    relative = np.abs(got - float_out).max() / np.abs(float_out).max()
    assert relative < 0.02, f"QuantizedConv2d differs from Conv2d by {relative:.1%} of the output range"
    print(f"✅ QuantizedLinear (3 modes) within the rounding bound; QuantizedConv2d within {relative:.2%}")


test_unit_quantized_layers_match_float()

# %% [markdown]
# ## 5. Quantizing a whole model
#
# `quantize_model` does **post-training static quantization** in three steps on a copy of the
# model (the float model is left alone):
#
# 1. put a recording wrapper around every `Linear` and `Conv2d` (any depth of the module tree);
# 2. run the calibration batches through it in eval mode: each wrapper's observer sees its
#    layer's real inputs;
# 3. replace every wrapper by the quantized layer built from the float weights and the observed
#    input range.
#
# Everything else (ReLU, pooling, BatchNorm, Flatten) keeps running in float32 between the
# quantized layers. `quantize_dynamic` needs no data: it swaps `Linear` layers (any Module tree:
# an MLP, or a transformer's projections) for dynamic or weight-only ones.

# %%
#| export
def replace_layers(model: Module, predicate, make) -> Module:
    """Replace every submodule for which predicate(module) holds by make(module), in place; returns the model.

    Children keep their names and their order (a Sequential still runs in order); the root itself
    is replaced (and returned) when it matches.
    """
    if predicate(model):
        return make(model)
    for _, parent in list(model.named_modules()):
        for name, child in list(parent._modules.items()):
            if child is not None and predicate(child):
                # Straight into the registry: assigning the attribute would move the name to the end.
                parent._modules[name] = make(child)
    return model


class _Calibrating(Module):
    """Runs the wrapped layer and shows its inputs to an observer."""

    def __init__(self, layer: Module, observer: Observer):
        super().__init__()
        self.layer, self.observer = layer, observer

    def forward(self, x):
        self.observer.observe(x.data)
        return self.layer(x)


def _is_float_layer(module) -> bool:
    return isinstance(module, (Linear, Conv2d))


def _quantized_from(layer: Module, observer: Observer | None, config: dict) -> Module:
    cls = QuantizedConv2d if isinstance(layer, Conv2d) else QuantizedLinear
    return cls.from_float(layer, observer, **config)


def _batch_inputs(batch):
    inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
    if not isinstance(inputs, Tensor):
        raise TypeError(f"quantize_model: calibration batches must be Tensors or (inputs, targets) pairs, got "
                        f"{type(inputs).__name__}")
    return inputs


def _quant_config(bits, activation_bits, per_channel, symmetric, mode, where) -> dict:
    return {"bits": _check_bits(bits, where), "activation_bits": _check_bits(activation_bits, where, "activation_bits"),
            "per_channel": _check_flag(per_channel, "per_channel", where),
            "symmetric": _check_flag(symmetric, "symmetric", where), "mode": mode}


def quantize_model(model: Module, calibration_loader, bits: int = 8, activation_bits: int = 8,
                   per_channel: bool = True, symmetric: bool = True, observer="minmax",
                   num_batches: int | None = None) -> Module:
    """Post-training static quantization: a copy of `model` whose Linear/Conv2d layers are quantized.

    calibration_loader: an iterable of input batches or (inputs, targets) pairs (a DataLoader);
    the first `num_batches` (all when None) are run through the float model to calibrate every
    layer's input range with `observer` ('minmax', 'percentile', 'mse' or an Observer class).
    """
    where = "quantize_model"
    if not isinstance(model, Module):
        raise TypeError(f"{where}: model must be a Module, got {type(model).__name__}")
    config = _quant_config(bits, activation_bits, per_channel, symmetric, "static", where)
    make_observer(observer)  # a bad observer name fails before any work
    if num_batches is not None and (isinstance(num_batches, bool) or not isinstance(num_batches, numbers.Integral)
                                    or num_batches < 1):
        raise ValueError(f"{where}: num_batches must be a positive int or None, got {num_batches!r}")
    if calibration_loader is None or not hasattr(calibration_loader, "__iter__"):
        raise TypeError(f"{where}: calibration_loader must be an iterable of batches (a DataLoader), got "
                        f"{type(calibration_loader).__name__}")
    qmodel = copy.deepcopy(model).eval()
    if not any(_is_float_layer(m) for m in qmodel.modules()):
        raise ValueError(f"{where}: the model has no Linear or Conv2d layer to quantize")
    qmodel = replace_layers(qmodel, _is_float_layer, lambda layer: _Calibrating(layer, make_observer(observer)))
    seen = 0
    with no_grad():
        for batch in calibration_loader:
            qmodel(_batch_inputs(batch))
            seen += 1
            if num_batches is not None and seen >= num_batches:
                break
    if seen == 0:
        raise ValueError(f"{where}: calibration_loader yielded no batches; static quantization needs real "
                         "inputs to calibrate the activation ranges (or use quantize_dynamic)")
    return replace_layers(qmodel, lambda m: isinstance(m, _Calibrating),
                          lambda wrapper: _quantized_from(wrapper.layer, wrapper.observer, config))


def quantize_dynamic(model: Module, bits: int = 8, activation_bits: int = 8, per_channel: bool = True,
                     symmetric: bool = True, weight_only: bool = False, layer_types=(Linear,)) -> Module:
    """A copy of `model` with its `layer_types` layers (Linear by default) quantized without calibration.

    weight_only=False: int8 weights, input range measured per batch (int8 GEMM). weight_only=True:
    int8 weights dequantized to float32 for the matmul (storage saving, float arithmetic).
    """
    where = "quantize_dynamic"
    if not isinstance(model, Module):
        raise TypeError(f"{where}: model must be a Module, got {type(model).__name__}")
    mode = "weight_only" if _check_flag(weight_only, "weight_only", where) else "dynamic"
    config = _quant_config(bits, activation_bits, per_channel, symmetric, mode, where)
    layer_types = tuple(layer_types)
    if not layer_types or not all(t in (Linear, Conv2d) for t in layer_types):
        raise ValueError(f"{where}: layer_types must contain Linear and/or Conv2d, got {layer_types!r}")
    qmodel = copy.deepcopy(model).eval()
    return replace_layers(qmodel, lambda m: isinstance(m, layer_types), lambda m: _quantized_from(m, None, config))


# %%
#| test
def test_unit_quantize_model():
    from tinytorch.core.layers import Flatten, ReLU, Sequential
    from tinytorch.core.tensor import manual_seed

    manual_seed(1)
    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), Flatten(), Linear(4 * 6 * 6, 10))
    rng = np.random.default_rng(5)
    batches = [Tensor(rng.random((8, 1, 6, 6), dtype=np.float32)) for _ in range(3)]
    qmodel = quantize_model(model, [(b, None) for b in batches])
    kinds = [type(layer).__name__ for layer in qmodel]
    assert kinds == ["QuantizedConv2d", "ReLU", "Flatten", "QuantizedLinear"], f"got layers {kinds}, in order"
    assert isinstance(model[0], Conv2d), "quantize_model must leave the float model unchanged (work on a copy)"
    with no_grad():
        float_out, quant_out = model(batches[0]).data, qmodel(batches[0]).data
    relative = np.abs(float_out - quant_out).max() / np.abs(float_out).max()
    assert relative < 0.03, f"the int8 model's logits differ by {relative:.1%} of their range from the float model"
    for bad, message in (([], "no batches"), ([(Tensor(np.full((2, 1, 6, 6), np.nan, np.float32)), None)], "NaN")):
        try:
            quantize_model(model, bad)
        except ValueError as error:
            assert message in str(error), str(error)
        else:
            raise AssertionError(f"calibration with {message} must raise ValueError")
    dynamic = quantize_dynamic(model)
    assert isinstance(dynamic[0], Conv2d) and isinstance(dynamic[3], QuantizedLinear), "dynamic: Linear layers only"
    print(f"✅ quantize_model: static int8 CNN within {relative:.2%} of float; empty/NaN calibration refused")


test_unit_quantize_model()

# %% [markdown]
# ## 6. Saving int8 models
#
# A quantized model's `state_dict` already holds `np.int8` arrays; `save_quantized` writes them
# to one `.npz` (no pickle, written atomically like module 07's checkpoints). For a small model
# the container itself costs several percent of the file — every `.npz` entry pays a 128-byte
# array header plus ~130 bytes of zip bookkeeping, and a verbose description adds more — so the
# format is lean, in the style of *safetensors*: **one flat byte array** (`blob`) holding every
# array's raw bytes back to back, and a zlib-compressed JSON entry listing, in blob order, each
# array's name, dtype and shape (offsets follow from the order, sizes from dtype and shape), plus
# every quantized layer's type and settings — enough for `load_quantized` to rebuild the layers
# inside a fresh copy of the float architecture. Nothing is dropped: the zero points of a
# *symmetric* layer are 0 by definition, so they are not written (the loader knows them from
# the layer's `symmetric` setting). Below 8 bits, values are **packed**: a b-bit value takes b
# bits of the file, so a 4-bit model is about 8x smaller than float32, not 4x.
#
# ```
#   file:  blob      [ 0.weight_q int8 (150 B) | 0.weight_scale float32 (24 B) | 0.bias float32 | … ]
#          __tinytorch_quantized__   zlib(JSON) {"entries": [["0.weight_q", "int8", [6,1,5,5]], …], "layers": …}
# ```
#
# ```
#   4-bit codes (offset to 0..15):   5   12    0    9  ...
#   bits, least significant first:  1010 0011 0000 1001 ...  → np.packbits → 2 codes per byte
# ```

# %%
#| export
QUANTIZED_FORMAT = "tinytorch-quantized"
QUANTIZED_VERSION = 2
_QMETA = "__tinytorch_quantized__"
_QMETA_LIMIT = 64 << 20  # a description never needs more: refuse to inflate a "zip bomb" further


def pack_bits(q: np.ndarray, bits: int, qmin: int) -> np.ndarray:
    """Pack int8 codes in [qmin, qmin + 2^bits) into ceil(q.size * bits / 8) bytes (uint8)."""
    bits = _check_bits(bits, "pack_bits")
    codes = q.reshape(-1).astype(np.int16) - qmin
    if codes.size and (codes.min() < 0 or codes.max() >= 2**bits):
        raise ValueError(f"pack_bits: values outside [{qmin}, {qmin + 2**bits - 1}] cannot be packed in {bits} bits")
    # Hint: one row of `bits` bits per code (least significant first): (codes[:, None] >> np.arange(bits)) & 1,
    #       as uint8; np.packbits of that flattened array.
    ### BEGIN SOLUTION
    planes = ((codes[:, None] >> np.arange(bits)) & 1).astype(np.uint8)
    return np.packbits(planes.reshape(-1))
    ### END SOLUTION


def unpack_bits(packed: np.ndarray, bits: int, qmin: int, shape: tuple) -> np.ndarray:
    """Inverse of pack_bits: the int8 codes of `shape`."""
    bits = _check_bits(bits, "unpack_bits")
    count = int(np.prod(shape))
    if packed.dtype != np.uint8 or packed.ndim != 1 or packed.size != (count * bits + 7) // 8:
        raise ValueError(f"unpack_bits: expected {(count * bits + 7) // 8} packed bytes for {count} {bits}-bit "
                         f"values, got {packed.size} ({packed.dtype})")
    planes = np.unpackbits(packed, count=count * bits).reshape(count, bits).astype(np.int16)
    codes = planes @ (1 << np.arange(bits, dtype=np.int16))
    return (codes + qmin).astype(np.int8).reshape(shape)


def _quantized_layers(model: Module) -> dict:
    return {name: m for name, m in model.named_modules() if isinstance(m, _QuantizedLayer)}


def _layer_record(layer: _QuantizedLayer) -> dict:
    record = {"type": type(layer).__name__, "config": layer.config(), "bias": layer.bias is not None}
    if isinstance(layer, QuantizedLinear):
        record["shape"] = [layer.in_features, layer.out_features]
    else:
        record["shape"] = [layer.in_channels, layer.out_channels]
        record.update({name: getattr(layer, name) for name in _CONV_ARGS})
    return record


_STORED_DTYPES = ("int8", "uint8", "int32", "int64", "float32", "float64", "bool")


def _packed_bits(key: str, layers: dict) -> int | None:
    """The bit width `key` is packed to in the file (a weight_q below 8 bits), else None."""
    owner, _, leaf = key.rpartition(".")
    layer = layers.get(owner) if leaf == "weight_q" else None
    return layer.bits if layer is not None and layer.bits < 8 else None


def _implied_zero(key: str, layers: dict) -> bool:
    """True for a symmetric layer's weight_zero_point: all zeros by the scheme, so not stored."""
    owner, _, leaf = key.rpartition(".")
    return leaf == "weight_zero_point" and owner in layers and layers[owner].symmetric


def save_quantized(path, model: Module) -> str:
    """Write a quantized model (from quantize_model / quantize_dynamic) to one .npz, atomically.

    Every stored array's raw bytes go, in state_dict order, into one uint8 `blob`; a zlib-compressed
    JSON entry lists each array's name, dtype and shape in that order, and each quantized layer's
    type and settings. Weights below 8 bits are packed to `bits` bits each; a symmetric layer's
    zero points (zero by definition) are not written. Returns the path.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save_quantized: model must be a Module, got {type(model).__name__}")
    layers = _quantized_layers(model)
    if not layers:
        raise ValueError("save_quantized: the model has no quantized layer (run quantize_model or quantize_dynamic)")
    chunks, entries = [], []
    for key, array in model.state_dict().items():
        if _implied_zero(key, layers):
            if np.any(array != 0):
                raise ValueError(f"save_quantized: {key!r} belongs to a symmetric layer but is not all zeros")
            continue
        bits = _packed_bits(key, layers)
        data = array
        if bits is not None:
            data = pack_bits(array, bits, qrange(bits, layers[key.rpartition(".")[0]].symmetric)[0])
        if data.dtype.name not in _STORED_DTYPES:
            raise TypeError(f"save_quantized: entry {key!r} has dtype {data.dtype}, which this format does not store")
        entries.append([key, data.dtype.name, list(array.shape)])  # the shape before packing
        chunks.append(np.ascontiguousarray(data).tobytes())
    meta = {"format": QUANTIZED_FORMAT, "version": QUANTIZED_VERSION, "model": type(model).__name__,
            "layers": {name: _layer_record(layer) for name, layer in layers.items()}, "entries": entries}
    # The description as zlib-compressed UTF-8 bytes (a NumPy unicode string would spend 4 bytes per
    # character, and for a small model the raw JSON is a few percent of the file).
    text = json.dumps(meta, separators=(",", ":")).encode()
    arrays = {"blob": np.frombuffer(b"".join(chunks), dtype=np.uint8),
              _QMETA: np.frombuffer(zlib.compress(text, 9), dtype=np.uint8)}
    _atomic_write(path, lambda file: np.savez(file, **arrays))
    return os.fspath(path)


def _read_quantized(path: str) -> tuple[dict, dict]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_quantized: no such file: {path!r}")
    if not zipfile.is_zipfile(path):
        raise QuantizedFileError(f"load_quantized: {path!r} is not an .npz file (not a zip archive: corrupt, "
                                 "truncated or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise QuantizedFileError(f"load_quantized: {path!r} is corrupt or unsafe to read: {error}") from error
    if _QMETA not in arrays:
        raise QuantizedFileError(f"load_quantized: {path!r} is an .npz but not a quantized TinyTorch model "
                                 f"(no {_QMETA!r} entry)")
    description = arrays.pop(_QMETA)
    try:
        if description.dtype != np.uint8 or description.ndim != 1:
            raise ValueError(f"expected UTF-8 bytes, got {description.dtype} of shape {description.shape}")
        inflate = zlib.decompressobj()
        text = inflate.decompress(description.tobytes(), _QMETA_LIMIT)
        if inflate.unconsumed_tail:
            raise ValueError(f"the description inflates to more than {_QMETA_LIMIT} bytes")
        meta = json.loads(text.decode())
    except (ValueError, TypeError, zlib.error) as error:
        raise QuantizedFileError(f"load_quantized: {path!r} has an unreadable description: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != QUANTIZED_FORMAT:
        raise QuantizedFileError(f"load_quantized: {path!r} has the wrong format marker")
    if meta.get("version") != QUANTIZED_VERSION:
        raise QuantizedFileError(f"load_quantized: {path!r} has format version {meta.get('version')!r}; this "
                                 f"TinyTorch reads version {QUANTIZED_VERSION}")
    return arrays, meta


def _unpack_entries(path: str, arrays: dict, meta: dict, shells: dict) -> dict:
    """key -> array, cut from the byte blob in the listed order; every size and dtype checked."""
    entries, blob = meta.get("entries"), arrays.get("blob")
    if not isinstance(entries, list):
        raise QuantizedFileError(f"load_quantized: {path!r} lists no stored arrays")
    if blob is None or blob.dtype != np.uint8 or blob.ndim != 1:
        raise QuantizedFileError(f"load_quantized: {path!r} has no uint8 'blob' entry")
    state, offset = {}, 0
    for entry in entries:
        try:
            key, dtype, shape = entry
            shape = tuple(int(n) for n in shape)
            if not isinstance(key, str) or any(n < 0 for n in shape):
                raise ValueError("expected [name, dtype, shape] with a str name and sizes >= 0")
        except (TypeError, ValueError) as error:
            raise QuantizedFileError(f"load_quantized: {path!r}: entry {entry!r} is described badly: {error}") \
                from error
        bits = _packed_bits(key, shells)
        count = int(np.prod(shape))
        if dtype not in _STORED_DTYPES or (bits is not None and dtype != "uint8"):
            raise QuantizedFileError(f"load_quantized: {path!r}: entry {key!r} has an unexpected dtype {dtype!r}")
        nbytes = (count * bits + 7) // 8 if bits is not None else count * np.dtype(dtype).itemsize
        if offset + nbytes > blob.size:
            raise QuantizedFileError(f"load_quantized: {path!r}: entry {key!r} lies outside the blob (truncated file?)")
        # .copy(): a view into the blob may be misaligned for its dtype, and must not keep the blob alive
        data = np.frombuffer(blob, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=offset).copy()
        offset += nbytes
        if bits is None:
            state[key] = data.reshape(shape)
            continue
        try:
            state[key] = unpack_bits(data, bits, qrange(bits, shells[key.rpartition(".")[0]].symmetric)[0], shape)
        except ValueError as error:
            raise QuantizedFileError(f"load_quantized: {path!r}: entry {key!r}: {error}") from error
    if offset != blob.size:
        raise QuantizedFileError(f"load_quantized: {path!r}: the blob holds {blob.size - offset} bytes no entry "
                                 "describes")
    for name, layer in shells.items():  # symmetric zero points were not stored: zero by definition
        key = f"{name}.weight_zero_point" if name else "weight_zero_point"
        if layer.symmetric and key not in state:
            state[key] = np.zeros_like(layer.weight_zero_point.data)
    return state


def _shell(record: dict, float_layer, name: str, path: str) -> _QuantizedLayer:
    """An empty quantized layer for `record`, checked against the float layer at the same place."""
    cls = QUANTIZED_TYPES.get(record.get("type"))
    float_cls = {QuantizedLinear: Linear, QuantizedConv2d: Conv2d}.get(cls)
    if cls is None or not isinstance(float_layer, float_cls):
        raise QuantizedFileError(f"load_quantized: {path!r} has a {record.get('type')!r} at {name!r}, but the model "
                                 f"has a {type(float_layer).__name__} there")
    try:
        if cls is QuantizedLinear:
            shape = [float_layer.in_features, float_layer.out_features]
            layer = cls(*record["shape"], bias=record["bias"], **record["config"])
        else:
            shape = [float_layer.in_channels, float_layer.out_channels]
            conv_args = [tuple(record[n]) if isinstance(record[n], list) else record[n] for n in _CONV_ARGS]
            layer = cls(*record["shape"], *conv_args, bias=record["bias"], **record["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise QuantizedFileError(f"load_quantized: {path!r} describes layer {name!r} badly: {error}") from error
    if list(record["shape"]) != shape:
        raise QuantizedFileError(f"load_quantized: {path!r}: layer {name!r} has shape {record['shape']} in the file, "
                                 f"{shape} in the model")
    return layer


def load_quantized(path, model: Module) -> Module:
    """Rebuild a quantized model saved by save_quantized inside a copy of the float architecture `model`.

    Every check (format, layer types and shapes, int8 dtypes, code ranges, positive scales) runs
    before anything is returned. Errors: FileNotFoundError; QuantizedFileError (a ValueError).
    """
    if not isinstance(model, Module):
        raise TypeError(f"load_quantized: model must be a Module (the float architecture), got {type(model).__name__}")
    path = os.fspath(path)
    arrays, meta = _read_quantized(path)
    qmodel = copy.deepcopy(model).eval()
    modules = dict(qmodel.named_modules())
    records = meta.get("layers")
    if not isinstance(records, dict) or not records:
        raise QuantizedFileError(f"load_quantized: {path!r} lists no quantized layers")
    shells = {}
    for name, record in records.items():
        if name not in modules:
            raise QuantizedFileError(f"load_quantized: {path!r} has a quantized layer {name!r} the model does not have")
        shells[name] = _shell(record, modules[name], name, path)
    qmodel = replace_layers(qmodel, lambda m: any(m is modules[n] for n in shells),
                            lambda m: shells[next(n for n in shells if modules[n] is m)])
    arrays = _unpack_entries(path, arrays, meta, shells)
    for name, layer in shells.items():
        prefix = f"{name}." if name else ""
        q = arrays.get(prefix + "weight_q")
        if q is None or q.dtype != np.int8:
            raise QuantizedFileError(f"load_quantized: {path!r}: {prefix}weight_q must be an int8 array, got "
                                     f"{None if q is None else q.dtype}")
        qmin, qmax = qrange(layer.bits, layer.symmetric)
        if q.size and (q.min() < qmin or q.max() > qmax):
            raise QuantizedFileError(f"load_quantized: {path!r}: {prefix}weight_q has codes outside [{qmin}, {qmax}]")
        scale = arrays.get(prefix + "weight_scale")
        if scale is None or scale.dtype != np.float32 or not (np.isfinite(scale).all() and (scale > 0).all()):
            raise QuantizedFileError(f"load_quantized: {path!r}: {prefix}weight_scale must hold positive "
                                     "float32 values")
    try:
        qmodel.load_state_dict({key: value for key, value in arrays.items()})
    except (ValueError, TypeError) as error:
        raise QuantizedFileError(f"load_quantized: {path!r} does not fit the model: {error}") from error
    return qmodel


def model_nbytes(model: Module) -> int:
    """Bytes of everything in the model's state_dict (parameters and buffers), as held in memory."""
    return sum(array.nbytes for array in model.state_dict().values())


# %%
#| test
def test_unit_save_load_quantized():
    import tempfile

    from tinytorch.core.layers import ReLU, Sequential
    from tinytorch.core.tensor import manual_seed

    manual_seed(2)
    model = Sequential(Linear(64, 48), ReLU(), Linear(48, 10))
    x = Tensor(np.random.default_rng(6).random((16, 64), dtype=np.float32))
    codes = np.arange(-8, 8, dtype=np.int8)
    assert (unpack_bits(pack_bits(codes, 4, -8), 4, -8, codes.shape) == codes).all(), "4-bit pack/unpack round trip"
    with tempfile.TemporaryDirectory() as folder:
        for bits in (8, 4):
            qmodel = quantize_model(model, [x], bits=bits)
            path = os.path.join(folder, f"q{bits}.npz")
            save_quantized(path, qmodel)
            loaded = load_quantized(path, model)
            assert loaded[0].weight_q.dtype == np.int8
            assert np.array_equal(loaded(x).data, qmodel(x).data), f"{bits}-bit: the loaded model computes differently"
            with np.load(path, allow_pickle=False) as archive:
                stored = archive["blob"].size
            codes = (48 * 64 + 10 * 48) * bits // 8
            floats = 4 * (2 * (48 + 10) + 2)  # per-channel scales, biases, two input scales
            expected = codes + floats + 2  # + the two int8 input zero points; weight zero points are 0
            assert stored == expected, (
                f"{bits}-bit weights: expected {codes} bytes of codes + {floats + 2} of scales, biases and zero "
                f"points = {expected}, the file's blob holds {stored}")
        broken = os.path.join(folder, "broken.npz")
        with open(os.path.join(folder, "q8.npz"), "rb") as source, open(broken, "wb") as file:
            file.write(source.read()[:200])
        try:
            load_quantized(broken, model)
        except QuantizedFileError as error:
            assert "broken.npz" in str(error), str(error)
        else:
            raise AssertionError("a truncated file must raise QuantizedFileError")
    print("✅ save_quantized/load_quantized: int8 (and packed 4-bit) arrays, identical outputs, corrupt file refused")


test_unit_save_load_quantized()

# %% [markdown]
# ## 7. Quantization-aware training: fake quantization with a straight-through estimator
#
# At 8 bits, post-training quantization usually costs almost nothing. At 4 bits and below, the
# rounding noise is large enough to hurt — but the network could learn weights that survive it,
# if it *saw* the rounding during training. **Fake quantization** does exactly that: in the
# forward pass each weight (and input) is quantized and immediately dequantized, so the layer
# computes with the values the int8 model will have, still in float32.
#
# The trouble is the gradient: `round` is flat almost everywhere, its derivative is 0, and
# nothing would learn. The **straight-through estimator** (STE; Bengio et al. 2013) pretends
# that `round` is the identity in the backward pass. Values clipped at the ends of the range
# get no gradient (their forward does not depend on them):
#
# ```
#   forward:   x̂ = s · (clamp(round(x/s) + z, qmin, qmax) − z)       a staircase
#   backward:  ∂x̂/∂x = 1 where qmin ≤ round(x/s) + z ≤ qmax, else 0  the staircase's "slope"
# ```
#
# `prepare_qat` swaps each `Linear`/`Conv2d` for a fake-quantizing subclass that shares its
# Parameters (an optimizer built before keeps working); the input range is tracked with a
# moving average of min/max while training; `convert_qat` then builds the real int8 model from
# the trained weights and the tracked ranges.

# %%
#| export
class FakeQuantize(Function):
    """Quantize then dequantize in the forward pass; straight-through (clipped) gradient in backward."""

    @staticmethod
    def forward(ctx, x, scale, zero_point, qmin: int, qmax: int):
        # Hint: codes = np.rint(x / scale) + zero_point (not clipped yet); save the boolean mask of
        #       codes inside [qmin, qmax] with ctx.save_for_backward; return
        #       (clip(codes, qmin, qmax) - zero_point) * scale in x's dtype.
        ### BEGIN SOLUTION
        codes = np.rint(x / scale) + zero_point
        ctx.save_for_backward((codes >= qmin) & (codes <= qmax))
        return ((np.clip(codes, qmin, qmax) - zero_point) * scale).astype(x.dtype)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # Hint: the gradient passes where the value was inside the range and is 0 elsewhere;
        #       scale and zero_point are constants here (None).
        ### BEGIN SOLUTION
        (inside,) = ctx.saved_tensors
        return grad_output * inside, None, None, None, None
        ### END SOLUTION


def fake_quantize(x: Tensor, scale, zero_point, bits: int = 8, symmetric: bool = True,
                  axis: int | None = None) -> Tensor:
    """Tensor -> Tensor: the values quantize+dequantize would give, with the STE gradient. Shape: same."""
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        got = getattr(x, "dtype", type(x).__name__)
        raise TypeError(f"fake_quantize: x must be a floating-point Tensor, got {got}")
    axis = _check_axis(axis, x.ndim, "fake_quantize")
    qmin, qmax = qrange(bits, _check_flag(symmetric, "symmetric", "fake_quantize"))
    scale = _along(np.asarray(scale, dtype=x.dtype), axis, x.ndim)
    zero_point = _along(np.asarray(zero_point, dtype=x.dtype), axis, x.ndim)
    return FakeQuantize.apply(x, scale, zero_point, qmin, qmax)


class _FakeQuant:
    """Mixin for the QAT layers: fake-quantized weights (per channel, symmetric) and inputs (tracked range)."""

    def _init_qat(self, layer, bits: int, activation_bits: int, per_channel: bool, momentum: float) -> None:
        Module.__init__(self)
        self.weight = layer.weight  # the very same Parameters: optimizers keep working
        if layer.bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = layer.bias
        self.bits, self.activation_bits = _check_bits(bits, "prepare_qat"), _check_bits(activation_bits, "prepare_qat")
        self.per_channel = per_channel
        self.momentum = momentum
        self.register_buffer("input_min", Tensor(np.array(np.inf, dtype=np.float32)))
        self.register_buffer("input_max", Tensor(np.array(-np.inf, dtype=np.float32)))

    def _fake_input(self, x: Tensor) -> Tensor:
        if self.training:  # moving average of each batch's min and max (the first batch sets them)
            lo, hi = float(x.data.min()), float(x.data.max())
            if np.isfinite(self.input_min.data):
                lo = (1 - self.momentum) * float(self.input_min.data) + self.momentum * lo
                hi = (1 - self.momentum) * float(self.input_max.data) + self.momentum * hi
            self.input_min.data[...], self.input_max.data[...] = lo, hi
        if not np.isfinite(self.input_min.data):
            return x  # no range seen yet (eval before any training step): leave the input alone
        scale, zero_point = compute_qparams(self.input_min.data, self.input_max.data, self.activation_bits, False)
        return fake_quantize(x, scale, zero_point, self.activation_bits, symmetric=False)

    def _fake_weight(self) -> Tensor:
        axis = 0 if self.per_channel else None
        scale, zero_point = compute_qparams(*_channel_ranges(self.weight.data, axis), bits=self.bits, symmetric=True)
        return fake_quantize(self.weight, scale, zero_point, self.bits, symmetric=True, axis=axis)

    def observer(self) -> Observer:
        """A MinMaxObserver holding the tracked input range (what convert_qat calibrates with)."""
        observer = MinMaxObserver()
        observer.observe(np.array([self.input_min.data, self.input_max.data], dtype=np.float32))
        return observer


class FakeQuantLinear(_FakeQuant, Linear):
    """Linear that trains with fake-quantized weights and inputs (built by prepare_qat)."""

    def __init__(self, linear: Linear, bits: int = 8, activation_bits: int = 8, per_channel: bool = True,
                 momentum: float = 0.01):
        self._init_qat(linear, bits, activation_bits, per_channel, momentum)
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: Tensor) -> Tensor:
        out = self._fake_input(x) @ self._fake_weight().T
        return out if self.bias is None else out + self.bias


class FakeQuantConv2d(_FakeQuant, Conv2d):
    """Conv2d that trains with fake-quantized weights and inputs (built by prepare_qat)."""

    def __init__(self, conv: Conv2d, bits: int = 8, activation_bits: int = 8, per_channel: bool = True,
                 momentum: float = 0.01):
        self._init_qat(conv, bits, activation_bits, per_channel, momentum)
        for name in ("in_channels", "out_channels", "groups", "padding_mode") + _CONV_ARGS:
            setattr(self, name, getattr(conv, name))

    def forward(self, x: Tensor) -> Tensor:
        from tinytorch.core.spatial import conv2d

        return conv2d(self._fake_input(x), self._fake_weight(), self.bias, self.stride, self.padding,
                      self.dilation, self.groups)


def prepare_qat(model: Module, bits: int = 8, activation_bits: int = 8, per_channel: bool = True,
                momentum: float = 0.01) -> Module:
    """Swap every Linear/Conv2d of `model` (in place) for its fake-quantizing version; returns the model."""
    bits, activation_bits = _check_bits(bits, "prepare_qat"), _check_bits(activation_bits, "prepare_qat",
                                                                           "activation_bits")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 < momentum <= 1:
        raise ValueError(f"prepare_qat: momentum must be in (0, 1], got {momentum!r}")

    def make(layer):
        cls = FakeQuantConv2d if isinstance(layer, Conv2d) else FakeQuantLinear
        return cls(layer, bits, activation_bits, _check_flag(per_channel, "per_channel", "prepare_qat"), momentum)

    return replace_layers(model, lambda m: _is_float_layer(m) and not isinstance(m, _FakeQuant), make)


def convert_qat(model: Module) -> Module:
    """The int8 model of a QAT-trained model: a copy whose fake-quant layers are QuantizedLinear/Conv2d."""
    qat_layers = [m for m in model.modules() if isinstance(m, _FakeQuant)]
    if not qat_layers:
        raise ValueError("convert_qat: the model has no fake-quantized layer (run prepare_qat and train first)")
    if any(not np.isfinite(m.input_min.data) for m in qat_layers):
        raise ValueError("convert_qat: some layer never saw a training batch, so its input range is unknown")
    qmodel = copy.deepcopy(model).eval()

    def make(layer):
        config = {"bits": layer.bits, "activation_bits": layer.activation_bits, "per_channel": layer.per_channel,
                  "symmetric": True, "mode": "static"}
        return _quantized_from(layer, layer.observer(), config)

    return replace_layers(qmodel, lambda m: isinstance(m, _FakeQuant), make)


# %%
#| test
def test_unit_fake_quantize_ste():
    from tinytorch.core.activations import tanh
    from tinytorch.core.autograd import gradcheck

    x = Tensor(np.array([-3.0, -0.26, 0.1, 0.74, 2.9], dtype=np.float64), requires_grad=True)
    out = fake_quantize(x, 0.5, 0, bits=3, symmetric=True)  # codes -3..3: real range [-1.5, 1.5]
    assert np.allclose(out.data, [-1.5, -0.5, 0.0, 0.5, 1.5]), f"fake-quant forward gave {out.data}"
    assert np.array_equal(out.data, dequantize(quantize(x.data, 0.5, 0, 3, True), 0.5, 0)), \
        "fake_quantize must equal dequantize(quantize(x)) exactly"
    out.sum().backward()
    assert x.grad.data.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0], (
        f"STE gradient should be 1 inside the range and 0 for the clipped -3.0 and 2.9, got {x.grad.data.tolist()}")
    # The STE is not the derivative of the staircase, so gradcheck applies to what surrounds it:
    # a QAT layer's gradient with respect to its bias (not fake-quantized) is exact.
    layer = FakeQuantLinear(Linear(4, 3, dtype=np.float64))
    inputs = Tensor(np.random.default_rng(7).standard_normal((5, 4)))
    assert gradcheck(lambda b: tanh(inputs @ layer._fake_weight().T + b), (layer.bias,))
    print("✅ FakeQuantize: forward = dequantize(quantize(x)), STE gradient passes in range only; gradcheck on bias")


test_unit_fake_quantize_ste()

# %% [markdown]
# ## Analysis — quantizing real models trained on real digits
#
# Everything below runs on your machine, on `TinyMNIST` (1,000 training and 200 test MNIST
# digits shipped with the repository). We train an MLP and a small CNN for a few seconds, then
# measure what quantization does to each layer, to accuracy, to size and to time.
# (`benchmarks/quantization.py` does the same on the full MNIST test split.)

# %%
#| analysis
import tempfile
import time

from tinytorch.core.data import Compose, DataLoader, Normalize, TinyMNIST, ToTensor
from tinytorch.core.layers import Flatten, ReLU, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import MaxPool2d
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training import Trainer

transform = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
train_set, test_set = TinyMNIST(train=True, transform=transform), TinyMNIST(train=False, transform=transform)
calibration = DataLoader(train_set, batch_size=100, shuffle=False)
test_loader = DataLoader(test_set, batch_size=200)


def accuracy_of(model) -> float:
    """Fraction of the 200 test digits the model classifies right."""
    model.eval()
    correct = 0
    with no_grad():
        for images, labels in test_loader:
            correct += int((model(images).data.argmax(axis=1) == labels.data).sum())
    return correct / len(test_set)


def train(model, epochs: int, lr: float = 2e-3):
    loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=0)
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), verbose=False).fit(loader, epochs=epochs)
    return model.eval()


manual_seed(0)
start = time.perf_counter()
mlp = train(Sequential(Flatten(), Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10)), epochs=8)
manual_seed(0)
cnn = train(Sequential(Conv2d(1, 8, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(8, 16, 3, padding=1), ReLU(),
                       MaxPool2d(2), Flatten(), Linear(16 * 7 * 7, 64), ReLU(), Linear(64, 10)), epochs=4)
print(f"trained an MLP and a CNN on TinyMNIST in {time.perf_counter() - start:.1f}s: "
      f"test accuracy {accuracy_of(mlp):.1%} (MLP), {accuracy_of(cnn):.1%} (CNN)")

# %% [markdown]
# ### Error per layer vs bit width
#
# For every weight tensor: the relative error `‖W − Ŵ‖ / ‖W‖` of its quantize→dequantize round
# trip at 8, 4 and 2 bits, per tensor and per channel. Each bit removed doubles the step size,
# so the error should roughly double per bit — until 2 bits, where only three codes remain.

# %%
#| analysis
print(f"{'layer':<18}{'shape':<16}" + "".join(f"{f'{b}b tensor':>11}{f'{b}b chan':>10}" for b in (8, 4, 2)))
for model_name, model in (("mlp", mlp), ("cnn", cnn)):
    for name, param in model.named_parameters():
        if not name.endswith("weight"):
            continue
        w = param.data
        cells = ""
        for bits in (8, 4, 2):
            for per_channel in (False, True):
                restored = quantize_tensor(w, bits, True, per_channel, axis=0).dequantize()
                cells += f"{np.linalg.norm(restored - w) / np.linalg.norm(w):>{11 if not per_channel else 10}.2%}"
        print(f"{model_name + '.' + name:<18}{str(w.shape):<16}{cells}")

# %% [markdown]
# ### Accuracy vs bits, calibration method, and QAT
#
# Now the whole model: static quantization (per-channel symmetric weights, asymmetric
# activations at the same bit width) with each observer, on the 200 test digits.

# %%
#| analysis
results = {}
print(f"{'model':<6}{'bits':>5}" + "".join(f"{name:>12}" for name in OBSERVERS))
for model_name, model in (("mlp", mlp), ("cnn", cnn)):
    print(f"{model_name:<6}{'fp32':>5}{accuracy_of(model):>12.1%}")
    for bits in (8, 4, 2):
        row = {}
        for name in OBSERVERS:
            q = quantize_model(model, calibration, bits=bits, activation_bits=max(bits, 4), observer=name,
                               num_batches=2)
            row[name] = accuracy_of(q)
        results[(model_name, bits)] = row
        print(f"{'':<6}{bits:>5}" + "".join(f"{row[name]:>12.1%}" for name in OBSERVERS))

# %%
#| analysis
from tito.plots import plot_lines

for model_name in ("mlp", "cnn"):
    plot_lines(f"quantization_accuracy_vs_bits_{model_name}", [8, 4, 2],
               {name: [results[(model_name, b)][name] for b in (8, 4, 2)] for name in OBSERVERS},
               xlabel="bits (weights)", ylabel="test accuracy", title=f"TinyMNIST {model_name}, static PTQ")

# %% [markdown]
# At 4 bits and below, post-training quantization starts to cost accuracy. Quantization-aware
# training lets the network adapt: fine-tune the float CNN for two epochs with 2-bit fake
# quantization of the weights (4-bit activations) and compare with 2-bit PTQ of the same network.

# %%
#| analysis
manual_seed(0)
qat_model = prepare_qat(copy.deepcopy(cnn).train(), bits=2, activation_bits=4)
train(qat_model, epochs=2, lr=1e-3)
qat_int = convert_qat(qat_model)
ptq_int = quantize_model(cnn, calibration, bits=2, activation_bits=4, num_batches=5)
print(f"2-bit weights / 4-bit activations: PTQ {accuracy_of(ptq_int):.1%}, QAT (2 epochs) {accuracy_of(qat_int):.1%},"
      f" float {accuracy_of(cnn):.1%}")

# %% [markdown]
# ### Size on disk
#
# The float model saved with module 07's checkpoint format against the int8 and packed 4-bit
# files (both `np.savez`, uncompressed, so the ratio is about the numbers, not zlib). Then where
# the int8 file's bytes go: why a model with fewer than ~100k weights cannot quite reach 4x.

# %%
#| analysis
from tinytorch.core.training import save_checkpoint

with tempfile.TemporaryDirectory() as folder:
    for model_name, model in (("mlp", mlp), ("cnn", cnn)):
        float_path = save_checkpoint(os.path.join(folder, "float.npz"), model)
        sizes = {"fp32": os.path.getsize(float_path)}
        for bits in (8, 4, 2):
            q = quantize_model(model, calibration, bits=bits, activation_bits=8, num_batches=2)
            sizes[f"int{bits}"] = os.path.getsize(save_quantized(os.path.join(folder, f"q{bits}.npz"), q))
        print(f"{model_name}: " + ", ".join(f"{k} {v / 1024:.1f} KiB ({sizes['fp32'] / v:.2f}x)"
                                            for k, v in sizes.items()))
    q8 = save_quantized(os.path.join(folder, "cnn_int8.npz"), quantize_model(cnn, calibration, num_batches=2))
    codes = sum(m.weight.data.size for m in cnn.modules() if isinstance(m, (Linear, Conv2d)))
    with np.load(q8, allow_pickle=False) as archive:
        blob, description = archive["blob"].size, archive[_QMETA].size
    total = os.path.getsize(q8)
    print(f"cnn int8 file, {total:,} bytes: {codes:,} int8 weight codes, {blob - codes:,} bytes of float32 "
          f"scales and biases and input ranges, {description:,} bytes of description (zlib JSON), "
          f"{total - blob - description:,} bytes of npz headers and zip directory")

# %% [markdown]
# ### Inference time, honestly
#
# Our int8 layers are *not* faster on a CPU with NumPy: NumPy has no int8 matrix multiply that
# uses the CPU's integer SIMD units, so `int8_matmul` converts to float32 and calls the same
# float BLAS as the float model — plus the quantize, convert and correction passes. Below, one
# batch of 200 through each model, and the raw GEMM in three forms.

# %%
#| analysis
def best_times(fns: dict, repeats: int = 7) -> dict:
    """Fastest run of each callable, in seconds. They take turns, so a busy moment hits all of them,
    and the fastest run is the least disturbed one (medians swing widely on a shared machine)."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


images = next(iter(test_loader))[0]
for model_name, model in (("mlp", mlp), ("cnn", cnn)):
    q = quantize_model(model, calibration, num_batches=2)
    with no_grad():
        t = best_times({"float": lambda: model(images), "int8": lambda: q(images)})
    print(f"{model_name}: float32 {t['float'] * 1e3:.2f} ms, int8 (NumPy emulation) {t['int8'] * 1e3:.2f} ms "
          f"({t['int8'] / t['float']:.2f}x the float time)")
a8 = np.random.default_rng(0).integers(-128, 128, (256, 784)).astype(np.int8)
b8 = np.random.default_rng(1).integers(-128, 128, (784, 256)).astype(np.int8)
a32, b32 = a8.astype(np.float32), b8.astype(np.float32)
t = best_times({"blas": lambda: a32 @ b32, "ours": lambda: int8_matmul(a8, b8),
                  "numpy_int": lambda: a8.astype(np.int32) @ b8.astype(np.int32)}, repeats=5)
print(f"GEMM 256x784x256: float32 BLAS {t['blas'] * 1e3:.2f} ms, int8_matmul {t['ours'] * 1e3:.2f} ms, "
      f"NumPy int32 matmul {t['numpy_int'] * 1e3:.1f} ms ({t['numpy_int'] / t['blas']:.0f}x slower than BLAS)")

# %% [markdown]
# What a real int8 kernel buys: a CPU with AVX-512 VNNI (or ARM's `sdot`) multiplies 64 int8
# pairs and accumulates them into int32 in one instruction — 4x the values per register of
# float32, so up to ~4x the arithmetic throughput, and 4x less memory traffic for the weights
# (which dominates at batch 1: a big Linear layer at batch 1 is memory-bound). Libraries such as
# FBGEMM, oneDNN and XNNPACK keep activations int8 *between* layers and fuse the
# requantization, so the float conversions above disappear too. Our emulation computes the same
# integers — it is exact — but pays float32 speed plus conversions. The model size and the
# accuracy are real; the speed would need that kernel.

# %% [markdown]
# ## Reflection
#
# **Q1.** A Linear layer's weights lie in [−0.9, 0.3]. With 8-bit symmetric quantization, what
# is the scale, and how many of the 255 codes are ever used? With asymmetric quantization? Why
# do frameworks still quantize weights symmetrically?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** `BLOCK_K` is 1024. A ResNet conv has K = 3·3·512 = 4608. Show that one float32 GEMM
# over all of K can return a wrong integer, and explain why blocking fixes it. What limits K in
# the int32 sum of blocks?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** In the observer table, which calibration method did best at 4 bits, and why might MSE
# beat min/max there but not matter at 8 bits?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** The STE passes gradients through `round` as if it were the identity. Why does
# training still converge to weights that quantize well? What goes wrong for weights that sit
# exactly on a rounding boundary?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - The affine map `x ≈ s·(q − z)` turns floats into int8 codes; in range, the error is at most
#   `s/2`; the real 0 is exact. Symmetric for weights, asymmetric for activations, per channel
#   where layers are skewed.
# - Calibration picks activation ranges from real data: min/max, percentile, or the range with
#   the least MSE.
# - int8 × int8 products accumulate in int32; float32 BLAS does it exactly in blocks of
#   K ≤ 1024 (K·128² ≤ 2^24); the zero points become cheap corrections; floats appear once per
#   output.
# - `quantize_model` (static, calibrated) and `quantize_dynamic` turn any model's Linear/Conv2d
#   layers into int8 layers; saved models are int8 (or packed) on disk: ~4x (or 8x) smaller.
# - Fake quantization with a straight-through estimator lets a network learn to survive low
#   bit widths.
# - Next: module 18 (compression) makes models smaller another way — by removing weights,
#   channels and ranks, and by distilling a big model into a small one.
