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
# # Module 19 — Benchmarking: numbers you can trust
#
# Modules 14–18 made models faster and smaller, and each of them printed a few milliseconds.
# Run the same cell twice on a busy laptop and those milliseconds change by 5%, sometimes by
# 50%. So was the quantized model really faster, or did a browser tab stop scrolling? This
# module builds the **harness** that answers that question honestly, and then uses it to set
# the rules of the **TorchPerf Olympics** (module 20's competition).
#
# **You will learn to**
#
# 1. record the **environment** with every number (CPU, cores, BLAS and its threads, versions,
#    load), because a latency without its machine means nothing;
# 2. summarise repeated timings robustly: **median**, **interquartile range**, **percentiles**
#    (p50/p90/p99 — the tail is what users feel), and **Tukey outliers** (reported, never dropped);
# 3. put a **bootstrap 95% confidence interval** around a median, and see how many repeats it
#    takes for that interval to become tight on your machine;
# 4. decide whether two measurements **really differ**: the bootstrap interval of their ratio
#    must exclude 1 *and* the difference must exceed the machine's drift;
# 5. benchmark a model the way a deployment sees it: batch-1 latency, throughput at batch N,
#    peak memory, size on disk and accuracy on the real test split; draw the **Pareto front** of
#    accuracy vs latency vs size, and write a Markdown + JSON report;
# 6. state and implement the **five Olympics events** and their scoring rules.
#
# **Prerequisites:** modules 01–09 (tensors, `Module`, `no_grad`, training, data) and 14
# (`time_function`, `MemoryProfiler`). **Exports to:** `tinytorch/systems/benchmarking.py`,
# re-exported by `tinytorch.systems`. Module 20 (`tito olympics`) measures every submission with
# this module.

# %%
#| default_exp systems.benchmarking

# %%
#| export
from __future__ import annotations

import importlib.metadata
import json
import math
import numbers
import os
import platform
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import _atomic_write, _new_figure, _save_png
from tinytorch.systems.profiling import MemoryProfiler, time_function

# %% [markdown]
# ## 1. Where the noise comes from, and the environment
#
# A timing is the sum of the work and of everything else the machine did meanwhile:
#
# ```
#   measured = work + cold caches (first calls) + other processes + frequency changes
#              + garbage collection + timer resolution
# ```
#
# - **Warm-up.** The first calls allocate buffers, fill CPU caches, fault in pages of the weights
#   and let the BLAS library spin up its threads. They are slower for reasons that vanish later,
#   so we run a few calls untimed first.
# - **Repeats.** Other processes come and go; a single number catches them or not by luck.
#   Repeating and summarising is the only defence.
# - **The environment.** The same model is 3x faster with 4 BLAS threads than with 1, and a
#   different NumPy may link a different BLAS. Every result this module produces carries a
#   record of where it was measured: CPU model, logical cores, BLAS name and the thread variables,
#   Python, NumPy and TinyTorch versions, the platform, and the load average at the time (on a
#   shared machine, the one number that explains most surprises).

# %%
#| export
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _cpu_model() -> str:
    """The CPU's marketing name: /proc/cpuinfo on Linux, platform.processor() elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _blas() -> str:
    """Name and version of the BLAS NumPy was built with (NumPy >= 1.25 reports it as a dict)."""
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except (TypeError, ValueError):  # older NumPy: show_config() only prints
        return "unknown"


def _tinytorch_version() -> str:
    try:
        return importlib.metadata.version("tinytorch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def capture_environment() -> dict:
    """Where a measurement was taken: a JSON-ready dict recorded with every result."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": _cpu_model(), "logical_cores": os.cpu_count(), "blas": _blas(),
            "threads": {name: os.environ.get(name) for name in THREAD_VARIABLES},
            "python": platform.python_version(), "numpy": np.__version__, "tinytorch": _tinytorch_version(),
            "platform": platform.platform(), "load_average": list(load) if load is not None else None}


# %%
#| test
def test_unit_capture_environment():
    env = capture_environment()
    for key in ("cpu", "logical_cores", "blas", "threads", "python", "numpy", "tinytorch", "platform"):
        assert key in env, f"capture_environment() should record {key!r}; it returned the keys {sorted(env)}"
    assert env["numpy"] == np.__version__, f"numpy version: expected {np.__version__}, got {env['numpy']}"
    assert json.loads(json.dumps(env)) == env, "the environment must survive a JSON round trip (plain types only)"
    print(f"environment: {env['cpu']}, {env['logical_cores']} cores, BLAS {env['blas']}, "
          f"threads {({k: v for k, v in env['threads'].items() if v}) or 'not pinned'}")


test_unit_capture_environment()

# %% [markdown]
# ## 2. Robust summaries: median, IQR, percentiles
#
# Timing noise is **one-sided**: nothing makes a call faster than its work, but many things make
# it slower. The distribution has a floor and a long right tail, so its **mean** is dragged up
# by the few calls that met a context switch. The **median** (the middle sample) is not: half the
# calls were faster, half slower, however extreme the slowest ones were. Its companion spread is
# the **interquartile range** `IQR = p75 − p25`, the width of the middle half.
#
# A **percentile** `p_q` is the value below which q% of the samples fall. With n sorted samples
# `x₀ ≤ … ≤ x_{n−1}`, the usual definition (NumPy's default, "linear") puts `p_q` at the
# fractional rank `r = q/100 · (n−1)` and interpolates between the two neighbours:
#
# ```
#   sorted:   x0   x1   x2   x3   x4        n = 5, q = 90  ->  r = 0.9 * 4 = 3.6
#                            |--^-|        p90 = x3 + 0.6 * (x4 - x3)
# ```
#
# Serving systems quote **p50, p90 and p99** latency: p99 is what one user in a hundred waits,
# and at a hundred requests per page view, almost every user.

