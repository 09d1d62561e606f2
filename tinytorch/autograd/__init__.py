"""tinytorch.autograd: the engine, grad-mode switches, Function and gradcheck, like torch.autograd.

Re-exports only; the code is tinytorch/core/autograd.py, generated from modules/05_autograd.
"""

from tinytorch.core.autograd import (
    Function,
    FunctionCtx,
    GradcheckError,
    backward,
    enable_grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
