"""Milestone 2024 — ML systems: the same models, smaller and faster, measured honestly.

By 2024 the models that mattered were too large to serve as they were trained. What made them
usable was a systems toolbox that had matured in a decade of papers and production code: measure
first (profilers), store weights in 8 bits instead of 32 (Jacob et al.'s integer-only inference,
CVPR 2018; LLM.int8(), Dettmers et al., NeurIPS 2022), remove what does not matter (Han, Mao &
Dally's "Deep compression", ICLR 2016; structured channel pruning), never compute the same keys
and values twice during generation (the KV cache every LLM server keeps), and fuse the kernels
that remain (FlashAttention, Dao et al., NeurIPS 2022). None of it changes what a model *is*;
all of it changes what it costs.

This script takes your two trained models — LeNet-5 (the TorchPerf Olympics reference,
olympics/baselines/lenet5, trained on MNIST) and the 2017 milestone's character GPT (its
checkpoint, or a quick training run on the shipped tiny-Shakespeare when there is none) — and
applies the toolbox of modules 14-18 step by step, printing a before/after table for each:

    CNN: profile (14) -> textbook vs fast conv kernels (16) -> int8 static quantization (17)
         -> 50% structured channel pruning + fine-tuning (18) -> pruned + int8
    GPT: profile (14) -> unfused vs fused paths (16) -> generation with the KV cache (15)
         -> int8 weights (17) -> 50% magnitude pruning of the blocks (18)

    python milestones/2024_systems/run.py                  # offline: TinyMNIST dev set, quick GPT
    python milestones/2024_systems/run.py --dataset mnist  # MNIST's 10,000 test images ($TINYTORCH_DATA)
    python milestones/2024_systems/run.py --gpt-checkpoint PATH   # a GPT saved by the 2017 milestone

Options: --dataset, --finetune-epochs, --gpt-checkpoint, --gpt-iters, --new-tokens, --repeats,
--seed, --json, --quiet.
"""

MILESTONE = {
    "title": "ML systems: profile, quantize, prune, cache and fuse your own models",
    "year": 2024,
    "requires": ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd", "06_optimizers",
                 "07_training", "08_data", "09_spatial", "10_tokenization", "11_embeddings", "12_attention",
                 "13_transformers", "14_profiling", "15_memoization", "16_acceleration", "17_quantization",
                 "18_compression", "19_benchmarking", "20_capstone"],
    "description": "Your LeNet-5 and your GPT through the systems toolbox of modules 14-18, one step at a time: "
                   "a profile, int8 weights, structured pruning, the KV cache and fused kernels, each row of the "
                   "before/after table measured with module 19's harness (accuracy, latency, memory, size).",
}

import argparse
import copy
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this repository's tinytorch, even when nothing is pip-installed

import numpy as np  # noqa: E402

import tinytorch as tt  # noqa: E402
from tinytorch.core.data import MNIST, DataLoader, TinyMNIST  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import Adam  # noqa: E402
from tinytorch.core.training import Trainer, load_checkpoint  # noqa: E402
from tinytorch.systems.acceleration import keep_freed_memory, use_fused  # noqa: E402
from tinytorch.systems.benchmarking import capture_environment, measure_interleaved  # noqa: E402
from tinytorch.systems.capstone import Step, file_size, ladder_table, optimization_ladder  # noqa: E402
from tinytorch.systems.compression import magnitude_prune, prune_channels, save_sparse  # noqa: E402
from tinytorch.systems.profiling import MemoryProfiler, Profiler  # noqa: E402
from tinytorch.systems.quantization import quantize_dynamic, quantize_model, save_quantized  # noqa: E402

BANNER = """\
================================================================================
 2024 - ML systems: the same models, smaller and faster
================================================================================
 Measure first, then store weights in 8 bits, remove the channels that matter
 least, never recompute a token's keys and values, and fuse what is left.
 Every number below is measured on this machine, now.
"""
MEAN, STD = 0.1307, 0.3081  # MNIST's training-set statistics, as the Olympics' inputs use them


def load_by_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def normalized(images: np.ndarray) -> np.ndarray:
    return ((images.astype(np.float32) / np.float32(255)) - np.float32(MEAN)) / np.float32(STD)


