"""`tito system doctor`: is this machine ready for the course? One line per check.

Each line starts with OK, FIX (worth fixing, nothing breaks yet) or FAIL (the course cannot
work); every FIX and FAIL line says what to do. Only FAIL lines make the exit status non-zero:
Python >= 3.10, NumPy >= 1.24 and an importable tinytorch are essential, the rest is comfort.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError
from tito.procs import repo_env
from tito.repo import project_root

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Line:
    state: str  # "OK", "FIX" or "FAIL"
    text: str


def check_python() -> Line:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 10):
        return Line("OK", f"python {version} ({sys.executable})")
    return Line(
        "FAIL",
        f"python {version} is too old: TinyTorch needs 3.10 or newer; install a "
        "newer Python and recreate the virtual environment (make venv)",
    )


def check_numpy() -> Line:
    try:
        import numpy
    except ImportError:
        return Line("FAIL", "numpy is not installed: pip install -e . (installs numpy>=1.24)")
    major_minor = tuple(int(part) for part in numpy.__version__.split(".")[:2] if part.isdigit())
    if major_minor < (1, 24):
        return Line("FAIL", f"numpy {numpy.__version__} is too old: pip install 'numpy>=1.24'")
    return Line("OK", f"numpy {numpy.__version__}")


def blas_description() -> str | None:
    """Which BLAS NumPy was built against, across NumPy's two build-info formats.

    NumPy >= 1.26 (meson builds) answers show_config(mode="dicts"); older releases keep
    `*_info` dicts in numpy.__config__. Anything else: look for a library name in the printed
    config. None when nothing could be read.
    """
    import numpy

    try:
        config = numpy.show_config(mode="dicts")
    except TypeError:
        config = None
    if isinstance(config, dict):
        blas = config.get("Build Dependencies", {}).get("blas", {})
        if blas.get("name"):
            details = " ".join(str(blas[key]) for key in ("name", "version") if blas.get(key))
            return details + ("" if blas.get("found", True) else " (not found at build time)")
    legacy = getattr(numpy, "__config__", None)
    for key in (
        "blas_ilp64_opt_info",
        "blas_opt_info",
        "openblas_info",
        "blas_mkl_info",
        "accelerate_info",
    ):
        info = getattr(legacy, key, None)
        if isinstance(info, dict) and info.get("libraries"):
            return f"{', '.join(dict.fromkeys(info['libraries']))} (from numpy.__config__.{key})"
    printed = io.StringIO()
    with redirect_stdout(printed):
        numpy.show_config()
    for name in ("openblas", "mkl", "accelerate", "blis", "atlas"):
        if name in printed.getvalue().lower():
            return f"{name} (named in numpy.show_config())"
    return None


def check_blas() -> Line:
    try:
        description = blas_description()
    except ImportError:
        return Line("FIX", "blas: unknown until numpy is installed")
    if description is None:
        return Line(
            "FIX",
            "blas: numpy does not say which BLAS it uses; matrix products may be "
            "slow; install numpy from PyPI wheels (pip install --force-reinstall numpy)",
        )
    return Line("OK", f"blas: {description}")


def check_threads() -> Line:
    cpus = os.cpu_count() or 1
    settings = {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}
    shown = (
        ", ".join(f"{name}={value}" for name, value in settings.items())
        or "no thread variables set"
    )
    pools = _threadpool_summary()
    text = f"threads: {cpus} CPU(s); {shown}" + (f"; {pools}" if pools else "")
    for name, value in settings.items():
        if not value.isdigit() or int(value) < 1:
            return Line(
                "FIX",
                f"{text}: {name}={value!r} is not a positive integer; unset it or "
                f"`export {name}={cpus}`",
            )
        if int(value) > cpus:
            return Line(
                "FIX",
                f"{text}: {name} asks for more threads than CPUs, which slows BLAS "
                f"down; `export {name}={cpus}`",
            )
    return Line("OK", text)


def _threadpool_summary() -> str:
    """What threadpoolctl sees (the BLAS actually loaded and its threads), when it is installed."""
    if importlib.util.find_spec("threadpoolctl") is None:
        return ""
    try:
        import numpy  # noqa: F401  (loads the BLAS so threadpoolctl can see it)
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
    except Exception as error:  # an optional extra must never break the doctor
        return f"threadpoolctl failed ({type(error).__name__})"
    return ", ".join(
        f"{pool.get('internal_api')} uses {pool.get('num_threads')} threads" for pool in pools
    )


def check_tinytorch(root: Path | None) -> Line:
    """Import tinytorch in a child process, as a learner's script would (a hang cannot stop us)."""
    if root is None:
        return Line("FAIL", "tinytorch: not inside a TinyTorch repository; cd into your checkout")
    probe = (
        "import tinytorch; "
        "print(getattr(tinytorch, '__file__', None) or list(tinytorch.__path__)[0])"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=root,
            env=repo_env(root),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return Line(
            "FAIL",
            "tinytorch: `import tinytorch` did not finish in 60 s; "
            "run it by hand to see where it hangs",
        )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no error output"])[-1]
        return Line(
            "FAIL",
            f"tinytorch does not import ({last}); run `tito export` and "
            "`python -c 'import tinytorch'` to see the full error",
        )
    location = result.stdout.strip()
    if not Path(location).resolve().is_relative_to(root):
        return Line(
            "FIX",
            f"tinytorch imports from {location}, not from this repository; "
            f"pip install -e . in {root}",
        )
    return Line("OK", f"tinytorch imports from {location}")


def check_jupytext() -> Line:
    if importlib.util.find_spec("jupytext") is None:
        return Line(
            "FIX",
            "jupytext is not installed (needed by `tito module start`): pip install -e '.[cli]'",
        )
    return Line("OK", f"jupytext {importlib.metadata.version('jupytext')}")


def check_jupyter() -> Line:
    if shutil.which("jupyter") is None:
        return Line(
            "FIX",
            "jupyter is not installed (to open modules as notebooks): pip install jupyterlab; "
            "any editor works on the .py files too",
        )
    return Line("OK", f"jupyter at {shutil.which('jupyter')}")


def check_data_cache() -> Line:
    """$TINYTORCH_DATA or ~/.cache/tinytorch must exist and be writable, or be creatable."""
    configured = os.environ.get("TINYTORCH_DATA")
    folder = Path(configured).expanduser() if configured else Path.home() / ".cache" / "tinytorch"
    source = "$TINYTORCH_DATA" if configured else "default; set $TINYTORCH_DATA to move it"
    if folder.is_dir():
        if os.access(folder, os.W_OK):
            return Line("OK", f"datasets: {folder} ({source}), exists and is writable")
        return Line(
            "FIX",
            f"datasets: {folder} ({source}) is not writable; chmod u+w {folder} "
            "or point $TINYTORCH_DATA at a writable folder",
        )
    if folder.exists():
        return Line(
            "FIX",
            f"datasets: {folder} ({source}) is a file, not a folder; move it away "
            "or point $TINYTORCH_DATA elsewhere",
        )
    parent = next((p for p in folder.parents if p.exists()), None)
    if parent is not None and os.access(parent, os.W_OK):
        return Line("OK", f"datasets: {folder} ({source}), will be created on first download")
    return Line(
        "FIX",
        f"datasets: {folder} ({source}) cannot be created ({parent} is not writable); "
        "point $TINYTORCH_DATA at a writable folder",
    )


def run_doctor() -> int:
    try:
        root: Path | None = project_root()
    except TitoError:
        root = None
    lines = [
        check_python(),
        check_numpy(),
        check_blas(),
        check_threads(),
        check_tinytorch(root),
        check_jupytext(),
        check_jupyter(),
        check_data_cache(),
    ]
    for line in lines:
        print(f"{line.state:<5}{line.text}")
    failed = [line for line in lines if line.state == "FAIL"]
    fixes = sum(1 for line in lines if line.state == "FIX")
    verdict = "not ready: fix the FAIL lines" if failed else "ready"
    print(f"\n{verdict} ({len(lines) - len(failed) - fixes} OK, {fixes} FIX, {len(failed)} FAIL)")
    return 1 if failed else 0
