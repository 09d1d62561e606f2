"""The `tito` entry point: parses the command line and dispatches to one command module."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tito import export as export_module


def project_root() -> Path:
    """The repository root: the nearest folder upwards that holds modules/ and tinytorch/."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "modules").is_dir() and (folder / "tinytorch").is_dir():
            return folder
    raise SystemExit("tito: run me inside a TinyTorch repository (a folder with modules/ and tinytorch/)")


def cmd_export(args: argparse.Namespace) -> int:
    root = project_root()
    if args.check:
        problems = export_module.check(root, args.modules)
        for problem in problems:
            print(problem)
        if problems:
            print(f"tito export --check: {len(problems)} generated file(s) out of step with modules/")
            return 1
        print("tito export --check: every generated file matches its module")
        return 0
    for path in export_module.export(root, args.modules):
        print(f"exported {path.relative_to(root).as_posix()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tito", description="TinyTorch course tool")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="generate tinytorch/ from modules/")
    export.add_argument("modules", nargs="*", help="module numbers or names (default: all)")
    export.add_argument("--check", action="store_true", help="fail if a generated file is stale or hand-edited")
    export.set_defaults(handler=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
