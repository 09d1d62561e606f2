"""`tito grade` survives its students: one class with every hostile submission, graded once.

Each hostile submission is otherwise correct (its solutions are restored), so a zero can only
come from the grader catching the attack. Every test checks that the attack cost that student
the grade, with a recorded reason, and that the honest students beside it were not touched.
All bombs are bounded (see grading_support.HOSTILE) and the grader kills what is left.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from grading_support import HOSTILE, MAX_POINTS, make_class, make_instructor

from tito.grading import sandbox
from tito.grading.gradebook import Gradebook

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sandbox needs POSIX resource limits")

HONEST = {"ada": "correct", "bob": "correct", "cyd": "buggy", "dee": "stub"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole class with --jobs 2; returns {student: SubmissionRow} and the output."""
    base = tmp_path_factory.mktemp("hostile")
    instructor = make_instructor(base / "instructor")
    gradebook = base / "private" / "gradebook.sqlite"
    plan = {**HONEST, **{name.replace("_", "-"): name for name in HOSTILE}}
    make_class(instructor, base / "submissions", plan, gradebook)
    command = [
        sys.executable, "-m", "tito.main", "grade", "01",
        "--submissions", str(base / "submissions"),
        "--hidden-tests", str(base / "hidden"),
        "--rubric", str(base / "rubric.toml"),
        "--gradebook", str(gradebook),
        "--jobs", "2", "--timeout", "12", "--cpu", "10", "--memory", "1024", "--processes", "24",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=instructor, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    book = Gradebook(gradebook)
    rows = {row.student: row for row in book.submissions("01_tensor")}
    book.close()
    return rows, done.stdout


def test_the_run_finishes_and_grades_every_student(graded):
    rows, output = graded
    assert len(rows) == len(HONEST) + len(HOSTILE), output
    assert "students/minute" in output


def test_honest_students_get_exactly_their_points(graded):
    rows, _ = graded
    for student in ("ada", "bob"):
        assert rows[student].status == "complete", rows[student].reason
        assert rows[student].points == MAX_POINTS
        outcomes = {test.test: test.outcome for test in rows[student].tests}
        assert outcomes.pop("hidden/test_hidden_tensor.py::test_hidden_needs_data") == "skipped"
        assert set(outcomes.values()) == {"passed"}
    buggy = {test.test: test for test in rows["cyd"].tests}
    assert rows["cyd"].points == MAX_POINTS - 1  # only test_double fails: x * 3 still adds and maps [] to []
    assert buggy["test_tensor.py::test_double"].outcome == "failed"
    assert "expected [2, 4], got [3.0, 6.0]" in buggy["test_tensor.py::test_double"].message
    assert rows["dee"].points == 0
    assert "not implemented yet" in rows["dee"].tests[0].message


def _zero_with(rows, student: str, *phrases: str) -> None:
    row = rows[student]
    assert row.points == 0, f"{student}: {row.points} points, {row.status}: {row.reason}"
    seen = f"{row.status} {row.reason} " + " ".join(test.message for test in row.tests)
    for phrase in phrases:
        assert phrase in seen, f"{student}: {phrase!r} not in {seen[:600]!r}"


def test_an_endless_loop_costs_only_its_grade(graded):
    _zero_with(graded[0], "loops-forever", "incomplete", "time limit")


def test_exiting_at_import_scores_zero(graded):
    _zero_with(graded[0], "exits-at-import", "incomplete", "exited with status 0 before the tests finished")
    _zero_with(graded[0], "sys-exits-at-import", "SystemExit")


def test_a_segfault_is_recorded_as_a_crash(graded):
    _zero_with(graded[0], "segfaults", "incomplete", "SIGABRT")


def test_a_memory_bomb_hits_the_address_space_limit(graded):
    _zero_with(graded[0], "memory-bomb", "MemoryError")


def test_a_fork_bomb_is_contained_and_cleaned_up(graded):
    rows, output = graded
    _zero_with(rows, "fork-bomb", "rejected", "fork refused", "process(es) running after the tests ended")
    if sandbox.privileged():
        # Only this run's user ids: other graders on the machine may be using the next ones.
        uids = [int(uid) for uid in re.search(r"sandbox runs as user ids ([\d, ]+)", output).group(1).split(", ")]
        leftover = [uid for uid in uids if sandbox.processes_of(uid)]
        assert not leftover, f"processes of sandbox users {leftover} survived the run"


def test_a_gigabyte_of_output_is_cut_off(graded):
    _zero_with(graded[0], "prints-a-gigabyte", "incomplete", "printed more than 4 MiB")


def test_monkeypatching_pytest_is_detected(graded):
    _zero_with(graded[0], "patches-pytest", "rejected", "_pytest.reports.TestReport.from_item_and_call")


def test_patching_asserts_away_is_detected(graded):
    _zero_with(graded[0], "patches-asserts", "rejected", "rewrite_asserts")


def test_deleting_or_editing_the_tests_is_refused_and_recorded(graded):
    _zero_with(graded[0], "edits-the-tests", "rejected", "tried to", "test_tensor.py")


def test_writing_into_the_gradebook_is_refused_and_recorded(graded):
    rows, _ = graded
    _zero_with(rows, "writes-the-gradebook", "rejected", "tried to sqlite3.connect")
    assert rows["ada"].points == MAX_POINTS and all(t.points <= t.max_points for r in rows.values() for t in r.tests)


def test_forged_reports_are_rejected(graded):
    _zero_with(graded[0], "forges-reports", "rejected", "report channel")
