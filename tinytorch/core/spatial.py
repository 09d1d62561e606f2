# Generated from modules/09_spatial/spatial.py by `tito export`. Do not edit: edit the module.

from __future__ import annotations

import contextlib
import math
import numbers
import threading
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
from tinytorch.core.tensor import Tensor, default_generator


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

    `wrap` selects the stride-1 working layout of section 4 (output rows as long as padded rows).
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
    wrap: bool

    @property
    def hp(self) -> int:
        """Padded height."""
        return self.h + self.top + self.bottom

    @property
    def wp(self) -> int:
        """Padded width."""
        return self.w + self.left + self.right

    @property
    def row(self) -> int:
        """Length of one output row in the working layout (ow, or wp when wrapping)."""
        return self.wp if self.wrap else self.ow

    @property
    def plane(self) -> int:
        """Length of one padded image in the working layout: hp*wp, plus slack for the last taps."""
        return self.hp * self.wp + (self.dw * (self.kw - 1) if self.wrap else 0)


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Positions of a window sliding along one axis: floor((size + 2p - d(k-1) - 1) / s) + 1."""
    # Hint: the dilated kernel spans d*(k-1) + 1 positions; count the starts 0, s, 2s, ... that
    #       leave room for it inside size + 2*padding. (May be <= 0 when it does not fit.)
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _geometry(shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
              where: str, wrap: bool = False) -> Geometry:
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
                    top, bottom, left, right, oh, ow, wrap and stride == (1, 1))


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


_BLOCK_BYTES = 4 << 20  # target size of one block's cols + output (section 4, choice 3)


class Workspace(threading.local):
    """Scratch arrays reused from block to block and step to step (one set per thread).

    A fresh multi-megabyte NumPy array comes from the operating system as new, zeroed pages; asking
    for dozens of them per training step costs more than the copies they hold. Block temporaries
    (cols, the padded input, gradients in the working layout) are taken from here instead. An array
    from get() is valid until the next get() of the same name: never return one to the caller.
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

_UNBUFFERED = 256  # ufunc buffer size (elements) that turns NumPy's buffering off (section 4, choice 5)


@contextlib.contextmanager
def _unbuffered(g: Geometry):
    """Inside this block, ufuncs on g's tap views run without NumPy's internal buffering.

    A ufunc over non-contiguous operands whose contiguous runs are shorter than NumPy's buffer
    (8192 elements) is fed through that buffer: `view += block` on a tap view then makes two extra
    copies and runs 2-3x slower than a plain copy. A buffer no longer than the run switches the
    buffering off. Only for runs of at least _UNBUFFERED elements (short runs gain nothing); the
    old size comes back on exit.
    """
    run = g.oh * g.wp if g.wrap else (g.ow if g.sw == 1 else 0)
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
    """A tap view or cols block (A, B, OH, row) as (A, B, OH*row) in the wrap layout, else unchanged.

    With wrapping, each image's OH rows follow one another in memory, so this is always a view
    (checked: `+=` into a copy would be lost), and `+=` into it lands in `a`'s memory. NumPy
    switches its buffering off (inside _unbuffered) only for such 3-D views with long runs.
    """
    if not g.wrap:
        return a
    merged = a.reshape(a.shape[0], a.shape[1], -1)
    assert np.may_share_memory(merged, a), "_merge_rows must return a view"
    return merged


def pad_flat(x: np.ndarray, g: Geometry, fill: float = 0.0, channel_major: bool = True,
             out: np.ndarray | None = None) -> np.ndarray:
    """(n, C, H, W) -> padded, flattened working layout (C, n, g.plane) (or (n, C, g.plane)), in `out` if given."""
    n = x.shape[0]
    shape = (g.c, n, g.plane) if channel_major else (n, g.c, g.plane)
    flat = np.empty(shape, dtype=x.dtype) if out is None else out
    flat.fill(fill)
    grid = flat[:, :, :g.hp * g.wp].reshape(shape[0], shape[1], g.hp, g.wp)
    grid[:, :, g.top:g.top + g.h, g.left:g.left + g.w] = x.transpose(1, 0, 2, 3) if channel_major else x
    return flat


