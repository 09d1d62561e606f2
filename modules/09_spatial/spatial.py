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
# # Module 09 — Spatial: convolutions, pooling and batch normalisation
#
# An MLP sees an image as a flat list of numbers: move the cat three pixels to the left and
# every input changes. A convolutional network builds in two facts about images — nearby
# pixels belong together, and a pattern means the same thing wherever it appears — by sliding
# one small set of weights over the whole picture. This module builds the layers that do it,
# fast enough to train real CNNs on a laptop CPU.
#
# **You will learn to**
#
# 1. say exactly what `Conv2d` computes — channels, kernel, stride, padding, dilation, groups —
#    and predict the output size;
# 2. write convolution as direct loops (the reference every fast version is tested against),
#    then as **im2col + one matrix multiply**, and measure the difference on your machine;
# 3. derive the backward pass as two more matrix multiplies (`dW = dY · colsᵀ`,
#    `dX = col2im(Wᵀ · dY)`) and check it against finite differences;
# 4. implement max/average pooling and batch normalisation (train vs eval statistics), each
#    with its backward, as PyTorch does them;
# 5. account for FLOPs, memory and time layer by layer in a real CNN training step.
#
# **Prerequisites:** modules 01–05 (`Tensor`, activations, `Module`, losses, autograd with
# `Function` and `gradcheck`). **Exports to:** `tinytorch/core/spatial.py`, re-exported by
# `tinytorch.nn` (`Conv2d`, `MaxPool2d`, ...) and `tinytorch.nn.functional` (`conv2d`, ...).

# %%
#| default_exp core.spatial

# %%
#| export
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.layers import (
    Module,
    Parameter,
    _calculate_fan_in_and_fan_out,
    _check_probability,
    kaiming_uniform_,
    ones_,
    uniform_,
    zeros_,
)
from tinytorch.core.optimizers import accelerated
from tinytorch.core.tensor import Tensor, default_generator, matmul_arrays

# %% [markdown]
# ## 1. What a convolution computes
#
# A 2-D convolution layer holds a small stack of weights, the **kernel**, and slides it over
# the input. At each position it multiplies the kernel with the patch underneath, element by
# element, and adds everything up (plus a bias) into one output number:
#
# ```
#   input x (1 channel, 5x5)          kernel w (3x3)        output y (3x3)
#   ┌───┬───┬───┬───┬───┐
#   │ 1 │ 2 │ 0 │ 1 │ 3 │             ┌───┬───┬───┐         ┌────┬────┬────┐
#   ├───┼───┼───┼───┼───┤             │ 1 │ 0 │-1 │         │ -2 │    │    │
#   │ 0 │ 1 │ 2 │ 3 │ 1 │   ──────►   ├───┼───┼───┤  ──►    ├────┼────┼────┤
#   ├───┼───┼───┼───┼───┤  window at  │ 1 │ 0 │-1 │         │    │    │    │
#   │ 1 │ 0 │ 2 │ 1 │ 0 │  (0, 0)     ├───┼───┼───┤         ├────┼────┼────┤
#   ├───┼───┼───┼───┼───┤             │ 1 │ 0 │-1 │         │    │    │    │
#   │ 2 │ 1 │ 0 │ 0 │ 1 │             └───┴───┴───┘         └────┴────┴────┘
#   ├───┼───┼───┼───┼───┤
#   │ 0 │ 1 │ 3 │ 1 │ 2 │   y[0,0] = 1·1 + 2·0 + 0·(-1) + 0·1 + 1·0 + 2·(-1) + 1·1 + 0·0 + 2·(-1) = -2
#   └───┴───┴───┴───┴───┘   then the window moves one column right for y[0,1], and so on.
# ```
#
# (Deep-learning "convolution" does not flip the kernel; mathematicians call this
# cross-correlation. The weights are learned, so the flip would not change what a network can
# do, and every framework follows the same convention.)
#
# **Channels.** Real inputs have several channels (red, green, blue; or 64 feature maps from
# the layer before). Each kernel spans *all* input channels, and a layer has one kernel per
# output channel. The weight is therefore 4-D, `(out_channels, in_channels, kh, kw)`:
#
# ```
#   x: (N, C_in, H, W)          weight: (C_out, C_in, kh, kw)           y: (N, C_out, OH, OW)
#
#   ┌──────────┐ C_in           kernel 0  ┌──┐┌──┐┌──┐  ──► feature map 0  ┌───────┐
#   │┌──────────┐               (C_in of  └──┘└──┘└──┘                    │       │ C_out
#   ││┌──────────┐   ──────►     kh x kw)  ...                             │  ...  │ maps
#   │││  H x W   │              kernel 1  ┌──┐┌──┐┌──┐  ──► feature map 1  └───────┘
#   └││          │                        └──┘└──┘└──┘
#    └│          │            y[n, o, i, j] = b[o] + Σ_c Σ_p Σ_q  w[o, c, p, q] · x[n, c, i·s + p, j·s + q]
#     └──────────┘
# ```
#
# The same weights are used at every position (**weight sharing**), so a 3x3 conv from 64 to 64
# channels has `64·64·9 + 64 = 36,928` parameters whatever the image size — a Linear layer
# between two 64x32x32 tensors would need over four billion.
#
# **Receptive field.** One output number depends on a kh x kw patch of its input. Stack two
# 3x3 convs and an output of the second sees a 5x5 patch of the image; a 2x2 pooling with
# stride 2 in between doubles the step, so the next 3x3 conv sees 10x10. Depth is how a CNN goes
# from edges (small fields) to objects (fields as large as the image):
#
# ```
#   layer 2 output  ●                    one value
#                 ┌─┼─┐
#   layer 1 out   ■ ■ ■   (3x3 of them)  each saw 3x3 input pixels
#               ┌─┴─┼─┴─┐
#   input       ▪ ▪ ▪ ▪ ▪ (5x5 pixels)   receptive field r = 1 + (3-1) + (3-1) = 5
# ```
#
# ## 2. The output size
#
# Four settings move the window: **stride** `s` (how far it jumps), **padding** `p` (zeros
# added around the border), **dilation** `d` (gaps between kernel taps: a 3x3 kernel with
# `d = 2` covers 5x5) and the kernel size `k`. Along one axis, the dilated kernel spans
# `d·(k−1) + 1` input positions, the padded input has `H + 2p`, and the window fits at
# every `s`-th start that does not run off the end:
#
# ```
#   OH = floor( (H + 2p − d·(k−1) − 1) / s ) + 1
#
#   H=5, k=3, s=1, p=0:  OH = 3          H=5, k=3, s=1, p=1:  OH = 5   ("same" size)
#   H=5, k=3, s=2, p=1:  OH = 3          H=32, k=2, s=2:      OH = 16  (2x2 pooling)
# ```
#
# `padding="same"` picks the padding that keeps `OH = H` at stride 1 (when `d·(k−1)` is odd,
# the extra row goes at the bottom and the extra column at the right, as in PyTorch);
# `padding="valid"` means no padding. `groups=G` splits the channels into G independent
# convolutions, each from `C_in/G` to `C_out/G` channels (`G = C_in` is a *depthwise*
# convolution), so the weight is `(C_out, C_in/G, kh, kw)`.
#
# The helpers below turn every way of writing these arguments into plain integers once, and
# collect all the sizes of one call in a `Geometry`. The checks live here too, so that a bad
# call fails at once with the layer's name and the shapes involved, never deep inside NumPy.

# %%
#| export
def _pair(value, name: str, where: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints -> (int, int), each >= minimum."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in items):
        raise TypeError(f"{where}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value!r}")
    return int(items[0]), int(items[1])


def _padding(padding, kernel: tuple, stride: tuple, dilation: tuple, where: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair of ints, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{where}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride}); give the padding as numbers")
            total_h, total_w = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2
        raise ValueError(f"{where}: padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}")
    ph, pw = _pair(padding, "padding", where, minimum=0)
    return ph, ph, pw, pw


@dataclass(frozen=True)
class Geometry:
    """Every size of one sliding-window call: input (n, c, h, w), kernel (kh, kw), stride (sh, sw),
    dilation (dh, dw), padding (top, bottom, left, right) and output (oh, ow).
    """

    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    top: int
    bottom: int
    left: int
    right: int
    oh: int
    ow: int

    @property
    def hp(self) -> int:
        """Padded height."""
        return self.h + self.top + self.bottom

    @property
    def wp(self) -> int:
        """Padded width."""
        return self.w + self.left + self.right


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Positions of a window sliding along one axis: floor((size + 2p - d(k-1) - 1) / s) + 1."""
    # Hint: the dilated kernel spans d*(k-1) + 1 positions; count the starts 0, s, 2s, ... that
    #       leave room for it inside size + 2*padding. (May be <= 0 when it does not fit.)
    ### BEGIN SOLUTION
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    ### END SOLUTION


def _geometry(shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
              where: str) -> Geometry:
    """The Geometry of a window sliding over an (n, c, h, w) input; a clear error if it does not fit."""
    n, c, h, w = shape
    top, bottom, left, right = padding
    hp, wp = h + top + bottom, w + left + right
    oh = output_size(hp, kernel[0], stride[0], 0, dilation[0])
    ow = output_size(wp, kernel[1], stride[1], 0, dilation[1])
    if oh < 1 or ow < 1:
        span = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
        dilated = f" (dilated to {span[0]}x{span[1]})" if span != tuple(kernel) else ""
        raise ValueError(f"{where}: kernel size {kernel[0]}x{kernel[1]}{dilated} is larger than the padded input "
                         f"{hp}x{wp} (input {h}x{w} of shape {tuple(shape)}, padding {padding[0::2]}/"
                         f"{padding[1::2]}), which would give an output of size {oh}x{ow}; use a smaller "
                         "kernel or more padding, or a larger input")
    return Geometry(n, c, h, w, kernel[0], kernel[1], stride[0], stride[1], dilation[0], dilation[1],
                    top, bottom, left, right, oh, ow)


def _check_image(x, where: str, channels: int | None = None, what: str = "in_channels") -> None:
    """x is a floating-point Tensor of shape (N, C, H, W) or (C, H, W), with `channels` channels."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: input must be a floating-point tensor, got dtype {x.dtype}; "
                        "convert it with x.float()")
    if x.ndim not in (3, 4):
        raise ValueError(f"{where}: expected a 4-D input (N, C, H, W) or a 3-D input (C, H, W), got shape "
                         f"{tuple(x.shape)} ({x.ndim}-D); for a single image use x.unsqueeze(0), for "
                         "a flat vector reshape it to (N, C, H, W)")
    got = x.shape[-3]
    if channels is not None and got != channels:
        raise ValueError(f"{where}: expected an input with {channels} channels ({what}={channels}, "
                         f"shape (N, {channels}, H, W)), got shape {tuple(x.shape)} with {got} channels")

