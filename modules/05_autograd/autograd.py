# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 05 — Autograd: the engine that makes everything learn
#
# Modules 01–04 built tensors, activations, layers and losses. Each of their operations did two
# things: it computed a value, and — when gradients were on — it *recorded* how that value was
# made. Nothing has used those records yet. This module is the other half: a small engine that
# walks the records backwards and computes, for every parameter, how the loss would change if the
# parameter moved a little. That number is the gradient, and gradients are what optimizers
# (module 06) follow downhill.
#
# ## Learning objectives
#
# By the end of this module you will be able to:
#
# 1. Apply the **chain rule** to a recorded computation graph, one node at a time.
# 2. Write the **gradient rule** (the local derivative, in vector form) of every op the earlier
#    modules record — arithmetic, matmul, reductions, shape ops, indexing, activations, losses.
# 3. **Un-broadcast** a gradient back to the shape of the input that was broadcast.
# 4. Order a graph **topologically** with an explicit stack (no recursion limit), and explain why
#    each node must wait for *all* of its consumers.
# 5. **Accumulate** gradients of shared subexpressions and across `backward()` calls, without
#    ever aliasing an array that someone else may change.
# 6. Switch recording off with **`no_grad`** (context manager *and* decorator) and extend the
#    framework with a custom **`Function`** whose forward and backward you write together.
# 7. **Verify** every gradient with a float64 finite-difference **`gradcheck`**.
# 8. Measure what a graph costs: the memory it keeps alive and the time backward takes.
#
# **Prerequisites:** module 01 (`Tensor`, `Tensor.from_op`, `Node`, `grad_mode`). Modules 02–04
# only *use* this engine; the contract between the two halves is `docs/autograd.md`.

# %%
#| default_exp core.autograd

# %%
#| export
from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from tinytorch.core.activations import erf
from tinytorch.core.tensor import Node, Tensor, grad_mode, inplace_changes, is_grad_enabled, matmul_arrays

# %% [markdown]
# ## 1. The chain rule, one node at a time
#
# Take `loss = f(g(x))`. Calculus says `dloss/dx = f'(g(x)) · g'(x)`: the derivative of a
# composition is the product of the local derivatives along the path. A neural network is a long
# composition, so its gradient is a long product — and the order in which we multiply matters for
# cost. Going **backwards** from the scalar loss, every intermediate product is a gradient with
# the *shape of one tensor*, never a giant Jacobian matrix. That is reverse-mode automatic
# differentiation, and it is what `loss.backward()` does.
#
# Each op only needs to know its *local* rule: "given the gradient of my output, `grad`, what is
# the gradient of each of my inputs?" For `c = a * b` (elementwise):
#
# ```
#     dL/da = dL/dc * b        dL/db = dL/dc * a
# ```
#
# We write `grad` for `dL/d(output)`; it always has the output's shape. A rule returns one array
# per input. That is the whole interface:
#
# ```python
# def mul_backward(node: Node, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
#     a, b = node.inputs
#     return grad * b.data, grad * a.data
# ```
#
# ## 2. The graph your earlier modules already record
#
# When gradients are on, `Tensor.from_op(data, op, inputs, **saved)` gives the result a `_ctx`:
# a `Node(op, inputs, saved)`. Here is what `loss = (x @ w + b).clamp(min=0).sum()` (a ReLU
# layer, built from module 01 ops) leaves behind:
#
# ```
#   x (leaf)   w (leaf, requires_grad)
#        \     /
#       [matmul]          b (leaf, requires_grad)
#            \            /
#             [  add  ]──────► h1        every arrow points from an input to the op
#                 |                      that read it; each op box is the Node stored
#             [ clamp ]──────► h2        in the output tensor's _ctx
#                 |
#             [  sum  ]──────► loss      loss._ctx = Node("sum", (h2,), {dim: None, ...})
# ```
#
# Backward walks the same arrows the other way: `loss` → `sum` → `clamp` → `add` → `matmul`,
# handing each node the gradient of its output and collecting the gradients of its inputs.
#
# Vocabulary you will need:
#
# - A **leaf** is a tensor you made yourself (`_ctx is None`): data, parameters. Leaves with
#   `requires_grad=True` receive `.grad` — that is where the optimizer looks.
# - A **non-leaf** was made by a recorded op (`_ctx is not None`). Its gradient is only a step on
#   the way; it is used and thrown away, never stored in `.grad` (PyTorch does the same).
# - A node never holds its own output, only its inputs, so a graph has no reference cycles and
#   Python frees it as soon as the last tensor pointing into it goes away.
#
# Run the cell below to look at a recorded graph.

# %%
_x = Tensor(np.array([[1.0, 2.0]]))
_w = Tensor(np.array([[0.5], [-1.0]]), requires_grad=True)
_b = Tensor(np.array([0.25]), requires_grad=True)
_loss = (_x @ _w + _b).clamp(min=0.0).sum()
_node, _depth = _loss._ctx, 0
while _node is not None:
    print("  " * _depth + f"{_node.op}  <- inputs {[tuple(t.shape) for t in _node.inputs]}")
    _node = next((t._ctx for t in _node.inputs if t._ctx is not None), None)
    _depth += 1

# %% [markdown]
# ## 3. Un-broadcasting: the one helper every elementwise rule needs
#
# `h = x @ w + b` adds a bias of shape `(3,)` to a batch of shape `(64, 3)`. NumPy broadcasting
# *pretended* that `b` was copied 64 times. Each of those pretend copies influenced the loss, so
# the gradient of `b` is the **sum** of the gradients of its copies:
#
# ```
#   forward:  b (3,)  ──broadcast──►  (64, 3)        every row reads the same b
#   backward: grad (64, 3)  ──sum over axis 0──►  (3,)
# ```
#
# The general rule follows broadcasting's own two steps, in reverse:
#
# 1. Broadcasting **prepended** axes until the ranks matched → sum those leading axes away.
# 2. Broadcasting **stretched** axes of size 1 → sum them, keeping the axis (size 1 again).
#
# `(4, 3, 5)` back to `(3, 1)`: sum axis 0 (prepended) and axis 2 (stretched) → `(3, 1)`.
#
# Rules are allowed to return a gradient of the broadcast (output) shape; the engine calls
# `unbroadcast` once for every input whose shape differs. One helper, one place to get it right.

# %%
#| export
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
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %%
#| test
def test_unit_unbroadcast():
    g = np.arange(60, dtype=np.float32).reshape(4, 3, 5)
    cases = [((4, 3, 5), g), ((3, 5), g.sum(0)), ((3, 1), g.sum(axis=(0, 2))[:, None]),
             ((1, 1, 5), g.sum(axis=(0, 1), keepdims=True)), ((), g.sum()),
             ((5,), g.sum(axis=(0, 1)))]
    for shape, expected in cases:
        got = unbroadcast(g, shape)
        assert got.shape == shape, (
            f"unbroadcast to {shape}: expected shape {shape}, got {got.shape}. "
            "Likely cause: summed the wrong axes or forgot to reshape.")
        assert np.allclose(got, expected), (
            f"unbroadcast to {shape}: expected {expected}, got {got}. "
            "Likely cause: size-1 axes not summed, or summed twice.")
    assert unbroadcast(g, (4, 3, 5)) is g, (
        "unbroadcast with matching shapes should return grad itself (no copy)")
    for bad in [(2, 3, 5), (4, 3, 5, 1)]:
        try:
            unbroadcast(g, bad)
        except ValueError:
            continue
        raise AssertionError(f"unbroadcast(grad of shape (4, 3, 5), {bad}) should raise "
                             "ValueError: the shapes do not broadcast")
    print("✅ unbroadcast sums prepended and stretched axes, rejects shapes that don't broadcast")


test_unit_unbroadcast()

# %% [markdown]
# ## 4. Gradient rules for arithmetic
#
# Every rule has the signature `rule(node, grad) -> tuple` with one entry per input in
# `node.inputs`. Three conventions keep the engine simple and fast:
#
# - **Return `None`** for an input that does not need a gradient (`not t.requires_grad`). For
#   `x @ w` with constant data `x`, skipping `grad @ w.T` saves a third of the backward work of a
#   first layer. The helper `_wants(node, i)` asks the question.
# - **Never modify `grad` in place.** The same array may be handed to several inputs (`add`
#   gives `grad` to both sides); the engine tracks who owns which array.
# - **Don't un-broadcast yourself.** Return the gradient in the broadcast shape; the engine
#   calls `unbroadcast`.
#
# | op | forward | gradient of a | gradient of b |
# |---|---|---|---|
# | add | a + b | g | g |
# | sub | a − b | g | −g |
# | mul | a · b | g · b | g · a |
# | div | a / b | g / b | −g · a / b² |
# | neg | −a | −g | |
# | pow | aᵇ | g · b · aᵇ⁻¹ (0 where b = 0) | g · aᵇ · ln a (0 where a = 0, b ≥ 0) |
#
# `pow`'s two special cases copy PyTorch: `x ** 0` has gradient 0 even at `x = 0` (the formula
# would give `0 · 0⁻¹ = nan`), and `0 ** b` has exponent-gradient 0 for `b ≥ 0` instead of
# `0 · ln 0 = nan`.

# %%
#| export
def _wants(node: Node, i: int) -> bool:
    """Does input i of this node need a gradient? (Lets a rule skip work nobody will use.)"""
    return node.inputs[i].requires_grad


def add_backward(node: Node, grad: np.ndarray):
    """c = a + b  ->  (dL/da, dL/db) = (g, g), in the broadcast shape of c."""
    ### BEGIN SOLUTION
    return grad, grad
    ### END SOLUTION


def sub_backward(node: Node, grad: np.ndarray):
    """c = a - b  ->  (g, -g)."""
    ### BEGIN SOLUTION
    return grad, (-grad if _wants(node, 1) else None)
    ### END SOLUTION


def mul_backward(node: Node, grad: np.ndarray):
    """c = a * b  ->  (g * b, g * a)."""
    # Hint: node.inputs are Tensors; use their .data arrays. Skip an input with _wants(node, i).
    ### BEGIN SOLUTION
    a, b = node.inputs
    return (grad * b.data if _wants(node, 0) else None,
            grad * a.data if _wants(node, 1) else None)
    ### END SOLUTION


