"""Module 03: forward hooks and forward pre-hooks on Module, with PyTorch's semantics."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.layers import Linear, Module, ReLU, RemovableHandle, Sequential
from tinytorch.core.tensor import Tensor


def _ones(*shape):
    return Tensor(np.ones(shape, dtype=np.float32))


class Doubler(Module):
    def forward(self, x, scale=1.0):
        return x * (2.0 * scale)


def test_forward_hook_sees_module_args_and_output():
    layer = Doubler()
    calls = []
    layer.register_forward_hook(lambda module, args, output: calls.append((module, args, output)))
    x = _ones(2)
    out = layer(x)
    (module, args, seen_output), = calls
    assert module is layer and isinstance(args, tuple) and args[0] is x and seen_output is out


def test_pre_hook_return_replaces_args_and_non_tuple_is_wrapped():
    layer = Doubler()
    layer.register_forward_pre_hook(lambda module, args: args[0] + 1)  # not a tuple: becomes (value,)
    np.testing.assert_allclose(layer(_ones(3)).data, [4.0, 4.0, 4.0])


def test_pre_hook_returning_none_keeps_args_and_kwargs_pass_through():
    layer = Doubler()
    layer.register_forward_pre_hook(lambda module, args: None)
    np.testing.assert_allclose(layer(_ones(1), scale=3.0).data, [6.0])


def test_forward_hook_return_replaces_output_and_sees_replaced_args():
    layer = Doubler()
    seen = []
    layer.register_forward_pre_hook(lambda module, args: (args[0] * 10,))
    layer.register_forward_hook(lambda module, args, output: seen.append(float(args[0].data[0])))
    layer.register_forward_hook(lambda module, args, output: output - 1)
    np.testing.assert_allclose(layer(_ones(1)).data, [19.0])
    assert seen == [10.0]


def test_hooks_run_in_registration_order_and_prepend_goes_first():
    layer = Doubler()
    order = []
    layer.register_forward_hook(lambda *a: order.append("first"))
    layer.register_forward_hook(lambda *a: order.append("second"))
    layer.register_forward_hook(lambda *a: order.append("prepended"), prepend=True)
    layer.register_forward_pre_hook(lambda *a: order.append("pre"))
    layer(_ones(1))
    assert order == ["pre", "prepended", "first", "second"]


def test_handle_remove_and_context_manager():
    layer = Doubler()
    count = []
    handle = layer.register_forward_hook(lambda *a: count.append(1))
    assert isinstance(handle, RemovableHandle)
    layer(_ones(1))
    handle.remove()
    handle.remove()  # a second remove is harmless, as in PyTorch
    layer(_ones(1))
    with layer.register_forward_pre_hook(lambda *a: count.append(2)):
        layer(_ones(1))
    layer(_ones(1))
    assert count == [1, 2]
    assert not layer._forward_hooks and not layer._forward_pre_hooks


def test_hook_may_remove_itself_while_running():
    layer = Doubler()
    calls = []
    handles = []

    def once(module, args, output):
        calls.append(1)
        handles[0].remove()

    handles.append(layer.register_forward_hook(once))
    layer(_ones(1))
    layer(_ones(1))
    assert calls == [1]


def test_hooks_are_per_instance_and_fire_inside_containers_and_on_activations():
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    other = ReLU()
    names = []
    for name, module in model.named_modules():
        module.register_forward_hook(lambda m, a, o, name=name: names.append(name or "<root>"))
    model(_ones(5, 3))
    other(_ones(2))  # a fresh ReLU has no hooks: the class-level default is never shared state
    assert names == ["0", "1", "2", "<root>"]
    assert not other._forward_hooks


def test_hook_that_raises_names_the_hook_and_the_module_and_chains():
    def broken_hook(module, args, output):
        raise ValueError("bad shape seen")

    layer = Linear(3, 2)
    layer.register_forward_hook(broken_hook)
    with pytest.raises(RuntimeError, match=r"forward hook 'test_hook_that_raises.*broken_hook'.*Linear.*"
                                           r"ValueError: bad shape seen") as info:
        layer(_ones(1, 3))
    assert isinstance(info.value.__cause__, ValueError)


def test_pre_hook_that_raises_is_reported_as_a_pre_hook():
    layer = ReLU()
    layer.register_forward_pre_hook(lambda module, args: 1 / 0)
    with pytest.raises(RuntimeError, match=r"forward pre-hook .*lambda.* on ReLU .*ZeroDivisionError"):
        layer(_ones(1))


def test_non_callable_hook_is_refused():
    with pytest.raises(TypeError, match="hook must be callable, got int"):
        Doubler().register_forward_hook(3)


def test_state_dict_and_parameters_ignore_hooks():
    layer = Linear(2, 2)
    layer.register_forward_hook(lambda *a: None)
    assert list(layer.state_dict()) == ["weight", "bias"] and len(list(layer.parameters())) == 2
