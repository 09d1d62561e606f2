"""`tito grade report`: the gradebook as CSV, and one Markdown feedback page per student.

grades.csv   one row per student x module (points, maximum, percent, status, reason)
tests.csv    one row per student x module x test (outcome, points, the failure message)
feedback/STUDENT.md   every graded module: score, why a run stopped, and for each failed test
             the message its author wrote to teach what went wrong

Text that came from a submission (messages, reasons) is written inside code fences in the
pages and with a leading apostrophe in CSV cells that a spreadsheet would read as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from tito.fileio import write_atomically
from tito.grading.gradebook import Gradebook, SubmissionRow

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def _fenced(text: str) -> str:
    """A code block no backtick run inside `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def feedback_page(student: str, rows: list[SubmissionRow]) -> str:
    lines = [f"# Feedback for {student}", ""]
    for row in rows:
        percent = 100 * row.points / row.max_points if row.max_points else 0.0
        lines += [f"## Module {row.module}: {row.points:g} / {row.max_points:g} points ({percent:.0f}%)", ""]
        lines.append(f"Graded {row.graded_at}; status: **{row.status}**.")
        if row.reason:
            lines += ["", "Why:", "", _fenced(row.reason)]
        if row.notes:
            lines += ["", "Notes:", "", _fenced(row.notes)]
        failed = [t for t in row.tests if t.outcome != "passed"]
        passed = len(row.tests) - len(failed)
        lines += ["", f"{passed} of {len(row.tests)} tests passed."]
        if failed:
            lines += ["", "| test | outcome | points |", "|---|---|---|"]
            for test in failed:
                lines.append(f"| `{test.test.replace('|', '/')}` | {test.outcome} | 0 / {test.max_points:g} |")
            for test in failed:
                lines += ["", f"### `{test.test}`", "", _fenced(test.message or "(no message)")]
        lines.append("")
    return "\n".join(lines)


def write_report(book: Gradebook, out: Path, module: str | None = None) -> tuple[int, int]:
    """Write the CSV files and the feedback pages; returns (students, submission rows)."""
    rows = book.submissions(module)
    grades = [
        [
            r.student,
            r.module,
            r.points,
            r.max_points,
            round(100 * r.points / r.max_points, 1) if r.max_points else 0.0,
            r.status,
            r.reason or "",
            r.graded_at,
        ]
        for r in rows
    ]
    write_atomically(
        out / "grades.csv",
        _csv(["student", "module", "points", "max_points", "percent", "status", "reason", "graded_at"], grades),
    )
    tests = [[r.student, r.module, t.test, t.outcome, t.points, t.max_points, t.message] for r in rows for t in r.tests]
    write_atomically(
        out / "tests.csv", _csv(["student", "module", "test", "outcome", "points", "max_points", "message"], tests)
    )
    by_student: dict[str, list[SubmissionRow]] = {}
    for row in rows:
        by_student.setdefault(row.student, []).append(row)
    for student, student_rows in by_student.items():
        write_atomically(out / "feedback" / f"{student}.md", feedback_page(student, student_rows))
    return len(by_student), len(rows)
