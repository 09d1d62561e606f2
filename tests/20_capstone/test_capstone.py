"""Module 20: the optimization ladder, its table, local scores and submission packaging, on the
shipped reference LeNet-5 and TinyMNIST; one packaged entry goes through `tito olympics`."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.core.data import TinyMNIST
from tinytorch.systems.benchmarking import EVENTS
from tinytorch.systems.capstone import (
    Step,
    file_size,
    ladder_rows,
    ladder_table,
    local_scores,
    make_manifest,
    optimization_ladder,
    write_submission,
)
from tinytorch.systems.quantization import quantize_model, save_quantized

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "olympics" / "baselines"


def _lenet():
    spec = importlib.util.spec_from_file_location("olympics_lenet5", BASELINES / "lenet5.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data():
    test = TinyMNIST(train=False)
    x = ((test.data[:100].astype(np.float32) / 255) - np.float32(0.1307)) / np.float32(0.3081)
    return x, test.targets[:100].astype(np.int64)


@pytest.fixture(scope="module")
def reference():
    return _lenet().load_model(str(BASELINES / "lenet5" / "weights.npz"))


def save_float(model, path):
    tt.save(model.state_dict(), path)


def save_int8(model, path):
    save_quantized(path, model)


@pytest.fixture(scope="module")
def ladder(reference, data):
    x, y = data
    steps = [Step("reference", "none", lambda m: m, save_float),
             Step("int8", "int8", lambda m: quantize_model(m, [tt.Tensor(x[:50])], per_channel=True), save_int8)]
    return optimization_ladder(reference, steps, x, y, repeats=3, warmup=1)


def test_ladder_measures_every_rung_with_its_own_file(ladder, reference, data):
    assert [row["name"] for row in ladder] == ["reference", "int8"]
    assert ladder[0]["model"] is reference, "the identity step must leave the given model as the first row"
    first, second = ladder[0]["result"], ladder[1]["result"]
    assert first["size_bytes"] == file_size(lambda p: save_float(reference, p))
    assert first["size_bytes"] / second["size_bytes"] >= 3.9, "an int8 LeNet file is about 4x smaller"
    assert "predictions" not in first and first["n_samples"] == 100
    x, y = data
    with tt.no_grad():
        expected = float((reference(tt.Tensor(x)).data.argmax(axis=1) == y).mean())
    assert first["accuracy"] == pytest.approx(expected)


def test_each_rung_saves_its_own_model_not_the_last_one(reference, data):
    """A lambda reading the loop variable late would save the last model for every rung."""
    x, y = data
    widths = [(6, 16, 120, 84), (3, 8, 60, 42)]
    lenet = _lenet()
    steps = [Step(f"w{w[0]}", "resize", lambda m, w=w: lenet.lenet5(w).eval(), save_float) for w in widths]
    rows = optimization_ladder(reference, steps, x, y, repeats=3, warmup=0)
    sizes = [row["result"]["size_bytes"] for row in rows]
    assert sizes[0] > 3 * sizes[1], f"the narrow model's file must be the smaller one, got {sizes}"


def test_a_step_that_returns_no_module_is_named(reference, data):
    x, y = data
    with pytest.raises(TypeError, match="step 'broken' returned int"):
        optimization_ladder(reference, [Step("broken", "x", lambda m: 3, save_float)], x, y, repeats=3)
    with pytest.raises(TypeError, match="non-empty list of Step"):
        optimization_ladder(reference, [], x, y)
    with pytest.raises(TypeError, match="model must be a tinytorch Module"):
        optimization_ladder("model", [Step("a", "b", lambda m: m, save_float)], x, y)


def test_table_has_one_line_per_rung_and_ratios_to_the_first(ladder):
    text = ladder_table(ladder)
    lines = text.splitlines()
    assert len(lines) == 2 + len(ladder) and lines[0].startswith("step")
    cells = ladder_rows(ladder)
    assert cells[0][4] == "1.00x" and cells[0][8] == "1.00x"
    ratio = ladder[0]["result"]["size_bytes"] / ladder[1]["result"]["size_bytes"]
    assert cells[1][8] == f"{ratio:.2f}x"
    assert cells[1][5] == f"{ladder[1]['result']['throughput_per_s']:,.0f}"
    with pytest.raises(ValueError, match="at least one"):
        ladder_rows([])


def test_local_scores_use_the_events_floors(ladder):
    first, second = ladder[0]["result"], ladder[1]["result"]
    scores = local_scores(second, first)
    assert set(scores) == set(EVENTS)
    for key, (ok, reason, score) in scores.items():
        assert ok == EVENTS[key].eligible(second, first)[0] and (score is None) == (not ok), (key, reason)
    only = local_scores(second, first, {"extreme_push": EVENTS["extreme_push"]})
    assert list(only) == ["extreme_push"]
    with pytest.raises(TypeError, match="result must be a dict"):
        local_scores([1], first)


def test_file_size_needs_a_file():
    with pytest.raises(ValueError, match="wrote no file"):
        file_size(lambda path: None)
    with pytest.raises(TypeError, match="save must be a function"):
        file_size("weights.npz")


def test_written_submission_is_what_tito_accepts(tmp_path, reference):
    from tito.olympics import read_manifest

    manifest = make_manifest("plain-copy", "tests", ["latency_sprint", "all_around"], ["none"])
    folder = write_submission(tmp_path / "entry", BASELINES / "lenet5.py", lambda p: save_float(reference, p),
                              manifest)
    checked, model, weights = read_manifest(folder)
    assert checked == manifest and model.name == "model.py" and weights.stat().st_size > 0
    with pytest.raises(FileExistsError, match="already holds a submission"):
        write_submission(folder, BASELINES / "lenet5.py", lambda p: None, manifest)
    with pytest.raises(ValueError, match="existing .py file"):
        write_submission(tmp_path / "other", tmp_path / "missing.py", lambda p: None, manifest)
    with pytest.raises(ValueError, match="name must be"):
        make_manifest("", "t", ["latency_sprint"], ["none"])


@pytest.mark.skipif(os.name != "posix", reason="the sandbox needs POSIX resource limits")
def test_a_packaged_int8_entry_is_validated_by_the_olympics(tmp_path, reference, data, monkeypatch, capsys):
    from tito.main import main

    x, _ = data
    qmodel = quantize_model(reference, [tt.Tensor(x[:50])], per_channel=True)
    manifest = make_manifest("int8-entry", "tests", ["memory_challenge"], ["int8"], {"storage": "int8"})
    folder = write_submission(tmp_path / "entry", BASELINES / "lenet5.py", lambda p: save_quantized(p, qmodel),
                              manifest)
    store = ["--store", str(tmp_path / "store")]
    monkeypatch.chdir(ROOT)
    assert main(["olympics", "submit", str(folder), *store]) == 0
    assert main(["olympics", "validate", "--limit", "200", "--repeats", "3", *store]) == 0
    out = capsys.readouterr().out
    assert "OK   #1 int8-entry" in out and "memory_challenge score" in out, out
    assert json.loads(json.dumps(manifest)) == manifest
