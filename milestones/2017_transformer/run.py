"""Milestone 2017 — transformers: a character-level GPT learns Shakespeare, Python and dialogue.

In June 2017 Ashish Vaswani, Noam Shazeer, Niki Parmar, Jakob Uszkoreit, Llion Jones, Aidan Gomez,
Lukasz Kaiser and Illia Polosukhin posted "Attention is all you need" (NeurIPS 2017). Recurrent
networks read a sentence one token at a time, each step waiting for the last; the Transformer
drops recurrence altogether. Every position looks at every earlier position at once through
*attention*, position is added as an embedding, and a stack of identical blocks (attention, then
a small per-position MLP, each with a residual connection and layer normalisation) does the rest.
It trained faster and translated better than anything before it. A year later OpenAI kept only
its decoder, trained it to predict the next token of ordinary text, and called it GPT; every large
language model since is that architecture, grown.

This script trains a small GPT — module 13's `GPT` on module 12's attention, module 11's
embeddings and module 10's tokenizer, with the optimizer, scheduler, clipping and checkpoints of
modules 06-07 — on three kinds of text, all shipped in datasets/:

    python milestones/2017_transformer/run.py                     # tiny-Shakespeare, ~0.8M parameters
    python milestones/2017_transformer/run.py --task tinypy       # Python functions from the stdlib
    python milestones/2017_transformer/run.py --task tinytalks    # "Q: ... A: ..." question answering
    python milestones/2017_transformer/run.py --task tinytalks --chat   # ... then answer your questions

The default recipe is nanoGPT's CPU configuration for character-level Shakespeare (n_layer 4,
n_head 4, n_embd 128, block_size 64, batch 12, no dropout, AdamW lr 1e-3 with 100 warm-up
iterations and cosine decay to 1e-4 over 2,000 iterations, betas (0.9, 0.99), weight decay 0.1 on
matrices, gradient clipping at 1.0), for which nanoGPT reports a validation loss of 1.88.
There is no --device option: everything runs on the CPU, in NumPy.

Options: --iters, --eval-interval, --eval-batches, --eval-questions, --sample-chars, --batch-size,
--lr, --seed, --checkpoint PATH, --no-checkpoint, --load PATH (skip training, use a saved model),
--chat, --quiet, --json.
"""

MILESTONE = {
    "title": "Transformers: a character-level GPT learns Shakespeare, Python and dialogue",
    "year": 2017,
    "requires": ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd", "06_optimizers",
                 "07_training", "08_data", "09_spatial", "10_tokenization", "11_embeddings", "12_attention",
                 "13_transformers"],
    "description": "Vaswani et al.'s attention, as a GPT on your framework: a 0.8M-parameter character model "
                   "learns tiny-Shakespeare to a validation loss near nanoGPT's 1.88 in a few CPU minutes, "
                   "completes Python functions and answers short questions.",
}

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# Running `python milestones/2017_transformer/run.py` from a fresh clone: make the repository's
# `tinytorch` importable even when nothing is pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

import tinytorch as tt
from tinytorch import Tensor, optim
from tinytorch.optim import lr_scheduler
from tinytorch.systems.acceleration import keep_freed_memory
from tinytorch.text.tokenization import (
    CharTokenizer,
    batch_blocks,
    load_shakespeare,
    load_tinypy,
    load_tinytalks,
    render_tinypy,
    render_tinytalks,
    tinytalks_prompt,
)
from tinytorch.text.transformers import GPT, GPTConfig
from tinytorch.training import load_checkpoint, save_checkpoint

BANNER = """\
================================================================================
 2017 - Attention is all you need (Vaswani, Shazeer, Parmar, Uszkoreit, Jones,
        Gomez, Kaiser & Polosukhin, NeurIPS 2017)
================================================================================
 No recurrence: every position attends to every earlier position at once, and
 a stack of identical blocks (attention + MLP, residuals, layer norm) learns
 what comes next. Here your GPT learns to write, one character at a time.
"""

