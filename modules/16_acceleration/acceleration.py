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
# # Module 16 — Acceleration: fewer passes over memory, the same mathematics
#
# Module 14's profiler showed where a training step of the Shakespeare GPT spends its time, and
# the surprise was how little of it is the matrix multiplications the FLOP count is about. The
# rest is **memory traffic**: elementwise passes (GELU, LayerNorm, softmax, the optimizer), each
# reading one large array from memory and writing another, and temporaries that the allocator
# must find pages for. A modern core does a multiply-add in a fraction of a nanosecond but waits
# tens of nanoseconds for a cache line from main memory; an elementwise op does one or two
# multiply-adds per value it reads. Such ops run at the speed of memory, not of arithmetic.
#
# So this module's rule is: **the same mathematics, fewer passes over memory.** Write the loop
# as one NumPy call (vectorize); walk memory in the order it is laid out (layout); keep a block
# of data in the cache while *all* the work on it is done (blocking); and do several ops in one
# kernel with its own backward, so the intermediate arrays never exist (fusion). Every kernel is
# checked against the plain ops it replaces — values and gradients — and every speed-up is wired
# into the package, with a switch to turn it off and measure the difference yourself.
#
# **You will learn to**
#
# 1. measure a Python loop against its vectorized form, contiguous against strided access, and
#    the cache cliff of a chain of elementwise passes, and explain each from how memory works;
# 2. write **fused kernels** as autograd `Function`s, forward and backward in one place: GELU
#    that saves its derivative, softmax + cross-entropy with the `p − onehot` gradient, the
#    GPT's causal attention as one node, LayerNorm with its closed-form backward, a blocked
#    in-place AdamW step — and check each with gradcheck and against the textbook compositions
#    of modules 02–13 they replace;
# 3. compute attention over **blocks of keys with the online softmax** (the FlashAttention
#    idea): `O(T)` extra memory instead of `O(T²)`, the same gradients, measured at T = 1,024;
# 4. wire fast paths into a framework so they are the default, can be switched off
#    (`use_fused(False)`), and fall back cleanly while a kernel is not written yet;
# 5. make convolutions fast (Part II) and trade compute for memory with checkpointing and
#    float16 (Part III);
# 6. give the cores **one owner**: measure what two thread pools that do not know each other
#    cost (oversubscription), then split convolutions and large products over TinyTorch's own
#    pool, with OpenBLAS on one thread.
#
# **Prerequisites:** modules 01–06 (`Tensor`, `Function`, gradcheck, `AdamW`), 09 (`Conv2d`),
# 12–13 (attention, `LayerNorm`, `GPT`) and 14 (timing honestly: warm-up, medians).
#
# **Exports to:** `tinytorch/systems/acceleration.py`, re-exported by `tinytorch.systems`.

# %%
#| default_exp systems.acceleration

# %%
#| export
from __future__ import annotations

import contextlib
import math

import numpy as np

from tinytorch.core.activations import _erf_rational_block, erf
from tinytorch.core.autograd import Function
from tinytorch.core.tensor import Tensor
from tinytorch.text.attention import attention_backward, attention_forward

# Elements per block: 65,536 float32 = 256 KiB, so a block of each operand and a few temporaries stay in
# the L2 cache (2 MiB per core on the course machine; 16K and 256K were measured slower, see the analysis).
BLOCK = 1 << 16
_INV_SQRT2, _INV_SQRT_2PI = 1 / math.sqrt(2), 1 / math.sqrt(2 * math.pi)

# %% [markdown]
# ## The switch: fused paths on, or off for a comparison
#
# Every fast path in this module is wired into the package: modules 09 and 13 ask
# `fused_enabled()` before they use one, and fall back to their own plain code when it says no
# (or when this module's kernels are not written yet). `use_fused(False)` turns them all off for
# an honest before/after measurement.

# %%
#| export
_fused = True


def fused_enabled() -> bool:
    """True when the package should take module 16's fused paths (the default)."""
    return _fused


@contextlib.contextmanager
def use_fused(enabled: bool):
    """Context manager: `with use_fused(False): ...` runs the block on the plain, unfused paths."""
    global _fused
    if not isinstance(enabled, bool):
        raise TypeError(f"use_fused: enabled must be True or False, got {enabled!r}")
    previous, _fused = _fused, enabled
    try:
        yield
    finally:
        _fused = previous


# %% [markdown]
# ## The cores: one owner
#
# Every kernel of this module may share its work out among the cores, and they all do it through
# one pool of threads: `in_parallel(tasks)` runs a list of small jobs at once, one on the calling
# thread and the others on the pool's workers. The pool owns the cores — OpenBLAS is told to run
# each product on the thread that calls it — and `set_num_threads(n)` (PyTorch's name) sets its
# size. Why one owner, and what two owners cost, is measured in Part II ("Threads: one owner for
# the cores"); here is only the machinery.

# %%
#| export
import ctypes  # noqa: E402


def _loaded_openblas() -> ctypes.CDLL | None:
    """The OpenBLAS library this process loaded (NumPy's), or None where it cannot be found."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:  # Linux: every mapped file, by path
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)  # already loaded: this only returns a handle to it
        except OSError:
            continue
        if _blas_function(library, "set_num_threads") is not None:
            return library
    return None


def _blas_function(library, suffix: str):
    """library's `*{suffix}` function under any of OpenBLAS's symbol prefixes, or None."""
    for name in (f"openblas_{suffix}", f"scipy_openblas_{suffix}64_", f"openblas_{suffix}64_"):
        if library is not None and hasattr(library, name):
            return getattr(library, name)
    return None


_openblas = _loaded_openblas()
_set_blas_threads = _blas_function(_openblas, "set_num_threads")
_get_blas_threads = _blas_function(_openblas, "get_num_threads")
# The pool's size: OpenBLAS's thread count at import, which then drops to 1 (one owner), or 1
# where OpenBLAS cannot be found: a BLAS we cannot tell to stop threading keeps the cores.
_thread_count = int(_get_blas_threads()) if _set_blas_threads is not None and _get_blas_threads is not None else 1
if _set_blas_threads is not None:
    _set_blas_threads(1)


def get_num_threads() -> int:
    """How many threads TinyTorch's kernels split their work over (torch.get_num_threads)."""
    return _thread_count


def set_num_threads(n: int) -> None:
    """Let TinyTorch's kernels split their work over n threads (torch.set_num_threads).

    The pool owns the cores: OpenBLAS stays at one thread per product whatever n is.
    """
    global _thread_count
    _thread_count = _check_thread_count(n, "set_num_threads")


