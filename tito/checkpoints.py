"""`tito checkpoint status | timeline | test NN`: the course's "Can I ...?" capabilities.

Each checkpoint is a small pytest file in tito/checkpoint_checks/, named `check_NN_slug.py`: its
docstring's first line is the question, `REQUIRES` lists the modules it exercises, and its tests
run the learner's own package end to end (train a model, round-trip text, ...) in a few seconds.
New files there are picked up without any change here; a checkpoint whose modules do not exist
yet is shown as locked.

`tito checkpoint test NN` runs the file in a child process (the exit status is the verdict) and
records a pass in .tito/checkpoints.json together with a fingerprint of the files it depends on
(its required modules and the check itself). A recorded pass counts only while that fingerprint
still matches: edit a module and its checkpoints show "re-test" until they pass again.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tito.errors import TitoError, UsageError
from tito.export import find_modules
from tito.failures import pytest_failures, pytest_totals
from tito.fileio import write_atomically
from tito.procs import repo_env, run_streaming

CHECKS = Path(__file__).resolve().parent / "checkpoint_checks"
RECORD = Path(".tito") / "checkpoints.json"
FILE = re.compile(r"^check_(\d\d)_([a-z0-9_]+)\.py$")
DEFAULT_TIMEOUT = 300.0


@dataclass
class Checkpoint:
    number: str
    slug: str
    question: str
    requires: list[str]
    path: Path


def discover(folder: Path = CHECKS) -> list[Checkpoint]:
    """Every check_NN_slug.py, read with `ast` (never imported here), in number order."""
    found = []
    for path in sorted(folder.glob("check_*.py")):
        match = FILE.match(path.name)
        if not match:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        question = (ast.get_docstring(tree) or "").strip().splitlines()[:1]
        requires: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "REQUIRES" for t in node.targets):
                requires = list(ast.literal_eval(node.value))
        if not question or not requires:
            raise TitoError(f"{path}: a checkpoint needs a docstring question and a REQUIRES list")
        found.append(Checkpoint(match.group(1), match.group(2), question[0], requires, path))
    return found


def fingerprint(root: Path, checkpoint: Checkpoint) -> str | None:
    """SHA-256 over the required modules' files and the check; None if a module is missing."""
    modules = {m.tag: m for m in find_modules(root)}
    digest = hashlib.sha256(checkpoint.path.read_bytes())
    for tag in checkpoint.requires:
        if tag not in modules:
            return None
        digest.update(tag.encode() + modules[tag].source.read_bytes())
    return digest.hexdigest()


def read_record(root: Path) -> dict:
    path = root / RECORD
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TitoError(f"{path}: not valid JSON ({error}); delete it to start the checkpoints afresh") from None
    return data.get("checkpoints", {}) if isinstance(data, dict) else {}


def state(root: Path, checkpoint: Checkpoint, record: dict) -> tuple[str, str | None]:
    """(passed | re-test | ready | locked, when it passed)."""
    current = fingerprint(root, checkpoint)
    if current is None:
        return "locked", None
    entry = record.get(checkpoint.number)
    if entry and entry.get("fingerprint") == current:
        return "passed", entry.get("passed")
    if entry:
        return "re-test", entry.get("passed")
    return "ready", None


def select(checkpoints: list[Checkpoint], item: str) -> Checkpoint:
    number = item.zfill(2) if item.isdigit() else None
    for checkpoint in checkpoints:
        if number == checkpoint.number or item == checkpoint.slug:
            return checkpoint
    known = ", ".join(f"{c.number} ({c.slug})" for c in checkpoints)
    raise UsageError(f"argument NN: expected a checkpoint number or name, got {item!r}; there are: {known}")


def run_check(root: Path, checkpoint: Checkpoint, timeout: float) -> tuple[bool, list[str]]:
    command = [sys.executable, "-m", "pytest", str(checkpoint.path), "-q", "-rfE", "--tb=short", "--color=no",
               "-p", "no:cacheprovider"]  # fmt: skip
    outcome = run_streaming(command, root, repo_env(root), timeout)
    if outcome.timed_out:
        return False, [f"did not finish within {timeout:g} s"]
    if outcome.returncode == 5:
        return False, ["the checkpoint holds no tests"]
    if outcome.returncode != 0:
        return False, pytest_failures(outcome.output) or [pytest_totals(outcome.output) or "failed"]
    return True, [pytest_totals(outcome.output) or "passed"]


