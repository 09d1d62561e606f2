"""How fast does TinyTorch train a CNN? One full training step of a small VGG-style network.

The network (CIFAR-10 sized input 3x32x32, batch 64, float32):

    conv3x3(3->32) ReLU  conv3x3(32->32) ReLU  maxpool2
    conv3x3(32->64) ReLU conv3x3(64->64) ReLU  maxpool2
    flatten  linear(4096->256) ReLU  linear(256->10)       CrossEntropyLoss, padding 1 everywhere

One step = zero_grad + forward + loss + backward + Adam (tinytorch.optim.Adam when module 06 is
there, else an equivalent in-place Adam written below). The step's useful work is its matmul
FLOPs: 2 * (multiply-adds) for each conv and linear forward, twice that again for backward (the
input gradient and the weight gradient), except that the first layer needs no input gradient.
Dividing by the step time gives the *effective* GFLOP/s, which is compared with what this machine's
BLAS does on a plain 1024x1024 float32 matmul: the gap is what the framework loses to copies,
memory traffic, elementwise ops and Python.

A per-layer profile follows: forward time of each layer, and backward time measured by identity
"stamp" Functions placed between layers, whose backward notes the time as the gradient passes.

    python benchmarks/cnn_step.py [--repeats N] [--rounds N] [--batch N] [--threads N] [--small]
                                  [--torch-python PATH] [--no-compare] [--json]

Before timing, it checks that the first conv agrees with module 09's direct loops and, after
timing, that training on the fixed batch lowered the loss: a fast wrong answer is not a result.

Then the comparison, each contender in its own fresh process so that none inherits another's
warm caches, allocator state or thread pools: TinyTorch with module 16's fused kernels, TinyTorch
with `use_fused(False)` (module 09's textbook path), and PyTorch CPU (eager, float32,
`torch.optim.Adam`, same BLAS thread count) on the same network, weights and batch. The three run
one after another, `--rounds` times (alternating, so a change in the machine's load hits all of
them alike); each process reports the median of its `--repeats` timed steps, and the ratios are
taken round by round (median over rounds). PyTorch runs in the interpreter given by
`--torch-python` (default: this one if it can import torch, else $TINYTORCH_TORCH_PYTHON).
By default glibc's malloc is first told to keep freed memory (module 16's keep_freed_memory()),
as in benchmarks/gpt_step.py; `--default-malloc` leaves it alone.
"""

import argparse
import os
import sys

from _threads import pin_blas_threads  # noqa: E402  (sets BLAS threads before numpy loads)

THREADS = pin_blas_threads(sys.argv[1:], default="2")

import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import tinytorch as tt  # noqa: E402
from tinytorch import nn  # noqa: E402
from tinytorch.core import spatial  # noqa: E402
from tinytorch.core.autograd import Function  # noqa: E402
from tinytorch.core.tensor import matmul_arrays  # noqa: E402
from tinytorch.systems.acceleration import keep_freed_memory, use_fused  # noqa: E402

FULL = {"batch": 64, "size": 32}
SMALL = {"batch": 4, "size": 16}  # a smoke test: same code path, tiny sizes


def build_model(size: int, seed: int):
    tt.manual_seed(seed)
    flat = 64 * (size // 4) ** 2
    return nn.Sequential(
        spatial.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        spatial.Conv2d(32, 32, 3, padding=1), nn.ReLU(), spatial.MaxPool2d(2),
        spatial.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        spatial.Conv2d(64, 64, 3, padding=1), nn.ReLU(), spatial.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, 256), nn.ReLU(), nn.Linear(256, 10),
    )


