"""tinytorch.nn.init: in-place weight initialisation, like torch.nn.init. Re-exports only."""

from tinytorch.core.layers import (
    calculate_gain,
    constant_,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    ones_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)
