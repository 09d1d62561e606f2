"""The student release's last gate: prove that no solution text reached the learner's copy.

Two checks over every file of the release:
- no solution marker comment survives in code (Markdown is exempt: docs/module-format.md has
  to show the markers to explain them, and a marker alone reveals nothing);
- no line of any solution region appears, unless the line is trivial (shorter than
  MIN_SECRET_LENGTH characters once stripped, like `return out`) or the instructor's module
  files also show it outside every region (then the learner sees it there anyway, and refusing
  it would make the release impossible).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tito.export import find_modules
from tito.fileio import read_text_or_none
from tito.regions import find_regions

MIN_SECRET_LENGTH = 20
MARKER_TEXTS = ("### " + "BEGIN SOLUTION", "### " + "END SOLUTION")


@dataclass
class Secrets:
    lines: dict[str, str]  # stripped solution line -> where it comes from ("modules/..:12")
    public: set[str]  # stripped lines the modules show outside regions


def collect_secrets(root: Path) -> Secrets:
    """The instructor modules' non-trivial solution lines, and the lines they show openly."""
    secrets: dict[str, str] = {}
    public: set[str] = set()
    for module in find_modules(root):
        for path in sorted(module.folder.glob("*.py")):
            relative = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            inside = [False] * len(lines)
            for region in find_regions(text, relative):
                for index in range(region.begin, region.end + 1):
                    inside[index] = True
                for offset, line in enumerate(region.body(lines), start=region.begin + 2):
                    stripped = line.strip()
                    if len(stripped) >= MIN_SECRET_LENGTH:
                        secrets.setdefault(stripped, f"{relative}:{offset}")
            public.update(line.strip() for line, hidden in zip(lines, inside) if not hidden)
    return Secrets(secrets, public)


def scan(release: Path, secrets: Secrets) -> list[str]:
    """Every leak found in the release folder, as 'file:line: what leaked'. Empty means clean."""
    problems = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        text = read_text_or_none(path)
        if text is None:
            continue
        relative = path.relative_to(release).as_posix()
        check_markers = path.suffix.lower() != ".md"
        for number, line in enumerate(text.splitlines(), start=1):
            if check_markers and any(marker in line for marker in MARKER_TEXTS):
                problems.append(f"{relative}:{number}: solution marker left in the release")
            stripped = line.strip()
            origin = secrets.lines.get(stripped)
            if origin is not None and stripped not in secrets.public:
                problems.append(f"{relative}:{number}: solution line from {origin}: {stripped}")
    return problems
