"""How much does the framework cost? One MLP training step in TinyTorch vs. the same maths in NumPy.

The model is the classic CIFAR-sized MLP 3072-1024-512-256-128-10 with ReLU between layers, on a
batch of 64 with cross-entropy loss. One "step" is forward + loss + backward (no optimizer: that
is module 06). Beside it, the same step written directly in NumPy, forward and backward by hand,
float32. Both compute the same loss and gradients (checked before timing), so the difference in
time is what the framework's bookkeeping costs: Tensor objects, recorded graph nodes, the
topological sort, un-broadcasting, gradient accumulation.

The second measurement is the fixed cost of one tiny op, `a + b` on 1-element tensors, with and
without requires_grad, next to raw NumPy: the price every op pays however small its data is.

    python benchmarks/mlp_step.py [--repeats N] [--small] [--profile] [--json]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import tinytorch as tt
from tinytorch import nn

FULL = {"sizes": (3072, 1024, 512, 256, 128, 10), "batch": 64}
SMALL = {"sizes": (64, 32, 16, 10), "batch": 8}  # for smoke tests: same code path, tiny sizes


# ----- the two implementations -------------------------------------------------------------------
def build_tinytorch(sizes, seed: int):
    """nn.Sequential(Linear, ReLU, ..., Linear) and the list of its Linear layers."""
    tt.manual_seed(seed)
    linears = [nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:])]
    layers = []
    for i, linear in enumerate(linears):
        layers.append(linear)
        if i < len(linears) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers), linears


def tinytorch_step(model, params, loss_fn, x, target):
    """Forward + loss + backward; returns the loss tensor. Gradients land in p.grad."""
    for p in params:
        p.grad = None
    loss = loss_fn(model(x), target)
    loss.backward()
    return loss


def numpy_step(weights, x, target):
    """The same step by hand. weights: [(W (out, in), b (out,)), ...] float32.

    Returns (loss, [(dW, db), ...]). x does not need a gradient, so the first layer skips dx.
    """
    batch = x.shape[0]
    inputs = []  # what each Linear read, kept for its backward
    h = x
    for i, (W, b) in enumerate(weights):
        inputs.append(h)
        h = h @ W.T + b
        if i < len(weights) - 1:
            h = np.maximum(h, 0)
    # cross-entropy on logits h (batch, classes), mean over the batch, via a stable log-softmax
    shifted = h - h.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(batch)
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, target]))

    grad = exp / total                      # d loss / d logits = (softmax - onehot) / batch
    grad[rows, target] -= 1.0
    grad /= batch
    grads = [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        W, _ = weights[i]
        h_in = inputs[i]
        grads[i] = (grad.T @ h_in, grad.sum(axis=0))
        if i > 0:
            grad = (grad @ W) * (h_in > 0)  # through the Linear, then through the ReLU before it
    return loss, grads


# ----- measurements ------------------------------------------------------------------------------
def time_interleaved(fns: dict, repeats: int, warmup: int = 2) -> dict:
    """{name: (median ms, min ms)} for each zero-argument function in `fns`.

    The functions take turns (a, b, a, b, ...), so a burst of load on a shared machine hits
    both about equally instead of skewing the ratio.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def per_op_us(stmt: str, namespace: dict) -> float:
    """Best-of-5 microseconds per execution of `stmt` (timeit picks the loop count)."""
    timer = timeit.Timer(stmt, globals=namespace)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def op_overhead() -> dict:
    ns = {
        "np_a": np.ones(1, np.float32), "np_b": np.ones(1, np.float32),
        "a": tt.ones(1), "b": tt.ones(1),
        "ga": tt.ones(1, requires_grad=True), "gb": tt.ones(1, requires_grad=True),
    }
    return {
        "numpy_add_us": per_op_us("np_a + np_b", ns),
        "tensor_add_us": per_op_us("a + b", ns),
        "tensor_add_requires_grad_us": per_op_us("ga + gb", ns),
    }


