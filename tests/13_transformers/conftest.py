"""Module 13's tests run on module 13's own code (the textbook composition of Tensor ops): module 16's
fused kernels are switched off. (tests/16_acceleration/test_fused_*.py checks that those kernels agree
with this module's.)
"""

from __future__ import annotations

import pytest

from tinytorch.systems.acceleration import use_fused


@pytest.fixture(autouse=True)
def textbook_path():
    with use_fused(False):
        yield