def unpad(flat: np.ndarray, g: Geometry) -> np.ndarray:
    """The unpadded (A, B, H, W) view of a working-layout array (A, B, g.plane): pad_flat's inverse."""
    grid = flat[:, :, :g.hp * g.wp].reshape(flat.shape[0], flat.shape[1], g.hp, g.wp)
    return grid[:, :, g.top:g.top + g.h, g.left:g.left + g.w]


def tap_view(flat: np.ndarray, g: Geometry, i: int, j: int) -> np.ndarray:
    """View (A, B, oh, g.row) of the values that kernel tap (i, j) meets at every output position."""
    a, b = flat.shape[:2]
    if g.wrap:  # stride 1: OH rows of length wp, one contiguous run per image
        start = i * g.dh * g.wp + j * g.dw
        return flat[:, :, start:start + g.oh * g.wp].reshape(a, b, g.oh, g.wp)
    grid = flat[:, :, :g.hp * g.wp].reshape(a, b, g.hp, g.wp)
    r0, c0 = i * g.dh, j * g.dw
    return grid[:, :, r0:r0 + g.sh * (g.oh - 1) + 1:g.sh, c0:c0 + g.sw * (g.ow - 1) + 1:g.sw]


def im2col(flat: np.ndarray, g: Geometry, out: np.ndarray | None = None) -> np.ndarray:
    """Working layout (C, n, plane) -> cols (C*kh*kw, n*oh*row): row (c, i, j) is tap (i, j) of channel c.

    Written into `out` (a contiguous array of that size) when given.
    """
    channels, n = flat.shape[:2]
    # Hint: cols = an array of shape (channels, g.kh, g.kw, n, g.oh, g.row): new (np.empty, the
    #       input's dtype), or `out` reshaped to that shape; for every tap (i, j) copy
    #       tap_view(flat, g, i, j) into cols[:, i, j]; return it reshaped to
    #       (channels * g.kh * g.kw, n * g.oh * g.row) (a view: no copy).
    shape = (channels, g.kh, g.kw, n, g.oh, g.row)
    cols = np.empty(shape, dtype=flat.dtype) if out is None else out.reshape(shape)
    for i in range(g.kh):
        for j in range(g.kw):
            cols[:, i, j] = tap_view(flat, g, i, j)
    return cols.reshape(channels * g.kh * g.kw, n * g.oh * g.row)


