"""Convolution, pooling, resampling and batch normalisation as differentiable ops (``torch.nn.functional``).

The native kernels run forward and backward. Each backward rule is itself built from the
differentiable ops of this module, so gradients of gradients flow: the input-gradient of a
convolution is a transposed convolution, whose gradients are a convolution and a
weight-gradient, and so on (WGAN-GP critics need this).
"""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .._autograd_engine import _mode
from ..autograd import Function
from ..backend import array_module_of
from ..tensor import Tensor, _make

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
           "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_unpool2d",
           "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "batch_norm"]


# ---------------------------------------------------------------------------- argument helpers

def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _ntuple(v, n, name, fn, allow_none=False):
    if _is_int(v):
        return (int(v),) * n
    if allow_none and v is None:
        return (None,) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(_is_int(e) or (allow_none and e is None) for e in v):
        return tuple(None if e is None else int(e) for e in v)
    raise TypeError(f"{fn}: argument '{name}' must be an int or a sequence of {n} ints, got {v!r}")


def _check_tensor(x, name, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(x).__name__}")


def _wrap(a):
    return Tensor._wrap(a)


def _batched(input, fn, spatial):
    """(input as a batch, whether a batch dim was added): PyTorch accepts unbatched inputs."""
    _check_tensor(input, "input", fn)
    if input.ndim == spatial + 2:
        return input, False
    if input.ndim == spatial + 1:
        return input.unsqueeze(0), True
    raise ValueError(f"{fn}: expected {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
                     f"got shape {tuple(input.shape)}")


# ---------------------------------------------------------------------------- convolution

class _Geom:
    """A convolution's geometry: input (H, W), output (OH, OW), kernel, stride, top/left padding, dilation, groups."""

    __slots__ = ("in_hw", "out_hw", "k", "stride", "pad", "dil", "groups")

    def __init__(self, in_hw, out_hw, k, stride, pad, dil, groups):
        self.in_hw, self.out_hw, self.k = tuple(in_hw), tuple(out_hw), tuple(k)
        self.stride, self.pad, self.dil, self.groups = tuple(stride), tuple(pad), tuple(dil), groups

    def pad4(self):
        """(top, bottom, left, right) padding that makes the forward produce exactly out_hw (bottom/right may be < 0)."""
        pads = []
        for i in range(2):
            end = (self.out_hw[i] - 1) * self.stride[i] + self.dil[i] * (self.k[i] - 1) + 1 - self.in_hw[i] - self.pad[i]
            pads += [self.pad[i], end]
        return pads


def _conv_forward(x, w, b, g):
    pt, pb, pl, pr = g.pad4()
    y = kernels.conv2d(x, w, b, g.stride, (pt, max(pb, 0), pl, max(pr, 0)), g.dil, g.groups)
    if y.shape[2] != g.out_hw[0] or y.shape[3] != g.out_hw[1]:
        # The output rows/columns past out_hw never reach the input: crop them.
        y = array_module_of(y).ascontiguousarray(y[:, :, :g.out_hw[0], :g.out_hw[1]])
    return y


def _bias_grad(gy):
    """The bias gradient, gy summed over N, H and W: on the GEMM unless the gradient's graph is recorded."""
    if _mode.enabled:
        return gy.sum(dim=(0, 2, 3))
    return _wrap(kernels.sum_outer_inner(gy._data, 1, 1))


class _Conv2d(Function):
    @staticmethod
    def forward(ctx, x, w, b, g):
        ctx.g = g
        ctx.save_for_backward(x, w)
        return _wrap(_conv_forward(x._data, w._data, None if b is None else b._data, g))

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        g = ctx.g
        nx, nw, nb = ctx.needs_input_grad[:3]
        gx = _ConvInputGrad.apply(gy, w, g) if nx else None
        gw = _ConvWeightGrad.apply(x, gy, g) if nw else None
        gb = _bias_grad(gy) if nb else None
        return gx, gw, gb, None


