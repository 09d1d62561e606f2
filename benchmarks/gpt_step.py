"""How fast does TinyTorch train a GPT? One training step of the 2017 milestone's Shakespeare model.

The model is nanoGPT's CPU recipe for character-level Shakespeare: 4 layers, 4 heads, n_embd 128,
block_size 64, vocabulary 65, no dropout, no biases (about 0.8M parameters), at batch 12.
One step = zero_grad + forward + cross-entropy loss + backward + clip_grad_norm_(1.0) + AdamW step,
exactly what milestones/2017_transformer/run.py does per iteration.

When torch can be imported (it stays optional), the same model is built in PyTorch from the same
weights, and the two take turns step by step in this process with the same thread count, so a
load spike hits both; the ratio TinyTorch / PyTorch of the medians is the number to quote
(docs/DESIGN.md §7). Before timing, the two models' losses and gradients are compared on one
batch: a fast wrong answer is not a result.

Module 16's fused paths (GELU, LayerNorm, the attention core as one node — blocked from 256
tokens —, softmax + cross-entropy, AdamW) are the package default; each step is also run on the
plain paths (`use_fused(False)`: modules 12-13's textbook compositions of Tensor ops, module 04's
loss, module 06's AdamW) in alternation on the same model, after checking that both give the same
loss and gradients, and the fused/unfused speed-up is printed next to the PyTorch ratio.

A per-sub-layer profile follows: the forward and backward time of the embeddings, each block's
ln_1, attention, ln_2 and MLP, ln_f, the head and the loss, and the clip + optimizer time.
Backward times come from identity "stamp" Functions placed between sub-layers, whose backward
notes the time as the gradient passes.

    python benchmarks/gpt_step.py [--repeats N] [--threads N] [--batch N] [--small] [--no-torch]
                                  [--default-malloc] [--json]

By default glibc's malloc is first told to keep freed memory (module 16's keep_freed_memory(),
which the 2017 milestone calls too; it applies to the whole process, PyTorch included):
--default-malloc measures without it.
"""

import argparse
import os
import sys

from _threads import pin_blas_threads  # noqa: E402  (sets BLAS threads before numpy loads)

THREADS = pin_blas_threads(sys.argv[1:], default="2")

import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import tinytorch as tt  # noqa: E402
from tinytorch import nn, optim  # noqa: E402
from tinytorch.core.autograd import Function  # noqa: E402
from tinytorch.systems.acceleration import keep_freed_memory, use_fused  # noqa: E402
from tinytorch.text.transformers import GPT, GPTConfig  # noqa: E402

FULL = {"batch": 12, "config": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "vocab_size": 65,
                                "dropout": 0.0, "bias": False}}
SMALL = {"batch": 2, "config": {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 16, "vocab_size": 65,
                                "dropout": 0.0, "bias": False}}
LR, BETAS, WEIGHT_DECAY, CLIP = 1e-3, (0.9, 0.99), 0.1, 1.0


# ----- TinyTorch ---------------------------------------------------------------------------------
def tinytorch_step(model, optimizer, x, y):
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    optim.clip_grad_norm_(model.parameters(), CLIP)
    optimizer.step()
    return loss


class Stamp(Function):
    """Identity in forward; its backward writes the time into log[key] as the gradient passes."""

    @staticmethod
    def forward(ctx, x, log, key):
        ctx.log, ctx.key = log, key
        return x

    @staticmethod
    def backward(ctx, grad_output):
        ctx.log[ctx.key] = time.perf_counter()
        return grad_output, None, None


