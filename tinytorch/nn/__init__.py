"""tinytorch.nn: Modules (layers, activations, losses), like torch.nn. Re-exports only."""

from tinytorch.core.layers import (
    GELU,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Module,
    ModuleList,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from tinytorch.core.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from tinytorch.nn import functional, init, utils
