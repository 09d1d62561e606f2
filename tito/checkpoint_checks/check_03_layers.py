"""Can I compose layers into a model with parameters I can save?"""

import numpy as np

REQUIRES = ["01_tensor", "02_activations", "03_layers"]


def test_a_sequential_mlp_has_the_right_shape_parameters_and_state():
    import tinytorch.nn as nn
    from tinytorch.core.tensor import Tensor

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    out = model(Tensor(np.ones((2, 4), dtype=np.float32)))
    assert out.shape == (2, 3), f"a batch of 2 through Linear(4,8)-ReLU-Linear(8,3) gives (2, 3), got {out.shape}"
    count = sum(p.data.size for p in model.parameters())
    assert count == 4 * 8 + 8 + 8 * 3 + 3, f"expected 67 parameters (weights and biases), found {count}"
    copy = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy(Tensor(np.ones((2, 4), dtype=np.float32))).data, out.data)
