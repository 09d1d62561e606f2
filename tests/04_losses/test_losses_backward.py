"""Module 04 with module 05's engine: loss gradients by closed form and by finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from support import needs_autograd

from tinytorch.core.autograd import gradcheck
from tinytorch.core.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from tinytorch.core.tensor import Tensor

pytestmark = needs_autograd

RNG = np.random.default_rng(0)


def leaf(array):
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True)


def longs(values):
    return Tensor(np.array(values, dtype=np.int64))


def softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_summed_weights():
    z = leaf(RNG.standard_normal((4, 3)))
    y = np.array([0, 2, -100, 1])
    w = np.array([1.0, 2.0, 0.5])
    cross_entropy(z, Tensor(y), weight=Tensor(w)).backward()
    one_hot = np.zeros((4, 3))
    one_hot[[0, 1, 3], y[[0, 1, 3]]] = 1
    row_weight = np.where(y == -100, 0.0, w[np.where(y == -100, 0, y)])
    expected = row_weight[:, None] * (softmax_rows(z.data) - one_hot) / row_weight.sum()
    np.testing.assert_allclose(z.grad.data, expected, rtol=1e-12, atol=1e-15)


def test_label_smoothing_gradient_is_softmax_minus_smoothed_target():
    z = leaf(RNG.standard_normal((5, 4)))
    y = np.array([0, 1, 2, 3, 0])
    eps = 0.2
    cross_entropy(z, Tensor(y), label_smoothing=eps, reduction="sum").backward()
    target = np.full((5, 4), eps / 4)
    target[np.arange(5), y] += 1 - eps
    np.testing.assert_allclose(z.grad.data, softmax_rows(z.data) - target, rtol=1e-12, atol=1e-15)


def test_gradients_are_finite_for_huge_logits():
    z = Tensor(np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=np.float32), requires_grad=True)
    cross_entropy(z, longs([1, 1])).backward()
    np.testing.assert_allclose(z.grad.data, [[0.5, -0.5], [0.0, 0.0]], atol=1e-6)
    assert z.grad.dtype == np.float32
    z = Tensor(np.array([1e4, -1e4], dtype=np.float32), requires_grad=True)
    binary_cross_entropy_with_logits(z, Tensor(np.array([0.0, 1.0], dtype=np.float32))).backward()
    np.testing.assert_allclose(z.grad.data, [0.5, -0.5])


def test_mse_gradient():
    x, y = leaf([1.0, 2.0, 4.0]), leaf([0.0, 2.0, 1.0])
    mse_loss(x, y).backward()
    np.testing.assert_allclose(x.grad.data, 2 * (x.data - y.data) / 3)
    np.testing.assert_allclose(y.grad.data, -2 * (x.data - y.data) / 3)


def test_bce_with_logits_gradient_is_sigmoid_minus_target():
    z, y = leaf(RNG.standard_normal(6)), RNG.random(6)
    binary_cross_entropy_with_logits(z, Tensor(y), reduction="sum").backward()
    np.testing.assert_allclose(z.grad.data, 1 / (1 + np.exp(-z.data)) - y, rtol=1e-12)


CASES = [
    ("cross_entropy", lambda z: cross_entropy(z, longs([0, 2, 1]))),
    ("cross_entropy weighted+smoothed", lambda z: cross_entropy(
        z, longs([0, -100, 1]), weight=Tensor(np.array([0.5, 2.0, 1.0])), label_smoothing=0.3)),
    ("cross_entropy none", lambda z: cross_entropy(z, longs([2, 2, 0]), reduction="none")),
    ("nll_loss", lambda z: nll_loss(z, longs([1, 0, 2]), weight=Tensor(np.array([1.0, 3.0, 2.0])))),
    ("mse_loss", lambda z: mse_loss(z, Tensor(np.ones((3, 3))))),
    ("bce", lambda z: binary_cross_entropy(1 / (1 + (-z).exp()), Tensor(np.full((3, 3), 0.3)))),
    ("bce_with_logits", lambda z: binary_cross_entropy_with_logits(
        z, Tensor(np.full((3, 3), 0.7)), weight=Tensor(np.array([1.0, 2.0, 0.5])),
        pos_weight=Tensor(np.array([2.0, 1.0, 3.0])))),
]


@pytest.mark.parametrize("name, fn", CASES, ids=[c[0] for c in CASES])
def test_loss_gradcheck(name, fn):
    assert gradcheck(fn, (leaf(RNG.standard_normal((3, 3))),))


def test_spatial_and_unbatched_cross_entropy_gradcheck():
    target = Tensor(np.array([[0, 1], [2, -100]]))
    assert gradcheck(lambda z: cross_entropy(z, target, label_smoothing=0.1), (leaf(RNG.standard_normal((2, 3, 2))),))
    assert gradcheck(lambda z: cross_entropy(z, longs(1)), (leaf(RNG.standard_normal(4)),))