# %%
#| export
def _check_samples(samples, where: str, name: str = "samples") -> np.ndarray:
    """A 1-D float64 copy of `samples`; rejects empty, non-numeric, NaN/inf and negative times."""
    try:
        array = np.array(samples, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{where}: {name} must be a sequence of numbers, got {type(samples).__name__}") from error
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{where}: {name} must be a non-empty 1-D sequence, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: {name} must be finite, got {int(np.sum(~np.isfinite(array)))} NaN/inf value(s)")
    if np.any(array < 0):
        raise ValueError(f"{where}: {name} are durations and must be >= 0, got minimum {array.min()!r}")
    return array


def _check_q(q, where: str) -> float:
    if isinstance(q, bool) or not isinstance(q, numbers.Real) or not 0 <= q <= 100:
        raise ValueError(f"{where}: q must be a number in [0, 100], got {q!r}")
    return float(q)


def percentile(samples, q: float) -> float:
    """The q-th percentile (0 <= q <= 100) of samples, linearly interpolated (NumPy's default).

    samples: 1-D, n >= 1. Returns a float.
    """
    x = np.sort(_check_samples(samples, "percentile"))
    q = _check_q(q, "percentile")
    # Hint: the fractional rank is r = q / 100 * (n - 1); take the samples at floor(r) and at
    #       ceil(r) and move from the first towards the second by the fraction r - floor(r).
    ### BEGIN SOLUTION
    rank = q / 100.0 * (x.size - 1)
    below, above = math.floor(rank), math.ceil(rank)
    return float(x[below] + (rank - below) * (x[above] - x[below]))
    ### END SOLUTION


def median_iqr(samples) -> tuple[float, float]:
    """(median, interquartile range) of samples: p50, and p75 - p25. Shape: (n,) -> two floats."""
    x = _check_samples(samples, "median_iqr")
    # Hint: all three are percentiles; reuse percentile().
    ### BEGIN SOLUTION
    return percentile(x, 50), percentile(x, 75) - percentile(x, 25)
    ### END SOLUTION


def tukey_outliers(samples) -> list[int]:
    """Indices of samples beyond Tukey's fences: below p25 - 1.5 IQR or above p75 + 1.5 IQR.

    Outliers are *reported*, never dropped: a slow call is part of what the model costs.
    """
    x = _check_samples(samples, "tukey_outliers")
    low, high = percentile(x, 25), percentile(x, 75)
    spread = high - low
    return [int(i) for i in np.flatnonzero((x < low - 1.5 * spread) | (x > high + 1.5 * spread))]


# %%
#| test
def test_unit_percentile_and_median_iqr():
    x = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert percentile(x, 50) == 3.0, f"median of 1..5 should be 3.0, got {percentile(x, 50)}: did you sort first?"
    assert percentile(x, 0) == 1.0 and percentile(x, 100) == 5.0, "p0 is the minimum and p100 the maximum"
    assert abs(percentile(x, 90) - 4.6) < 1e-12, (
        f"p90 of 1..5: rank 0.9*4 = 3.6, so 4 + 0.6*(5-4) = 4.6; got {percentile(x, 90)}")
    rng = np.random.default_rng(0)
    y = rng.lognormal(size=101)
    for q in (1, 10, 37.5, 99):
        assert abs(percentile(y, q) - np.percentile(y, q)) < 1e-12, (
            f"p{q}: expected NumPy's {np.percentile(y, q)}, got {percentile(y, q)}; check the interpolation")
    median, iqr = median_iqr([1.0, 2.0, 3.0, 4.0])
    assert (median, iqr) == (2.5, 1.5), f"median_iqr([1, 2, 3, 4]) should be (2.5, 1.5), got {(median, iqr)}"
    assert tukey_outliers([1.0, 1.1, 0.9, 1.0, 5.0]) == [4], "5.0 is far beyond p75 + 1.5 IQR"
    print("percentile, median_iqr and tukey_outliers match the definitions")


test_unit_percentile_and_median_iqr()

# %% [markdown]
# ## 3. How sure is the median? The bootstrap
#
# Thirty timings give one median. Thirty *other* timings would give a slightly different one.
# How different? The **bootstrap** answers it with the data we have: treat the sample as the
# population, draw n values from it *with replacement* (some twice, some not at all), take the
# median of that resample, and repeat a few thousand times. The spread of those medians is the
# spread a new experiment would show; its 2.5th and 97.5th percentiles are a **95% confidence
# interval** (the "percentile bootstrap").
#
# ```
#   samples      [3.1 3.0 3.4 3.0 9.8 3.2]         resample 1: [3.0 3.0 3.4 3.2 3.1 3.0] -> 3.05
#   (n = 6)                                        resample 2: [9.8 3.2 3.1 3.1 3.4 3.0] -> 3.15
#                                                   ... 2000 resamples ...  -> CI [3.0, 3.3]
# ```
#
# It needs no assumption about the distribution's shape, which is why it suits skewed timings.
# Vectorized, it is one `(resamples, n)` index array, one gather and one sort along the rows:
# 2,000 resamples of 30 timings take a few milliseconds.

# %%
#| export
def _check_count(value, name: str, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_seed(seed, where: str) -> int:
    return _check_count(seed, "seed", where, 0)


def _bootstrap_medians(x: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of `resamples` resamples of x drawn with replacement. Shape: (n,) -> (resamples,)."""
    # Hint: one integer index array of shape (resamples, n) from rng.integers(0, n, ...) picks
    #       every resample at once; x at those indices is a (resamples, n) array. Its row medians:
    #       sort along axis 1 and average the columns (n - 1) // 2 and n // 2 (the same column when
    #       n is odd) — three times faster than np.median(axis=1), which partitions row by row.
    ### BEGIN SOLUTION
    picks = rng.integers(0, x.size, size=(resamples, x.size))
    rows = np.sort(x[picks], axis=1)
    return 0.5 * (rows[:, (x.size - 1) // 2] + rows[:, x.size // 2])
    ### END SOLUTION


def bootstrap_ci(samples, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval (low, high) of the median of samples."""
    x = _check_samples(samples, "bootstrap_ci")
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError(f"bootstrap_ci: confidence must be a number in (0, 1), got {confidence!r}")
    resamples = _check_count(resamples, "resamples", "bootstrap_ci", 100)
    rng = np.random.default_rng(_check_seed(seed, "bootstrap_ci"))
    medians = _bootstrap_medians(x, resamples, rng)
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(medians, tail)), float(np.percentile(medians, 100 - tail))


# %%
#| test
def test_unit_bootstrap_ci():
    rng = np.random.default_rng(1)
    x = 1.0 + rng.exponential(0.1, size=200)
    low, high = bootstrap_ci(x, seed=0)
    median = float(np.median(x))
    assert low <= median <= high, f"the CI [{low:.4f}, {high:.4f}] must contain the sample median {median:.4f}"
    assert 0 < high - low < 0.1, f"200 samples of spread 0.1 should give a CI narrower than 0.1, got {high - low:.4f}"
    assert bootstrap_ci(x, seed=0) == (low, high), "the same seed must give the same interval"
    wide = bootstrap_ci(x[:20], seed=0)
    assert wide[1] - wide[0] > high - low, (
        f"20 samples must give a wider CI than 200: got {wide[1] - wide[0]:.4f} vs {high - low:.4f}")
    # Coverage: over many experiments, the 95% CI should contain the true median about 95% of the time.
    true_median = 1.0 + 0.1 * np.log(2)
    hits = sum(lo <= true_median <= hi for lo, hi in
               (bootstrap_ci(1.0 + rng.exponential(0.1, size=30), seed=s, resamples=500) for s in range(100)))
    assert 85 <= hits <= 100, f"a 95% CI should cover the true median in about 95 of 100 experiments, got {hits}"
    print(f"bootstrap CI: 200 samples -> width {high - low:.4f}, 20 samples -> {wide[1] - wide[0]:.4f}; "
          f"coverage {hits}/100")


test_unit_bootstrap_ci()

# %% [markdown]
# ## 4. `measure`: warm-up, repeats, and a `Measurement`
#
# `measure(fn)` calls `fn()` `warmup` times untimed, then `repeats` times, each timed with
# `time.perf_counter_ns()` — module 14's `time_function` does exactly that, so we reuse it — and
# wraps the samples (in seconds) in a `Measurement`: median, IQR, bootstrap CI of the median,
# and the indices of the outliers. The seed makes the bootstrap reproducible.
#
# `measure_interleaved({"a": fa, "b": fb})` measures several functions **in turns**: one call of
# each per round, `repeats` rounds. When the machine's load drifts — another job starts halfway —
# both see the same drift, so their comparison stays fair; timing a first and b afterwards would
# charge the drift to b. The order inside each round is shuffled (seeded), because order matters
# too: the call after a big model finds the CPU caches full of *its* weights, and a function that
# always ran first would always pay for that.

# %%
#| export
@dataclass(eq=False)  # samples is an array: compare medians or use compare(), not ==
class Measurement:
    """Repeated timings of one thing, in seconds, with robust summaries.

    samples (n,), median, iqr, ci95 = bootstrap 95% CI of the median, outliers = indices beyond
    Tukey's fences (reported, not dropped). run: a token shared by the measurements of one
    measure_interleaved call, whose samples were taken in the same rounds (sample i of each in
    round i), so compare() can pair them; None for a measurement on its own.
    """

    samples: np.ndarray
    median: float
    iqr: float
    ci95: tuple
    outliers: list = field(default_factory=list)
    run: str | None = None

    @classmethod
    def from_samples(cls, samples, *, seed: int = 0, run: str | None = None) -> Measurement:
        x = _check_samples(samples, "Measurement.from_samples")
        median, iqr = median_iqr(x)
        return cls(x, median, iqr, bootstrap_ci(x, seed=seed), tukey_outliers(x), run)

    @classmethod
    def from_dict(cls, data: dict, *, seed: int = 0) -> Measurement:
        """Rebuild from to_dict() (the summaries are recomputed from the stored samples)."""
        if not isinstance(data, dict) or "samples" not in data:
            raise ValueError(f"Measurement.from_dict: data must be a Measurement.to_dict() dict with 'samples', "
                             f"got {type(data).__name__}" + (f" with keys {sorted(data)}" if isinstance(data, dict)
                                                             else ""))
        return cls.from_samples(data["samples"], seed=seed, run=data.get("run"))

    def percentile(self, q: float) -> float:
        return percentile(self.samples, q)

    def overlaps(self, other: Measurement) -> bool:
        """True when the two 95% intervals share a point (the simplest "is it different?" check)."""
        return self.ci95[0] <= other.ci95[1] and other.ci95[0] <= self.ci95[1]

    def to_dict(self) -> dict:
        return {"unit": "s", "n": int(self.samples.size), "median": self.median, "iqr": self.iqr,
                "ci95": [self.ci95[0], self.ci95[1]], "mean": float(self.samples.mean()),
                "min": float(self.samples.min()), "max": float(self.samples.max()),
                "p50": self.percentile(50), "p90": self.percentile(90), "p99": self.percentile(99),
                "outliers": list(self.outliers), "samples": self.samples.tolist(), "run": self.run}

    def __str__(self) -> str:
        return (f"{self.median * 1e3:.3f} ms (95% CI {self.ci95[0] * 1e3:.3f}-{self.ci95[1] * 1e3:.3f}, "
                f"IQR {self.iqr * 1e3:.3f}, n={self.samples.size}, {len(self.outliers)} outliers)")


def _check_fn(fn, where: str, name: str = "fn"):
    if not callable(fn):
        raise TypeError(f"{where}: {name} must be callable (called with no arguments), got {type(fn).__name__}")
    return fn


def measure(fn, *, warmup: int = 3, repeats: int = 30, seed: int = 0) -> Measurement:
    """Call fn() `warmup` times untimed, then `repeats` (>= 3) timed calls; the Measurement in seconds."""
    _check_fn(fn, "measure")
    warmup = _check_count(warmup, "warmup", "measure", 0)
    repeats = _check_count(repeats, "repeats", "measure", 3)
    seed = _check_seed(seed, "measure")
    timing = time_function(fn, warmup=warmup, repeats=repeats)
    return Measurement.from_samples(np.asarray(timing.samples_ms) / 1e3, seed=seed)


def measure_interleaved(fns: dict, *, warmup: int = 3, repeats: int = 30, seed: int = 0) -> dict:
    """Measure several callables in turns (one call of each per round, in a shuffled order), so load
    drift and the order of calls hit all of them alike."""
    if not isinstance(fns, dict) or not fns:
        raise ValueError(f"measure_interleaved: fns must be a non-empty dict name -> callable, got {fns!r}")
    for name, fn in fns.items():
        _check_fn(fn, "measure_interleaved", f"fns[{name!r}]")
    warmup = _check_count(warmup, "warmup", "measure_interleaved", 0)
    repeats = _check_count(repeats, "repeats", "measure_interleaved", 3)
    seed = _check_seed(seed, "measure_interleaved")
    for _ in range(warmup):  # warm up in turns too
        for fn in fns.values():
            fn()
    samples = {name: [] for name in fns}
    names = list(fns)
    order = np.random.default_rng(seed)
    for _ in range(repeats):
        for i in order.permutation(len(names)):  # a new order every round: no one always runs first
            samples[names[i]].append(time_function(fns[names[i]], warmup=0, repeats=1).samples_ms[0] / 1e3)
    run = uuid.uuid4().hex  # a random token: measurements from different runs never look paired
    return {name: Measurement.from_samples(values, seed=seed, run=run) for name, values in samples.items()}


# %%
#| test
def test_unit_measure():
    calls = []
    m = measure(lambda: calls.append(1), warmup=2, repeats=7)
    assert len(calls) == 9, f"warmup=2, repeats=7 should call fn 9 times, got {len(calls)}"
    assert m.samples.shape == (7,), f"only the 7 timed calls are samples, got shape {m.samples.shape}"
    assert m.ci95[0] <= m.median <= m.ci95[1], f"the CI {m.ci95} must contain the median {m.median}"
    data = json.loads(json.dumps(m.to_dict()))
    assert data["n"] == 7 and data["median"] == m.median, f"to_dict must be JSON-ready and complete, got {data}"
    again = Measurement.from_dict(data)
    assert again.median == m.median and again.ci95 == m.ci95, "from_dict(to_dict()) must give the same summaries"
    try:
        measure(lambda: None, repeats=1)
    except ValueError as error:
        assert "repeats" in str(error), f"the error should name the argument: {error}"
    else:
        raise AssertionError("measure(repeats=1) should be refused: one sample has no spread")
    print(f"measure: 9 calls for warmup=2, repeats=7; an empty lambda takes {m}")


test_unit_measure()

# %% [markdown]
# ## 5. Is the difference real? Comparing two measurements
#
# The question is always relative: *is the candidate faster than the baseline?* We answer with
# a ratio `candidate / baseline` (0.8 = 20% faster) and a bootstrap interval of that ratio.
#
# - **Two separate measurements** (two `measure` calls): the ratio of the two medians; for the
#   interval, resample both sets of timings independently, take the ratio of the two resampled
#   medians, 2,000 times, and read the 2.5th and 97.5th percentiles (`ratio_ci`).
# - **Measured in turns** (`measure_interleaved`): sample i of each function was taken in the
#   same round, a millisecond apart, under the same load. A burst of load that slows round i
#   slows both, so the **per-round ratio** `candidate_i / baseline_i` hardly moves. The
#   comparison is then *paired*: the ratio is the median of the per-round ratios, and its
#   interval the bootstrap CI of that median (`bootstrap_ci` of the ratios, reused). On this
#   course's 2-core machine at load 19, 40 trials of a sub-millisecond MLP against itself and
#   against itself plus 10%: unpaired, 39 and 27 of 40 verdicts were right; paired, 40 and 39.
#
# The rule (written down, so nobody tunes it after seeing the result):
#
# 1. the difference is **statistically** real when the 95% interval of the ratio excludes 1;
# 2. it is **practically** real when the ratio is also at least `min_effect` (default 5%) away
#    from 1. The same model measured twice is not exactly equal: caches, memory placement and
#    load make one copy a few percent faster for a whole run, and that offset is in every
#    sample of the run, so no interval can see it. At load 10, `benchmarks/harness_check.py`
#    measured same-vs-same ratios from 0.966 to 1.043 over ten trials (unpaired). Below 5% we say
#    "no real difference" even when the interval is narrow: to claim a 2% speed-up, measure on a
#    quiet machine and lower `min_effect` explicitly.
#
# The verdict is then `"faster"` (ratio < 1), `"slower"` (ratio > 1) or `"no real difference"`.
# Non-overlapping CIs of the two medians (`Measurement.overlaps`) imply the same answer but are
# stricter; the ratio's own interval is the sharper test.

# %%
#| export
VERDICTS = ("faster", "slower", "no real difference")


def ratio_ci(baseline_samples, candidate_samples, *, confidence: float = 0.95, resamples: int = 2000,
             seed: int = 0) -> tuple[float, float]:
    """Bootstrap CI of median(candidate) / median(baseline), each resampled independently."""
    base = _check_samples(baseline_samples, "ratio_ci", "baseline_samples")
    cand = _check_samples(candidate_samples, "ratio_ci", "candidate_samples")
    if np.median(base) <= 0:
        raise ValueError("ratio_ci: the baseline's median time is 0; nothing can be compared against it")
    resamples = _check_count(resamples, "resamples", "ratio_ci", 100)
    rng = np.random.default_rng(_check_seed(seed, "ratio_ci"))
    ratios = _bootstrap_medians(cand, resamples, rng) / np.maximum(_bootstrap_medians(base, resamples, rng), 1e-300)
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(ratios, tail)), float(np.percentile(ratios, 100 - tail))


def verdict(ratio: float, ci95: tuple, min_effect: float = 0.05) -> tuple[bool, str]:
    """(significant, verdict) for a ratio candidate/baseline and its CI, by the rule above."""
    # Hint: significant needs both conditions: the interval lies entirely above or entirely below 1,
    #       and |ratio - 1| >= min_effect. Then pick "slower" or "faster" from the side of 1 the
    #       ratio is on; otherwise the verdict is "no real difference".
    ### BEGIN SOLUTION
    excludes_one = ci95[0] > 1.0 or ci95[1] < 1.0
    significant = bool(excludes_one and abs(ratio - 1.0) >= min_effect)
    if not significant:
        return False, "no real difference"
    return True, "slower" if ratio > 1.0 else "faster"
    ### END SOLUTION


@dataclass
class Comparison:
    """candidate vs baseline: the ratio candidate / baseline, its 95% CI, and the verdict.

    ratio is the ratio of the medians, or, when both were measured in the same rounds (paired),
    the median of the per-round ratios; ratio_of_medians is always the plain one.
    """

    ratio: float
    ci95: tuple
    significant: bool
    verdict: str
    min_effect: float = 0.05
    paired: bool = False
    ratio_of_medians: float = math.nan

    @property
    def speedup(self) -> float:
        """baseline / candidate: 2.0 means the candidate takes half the time."""
        return 1.0 / self.ratio

    def to_dict(self) -> dict:
        return {"ratio": self.ratio, "ci95": [self.ci95[0], self.ci95[1]], "significant": self.significant,
                "verdict": self.verdict, "speedup": self.speedup, "min_effect": self.min_effect,
                "paired": self.paired, "ratio_of_medians": self.ratio_of_medians}

    def __str__(self) -> str:
        return (f"{self.verdict}: candidate/baseline = {self.ratio:.3f} "
                f"(95% CI {self.ci95[0]:.3f}-{self.ci95[1]:.3f}{', paired' if self.paired else ''})")


def compare(baseline: Measurement, candidate: Measurement, *, seed: int = 0, min_effect: float = 0.05) -> Comparison:
    """Is `candidate` faster or slower than `baseline`, really? See the rule in the module text.

    Measurements from one measure_interleaved call are compared round by round (paired).
    """
    for name, value in (("baseline", baseline), ("candidate", candidate)):
        if not isinstance(value, Measurement):
            raise TypeError(f"compare: {name} must be a Measurement (from measure()), got {type(value).__name__}")
    if isinstance(min_effect, bool) or not isinstance(min_effect, numbers.Real) or not 0 <= min_effect < 1:
        raise ValueError(f"compare: min_effect must be a number in [0, 1), got {min_effect!r}")
    plain = candidate.median / baseline.median if baseline.median > 0 else math.inf
    paired = (baseline.run is not None and baseline.run == candidate.run
              and baseline.samples.size == candidate.samples.size and bool(np.all(baseline.samples > 0)))
    if paired:  # the same rounds: compare round by round, so load shared by a round cancels
        ratios = candidate.samples / baseline.samples
        ratio, ci = float(np.median(ratios)), bootstrap_ci(ratios, seed=seed)
    else:
        ratio, ci = plain, ratio_ci(baseline.samples, candidate.samples, seed=seed)
    significant, word = verdict(ratio, ci, float(min_effect))
    return Comparison(ratio, ci, significant, word, float(min_effect), paired, plain)


# %%
#| test
def test_unit_compare():
    rng = np.random.default_rng(2)

    def timings(scale, n=30):  # skewed like real timings: a floor plus an exponential tail
        return Measurement.from_samples(scale * (1.0 + rng.exponential(0.05, size=n)))

    base = timings(1e-3)
    slower = compare(base, timings(1.1e-3))
    assert slower.verdict == "slower" and slower.significant, (
        f"a 10% slower candidate should be 'slower', got {slower}; check which side of 1 the CI must lie on")
    faster = compare(base, timings(0.9e-3))
    assert faster.verdict == "faster", f"a 10% faster candidate should be 'faster', got {faster}"
    same = compare(base, timings(1e-3))
    assert same.verdict == "no real difference" and not same.significant, (
        f"two samples of the same distribution should be 'no real difference', got {same}")
    assert verdict(1.01, (1.005, 1.015)) == (False, "no real difference"), (
        "a 1% difference is below min_effect=0.05: not a real difference even with a narrow CI")
    assert verdict(1.2, (0.9, 1.5)) == (False, "no real difference"), "a CI that contains 1 is not significant"
    load = rng.lognormal(0.0, 0.3, size=30)  # measured in turns: round i is slowed by load[i] for both
    base_rounds = Measurement.from_samples(1e-3 * load * (1 + rng.exponential(0.01, 30)), run="same rounds")
    cand_rounds = Measurement.from_samples(1.1e-3 * load * (1 + rng.exponential(0.01, 30)), run="same rounds")
    paired = compare(base_rounds, cand_rounds)
    assert paired.paired and paired.verdict == "slower", (
        f"in the same rounds the load cancels in each round's ratio; 10% slower should be seen, got {paired}")
    print(f"compare: {slower} | {faster} | {same} | under shared load, {paired}")


test_unit_compare()

# %% [markdown]
# ## 6. Benchmarking a model
#
# A model is not one number either. `benchmark_model(model, inputs, labels)` measures what a
# deployment cares about, each in its own way:
#
# | metric | how | why this way |
# |---|---|---|
# | latency p50/p90/p99 | `measure` of one forward pass at **batch 1** | one user's request |
# | throughput | samples / median time of a forward pass at **batch N** | a server's capacity |
# | peak memory | module 14's `MemoryProfiler` (tracemalloc) around one batch-N pass | activations + temporaries |
# | size on disk | the weights file's bytes (set by the caller; `weights_size_bytes` saves an npz) | download, storage |
# | accuracy | argmax predictions over **all** inputs vs the labels of the real test split | what the user gets |
#
# The model runs in `eval()` mode under `no_grad()` (no dropout, BatchNorm's running stats, no
# graph), and goes back to the mode it came in. Memory is measured on a separate pass, because
# tracemalloc slows every allocation and would spoil the timings.

# %%
#| export
@dataclass
class BenchmarkResult:
    """Everything measured about one model; size_bytes is the weights file's size, set by the caller."""

    predictions: np.ndarray
    accuracy: float | None
    latency: Measurement  # batch 1, seconds
    throughput_per_s: float  # samples per second at batch_size
    peak_memory_mb: float  # one forward pass at batch_size
    size_bytes: int | None = None
    throughput: Measurement | None = None  # the batch_size timings behind throughput_per_s
    batch_size: int = 0
    environment: dict = field(default_factory=dict)

    def latency_ms(self) -> dict:
        return {f"p{q}": self.latency.percentile(q) * 1e3 for q in (50, 90, 99)}

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "latency": self.latency.to_dict(), "latency_ms": self.latency_ms(),
                "throughput_per_s": self.throughput_per_s, "peak_memory_mb": self.peak_memory_mb,
                "size_bytes": self.size_bytes, "batch_size": self.batch_size,
                "throughput": self.throughput.to_dict() if self.throughput is not None else None,
                "n_samples": int(len(self.predictions)), "predictions": self.predictions.tolist(),
                "environment": self.environment}