# nanoGPT's CPU recipe (config/train_shakespeare_char.py with the README's CPU overrides).
RECIPE = {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "dropout": 0.0, "bias": False,
          "batch_size": 12, "lr": 1e-3, "min_lr": 1e-4, "warmup_iters": 100, "iters": 2000,
          "betas": (0.9, 0.99), "weight_decay": 0.1, "grad_clip": 1.0, "eval_interval": 250, "eval_batches": 50}
TASKS = {
    "shakespeare": "tiny-Shakespeare (Karpathy's 1,115,394-character collection of Shakespeare's plays)",
    "tinypy": "tinypy (short Python functions from the CPython standard library, PSF licence)",
    "tinytalks": "tinytalks (question-answer turns written by the TinyTorch project)",
}


# ----- data ---------------------------------------------------------------------------------
class TextTask:
    """One task's text as token ids: a tokenizer, training and validation ids, and how to draw batches."""

    def __init__(self, name: str, tokenizer, train_ids: np.ndarray, val_ids: np.ndarray, starts=None,
                 answers=None, extra=None):
        self.name, self.tokenizer = name, tokenizer
        self.train_ids, self.val_ids = train_ids, val_ids
        self.starts = starts  # tinytalks: {"train": offsets of turn starts, "val": ...}; else None
        self.answers = answers  # tinytalks: {"train": True where a character belongs to an answer, ...}
        self.extra = extra or {}

    def batch(self, split: str, block_size: int, batch_size: int, generator):
        """(x, y) int64 (B, T): windows of the split's ids, y shifted by one.

        tinytalks windows start at a turn, and only answer characters are targets: the questions are
        context to read, not text to predict (y is -1, the loss's ignore_index, on them)."""
        ids = self.train_ids if split == "train" else self.val_ids
        if self.starts is None:
            return batch_blocks(ids, block_size, batch_size, generator=generator)
        starts = self.starts[split]
        starts = starts[starts + block_size + 1 <= len(ids)]
        picked = starts[generator.integers(0, len(starts), batch_size)]
        rows = picked[:, None] + np.arange(block_size + 1)
        window = ids[rows]
        targets = np.where(self.answers[split][rows[:, 1:]], window[:, 1:], -1)
        return tt.tensor(window[:, :-1]), tt.tensor(targets)


def encode(tokenizer, text: str) -> np.ndarray:
    return tokenizer.encode_array(text).astype(np.int64, copy=False)


def load_task(name: str, seed: int) -> TextTask:
    if name == "shakespeare":
        text = load_shakespeare()
        tokenizer = CharTokenizer.from_text(text)
        ids = encode(tokenizer, text)
        cut = int(0.9 * len(ids))  # nanoGPT's split: the first 90% trains, the last 10% validates
        return TextTask(name, tokenizer, ids[:cut], ids[cut:], extra={"chars": len(text)})
    if name == "tinypy":
        splits = load_tinypy()
        texts = {split: render_tinypy(functions) for split, functions in splits.items()}
        tokenizer = CharTokenizer.from_text("".join(texts.values()))
        return TextTask(name, tokenizer, encode(tokenizer, texts["train"]), encode(tokenizer, texts["val"]),
                        extra={"functions": {k: len(v) for k, v in splits.items()}, "test": splits["test"]})
    splits = load_tinytalks()
    rng = np.random.default_rng(seed)
    tokenizer = CharTokenizer.from_text("".join(render_tinytalks(pairs) for pairs in splits.values()))
    ids, starts, answers = {}, {}, {}
    for split in ("train", "val"):
        pairs = [splits[split][i] for i in rng.permutation(len(splits[split]))]
        turns = [render_tinytalks([pair]) for pair in pairs]
        lengths = np.array([len(t) for t in turns])
        starts[split] = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        ids[split] = encode(tokenizer, "".join(turns))
        # Per character: False for "Q: question\nA: ", True for "answer\n".
        answers[split] = np.concatenate([np.arange(len(t)) >= len(tinytalks_prompt(q)) for t, (q, _) in
                                         zip(turns, pairs)])
    return TextTask(name, tokenizer, ids["train"], ids["val"], starts=starts, answers=answers,
                    extra={"pairs": {k: len(v) for k, v in splits.items()}, "test": splits["test"],
                           "val": splits["val"]})


