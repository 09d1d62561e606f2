"""`tito grade`: rubric, gradebook transactions and --resume, archives, report, argument errors."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from grading_support import MAX_POINTS, TESTS_OWED, make_class, make_instructor

from tito.errors import UsageError
from tito.grading import harness
from tito.grading.gradebook import Gradebook, ResultRow, SubmissionRow
from tito.grading.report import feedback_page, write_report
from tito.grading.rubric import load_rubric

IDS = ["test_a.py::test_x[1]", "test_a.py::test_x[2]", "test_a.py::test_y", "hidden/test_h.py::test_z"]


def rubric_from(tmp_path, text):
    path = tmp_path / "rubric.toml"
    path.write_text(text, encoding="utf-8")
    return load_rubric(path)


def test_rubric_shares_points_for_partial_credit_and_defaults_the_rest(tmp_path):
    rubric = rubric_from(
        tmp_path, 'default_points = 0.5\n[[test]]\nmatch = "test_a.py::test_x*"\npoints = 4\n'
        '[[test]]\nmatch = "hidden/*"\neach = 3\n',
    )  # fmt: skip
    assert rubric.points(IDS) == {IDS[0]: 2.0, IDS[1]: 2.0, IDS[2]: 0.5, IDS[3]: 3.0}
    assert load_rubric(None).points(IDS) == dict.fromkeys(IDS, 1.0)


@pytest.mark.parametrize(
    "text, phrase",
    [
        ('[[test]]\nmatch = "nope*"\npoints = 1\n', "matches no test"),
        ('[[test]]\nmatch = "test_a*"\npoints = 1\neach = 1\n', "exactly one of points"),
        ('[[test]]\nmatch = "test_a*"\npoint = 1\n', "unknown key"),
        ("bonus = 3\n", "unknown key"),
        ('[[test]]\nmatch = "test_a*"\npoints = -1\n', "expected a number of points >= 0"),
        ("default_points = [", "not valid TOML"),
    ],
)
def test_rubric_mistakes_are_usage_errors_naming_the_problem(tmp_path, text, phrase):
    with pytest.raises(UsageError, match=phrase):
        rubric_from(tmp_path, text).points(IDS)


def test_frames_must_be_signed_with_the_run_secret():
    secret = os.urandom(32)
    data = harness.encode(secret, 0, {"kind": "hello"}) + harness.encode(secret, 1, {"kind": "end", "status": 0})
    frames, rest = harness.decode(secret, data + data[:5])
    assert [f["kind"] for f in frames] == ["hello", "end"] and rest == data[:5]
    with pytest.raises(harness.FrameError, match="not signed"):
        harness.decode(os.urandom(32), data)
    forged = bytearray(data)
    forged[10] ^= 1
    with pytest.raises(harness.FrameError):
        harness.decode(secret, bytes(forged))


def _row(student, points, message="=HYPERLINK(evil)"):
    tests = [ResultRow("test_a.py::test_y", "failed" if points == 0 else "passed", points, 1.0, message)]
    return SubmissionRow(student, "01_tensor", "complete", None, points, 1.0, 0.1, "", "2026-01-01T00:00:00", tests)


def test_gradebook_saves_each_student_whole_and_report_escapes_learner_text(tmp_path):
    book = Gradebook(tmp_path / "book" / "grades.sqlite")
    assert (tmp_path / "book" / "grades.sqlite").stat().st_mode & 0o777 == 0o600
    book.start("01_tensor", "t", "r", 1.0, "now", resume=False)
    book.save(_row("ada", 1.0))
    book.save(_row("bob", 0.0, "expected 2, got ```3```"))
    book.save(_row("bob", 0.0, "expected 2, got ```3```"))  # regrading replaces, never duplicates
    assert book.start("01_tensor", "t", "r", 1.0, "now", resume=True) == {"ada", "bob"}
    with pytest.raises(UsageError, match="rubric of 01_tensor changed"):
        book.start("01_tensor", "t", "other", 1.0, "now", resume=True)
    students, rows = write_report(book, tmp_path / "report")
    book.close()
    assert (students, rows) == (2, 2)
    tests_csv = (tmp_path / "report" / "tests.csv").read_text()
    assert ",'=HYPERLINK(evil)" in tests_csv and ",=HYPERLINK" not in tests_csv  # no formula for a spreadsheet
    page = feedback_page("bob", [_row("bob", 0.0, "expected 2, got ```3```")])
    assert "````text\nexpected 2, got ```3```\n````" in page and "0 / 1" in page


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    base = tmp_path_factory.mktemp("grade")
    instructor = make_instructor(base / "instructor")
    plan = {"ann": "correct", "ben": "buggy", "cat": "correct", "dan": "stub", "eve": "correct"}
    make_class(instructor, base / "submissions", plan)
    return base, instructor


def _grade(base, instructor, *extra, wait=True):
    command = [
        sys.executable, "-m", "tito.main", "grade", "01", "--submissions", str(base / "submissions"),
        "--hidden-tests", str(base / "hidden"), "--rubric", str(base / "rubric.toml"),
        "--gradebook", str(base / "gb" / "book.sqlite"), "--timeout", "30", *extra,
    ]  # fmt: skip
    if not wait:
        return subprocess.Popen(command, cwd=instructor, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(command, cwd=instructor, capture_output=True, text=True, timeout=300)


def _graded(base):
    with sqlite3.connect(base / "gb" / "book.sqlite") as db:
        rows = db.execute("SELECT student, points, graded_at FROM submissions").fetchall()
        counts = dict(db.execute("SELECT student, COUNT(*) FROM tests GROUP BY student").fetchall())
    return {student: (points, when) for student, points, when in rows}, counts


@pytest.fixture
def workdir():
    """A workspace folder outside pytest's private tmp (the sandbox user must pass through it)."""
    folder = Path(tempfile.mkdtemp(prefix="tito-grade-test."))
    os.chmod(folder, 0o711)
    yield folder
    for inside, _dirs, _files in os.walk(folder):
        os.chmod(inside, 0o755)
    shutil.rmtree(folder)


