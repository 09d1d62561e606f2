"""The student-release round trip for every module of the course's second half (10-20).

CI runs the whole round trip (`tito release student`, stubbed tests fail, `tito release restore`,
tests pass) on module 01. Releasing all twenty modules per module would take minutes, so here each
module is stripped alone, in a copy of this repository, with the same functions the release and
restore use (tito.regions, tito.export, tito.restore):

1. its generated package file says "is not implemented yet, see modules/NN_name";
2. its own tests fail, and the first failure is a NotImplementedError pointing at that module;
3. restoring the solutions gives back the instructor's module and, exported, the very package
   file the instructor's suite tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tito.export import export, find_modules, render_module
from tito.regions import strip_solutions
from tito.restore import restore_solutions

ROOT = Path(__file__).resolve().parents[2]
SECOND_HALF = [m for m in find_modules(ROOT) if int(m.number) >= 10]
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", ".pytest_cache", "*.ipynb")


def _copy_of_repository(where: Path) -> Path:
    shutil.copytree(ROOT, where, ignore=NOT_COPIED)
    return where


def _pytest(root: Path, tests: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", tests]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("module", SECOND_HALF, ids=lambda m: m.tag)
def test_stubbed_module_fails_pointing_at_itself_and_restores(module, tmp_path):
    student = _copy_of_repository(tmp_path / "student")
    source = module.source.relative_to(ROOT)
    package = render_module(module, ROOT)[0].relative_to(ROOT)
    stripped, count = strip_solutions(module.source.read_text(), f"modules/{module.tag}", source.as_posix())
    assert count >= 1, f"{source} has no solution region for a learner to write"
    (student / source).write_text(stripped)
    export(student, [module.number])
    pointer = f"see modules/{module.tag}"
    assert pointer in (student / package).read_text()

    failing = _pytest(student, f"tests/{module.tag}")
    assert failing.returncode == 1, f"tests/{module.tag} on the stubbed module:\n{failing.stdout[-3000:]}"
    assert "NotImplementedError" in failing.stdout and pointer in failing.stdout, failing.stdout[-3000:]

    instructor = tmp_path / "instructor"
    (instructor / source).parent.mkdir(parents=True)
    shutil.copy(module.source, instructor / source)
    restored = restore_solutions(instructor, student)
    assert [r.identical for r in restored] == [True]
    export(student, [module.number])
    assert (student / package).read_text() == (ROOT / package).read_text()