def _check_inputs(inputs, labels) -> None:
    if not isinstance(inputs, np.ndarray):
        raise TypeError(f"benchmark_model: inputs must be a numpy array (N, ...), got {type(inputs).__name__}")
    if inputs.ndim < 2 or len(inputs) == 0:
        raise ValueError(f"benchmark_model: inputs must have a batch axis and at least one sample, got shape "
                         f"{inputs.shape}")
    if labels is None:
        return
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
        raise TypeError(f"benchmark_model: labels must be an integer numpy array or None, got "
                        f"{type(labels).__name__}" + (f" of {labels.dtype}" if isinstance(labels, np.ndarray) else ""))
    if len(labels) != len(inputs):
        raise ValueError(f"benchmark_model: labels must have one entry per input ({len(inputs)}), got {len(labels)}")


def _forward(model, x: Tensor) -> np.ndarray:
    out = model(x)
    out = out.data if isinstance(out, Tensor) else np.asarray(out)
    if out.ndim < 2:
        raise ValueError(f"benchmark_model: the model must return scores (batch, ..., classes), got shape {out.shape}")
    return out


def predict(model, inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """argmax over the last axis of the model's output, for all inputs, batch by batch (eval, no_grad)."""
    batch_size = _check_count(batch_size, "batch_size", "predict", 1)
    with no_grad():
        return np.concatenate([_forward(model, Tensor(inputs[i:i + batch_size])).argmax(axis=-1)
                               for i in range(0, len(inputs), batch_size)])


def benchmark_model(model, inputs: np.ndarray, labels: np.ndarray | None = None, *, batch_size: int = 64,
                    warmup: int = 3, repeats: int = 30, seed: int = 0) -> BenchmarkResult:
    """Latency at batch 1, throughput and peak memory at batch_size, predictions (and accuracy) on all inputs."""
    if not isinstance(model, Module):
        raise TypeError(f"benchmark_model: model must be a tinytorch Module, got {type(model).__name__}")
    batch_size = _check_count(batch_size, "batch_size", "benchmark_model", 1)
    warmup = _check_count(warmup, "warmup", "benchmark_model", 0)
    repeats = _check_count(repeats, "repeats", "benchmark_model", 3)
    _check_inputs(inputs, labels)
    environment = capture_environment()
    was_training = model.training
    model.eval()
    try:
        one, batch = Tensor(inputs[:1]), Tensor(inputs[:batch_size])
        with no_grad():
            latency = measure(lambda: model(one), warmup=warmup, repeats=repeats, seed=seed)
            throughput = measure(lambda: model(batch), warmup=warmup, repeats=repeats, seed=seed)
            memory = MemoryProfiler()
            with memory.measure("forward"):
                model(batch)
        predictions = predict(model, inputs, batch_size)
    finally:
        model.train(was_training)
    accuracy = None
    if labels is not None:
        if predictions.shape != labels.shape:
            raise ValueError(f"benchmark_model: predictions have shape {predictions.shape} but labels "
                             f"{labels.shape}; labels must match the model's output without its class axis")
        accuracy = float(np.mean(predictions == labels))
    return BenchmarkResult(predictions, accuracy, latency, len(batch.data) / throughput.median,
                           memory.results["forward"].peak_mb, None, throughput, len(batch.data), environment)


def weights_size_bytes(model) -> int:
    """Bytes of the model's state_dict saved as an uncompressed npz (no pickle): its size on disk."""
    if not callable(getattr(model, "state_dict", None)):
        raise TypeError(f"weights_size_bytes: model must be a Module, got {type(model).__name__}")
    state = model.state_dict()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "weights.npz")
        np.savez(path, **state)
        return os.path.getsize(path)


