"""nanoGPT's CPU Shakespeare run, rebuilt in plain PyTorch, to see what its published 1.88 means.

    /work/torchvenv/bin/python milestones/2017_transformer/nanogpt_reference.py --seeds 1337 0 1 2 3

A reference, not part of the course (needs torch; CI has none). Written for TinyTorch from nanoGPT's
documented recipe (README "I only have a macbook" command on config/train_shakespeare_char.py):
n_layer 4, n_head 4, n_embd 128, block_size 64, batch 12, dropout 0, bias False, tied head; init
normal(0, 0.02) with the residual projections (c_proj) at 0.02/sqrt(2 n_layer); AdamW lr 1e-3,
betas (0.9, 0.99), weight decay 0.1 on 2-D parameters only; get_lr = linear warm-up lr(it+1)/(W+1)
for 100 iterations then cosine to 1e-4 at 2,000; clip 1.0; batches at uniform random offsets
(torch.randint, generator seeded with the seed, as train.py's torch.manual_seed(1337)).

At iteration 2,000 (after 2,000 updates, where nanoGPT prints its last "step 2000" line) it reports
the validation loss three ways: nanoGPT's estimate_loss with eval_iters=20 random batches (the CPU
command's setting: what the 1.88 was read from), with eval_iters=200 (the config's default), and
over every non-overlapping 64-character window of the validation split (the honest number).
Prints one JSON line per seed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH = 4, 4, 128, 64, 12
LR, MIN_LR, WARMUP, ITERS, BETAS, DECAY, CLIP = 1e-3, 1e-4, 100, 2000, (0.9, 0.99), 0.1, 1.0


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(N_EMBD, bias=False), nn.LayerNorm(N_EMBD, bias=False)
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD, bias=False)
        self.attn_proj = nn.Linear(N_EMBD, N_EMBD, bias=False)
        self.c_fc = nn.Linear(N_EMBD, 4 * N_EMBD, bias=False)
        self.mlp_proj = nn.Linear(4 * N_EMBD, N_EMBD, bias=False)

    def forward(self, x):
        b, t, e = x.shape
        q, k, v = (z.view(b, t, N_HEAD, e // N_HEAD).transpose(1, 2) for z in self.c_attn(self.ln_1(x)).split(e, 2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, e)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class CharGPT(nn.Module):
    def __init__(self, vocab: int):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, N_EMBD), nn.Embedding(BLOCK, N_EMBD)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD, bias=False)
        self.head = nn.Linear(N_EMBD, vocab, bias=False)
        self.head.weight = self.wte.weight  # weight tying
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * N_LAYER) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets=None):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)


def get_lr(it: int, iters: int = ITERS) -> float:
    if it < WARMUP:
        return LR * (it + 1) / (WARMUP + 1)
    ratio = (it - WARMUP) / (iters - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (LR - MIN_LR)


def windows(data, offsets):
    rows = offsets[:, None] + torch.arange(BLOCK + 1)
    chunk = data[rows]
    return chunk[:, :-1], chunk[:, 1:]


@torch.no_grad()
def random_estimate(model, data, count: int, generator) -> float:
    """nanoGPT's estimate_loss for one split: the mean over `count` random batches of 12."""
    return sum(model(*windows(data, torch.randint(len(data) - BLOCK, (BATCH,), generator=generator))).item()
               for _ in range(count)) / count


@torch.no_grad()
def full_estimate(model, data) -> float:
    """Mean loss over every non-overlapping window of the split (each character predicted once)."""
    offsets = torch.arange(0, len(data) - BLOCK - 1, BLOCK)
    total = sum(model(*windows(data, part)).item() * len(part) for part in offsets.split(256))
    return total / len(offsets)


def run(seed: int, text: str) -> dict:
    torch.manual_seed(seed)
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text])
    cut = int(0.9 * len(data))
    train, val = data[:cut], data[cut:]
    model = CharGPT(len(chars))
    params = list(model.parameters())
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": DECAY},
                                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                                  lr=LR, betas=BETAS)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for it in range(ITERS):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it)
        loss = model(*windows(train, torch.randint(len(train) - BLOCK, (BATCH,), generator=generator)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    evals = torch.Generator().manual_seed(seed + 1)
    return {"seed": seed, "train_s": round(seconds, 1),
            "val_eval20": round(random_estimate(model, val, 20, evals), 4),
            "val_eval200": round(random_estimate(model, val, 200, evals), 4),
            "val_full": round(full_estimate(model, val), 4), "train_full": round(full_estimate(model, train), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from tinytorch.text.tokenization import load_shakespeare

    text = load_shakespeare()
    for seed in args.seeds:
        print(json.dumps(run(seed, text)), flush=True)


if __name__ == "__main__":
    main()
