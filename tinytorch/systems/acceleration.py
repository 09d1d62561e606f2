# Generated from modules/16_acceleration/acceleration.py by `tito export`. Do not edit: edit the module.

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


class SoftmaxCrossEntropy(Function):
    """Mean cross-entropy of logits (N, C) against class ids (N,), rows with ignore_index skipped."""

    @staticmethod
    def forward(ctx, logits, target, ignore_index: int):
        # Hint: probs = logits - row max (a new array); exp in place; sums = row sums; the loss of
        #       row i is log(sums_i) - shifted_i[target_i] (take it before the exp, or from the log
        #       of probs after normalising); average over the rows whose target != ignore_index.
        #       Save probs (divided by sums in place), the safe targets, the valid mask and the count.
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

    @staticmethod
    def backward(ctx, grad_output):
        probs, safe, valid = ctx.saved_tensors
        # Hint: grad = probs · (g / count) (a copy: probs stays intact for a second backward);
        #       subtract g / count at [row, target]; zero the ignored rows.
        scale = float(grad_output) / max(ctx.count, 1)
        grad = probs * np.asarray(scale, dtype=probs.dtype)
        grad[np.arange(grad.shape[0]), safe] -= scale
        if not valid.all():
            grad[~valid] = 0
        return grad, None, None


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
        batch, length, width = qkv.shape[0], qkv.shape[1], qkv.shape[2] // 3
        q, k, v = (_heads(qkv, i, num_heads) for i in range(3))
        scale = 1.0 / math.sqrt(width // num_heads)
        out = np.empty((batch, length, width), dtype=qkv.dtype)
        out_heads = out.reshape(batch, length, num_heads, width // num_heads).transpose(0, 2, 1, 3)
        _, probs_t, keep_t = attention_forward(q, k, v, None, scale, True, dropout_p, generator, out=out_heads)
        ctx.save_for_backward(qkv, probs_t, keep_t)
        ctx.config = (num_heads, scale)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        qkv, probs_t, keep_t = ctx.saved_tensors
        heads, scale = ctx.config
        # Hint: grad_qkv = np.empty_like(qkv); its thirds, as _heads views, are the `out=` arrays of
        #       attention_backward (needs (True, True, True, False)); grad_output (B, T, E) is read
        #       as (B, H, T, D) through a reshape + transpose.
        batch, length, width = grad_output.shape
        q, k, v = (_heads(qkv, i, heads) for i in range(3))
        grad_qkv = np.empty_like(qkv)
        targets = tuple(_heads(grad_qkv, i, heads) for i in range(3))
        grad_heads = np.ascontiguousarray(grad_output).reshape(batch, length, heads, width // heads)
        attention_backward(q, k, v, probs_t, keep_t, grad_heads.transpose(0, 2, 1, 3), scale,
                           (True, True, True, False), out=targets)
        return grad_qkv, None, None, None


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
        mean = rows @ average
        xhat = rows - mean[:, None]
        var = np.einsum("ij,ij->i", xhat, xhat) / n
        invstd = 1.0 / np.sqrt(var + eps)
        xhat *= invstd[:, None]
        out = xhat.copy() if w is None else xhat * w
        if b is not None:
            out += b
        ctx.save_for_backward(xhat, invstd)
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
        return grad_x, grad_w, grad_b, None, None


def fused_layer_norm(x: Tensor, weight: Tensor | None, bias: Tensor | None, dims: int, eps: float) -> Tensor:
    """LayerNorm over the last `dims` axes as one node (module 13's layer_norm asks for it, after checking
    its arguments): x (*, *S), weight and bias S or None -> x's shape."""
    return FusedLayerNorm.apply(x, weight, bias, dims, eps)


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
    shape = (channels, g.kh, g.kw, n, g.oh, row_length(g))
    table = np.empty(shape, dtype=flat.dtype) if out is None else out.reshape(shape)
    for tap_row in range(g.kh):
        for tap_col in range(g.kw):
            table[:, tap_row, tap_col] = flat_tap(flat, g, tap_row, tap_col)
    return table.reshape(channels * g.kh * g.kw, n * g.oh * row_length(g))


def col2im_flat(cols: np.ndarray, g: Geometry, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """Adjoint of im2col_flat: (C*kh*kw, n*oh*row) -> working layout (C, n, plane), overlaps summed."""
    # Hint: zero the result ((g.c, n, plane_length(g)), or `out`); view cols as
    #       (g.c, g.kh, g.kw, n, g.oh, row_length(g)); inside `with _unbuffered(g):` add each tap's
    #       block into flat_tap(...) with +=, passing both sides through _merge_rows(..., g).
    grad_flat = np.empty((g.c, n, plane_length(g)), dtype=cols.dtype) if out is None else out
    grad_flat.fill(0)
    table = cols.reshape(g.c, g.kh, g.kw, n, g.oh, row_length(g))
    with _unbuffered(g):
        for tap_row in range(g.kh):
            for tap_col in range(g.kw):
                target = _merge_rows(flat_tap(grad_flat, g, tap_row, tap_col), g)
                target += _merge_rows(table[:, tap_row, tap_col], g)
    return grad_flat


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


def max_pool_block_backward(grad_output: np.ndarray, winner: np.ndarray, g: Geometry, grad: np.ndarray) -> None:
    """Route a block's grad_output (n, C, oh, ow) to its winners: fill grad (n, C, h, w), every pixel written."""
    # Hint: for each tap t with its view of grad (window_taps(grad, g)): write grad_output times
    #       (winner == t) into the view with np.multiply(..., out=view). The taps cover every pixel.
    hit = np.empty(winner.shape, dtype=bool)
    for tap, view in enumerate(window_taps(grad, g)):
        np.equal(winner, tap, out=hit)
        np.multiply(grad_output, hit, out=view)


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
        detached = [t.detach().requires_grad_() if t.requires_grad else t.detach() for t in ctx.saved_tensors]
        with _rng_state(ctx.rng_state), enable_grad():
            out = ctx.call(detached)
        if out.requires_grad:
            out.backward(grad_output)
        return tuple(t.grad if t.requires_grad else None for t in detached) + (None,) * n_params


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
        self.pairs = [(p, Tensor(p.data.copy(), requires_grad=True)) for p in params]
        model.half()

    def parameters(self) -> list[Tensor]:
        """The float32 master weights (what the optimizer updates)."""
        return [master for _, master in self.pairs]

    def copy_grads(self) -> None:
        """Each model gradient (float16) -> its master's .grad (float32); the model's grads are cleared."""
        # Hint: for each pair, master.grad = None when the model parameter has no grad, else a
        #       float32 Tensor of it; then set the model parameter's grad to None.
        for param, master in self.pairs:
            master.grad = None if param.grad is None else Tensor(param.grad.data.astype(np.float32))
            param.grad = None

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
        inverse, found_inf = 1.0 / self._scale, False
        for param in self._params(optimizer):
            if param.grad is None:
                continue
            grad = param.grad.data
            found_inf = found_inf or not bool(np.isfinite(grad).all())
            np.multiply(grad, inverse, out=grad, casting="unsafe")
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
        if found_inf:
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
            return
        self._growth_tracker += 1
        if self._growth_tracker == self._growth_interval:
            self._scale *= self._growth_factor
            self._growth_tracker = 0

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
