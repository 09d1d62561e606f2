"""The inline runner (every #| test cell reports), -k, hints, and dependencies read from imports."""

from __future__ import annotations

from tito.deps import dependencies
from tito.export import find_modules

TWO_TESTS = '''

# %%
#| test
def test_unit_double():
    got = double(Tensor([1, 2])).data.tolist()
    assert got == [2, 4], f"double([1, 2]): expected [2, 4], got {got}"
    print("test_unit_double: ok")


test_unit_double()
'''


def add_double_test(root):
    source = root / "modules/01_tensor/tensor.py"
    source.write_text(source.read_text() + TWO_TESTS)


def test_every_test_cell_runs_even_after_a_failure(fake_repo, tito):
    add_double_test(fake_repo)
    source = fake_repo / "modules/01_tensor/tensor.py"
    source.write_text(source.read_text().replace("self.data + other.data", "self.data * other.data"))
    code, out, _ = tito(fake_repo, "module", "test", "01")
    assert code == 1
    assert "test_unit_double: ok" in out  # the cell after the failing one still ran
    assert "FAIL  inline tests: 2 test cell(s): 1 passed, 1 wrong value" in out
    # The whole message, with the value that came back.
    assert "FAIL test_unit_add: implemented, but a value is wrong" in out
    assert "expected [4, 6], got [3.0, 8.0]" in out


def test_a_stub_is_not_implemented_and_a_wrong_value_is_not(fake_repo, tmp_path, tito):
    from tito.release import build_student_release

    add_double_test(fake_repo)
    student = tmp_path / "student"
    build_student_release(fake_repo, student)
    source = student / "modules/01_tensor/tensor.py"
    # The learner implements double wrongly and has not started __add__ yet.
    source.write_text(source.read_text().replace(
        'raise NotImplementedError("double is not implemented yet, see modules/01_tensor")',
        "return Tensor(x.data * 3)"))
    code, out, _ = tito(student, "module", "test", "01")
    assert code == 1
    assert "TODO test_unit_add: not implemented yet: write the body of Tensor.__add__" in out
    assert "FAIL test_unit_double: implemented, but a value is wrong" in out
    assert "expected [2, 4], got [3.0, 6.0]" in out
    assert "Implement double" not in out


def test_k_runs_one_test_inline_and_in_pytest(fake_repo, tito):
    add_double_test(fake_repo)
    code, out, _ = tito(fake_repo, "module", "test", "01", "-k", "double")
    assert code == 0, out
    assert "test_unit_double: ok" in out and "test_unit_add: ok" not in out
    assert "1 test cell(s): 1 passed" in out
    assert "1 passed, 1 deselected" in out  # pytest ran test_double only
    code, out, _ = tito(fake_repo, "module", "test", "01", "-k", "nothing_like_this")
    assert code == 1
    assert "-k nothing_like_this matches no inline test and no pytest test" in out


def test_python_runs_the_module_top_to_bottom_as_before(fake_repo, kit):
    add_double_test(fake_repo)
    result = kit.run_python(fake_repo, "modules/01_tensor/tensor.py")
    assert result.returncode == 0, result.stderr
    assert "test_unit_add: ok" in result.stdout and "test_unit_double: ok" in result.stdout


def test_dependencies_come_from_imports_through_namespaces(fake_repo, kit):
    modules = {m.number: m for m in find_modules(fake_repo)}
    assert [m.tag for m in dependencies(fake_repo, modules["02"])] == ["01_tensor"]
    assert dependencies(fake_repo, modules["01"]) == []
    # A third module importing only through a hand-written namespace still depends on both.
    kit.write(fake_repo, "tinytorch/nn/__init__.py",
              "from tinytorch.core.activations import relu\nfrom tinytorch.core.tensor import Tensor\n")
    kit.write(fake_repo, "modules/03_layers/layers.py",
              "# %%\n#| default_exp core.layers\n\n# %%\n#| export\nfrom tinytorch.nn import relu\n")
    third = next(m for m in find_modules(fake_repo) if m.number == "03")
    assert [m.tag for m in dependencies(fake_repo, third)] == ["01_tensor", "02_activations"]


def test_a_failure_caused_by_an_earlier_module_names_it(fake_repo, tito):
    assert tito(fake_repo, "module", "complete", "01")[0] == 0
    source = fake_repo / "modules/02_activations/activations.py"
    source.write_text(source.read_text() + (
        "\n\n# %%\n#| test\ndef test_unit_relu_of_a_sum():\n"
        "    got = relu(Tensor([1.0]) + Tensor([2.0])).data.tolist()\n"
        "    assert got == [3.0], f'relu(1 + 2): expected [3.0], got {got}'\n\n\ntest_unit_relu_of_a_sum()\n"))
    tensor = fake_repo / "modules/01_tensor/tensor.py"
    tensor.write_text(tensor.read_text().replace("self.data + other.data", "self.data - other.data"))
    code, out, _ = tito(fake_repo, "module", "complete", "02")
    assert code == 1
    assert "01_tensor (edited since completion)" in out  # completing 02 needs a complete 01
    # No `tito export 01`: testing 02 exports the modules it builds on, so the broken __add__
    # the learner just typed is what runs, not the package's last export.
    code, out, _ = tito(fake_repo, "module", "test", "02")
    assert code == 1
    assert "exported tinytorch/core/tensor.py: modules/01_tensor changed since its last export" in out
    assert "FAIL  tests/01_tensor" in out
    assert "revisit module 01 first (`tito module test 01`)" in out


def test_a_future_import_holds_for_the_cells_after_it(fake_repo, kit, tito):
    # As in a script (one compile unit) and in Jupyter: an early `from __future__ import
    # annotations` makes later cells' annotations lazy, so a class can name itself in them.
    kit.write(fake_repo, "modules/03_chain/chain.py",
              "# %%\n#| default_exp core.chain\n\n# %%\n#| export\nfrom __future__ import annotations\n\n"
              "# %%\n#| export\nclass Link:\n    def then(self, other: Link | None) -> Link:\n"
              "        return other or self\n\n\n# %%\n#| test\ndef test_unit_link():\n"
              "    assert Link().then(None) is not None\n    print('test_unit_link: ok')\n\n\n"
              "test_unit_link()\n")
    kit.write(fake_repo, "tests/03_chain/test_chain.py",
              "from tinytorch.core.chain import Link\n\n\ndef test_link():\n    assert Link()\n")
    code, out, _ = tito(fake_repo, "module", "test", "03")
    assert code == 0, out
    assert "1 test cell(s): 1 passed" in out
