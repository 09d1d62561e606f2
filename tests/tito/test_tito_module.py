"""`tito module start|test|complete|status` and the progress file."""

from __future__ import annotations

import json
import sys

from tito.release import build_student_release


def progress_of(root):
    path = root / ".tito/progress.json"
    return json.loads(path.read_text())["modules"] if path.exists() else {}


def test_complete_records_progress_when_everything_passes(fake_repo, tito):
    code, out, _ = tito(fake_repo, "module", "complete", "01")
    assert code == 0, out
    assert "test_unit_add: ok" in out  # the inline test really ran
    assert "PASS  pytest: pytest tests/01_tensor: 2 passed" in out
    record = progress_of(fake_repo)["01_tensor"]
    assert record["completed"] and len(record["completed_sha256"]) == 64
    assert not list((fake_repo / ".tito").glob("*.tmp"))  # atomic write left no temp file


def test_complete_reports_the_failing_inline_test_and_records_nothing(fake_repo, tito):
    source = fake_repo / "modules/01_tensor/tensor.py"
    source.write_text(
        source.read_text().replace("self.data + other.data", "self.data - other.data")
    )
    code, out, _ = tito(fake_repo, "module", "complete", "tensor")
    assert code == 1
    assert "FAIL  inline tests: 1 test cell(s): 1 wrong value" in out
    # A wrong value is not "not implemented": the hint says so, with the full message.
    assert (
        "FAIL test_unit_add: implemented, but a value is wrong "
        "(modules/01_tensor/tensor.py, line 51, in test_unit_add)" in out
    )
    assert "\n          expected [4, 6], got [-2.0, -2.0]\n" in out
    assert "  pytest" not in out  # stops at the first failure
    assert "progress unchanged" in out
    assert progress_of(fake_repo) == {}


def test_complete_reports_the_failing_pytest_test(fake_repo, tito):
    source = fake_repo / "modules/01_tensor/tensor.py"
    source.write_text(source.read_text().replace("x.data * 2", "x.data * 3"))
    code, out, _ = tito(fake_repo, "module", "complete", "01")
    assert code == 1
    assert "PASS  inline tests" in out
    assert "FAIL  pytest: pytest tests/01_tensor: 1 failed, 1 passed" in out
    assert "FAILED tests/01_tensor/test_tensor.py::test_double" in out
    assert "\n          assert [3.0, 6.0] == [2, 4]\n" in out  # the reason, under the test
    assert progress_of(fake_repo) == {}


def test_complete_on_a_fresh_release_names_the_stub(fake_repo, tmp_path, tito):
    out_dir = tmp_path / "student"
    build_student_release(fake_repo, out_dir)
    code, out, _ = tito(out_dir, "module", "complete", "01")
    assert code == 1
    assert "FAIL  inline tests: 1 test cell(s): 1 not implemented yet" in out
    assert "TODO test_unit_add: not implemented yet: write the body of Tensor.__add__" in out
    assert "implemented, but" not in out
    assert "re-checking" not in out  # its own stub is the whole story
    assert progress_of(out_dir) == {}


def test_no_tests_collected_is_a_failure(fake_repo, tito, kit):
    (fake_repo / "tests/02_activations/test_activations.py").unlink()
    kit.write(fake_repo, "tests/02_activations/helpers.py", "VALUE = 1\n")
    assert tito(fake_repo, "module", "complete", "01")[0] == 0
    code, out, _ = tito(fake_repo, "module", "complete", "02")
    assert code == 1
    assert "FAIL  pytest: pytest collected no tests from tests/02_activations" in out
    assert "02_activations" not in progress_of(fake_repo)


def test_a_hanging_module_times_out(fake_repo, tito):
    source = fake_repo / "modules/02_activations/activations.py"
    source.write_text(source.read_text() + "\n\n# %%\nwhile True:\n    pass\n")
    code, out, _ = tito(fake_repo, "module", "test", "02", "--timeout", "1")
    assert code == 1
    assert "did not finish within 1 s" in out


def test_module_test_never_records_progress(fake_repo, tito):
    code, out, _ = tito(fake_repo, "module", "test", "02_activations")
    assert code == 0, out
    assert "PASS  pytest: pytest tests/02_activations: 1 passed" in out
    assert progress_of(fake_repo) == {}


