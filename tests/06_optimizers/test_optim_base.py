"""The Optimizer machinery: groups, state, zero_grad, in-place updates, state_dict, and clear errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.layers import Linear, Parameter
from tinytorch.core.tensor import Tensor
from tinytorch.optim import (
    SGD,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    flatten_state_dict,
    unflatten_state_dict,
)

CONFIGS = {
    "sgd": lambda ps: SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov_maximize": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, maximize=True),
    "adam": lambda ps: Adam(ps, lr=0.01),
    "adam_amsgrad_l2": lambda ps: Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True),
    "adamw": lambda ps: AdamW(ps, lr=0.01),
    "rmsprop": lambda ps: RMSprop(ps),
    "rmsprop_everything": lambda ps: RMSprop(ps, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1),
}


def params_like(*shapes, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]


def set_grads(params, seed):
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad = Tensor(rng.standard_normal(p.shape).astype(p.dtype))


# ----- in place, dtype, grads untouched ------------------------------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_updates_in_place_and_keeps_dtype(name, dtype):
    params = params_like((4, 3), (3,), dtype=dtype)
    arrays = [p.data for p in params]
    opt = CONFIGS[name](params)
    for step in range(3):
        set_grads(params, step)
        grads = [p.grad.data.copy() for p in params]
        before = [p.data.copy() for p in params]
        opt.step()
        for p, array, grad, old in zip(params, arrays, grads, before):
            assert p.data is array, f"{name}: step replaced p.data instead of updating it in place"
            assert p.data.dtype == dtype, f"{name}: a {np.dtype(dtype)} parameter became {p.data.dtype}"
            assert np.array_equal(p.grad.data, grad), f"{name}: step modified the gradient it read"
            assert not np.array_equal(p.data, old), f"{name}: the parameter did not move"
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == dtype, f"{name}: state array of dtype {value.dtype} for {np.dtype(dtype)}"


@pytest.mark.parametrize("name", CONFIGS)
def test_transposed_gradient_gives_the_same_step(name):
    """A column-major gradient (a transposed view, as Linear's weight gets) updates like a row-major one."""
    row, col = params_like((5, 7), seed=1), params_like((5, 7), seed=1)
    opt_row, opt_col = CONFIGS[name](row), CONFIGS[name](col)
    for step in range(3):
        grad = np.random.default_rng(step).standard_normal((5, 7)).astype(np.float32)
        row[0].grad = Tensor(grad.copy())
        col[0].grad = Tensor(np.asfortranarray(grad))
        opt_row.step()
        opt_col.step()
    assert np.array_equal(row[0].data, col[0].data), f"{name}: the gradient's memory layout changed the result"


def test_real_model_parameters_stay_float32_after_training_steps():
    model = Linear(6, 3)
    weights = [p.data for p in model.parameters()]
    opt = AdamW(model.parameters(), lr=1e-2)
    x = Tensor(np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32))
    for _ in range(3):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    for p, w in zip(model.parameters(), weights):
        assert p.data is w and p.dtype == np.float32


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=0, max_size=3), name=st.sampled_from(sorted(CONFIGS)))
def test_float32_tracks_the_float64_trajectory(shape, name):
    """The same optimizer on float32 and float64 copies of a parameter stays close for a few steps."""
    base = np.random.default_rng(len(shape)).standard_normal(shape)
    p32, p64 = Parameter(base.astype(np.float32)), Parameter(base.astype(np.float64))
    o32, o64 = CONFIGS[name]([p32]), CONFIGS[name]([p64])
    for step in range(4):
        grad = np.random.default_rng(step + 10).standard_normal(shape)
        p32.grad, p64.grad = Tensor(grad.astype(np.float32)), Tensor(grad)
        o32.step()
        o64.step()
    assert p32.dtype == np.float32 and p32.shape == tuple(shape)
    np.testing.assert_allclose(p32.data, p64.data, rtol=1e-4, atol=1e-5)


