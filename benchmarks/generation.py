"""How much faster does the KV cache (module 15) make generation? Tokens per second, uncached vs cached.

Two models, both with the milestone's vocabulary of 65 characters and no biases, batch 1, a 1-token
prompt, greedy decoding (temperature 0, so the sampler costs nothing and the tokens can be compared):

- "milestone": the 2017 milestone's GPT (4 layers, 4 heads, n_embd 128, block_size 64);
- "6x384": 6 layers, 6 heads, n_embd 384, block_size 512 (nanoGPT's Shakespeare GPU recipe).

For each, 64, 256 and 512 new tokens are generated with `GPT.generate(use_cache=False)` (module
13's loop: every step runs the whole context, cropped to the last block_size tokens) and with
`use_cache=True` (module 15: prefill once, then one token per step). Past block_size — 256 and 512
tokens for the milestone model — both paths crop the context to block_size, as generate does; that
shifts every kept token's position, so the cached path re-prefills the cropped window each step and
is no faster there (it stays exact). For the 6x384 model, 512 new tokens from a 1-token prompt never
pass its block_size of 512 (the last step's context is 512 tokens).

The tokens of the two paths are compared (they must be identical) and the cache's memory per token
is printed. When torch can be imported (it stays optional), the same models with the same weights
run PyTorch's version of both loops — uncached, and cached through a simple preallocated per-layer
key/value buffer written for this benchmark — alternating with TinyTorch's in the same process and
thread count; the ratio TinyTorch / PyTorch of the medians is printed (docs/DESIGN.md §7). Speed-ups
and ratios are given for wall-clock medians and for CPU-time medians (time.process_time), which on
a busy machine leave out the time other processes held the core.

    python benchmarks/generation.py [--repeats N] [--threads N] [--tokens 64 256 512] [--no-torch] [--json]

The default is one BLAS thread: a decode step is a handful of small matrix-vector products, and on a
shared machine more threads mostly add noise.
"""

import argparse
import os
import sys

from _threads import pin_blas_threads  # noqa: E402  (sets BLAS threads before numpy loads)

THREADS = pin_blas_threads(sys.argv[1:], default="1")

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import tinytorch as tt  # noqa: E402
from tinytorch.systems.memoization import KVCache  # noqa: E402
from tinytorch.text.transformers import GPT, GPTConfig  # noqa: E402

MODELS = {
    "milestone": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64},
    "6x384": {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 512},
}
VOCAB = 65


def tinytorch_model(sizes: dict) -> GPT:
    tt.manual_seed(0)
    return GPT(GPTConfig(vocab_size=VOCAB, dropout=0.0, bias=False, **sizes)).eval()


def tinytorch_generate(model: GPT, steps: int, cached: bool) -> np.ndarray:
    start = tt.Tensor(np.zeros((1, 1), dtype=np.int64))
    return model.generate(start, steps, temperature=0, use_cache=cached).data


