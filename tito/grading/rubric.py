"""Points per test, read from a TOML rubric (standard library `tomllib`; `tomli` on Python 3.10).

    default_points = 1            # each test no entry matches (optional, default 1)

    [[test]]
    match = "test_losses.py::test_mse*"     # fnmatch on the id inside tests/NN_name
    points = 6                    # shared by every id it matches: partial credit per case

    [[test]]
    match = "hidden/*"            # hidden tests run from tests/NN_name/hidden/
    each = 2                      # or: this many points for each matching id

The first entry that matches an id decides its points. An entry that matches no test is an
error (a typo would otherwise silently move points), as is any key not shown above.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from tito.errors import UsageError

TOP_KEYS = {"default_points", "test"}
ENTRY_KEYS = {"match", "points", "each"}


@dataclass(frozen=True)
class Entry:
    match: str
    points: float | None  # shared by all matching ids
    each: float | None  # per matching id


@dataclass
class Rubric:
    default_points: float = 1.0
    entries: list[Entry] = field(default_factory=list)
    source: str = "(default: 1 point per test)"

    def points(self, test_ids: list[str]) -> dict[str, float]:
        """Each id's maximum points; UsageError for an entry that matches none of them."""
        chosen: dict[str, Entry | None] = {}
        for test_id in test_ids:
            chosen[test_id] = next((e for e in self.entries if fnmatch.fnmatchcase(test_id, e.match)), None)
        for entry in self.entries:
            if not any(fnmatch.fnmatchcase(test_id, entry.match) for test_id in test_ids):
                example = f"; the ids look like {test_ids[0]!r}" if test_ids else ""
                raise UsageError(f"argument --rubric: {self.source}: match = {entry.match!r} matches no test{example}")
        shares = {id(e): sum(1 for c in chosen.values() if c is e) for e in self.entries}
        result = {}
        for test_id, entry in chosen.items():
            if entry is None:
                result[test_id] = self.default_points
            elif entry.each is not None:
                result[test_id] = entry.each
            else:
                result[test_id] = entry.points / shares[id(entry)]
        return result

    def fingerprint(self) -> str:
        data = {"default": self.default_points, "entries": [(e.match, e.points, e.each) for e in self.entries]}
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def _toml():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise UsageError(
                "argument --rubric: reading TOML needs Python 3.11 or newer, or `pip install tomli` on 3.10"
            ) from None
    return tomllib


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise UsageError(f"argument --rubric: {where}: expected a number of points >= 0, got {value!r}")
    return float(value)


def load_rubric(path: Path | None) -> Rubric:
    if path is None:
        return Rubric()
    if not path.is_file():
        raise UsageError(f"argument --rubric: expected a TOML file, got {path}, which does not exist")
    tomllib = _toml()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"argument --rubric: {path} is not valid TOML ({error})") from None
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise UsageError(f"argument --rubric: {path}: unknown key(s) {sorted(unknown)}; expected {sorted(TOP_KEYS)}")
    rubric = Rubric(_number(data.get("default_points", 1), f"{path}: default_points"), [], str(path))
    entries = data.get("test", [])
    if not isinstance(entries, list):
        raise UsageError(f"argument --rubric: {path}: expected [[test]] tables, got {type(entries).__name__}")
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[test]] number {number}"
        if not isinstance(entry, dict) or set(entry) - ENTRY_KEYS:
            extra = sorted(set(entry) - ENTRY_KEYS) if isinstance(entry, dict) else entry
            raise UsageError(f"argument --rubric: {where}: unknown key(s) {extra}; expected {sorted(ENTRY_KEYS)}")
        if not isinstance(entry.get("match"), str) or not entry["match"]:
            raise UsageError(
                f'argument --rubric: {where}: expected match = "<test id pattern>", got {entry.get("match")!r}'
            )
        if ("points" in entry) == ("each" in entry):
            raise UsageError(f"argument --rubric: {where}: give exactly one of points (shared) or each (per test)")
        points = _number(entry["points"], where) if "points" in entry else None
        each = _number(entry["each"], where) if "each" in entry else None
        rubric.entries.append(Entry(entry["match"], points, each))
    return rubric
