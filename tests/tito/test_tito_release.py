"""`tito release student` and `tito release restore`: stripping, leak scan, round trip."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tito.regions import RegionError, strip_solutions
from tito.release import ReleaseError, build_student_release
from tito.restore import restore_solutions


def test_release_replaces_every_region_by_a_named_stub(fake_repo, tmp_path):
    out = tmp_path / "student"
    report = build_student_release(fake_repo, out)
    assert report.stubs == {
        "modules/01_tensor/tensor.py": 2,
        "modules/02_activations/activations.py": 1,
    }
    module = (out / "modules/01_tensor/tensor.py").read_text()
    assert (
        '        raise NotImplementedError("Tensor.__add__ is not implemented yet, '
        'see modules/01_tensor")' in module.splitlines()
    )
    assert (
        '    raise NotImplementedError("double is not implemented yet, see modules/01_tensor")'
        in module.splitlines()
    )
    assert "# Hint: add the two arrays and wrap the result." in module  # hints above survive
    package = (out / "tinytorch/core/activations.py").read_text()
    assert (
        'raise NotImplementedError("relu is not implemented yet, see modules/02_activations")'
        in package
    )


def test_release_copies_what_learners_need_and_nothing_else(fake_repo, tmp_path):
    (fake_repo / "tito/__pycache__").mkdir(exist_ok=True)
    (fake_repo / "tito/__pycache__/x.pyc").write_bytes(b"\0")
    (fake_repo / "modules/01_tensor/tensor.ipynb").write_text("{}")
    (fake_repo / "scratch.txt").write_text("not a learner file")
    out = tmp_path / "student"
    build_student_release(fake_repo, out)
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {
        "README.md",
        "pyproject.toml",
        ".gitignore",
        "docs/notes.md",
        "tito/main.py",
        "milestones/1969_xor/run.py",
        "tests/01_tensor/test_tensor.py",
        "tinytorch/__init__.py",
        ".tito-release.json",
    } <= files
    assert not any(name.startswith(".ci/") or "__pycache__" in name for name in files)
    assert "scratch.txt" not in files and "modules/01_tensor/tensor.ipynb" not in files
    manifest = json.loads((out / ".tito-release.json").read_text())
    assert manifest["modules"]["01_tensor"]["stubs"] == 2


def test_no_solution_text_anywhere_in_the_release(fake_repo, tmp_path, kit):
    out = tmp_path / "student"
    build_student_release(fake_repo, out)
    markers = (kit.with_markers("@@BEGIN"), kit.with_markers("@@END"))
    scanned = 0
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            scanned += 1
            assert not any(marker in text for marker in markers), f"marker left in {path}"
            for secret in kit.secrets:
                assert secret not in text, f"{secret!r} leaked into {path}"
    assert scanned > 20  # the modules, tests, package, docs and tito's own source


def test_a_leak_fails_loudly_and_writes_nothing(fake_repo, tmp_path, kit):
    kit.write(fake_repo, "docs/answers.md", f"Cheat sheet:\n    {kit.secrets[1]}\n")
    out = tmp_path / "student"
    with pytest.raises(ReleaseError) as error:
        build_student_release(fake_repo, out)
    assert "docs/answers.md:2: solution line from modules/01_tensor/tensor.py" in str(error.value)
    assert not out.exists()
    assert not list(tmp_path.glob(".student.staging.*"))  # the staging folder is cleaned up


def test_a_leftover_marker_in_code_fails(fake_repo, tmp_path, kit):
    kit.write(fake_repo, "benchmarks/old.py", kit.with_markers("x = 1  # @@BEGIN\n"))
    with pytest.raises(ReleaseError, match="benchmarks/old.py:1: solution marker"):
        build_student_release(fake_repo, tmp_path / "student")


def test_stubs_raise_not_implemented_naming_the_module(fake_repo, tmp_path, kit):
    out = tmp_path / "student"
    build_student_release(fake_repo, out)
    probe = (
        "from tinytorch.core.tensor import Tensor, double\n"
        "for call in (lambda: Tensor([1]) + Tensor([2]), lambda: double(Tensor([1]))):\n"
        "    try:\n        call()\n"
        "    except NotImplementedError as error:\n        print(error)\n"
    )
    result = kit.run_python(out, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Tensor.__add__ is not implemented yet, see modules/01_tensor",
        "double is not implemented yet, see modules/01_tensor",
    ]


def test_round_trip_release_fails_then_restore_passes(fake_repo, tmp_path, kit):
    out = tmp_path / "student"
    build_student_release(fake_repo, out)
    failing = kit.run_python(out, "-m", "pytest", "tests/01_tensor", "-q", "-p", "no:cacheprovider")
    assert failing.returncode == 1, failing.stdout
    assert "NotImplementedError" in failing.stdout and "modules/01_tensor" in failing.stdout

    restored = restore_solutions(fake_repo, out)
    assert [(r.file, r.regions, r.identical) for r in restored] == [
        ("modules/01_tensor/tensor.py", 2, True),
        ("modules/02_activations/activations.py", 1, True),
    ]
    from tito.export import export

    export(out)
    passing = kit.run_python(out, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider")
    assert passing.returncode == 0, passing.stdout
    assert "3 passed" in passing.stdout


def test_restore_refuses_mismatched_files(fake_repo, tmp_path):
    out = tmp_path / "student"
    build_student_release(fake_repo, out)
    module = out / "modules/01_tensor/tensor.py"
    module.write_text(module.read_text().replace("Tensor.__add__ is not", "Tensor.sub is not"))
    with pytest.raises(Exception, match="stub for 'Tensor.sub'"):
        restore_solutions(fake_repo, out)


def test_release_refuses_a_non_empty_folder_unless_forced(fake_repo, tmp_path, tito):
    out = tmp_path / "student"
    out.mkdir()
    (out / "keep.txt").write_text("someone's work")
    code, _, err = tito(fake_repo, "release", "student", "--out", str(out))
    assert code == 2 and "argument --out" in err and "not empty" in err
    code, _, err = tito(fake_repo, "release", "student", "--out", str(out), "--force")
    assert code == 2 and "holds no earlier release" in err  # --force never deletes other work
    assert (out / "keep.txt").exists()
    (out / "keep.txt").unlink()
    assert tito(fake_repo, "release", "student", "--out", str(out))[0] == 0
    code, out_text, _ = tito(fake_repo, "release", "student", "--out", str(out), "--force")
    assert code == 0 and "3 solution region(s) replaced" in out_text


def test_release_cli_validates_its_arguments(fake_repo, tmp_path, tito):
    code, _, err = tito(fake_repo, "release", "student")
    assert code == 2 and "--out" in err
    code, _, err = tito(fake_repo, "release", "student", "--out", str(fake_repo / "docs/x"))
    assert code == 2 and "inside docs/" in err
    code, _, err = tito(
        fake_repo, "release", "restore", "--from", str(tmp_path), "--into", str(fake_repo)
    )
    assert code == 2 and "argument --from" in err and "modules/" in err


def test_release_and_restore_through_python_m(fake_repo, tmp_path, kit):
    out = tmp_path / "student"
    made = kit.run_python(fake_repo, "-m", "tito.main", "release", "student", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "leak scan: no solution markers" in made.stdout
    back = kit.run_python(
        fake_repo, "-m", "tito.main", "release", "restore", "--from", ".", "--into", str(out)
    )
    assert back.returncode == 0, back.stderr
    assert "restored 2 region(s) in modules/01_tensor/tensor.py (identical" in back.stdout


def test_git_checkouts_ship_only_what_git_would(fake_repo, tmp_path, kit):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    kit.write(fake_repo, ".gitignore", "__pycache__/\n.tito/\n*.ipynb\n*.tmp\n")
    kit.write(fake_repo, "datasets/cache.tmp", "ignored by git")
    kit.write(fake_repo, "datasets/README.md", "# Datasets\n")
    subprocess.run(["git", "init", "-q"], cwd=fake_repo, check=True)
    out = tmp_path / "student"
    build_student_release(fake_repo, out)
    assert (out / "datasets/README.md").is_file()
    assert not (out / "datasets/cache.tmp").exists()
    # The instructor's history never ships: the release is a new repository with one commit
    # holding every file it has (nothing left uncommitted or untracked).
    def git(*args):
        return subprocess.run(["git", *args], cwd=out, capture_output=True, text=True, check=True).stdout

    assert git("rev-list", "--count", "HEAD").strip() == "1"
    assert git("status", "--porcelain") == ""
    assert "README.md" in git("ls-files").split()


def test_the_release_is_a_learners_repository(fake_repo, tmp_path, tito):
    (fake_repo / "README.md").write_text("# Fake TinyTorch\n\nMaintainer notes: release steps.\n")
    out = tmp_path / "student"
    build_student_release(fake_repo, out)
    readme = (out / "README.md").read_text()
    assert "Maintainer notes" not in readme and "release student" not in readme
    assert "| 01 | tensor | a tiny tensor |" in readme  # the modules this release has
    for step in ("pip install -e '.[learn]'", "tito module start 01", "tito module test 01", "tito module complete 01"):
        assert step in readme
    makefile = (out / "Makefile").read_text()
    assert "module test --completed" in makefile and "milestone run 1969_xor" in makefile
    # `make test` for a learner: progress and the completed modules' tests, not every stub failing.
    code, out_text, _ = tito(out, "module", "test", "--completed")
    assert code == 0, out_text
    assert "no module is complete yet" in out_text and "FAIL" not in out_text
    # `make demo`: names the modules the milestone needs, and their state, instead of a traceback.
    code, _, err = tito(out, "milestone", "run", "1969_xor")
    assert code == 1
    assert "it needs: 01_tensor (not complete), 02_activations (not complete)" in err
    assert "Traceback" not in err


def test_regions_must_sit_inside_functions_of_export_cells(kit):
    outside = kit.with_markers(
        "# %%\n#| default_exp core.x\n\n# %%\n#| export\n@@BEGIN\nX = 1\n@@END\n"
    )
    with pytest.raises(RegionError, match="x.py:6: solution region is not inside a function"):
        strip_solutions(outside, "modules/01_x", "x.py")
    in_test = kit.with_markers(
        "# %%\n#| test\ndef test_unit_x():\n    @@BEGIN\n    pass\n    @@END\n"
    )
    with pytest.raises(RegionError, match="x.py:4: solution region in a 'test' cell"):
        strip_solutions(in_test, "modules/01_x", "x.py")


def test_qualified_names_follow_classes_and_nested_functions(kit):
    text = kit.with_markers(
        "# %%\n#| export\nclass Outer:\n    class Inner:\n        @staticmethod\n"
        "        def go(\n            a,\n        ):\n            def helper():\n"
        "                @@BEGIN\n                return a\n                @@END\n"
        "            return helper()\n"
    )
    stripped, count = strip_solutions(text, "modules/03_x", "x.py")
    assert count == 1
    assert '("Outer.Inner.go.helper is not implemented yet, see modules/03_x")' in stripped
