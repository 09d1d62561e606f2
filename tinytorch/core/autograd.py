# Generated from modules/05_autograd/autograd.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from tinytorch.core.activations import erf
from tinytorch.core.tensor import Node, Tensor, grad_mode, inplace_changes, is_grad_enabled, matmul_arrays


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing the broadcasting that stretched an input of `shape`.

    Shapes: grad (*lead, *s) -> shape, where `s` is `shape` with some size-1 axes stretched.
    Math: every prepended axis and every stretched size-1 axis is summed (one np.sum call).
    Returns `grad` itself when the shapes already match (no copy).
    """
    # Hint: the prepended axes are 0 .. grad.ndim - len(shape) - 1. A stretched axis i of
    #       `shape` has shape[i] == 1 while the matching axis of grad does not. Collect all
    #       of them, sum once with keepdims=True, then reshape to `shape`.
    #       Raise ValueError when grad cannot come from broadcasting `shape` (a rule's bug).
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"unbroadcast: a gradient of shape {grad.shape} has fewer dimensions than "
                         f"the input shape {shape}; the gradient rule returned the wrong shape")
    axes = tuple(range(lead)) + tuple(lead + i for i, size in enumerate(shape)
                                      if size == 1 and grad.shape[lead + i] != 1)
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    if summed.shape[lead:] != shape:
        raise ValueError(f"unbroadcast: a gradient of shape {grad.shape} cannot be summed down "
                         f"to {shape}: they do not broadcast; the gradient rule returned the "
                         "wrong shape")
    return summed.reshape(shape)


def _wants(node: Node, i: int) -> bool:
    """Does input i of this node need a gradient? (Lets a rule skip work nobody will use.)"""
    return node.inputs[i].requires_grad


def add_backward(node: Node, grad: np.ndarray):
    """c = a + b  ->  (dL/da, dL/db) = (g, g), in the broadcast shape of c."""
    return grad, grad


def sub_backward(node: Node, grad: np.ndarray):
    """c = a - b  ->  (g, -g)."""
    return grad, (-grad if _wants(node, 1) else None)


def mul_backward(node: Node, grad: np.ndarray):
    """c = a * b  ->  (g * b, g * a)."""
    # Hint: node.inputs are Tensors; use their .data arrays. Skip an input with _wants(node, i).
    a, b = node.inputs
    return (grad * b.data if _wants(node, 0) else None,
            grad * a.data if _wants(node, 1) else None)


def div_backward(node: Node, grad: np.ndarray):
    """c = a / b  ->  (g / b, -g * a / b**2)."""
    a, b = node.inputs
    grad_a = grad / b.data if _wants(node, 0) else None
    grad_b = -grad * a.data / (b.data * b.data) if _wants(node, 1) else None
    return grad_a, grad_b


def neg_backward(node: Node, grad: np.ndarray):
    """c = -a  ->  (-g,)."""
    return (-grad,)


def pow_backward(node: Node, grad: np.ndarray):
    """c = a ** b (saved: out = c)  ->  (g * b * a**(b-1), g * c * ln a), with PyTorch's zeros.

    Gradient of a is 0 where b == 0; gradient of b is 0 where a == 0 and b >= 0.
    """
    # Hint: np.where(condition, 0, formula) applies a special case; wrap the formulas in
    #       np.errstate(divide="ignore", invalid="ignore") because 0 ** -1 and log(0) warn.
    a, b = node.inputs
    base, exponent, out = a.data, b.data, node.saved["out"]
    grad_a = grad_b = None
    with np.errstate(divide="ignore", invalid="ignore"):
        if _wants(node, 0):
            if exponent.ndim == 0:  # a number: no mask needed
                if exponent == 2:  # the common square: 2a, no pow call
                    grad_a = grad * (2 * base)
                elif exponent == 0:
                    grad_a = np.zeros(np.broadcast_shapes(grad.shape, base.shape), grad.dtype)
                else:
                    grad_a = grad * (exponent * base ** (exponent - 1))
            else:
                grad_a = np.where(exponent == 0, 0, grad * exponent * base ** (exponent - 1))
        if _wants(node, 1):
            grad_b = np.where((base == 0) & (exponent >= 0), 0, grad * out * np.log(base))
    return grad_a, grad_b


def matmul_backward(node: Node, grad: np.ndarray):
    """C = A @ B (NumPy matmul semantics)  ->  (G @ Bᵀ, Aᵀ @ G) on the last two axes.

    Shapes: A (..., m, k) or (k,); B (..., k, n) or (k,); G has C's shape.
    Batch axes of the result may be broadcast; the engine sums them with unbroadcast.
    """
    # Hint: promote 1-D operands first: a (k,) -> (1, k), b (k,) -> (k, 1), and put the
    #       missing axis back into G with np.expand_dims. After computing, drop the axis you
    #       added (index [..., 0, :] for a, [..., 0] for b). Multiply with module 01's
    #       matmul_arrays (np.matmul that keeps float16 fast), like the forward.
    a, b = node.inputs
    A, B = a.data, b.data
    if A.ndim == 1 and B.ndim == 1:  # dot product: C is a scalar
        return (grad * B if _wants(node, 0) else None, grad * A if _wants(node, 1) else None)
    A2 = A[None, :] if A.ndim == 1 else A
    B2 = B[:, None] if B.ndim == 1 else B
    G = grad
    if A.ndim == 1:
        G = np.expand_dims(G, -2)
    if B.ndim == 1:
        G = np.expand_dims(G, -1)
    grad_a = grad_b = None
    if _wants(node, 0):
        grad_a = matmul_arrays(G, np.swapaxes(B2, -1, -2))
        if A.ndim == 1:
            grad_a = grad_a[..., 0, :]
    if _wants(node, 1):
        if B2.ndim == 2:  # shared weight: one big product instead of a batch of small ones
            k, n = B2.shape
            A_flat, G_flat = A2.reshape(-1, k), G.reshape(-1, n)
            if B2.flags.f_contiguous and not B2.flags.c_contiguous:
                # B is a transposed view (Linear's `weight.T`): build dB in B's layout, so the
                # gradient that reaches the weight is row-major like the weight, with no copy.
                grad_b = matmul_arrays(G_flat.T, A_flat).T
            else:
                grad_b = matmul_arrays(A_flat.T, G_flat)
        else:
            grad_b = matmul_arrays(np.swapaxes(A2, -1, -2), G)
        if B.ndim == 1:
            grad_b = grad_b[..., 0]
    return grad_a, grad_b


def _restore_dims(grad: np.ndarray, dim, keepdim: bool) -> np.ndarray:
    """Put reduced axes back as size 1 so grad broadcasts against the input (keepdim=False case)."""
    return grad if dim is None or keepdim else np.expand_dims(grad, dim)


def _count(shape: tuple, dim) -> int:
    """How many elements a reduction over `dim` (tuple or None) combined into each output."""
    return math.prod(shape) if dim is None else math.prod(shape[d] for d in dim)


def sum_backward(node: Node, grad: np.ndarray):
    """out = a.sum(dim, keepdim) (saved: dim tuple or None, keepdim)  ->  g broadcast to a.shape."""
    (a,) = node.inputs
    grad = _restore_dims(grad, node.saved["dim"], node.saved["keepdim"])
    return (np.broadcast_to(grad, a.shape),)


def mean_backward(node: Node, grad: np.ndarray):
    """out = a.mean(dim, keepdim)  ->  g / N broadcast to a.shape (N = elements per mean)."""
    # Hint: divide the small array before broadcasting it: N times less work.
    (a,) = node.inputs
    dim = node.saved["dim"]
    grad = _restore_dims(grad, dim, node.saved["keepdim"]) / _count(a.shape, dim)
    return (np.broadcast_to(grad, a.shape),)


def _extreme_backward(node: Node, grad: np.ndarray, extreme) -> tuple:
    """Shared body of max/min backward; `extreme` is np.max or np.min (used when dim is None)."""
    (a,) = node.inputs
    dim = node.saved["dim"]
    if dim is None:  # one value for the whole tensor: split evenly among the tied extremes
        ties = a.data == extreme(a.data)
        return (np.where(ties, grad / np.count_nonzero(ties), 0).astype(grad.dtype, copy=False),)
    grad = _restore_dims(grad, (dim,), node.saved["keepdim"])
    out = np.zeros(a.shape, dtype=grad.dtype)
    np.put_along_axis(out, node.saved["indices"], grad, axis=dim)
    return (out,)


def max_backward(node: Node, grad: np.ndarray):
    """out = a.max() or a.max(dim).values  ->  g at the argmax (ties share it if dim is None)."""
    return _extreme_backward(node, grad, np.max)


def min_backward(node: Node, grad: np.ndarray):
    """out = a.min() or a.min(dim).values  ->  g at the argmin (ties share it if dim is None)."""
    return _extreme_backward(node, grad, np.min)


def var_backward(node: Node, grad: np.ndarray):
    """out = a.var(dim, keepdim, correction)  ->  g * 2 (a - mean) / (N - correction)."""
    (a,) = node.inputs
    dim, correction = node.saved["dim"], node.saved["correction"]
    grad = _restore_dims(grad, dim, node.saved["keepdim"])
    centered = a.data - a.data.mean(axis=dim, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # N <= correction: inf/nan, as PyTorch
        scale = np.divide(2.0, _count(a.shape, dim) - correction, dtype=a.data.dtype)
        return (grad * centered * scale,)


def exp_backward(node: Node, grad: np.ndarray):
    """out = exp(a)  ->  (g * out,)."""
    return (grad * node.saved["out"],)


def sqrt_backward(node: Node, grad: np.ndarray):
    """out = sqrt(a)  ->  (g / (2 out),)."""
    with np.errstate(divide="ignore"):
        return (grad / (2 * node.saved["out"]),)


def log_backward(node: Node, grad: np.ndarray):
    """out = log(a)  ->  (g / a,)."""
    with np.errstate(divide="ignore"):
        return (grad / node.inputs[0].data,)


def abs_backward(node: Node, grad: np.ndarray):
    """out = |a|  ->  (g * sign(a),)  (0 at a == 0)."""
    return (grad * np.sign(node.inputs[0].data),)


def clamp_backward(node: Node, grad: np.ndarray):
    """out = a.clamp(min, max) (either may be None)  ->  g where min <= a <= max, else 0."""
    a = node.inputs[0].data
    low, high = node.saved["min"], node.saved["max"]
    inside = np.ones(a.shape, dtype=bool)
    if low is not None:
        inside &= a >= low
    if high is not None:
        inside &= a <= high
    return (grad * inside,)


def reshape_backward(node: Node, grad: np.ndarray):
    """out = a.reshape(shape)  ->  (g.reshape(a.shape),)."""
    return (grad.reshape(node.inputs[0].shape),)


def permute_backward(node: Node, grad: np.ndarray):
    """out = a.permute(dims)  ->  (g.transpose(argsort(dims)),)  (the inverse permutation)."""
    return (grad.transpose(np.argsort(node.saved["dims"])),)


def expand_backward(node: Node, grad: np.ndarray):
    """out = a.expand(sizes)  ->  (g,) in the expanded shape; the engine un-broadcasts it."""
    return (grad,)


def cat_backward(node: Node, grad: np.ndarray):
    """out = cat(tensors, dim)  ->  g split along dim into pieces of each input's size."""
    dim = node.saved["dim"]
    ends = np.cumsum([t.shape[dim] for t in node.inputs])[:-1]
    return tuple(np.split(grad, ends, axis=dim))


