"""How much does the framework cost? One MLP training step in TinyTorch vs. the same maths in NumPy.

The model is the classic CIFAR-sized MLP 3072-1024-512-256-128-10 with ReLU between layers, on a
batch of 64 with cross-entropy loss. Two steps are measured, each beside the same maths written
directly in NumPy (float32, backward by hand):

1. forward + loss + backward (modules 01-05). Both compute the same loss and gradients (checked
   before timing), so the difference in time is what the framework's bookkeeping costs: Tensor
   objects, recorded graph nodes, the topological sort, un-broadcasting, gradient accumulation.
2. a whole training step: zero_grad, forward, loss, backward and `tinytorch.optim.Adam.step()`,
   against the NumPy step followed by an in-place Adam update (np.multiply(..., out=) and
   friends, in PyTorch's order of operations). Both start from the same weights; after one step
   the parameters must agree before anything is timed.

The last measurement is the fixed cost of one tiny op, `a + b` on 1-element tensors, with and
without requires_grad, next to raw NumPy: the price every op pays however small its data is.

    python benchmarks/mlp_step.py [--repeats N] [--small] [--no-train-step] [--profile] [--json]
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
from tinytorch import nn, optim

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


class NumpyAdam:
    """Adam for a list of float32 arrays, updated in place with preallocated work arrays.

    The same operations in the same order as torch.optim.Adam (and tinytorch.optim.Adam), so the
    two give the same parameters: m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g*g,
    p -= lr/(1-b1**t) * m / (sqrt(v)/sqrt(1-b2**t) + eps).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.work = [np.empty_like(p) for p in params]
        self.t = 0

    def step(self, grads) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        bias_correction1, bias_correction2 = 1 - beta1 ** self.t, 1 - beta2 ** self.t
        for p, g, m, v, work in zip(self.params, grads, self.m, self.v, self.work):
            m *= beta1
            m += np.multiply(g, 1 - beta1, out=work)
            v *= beta2
            np.square(g, out=work)
            work *= 1 - beta2
            v += work
            np.sqrt(v, out=work)
            work /= bias_correction2 ** 0.5
            work += self.eps
            np.divide(m, work, out=work)
            work *= self.lr / bias_correction1
            p -= work


def tinytorch_train_step(model, optimizer, loss_fn, x, target):
    """zero_grad, forward, loss, backward, optimizer.step(): one full training step."""
    optimizer.zero_grad()
    loss = loss_fn(model(x), target)
    loss.backward()
    optimizer.step()
    return loss


def numpy_train_step(weights, adam, x, target):
    """numpy_step, then the in-place Adam update of every weight and bias."""
    loss, grads = numpy_step(weights, x, target)
    adam.step([g for pair in grads for g in pair])
    return loss


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