class _ConvGrad(Function):
    """A convolution gradient as a differentiable op of its two tensor inputs ``(a, b)`` (bilinear in
    them), so that double backward works: ``_kernel`` computes it, ``_grad_a``/``_grad_b`` give the
    gradients of <gout, op(a, b)> with respect to a and b as further ops."""

    @classmethod
    def forward(cls, ctx, a, b, g):
        ctx.g = g
        ctx.save_for_backward(a, b)
        return _wrap(cls._kernel(a._data, b._data, g))

    @classmethod
    def backward(cls, ctx, gout):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad[:2]
        return (cls._grad_a(gout, a, b, ctx.g) if na else None,
                cls._grad_b(gout, a, b, ctx.g) if nb else None, None)


class _ConvInputGrad(_ConvGrad):
    """dx = adjoint of conv(., w) applied to gy (inputs gy, w): also the forward of conv_transpose2d."""

    @staticmethod
    def _kernel(gy, w, g):
        return kernels.conv2d_backward_input(gy, w, g.in_hw, g.stride, g.pad, g.dil, g.groups)

    @staticmethod
    def _grad_a(ggx, gy, w, g):
        return _Conv2d.apply(ggx, w, None, g)

    @staticmethod
    def _grad_b(ggx, gy, w, g):
        return _ConvWeightGrad.apply(ggx, gy, g)


class _ConvWeightGrad(_ConvGrad):
    """dw = gradient of <gy, conv(x, w)> with respect to w (inputs x, gy)."""

    @staticmethod
    def _kernel(x, gy, g):
        return kernels.conv2d_backward_weight(x, gy, g.k, g.stride, g.pad, g.dil, g.groups)

    @staticmethod
    def _grad_a(ggw, x, gy, g):
        return _ConvInputGrad.apply(gy, ggw, g)

    @staticmethod
    def _grad_b(ggw, x, gy, g):
        return _Conv2d.apply(x, ggw, None, g)


