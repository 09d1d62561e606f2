"""Gradient utilities under PyTorch's name, `tinytorch.nn.utils` (defined in module 06)."""

from tinytorch.core.optimizers import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
