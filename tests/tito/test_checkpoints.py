"""`tito checkpoint`: capabilities checked by running the learner's code, passes that expire on edits."""

from __future__ import annotations

import re

from grading_support import make_instructor, write

from tito import checkpoints
from tito.export import export
from tito.regions import strip_solutions

CHECK = '''"""Can I double a tensor?"""

REQUIRES = ["01_tensor"]


def test_double():
    from tinytorch.core.tensor import Tensor, double

    assert double(Tensor([1, 2])).data.tolist() == [2, 4], "double should multiply by 2"
'''
FUTURE = '''"""Can I do what a later module teaches?"""

REQUIRES = ["01_tensor", "42_future"]


def test_later():
    assert False
'''


def _setup(tmp_path):
    root = make_instructor(tmp_path / "repo")
    folder = tmp_path / "checks"
    write(folder, "check_01_double.py", CHECK)
    write(folder, "check_02_future.py", FUTURE)
    return root, folder


def _states(root, folder):
    return {c.number: status for c, status, _ in checkpoints.rows(root, folder)}


def test_a_pass_is_recorded_from_a_real_run_and_expires_when_the_module_changes(tmp_path, capsys):
    root, folder = _setup(tmp_path)
    assert _states(root, folder) == {"01": "ready", "02": "locked"}
    assert checkpoints.cmd_test(root, [], 120, folder) == 0
    assert "PASS 01 Can I double a tensor?" in capsys.readouterr().out
    assert _states(root, folder) == {"01": "passed", "02": "locked"}
    module = root / "modules/01_tensor/tensor.py"
    module.write_text(module.read_text() + "\n# an edit\n")
    assert _states(root, folder)["01"] == "re-test"
    stubbed, _count = strip_solutions(module.read_text(), "modules/01_tensor", "modules/01_tensor/tensor.py")
    module.write_text(stubbed)
    export(root)
    assert checkpoints.cmd_test(root, ["01"], 120, folder) == 1
    out = capsys.readouterr().out
    assert "FAIL 01" in out and "not implemented yet" in out
    assert _states(root, folder)["01"] == "ready", "a failing run withdraws the earlier pass"
    assert checkpoints.cmd_test(root, ["02"], 120, folder) == 1
    assert "LOCKED 02 Can I do what a later module teaches? (needs 42_future)" in capsys.readouterr().out


def test_timeline_marks_what_is_next(tmp_path, capsys):
    root, folder = _setup(tmp_path)
    checkpoints.cmd_timeline(root, folder)
    out = capsys.readouterr().out
    assert re.search(r"01 +Can I double a tensor\? +<- next", out) and "next: tito checkpoint test 01" in out


def test_every_shipped_checkpoint_has_a_question_and_module_requirements():
    found = checkpoints.discover()
    assert len(found) >= 10
    assert [c.number for c in found] == sorted({c.number for c in found}), "checkpoint numbers are unique"
    for checkpoint in found:
        assert checkpoint.question.startswith("Can ") and checkpoint.question.endswith("?")
        assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", tag) for tag in checkpoint.requires)
