"""Milestone 1986 — backpropagation: a multi-layer perceptron learns to read handwritten digits.

On 9 October 1986 Nature published "Learning representations by back-propagating errors" by
David Rumelhart, Geoffrey Hinton and Ronald Williams (Nature 323, 533-536). It answered the
question Minsky and Papert had left open in 1969: a network with hidden layers can compute far
more than a single layer, but how do you train the hidden units, whose right answers nobody
knows? Their answer: run the network forward, measure the error at the output, and send it
backwards through every layer with the chain rule, so each weight learns how much it
contributed. Reverse-mode differentiation itself was older (Linnainmaa 1970; Werbos proposed it
for neural networks in 1974), but the 1986 paper, and the PDP books around it, showed that it
makes hidden units learn useful features, and made it the way neural networks are trained.

Within three years LeCun and colleagues at Bell Labs were reading handwritten ZIP codes with
backpropagation, and in 1998 MNIST (60,000 training and 10,000 test digits from NIST) became
the benchmark. The MLPs of that time: 4.7% test error for one hidden layer of 300 units, 2.95%
for two hidden layers of 500 and 150 (LeCun, Bottou, Bengio & Haffner 1998).

This script trains an MLP on digits with your framework: your Tensor (01), activations (02),
layers (03), loss (04), autograd (05), optimizer (06), Trainer (07) and data pipeline (08).

    python milestones/1986_mlp/run.py                      # 8x8 digits, offline, seconds
    python milestones/1986_mlp/run.py --dataset tinymnist  # 1,000 MNIST digits, offline
    python milestones/1986_mlp/run.py --dataset mnist      # all of MNIST (downloads it once)

Options: --epochs, --batch-size, --lr, --hidden 512,256, --dropout, --shift, --seed, --quiet,
--json, --no-download. Each dataset has its own default recipe (RECIPES below).
"""

MILESTONE = {
    "title": "Backpropagation: an MLP reads handwritten digits",
    "year": 1986,
    "requires": ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd",
                 "06_optimizers", "07_training", "08_data"],
    "description": "Rumelhart, Hinton & Williams' backpropagation, on your framework: a multi-layer "
                   "perceptron learns handwritten digits, the 8x8 ones in seconds and all of MNIST "
                   "to 98%+ test accuracy in minutes.",
}

import argparse
import json
import sys
import time
from pathlib import Path

# Running `python milestones/1986_mlp/run.py` from a fresh clone: make the repository's
# `tinytorch` (and the milestones' shared helpers) importable even when nothing is pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _shared import EpochTable, Transformed, confusion_table, pixel_stats, side_by_side, top_confusions

import tinytorch as tt
from tinytorch import nn, optim
from tinytorch.data import (
    MNIST,
    Compose,
    DataError,
    DataLoader,
    Normalize,
    RandomCrop,
    TinyDigits,
    TinyMNIST,
    ToTensor,
    random_split,
)
from tinytorch.nn import functional as F
from tinytorch.optim import lr_scheduler
from tinytorch.training import Trainer, confusion_matrix, precision_recall_f1

BANNER = """\
================================================================================
 1986 - Backpropagation (Rumelhart, Hinton & Williams, Nature 323)
================================================================================
 A hidden layer can compute what one layer cannot (1969); what was missing was
 a way to train it. Backpropagation sends the output error back through the
 network with the chain rule, so every weight learns its share of the blame.
 Here your autograd does exactly that, and an MLP learns to read digits.
"""

# The default recipe of each dataset; all but weight_decay and val_size can be changed on the
# command line (--hidden 512,256, --epochs, --batch-size, --lr, --dropout, --shift).
#   hidden: widths of the hidden layers; shift: random translation by up to this many pixels
#   (data augmentation, training images only); val_size: training images held out to watch
#   for overfitting. The optimizer is AdamW with a one-cycle learning-rate schedule (lr = peak).
RECIPES = {
    "tinydigits": {"hidden": (128, 64), "epochs": 30, "batch_size": 32, "lr": 3e-3,
                   "weight_decay": 0.05, "dropout": 0.1, "shift": 0, "val_size": 144},
    "tinymnist": {"hidden": (512, 256), "epochs": 30, "batch_size": 32, "lr": 2e-3,
                  "weight_decay": 0.05, "dropout": 0.2, "shift": 2, "val_size": 100},
    "mnist": {"hidden": (512, 256), "epochs": 15, "batch_size": 128, "lr": 3e-3,
              "weight_decay": 0.05, "dropout": 0.1, "shift": 2, "val_size": 5000},
}
DESCRIPTIONS = {
    "tinydigits": "TinyDigits (scikit-learn's 8x8 digits, shipped)",
    "tinymnist": "TinyMNIST (1,200 MNIST digits, shipped)",
    "mnist": "MNIST (LeCun, Cortes & Burges)",
}


