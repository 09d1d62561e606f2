# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 03 — Layers
#
# A model is a tree of layers, and each layer owns some learnable tensors. This module builds the
# machinery that makes that tree easy to work with — PyTorch's `nn.Module` — and the first layers
# that live in it.
#
# **You will learn to**
#
# 1. build `Parameter` and `Module`: a layer registers its parameters and sub-layers just by
#    assigning them as attributes, and the model can then list, save, load and reset all of them;
# 2. implement `Linear` (`y = x W^T + b`) with PyTorch's default initialisation, and the `init`
#    functions (Kaiming, Xavier) that explain where those numbers come from;
# 3. compose layers with `Sequential`, and add `Dropout`, `Flatten`, `Identity` and the activation
#    Modules;
# 4. move and cast a model the PyTorch way (`model.to(device)`, `model.double()`), and pad tensors
#    and one-hot labels with `F.pad` / `F.one_hot`;
# 5. count a network's parameters, memory and FLOPs, and compare the FLOPs with measured time.
#
# **Prerequisites:** modules 01 (`Tensor`) and 02 (activation functions). **Exports to:**
# `tinytorch/core/layers.py`, re-exported as `tinytorch.nn` and `tinytorch.nn.init`.

# %%
#| default_exp core.layers

# %%
#| export
from __future__ import annotations

import itertools
import math
import numbers
from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from tinytorch.core import activations
from tinytorch.core.tensor import Tensor, cat, check_device, default_generator, device

# %%
# The activation functions, for the tests and demos in this notebook (the package uses `activations.X`).
# isort: split
from tinytorch.core.activations import gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, tanh

# %% [markdown]
# ## 1. Parameter — a tensor the model learns
#
# Most tensors in a forward pass are temporary: inputs, activations, intermediate results. A few are
# *state*: the weights the optimizer will update. PyTorch marks those with a tiny subclass,
# `Parameter`. It is a `Tensor` in every way, with two differences: `requires_grad` is on by
# default, and a `Module` that sees one assigned as an attribute records it as a parameter.
# That is all a class can do here: be recognisable with `isinstance`.

# %%
#| export
class Parameter(Tensor):
    """A Tensor that a Module registers as learnable: requires_grad=True unless told otherwise.

    Wraps `data` like Tensor does (an ndarray or a Tensor's array is shared, not copied).
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

# %% [markdown]
# ## 2. Module — the tree of layers
#
# Here is a two-layer network written the PyTorch way, and the tree it forms:
#
# ```python
# class MLP(Module):                               MLP
#     def __init__(self):                          ├── fc1: Linear   weight (256, 784), bias (256,)
#         super().__init__()                       ├── act: ReLU
#         self.fc1 = Linear(784, 256)              └── fc2: Linear   weight (10, 256),  bias (10,)
#         self.act = ReLU()
#         self.fc2 = Linear(256, 10)               named_parameters():
#                                                    fc1.weight, fc1.bias, fc2.weight, fc2.bias
#     def forward(self, x):
#         return self.fc2(self.act(self.fc1(x)))
# ```
#
# Nobody told the model "fc1 is a child" or "fc1.weight is a parameter" — the assignment did.
# Python calls `__setattr__(name, value)` for every `self.name = value`, and `Module` overrides it:
#
# ```
#  self.name = value
#     value is a Parameter  ──► self._parameters[name] = value
#     value is a Module     ──► self._modules[name]    = value
#     name is a buffer      ──► self._buffers[name]    = value   (after register_buffer)
#     anything else         ──► an ordinary attribute
# ```
#
# and `__getattr__` — which Python calls only when normal lookup fails — finds `self.fc1` in those
# dictionaries again. Everything else is a walk over the tree:
#
# | method | what it walks |
# |---|---|
# | `named_modules()` / `modules()` | this module, then every descendant, depth first |
# | `named_children()` / `children()` | direct sub-modules only |
# | `named_parameters()` / `parameters()` | every Parameter, named by its path (`fc1.weight`), shared ones once |
# | `named_buffers()` / `buffers()` | non-learnable state (running statistics, masks) |
# | `state_dict()` / `load_state_dict()` | parameters + persistent buffers as `name -> ndarray` |
# | `train()` / `eval()` | sets `.training` on the whole tree (Dropout reads it) |
# | `zero_grad()` | clears `.grad` of every parameter |
#
# **Buffers** are tensors that belong to the model's state but are not learned — a batch-norm layer's
# running mean, a loss's class weights. `register_buffer(name, tensor)` declares one: it is saved in
# `state_dict` (unless `persistent=False`) but never returned by `parameters()`, so the optimizer
# leaves it alone.
#
# `__call__` runs `forward`, so `model(x)` reads like a function call. `__repr__` prints the tree the
# way PyTorch does, each child indented under its parent, with each layer's settings from
# `extra_repr()`.

# %%
#| export
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _indent(text: str, spaces: int) -> str:
    """Indent every line of `text` but the first (for nested reprs)."""
    lines = text.split("\n")
    return "\n".join(lines[:1] + [" " * spaces + line for line in lines[1:]])


def _parse_to_arguments(args: tuple, kwargs: dict, where: str):
    """(device or None, floating dtype or None) from the ways PyTorch's .to() can be called."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{where}: unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    if len(args) > 2:
        raise TypeError(f"{where}: expected at most (device, dtype), got {len(args)} positional arguments")
    target, dtype = kwargs.get("device"), kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):  # to(other): other's dtype (and device, always the CPU)
            dtype = arg.dtype
        elif isinstance(arg, (str, device)) or (isinstance(arg, numbers.Integral) and not isinstance(arg, bool)):
            target = arg  # a device: "cpu", device("cpu"), or an int (PyTorch's CUDA index)
        else:
            dtype = arg
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{where}: expected a device ('cpu') or a dtype (float32, float64, float16), "
                            f"got {dtype!r}") from None
        if dtype.kind != "f":
            raise TypeError(f"{where}: nn.Module.to only accepts floating point dtypes, got {dtype}")
    return target, dtype


class RemovableHandle:
    """What register_forward_hook / register_forward_pre_hook return: remove() unregisters the hook.

    Also a context manager: `with model.register_forward_hook(h): model(x)` removes it on exit.
    """

    _ids = itertools.count()

    def __init__(self, module: Module, attribute: str):
        self.id = next(RemovableHandle._ids)
        self._module, self._attribute = module, attribute

    def remove(self) -> None:
        """Unregister the hook (a second remove() does nothing, as in PyTorch)."""
        hooks = self._module.__dict__.get(self._attribute)
        if hooks is not None and self.id in hooks:
            # A new dict, not a deletion in place: a running _call_with_hooks iterates a snapshot.
            object.__setattr__(self._module, self._attribute, {k: v for k, v in hooks.items() if k != self.id})

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info) -> bool:
        self.remove()
        return False


