"""Every op of docs/autograd.md checked against float64 finite differences (gradcheck).

Inputs are kept away from kinks (relu at 0, abs at 0, clamp bounds, max ties) where a
derivative does not exist; those points have their own exact tests at the bottom.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core import activations as A
from tinytorch.core.autograd import GRADIENT_RULES, GradcheckError, backward, gradcheck
from tinytorch.core.tensor import Tensor, cat, maximum, minimum, stack, tril, where

rng = np.random.default_rng(5)


def losses():
    """Module 04's package file (imported when a loss case runs, so other cases never need it)."""
    return importlib.import_module("tinytorch.core.losses")


def t(*shape, low=None, high=None, grad=True, away_from=None, scale=1.0):
    """A float64 leaf: normal (times scale), or uniform in [low, high); `away_from` pushes
    values off a kink."""
    data = rng.standard_normal(shape) * scale if low is None else rng.uniform(low, high, shape)
    for kink in np.atleast_1d(away_from if away_from is not None else []):
        data = np.where(np.abs(data - kink) < 0.1, data + 0.25, data)
    return Tensor(data, requires_grad=grad)


def const(data):
    return Tensor(np.asarray(data))


def labels(n_classes, shape):
    return Tensor(rng.integers(0, n_classes, shape).astype(np.int64))


def distinct(*shape):
    """Well-separated values (no ties, so max/min have a derivative)."""
    values = rng.permutation(np.prod(shape)).reshape(shape) * 0.5 + rng.uniform(0, 0.1, shape)
    return Tensor(values, requires_grad=True)