def div_backward(node: Node, grad: np.ndarray):
    """c = a / b  ->  (g / b, -g * a / b**2)."""
    ### BEGIN SOLUTION
    a, b = node.inputs
    grad_a = grad / b.data if _wants(node, 0) else None
    grad_b = -grad * a.data / (b.data * b.data) if _wants(node, 1) else None
    return grad_a, grad_b
    ### END SOLUTION


def neg_backward(node: Node, grad: np.ndarray):
    """c = -a  ->  (-g,)."""
    ### BEGIN SOLUTION
    return (-grad,)
    ### END SOLUTION


def pow_backward(node: Node, grad: np.ndarray):
    """c = a ** b (saved: out = c)  ->  (g * b * a**(b-1), g * c * ln a), with PyTorch's zeros.

    Gradient of a is 0 where b == 0; gradient of b is 0 where a == 0 and b >= 0.
    """
    # Hint: np.where(condition, 0, formula) applies a special case; wrap the formulas in
    #       np.errstate(divide="ignore", invalid="ignore") because 0 ** -1 and log(0) warn.
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %% [markdown]
# ### Matrix multiplication
#
# For 2-D `C = A @ B` with `A (m, k)`, `B (k, n)`, `G = dL/dC (m, n)`:
#
# ```
#     dL/dA = G @ Bᵀ    (m, n) @ (n, k) -> (m, k)
#     dL/dB = Aᵀ @ G    (k, m) @ (m, n) -> (k, n)
# ```
#
# Check the shapes and you can rebuild the formulas from nothing: the only way to get an `(m, k)`
# from `G` and `B` is `G @ Bᵀ`. NumPy's `matmul` adds three more cases, and the rule must cover
# them because module 01 allows them:
#
# - **batched** `(..., m, k) @ (..., k, n)`: the same formulas on the last two axes (use
#   `np.swapaxes(X, -1, -2)` for the transpose); broadcast batch axes are summed by `unbroadcast`.
# - **1-D on the left** `(k,) @ (..., k, n)`: treat `a` as a row `(1, k)`, then drop that axis.
# - **1-D on the right** `(..., m, k) @ (k,)`: treat `b` as a column `(k, 1)`, then drop it.
#
# A systems detail: a `Linear` layer on a 3-D input `(B, T, k) @ (k, n)` would make the weight
# gradient as `B` separate `(k, T) @ (T, n)` products and then sum them. Reshaping to one
# `(k, B·T) @ (B·T, n)` product gives the same numbers with one big, fast BLAS call.

# %%
#| export
def matmul_backward(node: Node, grad: np.ndarray):
    """C = A @ B (NumPy matmul semantics)  ->  (G @ Bᵀ, Aᵀ @ G) on the last two axes.

    Shapes: A (..., m, k) or (k,); B (..., k, n) or (k,); G has C's shape.
    Batch axes of the result may be broadcast; the engine sums them with unbroadcast.
    """
    # Hint: promote 1-D operands first: a (k,) -> (1, k), b (k,) -> (k, 1), and put the
    #       missing axis back into G with np.expand_dims. After computing, drop the axis you
    #       added (index [..., 0, :] for a, [..., 0] for b). Multiply with module 01's
    #       matmul_arrays (np.matmul that keeps float16 fast), like the forward.
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %%
#| test
def _rule_check(name, out, grad, expected):
    """Apply the rule recorded in out._ctx and compare each (unbroadcast) input gradient."""
    node = out._ctx
    assert node is not None, f"{name}: the forward op recorded no Node (did an input require grad?)"
    got = GRADIENT_RULE_UNDER_TEST[node.op](node, grad)
    assert len(got) == len(node.inputs), (
        f"{name}: the rule returned {len(got)} gradients for {len(node.inputs)} inputs; "
        "return one per input (None allowed)")
    for i, (g, want) in enumerate(zip(got, expected)):
        if want is None:
            continue
        assert g is not None, f"{name}: input {i} requires grad but the rule returned None for it"
        g = unbroadcast(np.asarray(g), node.inputs[i].shape)
        assert np.allclose(g, want, atol=1e-6), (
            f"{name}: gradient of input {i}: expected\n{want}\ngot\n{g}\n"
            "Likely cause: a wrong local derivative or the wrong operand.")


GRADIENT_RULE_UNDER_TEST = {"add": add_backward, "sub": sub_backward, "mul": mul_backward,
                            "div": div_backward, "neg": neg_backward, "pow": pow_backward,
                            "matmul": matmul_backward}


def test_unit_arithmetic_rules():
    a = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    b = Tensor(np.array([0.5, -2.0]), requires_grad=True)
    g = np.array([[1.0, 10.0], [100.0, 1000.0]])
    _rule_check("add", a + b, g, [g, g.sum(0)])
    _rule_check("sub", a - b, g, [g, -g.sum(0)])
    _rule_check("mul", a * b, g, [g * b.data, (g * a.data).sum(0)])
    _rule_check("div", a / b, g, [g / b.data, (-g * a.data / b.data ** 2).sum(0)])
    _rule_check("neg", -a, g, [-g])
    _rule_check("pow", a ** 3, g, [g * 3 * a.data ** 2])
    _rule_check("pow (tensor exponent)", a ** b, g,
                [g * b.data * a.data ** (b.data - 1),
                 (g * a.data ** b.data * np.log(a.data)).sum(0)])
    zero = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    _rule_check("pow at 0 ** 0", zero ** 0, np.ones(2), [np.zeros(2)])
    print("✅ add, sub, mul, div, neg and pow rules give the textbook derivatives (and PyTorch's "
          "zeros)")


def test_unit_matmul_rule():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4))
    B = rng.standard_normal((4, 5))
    G = rng.standard_normal((3, 5))
    a, b = Tensor(A, requires_grad=True), Tensor(B, requires_grad=True)
    _rule_check("matmul 2-D", a @ b, G, [G @ B.T, A.T @ G])
    v = Tensor(rng.standard_normal(4), requires_grad=True)
    _rule_check("matmul (k,) @ (k, n)", v @ b, G[0], [B @ G[0], np.outer(v.data, G[0])])
    _rule_check("matmul (m, k) @ (k,)", a @ v, G[:, 0], [np.outer(G[:, 0], v.data), A.T @ G[:, 0]])
    _rule_check("matmul dot (each side)", v @ v, np.array(2.0), [2 * v.data, 2 * v.data])
    batch = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    Gb = rng.standard_normal((2, 3, 5))
    _rule_check("matmul batched @ shared 2-D", batch @ b, Gb,
                [Gb @ B.T, sum(batch.data[i].T @ Gb[i] for i in range(2))])
    frozen = Tensor(A)  # constant data: its gradient must be skipped
    grads = matmul_backward((frozen @ b)._ctx, G)
    assert grads[0] is None, ("matmul rule: input 0 does not require grad, so its gradient should "
                              "be None (skip the work); use _wants(node, 0)")
    print("✅ matmul rule handles 2-D, 1-D on either side, dot products, batches; skips constants")


test_unit_arithmetic_rules()
test_unit_matmul_rule()

# %% [markdown]
# ## 5. Reductions
#
# A reduction collapses axes, so its backward **spreads** the gradient back over them.
#
# - `sum`: every input element contributed with weight 1 → broadcast `grad` back to `a.shape`.
#   If the reduced axes were dropped (`keepdim=False`), put them back as size 1 first
#   (`np.expand_dims(grad, dim)`), otherwise broadcasting would line up the wrong axes.
# - `mean`: the same, divided by the number of elements averaged.
# - `max`/`min` with `dim`: only the chosen element moved the output. Module 01 saved its
#   position (`indices`, keepdim form), and `np.put_along_axis` scatters `grad` there.
#   Without `dim`, PyTorch splits the gradient **evenly among ties**: `max([1, 3, 3])` sends
#   `g/2` to each 3.
# - `var` with `N` elements and `correction` c: `d var / d aᵢ = 2 (aᵢ − mean) / (N − c)`
#   (the mean's own dependence on `aᵢ` cancels because the centred values sum to zero).
#   `std` is recorded as `var(...).sqrt()`, so it needs no rule of its own.
#
# Broadcasting with `np.broadcast_to` costs nothing: it returns a read-only **view** with stride 0,
# not a copy. The engine knows such an array is not its own and copies it only if it must.

# %%
#| export
def _restore_dims(grad: np.ndarray, dim, keepdim: bool) -> np.ndarray:
    """Put reduced axes back as size 1 so grad broadcasts against the input (keepdim=False case)."""
    return grad if dim is None or keepdim else np.expand_dims(grad, dim)


def _count(shape: tuple, dim) -> int:
    """How many elements a reduction over `dim` (tuple or None) combined into each output."""
    return math.prod(shape) if dim is None else math.prod(shape[d] for d in dim)


def sum_backward(node: Node, grad: np.ndarray):
    """out = a.sum(dim, keepdim) (saved: dim tuple or None, keepdim)  ->  g broadcast to a.shape."""
    ### BEGIN SOLUTION
    (a,) = node.inputs
    grad = _restore_dims(grad, node.saved["dim"], node.saved["keepdim"])
    return (np.broadcast_to(grad, a.shape),)
    ### END SOLUTION


def mean_backward(node: Node, grad: np.ndarray):
    """out = a.mean(dim, keepdim)  ->  g / N broadcast to a.shape (N = elements per mean)."""
    # Hint: divide the small array before broadcasting it: N times less work.
    ### BEGIN SOLUTION
    (a,) = node.inputs
    dim = node.saved["dim"]
    grad = _restore_dims(grad, dim, node.saved["keepdim"]) / _count(a.shape, dim)
    return (np.broadcast_to(grad, a.shape),)
    ### END SOLUTION


def _extreme_backward(node: Node, grad: np.ndarray, extreme) -> tuple:
    """Shared body of max/min backward; `extreme` is np.max or np.min (used when dim is None)."""
    ### BEGIN SOLUTION
    (a,) = node.inputs
    dim = node.saved["dim"]
    if dim is None:  # one value for the whole tensor: split evenly among the tied extremes
        ties = a.data == extreme(a.data)
        return (np.where(ties, grad / np.count_nonzero(ties), 0).astype(grad.dtype, copy=False),)
    grad = _restore_dims(grad, (dim,), node.saved["keepdim"])
    out = np.zeros(a.shape, dtype=grad.dtype)
    np.put_along_axis(out, node.saved["indices"], grad, axis=dim)
    return (out,)
    ### END SOLUTION


