"""Module 01's in-place operations: they write into the tensor's own memory, keep its shape and dtype,
count versions (shared by views), and follow PyTorch's rule for leaves that require grad.
Values against PyTorch are in tensor_fixtures.npz; gradients through them in tests/05_autograd."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import Tensor


@contextlib.contextmanager
def no_grad():
    """Module 05's no_grad, made from module 01's own switch so these tests need only module 01."""
    tt.grad_mode.enabled = False
    try:
        yield
    finally:
        tt.grad_mode.enabled = True


def floats(*values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float32))


@pytest.mark.parametrize("update, want", [
    (lambda x: x.add_(1), [2, 3, 4]),
    (lambda x: x.add_(floats(1, 1, 1), alpha=-2), [-1, 0, 1]),
    (lambda x: x.sub_(0.5), [0.5, 1.5, 2.5]),
    (lambda x: x.mul_(floats(2, 0, -1)), [2, 0, -3]),
    (lambda x: x.div_(2), [0.5, 1, 1.5]),
    (lambda x: x.zero_(), [0, 0, 0]),
    (lambda x: x.fill_(7), [7, 7, 7]),
    (lambda x: x.fill_(Tensor(np.array(2.5))), [2.5, 2.5, 2.5]),
    (lambda x: x.clamp_(min=1.5, max=2.5), [1.5, 2, 2.5]),
    (lambda x: x.copy_(floats(9)), [9, 9, 9]),
    (lambda x: x.copy_(np.array([4, 5, 6])), [4, 5, 6]),
])
def test_each_op_writes_into_the_same_memory_and_returns_self(update, want):
    x = floats(1, 2, 3)
    memory = x.data
    assert update(x) is x and x.data is memory
    np.testing.assert_allclose(x.data, want)
    assert x.dtype == np.float32 and x._version == 1


def test_within_a_dtype_category_the_result_is_cast_down_as_in_pytorch():
    small = Tensor(np.array([1, 2], dtype=np.uint8))
    small.add_(Tensor([1, 2]))  # int64 operand
    halves = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    halves.mul_(Tensor(np.array([0.5, 0.5])))  # float64 operand
    assert small.dtype == np.uint8 and small.tolist() == [2, 4]
    assert halves.dtype == np.float32 and halves.tolist() == [0.5, 1.0]


def test_augmented_operators_are_in_place():
    x = floats(1, 2)
    alias = x
    x += 1
    x -= floats(0.5, 0.5)
    x *= 4
    x /= 2
    assert x is alias and x.tolist() == [3.0, 5.0] and x._version == 4


def test_setitem_and_slice_augmented_assignment():
    x = Tensor(np.zeros((2, 3), dtype=np.float32))
    x[0] = 1.0
    x[1, 1:] = floats(5, 6)
    x[x > 5.5] = -1.0
    x[0, 0] += 10
    assert x.tolist() == [[11, 1, 1], [0, 5, -1]]
    x[Tensor([1])] = 2.7
    assert x.tolist()[1] == pytest.approx([2.7, 2.7, 2.7])
    counts = tt.zeros(3, dtype=tt.int64)
    counts[0] = 2.9  # cast to the tensor's dtype, as in PyTorch
    assert counts.tolist() == [2, 0, 0]


def test_views_share_memory_and_version_counter():
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    row, col, flat, t = x[0], x[:, 1], x.view(6), x.T
    row.mul_(10)
    assert x.tolist()[0] == [0, 10, 20] and x._version == row._version == col._version == flat._version == 1
    t.zero_()
    assert not x.data.any() and x._version == 2
    x[1][2].fill_(5)  # a single element is a 0-d view, as in PyTorch
    assert x.data[1, 2] == 5
    copy = x.clone()
    copy.add_(1)
    assert x._version == 3 and copy._version == 1, "a clone has its own memory and counter"
    detached = x.detach()
    detached.add_(1)
    assert x._version == 4 and x.data[1, 2] == 6, "detach shares memory (and the counter), as in PyTorch"


def test_leaf_that_requires_grad_refuses_in_place_outside_no_grad():
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    for update in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.zero_(), lambda: w.fill_(0.0),
                   lambda: w.clamp_(0.0, 1.0), lambda: w.copy_(floats(1, 2, 3)), lambda: w.uniform_(),
                   lambda: w.normal_(), lambda: w.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            update()
    assert w.tolist() == [1.0, 1.0, 1.0] and w._version == 0, "a refused update must change nothing"
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w -= 0.1 * floats(1, 1, 1)


def test_under_no_grad_the_optimizer_idiom_updates_the_weight_itself():
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    held_by_the_model = w
    w.grad = floats(1, 2, 3)
    with no_grad():
        w -= 0.5 * w.grad
        w.uniform_(0.0, 0.0)  # also allowed: nothing is recorded
        w.add_(floats(1, 2, 3))
    assert held_by_the_model is w and w.tolist() == [1.0, 2.0, 3.0] and w.requires_grad and w.is_leaf


def test_random_fills_are_seeded_and_in_range():
    x = tt.zeros(1000)
    tt.manual_seed(3)
    x.uniform_(-2.0, 2.0)
    first = x.tolist()
    assert -2 <= min(first) and max(first) < 2
    tt.manual_seed(3)
    assert x.uniform_(-2.0, 2.0).tolist() == first
    x.normal_(5.0, 0.1)
    assert abs(float(x.mean()) - 5.0) < 0.05 and x.dtype == np.float32


def test_in_place_on_a_non_leaf_is_recorded():
    w = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    h = w * 2.0
    before = h.data
    h += 1.0
    assert h.data is before and h.tolist() == [3.0, 3.0] and h._ctx.op == "add" and not h.is_leaf
    acc = tt.zeros(2)
    acc.add_(w)
    assert acc.requires_grad and acc._ctx.op == "add", "a constant changed by a grad operand joins the graph"
    with no_grad():
        plain = w * 2.0
        plain.add_(1.0)
    assert plain._ctx is None and not plain.requires_grad


ERRORS = [
    (lambda: Tensor([1, 2]).add_(0.5), r"add_: result type float32 can't be cast to the desired output type int64"),
    (lambda: Tensor([1, 2]).div_(2), r"div_: result type float32 can't be cast .* int64"),
    (lambda: Tensor([1, 2]).clamp_(0.5, 1.5), r"clamp_: result type float32 can't be cast"),
    (lambda: tt.zeros(3).add_(tt.ones(2, 3)),
     r"add_: the result would have shape \(2, 3\).*keep the tensor's shape \(3,\)"),
    (lambda: tt.zeros(3, 1).expand(3, 4).add_(1), r"add_: .*more than one element refers to a single memory location"),
    (lambda: (Tensor(np.ones(2, np.float32), requires_grad=True) * 1.0)[0:1].mul_(2),
     r"mul_: in-place on a view of a tensor that is part of the graph"),
    (lambda: (Tensor(np.ones(2, np.float32), requires_grad=True) * 1.0).uniform_(), r"uniform_: filling a tensor"),
    (lambda: (Tensor(np.ones(2, np.float32), requires_grad=True) * 1.0).__setitem__(0, 1.0),
     r"setitem: x\[index\] = value on a tensor that is part of the graph"),
]


@pytest.mark.parametrize("call, message", ERRORS)
def test_bad_in_place_is_a_runtime_error_that_changes_nothing(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


@pytest.mark.parametrize("call, error, message", [
    (lambda: tt.zeros(2).fill_(tt.ones(2)), RuntimeError, r"fill_: value must be a number or a 0-d tensor"),
    (lambda: tt.zeros(2).fill_("a"), TypeError, r"fill_: value must be a number"),
    (lambda: tt.zeros(3).copy_(tt.ones(4)), ValueError, r"copy_: shapes \(3,\) and \(4,\) cannot be broadcast"),
    (lambda: tt.zeros(3).add_(tt.ones(4)), ValueError, r"add_: shapes .* cannot be broadcast"),
    (lambda: tt.zeros(2).add_("a"), TypeError, r"add_: cannot combine a Tensor with a str"),
    (lambda: tt.zeros(2).copy_([1, 2]), TypeError, r"copy_: expected a Tensor"),
    (lambda: tt.zeros(2, dtype=tt.int64).normal_(), TypeError, r"normal_: needs a floating-point tensor"),
    (lambda: tt.zeros(2).normal_(0.0, -1.0), ValueError, r"normal_: std must be non-negative"),
    (lambda: tt.zeros(2).uniform_("a"), TypeError, r"uniform_: the first parameter must be a number"),
    (lambda: tt.zeros(2).__setitem__(5, 1.0), IndexError, r"setitem: .*index"),
    (lambda: tt.zeros(2).__setitem__(0, "x"), TypeError, r"setitem: value must be"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_failed_in_place_op_leaves_the_tensor_unchanged():
    x = Tensor([1, 2])
    with pytest.raises(RuntimeError):
        x.add_(0.5)
    assert x.tolist() == [1, 2] and x._version == 0