class HandAdam:
    """Adam with PyTorch's defaults, updating parameters in place (used when tinytorch.optim is missing)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.lr, (self.b1, self.b2), self.eps, self.count = lr, betas, eps, 0
        self.first = [np.zeros_like(p.data) for p in self.params]
        self.second = [np.zeros_like(p.data) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.count += 1
        fix1, fix2 = 1 - self.b1 ** self.count, 1 - self.b2 ** self.count
        for p, mean, square in zip(self.params, self.first, self.second):
            if p.grad is None:
                continue
            grad = p.grad.data
            np.multiply(mean, self.b1, out=mean)
            mean += (1 - self.b1) * grad
            np.multiply(square, self.b2, out=square)
            square += (1 - self.b2) * np.square(grad)
            scale = np.sqrt(square) / np.sqrt(fix2)
            scale += self.eps
            p.data -= (self.lr / fix1) * mean / scale


def make_optimizer(params):
    """(optimizer, its name): tinytorch.optim.Adam if it is implemented, else HandAdam."""
    params = list(params)
    try:
        from tinytorch.optim import Adam

        probe = tt.tensor([1.0], requires_grad=True)
        probe.grad = tt.tensor([1.0])
        Adam([probe]).step()
        return Adam(params), "tinytorch.optim.Adam"
    except (ImportError, NotImplementedError):
        return HandAdam(params), "HandAdam (tinytorch.optim.Adam is not available)"


def train_step(model, loss_fn, optimizer, x, target):
    optimizer.zero_grad()
    loss = loss_fn(model(x), target)
    loss.backward()
    optimizer.step()
    return loss


# ----- the comparison: one contender per process -----------------------------------------------
def torch_model(model):
    """The same network in PyTorch, holding TinyTorch's current weights."""
    import torch
    from torch import nn as tnn

    layers = []
    for layer in model:
        if isinstance(layer, spatial.Conv2d):
            twin = tnn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, padding=layer.padding)
        elif isinstance(layer, nn.Linear):
            twin = tnn.Linear(layer.in_features, layer.out_features)
        elif isinstance(layer, spatial.MaxPool2d):
            twin = tnn.MaxPool2d(layer.kernel_size)
        elif isinstance(layer, nn.ReLU):
            twin = tnn.ReLU()
        elif isinstance(layer, nn.Flatten):
            twin = tnn.Flatten()
        else:
            raise TypeError(f"torch_model: no PyTorch twin for {layer!r}")
        if isinstance(layer, (spatial.Conv2d, nn.Linear)):
            with torch.no_grad():
                twin.weight.copy_(torch.from_numpy(layer.weight.data))
                twin.bias.copy_(torch.from_numpy(layer.bias.data))
        layers.append(twin)
    return tnn.Sequential(*layers)


def setup(config: dict, seed: int):
    """(model, input, target) for one run: the same in every process for the same seed."""
    model = build_model(config["size"], seed)
    rng = np.random.default_rng(seed)
    x = tt.tensor(rng.standard_normal((config["batch"], 3, config["size"], config["size"]), dtype=np.float32))
    target = tt.tensor(rng.integers(0, 10, size=config["batch"]))
    return model, x, target