# ----- training -----------------------------------------------------------------------------
def fixed_batches(task: TextTask, split: str, count: int, block_size: int, batch_size: int, seed: int) -> list:
    """`count` batches drawn once with their own generator: every evaluation sees the same tokens."""
    rng = np.random.default_rng(seed)
    return [task.batch(split, block_size, batch_size, rng) for _ in range(count)]


def evaluate(model: GPT, batches: list) -> float:
    """Mean cross-entropy over fixed batches, in eval mode without a graph (a few batches at a time)."""
    was_training = model.training
    model.eval()
    losses = []
    with tt.no_grad():
        for i in range(0, len(batches), 4):
            group = batches[i:i + 4]
            x = tt.cat([b[0] for b in group], 0)
            y = tt.cat([b[1] for b in group], 0)
            losses.append(model(x, y)[1].item() * len(group))
    model.train(was_training)
    return sum(losses) / len(batches)


def schedule(optimizer, args):
    """nanoGPT's learning rate: linear warm-up lr·(t+1)/(W+1) for W iterations, then cosine to min_lr."""
    warmup = min(RECIPE["warmup_iters"], max(args.iters - 1, 0))
    if warmup == 0:
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(args.iters, 1), eta_min=RECIPE["min_lr"])
    ramp = lr_scheduler.LinearLR(optimizer, start_factor=1 / (warmup + 1), end_factor=1.0, total_iters=warmup)
    decay = lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.iters - warmup, eta_min=RECIPE["min_lr"])
    return lr_scheduler.SequentialLR(optimizer, [ramp, decay], milestones=[warmup])


class Progress:
    """A one-line progress bar on a terminal (redrawn in place); silent when output goes to a file."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled and sys.stdout.isatty()

    def update(self, done: int, loss: float, rate: float) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / max(self.total, 1))
        print(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}  loss {loss:.3f}  "
              f"{rate:,.0f} tokens/s", end="", flush=True)

    def clear(self) -> None:
        if self.enabled:
            print("\r" + " " * 78 + "\r", end="", flush=True)


def train(model: GPT, task: TextTask, args, say) -> dict:
    """nanoGPT's training loop: AdamW + warm-up/cosine schedule + clipping, evaluations every eval_interval."""
    block, batch = model.config.block_size, args.batch_size
    optimizer = optim.AdamW(model.optimizer_groups(RECIPE["weight_decay"]), lr=args.lr, betas=RECIPE["betas"])
    scheduler = schedule(optimizer, args)
    data_rng = np.random.default_rng(args.seed + 1)
    evals = {split: fixed_batches(task, split, args.eval_batches, block, batch, args.seed + 2 + i)
             for i, split in enumerate(("train", "val"))}
    history = {"iter": [], "train_loss": [], "val_loss": [], "lr": []}
    progress = Progress(args.iters, not args.quiet)
    say(f" {'iter':>5} | {'train loss':>10} | {'val loss':>8} | {'lr':>8} | {'tokens/s':>8} | {'time':>6}")
    say(" ------+------------+----------+----------+----------+-------")
    model.train()
    train_seconds, start = 0.0, time.perf_counter()

    def checkpoint(it: int) -> None:
        train_loss, val_loss = evaluate(model, evals["train"]), evaluate(model, evals["val"])
        for key, value in (("iter", it), ("train_loss", train_loss), ("val_loss", val_loss),
                           ("lr", optimizer.param_groups[0]["lr"])):
            history[key].append(value)
        progress.clear()
        rate = it * batch * block / train_seconds if train_seconds else 0.0
        say(f" {it:5d} | {train_loss:10.4f} | {val_loss:8.4f} | {optimizer.param_groups[0]['lr']:8.2e} | "
            f"{rate:8,.0f} | {time.perf_counter() - start:5.1f}s")

    last_loss = float("nan")
    for it in range(args.iters):
        if it % args.eval_interval == 0:
            checkpoint(it)
        step_start = time.perf_counter()
        x, y = task.batch("train", block, batch, data_rng)
        optimizer.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), RECIPE["grad_clip"])
        optimizer.step()
        scheduler.step()
        train_seconds += time.perf_counter() - step_start
        if it % 10 == 0 or it == args.iters - 1:
            last_loss = loss.item()
            if not math.isfinite(last_loss):
                raise SystemExit(f"2017_transformer: the training loss became {last_loss} at iteration {it}")
            progress.update(it + 1, last_loss, (it + 1) * batch * block / train_seconds)
    checkpoint(args.iters)
    return {"history": history, "train_seconds": train_seconds, "optimizer": optimizer, "scheduler": scheduler,
            "tokens_per_s": args.iters * batch * block / train_seconds if train_seconds else 0.0}