def stack_backward(node: Node, grad: np.ndarray):
    """out = stack(tensors, dim)  ->  the slices g[..., i, ...] along dim, one per input."""
    return tuple(np.moveaxis(grad, node.saved["dim"], 0))


def _repeats_possible(index) -> bool:
    """True when an index holds an integer array, which may name one element several times."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, (list, np.ndarray)) and np.asarray(part).dtype.kind in "iu":
            return True
    return False


def getitem_backward(node: Node, grad: np.ndarray):
    """out = a[index]  ->  zeros of a.shape with g added at index (repeats accumulate)."""
    # Hint: np.zeros(a.shape, dtype=grad.dtype); then `out[index] = grad` when no element can
    #       repeat, else np.add.at(out, index, grad). _repeats_possible(index) tells you which.
    a = node.inputs[0]
    index = node.saved["index"]
    out = np.zeros(a.shape, dtype=grad.dtype)
    if _repeats_possible(index):
        np.add.at(out, index, grad)
    else:
        out[index] = grad
    return (out,)


def masked_fill_backward(node: Node, grad: np.ndarray):
    """out = input.masked_fill(mask, value)  ->  (g where not mask, g where mask) (0 elsewhere).

    Both are in the broadcast shape of out; the engine sums the value's gradient down to ().
    """
    # Hint: np.where(mask, 0, g) and np.where(mask, g, 0); the mask is node.saved["mask"].
    mask = node.saved["mask"]
    zero = np.zeros((), dtype=grad.dtype)
    return (np.where(mask, zero, grad) if _wants(node, 0) else None,
            np.where(mask, grad, zero) if _wants(node, 1) else None)


def where_backward(node: Node, grad: np.ndarray):
    """out = where(condition, a, b)  ->  (g where condition, g where not condition) (0 elsewhere)."""
    condition = node.saved["condition"]
    zero = np.zeros((), dtype=grad.dtype)
    return (np.where(condition, grad, zero) if _wants(node, 0) else None,
            np.where(condition, zero, grad) if _wants(node, 1) else None)


def tril_backward(node: Node, grad: np.ndarray):
    """out = tril(a, diagonal)  ->  (tril(g, diagonal),)."""
    return (np.tril(grad, node.saved["diagonal"]),)


def triu_backward(node: Node, grad: np.ndarray):
    """out = triu(a, diagonal)  ->  (triu(g, diagonal),)."""
    return (np.triu(grad, node.saved["diagonal"]),)


def cast_backward(node: Node, grad: np.ndarray):
    """out = a.to(dtype)  ->  (g,); the engine converts g to a's dtype."""
    return (grad,)


