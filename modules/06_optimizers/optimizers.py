# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 06 — Optimizers: turning gradients into learning
#
# Module 05 gave every parameter a gradient: the direction in which the loss grows fastest. This
# module decides what to *do* with it. An optimizer reads each parameter's `.grad`, keeps whatever
# running memory its rule needs (a momentum buffer, averages of squared gradients), and moves the
# parameter — in place, once per training step, for every parameter of the model. We build
# PyTorch's four workhorses, the learning-rate schedules that steer them over a run, and gradient
# clipping, and we check every number against PyTorch, step for step.
#
# ## Learning objectives
#
# By the end of this module you will be able to:
#
# 1. Explain **gradient descent** as following the local slope, and why the size of the learning
#    rate decides between crawling, converging and diverging.
# 2. Build an **`Optimizer`** with PyTorch's structure: parameter groups, per-parameter state,
#    `zero_grad()`, `step()`, and a `state_dict()` that a checkpoint can store.
# 3. Implement **SGD** (momentum, dampening, Nesterov, weight decay), **Adam** (bias correction,
#    AMSGrad), **AdamW** (decoupled weight decay) and **RMSprop** (centered, momentum) with exactly
#    PyTorch's update rules.
# 4. Update parameters **in place** with preallocated work arrays, and measure what that saves.
# 5. **Clip** gradients by their global norm or by value.
# 6. **Schedule** the learning rate: step, multi-step, exponential, cosine, linear warm-up,
#    one-cycle (with momentum cycling) and sequences of schedules.
# 7. **Measure** what optimizers cost: state memory (SGD 1×, momentum 2×, Adam 3× the parameter
#    memory), convergence on an ill-conditioned problem, and time per step.
#
# **Prerequisites:** module 01 (`Tensor`: `.data` and `.grad`), 03 (`Parameter`,
# `Module.parameters()`), 05 (`backward`, `enable_grad`). **Exports to:**
# `tinytorch/core/optimizers.py`, re-exported as `tinytorch.optim` and
# `tinytorch.optim.lr_scheduler`.

# %%
#| default_exp core.optimizers

# %%
#| export
from __future__ import annotations

import copy
import json
import math
import numbers
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Mapping

import numpy as np

from tinytorch.core.autograd import enable_grad
from tinytorch.core.tensor import Tensor


def accelerated(kernel: str, *args):
    """Run module 16's fused kernel `kernel` on args, or return NotImplemented: take the plain path.

    NotImplemented when module 16 is not exported yet, when its fused paths are switched off
    (`with use_fused(False):`), or when the kernel is still a stub (it raises NotImplementedError
    before touching its arguments). The package's fast paths (here and modules 09, 13) ask through
    this one function; module 16 is imported only when called, as a later module must be.
    """
    try:
        from tinytorch.systems import acceleration
    except ModuleNotFoundError as error:  # only a missing module 16 means "plain path"; a broken one is loud
        if error.name not in ("tinytorch.systems", "tinytorch.systems.acceleration"):
            raise
        return NotImplemented
    if not acceleration.fused_enabled():
        return NotImplemented
    try:
        return getattr(acceleration, kernel)(*args)
    except NotImplementedError:
        return NotImplemented

# %% [markdown]
# ## 1. Gradient descent: walk downhill
#
# Imagine standing blindfolded on a hillside. You cannot see the valley, but you can feel the
# slope under your feet. The gradient `∇L(θ)` is that slope: it points uphill, and its length says
# how steep. So you take a step the other way:
#
# ```
#     θ  ←  θ − lr · ∇L(θ)            lr: the learning rate, how far to trust the slope
# ```
#
# How far is safe? Take the simplest loss, a parabola `L(θ) = ½·a·θ²` with curvature `a`. Its
# gradient is `a·θ`, so one step gives `θ ← (1 − lr·a)·θ`. Every step multiplies the distance to the
# minimum by `(1 − lr·a)`:
#
# ```
#   lr·a < 1       0 < factor < 1     creeps towards 0 from one side        (too small: slow)
#   lr·a = 1       factor = 0         lands exactly on the minimum in one step
#   1 < lr·a < 2   −1 < factor < 0    overshoots, bounces, still converges
#   lr·a > 2       |factor| > 1       every bounce is bigger than the last  (diverges)
# ```
#
# A real loss has many directions with different curvatures, from `a_min` to `a_max`. One `lr` must
# be below `2 / a_max` to stay stable in the steepest direction — and then, in the flattest
# direction, each step only removes a fraction `≈ lr·a_min ≤ 2·a_min / a_max` of the distance. The
# ratio `κ = a_max / a_min` (the **condition number**) decides how slow plain gradient descent is.
# Everything in this module past plain SGD is a way around that: momentum builds up speed along the
# flat directions, and Adam and RMSprop give each parameter its own step size.
#
# Run the cell to see the four regimes on `a = 1`.

# %%
def descend(lr: float, curvature: float = 1.0, theta: float = 1.0, steps: int = 8) -> list[float]:
    """Plain gradient descent on L = ½·curvature·θ², returning θ after each step."""
    path = [theta]
    for _ in range(steps):
        theta -= lr * curvature * theta
        path.append(theta)
    return path


for _lr in (0.1, 1.0, 1.9, 2.1):
    print(f"lr = {_lr:<4}  θ: " + " ".join(f"{t:+6.2f}" for t in descend(_lr)))

# %% [markdown]
# ## 2. The `Optimizer`: parameter groups, state, `zero_grad`, `step`
#
# Every PyTorch training loop has the same four lines around the model:
#
# ```python
# opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
# for x, y in data:
#     opt.zero_grad()                  # forget the last step's gradients (backward ACCUMULATES)
#     loss = loss_fn(model(x), y)
#     loss.backward()                  # fill p.grad for every parameter
#     opt.step()                       # move every parameter that has a gradient
# ```
#
# Inside, an optimizer is three pieces of bookkeeping:
#
# ```
# opt.defaults     = {"lr": 0.1, "momentum": 0.9, ...}          the constructor's hyperparameters
# opt.param_groups = [{"params": [w0, b0], "lr": 1e-4, "momentum": 0.9, ...},   group 0
#                     {"params": [w1, b1], "lr": 0.1,  "momentum": 0.9, ...}]   group 1
# opt.state        = {w0: {"momentum_buffer": ndarray}, b0: {...}, ...}         keyed by the parameter
# ```
#
# **Parameter groups** let different parameters use different hyperparameters — a common case is
# fine-tuning, where a pretrained backbone learns slowly and a new head learns fast:
#
# ```python
# opt = SGD([{"params": model.backbone.parameters(), "lr": 1e-4},   # overrides lr for this group
#            {"params": model.head.parameters()}],                   # takes every default
#           lr=1e-2, momentum=0.9)
# ```
#
# Each group is a plain dict holding its parameters and a full copy of every hyperparameter (the
# group's own values, the defaults for the rest). Learning-rate schedulers (section 9) work by
# rewriting `group["lr"]` between steps. A parameter may appear in only one group: two groups
# would update it twice per step. `add_param_group` adds a group later (to unfreeze a layer, say);
# an optimizer may even start with none, `Adam(lr=1e-3)`, and get its parameters from a `Trainer`
# (module 07) — until then its `step()` refuses to run, rather than silently doing nothing.
#
# **State** is the optimizer's memory per parameter: SGD's momentum buffer, Adam's two moment
# estimates and step count. It is keyed by the parameter object itself (tensors hash by identity),
# and created lazily on a parameter's first step.
#
# **`zero_grad(set_to_none=True)`** clears the gradients. PyTorch's default sets `.grad = None`
# rather than filling zeros: it frees the memory, and an optimizer *skips* a parameter whose grad
# is None. That difference matters: a zero gradient is still a gradient, so with zeros a momentum
# optimizer keeps moving a parameter that got no signal this step, and weight decay keeps
# shrinking it. With None, the parameter (and its state) is left untouched, exactly as in PyTorch.
#
# ### A checkpoint-ready `state_dict`
#
# Training runs for hours, so optimizer state must be saved with the model. The state dict uses
# PyTorch's layout, with one change of representation: every tensor is a NumPy array and every
# other value a plain Python number, string, tuple or list, so a later checkpoint module can store
# it in an `.npz` file without pickle.
#
# ```
# {"state": {0: {"step": 3, "exp_avg": ndarray, "exp_avg_sq": ndarray},    keyed by POSITION:
#            1: {...}},                                                    0, 1, 2, ... over all groups
#  "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}
# ```
#
# Why positions instead of the parameters? A checkpoint is loaded in a new process, into a new
# model whose Parameter objects are new; the order of `model.parameters()` is what stays the same.
# `load_state_dict` zips the saved positions with the current groups' parameters, checks that
# everything fits (number of groups, group sizes, which optimizer saved it, array shapes), and only
# then replaces anything. `state_dict()` returns copies, so training on does not change a snapshot
# you took (PyTorch returns references; `Module.state_dict` in module 03 copies too).
#
# ### In place, without temporaries
#
# A step runs once per batch for every parameter, so how it touches memory matters:
#
# ```
# p.data = p.data - lr * g          two new parameter-sized arrays per step, and p.data is REPLACED
#                                   (anything holding the old array — a view, a tied weight — goes stale)
# p.data -= lr * g                  in place, but lr * g is still a new temporary array
# np.multiply(g, lr, out=work)      no allocation at all: `work` is a buffer we own and reuse
# p.data -= work
# ```
#
# The base class lends each optimizer two such work arrays per dtype (`_scratch(p, slot)`), as large
# as its largest parameter, reused for every parameter and every step and never saved in the state.
# Two more helpers keep the subclasses short:
#
# - `_grads(group)` yields `(p, grad)` for the parameters that have a gradient (the skip rule above);
#   `grad` is the gradient's ndarray — read it, never write it (it belongs to the caller).
# - `_effective_grad(p, grad, weight_decay, maximize)` returns the gradient the update rule should
#   use: negated for `maximize=True`, plus `weight_decay · θ` (section 3 explains that term) — in a
#   work array when it has to change, else `grad` itself. One more systems detail lives there: a
#   `Linear` weight's gradient can arrive as a *transposed view* (column-major). NumPy handles any
#   memory layout, but an elementwise op between a row-major and a column-major array strides
#   through memory and runs several times slower; copying such a gradient once into the parameter's
#   layout makes all the following passes fast. (PyTorch promises that `p.grad` has `p`'s layout.)

# %%
#| export
def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_nonnegative(group: Mapping, key: str, where: str, what: str | None = None) -> None:
    """Raise ValueError unless group[key] is a real number >= 0 (NaN fails too)."""
    value = group[key]
    if not _is_number(value) or not value >= 0:
        raise ValueError(f"{where}: invalid {what or key} {key}={value!r}: expected a number >= 0")


def _typename(value) -> str:
    return type(value).__module__ + "." + type(value).__qualname__ if not isinstance(value, Tensor) else "Tensor"