def worker(kind: str, config: dict, repeats: int, seed: int) -> dict:
    """Milliseconds of `repeats` training steps (after 3 warm-up steps) of one contender, in this process."""
    model, x, target = setup(config, seed)
    if kind == "torch":
        import torch

        torch.set_num_threads(int(THREADS))
        twin = torch_model(model)
        optimizer = torch.optim.Adam(twin.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        xt, yt = torch.from_numpy(x.data), torch.from_numpy(target.data)

        def step():
            optimizer.zero_grad()
            loss = loss_fn(twin(xt), yt)
            loss.backward()
            optimizer.step()
            return loss

        version, context = f"PyTorch {torch.__version__}", torch.enable_grad()
    else:
        optimizer, _ = make_optimizer(model.parameters())
        loss_fn = nn.CrossEntropyLoss()

        def step():
            return train_step(model, loss_fn, optimizer, x, target)

        version, context = f"TinyTorch {'fused' if kind == 'fused' else 'plain'}", use_fused(kind == "fused")
    times, cpu_times = [], []
    with context:
        first = float(step().item())
        for _ in range(2):
            step()
        for _ in range(repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            last = float(step().item())
            times.append((time.perf_counter() - start) * 1e3)
            cpu_times.append((time.process_time() - cpu_start) * 1e3)
    if not last < first:
        raise AssertionError(f"{kind}: training on one fixed batch did not lower the loss: {first} -> {last}")
    return {"kind": kind, "version": version, "ms": times, "cpu_ms": cpu_times, "loss_first_last": [first, last]}


def find_torch_python(given: str | None) -> str | None:
    """The interpreter that runs PyTorch's contender, or None when there is none."""
    if given:
        return given
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return os.environ.get("TINYTORCH_TORCH_PYTHON") or None


def compare(args, config: dict, torch_python: str | None) -> dict:
    """Median step ms of each contender per round, each run in a fresh process, rounds alternating."""
    kinds = ["fused", "plain"] + (["torch"] if torch_python else [])
    rounds: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu_rounds: dict[str, list[float]] = {kind: [] for kind in kinds}
    versions: dict[str, str] = {}
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    for _ in range(args.rounds):
        for kind in kinds:
            command = [torch_python if kind == "torch" else sys.executable, str(Path(__file__).resolve()),
                       "--worker", kind, "--repeats", str(args.compare_repeats), "--threads", str(args.threads),
                       "--seed", str(args.seed), "--batch", str(config["batch"])]
            command += ["--small"] if args.small else []
            command += ["--default-malloc"] if args.default_malloc else []
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"the {kind} process failed ({' '.join(command)}):\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rounds[kind].append(statistics.median(result["ms"]))
            cpu_rounds[kind].append(statistics.median(result["cpu_ms"]))
            versions[kind] = result["version"]
    return {"rounds": rounds, "cpu_rounds": cpu_rounds, "versions": versions}


def ratio(rounds: dict, top: str, bottom: str) -> float:
    """Median over rounds of top's time / bottom's time in the same round."""
    return statistics.median(a / b for a, b in zip(rounds[top], rounds[bottom]))


# ----- what the step costs in FLOPs ----------------------------------------------------------------
def matmul_flops(model, x) -> list[tuple[int, int]]:
    """(forward FLOPs, backward FLOPs) of each layer's matmuls for the input x (0 for other layers)."""
    flops, first = [], True
    with tt.no_grad():
        h = x
        for layer in model:
            out = layer(h)
            if isinstance(layer, (spatial.Conv2d, nn.Linear)):
                fan_in = int(np.prod(layer.weight.shape[1:]))
                forward = 2 * out.numel() * fan_in
                backward = forward if first else 2 * forward  # dW always; dX except for the first layer
                first = False
            else:
                forward = backward = 0
            flops.append((forward, backward))
            h = out
    return flops


# ----- measurements -------------------------------------------------------------------------------
def matmul_gflops(repeats: int = 20) -> float:
    """Median GFLOP/s of a float32 1024x1024 @ 1024x1024 matmul on this machine."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    for _ in range(3):
        matmul_arrays(a, b)  # the package's product: on every core module 16's pool owns
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul_arrays(a, b)
        times.append(time.perf_counter() - start)
    return 2 * 1024 ** 3 / statistics.median(times) / 1e9


class Stamp(Function):
    """Identity in forward; its backward writes the time into log[index] as the gradient passes."""

    @staticmethod
    def forward(ctx, x, log, index):
        ctx.log, ctx.index = log, index
        return x

    @staticmethod
    def backward(ctx, grad_output):
        ctx.log[ctx.index] = time.perf_counter()
        return grad_output, None, None


def profile_step(model, loss_fn, optimizer, x, target) -> dict:
    """Seconds per layer (forward, backward), for the loss and for the optimizer, in one step."""
    optimizer.zero_grad()
    layers = list(model)
    stamps: dict[int, float] = {}
    forward = []
    h = x
    for index, layer in enumerate(layers):
        start = time.perf_counter()
        h = layer(h)
        forward.append(time.perf_counter() - start)
        h = Stamp.apply(h, stamps, index)
    start = time.perf_counter()
    loss = loss_fn(h, target)
    loss_forward = time.perf_counter() - start
    start = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
    last = len(layers) - 1
    backward = [stamps[i - 1] - stamps[i] if i > 0 else end - stamps[0] for i in range(len(layers))]
    loss_backward = stamps[last] - start
    start = time.perf_counter()
    optimizer.step()
    step = time.perf_counter() - start
    return {"forward": forward, "backward": backward, "loss": (loss_forward, loss_backward), "optimizer": step}


def check_conv_against_loops(model, x) -> float:
    """Largest difference between the first conv and module 09's direct loops, on two images."""
    conv = model[0]
    ours = conv(x[:2]).data
    loops = spatial.conv2d_naive(x.data[:2], conv.weight.data, conv.bias.data, padding=conv.padding)
    difference = float(np.abs(ours - loops).max())
    if difference > 1e-4:
        raise AssertionError(f"the first conv differs from the direct loops by {difference}")
    return difference


def machine_info() -> dict:
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "machine": f"{platform.system()} {platform.machine()}",
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def describe(layer) -> str:
    text = repr(layer)
    return text if len(text) <= 44 else text[:41] + "..."


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="CNN training step (forward + backward + Adam)")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps (median)")
    parser.add_argument("--profiles", type=int, default=5, help="profiled steps (median per layer)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 64)")
    parser.add_argument("--threads", default=THREADS, help="BLAS threads (set before NumPy loads)")
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the process comparison")
    parser.add_argument("--compare-repeats", type=int, default=10, help="timed steps per comparison process")
    parser.add_argument("--torch-python", default=None, help="interpreter for PyTorch's process (see above)")
    parser.add_argument("--no-compare", action="store_true", help="skip the fused / plain / PyTorch comparison")
    parser.add_argument("--default-malloc", action="store_true", help="leave glibc's malloc as it is")
    parser.add_argument("--worker", choices=["fused", "plain", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    args = parser.parse_args(argv)
    for name in ("repeats", "profiles", "rounds", "compare_repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.batch is not None and args.batch < 1:
        parser.error(f"--batch must be at least 1, got {args.batch}")
    config = dict(SMALL if args.small else FULL)
    if args.batch:
        config["batch"] = args.batch
    batch, size = config["batch"], config["size"]
    tuned_malloc = False if args.default_malloc or args.worker == "torch" else keep_freed_memory()
    if args.worker:
        print(json.dumps(worker(args.worker, config, args.compare_repeats, args.seed)))
        return {}

    model, x, target = setup(config, args.seed)
    optimizer, optimizer_name = make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()

    conv_diff = check_conv_against_loops(model, x)
    flops = matmul_flops(model, x)
    step_flops = sum(f + b for f, b in flops)

    first_loss = train_step(model, loss_fn, optimizer, x, target).item()
    for _ in range(2):  # warm-up
        train_step(model, loss_fn, optimizer, x, target)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loss = train_step(model, loss_fn, optimizer, x, target)
        times.append((time.perf_counter() - start) * 1e3)
    last_loss = loss.item()
    if not last_loss < first_loss:
        raise AssertionError(f"training on one fixed batch did not lower the loss: {first_loss} -> {last_loss}")
    median_ms, min_ms = statistics.median(times), min(times)

    profiles = [profile_step(model, loss_fn, optimizer, x, target) for _ in range(args.profiles)]
    layers = list(model)
    rows = []
    for i, layer in enumerate(layers):
        fwd = statistics.median(p["forward"][i] for p in profiles) * 1e3
        bwd = statistics.median(p["backward"][i] for p in profiles) * 1e3
        rows.append({"layer": describe(layer), "fwd_ms": round(fwd, 3), "bwd_ms": round(bwd, 3),
                     "mflop": round(sum(flops[i]) / 1e6, 1)})
    loss_fwd = statistics.median(p["loss"][0] for p in profiles) * 1e3
    loss_bwd = statistics.median(p["loss"][1] for p in profiles) * 1e3
    optimizer_ms = statistics.median(p["optimizer"] for p in profiles) * 1e3
    blas = matmul_gflops()
    effective = step_flops / (median_ms / 1e3) / 1e9
    machine = machine_info()

    print(f"CNN training step: batch {batch}, input 3x{size}x{size}, float32, {optimizer_name}")
    print(f"  first conv vs direct loops: max abs diff {conv_diff:.2e}; loss {first_loss:.4f} -> "
          f"{last_loss:.4f} over {args.repeats + 3} steps on one batch")
    print(f"  step      median {median_ms:8.1f} ms   min {min_ms:8.1f} ms   ({args.repeats} steps)   target <= 200 ms")
    print(f"  work      {step_flops / 1e9:.2f} GFLOP per step ({step_flops / batch / 1e6:.1f} MFLOP per image)")
    print(f"  effective {effective:8.1f} GFLOP/s   vs   float32 1024x1024 matmul {blas:8.1f} GFLOP/s "
          f"({effective / blas:.0%})")
    print(f"\nper layer (median of {args.profiles} profiled steps; backward via stamps between layers):")
    print(f"  {'layer':<46}{'fwd ms':>8}{'bwd ms':>8}{'MFLOP':>9}{'GFLOP/s':>9}")
    for row in rows:
        spent = row["fwd_ms"] + row["bwd_ms"]
        rate = f"{row['mflop'] / spent:9.1f}" if row["mflop"] else f"{'':>9}"
        print(f"  {row['layer']:<46}{row['fwd_ms']:>8.2f}{row['bwd_ms']:>8.2f}{row['mflop']:>9.1f}{rate}")
    print(f"  {'CrossEntropyLoss':<46}{loss_fwd:>8.2f}{loss_bwd:>8.2f}")
    print(f"  {'optimizer.step()':<46}{optimizer_ms:>8.2f}")
    total_fwd = sum(r["fwd_ms"] for r in rows) + loss_fwd
    total_bwd = sum(r["bwd_ms"] for r in rows) + loss_bwd
    print(f"  {'total':<46}{total_fwd:>8.2f}{total_bwd:>8.2f}   + optimizer = "
          f"{total_fwd + total_bwd + optimizer_ms:.1f} ms")
    comparison = None
    torch_python = find_torch_python(args.torch_python)
    if not args.no_compare:
        comparison = compare(args, config, torch_python)
        rounds, names = comparison["rounds"], comparison["versions"]
        print(f"\ncomparison: each in a fresh process, {args.rounds} alternating rounds, median of "
              f"{args.compare_repeats} steps per process, {args.threads} BLAS thread(s) each")
        labels = {"fused": "TinyTorch, module 16 kernels (default)", "plain": "TinyTorch, use_fused(False)",
                  "torch": names.get("torch", "PyTorch") + " CPU, eager"}
        for kind, values in rounds.items():
            per_round = " ".join(f"{v:7.1f}" for v in values)
            print(f"  {labels[kind]:<40} median {statistics.median(values):8.1f} ms wall, "
                  f"{statistics.median(comparison['cpu_rounds'][kind]):8.1f} ms CPU   rounds (wall): {per_round}")
        # CPU time (this process's, all its threads) is steadier than wall time on a busy machine
        for clock, table in (("wall", rounds), ("cpu", comparison["cpu_rounds"])):
            comparison[f"fused_speedup_{clock}"] = round(ratio(table, "plain", "fused"), 3)
            if "torch" in table:
                comparison[f"fused_vs_torch_{clock}"] = round(ratio(table, "fused", "torch"), 3)
                comparison[f"plain_vs_torch_{clock}"] = round(ratio(table, "plain", "torch"), 3)
        print(f"  module 16 speed-up over module 09's path: {comparison['fused_speedup_wall']:.2f}x wall, "
              f"{comparison['fused_speedup_cpu']:.2f}x CPU")
        if "torch" in rounds:
            print(f"  TinyTorch / PyTorch: fused {comparison['fused_vs_torch_wall']:.2f}x wall "
                  f"({comparison['fused_vs_torch_cpu']:.2f}x CPU), plain {comparison['plain_vs_torch_wall']:.2f}x "
                  f"wall ({comparison['plain_vs_torch_cpu']:.2f}x CPU)   (target: fused <= 1.3x)")
        else:
            print("  PyTorch: not found (give --torch-python or set TINYTORCH_TORCH_PYTHON), no ratio")
    machine["keep_freed_memory"] = tuned_malloc
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))

    result = {
        "benchmark": "cnn_step",
        "batch": batch,
        "input": [3, size, size],
        "repeats": args.repeats,
        "optimizer": optimizer_name,
        "ms_per_step": round(median_ms, 2),
        "min_ms_per_step": round(min_ms, 2),
        "gflop_per_step": round(step_flops / 1e9, 3),
        "mflop_per_image": round(step_flops / batch / 1e6, 1),
        "effective_gflops": round(effective, 1),
        "matmul_gflops": round(blas, 1),
        "layers": rows,
        "loss_ms": [round(loss_fwd, 3), round(loss_bwd, 3)],
        "optimizer_ms": round(optimizer_ms, 3),
        "loss_first_last": [first_loss, last_loss],
        "conv_vs_loops_max_abs_diff": conv_diff,
        "comparison": comparison,
        "machine": machine,
    }
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
