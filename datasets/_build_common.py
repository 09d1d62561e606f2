"""Helpers shared by the build scripts in this folder (NumPy only, so every script can use them).

- class_balanced: pick the same number of samples of every class, reproducibly;
- write_npz: save plain arrays as an .npz that np.load(..., allow_pickle=False) reads, with fixed
  zip timestamps so that rebuilding gives a byte-identical file (same sha256) on the same platform;
- describe: the line the README table needs (size and sha256).
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip file can hold; any constant would do


def class_balanced(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `per_class` random samples of each class in sorted class order, then shuffled."""
    chosen = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        if len(members) < per_class:
            raise SystemExit(f"class {value} has only {len(members)} samples, {per_class} requested")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return rng.permutation(np.concatenate(chosen))


def write_npz(path: Path, arrays: dict) -> None:
    """Write `arrays` (name -> ndarray, no objects) as a compressed .npz, atomically and reproducibly."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(temporary, "w") as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(temporary, path)


def describe(path: Path) -> str:
    data = Path(path).read_bytes()
    return f"{Path(path).name}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}"


def save_splits(path: Path, train_images, train_labels, test_images, test_labels) -> None:
    """The layout every shipped dataset uses: uint8 images (N, C, H, W) and uint8 labels (N,)."""
    for images, labels in ((train_images, train_labels), (test_images, test_labels)):
        assert images.dtype == np.uint8 and images.ndim == 4 and len(images) == len(labels)
    write_npz(path, {"train_images": train_images, "train_labels": train_labels.astype(np.uint8),
                     "test_images": test_images, "test_labels": test_labels.astype(np.uint8)})
    print(describe(path))
