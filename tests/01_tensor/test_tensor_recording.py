"""Module 01: the recording contract with module 05 (docs/autograd.md).

Every differentiable op makes its result with Tensor.from_op(data, op, inputs, **saved). A Node is
recorded only when an input requires grad and grad mode is on; its op name, inputs and saved
values are exactly what module 05's gradient rules read.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.core.tensor as tt
from tinytorch.core.tensor import Node, Tensor


def leaf(shape=(2, 3), seed=0) -> Tensor:
    data = np.random.default_rng(seed).uniform(0.5, 2.0, shape).astype(np.float32)
    return Tensor(data, requires_grad=True)


CONST = Tensor(np.full((2, 3), 2.0, dtype=np.float32))


def _check(saved, want):
    assert set(saved) == set(want), f"saved keys {sorted(saved)}, expected {sorted(want)}"
    for key, value in want.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(saved[key], value, err_msg=key)
        else:
            assert saved[key] == value, f"saved {key}={saved[key]!r}, expected {value!r}"


# name -> (make the result from leaf w, op name, function of w giving the expected inputs,
#          function of (w, result) giving the expected saved dict)
CASES = {
    "add": (lambda w: w + CONST, "add", lambda w: (w, CONST), lambda w, out: {}),
    "sub": (lambda w: w - CONST, "sub", lambda w: (w, CONST), lambda w, out: {}),
    "mul": (lambda w: w * CONST, "mul", lambda w: (w, CONST), lambda w, out: {}),
    "div": (lambda w: w / CONST, "div", lambda w: (w, CONST), lambda w, out: {}),
    "neg": (lambda w: -w, "neg", lambda w: (w,), lambda w, out: {}),
    "pow": (lambda w: w ** CONST, "pow", lambda w: (w, CONST), lambda w, out: {"out": out.data}),
    "matmul": (lambda w: w @ CONST.T, "matmul", None, lambda w, out: {}),
    "sum all": (lambda w: w.sum(), "sum", lambda w: (w,), lambda w, out: {"dim": None, "keepdim": False}),
    "sum dim -1": (lambda w: w.sum(dim=-1), "sum", lambda w: (w,),
                   lambda w, out: {"dim": (1,), "keepdim": False}),
    "sum dims keepdim": (lambda w: w.sum(dim=(1, -2), keepdim=True), "sum", lambda w: (w,),
                         lambda w, out: {"dim": (0, 1), "keepdim": True}),
    "sum dim ()": (lambda w: w.sum(dim=()), "sum", lambda w: (w,), lambda w, out: {"dim": None, "keepdim": False}),
    "mean": (lambda w: w.mean(dim=0), "mean", lambda w: (w,), lambda w, out: {"dim": (0,), "keepdim": False}),
    "max all": (lambda w: w.max(), "max", lambda w: (w,),
                lambda w, out: {"dim": None, "keepdim": False, "indices": None}),
    "max dim": (lambda w: w.max(dim=-1).values, "max", lambda w: (w,),
                lambda w, out: {"dim": 1, "keepdim": False,
                                "indices": np.argmax(w.data, axis=1, keepdims=True)}),
    "min dim keepdim": (lambda w: w.min(dim=0, keepdim=True).values, "min", lambda w: (w,),
                        lambda w, out: {"dim": 0, "keepdim": True,
                                        "indices": np.argmin(w.data, axis=0, keepdims=True)}),
    "var": (lambda w: w.var(dim=1, correction=0), "var", lambda w: (w,),
            lambda w, out: {"dim": (1,), "keepdim": False, "correction": 0}),
    "var default": (lambda w: w.var(), "var", lambda w: (w,),
                    lambda w, out: {"dim": None, "keepdim": False, "correction": 1}),
    "exp": (lambda w: w.exp(), "exp", lambda w: (w,), lambda w, out: {"out": out.data}),
    "log": (lambda w: w.log(), "log", lambda w: (w,), lambda w, out: {}),
    "sqrt": (lambda w: w.sqrt(), "sqrt", lambda w: (w,), lambda w, out: {"out": out.data}),
    "abs": (lambda w: w.abs(), "abs", lambda w: (w,), lambda w, out: {}),
    "clamp": (lambda w: w.clamp(min=1.0), "clamp", lambda w: (w,), lambda w, out: {"min": 1.0, "max": None}),
    "clamp both": (lambda w: w.clamp(0.6, 1.5), "clamp", lambda w: (w,), lambda w, out: {"min": 0.6, "max": 1.5}),
    "reshape": (lambda w: w.reshape(3, 2), "reshape", lambda w: (w,), lambda w, out: {}),
    "view": (lambda w: w.view(-1), "reshape", lambda w: (w,), lambda w, out: {}),
    "flatten": (lambda w: w.flatten(), "reshape", lambda w: (w,), lambda w, out: {}),
    "squeeze": (lambda w: w.squeeze(), "reshape", lambda w: (w,), lambda w, out: {}),
    "unsqueeze": (lambda w: w.unsqueeze(0), "reshape", lambda w: (w,), lambda w, out: {}),
    "permute": (lambda w: w.permute(1, 0), "permute", lambda w: (w,), lambda w, out: {"dims": (1, 0)}),
    "transpose": (lambda w: w.transpose(-1, 0), "permute", lambda w: (w,), lambda w, out: {"dims": (1, 0)}),
    "T": (lambda w: w.T, "permute", lambda w: (w,), lambda w, out: {"dims": (1, 0)}),
    "expand": (lambda w: w.unsqueeze(0).expand(4, 2, 3), "expand", None, lambda w, out: {}),
    "getitem slice": (lambda w: w[:, 1:], "getitem", lambda w: (w,),
                      lambda w, out: {"index": (slice(None), slice(1, None))}),
    "cat": (lambda w: tt.cat([w, CONST], dim=-1), "cat", lambda w: (w, CONST), lambda w, out: {"dim": 1}),
    "stack": (lambda w: tt.stack([CONST, w], dim=-1), "stack", lambda w: (CONST, w), lambda w, out: {"dim": 2}),
}


@pytest.mark.parametrize("name", CASES)
def test_op_records_node_per_contract(name):
    make, op, inputs, saved = CASES[name]
    w = leaf()
    out = make(w)
    node = out._ctx
    assert isinstance(node, Node), f"{name}: an input requires grad, so a Node must be recorded"
    assert node.op == op, f"{name}: recorded op {node.op!r}, the contract says {op!r}"
    assert out.requires_grad and not out.is_leaf and out.grad_fn is node and out.grad is None
    if inputs is not None:
        want = inputs(w)
        assert len(node.inputs) == len(want) and all(a is b for a, b in zip(node.inputs, want)), (
            f"{name}: recorded inputs must be the operand tensors themselves, in order")
    _check(node.saved, saved(w, out))
    assert all(t is not out for t in node.inputs), "a node must never hold its own output"


@pytest.mark.parametrize("name", CASES)
def test_op_records_nothing_without_requires_grad(name):
    make = CASES[name][0]
    plain = Tensor(leaf().data.copy())
    out = make(plain)
    assert out._ctx is None and not out.requires_grad


@pytest.mark.parametrize("name", CASES)
def test_op_records_nothing_with_grad_mode_off(name):
    make = CASES[name][0]
    tt.grad_mode.enabled = False
    try:
        out = make(leaf())
    finally:
        tt.grad_mode.enabled = True
    assert out._ctx is None and not out.requires_grad
    assert tt.is_grad_enabled()


def test_reflected_operators_wrap_the_number_as_first_input():
    w = leaf()
    for out, op in [(2.0 - w, "sub"), (2.0 / w, "div"), (2.0 ** w, "pow"), (2.0 + w, "add"), (2.0 * w, "mul")]:
        first, second = out._ctx.inputs
        assert out._ctx.op == op and second is w
        assert isinstance(first, Tensor) and first.shape == () and first.item() == 2.0 and first.dtype == np.float32
        assert not first.requires_grad


def test_scalar_operand_is_wrapped_as_second_input():
    w = leaf()
    node = (w * 3)._ctx
    assert node.inputs[0] is w and node.inputs[1].shape == () and node.inputs[1].dtype == np.float32


def test_getitem_saves_index_with_tensors_unwrapped():
    w = leaf((4, 3))
    index = Tensor([3, 0])
    node = w[index, 1:]._ctx
    saved = node.saved["index"]
    assert isinstance(saved[0], np.ndarray) and saved[0].tolist() == [3, 0] and saved[1] == slice(1, None)
    mask = w.data > 1.0
    assert isinstance(w[Tensor(mask)]._ctx.saved["index"], np.ndarray)


def test_std_is_sqrt_of_var():
    w = leaf()
    node = w.std(dim=0)._ctx
    assert node.op == "sqrt" and node.inputs[0]._ctx.op == "var"
    assert node.inputs[0]._ctx.saved == {"dim": (0,), "keepdim": False, "correction": 1}


def test_contiguous_records_reshape():
    w = leaf()
    out = w.T.contiguous()
    assert out._ctx.op == "reshape" and out._ctx.inputs[0]._ctx.op == "permute"


def test_mixed_inputs_record_when_any_requires_grad():
    w = leaf()
    out = CONST * w
    assert out._ctx.inputs == (CONST, w) and out.requires_grad


def test_non_differentiable_results_are_never_recorded():
    w = leaf()
    for out in [w > 1.0, w == w, w.argmax(), w.argmin(dim=0), w.max(dim=0).indices, w.detach(),
                w.long(), w.int(), w.bool(), w.isnan(), w.sort().indices]:
        assert out._ctx is None and not out.requires_grad


def test_float_casts_are_recorded_so_gradients_flow_back():
    """PyTorch records x.double() (ToCopyBackward); integer and bool casts start a new leaf."""
    w = leaf()
    assert w.float() is w, "a cast to the tensor's own dtype returns the tensor itself"
    for out in [w.double(), w.half(), w.to(np.float64), w.to("cpu", np.float16), w.type_as(Tensor(np.zeros(1)))]:
        assert out._ctx is not None and out._ctx.op == "cast" and out._ctx.inputs == (w,)
    assert w.double().float()._ctx.op == "cast"


def test_from_op_directly():
    a = Tensor([1.0], requires_grad=True)
    out = Tensor.from_op(np.float32(3.0), "custom", (a,), note=1)
    assert isinstance(out.data, np.ndarray) and out.shape == ()
    assert out._ctx.op == "custom" and out._ctx.inputs == (a,) and out._ctx.saved == {"note": 1}
    assert repr(out._ctx) == "Node(op='custom', inputs=1)"
    plain = Tensor.from_op(np.zeros(2), "custom", (Tensor([1.0]),))
    assert plain._ctx is None and not plain.requires_grad

    class Square:  # module 05's Function subclasses are recorded by class
        pass

    assert repr(Tensor.from_op(np.zeros(1), Square, (a,))._ctx) == "Node(op='Square', inputs=1)"


def test_recorded_graph_has_op_names_along_the_path():
    w = leaf((3, 2))
    x = Tensor(np.ones((4, 3), dtype=np.float32))
    loss = ((x @ w).exp() + 1.0).sum()
    ops, node = [], loss._ctx
    while node is not None:
        ops.append(node.op)
        node = node.inputs[0]._ctx
    assert ops == ["sum", "add", "exp", "matmul"]


def test_backward_without_module_05_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_autograd(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "tinytorch.core" and fromlist and "autograd" in fromlist:
            raise ImportError("no module 05")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_autograd)
    with pytest.raises(RuntimeError, match="05"):
        Tensor(1.0, requires_grad=True).backward()