# %%
#| test
def test_unit_geometry():
    cases = [((5, 3, 1, 0, 1), 3), ((5, 3, 1, 1, 1), 5), ((5, 3, 2, 1, 1), 3), ((32, 2, 2, 0, 1), 16),
             ((7, 3, 1, 0, 2), 3), ((28, 5, 1, 0, 1), 24), ((2, 3, 1, 0, 1), 0)]
    for (size, k, s, p, d), expected in cases:
        got = output_size(size, k, s, p, d)
        assert got == expected, (
            f"output_size(size={size}, kernel={k}, stride={s}, padding={p}, dilation={d}): expected "
            f"{expected}, got {got}; the formula is floor((size + 2p - d(k-1) - 1) / s) + 1")
    assert _padding("same", (3, 3), (1, 1), (1, 1), "t") == (1, 1, 1, 1)
    assert _padding("same", (4, 2), (1, 1), (1, 2), "t") == (1, 2, 1, 1), "odd total: extra at the bottom/right"
    assert _padding("valid", (3, 3), (1, 1), (1, 1), "t") == (0, 0, 0, 0)
    assert _padding((2, 1), (3, 3), (1, 1), (1, 1), "t") == (2, 2, 1, 1)
    g = _geometry((2, 3, 7, 9), (3, 3), (2, 1), (1, 1, 0, 0), (1, 1), "t")
    assert (g.oh, g.ow, g.hp, g.wp) == (4, 7, 9, 9), f"got {(g.oh, g.ow, g.hp, g.wp)}"
    try:
        _geometry((1, 1, 2, 2), (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), "Conv2d")
    except ValueError as error:
        assert "Conv2d" in str(error) and "3x3" in str(error) and "2x2" in str(error), str(error)
    else:
        raise AssertionError("a 3x3 kernel on a 2x2 input without padding must raise ValueError")
    print("✅ output sizes, 'same'/'valid' padding and the too-large-kernel error are right")


test_unit_geometry()

# %% [markdown]
# ## 3. The direct loops
#
# Straight from the formula: for every image `n`, output channel `o`, and output position
# `(i, j)`, cut out the (dilated, strided) patch of the padded input that the kernel covers,
# multiply it with `weight[o]` and add up. With groups, output channel `o` belongs to group
# `o // (C_out/G)` and sees only that group's `C_in/G` input channels.
#
# ```
#   for n in range(N):                              N·C_out·OH·OW iterations,
#     for o in range(C_out):                        each doing C_in/G·kh·kw
#       for i in range(OH):                         multiply-adds:
#         for j in range(OW):                       2·N·C_out·OH·OW·C_in/G·kh·kw FLOPs
#           patch = xp[n, group(o) channels, i·sh : ... : dh, j·sw : ... : dw]
#           y[n, o, i, j] = sum(patch * w[o]) + b[o]
# ```
#
# This is slow — Python runs the loop body millions of times for one batch of CIFAR images —
# but it is obviously right, which makes it the **oracle**: every fast version below is tested
# against it on random shapes. It works on NumPy arrays (no autograd), and takes the same
# arguments as `conv2d`.

