"""Milestone 1998 — convolutional networks: LeNet-5 reads handwritten digits.

In November 1998 the Proceedings of the IEEE published "Gradient-based learning applied to
document recognition" by Yann LeCun, Leon Bottou, Yoshua Bengio and Patrick Haffner (vol. 86,
pp. 2278-2324). It collected ten years of work at Bell Labs on one idea: an image classifier
should not be a fully connected MLP that has to learn, separately for every position, what a
stroke looks like. Give it *convolutions* instead: small filters whose weights are shared across
the whole image (a feature is the same feature wherever it appears), followed by *subsampling*
(pooling) so that later layers see larger regions at lower resolution. LeNet-5, the paper's
network (conv 5x5 -> pool -> conv 5x5 -> pool -> three fully connected layers, 60,000
parameters), reached 0.95% test error on MNIST, the benchmark the same paper introduced, and
0.8% with distorted training images, where the best MLPs of the day made 2.5-4.7% errors.
Descendants of it read a large share of the cheques written in the United States.

This script builds that network from the layers of your framework: Conv2d, MaxPool2d and (for
the harder datasets) BatchNorm2d from module 09, on top of everything from modules 01-08.

    python milestones/1998_cnn/run.py                          # TinyMNIST, offline, seconds
    python milestones/1998_cnn/run.py --dataset mnist          # LeNet-5 on MNIST, 99%+
    python milestones/1998_cnn/run.py --dataset fashion_mnist  # conv-BN-ReLU net on Fashion-MNIST
    python milestones/1998_cnn/run.py --dataset cifar10        # a small VGG-style net on CIFAR-10
    python milestones/1998_cnn/run.py --dataset cifar10 --measure-steps 20   # time it first

Options: --epochs, --batch-size, --lr, --limit N (use N training images), --seed, --quiet, --json,
--no-download, --measure-steps N. Each dataset has its own default recipe (RECIPES below).
"""

MILESTONE = {
    "title": "Convolutional networks: LeNet-5 reads handwritten digits",
    "year": 1998,
    "requires": ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd",
                 "06_optimizers", "07_training", "08_data", "09_spatial"],
    "description": "LeCun, Bottou, Bengio & Haffner's LeNet-5 on your framework: shared 5x5 filters and "
                   "pooling read MNIST to 99%+ test accuracy; a conv-BN-ReLU network takes on "
                   "Fashion-MNIST and CIFAR-10.",
}

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

# Running `python milestones/1998_cnn/run.py` from a fresh clone: make the repository's
# `tinytorch` (and the milestones' shared helpers) importable even when nothing is pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _shared import EpochTable, Transformed, channel_stats, confusion_table, side_by_side, top_confusions

import tinytorch as tt
from tinytorch import nn, optim
from tinytorch.data import (
    CIFAR10,
    MNIST,
    Compose,
    DataError,
    DataLoader,
    FashionMNIST,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TinyMNIST,
    ToTensor,
    random_split,
)
from tinytorch.nn import functional as F
from tinytorch.optim import lr_scheduler
from tinytorch.training import Trainer, confusion_matrix, precision_recall_f1

BANNER = """\
================================================================================
 1998 - Convolutional networks (LeCun, Bottou, Bengio & Haffner, Proc. IEEE 86)
================================================================================
 An MLP must learn what a stroke looks like separately at every position of the
 image. A convolution learns one small filter and slides it everywhere (shared
 weights); pooling then halves the resolution, so deeper layers see more of
 the image. Here your Conv2d and MaxPool2d build LeNet-5 and train it.
"""