# ----- the CNN -------------------------------------------------------------------------------
def cnn_data(name: str):
    """(train x, train y, test x, test y): TinyMNIST offline, or MNIST from $TINYTORCH_DATA."""
    if name == "mnist":
        train, test = MNIST(train=True, download=False), MNIST(train=False, download=False)
        pick = np.random.default_rng(0).permutation(len(train.data))[:5000]  # fine-tuning / calibration subset
        train_x, train_y = train.data[pick], train.targets[pick]
    else:
        train, test = TinyMNIST(train=True), TinyMNIST(train=False)
        train_x, train_y = train.data, train.targets
    return (normalized(train_x), train_y.astype(np.int64), normalized(test.data), test.targets.astype(np.int64))


def cnn_steps(train_x, train_y, epochs: int, seed: int) -> list:
    calibration = DataLoader(train_x, train_y, batch_size=100, shuffle=True, seed=seed)

    def int8(model):
        return quantize_model(model, calibration, bits=8, per_channel=True, observer="minmax", num_batches=8)

    def slim(model):
        pruned = prune_channels(model, 0.5)
        loader = DataLoader(train_x, train_y, batch_size=64, shuffle=True, seed=seed + 1)
        Trainer(pruned, CrossEntropyLoss(), Adam(pruned.parameters(), lr=2e-3), verbose=False).fit(loader,
                                                                                                   epochs=epochs)
        return pruned.eval()

    def save_float(model, path):
        tt.save(model.state_dict(), path)

    def save_int8(model, path):
        save_quantized(path, model)

    return [Step("fast kernels", "module 16's conv2d kernel (the default)", lambda m: m, save_float),
            Step("int8", "static int8, per-channel weights, 8 calibration batches", int8, save_int8),
            Step("slim", f"50% of channels pruned by L1 norm, {epochs} epoch(s) fine-tuning", slim, save_float),
            Step("slim + int8", "the slim model, int8", int8, save_int8)]


def run_cnn(args, say) -> dict:
    lenet = load_by_path("olympics_lenet5", ROOT / "olympics" / "baselines" / "lenet5.py")
    model = lenet.load_model(str(ROOT / "olympics" / "baselines" / "lenet5" / "weights.npz"))
    train_x, train_y, test_x, test_y = cnn_data(args.dataset)
    say(f"CNN: LeNet-5 trained on MNIST's 60,000 training images (olympics/baselines/lenet5); measured on "
        f"{len(test_y):,} {'MNIST' if args.dataset == 'mnist' else 'TinyMNIST'} test images, fine-tuned and "
        f"calibrated on {len(train_y):,} training images\n")
    say("Step 1 - profile (module 14): where one image's forward pass spends its time")
    profiler = Profiler(model)
    profiler.profile(tt.Tensor(test_x[:1]), backward=False, repeats=args.repeats)
    say(profiler.table() + "\n")
    steps = cnn_steps(train_x, train_y, args.finetune_epochs, args.seed)
    with use_fused(False):  # module 09's textbook im2col convolution: the starting point
        rows = optimization_ladder(model, [Step("textbook conv", "module 09's im2col conv2d", lambda m: m,
                                                steps[0].save)], test_x, test_y, repeats=args.repeats)
    rows += optimization_ladder(model, steps[:2], test_x, test_y, repeats=args.repeats)
    rows += optimization_ladder(model, steps[2:], test_x, test_y, repeats=args.repeats)
    say("Steps 2-5 - fast kernels (16), int8 (17), structured pruning (18), both; ratios to the first row:")
    say(ladder_table(rows))
    # The ladder measures rung after rung; on a shared machine load drifts between them, so the
    # batch-1 latencies are timed once more in turns (module 19's measure_interleaved).
    one = tt.Tensor(test_x[:1])

    def timed(model, fused: bool):
        with use_fused(fused), tt.no_grad():
            return model(one)

    again = measure_interleaved({row["name"]: (lambda m=row["model"], f=row["name"] != "textbook conv": timed(m, f))
                                 for row in rows}, warmup=2, repeats=args.repeats)
    base = again[rows[0]["name"]].median
    say("batch-1 p50 timed in turns: " + ", ".join(f"{name} {m.median * 1e3:.3f} ms ({base / m.median:.2f}x)"
                                                   for name, m in again.items()))
    summary = {row["name"]: {key: row["result"][key] for key in ("accuracy", "latency_ms", "throughput_per_s",
                                                                 "peak_memory_mb", "size_bytes")} for row in rows}
    for name, m in again.items():
        summary[name]["interleaved_p50_ms"] = m.median * 1e3
    return summary