def cmd_test(root: Path, items: list[str], timeout: float, folder: Path = CHECKS) -> int:
    checkpoints = discover(folder)
    chosen = [select(checkpoints, item) for item in items] if items else checkpoints
    record = read_record(root)
    failed = 0
    for checkpoint in chosen:
        current = fingerprint(root, checkpoint)
        if current is None:
            missing = [tag for tag in checkpoint.requires if tag not in {m.tag for m in find_modules(root)}]
            print(f"LOCKED {checkpoint.number} {checkpoint.question} (needs {', '.join(missing)})")
            failed += bool(items)
            continue
        print(f"--- checkpoint {checkpoint.number}: {checkpoint.question}")
        passed, details = run_check(root, checkpoint, timeout)
        print(f"{'PASS' if passed else 'FAIL'} {checkpoint.number} {checkpoint.question}")
        for line in details:
            print(f"      {line}")
        if passed:
            when = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
            record[checkpoint.number] = {"passed": when, "fingerprint": current, "question": checkpoint.question}
        else:
            failed += 1
            record.pop(checkpoint.number, None)  # a failing run withdraws an earlier pass
    write_atomically(root / RECORD, json.dumps({"format": 1, "checkpoints": record}, indent=2, sort_keys=True) + "\n")
    return 1 if failed else 0


SYMBOLS = {"passed": "●", "re-test": "◐", "ready": "○", "locked": "·"}


def rows(root: Path, folder: Path = CHECKS) -> list[tuple[Checkpoint, str, str | None]]:
    record = read_record(root)
    return [(c, *state(root, c, record)) for c in discover(folder)]


def cmd_status(root: Path, folder: Path = CHECKS) -> int:
    table = rows(root, folder)
    print(f"{'NN':<4}{'status':<9}{'passed on':<12}capability")
    for checkpoint, status, when in table:
        print(f"{checkpoint.number:<4}{status:<9}{(when or '-')[:10]:<12}{checkpoint.question}")
    done = sum(1 for _, status, _ in table if status == "passed")
    print(f"\n{done} of {len(table)} checkpoints passed; run `tito checkpoint test NN` to check one again")
    return 0


def cmd_timeline(root: Path, folder: Path = CHECKS) -> int:
    """The capabilities as a timeline, with Rich when it is installed, plain text otherwise."""
    table = rows(root, folder)
    upcoming = next((c for c, status, _ in table if status in ("ready", "re-test")), None)
    lines = []
    for checkpoint, status, when in table:
        mark = "  <- next" if checkpoint is upcoming else ""
        date = f" ({when[:10]})" if when and status == "passed" else ""
        lines.append((status, f"{SYMBOLS[status]} {checkpoint.number}  {checkpoint.question}{date}{mark}"))
    try:
        from rich.console import Console
    except ImportError:
        for _status, line in lines:
            print(line)
    else:
        style = {"passed": "green", "re-test": "yellow", "ready": "bold", "locked": "dim"}
        console = Console()
        for status, line in lines:
            console.print(line, style=style[status], highlight=False)
    print(f"\n{SYMBOLS['passed']} passed  {SYMBOLS['re-test']} changed since it passed  "
          f"{SYMBOLS['ready']} ready to try  {SYMBOLS['locked']} its modules do not exist yet")  # fmt: skip
    if upcoming:
        print(f"next: tito checkpoint test {upcoming.number}")
    return 0


def register(commands, leaf) -> None:
    from tito.repo import project_root

    parser = commands.add_parser("checkpoint", help='the "Can I ...?" capabilities, checked on your code')
    actions = parser.add_subparsers(dest="checkpoint_command", required=True, metavar="ACTION")
    leaf(actions.add_parser("status", help="table of every checkpoint"), lambda a: cmd_status(project_root()))
    leaf(
        actions.add_parser("timeline", help="the capabilities in course order"), lambda a: cmd_timeline(project_root())
    )
    test = actions.add_parser("test", help="run checkpoints on your code and record the passes")
    test.add_argument("items", nargs="*", metavar="NN", help="checkpoint numbers or names (default: all unlocked)")
    test.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS")
    leaf(test, lambda a: cmd_test(project_root(), a.items, a.timeout))
