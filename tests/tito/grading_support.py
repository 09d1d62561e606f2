"""A tiny instructor repository and synthetic classes for the `tito grade` tests and benchmark.

The instructor repository has one module (01_tensor: `Tensor.__add__` and `double`, each a
solution region), its tests, and hidden tests. A class is built the way a real one comes
about: `tito release student`, one copy per student, solutions restored for the students who
did the work (`tito release restore`), a bug or hostile code added for the others. Hostile
code goes into an export cell at the top of the module, so it runs when the package is
imported, before any test. Solution markers are spliced in, so this file holds none.
"""

from __future__ import annotations

import shutil
from pathlib import Path

BEGIN, END = "### BEGIN " + "SOLUTION", "### END " + "SOLUTION"

MODULE = '''# %% [markdown]
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
        @@BEGIN
        total_of_both_arrays = self.data + other.data
        return Tensor(total_of_both_arrays)
        @@END


# %%
#| export
def double(x):
    """Twice x, elementwise."""
    @@BEGIN
    twice_the_values = x.data * 2
    return Tensor(twice_the_values)
    @@END
'''

TESTS = """from tinytorch.core.tensor import Tensor, double


def test_add():
    got = (Tensor([1, 2]) + Tensor([3, 4])).data.tolist()
    assert got == [4, 6], f"Tensor + Tensor should add elementwise: expected [4, 6], got {got}"


def test_double():
    got = double(Tensor([1, 2])).data.tolist()
    assert got == [2, 4], f"double(x) should multiply every element by 2: expected [2, 4], got {got}"
"""

HIDDEN = """from tinytorch.core.tensor import Tensor, double


def test_hidden_add_negative():
    assert (Tensor([-1]) + Tensor([1])).data.tolist() == [0]


def test_hidden_double_empty():
    assert double(Tensor([])).data.tolist() == []


def test_hidden_needs_data():
    import pytest

    pytest.skip("no local copy of the data set")  # skips for the instructor too: worth 0 points
"""

RUBRIC = """default_points = 1

[[test]]
match = "test_tensor.py::test_add"
points = 3

[[test]]
match = "hidden/*"
each = 1
"""

MAX_POINTS = 6.0  # 3 (add) + 1 (double) + 2 hidden; the hidden test that skips for everyone is worth 0
TESTS_OWED = 5

# Each value is module-level code that runs at import of the learner's tinytorch.core.tensor.
HOSTILE = {
    "loops_forever": "while True:\n    pass",
    "exits_at_import": "import os\nos._exit(0)",
    "sys_exits_at_import": "import sys\nsys.exit(0)",
    "segfaults": "import os\nos.abort()",
    "memory_bomb": "_hoard = []\nwhile True:\n    _hoard.append(bytearray(256 << 20))",
    # Bounded on purpose: at most 2**7 + 64 = 192 processes even with no limit at all, each of
    # which sleeps (300 s) and exits by itself; the original process reports how many forks were refused.
    "fork_bomb": (
        "import os, time\n"
        "_origin, _refused = os.getpid(), 0\n"
        "for _ in range(7):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            continue\n"
        "    except OSError:\n"
        "        _refused += 1\n"
        "for _ in range(64 if os.getpid() == _origin else 0):\n"  # the origin goes on until refused
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            break\n"
        "    except OSError:\n"
        "        _refused += 1\n"
        "        break\n"
        "if os.getpid() != _origin:\n"
        "    time.sleep(300)\n"  # outlives any slow harness: the grader must find and kill them
        "    os._exit(0)\n"
        "if _refused:\n"
        "    raise RuntimeError(f'fork refused {_refused} time(s): the process limit held')"
    ),
    "prints_a_gigabyte": "import sys\n_line = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(_line)",
    "patches_pytest": (
        "import _pytest.reports\n"
        "_make = _pytest.reports.TestReport.from_item_and_call\n"
        "def _always_pass(item, call):\n"
        "    report = _make(item, call)\n"
        "    report.outcome, report.longrepr = 'passed', None\n"
        "    return report\n"
        "_pytest.reports.TestReport.from_item_and_call = staticmethod(_always_pass)"
    ),
    "patches_asserts": (
        "import ast, _pytest.assertion.rewrite as _rewrite, numpy.testing\n"
        "def _drop_asserts(module, *args, **kwargs):\n"
        "    module.body = [node for node in module.body if not isinstance(node, ast.Assert)]\n"
        "_rewrite.rewrite_asserts = _drop_asserts\n"
        "numpy.testing.assert_allclose = lambda *args, **kwargs: None"
    ),
    "edits_the_tests": (
        "import pathlib\n"
        "for _test in pathlib.Path(__file__).resolve().parents[2].glob('tests/**/test_*.py'):\n"
        "    try:\n"
        "        _test.write_text('def test_free_points():\\n    pass\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "    try:\n"
        "        _test.unlink()\n"
        "    except OSError:\n"
        "        pass"
    ),
    "writes_the_gradebook": (
        "import sqlite3\n"
        "try:\n"
        "    _book = sqlite3.connect(GRADEBOOK)\n"
        "    _book.execute('UPDATE tests SET points = 100')\n"
        "    _book.commit()\n"
        "except Exception:\n"
        "    pass\n"
        "try:\n"
        "    open(GRADEBOOK, 'r+b').write(b'owned')\n"
        "except OSError:\n"
        "    pass"
    ),
    "forges_reports": (
        "import os, json\n"
        "_fake = json.dumps({'kind': 'test', 'id': 'tests/01_tensor/test_tensor.py::test_add',"
        " 'outcome': 'passed', 'seq': 1}).encode()\n"
        "for _fd in range(3, 30):\n"
        "    try:\n"
        "        os.write(_fd, len(_fake).to_bytes(4, 'big') + _fake + bytes(32))\n"
        "    except OSError:\n"
        "        pass"
    ),
}