def clone_backward(node: Node, grad: np.ndarray):
    """out = a.clone()  ->  (g,)."""
    return (grad,)


def _pick_backward(node: Node, grad: np.ndarray, a_wins: np.ndarray):
    """Shared body of maximum/minimum: g to the winner, g/2 to each side of a tie."""
    # Hint: a's share is 1 where a wins, 0.5 where a == b, 0 elsewhere; b gets the rest (1 - share).
    #       Skip an input that does not want a gradient (_wants).
    a, b = node.inputs
    share = a_wins.astype(grad.dtype)
    share += 0.5 * (a.data == b.data)
    return (grad * share if _wants(node, 0) else None,
            grad * (1 - share) if _wants(node, 1) else None)


def maximum_backward(node: Node, grad: np.ndarray):
    """out = maximum(a, b)  ->  g to the larger side; ties share it evenly."""
    a, b = node.inputs
    return _pick_backward(node, grad, a.data > b.data)


def minimum_backward(node: Node, grad: np.ndarray):
    """out = minimum(a, b)  ->  g to the smaller side; ties share it evenly."""
    a, b = node.inputs
    return _pick_backward(node, grad, a.data < b.data)


def gather_backward(node: Node, grad: np.ndarray):
    """out = a.gather(dim, index)  ->  zeros of a.shape with g added back at index along dim."""
    (a,) = node.inputs
    dim, index = node.saved["dim"], node.saved["index"]
    out = np.zeros(a.shape, dtype=grad.dtype)
    part = out[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))]
    if node.saved["unique"]:
        np.put_along_axis(part, index, grad, axis=dim)
    else:  # an index may repeat: every contribution must add
        positions = list(np.indices(index.shape, sparse=True))
        positions[dim] = index
        np.add.at(part, tuple(positions), grad)
    return (out,)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = e^min(x,0) / (1 + e^-|x|): no overflow, full precision in both tails, no branches."""
    return np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))


def relu_backward(node: Node, grad: np.ndarray):
    """out = max(0, x)  ->  g where x > 0, else 0."""
    return (grad * (node.inputs[0].data > 0),)


def leaky_relu_backward(node: Node, grad: np.ndarray):
    """out = x if x > 0 else s·x (saved: negative_slope s)  ->  g or s·g."""
    slope = node.saved["negative_slope"]
    x = node.inputs[0].data
    factor = (x > 0).astype(x.dtype)  # 1 or 0, then mapped to 1 or slope
    factor *= 1 - slope
    factor += slope
    return (grad * factor,)


def sigmoid_backward(node: Node, grad: np.ndarray):
    """out = σ(x)  ->  g · out · (1 - out)."""
    out = node.saved["out"]
    return (grad * out * (1 - out),)


def tanh_backward(node: Node, grad: np.ndarray):
    """out = tanh(x)  ->  g · (1 - out²)."""
    out = node.saved["out"]
    return (grad * (1 - out * out),)


def silu_backward(node: Node, grad: np.ndarray):
    """out = x σ(x)  ->  g · σ(x) (1 + x (1 - σ(x)))."""
    x = node.inputs[0].data
    s = _sigmoid(x)
    return (grad * s * (1 + x * (1 - s)),)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu_backward(node: Node, grad: np.ndarray):
    """out = x Φ(x) (approximate="none") or ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ("tanh").

    Derivatives: Φ(x) + x φ(x), with φ(x) = e^(-x²/2) / √(2π); and for "tanh", with t the tanh,
    ½(1 + t) + ½ x (1 - t²) √(2/π) (1 + 3·0.044715 x²).
    """
    # Hint: Φ(x) = 0.5 * (1 + erf(x * (1 / √2))) with module 02's erf; multiply by Python
    #       floats (not float64 arrays) so a float32 x stays float32.
    x = node.inputs[0].data
    if node.saved["approximate"] == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
        slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
    else:
        cdf = 0.5 * (1 + erf(x * math.sqrt(0.5)))
        slope = cdf + x * (_INV_SQRT_2PI * np.exp(-0.5 * x * x))
    return (grad * slope,)


def softmax_backward(node: Node, grad: np.ndarray):
    """p = softmax(x, dim) (saved: dim, out = p)  ->  p ⊙ (g - Σ_dim(g ⊙ p))."""
    p = node.saved["out"]
    return (p * (grad - (grad * p).sum(axis=node.saved["dim"], keepdims=True)),)


def log_softmax_backward(node: Node, grad: np.ndarray):
    """out = log_softmax(x, dim) (saved: dim, out)  ->  g - exp(out) · Σ_dim g."""
    out = node.saved["out"]
    return (grad - np.exp(out) * grad.sum(axis=node.saved["dim"], keepdims=True),)


def nll_loss_backward(node: Node, grad: np.ndarray):
    """out[i, ...] = coef[i, ...] · logp[i, target[i, ...], ...]  ->  g · coef, scattered at target.

    Shapes: logp (N, C, *d) or (C,); target and coef (N, *d) or (); grad has target's shape.
    """
    # Hint: np.put_along_axis(out, np.expand_dims(target, axis), np.expand_dims(values, axis), axis)
    #       with axis = 1 (or 0 when logp is 1-D).
    logp = node.inputs[0]
    target, coef = node.saved["target"], node.saved["coef"]
    axis = 1 if logp.ndim > 1 else 0
    out = np.zeros(logp.shape, dtype=logp.dtype)
    values = np.broadcast_to(grad * coef, target.shape)
    np.put_along_axis(out, np.expand_dims(target, axis), np.expand_dims(values, axis), axis=axis)
    return (out,)


def _clamped_log(x: np.ndarray) -> np.ndarray:
    """log(x) clamped at -100, as PyTorch's binary_cross_entropy does."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(x), -100.0)


