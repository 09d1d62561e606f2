"""Module 14 on the course's models: a GPT profiled layer by layer, and the roofline plot."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.systems.profiling import (
    Machine,
    Profiler,
    attention_core_flops,
    linear_flops,
    plot_roofline,
    roofline,
)
from tinytorch.text.transformers import GPT, GPTConfig


def _gpt_rows():
    manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, n_layer=2, n_head=2, n_embd=16, block_size=8, bias=False))
    tokens = Tensor(np.random.default_rng(0).integers(0, 11, (3, 9)))
    profiler = Profiler(model)
    return model, profiler, profiler.profile(tokens[:, :-1], tokens[:, 1:], repeats=2, warmup=1)


def test_gpt_rows_flops_and_tied_head_counted_once():
    model, profiler, rows = _gpt_rows()
    by_layer = {row["layer"]: row for row in rows}
    for block in ("blocks.0", "blocks.1"):
        attention = by_layer[f"{block}.attn (self)"]
        assert (attention["forward_flops"], attention["backward_flops"]) == attention_core_flops(3, 8, 16, 2)
        mlp = by_layer[f"{block}.mlp.c_fc"]
        (shape,) = mlp["input_shapes"]
        assert (mlp["forward_flops"], mlp["backward_flops"]) == linear_flops(tuple(shape), 64, False, True)
    head = by_layer["lm_head"]
    assert head["params"] == 0 and head["bytes_moved"] > 11 * 16 * 4  # shared with wte: counted there, still read
    assert profiler.totals()["params"] == model.num_parameters(non_embedding=False)
    assert profiler.totals()["unknown_layers"] == []
    assert all(row["backward_ms"] > 0 for row in rows if row["params"]), "every weighted layer's backward is timed"
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_gpt_trace_nests_blocks_inside_the_model(tmp_path):
    import json

    _, profiler, _ = _gpt_rows()
    events = json.loads(open(profiler.export_chrome_trace(tmp_path / "gpt.json")).read())["traceEvents"]
    names = {e["name"]: e for e in events}
    outer, inner = names["forward GPT"], names["forward blocks.1.attn"]
    assert outer["ts"] <= inner["ts"] and inner["ts"] + inner["dur"] <= outer["ts"] + outer["dur"] + 1e-3
    assert "backward blocks.0.mlp.c_proj" in names


def _points():
    machine = Machine(gflops=50.0, bandwidth_gbs=10.0)
    rows = [{"layer": "fc", "type": "Linear", "forward_flops": 4e6, "bytes_moved": 1e5, "forward_ms": 0.2},
            {"layer": "relu", "type": "ReLU", "forward_flops": 1e4, "bytes_moved": 8e4, "forward_ms": 0.05}]
    return roofline(rows, machine), machine


def test_roofline_png_is_written_when_matplotlib_is_present(tmp_path):
    pytest.importorskip("matplotlib")
    points, machine = _points()
    path = plot_roofline(points, machine, tmp_path / "roofline.png")
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 200
    assert not list(tmp_path.glob("*.tmp*")), "written atomically: no temporary file left behind"
    with pytest.raises(ValueError, match="no layers with known FLOPs"):
        plot_roofline([], machine, tmp_path / "empty.png")


def test_roofline_without_matplotlib_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    points, machine = _points()
    assert plot_roofline(points, machine, tmp_path / "roofline.png") is None
    assert not (tmp_path / "roofline.png").exists()
