"""Running a module's cells the way the notebook does, reporting every `#| test` cell.

`python modules/NN_name/name.py` stops at the first failing test, so one stub early in the
file hides the feedback on everything after it. `tito module test` runs the module through
this runner instead, in a child process:

    python -m tito.inline modules/01_tensor/tensor.py [-k NAME] [--report FILE]

Every code cell runs in order in one namespace, exactly as top-to-bottom execution would
(same `__name__`, `__file__`, `sys.path[0]`, line numbers), so analysis and code cells keep
their dependencies. The differences: a failing `#| test` cell is recorded and the run goes on;
an `#| analysis` cell that reaches a stub is skipped with a note; with `-k NAME` only test cells
defining a matching `test_*` function run, and analysis cells are skipped (they measure, they do
not check). A failing export or plain code cell stops the run: later cells depend on it.

Each outcome is one of: pass; wrong (an AssertionError: the code ran but a value is wrong);
stub (NotImplementedError: a function is still a stub, named with its module); error (any other
exception). The report file is JSON, read back by tito/module_cmds.py.
"""

from __future__ import annotations
import __future__

import argparse
import ast
import builtins
import functools
import json
import operator
import os
import re
import sys
import time
import traceback
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.notebook import parse_cells

STUB_MESSAGE = re.compile(r"^(?P<name>.+?) is not implemented yet, see (?P<module>modules/\S+)")
RUNNABLE = {"export", "test", "analysis", "code"}
FUTURE_FLAGS = functools.reduce(
    operator.or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names), 0
)


@dataclass
class Outcome:
    cell: str  # "test", "analysis", "export" or "code"
    name: str  # the test function(s) of a test cell, else "cell at line N"
    line: int  # the cell's first line in the module file
    status: str  # "pass", "wrong", "stub", "error", "skipped"
    message: str = ""  # the full assertion or exception message
    where: str = ""  # "file, line N, in function" of the deepest relevant frame
    stub: str = ""  # for status "stub": the unimplemented function
    stub_module: str = ""  # ... and the module folder it belongs to (modules/01_tensor)
    seconds: float = 0.0
    frames: list[str] = field(default_factory=list)