# %%
#| export
def conv2d_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1, padding=0,
                 dilation=1, groups: int = 1) -> np.ndarray:
    """Reference 2-D convolution by direct loops, on arrays. (N, C, H, W) -> (N, O, OH, OW).

    weight: (O, C/groups, kh, kw); bias: (O,) or None. Slow: for testing and teaching only.
    """
    where = "conv2d_naive"
    kernel = (weight.shape[2], weight.shape[3])
    stride, dilation = _pair(stride, "stride", where), _pair(dilation, "dilation", where)
    top, bottom, left, right = _padding(padding, kernel, stride, dilation, where)
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n_images, out_channels = x.shape[0], weight.shape[0]
    group_in, group_out = weight.shape[1], out_channels // groups
    oh = output_size(xp.shape[2], kernel[0], stride[0], 0, dilation[0])
    ow = output_size(xp.shape[3], kernel[1], stride[1], 0, dilation[1])
    out = np.zeros((n_images, out_channels, oh, ow), dtype=np.result_type(x, weight))
    # Hint: four loops (n, o, i, j). The patch for output (i, j) starts at row i*stride[0] and
    #       column j*stride[1] of xp and takes every dilation-th element, kernel[0] x kernel[1] of
    #       them: xp[n, c0:c0 + group_in, r0 : r0 + dilation[0]*(kernel[0]-1) + 1 : dilation[0], ...]
    #       where c0 = (o // group_out) * group_in. Add bias[o] when there is a bias.
    ### BEGIN SOLUTION
    span_h, span_w = dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1
    for n in range(n_images):
        for o in range(out_channels):
            first = (o // group_out) * group_in
            for i in range(oh):
                r0 = i * stride[0]
                for j in range(ow):
                    c0 = j * stride[1]
                    patch = xp[n, first:first + group_in, r0:r0 + span_h:dilation[0], c0:c0 + span_w:dilation[1]]
                    out[n, o, i, j] = np.sum(patch * weight[o])
            if bias is not None:
                out[n, o] += bias[o]
    return out
    ### END SOLUTION

# %%
#| test
def test_unit_conv2d_naive():
    x = np.array([[1, 2, 0, 1, 3], [0, 1, 2, 3, 1], [1, 0, 2, 1, 0], [2, 1, 0, 0, 1], [0, 1, 3, 1, 2]],
                 dtype=np.float64).reshape(1, 1, 5, 5)
    w = np.array([[1, 0, -1]] * 3, dtype=np.float64).reshape(1, 1, 3, 3)
    y = conv2d_naive(x, w)
    assert y.shape == (1, 1, 3, 3), f"5x5 input, 3x3 kernel: expected output (1, 1, 3, 3), got {y.shape}"
    assert y[0, 0, 0, 0] == -2, (
        f"y[0,0,0,0] should be -2 (the worked example in section 1), got {y[0, 0, 0, 0]}; check that "
        "the patch is xp[n, :, i*s : i*s + k, j*s : j*s + k] and that you sum patch * weight[o]")
    expected = np.array([[-2.0, -2.0, 0.0], [-1.0, -2.0, 2.0], [-2.0, 0.0, 2.0]])
    assert np.array_equal(y[0, 0], expected), f"expected\n{expected}\ngot\n{y[0, 0]}"
    padded = conv2d_naive(x, w, np.array([10.0]), stride=2, padding=1)
    assert padded.shape == (1, 1, 3, 3) and padded[0, 0, 0, 0] == 10 - 3, (
        f"stride 2, padding 1, bias 10: expected shape (1, 1, 3, 3) and y[0,0,0,0] = 7, got "
        f"{padded.shape} and {padded[0, 0, 0, 0]}")
    dilated = conv2d_naive(x, w, dilation=2)
    assert dilated.shape == (1, 1, 1, 1) and dilated[0, 0, 0, 0] == (1 + 1 + 0) - (3 + 0 + 2) == -3, (
        f"dilation 2 makes the 3x3 kernel span 5x5, got {dilated.ravel()}")
    rng = np.random.default_rng(0)
    xg, wg = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((6, 2, 3, 3))
    grouped = conv2d_naive(xg, wg, groups=2)
    first_half = conv2d_naive(xg[:, :2], wg[:3])
    assert np.allclose(grouped[:, :3], first_half), (
        "groups=2: output channels 0-2 must see only input channels 0-1 (the first group)")
    print("✅ conv2d_naive: the worked example, stride, padding, bias, dilation and groups are right")


test_unit_conv2d_naive()

# %% [markdown]
# ## 4. im2col: convolution as one matrix multiply
#
# Look at the sum again: `y[n, o, i, j] = Σ_(c,p,q) w[o, c, p, q] · x[n, c, i·s + p, j·s + q]`.
# For a fixed output position, it is a dot product between the flattened kernel (length
# `K = C·kh·kw`) and the flattened patch under it. Gather every patch as one column of a
# matrix — **im2col**, "image to columns" — and the whole convolution is one matmul:
#
# ```
#    weight (O, C, kh, kw)          cols (K = C·kh·kw,  N·OH·OW)             y (O, N·OH·OW)
#    reshaped to (O, K)             one column per output position
#   ┌──────────────────┐        ┌──┬──┬──┬─────────────────┬──┐         ┌───────────────────┐
#   │ kernel 0, flat   │        │p │p │p │                 │p │         │                   │
#   │ kernel 1, flat   │   @    │a │a │a │       ...       │a │   ==    │  every output of  │
#   │ ...              │        │t │t │t │                 │t │         │  every image      │
#   │ kernel O-1, flat │        │c │c │c │                 │c │         │                   │
#   └──────────────────┘        │h │h │h │                 │h │         └───────────────────┘
#                               └──┴──┴──┴─────────────────┴──┘
# ```
#
# Why bother? The loops do the same `2·N·O·OH·OW·K` FLOPs, but one per Python iteration
# step; a matmul hands all of them to BLAS, which keeps the CPU's vector units busy and reuses
# every number it loads from memory many times. The price is memory: every input pixel is
# copied `kh·kw` times (9x for 3x3 kernels) into `cols`.
#
# **Building cols without gathering patches one by one.** Row `(c, p, q)` of `cols` holds, for
# every output position, the input value that kernel tap `(p, q)` of channel `c` multiplies:
# `xp[n, c, i·s + p·d, j·s + q·d]` in the padded input `xp`. For a fixed tap that is just a
# *strided slice* of `xp` — a view, no copying (`tap_view`) — so im2col is a loop over the
# `kh·kw` taps (9 for a 3x3 kernel), each copying one big slice into its rows:
#
# ```
#   tap (p, q) = (0, 0)          tap (0, 1)             ...   tap (2, 2)
#   ┌───────────┐                ┌───────────┐                ┌───────────┐
#   │▓▓▓▓▓▓▓▓▓··│  rows 0..OH-1  │·▓▓▓▓▓▓▓▓▓·│                │···········│
#   │▓▓▓▓▓▓▓▓▓··│  cols 0..OW-1  │·▓▓▓▓▓▓▓▓▓·│                │··▓▓▓▓▓▓▓▓▓│
#   │▓▓▓▓▓▓▓▓▓··│                │·▓▓▓▓▓▓▓▓▓·│                │··▓▓▓▓▓▓▓▓▓│
#   │···········│                │···········│                │··▓▓▓▓▓▓▓▓▓│
#   └───────────┘                └───────────┘                └───────────┘
#   padded input: the shaded block, shifted by the tap, is what that tap multiplies
# ```
#
# The order of the axes is chosen so that no reshape ever copies: `cols` is built as a
# `(C, kh, kw, N, OH, OW)` array, which *is* the `(K, N·OH·OW)` matrix — rows ordered channel by
# channel and tap by tap exactly as `weight.reshape(O, K)` orders its columns, columns image by
# image and position by position.
#
# **col2im** goes the other way, and backward needs it (section 5): given one value per entry
# of `cols`, add each back onto the input pixel it was copied from. A pixel copied into 9
# places receives the sum of 9 values — so it is `+=` per tap, never `=`. Mathematically
# `col2im` is the *transpose* (adjoint) of `im2col`: for any `x` and `c`,
# `⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩`, which is the test below.
#
# `pad` and `tap_view` are given; you write `im2col` and `col2im`. (This is the clear version.
# Module 16 measures where its time goes and makes it several times faster with memory-layout
# tricks; the package uses that version when module 16 is there, and yours otherwise.)

# %%
#| export
def pad(x: np.ndarray, g: Geometry, fill: float = 0.0) -> np.ndarray:
    """(N, C, H, W) -> (N, C, hp, wp): x inside a border of `fill` (x itself when g has no padding)."""
    if not (g.top or g.bottom or g.left or g.right):
        return x
    return np.pad(x, ((0, 0), (0, 0), (g.top, g.bottom), (g.left, g.right)), constant_values=fill)


def unpad(xp: np.ndarray, g: Geometry) -> np.ndarray:
    """The (N, C, H, W) view of a padded (N, C, hp, wp) array without its border: pad's inverse."""
    return xp[:, :, g.top:g.top + g.h, g.left:g.left + g.w]


def tap_view(xp: np.ndarray, g: Geometry, i: int, j: int) -> np.ndarray:
    """View (N, C, oh, ow) of the padded values that kernel tap (i, j) meets at every output position."""
    r0, c0 = i * g.dh, j * g.dw
    return xp[:, :, r0:r0 + g.sh * (g.oh - 1) + 1:g.sh, c0:c0 + g.sw * (g.ow - 1) + 1:g.sw]


def im2col(xp: np.ndarray, g: Geometry) -> np.ndarray:
    """Padded input (N, C, hp, wp) -> cols (C*kh*kw, N*oh*ow): row (c, i, j), column (n, r, q).

    cols[(c, i, j), (n, r, q)] = xp[n, c, r*sh + i*dh, q*sw + j*dw].
    """
    n, channels = xp.shape[:2]
    # Hint: cols = np.empty((channels, g.kh, g.kw, n, g.oh, g.ow), dtype=xp.dtype); for every tap
    #       (i, j), cols[:, i, j] is (channels, n, oh, ow) and tap_view(xp, g, i, j) is
    #       (n, channels, oh, ow): swap its first two axes (.transpose(1, 0, 2, 3)) and copy it in.
    #       Return cols reshaped to (channels * g.kh * g.kw, n * g.oh * g.ow) (a view: no copy).
    ### BEGIN SOLUTION
    cols = np.empty((channels, g.kh, g.kw, n, g.oh, g.ow), dtype=xp.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            cols[:, i, j] = tap_view(xp, g, i, j).transpose(1, 0, 2, 3)
    return cols.reshape(channels * g.kh * g.kw, n * g.oh * g.ow)
    ### END SOLUTION


def col2im(cols: np.ndarray, g: Geometry, n: int) -> np.ndarray:
    """Adjoint of im2col: cols (C*kh*kw, n*oh*ow) -> padded (n, C, hp, wp), overlapping taps summed."""
    # Hint: xp = np.zeros((n, g.c, g.hp, g.wp), dtype=cols.dtype); view cols as
    #       (g.c, g.kh, g.kw, n, g.oh, g.ow); for every tap (i, j): view = tap_view(xp, g, i, j),
    #       then view += block (i, j) with its first two axes swapped. The view shares xp's
    #       memory, so the sum lands in xp. Taps overlap: it must be +=, never =.
    ### BEGIN SOLUTION
    xp = np.zeros((n, g.c, g.hp, g.wp), dtype=cols.dtype)
    blocks = cols.reshape(g.c, g.kh, g.kw, n, g.oh, g.ow)
    for i in range(g.kh):
        for j in range(g.kw):
            view = tap_view(xp, g, i, j)
            view += blocks[:, i, j].transpose(1, 0, 2, 3)
    return xp
    ### END SOLUTION

# %%
#| test
def test_unit_im2col():
    rng = np.random.default_rng(1)
    for stride, dilation, padding in [((1, 1), (1, 1), (1, 1, 1, 1)), ((2, 1), (1, 2), (0, 1, 2, 0)),
                                      ((1, 1), (2, 1), (0, 0, 0, 0))]:
        x = rng.standard_normal((2, 3, 6, 7))
        g = _geometry(x.shape, (3, 2), stride, padding, dilation, "test")
        xp = pad(x, g)
        cols = im2col(xp, g)
        assert cols.shape == (3 * 3 * 2, 2 * g.oh * g.ow), (
            f"cols should be (C*kh*kw, n*oh*ow) = {(18, 2 * g.oh * g.ow)}, got {cols.shape}")
        table = cols.reshape(3, 3, 2, 2, g.oh, g.ow)
        for c, i, j, n, r, q in [(0, 0, 0, 0, 0, 0), (2, 2, 1, 1, g.oh - 1, g.ow - 1), (1, 1, 0, 1, 1, 2)]:
            want = xp[n, c, r * g.sh + i * g.dh, q * g.sw + j * g.dw]
            assert table[c, i, j, n, r, q] == want, (
                f"cols row (c={c}, tap=({i},{j})) at image {n}, output ({r},{q}) should be the padded "
                f"input at ({r * g.sh + i * g.dh}, {q * g.sw + j * g.dw}) = {want}, got "
                f"{table[c, i, j, n, r, q]}; stride={stride}, dilation={dilation}. Check the axis order "
                "(C, kh, kw, n, oh, ow) and the transpose of each tap's (n, C, oh, ow) view")
        # col2im is the adjoint (transpose) of im2col: <im2col(x), c> == <x, col2im(c)>
        c_rand = rng.standard_normal(cols.shape)
        left, right = np.sum(cols * c_rand), np.sum(xp * col2im(c_rand, g, 2))
        assert np.isclose(left, right), (
            f"col2im must be the adjoint of im2col (<im2col(x), c> = <x, col2im(c)>), got {left} vs {right}; "
            "likely cause: '=' instead of '+=' where taps overlap, or a different tap order")
    print("✅ im2col copies each tap's slice into its rows; col2im is its exact adjoint")


test_unit_im2col()

# %% [markdown]
# ## 5. Conv2d as a `Function`: forward and backward as matmuls
#
# **Forward**, with the pieces above:
#
# ```
#   cols = im2col(pad(x))                     (K, N·OH·OW)         K = C·kh·kw
#   y    = W.reshape(O, K) @ cols             (O, N·OH·OW)
#   out  = y → (O, N, OH, OW) → + bias → transpose to (N, O, OH, OW)
# ```
#
# With groups, split both sides: `W → (G, O/G, K/G)`, `cols → (G, K/G, N·OH·OW)` (the rows are
# ordered channel by channel, so group by group), and `np.matmul` does the G products as one
# batched call.
#
# **Backward.** The forward is `Y = W · cols` (plus bias), a plain matmul, so module 05's
# matmul rule gives both gradients — and the one for `cols` is then pushed back through the
# im2col copy, which is exactly what `col2im` does (every pixel that was copied to several
# places receives the sum of their gradients):
#
# ```
#   dY    = grad_output → (O, N·OH·OW)       the same layout as y
#   dW    = dY · colsᵀ                        (O, K)          the cols forward built
#   db    = dY summed over N, OH, OW
#   dcols = Wᵀ · dY                           (K, N·OH·OW)
#   dX    = unpad(col2im(dcols))
# ```
#
# Three matmuls of the same size as the forward one: a conv training step costs about 3x its
# forward FLOPs (2x for the first layer, whose input needs no gradient). `Conv2dFunction` keeps
# `cols` from forward for `dW`: simple, and it costs memory — `kh·kw` copies of every input, 75
# MB for the second conv of the benchmark network at batch 64 (the analysis at the end measures
# it). Module 16 rebuilds `cols` in backward instead, a few images at a time.

# %%
#| export
class Conv2dFunction(Function):
    """2-D convolution with its own backward: im2col + one matmul (section 5)."""

    @staticmethod
    def forward(ctx, x, weight, bias, g: Geometry, groups: int):
        out_channels = weight.shape[0]
        # Hint: cols = im2col(pad(x, g), g) is (K, L) with K = C*kh*kw, L = N*oh*ow;
        #       w = weight.reshape(groups, O // groups, K // groups); y = matmul_arrays(w, cols viewed as
        #       (groups, K // groups, L)) viewed as (O, N, oh, ow) — module 01's np.matmul, which
        #       module 16 later spreads over every core; add bias.reshape(O, 1, 1, 1) when
        #       there is one; save (cols, weight) for backward; return y transposed to (N, O, oh, ow)
        #       as a contiguous array (np.ascontiguousarray).
        ### BEGIN SOLUTION
        cols = im2col(pad(x, g), g)
        k, length = cols.shape
        w = weight.reshape(groups, out_channels // groups, k // groups)
        y = matmul_arrays(w, cols.reshape(groups, k // groups, length)).reshape(out_channels, g.n, g.oh, g.ow)
        if bias is not None:
            y += bias.reshape(out_channels, 1, 1, 1)
        ctx.save_for_backward(cols, weight)
        ### END SOLUTION
        ctx.geometry, ctx.groups = g, groups
        return np.ascontiguousarray(y.transpose(1, 0, 2, 3))

    @staticmethod
    def backward(ctx, grad_output):
        cols, weight = ctx.saved_tensors
        g, groups = ctx.geometry, ctx.groups
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        out_channels, (k, length) = weight.shape[0], cols.shape
        # Hint: dy = grad_output transposed to (O, N, oh, ow), reshaped to (groups, O // groups, L);
        #       dW = matmul_arrays(dy, cols as (groups, K // groups, L) with its last two axes swapped),
        #       reshaped to weight.shape; dcols = matmul_arrays(w with its last two axes swapped, dy) with
        #       w as in forward; dx = unpad(col2im(dcols as (K, L), g, g.n), g). Compute only the
        #       gradients asked for (need_x, need_w, need_b); db sums grad_output over (0, 2, 3).
        ### BEGIN SOLUTION
        dy = grad_output.transpose(1, 0, 2, 3).reshape(groups, out_channels // groups, length)
        grad_x = grad_w = grad_b = None
        if need_w:
            grad_w = matmul_arrays(dy, cols.reshape(groups, k // groups, length).transpose(0, 2, 1))
            grad_w = grad_w.reshape(weight.shape)
        if need_x:
            w = weight.reshape(groups, out_channels // groups, k // groups)
            dcols = matmul_arrays(w.transpose(0, 2, 1), dy).reshape(k, length)
            grad_x = unpad(col2im(dcols, g, g.n), g)
        if need_b:
            grad_b = grad_output.sum(axis=(0, 2, 3))
        ### END SOLUTION
        return grad_x, grad_w, grad_b, None, None


def _conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation, groups: int,
            where: str) -> Tensor:
    """Check everything, then run the convolution (3-D input = one unbatched image, as in PyTorch)."""
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"{where}: weight must be a 4-D Tensor (out_channels, in_channels/groups, kh, kw), "
                         f"got {getattr(weight, 'shape', type(weight).__name__)}")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}")
    out_channels, group_in, kh, kw = weight.shape
    _check_image(x, where, group_in * groups, "in_channels")
    if out_channels % groups:
        raise ValueError(f"{where}: out_channels ({out_channels}, weight shape {tuple(weight.shape)}) must be "
                         f"divisible by groups ({groups})")
    if x.dtype != weight.dtype:
        raise TypeError(f"{where}: input dtype {x.dtype} does not match the weight dtype {weight.dtype}; "
                        "convert the input (x.float() for float32)")
    if bias is not None and (not isinstance(bias, Tensor) or tuple(bias.shape) != (out_channels,)
                             or bias.dtype != weight.dtype):
        raise ValueError(f"{where}: bias must be a {weight.dtype} Tensor of shape ({out_channels},), got "
                         f"{getattr(bias, 'shape', type(bias).__name__)}")
    stride, dilation = _pair(stride, "stride", where), _pair(dilation, "dilation", where)
    sides = _padding(padding, (kh, kw), stride, dilation, where)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    g = _geometry(tuple(x.shape), (kh, kw), stride, sides, dilation, where)
    # Module 16's faster kernel when it is there and switched on, else this module's (one check: module 06)
    out = accelerated("fast_conv2d", x, weight, bias, g, int(groups))
    if out is NotImplemented:
        out = Conv2dFunction.apply(x, weight, bias, g, int(groups))
    return out.squeeze(0) if unbatched else out


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution, like torch.nn.functional.conv2d. (N, C, H, W) -> (N, O, OH, OW).

    weight: (O, C/groups, kh, kw); bias: (O,) or None; stride/dilation: int or pair;
    padding: int, pair, 'valid' or 'same'.
    """
    return _conv2d(input, weight, bias, stride, padding, dilation, groups, "conv2d")

# %%
#| test
def test_unit_conv2d_forward():
    rng = np.random.default_rng(2)
    configs = [dict(), dict(stride=2, padding=1), dict(padding=(2, 0), dilation=(1, 2)),
               dict(groups=2, padding="same"), dict(stride=(1, 3), groups=4)]
    for config in configs:
        x = rng.standard_normal((3, 4, 9, 8)).astype(np.float32)
        w = rng.standard_normal((8, 4 // config.get("groups", 1), 3, 2)).astype(np.float32)
        b = rng.standard_normal(8).astype(np.float32)
        fast = conv2d(Tensor(x), Tensor(w), Tensor(b), **config)
        slow = conv2d_naive(x, w, b, **config)
        assert fast.shape == slow.shape, f"{config}: expected shape {slow.shape}, got {fast.shape}"
        assert fast.dtype == np.float32, f"float32 in, float32 out; got {fast.dtype}"
        error = np.abs(fast.data - slow).max()
        assert error < 1e-4, (
            f"conv2d{config} differs from conv2d_naive by {error:.3g}; check the cols layout "
            "(C, kh, kw, n, oh, ow), the groups reshape, and the final transpose to (N, O, OH, OW)")
    single = conv2d(Tensor(x[0]), Tensor(w), Tensor(b), stride=(1, 3), groups=4)
    assert single.shape == (8, 7, 3), f"a 3-D (C, H, W) input gives a 3-D output, got {single.shape}"
    print("✅ conv2d (im2col + matmul) matches the direct loops: strides, padding, dilation, groups")


test_unit_conv2d_forward()

# %%
#| test
def test_unit_conv2d_backward():
    from tinytorch.core.autograd import gradcheck

    rng = np.random.default_rng(3)
    for config in [dict(padding=1), dict(stride=2, dilation=(2, 1)), dict(groups=2, padding=(0, 1))]:
        x = Tensor(rng.standard_normal((2, 4, 5, 6)), requires_grad=True)
        w = Tensor(rng.standard_normal((4, 4 // config.get("groups", 1), 3, 2)), requires_grad=True)
        b = Tensor(rng.standard_normal(4), requires_grad=True)
        assert gradcheck(lambda x, w, b: conv2d(x, w, b, **config), (x, w, b)), config
    x = Tensor(rng.standard_normal((2, 3, 5, 5)))
    w = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    out = conv2d(x, w, padding=1)
    dy = rng.standard_normal(out.shape)
    out.backward(Tensor(dy))
    cols = np.lib.stride_tricks.sliding_window_view(np.pad(x.data, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3),
                                                    axis=(2, 3))
    expected = np.einsum("nohw,nchwij->ocij", dy, cols)
    assert np.allclose(w.grad.data, expected), "dW should be dY · colsᵀ summed over images and positions"
    assert x.grad is None, "the input did not require grad, so it gets no .grad"
    print("✅ conv2d backward passes gradcheck (stride, padding, dilation, groups); dW = dY · colsᵀ")


test_unit_conv2d_backward()

# %% [markdown]
# ## 6. The `Conv2d` layer
#
# The Module holds the weight `(out_channels, in_channels/groups, kh, kw)` and the bias, and
# calls `conv2d`. PyTorch's default initialisation is the same as `Linear`'s with `fan_in =
# in_channels/groups · kh · kw`: `kaiming_uniform_(weight, a=sqrt(5))`, i.e. `U(−1/√fan_in,
# 1/√fan_in)`, and the bias uniform in the same range. Constructor checks catch the classic
# mistakes before any data arrives (channels not divisible by groups, a zero kernel).

# %%
#| export
class Conv2d(Module):
    """2-D convolution layer. (N, C_in, H, W) -> (N, C_out, OH, OW); see conv2d for the arguments.

    weight: (out_channels, in_channels // groups, kh, kw); bias: (out_channels,).
    Both start at U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels // groups * kh * kw.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", dtype=None):
        super().__init__()
        where = "Conv2d"
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
        if in_channels % groups:
            raise ValueError(f"{where}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{where}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{where}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _pair(kernel_size, "kernel_size", where)
        self.stride = _pair(stride, "stride", where)
        self.dilation = _pair(dilation, "dilation", where)
        _padding(padding, self.kernel_size, self.stride, self.dilation, where)  # validate now
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", where, minimum=0)
        self.padding_mode = padding_mode
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"{where}: dtype must be a floating-point type, got {dtype}")
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation: kaiming_uniform_(a=sqrt(5)); bias U(-1/sqrt(fan_in), ...)."""
        # Hint: exactly Linear's recipe; _calculate_fan_in_and_fan_out(self.weight)[0] is the fan_in.
        ### BEGIN SOLUTION
        kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = _calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            uniform_(self.bias, -bound, bound)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        return _conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, "Conv2d")

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


Conv2D = Conv2d  # the name the course text (and Keras) uses; an alias, not a second layer

# %%
#| test
def test_unit_conv2d_module():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    layer = Conv2d(4, 6, 3, padding=1, groups=2)
    assert layer.weight.shape == (6, 2, 3, 3) and layer.bias.shape == (6,), (
        f"Conv2d(4, 6, 3, groups=2): weight (out, in/groups, kh, kw) = (6, 2, 3, 3), got {layer.weight.shape}")
    bound = 1 / math.sqrt(2 * 3 * 3)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound, (
        f"default init should lie within ±1/sqrt(fan_in) = ±{bound:.4f} (fan_in = in/groups*kh*kw = 18)")
    assert np.abs(layer.weight.data).max() > 0.9 * bound, "weights should fill U(-bound, bound)"
    y = layer(Tensor(np.ones((2, 4, 8, 8), dtype=np.float32)))
    assert y.shape == (2, 6, 8, 8), f"padding=1 keeps 8x8, got {y.shape}"
    assert repr(layer) == "Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2)", repr(layer)
    assert repr(Conv2d(1, 2, (3, 5), stride=2, bias=False)) == (
        "Conv2d(1, 2, kernel_size=(3, 5), stride=(2, 2), bias=False)")
    for make, error in [(lambda: Conv2d(3, 4, 3, groups=2), ValueError), (lambda: Conv2d(3, 4, 0), ValueError),
                        (lambda: layer(Tensor(np.ones((2, 3, 8, 8), dtype=np.float32))), ValueError),
                        (lambda: layer(Tensor(np.ones((4, 8, 8, 1, 1), dtype=np.float32))), ValueError)]:
        try:
            make()
        except error as caught:
            assert "Conv2d" in str(caught), f"the error should name the layer: {caught}"
        else:
            raise AssertionError(f"expected {error.__name__}")
    print("✅ Conv2d: weight shape, PyTorch's default init, repr and input checks are right")


test_unit_conv2d_module()

# %% [markdown]
# ### Analysis — direct loops vs im2col, measured
#
# Same inputs, same answer, very different speed. The loops do one small `np.sum` per output
# value; im2col does a few large copies and one BLAS call. Sizes are kept small so the loops
# finish in a moment.

# %%
#| analysis
import time

from tinytorch.systems.acceleration import use_fused


def best_of(fn, repeats: int = 3) -> float:
    """Fastest of `repeats` runs of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


rng = np.random.default_rng(0)
print(f"{'input (N, C, H, W)':<20}{'conv':<12}{'MFLOP':>7}{'loops ms':>10}{'im2col ms':>11}{'speedup':>9}")
for n_img, c_in, size, c_out in [(2, 3, 16, 8), (4, 8, 16, 16)]:
    x_np = rng.standard_normal((n_img, c_in, size, size)).astype(np.float32)
    w_np = rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32)
    x_t, w_t = Tensor(x_np), Tensor(w_np)
    slow_s = best_of(lambda: conv2d_naive(x_np, w_np, padding=1), repeats=1)
    with use_fused(False):  # this module's im2col, not module 16's faster kernels
        fast_s = best_of(lambda: conv2d(x_t, w_t, padding=1), repeats=20)
    mflop = 2 * n_img * c_out * size * size * c_in * 9 / 1e6
    print(f"{str((n_img, c_in, size, size)):<20}{f'{c_in}->{c_out} 3x3':<12}{mflop:>7.2f}{slow_s * 1e3:>10.1f}"
          f"{fast_s * 1e3:>11.3f}{slow_s / fast_s:>8.0f}x")

# %% [markdown]
# The speedup grows with the layer: the loops' cost is Python overhead per output value, while
# im2col's cost is a few copies plus a matmul that runs at tens to hundreds of GFLOP/s.
#
# ## 7. Pooling
#
# Pooling shrinks feature maps: each output is the **max** or the **average** of a window, per
# channel, with no weights. `MaxPool2d(2)` halves height and width (stride defaults to the
# kernel size), keeps the strongest response in each 2x2 block, and makes the network a little
# indifferent to small shifts.
#
# ```
#   ┌────┬────┬────┬────┐
#   │  1 │  3 │  2 │  0 │      max pool 2x2, stride 2        avg pool 2x2, stride 2
#   ├────┼────┼────┼────┤      ┌────┬────┐                   ┌──────┬──────┐
#   │  4 │  2 │  1 │  5 │  ──► │  4 │  5 │                   │ 2.50 │ 2.00 │
#   ├────┼────┼────┼────┤      ├────┼────┤                   ├──────┼──────┤
#   │  0 │  1 │  3 │  3 │      │  6 │  3 │                   │ 2.00 │ 2.00 │
#   ├────┼────┼────┼────┤      └────┴────┘                   └──────┴──────┘
#   │  6 │  1 │  2 │  0 │
#   └────┴────┴────┴────┘
# ```
#
# The same window machinery applies, without the matmul: the output is the max (or sum) over
# the `kh·kw` taps of `tap_view` slices — `kh·kw − 1` calls of `np.maximum` on big arrays.
# When windows tile the input (kernel = stride), those slices are exactly the views
# `x.reshape(N, C, OH, k, OW, k)[:, :, :, p, :, q]`: pooling by reshape, no copying. (The
# one-liner `x.reshape(N, C, OH, k, OW, k).max(axis=(3, 5))` computes the same thing — time
# it in the analysis below: NumPy's reductions over short, strided axes are slow.)
#
# **Max pool backward.** Only the element that won the max receives the gradient. When
# several elements in a window tie — common after a ReLU, where whole windows are 0 — PyTorch
# gives it to the *first* one in row-major order, and so do we: walk the taps in order, and
# let each window pass its gradient to the first tap whose value equals the max (a boolean
# "still free" mask per window). Windows may overlap (stride < kernel); then a pixel collects
# gradient from every window it won, hence `+=`; when windows do not overlap each pixel
# belongs to one window and the gradient can simply be written. Padding uses `−∞`, which never
# wins.
#
# **Average pool backward** spreads `dY / (kh·kw)` evenly over each window. By default
# (`count_include_pad=True`, as in PyTorch) padded zeros count in the average;
# `count_include_pad=False` divides by the number of real pixels in each window instead.
#
# **Adaptive average pooling** fixes the *output* size instead of the kernel: output row `i` of
# `OH` averages input rows `floor(i·H/OH)` to `ceil((i+1)·H/OH) − 1`. Windows may differ in
# size and overlap when `H` is not a multiple of `OH`. Averaging rows and columns is linear and
# separable, so it is two small matrix products, `y = A_h · x · A_wᵀ`, with `A` holding
# `1/len` where an output window covers an input row (backward: `dx = A_hᵀ · dy · A_w`).
# `AdaptiveAvgPool2d(1)` is the "global average pooling" at the end of most modern CNNs.

# %%
#| export
def _pool_args(kernel_size, stride, padding, dilation, where: str, half_limit: bool = True):
    """(kernel, stride, dilation, (top, bottom, left, right)) for a pooling call, checked like PyTorch."""
    kernel = _pair(kernel_size, "kernel_size", where)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _pair(stride, "stride", where)
    dilation = _pair(dilation, "dilation", where)
    ph, pw = _pair(padding, "padding", where, minimum=0)
    limit = ((dilation[0] * (kernel[0] - 1) + 1) // 2, (dilation[1] * (kernel[1] - 1) + 1) // 2)
    if half_limit and (ph > limit[0] or pw > limit[1]):
        raise ValueError(f"{where}: padding should be at most half of the (dilated) kernel size, got "
                         f"padding={(ph, pw)} for kernel_size={kernel}, dilation={dilation}")
    return kernel, stride, dilation, (ph, ph, pw, pw)


def _pool_geometry(x: Tensor, kernel_size, stride, padding, dilation, where: str) -> tuple[Tensor, Geometry, bool]:
    """(4-D input, Geometry, whether the input was unbatched) for a pooling call."""
    _check_image(x, where)
    kernel, stride, dilation, pad = _pool_args(kernel_size, stride, padding, dilation, where)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    return x, _geometry(tuple(x.shape), kernel, stride, pad, dilation, where), unbatched


class MaxPool2dFunction(Function):
    """Max over each window; backward routes each window's gradient to its first maximum."""

    @staticmethod
    def forward(ctx, x, g: Geometry):
        flat = pad(x, g, -np.inf)
        # Hint: out = a copy of tap (0, 0)'s view; then np.maximum(out, view, out=out) for every
        #       other tap. Save what backward needs: ctx.save_for_backward(flat, out).
        ### BEGIN SOLUTION
        out = None
        for i in range(g.kh):
            for j in range(g.kw):
                view = tap_view(flat, g, i, j)
                if out is None:
                    out = view.copy()
                else:
                    np.maximum(out, view, out=out)
        ctx.save_for_backward(flat, out)
        ### END SOLUTION
        ctx.geometry, ctx.shape = g, x.shape
        return out

    @staticmethod
    def backward(ctx, grad_output):
        flat, out = ctx.saved_tensors
        g = ctx.geometry
        overlap = g.sh < g.dh * (g.kh - 1) + 1 or g.sw < g.dw * (g.kw - 1) + 1
        # Hint: grad = zeros like flat (np.empty when `tiled`, below); free = all-True bool array
        #       of out's shape. For each tap in row-major order: hit = (tap_view(flat, ...) == out)
        #       & free; free ^= hit (hit is inside free, so this removes it); then the gradient of
        #       this tap's winners: windows that overlap share pixels, so add: view += grad_output
        #       * hit; windows that do not overlap own their pixels, so np.multiply(grad_output,
        #       hit, out=view) writes them directly (faster). Return unpad(grad, g) (a 4-D view).
        # When the windows tile the padded input exactly (stride == kernel, no dilation, no leftover
        # rows or columns), the taps write every pixel between them, so grad needs no zero-fill.
        tiled = (g.dh == 1 and g.dw == 1 and g.sh == g.kh and g.sw == g.kw
                 and g.oh * g.sh == g.hp and g.ow * g.sw == g.wp)
        ### BEGIN SOLUTION
        grad = (np.empty if tiled else np.zeros)(flat.shape, dtype=grad_output.dtype)
        free = np.ones(out.shape, dtype=bool)
        for i in range(g.kh):
            for j in range(g.kw):
                hit = tap_view(flat, g, i, j) == out
                hit &= free
                free ^= hit
                view = tap_view(grad, g, i, j)
                if overlap:
                    view += grad_output * hit
                else:
                    np.multiply(grad_output, hit, out=view)
        return unpad(grad, g), None
        ### END SOLUTION


class AvgPool2dFunction(Function):
    """Mean over each window (divisor: the window size, the real pixels in it, or an override)."""

    @staticmethod
    def forward(ctx, x, g: Geometry, divisor):
        flat = pad(x, g, 0.0)
        total = None
        for i in range(g.kh):
            for j in range(g.kw):
                view = tap_view(flat, g, i, j)
                if total is None:
                    total = view.copy()
                else:
                    total += view
        ctx.geometry, ctx.divisor, ctx.dtype = g, divisor, x.dtype
        total /= divisor
        return total

    @staticmethod
    def backward(ctx, grad_output):
        g = ctx.geometry
        share = grad_output / ctx.divisor
        grad = np.zeros((g.n, g.c, g.hp, g.wp), dtype=share.dtype)
        for i in range(g.kh):
            for j in range(g.kw):
                view = tap_view(grad, g, i, j)
                view += share
        return unpad(grad, g), None, None


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """Max pooling, like torch.nn.functional.max_pool2d. (N, C, H, W) -> (N, C, OH, OW).

    stride defaults to kernel_size; padding (implicit -inf) is at most half the kernel.
    """
    x, g, unbatched = _pool_geometry(input, kernel_size, stride, padding, dilation, "max_pool2d")
    out = _max_pool(x, g)
    return out.squeeze(0) if unbatched else out


def _max_pool(x: Tensor, g: Geometry) -> Tensor:
    """MaxPool2dFunction, or module 16's faster kernel when it is there, switched on and fits g (module 06)."""
    out = accelerated("fast_max_pool2d", x, g)
    return MaxPool2dFunction.apply(x, g) if out is NotImplemented else out


def _avg_divisor(g: Geometry, count_include_pad: bool, divisor_override, dtype) -> float | np.ndarray:
    """What each window's sum is divided by: kh*kw, the override, or the real pixels per window."""
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, numbers.Integral) \
                or divisor_override == 0:
            raise ValueError(f"avg_pool2d: divisor_override must be a non-zero int, got {divisor_override!r}")
        return float(divisor_override)
    if count_include_pad:
        return float(g.kh * g.kw)
    rows = [min(r * g.sh + g.kh, g.top + g.h) - max(r * g.sh, g.top) for r in range(g.oh)]
    cols = [min(c * g.sw + g.kw, g.left + g.w) - max(c * g.sw, g.left) for c in range(g.ow)]
    return np.outer(rows, cols).astype(dtype)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, *, count_include_pad: bool = True,
               divisor_override=None) -> Tensor:
    """Average pooling, like torch.nn.functional.avg_pool2d. (N, C, H, W) -> (N, C, OH, OW).

    Padded zeros count in the average unless count_include_pad=False.
    """
    x, g, unbatched = _pool_geometry(input, kernel_size, stride, padding, 1, "avg_pool2d")
    divisor = _avg_divisor(g, count_include_pad, divisor_override, x.dtype)
    out = AvgPool2dFunction.apply(x, g, divisor)
    return out.squeeze(0) if unbatched else out


def _adaptive_matrix(size: int, out_size: int, dtype) -> np.ndarray:
    """(out_size, size) averaging matrix: row i is 1/len over input rows floor(i*size/out) .. ceil((i+1)*size/out)-1."""
    matrix = np.zeros((out_size, size), dtype=dtype)
    for i in range(out_size):
        start, stop = (i * size) // out_size, -((-(i + 1) * size) // out_size)
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


class AdaptiveAvgPool2dFunction(Function):
    """y = A_h @ x @ A_w^T per (image, channel); backward dx = A_h^T @ dy @ A_w."""

    @staticmethod
    def forward(ctx, x, rows: np.ndarray, cols: np.ndarray):
        ctx.rows, ctx.cols = rows, cols
        return np.matmul(np.matmul(rows, x), cols.T)

    @staticmethod
    def backward(ctx, grad_output):
        return np.matmul(np.matmul(ctx.rows.T, grad_output), ctx.cols), None, None


def _adaptive_size(output_size, shape: tuple, where: str) -> tuple[int, int]:
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(items) != 2:
        raise TypeError(f"{where}: output_size must be an int, None or a pair, got {output_size!r}")
    sizes = []
    for item, full in zip(items, shape[-2:]):
        if item is None:
            sizes.append(int(full))
        elif isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{where}: output_size must be an int, None or a pair, got {output_size!r}")
        elif item < 1:
            raise ValueError(f"{where}: output_size must be positive, got {output_size!r} for an input of "
                             f"shape {tuple(shape)}")
        else:
            sizes.append(int(item))
    return sizes[0], sizes[1]


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size, like torch.nn.functional.adaptive_avg_pool2d."""
    where = "adaptive_avg_pool2d"
    _check_image(input, where)
    oh, ow = _adaptive_size(output_size, input.shape, where)
    h, w = input.shape[-2:]
    if h % oh == 0 and w % ow == 0:  # equal windows that tile the input: plain average pooling
        return avg_pool2d(input, (h // oh, w // ow))
    rows, cols = _adaptive_matrix(h, oh, input.dtype), _adaptive_matrix(w, ow, input.dtype)
    return AdaptiveAvgPool2dFunction.apply(input, rows, cols)


class MaxPool2d(Module):
    """Max pooling layer; see max_pool2d. stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        _pool_args(kernel_size, stride, padding, dilation, "MaxPool2d")  # validate now
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation

    def forward(self, x: Tensor) -> Tensor:
        x, g, unbatched = _pool_geometry(x, self.kernel_size, self.stride, self.padding, self.dilation, "MaxPool2d")
        out = _max_pool(x, g)
        return out.squeeze(0) if unbatched else out

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode=False")


class AvgPool2d(Module):
    """Average pooling layer; see avg_pool2d. stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None, padding=0, *, count_include_pad: bool = True,
                 divisor_override=None):
        super().__init__()
        _pool_args(kernel_size, stride, padding, 1, "AvgPool2d")  # validate now
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.count_include_pad, self.divisor_override = padding, count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        x, g, unbatched = _pool_geometry(x, self.kernel_size, self.stride, self.padding, 1, "AvgPool2d")
        divisor = _avg_divisor(g, self.count_include_pad, self.divisor_override, x.dtype)
        out = AvgPool2dFunction.apply(x, g, divisor)
        return out.squeeze(0) if unbatched else out

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (int, or pair; None keeps that input size)."""

    def __init__(self, output_size):
        super().__init__()
        _adaptive_size(output_size, (1, 1), "AdaptiveAvgPool2d")
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        _check_image(x, "AdaptiveAvgPool2d")
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

# %%
#| test
def test_unit_pooling():
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 3], [6, 1, 2, 0]], dtype=np.float32).reshape(1, 1, 4, 4)
    got = max_pool2d(Tensor(x), 2).data[0, 0]
    assert np.array_equal(got, [[4, 5], [6, 3]]), f"max pool 2x2 of the picture: expected [[4, 5], [6, 3]], got {got}"
    got = avg_pool2d(Tensor(x), 2).data[0, 0]
    assert np.allclose(got, [[2.5, 2.0], [2.0, 2.0]]), f"avg pool 2x2: expected [[2.5, 2], [2, 2]], got {got}"
    ties = Tensor(np.zeros((1, 1, 2, 2)), requires_grad=True)
    max_pool2d(ties, 2).sum().backward()
    assert ties.grad.data.ravel().tolist() == [1, 0, 0, 0], (
        f"a window of equal values sends its gradient to the FIRST one (PyTorch), got {ties.grad.data.ravel()}; "
        "likely cause: every tied element got the gradient (missing the 'still free' mask)")
    rng = np.random.default_rng(4)
    overlap = Tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    out = max_pool2d(overlap, 3, stride=1, padding=1)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(overlap.data, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf), (3, 3), axis=(2, 3))
    assert np.array_equal(out.data, windows.max(axis=(-2, -1))), "3x3/1 max pool with padding: wrong values"
    out.sum().backward()
    wins = (windows == out.data[..., None, None]).sum(axis=(-2, -1))
    assert overlap.grad.data.sum() == wins.size, "each window sends exactly one unit of gradient"
    from tinytorch.core.autograd import gradcheck

    z = Tensor(rng.standard_normal((2, 2, 5, 6)), requires_grad=True)
    assert gradcheck(lambda t: avg_pool2d(t, 3, 2, 1, count_include_pad=False), (z,))
    assert gradcheck(lambda t: max_pool2d(t, (2, 3), (1, 2)), (z,))
    assert gradcheck(lambda t: adaptive_avg_pool2d(t, (3, 4)), (z,))
    global_avg = adaptive_avg_pool2d(Tensor(x), 1).data
    assert global_avg.shape == (1, 1, 1, 1) and np.isclose(global_avg.item(), x.mean()), "global average pooling"
    print("✅ max/avg/adaptive pooling: values, first-max tie rule, overlapping windows and gradients are right")


test_unit_pooling()

# %% [markdown]
# ### Analysis — pooling by views vs a NumPy reduction
#
# Two ways to compute the same 2x2 max pool of a `(64, 32, 32, 32)` activation (the first
# pooling layer of the benchmark CNN below): our tap views (`k·k − 1` calls of `np.maximum` on
# strided views), and the one-liner reduction over the reshaped axes.

# %%
#| analysis
act = np.maximum(np.random.default_rng(0).standard_normal((64, 32, 32, 32), dtype=np.float32), 0)
act_t = Tensor(act)
reshaped_s = best_of(lambda: act.reshape(64, 32, 16, 2, 16, 2).max(axis=(3, 5)), repeats=3)
views_s = best_of(lambda: max_pool2d(act_t, 2), repeats=10)
assert np.array_equal(act.reshape(64, 32, 16, 2, 16, 2).max(axis=(3, 5)), max_pool2d(act_t, 2).data)
print(f"reshape(...).max(axis=(3, 5)): {reshaped_s * 1e3:7.2f} ms")
print(f"max_pool2d (tap views):        {views_s * 1e3:7.2f} ms   ({reshaped_s / views_s:.0f}x faster, same values)")

# %% [markdown]
# A reduction over two axes of length 2 makes NumPy run its inner loop over just 2 elements,
# millions of times; `np.maximum` on two big views runs long inner loops instead. Same memory
# read, very different overhead per element — the "vectorise" rule is about the *shape* of the
# work that NumPy's loops see, not just about avoiding Python loops.

# %% [markdown]
# ## 8. Batch normalisation
#
# Deep networks train faster when every layer sees inputs of a stable scale. **Batch norm**
# (Ioffe & Szegedy, 2015) standardises each channel using the statistics of the current batch,
# then lets the network choose the scale and offset it wants with two learned vectors, `γ`
# (`weight`) and `β` (`bias`):
#
# ```
#   per channel c, over every value of that channel in the batch (N·H·W of them for images):
#     μ_c  = mean(x_c)            σ²_c = mean((x_c − μ_c)²)          (biased: divide by M = N·H·W)
#     x̂    = (x − μ_c) / sqrt(σ²_c + eps)
#     y    = γ_c · x̂ + β_c
# ```
#
# **Train vs eval.** At test time there may be one image, not a batch, and a prediction must not
# depend on what else is in the batch. So during training the layer also keeps *running*
# estimates, updated after every batch with `momentum` (PyTorch's convention: the weight of the
# *new* value):
#
# ```
#   running_mean ← (1 − momentum) · running_mean + momentum · μ
#   running_var  ← (1 − momentum) · running_var  + momentum · σ² · M/(M − 1)   (unbiased!)
# ```
#
# and `model.eval()` switches the layer to normalise with those. Two details that PyTorch users
# trip over, and that we copy exactly: the batch is normalised with the *biased* variance but the
# running estimate uses the *unbiased* one; and `momentum=None` means a plain average over all
# batches so far (`num_batches_tracked` counts them). With a single value per channel (a batch
# of one vector) the variance is 0 and the unbiased estimate divides by zero: training mode
# refuses it, as PyTorch does.
#
# ```
#                    train()                               eval()
#   normalise with   batch μ, σ² (biased)                  running_mean, running_var
#   running stats    updated (σ² unbiased)                 left alone
#   output depends   on the whole batch                    on this example only
# ```
#
# **Backward.** In eval mode the layer is an affine map per channel: `dx = dy · γ / sqrt(var +
# eps)`. In training mode μ and σ² depend on every input, which adds two correction terms — the
# gradient is projected so that it neither shifts the batch mean nor its spread:
#
# ```
#   g  = dy · γ
#   dx = (g − mean(g) − x̂ · mean(g · x̂)) / sqrt(σ² + eps)      means per channel over N, H, W
#   dγ = Σ dy · x̂           dβ = Σ dy
# ```
#
# `BatchNorm1d` does the same for `(N, C)` or `(N, C, L)` inputs, `BatchNorm2d` for `(N, C, H, W)`.
# The running statistics are **buffers** (module 03's `register_buffer`): saved in `state_dict`,
# moved by `load_state_dict`, never touched by the optimizer.

# %%
#| export
class BatchNormFunction(Function):
    """Batch normalisation over every axis but 1; running statistics are updated in place when training."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training: bool, momentum: float, eps: float):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        # Hint: training: mean and biased var over `axes` (x.mean / x.var); if running_mean is not None,
        #       update running_mean and running_var in place (*= and +=) with momentum, the variance
        #       scaled by M/(M-1), M = x.size // x.shape[1]. Not training: mean, var = the running
        #       statistics. Then invstd = 1/sqrt(var + eps), xhat = (x - mean) * invstd (reshape the
        #       per-channel vectors to `shape`), out = xhat * weight + bias when weight is not None.
        #       Save xhat, invstd and weight for backward.
        ### BEGIN SOLUTION
        if training:
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            if running_mean is not None:
                count = x.size // x.shape[1]
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += momentum * var * (count / (count - 1))
        else:
            mean, var = running_mean, running_var
        invstd = 1.0 / np.sqrt(var + eps)
        xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
        out = xhat if weight is None else xhat * weight.reshape(shape) + bias.reshape(shape)
        ctx.save_for_backward(xhat, invstd, weight)
        ### END SOLUTION
        ctx.training, ctx.axes, ctx.shape = training, axes, shape
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output):
        xhat, invstd, weight = ctx.saved_tensors
        axes, shape = ctx.axes, ctx.shape
        g = grad_output if weight is None else grad_output * weight.reshape(shape)
        if ctx.training:
            grad_x = g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True)
            grad_x *= invstd.reshape(shape)
        else:
            grad_x = g * invstd.reshape(shape)
        need_w, need_b = ctx.needs_input_grad[1:3]
        grad_w = (grad_output * xhat).sum(axis=axes) if need_w else None
        grad_b = grad_output.sum(axis=axes) if need_b else None
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _stat_array(tensor, name: str, channels: int, where: str):
    if tensor is None:
        return None
    if not isinstance(tensor, Tensor) or tuple(tensor.shape) != (channels,):
        raise ValueError(f"{where}: {name} should contain {channels} elements (one per channel), got "
                         f"{getattr(tensor, 'shape', type(tensor).__name__)}")
    return tensor.data


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
               where: str = "batch_norm") -> Tensor:
    """Batch normalisation over all dims but 1, like torch.nn.functional.batch_norm.

    training: normalise with batch statistics and update running_mean/running_var (if given) in place;
    otherwise normalise with running_mean/running_var. weight, bias: (C,) or None.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f" or input.ndim < 2:
        raise ValueError(f"{where}: input must be a floating-point tensor of shape (N, C, ...), got shape "
                         f"{tuple(input.shape)} and dtype {input.dtype}")
    channels = input.shape[1]
    mean, var = (_stat_array(running_mean, "running_mean", channels, where),
                 _stat_array(running_var, "running_var", channels, where))
    if not training and (mean is None or var is None):
        raise ValueError(f"{where}: running_mean and running_var are needed when training=False")
    if training and input.numel() // channels <= 1:
        raise ValueError(f"{where}: Expected more than 1 value per channel when training, got input of shape "
                         f"{tuple(input.shape)} (one value per channel: a batch of one with no spatial "
                         "size); use a larger batch, or call .eval() to use the running statistics")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and (not isinstance(param, Tensor) or tuple(param.shape) != (channels,)):
            raise ValueError(f"{where}: {name} must be a Tensor of shape ({channels},), got "
                             f"{getattr(param, 'shape', type(param).__name__)}")
    if (weight is None) != (bias is None):
        raise ValueError(f"{where}: give both weight and bias, or neither")
    return BatchNormFunction.apply(input, weight, bias, mean, var, bool(training), momentum, eps)


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d: parameters, buffers, train/eval behaviour."""

    _dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None):
        super().__init__()
        where = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) or num_features < 1:
            raise ValueError(f"{where}: num_features must be a positive int, got {num_features!r}")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            zeros_(self.running_mean)
            ones_(self.running_var)
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            ones_(self.weight)
            zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        where = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{where}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim not in self._dims:
            dims = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{where}: expected {dims} input (got {x.ndim}D input of shape {tuple(x.shape)})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{where}: expected an input with {self.num_features} channels in dim 1 "
                             f"(num_features={self.num_features}), got shape {tuple(x.shape)}")
        if self.affine and x.dtype != self.weight.dtype:
            raise TypeError(f"{where}: input dtype {x.dtype} does not match the weight dtype {self.weight.dtype}")
        use_batch_stats = self.training or self.running_mean is None
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and x.numel() // x.shape[1] > 1:
            # Hint: count this batch; momentum=None means the cumulative average 1/num_batches_tracked.
            ### BEGIN SOLUTION
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                factor = 1.0 / int(self.num_batches_tracked.item())
            ### END SOLUTION
        stats_update = not use_batch_stats or self.track_running_stats
        return batch_norm(x, self.running_mean if stats_update else None,
                          self.running_var if stats_update else None, self.weight, self.bias,
                          use_batch_stats, factor, self.eps, where)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, per channel C (PyTorch's defaults)."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, per channel C (PyTorch's defaults)."""

    _dims = (4,)

# %%
#| test
def test_unit_batch_norm():
    rng = np.random.default_rng(5)
    bn = BatchNorm2d(3)
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"], (
        f"state_dict must hold the running statistics: got {list(bn.state_dict())}")
    x = Tensor((rng.standard_normal((8, 3, 4, 5)) * 3 + 2).astype(np.float32))
    y = bn(x)
    per_channel = y.data.transpose(1, 0, 2, 3).reshape(3, -1)
    assert np.allclose(per_channel.mean(1), 0, atol=1e-5) and np.allclose(per_channel.std(1), 1, atol=1e-3), (
        "in training mode each channel of the output should have mean 0 and std 1 (gamma=1, beta=0)")
    data = x.data.transpose(1, 0, 2, 3).reshape(3, -1)
    assert np.allclose(bn.running_mean.data, 0.1 * data.mean(1), atol=1e-5), (
        "running_mean after one step = 0.9 * 0 + 0.1 * batch mean")
    assert np.allclose(bn.running_var.data, 0.9 + 0.1 * data.var(1, ddof=1), atol=1e-4), (
        "running_var after one step = 0.9 * 1 + 0.1 * UNBIASED batch variance (M/(M-1) correction)")
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    expected = (x.data - bn.running_mean.data.reshape(1, 3, 1, 1)) / np.sqrt(
        bn.running_var.data.reshape(1, 3, 1, 1) + 1e-5)
    assert np.allclose(bn(x).data, expected, atol=1e-5), "eval mode normalises with the running statistics"
    assert bn.num_batches_tracked.item() == 1, "eval mode must not update the statistics"
    from tinytorch.core.autograd import gradcheck

    for training in (True, False):
        layer = BatchNorm1d(3, dtype=np.float64).train(training)
        layer.weight.data[...] = [1.5, -0.5, 2.0]
        z = Tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
        assert gradcheck(lambda t, w, b: layer(t), (z, layer.weight, layer.bias)), f"training={training}"
    try:
        BatchNorm1d(3)(Tensor(np.ones((1, 3), dtype=np.float32)))
    except ValueError as error:
        assert "more than 1 value per channel" in str(error) and "BatchNorm1d" in str(error), str(error)
    else:
        raise AssertionError("training on a batch of one vector must raise ValueError (like PyTorch)")
    print("✅ batch norm: batch statistics, running statistics (unbiased var), eval mode and gradients are right")


