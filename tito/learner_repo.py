"""What makes a student release a learner's repository: its README, its Makefile, its git history.

The instructor's README (release steps, maintainer notes) and Makefile (`make test` runs the whole
suite, which on a fresh release is every stub failing at once) are replaced by the templates in
tito/templates/, filled in with the modules and milestones the release really has. The release
then becomes a git repository with one initial commit, so the learner's own history starts at
the course as shipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tito.errors import TitoError
from tito.export import find_modules
from tito.fileio import write_atomically

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEMO = "1986_mlp"  # the instructor Makefile's demo; the learner's `make demo` runs the same one
TITLE = re.compile(r"^# # Module \d+\s*[—:-]+\s*(?P<title>.+)$")
# Used only when the machine has no git identity, so the initial commit can be made at all.
FALLBACK_IDENTITY = ("TinyTorch release", "tinytorch-release@localhost")


def _title(source: Path) -> str:
    for line in source.read_text(encoding="utf-8").splitlines():
        match = TITLE.match(line)
        if match:
            return match["title"].strip()
    return ""


def _milestones(release: Path) -> list:
    from tito.milestones import find_milestones

    found, _problems = find_milestones(release)
    return found


def demo_name(release: Path) -> str:
    names = [m.name for m in _milestones(release)]
    return DEMO if DEMO in names or not names else names[0]


def write_learner_files(release: Path) -> None:
    """Replace README.md and Makefile of the release by the learner's versions."""
    modules = "\n".join(
        f"| {m.number} | {m.name} | {_title(m.source)} |" for m in find_modules(release)
    )
    milestones = "\n".join(
        f"| {m.year} | `{m.name}`: {m.title} | {', '.join(tag[:2] for tag in m.requires)} |"
        for m in _milestones(release)
    ) or "| | (none in this release yet) | |"
    demo = demo_name(release)
    readme = (TEMPLATES / "student_README.md").read_text(encoding="utf-8")
    readme = readme.replace("{{modules}}", modules).replace("{{milestones}}", milestones)
    write_atomically(release / "README.md", readme.replace("{{demo}}", demo))
    makefile = (TEMPLATES / "student_Makefile").read_text(encoding="utf-8")
    write_atomically(release / "Makefile", makefile.replace("{{demo}}", demo))


def _git(release: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=release, capture_output=True, text=True)


def start_git_history(release: Path) -> str:
    """`git init` and one initial commit; returns a line saying what was done.

    The identity is the machine's git identity when it has one; otherwise one is set for this
    single commit only (not written to any config), so the learner's own commits use theirs.
    """
    if shutil.which("git") is None:
        return "git is not installed: the release is a plain folder (run `git init` there later)"
    steps = [("init", "-q"), ("add", "-A")]
    for step in steps:
        result = _git(release, *step)
        if result.returncode != 0:
            raise TitoError(f"git {' '.join(step)} in {release} failed: {result.stderr.strip()}")
    identity: list[str] = []
    if not _git(release, "config", "user.email").stdout.strip():
        name, email = FALLBACK_IDENTITY
        identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    result = subprocess.run(
        ["git", *identity, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "TinyTorch course, as released"],
        cwd=release,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise TitoError(f"git commit in {release} failed: {result.stderr.strip()}")
    return "git repository with one initial commit"
