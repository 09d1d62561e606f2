"""Weights moving between PyTorch and TinyTorch through files, checked live where torch and the real
`safetensors` package are installed (the committed fixtures in tests/07_training and tests/08_data cover
the same formats on CI, which has neither)."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.data import load_pytorch_file
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.layers import ReLU as TTReLU
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import load_file, save_file

torch = pytest.importorskip("torch")


def test_a_torch_model_s_weights_run_the_same_in_tinytorch(tmp_path):
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    torch.save(reference.state_dict(), tmp_path / "model.pth")
    manual_seed(0)
    model = Sequential(Linear(5, 7), TTReLU(), Linear(7, 3))
    model.load_state_dict(load_pytorch_file(tmp_path / "model.pth"))
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(model(Tensor(x)).data, reference(torch.tensor(x)).detach().numpy(), rtol=1e-6)


def test_tinytorch_safetensors_files_load_in_pytorch(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    manual_seed(1)
    model = Sequential(Linear(4, 6), TTReLU(), Linear(6, 2))
    save_file(model.state_dict(), tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = st.load_file(str(tmp_path / "model.safetensors"))
    reference = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    reference.load_state_dict(loaded)
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(reference(torch.tensor(x)).detach().numpy(), model(Tensor(x)).data, rtol=1e-6)


def test_pytorch_safetensors_files_load_in_tinytorch(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    tensors = {"w": torch.randn(3, 4), "steps": torch.tensor(5), "bf": torch.randn(2).bfloat16(),
               "mask": torch.tensor([True, False])}
    st.save_file(tensors, str(tmp_path / "t.safetensors"))
    loaded = load_file(tmp_path / "t.safetensors")
    for name, value in tensors.items():
        expected = (value.float() if value.dtype == torch.bfloat16 else value).numpy()
        assert loaded[name].shape == expected.shape and np.array_equal(loaded[name].data, expected), name
