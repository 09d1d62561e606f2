"""TinyTorch: a deep-learning framework built from first principles with Python and NumPy.

This file only re-exports; the framework lives in tinytorch/core/, generated from modules/.
Layers and losses: `tinytorch.nn` (and `tinytorch.nn.functional as F`); `tinytorch.autograd`.
"""

from tinytorch.core.activations import log_softmax, relu, sigmoid, softmax, tanh
from tinytorch.core.autograd import Function, enable_grad, gradcheck, no_grad, set_grad_enabled
from tinytorch.core.tensor import (
    Tensor,
    arange,
    broadcast_shapes,
    bool_,
    cat,
    chunk,
    default_generator,
    eye,
    float16,
    float32,
    float64,
    full,
    int8,
    int16,
    int32,
    int64,
    is_grad_enabled,
    manual_seed,
    masked_fill,
    ones,
    ones_like,
    rand,
    randn,
    split,
    stack,
    tensor,
    tril,
    triu,
    uint8,
    unbind,
    where,
    zeros,
    zeros_like,
)

from tinytorch.core.training import load, save  # torch.save / torch.load, without pickle

# Subpackages with PyTorch's names, so `tt.nn.Linear` works like `torch.nn.Linear`.
from tinytorch import autograd, cuda, data, nn, optim, safetensors, training, utils  # noqa: E402,F401
