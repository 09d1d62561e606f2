"""`tito release nbgrader` round trip through the real nbgrader (installed by the `classroom` extra).

generate_assignment must accept the notebooks, a notebook filled in with the solutions must
autograde to full marks and the generated stub notebook to zero on its code cells.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from grading_support import BEGIN, END, with_markers, write

from tito.nbgrader_release import cell_kind, module_notebook, release_nbgrader

MODULE = '''# %% [markdown]
# # Module 01: a tiny tensor

# %%
#| default_exp core.tensor

# %%
#| export
import numpy as np


def double(x):
    """Twice x, elementwise (a NumPy array)."""
    @@BEGIN
    return np.asarray(x) * 2
    @@END


# %%
#| test
def test_unit_double():
    got = double([1, 2]).tolist()
    assert got == [2, 4], f"double should multiply by 2: expected [2, 4], got {got}"
    print("test_unit_double: ok")


test_unit_double()


# %%
#| export
def halve(x):
    """Half of x, elementwise."""
    @@BEGIN
    return np.asarray(x) / 2
    @@END


# %%
#| test
def test_unit_halve():
    assert halve([2, 4]).tolist() == [1, 2], "halve should divide by 2"
    print("test_unit_halve: ok")


test_unit_halve()

# %% [markdown]
# **Q1.** Why does doubling a float32 array never overflow for values below 1e38?

# %% [markdown]
# **Your answer:**
'''


@pytest.fixture
def course(tmp_path):
    from tito.export import export

    root = tmp_path / "instructor"
    write(root, "modules/01_tensor/tensor.py", with_markers(MODULE))
    write(root, "tinytorch/__init__.py", "")
    export(root)
    release_nbgrader(root, tmp_path / "course")
    return root, tmp_path / "course"


def test_cells_get_nbgrader_metadata_by_kind(course):
    _root, out = course
    notebook = json.loads((out / "source" / "01_tensor" / "tensor.ipynb").read_text())
    kinds = [(cell["cell_type"], cell["metadata"]["nbgrader"]) for cell in notebook["cells"]]
    solutions = [meta for kind, meta in kinds if meta["solution"] and kind == "code"]
    tests = [meta for _kind, meta in kinds if meta["grade"] and not meta["solution"]]
    answers = [meta for kind, meta in kinds if kind == "markdown" and meta["solution"]]
    assert len(solutions) == 2 and all(not m["grade"] and not m["locked"] for m in solutions)
    assert [m["grade_id"] for m in tests] == ["test_unit_double", "test_unit_halve"]
    assert all(m["locked"] and m["points"] == 1 for m in tests)
    assert len(answers) == 1 and answers[0]["grade"] and answers[0]["points"] == 1
    assert all(meta["locked"] for kind, meta in kinds if kind == "markdown" and not meta["solution"])
    assert (out / "nbgrader_config.py").is_file()


def test_the_real_modules_all_convert(tmp_path):
    """Every module in this repository becomes a notebook with at least one test and one solution cell."""
    from tito.export import find_modules
    from tito.regions import find_regions

    root = Path(__file__).resolve().parents[2]
    for module in find_modules(root):
        kinds = [cell_kind(cell) for cell in module_notebook(module).cells]
        # In a student release the regions are stubs already: no solution cells, still test cells.
        has_regions = bool(find_regions(module.source.read_text(encoding="utf-8"), module.tag))
        assert ("solution" in kinds) == has_regions and "test" in kinds, f"{module.tag}: {sorted(set(kinds))}"


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_nbgrader_generates_and_autogrades_full_marks_and_zero(course):
    if not os.environ.get("CI"):  # CI installs the classroom extra (.ci/run): there it must be present
        pytest.importorskip("nbgrader", reason="install the classroom extra: pip install -e '.[classroom]'")
        pytest.importorskip("ipykernel")
    from nbgrader.api import Gradebook

    _root, out = course
    _nbgrader(out, "generate_assignment", "01_tensor", "--force")
    released = out / "release" / "01_tensor" / "tensor.ipynb"
    assert "BEGIN SOLUTION" not in released.read_text() and "np.asarray(x) * 2" not in released.read_text()
    filled = json.loads((out / "source" / "01_tensor" / "tensor.ipynb").read_text())
    for cell in filled["cells"]:
        lines = cell["source"] if isinstance(cell["source"], list) else cell["source"].splitlines(True)
        cell["source"] = [line for line in lines if BEGIN not in line and END not in line]
    write(out, "submitted/alice/01_tensor/tensor.ipynb", json.dumps(filled))
    (out / "submitted" / "bob" / "01_tensor").mkdir(parents=True)
    shutil.copyfile(released, out / "submitted" / "bob" / "01_tensor" / "tensor.ipynb")
    _nbgrader(out, "autograde", "01_tensor", "--force")
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as book:
        alice = book.find_submission("01_tensor", "alice")
        bob = book.find_submission("01_tensor", "bob")
        assert alice.max_code_score == 2
        assert alice.code_score == 2, "the solutions should autograde to full marks"
        assert bob.code_score == 0, "the stubs should autograde to zero on the code cells"
