"""Can my framework compute gradients by itself?"""

import numpy as np

REQUIRES = ["01_tensor", "02_activations", "03_layers", "04_losses", "05_autograd"]


def test_gradients_of_a_small_network_pass_a_finite_difference_check():
    from tinytorch.core.activations import tanh
    from tinytorch.core.autograd import gradcheck
    from tinytorch.core.tensor import Tensor

    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    w = Tensor(rng.standard_normal((4, 2)), requires_grad=True, dtype=np.float64)
    assert gradcheck(lambda a, b: (tanh(a @ b) * (a @ b)).sum(), (x, w)), "backward disagrees with finite differences"


def test_backward_accumulates_into_leaves():
    from tinytorch.core.tensor import Tensor

    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data if hasattr(x.grad, "data") else x.grad, [2, 4, 6],
                               err_msg="d(sum x^2)/dx = 2x")  # fmt: skip
