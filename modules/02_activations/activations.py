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
# # Module 02 — Activations
#
# A neural network is a stack of linear maps with a small nonlinear function between them.
# This module writes those functions: the *activations*.
#
# **You will learn to**
#
# 1. explain why a network without nonlinearities is just one matrix, however deep it is;
# 2. implement ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, Softmax and LogSoftmax on top of your
#    `Tensor`, each recording itself for autograd with `Tensor.from_op`;
# 3. make the exponential ones numerically stable, so inputs of ±10 000 give exact answers and no
#    overflow warnings;
# 4. measure what each activation costs per element, and where its slope vanishes (saturation).
#
# **Prerequisites:** module 01 (`Tensor`, `Tensor.from_op`). **Exports to:**
# `tinytorch/core/activations.py`, re-exported as `tinytorch.nn.functional`.

# %% [markdown]
# ## Why nonlinearity?
#
# Stack two linear layers and multiply out:
#
# ```
#   x ──► W1 x ──► W2 (W1 x)  =  (W2 W1) x  =  W x
# ```
#
# The two layers collapse into one matrix `W = W2 W1`. A hundred layers collapse the same way, so a
# deep *linear* network can only draw straight decision boundaries — it cannot even learn XOR.
# Put a nonlinear function `f` between the layers and the collapse stops:
#
# ```
#   x ──► W1 ──► f ──► W2 ──► f ──► W3 ──► ...
# ```
#
# Each activation below is a different answer to "which `f`?". They differ in three ways that you
# will measure at the end of the module:
#
# | property | why it matters |
# |---|---|
# | shape of the curve | what the network can express; whether outputs are bounded |
# | slope (gradient) | training multiplies slopes layer by layer: slopes near 0 stop learning |
# | cost per element | activations run on every hidden unit of every example, every step |
#
# Every function here works elementwise (or, for softmax, along one dimension) on the NumPy array
# inside a `Tensor`, and returns a new `Tensor` made with
# `Tensor.from_op(result_array, "op_name", (x,), **saved)`. That one call is the whole contract
# with autograd (see `docs/autograd.md`): it records which op made the result, from which inputs,
# and the few values the backward rule in module 05 will need.

# %%
#| default_exp core.activations

# %%
#| export
from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.core.tensor import Tensor

# %% [markdown]
# ### Checking arguments at the boundary
#
# A wrong argument should fail *here*, with a message that names the function and the argument,
# not three calls deep inside NumPy. These two helpers do that for every function in the module.
# Most activations only make sense on floating-point numbers (what is `sigmoid` of an integer
# tensor's gradient?), so they insist on a float tensor; ReLU also accepts integers, as in PyTorch.

# %%
#| export
def _check_tensor(x, where: str, float_only: bool = True) -> None:
    """Raise a clear TypeError unless `x` is a Tensor (of a floating dtype when float_only)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: input must be a Tensor, got {type(x).__name__}")
    if float_only and x.dtype.kind != "f":
        raise TypeError(f"{where}: input must be a floating-point tensor, got dtype {x.dtype}; "
                        "convert it with x.float()")


def _check_dim(dim, ndim: int, where: str) -> int:
    """`dim` as a non-negative axis of a tensor with `ndim` >= 1 dimensions."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{where}: dim must be an int, got {dim!r}")
    if ndim == 0:
        raise ValueError(f"{where}: input must have at least 1 dimension, got a 0-d tensor")
    if not -ndim <= dim < ndim:
        raise IndexError(f"{where}: dim {dim} is out of range for a tensor with {ndim} dimension(s) "
                         f"(expected -{ndim} <= dim < {ndim})")
    return int(dim) % ndim

# %% [markdown]
# ## 1. ReLU — the default choice
#
# ```
#  relu(x) = max(0, x)            slope:  0 for x < 0,  1 for x > 0
#
#        │      ╱
#        │    ╱
#        │  ╱
#  ──────┼╱─────────
# ```
#
# ReLU is one comparison per element, its slope is exactly 1 wherever the unit is active (so
# gradients pass through deep stacks undiminished), and it outputs true zeros (sparse activations).
# Its weakness: a unit whose input is negative for every example has slope 0 everywhere and stops
# learning — a "dead ReLU".
#
# Backward needs nothing but the input (`x > 0` says where the gradient passes), so `relu` saves
# nothing: `Tensor.from_op(out, "relu", (x,))`.

# %%
#| export
def relu(x: Tensor) -> Tensor:
    """Rectified linear unit, elementwise: max(0, x). Shape: any -> same. dtype kept."""
    _check_tensor(x, "relu", float_only=False)
    # Hint: np.maximum(array, 0) compares elementwise and keeps the array's dtype.
    ### BEGIN SOLUTION
    return Tensor.from_op(np.maximum(x.data, 0), "relu", (x,))
    ### END SOLUTION