class Optimizer:
    """Base class of all optimizers: parameter groups, per-parameter state, zero_grad, state_dict.

    params: an iterable of Tensors (e.g. model.parameters()), or of dicts (parameter groups)
    holding "params" plus any hyperparameters that override `defaults` for that group; or None,
    for an optimizer whose parameters are added later with add_param_group (what Trainer does
    with `Adam(lr=1e-3)`).
    Subclasses set `defaults` through __init__, validate groups in `_check_group`, list their
    state entries in `_state_keys`, and implement `step()`.
    """

    _state_keys: frozenset = frozenset()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_group(self.defaults, type(self).__name__)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._scratch_buffers: dict = {}
        name = type(self).__name__
        if params is None:  # Adam(lr=1e-3): parameters come later, add_param_group (a Trainer does it)
            return
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params should be an iterable of Tensors or of dicts, but got a single "
                            "Tensor; pass [tensor] or model.parameters()")
        if isinstance(params, Mapping):
            raise TypeError(f"{name}: params should be an iterable of Tensors or of dicts, but got one dict; "
                            "pass a list of parameter groups: [group]")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered collection (a list), not a set: the order of "
                            "a set changes between runs, and state_dict() relies on the order")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{name}: params should be an iterable of Tensors or of dicts, got "
                            f"{_typename(params)}") from None
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list. Did the model have no "
                             "parameters, or was model.parameters() (a generator) already used up by "
                             "an earlier call?")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _check_group(self, group: Mapping, where: str) -> None:
        """Validate the hyperparameters of one group (or of the defaults). Subclasses extend this."""
        if "lr" in group:
            _check_nonnegative(group, "lr", where, "learning rate")

    def add_param_group(self, param_group: Mapping) -> None:
        """Add a group {"params": [...], <hyperparameter>: value, ...}; missing ones take the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, Mapping):
            raise TypeError(f"{name}: a param group must be a dict with a 'params' entry, got "
                            f"{_typename(param_group)} (don't mix tensors and dicts in one params list)")
        if "params" not in param_group:
            raise ValueError(f"{name}: a param group must have a 'params' entry, got keys {sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: a param group's 'params' must be ordered (a list), not a set")
        else:
            params = list(params)
        index = len(self.param_groups)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: optimizer can only optimize Tensors (Parameters), but item {i} of "
                                f"param group {index} is {_typename(p)}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (item {i} of param group {index} "
                                 "was computed by an op, so backward never fills its .grad); pass the leaf "
                                 "it came from, or use t.detach().requires_grad_()")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating-point tensors, item {i} of param "
                                f"group {index} is {p.dtype}")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: param group {index} contains the same parameter more than once; "
                             "it would be updated twice per step")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if taken.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group "
                             f"(group {index} repeats parameters of an earlier group)")
        group = {"params": params}
        for key, default in self.defaults.items():
            group[key] = param_group.get(key, default)
        for key, value in param_group.items():
            group.setdefault(key, value)
        self._check_group(group, f"{name} param group {index}")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: .grad = None (default), or fill the existing grad with 0."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.data.flags.writeable:
                    p.grad.data.fill(0)
                else:
                    p.grad = Tensor(np.zeros_like(p.grad.data))

    def step(self, closure=None):
        """Update every parameter that has a gradient. Implemented by each optimizer."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step(); every Optimizer "
                                  "subclass (SGD, Adam, ...) must")

    # ----- helpers for the subclasses' step() -------------------------------------------------
    def _evaluate(self, closure):
        """PyTorch's closure protocol: re-evaluate the model (with gradients on) and return the loss.

        Every step() calls it first, so it also refuses to step an optimizer that has no parameters.
        """
        if not self.param_groups:
            raise RuntimeError(f"{type(self).__name__}.step(): this optimizer has no parameters yet. Create it "
                               f"with the model's parameters, {type(self).__name__}(model.parameters(), ...), or "
                               "give it to a Trainer, which adds the model's parameters to it")
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _grads(self, group: dict):
        """Yield (param, grad ndarray) for the group's parameters that have a gradient; skip the rest."""
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad.data
            if grad.shape != p.data.shape:
                raise ValueError(f"{type(self).__name__}.step: a parameter of shape {p.data.shape} has a "
                                 f"gradient of shape {grad.shape}; .grad must match its parameter")
            yield p, grad

    def _scratch(self, p: Tensor, slot: int) -> np.ndarray:
        """A reusable work array shaped and typed like p (slot 0 or 1); reused across steps, never saved."""
        size, dtype = p.data.size, p.data.dtype
        flat = self._scratch_buffers.get((dtype, slot))
        if flat is None or flat.size < size:
            flat = self._scratch_buffers[(dtype, slot)] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(p.data.shape)

    def _effective_grad(self, p: Tensor, grad: np.ndarray, weight_decay: float, maximize: bool) -> np.ndarray:
        """The gradient an update rule uses: -grad if maximize, plus weight_decay·θ (L2). Never writes grad."""
        if weight_decay == 0:
            if maximize:
                return np.negative(grad, out=self._scratch(p, 0))
            if grad.flags.c_contiguous or not p.data.flags.c_contiguous:
                return grad
            # A transposed (column-major) gradient would make every elementwise op of the update stride
            # through memory; one copy into the parameter's layout is cheaper than that.
            g = self._scratch(p, 0)
            np.copyto(g, grad)
            return g
        g = np.multiply(p.data, weight_decay, out=self._scratch(p, 0))
        if maximize:
            g -= grad
        else:
            g += grad
        return g

    # ----- saving and loading -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{"state": {position: {name: ndarray or number}}, "param_groups": [{..., "params": [positions]}]}.

        Positions count the parameters over all groups in order. Arrays are copies; every value is a
        NumPy array or a plain Python value (flatten_state_dict turns it into a dict of arrays).
        """
        position: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = [position.setdefault(id(p), len(position)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[position[id(p)]] = {key: (value.copy() if isinstance(value, np.ndarray) else value)
                                              for key, value in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore hyperparameters and state saved by state_dict() of the same kind of optimizer.

        Everything is checked before anything changes. Arrays are copied and cast to each parameter's
        dtype (as PyTorch does); the current groups keep their parameters.
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            raise TypeError(f"{where}: expected a dict with 'state' and 'param_groups' (from state_dict()), "
                            f"got {_typename(state_dict)}")
        saved_groups, saved_state = list(state_dict["param_groups"]), state_dict["state"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: loaded state dict has {len(saved_groups)} parameter group(s), this "
                             f"optimizer has {len(self.param_groups)}")
        by_position: dict = {}
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{where}: parameter group {i} of the loaded state dict has "
                                 f"{len(saved['params'])} parameters, this optimizer's group {i} has "
                                 f"{len(group['params'])}")
            missing = [key for key in self.defaults if key not in saved]
            if missing:
                raise ValueError(f"{where}: parameter group {i} of the loaded state dict lacks {missing}: it "
                                 f"was saved by a different optimizer (a {name} has {sorted(self.defaults)})")
            by_position.update(zip(saved["params"], group["params"]))
            new_group = {"params": group["params"]}
            new_group.update({key: copy.deepcopy(value) for key, value in saved.items() if key != "params"})
            self._check_group(new_group, f"{where}: param group {i}")
            new_groups.append(new_group)
        new_state = defaultdict(dict)
        for position, entries in saved_state.items():
            if position not in by_position:
                raise ValueError(f"{where}: the state has an entry for parameter {position!r}, which no "
                                 "loaded param group lists")
            p = by_position[position]
            unknown = sorted(set(entries) - self._state_keys)
            if unknown:
                raise ValueError(f"{where}: the state of parameter {position} has {unknown}, which a {name} "
                                 f"does not use: the state dict was saved by a different optimizer")
            for key, value in entries.items():
                if key == "step":
                    new_state[p][key] = int(np.asarray(value))
                    continue
                if isinstance(value, Tensor):
                    value = value.data
                if isinstance(value, np.ndarray):
                    if value.shape != p.data.shape:
                        raise ValueError(f"{where}: state {key!r} of parameter {position} has shape "
                                         f"{value.shape}, but the parameter has shape {p.data.shape}")
                    value = np.array(value, dtype=p.data.dtype, copy=True)
                new_state[p][key] = value
        for group, new_group in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new_group)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines + [")"])


# %%
#| test
class _CountingOptimizer(Optimizer):
    """A toy optimizer for testing the base class: counts each parameter's steps, moves nothing."""

    _state_keys = frozenset({"step"})

    def __init__(self, params, lr=0.1, beta=0.5):
        super().__init__(params, {"lr": lr, "beta": beta})

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            for p, _ in self._grads(group):
                self.state[p]["step"] = self.state[p].get("step", 0) + 1
        return loss


def _expect_error(kind, fragment, fn):
    """Call fn(); require an exception of `kind` whose message contains `fragment`."""
    try:
        fn()
    except kind as error:
        assert fragment in str(error), f"expected {fragment!r} in the message, got: {error}"
        return
    raise AssertionError(f"expected {kind.__name__} mentioning {fragment!r}, nothing was raised")


def test_unit_optimizer_base():
    a, b, c = (Tensor(np.ones(n, dtype=np.float32), requires_grad=True) for n in (2, 3, 4))
    opt = _CountingOptimizer([{"params": [a], "lr": 1.0}, {"params": (t for t in [b])}], lr=0.5)
    assert [g["lr"] for g in opt.param_groups] == [1.0, 0.5], (
        f"group lrs: expected [1.0, 0.5] (group value, then default), got {[g['lr'] for g in opt.param_groups]}")
    assert opt.param_groups[1]["beta"] == 0.5, "a group must get every default it does not override"
    opt.add_param_group({"params": c, "lr": 0.25})
    assert opt.param_groups[2]["params"][0] is c, (
        "add_param_group should accept a single tensor and wrap it in a list")
    _expect_error(ValueError, "more than one", lambda: opt.add_param_group({"params": [a]}))
    _expect_error(ValueError, "empty", lambda: _CountingOptimizer([]))
    _expect_error(TypeError, "Tensors", lambda: _CountingOptimizer([np.ones(3)]))
    _expect_error(ValueError, "non-leaf", lambda: _CountingOptimizer([a * 2]))
    _expect_error(ValueError, "learning rate", lambda: _CountingOptimizer([a], lr=-1.0))

    a.grad, b.grad = Tensor(np.ones(2, np.float32)), Tensor(np.ones(3, np.float32))
    opt.step()
    assert a in opt.state and c not in opt.state, "step must skip parameters whose grad is None"
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and not a.grad.data.any(), "zero_grad(set_to_none=False) fills the grads with 0"
    opt.zero_grad()
    assert a.grad is None and b.grad is None, "zero_grad() (set_to_none=True) sets .grad to None"

    saved = opt.state_dict()
    assert saved["param_groups"][2]["params"] == [2] and set(saved["state"]) == {0, 1}, (
        f"state_dict should key state by position 0, 1, 2, ... over all groups, got {saved}")
    fresh = _CountingOptimizer([{"params": [a], "lr": 9.0}, {"params": [b]}, {"params": [c]}])
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 1.0 and fresh.state[b]["step"] == 1, (
        "load_state_dict should restore each group's hyperparameters and each parameter's state")
    _expect_error(ValueError, "parameter group", lambda: _CountingOptimizer([a]).load_state_dict(saved))
    print("✅ Optimizer: groups with defaults, clear errors, zero_grad both ways, state_dict by position")


test_unit_optimizer_base()

# %% [markdown]
# ## 3. SGD, momentum and Nesterov
#
# ### Plain SGD
#
# "Stochastic" gradient descent is gradient descent on a gradient measured on a random mini-batch
# instead of the whole data set: noisier, far cheaper, and the noise even helps escape poor
# regions. The update is section 1's rule, `θ ← θ − lr·g`.
#
# ### Momentum: a ball rolling downhill
#
# In a long narrow valley (an ill-conditioned loss), the gradient points mostly *across* the valley,
# towards the nearest wall, and only a little *along* it. Plain SGD zig-zags from wall to wall and
# crawls forward. A heavy ball behaves better: across the valley the pushes alternate and cancel,
# along the valley they always agree and the ball picks up speed.
#
# ```
#    plain SGD                                   momentum
#    ╲    ╱╲    ╱╲    ╱╲                         ╲
#     ╲  ╱  ╲  ╱  ╲  ╱  ╲  ...  slow             ╲___
#      ╲╱    ╲╱    ╲╱    ╲╱                           ╲______________  → fast
#    (each step jumps to the other wall)         (cross-valley pushes cancel, the along-valley
#                                                 pushes add up into velocity)
# ```
#
# The velocity is a running sum of past gradients, each one weighted `momentum` times less than the
# next. PyTorch writes it as a buffer `b`:
#
# ```
#   b ← g                                     on the parameter's first step
#   b ← momentum · b + (1 − dampening) · g    afterwards
#   θ ← θ − lr · b
# ```
#
# With a constant gradient, `b` grows to `g / (1 − momentum)`: momentum 0.9 is a 10× longer stride
# along directions the gradient keeps agreeing on. Two details copy PyTorch exactly:
#
# - The buffer starts as **the first gradient itself**, not zeros. Starting from zeros would make
#   the first steps `(1 − dampening)` times too small and give the ball a slow start for no reason.
# - **`dampening`** scales the new gradient's contribution (0 by default: the full gradient).
#
# Other texts write `v ← μ·v − lr·g;  θ ← θ + v`. For a constant `lr` it is the same trajectory
# (`v = −lr·b`); PyTorch's form keeps `lr` outside the buffer, so changing `lr` during training
# (section 9) takes effect at once instead of fading in.
#
# ### Nesterov: look before you leap
#
# Nesterov momentum evaluates the step where the momentum is about to carry us. In PyTorch's form:
# use `g + momentum · b` (the fresh gradient plus the buffer's next push) instead of `b`. It reacts a
# step earlier when the valley bends, and is only defined with `momentum > 0` and `dampening = 0`.
#
# ### Weight decay as an L2 penalty
#
# Adding `½·λ·‖θ‖²` to the loss adds `λ·θ` to the gradient. With plain SGD this is the same as
# shrinking the weights by a factor `(1 − lr·λ)` every step ("weight decay"):
#
# ```
#   θ − lr·(g + λ·θ)  =  (1 − lr·λ)·θ − lr·g
# ```
#
# `SGD(weight_decay=λ)` adds `λ·θ` to the gradient *before* the momentum buffer sees it — that is
# what `_effective_grad` does. Section 5 shows why that innocent-looking choice stops meaning
# "weight decay" as soon as the optimizer rescales gradients. Finally, **`maximize=True`** climbs
# instead of descending (the gradient is negated first), for objectives like a reward.
#
# ### Your task
#
# Implement the per-parameter body of `SGD.step`. `g` (the effective gradient) is ready; write the
# momentum buffer update, the Nesterov variant, and the in-place update of `p.data`, using the work
# array `self._scratch(p, 1)` instead of temporaries.