# ----- using the model ----------------------------------------------------------------------
_CACHE = {"usable": True}  # False once module 15's KV cache turned out not to be built yet


def extend(model: GPT, ids: Tensor, steps: int, temperature: float, top_k=None, generator=None) -> Tensor:
    """model.generate with module 15's KV cache, or without it while module 15 is still a stub.

    This milestone needs modules 01-13 only; the cache (module 15) makes each new token cost one
    position instead of the whole context and gives the same tokens, so it is used when it works."""
    if _CACHE["usable"]:
        try:
            return model.generate(ids, steps, temperature=temperature, top_k=top_k, generator=generator)
        except (ImportError, NotImplementedError):
            _CACHE["usable"] = False  # nothing was sampled yet: the first step is what failed
    return model.generate(ids, steps, temperature=temperature, top_k=top_k, generator=generator, use_cache=False)


def complete(model: GPT, tokenizer, prompts: list, max_new_tokens: int, temperature: float, top_k=None,
             stop: str | None = None, generator=None) -> list:
    """Continue each prompt by max_new_tokens tokens, cut before the first `stop` when given.

    Prompts of equal length share one batch and one generate call (one KV cache, filled once from the
    prompt). Answers stop at their newline; generating past it costs a few cached one-token steps (the
    caller bounds max_new_tokens by the longest answer), far less than re-reading the prompt would."""
    results = [None] * len(prompts)
    by_length: dict[int, list] = {}
    for i, prompt in enumerate(prompts):
        by_length.setdefault(len(prompt), []).append(i)
    for length, members in by_length.items():
        ids = tt.tensor(np.stack([encode(tokenizer, prompts[i]) for i in members]))
        out = extend(model, ids, max_new_tokens, temperature, top_k, generator).data
        for row, i in enumerate(members):
            text = tokenizer.decode(out[row, length:].tolist())
            results[i] = text.split(stop)[0] if stop else text
    return results


def answer_accuracy(model: GPT, tokenizer, pairs: list, known: set) -> tuple[float, list]:
    """Exact-match accuracy of greedy answers to the questions of `pairs`, and the (q, expected, got) rows."""
    usable = [(q, a) for q, a in pairs if set(tinytalks_prompt(q)) <= known]
    longest = max(len(a) for _, a in pairs) + 1
    answers = complete(model, tokenizer, [tinytalks_prompt(q) for q, _ in usable], longest, temperature=0, stop="\n")
    rows = [(q, a, got.strip()) for (q, a), got in zip(usable, answers)]
    return sum(a == got for _, a, got in rows) / len(pairs), rows