class Module:
    """Base class of every layer and model: subclass it, assign layers and Parameters as
    attributes in __init__ (after super().__init__()), and define forward()."""

    def __init__(self) -> None:
        # object.__setattr__ bypasses our own __setattr__, which relies on these dicts existing.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        # The common case costs one dict-emptiness check: hooks are rare outside profiling/debugging.
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    # ----- forward hooks (PyTorch's semantics; module 14's profiler is built on them) --------------
    # Class-level empty defaults: a module without hooks pays no per-instance dict, and register_*
    # gives the instance its own dict on first use (so the shared default is never mutated).
    _forward_pre_hooks: dict = MappingProxyType({})
    _forward_hooks: dict = MappingProxyType({})

    def _add_hook(self, attribute: str, hook, prepend: bool, where: str) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{where}: hook must be callable, got {type(hook).__name__}")
        hooks = dict(self.__dict__.get(attribute, {}))
        handle = RemovableHandle(self, attribute)
        hooks[handle.id] = hook
        if prepend:  # dicts keep insertion order: rebuild with the new hook first
            hooks = {handle.id: hook, **{k: v for k, v in hooks.items() if k != handle.id}}
        object.__setattr__(self, attribute, hooks)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """Call hook(module, args) before every forward; a non-None return replaces args.

        `args` is the tuple of positional arguments (keyword arguments go to forward unchanged;
        PyTorch's with_kwargs=True is not supported). A returned non-tuple becomes (value,).
        Hooks run in registration order (prepend=True puts this one first). Returns a handle:
        handle.remove(), or `with module.register_forward_pre_hook(h): ...`.
        """
        return self._add_hook("_forward_pre_hooks", hook, prepend, "register_forward_pre_hook")

    def register_forward_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """Call hook(module, args, output) after every forward; a non-None return replaces output.

        Same ordering, handle and keyword-argument rules as register_forward_pre_hook.
        """
        return self._add_hook("_forward_hooks", hook, prepend, "register_forward_hook")

    def _run_hook(self, kind: str, hook, *arguments):
        try:
            return hook(self, *arguments)
        except Exception as error:
            name = getattr(hook, "__qualname__", None) or repr(hook)
            raise RuntimeError(f"{kind} {name!r} registered on {type(self).__name__} raised "
                               f"{type(error).__name__}: {error}") from error

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        # Hint: run every pre-hook in order as hook(self, args); a non-None result replaces args
        #       (wrap a non-tuple as (result,)). Call forward(*args, **kwargs). Then every forward
        #       hook as hook(self, args, output); a non-None result replaces output. Call each hook
        #       through self._run_hook(kind, hook, ...) so an error names the hook and the module.
        ### BEGIN SOLUTION
        for hook in tuple(self._forward_pre_hooks.values()):  # a copy: a hook may remove itself
            result = self._run_hook("forward pre-hook", hook, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in tuple(self._forward_hooks.values()):
            result = self._run_hook("forward hook", hook, args, output)
            if result is not None:
                output = result
        return output
        ### END SOLUTION

    # ----- registration ---------------------------------------------------------------------------
    def _require_init(self, what: str, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} '{name}' before Module.__init__() is called: "
                                 f"call super().__init__() first in {type(self).__name__}.__init__")

    def _forget(self, name: str) -> None:
        """Remove `name` from every registry and from the plain attributes."""
        self.__dict__.pop(name, None)
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._non_persistent_buffers.discard(name)
        self._modules.pop(name, None)

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, Parameter):
            self._require_init("parameter", name)
        elif isinstance(value, Module):
            self._require_init("module", name)
        registries = "_parameters" in self.__dict__
        # Hint: a Parameter goes into self._parameters and a Module into self._modules (first
        #       self._forget(name), so a name lives in one place only). Any other value assigned to
        #       a registered name replaces the entry in its registry (the checks below make sure it
        #       is None, or a Tensor for a buffer). Everything else: object.__setattr__(self, name, value).
        if registries and value is not None and not isinstance(value, (Parameter, Module)):
            if name in self._parameters:
                raise TypeError(f"cannot assign a {type(value).__name__} to parameter '{name}' of "
                                f"{type(self).__name__}: wrap it in Parameter(...) (or assign None)")
            if name in self._modules:
                raise TypeError(f"cannot assign a {type(value).__name__} to submodule '{name}' of "
                                f"{type(self).__name__}: expected a Module (or None)")
            if name in self._buffers and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer '{name}' of "
                                f"{type(self).__name__}: expected a Tensor (or None)")
        ### BEGIN SOLUTION
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif registries and name in self._parameters:
            self._parameters[name] = None
        elif registries and name in self._modules:
            self._modules[name] = None
        elif registries and name in self._buffers:
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
        ### END SOLUTION

    def __getattr__(self, name: str):
        # Python calls this only when normal attribute lookup fails.
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}' "
                                 "(did its __init__ call super().__init__()?)")
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __dir__(self):
        # Registered names too, so notebook tab-completion offers model.fc1, layer.weight, ...
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def __delattr__(self, name: str) -> None:
        if any(name in registry for registry in (self._parameters, self._buffers, self._modules)):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def _check_new_name(self, name, what: str, registry: dict) -> None:
        """A valid name for a new entry of `registry` that does not clash with other attributes."""
        if not isinstance(name, str):
            raise TypeError(f"{what} name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise ValueError(f"{what} name must be non-empty and contain no '.', got {name!r}")
        if name not in registry and hasattr(self, name):
            raise ValueError(f"cannot register {what} '{name}': {type(self).__name__} already has an "
                             f"attribute of that name")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None: a declared but absent parameter, like Linear's bias=False)."""
        self._require_init("parameter", name)
        self._check_new_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a non-learnable tensor to the module's state (in state_dict when persistent)."""
        self._require_init("buffer", name)
        self._check_new_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name` (same as `self.name = module`)."""
        self._require_init("module", name)
        self._check_new_name(name, "module", self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module or None, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    register_module = add_module

    # ----- walking the tree -----------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """Yield (path, module) for this module and every descendant, depth first."""
        # Hint: yield (prefix, self), then recurse into each non-None child with the prefix
        #       _join(prefix, name). With remove_duplicate, skip modules already in memo (a set of
        #       id()s), so a module shared by two parents appears once.
        ### BEGIN SOLUTION
        if remove_duplicate:
            memo = set() if memo is None else memo
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, _join(prefix, name), remove_duplicate)
        ### END SOLUTION

    def modules(self):
        """Every module in the tree, this one first."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield (name, module) for the direct children."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        owners = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for owner_prefix, owner in owners:
            for name, tensor in getattr(owner, registry).items():
                if tensor is None or (remove_duplicate and id(tensor) in seen):
                    continue
                seen.add(id(tensor))
                yield _join(owner_prefix, name), tensor

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Yield (path, Parameter) for every parameter, e.g. ('fc1.weight', ...); shared ones once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """Every Parameter in the tree (what an optimizer is given)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn) -> Module:
        """Call fn(module) on every descendant, then on self (e.g. custom initialisation). Returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ----- state: save and load -------------------------------------------------------------------
    def _state_tensors(self) -> OrderedDict:
        """name -> live Tensor for every parameter and persistent buffer, in state_dict order."""
        state = OrderedDict()
        for prefix, module in self.named_modules(remove_duplicate=False):
            for name, param in module._parameters.items():
                if param is not None:
                    state[_join(prefix, name)] = param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers:
                    state[_join(prefix, name)] = buffer
        return state

    def state_dict(self) -> OrderedDict:
        """An ordered dict `name -> ndarray copy` of all parameters and persistent buffers."""
        # Hint: copy each array (tensor.data.copy()), so later training does not change the snapshot.
        ### BEGIN SOLUTION
        return OrderedDict((name, tensor.data.copy()) for name, tensor in self._state_tensors().items())
        ### END SOLUTION

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (or Tensors) from `state_dict` into the parameters and buffers, in place.

        Everything is checked before anything is copied: mis-shaped entries are always an error;
        missing and unexpected keys are an error when `strict`. Returns (missing_keys, unexpected_keys).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict of name -> array, got {type(state_dict).__name__}")
        targets = self._state_tensors()
        arrays, problems = {}, []
        for key, value in state_dict.items():
            if key not in targets:
                continue
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
            if array.dtype.kind not in "fiub":
                raise TypeError(f"load_state_dict: entry '{key}' must hold numbers, got "
                                f"{type(value).__name__} of dtype {array.dtype}")
            arrays[key] = array
        # Hint: missing = model keys not in state_dict; unexpected = state_dict keys not in the
        #       model; a size mismatch is an entry whose array shape differs from the model's.
        #       Collect every problem first and raise one ValueError listing them all; only then
        #       copy in place with targets[key].data[...] = array (optimizers hold these tensors).
        ### BEGIN SOLUTION
        missing = [key for key in targets if key not in state_dict]
        unexpected = [key for key in state_dict if key not in targets]
        if strict and missing:
            problems.append("missing key(s): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        for key, array in arrays.items():
            if array.shape != targets[key].shape:
                problems.append(f"size mismatch for {key!r}: the state_dict has shape {tuple(array.shape)}, "
                                f"the model has shape {tuple(targets[key].shape)}")
        if problems:
            raise ValueError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                             + "\n  ".join(problems))
        for key, array in arrays.items():
            targets[key].data[...] = array
        return IncompatibleKeys(missing, unexpected)
        ### END SOLUTION

    # ----- modes and gradients --------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (mode=True) or evaluation mode on this module and all descendants."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be True or False, got {mode!r}")
        # Hint: set self.training, then call child.train(mode) for every child.
        ### BEGIN SOLUTION
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self
        ### END SOLUTION

    def eval(self) -> Module:
        """Evaluation mode: same as train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradient tracking on or off for every parameter (freezing a layer)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's .grad (set to None, or fill with zeros)."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad.data[...] = 0

    # ----- device and dtype ------------------------------------------------------------------------
    def to(self, *args, **kwargs) -> Module:
        """PyTorch's Module.to: to(device), to(dtype), to(device, dtype), to(tensor). Returns self.

        TinyTorch runs on the CPU: a device is checked ("cpu" passes; "cuda", "mps" raise a clear
        error) and nothing moves. A floating-point dtype casts every floating-point parameter and
        buffer in place: the Parameter objects stay the same, only their arrays change.
        """
        target, dtype = _parse_to_arguments(args, kwargs, f"{type(self).__name__}.to")
        check_device(target, f"{type(self).__name__}.to")
        if dtype is not None:
            self._cast_floating(dtype)
        return self

    def cpu(self) -> Module:
        """Already on the CPU (the only device TinyTorch has): returns self."""
        return self

    def cuda(self, device=None) -> Module:
        """Always an error: TinyTorch has no GPU backend."""
        check_device("cuda" if device is None else device, f"{type(self).__name__}.cuda")
        return self

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32 in place. Returns self."""
        return self._cast_floating(np.dtype(np.float32))

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64 in place. Returns self."""
        return self._cast_floating(np.dtype(np.float64))

    def half(self) -> Module:
        """Cast floating-point parameters and buffers to float16 in place. Returns self."""
        return self._cast_floating(np.dtype(np.float16))

    def _cast_floating(self, dtype: np.dtype) -> Module:
        """Give every floating-point parameter, gradient and buffer the array type `dtype`."""
        for module in self.modules():
            for tensor in list(module._parameters.values()) + list(module._buffers.values()):
                if tensor is None or tensor.dtype.kind != "f" or tensor.dtype == dtype:
                    continue
                tensor.data = tensor.data.astype(dtype)
                if tensor.grad is not None:
                    tensor.grad.data = tensor.grad.data.astype(dtype)
        return self

    # ----- printing -------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """This module's settings, shown inside its repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _indent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return f"{type(self).__name__}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

# %% [markdown]
# Try it on a tiny hand-made layer before we have real ones. `Scale` owns one parameter and one
# buffer; `Pair` holds two `Scale`s, one of them twice (weight sharing):

# %%
#| test
class Scale(Module):
    """y = x * factor (a learnable per-feature scale), with a step counter as a buffer."""

    def __init__(self, features: int):
        super().__init__()
        self.factor = Parameter(np.ones(features, dtype=np.float32))
        self.register_buffer("steps", Tensor(np.zeros((), dtype=np.int64)))
        self.label = "scale"  # a plain attribute: not registered anywhere

    def forward(self, x):
        return x * self.factor

    def extra_repr(self):
        return f"features={self.factor.shape[0]}"


class Pair(Module):
    def __init__(self):
        super().__init__()
        self.first = Scale(2)
        self.second = Scale(2)
        self.again = self.first  # the same module reachable under two names

    def forward(self, x):
        return self.again(self.second(self.first(x)))


def test_unit_module_registration():
    pair = Pair()
    names = [name for name, _ in pair.named_parameters()]
    assert names == ["first.factor", "second.factor"], (
        f"named_parameters: expected ['first.factor', 'second.factor'] (the shared module once), got {names}; "
        "likely cause: __setattr__ does not put Modules/Parameters in _modules/_parameters, or "
        "named_modules does not skip modules it has already seen")
    assert [name for name, _ in pair.named_modules()] == ["", "first", "second"], (
        f"named_modules should list the root '' and each module once, got {[n for n, _ in pair.named_modules()]}")
    assert [name for name, _ in pair.named_children()] == ["first", "second"]
    assert [name for name, _ in pair.named_buffers()] == ["first.steps", "second.steps"]
    assert len(list(pair.parameters())) == 2 and len(list(pair.modules())) == 3
    assert pair.first.label == "scale" and "label" not in pair.first._parameters, "plain attributes stay plain"
    assert pair.first is pair.again, "__getattr__ must return the registered module"
    out = pair(Tensor([1.0, 2.0]))
    assert out.tolist() == [1.0, 2.0], f"calling the module should run forward, got {out.tolist()}"
    try:
        pair.first.factor = Tensor([1.0, 2.0])
    except TypeError:
        pass
    else:
        raise AssertionError("assigning a plain Tensor to a registered parameter should raise TypeError")

    class Forgetful(Module):
        def __init__(self):
            self.w = Parameter(np.zeros(1, dtype=np.float32))

    try:
        Forgetful()
    except AttributeError as error:
        assert "super().__init__()" in str(error), f"the error should tell how to fix it, got: {error}"
    else:
        raise AssertionError("a Parameter assigned before Module.__init__ should raise AttributeError")
    print("Module: registration, traversal, sharing and errors are correct")


test_unit_module_registration()

# %%
#| test
def test_unit_state_dict_train_repr():
    source, target = Pair(), Pair()
    source.first.factor.data[...] = [3.0, 4.0]
    source.second.steps.data[...] = 7
    state = source.state_dict()
    assert list(state) == ["first.factor", "first.steps", "second.factor", "second.steps",
                           "again.factor", "again.steps"], (
        f"state_dict keys: each module's parameters then buffers, depth first, got {list(state)}")
    assert isinstance(state["first.factor"], np.ndarray), "state_dict values are ndarrays"
    source.first.factor.data[...] = 0.0
    assert state["first.factor"].tolist() == [3.0, 4.0], (
        "state_dict must copy the arrays: changing the model changed the snapshot")
    kept = target.first.factor
    result = target.load_state_dict(state)
    assert target.first.factor is kept and kept.tolist() == [3.0, 4.0], (
        "load_state_dict must copy into the existing tensors (in place), so optimizers keep working")
    assert target.second.steps.item() == 7 and result == ([], []), f"got {result}"
    bad = dict(state)
    bad["first.factor"] = np.zeros(3, dtype=np.float32)
    del bad["second.steps"]
    bad["extra"] = np.zeros(1)
    try:
        target.load_state_dict(bad)
    except ValueError as error:
        message = str(error)
        for piece in ("'second.steps'", "'extra'", "'first.factor'", "(3,)", "(2,)"):
            assert piece in message, f"the error should mention {piece}, got:\n{message}"
    else:
        raise AssertionError("missing, unexpected and mis-shaped keys should raise ValueError")
    assert target.first.factor.tolist() == [3.0, 4.0], "a failed load must not change the model"
    assert source.train() is source and source.first.training, "train() returns self and sets .training"
    source.eval()
    assert not any(m.training for m in source.modules()), "eval() must reach every descendant"
    shown = repr(source)
    expected = ("Pair(\n  (first): Scale(features=2)\n  (second): Scale(features=2)\n"
                "  (again): Scale(features=2)\n)")
    assert shown == expected, f"repr should nest like PyTorch:\n{expected}\ngot:\n{shown}"
    print("Module: state_dict round trip, load errors, train/eval and repr are correct")


test_unit_state_dict_train_repr()

# %% [markdown]
# ### Forward hooks: watching a model without editing it
#
# `Module.__call__` is the one door every layer's forward goes through, which makes it the place to
# let outside code *watch*: `register_forward_pre_hook(hook)` runs `hook(module, args)` just before
# `forward`, `register_forward_hook(hook)` runs `hook(module, args, output)` just after. A hook that
# returns something other than `None` replaces the arguments (pre-hook) or the output (hook), which
# is how a profiler can tag tensors as they pass. Each call returns a handle; `handle.remove()` — or
# leaving a `with` block — unregisters it. Module 14's profiler times and measures every layer this
# way, without a single change to the layers themselves.
#
# ```
#  model(x) ─► pre-hooks(module, args) ─► forward(*args) ─► hooks(module, args, output) ─► output
# ```
#
# When no hook is registered, `__call__` costs one extra emptiness check, so ordinary training pays
# (almost) nothing; an error inside a hook is re-raised naming the hook and the module it sat on.

# %%
#| test
def test_unit_forward_hooks():
    class AddOne(Module):
        def forward(self, x):
            return x + 1

    layer = AddOne()
    x = Tensor(np.ones((1, 2), dtype=np.float32))
    events = []
    pre = layer.register_forward_pre_hook(lambda module, args: events.append("pre"))
    post = layer.register_forward_hook(lambda module, args, output: output * 0)
    out = layer(x)
    assert events == ["pre"], f"the pre-hook should run once before forward, events: {events}"
    assert np.all(out.data == 0), ("a forward hook's non-None return should replace the output; "
                                   "check that _call_with_hooks keeps the hook's result")
    pre.remove()
    post.remove()
    assert np.any(layer(x).data != 0), "after handle.remove() the hook must no longer run"
    print("Forward hooks: pre-hooks, output replacement and removable handles work")


test_unit_forward_hooks()

# %% [markdown]
# ## 3. Initialisation — where the first weights come from
#
# A layer's weights must start random (identical weights would compute identical features forever)
# and at the right *scale*. Push a unit-variance input through `y = W x` with `fan_in` inputs per
# output: each output is a sum of `fan_in` products, so
#
# ```
#  Var(y) = fan_in * Var(W) * Var(x)
# ```
#
# To keep the signal's variance from exploding or vanishing layer after layer, choose
# `Var(W) = gain^2 / fan_in`. The *gain* undoes what the activation does to the variance: ReLU zeroes
# half its inputs, so it needs `gain = sqrt(2)` (Kaiming He et al., 2015). Xavier/Glorot (2010)
# balance the forward and backward passes with `Var(W) = gain^2 * 2 / (fan_in + fan_out)`.
#
# ```
#  fan_in  = weight.shape[1] * (kernel elements)      fan_out = weight.shape[0] * (kernel elements)
#  uniform U(-b, b) has variance b^2 / 3, so  b = sqrt(3) * std
#
#  kaiming_uniform_:  std = gain / sqrt(fan)                    (fan = fan_in or fan_out: `mode`)
#  xavier_uniform_:   std = gain * sqrt(2 / (fan_in + fan_out))
#  calculate_gain:    linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2),
#                     leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4
# ```
#
# **PyTorch's Linear default** is `kaiming_uniform_(weight, a=sqrt(5))`: the leaky-ReLU gain with
# slope sqrt(5) is `sqrt(2/6) = 1/sqrt(3)`, so `b = sqrt(3) * (1/sqrt(3)) / sqrt(fan_in) =
# 1/sqrt(fan_in)`. The bias uses the same bound. We reproduce that exactly, so models built here
# behave like the same models in PyTorch.
#
# These functions change a tensor *in place* (the trailing underscore is PyTorch's convention for
# that) by writing into `tensor.data`, so they never record anything for autograd. Random numbers
# come from `tinytorch.manual_seed`'s generator (or the `generator` you pass), so runs are
# reproducible.

# %%
#| export
_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for an activation (PyTorch's table); `param` is leaky_relu's slope."""
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, numbers.Real):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    choices = ", ".join(_LINEAR_LIKE + ("tanh", "relu", "leaky_relu", "selu"))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; choose one of {choices}")


def _float_data(tensor, where: str) -> np.ndarray:
    """The array an init function writes into, after checking it is a floating-point Tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{where}: can only initialise floating-point tensors, got dtype {tensor.dtype}")
    return tensor.data


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    receptive_field = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} is not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _sample_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype to draw random numbers in: the tensor's own when the generator supports it."""
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill `tensor` in place with samples from U(a, b). Returns tensor."""
    data = _float_data(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    rng = generator or default_generator()
    data[...] = rng.random(data.shape, dtype=_sample_dtype(data.dtype)) * (b - a) + a
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill `tensor` in place with samples from N(mean, std^2). Returns tensor."""
    data = _float_data(tensor, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    rng = generator or default_generator()
    data[...] = rng.standard_normal(data.shape, dtype=_sample_dtype(data.dtype)) * std + mean
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill `tensor` in place with `val`. Returns tensor."""
    _float_data(tensor, "constant_")[...] = val
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill `tensor` in place with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill `tensor` in place with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)). In place."""
    _float_data(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if tensor.numel() == 0:
        return tensor
    # Hint: std = gain * sqrt(2 / (fan_in + fan_out)); bound = sqrt(3) * std; then uniform_.
    ### BEGIN SOLUTION
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)
    ### END SOLUTION


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)). In place."""
    _float_data(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He uniform: U(-b, b), b = sqrt(3) * gain / sqrt(fan); `a` is leaky_relu's slope. In place."""
    _float_data(tensor, "kaiming_uniform_")
    fan = _calculate_correct_fan(tensor, mode)
    if tensor.numel() == 0:
        return tensor
    # Hint: gain = calculate_gain(nonlinearity, a); std = gain / sqrt(fan); bound = sqrt(3) * std.
    ### BEGIN SOLUTION
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)
    ### END SOLUTION


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He normal: N(0, std^2), std = gain / sqrt(fan). In place."""
    _float_data(tensor, "kaiming_normal_")
    fan = _calculate_correct_fan(tensor, mode)
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)

# %%
#| test
def test_unit_init():
    gains = {"linear": 1.0, "sigmoid": 1.0, "conv2d": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2),
             "selu": 0.75, "leaky_relu": math.sqrt(2 / (1 + 0.01**2))}
    for name, expected in gains.items():
        assert math.isclose(calculate_gain(name), expected), (
            f"calculate_gain({name!r}): expected {expected}, got {calculate_gain(name)}")
    assert math.isclose(calculate_gain("leaky_relu", math.sqrt(5)), 1 / math.sqrt(3))
    rng = np.random.default_rng(0)
    w = Tensor(np.empty((400, 300), dtype=np.float32))
    fan_in, fan_out = 300, 400
    for fn, kwargs, bound in [
        (kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(3) * math.sqrt(2) / math.sqrt(fan_in)),
        (kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(6) / math.sqrt(fan_out)),
        (kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(fan_in)),
        (xavier_uniform_, {}, math.sqrt(6 / (fan_in + fan_out))),
    ]:
        result = fn(w, generator=rng, **kwargs)
        assert result is w and w.dtype == np.float32, f"{fn.__name__} works in place and keeps float32"
        low, high = float(w.data.min()), float(w.data.max())
        assert -bound <= low and high <= bound and high > 0.98 * bound, (
            f"{fn.__name__}({kwargs}): samples should fill U(-{bound:.4f}, {bound:.4f}), got range "
            f"[{low:.4f}, {high:.4f}]; likely cause: wrong fan or a missing sqrt(3)")
    for fn, std in [(kaiming_normal_, math.sqrt(2) / math.sqrt(fan_in)),
                    (xavier_normal_, math.sqrt(2 / (fan_in + fan_out)))]:
        fn(w, nonlinearity="relu", generator=rng) if fn is kaiming_normal_ else fn(w, generator=rng)
        assert abs(w.data.std() / std - 1) < 0.02, f"{fn.__name__}: std should be {std:.4f}, got {w.data.std():.4f}"
    assert zeros_(w).data.max() == 0 and ones_(w).data.min() == 1
    print("init: gains, Kaiming and Xavier bounds/std, in-place fills are correct")


test_unit_init()

# %% [markdown]
# ## 4. Linear — y = x W^T + b
#
# ```
#   x (N, in) ──► x @ W.T ──► (N, out) ──► + b ──► y (N, out)
#                  W: (out, in)              b: (out,) broadcast over N
# ```
#
# The weight is stored as `(out_features, in_features)` — PyTorch's layout, one row per output unit —
# so the forward pass multiplies by its transpose. Any number of leading dimensions works, because
# matmul treats them as batch dimensions: `(N, T, in) -> (N, T, out)`.
#
# `forward` is composed from tensor ops that already record themselves (`matmul`, `permute` for `.T`,
# `add`), so `Linear` needs no gradient rule of its own: autograd will differentiate it through its
# parts. The FLOP count is `2 * N * in * out` for the product (one multiply and one add per term)
# plus `N * out` for the bias.
#
# The maths lives in one function, `linear(x, weight, bias)` — PyTorch's `F.linear` — and the
# Module's `forward` calls it with its own parameters: the same split as `F.relu` and `nn.ReLU`.
# A script that keeps its own weight tensors calls the function; a model uses the Module.
#
# The most common error with `Linear` is feeding it images or convolution outputs `(N, C, H, W)`
# without flattening them first. PyTorch then multiplies along the last axis (W) and complains about
# mismatched shapes deep inside the matmul. Our check catches it at the layer and says what to do:
# when `C * H * W` equals `in_features`, the message suggests `Flatten()` with the exact shapes.

# %%
#| export
def _check_features(value, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{where}: {name} must be >= 0, got {value}")
    return int(value)


def _check_input(x, where: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: input must be a floating-point tensor, got dtype {x.dtype}; "
                        "convert it with x.float()")


def _flatten_hint(shape: tuple, in_features: int) -> str:
    """For an (N, C, H, W)-like input: the Flatten() advice that fixes the most common Linear error."""
    if len(shape) < 3:
        return ""
    per_sample = int(np.prod(shape[1:]))
    if per_sample == in_features:
        return (f". It looks like a batch of feature maps with {per_sample} = {' * '.join(map(str, shape[1:]))} "
                f"values per sample: put Flatten() before this layer, (N, {', '.join(map(str, shape[1:]))}) -> "
                f"(N, {per_sample})")
    return (f". If these are images or feature maps, flatten them first: Flatten() turns {shape} into "
            f"(N, {per_sample}), and the layer then needs in_features={per_sample}")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias (F.linear). Shapes: (*, in) with weight (out, in), bias (out,) -> (*, out)."""
    _check_input(input, "Linear")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"linear: {name} must be a Tensor, got {type(value).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    in_features = weight.shape[1]
    if input.ndim == 0 or input.shape[-1] != in_features:
        raise ValueError(f"Linear: input of shape {tuple(input.shape)} has {input.shape[-1] if input.ndim else 0} "
                         f"features in its last dimension, but this layer expects in_features={in_features}"
                         + _flatten_hint(tuple(input.shape), in_features))
    if input.dtype != weight.dtype:
        raise TypeError(f"Linear: input dtype {input.dtype} does not match the weight dtype "
                        f"{weight.dtype}; convert the input (x.float() for float32)")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},) to match the weight "
                         f"{tuple(weight.shape)}, got {tuple(bias.shape)}")
    # Hint: input @ weight.T, then + bias when there is one.
    ### BEGIN SOLUTION
    out = input @ weight.T
    if bias is not None:
        out = out + bias
    return out
    ### END SOLUTION


