"""Build datasets/olympics_mnist.npz: the TorchPerf Olympics' held-out test set (module 20).

    python datasets/build_olympics_mnist.py --source DATA_ROOT

(DATA_ROOT: the folder holding mnist/; default $TINYTORCH_DATA.)

200 images of every class from MNIST's official *test* split (t10k), read and checksum-verified
by TinyTorch's own loader, class-balanced and reproducible (seed 2024). Only the test split is
stored (`test_images`, `test_labels`): the Olympics' models are trained on the official training
split, so none of these images was seen in training. `tito olympics validate` keeps the labels in
its own process and gives the submission only the images.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from _build_common import HERE, class_balanced, describe, write_npz

sys.path.insert(0, str(HERE.parent))  # this repository's tinytorch, not another installed copy


def build(source, out: Path, per_class: int = 200, seed: int = 2024) -> Path:
    from tinytorch.core.data import MNIST

    test = MNIST(root=source, train=False, download=False)
    picked = class_balanced(test.targets, per_class, np.random.default_rng(seed))
    write_npz(out, {"test_images": test.data[picked], "test_labels": test.targets[picked].astype("uint8")})
    print(describe(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="build datasets/olympics_mnist.npz from MNIST's test split")
    parser.add_argument("--source", help="data root holding mnist/ (default: $TINYTORCH_DATA)")
    parser.add_argument("--out", default=str(HERE / "olympics_mnist.npz"), help="where to write the .npz")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    build(args.source, Path(args.out), args.per_class, args.seed)


if __name__ == "__main__":
    main()
