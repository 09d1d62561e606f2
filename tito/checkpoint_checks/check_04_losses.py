"""Can I measure how wrong a prediction is?"""

import math

import numpy as np

REQUIRES = ["01_tensor", "02_activations", "03_layers", "04_losses"]


def test_cross_entropy_of_a_clueless_model_is_log_of_the_class_count():
    import tinytorch.nn as nn
    from tinytorch.core.tensor import Tensor

    logits = Tensor(np.zeros((6, 10), dtype=np.float32))
    targets = Tensor(np.arange(6) % 10)
    loss = nn.CrossEntropyLoss()(logits, targets)
    assert math.isclose(float(loss.data), math.log(10), rel_tol=1e-5), (
        f"uniform logits over 10 classes cost log(10) = {math.log(10):.4f}, got {float(loss.data):.4f}"
    )


def test_mse_is_the_mean_squared_difference():
    import tinytorch.nn as nn
    from tinytorch.core.tensor import Tensor

    loss = nn.MSELoss()(Tensor([1.0, 2.0, 4.0]), Tensor([1.0, 0.0, 1.0]))
    assert math.isclose(float(loss.data), (0 + 4 + 9) / 3, rel_tol=1e-6), f"expected 13/3, got {float(loss.data)}"
