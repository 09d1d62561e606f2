"""One submission's workspace: the learner's modules beside the instructor's own tests.

Layout (a repository, so tests find `tests/`, `datasets/` and the package where they expect):

    ws/                 owned by the grader, not writable by the child
      modules/          the learner's module files                   (the child may write)
      tinytorch/        hand-written files + exported from modules/   (the child may write)
      .tmp/ .home/      TMPDIR and HOME for the child                 (the child may write)
      tests/            conftest.py, support.py, fixtures/, NN_name/ (+ NN_name/hidden/), from
                        the instructor: read-only, checksummed before and after the run
      datasets/         the instructor's shipped datasets, read-only

The learner's own tests/ are never used. Submissions are folders or .zip / .tar.gz archives;
archives are unpacked with limits on size and file count and without links, absolute paths or
`..`, and nothing is executed while staging (export only parses the module files).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tito.errors import TitoError, UsageError
from tito.export import MODULE_DIR, ModuleInfo, export, find_modules, is_generated

STUDENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ARCHIVES = (".zip", ".tar.gz", ".tgz")
MAX_FILES = 3000
MAX_BYTES = 64 << 20
MAX_FILE_BYTES = 8 << 20
LEARNER_PARTS = ("modules", "tinytorch")
CHILD_WRITABLE = ("modules", "tinytorch", ".tmp", ".home")
PYTEST_INI = "pytest.ini"  # the grader's: a learner's pyproject.toml never configures pytest here
INSTRUCTOR_PARTS = ("tests", "datasets", PYTEST_INI)  # read-only to the child; everything else in ws is its


class SubmissionError(TitoError):
    """This submission cannot be graded (missing module, bad archive, too big); costs its grade only."""


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path  # a folder or an archive


def find_submissions(folder: Path) -> list[Submission]:
    """One submission per student: `alice/`, `alice.zip`, `alice.tar.gz` or `alice.tgz`."""
    if not folder.is_dir():
        raise UsageError(f"argument --submissions: expected a folder of submissions, got {folder}")
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        name = entry.name
        if entry.is_dir():
            student = name
        elif name.endswith(ARCHIVES):
            student = next(name[: -len(s)] for s in ARCHIVES if name.endswith(s))
        else:
            continue
        if not STUDENT_NAME.match(student):
            raise UsageError(
                f"argument --submissions: {entry.name!r} does not name a student; expected letters, "
                "digits, '.', '_' or '-' (at most 64), e.g. alice or alice.zip"
            )
        if student in found:
            raise UsageError(
                f"argument --submissions: two submissions for {student!r} ({found[student].path.name}, {name})"
            )
        found[student] = Submission(student, entry)
    if not found:
        raise UsageError(
            f"argument --submissions: expected one learner repository per student in {folder} "
            "(a folder, .zip, .tar.gz or .tgz each), found none"
        )
    return list(found.values())


def _safe_relative(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


class _Budget:
    def __init__(self) -> None:
        self.files = self.bytes = 0

    def take(self, size: int, name: str) -> None:
        self.files += 1
        self.bytes += size
        if size > MAX_FILE_BYTES:
            raise SubmissionError(f"{name} is {size / 2**20:.1f} MiB (at most {MAX_FILE_BYTES >> 20} MiB per file)")
        if self.files > MAX_FILES or self.bytes > MAX_BYTES:
            raise SubmissionError(f"the submission holds more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB")


def unpack(submission: Submission, into: Path) -> Path:
    """The learner's repository root: the folder itself, or the archive unpacked into `into`."""
    if submission.path.is_dir():
        return _repository_root(submission.path)
    budget = _Budget()
    into.mkdir(parents=True, exist_ok=True)
    try:
        if submission.path.name.endswith(".zip"):
            with zipfile.ZipFile(submission.path) as archive:
                for info in archive.infolist():
                    kind = stat.S_IFMT(info.external_attr >> 16)
                    relative = _safe_relative(info.filename)
                    if info.is_dir() or relative is None or kind not in (0, stat.S_IFREG):
                        continue  # folders are made as needed; links and odd names never
                    budget.take(info.file_size, info.filename)
                    target = into / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as source, target.open("wb") as sink:
                        _copy_limited(source, sink, info.file_size, info.filename)
        else:
            with tarfile.open(submission.path, "r:gz") as archive:
                for member in archive:
                    relative = _safe_relative(member.name)
                    if not member.isfile() or relative is None:
                        continue
                    budget.take(member.size, member.name)
                    target = into / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    with source, target.open("wb") as sink:
                        _copy_limited(source, sink, member.size, member.name)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise SubmissionError(f"{submission.path.name} is not a readable archive ({error})") from None
    return _repository_root(into)


