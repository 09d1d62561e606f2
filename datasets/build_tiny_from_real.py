"""Build a small class-balanced .npz from one of the real datasets, read with TinyTorch's own loader.

Used by build_tinymnist.py, build_tinyfashion.py and build_tinycifar.py. The source files must
already be in the data root (`--source`, else $TINYTORCH_DATA, else ~/.cache/tinytorch); the
loader verifies their checksums, and nothing is downloaded here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from _build_common import HERE, class_balanced, save_splits

sys.path.insert(0, str(HERE.parent))  # this repository's tinytorch, not another installed copy


def build(dataset_class, source, out: Path, train_per_class: int, test_per_class: int, seed: int = 0) -> Path:
    """Pick train_per_class / test_per_class images of every class from the official splits."""
    rng = np.random.default_rng(seed)
    arrays = []
    for train, per_class in ((True, train_per_class), (False, test_per_class)):
        full = dataset_class(root=source, train=train, download=False)
        picked = class_balanced(full.targets, per_class, rng)
        arrays += [full.data[picked], full.targets[picked]]
    save_splits(out, *arrays)
    return out


def main(dataset_name: str, default_out: str, train_per_class: int, test_per_class: int) -> None:
    from tinytorch.core.data import dataset_class

    parser = argparse.ArgumentParser(description=f"build datasets/{default_out} from {dataset_name}")
    parser.add_argument("--source", help="data root holding the official files (default: $TINYTORCH_DATA)")
    parser.add_argument("--out", default=str(HERE / default_out), help="where to write the .npz")
    parser.add_argument("--train-per-class", type=int, default=train_per_class)
    parser.add_argument("--test-per-class", type=int, default=test_per_class)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build(dataset_class(dataset_name), args.source, Path(args.out), args.train_per_class,
          args.test_per_class, args.seed)