def test_names(source: str) -> list[str]:
    """The `test*` functions a cell defines, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")
    ]


def _relative(name: str, root: Path) -> str:
    path = Path(name)
    if path.is_absolute() and path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return name


def classify(error: BaseException, module_file: Path, root: Path) -> dict:
    """Status, message and location of an exception raised by a cell."""
    frames = traceback.extract_tb(error.__traceback__)
    shown = [f"{_relative(f.filename, root)}, line {f.lineno}, in {f.name}" for f in frames[1:]]
    tests = [f for f in frames if f.name.startswith("test")]
    deepest = frames[-1] if frames else None
    where = ""
    if deepest is not None:
        where = f"{_relative(deepest.filename, root)}, line {deepest.lineno}, in {deepest.name}"
    details = {"message": str(error), "where": where, "frames": shown[-6:]}
    if isinstance(error, NotImplementedError):
        match = STUB_MESSAGE.match(str(error))
        details.update(status="stub")
        if match:
            details.update(stub=match["name"], stub_module=match["module"])
        return details
    if isinstance(error, AssertionError):
        # Where the assertion failed is the line of the test (or its helper) that checked it.
        if tests:
            test = tests[-1]
            details["where"] = f"{_relative(test.filename, root)}, line {test.lineno}, in {test.name}"
        details.update(status="wrong")
        return details
    details.update(status="error", message=f"{type(error).__name__}: {error}")
    return details


def run_module(module_file: Path, root: Path, pattern: str | None = None, echo=print) -> list[Outcome]:
    """Run the module's cells in order; returns one Outcome per test cell and per problem."""
    text = module_file.read_text(encoding="utf-8")
    lines = text.splitlines()
    cells = parse_cells(text)
    # A fresh __main__ module, as `python name.py` makes: dataclasses and pickling look classes
    # up through sys.modules[cls.__module__].
    main_module = types.ModuleType("__main__")
    main_module.__file__ = str(module_file)
    main_module.__builtins__ = builtins
    sys.modules["__main__"] = main_module
    namespace = main_module.__dict__
    sys.path.insert(0, str(module_file.parent))  # what `python name.py` puts first
    sys.argv = [str(module_file)]
    os.environ.setdefault("MPLBACKEND", "Agg")  # a plot in an analysis cell must never block
    outcomes: list[Outcome] = []
    future_flags = 0
    for index, cell in enumerate(cells):
        if cell.kind not in RUNNABLE:
            continue
        end = cells[index + 1].start_line - 1 if index + 1 < len(cells) else len(lines)
        # Pad with blank lines so tracebacks give the module file's own line numbers.
        source = "\n" * cell.start_line + "\n".join(lines[cell.start_line : end]) + "\n"
        names = test_names(source) if cell.kind == "test" else []
        label = ", ".join(names) if names else f"cell at line {cell.start_line}"
        if pattern is not None:
            if cell.kind == "analysis":
                continue
            # A test cell that defines no test (shared helpers) always runs.
            if cell.kind == "test" and names and not any(pattern in name for name in names):
                continue
        started = time.perf_counter()
        try:
            code = compile(source, str(module_file), "exec", flags=future_flags, dont_inherit=True)
            # `from __future__ import annotations` in an early cell holds for the whole file when
            # it runs as a script (and in Jupyter), so it must carry over to the later cells here.
            future_flags |= code.co_flags & FUTURE_FLAGS
            exec(code, namespace)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # learner code may raise anything, SystemExit included
            details = classify(error, module_file, root)
            outcome = Outcome(cell.kind, label, cell.start_line, **details)
            outcome.seconds = time.perf_counter() - started
            if cell.kind == "analysis" and outcome.status == "stub":
                outcome.status = "skipped"
            if cell.kind == "test" and outcome.where and outcome.status != "stub":
                failed = re.search(r"in (test\w*)$", outcome.where)
                if failed and failed.group(1) in names:
                    outcome.name = failed.group(1)
            outcomes.append(outcome)
            echo(describe(outcome))
            if cell.kind in ("export", "code") and outcome.status != "stub":
                echo("      (the cells after this one depend on it, so the run stops here)")
                break
            continue
        if cell.kind == "test":
            outcomes.append(Outcome("test", label, cell.start_line, "pass", seconds=time.perf_counter() - started))
    return outcomes


def describe(outcome: Outcome) -> str:
    """One headline per problem, then the full message, indented (never cut)."""
    where = f" ({outcome.where})" if outcome.where else ""
    if outcome.status == "stub":
        owner = f" in {outcome.stub_module}" if outcome.stub_module else ""
        head = f"TODO  {outcome.name}: needs {outcome.stub or 'a stub'}{owner}, not implemented yet"
        return head
    if outcome.status == "skipped":
        return f"SKIP  analysis at line {outcome.line}: needs {outcome.stub or 'a stub'}, not implemented yet"
    kind = "implemented, but a value is wrong" if outcome.status == "wrong" else "raised an error"
    body = "\n".join(f"        {line}" for line in outcome.message.splitlines())
    return f"FAIL  {outcome.name}: {kind}{where}" + (f"\n{body}" if body else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tito.inline", description=__doc__.split("\n")[0])
    parser.add_argument("module_file")
    parser.add_argument("-k", dest="pattern", default=None, help="run only tests whose name contains this")
    parser.add_argument("--report", default=None, help="write the outcomes to this JSON file")
    args = parser.parse_args(argv)
    module_file = Path(args.module_file).resolve()
    outcomes = run_module(module_file, Path.cwd().resolve(), args.pattern)
    if args.report:
        Path(args.report).write_text(json.dumps([asdict(o) for o in outcomes]), encoding="utf-8")
    tests = [o for o in outcomes if o.cell == "test"]
    bad = [o for o in outcomes if o.status != "pass"]
    print(f"\ninline tests: {sum(o.status == 'pass' for o in tests)} of {len(tests)} test cell(s) passed")
    return 1 if bad or (args.pattern is None and not tests) else 0


if __name__ == "__main__":
    sys.exit(main())
