"""`tito module start|test|complete|status`: the learner's loop through one module.

`test` and `complete` run the same three checks, in order: sync the module's notebook pair and
export the learner's module into tinytorch/ (tito/pairing.py, tito/export.py); run the module's
cells with the inline runner, which reports every `#| test` cell (tito/inline.py); run pytest
on tests/NN_name. Learner code runs in child processes whose exit status and report are the
verdict. `complete` first requires the modules this one builds on (tito/deps.py) to be
complete, and records the pass in .tito/progress.json, and only then. When a check fails, the
tests of those earlier modules are re-run, so a bug in module 01 is named as such.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tito import pairing, progress
from tito.deps import dependencies
from tito.errors import TitoError, UsageError
from tito.export import ExportError, ModuleInfo, export, select_modules
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
    outcomes: list[dict] = field(default_factory=list)  # inline runner's outcomes (tito/inline.py)

    @property
    def timed_out(self) -> bool:
        return "did not finish within" in self.summary


def check_export(root: Path, module: ModuleInfo) -> Check:
    """Sync the notebook pairs, then export; a module that does not compile is a FAIL.

    The modules this one builds on are synced and exported too (unchanged files are not
    rewritten): an edit to module 01 made after its last export must not leave module 05
    tested against the old `Tensor.__add__`.
    """
    chain = [*dependencies(root, module), module]
    try:
        for each in chain:
            line = pairing.sync_module(root, each)
            if line:
                print(line)
        written = export(root, [each.tag for each in chain])
    except ExportError as error:
        return Check("export", False, "the module does not compile", error.failures[0].splitlines())
    except TitoError as error:
        return Check("export", False, "the module could not be exported", str(error).splitlines())
    for each, (path, changed) in zip(chain[:-1], written):
        if changed:
            print(f"exported {path.relative_to(root).as_posix()}: modules/{each.tag} changed since its last export")
    path, changed = written[-1]
    state = "updated" if changed else "already up to date"
    return Check("export", True, f"{path.relative_to(root).as_posix()} {state}")


MAX_SHOWN, MAX_MESSAGE_LINES = 6, 20


def _inline_details(module: ModuleInfo, outcomes: list[dict]) -> list[str]:
    """One headline per test that did not pass, then its message in full (it holds the values)."""
    details = []
    problems = [o for o in outcomes if o["status"] != "pass"]
    for outcome in problems[:MAX_SHOWN]:
        where = f" ({outcome['where']})" if outcome["where"] else ""
        if outcome["status"] in ("stub", "skipped"):
            owner = outcome["stub_module"]
            stub = outcome["stub"] or "a function"
            what = "test" if outcome["status"] == "stub" else f"analysis at line {outcome['line']}"
            name = outcome["name"] if outcome["status"] == "stub" else what
            if owner and owner != f"modules/{module.tag}":
                details.append(
                    f"TODO {name}: needs {stub} from {owner}, which is still a stub; "
                    f"finish that module first (tito module test {Path(owner).name[:2]})"
                )
            else:
                details.append(f"TODO {name}: not implemented yet: write the body of {stub}")
            continue
        kind = "implemented, but a value is wrong" if outcome["status"] == "wrong" else "raised an error"
        details.append(f"FAIL {outcome['name']}: {kind}{where}")
        lines = outcome["message"].splitlines() or ["(the assertion has no message)"]
        details.extend(f"    {line}" for line in lines[:MAX_MESSAGE_LINES])
        if len(lines) > MAX_MESSAGE_LINES:
            details.append(f"    ... {len(lines) - MAX_MESSAGE_LINES} more lines above")
    if len(problems) > MAX_SHOWN:
        details.append(f"... and {len(problems) - MAX_SHOWN} more (see above)")
    return details


def check_inline(root: Path, module: ModuleInfo, timeout: float, pattern: str | None = None) -> Check:
    """Run the module's cells with tito's inline runner: every `#| test` cell runs and reports."""
    script = module.source.relative_to(root).as_posix()
    selection = f" -k {pattern}" if pattern else ""
    print(f"--- inline tests: {script}{selection} (every test cell, as `python {script}` runs them)")
    with tempfile.TemporaryDirectory(prefix="tito-inline-") as folder:
        report_file = Path(folder) / "report.json"
        command = [sys.executable, "-m", "tito.inline", script, "--report", str(report_file)]
        command += ["-k", pattern] if pattern else []
        outcome = run_streaming(command, root, repo_env(root), timeout)
        outcomes = json.loads(report_file.read_text(encoding="utf-8")) if report_file.is_file() else None
    if outcome.timed_out:
        return Check(
            "inline tests",
            False,
            f"{script} did not finish within {timeout:g} s",
            ["look for an endless loop, or pass a larger --timeout"],
        )
    if outcomes is None:  # the runner itself died (a crash, os._exit in learner code)
        return Check(
            "inline tests",
            False,
            f"{script} stopped with status {outcome.returncode} before reporting",
            traceback_tail(outcome.output, root=root),
        )
    tests = [o for o in outcomes if o["cell"] == "test"]
    others = [o for o in outcomes if o["cell"] != "test"]
    counts = {status: sum(o["status"] == status for o in tests) for status in STATUS_WORDS}
    shown = ", ".join(f"{n} {STATUS_WORDS[s]}" for s, n in counts.items() if n)
    summary = f"{len(tests)} test cell(s): {shown or 'none ran'}"
    if others:  # code or analysis cells that stopped (a stub they call, an error)
        skipped = sum(o["status"] == "skipped" for o in others)
        stubbed = sum(o["status"] == "stub" for o in others)
        parts = [f"{skipped} analysis cell(s) skipped (they need a stub)"] if skipped else []
        parts += [f"{stubbed} other cell(s) stopped at a stub"] if stubbed else []
        if len(others) > skipped + stubbed:
            parts.append(f"{len(others) - skipped - stubbed} other cell(s) failed")
        summary += "; " + ", ".join(parts)
    summary += f" ({outcome.seconds:.1f} s)"
    if pattern and not tests:
        return Check("inline tests", True, f"no test cell matches -k {pattern}", outcomes=outcomes)
    if pattern:
        # One test was asked for: a demo cell stopping at some other stub is not its verdict.
        blocking = [o for o in others if o["status"] not in ("stub", "skipped")]
        passed = counts["pass"] == len(tests) and not blocking
    else:
        passed = outcome.returncode == 0 and counts["pass"] == len(outcomes)  # others all failed
    if not tests and not pattern:
        return Check("inline tests", False, f"{script} has no #| test cell", outcomes=outcomes)
    return Check("inline tests", passed, summary, _inline_details(module, outcomes), outcomes)


STATUS_WORDS = {
    "pass": "passed",
    "wrong": "wrong value",
    "error": "error",
    "stub": "not implemented yet",
    "skipped": "skipped",
}


def check_pytest(root: Path, module: ModuleInfo, timeout: float, pattern: str | None = None) -> Check:
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
    selection = ["-k", pattern] if pattern else []
    print(f"--- pytest {shown}{' -k ' + pattern if pattern else ''}")
    command = [sys.executable, "-m", "pytest", shown, *selection, "-q", "-rfE", "--tb=short", "--color=no"]
    outcome = run_streaming(command, root, repo_env(root), timeout)
    totals = pytest_totals(outcome.output) or "no summary line"
    if outcome.timed_out:
        return Check(
            "pytest",
            False,
            f"pytest {shown} did not finish within {timeout:g} s",
            ["look for an endless loop, or pass a larger --timeout"],
        )
    if outcome.returncode == 5 and pattern:
        return Check("pytest", True, f"no test in {shown} matches -k {pattern}")
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


def run_checks(root: Path, module: ModuleInfo, timeout: float, pattern: str | None = None) -> list[Check]:
    """Export, inline tests, pytest; stops at the first failure (later ones would repeat it)."""
    checks = [check_export(root, module)]
    if checks[-1].passed:
        checks.append(check_inline(root, module, timeout, pattern))
    if checks[-1].passed:
        checks.append(check_pytest(root, module, timeout, pattern))
    if pattern and len(checks) == 3 and all(c.passed for c in checks):
        if checks[1].summary.startswith("no test") and checks[2].summary.startswith("no test"):
            checks[2] = Check("pytest", False, f"-k {pattern} matches no inline test and no pytest test")
    return checks


def report(checks: list[Check]) -> bool:
    print()
    for check in checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.summary}")
        for line in check.details:
            print(f"      {line}")
    if len(checks) == 2 and not checks[-1].passed:
        print("      (pytest not run: fix the inline tests first, or run one test with -k NAME)")
    return all(check.passed for check in checks) and len(checks) == 3


def _cause_is_clear(module: ModuleInfo, checks: list[Check]) -> bool:
    """True when re-checking earlier modules would not help: export broke, a check timed out,
    or the only problems are this module's own unimplemented stubs."""
    failed = [c for c in checks if not c.passed]
    if not failed or failed[0].name == "export" or failed[0].timed_out:
        return True
    if failed[0].name != "inline tests":
        return False
    problems = [o for o in failed[0].outcomes if o["status"] != "pass"]
    return bool(problems) and all(
        o["status"] in ("stub", "skipped") and o["stub_module"] == f"modules/{module.tag}" for o in problems
    )


