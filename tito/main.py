"""The `tito` entry point: parses the command line and hands each command to its own file.

Exit codes: 0 success, 1 a check or command failed, 2 a bad argument, 130 interrupted;
`tito test` and `tito milestone run` pass their child's exit code through.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tito import checkpoints, data_cmds, doctor, milestones, module_cmds, nbgrader_release, olympics, profile_cmd, site
from tito import export as export_module
from tito.errors import TitoError, UsageError
from tito.grading import cli as grading_cli
from tito.pairing import sync_pairs
from tito.release import build_student_release
from tito.repo import project_root
from tito.restore import restore_solutions
from tito.suite import run_suite


def positive_seconds(text: str) -> float:
    """argparse type for --timeout; argparse prefixes the message with the argument's name."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def cmd_export(args: argparse.Namespace) -> int:
    root = project_root()
    if args.check:
        problems = export_module.check(root, args.modules)
        for problem in problems:
            print(problem)
        if problems:
            print(
                f"tito export --check: {len(problems)} generated file(s) out of step with modules/"
            )
            return 1
        count = len(export_module.select_modules(root, args.modules))
        print(f"tito export --check: all {count} generated file(s) match their modules")
        return 0
    sync_pairs(root, args.modules)
    failures: list[str] = []
    try:
        results = export_module.export(root, args.modules)
    except export_module.ExportError as error:
        results, failures = error.written, error.failures
    for path, changed in results:
        print(f"{'exported ' if changed else 'unchanged'} {path.relative_to(root).as_posix()}")
    for failure in failures:
        print(f"FAIL     {failure}")
    if not results and not failures:
        print("no modules to export in modules/")
    return 1 if failures else 0


def cmd_release_student(args: argparse.Namespace) -> int:
    root = project_root()
    report = build_student_release(root, Path(args.out), force=args.force)
    print(f"student release written to {report.out}")
    print(
        f"  {report.files} files copied; {sum(report.stubs.values())} solution region(s) replaced "
        f"by stubs in {len(report.stubs)} module file(s)"
    )
    for name, count in report.stubs.items():
        print(f"    {name}: {count}")
    print(f"  {len(report.generated)} package file(s) regenerated from the stripped modules")
    print("  leak scan: no solution markers and no solution lines anywhere in the release")
    print(f"  README.md and Makefile are the learner's; {report.history}")
    return 0


def cmd_release_restore(args: argparse.Namespace) -> int:
    results = restore_solutions(Path(args.source), Path(args.into))
    for item in results:
        same = (
            "identical to the instructor's"
            if item.identical
            else "differs from the instructor's outside the regions"
        )
        print(f"restored {item.regions} region(s) in {item.file} ({same})")
    print(f"{len(results)} module file(s) restored")
    exported = export_module.export(Path(args.into))
    changed = sum(1 for _, was_changed in exported if was_changed)
    print(f"re-exported {args.into}: {changed} of {len(exported)} package file(s) regenerated")
    return 0


def cmd_module_test(args: argparse.Namespace) -> int:
    root = project_root()
    if args.completed:
        if args.module or args.pattern:
            raise UsageError("argument --completed: expected no NN and no -k with it")
        return module_cmds.cmd_test_completed(root, args.timeout)
    if not args.module:
        raise UsageError("argument NN: expected a module number (like 01) or name, or --completed")
    return module_cmds.cmd_test(root, args.module, args.timeout, args.pattern)


