"""Smoke test of the 2024 systems milestone: both before/after tables are measured end to end on the
shipped LeNet-5 and a GPT trained for a few iterations, with the JSON summary.

It checks what must hold whatever the machine's load: the steps that do not change the weights
keep accuracy and loss exactly, cached generation writes the uncached tokens, int8 files are ~4x
smaller. Speed is the benchmarks' business, not a test's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "milestones/2024_systems/run.py"
QUICK = ("--gpt-iters", "3", "--repeats", "3", "--new-tokens", "8", "--gpt-eval-batches", "1",
         "--finetune-epochs", "1", "--json", "--quiet")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    # An empty data folder: no GPT checkpoint there, so the quick training path runs (offline).
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TINYTORCH_DATA": str(tmp_path_factory.mktemp("data"))}
    proc = subprocess.run([sys.executable, str(SCRIPT), *QUICK], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, f"run.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cnn_table_has_every_step_and_the_weights_preserving_ones_keep_accuracy(result):
    cnn = result["cnn"]
    assert list(cnn) == ["textbook conv", "fast kernels", "int8", "slim", "slim + int8"]
    assert cnn["fast kernels"]["accuracy"] == cnn["textbook conv"]["accuracy"], "a kernel must not change answers"
    assert cnn["textbook conv"]["accuracy"] >= 0.95, "the shipped LeNet-5 reads TinyMNIST's digits"
    assert abs(cnn["int8"]["accuracy"] - cnn["fast kernels"]["accuracy"]) <= 0.01
    assert cnn["fast kernels"]["size_bytes"] / cnn["int8"]["size_bytes"] >= 3.9, "int8 LeNet file ~4x smaller"
    assert cnn["slim"]["size_bytes"] < cnn["fast kernels"]["size_bytes"] / 3, "half the channels, ~1/4 weights"


def test_gpt_table_cache_is_exact_and_int8_weights_are_smaller(result):
    gpt = result["gpt"]
    assert gpt["cache_tokens_identical"], "the KV cache must write exactly the uncached tokens"
    rows = gpt["rows"]
    assert list(rows) == ["unfused", "fused", "KV cache", "int8 weights", "pruned 50%"]
    assert rows["KV cache"]["val_loss"] == rows["fused"]["val_loss"] == pytest.approx(rows["unfused"]["val_loss"])
    assert abs(rows["int8 weights"]["val_loss"] - rows["fused"]["val_loss"]) < 0.02
    assert rows["fused"]["size_bytes"] / rows["int8 weights"]["size_bytes"] > 3.0
    assert rows["pruned 50%"]["size_bytes"] < rows["fused"]["size_bytes"], "CSR of half the block weights is smaller"
    assert result["environment"]["logical_cores"] >= 1 and result["milestone"] == "2024_systems"
