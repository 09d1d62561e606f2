"""Milestone 1957 — Rosenblatt's perceptron, on your own Tensor.

In 1957 Frank Rosenblatt, at the Cornell Aeronautical Laboratory, described the perceptron: a
machine that weighs its inputs, adds them up, and fires if the sum clears a threshold. What made it
famous was not the neuron but the *learning rule*: whenever the machine answers wrongly, nudge each
weight towards the right answer. Built in hardware as the Mark I Perceptron (a 20x20 grid of
photocells, with weights held in motor-driven potentiometers), it learned to tell simple shapes
apart. In 1962 Albert Novikoff proved the rule always stops: if a line separates the two classes
with a margin gamma, and every input lies within radius R, the perceptron makes at most (R/gamma)^2
mistakes — however you order the examples.

This script replays that result on two Gaussian blobs that a line can separate, using only
module 01 (your `Tensor`) for the data and the forward pass. Note what is *missing*: there is no
loss, no gradient and no backward pass. The perceptron rule

    y_hat = step(w . x + b)            step(z) = 1 if z >= 0 else 0
    w <- w + lr * (y - y_hat) * x      b <- b + lr * (y - y_hat)

looks like gradient descent, but it is not: step() has no useful gradient, and the rule only
moves the weights on the points it gets wrong. Gradient descent arrives in the next milestones.

    python milestones/1957_perceptron/run.py [--seed S] [--epochs N] [--plot out.png] [--json]
"""

MILESTONE = {
    "title": "Rosenblatt's perceptron",
    "year": 1957,
    "requires": ["01_tensor"],
    "description": "The perceptron learning rule separates two point clouds with a line, "
                   "and the script draws the line it found.",
}

import argparse
import json
import math
import sys
import time
from pathlib import Path

# Running `python milestones/1957_perceptron/run.py` from a fresh clone: make the repository's
# `tinytorch` importable even when it is not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tinytorch.core.tensor import Tensor, cat, manual_seed, ones, randn, tensor, zeros

BANNER = """\
================================================================================
 1957 - THE PERCEPTRON (Frank Rosenblatt, Cornell Aeronautical Laboratory)
================================================================================
 A weighted sum, a threshold, and a rule that fixes the weights after every
 mistake. Novikoff (1962): on data a line separates with margin gamma, the rule
 makes at most (R/gamma)^2 mistakes. Your Tensor from module 01 does the maths.
"""


# ----- data -----------------------------------------------------------------------------------
def make_blobs(n_per_class: int, margin: float, rng) -> tuple[Tensor, Tensor, dict]:
    """Two Gaussian blobs on either side of a random line, with no point closer than `margin`.

    Returns X (2n, 2) float32, y (2n,) float32 in {0, 1}, and the true line {"w", "b"}, which
    has unit-length w, so `w . x + b` is a point's signed distance to it.
    """
    angle = rng.uniform(0.0, 2.0 * math.pi)
    w_true = tensor([[math.cos(angle)], [math.sin(angle)]])  # (2, 1), unit length
    center = tensor([rng.uniform(-3.0, 3.0), rng.uniform(-3.0, 3.0)])
    b_true = -(center.reshape(1, 2) @ w_true).reshape(())  # the line passes through `center`

    features, labels = [], []
    for label, side in ((1.0, 1.0), (0.0, -1.0)):
        # The blob's centre sits 1 unit from the line on its own side; points that stray within
        # `margin` of the line (or across it) are thrown away: separable by construction.
        mean = center + side * w_true.reshape(2)
        kept = zeros(0, 2)
        while kept.shape[0] < n_per_class:
            points = randn(4 * n_per_class, 2) + mean
            distance = (points @ w_true).reshape(-1) + b_true
            kept = cat([kept, points[(side * distance) >= margin]])
        features.append(kept[:n_per_class])
        labels.append(ones(n_per_class) * label)
    return cat(features), cat(labels), {"w": w_true.reshape(2), "b": b_true}


def shuffled(X: Tensor, y: Tensor, rng) -> tuple[Tensor, Tensor]:
    order = tensor(rng.permutation(X.shape[0]))
    return X[order], y[order]


# ----- the perceptron ----------------------------------------------------------------------------
def step(z: Tensor) -> Tensor:
    """Heaviside step: 1.0 where z >= 0, else 0.0 (the perceptron 'fires')."""
    return (z >= 0).float()


