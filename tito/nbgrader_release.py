"""`tito release nbgrader --out DIR`: every module as an nbgrader source notebook.

DIR becomes an nbgrader course folder:

    DIR/nbgrader_config.py
    DIR/source/NN_name/name.ipynb      one assignment per module, named by its tag

Each cell of the module (read by jupytext, so the notebook is what `tito module start` opens)
gets nbgrader metadata by its kind (docs/module-format.md):

- an export cell with solution regions   solution cell; nbgrader's own `### BEGIN/END SOLUTION`
                                          markers are the course's, so generate_assignment
                                          stubs exactly the regions the student release stubs
- a `#| test` cell                        autograded test cell, locked, `points` each (default 1)
- a markdown "**Your answer:**" cell      manually graded answer (reflection question)
- everything else (narrative, analysis, export code without regions)   locked, read-only

Needs jupytext and nbformat (the `cli` extra); nbgrader itself is only needed to use the result
(`pip install -e '.[classroom]'`). `import tinytorch` never imports any of them.
"""

from __future__ import annotations

import re
from pathlib import Path

from tito.errors import TitoError, UsageError
from tito.export import ModuleInfo, find_modules, select_modules
from tito.fileio import write_atomically
from tito.regions import MARKER

SCHEMA_VERSION = 3
DIRECTIVE = re.compile(r"^#\|\s*(export|test|analysis|default_exp)\b")
TEST_NAME = re.compile(r"^def (test_unit_\w+)\(", re.MULTILINE)
ANSWER = re.compile(r"^\s*\*\*Your answer:\*\*", re.IGNORECASE)
CONFIG = '''"""nbgrader configuration written by `tito release nbgrader`: one assignment per module."""

c = get_config()  # noqa: F821 (provided by nbgrader when it reads this file)
c.CourseDirectory.root = "."
c.CourseDirectory.course_id = "tinytorch"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ExecutePreprocessor.timeout = 300
'''


def cell_kind(cell) -> str:
    """solution, test, answer or locked (see the module docstring)."""
    source = cell.source
    if cell.cell_type == "markdown":
        return "answer" if ANSWER.match(source) else "locked"
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    match = DIRECTIVE.match(first)
    directive = match.group(1) if match else None
    if directive == "test":
        return "test"
    if directive == "export" and any(MARKER.match(line) for line in source.splitlines()):
        return "solution"
    return "locked"


def nbgrader_metadata(kind: str, grade_id: str, points: float) -> dict:
    metadata = {
        "grade": kind in ("test", "answer"),
        "solution": kind in ("solution", "answer"),
        "locked": kind in ("test", "locked"),
        "task": False,
        "grade_id": grade_id,
        "schema_version": SCHEMA_VERSION,
    }
    if metadata["grade"]:
        metadata["points"] = points
    return metadata


def module_notebook(module: ModuleInfo, points: float = 1.0):
    """The module as an nbformat notebook with nbgrader metadata on every cell."""
    try:
        import jupytext
    except ImportError:
        raise TitoError("tito release nbgrader needs jupytext: pip install -e '.[cli]'") from None
    notebook = jupytext.read(module.source, fmt="py:percent")
    used: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        kind = cell_kind(cell)
        names = TEST_NAME.findall(cell.source) if kind == "test" else []
        grade_id = names[0] if names else f"{kind}-{index:03d}"
        while grade_id in used:  # nbgrader needs every grade_id unique
            grade_id += "-again"
        used.add(grade_id)
        cell.metadata["nbgrader"] = nbgrader_metadata(kind, grade_id, points)
        if kind == "locked":
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def release_nbgrader(root: Path, out: Path, wanted: list[str] | None = None, force: bool = False) -> list[Path]:
    """Write DIR/nbgrader_config.py and DIR/source/NN_name/name.ipynb; returns the notebooks."""
    import nbformat

    source = out / "source"
    if source.exists() and any(source.iterdir()) and not force:
        raise UsageError(f"argument --out: {source} already holds assignments; pass --force to rewrite them")
    modules = select_modules(root, wanted) if wanted else find_modules(root)
    if not modules:
        raise TitoError(f"{root}/modules holds no module; nothing to release")
    written = []
    for module in modules:
        path = source / module.tag / f"{module.name}.ipynb"
        write_atomically(path, nbformat.writes(module_notebook(module)) + "\n")
        written.append(path)
    write_atomically(out / "nbgrader_config.py", CONFIG)
    return written


def register(release_commands, leaf) -> None:
    """`tito release nbgrader` under `tito release`."""
    parser = release_commands.add_parser("nbgrader", help="write every module as an nbgrader source notebook")
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="modules to write (default: all)")
    parser.add_argument("--out", required=True, metavar="DIR", help="nbgrader course folder (source/ goes inside)")
    parser.add_argument("--force", action="store_true", help="rewrite assignments already in DIR/source")
    leaf(parser, _command)


def _command(args) -> int:
    from tito.repo import project_root

    out = Path(args.out)
    written = release_nbgrader(project_root(), out, args.modules, args.force)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} assignment(s) in {out / 'source'}; next: cd {out} && nbgrader generate_assignment NN_name")
    return 0
