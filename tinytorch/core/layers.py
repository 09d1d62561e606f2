# Generated from modules/03_layers/layers.py by `tito export`. Do not edit: edit the module.

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
        if remove_duplicate:
            memo = set() if memo is None else memo
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, _join(prefix, name), remove_duplicate)

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
        return OrderedDict((name, tensor.data.copy()) for name, tensor in self._state_tensors().items())

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

    # ----- modes and gradients --------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (mode=True) or evaluation mode on this module and all descendants."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be True or False, got {mode!r}")
        # Hint: set self.training, then call child.train(mode) for every child.
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

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
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


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
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He normal: N(0, std^2), std = gain / sqrt(fan). In place."""
    _float_data(tensor, "kaiming_normal_")
    fan = _calculate_correct_fan(tensor, mode)
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


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
    out = input @ weight.T
    if bias is not None:
        out = out + bias
    return out


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
        kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


Dense = Linear  # the name the course text (and Keras) uses for a fully connected layer


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
        for module in self:
            x = module(x)
        return x

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
    rng = generator or default_generator()
    if p == 1:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        mask = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype)
        mask *= 1 / (1 - p)
    return x * Tensor(mask)


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
        pieces = [out]
        if before > 0:
            pieces.insert(0, Tensor(np.full(out.shape[:dim] + (before,) + out.shape[dim + 1:], fill, out.dtype)))
        if after > 0:
            pieces.append(Tensor(np.full(out.shape[:dim] + (after,) + out.shape[dim + 1:], fill, out.dtype)))
        if len(pieces) > 1:
            out = cat(pieces, dim)
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