def binary_cross_entropy_backward(node: Node, grad: np.ndarray):
    """out = -w [y log p + (1-y) log(1-p)] (logs clamped at -100; saved: weight or None)

    ->  (g w (p - y) / max(p (1 - p), 1e-12),  g w (log(1 - p) - log p)).
    """
    p, y = node.inputs
    weight = node.saved["weight"]
    scale = grad if weight is None else grad * weight
    grad_p = grad_y = None
    if _wants(node, 0):
        grad_p = scale * (p.data - y.data) / np.maximum(p.data * (1 - p.data), 1e-12)
    if _wants(node, 1):
        grad_y = scale * (_clamped_log(1 - p.data) - _clamped_log(p.data))
    return grad_p, grad_y


def binary_cross_entropy_with_logits_backward(node: Node, grad: np.ndarray):
    """out = -w [q y log σ(z) + (1-y) log(1 - σ(z))] (saved: weight, pos_weight q; None = 1)

    ->  (g w [σ(z)(q y + 1 - y) - q y],  g w [(1 - q) log σ(z) - z]).
    """
    z, y = node.inputs
    weight, pos_weight = node.saved["weight"], node.saved["pos_weight"]
    scale = grad if weight is None else grad * weight
    grad_z = grad_y = None
    if _wants(node, 0):
        s = _sigmoid(z.data)
        if pos_weight is None:
            grad_z = scale * (s - y.data)
        else:
            qy = pos_weight * y.data
            grad_z = scale * (s * (qy + 1 - y.data) - qy)
    if _wants(node, 1):
        if pos_weight is None:
            grad_y = scale * -z.data
        else:
            log_sigmoid = np.minimum(z.data, 0) - np.log1p(np.exp(-np.abs(z.data)))
            grad_y = scale * ((1 - pos_weight) * log_sigmoid - z.data)
    return grad_z, grad_y


