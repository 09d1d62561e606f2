"""benchmarks/attention_memory.py and gpt_step.py's fused-vs-unfused part run (tiny sizes) and report JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_json(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args, "--json"], capture_output=True,
                          text=True, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_attention_memory_reports_memory_time_and_agreement_per_length():
    result = run_json("attention_memory.py", "--lengths", "16", "48", "--heads", "2", "--head-dim", "8",
                      "--block", "8", "--repeats", "1")
    assert result["benchmark"] == "attention_memory" and [r["T"] for r in result["rows"]] == [16, 48]
    for row in result["rows"]:
        assert row["max_abs_diff"] <= 1e-5, row
        assert row["unfused_mb"] > 0 and row["blocked_mb"] > 0 and row["blocked_ms"] > 0
        assert row["composed_mb"] > row["unfused_mb"], "the composition keeps more (T, T) arrays than one Function"
    assert result["rows"][1]["memory_ratio"] > result["rows"][0]["memory_ratio"], "the saving grows with T"


def test_gpt_step_times_fused_and_unfused_and_checks_they_agree():
    result = run_json("gpt_step.py", "--small", "--no-torch", "--repeats", "2", "--profiles", "1")
    assert result["fused_check"]["grad_max_rel_diff"] <= 1e-5
    assert result["unfused_ms"] > 0 and result["fused_speedup"] > 0 and result["unfused_ratio"] is None
