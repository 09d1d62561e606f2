"""Attention, forward + backward: TinyTorch's CausalSelfAttention and scaled_dot_product_attention vs PyTorch.

The workload is one attention block of the Shakespeare GPT (module 13): B=12 sequences of T=64
tokens, width E=128, H=4 heads, float32, causal. Three measurements, each beside PyTorch's version
of the same computation when `torch` can be imported (same process, same thread count, alternating):

1. `CausalSelfAttention` forward + backward (c_attn, split, heads, causal attention, merge, c_proj;
   PyTorch: nanoGPT's block written with torch ops), on the package default (module 16's fused
   kernel) and under `use_fused(False)` (module 12's textbook composition of Tensor ops);
2. the attention core alone from packed projections: module 16's `FusedCausalAttention` (what the
   block trains through by default) vs torch's split/view/transpose +
   `F.scaled_dot_product_attention(is_causal=True)`;
3. `scaled_dot_product_attention` on contiguous (B, H, T, D) inputs, causal.

Before timing, both frameworks run the same weights and inputs, and outputs and gradients must agree.
Medians (and minimums: a loaded machine only ever adds time) in milliseconds, and the ratio.

    python benchmarks/attention_step.py [--repeats N] [--threads N] [--small] [--no-torch] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed runs of each side (median)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (set before NumPy loads)")
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke test, not a measurement)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    return args


ARGS = parse_args()
if ARGS.threads is not None:  # must happen before NumPy (and its BLAS) is imported
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(ARGS.threads)

import numpy as np  # noqa: E402

import tinytorch as tt  # noqa: E402
from tinytorch.core.tensor import Tensor, default_generator  # noqa: E402
from tinytorch.systems.acceleration import FusedCausalAttention, use_fused  # noqa: E402
from tinytorch.text.attention import CausalSelfAttention, scaled_dot_product_attention  # noqa: E402

try:
    if ARGS.no_torch:
        raise ImportError
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None


def timed(pairs: dict, repeats: int) -> dict:
    """{label: (ours, theirs or None)} -> {label: {"ours": [s...], "torch": [s...]}}, alternating the two."""
    times = {label: {"ours": [], "torch": []} for label in pairs}
    for label, (ours, theirs) in pairs.items():
        for _ in range(3):  # warm up caches and allocators
            ours()
            if theirs:
                theirs()
        for _ in range(repeats):
            start = time.perf_counter()
            ours()
            times[label]["ours"].append(time.perf_counter() - start)
            if theirs:
                start = time.perf_counter()
                theirs()
                times[label]["torch"].append(time.perf_counter() - start)
    return times


def main() -> None:
    B, T, E, H = (2, 8, 16, 2) if ARGS.small else (12, 64, 128, 4)
    D = E // H
    rng = np.random.default_rng(0)
    tt.manual_seed(0)
    block = CausalSelfAttention(E, H)
    x_np = rng.standard_normal((B, T, E), dtype=np.float32)
    gout_np = rng.standard_normal((B, T, E), dtype=np.float32)
    qkv_np = rng.standard_normal((B, T, 3 * E), dtype=np.float32)
    heads_np = [rng.standard_normal((B, H, T, D), dtype=np.float32) for _ in range(4)]  # q, k, v, gout
    x, gout = Tensor(x_np, requires_grad=True), Tensor(gout_np)
    qkv = Tensor(qkv_np, requires_grad=True)
    q, k, v = (Tensor(a, requires_grad=True) for a in heads_np[:3])
    heads_gout = Tensor(heads_np[3])

    def ours_block():
        x.grad = None
        for p in block.parameters():
            p.grad = None
        block(x).backward(gout)

    def ours_textbook_block():
        with use_fused(False):
            ours_block()

    def ours_core():
        qkv.grad = None
        FusedCausalAttention.apply(qkv, H, 0.0, default_generator()).backward(gout)

    def ours_sdpa():
        for t in (q, k, v):
            t.grad = None
        scaled_dot_product_attention(q, k, v, is_causal=True).backward(heads_gout)

    pairs = {"CausalSelfAttention fwd+bwd": [ours_block, None],
             "same, use_fused(False)": [ours_textbook_block, None], "attention core from qkv": [ours_core, None],
             "SDPA (B,H,T,D) causal": [ours_sdpa, None]}
    checks = {}
    if torch is not None:
        if ARGS.threads is not None:
            torch.set_num_threads(ARGS.threads)
        c_attn, c_proj = torch.nn.Linear(E, 3 * E), torch.nn.Linear(E, E)
        with torch.no_grad():
            for layer, ours in ((c_attn, block.c_attn), (c_proj, block.c_proj)):
                layer.weight.copy_(torch.from_numpy(ours.weight.data))
                layer.bias.copy_(torch.from_numpy(ours.bias.data))
        tx, tgout = torch.tensor(x_np, requires_grad=True), torch.from_numpy(gout_np)
        tqkv = torch.tensor(qkv_np, requires_grad=True)
        tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in heads_np[:3])
        theads_gout = torch.from_numpy(heads_np[3])

        def torch_core_forward(packed):
            a, b, c = packed.split(E, dim=2)
            a, b, c = (z.view(B, T, H, D).transpose(1, 2) for z in (a, b, c))
            y = F.scaled_dot_product_attention(a, b, c, is_causal=True)
            return y.transpose(1, 2).contiguous().view(B, T, E)

        def torch_block():
            tx.grad = None
            c_attn.zero_grad(set_to_none=True)
            c_proj.zero_grad(set_to_none=True)
            c_proj(torch_core_forward(c_attn(tx))).backward(tgout)

        def torch_core():
            tqkv.grad = None
            torch_core_forward(tqkv).backward(tgout)

        def torch_sdpa():
            for t in (tq, tk, tv):
                t.grad = None
            F.scaled_dot_product_attention(tq, tk, tv, is_causal=True).backward(theads_gout)

        for label, theirs in zip(pairs, (torch_block, torch_block, torch_core, torch_sdpa)):
            pairs[label][1] = theirs
        # same maths first: outputs and gradients of all three must agree
        ours_block(), torch_block(), ours_core(), torch_core(), ours_sdpa(), torch_sdpa()
        compared = {"block grad x": (x.grad.data, tx.grad), "block grad c_attn.weight": (block.c_attn.weight.grad.data,
                                                                                        c_attn.weight.grad),
                    "core grad qkv": (qkv.grad.data, tqkv.grad), "sdpa grad q": (q.grad.data, tq.grad),
                    "sdpa grad k": (k.grad.data, tk.grad), "sdpa grad v": (v.grad.data, tv.grad)}
        for name, (mine, theirs_grad) in compared.items():
            theirs_grad = theirs_grad.numpy()
            checks[name] = float(np.abs(mine - theirs_grad).max() / max(np.abs(theirs_grad).max(), 1e-30))
        bad = {name: error for name, error in checks.items() if error > 1e-4}
        if bad:
            sys.exit(f"attention_step: TinyTorch and PyTorch disagree (relative max error): {bad}")

    times = timed(pairs, ARGS.repeats)
    rows = {}
    print(f"attention forward + backward, B={B} T={T} E={E} H={H}, float32, causal; {ARGS.repeats} runs each")
    if checks:
        print(f"  same maths as PyTorch: gradients agree to {max(checks.values()):.1e} (relative to each largest)")
    print(f"  {'':<30}{'tinytorch ms':>13}{'torch ms':>10}{'ratio':>7}   {'(minimums)':>22}")
    for label, t in times.items():
        ours_med, ours_min = statistics.median(t["ours"]) * 1e3, min(t["ours"]) * 1e3
        row = {"tinytorch_ms": ours_med, "tinytorch_min_ms": ours_min}
        text = f"  {label:<30}{ours_med:>13.3f}"
        if t["torch"]:
            theirs_med, theirs_min = statistics.median(t["torch"]) * 1e3, min(t["torch"]) * 1e3
            row.update(torch_ms=theirs_med, torch_min_ms=theirs_min, ratio=ours_med / theirs_med,
                       ratio_min=ours_min / theirs_min)
            text += (f"{theirs_med:>10.3f}{ours_med / theirs_med:>6.2f}x   {ours_min:>7.3f} vs {theirs_min:>6.3f}"
                     f" {ours_min / theirs_min:>5.2f}x")
        print(text)
        rows[label] = row
    threads = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"machine: python {platform.python_version()}, numpy {np.__version__}, torch "
          f"{torch.__version__ if torch is not None else 'not used'}, cpu_count {os.cpu_count()}, threads {threads}, "
          f"load_average {[round(v, 2) for v in load] if load else 'n/a'}")
    if ARGS.json:
        print(json.dumps({"benchmark": "attention_step", "shape": {"B": B, "T": T, "E": E, "H": H},
                          "repeats": ARGS.repeats, "results": rows, "gradient_agreement": checks,
                          "threads": threads, "load_average": list(load) if load else None}))


if __name__ == "__main__":
    main()