def _conv_padding(padding, k, dil, stride, fn):
    """(top, bottom, left, right) from an int, a pair, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions (stride={stride})")
            out = []
            for i in range(2):
                total = dil[i] * (k[i] - 1)
                out += [total // 2, total - total // 2]
            return tuple(out)
        raise ValueError(f"{fn}: invalid padding string {padding!r}, should be one of 'valid' or 'same'")
    ph, pw = _ntuple(padding, 2, "padding", fn)
    if ph < 0 or pw < 0:
        raise ValueError(f"{fn}: argument 'padding' must be non-negative, got {padding!r}")
    return (ph, ph, pw, pw)


def _check_conv_args(stride, dil, groups, fn):
    if any(s < 1 for s in stride):
        raise ValueError(f"{fn}: argument 'stride' must be positive, got {stride}")
    if any(d < 1 for d in dil):
        raise ValueError(f"{fn}: argument 'dilation' must be positive, got {dil}")
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{fn}: argument 'groups' must be a positive int, got {groups!r}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of (N, C, H, W) or (C, H, W) ``input`` with (OC, C/groups, KH, KW) ``weight``."""
    fn = "conv2d"
    x, unbatched = _batched(input, fn, 2)
    _check_tensor(weight, "weight", fn)
    if bias is not None:
        _check_tensor(bias, "bias", fn)
    if weight.ndim != 4:
        raise ValueError(f"{fn}: argument 'weight' must be 4-D (out_channels, in_channels/groups, kH, kW), "
                         f"got shape {tuple(weight.shape)}")
    stride = _ntuple(stride, 2, "stride", fn)
    dil = _ntuple(dilation, 2, "dilation", fn)
    _check_conv_args(stride, dil, groups, fn)
    k = tuple(weight.shape[2:])
    pad = _conv_padding(padding, k, dil, stride, fn)
    b = None if bias is None else bias._data
    h, w_ = x.shape[2], x.shape[3]
    oh, ow = kernels.conv2d_output_size((h, w_), k, stride, pad, dil)
    recording = _mode.enabled and (x._requires_grad or weight._requires_grad
                                   or (bias is not None and bias._requires_grad))
    if not recording or oh < 1 or ow < 1:
        # Without a graph (or to raise the binding's message about a too-small input).
        out = _wrap(kernels.conv2d(x._data, weight._data, b, stride, pad, dil, groups))
    if recording:
        g = _Geom((h, w_), (oh, ow), k, stride, (pad[0], pad[2]), dil, groups)
        out = _Conv2d.apply(x, weight, bias, g)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of (N, C, L) or (C, L) ``input`` with (OC, C/groups, K) ``weight``: the H == 1 case of conv2d."""
    fn = "conv1d"
    x, unbatched = _batched(input, fn, 1)
    _check_tensor(weight, "weight", fn)
    if weight.ndim != 3:
        raise ValueError(f"{fn}: argument 'weight' must be 3-D (out_channels, in_channels/groups, kW), "
                         f"got shape {tuple(weight.shape)}")
    (s,) = _ntuple(stride, 1, "stride", fn)
    (d,) = _ntuple(dilation, 1, "dilation", fn)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{fn}: invalid padding string {padding!r}, should be one of 'valid' or 'same'")
        if padding == "same" and s != 1:
            raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions (stride={s})")
        pad2 = padding
    else:
        (p,) = _ntuple(padding, 1, "padding", fn)
        pad2 = (0, p)
    # With H == 1 and a one-row kernel, 'same' and 'valid' add no rows.
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), pad2, (1, d), groups).squeeze(2)
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution: ``weight`` is (C_in, C_out/groups, KH, KW); the adjoint of conv2d."""
    fn = "conv_transpose2d"
    x, unbatched = _batched(input, fn, 2)
    _check_tensor(weight, "weight", fn)
    if bias is not None:
        _check_tensor(bias, "bias", fn)
    if weight.ndim != 4:
        raise ValueError(f"{fn}: argument 'weight' must be 4-D (in_channels, out_channels/groups, kH, kW), "
                         f"got shape {tuple(weight.shape)}")
    stride = _ntuple(stride, 2, "stride", fn)
    dil = _ntuple(dilation, 2, "dilation", fn)
    pad = _ntuple(padding, 2, "padding", fn)
    opad = _ntuple(output_padding, 2, "output_padding", fn)
    _check_conv_args(stride, dil, groups, fn)
    if any(p < 0 for p in pad) or any(p < 0 for p in opad):
        raise ValueError(f"{fn}: 'padding' {pad} and 'output_padding' {opad} must be non-negative")
    for i in range(2):
        if opad[i] >= stride[i] and opad[i] >= dil[i]:
            raise ValueError(f"{fn}: output padding must be smaller than either stride or dilation, got "
                             f"output_padding={opad}, stride={stride}, dilation={dil}")
    cin = x.shape[1]
    if weight.shape[0] != cin:
        raise ValueError(f"{fn}: 'input' {tuple(x.shape)} has {cin} channels but 'weight' {tuple(weight.shape)} "
                         f"expects {weight.shape[0]} (dim 0)")
    if cin % groups != 0:
        raise ValueError(f"{fn}: in_channels ({cin}) must be divisible by groups ({groups})")
    k = tuple(weight.shape[2:])
    h, w_ = x.shape[2], x.shape[3]
    out_hw = kernels.conv_transpose2d_output_size((h, w_), k, stride, pad, opad, dil)
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise ValueError(f"{fn}: calculated output size {out_hw} of 'input' {tuple(x.shape)} with kernel {k}, "
                         f"stride {stride}, padding {pad}, dilation {dil} is too small")
    if bias is not None and tuple(bias.shape) != (weight.shape[1] * groups,):
        raise ValueError(f"{fn}: argument 'bias' must have shape ({weight.shape[1] * groups},), "
                         f"got {tuple(bias.shape)}")
    # As a convolution: its input is our output (out_hw) and its output is our input.
    g = _Geom(out_hw, (h, w_), k, stride, pad, dil, groups)
    y = _ConvInputGrad.apply(x, weight, g)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    fn = "conv_transpose1d"
    x, unbatched = _batched(input, fn, 1)
    _check_tensor(weight, "weight", fn)
    if weight.ndim != 3:
        raise ValueError(f"{fn}: argument 'weight' must be 3-D, got shape {tuple(weight.shape)}")
    (s,) = _ntuple(stride, 1, "stride", fn)
    (p,) = _ntuple(padding, 1, "padding", fn)
    (op,) = _ntuple(output_padding, 1, "output_padding", fn)
    (d,) = _ntuple(dilation, 1, "dilation", fn)
    y = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p), (0, op), groups, (1, d))
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


