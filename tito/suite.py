"""`tito test [pytest args]`: the whole test suite, exactly as CI and `make test` run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tito.procs import exit_status, repo_env


def names_targets(root: Path, arguments: list[str]) -> bool:
    """True when the arguments already say what to test (a path, or a path::test id).

    Then `tests` is not added in front, so `tito test tests/01_tensor` runs only that folder.
    """
    return any(
        not arg.startswith("-") and (root / arg.split("::")[0]).exists() for arg in arguments
    )


def run_suite(root: Path, arguments: list[str]) -> int:
    """Run `python -m pytest tests [arguments]` from the repository root; its exit code is ours.

    pytest's own codes pass through unchanged (5 = no tests collected), so scripts can tell a
    failure from an empty run.
    """
    command = [sys.executable, "-m", "pytest"]
    if not names_targets(root, arguments):
        command.append("tests")
    command.extend(arguments)
    print("$ " + " ".join(["python", *command[1:]]), flush=True)
    return exit_status(subprocess.call(command, cwd=root, env=repo_env(root)))