test_unit_batch_norm()

# %% [markdown]
# ## 9. Dropout2d
#
# Ordinary dropout zeroes single activations, but neighbouring pixels of a feature map are
# strongly correlated, so a dropped pixel is easily guessed from its neighbours. `Dropout2d`
# zeroes whole **channels** instead: one keep/drop decision per `(image, channel)`, the same
# mask value over all `H x W`, survivors scaled by `1/(1−p)` as in module 03's `dropout`. The
# mask is a constant `(N, C, 1, 1)` tensor multiplied into the input — a recorded, broadcast
# `mul` — so autograd needs nothing new.

# %%
#| export
def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Zero whole channels with probability p (one draw per (n, c)), scale the rest by 1/(1-p)."""
    p = _check_probability(p, "dropout2d")
    if not isinstance(input, Tensor) or input.ndim != 4:
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W), got "
                         f"{tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    if not training or p == 0:
        return input
    # Hint: keep = rng.random((N, C, 1, 1)) >= p; mask = keep / (1 - p) (all zeros when p == 1), in the
    #       input's dtype; return input * Tensor(mask).
    ### BEGIN SOLUTION
    rng = generator or default_generator()
    shape = input.shape[:2] + (1, 1)
    if p == 1:
        mask = np.zeros(shape, dtype=input.dtype)
    else:
        mask = (rng.random(shape, dtype=np.float32) >= p).astype(input.dtype) / input.dtype.type(1 - p)
    return input * Tensor(mask.astype(input.dtype, copy=False))
    ### END SOLUTION


class Dropout2d(Module):
    """Channel dropout with probability p in training mode; identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_probability(p, "Dropout2d")

    def forward(self, x: Tensor) -> Tensor:
        return dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"