# The default recipe of each dataset; epochs, batch_size and lr can be changed on the command line.
#   model: "lenet5" (LeCun's layout with ReLU and max pooling) or the conv-BN-ReLU networks below;
#   crop: augmentation by random crops of the image padded with `crop` pixels (a shift by up to
#   that many pixels); flip: random left-right mirroring; val_size: training images held out to
#   watch for overfitting. Optimizer: AdamW with a one-cycle learning rate (lr = its peak).
# The epochs were chosen from measured epoch times on a 2-core machine (milestones/README.md):
# MNIST about 4 minutes, Fashion-MNIST about 15, CIFAR-10 under 30.
RECIPES = {
    "tinymnist": {"model": "lenet5", "epochs": 20, "batch_size": 32, "lr": 3e-3, "weight_decay": 0.05,
                  "crop": 2, "flip": False, "val_size": 100},
    "mnist": {"model": "lenet5", "epochs": 20, "batch_size": 128, "lr": 3e-3, "weight_decay": 0.05,
              "crop": 2, "flip": False, "val_size": 5000},
    "fashion_mnist": {"model": "convbn2", "epochs": 8, "batch_size": 128, "lr": 3e-3, "weight_decay": 0.05,
                      "crop": 2, "flip": False, "val_size": 5000},
    "cifar10": {"model": "vgg4", "epochs": 7, "batch_size": 128, "lr": 3e-3, "weight_decay": 0.05,
                "crop": 4, "flip": True, "val_size": 5000},
}
DESCRIPTIONS = {
    "tinymnist": "TinyMNIST (1,200 MNIST digits, shipped)",
    "mnist": "MNIST (LeCun, Cortes & Burges)",
    "fashion_mnist": "Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando)",
    "cifar10": "CIFAR-10 (Krizhevsky)",
}
# Images in a full training epoch of each dataset (for --measure-steps' implied epoch time).
FULL_TRAIN = {"tinymnist": 1000, "mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000}
SHAPES = {"tinymnist": (1, 28, 28), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


# ----- data ---------------------------------------------------------------------------------
def load(name: str, train: bool, download: bool = True):
    """The train or test split of a dataset: images (N, C, H, W) uint8, labels (N,) int64."""
    if name == "tinymnist":
        return TinyMNIST(train=train)
    return {"mnist": MNIST, "fashion_mnist": FashionMNIST, "cifar10": CIFAR10}[name](train=train, download=download)


def transforms(recipe: dict, shape: tuple, mean: tuple, std: tuple):
    """(training transform, evaluation transform): augmentation on uint8 images, then ToTensor + Normalize."""
    plain = Compose([ToTensor(), Normalize(mean, std)])
    steps = []
    if recipe["crop"]:
        steps.append(RandomCrop(shape[1:], padding=recipe["crop"]))
    if recipe["flip"]:
        steps.append(RandomHorizontalFlip())
    return (Compose([*steps, plain]) if steps else plain), plain


# ----- models -------------------------------------------------------------------------------
def lenet5(classes: int = 10) -> nn.Module:
    """LeNet-5 (1998) with today's ReLU and max pooling in place of its scaled tanh and trainable
    average pooling; C3's full 6->16 connection replaces the paper's hand-picked partial one.

    (B, 1, 28, 28) -conv5x5 pad 2-> 6x28x28 -pool-> 6x14x14 -conv5x5-> 16x10x10 -pool-> 16x5x5
    -> 400 -> 120 -> 84 -> classes.
    """
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes),
    )