# %%
#| test
def test_unit_relu():
    x = Tensor([[-2.0, -0.5, 0.0], [0.5, 3.0, -1e4]])
    out = relu(x)
    expected = np.array([[0.0, 0.0, 0.0], [0.5, 3.0, 0.0]], dtype=np.float32)
    assert isinstance(out, Tensor), f"relu should return a Tensor, got {type(out).__name__}"
    assert out.shape == x.shape, f"relu keeps the shape: expected {x.shape}, got {out.shape}"
    assert np.array_equal(out.data, expected), (
        f"relu values: expected {expected.tolist()}, got {out.data.tolist()}; "
        "likely cause: negative inputs should become exactly 0, positive ones pass unchanged")
    assert out.dtype == np.float32, f"relu must keep float32, got {out.dtype} (did something upcast?)"
    ints = relu(Tensor([-3, 4]))
    assert ints.dtype == np.int64 and ints.tolist() == [0, 4], (
        f"relu of int64 [-3, 4]: expected int64 [0, 4], got {ints.dtype} {ints.tolist()}")
    leaf = Tensor([1.0, -1.0], requires_grad=True)
    node = relu(leaf).grad_fn
    assert node is not None and node.op == "relu" and node.inputs[0] is leaf, (
        "relu must record itself: Tensor.from_op(out, 'relu', (x,)) — got grad_fn "
        f"{node!r}")
    print("relu: values, dtype and recording are correct")


test_unit_relu()

# %% [markdown]
# ## 2. LeakyReLU — ReLU that never dies
#
# ```
#  leaky_relu(x) = x            for x > 0
#                  slope * x    for x <= 0      (PyTorch's default slope: 0.01)
# ```
#
# A small negative slope keeps a gradient flowing for negative inputs, so a unit can recover.
# Backward needs the slope, so it is saved: `negative_slope=...`.

# %%
#| export
def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere. Shape: any -> same."""
    _check_tensor(x, "leaky_relu")
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {negative_slope!r}")
    negative_slope = float(negative_slope)
    # Hint: max(x, 0) + negative_slope * min(x, 0) is right on both sides of 0 and needs no
    #       branching. Multiplying a float32 array by a Python float keeps float32.
    ### BEGIN SOLUTION
    out = np.maximum(x.data, 0) + negative_slope * np.minimum(x.data, 0)
    return Tensor.from_op(out, "leaky_relu", (x,), negative_slope=negative_slope)
    ### END SOLUTION

# %%
#| test
def test_unit_leaky_relu():
    x = Tensor([-100.0, -1.0, 0.0, 2.0])
    cases = [(0.01, [-1.0, -0.01, 0.0, 2.0]), (0.2, [-20.0, -0.2, 0.0, 2.0]), (0.0, [0.0, 0.0, 0.0, 2.0])]
    for slope, expected in cases:
        got = leaky_relu(x, slope)
        assert np.allclose(got.data, expected), (
            f"leaky_relu(slope={slope}): expected {expected}, got {got.data.tolist()}; "
            "likely cause: negative inputs are multiplied by the slope, positive ones pass unchanged")
        assert got.dtype == np.float32, f"leaky_relu must keep float32, got {got.dtype}"
    default = leaky_relu(Tensor([-1.0]))
    assert np.isclose(default.item(), -0.01), f"the default slope is 0.01 (PyTorch), got {default.item()}"
    leaf = Tensor([1.0], requires_grad=True)
    node = leaky_relu(leaf, 0.3).grad_fn
    assert node.op == "leaky_relu" and node.saved == {"negative_slope": 0.3}, (
        f"leaky_relu must save negative_slope for backward, got saved={node.saved}")
    print("leaky_relu: values, default slope and recording are correct")


test_unit_leaky_relu()

# %% [markdown]
# ## 3. Sigmoid — squashing to (0, 1), stably
#
# ```
#  sigmoid(x) = 1 / (1 + e^-x)          slope: sigmoid(x) * (1 - sigmoid(x))  (at most 1/4)
#
#   1 ┤            ______
#     │         .-'
# 1/2 ┤       /
#     │  __.-'
#   0 ┼──────────────────
# ```
#
# Sigmoid turns any number into a probability. Written literally, it breaks for large negative
# inputs: `e^-x` with `x = -1000` is `e^1000`, which overflows float64 (and `x = -89` already
# overflows float32). NumPy warns and returns `inf`; `1 / (1 + inf)` happens to be 0, but the
# warning is a symptom and the same pattern produces `inf / inf = nan` elsewhere.
#
# The fix: never exponentiate a positive number. Multiplying top and bottom by `e^x` gives a second
# formula for the same function, and each half of the number line has one that is safe:
#
# ```
#  x >= 0:  sigmoid(x) = 1   / (1 + e^-x)   = e^min(x,0) / (1 + e^-|x|)
#  x <  0:  sigmoid(x) = e^x / (1 + e^x)    = e^min(x,0) / (1 + e^-|x|)
# ```
#
# The right-hand side is one expression for every x, and both of its exponents are <= 0, so it can
# neither overflow nor divide by anything below 1. (Why not `np.where(x >= 0, ..., ...)`? It works,
# but on random data it is several times slower than the arithmetic: see the analysis.)
# Backward needs the output (`slope = out * (1 - out)`), so save `out=`.

# %%
#| export
def sigmoid(x: Tensor) -> Tensor:
    """Logistic function 1 / (1 + exp(-x)), elementwise and overflow-free. Shape: any -> same."""
    _check_tensor(x, "sigmoid")
    # Hint: np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x))) on the array x.data.
    #       Save the result for backward: Tensor.from_op(out, "sigmoid", (x,), out=out).
    ### BEGIN SOLUTION
    out = np.exp(np.minimum(x.data, 0)) / (1 + np.exp(-np.abs(x.data)))
    return Tensor.from_op(out, "sigmoid", (x,), out=out)
    ### END SOLUTION

# %%
#| test
def test_unit_sigmoid():
    points = [-30.0, -2.0, 0.0, 0.5, 2.0, 30.0]
    got = sigmoid(Tensor(np.array(points, dtype=np.float64)))
    expected = [1 / (1 + math.exp(-p)) for p in points]
    assert np.allclose(got.data, expected, rtol=1e-12, atol=0), (
        f"sigmoid: expected {expected}, got {got.data.tolist()}")
    # Any overflow, invalid-operation or divide-by-zero warning becomes an error here:
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        extreme = sigmoid(Tensor([-1e4, 1e4]))
    assert extreme.tolist() == [0.0, 1.0], (
        f"sigmoid(±1e4) should be exactly [0, 1], got {extreme.tolist()}; likely cause: "
        "exponentiating a large positive number — use exp(-|x|)")
    assert extreme.dtype == np.float32, f"sigmoid must keep float32, got {extreme.dtype}"
    node = sigmoid(Tensor([0.0], requires_grad=True)).grad_fn
    assert node.op == "sigmoid" and np.allclose(node.saved.get("out"), [0.5]), (
        f"sigmoid must save its output as out=..., got saved={node.saved}")
    print("sigmoid: exact values, no overflow at ±1e4, output saved for backward")


test_unit_sigmoid()

# %% [markdown]
# ## 4. Tanh — sigmoid's zero-centred sibling
#
# `tanh(x) = (e^x - e^-x) / (e^x + e^-x) = 2 sigmoid(2x) - 1`, with outputs in (-1, 1) and slope
# `1 - tanh(x)^2` (at most 1). Being centred on zero makes the next layer's inputs centred too,
# which is why tanh trained better than sigmoid in hidden layers. `np.tanh` is already stable.

# %%
#| export
def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, elementwise, in (-1, 1). Shape: any -> same."""
    _check_tensor(x, "tanh")
    # Hint: np.tanh is stable for large |x|; save the output for backward (slope 1 - out^2).
    ### BEGIN SOLUTION
    out = np.tanh(x.data)
    return Tensor.from_op(out, "tanh", (x,), out=out)
    ### END SOLUTION