# %%
#| test
def test_unit_benchmark_model():
    from tinytorch.core.layers import Linear

    model = Linear(4, 3)
    inputs = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    with no_grad():
        expected = model(Tensor(inputs)).data.argmax(axis=1)
    labels = expected.copy()
    labels[:3] = (labels[:3] + 1) % 3  # three deliberately wrong labels
    result = benchmark_model(model.train(), inputs, labels, batch_size=4, warmup=1, repeats=5)
    assert np.array_equal(result.predictions, expected), "predictions must be the argmax of the model's output"
    assert result.accuracy == 0.7, f"7 of 10 labels agree with the predictions: expected 0.7, got {result.accuracy}"
    assert model.training, "benchmark_model must put the model back in the mode it came in (here: train)"
    assert result.batch_size == 4 and result.throughput_per_s > 0 and result.peak_memory_mb >= 0
    p = result.latency_ms()
    assert p["p50"] <= p["p90"] <= p["p99"], f"percentiles must be ordered, got {p}"
    assert json.loads(json.dumps(result.to_dict()))["accuracy"] == 0.7, "to_dict must be JSON-ready"
    print(f"benchmark_model: accuracy {result.accuracy}, batch-1 p50 {p['p50']:.3f} ms, "
          f"{result.throughput_per_s:,.0f} samples/s at batch 4, weights {weights_size_bytes(model)} bytes")


