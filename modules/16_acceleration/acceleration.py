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
# # Module 16 — Acceleration: fewer passes over memory, the same mathematics
#
# (Objectives, prerequisites and the module's story are written with Part I.)
#
# **Exports to:** `tinytorch/systems/acceleration.py`, re-exported by `tinytorch.systems`.

# %%
#| default_exp systems.acceleration

# %%
#| export
from __future__ import annotations

import contextlib

import numpy as np

# %% [markdown]
# ## The switch: fused paths on, or off for a comparison
#
# Every fast path in this module is wired into the package: modules 09 and 13 ask
# `fused_enabled()` before they use one, and fall back to their own plain code when it says no
# (or when this module's kernels are not written yet). `use_fused(False)` turns them all off for
# an honest before/after measurement.

# %%
#| export
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

# %% [markdown]
# ## Part I — Fused kernels for the transformer

# %% [markdown]
# ## Part II — Convolutions at the speed of the machine

# %% [markdown]
# ## Part III — Trading compute for memory: checkpointing and float16

# %% [markdown]
# ## Reflection

# %% [markdown]
# ## Summary
