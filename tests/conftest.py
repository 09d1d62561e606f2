"""Suite-wide test settings.

Hypothesis: no per-example deadline (a shared 2-core CI machine can stall any single example), and
on CI (`CI` set) derandomized, so a run is reproducible; locally it keeps exploring new examples.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "tinytorch",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("tinytorch")