# ----- the GPT -------------------------------------------------------------------------------
def gpt_model(args, m2017, task, say):
    """The 2017 milestone's GPT: its checkpoint when there is one, else a quick run on tiny-Shakespeare."""
    model = m2017.build(task)
    path = args.gpt_checkpoint or m2017.default_checkpoint("shakespeare")
    if Path(path).is_file():
        load_checkpoint(path, model)
        say(f"GPT: loaded {path}")
        return model.eval(), str(path)
    if args.gpt_checkpoint:
        raise SystemExit(f"2024_systems: --gpt-checkpoint {path} does not exist")
    say(f"GPT: no checkpoint at {path}; training the 2017 recipe for {args.gpt_iters} iterations "
        "(run milestones/2017_transformer/run.py for the full 2,000)")
    recipe = argparse.Namespace(iters=args.gpt_iters, eval_interval=args.gpt_iters, eval_batches=2, batch_size=12,
                                lr=1e-3, seed=args.seed, quiet=True)
    m2017.train(model, task, recipe, lambda *a, **k: None)
    return model.eval(), None


class Variant:
    """One row of the GPT table: a model, how it generates, how it is saved."""

    def __init__(self, name: str, technique: str, model, use_cache: bool, save, fused: bool = True):
        self.name, self.technique, self.model, self.use_cache, self.save, self.fused = (
            name, technique, model, use_cache, save, fused)

    def forward(self, x):
        with use_fused(self.fused), tt.no_grad():
            return self.model(x)

    def generate(self, prompt, new_tokens: int):
        with use_fused(self.fused):
            return self.model.generate(prompt, new_tokens, temperature=0.0, use_cache=self.use_cache)


