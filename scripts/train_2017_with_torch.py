"""Train the 2017 milestone's Shakespeare recipe in PyTorch, from TinyTorch's initial weights, on the same batches.

A cross-check of milestones/2017_transformer/run.py: the same seed gives the same initial weights
(made by TinyTorch's GPT, loaded into benchmarks/gpt_step.py's PyTorch model), the same training
batches (the milestone's own data code and generator) and the same fixed evaluation batches; the
learning rate follows nanoGPT's formula directly. If TinyTorch computes what PyTorch computes, the two
loss curves agree to rounding; the validation loss at the end is then the recipe's, not the framework's.

    PYTHONPATH=. /work/torchvenv/bin/python scripts/train_2017_with_torch.py [--seed 2017] [--iters 2000]

Prints one line per evaluation (iteration, train loss, val loss, seconds) in the milestone's format.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    sys.argv = [sys.argv[0], "--threads", str(args.threads)]  # gpt_step reads its thread count at import
    bench = load("gpt_step", ROOT / "benchmarks" / "gpt_step.py")
    milestone = load("run_2017", ROOT / "milestones" / "2017_transformer" / "run.py")
    import torch

    import tinytorch as tt

    recipe = milestone.RECIPE
    tt.manual_seed(args.seed)  # as the milestone does: initial weights come from this generator
    task = milestone.load_task("shakespeare", args.seed)
    model = bench.torch_model(milestone.build(task), bench.FULL["config"])
    optimizer = bench.torch_optimizer(model)
    warmup = min(recipe["warmup_iters"], args.iters - 1)  # as the milestone shortens it for short runs
    lr, min_lr = recipe["lr"], recipe["min_lr"]

    def learning_rate(it: int) -> float:  # nanoGPT's get_lr
        if it < warmup:
            return lr * (it + 1) / (warmup + 1)
        ratio = (it - warmup) / (args.iters - warmup)
        return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)

    data_rng = milestone.np.random.default_rng(args.seed + 1)
    evals = {split: milestone.fixed_batches(task, split, recipe["eval_batches"], recipe["block_size"],
                                            recipe["batch_size"], args.seed + 2 + i)
             for i, split in enumerate(("train", "val"))}

    def evaluate(batches) -> float:
        model.eval()
        with torch.no_grad():
            total = sum(model(torch.tensor(x.data), torch.tensor(y.data))[1].item() for x, y in batches)
        model.train()
        return total / len(batches)

    start = time.perf_counter()
    for it in range(args.iters + 1):
        if it % recipe["eval_interval"] == 0 or it == args.iters:
            print(f" {it:5d} | {evaluate(evals['train']):10.4f} | {evaluate(evals['val']):8.4f} | "
                  f"{time.perf_counter() - start:6.1f}s", flush=True)
        if it == args.iters:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(it)
        x, y = task.batch("train", recipe["block_size"], recipe["batch_size"], data_rng)
        bench.torch_step(model, optimizer, torch.tensor(x.data), torch.tensor(y.data))


if __name__ == "__main__":
    main()