def _copy_limited(source, sink, declared: int, name: str) -> None:
    """Copy at most the declared size (a zip can lie about it)."""
    left = declared
    while True:
        chunk = source.read(min(1 << 20, left + 1))
        if not chunk:
            return
        left -= len(chunk)
        if left < 0:
            raise SubmissionError(f"{name} holds more bytes than its archive entry declares")
        sink.write(chunk)


def _repository_root(folder: Path) -> Path:
    """The folder holding modules/: the submission itself or its single top-level folder."""
    for candidate in (folder, *sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())):
        if (candidate / "modules").is_dir() and not (candidate / "modules").is_symlink():
            return candidate
    raise SubmissionError("no modules/ folder in the submission (expected the learner's repository)")


def _learner_files(repo: Path) -> list[PurePosixPath]:
    """Regular files under modules/ and tinytorch/ (no links, no caches, no notebooks), within budget."""
    budget = _Budget()
    chosen = []
    for part in LEARNER_PARTS:
        top = repo / part
        if not top.is_dir() or top.is_symlink():
            continue
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not os.path.islink(os.path.join(folder, d))]
            for name in files:
                path = Path(folder, name)
                if path.is_symlink() or not path.is_file() or name.endswith((".pyc", ".ipynb")):
                    continue
                relative = PurePosixPath(path.relative_to(repo).as_posix())
                if relative.parts[0] == "modules" and not MODULE_DIR.match(
                    relative.parts[1] if len(relative.parts) > 2 else ""
                ):
                    continue
                budget.take(path.stat().st_size, relative.as_posix())
                chosen.append(relative)
    return chosen


@dataclass
class Workspace:
    root: Path
    notes: list[str]  # what staging noticed (a module of the learner's that did not export)
    checksums: dict[str, str]  # instructor's files in the workspace -> SHA-256


def checksum_tree(folder: Path) -> dict[str, str]:
    sums = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            sums[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def protected_checksums(ws: Path) -> dict[str, str]:
    """SHA-256 of every instructor file in the workspace (tests, datasets, the pytest config)."""
    sums = {}
    if (ws / PYTEST_INI).is_file():
        sums[PYTEST_INI] = hashlib.sha256((ws / PYTEST_INI).read_bytes()).hexdigest()
    for top in ("tests", "datasets"):
        if (ws / top).is_dir():
            sums.update({f"{top}/{name}": digest for name, digest in checksum_tree(ws / top).items()})
    return sums


def stage(
    repo: Path,
    instructor: Path,
    module: ModuleInfo,
    hidden: Path | None,
    ws: Path,
    owner: tuple[int, int] | None,
) -> Workspace:
    """Fill `ws` (see the module docstring); `owner` is the sandbox (uid, gid) when isolated."""
    notes: list[str] = []
    for relative in _learner_files(repo):
        target = ws / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo / relative, target)
    if not (ws / "modules" / module.tag / module.source.name).is_file():
        raise SubmissionError(f"the submission has no modules/{module.tag}/{module.source.name}")
    _add_handwritten_package(instructor, ws)
    for learner_module in find_modules(ws):
        try:
            export(ws, [learner_module.tag])
        except (TitoError, ValueError, SyntaxError, UnicodeDecodeError) as error:
            if learner_module.tag == module.tag:
                raise SubmissionError(f"modules/{module.tag} could not be exported: {error}") from None
            notes.append(
                f"modules/{learner_module.tag} could not be exported, its committed package file was used: {error}"
            )
    _copy_tests(instructor, module, hidden, ws)
    if (instructor / "datasets").is_dir():
        shutil.copytree(instructor / "datasets", ws / "datasets", ignore=shutil.ignore_patterns("__pycache__"))
    for name in (".tmp", ".home"):
        (ws / name).mkdir(exist_ok=True)
    (ws / PYTEST_INI).write_text("[pytest]\n", encoding="utf-8")
    _set_permissions(ws, owner)
    return Workspace(ws, notes, protected_checksums(ws))