class Linear(Module):
    """Fully connected layer y = x @ weight.T + bias. Shapes: (*, in_features) -> (*, out_features).

    weight: (out_features, in_features); bias: (out_features,); both start at U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features = _check_features(in_features, "in_features", "Linear")
        self.out_features = _check_features(out_features, "out_features", "Linear")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear: dtype must be a floating-point type, got {dtype}")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation (see the Initialisation section)."""
        # Hint: kaiming_uniform_ with a=sqrt(5) for the weight; the bias is uniform in
        #       (-1/sqrt(in_features), 1/sqrt(in_features)) (bound 0 when in_features is 0).
        ### BEGIN SOLUTION
        kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            uniform_(self.bias, -bound, bound)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


Dense = Linear  # the name the course text (and Keras) uses for a fully connected layer

# %%
#| test
def test_unit_linear():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    layer = Linear(3, 2)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,), (
        f"Linear(3, 2): weight should be (out, in) = (2, 3) and bias (2,), got {layer.weight.shape}, "
        f"{layer.bias.shape}")
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    bound = 1 / math.sqrt(3)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound, (
        f"default init should be within ±1/sqrt(in) = ±{bound:.4f}")
    layer.weight.data[...] = [[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]
    layer.bias.data[...] = [0.5, -0.5]
    x = Tensor([[1.0, 1.0, 1.0], [2.0, 0.0, -2.0]])
    y = layer(x)
    expected = [[6.5, -1.0], [-3.5, -1.5]]
    assert y.shape == (2, 2) and np.allclose(y.data, expected), (
        f"Linear forward: expected {expected}, got {y.tolist()}; likely cause: use x @ W.T (W is "
        "(out, in)) and add the bias")
    assert Linear(3, 2, bias=False)(x).shape == (2, 2) and Linear(3, 2, bias=False).bias is None
    batched = Linear(3, 4)(Tensor(np.ones((5, 6, 3), dtype=np.float32)))
    assert batched.shape == (5, 6, 4), f"leading dimensions are batch dimensions, got {batched.shape}"
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=True)", repr(layer)
    for bad, error in [((Tensor([[1.0, 2.0]]),), ValueError), ((Tensor([[1, 2, 3]]),), TypeError)]:
        try:
            layer(*bad)
        except error as caught:
            assert "Linear" in str(caught), f"the error should name the layer, got: {caught}"
        else:
            raise AssertionError(f"Linear should raise {error.__name__} for {bad}")
    try:
        Linear(12, 2)(Tensor(np.zeros((5, 3, 2, 2), dtype=np.float32)))
    except ValueError as caught:
        assert "Flatten()" in str(caught) and "(5, 3, 2, 2)" in str(caught), (
            f"feature maps (N, C, H, W) with C*H*W == in_features should get the Flatten() advice, got: {caught}")
    else:
        raise AssertionError("Linear(12, 2) on an input of shape (5, 3, 2, 2) should raise ValueError")
    assert np.array_equal(linear(x, layer.weight, layer.bias).data, y.data), "Linear.forward is F.linear"
    print("Linear: shapes, default init bound, forward values, batching and errors are correct")