# ---------------------------------------------------------------------------- pooling

class _PoolScatter(Function):
    """(N, C, H, W) zeros with ``g`` added at the flat plane positions ``idx``: the backward of max pooling."""

    @staticmethod
    def forward(ctx, g, idx, in_hw):
        ctx.save_for_backward(idx)
        return _wrap(kernels.max_pool2d_backward(g._data, idx._data, in_hw))

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        return _PoolGather.apply(gg, idx), None, None


class _PoolGather(Function):
    """``x`` read at the flat plane positions ``idx``; its adjoint is _PoolScatter."""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.save_for_backward(idx)
        ctx.in_hw = x.shape[2:]
        n, c = x.shape[:2]
        flat = x._data.reshape(n, c, -1)
        out = np.take_along_axis(flat, idx._data.reshape(n, c, -1), axis=2).reshape(idx.shape)
        return _wrap(out)

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        return _PoolScatter.apply(gg, idx, ctx.in_hw), None


class _MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, pad, dil, ceil_mode):
        y, idx = kernels.max_pool2d(x._data, kernel, stride, pad, dil, ceil_mode, True)
        ctx.in_hw = x.shape[2:]
        idx_t = _wrap(idx)
        ctx.save_for_backward(idx_t)
        ctx.mark_non_differentiable(idx_t)
        return _wrap(y), idx_t

    @staticmethod
    def backward(ctx, gy, _gidx=None):
        (idx,) = ctx.saved_tensors
        return _PoolScatter.apply(gy, idx, ctx.in_hw), None, None, None, None, None


def _pool_args(kernel_size, stride, padding, dilation, fn):
    k = _ntuple(kernel_size, 2, "kernel_size", fn)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else \
        _ntuple(stride, 2, "stride", fn)
    p = _ntuple(padding, 2, "padding", fn)
    d = _ntuple(dilation, 2, "dilation", fn)
    return k, s, p, d


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling; ``return_indices`` gives flat positions h * W + w in each plane, as PyTorch does."""
    fn = "max_pool2d"
    x, unbatched = _batched(input, fn, 2)
    k, s, p, d = _pool_args(kernel_size, stride, padding, dilation, fn)
    if _mode.enabled and x._requires_grad:
        y, idx = _MaxPool2d.apply(x, k, s, p, d, bool(ceil_mode))
    else:
        ya, ia = kernels.max_pool2d(x._data, k, s, p, d, ceil_mode, return_indices)
        y, idx = _wrap(ya), (None if ia is None else _wrap(ia))
    if unbatched:
        y = y.squeeze(0)
        idx = None if idx is None else idx.squeeze(0)
    return (y, idx) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    fn = "max_pool1d"
    x, unbatched = _batched(input, fn, 1)
    (k,) = _ntuple(kernel_size, 1, "kernel_size", fn)
    s = k if stride is None else _ntuple(stride, 1, "stride", fn)[0]
    (p,) = _ntuple(padding, 1, "padding", fn)
    (d,) = _ntuple(dilation, 1, "dilation", fn)
    res = max_pool2d(x.unsqueeze(2), (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        y, idx = res[0].squeeze(2), res[1].squeeze(2)
        return (y.squeeze(0), idx.squeeze(0)) if unbatched else (y, idx)
    y = res.squeeze(2)
    return y.squeeze(0) if unbatched else y


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place ``input`` at ``indices`` (from max_pool2d) in zero planes of the pre-pooling size."""
    fn = "max_unpool2d"
    x, unbatched = _batched(input, fn, 2)
    _check_tensor(indices, "indices", fn)
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1, fn)
    if output_size is None:
        hw = kernels.conv_transpose2d_output_size(x.shape[2:], k, s, p)
    else:
        hw = tuple(output_size)[-2:]
    idx = indices.unsqueeze(0) if unbatched else indices
    if tuple(idx.shape) != tuple(x.shape):
        raise ValueError(f"{fn}: argument 'indices' must have the shape of 'input' {tuple(input.shape)}, got "
                         f"{tuple(indices.shape)}")
    if idx.numel():
        lo, hi = int(idx._data.min()), int(idx._data.max())
        if lo < 0 or hi >= hw[0] * hw[1]:
            raise IndexError(f"{fn}: Found an invalid max index: indices must be in [0, {hw[0] * hw[1]}) for an "
                             f"output plane of {hw[0]}x{hw[1]}, got values in [{lo}, {hi}]")
    y = _PoolScatter.apply(x, idx, hw)
    return y.squeeze(0) if unbatched else y


