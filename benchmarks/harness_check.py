"""Can module 19's harness be trusted? Repeated runs must agree, and a 10% slower model must be told apart.

Two parts, each repeated for --trials independent trials (every trial is a fresh measurement):

1. Functions: `work` (ten passes of np.exp over 50,000 float32, one thread), the same `work` again,
   and `work` with 11 passes (exactly 10% more work), measured in turns by `measure_interleaved`.
2. Models, on the real test split (MNIST's 10,000 test images via $TINYTORCH_DATA, or the shipped
   TinyMNIST's 200 with --data tinymnist): the 1986 milestone's MLP (784-512-256-10) trained for
   --epochs on --train-size images; the same model again; the same model padded by a spin-wait of
   10% of its own batch-1 median (exactly 10% slower); and a wider MLP with 10% more multiply-adds.
   Batch-1 forward passes are measured in turns; every model is also run through `benchmark_model`
   once (accuracy, p50/p90/p99, throughput, peak memory, weights size) and a report is written.

Each trial also measures the baseline twice in a row with `measure` (not in turns: "rerun_sequential",
what re-running a benchmark later sees). For each pair the verdict of `compare` (paired: round by round;
and unpaired: the same samples as two separate measurements) and whether the two 95% CIs overlap
are counted over the trials. Right answers: "no real difference" (and overlapping
intervals) for a model against itself, "slower" for the 10% slower ones.

    TINYTORCH_DATA=/work/shared/datasets python benchmarks/harness_check.py [--trials 10] [--repeats 100]
        [--data mnist|tinymnist] [--epochs 1] [--train-size 10000] [--threads 1] [--out DIR] [--json]
"""

from __future__ import annotations

import sys

from _threads import pin_blas_threads

THREADS = pin_blas_threads(sys.argv[1:], "1")

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _compress_common import STATS, load_data, milestone, train  # noqa: E402

from tinytorch.core.autograd import no_grad  # noqa: E402
from tinytorch.core.data import Compose, Normalize, TinyMNIST, ToTensor  # noqa: E402
from tinytorch.core.layers import Module  # noqa: E402
from tinytorch.core.tensor import Tensor, manual_seed  # noqa: E402
from tinytorch.systems import benchmarking as B  # noqa: E402

PAIRS = (("same", "no real difference"), ("slower_10pct", "slower"))


class Padded(Module):
    """The wrapped model, then a spin-wait of `pad_s` seconds: the same predictions, a known extra time."""

    def __init__(self, model: Module, pad_s: float):
        super().__init__()
        self.model, self.pad_s = model, pad_s

    def forward(self, x):
        out = self.model(x)
        until = time.perf_counter() + self.pad_s
        while time.perf_counter() < until:  # spinning, not sleeping: sleep overshoots by more than the pad
            pass
        return out


def tally(trials: list[dict]) -> dict:
    """For each pair: how often each verdict came (paired and unpaired), how often the CIs overlapped,
    the median ratio."""
    out = {}
    for pair in trials[0]:
        verdicts = [t[pair]["verdict"] for t in trials]
        unpaired = [t[pair].get("unpaired_verdict", t[pair]["verdict"]) for t in trials]
        out[pair] = {"verdicts": {v: verdicts.count(v) for v in B.VERDICTS},
                     "unpaired_verdicts": {v: unpaired.count(v) for v in B.VERDICTS},
                     "overlap": sum(t[pair]["overlap"] for t in trials),
                     "median_ratio": float(np.median([t[pair]["ratio"] for t in trials])),
                     "ratio_range": [min(t[pair]["ratio"] for t in trials), max(t[pair]["ratio"] for t in trials)]}
    return out


def one_trial(fns: dict, baseline: str, pairs: dict, repeats: int, seed: int) -> dict:
    m = B.measure_interleaved(fns, warmup=3, repeats=repeats, seed=seed)
    out = {}
    for pair, name in pairs.items():
        c = B.compare(m[baseline], m[name], seed=seed)  # paired: the same rounds
        alone = B.compare(*(B.Measurement.from_samples(m[k].samples, seed=seed) for k in (baseline, name)), seed=seed)
        out[pair] = {"verdict": c.verdict, "ratio": c.ratio, "ci95": list(c.ci95),
                     "unpaired_verdict": alone.verdict, "unpaired_ratio": alone.ratio,
                     "overlap": m[baseline].overlaps(m[name])}
    return out


def rerun_trial(fn, repeats: int, seed: int) -> dict:
    """The same callable measured twice, one run after the other (not in turns): what a re-run sees."""
    first = B.measure(fn, warmup=3, repeats=repeats, seed=seed)
    second = B.measure(fn, warmup=3, repeats=repeats, seed=seed)
    c = B.compare(first, second, seed=seed)
    return {"verdict": c.verdict, "ratio": c.ratio, "ci95": list(c.ci95), "overlap": first.overlaps(second)}


def functions_part(trials: int, repeats: int) -> dict:
    x = np.random.default_rng(0).standard_normal(50_000).astype(np.float32)
    y = np.empty_like(x)

    def work(passes: int = 10):
        for _ in range(passes):
            np.exp(x, out=y)

    fns = {"work": work, "same": lambda: work(10), "more": lambda: work(11)}
    pairs = {"same": "same", "slower_10pct": "more"}
    results = [one_trial(fns, "work", pairs, repeats, seed) | {"rerun_sequential": rerun_trial(work, repeats, seed)}
               for seed in range(trials)]
    return tally(results)


def load_test(data: str, train_size: int, seed: int = 0):
    if data == "tinymnist":
        transform = Compose([ToTensor(), Normalize(*STATS["mnist"])])
        return TinyMNIST(train=True, transform=transform), TinyMNIST(train=False, transform=transform)
    return load_data("mnist", train_size, seed)