# %%
#| test
def test_unit_dropout2d():
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    x = Tensor(np.ones((50, 40, 3, 4), dtype=np.float32))
    out = Dropout2d(0.25)(x).data
    per_channel = out.reshape(50, 40, 12)
    assert (per_channel.min(-1) == per_channel.max(-1)).all(), "a channel is dropped or kept as a whole"
    kept = per_channel[:, :, 0] != 0
    assert abs(kept.mean() - 0.75) < 0.04, f"about 75% of channels should survive, got {kept.mean():.3f}"
    assert np.allclose(per_channel[kept], 1 / 0.75) and out.dtype == np.float32, "survivors scaled by 1/(1-p)"
    layer = Dropout2d(0.5).eval()
    assert layer(x) is x, "eval mode: identity"
    assert dropout2d(x, 1.0).data.max() == 0
    print("✅ Dropout2d drops whole channels, rescales survivors, and is the identity in eval mode")


test_unit_dropout2d()

# %% [markdown]
# ## 10. A CNN that learns
#
# Everything together: a small CNN in the shape of the classic LeNet/VGG designs
# (conv → batch norm → ReLU → pool, twice, then a classifier), trained for a few steps on a toy
# task — is the bright bar in a 12x12 image horizontal or vertical? — using only this module, the
# layers of module 03 and the losses of module 04 (plain SGD by hand: the optimizers are module
# 06's business). The loss must fall.