class _AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, args):
        ctx.args = args
        ctx.in_hw = x.shape[2:]
        k, s, p, ceil_mode, cip, div = args
        return _wrap(kernels.avg_pool2d(x._data, k, s, p, ceil_mode, cip, div))

    @staticmethod
    def backward(ctx, gy):
        return _AvgPool2dBackward.apply(gy, ctx.args, ctx.in_hw), None


class _AvgPool2dBackward(Function):
    @staticmethod
    def forward(ctx, gy, args, in_hw):
        ctx.args = args
        k, s, p, ceil_mode, cip, div = args
        return _wrap(kernels.avg_pool2d_backward(gy._data, in_hw, k, s, p, ceil_mode, cip, div))

    @staticmethod
    def backward(ctx, gg):
        return _AvgPool2d.apply(gg, ctx.args), None, None


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    fn = "avg_pool2d"
    x, unbatched = _batched(input, fn, 2)
    k, s, p, _ = _pool_args(kernel_size, stride, padding, 1, fn)
    if divisor_override is not None and (not _is_int(divisor_override) or divisor_override == 0):
        raise ValueError(f"{fn}: argument 'divisor_override' must be a non-zero int, got {divisor_override!r}")
    args = (k, s, p, bool(ceil_mode), bool(count_include_pad), divisor_override)
    if _mode.enabled and x._requires_grad:
        y = _AvgPool2d.apply(x, args)
    else:
        y = _wrap(kernels.avg_pool2d(x._data, k, s, p, ceil_mode, count_include_pad, divisor_override))
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    fn = "avg_pool1d"
    x, unbatched = _batched(input, fn, 1)
    (k,) = _ntuple(kernel_size, 1, "kernel_size", fn)
    s = k if stride is None else _ntuple(stride, 1, "stride", fn)[0]
    (p,) = _ntuple(padding, 1, "padding", fn)
    y = avg_pool2d(x.unsqueeze(2), (1, k), (1, s), (0, p), ceil_mode, count_include_pad).squeeze(2)
    return y.squeeze(0) if unbatched else y


def _adaptive_size(output_size, in_hw, fn):
    out = _ntuple(output_size, 2, "output_size", fn, allow_none=True)
    out = tuple(in_hw[i] if out[i] is None else out[i] for i in range(2))
    if out[0] < 1 or out[1] < 1:
        raise ValueError(f"{fn}: argument 'output_size' must be positive, got {output_size!r}")
    return out


class _AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, out_hw):
        ctx.out_hw, ctx.in_hw = out_hw, x.shape[2:]
        return _wrap(kernels.adaptive_avg_pool2d(x._data, out_hw))

    @staticmethod
    def backward(ctx, gy):
        return _AdaptiveAvgPool2dBackward.apply(gy, ctx.in_hw), None


