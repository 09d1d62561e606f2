"""tinytorch.nn.functional: activations, linear, dropout, pad, one_hot, losses, convolution and pooling as
functions, like torch.nn.functional.

Re-exports only.
"""

from tinytorch.core.activations import gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, tanh
from tinytorch.core.layers import dropout, linear, one_hot, pad
from tinytorch.core.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from tinytorch.core.spatial import adaptive_avg_pool2d, avg_pool2d, batch_norm, conv2d, dropout2d, max_pool2d
from tinytorch.text.attention import scaled_dot_product_attention
from tinytorch.text.embeddings import embedding
from tinytorch.text.transformers import layer_norm
