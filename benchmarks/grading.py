"""Grading throughput: a synthetic class of 30 graded end to end by `tito grade` on a real module.

The class is built from this repository's real student release (`tito release student`):
correct students get every solution restored (`tito release restore`), buggy ones are correct
except for one function of the graded module left unimplemented, stub students hand in the
release as it came for that module, and hostile ones are correct plus one entry each of
tests/tito/grading_support.py's HOSTILE table (all twelve: endless loop, os._exit and sys.exit
at import, os.abort, memory bomb, bounded fork bomb, a gigabyte of output, patched pytest,
asserts patched away, tests edited, the gradebook written, forged reports) in an export cell
at the end of the graded module, so it runs when the package module is imported.

    python benchmarks/grading.py [--module 04] [--jobs 2] [--students 30] [--json]

Prints the students per minute and checks every score against an oracle that does not use the
grader: for one student of each honest kind, `tito export` and plain `pytest` in a copy of the
submission; that student's kind must get exactly the tests pytest passed (1 point each), and
every hostile student must get 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "tito")]

from grading_support import HOSTILE  # noqa: E402

from tito.export import select_modules  # noqa: E402
from tito.grading.gradebook import Gradebook  # noqa: E402
from tito.regions import find_regions, qualified_names, stub_line  # noqa: E402
from tito.release import build_student_release  # noqa: E402
from tito.restore import restore_solutions  # noqa: E402

HONEST_KINDS = ["correct"] * 10 + ["buggy"] * 4 + ["stub"] * 4  # then one of each HOSTILE entry


def one_function_missing(instructor_text: str, folder: str, source: str) -> str:
    """The instructor's module with only its first solution region replaced by the stub."""
    regions = find_regions(instructor_text, source)
    name = qualified_names(instructor_text, regions, source)[0]
    lines = instructor_text.splitlines()
    first = regions[0]
    lines[first.begin : first.end + 1] = [stub_line(first.indent, name, folder)]
    return "\n".join(lines) + "\n"


def instructor_copy(out: Path, module) -> Path:
    """The parts of this repository that grading `module` needs (modules, package, its tests).

    Releasing only these keeps the benchmark independent of unrelated files elsewhere in the
    tree (another module's benchmark or tests) that the release's leak scan may be refusing.
    """
    copy = out / "instructor"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.ipynb", "*.png")
    for folder in ("modules", "tinytorch", "datasets", "tests/fixtures", f"tests/{module.tag}"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, copy / folder, ignore=ignore)
    for name in ("tests/conftest.py", "tests/support.py", "pyproject.toml", "README.md"):
        if (ROOT / name).is_file():
            shutil.copyfile(ROOT / name, copy / name)
    return copy


def build_class(out: Path, instructor: Path, module, count: int, gradebook: Path) -> dict[str, str]:
    release = out / "release"
    build_student_release(instructor, release)
    relative = module.source.relative_to(ROOT)
    plan: dict[str, str] = {}
    kinds = HONEST_KINDS + list(HOSTILE)
    for number in range(count):
        kind = kinds[number % len(kinds)]
        student = f"s{number:02d}-{kind.replace('_', '-')}"
        target = out / "submissions" / student
        shutil.copytree(release, target)
        plan[student] = kind
        stubbed = (target / relative).read_text(encoding="utf-8")
        restore_solutions(instructor, target)
        text = module.source.read_text(encoding="utf-8")
        if kind == "buggy":
            text = one_function_missing(text, f"modules/{module.tag}", relative.as_posix())
        elif kind == "stub":
            text = stubbed
        elif kind in HOSTILE:
            # Last export cell: it runs when the package module is imported, before any test.
            code = HOSTILE[kind].replace("GRADEBOOK", repr(str(gradebook)))
            text = text.rstrip("\n") + f"\n\n\n# %%\n#| export\n{code}\n"
        (target / relative).write_text(text, encoding="utf-8")
    return plan


def oracle(submission: Path, module, work: Path) -> set[str]:
    """Test ids (relative to tests/NN_name) that plain pytest passes on an exported copy of `submission`."""
    copy = work / "oracle" / submission.name
    shutil.copytree(submission, copy)
    env = {**os.environ, "PYTHONPATH": str(copy), "OPENBLAS_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "tito.main", "export"]  # every module, as the grader does
    subprocess.run(run, cwd=copy, env=env, check=True, capture_output=True)
    pytest = [sys.executable, "-m", "pytest", f"tests/{module.tag}", "-q", "-rA", "-p", "no:cacheprovider"]
    done = subprocess.run(pytest, cwd=copy, env=env, capture_output=True, text=True)
    prefix = f"PASSED tests/{module.tag}/"
    return {line[len(prefix) :] for line in done.stdout.splitlines() if line.startswith(prefix)}


def check_scores(plan: dict[str, str], rows: dict, submissions: Path, module, work: Path) -> list[str]:
    """Every student's score against the oracle; returns what disagrees."""
    passed: dict[str, set[str]] = {}
    for student, kind in plan.items():
        if kind in ("correct", "buggy", "stub") and kind not in passed:
            passed[kind] = oracle(submissions / student, module, work)
    wrong = []
    for student, kind in plan.items():
        row = rows[student]
        got = {test.test for test in row.tests if test.outcome == "passed"}
        if kind in passed:
            ok = row.status == "complete" and got == passed[kind] and row.points == len(passed[kind])
            if kind == "correct":
                ok = ok and row.points == row.max_points
        else:
            ok = row.points == 0 and bool(row.reason)
        if not ok:
            expected = len(passed[kind]) if kind in passed else 0
            got_text = f"{row.points:g}/{row.max_points:g} (expected {expected:g})"
            wrong.append(f"{student}: {got_text} {row.status} {row.reason}")
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="04")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    module = select_modules(ROOT, [args.module])[0]
    work = Path(tempfile.mkdtemp(prefix="tito-grade-bench."))
    try:
        started = time.monotonic()
        instructor = instructor_copy(work, module)
        gradebook = work / "private" / "gradebook.sqlite"
        plan = build_class(work, instructor, module, args.students, gradebook)
        built = time.monotonic() - started
        command = [
            sys.executable, "-m", "tito.main", "grade", module.tag, "--submissions", str(work / "submissions"),
            "--gradebook", str(gradebook), "--jobs", str(args.jobs), "--timeout", str(args.timeout), "--memory", "1536",
        ]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, cwd=instructor, capture_output=True, text=True)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        book = Gradebook(gradebook)
        rows = {row.student: row for row in book.submissions(module.tag)}
        book.close()
        wrong = check_scores(plan, rows, work / "submissions", module, work)
        kinds = sorted(set(plan.values()), key=list(plan.values()).index)
        result = {
            "module": module.tag,
            "students": len(plan),
            "jobs": args.jobs,
            "class_build_seconds": round(built, 1),
            "grading_seconds": round(seconds, 1),
            "students_per_minute": round(len(plan) / seconds * 60, 1),
            "scores_as_expected": len(plan) - len(wrong),
            "points_by_kind": {k: sorted({rows[s].points for s in plan if plan[s] == k}) for k in kinds},
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        print(done.stdout)
        for line in wrong:
            print("UNEXPECTED", line)
        print(json.dumps(result) if args.json else "\n".join(f"{k:>22}: {v}" for k, v in result.items()))
        return 1 if wrong else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
