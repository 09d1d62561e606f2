"""Helpers shared by several test folders (importable because tests/conftest.py's folder is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def autograd_ready() -> bool:
    """True once module 05 (backward and gradcheck) is implemented; gradient tests need it."""
    from tinytorch.core.autograd import gradcheck
    from tinytorch.core.tensor import Tensor

    try:
        return gradcheck(lambda t: t * 2, (Tensor(np.ones(2), requires_grad=True),))
    except NotImplementedError:
        return False


# Gradient tests of modules 02–04 skip (rather than fail) while a learner's module 05 is a stub.
needs_autograd = pytest.mark.skipif(not autograd_ready(), reason="needs module 05 (autograd), not implemented yet")


def load_torch_cases(filename: str) -> dict[str, dict[str, np.ndarray]]:
    """PyTorch reference values saved by scripts/make_*_fixtures.py: {case: {"input0": ..., "out": ...}}."""
    cases: dict[str, dict[str, np.ndarray]] = {}
    with np.load(FIXTURES / filename, allow_pickle=False) as data:
        for key in data.files:
            name, what = key.rsplit("/", 1)
            cases.setdefault(name, {})[what] = data[key]
    return cases


@pytest.fixture(autouse=True)
def textbook_path():
    """Run every test of a folder on its own module's code: module 16's fused kernels switched off.

    A folder opts in by importing this fixture into its conftest.py (tests/09_spatial, 12, 13);
    tests/16_acceleration checks that the fused kernels agree with those modules' own paths.
    """
    from tinytorch.systems.acceleration import use_fused

    with use_fused(False):
        yield