def with_markers(text: str) -> str:
    return text.replace("@@BEGIN", BEGIN).replace("@@END", END)


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_instructor(root: Path) -> Path:
    """The instructor repository (exported), its hidden tests in root/../hidden, its rubric."""
    from tito.export import export

    write(root, "modules/01_tensor/tensor.py", with_markers(MODULE))
    write(root, "tests/01_tensor/test_tensor.py", TESTS)
    write(root, "tinytorch/__init__.py", '"""Fake TinyTorch package (hand-written)."""\n')
    write(root, "tinytorch/core/__init__.py", "")
    write(root, "README.md", "# Fake TinyTorch\n")
    write(root, "pyproject.toml", '[project]\nname = "fake-tinytorch"\nversion = "0"\n')
    export(root)
    write(root.parent / "hidden", "01_tensor/test_hidden_tensor.py", HIDDEN)
    write(root.parent, "rubric.toml", RUBRIC)
    return root


def insert_export_cell(student: Path, code: str) -> None:
    """Put `code` in an export cell right after the module's default_exp cell."""
    path = student / "modules/01_tensor/tensor.py"
    text = path.read_text(encoding="utf-8")
    anchor = "#| default_exp core.tensor\n"
    path.write_text(text.replace(anchor, f"{anchor}\n# %%\n#| export\n{code}\n", 1), encoding="utf-8")


def make_class(instructor: Path, out: Path, plan: dict[str, str], gradebook: Path | None = None) -> Path:
    """One learner repository per student in `out`; plan: student -> correct | stub | buggy | HOSTILE key."""
    from tito.release import build_student_release
    from tito.restore import restore_solutions

    release = out.parent / f"{out.name}-release"
    if not release.exists():
        build_student_release(instructor, release)
    out.mkdir(parents=True, exist_ok=True)
    for student, kind in plan.items():
        target = out / student
        shutil.copytree(release, target)
        if kind == "stub":
            continue
        restore_solutions(instructor, target)
        if kind == "buggy":
            path = target / "modules/01_tensor/tensor.py"
            path.write_text(path.read_text().replace("x.data * 2", "x.data * 3"), encoding="utf-8")
        elif kind != "correct":
            code = HOSTILE[kind].replace("GRADEBOOK", repr(str(gradebook)))
            insert_export_cell(target, code)
    return out
