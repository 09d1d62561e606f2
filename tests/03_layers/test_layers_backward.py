"""Module 03 with module 05's engine: Linear, Dropout and Flatten gradients, and a training step."""

from __future__ import annotations

import numpy as np
from support import needs_autograd

from tinytorch.core.autograd import gradcheck
from tinytorch.core.layers import Dropout, Flatten, Linear, ReLU, Sequential
from tinytorch.core.losses import cross_entropy
from tinytorch.core.tensor import Tensor, manual_seed

pytestmark = needs_autograd


def test_linear_gradients_by_closed_form():
    layer = Linear(3, 2, dtype=np.float64)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    g = np.random.default_rng(1).standard_normal((4, 2))
    layer(x).backward(Tensor(g))
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x.data)
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(axis=0))
    np.testing.assert_allclose(x.grad.data, g @ layer.weight.data)


def test_linear_gradcheck_with_batch_dimensions():
    layer = Linear(3, 2, dtype=np.float64)
    x = Tensor(np.random.default_rng(2).standard_normal((2, 4, 3)), requires_grad=True)
    assert gradcheck(lambda x, w, b: layer(x), (x, layer.weight, layer.bias))


def test_dropout_gradient_is_the_mask():
    manual_seed(0)
    x = Tensor(np.ones((50, 40), dtype=np.float32), requires_grad=True)
    out = Dropout(0.4)(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, out.data)


def test_flatten_gradient_has_the_input_shape():
    x = Tensor(np.ones((2, 3, 4), dtype=np.float32), requires_grad=True)
    Flatten()(x).sum().backward()
    assert x.grad.shape == (2, 3, 4) and (x.grad.data == 1).all()


def test_a_few_training_steps_reduce_the_loss():
    manual_seed(0)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((64, 4)).astype(np.float32))
    y = Tensor((x.data[:, 0] + x.data[:, 1] > 0).astype(np.int64))
    model = Sequential(Linear(4, 16), ReLU(), Linear(16, 2))
    losses = []
    for _ in range(30):
        model.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