GRADIENT_RULES: dict[str, Callable[[Node, np.ndarray], tuple]] = {
    "add": add_backward, "sub": sub_backward, "mul": mul_backward, "div": div_backward,
    "neg": neg_backward, "pow": pow_backward, "matmul": matmul_backward,
    "sum": sum_backward, "mean": mean_backward, "max": max_backward, "min": min_backward,
    "var": var_backward,
    "exp": exp_backward, "sqrt": sqrt_backward, "log": log_backward, "abs": abs_backward,
    "clamp": clamp_backward,
    "reshape": reshape_backward, "permute": permute_backward, "expand": expand_backward,
    "cat": cat_backward, "stack": stack_backward, "getitem": getitem_backward,
    "masked_fill": masked_fill_backward, "where": where_backward, "tril": tril_backward, "triu": triu_backward,
    "cast": cast_backward, "clone": clone_backward, "maximum": maximum_backward, "minimum": minimum_backward,
    "gather": gather_backward,
    "relu": relu_backward, "leaky_relu": leaky_relu_backward, "sigmoid": sigmoid_backward,
    "tanh": tanh_backward, "gelu": gelu_backward, "silu": silu_backward,
    "softmax": softmax_backward, "log_softmax": log_softmax_backward,
    "nll_loss": nll_loss_backward, "binary_cross_entropy": binary_cross_entropy_backward,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits_backward,
}


_FREED = ("backward: this graph was already freed by an earlier backward() call. Recompute the "
          "forward pass, or pass retain_graph=True to the first backward() if you need to go "
          "through the same graph twice.")


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors that require grad and lead to `root`, each listed before every tensor made from it.

    Post-order of an iterative depth-first search (leaves early, `root` last). No recursion:
    the explicit stack holds (tensor, inputs_done) pairs, so a 10,000-op chain is fine.
    """
    # Hint: pop (t, inputs_done). If inputs_done, append t to the order. Otherwise, skip t if
    #       already visited; else mark it, push (t, True), then push (i, False) for each input i
    #       of t._ctx that requires grad. A node whose saved is None was freed: raise
    #       RuntimeError(_FREED).
    order: list[Tensor] = []
    visited: set[int] = set()
    stack = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        node = tensor._ctx
        if node is None:
            continue
        if node.saved is None:
            raise RuntimeError(_FREED)
        for parent in node.inputs:
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


def _initial_gradient(tensor: Tensor, gradient) -> tuple[np.ndarray, bool]:
    """The gradient that starts backward, and whether the engine owns that array."""
    if gradient is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for a one-element tensor, but "
                f"this one has shape {tensor.shape}. Reduce it to a scalar first (.sum() or "
                f".mean()), or pass gradient= an array of shape {tensor.shape} (dL/d(tensor)).")
        return np.ones(tensor.shape, dtype=tensor.dtype), True
    seed = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
    if seed.shape != tensor.shape:
        raise RuntimeError(f"backward: gradient has shape {seed.shape} but the tensor has shape "
                           f"{tensor.shape}; they must match exactly (gradient is dL/d(tensor))")
    if seed.dtype != tensor.dtype:
        return seed.astype(tensor.dtype), True
    return seed, False


def _modified_error(tensor: Tensor, role: str, op, found: int, expected: int) -> RuntimeError:
    name = op if isinstance(op, str) else getattr(op, "__name__", repr(op))
    return RuntimeError(
        f"backward: one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: the {tensor.dtype} tensor of shape {tuple(tensor.shape)} that is {role} of {name!r} is at "
        f"version {found}; expected version {expected} instead. Do the in-place change after backward(), or "
        "use the out-of-place form (y = y + 1 instead of y += 1).")


def _check_versions(node: Node) -> None:
    """Raise _modified_error when an input (or the saved output) of `node` changed in place since recording.

    node.versions holds each input's version at recording time (one int per node.inputs), or None
    when the program had made no in-place change yet (every input was at version 0);
    node.out_version is None or (counter, version) for the op's own output.
    """
    if node.versions is None and not inplace_changes.value:
        return  # no in-place change anywhere, ever: nothing can have moved (the common case, free)
    # Hints: - expected versions: node.versions, or all 0 when it is None. Compare each input's
    #          tensor._version with its expected version; on a difference raise
    #          _modified_error(tensor, f"input {i}", node.op, found, expected).
    #        - node.out_version, when not None, is (counter, expected): the same check for the output,
    #          whose array is node.saved["out"] (wrap it in a Tensor for the message).
    expected_versions = node.versions or (0,) * len(node.inputs)
    for position, (tensor, expected) in enumerate(zip(node.inputs, expected_versions)):
        found = tensor._version
        if found != expected:
            raise _modified_error(tensor, f"input {position}", node.op, found, expected)
    if node.out_version is not None:
        counter, expected = node.out_version
        if counter.value != expected:
            shown = Tensor(node.saved["out"])
            raise _modified_error(shown, "the output (saved for backward)", node.op, counter.value, expected)


def _input_gradients(node: Node, grad: np.ndarray) -> tuple[tuple, bool]:
    """Run the node's rule: (one gradient or None per input, whether the rule is a built-in one)."""
    op = node.op
    if isinstance(op, str):
        rule = GRADIENT_RULES.get(op)
        if rule is None:
            raise NotImplementedError(f"backward: no gradient rule for op {op!r}. Add one to "
                                      "GRADIENT_RULES, or implement the op as a Function subclass.")
        grads, builtin = rule(node, grad), True
    elif isinstance(op, type) and issubclass(op, Function):
        grads, builtin = op._gradients(node.saved["ctx"], grad), False
    else:
        raise TypeError(f"backward: a Node's op must be an op name or a Function subclass, "
                        f"got {op!r}")
    if len(grads) != len(node.inputs):
        raise RuntimeError(f"backward: the rule for {getattr(op, '__name__', op)!r} returned "
                           f"{len(grads)} gradients for {len(node.inputs)} inputs (one per "
                           "input, None allowed)")
    return grads, builtin


