"""`tito module start|test|complete|status`: the learner's loop through one module.

`test` and `complete` run the same three checks, in order, each in a child process whose exit
status is the verdict: export the learner's module into tinytorch/, run the module file as a
script (its inline `test_unit_*` cells), then run pytest on tests/NN_name. `complete` also
records the pass in .tito/progress.json, and only then.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tito import progress
from tito.errors import TitoError, UsageError
from tito.export import ModuleInfo, export, select_modules
from tito.failures import pytest_failures, pytest_totals, traceback_tail
from tito.procs import repo_env, run_streaming

DEFAULT_TIMEOUT = 300.0  # seconds per check; modules run "in seconds" (DESIGN.md §3)


def resolve(root: Path, item: str) -> ModuleInfo:
    """The one module named by the NN argument (number, name or NN_name)."""
    if not item.strip():
        raise UsageError(
            "argument NN: expected a module number (like 01) or name, got an empty string"
        )
    return select_modules(root, [item], label="NN")[0]


@dataclass
class Check:
    name: str  # "export", "inline tests", "pytest"
    passed: bool
    summary: str  # one line, e.g. "4 passed in 0.21s"
    details: list[str] = field(default_factory=list)  # which test failed and why


def check_export(root: Path, module: ModuleInfo) -> Check:
    try:
        written = export(root, [module.tag])
    except TitoError as error:
        return Check("export", False, "the module could not be exported", [str(error)])
    path, changed = written[0]
    state = "updated" if changed else "already up to date"
    return Check("export", True, f"{path.relative_to(root).as_posix()} {state}")


def check_inline(root: Path, module: ModuleInfo, timeout: float) -> Check:
    """Run `python modules/NN_name/name.py` from the repository root, as a learner would."""
    script = module.source.relative_to(root).as_posix()
    print(f"--- inline tests: python {script}")
    outcome = run_streaming([sys.executable, script], root, repo_env(root), timeout)
    if outcome.timed_out:
        return Check(
            "inline tests",
            False,
            f"{script} did not finish within {timeout:g} s",
            ["look for an endless loop, or pass a larger --timeout"],
        )
    if outcome.returncode != 0:
        return Check(
            "inline tests",
            False,
            f"python {script} exited with status {outcome.returncode}",
            traceback_tail(outcome.output, root=root),
        )
    return Check("inline tests", True, f"python {script} ran to the end ({outcome.seconds:.1f} s)")


def check_pytest(root: Path, module: ModuleInfo, timeout: float) -> Check:
    """Run pytest on tests/NN_name; 'no tests collected' (exit 5) is a failure, not a pass."""
    folder = root / "tests" / module.tag
    shown = f"tests/{module.tag}"
    if not folder.is_dir():
        return Check(
            "pytest",
            False,
            f"{shown} does not exist",
            ["there are no tests to confirm this module"],
        )
    print(f"--- pytest {shown}")
    command = [sys.executable, "-m", "pytest", shown, "-q", "-rfE", "--tb=short", "--color=no"]
    outcome = run_streaming(command, root, repo_env(root), timeout)
    totals = pytest_totals(outcome.output) or "no summary line"
    if outcome.timed_out:
        return Check(
            "pytest",
            False,
            f"pytest {shown} did not finish within {timeout:g} s",
            ["look for an endless loop, or pass a larger --timeout"],
        )
    if outcome.returncode == 5:
        return Check(
            "pytest",
            False,
            f"pytest collected no tests from {shown}",
            ["an empty test folder cannot confirm the module works"],
        )
    if outcome.returncode != 0:
        details = pytest_failures(outcome.output) or traceback_tail(outcome.output, root=root)
        return Check(
            "pytest", False, f"pytest {shown}: {totals} (exit status {outcome.returncode})", details
        )
    return Check("pytest", True, f"pytest {shown}: {totals}")


def run_checks(root: Path, module: ModuleInfo, timeout: float) -> list[Check]:
    """Export, inline tests, pytest; stops at the first failure (later ones would repeat it)."""
    checks = [check_export(root, module)]
    if checks[-1].passed:
        checks.append(check_inline(root, module, timeout))
    if checks[-1].passed:
        checks.append(check_pytest(root, module, timeout))
    return checks


def report(checks: list[Check]) -> bool:
    print()
    for check in checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.summary}")
        for line in check.details:
            print(f"      {line}")
    return all(check.passed for check in checks) and len(checks) == 3


def cmd_test(root: Path, item: str, timeout: float) -> int:
    module = resolve(root, item)
    return 0 if report(run_checks(root, module, timeout)) else 1


def cmd_complete(root: Path, item: str, timeout: float) -> int:
    module = resolve(root, item)
    if not report(run_checks(root, module, timeout)):
        print(
            f"\nmodule {module.tag} is not complete yet: fix the failure above and run "
            f"`tito module complete {module.number}` again (progress unchanged)"
        )
        return 1
    when = progress.mark_completed(root, module)
    print(
        f"\nmodule {module.tag} complete ({when[:10]}), recorded in {progress.PROGRESS.as_posix()}"
    )
    return 0


def cmd_start(root: Path, item: str) -> int:
    """Record the start and create the paired notebook next to the module file."""
    module = resolve(root, item)
    if progress.mark_started(root, module):
        print(f"started module {module.tag}")
    notebook = module.source.with_suffix(".ipynb")
    shown = notebook.relative_to(root).as_posix()
    source = module.source.relative_to(root).as_posix()
    if not notebook.exists():
        try:
            import jupytext
        except ImportError:
            print(
                f"jupytext is not installed, so {shown} was not created; install the CLI extras "
                f"with `pip install -e '.[cli]'`, or edit {source} directly in your editor",
                file=sys.stderr,
            )
            return 1
        # Pairing lives in the notebook's metadata: saving in Jupyter (with jupytext) then
        # updates the .py file too, which is the one tito exports and grades.
        notebook_data = jupytext.read(module.source, fmt="py:percent")
        notebook_data.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
        notebook_data.metadata.setdefault(
            "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
        )
        jupytext.write(notebook_data, notebook)
        print(f"created {shown}, paired with {source}")
    else:
        print(f"{shown} already exists")
    print(f"open it with:  jupyter lab {shown}")
    if not shutil.which("jupyter"):
        print(
            "  (jupyter is not installed: `pip install jupyterlab`; "
            "or edit the .py file in any editor)"
        )
    print(f"check your work with:  tito module test {module.number}")
    return 0


def cmd_status(root: Path) -> int:
    states = progress.states(root)
    if not states:
        print("no modules found in modules/")
        return 0
    width = max(len(state.module.name) for state in states)
    print(f"{'NN':<4}{'module':<{width + 2}}{'status':<13}completed")
    for state in states:
        line = (
            f"{state.module.number:<4}{state.module.name:<{width + 2}}"
            f"{state.status:<13}{state.completed or '-':<12}"
        )
        print((line + state.note).rstrip())
    done = sum(1 for state in states if state.status == "complete")
    print(
        f"\n{done} of {len(states)} modules complete (recorded in {progress.PROGRESS.as_posix()})"
    )
    return 0
