"""Dropout, padding, normalisation and distances of ``fastnn.nn.functional``."""
from __future__ import annotations

import numpy as np

from .._autograd_engine import _mode
from ..tensor import Tensor, _make, _wrap
from .. import backend, kernels
from .. import random as _random

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "normalize", "pad",
           "cosine_similarity", "pairwise_distance"]


def _check(input, fn, arg="input"):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: argument '{arg}' must be a Tensor, got {type(input).__name__}")


def _check_p(p, fn):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{fn}: dropout probability has to be between 0 and 1, but got {p}")


def _out_for(a, mask):
    """A pooled destination for ``a * mask`` when the mask has a's shape and dtype, else None."""
    return backend.out_like(a) if mask.shape == a.shape and mask.dtype == a.dtype else None


def _apply_mask(input, mask, inplace, fn):
    """``input * mask`` with the mask a constant array (broadcastable), optionally in place."""
    if inplace:
        if _mode.enabled and input._requires_grad:
            raise RuntimeError(f"{fn}(inplace=True) is only supported on tensors that do not require grad")
        input._data *= mask
        return input
    out = np.multiply(input._data, mask, out=_out_for(input._data, mask))
    if _mode.enabled and input._requires_grad:
        def bw(g):
            if _mode.enabled:
                return (g * _wrap(mask),)
            return (_wrap(np.multiply(g._data, mask, out=_out_for(g._data, mask))),)
        return _make(out, (input,), bw, "Dropout")
    return _wrap(out)


_PHILOX_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _keep_mask(shape, p, dtype, device):
    """Dropout's scaled Bernoulli(1 - p) mask on ``device``: 1/(1-p) where kept, 0 where dropped.

    Drawn on ``device`` by the Philox kernel from fastnn's global random state (``fastnn.random``), so a
    seed gives the same mask on every CPU path, at any thread count, and on the GPU.
    """
    if p == 1.0:
        return backend.to_device(np.zeros(shape, dtype=dtype), device)
    # other float dtypes get the float64 mask rounded once, as 1/(1-p) rounds in their own dtype
    kernel_dtype = dtype if dtype in _PHILOX_DTYPES else np.dtype(np.float64)
    mask = backend.empty_on(shape, kernel_dtype, device)
    _random.philox_draw(lambda key, offset: kernels.dropout_mask(mask, p, key, offset))
    if kernel_dtype != dtype:
        mask = mask.astype(dtype)
    return mask


def _draw_keep_mask(shape, p, dtype, like):
    """``_keep_mask`` on the device of array ``like``."""
    return _keep_mask(shape, p, np.dtype(dtype), backend.device_of(like))


def dropout(input, p=0.5, training=True, inplace=False):
    _check(input, "dropout")
    _check_p(p, "dropout")
    if not training or p == 0.0:
        return input
    if input._data.dtype.kind != "f":
        raise TypeError(f"dropout: expected a floating point tensor, got {input._data.dtype}")
    mask = _draw_keep_mask(input._data.shape, p, input._data.dtype, input._data)
    return _apply_mask(input, mask, inplace, "dropout")


def _feature_dropout(input, p, training, inplace, fn, spatial):
    _check(input, fn)
    _check_p(p, fn)
    if not training or p == 0.0:
        return input
    nd = input.ndim
    if nd not in (spatial + 1, spatial + 2):
        raise ValueError(f"{fn}: expected {spatial + 1}-D or {spatial + 2}-D input, got shape {tuple(input.shape)}")
    shape = input._data.shape
    # one draw per (sample, channel), shared over the spatial dims
    mshape = shape[:nd - spatial] + (1,) * spatial
    mask = _draw_keep_mask(mshape, p, input._data.dtype, input._data)
    return _apply_mask(input, mask, inplace, fn)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, "dropout1d", 1)