def check_same_params(params_tt, params_np, lr: float) -> float:
    """Assert that both implementations hold the same parameters; returns the largest difference.

    The two backward passes round differently in the last float32 bit (their gradients differ by
    ~1e-8), and Adam divides by |g| + eps with eps = 1e-8, so where a gradient is that small the
    difference shows. Agreement is required to 1% of one step (lr / 100).
    """
    worst = 0.0
    for p, q in zip(params_tt, params_np):
        np.testing.assert_allclose(p.data, q, rtol=1e-5, atol=lr / 100,
                                   err_msg=f"a {p.shape} parameter differs after one training step")
        worst = max(worst, float(np.abs(p.data - q).max()))
    return worst


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
def compare_train_step(sizes, seed: int, x, target, x_np, t_np, repeats: int, lr: float = 1e-3) -> dict:
    """Forward + backward + Adam in both implementations: check one step, then time."""
    model, linears = build_tinytorch(sizes, seed)
    params = list(model.parameters())
    optimizer = optim.Adam(params, lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    initial = [p.data.copy() for p in params]
    weights = [(layer.weight.data.copy(), layer.bias.data.copy()) for layer in linears]  # own copies
    adam = NumpyAdam([a for pair in weights for a in pair], lr=lr)

    loss_tt = tinytorch_train_step(model, optimizer, loss_fn, x, target).item()
    # The optimizers alone: NumPy's Adam fed TinyTorch's gradients must land on the very same bits.
    replay = [a.copy() for a in initial]
    NumpyAdam(replay, lr=lr).step([p.grad.data for p in params])
    for p, q in zip(params, replay):
        np.testing.assert_array_equal(p.data, q, err_msg=f"Adam updates a {p.shape} parameter differently")
    # The whole step, each with its own backward pass.
    loss_np = numpy_train_step(weights, adam, x_np, t_np)
    if not np.isclose(loss_tt, loss_np, rtol=1e-5, atol=1e-6):
        raise AssertionError(f"losses differ: tinytorch {loss_tt} vs numpy {loss_np}")
    param_diff = check_same_params(params, [a for pair in weights for a in pair], lr)

    timings = time_interleaved({
        "tinytorch": lambda: tinytorch_train_step(model, optimizer, loss_fn, x, target),
        "numpy": lambda: numpy_train_step(weights, adam, x_np, t_np),
    }, repeats)
    return {"timings": timings, "loss": loss_tt, "param_max_abs_diff": param_diff,
            "step": lambda: tinytorch_train_step(model, optimizer, loss_fn, x, target)}


def report(title: str, timings: dict, repeats: int) -> float:
    (tt_med, tt_min), (np_med, np_min) = timings["tinytorch"], timings["numpy"]
    ratio = tt_med / np_med
    print(title)
    print(f"  tinytorch  median {tt_med:8.2f} ms   min {tt_min:8.2f} ms   ({repeats} runs)")
    print(f"  numpy      median {np_med:8.2f} ms   min {np_min:8.2f} ms")
    print(f"  ratio      {ratio:.2f}x  (target: within 1.30x)")
    return ratio


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="MLP training step: TinyTorch vs NumPy")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs of each (median)")
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-train-step", action="store_true",
                        help="measure forward + backward only (skip the step with Adam)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the TinyTorch step (the training step unless --no-train-step)")
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

    # 1. forward + backward. Same numbers first, then speed.
    loss_tt = tinytorch_step(model, params, loss_fn, x, target).item()
    loss_np, grads_np = numpy_step(weights, x_np, t_np)
    agreement = check_same(loss_tt, params, loss_np, grads_np)
    timings = time_interleaved({
        "tinytorch": lambda: tinytorch_step(model, params, loss_fn, x, target),
        "numpy": lambda: numpy_step(weights, x_np, t_np),
    }, args.repeats)
    profiled = lambda: tinytorch_step(model, params, loss_fn, x, target)  # noqa: E731

    print(f"MLP {'-'.join(map(str, sizes))}, batch {batch}, ReLU, CrossEntropyLoss, float32")
    print(f"  loss {loss_tt:.6f} (tinytorch) vs {loss_np:.6f} (numpy); gradients agree "
          f"(max abs diff {agreement['grad_max_abs_diff']:.2e})")
    ratio = report("forward + backward:", timings, args.repeats)

    # 2. the whole training step, with Adam.
    train = None
    if not args.no_train_step:
        train = compare_train_step(sizes, args.seed, x, target, x_np, t_np, args.repeats)
        print("  Adam: NumPy's in-place update on TinyTorch's gradients gives bit-identical parameters;")
        print(f"  after one whole step each, parameters agree (max abs diff {train['param_max_abs_diff']:.2e}, "
              f"lr 1e-3)")
        train_ratio = report("forward + backward + Adam step (zero_grad ... optimizer.step()):",
                             train["timings"], args.repeats)
        profiled = train["step"]

    overhead = op_overhead()
    machine = machine_info()
    print("per-op overhead, a + b on 1-element operands:")
    print(f"  numpy arrays                 {overhead['numpy_add_us']:6.2f} us")
    print(f"  tensors                      {overhead['tensor_add_us']:6.2f} us")
    print(f"  tensors, requires_grad=True  {overhead['tensor_add_requires_grad_us']:6.2f} us")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    if args.profile:
        print(profile_step(profiled))

    (tt_med, tt_min), (np_med, np_min) = timings["tinytorch"], timings["numpy"]
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
    }
    if train is not None:
        (ttt_med, ttt_min), (tnp_med, tnp_min) = train["timings"]["tinytorch"], train["timings"]["numpy"]
        result.update({
            "train_step_tinytorch_ms": round(ttt_med, 3),
            "train_step_numpy_ms": round(tnp_med, 3),
            "train_step_tinytorch_min_ms": round(ttt_min, 3),
            "train_step_numpy_min_ms": round(tnp_min, 3),
            "train_step_ratio": round(train_ratio, 3),
            "param_max_abs_diff": float(f"{train['param_max_abs_diff']:.3g}"),
        })
    result.update({**{k: round(v, 3) for k, v in overhead.items()}, "machine": machine})
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