# ----- skipping, zero_grad, param groups -----------------------------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
def test_parameters_without_grad_are_skipped(name):
    a, b = params_like((3,), (2,))
    opt = CONFIGS[name]([a, b])
    b_before = b.data.copy()
    set_grads([a], 0)
    opt.step()
    assert np.array_equal(b.data, b_before), f"{name}: a parameter whose grad is None must not move"
    assert b not in opt.state, f"{name}: a parameter whose grad is None must get no state"


def test_zero_grad_set_to_none_and_zeros():
    a, b = params_like((3,), (2,))
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    set_grads([a], 0)
    grad_array = a.grad.data
    opt.zero_grad(set_to_none=False)
    assert a.grad.data is grad_array and not grad_array.any(), "set_to_none=False zeroes the existing array"
    assert b.grad is None, "set_to_none=False must not create gradients that did not exist"
    opt.zero_grad()
    assert a.grad is None and b.grad is None, "the default set_to_none=True sets .grad to None"


def test_zero_gradient_is_not_the_same_as_no_gradient():
    """With momentum, a zero gradient still moves the parameter; a None gradient does not."""
    zero, none = params_like((2,), seed=3), params_like((2,), seed=3)
    opt_zero, opt_none = SGD(zero, lr=0.1, momentum=0.9), SGD(none, lr=0.1, momentum=0.9)
    for opt, ps in [(opt_zero, zero), (opt_none, none)]:
        set_grads(ps, 0)
        opt.step()
    opt_zero.zero_grad(set_to_none=False)
    opt_none.zero_grad(set_to_none=True)
    before = none[0].data.copy()
    opt_zero.step()
    opt_none.step()
    assert np.array_equal(none[0].data, before) and not np.array_equal(zero[0].data, before)


def test_param_groups_use_their_own_learning_rates():
    slow, fast = params_like((3,), (3,), dtype=np.float64)
    start_slow, start_fast = slow.data.copy(), fast.data.copy()
    opt = SGD([{"params": [slow], "lr": 0.01}, {"params": [fast]}], lr=1.0)
    slow.grad, fast.grad = Tensor(np.ones(3)), Tensor(np.ones(3))
    opt.step()
    np.testing.assert_allclose(start_slow - slow.data, 0.01)
    np.testing.assert_allclose(start_fast - fast.data, 1.0)
    assert opt.param_groups[1]["momentum"] == 0 and opt.param_groups[0]["lr"] == 0.01


def test_add_param_group_later_and_group_options():
    a, b = params_like((2,), (2,))
    opt = Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "betas": (0.5, 0.6)})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.5, 0.6)
    opt.add_param_group({"params": [], "lr": 0.2})  # an empty group is allowed, as in PyTorch
    assert opt.defaults["betas"] == (0.9, 0.999)


