"""`tito milestone list|run`: the historical demos that run on the learner's own framework.

A milestone is milestones/YYYY_name/run.py with, near the top, a literal dict

    MILESTONE = {"title": "...", "year": 1969, "requires": ["01_tensor", ...], "description": "..."}

It is read with `ast.literal_eval`, never imported: listing milestones must not run learner code
(which may be unfinished) or the milestone's training loop.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tito import progress
from tito.errors import TitoError, UsageError
from tito.export import find_modules
from tito.procs import exit_status, repo_env, run_streaming

FOLDER = re.compile(r"^(\d{4})_([a-z0-9_]+)$")
MODULE_TAG = re.compile(r"^\d\d_[a-z0-9_]+$")
FIELDS = {"title": str, "year": int, "requires": list, "description": str}


@dataclass
class Milestone:
    name: str  # folder name, "1969_xor"
    script: Path
    title: str
    year: int
    requires: list[str]
    description: str


class MilestoneError(TitoError):
    """A milestone's run.py lacks a valid MILESTONE dict; the message says what is wrong."""


def read_milestone(folder: Path) -> Milestone:
    """Parse folder/run.py's MILESTONE dict without executing the file."""
    script = folder / "run.py"
    shown = f"milestones/{folder.name}/run.py"
    if not script.is_file():
        raise MilestoneError(f"{shown}: missing")
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=shown)
    except SyntaxError as error:
        raise MilestoneError(f"{shown}:{error.lineno}: not valid Python ({error.msg})") from None
    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == "MILESTONE" for target in targets):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError):
                raise MilestoneError(
                    f"{shown}:{node.lineno}: MILESTONE must be a literal dict "
                    "(no names or calls inside)"
                ) from None
            break
    if not isinstance(value, dict):
        raise MilestoneError(
            f"{shown}: expected a top-level `MILESTONE = {{...}}` dict with "
            f"keys {', '.join(FIELDS)}"
        )
    for key, kind in FIELDS.items():
        if not isinstance(value.get(key), kind) or isinstance(value.get(key), bool):
            raise MilestoneError(
                f"{shown}: MILESTONE[{key!r}] must be a {kind.__name__}, got {value.get(key)!r}"
            )
    requires = value["requires"]
    if not all(isinstance(item, str) for item in requires):
        raise MilestoneError(
            f"{shown}: MILESTONE['requires'] must list module names as strings, got {requires!r}"
        )
    malformed = [item for item in requires if not MODULE_TAG.match(item)]
    if malformed:
        raise MilestoneError(
            f"{shown}: MILESTONE['requires'] must name modules like 01_tensor, got "
            f"{', '.join(map(repr, malformed))}"
        )
    year = int(FOLDER.match(folder.name).group(1))
    if value["year"] != year:
        raise MilestoneError(
            f"{shown}: MILESTONE['year'] is {value['year']} but the folder says {year}"
        )
    return Milestone(
        folder.name, script, value["title"], value["year"], list(requires), value["description"]
    )


def find_milestones(root: Path) -> tuple[list[Milestone], list[str]]:
    """(valid milestones in year order, problems with the invalid ones)."""
    base = root / "milestones"
    if not base.is_dir():
        return [], []
    found, problems = [], []
    for folder in sorted(base.iterdir()):
        if folder.is_dir() and FOLDER.match(folder.name):
            try:
                found.append(read_milestone(folder))
            except MilestoneError as error:
                problems.append(str(error))
    return found, problems


def resolve(root: Path, name: str) -> Milestone:
    """The milestone named by its folder ("1969_xor"), its name ("xor") or its year ("1969")."""
    milestones, problems = find_milestones(root)
    matches = [m for m in milestones if name in (m.name, m.name.split("_", 1)[1], m.name[:4])]
    if len(matches) == 1:
        return matches[0]
    broken = [p for p in problems if f"milestones/{name}" in p]
    if broken:
        raise TitoError(broken[0])
    known = ", ".join(m.name for m in milestones) or "none yet"
    if matches:
        raise UsageError(
            f"argument NAME: {name!r} matches several milestones "
            f"({', '.join(m.name for m in matches)}); use the full folder name"
        )
    raise UsageError(
        f"argument NAME: expected a milestone folder name (like 1969_xor), got {name!r}; "
        f"the milestones are: {known}"
    )