# %%
#| test
def test_unit_tanh():
    points = [-1e4, -1.0, 0.0, 0.5, 1e4]
    got = tanh(Tensor(np.array(points, dtype=np.float64)))
    expected = [math.tanh(p) for p in points]
    assert np.allclose(got.data, expected, rtol=1e-12, atol=0), f"tanh: expected {expected}, got {got.tolist()}"
    identity = 2 * sigmoid(Tensor([0.7]) * 2) - 1
    assert np.allclose(tanh(Tensor([0.7])).data, identity.data, atol=1e-6), (
        "tanh(x) should equal 2*sigmoid(2x) - 1")
    node = tanh(Tensor([0.0], requires_grad=True)).grad_fn
    assert node.op == "tanh" and "out" in node.saved, f"tanh must save out=..., got {node.saved}"
    print("tanh: values, identity with sigmoid and recording are correct")


test_unit_tanh()

# %% [markdown]
# ## 5. GELU — the transformer's activation
#
# GELU weighs its input by the probability that a standard normal variable is smaller:
#
# ```
#  gelu(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt(2)))          (approximate='none', exact)
#  gelu(x) ≈ x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))  (approximate='tanh')
# ```
#
# It looks like a ReLU with a smooth elbow and a small dip below zero near `x = -0.75`. BERT and
# GPT use it. `Phi` needs the *error function* `erf(z) = 2/sqrt(pi) * integral_0^z exp(-t^2) dt`,
# and NumPy has no `erf`, so we write one.
#
# ### A vectorized erf, accurate to float64
#
# Two classical formulas, each good where the other is slow:
#
# ```
#  small |z|: erf(z)  = 2/sqrt(pi) * exp(-z^2) * sum_n  2^n z^(2n+1) / (1*3*5*...*(2n+1))
#  large |z|: erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + ...)))))
# ```
#
# The series has only positive terms (no cancellation), and needs more of them as `|z|` grows; the
# continued fraction for `erfc = 1 - erf` needs fewer levels as `|z|` grows. So we split: the series
# below a threshold (enough terms for the dtype's precision, counted from the largest `|z|`), a
# fixed-depth fraction above it, and `erf(-z) = -erf(z)` for the sign. Both are a few dozen passes
# of vectorized arithmetic. The array is processed in blocks of 32 768 elements so those passes run
# in the CPU cache instead of main memory (*cache blocking*, a standard systems trick: it makes erf
# about twice as fast here). The result agrees with Python's `math.erf` to about 1e-15 in float64.
#
# **float32 takes a shortcut.** A GPT's MLP calls erf on a million values per step, forward and
# backward, and float32 only keeps 7 digits, so the series' dozens of passes are wasted there. For
# float32, erf uses one *rational* function instead, `erf(z) ≈ z·P(z²)/Q(z²)` with P and Q of
# degree 5, fitted once to `math.erf` on `[0, 4]` (weighted least squares on the relative error,
# refined by re-weighting with the current Q; scripts/fit_erf_float32.py re-derives the
# coefficients). It is odd by construction, so no sign handling is needed. Beyond `|z| ≈ 3.9`,
# `erf(z)` rounds to ±1 in float32; the fit overshoots 1 slightly just past 4, so the input is
# clamped to ±4.2 and the result clipped to [-1, 1], which makes the tails exactly ±1. Ten
# multiply-adds and one division per element, in cache-sized blocks: about 3x faster than the
# series for float32, with a worst-case error of 4e-7 (a few float32 rounding steps).
#
# `erf` works on NumPy arrays (not Tensors): it is a numerical helper, not a recorded op. Module 05
# reuses it for GELU's gradient. It is given to you — read it, then write `gelu` below.

