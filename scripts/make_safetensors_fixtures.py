"""Write tests/fixtures/reference.safetensors (made by the real `safetensors` package) and
tests/fixtures/reference_safetensors_values.npz (the values it holds, as plain arrays).

Run it with a Python that has torch 2.13 and safetensors (the tests need neither):

    /work/torchvenv/bin/pip install safetensors
    /work/torchvenv/bin/python scripts/make_safetensors_fixtures.py

The file covers every dtype TinyTorch reads (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL), a 0-d
tensor, an empty tensor and __metadata__. BF16 values are stored in the .npz as the float32 numbers
they represent exactly. tests/07_training/test_training_serialization.py compares the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import safetensors
import torch
from safetensors.torch import save_file

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
rng = np.random.default_rng(20261203)

tensors = {
    "fc.weight": torch.tensor(rng.standard_normal((4, 3)), dtype=torch.float32),
    "fc.bias": torch.tensor(rng.standard_normal(4), dtype=torch.float32),
    "double": torch.tensor(rng.standard_normal((2, 2)), dtype=torch.float64),
    "half": torch.tensor(rng.standard_normal(5), dtype=torch.float16),
    "brain": torch.tensor(rng.standard_normal((2, 3)), dtype=torch.bfloat16),
    "steps": torch.tensor(7, dtype=torch.int64),
    "ids32": torch.tensor([1, -2, 3], dtype=torch.int32),
    "ids16": torch.tensor([[4, -5]], dtype=torch.int16),
    "small": torch.tensor([-8, 9], dtype=torch.int8),
    "pixels": torch.tensor(rng.integers(0, 256, (2, 2, 2)), dtype=torch.uint8),
    "mask": torch.tensor([True, False, True]),
    "empty": torch.zeros((0, 3), dtype=torch.float32),
}
metadata = {"format": "pt", "made_by": f"safetensors {safetensors.__version__}, torch {torch.__version__}"}
save_file(tensors, str(FIXTURES / "reference.safetensors"), metadata=metadata)
values = {name: (t.float() if t.dtype == torch.bfloat16 else t).numpy() for name, t in tensors.items()}
np.savez(FIXTURES / "reference_safetensors_values.npz", **values,
         __metadata__=np.array(list(metadata.items())))
print(f"wrote reference.safetensors ({(FIXTURES / 'reference.safetensors').stat().st_size} bytes) with "
      f"{metadata['made_by']}")
