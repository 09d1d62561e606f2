"""Module 19: percentiles, median/IQR, Tukey outliers, the bootstrap CI, measure, and the comparison rule.

Statistical behaviour is tested on seeded synthetic samples shaped like real timings (a floor, an
exponential tail and rare large stalls), so no test depends on this machine's load. The one test
that times real code compares a 2 ms sleep with a 6 ms one: a difference no load can hide.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.systems import benchmarking as B


def timings(rng, scale: float, n: int = 30, stall_rate: float = 0.05) -> np.ndarray:
    """Seconds that look like a busy machine's: scale * (1 + Exp(5%)), and a few 3-10x stalls."""
    x = scale * (1.0 + rng.exponential(0.05, size=n))
    stalls = rng.random(n) < stall_rate
    x[stalls] *= rng.uniform(3, 10, size=int(stalls.sum()))
    return x


# ----- percentile, median_iqr, tukey_outliers ---------------------------------------------------
@settings(max_examples=60)
@given(values=st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=40), q=st.floats(0, 100))
def test_percentile_equals_numpys_linear_percentile(values, q):
    assert B.percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12, abs=1e-9)


def test_percentile_by_hand_and_its_bounds():
    assert B.percentile([5.0], 99) == 5.0, "one sample is every percentile"
    assert B.percentile([10.0, 0.0, 20.0, 30.0], 50) == 15.0
    assert B.percentile([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 99) == pytest.approx(9.9)


def test_median_iqr_and_outliers_are_robust_to_one_huge_stall():
    x = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02, 0.98, 250.0])
    median, iqr = B.median_iqr(x)
    assert median == 1.0 and iqr == pytest.approx(0.07)
    assert B.tukey_outliers(x) == [8]
    assert B.tukey_outliers([1.0, 1.0, 1.0, 1.0]) == [], "no spread, no outliers"
    assert B.tukey_outliers([1.0, 2.0, 3.0, 4.0, 5.0]) == [], "uniform values are never outliers"


@pytest.mark.parametrize("bad, message", [
    ([], "non-empty"), ([[1.0, 2.0]], "1-D"), ([1.0, float("nan")], "finite"), ([1.0, -0.5], ">= 0"),
    ("fast", "sequence of numbers"),
])
def test_bad_samples_are_refused_with_the_argument_named(bad, message):
    with pytest.raises((ValueError, TypeError), match=message) as error:
        B.median_iqr(bad)
    assert "samples" in str(error.value)


@pytest.mark.parametrize("q", [-1, 100.5, "50", None, True])
def test_percentile_rejects_q_outside_0_100(q):
    with pytest.raises(ValueError, match=r"percentile: q must be a number in \[0, 100\]"):
        B.percentile([1.0, 2.0], q)


# ----- bootstrap CI ---------------------------------------------------------------------------------
def test_bootstrap_ci_is_seeded_contains_the_median_and_shrinks_like_one_over_sqrt_n():
    rng = np.random.default_rng(0)
    small, large = timings(rng, 1e-3, n=25, stall_rate=0), timings(rng, 1e-3, n=400, stall_rate=0)
    low, high = B.bootstrap_ci(small, seed=3)
    assert (low, high) == B.bootstrap_ci(small, seed=3) and low <= np.median(small) <= high
    narrow = B.bootstrap_ci(large, seed=3)
    shrink = (narrow[1] - narrow[0]) / (high - low)
    assert 0.12 < shrink < 0.45, f"16x the samples should give about 1/4 the width, got {shrink:.3f}"


def test_bootstrap_ci_covers_the_true_median_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    true_median = 1.0 + 0.05 * np.log(2)  # of 1 + Exp(scale 0.05)
    hits = 0
    for seed in range(200):
        low, high = B.bootstrap_ci(1.0 + rng.exponential(0.05, size=30), seed=seed, resamples=1000)
        hits += low <= true_median <= high
    assert 176 <= hits <= 200, f"a 95% CI should cover the true median in ~190 of 200 experiments, got {hits}"


def test_a_90_percent_interval_is_narrower_than_a_99_percent_one():
    x = timings(np.random.default_rng(2), 1e-3)
    ninety, ninety_nine = B.bootstrap_ci(x, confidence=0.9), B.bootstrap_ci(x, confidence=0.99)
    assert ninety_nine[0] <= ninety[0] and ninety[1] <= ninety_nine[1]


@pytest.mark.parametrize("kwargs, name", [({"confidence": 1.0}, "confidence"), ({"confidence": 0}, "confidence"),
                                          ({"resamples": 10}, "resamples"), ({"seed": -1}, "seed"),
                                          ({"seed": 1.5}, "seed")])