def profile_step(model, optimizer, x, y) -> list[tuple[str, float, float]]:
    """(sub-layer, forward s, backward s) for one training step, in forward order; then clip+AdamW."""
    optimizer.zero_grad()
    stamps: dict[int, float] = {}
    names, forward = [], []

    def timed(name, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        forward.append(time.perf_counter() - start)
        names.append(name)
        return Stamp.apply(out, stamps, len(names) - 1)

    batch, t = x.shape
    h = timed("embeddings (wte + wpe)", lambda: model.drop(model.wte(x) + model.wpe(tt.arange(t))))
    for i, block in enumerate(model.blocks):
        a = timed(f"block {i} ln_1", block.ln_1, h)
        a = timed(f"block {i} attention", block.attn, a)
        h = timed(f"block {i} residual add", lambda u, v: u + v, h, a)
        m = timed(f"block {i} ln_2", block.ln_2, h)
        m = timed(f"block {i} mlp", block.mlp, m)
        h = timed(f"block {i} residual add", lambda u, v: u + v, h, m)
    h = timed("ln_f", model.ln_f, h)
    logits = timed("lm_head", model.lm_head, h)
    vocab = logits.shape[-1]
    loss = timed("cross-entropy loss", lambda z: nn.functional.cross_entropy(z.reshape(batch * t, vocab),
                                                                            y.reshape(batch * t)), logits)
    start = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
    last = len(names) - 1
    # The gradient reaches stamp k just before sub-layer k's backward runs; sub-layer k's backward ends
    # when the gradient reaches the stamp of the sub-layer that made its input. Residual adds and the
    # two-way fan-out of the stream make that "the previous stamp in order" only approximately, which
    # is good enough to see where the time goes.
    backward = []
    for k in range(len(names)):
        begin = stamps[k] if k < last else start
        finish = stamps[k - 1] if k > 0 else end
        backward.append(max(finish - begin, 0.0))
    start = time.perf_counter()
    optim.clip_grad_norm_(model.parameters(), CLIP)
    optimizer.step()
    rows = list(zip(names, forward, backward))
    rows.append(("clip_grad_norm_ + AdamW step", time.perf_counter() - start, 0.0))
    return rows


# ----- PyTorch (optional) ------------------------------------------------------------------------
def torch_model(ours, config: dict):
    """nanoGPT's model in PyTorch with TinyTorch's current weights (None when torch is missing)."""
    try:
        import torch
        from torch import nn as tnn
        from torch.nn import functional as tF
    except ImportError:
        return None
    torch.set_num_threads(int(THREADS))
    c = config

    class Attention(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = tnn.Linear(c["n_embd"], 3 * c["n_embd"], bias=c["bias"])
            self.c_proj = tnn.Linear(c["n_embd"], c["n_embd"], bias=c["bias"])

        def forward(self, x):
            b, t, e = x.shape
            q, k, v = self.c_attn(x).split(e, dim=2)
            q, k, v = (z.view(b, t, c["n_head"], e // c["n_head"]).transpose(1, 2) for z in (q, k, v))
            y = tF.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, e))

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = tnn.LayerNorm(c["n_embd"], bias=c["bias"])
            self.attn = Attention()
            self.ln_2 = tnn.LayerNorm(c["n_embd"], bias=c["bias"])
            self.mlp = tnn.Sequential()
            self.mlp.add_module("c_fc", tnn.Linear(c["n_embd"], 4 * c["n_embd"], bias=c["bias"]))
            self.mlp.add_module("gelu", tnn.GELU())
            self.mlp.add_module("c_proj", tnn.Linear(4 * c["n_embd"], c["n_embd"], bias=c["bias"]))

        def forward(self, x):
            h = self.attn(self.ln_1(x)) + x
            return self.mlp(self.ln_2(h)) + h

    class TorchGPT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.wte = tnn.Embedding(c["vocab_size"], c["n_embd"])
            self.wpe = tnn.Embedding(c["block_size"], c["n_embd"])
            self.blocks = tnn.ModuleList(Block() for _ in range(c["n_layer"]))
            self.ln_f = tnn.LayerNorm(c["n_embd"], bias=c["bias"])
            self.lm_head = tnn.Linear(c["n_embd"], c["vocab_size"], bias=False)
            self.wte.weight = self.lm_head.weight  # tied, as in nanoGPT

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for layer in self.blocks:
                x = layer(x)
            logits = self.lm_head(self.ln_f(x))
            return logits, tF.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))

    model = TorchGPT()
    state = {name: torch.tensor(np.asarray(value)) for name, value in ours.state_dict().items()}
    model.load_state_dict(state, strict=True)
    return model


