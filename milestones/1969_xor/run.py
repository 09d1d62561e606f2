"""Milestone 1969 — XOR: what one layer cannot learn, and what one hidden layer fixes.

In 1969 Marvin Minsky and Seymour Papert published *Perceptrons*, a careful mathematical study of
what single-layer perceptrons can and cannot compute. Among its results: a unit that draws one
straight line through its input space cannot compute parity, and the smallest case of parity is
XOR (output 1 when exactly one input is 1). The argument fits in two lines. A linear unit
`w1*x1 + w2*x2 + b > 0` that gets XOR right would need

    (0,1) and (1,0) on: w2 + b > 0 and w1 + b > 0   =>  w1 + w2 + 2b > 0
    (0,0) and (1,1) off:     b <= 0 and w1 + w2 + b <= 0  =>  w1 + w2 + 2b <= 0

which contradicts itself, so at most 3 of the 4 cases can be right: 75%. Perceptrons is often
blamed for the lull in neural-network research that followed. The way out was already known in
principle — put a hidden layer in between — but nobody had a practical way to train one until
backpropagation was popularised in 1986 (Rumelhart, Hinton and Williams, whose paper used XOR
as a first example).

This script replays both halves with your framework: the same loss, the same hand-written SGD
update and the same number of epochs, first for a single `nn.Linear(2, 1)` and then for
`nn.Linear(2, H) -> Tanh -> nn.Linear(H, 1)`. The only difference is the hidden layer, and the
only thing that trains it is your `loss.backward()`.

    python milestones/1969_xor/run.py [--seed S] [--epochs N] [--hidden H] [--json]
"""

MILESTONE = {
    "title": "XOR and the multi-layer perceptron",
    "year": 1969,
    "requires": ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd"],
    "description": "A single layer stalls at 75% on XOR (Minsky & Papert); a two-layer MLP "
                   "trained with your autograd gets all four cases right.",
}

import argparse
import json
import math
import sys
import time
from pathlib import Path

# Running `python milestones/1969_xor/run.py` from a fresh clone: make the repository's
# `tinytorch` importable even when it is not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import functional as F

BANNER = """\
================================================================================
 1969 - XOR (Minsky & Papert, "Perceptrons")
================================================================================
 One layer draws one line, and no line puts (0,1),(1,0) on one side and
 (0,0),(1,1) on the other: a single layer tops out at 3 of 4. Add a hidden
 layer, train it with backpropagation (your module 05), and XOR falls.
"""

# The whole data set: the four rows of the truth table.
INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
TARGETS = [[0.0], [1.0], [1.0], [0.0]]


def single_layer() -> nn.Module:
    """One linear unit: logit = w1*x1 + w2*x2 + b."""
    return nn.Linear(2, 1)


def mlp(hidden: int, activation: str) -> nn.Module:
    """Two layers: (4, 2) -> Linear -> (4, H) -> tanh/relu -> Linear -> (4, 1) logits."""
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    return nn.Sequential(nn.Linear(2, hidden), act(), nn.Linear(hidden, 1))


def accuracy(logits: tt.Tensor, y: tt.Tensor) -> float:
    """Fraction of rows where (logit > 0), i.e. P(y=1) > 0.5, matches the target."""
    return ((logits > 0).float() == y).float().sum().item() / y.shape[0]


def train(model: nn.Module, X: tt.Tensor, y: tt.Tensor, epochs: int, lr: float,
          log_every: int, say) -> dict:
    """Full-batch gradient descent on BCEWithLogitsLoss, with the update written out by hand.

    Returns the final loss and accuracy, the best accuracy seen, and the first epoch at which
    every row was right (None if never).
    """
    loss_fn = nn.BCEWithLogitsLoss()
    best_acc, solved_at = 0.0, None
    for epoch in range(1, epochs + 1):
        logits = model(X)              # forward: builds the graph
        loss = loss_fn(logits, y)
        loss.backward()                # your autograd fills p.grad for every parameter

        # Plain SGD, by hand (module 06 turns this into optimizer.step()). We update p.data, the
        # raw array, so the update itself is not recorded in the graph; then clear the gradient,
        # because backward() *adds* into p.grad.
        for p in model.parameters():
            p.data -= lr * p.grad.data
            p.grad = None

        acc = accuracy(logits, y)      # of this epoch's forward pass, before the update
        best_acc = max(best_acc, acc)
        if acc == 1.0 and solved_at is None:
            solved_at = epoch
        if epoch % log_every == 0 or epoch == 1:
            say(f"  epoch {epoch:5d}   loss {loss.item():.4f}   accuracy {acc:5.0%}")

    with tt.no_grad():                 # evaluation only: no graph needed
        logits = model(X)
        final_loss = loss_fn(logits, y).item()
    return {"loss": final_loss, "accuracy": accuracy(logits, y), "best_accuracy": best_acc,
            "solved_at": solved_at, "logits": logits, "model": model}