def leaf(parser: argparse.ArgumentParser, handler, **defaults) -> None:
    """Attach a command's handler; `prog` lets errors name the command ("tito module test")."""
    parser.set_defaults(handler=handler, prog=parser.prog, **defaults)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tito", description="TinyTorch course tool (see docs/tito.md)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    export = commands.add_parser("export", help="generate tinytorch/ from modules/")
    export.add_argument(
        "modules", nargs="*", metavar="MODULE", help="module numbers or names (default: all)"
    )
    export.add_argument(
        "--check", action="store_true", help="fail if a generated file is stale or hand-edited"
    )
    leaf(export, cmd_export)

    release = commands.add_parser("release", help="instructor: build or undo a student release")
    release_commands = release.add_subparsers(
        dest="release_command", required=True, metavar="ACTION"
    )
    student = release_commands.add_parser(
        "student", help="write the learner's repository, solutions stubbed"
    )
    student.add_argument(
        "--out", required=True, metavar="DIR", help="new or empty folder to write to"
    )
    student.add_argument("--force", action="store_true", help="replace an earlier release in DIR")
    leaf(student, cmd_release_student)
    restore = release_commands.add_parser(
        "restore", help="put the solutions back into a release (CI round trip)"
    )
    restore.add_argument("--from", dest="source", required=True, metavar="INSTRUCTOR_REPO")
    restore.add_argument("--into", required=True, metavar="STUDENT_DIR")
    leaf(restore, cmd_release_restore)
    nbgrader_release.register(release_commands, leaf)

    module = commands.add_parser("module", help="learner: start, test and complete a module")
    module_commands = module.add_subparsers(dest="module_command", required=True, metavar="ACTION")
    start = module_commands.add_parser("start", help="create the paired notebook, record the start")
    start.add_argument("module", metavar="NN", help="module number or name, e.g. 01 or tensor")
    leaf(start, lambda a: module_cmds.cmd_start(project_root(), a.module))
    for name, description in (
        ("test", "sync the notebook, export, run every inline test, run pytest tests/NN_name"),
        ("complete", "like test, and record the module as complete if everything passes"),
    ):
        sub = module_commands.add_parser(name, help=description)
        sub.add_argument(
            "module",
            metavar="NN",
            nargs="?" if name == "test" else None,
            help="module number or name, e.g. 01 or tensor",
        )
        sub.add_argument(
            "--timeout",
            type=positive_seconds,
            default=module_cmds.DEFAULT_TIMEOUT,
            metavar="SECONDS",
            help=f"time limit per check (default {module_cmds.DEFAULT_TIMEOUT:g})",
        )
        if name == "test":
            sub.add_argument("-k", dest="pattern", metavar="NAME", help="run only tests whose name contains NAME")
            sub.add_argument(
                "--completed", action="store_true", help="re-run the tests of every module recorded complete"
            )
            leaf(sub, cmd_module_test)
        else:
            leaf(sub, lambda a: module_cmds.cmd_complete(project_root(), a.module, a.timeout))
    sync = module_commands.add_parser("sync", help="bring the notebook and the .py of a module in step")
    sync.add_argument("module", metavar="NN", help="module number or name, e.g. 01 or tensor")
    sync.add_argument(
        "--keep", choices=("notebook", "py"), help="after both were edited: which one to keep"
    )
    leaf(sync, lambda a: module_cmds.cmd_sync(project_root(), a.module, a.keep))
    status = module_commands.add_parser("status", help="table of every module's progress")
    leaf(status, lambda a: module_cmds.cmd_status(project_root()))

    system = commands.add_parser("system", help="check this machine")
    system_commands = system.add_subparsers(dest="system_command", required=True, metavar="ACTION")
    doctor_parser = system_commands.add_parser(
        "doctor", help="Python, NumPy, BLAS, threads, jupyter, dataset cache"
    )
    leaf(doctor_parser, lambda a: doctor.run_doctor())

    data = commands.add_parser("data", help="datasets: what is here, download, verify")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    data_list = data_commands.add_parser("list", help="every dataset: where, size, verified or not")
    leaf(data_list, lambda a: data_cmds.cmd_list(project_root()))
    fetch = data_commands.add_parser("fetch", help="download a dataset into the cache and verify it")
    fetch.add_argument("name", metavar="NAME", help="dataset name, e.g. mnist (see tito data list)")
    leaf(fetch, lambda a: data_cmds.cmd_fetch(project_root(), a.name))
    verify = data_commands.add_parser("verify", help="check the checksums of local dataset files")
    verify.add_argument(
        "names", nargs="*", metavar="NAME", help="datasets to check (default: all that are present)"
    )
    leaf(verify, lambda a: data_cmds.cmd_verify(project_root(), a.names))

    # Only for --help: main() hands everything after `test` to pytest before argparse runs.
    suite = commands.add_parser(
        "test",
        help="run the whole test suite: tito test [pytest args]",
        description="Runs `python -m pytest tests` from the repository root; every argument "
        "goes to pytest (a path argument replaces `tests`). The exit code is pytest's.",
    )
    suite.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARGS")

    milestone = commands.add_parser("milestone", help="list and run the historical milestones")
    milestone_commands = milestone.add_subparsers(
        dest="milestone_command", required=True, metavar="ACTION"
    )
    listing = milestone_commands.add_parser(
        "list", help="every milestone and whether it is unlocked"
    )
    leaf(listing, lambda a: milestones.cmd_list(project_root()))
    run = milestone_commands.add_parser(
        "run",
        help="run a milestone on your framework",
        usage="tito milestone run NAME [--json] [--force] [OPTIONS...]",
        description="OPTIONS after NAME (and anything after `--`) go to the milestone's run.py; "
        "`tito milestone run NAME --help` lists them.",
    )
    run.add_argument(
        "name", metavar="NAME", help="milestone folder name, e.g. 1969_xor (or xor, or 1969)"
    )
    run.add_argument(
        "--json", action="store_true", help="ask for JSON and check the last line is a JSON object"
    )
    run.add_argument(
        "--force", action="store_true", help="run even if required modules are not complete"
    )
    leaf(
        run,
        lambda a: milestones.cmd_run(project_root(), a.name, a.json, a.force, a.passthrough),
        passthrough_allowed=True,
    )

    grading_cli.register(commands, leaf)
    checkpoints.register(commands, leaf)
    site.register(commands, leaf)
    olympics.register(commands, leaf)
    profile_cmd.register(commands, leaf)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "tito"
    try:
        if argv[:1] == ["test"] and argv[1:] not in (["-h"], ["--help"]):
            # Everything after `test` belongs to pytest, options included.
            rest = argv[2:] if argv[1:2] == ["--"] else argv[1:]
            return run_suite(project_root(), rest)
        parser = build_parser()
        passthrough: list[str] = []
        if argv[:2] == ["milestone", "run"]:
            # The milestone's own options follow NAME, no `--` needed (milestones.split_run_argv).
            argv, passthrough = milestones.split_run_argv(argv)
        elif "--" in argv:
            cut = argv.index("--")
            argv, passthrough = argv[:cut], argv[cut + 1 :]
        args = parser.parse_args(argv)
        if passthrough and not getattr(args, "passthrough_allowed", False):
            parser.error(f"unexpected arguments after '--': {' '.join(passthrough)}")
        args.passthrough = passthrough
        prog = args.prog
        return args.handler(args)
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except TitoError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tito: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (`tito module status | head`) went away: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