# %%
#| export
class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, like torch.optim.SGD.

    Per parameter θ with gradient g (PyTorch's rule):
        g ← −g if maximize;   g ← g + weight_decay·θ
        b ← g on the first step, later b ← momentum·b + (1 − dampening)·g      (if momentum ≠ 0)
        g ← g + momentum·b if nesterov, else g ← b
        θ ← θ − lr·g
    State per parameter: "momentum_buffer" (only when momentum ≠ 0).
    """

    _state_keys = frozenset({"momentum_buffer"})

    def __init__(self, params=None, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_group(self, group, where):
        super()._check_group(group, where)
        _check_nonnegative(group, "momentum", where)
        _check_nonnegative(group, "weight_decay", where)
        if not _is_number(group["dampening"]):
            raise ValueError(f"{where}: invalid dampening={group['dampening']!r}: expected a number")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{where}: Nesterov momentum requires a momentum and zero dampening (got "
                             f"momentum={group['momentum']}, dampening={group['dampening']})")

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place. Returns closure()'s loss, if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, momentum, dampening, nesterov = group["lr"], group["momentum"], group["dampening"], group["nesterov"]
            for p, grad in self._grads(group):
                g = self._effective_grad(p, grad, group["weight_decay"], group["maximize"])
                # Hint: when momentum != 0:
                #         buf = self.state[p].get("momentum_buffer")
                #         first step (buf is None): store a COPY of g with p's dtype (np.array(g, dtype=...))
                #         later: buf *= momentum, then add (1 - dampening) * g, computed into work
                #         nesterov: g becomes g + momentum * buf (build it in work); else g becomes buf
                #       finally θ ← θ − lr·g in place: np.multiply(g, lr, out=work); p.data -= work
                #       work = self._scratch(p, 1) may be written over; g may live in slot 0 or be the
                #       caller's gradient, so never write into g itself.
                ### BEGIN SOLUTION
                work = self._scratch(p, 1)
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = np.array(g, dtype=p.data.dtype)
                    else:
                        buf *= momentum
                        buf += np.multiply(g, 1 - dampening, out=work)
                    if nesterov:
                        g = np.add(g, np.multiply(buf, momentum, out=work), out=work)
                    else:
                        g = buf
                p.data -= np.multiply(g, lr, out=work)
                ### END SOLUTION
        return loss


# %%
#| test
def _param(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def _run(opt, p, grads):
    """Feed the gradients one step at a time; return θ after each step."""
    path = []
    for g in grads:
        p.grad = Tensor(np.array(g, dtype=p.dtype))
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


def test_unit_sgd():
    p = _param([1.0, -2.0])
    got = _run(SGD([p], lr=0.1), p, [[1.0, 1.0], [0.5, -1.0]])
    assert np.allclose(got, [[0.9, -2.1], [0.85, -2.0]]), f"plain SGD: expected θ − 0.1·g each step, got {got}"

    p = _param([1.0])
    got = _run(SGD([p], lr=0.1, momentum=0.9), p, [[1.0], [1.0], [1.0]]).ravel()
    # buffers: 1 (the first gradient), 0.9·1 + 1 = 1.9, 0.9·1.9 + 1 = 2.71
    assert np.allclose(got, [0.9, 0.71, 0.439]), (
        f"momentum SGD: expected [0.9, 0.71, 0.439], got {got}. Likely cause: the buffer must start as "
        "the first gradient (not zeros), then b = momentum·b + (1 − dampening)·g")

    p = _param([1.0])
    got = _run(SGD([p], lr=0.1, momentum=0.5, dampening=0.5), p, [[1.0], [1.0]]).ravel()
    assert np.allclose(got, [0.9, 0.9 - 0.1 * (0.5 + 0.5)]), f"dampening: expected [0.9, 0.8], got {got}"

    p = _param([1.0])
    got = _run(SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, [[1.0], [1.0]]).ravel()
    # nesterov uses g + momentum·b: 1 + 0.9·1 = 1.9, then 1 + 0.9·1.9 = 2.71
    assert np.allclose(got, [1 - 0.19, 1 - 0.19 - 0.271]), f"nesterov: expected [0.81, 0.539], got {got}"

    p = _param([2.0])
    got = _run(SGD([p], lr=0.1, weight_decay=0.5, maximize=True), p, [[1.0]]).ravel()
    assert np.allclose(got, [2.0 - 0.1 * (-1.0 + 0.5 * 2.0)]), (
        f"maximize + weight decay: the gradient is negated first, then weight_decay·θ is added; got {got}")

    p = _param(np.ones((3, 4)), dtype=np.float32)
    array, grad = p.data, np.full((3, 4), 0.5, np.float32)
    p.grad = Tensor(grad)
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
    opt.step()
    opt.step()
    assert p.data is array and p.data.dtype == np.float32, (
        "SGD must update p.data in place (same array object, still float32); `p.data = ...` replaces it")
    assert np.all(grad == 0.5), "step must never modify the gradient array it reads"
    print("✅ SGD: plain, momentum (buffer starts at g), dampening, Nesterov, weight decay, maximize, in place")


test_unit_sgd()

# %% [markdown]
# ## 4. Adam: a step size for every parameter
#
# Momentum fixes the direction; it does nothing about scale. A parameter whose gradients are
# always tiny (a rarely-used embedding row, the flat direction of a valley) still moves slowly, and
# a parameter with huge gradients needs a small `lr` that starves everyone else. **Adam** (Kingma &
# Ba, 2015) divides each parameter's step by a running estimate of that parameter's gradient size.
# It keeps two exponential moving averages per parameter:
#
# ```
#   m ← β1·m + (1 − β1)·g          first moment:  the average gradient (momentum)
#   v ← β2·v + (1 − β2)·g²         second moment: the average SQUARED gradient (its scale²)
#   θ ← θ − lr · m̂ / (√v̂ + ε)      roughly lr · (average direction) / (typical size): a step of ≈ lr
# ```
#
# ### Bias correction, derived
#
# Both averages start at 0, so early on they are too small. Unroll the first one:
# `m_t = (1 − β1)·Σᵢ β1^(t−i)·gᵢ`. If the gradients have a steady mean `E[g]`, the weights sum to
# `(1 − β1)(1 + β1 + … + β1^(t−1)) = 1 − β1^t`, so `E[m_t] = (1 − β1^t)·E[g]`: too small by exactly
# the factor `1 − β1^t`. Dividing it out gives an unbiased estimate:
#
# ```
#   m̂ = m / (1 − β1^t)          v̂ = v / (1 − β2^t)          t = this parameter's step count
# ```
#
# How much does it matter? At `t = 1` with the defaults (β1 = 0.9, β2 = 0.999): `m = 0.1·g` and
# `√v = √0.001·|g| ≈ 0.032·|g|`, so without correction the first step would be `≈ 3.2·lr`. It gets
# worse before it gets better: for a steady gradient the uncorrected step is
# `(1 − β1^t) / √(1 − β2^t)` times `lr`, about 6.5 at `t = 10`, 3.2 at `t = 100`, and still 1.26 at
# `t = 1000` — β2's average has a memory of ~1000 steps. With correction, the first step is exactly
# `lr · g/|g| = ±lr`, whatever the gradient's scale. That invariance is much of Adam's appeal:
# `lr` is roughly "how far each parameter moves per step".
#
# ### PyTorch's exact arithmetic
#
# To match PyTorch to the last bits we follow its order of operations:
#
# ```
#   step_size = lr / (1 − β1^t)
#   denom     = √v / √(1 − β2^t) + ε          ε is added AFTER correcting √v (it guards v̂, not v)
#   θ         ← θ − step_size · m / denom
# ```
#
# **AMSGrad** (`amsgrad=True`, Reddi et al. 2018) keeps the running *maximum* of `v` and divides by
# that instead, so a parameter's effective step size can never grow back after a large gradient:
# `v_max ← max(v_max, v)`, then `denom` uses `v_max`. **`weight_decay`** adds `λ·θ` to the gradient
# (an L2 penalty, as in SGD); section 5 is about why that is usually the wrong thing for Adam.
#
# ### Your task
#
# Implement the moment updates, bias correction and the in-place parameter update in `Adam.step`.
# The state is initialised for you; `self._scratch(p, 1)` is one parameter-sized work array.

# %%
#| export
def _check_betas(group: Mapping, where: str) -> None:
    betas = group["betas"]
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(_is_number(b) for b in betas)):
        raise ValueError(f"{where}: invalid betas={betas!r}: expected a pair of numbers (beta1, beta2)")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{where}: invalid beta parameter at index {i}: {beta} (betas={tuple(betas)}); "
                             "each beta must satisfy 0 <= beta < 1")


class Adam(Optimizer):
    """Adam (optionally AMSGrad), like torch.optim.Adam.

    Per parameter, at its step t (counted from 1):
        g ← −g if maximize;   g ← g + weight_decay·θ   (or θ ← θ·(1 − lr·weight_decay) if decoupled)
        m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²;   v_max ← max(v_max, v)  (amsgrad)
        θ ← θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)          (v_max instead of v with amsgrad)
    State per parameter: "step", "exp_avg" (m), "exp_avg_sq" (v), "max_exp_avg_sq" (amsgrad).
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"})

    def __init__(self, params=None, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        defaults = {"lr": lr, "betas": tuple(betas) if isinstance(betas, list) else betas, "eps": eps,
                    "weight_decay": weight_decay, "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_group(self, group, where):
        super()._check_group(group, where)
        _check_nonnegative(group, "eps", where, "epsilon")
        _check_betas(group, where)
        _check_nonnegative(group, "weight_decay", where)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place. Returns closure()'s loss, if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, decoupled = group["weight_decay"], group["decoupled_weight_decay"]
            for p, grad in self._grads(group):
                state = self.state[p]
                if not state:  # this parameter's first step: zero moments
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                # With no weight decay, Adam and AdamW are the same update, so both can take the fused kernel.
                if (decoupled or weight_decay == 0) and not group["amsgrad"] and not group["maximize"] \
                        and p.data.flags.c_contiguous \
                        and accelerated("adamw_step_", p.data, grad, state["exp_avg"], state["exp_avg_sq"],
                                        state["step"], lr, beta1, beta2, eps, weight_decay) is not NotImplemented:
                    continue  # module 16's fused AdamW did this parameter's whole update, block by block
                if weight_decay != 0 and decoupled:
                    adamw_decay_(p.data, lr, weight_decay)  # AdamW, section 5
                g = self._effective_grad(p, grad, 0 if decoupled else weight_decay, group["maximize"])
                # Hint: m, v = state["exp_avg"], state["exp_avg_sq"]; work = self._scratch(p, 1).
                #       m ← β1·m + (1 − β1)·g:  m *= beta1, then add (1 - beta1)·g computed into work.
                #       v ← β2·v + (1 − β2)·g²: v *= beta2, work = g·g, work *= 1 - beta2, v += work.
                #       t = state["step"]; bias corrections 1 − β1**t and 1 − β2**t.
                #       amsgrad: np.maximum(v_max, v, out=v_max) and use v_max below instead of v.
                #       denom (in work): sqrt(v) / (1 − β2**t) ** 0.5 + eps;  then work = m / denom,
                #       work *= lr / (1 − β1**t), p.data -= work. Keep this order: it is PyTorch's.
                ### BEGIN SOLUTION
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                work = self._scratch(p, 1)
                exp_avg *= beta1
                exp_avg += np.multiply(g, 1 - beta1, out=work)
                exp_avg_sq *= beta2
                np.multiply(g, g, out=work)
                work *= 1 - beta2
                exp_avg_sq += work
                t = state["step"]
                bias_correction1 = 1 - beta1 ** t
                bias_correction2 = 1 - beta2 ** t
                if group["amsgrad"]:
                    exp_avg_sq = np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                denom = np.sqrt(exp_avg_sq, out=work)
                denom /= bias_correction2 ** 0.5
                denom += eps
                update = np.divide(exp_avg, denom, out=work)
                update *= lr / bias_correction1
                p.data -= update
                ### END SOLUTION
        return loss


# %%
#| test
def test_unit_adam():
    p = _param([1.0, 1.0, 1.0])
    _run(Adam([p], lr=0.01), p, [[1e-4, -3.0, 1e4]])
    assert np.allclose(p.data, [0.99, 1.01, 0.99], atol=1e-6), (
        f"Adam's first step should move every parameter by ≈ lr against its gradient's sign, whatever the "
        f"gradient's scale; got θ = {p.data}. Likely cause: missing or misplaced bias correction")

    p = _param([0.0])
    got = _run(Adam([p], lr=0.1, betas=(0.5, 0.5), eps=0.0), p, [[1.0], [3.0]]).ravel()
    # step 2: m = 0.5·0.5 + 0.5·3 = 1.75 → m̂ = 1.75/0.75;  v = 0.5·0.5 + 0.5·9 = 4.75 → v̂ = 4.75/0.75
    expected = -0.1 - 0.1 * (1.75 / 0.75) / np.sqrt(4.75 / 0.75)
    assert np.allclose(got[1], expected), f"Adam step 2: expected {expected:.6f}, got {got[1]:.6f}"

    grads = [[10.0], [0.1], [0.1]]
    p, q = _param([0.0]), _param([0.0])
    plain = _run(Adam([p], lr=0.1), p, grads).ravel()
    ams = _run(Adam([q], lr=0.1, amsgrad=True), q, grads).ravel()
    assert abs(ams[2] - ams[1]) < abs(plain[2] - plain[1]), (
        "AMSGrad divides by the running MAX of v, so after a large gradient its steps stay smaller than "
        f"Adam's; got Adam steps {np.diff(plain)}, AMSGrad steps {np.diff(ams)}")

    p = _param(np.ones(5), dtype=np.float32)
    array = p.data
    _run(Adam([p], lr=0.1, amsgrad=True, weight_decay=0.1), p, [np.ones(5)] * 3)
    assert p.data is array and p.data.dtype == np.float32, "Adam must update float32 parameters in place"
    opt = Adam([p])
    _expect_error(ValueError, "beta parameter at index 1", lambda: Adam([p], betas=(0.9, 1.0)))
    _expect_error(ValueError, "epsilon", lambda: Adam([p], eps=-1e-8))
    assert opt.defaults["betas"] == (0.9, 0.999) and opt.defaults["eps"] == 1e-8, "Adam's defaults are PyTorch's"
    print("✅ Adam: bias-corrected first step of size lr, exact second step, AMSGrad, in place, validation")


test_unit_adam()

# %% [markdown]
# ## 5. AdamW: weight decay is not an L2 penalty (for Adam)
#
# For SGD, section 3 showed that an L2 penalty `½λ‖θ‖²` and shrinking weights by `(1 − lr·λ)` are
# the same thing. For Adam they are not. The L2 term `λ·θ` goes into the gradient, and then Adam
# divides the whole gradient by `√v̂`:
#
# ```
#   Adam + L2:   g' = g + λθ;   m, v = averages of g', g'²;   θ ← θ − lr · m̂ / (√v̂ + ε)
#                the pull λθ is divided by √v̂, a statistic of the LOSS gradients
# ```
#
# So a weight whose loss gradients are large (large `√v̂`) is barely decayed, and a weight with tiny
# gradients is decayed hard — the opposite of a uniform pull towards zero, and the regulariser
# ends up tangled with the gradient statistics. Loshchilov & Hutter (2019) proposed **decoupling**:
# leave the gradient alone, and shrink the weights directly, before the Adam step:
#
# ```
#   AdamW:   θ ← θ · (1 − lr·λ)            then the ordinary Adam step on the loss gradient alone
# ```
#
# Every weight now decays by the same fraction per step, whatever its gradient history. It
# generalises better and makes `lr` and `λ` easier to tune separately; AdamW is the default
# optimizer for transformers. Its default `weight_decay` is `1e-2` (Adam's is 0).
#
# In PyTorch 2.x, `AdamW` *is* `Adam(decoupled_weight_decay=True)`; ours too: `Adam.step` already
# calls `adamw_decay_` when the group says so. Your task is that one function.

# %%
#| export
def adamw_decay_(param: np.ndarray, lr: float, weight_decay: float) -> np.ndarray:
    """Decoupled weight decay, in place: θ ← θ·(1 − lr·weight_decay). Returns `param` (same array)."""
    # Hint: one in-place multiplication; compute the factor as PyTorch does: 1 - lr * weight_decay.
    ### BEGIN SOLUTION
    param *= 1 - lr * weight_decay
    return param
    ### END SOLUTION


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), like torch.optim.AdamW.

    θ ← θ·(1 − lr·weight_decay), then the Adam step on the loss gradient alone. Default weight_decay=1e-2.
    """

    def __init__(self, params=None, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: Mapping) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # an AdamW stays decoupled, whatever was saved (as in PyTorch)
            group["decoupled_weight_decay"] = True


# %%
#| test
def test_unit_adamw():
    array = np.array([2.0, -4.0])
    assert adamw_decay_(array, 0.1, 0.5) is array and np.allclose(array, [1.9, -3.8]), (
        f"adamw_decay_(θ, lr=0.1, wd=0.5) should scale θ by 0.95 in place and return it; got {array}")

    # Two parameters with gradients 100x apart: AdamW decays both by the same fraction, Adam+L2 does not.
    big, small = _param([1.0]), _param([1.0])
    opt = AdamW([big, small], lr=0.01, weight_decay=0.1)
    big.grad, small.grad = Tensor(np.array([1.0])), Tensor(np.array([0.01]))
    opt.step()
    assert np.allclose([big.data[0], small.data[0]], 1.0 * (1 - 0.01 * 0.1) - 0.01), (
        f"AdamW: decay by (1 − lr·wd), then an Adam step of lr; got {big.data[0]:.6f}, {small.data[0]:.6f}")
    assert AdamW([big]).defaults["weight_decay"] == 1e-2, "AdamW's default weight_decay is 1e-2"

    coupled = _param([1.0])
    _run(Adam([coupled], lr=0.01, weight_decay=0.1), coupled, [[0.0]])
    assert np.isclose(coupled.data[0], 0.99), (
        "Adam + L2 with a zero loss gradient: the decay term λθ is normalised by √v̂, so θ moves a full lr "
        f"(to 0.99) instead of decaying by lr·λ; got {coupled.data[0]}")
    print("✅ AdamW: decoupled decay θ·(1 − lr·λ) before the Adam step; Adam's L2 gets normalised instead")


test_unit_adamw()

# %% [markdown]
# ## 6. RMSprop
#
# RMSprop (Hinton's 2012 lecture notes — never a paper) is Adam's older sibling: keep a running
# average of squared gradients and divide by its square root, the **R**oot of the **M**ean
# **S**quare. No first moment, and no bias correction:
#
# ```
#   s ← α·s + (1 − α)·g²                              square_avg, α = 0.99 by default
#   centered:  a ← α·a + (1 − α)·g;  s̃ = s − a²       grad_avg: divide by the standard deviation
#   denom = √s (or √s̃) + ε
#   momentum > 0:  b ← momentum·b + g / denom;  θ ← θ − lr·b      (b starts at ZERO here)
#   otherwise:     θ ← θ − lr · g / denom
# ```
#
# Without bias correction the first steps are large: `s₁ = 0.01·g²`, so the first step is
# `lr·g/(0.1·|g|) = 10·lr` — with the default `lr = 1e-2`, every parameter moves by 0.1 at once. Adam's
# bias correction is the fix for exactly this. **Centered** RMSprop divides by an estimate of the
# gradient's *variance* instead of its raw second moment: directions with a consistent gradient
# (small variance) get larger steps. Note the details that differ from SGD: the momentum buffer
# starts at zeros, and it accumulates the *normalised* gradient.
#
# ### Your task
#
# Implement the per-parameter update of `RMSprop.step`; the state is initialised for you.

# %%
#| export
class RMSprop(Optimizer):
    """RMSprop (optionally centered, with momentum), like torch.optim.RMSprop.

        g ← −g if maximize;   g ← g + weight_decay·θ
        s ← α·s + (1 − α)·g²;   centered: a ← α·a + (1 − α)·g, denom = √(s − a²) + ε, else √s + ε
        momentum > 0: b ← momentum·b + g/denom, θ ← θ − lr·b;   else θ ← θ − lr·g/denom
    State per parameter: "step", "square_avg", "momentum_buffer" (momentum > 0), "grad_avg" (centered).
    """

    _state_keys = frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"})

    def __init__(self, params=None, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
                    "centered": centered, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_group(self, group, where):
        super()._check_group(group, where)
        _check_nonnegative(group, "eps", where, "epsilon")
        _check_nonnegative(group, "momentum", where)
        _check_nonnegative(group, "weight_decay", where)
        _check_nonnegative(group, "alpha", where)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place. Returns closure()'s loss, if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
            for p, grad in self._grads(group):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.data)
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(p.data)
                    if group["centered"]:
                        state["grad_avg"] = np.zeros_like(p.data)
                state["step"] += 1
                g = self._effective_grad(p, grad, group["weight_decay"], group["maximize"])
                # Hint: work = self._scratch(p, 1).
                #       square_avg: *= alpha, then += (1 - alpha)·g² (build g·g in work, scale it, add).
                #       centered: grad_avg *= alpha, += (1 - alpha)·g; then work = square_avg − grad_avg²
                #                 (np.multiply then np.subtract, both with out=work), then sqrt in place;
                #       not centered: work = sqrt(square_avg).  Either way: work += eps (the denominator).
                #       momentum > 0: buf *= momentum; buf += g / denom; p.data -= lr·buf
                #       else:         p.data -= lr · g / denom      (all with out=work, no temporaries)
                ### BEGIN SOLUTION
                work = self._scratch(p, 1)
                square_avg = state["square_avg"]
                square_avg *= alpha
                np.multiply(g, g, out=work)
                work *= 1 - alpha
                square_avg += work
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg *= alpha
                    grad_avg += np.multiply(g, 1 - alpha, out=work)
                    np.multiply(grad_avg, grad_avg, out=work)
                    np.subtract(square_avg, work, out=work)
                    denom = np.sqrt(work, out=work)
                else:
                    denom = np.sqrt(square_avg, out=work)
                denom += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    buf += np.divide(g, denom, out=work)
                    p.data -= np.multiply(buf, lr, out=work)
                else:
                    step = np.divide(g, denom, out=work)
                    step *= lr
                    p.data -= step
                ### END SOLUTION
        return loss


# %%
#| test
def test_unit_rmsprop():
    p = _param([0.0])
    got = _run(RMSprop([p], lr=0.01), p, [[2.0]]).ravel()
    assert np.allclose(got, [-0.1], rtol=1e-6), (
        f"RMSprop's first step is lr·g/√(0.01·g²) = 10·lr (no bias correction): expected -0.1, got {got}")

    p = _param([0.0])
    got = _run(RMSprop([p], lr=0.1, alpha=0.5, eps=0.0, centered=True), p, [[1.0], [3.0]]).ravel()
    # step 1: s = 0.5, a = 0.5 → √(0.5 − 0.25) = 0.5 → −0.2;   step 2: s = 4.75, a = 1.75 → √1.6875
    expected = [-0.2, -0.2 - 0.1 * 3.0 / np.sqrt(4.75 - 1.75 ** 2)]
    assert np.allclose(got, expected), f"centered RMSprop: expected {expected}, got {got}"

    p = _param([0.0])
    got = _run(RMSprop([p], lr=0.1, alpha=0.5, eps=0.0, momentum=0.5), p, [[1.0], [1.0]]).ravel()
    # the buffer starts at 0: b1 = 1/√0.5, b2 = 0.5·b1 + 1/√0.75
    b1 = 1 / np.sqrt(0.5)
    expected = [-0.1 * b1, -0.1 * b1 - 0.1 * (0.5 * b1 + 1 / np.sqrt(0.75))]
    assert np.allclose(got, expected), f"RMSprop momentum (buffer starts at zero): expected {expected}, got {got}"

    p = _param(np.ones(4), dtype=np.float32)
    array = p.data
    _run(RMSprop([p], momentum=0.9, centered=True, weight_decay=0.1, maximize=True), p, [np.ones(4)] * 2)
    assert p.data is array and p.data.dtype == np.float32, "RMSprop must update float32 parameters in place"
    _expect_error(ValueError, "alpha", lambda: RMSprop([p], alpha=-0.5))
    print("✅ RMSprop: 10·lr first step, centered variance, zero-started momentum buffer, in place")


test_unit_rmsprop()

# %% [markdown]
# ## 7. Saving optimizer state: `state_dict`, and flattening it for `.npz`
#
# Resuming a run needs the optimizer's state as much as the weights: restart Adam with empty
# moments and its first steps are full-size `±lr` jumps in every coordinate, which can undo hours
# of careful annealing. `Optimizer.state_dict()` (section 2) returns arrays and plain values;
# `LRScheduler.state_dict()` (section 9) returns plain values too.
#
# An `.npz` file holds a flat `name → array` mapping, and we load it with `allow_pickle=False`
# (DESIGN.md §9: a checkpoint must not be able to run code). So a checkpoint writer needs one more
# step, which these two helpers provide:
#
# ```
# flatten_state_dict(sd, prefix="optimizer/")  →  {"optimizer/state/0/exp_avg": ndarray, ...,
#                                                  "optimizer/__layout__": <JSON text, as a 0-d array>}
# unflatten_state_dict(arrays, prefix="optimizer/")  →  the original nested dict
# ```
#
# Each array becomes one entry named by its path. Everything else — the nesting, integer keys (the
# parameter positions must come back as ints, not "0"), tuples (`betas`), numbers, strings, `None` —
# is written into one JSON document stored as a unicode array: text, not pickle. A checkpoint module
# can put a model's, an optimizer's and a scheduler's state into one file by giving each a prefix.

# %%
#| export
_LAYOUT = "__layout__"


def flatten_state_dict(state_dict, prefix: str = "") -> dict[str, np.ndarray]:
    """A nested state dict -> a flat {key: ndarray} that np.savez can store and np.load(allow_pickle=False) reads.

    Arrays and Tensors become entries keyed prefix + their path ("state/0/exp_avg"); a Tensor comes
    back as a Tensor (with its requires_grad), an array as an array. The structure
    and all other values (dicts with int or str keys, lists, tuples, bool/int/float/str/None) go into
    one JSON string under prefix + "__layout__". unflatten_state_dict(result, prefix) rebuilds the dict.
    """
    arrays: dict[str, np.ndarray] = {}

    def encode(value, path: str):
        if isinstance(value, Tensor):  # stored like an array, remembered as a Tensor
            return {"tensor": [encode(value.data, path)["array"], bool(value.requires_grad)]}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufcU":
                raise TypeError(f"flatten_state_dict: the array at {path!r} has dtype {value.dtype}, which "
                                "cannot be saved without pickle")
            key = prefix + path
            if key in arrays or path == _LAYOUT:
                raise ValueError(f"flatten_state_dict: two entries would both be stored as {key!r}")
            arrays[key] = value
            return {"array": path}
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, Mapping):
            items = []
            for key, item in value.items():
                if isinstance(key, bool) or not isinstance(key, (int, str)):
                    raise TypeError(f"flatten_state_dict: keys must be str or int, {path or 'the root'} has "
                                    f"key {key!r}")
                items.append([key, encode(item, f"{path}/{key}" if path else str(key))])
            return {"dict": items}
        if isinstance(value, (list, tuple)):
            kind = "tuple" if isinstance(value, tuple) else "list"
            return {kind: [encode(item, f"{path}/{i}" if path else str(i)) for i, item in enumerate(value)]}
        raise TypeError(f"flatten_state_dict: {path or 'the root'} is {_typename(value)}, which cannot be "
                        "stored without pickle (use arrays, numbers, strings, None, lists, tuples, dicts)")

    layout = encode(state_dict, "")
    arrays[prefix + _LAYOUT] = np.array(json.dumps(layout))
    return arrays


def unflatten_state_dict(arrays: Mapping, prefix: str = "") -> dict:
    """Inverse of flatten_state_dict: rebuild the nested state dict (arrays are copied)."""
    key = prefix + _LAYOUT
    if key not in arrays:
        raise KeyError(f"unflatten_state_dict: no {key!r} entry; these arrays were not written by "
                       f"flatten_state_dict with prefix={prefix!r}")

    def decode(node):
        if not isinstance(node, dict):
            return node
        (kind, body), = node.items()
        if kind == "array":
            if prefix + body not in arrays:
                raise KeyError(f"unflatten_state_dict: the layout names array {prefix + body!r}, which is missing")
            return np.array(arrays[prefix + body], copy=True)
        if kind == "tensor":
            return Tensor(decode({"array": body[0]}), requires_grad=bool(body[1]))
        if kind == "dict":
            return {k: decode(v) for k, v in body}
        if kind == "list":
            return [decode(v) for v in body]
        if kind == "tuple":
            return tuple(decode(v) for v in body)
        raise ValueError(f"unflatten_state_dict: unknown layout entry {kind!r}")

    return decode(json.loads(str(np.asarray(arrays[key])[()])))


# %%
#| test
def test_unit_state_dict_round_trip():
    import io
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(4).astype(np.float32)]
    grads = [[rng.standard_normal(s.shape).astype(np.float32) for s in start] for _ in range(6)]

    def make(arrays):
        params = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        return params, AdamW([{"params": params[:1]}, {"params": params[1:], "lr": 0.01}], amsgrad=True)

    def run(params, opt, steps):
        for step_grads in steps:
            for p, g in zip(params, step_grads):
                p.grad = Tensor(g)
            opt.step()

    params, opt = make(start)
    run(params, opt, grads[:3])
    buffer = io.BytesIO()
    np.savez(buffer, **flatten_state_dict(opt.state_dict(), prefix="optimizer/"))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        loaded = unflatten_state_dict(stored, prefix="optimizer/")
    assert loaded["param_groups"][0]["betas"] == (0.9, 0.999) and 1 in loaded["state"], (
        "the round trip through .npz must keep tuples as tuples and integer state keys as ints")
    copies, resumed = make([p.data for p in params])
    resumed.load_state_dict(loaded)
    run(params, opt, grads[3:])
    run(copies, resumed, grads[3:])
    for original, restored in zip(params, copies):
        assert np.array_equal(original.data, restored.data), (
            "after load_state_dict the resumed optimizer must take exactly the same steps as the original")
    print("✅ state_dict → flatten → .npz (no pickle) → unflatten → load_state_dict resumes bit for bit")


test_unit_state_dict_round_trip()

# %% [markdown]
# ## 8. Gradient clipping
#
# One unlucky batch (a rare token, an outlier, a loss spike in a recurrent net) can produce a
# gradient thousands of times larger than usual, and a single step along it throws the model far
# from where it was. Clipping caps the step before the optimizer sees it.
#
# **By global norm** (`clip_grad_norm_`): treat all gradients of the model as one long vector,
# measure its length, and if it exceeds `max_norm`, scale *every* gradient by the same factor:
#
# ```
#   total = ‖ (‖g₁‖ₚ, ‖g₂‖ₚ, …, ‖gₙ‖ₚ) ‖ₚ             = the p-norm of all gradients concatenated
#   coef  = max_norm / (total + 1e-6),  clamped to at most 1
#   gᵢ   ← coef · gᵢ        for every parameter that has a gradient
# ```
#
# ```
#   before:   ────────────────────────►   total = 8, max_norm = 2
#   after:    ────►                       same direction, a quarter of the length
# ```
#
# The direction is kept: the update still points where the gradient points, just not as far. The
# `1e-6` keeps the division safe when every gradient is zero. `norm_type=float("inf")` (or `"inf"`)
# measures the largest absolute entry instead. The function returns the total norm *before*
# clipping — worth logging, since a rising gradient norm is an early sign of an unstable run.
#
# **By value** (`clip_grad_value_`) clamps every entry into `[−clip_value, clip_value]`. Cheaper,
# but it changes the gradient's direction.
#
# In a training loop, clipping goes between `backward()` (which makes the gradients) and `step()`:
#
# ```python
# loss.backward()
# clip_grad_norm_(model.parameters(), max_norm=1.0)
# opt.step()
# ```
#
# ### Your task
#
# Implement the norm and the scaling of `clip_grad_norm_`, in place, with PyTorch's semantics.

# %%
#| export
def _grad_arrays(parameters, where: str) -> list[np.ndarray]:
    """The .grad arrays of the parameters that have one (a single Tensor is allowed)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameters must be Tensors, item {i} is {_typename(p)}")
        if p.grad is not None:
            grads.append(p.grad.data)
    return grads


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their combined p-norm is at most max_norm; return the norm before.

    total = p-norm of every gradient concatenated (norm_type 2.0, 1.0, float("inf") or "inf", ...).
    Each gradient is multiplied, in place, by min(1, max_norm / (total + 1e-6)). Parameters without a
    gradient are ignored. Returns total as a 0-d Tensor (the gradients' dtype).
    """
    grads = _grad_arrays(parameters, "clip_grad_norm_")
    if not _is_number(max_norm):
        raise TypeError(f"clip_grad_norm_: max_norm must be a number, got {max_norm!r}")
    try:
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or 'inf', got {norm_type!r}") from None
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or 'inf', got {norm_type!r}")
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    # Hint: inf norm: the largest |entry| over all grads — per grad, max(g.max(), -g.min()) avoids an
    #       np.abs temporary; combine with np.max so a NaN propagates.
    #       2-norm: sqrt of the sum over grads of np.vdot(g, g) (a dot product, no temporary array).
    #       other p: (Σ over grads of np.sum(np.abs(g) ** p)) ** (1 / p).
    #       Then: if error_if_nonfinite and the total is NaN or inf, raise RuntimeError.
    #       coef = max_norm / (total + 1e-6); when coef < 1 (or is NaN, as PyTorch) multiply every g
    #       in place. Return Tensor(np.array(total, dtype=grads[0].dtype)).
    ### BEGIN SOLUTION
    if math.isinf(norm_type):
        total = float(np.max([np.maximum(g.max(), -g.min()) if g.size else 0.0 for g in grads]))
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    else:
        total = sum(float(np.sum(np.abs(g) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                           f"{total}, so it cannot be clipped; pass error_if_nonfinite=False to scale anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        for g in grads:
            g *= coef
    return Tensor(np.array(total, dtype=grads[0].dtype))
    ### END SOLUTION


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    if not _is_number(clip_value) or not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a number >= 0, got {clip_value!r}")
    for g in _grad_arrays(parameters, "clip_grad_value_"):
        np.clip(g, -clip_value, clip_value, out=g)


# %%
#| test
def test_unit_clip_grad():
    a, b, c = _param(np.zeros(2)), _param(np.zeros(1)), _param(np.zeros(3))
    a.grad, b.grad = Tensor(np.array([3.0, 0.0])), Tensor(np.array([4.0]))
    total = clip_grad_norm_([a, b, c], max_norm=1.0)
    assert np.isclose(float(total), 5.0), f"the global 2-norm of (3, 0) and (4) is 5, got {float(total)}"
    assert np.allclose(a.grad.data, [3 / (5 + 1e-6), 0]) and np.allclose(b.grad.data, [4 / (5 + 1e-6)]), (
        "every gradient is scaled by max_norm / (total + 1e-6): direction kept, global norm ≈ max_norm")
    before = a.grad.data.copy()
    clip_grad_norm_([a, b], max_norm=10.0)
    assert np.array_equal(a.grad.data, before), "below max_norm the gradients must stay unchanged (coef ≤ 1)"
    a.grad = Tensor(np.array([-7.0, 2.0]))
    total = clip_grad_norm_(a, max_norm=3.5, norm_type="inf")
    assert float(total) == 7.0 and np.allclose(a.grad.data, [-3.5, 1.0], rtol=1e-6), (
        f"inf norm = the largest |entry| (7); scaling by 3.5/7 gives [-3.5, 1]; got {a.grad.data}")
    a.grad = Tensor(np.array([-7.0, 0.2]))
    clip_grad_value_([a], 0.5)
    assert np.allclose(a.grad.data, [-0.5, 0.2]), f"clip_grad_value_ clamps each entry, got {a.grad.data}"
    print("✅ clip_grad_norm_ (2-norm, inf norm, no-op below max_norm) and clip_grad_value_")


test_unit_clip_grad()

# %% [markdown]
# ## 9. Learning-rate schedules
#
# A constant learning rate is a compromise. Early in training, large steps make fast progress;
# late in training, the gradient noise of mini-batches makes SGD bounce around the minimum in a
# "noise ball" whose size grows with `lr`, so smaller steps land closer. And at the very start,
# some models (transformers with Adam, large batches) are unstable with the full rate: Adam's
# second-moment estimate is built from a handful of gradients, and the first updates are large
# relative to the randomly initialised weights. Hence the usual shape — **warm up, then decay**:
#
# ```
#   lr
#   0.10 ┤        ●●●●●
#        │      ●●     ●●●
#        │     ●          ●●            warm-up: LinearLR (start_factor → 1 over 5 steps)
#        │    ●             ●●          then cosine annealing to eta_min: CosineAnnealingLR
#        │   ●                ●●        glued together by SequentialLR(milestones=[5])
#        │  ●                   ●●
#   0.01 ┤ ●                      ●●●
#        └──────────────────────────────► step
#          0    5                    30
# ```
#
# A scheduler holds little more than a counter. It rewrites `group["lr"]` of the optimizer's param groups
# (every group, each from its own base value) each time you call `scheduler.step()` — once per
# epoch or once per batch, after `optimizer.step()`:
#
# ```python
# opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
# sched = CosineAnnealingLR(opt, T_max=100)      # the constructor already sets the lr for step 0
# for epoch in range(100):
#     train_one_epoch(model, opt)                # opt.step() many times at the current lr
#     sched.step()                               # last_epoch += 1, then every group["lr"] = get_lr()
# ```
#
# `LRScheduler` keeps `base_lrs` (each group's `initial_lr`, recorded when the first scheduler is
# created), `last_epoch` (how many times `step()` ran; the constructor performs step 0) and
# `get_last_lr()`. Each schedule implements `get_lr()`, the rates for the new `last_epoch`.
#
# ### Chainable (recursive) form
#
# PyTorch's schedulers compute the *next* lr from the *current* `group["lr"]` — "multiply by γ
# when the epoch is a multiple of `step_size`" — rather than from a closed-form formula of the
# epoch. That makes them composable (another scheduler, or you, may also change the lr between
# steps, and each keeps applying its own factor), and it is what `get_lr()` implements. A closed
# form (`_get_closed_form_lr`) exists too; `SequentialLR` uses it to restart a schedule at epoch 0.
#
# The schedules (γ = gamma, t = last_epoch, η = lr):
#
# | scheduler | next lr from the current one | closed form |
# |---|---|---|
# | `StepLR(step_size, gamma=0.1)` | `η·γ` when `t > 0` and `t % step_size == 0` | `base·γ^⌊t/step_size⌋` |
# | `MultiStepLR(milestones, gamma=0.1)` | `η·γ^k` if `t` is a milestone listed `k` times | `base·γ^(#milestones ≤ t)` |
# | `ExponentialLR(gamma)` | `η·γ` (not on the constructor's step) | `base·γ^t` |
# | `CosineAnnealingLR(T_max, eta_min=0)` | see below | `eta_min + (base − eta_min)(1 + cos(π t/T_max))/2` |
# | `LinearLR(start_factor=1/3, end_factor=1, total_iters=5)` | see below | `base·(start + (end − start)·p)` |
#
# (unchanged when no rule applies; for LinearLR `p = min(t, total_iters)/total_iters`)
#
# **Cosine**, recursively: the ratio of consecutive closed-form values,
# `η_t = eta_min + (η_{t−1} − eta_min) · (1 + cos(π t/T)) / (1 + cos(π (t−1)/T))`. At `t − 1 = T`
# that denominator is 0, so PyTorch handles the turning point with an additive step instead
# (`(t − 1 − T) % 2T == 0`: `η + (base − eta_min)(1 − cos(π/T))/2`) — past `T_max` the rate climbs
# back up, a cosine wave, not a restart.
#
# **LinearLR**: at `t = 0`, `η·start_factor`; for `0 < t ≤ total_iters`,
# `η · (1 + (end − start) / (total_iters·start + (t − 1)(end − start)))` — again the ratio of
# consecutive closed-form values; after `total_iters`, unchanged.
#
# ### Your task
#
# Implement `get_lr()` of each schedule in this cell (`self._current_lrs()` gives the current
# `group["lr"]` values; `self._is_initial` is True during the constructor's step).

# %%
#| export
class LRScheduler:
    """Base class of learning-rate schedulers, like torch.optim.lr_scheduler.LRScheduler.

    Records each group's "initial_lr" (base_lrs), then performs step 0. step() advances last_epoch
    and writes get_lr() into every param group's "lr". Subclasses implement get_lr().
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {_typename(optimizer)}")
        if not isinstance(last_epoch, int) or isinstance(last_epoch, bool) or last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   f"scheduler with last_epoch={last_epoch}: load the optimizer's state_dict "
                                   "(which holds it) before creating the scheduler")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Step 0, performed by the constructor (get_lr sees _is_initial = True)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of every param group for the current last_epoch (chainable form)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr(); every scheduler must")

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch (or batch) and write the new learning rates into the optimizer."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:  # jump to an epoch (SequentialLR restarts schedules at 0): use the closed form if there is one
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def get_last_lr(self) -> list[float]:
        """The learning rates the last step() set, one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer, as plain Python values (copies)."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore a state saved by state_dict() of the same kind of scheduler."""
        expected = set(self.state_dict())
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a dict, got {_typename(state_dict)}")
        if set(state_dict) != expected:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state dict was saved by a different "
                             f"scheduler (missing {sorted(expected - set(state_dict))}, unexpected "
                             f"{sorted(set(state_dict) - expected)})")
        self.__dict__.update(copy.deepcopy(dict(state_dict)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={getattr(self, '_last_lr', None)})"


def _check_positive_int(value, name: str, where: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")


class StepLR(LRScheduler):
    """Multiply the lr by gamma every step_size epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        _check_positive_int(step_size, "step_size", "StepLR")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # Hint: unchanged at epoch 0 and whenever last_epoch is not a multiple of step_size;
        #       otherwise every current lr times gamma.
        ### BEGIN SOLUTION
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]
        ### END SOLUTION

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by gamma at each milestone epoch (by gamma**k if it is listed k times)."""

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        if any(not isinstance(m, int) or isinstance(m, bool) for m in milestones):
            raise ValueError(f"MultiStepLR: milestones must be integers, got {milestones!r}")
        if milestones != sorted(milestones):
            raise ValueError(f"MultiStepLR: milestones must be increasing, got {milestones!r}")
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # Hint: self.milestones is a Counter (epoch -> how many times it is listed).
        ### BEGIN SOLUTION
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]
        ### END SOLUTION

    def _get_closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]

    def load_state_dict(self, state_dict: Mapping) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter({int(k): v for k, v in dict(self.milestones).items()})


