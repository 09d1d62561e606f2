"""tinytorch.utils.checkpoint: PyTorch's `torch.utils.checkpoint` (module 16). Re-exports only."""

from tinytorch.systems.acceleration import checkpoint, checkpoint_sequential  # noqa: F401