# %%
#| export
# Series coefficients 2^n / (1*3*5*...*(2n+1)) and, per dtype, (where to switch to the fraction,
# depth of the fraction) chosen so the error stays at the dtype's rounding level.
_ERF_SERIES = np.cumprod([1.0] + [2.0 / (2 * n + 1) for n in range(1, 64)]).tolist()
_ERF_PLAN = {np.dtype(np.float32): (1.75, 12), np.dtype(np.float64): (2.5, 24)}
_ERF_BLOCK = 1 << 15
# float32: erf(z) ≈ z·P(z²)/Q(z²) on |z| <= 4, coefficients from lowest degree up (Q starts at 1).
_ERF_F32_P = (1.1283791423636138, 0.19313288714887605, 0.05304489110745313, 0.0038652520731286984,
              0.00028409269345027886, 1.9889550754962814e-06)
_ERF_F32_Q = (1.0, 0.5044921912488215, 0.11517757384381874, 0.015170776513352722,
              0.0011810776974849483, 3.741818667122257e-05)


def _erf_series(a: np.ndarray) -> np.ndarray:
    """erf for 0 <= a < split: the positive series, summed by Horner's rule in powers of a^2."""
    tolerance = np.finfo(a.dtype).eps / 4
    u_max = float(a.max()) ** 2
    terms, total = 0, 1.0  # count the terms the largest element needs; smaller ones need fewer
    while _ERF_SERIES[terms] * u_max**terms > tolerance * total:
        terms += 1
        total += _ERF_SERIES[terms] * u_max**terms
    u = a * a
    p = np.full_like(a, _ERF_SERIES[terms])
    for coefficient in reversed(_ERF_SERIES[:terms]):
        p *= u
        p += coefficient
    p *= np.exp(-u) * a
    p *= 2 / math.sqrt(math.pi)
    return p


def _erf_fraction(a: np.ndarray, depth: int) -> np.ndarray:
    """erf for a >= split: 1 - erfc(a), erfc from its continued fraction evaluated bottom-up."""
    f = a.copy()
    for k in range(depth, 0, -1):
        np.divide(k / 2, f, out=f)
        f += a
    f *= math.sqrt(math.pi)
    with np.errstate(over="ignore"):  # a*a overflowing to inf is fine: exp(-inf) = 0
        return 1 - np.exp(-a * a) / f


def _erf_rational_block(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """float32 erf of one cache-sized block: z·P(z²)/Q(z²) on z clamped to [-4.2, 4.2], clipped to [-1, 1]."""
    z = np.clip(z, -4.2, 4.2)
    u = z * z
    num, den = np.full_like(z, _ERF_F32_P[-1]), np.full_like(z, _ERF_F32_Q[-1])
    for p, q in zip(_ERF_F32_P[-2::-1], _ERF_F32_Q[-2::-1]):
        num *= u
        num += p
        den *= u
        den += q
    num *= z
    np.divide(num, den, out=out)
    return np.clip(out, -1.0, 1.0, out=out)  # past |z| = 4 the fit overshoots 1 a little: saturate exactly


def _erf_rational_f32(x: np.ndarray) -> np.ndarray:
    """float32 erf, block by block (the blocks stay in the CPU cache)."""
    flat = x.ravel()
    out = np.empty_like(flat)
    for start in range(0, flat.size, _ERF_BLOCK):
        _erf_rational_block(flat[start:start + _ERF_BLOCK], out[start:start + _ERF_BLOCK])
    return out.reshape(x.shape)


def _gelu_exact_f32(x: np.ndarray) -> np.ndarray:
    """float32 x/2 · (1 + erf(x/√2)), each block finished while it is still in the cache."""
    flat = x.ravel()
    out = np.empty_like(flat)
    for start in range(0, flat.size, _ERF_BLOCK):
        a, dest = flat[start:start + _ERF_BLOCK], out[start:start + _ERF_BLOCK]
        _erf_rational_block(a * (1 / math.sqrt(2)), dest)
        dest += 1
        dest *= a
        dest *= 0.5
    return out.reshape(x.shape)


def erf(x) -> np.ndarray:
    """Error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt, elementwise on an ndarray.

    Shape and floating dtype are kept (other dtypes give float64). Max abs error ~1e-15 in float64,
    4e-7 in float32 (a rational approximation there, see above).
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        return _erf_rational_f32(x)
    work = x if x.dtype in _ERF_PLAN else x.astype(np.float32 if x.dtype == np.float16 else np.float64)
    split, depth = _ERF_PLAN[work.dtype]
    a = np.abs(work).ravel()
    out = np.empty_like(a)
    for start in range(0, a.size, _ERF_BLOCK):
        block, dest = a[start:start + _ERF_BLOCK], out[start:start + _ERF_BLOCK]
        near = np.flatnonzero(block < split)
        if near.size == block.size:
            dest[...] = _erf_series(block)
            continue
        far = np.flatnonzero(block >= split)
        if near.size:
            np.put(dest, near, _erf_series(np.take(block, near)))
        if far.size:
            np.put(dest, far, _erf_fraction(np.take(block, far), depth))
        if near.size + far.size < block.size:  # NaN compares false both ways: erf(nan) = nan
            dest[np.isnan(block)] = np.nan
    out = np.copysign(out.reshape(work.shape), work)
    return out.astype(x.dtype, copy=False) if x.dtype.kind == "f" else out

# %% [markdown]
# Now GELU. Both forms are a handful of array operations; save `approximate` so backward knows
# which formula to differentiate. Constants like `1 / sqrt(2)` are Python floats, which keep a
# float32 array float32. (The package also finishes the exact float32 form inside erf's cache
# blocks, `_gelu_exact_f32`, so that the million-element activations of a GPT's MLP are read from
# main memory once instead of five times; writing the one-line formula is enough here.)

# %%
#| export
def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit x * Phi(x). approximate='none' (erf, exact) or 'tanh'. Shape kept."""
    _check_tensor(x, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    # Hint: exact:  0.5 * x * (1 + erf(x / sqrt(2)))
    #       tanh:   0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))
    ### BEGIN SOLUTION
    a = x.data
    if approximate == "none" and a.dtype == np.float32:
        out = _gelu_exact_f32(a)  # the same formula, computed block by block in the cache
    elif approximate == "none":
        out = 0.5 * a * (1 + erf(a * (1 / math.sqrt(2))))
    else:
        out = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)))
    return Tensor.from_op(out, "gelu", (x,), approximate=approximate)
    ### END SOLUTION

