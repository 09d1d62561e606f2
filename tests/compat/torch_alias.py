"""Run an unchanged PyTorch script on TinyTorch: while `torch_is_tinytorch()` is active, `import torch`
and `import torch.nn.functional as F` (any torch.X) give tinytorch and tinytorch.X."""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import runpy
import sys
from pathlib import Path


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)  # the real tinytorch module, not a copy

    def exec_module(self, module):
        pass


class _TorchToTinyTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "torch" and not name.startswith("torch."):
            return None
        real = "tinytorch" + name[len("torch"):]
        if importlib.util.find_spec(real) is None:
            return None  # `import torch.cuda.amp` and the like: a plain ModuleNotFoundError
        return importlib.util.spec_from_loader(name, _AliasLoader(real))


def _torch_modules() -> dict:
    return {name: module for name, module in sys.modules.items() if name == "torch" or name.startswith("torch.")}


@contextlib.contextmanager
def torch_is_tinytorch():
    hidden = _torch_modules()  # a real torch imported earlier in this process is set aside, then restored
    for name in hidden:
        del sys.modules[name]
    finder = _TorchToTinyTorch()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in _torch_modules():
            del sys.modules[name]
        sys.modules.update(hidden)


def run_script(path: Path, framework: str) -> dict:
    """main() of the script at `path`, with `torch` being "tinytorch" or the real "torch"."""
    if framework == "tinytorch":
        with torch_is_tinytorch():
            return runpy.run_path(str(path), run_name="compat_script")["main"]()
    return runpy.run_path(str(path), run_name="compat_script")["main"]()
