"""Can I make a network nonlinear with activations?"""

import numpy as np

REQUIRES = ["01_tensor", "02_activations"]


def test_activations_match_their_formulas_and_stay_finite():
    from tinytorch.core.activations import relu, sigmoid, softmax
    from tinytorch.core.tensor import Tensor

    x = np.array([[-3.0, 0.0, 2.0], [1000.0, -1000.0, 0.5]], dtype=np.float32)
    np.testing.assert_allclose(relu(Tensor(x)).data, np.maximum(x, 0), err_msg="relu is max(0, x)")
    probs = softmax(Tensor(x), dim=1).data
    assert np.isfinite(probs).all(), "softmax must not overflow for logits of 1000: subtract the row max first"
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6, err_msg="each softmax row must sum to 1")
    s = sigmoid(Tensor(x)).data
    assert np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all(), "sigmoid stays in [0, 1] for any x"
