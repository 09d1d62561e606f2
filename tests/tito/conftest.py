"""Fixtures for tito's tests: a small, complete fake TinyTorch repository in a temp folder.

The fake repository follows docs/module-format.md exactly (a jupytext header, default_exp,
export cells with solution regions, inline test cells) but is tiny, so these tests neither
depend on the real modules nor take long. Solution markers are spliced in from pieces, so this
file itself never contains a marker line that a release's leak scan would flag.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REAL_ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "### BEGIN " + "SOLUTION", "### END " + "SOLUTION"

# Solution lines are long and distinctive so the leak scan treats them as secrets.
SECRET_LINES = [
    "summed_arrays_secret = self.data + other.data",
    "doubled_values_secret = x.data * 2",
    "clipped_at_zero_secret = np.maximum(x.data, 0)",
]

MODULE_01 = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 01: a tiny tensor

# %%
#| default_exp core.tensor

# %%
#| export
import numpy as np


class Tensor:
    """A tiny tensor around one float32 array."""

    def __init__(self, data):
        self.data = np.asarray(data, dtype=np.float32)

    def __add__(self, other):
        """Elementwise sum of two tensors."""
        # Hint: add the two arrays and wrap the result.
        @@BEGIN
        summed_arrays_secret = self.data + other.data
        return Tensor(summed_arrays_secret)
        @@END


# %%
#| export
def double(
    x,
):
    """Twice x, elementwise."""
    @@BEGIN
    doubled_values_secret = x.data * 2
    return Tensor(doubled_values_secret)
    @@END


# %%
#| test
def test_unit_add():
    out = Tensor([1, 2]) + Tensor([3, 4])
    assert out.data.tolist() == [4, 6], f"expected [4, 6], got {out.data.tolist()}"
    print("test_unit_add: ok")


test_unit_add()
'''

MODULE_02 = '''# %% [markdown]
# # Module 02: activations

# %%
#| default_exp core.activations

# %%
#| export
import numpy as np

from tinytorch.core.tensor import Tensor


def relu(x):
    """max(0, x), elementwise."""
    @@BEGIN
    clipped_at_zero_secret = np.maximum(x.data, 0)
    return Tensor(clipped_at_zero_secret)
    @@END


# %%
#| test
def test_unit_relu():
    assert relu(Tensor([-1, 2])).data.tolist() == [0, 2]
    print("test_unit_relu: ok")


test_unit_relu()
'''

TESTS_01 = """from tinytorch.core.tensor import Tensor, double


def test_add():
    assert (Tensor([1, 2]) + Tensor([3, 4])).data.tolist() == [4, 6]


def test_double():
    assert double(Tensor([1, 2])).data.tolist() == [2, 4]
"""

TESTS_02 = """from tinytorch.core.activations import relu
from tinytorch.core.tensor import Tensor


def test_relu():
    assert relu(Tensor([-3, 0, 5])).data.tolist() == [0, 0, 5]
"""

MILESTONE = '''"""A fake milestone for tito's tests."""

import json
import pathlib
import sys

MILESTONE = {
    "title": "Fake XOR",
    "year": 1969,
    "requires": ["01_tensor", "02_activations"],
    "description": "stands in for the real one",
}

# `tito milestone list` must never execute this file; this marker would prove it did.
pathlib.Path("milestone_was_executed").write_text("yes")

from tinytorch.core.activations import relu
from tinytorch.core.tensor import Tensor

print("training on", relu(Tensor([-1.0, 2.0])).data.tolist())
if "--json" in sys.argv:
    print("not json at all" if "--bad-json" in sys.argv else json.dumps({"args": sys.argv[1:]}))
sys.exit(3 if "--fail" in sys.argv else 0)
'''


def with_markers(text: str) -> str:
    return text.replace("@@BEGIN", BEGIN).replace("@@END", END)


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    """An instructor repository with two modules, their tests, a milestone, exported package."""
    from tito.export import export

    root = tmp_path / "instructor"
    write(root, "modules/01_tensor/tensor.py", with_markers(MODULE_01))
    write(root, "modules/02_activations/activations.py", with_markers(MODULE_02))
    write(root, "tests/01_tensor/test_tensor.py", TESTS_01)
    write(root, "tests/02_activations/test_activations.py", TESTS_02)
    write(root, "tinytorch/__init__.py", '"""Fake TinyTorch package (hand-written)."""\n')
    write(root, "tinytorch/core/__init__.py", "")
    write(root, "milestones/1969_xor/run.py", MILESTONE)
    write(root, "docs/notes.md", "# Notes\n\nNothing secret here.\n")
    write(root, "README.md", "# Fake TinyTorch\n")
    write(root, "pyproject.toml", '[project]\nname = "fake-tinytorch"\nversion = "0"\n')
    write(root, ".gitignore", "__pycache__/\n.tito/\n*.ipynb\n")
    write(root, ".ci/run", "#!/bin/bash\necho instructor only\n")
    # The release copies tito/ too; using the real one makes the leak scan cover tito's source.
    shutil.copytree(REAL_ROOT / "tito", root / "tito", ignore=shutil.ignore_patterns("__pycache__"))
    export(root)
    return root


@pytest.fixture
def tito(monkeypatch, capsys):
    """Call `tito` in-process inside a folder: tito(root, *args) -> (exit code, stdout, stderr)."""
    from tito.main import main

    def run(root: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.chdir(root)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's own usage errors
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def kit():
    """Helpers and texts the tests share (fixtures, so no test imports conftest by name)."""

    def run_python(root: Path, *args: str) -> subprocess.CompletedProcess:
        """Run Python in `root` with that repository's package first on the path."""
        env = {**os.environ, "PYTHONPATH": str(root)}
        return subprocess.run(
            [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
        )

    return SimpleNamespace(
        write=write,
        with_markers=with_markers,
        run_python=run_python,
        secrets=SECRET_LINES,
        module_01=MODULE_01,
        milestone=MILESTONE,
    )
