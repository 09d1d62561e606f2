"""Function (ops that bring their own backward) and gradcheck (which must be able to fail)."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import (
    Function,
    GradcheckError,
    backward,
    gradcheck,
    no_grad,
)
from tinytorch.core.tensor import Tensor


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad_output


class Affine(Function):
    """scale * x + shift, with a Python number between two tensors (returns one grad per arg)."""

    @staticmethod
    def forward(ctx, x, scale, shift):
        ctx.scale = scale
        return x * scale + shift

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.scale, None, grad_output


class SumRows(Function):
    """(n, m) -> (n,), returning a Tensor from forward; gradient for the one tensor input."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return Tensor(x.sum(axis=1))

    @staticmethod
    def backward(ctx, grad_output):
        return np.broadcast_to(grad_output[:, None], ctx.shape)


class WrongSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * x  # deliberately wrong: d(x²)/dx is 2x


class WrongBroadcast(Function):
    """a * b with a gradient that forgets one operand's scale: caught only at some elements."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        wrong_b = grad_output * a
        wrong_b[..., -1] = 0.0  # last column dropped
        return grad_output * b, wrong_b


def double(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_function_records_itself_and_backpropagates():
    x = double(4)
    y = Cube.apply(x)
    assert y._ctx is not None and y._ctx.op is Cube and y._ctx.inputs == (x,)
    np.testing.assert_allclose(y.data, x.data ** 3)
    backward((y * 2).sum())
    np.testing.assert_allclose(x.grad.data, 6 * x.data ** 2)


def test_function_with_non_tensor_arguments():
    x, shift = double(3), double(3, seed=1)
    y = Affine.apply(x, 2.5, shift)
    assert y._ctx.inputs == (x, shift)
    assert y._ctx.saved["ctx"].needs_input_grad == (True, False, True)
    backward(y.sum())
    np.testing.assert_allclose(x.grad.data, 2.5)
    np.testing.assert_allclose(shift.grad.data, 1.0)
    assert gradcheck(lambda a, b: Affine.apply(a, -1.5, b), [double(2, 3), double(3, seed=2)])


def test_function_forward_may_return_a_tensor_and_runs_without_recording():
    x = double(2, 3)
    y = SumRows.apply(x)
    assert y.shape == (2,) and y.requires_grad
    assert gradcheck(SumRows.apply, [x])
    with no_grad():
        assert SumRows.apply(x)._ctx is None
    frozen = Tensor(np.ones((2, 3)))
    assert not SumRows.apply(frozen).requires_grad


def test_function_graph_is_freed_after_backward():
    x = double(3)
    y = Cube.apply(x)
    backward(y.sum())
    assert y._ctx.saved is None, "the ctx (and the arrays it saved) must be released"


def test_gradcheck_passes_correct_functions():
    assert gradcheck(Cube.apply, [double(3, 2)]) is True
    assert gradcheck(lambda a, b: (a * b).sum(), (double(2, 3), double(3, seed=3)))
    assert gradcheck(lambda a: a.max(1), [double(3, 4)]), "a (values, indices) result is allowed"


def test_gradcheck_catches_a_wrong_gradient():
    with pytest.raises(GradcheckError) as caught:
        gradcheck(WrongSquare.apply, [double(3, 2)])
    message = str(caught.value)
    for part in ("input 0", "index", "analytic", "numeric", "relative error"):
        assert part in message, f"the GradcheckError message should name the {part}: {message}"


def test_gradcheck_names_the_wrong_input_and_element():
    a, b = double(2, 3), Tensor(np.full((2, 3), 2.0), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 1 .*index \(\d, 2\)"):
        gradcheck(WrongBroadcast.apply, [a, b])


def test_gradcheck_without_raising_returns_false():
    assert gradcheck(WrongSquare.apply, [double(4)], raise_exception=False) is False


def test_gradcheck_refuses_float32_and_inputs_without_grad():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Cube.apply, [Tensor(np.ones(3, dtype=np.float32), requires_grad=True)])
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(Cube.apply, [Tensor(np.ones(3))])


def test_gradcheck_leaves_inputs_and_their_grads_as_they_were():
    x = double(3)
    before = x.data.copy()
    x.grad = Tensor(np.full(3, 7.0))
    gradcheck(Cube.apply, [x])
    np.testing.assert_array_equal(x.data, before)
    np.testing.assert_array_equal(x.grad.data, 7.0)


# ----- TensorFunction: PyTorch's calling convention (tinytorch.autograd.Function) ---------------
def test_tinytorch_autograd_function_is_the_tensor_convention():
    import tinytorch.autograd
    from tinytorch.core.autograd import Function, TensorFunction

    assert tinytorch.autograd.Function is TensorFunction and issubclass(TensorFunction, Function)


def test_tensor_function_sees_tensors_and_passes_gradcheck():
    from tinytorch.core.autograd import TensorFunction

    seen = {}

    class ScaledSoftplus(TensorFunction):
        @staticmethod
        def forward(ctx, x, scale):
            seen["forward"] = (type(x).__name__, scale)
            ctx.save_for_backward(x)
            ctx.scale = scale
            return (x.exp() + 1.0).log() * scale

        @staticmethod
        def backward(ctx, grad_output):
            seen["backward"] = type(grad_output).__name__
            (x,) = ctx.saved_tensors
            return grad_output * ctx.scale / ((-x).exp() + 1.0), None

    x = double(3, 2)
    assert gradcheck(lambda t: ScaledSoftplus.apply(t, 2.5), [x])
    assert seen == {"forward": ("Tensor", 2.5), "backward": "Tensor"}
    out = ScaledSoftplus.apply(x, 1.0)
    assert out._ctx.op is ScaledSoftplus and out.requires_grad