def test_bootstrap_ci_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"bootstrap_ci: {name} must be"):
        B.bootstrap_ci([1.0, 2.0, 3.0], **kwargs)


# ----- Measurement and measure ----------------------------------------------------------------------
def test_measurement_keeps_every_sample_and_round_trips_through_json():
    x = timings(np.random.default_rng(3), 2e-3, stall_rate=0.2)
    m = B.Measurement.from_samples(x, seed=1)
    assert m.samples.size == 30 and m.outliers, "outliers are reported, and still in the samples"
    assert all(x[i] > m.percentile(75) for i in m.outliers)
    data = json.loads(json.dumps(m.to_dict()))
    assert data["unit"] == "s" and data["median"] == m.median and data["ci95"] == list(m.ci95)
    assert data["p50"] == m.median and data["p50"] <= data["p90"] <= data["p99"] <= data["max"]
    again = B.Measurement.from_dict(data, seed=1)
    assert again.median == m.median and again.ci95 == m.ci95 and again.outliers == m.outliers
    with pytest.raises(ValueError, match="Measurement.from_dict: data must be"):
        B.Measurement.from_dict({"median": 1.0})


def test_measure_warms_up_then_times_each_call():
    calls = []
    m = B.measure(lambda: calls.append(time.perf_counter()), warmup=4, repeats=6, seed=0)
    assert len(calls) == 10 and m.samples.shape == (6,)
    assert np.all(m.samples >= 0) and m.samples.max() < 0.5


def test_measure_interleaved_calls_in_turns_in_a_shuffled_order():
    order = []
    result = B.measure_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                                   warmup=1, repeats=20)
    assert order[:2] == ["a", "b"], f"one warm-up call each first, got {order[:2]}"
    rounds = [tuple(order[i:i + 2]) for i in range(2, len(order), 2)]
    assert len(rounds) == 20 and all(sorted(r) == ["a", "b"] for r in rounds), f"one call of each per round: {rounds}"
    assert {("a", "b"), ("b", "a")} <= set(rounds), "the order inside the rounds must vary (seeded shuffle)"
    assert set(result) == {"a", "b"} and result["a"].samples.shape == (20,)


def test_a_real_tripled_sleep_is_told_apart_and_a_repeat_is_not():
    """Real timing, robust by construction: 4 ms between the two is far above any scheduler delay."""
    fns = {"short": lambda: time.sleep(0.002), "again": lambda: time.sleep(0.002), "long": lambda: time.sleep(0.006)}
    m = B.measure_interleaved(fns, warmup=1, repeats=12)
    assert m["short"].median >= 0.002, "sleep(0.002) cannot take less than 2 ms"
    slower = B.compare(m["short"], m["long"])
    assert slower.verdict == "slower" and slower.significant and slower.ratio > 1.5, str(slower)


