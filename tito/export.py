"""`tito export`: generate tinytorch/ from the export cells of modules/.

The format is pinned down in docs/module-format.md.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError, UsageError
from tito.fileio import write_atomically
from tito.notebook import default_exp, parse_cells
from tito.regions import MARKER, find_regions

HEADER = "# Generated from {source} by `tito export`. Do not edit: edit the module."
HEADER_PREFIX = "# Generated from "
SOLUTION_MARKER = MARKER  # kept under its old name for callers that import it from here
MODULE_DIR = re.compile(r"^(\d\d)_([a-z0-9_]+)$")


@dataclass
class ModuleInfo:
    number: str  # "01"
    name: str  # "tensor"
    folder: Path  # modules/01_tensor
    source: Path  # modules/01_tensor/tensor.py

    @property
    def tag(self) -> str:
        return f"{self.number}_{self.name}"


def find_modules(root: Path) -> list[ModuleInfo]:
    """Every modules/NN_name/name.py under root, in course order."""
    if not (root / "modules").is_dir():
        raise TitoError(f"{root}: no modules/ folder")
    found = []
    for folder in sorted((root / "modules").iterdir()):
        match = MODULE_DIR.match(folder.name)
        if match and (folder / f"{match.group(2)}.py").is_file():
            source = folder / f"{match.group(2)}.py"
            found.append(ModuleInfo(match.group(1), match.group(2), folder, source))
    return found


def select_modules(root: Path, wanted: list[str] | None, label: str = "MODULE") -> list[ModuleInfo]:
    """The modules named by number ("1", "01"), name ("tensor") or tag ("01_tensor").

    All modules when `wanted` is empty. An unknown name is a usage error that lists the
    modules that do exist, so a typo is fixed at a glance.
    """
    modules = find_modules(root)
    if not wanted:
        return modules
    chosen: list[ModuleInfo] = []
    for item in wanted:
        number = item.zfill(2) if item.isdigit() else None
        matches = [m for m in modules if item in (m.name, m.tag) or number == m.number]
        if not matches:
            known = ", ".join(m.tag for m in modules) or "none yet"
            raise UsageError(
                f"argument {label}: expected a module number (like 01) or name (like tensor), "
                f"got {item!r}; the modules are: {known}"
            )
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def drop_solution_markers(lines: list[str]) -> list[str]:
    return [line for line in lines if not MARKER.match(line)]


def render_module(
    module: ModuleInfo, root: Path, transform=drop_solution_markers
) -> tuple[Path, str]:
    """(package file, its generated text) for one module; `transform` rewrites export-cell lines."""
    path, text, _origin = render_with_origins(module, root, transform)
    return path, text


def render_with_origins(
    module: ModuleInfo, root: Path, transform=drop_solution_markers
) -> tuple[Path, str, list[int | None]]:
    """Like render_module, plus the module-file line each generated line came from (or None).

    The module's solution regions are validated first, so a broken marker is reported with
    its line instead of silently leaking a marker into the package. The origins let a syntax
    error in the generated file be reported at the line the learner wrote.
    """
    text = module.source.read_text(encoding="utf-8")
    relative = module.source.relative_to(root).as_posix()
    find_regions(text, relative)
    cells = parse_cells(text)
    target = default_exp(cells, module.source)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*", target):
        raise TitoError(f"{relative}: '#| default_exp {target}' is not a dotted module path")
    lines: list[str] = [HEADER.format(source=relative), ""]
    origin: list[int | None] = [None, None]
    first = True
    for cell in cells:
        if cell.kind != "export":
            continue
        body = transform(cell.lines)
        # Line numbers are exact for the default transform (which only drops marker lines).
        numbers = [n for n, line in zip(cell.numbers, cell.lines) if not MARKER.match(line)]
        if len(numbers) != len(body):
            numbers = [None] * len(body)
        pairs = list(zip(body, numbers))
        while pairs and pairs[0][0] == "":
            pairs.pop(0)
        while pairs and pairs[-1][0] == "":
            pairs.pop()
        if not pairs:
            continue
        if not first:  # two blank lines between cells: PEP 8 spacing between top-level definitions
            lines += ["", ""]
            origin += [None, None]
        first = False
        lines += [line for line, _ in pairs]
        origin += [number for _, number in pairs]
    out = "\n".join(lines) + "\n"
    return root / "tinytorch" / Path(*target.split(".")).with_suffix(".py"), out, origin


def render_all(
    root: Path, modules: list[ModuleInfo]
) -> list[tuple[ModuleInfo, Path, str, list[int | None]]]:
    """Render every chosen module, refusing two modules that export to the same file."""
    rendered = []
    owners: dict[Path, ModuleInfo] = {}
    for module in modules:
        path, text, origin = render_with_origins(module, root)
        if path in owners:
            raise TitoError(
                f"{module.source.relative_to(root).as_posix()} and "
                f"{owners[path].source.relative_to(root).as_posix()} both export to "
                f"{path.relative_to(root).as_posix()}; give each module its own default_exp"
            )
        owners[path] = module
        rendered.append((module, path, text, origin))
    return rendered


def is_generated(path: Path) -> bool:
    """True for package files written by `tito export` (they start with the header)."""
    with path.open(encoding="utf-8", errors="replace") as stream:
        return stream.readline().startswith(HEADER_PREFIX)


def export(root: Path, wanted: list[str] | None = None) -> list[tuple[Path, bool]]:
    """Write the package files for the chosen modules; returns (file, whether it changed).

    Unchanged files are not rewritten, so their timestamps stay put and editors do not reload.
    """
    targets = find_modules(root) if not wanted else select_modules(root, wanted)
    results = []
    failures = []
    for module, path, text, origin in render_all(root, targets):
        problem = compile_problem(module, root, path, text, origin)
        if problem:
            failures.append(problem)
            continue
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        if changed:
            write_atomically(path, text)
        results.append((path, changed))
    if failures:
        raise ExportError(failures, results)
    return results


class ExportError(TitoError):
    """Some modules did not compile; their package files were left as they were."""

    def __init__(self, failures: list[str], written: list[tuple[Path, bool]]):
        self.failures = failures
        self.written = written
        super().__init__("\n".join(failures))


def compile_problem(
    module: ModuleInfo, root: Path, path: Path, text: str, origin: list[int | None]
) -> str | None:
    """None when the generated text compiles; else where it breaks, in the learner's terms.

    Compiling before writing means a module with a syntax error never replaces the package's
    last good file, so `import tinytorch` keeps working for every other module.
    """
    shown = path.relative_to(root).as_posix()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings (bad escapes) are not failures
            compile(text, shown, "exec", dont_inherit=True)
    except SyntaxError as error:
        line = error.lineno or 0
        source_line = origin[line - 1] if 0 < line <= len(origin) else None
        code = text.splitlines()[line - 1].strip() if 0 < line <= len(text.splitlines()) else ""
        where = module.source.relative_to(root).as_posix()
        where += f", line {source_line}" if source_line else f" (generated line {line})"
        kept = "keeps its last good version" if path.exists() else "was not written"
        return (
            f"{where}: {type(error).__name__}: {error.msg}\n    {code}\n"
            f"    {shown} {kept}; fix the module and export again"
        )
    return None


def check(root: Path, wanted: list[str] | None = None) -> list[str]:
    """Stale, hand-edited, missing or orphaned generated files, each with a diff summary."""
    modules = find_modules(root) if not wanted else select_modules(root, wanted)
    problems = []
    rendered = render_all(root, modules)
    for module, path, expected, _origin in rendered:
        shown = path.relative_to(root).as_posix()
        source = module.source.relative_to(root).as_posix()
        if not path.exists():
            problems.append(f"{shown}: missing (run `tito export {module.number}`)")
            continue
        actual = path.read_text(encoding="utf-8")
        if actual != expected:
            problems.append(_difference(shown, source, module.number, expected, actual))
    if not wanted:
        problems.extend(_orphans(root, {path for _, path, _, _ in rendered}))
    return problems


def _difference(shown: str, source: str, number: str, expected: str, actual: str) -> str:
    diff = list(
        difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "generated", "on disk", n=0, lineterm=""
        )
    )
    body = [line for line in diff if not line.startswith(("+++", "---"))]
    added = sum(1 for line in body if line.startswith("+"))
    removed = sum(1 for line in body if line.startswith("-"))
    preview = "\n".join("    " + line for line in body[:8])
    more = f"\n    ... {len(body) - 8} more diff lines" if len(body) > 8 else ""
    return (
        f"{shown}: differs from what {source} generates (+{added} -{removed} lines on disk; "
        f"hand-edited or stale, run `tito export {number}`)\n{preview}{more}"
    )


def _orphans(root: Path, expected_paths: set[Path]) -> list[str]:
    """Generated files that no module produces any more (a module was renamed or removed)."""
    package = root / "tinytorch"
    if not package.is_dir():
        return []
    orphans = []
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts or path in expected_paths or not is_generated(path):
            continue
        orphans.append(
            f"{path.relative_to(root).as_posix()}: generated file that no module exports to "
            "any more (stale); delete it or restore its module"
        )
    return orphans
