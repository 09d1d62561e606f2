"""The gradebook: SQLite (standard library), one row per student x module x test.

Each student's rows are written in one transaction, together with the submission row that says
they are complete, so a run killed half-way leaves every student either fully graded or not at
all; `--resume` then grades exactly the students without a submission row. The file is created
private (0600) in a private folder: the sandboxed child runs as another user and cannot open it.

Tables
    runs(module, tests_sha256, rubric_sha256, max_points, started)   one per module
    submissions(student, module, status, reason, points, max_points, seconds, notes, graded_at)
    tests(student, module, test, outcome, points, max_points, message)
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError, UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    module TEXT PRIMARY KEY, tests_sha256 TEXT NOT NULL, rubric_sha256 TEXT NOT NULL,
    max_points REAL NOT NULL, started TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    student TEXT NOT NULL, module TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
    points REAL NOT NULL, max_points REAL NOT NULL, seconds REAL NOT NULL, notes TEXT,
    graded_at TEXT NOT NULL, PRIMARY KEY (student, module));
CREATE TABLE IF NOT EXISTS tests (
    student TEXT NOT NULL, module TEXT NOT NULL, test TEXT NOT NULL, outcome TEXT NOT NULL,
    points REAL NOT NULL, max_points REAL NOT NULL, message TEXT,
    PRIMARY KEY (student, module, test));
"""
FORMAT = "1"


@dataclass
class ResultRow:
    test: str
    outcome: str  # passed, failed, error, skipped, missing
    points: float
    max_points: float
    message: str


@dataclass
class SubmissionRow:
    student: str
    module: str
    status: str  # complete, incomplete, rejected, invalid
    reason: str | None
    points: float
    max_points: float
    seconds: float
    notes: str
    graded_at: str
    tests: list[ResultRow]


class Gradebook:
    def __init__(self, path: Path) -> None:
        self.path = path
        fresh = not path.exists()
        if fresh:
            if not path.parent.exists():
                path.parent.mkdir(parents=True, mode=0o700)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        try:
            self.db = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.executescript(SCHEMA)
            found = self.db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError as error:
            raise TitoError(f"{path}: not a gradebook ({error})") from None
        if found is None:
            self.db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
        elif found[0] != FORMAT:
            raise TitoError(f"{path}: gradebook format {found[0]}, this tito reads format {FORMAT}")

    def close(self) -> None:
        self.db.close()

    def start(
        self, module: str, tests_sha: str, rubric_sha: str, max_points: float, when: str, resume: bool
    ) -> set[str]:
        """Begin grading `module`; returns the students already graded (kept only with resume)."""
        row = self.db.execute("SELECT tests_sha256, rubric_sha256 FROM runs WHERE module = ?", (module,)).fetchone()
        if resume and row is not None:
            if tuple(row) != (tests_sha, rubric_sha):
                what = "tests" if row[0] != tests_sha else "rubric"
                raise UsageError(
                    f"argument --resume: the {what} of {module} changed since it was graded; "
                    "grade again without --resume to regrade every student with the new one"
                )
            done = self.db.execute("SELECT student FROM submissions WHERE module = ?", (module,)).fetchall()
            return {student for (student,) in done}
        with self.transaction():
            self.db.execute("DELETE FROM tests WHERE module = ?", (module,))
            self.db.execute("DELETE FROM submissions WHERE module = ?", (module,))
            self.db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)", (module, tests_sha, rubric_sha, max_points, when)
            )
        return set()

    def transaction(self):
        return _Transaction(self.db)

    def save(self, row: SubmissionRow) -> None:
        """All of one student's rows for one module, or none of them."""
        with self.transaction():
            self.db.execute("DELETE FROM tests WHERE student = ? AND module = ?", (row.student, row.module))
            self.db.execute("DELETE FROM submissions WHERE student = ? AND module = ?", (row.student, row.module))
            self.db.executemany(
                "INSERT INTO tests VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(row.student, row.module, t.test, t.outcome, t.points, t.max_points, t.message) for t in row.tests],
            )
            self.db.execute(
                "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.student,
                    row.module,
                    row.status,
                    row.reason,
                    row.points,
                    row.max_points,
                    row.seconds,
                    row.notes,
                    row.graded_at,
                ),
            )

    def submissions(self, module: str | None = None) -> list[SubmissionRow]:
        query = "SELECT * FROM submissions" + (" WHERE module = ?" if module else "") + " ORDER BY student, module"
        rows = []
        for values in self.db.execute(query, (module,) if module else ()).fetchall():
            student, module_tag = values[0], values[1]
            tests = [
                ResultRow(*t)
                for t in self.db.execute(
                    "SELECT test, outcome, points, max_points, message FROM tests"
                    " WHERE student = ? AND module = ? ORDER BY rowid",
                    (student, module_tag),
                )
            ]
            rows.append(SubmissionRow(*values, tests=tests))
        return rows

    def modules(self) -> list[str]:
        return [m for (m,) in self.db.execute("SELECT module FROM runs ORDER BY module")]


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def open_gradebook(path: Path, must_exist: bool = False) -> Gradebook:
    if must_exist and not path.is_file():
        raise UsageError(f"argument --gradebook: expected an existing gradebook, got {path}; grade a module first")
    if path.exists() and not path.is_file():
        raise UsageError(f"argument --gradebook: expected a file, got the folder {path}")
    return Gradebook(path)
