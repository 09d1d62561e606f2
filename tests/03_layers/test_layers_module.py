"""Module 03: Parameter and Module — registration, traversal, state_dict, modes, repr, errors."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from tinytorch.core.layers import Identity, Linear, Module, Parameter, ReLU, Sequential
from tinytorch.core.tensor import Tensor, manual_seed


def param(*values):
    return Parameter(np.array(values, dtype=np.float32))


class Leaf(Module):
    def __init__(self, size=2):
        super().__init__()
        self.w = Parameter(np.arange(size, dtype=np.float32))
        self.register_buffer("count", Tensor(np.zeros((), dtype=np.int64)))
        self.register_buffer("cache", Tensor(np.ones(size, dtype=np.float32)), persistent=False)

    def forward(self, x):
        return x * self.w


class Tree(Module):
    def __init__(self):
        super().__init__()
        self.bias = param(0.5)
        self.left = Leaf()
        self.right = Sequential(Leaf(3), ReLU())
        self.alias = self.left


# ----- Parameter ------------------------------------------------------------------------------------
def test_parameter_is_a_tensor_that_requires_grad():
    array = np.ones((2, 3), dtype=np.float32)
    p = Parameter(array)
    assert isinstance(p, Tensor) and p.requires_grad and p.shape == (2, 3)
    assert p.data is array, "Parameter wraps the array like Tensor does (no copy)"
    assert not Parameter(array, requires_grad=False).requires_grad
    assert Parameter().shape == (0,) and Parameter().dtype == np.float32
    assert Parameter(Tensor([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert repr(param(1.0)).startswith("Parameter containing:\ntensor(")


def test_parameter_of_integers_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Parameter(np.array([1, 2]))


def test_ops_on_parameters_give_plain_tensors():
    out = param(1.0, 2.0) * 2
    assert type(out) is Tensor and out.grad_fn is not None


# ----- registration ---------------------------------------------------------------------------------
def test_assignment_registers_parameters_modules_and_buffers():
    tree = Tree()
    assert list(tree._parameters) == ["bias"]
    assert list(tree._modules) == ["left", "right", "alias"]
    assert list(tree.left._buffers) == ["count", "cache"]
    assert tree.left is tree.alias and tree.left.w is tree.left._parameters["w"]
    assert tree.training is True


def test_plain_attributes_and_plain_tensors_are_not_registered():
    leaf = Leaf()
    leaf.note = "hello"
    leaf.scratch = Tensor([1.0])
    assert leaf.note == "hello" and "scratch" not in leaf._parameters and "scratch" not in leaf._buffers
    assert [name for name, _ in leaf.named_parameters()] == ["w"]


def test_reassigning_moves_a_name_between_registries():
    leaf = Leaf()
    leaf.extra = Identity()
    assert "extra" in leaf._modules
    leaf.extra = param(1.0)
    assert "extra" in leaf._parameters and "extra" not in leaf._modules
    leaf.extra = None
    assert leaf._parameters["extra"] is None and leaf.extra is None
    leaf.count = Tensor(np.array(5))
    assert leaf._buffers["count"].item() == 5


def test_dir_lists_registered_names():
    names = dir(Tree())
    assert {"bias", "left", "right", "alias", "forward", "parameters"} <= set(names)
    assert {"w", "count", "cache"} <= set(dir(Leaf()))


def test_delattr_removes_registered_entries():
    leaf = Leaf()
    del leaf.w
    del leaf.count
    assert "w" not in leaf._parameters and "count" not in leaf._buffers
    with pytest.raises(AttributeError):
        leaf.w


@pytest.mark.parametrize("name, value, message", [
    ("w", Tensor([1.0, 2.0]), r"cannot assign a Tensor to parameter 'w' of Leaf: wrap it in Parameter"),
    ("w", np.zeros(2), r"cannot assign a ndarray to parameter 'w'"),
    ("count", [1, 2], r"cannot assign a list to buffer 'count' of Leaf: expected a Tensor"),
])
def test_wrong_type_for_a_registered_name(name, value, message):
    with pytest.raises(TypeError, match=message):
        setattr(Leaf(), name, value)


def test_wrong_type_for_a_registered_submodule():
    tree = Tree()
    with pytest.raises(TypeError, match="cannot assign a int to submodule 'left' of Tree: expected a Module"):
        tree.left = 3


@pytest.mark.parametrize("assign, what", [
    (lambda self: setattr(self, "w", Parameter(np.zeros(1, dtype=np.float32))), "parameter 'w'"),
    (lambda self: setattr(self, "layer", Identity()), "module 'layer'"),
    (lambda self: self.register_buffer("b", Tensor([1.0])), "buffer 'b'"),
])
def test_registering_before_init_explains_the_fix(assign, what):
    class Forgetful(Module):
        def __init__(self):
            assign(self)

    expected = rf"cannot assign {what} before Module.__init__\(\).*super\(\).__init__\(\)"
    with pytest.raises(AttributeError, match=expected):
        Forgetful()


def test_missing_attribute_error_mentions_super_init_when_init_was_skipped():
    class Forgetful(Module):
        def __init__(self):
            pass

    with pytest.raises(AttributeError, match=r"did its __init__ call super\(\).__init__\(\)"):
        list(Forgetful().parameters())
    with pytest.raises(AttributeError, match="'Leaf' object has no attribute 'nothing'"):
        Leaf().nothing


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.register_buffer(3, Tensor([1.0])), TypeError, "buffer name must be a str"),
    (lambda m: m.register_buffer("a.b", Tensor([1.0])), ValueError, "contain no '.'"),
    (lambda m: m.register_buffer("", Tensor([1.0])), ValueError, "non-empty"),
    (lambda m: m.register_buffer("forward", Tensor([1.0])), ValueError, "already has an attribute"),
    (lambda m: m.register_buffer("w", Tensor([1.0])), ValueError, "cannot register buffer 'w'"),
    (lambda m: m.register_buffer("x", np.ones(2)), TypeError, "'x' must be a Tensor or None, got ndarray"),
    (lambda m: m.register_parameter("p", Tensor([1.0])), TypeError, "'p' must be a Parameter or None, got Tensor"),
    (lambda m: m.register_parameter("count", param(1.0)), ValueError, "cannot register parameter 'count'"),
    (lambda m: m.add_module("sub", lambda x: x), TypeError, "'sub' must be a Module or None, got function"),
    (lambda m: m.add_module("training", Identity()), ValueError, "already has an attribute"),
])
def test_register_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(Leaf())


def test_register_parameter_none_and_add_module():
    leaf = Leaf()
    leaf.register_parameter("bias", None)
    leaf.add_module("inner", Identity())
    leaf.register_module("other", None)
    assert leaf.bias is None and isinstance(leaf.inner, Identity) and leaf.other is None
    assert [name for name, _ in leaf.named_parameters()] == ["w"]
    assert [name for name, _ in leaf.named_children()] == ["inner"]


# ----- traversal ------------------------------------------------------------------------------------
def test_named_modules_and_children():
    tree = Tree()
    assert [name for name, _ in tree.named_modules()] == ["", "left", "right", "right.0", "right.1"]
    assert [name for name, _ in tree.named_children()] == ["left", "right"]
    assert list(tree.children()) == [tree.left, tree.right]
    assert list(tree.modules())[0] is tree and len(list(tree.modules())) == 5
    everything = [name for name, _ in tree.named_modules(remove_duplicate=False)]
    assert everything == ["", "left", "right", "right.0", "right.1", "alias"]
    assert [name for name, _ in tree.named_modules(prefix="model")][:2] == ["model", "model.left"]


def test_named_parameters_and_buffers():
    tree = Tree()
    assert [name for name, _ in tree.named_parameters()] == ["bias", "left.w", "right.0.w"]
    assert [name for name, _ in tree.named_parameters(recurse=False)] == ["bias"]
    assert [name for name, _ in tree.named_parameters(prefix="net")][0] == "net.bias"
    assert [name for name, _ in tree.named_parameters(remove_duplicate=False)] == [
        "bias", "left.w", "right.0.w", "alias.w"]
    assert [name for name, _ in tree.named_buffers()] == ["left.count", "left.cache", "right.0.count", "right.0.cache"]
    assert len(list(tree.parameters())) == 3 and len(list(tree.buffers())) == 4
    assert list(tree.parameters(recurse=False)) == [tree.bias]


def test_a_parameter_shared_by_two_modules_is_listed_once():
    a, b = Linear(2, 2), Linear(2, 2)
    b.weight = a.weight
    model = Sequential(a, b)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]


def test_apply_visits_children_first_then_self():
    tree, seen = Tree(), []
    assert tree.apply(lambda m: seen.append(type(m).__name__)) is tree
    assert seen == ["Leaf", "Leaf", "ReLU", "Sequential", "Tree"]


# ----- state_dict -----------------------------------------------------------------------------------
def test_state_dict_keys_order_and_copies():
    tree = Tree()
    state = tree.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state) == ["bias", "left.w", "left.count", "right.0.w", "right.0.count", "alias.w", "alias.count"]
    assert all(isinstance(value, np.ndarray) for value in state.values())
    assert state["left.w"] is not tree.left.w.data and np.shares_memory(state["left.w"], tree.left.w.data) is False
    tree.left.w.data[...] = 9
    assert state["left.w"].tolist() == [0.0, 1.0], "state_dict must hold copies"


def test_load_state_dict_round_trip_in_place():
    source, target = Tree(), Tree()
    source.bias.data[...] = 7
    source.right[0].w.data[...] = [1, 2, 3]
    source.left.count.data[...] = 4
    weight = target.right[0].w
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target.right[0].w is weight and weight.tolist() == [1.0, 2.0, 3.0]
    assert target.bias.tolist() == [7.0] and target.left.count.item() == 4
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_load_state_dict_accepts_tensors_and_casts_dtype():
    layer = Linear(2, 1)
    layer.load_state_dict({"weight": Tensor([[1.0, 2.0]]), "bias": np.array([0.5], dtype=np.float64)})
    assert layer.weight.tolist() == [[1.0, 2.0]] and layer.bias.dtype == np.float32
    assert layer.bias.tolist() == [0.5]


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    model = Sequential(Linear(2, 3), Linear(3, 1))
    before = model.state_dict()
    bad = model.state_dict()
    bad["0.weight"] = np.zeros((2, 3), dtype=np.float32)
    del bad["1.bias"]
    bad["2.weight"] = np.zeros(1)
    bad["0.bias"] = np.ones(3, dtype=np.float32)
    with pytest.raises(ValueError) as caught:
        model.load_state_dict(bad)
    message = str(caught.value)
    assert message.startswith("Error(s) in loading state_dict for Sequential:")
    assert "missing key(s): '1.bias'" in message
    assert "unexpected key(s): '2.weight'" in message
    assert "size mismatch for '0.weight': the state_dict has shape (2, 3), the model has shape (3, 2)" in message
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=f"{name} changed by a failed load")


def test_load_state_dict_non_strict_returns_the_differences():
    model = Linear(2, 2)
    state = {"weight": np.eye(2, dtype=np.float32), "extra": np.zeros(1)}
    result = model.load_state_dict(state, strict=False)
    assert result == (["bias"], ["extra"])
    assert model.weight.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_load_state_dict_shape_mismatch_is_an_error_even_when_not_strict():
    with pytest.raises(ValueError, match=r"size mismatch for 'bias'.*\(3,\).*\(2,\)"):
        Linear(2, 2).load_state_dict({"bias": np.zeros(3)}, strict=False)


@pytest.mark.parametrize("state, message", [
    ([("weight", np.zeros((2, 2)))], "expected a dict of name -> array, got list"),
    ({"weight": np.array([["a", "b"], ["c", "d"]])}, "entry 'weight' must hold numbers"),
])
def test_load_state_dict_type_errors(state, message):
    with pytest.raises(TypeError, match=message):
        Linear(2, 2).load_state_dict(state)


def test_non_persistent_buffers_stay_out_of_state_dict():
    leaf = Leaf()
    assert "cache" not in leaf.state_dict() and "cache" in dict(leaf.named_buffers())
    leaf.load_state_dict({"w": np.ones(2), "count": np.array(3)})
    assert leaf.count.item() == 3


# ----- modes, gradients, calling ----------------------------------------------------------------------
def test_train_and_eval_reach_every_module():
    tree = Tree()
    assert tree.eval() is tree
    assert all(not m.training for m in tree.modules())
    assert tree.train() is tree and all(m.training for m in tree.modules())
    tree.train(False)
    assert not tree.right[1].training


@pytest.mark.parametrize("mode", [1, "eval", None])
def test_train_mode_must_be_bool(mode):
    with pytest.raises(ValueError, match="train: mode must be True or False"):
        Tree().train(mode)


def test_zero_grad_and_requires_grad_():
    layer = Linear(2, 2)
    for p in layer.parameters():
        p.grad = Tensor(np.ones(p.shape, dtype=np.float32))
    layer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in layer.parameters())
    layer.zero_grad()
    assert all(p.grad is None for p in layer.parameters())
    assert layer.requires_grad_(False) is layer and not layer.weight.requires_grad
    layer.requires_grad_()
    assert layer.bias.requires_grad


def test_call_runs_forward_and_missing_forward_is_explained():
    assert Leaf()(Tensor([2.0, 2.0])).tolist() == [0.0, 2.0]

    class NoForward(Module):
        pass

    with pytest.raises(NotImplementedError, match=r'Module \[NoForward\] is missing the required "forward" function'):
        NoForward()(Tensor([1.0]))


# ----- repr -----------------------------------------------------------------------------------------
def test_repr_nests_like_pytorch():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.features = Sequential(Linear(4, 3), ReLU())
            self.head = Linear(3, 2, bias=False)
            self.missing = None

    net = Net()
    net.register_module("empty", None)
    expected = (
        "Net(\n"
        "  (features): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (head): Linear(in_features=3, out_features=2, bias=False)\n"
        "  (empty): None\n"
        ")"
    )
    assert repr(net) == expected
    assert repr(Module()) == "Module()"


def test_repr_with_multi_line_extra_repr_and_children():
    class Fancy(Module):
        def __init__(self):
            super().__init__()
            self.inner = Identity()

        def extra_repr(self):
            return "alpha=1"

    assert repr(Fancy()) == "Fancy(\n  alpha=1\n  (inner): Identity()\n)"


def test_seeded_models_are_reproducible():
    manual_seed(123)
    first = Tree().state_dict(), Sequential(Linear(5, 4), Linear(4, 2)).state_dict()
    manual_seed(123)
    second = Tree().state_dict(), Sequential(Linear(5, 4), Linear(4, 2)).state_dict()
    for a, b in zip(first, second):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