def gpt_rows(variants: list, val_batches, prompt, new_tokens: int, m2017, repeats: int) -> list:
    """Validation loss, ms per generated token, forward latency, peak memory and file size per variant.

    The timings are interleaved (module 19's measure_interleaved: one call of each per round, in a
    new order every round), so load on a shared machine hits every row alike."""
    x = val_batches[0][0]
    forward = measure_interleaved({v.name: (lambda v=v: v.forward(x)) for v in variants}, warmup=1,
                                  repeats=repeats)
    generate = measure_interleaved({v.name: (lambda v=v: v.generate(prompt, new_tokens)) for v in variants},
                                   warmup=1, repeats=max(3, repeats // 3))
    rows = []
    for v in variants:
        memory = MemoryProfiler()
        with memory.measure("forward"):
            v.forward(x)
        with use_fused(v.fused):
            loss = m2017.evaluate(v.model, val_batches)
        rows.append({"name": v.name, "technique": v.technique, "val_loss": loss,
                     "ms_per_token": generate[v.name].median / new_tokens * 1e3,
                     "forward_ms": forward[v.name].median * 1e3, "peak_memory_mb": memory.results["forward"].peak_mb,
                     "size_bytes": file_size(lambda p, v=v: v.save(v.model, p)),
                     "tokens": v.generate(prompt, new_tokens).data[0].tolist()})
    return rows


def gpt_table(rows: list) -> str:
    first = rows[0]
    header = ("step", "val loss", "Δ loss", "ms/token", "speed-up", "forward ms", "peak MB", "size bytes", "smaller")
    cells = [list(header)]
    for row in rows:
        cells.append([row["name"], f"{row['val_loss']:.4f}", f"{row['val_loss'] - first['val_loss']:+.4f}",
                      f"{row['ms_per_token']:.3f}", f"{first['ms_per_token'] / row['ms_per_token']:.2f}x",
                      f"{row['forward_ms']:.2f}", f"{row['peak_memory_mb']:.2f}", f"{row['size_bytes']:,}",
                      f"{first['size_bytes'] / row['size_bytes']:.2f}x"])
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def run_gpt(args, say) -> dict:
    m2017 = load_by_path("milestone_2017", ROOT / "milestones" / "2017_transformer" / "run.py")
    task = m2017.load_task("shakespeare", args.seed)
    model, loaded = gpt_model(args, m2017, task, say)
    config = model.config
    val_batches = m2017.fixed_batches(task, "val", args.gpt_eval_batches, config.block_size, 4, args.seed + 3)
    prompt = tt.tensor(m2017.encode(task.tokenizer, "\n")[None, :])
    say(f"GPT: {model.num_parameters(non_embedding=False):,} parameters, {config.n_layer} layers, n_embd "
        f"{config.n_embd}; validation loss on {args.gpt_eval_batches} fixed batches of 4 x {config.block_size}; "
        f"{args.new_tokens} greedy tokens per generation\n")
    say("Step 1 - profile (module 14): one forward pass of 4 x block_size tokens")
    profiler = Profiler(model)
    profiler.profile(val_batches[0][0], backward=False, repeats=2)
    say(profiler.table())

    def save_float(m, path):
        tt.save(m.state_dict(), path)

    def save_int8(m, path):
        save_quantized(path, m)

    def save_sparse_model(m, path):
        save_sparse(path, m)

    qmodel = quantize_dynamic(model, bits=8, weight_only=True)
    # The head shares its weight with the token table, so only the blocks' Linear layers are pruned.
    pruned = copy.deepcopy(model)
    magnitude_prune(pruned.blocks, 0.5, scope="layer")
    variants = [
        Variant("unfused", "use_fused(False): the plain paths, no cache", model, False, save_float, fused=False),
        Variant("fused", "module 16's fused paths (the default), no cache", model, False, save_float),
        Variant("KV cache", "module 15's KVCache (the default)", model, True, save_float),
        Variant("int8 weights", "module 17: Linear weights int8, dequantized per use", qmodel, True, save_int8),
        Variant("pruned 50%", "module 18: half of every block Linear's weights, no fine-tuning, CSR file",
                pruned.eval(), True, save_sparse_model),
    ]
    rows = gpt_rows(variants, val_batches, prompt, args.new_tokens, m2017, args.repeats)
    say("\nSteps 2-5 - fused kernels (16), the KV cache (15), int8 weights (17), pruning (18); ratios to the first "
        "row:")
    say(gpt_table(rows))
    same = rows[1]["tokens"] == rows[2]["tokens"]
    say(f"\ncached and uncached generation wrote {'the same' if same else 'DIFFERENT'} {args.new_tokens} tokens; "
        f"int8 weights changed the validation loss by {rows[3]['val_loss'] - rows[1]['val_loss']:+.4f}, "
        f"pruning half the block weights by {rows[4]['val_loss'] - rows[1]['val_loss']:+.4f}")
    return {"checkpoint": loaded, "cache_tokens_identical": same,
            "rows": {row["name"]: {k: v for k, v in row.items() if k not in ("name", "tokens")} for row in rows}}


# ----- main ----------------------------------------------------------------------------------
def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=MILESTONE["title"] + " (2024)")
    parser.add_argument("--dataset", choices=("tinymnist", "mnist"), default="tinymnist",
                        help="CNN test images: the shipped TinyMNIST (200) or MNIST's 10,000 ($TINYTORCH_DATA)")
    parser.add_argument("--finetune-epochs", type=int, default=3, help="fine-tuning after pruning (default 3)")
    parser.add_argument("--gpt-checkpoint", type=Path, help="a GPT saved by the 2017 milestone (default: its "
                        "default checkpoint, trained here quickly when missing)")
    parser.add_argument("--gpt-iters", type=int, default=200, help="iterations when the GPT is trained here")
    parser.add_argument("--gpt-eval-batches", type=int, default=8, help="fixed validation batches (default 8)")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens generated per timing (default 64)")
    parser.add_argument("--repeats", type=int, default=20, help="timed repeats per measurement (default 20)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    parser.add_argument("--quiet", action="store_true", help="only the JSON")
    args = parser.parse_args(argv)
    for name in ("finetune_epochs", "gpt_iters", "gpt_eval_batches", "new_tokens"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.repeats < 3:
        parser.error(f"--repeats must be at least 3 (a median needs a few runs), got {args.repeats}")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    say = (lambda *a, **k: None) if args.quiet else print
    keep_freed_memory()
    tt.manual_seed(args.seed)
    start = time.perf_counter()
    say(BANNER)
    result = {"milestone": "2024_systems", "dataset": args.dataset, "cnn": run_cnn(args, say)}
    say("")
    result["gpt"] = run_gpt(args, say)
    environment = capture_environment()
    result.update(environment=environment, wall_time_s=round(time.perf_counter() - start, 1),
                  load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    say(f"\nmeasured with {environment.get('blas', '?')}, OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, load average {result['load_average']}; "
        f"{result['wall_time_s']} s in total")
    if args.json:
        print(json.dumps(result, default=float))
    return result


if __name__ == "__main__":
    main()
