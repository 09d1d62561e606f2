"""`tito export` and `tito export --check` on the fake repository."""

from __future__ import annotations

from tito.export import HEADER, export, find_modules, render_module


def test_export_writes_the_package_file_without_markers(fake_repo):
    generated = (fake_repo / "tinytorch/core/tensor.py").read_text()
    assert generated.startswith(HEADER.format(source="modules/01_tensor/tensor.py") + "\n\n")
    assert "SOLUTION" not in generated
    assert "summed_arrays_secret = self.data + other.data" in generated
    assert "def test_unit_add" not in generated  # test cells never reach the package
    assert "default_exp" not in generated
    assert (fake_repo / "tinytorch/core/activations.py").is_file()


def test_export_is_deterministic(fake_repo):
    before = {p: p.read_bytes() for p in (fake_repo / "tinytorch/core").glob("*.py")}
    results = export(fake_repo)
    assert all(not changed for _, changed in results)  # nothing rewritten
    after = {p: p.read_bytes() for p in (fake_repo / "tinytorch/core").glob("*.py")}
    assert before == after
    module = find_modules(fake_repo)[0]
    assert render_module(module, fake_repo) == render_module(module, fake_repo)
    assert str(fake_repo) not in after[fake_repo / "tinytorch/core/tensor.py"].decode()


def test_export_by_number_and_name(fake_repo, tito):
    code, out, _ = tito(fake_repo, "export", "1", "activations")
    assert code == 0
    assert "tinytorch/core/tensor.py" in out and "tinytorch/core/activations.py" in out


def test_check_passes_on_a_fresh_export(fake_repo, tito):
    code, out, _ = tito(fake_repo, "export", "--check")
    assert code == 0, out
    assert "all 2 generated file(s) match" in out


def test_check_detects_a_hand_edit_and_names_the_file(fake_repo, tito):
    target = fake_repo / "tinytorch/core/tensor.py"
    target.write_text(target.read_text() + "\nHAND_EDIT = 1\n")
    code, out, _ = tito(fake_repo, "export", "--check")
    assert code == 1
    assert (
        "tinytorch/core/tensor.py: differs from what modules/01_tensor/tensor.py generates" in out
    )
    assert "+HAND_EDIT = 1" in out
    assert "activations.py" not in out


def test_check_detects_a_stale_file(fake_repo, tito):
    source = fake_repo / "modules/01_tensor/tensor.py"
    source.write_text(source.read_text() + "\n\n# %%\n#| export\nNEW_CONSTANT = 3\n")
    code, out, _ = tito(fake_repo, "export", "--check")
    assert code == 1
    assert "tinytorch/core/tensor.py" in out and "run `tito export 01`" in out
    assert "-NEW_CONSTANT = 3" in out  # in the generated text, missing on disk
    assert tito(fake_repo, "export")[0] == 0
    assert tito(fake_repo, "export", "--check")[0] == 0


def test_check_detects_missing_and_orphaned_files(fake_repo, tito):
    (fake_repo / "tinytorch/core/activations.py").unlink()
    orphan = fake_repo / "tinytorch/core/old.py"
    orphan.write_text(HEADER.format(source="modules/09_old/old.py") + "\n")
    code, out, _ = tito(fake_repo, "export", "--check")
    assert code == 1
    assert "tinytorch/core/activations.py: missing" in out
    assert "tinytorch/core/old.py: generated file that no module exports to" in out


def test_broken_region_is_reported_with_its_line(fake_repo, tito, kit):
    source = fake_repo / "modules/01_tensor/tensor.py"
    lines = source.read_text().splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip() == kit.with_markers("@@END"))
    del lines[end]
    source.write_text("\n".join(lines) + "\n")
    code, _, err = tito(fake_repo, "export")
    assert code == 1
    # The region opened in Tensor.__add__ now runs into the next cell's top-level code.
    assert "modules/01_tensor/tensor.py:34: line is indented less than the BEGIN SOLUTION" in err
    assert "marker at line 29" in err


def test_export_rejects_unknown_modules(fake_repo, tito):
    code, _, err = tito(fake_repo, "export", "42")
    assert code == 2
    assert "argument MODULE" in err and "got '42'" in err and "01_tensor, 02_activations" in err


def test_a_module_that_does_not_compile_is_a_fail_and_keeps_the_last_good_file(fake_repo, tito):
    package_file = fake_repo / "tinytorch/core/tensor.py"
    good = package_file.read_text()
    source = fake_repo / "modules/01_tensor/tensor.py"
    lines = source.read_text().splitlines()
    broken_at = next(i for i, line in enumerate(lines) if "return Tensor(summed_arrays_secret)" in line)
    lines[broken_at] = "        return Tensor(summed_arrays_secret"  # a missing parenthesis
    source.write_text("\n".join(lines) + "\n")
    (fake_repo / "modules/02_activations/activations.py").write_text(
        (fake_repo / "modules/02_activations/activations.py").read_text() + "\n# %%\n#| export\nLATER = 1\n"
    )
    code, out, _ = tito(fake_repo, "export")
    assert code == 1
    # Reported at the module's own line (where the learner typed it), never as PASS.
    assert f"FAIL     modules/01_tensor/tensor.py, line {broken_at + 1}: SyntaxError" in out
    assert "tinytorch/core/tensor.py keeps its last good version" in out
    assert package_file.read_text() == good
    assert "exported  tinytorch/core/activations.py" in out  # the other module still exports
    code, out, _ = tito(fake_repo, "module", "test", "01")
    assert code == 1
    assert "FAIL  export: the module does not compile" in out and "PASS  export" not in out
