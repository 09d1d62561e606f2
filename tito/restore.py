"""`tito release restore`: put the instructor's solutions back into a student release.

The inverse of the stripping in tito/release.py, used by CI for the round trip: a fresh release
must fail its tests for the right reason, and the same release with its solutions restored (and
re-exported) must pass them. Each stub line is replaced by the matching region of the
instructor's module file, in order; a stub whose function name does not match its region is an
error, so a restore can never put a solution into the wrong function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tito.errors import TitoError, UsageError
from tito.export import MODULE_DIR
from tito.fileio import write_atomically
from tito.regions import STUB, find_regions, qualified_names


@dataclass
class Restored:
    file: str  # repository-relative module file
    regions: int  # stubs replaced
    identical: bool  # the file now equals the instructor's byte for byte


def restore_solutions(instructor: Path, student: Path) -> list[Restored]:
    """Replace the stubs in `student`'s module files by `instructor`'s solution regions."""
    for flag, folder in (("--from", instructor), ("--into", student)):
        if not (folder / "modules").is_dir():
            raise UsageError(
                f"argument {flag}: expected a TinyTorch repository with a modules/ "
                f"folder, got {folder}"
            )
    if instructor.resolve() == student.resolve():
        raise UsageError(
            "arguments --from and --into: expected two different repositories, "
            f"got {instructor} twice"
        )
    results = []
    for folder in sorted((instructor / "modules").iterdir()):
        if not (folder.is_dir() and MODULE_DIR.match(folder.name)):
            continue
        for source in sorted(folder.glob("*.py")):
            relative = source.relative_to(instructor).as_posix()
            text = source.read_text(encoding="utf-8")
            regions = find_regions(text, relative)
            if regions:
                results.append(_restore_file(text, regions, relative, student / relative))
    return results


def _restore_file(text: str, regions, relative: str, target: Path) -> Restored:
    if not target.is_file():
        raise TitoError(
            f"{relative}: the instructor's file has solutions but the release has no such file"
        )
    names = qualified_names(text, regions, relative)
    solution_lines = text.splitlines()
    current = target.read_text(encoding="utf-8")
    lines = current.splitlines()
    stubs = [(index, STUB.match(line)) for index, line in enumerate(lines)]
    stubs = [(index, match) for index, match in stubs if match]
    if len(stubs) != len(regions):
        raise TitoError(
            f"{relative}: the release has {len(stubs)} NotImplementedError stub(s) but the "
            f"instructor's file has {len(regions)} solution region(s); was the release edited?"
        )
    for (index, match), name in zip(stubs, names):
        if match.group("name") != name:
            raise TitoError(
                f"{relative}:{index + 1}: stub for {match.group('name')!r} where the instructor's "
                f"file has the solution of {name!r}; the two files no longer line up"
            )
    # Replace from the bottom up so earlier indices stay valid.
    for (index, _), region in reversed(list(zip(stubs, regions))):
        lines[index : index + 1] = solution_lines[region.begin : region.end + 1]
    restored = "\n".join(lines) + ("\n" if current.endswith("\n") else "")
    write_atomically(target, restored)
    return Restored(relative, len(regions), restored == text)