def max_backward(node: Node, grad: np.ndarray):
    """out = a.max() or a.max(dim).values  ->  g at the argmax (ties share it if dim is None)."""
    return _extreme_backward(node, grad, np.max)


def min_backward(node: Node, grad: np.ndarray):
    """out = a.min() or a.min(dim).values  ->  g at the argmin (ties share it if dim is None)."""
    return _extreme_backward(node, grad, np.min)


def var_backward(node: Node, grad: np.ndarray):
    """out = a.var(dim, keepdim, correction)  ->  g * 2 (a - mean) / (N - correction)."""
    ### BEGIN SOLUTION
    (a,) = node.inputs
    dim, correction = node.saved["dim"], node.saved["correction"]
    grad = _restore_dims(grad, dim, node.saved["keepdim"])
    centered = a.data - a.data.mean(axis=dim, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # N <= correction: inf/nan, as PyTorch
        scale = np.divide(2.0, _count(a.shape, dim) - correction, dtype=a.data.dtype)
        return (grad * centered * scale,)
    ### END SOLUTION


# %%
#| test
GRADIENT_RULE_UNDER_TEST.update(sum=sum_backward, mean=mean_backward, max=max_backward,
                                min=min_backward, var=var_backward)


def test_unit_reduction_rules():
    x = Tensor(np.array([[1.0, 5.0, 5.0], [4.0, 2.0, 6.0]]), requires_grad=True)
    _rule_check("sum all", x.sum(), np.array(2.0), [np.full((2, 3), 2.0)])
    _rule_check("sum dim=1", x.sum(1), np.array([1.0, 2.0]), [np.array([[1.0] * 3, [2.0] * 3])])
    _rule_check("sum dim=0 keepdim", x.sum(0, keepdim=True), np.array([[1.0, 2.0, 3.0]]),
                [np.array([[1.0, 2.0, 3.0]] * 2)])
    _rule_check("mean dim=(0, 1)", x.mean((0, 1)), np.array(6.0), [np.ones((2, 3))])
    _rule_check("max all (tie)", x.max(), np.array(1.0), [np.array([[0, 0, 0], [0, 0, 1.0]])])
    _rule_check("max of a row with a tie", x[0].max(), np.array(1.0), [np.array([0, 0.5, 0.5])])
    _rule_check("max dim=1", x.max(1).values, np.array([1.0, 2.0]),
                [np.array([[0, 1.0, 0], [0, 0, 2.0]])])
    _rule_check("min dim=0 keepdim", x.min(0, keepdim=True).values, np.array([[1.0, 2.0, 3.0]]),
                [np.array([[1.0, 0, 3.0], [0, 2.0, 0]])])
    centered = x.data - x.data.mean(1, keepdims=True)
    _rule_check("var dim=1", x.var(1), np.array([1.0, 1.0]), [2 * centered / 2])
    _rule_check("var all, correction=0", x.var(correction=0), np.array(1.0),
                [2 * (x.data - x.data.mean()) / 6])
    print("✅ sum, mean, max/min (ties split evenly, indices with dim) and var spread gradients")


test_unit_reduction_rules()

# %% [markdown]
# ## 6. Elementwise math, shape ops and indexing
#
# | op | gradient | note |
# |---|---|---|
# | exp | g · out | module 01 saved `out = eᵃ` |
# | sqrt | g / (2 · out) | |
# | log | g / a | |
# | abs | g · sign(a) | 0 at a = 0 |
# | clamp | g where min ≤ a ≤ max, else 0 | boundary values pass (PyTorch) |
# | reshape | g reshaped to a.shape | also view, flatten, squeeze, unsqueeze |
# | permute | g permuted by the inverse permutation | `np.argsort(dims)` inverts a permutation |
# | expand | g, un-broadcast to a.shape | the engine's helper does the summing |
# | cat | g split along `dim` at the input sizes | views, no copies |
# | stack | g sliced along `dim` | views |
# | getitem | zeros of a.shape with g scattered back | repeated indices must **add** |
# | masked_fill | input: g where the mask is False, else 0; value: the sum of g over the mask | the mask broadcasts |
# | where | a: g where the condition is True, else 0; b: the rest | both un-broadcast by the engine |
# | tril / triu | the same triangle of g | the zeroed elements did not depend on a |
#
# Indexing deserves a closer look. `x[[0, 0, 2]]` reads row 0 twice, so row 0's gradient is the
# sum of two output rows. `out[index] = g` would silently keep only the last write;
# `np.add.at(out, index, g)` adds every contribution. `np.add.at` is slower, so use it only for
# integer-array indices — slices, integers and boolean masks never repeat an element.
#
# `split`, `chunk` and `unbind` need no rules of their own: each piece is a basic slice, recorded as
# `getitem`, and the engine sums the pieces' gradients into the input.

# %%
#| export
def exp_backward(node: Node, grad: np.ndarray):
    """out = exp(a)  ->  (g * out,)."""
    ### BEGIN SOLUTION
    return (grad * node.saved["out"],)
    ### END SOLUTION


def sqrt_backward(node: Node, grad: np.ndarray):
    """out = sqrt(a)  ->  (g / (2 out),)."""
    ### BEGIN SOLUTION
    with np.errstate(divide="ignore"):
        return (grad / (2 * node.saved["out"]),)
    ### END SOLUTION


def log_backward(node: Node, grad: np.ndarray):
    """out = log(a)  ->  (g / a,)."""
    ### BEGIN SOLUTION
    with np.errstate(divide="ignore"):
        return (grad / node.inputs[0].data,)
    ### END SOLUTION


def abs_backward(node: Node, grad: np.ndarray):
    """out = |a|  ->  (g * sign(a),)  (0 at a == 0)."""
    ### BEGIN SOLUTION
    return (grad * np.sign(node.inputs[0].data),)
    ### END SOLUTION


def clamp_backward(node: Node, grad: np.ndarray):
    """out = a.clamp(min, max) (either may be None)  ->  g where min <= a <= max, else 0."""
    ### BEGIN SOLUTION
    a = node.inputs[0].data
    low, high = node.saved["min"], node.saved["max"]
    inside = np.ones(a.shape, dtype=bool)
    if low is not None:
        inside &= a >= low
    if high is not None:
        inside &= a <= high
    return (grad * inside,)
    ### END SOLUTION


def reshape_backward(node: Node, grad: np.ndarray):
    """out = a.reshape(shape)  ->  (g.reshape(a.shape),)."""
    ### BEGIN SOLUTION
    return (grad.reshape(node.inputs[0].shape),)
    ### END SOLUTION


def permute_backward(node: Node, grad: np.ndarray):
    """out = a.permute(dims)  ->  (g.transpose(argsort(dims)),)  (the inverse permutation)."""
    ### BEGIN SOLUTION
    return (grad.transpose(np.argsort(node.saved["dims"])),)
    ### END SOLUTION


def expand_backward(node: Node, grad: np.ndarray):
    """out = a.expand(sizes)  ->  (g,) in the expanded shape; the engine un-broadcasts it."""
    ### BEGIN SOLUTION
    return (grad,)
    ### END SOLUTION


def cat_backward(node: Node, grad: np.ndarray):
    """out = cat(tensors, dim)  ->  g split along dim into pieces of each input's size."""
    ### BEGIN SOLUTION
    dim = node.saved["dim"]
    ends = np.cumsum([t.shape[dim] for t in node.inputs])[:-1]
    return tuple(np.split(grad, ends, axis=dim))
    ### END SOLUTION


def stack_backward(node: Node, grad: np.ndarray):
    """out = stack(tensors, dim)  ->  the slices g[..., i, ...] along dim, one per input."""
    ### BEGIN SOLUTION
    return tuple(np.moveaxis(grad, node.saved["dim"], 0))
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    a = node.inputs[0]
    index = node.saved["index"]
    out = np.zeros(a.shape, dtype=grad.dtype)
    if _repeats_possible(index):
        np.add.at(out, index, grad)
    else:
        out[index] = grad
    return (out,)
    ### END SOLUTION


def masked_fill_backward(node: Node, grad: np.ndarray):
    """out = input.masked_fill(mask, value)  ->  (g where not mask, g where mask) (0 elsewhere).

    Both are in the broadcast shape of out; the engine sums the value's gradient down to ().
    """
    # Hint: np.where(mask, 0, g) and np.where(mask, g, 0); the mask is node.saved["mask"].
    ### BEGIN SOLUTION
    mask = node.saved["mask"]
    zero = np.zeros((), dtype=grad.dtype)
    return (np.where(mask, zero, grad) if _wants(node, 0) else None,
            np.where(mask, grad, zero) if _wants(node, 1) else None)
    ### END SOLUTION


def where_backward(node: Node, grad: np.ndarray):
    """out = where(condition, a, b)  ->  (g where condition, g where not condition) (0 elsewhere)."""
    ### BEGIN SOLUTION
    condition = node.saved["condition"]
    zero = np.zeros((), dtype=grad.dtype)
    return (np.where(condition, grad, zero) if _wants(node, 0) else None,
            np.where(condition, zero, grad) if _wants(node, 1) else None)
    ### END SOLUTION


def tril_backward(node: Node, grad: np.ndarray):
    """out = tril(a, diagonal)  ->  (tril(g, diagonal),)."""
    ### BEGIN SOLUTION
    return (np.tril(grad, node.saved["diagonal"]),)
    ### END SOLUTION


def triu_backward(node: Node, grad: np.ndarray):
    """out = triu(a, diagonal)  ->  (triu(g, diagonal),)."""
    return (np.triu(grad, node.saved["diagonal"]),)


# %%
#| test
GRADIENT_RULE_UNDER_TEST.update(masked_fill=masked_fill_backward, where=where_backward,
                                tril=tril_backward, triu=triu_backward)
GRADIENT_RULE_UNDER_TEST.update(exp=exp_backward, sqrt=sqrt_backward, log=log_backward,
                                abs=abs_backward, clamp=clamp_backward, reshape=reshape_backward,
                                permute=permute_backward, expand=expand_backward, cat=cat_backward,
                                stack=stack_backward, getitem=getitem_backward)


def test_unit_elementwise_and_shape_rules():
    from tinytorch.core.tensor import cat, stack
    x = Tensor(np.array([[-2.0, 0.0, 1.0], [4.0, 0.5, 9.0]]), requires_grad=True)
    g = np.arange(1.0, 7.0).reshape(2, 3)
    _rule_check("exp", x.exp(), g, [g * np.exp(x.data)])
    pos = Tensor(np.array([1.0, 4.0, 9.0]), requires_grad=True)
    _rule_check("sqrt", pos.sqrt(), np.ones(3), [1 / (2 * np.sqrt(pos.data))])
    _rule_check("log", pos.log(), np.ones(3), [1 / pos.data])
    _rule_check("abs (0 at 0)", x.abs(), g, [g * np.array([[-1, 0, 1], [1, 1, 1]])])
    _rule_check("clamp [0, 4] keeps boundaries", x.clamp(0.0, 4.0), g,
                [g * np.array([[0, 1, 1], [1, 1, 0]])])
    _rule_check("clamp min only", x.clamp(min=1.0), g, [g * np.array([[0, 0, 1], [1, 0, 1]])])
    _rule_check("reshape", x.reshape(3, 2), g.reshape(3, 2), [g])
    _rule_check("permute", x.permute(1, 0), g.T, [g])
    y = Tensor(np.ones((2, 3, 4)), requires_grad=True)
    gy = np.arange(24.0).reshape(4, 3, 2)
    _rule_check("permute (2, 1, 0)", y.permute(2, 1, 0), gy, [gy.transpose(2, 1, 0)])
    r = Tensor(np.ones((3, 1)), requires_grad=True)
    _rule_check("expand", r.expand(2, 3, 4), np.ones((2, 3, 4)), [np.full((3, 1), 8.0)])
    a, b = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((2, 1)), requires_grad=True)
    gc = np.arange(8.0).reshape(2, 4)
    _rule_check("cat dim=1", cat([a, b], dim=1), gc, [gc[:, :3], gc[:, 3:]])
    gs = np.arange(12.0).reshape(2, 2, 3)
    _rule_check("stack dim=1", stack([a, a * 1], dim=1), gs, [gs[:, 0], None])
    _rule_check("getitem slice", x[:, 1:], g[:, 1:], [np.array([[0, 2, 3], [0, 5, 6.0]])])
    _rule_check("getitem repeated rows", x[[0, 0, 1]], np.ones((3, 3)),
                [np.array([[2.0] * 3, [1.0] * 3])])
    _rule_check("getitem bool mask", x[x.data > 0], np.array([1.0, 2, 3, 4]),
                [np.array([[0, 0, 1.0], [2, 3, 4]])])
    from tinytorch.core.tensor import where
    mask = Tensor(np.array([[True], [False]]))  # (2, 1): broadcast over the columns of x
    value = Tensor(np.array(-1.0), requires_grad=True)
    _rule_check("masked_fill", x.masked_fill(mask, value), g, [g * np.array([[0], [1]]), g[0].sum()])
    other = Tensor(np.zeros(3), requires_grad=True)
    pick = Tensor(np.array([[True, False, True], [False, False, True]]))
    _rule_check("where", where(pick, x, other), g, [g * pick.data, (g * ~pick.data).sum(0)])
    _rule_check("tril", x.tril(), g, [np.array([[1.0, 0, 0], [4, 5, 0]])])
    _rule_check("triu diagonal 1", x.triu(1), g, [np.array([[0, 2.0, 3], [0, 0, 6]])])
    print("✅ exp sqrt log abs clamp reshape permute expand cat stack getitem masked_fill where tril triu "
          "rules agree")


