"""`tito profile MODEL`: the profiler table of the milestone models, JSON, trace, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REAL_ROOT = Path(__file__).resolve().parents[2]


def test_mlp_table_has_every_layer_and_the_overhead_line(tito):
    code, out, err = tito(REAL_ROOT, "profile", "mlp", "--batch", "8", "--repeats", "1")
    assert code == 0, err
    assert out.startswith("MLP 784-512-256-10 (MNIST recipe), batch 8")
    for row in ("1  ", "3  ", "5  ", "total (rows)", "profiler overhead"):
        assert row in out


def test_lenet5_alias_and_trace(tito, tmp_path):
    trace = tmp_path / "lenet.json"
    code, out, err = tito(REAL_ROOT, "profile", "lenet", "--batch", "4", "--repeats", "1", "--trace", str(trace))
    assert code == 0, err
    assert "LeNet-5" in out and "Conv2d" in out and "MaxPool2d" in out
    events = json.loads(trace.read_text())["traceEvents"]
    assert {"forward Sequential", "backward"} <= {e["name"] for e in events}


def test_gpt_is_profiled_with_shape_based_flops(tito):
    from tinytorch.systems.profiling import attention_core_flops, linear_flops

    code, out, err = tito(REAL_ROOT, "profile", "gpt", "--batch", "2", "--repeats", "1", "--json")
    assert code == 0, err
    data = json.loads(out.strip().splitlines()[-1])
    rows = {row["layer"]: row for row in data["rows"]}
    n_layer = sum(1 for name in rows if name.endswith(".attn.c_attn"))
    assert n_layer == 4  # the 2017 milestone's recipe: 4 blocks of 128 features, 4 heads, block_size 64
    qkv = rows["blocks.0.attn.c_attn"]
    (shape,) = qkv["input_shapes"]  # (B, T, E), or the (B·T, E) matrix of positions
    assert shape[-1] == 128 and shape[0] * (shape[1] if len(shape) == 3 else 1) == 2 * 64
    assert (qkv["forward_flops"], qkv["backward_flops"]) == linear_flops(tuple(shape), 384, False, True)
    core = rows["blocks.3.attn (self)"]
    assert (core["forward_flops"], core["backward_flops"]) == attention_core_flops(2, 64, 128, 4)
    head = rows["lm_head"]
    assert head["input_shapes"] == [[128, 128]] and head["params"] == 0  # tied to wte: counted once there
    assert data["totals"]["params"] == sum(r["params"] for r in data["rows"]) > 800_000
    assert all(row["backward_ms"] >= 0 for row in data["rows"]) and data["step"]["backward"] is True


@pytest.mark.parametrize("args, message", [
    (("profile", "resnet"), "argument MODEL: expected one of mlp, lenet5, gpt, got 'resnet'"),
    (("profile", "mlp", "--batch", "0"), "argument --batch: expected a positive integer, got '0'"),
    (("profile", "mlp", "--repeats", "many"), "argument --repeats: expected a positive integer, got 'many'"),
])
def test_bad_arguments_are_one_line_usage_errors(tito, args, message):
    code, out, err = tito(REAL_ROOT, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_unwritable_trace_is_one_line(tito, tmp_path):
    code, _, err = tito(REAL_ROOT, "profile", "mlp", "--batch", "2", "--repeats", "1",
                        "--trace", str(tmp_path / "no" / "such" / "trace.json"))
    assert code == 1 and "cannot write the trace" in err and len(err.strip().splitlines()) == 1


def test_an_unfinished_module_is_named_in_one_line(tito, monkeypatch):
    from tito import profile_cmd

    def stubbed(*_):
        raise NotImplementedError("linear_flops is not implemented yet, see modules/14_profiling")

    monkeypatch.setattr(profile_cmd, "build", stubbed)
    code, _, err = tito(REAL_ROOT, "profile", "gpt")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "linear_flops is not implemented yet, see modules/14_profiling" in err