def test_a_run_killed_half_way_loses_nothing_and_resume_grades_the_rest(small_class, workdir):
    base, instructor = small_class
    shutil.rmtree(base / "gb", ignore_errors=True)
    process = _grade(base, instructor, "--workdir", str(workdir), wait=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (base / "gb" / "book.sqlite").exists() and _graded(base)[0]:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before, counts = _graded(base)
    assert 1 <= len(before) < 5, "the grader should have been killed after the first student"
    assert all(counts[student] == TESTS_OWED for student in before), "a graded student has a row per test"
    done = _grade(base, instructor, "--resume")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"--resume: {len(before)} already graded" in done.stdout
    after, counts = _graded(base)
    assert set(after) == {"ann", "ben", "cat", "dan", "eve"} and set(counts.values()) == {TESTS_OWED}
    assert all(after[student] == before[student] for student in before), "resume regraded a finished student"
    assert after["ann"][0] == MAX_POINTS and after["ben"][0] == MAX_POINTS - 1 and after["dan"][0] == 0


def test_archives_are_graded_and_unsafe_entries_are_ignored(small_class, tmp_path):
    base, instructor = small_class
    submissions = tmp_path / "archives"
    submissions.mkdir()
    source = base / "submissions" / "ann"
    with zipfile.ZipFile(submissions / "zed.zip", "w") as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                archive.write(path, f"zed-repo/{path.relative_to(source)}")
        archive.writestr("../escaped.py", "print('outside')")
    with tarfile.open(submissions / "tim.tar.gz", "w:gz") as archive:
        archive.add(source, arcname="repo")
        link = tarfile.TarInfo("repo/modules/01_tensor/link.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    (submissions / "bad.zip").write_bytes(b"not a zip at all")
    gradebook = tmp_path / "gb" / "book.sqlite"
    command = [
        sys.executable, "-m", "tito.main", "grade", "01", "--submissions", str(submissions),
        "--gradebook", str(gradebook), "--jobs", "2", "--timeout", "30",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=instructor, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / "escaped.py").exists()
    book = Gradebook(gradebook)
    rows = {row.student: row for row in book.submissions()}
    book.close()
    assert rows["zed"].points == rows["tim"].points == 2.0  # two public tests, one point each
    assert rows["bad"].status == "invalid" and "not a readable archive" in rows["bad"].reason
    report = subprocess.run(
        [sys.executable, "-m", "tito.main", "grade", "report", "--gradebook", str(gradebook), "--out", str(tmp_path / "r")],  # noqa: E501
        cwd=instructor, capture_output=True, text=True,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "r" / "feedback" / "bad.md").read_text().count("not a readable archive") >= 1
    assert "zed,01_tensor,2,2,100" in (tmp_path / "r" / "grades.csv").read_text()


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["grade", "01"], "argument --submissions"),
        (["grade", "report"], "argument --out"),
        (["grade", "99", "--submissions", "."], "argument MODULE"),
        (["grade", "01", "--submissions", "/nonexistent"], "expected a folder of submissions"),
        (
            ["grade", "report", "--out", "x", "--gradebook", "/nonexistent/book.sqlite"],
            "expected an existing gradebook",
        ),
    ],
)
def test_grade_argument_errors_are_one_line_with_exit_2(small_class, args, phrase):
    _base, instructor = small_class
    done = subprocess.run([sys.executable, "-m", "tito.main", *args], cwd=instructor, capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert phrase in done.stderr and "Traceback" not in done.stderr


def test_an_empty_submissions_folder_is_refused_before_any_grading(small_class, tmp_path):
    _base, instructor = small_class
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "notes.txt").write_text("not a submission")
    command = [sys.executable, "-m", "tito.main", "grade", "01", "--submissions", str(tmp_path / "class")]
    done = subprocess.run(command, cwd=instructor, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "reference run" not in done.stdout, done.stdout + done.stderr
    assert "expected one learner repository per student" in done.stderr and done.stderr.count("\n") == 1


def _cmdlines_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if entry.name.isdigit() and text in cmdline:
            found.append(cmdline[:200])
    return found


def test_sigterm_stops_the_running_sandbox_at_once_and_cleans_up(tmp_path, workdir):
    """A `kill` (or a CI timeout) must not wait out a looping student's 120 s, nor leave workspaces."""
    instructor = make_instructor(tmp_path / "instructor")
    make_class(instructor, tmp_path / "class", {"ann": "correct", "zed": "loops_forever"})
    gradebook = tmp_path / "gb" / "book.sqlite"
    command = [
        sys.executable, "-m", "tito.main", "grade", "01", "--submissions", str(tmp_path / "class"),
        "--gradebook", str(gradebook), "--timeout", "120", "--workdir", str(workdir),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=instructor, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (gradebook.exists() and _graded_students(gradebook)):
        time.sleep(0.05)
    time.sleep(1.0)  # zed's endless loop is running now
    process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    out, err = process.communicate(timeout=60)  # without the stop, the loop would hold it ~120 s
    assert process.returncode == 130 and "interrupted" in err, out + err
    assert "interrupted after 1 of 2 submission(s); not graded: zed." in out and "--resume" in out, out
    assert time.monotonic() - stopped < 60
    assert _graded_students(gradebook) == ["ann"], "only finished students are in the gradebook"
    assert list(workdir.iterdir()) == [], "the run's workspaces were removed"
    assert _cmdlines_mentioning(str(workdir)) == [], "a sandbox process outlived the grader"


def _graded_students(gradebook: Path) -> list[str]:
    with sqlite3.connect(gradebook) as db:
        return [row[0] for row in db.execute("SELECT student FROM submissions ORDER BY student")]