test_unit_benchmark_model()

# %% [markdown]
# ## 7. Trade-offs: the Pareto front, and a report
#
# Optimizations trade: int8 is 4x smaller but a little less accurate, a wider model is more
# accurate but slower. No single number ranks them. A model is **Pareto-optimal** when no other
# model is at least as good on every axis (accuracy up, latency down, size down) and strictly
# better on one; the set of such models is the **Pareto front**, the only ones worth choosing
# between. Everything behind the front is beaten outright. (The front takes the medians at face
# value: a model 1% slower than another is "behind" it even when `compare` would call the
# difference noise. Check the close calls with `compare` before throwing a model away.)
#
# `write_report(entries, stem)` writes what a reviewer needs: `<stem>.md` (a table, the front,
# comparisons against the baseline with verdicts, the environment) and `<stem>.json` (the same,
# machine-readable), both atomically, and `<stem>_pareto.png` when matplotlib is installed.

# %%
#| export
def _metric(result: dict, keys: tuple, where: str, name: str = "result"):
    """result[keys[0]][keys[1]]... with an error that names the missing entry."""
    value = result
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or value.get(key) is None:
            path = "".join(f"[{k!r}]" for k in keys[:depth + 1])
            raise ValueError(f"{where}: {name}{path} is missing; pass BenchmarkResult.to_dict() "
                             f"(with size_bytes set where size is scored)")
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{where}: {name}{''.join(f'[{k!r}]' for k in keys)} must be a finite number, got {value!r}")
    return float(value)


def _check_entries(entries, where: str) -> dict:
    if not isinstance(entries, dict) or not entries:
        raise ValueError(f"{where}: entries must be a non-empty dict name -> BenchmarkResult.to_dict(), got "
                         f"{type(entries).__name__}")
    return {str(name): (r.to_dict() if isinstance(r, BenchmarkResult) else r) for name, r in entries.items()}


def _point(result: dict, where: str, name: str) -> tuple[float, float, float]:
    return (_metric(result, ("accuracy",), where, name), _metric(result, ("latency_ms", "p50"), where, name),
            _metric(result, ("size_bytes",), where, name))


def pareto_front(entries: dict) -> list[str]:
    """Names of the entries no other entry dominates (accuracy higher, p50 latency and size lower)."""
    entries = _check_entries(entries, "pareto_front")
    points = {name: _point(r, "pareto_front", f"entries[{name!r}]") for name, r in entries.items()}

    def dominates(a, b) -> bool:
        at_least = a[0] >= b[0] and a[1] <= b[1] and a[2] <= b[2]
        return at_least and (a[0] > b[0] or a[1] < b[1] or a[2] < b[2])

    return [name for name, p in points.items() if not any(dominates(q, p) for q in points.values() if q is not p)]


def pareto_text(entries: dict) -> str:
    """The entries as a table, Pareto-optimal ones marked with *: the plot's numbers, and its fallback."""
    entries = _check_entries(entries, "pareto_text")
    front = set(pareto_front(entries))
    lines = [f"  {'model':<24}{'accuracy':>9}{'p50 ms':>10}{'size KB':>10}"]
    for name, r in sorted(entries.items(), key=lambda item: item[1]["latency_ms"]["p50"]):
        accuracy, p50, size = _point(r, "pareto_text", name)
        lines.append(f"{'*' if name in front else ' '} {name:<24}{accuracy:>9.2%}{p50:>10.3f}{size / 1024:>10.1f}")
    lines.append("* = on the Pareto front (no other model is as accurate, as fast and as small)")
    return "\n".join(lines)


def plot_pareto(entries: dict, path) -> str | None:
    """Accuracy vs p50 latency, marker area ~ size, front joined by a line; a PNG written atomically.

    Returns the path, or None (nothing written) when matplotlib is not installed.
    """
    entries = _check_entries(entries, "plot_pareto")
    points = {name: _point(r, "plot_pareto", name) for name, r in entries.items()}
    try:
        figure = _new_figure("plot_pareto", (7.5, 4.5))
    except ImportError:
        return None
    on_front = set(pareto_front(entries))
    front = sorted((points[name] for name in on_front), key=lambda p: p[1])
    largest = max(p[2] for p in points.values())
    axes = figure.subplots()
    for name, (accuracy, p50, size) in points.items():
        axes.scatter(p50, accuracy * 100, s=30 + 400 * size / largest, alpha=0.6,
                     edgecolors="black" if name in on_front else "none", linewidths=1.5)
        axes.annotate(f"{name} ({size / 1024:.0f} KB)", (p50, accuracy * 100), fontsize=7,
                      xytext=(5, 5), textcoords="offset points")
    axes.plot([p[1] for p in front], [p[0] * 100 for p in front], "k--", linewidth=1,
              label="Pareto front (black edge)")
    latencies = [p[1] for p in points.values()]
    if max(latencies) > 5 * min(latencies):  # a log axis only when the latencies span a wide range
        axes.set_xscale("log")
    axes.margins(x=0.25, y=0.15)  # room for the labels
    axes.set_xlabel("batch-1 latency p50 (ms)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title("Accuracy vs latency (marker area ~ size on disk)")
    axes.legend(fontsize=8)
    return _save_png(figure, path, dpi=110)


def _write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda file: file.write(text.encode("utf-8")))


