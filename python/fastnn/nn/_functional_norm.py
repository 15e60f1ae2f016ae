"""Layer, RMS, group (optionally followed by SiLU in the same pass) and instance normalisation (``F.layer_norm``, ``F.rms_norm``, ``F.group_norm``, ``F.group_norm_silu``, ``F.instance_norm``)."""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .._autograd_engine import _mode
from ..autograd import Function
from ..backend import array_module_of
from ..tensor import Tensor, _wrap
from ._functional_activation import silu

__all__ = ["layer_norm", "rms_norm", "group_norm", "group_norm_silu", "instance_norm"]


def _shape_list(shape):
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def normalized_tuple(normalized_shape, fn):
    """``normalized_shape`` (an int or a sequence of ints) as a tuple of ints, PyTorch's error when empty."""
    if isinstance(normalized_shape, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'normalized_shape' must be an int or a sequence of ints, got bool")
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    try:
        shape = tuple(normalized_shape)
    except TypeError:
        raise TypeError(f"{fn}: argument 'normalized_shape' must be an int or a sequence of ints, got "
                        f"{type(normalized_shape).__name__}") from None
    for s in shape:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{fn}: argument 'normalized_shape' must hold ints, got {normalized_shape!r}")
    if len(shape) == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    return tuple(int(s) for s in shape)


def check_norm_args(input, normalized_shape, params, fn, star="*, "):
    """Validate ``input`` and the affine ``params`` ((name, tensor-or-None) pairs) against ``normalized_shape``
    with PyTorch's messages; returns the normalized shape as a tuple."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: argument 'input' must be a Tensor, got {type(input).__name__}")
    shape = normalized_tuple(normalized_shape, fn)
    for name, t in params:
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: argument '{name}' must be a Tensor or None, got {type(t).__name__}")
        if tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{_shape_list(t.shape)} and normalized_shape = {_shape_list(shape)}")
    n = len(shape)
    if input.ndim < n or tuple(input.shape[input.ndim - n:]) != shape:
        raise RuntimeError(f"Given normalized_shape={_shape_list(shape)}, expected input with shape "
                           f"[{star}{', '.join(str(s) for s in shape)}], but got input of size"
                           f"{_shape_list(input.shape)}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"{fn}: expected a floating point input, got dtype {input.dtype}")
    return shape


def _rows(a, C):
    """Array ``a`` as a C-contiguous (rows, C) block (a view when it already is one)."""
    if not a.flags.c_contiguous:
        a = array_module_of(a).ascontiguousarray(a)
    return a.reshape(-1, C)


def _norm_ops(x, weight, bias, n, eps, centered):
    """The normalisation written with Tensor ops (differentiable to any order)."""
    dims = tuple(range(x.ndim - n, x.ndim))
    if x.numel() == 0:
        y = x * 1
    else:
        xc = x - x.mean(dim=dims, keepdim=True) if centered else x
        y = xc * ((xc * xc).mean(dim=dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _norm_backward_ops(gy, x, weight, n, eps, centered, need):
    """(dx, dweight, dbias) of the normalisation as Tensor ops, the statistics recomputed from ``x`` so that
    the gradients are themselves differentiable (gradients of gradients)."""
    dims = tuple(range(x.ndim - n, x.ndim))
    lead = tuple(range(x.ndim - n))
    xc = x - x.mean(dim=dims, keepdim=True) if centered else x
    rstd = ((xc * xc).mean(dim=dims, keepdim=True) + eps).rsqrt()
    xhat = xc * rstd
    dx = dw = db = None
    if need[0]:
        g = gy * weight if weight is not None else gy
        inner = g - xhat * (g * xhat).mean(dim=dims, keepdim=True)
        if centered:
            inner = inner - g.mean(dim=dims, keepdim=True)
        dx = rstd * inner
    if need[1]:
        dw = (gy * xhat).sum(dim=lead) if lead else gy * xhat
    if need[2]:
        db = gy.sum(dim=lead) if lead else gy * 1
    return dx, dw, db


class _Norm(Function):
    """Layer norm (``centered``) or RMS norm over the last ``n`` dims through the norm kernels. The first-order
    backward runs the backward kernel; under ``create_graph`` it is written with Tensor ops instead."""

    @staticmethod
    def forward(ctx, x, weight, bias, n, eps, centered):
        C = math.prod(x.shape[x.ndim - n:])
        x2 = _rows(x._data, C)
        w = None if weight is None else _rows(weight._data, C).reshape(C)
        if centered:
            b = None if bias is None else _rows(bias._data, C).reshape(C)
            y, mean, rstd = kernels.layer_norm_forward(x2, w, b, eps)
        else:
            (y, rstd), mean = kernels.rms_norm_forward(x2, w, eps), None
        ctx.save_for_backward(x, weight)
        ctx.arrays = (x2, w, mean, rstd)
        ctx.n, ctx.eps, ctx.centered = n, eps, centered
        return _wrap(y.reshape(x.shape))

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad[:3]
        if _mode.enabled:
            dx, dw, db = _norm_backward_ops(gy, x, weight, ctx.n, ctx.eps, ctx.centered, need)
            return dx, dw, db, None, None, None
        x2, w, mean, rstd = ctx.arrays
        g2 = _rows(gy._data, x2.shape[1])
        if ctx.centered:
            dx, dw, db = kernels.layer_norm_backward(g2, x2, mean, rstd, w, need)
        else:
            (dx, dw), db = kernels.rms_norm_backward(g2, x2, rstd, w, need[:2]), None
        wshape = x.shape[x.ndim - ctx.n:]
        return (None if dx is None else _wrap(dx.reshape(x.shape)),
                None if dw is None else _wrap(dw.reshape(wshape)),
                None if db is None else _wrap(db.reshape(wshape)), None, None, None)


def _norm(input, weight, bias, n, eps, centered):
    """Through the kernels for float32/float64 with matching parameter dtypes, else with Tensor ops."""
    dt = input.dtype
    if input.numel() == 0 or dt not in (np.float32, np.float64) or \
            any(p is not None and p.dtype != dt for p in (weight, bias)):
        return _norm_ops(input, weight, bias, n, eps, centered)
    return _Norm.apply(input, weight, bias, n, float(eps), centered)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalise over the last ``len(normalized_shape)`` dims to zero mean and unit (biased) variance, then
    scale by ``weight`` and shift by ``bias`` (each of ``normalized_shape``, optional)."""
    shape = check_norm_args(input, normalized_shape, (("weight", weight), ("bias", bias)), "layer_norm")
    return _norm(input, weight, bias, len(shape), eps, True)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Divide by the root mean square over the last ``len(normalized_shape)`` dims (plus ``eps``, the dtype's
    machine epsilon when None), then scale by ``weight`` (optional)."""
    shape = check_norm_args(input, normalized_shape, (("weight", weight),), "rms_norm", star="*")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    return _norm(input, weight, None, len(shape), eps, False)


def _check_channel_params(input, params, fn):
    """Each non-None tensor of ``params`` ((name, tensor) pairs) must be a vector of ``input.shape[1]`` values."""
    C = input.shape[1]
    for name, t in params:
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: argument '{name}' must be a Tensor or None, got {type(t).__name__}")
        if t.ndim != 1 or t.shape[0] != C:
            raise RuntimeError(f"{fn}: expected {name} to be a vector of size equal to the number of channels in "
                               f"input ({C}), but got {name} of shape {_shape_list(t.shape)} and input of shape "
                               f"{_shape_list(input.shape)}")


def _channel_affine(y, weight, bias):
    """``y * weight + bias`` with the (C,) vectors broadcast over dim 1 of (N, C, *) ``y``."""
    bshape = (1, y.shape[1]) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(bshape)
    if bias is not None:
        y = y + bias.reshape(bshape)
    return y


def _rowwise_norm(input, rows, eps):
    """Normalise ``input`` (N, C, *) to zero mean and unit (biased) variance within each of the ``rows`` equal
    slices it is cut into in memory order, through the layer-norm kernels (no affine)."""
    x = input.reshape(input.shape[0], rows, -1) if input.numel() else input
    if input.numel() == 0:
        return input * 1
    return _norm(x, None, None, 1, eps, True).reshape(input.shape)


def _group_norm_backward_ops(gy, x, weight, G, eps, need):
    """(dx, dweight, dbias) of group normalisation as Tensor ops, the statistics recomputed from ``x`` so that the
    gradients are themselves differentiable (gradients of gradients)."""
    N = x.shape[0]
    x3 = x.reshape(N, G, -1)
    dims = (0,) + tuple(range(2, x.ndim))
    dx = dw = db = None
    if need[0]:
        g = gy if weight is None else gy * weight.reshape((1, -1) + (1,) * (x.ndim - 2))
        dx = _norm_backward_ops(g.reshape(N, G, -1), x3, None, 1, eps, True, (True, False, False))[0]
        dx = dx.reshape(x.shape)
    if need[1]:
        dw = (gy * _norm_ops(x3, None, None, 1, eps, True).reshape(x.shape)).sum(dim=dims)
    if need[2]:
        db = gy.sum(dim=dims)
    return dx, dw, db


class _GroupNorm(Function):
    """Group normalisation with its per-channel affine through the group-norm kernels (one pass for the
    statistics and one for the output; the backward's sums and dx in two), optionally followed by SiLU in the
    same passes (``activation="silu"``: the output is silu(y), and the backward recomputes y instead of keeping
    it). The first-order backward runs the backward kernel; under ``create_graph`` it is written with Tensor ops
    instead."""

    @staticmethod
    def forward(ctx, x, num_groups, weight, bias, eps, activation=None):
        a = x._data
        if not a.flags.c_contiguous:
            a = array_module_of(a).ascontiguousarray(a)
        x3 = a.reshape(x.shape[0], x.shape[1], -1)
        w = None if weight is None else _rows(weight._data, x.shape[1]).reshape(-1)
        b = None if bias is None else _rows(bias._data, x.shape[1]).reshape(-1)
        y, mean, rstd = kernels.group_norm_forward(x3, num_groups, w, b, eps, activation)
        ctx.save_for_backward(x, weight, bias)
        ctx.arrays = (x3, w, b, mean, rstd)
        ctx.num_groups, ctx.eps, ctx.activation = num_groups, eps, activation
        return _wrap(y.reshape(x.shape))

    @staticmethod
    def backward(ctx, gy):
        x, weight, bias = ctx.saved_tensors
        need = (ctx.needs_input_grad[0], ctx.needs_input_grad[2], ctx.needs_input_grad[3])
        if _mode.enabled:
            if ctx.activation == "silu":
                # the gradient at the normalisation's output, through a recomputed (differentiable) y
                v = _channel_affine(_rowwise_norm(x, ctx.num_groups, ctx.eps), weight, bias)
                s = v.sigmoid()
                gy = gy * s * (1 + v * (1 - s))
            dx, dw, db = _group_norm_backward_ops(gy, x, weight, ctx.num_groups, ctx.eps, need)
            return dx, None, dw, db, None, None
        x3, w, b, mean, rstd = ctx.arrays
        g = gy._data
        if not g.flags.c_contiguous:
            g = array_module_of(g).ascontiguousarray(g)
        dx, dw, db = kernels.group_norm_backward(g.reshape(x3.shape), x3, mean, rstd, ctx.num_groups, w, need,
                                                 b, ctx.activation)
        return (None if dx is None else _wrap(dx.reshape(x.shape)), None,
                None if dw is None else _wrap(dw), None if db is None else _wrap(db), None, None)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalise (N, C, *) ``input`` over each group of ``C // num_groups`` consecutive channels (and all the
    trailing dims) of each sample, then scale by ``weight`` and shift by ``bias`` (each (C,), optional)."""
    return _group_norm(input, num_groups, weight, bias, eps, None)


def group_norm_silu(input, num_groups, weight=None, bias=None, eps=1e-05):
    """``silu(group_norm(input, num_groups, weight, bias, eps))`` in the group-norm kernels' passes (a diffusion
    UNet's norm -> SiLU): the same values, without the normalised tensor in between."""
    return _group_norm(input, num_groups, weight, bias, eps, "silu")


def _group_norm(input, num_groups, weight, bias, eps, activation):
    fn = "group_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if isinstance(num_groups, (bool, np.bool_)) or not isinstance(num_groups, (int, np.integer)):
        raise TypeError(f"{fn}: argument 'num_groups' must be an int, got {type(num_groups).__name__}")
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"{fn}: expected a floating point input, got dtype {input.dtype}")
    C = input.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {_shape_list(input.shape)} and num_groups={num_groups}")
    if input.shape[0] * C // num_groups * math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{_shape_list([input.shape[0] * C // num_groups, num_groups] + list(input.shape[2:]))}")
    _check_channel_params(input, (("weight", weight), ("bias", bias)), fn)
    dt = input.dtype
    if input.numel() and dt in (np.float32, np.float64) and all(p is None or p.dtype == dt for p in (weight, bias)):
        return _GroupNorm.apply(input, int(num_groups), weight, bias, float(eps), activation)
    y = _channel_affine(_rowwise_norm(input, int(num_groups), eps), weight, bias)
    return y if activation is None else silu(y)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-05):
    """Normalise each channel of each sample of (N, C, *) ``input`` over its trailing dims (``use_input_stats``)
    or with ``running_mean``/``running_var``; with input statistics the running buffers, when given, move by
    ``momentum`` towards the batch average of the per-instance means and unbiased variances (in place)."""
    fn = "instance_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise RuntimeError(f"{fn}: expected at least 2-D input (N, C, *), got shape {_shape_list(input.shape)}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"{fn}: expected a floating point input, got dtype {input.dtype}")
    _check_channel_params(input, (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                                  ("running_var", running_var)), fn)
    N, C = input.shape[0], input.shape[1]
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        bshape = (1, C) + (1,) * (input.ndim - 2)
        y = (input - running_mean.reshape(bshape)) * (running_var.reshape(bshape) + eps).rsqrt()
        return _channel_affine(y, weight, bias)
    spatial = math.prod(input.shape[2:])
    if spatial == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{_shape_list(input.shape)}")
    if (running_mean is not None or running_var is not None) and input.numel():
        # Outside any graph: the buffers take the batch average of the per-instance statistics.
        m = float(momentum)
        xs = input._data.reshape(N, C, spatial)
        if running_mean is not None:
            running_mean._data *= (1.0 - m)
            running_mean._data += m * xs.mean(axis=(0, 2)).astype(running_mean._data.dtype, copy=False)
        if running_var is not None:
            running_var._data *= (1.0 - m)
            running_var._data += m * xs.var(axis=2, ddof=1).mean(axis=0).astype(running_var._data.dtype, copy=False)
    return _channel_affine(_rowwise_norm(input, C, eps), weight, bias)