CASES = {
    # arithmetic, with broadcasting on either side
    "add": (lambda a, b: a + b, lambda: [t(3, 1), t(1, 4)]),
    "add scalar": (lambda a: 2.0 + a, lambda: [t(2, 3)]),
    "add same shape": (lambda a, b: a + b, lambda: [t(2, 3), t(2, 3)]),
    "sub": (lambda a, b: a - b, lambda: [t(2, 3), t(3)]),
    "rsub": (lambda a: 1.0 - a, lambda: [t(4)]),
    "mul": (lambda a, b: a * b, lambda: [t(2, 1, 3), t(4, 1)]),
    "mul self": (lambda a: a * a, lambda: [t(5)]),
    "div": (lambda a, b: a / b, lambda: [t(2, 3), t(3, low=0.5, high=2)]),
    "div broadcast numerator": (lambda a, b: a / b, lambda: [t(3), t(2, 3, low=0.5, high=2)]),
    "rdiv": (lambda a: 3.0 / a, lambda: [t(4, low=0.5, high=2)]),
    "neg": (lambda a: -a, lambda: [t(2, 2)]),
    "pow int": (lambda a: a ** 3, lambda: [t(5)]),
    "pow fractional": (lambda a: a ** 1.5, lambda: [t(5, low=0.5, high=2)]),
    "pow negative": (lambda a: a ** -2, lambda: [t(5, low=0.5, high=2)]),
    "pow tensor exponent": (lambda a, b: a ** b, lambda: [t(2, 3, low=0.5, high=2), t(3)]),
    "rpow": (lambda a: 2.0 ** a, lambda: [t(4)]),
    # matmul, all of NumPy's cases
    "matmul 2-D": (lambda a, b: a @ b, lambda: [t(3, 4), t(4, 2)]),
    "matmul batched": (lambda a, b: a @ b, lambda: [t(2, 3, 4), t(2, 4, 2)]),
    "matmul batch broadcast": (lambda a, b: a @ b, lambda: [t(2, 1, 3, 4), t(3, 4, 2)]),
    "matmul 3-D @ 2-D": (lambda a, b: a @ b, lambda: [t(2, 3, 4), t(4, 5)]),
    "matmul 2-D @ 3-D": (lambda a, b: a @ b, lambda: [t(3, 4), t(2, 4, 5)]),
    "matmul 1-D @ 2-D": (lambda a, b: a @ b, lambda: [t(4), t(4, 3)]),
    "matmul 1-D @ 3-D": (lambda a, b: a @ b, lambda: [t(4), t(2, 4, 3)]),
    "matmul 2-D @ 1-D": (lambda a, b: a @ b, lambda: [t(3, 4), t(4)]),
    "matmul 3-D @ 1-D": (lambda a, b: a @ b, lambda: [t(2, 3, 4), t(4)]),
    "matmul dot": (lambda a, b: a @ b, lambda: [t(5), t(5)]),
    "matmul constant left": (lambda a, b: a @ b, lambda: [t(3, 4, grad=False), t(4, 2)]),
    # reductions
    "sum all": (lambda a: a.sum(), lambda: [t(3, 4)]),
    "sum dim": (lambda a: a.sum(1), lambda: [t(3, 4)]),
    "sum dims": (lambda a: a.sum((0, 2)), lambda: [t(2, 3, 4)]),
    "sum keepdim": (lambda a: a.sum(-1, keepdim=True), lambda: [t(2, 3, 4)]),
    "mean all": (lambda a: a.mean(), lambda: [t(3, 4)]),
    "mean dims keepdim": (lambda a: a.mean((0, 1), keepdim=True), lambda: [t(2, 3, 4)]),
    "max all": (lambda a: a.max(), lambda: [distinct(3, 4)]),
    "max dim": (lambda a: a.max(1), lambda: [distinct(3, 4)]),
    "max dim keepdim": (lambda a: a.max(0, keepdim=True).values, lambda: [distinct(2, 3, 4)]),
    "min all": (lambda a: a.min(), lambda: [distinct(3, 4)]),
    "min dim": (lambda a: a.min(-1).values, lambda: [distinct(2, 3, 4)]),
    "var all": (lambda a: a.var(), lambda: [t(3, 4)]),
    "var dim": (lambda a: a.var(1), lambda: [t(3, 4)]),
    "var dims keepdim correction 0": (lambda a: a.var((0, 2), keepdim=True, correction=0),
                                      lambda: [t(2, 3, 4)]),
    "std": (lambda a: a.std(0), lambda: [t(5, 3)]),
    # elementwise
    "exp": (lambda a: a.exp(), lambda: [t(3, 4)]),
    "log": (lambda a: a.log(), lambda: [t(3, 4, low=0.2, high=3)]),
    "sqrt": (lambda a: a.sqrt(), lambda: [t(3, 4, low=0.2, high=3)]),
    "abs": (lambda a: a.abs(), lambda: [t(3, 4, away_from=0.0)]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5), lambda: [t(12, away_from=(-0.5, 0.5))]),
    "clamp min": (lambda a: a.clamp(min=0.0), lambda: [t(3, 4, away_from=0.0)]),
    "clamp max": (lambda a: a.clamp(max=0.3), lambda: [t(3, 4, away_from=0.3)]),
    # shape
    "reshape": (lambda a: a.reshape(4, 3), lambda: [t(2, 6)]),
    "view infer": (lambda a: a.view(-1, 4), lambda: [t(2, 3, 4)]),
    "flatten": (lambda a: a.flatten(1), lambda: [t(2, 3, 4)]),
    "squeeze unsqueeze": (lambda a: a.squeeze(1).unsqueeze(0), lambda: [t(3, 1, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1), lambda: [t(2, 3, 4)]),
    "transpose": (lambda a: a.transpose(0, 1), lambda: [t(3, 4)]),
    "T": (lambda a: a.T, lambda: [t(2, 3, 4)]),
    "expand": (lambda a: a.expand(2, 3, 4), lambda: [t(3, 1)]),
    "expand keep": (lambda a: a.expand(-1, 5), lambda: [t(3, 1)]),
    "cat": (lambda a, b, c: cat([a, b, c], dim=1), lambda: [t(2, 2), t(2, 3), t(2, 1)]),
    "cat negative dim": (lambda a, b: cat([a, b], dim=-1), lambda: [t(2, 3, 1), t(2, 3, 2)]),
    "stack": (lambda a, b: stack([a, b], dim=0), lambda: [t(2, 3), t(2, 3)]),
    "stack last": (lambda a, b, c: stack([a, b, c], dim=-1), lambda: [t(2, 3), t(2, 3), t(2, 3)]),
    "getitem slice": (lambda a: a[1:, ::2], lambda: [t(4, 5)]),
    "getitem int": (lambda a: a[1], lambda: [t(3, 4)]),
    "getitem ellipsis none": (lambda a: a[..., None, 1], lambda: [t(2, 3, 4)]),
    "getitem repeated rows": (lambda a: a[np.array([0, 2, 0, 0])], lambda: [t(3, 4)]),
    "getitem repeated pairs": (lambda a: a[[0, 1, 1, 0], [2, 0, 0, 2]], lambda: [t(3, 4)]),
    "getitem tensor index": (lambda a: a[Tensor(np.array([1, 1, 2]))], lambda: [t(3, 2)]),
    "getitem mixed": (lambda a: a[:, [1, 1, 3]], lambda: [t(3, 4)]),
    "getitem bool mask": (lambda a: a[a.data > 0], lambda: [t(3, 4)]),
    # masks, triangles and pieces (transformers)
    "masked_fill": (lambda a: a.masked_fill(Tensor(np.array([True, False, True])), -3.0), lambda: [t(2, 3)]),
    "masked_fill value tensor": (lambda a, v: a.masked_fill(Tensor(np.array([[True], [False]])), v),
                                 lambda: [t(2, 3), t()]),
    "masked_fill broadcast input": (lambda a: a.masked_fill(Tensor(np.eye(3, dtype=bool)), 0.0),
                                    lambda: [t(3)]),
    "where": (lambda a, b: where(Tensor(np.array([[True, False, True]])), a, b), lambda: [t(2, 3), t(2, 1)]),
    "where scalar other": (lambda a: a.where(Tensor(np.array([True, False])), 0.0), lambda: [t(3, 2)]),
    "tril": (lambda a: a.tril(), lambda: [t(3, 4)]),
    "tril batched diagonal": (lambda a: tril(a, -1), lambda: [t(2, 3, 3)]),
    "triu": (lambda a: a.triu(1), lambda: [t(2, 4, 3)]),
    "split": (lambda a: a.split(2, dim=1)[1] * 3 + a.split([3, 1], dim=1)[0][:, :2], lambda: [t(3, 4)]),
    "chunk": (lambda a: cat(list(a.chunk(3, dim=0))[::-1]), lambda: [t(5, 2)]),
    "unbind": (lambda a: stack([p * (i + 1) for i, p in enumerate(a.unbind(-1))]), lambda: [t(2, 3)]),
    "contiguous view": (lambda a: a.transpose(1, 2).contiguous().view(2, -1), lambda: [t(2, 3, 4)]),
    # conversions and selections (PyTorch compatibility)
    "clone": (lambda a: a.clone() * a, lambda: [t(2, 3)]),
    "clone of a transpose": (lambda a: a.T.clone(), lambda: [t(2, 3)]),
    "cast float64 to float64 and back": (lambda a: a.to(tt.float64).double(), lambda: [t(3)]),
    "repeat": (lambda a: a.repeat(2, 1, 3), lambda: [t(2, 3)]),
    "maximum": (lambda a, b: maximum(a, b), lambda: [t(2, 3), t(3)]),
    "minimum scalar": (lambda a: minimum(a, 0.2), lambda: [t(3, 4, away_from=0.2)]),
    "max with a tensor": (lambda a, b: a.max(b) * a.min(b), lambda: [t(4), t(4)]),
    "gather": (lambda a: a.gather(1, Tensor(np.array([[0, 0, 2], [1, 1, 1]]))), lambda: [t(2, 3)]),
    "gather dim 0 smaller index": (lambda a: a.gather(0, Tensor(np.array([[2, 0]]))), lambda: [t(3, 4)]),
    "sort descending": (lambda a: a.sort(dim=0, descending=True).values, lambda: [distinct(3, 4)]),
    "topk": (lambda a: a.topk(2, dim=-1).values, lambda: [distinct(3, 5)]),
    "topk smallest": (lambda a: a.topk(3, largest=False).values, lambda: [distinct(6)]),
    "t and mT": (lambda a, b: a.t() @ b.mT[0], lambda: [t(3, 2), t(2, 4, 3)]),
    "causal attention scores": (
        lambda q, k: A.softmax((q @ k.transpose(-2, -1)).masked_fill(tril(Tensor(np.ones((3, 3)))) == 0,
                                                                     float("-inf")), dim=-1),
        lambda: [t(2, 2, 3, 4), t(2, 2, 3, 4)]),
    # activations (module 02)
    "relu": (A.relu, lambda: [t(3, 4, away_from=0.0)]),
    "leaky_relu": (lambda a: A.leaky_relu(a, 0.2), lambda: [t(3, 4, away_from=0.0)]),
    "leaky_relu default": (A.leaky_relu, lambda: [t(3, 4, away_from=0.0)]),
    "sigmoid": (A.sigmoid, lambda: [t(3, 4)]),
    "tanh": (A.tanh, lambda: [t(3, 4)]),
    "gelu": (A.gelu, lambda: [t(3, 4, scale=2)]),
    "gelu tanh": (lambda a: A.gelu(a, approximate="tanh"), lambda: [t(3, 4, scale=2)]),
    "silu": (A.silu, lambda: [t(3, 4, scale=2)]),
    "softmax": (lambda a: A.softmax(a, dim=1), lambda: [t(3, 4)]),
    "softmax dim 0": (lambda a: A.softmax(a, dim=0), lambda: [t(3, 4)]),
    "log_softmax": (lambda a: A.log_softmax(a, dim=-1), lambda: [t(3, 4)]),
    "log_softmax 3-D": (lambda a: A.log_softmax(a, dim=1), lambda: [t(2, 3, 4)]),
    "activation modules": (lambda a: A.Softmax(dim=1)(A.GELU()(A.LeakyReLU(0.1)(a))),
                           lambda: [t(2, 3, away_from=0.0)]),
    # losses (module 04)
    "mse_loss": (lambda a, b: losses().mse_loss(a, b), lambda: [t(3, 4), t(3, 4)]),
    "cross_entropy": (lambda x: losses().cross_entropy(x, TARGET), lambda: [t(6, 4)]),
    "cross_entropy sum": (lambda x: losses().cross_entropy(x, TARGET, reduction="sum"),
                          lambda: [t(6, 4)]),
    "cross_entropy none": (lambda x: losses().cross_entropy(x, TARGET, reduction="none"),
                           lambda: [t(6, 4)]),
    "cross_entropy weight": (lambda x: losses().cross_entropy(x, TARGET, weight=WEIGHT),
                             lambda: [t(6, 4)]),
    "cross_entropy ignore_index": (lambda x: losses().cross_entropy(x, IGNORED),
                                   lambda: [t(6, 4)]),
    "cross_entropy label_smoothing": (lambda x: losses().cross_entropy(x, TARGET, label_smoothing=0.2),
                                      lambda: [t(6, 4)]),
    "cross_entropy everything": (lambda x: losses().cross_entropy(
        x, IGNORED, weight=WEIGHT, label_smoothing=0.1, reduction="mean"), lambda: [t(6, 4)]),
    "cross_entropy spatial": (lambda x: losses().cross_entropy(x, SPATIAL), lambda: [t(2, 4, 3)]),
    "cross_entropy module": (lambda x: losses().CrossEntropyLoss(label_smoothing=0.1)(x, TARGET),
                             lambda: [t(6, 4)]),
    "nll_loss": (lambda x: losses().nll_loss(A.log_softmax(x, dim=1), IGNORED, weight=WEIGHT),
                 lambda: [t(6, 4)]),
    "binary_cross_entropy": (lambda p, y: losses().binary_cross_entropy(p, y),
                             lambda: [t(3, 4, low=0.05, high=0.95), t(3, 4, low=0, high=1)]),
    "binary_cross_entropy weight sum": (
        lambda p: losses().binary_cross_entropy(p, HARD, weight=ROW_WEIGHT, reduction="sum"),
        lambda: [t(3, 4, low=0.05, high=0.95)]),
    "binary_cross_entropy_with_logits": (
        lambda z, y: losses().binary_cross_entropy_with_logits(z, y),
        lambda: [t(3, 4, scale=3), t(3, 4, low=0, high=1)]),
    "binary_cross_entropy_with_logits weights": (
        lambda z, y: losses().binary_cross_entropy_with_logits(
            z, y, weight=ROW_WEIGHT, pos_weight=COL_WEIGHT, reduction="none"),
        lambda: [t(3, 4, scale=3), t(3, 4, low=0, high=1)]),
    "BCEWithLogitsLoss module": (lambda z: losses().BCEWithLogitsLoss(pos_weight=COL_WEIGHT)(z, HARD),
                                 lambda: [t(3, 4)]),
}