def recheck_dependencies(root: Path, module: ModuleInfo, timeout: float) -> None:
    """After a failure, re-run the tests of the modules this one builds on, earliest first.

    A wrong `__add__` in module 01 shows up as a failing gradient check in module 05; pointing
    the learner at module 01 saves them from debugging a gradient rule that is correct.
    """
    needed = dependencies(root, module)
    if not needed:
        return
    print(f"\nre-checking the modules {module.tag} builds on: {', '.join(m.number for m in needed)}")
    broken = []
    for dependency in needed:
        folder = f"tests/{dependency.tag}"
        if not (root / folder).is_dir():
            continue
        command = [sys.executable, "-m", "pytest", folder, "-x", "-q", "--tb=no", "--color=no"]
        command += ["-p", "no:cacheprovider"]
        try:
            result = subprocess.run(
                command, cwd=root, env=repo_env(root), capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            broken.append((dependency, f"did not finish within {timeout:g} s"))
            print(f"  FAIL  {folder}: did not finish within {timeout:g} s")
            continue
        if result.returncode not in (0, 5):
            first = next((line for line in result.stdout.splitlines() if line.startswith("FAILED ")), "")
            broken.append((dependency, first))
            print(f"  FAIL  {folder}" + (f": {first}" if first else ""))
        else:
            print(f"  PASS  {folder}")
    if broken:
        first = broken[0][0]
        print(
            f"module {first.tag} fails its own tests, and {module.tag} uses its code: revisit module "
            f"{first.number} first (`tito module test {first.number}`); the failure above may come from there"
        )
    else:
        print(f"  the modules {module.tag} builds on pass their tests: the cause is in {module.tag}")


def cmd_test(root: Path, item: str, timeout: float, pattern: str | None = None) -> int:
    module = resolve(root, item)
    checks = run_checks(root, module, timeout, pattern)
    if report(checks):
        return 0
    if not _cause_is_clear(module, checks):
        recheck_dependencies(root, module, timeout)
    return 1


def unfinished_dependencies(root: Path, module: ModuleInfo) -> list[str]:
    """The modules `module` builds on that are not complete (or were edited since), with status."""
    needed = {m.tag for m in dependencies(root, module)}
    missing = []
    for state in progress.states(root):
        if state.module.tag in needed and (state.status != "complete" or state.note):
            status = "edited since completion" if state.note else state.status
            missing.append(f"{state.module.tag} ({status})")
    return missing


def cmd_complete(root: Path, item: str, timeout: float) -> int:
    module = resolve(root, item)
    missing = unfinished_dependencies(root, module)
    if missing:
        numbers = [tag[:2] for tag in missing]
        print(
            f"module {module.tag} builds on modules that are not complete yet: {', '.join(missing)}.\n"
            f"Complete them first, in order: "
            + "; ".join(f"tito module complete {n}" for n in numbers)
            + f"\n(`tito module test {module.number}` runs this module's checks meanwhile; progress unchanged)"
        )
        return 1
    checks = run_checks(root, module, timeout)
    if not report(checks):
        if not _cause_is_clear(module, checks):
            recheck_dependencies(root, module, timeout)
        print(
            f"\nmodule {module.tag} is not complete yet: fix the failure above and run "
            f"`tito module complete {module.number}` again (progress unchanged)"
        )
        return 1
    when = progress.mark_completed(root, module)
    print(
        f"\nmodule {module.tag} complete ({when[:10]}), recorded in {progress.PROGRESS.as_posix()}"
    )
    unlocked = milestones_unlocked_by(root, module)
    for line in unlocked:
        print(line)
    return 0


def cmd_start(root: Path, item: str) -> int:
    """Record the start and create the paired notebook next to the module file."""
    module = resolve(root, item)
    if progress.mark_started(root, module):
        print(f"started module {module.tag}")
    notebook = pairing.notebook_of(module)
    shown = notebook.relative_to(root).as_posix()
    source = module.source.relative_to(root).as_posix()
    if not notebook.exists():
        try:
            pairing.new_notebook(module)
        except TitoError:
            print(
                f"jupytext is not installed, so {shown} was not created; install the notebook "
                f"tools with `pip install -e '.[learn]'`, or edit {source} directly in your editor",
                file=sys.stderr,
            )
            return 1
        pairing.record(root, module)
        print(f"created {shown}, paired with {source}")
    else:
        line = pairing.sync_module(root, module)
        print(line or f"{shown} already exists")
    lab = shutil.which("jupyter-lab", path=_scripts_path())
    if lab:
        print(f"open it with:  jupyter lab {shown}")
        print(
            "  (tito copies your notebook edits into the .py before every test; "
            "editing the .py in any editor works too)"
        )
    else:
        print(
            f"JupyterLab is not installed: `pip install -e '.[learn]'` installs it, then "
            f"`jupyter lab {shown}`; or edit {source} in any editor"
        )
    print(f"check your work with:  tito module test {module.number}")
    return 0


def _scripts_path() -> str:
    """PATH with this interpreter's scripts folder first (a venv's jupyter-lab, even if not activated)."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def milestones_unlocked_by(root: Path, module: ModuleInfo) -> list[str]:
    """Lines announcing milestones this completion unlocked."""
    from tito import milestones

    try:
        found, _problems = milestones.find_milestones(root)
    except TitoError:
        return []
    done = progress.completed_tags(root)
    return [
        f"milestone unlocked: {m.name} ({m.year}, {m.title}); run it with `tito milestone run {m.name}`"
        for m in found
        if module.tag in m.requires and all(tag in done for tag in m.requires)
    ]


def cmd_test_completed(root: Path, timeout: float) -> int:
    """`make test` for a learner: progress, then the tests of every module recorded complete."""
    cmd_status(root)
    done = [state.module for state in progress.states(root) if state.status == "complete"]
    if not done:
        print("\nno module is complete yet, so there is nothing to re-test; start with `tito module start 01`")
        return 0
    print(f"\nre-running the tests of the {len(done)} complete module(s):")
    failed = []
    for module in done:
        command = [sys.executable, "-m", "pytest", f"tests/{module.tag}", "-q", "--tb=no", "--color=no",
                   "-p", "no:cacheprovider"]
        result = subprocess.run(command, cwd=root, env=repo_env(root), capture_output=True, text=True, timeout=timeout)
        totals = pytest_totals(result.stdout) or f"exit status {result.returncode}"
        ok = result.returncode == 0
        print(f"  {'PASS' if ok else 'FAIL'}  tests/{module.tag}: {totals}")
        if not ok:
            failed.append(module)
    if failed:
        print("run `tito module test NN` on a failing module to see why: " + ", ".join(m.number for m in failed))
        return 1
    return 0


def cmd_sync(root: Path, item: str, keep: str | None) -> int:
    """`tito module sync NN [--keep notebook|py]`: sync one pair now, or settle a conflict."""
    module = resolve(root, item)
    if keep:
        print(pairing.keep(root, module, keep))
        return 0
    if not pairing.notebook_of(module).is_file():
        print(f"{module.tag} has no notebook yet (`tito module start {module.number}` creates it)")
        return 0
    print(pairing.sync_module(root, module) or f"{module.tag}: notebook and .py already in step")
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
