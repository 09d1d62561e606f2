"""Helpers shared by the image milestones (1986 MLP, 1998 CNN): data wrapping, pixel statistics,
the per-epoch table, ASCII pictures and the confusion-matrix printout.

Not a milestone itself (no MILESTONE dict, no run.py): each run.py puts this folder on sys.path
and imports from here, so the scripts stay about their own history and model.
"""

from __future__ import annotations

import numpy as np

from tinytorch.data import Dataset
from tinytorch.training import Callback

RAMP = " .:-=+*#%@"  # dark to bright: one character per grey level band


# ----- data ---------------------------------------------------------------------------------
class Transformed(Dataset):
    """The samples of `dataset` with `transform` applied to the images; labels pass through.

    random_split gives Subsets of one dataset, so they would share its one transform. Wrapping
    each part lets the training part be augmented while the validation part is not.
    """

    def __init__(self, dataset, transform):
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        image, label = self.dataset[index]
        return self.transform(image), label

    def get_batch(self, indices):
        """A whole batch at once: one gather, then the transform on (B, C, H, W)."""
        images, labels = self.dataset.get_batch(indices)
        return self.transform(images), labels


def pixel_stats(images: np.ndarray) -> tuple:
    """Mean and standard deviation of uint8 pixels scaled to [0, 1], from a histogram.

    There are only 256 grey levels, so counting them gives the exact statistics without a float
    copy of the whole training set (counted in chunks: bincount works on a wider integer copy).
    """
    flat, chunk = images.reshape(-1), 1 << 22
    counts = sum(np.bincount(flat[i:i + chunk], minlength=256) for i in range(0, flat.size, chunk))
    levels = np.arange(256) / 255.0
    mean = (counts * levels).sum() / counts.sum()
    std = np.sqrt((counts * (levels - mean) ** 2).sum() / counts.sum())
    return float(mean), float(std)


def channel_stats(images: np.ndarray) -> tuple:
    """Per-channel (means, stds) of uint8 images (N, C, H, W) scaled to [0, 1]: pixel_stats per channel."""
    stats = [pixel_stats(np.ascontiguousarray(images[:, c])) for c in range(images.shape[1])]
    return tuple(m for m, _ in stats), tuple(s for _, s in stats)


# ----- progress -----------------------------------------------------------------------------
class EpochTable(Callback):
    """One row per epoch: loss and accuracy while training, on held-out data, lr, speed."""

    def __init__(self, say):
        self.say = say

    def on_train_begin(self, trainer) -> None:
        header = (f" {'epoch':>5} | {'train loss':>10} {'train acc':>9} | {'val loss':>8} {'val acc':>8} | "
                  f"{'lr':>8} | {'samples/s':>9} | {'time':>6}")
        self.say(header)
        self.say("".join("+" if c == "|" else "-" for c in header))

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        self.say(f" {epoch:5d} | {logs['train_loss']:10.4f} {logs['train_accuracy']:9.2%} | "
                 f"{logs['val_loss']:8.4f} {logs['val_accuracy']:8.2%} | {logs['lr']:8.2e} | "
                 f"{logs['samples_per_s']:9,.0f} | {logs['epoch_time']:5.1f}s")


# ----- pictures -----------------------------------------------------------------------------
def draw(image: np.ndarray) -> list:
    """A uint8 (H, W) or (C, H, W) image as lines of characters, roughly square on a terminal.

    Colour images are drawn in grey (the mean of the channels). A character cell is about twice
    as tall as it is wide: images taller than 16 pixels average pairs of rows (28x28 -> 14 lines
    of 28 characters); small images repeat each pixel (8 lines of 16 characters).
    """
    pixels = image.astype(np.float32) / 255
    if pixels.ndim == 3:
        pixels = pixels.mean(axis=0)
    repeat = 2
    if pixels.shape[0] > 16:
        rows = pixels.shape[0] // 2 * 2
        pixels = (pixels[0:rows:2] + pixels[1:rows:2]) / 2
        repeat = 1
    levels = np.minimum((pixels * len(RAMP)).astype(int), len(RAMP) - 1)
    return ["".join(RAMP[v] * repeat for v in row) for row in levels]


def side_by_side(images: np.ndarray, captions: list) -> str:
    """Framed drawings of `images` in one row, each with its caption above it."""
    panels = []
    for image, caption in zip(images, captions):
        lines = draw(image)
        width = max(len(lines[0]), len(caption) - 2)
        panels.append([caption.ljust(width + 2), "+" + "-" * width + "+",
                       *("|" + line.ljust(width) + "|" for line in lines), "+" + "-" * width + "+"])
    return "\n".join(("  " + "   ".join(row)).rstrip() for row in zip(*panels))


def confusion_table(cm: np.ndarray, recall: np.ndarray) -> str:
    """The confusion matrix with zeros shown as '.', so the mistakes stand out, and per-class recall."""
    classes = len(cm)
    width = max(4, len(str(cm.max())) + 1)
    lines = ["true \\ predicted" + "".join(f"{j:>{width}d}" for j in range(classes)) + "   recall"]
    for i in range(classes):
        cells = "".join(f"{(str(v) if v else '.'):>{width}}" for v in cm[i])
        lines.append(f"{i:>16d}" + cells + f"   {recall[i]:6.1%}")
    return "\n".join(lines)


def top_confusions(cm: np.ndarray, k: int = 3, names=None) -> str:
    """The k most frequent mistakes, "true read as predicted (count)", from the off-diagonal cells.

    names: class names to show instead of the class numbers (e.g. "shirt read as t-shirt/top").
    """
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:k]
    pairs = [np.unravel_index(i, cm.shape) for i in order]
    label = (lambda c: str(c)) if names is None else (lambda c: str(names[c]))
    shown = [f"{label(t)} read as {label(p)} ({off[t, p]}x)" for t, p in pairs if off[t, p] > 0]
    return ", ".join(shown) if shown else "none"
