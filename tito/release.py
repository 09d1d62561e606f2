"""`tito release student`: write the learner's repository, with every solution replaced by a stub.

Steps, each one checked: copy what learners need (never .ci/, .git, virtual environments or
caches), replace each solution region in modules/ by a `raise NotImplementedError` line, replace
README.md and Makefile by the learner's versions (tito/learner_repo.py), regenerate tinytorch/
from the stripped modules with the same export code, record what was released, scan the result
for leaked solution text, and make it a git repository with one initial commit. The release is built in a staging
folder beside DIR and moved into place only when every check passed, so a leaky or half-built
release never appears at DIR.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tito import leaks
from tito.errors import TitoError, UsageError
from tito.export import MODULE_DIR, export, find_modules, is_generated
from tito.fileio import current_umask, sha256_of, write_atomically
from tito.learner_repo import start_git_history, write_learner_files
from tito.regions import strip_solutions

LEARNER_DIRS = (
    "modules",
    "tests",
    "milestones",
    "benchmarks",
    "datasets",
    "olympics",  # module 20's baseline entries: the reference every learner's entry is scored against
    "docs",
    "tito",
    "tinytorch",
)
LEARNER_FILES = ("pyproject.toml", "README.md", "Makefile", ".gitignore", "LICENSE")
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".tito"}
SKIPPED_SUFFIXES = (".pyc", ".ipynb")
MANIFEST = ".tito-release.json"


class ReleaseError(TitoError):
    """The release could not be built, or failed its leak scan."""


@dataclass
class ReleaseReport:
    out: Path
    files: int  # files copied from the instructor repository
    stubs: dict[str, int]  # module file -> regions replaced
    generated: list[str]  # package files regenerated from the stripped modules
    history: str = ""  # what became of git ("git repository with one initial commit")


def learner_files(root: Path) -> list[str]:
    """Repository-relative paths (POSIX) of the files a learner's copy starts from.

    In a git checkout this is what git tracks plus new files it does not ignore, so local
    clutter covered by .gitignore (virtual environments, progress, caches) never ships. Outside
    git, the same folders are walked. Generated package files are left out: the release
    regenerates them from the stripped modules.
    """
    if (root / ".git").exists() and shutil.which("git"):
        listed = (
            subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=root,
                capture_output=True,
                check=True,
            )
            .stdout.decode("utf-8")
            .split("\0")
        )
    else:
        # Walk only the learner folders: a virtual environment alone holds thousands of files.
        found = [p for folder in LEARNER_DIRS for p in (root / folder).rglob("*") if p.is_file()]
        found += [root / name for name in LEARNER_FILES]
        listed = [p.relative_to(root).as_posix() for p in found]
    chosen = []
    for name in sorted(set(filter(None, listed))):
        parts = PurePosixPath(name).parts
        wanted = parts[0] in LEARNER_DIRS if len(parts) > 1 else name in LEARNER_FILES
        if not wanted or SKIPPED_PARTS.intersection(parts) or name.endswith(SKIPPED_SUFFIXES):
            continue
        if parts[0] == "modules" and name.endswith(".png"):  # plots drawn by analysis cells
            continue
        path = root / name
        if not path.is_file():  # tracked by git but deleted in the work tree
            continue
        if parts[0] == "tinytorch" and name.endswith(".py") and is_generated(path):
            continue
        chosen.append(name)
    return chosen


def check_destination(root: Path, out: Path, force: bool) -> None:
    """Refuse destinations that would lose work or copy the repository into itself."""
    root, out = root.resolve(), out.resolve()
    if out == root or out in root.parents:
        raise UsageError(
            f"argument --out: expected a folder outside the repository, got {out}, "
            "which contains the repository itself"
        )
    for folder in LEARNER_DIRS:
        if out.is_relative_to(root / folder):
            raise UsageError(
                f"argument --out: {out} is inside {folder}/, which the release copies; "
                "choose a folder elsewhere (for example ../student)"
            )
    if out.exists() and not out.is_dir():
        raise UsageError(f"argument --out: expected a folder, got the file {out}")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(
                f"argument --out: {out} exists and is not empty; choose an empty or "
                "new folder, or pass --force to replace an earlier release there"
            )
        if not (out / MANIFEST).is_file():
            raise UsageError(
                f"argument --out: {out} is not empty and holds no earlier release "
                f"({MANIFEST} is missing); --force only replaces a release, so "
                "empty that folder yourself if you really mean it"
            )


def build_student_release(root: Path, out: Path, force: bool = False) -> ReleaseReport:
    """Write the student release of the repository at `root` to `out` (see the module docstring)."""
    check_destination(root, out, force)
    if not find_modules(root):
        raise ReleaseError(
            f"{root}/modules holds no module (modules/NN_name/name.py); nothing to release"
        )
    secrets = leaks.collect_secrets(root)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging.", dir=out.parent))
    # mkdtemp makes the folder private (0700); the release is an ordinary folder.
    os.chmod(staging, 0o777 & ~current_umask())
    try:
        names = learner_files(root)
        for name in names:
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / name, target)
            shutil.copymode(root / name, target)
        stubs = _strip_modules(staging)
        write_learner_files(staging)
        generated = [path.relative_to(staging).as_posix() for path, _ in export(staging)]
        _write_manifest(staging, stubs)
        problems = leaks.scan(staging, secrets)
        if problems:
            shown = "\n  ".join(problems[:30])
            more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
            raise ReleaseError(
                f"solution text found in the release; nothing was written to {out}:"
                f"\n  {shown}{more}"
            )
        history = start_git_history(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return ReleaseReport(out, len(names), stubs, generated, history)


def _strip_modules(release: Path) -> dict[str, int]:
    """Replace every region in modules/NN_name/*.py of the release; returns stubs per file."""
    stubs = {}
    for folder in sorted((release / "modules").iterdir()):
        if not (folder.is_dir() and MODULE_DIR.match(folder.name)):
            continue
        for path in sorted(folder.glob("*.py")):
            relative = path.relative_to(release).as_posix()
            text = path.read_text(encoding="utf-8")
            stripped, count = strip_solutions(text, f"modules/{folder.name}", relative)
            if count:
                write_atomically(path, stripped)
                stubs[relative] = count
    return stubs


def _write_manifest(release: Path, stubs: dict[str, int]) -> None:
    """Record each module file's released state, so `tito module status` can tell edits apart.

    Hashes only, no dates or paths: the same instructor repository gives the same release.
    """
    modules = {}
    for module in find_modules(release):
        relative = module.source.relative_to(release).as_posix()
        modules[module.tag] = {
            "file": relative,
            "sha256": sha256_of(module.source),
            "stubs": stubs.get(relative, 0),
        }
    manifest = {"format": 1, "modules": modules}
    write_atomically(release / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(root: Path) -> dict | None:
    """The release manifest of a learner's repository, or None in the instructor's repository."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TitoError(f"{path}: not valid JSON ({error}); restore it from your release") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("modules"), dict):
        raise TitoError(f"{path}: expected an object with a 'modules' object")
    return manifest