class ExponentialLR(LRScheduler):
    """Multiply the lr by gamma every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # Hint: the constructor's step (self._is_initial) leaves the lr alone.
        ### BEGIN SOLUTION
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]
        ### END SOLUTION

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine from each base lr down to eta_min over T_max epochs (PyTorch's recursive form)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        _check_positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # Hint: four cases, in this order (t = self.last_epoch, T = self.T_max):
        #       1. the constructor's step: the current lrs.
        #       2. resumed (self._step_count == 1 and t > 0): the closed form for t.
        #       3. (t − 1 − T) % (2T) == 0: η + (base − eta_min)·(1 − cos(π/T))/2 for each (base, η).
        #       4. otherwise: eta_min + (η − eta_min)·(1 + cos(π t/T)) / (1 + cos(π (t − 1)/T)).
        ### BEGIN SOLUTION
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:
            return self._get_closed_form_lr()
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, lr in zip(self.base_lrs, self._current_lrs())]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]
        ### END SOLUTION

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the lr by a factor going linearly from start_factor to end_factor over total_iters (warm-up)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not _is_number(start_factor) or not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not _is_number(end_factor) or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        _check_positive_int(total_iters, "total_iters", "LinearLR")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # Hint: t = 0: every lr times start_factor. During the constructor's step or for
        #       t > total_iters: unchanged. Otherwise multiply by
        #       1 + (end − start) / (total_iters·start + (t − 1)·(end − start)).
        ### BEGIN SOLUTION
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._current_lrs()
        factor = 1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * factor for lr in self._current_lrs()]
        ### END SOLUTION

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
                for base_lr in self.base_lrs]


# %%
#| test
def _schedule(make, steps, lr=0.1):
    """The lr after construction and after each of `steps` scheduler steps."""
    opt = SGD([_param([0.0])], lr=lr)
    sched = make(opt)
    values = [sched.get_last_lr()[0]]
    for _ in range(steps):
        opt.step()
        sched.step()
        values.append(sched.get_last_lr()[0])
    return np.array(values), sched, opt


def test_unit_schedulers():
    got, sched, opt = _schedule(lambda o: StepLR(o, step_size=2, gamma=0.5), 5)
    assert np.allclose(got, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]), f"StepLR(2, 0.5): got {got}"
    assert sched.last_epoch == 5 and opt.param_groups[0]["lr"] == got[-1], (
        "step() must advance last_epoch and write the lr into the optimizer's param group")
    got, *_ = _schedule(lambda o: MultiStepLR(o, milestones=[1, 3, 3], gamma=0.5), 4)
    assert np.allclose(got, [0.1, 0.05, 0.05, 0.0125, 0.0125]), f"MultiStepLR([1, 3, 3]): got {got}"
    got, *_ = _schedule(lambda o: ExponentialLR(o, gamma=0.5), 3)
    assert np.allclose(got, [0.1, 0.05, 0.025, 0.0125]), f"ExponentialLR(0.5): got {got}"
    got, *_ = _schedule(lambda o: CosineAnnealingLR(o, T_max=4, eta_min=0.02), 8)
    closed = 0.02 + 0.08 * (1 + np.cos(np.pi * np.arange(9) / 4)) / 2
    assert np.allclose(got, closed, atol=1e-12), (
        f"CosineAnnealingLR: expected the cosine {closed}, got {got} (past T_max it climbs back up)")
    got, *_ = _schedule(lambda o: LinearLR(o), 7)
    assert np.allclose(got, 0.1 * np.array([1 / 3, 7 / 15, 9 / 15, 11 / 15, 13 / 15, 1, 1, 1])), (
        f"LinearLR warm-up from lr/3 to lr over 5 steps: got {got}")
    print("✅ StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR follow their schedules")


test_unit_schedulers()

# %% [markdown]
# ### One-cycle and sequences of schedules
#
# **OneCycleLR** (Smith & Topin, 2018) runs the whole training in one cycle, counted in *batches*:
# the lr rises from `max_lr / div_factor` to `max_lr` over the first `pct_start` of the steps,
# then anneals to `initial_lr / final_div_factor` — far below where it started. Momentum moves the
# other way (high while the lr is low, low while the lr is high), because large steps with large
# momentum overshoot. For Adam the "momentum" is `β1`.
#
# ```
#   lr        ╱‾‾‾╲                         momentum  ‾╲       ╱‾‾‾
#            ╱      ╲___                                 ╲___╱
#   ───────────────────────► step              ───────────────────────► step
#   0      30%         100%                   0      30%         100%
# ```
#
# The schedule is a list of phases, each interpolating (cosine or linear) between two named values
# of the param group — `initial_lr`, `max_lr`, `min_lr`, `base_momentum`, `max_momentum` — which
# the constructor writes into every group. With `three_phase=True`, a symmetric warm-up and
# cool-down come first and a final phase annihilates the lr. Unlike the others, OneCycleLR computes
# its values from the step number alone. The constructor performs step 0, so a full cycle is the
# constructor plus `total_steps − 1` calls to `step()`; like PyTorch, it tolerates one call more and
# raises on the next.
#
# **SequentialLR** hands control from one scheduler to the next at given milestones: warm-up for 5
# steps, then cosine, as in the plot above. When the milestone arrives, the next scheduler is
# restarted at its epoch 0 — through its closed form, since its recursive form would continue from
# whatever lr the previous scheduler left behind.

# %%
#| export
def _per_group(value, name: str, optimizer: Optimizer) -> list:
    """One value per param group: a list/tuple of the right length, or a number used for every group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have one value per param group: got {len(value)} values for "
                             f"{len(optimizer.param_groups)} groups")
        return list(value)
    return [value] * len(optimizer.param_groups)


