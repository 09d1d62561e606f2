"""tinytorch.systems: the systems part of the course (modules 14-20). Re-exports only.

Each submodule is generated from its module (systems.profiling for module 14, and so on).
"""

from tinytorch.systems import (  # noqa: E402,F401  (modules 14-18)
    acceleration,  # noqa: E402,F401  (module 16)
    benchmarking,  # noqa: E402,F401  (module 19)
    capstone,  # noqa: E402,F401  (module 20)
    compression,
    memoization,
    profiling,
    quantization,
)
from tinytorch.systems.acceleration import (  # noqa: E402,F401  (module 16, Part I)
    flash_attention,
    fused_enabled,
    fused_gelu,
    keep_freed_memory,
    softmax_cross_entropy,
    use_fused,
)
from tinytorch.systems.benchmarking import (  # noqa: E402,F401
    EVENTS,
    BenchmarkResult,
    Measurement,
    benchmark_model,
    capture_environment,
    compare,
    measure,
)
from tinytorch.systems.memoization import KVCache  # noqa: E402,F401
from tinytorch.systems.profiling import MemoryProfiler, Profiler, export_chrome_trace  # noqa: E402,F401