def wider_mlp(hidden: tuple, factor: float) -> tuple:
    """Hidden sizes scaled so the multiply-adds grow by `factor` (784-h1-h2-10)."""
    def macs(h1, h2):
        return 784 * h1 + h1 * h2 + h2 * 10

    target, scale = factor * macs(*hidden), 1.0
    for _ in range(60):  # bisection-free: a fixed-point refinement of one scale for both layers
        scale *= (target / macs(round(hidden[0] * scale), round(hidden[1] * scale))) ** 0.5
    return round(hidden[0] * scale), round(hidden[1] * scale)


def models_part(args) -> dict:
    train_set, test_set = load_test(args.data, args.train_size)
    images, labels = test_set.get_batch(np.arange(len(test_set)))
    images = images.data if isinstance(images, Tensor) else images
    labels = np.asarray(labels)
    mlp = milestone("1986_mlp").mlp  # the milestone's own builder: Flatten, Linear, ReLU, ... (no dropout here)
    manual_seed(0)
    base = train(mlp(784, (512, 256), 10, 0.0), train_set, args.epochs)
    hidden = wider_mlp((512, 256), 1.10)
    manual_seed(1)
    wide = train(mlp(784, hidden, 10, 0.0), train_set, args.epochs)
    one = Tensor(images[:1])
    with no_grad():
        p50 = B.measure(lambda: base(one), warmup=5, repeats=args.repeats).median
        padded = Padded(base, 0.10 * p50).eval()
        fns = {"base": lambda: base(one), "same": lambda: base(one), "padded": lambda: padded(one),
               "wide": lambda: wide(one)}
        pairs = {"same": "same", "slower_10pct": "padded", "more_work_10pct": "wide"}
        trials = [one_trial(fns, "base", pairs, args.repeats, seed)
                  | {"rerun_sequential": rerun_trial(fns["base"], args.repeats, seed)} for seed in range(args.trials)]
    entries = {}
    for name, model in (("mlp", base), ("mlp+10% spin", padded), (f"mlp {hidden[0]}-{hidden[1]}", wide)):
        result = B.benchmark_model(model, images, labels, batch_size=64, repeats=args.repeats)
        result.size_bytes = B.weights_size_bytes(model)
        entries[name] = result.to_dict()
    folder = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="harness_check_"))
    folder.mkdir(parents=True, exist_ok=True)
    paths = B.write_report(entries, folder / "harness_check", baseline="mlp", title=f"harness check ({args.data})")
    return {"tally": tally(trials), "pad_ms": 0.10 * p50 * 1e3, "wide_hidden": hidden, "report": paths,
            "models": {name: {k: r[k] for k in ("accuracy", "latency_ms", "throughput_per_s", "peak_memory_mb",
                                                 "size_bytes")} for name, r in entries.items()},
            "pareto": B.pareto_text(entries), "test_images": len(labels)}


def print_tally(title: str, tally_: dict, trials: int) -> None:
    print(f"\n{title} ({trials} trials)")
    print(f"  {'pair':<18}{'median ratio':>13}{'ratio range':>16}  {'verdicts':<46}{'unpaired verdicts':<46}"
          f"{'CIs overlap':>12}")
    for pair, t in tally_.items():
        verdicts, unpaired = (", ".join(f"{v}: {n}" for v, n in t[key].items() if n)
                              for key in ("verdicts", "unpaired_verdicts"))
        if pair == "rerun_sequential":
            unpaired = "(the same: two runs)"
        low, high = t["ratio_range"]
        print(f"  {pair:<18}{t['median_ratio']:>13.3f}{f'{low:.3f}-{high:.3f}':>16}  {verdicts:<46}{unpaired:<46}"
              f"{t['overlap']:>8}/{trials}")


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--data", choices=("mnist", "tinymnist"), default="mnist")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--threads", default=THREADS, help="BLAS threads (set before NumPy loads; default 1)")
    parser.add_argument("--out", default=None, help="folder for the report (default: a new temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.data == "mnist" and "TINYTORCH_DATA" not in os.environ:
        raise SystemExit("--data mnist needs TINYTORCH_DATA (e.g. TINYTORCH_DATA=/work/shared/datasets); "
                         "or use --data tinymnist")
    env = B.capture_environment()
    print(f"{env['cpu']}, {env['logical_cores']} cores, BLAS {env['blas']} with {THREADS} thread(s), "
          f"NumPy {env['numpy']}, load average {env['load_average'][0]:.2f}")
    started = time.perf_counter()
    functions = functions_part(args.trials, args.repeats)
    print_tally("functions: 10 passes of np.exp vs the same / vs 11 passes", functions, args.trials)
    models = models_part(args)
    print_tally(f"models, batch 1 ({args.data}, {models['test_images']} test images; spin pad "
                f"{models['pad_ms']:.3f} ms; wide MLP {models['wide_hidden']})", models["tally"], args.trials)
    print("\n" + models["pareto"])
    for name, m in models["models"].items():
        lat = m["latency_ms"]
        print(f"  {name:<22} accuracy {m['accuracy']:.2%}  p50/p90/p99 {lat['p50']:.3f}/{lat['p90']:.3f}/"
              f"{lat['p99']:.3f} ms  {m['throughput_per_s']:,.0f}/s at 64  peak {m['peak_memory_mb']:.2f} MB  "
              f"{m['size_bytes']:,} bytes")
    print("report:", ", ".join(models["report"].values()))
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"{time.perf_counter() - started:.0f} s; load average at the end {load_after:.2f}")
    result = {"environment": env, "threads": THREADS, "trials": args.trials, "repeats": args.repeats,
              "functions": functions, "models": {k: v for k, v in models.items() if k != "pareto"},
              "load_average_end": load_after}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
