"""Module 14: Profiler, MemoryProfiler, Chrome trace and roofline, including bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinytorch.core.layers import Linear, ReLU, Sequential
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.systems.profiling import MemoryProfiler, Profiler, linear_flops


def _mlp_and_input():
    manual_seed(0)
    model = Sequential(Linear(8, 16), ReLU(), Linear(16, 4))
    return model, Tensor(np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32))


def test_rows_have_shape_based_flops_and_hooks_are_removed():
    model, x = _mlp_and_input()
    profiler = Profiler(model)
    rows = profiler.profile(x, repeats=2, warmup=0)
    second = next(r for r in rows if r["layer"] == "2")
    assert (second["forward_flops"], second["backward_flops"]) == linear_flops((5, 16), 4, True, True)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    data = json.loads(profiler.to_json())
    assert len(data["rows"]) == 3 and "overhead" in data["totals"]
    assert "total (rows)" in profiler.table()


def test_model_without_parameters_is_a_clear_error_and_forward_only_works():
    model = Sequential(ReLU())
    x = Tensor(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="has no parameters.*backward=False"):
        Profiler(model).profile(x)
    rows = Profiler(model).profile(x, backward=False, repeats=1)
    assert rows[0]["type"] == "ReLU"


def test_failing_input_names_the_model_and_shapes():
    model, _ = _mlp_and_input()
    with pytest.raises(RuntimeError, match=r"Sequential failed on inputs \[\(2, 3\)\]") as info:
        Profiler(model).profile(Tensor(np.ones((2, 3), dtype=np.float32)), repeats=1)
    assert info.value.__cause__ is not None
    assert not any(m._forward_hooks for m in model.modules())


def test_chrome_trace_is_valid_with_nested_forward_and_backward(tmp_path):
    model, x = _mlp_and_input()
    profiler = Profiler(model)
    profiler.profile(x, repeats=1, warmup=0)
    path = profiler.export_chrome_trace(tmp_path / "trace.json")
    events = json.loads(open(path).read())["traceEvents"]
    assert all(e["ph"] == "X" and {"ts", "dur", "pid", "tid"} <= set(e) for e in events)
    names = {e["name"]: e for e in events}
    outer, inner = names["forward Sequential"], names["forward 0"]
    assert outer["ts"] <= inner["ts"] and inner["ts"] + inner["dur"] <= outer["ts"] + outer["dur"] + 1e-3
    assert "backward" in names and "backward 2" in names


def test_unwritable_trace_path_is_a_clear_error(tmp_path):
    model, x = _mlp_and_input()
    profiler = Profiler(model)
    profiler.profile(x, repeats=1, warmup=0)
    with pytest.raises(OSError, match="cannot write the trace"):
        profiler.export_chrome_trace(tmp_path / "missing_folder" / "trace.json")


def test_memory_profiler_sees_adam_state():
    from tinytorch.core.optimizers import SGD, Adam

    retained, kept = {}, {}
    for name, make in (("sgd", lambda ps: SGD(ps, lr=0.1)), ("adam", lambda ps: Adam(ps))):
        manual_seed(0)
        model = Linear(256, 256)
        model(Tensor(np.ones((4, 256), dtype=np.float32))).sum().backward()
        optimizer = make(list(model.parameters()))
        memory = MemoryProfiler()
        with memory.measure(name):
            optimizer.step()
        retained[name] = memory.results[name].retained_bytes
        state = sum(a.nbytes for s in optimizer.state.values() for a in s.values() if isinstance(a, np.ndarray))
        scratch = sum(b.nbytes for b in optimizer._scratch_buffers.values())  # module 06's plain path only
        kept[name] = (state, scratch)
    param_bytes = sum(p.data.nbytes for p in model.parameters())
    assert kept["adam"][0] == 2 * param_bytes and kept["sgd"][0] == 0, "Adam's state is m and v; SGD has none"
    for name in retained:  # what tracemalloc saw retained is what the optimizer really keeps
        assert abs(retained[name] - sum(kept[name])) < 0.02 * param_bytes, (name, retained[name], kept[name])
