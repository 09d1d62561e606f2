"""The second safety rule of in-place ops: backward refuses to use a tensor that was changed in place
after an op recorded it (the version counter), instead of returning a wrong gradient. Plus the ways
in-place ops must keep working: the no_grad optimizer idiom, module 06's optimizers, recorded updates
of non-leaf tensors (their gradients against PyTorch are in test_autograd_tensor_grad_parity.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import backward, gradcheck, no_grad
from tinytorch.core.tensor import Tensor, zeros

MODIFIED = r"one of the variables needed for gradient computation has been modified by an inplace operation"


def leaf(*values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_an_input_changed_after_recording_is_refused_with_both_versions():
    w = leaf(1.0, 2.0, 3.0)
    x = Tensor(np.array([4.0, 5.0, 6.0]))
    y = (w * x).sum()
    x.add_(1.0)  # mul's gradient for w is g * x: it would read the new x
    with pytest.raises(RuntimeError, match=MODIFIED + r".*shape \(3,\) that is input 1 of 'mul' is at version 1; "
                                                      r"expected version 0 instead"):
        backward(y)
    assert w.grad is None, "nothing may be accumulated by a refused backward"


def test_expected_version_is_the_one_at_recording_time():
    w = leaf(1.0, 2.0)
    x = Tensor(np.array([1.0, 1.0]))
    x.mul_(3.0)
    x.mul_(2.0)
    y = (w * x).sum()  # recorded at version 2
    x.zero_()
    with pytest.raises(RuntimeError, match=r"is at version 3; expected version 2 instead"):
        backward(y)


def test_a_change_through_a_view_is_caught():
    w = leaf(1.0, 2.0, 3.0, 4.0)
    x = Tensor(np.arange(4.0))
    y = (w * x).sum()
    x.view(2, 2)[1].fill_(0.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        backward(y)


def test_a_saved_output_changed_in_place_is_caught():
    w = leaf(0.5, 1.0)
    e = w.exp()  # exp's gradient reads its saved output
    with no_grad():
        e.mul_(2.0)
    with pytest.raises(RuntimeError, match=MODIFIED + r".*the output \(saved for backward\) of 'exp'"):
        backward(e.sum())


def test_changes_after_backward_or_to_unrelated_tensors_are_fine():
    w = leaf(1.0, 2.0)
    x = Tensor(np.array([3.0, 4.0]))
    other = Tensor(np.array([1.0]))
    y = (w * x).sum()
    other.add_(1.0)
    backward(y)
    np.testing.assert_allclose(w.grad.data, [3.0, 4.0])
    x.add_(1.0)  # after backward: nothing needs the old x any more


def test_recorded_in_place_updates_pass_gradcheck():
    def chain(a, b):
        h = a * 1.0
        h += b
        h.mul_(b)
        h.div_(b * b + 1.0)
        h.clamp_(-0.8, 0.8)
        h -= a
        out = zeros(3, dtype=np.float64)
        out.add_(h)
        return out

    rng = np.random.default_rng(0)
    assert gradcheck(chain, [Tensor(rng.standard_normal(3), requires_grad=True),
                             Tensor(rng.uniform(0.5, 1.0, 3), requires_grad=True)])


def test_a_consumer_recorded_before_a_graph_update_is_protected():
    """z used h before h.mul_(5): its gradient must not silently include the 5."""
    a = leaf(1.0, 2.0)
    h = a * 2.0
    z = (h + 1.0).sum()
    h.mul_(5.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        backward(z)


def test_manual_sgd_under_no_grad_trains_and_matches_module_06():
    from tinytorch.optim import SGD

    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((16, 3)))
    y = Tensor(x.data @ np.array([1.0, -2.0, 0.5]))
    results = []
    for use_optimizer in (False, True):
        w = Tensor(np.zeros(3), requires_grad=True)
        optimizer = SGD([w], lr=0.1) if use_optimizer else None
        for _ in range(20):
            w.grad = None
            loss = ((x @ w - y) ** 2).mean()
            backward(loss)
            if optimizer:
                optimizer.step()
            else:
                with no_grad():
                    w -= 0.1 * w.grad
        results.append((w.data.copy(), loss.item()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    assert results[0][1] < 0.1, f"the manual in-place update should train, loss is {results[0][1]}"


def test_module_06_optimizers_bypass_the_counter_like_pytorchs_data():
    from tinytorch.optim import Adam

    w = Tensor(np.ones(2), requires_grad=True)
    optimizer = Adam([w], lr=0.1)
    backward((w * w).sum())
    optimizer.step()
    assert w._version == 0 and not np.allclose(w.data, 1.0)