def _accumulate(grads: dict, tensor: Tensor, grad: np.ndarray, owned: bool) -> None:
    """Add one contribution to the gradient held for `tensor`, in place only into owned arrays."""
    held = grads.get(id(tensor))
    if held is None:
        grads[id(tensor)] = (grad, owned)
    elif held[1]:
        np.add(held[0], grad, out=held[0])  # in place: the engine owns this array
    elif owned:
        grad += held[0]
        grads[id(tensor)] = (grad, True)
    else:
        grads[id(tensor)] = (held[0] + grad, True)


def _store_leaf_gradient(leaf: Tensor, grad: np.ndarray, owned: bool) -> None:
    """leaf.grad += grad (as a Tensor of the leaf's dtype). Never keeps an array it does not own."""
    if leaf.grad is None:
        leaf.grad = Tensor(grad if owned else grad.copy(order="K"))  # K: keep a transposed layout, copy fast
    else:  # a second backward() before zero_grad(): add into a fresh array, keep the Tensor
        leaf.grad.data = leaf.grad.data + grad


def backward(tensor: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into `leaf.grad` for every leaf that requires grad.

    `gradient` is dL/d(tensor), same shape as `tensor`; it defaults to 1 for a one-element
    tensor. Shared subexpressions are summed, leaves accumulate across calls (call zero_grad
    between steps), and the graph is freed afterwards unless `retain_graph=True`.
    """
    # Hint: 1. Check tensor.requires_grad (RuntimeError), get the seed with _initial_gradient.
    #       2. order = _topological_order(tensor); grads = {id(tensor): (seed, owned)}.
    #       3. Pop tensors from the END of order (root first). A leaf (no _ctx) stores its
    #          gradient with _store_leaf_gradient. A non-leaf calls _check_versions(node) and
    #          runs _input_gradients, then for
    #          each input that requires grad: unbroadcast to its shape, cast to its dtype,
    #          decide whether the array is owned, and _accumulate it.
    #       4. Unless retain_graph, empty the node: node.inputs = (); node.saved = None.
    if not isinstance(tensor, Tensor):
        raise TypeError(f"backward: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no grad_fn, so "
                           "there is nothing to differentiate. Likely cause: no input was created "
                           "with requires_grad=True, or the result was computed under no_grad().")
    seed, seed_owned = _initial_gradient(tensor, gradient)
    order = _topological_order(tensor)
    grads = {id(tensor): (seed, seed_owned)}
    while order:
        current = order.pop()  # popping also drops the list's reference as we go
        grad, owned = grads.pop(id(current), (None, False))
        if grad is None:  # no path carried a gradient here (every rule returned None for it)
            continue
        node = current._ctx
        if node is None:
            _store_leaf_gradient(current, grad, owned)
            continue
        _check_versions(node)
        input_grads, builtin = _input_gradients(node, grad)
        input_grads = [g.data if isinstance(g, Tensor) else g if g is None or isinstance(g, np.ndarray)
                       else np.asarray(g) for g in input_grads]
        # A view of `grad` (permute, reshape) may inherit ownership when `grad` was owned and it
        # is the only view handed out: nobody else can see that memory any more.
        views = [g is not None and np.may_share_memory(g, grad) for g in input_grads]
        sole_view_owned = owned and sum(views) == 1
        handed_out = []
        for parent, g, is_view in zip(node.inputs, input_grads, views):
            if g is None or not parent.requires_grad or parent.dtype.kind != "f":
                continue
            fresh = (builtin and g.flags.writeable and (not is_view or sole_view_owned)
                     and not any(np.may_share_memory(g, other) for other in handed_out))
            handed_out.append(g)
            if g.shape != parent.shape:
                g, fresh = unbroadcast(g, parent.shape), True  # a reduction: always a new array
            if g.dtype != parent.dtype:
                g, fresh = g.astype(parent.dtype), True
            _accumulate(grads, parent, g, fresh)
        if not retain_graph:
            node.inputs, node.saved = (), None


class _GradModeContext:
    """Base of no_grad/enable_grad: sets grad_mode.enabled to `_mode` inside, restores on exit."""

    _mode: bool

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._previous = []
        if func is None:
            return self
        if not callable(func):
            raise TypeError(f"{cls.__name__}: use it as `with {cls.__name__}():` or as a decorator "
                            f"of a function, got {func!r}")
        return self(func)  # used as a bare decorator: @no_grad

    def __enter__(self):
        # Hint: remember the old flag on self._previous (a stack, so nesting the same object
        #       works), then set grad_mode.enabled = self._mode.
        self._previous.append(grad_mode.enabled)
        grad_mode.enabled = self._mode
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> bool:
        grad_mode.enabled = self._previous.pop()
        return False  # never swallow the exception

    def __call__(self, func):
        """Decorator: run `func` with the mode set (a fresh context per call, so it nests)."""
        mode_class = type(self)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with mode_class():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Don't record graphs inside: results have requires_grad=False and keep nothing alive."""

    _mode = False


class enable_grad(_GradModeContext):
    """Record graphs inside, even within an outer no_grad()."""

    _mode = True


class set_grad_enabled:
    """Turn recording on or off: set_grad_enabled(False) right away, or as `with`/decorator."""

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_grad_enabled: mode must be True or False, got {mode!r}")
        self._previous = grad_mode.enabled
        self._mode = bool(mode)
        grad_mode.enabled = self._mode  # effective immediately, like torch.set_grad_enabled

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> bool:
        grad_mode.enabled = self._previous
        return False

    def __call__(self, func):
        grad_mode.enabled = self._previous  # as a decorator: change nothing until func runs
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)
        return wrapper