TARGET = Tensor(np.array([0, 3, 1, 1, 2, 0]))
IGNORED = Tensor(np.array([0, -100, 1, 3, -100, 2]))
SPATIAL = Tensor(np.array([[0, 3, 1], [2, 2, 0]]))
WEIGHT = Tensor(np.array([0.5, 2.0, 1.0, 1.5]))
HARD = Tensor(np.array([[1.0, 0, 0, 1], [0, 1, 1, 0], [1, 1, 0, 0]]))
ROW_WEIGHT = Tensor(np.array([[0.5], [1.0], [2.0]]))
COL_WEIGHT = Tensor(np.array([3.0, 0.5, 1.0, 2.0]))


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    fn, make_inputs = CASES[name]
    assert gradcheck(fn, make_inputs())


def test_every_op_with_a_rule_is_checked_here():
    """A new entry in GRADIENT_RULES without a case here would go unchecked."""
    covered = {
        "add", "sub", "mul", "div", "neg", "pow", "matmul", "sum", "mean", "max", "min", "var",
        "exp", "sqrt", "log", "abs", "clamp", "reshape", "permute", "expand", "cat", "stack",
        "getitem", "masked_fill", "where", "tril", "triu", "cast", "clone", "maximum", "minimum", "gather",
        "relu", "leaky_relu", "sigmoid", "tanh",
        "gelu", "silu", "softmax", "log_softmax", "nll_loss", "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
    }
    assert set(GRADIENT_RULES) == covered


