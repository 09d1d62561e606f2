"""`tito system doctor`: is this machine ready for the course? One line per check.

Each line starts with OK, FIX (worth fixing, nothing breaks yet) or FAIL (the course cannot
work); every FIX and FAIL line says what to do. Only FAIL lines make the exit status non-zero:
Python >= 3.10, NumPy >= 1.24 and an importable tinytorch are essential, the rest is comfort.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
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


LEARN_HINT = "pip install -e '.[learn]'"


def _tool(name: str) -> str | None:
    """A Jupyter command: the one beside this Python first (a venv that is not activated), else PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def _run(command: list[str], timeout: float = 60) -> tuple[int, str]:
    """(exit status, stdout+stderr) of a short command; -1 when it cannot run or hangs."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return -1, f"{type(error).__name__}: {error}"
    return result.returncode, (result.stdout + result.stderr).strip()


def _version_of(command: list[str], what: str, fix: str) -> Line:
    """OK with the version a tool prints for --version; FIX when it is missing or broken."""
    code, output = _run(command)
    if code != 0:
        last = (output.splitlines() or ["no output"])[-1][:160]
        shown = " ".join([Path(command[0]).name, *command[1:]])
        return Line("FIX", f"{what}: `{shown}` failed ({last}); {fix}")
    return Line("OK", f"{what} {output.splitlines()[-1].strip()} ({command[0]})")


def check_jupytext() -> Line:
    """jupytext must import (tito syncs notebooks with it)."""
    code, output = _run([sys.executable, "-c", "import jupytext; print(jupytext.__version__)"])
    if code != 0:
        return Line(
            "FIX",
            f"jupytext does not import (needed by `tito module start` and notebook syncing): {LEARN_HINT}",
        )
    return Line("OK", f"jupytext {output.splitlines()[-1]}")


def check_jupyterlab() -> Line:
    lab = _tool("jupyter-lab")
    if lab is None:
        return Line(
            "FIX",
            f"jupyterlab is not installed (to open modules as notebooks): {LEARN_HINT}; "
            "any editor works on the .py files too",
        )
    return _version_of([lab, "--version"], "jupyterlab", f"reinstall it: {LEARN_HINT}")


def check_kernel() -> Line:
    """ipykernel must import, and Jupyter must list a python3 kernel to run notebooks with."""
    code, output = _run([sys.executable, "-c", "import ipykernel; print(ipykernel.__version__)"])
    if code != 0:
        return Line("FIX", f"ipykernel does not import (notebooks need it to run code): {LEARN_HINT}")
    version = output.splitlines()[-1]
    jupyter = _tool("jupyter")
    if jupyter is None:
        return Line("FIX", f"ipykernel {version}, but no `jupyter` command to list kernels: {LEARN_HINT}")
    code, listing = _run([jupyter, "kernelspec", "list", "--json"])
    try:
        kernels = json.loads(listing).get("kernelspecs", {}) if code == 0 else {}
    except json.JSONDecodeError:
        kernels = {}
    if "python3" not in kernels:
        return Line(
            "FIX",
            f"ipykernel {version}, but Jupyter lists no python3 kernel; "
            f"{sys.executable} -m ipykernel install --sys-prefix",
        )
    return Line("OK", f"ipykernel {version}, python3 kernel at {kernels['python3'].get('resource_dir', '?')}")


def check_nbconvert() -> Line:
    jupyter = _tool("jupyter")
    if jupyter is None or _tool("jupyter-nbconvert") is None:
        return Line("FIX", f"nbconvert is not installed (to export notebooks): {LEARN_HINT}")
    return _version_of([jupyter, "nbconvert", "--version"], "nbconvert", f"reinstall it: {LEARN_HINT}")


def check_jupytext_server() -> Line:
    """jupytext's Jupyter integration: with it, saving a notebook in JupyterLab also writes its .py."""
    jupyter = _tool("jupyter")
    if jupyter is None:
        return Line("FIX", f"jupytext's Jupyter integration: no `jupyter` command; {LEARN_HINT}")
    code, output = _run([jupyter, "server", "extension", "list"])
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    enabled = re.search(r"^\s*jupyterlab_jupytext\s+enabled", plain, re.MULTILINE)
    if code != 0 or not enabled:
        return Line(
            "FIX",
            "jupytext's Jupyter server extension is not enabled, so saving a notebook does not "
            f"write its .py (tito still syncs the pair before every check): {LEARN_HINT}",
        )
    return Line("OK", "jupytext's Jupyter server extension is enabled (saving a notebook writes its .py)")


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
    # The in-process checks first (one of them captures stdout); then the ones that start child
    # processes (Jupyter's commands take a second or more each), which are independent, side by
    # side. Lines print in this fixed order either way.
    lines = [check_python(), check_numpy(), check_blas(), check_threads()]
    children = [
        lambda: check_tinytorch(root),
        check_jupytext,
        check_jupyterlab,
        check_kernel,
        check_nbconvert,
        check_jupytext_server,
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        lines += list(pool.map(lambda check: check(), children))
    lines.append(check_data_cache())
    for line in lines:
        print(f"{line.state:<5}{line.text}")
    failed = [line for line in lines if line.state == "FAIL"]
    fixes = sum(1 for line in lines if line.state == "FIX")
    verdict = "not ready: fix the FAIL lines" if failed else "ready"
    print(f"\n{verdict} ({len(lines) - len(failed) - fixes} OK, {fixes} FIX, {len(failed)} FAIL)")
    return 1 if failed else 0
