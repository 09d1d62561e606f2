"""benchmarks/attention_step.py runs (tiny sizes) and ends with its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_attention_benchmark_small_runs_and_reports_json():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks/attention_step.py"), "--small", "--repeats", "1",
                           "--no-torch", "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "attention_step" and result["shape"] == {"B": 2, "T": 8, "E": 16, "H": 2}
    assert set(result["results"]) == {"CausalSelfAttention fwd+bwd", "same, use_fused(False)",
                                      "attention core from qkv", "SDPA (B,H,T,D) causal"}
    assert all(row["tinytorch_ms"] > 0 for row in result["results"].values())
