"""The backward engine: order, accumulation, ownership of arrays, freeing, errors, grad mode."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import (
    backward,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    unbroadcast,
)
from tinytorch.core.tensor import Tensor, grad_mode


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


# ----- gradients: sums, accumulation, what receives .grad -------------------------------------------
def test_shared_subexpression_sums_every_path():
    x = leaf([1.0, -2.0, 3.0])
    backward((x * x + x).sum())
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 1,
                               err_msg="d/dx sum(x*x + x) = 2x + 1: a path was dropped or overwritten")


def test_diamond_graph_waits_for_every_consumer():
    x = leaf([0.5, 2.0])
    a = x * 3
    b = a.exp()
    c = a * a
    y = (b + c + a).sum()  # a feeds three consumers
    backward(y)
    expected = 3 * (np.exp(3 * x.data) + 2 * 3 * x.data + 1)
    np.testing.assert_allclose(x.grad.data, expected)


def test_same_tensor_twice_as_inputs_of_one_op():
    x = leaf([1.5, -0.5])
    backward((x + x).sum())
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])
    x.grad = None
    backward((x @ x))
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


def test_two_backward_calls_accumulate_until_cleared():
    x = leaf([1.0, 2.0])
    backward((x * 3).sum())
    first = x.grad
    backward((x * x).sum())
    np.testing.assert_allclose(x.grad.data, 3 + 2 * x.data)
    assert x.grad is first, "accumulation keeps the same .grad Tensor object (as PyTorch does)"
    x.zero_grad()
    backward((x * 5).sum())
    np.testing.assert_allclose(x.grad.data, [5.0, 5.0])


def test_tensor_backward_method_uses_the_engine():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


def test_only_leaves_that_require_grad_receive_grad():
    x = leaf([1.0, 2.0])
    constant = Tensor(np.array([3.0, 4.0]))
    hidden = x * constant
    backward(hidden.sum())
    assert constant.grad is None
    assert hidden.grad is None, "non-leaf tensors do not keep .grad (PyTorch semantics)"
    np.testing.assert_allclose(x.grad.data, constant.data)


def test_leaf_grad_is_a_tensor_with_the_leaf_dtype():
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = leaf([3.0, 4.0], dtype=np.float64)
    backward((x * y).sum())  # the product is float64; x's gradient must come back as float32
    assert isinstance(x.grad, Tensor) and x.grad.dtype == np.float32
    assert y.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.data, y.data)


def test_integer_tensors_never_receive_gradients():
    x = leaf([1.0, 2.0, 3.0])
    index = Tensor(np.array([2, 0]))
    scale = Tensor(np.array([2, 3, 4]))
    backward((x * scale).sum() + x[index].sum())
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0, 5.0])
    assert scale.grad is None and index.grad is None
    with pytest.raises(TypeError):
        Tensor(np.array([1, 2])).requires_grad_()


def test_root_that_is_a_leaf_gets_the_seed():
    x = leaf([1.0, 2.0])
    backward(x, np.array([0.5, -1.0]))
    np.testing.assert_allclose(x.grad.data, [0.5, -1.0])


def test_gradient_argument_accepts_a_tensor_and_is_never_aliased():
    x = leaf([1.0, 2.0, 3.0])
    seed = np.array([1.0, 10.0, 100.0])
    backward(x + 0.0, Tensor(seed))
    seed[:] = -7.0  # the caller reuses its array
    np.testing.assert_allclose(x.grad.data, [1.0, 10.0, 100.0],
                               err_msg="x.grad must not share memory with the gradient passed in")


def test_leaves_fed_the_same_array_do_not_share_grad_memory():
    a, b = leaf([1.0, 1.0]), leaf([1.0, 1.0])
    backward((a + b).sum())  # add hands one array to both inputs
    a.grad.data *= 10.0  # e.g. in-place gradient clipping
    np.testing.assert_allclose(b.grad.data, [1.0, 1.0])
    x = leaf(np.ones((2, 3)))
    backward(x.sum())  # sum hands on a read-only broadcast view
    x.grad.data += 1.0  # must be a real, writable array
    np.testing.assert_allclose(x.grad.data, 2.0)


def test_accumulation_never_writes_into_an_array_another_tensor_holds():
    x = leaf([1.0, 2.0])
    y = x.reshape(2)  # reshape's gradient is a view of its output gradient
    z = (y + y) + (x * 1.0)
    backward(z, np.array([1.0, 1.0]))
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_broadcast_bias_gradient_is_summed_over_the_batch():
    x = Tensor(np.arange(8.0).reshape(4, 2))
    w, b = leaf(np.full((2, 3), 0.5)), leaf(np.zeros(3))
    backward((x @ w + b).sum())
    assert b.grad.shape == (3,)
    np.testing.assert_allclose(b.grad.data, [4.0, 4.0, 4.0])
    np.testing.assert_allclose(w.grad.data, np.tile(x.data.sum(0)[:, None], (1, 3)))
    assert x.grad is None


def test_detach_stops_the_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y.detach() * x
    assert not y.detach().requires_grad and y.detach()._ctx is None
    backward(z.sum())
    np.testing.assert_allclose(x.grad.data, y.data)


def test_requires_grad_switch_on_a_leaf():
    x = Tensor(np.array([1.0, 2.0]))
    assert x.requires_grad_() is x and x.requires_grad
    backward((x * x).sum())
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])
    x.requires_grad_(False)
    assert not (x * x).requires_grad


def test_a_ten_thousand_op_chain_needs_no_recursion():
    x = leaf(1.0)
    t = x
    for _ in range(10_000):
        t = t * 1.0001
    backward(t)
    np.testing.assert_allclose(x.grad.data, 1.0001 ** 10_000)
    deep = leaf([1.0, 2.0])
    t = deep
    for _ in range(10_000):
        t = t + 1.0
    backward(t.sum())
    np.testing.assert_allclose(deep.grad.data, [1.0, 1.0])


# ----- freeing the graph ------------------------------------------------------------------------------
def test_backward_frees_the_graph_and_a_second_pass_is_a_clear_error():
    x = leaf([1.0, 2.0])
    hidden = x.exp()
    loss = (hidden * 2).sum()
    backward(loss)
    node = loss._ctx
    assert node is not None and node.inputs == () and node.saved is None, (
        "after backward each used node should be emptied (inputs=(), saved=None)")
    assert hidden._ctx.saved is None and not loss.is_leaf
    with pytest.raises(RuntimeError, match="retain_graph"):
        backward(loss)


def test_retain_graph_allows_a_second_pass():
    x = leaf([1.0, 2.0])
    loss = (x.exp() * 2).sum()
    backward(loss, retain_graph=True)
    backward(loss)
    np.testing.assert_allclose(x.grad.data, 4 * np.exp(x.data))


# ----- errors -----------------------------------------------------------------------------------------
def test_non_scalar_output_needs_an_explicit_gradient():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match="one-element"):
        backward(y)


def test_one_element_non_scalar_output_defaults_to_ones():
    x = leaf([[3.0]])
    backward(x * 2)
    np.testing.assert_allclose(x.grad.data, [[2.0]])


def test_gradient_shape_must_match():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match="shape"):
        backward(y, np.ones(3))
    with pytest.raises(RuntimeError, match="shape"):
        backward(y, np.ones((2, 1)))


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        backward(Tensor(np.array([1.0, 2.0])).sum())
    with no_grad():
        y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        backward(y)


def test_backward_rejects_non_tensors():
    with pytest.raises(TypeError):
        backward(np.ones(3))


def test_unknown_op_name_is_a_clear_error():
    x = leaf([1.0])
    y = Tensor.from_op(x.data * 2, "frobnicate", (x,))
    with pytest.raises(NotImplementedError, match="frobnicate"):
        backward(y)


# ----- unbroadcast ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3, 5), (3, 5), (5,), (3, 1), (1, 5), (1, 1, 1), (), (4, 1, 5)])
def test_unbroadcast_matches_summing_axis_by_axis(shape):
    grad = np.arange(60.0).reshape(4, 3, 5)
    expected = grad
    while expected.ndim > len(shape):
        expected = expected.sum(0)
    for axis, size in enumerate(shape):
        if size == 1:
            expected = expected.sum(axis, keepdims=True)
    got = unbroadcast(grad, shape)
    assert got.shape == shape
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("shape", [(2, 3, 5), (4, 3, 5, 1), (6,)])
def test_unbroadcast_rejects_shapes_that_do_not_broadcast(shape):
    with pytest.raises(ValueError):
        unbroadcast(np.ones((4, 3, 5)), shape)


# ----- grad mode ------------------------------------------------------------------------------------
def test_no_grad_context_manager_and_nesting():
    x = leaf([1.0])
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2
        with enable_grad():
            assert is_grad_enabled()
            z = x * 2
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y._ctx is None
    assert z.requires_grad and z._ctx is not None


def test_no_grad_decorator_with_and_without_parentheses():
    x = leaf([1.0])

    @no_grad()
    def f(t):
        assert not is_grad_enabled()
        return t * 2

    @no_grad
    def g(t):
        return t * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f" and g.__name__ == "g", "decorators keep the function's name"
    assert is_grad_enabled()


def test_enable_grad_decorator_inside_no_grad():
    x = leaf([1.0])

    @enable_grad()
    def f(t):
        return t * 2

    with no_grad():
        assert f(x).requires_grad
        assert not is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with no_grad():
            raise ValueError("boom")
    assert grad_mode.enabled

    @no_grad()
    def explode():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        explode()
    assert grad_mode.enabled
    with pytest.raises(ValueError):
        with set_grad_enabled(False):
            raise ValueError("boom")
    assert grad_mode.enabled


def test_the_same_no_grad_object_can_be_nested():
    guard = no_grad()
    with guard:
        with guard:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_set_grad_enabled_as_function_context_and_decorator():
    x = leaf([1.0])
    try:
        set_grad_enabled(False)
        assert not is_grad_enabled() and not (x * 2).requires_grad
    finally:
        set_grad_enabled(True)
    assert is_grad_enabled()
    with set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert is_grad_enabled()
    with no_grad():
        with set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not is_grad_enabled()

    @set_grad_enabled(False)
    def frozen(t):
        return t * 2

    assert is_grad_enabled(), "decorating must not change the mode"
    assert not frozen(x).requires_grad
    assert is_grad_enabled()
    with pytest.raises(TypeError):
        set_grad_enabled("no")