def _add_handwritten_package(instructor: Path, ws: Path) -> None:
    """A learner repository without tinytorch/ gets the instructor's hand-written re-export files."""
    if (ws / "tinytorch" / "__init__.py").is_file():
        return
    for path in sorted((instructor / "tinytorch").rglob("*.py")):
        if "__pycache__" in path.parts or is_generated(path):
            continue
        target = ws / path.relative_to(instructor)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def hidden_folder(hidden: Path | None, module: ModuleInfo, instructor: Path) -> Path | None:
    """Where the hidden tests of `module` are: DIR/NN_name/ when it exists, else DIR itself.

    They run from tests/NN_name/hidden/, and pytest imports test files by their base name, so a
    hidden file may not share its name with a released one.
    """
    if hidden is None:
        return None
    folder = hidden / module.tag if (hidden / module.tag).is_dir() else hidden
    names = {p.name for p in folder.rglob("test_*.py")}
    if not names:
        raise UsageError(f"argument --hidden-tests: no test_*.py in {folder}")
    clash = names & {p.name for p in (instructor / "tests" / module.tag).rglob("test_*.py")}
    if clash:
        raise UsageError(
            f"argument --hidden-tests: {', '.join(sorted(clash))} also exist in tests/{module.tag}; "
            "give hidden test files their own names (e.g. test_hidden_*.py)"
        )
    return folder


def _copy_tests(instructor: Path, module: ModuleInfo, hidden: Path | None, ws: Path) -> None:
    tests = instructor / "tests"
    (ws / "tests").mkdir()
    for path in tests.iterdir():
        if path.is_file() and path.suffix == ".py":
            shutil.copyfile(path, ws / "tests" / path.name)
    if (tests / "fixtures").is_dir():
        shutil.copytree(tests / "fixtures", ws / "tests" / "fixtures")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    shutil.copytree(tests / module.tag, ws / "tests" / module.tag, ignore=ignore)
    folder = hidden_folder(hidden, module, instructor)
    if folder is not None:
        shutil.copytree(folder, ws / "tests" / module.tag / "hidden", ignore=ignore)


def _set_permissions(ws: Path, owner: tuple[int, int] | None) -> None:
    """Learner parts: the child's. Everything else: read-only to it (by owner, or by mode).

    The workspace root itself is sticky and world-writable, like /tmp: tests that write into
    the current folder can, but nobody but root can rename or delete tests/, datasets/ or
    pytest.ini there.
    """
    os.chmod(ws, 0o1777 if owner else 0o755)
    for folder, dirs, files in os.walk(ws):
        top = Path(folder).relative_to(ws).parts[:1]
        writable = bool(top) and top[0] in CHILD_WRITABLE
        for name in files:
            path = os.path.join(folder, name)
            os.chmod(path, 0o644 if writable or owner else 0o444)
            if writable and owner:
                os.chown(path, *owner)
        if Path(folder) != ws:
            os.chmod(folder, 0o755 if writable or owner else 0o555)
            if writable and owner:
                os.chown(folder, *owner)
    for name in CHILD_WRITABLE:
        if (ws / name).is_dir() and owner:
            os.chown(ws / name, *owner)


def remove(ws: Path) -> None:
    """Delete a workspace, first making read-only folders writable again."""
    if not ws.exists():
        return
    for folder, _dirs, _files in os.walk(ws):
        try:
            os.chmod(folder, 0o755)
        except OSError:
            pass
    shutil.rmtree(ws, ignore_errors=True)


def new_workspace(parent: Path, student: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{student}.", dir=parent))
