# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 14 — Profiling: measure where the time and the memory go
#
# Modules 01–13 built a framework that trains MLPs, CNNs and a GPT. From here on the course makes
# it *faster* and *smaller* — and the first rule of that work is **measure before you optimize**.
# Programmers are famously bad at guessing where a program spends its time; a profiler replaces
# the guess with a table. This module builds that table for any `Module`, layer by layer, from
# what the layers really did on your machine.
#
# **You will learn to**
#
# 1. count the **FLOPs** of a layer from the shapes it saw (Linear, Conv2d, attention,
#    normalisation, elementwise), forward and backward;
# 2. time code honestly: warm-up, repeats, the **median** and the spread, never one run;
# 3. build a `Profiler` on module 03's **forward hooks**, and time each layer's *backward* too,
#    by marking its output and input in the autograd graph;
# 4. measure memory with `tracemalloc` and see live that Adam keeps two extra copies of every
#    parameter and SGD none;
# 5. export the measured spans as a **Chrome trace** you can open in Perfetto;
# 6. measure your machine's peak GFLOP/s and memory bandwidth and read a **roofline**: which
#    layers are compute-bound and which are memory-bound.
#
# **Prerequisites:** modules 01–09 (`Tensor`, `Module` and its hooks, losses, autograd with
# `Function`, optimizers, `Conv2d`), and 12–13 for the attention and LayerNorm rows.
# **Exports to:** `tinytorch/systems/profiling.py`, re-exported by `tinytorch.systems`.
# `tito profile mlp|lenet|gpt` prints the table for the milestone models.

# %%
#| default_exp systems.profiling

# %%
#| export
from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import statistics
import time
import tracemalloc
from dataclasses import asdict, dataclass, field

import numpy as np

from tinytorch.core import activations
from tinytorch.core.autograd import Function, no_grad
from tinytorch.core.layers import Dropout, Linear, Module
from tinytorch.core.spatial import AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor, is_grad_enabled, matmul_arrays
from tinytorch.core.training import _atomic_write, _new_figure, _save_png
from tinytorch.text.attention import CausalSelfAttention
from tinytorch.text.embeddings import Embedding
from tinytorch.text.transformers import LayerNorm

# %% [markdown]
# ## 1. Counting work: FLOPs from shapes
#
# A **FLOP** here is one floating-point add or multiply. A matrix product `(N, K) @ (K, M)` does
# `N·M` dot products of length `K`, each `K` multiplies and `K` adds: **`2·N·K·M` FLOPs**. That
# one formula covers most of a network's work:
#
# ```
#  Linear(in, out) on x (N, in)      y = x Wᵀ + b      2·N·in·out        (+ N·out for the bias)
#  Conv2d on x (N, C, H, W)          im2col + matmul   2·N·Cout·Ho·Wo · (C/groups)·kh·kw
#  attention, T tokens, width E      QKᵀ and A·V       2 · 2·B·T·T·E     (+ the softmax, ~5 per score)
# ```
#
# **Backward costs about twice the forward** for a matmul: `dX = dY·W` and `dW = dYᵀ·X` are one
# matmul each, the same size as the forward one. When the layer's input does not need a gradient
# (the first layer: its input is data), `dX` is skipped and backward costs about the same as
# forward. Elementwise layers (ReLU, GELU, dropout) do a few FLOPs per element — cheap in FLOPs,
# but, as section 6 shows, not cheap in *time*, because every element still has to travel
# from memory and back.
#
# Counts depend on the shapes the layer actually saw, so the profiler counts them *during* a real
# forward pass. The conventions for elementwise ops (GELU ≈ 8 FLOPs per element, LayerNorm ≈ 8
# forward) are estimates; published profilers differ by small factors on them, never on matmuls.

# %%
#| export
def _numel(shape) -> int:
    return int(math.prod(shape))


def _pair_product(value) -> int:
    """kernel_size 3 -> 9, (2, 3) -> 6."""
    return _numel((value, value) if isinstance(value, numbers.Integral) else value)


def _needs_grad(x) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


ELEMENTWISE_FLOPS = {
    # (forward, backward) FLOPs per output element of elementwise layers. Estimates (one per add,
    # multiply, compare; exp/erf/tanh counted as a few), not measurements.
    activations.ReLU: (1, 1),
    activations.LeakyReLU: (2, 2),
    activations.Sigmoid: (4, 3),
    activations.Tanh: (4, 3),
    activations.GELU: (8, 12),
    activations.SiLU: (5, 6),
    activations.Softmax: (5, 4),
    activations.LogSoftmax: (5, 4),
    Dropout: (1, 1),
}


def linear_flops(input_shape: tuple, out_features: int, bias: bool, input_needs_grad: bool = True) -> tuple[int, int]:
    """(forward, backward) FLOPs of Linear on an input of `input_shape` (..., in_features).

    Every leading dimension is a batch dimension: N rows = product of all but the last.
    Backward: dW is one matmul of the forward's size, dX another (only when the input needs a gradient);
    the bias gradient is one add per output element.
    """
    # Hint: rows N = product of input_shape[:-1], K = input_shape[-1]; forward = 2·N·K·out (+ N·out
    #       with a bias). Backward = 2·N·K·out for dW, the same again for dX when input_needs_grad,
    #       plus N·out for the bias gradient.
    ### BEGIN SOLUTION
    rows, width = _numel(input_shape[:-1]), input_shape[-1]
    matmul = 2 * rows * width * out_features
    bias_work = rows * out_features if bias else 0
    backward = matmul * (2 if input_needs_grad else 1) + bias_work
    return matmul + bias_work, backward
    ### END SOLUTION


def conv2d_flops(output_shape: tuple, weight_shape: tuple, bias: bool,
                 input_needs_grad: bool = True) -> tuple[int, int]:
    """(forward, backward) FLOPs of Conv2d producing `output_shape` (N, Cout, Ho, Wo) with a weight
    (Cout, Cin/groups, kh, kw): each output element is one dot product of length Cin/groups·kh·kw."""
    # Hint: the same shape of answer as linear_flops: each of the N·Cout·Ho·Wo outputs costs
    #       2·(Cin/groups)·kh·kw FLOPs; backward = the same for dW, again for dX when needed, + bias.
    ### BEGIN SOLUTION
    outputs = _numel(output_shape)
    matmul = 2 * outputs * _numel(weight_shape[1:])
    bias_work = outputs if bias else 0
    return matmul + bias_work, matmul * (2 if input_needs_grad else 1) + bias_work
    ### END SOLUTION


def attention_core_flops(batch: int, length: int, width: int, n_head: int) -> tuple[int, int]:
    """(forward, backward) FLOPs of causal self-attention's core (not its two Linear projections):
    QKᵀ and A·V (2·B·T·T·E each, computed in full as the fused kernel does) and a softmax (~5 per
    score); backward: two matmuls per forward matmul, softmax's rule ~4 per score."""
    scores = batch * n_head * length * length
    matmuls = 2 * 2 * batch * length * length * width
    return matmuls + 5 * scores, 2 * matmuls + 4 * scores


