"""`tito system doctor`, `tito test`, and tito's behaviour outside a repository."""

from __future__ import annotations

from tito import doctor


def test_doctor_prints_ok_lines(fake_repo, tito, monkeypatch, tmp_path):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "data"))
    code, out, _ = tito(fake_repo, "system", "doctor")
    assert code == 0, out
    lines = out.splitlines()
    assert any(line.startswith("OK   python 3.") for line in lines)
    assert any(line.startswith("OK   numpy ") for line in lines)
    assert any(line.startswith("OK   blas: ") for line in lines)
    assert any(line.startswith("OK   threads: ") for line in lines)
    assert f"OK   tinytorch imports from {fake_repo}" in out
    assert f"datasets: {tmp_path / 'data'} ($TINYTORCH_DATA), will be created" in out
    assert all(line.split()[0] in {"OK", "FIX", "FAIL"} for line in lines[: len(lines) - 2])
    lab = next(line for line in lines if "jupyterlab" in line)
    # The verdict follows what `jupyter-lab --version` really did on this machine.
    assert lab.startswith("OK" if doctor._tool("jupyter-lab") else "FIX"), lab
    if lab.startswith("OK"):
        assert lab.split()[2][0].isdigit()  # the version jupyter-lab printed


def test_doctor_flags_a_broken_package_and_bad_thread_settings(fake_repo, tito, monkeypatch):
    (fake_repo / "tinytorch/__init__.py").write_text("raise ImportError('broken on purpose')\n")
    monkeypatch.setenv("OMP_NUM_THREADS", "zero")
    for check in ("check_jupyterlab", "check_kernel", "check_nbconvert", "check_jupytext_server"):
        monkeypatch.setattr(doctor, check, lambda: doctor.Line("OK", "not checked in this test"))
    code, out, _ = tito(fake_repo, "system", "doctor")
    assert code == 1
    assert "FAIL tinytorch does not import (ImportError: broken on purpose)" in out
    assert "FIX  threads:" in out and "OMP_NUM_THREADS='zero' is not a positive integer" in out


def test_blas_description_is_read_from_numpy():
    assert doctor.blas_description()


def test_tito_test_runs_pytest_and_passes_its_exit_code(fake_repo, tito, kit):
    code, out, _ = tito(fake_repo, "test", "-q", "-p", "no:cacheprovider")
    assert code == 0
    code, _, _ = tito(fake_repo, "test", "tests/01_tensor", "-q", "-k", "double")
    assert code == 0
    kit.write(fake_repo, "tests/empty/helpers.py", "")
    code, _, _ = tito(fake_repo, "test", "tests/empty", "-q")
    assert code == 5  # pytest's "no tests collected", passed through unchanged


def test_outside_a_repository_is_a_clear_error(tmp_path, tito):
    code, _, err = tito(tmp_path, "module", "status")
    assert code == 1 and "not inside a TinyTorch repository" in err


def test_python_m_tito_main_works(fake_repo, kit):
    result = kit.run_python(fake_repo, "-m", "tito.main", "--help")
    assert result.returncode == 0
    for command in ("export", "release", "module", "system", "test", "milestone"):
        assert command in result.stdout


NOTEBOOK_LINES = ("jupytext", "jupyterlab", "ipykernel", "nbconvert", "jupytext's Jupyter")


def test_doctor_never_says_ok_for_missing_notebook_tools(fake_repo, tito, monkeypatch):
    monkeypatch.setattr(doctor, "_tool", lambda name: None)  # no jupyter command anywhere
    monkeypatch.setattr(doctor, "_run", lambda command, timeout=60: (1, "ModuleNotFoundError: no module"))
    code, out, _ = tito(fake_repo, "system", "doctor")
    lines = [line for line in out.splitlines() if any(word in line for word in NOTEBOOK_LINES)]
    assert len(lines) == 5, out
    assert all(line.startswith("FIX") and "pip install -e '.[learn]'" in line for line in lines), out