def test_status_table(fake_repo, tmp_path, tito):
    out_dir = tmp_path / "student"
    build_student_release(fake_repo, out_dir)
    code, out, _ = tito(out_dir, "module", "status")
    assert code == 0
    assert "01  tensor       not started  -" in out
    # Editing the released stub counts as "in progress" (the release recorded its hash).
    module = out_dir / "modules/02_activations/activations.py"
    module.write_text(module.read_text() + "\n# my notes\n")
    code, out, _ = tito(out_dir, "module", "status")
    assert "02  activations  in progress  -" in out
    assert "0 of 2 modules complete" in out


def test_status_shows_completion_date(fake_repo, tito):
    assert tito(fake_repo, "module", "complete", "01")[0] == 0
    code, out, _ = tito(fake_repo, "module", "status")
    line = next(line for line in out.splitlines() if line.startswith("01"))
    assert "complete" in line and line.split()[-1][:2] == "20"
    source = fake_repo / "modules/01_tensor/tensor.py"
    source.write_text(source.read_text() + "\n# later edit\n")
    assert "edited since completion" in tito(fake_repo, "module", "status")[1]


def test_start_creates_the_paired_notebook_and_records_the_start(fake_repo, tito):
    code, out, _ = tito(fake_repo, "module", "start", "01")
    assert code == 0, out
    notebook = fake_repo / "modules/01_tensor/tensor.ipynb"
    data = json.loads(notebook.read_text())
    assert data["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
    assert any("#| export" in "".join(cell["source"]) for cell in data["cells"])
    assert "jupyter lab modules/01_tensor/tensor.ipynb" in out
    assert "started" in progress_of(fake_repo)["01_tensor"]
    assert "in progress" in tito(fake_repo, "module", "status")[1]
    code, out, _ = tito(fake_repo, "module", "start", "01")
    assert code == 0 and "already exists" in out


def test_start_without_jupytext_says_how_to_install_it(fake_repo, tito, monkeypatch):
    monkeypatch.setitem(sys.modules, "jupytext", None)  # makes `import jupytext` fail
    code, _, err = tito(fake_repo, "module", "start", "02")
    assert code == 1
    assert "pip install -e '.[learn]'" in err
    assert not (fake_repo / "modules/02_activations/activations.ipynb").exists()


def test_module_arguments_are_validated(fake_repo, tito):
    code, _, err = tito(fake_repo, "module", "test", "99")
    assert code == 2
    assert "argument NN" in err and "got '99'" in err and "01_tensor, 02_activations" in err
    code, _, err = tito(fake_repo, "module", "complete", "01", "--timeout", "-1")
    assert code == 2
    assert "argument --timeout: expected a positive number of seconds, got '-1'" in err
    code, _, err = tito(fake_repo, "module", "frobnicate")
    assert code == 2 and "invalid choice: 'frobnicate'" in err


def test_corrupt_progress_is_an_error_not_a_reset(fake_repo, tito, kit):
    kit.write(fake_repo, ".tito/progress.json", "{not json")
    code, _, err = tito(fake_repo, "module", "status")
    assert code == 1
    assert ".tito/progress.json: not valid JSON" in err
    assert (fake_repo / ".tito/progress.json").read_text() == "{not json"


def test_exception_groups_give_their_members_as_reasons():
    from tito.failures import pytest_failures

    output = "\n".join([
        "_________________________ test_ops _________________________",
        "  + Exception Group Traceback (most recent call last):",
        "  | ExceptionGroup: Hypothesis found 2 distinct failures. (2 sub-exceptions)",
        "    | NotImplementedError: Tensor.__mul__ is not implemented yet, see modules/01_tensor",
        "    | AssertionError: expected [2, 4], got [3, 6]",
        "=========================== short test summary info ============================",
        "FAILED tests/01_tensor/test_ops.py::test_ops - Exc...",
    ])
    assert pytest_failures(output) == [
        "FAILED tests/01_tensor/test_ops.py::test_ops",
        "    NotImplementedError: Tensor.__mul__ is not implemented yet, see modules/01_tensor",
        "    AssertionError: expected [2, 4], got [3, 6]",
    ]
