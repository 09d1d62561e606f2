"""`tito export`: generate tinytorch/ from the export cells of modules/. See docs/module-format.md."""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tito.notebook import default_exp, parse_cells

HEADER = "# Generated from {source} by `tito export`. Do not edit: edit the module."
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
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
    found = []
    for folder in sorted((root / "modules").iterdir()):
        match = MODULE_DIR.match(folder.name)
        if match and (folder / f"{match.group(2)}.py").is_file():
            found.append(ModuleInfo(match.group(1), match.group(2), folder, folder / f"{match.group(2)}.py"))
    return found


def select_modules(root: Path, numbers: list[str] | None) -> list[ModuleInfo]:
    """The modules named by number ("1", "01") or name ("tensor"); all when numbers is empty."""
    modules = find_modules(root)
    if not numbers:
        return modules
    chosen = []
    for wanted in numbers:
        matches = [m for m in modules if wanted in (m.number, m.name, m.tag) or wanted.zfill(2) == m.number]
        if not matches:
            known = ", ".join(m.tag for m in modules)
            raise SystemExit(f"tito: no module {wanted!r}; the modules are: {known}")
        chosen.extend(matches)
    return chosen


def drop_solution_markers(lines: list[str]) -> list[str]:
    return [line for line in lines if not SOLUTION_MARKER.match(line)]


def render_module(module: ModuleInfo, root: Path, transform=drop_solution_markers) -> tuple[Path, str]:
    """(package file, its generated text) for one module; `transform` rewrites export-cell lines."""
    text = module.source.read_text(encoding="utf-8")
    cells = parse_cells(text)
    target = default_exp(cells, module.source)
    relative = module.source.relative_to(root).as_posix()
    blocks = []
    for cell in cells:
        if cell.kind == "export":
            body = "\n".join(transform(cell.lines)).strip("\n")
            if body:
                blocks.append(body)
    out = HEADER.format(source=relative) + "\n\n" + "\n\n\n".join(blocks) + "\n"
    return root / "tinytorch" / Path(*target.split(".")).with_suffix(".py"), out


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export(root: Path, numbers: list[str] | None = None) -> list[Path]:
    """Write the package files for the chosen modules; returns the files written."""
    written = []
    for module in select_modules(root, numbers):
        path, text = render_module(module, root)
        write_atomically(path, text)
        written.append(path)
    return written


def check(root: Path, numbers: list[str] | None = None) -> list[str]:
    """Problems (stale or hand-edited generated files), each with a short diff summary."""
    problems = []
    for module in select_modules(root, numbers):
        path, expected = render_module(module, root)
        shown = path.relative_to(root).as_posix()
        if not path.exists():
            problems.append(f"{shown}: missing (run `tito export {module.number}`)")
            continue
        actual = path.read_text(encoding="utf-8")
        if actual != expected:
            diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "generated", "on disk", n=0, lineterm=""))
            changed = sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
            preview = "\n".join("    " + line for line in diff[2:8])
            problems.append(
                f"{shown}: differs from {module.source.relative_to(root).as_posix()} "
                f"({changed} changed lines; hand-edited or stale, run `tito export {module.number}`)\n{preview}"
            )
    return problems
