"""A fast PyTorch probe of the tinytalks task: is a dataset design learnable at the milestone's budget?

    PYTHONPATH=. /work/torchvenv/bin/python milestones/2017_transformer/tinytalks_probe.py --seeds 0 1 2

Needs torch (CI has none); not part of the course. It trains nanogpt_reference.py's model (the
milestone's architecture) on the tinytalks turns that datasets/build_tinytalks.py builds *now* (not
the shipped file, so a design can be tried before it is shipped), with the milestone's own batches
(run.py's load_task and TextTask.batch: windows that start at a turn, answer characters as targets)
and its schedule, then answers every held-out question greedily and prints the exact-match
accuracy per split and per category, one JSON line per seed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "datasets"))


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = load("nanogpt_reference", HERE / "nanogpt_reference.py")
milestone = load("run_2017", HERE / "run.py")
builder = load("build_tinytalks", ROOT / "datasets" / "build_tinytalks.py")


@torch.no_grad()
def greedy(model, tokenizer, prompts: list, steps: int) -> list:
    """Greedy continuations of prompts (grouped by length), cut at the first newline."""
    out = {}
    by_length = {}
    for p in prompts:
        by_length.setdefault(len(p), []).append(p)
    for group in by_length.values():
        ids = torch.tensor(np.stack([milestone.encode(tokenizer, p) for p in group]))
        start = ids.shape[1]
        for _ in range(steps):
            logits = model(ids[:, -reference.BLOCK:])
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)
        for p, row in zip(group, ids[:, start:].tolist()):
            out[p] = tokenizer.decode(row).split("\n")[0]
    return [out[p] for p in prompts]


def run(seed: int, items: dict, iters: int, batch: int) -> dict:
    milestone.load_tinytalks = lambda: {k: [(q, a) for q, a, _ in v] for k, v in items.items()}
    task = milestone.load_task("tinytalks", seed)
    torch.manual_seed(seed)
    model = reference.CharGPT(task.tokenizer.vocab_size)
    params = list(model.parameters())
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": reference.DECAY},
                                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                                  lr=reference.LR, betas=reference.BETAS)
    rng = np.random.default_rng(seed + 1)
    start = time.perf_counter()
    for it in range(iters):
        for group in optimizer.param_groups:
            group["lr"] = reference.get_lr(it, iters)
        x, y = task.batch("train", reference.BLOCK, batch, rng)
        loss = model(torch.tensor(x.data), torch.tensor(y.data))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, reference.CLIP)
        optimizer.step()
    result = {"seed": seed, "iters": iters, "batch": batch, "train_s": round(time.perf_counter() - start, 1)}
    model.eval()
    longest = max(len(a) for v in items.values() for _, a, _ in v) + 1
    for split in ("val", "test", "train"):
        rows = items[split] if split != "train" else items[split][::4]
        got = greedy(model, task.tokenizer, [milestone.tinytalks_prompt(q) for q, _, _ in rows], longest)
        right = [a == g for (_, a, _), g in zip(rows, got)]
        result[split] = round(float(np.mean(right)), 3)
        if split != "train":
            per = {}
            for (_, _, c), ok in zip(rows, right):
                per.setdefault(c, []).append(ok)
            result[split + "_by"] = {c: f"{sum(v)}/{len(v)}" for c, v in per.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    splits = builder.build()["splits"]
    items = {k: [tuple(x) for x in v] for k, v in splits.items()}
    print(json.dumps({"sizes": {k: len(v) for k, v in items.items()}}), flush=True)
    for seed in args.seeds:
        print(json.dumps(run(seed, items, args.iters, args.batch_size)), flush=True)


if __name__ == "__main__":
    main()
