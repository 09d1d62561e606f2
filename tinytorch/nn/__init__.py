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
from tinytorch.core.spatial import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout2d,
    MaxPool2d,
)
from tinytorch.nn import functional, init, utils
from tinytorch.text.attention import CausalSelfAttention, MultiheadAttention
from tinytorch.text.embeddings import Embedding, PositionalEmbedding, SinusoidalPositionalEncoding
from tinytorch.text.transformers import LayerNorm, TransformerBlock