def _report_markdown(title: str, entries: dict, front: list, comparisons: dict, baseline: str | None,
                     environment: dict) -> str:
    lines = [f"# {title}", "", "| model | accuracy | p50 ms | p90 ms | p99 ms | samples/s | peak MB | size KB |"
             + (f" vs {baseline} |" if baseline else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|" if baseline else "")]
    for name, r in entries.items():
        lat = r["latency_ms"]
        accuracy = f"{r['accuracy']:.2%}" if r.get("accuracy") is not None else "-"
        size = f"{r['size_bytes'] / 1024:.1f}" if r.get("size_bytes") is not None else "-"
        row = (f"| {name}{' *' if name in front else ''} | {accuracy} | {lat['p50']:.3f} | {lat['p90']:.3f} | "
               f"{lat['p99']:.3f} | {r['throughput_per_s']:,.0f} | {r['peak_memory_mb']:.2f} | {size} |")
        if baseline:
            c = comparisons.get(name)
            row += (f" {c['verdict']} ({c['ratio']:.3f}, CI {c['ci95'][0]:.3f}-{c['ci95'][1]:.3f}) |" if c else " - |")
        lines.append(row)
    lines += ["", "`*` = on the Pareto front (accuracy, p50 latency, size)." if front else
              "Pareto front: needs accuracy and size_bytes for every model.",
              "Latency: batch 1; ratio = candidate / baseline median, with its bootstrap 95% CI.", "",
              "## Environment", ""]
    lines += [f"- {key}: {value}" for key, value in environment.items()]
    return "\n".join(lines) + "\n"


def write_report(entries: dict, stem, *, baseline: str | None = None, title: str = "Benchmark report",
                 seed: int = 0) -> dict:
    """Write <stem>.md, <stem>.json (atomically) and <stem>_pareto.png (with matplotlib); their paths.

    entries: name -> BenchmarkResult or its to_dict(); baseline: the name the others are compared with.
    """
    entries = _check_entries(entries, "write_report")
    if not isinstance(stem, (str, os.PathLike)):
        raise TypeError(f"write_report: stem must be a str or os.PathLike, got {type(stem).__name__}")
    if baseline is not None and baseline not in entries:
        raise ValueError(f"write_report: baseline must be one of {sorted(entries)}, got {baseline!r}")
    stem = Path(stem)
    comparisons = {}
    if baseline is not None:
        base = Measurement.from_dict(entries[baseline]["latency"], seed=seed)
        comparisons = {name: compare(base, Measurement.from_dict(r["latency"], seed=seed), seed=seed).to_dict()
                       for name, r in entries.items() if name != baseline}
    try:
        front = pareto_front(entries)
    except ValueError:  # accuracy or size missing: a report without a front
        front = []
    environment = next(iter(entries.values())).get("environment") or capture_environment()
    paths = {"markdown": str(stem.with_suffix(".md")), "json": str(stem.with_suffix(".json"))}
    _write_text(Path(paths["markdown"]), _report_markdown(title, entries, front, comparisons, baseline, environment))
    document = {"title": title, "baseline": baseline, "pareto_front": front, "comparisons": comparisons,
                "environment": environment, "results": entries}
    _write_text(Path(paths["json"]), json.dumps(document, indent=1))
    if front:
        png = plot_pareto(entries, stem.parent / f"{stem.name}_pareto.png")
        if png is not None:
            paths["png"] = png
    return paths


# %%
#| test
def test_unit_pareto_and_report():
    def entry(accuracy, p50, size):
        ms = p50 / 1e3 * (1 + np.linspace(0, 0.1, 10))
        latency = Measurement.from_samples(ms).to_dict()
        return {"accuracy": accuracy, "latency": latency, "latency_ms": {"p50": p50, "p90": p50, "p99": p50},
                "throughput_per_s": 1e3 / p50, "peak_memory_mb": 1.0, "size_bytes": size}

    entries = {"fp32": entry(0.98, 2.0, 400_000), "int8": entry(0.975, 2.2, 100_000),
               "wide": entry(0.99, 5.0, 1_600_000), "bad": entry(0.95, 3.0, 500_000)}
    front = pareto_front(entries)
    assert sorted(front) == ["fp32", "int8", "wide"], (
        f"'bad' is less accurate, slower and bigger than 'fp32' (dominated); the others trade off. Got {front}")
    with tempfile.TemporaryDirectory() as folder:
        paths = write_report(entries, Path(folder) / "report", baseline="fp32")
        document = json.loads(Path(paths["json"]).read_text())
        markdown = Path(paths["markdown"]).read_text()
    assert document["comparisons"]["wide"]["verdict"] == "slower", f"2.5x slower must be 'slower': {document}"
    assert "| fp32 * |" in markdown and "## Environment" in markdown, f"the Markdown table is incomplete:\n{markdown}"
    print(pareto_text(entries))


test_unit_pareto_and_report()

# %% [markdown]
# ## 8. The TorchPerf Olympics: five events, rules written down
#
# Module 20 runs a competition on these measurements. Every event compares a submission with
# the event's **baseline** (the plain model, measured by the same harness on the same machine)
# and has an **accuracy floor** relative to the baseline's test accuracy: below it, the entry
# is disqualified, whatever it scores. Scores are ratios to the baseline, so 1.0 means "as good
# as the baseline" and they mean the same on a fast and a slow machine. All latencies are the
# **median** (p50) at batch 1, memory is the peak of one batch-N forward pass, size the bytes
# of the submitted weights file.
#
# | event | what is measured | score (higher is better) | accuracy floor |
# |---|---|---|---|
# | Latency Sprint | batch-1 p50 latency | speed-up `b_p50 / p50` | baseline − 1 pp |
# | Memory Challenge | size on disk, peak memory | geo. mean of `b_size / size`, `b_peak / peak` | baseline − 2 pp |
# | Accuracy Contest | accuracy (p50 ≤ 2x baseline) | accuracy in percent | the baseline's accuracy |
# | All-Around | all five | `acc / b_acc` × geo. mean of 4 gains (below) | baseline − 1 pp |
# | Extreme Push | latency and size | `speed-up × size reduction` | baseline − 5 pp |
#
# (`b_` = the baseline's value. The All-Around's four gains: batch-1 speed-up, throughput gain,
# size reduction, peak-memory reduction.)
#
# Why these: the Sprint rewards what users feel; the Memory Challenge what phones and
# microcontrollers run out of; the Contest stops "accuracy at any price" with a latency cap; the
# All-Around rewards balance (one bad axis pulls a geometric mean down hard); the Extreme Push
# allows a bigger accuracy loss for a product of gains that compounds — quantize *and* prune.

# %%
#| export
class Disqualified(ValueError):
    """An entry below the event's accuracy floor (or breaking another of its rules)."""


def _ratio(numerator: float, denominator: float, what: str, where: str) -> float:
    if numerator <= 0 or denominator <= 0:
        raise ValueError(f"{where}: {what} must be positive on both sides, got {numerator!r} and {denominator!r}")
    return numerator / denominator


def _speedup(result, baseline, where):
    return _ratio(_metric(baseline, ("latency_ms", "p50"), where, "baseline"),
                  _metric(result, ("latency_ms", "p50"), where), "latency_ms p50", where)


def _size_reduction(result, baseline, where):
    return _ratio(_metric(baseline, ("size_bytes",), where, "baseline"), _metric(result, ("size_bytes",), where),
                  "size_bytes", where)


def _memory_reduction(result, baseline, where):
    return _ratio(_metric(baseline, ("peak_memory_mb",), where, "baseline"),
                  _metric(result, ("peak_memory_mb",), where), "peak_memory_mb", where)


def _throughput_gain(result, baseline, where):
    return _ratio(_metric(result, ("throughput_per_s",), where), _metric(baseline, ("throughput_per_s",), where,
                                                                          "baseline"), "throughput_per_s", where)


def _geometric_mean(values: list) -> float:
    return float(math.exp(sum(math.log(v) for v in values) / len(values)))


@dataclass(frozen=True)
class Event:
    """One Olympics event: its written rules, its accuracy floor and its score (higher is better)."""

    key: str
    title: str
    rules: str
    measured: str
    floor_drop: float  # the floor is the baseline's accuracy minus this (0.01 = 1 percentage point)
    max_latency_ratio: float | None = None  # an extra cap: p50 latency at most this times the baseline's

    def accuracy_floor(self, baseline: dict) -> float:
        return _metric(baseline, ("accuracy",), f"{self.title}.accuracy_floor", "baseline") - self.floor_drop

    def eligible(self, result: dict, baseline: dict) -> tuple[bool, str]:
        """(True, "") or (False, the reason), by the floor and the event's other rule."""
        where = f"{self.title}.eligible"
        floor = self.accuracy_floor(baseline)
        if not isinstance(result, dict) or result.get("accuracy") is None:
            return False, "no accuracy measured (the test labels must be given to the harness)"
        accuracy = _metric(result, ("accuracy",), where)
        if accuracy < floor - 1e-12:
            return False, (f"accuracy {accuracy:.2%} is below the floor {floor:.2%} "
                           f"(baseline {floor + self.floor_drop:.2%} minus {self.floor_drop * 100:g} pp)")
        if self.max_latency_ratio is not None:
            slowdown = 1.0 / _speedup(result, baseline, where)
            if slowdown > self.max_latency_ratio:
                return False, (f"p50 latency is {slowdown:.2f}x the baseline's; this event allows at most "
                               f"{self.max_latency_ratio:g}x")
        return True, ""

    def score(self, result: dict, baseline: dict) -> float:
        """The event's score (higher is better); raises Disqualified with the reason when not eligible."""
        ok, reason = self.eligible(result, baseline)
        if not ok:
            raise Disqualified(f"{self.title}: disqualified: {reason}")
        return float(_SCORES[self.key](result, baseline, f"{self.title}.score"))

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "rules": self.rules, "measured": self.measured,
                "floor_drop": self.floor_drop, "max_latency_ratio": self.max_latency_ratio}


def _all_around(result, baseline, where):
    accuracy_ratio = _ratio(_metric(result, ("accuracy",), where), _metric(baseline, ("accuracy",), where,
                                                                            "baseline"), "accuracy", where)
    gains = [gain(result, baseline, where) for gain in (_speedup, _throughput_gain, _size_reduction, _memory_reduction)]
    return accuracy_ratio * _geometric_mean(gains)


_SCORES = {
    "latency_sprint": _speedup,
    "memory_challenge": lambda r, b, w: _geometric_mean([_size_reduction(r, b, w), _memory_reduction(r, b, w)]),
    "accuracy_contest": lambda r, b, w: 100.0 * _metric(r, ("accuracy",), w),
    "all_around": _all_around,
    "extreme_push": lambda r, b, w: _speedup(r, b, w) * _size_reduction(r, b, w),
}

EVENTS = {event.key: event for event in (
    Event("latency_sprint", "Latency Sprint",
          "Score: speed-up of the median batch-1 latency over the baseline (baseline p50 / your p50; 2.0 = "
          "twice as fast). Floor: test accuracy at least the baseline's minus 1 percentage point.",
          "batch-1 latency p50 (ms)", 0.01),
    Event("memory_challenge", "Memory Challenge",
          "Score: geometric mean of the size reduction (baseline weights-file bytes / yours) and the peak-memory "
          "reduction of one batch forward pass (baseline MB / yours). Floor: test accuracy at least the "
          "baseline's minus 2 percentage points.",
          "weights file size (bytes) and peak memory (MB)", 0.02),
    Event("accuracy_contest", "Accuracy Contest",
          "Score: test accuracy in percent. Floor: at least the baseline's accuracy, and a median batch-1 latency "
          "at most 2x the baseline's (accuracy may not be bought with an arbitrarily slow model).",
          "test accuracy; batch-1 latency p50 as a cap", 0.0, 2.0),
    Event("all_around", "All-Around",
          "Score: (your accuracy / baseline accuracy) times the geometric mean of four gains over the baseline: "
          "batch-1 speed-up, throughput gain, size reduction and peak-memory reduction. Floor: test accuracy at "
          "least the baseline's minus 1 percentage point.",
          "latency p50, throughput, size, peak memory, accuracy", 0.01),
    Event("extreme_push", "Extreme Push",
          "Score: batch-1 speed-up times size reduction over the baseline (gains compound: 3x faster and 4x "
          "smaller scores 12). Floor: test accuracy at least the baseline's minus 5 percentage points.",
          "batch-1 latency p50 and weights file size", 0.05),
)}


# %%
#| test
def test_unit_events():
    def result(accuracy, p50, size, peak=2.0, throughput=1000.0):
        return {"accuracy": accuracy, "latency_ms": {"p50": p50, "p90": p50, "p99": p50}, "size_bytes": size,
                "peak_memory_mb": peak, "throughput_per_s": throughput}

    base = result(0.98, 2.0, 400_000)
    assert sorted(EVENTS) == sorted(["latency_sprint", "memory_challenge", "accuracy_contest", "all_around",
                                     "extreme_push"]), f"the five events, got {sorted(EVENTS)}"
    sprint = EVENTS["latency_sprint"]
    assert abs(sprint.accuracy_floor(base) - 0.97) < 1e-12, f"floor = 98% - 1 pp, got {sprint.accuracy_floor(base)}"
    assert abs(sprint.score(result(0.975, 1.0, 400_000), base) - 2.0) < 1e-12, "half the latency is a speed-up of 2"
    ok, reason = sprint.eligible(result(0.96, 1.0, 400_000), base)
    assert not ok and "floor" in reason, f"96% is below the 97% floor: expected a reason naming it, got {reason!r}"
    push = EVENTS["extreme_push"]
    assert abs(push.score(result(0.94, 0.5, 100_000), base) - 16.0) < 1e-9, "4x faster times 4x smaller is 16"
    assert EVENTS["all_around"].score(base, base) == 1.0, "the baseline scores exactly 1 against itself"
    ok, reason = EVENTS["accuracy_contest"].eligible(result(0.99, 5.0, 400_000), base)
    assert not ok and "2x" in reason, f"2.5x slower breaks the Contest's latency cap, got {reason!r}"
    try:
        sprint.score(result(0.5, 1.0, 1), base)
    except Disqualified as error:
        print(f"events: sprint 2.0, push 16.0; a 50% model is refused: {error}")
    else:
        raise AssertionError("score() below the floor must raise Disqualified")


test_unit_events()

# %% [markdown]
# ## Analysis 1 — the noise on your machine
#
# How noisy is this machine right now? We time a fixed piece of work 200 times and look at the
# distribution: the floor, the tail, the outliers. The work is element-wise (`np.exp` over 50k
# floats, ten times, a few tenths of a millisecond), which NumPy runs on one thread.
#
# Then the same for BLAS work (ten 128×128 matmuls). OpenBLAS starts one thread per core and
# makes them **spin-wait** for each other; when other processes hold the cores, a matmul waits
# for a thread that is not running, and its time jumps from a millisecond to tens or hundreds.
# Pinning BLAS to one thread (`OPENBLAS_NUM_THREADS=1` before Python starts; the benchmarks'
# `--threads`) removes that tail on a busy machine — compare the two p99s below.
#
# Last: how wide is the 95% CI of the median after n repeats? It shrinks like 1/√n, so halving it
# costs four times the repeats.

# %%
#| analysis
import time

from tito.plots import plot_lines

rng = np.random.default_rng(0)
a = rng.standard_normal((128, 128), dtype=np.float32)
b = rng.standard_normal((128, 128), dtype=np.float32)
x = rng.standard_normal(50_000).astype(np.float32)
y = np.empty_like(x)


def work(k: int = 10):
    for _ in range(k):
        np.exp(x, out=y)


def blas_work():
    for _ in range(10):
        np.matmul(a, b)


def describe(m: Measurement) -> str:
    return (f"min {m.samples.min() * 1e3:.3f} ms, p50 {m.percentile(50) * 1e3:.3f}, p90 {m.percentile(90) * 1e3:.3f}, "
            f"p99 {m.percentile(99) * 1e3:.3f}, max {m.samples.max() * 1e3:.3f}; mean {m.samples.mean() * 1e3:.3f}; "
            f"{len(m.outliers)} outliers")


env = capture_environment()
noise = measure(work, warmup=5, repeats=200)
blas_noise = measure(blas_work, warmup=3, repeats=20)
print(f"load average {env['load_average'][0]:.2f} on {env['logical_cores']} cores; BLAS threads "
      f"{env['threads']['OPENBLAS_NUM_THREADS'] or 'not pinned'}")
print(f"element-wise, 200 runs: {describe(noise)}")
print(f"BLAS matmul,   20 runs: {describe(blas_noise)}")
edges = np.geomspace(noise.samples.min(), noise.samples.max() * 1.0001, 13)  # log bins: the tail is long
counts, _ = np.histogram(noise.samples, bins=edges)
for count, left in zip(counts, edges):
    print(f"  {left * 1e3:9.3f} ms | {'#' * int(60 * count / counts.max())} {count}")

repeat_counts = [5, 10, 20, 40, 80, 160]
widths = []
for n in repeat_counts:  # the CI of the first n samples, as if we had stopped there
    low, high = bootstrap_ci(noise.samples[:n])
    widths.append(max((high - low) / noise.median * 100, 1e-3))
print(f"{'repeats':>8} {'95% CI width (% of median)':>28}")
for n, w in zip(repeat_counts, widths):
    print(f"{n:>8} {w:>28.2f}")
plot_lines("ci_width_vs_repeats", repeat_counts, {"CI width": widths}, xlabel="repeats",
           ylabel="95% CI width (% of median)", title="How many repeats until the CI is tight", logx=True, logy=True)

# %% [markdown]
# ## Analysis 2 — can the harness see a 10% difference?
#
# Two functions: the same work twice, and the same work plus 10% more of it (11 passes, not 10).
# Measured in turns, the harness should call the first pair "no real difference" and the second
# "slower" with a ratio near 1.10, paired round by round. The last line compares the same samples
# as if they had been two separate runs: the ratio is about the same, the interval wider.
# (`benchmarks/harness_check.py` repeats this many times, also with models 10% slower, and counts
# how often each verdict is right.)

# %%
#| analysis
def more_work():
    work(k=11)  # 11 passes instead of 10 over the same array: exactly 10% more work


timings = measure_interleaved({"work": work, "same work": work, "10% more work": more_work}, repeats=40)
print(f"load average {os.getloadavg()[0]:.2f}")
print(f"same vs same:     {compare(timings['work'], timings['same work'])}")
print(f"10% more work:    {compare(timings['work'], timings['10% more work'])}")
print(f"intervals overlap: same {timings['work'].overlaps(timings['same work'])}, "
      f"10% more {timings['work'].overlaps(timings['10% more work'])}")
as_separate_runs = [Measurement.from_samples(timings[name].samples) for name in ("work", "10% more work")]
print(f"10% more, unpaired: {compare(*as_separate_runs)}")

# %% [markdown]
# ## Analysis 3 — a real model, its smaller twin, the front and the report
#
# We train a small MLP on TinyMNIST (1,000 training digits shipped with the repository) for a
# few seconds, make a narrower variant, benchmark both on the 200 test digits, and write the
# report (Markdown, JSON, PNG) to a folder in your temporary directory. The full MNIST test
# split is `benchmarks/harness_check.py --data mnist`; module 20 uses it for the Olympics.

# %%
#| analysis
from tinytorch.core.data import Compose, DataLoader, Normalize, TinyMNIST, ToTensor
from tinytorch.core.layers import Flatten, Linear, ReLU, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training import Trainer

transform = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
train_set, test_set = TinyMNIST(train=True, transform=transform), TinyMNIST(train=False, transform=transform)
test_images, test_labels = test_set.get_batch(np.arange(len(test_set)))
test_images = test_images.data if isinstance(test_images, Tensor) else test_images

entries = {}
start = time.perf_counter()
for name, hidden in (("mlp-256", 256), ("mlp-32", 32)):
    manual_seed(0)
    model = Sequential(Flatten(), Linear(784, hidden), ReLU(), Linear(hidden, 10))
    loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=0)
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=2e-3), verbose=False).fit(loader, epochs=2)
    result = benchmark_model(model, test_images, np.asarray(test_labels), batch_size=64, repeats=30)
    result.size_bytes = weights_size_bytes(model)
    entries[name] = result
