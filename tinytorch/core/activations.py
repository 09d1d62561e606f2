# Generated from modules/02_activations/activations.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.core.tensor import Tensor


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


def relu(x: Tensor) -> Tensor:
    """Rectified linear unit, elementwise: max(0, x). Shape: any -> same. dtype kept."""
    _check_tensor(x, "relu", float_only=False)
    # Hint: np.maximum(array, 0) compares elementwise and keeps the array's dtype.
    return Tensor.from_op(np.maximum(x.data, 0), "relu", (x,))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere. Shape: any -> same."""
    _check_tensor(x, "leaky_relu")
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {negative_slope!r}")
    negative_slope = float(negative_slope)
    # Hint: max(x, 0) + negative_slope * min(x, 0) is right on both sides of 0 and needs no
    #       branching. Multiplying a float32 array by a Python float keeps float32.
    out = np.maximum(x.data, 0) + negative_slope * np.minimum(x.data, 0)
    return Tensor.from_op(out, "leaky_relu", (x,), negative_slope=negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    """Logistic function 1 / (1 + exp(-x)), elementwise and overflow-free. Shape: any -> same."""
    _check_tensor(x, "sigmoid")
    # Hint: np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x))) on the array x.data.
    #       Save the result for backward: Tensor.from_op(out, "sigmoid", (x,), out=out).
    out = np.exp(np.minimum(x.data, 0)) / (1 + np.exp(-np.abs(x.data)))
    return Tensor.from_op(out, "sigmoid", (x,), out=out)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, elementwise, in (-1, 1). Shape: any -> same."""
    _check_tensor(x, "tanh")
    # Hint: np.tanh is stable for large |x|; save the output for backward (slope 1 - out^2).
    out = np.tanh(x.data)
    return Tensor.from_op(out, "tanh", (x,), out=out)


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


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit x * Phi(x). approximate='none' (erf, exact) or 'tanh'. Shape kept."""
    _check_tensor(x, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    # Hint: exact:  0.5 * x * (1 + erf(x / sqrt(2)))
    #       tanh:   0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))
    a = x.data
    if approximate == "none" and a.dtype == np.float32:
        out = _gelu_exact_f32(a)  # the same formula, computed block by block in the cache
    elif approximate == "none":
        out = 0.5 * a * (1 + erf(a * (1 / math.sqrt(2))))
    else:
        out = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)))
    return Tensor.from_op(out, "gelu", (x,), approximate=approximate)


def silu(x: Tensor) -> Tensor:
    """Sigmoid-weighted linear unit x * sigmoid(x), elementwise. Shape: any -> same."""
    _check_tensor(x, "silu")
    # Hint: the same overflow-free sigmoid formula as above, then multiply by x.
    gate = np.exp(np.minimum(x.data, 0)) / (1 + np.exp(-np.abs(x.data)))
    return Tensor.from_op(x.data * gate, "silu", (x,))


def softmax(x: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (entries along dim sum to 1), max-shifted. Shape kept."""
    _check_tensor(x, "softmax")
    axis = _check_dim(dim, x.ndim, "softmax")
    # Hint: shifted = x.data - x.data.max(axis=axis, keepdims=True); e = np.exp(shifted);
    #       out = e / e.sum(axis=axis, keepdims=True). Save dim=axis and out=out.
    shifted = x.data - x.data.max(axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(shifted)
    out = e / e.sum(axis=axis, keepdims=True)
    return Tensor.from_op(out, "softmax", (x,), dim=axis, out=out)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log(softmax(x)) along `dim`, computed as (x - m) - log(sum(exp(x - m))). Shape kept."""
    _check_tensor(x, "log_softmax")
    axis = _check_dim(dim, x.ndim, "log_softmax")
    # Hint: shift by the max as in softmax, then subtract np.log of the summed exponentials.
    shifted = x.data - x.data.max(axis=axis, keepdims=True, initial=-np.inf)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return Tensor.from_op(out, "log_softmax", (x,), dim=axis, out=out)


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
