"""TinyTorch: a deep-learning framework built from first principles with Python and NumPy.

This file only re-exports (set_num_threads / get_num_threads from module 16, imported when first
used); the framework lives in tinytorch/core/, generated from modules/.
Layers and losses: `tinytorch.nn` (and `tinytorch.nn.functional as F`); `tinytorch.autograd`.
"""

from tinytorch.core.activations import log_softmax, relu, sigmoid, softmax, tanh
from tinytorch.core.autograd import Function, enable_grad, gradcheck, no_grad, set_grad_enabled
from tinytorch.core.tensor import (
    Tensor,
    allclose,
    arange,
    argmax,
    argmin,
    as_tensor,
    broadcast_shapes,
    bool_,
    cat,
    chunk,
    clamp,
    clip,
    default_generator,
    equal,
    exp,
    eye,
    flatten,
    float16,
    float32,
    float64,
    from_numpy,
    full,
    full_like,
    gather,
    int8,
    int16,
    int32,
    int64,
    is_grad_enabled,
    isfinite,
    isinf,
    isnan,
    log,
    manual_seed,
    masked_fill,
    matmul,
    maximum,
    mean,
    minimum,
    multinomial,
    numel,
    ones,
    ones_like,
    permute,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    reshape,
    sort,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    tensor,
    topk,
    transpose,
    tril,
    triu,
    uint8,
    unbind,
    unsqueeze,
    var,
    where,
    zeros,
    zeros_like,
)

# torch.sum, torch.max, ... : module 01 names them tensor_sum, ... (defining `sum` there would hide Python's)
from tinytorch.core.tensor import tensor_abs as abs, tensor_all as all, tensor_any as any  # noqa: A004
from tinytorch.core.tensor import tensor_max as max, tensor_min as min, tensor_sum as sum  # noqa: A004

# PyTorch's short dtype names: torch.float is float32, torch.long is int64, ...
from tinytorch.core.tensor import bool_ as bool, float16 as half, float32 as float, float64 as double  # noqa: A004
from tinytorch.core.tensor import int16 as short, int32 as int, int64 as long  # noqa: A004

from tinytorch.core.tensor import device  # noqa: E402  (torch.device: only "cpu" can be used)
from tinytorch.core.training import load, save  # torch.save / torch.load, without pickle

# Subpackages with PyTorch's names, so `tt.nn.Linear` works like `torch.nn.Linear`.
from tinytorch import autograd, cuda, data, nn, optim, safetensors, training, utils  # noqa: E402,F401


def __getattr__(name: str):
    """torch.set_num_threads / torch.get_num_threads: module 16's, imported only when first asked for."""
    if name in ("set_num_threads", "get_num_threads"):
        from tinytorch.systems import acceleration

        return getattr(acceleration, name)
    raise AttributeError(f"module 'tinytorch' has no attribute {name!r}")
