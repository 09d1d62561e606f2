"""Can I fit a model by gradient descent?"""

import numpy as np

REQUIRES = ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd", "06_optimizers"]


def test_adam_recovers_the_weights_of_a_linear_relation():
    import tinytorch.nn as nn
    import tinytorch.optim as optim
    from tinytorch.core.tensor import Tensor

    rng = np.random.default_rng(2)
    x = rng.standard_normal((256, 3)).astype(np.float32)
    true_w = np.array([[2.0], [-1.0], [0.5]], dtype=np.float32)
    y = x @ true_w + 0.25
    model = nn.Linear(3, 1)
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        loss = nn.MSELoss()(model(Tensor(x)), Tensor(y))
        loss.backward()
        optimizer.step()
    assert float(loss.data) < 1e-3, f"after 300 Adam steps the loss should be ~0, got {float(loss.data):.4g}"
    np.testing.assert_allclose(model.weight.data.reshape(-1), true_w.reshape(-1), atol=0.02,
                               err_msg="the learned weights should be close to [2, -1, 0.5]")  # fmt: skip