def count_flops(module: Module, args: tuple, output) -> tuple[int, int] | None:
    """(forward, backward) FLOPs of `module`'s *own* work on the arguments it got and the output it
    made; None when this profiler does not know the layer (containers count 0: their children do the work)."""
    x = args[0] if args else None
    out = output[0] if isinstance(output, (tuple, list)) else output
    grad_in = _needs_grad(x)
    if isinstance(module, Linear) and isinstance(x, Tensor):
        return linear_flops(x.shape, module.out_features, module.bias is not None, grad_in)
    if isinstance(module, Conv2d) and isinstance(out, Tensor):
        return conv2d_flops(out.shape, module.weight.shape, module.bias is not None, grad_in)
    if isinstance(module, CausalSelfAttention) and isinstance(x, Tensor) and x.ndim == 3:
        return attention_core_flops(x.shape[0], x.shape[1], x.shape[2], module.n_head)
    if isinstance(module, (LayerNorm, BatchNorm1d, BatchNorm2d)) and isinstance(out, Tensor):
        return 8 * out.data.size, 16 * out.data.size  # mean, variance, normalise, scale, shift; backward ~2x
    if isinstance(module, (MaxPool2d, AvgPool2d)) and isinstance(out, Tensor):
        window = _pair_product(module.kernel_size)
        return out.data.size * window, out.data.size * window  # one compare/add per window element
    if isinstance(module, Embedding) and isinstance(out, Tensor):
        return 0, out.data.size  # a gather costs no FLOPs; its backward adds rows into the table
    for kind, (forward, backward) in ELEMENTWISE_FLOPS.items():
        if isinstance(module, kind) and isinstance(out, Tensor):
            if isinstance(module, Dropout) and not module.training:
                return 0, 0
            return forward * out.data.size, backward * out.data.size
    if next(module.children(), None) is not None or type(module).__name__ in ("Flatten", "Identity"):
        return 0, 0
    return None

# %% [markdown]
# ### Check: FLOPs of a Linear and a Conv2d
#
# Count by hand first: `Linear(784, 512)` on a batch of 128 does `2·128·784·512 ≈ 103 MFLOP` of
# matmul plus `128·512` bias adds.

# %%
#| test
def test_unit_flop_counts():
    forward, backward = linear_flops((128, 784), 512, bias=True)
    assert forward == 2 * 128 * 784 * 512 + 128 * 512, (
        f"Linear(784, 512) on (128, 784): forward should be 2·N·K·M + N·M = {2 * 128 * 784 * 512 + 128 * 512}, "
        f"got {forward}; check the 2 (one multiply and one add per term) and the bias term")
    assert backward == 2 * (2 * 128 * 784 * 512) + 128 * 512, (
        f"backward should be two matmuls (dW and dX) plus the bias gradient, got {backward}")
    _, first_layer = linear_flops((128, 784), 512, bias=False, input_needs_grad=False)
    assert first_layer == 2 * 128 * 784 * 512, "an input that needs no gradient skips dX: one matmul only"
    forward, _ = linear_flops((4, 10, 8), 3, bias=False)
    assert forward == 2 * 40 * 8 * 3, f"every leading dim is a batch dim: (4, 10, 8) has 40 rows, got {forward}"
    forward, backward = conv2d_flops((2, 6, 28, 28), (6, 1, 5, 5), bias=True)
    expected = 2 * 2 * 6 * 28 * 28 * 25 + 2 * 6 * 28 * 28
    assert forward == expected, (f"Conv2d(1, 6, 5) giving (2, 6, 28, 28): each output is a length-25 dot "
                                 f"product, expected {expected}, got {forward}")
    print("FLOP counts for Linear and Conv2d are correct")


test_unit_flop_counts()

# %% [markdown]
# ## 2. Timing honestly
#
# One timing tells you almost nothing. The first call pays for things later calls do not (memory
# the allocator has not handed out yet, caches, lazily built tables), and on a shared machine any
# run can be slowed by someone else. So a measurement is:
#
# ```
#   warm-up ×w (thrown away)  →  repeats ×r, each timed with time.perf_counter_ns()
#                             →  median (the typical run; one slow outlier cannot move it)
#                                and the spread (interquartile range: how much to trust it)
# ```
#
# The mean is a poor summary here: timings have a long right tail (interruptions only ever make a
# run *slower*), and one interrupted run drags the mean up. Quote the median, show the spread, and
# compare two variants only by timings taken in the same run.

# %%
#| export
@dataclass
class Timing:
    """A summary of repeated timings, in milliseconds."""

    median_ms: float
    spread_ms: float  # interquartile range (75th minus 25th percentile); 0 for a single sample
    samples_ms: tuple = field(default=(), repr=False)

    def __str__(self) -> str:
        return f"{self.median_ms:.3f} ms ± {self.spread_ms / 2:.3f}"


def summarize_times(samples_ns) -> Timing:
    """Median and interquartile range of timings in nanoseconds, as a Timing in milliseconds."""
    samples = [s / 1e6 for s in samples_ns]
    if not samples:
        raise ValueError("summarize_times: need at least one timing, got none")
    if len(samples) == 1:
        return Timing(samples[0], 0.0, tuple(samples))
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return Timing(statistics.median(samples), q3 - q1, tuple(samples))