# ----- PyTorch (optional) ------------------------------------------------------------------------
def torch_model(ours: GPT):
    """The same GPT in PyTorch with `ours`'s weights, with an optional key/value buffer (None without torch)."""
    try:
        import torch
        from torch import nn as tnn
        from torch.nn import functional as tF
    except ImportError:
        return None
    torch.set_num_threads(int(THREADS))
    c = ours.config

    class Attention(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = tnn.Linear(c.n_embd, 3 * c.n_embd, bias=False)
            self.c_proj = tnn.Linear(c.n_embd, c.n_embd, bias=False)

        def forward(self, x, buffer, start):
            b, t, e = x.shape
            q, k, v = (z.view(b, t, c.n_head, e // c.n_head).transpose(1, 2) for z in self.c_attn(x).split(e, 2))
            if buffer is None:
                y = tF.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:  # write the new keys and values after the `start` stored ones, attend to all of them
                keys, values = buffer
                keys[:, :, start:start + t], values[:, :, start:start + t] = k, v
                seen = torch.ones(t, start + t, dtype=torch.bool).tril(start) if t > 1 else None
                y = tF.scaled_dot_product_attention(q, keys[:, :, :start + t], values[:, :, :start + t],
                                                    attn_mask=seen)
            return self.c_proj(y.transpose(1, 2).reshape(b, t, e))

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = tnn.LayerNorm(c.n_embd, bias=False)
            self.attn = Attention()
            self.ln_2 = tnn.LayerNorm(c.n_embd, bias=False)
            self.mlp = tnn.Sequential()
            self.mlp.add_module("c_fc", tnn.Linear(c.n_embd, 4 * c.n_embd, bias=False))
            self.mlp.add_module("gelu", tnn.GELU())
            self.mlp.add_module("c_proj", tnn.Linear(4 * c.n_embd, c.n_embd, bias=False))

        def forward(self, x, buffer, start):
            x = x + self.attn(self.ln_1(x), buffer, start)
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.wte = tnn.Embedding(c.vocab_size, c.n_embd)
            self.wpe = tnn.Embedding(c.block_size, c.n_embd)
            self.blocks = tnn.ModuleList(Block() for _ in range(c.n_layer))
            self.ln_f = tnn.LayerNorm(c.n_embd, bias=False)
            self.lm_head = tnn.Linear(c.n_embd, c.vocab_size, bias=False)
            self.wte.weight = self.lm_head.weight
            self.n_head = c.n_head

        def forward(self, idx, buffers=None, start=0):
            x = self.wte(idx) + self.wpe(torch.arange(start, start + idx.shape[1]))
            for i, layer in enumerate(self.blocks):
                x = layer(x, None if buffers is None else buffers[i], start)
            return self.lm_head(self.ln_f(x[:, -1:]))

    model = TorchGPT()
    model.load_state_dict({name: torch.tensor(np.asarray(value)) for name, value in ours.state_dict().items()})
    return model.eval()


def torch_generate(model, steps: int, cached: bool) -> np.ndarray:
    """Greedy generation from token 0, cropping to block_size; cached: a preallocated key/value buffer per layer."""
    import torch

    block, width = model.wpe.weight.shape
    heads, layers = model.n_head, len(model.blocks)
    with torch.inference_mode():
        idx = torch.zeros((1, 1), dtype=torch.long)
        buffers = [(torch.empty(1, heads, block, width // heads), torch.empty(1, heads, block, width // heads))
                   for _ in range(layers)] if cached else None
        stored = 0
        for _ in range(steps):
            total = idx.shape[1]
            if not cached:
                logits = model(idx[:, -block:])
            elif stored == total - 1 and total <= block:  # decode: only the newest token
                logits = model(idx[:, -1:], buffers, stored)
                stored = total
            else:  # first step, or past block_size: positions shifted, fill the buffer again
                window = idx[:, -block:]
                logits = model(window, buffers, 0)
                stored = window.shape[1]
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx.numpy()


# ----- measurement -------------------------------------------------------------------------------
def median_seconds(runs: dict, repeats: int) -> tuple[dict, dict, dict]:
    """Each callable in `runs` timed `repeats` times, taking turns.

    -> (median wall seconds, median CPU seconds of this process, last output) per name. On a busy
    machine the CPU time is the steadier number: it leaves out the time other processes had the core.
    """
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    outputs = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            outputs[name] = fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    median = {name: statistics.median(values) for name, values in wall.items()}
    return median, {name: statistics.median(values) for name, values in cpu.items()}, outputs


def machine_info() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"python": platform.python_version(), "numpy": np.__version__, "threads": int(THREADS),
            "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in load]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed generations per variant (median)")
    parser.add_argument("--threads", default=THREADS, help="BLAS threads for NumPy and torch (default 1)")
    parser.add_argument("--tokens", type=int, nargs="+", default=[64, 256, 512], help="new tokens to generate")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or any(n < 1 for n in args.tokens):
        parser.error("--repeats and --tokens must be >= 1")

    info = machine_info()
    print(f"generation benchmark: batch 1, 1-token prompt, greedy; {info['threads']} BLAS thread(s), "
          f"load average {info['load_average']}")
    results = []
    for name in args.models:
        sizes = MODELS[name]
        ours = tinytorch_model(sizes)
        theirs = None if args.no_torch else torch_model(ours)
        per_token = KVCache.for_model(ours, 1).bytes_per_token
        print(f"\n{name}: {sizes}, {ours.num_parameters() / 1e6:.2f}M parameters, KV cache "
              f"{per_token / 1024:.1f} KiB per token ({per_token * sizes['block_size'] / 2**20:.2f} MiB at "
              f"block_size)")
        header = (f"{'tokens':>7} {'uncached tok/s':>15} {'cached tok/s':>13} {'speed-up':>9} {'(CPU time)':>10} "
                  f"{'identical':>10}")
        if theirs is not None:
            header += f" {'torch uncached':>15} {'torch cached':>13} {'ours/torch cached':>18} {'(CPU time)':>10}"
        print(header)
        tinytorch_generate(ours, 8, True), tinytorch_generate(ours, 8, False)  # warm-up
        if theirs is not None:
            torch_generate(theirs, 8, True), torch_generate(theirs, 8, False)
        for steps in args.tokens:
            runs = {"uncached": lambda: tinytorch_generate(ours, steps, False),
                    "cached": lambda: tinytorch_generate(ours, steps, True)}
            if theirs is not None:
                runs |= {"torch_uncached": lambda: torch_generate(theirs, steps, False),
                         "torch_cached": lambda: torch_generate(theirs, steps, True)}
            seconds, cpu, outputs = median_seconds(runs, args.repeats)
            same = bool(np.array_equal(outputs["uncached"], outputs["cached"]))
            row = {"model": name, "tokens": steps, "past_block_size": steps > sizes["block_size"],
                   "uncached_tokens_per_s": steps / seconds["uncached"],
                   "cached_tokens_per_s": steps / seconds["cached"],
                   "speedup": seconds["uncached"] / seconds["cached"],
                   "speedup_cpu_time": cpu["uncached"] / cpu["cached"], "identical_tokens": same,
                   "cache_bytes_per_token": per_token}
            line = (f"{steps:>7} {row['uncached_tokens_per_s']:>15.1f} {row['cached_tokens_per_s']:>13.1f} "
                    f"{row['speedup']:>8.1f}x {row['speedup_cpu_time']:>9.1f}x {'yes' if same else 'NO':>10}")
            if theirs is not None:
                row |= {"torch_uncached_tokens_per_s": steps / seconds["torch_uncached"],
                        "torch_cached_tokens_per_s": steps / seconds["torch_cached"],
                        "ratio_to_torch_cached": seconds["cached"] / seconds["torch_cached"],
                        "ratio_to_torch_uncached": seconds["uncached"] / seconds["torch_uncached"],
                        "ratio_to_torch_cached_cpu_time": cpu["cached"] / cpu["torch_cached"],
                        "torch_tokens_match": bool(np.array_equal(outputs["torch_cached"], outputs["cached"]))}
                line += (f" {row['torch_uncached_tokens_per_s']:>15.1f} {row['torch_cached_tokens_per_s']:>13.1f} "
                         f"{row['ratio_to_torch_cached']:>17.2f}x {row['ratio_to_torch_cached_cpu_time']:>9.2f}x")
            print(line + ("  (past block_size: both crop, the cache re-prefills)" if row["past_block_size"] else ""))
            results.append(row)
    if any(not r["identical_tokens"] for r in results):
        print("\nWARNING: cached and uncached tokens differ in a run above")
    report = {"benchmark": "generation", "machine": info, "results": results}
    if args.json:
        print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