def truth_table(X: tt.Tensor, y: tt.Tensor, logits: tt.Tensor) -> str:
    """The four rows with the model's probability and its answer (logit > 0, as in accuracy())."""
    probs = F.sigmoid(logits)
    lines = ["   x1  x2 | XOR | P(y=1)  predicted", "  --------+-----+------------------"]
    for (x1, x2), (target,), (p,), (z,) in zip(X.tolist(), y.tolist(), probs.tolist(),
                                               logits.tolist()):
        guess = int(z > 0)  # not p > 0.5: float32 sigmoid rounds logits within ~1e-7 to 0.5
        mark = "ok" if guess == target else "WRONG"
        lines.append(f"   {x1:2.0f}  {x2:2.0f} |  {target:.0f}  | {p:6.3f}  {guess}  {mark}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=MILESTONE["title"] + " (1969)")
    parser.add_argument("--seed", type=int, default=1969, help="random seed (default 1969)")
    parser.add_argument("--epochs", type=int, default=1000, help="epochs for each model")
    parser.add_argument("--hidden", type=int, default=8, help="hidden units H of the MLP")
    parser.add_argument("--activation", choices=["tanh", "relu"], default="tanh")
    parser.add_argument("--lr", type=float, default=0.5, help="SGD learning rate")
    parser.add_argument("--log-every", type=int, default=0, help="print progress every N epochs "
                        "(default: 10 lines per run)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    parser.add_argument("--quiet", action="store_true", help="only the summary (and the JSON)")
    args = parser.parse_args(argv)
    say = (lambda *a, **k: None) if args.quiet else print
    log_every = args.log_every or max(1, args.epochs // 10)

    start = time.perf_counter()
    say(BANNER)
    X = tt.tensor(INPUTS)
    y = tt.tensor(TARGETS)

    say(f"1) a single layer, nn.Linear(2, 1), {args.epochs} epochs of SGD (lr {args.lr}):")
    tt.manual_seed(args.seed)
    single = train(single_layer(), X, y, args.epochs, args.lr, log_every, say)
    say(truth_table(X, y, single["logits"]))
    line = single["model"]
    (w1, w2), b = line.weight.data.reshape(-1).tolist(), line.bias.data.item()
    say(f"  learned line: {w1:+.1e}*x1 {w2:+.1e}*x2 {b:+.1e}   "
        f"(best accuracy at any epoch: {single['best_accuracy']:.0%})")
    say(f"  The loss went to ln 2 = {math.log(2):.4f}, the loss of answering 0.5 everywhere. Under "
        "this loss\n  the best a single line can do on XOR is shrink to nothing; which side of "
        "0.5 its\n  answers land on is rounding noise.\n")

    say(f"2) an MLP, Linear(2, {args.hidden}) -> {args.activation} -> Linear({args.hidden}, 1), "
        "same loss, lr and epochs:")
    tt.manual_seed(args.seed)
    net = train(mlp(args.hidden, args.activation), X, y, args.epochs, args.lr, log_every, say)
    say(truth_table(X, y, net["logits"]) + "\n")
    wall = time.perf_counter() - start

    print(f"single layer: accuracy {single['accuracy']:.0%} (best {single['best_accuracy']:.0%}), "
          f"loss {single['loss']:.4f}")
    solved = (f"first 100% at epoch {net['solved_at']}" if net["solved_at"] is not None
              else "never reached 100%")
    print(f"MLP:          accuracy {net['accuracy']:.0%}, loss {net['loss']:.4f}, {solved}")
    print(f"wall time:    {wall:.3f} s for both models, {args.epochs} epochs each "
          f"(seed {args.seed})")

    result = {
        "milestone": "1969_xor",
        "single_layer_accuracy": single["accuracy"],
        "single_layer_best_accuracy": single["best_accuracy"],
        "single_layer_loss": round(single["loss"], 6),
        "mlp_accuracy": net["accuracy"],
        "mlp_loss": round(net["loss"], 6),
        "mlp_solved_at_epoch": net["solved_at"],
        "epochs": args.epochs,
        "hidden": args.hidden,
        "activation": args.activation,
        "lr": args.lr,
        "wall_time_s": round(wall, 4),
        "seed": args.seed,
    }
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
