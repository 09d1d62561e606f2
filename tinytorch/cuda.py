"""tinytorch.cuda: what `torch.cuda` answers on a machine without a GPU. TinyTorch runs on the CPU, so
`is_available()` is False and `device_count()` is 0; device-agnostic scripts then pick "cpu".

Re-exports only; the code is tinytorch/core/layers.py, generated from modules/03_layers.
"""

from tinytorch.core.layers import cuda_device_count as device_count
from tinytorch.core.layers import cuda_is_available as is_available

__all__ = ["device_count", "is_available"]
