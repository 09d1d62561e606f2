"""Build datasets/tinydigits.npz from scikit-learn's bundled 8x8 digits (no download needed).

    python -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn
    /tmp/skl/bin/python datasets/build_tinydigits.py

The 1,797 images hold 0..16 (counts of set pixels in 4x4 blocks of a 32x32 bitmap); they are
rescaled to 0..255 (round(v * 255 / 16)) so they look like every other uint8 image dataset here.
Split: in every class, 20% (rounded) go to the test set, chosen with a fixed seed, so train and
test have the same class balance as the whole set.
"""

from __future__ import annotations

import numpy as np
from _build_common import HERE, save_splits
from sklearn.datasets import load_digits

SEED = 0
TEST_FRACTION = 0.2


def main() -> None:
    digits = load_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    labels = digits.target.astype(np.uint8)
    rng = np.random.default_rng(SEED)
    test = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        test.append(rng.choice(members, size=round(TEST_FRACTION * len(members)), replace=False))
    test = rng.permutation(np.concatenate(test))
    train = rng.permutation(np.setdiff1d(np.arange(len(labels)), test))
    save_splits(HERE / "tinydigits.npz", images[train], labels[train], images[test], labels[test])


if __name__ == "__main__":
    main()