def predict(X: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """X (N, 2) -> predictions (N,) in {0, 1}."""
    return step(X @ w + b)


def accuracy(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> float:
    """Fraction classified correctly: a count over N, so results read 0.999, not float32 noise."""
    return (predict(X, w, b) == y).float().sum().item() / X.shape[0]


def train_perceptron(X: Tensor, y: Tensor, max_epochs: int, rng, lr: float = 1.0, say=print):
    """Rosenblatt's rule, one example at a time, until an epoch ends at 100% training accuracy.

    Returns (w, b, epochs, updates). Starting from zero weights, lr only rescales w and b, so the
    line found is the same for every lr > 0 — the rule cares about direction, not step size.
    """
    w, b = zeros(2), zeros(())
    updates = 0
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x_i, y_i in zip(*shuffled(X, y, rng)):
            error = y_i - step(x_i @ w + b)  # +1: should have fired, -1: should not have, 0: right
            if error.item() != 0:
                w = w + lr * error * x_i
                b = b + lr * error
                mistakes += 1
        updates += mistakes
        train_acc = accuracy(X, y, w, b)
        say(f"  epoch {epoch:3d}   mistakes {mistakes:3d}   train accuracy {train_acc:6.1%}")
        if train_acc == 1.0:
            return w, b, epoch, updates
    return w, b, max_epochs, updates


def novikoff_bound(X: Tensor, y: Tensor, line: dict) -> float:
    """(R / gamma)^2 for the bias-augmented inputs (x, 1), using the line that made the data.

    Any separating line gives a valid bound; the generating one is the line we know.
    """
    augmented = cat([X, ones(X.shape[0], 1)], dim=1)
    radius = (augmented * augmented).sum(dim=1).sqrt().max().item()
    w_aug = cat([line["w"], line["b"].reshape(1)])
    signs = y * 2 - 1  # {0, 1} -> {-1, +1}
    gamma = (signs * (augmented @ w_aug)).min().item() / (w_aug * w_aug).sum().sqrt().item()
    return (radius / gamma) ** 2


# ----- showing the boundary ----------------------------------------------------------------------
def describe_line(w: Tensor, b: Tensor) -> str:
    w1, w2, b0 = w[0].item(), w[1].item(), b.item()
    text = f"{w1:+.3f}*x {w2:+.3f}*y {b0:+.3f} = 0"
    if abs(w2) > 1e-12:
        text += f"    (y = {-w1 / w2:.3f}*x {-b0 / w2:+.3f})"
    return text


def ascii_plot(X: Tensor, y: Tensor, w: Tensor, b: Tensor, width=60, height=20) -> str:
    """A width x height character picture: '.' where the perceptron says 1, ' ' where it says 0,
    'x' for class-1 training points and 'o' for class-0 ones."""
    lo, hi = X.min(dim=0).values.tolist(), X.max(dim=0).values.tolist()
    pad = [0.05 * (hi[k] - lo[k]) for k in range(2)]
    x_min, x_max, y_min, y_max = lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]

    # Classify the centre of every cell in one batched forward pass (a (height*width, 2) matmul).
    cols = [x_min + (c + 0.5) * (x_max - x_min) / width for c in range(width)]
    rows = [y_max - (r + 0.5) * (y_max - y_min) / height for r in range(height)]
    grid = tensor([[cx, cy] for cy in rows for cx in cols])
    regions = predict(grid, w, b).reshape(height, width).tolist()
    canvas = [["." if regions[r][c] == 1 else " " for c in range(width)] for r in range(height)]

    for (px, py), label in zip(X.tolist(), y.tolist()):
        c = min(width - 1, int((px - x_min) / (x_max - x_min) * width))
        r = min(height - 1, int((y_max - py) / (y_max - y_min) * height))
        canvas[r][c] = "x" if label == 1 else "o"

    lines = [f"{y_max:7.2f} +" + "-" * width + "+"]
    lines += ["        |" + "".join(row) + "|" for row in canvas]
    lines.append(f"{y_min:7.2f} +" + "-" * width + "+")
    lines.append(f"         {x_min:<.2f}".ljust(width + 3) + f"{x_max:.2f}")
    lines.append("         x = class 1, o = class 0; '.' = predicted 1, blank = predicted 0")
    return "\n".join(lines)


def save_plot(path: str, X_train, y_train, X_test, y_test, w, b) -> str:
    """Save a PNG with matplotlib; returns a message saying what happened."""
    try:
        import matplotlib
    except ImportError:
        return (f"--plot: matplotlib is not installed, so {path} was not written "
                "(pip install matplotlib, or pip install -e '.[plot]')")
    matplotlib.use("Agg")  # draw to a file, no window needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for X, y, marker, alpha, name in ((X_test, y_test, ".", 0.3, "test"),
                                      (X_train, y_train, "o", 0.9, "train")):
        pts, labels = X.tolist(), y.tolist()
        for cls, color in ((0.0, "tab:blue"), (1.0, "tab:orange")):
            sel = [p for p, t in zip(pts, labels) if t == cls]
            ax.scatter([p[0] for p in sel], [p[1] for p in sel], marker=marker, c=color,
                       alpha=alpha, label=f"{name}, class {int(cls)}")
    x_lo, x_hi = ax.get_xlim()
    y_lo, y_hi = ax.get_ylim()
    w1, w2, b0 = w[0].item(), w[1].item(), b.item()
    if abs(w2) > 1e-12:
        ends = [-(w1 * x_lo + b0) / w2, -(w1 * x_hi + b0) / w2]
        ax.plot([x_lo, x_hi], ends, "k-", label="boundary")
    else:
        ax.axvline(-b0 / w1, color="k", label="boundary")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_title(f"Perceptron boundary: {w1:.2f}x {w2:+.2f}y {b0:+.2f} = 0")
    ax.legend(loc="best", fontsize="small")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return f"saved the plot to {path}"


