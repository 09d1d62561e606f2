"""Module 12's tests run on module 12's own code (the textbook composition of Tensor ops): module 16's
fused kernels are switched off. (tests/16_acceleration/test_fused_*.py checks that those kernels agree
with this module's.)
"""

from support import textbook_path  # noqa: F401  (autouse: this folder tests its module's own path)