class FunctionCtx:
    """What a Function's forward leaves for its backward: saved arrays and any attributes."""

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *values) -> None:
        """Keep arrays for backward (read them back from ctx.saved_tensors)."""
        self.saved_tensors = values


class Function:
    """An op with a hand-written backward: subclass it, define forward and backward (static).

    forward(ctx, *args, **kwargs) -> ndarray: args are the raw arrays of Tensor arguments.
    backward(ctx, grad_output) -> one ndarray (or None) per Tensor argument, in order.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args, **kwargs):
        raise NotImplementedError("Function subclasses define @staticmethod forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, grad_output: np.ndarray):
        raise NotImplementedError("Function subclasses define @staticmethod "
                                  "backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args, **kwargs) -> Tensor:
        """Run forward on the unwrapped arguments and record a Node whose op is this class."""
        # Hint: build a FunctionCtx; collect the Tensor arguments (tensor_inputs) and their
        #       positions (ctx._tensor_positions) and ctx.needs_input_grad (one bool per argument);
        #       call cls.forward(ctx, *cls._forward_arguments(args), **kwargs) inside
        #       `with no_grad():`; unwrap a Tensor result; return
        #       Tensor.from_op(out, cls, tensor_inputs, ctx=ctx).
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx._tensor_positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        tensor_inputs = tuple(args[i] for i in ctx._tensor_positions)
        raw = cls._forward_arguments(args)
        with no_grad():
            out = cls.forward(ctx, *raw, **kwargs)
        if isinstance(out, Tensor):
            out = out.data
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        return Tensor.from_op(out, cls, tensor_inputs, ctx=ctx)

    @staticmethod
    def _forward_arguments(args: tuple) -> tuple:
        """What forward receives: each Tensor argument's array, other arguments unchanged."""
        return tuple(a.data if isinstance(a, Tensor) else a for a in args)

    @classmethod
    def _run_backward(cls, ctx: FunctionCtx, grad: np.ndarray) -> tuple:
        """backward's gradients as a tuple (arrays or None)."""
        grads = cls.backward(ctx, grad)
        return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)

    @classmethod
    def _gradients(cls, ctx: FunctionCtx, grad: np.ndarray) -> tuple:
        """Call backward and line its result up with the Tensor inputs (engine helper)."""
        grads = cls._run_backward(ctx, grad)
        positions = ctx._tensor_positions
        if len(grads) == len(ctx.needs_input_grad) != len(positions):  # one per argument
            grads = tuple(grads[i] for i in positions)
        return grads


