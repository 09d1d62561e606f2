# Generated from modules/09_spatial/spatial.py by `tito export`. Do not edit: edit the module.

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
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


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
    cols = np.empty((channels, g.kh, g.kw, n, g.oh, g.ow), dtype=xp.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            cols[:, i, j] = tap_view(xp, g, i, j).transpose(1, 0, 2, 3)
    return cols.reshape(channels * g.kh * g.kw, n * g.oh * g.ow)


def col2im(cols: np.ndarray, g: Geometry, n: int) -> np.ndarray:
    """Adjoint of im2col: cols (C*kh*kw, n*oh*ow) -> padded (n, C, hp, wp), overlapping taps summed."""
    # Hint: xp = np.zeros((n, g.c, g.hp, g.wp), dtype=cols.dtype); view cols as
    #       (g.c, g.kh, g.kw, n, g.oh, g.ow); for every tap (i, j): view = tap_view(xp, g, i, j),
    #       then view += block (i, j) with its first two axes swapped. The view shares xp's
    #       memory, so the sum lands in xp. Taps overlap: it must be +=, never =.
    xp = np.zeros((n, g.c, g.hp, g.wp), dtype=cols.dtype)
    blocks = cols.reshape(g.c, g.kh, g.kw, n, g.oh, g.ow)
    for i in range(g.kh):
        for j in range(g.kw):
            view = tap_view(xp, g, i, j)
            view += blocks[:, i, j].transpose(1, 0, 2, 3)
    return xp


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
        cols = im2col(pad(x, g), g)
        k, length = cols.shape
        w = weight.reshape(groups, out_channels // groups, k // groups)
        y = matmul_arrays(w, cols.reshape(groups, k // groups, length)).reshape(out_channels, g.n, g.oh, g.ow)
        if bias is not None:
            y += bias.reshape(out_channels, 1, 1, 1)
        ctx.save_for_backward(cols, weight)
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


class MaxPool2dFunction(Function):
    """Max over each window; backward routes each window's gradient to its first maximum."""

    @staticmethod
    def forward(ctx, x, g: Geometry):
        flat = pad(x, g, -np.inf)
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
