"""Peak memory and time of causal attention, forward + backward: module 12's kernels vs module 16's blocks.

Module 12's `scaled_dot_product_attention` (one Function) keeps the (T, T) probabilities of every
head for backward; its textbook composition from Tensor ops (`scaled_dot_product_attention_reference`,
what the GPT's block runs under `use_fused(False)`) keeps the scores, the masked scores, the
exponentials and the weights; module 16's `flash_attention` walks over the keys in blocks with the
online softmax and keeps one float per query instead, recomputing each block's probabilities in
backward.
For one batch of causal self-attention (float32, B sequences, H heads of D features) at each
length T, this prints:

- peak memory above the inputs during forward + backward, measured with tracemalloc (NumPy
  reports its allocations to it), and the ratios one Function / blocked (target: >= 4x at
  T = 1,024) and composition / blocked;
- median wall time of forward + backward of each (the blocked one does more arithmetic);
- the largest difference of the outputs and of the three gradients (target: <= 1e-5);
- when torch is importable, PyTorch's `F.scaled_dot_product_attention(is_causal=True)` forward +
  backward on the same arrays and threads, and the blocked kernel's time divided by PyTorch's
  (PyTorch's allocations are invisible to tracemalloc, so it has no memory column).

    python benchmarks/attention_memory.py [--lengths 256 512 1024 2048] [--batch B] [--heads H]
                                          [--head-dim D] [--block N] [--repeats N] [--threads N] [--json]
"""

import argparse
import sys

from _threads import pin_blas_threads  # noqa: E402  (sets BLAS threads before numpy loads)

THREADS = pin_blas_threads(sys.argv[1:], default="1")

import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.systems.acceleration import flash_attention  # noqa: E402
from tinytorch.text.attention import scaled_dot_product_attention, scaled_dot_product_attention_reference  # noqa: E402


def unfused(q, k, v, block):
    return scaled_dot_product_attention(q, k, v, is_causal=True)


def composed(q, k, v, block):
    return scaled_dot_product_attention_reference(q, k, v, is_causal=True)


def blocked(q, k, v, block):
    return flash_attention(q, k, v, is_causal=True, block_size=block)


def run(kind, arrays, grad, block):
    """Forward + backward of one kind on fresh leaf Tensors: (output, (dq, dk, dv))."""
    q, k, v = (Tensor(a, requires_grad=True) for a in arrays)
    out = kind(q, k, v, block)
    out.backward(Tensor(grad))
    return out.data, (q.grad.data, k.grad.data, v.grad.data)


def peak_megabytes(kind, arrays, grad, block) -> float:
    """Largest memory held above the inputs while one forward + backward runs (tracemalloc)."""
    tracemalloc.start()  # a fresh start: the peak counts from here
    base = tracemalloc.get_traced_memory()[0]
    result = run(kind, arrays, grad, block)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak / 2**20


def median_ms(kind, arrays, grad, block, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(kind, arrays, grad, block)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def torch_median_ms(arrays, grad, repeats: int, threads) -> float | None:
    """PyTorch's causal SDPA forward + backward on the same arrays (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(threads))
    upstream = torch.from_numpy(grad)
    times = []
    for _ in range(repeats):
        q, k, v = (torch.from_numpy(a).requires_grad_() for a in arrays)
        start = time.perf_counter()
        torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).backward(upstream)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--block", type=int, default=64, help="keys per block of the blocked kernel")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each kind (median)")
    parser.add_argument("--threads", default=THREADS, help="BLAS threads (set before NumPy loads)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    args = parser.parse_args(argv)
    for name in ("batch", "heads", "head_dim", "block", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if min(args.lengths) < 1:
        parser.error(f"--lengths must be positive, got {args.lengths}")
    rng = np.random.default_rng(args.seed)
    rows = []
    print(f"causal attention forward + backward, float32, batch {args.batch}, {args.heads} heads x "
          f"{args.head_dim} features, blocks of {args.block} keys, {args.repeats} timed runs")
    print(f"{'T':>6}{'composed MB':>13}{'unfused MB':>12}{'blocked MB':>12}{'ratio':>8}{'composed ms':>13}"
          f"{'unfused ms':>12}{'blocked ms':>12}{'max |diff|':>12}{'torch ms':>10}{'blocked/torch':>15}")
    for length in args.lengths:
        shape = (args.batch, args.heads, length, args.head_dim)
        arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
        grad = rng.standard_normal(shape).astype(np.float32)
        reference, blocked_result = run(unfused, arrays, grad, args.block), run(blocked, arrays, grad, args.block)
        diff = max(float(np.abs(a - b).max()) for a, b in zip((reference[0], *reference[1]),
                                                              (blocked_result[0], *blocked_result[1])))
        del reference, blocked_result
        kinds = (unfused, blocked, composed)
        memory = [peak_megabytes(kind, arrays, grad, args.block) for kind in kinds]
        times = [median_ms(kind, arrays, grad, args.block, args.repeats) for kind in kinds]
        row = {"T": length, "unfused_mb": round(memory[0], 2), "blocked_mb": round(memory[1], 2),
               "memory_ratio": round(memory[0] / memory[1], 2), "unfused_ms": round(times[0], 2),
               "blocked_ms": round(times[1], 2), "max_abs_diff": diff, "composed_mb": round(memory[2], 2),
               "composed_memory_ratio": round(memory[2] / memory[1], 2), "composed_ms": round(times[2], 2)}
        torch_ms = torch_median_ms(arrays, grad, args.repeats, args.threads)
        if torch_ms is not None:
            row |= {"torch_ms": round(torch_ms, 2), "blocked_vs_torch": round(times[1] / torch_ms, 2)}
        rows.append(row)
        versus = f"{torch_ms:>10.1f}{times[1] / torch_ms:>14.2f}x" if torch_ms is not None else f"{'-':>10}{'-':>15}"
        print(f"{length:>6}{memory[2]:>13.1f}{memory[0]:>12.1f}{memory[1]:>12.1f}{row['memory_ratio']:>7.1f}x"
              f"{times[2]:>13.1f}{times[0]:>12.1f}{times[1]:>12.1f}{diff:>12.1e}{versus}")
    load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    print(f"threads {args.threads}, load average {load}; memory = tracemalloc peak above the inputs; ratio = "
          "unfused (module 12's one Function) / blocked; composed = module 12's Tensor-op composition")
    result = {"benchmark": "attention_memory", "batch": args.batch, "heads": args.heads, "head_dim": args.head_dim,
              "block": args.block, "threads": args.threads, "rows": rows, "load_average": load}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