class TensorFunction(Function):
    """Function with PyTorch's calling convention (tinytorch.autograd.Function is this class).

    forward(ctx, *args) receives Tensor arguments as Tensors (run under no_grad, so nothing inside
    is recorded) and returns a Tensor; ctx.save_for_backward keeps Tensors; backward(ctx,
    grad_output) receives a Tensor and returns one Tensor (or None) per input, also under no_grad.
    """

    @staticmethod
    def _forward_arguments(args: tuple) -> tuple:
        return args

    @classmethod
    def _run_backward(cls, ctx: FunctionCtx, grad: np.ndarray) -> tuple:
        with no_grad():
            grads = cls.backward(ctx, Tensor(grad))
        grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
        return tuple(g.data if isinstance(g, Tensor) else g for g in grads)


class GradcheckError(RuntimeError):
    """An analytic gradient disagrees with finite differences (raised by gradcheck)."""


def _float_outputs(result) -> list[Tensor]:
    """The floating-point Tensors in fn's result (a Tensor, or a tuple like (values, indices))."""
    items = result if isinstance(result, (tuple, list)) else (result,)
    outputs = [t for t in items if isinstance(t, Tensor) and t.dtype.kind == "f"]
    if not outputs:
        raise TypeError("gradcheck: fn must return a floating-point Tensor (or a tuple with one), "
                        f"got {type(result).__name__}")
    return outputs


def gradcheck(fn: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, seed: int = 0) -> bool:
    """Compare backward() with central finite differences for every input that requires grad.

    inputs: a Tensor or a sequence of arguments for fn; Tensors that require grad must be float64.
    Passes when |analytic - numeric| <= atol + rtol·|numeric| everywhere. Returns True, or raises
    GradcheckError naming the input, the worst element's index, both values and the relative
    error (returns False instead when raise_exception=False).
    """
    # Hint: 1. Validate: the Tensors that require grad are float64 (TypeError otherwise).
    #       2. out = fn(*inputs) under enable_grad(); projections r = fixed-seed normal arrays of
    #          each output's shape; backward(output, r, retain_graph=True) for each output that
    #          requires grad, after setting .grad = None (restore the caller's .grad at the end).
    #       3. For each element of each checked input: set it to x+eps and x-eps (in place, on
    #          .data), evaluate L = Σ out·r under no_grad(), restore the exact old value.
    #       4. Compare; report the element with the largest |a - n| / (atol + rtol|n|).
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; create inputs with requires_grad=True")
    for i in checked:
        if args[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {args[i].dtype}, but finite differences "
                            "need float64 (float32 rounding divided by eps swamps the derivative). "
                            "Create it with dtype=np.float64, or convert with .double() before "
                            "requires_grad_().")
        if args[i]._ctx is not None:
            raise ValueError(f"gradcheck: input {i} was computed by an op, so it is not a leaf and "
                             "receives no .grad; pass a tensor you created (x.detach() and "
                             "requires_grad_())")
        if not args[i].data.flags.writeable:
            raise ValueError(f"gradcheck: input {i} is a read-only array; pass a tensor that "
                             "owns its data")

    with enable_grad():
        outputs = _float_outputs(fn(*args))
    rng = np.random.default_rng(seed)
    directions = [rng.standard_normal(o.shape) for o in outputs]

    kept = [args[i].grad for i in checked]
    for i in checked:
        args[i].grad = None
    try:
        for out, r in zip(outputs, directions):
            if out.requires_grad:
                backward(out, r.astype(out.dtype), retain_graph=True)
        analytic = [np.zeros(args[i].shape) if args[i].grad is None
                    else args[i].grad.data.astype(np.float64) for i in checked]
    finally:
        for i, old in zip(checked, kept):
            args[i].grad = old

    def objective() -> float:
        with no_grad():
            outs = _float_outputs(fn(*args))
        return sum(float(np.sum(o.data.astype(np.float64) * r)) for o, r in zip(outs, directions))

    for i, a in zip(checked, analytic):
        data = args[i].data
        numeric = np.zeros(data.shape)
        for index in np.ndindex(*data.shape):
            original = data[index]
            data[index] = original + eps
            plus = objective()
            data[index] = original - eps
            minus = objective()
            data[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        excess = np.asarray(np.abs(a - numeric) - (atol + rtol * np.abs(numeric)))
        excess = np.where(np.isnan(excess), np.inf, excess)  # a nan on either side fails
        if excess.size and excess.max() > 0:
            if not raise_exception:
                return False
            worst = np.unravel_index(np.argmax(excess), excess.shape)
            bad = int(np.count_nonzero(excess > 0))
            an, nu = a[worst], numeric[worst]
            relative = abs(an - nu) / max(abs(nu), 1e-12)
            raise GradcheckError(
                f"gradcheck: the gradient of input {i} (shape {data.shape}) is wrong at index "
                f"{tuple(int(k) for k in worst)}: analytic {an:.10g}, numeric {nu:.10g}, "
                f"relative error {relative:.3g} ({bad} of {excess.size} elements outside "
                f"atol={atol} + rtol={rtol}·|numeric|). Likely cause: a wrong gradient rule, a "
                "missing un-broadcast, or a non-differentiable point.")
    return True
