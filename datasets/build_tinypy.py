"""Build datasets/tinypy.json.xz: ~5,000 short, real Python functions from the standard library's source.

    python datasets/build_tinypy.py [--stdlib DIR] [--count 5000]

The functions come from the `.py` files of the running interpreter's standard library (its own
source, so nothing is downloaded). Python's source is under the PSF License Agreement (Python
Software Foundation License Version 2), which allows copying and redistribution with the licence
notice: see https://docs.python.org/3/license.html. The shipped file records the Python version it
was made from; other versions have slightly different standard libraries, so the *shipped* file is
the dataset and a rebuild elsewhere may differ (the selection rules below are deterministic).

Selection, in this order:

1. files: every `*.py` under the stdlib folder, in sorted path order, except tests (`test/`,
   `tests/`, `idle_test/`, `test_*.py`), `site-packages/`, bundled third-party code and demos;
2. functions: every `def` / `async def` (top level or method) whose source, from the `def` line to
   its last line (decorators left out, indentation removed), has 3 to 20 lines, lines of at most
   79 characters, ASCII only, no tabs, no nested `def`/`class`/`lambda`, and parses on its own;
3. duplicates: two functions are the same when their syntax trees (`ast.dump`, which ignores
   comments and formatting) are equal; the first in file order is kept;
4. sample: the `--count` functions whose normalized text has the smallest SHA-256 (an order that
   looks random but is fixed), stored in that order;
5. split by the same hash: first 8 hex digits mod 20 = 0 -> "val", 1 -> "test", else "train".
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import lzma
import os
import platform
import sysconfig
import textwrap
from pathlib import Path

from _build_common import HERE, describe

FORMAT = "tinypy"
VERSION = 1
MIN_LINES, MAX_LINES, MAX_WIDTH = 3, 20, 79
SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "__pycache__", "_bundled", "turtledemo",
             "lib2to3", "ensurepip", "config-3", "tkinter", "idlelib"}


def stdlib_files(root: Path) -> list:
    files = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(part in SKIP_DIRS or part.startswith("config-") for part in parts[:-1]):
            continue
        if path.name.startswith("test_"):
            continue
        files.append(path)
    return files


def functions_in(source: str) -> list:
    """The acceptable function sources of one file, in file order (rules 2 in the docstring)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if any(isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
               for inner in ast.walk(node) if inner is not node):
            continue
        body = lines[node.lineno - 1:node.end_lineno]
        text = textwrap.dedent("\n".join(line.rstrip() for line in body)) + "\n"
        count = text.count("\n")
        if not MIN_LINES <= count <= MAX_LINES or not text.isascii() or "\t" in text:
            continue
        if max(len(line) for line in text.splitlines()) > MAX_WIDTH:
            continue
        try:
            parsed = ast.parse(text)
        except SyntaxError:
            continue
        found.append((node.lineno, text, ast.dump(parsed)))
    found.sort()
    return [(text, normal) for _, text, normal in found]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build(root: Path, count: int) -> dict:
    files = stdlib_files(root)
    unique = {}
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for text, normal in functions_in(source):
            unique.setdefault(normal, text)
    ranked = sorted(unique.items(), key=lambda item: digest(item[0]))[:count]
    if len(ranked) < count:
        raise SystemExit(f"only {len(ranked)} functions qualify, --count {count} requested")
    splits = {"train": [], "val": [], "test": []}
    for normal, text in ranked:
        bucket = int(digest(normal)[:8], 16) % 20
        splits["val" if bucket == 0 else "test" if bucket == 1 else "train"].append(text)
    return {"format": FORMAT, "version": VERSION, "python": platform.python_version(),
            "source": "CPython standard library (PSF License Version 2)", "files_scanned": len(files),
            "functions_qualifying": len(unique), "splits": splits}


def encode(dataset: dict) -> bytes:
    """Compact, key-sorted UTF-8 JSON, compressed with xz preset 9e (no timestamps: reproducible)."""
    text = json.dumps(dataset, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return lzma.compress(text.encode("utf-8"), format=lzma.FORMAT_XZ, check=lzma.CHECK_SHA256,
                         preset=9 | lzma.PRESET_EXTREME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stdlib", default=sysconfig.get_paths()["stdlib"],
                        help="the standard library folder to read (default: this interpreter's)")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--out", default=str(HERE / "tinypy.json.xz"))
    args = parser.parse_args()
    dataset = build(Path(args.stdlib), args.count)
    out = Path(args.out)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_bytes(encode(dataset))
    os.replace(temporary, out)
    sizes = {name: len(items) for name, items in dataset["splits"].items()}
    print(f"Python {dataset['python']}: {dataset['files_scanned']} files, {dataset['functions_qualifying']} "
          f"functions qualify; {sizes}; {describe(out)}")


if __name__ == "__main__":
    main()