def cmd_list(root: Path) -> int:
    milestones, problems = find_milestones(root)
    done = progress.completed_tags(root)
    existing = {module.tag for module in find_modules(root)}
    absent = False
    if milestones:
        width = max(len(m.name) for m in milestones)
        title_width = max(len(m.title) for m in milestones)
        print(
            f"{'name':<{width + 2}}{'year':<6}{'title':<{title_width + 2}}{'unlocked':<10}requires"
        )
        for m in milestones:
            missing = [tag for tag in m.requires if tag not in done]
            unlocked = "yes" if not missing else "no"
            # A "*" marks a required module this repository does not have (yet).
            shown = [tag if tag in existing else f"{tag}*" for tag in m.requires]
            absent = absent or len(shown) != len(existing.intersection(m.requires))
            print(
                f"{m.name:<{width + 2}}{m.year:<6}{m.title:<{title_width + 2}}{unlocked:<10}"
                f"{', '.join(shown) or '-'}"
            )
        if absent:
            print("* no such module in modules/ yet")
        print(
            "\nrun one with:  tito milestone run NAME   (locked ones need their modules complete)"
        )
    else:
        print("no milestones found in milestones/")
    for problem in problems:
        print(f"invalid milestone: {problem}", file=sys.stderr)
    return 1 if problems else 0


OWN_FLAGS = ("--json", "--force")
HELP = ("-h", "--help")


def split_run_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """`milestone run ...` -> (the arguments for tito's parser, the arguments for run.py).

    NAME is the first word that is not an option. tito's own flags (--json, --force) may come
    anywhere; every other argument after NAME is the milestone's (`--dataset mnist --epochs 3`),
    and so is everything after `--`. `-h` before NAME is tito's help, after NAME the milestone's.
    """
    rest = argv[2:]
    after_dashes: list[str] = []
    if "--" in rest:
        cut = rest.index("--")
        rest, after_dashes = rest[:cut], rest[cut + 1 :]
    own, forwarded, name = [], [], None
    for token in rest:
        if token in OWN_FLAGS or (name is None and token in HELP):
            own.append(token)
        elif name is None and not token.startswith("-"):
            name = token
        elif name is None:
            raise UsageError(
                f"argument {token}: the milestone's own options go after its NAME, "
                f"e.g. tito milestone run 1986_mlp {token} ..."
            )
        else:
            forwarded.append(token)
    return argv[:2] + own + ([name] if name else []), forwarded + after_dashes


def cmd_run(root: Path, name: str, as_json: bool, force: bool, extra: list[str]) -> int:
    milestone = resolve(root, name)
    if any(token in HELP for token in extra):
        # Help needs no unlocked modules: it only shows the options the milestone accepts.
        print(
            f"usage: tito milestone run {milestone.name} [--json] [--force] [OPTIONS]\n"
            f"OPTIONS go to milestones/{milestone.name}/run.py; its help follows.\n"
        )
        sys.stdout.flush()
        script = milestone.script.relative_to(root).as_posix()
        outcome = run_streaming([sys.executable, script, "--help"], root, repo_env(root), merge_stderr=True)
        return exit_status(outcome.returncode)
    done = progress.completed_tags(root)
    missing = [tag for tag in milestone.requires if tag not in done]
    if missing and not force:
        existing = {module.tag for module in find_modules(root)}
        needs = ", ".join(
            f"{tag} ({'complete' if tag in done else 'not complete' if tag in existing else 'no such module yet'})"
            for tag in milestone.requires
        )
        steps = [f"tito module complete {tag[:2]}" for tag in missing if tag in existing]
        raise TitoError(
            f"milestone {milestone.name} is locked until the modules it runs on are complete.\n"
            f"  it needs: {needs}\n"
            + (f"  next: {'; '.join(steps)}\n" if steps else "")
            + "  (`tito module status` shows your progress; instructors: --force runs it anyway)"
        )
    if missing:
        print(
            f"--force: running {milestone.name} although {', '.join(missing)} are not complete",
            file=sys.stderr,
        )
    command = [
        sys.executable,
        milestone.script.relative_to(root).as_posix(),
        *(["--json"] if as_json else []),
        *extra,
    ]
    print(f"--- {milestone.year}: {milestone.title}", file=sys.stderr if as_json else sys.stdout)
    outcome = run_streaming(command, root, repo_env(root), merge_stderr=not as_json)
    if outcome.returncode != 0:
        print(
            f"milestone {milestone.name} exited with status {outcome.returncode}", file=sys.stderr
        )
        return exit_status(outcome.returncode)
    if as_json:
        lines = [line for line in outcome.output.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        try:
            parsed = json.loads(last)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            print(
                f"milestone {milestone.name} --json: the last line of its output must be a JSON "
                f"object, got {last[:200]!r}",
                file=sys.stderr,
            )
            return 1
    return 0