def conv_bn(c_in: int, c_out: int) -> list:
    """conv3x3 (no bias: BatchNorm's shift replaces it) -> BatchNorm2d -> ReLU, size kept."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def convbn2(channels: int = 1, classes: int = 10) -> nn.Module:
    """Two conv-BN-ReLU blocks, each followed by 2x2 max pooling, then 3136 -> 128 -> classes.

    (B, 1, 28, 28) -> 32x28x28 -pool-> 32x14x14 -> 64x14x14 -pool-> 64x7x7 -> 3136 -> 128 -> classes.
    """
    return nn.Sequential(
        *conv_bn(channels, 32), nn.MaxPool2d(2),
        *conv_bn(32, 64), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, classes),
    )


def vgg4(channels: int = 3, classes: int = 10) -> nn.Module:
    """benchmarks/cnn_step.py's network with BatchNorm: conv3x3 32-32-pool-64-64-pool, 4096 -> 256 -> classes.

    (B, 3, 32, 32) -> 32x32x32 -> 32x32x32 -pool-> 32x16x16 -> 64x16x16 -> 64x16x16 -pool-> 64x8x8
    -> 4096 -> 256 (BatchNorm1d) -> classes.
    """
    return nn.Sequential(
        *conv_bn(channels, 32), *conv_bn(32, 32), nn.MaxPool2d(2),
        *conv_bn(32, 64), *conv_bn(64, 64), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, classes),
    )


MODELS = {
    "lenet5": (lenet5, "LeNet-5: conv5x5(6, pad 2)-ReLU-maxpool-conv5x5(16)-ReLU-maxpool-400-120-84-10"),
    "convbn2": (convbn2, "conv3x3(32)-BN-ReLU-maxpool-conv3x3(64)-BN-ReLU-maxpool-3136-128(dropout 0.3)-10"),
    "vgg4": (vgg4, "conv3x3 32-32-pool-64-64-pool (each conv-BN-ReLU), 4096-256(BN, ReLU)-10"),
}


def build(recipe: dict, channels: int, classes: int) -> nn.Module:
    factory = MODELS[recipe["model"]][0]
    return factory(classes) if recipe["model"] == "lenet5" else factory(channels, classes)


# ----- measuring a training step ------------------------------------------------------------
def measure_steps(args, recipe: dict, say) -> dict:
    """Time `args.measure_steps` training steps of the dataset's model on random uint8 batches.

    Each step is what the Trainer does per batch: the training transform (augmentation,
    ToTensor, Normalize), forward, loss, backward, AdamW step and the one-cycle scheduler step.
    Random pixels train nothing useful, but they cost exactly what real ones do.
    """
    shape = SHAPES[args.dataset]
    model = build(recipe, shape[0], 10)
    params = sum(p.numel() for p in model.parameters())
    augment, _ = transforms(recipe, shape, (0.5,) * shape[0], (0.25,) * shape[0])
    rng = np.random.default_rng(args.seed)
    pool = rng.integers(0, 256, (4 * args.batch_size, *shape), dtype=np.uint8)
    labels = rng.integers(0, 10, 4 * args.batch_size)
    warmup = 2
    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=recipe["weight_decay"])
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.measure_steps + warmup)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    times = []
    for step in range(args.measure_steps + warmup):
        pick = rng.integers(0, len(pool), args.batch_size)
        start = time.perf_counter()
        x, y = augment(pool[pick]), tt.tensor(labels[pick])
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        scheduler.step()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1e3
    images = FULL_TRAIN[args.dataset]
    epoch_s = ms / 1e3 * images / args.batch_size
    budget = 30 * 60
    say(f"model: {MODELS[recipe['model']][1]}: {params:,} parameters")
    print(f"measured:       {args.measure_steps} training steps of batch {args.batch_size}, input "
          f"{'x'.join(map(str, shape))}: median {ms:.1f} ms/step (min {min(times) * 1e3:.1f}, "
          f"max {max(times) * 1e3:.1f}), {args.batch_size / ms * 1e3:,.0f} images/s")
    print(f"implied epoch:  {epoch_s:.0f} s for {images:,} images; {int(budget // epoch_s)} epochs fit in "
          f"30 minutes (training steps only: evaluation and loading come on top)")
    return {"milestone": "1998_cnn", "dataset": args.dataset, "measure_steps": args.measure_steps,
            "batch_size": args.batch_size, "ms_per_step": round(ms, 2), "images_per_epoch": images,
            "implied_epoch_s": round(epoch_s, 1), "epochs_in_30_min": int(budget // epoch_s),
            "params": params, "model": recipe["model"], "seed": args.seed}


# ----- main ---------------------------------------------------------------------------------
def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=MILESTONE["title"] + " (1998)")
    parser.add_argument("--dataset", choices=list(RECIPES), default="tinymnist",
                        help="tinymnist ships with the repository; mnist, fashion_mnist and cifar10 are "
                             "downloaded once into $TINYTORCH_DATA (default ~/.cache/tinytorch)")
    parser.add_argument("--seed", type=int, default=1998, help="random seed (default 1998)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the dataset's recipe)")
    parser.add_argument("--batch-size", type=int, help="samples per optimizer step")
    parser.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--limit", type=int, help="train on only N training images (a quick check)")
    parser.add_argument("--measure-steps", type=int, metavar="N", help="no training: time N training "
                        "steps of the dataset's model on random batches and print the implied epoch time")
    parser.add_argument("--no-download", action="store_true", help="never download; fail with "
                        "instructions if the dataset's files are not in $TINYTORCH_DATA")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    parser.add_argument("--quiet", action="store_true", help="only the summary (and the JSON)")
    args = parser.parse_args(argv)
    for key in ("epochs", "batch_size", "lr"):
        if getattr(args, key) is None:
            setattr(args, key, RECIPES[args.dataset][key])
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        parser.error("--epochs and --batch-size must be at least 1 and --lr positive")
    if args.limit is not None and args.limit < 2:
        parser.error("--limit must be at least 2 (one training and one validation image)")
    if args.measure_steps is not None and args.measure_steps < 1:
        parser.error("--measure-steps must be at least 1")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    recipe = RECIPES[args.dataset]
    say = (lambda *a, **k: None) if args.quiet else print
    start = time.perf_counter()
    say(BANNER)
    tt.manual_seed(args.seed)  # initial weights, the validation split, shuffling, dropout, augmentation

    if args.measure_steps:
        result = measure_steps(args, recipe, say)
        if args.json:
            print(json.dumps(result))
        return result

    try:
        full = load(args.dataset, train=True, download=not args.no_download)
        test_raw = load(args.dataset, train=False, download=not args.no_download)
    except DataError as error:
        hint = "\n(--no-download was given: leave it out to download the files)" if args.no_download else ""
        raise SystemExit(f"1998_cnn: cannot load {args.dataset}:\n{error}{hint}") from None
    # --limit N: N training images in all, a tenth of them (at least one) held out for validation.
    used = len(full) if args.limit is None else min(args.limit, len(full))
    val_size = recipe["val_size"] if args.limit is None else max(1, min(recipe["val_size"], used // 10))
    train_part, val_part, _ = random_split(full, [used - val_size, val_size, len(full) - used])

    # Inputs with mean 0 and std 1 per channel, from the training images only.
    mean, std = channel_stats(full.data[train_part.indices])
    shape = full.data.shape[1:]
    augment, plain = transforms(recipe, shape, mean, std)
    train_loader = DataLoader(Transformed(train_part, augment), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(Transformed(val_part, plain), batch_size=500)

    model = build(recipe, shape[0], len(full.classes))
    params = sum(p.numel() for p in model.parameters())
    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=recipe["weight_decay"])
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                        steps_per_epoch=len(train_loader))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=("accuracy",),
                      scheduler=scheduler, scheduler_interval="step", verbose=False,
                      callbacks=[EpochTable(say)])

    augmentation = [f"random crops with {recipe['crop']} px padding"] if recipe["crop"] else []
    augmentation += ["horizontal flips"] if recipe["flip"] else []
    say(f"data:  {DESCRIPTIONS[args.dataset]}: {len(train_part):,} training, {len(val_part):,} "
        f"validation and {len(test_raw):,} test images of {'x'.join(map(str, shape))}")
    say("       normalised per channel with the training pixels' mean "
        + "/".join(f"{m:.4f}" for m in mean) + " and std " + "/".join(f"{s:.4f}" for s in std)
        + (f"; training images: {' and '.join(augmentation)}" if augmentation else ""))
    say(f"model: {MODELS[recipe['model']][1]}: {params:,} parameters")
    say(f"train: AdamW (weight decay {recipe['weight_decay']}), one-cycle lr peaking at {args.lr}, "
        f"batch {args.batch_size}, {args.epochs} epochs\n")

    fit_start = time.perf_counter()
    history = trainer.fit(train_loader, val_loader, epochs=args.epochs)
    train_time = time.perf_counter() - fit_start
    # Training throughput over all epochs (the Trainer times each epoch's training part alone).
    seconds_training = sum(len(train_part) / rate for rate in history["samples_per_s"])
    samples_per_s = len(train_part) * args.epochs / seconds_training

    # The final check: accuracy on the training images (not augmented, BatchNorm and dropout in
    # eval mode) and on the test images, which training never saw.
    train_acc = trainer.evaluate(DataLoader(Transformed(train_part, plain), batch_size=500))["accuracy"]
    logits = trainer.predict(DataLoader(Transformed(test_raw, plain), batch_size=500))
    probs = F.softmax(logits, dim=1).data
    predicted = probs.argmax(axis=1)
    labels = test_raw.targets
    classes = len(full.classes)
    cm = confusion_matrix(labels, predicted, num_classes=classes)
    test_acc = float(np.trace(cm) / cm.sum())
    recall = precision_recall_f1(labels, predicted, num_classes=classes, average=None).recall
    digits = args.dataset in ("tinymnist", "mnist")
    names = [str(i) for i in range(classes)] if digits else [c.split("/")[0].lower() for c in full.classes]

    if not args.quiet:
        rng = np.random.default_rng(args.seed)
        right, wrong = np.flatnonzero(predicted == labels), np.flatnonzero(predicted != labels)
        what = "digits" if digits else "images"
        for title, pool in ((f"Test {what} it reads correctly", right), ("and some it gets wrong", wrong)):
            if len(pool) == 0:
                continue
            picks = rng.choice(pool, size=min(3, len(pool)), replace=False)
            captions = [f"{names[labels[i]]} -> {names[predicted[i]]} ({probs[i, predicted[i]]:.0%})"
                        for i in picks]
            say(f"\n{title} (true -> predicted (confidence)):")
            say(side_by_side(test_raw.data[picks], captions))
        say(f"\nConfusion matrix on the {len(labels):,} test images (zeros shown as '.'):")
        if not digits:
            say("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(names)))
        say(confusion_table(cm, recall))
        say(f"most frequent mistakes: {top_confusions(cm, names=None if digits else names)}\n")
    wall = time.perf_counter() - start

    print(f"dataset:        {args.dataset}, {len(train_part):,} train / {len(val_part):,} val / "
          f"{len(test_raw):,} test images")
    print(f"model:          {recipe['model']}, {params:,} parameters, {args.epochs} epochs")
    print(f"test accuracy:  {test_acc:.2%} ({int(cm.sum() - np.trace(cm))} of {len(labels):,} wrong); "
          f"train accuracy {train_acc:.2%}")
    print(f"time:           training {train_time:.1f} s ({samples_per_s:,.0f} samples/s), "
          f"wall {wall:.1f} s (seed {args.seed})")

    result = {
        "milestone": "1998_cnn",
        "dataset": args.dataset,
        "model": recipe["model"],
        "test_accuracy": round(test_acc, 6),
        "train_accuracy": round(train_acc, 6),
        "val_accuracy": round(history["val_accuracy"][-1], 6),
        "epochs": args.epochs,
        "train_time_s": round(train_time, 3),
        "wall_time_s": round(wall, 3),
        "samples_per_s": round(samples_per_s, 1),
        "params": params,
        "train_images": len(train_part),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
    }
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
