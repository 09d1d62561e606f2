"""The `tito grade` command line: `tito grade MODULE --submissions DIR ...` and `tito grade report`."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from tito.errors import UsageError
from tito.export import select_modules
from tito.grading import sandbox
from tito.grading.gradebook import SubmissionRow, open_gradebook
from tito.grading.grader import Grader, now_iso
from tito.grading.report import write_report
from tito.grading.rubric import load_rubric
from tito.grading.workspace import find_submissions
from tito.repo import project_root

DEFAULT_GRADEBOOK = Path(".tito") / "gradebook.sqlite"


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    return parse


def register(commands, leaf) -> None:
    grade = commands.add_parser(
        "grade",
        help="instructor: grade a class in a sandbox, or report the gradebook",
        usage="tito grade MODULE --submissions DIR [options]\n       tito grade report --out DIR [--module MODULE]",
        description="Grades every submission in DIR (a learner repository per student: folder, .zip or .tar.gz) "
        "against the instructor's tests, each in its own sandbox; see docs/classroom.md.",
    )
    grade.add_argument("target", metavar="MODULE|report", help="module to grade (01, tensor, 01_tensor), or `report`")
    grade.add_argument("--submissions", metavar="DIR", help="folder with one submission per student")
    grade.add_argument("--hidden-tests", metavar="DIR", help="extra tests not in the student release")
    grade.add_argument("--rubric", metavar="FILE", help="TOML points per test (default: 1 point each)")
    grade.add_argument("--jobs", type=_positive(int), default=1, metavar="N", help="students graded in parallel")
    grade.add_argument("--resume", action="store_true", help="grade only students not in the gradebook yet")
    grade.add_argument("--gradebook", metavar="FILE", help=f"SQLite gradebook (default {DEFAULT_GRADEBOOK})")
    grade.add_argument(
        "--timeout", type=_positive(float), default=300.0, metavar="SECONDS", help="wall time per student"
    )
    grade.add_argument("--cpu", type=_positive(int), metavar="SECONDS", help="CPU time per student (default: timeout)")
    grade.add_argument("--memory", type=_positive(int), default=2048, metavar="MIB", help="address space per student")
    grade.add_argument(
        "--processes", type=_positive(int), default=64, metavar="N", help="processes and threads per student"
    )
    grade.add_argument(
        "--workdir", metavar="DIR", help="where workspaces are made (default: the system's temporary folder)"
    )
    grade.add_argument("--python", metavar="PATH", help="interpreter for the sandbox (default: found automatically)")
    grade.add_argument("--out", metavar="DIR", help="report: folder for grades.csv, tests.csv and feedback/")
    grade.add_argument("--module", metavar="MODULE", help="report: only this module")
    leaf(grade, command)


def command(args: argparse.Namespace) -> int:
    root = project_root()
    gradebook = Path(args.gradebook) if args.gradebook else root / DEFAULT_GRADEBOOK
    if args.target == "report":
        if not args.out:
            raise UsageError("argument --out: `tito grade report` needs --out DIR for the CSV and feedback pages")
        return report(root, gradebook, Path(args.out), args.module)
    if args.out or args.module:
        raise UsageError("arguments --out/--module belong to `tito grade report`, not to grading a module")
    if not args.submissions:
        raise UsageError("argument --submissions: expected the folder of submissions, got nothing")
    return grade(root, args, gradebook)


def report(root: Path, gradebook: Path, out: Path, module: str | None) -> int:
    book = open_gradebook(gradebook, must_exist=True)
    try:
        tag = select_modules(root, [module], label="--module")[0].tag if module else None
        students, rows = write_report(book, out, tag)
    finally:
        book.close()
    print(
        f"wrote {out / 'grades.csv'} ({rows} row(s)), {out / 'tests.csv'}"
        f" and {students} feedback page(s) in {out / 'feedback'}"
    )
    return 0


def _line(done: int, total: int, row: SubmissionRow) -> str:
    why = f" - {row.reason[:150]}" if row.reason else ""
    return (
        f"[{done}/{total}] {row.student:<20} {row.points:g}/{row.max_points:g}  {row.status} ({row.seconds:.1f} s){why}"
    )


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt  # like Ctrl-C: running sandboxes are killed, workspaces removed


def grade(root: Path, args: argparse.Namespace, gradebook: Path) -> int:
    module = select_modules(root, [args.target])[0]
    submissions = find_submissions(Path(args.submissions))
    hidden = Path(args.hidden_tests).resolve() if args.hidden_tests else None
    if hidden is not None and not hidden.is_dir():
        raise UsageError(f"argument --hidden-tests: expected a folder, got {hidden}")
    rubric = load_rubric(Path(args.rubric) if args.rubric else None)
    limits = sandbox.Limits(
        wall_seconds=args.timeout,
        cpu_seconds=args.cpu or int(args.timeout) + 1,
        memory_bytes=args.memory << 20,
        processes=args.processes,
    )
    workdir = Path(args.workdir) if args.workdir else None
    if workdir is not None and not workdir.is_dir():
        raise UsageError(f"argument --workdir: expected an existing folder, got {workdir}")
    book = open_gradebook(gradebook)
    try:
        grader = Grader(root, module, rubric, hidden, limits, args.python, args.jobs, gradebook, workdir)
    except BaseException:
        book.close()
        raise
    try:
        mode = (
            "user ids " + ", ".join(str(i.uid) for i in grader.identities)
            if grader.identities[0].isolated
            else "this user"
        )
        print(f"grading {module.tag}: {len(submissions)} submission(s), {args.jobs} at a time, sandbox runs as {mode}")
        print("reference run on the instructor's repository ...")
        for warning in grader.reference():
            print(f"  warning: does not pass on the instructor's own solution, so worth 0 points: {warning}")
        print(f"  {len(grader.expected)} tests, {grader.max_points:g} points ({rubric.source})")
        done = book.start(
            module.tag, grader.fingerprint(), rubric.fingerprint(), grader.max_points, now_iso(), args.resume
        )
        todo = [s for s in submissions if s.student not in done]
        if done:
            print(f"--resume: {len(submissions) - len(todo)} already graded, {len(todo)} to go")
        started, saved = time.monotonic(), set()  # saved: the students whose rows are in the gradebook

        def record(row: SubmissionRow) -> None:
            book.save(row)
            saved.add(row.student)
            print(_line(len(saved), len(todo), row), flush=True)

        previous = signal.signal(signal.SIGTERM, _interrupted)  # `kill`, a CI timeout: clean up too
        try:
            grader.grade_all(todo, record)
        except KeyboardInterrupt:
            left = [s.student for s in todo if s.student not in saved]
            shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
            print(f"interrupted after {len(saved)} of {len(todo)} submission(s); not graded: {shown}. "
                  f"The gradebook keeps the finished ones: run the same command with --resume to grade the rest.",
                  flush=True)
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
        minutes = (time.monotonic() - started) / 60
        if todo:
            print(
                f"graded {len(todo)} submission(s) in {minutes * 60:.1f} s ({len(todo) / minutes:.1f} students/minute)"
            )
        print(f"gradebook: {gradebook}; write the CSV and feedback pages with `tito grade report --out DIR`")
    finally:
        book.close()
        grader.close()
    sys.stdout.flush()
    return 0
