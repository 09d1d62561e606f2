"""Write tests/fixtures/torch_state_dict.pt (a real torch.save file) and torch_state_dict_values.npz
(what it holds, as plain arrays), for the test that TinyTorch reads .pt files without torch.

Run it with a Python that has torch 2.13 (the tests only read the two files):

    /work/torchvenv/bin/python scripts/make_pytorch_file_fixtures.py

The state_dict mixes what real ones hold: Linear and BatchNorm1d parameters and buffers (float32 and
the int64 0-d num_batches_tracked), a non-contiguous view sharing its storage with a float64 tensor,
a float16, a bfloat16 (stored in the .npz as the float32 numbers it represents), an int32, a uint8,
a bool, an empty tensor and an nn.Parameter (saved through _rebuild_parameter).
tests/08_data/test_data_pytorch_files.py compares the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
torch.manual_seed(0)

model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
model(torch.randn(4, 3))  # one training step moves the running statistics off their defaults
state = model.state_dict()
base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
state["base"] = base
state["view"] = base[:, 1:3]  # shares base's storage, offset 1, strides (4, 1)
state["transposed"] = torch.randn(2, 3).t()
state["half"] = torch.randn(3).half()
state["brain"] = torch.randn(2, 2).bfloat16()
state["ids"] = torch.tensor([3, -1, 7], dtype=torch.int32)
state["pixels"] = torch.tensor([[0, 255], [17, 128]], dtype=torch.uint8)
state["mask"] = torch.tensor([True, False])
state["empty"] = torch.zeros(0, 4)
state["param"] = torch.nn.Parameter(torch.tensor([0.5, -1.5]))
torch.save(state, FIXTURES / "torch_state_dict.pt")

values = {name: (t.detach().float() if t.dtype == torch.bfloat16 else t.detach()).numpy() for name, t in state.items()}
np.savez(FIXTURES / "torch_state_dict_values.npz", **values, __order__=np.array(list(state)))
size = (FIXTURES / "torch_state_dict.pt").stat().st_size
print(f"wrote torch_state_dict.pt ({size} bytes), torch {torch.__version__}")
