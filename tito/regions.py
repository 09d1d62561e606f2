"""Solution regions of a module file: where they are, which function holds them, their stubs.

A region is the code between a BEGIN SOLUTION and an END SOLUTION comment line (see
docs/module-format.md). Export drops the two marker lines; the student release replaces the
whole region by one `raise NotImplementedError(...)` line; restore puts it back. All three
read regions through this file so they agree on what a region is.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from tito.errors import TitoError
from tito.notebook import parse_cells

# Written without the literal marker text, so this file never looks like a leftover region
# to the release's leak scan.
MARKER = re.compile(r"^(\s*)### (BEGIN|END) SOLUTION\s*$")
STUB = re.compile(
    r'^(?P<indent>\s*)raise NotImplementedError\("(?P<name>.+?) is not implemented yet, '
    r'see (?P<module>modules/[^"]+)"\)\s*$'
)


class RegionError(TitoError):
    """A module file breaks the solution-region rules; the message gives file and line."""


@dataclass(frozen=True)
class Region:
    begin: int  # 0-based index of the BEGIN marker line
    end: int  # 0-based index of the END marker line
    indent: str  # the markers' leading whitespace

    def body(self, lines: list[str]) -> list[str]:
        """The learner's part: the lines strictly between the two markers."""
        return lines[self.begin + 1 : self.end]


def find_regions(text: str, source: str) -> list[Region]:
    """Every solution region in a module file, checked against the format's rules.

    Rules (docs/module-format.md): regions never nest, BEGIN and END share one indentation,
    no line of the region is indented less than its markers (so it cannot span a def), and
    regions sit only in `#| export` cells. `source` names the file in error messages.
    """
    lines = text.splitlines()
    cell_kind = _cell_kind_by_line(text)
    regions: list[Region] = []
    opened: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        match = MARKER.match(line)
        if opened is not None and not match and line.strip() and not line.startswith(opened[1]):
            raise RegionError(
                f"{source}:{index + 1}: line is indented less than the BEGIN SOLUTION marker "
                f"at line {opened[0] + 1}; a region must stay inside one block"
            )
        if not match:
            continue
        indent, kind = match.groups()
        if kind == "BEGIN":
            if opened is not None:
                raise RegionError(
                    f"{source}:{index + 1}: BEGIN SOLUTION inside the region opened at line "
                    f"{opened[0] + 1}; regions never nest"
                )
            if cell_kind[index] != "export":
                raise RegionError(
                    f"{source}:{index + 1}: solution region in a '{cell_kind[index]}' cell; "
                    "regions sit only in '#| export' cells"
                )
            opened = (index, indent)
        else:
            if opened is None:
                raise RegionError(f"{source}:{index + 1}: END SOLUTION without a BEGIN above it")
            if indent != opened[1]:
                raise RegionError(
                    f"{source}:{index + 1}: END SOLUTION is indented differently from its "
                    f"BEGIN SOLUTION at line {opened[0] + 1}"
                )
            regions.append(Region(opened[0], index, indent))
            opened = None
    if opened is not None:
        raise RegionError(f"{source}:{opened[0] + 1}: BEGIN SOLUTION is never closed")
    return regions


def _cell_kind_by_line(text: str) -> list[str]:
    """For each 0-based line, the kind of the cell it belongs to ("header" before any cell)."""
    total = len(text.splitlines())
    kinds = ["header"] * total
    cells = parse_cells(text)
    for position, cell in enumerate(cells):
        stop = cells[position + 1].start_line - 1 if position + 1 < len(cells) else total
        for index in range(cell.start_line - 1, stop):
            kinds[index] = cell.kind
    return kinds


def qualified_names(text: str, regions: list[Region], source: str) -> list[str]:
    """The function each region sits in, with its classes: `Tensor.__add__`, `relu`.

    Uses the syntax tree rather than indentation so multi-line signatures and decorators cannot
    confuse it. The innermost def whose lines contain the BEGIN marker wins; enclosing classes
    and functions are joined with dots.
    """
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as error:
        raise RegionError(f"{source}:{error.lineno}: not valid Python ({error.msg})") from None
    names = []
    for region in regions:
        chain = _enclosing_chain(tree, region.begin + 1)
        if not chain or not isinstance(chain[-1], (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise RegionError(
                f"{source}:{region.begin + 1}: solution region is not inside a function; the "
                "student stub is a `raise`, which would run at import time anywhere else"
            )
        names.append(".".join(node.name for node in chain))
    return names


def _enclosing_chain(tree: ast.AST, line: int) -> list[ast.AST]:
    """The defs and classes containing 1-based `line`, outermost first."""
    chain: list[ast.AST] = []
    nodes = list(ast.iter_child_nodes(tree))
    while nodes:
        for node in nodes:
            defines = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if defines and node.lineno <= line <= (node.end_lineno or node.lineno):
                chain.append(node)
                nodes = list(ast.iter_child_nodes(node))
                break
            if not defines and hasattr(node, "lineno"):
                # A def may sit inside an `if` or `try` block; look through such statements.
                if node.lineno <= line <= (node.end_lineno or node.lineno):
                    nodes = list(ast.iter_child_nodes(node))
                    break
        else:
            break
    return chain


def stub_line(indent: str, name: str, module_folder: str) -> str:
    """The one line that replaces a region in the student release."""
    return (
        f'{indent}raise NotImplementedError("{name} is not implemented yet, see {module_folder}")'
    )


def strip_solutions(text: str, module_folder: str, source: str) -> tuple[str, int]:
    """(the text with every region replaced by its stub, how many regions were replaced)."""
    regions = find_regions(text, source)
    names = qualified_names(text, regions, source)
    lines = text.splitlines()
    for region, name in reversed(list(zip(regions, names))):
        lines[region.begin : region.end + 1] = [stub_line(region.indent, name, module_folder)]
    return _join(lines, text), len(regions)


def _join(lines: list[str], original: str) -> str:
    """Lines back to text, keeping whether the original ended with a newline."""
    return "\n".join(lines) + ("\n" if original.endswith("\n") else "")