def check_same(loss_tt, params_tt, loss_np, grads_np) -> dict:
    """Assert that both implementations agree; returns the largest differences seen."""
    if not np.isclose(loss_tt, loss_np, rtol=1e-5, atol=1e-6):
        raise AssertionError(f"losses differ: tinytorch {loss_tt} vs numpy {loss_np}")
    worst = 0.0
    flat_np = [g for pair in grads_np for g in pair]
    for p, g in zip(params_tt, flat_np):
        if p.grad is None:
            raise AssertionError(f"tinytorch left .grad empty for a parameter of shape {p.shape}")
        ours = p.grad.data
        scale = float(np.abs(g).max()) or 1.0
        np.testing.assert_allclose(ours, g, rtol=1e-4, atol=1e-4 * scale,
                                   err_msg=f"gradient of a {p.shape} parameter differs")
        worst = max(worst, float(np.abs(ours - g).max()))
    return {"loss_abs_diff": abs(loss_tt - loss_np), "grad_max_abs_diff": worst}


def machine_info() -> dict:
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                          "MKL_NUM_THREADS") if k in os.environ}
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "cpu_count": os.cpu_count(),
        "thread_env": threads or "unset (BLAS decides)",
        "machine": f"{platform.system()} {platform.machine()}",
    }


def profile_step(step, top: int = 15) -> str:
    """cProfile of 5 TinyTorch steps, the `top` functions by own time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        step()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# ----- main --------------------------------------------------------------------------------------
def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="MLP forward+backward: TinyTorch vs NumPy")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs of each (median)")
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="cProfile the TinyTorch step")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    args = parser.parse_args(argv)
    config = SMALL if args.small else FULL
    sizes, batch = config["sizes"], config["batch"]

    model, linears = build_tinytorch(sizes, args.seed)
    params = list(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    x_np = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    t_np = rng.integers(0, sizes[-1], size=batch)
    x, target = tt.tensor(x_np), tt.tensor(t_np)
    weights = [(layer.weight.data, layer.bias.data) for layer in linears]  # shared, not copied

    # Same numbers first, then speed.
    loss_tt = tinytorch_step(model, params, loss_fn, x, target).item()
    loss_np, grads_np = numpy_step(weights, x_np, t_np)
    agreement = check_same(loss_tt, params, loss_np, grads_np)

    timings = time_interleaved({
        "tinytorch": lambda: tinytorch_step(model, params, loss_fn, x, target),
        "numpy": lambda: numpy_step(weights, x_np, t_np),
    }, args.repeats)
    (tt_med, tt_min), (np_med, np_min) = timings["tinytorch"], timings["numpy"]
    overhead = op_overhead()
    machine = machine_info()
    ratio = tt_med / np_med

    print(f"MLP {'-'.join(map(str, sizes))}, batch {batch}, ReLU, CrossEntropyLoss: "
          f"forward + backward, float32")
    print(f"  loss {loss_tt:.6f} (tinytorch) vs {loss_np:.6f} (numpy); gradients agree "
          f"(max abs diff {agreement['grad_max_abs_diff']:.2e})")
    print(f"  tinytorch  median {tt_med:8.2f} ms   min {tt_min:8.2f} ms   ({args.repeats} runs)")
    print(f"  numpy      median {np_med:8.2f} ms   min {np_min:8.2f} ms")
    print(f"  ratio      {ratio:.2f}x  (target: within 1.30x)")
    print("per-op overhead, a + b on 1-element operands:")
    print(f"  numpy arrays                 {overhead['numpy_add_us']:6.2f} us")
    print(f"  tensors                      {overhead['tensor_add_us']:6.2f} us")
    print(f"  tensors, requires_grad=True  {overhead['tensor_add_requires_grad_us']:6.2f} us")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    if args.profile:
        print(profile_step(lambda: tinytorch_step(model, params, loss_fn, x, target)))

    result = {
        "benchmark": "mlp_step",
        "sizes": list(sizes),
        "batch": batch,
        "repeats": args.repeats,
        "tinytorch_ms": round(tt_med, 3),
        "numpy_ms": round(np_med, 3),
        "tinytorch_min_ms": round(tt_min, 3),
        "numpy_min_ms": round(np_min, 3),
        "ratio": round(ratio, 3),
        "loss": loss_tt,
        **{k: float(f"{v:.3g}") for k, v in agreement.items()},
        **{k: round(v, 3) for k, v in overhead.items()},
        "machine": machine,
    }
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