# %%
#| test
def test_unit_cnn_learns():
    from tinytorch.core.layers import Flatten, Linear, ReLU, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.tensor import manual_seed

    manual_seed(0)
    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.3, (64, 1, 12, 12)).astype(np.float32)
    labels = rng.integers(0, 2, 64)
    for k, (label, where) in enumerate(zip(labels, rng.integers(2, 10, 64))):
        if label:
            images[k, 0, where, 2:10] += 2.0
        else:
            images[k, 0, 2:10, where] += 2.0
    model = Sequential(Conv2d(1, 8, 3, padding=1), BatchNorm2d(8), ReLU(), MaxPool2d(2),
                       Conv2d(8, 16, 3, padding=1), BatchNorm2d(16), ReLU(), AdaptiveAvgPool2d(2),
                       Flatten(), Linear(64, 2))
    loss_fn = CrossEntropyLoss()
    x, y = Tensor(images), Tensor(labels)
    losses = []
    for _ in range(25):
        for param in model.parameters():
            param.grad = None
        loss = loss_fn(model(x), y)
        loss.backward()
        for param in model.parameters():
            param.data -= 0.1 * param.grad.data
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (
        f"25 SGD steps should at least halve the loss, got {losses[0]:.3f} -> {losses[-1]:.3f}; every layer "
        "passes its own tests, so look at how gradients flow between them (shapes, dtypes, grad_fn)")
    model.eval()
    accuracy = (model(x).data.argmax(1) == labels).mean()
    print(f"✅ a small CNN learns the bar task: loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
          f"accuracy {accuracy:.0%} in eval mode")


