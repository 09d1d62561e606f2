"""Smoke tests of the 2017 milestone: a few training iterations of each task (shakespeare, tinypy,
tinytalks) run end to end with the JSON summary, the checkpoint can be loaded back with --load,
--chat answers questions from stdin, and `tito milestone run 2017` works.

The script runs in its own process from the repository root, as a learner runs it. It needs modules
01-13. One BLAS thread: these tests check that the pipeline works, not how well or how fast it learns
(milestones/README.md has the full runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "milestones/2017_transformer/run.py"
QUICK = ("--iters", "4", "--eval-interval", "2", "--eval-batches", "1", "--batch-size", "4")
KEYS = {"milestone", "task", "params", "seed", "iters", "train_loss", "val_loss", "train_time_s", "tokens_per_s",
        "wall_time_s", "vocab_size"}


def run(*args: str, stdin: str | None = None, timeout: float = 120, command=None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    command = command or [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environment,
                          input=stdin)


def result_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"run.py failed:\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["milestone"] == "2017_transformer"
    return result


def test_shakespeare_trains_saves_and_loads_back(tmp_path):
    checkpoint = tmp_path / "gpt.npz"
    proc = run(*QUICK, "--sample-chars", "40", "--checkpoint", str(checkpoint), "--json")
    result = result_of(proc)
    assert set(result) >= KEYS and result["task"] == "shakespeare" and result["iters"] == 4
    assert result["vocab_size"] == 65 and result["params"] == 804_096, "nanoGPT's Shakespeare model: 0.80M"
    assert 0 < result["val_loss"] < 4.5 and result["tokens_per_s"] > 0
    assert 0 < result["train_time_s"] <= result["wall_time_s"]
    assert "iter | train loss" in proc.stdout and "A sample" in proc.stdout
    assert checkpoint.is_file() and result["checkpoint"] == str(checkpoint)
    loaded = result_of(run("--load", str(checkpoint), "--eval-batches", "1", "--sample-chars", "10", "--json",
                           "--quiet"))
    assert loaded["iters"] == 0 and loaded["loaded"] == str(checkpoint)
    assert abs(loaded["val_loss"] - result["val_loss"]) < 0.3, "the loaded model is the trained one"


def test_tinypy_shows_completions_of_held_out_headers(tmp_path):
    result = result_of(run("--task", "tinypy", *QUICK, "--no-checkpoint", "--json"))
    assert result["task"] == "tinypy" and "val_loss" in result and "checkpoint" not in result
    assert result["completions"] and all(c.startswith("def ") for c in result["completions"])


def test_tinytalks_reports_held_out_accuracy_and_chats(tmp_path):
    proc = run("--task", "tinytalks", *QUICK, "--eval-questions", "30", "--no-checkpoint", "--chat", "--json",
               stdin="What is 2 plus 2?\n\nWhat is ☃?\n")
    result = result_of(proc)
    assert 0 <= result["test_accuracy"] <= 1 and 0 <= result["val_accuracy"] <= 1
    assert result["test_questions"] == 30 and result["val_questions"] == 30
    assert "held-out exact match" in proc.stdout
    answers = [line for line in proc.stdout.splitlines() if line.startswith("A: ")]
    assert len(answers) == 2, proc.stdout  # the empty line is skipped; stdin's end ends the chat
    assert "cannot read '☃'" in answers[1]


def test_bad_arguments_are_clear_errors():
    proc = run("--chat")
    assert proc.returncode == 2 and "--chat needs --task tinytalks" in proc.stderr
    proc = run("--iters", "0")
    assert proc.returncode == 2 and "--iters" in proc.stderr
    proc = run("--load", "/nonexistent/model.npz", "--quiet")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "cannot load" in proc.stderr


@pytest.mark.parametrize("task", ["shakespeare"])
def test_tito_milestone_run_2017(task):
    proc = run(command=[sys.executable, "-m", "tito.main", "milestone", "run", "2017", "--force", "--json", "--",
                        "--task", task, *QUICK, "--sample-chars", "10", "--no-checkpoint", "--quiet"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["task"] == task and result["iters"] == 4
