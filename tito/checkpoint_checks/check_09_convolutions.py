"""Can I see with convolutions and pooling?"""

import numpy as np

REQUIRES = ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd", "09_spatial"]


def test_a_conv_net_has_the_right_shapes_and_correct_gradients():
    import tinytorch.nn as nn
    from tinytorch.core.autograd import gradcheck
    from tinytorch.core.tensor import Tensor

    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10)
    )
    out = net(Tensor(np.zeros((2, 1, 8, 8), dtype=np.float32)))
    assert out.shape == (2, 10), (
        f"(2, 1, 8, 8) -> conv(pad 1) -> pool 2 -> flatten -> Linear gives (2, 10), got {out.shape}"
    )
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    for parameter in conv.parameters():
        parameter.data = parameter.data.astype(np.float64)
    x = Tensor(np.random.default_rng(3).standard_normal((1, 2, 5, 5)), requires_grad=True, dtype=np.float64)
    assert gradcheck(lambda t: conv(t).sum() * 1.0, (x,)), "Conv2d's input gradient disagrees with finite differences"
