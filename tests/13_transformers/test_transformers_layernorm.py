"""LayerNorm (module 13): values, the exact backward (float64 gradcheck), options, errors."""

from __future__ import annotations

import numpy as np
import pytest
from support import needs_autograd

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor
from tinytorch.text.transformers import LayerNorm, layer_norm

RNG = np.random.default_rng(13)


def f64(*shape, requires_grad: bool = True) -> Tensor:
    return Tensor(RNG.standard_normal(shape), requires_grad=requires_grad)


def standardised(x: np.ndarray, dims: int, eps: float = 1e-5) -> np.ndarray:
    """Each trailing block of `dims` axes with mean 0 and biased variance 1, written out in float64."""
    axes = tuple(range(x.ndim - dims, x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    return centred / np.sqrt((centred ** 2).mean(axis=axes, keepdims=True) + eps)


@pytest.mark.parametrize("shape, normalized", [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 4), (3, 4)),
                                               ((2, 2, 3, 4), (2, 3, 4)), ((7,), (7,))])
def test_values_standardise_the_trailing_axes(shape, normalized):
    x = RNG.standard_normal(shape) * 3 + 1
    layer = LayerNorm(normalized, dtype=np.float64)
    layer.weight.data[...] = RNG.standard_normal(normalized)
    layer.bias.data[...] = RNG.standard_normal(normalized)
    expected = standardised(x, len(normalized)) * layer.weight.data + layer.bias.data
    np.testing.assert_allclose(layer(Tensor(x)).data, expected, rtol=1e-10, atol=1e-12)


def test_eps_goes_inside_the_square_root():
    x = np.array([[1.0, 3.0]])
    out = layer_norm(Tensor(x), 2, eps=1.0).data
    np.testing.assert_allclose(out, [[-1 / np.sqrt(2), 1 / np.sqrt(2)]])
    constant = layer_norm(Tensor(np.full((2, 4), 5.0)), 4).data
    assert np.array_equal(constant, np.zeros((2, 4))), "a constant row normalises to 0 (no division by zero)"


@needs_autograd
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("shape, normalized", [((3, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)),
                                               ((2, 2, 2, 3), (2, 2, 3))])
def test_gradcheck(shape, normalized, affine, bias):
    layer = LayerNorm(normalized, elementwise_affine=affine, bias=bias, dtype=np.float64)
    for p in layer.parameters():
        p.data[...] = RNG.standard_normal(p.shape)
    x = f64(*shape)
    assert gradcheck(lambda t, *params: layer(t), (x, *layer.parameters()))


@needs_autograd
def test_gradcheck_when_only_the_parameters_need_grad():
    layer = LayerNorm(4, dtype=np.float64)
    layer.weight.data[...] = RNG.standard_normal(4)
    x = f64(3, 4, requires_grad=False)
    assert gradcheck(lambda w, b: layer(x), (layer.weight, layer.bias))
    out = layer(x)
    out.sum().backward()
    assert x.grad is None


@needs_autograd
def test_input_gradient_is_orthogonal_to_shift_and_scale():
    # With eps = 0, x̂ does not change when a row is shifted or scaled, so dL/dx has zero sum and
    # zero dot product with x per row (a shift and a scaling of x are invisible to the loss).
    x = f64(5, 8)
    out = layer_norm(x, 8, eps=0.0)
    out.backward(Tensor(RNG.standard_normal((5, 8))))
    xhat = x.data
    np.testing.assert_allclose(x.grad.data.sum(-1), 0, atol=1e-12)
    np.testing.assert_allclose((x.grad.data * xhat).sum(-1), 0, atol=1e-10)


def test_float32_in_float32_out_and_parameters():
    layer = LayerNorm((3, 4))
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert np.array_equal(layer.weight.data, np.ones((3, 4))) and np.array_equal(layer.bias.data, np.zeros((3, 4)))
    out = layer(Tensor(RNG.standard_normal((2, 3, 4)).astype(np.float32)))
    assert out.dtype == np.float32
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert [name for name, _ in LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    assert list(LayerNorm(4, elementwise_affine=False).parameters()) == []
    assert repr(LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True)"


def test_reset_parameters_restores_ones_and_zeros():
    layer = LayerNorm(3)
    layer.weight.data[...] = 7
    layer.bias.data[...] = 7
    layer.reset_parameters()
    assert layer.weight.data.tolist() == [1, 1, 1] and layer.bias.data.tolist() == [0, 0, 0]


@pytest.mark.parametrize("value", [0, -2, (), (3, 0), 2.5, "4", True, None])
def test_bad_normalized_shape(value):
    with pytest.raises(ValueError, match="normalized_shape"):
        LayerNorm(value)


def test_input_that_does_not_end_in_normalized_shape():
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(4,\)"):
        LayerNorm(4)(Tensor(np.zeros((2, 5), dtype=np.float32)))
    with pytest.raises(ValueError, match="normalized_shape"):
        LayerNorm((2, 4))(Tensor(np.zeros(4, dtype=np.float32)))


def test_bad_inputs_name_the_argument():
    with pytest.raises(TypeError, match="input must be a Tensor"):
        layer_norm(np.zeros((2, 3)), 3)
    with pytest.raises(TypeError, match="floating-point"):
        layer_norm(Tensor(np.zeros((2, 3), dtype=np.int64)), 3)
    with pytest.raises(ValueError, match=r"weight must be a Tensor of shape \(3,\)"):
        layer_norm(Tensor(np.zeros((2, 3))), 3, weight=Tensor(np.ones(4)))
    with pytest.raises(TypeError, match="bias dtype float32 does not match"):
        layer_norm(Tensor(np.zeros((2, 3))), 3, bias=Tensor(np.zeros(3, dtype=np.float32)))
    with pytest.raises(ValueError, match="eps"):
        LayerNorm(3, eps=-1.0)
    with pytest.raises(TypeError, match="dtype"):
        LayerNorm(3, dtype=np.int32)


@needs_autograd
def test_layer_norm_matches_the_formula_written_out_inline():
    # The formula spelled out with module 01's ops (module 05's rules) is the oracle for layer_norm.
    x = f64(4, 6)
    w = Tensor(RNG.standard_normal(6), requires_grad=True)
    b = Tensor(RNG.standard_normal(6), requires_grad=True)
    centred = x - x.mean(-1, keepdim=True)
    spread = ((centred * centred).mean(-1, keepdim=True) + 1e-5).sqrt()
    composed = centred / spread * w + b
    gout = Tensor(RNG.standard_normal((4, 6)))
    composed.backward(gout)
    expected = [t.grad.data.copy() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    ours = layer_norm(x, 6, w, b)
    np.testing.assert_allclose(ours.data, composed.data, rtol=1e-12, atol=1e-12)
    ours.backward(gout)
    for t, want in zip((x, w, b), expected):
        np.testing.assert_allclose(t.grad.data, want, rtol=1e-10, atol=1e-12)
