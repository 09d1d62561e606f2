"""Module 09's tests run on module 09's own code: module 16's faster kernels are switched off.

(tests/16_acceleration/test_conv_*.py checks that those kernels agree with this module's.)
"""

from __future__ import annotations

import pytest

from tinytorch.systems.acceleration import use_fused


@pytest.fixture(autouse=True)
def textbook_path():
    with use_fused(False):
        yield