class OneCycleLR(LRScheduler):
    """The 1cycle policy: lr up from max_lr/div_factor to max_lr, then down to a tiny min_lr; momentum opposite.

    Stepped once per batch for total_steps (or epochs * steps_per_epoch) steps. cycle_momentum moves
    SGD's momentum (or Adam's beta1) between max_momentum and base_momentum, opposite to the lr.
    """

    def __init__(self, optimizer: Optimizer, max_lr, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR: expected an Optimizer, got {_typename(optimizer)}")
        self.optimizer = optimizer
        if total_steps is not None:
            _check_positive_int(total_steps, "total_steps", "OneCycleLR")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int(epochs, "epochs", "OneCycleLR")
            _check_positive_int(steps_per_epoch, "steps_per_epoch", "OneCycleLR")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")
        if not _is_number(pct_start) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be a float between 0 and 1, got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        warmup_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                {"end_step": warmup_end, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": warmup_end, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        max_lrs = _per_group(max_lr, "max_lr", optimizer)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("OneCycleLR: optimizer must support momentum or beta1 with `cycle_momentum` "
                                 f"option enabled ({type(optimizer).__name__} has neither)")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momenta = _per_group(max_momentum, "max_momentum", optimizer)
            base_momenta = _per_group(base_momentum, "base_momentum", optimizer)
            if last_epoch == -1:
                for group, top, bottom in zip(optimizer.param_groups, max_momenta, base_momenta):
                    self._set_momentum(group, top)
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict, value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        """Interpolate from start (pct = 0) to end (pct = 1): half a cosine, or a straight line."""
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the specified number of total steps is "
                             f"{self.total_steps}")
        # Hint: for each group, walk the phases with start_step = 0.0; the first phase with
        #       step <= phase["end_step"] (or the last phase) is the current one:
        #       pct = (step − start_step) / (end_step − start_step), lr = self._anneal(
        #       group[phase["start_lr"]], group[phase["end_lr"]], pct); otherwise start_step = end_step.
        #       With self.cycle_momentum, anneal the momentum the same way (phase["start_momentum"],
        #       phase["end_momentum"]) and store it with self._set_momentum(group, value).
        ### BEGIN SOLUTION
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                        self._set_momentum(group, momentum)
                    break
                start_step = end_step
        return lrs
        ### END SOLUTION


