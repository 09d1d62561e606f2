"""The Olympics leaderboard: SQLite (standard library), one row per submission and per event entered.

A submission is copied into the store when it is submitted (so later edits to the learner's folder
change nothing), its measurement and every event's verdict are written in one transaction when it
is validated, so a run killed half-way leaves a submission either pending or fully recorded.

Tables
    meta(key, value)                       format; test_images: the held-out count scored against
    submissions(id, name, team, events, techniques, manifest, folder, weights_sha256, weights_bytes,
                submitted_at, status, reason, reference, validated_at, seconds)
        status: pending, measured, failed (crash, timeout, memory, bad weights, tampering, labels)
    measurements(id, accuracy, result, environment)   result: module 19's BenchmarkResult.to_dict()
    entries(id, event, eligible, score, reason)        one per event the submission entered
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError
from tito.grading.gradebook import _Transaction  # BEGIN IMMEDIATE ... COMMIT / ROLLBACK

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, team TEXT NOT NULL, events TEXT NOT NULL,
    techniques TEXT NOT NULL, manifest TEXT NOT NULL, folder TEXT NOT NULL, weights_sha256 TEXT NOT NULL,
    weights_bytes INTEGER NOT NULL, submitted_at TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
    reference INTEGER NOT NULL DEFAULT 0, validated_at TEXT, seconds REAL);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY REFERENCES submissions(id), accuracy REAL NOT NULL, result TEXT NOT NULL,
    environment TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER NOT NULL REFERENCES submissions(id), event TEXT NOT NULL, eligible INTEGER NOT NULL,
    score REAL, reason TEXT, PRIMARY KEY (id, event));
"""
FORMAT = "1"


@dataclass
class Submission:
    id: int
    name: str
    team: str
    events: list[str]
    techniques: list[str]
    manifest: dict
    folder: Path
    weights_sha256: str
    weights_bytes: int
    submitted_at: str
    status: str
    reason: str | None
    reference: bool
    validated_at: str | None
    seconds: float | None


@dataclass
class Entry:
    submission: Submission
    event: str
    eligible: bool
    score: float | None
    reason: str
    accuracy: float | None
    result: dict | None


class Store:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "olympics.sqlite"
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)  # transactions are explicit
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.executescript(SCHEMA)
            found = self.get_meta("format")
        except sqlite3.DatabaseError as error:
            raise TitoError(f"{self.path}: not an Olympics leaderboard ({error})") from None
        if found is None:
            self.set_meta("format", FORMAT)
        elif found != FORMAT:
            raise TitoError(f"{self.path}: leaderboard format {found}, this tito reads format {FORMAT}")

    def close(self) -> None:
        self.db.close()

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def transaction(self):
        return _Transaction(self.db)

    def add(self, manifest: dict, folder: Path, sha256: str, size: int, when: str, reference: bool) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO submissions (name, team, events, techniques, manifest, folder, weights_sha256,"
                " weights_bytes, submitted_at, status, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (manifest["name"], manifest["team"], json.dumps(manifest["events"]),
                 json.dumps(manifest["techniques"]), json.dumps(manifest), str(folder), sha256, size, when,
                 int(reference)),
            )
            return int(cursor.lastrowid)

    def record(self, submission_id: int, status: str, reason: str | None, when: str, seconds: float,
               accuracy: float | None = None, result: dict | None = None, environment: dict | None = None,
               entries: list[tuple[str, bool, float | None, str]] = ()) -> None:
        """One validation's outcome, all of it or nothing (replacing an earlier one)."""
        with self.transaction():
            self.db.execute("DELETE FROM entries WHERE id = ?", (submission_id,))
            self.db.execute("DELETE FROM measurements WHERE id = ?", (submission_id,))
            self.db.execute(
                "UPDATE submissions SET status = ?, reason = ?, validated_at = ?, seconds = ? WHERE id = ?",
                (status, reason, when, seconds, submission_id),
            )
            if isinstance(result, dict):  # a measurement (failures have none)
                self.db.execute("INSERT INTO measurements VALUES (?, ?, ?, ?)",
                                (submission_id, accuracy, json.dumps(result), json.dumps(environment or {})))
            self.db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?)",
                                [(submission_id, event, int(ok), score, why) for event, ok, score, why in entries])

    def submissions(self, where: str = "", args: tuple = ()) -> list[Submission]:
        rows = self.db.execute(f"SELECT * FROM submissions {where} ORDER BY id", args).fetchall()
        return [_submission(row) for row in rows]

    def get(self, submission_id: int) -> Submission | None:
        found = self.submissions("WHERE id = ?", (submission_id,))
        return found[0] if found else None

    def reference(self) -> Submission | None:
        found = self.submissions("WHERE reference = 1 AND status = 'measured'")
        return found[-1] if found else None

    def measurement(self, submission_id: int) -> tuple[float, dict] | None:
        row = self.db.execute("SELECT accuracy, result FROM measurements WHERE id = ?", (submission_id,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def environment(self, submission_id: int) -> dict:
        row = self.db.execute("SELECT environment FROM measurements WHERE id = ?", (submission_id,)).fetchone()
        return {} if row is None else json.loads(row[0])

    def entries(self, event: str) -> list[Entry]:
        """Every submission that entered `event`: the ranked ones by score, then the rest."""
        found = []
        for submission in self.submissions():
            if event not in submission.events:
                continue
            row = self.db.execute("SELECT eligible, score, reason FROM entries WHERE id = ? AND event = ?",
                                  (submission.id, event)).fetchone()
            measured = self.measurement(submission.id)
            accuracy, result = measured if measured else (None, None)
            if row is None:
                reason = submission.reason or ("not validated yet" if submission.status == "pending" else "")
                found.append(Entry(submission, event, False, None, reason, accuracy, result))
            else:
                found.append(Entry(submission, event, bool(row[0]), row[1], row[2] or "", accuracy, result))
        found.sort(key=lambda e: (not e.eligible, -(e.score if e.score is not None else 0.0), e.submission.id))
        return found


def _submission(row) -> Submission:
    values = list(row)
    values[3], values[4], values[5] = json.loads(values[3]), json.loads(values[4]), json.loads(values[5])
    values[6] = Path(values[6])
    values[12] = bool(values[12])
    return Submission(*values)

