"""Reading a failed check's output back to the learner in a few precise lines.

The verdict always comes from exit codes (tito/procs.py); these helpers only pick out *which*
test failed and *why* from what pytest or the Python traceback already printed.
"""

from __future__ import annotations

import re
from pathlib import Path

PYTEST_TOTALS = re.compile(
    r"^=*\s*((\d+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)"
    r"|no tests ran).*?)\s*=*$"
)
FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>.+)$')


SECTION = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
GROUPED = re.compile(r"^\s*(?:\|\s*)+(?P<reason>[A-Za-z_][\w.]*(?:Error|Exception|Group|Failure)\b.*)$")
MAX_TESTS, MAX_ERROR_LINES = 5, 3


def pytest_failures(output: str) -> list[str]:
    """Which tests failed and why: each `FAILED`/`ERROR` id with its first `E   ` lines.

    pytest's short summary (-rfE) names every failing test but cuts the reason to the terminal
    width, so the reason is taken from the test's own section of the report instead, where
    pytest prints the assertion or exception in full on lines starting with "E   ".
    """
    lines = output.splitlines()
    reasons: dict[str, list[str]] = {}
    grouped: dict[str, list[str]] = {}
    title = None
    for line in lines:
        match = SECTION.match(line)
        if match:
            title = match["title"]
            reasons.setdefault(title, [])
        elif title is not None and line.startswith("E   ") and line[4:].strip():
            if line[4:].strip().startswith("Use -v to get"):
                continue  # pytest's advice about its own flags, not a reason
            reasons[title].append(line[4:].strip())
        elif title is not None and GROUPED.match(line):
            # An exception group (hypothesis's "distinct failures") prints its members behind
            # "| " gutters instead of "E   " lines; each member's exception line is the reason.
            reason = GROUPED.match(line)["reason"].strip()
            if reason not in grouped.setdefault(title, []):
                grouped[title].append(reason)
        elif line.startswith("=") and "short test summary" in line:
            title = None
    for name, found in grouped.items():
        if not reasons.get(name):
            reasons[name] = [r for r in found if not r.startswith("ExceptionGroup")] or found
    details = []
    summary = [line.strip() for line in lines if line.startswith(("FAILED ", "ERROR "))]
    for entry in summary[:MAX_TESTS]:
        node = entry.split(" ", 1)[1].split(" - ", 1)[0]
        # A section title is the test's name ("test_add", "TestX.test_y", "ERROR collecting x").
        name = node.split("::", 1)[-1].replace("::", ".")
        found = reasons.get(name) or next(
            (why for key, why in reasons.items() if node in key or key.endswith(name)), []
        )
        details.append(f"{entry.split(' ', 1)[0]} {node}")
        details.extend(f"    {reason}" for reason in found[:MAX_ERROR_LINES])
        if not found and " - " in entry:
            details.append(f"    {entry.split(' - ', 1)[1]}")
    if len(summary) > MAX_TESTS:
        details.append(f"... and {len(summary) - MAX_TESTS} more failing tests (see above)")
    return details


def pytest_totals(output: str) -> str | None:
    """pytest's closing count line ("3 passed in 0.12s"), as printed, or None."""
    found = None
    for line in output.splitlines():
        match = PYTEST_TOTALS.match(line.strip())
        if match:
            found = match.group(1)
    return found


def traceback_tail(output: str, limit: int = 6, root: Path | None = None) -> list[str]:
    """Where the last traceback ended and what it raised, or the last lines printed.

    A failing inline test ends with a frame inside `test_unit_*` and the assertion message;
    those two are what the learner needs, not the whole stack. File names under `root` are
    shown relative to it, as the learner typed them.
    """
    lines = output.rstrip().splitlines()
    start = max(
        (i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")),
        default=None,
    )
    if start is None:
        return [line for line in lines if line.strip()][-limit:]
    tail = lines[start + 1 :]
    frames = [i for i, line in enumerate(tail) if FRAME.match(line)]
    if not frames:
        return tail[-limit:]

    def where(frame: re.Match) -> str:
        name = frame["file"]
        if root is not None and Path(name).is_absolute() and Path(name).is_relative_to(root):
            name = Path(name).relative_to(root).as_posix()
        return f"{name}, line {frame['line']}"

    shown = []
    tests = [i for i in frames if FRAME.match(tail[i])["name"].startswith("test")]
    if tests and tests[-1] != frames[-1]:
        test = FRAME.match(tail[tests[-1]])
        shown.append(f"in {test['name']} ({where(test)})")
    frame = FRAME.match(tail[frames[-1]])
    assert frame is not None
    rest = tail[frames[-1] + 1 :]
    # The frame is followed by its source line (and sometimes ^^^ markers), then the exception.
    code = [line.strip() for line in rest if line.strip() and not set(line.strip()) <= set("^~ ")]
    shown.append(f"{where(frame)}, in {frame['name']}")
    return shown + [f"  {line}" for line in code[: limit - len(shown)]]