class SequentialLR(LRScheduler):
    """Run schedulers one after another: schedulers[i] is in charge from milestones[i - 1] on."""

    def __init__(self, optimizer: Optimizer, schedulers, milestones, last_epoch: int = -1):
        schedulers, milestones = list(schedulers), list(milestones)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"SequentialLR: expected an Optimizer, got {_typename(optimizer)}")
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] is {_typename(scheduler)}, not an LRScheduler")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR expects all schedulers to belong to the same optimizer, but "
                                 f"schedulers[{i}] ({type(scheduler).__name__}) has a different one")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, got {len(schedulers)} "
                             f"schedulers and {len(milestones)} milestones")
        if any(not isinstance(m, int) or isinstance(m, bool) for m in milestones) or milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be increasing integers, got {milestones!r}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # undo what the schedulers' constructors did ...
            group["lr"] = group["initial_lr"]
        for scheduler in schedulers:
            _undo_initial_step(scheduler)
        first = self._schedulers[bisect_right(self._milestones, 0)]  # ... and start the one in charge at 0
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)  # a new phase: restart this schedule at its epoch 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: Mapping) -> None:
        saved = state_dict.get("_schedulers") if isinstance(state_dict, Mapping) else None
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self._schedulers):
            raise ValueError(f"SequentialLR.load_state_dict: expected the states of {len(self._schedulers)} "
                             "schedulers under '_schedulers'")
        rest = {key: value for key, value in state_dict.items() if key != "_schedulers"}
        expected = {key for key in self.__dict__ if key not in ("optimizer", "_schedulers")}
        if set(rest) != expected:
            raise ValueError("SequentialLR.load_state_dict: the state dict was saved by a different scheduler")
        for scheduler, state in zip(self._schedulers, saved):
            scheduler.load_state_dict(state)
        self.__dict__.update(copy.deepcopy(rest))