test_unit_linear()

# %% [markdown]
# ## 5. Containers — Sequential and ModuleList
#
# Most models are a pipeline: the output of one layer is the input of the next. `Sequential` is a
# Module whose children are named `"0"`, `"1"`, ... and whose `forward` feeds the input through them
# in order. It also behaves like a list (`model[0]`, `len(model)`, `for layer in model`,
# `model.append(layer)`); slicing returns a smaller `Sequential` that shares the same layers.
# Besides PyTorch's `Sequential(a, b, c)`, it takes one list, `Sequential([a, b, c])`, the way
# Keras and the course's first chapters write it; `Dense` is another name for `Linear`, for the same
# reason. Both are aliases, not second implementations.
# `ModuleList` is the same list without a `forward`: a way to register a variable number of layers
# that your own `forward` uses (for example, the blocks of a transformer).

# %%
#| export
_ACTIVATION_MODULES: dict = {}  # module 02's activation class -> its Module twin; filled in section 7


def _as_module(value):
    """A module-02 activation object (core.activations.ReLU()) as its Module twin (nn.ReLU, section 7),
    with the same settings; anything else unchanged. Containers call it, so both spellings work."""
    twin = _ACTIVATION_MODULES.get(type(value))
    if twin is None:
        return value
    module = twin.__new__(twin)
    Module.__init__(module)
    for name, setting in vars(value).items():
        object.__setattr__(module, name, setting)
    return module


