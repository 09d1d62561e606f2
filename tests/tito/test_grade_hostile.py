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
import time
from pathlib import Path

import pytest
from grading_support import HOSTILE, MAX_POINTS, make_class, make_instructor

from tito.grading import sandbox
from tito.grading.gradebook import Gradebook

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sandbox needs POSIX resource limits")

HONEST = {"ada": "correct", "bob": "correct", "cyd": "buggy", "dee": "stub"}
# The limits that must hold under a loaded machine (CI shares its cores): an honest student of
# this tiny module uses about 1 s of CPU however slow the machine is, so 8 CPU-seconds stop the
# endless loop without ever touching an honest student, and the wall-time limit (120 s) is only
# a backstop that load cannot reach. The wall-time limit itself is tested on the sandbox alone
# (test_the_wall_time_limit_stops_a_child_that_sleeps): a short one here would also bound the
# honest students and the instructor's reference run, which is what failed under load.
CPU_SECONDS = 8


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
        "--jobs", "2", "--timeout", "120", "--cpu", str(CPU_SECONDS), "--memory", "1024", "--processes", "24",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=instructor, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    book = Gradebook(gradebook)
    rows = {row.student: row for row in book.submissions("01_tensor")}
    book.close()
    report = subprocess.run(
        [sys.executable, "-m", "tito.main", "grade", "report", "--gradebook", str(gradebook), "--out", str(base / "report")],  # noqa: E501
        cwd=instructor, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    return rows, done.stdout, base / "report"


def test_the_run_finishes_and_grades_every_student(graded):
    rows, output, _ = graded
    assert len(rows) == len(HONEST) + len(HOSTILE), output
    assert "students/minute" in output


def test_honest_students_get_exactly_their_points(graded):
    rows = graded[0]
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
    _zero_with(graded[0], "loops-forever", "incomplete", "SIGXCPU", f"CPU-time limit ({CPU_SECONDS} s)")


def test_the_wall_time_limit_stops_a_child_that_sleeps(tmp_path):
    """A submission that sleeps uses no CPU: only the wall clock stops it, with its whole session."""
    limits = sandbox.Limits(wall_seconds=2.0, cpu_seconds=30)
    sleeper = (
        "import os, sys, time\n"
        "pid = os.fork()\n"
        "if pid:\n"
        "    open(sys.argv[1], 'w').write(str(pid))\n"
        "time.sleep(600)"
    )
    pid_file = tmp_path / "forked.pid"
    result = sandbox.run_child(
        [sys.executable, "-c", sleeper, str(pid_file)], cwd=tmp_path, env={},
        identity=sandbox.Identity(None, None), limits=limits, secret=bytes(32),
    )  # fmt: skip
    assert result.timed_out and result.returncode is None, (result.returncode, result.output[-300:])
    # Far below the 600 s sleep, with room for a loaded machine: the limit, not the sleep, ended it.
    assert result.seconds < 120, f"the 2 s wall-time limit took {result.seconds:.0f} s to stop the child"
    forked = Path(f"/proc/{pid_file.read_text()}/stat")
    deadline = time.monotonic() + 30  # the kill is sent; give a loaded machine time to deliver it
    while forked.exists() and forked.read_text().split(") ")[-1][0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not forked.exists() or forked.read_text().split(") ")[-1][0] == "Z", "the forked sleeper survived"


def test_exiting_at_import_scores_zero(graded):
    _zero_with(graded[0], "exits-at-import", "incomplete", "exited with status 0 before the tests finished")
    _zero_with(graded[0], "sys-exits-at-import", "SystemExit")


def test_a_segfault_is_recorded_as_a_crash(graded):
    _zero_with(graded[0], "segfaults", "incomplete", "SIGABRT")


def test_a_memory_bomb_hits_the_address_space_limit(graded):
    _zero_with(graded[0], "memory-bomb", "MemoryError")


def test_a_fork_bomb_is_contained_and_cleaned_up(graded):
    rows, output, _ = graded
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
    rows = graded[0]
    _zero_with(rows, "writes-the-gradebook", "rejected", "tried to sqlite3.connect")
    assert rows["ada"].points == MAX_POINTS and all(t.points <= t.max_points for r in rows.values() for t in r.tests)


def test_forged_reports_are_rejected(graded):
    _zero_with(graded[0], "forges-reports", "rejected", "report channel")


def test_the_report_has_every_student_and_teaches_from_the_failed_tests(graded):
    rows, _, report = graded
    grades = (report / "grades.csv").read_text().splitlines()
    assert len(grades) == 1 + len(rows), "one row per student"
    assert any(line.startswith("ada,01_tensor,6,6,100,complete") for line in grades), grades
    buggy = (report / "feedback" / "cyd.md").read_text()
    assert "5 / 6 points" in buggy and "### `test_tensor.py::test_double`" in buggy
    assert "expected [2, 4], got [3.0, 6.0]" in buggy, "the page shows the failed test's own message"
    loop = (report / "feedback" / "loops-forever.md").read_text()
    assert "0 / 6 points" in loop and "CPU-time limit" in loop, "a stopped run's page says why"
    assert {path.stem for path in (report / "feedback").glob("*.md")} == set(rows)
