"""Write tests/fixtures/torch_compat.npz: PyTorch's values for the compatibility layer (F.pad, F.one_hot).

Run it with a Python that has torch 2.13 (the tests never import torch; CI only reads the .npz):

    /work/torchvenv/bin/python scripts/make_compat_fixtures.py

Keys are `<case>/<what>`, arrays only (no pickle):

pad_*:      x (float64 input), pad (int array), mode (0-d str), value (0-d float; nan = not given),
            out (F.pad's value), gout (a fixed random gradient), grad_x (d sum(out * gout) / dx)
one_hot_*:  x (int64 labels), num_classes (0-d int), out
tests/03_layers/test_layers_compat.py has the TinyTorch side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch_compat.npz"
rng = np.random.default_rng(20261203)
arrays: dict[str, np.ndarray] = {}

PAD_CASES = [
    ("pad_constant_last", (2, 3), (1, 2), "constant", None),
    ("pad_constant_two_dims_value", (2, 3, 4), (0, 1, 2, 1), "constant", 1.5),
    ("pad_constant_crop", (2, 5), (-1, 2), "constant", None),
    ("pad_constant_crop_both", (3, 4, 5), (1, -2, -1, 0), "constant", -2.0),
    ("pad_reflect_2d", (1, 2, 4, 5), (2, 1, 3, 0), "reflect", None),
    ("pad_replicate_2d", (1, 2, 3, 4), (3, 1, 0, 2), "replicate", None),
    ("pad_circular_1d", (2, 1, 5), (2, 4), "circular", None),
    ("pad_circular_2d", (1, 1, 3, 4), (1, 2, 3, 1), "circular", None),
]

for case, shape, pad, mode, value in PAD_CASES:
    x = rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    out = F.pad(tx, pad, mode=mode) if value is None else F.pad(tx, pad, mode=mode, value=value)
    gout = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(gout))
    arrays.update({f"{case}/x": x, f"{case}/pad": np.array(pad), f"{case}/mode": np.array(mode),
                   f"{case}/value": np.array(np.nan if value is None else value),
                   f"{case}/out": out.detach().numpy(), f"{case}/gout": gout, f"{case}/grad_x": tx.grad.numpy()})

for case, labels, classes in [("one_hot_inferred", [3, 0, 1, 3], -1), ("one_hot_2d", [[1, 4], [0, 2]], 6)]:
    x = np.array(labels, dtype=np.int64)
    arrays.update({f"{case}/x": x, f"{case}/num_classes": np.array(classes),
                   f"{case}/out": F.one_hot(torch.tensor(x), classes).numpy()})

OUT.parent.mkdir(parents=True, exist_ok=True)
np.savez(OUT, **arrays)
print(f"wrote {OUT} ({len(arrays)} arrays, torch {torch.__version__})")
