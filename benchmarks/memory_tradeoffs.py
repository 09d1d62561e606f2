"""Memory for compute: gradient checkpointing and float16 storage, measured on a GPT training step.

Module 16, part III. For each model, one forward + backward (loss in float32, as module 16's
gpt_loss computes it) is measured four ways:

- plain float32 and checkpointed float32 (module 16's checkpoint_blocks: every block recomputed in
  backward) — peak memory of the step and memory its graph holds after the forward, by tracemalloc
  (which sees NumPy's arrays: module 14's MemoryProfiler), and the median time of steps taken in
  alternation, so a load spike hits both;
- float16 storage (model.half(); the optimizer's float32 master weights are not part of a
  forward + backward) — the same memory numbers, and its time, which on a CPU is the honest cost:
  NumPy has no float16 BLAS, so its float16 matmul runs a generic loop.

Models: the 2017 milestone's GPT (4 layers, 4 heads, n_embd 128, block_size 64, batch 12) and a
bigger one (6 layers, 6 heads, n_embd 384, block_size 256, batch 8). float16 on the bigger model
takes minutes per step, so it runs only with --half-big.

When torch can be imported, the same two models run in PyTorch in the same process and thread
count: plain vs torch.utils.checkpoint (use_reentrant=False) step time, and float32 vs
torch.autocast("cpu", float16) step time, so TinyTorch's time ratios stand next to PyTorch's.
(PyTorch's allocator is invisible to tracemalloc, so its memory is not compared.)

    python benchmarks/memory_tradeoffs.py [--repeats N] [--half-repeats N] [--threads N]
                                          [--only milestone|big] [--half-big] [--no-torch] [--json]
"""

import argparse
import sys

from _threads import pin_blas_threads  # noqa: E402  (sets BLAS threads before numpy loads)

THREADS = pin_blas_threads(sys.argv[1:], default="1")

import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import tinytorch as tt  # noqa: E402
from tinytorch.systems.acceleration import checkpoint_blocks, gpt_loss, keep_freed_memory  # noqa: E402
from tinytorch.systems.profiling import MemoryProfiler  # noqa: E402
from tinytorch.text.transformers import GPT, GPTConfig  # noqa: E402

MODELS = {
    "milestone": {"batch": 12, "config": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64}},
    "big": {"batch": 8, "config": {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256}},
}
VOCAB = 65  # tiny-Shakespeare's characters, the milestone's default task


def build(name: str):
    setup = MODELS[name]
    tt.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB, dropout=0.0, bias=False, **setup["config"]))
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, (setup["batch"], setup["config"]["block_size"] + 1))
    return model, tt.Tensor(tokens[:, :-1]), tt.Tensor(tokens[:, 1:])


def step(model, x, y) -> float:
    """One zero_grad + forward + backward; its wall time in ms."""
    start = time.perf_counter()
    model.zero_grad()
    gpt_loss(model, x, y).backward()
    return (time.perf_counter() - start) * 1e3


def memory(model, x, y, label: str) -> dict:
    """Peak MB of one step and MB held after its forward (the graph's activations), above the start."""
    step(model, x, y)  # gradients exist already, so what is measured is activations and temporaries
    profiler = MemoryProfiler()
    model.zero_grad()
    with profiler.measure(label):
        with profiler.measure(label + "/forward"):
            loss = gpt_loss(model, x, y)
        loss.backward()
        del loss
    return {"peak_mb": profiler.results[label].peak_mb,
            "activations_mb": profiler.results[label + "/forward"].retained_mb}


def alternate(variants: dict, repeats: int) -> dict:
    """Median ms of each variant's steps, taken in turns after one warm-up each."""
    for run in variants.values():
        run()
    times = {name: [] for name in variants}
    for _round in range(repeats):
        for name, run in variants.items():
            times[name].append(run())
    return {name: statistics.median(values) for name, values in times.items()}


# ----- PyTorch (optional) ------------------------------------------------------------------------
def torch_times(model, x, y, repeats: int, half_repeats: int) -> dict | None:
    try:
        import torch
        from torch.utils.checkpoint import checkpoint as torch_checkpoint
    except ImportError:
        return None
    from gpt_step import torch_model  # nanoGPT in PyTorch with these weights (benchmarks/gpt_step.py)

    c = model.config
    reference = torch_model(model, {"n_layer": c.n_layer, "n_head": c.n_head, "n_embd": c.n_embd,
                                    "block_size": c.block_size, "vocab_size": c.vocab_size, "bias": c.bias})
    torch.set_num_threads(int(THREADS))  # torch_model pins gpt_step.py's own default; use this run's count
    tx, ty = torch.tensor(x.data), torch.tensor(y.data)
    plain_blocks = list(reference.blocks)

    class Checkpointed(torch.nn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, h):
            return torch_checkpoint(self.block, h, use_reentrant=False)

    def run(checkpointed: bool = False, half: bool = False) -> float:
        reference.blocks = torch.nn.ModuleList(Checkpointed(b) for b in plain_blocks) if checkpointed \
            else torch.nn.ModuleList(plain_blocks)
        start = time.perf_counter()
        reference.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.float16, enabled=half):
            _, loss = reference(tx, ty)
        loss.backward()
        return (time.perf_counter() - start) * 1e3

    times = alternate({"plain": run, "checkpointed": lambda: run(checkpointed=True)}, repeats)
    times.update(alternate({"float32": run, "float16": lambda: run(half=True)}, half_repeats))
    return times