def chat(model: GPT, tokenizer, known: set, say) -> None:
    """Answer questions typed on stdin, one per line, until end of input."""
    interactive = sys.stdin.isatty()
    say("\nAsk a question (one line; Ctrl-D ends). The model knows only these characters: "
        + "".join(sorted(known - {"\n"})))
    while True:
        if interactive:
            print("you> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        unknown = sorted(set(question) - known)
        if unknown:
            print(f"A: (I cannot read {''.join(unknown)!r}: those characters never appeared in my training text)")
            continue
        context = tinytalks_prompt(question)[-model.config.block_size:]
        reply = complete(model, tokenizer, [context], 40, temperature=0, stop="\n")[0]
        print(f"A: {reply.strip()}")


def default_checkpoint(task: str) -> Path:
    root = Path(os.environ.get("TINYTORCH_DATA") or Path.home() / ".cache" / "tinytorch")
    return root / "checkpoints" / f"2017_transformer_{task}.npz"


# ----- main ---------------------------------------------------------------------------------
def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=MILESTONE["title"] + " (2017)")
    parser.add_argument("--task", choices=list(TASKS), default="shakespeare", help="which text to learn")
    parser.add_argument("--iters", type=int, default=RECIPE["iters"], help="training iterations (default 2000; "
                        "the cosine schedule decays over exactly these)")
    parser.add_argument("--eval-interval", type=int, default=RECIPE["eval_interval"],
                        help="evaluate train/val loss every N iterations (default 250)")
    parser.add_argument("--eval-batches", type=int, default=RECIPE["eval_batches"],
                        help="fixed batches per loss estimate (default 50)")
    parser.add_argument("--batch-size", type=int, default=RECIPE["batch_size"], help="sequences per step (12)")
    parser.add_argument("--lr", type=float, default=RECIPE["lr"], help="peak learning rate (1e-3)")
    parser.add_argument("--seed", type=int, default=2017, help="random seed (default 2017)")
    parser.add_argument("--sample-chars", type=int, default=500, metavar="N",
                        help="shakespeare: characters of the sample printed at the end (default 500)")
    parser.add_argument("--eval-questions", type=int, metavar="N",
                        help="tinytalks: answer only the first N held-out questions of each split (default: all)")
    parser.add_argument("--checkpoint", type=Path, help="where to save the trained model (default "
                        "$TINYTORCH_DATA/checkpoints/2017_transformer_TASK.npz, ~/.cache/tinytorch without it)")
    parser.add_argument("--no-checkpoint", action="store_true", help="do not save a checkpoint")
    parser.add_argument("--load", type=Path, metavar="PATH", help="no training: load a checkpoint this script saved")
    parser.add_argument("--chat", action="store_true", help="tinytalks: afterwards, answer questions from stdin")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    parser.add_argument("--quiet", action="store_true", help="only the summary (and the JSON)")
    args = parser.parse_args(argv)
    if args.sample_chars < 1:
        parser.error("--sample-chars must be at least 1")
    if args.eval_questions is not None and args.eval_questions < 1:
        parser.error("--eval-questions must be at least 1")
    if args.iters < 1 or args.eval_interval < 1 or args.eval_batches < 1 or args.batch_size < 1:
        parser.error("--iters, --eval-interval, --eval-batches and --batch-size must be at least 1")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if args.chat and args.task != "tinytalks":
        parser.error("--chat needs --task tinytalks (the only task trained on questions and answers)")
    return args


def build(task: TextTask) -> GPT:
    keys = ("n_layer", "n_head", "n_embd", "block_size", "dropout", "bias")
    return GPT(GPTConfig(vocab_size=task.tokenizer.vocab_size, **{k: RECIPE[k] for k in keys}))