def _undo_initial_step(scheduler: LRScheduler) -> None:
    for inner in getattr(scheduler, "_schedulers", ()):
        _undo_initial_step(inner)
    if not hasattr(scheduler, "_schedulers"):
        scheduler.last_epoch -= 1


# %%
#| test
def test_unit_onecycle_sequential():
    p = _param([0.0])
    opt = SGD([p], lr=0.5, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="linear", pct_start=0.5)
    lrs, momenta = [sched.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(9):  # step 0 (the constructor) + 9 = the 10 steps of the cycle
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
    assert np.isclose(lrs[0], 1.0 / 25) and np.isclose(max(lrs), 1.0) and np.isclose(lrs[-1], 0.04 / 1e4), (
        f"OneCycleLR: starts at max_lr/25, peaks at max_lr, ends at initial_lr/1e4; got {np.round(lrs, 5)}")
    assert np.argmax(lrs) == 4 and np.argmin(momenta) == 4, (
        f"the lr peaks (and momentum bottoms out) at step pct_start·total − 1 = 4; got lr {np.round(lrs, 3)}, "
        f"momentum {np.round(momenta, 3)}")
    sched.step()  # PyTorch tolerates one step more (last_epoch == total_steps) ...
    try:
        sched.step()  # ... but not two
    except ValueError as error:
        assert "total steps" in str(error)
    else:
        raise AssertionError("OneCycleLR must refuse to step past total_steps")

    opt = SGD([_param([0.0])], lr=0.1)
    warmup, decay = LinearLR(opt, start_factor=0.5, total_iters=2), ExponentialLR(opt, gamma=0.5)
    sched = SequentialLR(opt, [warmup, decay], milestones=[2])
    got = [sched.get_last_lr()[0]]
    for _ in range(4):
        opt.step()
        sched.step()
        got.append(sched.get_last_lr()[0])
    assert np.allclose(got, [0.05, 0.075, 0.1, 0.05, 0.025]), (
        f"SequentialLR: warm-up 0.05 → 0.075, then ExponentialLR restarted at 0.1 and halving; got {got}")
    print("✅ OneCycleLR (lr up then down, momentum opposite, stops at total_steps) and SequentialLR")


test_unit_onecycle_sequential()

# %% [markdown]
# Here is the schedule from the top of this section, computed by your schedulers: a 5-step linear
# warm-up into a 25-step cosine, and a one-cycle run with its momentum.

# %%
def ascii_plot(values, height: int = 8, label: str = "lr") -> None:
    """Print a small scatter plot of a sequence, one column per value."""
    values = np.asarray(values, dtype=np.float64)
    low, high = values.min(), values.max()
    rows = np.round((values - low) / (high - low or 1) * (height - 1)).astype(int)
    for row in range(height - 1, -1, -1):
        axis = f"{high:8.4f} ┤" if row == height - 1 else f"{low:8.4f} ┤" if row == 0 else " " * 8 + " │"
        print(axis + "".join("●" if r == row else " " for r in rows))
    print(" " * 9 + "└" + "─" * len(values) + f"► step   ({label})")


def schedule_values(make_optimizer, make_scheduler, steps: int, key=None):
    opt = make_optimizer()
    sched = make_scheduler(opt)
    read = key or (lambda o: o.param_groups[0]["lr"])
    values = [read(opt)]
    for _ in range(steps):
        opt.step()
        sched.step()
        values.append(read(opt))
    return values


ascii_plot(schedule_values(
    lambda: SGD([_param([0.0])], lr=0.1),
    lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.1, total_iters=5), CosineAnnealingLR(o, T_max=25)],
                           milestones=[5]), 30), label="LinearLR warm-up + CosineAnnealingLR")
ascii_plot(schedule_values(lambda: SGD([_param([0.0])], lr=0.1, momentum=0.9),
                           lambda o: OneCycleLR(o, max_lr=0.1, total_steps=40), 40), label="OneCycleLR: lr")
ascii_plot(schedule_values(lambda: SGD([_param([0.0])], lr=0.1, momentum=0.9),
                           lambda o: OneCycleLR(o, max_lr=0.1, total_steps=40), 40,
                           key=lambda o: o.param_groups[0]["momentum"]), label="OneCycleLR: momentum")

# %% [markdown]
# ## 10. Systems analysis: what optimizers cost
#
# ### Memory: the state is paid per parameter
#
# An optimizer's state has the shape of the model: one momentum buffer per parameter for SGD with
# momentum, two moment arrays for Adam. So *training* memory is a multiple of the *model's*:
# parameters + gradients + optimizer state (+ activations, module 05). The cell below builds a real
# MLP (784 → 256 → 128 → 10, float32), takes one step with each optimizer and adds up the bytes of
# every array in `opt.state`. The "× params" column counts parameters + state, the persistent
# memory an optimizer adds to the weights (gradients come on top for every optimizer alike).

# %%
#| analysis
from tinytorch.core.layers import Linear, ReLU, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.tensor import manual_seed


def make_mlp(seed: int = 0) -> Sequential:
    manual_seed(seed)
    return Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))


def state_bytes(opt: Optimizer) -> int:
    return sum(v.nbytes for s in opt.state.values() for v in s.values() if isinstance(v, np.ndarray))


def scratch_bytes(opt: Optimizer) -> int:
    return sum(buffer.nbytes for buffer in opt._scratch_buffers.values())


_rng = np.random.default_rng(0)
_x = Tensor(_rng.standard_normal((64, 784)).astype(np.float32))
_y = Tensor(_rng.integers(0, 10, 64))
OPTIMIZERS = {
    "SGD": lambda ps: SGD(ps, lr=0.01),
    "SGD momentum=0.9": lambda ps: SGD(ps, lr=0.01, momentum=0.9),
    "RMSprop": lambda ps: RMSprop(ps),
    "RMSprop centered+momentum": lambda ps: RMSprop(ps, momentum=0.9, centered=True),
    "Adam": lambda ps: Adam(ps),
    "Adam amsgrad": lambda ps: Adam(ps, amsgrad=True),
    "AdamW": lambda ps: AdamW(ps),
}
print(f"{'optimizer':<28}{'state':>10}{'× params':>10}{'scratch':>10}")
for _name, _make in OPTIMIZERS.items():
    _model = make_mlp()
    _opt = _make(list(_model.parameters()))
    _param_bytes = sum(p.data.nbytes for p in _model.parameters())
    CrossEntropyLoss()(_model(_x), _y).backward()
    _opt.step()
    _state = state_bytes(_opt)
    print(f"{_name:<28}{_state / 1e6:>8.2f}MB{(_param_bytes + _state) / _param_bytes:>9.2f}×"
          f"{scratch_bytes(_opt) / 1e6:>8.2f}MB")