# %%
#| test
def test_unit_erf_and_gelu():
    grid = np.linspace(-7, 7, 20001)
    reference = np.array([math.erf(z) for z in grid])
    worst = np.max(np.abs(erf(grid) - reference))
    assert worst < 1e-13, f"erf should match math.erf to ~1e-15 in float64, worst error {worst:.2e}"
    assert erf(grid.astype(np.float32)).dtype == np.float32, "erf must keep float32 float32"
    worst32 = np.max(np.abs(erf(grid.astype(np.float32)) - reference))
    assert worst32 < 5e-7, f"float32 erf (the rational fit) should be within 5e-7 of math.erf, got {worst32:.2e}"
    points = [-3.0, -0.75, 0.0, 0.5, 1.0, 4.0]
    exact = gelu(Tensor(np.array(points, dtype=np.float64)))
    expected = [p * 0.5 * (1 + math.erf(p / math.sqrt(2))) for p in points]
    assert np.allclose(exact.data, expected, rtol=1e-12, atol=1e-15), (
        f"gelu (exact): expected {expected}, got {exact.tolist()}; likely cause: erf argument "
        "should be x / sqrt(2)")
    approx = gelu(Tensor(np.array(points, dtype=np.float64)), approximate="tanh")
    expected_tanh = [0.5 * p * (1 + math.tanh(math.sqrt(2 / math.pi) * (p + 0.044715 * p**3)))
                     for p in points]
    assert np.allclose(approx.data, expected_tanh, rtol=1e-12, atol=1e-15), (
        f"gelu (tanh): expected {expected_tanh}, got {approx.tolist()}")
    assert np.max(np.abs(approx.data - exact.data)) < 1e-3, "the tanh form should be within 1e-3 of exact"
    assert gelu(Tensor([1.0])).dtype == np.float32, "gelu must keep float32"
    node = gelu(Tensor([1.0], requires_grad=True), approximate="tanh").grad_fn
    assert node.op == "gelu" and node.saved == {"approximate": "tanh"}, (
        f"gelu must save approximate=..., got {node.saved}")
    print("erf matches math.erf; gelu (exact and tanh) values and recording are correct")


test_unit_erf_and_gelu()

# %% [markdown]
# ## 6. SiLU (swish) — x times its own gate
#
# `silu(x) = x * sigmoid(x)`. Like GELU it is smooth, dips slightly below zero, and grows like ReLU
# for large x; it is cheaper (no erf) and is the activation of many vision and language models.
# Reuse the stable sigmoid formula on the arrays (not the `sigmoid` Tensor function: one recorded
# op, not two). Backward recomputes the sigmoid from `x`, so nothing is saved.

# %%
#| export
def silu(x: Tensor) -> Tensor:
    """Sigmoid-weighted linear unit x * sigmoid(x), elementwise. Shape: any -> same."""
    _check_tensor(x, "silu")
    # Hint: the same overflow-free sigmoid formula as above, then multiply by x.
    ### BEGIN SOLUTION
    gate = np.exp(np.minimum(x.data, 0)) / (1 + np.exp(-np.abs(x.data)))
    return Tensor.from_op(x.data * gate, "silu", (x,))
    ### END SOLUTION

# %%
#| test
def test_unit_silu():
    points = [-1e4, -2.0, 0.0, 1.5, 1e4]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = silu(Tensor(np.array(points, dtype=np.float64)))
    expected = [0.0, -2.0 / (1 + math.exp(2.0)), 0.0, 1.5 / (1 + math.exp(-1.5)), 1e4]
    assert np.allclose(got.data, expected, rtol=1e-12, atol=1e-300), (
        f"silu: expected {expected}, got {got.tolist()}; likely cause: silu is x * sigmoid(x)")
    node = silu(Tensor([1.0], requires_grad=True)).grad_fn
    assert node.op == "silu" and node.inputs[0].shape == (1,), f"silu must record op 'silu', got {node}"
    print("silu: values (stable at ±1e4) and recording are correct")


test_unit_silu()