class _AdaptiveAvgPool2dBackward(Function):
    @staticmethod
    def forward(ctx, gy, in_hw):
        ctx.out_hw = gy.shape[2:]
        return _wrap(kernels.adaptive_avg_pool2d_backward(gy._data, in_hw))

    @staticmethod
    def backward(ctx, gg):
        return _AdaptiveAvgPool2d.apply(gg, ctx.out_hw), None


def adaptive_avg_pool2d(input, output_size):
    fn = "adaptive_avg_pool2d"
    x, unbatched = _batched(input, fn, 2)
    out_hw = _adaptive_size(output_size, x.shape[2:], fn)
    if _mode.enabled and x._requires_grad:
        y = _AdaptiveAvgPool2d.apply(x, out_hw)
    else:
        y = _wrap(kernels.adaptive_avg_pool2d(x._data, out_hw))
    return y.squeeze(0) if unbatched else y


def adaptive_avg_pool1d(input, output_size):
    fn = "adaptive_avg_pool1d"
    x, unbatched = _batched(input, fn, 1)
    (o,) = _ntuple(output_size, 1, "output_size", fn)
    y = adaptive_avg_pool2d(x.unsqueeze(2), (1, o)).squeeze(2)
    return y.squeeze(0) if unbatched else y


class _AdaptiveMaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, out_hw):
        y, idx = kernels.adaptive_max_pool2d(x._data, out_hw, True)
        ctx.in_hw = x.shape[2:]
        idx_t = _wrap(idx)
        ctx.save_for_backward(idx_t)
        ctx.mark_non_differentiable(idx_t)
        return _wrap(y), idx_t

    @staticmethod
    def backward(ctx, gy, _gidx=None):
        (idx,) = ctx.saved_tensors
        return _PoolScatter.apply(gy, idx, ctx.in_hw), None


def adaptive_max_pool2d(input, output_size, return_indices=False):
    fn = "adaptive_max_pool2d"
    x, unbatched = _batched(input, fn, 2)
    out_hw = _adaptive_size(output_size, x.shape[2:], fn)
    if _mode.enabled and x._requires_grad:
        y, idx = _AdaptiveMaxPool2d.apply(x, out_hw)
    else:
        ya, ia = kernels.adaptive_max_pool2d(x._data, out_hw, return_indices)
        y, idx = _wrap(ya), (None if ia is None else _wrap(ia))
    if unbatched:
        y = y.squeeze(0)
        idx = None if idx is None else idx.squeeze(0)
    return (y, idx) if return_indices else y


# ---------------------------------------------------------------------------- resampling

class _Upsample2d(Function):
    @staticmethod
    def forward(ctx, x, mode, out_hw, align_corners, scales):
        ctx.args = (mode, align_corners, scales)
        ctx.in_hw = x.shape[2:]
        return _wrap(kernels.upsample2d(x._data, mode, out_hw, align_corners, scales))

    @staticmethod
    def backward(ctx, gy):
        mode, ac, scales = ctx.args
        return _Upsample2dBackward.apply(gy, mode, ctx.in_hw, ac, scales), None, None, None, None


class _Upsample2dBackward(Function):
    @staticmethod
    def forward(ctx, gy, mode, in_hw, align_corners, scales):
        ctx.args = (mode, align_corners, scales)
        ctx.out_hw = gy.shape[2:]
        return _wrap(kernels.upsample2d_backward(gy._data, mode, in_hw, align_corners, scales))

    @staticmethod
    def backward(ctx, gg):
        mode, ac, scales = ctx.args
        return _Upsample2d.apply(gg, mode, ctx.out_hw, ac, scales), None, None, None, None