test_unit_elementwise_and_shape_rules()

# %% [markdown]
# ### Casts, copies, elementwise maximum/minimum and gather
#
# | op | gradient | note |
# |---|---|---|
# | cast | g (the engine converts it back to a's dtype) | `x.double()`, `x.float()`, `x.to(dtype)` |
# | clone | g | |
# | maximum | a: g where a > b, g/2 where a == b; b: the rest | ties split evenly, as in PyTorch |
# | minimum | a: g where a < b, g/2 where a == b; b: the rest | |
# | gather | zeros of a.shape with g put back at `index` along `dim` | also `sort` and `topk` |
#
# Why split ties? Where `a == b`, `maximum` is not differentiable: nudging `a` up moves the
# output, nudging it down does not. PyTorch gives each side half, which is the average of the two
# one-sided derivatives and keeps `maximum(a, b) + minimum(a, b) = a + b` true for the gradients.
# `gather` is indexing along one dimension: where an index repeats (only possible in a user's
# `gather`; `sort` and `topk` pick each element once) the contributions must add, so the rule
# uses `np.add.at` there and the faster `np.put_along_axis` when the op saved `unique=True`.

# %%
#| export
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
    ### BEGIN SOLUTION
    a, b = node.inputs
    share = a_wins.astype(grad.dtype)
    share += 0.5 * (a.data == b.data)
    return (grad * share if _wants(node, 0) else None,
            grad * (1 - share) if _wants(node, 1) else None)
    ### END SOLUTION


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


# %%
#| test
GRADIENT_RULE_UNDER_TEST.update(cast=cast_backward, clone=clone_backward, maximum=maximum_backward,
                                minimum=minimum_backward, gather=gather_backward)