def main(argv=None) -> dict:
    args = parse_args(argv)
    say = (lambda *a, **k: None) if args.quiet else print
    keep_freed_memory()  # NumPy's large temporaries reuse warm memory (module 16)
    start = time.perf_counter()
    say(BANNER)
    tt.manual_seed(args.seed)  # initial weights and sampling
    task = load_task(args.task, args.seed)
    model = build(task)
    config = model.config
    params = model.num_parameters(non_embedding=False)
    say(f"data:  {TASKS[args.task]}: {len(task.train_ids):,} training and {len(task.val_ids):,} validation "
        f"characters, vocabulary of {task.tokenizer.vocab_size}")
    say(f"model: GPT, {config.n_layer} layers, {config.n_head} heads, n_embd {config.n_embd}, block_size "
        f"{config.block_size}, no dropout, no biases, head tied to the token table: {params:,} parameters")

    result = {"milestone": "2017_transformer", "task": args.task, "params": params, "seed": args.seed,
              "vocab_size": task.tokenizer.vocab_size}
    evals_for_load = None
    if args.load is not None:
        try:
            load_checkpoint(args.load, model)
        except (OSError, ValueError) as error:
            raise SystemExit(f"2017_transformer: cannot load {args.load}: {error}") from None
        evals_for_load = fixed_batches(task, "val", args.eval_batches, config.block_size, args.batch_size,
                                       args.seed + 3)
        val_loss = evaluate(model, evals_for_load)
        say(f"loaded {args.load}: validation loss {val_loss:.4f}")
        result.update({"iters": 0, "val_loss": round(val_loss, 4), "loaded": str(args.load)})
    else:
        say(f"train: AdamW (betas {RECIPE['betas']}, weight decay {RECIPE['weight_decay']} on matrices), lr "
            f"{args.lr} with {RECIPE['warmup_iters']} warm-up iterations and cosine decay to {RECIPE['min_lr']}, "
            f"gradient clipping at {RECIPE['grad_clip']}, batch {args.batch_size}, {args.iters} iterations\n")
        run = train(model, task, args, say)
        history = run["history"]
        result.update({"iters": args.iters, "train_loss": round(history["train_loss"][-1], 4),
                       "val_loss": round(history["val_loss"][-1], 4), "train_time_s": round(run["train_seconds"], 2),
                       "tokens_per_s": round(run["tokens_per_s"], 1), "batch_size": args.batch_size,
                       "eval_batches": args.eval_batches})
        if not args.no_checkpoint:
            path = args.checkpoint or default_checkpoint(args.task)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_checkpoint(path, model, run["optimizer"], run["scheduler"], epoch=args.iters,
                            extra={"task": args.task, "config": {k: getattr(config, k) for k in
                                                                 ("n_layer", "n_head", "n_embd", "block_size",
                                                                  "vocab_size", "dropout", "bias")}})
            say(f"\ncheckpoint: {path}")
            result["checkpoint"] = str(path)

    known = set(task.tokenizer.decode(list(range(task.tokenizer.vocab_size))))
    sample_rng = np.random.default_rng(args.seed + 4)
    if args.task == "shakespeare":
        sample = complete(model, task.tokenizer, ["\n"], args.sample_chars, temperature=0.8, top_k=40,
                          generator=sample_rng)[0]
        say(f"\nA sample ({args.sample_chars} characters, temperature 0.8, top-k 40), after a newline:\n" + "-" * 80)
        say(sample)
        say("-" * 80)
        result["sample"] = sample[:200]
    elif args.task == "tinypy":
        headers = [f.split("\n", 1)[0] + "\n" for f in task.extra["test"][:4]]
        headers = [h[-config.block_size:] for h in headers if set(h) <= known]
        completions = complete(model, task.tokenizer, headers, 160, temperature=0.6, top_k=20,
                               stop="\n\n", generator=sample_rng)
        say("\nHeld-out function headers and the model's completions (temperature 0.6, top-k 20):")
        for header, body in zip(headers, completions):
            say("-" * 80 + "\n" + header + body)
        say("-" * 80)
        result["completions"] = [h + b for h, b in zip(headers, completions)]
    else:
        test_pairs, val_pairs = (task.extra[split][:args.eval_questions] for split in ("test", "val"))
        accuracy, rows = answer_accuracy(model, task.tokenizer, test_pairs, known)
        val_accuracy, _ = answer_accuracy(model, task.tokenizer, val_pairs, known)
        say(f"\nHeld-out questions (test split, {len(rows)} of them), greedy answers:")
        for q, a, got in rows[:12]:
            say(f"  {'ok ' if a == got else 'NO '} Q: {q:<44} A: {got!r:<16} (expected {a!r})")
        result.update({"test_accuracy": round(accuracy, 4), "val_accuracy": round(val_accuracy, 4),
                       "test_questions": len(test_pairs), "val_questions": len(val_pairs)})
        print(f"held-out exact match: {accuracy:.1%} of {len(test_pairs)} test questions "
              f"({val_accuracy:.1%} of {len(val_pairs)} validation questions)")
        if args.chat:
            chat(model, task.tokenizer, known, say)

    wall = time.perf_counter() - start
    result["wall_time_s"] = round(wall, 2)
    if "train_loss" in result:
        print(f"task:           {args.task}, {args.iters} iterations of batch {args.batch_size} x {config.block_size}")
        print(f"loss:           train {result['train_loss']:.4f}, validation {result['val_loss']:.4f} "
              f"(on {args.eval_batches} fixed batches each)")
        print(f"time:           training {result['train_time_s']:.1f} s ({result['tokens_per_s']:,.0f} tokens/s), "
              f"wall {wall:.1f} s (seed {args.seed})")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