def _check_count(value, name: str, minimum: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def time_function(fn, *, warmup: int = 1, repeats: int = 5) -> Timing:
    """Call fn() `warmup` times untimed, then `repeats` times timed; the median and spread."""
    if not callable(fn):
        raise TypeError(f"time_function: fn must be callable, got {type(fn).__name__}")
    warmup = _check_count(warmup, "warmup", 0, "time_function")
    repeats = _check_count(repeats, "repeats", 1, "time_function")
    # Hint: call fn() `warmup` times; then for each repeat take time.perf_counter_ns() before and
    #       after one fn() call and keep the difference; return summarize_times(those differences).
    ### BEGIN SOLUTION
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return summarize_times(samples)
    ### END SOLUTION

# %%
#| test
def test_unit_time_function():
    calls = []
    timing = time_function(lambda: calls.append(time.sleep(0.002)), warmup=2, repeats=3)
    assert len(calls) == 5, f"2 warm-up + 3 timed calls expected, fn was called {len(calls)} times"
    assert len(timing.samples_ms) == 3, f"only the timed repeats are kept, got {len(timing.samples_ms)} samples"
    assert timing.median_ms >= 2.0, (f"each call sleeps 2 ms, so the median must be >= 2 ms, got "
                                     f"{timing.median_ms:.3f}; check the units (perf_counter_ns is nanoseconds)")
    print(f"time_function: warm-up, repeats and the median work (sleep(2 ms) measured as {timing})")


test_unit_time_function()

# %% [markdown]
# ## 3. A per-layer profiler on forward hooks
#
# Module 03 gave every `Module` forward hooks. A profiler registers two on **every** module of the
# tree: the pre-hook notes the time and the hook notes it again, so each module's forward time is
# the difference — *inclusive* of its children. A container's **self** time is its inclusive time
# minus its children's: the glue it runs itself (a residual add, a reshape).
#
# **Backward** is harder: `loss.backward()` is one call into module 05's engine, which runs the
# graph's gradient rules in one topological order, with no idea which layer made which node. So the
# profiler *marks* the graph. Its forward hook passes the layer's output through an identity
# `Function` (`_Mark`) and its pre-hook passes the inputs through another. An identity costs
# nothing, but its backward runs exactly when the engine reaches that point of the graph:
#
# ```
#   forward:   x ─► [mark in] ─► layer's own ops ─► [mark out] ─► next layer ...
#   backward:       ◄─ t_end ───  layer's rules  ◄── t_start ──── gradient from the next layer
# ```
#
# The layer's backward time is `t_end − t_start`. A layer whose input needs no gradient (the first
# layer, an embedding of token ids) has no input mark that fires; its backward ends at the next
# mark of another layer, or when `backward()` returns. This is the same idea as PyTorch's
# `register_full_backward_hook`, which wraps inputs and outputs in an identity autograd function.
#
# Each profiled repeat is timed against an **unprofiled** step taken in the same run, so the table
# also reports what profiling itself cost.

# %%
#| export
class _Mark(Function):
    """Identity whose backward records (key, time): where a layer's backward starts or ends."""

    @staticmethod
    def forward(ctx, x, record, key):
        ctx.record, ctx.key = record, key
        return x.view()

    @staticmethod
    def backward(ctx, grad_output):
        ctx.record(ctx.key)
        return (grad_output,)


def _mark(x, record, key):
    """x passed through _Mark when it is a Tensor in the graph; anything else unchanged."""
    if not (isinstance(x, Tensor) and x.requires_grad and is_grad_enabled()):
        return x
    marked = _Mark.apply(x, record, key)
    # The mark shares x's memory, so it shares x's version counter as a view does: an in-place
    # change through it stays visible to autograd's safety checks (module 01, section 15).
    marked._version_counter, marked._is_view = x._counter(), True
    return marked


def _map_tensors(value, fn):
    """Apply fn to every Tensor in value (a Tensor, or a tuple/list holding Tensors)."""
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_map_tensors(v, fn) for v in value)
    return value


def _tensors(value) -> list:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def _shapes(value):
    return [tuple(t.shape) for t in _tensors(value)]


def _default_loss(output) -> Tensor:
    """What backward starts from when no loss_fn is given: a model's own loss (GPT returns
    (logits, loss)) when it made one, else the sum of its output."""
    if isinstance(output, (tuple, list)):
        scalars = [t for t in _tensors(output) if t.data.size == 1 and t.requires_grad]
        if scalars:
            return scalars[-1]
        output = _tensors(output)[0]
    if not isinstance(output, Tensor):
        raise TypeError(f"Profiler: the model returned {type(output).__name__}, not a Tensor; pass "
                        "loss_fn=(output -> scalar Tensor) to say what backward starts from")
    return output.sum()


class _LayerStats:
    """What the profiler learns about one module: shapes, FLOPs, bytes, times per repeat."""

    def __init__(self, path: str, module: Module, depth: int, own_params: list):
        self.path, self.module, self.depth = path, module, depth
        self.children: list[_LayerStats] = []
        self.params = sum(p.data.size for p in own_params)
        # Bytes the layer reads: every weight it uses, a shared one included (it is read here too).
        self.param_bytes = sum(p.data.nbytes for p in module.parameters(recurse=False))
        self.calls = 0
        self.input_shapes: list = []
        self.output_shapes: list = []
        self.flops: tuple[int, int] | None = (0, 0)
        self.activation_bytes = 0
        self.input_bytes = 0
        self.forward_ns: list[int] = []  # per repeat, inclusive of children
        self.backward_ns: list[int] = []
        self._step_forward = 0
        self._open: list[int] = []


