"""tinytorch.utils: PyTorch's `torch.utils` namespace (only `utils.data` exists). Re-exports only."""

from tinytorch.utils import data  # noqa: F401