# ----- main --------------------------------------------------------------------------------------
def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=MILESTONE["title"] + " (1957)")
    parser.add_argument("--seed", type=int, default=1957, help="random seed (default 1957)")
    parser.add_argument("--epochs", type=int, default=100, help="give up after this many epochs")
    parser.add_argument("--n-train", type=int, default=100, help="training points (half per class)")
    parser.add_argument("--n-test", type=int, default=1000, help="held-out test points")
    parser.add_argument("--margin", type=float, default=0.3, help="empty band around the true line")
    parser.add_argument("--plot", metavar="PATH", help="also save a PNG (needs matplotlib)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    parser.add_argument("--quiet", action="store_true", help="only the summary (and the JSON)")
    args = parser.parse_args(argv)
    say = (lambda *a, **k: None) if args.quiet else print

    start = time.perf_counter()
    rng = manual_seed(args.seed)  # tinytorch's generator: data, shuffling, everything
    say(BANNER)
    X_all, y_all, line = make_blobs((args.n_train + args.n_test) // 2, args.margin, rng)
    X_all, y_all = shuffled(X_all, y_all, rng)
    X_train, y_train = X_all[:args.n_train], y_all[:args.n_train]
    X_test, y_test = X_all[args.n_train:], y_all[args.n_train:]
    say(f"data: {X_train.shape[0]} training and {X_test.shape[0]} test points, two blobs, "
        f"margin {args.margin} (seed {args.seed})\n")

    say("training with the perceptron rule (no gradients involved):")
    w, b, epochs, updates = train_perceptron(X_train, y_train, args.epochs, rng, say=say)
    train_acc, test_acc = accuracy(X_train, y_train, w, b), accuracy(X_test, y_test, w, b)
    bound = novikoff_bound(X_train, y_train, line)
    wall = time.perf_counter() - start

    say("\n" + ascii_plot(X_train, y_train, w, b) + "\n")
    if train_acc == 1.0:
        print(f"converged after {epochs} epoch(s), {updates} weight updates "
              f"(Novikoff's bound for this data: {bound:.0f})")
    else:
        print(f"did NOT converge within {epochs} epochs ({updates} updates)")
    print(f"learned line:   {describe_line(w, b)}")
    print(f"train accuracy: {train_acc:.1%}   test accuracy: {test_acc:.1%}   "
          f"wall time: {wall:.3f} s")
    if args.plot:
        print(save_plot(args.plot, X_train, y_train, X_test, y_test, w, b),
              file=sys.stderr if args.json else sys.stdout)

    result = {
        "milestone": "1957_perceptron",
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "epochs": epochs,
        "updates": updates,
        "novikoff_bound": round(bound, 1),
        "weights": [round(v, 6) for v in w.tolist()],
        "bias": round(b.item(), 6),
        "n_train": X_train.shape[0],
        "n_test": X_test.shape[0],
        "wall_time_s": round(wall, 4),
        "seed": args.seed,
    }
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
