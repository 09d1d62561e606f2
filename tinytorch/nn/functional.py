"""tinytorch.nn.functional: activations, dropout, losses, convolution and pooling as functions, like torch.nn.functional.

Re-exports only.
"""

from tinytorch.core.activations import gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, tanh
from tinytorch.core.layers import dropout
from tinytorch.core.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from tinytorch.core.spatial import adaptive_avg_pool2d, avg_pool2d, batch_norm, conv2d, dropout2d, max_pool2d
