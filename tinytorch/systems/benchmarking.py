# Generated from modules/19_benchmarking/benchmarking.py by `tito export`. Do not edit: edit the module.

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
    rank = q / 100.0 * (x.size - 1)
    below, above = math.floor(rank), math.ceil(rank)
    return float(x[below] + (rank - below) * (x[above] - x[below]))


def median_iqr(samples) -> tuple[float, float]:
    """(median, interquartile range) of samples: p50, and p75 - p25. Shape: (n,) -> two floats."""
    x = _check_samples(samples, "median_iqr")
    # Hint: all three are percentiles; reuse percentile().
    return percentile(x, 50), percentile(x, 75) - percentile(x, 25)


def tukey_outliers(samples) -> list[int]:
    """Indices of samples beyond Tukey's fences: below p25 - 1.5 IQR or above p75 + 1.5 IQR.

    Outliers are *reported*, never dropped: a slow call is part of what the model costs.
    """
    x = _check_samples(samples, "tukey_outliers")
    low, high = percentile(x, 25), percentile(x, 75)
    spread = high - low
    return [int(i) for i in np.flatnonzero((x < low - 1.5 * spread) | (x > high + 1.5 * spread))]


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
    picks = rng.integers(0, x.size, size=(resamples, x.size))
    rows = np.sort(x[picks], axis=1)
    return 0.5 * (rows[:, (x.size - 1) // 2] + rows[:, x.size // 2])


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
    excludes_one = ci95[0] > 1.0 or ci95[1] < 1.0
    significant = bool(excludes_one and abs(ratio - 1.0) >= min_effect)
    if not significant:
        return False, "no real difference"
    return True, "slower" if ratio > 1.0 else "faster"


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