@pytest.mark.parametrize("call, message", [
    (lambda: B.measure(42), "measure: fn must be callable"),
    (lambda: B.measure(lambda: None, repeats=2), "measure: repeats must be an int >= 3, got 2"),
    (lambda: B.measure(lambda: None, warmup=-1), "measure: warmup must be an int >= 0"),
    (lambda: B.measure(lambda: None, seed="0"), "measure: seed must be"),
    (lambda: B.measure_interleaved({}), "measure_interleaved: fns must be a non-empty dict"),
    (lambda: B.measure_interleaved({"x": 1}), r"fns\['x'\] must be callable"),
])
def test_measure_bad_arguments(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


# ----- compare: the rule, on seeded samples ---------------------------------------------------------
def verdicts(scale_ratio: float, trials: int = 60, n: int = 30) -> list[str]:
    rng = np.random.default_rng(int(scale_ratio * 1000))
    out = []
    for seed in range(trials):
        base = B.Measurement.from_samples(timings(rng, 1e-3, n))
        cand = B.Measurement.from_samples(timings(rng, 1e-3 * scale_ratio, n))
        out.append(B.compare(base, cand, seed=seed).verdict)
    return out


def test_same_distribution_is_almost_never_called_different():
    found = verdicts(1.0)
    assert found.count("no real difference") >= 57, f"false alarms: {60 - found.count('no real difference')}/60"


def test_ten_percent_slower_is_told_apart():
    found = verdicts(1.10)
    assert found.count("slower") >= 57 and "faster" not in found, f"10% slower: {found.count('slower')}/60 seen"


def test_ten_percent_faster_is_told_apart():
    assert verdicts(1 / 1.10).count("faster") >= 57


def test_repeated_runs_of_the_same_thing_have_overlapping_intervals():
    rng = np.random.default_rng(7)
    runs = [B.Measurement.from_samples(timings(rng, 1e-3)) for _ in range(20)]
    overlapping = sum(a.overlaps(b) for i, a in enumerate(runs) for b in runs[i + 1:])
    assert overlapping >= 0.95 * 190, f"{overlapping} of 190 pairs overlap"


def bursty_rounds(rng, ratio: float, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Timings taken in turns on a machine whose load changes from round to round (shared by a round)."""
    load = rng.lognormal(0.0, 0.3, size=n)  # round i is slowed by load[i] for both functions
    base = 1e-3 * load * (1.0 + rng.exponential(0.01, size=n))
    return base, ratio * 1e-3 * load * (1.0 + rng.exponential(0.01, size=n))


def test_paired_comparison_sees_through_load_that_a_round_shares():
    rng = np.random.default_rng(11)
    paired_right = unpaired_right = 0
    for seed in range(40):
        base, cand = bursty_rounds(rng, 1.10)
        paired = B.compare(B.Measurement.from_samples(base, run="r"), B.Measurement.from_samples(cand, run="r"),
                           seed=seed)
        unpaired = B.compare(B.Measurement.from_samples(base), B.Measurement.from_samples(cand), seed=seed)
        assert paired.paired and not unpaired.paired
        assert paired.ratio_of_medians == unpaired.ratio, "ratio_of_medians is always the plain ratio"
        paired_right += paired.verdict == "slower"
        unpaired_right += unpaired.verdict == "slower"
    assert paired_right == 40, f"paired, the 10% is in every round's ratio: {paired_right}/40 seen"
    assert unpaired_right < 30, f"unpaired, the shared load hides it more often: {unpaired_right}/40"


def test_paired_same_vs_same_and_when_pairing_applies():
    rng = np.random.default_rng(12)
    found = []
    for seed in range(40):
        base, cand = bursty_rounds(rng, 1.0)
        found.append(B.compare(B.Measurement.from_samples(base, run="r"), B.Measurement.from_samples(cand, run="r"),
                               seed=seed).verdict)
    assert found.count("no real difference") >= 38, found
    a, b = B.Measurement.from_samples([1.0, 2.0, 3.0], run="x"), B.Measurement.from_samples([1.0, 2.0, 3.0], run="y")
    assert not B.compare(a, b).paired, "different runs are never paired"
    short = B.Measurement.from_samples([1.0, 2.0], run="x")
    assert not B.compare(a, short).paired, "different lengths are never paired"
    m = B.measure_interleaved({"a": lambda: None, "b": lambda: None}, warmup=0, repeats=3)
    assert m["a"].run is not None and m["a"].run == m["b"].run and B.measure(lambda: None).run is None
    again = B.Measurement.from_dict(json.loads(json.dumps(m["a"].to_dict())))
    assert again.run == m["a"].run, "the run token survives to_dict/from_dict, so stored results still pair"


def test_verdict_rule_edges():
    assert B.verdict(1.10, (1.02, 1.2)) == (True, "slower")
    assert B.verdict(0.80, (0.7, 0.9)) == (True, "faster")
    assert B.verdict(1.02, (1.01, 1.03)) == (False, "no real difference"), "2% is under min_effect=5%"
    assert B.verdict(1.02, (1.01, 1.03), min_effect=0.01) == (True, "slower")
    assert B.verdict(0.96, (0.95, 0.97)) == (False, "no real difference"), "4% is under the default 5%"
    assert B.verdict(0.94, (0.92, 0.96)) == (True, "faster")
    assert B.verdict(1.5, (0.99, 2.0)) == (False, "no real difference"), "the CI contains 1"


def test_comparison_fields_and_bad_arguments():
    base = B.Measurement.from_samples([1.0, 1.1, 0.9, 1.0])
    cand = B.Measurement.from_samples([2.0, 2.2, 1.8, 2.0])
    c = B.compare(base, cand)
    assert c.ratio == 2.0 and c.speedup == 0.5 and c.ci95[0] > 1 and c.verdict == "slower"
    assert json.loads(json.dumps(c.to_dict()))["verdict"] == "slower"
    with pytest.raises(TypeError, match="compare: baseline must be a Measurement"):
        B.compare([1.0], cand)
    with pytest.raises(ValueError, match="compare: min_effect must be"):
        B.compare(base, cand, min_effect=1.5)