def torch_optimizer(model):
    import torch

    params = list(model.parameters())
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": WEIGHT_DECAY},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=LR, betas=BETAS)


def torch_step(model, optimizer, x, y):
    import torch

    optimizer.zero_grad(set_to_none=True)
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    optimizer.step()
    return loss


def compare_gradients(ours, theirs, x, y) -> dict:
    """Loss and largest relative gradient difference between the two models on one batch (no update)."""
    import torch

    ours.zero_grad()
    _, loss = ours(x, y)
    loss.backward()
    theirs.zero_grad()
    _, tloss = theirs(torch.tensor(x.data), torch.tensor(y.data))
    tloss.backward()
    worst = 0.0
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        reference = tparams[name].grad.numpy()
        scale = float(np.abs(reference).max()) + 1e-12
        worst = max(worst, float(np.abs(p.grad.data - reference).max()) / scale)
    ours.zero_grad()
    theirs.zero_grad()
    return {"loss": loss.item(), "torch_loss": tloss.item(), "grad_max_rel_diff": worst}


def compare_fused(model, x, y) -> dict:
    """Loss and largest relative gradient difference between the fused and unfused paths (no update)."""
    grads = []
    for enabled in (True, False):
        model.zero_grad()
        with use_fused(enabled):
            _, loss = model(x, y)
            loss.backward()
        grads.append((loss.item(), {name: p.grad.data.copy() for name, p in model.named_parameters()}))
    model.zero_grad()
    (fused_loss, fused), (plain_loss, plain) = grads
    worst = max(float(np.abs(fused[n] - plain[n]).max()) / (float(np.abs(plain[n]).max()) + 1e-12) for n in plain)
    return {"loss": fused_loss, "unfused_loss": plain_loss, "grad_max_rel_diff": worst}


