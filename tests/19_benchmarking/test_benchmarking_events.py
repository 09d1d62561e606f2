"""Module 19: the five TorchPerf Olympics events (rules, floors, scores), the Pareto front and the report."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from tinytorch.systems import benchmarking as B


def result(accuracy=0.98, p50=2.0, size=400_000, peak=2.0, throughput=1000.0, n=20, seed=0) -> dict:
    """A BenchmarkResult.to_dict()-shaped dict with real latency samples around p50 (ms)."""
    samples = p50 / 1e3 * (1.0 + np.random.default_rng(seed).exponential(0.02, size=n))
    latency = B.Measurement.from_samples(samples).to_dict()
    return {"accuracy": accuracy, "latency": latency,
            "latency_ms": {q: latency[q] * 1e3 for q in ("p50", "p90", "p99")}, "size_bytes": size,
            "peak_memory_mb": peak, "throughput_per_s": throughput, "environment": {"cpu": "test"}}


@pytest.fixture
def base() -> dict:
    """The baseline every event compares with (built per test: in a student release it needs module 19)."""
    return result()


# ----- events -------------------------------------------------------------------------------------
def test_the_five_events_have_written_rules():
    assert list(B.EVENTS) == ["latency_sprint", "memory_challenge", "accuracy_contest", "all_around", "extreme_push"]
    for key, event in B.EVENTS.items():
        assert event.key == key and event.title and event.measured
        assert "Score:" in event.rules and "Floor:" in event.rules and "baseline" in event.rules, event.rules
        assert json.loads(json.dumps(event.to_dict()))["rules"] == event.rules


@pytest.mark.parametrize("key, identity", [("latency_sprint", 1.0), ("memory_challenge", 1.0),
                                           ("accuracy_contest", 98.0), ("all_around", 1.0), ("extreme_push", 1.0)])
def test_the_baseline_is_eligible_against_itself_and_scores_the_identity(key, identity, base):
    event = B.EVENTS[key]
    assert event.eligible(base, base) == (True, "")
    assert event.score(base, base) == pytest.approx(identity)


@pytest.mark.parametrize("key, floor", [("latency_sprint", 0.97), ("memory_challenge", 0.96),
                                        ("accuracy_contest", 0.98), ("all_around", 0.97), ("extreme_push", 0.93)])
def test_accuracy_floors_relative_to_the_baseline(key, floor, base):
    event = B.EVENTS[key]
    assert event.accuracy_floor(base) == pytest.approx(floor)
    assert event.eligible(result(accuracy=floor), base)[0], "exactly at the floor is allowed"
    ok, reason = event.eligible(result(accuracy=floor - 0.001), base)
    assert not ok and "below the floor" in reason and f"{floor:.2%}" in reason, reason
    with pytest.raises(B.Disqualified, match="disqualified: accuracy"):
        event.score(result(accuracy=floor - 0.001), base)


def test_scores_follow_the_written_rules(base):
    e = B.EVENTS
    fast = result(accuracy=0.975, p50=0.5)
    assert e["latency_sprint"].score(fast, base) == pytest.approx(base["latency_ms"]["p50"] / fast["latency_ms"]["p50"])
    small = result(accuracy=0.965, size=100_000, peak=0.5)
    assert e["memory_challenge"].score(small, base) == pytest.approx(4.0), "sqrt(4x smaller x 4x less memory)"
    assert e["accuracy_contest"].score(result(accuracy=0.99, p50=3.9), base) == pytest.approx(99.0)
    push = result(accuracy=0.94, p50=0.5, size=100_000)
    speedup = base["latency_ms"]["p50"] / push["latency_ms"]["p50"]
    assert e["extreme_push"].score(push, base) == pytest.approx(speedup * 4.0)
    balanced = result(accuracy=0.98, p50=1.0, size=200_000, peak=1.0, throughput=2000.0)
    speedup = base["latency_ms"]["p50"] / balanced["latency_ms"]["p50"]
    expected = (speedup * 2 * 2 * 2) ** 0.25
    assert e["all_around"].score(balanced, base) == pytest.approx(expected)


def test_accuracy_contest_caps_latency_at_twice_the_baseline(base):
    ok, reason = B.EVENTS["accuracy_contest"].eligible(result(accuracy=0.995, p50=4.5), base)
    assert not ok and "at most 2x" in reason, reason


def test_missing_or_bad_entries_are_named(base):
    no_accuracy = result() | {"accuracy": None}
    assert B.EVENTS["latency_sprint"].eligible(no_accuracy, base) == (
        False, "no accuracy measured (the test labels must be given to the harness)")
    no_size = result() | {"size_bytes": None}
    with pytest.raises(ValueError, match=r"result\['size_bytes'\] is missing"):
        B.EVENTS["memory_challenge"].score(no_size, base)
    with pytest.raises(ValueError, match=r"baseline\['accuracy'\] is missing"):
        B.EVENTS["extreme_push"].accuracy_floor({})
    with pytest.raises(ValueError, match=r"peak_memory_mb must be positive"):
        B.EVENTS["all_around"].score(result(peak=0.0), base)
    with pytest.raises(ValueError, match=r"result\['latency_ms'\]\['p50'\] must be a finite number"):
        B.EVENTS["latency_sprint"].score(result() | {"latency_ms": {"p50": float("nan")}}, base)


# ----- Pareto front and report ----------------------------------------------------------------------
def test_pareto_front_keeps_trade_offs_and_drops_dominated_models():
    entries = {"fp32": result(0.98, 2.0, 400_000), "int8": result(0.975, 2.2, 100_000),
               "wide": result(0.99, 5.0, 1_600_000), "worse": result(0.97, 2.5, 400_000),
               "twin": result(0.98, 2.0, 400_000)}
    assert B.pareto_front(entries) == ["fp32", "int8", "wide", "twin"], "identical models do not dominate each other"
    text = B.pareto_text(entries)
    assert "* fp32" in text and "  worse" in text
    with pytest.raises(ValueError, match=r"entries\['x'\]\['size_bytes'\] is missing"):
        B.pareto_front({"x": result() | {"size_bytes": None}})
    with pytest.raises(ValueError, match="pareto_front: entries must be a non-empty dict"):
        B.pareto_front({})


def test_write_report_writes_markdown_json_and_png_atomically(tmp_path):
    entries = {"base": result(), "fast": result(accuracy=0.975, p50=1.0, seed=1), "same": result(seed=2)}
    (tmp_path / "report.md").write_text("old")
    paths = B.write_report(entries, tmp_path / "report", baseline="base", title="Test report")
    assert sorted(os.listdir(tmp_path)) == sorted(["report.md", "report.json"] + (
        ["report_pareto.png"] if "png" in paths else [])), "no temporary files are left behind"
    document = json.loads((tmp_path / "report.json").read_text())
    assert document["comparisons"]["fast"]["verdict"] == "faster"
    assert document["comparisons"]["same"]["verdict"] == "no real difference"
    assert document["results"]["base"]["accuracy"] == 0.98 and document["environment"] == {"cpu": "test"}
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.startswith("# Test report") and "| fast * |" in markdown and "faster (" in markdown
    if "png" in paths:
        assert (tmp_path / "report_pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_pareto_without_matplotlib_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    assert B.plot_pareto({"a": result()}, tmp_path / "p.png") is None
    assert not (tmp_path / "p.png").exists()


def test_write_report_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"write_report: baseline must be one of \['a'\], got 'b'"):
        B.write_report({"a": result()}, tmp_path / "r", baseline="b")
    with pytest.raises(TypeError, match="write_report: stem must be a str or os.PathLike"):
        B.write_report({"a": result()}, 3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        B.write_report({"a": result()}, tmp_path / "missing" / "r")