# ----- data ---------------------------------------------------------------------------------
def load(name: str, train: bool, download: bool = True):
    """The train or test split of a dataset: images (N, 1, H, W) uint8, labels (N,) int64."""
    if name == "mnist":
        return MNIST(train=train, download=download)
    return {"tinydigits": TinyDigits, "tinymnist": TinyMNIST}[name](train=train)


# ----- model --------------------------------------------------------------------------------
def mlp(n_in: int, hidden: tuple, n_out: int, dropout: float) -> nn.Module:
    """(B, 1, H, W) -> Flatten -> [Linear -> ReLU (-> Dropout)] per hidden layer -> Linear -> (B, n_out)."""
    layers = [nn.Flatten()]
    for width in hidden:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


# ----- main ---------------------------------------------------------------------------------
def widths(text: str) -> tuple:
    """'512,256' -> (512, 256): the hidden layer widths."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths like 512,256, "
                                         f"got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return values


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=MILESTONE["title"] + " (1986)")
    parser.add_argument("--dataset", choices=list(RECIPES), default="tinydigits",
                        help="tinydigits and tinymnist ship with the repository; mnist is downloaded "
                             "once into $TINYTORCH_DATA (default ~/.cache/tinytorch)")
    parser.add_argument("--seed", type=int, default=1986, help="random seed (default 1986)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the dataset's recipe)")
    parser.add_argument("--batch-size", type=int, help="samples per optimizer step")
    parser.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--hidden", type=widths, help="hidden layer widths, e.g. 512,256")
    parser.add_argument("--dropout", type=float, help="dropout probability after each hidden layer")
    parser.add_argument("--shift", type=int, help="augmentation: shift training images by up to N "
                        "pixels (0: off)")
    parser.add_argument("--no-download", action="store_true", help="never download MNIST; fail with "
                        "instructions if its files are not in $TINYTORCH_DATA")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    parser.add_argument("--quiet", action="store_true", help="only the summary (and the JSON)")
    args = parser.parse_args(argv)
    for key, value in RECIPES[args.dataset].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        parser.error("--epochs and --batch-size must be at least 1 and --lr positive")
    if not 0 <= args.dropout < 1 or args.shift < 0:
        parser.error("--dropout must be in [0, 1) and --shift at least 0")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    say = (lambda *a, **k: None) if args.quiet else print
    start = time.perf_counter()
    say(BANNER)
    tt.manual_seed(args.seed)  # initial weights, the validation split, shuffling, dropout, shifts

    try:
        full = load(args.dataset, train=True, download=not args.no_download)
        test_raw = load(args.dataset, train=False, download=not args.no_download)
    except DataError as error:
        hint = "\n(--no-download was given: leave it out to download MNIST, about 11 MB)" if args.no_download else ""
        raise SystemExit(f"1986_mlp: cannot load {args.dataset}:\n{error}{hint}") from None
    train_part, val_part = random_split(full, [len(full) - args.val_size, args.val_size])

    # Inputs with mean 0 and std 1 make the first layer's job easier; the statistics come from the
    # training images only, and the same ones are applied to validation and test images.
    mean, std = pixel_stats(full.data[train_part.indices])
    plain = Compose([ToTensor(), Normalize(mean, std)])
    height, width = full.data.shape[2:]
    augment = plain if args.shift == 0 else Compose([RandomCrop((height, width), padding=args.shift), plain])
    train_set = Transformed(train_part, augment)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(Transformed(val_part, plain), batch_size=1000)

    model = mlp(height * width, args.hidden, len(full.classes), args.dropout)
    params = sum(p.numel() for p in model.parameters())
    sizes = "-".join(str(n) for n in (height * width, *args.hidden, len(full.classes)))
    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                        steps_per_epoch=len(train_loader))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=("accuracy",),
                      scheduler=scheduler, scheduler_interval="step", verbose=False,
                      callbacks=[EpochTable(say)])

    say(f"data:  {DESCRIPTIONS[args.dataset]}: {len(train_part):,} training, {len(val_part):,} "
        f"validation and {len(test_raw):,} test images of {height}x{width} pixels")
    say(f"       normalised with the training pixels' mean {mean:.4f} and std {std:.4f}"
        + (f"; training images shifted by up to {args.shift} px" if args.shift else ""))
    say(f"model: MLP {sizes}, ReLU" + (f", dropout {args.dropout}" if args.dropout else "")
        + f": {params:,} parameters")
    say(f"train: AdamW (weight decay {args.weight_decay}), one-cycle lr peaking at {args.lr}, "
        f"batch {args.batch_size}, {args.epochs} epochs\n")

    fit_start = time.perf_counter()
    history = trainer.fit(train_loader, val_loader, epochs=args.epochs)
    train_time = time.perf_counter() - fit_start
    # Training throughput over all epochs (the Trainer times each epoch's training part alone).
    seconds_training = sum(len(train_part) / rate for rate in history["samples_per_s"])
    samples_per_s = len(train_part) * args.epochs / seconds_training

    # The final check: accuracy on the training images (unaugmented, dropout off) and on the
    # test images, which training never saw.
    train_acc = trainer.evaluate(DataLoader(Transformed(train_part, plain), batch_size=1000))["accuracy"]
    logits = trainer.predict(DataLoader(Transformed(test_raw, plain), batch_size=1000))
    probs = F.softmax(logits, dim=1).data
    predicted = probs.argmax(axis=1)
    labels = test_raw.targets
    cm = confusion_matrix(labels, predicted, num_classes=len(full.classes))
    test_acc = float(np.trace(cm) / cm.sum())
    recall = precision_recall_f1(labels, predicted, num_classes=len(full.classes), average=None).recall

    if not args.quiet:
        rng = np.random.default_rng(args.seed)
        right, wrong = np.flatnonzero(predicted == labels), np.flatnonzero(predicted != labels)
        for title, pool in (("Test digits it reads correctly", right), ("and some it gets wrong", wrong)):
            if len(pool) == 0:
                continue
            picks = rng.choice(pool, size=min(3, len(pool)), replace=False)
            captions = [f"{labels[i]} -> {predicted[i]} ({probs[i, predicted[i]]:.0%})" for i in picks]
            say(f"\n{title} (true -> predicted (confidence)):")
            say(side_by_side(test_raw.data[picks, 0], captions))
        say(f"\nConfusion matrix on the {len(labels):,} test images (zeros shown as '.'):")
        say(confusion_table(cm, recall))
        say(f"most frequent mistakes: {top_confusions(cm)}\n")
    wall = time.perf_counter() - start

    print(f"dataset:        {args.dataset}, {len(train_part):,} train / {len(val_part):,} val / "
          f"{len(test_raw):,} test images")
    print(f"model:          MLP {sizes}, {params:,} parameters, {args.epochs} epochs")
    print(f"test accuracy:  {test_acc:.2%} ({int(cm.sum() - np.trace(cm))} of {len(labels):,} wrong); "
          f"train accuracy {train_acc:.2%}")
    print(f"time:           training {train_time:.1f} s ({samples_per_s:,.0f} samples/s), "
          f"wall {wall:.1f} s (seed {args.seed})")

    result = {
        "milestone": "1986_mlp",
        "dataset": args.dataset,
        "test_accuracy": round(test_acc, 6),
        "train_accuracy": round(train_acc, 6),
        "val_accuracy": round(history["val_accuracy"][-1], 6),
        "epochs": args.epochs,
        "train_time_s": round(train_time, 3),
        "wall_time_s": round(wall, 3),
        "samples_per_s": round(samples_per_s, 1),
        "params": params,
        "hidden": list(args.hidden),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
    }
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