class Profiler:
    """Per-layer parameters, FLOPs, activation memory and forward/backward time of a Module.

        profiler = Profiler(model)
        rows = profiler.profile(x, loss_fn=lambda out: loss(out, y), repeats=5)
        print(profiler.table())                 # or profiler.to_json(), profiler.rows
        profiler.export_chrome_trace("step.json")

    The model is left as it was: every hook is removed when profile() returns (also on errors).
    """

    def __init__(self, model: Module):
        if not isinstance(model, Module):
            raise TypeError(f"Profiler: model must be a tinytorch Module, got {type(model).__name__}")
        self.model = model
        self.rows: list[dict] = []
        self.spans: list[dict] = []
        self.step: dict = {}

    # ----- recording hooks -------------------------------------------------------------------------
    def _prepare(self) -> None:
        self._stats: dict[int, _LayerStats] = {}
        root_name = type(self.model).__name__
        seen: set[int] = set()  # a shared Parameter (GPT's head tied to its token table) counts once, first owner
        for path, module in self.model.named_modules():
            depth = 0 if not path else path.count(".") + 1
            own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
            seen.update(id(p) for p in own)
            self._stats[id(module)] = _LayerStats(path or root_name, module, depth, own)
        for stats in self._stats.values():
            stats.children = [self._stats[id(child)] for child in stats.module.children()]
        self._events: list[tuple] = []  # (kind, module id, time) from backward marks
        self._spans_now: list[tuple] = []  # (name, start_ns, end_ns) forward spans of this repeat
        self._first_call = True
        self._marking = False

    def _record(self, key) -> None:
        self._events.append((key[0], key[1], time.perf_counter_ns()))

    def _pre_hook(self, module, args):
        stats = self._stats[id(module)]
        stats._open.append(time.perf_counter_ns())
        if self._marking:
            return tuple(_map_tensors(a, lambda t: _mark(t, self._record, ("in", id(module)))) for a in args)
        return None

    def _post_hook(self, module, args, output):
        end = time.perf_counter_ns()
        stats = self._stats[id(module)]
        start = stats._open.pop()
        stats._step_forward += end - start
        self._spans_now.append((stats.path, start, end))
        if self._first_call:
            stats.calls += 1
            stats.input_shapes += _shapes(args)
            stats.output_shapes += _shapes(output)
            flops = count_flops(module, args, output)
            stats.flops = None if flops is None or stats.flops is None else (
                stats.flops[0] + flops[0], stats.flops[1] + flops[1])
            ins = _tensors(args)
            stats.input_bytes += sum(t.data.nbytes for t in ins)
            # Activation memory: outputs kept for the next layer / backward. A view (Flatten, a
            # reshape) shares its input's memory and adds nothing.
            stats.activation_bytes += sum(t.data.nbytes for t in _tensors(output)
                                          if not any(np.may_share_memory(t.data, i.data) for i in ins))
        if self._marking:
            return _map_tensors(output, lambda t: _mark(t, self._record, ("out", id(module))))
        return None

    # ----- one step ----------------------------------------------------------------------------------
    def _run_step(self, inputs, loss_fn, backward: bool) -> tuple[int, int, int]:
        """forward (+ loss + backward); returns (forward_ns, backward_ns, backward_start)."""
        for p in self.model.parameters():
            p.grad = None
        start = time.perf_counter_ns()
        output = self.model(*inputs)
        loss = (loss_fn or _default_loss)(output) if backward else None
        middle = time.perf_counter_ns()
        if backward:
            loss.backward()
        return middle - start, time.perf_counter_ns() - middle, middle

    def _backward_windows(self, step_end: int) -> dict[int, int]:
        """Inclusive backward ns per module id from this repeat's mark events (see section 3)."""
        starts, ends = {}, {}
        for index, (kind, key, when) in enumerate(self._events):
            if kind == "out":
                starts.setdefault(key, (when, index))
            else:
                ends[key] = when  # the last input mark that fires ends the layer's backward
        windows = {}
        for key, (start, index) in starts.items():
            end = ends.get(key)
            if end is None:  # no input needing a gradient: ends at the next foreign mark, or at the end
                inside = self._descendant_ids(key)
                end = next((w for _, k, w in self._events[index + 1:] if k not in inside), step_end)
            windows[key] = max(0, end - start)
        return windows

    def _descendant_ids(self, key: int) -> set:
        stats = self._stats[key]
        return {id(m) for m in stats.module.modules()}

    def profile(self, *inputs, loss_fn=None, backward: bool = True, warmup: int = 1, repeats: int = 5) -> list[dict]:
        """Run `repeats` profiled steps (after `warmup` untimed ones) on `inputs`; return the rows.

        loss_fn(output) -> scalar Tensor is what backward starts from (default: the model's own loss
        when it returns one, e.g. GPT's (logits, loss), else output.sum()). backward=False profiles
        the forward pass only (under no_grad). Each profiled step is paired with an unprofiled one,
        so self.step["overhead"] is the profiler's own cost, measured.
        """
        warmup = _check_count(warmup, "warmup", 0, "Profiler.profile")
        repeats = _check_count(repeats, "repeats", 1, "Profiler.profile")
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(f"Profiler.profile: loss_fn must be callable, got {type(loss_fn).__name__}")
        if not inputs:
            raise ValueError("Profiler.profile: give the model's input(s), e.g. profiler.profile(x)")
        if backward and not any(True for _ in self.model.parameters()):
            raise ValueError(f"Profiler: {type(self.model).__name__} has no parameters, so no backward pass "
                             "reaches it (nothing requires grad); pass backward=False to profile the forward "
                             "pass only")
        self._prepare()
        context = contextlib.nullcontext() if backward else no_grad()
        handles = []
        try:
            with context:
                self._check_runs(inputs, loss_fn, backward)
                for _ in range(warmup):
                    self._run_step(inputs, loss_fn, backward)
                plain, profiled = [], []
                for repeat in range(repeats):
                    # An unprofiled step in the same conditions, so what profiling costs is measured;
                    # before the profiled one on even repeats, after it on odd ones, so that neither
                    # always pays for going first (a cold cache, the previous step's freed graph).
                    if repeat % 2 == 0:
                        plain.append(sum(self._run_step(inputs, loss_fn, backward)[:2]))
                    handles = self._register()
                    self._events.clear()
                    self._spans_now.clear()
                    self._marking = backward
                    forward_ns, backward_ns, backward_start = self._run_step(inputs, loss_fn, backward)
                    self._marking = self._first_call = False
                    for handle in handles:
                        handle.remove()
                    handles = []
                    profiled.append(forward_ns + backward_ns)
                    windows = self._backward_windows(backward_start + backward_ns) if backward else {}
                    for key, stats in self._stats.items():
                        stats.forward_ns.append(stats._step_forward)
                        stats._step_forward = 0
                        stats.backward_ns.append(windows.get(key, 0))
                    if repeat == repeats - 1:
                        self._keep_spans(backward_start, backward_ns, windows)
                    if repeat % 2 == 1:
                        plain.append(sum(self._run_step(inputs, loss_fn, backward)[:2]))
        finally:
            for handle in handles:
                handle.remove()
            self._marking = False
        self.step = {"forward_backward": summarize_times(plain), "profiled": summarize_times(profiled),
                     "overhead": statistics.median(profiled) / max(statistics.median(plain), 1) - 1,
                     "backward": backward, "repeats": repeats}
        self.rows = self._rows()
        return self.rows

    def _register(self) -> list:
        handles = []
        for module in self.model.modules():
            handles.append(module.register_forward_pre_hook(self._pre_hook))
            handles.append(module.register_forward_hook(self._post_hook))
        return handles

    def _check_runs(self, inputs, loss_fn, backward) -> None:
        """One plain step first, so a failing input is reported once, clearly."""
        try:
            self._run_step(inputs, loss_fn, backward)
        except Exception as error:
            shapes = [tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__ for x in inputs]
            raise RuntimeError(f"Profiler: {type(self.model).__name__} failed on inputs {shapes} before "
                               f"anything was measured: {type(error).__name__}: {error}") from error

    def _keep_spans(self, backward_start: int, backward_ns: int, windows: dict) -> None:
        """The last repeat's spans (forward from the hooks, backward from the marks), for the trace."""
        spans = [{"name": f"forward {name}", "start_ns": s, "end_ns": e, "phase": "forward"}
                 for name, s, e in self._spans_now]
        if backward_ns:
            spans.append({"name": "backward", "start_ns": backward_start, "end_ns": backward_start + backward_ns,
                          "phase": "backward"})
            starts = {}
            for kind, key, when in self._events:
                if kind == "out":
                    starts.setdefault(key, when)
            for key, start in starts.items():
                spans.append({"name": f"backward {self._stats[key].path}", "start_ns": start,
                              "end_ns": start + windows[key], "phase": "backward"})
        self.spans = spans

    # ----- results ------------------------------------------------------------------------------------
    def _rows(self) -> list[dict]:
        rows = []
        for stats in self._stats.values():
            own_work = stats.params or (stats.flops or (0, 0)) != (0, 0) or not stats.children
            if not own_work or not stats.calls:
                continue
            child_forward = [sum(c.forward_ns[i] for c in stats.children) for i in range(len(stats.forward_ns))]
            child_backward = [sum(c.backward_ns[i] for c in stats.children) for i in range(len(stats.backward_ns))]
            forward = summarize_times([max(0, t - c) for t, c in zip(stats.forward_ns, child_forward)])
            backward = summarize_times([max(0, t - c) for t, c in zip(stats.backward_ns, child_backward)])
            flops = stats.flops
            moved = stats.input_bytes + stats.param_bytes + stats.activation_bytes
            rows.append({
                "layer": stats.path + (" (self)" if stats.children else ""),
                "type": type(stats.module).__name__,
                "calls": stats.calls,
                "input_shapes": stats.input_shapes,
                "output_shapes": stats.output_shapes,
                "params": stats.params,
                "forward_flops": None if flops is None else flops[0],
                "backward_flops": None if flops is None else flops[1],
                "activation_bytes": stats.activation_bytes,
                "bytes_moved": moved,
                "intensity": None if flops is None or not moved else flops[0] / moved,
                "forward_ms": forward.median_ms, "forward_spread_ms": forward.spread_ms,
                "backward_ms": backward.median_ms, "backward_spread_ms": backward.spread_ms,
            })
        return rows

    def totals(self) -> dict:
        """Sums over the rows, and the whole step's measured times."""
        if not self.rows:
            raise RuntimeError("Profiler: nothing measured yet; call profile(inputs) first")
        known = [r for r in self.rows if r["forward_flops"] is not None]
        return {
            "params": sum(r["params"] for r in self.rows),
            "forward_flops": sum(r["forward_flops"] for r in known),
            "backward_flops": sum(r["backward_flops"] for r in known),
            "activation_bytes": sum(r["activation_bytes"] for r in self.rows),
            "rows_forward_ms": sum(r["forward_ms"] for r in self.rows),
            "rows_backward_ms": sum(r["backward_ms"] for r in self.rows),
            "step_ms": self.step["forward_backward"].median_ms,
            "profiled_step_ms": self.step["profiled"].median_ms,
            "overhead": self.step["overhead"],
            "unknown_layers": [r["layer"] for r in self.rows if r["forward_flops"] is None],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The rows and totals as JSON text (the step's Timings as dicts)."""
        step = {k: asdict(v) if isinstance(v, Timing) else v for k, v in self.step.items()}
        return json.dumps({"rows": self.rows, "totals": self.totals(), "step": step}, indent=indent)

    def table(self) -> str:
        """The rows as an aligned text table, with a total line and the profiler's overhead."""
        totals = self.totals()
        header = ("layer", "type", "params", "fwd MFLOP", "bwd MFLOP", "act KiB", "fwd ms", "±", "bwd ms", "±")
        lines = []
        for r in self.rows:
            mflop = "?" if r["forward_flops"] is None else f"{r['forward_flops'] / 1e6:.2f}"
            bflop = "?" if r["backward_flops"] is None else f"{r['backward_flops'] / 1e6:.2f}"
            lines.append((r["layer"], r["type"], f"{r['params']:,}", mflop, bflop,
                          f"{r['activation_bytes'] / 1024:.1f}", f"{r['forward_ms']:.3f}",
                          f"{r['forward_spread_ms'] / 2:.3f}", f"{r['backward_ms']:.3f}",
                          f"{r['backward_spread_ms'] / 2:.3f}"))
        lines.append(("total (rows)", "", f"{totals['params']:,}", f"{totals['forward_flops'] / 1e6:.2f}",
                      f"{totals['backward_flops'] / 1e6:.2f}", f"{totals['activation_bytes'] / 1024:.1f}",
                      f"{totals['rows_forward_ms']:.3f}", "", f"{totals['rows_backward_ms']:.3f}", ""))
        widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
        left = {0, 1}

        def render(row):
            return "  ".join(str(v).ljust(w) if i in left else str(v).rjust(w)
                             for i, (v, w) in enumerate(zip(row, widths)))

        out = [render(header), "  ".join("-" * w for w in widths)]
        out += [render(row) for row in lines[:-1]]
        out += ["  ".join("-" * w for w in widths), render(lines[-1])]
        step = self.step
        out.append(f"whole step (unprofiled): {step['forward_backward']}   profiled: {step['profiled']}   "
                   f"profiler overhead: {100 * step['overhead']:+.1f}%   ({step['repeats']} repeats, median ± IQR/2)")
        if totals["unknown_layers"]:
            out.append("FLOPs unknown for: " + ", ".join(totals["unknown_layers"]) + " (counted as 0 in the total)")
        return "\n".join(out)

    def export_chrome_trace(self, path) -> str:
        """Write the last profiled repeat's spans as Chrome-trace JSON (see section 5)."""
        if not self.spans:
            raise RuntimeError("Profiler: nothing measured yet; call profile(inputs) first")
        return export_chrome_trace(self.spans, path)


# %% [markdown]
# ### Check: the profiler on a small MLP
#
# The FLOPs in the table must be the ones section 1 predicts from the shapes, every hook must be
# gone afterwards, and the layers' times must add up to (about) the whole step.

# %%
#| test
def test_unit_profiler():
    from tinytorch.core.layers import ReLU, Sequential
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    model = Sequential(Linear(32, 64), ReLU(), Linear(64, 10))
    x = Tensor(np.random.default_rng(0).standard_normal((16, 32)).astype(np.float32))
    rows = Profiler(model).profile(x, repeats=2, warmup=1)
    by_layer = {row["layer"]: row for row in rows}
    assert set(by_layer) == {"0", "1", "2"}, f"one row per layer doing work, got {sorted(by_layer)}"
    expected = linear_flops((16, 32), 64, bias=True, input_needs_grad=False)
    assert (by_layer["0"]["forward_flops"], by_layer["0"]["backward_flops"]) == expected, (
        f"the first Linear saw (16, 32): expected {expected} FLOPs, got "
        f"{(by_layer['0']['forward_flops'], by_layer['0']['backward_flops'])}; check _post_hook's count_flops call")
    assert by_layer["1"]["activation_bytes"] == 16 * 64 * 4, "ReLU's output is (16, 64) float32 = 4096 bytes"
    assert all(row["backward_ms"] > 0 for row in rows), "every layer's backward window should be measured"
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules()), "hooks must be removed"
    print("Profiler: per-layer FLOPs, activation bytes and forward/backward times are measured")


test_unit_profiler()

# %% [markdown]
# ### Live: where does an MLP step go, and where does a CNN step go?
#
# Profile the two classic models of the course on batches of the size they train with. Read the
# table before reading on: which layer costs the most time? Is it the one with the most FLOPs?

# %%
#| analysis
from tinytorch.core.layers import Flatten, ReLU, Sequential  # noqa: E402
from tinytorch.core.losses import cross_entropy  # noqa: E402
from tinytorch.core.tensor import manual_seed  # noqa: E402

manual_seed(0)
_rng = np.random.default_rng(0)
mlp = Sequential(Flatten(), Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))
digits = Tensor(_rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
labels = Tensor(_rng.integers(0, 10, 64))
mlp_profiler = Profiler(mlp)
mlp_profiler.profile(digits, loss_fn=lambda logits: cross_entropy(logits, labels), repeats=3)
print("MLP 784-256-128-10, batch 64\n" + mlp_profiler.table())

cnn = Sequential(Conv2d(1, 6, 5, padding=2), ReLU(), MaxPool2d(2), Conv2d(6, 16, 5), ReLU(), MaxPool2d(2),
                 Flatten(), Linear(400, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, 10))
cnn_profiler = Profiler(cnn)
cnn_profiler.profile(digits, loss_fn=lambda logits: cross_entropy(logits, labels), repeats=3)
print("\nLeNet-5, batch 64\n" + cnn_profiler.table())

# %% [markdown]
# What to notice (your numbers will differ; the pattern will not):
#
# - In the MLP, the big `Linear` holds most of the FLOPs *and* most of the time; ReLU does about
#   one FLOP per element yet takes a visible share — it is limited by memory traffic, not arithmetic.
# - In LeNet-5, the convolutions dominate, and pooling costs far more time than its FLOPs suggest.
# - Backward is about twice forward for the layers with weights, as section 1 predicts, except the
#   first layer, whose input needs no gradient.
# - The profiler's overhead line: the hooks and marks cost a few Python calls per layer, small next
#   to layers that do real work — and it is *measured*, not assumed.
#
# **Amdahl's law** turns the table into a plan. If a layer takes a fraction `p` of the step and you
# make it `s` times faster, the whole step becomes `1 / ((1 − p) + p/s)` times faster. Speeding up a
# layer that takes 10% of the time by 100× gains at most 1.11×; halving the one that takes 70% gains
# 1.54×. Optimize the top row first.

# %% [markdown]
# ## 4. Memory: measuring it for real with tracemalloc
#
# Python's `tracemalloc` records every allocation made through Python's allocator — and NumPy
# reports its array buffers to it too (under its own domain), so a tracemalloc span sees the
# arrays a piece of code creates. Two numbers per span:
#
# ```
#   memory in use ──┐         ┌── peak: the most in use at any moment inside the span
#                   │   ╱╲    │
#   start ──────────┴──╱  ╲───┴── retained: still in use at the end (new state, kept arrays)
# ```
#
# `with profiler.measure("adam_step"): optimizer.step()` measures one span. On the **first** step,
# Adam creates its state — `exp_avg` and `exp_avg_sq`, one array the size of each parameter — so
# it retains **2 extra copies of the parameters** that plain SGD does not. (Module 06's in-place
# updates also keep a scratch array the size of the largest parameter, so that later steps
# allocate nothing; SGD has it, and so does Adam on module 06's plain path. Module 16's fused
# Adam step works block by block and needs none. The live cell therefore counts Adam's state
# arrays and compares them with what `tracemalloc` saw retained.)

# %%
#| export
@dataclass
class MemorySpan:
    """One measured span: peak and retained memory above what was in use when it started."""

    name: str
    peak_bytes: int
    retained_bytes: int
    seconds: float
    start_ns: int = 0
    end_ns: int = 0

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def retained_mb(self) -> float:
        return self.retained_bytes / 2**20


class MemoryProfiler:
    """Measure memory of code spans with tracemalloc (NumPy's arrays included).

        profiler = MemoryProfiler()
        with profiler.measure("adam_step"):
            optimizer.step()
        profiler.peak_memory_mb, profiler.results["adam_step"].retained_mb

    Spans may nest; a name measured twice keeps its latest result. tracemalloc is started for the
    span when it was not running already (and stopped again afterwards).
    """

    def __init__(self):
        self.results: dict[str, MemorySpan] = {}
        self.spans: list[MemorySpan] = []
        self._open: list[dict] = []

    @property
    def peak_memory_mb(self) -> float:
        """The largest peak (MB above its start) of all spans measured so far."""
        if not self.spans:
            raise RuntimeError("MemoryProfiler: no span measured yet; use `with profiler.measure(name): ...`")
        return max(span.peak_mb for span in self.spans)

    def _fold_peak(self) -> int:
        """Fold tracemalloc's peak into every open span (a nested span resets it), return current."""
        current, peak = tracemalloc.get_traced_memory()
        for span in self._open:
            span["peak"] = max(span["peak"], peak)
        return current

    @contextlib.contextmanager
    def measure(self, name: str):
        """Measure the peak and retained memory of the code inside the `with` block."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"MemoryProfiler.measure: name must be a non-empty str, got {name!r}")
        started_here = not tracemalloc.is_tracing()
        # Hint: start tracemalloc if it is not tracing; self._fold_peak() gives the memory in use
        #       now; remember it as the span's start (and as its running peak), push the span on
        #       self._open, tracemalloc.reset_peak(), then yield. Afterwards (in a finally): fold the
        #       peak again, pop the span, and record a MemorySpan whose peak and retained bytes are
        #       measured from the start; stop tracemalloc if this span started it.
        ### BEGIN SOLUTION
        if started_here:
            tracemalloc.start()
        start = self._fold_peak()
        span = {"start": start, "peak": start}
        self._open.append(span)
        tracemalloc.reset_peak()
        start_ns = time.perf_counter_ns()
        try:
            yield span
        finally:
            end_ns = time.perf_counter_ns()
            current = self._fold_peak()
            self._open.pop()
            result = MemorySpan(name, span["peak"] - start, current - start, (end_ns - start_ns) / 1e9,
                                start_ns, end_ns)
            self.results[name] = result
            self.spans.append(result)
            if started_here:
                tracemalloc.stop()
        ### END SOLUTION

    def table(self) -> str:
        lines = [f"{'span':<24} {'peak MB':>10} {'retained MB':>12} {'ms':>9}"]
        for span in self.spans:
            lines.append(f"{span.name:<24} {span.peak_mb:>10.3f} {span.retained_mb:>12.3f} {span.seconds * 1e3:>9.2f}")
        return "\n".join(lines)

    def export_chrome_trace(self, path) -> str:
        """Write the measured spans as Chrome-trace JSON, with peak/retained MB as arguments."""
        if not self.spans:
            raise RuntimeError("MemoryProfiler: no span measured yet; nothing to export")
        return export_chrome_trace([{"name": s.name, "start_ns": s.start_ns, "end_ns": s.end_ns, "phase": "memory",
                                     "args": {"peak_mb": s.peak_mb, "retained_mb": s.retained_mb}}
                                    for s in self.spans], path)

# %%
#| test
def test_unit_memory_profiler():
    profiler = MemoryProfiler()
    with profiler.measure("outer"):
        with profiler.measure("temporary"):
            scratch = np.ones(2**18, dtype=np.float32)  # 1 MiB, freed before the span ends
            del scratch
        kept = np.ones(2**17, dtype=np.float32)  # 0.5 MiB, still alive at the end of "outer"
    temporary, outer = profiler.results["temporary"], profiler.results["outer"]
    assert 0.99 < temporary.peak_mb < 1.2, (f"a 1 MiB array existed inside 'temporary': its peak should be "
                                            f"~1 MB, got {temporary.peak_mb:.3f}; check reset_peak and the start")
    assert abs(temporary.retained_mb) < 0.05, f"the array was freed, retained should be ~0, got {temporary.retained_mb}"
    assert outer.peak_mb >= temporary.peak_mb, "a nested span's peak must count for the outer span too"
    assert 0.49 < outer.retained_mb < 0.6, f"0.5 MiB is kept after 'outer', got {outer.retained_mb:.3f} MB"
    del kept
    print(f"MemoryProfiler: peak {temporary.peak_mb:.2f} MB and retained {outer.retained_mb:.2f} MB measured")


test_unit_memory_profiler()

# %% [markdown]
# ### Live: Adam keeps two copies of every parameter, SGD none

# %%
#| analysis
from tinytorch.core.optimizers import SGD, Adam  # noqa: E402

memory = MemoryProfiler()
for name, make in [("sgd_step", lambda ps: SGD(ps, lr=0.01)), ("adam_step", lambda ps: Adam(ps, lr=1e-3))]:
    manual_seed(0)
    net = Sequential(Linear(784, 256), ReLU(), Linear(256, 10))
    optimizer = make(list(net.parameters()))
    cross_entropy(net(digits.reshape(64, 784)), labels).backward()
    with memory.measure(name):
        optimizer.step()
param_mb = sum(p.data.nbytes for p in net.parameters()) / 2**20
adam_state_mb = sum(a.nbytes for state in optimizer.state.values() for a in state.values()
                    if isinstance(a, np.ndarray)) / 2**20
scratch_mb = sum(b.nbytes for b in optimizer._scratch_buffers.values()) / 2**20  # module 06's plain path
print(memory.table())
sgd_x, adam_x = (memory.results[n].retained_mb / param_mb for n in ("sgd_step", "adam_step"))
print(f"parameters: {param_mb:.3f} MB; retained on the first step: SGD {sgd_x:.2f}x, Adam {adam_x:.2f}x the parameters")
print(f"Adam's state arrays (m and v) hold {adam_state_mb / param_mb:.2f}x the parameters (counted); with its "
      f"scratch ({scratch_mb / param_mb:.2f}x) that is {(adam_state_mb + scratch_mb) / param_mb:.2f}x, "
      f"against {adam_x:.2f}x measured")

# %% [markdown]
# That is why a model that fits for inference may not fit for training: weights + gradients + Adam's
# two moments is **4×** the parameter memory before a single activation is stored.

# %% [markdown]
# ## 5. A timeline: Chrome-trace JSON
#
# A table sums; a **timeline** shows order and nesting — which layer's backward runs when, what
# overlaps what. The Chrome trace event format is a JSON object with a `"traceEvents"` list; a
# *complete* event is `{"name", "ph": "X", "ts", "dur", "pid", "tid"}` with times in
# **microseconds**. Events on the same thread that contain each other are drawn nested. Open the
# file at https://ui.perfetto.dev (or `chrome://tracing`): the forward spans of every layer sit
# inside the model's, and the backward spans run in reverse order under `backward`.
#
# Written atomically (a temporary file, then a rename), so a crash never leaves half a trace.

# %%
#| export
def chrome_trace_events(spans: list[dict], pid: int | None = None) -> list[dict]:
    """Spans {name, start_ns, end_ns, phase, args?} as Chrome "X" events, times in µs from the first span."""
    if not spans:
        raise ValueError("chrome_trace_events: no spans to write")
    pid = os.getpid() if pid is None else pid
    origin = min(span["start_ns"] for span in spans)
    # Hint: one dict per span: name, cat (the phase), ph "X", ts = (start - origin) / 1000,
    #       dur = (end - start) / 1000, pid, tid 1, and args when the span has them. Sort by ts,
    #       longest first on ties, so a parent comes before the child it contains.
    ### BEGIN SOLUTION
    events = []
    for span in spans:
        event = {"name": span["name"], "cat": span.get("phase", "span"), "ph": "X",
                 "ts": (span["start_ns"] - origin) / 1000, "dur": max(0, span["end_ns"] - span["start_ns"]) / 1000,
                 "pid": pid, "tid": 1}
        if span.get("args"):
            event["args"] = span["args"]
        events.append(event)
    events.sort(key=lambda e: (e["ts"], -e["dur"]))
    return events
    ### END SOLUTION


def export_chrome_trace(spans: list[dict], path) -> str:
    """Write spans as a Chrome-trace JSON file (atomically) that Perfetto opens; returns the path."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"export_chrome_trace: path must be a str or os.PathLike, got {type(path).__name__}")
    text = json.dumps({"traceEvents": chrome_trace_events(spans), "displayTimeUnit": "ms"}).encode()
    try:
        _atomic_write(path, lambda file: file.write(text))
    except (OSError, FileNotFoundError) as error:
        raise OSError(f"export_chrome_trace: cannot write the trace to {os.fspath(path)!r}: {error}") from error
    return os.fspath(path)

# %%
#| test
def test_unit_chrome_trace():
    spans = [{"name": "forward model", "start_ns": 1_000, "end_ns": 9_000, "phase": "forward"},
             {"name": "forward fc1", "start_ns": 2_000, "end_ns": 5_000, "phase": "forward"}]
    events = chrome_trace_events(spans, pid=7)
    assert [e["name"] for e in events] == ["forward model", "forward fc1"], "the parent span must come first"
    assert events[0]["ph"] == "X" and events[0]["ts"] == 0 and events[0]["dur"] == 8.0, (
        f"times are microseconds from the first span: expected ts 0, dur 8.0, got {events[0]}")
    assert events[1]["ts"] == 1.0 and events[1]["pid"] == 7, f"fc1 starts 1 µs in, got {events[1]}"
    print("Chrome-trace events: complete events in microseconds, parents before children")


test_unit_chrome_trace()

# %% [markdown]
# ## 6. The roofline: compute-bound or memory-bound?
#
# A machine has two speed limits: how many FLOPs per second its cores can do (**peak compute**,
# measured here by a large float32 matmul) and how many bytes per second its memory can deliver
# (**bandwidth**, measured by a large copy). A layer's **arithmetic intensity** is
# `FLOPs / bytes moved` (inputs + weights + outputs). It can run no faster than
#
# ```
#   attainable GFLOP/s = min(peak compute, intensity × bandwidth)
#
#   GFLOP/s │            ______________________  peak compute
#    (log)  │          ╱   compute-bound: matmuls, big convs
#           │        ╱
#           │      ╱  memory-bound: ReLU, pooling, LayerNorm, small layers
#           │    ╱
#           └──────────┴──────────────────────── intensity (FLOP/byte, log)
#                   ridge = peak / bandwidth
# ```
#
# Left of the ridge, more FLOPs would be free — the layer waits for memory, and the cure is moving
# fewer bytes (fusing elementwise ops into one pass: module 16). Right of it, the cure is doing
# fewer FLOPs or doing them faster (better matmuls, lower precision: modules 16–17).

# %%
#| export
@dataclass
class Machine:
    """Measured speed limits of this machine (float32)."""

    gflops: float  # a large matmul's GFLOP/s
    bandwidth_gbs: float  # a large copy's GB/s (bytes read + written)

    @property
    def ridge(self) -> float:
        """The intensity (FLOP/byte) where memory stops being the limit."""
        return self.gflops / self.bandwidth_gbs


def measure_machine(matmul_size: int = 1024, copy_mb: int = 64, repeats: int = 3) -> Machine:
    """Peak GFLOP/s from an (n, n) @ (n, n) float32 matmul (2n³ FLOPs), bandwidth from copying
    `copy_mb` MB (2 × the size moved: read and write); median of `repeats`."""
    matmul_size = _check_count(matmul_size, "matmul_size", 16, "measure_machine")
    copy_mb = _check_count(copy_mb, "copy_mb", 1, "measure_machine")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((matmul_size, matmul_size), dtype=np.float32)
    b = rng.standard_normal((matmul_size, matmul_size), dtype=np.float32)
    out = np.empty_like(a)
    matmul = time_function(lambda: matmul_arrays(a, b, out), warmup=1, repeats=repeats)  # the package's product
    source = np.ones(copy_mb * 2**20 // 4, dtype=np.float32)
    target = np.empty_like(source)
    copy = time_function(lambda: np.copyto(target, source), warmup=1, repeats=repeats)
    return Machine(gflops=2 * matmul_size**3 / (matmul.median_ms * 1e6),
                   bandwidth_gbs=2 * source.nbytes / (copy.median_ms * 1e6))


def roofline(rows: list[dict], machine: Machine) -> list[dict]:
    """For each profiled row with known FLOPs: intensity, attainable and achieved GFLOP/s, and the bound."""
    result = []
    for row in rows:
        if not row.get("forward_flops") or not row.get("bytes_moved"):
            continue
        # Hint: intensity = forward_flops / bytes_moved; attainable = min(machine.gflops,
        #       intensity * machine.bandwidth_gbs); achieved = forward_flops / (forward_ms * 1e6);
        #       bound is "compute" when intensity >= machine.ridge, else "memory".
        ### BEGIN SOLUTION
        intensity = row["forward_flops"] / row["bytes_moved"]
        attainable = min(machine.gflops, intensity * machine.bandwidth_gbs)
        achieved = row["forward_flops"] / (row["forward_ms"] * 1e6) if row["forward_ms"] > 0 else float("nan")
        bound = "compute" if intensity >= machine.ridge else "memory"
        ### END SOLUTION
        result.append({"layer": row["layer"], "type": row["type"], "intensity": intensity,
                       "attainable_gflops": attainable, "achieved_gflops": achieved, "bound": bound})
    return result


def roofline_text(points: list[dict], machine: Machine) -> str:
    """The roofline as a table (the fallback when matplotlib is missing, and the numbers behind the plot)."""
    lines = [f"machine: {machine.gflops:.1f} GFLOP/s (matmul), {machine.bandwidth_gbs:.1f} GB/s (copy), "
             f"ridge at {machine.ridge:.1f} FLOP/byte",
             f"{'layer':<20} {'type':<12} {'FLOP/byte':>10} {'attainable':>11} {'achieved':>9}  bound"]
    for p in points:
        lines.append(f"{p['layer']:<20} {p['type']:<12} {p['intensity']:>10.2f} {p['attainable_gflops']:>11.1f} "
                     f"{p['achieved_gflops']:>9.1f}  {p['bound']}")
    return "\n".join(lines)


def plot_roofline(points: list[dict], machine: Machine, path) -> str | None:
    """Save a log-log roofline PNG (atomically) when matplotlib is installed; None (and nothing
    written) when it is not. The package never requires matplotlib."""
    try:
        figure = _new_figure("plot_roofline", (7, 4.5))
    except ImportError:
        return None
    if not points:
        raise ValueError("plot_roofline: no layers with known FLOPs to plot")
    lowest = min(min(p["intensity"] for p in points), machine.ridge) / 4
    highest = max(max(p["intensity"] for p in points), machine.ridge) * 4
    xs = np.geomspace(lowest, highest, 200)
    axes = figure.subplots()
    axes.loglog(xs, np.minimum(machine.gflops, xs * machine.bandwidth_gbs), color="black", label="roofline")
    for p in points:
        axes.scatter(p["intensity"], max(p["achieved_gflops"], 1e-3), label=f"{p['layer']} ({p['type']})")
    axes.set_xlabel("arithmetic intensity (FLOP / byte)")
    axes.set_ylabel("GFLOP/s")
    axes.set_title(f"Roofline: {machine.gflops:.0f} GFLOP/s, {machine.bandwidth_gbs:.0f} GB/s")
    axes.legend(fontsize=7, loc="lower right")
    return _save_png(figure, path, dpi=110)

# %%
#| test
def test_unit_roofline():
    machine = Machine(gflops=100.0, bandwidth_gbs=10.0)  # ridge at 10 FLOP/byte
    rows = [{"layer": "fc", "type": "Linear", "forward_flops": 2_000_000, "bytes_moved": 40_000, "forward_ms": 0.1},
            {"layer": "act", "type": "ReLU", "forward_flops": 1_000, "bytes_moved": 8_000, "forward_ms": 0.01}]
    fc, act = roofline(rows, machine)
    assert fc["intensity"] == 50 and fc["bound"] == "compute", f"50 FLOP/byte is right of the ridge (10): {fc}"
    assert act["bound"] == "memory" and math.isclose(act["attainable_gflops"], 0.125 * 10), (
        f"ReLU at 0.125 FLOP/byte can reach at most 0.125 × 10 GB/s = 1.25 GFLOP/s, got {act}")
    assert math.isclose(fc["achieved_gflops"], 20.0), f"2 MFLOP in 0.1 ms is 20 GFLOP/s, got {fc['achieved_gflops']}"
    print("roofline: intensity, attainable GFLOP/s and the bound are correct")


test_unit_roofline()

# %% [markdown]
# ### Live: this machine's roofline, and where LeNet-5's layers sit on it

# %%
#| analysis
from pathlib import Path  # noqa: E402

machine = measure_machine(matmul_size=512, copy_mb=32, repeats=3)
points = roofline(cnn_profiler.rows, machine)
print(roofline_text(points, machine))
_here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
_png = plot_roofline(points, machine, _here / "roofline_lenet.png")
print(f"plot: {_png}" if _png else "(matplotlib not installed: the table above is the roofline)")

# %% [markdown]
# Almost every layer of a small CNN sits **left** of the ridge: even the convolutions reach a
# fraction of the matmul peak, and pooling and ReLU are pure memory traffic. The measured
# "achieved" GFLOP/s is far below "attainable" for small layers — Python and per-op overhead, the
# third limit the roofline does not draw, and the reason module 16 fuses ops.

# %% [markdown]
# ## Reflection
#
# 1. Your MLP table: which layer has the most FLOPs, and which takes the most time? If they differ,
#    use the roofline to say why.
# 2. A layer takes 30% of a training step. What is the most the whole step can speed up if you make
#    that layer infinitely fast? What if it is made 3× faster?
# 3. Why does the first `Linear` of the MLP have a cheaper backward than the second, although it has
#    more weights?
# 4. Adam's first step retained about twice the parameter memory. How much memory does training a
#    100M-parameter float32 model with Adam need before any activation is stored?
# 5. The profiler's overhead is measured against an unprofiled step. Why must both be taken in the
#    same run, alternating, rather than one after the other?

# %% [markdown]
# **Your answers:**
#
# 1. ...
# 2. ...
# 3. ...
# 4. ...
# 5. ...

# %% [markdown]
# ## Next
#
# The profiler showed where a GPT spends its time when it *generates* text: recomputing the keys
# and values of every earlier token, again and again. **Module 15 (memoization)** caches them —
# the KV cache — and you will measure the speed-up with the tools of this module.
