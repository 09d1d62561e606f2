"""The shipped corpora: checksums on every load, sizes, the README rows, the split rules, and
rebuilding byte-identical files from the build scripts."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import lzma
import os
import re
import sys
from pathlib import Path

import pytest

import tinytorch.text.tokenization as T
from tinytorch.core.data import ChecksumError, DatasetNotFoundError

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / "datasets"
# The data folder with the original downloads: $TINYTORCH_DATA as the learner set it, read at import,
# before the fixture below points TINYTORCH_DATA at an empty folder for each test.
SHARED = Path(os.environ.get("TINYTORCH_DATA", REPO.parent / "shared" / "datasets"))
SPECS = [T.SHAKESPEARE, T.TINYPY, T.TINYTALKS]


@pytest.fixture(autouse=True)
def no_local_originals(tmp_path, monkeypatch):
    """Every test starts with an empty data root, so the shipped files are what gets loaded."""
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "data-root"))


def build_module(name: str):
    sys.path.insert(0, str(DATASETS))
    try:
        spec = importlib.util.spec_from_file_location(name, DATASETS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(DATASETS))


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec["file"])
def test_shipped_file_matches_its_checksum_and_readme_row(spec):
    data = (DATASETS / spec["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == spec["sha256"]
    row = next(line for line in (DATASETS / "README.md").read_text().splitlines() if f"`{spec['file']}`" in line)
    assert spec["sha256"] in row and f"{len(data):,}" in row, f"datasets/README.md row for {spec['file']} is stale"


def test_shakespeare_is_the_original_text():
    text = T.load_shakespeare()
    assert len(text) == 1_115_394 and len(set(text)) == 65
    assert hashlib.sha256(text.encode()).hexdigest() == T.SHAKESPEARE["text_sha256"]
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")


def test_shakespeare_prefers_a_verified_original_in_the_data_root(tmp_path, monkeypatch):
    folder = tmp_path / "root" / "tinyshakespeare"
    folder.mkdir(parents=True)
    (folder / "input.txt").write_bytes(T.load_shakespeare().encode())
    monkeypatch.setattr(T, "_read_shipped", lambda *args: pytest.fail("the original should be used"))
    assert len(T.load_shakespeare(root=tmp_path / "root")) == 1_115_394
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "root"))
    assert len(T.load_shakespeare()) == 1_115_394
    (folder / "input.txt").write_text("To be, or not to be")
    with pytest.raises(ChecksumError, match="not the original tiny-Shakespeare text"):
        T.load_shakespeare()


@pytest.mark.parametrize("loader, spec", [(T.load_shakespeare, T.SHAKESPEARE), (T.load_tinypy, T.TINYPY),
                                          (T.load_tinytalks, T.TINYTALKS)], ids=["shakespeare", "tinypy", "tinytalks"])
def test_a_damaged_or_missing_shipped_file_is_a_clear_error(tmp_path, monkeypatch, loader, spec):
    monkeypatch.setattr(T, "shipped_folder", lambda: tmp_path)
    with pytest.raises(DatasetNotFoundError, match=spec["build"]):
        loader()
    damaged = bytearray((DATASETS / spec["file"]).read_bytes())
    damaged[len(damaged) // 2] ^= 1
    (tmp_path / spec["file"]).write_bytes(bytes(damaged))
    with pytest.raises(ChecksumError, match="failed its checksum"):
        loader()


def test_tinytalks_splits_and_format():
    talks = T.load_tinytalks(categories=True)
    sizes = {name: len(items) for name, items in talks.items()}
    assert sizes["train"] > 500 and 30 < sizes["val"] < 200 and 30 < sizes["test"] < 200, sizes
    questions = [q for items in talks.values() for q, _, _ in items]
    assert len(questions) == len(set(questions)), "a question belongs to one split only"
    for items in talks.values():
        for q, a, category in items:
            assert len(T.render_tinytalks([(q, a)])) <= 64 and "\n" not in q + a and category
    assert T.render_tinytalks([("Hi?", "Hello.")]) == "Q: Hi?\nA: Hello.\n"
    assert T.tinytalks_prompt("Hi?") == "Q: Hi?\nA: "


def test_tinytalks_held_out_questions_are_answerable_from_training():
    """A held-out question asks a trained fact in a phrasing that training uses for other facts."""
    templates = build_module("build_tinytalks").TEMPLATES
    patterns = {category: [re.compile(re.escape(t).replace(r"\{\}", "(.+)") + "$") for t in items]
                for category, items in templates.items()}

    def phrasing(question, category):
        return next(k for k, pattern in enumerate(patterns[category]) if pattern.match(question))

    talks = T.load_tinytalks(categories=True)
    trained = {}
    for q, a, category in talks["train"]:
        if category != "greeting":
            trained.setdefault(category, []).append((phrasing(q, category), a))
    for split in ("val", "test"):
        for q, a, category in talks[split]:
            assert category in templates and category != "plus", (
                f"{q!r}: only facts are held out (greetings and sums are all trained)")
            k = phrasing(q, category)
            assert sum(answer == a and index != k for index, answer in trained[category]) >= 2, (
                f"{q!r} -> {a!r}: the fact should be trained in at least two other phrasings")
            assert any(index == k and answer != a for index, answer in trained[category]), (
                f"{q!r}: its phrasing should be trained on other facts")


def test_tinytalks_rebuilds_byte_identical():
    build = build_module("build_tinytalks")
    assert build.encode(build.build()) == (DATASETS / T.TINYTALKS["file"]).read_bytes()


def test_tinypy_functions_are_short_real_python():
    functions = T.load_tinypy()
    sizes = {name: len(items) for name, items in functions.items()}
    assert sum(sizes.values()) == 5000 and sizes["train"] > 4000, sizes
    everything = [f for items in functions.values() for f in items]
    assert len(set(everything)) == len(everything)
    for source in everything[::25]:
        tree = ast.parse(source)
        assert isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) and len(tree.body) == 1
        assert 3 <= source.count("\n") <= 20 and source.isascii() and source.endswith("\n")
    assert T.render_tinypy(["def f():\n    pass\n", "def g():\n    pass\n"]) == \
        "def f():\n    pass\n\ndef g():\n    pass\n"
    payload = lzma.decompress((DATASETS / T.TINYPY["file"]).read_bytes())
    assert b'"python":"3.' in payload and b"PSF License" in payload, "the file records its Python version and licence"


def test_tinypy_selection_rules():
    build = build_module("build_tinypy")
    source = '''
class A:
    def method(self, x):
        """Docstring."""
        y = x + 1
        return y

def too_short():
    return 1

def nested():
    def inner():
        return 2
    return inner()

def same_tree(a):   # a comment does not make it different
    b = a * 2
    return b

def same_tree(a):
    b = a * 2

    return b
'''
    found = build.functions_in(source)
    assert [text.splitlines()[0] for text, _ in found] == [
        "def method(self, x):", "def same_tree(a):   # a comment does not make it different", "def same_tree(a):"]
    assert found[1][1] == found[2][1], "functions with the same syntax tree normalize equally (then deduplicated)"
    assert found[0][0].startswith("def method") and "\n    y = x + 1\n" in found[0][0], "methods are dedented"


def test_shakespeare_rebuilds_byte_identical():
    original = SHARED / "tinyshakespeare" / "input.txt"
    if not original.is_file():
        pytest.skip(f"the original text is not at {original}")
    build = build_module("build_tinyshakespeare")
    assert build.compress(original.read_bytes()) == (DATASETS / T.SHAKESPEARE["file"]).read_bytes()


def test_tinypy_build_on_a_small_library(tmp_path):
    build = build_module("build_tinypy")
    body = "    total = 0\n    for item in items:\n        total += item * {k}\n    return total\n"
    shared = "".join(f"def f{k}(items):\n" + body.format(k=k) for k in range(6))
    (tmp_path / "alpha.py").write_text(shared)
    (tmp_path / "beta.py").write_text(shared + "".join(f"def g{k}(items):\n" + body.format(k=k) for k in range(4)))
    for skipped in ("test/helpers.py", "site-packages/pkg.py", "test_alpha.py", "idlelib/x.py"):
        (tmp_path / skipped).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / skipped).write_text("def skipped_function(a):\n    b = a\n    c = b\n    return c\n")
    first = build.build(tmp_path, count=8)
    assert build.encode(first) == build.encode(build.build(tmp_path, count=8)), "the build is deterministic"
    assert first["files_scanned"] == 2 and first["functions_qualifying"] == 10, "beta's copies of f0..f5 are duplicates"
    functions = [f for items in first["splits"].values() for f in items]
    assert len(functions) == 8 and not any("skipped_function" in f for f in functions)
    with pytest.raises(SystemExit, match="only 10 functions qualify"):
        build.build(tmp_path, count=11)