print(f"(parameters: {_param_bytes / 1e6:.2f} MB, {sum(p.data.size for p in _model.parameters()):,} floats)")

# %% [markdown]
# Plain SGD stores nothing (1×), momentum one buffer (2×), Adam two moments (3×; plus a third with
# AMSGrad, 4×). The scratch arrays are sized by the *largest* parameter, not the model, and
# shared by all parameters. At scale this is the difference that matters: a 7-billion-parameter
# model in float32 is 28 GB of weights, 28 GB of gradients and 56 GB of Adam state. That is why
# large-model training shards optimizer state across GPUs (ZeRO), or stores it in 8 bits.
#
# ### Convergence: one ill-conditioned bowl, five optimizers
#
# A quadratic bowl `L(θ) = ½ Σᵢ aᵢ θᵢ²` in 50 dimensions whose curvatures `aᵢ` range from 1 to 100
# (condition number κ = 100), starting from `θ = 1` everywhere; gradients come from module 05's
# `backward()`. The learning rates are reasonable hand-picked values:
#
# - plain SGD at `lr = 0.019`, just under the stability limit `2 / a_max = 0.02`;
# - momentum 0.9 at `lr = 0.01`, the usual default;
# - momentum 0.67 at `lr = 0.033`, the heavy-ball values that theory gives for κ = 100
#   (`momentum = ((√κ − 1)/(√κ + 1))²`, `lr = 4 / (√a_max + √a_min)²`) — a tuned baseline;
# - RMSprop at `lr = 0.01` and Adam at `lr = 0.1`.
#
# Then the *same* bowl, rotated by a random orthogonal matrix `Q`: `L(θ) = ½ θᵀ (Q diag(a) Qᵀ) θ`.
# Same curvatures, same condition number — but its steep and flat directions are no longer the
# coordinate axes.

# %%
#| analysis
def quadratic_run(make_optimizer, steps: int, dim: int = 50, rotate: bool = False) -> list[float]:
    curvatures = np.logspace(0, 2, dim)
    if rotate:
        q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((dim, dim)))
        hessian = Tensor((q * curvatures) @ q.T)
    theta = Tensor(np.ones(dim), requires_grad=True)
    opt = make_optimizer([theta])
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        if rotate:
            loss = (theta @ hessian @ theta) * 0.5
        else:
            loss = (Tensor(curvatures) * theta * theta).sum() * 0.5
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


CHECKPOINTS = [10, 50, 100, 200, 400]
CONVERGENCE = {
    "SGD lr=0.019": lambda ps: SGD(ps, lr=0.019),
    "SGD mom=0.9 lr=0.01": lambda ps: SGD(ps, lr=0.01, momentum=0.9),
    "SGD mom=0.67 lr=0.033": lambda ps: SGD(ps, lr=0.033, momentum=0.67),
    "RMSprop lr=0.01": lambda ps: RMSprop(ps, lr=0.01),
    "Adam lr=0.1": lambda ps: Adam(ps, lr=0.1),
}
for _rotate in (False, True):
    print(("rotated bowl" if _rotate else "axis-aligned bowl") + ": loss after k steps")
    print(f"{'':<24}" + "".join(f"{k:>10}" for k in CHECKPOINTS))
    for _name, _make in CONVERGENCE.items():
        _losses = quadratic_run(_make, max(CHECKPOINTS), rotate=_rotate)
        print(f"{_name:<24}" + "".join(f"{_losses[k - 1]:>10.1e}" for k in CHECKPOINTS))

# %% [markdown]
# What to read in the two tables:
#
# - **Plain SGD** drops fast at first (the steep directions converge in a few steps) and then
#   crawls: the flattest direction only shrinks by `(1 − 0.019 · 1)` per step, exactly section 1's
#   analysis.
# - **Momentum 0.9** is *worse* after 10 steps — the ball overshoots and rolls back — and then
#   much faster. **Tuned momentum** wins by many orders of magnitude: with the right pair, every
#   direction converges at the rate `(√κ − 1)/(√κ + 1)` instead of `(κ − 1)/(κ + 1)`.
# - **Adam and RMSprop** do well on the axis-aligned bowl, because their per-coordinate scaling is
#   exactly right when the curvature directions *are* the coordinates. On the rotated bowl both
#   lose ground — RMSprop dramatically, Adam by orders of magnitude — while the SGD rows barely
#   change: SGD is rotation-invariant, a per-coordinate (diagonal) rescaling is not.
#
# None of this ranks optimizers in general: the point is that each one's strengths come from a
# property of the problem (axis alignment, a known condition number) and a tuned learning rate.
# On real networks, Adam's robustness to badly scaled parameters is what makes it the default,
# and SGD with momentum and a schedule often generalises slightly better on vision tasks.
#
# ### Time per step, and what in place buys
#
# The step touches every parameter a dozen times or so (Adam: about 13 elementwise passes), so its
# cost is memory traffic, not FLOPs. The cell times `opt.step()` alone on the MLP above (best of
# 20), and compares Adam with a naive Adam written with ordinary NumPy expressions
# (`m = b1 * m + (1 - b1) * g`, ...), which allocates a new parameter-sized array for nearly every
# operator — first on the MLP, then on one 4-million-float tensor (16 MB, about a large embedding
# table). `tracemalloc` (NumPy reports its allocations to it) measures the peak memory one step
# allocates.

# %%
#| analysis
import time
import tracemalloc


def naive_adam_step(params, moments, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam with ordinary expressions: correct, but a new array for almost every operator."""
    for p, (m, v) in zip(params, moments):
        g = p.grad.data
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        p.data = p.data - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)


def best_time(fn, repeats: int = 20) -> float:
    """Best of `repeats` runs: other programs only ever add time, so the minimum is the best estimate."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_allocation(fn) -> int:
    fn()  # warm up: state and scratch arrays are created on the first step
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def forward_backward_times(model, repeats: int = 5) -> tuple[float, float]:
    forward, backward = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        loss = CrossEntropyLoss()(model(_x), _y)
        middle = time.perf_counter()
        loss.backward()
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
    return min(forward), min(backward)


def naive_vs_inplace(params, repeats: int) -> tuple[float, float, int, int]:
    """(in-place Adam seconds, naive seconds, in-place peak bytes, naive peak bytes) per step."""
    opt = Adam(params)
    moments = [(np.zeros_like(p.data), np.zeros_like(p.data)) for p in params]
    counter = iter(range(1, 10 ** 6))
    naive = lambda: naive_adam_step(params, moments, next(counter))
    return (best_time(opt.step, repeats), best_time(naive, repeats),
            peak_allocation(opt.step), peak_allocation(naive))


_model = make_mlp()
_params = list(_model.parameters())
_forward_s, _backward_s = forward_backward_times(_model)
print(f"MLP, batch 64: forward {_forward_s * 1e3:.2f} ms, backward {_backward_s * 1e3:.2f} ms")
print(f"{'optimizer.step()':<28}{'time':>10}{'peak alloc':>13}{'vs fwd+bwd':>12}")
for _name, _make in OPTIMIZERS.items():
    _opt = _make(_params)
    _step_s = best_time(_opt.step)
    print(f"{_name:<28}{_step_s * 1e3:>8.3f}ms{peak_allocation(_opt.step) / 1e6:>11.2f}MB"
          f"{_step_s / (_forward_s + _backward_s):>11.0%}")

_big = Tensor(np.random.default_rng(1).standard_normal(4_000_000).astype(np.float32), requires_grad=True)
_big.grad = Tensor(np.random.default_rng(2).standard_normal(4_000_000).astype(np.float32))
print(f"\n{'Adam step':<22}{'in place':>12}{'naive':>12}{'in place':>12}{'naive':>12}")
for _label, _ps, _repeats in [("MLP (0.9 MB)", _params, 20), ("one tensor (16 MB)", [_big], 5)]:
    _fast, _slow, _fast_peak, _slow_peak = naive_vs_inplace(_ps, _repeats)
    print(f"{_label:<22}{_fast * 1e3:>10.2f}ms{_slow * 1e3:>10.2f}ms"
          f"{_fast_peak / 1e6:>10.2f}MB{_slow_peak / 1e6:>10.2f}MB")

# Cost per parameter as one tensor grows: both lines climb once the arrays no longer fit in the CPU
# caches; the gap between them is what the naive version's temporaries cost.
from tito.plots import plot_lines

_counts, _per_param = [10_000, 100_000, 1_000_000, 4_000_000], {"in place": [], "naive": []}
for _n in _counts:
    _p = Tensor(np.random.default_rng(3).standard_normal(_n).astype(np.float32), requires_grad=True)
    _p.grad = Tensor(np.random.default_rng(4).standard_normal(_n).astype(np.float32))
    _opt, _moments, _t = Adam([_p]), [(np.zeros(_n, np.float32), np.zeros(_n, np.float32))], iter(range(1, 99))
    _per_param["in place"].append(best_time(_opt.step, 3) * 1e9 / _n)
    _per_param["naive"].append(best_time(lambda: naive_adam_step([_p], _moments, next(_t)), 3) * 1e9 / _n)
plot_lines("adam_step_cost_vs_size", _counts, _per_param, xlabel="parameters in the tensor",
           ylabel="ns per parameter", title="Adam step: in place vs naive", logx=True, logy=True)

# %% [markdown]
# What the numbers say (yours will differ in the details):
#
# - After the first step, the in-place optimizers allocate next to nothing. The naive Adam
#   allocates several parameter-sized temporaries per tensor per step, and it *replaces* `p.data`
#   every step — any other reference to the old array (a view, a weight shared between two layers)
#   silently stops seeing updates.
# - The naive version is also slower, clearly so on the large tensor: small temporaries are
#   recycled cheaply by the allocator, but fresh large arrays are fresh memory pages from the
#   operating system, written once and thrown away. Real models are made of large tensors.
# - Even in place, NumPy runs every operator as its own pass over memory: our Adam reads and writes
#   parameter-sized arrays about 13 times per step. PyTorch's "fused" Adam does the whole update in
#   one loop that reads `p, g, m, v` once and writes `p, m, v` once — the same arithmetic with a
#   fraction of the memory traffic. Kernel fusion is the next step after "no temporaries".
# - The step's cost depends only on the number of parameters, while forward and backward grow with
#   the batch (each weight does ~6 FLOPs per example: 2 in forward, 4 in backward). At batch 64 on
#   this small MLP, the optimizer step is a large share of a training step; at batch 1024 it would
#   be a small one. With realistic batches, optimizers limit *memory* more than speed.
#
# ## Reflection questions
#
# Answer each in two to five sentences. Your instructor grades these by hand.
#
# **Q1.** PyTorch's SGD starts the momentum buffer at the first gradient, while RMSprop's buffer
# starts at zero and Adam starts both moments at zero and corrects for it. What would go wrong in
# the first ten steps of momentum SGD if the buffer started at zero with `dampening=0.9`? How does
# Adam's bias correction solve the same problem for its averages?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q2.** Using your memory measurements, estimate the memory needed to train a 1-billion-parameter
# model in float32 with SGD, with momentum SGD, and with Adam (weights + gradients + optimizer
# state, ignoring activations). Which of these would fit on a 24 GB GPU?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q3.** Explain with the update formulas why L2 regularisation and weight decay are identical for
# plain SGD but different for Adam. Under Adam + L2, which parameters are regularised least?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q4.** `clip_grad_norm_` scales all gradients by one common factor; `clip_grad_value_` clamps each
# entry separately. Which one preserves the update's direction, and why can the other change it?
# Where in the training loop must clipping happen, and what goes wrong if it is called before
# `backward()` or after `step()`?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q5.** PyTorch's schedulers compute each learning rate from the *current* `group["lr"]`
# (chainable form) rather than from the epoch number (closed form). Give one advantage of this
# design, and one situation in which it produces a different schedule from the closed form.

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q6.** From your timing table, how many milliseconds does one Adam step take on the MLP, and how
# long do forward + backward take at batch 64? Forward and backward grow linearly with the batch,
# the step does not: estimate the batch size at which Adam's step would be 10% of a training step.
# Which resource, rather than time, does the choice of optimizer mostly cost?

# %% [markdown]
# *Your answer:*