test_unit_cnn_learns()

# %% [markdown]
# ## Analysis — the benchmark CNN, layer by layer
#
# `benchmarks/cnn_step.py` times one training step of this network on CIFAR-sized input
# (3x32x32), batch 64:
#
# ```
#   conv3x3(3→32) ReLU   conv3x3(32→32) ReLU   maxpool2
#   conv3x3(32→64) ReLU  conv3x3(64→64) ReLU   maxpool2
#   flatten   linear(4096→256) ReLU   linear(256→10)          padding 1 everywhere
# ```
#
# First, on paper: for every layer its output, parameters, forward FLOPs (2 per multiply-add),
# the float32 memory of its output (what backward keeps alive) and the size of the im2col
# matrix for the whole batch, as `Conv2dFunction` builds it.

# %%
#| analysis
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Flatten, Linear, ReLU, Sequential
from tinytorch.core.tensor import manual_seed


def benchmark_cnn() -> Sequential:
    return Sequential(Conv2d(3, 32, 3, padding=1), ReLU(), Conv2d(32, 32, 3, padding=1), ReLU(), MaxPool2d(2),
                      Conv2d(32, 64, 3, padding=1), ReLU(), Conv2d(64, 64, 3, padding=1), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(4096, 256), ReLU(), Linear(256, 10))


