"""Pin BLAS threads from `--threads N` before NumPy (or torch) is imported.

OpenBLAS, OpenMP and MKL read their thread counts once, when the library loads, so a benchmark
must set them before its first `import numpy`. Import this module first and call
`pin_blas_threads(sys.argv[1:], default)`; variables already set in the environment win.
"""

import os


def _threads_argument(argv, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return default


def pin_blas_threads(argv, default: str) -> str:
    """The thread count from `argv` (or `default`), exported to the BLAS libraries' variables."""
    threads = _threads_argument(argv, default)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, threads)
    return threads
