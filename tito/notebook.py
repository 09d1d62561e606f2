"""Parse a module file (jupytext percent format) into cells. See docs/module-format.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CELL_START = "# %%"
DIRECTIVE = re.compile(r"^#\|\s*(\w+)\s*(.*)$")


@dataclass
class Cell:
    kind: str  # "markdown", "export", "test", "analysis", "default_exp" or "code"
    lines: list[str]  # the body, directive line excluded
    argument: str = ""  # the directive's argument (the target for default_exp)
    start_line: int = 0  # 1-based line number of the cell's "# %%" line
    numbers: list[int] | None = None  # 1-based source line number of each entry of `lines`


def parse_cells(text: str) -> list[Cell]:
    """Split a percent-format script into cells, reading each cell's directive."""
    cells: list[Cell] = []
    header: list[str] = []
    current: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(CELL_START):
            if current is not None:
                cells.append(_make_cell(*current))
            current = (line, number, [])
        elif current is None:
            header.append(line)
        else:
            current[2].append(line)
    if current is not None:
        cells.append(_make_cell(*current))
    return cells


def _make_cell(marker: str, start_line: int, body: list[str]) -> Cell:
    numbers = list(range(start_line + 1, start_line + 1 + len(body)))
    if "[markdown]" in marker:
        return Cell("markdown", body, start_line=start_line, numbers=numbers)
    for position, line in enumerate(body):
        if not line.strip():
            continue
        match = DIRECTIVE.match(line.strip())
        if match and match.group(1) in {"export", "test", "analysis", "default_exp"}:
            rest = body[:position] + body[position + 1 :]
            kept = numbers[:position] + numbers[position + 1 :]
            return Cell(match.group(1), rest, match.group(2).strip(), start_line, kept)
        break
    return Cell("code", body, start_line=start_line, numbers=numbers)


def default_exp(cells: list[Cell], source: Path) -> str:
    """The dotted package path a module exports to (`core.tensor`)."""
    for cell in cells:
        if cell.kind == "default_exp":
            return cell.argument
    raise ValueError(f"{source}: no '#| default_exp' cell; see docs/module-format.md")
