"""Smoke tests of the 1998 milestone: LeNet-5 trained with the framework learns TinyMNIST, the
CIFAR-10 recipe runs end to end on an archive in the official binary format, --measure-steps
times the CIFAR-10 model, and asking for MNIST without its files is a clear error.

The script runs in its own process from the repository root, as a learner runs it. It needs
modules 01-09. One BLAS thread: these tests check results, not speed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "milestones/1998_cnn/run.py"
KEYS = {"milestone", "dataset", "test_accuracy", "train_accuracy", "epochs", "train_time_s",
        "wall_time_s", "samples_per_s", "params", "seed"}
DEAD = "http://127.0.0.1:9"  # any download attempt goes to a closed local port and fails at once
OFFLINE = {"http_proxy": DEAD, "https_proxy": DEAD, "HTTP_PROXY": DEAD, "HTTPS_PROXY": DEAD,
           "no_proxy": "", "NO_PROXY": ""}


def run(*args: str, env: dict | None = None, timeout: float = 120, prelude: str = "") -> subprocess.CompletedProcess:
    """python run.py ARGS in a subprocess; `prelude` is Python run first in the same process."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    if prelude:
        code = (f"import runpy, sys\nsys.argv = {[str(SCRIPT), *args]!r}\n{prelude}\n"
                f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n")
        command = [sys.executable, "-c", code]
    else:
        command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environment)


def result_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"run.py failed:\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result) >= KEYS
    assert result["milestone"] == "1998_cnn"
    for key in ("test_accuracy", "train_accuracy"):
        assert isinstance(result[key], float) and 0 <= result[key] <= 1, (key, result[key])
    assert 0 < result["train_time_s"] <= result["wall_time_s"]
    assert result["samples_per_s"] > 0 and result["params"] > 0
    return result


def test_tinymnist_limit_one_epoch_runs_quietly():
    proc = run("--limit", "200", "--epochs", "1", "--json", "--quiet")
    result = result_of(proc)
    assert result["dataset"] == "tinymnist" and result["epochs"] == 1 and result["seed"] == 1998
    assert result["params"] == 61706  # LeNet-5 with 6 and 16 feature maps, 120-84-10
    assert result["train_images"] == 180  # --limit 200: a tenth held out for validation
    # --quiet: the summary and the JSON only; no banner, epoch table or pictures.
    assert "test accuracy:" in proc.stdout
    assert "epoch |" not in proc.stdout and "Confusion" not in proc.stdout and "+---" not in proc.stdout


def test_lenet5_learns_tinymnist():
    # The default recipe (20 epochs, a few seconds) reaches 96% for the default seed; chance is 10%.
    result = result_of(run("--json", "--quiet"))
    assert result["epochs"] == 20 and result["train_images"] == 900
    assert result["test_accuracy"] >= 0.9
    assert result["train_accuracy"] >= 0.9


def data_fixtures():
    """tests/08_data/conftest.py, loaded by path (its folder is not a package): its builders of
    official-format files, so this test makes the CIFAR-10 archive exactly as module 08's tests do."""
    spec = importlib.util.spec_from_file_location("tests_08_data_builders", ROOT / "tests/08_data/conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cifar10_recipe_runs_on_an_official_format_archive(tmp_path):
    cifar = data_fixtures().cifar_like("binary", per_batch=40)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / cifar.filename).write_bytes(cifar.archive)
    # The loader checks the archive against the official checksums (and would set a mismatching
    # file aside as .corrupt); this run tells it the synthetic archive's checksums instead.
    prelude = ("import tinytorch.core.data as D\n"
               f"D.CIFAR10.resources = (D.{cifar.resource!r},)")
    proc = run("--dataset", "cifar10", "--limit", "150", "--epochs", "1", "--batch-size", "32",
               "--no-download", "--json", env={"TINYTORCH_DATA": str(tmp_path), **OFFLINE}, prelude=prelude)
    result = result_of(proc)
    assert result["dataset"] == "cifar10" and result["model"] == "vgg4"
    assert result["train_images"] == 135
    assert "Confusion matrix on the 40 test images" in proc.stdout  # the full output path ran
    assert "airplane" in proc.stdout  # classes are named in the legend
    assert (tmp_path / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin").is_file()


def test_measure_steps_times_the_cifar10_model():
    proc = run("--dataset", "cifar10", "--measure-steps", "2", "--batch-size", "8", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["model"] == "vgg4" and result["measure_steps"] == 2 and result["batch_size"] == 8
    assert result["ms_per_step"] > 0 and result["images_per_epoch"] == 50000
    expected = result["ms_per_step"] / 1e3 * 50000 / 8
    assert abs(result["implied_epoch_s"] - expected) <= 0.1 + 0.01 * expected
    assert "implied epoch:" in proc.stdout


def test_mnist_without_its_files_is_a_clear_error(tmp_path):
    proc = run("--dataset", "mnist", "--no-download", "--json", "--quiet",
               env={"TINYTORCH_DATA": str(tmp_path), **OFFLINE})
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "cannot load mnist" in proc.stderr
    assert "download=False" in proc.stderr and str(tmp_path) in proc.stderr  # what and where
    assert "TINYTORCH_DATA" in proc.stderr  # how to fix it
    assert "{" not in proc.stdout  # no JSON result for a run that did not happen
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded or created
