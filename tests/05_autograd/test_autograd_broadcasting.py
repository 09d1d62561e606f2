"""Property tests: gradients of broadcasting binary ops, for shapes hypothesis picks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from tinytorch.core.autograd import backward, gradcheck, unbroadcast
from tinytorch.core.tensor import Tensor

SHAPES = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3)
OPS = {
    "add": (lambda a, b: a + b, lambda g, a, b: (g, g)),
    "sub": (lambda a, b: a - b, lambda g, a, b: (g, -g)),
    "mul": (lambda a, b: a * b, lambda g, a, b: (g * b, g * a)),
    "div": (lambda a, b: a / b, lambda g, a, b: (g / b, -g * a / b ** 2)),
}


def reduce_to(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """An independent un-broadcast: one axis at a time, the slow obvious way."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def operands(shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a = rng.standard_normal(a_shape)
    b = rng.uniform(0.5, 2.0, b_shape) * rng.choice([-1.0, 1.0], b_shape)  # safe divisor
    return a, b


@settings(max_examples=60, deadline=None)
@given(shapes=SHAPES, op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2**16))
def test_binary_op_gradients_are_unbroadcast_to_each_input(shapes, op, seed):
    forward, local = OPS[op]
    a_data, b_data = operands(shapes, seed)
    a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)
    out = forward(a, b)
    assert out.shape == shapes.result_shape
    g = np.random.default_rng(seed + 1).standard_normal(out.shape)
    backward(out, g)
    a_b, b_b = np.broadcast_to(a_data, out.shape), np.broadcast_to(b_data, out.shape)
    expected_a, expected_b = local(g, a_b, b_b)
    assert a.grad.shape == a_data.shape and b.grad.shape == b_data.shape
    np.testing.assert_allclose(a.grad.data, reduce_to(expected_a, a_data.shape), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.data, reduce_to(expected_b, b_data.shape), rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(shapes=SHAPES, op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2**16))
def test_binary_op_gradients_pass_gradcheck(shapes, op, seed):
    a_data, b_data = operands(shapes, seed)
    assert gradcheck(OPS[op][0], [Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)])


@settings(max_examples=60, deadline=None)
@given(shapes=SHAPES)
def test_unbroadcast_agrees_with_the_slow_reduction(shapes):
    out_shape = shapes.result_shape
    grad = np.arange(float(np.prod(out_shape))).reshape(out_shape)
    for shape in shapes.input_shapes:
        np.testing.assert_allclose(unbroadcast(grad, shape), reduce_to(grad, shape))
        assert unbroadcast(grad, shape).shape == tuple(shape)
