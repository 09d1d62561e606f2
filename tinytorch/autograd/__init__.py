"""tinytorch.autograd: the engine, grad-mode switches, Function and gradcheck, like torch.autograd.

Re-exports only; the code is tinytorch/core/autograd.py, generated from modules/05_autograd.
"""

from tinytorch.core.autograd import (
    FunctionCtx,
    GradcheckError,
    backward,
    enable_grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

# torch.autograd.Function passes Tensors to forward/backward: that is TensorFunction. (The course's own
# ops subclass tinytorch.core.autograd.Function, which passes arrays.)
from tinytorch.core.autograd import Function as ArrayFunction  # noqa: E402,F401
from tinytorch.core.autograd import TensorFunction as Function  # noqa: E402,F401