manual_seed(0)
cnn = benchmark_cnn()
batch = 64
h = Tensor(np.zeros((batch, 3, 32, 32), dtype=np.float32))
print(f"batch {batch}")
print(f"{'layer':<22}{'output':<18}{'params':>9}{'MFLOP':>8}{'out MB':>8}{'cols MB':>9}")
total_flops = conv_flops = conv_params = all_params = 0
with no_grad():
    for index, layer in enumerate(cnn):
        out = layer(h)
        params = sum(p.numel() for p in layer.parameters())
        flops, cols_mb = 0, ""
        if isinstance(layer, (Conv2d, Linear)):
            flops = 2 * out.numel() * int(np.prod(layer.weight.shape[1:]))
        if isinstance(layer, Conv2d):
            geo = _geometry(tuple(h.shape), layer.kernel_size, layer.stride, (1, 1, 1, 1), layer.dilation, "")
            cols_mb = f"{geo.c * geo.kh * geo.kw * batch * geo.oh * geo.ow * 4 / 1e6:9.1f}"
        total_flops += flops
        all_params += params
        if isinstance(layer, Conv2d):
            conv_flops, conv_params = conv_flops + flops, conv_params + params
        name = type(layer).__name__ + (f"({layer.in_channels},{layer.out_channels})" if isinstance(layer, Conv2d)
                                       else "")
        print(f"{name:<22}{str(tuple(out.shape)):<18}{params:>9,}{flops / 1e6:>8.1f}{out.numel() * 4 / 1e6:>8.1f}"
              f"{cols_mb:>9}")
        h = out
print(f"forward: {total_flops / 1e9:.2f} GFLOP per batch; a training step is about 3x that "
      f"({(3 * total_flops - 2 * batch * 32 * 32 * 32 * 27) / 1e9:.2f} GFLOP: the first conv needs no dX)")
print(f"the convolutions: {conv_params / all_params:.0%} of the parameters, "
      f"{conv_flops / total_flops:.0%} of the FLOPs")

# %% [markdown]
# The convolutions hold a few percent of the parameters and do almost all of the FLOPs; the first
# Linear layer holds most of the parameters. A whole-batch im2col matrix for the second conv is
# larger than all the activations of the network together: the price of turning a convolution
# into one matmul.
#
# ### Receptive field growth
#
# How much of the image does one output of each layer see? With `j` the distance in input
# pixels between neighbouring outputs (the product of all strides so far), a layer with kernel
# `k` adds `(k−1)·j` to the receptive field `r`: `r ← r + (k−1)·j`, then `j ← j·s`.

# %%
#| analysis
field, jump = 1, 1
print(f"{'layer':<16}{'kernel':>7}{'stride':>7}{'jump':>6}{'receptive field':>17}")
for layer in cnn:
    if isinstance(layer, (Conv2d, MaxPool2d)):
        k = layer.kernel_size[0] if isinstance(layer, Conv2d) else layer.kernel_size
        s = layer.stride[0] if isinstance(layer, Conv2d) else layer.stride
        field, jump = field + (k - 1) * jump, jump * s
        print(f"{type(layer).__name__:<16}{k:>7}{s:>7}{jump:>6}{f'{field}x{field}':>17}")
print(f"after the last pool, each of the 8x8 positions summarises a {field}x{field} patch of the 32x32 image;\n"
      "the Linear layer then sees all of them at once.")

# %% [markdown]
# ### The im2col buffer vs the batch size, measured
#
# `Conv2dFunction` keeps the whole batch's `cols` from forward to backward, and that matrix
# grows linearly with the batch. Below: its size on paper for the second conv at several batch
# sizes, and the peak memory NumPy really allocates (it reports to `tracemalloc`) for one
# forward + backward of that conv, on this module's path (`use_fused(False)` switches off
# module 16's kernels, which build `cols` a few images at a time instead).

# %%
#| analysis
import tracemalloc

from tinytorch.systems.acceleration import use_fused
from tito.plots import plot_lines

layer = Conv2d(32, 32, 3, padding=1)
per_image = 32 * 9 * 32 * 32 * 4  # bytes of cols per image: K = 32*3*3 rows, 32*32 columns, float32
batch_sizes = [1, 4, 16, 32]
paper_mb, peak_mb = [], []
print(f"{'batch':>6}{'cols MB (paper)':>17}{'peak MB (measured)':>20}")
for n in batch_sizes:
    x_in = Tensor(np.random.default_rng(0).standard_normal((n, 32, 32, 32), dtype=np.float32), requires_grad=True)
    with use_fused(False):
        tracemalloc.start()
        layer(x_in).sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    paper_mb.append(n * per_image / 1e6)
    peak_mb.append(peak / 1e6)
    print(f"{n:>6}{paper_mb[-1]:>17.1f}{peak_mb[-1]:>20.1f}")
plot_lines("im2col_memory_vs_batch", batch_sizes, {"cols on paper": paper_mb, "peak, measured": peak_mb},
           xlabel="batch size", ylabel="MB", title="conv 32->32 3x3 at 32x32: im2col memory",
           logx=True, logy=True)

# %% [markdown]
# The measured peak is about twice the paper size of `cols`: forward's `cols` is still alive
# when backward builds `dcols = Wᵀ·dY`, which has the same shape — both linear in the batch.
# At batch 64 the second conv alone holds 75 MB of `cols` between forward and backward. Module
# 16 measures what building it in small blocks, in a different memory layout, saves in memory
# and in time.
#
# ### Where the time goes in one training step
#
# Finally, the whole step with the per-layer split that `benchmarks/cnn_step.py` reports. The
# forward time of a layer is easy to measure: time the call. For backward, we place an identity
# `Function` after every layer whose backward only notes the time: the gradient passes layer
# `k`'s stamp just before layer `k`'s backward starts, so consecutive stamps bracket each
# layer's backward. (Batch 32 here, to keep the notebook quick; the benchmark uses 64.)

# %%
#| analysis
from tinytorch.core.losses import CrossEntropyLoss


class TimeStamp(Function):
    """Identity whose backward writes the time into log[index]."""

    @staticmethod
    def forward(ctx, x, log, index):
        ctx.log, ctx.index = log, index
        return x

    @staticmethod
    def backward(ctx, grad_output):
        ctx.log[ctx.index] = time.perf_counter()
        return grad_output, None, None


def profile_once(model, x, target):
    stamps, fwd = {}, []
    out = x
    for index, layer in enumerate(model):
        start = time.perf_counter()
        out = layer(out)
        fwd.append(time.perf_counter() - start)
        out = TimeStamp.apply(out, stamps, index)
    loss = CrossEntropyLoss()(out, target)
    loss.backward()
    end = time.perf_counter()
    bwd = [stamps[i - 1] - stamps[i] if i else end - stamps[0] for i in range(len(fwd))]
    return fwd, bwd


manual_seed(0)
cnn = benchmark_cnn()
rng = np.random.default_rng(0)
x_step = Tensor(rng.standard_normal((32, 3, 32, 32), dtype=np.float32))
y_step = Tensor(rng.integers(0, 10, 32))
with use_fused(False):  # this module's layers (module 16 measures its own)
    runs = [profile_once(cnn, x_step, y_step) for _ in range(4)][1:]  # the first run warms up
print(f"{'layer':<22}{'fwd ms':>8}{'bwd ms':>8}")
totals = [0.0, 0.0]
for index, layer in enumerate(cnn):
    fwd_ms = sorted(r[0][index] for r in runs)[1] * 1e3
    bwd_ms = sorted(r[1][index] for r in runs)[1] * 1e3
    totals[0] += fwd_ms
    totals[1] += bwd_ms
    name = type(layer).__name__ + (f"({layer.in_channels},{layer.out_channels})" if isinstance(layer, Conv2d)
                                   else "")
    print(f"{name:<22}{fwd_ms:>8.2f}{bwd_ms:>8.2f}")
print(f"{'total':<22}{totals[0]:>8.2f}{totals[1]:>8.2f}")

# %% [markdown]
# Read it against the FLOP table: the two big convolutions take most of the time, and backward
# costs about twice forward — as the FLOP count predicts. Whatever is left (ReLU, pooling,
# padding, im2col, col2im and the transposes) is memory traffic, not arithmetic: each of those
# ops reads and writes megabytes to do one operation per element. Module 16 measures these
# phases one by one and removes most of the copying.

# %% [markdown]
# ## Reflection
#
# **Q1.** The second conv of the benchmark network has 9,248 parameters and does about 1.2
# GFLOP per forward pass of 64 images; `Linear(4096, 256)` has over a million parameters and does
# about 0.13 GFLOP. Explain the difference with weight sharing. What does it mean for where a
# CNN's *memory* goes and where its *time* goes?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q2.** A 3x3 convolution from 64 to 64 channels on 56x56 feature maps (an early ResNet-50
# stage) at batch 256: how large is the full im2col matrix in float32? Name two ways a framework
# can avoid materialising it (module 16 uses one of them).

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q3.** You trained a model with `BatchNorm2d` and now classify single images, but forgot
# `model.eval()`. What happens in each BatchNorm layer, and what happens to the predictions? And
# why does the running variance use `M/(M−1)·σ²` while the normalisation uses `σ²`?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# **Q4.** Run `python benchmarks/cnn_step.py`. Compare its effective GFLOP/s with the plain
# matmul GFLOP/s it prints. Using the per-layer profile, where does the missing time go, and
# what would you change first to make the step faster?

# %% [markdown]
# **Your answer:**

# %% [markdown]
# ## Summary
#
# - A convolution is a dot product between one kernel and every window of the input; the output
#   size is `floor((H + 2p − d(k−1) − 1)/s) + 1`, and weight sharing keeps parameters few while
#   FLOPs stay large.
# - The direct loops are the oracle; **im2col** turns the whole layer into one matrix multiply,
#   hundreds of times faster. Its backward is two more matmuls, `dW = dY·colsᵀ` and
#   `dX = col2im(Wᵀ·dY)`, with `col2im` the exact adjoint of `im2col`.
# - `cols` costs `kh·kw` copies of the input, kept from forward to backward: measured, it is most
#   of a conv layer's memory. Module 16 takes this clear version and makes it fast (memory
#   layout, blocks of images, fewer copies); the package uses that one when it is there.
# - Max pooling routes each window's gradient to its first maximum; average pooling spreads it;
#   adaptive pooling is two small matrix products.
# - Batch norm uses batch statistics (biased variance) in training and running statistics
#   (updated with the unbiased variance) in eval, kept as buffers in `state_dict`.
# - Next: the 1998 milestone (`tito milestone run 1998_cnn`) puts these layers to work on real
#   images; module 10 (tokenization) turns from images to text, the first step to a language model.