def col2im(cols: np.ndarray, g: Geometry, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """Adjoint of im2col: (C*kh*kw, n*oh*row) -> working layout (C, n, plane), overlaps summed (into `out`)."""
    # Hint: flat = zeros of shape (g.c, n, g.plane) (or `out` filled with 0); view cols as
    #       (g.c, g.kh, g.kw, n, g.oh, g.row); for every tap, add block [:, i, j] into
    #       tap_view(flat, ...) with += (a view: the sum lands in flat). Taps overlap, so it must be
    #       +=, never =. For speed (section 4, choice 5) run the loop inside
    #       `with _unbuffered(g):` and pass both sides of each += through _merge_rows(..., g).
    flat = np.empty((g.c, n, g.plane), dtype=cols.dtype) if out is None else out
    flat.fill(0)
    blocks = cols.reshape(g.c, g.kh, g.kw, n, g.oh, g.row)
    with _unbuffered(g):
        for i in range(g.kh):
            for j in range(g.kw):
                view = _merge_rows(tap_view(flat, g, i, j), g)
                view += _merge_rows(blocks[:, i, j], g)
    return flat


def _blocks(g: Geometry, out_channels: int, itemsize: int) -> list[tuple[int, int]]:
    """[(start, stop), ...] image ranges whose cols (C*kh*kw rows) and output (O rows) fit in _BLOCK_BYTES."""
    per_image = (g.c * g.kh * g.kw + out_channels) * g.oh * g.row * itemsize
    step = max(1, min(g.n, _BLOCK_BYTES // max(per_image, 1)))
    return [(start, min(start + step, g.n)) for start in range(0, g.n, step)]


def conv2d_forward_block(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry,
                         groups: int, out: np.ndarray) -> None:
    """Convolve a block of images x (n, C, H, W) into out (n, O, OH, OW), in place."""
    n, out_channels = x.shape[0], weight.shape[0]
    k, length = g.c * g.kh * g.kw, n * g.oh * g.row  # cols is (k, length)
    # Hint: flat = pad_flat(x, g, out=workspace.get("flat", (g.c, n, g.plane), x.dtype));
    #       cols = im2col(flat, g, out=workspace.get("cols", (k, length), x.dtype));
    #       w = weight viewed as (groups, O/groups, k/groups); y = np.matmul(w, cols viewed as
    #       (groups, k/groups, length), out=workspace.get("y", (groups, O/groups, length), x.dtype));
    #       view y as (O, n, g.oh, g.row), keep the first g.ow columns, transpose to (n, O, OH, OW),
    #       and write it into out, adding bias.reshape(O, 1, 1) if there is a bias
    #       (np.add(..., out=out) does both in one pass).
    flat = pad_flat(x, g, out=workspace.get("flat", (g.c, n, g.plane), x.dtype))
    cols = im2col(flat, g, out=workspace.get("cols", (k, length), x.dtype))
    w = weight.reshape(groups, out_channels // groups, k // groups)
    y = np.matmul(w, cols.reshape(groups, k // groups, length),
                  out=workspace.get("y", (groups, out_channels // groups, length), x.dtype))
    y = y.reshape(out_channels, n, g.oh, g.row)[:, :, :, :g.ow].transpose(1, 0, 2, 3)
    if bias is None:
        out[...] = y
    else:
        np.add(y, bias.reshape(out_channels, 1, 1), out=out)


def conv2d_backward_block(x: np.ndarray, weight: np.ndarray, grad_out: np.ndarray, g: Geometry, groups: int,
                          need_weight: bool, need_input: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Gradients for a block: (dL/dweight from these images, dL/dx (n, C, H, W)); None where not needed.

    dL/dx is a view into the workspace: copy it before the next block.
    """
    n, out_channels = x.shape[0], weight.shape[0]
    k, length = g.c * g.kh * g.kw, n * g.oh * g.row
    # Hint: 1. dy = workspace.get("dy", (O, n, g.oh, g.row), x.dtype); zero its garbage columns
    #          (dy[..., g.ow:] = 0) and copy grad_out transposed to (O, n, OH, OW) into the first
    #          g.ow; view it as (groups, O/groups, length).
    #       2. Weight: rebuild cols exactly as in forward, viewed as (groups, k/groups, length);
    #          dW^T = np.matmul(cols, dy.transpose(0, 2, 1)) is (groups, k/groups, O/groups);
    #          transpose its last two axes and reshape to weight.shape.
    #       3. Input: dcols = np.matmul(w.transpose(0, 2, 1), dy, out=workspace.get("dcols",
    #          (groups, k/groups, length), x.dtype)) with w = weight as (groups, O/groups, k/groups);
    #          flat = col2im(dcols viewed as (k, length), g, n, out=workspace.get("dflat",
    #          (g.c, n, g.plane), x.dtype)); dx = unpad(flat, g) is (C, n, H, W): transpose it.
    dy = workspace.get("dy", (out_channels, n, g.oh, g.row), x.dtype)
    dy[:, :, :, g.ow:] = 0
    dy[:, :, :, :g.ow] = grad_out.transpose(1, 0, 2, 3)
    dy = dy.reshape(groups, out_channels // groups, length)
    grad_weight = grad_x = None
    if need_weight:
        flat = pad_flat(x, g, out=workspace.get("flat", (g.c, n, g.plane), x.dtype))
        cols = im2col(flat, g, out=workspace.get("cols", (k, length), x.dtype))
        cols = cols.reshape(groups, k // groups, length)
        grad_weight = np.matmul(cols, dy.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(weight.shape)
    if need_input:
        w = weight.reshape(groups, out_channels // groups, k // groups)
        dcols = np.matmul(w.transpose(0, 2, 1), dy, out=workspace.get("dcols", (groups, k // groups, length),
                                                                      x.dtype))
        flat = col2im(dcols.reshape(k, length), g, n, out=workspace.get("dflat", (g.c, n, g.plane), x.dtype))
        grad_x = unpad(flat, g).transpose(1, 0, 2, 3)
    return grad_weight, grad_x


class Conv2dFunction(Function):
    """2-D convolution with its own backward: im2col + matmul, block by block (section 5)."""

    @staticmethod
    def forward(ctx, x, weight, bias, g: Geometry, groups: int):
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.groups = g, groups
        out = np.empty((g.n, weight.shape[0], g.oh, g.ow), dtype=x.dtype)
        for start, stop in _blocks(g, weight.shape[0], x.dtype.itemsize):
            conv2d_forward_block(x[start:stop], weight, bias, g, groups, out[start:stop])
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        g, groups = ctx.geometry, ctx.groups
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = np.empty_like(x) if need_x else None
        grad_w = np.zeros_like(weight) if need_w else None
        if need_x or need_w:
            for start, stop in _blocks(g, weight.shape[0], x.dtype.itemsize):
                dw, dx = conv2d_backward_block(x[start:stop], weight, grad_output[start:stop], g, groups,
                                               need_w, need_x)
                if need_w:
                    grad_w += dw
                if need_x:
                    grad_x[start:stop] = dx
        grad_b = grad_output.sum(axis=(0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None, None


def _conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation, groups: int,
            where: str) -> Tensor:
    """Check everything, then run Conv2dFunction (3-D input = one unbatched image, as in PyTorch)."""
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
    pad = _padding(padding, (kh, kw), stride, dilation, where)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    g = _geometry(tuple(x.shape), (kh, kw), stride, pad, dilation, where, wrap=True)
    out = Conv2dFunction.apply(x, weight, bias, g, int(groups))
    return out.squeeze(0) if unbatched else out


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution, like torch.nn.functional.conv2d. (N, C, H, W) -> (N, O, OH, OW).

    weight: (O, C/groups, kh, kw); bias: (O,) or None; stride/dilation: int or pair;
    padding: int, pair, 'valid' or 'same'.
    """
    return _conv2d(input, weight, bias, stride, padding, dilation, groups, "conv2d")


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
        kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = _calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            uniform_(self.bias, -bound, bound)

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


def _pool_input(x: np.ndarray, g: Geometry, fill: float) -> np.ndarray:
    """x (N, C, H, W) in the (N, C, plane) working layout: a view when there is no padding."""
    if g.top or g.bottom or g.left or g.right:
        return pad_flat(x, g, fill, channel_major=False)
    return x.reshape(g.n, g.c, g.h * g.w)


class MaxPool2dFunction(Function):
    """Max over each window; backward routes each window's gradient to its first maximum."""

    @staticmethod
    def forward(ctx, x, g: Geometry):
        flat = _pool_input(x, g, -np.inf)
        # Hint: out = a copy of tap (0, 0)'s view; then np.maximum(out, view, out=out) for every
        #       other tap. Save what backward needs: ctx.save_for_backward(flat, out).
        out = None
        for i in range(g.kh):
            for j in range(g.kw):
                view = tap_view(flat, g, i, j)
                if out is None:
                    out = view.copy()
                else:
                    np.maximum(out, view, out=out)
        ctx.save_for_backward(flat, out)
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


class AvgPool2dFunction(Function):
    """Mean over each window (divisor: the window size, the real pixels in it, or an override)."""

    @staticmethod
    def forward(ctx, x, g: Geometry, divisor):
        flat = _pool_input(x, g, 0.0)
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
        grad = np.zeros((g.n, g.c, g.plane), dtype=share.dtype)
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
    out = MaxPool2dFunction.apply(x, g)
    return out.squeeze(0) if unbatched else out


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
        out = MaxPool2dFunction.apply(x, g)
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
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                factor = 1.0 / int(self.num_batches_tracked.item())
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
    rng = generator or default_generator()
    shape = input.shape[:2] + (1, 1)
    if p == 1:
        mask = np.zeros(shape, dtype=input.dtype)
    else:
        mask = (rng.random(shape, dtype=np.float32) >= p).astype(input.dtype) / input.dtype.type(1 - p)
    return input * Tensor(mask.astype(input.dtype, copy=False))


class Dropout2d(Module):
    """Channel dropout with probability p in training mode; identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_probability(p, "Dropout2d")

    def forward(self, x: Tensor) -> Tensor:
        return dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