# %% [markdown]
# ## 7. Softmax and LogSoftmax — from scores to a distribution
#
# Softmax turns a vector of scores (logits) into probabilities along one dimension:
#
# ```
#  softmax(x)_i = e^(x_i) / sum_j e^(x_j)           logits [2, 1, 0.1] -> [0.66, 0.24, 0.10]
# ```
#
# `dim` says which dimension is the distribution: for a batch of logits of shape (N, C) it is the
# class dimension, `dim=1` (or `dim=-1`). PyTorch once guessed `dim` when it was left out and now
# warns about it; here `dim` is required, so a wrong guess can never silently normalise over the
# batch.
#
# **Stability.** `e^1000` overflows. But softmax does not change when every input shifts by the
# same constant (the `e^c` cancels between top and bottom), so subtract the maximum first:
#
# ```
#  m = max_j x_j;   softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m)
# ```
#
# Now every exponent is <= 0, the largest term is exactly `e^0 = 1`, and the sum is in [1, C] —
# no overflow, and no division by an underflowed 0.
#
# **LogSoftmax.** Losses want `log softmax`, and `log(softmax(x))` is fragile: a probability that
# underflows to 0 gives `log 0 = -inf`. Take the log of the shifted formula instead:
#
# ```
#  log_softmax(x)_i = (x_i - m) - log sum_j e^(x_j - m)        ("log-sum-exp" trick)
# ```
#
# which is finite whenever the inputs are. Both save `dim` (as a non-negative int) and `out`.

# %%
#| export
def softmax(x: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (entries along dim sum to 1), max-shifted. Shape kept."""
    _check_tensor(x, "softmax")
    axis = _check_dim(dim, x.ndim, "softmax")
    # Hint: shifted = x.data - x.data.max(axis=axis, keepdims=True); e = np.exp(shifted);
    #       out = e / e.sum(axis=axis, keepdims=True). Save dim=axis and out=out.
    ### BEGIN SOLUTION
    shifted = x.data - x.data.max(axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(shifted)
    out = e / e.sum(axis=axis, keepdims=True)
    return Tensor.from_op(out, "softmax", (x,), dim=axis, out=out)
    ### END SOLUTION


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log(softmax(x)) along `dim`, computed as (x - m) - log(sum(exp(x - m))). Shape kept."""
    _check_tensor(x, "log_softmax")
    axis = _check_dim(dim, x.ndim, "log_softmax")
    # Hint: shift by the max as in softmax, then subtract np.log of the summed exponentials.
    ### BEGIN SOLUTION
    shifted = x.data - x.data.max(axis=axis, keepdims=True, initial=-np.inf)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return Tensor.from_op(out, "log_softmax", (x,), dim=axis, out=out)
    ### END SOLUTION

# %%
#| test
def test_unit_softmax():
    logits = Tensor(np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]], dtype=np.float64))
    probs = softmax(logits, dim=1)
    row = [math.exp(v) for v in (2.0, 1.0, 0.1)]
    expected = [[v / sum(row) for v in row], [1 / 3] * 3]
    assert np.allclose(probs.data, expected, rtol=1e-12), (
        f"softmax(dim=1): expected {expected}, got {probs.tolist()}")
    assert np.allclose(probs.data.sum(axis=1), 1.0), "each row of softmax(dim=1) must sum to 1"
    columns = softmax(logits, dim=0)
    assert np.allclose(columns.data.sum(axis=0), 1.0), (
        "softmax(dim=0) normalises each column; likely cause: dim was ignored")
    assert np.allclose(softmax(logits, dim=-1).data, probs.data), "dim=-1 is the last dimension"
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        big = softmax(Tensor([1e4, 0.0, -1e4]), dim=0)
        logp = log_softmax(Tensor([1e4, 0.0, -1e4]), dim=0)
    assert big.tolist() == [1.0, 0.0, 0.0], (
        f"softmax([1e4, 0, -1e4]) should be [1, 0, 0], got {big.tolist()}; likely cause: "
        "forgot to subtract the max before exp")
    assert np.allclose(logp.data, [0.0, -1e4, -2e4]), (
        f"log_softmax([1e4, 0, -1e4]) should be [0, -1e4, -2e4] (finite!), got {logp.tolist()}")
    assert np.allclose(log_softmax(logits, 1).data, np.log(probs.data)), "log_softmax = log(softmax)"
    node = log_softmax(Tensor([[1.0, 2.0]], requires_grad=True), dim=-1).grad_fn
    assert node.op == "log_softmax" and node.saved["dim"] == 1 and "out" in node.saved, (
        f"log_softmax must save dim as a non-negative int and out=..., got {node.saved}")
    print("softmax/log_softmax: values, any dim, stable at ±1e4, recording are correct")


test_unit_softmax()

# %% [markdown]
# ## 8. The same functions as objects
#
# PyTorch offers every activation twice: as a function (`F.relu(x)`) and as an object you put in a
# model (`nn.ReLU()`), which remembers its settings (`nn.LeakyReLU(0.2)`, `nn.Softmax(dim=1)`) and
# prints them. Here are the objects, each a small callable: `act(x)` runs `act.forward(x)`.
#
# **Why these are not Modules yet.** In PyTorch `nn.ReLU` is an `nn.Module`, but `Module` — the class
# that finds a model's parameters, switches train/eval mode and saves state — is the subject of
# module 03, and a module never imports a later one. So this module keeps the *functions* as the
# real work and gives each a plain callable class with PyTorch's name, arguments and printout.
# Module 03 then defines `Module` and the `tinytorch.nn` activation classes as thin Modules whose
# `forward` calls these same functions — exactly how PyTorch's own `nn.ReLU.forward` calls
# `F.relu`. Nothing here is patched later; the maths lives in one place.