def dropout2d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, "dropout2d", 2)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, "dropout3d", 3)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units take SELU's negative saturation, then an affine correction."""
    _check(input, "alpha_dropout")
    _check_p(p, "alpha_dropout")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    alpha_p = -1.7580993408473766
    keep = (_keep_mask(input._data.shape, p, np.dtype(np.float64), backend.CPU) != 0).astype(input._data.dtype)
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * p
    dev = backend.device_of(input._data)
    scale = backend.to_device(keep * a, dev)
    shift = backend.to_device(((1 - keep) * alpha_p * a + b).astype(input._data.dtype), dev)
    out = input * _wrap(scale) + _wrap(shift)
    if inplace:
        input._data[...] = out._data
        return input
    return out


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p along dim, eps)``."""
    _check(input, "normalize")
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps)
    res = input / denom
    if out is not None:
        out._data[...] = res._data
        return out
    return res


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along ``dim`` (broadcasting), norms clamped at ``eps``."""
    _check(x1, "cosine_similarity", "x1")
    _check(x2, "cosine_similarity", "x2")
    try:
        np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {tuple(x1.shape)} and {tuple(x2.shape)} do not broadcast") \
            from None
    n1 = (x1 * x1).sum(dim, keepdim=True).sqrt().clamp(min=eps)
    n2 = (x2 * x2).sum(dim, keepdim=True).sqrt().clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dim."""
    _check(x1, "pairwise_distance", "x1")
    _check(x2, "pairwise_distance", "x2")
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def _normalise_pad(pad, ndim):
    if not isinstance(pad, (tuple, list)) or not all(isinstance(v, (int, np.integer)) for v in pad):
        raise TypeError(f"pad: argument 'pad' must be a tuple of ints, got {pad!r}")
    if len(pad) % 2 != 0:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > ndim:
        raise ValueError(f"pad: padding length {len(pad)} is too large for a {ndim}-D input")
    # pad lists (left, right) pairs from the last dim backwards
    widths = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        widths[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return widths


def _pad_indices(n, lo, hi, mode):
    """Source index along one dim for each output position (reflect / replicate / circular)."""
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "circular":
        return np.mod(j, n)
    # reflect (no edge repetition), period 2(n-1)
    if n == 1:
        return np.zeros_like(j)
    period = 2 * (n - 1)
    j = np.mod(j, period)
    return np.where(j >= n, period - j, j)


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left_last, right_last, left_prev, right_prev, ...)``.

    Negative widths crop. Modes: 'constant' (with ``value``), 'reflect', 'replicate', 'circular'.
    """
    _check(input, "pad")
    nd = input.ndim
    widths = _normalise_pad(pad, nd)
    if mode == "constant":
        fill = 0 if value is None else value
        # crop first (negative widths), then pad with a constant
        crop = tuple(slice(max(-lo, 0), input._data.shape[i] - max(-hi, 0)) for i, (lo, hi) in enumerate(widths))
        x = input[crop] if any(lo < 0 or hi < 0 for lo, hi in widths) else input
        pw = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        xd = x._data
        out = np.pad(xd, pw, mode="constant", constant_values=fill) if any(a or b for a, b in pw) else xd.copy()
        if _mode.enabled and x._requires_grad:
            inner = tuple(slice(lo, lo + s) for (lo, _), s in zip(pw, xd.shape))

            def bw(g):
                if _mode.enabled:
                    return (g[inner],)
                return (_wrap(g._data[inner]),)
            return _make(out, (x,), bw, "ConstantPadNd")
        return _wrap(out)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value not in (None, 0):
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    n_pad = len(pad) // 2
    if nd < n_pad + 1:
        raise ValueError(f"pad: {mode} padding of {n_pad} dims needs at least {n_pad + 1}-D input, "
                         f"got shape {tuple(input.shape)}")
    out = input
    for d in range(nd - n_pad, nd):
        lo, hi = widths[d]
        if lo == 0 and hi == 0:
            continue
        n = input.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: padding size ({lo}, {hi}) should be less than the corresponding input "
                             f"dimension {n} for reflect mode (dim {d})")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: padding value ({lo}, {hi}) causes wrapping around more than once (dim {d})")
        idx = _pad_indices(n, lo, hi, mode).astype(np.int64)
        if idx.__class__ is not input._data.__class__:
            idx = backend.to_device(idx, backend.device_of(input._data))
        # integer-array indexing: its backward scatter-adds repeated indices
        out = out[(slice(None),) * d + (_wrap(idx),)]
    return out
