"""tinytorch.optim: optimizers, learning-rate schedulers and gradient clipping, like torch.optim.

Re-exports only; the code is tinytorch/core/optimizers.py, generated from modules/06_optimizers.
`clip_grad_norm_` and `clip_grad_value_` live in torch.nn.utils in PyTorch; they are here too.
`flatten_state_dict` / `unflatten_state_dict` turn a state_dict into a flat dict of arrays for .npz.
"""

from tinytorch.core.optimizers import (
    SGD,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    clip_grad_norm_,
    clip_grad_value_,
    flatten_state_dict,
    unflatten_state_dict,
)
from tinytorch.optim import lr_scheduler
