"""Layer normalisation and RMS normalisation over the trailing dims (``F.layer_norm``, ``F.rms_norm``)."""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .._autograd_engine import _mode
from ..autograd import Function
from ..backend import array_module_of
from ..tensor import Tensor, _wrap

__all__ = ["layer_norm", "rms_norm"]


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