# ----- main --------------------------------------------------------------------------------------
def measure(name: str, repeats: int, half_repeats: int, half: bool, use_torch: bool) -> dict:
    model, x, y = build(name)
    result = {"model": name, "batch": MODELS[name]["batch"], **MODELS[name]["config"],
              "params": model.num_parameters(non_embedding=False)}
    result["plain"] = memory(model, x, y, "plain")
    checkpoint_blocks(model)
    result["checkpointed"] = memory(model, x, y, "checkpointed")

    def with_blocks(enabled: bool):
        checkpoint_blocks(model, enabled)
        return step(model, x, y)

    times = alternate({"plain": lambda: with_blocks(False), "checkpointed": lambda: with_blocks(True)}, repeats)
    checkpoint_blocks(model, enabled=False)
    for key in ("plain", "checkpointed"):
        result[key]["ms"] = times[key]
    if use_torch:
        result["torch_ms"] = torch_times(model, x, y, repeats, half_repeats)
    if half:
        float32_ms = alternate({"float32": lambda: step(model, x, y)}, half_repeats)["float32"]
        model.half()
        result["float16"] = memory(model, x, y, "float16")
        result["float16"]["ms"] = alternate({"float16": lambda: step(model, x, y)}, half_repeats)["float16"]
        result["float16"]["float32_ms_same_repeats"] = float32_ms
    return result


def report(r: dict) -> None:
    print(f"\n{r['model']} GPT: {r['n_layer']} layers, {r['n_head']} heads, n_embd {r['n_embd']}, T={r['block_size']}, "
          f"batch {r['batch']}, {r['params']:,} parameters — one forward + backward")
    print(f"  {'variant':<14} {'peak MB':>9} {'after fwd MB':>13} {'ms':>9}")
    for key in ("plain", "checkpointed", "float16"):
        if key in r:
            v = r[key]
            print(f"  {key:<14} {v['peak_mb']:>9.2f} {v['activations_mb']:>13.2f} {v['ms']:>9.1f}")
    plain, ckpt = r["plain"], r["checkpointed"]
    print(f"  checkpointing: peak x{plain['peak_mb'] / ckpt['peak_mb']:.2f} lower "
          f"(held after forward x{plain['activations_mb'] / ckpt['activations_mb']:.1f} lower), "
          f"time x{ckpt['ms'] / plain['ms']:.2f}")
    torch_ms = r.get("torch_ms")
    if torch_ms:
        print(f"  PyTorch, same model: checkpointing time x{torch_ms['checkpointed'] / torch_ms['plain']:.2f}; "
              f"TinyTorch / PyTorch: plain x{plain['ms'] / torch_ms['plain']:.2f}, "
              f"checkpointed x{ckpt['ms'] / torch_ms['checkpointed']:.2f}")
    if "float16" in r:
        half = r["float16"]
        print(f"  float16: peak x{plain['peak_mb'] / half['peak_mb']:.2f} lower, held after forward "
              f"x{plain['activations_mb'] / half['activations_mb']:.2f} lower, time x"
              f"{half['ms'] / half['float32_ms_same_repeats']:.1f} (float32 {half['float32_ms_same_repeats']:.1f} ms)")
    if torch_ms:
        print(f"  PyTorch autocast float16 on this CPU: time x{torch_ms['float16'] / torch_ms['float32']:.2f} "
              f"of its float32 step")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="alternating steps per float32 variant (median)")
    parser.add_argument("--half-repeats", type=int, default=1, help="timed float16 steps (slow on a CPU)")
    parser.add_argument("--threads", default=THREADS, help="BLAS threads (read before numpy loads)")
    parser.add_argument("--only", choices=list(MODELS), help="measure one model only")
    parser.add_argument("--half-big", action="store_true", help="float16 on the big model too (minutes per step)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.half_repeats < 1:
        parser.error(f"--repeats and --half-repeats must be at least 1, got {args.repeats} and {args.half_repeats}")
    keep_freed_memory()  # as the milestone and gpt_step.py do: big temporaries reuse warm memory
    results = {"threads": THREADS, "load_average": os.getloadavg(), "models": []}
    for name in [args.only] if args.only else list(MODELS):
        r = measure(name, args.repeats, args.half_repeats, half=name == "milestone" or args.half_big,
                    use_torch=not args.no_torch)
        results["models"].append(r)
        report(r)
    results["load_average_after"] = os.getloadavg()
    print(f"\nthreads {THREADS}; load average {results['load_average'][0]:.2f} before, "
          f"{results['load_average_after'][0]:.2f} after")
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