def test_model_parameters_generator_and_closure():
    model = Linear(2, 1)
    opt = SGD(model.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 2
    x = Tensor(np.ones((4, 2), dtype=np.float32))
    calls = []

    def closure():
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        calls.append(loss.item())
        return loss

    returned = opt.step(closure)
    assert calls and returned.item() == calls[0], "step(closure) evaluates the closure and returns its loss"
    assert opt.step() is None


def test_repr_lists_groups_and_options():
    text = repr(SGD(params_like((2,)), lr=0.5, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.5" in text and "momentum: 0.9" in text


# ----- bad input -------------------------------------------------------------------------------------
def _p():
    return params_like((2,))[0]


def _used_generator():
    gen = (p for p in [_p()])
    list(gen)
    return gen


BAD_INPUT = [
    ("negative lr", lambda: SGD([_p()], lr=-0.1), ValueError, "learning rate"),
    ("nan lr", lambda: Adam([_p()], lr=float("nan")), ValueError, "learning rate"),
    ("string lr", lambda: SGD([_p()], lr="0.1"), ValueError, "learning rate"),
    ("negative momentum", lambda: SGD([_p()], lr=0.1, momentum=-0.5), ValueError, "momentum"),
    ("negative weight decay", lambda: SGD([_p()], weight_decay=-1e-4), ValueError, "weight_decay"),
    ("nesterov without momentum", lambda: SGD([_p()], lr=0.1, nesterov=True), ValueError, "Nesterov"),
    ("nesterov with dampening", lambda: SGD([_p()], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "zero dampening"),
    ("beta1 = 1", lambda: Adam([_p()], betas=(1.0, 0.999)), ValueError, "beta parameter at index 0"),
    ("beta2 > 1", lambda: AdamW([_p()], betas=(0.9, 1.5)), ValueError, "beta parameter at index 1"),
    ("negative beta", lambda: Adam([_p()], betas=(-0.1, 0.9)), ValueError, "index 0"),
    ("betas not a pair", lambda: Adam([_p()], betas=0.9), ValueError, "pair"),
    ("negative eps", lambda: Adam([_p()], eps=-1e-8), ValueError, "epsilon"),
    ("negative alpha", lambda: RMSprop([_p()], alpha=-0.1), ValueError, "alpha"),
    ("RMSprop negative momentum", lambda: RMSprop([_p()], momentum=-1), ValueError, "momentum"),
    ("empty list", lambda: SGD([], lr=0.1), ValueError, "empty parameter list"),
    ("used-up generator", lambda: Adam(_used_generator()), ValueError, "already used up"),
    ("single tensor", lambda: SGD(_p(), lr=0.1), TypeError, "single Tensor"),
    ("a set", lambda: SGD({_p()}, lr=0.1), TypeError, "set"),
    ("a bare dict", lambda: SGD({"params": [_p()]}, lr=0.1), TypeError, "one dict"),
    ("not iterable", lambda: SGD(3, lr=0.1), TypeError, "iterable"),
    ("ndarray item", lambda: SGD([np.ones(3)], lr=0.1), TypeError, "can only optimize Tensors"),
    ("float item", lambda: Adam([_p(), 1.5]), TypeError, "item 1"),
    ("non-leaf", lambda: SGD([_p() * 2], lr=0.1), ValueError, "non-leaf"),
    ("integer tensor", lambda: SGD([Tensor(np.arange(3))], lr=0.1), TypeError, "floating-point"),
    ("mixed dicts and tensors", lambda: SGD([{"params": [_p()]}, _p()], lr=0.1), TypeError, "must be a dict"),
    ("group without params", lambda: SGD([{"lr": 0.1}], lr=0.1), ValueError, "'params'"),
    ("bad group lr", lambda: SGD([{"params": [_p()]}, {"params": [_p()], "lr": -1}], lr=0.1), ValueError,
     "param group 1"),
]


@pytest.mark.parametrize("make, kind, fragment", [case[1:] for case in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input_raises_a_clear_error(make, kind, fragment):
    with pytest.raises(kind, match=None) as info:
        make()
    assert fragment in str(info.value), f"expected {fragment!r} in: {info.value}"


def test_duplicate_parameters():
    p, q = _p(), _p()
    with pytest.raises(ValueError, match="more than once"):
        SGD([p, q, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p]}, {"params": [q, p]}], lr=0.1)
    opt = SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    assert len(opt.param_groups) == 1, "a rejected group must not be added"


def test_gradient_of_the_wrong_shape():
    p = _p()
    p.grad = Tensor(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="gradient of shape"):
        SGD([p], lr=0.1).step()


def test_base_class_step_is_abstract():
    class Bare(Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

    with pytest.raises(NotImplementedError, match="step"):
        Bare([_p()]).step()


# ----- state_dict ------------------------------------------------------------------------------------
def is_plain(value) -> bool:
    if isinstance(value, np.ndarray) or value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, (int, str)) and is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(is_plain(v) for v in value)
    return False


def npz_round_trip(state: dict, prefix: str = "optimizer/") -> dict:
    buffer = io.BytesIO()
    np.savez(buffer, **flatten_state_dict(state, prefix=prefix))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        return unflatten_state_dict(stored, prefix=prefix)


def two_group_setup(name, seed=0):
    params = params_like((4, 3), (3,), (2, 2), seed=seed)
    opt = CONFIGS[name]([params[0]])
    opt.add_param_group({"params": params[1:], "lr": 0.05})
    return params, opt


@pytest.mark.parametrize("name", CONFIGS)
def test_state_dict_round_trip_resumes_identically(name):
    params, opt = two_group_setup(name)
    for step in range(3):
        set_grads(params, step)
        opt.step()
    saved = opt.state_dict()
    assert is_plain(saved), "state_dict must hold only NumPy arrays and plain Python values"
    assert saved["param_groups"][0]["params"] == [0] and saved["param_groups"][1]["params"] == [1, 2]
    restored_params, restored = two_group_setup(name, seed=99)
    for p, q in zip(restored_params, params):
        p.data[...] = q.data
    restored.load_state_dict(npz_round_trip(saved))
    assert restored.param_groups[1]["lr"] == 0.05
    for step in range(3, 6):
        set_grads(params, step)
        set_grads(restored_params, step)
        opt.step()
        restored.step()
    for p, q in zip(params, restored_params):
        assert np.array_equal(p.data, q.data), f"{name}: the resumed optimizer took different steps"


def test_state_dict_is_a_snapshot():
    p = params_like((3,))[0]
    opt = Adam([p], lr=0.1)
    set_grads([p], 0)
    opt.step()
    saved = opt.state_dict()
    exp_avg = saved["state"][0]["exp_avg"].copy()
    set_grads([p], 1)
    opt.step()
    assert np.array_equal(saved["state"][0]["exp_avg"], exp_avg) and saved["state"][0]["step"] == 1


def test_load_state_dict_casts_to_parameter_dtype_and_copies():
    p64 = Parameter(np.ones(3))
    opt64 = SGD([p64], lr=0.1, momentum=0.9)
    p64.grad = Tensor(np.ones(3))
    opt64.step()
    saved = opt64.state_dict()
    p32 = Parameter(np.ones(3, dtype=np.float32))
    opt32 = SGD([p32], lr=0.1, momentum=0.9)
    opt32.load_state_dict(saved)
    buffer = opt32.state[p32]["momentum_buffer"]
    assert buffer.dtype == np.float32
    buffer[...] = 7
    assert not np.any(saved["state"][0]["momentum_buffer"] == 7), "loaded arrays must be copies"


def test_adamw_stays_decoupled_after_loading_adam_state():
    p = _p()
    adam = Adam([p], weight_decay=0.1)
    adamw = AdamW([_p()])
    adamw.load_state_dict(adam.state_dict())
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True
    assert adamw.param_groups[0]["weight_decay"] == 0.1


def _stepped(make):
    params = params_like((3,), (2,))
    opt = make(params)
    set_grads(params, 0)
    opt.step()
    return opt


MISMATCHES = [
    ("group count", lambda: SGD([{"params": params_like((3,))}, {"params": params_like((2,))}], lr=0.1),
     lambda: _stepped(lambda ps: SGD(ps, lr=0.1)), "parameter group(s)"),
    ("group size", lambda: SGD(params_like((3,)), lr=0.1), lambda: _stepped(lambda ps: SGD(ps, lr=0.1)),
     "has 2 parameters"),
    ("SGD into Adam", lambda: Adam(params_like((3,), (2,))),
     lambda: _stepped(lambda ps: SGD(ps, lr=0.1, momentum=0.9)), "different optimizer"),
    ("Adam into RMSprop", lambda: RMSprop(params_like((3,), (2,))), lambda: _stepped(Adam), "different optimizer"),
    ("RMSprop into SGD", lambda: SGD(params_like((3,), (2,)), lr=0.1), lambda: _stepped(RMSprop),
     "different optimizer"),
    ("shapes", lambda: Adam(params_like((4,), (2,))), lambda: _stepped(Adam), "shape"),
]


@pytest.mark.parametrize("make_target, make_source, fragment", [m[1:] for m in MISMATCHES],
                         ids=[m[0] for m in MISMATCHES])
def test_load_state_dict_of_a_mismatched_optimizer(make_target, make_source, fragment):
    target = make_target()
    before = target.state_dict()
    with pytest.raises(ValueError) as info:
        target.load_state_dict(make_source().state_dict())
    assert fragment in str(info.value), f"expected {fragment!r} in: {info.value}"
    after = target.state_dict()
    assert after["param_groups"] == before["param_groups"] and not after["state"], (
        "a rejected load_state_dict must leave the optimizer unchanged")


def test_load_state_dict_rejects_non_state_dicts():
    with pytest.raises(TypeError, match="state_dict"):
        SGD([_p()], lr=0.1).load_state_dict({"weights": 1})
    with pytest.raises(ValueError, match="learning rate"):
        saved = SGD([_p()], lr=0.1).state_dict()
        saved["param_groups"][0]["lr"] = -1.0
        SGD([_p()], lr=0.1).load_state_dict(saved)


# ----- flatten / unflatten -------------------------------------------------------------------------
def test_flatten_round_trip_keeps_types():
    state = {"state": {0: {"step": 3, "buf": np.arange(6.0).reshape(2, 3)}, 5: {}},
             "param_groups": [{"betas": (0.9, 0.999), "params": [0, 5], "name": "head", "flag": True,
                               "none": None, "nan": float("nan"), "inf": float("inf"),
                               "phases": [{"end_step": 2.0, "start": "initial_lr"}]}],
             "counts": {3: 2, 7: 1}, "ints": np.arange(3, dtype=np.int64), "np_scalar": np.float32(0.5)}
    flat = flatten_state_dict(state, prefix="opt/")
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in flat.values())
    assert "opt/state/0/buf" in flat and "opt/__layout__" in flat
    back = npz_round_trip(state, prefix="opt/")
    assert back["state"][0]["step"] == 3 and isinstance(back["state"][0]["step"], int)
    assert np.array_equal(back["state"][0]["buf"], state["state"][0]["buf"])
    assert back["state"][5] == {} and set(back["state"]) == {0, 5}
    group = back["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert group["params"] == [0, 5] and group["flag"] is True and group["none"] is None
    assert np.isnan(group["nan"]) and group["inf"] == float("inf") and group["phases"][0]["start"] == "initial_lr"
    assert back["counts"] == {3: 2, 7: 1} and back["ints"].dtype == np.int64 and back["np_scalar"] == 0.5


def test_two_state_dicts_share_one_file_with_prefixes():
    a, b = {"x": np.ones(2)}, {"x": np.zeros(3)}
    buffer = io.BytesIO()
    np.savez(buffer, **flatten_state_dict(a, "a/"), **flatten_state_dict(b, "b/"))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        assert np.array_equal(unflatten_state_dict(stored, "a/")["x"], np.ones(2))
        assert np.array_equal(unflatten_state_dict(stored, "b/")["x"], np.zeros(3))


def test_flatten_errors():
    with pytest.raises(TypeError, match="without pickle"):
        flatten_state_dict({"f": lambda: 0})
    with pytest.raises(TypeError, match="dtype object"):
        flatten_state_dict({"a": np.array([None, 1])})
    with pytest.raises(TypeError, match="keys must be str or int"):
        flatten_state_dict({1.5: 0})
    with pytest.raises(ValueError, match="both be stored"):
        flatten_state_dict({0: np.ones(1), "0": np.ones(1)})
    with pytest.raises(KeyError, match="__layout__"):
        unflatten_state_dict({"x": np.ones(1)})