# ----- points without a derivative: PyTorch's conventions, exactly --------------------------------
def grad_of(fn, values):
    x = Tensor(np.array(values, dtype=np.float64), requires_grad=True)
    backward(fn(x).sum())
    return x.grad.data


def test_max_and_min_split_the_gradient_evenly_among_ties():
    np.testing.assert_allclose(grad_of(lambda x: x.max(), [1.0, 3.0, 3.0, 3.0]), [0, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(grad_of(lambda x: x.min(), [[0.0, 2.0], [0.0, 0.0]]), [[1 / 3, 0], [1 / 3, 1 / 3]])


def test_max_with_dim_sends_the_gradient_to_the_returned_index_only():
    x = Tensor(np.array([[1.0, 4.0, 4.0], [2.0, 2.0, 0.0]]), requires_grad=True)
    values, indices = x.max(1)
    backward(values.sum())
    expected = np.zeros((2, 3))
    expected[np.arange(2), indices.data] = 1
    np.testing.assert_allclose(x.grad.data, expected)


def test_clamp_passes_the_gradient_at_its_bounds():
    np.testing.assert_allclose(grad_of(lambda x: x.clamp(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0]),
                               [0, 1, 1, 1, 0])


def test_kinks_at_zero():
    np.testing.assert_allclose(grad_of(A.relu, [-1.0, 0.0, 1.0]), [0, 0, 1])
    np.testing.assert_allclose(grad_of(lambda x: A.leaky_relu(x, 0.1), [-1.0, 0.0, 1.0]), [0.1, 0.1, 1])
    np.testing.assert_allclose(grad_of(lambda x: x.abs(), [-1.0, 0.0, 1.0]), [-1, 0, 1])
    np.testing.assert_allclose(grad_of(lambda x: x ** 0, [0.0, 2.0]), [0, 0])
    np.testing.assert_allclose(grad_of(lambda x: x ** 2, [0.0, -3.0]), [0, -6])


def test_getitem_repeated_indices_accumulate():
    np.testing.assert_allclose(grad_of(lambda x: x[np.array([0, 0, 2, 0])], [1.0, 2.0, 3.0]), [3, 0, 1])


def test_binary_cross_entropy_gradient_with_probabilities_at_zero_and_one():
    p = Tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 0.0, 1.0]))
    loss = losses().binary_cross_entropy(p, y, reduction="sum")
    np.testing.assert_allclose(loss.item(), 200.0)  # each log clamped at -100
    backward(loss)
    np.testing.assert_allclose(p.grad.data, [-1e12, 1e12, 0, 0])  # (p - y) / max(p(1 - p), 1e-12)


def test_float32_activations_and_losses_keep_float32_gradients():
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    loss = losses().cross_entropy(A.gelu(x), Tensor(np.array([0, 1, 2, 0])), label_smoothing=0.1)
    backward(loss)
    assert x.grad.dtype == np.float32


def test_a_wrong_rule_is_caught_by_gradcheck(monkeypatch):
    """The checks above can fail: break one rule and gradcheck must notice."""
    import tinytorch.core.autograd as autograd

    monkeypatch.setitem(autograd.GRADIENT_RULES, "exp", lambda node, grad: (grad,))
    with pytest.raises(GradcheckError):
        gradcheck(lambda a: a.exp(), [t(3)])