def test_unit_selection_rules():
    from tinytorch.core.tensor import maximum, minimum
    a = Tensor(np.array([1.0, 2.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([2.0, 2.0, 1.0]), requires_grad=True)
    g = np.array([1.0, 2.0, 4.0])
    _rule_check("maximum (tie in the middle)", maximum(a, b), g, [[0, 1, 4], [1, 1, 0]])
    _rule_check("minimum", minimum(a, b), g, [[1, 1, 0], [0, 1, 4]])
    _rule_check("cast", a.float(), np.ones(3, np.float32), [np.ones(3)])
    _rule_check("clone", a.clone(), g, [g])
    x = Tensor(np.array([[1.0, 5.0, 3.0], [4.0, 0.0, 2.0]]), requires_grad=True)
    _rule_check("gather with a repeated index", x.gather(1, Tensor(np.array([[1, 1], [0, 2]]))),
                np.array([[1.0, 2.0], [3.0, 4.0]]), [[[0, 3, 0], [3, 0, 4]]])
    _rule_check("sort (unique indices)", x.sort(descending=True).values, np.arange(1.0, 7.0).reshape(2, 3),
                [[[3, 1, 2], [4, 6, 5]]])
    print("✅ cast, clone, maximum/minimum (ties split evenly) and gather rules agree")


test_unit_selection_rules()

# %% [markdown]
# ## 7. Activations (module 02)
#
# Module 02's activations are elementwise (or, for softmax, rowwise). Their rules:
#
# | op | forward | derivative |
# |---|---|---|
# | relu | max(0, x) | 1 where x > 0, else 0 (0 at x = 0, as PyTorch) |
# | leaky_relu | x or s·x | 1 where x > 0, else s |
# | sigmoid | σ(x) = 1 / (1 + e⁻ˣ) | out · (1 − out) |
# | tanh | tanh x | 1 − out² |
# | silu | x · σ(x) | σ(x) · (1 + x · (1 − σ(x))) |
# | gelu (exact) | x · Φ(x) | Φ(x) + x · φ(x) |
# | gelu (tanh) | ½x(1 + t), t = tanh(√(2/π)(x + cx³)) | ½(1 + t) + ½x(1 − t²)√(2/π)(1 + 3cx²) |
# | softmax | p = eˣ / Σeˣ along dim | p ⊙ (g − Σ(g ⊙ p)) |
# | log_softmax | x − log Σeˣ | g − softmax(x) · Σg |
#
# The softmax rule is the Jacobian-vector product done without ever building the `C×C` Jacobian
# `diag(p) − ppᵀ`: multiply it by `g` on paper and you get `p ⊙ g − p (pᵀg)`. Two elementwise ops
# and one sum instead of a matrix per row.
#
# A speed note for the masks in relu, leaky_relu and clamp: write `grad * (x > 0)`, not
# `np.where(x > 0, grad, 0)`. Both give the same numbers, but `np.where` branches per element, and
# on a random sign pattern the CPU mispredicts half of those branches: on a 256×256 float32 array
# the multiply takes ~25 µs and `np.where` ~250 µs (try it with `timeit`).
#
# GELU's exact form needs the normal CDF `Φ(x) = ½ (1 + erf(x / √2))` and its density
# `φ(x) = e^(−x²/2) / √(2π)`. NumPy has no `erf`; module 02 wrote a vectorized one that matches
# `math.erf` to ~1e-15, and we reuse it here rather than keep a second copy. Accuracy matters:
# a float64 `gradcheck` would notice a textbook approximation that is off by 1e-7.

# %%
#| export
def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = e^min(x,0) / (1 + e^-|x|): no overflow, full precision in both tails, no branches."""
    return np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))


def relu_backward(node: Node, grad: np.ndarray):
    """out = max(0, x)  ->  g where x > 0, else 0."""
    ### BEGIN SOLUTION
    return (grad * (node.inputs[0].data > 0),)
    ### END SOLUTION


def leaky_relu_backward(node: Node, grad: np.ndarray):
    """out = x if x > 0 else s·x (saved: negative_slope s)  ->  g or s·g."""
    ### BEGIN SOLUTION
    slope = node.saved["negative_slope"]
    x = node.inputs[0].data
    factor = (x > 0).astype(x.dtype)  # 1 or 0, then mapped to 1 or slope
    factor *= 1 - slope
    factor += slope
    return (grad * factor,)
    ### END SOLUTION


def sigmoid_backward(node: Node, grad: np.ndarray):
    """out = σ(x)  ->  g · out · (1 - out)."""
    ### BEGIN SOLUTION
    out = node.saved["out"]
    return (grad * out * (1 - out),)
    ### END SOLUTION


def tanh_backward(node: Node, grad: np.ndarray):
    """out = tanh(x)  ->  g · (1 - out²)."""
    ### BEGIN SOLUTION
    out = node.saved["out"]
    return (grad * (1 - out * out),)
    ### END SOLUTION


def silu_backward(node: Node, grad: np.ndarray):
    """out = x σ(x)  ->  g · σ(x) (1 + x (1 - σ(x)))."""
    ### BEGIN SOLUTION
    x = node.inputs[0].data
    s = _sigmoid(x)
    return (grad * s * (1 + x * (1 - s)),)
    ### END SOLUTION


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu_backward(node: Node, grad: np.ndarray):
    """out = x Φ(x) (approximate="none") or ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ("tanh").

    Derivatives: Φ(x) + x φ(x), with φ(x) = e^(-x²/2) / √(2π); and for "tanh", with t the tanh,
    ½(1 + t) + ½ x (1 - t²) √(2/π) (1 + 3·0.044715 x²).
    """
    # Hint: Φ(x) = 0.5 * (1 + erf(x * (1 / √2))) with module 02's erf; multiply by Python
    #       floats (not float64 arrays) so a float32 x stays float32.
    ### BEGIN SOLUTION
    x = node.inputs[0].data
    if node.saved["approximate"] == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
        slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
    else:
        cdf = 0.5 * (1 + erf(x * math.sqrt(0.5)))
        slope = cdf + x * (_INV_SQRT_2PI * np.exp(-0.5 * x * x))
    return (grad * slope,)
    ### END SOLUTION


def softmax_backward(node: Node, grad: np.ndarray):
    """p = softmax(x, dim) (saved: dim, out = p)  ->  p ⊙ (g - Σ_dim(g ⊙ p))."""
    ### BEGIN SOLUTION
    p = node.saved["out"]
    return (p * (grad - (grad * p).sum(axis=node.saved["dim"], keepdims=True)),)
    ### END SOLUTION


def log_softmax_backward(node: Node, grad: np.ndarray):
    """out = log_softmax(x, dim) (saved: dim, out)  ->  g - exp(out) · Σ_dim g."""
    ### BEGIN SOLUTION
    out = node.saved["out"]
    return (grad - np.exp(out) * grad.sum(axis=node.saved["dim"], keepdims=True),)
    ### END SOLUTION


# %% [markdown]
# ## 8. Losses (module 04)
#
# Module 04 computes each loss *per element* with one recorded op, then composes the reduction
# (`sum`, `mean`, or a division by the summed class weights) from ops that already have rules.
# So only the per-element parts need rules here.
#
# **`nll_loss`** reads one log-probability per sample: `out[i] = coef[i] · logp[i, target[i]]`
# with `coef[i] = −weight[target[i]]` (0 for an ignored sample). Its gradient is zero everywhere
# except at the chosen classes — a scatter, like `max` with `dim`:
#
# ```
#   logp (N, C)                       grad of logp (N, C)
#   [ .  .  T  . ]   target = [2,     [ 0  0  g0·c0  0 ]
#   [ T  .  .  . ]             0,     [ g1·c1  0  0  0 ]
#   [ .  .  .  T ]             3]     [ 0  0  0  g2·c2 ]
# ```
#
# The class axis is 1 (PyTorch's layout, also for `(N, C, d1, …)`), or 0 for a single `(C,)`
# sample.
#
# **`binary_cross_entropy`** on probabilities: `−w [y log p + (1 − y) log(1 − p)]`, each log
# clamped at −100 as PyTorch does (so `p = 0` gives a large finite loss, not `inf`). PyTorch's
# gradient with respect to `p` is `w (p − y) / max(p (1 − p), 1e-12)`; with respect to `y` it is
# `w (log(1 − p) − log p)` with the same clamped logs.
#
# **`binary_cross_entropy_with_logits`** on a logit `z`, with optional `pos_weight` `q` on the
# positive term: loss `= −w [q y log σ(z) + (1 − y) log(1 − σ(z))]`. Differentiating:
#
# ```
#   d/dz = w [σ(z) (q y + 1 − y) − q y]        (= w (σ(z) − y) when q = 1)
#   d/dy = w [(1 − q) log σ(z) − z]            (log σ(z) = min(z, 0) − log(1 + e^(−|z|)))
# ```
#
# Fusing sigmoid and BCE in one op is not only faster: it never forms `log(σ(z))` from a rounded
# `σ(z)`, so large `|z|` cannot produce `log 0`.

# %%
#| export
def nll_loss_backward(node: Node, grad: np.ndarray):
    """out[i, ...] = coef[i, ...] · logp[i, target[i, ...], ...]  ->  g · coef, scattered at target.

    Shapes: logp (N, C, *d) or (C,); target and coef (N, *d) or (); grad has target's shape.
    """
    # Hint: np.put_along_axis(out, np.expand_dims(target, axis), np.expand_dims(values, axis), axis)
    #       with axis = 1 (or 0 when logp is 1-D).
    ### BEGIN SOLUTION
    logp = node.inputs[0]
    target, coef = node.saved["target"], node.saved["coef"]
    axis = 1 if logp.ndim > 1 else 0
    out = np.zeros(logp.shape, dtype=logp.dtype)
    values = np.broadcast_to(grad * coef, target.shape)
    np.put_along_axis(out, np.expand_dims(target, axis), np.expand_dims(values, axis), axis=axis)
    return (out,)
    ### END SOLUTION


def _clamped_log(x: np.ndarray) -> np.ndarray:
    """log(x) clamped at -100, as PyTorch's binary_cross_entropy does."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(x), -100.0)


def binary_cross_entropy_backward(node: Node, grad: np.ndarray):
    """out = -w [y log p + (1-y) log(1-p)] (logs clamped at -100; saved: weight or None)

    ->  (g w (p - y) / max(p (1 - p), 1e-12),  g w (log(1 - p) - log p)).
    """
    ### BEGIN SOLUTION
    p, y = node.inputs
    weight = node.saved["weight"]
    scale = grad if weight is None else grad * weight
    grad_p = grad_y = None
    if _wants(node, 0):
        grad_p = scale * (p.data - y.data) / np.maximum(p.data * (1 - p.data), 1e-12)
    if _wants(node, 1):
        grad_y = scale * (_clamped_log(1 - p.data) - _clamped_log(p.data))
    return grad_p, grad_y
    ### END SOLUTION


def binary_cross_entropy_with_logits_backward(node: Node, grad: np.ndarray):
    """out = -w [q y log σ(z) + (1-y) log(1 - σ(z))] (saved: weight, pos_weight q; None = 1)

    ->  (g w [σ(z)(q y + 1 - y) - q y],  g w [(1 - q) log σ(z) - z]).
    """
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %%
#| test
GRADIENT_RULE_UNDER_TEST.update(
    relu=relu_backward, leaky_relu=leaky_relu_backward, sigmoid=sigmoid_backward,
    tanh=tanh_backward, silu=silu_backward, gelu=gelu_backward, softmax=softmax_backward,
    log_softmax=log_softmax_backward, nll_loss=nll_loss_backward,
    binary_cross_entropy=binary_cross_entropy_backward,
    binary_cross_entropy_with_logits=binary_cross_entropy_with_logits_backward)


def _numeric_derivative(f, x, eps=1e-6):
    """Central difference of an elementwise function f at every element of x (float64)."""
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_unit_activation_rules():
    x = Tensor(np.array([[-2.0, -0.5, 0.0, 0.3, 1.7]]), requires_grad=True)
    xd, g = x.data, np.ones((1, 5))
    s = 1 / (1 + np.exp(-xd))

    def record(op, value, /, **saved):
        return Tensor.from_op(value, op, (x,), **saved)

    _rule_check("relu", record("relu", np.maximum(xd, 0)), g, [(xd > 0) * 1.0])
    leaky = np.where(xd > 0, xd, 0.1 * xd)
    _rule_check("leaky_relu", record("leaky_relu", leaky, negative_slope=0.1), g,
                [np.where(xd > 0, 1.0, 0.1)])
    _rule_check("sigmoid", record("sigmoid", s, out=s), g, [s * (1 - s)])
    _rule_check("tanh", record("tanh", np.tanh(xd), out=np.tanh(xd)), g, [1 - np.tanh(xd) ** 2])
    _rule_check("silu", record("silu", xd * s), g,
                [_numeric_derivative(lambda v: v / (1 + np.exp(-v)), xd)])
    exact = lambda v: v * 0.5 * (1 + erf(v / math.sqrt(2)))
    _rule_check("gelu exact", record("gelu", exact(xd), approximate="none"), g,
                [_numeric_derivative(exact, xd)])
    approx = lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
    _rule_check("gelu tanh", record("gelu", approx(xd), approximate="tanh"), g,
                [_numeric_derivative(approx, xd)])
    p = np.exp(xd) / np.exp(xd).sum()
    gs = np.array([[1.0, 0, 0, 0, 0]])  # d p_0 / d x = p_0 (e_0 - p)
    _rule_check("softmax", record("softmax", p, dim=1, out=p), gs, [p[0, 0] * (gs - p)])
    _rule_check("log_softmax", record("log_softmax", np.log(p), dim=1, out=np.log(p)), gs, [gs - p])
    print("✅ relu, leaky_relu, sigmoid, tanh, silu, gelu (both), softmax, log_softmax rules agree")


def test_unit_loss_rules():
    logp = Tensor(np.log(np.full((3, 4), 0.25)), requires_grad=True)
    target = np.array([2, 0, 3])
    coef = np.array([-1.0, -2.0, 0.0])  # weight 2 for class 0, sample 2 ignored
    picked = logp.data[np.arange(3), target]
    out = Tensor.from_op(coef * picked, "nll_loss", (logp,), target=target, coef=coef)
    expected = np.zeros((3, 4))
    expected[0, 2], expected[1, 0] = -1.0 * 5, -2.0 * 7
    _rule_check("nll_loss", out, np.array([5.0, 7.0, 9.0]), [expected])
    p = Tensor(np.array([0.2, 0.9, 0.5]), requires_grad=True)
    y = Tensor(np.array([0.0, 1.0, 0.3]), requires_grad=True)
    bce = lambda pv, yv: -(yv * np.log(pv) + (1 - yv) * np.log(1 - pv))
    out = Tensor.from_op(bce(p.data, y.data), "binary_cross_entropy", (p, y), weight=None)
    _rule_check("binary_cross_entropy", out, np.ones(3),
                [_numeric_derivative(lambda v: bce(v, y.data), p.data),
                 _numeric_derivative(lambda v: bce(p.data, v), y.data)])
    z = Tensor(np.array([-3.0, 0.5, 4.0]), requires_grad=True)
    q = np.array([2.0, 2.0, 0.5])

    def bce_logits(zv, yv):
        s = 1 / (1 + np.exp(-zv))
        return -(q * yv * np.log(s) + (1 - yv) * np.log(1 - s))

    out = Tensor.from_op(bce_logits(z.data, y.data), "binary_cross_entropy_with_logits", (z, y),
                         weight=None, pos_weight=q)
    _rule_check("binary_cross_entropy_with_logits", out, np.ones(3),
                [_numeric_derivative(lambda v: bce_logits(v, y.data), z.data),
                 _numeric_derivative(lambda v: bce_logits(z.data, v), y.data)])
    print("✅ nll_loss scatters to the target classes; both BCE rules match finite differences")


test_unit_activation_rules()
test_unit_loss_rules()

# %% [markdown]
# ## 9. The rule table
#
# One entry per op name that modules 01–04 record (the table in `docs/autograd.md`). The engine
# looks the rule up by `node.op`. An op name missing here is a clear error at backward time, not a
# silent zero gradient.

# %%
#| export
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

# %% [markdown]
# ## 10. The engine: `backward()`
#
# ### Order: every consumer before its producer
#
# A node may hand its gradient on only when it is **complete**, that is, when every op that read
# its output has already added its contribution. In `y = x * x + x`, `x` feeds two ops; if we
# pushed `x`'s gradient onward after hearing from only one of them, the other contribution would
# be lost. A **topological order** — every tensor after all tensors computed from it — guarantees
# completeness. Depth-first search gives one: visit a tensor's inputs first, and append the
# tensor when all of them are done ("post-order"). Reading that list from the end gives the root
# first and every tensor after all of its consumers.
#
# ```
#   y = a * b + a
#
#   a ──┬──► [mul] ──► m ──► [add] ──► y
#       │      ▲               ▲
#   b ──┼──────┘               │
#       └──────────────────────┘
#
#   post-order (inputs first):   a, b, m, y
#   backward (reversed):         y, m, b, a
#   y hands g to m and to a; m hands g·b to a and g·a to b; only now is a complete:
#   a.grad = g + g·b
# ```
#
# ### Why not recursion?
#
# The natural recursive DFS (`def visit(t): for i in inputs: visit(i); order.append(t)`) puts one
# Python frame on the call stack per tensor along the longest path. Python stops at ~1,000 frames
# (`RecursionError`), and an RNN unrolled over 1,000 steps, or any loop of 10,000 small updates,
# makes a path that long. An **explicit stack** of `(tensor, inputs_done)` pairs does the same
# walk with a Python list, which can grow to millions of entries.
#
# ### Accumulation without aliasing
#
# Gradients for one tensor arriving from several consumers are **summed**. The cheap way to sum
# is in place (`held += new`), but in place is only safe on an array *nobody else can see*. `add`
# hands the very same `grad` array to both of its inputs; `reshape` hands on a view of it; `sum`
# hands on a read-only broadcast view. Writing into any of those would corrupt another tensor's
# gradient. So the engine tracks **ownership**: an array is *owned* when the engine knows nothing
# else refers to it — it came out of an addition or a dtype conversion the engine did, or out of a
# built-in rule as a fresh, writable array that shares no memory with `grad` or with the other
# gradients of the same node. Owned arrays are added into in place and handed to a leaf's
# `.grad` without a copy; anything else is copied exactly once, when it must be.
#
# ### Checking that nothing changed in place
#
# Module 01's in-place ops (`x.add_(1)`, `x += 1`, `x.zero_()`) add 1 to a tensor's **version
# counter**, which all views of the same memory share, and `from_op` stores in every Node the
# version of each input it read (`node.versions`) and, for ops that saved their output, the
# output's counter and version (`node.out_version`). A rule reads its inputs' `.data` *now*, during
# backward; if one was changed in place after the forward pass, the rule would compute a wrong
# gradient from the new numbers without any sign of trouble. So before running a rule, the engine
# compares, and refuses with PyTorch's message:
#
# ```
# one of the variables needed for gradient computation has been modified by an inplace operation:
# the float32 tensor of shape (3,) that is input 1 of 'mul' is at version 1; expected version 0 instead.
# ```
#
# ### Freeing the graph
#
# After `backward()` the graph is not needed any more (PyTorch's default `retain_graph=False`).
# The engine **empties each node it used**: `node.inputs = ()` and `node.saved = None`. The
# saved activations — usually most of a training step's memory — become garbage at once, while
# `loss.grad_fn` and `is_leaf` still read as before. Calling `backward()` through an emptied node
# a second time is a clear error; pass `retain_graph=True` to the first call if you really need
# two passes.

# %%
#| export
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
    ### BEGIN SOLUTION
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
    ### END SOLUTION


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
    ### BEGIN SOLUTION
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
    ### END SOLUTION


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
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %%
#| test
def test_unit_backward_engine():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = (x * x + x).sum()  # shared subexpression: x is read three times
    backward(y)
    assert np.allclose(x.grad.data, 2 * x.data + 1), (
        f"d/dx sum(x*x + x) should be 2x + 1 = {2 * x.data + 1}, got {x.grad.data}. Likely cause: "
        "gradients from different consumers overwrite each other instead of being summed.")
    assert x.grad.dtype == x.dtype, f"x.grad should have x's dtype {x.dtype}, got {x.grad.dtype}"
    backward((x * 2).sum())
    assert np.allclose(x.grad.data, 2 * x.data + 3), (
        "a second backward() should ADD to x.grad (PyTorch accumulates until zero_grad()); "
        f"expected {2 * x.data + 3}, got {x.grad.data}")

    a = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    backward((a + b).sum())
    a.grad.data *= 10  # e.g. gradient clipping in place
    assert np.allclose(b.grad.data, 1), ("a.grad and b.grad share memory: `add` hands the same "
                                         "array to both inputs, so a leaf must get its own copy")

    w = Tensor(np.full((2, 3), 0.5), requires_grad=True)
    bias = Tensor(np.zeros(3), requires_grad=True)
    x_in = Tensor(np.arange(8.0).reshape(4, 2))
    loss = (x_in @ w + bias).sum()
    backward(loss)
    assert bias.grad.shape == (3,) and np.allclose(bias.grad.data, 4), (
        f"bias broadcast over 4 rows should get gradient 4 per element, got {bias.grad.data}")
    assert x_in.grad is None, "x_in does not require grad, so it must not receive .grad"
    assert loss._ctx is not None and loss._ctx.saved is None, (
        "after backward the graph should be freed: node.inputs = () and node.saved = None")
    try:
        backward(loss)
    except RuntimeError as error:
        assert "retain_graph" in str(error), (
            f"the second-backward error should mention retain_graph: {error}")
    else:
        raise AssertionError("a second backward() through a freed graph should raise RuntimeError")

    chain = Tensor(np.array(1.0), requires_grad=True)
    t = chain
    for _ in range(10_000):
        t = t * 1.0001
    backward(t)  # recursion would fail here (~1,000 frames)
    assert np.isclose(chain.grad.data, 1.0001 ** 10_000), "10,000-op chain: wrong gradient"

    vector = Tensor(np.ones(3), requires_grad=True) * 2
    for bad, message in [(lambda: backward(vector), "one-element"),
                         (lambda: backward(Tensor(np.ones(3)).sum()), "does not require grad"),
                         (lambda: backward(vector, np.ones(2)), "shape")]:
        try:
            bad()
        except RuntimeError as error:
            assert message in str(error), f"expected an error mentioning {message!r}, got: {error}"
        else:
            raise AssertionError(f"backward should raise RuntimeError ({message})")
    print("✅ backward sums shared paths, accumulates across calls, frees the graph, "
          "survives 10,000 ops")


test_unit_backward_engine()

# %% [markdown]
# ## 11. Switching the recording off: `no_grad` and friends
#
# Evaluation, optimizer updates and data preprocessing must not build graphs: the graph costs
# memory, and an optimizer step recorded into the graph would make the *next* backward
# differentiate through the update. Module 01's `from_op` records only while
# `grad_mode.enabled` is true; these helpers flip that flag and **always** put it back, even when
# the body raises (that is what `__exit__` is for):
#
# ```python
# with no_grad():              @no_grad()                  with set_grad_enabled(is_training):
#     preds = model(x)         def evaluate(model, x):         loss = model(x)
#                                  return model(x)
# ```
#
# Each works as a context manager and as a decorator (with or without parentheses for `no_grad`
# and `enable_grad`), like PyTorch. `set_grad_enabled(mode)` also takes effect immediately when
# called as a plain function. The flag is global to the process (PyTorch's is per thread).
#
# `no_grad()` is also what makes an in-place update of a weight legal. `w -= lr * w.grad` calls
# module 01's in-place `__isub__`: with grad mode on it raises ("a leaf Variable that requires grad
# is being used in an in-place operation"), because a leaf of the graph would change under it;
# inside `with no_grad():` it writes the new values into `w`'s own memory, records nothing, and
# adds 1 to `w`'s version counter (so a graph that still needed the old `w` refuses to backward).

# %%
#| export
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
        ### BEGIN SOLUTION
        self._previous.append(grad_mode.enabled)
        grad_mode.enabled = self._mode
        return self
        ### END SOLUTION

    def __exit__(self, exc_type, exc_value, traceback) -> bool:
        ### BEGIN SOLUTION
        grad_mode.enabled = self._previous.pop()
        return False  # never swallow the exception
        ### END SOLUTION

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


# %%
#| test
def test_unit_grad_mode():
    x = Tensor(np.ones(2), requires_grad=True)
    with no_grad():
        y = x * 2
        with enable_grad():
            z = x * 2
    assert not y.requires_grad and y._ctx is None, "inside no_grad() results must not record"
    assert z.requires_grad, "enable_grad() inside no_grad() should record again"
    assert is_grad_enabled(), "grad mode must be back on after the with-block"

    @no_grad()
    def double(t):
        return t * 2

    @no_grad
    def triple(t):
        return t * 3

    assert not double(x).requires_grad and not triple(x).requires_grad, "no_grad as decorator"
    try:
        with no_grad():
            raise KeyError("boom")
    except KeyError:
        pass
    assert is_grad_enabled(), "no_grad must restore the mode even when the body raises"

    set_grad_enabled(False)
    assert not is_grad_enabled(), "set_grad_enabled(False) as a function takes effect at once"
    set_grad_enabled(True)
    with set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert is_grad_enabled()

    @set_grad_enabled(False)
    def frozen(t):
        return t * 2

    assert is_grad_enabled(), "decorating with set_grad_enabled must not change the mode by itself"
    assert not frozen(x).requires_grad and is_grad_enabled()
    print("✅ no_grad / enable_grad / set_grad_enabled work as context managers and decorators")


test_unit_grad_mode()

# %% [markdown]
# ## 12. `Function`: ops that bring their own backward
#
# Later modules add ops whose best backward is not a composition of the ops above: convolution
# (im2col + one matmul), pooling, fused kernels, embedding lookups. DESIGN.md says such an op
# defines forward and backward **together**, in its own module. `Function` is that shape, the same
# as PyTorch's `torch.autograd.Function`:
#
# ```python
# class Cube(Function):
#     @staticmethod
#     def forward(ctx, x):              # x arrives as an ndarray; no graph is recorded here
#         ctx.save_for_backward(x)
#         return x ** 3
#
#     @staticmethod
#     def backward(ctx, grad_output):   # one gradient per Tensor input (None allowed)
#         (x,) = ctx.saved_tensors
#         return 3 * x ** 2 * grad_output
#
# y = Cube.apply(t)                     # a Tensor whose node's op is the class Cube
# ```
#
# `apply` unwraps tensor arguments into arrays, runs `forward` under `no_grad`, and records
# `Tensor.from_op(out, cls, tensor_inputs, ctx=ctx)`. The engine sees `node.op` is a `Function`
# subclass and calls its `backward` with the same `ctx`. Non-tensor arguments (a stride, a
# padding) pass through to `forward` unchanged and get no gradient.
#
# One difference from PyTorch, on purpose: our `forward` and `backward` see **arrays**, because the
# ops that need a `Function` (convolution, pooling, fused kernels) are NumPy code and wrapping
# every array in a Tensor would only cost time. A PyTorch script's own Function writes Tensor code
# (`x.clamp(min=0) ** 2`); for it there is `TensorFunction`, the same class with PyTorch's calling
# convention — forward and backward receive Tensors and return Tensors, both run under `no_grad`.
# `tinytorch.autograd.Function` is `TensorFunction`, so `torch.autograd.Function` subclasses run
# unchanged. The two differ only in `_forward_arguments` and `_run_backward` below.

# %%
#| export
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
        ### BEGIN SOLUTION
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
        ### END SOLUTION

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


# %%
#| test
class _Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad_output


class _ScaledAdd(Function):
    """a + alpha * b, with a non-tensor argument in the middle."""

    @staticmethod
    def forward(ctx, a, alpha, b):
        ctx.alpha = alpha
        return a + alpha * b

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None, ctx.alpha * grad_output  # one per argument, as in PyTorch


class _SquaredReLU(TensorFunction):
    """PyTorch-style: Tensor code in forward and backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0.0) ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x.clamp(min=0.0)


def test_unit_function():
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = _Cube.apply(x)
    assert y._ctx is not None and y._ctx.op is _Cube, "apply must record a Node with op = the class"
    assert np.allclose(y.data, [1.0, -8.0]), f"forward value: expected [1, -8], got {y.data}"
    backward((y * 1.0).sum())
    assert np.allclose(x.grad.data, [3.0, 12.0]), f"Cube: expected [3, 12], got {x.grad.data}"
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    backward(_ScaledAdd.apply(a, 0.5, b).sum())
    assert np.allclose(a.grad.data, 1) and np.allclose(b.grad.data, 0.5), (
        f"ScaledAdd: expected grads 1 and 0.5, got {a.grad.data} and {b.grad.data}")
    with no_grad():
        assert _Cube.apply(x)._ctx is None, "under no_grad, Function.apply must not record"
    z = Tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True)
    backward(_SquaredReLU.apply(z).sum())
    assert np.allclose(z.grad.data, [0.0, 1.0, 4.0]), (
        f"TensorFunction (PyTorch's convention, Tensors in and out): expected [0, 1, 4], got {z.grad.data}")
    print("✅ Function and TensorFunction subclasses record themselves and their backward feeds the engine")


test_unit_function()

# %% [markdown]
# ## 13. Trust, but verify: `gradcheck`
#
# A wrong gradient does not crash. The model just learns worse, or not at all, and nothing
# points at the bug. So every rule gets checked against the definition of a derivative:
#
# ```
#   ∂L/∂xᵢ  ≈  ( L(x + ε eᵢ) − L(x − ε eᵢ) ) / 2ε        (central difference, error O(ε²))
# ```
#
# For a non-scalar output `y`, `gradcheck` picks a fixed random direction `r` and checks the
# scalar `L = Σ y ⊙ r`: `backward(y, gradient=r)` gives the analytic `∂L/∂x`, and the
# central differences of `L` give the numeric one. A wrong Jacobian `J' ≠ J` is caught unless
# `r` happens to be orthogonal to every row of `J' − J` — probability zero for a random `r`.
#
# Why **float64** only? With `ε = 1e-6`, float32's rounding (~1e-7 relative) in `L(x ± ε)` is
# divided by `2ε`, an error of ~0.1 in the quotient: the check would measure rounding, not
# derivatives. `gradcheck` refuses float32 inputs with a `TypeError` that says so.
#
# Each element costs two forward passes, so check on small tensors (a few dozen elements).

# %%
#| export
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
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %%
#| test
class _WrongSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return x * grad_output  # wrong: should be 2 x


def test_unit_gradcheck():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: (t * t).sum(1), [x]), "gradcheck should pass for a correct gradient"
    try:
        gradcheck(_WrongSquare.apply, [x])
    except GradcheckError as error:
        text = str(error)
        assert "input 0" in text and "analytic" in text and "numeric" in text, (
            f"unhelpful message: {text}")
    else:
        raise AssertionError("gradcheck must raise GradcheckError for a wrong backward "
                             "(x instead of 2x)")
    assert gradcheck(_WrongSquare.apply, [x], raise_exception=False) is False
    try:
        gradcheck(lambda t: t * 2, [Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])
    except TypeError as error:
        assert "float64" in str(error)
    else:
        raise AssertionError("gradcheck must refuse float32 inputs with a TypeError")
    print("✅ gradcheck passes correct gradients and names the input and element of a wrong one")


test_unit_gradcheck()

# %% [markdown]
# ## 14. Every op, checked end to end
#
# The unit tests above called each rule directly. Now the whole pipeline — module 01 records,
# this module's engine walks, `gradcheck` compares — for every module 01 op, including the
# awkward cases: broadcasting on both sides, batched and 1-D matmul, reductions over several
# axes, ties, indexing with repeated indices, clamping exactly at the bounds. (The pytest suite
# in `tests/05_autograd/` repeats this for every activation and loss, and compares with PyTorch.)

# %%
#| test
def _inplace_chain(a, b):
    """Module 01's recorded in-place ops on a non-leaf: each one rebinds the graph correctly."""
    h = a * 1.0
    h += b
    h.mul_(b)
    h.clamp_(-1.0, 1.0)
    h -= 0.5
    return h.div_(2.0)


def test_unit_every_op_gradcheck():
    from tinytorch.core.tensor import cat, maximum, minimum, stack, where
    rng = np.random.default_rng(1)

    def leaf(*shape, low=None):
        data = rng.standard_normal(shape) if low is None else rng.uniform(low, low + 2, shape)
        return Tensor(data, requires_grad=True)

    cases = {
        "add (broadcast both sides)": (lambda a, b: a + b, [leaf(3, 1), leaf(1, 4)]),
        "sub": (lambda a, b: a - b, [leaf(2, 3), leaf(3)]),
        "mul": (lambda a, b: a * b, [leaf(2, 1, 3), leaf(4, 1)]),
        "div": (lambda a, b: a / b, [leaf(2, 3), leaf(3, low=0.5)]),
        "neg": (lambda a: -a, [leaf(4)]),
        "pow scalar": (lambda a: a ** 3, [leaf(5)]),
        "pow tensor": (lambda a, b: a ** b, [leaf(4, low=0.5), leaf(4)]),
        "matmul 2-D": (lambda a, b: a @ b, [leaf(3, 4), leaf(4, 2)]),
        "matmul batched broadcast": (lambda a, b: a @ b, [leaf(2, 1, 3, 4), leaf(3, 4, 2)]),
        "matmul 1-D @ 3-D": (lambda a, b: a @ b, [leaf(4), leaf(2, 4, 3)]),
        "matmul 3-D @ 1-D": (lambda a, b: a @ b, [leaf(2, 3, 4), leaf(4)]),
        "matmul dot": (lambda a, b: a @ b, [leaf(5), leaf(5)]),
        "sum dims": (lambda a: a.sum((0, 2)), [leaf(2, 3, 4)]),
        "mean keepdim": (lambda a: a.mean(1, keepdim=True), [leaf(2, 3)]),
        "max dim": (lambda a: a.max(1).values, [leaf(3, 4)]),
        "min all": (lambda a: a.min(), [leaf(3, 4)]),
        "var": (lambda a: a.var(0), [leaf(4, 3)]),
        "std": (lambda a: a.std(), [leaf(6)]),
        "exp log sqrt abs": (lambda a: a.exp().log().sqrt().abs(), [leaf(5, low=0.5)]),
        "clamp": (lambda a: a.clamp(-0.5, 0.5), [leaf(8)]),
        "reshape/permute/expand": (lambda a: a.reshape(3, 2).T.unsqueeze(0).expand(4, 2, 3),
                                   [leaf(2, 3)]),
        "cat": (lambda a, b: cat([a, b], dim=1), [leaf(2, 2), leaf(2, 3)]),
        "stack": (lambda a, b: stack([a, b], dim=-1), [leaf(2, 3), leaf(2, 3)]),
        "getitem repeats": (lambda a: a[np.array([0, 2, 0]), 1:], [leaf(3, 4)]),
        "masked_fill (broadcast mask, value tensor)": (
            lambda a, v: a.masked_fill(Tensor(np.array([True, False, True])), v), [leaf(2, 3), leaf()]),
        "where (broadcast both sides)": (lambda a, b: where(Tensor(np.array([[True], [False]])), a, b),
                                         [leaf(2, 3), leaf(3)]),
        "tril/triu batched": (lambda a: a.tril(-1) + a.triu(1) * 2, [leaf(2, 3, 3)]),
        "split/chunk/unbind": (lambda a: a.split([1, 3], dim=1)[1] * a.chunk(2)[1].sum() + a.unbind(1)[0][0],
                               [leaf(4, 4)]),
        "clone, repeat": (lambda a: a.clone().repeat(2, 1) * 2, [leaf(2, 3)]),
        "maximum/minimum": (lambda a, b: maximum(a, b) + minimum(a, b * 2), [leaf(2, 3), leaf(3)]),
        "gather, sort, topk": (lambda a: a.gather(1, Tensor(np.array([[0, 0], [2, 1]]))).sum()
                               + a.sort(dim=0).values[0].sum() + a.topk(2).values.sum(), [leaf(2, 3)]),
        "in-place on a graph tensor": (lambda a, b: _inplace_chain(a, b), [leaf(2, 3), leaf(3)]),
    }
    for name, (fn, inputs) in cases.items():
        try:
            gradcheck(fn, inputs)
        except GradcheckError as error:
            raise AssertionError(f"{name}: {error}") from None
    tie = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    backward(tie.max())
    assert np.allclose(tie.grad.data, [0, 0.5, 0.5]), f"max ties share evenly, got {tie.grad.data}"
    edge = Tensor(np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), requires_grad=True)
    backward(edge.clamp(-0.5, 0.5).sum())
    assert np.allclose(edge.grad.data, [0, 1, 1, 1, 0]), (
        f"clamp passes the gradient at the bounds (PyTorch), got {edge.grad.data}")
    single = Tensor(np.array([1.5, -2.0], dtype=np.float32), requires_grad=True)
    backward((single.double() * 3.0).sum())  # float64 arithmetic on a float32 leaf
    assert single.grad.dtype == np.float32 and np.allclose(single.grad.data, 3.0), (
        f"a cast passes the gradient back in the input's dtype: expected float32 3s, got {single.grad!r}")
    print(f"✅ gradcheck passes for {len(cases)} op compositions, plus max ties, clamp bounds and casts")


test_unit_every_op_gradcheck()

# %% [markdown]
# ## 15. Systems analysis: what a graph costs
#
# ### Memory the graph keeps alive
#
# Every recorded node keeps its inputs alive, and some keep extra arrays (`out` for exp, sigmoid,
# softmax...). For a training step that means **every activation of the forward pass stays in
# memory until backward runs** — in real networks this, not the parameters, is what fills memory
# (and why "activation checkpointing" exists: drop some, recompute them in backward).
#
# The cell below builds a two-layer MLP on a batch of 256 MNIST-sized inputs, walks the graph and
# adds up the bytes of every distinct array it can reach (a view counts as the array it views),
# then does the same after `backward()` has emptied the nodes.

# %%
#| analysis
from tinytorch.core.activations import relu


def graph_bytes(root: Tensor) -> int:
    """Bytes of the distinct arrays reachable from root through recorded nodes (inputs + saved)."""
    arrays, seen, stack = {}, set(), [root]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        found = [t.data]
        node = t._ctx
        if node is not None and node.saved is not None:
            found += [v for v in node.saved.values() if isinstance(v, np.ndarray)]
            stack.extend(node.inputs)
        for array in found:
            owner = array if array.base is None else array.base
            arrays[id(owner)] = owner.nbytes
    return sum(arrays.values())


def make_mlp(batch=256, n_in=784, hidden=256, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
    params = [Tensor(f32(n_in, hidden) * 0.05, requires_grad=True),
              Tensor(np.zeros(hidden, np.float32), requires_grad=True),
              Tensor(f32(hidden, n_out) * 0.05, requires_grad=True),
              Tensor(np.zeros(n_out, np.float32), requires_grad=True)]
    return Tensor(f32(batch, n_in)), Tensor(f32(batch, n_out)), params


def mlp_loss(x, y, params):
    w1, b1, w2, b2 = params
    return ((relu(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean()


_x, _y, _params = make_mlp()
_loss = mlp_loss(_x, _y, _params)
_param_mb = sum(p.nbytes for p in _params) / 1e6
_before = graph_bytes(_loss) / 1e6
backward(_loss)
_after = graph_bytes(_loss)
print(f"parameters:                          {_param_mb:6.2f} MB")
print(f"reachable from the loss (forward):   {_before:6.2f} MB  (inputs, activations, parameters)")
print(f"reachable after backward() freed it: {_after:6d} bytes (just the loss value)")

# %% [markdown]
# ### How long backward takes compared with forward
#
# A classic rule of thumb: backward costs about **twice** the forward pass, because each matmul
# `x @ W` in forward becomes two in backward (`g @ Wᵀ` for the input, `xᵀ @ g` for the weight).
# But the first layer's input is data that needs no gradient, so our matmul rule skips one of its
# two products. In this MLP the first layer (784 → 256) holds almost all the FLOPs, so expect a
# ratio near **1**; stack more hidden layers of similar size and it climbs towards 2.
#
# The second line compares one whole step (forward + backward) with the same MLP written by hand
# in NumPy. The difference is what the graph bookkeeping costs: Tensor and Node objects, the
# topological sort, dictionary lookups, un-broadcasting. Best of 30 runs; your machine's numbers
# will differ, the ratios much less.

# %%
#| analysis
import time


def numpy_mlp_step(x, y, w1, b1, w2, b2):
    """The same MLP, forward and backward by hand (the speed we measure ourselves against)."""
    h = x @ w1 + b1
    a = np.maximum(h, 0)
    d = a @ w2 + b2 - y
    loss = np.mean(d * d)
    g_out = d * (2 / d.size)
    g_w2, g_b2 = a.T @ g_out, g_out.sum(0)
    g_h = (g_out @ w2.T) * (h > 0)
    return loss, x.T @ g_h, g_h.sum(0), g_w2, g_b2


def time_mlp(repeats=30):
    """Best-of-N seconds of (forward, backward, hand-written NumPy step) for the MLP above.

    The minimum, not the mean: other programs on the machine only ever add time, so the fastest
    run is the best estimate of what the code itself costs (the advice of Python's timeit)."""
    x, y, params = make_mlp()
    forward, backward_times, numpy_times = [], [], []
    for _ in range(repeats):
        for p in params:
            p.grad = None
        start = time.perf_counter()
        loss = mlp_loss(x, y, params)
        middle = time.perf_counter()
        backward(loss)
        end = time.perf_counter()
        numpy_mlp_step(x.data, y.data, *[p.data for p in params])
        forward.append(middle - start)
        backward_times.append(end - middle)
        numpy_times.append(time.perf_counter() - end)
    return min(forward), min(backward_times), min(numpy_times)


forward_s, backward_s, numpy_s = time_mlp()
print(f"forward {forward_s * 1e3:.2f} ms, backward {backward_s * 1e3:.2f} ms: "
      f"backward/forward = {backward_s / forward_s:.2f}")
print(f"one step: TinyTorch {(forward_s + backward_s) * 1e3:.2f} ms vs hand-written NumPy "
      f"{numpy_s * 1e3:.2f} ms = {(forward_s + backward_s) / numpy_s:.2f}x")

# %% [markdown]
# ### The 10,000-op chain
#
# Deep graphs cost Python time per node, not FLOPs: each recorded op is a `Tensor`, a `Node`,
# a dictionary lookup and a rule call. A chain of 10,000 scalar multiplications measures that
# fixed overhead — and proves the iterative topological sort has no depth limit.

# %%
#| analysis
def chain(n):
    x = Tensor(np.array(1.0), requires_grad=True)
    t = x
    for _ in range(n):
        t = t * 1.0001
    return x, t


_start = time.perf_counter()
_x, _t = chain(10_000)
_built = time.perf_counter()
backward(_t)
_done = time.perf_counter()
print(f"10,000-op chain: forward {(_built - _start) * 1e3:.1f} ms, "
      f"backward {(_done - _built) * 1e3:.1f} ms "
      f"({(_done - _built) / 10_000 * 1e6:.1f} µs per node); "
      f"d/dx = {_x.grad.item():.6f} (exact {1.0001 ** 10_000:.6f})")

# %% [markdown]
# ## Reflection questions
#
# Answer each in two to five sentences. Your instructor grades these by hand.
#
# **Q1.** The engine processes a tensor only after every tensor computed from it. Construct a
# small graph where processing in plain breadth-first order from the loss (without waiting for
# all consumers) would give a wrong gradient, and say which gradient comes out wrong.

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q2.** `add_backward` returns the very same array for both inputs, and `sum_backward` returns
# a read-only broadcast view. What could go wrong if the engine always accumulated with `+=`?
# Why is copying every gradient before accumulating correct but wasteful?

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q3.** The memory analysis showed the graph keeping many megabytes alive until backward ran.
# Which arrays dominate for a deep MLP with a large batch? Suggest one way to cut that memory
# and say what it costs in time.

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q4.** Why does `gradcheck` insist on float64, and why does it compare against a *random*
# projection of the output rather than the plain sum of all output elements? Give an example of
# a wrong gradient that the plain sum could miss.

# %% [markdown]
# *Your answer:*

# %% [markdown]
# **Q5.** Two ways to write an optimizer step: `w = w - lr * w.grad` (a new tensor bound to the
# name `w`) and `w -= lr * w.grad` (in place). Run each with gradients enabled: what happens to the
# first over several training steps (what does the new `w` record, is it still a leaf, where does
# the next `backward()` put its gradient), and why does the second raise at once? Now run both
# inside `with no_grad():` — which one really updates the weight that the model and the optimizer
# hold, and which one only rebinds a local name?

# %% [markdown]
# *Your answer:*
