# Generated from modules/16_acceleration/acceleration.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import contextlib

import numpy as np


_fused = True


def fused_enabled() -> bool:
    """True when the package should take module 16's fused paths (the default)."""
    return _fused


@contextlib.contextmanager
def use_fused(enabled: bool):
    """Context manager: `with use_fused(False): ...` runs the block on the plain, unfused paths."""
    global _fused
    if not isinstance(enabled, bool):
        raise TypeError(f"use_fused: enabled must be True or False, got {enabled!r}")
    previous, _fused = _fused, enabled
    try:
        yield
    finally:
        _fused = previous
