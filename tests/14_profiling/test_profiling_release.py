"""Module 14's student-release round trip: stubs fail its tests pointing at the module; restored, they pass.

The same steps as `tito release student` / `tito release restore` (tito.regions, tito.export,
tito.restore), on a copy of this repository's package with only module 14 stripped, so it runs in
seconds instead of releasing all twenty modules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tito.export import export
from tito.regions import strip_solutions
from tito.restore import restore_solutions

ROOT = Path(__file__).resolve().parents[2]
MODULE = "modules/14_profiling/profiling.py"
PACKAGE = "tinytorch/systems/profiling.py"


def _pytest(root: Path, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, "tests/14_profiling"]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_stubs_fail_for_the_right_reason_and_restore_passes(tmp_path):
    student, instructor = tmp_path / "student", tmp_path / "instructor"
    shutil.copytree(ROOT / "tinytorch", student / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    (student / "tests/14_profiling").mkdir(parents=True)
    shutil.copy(ROOT / "tests/14_profiling/test_profiling.py", student / "tests/14_profiling/")
    for repo in (student, instructor):
        (repo / MODULE).parent.mkdir(parents=True)
    shutil.copy(ROOT / MODULE, instructor / MODULE)
    stripped, count = strip_solutions((ROOT / MODULE).read_text(), "modules/14_profiling", MODULE)
    assert count >= 5
    (student / MODULE).write_text(stripped)
    export(student, ["14"])
    assert "is not implemented yet, see modules/14_profiling" in (student / PACKAGE).read_text()

    failing = _pytest(student, "-x")  # the first failure says enough
    assert failing.returncode == 1, failing.stdout[-2000:]
    assert "NotImplementedError" in failing.stdout and "see modules/14_profiling" in failing.stdout

    (restored,) = restore_solutions(instructor, student)
    assert restored.identical
    export(student, ["14"])
    assert (student / PACKAGE).read_text() == (ROOT / PACKAGE).read_text()
    passing = _pytest(student)
    assert passing.returncode == 0, passing.stdout[-2000:]