# ----- the run -----------------------------------------------------------------------------------
def machine_info() -> dict:
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    return {"python": platform.python_version(), "numpy": np.__version__,
            "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(), "cpu_count": os.cpu_count(),
            "threads": threads, "machine": f"{platform.system()} {platform.machine()}",
            "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def step_flops(config: GPTConfig, params: int, batch: int) -> float:
    """Training FLOPs of one step: 6 per parameter per token (matmuls, forward + backward), plus the
    attention scores and weighted sums (6 · 2 · n_layer · T · E per token, causal mask not subtracted)."""
    t = config.block_size
    return batch * t * (6 * params + 12 * config.n_layer * t * config.n_embd)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="GPT training step (forward + backward + clip + AdamW)")
    parser.add_argument("--repeats", type=int, default=30, help="timed steps of each framework (median)")
    parser.add_argument("--profiles", type=int, default=5, help="profiled steps (median per sub-layer)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 12)")
    parser.add_argument("--threads", default=THREADS, help="BLAS threads (set before NumPy loads)")
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--default-malloc", action="store_true", help="leave glibc's malloc as it is (by "
                        "default keep_freed_memory() is called first, as the 2017 milestone does)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.profiles < 1:
        parser.error("--repeats and --profiles must be at least 1")
    tuned_malloc = False if args.default_malloc else keep_freed_memory()
    setup = SMALL if args.small else FULL
    batch = args.batch or setup["batch"]
    config = GPTConfig(**setup["config"])

    tt.manual_seed(args.seed)
    model = GPT(config)
    optimizer = optim.AdamW(model.optimizer_groups(WEIGHT_DECAY), lr=LR, betas=BETAS)
    params = model.num_parameters(non_embedding=False)
    rng = np.random.default_rng(args.seed)
    batches = [(tt.tensor(rng.integers(0, config.vocab_size, (batch, config.block_size))),
                tt.tensor(rng.integers(0, config.vocab_size, (batch, config.block_size)))) for _ in range(4)]

    reference = None if args.no_torch else torch_model(model, setup["config"])
    check = None
    if reference is not None:
        import torch

        check = compare_gradients(model, reference, *batches[0])
        if abs(check["loss"] - check["torch_loss"]) > 1e-4 or check["grad_max_rel_diff"] > 1e-3:
            raise AssertionError(f"TinyTorch and PyTorch disagree on the same weights: {check}")
        torch_opt = torch_optimizer(reference)
        torch_batches = [(torch.tensor(x.data), torch.tensor(y.data)) for x, y in batches]

    # Wall time is what a learner waits for; CPU time (process_time) is what the step cost this
    # process, which a busy machine disturbs much less (exact with one thread; with several, BLAS
    # threads that spin while waiting are counted too).
    fusion = compare_fused(model, *batches[0])
    if fusion["grad_max_rel_diff"] > 1e-5 or abs(fusion["loss"] - fusion["unfused_loss"]) > 1e-5:
        raise AssertionError(f"the fused and unfused paths disagree on the same weights: {fusion}")
    ours, theirs, ours_cpu, theirs_cpu, plain, plain_cpu = [], [], [], [], [], []
    first_loss = None
    for i in range(args.repeats + 3):  # 3 warm-up steps each
        x, y = batches[i % len(batches)]
        start, cpu = time.perf_counter(), time.process_time()
        loss = tinytorch_step(model, optimizer, x, y)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        first_loss = loss.item() if first_loss is None else first_loss
        if i >= 3:
            ours.append(elapsed * 1e3)
            ours_cpu.append(cpu * 1e3)
        with use_fused(False):  # the same model on module 16's plain paths: fused vs unfused, alternating
            start, cpu = time.perf_counter(), time.process_time()
            tinytorch_step(model, optimizer, x, y)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if i >= 3:
            plain.append(elapsed * 1e3)
            plain_cpu.append(cpu * 1e3)
        if reference is not None:
            tx, ty = torch_batches[i % len(batches)]
            start, cpu = time.perf_counter(), time.process_time()
            torch_step(reference, torch_opt, tx, ty)
            if i >= 3:
                theirs.append((time.perf_counter() - start) * 1e3)
                theirs_cpu.append((time.process_time() - cpu) * 1e3)
    last_loss = loss.item()
    if not last_loss < first_loss:
        raise AssertionError(f"training on four fixed batches did not lower the loss: {first_loss} -> {last_loss}")
    median_ms, min_ms = statistics.median(ours), min(ours)
    torch_ms = statistics.median(theirs) if theirs else None
    ratio = median_ms / torch_ms if torch_ms else None
    cpu_ms = statistics.median(ours_cpu)
    torch_cpu_ms = statistics.median(theirs_cpu) if theirs_cpu else None
    cpu_ratio = cpu_ms / torch_cpu_ms if torch_cpu_ms else None
    plain_ms, plain_cpu_ms = statistics.median(plain), statistics.median(plain_cpu)

    profiles = [profile_step(model, optimizer, *batches[i % len(batches)]) for i in range(args.profiles)]
    rows = []
    for k, (name, _, _) in enumerate(profiles[0]):
        fwd = statistics.median(p[k][1] for p in profiles) * 1e3
        bwd = statistics.median(p[k][2] for p in profiles) * 1e3
        rows.append({"part": name, "fwd_ms": round(fwd, 3), "bwd_ms": round(bwd, 3)})
    flops = step_flops(config, params, batch)
    machine = machine_info()

    tokens = batch * config.block_size
    print(f"GPT training step: {config.n_layer} layers, {config.n_head} heads, n_embd {config.n_embd}, block_size "
          f"{config.block_size}, vocab {config.vocab_size}, batch {batch} ({tokens} tokens), {params:,} parameters")
    if check is not None:
        print(f"  same weights as PyTorch: loss {check['loss']:.6f} vs {check['torch_loss']:.6f}, gradients agree to "
              f"{check['grad_max_rel_diff']:.1e} (relative to each tensor's largest)")
    print(f"  loss {first_loss:.4f} -> {last_loss:.4f} over {args.repeats + 3} steps on four fixed batches")
    print(f"  fused = unfused: loss {fusion['loss']:.6f} vs {fusion['unfused_loss']:.6f}, gradients agree to "
          f"{fusion['grad_max_rel_diff']:.1e}")
    print(f"  TinyTorch median {median_ms:8.1f} ms   min {min_ms:8.1f} ms   ({args.repeats} steps, "
          f"{tokens / median_ms * 1e3:,.0f} tokens/s; module 16's fused paths, the default)")
    print(f"  unfused   median {plain_ms:8.1f} ms   min {min(plain):8.1f} ms   (use_fused(False), alternating): "
          f"fused is {plain_ms / median_ms:.2f}x faster (CPU time {plain_cpu_ms / cpu_ms:.2f}x; target >= 1.3x)")
    if torch_ms is not None:
        print(f"  PyTorch   median {torch_ms:8.1f} ms   min {min(theirs):8.1f} ms   (same threads, alternating)")
        print(f"  ratio     {ratio:.2f}x PyTorch   (target <= 1.5x); unfused {plain_ms / torch_ms:.2f}x")
        print(f"  CPU time  TinyTorch {cpu_ms:.1f} ms, PyTorch {torch_cpu_ms:.1f} ms per step: {cpu_ratio:.2f}x "
              "(less disturbed by other processes)")
    else:
        print("  PyTorch: not importable (or --no-torch), no ratio")
    print(f"  work      {flops / 1e9:.2f} GFLOP per step (6N per token + attention): "
          f"{flops / (median_ms / 1e3) / 1e9:.1f} GFLOP/s effective")
    print(f"\nper sub-layer (median of {args.profiles} profiled steps; backward via stamps between sub-layers):")
    print(f"  {'part':<32}{'fwd ms':>8}{'bwd ms':>8}")
    for row in rows:
        print(f"  {row['part']:<32}{row['fwd_ms']:>8.2f}{row['bwd_ms']:>8.2f}")
    total_fwd, total_bwd = sum(r["fwd_ms"] for r in rows), sum(r["bwd_ms"] for r in rows)
    print(f"  {'total':<32}{total_fwd:>8.2f}{total_bwd:>8.2f}   = {total_fwd + total_bwd:.1f} ms")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()) + f", keep_freed_memory {tuned_malloc}")

    result = {
        "benchmark": "gpt_step",
        "config": setup["config"],
        "batch": batch,
        "params": params,
        "repeats": args.repeats,
        "tinytorch_ms": round(median_ms, 2),
        "tinytorch_min_ms": round(min_ms, 2),
        "torch_ms": None if torch_ms is None else round(torch_ms, 2),
        "torch_min_ms": None if not theirs else round(min(theirs), 2),
        "ratio": None if ratio is None else round(ratio, 3),
        "tinytorch_cpu_ms": round(cpu_ms, 2),
        "torch_cpu_ms": None if torch_cpu_ms is None else round(torch_cpu_ms, 2),
        "cpu_ratio": None if cpu_ratio is None else round(cpu_ratio, 3),
        "keep_freed_memory": tuned_malloc,
        "unfused_ms": round(plain_ms, 2),
        "unfused_cpu_ms": round(plain_cpu_ms, 2),
        "fused_speedup": round(plain_ms / median_ms, 3),
        "fused_cpu_speedup": round(plain_cpu_ms / cpu_ms, 3),
        "unfused_ratio": None if torch_ms is None else round(plain_ms / torch_ms, 3),
        "fused_check": fusion,
        "tokens_per_s": round(tokens / median_ms * 1e3, 1),
        "gflop_per_step": round(flops / 1e9, 3),
        "loss_first_last": [first_loss, last_loss],
        "torch_check": check,
        "profile": rows,
        "machine": machine,
    }
    if math.isnan(last_loss):
        raise AssertionError("the loss became NaN")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