_MODES = {"nearest": 0, "linear": 1, "bilinear": 2}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample (N, C, L) with 'nearest'/'linear' or (N, C, H, W) with 'nearest'/'bilinear', as PyTorch does."""
    fn = "interpolate"
    _check_tensor(input, "input", fn)
    if mode not in _MODES:
        raise ValueError(f"{fn}: mode {mode!r} is not supported: use 'nearest', 'linear' (3-D input) or "
                         f"'bilinear' (4-D input)")
    if antialias:
        raise ValueError(f"{fn}: antialias=True is not supported")
    nd = input.ndim
    if nd not in (3, 4):
        raise ValueError(f"{fn}: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape {tuple(input.shape)}")
    spatial = nd - 2
    if mode == "linear" and nd != 3:
        raise ValueError(f"{fn}: mode 'linear' needs a 3-D input, got shape {tuple(input.shape)}")
    if mode == "bilinear" and nd != 4:
        raise ValueError(f"{fn}: mode 'bilinear' needs a 4-D input, got shape {tuple(input.shape)}")
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError(f"{fn}: align_corners option can only be set with the interpolating modes: "
                             f"linear | bilinear")
        align_corners = False
    elif align_corners is None:
        align_corners = False
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: exactly one of 'size' and 'scale_factor' must be given")
    in_sz = tuple(input.shape[2:])
    if size is not None:
        out_sz = _ntuple(size, spatial, "size", fn)
        scales = (0.0,) * spatial
    else:
        if isinstance(scale_factor, (tuple, list)):
            if len(scale_factor) != spatial:
                raise ValueError(f"{fn}: 'scale_factor' must have {spatial} values for input of shape "
                                 f"{tuple(input.shape)}, got {scale_factor!r}")
            sf = tuple(float(v) for v in scale_factor)
        else:
            sf = (float(scale_factor),) * spatial
        if any(not (v > 0) for v in sf):
            raise ValueError(f"{fn}: 'scale_factor' must be positive, got {scale_factor!r}")
        out_sz = tuple(int(math.floor(in_sz[i] * sf[i])) for i in range(spatial))
        scales = (0.0,) * spatial if recompute_scale_factor else sf
    if any(o < 1 for o in out_sz):
        raise ValueError(f"{fn}: output size {out_sz} for input of shape {tuple(input.shape)} must be positive")
    x = input
    if nd == 3:
        x = input.unsqueeze(2)
        out_sz, scales, in_sz = (1,) + out_sz, (0.0,) + tuple(scales), (1,) + in_sz
    kmode = "nearest" if mode == "nearest" else "bilinear"
    if _mode.enabled and x._requires_grad:
        y = _Upsample2d.apply(x, kmode, out_sz, bool(align_corners), tuple(scales))
    else:
        y = _wrap(kernels.upsample2d(x._data, kmode, out_sz, bool(align_corners), scales))
    return y.squeeze(2) if nd == 3 else y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------- batch normalisation

_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _native_batch_norm(input, weight, bias, eps):
    """Training-mode batch normalisation as one graph node over the native kernel: ``(y, mean, var)`` (mean and
    var as arrays), or None where the kernel does not apply (other dtypes, parameters of another dtype or
    device). Without ``create_graph`` the backward is the native one; under it, the same gradient written with
    Tensor ops (:func:`_batch_norm_grad`), so gradients of gradients work."""
    x = input._data
    dt = x.dtype
    if dt not in _NATIVE_FLOATS:
        return None
    for p in (weight, bias):
        if p is not None and (p._data.dtype != dt or p._data.__class__ is not x.__class__):
            return None
    shape = x.shape
    N, C = shape[0], shape[1]
    x3 = (x if x.flags.c_contiguous else array_module_of(x).ascontiguousarray(x)).reshape(N, C, -1)
    w = None if weight is None else weight._data
    b = None if bias is None else bias._data
    y, mean, var, rstd = kernels.batch_norm_forward(x3, w, b, float(eps))
    y = y.reshape(shape)
    inputs = (input, weight, bias)
    if not (_mode.enabled and any(t is not None and t._requires_grad for t in inputs)):
        return _wrap(y), mean, var

    def bw(g):
        if _mode.enabled:
            return _batch_norm_grad(g, input, weight, bias, eps)
        gd = g._data
        if gd.dtype != dt:
            gd = gd.astype(dt)
        if not gd.flags.c_contiguous:
            gd = array_module_of(gd).ascontiguousarray(gd)
        mask = tuple(t is not None and t._requires_grad for t in inputs)
        dx, dw, db = kernels.batch_norm_backward(gd.reshape(N, C, -1), x3, mean, rstd, w, mask)
        return (None if dx is None else _wrap(dx.reshape(shape)), None if dw is None else _wrap(dw),
                None if db is None else _wrap(db))
    return _make(y, inputs, bw, "NativeBatchNorm"), mean, var


def _batch_norm_grad(g, input, weight, bias, eps):
    """(dx, dweight, dbias) of training-mode batch normalisation, written with Tensor ops (the statistics
    recomputed from ``input``), so that it is itself differentiable."""
    dims = (0,) + tuple(range(2, input.ndim))
    bshape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    mean = input.mean(dim=dims, keepdim=True)
    centred = input - mean
    rstd = ((centred * centred).mean(dim=dims, keepdim=True) + eps).rsqrt()
    xhat = centred * rstd
    gw = g * weight.reshape(bshape) if weight is not None else g
    dx = rstd * (gw - gw.mean(dim=dims, keepdim=True) - xhat * (gw * xhat).mean(dim=dims, keepdim=True))
    dw = (g * xhat).sum(dim=dims) if weight is not None else None
    return dx, dw, g.sum(dim=dims) if bias is not None else None


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) of (N, C), (N, C, L) or (N, C, H, W) ``input``.

    In training the batch statistics are used (biased variance) and the running buffers, when
    given, move by ``momentum`` towards the batch mean and the unbiased batch variance; otherwise
    the running statistics are used. Training on float32/float64 input is one graph node over the native
    kernel (``_native_batch_norm``); every path is differentiable to any order.
    """
    fn = "batch_norm"
    _check_tensor(input, "input", fn)
    if input.ndim < 2:
        raise ValueError(f"{fn}: expected at least 2-D input (N, C, ...), got shape {tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None:
            _check_tensor(t, name, fn)
            if tuple(t.shape) != (c,):
                raise ValueError(f"{fn}: argument '{name}' must have shape ({c},) for input of shape "
                                 f"{tuple(input.shape)}, got {tuple(t.shape)}")
    dims = (0,) + tuple(range(2, input.ndim))
    bshape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        count = input.numel() // max(c, 1)
        if count <= 1:
            raise ValueError(f"{fn}: expected more than 1 value per channel when training, got input size "
                             f"{tuple(input.shape)}")
        native = _native_batch_norm(input, weight, bias, eps)
        if native is not None:
            y, mean_a, var_a = native
        else:
            mean = input.mean(dim=dims, keepdim=True)
            centred = input - mean
            var = (centred * centred).mean(dim=dims, keepdim=True)
            mean_a, var_a = mean._data, var._data
        if running_mean is not None or running_var is not None:
            m = 0.1 if momentum is None else float(momentum)
            # Buffers are updated in place on their arrays, outside any graph.
            if running_mean is not None:
                bm = mean_a.reshape(c).astype(running_mean._data.dtype, copy=False)
                running_mean._data *= (1.0 - m)
                running_mean._data += m * bm
            if running_var is not None:
                bv = var_a.reshape(c).astype(running_var._data.dtype, copy=False) * (count / (count - 1))
                running_var._data *= (1.0 - m)
                running_var._data += m * bv
        if native is not None:
            return y
        y = centred * (var + eps).rsqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{fn}: running_mean and running_var are required when training=False")
        inv = (running_var.reshape(bshape) + eps).rsqrt()
        y = (input - running_mean.reshape(bshape)) * inv
    if weight is not None:
        y = y * weight.reshape(bshape)
    if bias is not None:
        y = y + bias.reshape(bshape)
    return y