# %%
#| export
class Activation:
    """A stateless activation object: `act(x)` calls `act.forward(x)`; printed like PyTorch.

    Module 03 turns each class below into a Module by inheriting from it and from `Module`;
    the `super().__init__()` calls are what let the two bases cooperate.
    """

    def __init__(self) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def extra_repr(self) -> str:
        """The settings shown inside the parentheses of repr (empty when there are none)."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class ReLU(Activation):
    """max(0, x) elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return relu(x)


class LeakyReLU(Activation):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, got {negative_slope!r}")
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Activation):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return sigmoid(x)


class Tanh(Activation):
    """tanh(x) elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return tanh(x)


class GELU(Activation):
    """x * Phi(x); approximate='none' (erf) or 'tanh'."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Activation):
    """x * sigmoid(x) elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return silu(x)


class Softmax(Activation):
    """softmax along `dim` (required)."""

    def __init__(self, dim: int):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"Softmax: dim must be an int, got {dim!r}")
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Activation):
    """log_softmax along `dim` (required)."""

    def __init__(self, dim: int):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"LogSoftmax: dim must be an int, got {dim!r}")
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

# %%
#| test
def test_unit_activation_objects():
    x = Tensor([[-1.0, 0.5, 2.0]])
    pairs = [(ReLU(), relu(x)), (LeakyReLU(0.2), leaky_relu(x, 0.2)), (Sigmoid(), sigmoid(x)),
             (Tanh(), tanh(x)), (GELU(), gelu(x)), (GELU("tanh"), gelu(x, "tanh")), (SiLU(), silu(x)),
             (Softmax(dim=1), softmax(x, 1)), (LogSoftmax(dim=-1), log_softmax(x, -1))]
    for obj, expected in pairs:
        got = obj(x)
        assert np.array_equal(got.data, expected.data), (
            f"{obj!r}(x) should equal its function's result {expected.tolist()}, got {got.tolist()}")
    shown = [repr(obj) for obj, _ in pairs]
    assert shown == ["ReLU()", "LeakyReLU(negative_slope=0.2)", "Sigmoid()", "Tanh()",
                     "GELU(approximate='none')", "GELU(approximate='tanh')", "SiLU()", "Softmax(dim=1)",
                     "LogSoftmax(dim=-1)"], f"reprs should look like PyTorch's, got {shown}"
    print("activation objects: call the functions and print like PyTorch")


test_unit_activation_objects()

# %% [markdown]
# ## Analysis — cost, saturation, stability
#
# ### Cost per element
#
# Each activation runs once per hidden unit per example per step, forward and backward. Time each
# on one million float32 elements (your numbers depend on your machine; the ratios are what to read):

# %%
#| analysis
import time


def time_per_call(fn, x, repeats: int = 5) -> float:
    """Best of `repeats` wall-clock times of fn(x), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - start)
    return best


million = Tensor(np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32))
contenders = [("relu", relu), ("leaky_relu", leaky_relu), ("sigmoid", sigmoid), ("tanh", tanh),
              ("silu", silu), ("gelu (tanh)", lambda t: gelu(t, "tanh")), ("gelu (erf)", gelu),
              ("softmax", lambda t: softmax(t, 0)), ("log_softmax", lambda t: log_softmax(t, 0))]
baseline = time_per_call(relu, million)
print(f"{'activation':<13}{'ms / 1M':>9}{'ns / elem':>11}{'x relu':>8}")
for label, fn in contenders:
    seconds = time_per_call(fn, million)
    print(f"{label:<13}{seconds * 1e3:>9.2f}{seconds * 1e9 / million.numel():>11.2f}"
          f"{seconds / baseline:>8.1f}")

# The same cost per element across sizes: a flat line means time grows linearly with size; small
# tensors pay a fixed per-call overhead, large ones leave the CPU caches.
from tito.plots import plot_lines

sizes = [10_000, 100_000, 1_000_000, 4_000_000]
per_element = {"relu": [], "sigmoid": [], "gelu (erf)": []}
for n in sizes:
    x = Tensor(np.random.default_rng(1).standard_normal(n).astype(np.float32))
    for label in per_element:
        per_element[label].append(time_per_call(dict(contenders)[label], x, repeats=3) * 1e9 / n)
plot_lines("activation_cost_vs_size", sizes, per_element, xlabel="elements per tensor",
           ylabel="ns per element", title="Activation cost per element", logx=True, logy=True)

# %% [markdown]
# ReLU and tanh are one pass over memory; sigmoid and SiLU make about six (two `exp`, a division,
# ...); exact GELU pays for the dozens of passes inside `erf` (a compiled library evaluates erf in a
# few instructions per element, NumPy makes one pass per operation). That gap is why the tanh
# approximation of GELU exists.
#
# **Branches cost too.** Sigmoid could have been written with `np.where(x >= 0, a, b)`. On random
# data the CPU cannot predict which side each element takes, and NumPy's `where` pays for every
# misprediction. Measure the same select on random and on sorted data:

# %%
#| analysis
data = million.data
ordered = np.sort(data)
select_random = time_per_call(lambda a: np.where(a >= 0, a, 0.01 * a), data)
select_sorted = time_per_call(lambda a: np.where(a >= 0, a, 0.01 * a), ordered)
arithmetic = time_per_call(lambda a: np.maximum(a, 0) + 0.01 * np.minimum(a, 0), data)
print(f"np.where on random data : {select_random * 1e3:6.2f} ms")
print(f"np.where on sorted data : {select_sorted * 1e3:6.2f} ms   (same work, predictable branch)")
print(f"max/min arithmetic      : {arithmetic * 1e3:6.2f} ms   (what leaky_relu does)")
#
# ### Saturation: where the slope vanishes
#
# Backpropagation multiplies the activation's slope into the gradient at every layer. We do not have
# autograd yet (module 05), but we can *measure* slopes with central differences,
# `(f(x + h) - f(x - h)) / 2h`, on our own functions:

# %%
#| analysis
def slope(fn, points, h: float = 1e-5) -> np.ndarray:
    """Numerical derivative of an elementwise activation at `points` (float64)."""
    x = np.asarray(points, dtype=np.float64)
    return (fn(Tensor(x + h)).data - fn(Tensor(x - h)).data) / (2 * h)


points = [-10.0, -5.0, -2.0, -0.5, 0.5, 2.0, 5.0, 10.0]
print(f"{'x':<12}" + "".join(f"{p:>9.1f}" for p in points))
for label, fn in [("relu", relu), ("leaky_relu", leaky_relu), ("sigmoid", sigmoid),
                  ("tanh", tanh), ("gelu", gelu), ("silu", silu)]:
    print(f"{label:<12}" + "".join(f"{s:>9.4f}" for s in slope(fn, points)))
depth = 10
print(f"\nproduct of {depth} slopes at x = 2 (a gradient through {depth} layers, weights ignored):")
for label, fn in [("relu", relu), ("sigmoid", sigmoid), ("tanh", tanh)]:
    print(f"  {label:<8} {slope(fn, [2.0])[0] ** depth:.3e}")

# %% [markdown]
# Sigmoid's slope is at most 0.25 and tanh's slope at x = 2 is about 0.07: ten layers multiply the
# gradient by ~1e-10 or less, while ReLU passes it unchanged. This *vanishing gradient* is why deep
# networks switched to ReLU-like activations. ReLU's own failure mode is the exact 0 on the left.
#
# ### Stability: the naive formulas
#
# What the careful formulas buy, measured. We ask NumPy to report overflow, invalid operations
# (such as `inf / inf`) and division by zero, and count the reports (underflow to 0 is harmless and
# not counted):

# %%
#| analysis
import warnings


def run_and_count_warnings(fn):
    """(fn(), the NumPy floating-point warnings it raised)."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", invalid="warn",
                                                                      divide="warn", under="ignore"):
        warnings.simplefilter("always")
        result = fn()
    return result, sorted({str(w.message) for w in caught})


extreme = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=np.float32)
demos = [
    ("naive sigmoid 1/(1+exp(-x))", lambda: 1 / (1 + np.exp(-extreme))),
    ("stable sigmoid", lambda: sigmoid(Tensor(extreme)).data),
    ("naive softmax exp(x)/sum", lambda: np.exp(extreme) / np.exp(extreme).sum()),
    ("stable softmax", lambda: softmax(Tensor(extreme), dim=0).data),
    ("naive log(softmax)", lambda: np.log(softmax(Tensor(extreme), dim=0).data)),
    ("log_softmax", lambda: log_softmax(Tensor(extreme), dim=0).data),
]
print("x =", extreme)
for label, fn in demos:
    values, problems = run_and_count_warnings(fn)
    print(f"{label:<28} {np.array2string(values, precision=3):<48} warnings: {problems or 'none'}")

# %% [markdown]
# The naive sigmoid overflows (`exp(1e4) = inf`) and only lands on the right answer because
# `1 / inf` happens to be 0; the naive softmax computes `inf / inf = nan`. The stable versions are
# exact and silent. And `log(softmax)` turns the probabilities that rounded to 0 into `-inf`, while
# log_softmax keeps them as the finite log-probabilities (`-2e4`, ...) that a loss needs.

# %% [markdown]
# ## Reflection
#
# **Q1.** A 50-layer network uses sigmoid everywhere and its first layers barely change during
# training. Using the saturation table, explain why, and say what you would change.

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** `softmax(x - c)` equals `softmax(x)` for any constant `c`. Why is `c = max(x)` the choice
# that guarantees no overflow *and* a denominator of at least 1? What would go wrong with
# `c = min(x)`?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** Exact GELU costs many times more than ReLU here. Estimate the share of a training step
# it would take in an MLP with hidden width 4·d, compared with the two matrix multiplications
# around it (about 2·d FLOPs per hidden element each). When is the tanh approximation worth it?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - Nonlinear activations are what make depth useful; without them layers collapse to one matrix.
# - Each function computes on `x.data` and records itself with `Tensor.from_op`, saving only what
#   backward needs (`out` for sigmoid/tanh/softmax, settings such as `negative_slope`).
# - Never exponentiate a large positive number: `exp(-|x|)` for sigmoid, subtract the max for
#   softmax, and log-sum-exp for log_softmax.
# - Saturating activations shrink gradients layer after layer; ReLU-like ones do not.
#
# Next, module 03 builds `Module`, `Linear` and friends — and turns these activations into Modules.
