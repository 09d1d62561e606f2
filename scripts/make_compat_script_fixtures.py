"""Write tests/fixtures/torch_compat_scripts.npz: what each PyTorch script in tests/compat/scripts/ returns
when run by PyTorch itself (losses, accuracies, gradients), so CI (which has no torch) can check that the
same unchanged script on TinyTorch gives the same numbers.

Run it with a Python that has torch 2.13:

    PYTHONPATH=. /work/torchvenv/bin/python scripts/make_compat_script_fixtures.py

Keys are `<script stem>/<result name>`, float64 arrays. tests/compat/test_compat_scripts.py reads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "compat"))
from torch_alias import run_script  # noqa: E402

arrays = {}
for script in sorted((ROOT / "tests" / "compat" / "scripts").glob("*.py")):
    for name, values in run_script(script, "torch").items():
        arrays[f"{script.stem}/{name}"] = np.asarray(values, dtype=np.float64)
out = ROOT / "tests" / "fixtures" / "torch_compat_scripts.npz"
np.savez(out, **arrays)
print(f"wrote {out} ({len(arrays)} arrays, torch {torch.__version__})")