def _check_is_module(module, where: str) -> None:
    if isinstance(module, Module):
        return
    if isinstance(module, type) and issubclass(module, Module):
        hint = f" (pass an instance: {module.__name__}() rather than the class {module.__name__})"
    elif callable(module):
        hint = (" (functions such as relu are not Modules: use the Module classes from tinytorch.nn, "
                "e.g. nn.ReLU())")
    else:
        hint = ""
    raise TypeError(f"{where}: expected a Module, got {type(module).__name__}{hint}")


class Sequential(Module):
    """Runs its modules in order: Sequential(a, b, c)(x) == c(b(a(x))).

    Built from modules (named "0", "1", ...), from one OrderedDict name -> module, or from one
    list of modules (Sequential([a, b, c]), as the course's early chapters write it).
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            items = list(modules[0].items())
        elif len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            items = [(str(index), module) for index, module in enumerate(modules[0])]
        else:
            items = [(str(index), module) for index, module in enumerate(modules)]
        for name, module in items:
            module = _as_module(module)
            _check_is_module(module, f"Sequential: entry {name!r}")
            self.add_module(name, module)

    def forward(self, x):
        # Hint: feed x through each module in turn (iterating over self yields the modules).
        ### BEGIN SOLUTION
        for module in self:
            x = module(x)
        return x
        ### END SOLUTION

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Sequential indices must be ints or slices, got {type(index).__name__}")
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential: index {index} is out of range for {len(items)} module(s)")
        return items[index][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end. Returns self."""
        module = _as_module(module)
        _check_is_module(module, "Sequential.append")
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of Modules that registers them (so their parameters are found); no forward."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        module = _as_module(module)
        _check_is_module(module, "ModuleList.append")
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"ModuleList indices must be ints or slices, got {type(index).__name__}")
        if not -len(values) <= index < len(values):
            raise IndexError(f"ModuleList: index {index} is out of range for {len(values)} module(s)")
        return values[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

# %% [markdown]
# ## 6. Dropout, Flatten, Identity
#
# **Dropout** (Srivastava et al., 2014) zeroes each activation with probability `p` during training,
# so no unit can rely on any particular other unit. *Inverted* dropout scales the survivors by
# `1 / (1 - p)` at training time, so the expected value of every activation is unchanged and
# evaluation needs no correction at all — in `eval()` mode Dropout returns its input untouched:
#
# ```
#  training:  x = [1, 2, 3, 4],  keep-mask [1, 0, 1, 1],  p = 0.5  ->  [2, 0, 6, 8]
#  eval:      x = [1, 2, 3, 4]                                     ->  [1, 2, 3, 4]
# ```
#
# The mask is a constant tensor multiplied into the input — a recorded `mul` — so backward sends the
# gradient through the kept units only, scaled the same way. The functional form `dropout(x, p,
# training)` is what the Module calls with its own `.training` flag.
#
# **Flatten** reshapes `(N, C, H, W)` to `(N, C*H*W)` (dims `start_dim..end_dim` merged; the batch
# dimension 0 is kept by default) so images can enter a `Linear`. **Identity** returns its input — a
# placeholder where an architecture sometimes has a layer and sometimes not.

# %%
#| export
def _check_probability(p, where: str) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{where}: p must be a number, got {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"{where}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).

    Identity when not training or p == 0. Shape: any -> same.
    """
    p = _check_probability(p, "dropout")
    _check_input(x, "dropout")
    if not training or p == 0:
        return x
    # Hint: keep = rng.random(x.shape, dtype=np.float32) >= p; a mask in x's dtype holding
    #       1/(1-p) where kept and 0 elsewhere (all zeros when p == 1); return x * Tensor(mask).
    ### BEGIN SOLUTION
    rng = generator or default_generator()
    if p == 1:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        mask = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype)
        mask *= 1 / (1 - p)
    return x * Tensor(mask)
    ### END SOLUTION


class Dropout(Module):
    """Inverted dropout with probability p in training mode; identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_probability(p, "Dropout")

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"Flatten: {name} must be an int, got {value!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Flatten: input must be a Tensor, got {type(x).__name__}")
        n = x.ndim
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -max(n, 1) <= dim < max(n, 1):
                raise IndexError(f"Flatten: {name}={dim} is out of range for an input of shape "
                                 f"{tuple(x.shape)} ({n} dimension(s)); with the default start_dim=1, "
                                 "dimension 0 is the batch, so pass a batch of shape (N, ...)")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (constructor arguments are accepted and ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

# %%
#| test
def test_unit_sequential_dropout_flatten():
    from tinytorch.core.tensor import manual_seed

    manual_seed(1)
    model = Sequential(Linear(4, 8), Identity(), Linear(8, 2))
    assert len(model) == 3 and isinstance(model[0], Linear) and model[-1] is model[2]
    x = Tensor(np.ones((5, 4), dtype=np.float32))
    expected = model[2](model[1](model[0](x)))
    assert np.allclose(model(x).data, expected.data), "Sequential must apply its modules in order"
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    head = model[:2]
    assert isinstance(head, Sequential) and head[0] is model[0], "slicing shares the same layers"
    listed = Sequential([Linear(4, 3), Identity()])
    assert [type(m).__name__ for m in listed] == ["Linear", "Identity"], "Sequential([...]) takes one list too"
    model.append(Flatten())
    assert len(model) == 4 and [type(m).__name__ for m in model][-1] == "Flatten"
    try:
        Sequential(Linear(2, 2), relu)
    except TypeError as error:
        assert "Module" in str(error), f"the error should say a Module was expected, got: {error}"
    else:
        raise AssertionError("Sequential should reject a plain function with TypeError")

    drop = Dropout(0.25)
    big = Tensor(np.ones((1000, 100), dtype=np.float32))
    out = drop(big)
    kept = out.data != 0
    assert np.allclose(out.data[kept], 1 / 0.75), f"survivors should be scaled by 1/(1-p) = {1 / 0.75:.4f}"
    assert abs(kept.mean() - 0.75) < 0.01, f"about 75% should survive with p=0.25, got {kept.mean():.3f}"
    assert out.dtype == np.float32, f"dropout must keep float32, got {out.dtype}"
    drop.eval()
    assert drop(big) is big, "in eval mode Dropout must return its input unchanged"
    assert dropout(big, p=1.0).data.max() == 0.0 and dropout(big, p=0.0) is big
    for bad in (-0.1, 1.5):
        try:
            Dropout(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"Dropout({bad}) should raise ValueError")
    images = Tensor(np.zeros((2, 3, 4, 5), dtype=np.float32))
    assert Flatten()(images).shape == (2, 60), f"Flatten(): expected (2, 60), got {Flatten()(images).shape}"
    assert Flatten(0, 1)(images).shape == (6, 4, 5) and Flatten(2)(images).shape == (2, 3, 20)
    print("Sequential, Dropout (train/eval), Flatten and Identity are correct")


test_unit_sequential_dropout_flatten()

# %% [markdown]
# ## 7. Activations as Modules
#
# Module 02 wrote the activation *functions* and small callable classes, because `Module` did not
# exist yet. Now it does, so here are the activation classes that `tinytorch.nn` exports, as real
# Modules: they have `train()/eval()`, appear in `modules()` and in a parent's repr, and can sit in a
# `Sequential`. Nothing is written twice: each class inherits its `forward` (which calls the
# module-02 function, as PyTorch's `nn.ReLU` calls `F.relu`), its settings and their checks from
# module 02's class, and its bookkeeping from `Module`.
#
# ```
#   nn.LeakyReLU ──► activations.LeakyReLU  (forward, negative_slope, extra_repr)
#                └─► Module                 (registration, train/eval, modules(), state_dict)
# ```
#
# Containers accept either spelling: `Sequential([activations.ReLU(), ...])` (how the course text
# imports it, from `core.activations`) stores the Module twin with the same settings, so the model
# is the same as with `nn.ReLU()`.

# %%
#| export
# Each activation Module inherits its maths and settings from module 02's class and its
# bookkeeping (registration, train/eval, being found by modules()) from Module. Module 02's
# class comes first so its `forward`, `__init__` and `extra_repr` win; its `super().__init__()`
# call runs Module.__init__ too.
class ReLU(activations.ReLU, Module):
    """max(0, x) elementwise, as a Module (nn.ReLU)."""

    __call__ = Module.__call__  # hooks run for activations too (module 02's __call__ has none)


class LeakyReLU(activations.LeakyReLU, Module):
    """x for x > 0, negative_slope * x otherwise, as a Module (nn.LeakyReLU)."""

    __call__ = Module.__call__  # hooks run for activations too (module 02's __call__ has none)


class Sigmoid(activations.Sigmoid, Module):
    """1 / (1 + exp(-x)) elementwise, as a Module (nn.Sigmoid)."""

    __call__ = Module.__call__  # hooks run for activations too (module 02's __call__ has none)


class Tanh(activations.Tanh, Module):
    """tanh(x) elementwise, as a Module (nn.Tanh)."""

    __call__ = Module.__call__  # hooks run for activations too (module 02's __call__ has none)


class GELU(activations.GELU, Module):
    """x * Phi(x), approximate='none' (erf) or 'tanh', as a Module (nn.GELU)."""

    __call__ = Module.__call__  # hooks run for activations too (module 02's __call__ has none)


class SiLU(activations.SiLU, Module):
    """x * sigmoid(x) elementwise, as a Module (nn.SiLU)."""

    __call__ = Module.__call__  # hooks run for activations too (module 02's __call__ has none)


class Softmax(activations.Softmax, Module):
    """softmax along `dim` (required), as a Module (nn.Softmax)."""

    __call__ = Module.__call__  # hooks run for activations too (module 02's __call__ has none)


class LogSoftmax(activations.LogSoftmax, Module):
    """log_softmax along `dim` (required), as a Module (nn.LogSoftmax)."""

    __call__ = Module.__call__  # hooks run for activations too (module 02's __call__ has none)


# module 02's class -> its Module twin: Sequential([activations.ReLU(), ...]) stores an nn.ReLU
_ACTIVATION_MODULES.update({cls.__bases__[0]: cls for cls in (ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU,
                                                                Softmax, LogSoftmax)})


# %%
#| test
def test_unit_activation_modules():
    x = Tensor([[-2.0, 0.5, 3.0]])
    for module, fn in [(ReLU(), relu), (LeakyReLU(0.1), lambda t: leaky_relu(t, 0.1)), (Sigmoid(), sigmoid),
                       (Tanh(), tanh), (GELU("tanh"), lambda t: gelu(t, "tanh")), (SiLU(), silu),
                       (Softmax(dim=1), lambda t: softmax(t, 1)), (LogSoftmax(dim=1), lambda t: log_softmax(t, 1))]:
        assert isinstance(module, Module), f"{type(module).__name__} should be a Module"
        assert np.array_equal(module(x).data, fn(x).data), f"{module!r} should call its module-02 function"
    model = Sequential(Linear(3, 4), ReLU(), Dropout(0.1), Linear(4, 2), LogSoftmax(dim=1))
    shown = repr(model)
    expected = ("Sequential(\n  (0): Linear(in_features=3, out_features=4, bias=True)\n  (1): ReLU()\n"
                "  (2): Dropout(p=0.1)\n  (3): Linear(in_features=4, out_features=2, bias=True)\n"
                "  (4): LogSoftmax(dim=1)\n)")
    assert shown == expected, f"expected:\n{expected}\ngot:\n{shown}"
    model.eval()
    assert not model[2].training, "eval() must reach Dropout inside Sequential"
    converted = Sequential([activations.LeakyReLU(0.2), Linear(2, 2)])[0]
    assert isinstance(converted, LeakyReLU) and converted.negative_slope == 0.2, (
        "a module-02 activation in a Sequential becomes its Module twin, settings kept")
    print("activation Modules: values, Sequential repr and eval() are correct")


test_unit_activation_modules()

# %% [markdown]
# ## 8. Devices, dtypes, padding and one-hot: what everyday PyTorch scripts also call
#
# Three small things that ordinary PyTorch scripts do on their first lines, and that TinyTorch
# supports with PyTorch's meaning:
#
# **`model.to(device)`.** A PyTorch script picks a device and moves the model there:
#
# ```python
# device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
# model = Net().to(device)          # Module.to returns the module itself
# ```
#
# TinyTorch has exactly one device, the CPU, where NumPy runs. So `to("cpu")` and `cpu()` check the
# argument and return `self` — nothing moves — and `"cuda"` or `"mps"` raise an error that says
# TinyTorch runs on the CPU, instead of silently training somewhere else than the script asked.
# `tinytorch.cuda.is_available()` answers `False` (and `device_count()` 0), so the device-agnostic
# line above picks the CPU by itself.
# `to(dtype)` (and `float()`, `double()`, `half()`) does change something: it casts every
# floating-point parameter and buffer *in place*. The Parameter objects stay the same — an optimizer
# created before the cast still holds them — only the arrays inside are replaced. Integer buffers
# (a step counter) keep their type, as in PyTorch.
#
# **`pad(x, pad, mode)`** — `F.pad` — grows (or, with negative amounts, crops) the last dimensions.
# The pad tuple is read from the *last* dimension backwards, in pairs:
#
# ```
#   pad = (1, 2)         last dim: 1 before, 2 after             [a b c] -> [0 a b c 0 0]
#   pad = (1, 1, 2, 0)   last dim 1 | 1, the one before it 2 | 0 (two new rows on top)
#
#   mode       [a b c d], 2 before and after
#   constant   0 0 a b c d 0 0        (value=...)
#   reflect    c b a b c d c b        (mirror, without repeating the edge)
#   replicate  a a a b c d d d        (repeat the edge)
#   circular   c d a b c d a b        (wrap around)
# ```
#
# Every mode is built from ops that already record themselves, so padding needs no gradient rule of
# its own: `constant` concatenates blocks of `value` around the input (`cat`), the other three are
# one gather per padded dimension — an index array `x[..., idx]` — whose backward adds each output
# gradient back into the input position it was copied from.
#
# **`one_hot(labels, num_classes)`** turns class indices `(N,)` into rows `(N, C)` of 0s with a single
# 1, as int64 (PyTorch's type; call `.float()` to feed it to a loss).

# %%
#| export
def cuda_is_available() -> bool:
    """tinytorch.cuda.is_available(): False — TinyTorch computes with NumPy on the CPU only."""
    return False


def cuda_device_count() -> int:
    """tinytorch.cuda.device_count(): 0 GPUs."""
    return 0


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_amounts(pad, ndim: int) -> list:
    if not isinstance(pad, (tuple, list)) or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                                                 for v in pad):
        raise TypeError(f"pad: pad must be a tuple of ints (left, right, top, bottom, ...), got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"pad: pad must have an even length (a before/after pair per dimension), got {len(pad)}")
    if len(pad) // 2 > ndim:
        raise ValueError(f"pad: {len(pad)} values pad {len(pad) // 2} dimensions, but the input has only {ndim}")
    return [int(v) for v in pad]


def _gather_positions(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """For reflect/replicate/circular: which input position each output position copies."""
    limits = {"reflect": size - 1, "circular": size, "replicate": None}
    limit = limits[mode]
    if min(before, after) < 0:
        raise ValueError(f"pad: mode={mode!r} needs non-negative padding, got {before}, {after}")
    if limit is not None and max(before, after) > limit or size == 0:
        raise ValueError(f"pad: mode={mode!r} can pad a dimension of size {size} by at most {limit} on each "
                         f"side, got {before} before and {after} after")
    positions = np.arange(-before, size + after)
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    if mode == "circular":
        return positions % size
    period = 2 * (size - 1) if size > 1 else 1
    folded = np.abs(positions) % period
    return np.where(folded >= size, period - folded, folded)


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """F.pad: pad the last len(pad)//2 dimensions; pad = (last_before, last_after, prev_before, ...).

    mode: "constant" (fill with value, default 0; negative amounts crop), "reflect", "replicate",
    "circular". Shape: (..., H, W) with pad (l, r, t, b) -> (..., H + t + b, W + l + r).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    amounts = _pad_amounts(pad, input.ndim)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(_PAD_MODES)}, got {mode!r}")
    if value is not None and mode != "constant":
        raise ValueError(f"pad: value is only used with mode='constant', got mode={mode!r}")
    fill = 0 if value is None else value
    out = input
    for pair in range(len(amounts) // 2):
        dim = input.ndim - 1 - pair
        before, after = amounts[2 * pair], amounts[2 * pair + 1]
        lead = (slice(None),) * dim
        if mode != "constant":
            out = out[lead + (_gather_positions(out.shape[dim], before, after, mode),)]
            continue
        size = out.shape[dim]
        if size + min(before, 0) + min(after, 0) < 0:
            raise ValueError(f"pad: cropping {-min(before, 0)} and {-min(after, 0)} from a dimension of size "
                             f"{size} leaves nothing")
        if before < 0 or after < 0:  # negative amounts crop: a slice, a view
            out = out[lead + (slice(max(-before, 0), size - max(-after, 0)),)]
        # Hint: blocks of `fill` in out's dtype — the shape of `out` with `before` (or `after`)
        #       entries in dimension `dim` (np.full) — on either side, joined by cat(pieces, dim).
        #       Skip a side with nothing to add; with nothing at all, keep `out` as it is.
        ### BEGIN SOLUTION
        pieces = [out]
        if before > 0:
            pieces.insert(0, Tensor(np.full(out.shape[:dim] + (before,) + out.shape[dim + 1:], fill, out.dtype)))
        if after > 0:
            pieces.append(Tensor(np.full(out.shape[:dim] + (after,) + out.shape[dim + 1:], fill, out.dtype)))
        if len(pieces) > 1:
            out = cat(pieces, dim)
        ### END SOLUTION
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """F.one_hot: class indices (*) -> int64 (*, num_classes) with a 1 at each index.

    num_classes=-1 takes max(index) + 1.
    """
    if not isinstance(tensor, Tensor) or tensor.dtype.kind not in "iu":
        what = f"dtype {tensor.dtype}" if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"one_hot is only applicable to index tensors (int64), got {what}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be a positive int or -1, got {num_classes!r}")
    labels = tensor.data
    if labels.size and labels.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {labels.min()}")
    if num_classes == -1:
        if labels.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(labels.max()) + 1
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, got {labels.max()}")
    return Tensor((labels[..., None] == np.arange(num_classes)).astype(np.int64))

# %%
#| test
def test_unit_to_pad_one_hot():
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    weight = model[0].weight
    assert model.to("cpu") is model and model.cpu() is model, "Module.to('cpu') and cpu() return the module"
    try:
        model.to("cuda")
    except RuntimeError as error:
        assert "CPU" in str(error), f"the error should say TinyTorch runs on the CPU, got: {error}"
    else:
        raise AssertionError("model.to('cuda') should raise RuntimeError")
    assert model.double() is model and model[0].weight is weight and weight.dtype == np.float64, (
        "double() casts in place: the same Parameter objects, float64 arrays")
    assert model.to(np.float32) is model and weight.dtype == np.float32
    x = Tensor([[1.0, 2.0, 3.0]])
    assert pad(x, (1, 2)).tolist() == [[0.0, 1.0, 2.0, 3.0, 0.0, 0.0]], "pad=(1, 2): 1 before, 2 after"
    assert pad(x, (0, 0, 1, 0), value=9.0).shape == (2, 3), "the second pair pads the dimension before"
    assert pad(x, (-1, 0)).tolist() == [[2.0, 3.0]], "negative amounts crop"
    row = Tensor([[1.0, 2.0, 3.0, 4.0]])
    for mode, expected in (("reflect", [3, 2, 1, 2, 3, 4, 3, 2]), ("replicate", [1, 1, 1, 2, 3, 4, 4, 4]),
                           ("circular", [3, 4, 1, 2, 3, 4, 1, 2])):
        got = pad(row, (2, 2), mode=mode).tolist()[0]
        assert got == expected, f"pad mode={mode!r}: expected {expected}, got {got}"
    labels = Tensor(np.array([2, 0, 1]))
    assert one_hot(labels).tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]], "one_hot: a 1 at each index"
    assert one_hot(labels, 5).shape == (3, 5) and one_hot(labels).dtype == np.int64
    print("Module.to/cpu/double, pad (4 modes, crop) and one_hot are correct")


test_unit_to_pad_one_hot()

# %% [markdown]
# ## Analysis — parameters, memory and FLOPs of an MLP
#
# Take the classic MNIST classifier 784 -> 256 -> 128 -> 10. For each Linear layer, count parameters
# (`in*out + out`), their float32 memory (4 bytes each), and the forward FLOPs for a batch of N
# (`2*N*in*out` for the matmul, `N*out` for the bias). Then time the forward pass and see how the
# FLOPs translate into seconds on your machine.

# %%
#| analysis
import time

from tinytorch.core.tensor import manual_seed

manual_seed(0)
mlp = Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))
batch = 256
inputs = Tensor(np.random.default_rng(0).standard_normal((batch, 784)).astype(np.float32))


def best_time(fn, repeats: int = 10) -> float:
    """Best wall-clock time of fn() over `repeats` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


print(f"batch N = {batch}")
print(f"{'layer':<24}{'params':>10}{'KiB':>9}{'MFLOP':>9}{'ms':>8}{'GFLOP/s':>9}")
total_params = total_flops = activation_elements = 0
activation = inputs
for index, layer in enumerate(mlp):
    params = sum(p.numel() for p in layer.parameters())
    if isinstance(layer, Linear):
        label = f"({index}) Linear({layer.in_features}, {layer.out_features})"
        flops = 2 * batch * layer.in_features * layer.out_features + batch * layer.out_features
    else:
        label = f"({index}) {layer!r}"
        flops = activation.numel()  # ReLU: one comparison per element
    seconds = best_time(lambda: layer(activation))
    print(f"{label:<24}{params:>10,}{params * 4 / 1024:>9.1f}{flops / 1e6:>9.2f}"
          f"{seconds * 1e3:>8.3f}{flops / seconds / 1e9:>9.1f}")
    total_params, total_flops = total_params + params, total_flops + flops
    activation_elements += activation.numel()  # each layer's input is kept for its backward
    activation = layer(activation)
whole = best_time(lambda: mlp(inputs))
print(f"{'whole model':<24}{total_params:>10,}{total_params * 4 / 1024:>9.1f}{total_flops / 1e6:>9.2f}"
      f"{whole * 1e3:>8.3f}{total_flops / whole / 1e9:>9.1f}")
print(f"\nlayer inputs kept for backward: {activation_elements * 4 / 1024:.0f} KiB of float32 "
      f"(grows with N; the parameters do not)")

# %% [markdown]
# Read the table: almost all parameters, memory and FLOPs sit in the first layer (784 x 256), and the
# matmuls run at many GFLOP/s because NumPy hands them to an optimised BLAS library, while ReLU does
# one operation per element and is limited by memory traffic, not arithmetic. Parameter memory is
# fixed; the activation memory grows with the batch size — keep both in mind when a model does not
# fit.

# %% [markdown]
# ## Reflection
#
# **Q1.** `Module.__setattr__` registers a Parameter when you write `self.w = Parameter(...)`. What
# goes wrong if you keep your layers in a plain Python list (`self.layers = [Linear(2, 2), ...]`)
# instead of a `ModuleList`? Which methods would silently miss them?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** PyTorch's default `Linear` initialisation gives weights in `±1/sqrt(fan_in)`, a standard
# deviation of `1/sqrt(3 fan_in)`. For a stack of ReLU layers, compare this with Kaiming's
# `sqrt(2/fan_in)`: by what factor does the activation variance shrink per layer, and what happens
# after 20 layers?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** From the analysis table: if you doubled the hidden width (784 -> 512 -> 256 -> 10), how
# would parameter count, FLOPs and measured time change? Check your prediction by editing the cell.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - `Parameter` marks learnable tensors; `Module.__setattr__` registers Parameters, Modules and
#   buffers on assignment, and every other method is a walk over that tree.
# - `state_dict` is a snapshot of arrays by path; `load_state_dict` checks everything (missing,
#   unexpected, mis-shaped) before copying in place.
# - `Linear` is `x @ W.T + b` built from recorded ops, initialised exactly like PyTorch.
# - `Sequential`, `Dropout`, `Flatten`, `Identity` and the activation Modules complete a toolkit for
#   MLPs; `F.linear`, `F.dropout`, `F.pad` and `F.one_hot` are the functional forms.
# - `model.to("cpu")` returns the model (TinyTorch has one device); `to(dtype)` casts in place.
#   Next: a loss function to tell the model how wrong it is (module 04).