def _check_thread_count(n, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{where}: n must be an int >= 1, got {n!r}")
    return n


@contextlib.contextmanager
def openblas_threads(n: int):
    """Inside this block, OpenBLAS threads its products over n threads itself (for analyses that
    show why it should not: the pool's kernels must not run in here)."""
    _check_thread_count(n, "openblas_threads")
    if _set_blas_threads is None:
        yield
        return
    _set_blas_threads(n)
    try:
        yield
    finally:
        _set_blas_threads(1)


import os  # noqa: E402
import threading  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

from tinytorch.core.tensor import install_matmul_kernel  # noqa: E402

_pool: dict = {"executor": None, "workers": 0}
_pool_lock = threading.Lock()  # two threads may call in_parallel at once; one may have to grow the pool
_in_task = threading.local()  # set on a thread while it runs one of in_parallel's tasks


def _forget_pool() -> None:
    """In a forked child the pool's threads are gone: start a new pool when one is needed."""
    _pool.update(executor=None, workers=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _workers(count: int) -> ThreadPoolExecutor:
    """An executor with at least `count` worker threads (made, or remade larger, when needed)."""
    with _pool_lock:
        if _pool["workers"] < count:
            if _pool["executor"] is not None:
                _pool["executor"].shutdown(wait=False)  # its queued tasks still run; it takes no new ones
            _pool.update(executor=ThreadPoolExecutor(max_workers=count, thread_name_prefix="tinytorch-pool"),
                         workers=count)
        return _pool["executor"]


def _run_task(task):
    _in_task.active = True
    try:
        return task()
    finally:
        _in_task.active = False


def in_parallel(tasks: list) -> list:
    """Run the zero-argument callables `tasks` at once — the first on this thread, the others on
    the pool's workers — and return their results in order.

    Every task has finished when this returns; if any raised, the first one's error is raised.
    A task that calls in_parallel itself runs its tasks one after another on its own thread (the
    workers it would wait for may be busy running its siblings).
    """
    if len(tasks) <= 1 or getattr(_in_task, "active", False):
        return [task() for task in tasks]
    executor = _workers(len(tasks) - 1)
    futures = [executor.submit(_run_task, task) for task in tasks[1:]]
    try:
        first = _run_task(tasks[0])
    finally:
        others = [future.exception() for future in futures]  # waits for every task, even after an error
    errors = [error for error in others if error is not None]
    if errors:
        raise errors[0]
    return [first] + [future.result() for future in futures]


def over_runs(n: int, work, parts: int | None = None) -> list:
    """[work(start, stop), ...] for range(n) cut into one contiguous run per pool thread (at most
    `parts` runs when given), all at once (in_parallel), results in order."""
    runs = even_parts(n, _thread_count if parts is None else min(parts, _thread_count))
    return in_parallel([(lambda start=start, stop=stop: work(start, stop)) for start, stop in runs])


def split_blocks(size: int, work) -> None:
    """work(part) for each slice of blocks(size), in contiguous runs of blocks, one run per pool thread
    (fewer when there are fewer blocks)."""
    over_runs(size, lambda start, stop: [work(slice(start + part.start, start + part.stop))
                                         for part in blocks(stop - start)], parts=-(-size // BLOCK))


def even_parts(n: int, parts: int) -> list[tuple[int, int]]:
    """[(start, stop), ...]: range(n) cut into at most `parts` contiguous pieces, sizes within one."""
    parts = max(1, min(parts, n))
    bounds = [n * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))

# %% [markdown]
# ## Part I — Fused kernels for the transformer
#
# The four kernels of this part replace the transformer's elementwise work. Before writing them,
# three measurements that explain *why* they are written the way they are.

# %%
#| export
def blocks(size: int, block: int | None = None):
    """Slices [0, block), [block, 2·block), ... covering range(size) (block: default BLOCK): the unit of
    work of a fused kernel."""
    block = BLOCK if block is None else block
    return (slice(start, min(start + block, size)) for start in range(0, size, block))


def _check_floating(x, name: str, where: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: {name} must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: {name} must be a floating-point Tensor, got dtype {x.dtype}")

# %% [markdown]
# ### I.1 From a Python loop to one NumPy call
#
# The first speed-up is the one every module so far has used: a Python loop executes bytecode for
# every element — fetch an object, look up a method, box a float — about 50–100 ns each; one NumPy
# call runs a compiled loop over the whole array at a nanosecond or less per element. Below, exact
# GELU two ways: a Python loop over `math.erf` and module 02's vectorized `gelu`, per element, as
# the array grows.

# %%
#| analysis
from tinytorch.core.activations import gelu
from tinytorch.systems.profiling import time_function
from tito.plots import plot_lines

_rng = np.random.default_rng(0)


def gelu_loop(values: list) -> list:
    """Exact GELU one Python float at a time: the code a vectorized op replaces."""
    return [0.5 * v * (1.0 + math.erf(v * _INV_SQRT2)) for v in values]


sizes = [1_000, 4_000, 16_000, 64_000]
per_element = {"Python loop": [], "NumPy (module 02)": []}
for n in sizes:
    data = _rng.standard_normal(n).astype(np.float32)
    as_list, as_tensor = data.tolist(), Tensor(data)
    per_element["Python loop"].append(time_function(lambda: gelu_loop(as_list), repeats=3).median_ms * 1e6 / n)
    per_element["NumPy (module 02)"].append(time_function(lambda: gelu(as_tensor), repeats=5).median_ms * 1e6 / n)
print(f"{'elements':>9}" + "".join(f"{k:>22}" for k in per_element) + "   (ns per element)")
for i, n in enumerate(sizes):
    print(f"{n:>9}" + "".join(f"{v[i]:>22.2f}" for v in per_element.values()))
plot_lines("gelu_loop_vs_vectorized", sizes, per_element, xlabel="elements", ylabel="ns per element",
           title="Exact GELU: Python loop vs one NumPy call", logx=True, logy=True)

# %% [markdown]
# The loop costs the same per element at every size — it is all interpreter overhead. The NumPy
# call gets *cheaper* per element as the array grows (its fixed cost of a few microseconds is
# spread over more values) until it reaches the speed of its slowest resource. Which resource
# that is, the next two measurements show.
#
# ### I.2 Memory layout: contiguous against strided
#
# Memory moves in 64-byte cache lines. Summing `m` floats that sit next to each other reads
# `m/16` lines, in order, and the hardware prefetcher fetches ahead. Summing `m` floats 16
# apart (a view `a[::16]`, stride 64 bytes) does the same additions but reads **one line per
# float** — sixteen times the traffic. A transpose copy is the classic case: `a.T.copy()` reads
# rows of `a` but writes columns of the result (or the other way round), so one side strides.
# Copying in **tiles** of 64 × 64 keeps the tile's rows read and rows written in the cache.

# %%
#| analysis
def transpose_tiled(a: np.ndarray, tile: int = 64) -> np.ndarray:
    """a.T as a new contiguous array, copied tile by tile so reads and writes both stay in cache."""
    out = np.empty((a.shape[1], a.shape[0]), dtype=a.dtype)
    for i in range(0, a.shape[0], tile):
        for j in range(0, a.shape[1], tile):
            out[j:j + tile, i:i + tile] = a[i:i + tile, j:j + tile].T
    return out


layout_sizes = [256, 512, 1024, 2048]
layout = {"sum, contiguous": [], "sum, stride 16": [], "a.T copy": [], "a.T copy, 64x64 tiles": []}
for n in layout_sizes:
    a = _rng.standard_normal((n, n)).astype(np.float32)
    flat, m = a.reshape(-1), n * n // 16
    assert np.array_equal(transpose_tiled(a), a.T)
    for label, fn, count in zip(layout, (lambda: flat[:m].sum(), lambda: flat[::16].sum(), lambda: a.T.copy(),
                                         lambda: transpose_tiled(a)), (m, m, n * n, n * n)):
        layout[label].append(time_function(fn, repeats=5).median_ms * 1e6 / count)
print(f"{'n':>6}" + "".join(f"{k:>24}" for k in layout) + "   (ns per element)")
for i, n in enumerate(layout_sizes):
    print(f"{n:>6}" + "".join(f"{v[i]:>24.3f}" for v in layout.values()))
plot_lines("layout_contiguous_vs_strided", layout_sizes, layout, xlabel="n (array n x n float32)",
           ylabel="ns per element", title="Memory layout: the same work in a different order", logx=True,
           logy=True)

# %% [markdown]
# The two sums do identical arithmetic on the same number of floats; only the bytes moved
# differ, and the strided one pays more per float as soon as its lines no longer fit in the cache.
# The untiled transpose copy falls off a cliff once a column of the destination spans more lines
# than the cache holds; the tiled one does the same copy several times faster. That is why module
# 12 stores the attention probabilities **transposed** when backward reads them by columns, and
# why module 06 copies a transposed gradient once before the optimizer's ten passes over it.
#
# ### I.3 The cache cliff: why fuse
#
# GELU in NumPy is a chain of about fifteen elementwise passes (the rational erf's multiply-adds,
# then `+1`, `·x`, `·½`). Run each pass over the whole array and every pass streams the array
# from wherever it lives: from L2 while it fits (2 MiB per core on the course machine), from
# L3 or main memory when it does not. Run **all** the passes on one block of 64K elements before
# moving on, and the block stays in L2 for the whole chain whatever the array's size. Below, the
# same fifteen passes both ways (module 02's `_gelu_exact_f32` blocks by 32K already; here is
# the effect it buys).

# %%
#| analysis
def chain_whole(x: np.ndarray) -> np.ndarray:
    """Fifteen elementwise passes over the whole array (erf's rational function and the GELU tail)."""
    out = np.empty_like(x)
    _erf_rational_block(x * _INV_SQRT2, out)
    out += 1
    out *= x
    out *= 0.5
    return out


def chain_blocked(x: np.ndarray) -> np.ndarray:
    """The same passes, all of them on one block before the next."""
    out = np.empty_like(x)
    for part in blocks(x.size):
        out[part] = chain_whole(x[part])
    return out


chain_sizes = [1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22]
chain = {"each pass over the whole array": [], "all passes per 64K block": []}
for n in chain_sizes:
    x = _rng.standard_normal(n).astype(np.float32)
    assert np.array_equal(chain_whole(x), chain_blocked(x))
    chain["each pass over the whole array"].append(time_function(lambda: chain_whole(x), repeats=5).median_ms
                                                   * 1e6 / n)
    chain["all passes per 64K block"].append(time_function(lambda: chain_blocked(x), repeats=5).median_ms * 1e6 / n)
print(f"{'elements':>9}{'MiB':>7}" + "".join(f"{k:>34}" for k in chain) + "   (ns per element)")
for i, n in enumerate(chain_sizes):
    print(f"{n:>9}{n * 4 / 2**20:>7.2f}" + "".join(f"{v[i]:>34.3f}" for v in chain.values()))
plot_lines("cache_cliff_blocked_chain", chain_sizes, chain, xlabel="elements (float32)", ylabel="ns per element",
           title="Fifteen elementwise passes: whole-array vs blocked", logx=True)

# %% [markdown]
# Up to 256 KiB both are the same code. Past the L2 cache, the whole-array chain pays for every
# pass in memory traffic and the blocked one does not: the same arithmetic, several times
# fewer bytes moved. **Fusion** is this idea taken one step further — not only one block at a
# time, but also several *ops* (and their backward) in one kernel, so that the intermediate
# arrays are never written at all. `blocks(size)` above is the loop every kernel of this part uses.

# %% [markdown]
# ### Kernel 1 — GELU with its derivative computed in the same pass
#
# Module 02's exact GELU is `x·Φ(x)` with `Φ(x) = ½(1 + erf(x/√2))`. Its backward needs
# `Φ(x) + x·φ(x)` (with `φ(x) = e^{-x²/2}/√(2π)`), and module 05's backward computes the erf a
# second time from the saved input. The erf is the expensive part — a rational function of
# twelve multiply-adds. The fused kernel computes `Φ` once per block and, while that block is
# still in the cache, both the output `x·Φ` and the **slope** `Φ + x·φ`. It saves the slope
# instead of the input (the same memory), and backward becomes one multiplication.
#
# ```
#   unfused:  forward  x ──erf──▶ Φ ──▶ x·Φ            backward  x ──erf again──▶ Φ, φ ──▶ g·(Φ + xφ)
#   fused:    forward  per block: x ──erf──▶ Φ ──▶ x·Φ and Φ + xφ        backward  g · slope
# ```

#
# A fused kernel may also pick cheaper mathematics. NumPy's `tanh` is vectorized and costs about
# as much as one multiply pass, and erf has the shape of a tanh: `erf(z) = tanh(z·P(z²))` for a
# slowly varying `P`. A degree-6 `P` (`_ERF_TANH` below: weighted least squares of
# `atanh(erf z)/z` on `0 ≤ z ≤ 4`, weights `(1 − erf²)·z` so that the fit is tight where an error
# moves erf) is within 1.8e-7 of `math.erf` in float32 — module 02's rational fit is within
# 4e-7 — for sixteen passes instead of about twenty-five and a division. Past `|z| = 4`, erf is 1
# in float32, so `z` is clamped there. (Module 02 keeps its textbook rational function; this
# one would speed it up as well.)

# %%
#| export
# erf(z) ≈ tanh(z·P(z²)) for |z| <= 4, P's coefficients from the lowest degree up (fitted as above).
_ERF_TANH = (1.128380422098017, 0.10276053521376637, -0.00017487349584669633, -0.0006329892812174154,
             9.218784505347934e-05, -6.355873773875708e-06, 1.785542392759577e-07)


def erf_by_tanh_(z: np.ndarray, out: np.ndarray, work: np.ndarray) -> np.ndarray:
    """float32 erf of a block z (1-D) into out, through tanh(z·P(z²)); work is scratch of z's size. Returns out."""
    np.clip(z, -4.0, 4.0, out=work)
    np.multiply(work, work, out=out)  # u = z², clamped at 16
    polynomial = np.full_like(z, _ERF_TANH[-1])
    for coefficient in _ERF_TANH[-2::-1]:
        polynomial *= out
        polynomial += coefficient
    polynomial *= work
    return np.tanh(polynomial, out=out)


def gelu_and_slope_(x: np.ndarray, out: np.ndarray, slope: np.ndarray) -> None:
    """For one block x (1-D): out = x·Φ(x) and slope = Φ(x) + x·φ(x), written into the given arrays."""
    # Hint: slope = erf(x/√2) (float32: erf_by_tanh_(x * _INV_SQRT2, slope, out), with out as its
    #       scratch; other dtypes: module 02's erf); slope = ½(1 + slope) is Φ; out = x·Φ;
    #       then φ = exp(-x²/2)·_INV_SQRT_2PI in a temporary, times x, added to slope.
    ### BEGIN SOLUTION
    if x.dtype == np.float32:
        erf_by_tanh_(x * _INV_SQRT2, slope, out)
    else:
        slope[...] = erf(x * _INV_SQRT2)
    slope += 1
    slope *= 0.5
    np.multiply(x, slope, out=out)
    pdf = np.multiply(x, x)
    pdf *= -0.5
    np.exp(pdf, out=pdf)
    pdf *= _INV_SQRT_2PI
    pdf *= x
    slope += pdf
    ### END SOLUTION


class FusedGELU(Function):
    """Exact (erf) GELU that saves its slope: forward and both derivatives' work in one blocked pass."""

    @staticmethod
    def forward(ctx, x):
        flat = np.ascontiguousarray(x).reshape(-1)
        out, slope = np.empty_like(flat), np.empty_like(flat)
        split_blocks(flat.size, lambda part: gelu_and_slope_(flat[part], out[part], slope[part]))  # over the pool
        ctx.save_for_backward(slope.reshape(x.shape))
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_output):
        (slope,) = ctx.saved_tensors
        return grad_output * slope


def fused_gelu(x: Tensor) -> Tensor:
    """GELU(x) = x·Φ(x), exact (erf), as module 02's gelu(x) with one pass fewer in backward. Shape kept."""
    _check_floating(x, "x", "fused_gelu")
    return FusedGELU.apply(x)

# %%
#| test
from tinytorch.core.autograd import gradcheck


def test_unit_fused_gelu():
    # Values first, then gradients against module 02, then gradcheck: the first failure names the part to fix.
    data = np.random.default_rng(1).standard_normal((300, 700)).astype(np.float32)  # several blocks
    a, b = Tensor(data, requires_grad=True), Tensor(data.copy(), requires_grad=True)
    fused, plain = fused_gelu(a), gelu(b)
    assert np.abs(fused.data - plain.data).max() < 1e-6, (
        "fused_gelu(x) should equal module 02's gelu(x): check that out = x·Φ(x) with Φ = ½(1 + erf(x/√2))")
    fused.sum().backward()
    plain.sum().backward()
    worst = np.abs(a.grad.data - b.grad.data).max()
    assert worst < 1e-6, f"the slope should be Φ(x) + x·φ(x), φ(x) = exp(-x²/2)/√(2π); gradients differ by {worst}"
    x = Tensor(np.linspace(-5, 5, 21).reshape(3, 7), requires_grad=True)
    assert gradcheck(fused_gelu, [x]), "fused_gelu's backward disagrees with finite differences"
    print("✅ fused GELU: gradcheck, and values and gradients equal to module 02's gelu")


test_unit_fused_gelu()

# %%
#| analysis
def forward_backward_ms(fn, data: np.ndarray, repeats: int = 7) -> float:
    """Median ms of fn(x) forward + backward (sum) on a fresh leaf made from data."""
    def step():
        x = Tensor(data, requires_grad=True)
        fn(x).sum().backward()
    return time_function(step, repeats=repeats).median_ms


mlp_hidden = _rng.standard_normal((768, 512)).astype(np.float32)  # the GPT's (B·T, 4E) activation
plain_ms, fused_ms = forward_backward_ms(gelu, mlp_hidden), forward_backward_ms(fused_gelu, mlp_hidden)
print(f"GELU on (768, 512), forward + backward: module 02 {plain_ms:.2f} ms, fused {fused_ms:.2f} ms "
      f"({plain_ms / fused_ms:.2f}x); x 4 layers per GPT step: {4 * (plain_ms - fused_ms):.1f} ms saved")

# %% [markdown]
# ### Kernel 2 — softmax and cross-entropy as one Function
#
# Module 04's `cross_entropy` is `nll_loss(log_softmax(z))`: two graph nodes, a log-probability
# matrix kept for backward, and a backward that goes through both. Fused, the forward computes
# each row's log-sum-exp once and keeps the **probabilities** `p = softmax(z)`; the gradient of
# the mean loss is then the famous one-liner
#
# ```
#   ∂loss/∂z[i, c] = (p[i, c] − [c = target_i]) / N          (N = rows whose target is not ignored)
# ```

# %%
#| export
class SoftmaxCrossEntropy(Function):
    """Mean cross-entropy of logits (N, C) against class ids (N,), rows with ignore_index skipped."""

    @staticmethod
    def forward(ctx, logits, target, ignore_index: int):
        # Hint: probs = logits - row max (a new array); exp in place; sums = row sums; the loss of
        #       row i is log(sums_i) - shifted_i[target_i] (take it before the exp, or from the log
        #       of probs after normalising); average over the rows whose target != ignore_index.
        #       Save probs (divided by sums in place), the safe targets, the valid mask and the count.
        ### BEGIN SOLUTION
        rows = np.arange(logits.shape[0])
        valid = target != ignore_index
        safe = np.where(valid, target, 0)
        probs = logits - logits.max(axis=1, keepdims=True)
        picked = probs[rows, safe]
        np.exp(probs, out=probs)
        sums = probs.sum(axis=1)
        count = int(valid.sum())
        losses = np.log(sums) - picked
        probs /= sums[:, None]
        ctx.save_for_backward(probs, safe, valid)
        ctx.count = count
        return np.asarray(losses[valid].sum() / max(count, 1) if count else np.nan, dtype=logits.dtype)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        probs, safe, valid = ctx.saved_tensors
        # Hint: grad = probs · (g / count) (a copy: probs stays intact for a second backward);
        #       subtract g / count at [row, target]; zero the ignored rows.
        ### BEGIN SOLUTION
        scale = float(grad_output) / max(ctx.count, 1)
        grad = probs * np.asarray(scale, dtype=probs.dtype)
        grad[np.arange(grad.shape[0]), safe] -= scale
        if not valid.all():
            grad[~valid] = 0
        return grad, None, None
        ### END SOLUTION


def softmax_cross_entropy(logits: Tensor, target: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy, as cross_entropy(logits, target, ignore_index=...) of module 04, in one node.

    logits: (N, C) floating; target: (N,) integer class ids in [0, C) or ignore_index. -> scalar.
    """
    where = "softmax_cross_entropy"
    _check_floating(logits, "logits", where)
    if logits.ndim != 2:
        raise ValueError(f"{where}: logits must be (N, C), got shape {tuple(logits.shape)}")
    if not isinstance(target, Tensor) or target.dtype.kind not in "iu" or tuple(target.shape) != logits.shape[:1]:
        got = (f"dtype {target.dtype}, shape {tuple(target.shape)}" if isinstance(target, Tensor)
               else type(target).__name__)
        raise ValueError(f"{where}: target must be an integer Tensor of shape ({logits.shape[0]},), got {got}")
    ids = target.data
    bad = (ids != ignore_index) & ((ids < 0) | (ids >= logits.shape[1]))
    if bad.any():
        raise ValueError(f"{where}: target holds class id {int(ids[bad][0])}, outside [0, {logits.shape[1]}) "
                         f"and not ignore_index={ignore_index}")
    return SoftmaxCrossEntropy.apply(logits, ids, int(ignore_index))

# %%
#| test
from tinytorch.core.losses import cross_entropy


def test_unit_softmax_cross_entropy():
    rng = np.random.default_rng(2)
    logits = Tensor(rng.standard_normal((6, 5)), requires_grad=True)
    target = Tensor(np.array([0, 4, -1, 2, 2, 1]))
    assert gradcheck(lambda z: softmax_cross_entropy(z, target, ignore_index=-1), [logits]), (
        "the gradient should be (softmax(z) − onehot(target)) / N, with N the rows not ignored")
    fused = softmax_cross_entropy(logits, target, ignore_index=-1).item()
    plain = cross_entropy(logits, target, ignore_index=-1).item()
    assert abs(fused - plain) < 1e-12, (
        f"loss {fused} should equal module 04's {plain}: mean over the rows whose target is not ignored "
        "of log(Σ exp(z − max)) − (z[target] − max)")
    print("✅ softmax + cross-entropy: gradcheck, equal to module 04 with ignored rows")


test_unit_softmax_cross_entropy()

# %%
#| analysis
head_logits = Tensor(_rng.standard_normal((768, 65)).astype(np.float32), requires_grad=True)
head_targets = Tensor(_rng.integers(0, 65, 768))


def loss_step(fn):
    def step():
        head_logits.grad = None
        fn(head_logits, head_targets).backward()
    return time_function(step, repeats=9).median_ms


print(f"cross-entropy on the GPT's (768, 65) logits, forward + backward: module 04 "
      f"{loss_step(cross_entropy):.3f} ms, fused {loss_step(softmax_cross_entropy):.3f} ms")

# %% [markdown]
# ### Kernel 3 — attention: one node, then blocks over the keys (the flash-attention idea)
#
# Module 12's `CausalSelfAttention` is the textbook composition: split the packed `(B, T, 3E)`
# projection into q, k and v, split the heads, then matmul, scale, mask, softmax, matmul as
# recorded Tensor ops, merge the heads. About twenty graph nodes; the scores, shifted scores,
# exponentials and weights all kept for backward; and in backward each of the three slices
# allocates a zero array of the whole `(B, T, 3E)` shape to write its third into.
#
# **One node first.** `FusedCausalAttention` does the same mathematics in one `Function`, built on
# module 12's array functions `attention_forward` / `attention_backward` (its section 3 derives
# them: the softmax computed in place on transposed scores, four matmuls backward). q, k and v are
# strided *views* of the packed projection — BLAS reads a matrix with a row stride of `3E` as
# happily as a contiguous one — the output is written straight into the merged `(B, T, E)`
# layout, and backward writes dQ, dK, dV straight into the three thirds of one `(B, T, 3E)`
# gradient. Nothing is copied; only q, k, v and the probabilities are kept.
#
# It still builds the whole `(T, T)` score matrix, softmaxes it and keeps the probabilities for
# backward: `T²` floats per head — at `T = 1,024` and 4 heads, 16 MB per sequence per layer, and
# three such matrices alive at once in backward.
#
# The **online softmax** removes that. Walk over the keys in blocks of `b`. For every query
# keep three running quantities: the largest score seen so far `m`, the sum of `exp(score − m)`
# so far `ℓ`, and the weighted sum of values so far `acc`. A new block of scores `s` updates them:
#
# ```
#   m'   = max(m, max_j s_j)
#   ℓ'   = ℓ·e^{m − m'} + Σ_j e^{s_j − m'}              (old terms rescaled to the new maximum)
#   acc' = acc·e^{m − m'} + Σ_j e^{s_j − m'} · v_j
#   output = acc / ℓ  after the last block;  save only  L = m + log ℓ  (one float per query)
# ```
#
# Only a `(T, b)` block of scores exists at any time: extra memory `O(T·b)`, not `O(T²)`.
# Backward recomputes each block's probabilities from `L` (`p = exp(s − L)`) instead of
# reading a stored matrix — more FLOPs, far less memory — and uses `D = Σ dO ⊙ O` per query in
# place of the row sums of `dP ⊙ P`:
#
# ```
#   per key block j:  p = exp(q·k_jᵀ·scale − L)     dV_j = pᵀ·dO      dP = dO·v_jᵀ
#                     dS = p ⊙ (dP − D)·scale       dQ += dS·k_j      dK_j = dSᵀ·q
# ```
#
# With the causal mask, key block `j` starting at key `j₀` is seen only by queries `i ≥ j₀`: the
# loops skip the rest (half the work), and only the diagonal square needs the mask.

# %%
#| export
_DIAGONAL: dict = {}  # (b, dtype) -> read-only (b, b) additive mask, -inf above the diagonal


def _diagonal_mask(size: int, dtype) -> np.ndarray:
    key = (size, np.dtype(dtype).str)
    if key not in _DIAGONAL:
        mask = np.triu(np.full((size, size), -np.inf, dtype=dtype), k=1)
        mask.flags.writeable = False
        _DIAGONAL[key] = mask
    return _DIAGONAL[key]


def _block_scores(q: np.ndarray, key_block: np.ndarray, scale: float, causal: bool, start: int) -> np.ndarray:
    """Scores (..., Lq, b) of queries q (those from position `start` on when causal) against one key block."""
    scores = np.matmul(q, key_block.swapaxes(-1, -2))
    scores *= scale
    if causal:  # query start+r sees key start+c only if c <= r: mask the upper triangle of the first rows
        rows, width = min(scores.shape[-2], key_block.shape[-2]), key_block.shape[-2]
        scores[..., :rows, :] += _diagonal_mask(width, scores.dtype)[:rows]
    return scores


def flash_attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, causal: bool,
                            block: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Attention over key blocks with the online softmax: (output (..., L, Dv), logsumexp L (..., L)).

    q (..., L, D), k (..., S, D), v (..., S, Dv); causal means key j is seen by query i only if j <= i.
    Extra memory: one (..., L, block) score block at a time.
    """
    length, keys = q.shape[-2], k.shape[-2]
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    peak = np.full(lead + (length,), -np.inf, dtype=q.dtype)
    total = np.zeros(lead + (length,), dtype=q.dtype)
    acc = np.zeros(lead + (length, v.shape[-1]), dtype=q.dtype)
    # Hint: for each key block [j0, j1): first = j0 if causal else 0 (earlier queries see none of
    #       it); s = _block_scores(q[..., first:, :], k[..., j0:j1, :], scale, causal, j0); for the
    #       rows first: of peak/total/acc: new = max(peak, s.max(-1)); rescale = exp(peak - new);
    #       p = exp(s - new[..., None]) (in place on s); total = total·rescale + p.sum(-1);
    #       acc = acc·rescale[..., None] + p @ v_block; peak = new. At the end output = acc / total
    #       and logsumexp = peak + log(total). A causal query beyond the keys (i >= S) sees them all.
    ### BEGIN SOLUTION
    for j0 in range(0, keys, block):
        j1 = min(j0 + block, keys)
        first = min(j0, length) if causal else 0
        if first == length:
            break
        s = _block_scores(q[..., first:, :], k[..., j0:j1, :], scale, causal, j0)
        m, t, a = peak[..., first:], total[..., first:], acc[..., first:, :]
        new = np.maximum(m, s.max(axis=-1))
        rescale = np.exp(m - new)
        s -= new[..., None]
        np.exp(s, out=s)
        t *= rescale
        t += s.sum(axis=-1)
        a *= rescale[..., None]
        a += np.matmul(s, v[..., j0:j1, :])
        m[...] = new
    result = np.divide(acc, total[..., None], out=out)
    logsumexp = peak + np.log(total)
    ### END SOLUTION
    return result, logsumexp


def flash_attention_backward(q, k, v, output, logsumexp, grad_output, scale: float, causal: bool, block: int,
                             out: tuple = (None, None, None)) -> tuple:
    """(dQ, dK, dV) of flash_attention_forward, recomputing each block's probabilities from logsumexp.

    out: optional arrays (any strides) to write dQ, dK, dV into.
    """
    length, keys = q.shape[-2], k.shape[-2]
    dq = out[0] if out[0] is not None else np.empty(np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + q.shape[-2:],
                                                   dtype=q.dtype)
    dk = out[1] if out[1] is not None else np.empty_like(k)
    dv = out[2] if out[2] is not None else np.empty_like(v)
    dq[...] = 0
    delta = np.einsum("...ld,...ld->...l", grad_output, output)  # D = Σ dO ⊙ O per query
    # Hint: per key block [j0, j1), queries from first (j0 if causal else 0):
    #       p = exp(_block_scores(...) - logsumexp[..., first:, None]) in place;
    #       dV_block = pᵀ·dO[first:]; dP = dO[first:]·v_blockᵀ; dS = p ⊙ (dP − delta[first:, None]) · scale;
    #       dQ[first:] += dS·k_block; dK_block = dSᵀ·q[first:]. Key blocks no query sees get 0.
    ### BEGIN SOLUTION
    for j0 in range(0, keys, block):
        j1 = min(j0 + block, keys)
        first = min(j0, length) if causal else 0
        if first == length:
            dk[..., j0:, :] = 0
            dv[..., j0:, :] = 0
            break
        qs, go = q[..., first:, :], grad_output[..., first:, :]
        p = _block_scores(qs, k[..., j0:j1, :], scale, causal, j0)
        p -= logsumexp[..., first:, None]
        np.exp(p, out=p)
        np.matmul(p.swapaxes(-1, -2), go, out=dv[..., j0:j1, :])
        ds = np.matmul(go, v[..., j0:j1, :].swapaxes(-1, -2))
        ds -= delta[..., first:, None]
        ds *= p
        ds *= scale
        dq[..., first:, :] += np.matmul(ds, k[..., j0:j1, :])
        np.matmul(ds.swapaxes(-1, -2), qs, out=dk[..., j0:j1, :])
    ### END SOLUTION
    return dq, dk, dv


class FlashAttention(Function):
    """softmax(q·kᵀ·scale [+ causal mask])·v in key blocks; saves q, k, v, the output and one float per query."""

    @staticmethod
    def forward(ctx, q, k, v, scale: float, causal: bool, block: int):
        out, logsumexp = flash_attention_forward(q, k, v, scale, causal, block)
        ctx.save_for_backward(q, k, v, out, logsumexp)
        ctx.config = (scale, causal, block)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        q, k, v, out, logsumexp = ctx.saved_tensors
        dq, dk, dv = flash_attention_backward(q, k, v, out, logsumexp, grad_output, *ctx.config)
        return dq, dk, dv, None, None, None


def _check_block(block, where: str) -> int:
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"{where}: block_size must be a positive int (keys per block), got {block!r}")
    return int(block)


def flash_attention(query: Tensor, key: Tensor, value: Tensor, is_causal: bool = False, scale: float | None = None,
                    block_size: int = 64) -> Tensor:
    """Attention computed over blocks of block_size keys: the same values and gradients as
    scaled_dot_product_attention(query, key, value, is_causal=is_causal, scale=scale), with O(L·block_size)
    extra memory instead of O(L·S). query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).
    """
    where = "flash_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_floating(t, name, where)
        if t.ndim < 2:
            raise ValueError(f"{where}: {name} must have at least 2 dimensions (..., length, features), "
                             f"got shape {tuple(t.shape)}")
    if key.shape[-1] != query.shape[-1] or key.shape[-2] != value.shape[-2] or key.shape[:-2] != value.shape[:-2]:
        raise ValueError(f"{where}: expected query (..., L, E), key (..., S, E), value (..., S, Ev); got "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"{where}: is_causal must be True or False, got {is_causal!r}")
    block = _check_block(block_size, where)
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"{where}: scale must be a finite number or None, got {scale!r}")
    return FlashAttention.apply(query, key, value, float(scale), bool(is_causal), block)


def _heads(packed: np.ndarray, part: int, heads: int) -> np.ndarray:
    """Third `part` (0 q, 1 k, 2 v) of a packed (B, T, 3E) array as a (B, H, T, D) view."""
    batch, length, width = packed.shape[0], packed.shape[1], packed.shape[2] // 3
    third = packed[..., part * width:(part + 1) * width]
    return third.reshape(batch, length, heads, width // heads).transpose(0, 2, 1, 3)


class FusedCausalAttention(Function):
    """Causal self-attention from packed projections in one node: qkv (B, T, 3E) -> (B, T, E), heads merged.

    Module 12's attention_forward/attention_backward on strided views: keeps the (B, H, T, T) probabilities.
    """

    @staticmethod
    def forward(ctx, qkv, num_heads: int, dropout_p: float, generator):
        # Hint: q, k, v = _heads(qkv, i, H) for i = 0, 1, 2 (views, no copies); out = np.empty((B, T, E));
        #       attention_forward(q, k, v, None, 1/sqrt(D), True, dropout_p, generator, out=out viewed
        #       as (B, H, T, D) the same way). Save qkv, probs_t, keep_t; keep the heads and the scale.
        ### BEGIN SOLUTION
        batch, length, width = qkv.shape[0], qkv.shape[1], qkv.shape[2] // 3
        q, k, v = (_heads(qkv, i, num_heads) for i in range(3))
        scale = 1.0 / math.sqrt(width // num_heads)
        out = np.empty((batch, length, width), dtype=qkv.dtype)
        out_heads = out.reshape(batch, length, num_heads, width // num_heads).transpose(0, 2, 1, 3)
        _, probs_t, keep_t = attention_forward(q, k, v, None, scale, True, dropout_p, generator, out=out_heads)
        ctx.save_for_backward(qkv, probs_t, keep_t)
        ctx.config = (num_heads, scale)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        qkv, probs_t, keep_t = ctx.saved_tensors
        heads, scale = ctx.config
        # Hint: grad_qkv = np.empty_like(qkv); its thirds, as _heads views, are the `out=` arrays of
        #       attention_backward (needs (True, True, True, False)); grad_output (B, T, E) is read
        #       as (B, H, T, D) through a reshape + transpose.
        ### BEGIN SOLUTION
        batch, length, width = grad_output.shape
        q, k, v = (_heads(qkv, i, heads) for i in range(3))
        grad_qkv = np.empty_like(qkv)
        targets = tuple(_heads(grad_qkv, i, heads) for i in range(3))
        grad_heads = np.ascontiguousarray(grad_output).reshape(batch, length, heads, width // heads)
        attention_backward(q, k, v, probs_t, keep_t, grad_heads.transpose(0, 2, 1, 3), scale,
                           (True, True, True, False), out=targets)
        return grad_qkv, None, None, None
        ### END SOLUTION


class FlashCausalAttention(Function):
    """Causal self-attention from packed projections qkv (B, T, 3E) -> (B, T, E), in key blocks (for the GPT)."""

    @staticmethod
    def forward(ctx, qkv, heads: int, block: int):
        batch, length, width = qkv.shape[0], qkv.shape[1], qkv.shape[2] // 3
        q, k, v = (_heads(qkv, i, heads) for i in range(3))
        scale = 1.0 / math.sqrt(width // heads)
        out = np.empty((batch, length, width), dtype=qkv.dtype)
        out_heads = out.reshape(batch, length, heads, width // heads).transpose(0, 2, 1, 3)
        _, logsumexp = flash_attention_forward(q, k, v, scale, True, block, out=out_heads)
        ctx.save_for_backward(qkv, out, logsumexp)
        ctx.config = (heads, scale, block)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        qkv, out, logsumexp = ctx.saved_tensors
        heads, scale, block = ctx.config
        batch, length, width = out.shape
        split = (batch, length, heads, width // heads)
        q, k, v = (_heads(qkv, i, heads) for i in range(3))
        grad_qkv = np.empty_like(qkv)
        targets = tuple(_heads(grad_qkv, i, heads) for i in range(3))
        flash_attention_backward(q, k, v, out.reshape(split).transpose(0, 2, 1, 3), logsumexp,
                                 np.ascontiguousarray(grad_output).reshape(split).transpose(0, 2, 1, 3),
                                 scale, True, block, out=targets)
        return grad_qkv, None, None


FLASH_FROM = 256  # sequences at least this long take the blocked kernel in the GPT (measured below)


def fused_causal_attention(qkv: Tensor, num_heads: int, dropout_p: float = 0.0, generator=None) -> Tensor:
    """The GPT's attention (module 12's CausalSelfAttention asks for it): without dropout, the blocked
    kernel for sequences of FLASH_FROM tokens and more; otherwise the one-node FusedCausalAttention
    (which keeps the probabilities, and draws dropout from `generator` as module 12's composition does)."""
    if dropout_p == 0 and qkv.ndim == 3 and qkv.shape[1] >= FLASH_FROM:
        return flash_causal_attention(qkv, num_heads)
    return FusedCausalAttention.apply(qkv, num_heads, dropout_p, generator)


def flash_causal_attention(qkv: Tensor, num_heads: int, block_size: int = 64) -> Tensor:
    """Causal multi-head self-attention from packed q, k, v projections: qkv (B, T, 3E) -> (B, T, E)."""
    where = "flash_causal_attention"
    _check_floating(qkv, "qkv", where)
    if qkv.ndim != 3 or qkv.shape[-1] % 3:
        raise ValueError(f"{where}: qkv must be (B, T, 3E), got shape {tuple(qkv.shape)}")
    if isinstance(num_heads, bool) or not isinstance(num_heads, (int, np.integer)) or num_heads < 1 \
            or (qkv.shape[-1] // 3) % num_heads:
        raise ValueError(f"{where}: num_heads must be a positive int dividing E={qkv.shape[-1] // 3}, got "
                         f"{num_heads!r}")
    return FlashCausalAttention.apply(qkv, int(num_heads), _check_block(block_size, where))

# %%
#| test
from tinytorch.text.attention import scaled_dot_product_attention


def test_unit_flash_attention():
    rng = np.random.default_rng(3)
    q, k, v = (Tensor(rng.standard_normal((2, n, 3)), requires_grad=True) for n in (6, 6, 6))
    for causal in (False, True):
        assert gradcheck(lambda q, k, v: flash_attention(q, k, v, causal, None, 4), [q, k, v]), (
            f"flash_attention (is_causal={causal}) backward disagrees with finite differences: check "
            "D = Σ dO·O, dS = p·(dP − D)·scale, and that dQ adds up over key blocks")
    data = [rng.standard_normal((2, 2, 37, 8)).astype(np.float32) for _ in range(3)]
    grads = []
    for fn in (lambda *t: flash_attention(*t, is_causal=True, block_size=8),
               lambda *t: scaled_dot_product_attention(*t, is_causal=True)):
        leaves = [Tensor(d, requires_grad=True) for d in data]
        out = fn(*leaves)
        out.sum().backward()
        grads.append([out.data] + [t.grad.data for t in leaves])
    for name, a, b in zip(("output", "dQ", "dK", "dV"), *grads):
        assert np.abs(a - b).max() < 1e-5, (
            f"{name} of the blocked attention differs from module 12's by {np.abs(a - b).max():.1e}: check the "
            "rescaling of ℓ and acc by exp(m − m') when a block raises the running maximum")
    print("✅ flash attention: gradcheck (causal and not), equal to module 12 across 5 key blocks")


test_unit_flash_attention()

# %%
#| test
from tinytorch.core.tensor import default_generator as package_generator  # the stream dropout() draws from
from tinytorch.core.tensor import manual_seed
from tinytorch.text.attention import merge_heads, scaled_dot_product_attention_reference, split_heads


def test_unit_fused_causal_attention():
    rng = np.random.default_rng(6)
    qkv = Tensor(rng.standard_normal((2, 7, 12)), requires_grad=True)

    def textbook(t, p):  # module 12's CausalSelfAttention between c_attn and c_proj
        q, k, v = (split_heads(part, 2) for part in t.split(4, dim=2))
        return merge_heads(scaled_dot_product_attention_reference(q, k, v, dropout_p=p, is_causal=True))

    for p in (0.0, 0.3):
        results = []
        for fn in (lambda t: FusedCausalAttention.apply(t, 2, p, package_generator()), lambda t: textbook(t, p)):
            qkv.grad = None
            manual_seed(1)
            out = fn(qkv)
            out.backward(Tensor(np.cos(np.arange(out.data.size)).reshape(out.shape)))
            results.append((out.data, qkv.grad.data))
        (out, grad), (ref, ref_grad) = results
        assert np.abs(out - ref).max() < 1e-10, (
            f"dropout {p}: the one-node output differs from module 12's composition by {np.abs(out - ref).max():.1e}: "
            "q, k, v are thirds 0, 1, 2 of the packed projection, heads split as (B, T, H, D) -> (B, H, T, D)")
        assert np.abs(grad - ref_grad).max() < 1e-10, (
            f"dropout {p}: dqkv differs from autograd's by {np.abs(grad - ref_grad).max():.1e}: dQ, dK, dV go to "
            "thirds 0, 1, 2 of one (B, T, 3E) gradient")

    def seeded(t):
        manual_seed(2)
        return FusedCausalAttention.apply(t, 2, 0.3, package_generator())
    assert gradcheck(seeded, [qkv]), "the one-node attention's backward disagrees with finite differences"
    print("✅ one-node causal attention: equal to module 12's composition (with and without dropout), gradcheck")


test_unit_fused_causal_attention()

# %% [markdown]
# What the one node buys in the GPT's block (`B=12, T=64, E=128, H=4`): forward + backward of the
# package's `CausalSelfAttention` on its default path and under `use_fused(False)` (module 12's
# composition), in alternation. The matmuls of `c_attn` and `c_proj` are the same in both.

# %%
#| analysis
from tinytorch.systems import acceleration as package
from tinytorch.text.attention import CausalSelfAttention

manual_seed(0)
attention_block = CausalSelfAttention(128, 4)
block_input = Tensor(_rng.standard_normal((12, 64, 128)).astype(np.float32), requires_grad=True)
block_times = {True: [], False: []}
for i in range(14):
    enabled = i % 2 == 0
    with package.use_fused(enabled):
        block_times[enabled].append(
            time_function(lambda: attention_block(block_input).sum().backward(), warmup=0, repeats=1).median_ms)
fused_block, textbook_block = (sorted(block_times[k])[3] for k in (True, False))
print(f"attention block forward + backward: module 12's composition {textbook_block:.2f} ms, one fused node "
      f"{fused_block:.2f} ms ({textbook_block / fused_block:.2f}x)")

# %% [markdown]
# **Memory and time against the sequence length.** Module 12's kernel keeps `(T, T)` per head;
# the blocked one a `(T, 64)` block at a time. It does more arithmetic — backward recomputes
# every block's scores — so at short lengths, where the `T × T` matrices fit in the cache anyway,
# it is slower; past a few hundred tokens the smaller working set wins on time too. That
# crossing, measured, is `FLASH_FROM`: the GPT takes the blocked kernel for sequences of 256
# tokens and more (`benchmarks/attention_memory.py` measures the same at T up to 2,048).

# %%
#| analysis
from tinytorch.systems.profiling import MemoryProfiler


def attention_cost(fn, length: int) -> tuple[float, float]:
    """(peak MB above the inputs, median ms) of causal attention forward + backward, 4 heads of 64."""
    data = [_rng.standard_normal((1, 4, length, 64)).astype(np.float32) for _ in range(3)]

    def step():
        leaves = [Tensor(d, requires_grad=True) for d in data]
        fn(*leaves).sum().backward()
    memory = MemoryProfiler()  # module 14: tracemalloc's peak above the start of the span
    with memory.measure("attention"):
        step()
    return memory.peak_memory_mb, time_function(step, repeats=3).median_ms


lengths = [64, 128, 256, 512, 1024]
costs = {"module 12": [attention_cost(lambda *t: scaled_dot_product_attention(*t, is_causal=True), n)
                       for n in lengths],
         "blocked": [attention_cost(lambda *t: flash_attention(*t, is_causal=True), n) for n in lengths]}
print(f"{'T':>6}{'module 12 MB':>14}{'blocked MB':>12}{'ratio':>8}{'module 12 ms':>14}{'blocked ms':>12}")
for i, n in enumerate(lengths):
    (m12, t12), (mb, tb) = costs["module 12"][i], costs["blocked"][i]
    print(f"{n:>6}{m12:>14.1f}{mb:>12.1f}{m12 / mb:>7.1f}x{t12:>14.1f}{tb:>12.1f}")
plot_lines("attention_memory_vs_length", lengths, {k: [c[0] for c in v] for k, v in costs.items()},
           xlabel="sequence length T", ylabel="peak MB (forward + backward)",
           title="Causal attention memory: (T, T) probabilities vs key blocks", logx=True, logy=True)

# %% [markdown]
# ### Kernel 4 — AdamW in place, one cache-sized block at a time
#
# Module 06's `AdamW.step` already updates in place with a reused scratch array, but each of its
# ten or so NumPy operations is a full pass over the parameter: for the 65×128 and 128×512
# matrices of the GPT, each pass streams the parameter, the gradient and the two moments through
# memory again. The fused step does all ten operations on one 64K-element block before moving
# to the next, so the block stays in the L2 cache across them; the arithmetic — and its order,
# which is PyTorch's — is unchanged, so the result is identical to module 06's, bit for bit.

# %%
#| export
def adamw_step_(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray, step: int,
                lr: float, beta1: float, beta2: float, eps: float, weight_decay: float) -> None:
    """One AdamW update of one parameter at its step `step` (counted from 1), in place, block by block.

    param, exp_avg, exp_avg_sq: C-contiguous arrays of one shape (updated); grad: the same shape.
    """
    if not (param.flags.c_contiguous and exp_avg.flags.c_contiguous and exp_avg_sq.flags.c_contiguous):
        raise ValueError("adamw_step_: param, exp_avg and exp_avg_sq must be C-contiguous (they are updated "
                         "through flat views)")
    if grad.shape != param.shape:
        raise ValueError(f"adamw_step_: grad has shape {grad.shape}, param {param.shape}")
    p, m, v = param.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1)
    g = np.ascontiguousarray(grad).reshape(-1)
    bias_correction1, bias_correction2 = 1 - beta1 ** step, 1 - beta2 ** step
    # Hint: a work array of BLOCK elements; per block b: p[b] *= 1 - lr·weight_decay (if nonzero);
    #       m[b] = β1·m[b] + (1−β1)·g[b]; v[b] = β2·v[b] + (1−β2)·g[b]²; work = sqrt(v[b]) /
    #       sqrt(bias_correction2) + eps; work = m[b] / work · (lr / bias_correction1); p[b] -= work.
    #       The same operations in the same order as module 06's Adam.step, all with out=.
    ### BEGIN SOLUTION
    scratch = np.empty(min(BLOCK, p.size), dtype=p.dtype)
    decay = 1 - lr * weight_decay
    for part in blocks(p.size):
        pb, gb, mb, vb = p[part], g[part], m[part], v[part]
        work = scratch[:pb.size]
        if weight_decay != 0:
            pb *= decay
        mb *= beta1
        mb += np.multiply(gb, 1 - beta1, out=work)
        vb *= beta2
        np.multiply(gb, gb, out=work)
        work *= 1 - beta2
        vb += work
        np.sqrt(vb, out=work)
        np.divide(work, bias_correction2 ** 0.5, out=work)
        work += eps
        np.divide(mb, work, out=work)
        work *= lr / bias_correction1
        pb -= work
    ### END SOLUTION


# %%
#| test
# Modules 06-13 ask the package's switch: this notebook's own use_fused sets another module's global.
from tinytorch.core.layers import Parameter
from tinytorch.core.optimizers import AdamW
from tinytorch.systems import acceleration as package


def test_unit_adamw_step():
    rng = np.random.default_rng(4)
    start = rng.standard_normal(150_000).astype(np.float32)  # three blocks, the last one partial
    gradients = [rng.standard_normal(start.shape).astype(np.float32) for _ in range(3)]
    p, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for step, g in enumerate(gradients, 1):
        adamw_step_(p, g, m, v, step, 1e-2, 0.9, 0.99, 1e-8, 0.1)
    reference = Parameter(start.copy())
    optimizer = AdamW([reference], lr=1e-2, betas=(0.9, 0.99), weight_decay=0.1)
    with package.use_fused(False):  # module 06's own update, not this kernel
        for g in gradients:
            reference.grad = Tensor(g)
            optimizer.step()
    assert np.array_equal(p, reference.data), (
        f"adamw_step_ should repeat module 06's update operation by operation (largest difference "
        f"{np.abs(p - reference.data).max():.1e}): decay first, then m, v, the denominator and the step")
    print("✅ blocked AdamW: bit-identical to module 06's AdamW over three steps")


test_unit_adamw_step()

# %%
#| analysis
def adamw_ms(enabled: bool, sizes=(8_320, 49_152, 16_384, 65_536, 65_536) * 4) -> float:
    """Median ms of one AdamW step over parameters of the GPT's sizes (E=128), fused or not."""
    params = [Parameter(_rng.standard_normal(n).astype(np.float32)) for n in sizes]
    for p in params:
        p.grad = Tensor(_rng.standard_normal(p.shape).astype(np.float32))
    optimizer = AdamW(params, lr=1e-3, weight_decay=0.1)
    with package.use_fused(enabled):
        return time_function(optimizer.step, repeats=9).median_ms


print(f"AdamW step over 0.8M parameters (the GPT's shapes): module 06 {adamw_ms(False):.2f} ms, "
      f"blocked {adamw_ms(True):.2f} ms")

# %% [markdown]
# ### Kernel 5 — LayerNorm forward and backward in one Function
#
# Module 13 derived LayerNorm's backward, `dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂))` with
# `g = dy ⊙ γ` and `r = 1/σ`, and then let autograd apply it through a composition of Tensor
# ops: a mean, a subtraction, a square, a mean, a square root, a division, the affine part —
# each a graph node with a saved input and a full-size temporary, and a backward that walks them
# all, nine times per GPT step. The fused kernel writes the closed form directly. Forward keeps
# only `x̂` and `r` (one float per row); the row means and the column sums of `dγ`, `dβ` are
# matrix-vector products, which BLAS does in one pass even over short rows of 128.

# %%
#| export
class FusedLayerNorm(Function):
    """Normalise over the last `dims` axes of x, then y = x̂·weight + bias (weight, bias may be None).

    Works on x as a matrix of rows (one row = the `dims` trailing axes flattened), keeps x̂ and 1/σ.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, dims: int, eps: float):
        n = int(np.prod(x.shape[x.ndim - dims:]))
        rows = x.reshape(-1, n)
        w = None if weight is None else weight.reshape(n)
        b = None if bias is None else bias.reshape(n)
        average = np.full(n, 1.0 / n, dtype=x.dtype)  # rows @ average = the mean of each row
        # Hint: per row: mean = rows @ average; xhat = rows - mean[:, None]; var = mean of xhat²
        #       (np.einsum("ij,ij->i", xhat, xhat) / n, biased); invstd = 1 / sqrt(var + eps);
        #       xhat *= invstd[:, None]; out = xhat * w + b (a copy of xhat without w, no add
        #       without b). Save xhat and invstd for backward: ctx.save_for_backward(xhat, invstd).
        ### BEGIN SOLUTION
        mean = rows @ average
        xhat = rows - mean[:, None]
        var = np.einsum("ij,ij->i", xhat, xhat) / n
        invstd = 1.0 / np.sqrt(var + eps)
        xhat *= invstd[:, None]
        out = xhat.copy() if w is None else xhat * w
        if b is not None:
            out += b
        ctx.save_for_backward(xhat, invstd)
        ### END SOLUTION
        ctx.shape, ctx.w, ctx.average = x.shape, w, average
        ctx.param_shape = None if weight is None else weight.shape
        return out.reshape(x.shape).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output):
        xhat, invstd = ctx.saved_tensors
        w, average = ctx.w, ctx.average
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dy = grad_output.reshape(xhat.shape)
        column_sum = np.ones(xhat.shape[0], dtype=xhat.dtype)  # column_sum @ M sums M's rows
        # Hint: dγ = column_sum @ (dy * xhat) and dβ = column_sum @ dy (sums over all rows);
        #       g = dy * w (a copy of dy without w); dx = invstd[:, None] * (g - mean(g) - xhat * mean(g * xhat))
        #       with the means taken per row (M @ average). Reshape dx to ctx.shape, dγ and dβ to
        #       ctx.param_shape. Return None for what is not needed.
        ### BEGIN SOLUTION
        grad_x = grad_w = grad_b = None
        dy_xhat = dy * xhat
        if need_w:
            grad_w = (column_sum @ dy_xhat).reshape(ctx.param_shape)
        if need_b:
            grad_b = (column_sum @ dy).reshape(ctx.param_shape)
        if need_x:
            g = dy.copy() if w is None else dy * w
            if w is not None:
                dy_xhat *= w  # now g * xhat
            mean_g, mean_gx = g @ average, dy_xhat @ average
            g -= mean_g[:, None]
            g -= np.multiply(xhat, mean_gx[:, None], out=dy_xhat)
            g *= invstd[:, None]
            grad_x = g.reshape(ctx.shape)
        ### END SOLUTION
        return grad_x, grad_w, grad_b, None, None


def fused_layer_norm(x: Tensor, weight: Tensor | None, bias: Tensor | None, dims: int, eps: float) -> Tensor:
    """LayerNorm over the last `dims` axes as one node (module 13's layer_norm asks for it, after checking
    its arguments): x (*, *S), weight and bias S or None -> x's shape."""
    return FusedLayerNorm.apply(x, weight, bias, dims, eps)

# %%
#| test
from tinytorch.text.transformers import layer_norm_composed


def test_unit_fused_layer_norm():
    rng = np.random.default_rng(5)
    for shape, affine, bias in (((5,), True, True), ((3, 4), True, False), ((4,), False, False)):
        x = Tensor(rng.standard_normal((2, 3, *shape)) * 3 + 1, requires_grad=True)
        params = [Tensor(rng.standard_normal(shape), requires_grad=True) for _ in range(affine + bias)]
        weight, shift = (params + [None, None])[:2] if affine else (None, None)
        fused = fused_layer_norm(x, weight, shift, len(shape), 1e-5)
        plain = layer_norm_composed(x, weight, shift, len(shape), 1e-5)
        assert np.abs(fused.data - plain.data).max() < 1e-12, (
            f"LayerNorm{shape}: the fused forward differs from module 13's composition; mean and (biased) "
            "variance per row, eps inside the square root")
        assert gradcheck(lambda t, *ps: fused_layer_norm(t, weight, shift, len(shape), 1e-5), [x, *params]), (
            f"LayerNorm{shape} (affine={affine}, bias={bias}): the fused backward disagrees with finite "
            "differences: dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, means per row")
    print("✅ fused LayerNorm: equal to module 13's composition, gradcheck with and without weight and bias")


test_unit_fused_layer_norm()

# %% [markdown]
# What the fusion buys, on the GPT's residual stream — and what the GPT step runs nine times:

# %%
#| analysis
stream = _rng.standard_normal((768, 128)).astype(np.float32)  # the GPT's residual stream, (B·T, E)
gain, shift = Tensor(np.ones(128, np.float32)), Tensor(np.zeros(128, np.float32))
composed_ms = forward_backward_ms(lambda t: layer_norm_composed(t, gain, shift, 1, 1e-5), stream)
fused_ms = forward_backward_ms(lambda t: fused_layer_norm(t, gain, shift, 1, 1e-5), stream)
print(f"LayerNorm on (768, 128), forward + backward: {composed_ms:.2f} ms from module 13's Tensor ops, "
      f"{fused_ms:.2f} ms fused ({composed_ms / fused_ms:.1f}x); a GPT step runs it 9 times")

# %% [markdown]
# ## Wiring the kernels into the package
#
# A kernel in a notebook speeds up nothing. The package's GPT uses these kernels **by default**:
# module 13's `MLP` asks for `fused_gelu`, its `layer_norm` for `fused_layer_norm`, `GPT.forward`
# for `softmax_cross_entropy`, module 12's `CausalSelfAttention` for `fused_causal_attention` (the
# one-node kernel, the blocked one from `FLASH_FROM` tokens), and module 06's `AdamW.step` for
# `adamw_step_` — and so does `Adam.step` without weight decay, where Adam and AdamW are the same
# update (the CNN benchmark's Adam step went from ~3.2 to ~2.0 ms). They all ask through one function,
# module 06's `accelerated(name, *args)`, which returns `NotImplemented` — "take your plain
# path" — in exactly three cases:
#
# ```
#   module 16 not exported yet          (a learner at module 13: the package has no systems.acceleration)
#   use_fused(False) is active          (the switch above: an honest before/after)
#   the kernel is still a stub          (it raises NotImplementedError before touching its arguments)
# ```
#
# Earlier modules cannot import this one at import time (it comes later in the course), so
# `accelerated` imports it when called, once. A stub raising before any work matters: a fused
# AdamW that had half-updated a parameter before giving up could not fall back safely.
#
# The same model, the same batch, fused and unfused, in alternation — and the same gradients:

# %%
#| analysis
from tinytorch.core.tensor import manual_seed
from tinytorch.text.transformers import GPT, GPTConfig

manual_seed(0)
gpt = GPT(GPTConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65, dropout=0.0, bias=False))
gpt_optimizer = AdamW(gpt.optimizer_groups(0.1), lr=1e-3, betas=(0.9, 0.99))
tokens_in, tokens_out = (Tensor(_rng.integers(0, 65, (12, 64))) for _ in range(2))


def gpt_step():
    gpt_optimizer.zero_grad()
    _, loss = gpt(tokens_in, tokens_out)
    loss.backward()
    gpt_optimizer.step()


def gpt_gradients(enabled: bool) -> dict:
    gpt.zero_grad()
    with package.use_fused(enabled):
        _, loss = gpt(tokens_in, tokens_out)
        loss.backward()
    return {name: p.grad.data.copy() for name, p in gpt.named_parameters()}


fused_grads, plain_grads = gpt_gradients(True), gpt_gradients(False)
worst = max(np.abs(fused_grads[n] - plain_grads[n]).max() / (np.abs(plain_grads[n]).max() + 1e-12)
            for n in plain_grads)
step_times = {True: [], False: []}
for i in range(10):
    enabled = i % 2 == 0
    with package.use_fused(enabled):
        step_times[enabled].append(time_function(gpt_step, warmup=0, repeats=1).median_ms)
fused_ms, plain_ms = (sorted(step_times[k])[2] for k in (True, False))
print(f"GPT training step (4 layers, n_embd 128, batch 12 x 64): fused {fused_ms:.1f} ms, unfused {plain_ms:.1f} ms "
      f"({plain_ms / fused_ms:.2f}x); gradients agree to {worst:.1e} (relative)")
print("benchmarks/gpt_step.py measures the same step with 30 repeats, a per-layer profile and PyTorch's ratio")

# %% [markdown]
# The unfused step is the textbook one: modules 12 and 13 compose attention and LayerNorm from
# Tensor ops and let autograd derive the backward, so the ratio printed above is what this
# module's kernels buy over that composition. It is smaller than the kernels' own speed-ups: at
# this size a large share of the step is matrix multiplication (about 4 GFLOP), which fusion does
# not touch. What fusion removed is the elementwise and bookkeeping share — attention's twenty
# nodes and three full-size slice gradients, LayerNorm's dozen nodes nine times, GELU's second
# erf, the cross-entropy's two nodes; the blocked AdamW is measured above for what it is (often
# no faster: each parameter here is small enough to sit in L2 anyway).

# %% [markdown]
# ### The allocator: memory the mathematics never asked for
#
# Fusion removes passes over memory; the allocator can add them back behind your back. glibc's
# `malloc` serves large requests (by default from 128 KiB, adjusted as the program runs) straight
# from the operating system with `mmap`, and gives them back with `munmap` when they are freed.
# The next training step asks again, and the kernel hands out fresh pages — each one
# page-faulted and zero-filled on first touch. A GPT step allocates a few hundred NumPy
# temporaries, many over a megabyte, so that bookkeeping is a visible share of the step.
# `keep_freed_memory()` tells malloc (through `mallopt`, on Linux with glibc; elsewhere it does
# nothing and returns False) to serve blocks up to 256 MiB from its own heap and to keep freed
# memory for reuse. The 2017 milestone and `benchmarks/gpt_step.py` call it first.

# %%
#| export
def keep_freed_memory(mmap_threshold: int = 256 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the OS.

    Blocks up to mmap_threshold bytes come from malloc's heap (not fresh mmap pages), and the heap
    is only trimmed once trim_threshold bytes are free. Returns True if applied (Linux with glibc),
    False elsewhere (nothing changes). Affects the whole process; NumPy's many large temporaries
    then reuse warm pages instead of page-faulting fresh ones every step.
    """
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, int(mmap_threshold))) and bool(
        libc.mallopt(m_trim_threshold, int(trim_threshold)))

# %%
#| analysis
import platform

if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
    libc = ctypes.CDLL("libc.so.6")
    timings = {"return blocks to the OS": [], "keep_freed_memory()": []}
    for i in range(12):
        if i % 2 == 0:  # glibc's starting point: every block from 128 KiB is mmap-ed and unmapped on free
            libc.mallopt(-3, 128 << 10)
            libc.mallopt(-1, 128 << 10)
            libc.malloc_trim(0)
        else:
            keep_freed_memory()
        gpt_step()  # let the heap settle into this policy
        timings[list(timings)[i % 2]].append(time_function(gpt_step, warmup=0, repeats=1).median_ms)
    for label, values in timings.items():
        print(f"{label:<26} median step {sorted(values)[len(values) // 2]:6.1f} ms")
else:
    print(f"keep_freed_memory() does nothing on {platform.system()} (it tunes glibc's malloc only)")

# %% [markdown]
# ## Part II — Convolutions at the speed of the machine

# %% [markdown]
# Module 09 turned a convolution into one matrix multiply: `cols = im2col(pad(x))`, then
# `y = W @ cols`. It is the clear version, and it is slow in a way the FLOP count does not
# explain: on the benchmark CNN (`benchmarks/cnn_step.py`: four 3x3 convs and two max pools on
# 3x32x32 images, batch 64, Adam) most of a training step is *not* matmul. It is copies: padding,
# im2col in forward, `cols` kept alive for backward, col2im in backward, transposes between the
# `(O, N·OH·OW)` matmul layout and the `(N, O, OH, OW)` tensor layout, each a full pass over
# megabytes. The analysis below measures it phase by phase on your machine.
#
# This part makes the same mathematics fast by changing only *where the numbers sit in memory*:
#
# 1. **Channel-major working layout.** Copy the padded input once into `(C, N, hp·wp)` —
#    channels first, each padded image flattened. Then each tap's slice is `(C, N, …)` already,
#    `cols` comes out as `(C, kh, kw, N, OH, row)`, which *is* the `(K, N·OH·row)` matrix, and
#    no transpose is needed anywhere in im2col or col2im.
# 2. **Wrap-around rows (stride 1).** A tap's slice is `OH` rows of `OW` values, each row a
#    separate short copy. In the flattened padded image, the values tap `(p, q)` multiplies for
#    row `i` start `wp` elements after those for row `i−1`. So take `OH·wp` consecutive values:
#    one long contiguous copy, whose rows are `wp` long. The last `wp − OW` entries of each row
#    are windows that wrap around the right edge — garbage that we compute and then drop (2 extra
#    columns for a 3x3 kernel with padding 1: 6% more FLOPs at width 32, for copies up to twice
#    as fast). The last taps read `d·(kw−1)` elements past the end, so each image gets that much
#    zero slack.
#
#    ```
#    padded image, flattened (wp = 7):   a b c d e f g | h i j k l m n | o p ...
#    tap (0,1), wrapped rows of length 7: b c d e f g h | i j k l m n o | ...
#                                         └ OW=5 valid ┘ └ garbage (wraps to the next row)
#    ```
# 3. **Blocks of images.** The whole-batch `cols` of the second conv is 75 MB. Writing it and
#    reading it back streams through main memory; a block of a few images keeps its `cols` in the
#    CPU caches. Backward *rebuilds* a block's `cols` (a cache-speed copy) instead of keeping 75 MB
#    per layer alive between forward and backward: less memory *and* less time.
# 4. **Reused scratch memory.** A fresh multi-megabyte array arrives from the operating system as
#    new pages, mapped and zeroed on first touch; dozens per step cost as much as the copies they
#    hold. Block temporaries live in a per-thread `Workspace` reused from block to block and step
#    to step. Only a layer's output (and its input gradient) is a new array.
# 5. **No ufunc buffering.** col2im adds each tap's block into a strided view (`view += block`).
#    NumPy feeds a ufunc over non-contiguous arrays whose contiguous runs are shorter than its
#    8192-element buffer *through* that buffer, copying every element twice more. Our runs are
#    long (`OH·wp` per image), so `_unbuffered` shrinks the buffer below the run length for the
#    loop (which turns buffering off), and `_merge_rows` hands NumPy each image's wrapped rows as
#    one 3-D run.
# 6. **Which operand BLAS sees first.** `W @ cols` with `O = 32` output channels is a thin
#    product: 32 rows against thousands of columns. The same numbers multiplied as
#    `colsᵀ @ Wᵀ` — transposed *views*, nothing is copied — let OpenBLAS tile the long side
#    instead, and the output comes out as `(n, OH, row, O)`. Measured on one thread: about 70
#    GFLOP/s one way, about 95 the other, for the benchmark's second conv. The transposed result
#    costs a strided write into `(n, O, OH, OW)`, so it only pays when `K` is large enough; for the
#    first conv (`K = 27`) the plain order stays faster. The analysis below times both orders.
# 7. **No im2col at all (stride 1).** Choices 1–6 make the copies cheap; the last one removes
#    them. BLAS can read a window of a wider array as a matrix, so with the padding shared
#    between images every tap's input is already a matrix, and the convolution is one product
#    per tap, accumulated. It has its own section below, after the threads: it calls the BLAS
#    directly, through the same `ctypes` handle.
#
# The package takes this path: module 09's `conv2d` calls `accelerated("fast_conv2d", ...)`
# (module 06's one switch for every fast path, described with Part I's wiring) and falls back
# to its own `Conv2dFunction` when the answer is `NotImplemented` — under `use_fused(False)`, or
# while this part is still a stub (`conv_forward_block` raises before anything is written).

# %%
#| export
import math  # noqa: E402
import threading  # noqa: E402

from tinytorch.core.autograd import Function  # noqa: E402  (Part I imports it too; each part stands alone)
from tinytorch.core.spatial import Geometry  # noqa: E402

_BLOCK_BYTES = 4 << 20  # target size of one block's cols + output (choice 3)
_UNBUFFERED = 256  # ufunc buffer size (elements) that turns NumPy's buffering off (choice 5)
# From this many rows of cols (C*kh*kw), the forward product runs as colsᵀ·Wᵀ (choice 6): measured
# faster for the benchmark's 32- and 64-channel 3x3 convs (K = 288, 576), slower for its first (K = 27).
TRANSPOSED_FROM_K = 64


class Workspace(threading.local):
    """Scratch arrays reused from block to block and step to step (one set per thread).

    An array from get() is valid until the next get() of the same name: never return one to a caller.
    """

    def __init__(self) -> None:
        self.buffers: dict = {}

    def get(self, name: str, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised array of `shape`, backed by the buffer `name` (grown when too small)."""
        dtype, size = np.dtype(dtype), math.prod(shape)
        buffer = self.buffers.get((name, dtype))
        if buffer is None or buffer.size < size:
            buffer = self.buffers[(name, dtype)] = np.empty(size, dtype=dtype)
        return buffer[:size].reshape(shape)

    def clear(self) -> None:
        """Give the memory back (it is allocated again on the next use)."""
        self.buffers.clear()


workspace = Workspace()


def wraps(g: Geometry) -> bool:
    """Whether g uses wrap-around rows (stride 1 in both directions)."""
    return g.sh == 1 and g.sw == 1


def row_length(g: Geometry) -> int:
    """Length of one output row in the working layout: wp when wrapping (garbage included), else ow."""
    return g.wp if wraps(g) else g.ow


def plane_length(g: Geometry) -> int:
    """Length of one padded image in the working layout: hp*wp, plus slack the last taps read."""
    return g.hp * g.wp + (g.dw * (g.kw - 1) if wraps(g) else 0)


@contextlib.contextmanager
def _unbuffered(g: Geometry):
    """Inside this block, ufuncs on g's tap views run without NumPy's internal buffering (choice 5)."""
    run = g.oh * g.wp if wraps(g) else (g.ow if g.sw == 1 else 0)
    if run < _UNBUFFERED:
        yield
        return
    with np.errstate():  # NumPy 2 scopes the buffer size to this context; restore it explicitly for 1.x
        old = np.setbufsize(_UNBUFFERED)
        try:
            yield
        finally:
            np.setbufsize(old)


def _merge_rows(a: np.ndarray, g: Geometry) -> np.ndarray:
    """A tap view or cols block (A, B, OH, row) as (A, B, OH*row) when wrapping (always a view), else a."""
    if not wraps(g):
        return a
    merged = a.reshape(a.shape[0], a.shape[1], -1)
    assert np.may_share_memory(merged, a), "_merge_rows must return a view"
    return merged


def pad_flat(x: np.ndarray, g: Geometry, fill: float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
    """(n, C, H, W) -> the padded, flattened, channel-major working layout (C, n, plane), in `out` if given."""
    shape = (g.c, x.shape[0], plane_length(g))
    flat = np.empty(shape, dtype=x.dtype) if out is None else out
    grid = flat[:, :, :g.hp * g.wp].reshape(shape[0], shape[1], g.hp, g.wp)
    # Only the border and the slack get `fill` (the interior is overwritten next): a whole-array
    # fill would write every element twice.
    rows = slice(g.top, g.top + g.h)
    grid[:, :, :g.top] = fill
    grid[:, :, g.top + g.h:] = fill
    grid[:, :, rows, :g.left] = fill
    grid[:, :, rows, g.left + g.w:] = fill
    flat[:, :, g.hp * g.wp:] = fill
    grid[:, :, rows, g.left:g.left + g.w] = x.transpose(1, 0, 2, 3)
    return flat


def unpad_flat(flat: np.ndarray, g: Geometry) -> np.ndarray:
    """The unpadded (C, n, H, W) view of a working-layout array (C, n, plane): pad_flat's inverse."""
    grid = flat[:, :, :g.hp * g.wp].reshape(flat.shape[0], flat.shape[1], g.hp, g.wp)
    return grid[:, :, g.top:g.top + g.h, g.left:g.left + g.w]


def flat_tap(flat: np.ndarray, g: Geometry, i: int, j: int) -> np.ndarray:
    """View (C, n, oh, row) of the working-layout values that kernel tap (i, j) meets."""
    a, b = flat.shape[:2]
    if wraps(g):  # OH rows of length wp, one contiguous run per image
        start = i * g.dh * g.wp + j * g.dw
        return flat[:, :, start:start + g.oh * g.wp].reshape(a, b, g.oh, g.wp)
    grid = flat[:, :, :g.hp * g.wp].reshape(a, b, g.hp, g.wp)
    r0, c0 = i * g.dh, j * g.dw
    return grid[:, :, r0:r0 + g.sh * (g.oh - 1) + 1:g.sh, c0:c0 + g.sw * (g.ow - 1) + 1:g.sw]


def im2col_flat(flat: np.ndarray, g: Geometry, out: np.ndarray | None = None) -> np.ndarray:
    """Working layout (C, n, plane) -> cols (C*kh*kw, n*oh*row), written into `out` when given."""
    channels, n = flat.shape[:2]
    # Hint: the same loop over taps as module 09's im2col, without its transpose: shape the
    #       result (channels, g.kh, g.kw, n, g.oh, row_length(g)) (np.empty, or `out` reshaped),
    #       copy flat_tap(flat, g, i, j) into [:, i, j], return it as a (K, n*oh*row) view.
    ### BEGIN SOLUTION
    shape = (channels, g.kh, g.kw, n, g.oh, row_length(g))
    table = np.empty(shape, dtype=flat.dtype) if out is None else out.reshape(shape)
    for tap_row in range(g.kh):
        for tap_col in range(g.kw):
            table[:, tap_row, tap_col] = flat_tap(flat, g, tap_row, tap_col)
    return table.reshape(channels * g.kh * g.kw, n * g.oh * row_length(g))
    ### END SOLUTION


def col2im_flat(cols: np.ndarray, g: Geometry, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """Adjoint of im2col_flat: (C*kh*kw, n*oh*row) -> working layout (C, n, plane), overlaps summed."""
    # Hint: zero the result ((g.c, n, plane_length(g)), or `out`); view cols as
    #       (g.c, g.kh, g.kw, n, g.oh, row_length(g)); inside `with _unbuffered(g):` add each tap's
    #       block into flat_tap(...) with +=, passing both sides through _merge_rows(..., g).
    ### BEGIN SOLUTION
    grad_flat = np.empty((g.c, n, plane_length(g)), dtype=cols.dtype) if out is None else out
    grad_flat.fill(0)
    table = cols.reshape(g.c, g.kh, g.kw, n, g.oh, row_length(g))
    with _unbuffered(g):
        for tap_row in range(g.kh):
            for tap_col in range(g.kw):
                target = _merge_rows(flat_tap(grad_flat, g, tap_row, tap_col), g)
                target += _merge_rows(table[:, tap_row, tap_col], g)
    return grad_flat
    ### END SOLUTION


def blocks_of_images(n: int, bytes_per_image: int, budget: int | None = None) -> list[tuple[int, int]]:
    """[(start, stop), ...] ranges of the n images, as many per range as fit in budget bytes
    (default _BLOCK_BYTES; at least one image per range)."""
    step = max(1, min(n, (_BLOCK_BYTES if budget is None else budget) // max(bytes_per_image, 1)))
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def image_blocks(g: Geometry, out_channels: int, itemsize: int) -> list[tuple[int, int]]:
    """[(start, stop), ...] image ranges whose cols (C*kh*kw rows) and output (O rows) fit in _BLOCK_BYTES."""
    return blocks_of_images(g.n, (g.c * g.kh * g.kw + out_channels) * g.oh * row_length(g) * itemsize)


def conv_forward_block(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry,
                       groups: int, out: np.ndarray) -> None:
    """Convolve a block of images x (n, C, H, W) into out (n, O, OH, OW), in place, with workspace arrays."""
    n, out_channels = x.shape[0], weight.shape[0]
    k, length = g.c * g.kh * g.kw, n * g.oh * row_length(g)
    # Hint: flat = pad_flat(x, g, out=workspace.get("flat", ...)); cols = im2col_flat(flat, g,
    #       out=workspace.get("cols", (k, length), ...)); one batched np.matmul of the weight as
    #       (groups, O/groups, k/groups) with cols as (groups, k/groups, length), into
    #       workspace.get("y", ...); view it (O, n, oh, row), drop the garbage columns [..., :g.ow],
    #       transpose to (n, O, oh, ow) and write it into out, adding the bias on the way.
    #       Faster for thin layers (groups == 1, k >= TRANSPOSED_FROM_K): the same product as
    #       colsᵀ · Wᵀ (np.matmul(cols.T, w.T): views, no copies) into a (length, O) buffer,
    #       viewed (n, oh, row, O), garbage dropped, transposed (0, 3, 1, 2) into out.
    ### BEGIN SOLUTION
    flat = pad_flat(x, g, out=workspace.get("flat", (g.c, n, plane_length(g)), x.dtype))
    cols = im2col_flat(flat, g, out=workspace.get("cols", (k, length), x.dtype))
    if groups == 1 and k >= TRANSPOSED_FROM_K:
        product = np.matmul(cols.T, weight.reshape(out_channels, k).T,
                            out=workspace.get("yT", (length, out_channels), x.dtype))
        valid = product.reshape(n, g.oh, row_length(g), out_channels)[:, :, :g.ow, :].transpose(0, 3, 1, 2)
    else:
        grouped = weight.reshape(groups, out_channels // groups, k // groups)
        product = np.matmul(grouped, cols.reshape(groups, k // groups, length),
                            out=workspace.get("y", (groups, out_channels // groups, length), x.dtype))
        valid = product.reshape(out_channels, n, g.oh, row_length(g))[:, :, :, :g.ow].transpose(1, 0, 2, 3)
    if bias is None:
        out[...] = valid
    else:
        np.add(valid, bias.reshape(out_channels, 1, 1), out=out)
    ### END SOLUTION


def conv_backward_block(x: np.ndarray, weight: np.ndarray, grad_out: np.ndarray, g: Geometry, groups: int,
                        need_weight: bool, need_input: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(dL/dweight from these images, dL/dx (n, C, H, W)) for a block; None where not needed.

    dx is a view into the workspace: copy it before the next block.
    """
    n, out_channels = x.shape[0], weight.shape[0]
    k, length = g.c * g.kh * g.kw, n * g.oh * row_length(g)
    # Hint: dy in the working layout (O, n, oh, row) from the workspace, with ZEROS in the garbage
    #       columns (they must add nothing) and grad_out transposed in the first g.ow; rebuild cols
    #       as forward did; dW^T = cols . dy^T (the memory order BLAS prefers), transposed back;
    #       dcols = W^T . dy into the workspace, col2im_flat it, unpad_flat, transpose to (n, C, H, W).
    ### BEGIN SOLUTION
    grad_y = workspace.get("dy", (out_channels, n, g.oh, row_length(g)), x.dtype)
    grad_y[:, :, :, g.ow:] = 0
    grad_y[:, :, :, :g.ow] = grad_out.transpose(1, 0, 2, 3)
    grad_y = grad_y.reshape(groups, out_channels // groups, length)
    grad_weight = grad_x = None
    if need_weight:
        flat = pad_flat(x, g, out=workspace.get("flat", (g.c, n, plane_length(g)), x.dtype))
        cols = im2col_flat(flat, g, out=workspace.get("cols", (k, length), x.dtype)).reshape(groups, k // groups,
                                                                                           length)
        grad_weight = np.matmul(cols, grad_y.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(weight.shape)
    if need_input:
        grouped = weight.reshape(groups, out_channels // groups, k // groups)
        grad_cols = np.matmul(grouped.transpose(0, 2, 1), grad_y,
                              out=workspace.get("dcols", (groups, k // groups, length), x.dtype))
        grad_flat = col2im_flat(grad_cols.reshape(k, length), g, n,
                                out=workspace.get("dflat", (g.c, n, plane_length(g)), x.dtype))
        grad_x = unpad_flat(grad_flat, g).transpose(1, 0, 2, 3)
    return grad_weight, grad_x
    ### END SOLUTION


# %% [markdown]
# ### Threads: one owner for the cores
#
# The blocks of images are independent work, and NumPy lets go of the interpreter lock inside
# large copies, ufuncs and BLAS calls — so half the images can go to a second Python thread.
# We built that and measured the benchmark step on two cores (`benchmarks/cnn_step.py --threads 2`:
# median of 8 steps per process, 3 alternating rounds; PyTorch took 89–94 ms in the same runs):
#
# | images | OpenBLAS | CNN step |
# |---|---|---|
# | all on the calling thread | 2 threads | 131 ms |
# | split over 2 Python threads | 1 thread while they run, 2 otherwise | 153 ms |
# | split over 2 Python threads | 1 thread always, large matmuls split too | 103 ms |
#
# The middle row is *slower* than not splitting at all — a classic of systems work:
# **oversubscription**. After a product, OpenBLAS's helper thread does not go to sleep; it *spins*
# on its core for about a tenth of a second, waiting for the next product (an analysis below
# catches it doing so). A worker started meanwhile shares that core with a thread doing nothing.
# Two thread pools that do not know each other fight over the same cores: a framework needs *one*
# owner for them. PyTorch's is its OpenMP pool, which its BLAS shares.
#
# Ours is this module's pool, from the moment the module is imported (module 06's `accelerated()`
# imports it the first time a fast path is asked for, so in practice at the first conv or
# optimizer step):
#
# - OpenBLAS is told to run each product on the thread that calls it, so its helper never wakes;
# - `set_num_threads(n)` / `get_num_threads()` — PyTorch's names — set and read the *pool's*
#   size, which starts at what OpenBLAS had (`OPENBLAS_NUM_THREADS`, else the machine's cores);
# - the kernels that carry the work split it over the pool themselves: a convolution and a max
#   pool by images (below), and every large matrix product of the package by rows or columns —
#   `parallel_matmul`, which module 01's `matmul_arrays` (Tensor `@`, Linear, autograd) calls
#   once this module has installed it.
#
# The last row is what that gives. The GPT step (`benchmarks/gpt_step.py --threads 2`) lost
# nothing: 57–62 ms with the pool, 63–66 ms with OpenBLAS's threads. And PyTorch, which that
# benchmark runs *in the same process*, went from 112–120 ms to 39–43 ms: OpenBLAS's spinning
# helper had been taking a core from PyTorch's own threads.
#
# Not everything pays to split. The fused GELU's blocks are shared out (`split_blocks`), but
# splitting the GPT's attention core by sequences and its LayerNorms by rows made its step
# slower (in-process A/B, 12 rounds: 62.3 ms with those splits, 56.5 ms without). Those kernels
# are many short NumPy calls on arrays of a few hundred KB; between the calls a thread needs the
# interpreter lock, and a worker starts about 0.1 ms after it is handed its task — as long as
# some of those calls take. Our reading: the lock hand-offs and start-ups eat what the second
# core gives. A thread pays when its share is one long call that lets go of the lock — a BLAS
# product, a large ufunc or copy: two halves of a (2048, 512) @ (512, 1024) product take 11.4 ms
# on two threads against 22.3 ms whole, while a (256, 128) @ (128, 128) one takes 0.22 ms split
# against 0.11 whole (`SPLIT_FROM_MULTIPLY_ADDS` below has the table).
#
# The price of one owner: a NumPy product *you* write (`a @ b`) now runs on one core; call
# `parallel_matmul(a, b)` for all of them. Where OpenBLAS cannot be found (another BLAS, which
# keeps its own threads), the pool starts at one thread, so there is still one owner.

# %%
#| export
# Multiply-adds from which a product is split over the pool: a split costs about 0.2 ms (the
# worker starts ~0.1 ms after it is handed its half, and the caller waits for it). Measured on 2
# cores, float32, one thread against two: 4.2M multiply-adds 0.11 against 0.22 ms, 12.6M 0.27
# against 0.26-0.30, 37.7M 0.83 against 0.52 ms (1.6x), 1,074M 22.3 against 11.4 ms (1.95x).
SPLIT_FROM_MULTIPLY_ADDS = 1 << 24


def blas_readable(a: np.ndarray) -> bool:
    """Whether BLAS can read the 2-D array a as it lies: each row contiguous, rows a whole number of
    elements and at least a row apart (a window of columns of a C-ordered array is)."""
    item, (rows, columns), (between_rows, between_columns) = a.itemsize, a.shape, a.strides
    contiguous = columns <= 1 or between_columns == item
    return contiguous and (rows <= 1 or (between_rows % item == 0 and between_rows >= columns * item))


def row_stride(a: np.ndarray) -> int:
    """A blas_readable array's row stride in elements: BLAS's leading dimension (at least 1 and a row)."""
    return max(a.strides[0] // a.itemsize, a.shape[1], 1)


def _blas_operand(x: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """(matrix, transposed) for gemm_into: x itself if BLAS can read its rows, x.T (transposed) if its
    columns — a weight.T view, say — else None."""
    for matrix, transposed in ((x, False), (x.T, True)):
        if blas_readable(matrix):
            return matrix, transposed
    return None


def parallel_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """np.matmul(a, b, out=out), as one tall product where it can be, split over the pool when it is large.

    Shapes follow np.matmul. For a (m, k) — or a C-contiguous (..., m, k), taken as one tall
    (rows, k) matrix, or (1, m, k) with b (1, k, n) — times b (k, n), one float32 or float64 dtype:

    - a tall a is one product, not np.matmul's batch of small ones (a Linear on (batch, time,
      features): measured 1.3-1.6x faster for (12, 64, k) @ (k, n) at the GPT's sizes, one thread);
    - from SPLIT_FROM_MULTIPLY_ADDS multiply-adds, with a pool of two threads or more, its rows or
      columns (whichever are more) are split over the pool, each thread making one BLAS call on
      its window (gemm_into: no copies, a transposed view passed as a BLAS flag).

    Anything else is one np.matmul call, which also raises NumPy's own error for shapes that do
    not multiply.
    """
    one_group = (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == b.ndim == 3
                 and a.shape[0] == b.shape[0] == 1)
    if one_group and (out is None or (isinstance(out, np.ndarray) and out.ndim == 3 and len(out) == 1)):
        product = parallel_matmul(a[0], b[0], None if out is None else out[0])  # one group (module 09's conv)
        return product[None] if out is None else out
    if (not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray) or b.ndim != 2 or a.ndim < 2
            or a.dtype != b.dtype or not gemm_available(a.dtype) or a.shape[-1] != b.shape[0] or not a.shape[-1]
            or (a.ndim > 2 and not a.flags.c_contiguous)):
        return np.matmul(a, b, out=out)
    rows = a.reshape(-1, a.shape[-1])  # a view: a is C-contiguous when it has batch axes
    (m, k), n = rows.shape, b.shape[1]
    shape = a.shape[:-1] + (n,)
    if out is not None and (not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != a.dtype
                            or not out.flags.c_contiguous or np.may_share_memory(out, a)
                            or np.may_share_memory(out, b)):
        return np.matmul(a, b, out=out)  # NumPy checks it, and buffers an overlapping out
    left, right = _blas_operand(rows), _blas_operand(b)
    if (_thread_count < 2 or m * n * k < SPLIT_FROM_MULTIPLY_ADDS or max(m, n) < _thread_count
            or left is None or right is None):
        if a.ndim == 2:
            return np.matmul(a, b, out=out)
        product = np.matmul(rows, b, out=None if out is None else out.reshape(m, n))  # one tall product
        return product.reshape(shape) if out is None else out
    if out is None:
        out = np.empty(shape, dtype=a.dtype)
    (left, t_left), (right, t_right), product = left, right, out.reshape(m, n)

    def part(start: int, stop: int) -> None:
        if m >= n:  # rows start..stop of op(left), all of op(right)
            piece = left[:, start:stop] if t_left else left[start:stop]
            gemm_into(piece, right, product[start:stop], False, t_left, t_right)
        else:
            piece = right[start:stop] if t_right else right[:, start:stop]
            gemm_into(left, piece, product[:, start:stop], False, t_left, t_right)
    over_runs(max(m, n), part)
    return out


install_matmul_kernel(parallel_matmul)


# %% [markdown]
# ### Choice 7 — shifted matmuls: a stride-1 convolution without im2col
#
# im2col copies the input `kh·kw` times so that one matmul sees every tap, and col2im adds `kh·kw`
# copies back. Both exist only because a matmul wants its operand as one matrix. But a BLAS matrix
# is less than a NumPy array: a pointer, a number of rows and columns, and a **leading
# dimension** — how far apart two rows start. Any window of columns `flat[:, s:s+L]` of a wider
# array is a matrix as it stands: its rows are contiguous, they start `flat.shape[1]` elements
# apart, and BLAS reads it with no copy.
#
# So lay the batch out so that *every tap's input is one such window*. Stack the images into one
# tall image whose padding is **shared**: the zero rows under one image are the top padding of the
# next, and the zero columns at the end of each row are the left padding of the next row (the
# wrap-around rows of choice 2, taken across images too). Flattened, the input that tap `(i, j)`
# meets for output position `q` sits at `q + i·d·width + j·d`: the whole batch's input for that
# tap is `flat[:, offset : offset + L]`. Then
#
#     y = Σ over taps t of  W[:, :, i, j] @ flat[:, offset_t : offset_t + L]          (O, C)·(C, L)
#
# — `kh·kw` matmuls with inner dimension `C`, accumulated into one output, and no `cols` at all.
# Backward turns the same windows around. `dL/dx` is a scatter-add — each tap's `W_tᵀ @ dy` added
# into its window of a zeroed `(C, total)` buffer — which is col2im done by the matmuls' own
# output writes. `dL/dW_t = dy @ windowᵀ` has the opposite shape, `(O, L)·(L, C)`: tiny outputs,
# a huge inner dimension, and each of the nine products repacks all of `dy`. Measured on one
# thread, nine of them ran at about 50 GFLOP/s for the 32 → 32 conv; building `cols` block by
# block in the cache (nine window copies each) and doing one `(kh·kw·C, L)·(L, O)` product per
# block was 15–20% faster, so `dL/dW` keeps im2col, in the cache.
#
# Two things NumPy cannot do make this work, and `gemm_into` below does them with one call into
# the BLAS NumPy already loaded (`ctypes`, like `set_num_threads`): **accumulate** — BLAS computes
# `C = α·A·B + β·C`, and `β = 1` adds each tap's product into `y` where `np.matmul` would need a
# temporary and an extra pass to add it — and **write into a window**, `out=flat[:, s:s+L]`,
# which `np.matmul` refuses. The garbage positions (the shared padding) cost 6% more FLOPs at
# 32x32 and 13% at 16x16, about what choice 2 paid.
#
# ```
# tall image, flattened (width = w + 1):  pad | a b c 0 | d e f 0 | g h i 0 | 0 0 0 0 | j k l 0 | ...
#                                                 image 0 (3 rows)          shared row  image 1
# tap (0, 0) of a 3x3 kernel, padding 1, reads the same positions one row and one column earlier.
# ```
#
# It applies where the windows line up — stride 1, one group. Strided and grouped convolutions
# keep the blocked path, and so does the rare padding wider than the kernel reaches, for which
# the output would not fit in its image's rows (`shifted_layout` returns `None`). A product per
# tap needs enough channels: the first conv (`C = 3`) would multiply `(32, 3)` matrices, far too
# thin for BLAS. Below `TAPS_FROM_CHANNELS` the windows are copied, a block of images at a time,
# into `cols` — im2col, but now nine long contiguous copies out of the shared layout — and one
# product with inner dimension `kh·kw·C` does the work; its `dL/dx` adds each tap's rows of
# `dcols` back into its window.
#
# **Blocks again, this time for every pass.** Nine products over the whole batch each stream the
# whole output `y` through memory — read and written once per tap — and the passes around them
# (the pad of `dy`, the copy of `y` into the output, the zeroing and the copy-out of `dL/dx`)
# stream it again. So the kernel goes through the batch a few whole images at a time:
# `window_products` runs all nine taps' products on one block of columns, small enough
# (`_WINDOW_BLOCK_BYTES`) that the block's output and input windows stay in the L2 cache for all
# nine; forward copies each finished block into the output while it is still there, with the
# bias already in it (filling `y` with the bias before the products add is a contiguous write,
# half the cost of adding it in the gapped copy); backward pads one block of `dy`, uses it for
# `dL/dW`, `dL/dx` and `dL/dbias`, and copies out each image of `dL/dx` as soon as no later
# block can add to it (`finished_images`). The blocks must be whole images and a little care is
# needed at their seams: a block's taps write `dL/dx` up to `offsets[-1]` columns past its end,
# so the buffer is zeroed just ahead of each block, not all at once. Forward also keeps the
# padded input it built (`shifted_input`) for backward instead of `x`: one pad per conv per step
# instead of two, for an array about 10% larger than `x`. Blocking only pays once the per-call
# cost is gone too — `gemm_into` checks its arguments (about 7 µs a call), so `window_products`
# checks once and then calls the BLAS directly, hundreds of times per conv. Measured in the
# benchmark step (one thread, alternating processes): 145 → 134 ms for these changes together.

# %%
#| export
from typing import NamedTuple  # noqa: E402

_CBLAS_ROW_MAJOR, _CBLAS_NO_TRANS, _CBLAS_TRANS = 101, 111, 112  # the values cblas.h gives these enums
SHIFTED_MATMULS = True  # stride-1, one-group convs take choice 7 (False: the blocked path, for comparisons)
# Input channels from which y and dL/dx take one product per tap; below, a tap's product is too thin
# for BLAS (C rows or an inner dimension of C) and one product with each block's cols (kh·kw·C rows)
# is faster. Measured: the benchmark's first conv (C = 3) forward 6.4 -> 3.9 ms with cols, its dL/dx
# 7.0 -> 2.7 ms; its C = 32 and 64 convs are faster with taps.
TAPS_FROM_CHANNELS = 16


def _cblas_gemm(library, prefix: str):
    """library's cblas_{prefix}gemm ('s': float32, 'd': float64) with its argument types set, or None."""
    if library is None:
        return None
    for name, integer in ((f"scipy_cblas_{prefix}gemm64_", ctypes.c_int64), (f"cblas_{prefix}gemm64_", ctypes.c_int64),
                          (f"cblas_{prefix}gemm", ctypes.c_int)):
        function = getattr(library, name, None)
        if function is not None:
            scalar, pointer = (ctypes.c_float if prefix == "s" else ctypes.c_double), ctypes.c_void_p
            function.argtypes = ([ctypes.c_int] * 3 + [integer] * 3
                                 + [scalar, pointer, integer, pointer, integer, scalar, pointer, integer])
            function.restype = None
            return function
    return None


_GEMM = {np.dtype(np.float32): _cblas_gemm(_openblas, "s"), np.dtype(np.float64): _cblas_gemm(_openblas, "d")}


def gemm_available(dtype) -> bool:
    """Whether gemm_into can call the BLAS for this dtype (float32 or float64, with OpenBLAS found)."""
    return _GEMM.get(np.dtype(dtype)) is not None


def _leading_dimension(a: np.ndarray, name: str) -> int:
    """The row stride of a 2-D view in elements (what BLAS calls its leading dimension); rows must be contiguous."""
    if not isinstance(a, np.ndarray) or a.ndim != 2:
        raise ValueError(f"gemm_into: {name} must be a 2-D NumPy array, got {type(a).__name__} "
                         f"of shape {getattr(a, 'shape', None)}")
    if not blas_readable(a):
        raise ValueError(f"gemm_into: {name} must have contiguous rows (a window of columns of a C-ordered "
                         f"array), got shape {a.shape} with strides {a.strides}")
    return row_stride(a)


def gemm_into(a: np.ndarray, b: np.ndarray, out: np.ndarray, accumulate: bool,
              transpose_a: bool = False, transpose_b: bool = False) -> None:
    """out = op(a) @ op(b), or out += op(a) @ op(b) when accumulate: one BLAS call, no copy, no temporary.

    op(a) is a.T when transpose_a, else a (likewise b); op(a) is (m, k), op(b) (k, n), out (m, n).
    Each of a, b, out is a 2-D array with contiguous rows and any row stride at least its row
    length — a window of columns `flat[:, s:s+L]` is a matrix as it is. All three share one dtype
    (float32 or float64: see gemm_available). out must not overlap a or b.
    """
    lda, ldb, ldc = (_leading_dimension(a, "a"), _leading_dimension(b, "b"), _leading_dimension(out, "out"))
    m, k = a.shape[::-1] if transpose_a else a.shape
    k_b, n = b.shape[::-1] if transpose_b else b.shape
    if k != k_b or out.shape != (m, n) or not a.dtype == b.dtype == out.dtype:
        raise ValueError(f"gemm_into: {a.shape}{'ᵀ' if transpose_a else ''} @ {b.shape}{'ᵀ' if transpose_b else ''}"
                         f" -> {out.shape} with dtypes {a.dtype}, {b.dtype}, {out.dtype} is not a matrix product "
                         f"(expected out of shape ({m}, {n}), inner dimensions equal, one dtype)")
    function = _GEMM.get(out.dtype)
    if function is None:
        raise ValueError(f"gemm_into: no BLAS gemm for dtype {out.dtype} in this process (float32 and float64 "
                         "with OpenBLAS only); ask gemm_available(dtype) first")
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        raise ValueError("gemm_into: out overlaps an operand; BLAS would read values it has already overwritten")
    if m and n:
        function(_CBLAS_ROW_MAJOR, _CBLAS_TRANS if transpose_a else _CBLAS_NO_TRANS,
                 _CBLAS_TRANS if transpose_b else _CBLAS_NO_TRANS, m, n, k, 1.0, a.ctypes.data, lda,
                 b.ctypes.data, ldb, 1.0 if accumulate else 0.0, out.ctypes.data, ldc)


class ShiftedLayout(NamedTuple):
    """Where n images of one stride-1 conv sit in the shifted-matmul layout (channels, total).

    Each image has `rows` rows of `width` values (its own h x w, then the shared zero rows and
    columns); the images follow each other after `lead` zeros, and `total` leaves room for the
    last tap's window. Output position q (garbage included, `length` of them) reads its tap t
    input at flat[:, q + offsets[t]].
    """

    rows: int
    width: int
    lead: int
    length: int
    total: int
    offsets: tuple


def shifted_layout(g: Geometry, n: int) -> ShiftedLayout | None:
    """The layout of n images of geometry g, or None where shifted windows do not apply (stride > 1, ...)."""
    if not wraps(g):
        return None
    rows, width = g.h + max(g.top, g.bottom), g.w + max(g.left, g.right)
    if g.oh > rows or g.ow > width:  # padding beyond the kernel's reach: the output overflows its image
        return None
    lead = g.top * width + g.left  # the first image's top and left padding
    offsets = tuple(i * g.dh * width + j * g.dw for i in range(g.kh) for j in range(g.kw))
    length = n * rows * width
    return ShiftedLayout(rows, width, lead, length, lead + length + offsets[-1], offsets)


def shifted_block(x: np.ndarray, layout: ShiftedLayout, out: np.ndarray) -> np.ndarray:
    """Copy images x (k, C, h, w) into out (C, k·rows·width), image after image, zeros in every gap.

    x may be smaller than the layout's images (dy is (oh, ow)): whatever it does not fill is zero.
    Returns out, the block's output positions in the shifted layout.
    """
    k, channels, height, width = x.shape
    images = out.reshape(channels, k, layout.rows, layout.width)
    images[:, :, height:, :] = 0  # only what x does not overwrite next: a whole fill writes twice
    images[:, :, :height, width:] = 0
    images[:, :, :height, :width] = x.transpose(1, 0, 2, 3)
    return out


def shifted_pad(x: np.ndarray, layout: ShiftedLayout, out: np.ndarray) -> np.ndarray:
    """Copy images x (n, C, h, w) into out (C, layout.total) in the shifted layout, zeros elsewhere.

    Returns out's window of output positions, out[:, lead : lead + length]. Each pool thread
    copies its own run of images (choice 8); the margins, which border two runs, are zeroed here.
    """
    out[:, :layout.lead] = 0
    out[:, layout.lead + layout.length:] = 0
    window, per_image = out[:, layout.lead:layout.lead + layout.length], layout.rows * layout.width
    over_runs(x.shape[0], lambda start, stop: shifted_block(x[start:stop], layout,
                                                            window[:, start * per_image:stop * per_image]))
    return window


def shifted_input(x: np.ndarray, layout: ShiftedLayout) -> np.ndarray:
    """A new (C, layout.total) array holding images x (n, C, h, w) in the shifted layout.

    Forward pads its input into one of these and saves it for backward, whose dL/dW reads the
    same windows: one pad per conv per step instead of two, for an array ~10% larger than x.
    """
    flat = np.empty((x.shape[1], layout.total), dtype=x.dtype)
    shifted_pad(x, layout, flat)
    return flat


def shifted_images(window: np.ndarray, layout: ShiftedLayout, height: int, width: int) -> np.ndarray:
    """The (k, C, height, width) view of the k images in a window (C, k·rows·width): shifted_block's inverse."""
    channels, per_image = window.shape[0], layout.rows * layout.width
    k = window.shape[1] // per_image
    return window.reshape(channels, k, layout.rows, layout.width)[:, :, :height, :width].transpose(1, 0, 2, 3)


def column_blocks(n: int, layout: ShiftedLayout, rows: int, itemsize: int,
                  budget: int | None = None) -> list[tuple[int, int]]:
    """[(first, size), ...] ranges of output positions, whole images each, whose `rows` values per
    position (the block's cols, or its output and input rows) fit in budget bytes (default _BLOCK_BYTES)."""
    per_image = layout.rows * layout.width
    budget = _BLOCK_BYTES if budget is None else budget
    return [(start * per_image, (stop - start) * per_image)
            for start, stop in blocks_of_images(n, rows * per_image * itemsize, budget)]


def finished_images(layout: ShiftedLayout, height: int, width: int, n: int, below: int) -> int:
    """How many of the n images (height x width) lie wholly in the layout's columns before `below`."""
    span = layout.lead + (height - 1) * layout.width + width  # where the first image's last value ends, +1
    return max(0, min(n, (below - span) // (layout.rows * layout.width) + 1))


def window_cols(flat: np.ndarray, layout: ShiftedLayout, first: int, size: int, out: np.ndarray) -> np.ndarray:
    """cols (taps·C, size) of output positions first .. first+size: each tap's window, stacked, in `out`."""
    for tap, offset in enumerate(layout.offsets):
        out[tap] = flat[:, first + offset:first + offset + size]
    return out.reshape(-1, size)


# Columns per block of window_products: a block's output rows and input window together take about
# this many bytes, so both stay in the L2 cache for all kh·kw taps. Measured on the benchmark's convs
# (batch 64, one thread): 4,096 columns (C = O = 32) and 2,048 (C = O = 64) were the fastest blocks;
# the whole length at once, as one product per tap, was 4-30% slower.
_WINDOW_BLOCK_BYTES = 1 << 20


def window_products(weights: np.ndarray, source: np.ndarray, source_offsets, out: np.ndarray, out_offsets,
                    length: int, transpose_weights: bool, accumulate_first: bool) -> None:
    """For each tap t and q < length: out[:, out_offsets[t] + q] (+)= op(weights[t]) @ source[:, source_offsets[t] + q].

    weights (taps, M, K) — or (taps, K, M) with transpose_weights — is C-contiguous; source (K, ·)
    and out (M, ·) have contiguous rows (a window of columns of a C-ordered array will do); all
    three share one dtype, and out is apart from both. Tap 0 overwrites its window of out unless
    accumulate_first (then every tap must share one out offset: the window it overwrites is the
    one the others add to); every other tap adds. The columns go in blocks whose out and source windows
    stay in the cache for all the taps: out is then read and written once per block, not once per
    tap, and one gemm_into-style check covers every BLAS call.
    """
    taps = len(source_offsets)
    if not (isinstance(weights, np.ndarray) and weights.ndim == 3 and weights.shape[0] == taps == len(out_offsets)):
        raise ValueError(f"window_products: weights must be a (taps, rows, cols) array with one matrix per offset "
                         f"({taps} source and {len(out_offsets)} out offsets), got shape "
                         f"{getattr(weights, 'shape', None)}")
    m, k = (weights.shape[2], weights.shape[1]) if transpose_weights else weights.shape[1:]
    for name, array, rows, offsets in (("source", source, k, source_offsets), ("out", out, m, out_offsets)):
        if not (isinstance(array, np.ndarray) and array.ndim == 2 and len(array) == rows and blas_readable(array)):
            raise ValueError(f"window_products: {name} must be a 2-D array with {rows} contiguous rows, got shape "
                             f"{getattr(array, 'shape', None)} with strides {getattr(array, 'strides', None)}")
        if length < 0 or min(offsets) < 0 or max(offsets) + length > array.shape[1]:
            raise ValueError(f"window_products: {name}'s windows (offsets {min(offsets)}..{max(offsets)}, length "
                             f"{length}) do not fit in its {array.shape[1]} columns")
    if not accumulate_first and len(set(out_offsets)) > 1:
        raise ValueError(f"window_products: with accumulate_first=False every tap needs the same out offset (the "
                         f"first product overwrites the window the others add to), got {tuple(out_offsets)}")
    function = _GEMM.get(out.dtype)
    if function is None or not (weights.flags.c_contiguous and weights.dtype == source.dtype == out.dtype):
        raise ValueError(f"window_products: weights, source and out must share one dtype that has a BLAS gemm, and "
                         f"weights must be C-contiguous; got {weights.dtype}, {source.dtype}, {out.dtype}")
    if np.may_share_memory(out, source) or np.may_share_memory(out, weights):
        raise ValueError("window_products: out overlaps an operand; BLAS would read values it has already overwritten")
    item = out.itemsize
    block = max(256, _WINDOW_BLOCK_BYTES // ((m + k) * item))
    w_address, s_address, o_address = weights.ctypes.data, source.ctypes.data, out.ctypes.data
    matrix_bytes, lda, ldb, ldc = m * k * item, weights.shape[2], row_stride(source), row_stride(out)
    order = _CBLAS_TRANS if transpose_weights else _CBLAS_NO_TRANS
    for first in range(0, length, block):
        size = min(block, length - first)
        for tap in range(taps):
            beta = 1.0 if tap or accumulate_first else 0.0
            function(_CBLAS_ROW_MAJOR, order, _CBLAS_NO_TRANS, m, size, k, 1.0, w_address + tap * matrix_bytes, lda,
                     s_address + (source_offsets[tap] + first) * item, ldb, beta,
                     o_address + (out_offsets[tap] + first) * item, ldc)


def _tap_weights(weight: np.ndarray) -> np.ndarray:
    """weight (O, C, kh, kw) as kh·kw contiguous (O, C) matrices, one per tap, row-major over (i, j)."""
    return np.ascontiguousarray(weight.transpose(2, 3, 0, 1)).reshape(-1, weight.shape[0], weight.shape[1])


def _cols_weights(weight: np.ndarray) -> np.ndarray:
    """weight (O, C, kh, kw) as one (O, kh·kw·C) matrix whose columns follow window_cols' rows."""
    return np.ascontiguousarray(weight.transpose(0, 2, 3, 1)).reshape(weight.shape[0], -1)


def shifted_conv_forward(flat: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry,
                         layout: ShiftedLayout, out: np.ndarray | None = None) -> np.ndarray:
    """y (n, O, oh, ow) of a stride-1, one-group conv: kh·kw windowed matmuls accumulated into one output.

    flat (C, layout.total) is the input in the shifted layout, as shifted_input(x, layout) makes it
    (or a window of columns of a larger one). y goes into `out` when it is given, else a new array.
    """
    out_channels, taps, dtype = weight.shape[0], len(layout.offsets), flat.dtype
    n, per_image = layout.length // (layout.rows * layout.width), layout.rows * layout.width
    # Hint: go through the output positions a block of whole images at a time, so that the block's
    #       products and its copy into the output meet in the cache. From TAPS_FROM_CHANNELS input
    #       channels: for (first, size) in column_blocks(n, layout, out_channels + g.c, itemsize,
    #       _WINDOW_BLOCK_BYTES), y = workspace.get("shift_y", (out_channels, size), dtype) gets every
    #       tap's W_t · flat[:, first + offset_t : first + offset_t + size], the first overwriting, the
    #       rest adding: window_products(_tap_weights(weight), flat, [first + o for o in layout.offsets],
    #       y, (0,) * taps, size, transpose_weights=False, accumulate_first=False). Below it, blocks of
    #       column_blocks(n, layout, taps * g.c, itemsize): cols = window_cols(flat, layout, first, size,
    #       workspace.get("shift_cols", (taps, g.c, size), dtype)) and one gemm_into of the weight as
    #       (O, kh·kw·C) — ordered (O, kh, kw, C), like cols' rows — into y. With a bias, fill y with
    #       it first (bias.reshape(O, 1)) and let the first product add (accumulate) too. Either way the
    #       block's images are out[first // per_image : (first + size) // per_image] = shifted_images(y,
    #       layout, g.oh, g.ow), out the given array or a new (n, O, oh, ow) one.
    ### BEGIN SOLUTION
    thin = g.c < TAPS_FROM_CHANNELS
    matrices = _cols_weights(weight) if thin else _tap_weights(weight)
    blocks = (column_blocks(n, layout, taps * g.c, dtype.itemsize) if thin
              else column_blocks(n, layout, out_channels + g.c, dtype.itemsize, _WINDOW_BLOCK_BYTES))
    out = np.empty((n, out_channels, g.oh, g.ow), dtype=dtype) if out is None else out
    for first, size in blocks:
        y = workspace.get("shift_y", (out_channels, size), dtype)
        if bias is not None:  # the products add onto it: a contiguous fill is 2x cheaper than adding
            y[...] = bias.reshape(out_channels, 1)  # the bias during the copy below, row by gapped row
        if thin:
            cols = window_cols(flat, layout, first, size, workspace.get("shift_cols", (taps, g.c, size), dtype))
            gemm_into(matrices, cols, y, accumulate=bias is not None)
        else:
            window_products(matrices, flat, [first + offset for offset in layout.offsets], y, (0,) * taps, size,
                            transpose_weights=False, accumulate_first=bias is not None)
        out[first // per_image:(first + size) // per_image] = shifted_images(y, layout, g.oh, g.ow)
    return out
    ### END SOLUTION


def shifted_conv_backward(flat: np.ndarray, weight: np.ndarray, grad_out: np.ndarray, g: Geometry,
                          layout: ShiftedLayout, need_weight: bool, need_input: bool,
                          need_bias: bool = False, grad_input: np.ndarray | None = None
                          ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(dL/dweight, dL/dx, dL/dbias) of shifted_conv_forward(flat, ...) for grad_out (n, O, oh, ow); None
    where not needed. dL/dx (n, C, h, w) goes into `grad_input` when it is given, else a new array."""
    out_channels, taps, dtype = weight.shape[0], len(layout.offsets), flat.dtype
    n, per_image = layout.length // (layout.rows * layout.width), layout.rows * layout.width
    # Hint: one pass over blocks of whole images, (first, size) in column_blocks(n, layout,
    #       taps * g.c + out_channels, itemsize), so each block of dy is padded, used and dropped
    #       while it is in the cache:
    #       grad_y = shifted_block(grad_out[first // per_image : (first + size) // per_image], layout,
    #       workspace.get("shift_dy", (out_channels, size), dtype)) — its garbage positions are ZERO.
    #       dL/dW: cols = window_cols(flat, layout, first, size, ...) as in forward, and gemm_into(cols,
    #       grad_y, grad_taps, accumulate=True, transpose_b=True) into a zeroed (taps·C, O) array;
    #       at the end reshape it (kh, kw, C, O) and transpose to (O, C, kh, kw).
    #       dL/dx: a (C, layout.total) buffer gets each tap's W_tᵀ · grad_y added into its window at
    #       first + offset_t. Zero the buffer only up to where this block writes (first + size +
    #       layout.offsets[-1]) just before it. From TAPS_FROM_CHANNELS: window_products(_tap_weights(
    #       weight), grad_y, (0,) * taps, buffer, [first + o for o in layout.offsets], size,
    #       transpose_weights=True, accumulate_first=True); below it, dcols = (O, kh·kw·C)ᵀ · grad_y
    #       (gemm_into with transpose_a), then add each tap's rows into its window of the buffer.
    #       Later blocks write only from first + size on, so finished_images(layout, g.h, g.w, n,
    #       first + size) images are final: copy them out with shifted_images(buffer[:, lead + i·per_image
    #       : ...]) into grad_input (or a new (n, C, h, w) array); after the last block, zero the rest
    #       and copy the rest.
    #       dL/dbias: each block's grad_y summed over its positions (axis 1), while it is in the cache.
    ### BEGIN SOLUTION
    thin = g.c < TAPS_FROM_CHANNELS
    grad_taps = np.zeros((taps * g.c, out_channels), dtype=dtype) if need_weight else None
    grad_bias = np.zeros(out_channels, dtype=dtype) if need_bias else None
    grad_x = (np.empty((n, g.c, g.h, g.w), dtype=dtype) if grad_input is None else grad_input) if need_input else None
    grad_flat = workspace.get("shift_dx", (g.c, layout.total), dtype) if need_input else None
    matrices = (_cols_weights(weight) if thin else _tap_weights(weight)) if need_input else None
    zeroed = copied = 0  # grad_flat is zero up to column `zeroed`; grad_x has its first `copied` images

    def copy_images(stop: int) -> None:
        """grad_x[copied:stop] from grad_flat, in whole images."""
        nonlocal copied
        if stop > copied:
            window = grad_flat[:, layout.lead + copied * per_image:layout.lead + stop * per_image]
            grad_x[copied:stop] = shifted_images(window, layout, g.h, g.w)
            copied = stop

    rows = (taps * g.c if need_weight or thin else g.c) + out_channels
    for first, size in column_blocks(n, layout, rows, dtype.itemsize):
        grad_y = shifted_block(grad_out[first // per_image:(first + size) // per_image], layout,
                               workspace.get("shift_dy", (out_channels, size), dtype))
        if need_bias:  # the garbage positions are zero: summing them adds nothing
            grad_bias += grad_y.sum(axis=1)
        if need_weight:
            cols = window_cols(flat, layout, first, size, workspace.get("shift_cols", (taps, g.c, size), dtype))
            gemm_into(cols, grad_y, grad_taps, accumulate=True, transpose_b=True)
        if need_input:
            end = first + size + layout.offsets[-1]  # this block's taps write grad_flat[:, first : end]
            grad_flat[:, zeroed:end] = 0
            zeroed = max(zeroed, end)
            if thin:
                grad_cols = workspace.get("shift_dcols", (taps * g.c, size), dtype)
                gemm_into(matrices, grad_y, grad_cols, accumulate=False, transpose_a=True)
                for tap, offset in enumerate(layout.offsets):  # col2im: each tap's rows into its window
                    grad_flat[:, first + offset:first + offset + size] += grad_cols[tap * g.c:(tap + 1) * g.c]
            else:
                window_products(matrices, grad_y, (0,) * taps, grad_flat, [first + o for o in layout.offsets],
                                size, transpose_weights=True, accumulate_first=True)
            copy_images(finished_images(layout, g.h, g.w, n, first + size))
    if need_input:
        grad_flat[:, zeroed:] = 0  # inputs no output reads (padding beyond the kernel's reach) get 0
        copy_images(n)
    if need_weight:
        grad_weight = np.ascontiguousarray(grad_taps.reshape(g.kh, g.kw, g.c, out_channels).transpose(3, 2, 0, 1))
    else:
        grad_weight = None
    return grad_weight, grad_x, grad_bias
    ### END SOLUTION


# %%
#| export
class FastConv2dFunction(Function):
    """Module 09's Conv2dFunction on the fast path (same arguments): shifted matmuls over the pool's
    threads where choice 7 applies, else block by block in the channel-major working layout."""

    @staticmethod
    def forward(ctx, x, weight, bias, g: Geometry, groups: int):
        ctx.geometry, ctx.groups = g, groups
        ctx.layout = shifted_path(x, g, groups)
        if ctx.layout is not None:  # choice 7, the images split over the pool (choice 8)
            flat = shifted_input(x, ctx.layout)
            ctx.save_for_backward(flat, weight)  # the padded input, not x: backward's dL/dW reads its windows
            return split_conv_forward(flat, weight, bias, g, ctx.layout)
        ctx.save_for_backward(x, weight)  # not cols: backward rebuilds them (choice 3)
        out = np.empty((g.n, weight.shape[0], g.oh, g.ow), dtype=x.dtype)
        for start, stop in image_blocks(g, weight.shape[0], x.dtype.itemsize):
            conv_forward_block(x[start:stop], weight, bias, g, groups, out[start:stop])
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        g, groups = ctx.geometry, ctx.groups
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if ctx.layout is not None:  # x is the padded input here (see forward)
            grad_w, grad_x, grad_b = split_conv_backward(x, weight, grad_output, g, ctx.layout, need_w, need_x, need_b)
            return grad_x, grad_w, grad_b, None, None
        grad_b = grad_output.sum(axis=(0, 2, 3)) if need_b else None
        if not (need_x or need_w):
            return None, None, grad_b, None, None
        grad_x = np.empty_like(x) if need_x else None
        grad_w = np.zeros_like(weight) if need_w else None
        for start, stop in image_blocks(g, weight.shape[0], x.dtype.itemsize):
            dw, dx = conv_backward_block(x[start:stop], weight, grad_output[start:stop], g, groups, need_w, need_x)
            if need_w:
                grad_w += dw
            if need_x:
                grad_x[start:stop] = dx
        return grad_x, grad_w, grad_b, None, None


def shifted_path(x: np.ndarray, g: Geometry, groups: int) -> ShiftedLayout | None:
    """The whole batch's shifted layout when choice 7 applies to this conv, else None (the blocked path).

    It applies with SHIFTED_MATMULS on, one group, a BLAS gemm for the dtype, and a geometry
    shifted_layout accepts (stride 1, padding within the kernel's reach).
    """
    if not SHIFTED_MATMULS or groups != 1 or not gemm_available(x.dtype):
        return None
    return shifted_layout(g, g.n)


def fast_conv2d(x, weight, bias, g: Geometry, groups: int):
    """Module 09's conv2d kernel call, on the fast path: FastConv2dFunction.apply (module 06's accelerated runs it)."""
    return FastConv2dFunction.apply(x, weight, bias, g, groups)


# %% [markdown]
# ### Choice 8 — the images split over the pool
#
# Choice 7's blocks are whole images, and no image's output reads another image's pixels:
# between two images lie at least as many zero rows as the padding, which is as far as a valid
# output reaches beyond its own image (the garbage outputs read further, but they are dropped
# in forward and carry zero gradient in backward). So the batch can be cut into one
# run of images per thread, and each run is choice 7 on a smaller batch — the *same* functions,
# given a window of columns of `flat`:
#
# - images `start .. stop` begin at column `start · rows · width` of `flat`, and from there the
#   columns look exactly like a batch of `stop - start` images (`sub_layout`), lead zeros
#   included, because the zero rows of image `start - 1` are that lead;
# - each thread has its own workspace (`Workspace` is thread-local), so its `dL/dx` buffer, its
#   padded `dy` and its `cols` are its own; `y` and `dL/dx` land in disjoint slices of one array;
# - `dL/dW` and `dL/dbias` are sums over all images: each thread returns its part's sum and the
#   caller adds them (one small array per thread). Only their float32 rounding differs from
#   one thread's result, because the additions happen in another order.
#
# Padding the input is split the same way, except for the zeros before the first image and after
# the last: the calling thread writes those, since each run's own would cover its neighbour's
# first rows.

# %%
#| export
def sub_layout(layout: ShiftedLayout, images: int) -> ShiftedLayout:
    """The layout of `images` consecutive images of `layout` (same rows, width, lead and offsets)."""
    length = images * layout.rows * layout.width
    return layout._replace(length=length, total=layout.lead + length + layout.offsets[-1])


def _images_of(layout: ShiftedLayout) -> int:
    return layout.length // (layout.rows * layout.width)


def split_conv_forward(flat: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry,
                       layout: ShiftedLayout) -> np.ndarray:
    """shifted_conv_forward(flat, weight, bias, g, layout), each pool thread convolving its own run of images."""
    per_image = layout.rows * layout.width
    out = np.empty((_images_of(layout), weight.shape[0], g.oh, g.ow), dtype=flat.dtype)

    def run(start: int, stop: int) -> None:
        sub = sub_layout(layout, stop - start)
        window = flat[:, start * per_image:start * per_image + sub.total]
        result = shifted_conv_forward(window, weight, bias, g, sub, out=out[start:stop])
        if result is not None and not np.may_share_memory(result, out[start:stop]):
            out[start:stop] = result  # a kernel that ignored `out` still gives the right answer
    over_runs(_images_of(layout), run)
    return out


def split_conv_backward(flat: np.ndarray, weight: np.ndarray, grad_out: np.ndarray, g: Geometry,
                        layout: ShiftedLayout, need_weight: bool, need_input: bool, need_bias: bool):
    """shifted_conv_backward(...), each pool thread taking its own run of images; the parts' dL/dW and
    dL/dbias are added up here."""
    per_image, n = layout.rows * layout.width, _images_of(layout)
    grad_x = np.empty((n, g.c, g.h, g.w), dtype=flat.dtype) if need_input else None

    def run(start: int, stop: int):
        sub = sub_layout(layout, stop - start)
        window = flat[:, start * per_image:start * per_image + sub.total]
        grads = shifted_conv_backward(window, weight, grad_out[start:stop], g, sub, need_weight, need_input, need_bias,
                                      grad_input=None if grad_x is None else grad_x[start:stop])
        if need_input and grads[1] is not None and not np.may_share_memory(grads[1], grad_x[start:stop]):
            grad_x[start:stop] = grads[1]  # a kernel that ignored `grad_input` still gives the right answer
        return grads
    first, *others = over_runs(n, run)
    grad_w, grad_b = first[0], first[2]  # each part's own new arrays: adding into the first is safe
    for part in others:
        if need_weight:
            grad_w += part[0]
        if need_bias:
            grad_b += part[2]
    return grad_w, grad_x, grad_b


# %% [markdown]
# ### Check and analysis: the split is one thread's answer, faster
#
# The split must not change the mathematics: `y` and `dL/dx` are the same additions in the
# same order, so they must match one thread's bit for bit; `dL/dW` and `dL/dbias` may differ
# only by float32 rounding. Then the speed: the benchmark's 32 → 32 convolution, forward and
# backward, on one thread and on every thread the pool has.

# %%
#| test
def padded_3x3(shape: tuple):
    """The geometry of a 3x3, stride-1, padding-1 conv on inputs of `shape` (n, C, h, w)."""
    from tinytorch.core.spatial import _geometry

    return _geometry(shape, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "choice 8")


def test_unit_split_conv_is_one_threads_answer():
    rng = np.random.default_rng(8)
    x, w, b = (rng.standard_normal(shape).astype(np.float32) for shape in ((5, 6, 9, 9), (4, 6, 3, 3), (4,)))
    before, results = get_num_threads(), []
    try:
        for threads in (1, 3):
            set_num_threads(threads)
            xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
            y = FastConv2dFunction.apply(xt, wt, bt, padded_3x3(x.shape), 1)
            y.backward(Tensor(np.cos(y.data)))
            results.append((y.data, xt.grad.data, wt.grad.data, bt.grad.data))
    finally:
        set_num_threads(before)
    (y1, dx1, dw1, db1), (y3, dx3, dw3, db3) = results
    assert np.array_equal(y1, y3) and np.array_equal(dx1, dx3), (
        "split over 3 threads, y or dL/dx changed: each run of images must read its own window of flat "
        "(from column start·rows·width) and write only its own slice of the output")
    assert np.allclose(dw1, dw3, rtol=1e-5, atol=1e-5) and np.allclose(db1, db3, rtol=1e-5, atol=1e-5), (
        "split over 3 threads, dL/dW or dL/dbias changed beyond rounding: every run's sum must be added once")
    print("✅ a conv split over 3 threads gives one thread's y and dL/dx bit for bit, and dL/dW, dL/dbias to rounding")


test_unit_split_conv_is_one_threads_answer()

# %%
#| analysis
def conv_step_ms(threads: int, x, w, b) -> float:
    """Median ms of one forward + backward of a padding-1 3x3 conv on `threads` pool threads."""
    before = get_num_threads()
    set_num_threads(threads)
    try:
        xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
        g = padded_3x3(x.shape)

        def step():
            y = FastConv2dFunction.apply(xt, wt, bt, g, 1)
            y.backward(Tensor(np.ones(y.shape, dtype=y.dtype)))
        return time_function(step, warmup=1, repeats=5).median_ms
    finally:
        set_num_threads(before)


_x8 = _rng.standard_normal((64, 32, 32, 32)).astype(np.float32)
_w8, _b8 = (_rng.standard_normal(shape).astype(np.float32) for shape in ((32, 32, 3, 3), (32,)))
_one = conv_step_ms(1, _x8, _w8, _b8)
print(f"32 -> 32 conv, batch 64, 32x32, forward + backward: 1 thread {_one:.1f} ms")
for _threads in range(2, get_num_threads() + 1):
    _many = conv_step_ms(_threads, _x8, _w8, _b8)
    print(f"{'':>52}{_threads} threads {_many:.1f} ms ({_one / _many:.2f}x)")
if get_num_threads() == 1:
    print("(one thread in this process: set_num_threads(2) or OPENBLAS_NUM_THREADS=2 to see the split)")

# %% [markdown]
# On the 2-core machine this was written on, three runs each: 59–72 ms on one thread, 33–42 ms
# on two (1.5–1.9x) with glibc told to keep freed memory (`keep_freed_memory()`, above), and
# 1.1–1.8x without it. Not 2x: the two threads share one memory bus and one L3 cache, and the
# calling thread alone pads the first and last zeros and adds up the runs' `dL/dW`. Without the
# allocator setting every step's multi-megabyte arrays are fresh pages from the kernel, and two
# threads touching new pages at once most likely wait for each other there — one more reason the
# benchmarks and the GPT milestone call it.


# %% [markdown]
# ### Analysis — catching OpenBLAS's threads spinning
#
# One 2-thread product, then the main thread *sleeps*. A sleeping program uses no CPU — unless
# another of its threads is busy. `time.process_time()` counts the CPU time of all the process's
# threads, so whatever it gains during the sleep is OpenBLAS's helper, spinning.

# %%
#| analysis
import time

if get_num_threads() < 2:
    print("one thread here: there is no helper thread to catch")
else:
    square = np.ones((1000, 1000), dtype=np.float32)
    for owner in ("OpenBLAS", "the pool"):
        with openblas_threads(get_num_threads()) if owner == "OpenBLAS" else contextlib.nullcontext():
            square @ square  # wakes OpenBLAS's helper thread(s), if it threads
            for nap in (0.01, 0.05, 0.2, 0.5):
                square @ square
                cpu_before = time.process_time()
                time.sleep(nap)
                used_ms = (time.process_time() - cpu_before) * 1e3
                print(f"{owner:>8} owns the cores: slept {nap * 1e3:4.0f} ms after a product, the process used "
                      f"{used_ms:6.1f} ms of CPU meanwhile")

# %% [markdown]
# On the 2-core machine this was written on, with OpenBLAS as the owner the process used the
# whole sleep in CPU time for short naps and about 105 ms for long ones: after each product the
# helper spins for about a tenth of a second before it sleeps. That is good for a program that
# calls BLAS again and again, and bad for anything else that wants the core meanwhile. With the
# pool as the owner it used next to nothing: OpenBLAS's helper never woke.

# %% [markdown]
# ### Check: the fast kernel is the same mathematics
#
# A fast wrong answer is not a result. The fast kernel must give module 09's numbers — the
# output and all three gradients — for strides, padding, dilation and groups, and pass a
# float64 finite-difference gradcheck of its own. (The padding-1 conv here takes choice 7, the
# other two the blocked path.) (`tests/16_acceleration/test_conv_fast.py`
# checks many more random shapes, the block size, and the fallback while this part is a stub.)

# %%
#| test
def test_unit_fast_conv_matches_module_09():
    from tinytorch.core.autograd import gradcheck
    from tinytorch.core.spatial import _geometry, _padding, _pair, conv2d
    from tinytorch.systems import acceleration as package  # conv2d asks the package's switch, not this notebook's

    rng = np.random.default_rng(16)
    for config in [dict(padding=1), dict(stride=2, padding=(0, 1)), dict(groups=2, dilation=(1, 2), padding=2)]:
        x = rng.standard_normal((3, 8, 7, 6))  # K = 8*3*3 = 72: the transposed product (groups=2: the batched one)
        w = rng.standard_normal((6, 8 // config.get("groups", 1), 3, 3))
        b, dy = rng.standard_normal(6), None
        results = []
        for fused in (True, False):
            xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
            with package.use_fused(fused):
                out = conv2d(xt, wt, bt, **config)
                dy = rng.standard_normal(out.shape) if dy is None else dy
                out.backward(Tensor(dy))
            results.append((out.data, xt.grad.data, wt.grad.data, bt.grad.data))
        for name, fast, plain in zip(("output", "dx", "dW", "db"), *results):
            error = np.abs(fast - plain).max()
            assert error < 1e-10, (
                f"conv2d{config}: the fast kernel's {name} differs from module 09's by {error:.3g}; check the "
                "working layout (C, n, plane), that garbage columns of dy are zero, and the block loop")
        xt, wt, bt = (Tensor(a[:1] if a is x else a, requires_grad=True) for a in (x, w, b))
        g = _geometry((1,) + x.shape[1:], (3, 3), _pair(config.get("stride", 1), "stride", "test"),
                      _padding(config.get("padding", 0), (3, 3), (1, 1), (1, 1), "test"),
                      _pair(config.get("dilation", 1), "dilation", "test"), "test")
        groups = config.get("groups", 1)
        assert gradcheck(lambda *t: FastConv2dFunction.apply(*t, g, groups), (xt, wt, bt)), (
            f"gradcheck of FastConv2dFunction failed for {config}")
    print("✅ the fast conv kernel equals module 09's output and gradients, and passes float64 gradcheck")


test_unit_fast_conv_matches_module_09()

# %% [markdown]
# ### Check: the shifted matmuls are the same mathematics too
#
# This check sends stride-1 convs through choice 7 directly — symmetric, asymmetric and no
# padding, and dilation — both ways (one product per tap, and cols for thin layers), against
# module 09's `Conv2dFunction`, and gradchecks the package's kernel on that path in float64.

# %%
#| test
def test_unit_shifted_conv_matches_module_09():
    from tinytorch.core.autograd import gradcheck
    from tinytorch.core.spatial import Conv2dFunction, _geometry

    if not gemm_available(np.float64):
        print("⚠️ no OpenBLAS gemm in this process: the shifted path is off, nothing to check")
        return
    global TAPS_FROM_CHANNELS
    saved = TAPS_FROM_CHANNELS
    rng = np.random.default_rng(7)
    try:
        for taps_from, way in ((1, "one product per tap"), (10**9, "cols")):
            TAPS_FROM_CHANNELS = taps_from  # the global shifted_conv_forward/backward read
            for padding, dilation in [((1, 1, 1, 1), (1, 1)), ((0, 2, 1, 0), (1, 1)), ((0, 0, 0, 0), (1, 1)),
                                      ((2, 2, 2, 2), (2, 2))]:
                x, w, b = (rng.standard_normal(shape) for shape in ((3, 4, 7, 6), (5, 4, 3, 3), (5,)))
                g = _geometry(x.shape, (3, 3), (1, 1), padding, dilation, "test")
                layout = shifted_layout(g, 3)
                assert layout is not None, f"shifted_layout refused padding {padding}, dilation {dilation}"
                flat = shifted_input(x, layout)
                fast = shifted_conv_forward(flat, w, b, g, layout)
                plain = Conv2dFunction.apply(Tensor(x), Tensor(w), Tensor(b), g, 1).data
                error = np.abs(fast - plain).max()
                assert error < 1e-10, (
                    f"{way}, padding {padding}, dilation {dilation}: the shifted forward differs from module 09's "
                    f"by {error:.3g}; check the tap offsets (i·dh·width + j·dw) and that shifted_pad zeroes the "
                    "padding")
                dy = rng.standard_normal(fast.shape)
                shifted_conv_backward(flat, w, -dy, g, layout, True, True)  # leaves stale values in the workspace
                dw, dx, db = shifted_conv_backward(flat, w, dy, g, layout, True, True, need_bias=True)
                xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
                Conv2dFunction.apply(xt, wt, bt, g, 1).backward(Tensor(dy))
                for name, got, want in (("dW", dw, wt.grad.data), ("dx", dx, xt.grad.data), ("db", db, bt.grad.data)):
                    error = np.abs(got - want).max()
                    assert error < 1e-10, (
                        f"{way}, padding {padding}, dilation {dilation}: the shifted {name} differs from module "
                        f"09's by {error:.3g}; dy's garbage positions must be zero, and dx sums each tap into its "
                        "window of a buffer zeroed first (the workspace still holds the last call's values)")
                small = tuple(Tensor(a, requires_grad=True) for a in (x[:1], w, b))
                g1 = _geometry((1,) + x.shape[1:], (3, 3), (1, 1), padding, dilation, "test")
                assert shifted_path(small[0].data, g1, 1) is not None, "FastConv2dFunction should take choice 7"
                assert gradcheck(lambda *t: FastConv2dFunction.apply(*t, g1, 1), small), (
                    f"gradcheck of the shifted path ({way}) failed for padding {padding}, dilation {dilation}")
    finally:
        TAPS_FROM_CHANNELS = saved
    print("✅ the shifted matmuls (per tap and with cols) equal module 09's output and gradients, "
          "and pass float64 gradcheck")


test_unit_shifted_conv_matches_module_09()

# %% [markdown]
# ### Analysis — where one conv layer's time goes, phase by phase
#
# The second conv of the benchmark network (32→32 channels, 3x3, 32x32 images), at batch 16 to
# keep the notebook quick. Each phase of a forward + backward is timed on its own (the fastest
# of a few runs), first as module 09 does it, then as the blocked kernel of choices 1–6 does it
# (summed over its blocks; choice 7, below, removes im2col and col2im from this layer altogether).

# %%
#| analysis
import time

from tinytorch.core.spatial import _geometry, col2im, im2col, pad


def best_ms(fn, repeats: int = 5) -> float:
    """Fastest wall-clock milliseconds of `repeats` calls of fn(), after one warm-up call.

    The fastest run is the one least disturbed by other programs on a busy machine. (CPU time is
    no better here: with several BLAS threads it also counts the time they spin while waiting.)
    """
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def textbook_phases(x, w, dy, g) -> dict:
    """Milliseconds of each phase of module 09's Conv2dFunction (forward and backward)."""
    o = w.shape[0]
    cols = im2col(pad(x, g), g)
    flat_w, flat_dy = w.reshape(o, -1), np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).reshape(o, -1)
    y = flat_w @ cols
    return {"pad": best_ms(lambda: pad(x, g)), "im2col": best_ms(lambda: im2col(pad(x, g), g)) -
            best_ms(lambda: pad(x, g)), "matmuls (y, dW, dcols)": best_ms(lambda: flat_w @ cols) +
            best_ms(lambda: flat_dy @ cols.T) + best_ms(lambda: flat_w.T @ flat_dy),
            "layout changes (transposes)": best_ms(lambda: np.ascontiguousarray(
                y.reshape(o, g.n, g.oh, g.ow).transpose(1, 0, 2, 3))) + best_ms(
                lambda: np.ascontiguousarray(dy.transpose(1, 0, 2, 3))),
            "col2im": best_ms(lambda: col2im(cols, g, g.n))}


def fast_phases(x, w, dy, g) -> dict:
    """The same phases in the fast kernel, summed over its blocks of images."""
    o, totals = w.shape[0], dict.fromkeys(["pad", "im2col", "matmuls (y, dW, dcols)",
                                           "layout changes (transposes)", "col2im"], 0.0)
    for start, stop in image_blocks(g, o, x.dtype.itemsize):
        n = stop - start
        k, length = g.c * g.kh * g.kw, n * g.oh * row_length(g)
        flat = pad_flat(x[start:stop], g)
        cols = im2col_flat(flat, g)
        grad_y = np.zeros((o, length), dtype=x.dtype)
        valid_dy = grad_y.reshape(o, n, g.oh, row_length(g))[:, :, :, :g.ow]  # a view: writes land in grad_y
        flat_w = w.reshape(o, k)
        y = flat_w @ cols

        def copy_dy(block=dy[start:stop], target=valid_dy):
            target[...] = block.transpose(1, 0, 2, 3)
        totals["pad"] += best_ms(lambda: pad_flat(x[start:stop], g, out=flat))
        totals["im2col"] += best_ms(lambda: im2col_flat(flat, g, out=cols))
        totals["matmuls (y, dW, dcols)"] += (best_ms(lambda: flat_w @ cols) + best_ms(lambda: cols @ grad_y.T)
                                             + best_ms(lambda: flat_w.T @ grad_y))
        totals["layout changes (transposes)"] += best_ms(lambda: np.ascontiguousarray(
            y.reshape(o, n, g.oh, row_length(g))[:, :, :, :g.ow].transpose(1, 0, 2, 3))) + best_ms(copy_dy)
        totals["col2im"] += best_ms(lambda: col2im_flat(cols, g, n))
    return totals


rng = np.random.default_rng(0)
x_np = rng.standard_normal((16, 32, 32, 32), dtype=np.float32)
w_np = rng.standard_normal((32, 32, 3, 3), dtype=np.float32)
dy_np = rng.standard_normal((16, 32, 32, 32), dtype=np.float32)
geo = _geometry(x_np.shape, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "")
phases = {"module 09": textbook_phases(x_np, w_np, dy_np, geo), "module 16": fast_phases(x_np, w_np, dy_np, geo)}
print(f"{'phase (one forward + backward)':<32}{'module 09':>14}{'module 16':>14}   (ms, best of 5)")
for phase in phases["module 09"]:
    print(f"{phase:<32}{phases['module 09'][phase]:>14.2f}{phases['module 16'][phase]:>14.2f}")
print(f"{'total':<32}{sum(phases['module 09'].values()):>14.2f}{sum(phases['module 16'].values()):>14.2f}")

# %% [markdown]
# Read the two columns against each other. The matmuls do the same FLOPs in both (a few percent
# more in the fast kernel: the garbage columns), so their time is the floor. Everything else is
# copying, and that is what the layout removes: im2col with long contiguous runs in the cache
# instead of transposed short rows through main memory, col2im without NumPy's buffering and
# with no transposes. What the table cannot show is the allocator: module 09 asks for a fresh
# `cols` (tens of MB at batch 64) every call, the fast kernel reuses its workspace.
#
# ### Analysis — which operand BLAS sees first (choice 6)
#
# The forward product of one block for each conv of the benchmark network, both ways: `W @ cols`
# (thin: `O` rows) and `colsᵀ @ Wᵀ` (the same numbers, as transposed views), each followed by
# its write into the `(n, O, OH, OW)` output, in milliseconds (fastest of 9 runs).

# %%
#| analysis
print(f"{'conv (C -> O, image)':<24}{'K':>5}{'W @ cols':>10}{'colsT @ WT':>12}   (ms: product + write into out)")
for c_in, c_out, size in [(3, 32, 32), (32, 32, 32), (32, 64, 16), (64, 64, 16)]:
    geo = _geometry((64, c_in, size, size), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "")
    start, stop = image_blocks(geo, c_out, 4)[0]
    n, row = stop - start, row_length(geo)
    cols = im2col_flat(pad_flat(rng.standard_normal((n, c_in, size, size), dtype=np.float32), geo), geo)
    flat_w = rng.standard_normal((c_out, c_in * 9), dtype=np.float32)
    out = np.empty((n, c_out, size, size), dtype=np.float32)

    def plain_order():
        out[...] = (flat_w @ cols).reshape(c_out, n, size, row)[:, :, :, :size].transpose(1, 0, 2, 3)

    def transposed_order():
        out[...] = (cols.T @ flat_w.T).reshape(n, size, row, c_out)[:, :, :size, :].transpose(0, 3, 1, 2)

    print(f"{f'{c_in} -> {c_out}, {size}x{size}':<24}{c_in * 9:>5}{best_ms(plain_order, repeats=9):>10.2f}"
          f"{best_ms(transposed_order, repeats=9):>12.2f}")
print(f"the fast kernel uses colsT @ WT from K = {TRANSPOSED_FROM_K} (groups = 1)")

# %% [markdown]
# On the machine this was written on (one BLAS thread), the transposed order won for the two
# convs with `K = 288` (by 15–20%), was even for `K = 576`, and lost for the first conv, whose
# `K = 27` is too short for the strided output write to be repaid. If your numbers disagree, change
# `TRANSPOSED_FROM_K` and run `benchmarks/cnn_step.py`.

# %% [markdown]
# ### Analysis — shifted matmuls against blocked im2col (choice 7)
#
# Each conv of the benchmark network, forward + backward on both of this part's paths, at batch
# 16: the blocked im2col of choices 1–6, then the shifted matmuls. The last columns are the
# useful GFLOP/s of each (three products' worth of multiply-adds: y, dL/dW, dL/dx).

# %%
#| analysis
print(f"{'conv (C -> O, image)':<22}{'blocked im2col':>16}{'shifted':>10}{'GFLOP/s':>17}   (ms, best of 5)")
for c_in, c_out, size in [(3, 32, 32), (32, 32, 32), (32, 64, 16), (64, 64, 16)]:
    geo = _geometry((16, c_in, size, size), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "")
    x_np = rng.standard_normal((16, c_in, size, size), dtype=np.float32)
    w_np = rng.standard_normal((c_out, c_in, 3, 3), dtype=np.float32)
    dy_np = rng.standard_normal((16, c_out, size, size), dtype=np.float32)
    out = np.empty_like(dy_np)

    def blocked_path():
        for start, stop in image_blocks(geo, c_out, 4):
            conv_forward_block(x_np[start:stop], w_np, None, geo, 1, out[start:stop])
            conv_backward_block(x_np[start:stop], w_np, dy_np[start:stop], geo, 1, True, True)

    layout = shifted_layout(geo, 16)

    def shifted_path_run():
        flat = shifted_input(x_np, layout)
        shifted_conv_forward(flat, w_np, None, geo, layout)
        shifted_conv_backward(flat, w_np, dy_np, geo, layout, True, True)

    if not gemm_available(np.float32):
        print("no OpenBLAS gemm in this process: the shifted path is off")
        break
    gflop = 3 * 2 * 16 * size * size * c_out * c_in * 9 / 1e9
    blocked_ms, shifted_ms = best_ms(blocked_path), best_ms(shifted_path_run)
    taken = "a product per tap" if c_in >= TAPS_FROM_CHANNELS else "cols"
    print(f"{f'{c_in} -> {c_out}, {size}x{size}':<22}{blocked_ms:>16.2f}{shifted_ms:>10.2f}"
          f"{gflop / blocked_ms * 1e3:>9.0f} /{gflop / shifted_ms * 1e3:>5.0f}   shifted with {taken}")

# %% [markdown]
# On the machine this was written on (one BLAS thread, batch 64 in `benchmarks/cnn_step.py`),
# the shifted matmuls took the forward of the 32 → 32 conv from 30 to 20 ms and of the two
# 64-channel convs from 13 and 21 to 9 and 15; the backward gained less (54 → 45 ms for the
# 32 → 32 conv), because `dL/dW` still builds `cols`. For the first conv the threshold matters:
# a product per tap (inner dimension 3) made it twice as slow, window `cols` made it 1.6x faster.
# At batch 16 in this notebook the blocks fit the caches better and the gaps are smaller.


# %% [markdown]
# ### Analysis — memory: the whole batch's `cols`, one block's, or none
#
# Peak memory of one forward + backward of the same layer, measured with `tracemalloc`, on the
# three paths as the batch grows. Module 09 keeps the whole `cols` alive until backward (and
# builds a `dcols` of the same size there); the blocked kernel keeps only `x` and rebuilds a
# block's `cols`; the shifted matmuls have no `cols` in forward; they keep the padded input
# (instead of `x`) for backward, and their workspace holds one padded, whole-batch `dL/dx` buffer
# besides block-sized ones. The workspace is emptied before each measurement, so the peak
# includes it.

# %%
#| analysis
import tracemalloc

from tinytorch.core.spatial import Conv2d
from tinytorch.systems import acceleration as package  # conv2d asks the package's switch, not this notebook's
from tito.plots import plot_lines

layer = Conv2d(32, 32, 3, padding=1)
paths = {"module 09 (whole batch)": (False, False), "module 16 blocked": (True, False),
         "module 16 shifted": (True, True)}
batch_sizes, peaks = [2, 8, 32], {label: [] for label in paths}
shifted_before = package.SHIFTED_MATMULS
for n in batch_sizes:
    x_in = Tensor(rng.standard_normal((n, 32, 32, 32), dtype=np.float32), requires_grad=True)
    for label, (fused, shifted) in paths.items():
        package.SHIFTED_MATMULS = shifted
        package.workspace.clear()
        with package.use_fused(fused):
            tracemalloc.start()
            layer(x_in).sum().backward()
            peaks[label].append(tracemalloc.get_traced_memory()[1] / 1e6)
            tracemalloc.stop()
package.SHIFTED_MATMULS = shifted_before
print(f"{'batch':>6}" + "".join(f"{label:>26}" for label in peaks))
for i, n in enumerate(batch_sizes):
    print(f"{n:>6}" + "".join(f"{peaks[label][i]:>23.1f} MB" for label in peaks))
plot_lines("conv_peak_memory_vs_batch", batch_sizes, peaks, xlabel="batch size", ylabel="peak MB",
           title="conv 32->32 3x3, forward + backward", logx=True, logy=True)

# %% [markdown]
# All three grow with the batch — the layer's input, output and gradients are per image — but
# module 09's peak carries the two whole-batch matrices on top, about 18 floats per input float
# here (`kh·kw = 9` for `cols`, 9 more for `dcols`). The blocked kernel's workspace is a few MB
# whatever the batch. The shifted matmuls sit in between: the padded input they keep and the
# padded `dL/dx` buffer are each about one more copy of the batch (the buffer kept from step to
# step) — memory traded for products that read each tap's input where it lies.
#
# ### Analysis — the whole training step, fused vs plain
#
# The benchmark network for a few steps on this machine, both paths in this process (batch 16;
# `benchmarks/cnn_step.py` runs batch 64 and PyTorch, each in its own process, alternating).

# %%
#| analysis
from tinytorch.core.layers import Flatten, Linear, ReLU, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.spatial import MaxPool2d
from tinytorch.core.tensor import manual_seed

manual_seed(0)
cnn = Sequential(Conv2d(3, 32, 3, padding=1), ReLU(), Conv2d(32, 32, 3, padding=1), ReLU(), MaxPool2d(2),
                 Conv2d(32, 64, 3, padding=1), ReLU(), Conv2d(64, 64, 3, padding=1), ReLU(), MaxPool2d(2),
                 Flatten(), Linear(4096, 256), ReLU(), Linear(256, 10))
images = Tensor(rng.standard_normal((16, 3, 32, 32), dtype=np.float32))
labels = Tensor(rng.integers(0, 10, 16))
loss_fn = CrossEntropyLoss()


def step():
    for param in cnn.parameters():
        param.grad = None
    loss_fn(cnn(images), labels).backward()


step_ms = {}
for _ in range(2):  # alternate, so that a change in the machine's load hits both alike
    for label, fused in (("module 16 kernels", True), ("module 09 path", False)):
        with package.use_fused(fused):
            step_ms.setdefault(label, []).append(best_ms(step, repeats=3))
for label, values in step_ms.items():
    print(f"{label:<20} forward + backward: {min(values):7.1f} ms (best of 2 alternating rounds of 3)")
print(f"speed-up: {min(step_ms['module 09 path']) / min(step_ms['module 16 kernels']):.2f}x")

# %% [markdown]
# ### Max pooling that remembers its winners
#
# Module 09's max pool keeps the padded input and the output for backward, and backward finds each
# window's winner again: for every tap it compares a strided view of the input with the output,
# masks out windows already served (`free`), and multiplies — four passes over the input-sized
# arrays per tap, and in the profile of the benchmark step the two pools' backward cost more than
# their forward. Forward already knows the winner when it takes the maximum. So store it: one
# `uint8` per window (a quarter of a float32 output), the index of the first tap that holds the
# maximum. Backward becomes, per tap, one comparison of those small indices and one multiply.
#
# Two details decide the speed. The winner's update must not be a masked write
# (`np.copyto(winner, t, where=better)` measured 4x slower than a comparison here): with `uint8`
# arithmetic it is `winner += better · (t − winner)`, three passes over bytes. And this kernel
# covers only windows that *tile* the input (stride = kernel, no padding, no dilation, nothing left
# over — the `MaxPool2d(2)` of almost every CNN); then every input pixel belongs to exactly one
# window, backward writes every pixel of the gradient, and it needs no zero-fill. Everything else
# is answered `NotImplemented`, and module 09's `max_pool2d` and `MaxPool2d` take their own path.
# (Values equal module 09's always; gradients too, except for windows holding a NaN, where module
# 09 routes the gradient nowhere and this kernel to the first non-NaN maximum.)
#
# You write it for a block of images (`max_pool_block` and its backward), and the `Function`
# runs it block by block, as the conv does: a block's input, output and winners stay in the cache
# through all the taps instead of streaming through memory once per tap.

# %%
#| export
def pool_tiles(g: Geometry) -> bool:
    """Whether g's windows tile the input: stride = kernel, no padding or dilation, nothing left over."""
    return (g.dh == g.dw == 1 and (g.sh, g.sw) == (g.kh, g.kw) and not (g.top or g.bottom or g.left or g.right)
            and (g.oh * g.kh, g.ow * g.kw) == (g.h, g.w) and g.kh * g.kw <= 256)  # 256: a uint8 index


def window_taps(a: np.ndarray, g: Geometry) -> list[np.ndarray]:
    """The kh*kw views (n, C, oh, ow) of a tiled (n, C, h, w) array, one per tap, in row-major tap order."""
    tiles = a.reshape(a.shape[0], g.c, g.oh, g.kh, g.ow, g.kw)  # a may be a block of the batch
    return [tiles[:, :, :, i, :, j] for i in range(g.kh) for j in range(g.kw)]


def pool_blocks(g: Geometry, itemsize: int, start: int = 0, stop: int | None = None) -> list[tuple[int, int]]:
    """[(first, last), ...] ranges of images start .. stop (default all g.n) whose input fits in
    _BLOCK_BYTES (at least one image each)."""
    stop = g.n if stop is None else stop
    return [(start + first, start + last) for first, last in blocks_of_images(stop - start, g.c * g.h * g.w * itemsize)]


def max_pool_block(x: np.ndarray, g: Geometry, out: np.ndarray, winner: np.ndarray) -> None:
    """Max of each window of a block x (n, C, h, w) into out (n, C, oh, ow); the first winning tap into winner."""
    # Hint: taps = window_taps(x, g); copy taps[0] into out and zero winner (a uint8 array like
    #       out). For t, view in the other taps: better = view > out (strictly: a tie keeps the
    #       earlier tap, as module 09 does); np.maximum(out, view, out=out); then winner += better
    #       * (t - winner) in uint8 (np.subtract(t, winner, out=step) wraps, the add undoes it).
    ### BEGIN SOLUTION
    taps = window_taps(x, g)
    np.copyto(out, taps[0])
    winner.fill(0)
    better, step = np.empty(out.shape, dtype=bool), np.empty(out.shape, dtype=np.uint8)
    for tap, view in enumerate(taps[1:], start=1):
        np.greater(view, out, out=better)
        np.maximum(out, view, out=out)
        np.subtract(tap, winner, out=step)
        np.multiply(step, better, out=step)
        winner += step
    ### END SOLUTION


def max_pool_block_backward(grad_output: np.ndarray, winner: np.ndarray, g: Geometry, grad: np.ndarray) -> None:
    """Route a block's grad_output (n, C, oh, ow) to its winners: fill grad (n, C, h, w), every pixel written."""
    # Hint: for each tap t with its view of grad (window_taps(grad, g)): write grad_output times
    #       (winner == t) into the view with np.multiply(..., out=view). The taps cover every pixel.
    ### BEGIN SOLUTION
    hit = np.empty(winner.shape, dtype=bool)
    for tap, view in enumerate(window_taps(grad, g)):
        np.equal(winner, tap, out=hit)
        np.multiply(grad_output, hit, out=view)
    ### END SOLUTION


class FastMaxPool2dFunction(Function):
    """Module 09's MaxPool2dFunction for windows that tile the input; forward stores each window's winner."""

    @staticmethod
    def forward(ctx, x, g: Geometry):
        out = np.empty((g.n, g.c, g.oh, g.ow), dtype=x.dtype)
        winner = np.empty(out.shape, dtype=np.uint8)

        def run(start: int, stop: int) -> None:  # one pool thread's images, in blocks that stay in the cache
            for first, last in pool_blocks(g, x.dtype.itemsize, start, stop):
                max_pool_block(x[first:last], g, out[first:last], winner[first:last])
        over_runs(g.n, run)
        ctx.winner, ctx.geometry = winner, g
        return out

    @staticmethod
    def backward(ctx, grad_output):
        g, winner = ctx.geometry, ctx.winner
        grad = np.empty((g.n, g.c, g.h, g.w), dtype=grad_output.dtype)

        def run(start: int, stop: int) -> None:
            for first, last in pool_blocks(g, grad_output.dtype.itemsize, start, stop):
                max_pool_block_backward(grad_output[first:last], winner[first:last], g, grad[first:last])
        over_runs(g.n, run)
        return grad, None


def fast_max_pool2d(x, g: Geometry):
    """Module 09's max-pool call on the fast path; NotImplemented (module 09's path) unless g's windows tile x."""
    if not pool_tiles(g):
        return NotImplemented
    return FastMaxPool2dFunction.apply(x, g)

# %% [markdown]
# Check it the same way as the conv: module 09's values and gradients (ties included: ReLU
# outputs are full of equal zeros), and a float64 gradcheck.

# %%
#| test
def test_unit_fast_max_pool_matches_module_09():
    from tinytorch.core.autograd import gradcheck
    from tinytorch.core.spatial import MaxPool2dFunction, _geometry

    rng = np.random.default_rng(9)
    x = np.maximum(rng.standard_normal((3, 4, 6, 8)), 0)  # about half the entries tie at 0
    for kernel in [(2, 2), (3, 2), (1, 4)]:
        g = _geometry(x.shape, kernel, kernel, (0, 0, 0, 0), (1, 1), "test")
        dy = rng.standard_normal((3, 4, g.oh, g.ow))
        results = []
        for function in (FastMaxPool2dFunction, MaxPool2dFunction):
            xt = Tensor(x, requires_grad=True)
            out = function.apply(xt, g)
            out.backward(Tensor(dy))
            results.append((out.data, xt.grad.data))
        for name, fast, plain in zip(("output", "dx"), *results):
            assert np.array_equal(fast, plain), (
                f"kernel {kernel}: the fast max pool's {name} differs from module 09's. Write into `out` and "
                "`winner` in place (np.copyto, out=...): they are slices of the batch's arrays, so `out = ...` "
                "changes nothing; zero `winner` first (it arrives uninitialised); a tie must go to the FIRST "
                "tap holding the maximum (strict >); and each tap's view must be a view of grad")
        xt = Tensor(rng.standard_normal((1, 2, g.h, g.w)), requires_grad=True)
        small = _geometry(tuple(xt.shape), kernel, kernel, (0, 0, 0, 0), (1, 1), "test")
        assert gradcheck(lambda t: FastMaxPool2dFunction.apply(t, small), (xt,)), f"gradcheck failed for {kernel}"
    print("✅ the fast max pool equals module 09's output and gradient (ties too) and passes float64 gradcheck")


test_unit_fast_max_pool_matches_module_09()

# %% [markdown]
# ### What closed the gap, and what did not
#
# Against module 09's path, the layout work pays where copies dominate: im2col and col2im run in
# long contiguous runs inside the cache, and `cols` never exists for the whole batch, so the peak
# memory of a conv layer stops growing with `kh·kw` copies of the batch. Against PyTorch it is not
# enough. `benchmarks/cnn_step.py` (batch 64, one BLAS thread, each contender in its own process,
# CPU time so that a busy machine does not blur it) puts the fused step at about 1.25x faster
# than module 09's and about 1.6x slower than PyTorch's eager CPU step — `benchmarks/README.md`
# has the measured table, before and after choice 6. The profile there says why: the matmuls are
# under half of the step (choice 6 took the thin 32-channel products from ~70 to ~95 GFLOP/s on
# one thread); the rest is spread over many passes — im2col twice (forward, and again in
# backward, which rebuilds `cols`), col2im, max-pool backward, ReLU, fills and transposes — none
# of which alone closes the gap. The max pool that stores its winners (above) took the two
# pools' backward from about 14 to about 6 CPU ms per step (forward went from about 4 to 7: it
# now also writes the index) and the step from about 1.6x to about 1.5x PyTorch's
# (`benchmarks/README.md`, measured against the package from before in alternating runs).
#
# Two ideas that did *not* pay, measured and dropped. First, computing `dL/dx` as a stride-1
# convolution of `dy` with the flipped, transposed kernel — the forward kernel run on `dy`,
# whose product has an inner dimension of `O·kh·kw` instead of `O`, and no col2im. It is the same
# FLOPs, and here no faster (the four convs' forward + backward 139–142 CPU ms against 136–137,
# two alternating runs at load average ~5): the thin `Wᵀ·dy` product was not the bottleneck,
# and the extra im2col of `dy` costs what col2im did. Second, keeping each block's `cols` for
# backward instead of rebuilding it (choice 3 the other way round): the whole step was about 15%
# slower, writing fresh `cols` out to main memory costs more than rebuilding them in the cache.
# Four more were built as prototypes outside the package, measured on the benchmark's four convs
# (forward + backward, batch 64, one thread) and dropped (`benchmarks/README.md`, run 5):
#
# - **Winograd F(2x2, 3x3)**, the algorithm behind many fast 3x3 convolutions: each 2x2 output
#   tile from a 4x4 input tile with 16 multiplications instead of 36, so 16 matmuls of
#   `(tiles, C) @ (C, O)` do 2.25x fewer multiply-adds. The matmuls did get twice as cheap — but
#   the transforms around them are about 44 elementwise passes per block, and in NumPy each `+`
#   or `−` is a full read-read-write sweep over memory. The last three convs took 159 ms against
#   163; the first (three input channels) 30 against 13.
# - **Winograd along the width only** (1.5x fewer multiply-adds, matmuls with `K = 3C`): 216 ms
#   against 175. Its gather copies runs of only `C` floats, and NumPy's per-run cost at 32
#   floats outweighed the saved arithmetic.
# - **Channels-last working layout**: the 32 → 32 conv's forward 28 → 26 ms, its backward
#   53 → 59 ms, for the same reason (runs of `C`).
# - **Python threads sharing the blocks while OpenBLAS keeps its own threads**: slower, for the
#   reason in the section on threads above (it paid once the pool owned the cores: choice 8).
#
# One idea did pay, and it is choice 7: the shifted matmuls took the step from 1.61x PyTorch's
# to 1.42x at one thread, and from 2.35x to 1.99x at two (`benchmarks/README.md`, run 6) — not by
# doing fewer FLOPs but by letting BLAS read each tap's input where it already lies, so that a
# whole copy of the batch per tap disappears in forward and another in backward. What it leaves
# is the products themselves: timed inside the step, the convolutions' `gemm_into` calls took
# about 118 of 205 ms, about 85 GFLOP/s. Running every pass of the kernel block by block in the
# cache (above), keeping the padded input, the bias in the products and Adam on the fused step
# took it to about 1.34–1.44x (run 7): the products are now about 75 of 130 ms, and every other
# pass of the step together about 53 — less than PyTorch spends outside its convolutions (its
# own profiler: about 69 of 104 ms in `mkldnn_convolution` and `convolution_backward`). The gap
# left is the convolutions' products: oneDNN runs this network's convs at 130–145 GFLOP/s,
# OpenBLAS with `K = C` at 100–150.
#
# On two cores the gap was wider (1.8–2.0x) for a reason that had nothing to do with FLOPs:
# OpenBLAS threaded each small product of a block, and every other pass ran on one core, while
# PyTorch gives each of its threads whole images. Choice 8 does the same — the pool owns the
# cores, and each thread runs choice 7 on its own run of images — and took the two-core step to
# about 1.1x PyTorch's (`benchmarks/README.md`, run 8).
#
# The lesson of the four dropped ones: in NumPy an algorithm pays only if it keeps the number of
# passes over memory — and their run lengths — where they were. A compiled kernel (oneDNN inside PyTorch)
# keeps a tile in registers through the transform, the product, the bias and the ReLU; that is
# the remaining gap, and it is about the cost of a pass, not of a FLOP. Even fusing bias + ReLU
# into the conv's output write and the ReLU mask into `dy`, block by block in the cache (a
# `Function` for each Conv2d-ReLU pair of the benchmark network, prototyped), saved only 1–3% of
# the step (three alternating pairs: 241/237/239 ms against 248/242/238): the ReLU passes it
# removes are cheap next to the convolutions' own.

# %% [markdown]
# ### Check your understanding
#
# **Q1.** Wrap-around rows compute `wp − OW` garbage outputs per row. For a 3x3 kernel with
# padding 1 on 8x8 feature maps (the last conv stage of many small CNNs), what fraction of the
# forward FLOPs is garbage? At what image width would you switch wrap-around off, and what would
# you measure to decide?
#
# **Q2.** The fast kernel saves only `x` and `W` for backward and rebuilds `cols` there: more
# work, yet the step gets faster and its memory smaller. Explain both with the memory analysis
# above. When would keeping `cols` be the better trade (think of the cache size and of `kh·kw`)?
#
# **Q3.** Module 09's `conv2d` asks `accelerated("fast_conv2d", ...)` at every call, and the
# fast kernel's forward raises `NotImplementedError` before it writes anything while it is a
# stub. Why is the decision made at call time instead of when `tinytorch.core.spatial` is
# imported, and why must a stub fail *before* touching its arguments? What would break in a
# student release otherwise?
#
# **Q4.** Module 09's max pool keeps the padded input and the output for backward; the fast one
# keeps one `uint8` per window. For the benchmark's first pool (64x32x32x32 float32 input, 2x2
# windows), how many MB does each keep alive until backward? With overlapping windows (stride 1)
# one pixel can win several windows: would one index per window still be enough, and what
# would backward have to do differently (think of `np.multiply(..., out=view)` against `+=`)?
#
# **Q5.** Choice 7 computes outputs at the shared padding positions too. For a 3x3 kernel with
# padding 1 on 32x32 and on 8x8 feature maps, what fraction of its FLOPs is garbage, against
# choice 2's? The input gradient takes one product per tap, but the weight gradient uses `cols`:
# compare the shapes of the two products (which dimension is long?) and how many times each
# reads `dy`, and explain the measured 50 against 75–90 GFLOP/s.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Part III — Trading compute for memory: checkpointing and float16

# %% [markdown]
# A training step keeps every activation that a backward rule will read — for a GPT, a dozen
# `(B, T, E)`-sized arrays per block, plus the `(B, H, T, T)` attention weights. Two ways to pay
# less memory for them, each costing something else:
#
# ```
#   gradient checkpointing   keep only each block's INPUT; recompute the block in backward
#                            memory: activations of ONE block at a time     cost: ~one extra forward
#   float16 storage          every activation and weight in 2 bytes instead of 4
#                            memory: about half                              cost: precision (loss
#                                                                            scaling), and on a CPU, speed
# ```
#
# ### Gradient checkpointing
#
# `checkpoint(function, *args)` runs `function` **without recording a graph** (so none of its
# intermediate arrays survive the forward pass) and records one node instead, which keeps only
# the arguments. When backward reaches that node, it runs `function` again with recording on,
# from the same inputs and the same random-number state (so dropout draws the same mask), and
# backpropagates through that fresh graph: the gradients are the ones the plain model gives.
#
# ```
#   forward:   x_0 ─[block 0, no graph]─► x_1 ─[block 1, no graph]─► x_2 ─► ... ─► loss
#              kept: x_0, x_1, x_2 ...  (one (B, T, E) array per block)
#   backward:  ◄── recompute block 1 from x_1, backprop through it, free it ◄── dL/dx_2
# ```
#
# The peak of a step falls from "every block's activations" to "every block's input plus one
# block's activations", for about one more forward pass of compute (forward is a third of a
# step, so ~30% more time). This is PyTorch's `torch.utils.checkpoint.checkpoint` with
# `use_reentrant=False`: parameters receive their gradients even when no *input* requires grad
# (a GPT's first block gets token embeddings, which do; a frozen backbone's input would not).
#
# The recomputation sees the parameters through the function, so `checkpoint` needs to know
# them to connect the node to the graph: it finds them when `function` is a `Module` or a
# `Module`'s method. A plain function that closes over a module still gets correct gradients
# whenever one of its inputs requires grad (the recomputed graph reaches the parameters anyway).

# %%
#| export
import functools

from tinytorch.core.autograd import TensorFunction, enable_grad
from tinytorch.core.layers import Module
from tinytorch.core.tensor import default_generator, is_grad_enabled


def _module_of(function):
    """The Module whose parameters `function` uses: a Module, a Module's method, or a partial of one."""
    while isinstance(function, functools.partial):
        function = function.func
    owner = getattr(function, "__self__", function)
    return owner if isinstance(owner, Module) else None


@contextlib.contextmanager
def _rng_state(state):
    """Run the block with the package generator set to `state`, then put its current state back."""
    if state is None:
        yield
        return
    generator = default_generator()
    current = generator.bit_generator.state
    generator.bit_generator.state = state
    try:
        yield
    finally:
        generator.bit_generator.state = current


class _Checkpoint(TensorFunction):
    """One graph node for a whole checkpointed call: keeps the inputs, recomputes in backward."""

    @staticmethod
    def forward(ctx, *tensors, call, n_inputs: int, rng_state):
        # tensors = the call's Tensor arguments, then the parameters (inputs of the node only so
        # that the output requires grad when they do; the recomputation reaches them itself).
        ctx.call, ctx.n_inputs, ctx.rng_state = call, n_inputs, rng_state
        ctx.save_for_backward(*tensors[:n_inputs])
        out = call(tensors[:n_inputs])  # Function.apply runs this under no_grad: nothing is recorded
        if not isinstance(out, Tensor):
            raise TypeError(f"checkpoint: function must return a Tensor, got {type(out).__name__}")
        return out

    @staticmethod
    def backward(ctx, grad_output):
        n_params = len(ctx.needs_input_grad) - ctx.n_inputs
        # Hint: make a detached copy of each saved input (t.detach(), then requires_grad_() when
        #       the original required grad) so the recomputed graph stops there; under
        #       _rng_state(ctx.rng_state) and enable_grad(), out = ctx.call(detached); when out
        #       requires grad, out.backward(grad_output) (this fills the parameters' .grad
        #       directly). Return each detached input's .grad, then None for every parameter.
        ### BEGIN SOLUTION
        detached = [t.detach().requires_grad_() if t.requires_grad else t.detach() for t in ctx.saved_tensors]
        with _rng_state(ctx.rng_state), enable_grad():
            out = ctx.call(detached)
        if out.requires_grad:
            out.backward(grad_output)
        return tuple(t.grad if t.requires_grad else None for t in detached) + (None,) * n_params
        ### END SOLUTION


def checkpoint(function, *args, use_reentrant: bool = False, preserve_rng_state: bool = True, **kwargs):
    """function(*args, **kwargs), keeping none of its intermediate activations for backward.

    torch.utils.checkpoint.checkpoint's non-reentrant semantics: backward recomputes the call from
    the saved arguments (with the random state of the forward, so dropout repeats its mask) and
    gives the same gradients as the plain call. function must return one Tensor. Under no_grad,
    or when nothing it touches requires grad, it is a plain call. Tensors that need gradients must
    reach function as positional arguments (or be its Module's parameters), not through keywords
    or closures: only those are cut from the outer graph for the recomputation.
    """
    if not callable(function):
        raise TypeError(f"checkpoint: function must be callable, got {type(function).__name__}")
    if use_reentrant is not False:
        raise ValueError(f"checkpoint: only use_reentrant=False (PyTorch's recommended variant) is implemented, "
                         f"got use_reentrant={use_reentrant!r}")
    if not isinstance(preserve_rng_state, bool):
        raise TypeError(f"checkpoint: preserve_rng_state must be True or False, got {preserve_rng_state!r}")
    tensor_keywords = sorted(k for k, v in kwargs.items() if isinstance(v, Tensor))
    if tensor_keywords:
        raise TypeError(f"checkpoint: pass Tensors positionally, so their gradients can flow; got Tensor "
                        f"keyword argument(s) {', '.join(tensor_keywords)}")
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    inputs = [args[i] for i in positions]
    owner = _module_of(function)
    params = [] if owner is None else [p for p in owner.parameters() if p.requires_grad]
    if not is_grad_enabled() or not any(t.requires_grad for t in inputs + params):
        return function(*args, **kwargs)

    def call(tensors):
        rebuilt = list(args)
        for i, tensor in zip(positions, tensors):
            rebuilt[i] = tensor
        return function(*rebuilt, **kwargs)

    state = default_generator().bit_generator.state if preserve_rng_state else None
    return _Checkpoint.apply(*inputs, *params, call=call, n_inputs=len(inputs), rng_state=state)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool = False, **kwargs):
    """torch.utils.checkpoint.checkpoint_sequential: run `functions` (a Sequential or a list of
    Modules) in `segments` chunks of len // segments modules, every chunk but the last under
    checkpoint(); the last one (and any remainder) runs plainly, since backward needs it at once."""
    from tinytorch.core.layers import Sequential

    modules = list(functions.children()) if isinstance(functions, Module) else list(functions)
    if not modules or not all(isinstance(m, Module) for m in modules):
        raise TypeError("checkpoint_sequential: functions must be a Sequential or a non-empty list of Modules")
    if isinstance(segments, bool) or not isinstance(segments, int) or not 1 <= segments <= len(modules):
        raise ValueError(f"checkpoint_sequential: segments must be an int in [1, {len(modules)}] (the number "
                         f"of modules), got {segments!r}")
    size = len(modules) // segments
    for start in range(0, size * (segments - 1), size):
        # A transient Sequential holds the chunk, so checkpoint() sees its parameters (modules have no parent).
        input = checkpoint(Sequential(*modules[start:start + size]), input, use_reentrant=use_reentrant, **kwargs)
    return Sequential(*modules[size * (segments - 1):])(input)

# %%
#| test
def test_unit_checkpoint():
    from tinytorch.core.activations import gelu
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    net = Sequential(Linear(6, 16), Linear(16, 6))
    x = Tensor(np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32), requires_grad=True)

    def grads(use_checkpoint):
        net.zero_grad()
        x.grad = None
        h = checkpoint(net, x) if use_checkpoint else net(x)
        gelu(h).sum().backward()
        return [x.grad.data.copy()] + [p.grad.data.copy() for p in net.parameters()]

    plain, checkpointed = grads(False), grads(True)
    for name, a, b in zip(["x", *(n for n, _ in net.named_parameters())], plain, checkpointed):
        assert np.array_equal(a, b), (f"checkpoint changed the gradient of {name}: max difference "
                                      f"{np.abs(a - b).max():.3g}; backward must recompute the call and "
                                      "backpropagate the incoming gradient through it")
    out = checkpoint(net, x)
    assert out.grad_fn is not None and len(out._ctx.inputs) == 1 + len(list(net.parameters())), (
        "a checkpointed call is ONE graph node whose inputs are x and the parameters")
    frozen = Tensor(np.ones((4, 6), dtype=np.float32))  # no input requires grad: parameters still do
    net.zero_grad()
    checkpoint(net, frozen).sum().backward()
    assert net[0].weight.grad is not None, "parameters must get gradients even when no input requires grad"
    print("checkpoint: same gradients as the plain call, one node, parameters reached without input grads")


test_unit_checkpoint()

# %% [markdown]
# ### Checkpointing a GPT without touching module 13
#
# A GPT calls each of its blocks as `block(x, kv_cache, i)`. `checkpoint_blocks(model)` puts a
# thin `CheckpointedBlock` around every block of `model.blocks`. The wrapper *shares* the
# block's parameter, buffer and submodule registries, so parameter names, `state_dict()` keys
# and checkpoints stay exactly the plain model's: only *how* the block runs in training changes.
# With a KV cache (generation) or without gradients, the block runs as usual. For a `Sequential`
# (an MLP, a CNN), PyTorch's `checkpoint_sequential(model, segments, x)` does the same per chunk
# of layers: every chunk but the last runs under `checkpoint`.

# %%
#| export
class CheckpointedBlock(Module):
    """Runs `block` under checkpoint() when training with gradients; same parameters and names."""

    def __init__(self, block: Module):
        super().__init__()
        if not isinstance(block, Module):
            raise TypeError(f"CheckpointedBlock: block must be a Module, got {type(block).__name__}")
        object.__setattr__(self, "block", block)
        # Shared registries: named_parameters(), state_dict(), train() and to() see the block's own.
        for registry in ("_parameters", "_buffers", "_non_persistent_buffers", "_modules"):
            object.__setattr__(self, registry, block.__dict__[registry])
        object.__setattr__(self, "training", block.training)

    def train(self, mode: bool = True):
        super().train(mode)
        self.block.training = mode
        return self

    def forward(self, x, kv_cache=None, layer_idx: int = 0):
        if kv_cache is not None or not (self.training and is_grad_enabled()):
            return self.block(x, kv_cache, layer_idx)
        return checkpoint(self.block, x)


def checkpoint_blocks(model: Module, enabled: bool = True) -> Module:
    """Wrap (enabled=True) or unwrap every block of model.blocks in CheckpointedBlock; returns model."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, Module) or not hasattr(blocks, "__len__"):
        raise TypeError(f"checkpoint_blocks: model must have a `blocks` ModuleList (a GPT), got "
                        f"{type(model).__name__}")
    if not isinstance(enabled, bool):
        raise TypeError(f"checkpoint_blocks: enabled must be True or False, got {enabled!r}")
    for name, block in list(blocks._modules.items()):
        plain = block.block if isinstance(block, CheckpointedBlock) else block
        setattr(blocks, name, CheckpointedBlock(plain) if enabled else plain)
    return model

# %%
#| test
def test_unit_checkpoint_blocks():
    from tinytorch.core.tensor import manual_seed
    from tinytorch.text.transformers import GPT, GPTConfig

    manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, n_layer=2, n_head=2, n_embd=16, block_size=8, dropout=0.1))
    idx = Tensor(np.random.default_rng(1).integers(0, 11, (3, 8)))

    def step():
        model.zero_grad()
        manual_seed(5)  # the same dropout masks in both runs
        model(idx, idx)[1].backward()
        return {n: p.grad.data.copy() for n, p in model.named_parameters()}

    keys = list(model.state_dict())
    plain = step()
    checkpoint_blocks(model)
    assert list(model.state_dict()) == keys, "wrapping must keep every parameter name and state_dict key"
    wrapped = step()
    for name in plain:
        assert np.allclose(plain[name], wrapped[name], rtol=1e-5, atol=1e-7), (
            f"{name}: checkpointed GPT gradients differ by {np.abs(plain[name] - wrapped[name]).max():.3g}; "
            "check that backward restores the forward's random state (dropout must draw the same mask)")
    checkpoint_blocks(model, enabled=False)
    assert not any(isinstance(b, CheckpointedBlock) for b in model.blocks), "enabled=False unwraps"
    print("checkpoint_blocks: a GPT with dropout trains to the same gradients, same state_dict keys")


test_unit_checkpoint_blocks()

# %% [markdown]
# ### Live: memory saved against time added
#
# `MemoryProfiler` (module 14) measures a forward + backward with `tracemalloc`, which sees
# NumPy's arrays; the times are medians of alternating runs.

# %%
#| export
def gpt_loss(model: Module, idx: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy of a GPT computed in float32 whatever the model's dtype (autocast's rule)."""
    from tinytorch.core.losses import cross_entropy

    logits, _ = model(idx)
    return cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def measure_step(model: Module, idx: Tensor, targets: Tensor, repeats: int = 3) -> dict:
    """One forward + backward of a GPT (loss by gpt_loss): peak MB of the step and MB its graph
    holds after the forward (the activations), both by tracemalloc above the start; median ms."""
    from tinytorch.systems.profiling import MemoryProfiler, time_function

    def step():
        model.zero_grad()
        gpt_loss(model, idx, targets).backward()

    step()  # warm-up; it also creates the gradient arrays, so what is measured below is activations
    memory = MemoryProfiler()
    model.zero_grad()
    with memory.measure("step"):
        with memory.measure("forward"):
            loss = gpt_loss(model, idx, targets)
        loss.backward()
        del loss
    return {"peak_mb": memory.results["step"].peak_mb, "activations_mb": memory.results["forward"].retained_mb,
            "ms": time_function(step, warmup=0, repeats=repeats).median_ms}

# %%
#| analysis
from tinytorch.core.tensor import manual_seed  # noqa: E402
from tinytorch.text.transformers import GPT, GPTConfig  # noqa: E402

manual_seed(0)
_gpt = GPT(GPTConfig(vocab_size=65, n_layer=4, n_head=4, n_embd=128, block_size=64, bias=False))
_tokens = Tensor(np.random.default_rng(0).integers(0, 65, (12, 65)))
_plain = measure_step(_gpt, _tokens[:, :-1], _tokens[:, 1:])
_ckpt = measure_step(checkpoint_blocks(_gpt), _tokens[:, :-1], _tokens[:, 1:])
checkpoint_blocks(_gpt, enabled=False)
print("milestone GPT (4 layers, 4 heads, 128 wide, T=64, batch 12), forward + backward:")
for _name, _r in (("plain", _plain), ("checkpointed", _ckpt)):
    print(f"  {_name:<13} peak {_r['peak_mb']:7.2f} MB  kept after forward {_r['activations_mb']:7.2f} MB  "
          f"{_r['ms']:7.1f} ms")
print(f"  memory x{_plain['peak_mb'] / _ckpt['peak_mb']:.2f} lower, time x{_ckpt['ms'] / _plain['ms']:.2f}")

# %% [markdown]
# The saving grows with depth: a plain step keeps every block's activations, a checkpointed one
# keeps one block's plus a `(B, T, E)` input per block. Measure it: the memory held after the
# forward pass against the number of blocks, both ways.

# %%
#| analysis
from tito.plots import plot_lines  # noqa: E402

_depths, _held = [1, 2, 4, 8], {"plain": [], "checkpointed": []}
_tokens = Tensor(np.random.default_rng(0).integers(0, 65, (4, 33)))
for _n in _depths:
    manual_seed(0)
    _gpt = GPT(GPTConfig(vocab_size=65, n_layer=_n, n_head=2, n_embd=64, block_size=32, bias=False))
    _held["plain"].append(measure_step(_gpt, _tokens[:, :-1], _tokens[:, 1:], repeats=1)["activations_mb"])
    _held["checkpointed"].append(
        measure_step(checkpoint_blocks(_gpt), _tokens[:, :-1], _tokens[:, 1:], repeats=1)["activations_mb"])
print("blocks   plain MB   checkpointed MB   (held after the forward pass, batch 4, T=32, 64 wide)")
for _n, _a, _b in zip(_depths, _held["plain"], _held["checkpointed"]):
    print(f"{_n:>6}   {_a:>8.2f}   {_b:>15.2f}")
plot_lines("checkpoint_memory_vs_depth", _depths, _held, xlabel="blocks", ylabel="MB held after forward",
           title="Activations kept for backward", logx=True, logy=True)

# %% [markdown]
# Both lines grow with depth, at very different slopes: per block, a plain GPT keeps about a
# dozen `(B, T, E)`-sized arrays and the attention weights, a checkpointed one keeps one `(B, T, E)`
# input. What checkpointing cannot remove is the single block being recomputed (the peak during
# backward) and the embeddings and head outside the blocks. `benchmarks/memory_tradeoffs.py`
# measures peak memory and time on the milestone GPT and on a 6-layer, 384-wide one.

# %% [markdown]
# ### float16 storage, float32 master weights, dynamic loss scaling
#
# A float16 number has 5 exponent bits and 10 mantissa bits: it holds about 3 decimal digits,
# nothing above 65,504, and nothing (but zero) below 6·10⁻⁸. Halving every array halves the
# memory traffic and the activation memory — but three things go wrong if you simply train in
# float16, and each has a standard cure:
#
# ```
#   problem                                         cure
#   an update lr·g is below a weight's precision    keep float32 MASTER weights; the optimizer
#   (1.0 + 1e-4 == 1.0 in float16): training stalls  updates them and copies them into the model
#   small gradients underflow to 0                  multiply the loss by a big SCALE (2^16) before
#                                                   backward, divide the gradients by it after
#   a too-big scale overflows a gradient to inf     SKIP that step, halve the scale; grow it again
#                                                   (x2) after `growth_interval` good steps
# ```
#
# The last two are PyTorch's `torch.amp.GradScaler`, with the same API: `scaler.scale(loss)`,
# `scaler.step(optimizer)` (unscales, checks for inf/NaN, steps or skips), `scaler.update()`,
# and `scaler.unscale_(optimizer)` for gradient clipping in between. `MasterWeights` is the first
# cure: the model holds float16 copies, the optimizer float32 originals. The loss itself is
# computed in float32 (cast the logits with `.float()`), as PyTorch's autocast does, so that
# `loss × scale` cannot overflow before backward even starts.
#
# ```
#   loss = cross_entropy(model16(x).float(), y)      float16 forward, float32 loss
#   scaler.scale(loss).backward()                    float16 gradients of (loss x scale)
#   master.copy_grads()                              -> float32 gradients on the master weights
#   scaler.step(optimizer); scaler.update()          unscale, check, step or skip; adapt the scale
#   master.copy_weights()                            float32 masters -> the float16 model
# ```

# %%
#| export
import math


class MasterWeights:
    """Turn `model` into float16 storage and keep float32 master copies of its parameters.

    Build the optimizer on `master.parameters()` (float32). Each step: backward through the
    float16 model, `copy_grads()` (float16 grads -> float32 masters, model grads cleared), the
    optimizer step, then `copy_weights()` (masters -> model, rounded to float16).
    """

    def __init__(self, model: Module):
        if not isinstance(model, Module):
            raise TypeError(f"MasterWeights: model must be a Module, got {type(model).__name__}")
        params = [p for p in model.parameters() if p.requires_grad]
        wrong = sorted({str(p.dtype) for p in params if p.dtype != np.float32})
        if not params or wrong:
            raise ValueError(f"MasterWeights: expected a float32 model with trainable parameters, got "
                             f"{'no parameters' if not params else 'dtypes ' + ', '.join(wrong)}")
        self.model = model
        # Hint: remember (model parameter, float32 master) pairs — the master a copy of the data as
        #       a Tensor with requires_grad=True — then convert the model to float16 with model.half().
        ### BEGIN SOLUTION
        self.pairs = [(p, Tensor(p.data.copy(), requires_grad=True)) for p in params]
        model.half()
        ### END SOLUTION

    def parameters(self) -> list[Tensor]:
        """The float32 master weights (what the optimizer updates)."""
        return [master for _, master in self.pairs]

    def copy_grads(self) -> None:
        """Each model gradient (float16) -> its master's .grad (float32); the model's grads are cleared."""
        # Hint: for each pair, master.grad = None when the model parameter has no grad, else a
        #       float32 Tensor of it; then set the model parameter's grad to None.
        ### BEGIN SOLUTION
        for param, master in self.pairs:
            master.grad = None if param.grad is None else Tensor(param.grad.data.astype(np.float32))
            param.grad = None
        ### END SOLUTION

    def copy_weights(self) -> None:
        """The float32 masters -> the model's float16 parameters (in place, rounded to nearest)."""
        for param, master in self.pairs:
            np.copyto(param.data, master.data, casting="same_kind")


class GradScaler:
    """Dynamic loss scaling (torch.amp.GradScaler's API and defaults).

        scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()

    step() unscales the gradients of the optimizer's parameters in place (unless unscale_ was
    called), and skips optimizer.step() when any of them is inf or NaN. update() halves the scale
    (backoff_factor) after a skipped step and doubles it (growth_factor) after growth_interval
    steps in a row without one.
    """

    def __init__(self, device: str = "cpu", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if device != "cpu":
            raise ValueError(f"GradScaler: TinyTorch has one device, 'cpu'; got device={device!r}")
        for name, value, ok, expected in (
                ("init_scale", init_scale, lambda v: v > 0, "> 0"),
                ("growth_factor", growth_factor, lambda v: v > 1, "> 1"),
                ("backoff_factor", backoff_factor, lambda v: 0 < v < 1, "in (0, 1)")):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not ok(value):
                raise ValueError(f"GradScaler: {name} must be a finite number {expected}, got {value!r}")
        if isinstance(growth_interval, bool) or not isinstance(growth_interval, int) or growth_interval < 1:
            raise ValueError(f"GradScaler: growth_interval must be an int >= 1, got {growth_interval!r}")
        if not isinstance(enabled, bool):
            raise TypeError(f"GradScaler: enabled must be True or False, got {enabled!r}")
        self._scale, self._growth_tracker = float(init_scale), 0
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval, self._enabled = growth_interval, enabled
        self._per_optimizer: dict[int, dict] = {}  # id(optimizer) -> {"unscaled", "found_inf"} until update()

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        """outputs x scale (a Tensor, or a list/tuple of them); unchanged when disabled."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if not isinstance(outputs, Tensor):
            raise TypeError(f"GradScaler.scale: outputs must be a Tensor (the loss), got {type(outputs).__name__}")
        return outputs * self._scale

    @staticmethod
    def _params(optimizer) -> list:
        groups = getattr(optimizer, "param_groups", None)
        if groups is None:
            raise TypeError(f"GradScaler: optimizer must have param_groups (a tinytorch optimizer), got "
                            f"{type(optimizer).__name__}")
        return [p for group in groups for p in group["params"]]

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale, in place, and note whether any is inf/NaN."""
        if not self._enabled:
            return
        state = self._per_optimizer.setdefault(id(optimizer), {"unscaled": False, "found_inf": False})
        if state["unscaled"]:
            raise RuntimeError("GradScaler.unscale_: already called on this optimizer since the last update()")
        # Hint: for every parameter with a gradient: found_inf |= not np.isfinite(grad).all();
        #       then multiply the gradient by 1 / scale in place (np.multiply with out=).
        ### BEGIN SOLUTION
        inverse, found_inf = 1.0 / self._scale, False
        for param in self._params(optimizer):
            if param.grad is None:
                continue
            grad = param.grad.data
            found_inf = found_inf or not bool(np.isfinite(grad).all())
            np.multiply(grad, inverse, out=grad, casting="unsafe")
        ### END SOLUTION
        state["unscaled"], state["found_inf"] = True, found_inf

    def step(self, optimizer, *args, **kwargs):
        """unscale_ (unless done), then optimizer.step() — or skip it when a gradient is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        state = self._per_optimizer.get(id(optimizer))
        if state is None or not state["unscaled"]:
            self.unscale_(optimizer)
            state = self._per_optimizer[id(optimizer)]
        if state["found_inf"]:
            return None  # skipped: the weights keep their values, update() lowers the scale
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | None = None) -> None:
        """Adapt the scale for the next step (or set it to new_scale)."""
        if not self._enabled:
            return
        if new_scale is not None:
            if isinstance(new_scale, bool) or not isinstance(new_scale, (int, float)) or not new_scale > 0:
                raise ValueError(f"GradScaler.update: new_scale must be a positive number, got {new_scale!r}")
            self._scale = float(new_scale)
        elif not self._per_optimizer:
            raise RuntimeError("GradScaler.update: no step() or unscale_() since the last update()")
        else:
            self._adapt(any(state["found_inf"] for state in self._per_optimizer.values()))
        self._per_optimizer.clear()

    def _adapt(self, found_inf: bool) -> None:
        """The dynamic part of loss scaling: back off after a skipped step, grow after many good ones."""
        # Hint: found_inf: multiply self._scale by the backoff factor and reset self._growth_tracker
        #       to 0. Otherwise count the good step, and when the tracker reaches growth_interval,
        #       multiply the scale by the growth factor and reset the tracker.
        ### BEGIN SOLUTION
        if found_inf:
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
            return
        self._growth_tracker += 1
        if self._growth_tracker == self._growth_interval:
            self._scale *= self._growth_factor
            self._growth_tracker = 0
        ### END SOLUTION

    def found_inf(self, optimizer) -> bool:
        """Whether the last unscale_ of this optimizer (before update()) saw an inf or NaN."""
        return bool(self._per_optimizer.get(id(optimizer), {}).get("found_inf", False))

    def state_dict(self) -> dict:
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state: dict) -> None:
        missing = {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"} - set(state)
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing {sorted(missing)}")
        self._scale, self._growth_tracker = float(state["scale"]), int(state["_growth_tracker"])
        self._growth_factor, self._backoff_factor = float(state["growth_factor"]), float(state["backoff_factor"])
        self._growth_interval = int(state["growth_interval"])

# %%
#| test
def test_unit_grad_scaler():
    from tinytorch.core.optimizers import SGD

    weight = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    optimizer = SGD([weight], lr=0.1)
    scaler = GradScaler(init_scale=8.0, growth_interval=2)
    scaler.scale((weight * 2.0).sum()).backward()
    assert np.allclose(weight.grad.data, 16.0), f"the scaled gradient is 2 x 8 = 16, got {weight.grad.data}"
    scaler.step(optimizer)
    assert np.allclose(weight.data, 1 - 0.1 * 2.0), (
        f"step must unscale (16 / 8 = 2) before the update: expected weights 0.8, got {weight.data}")
    scaler.update()
    weight.grad = Tensor(np.array([1.0, np.inf, 0.0], dtype=np.float32))
    before = weight.data.copy()
    assert scaler.step(optimizer) is None and np.array_equal(weight.data, before), (
        "an inf gradient must skip optimizer.step(): the weights may not change")
    scaler.update()
    assert scaler.get_scale() == 4.0, f"a skipped step halves the scale 8 -> 4, got {scaler.get_scale()}"
    for _ in range(2):
        weight.grad = Tensor(np.ones(3, dtype=np.float32))
        scaler.step(optimizer)
        scaler.update()
    assert scaler.get_scale() == 8.0, (f"two good steps in a row (growth_interval=2) double the scale "
                                       f"4 -> 8, got {scaler.get_scale()}")
    print("GradScaler: scales, unscales before the step, skips inf steps, backs off and grows")


test_unit_grad_scaler()

# %% [markdown]
# ### Live: float16 training against float32, memory and speed
#
# The same GPT, the same data and seed, trained a few steps both ways; then one step's peak
# memory and time each way. A CPU has no float16 arithmetic for NumPy to use: every float16 matmul
# converts to float32 and back (module 01's `matmul_arrays`), and every elementwise pass runs
# NumPy's float16 loops, so expect float16 to be *slower* here. On a GPU with tensor cores it is
# 2–8x faster; on this CPU it buys memory only.

# %%
#| analysis
from tinytorch.core.optimizers import AdamW  # noqa: E402


def _train(half: bool, steps: int = 5):
    manual_seed(0)
    model = GPT(GPTConfig(vocab_size=65, n_layer=2, n_head=4, n_embd=64, block_size=32, bias=False))
    master = MasterWeights(model) if half else None
    optimizer = AdamW(master.parameters() if half else list(model.parameters()), lr=3e-3)
    scaler = GradScaler(enabled=half)
    rng, losses = np.random.default_rng(0), []
    for _ in range(steps):
        idx = Tensor(rng.integers(0, 65, (4, 33)))
        loss = gpt_loss(model, idx[:, :-1], idx[:, 1:])
        optimizer.zero_grad()
        model.zero_grad()
        scaler.scale(loss).backward()
        if half:
            master.copy_grads()
        scaler.step(optimizer)
        scaler.update()
        if half:
            master.copy_weights()
        losses.append(float(loss.item()))
    return model, losses


_m32, _l32 = _train(False)
_m16, _l16 = _train(True)
print("step   float32   float16+master")
for _i, (_a, _b) in enumerate(zip(_l32, _l16)):
    print(f"{_i:>4}   {_a:7.4f}   {_b:7.4f}")
_tokens = Tensor(np.random.default_rng(1).integers(0, 65, (4, 33)))
for _name, _model in (("float32", _m32), ("float16", _m16)):
    _r = measure_step(_model, _tokens[:, :-1], _tokens[:, 1:], repeats=1)
    print(f"{_name}: peak {_r['peak_mb']:.2f} MB, kept after forward {_r['activations_mb']:.2f} MB, {_r['ms']:.1f} ms")

# %% [markdown]
# The activations kept after the forward pass halve, as the bytes per number do. The step's
# peak falls less, because the loss and its softmax run in float32 on purpose. The time is the
# honest part. NumPy's own float16 matmul has no BLAS behind it: a generic loop, a hundred times
# and more slower than float32, which made a float16 GPT step over 100x slower until module 01
# sent float16 products through float32. Now each product pays two conversions and a rounding,
# and LayerNorm, GELU and the softmax run in NumPy's float16 loops: the milestone GPT's step is
# still about 15x slower than in float32. On this CPU float16 trades speed for memory.
# `benchmarks/memory_tradeoffs.py` measures both trade-offs on the milestone GPT and on a
# 6-layer, 384-wide one.
#
# **Questions on part III** (answer them with the section's reflection):
#
# 1. A checkpointed step recomputes each block's forward once. Forward is about a third of a
#    step's FLOPs: what time increase do you predict, and what did you measure? Why can the
#    measured increase be smaller than the FLOP count says?
# 2. Why must the recomputation use the random state the forward pass used? What would go wrong
#    in a GPT with dropout if it did not?
# 3. With a loss scale of 2^16, which gradients survive in float16 that did not at scale 1? Why is
#    the loss itself computed in float32?
# 4. A step with an inf gradient is skipped. Why is skipping (and halving the scale) better than
#    clipping the inf to the largest float16?

# %% [markdown]
# ## Reflection
#
# **Q1.** The blocked chain of section I.3 and the whole-array chain do exactly the same
# arithmetic. Using your measured ns per element at 16 MiB, estimate how many bytes per element
# each version moves between L2 and main memory, and what memory bandwidth that implies. Why are
# the two equally fast at 64K elements?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** `FusedGELU` saves its slope `Φ(x) + x·φ(x)` instead of its input. What does that cost
# in memory compared with module 02's GELU, which keeps only `x` (look at what the graph holds
# anyway: the Linear's output is GELU's input)? Where would saving the slope *not* pay — think of
# a Function whose backward is rarely run, or memory-bound training.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** The online softmax rescales `ℓ` and `acc` by `exp(m − m')` whenever a block raises the
# running maximum. Show, for two blocks, that the final `acc / ℓ` equals the softmax-weighted sum
# over all keys. Then explain from the measurements why the blocked attention is *slower* at
# T = 64 but faster at T = 1,024, although it does more FLOPs at every length.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** The GPT step got faster by much less than the attention and LayerNorm kernels did on
# their own. Using the
# 6N-FLOPs estimate of module 13 and your machine's GEMM speed from module 14's roofline, what
# fraction of the step is matrix multiplication, and what is the best speed-up *any* fusion of
# the elementwise ops could give (Amdahl's law)? What would you have to change to go further?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4b.** Splitting a convolution's images over two Python threads made the CNN step *slower*
# while OpenBLAS kept its own threads, and 1.1–1.3x faster once the pool owned the cores. Explain
# both from the spinning analysis. Then use the numbers in "Not everything pays to split" to
# estimate the smallest product worth splitting over two threads on your machine, and compare it
# with `SPLIT_FROM_MULTIPLY_ADDS`. Why did splitting the GPT's attention and LayerNorm over the
# pool *not* pay, although each is independent across rows?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q5.** Every fast path falls back to the plain one when `accelerated(...)` returns
# `NotImplemented`. Why must a fused kernel raise `NotImplementedError` *before* it changes any
# of its arguments? Describe what would go wrong in `AdamW.step` otherwise, and how you would
# test for it.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q6.** Module 13's `layer_norm_composed` records a mean, a subtraction, a product, a second
# mean, an addition, a square root, a division, a product and a sum. For the GPT's `(768, 128)`
# residual stream in float32, list which full-size arrays its graph keeps alive for backward, and
# compare with `FusedLayerNorm`, which keeps `x̂` and one `1/σ` per row: how many MB does each
# keep across the 9 LayerNorms of a step? Why are this module's kernels checked against modules
# 12–13's compositions (and not only against PyTorch)?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - **Vectorize, then mind the memory.** A Python loop costs ~60 ns per element; one NumPy call
#   a nanosecond or less — until memory, not arithmetic, is the limit. Contiguous access reads
#   16 floats per cache line, stride-16 access one; a tiled transpose keeps both sides in cache.
# - **Blocking** runs every pass of a chain on one cache-sized block (`BLOCK` = 64K floats)
#   before the next: the same arithmetic, far fewer bytes moved once the data outgrows L2.
# - **Fusion** writes several ops and their backward as one `Function`: `FusedGELU` computes the
#   erf once and saves the slope, `SoftmaxCrossEntropy` has the `(p − onehot)/N` gradient,
#   `FusedCausalAttention` replaces module 12's twenty-node composition with one node on strided
#   views, `FusedLayerNorm` applies the closed form module 13 derived instead of a dozen nodes,
#   and `adamw_step_` is module 06's update block by block, bit for bit.
# - **Attention in key blocks** with the online softmax keeps one float per query instead of a
#   `(T, T)` matrix per head: about 5x less peak memory at T = 1,024, the same gradients, and
#   faster from a few hundred tokens on (`FLASH_FROM`).
# - **Wiring**: the package's GPT, CNN layers, AdamW and Adam without weight decay take these
#   kernels by default through module 06's one `accelerated()` check; `use_fused(False)` measures
#   the textbook paths of modules 02–13 (Tensor ops, autograd's backward); a stub falls back to them.
# - The allocator matters too: `keep_freed_memory()` stops glibc from returning and re-faulting
#   the pages of NumPy's large temporaries every step.
# - **One owner for the cores**: two thread pools that do not know each other fight (OpenBLAS's
#   helper spins for ~0.1 s after every product). TinyTorch's pool owns the cores, OpenBLAS runs
#   each product on its calling thread, and the kernels split their own work: convolutions and
#   max pools by images (choice 8), large products by rows or columns (`parallel_matmul`, which
#   module 01's `matmul_arrays` calls). On two cores that took the CNN step from 1.5x PyTorch's
#   to 1.1–1.3x.
