"""Module 09's tests run on module 09's own code: module 16's faster kernels are switched off.

(tests/16_acceleration/test_conv_*.py checks that those kernels agree with this module's.)
"""

from support import textbook_path  # noqa: F401  (autouse: this folder tests its module's own path)
