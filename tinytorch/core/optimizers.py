# Generated from modules/06_optimizers/optimizers.py by `tito export`. Do not edit: edit the module.

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
        return loss


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
        return loss


def adamw_decay_(param: np.ndarray, lr: float, weight_decay: float) -> np.ndarray:
    """Decoupled weight decay, in place: θ ← θ·(1 − lr·weight_decay). Returns `param` (same array)."""
    # Hint: one in-place multiplication; compute the factor as PyTorch does: 1 - lr * weight_decay.
    param *= 1 - lr * weight_decay
    return param


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
        return loss


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


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    if not _is_number(clip_value) or not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a number >= 0, got {clip_value!r}")
    for g in _grad_arrays(parameters, "clip_grad_value_"):
        np.clip(g, -clip_value, clip_value, out=g)


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
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

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
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]

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
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

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
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._current_lrs()
        factor = 1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * factor for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
                for base_lr in self.base_lrs]


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
