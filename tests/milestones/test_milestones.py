"""Smoke tests: every milestone and benchmark script runs on the framework and reports results.

Each script runs in its own process, exactly as a learner runs it (`python milestones/.../run.py`),
with `--json --quiet`; the last stdout line must be one JSON object. The milestones need modules
01-05, so these tests fail until those modules are complete and exported.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MILESTONES = sorted(ROOT.glob("milestones/*/run.py"))


def run_json(script: Path, *args: str, timeout: float = 60):
    """Run `script` with `--json` plus `args` from the repo root; (last-line JSON, the process)."""
    proc = subprocess.run([sys.executable, str(script), "--json", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script.relative_to(ROOT)} failed:\n{proc.stdout}\n{proc.stderr}"
    last = proc.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    assert isinstance(result, dict), f"last line is not a JSON object: {last!r}"
    return result, proc


def milestone_dict(script: Path) -> dict:
    """The MILESTONE literal, read the way tito reads it: with ast, without importing."""
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MILESTONE"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{script.relative_to(ROOT)} has no MILESTONE = {{...}} literal")


def test_the_milestones_are_there():
    names = {script.parent.name for script in MILESTONES}
    assert {"1957_perceptron", "1969_xor"} <= names


@pytest.mark.parametrize("script", MILESTONES, ids=lambda p: p.parent.name)
def test_milestone_metadata_is_a_literal_tito_can_read(script):
    meta = milestone_dict(script)
    assert set(meta) >= {"title", "year", "requires", "description"}
    assert meta["year"] == int(script.parent.name.split("_")[0])
    assert meta["requires"] and all(re.fullmatch(r"\d\d_[a-z0-9_]+", r) for r in meta["requires"])
    assert isinstance(meta["title"], str) and isinstance(meta["description"], str)


def test_perceptron_reaches_full_training_accuracy():
    result, _ = run_json(ROOT / "milestones/1957_perceptron/run.py", "--quiet")
    assert set(result) >= {"milestone", "train_accuracy", "test_accuracy", "epochs", "updates",
                           "novikoff_bound", "weights", "bias", "wall_time_s", "seed"}
    assert result["milestone"] == "1957_perceptron"
    assert result["train_accuracy"] == 1.0
    assert 0.9 <= result["test_accuracy"] <= 1.0
    assert 1 <= result["epochs"] <= 100
    assert result["updates"] <= result["novikoff_bound"]  # Novikoff's theorem, on measured data


def test_perceptron_plot_option_writes_a_png_or_says_why_not(tmp_path):
    target = tmp_path / "boundary.png"
    script = ROOT / "milestones/1957_perceptron/run.py"
    _, proc = run_json(script, "--quiet", "--plot", str(target))
    if importlib.util.find_spec("matplotlib") is None:
        assert not target.exists()
        assert "matplotlib is not installed" in proc.stderr  # stderr, so the JSON stays last
    else:
        assert target.stat().st_size > 0


def test_xor_single_layer_stalls_and_mlp_solves_it():
    result, _ = run_json(ROOT / "milestones/1969_xor/run.py", "--quiet")
    assert set(result) >= {"milestone", "single_layer_accuracy", "single_layer_best_accuracy",
                           "mlp_accuracy", "mlp_loss", "epochs", "wall_time_s", "seed"}
    assert result["milestone"] == "1969_xor"
    assert result["single_layer_best_accuracy"] <= 0.75  # no line separates XOR
    assert result["mlp_accuracy"] == 1.0
    assert result["mlp_loss"] < result["single_layer_loss"]


def test_xor_is_deterministic_for_a_seed():
    args = ("--quiet", "--seed", "3", "--epochs", "300")
    first, _ = run_json(ROOT / "milestones/1969_xor/run.py", *args)
    second, _ = run_json(ROOT / "milestones/1969_xor/run.py", *args)
    keep = lambda r: {k: v for k, v in r.items() if k != "wall_time_s"}
    assert keep(first) == keep(second)


def test_mlp_step_benchmark_small():
    result, proc = run_json(ROOT / "benchmarks/mlp_step.py", "--small", "--repeats", "1")
    assert set(result) >= {"benchmark", "tinytorch_ms", "numpy_ms", "ratio", "numpy_add_us",
                           "tensor_add_us", "tensor_add_requires_grad_us", "machine"}
    assert result["benchmark"] == "mlp_step"
    assert result["tinytorch_ms"] > 0 and result["numpy_ms"] > 0 and result["ratio"] > 0
    assert "gradients agree" in proc.stdout