print(f"trained and benchmarked two MLPs in {time.perf_counter() - start:.1f}s (load {os.getloadavg()[0]:.2f})")
print(pareto_text(entries))
print(compare(entries["mlp-256"].latency, entries["mlp-32"].latency))
for key, event in EVENTS.items():
    ok, reason = event.eligible(entries["mlp-32"].to_dict(), entries["mlp-256"].to_dict())
    score = f"{event.score(entries['mlp-32'].to_dict(), entries['mlp-256'].to_dict()):.3f}" if ok else reason
    print(f"  {event.title:<18} mlp-32 vs mlp-256: {score}")
report_folder = Path(tempfile.gettempdir()) / "tinytorch_module19"  # outside the repository: it is yours to keep
report_folder.mkdir(exist_ok=True)
paths = write_report(entries, report_folder / "tinymnist_mlps", baseline="mlp-256", title="TinyMNIST MLPs")
print("report:", ", ".join(paths.values()))
print(Path(paths["markdown"]).read_text())

# %% [markdown]
# ## Reflection
#
# **Q1.** Your noise analysis shows a mean above the median. Which kind of event produces the
# tail, and why would reporting the mean make an optimization look better or worse than it is
# depending on *when* you ran it?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** The CI width shrinks like 1/√n. If 30 repeats give a CI 4% wide, how many do you need
# for 1%? What does that say about claiming a 2% speed-up from a single afternoon's runs on a
# laptop — and why does our rule refuse to call a 2% difference real at all?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** Timing the baseline for a minute and then the candidate for a minute, a background job
# starts halfway through. What does the bootstrap CI of each say, and what does the comparison
# conclude? How does `measure_interleaved` change the answer, and why does comparing round by
# round (the median of per-round ratios) need fewer repeats than comparing the two medians?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** An int8 model is 4x smaller and 0.3 pp less accurate, but 20% slower in NumPy (no
# integer GEMM). Which Olympics events can it win against the float baseline, and which rule
# would you change if the competition ran on hardware with int8 kernels?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - One timing is a sample of `work + noise`, and the noise is one-sided: warm up, repeat, and
#   summarise with the **median** and **IQR**; quote **p50/p90/p99** for latency; report Tukey
#   outliers instead of hiding them.
# - The **bootstrap** gives a 95% CI of the median without assuming a distribution; its width
#   shrinks like 1/√n.
# - Two measurements differ when the CI of their **ratio** excludes 1 *and* the ratio is beyond
#   the machine's drift (5%); measuring **interleaved** keeps load drift out of the comparison,
#   and compares round by round (paired), which cancels the load a round shares.
# - `benchmark_model` measures batch-1 latency, batch-N throughput, peak memory, predictions and
#   accuracy, with the **environment** recorded; size on disk comes from the weights file.
# - The **Pareto front** keeps only the models nothing beats on every axis; `write_report`
#   writes Markdown, JSON and a PNG atomically.
# - The five **Olympics events** score ratios to a baseline above an accuracy floor; module 20
#   runs them on submissions in their own processes.
