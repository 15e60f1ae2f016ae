"""Reductions, scans, softmax and sorting (differentiable where PyTorch's are), attached to Tensor."""
from __future__ import annotations

import builtins
import collections

import numpy as np

from . import backend
from . import dtypes as _dt
from ._autograd_engine import _mode
from .tensor import Tensor, _canon_dim, _filled, _make, _on_device_of, _wrap, _xp

# PyTorch's torch.return_types.*: namedtuples (values, indices)
_ret_max = collections.namedtuple("max", ["values", "indices"])
_ret_min = collections.namedtuple("min", ["values", "indices"])
_ret_sort = collections.namedtuple("sort", ["values", "indices"])
_ret_topk = collections.namedtuple("topk", ["values", "indices"])
_ret_kth = collections.namedtuple("kthvalue", ["values", "indices"])
_ret_median = collections.namedtuple("median", ["values", "indices"])
_ret_mode = collections.namedtuple("mode", ["values", "indices"])
_ret_cummax = collections.namedtuple("cummax", ["values", "indices"])
_ret_cummin = collections.namedtuple("cummin", ["values", "indices"])


def _dims(dim, ndim, op):
    """Canonical tuple of axes (None: all)."""
    if dim is None:
        return None
    if isinstance(dim, (builtins.int, np.integer)) and not isinstance(dim, builtins.bool):
        return (_canon_dim(dim, ndim, op),)
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        ds = tuple(_canon_dim(d, ndim, op) for d in dim)
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"{op}: dim {list(dim)} appears multiple times in the list of dims")
        return ds
    raise TypeError(f"{op}: argument 'dim' must be an int or a tuple of ints, got {type(dim).__name__}")


def _keep_shape(shape, axes):
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_grad(g, in_shape, axes, keepdim):
    """A reduction's output gradient broadcast back to the input's shape (differentiable)."""
    if not keepdim:
        g = g.reshape(_keep_shape(in_shape, axes))
    return g.expand(in_shape)


def _np_axes(axes, ndim):
    if axes is None:
        return None
    return axes if ndim > 0 else None


_add_reduce = np.add.reduce
_max_reduce = np.maximum.reduce
_ndarray = np.ndarray


def _max_keep(a, d):
    """max over axis d, keeping it: numpy's raw reduce on the CPU (cheapest), the method elsewhere (cupy's
    maximum has no reduce)."""
    return _max_reduce(a, d, None, None, True) if a.__class__ is _ndarray else a.max(axis=d, keepdims=True)


def _accumulate(ufunc, a, axis):
    """``ufunc.accumulate`` along ``axis``: numpy's on the CPU; on a device (cupy has no maximum/minimum
    accumulate) a scan in log2(n) whole-array steps, exact for max and min."""
    if a.__class__ is _ndarray:
        return ufunc.accumulate(a, axis=axis)
    out = a.copy()
    n = a.shape[axis]
    s = 1
    while s < n:
        hi = (slice(None),) * axis + (slice(s, None),)
        lo = (slice(None),) * axis + (slice(0, n - s),)
        out[hi] = ufunc(out[hi], out[lo])
        s *= 2
    return out


def sum(input, dim=None, keepdim=False, *, dtype=None):
    a = input._data
    if dim is None and dtype is None and a.dtype.kind == "f":
        axes = None
        out = _add_reduce(a, None, None, None, keepdim)      # fast path: no argument parsing
    else:
        axes = _dims(dim, a.ndim, "sum")
        dt = _dt.as_dtype(dtype)
        if dt is None and a.dtype.kind in "biu":
            dt = _dt.int64
        out = _add_reduce(a, axes if a.ndim else None, dt, None, keepdim)
    if _mode.enabled and input._requires_grad:
        shape = a.shape
        return _make(out, (input,), lambda g: (_expand_grad(g, shape, axes, keepdim),), "Sum")
    return _wrap(out)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return sum(input.masked_fill(input.isnan(), 0.0), dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    a = input._data
    dt = _dt.as_dtype(dtype)
    if dt is None and a.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {a.dtype}")
    if dt is not None and dt != a.dtype:
        input = input.to(dt)
        a = input._data
    axes = _dims(dim, a.ndim, "mean")
    n = a.size if axes is None else builtins.int(np.prod([a.shape[d] for d in axes]))
    inv = 1.0 / n if n else float("nan")
    out = _add_reduce(a, axes if a.ndim else None, None, None, keepdim)
    out = out * out.dtype.type(inv)
    if _mode.enabled and input._requires_grad:
        shape = a.shape
        return _make(out, (input,), lambda g: (_expand_grad(g * inv, shape, axes, keepdim),), "Mean")
    return _wrap(out)


def nanmean(input, dim=None, keepdim=False):
    m = ~input.isnan()
    return sum(input.masked_fill(~m, 0.0), dim, keepdim) / sum(m, dim, keepdim)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    a = input._data
    dt = _dt.as_dtype(dtype)
    if dt is None and a.dtype.kind in "biu":
        dt = _dt.int64
    if dim is not None and not isinstance(dim, (builtins.int, np.integer)):
        raise TypeError(f"prod: argument 'dim' must be an int, got {type(dim).__name__}")
    axes = _dims(dim, a.ndim, "prod")
    # the method: np.prod gives a numpy scalar for a full reduction, which must stay on a's device
    out = a.prod(axis=_np_axes(axes, a.ndim), keepdims=keepdim, dtype=dt)
    if _mode.enabled and input._requires_grad:
        shape = a.shape

        def bw(g):
            ge = _expand_grad(g, shape, axes, keepdim)
            if not (a == 0).any():
                p = prod(input, dim, keepdim=True) if _mode.enabled else _wrap(
                    out if keepdim else out.reshape(_keep_shape(shape, axes)))
                return (ge * p / input,)
            # product of all the other elements, without dividing by zero: exclusive cumprods
            ax = axes[0] if axes is not None else None
            x = a if ax is not None else a.reshape(-1)
            axis = ax if ax is not None else 0
            ones_shape = list(x.shape)
            ones_shape[axis] = 1
            one = _filled(a, ones_shape, 1, a.dtype)
            head = (slice(None),) * axis + (slice(0, x.shape[axis] - 1),)
            left = np.cumprod(np.concatenate([one, x[head]], axis), axis)
            xr = np.flip(x, axis)
            right = np.flip(np.cumprod(np.concatenate([one, xr[head]], axis), axis), axis)
            others = (left * right).reshape(shape)
            return (ge * _wrap(others),)
        return _make(out, (input,), bw, "Prod")
    return _wrap(out)


def _amax_like(name, npfn):
    def op(input, dim=None, keepdim=False):
        a = input._data
        axes = _dims(dim, a.ndim, name)
        if a.size == 0 and (axes is None or builtins.any(a.shape[d] == 0 for d in axes)):
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0, or the "
                               f"reduced dimension to be non-empty (input shape {tuple(a.shape)})")
        out = npfn(a, axis=_np_axes(axes, a.ndim), keepdims=keepdim)
        if _mode.enabled and input._requires_grad:
            shape = a.shape
            ok = out if keepdim else out.reshape(_keep_shape(shape, axes))
            mask = (a == ok)
            w = (mask / mask.sum(axis=_np_axes(axes, a.ndim), keepdims=True)).astype(a.dtype)
            return _make(out, (input,), lambda g: (_expand_grad(g, shape, axes, keepdim) * _wrap(w),),
                         name.capitalize())
        return _wrap(out)
    op.__name__ = name
    return op


# the methods: np.max/np.min give numpy scalars for full reductions, which must stay on the input's device
amax = _amax_like("amax", lambda a, axis, keepdims: a.max(axis=axis, keepdims=keepdims))
amin = _amax_like("amin", lambda a, axis, keepdims: a.min(axis=axis, keepdims=keepdims))


def _arg(name, npfn):
    def op(input, dim=None, keepdim=False):
        a = input._data
        if a.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        if dim is None:
            out = _on_device_of(a, npfn(a.reshape(-1)))
            if keepdim:
                out = out.reshape((1,) * a.ndim)
            return _wrap(out.astype(np.int64, copy=False))
        d = _canon_dim(dim, a.ndim, name)
        if a.ndim == 0:
            return _wrap(_filled(a, (), 0, np.int64))
        return _wrap(_on_device_of(a, npfn(a, axis=d, keepdims=keepdim)).astype(np.int64, copy=False))
    op.__name__ = name
    return op


def _nan_arg(argfn, a, axis, keepdims):
    # PyTorch propagates NaN: a NaN is both the max and the min.
    if a.dtype.kind != "f":
        return argfn(a, axis=axis, keepdims=keepdims)
    nan = np.isnan(a)
    if type(a) is np.ndarray:
        return np.argmax(nan, axis=axis, keepdims=keepdims) if nan.any() else argfn(a, axis=axis, keepdims=keepdims)
    # on a GPU both candidates are computed and selected per position, so that the device is not
    # waited for to learn whether any NaN exists
    return np.where(nan.any(axis=axis, keepdims=keepdims), np.argmax(nan, axis=axis, keepdims=keepdims),
                    argfn(a, axis=axis, keepdims=keepdims))


def _nan_argmax(a, axis=None, keepdims=False):
    return _nan_arg(np.argmax, a, axis, keepdims)


def _nan_argmin(a, axis=None, keepdims=False):
    return _nan_arg(np.argmin, a, axis, keepdims)


argmax = _arg("argmax", _nan_argmax)
argmin = _arg("argmin", _nan_argmin)


def _max_min(name, full, argfn, ret, binary):
    def op(input, dim=None, keepdim=False, *, out=None):
        if isinstance(dim, Tensor):
            return binary(input, dim)
        if dim is None:
            if keepdim:
                raise TypeError(f"{name}(): 'keepdim' requires 'dim'")
            return full(input)
        a = input._data
        d = _canon_dim(dim, a.ndim, name)
        if a.ndim == 0:
            return ret(input.clone(), _wrap(_filled(a, (), 0, np.int64)))
        if a.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size (input shape "
                             f"{tuple(a.shape)})")
        idx = argfn(a, axis=d, keepdims=True).astype(np.int64, copy=False)
        from ._ops_shape import gather
        values = gather(input, d, idx)
        if not keepdim:
            values = values.squeeze(d)
            idx = idx.reshape(idx.shape[:d] + idx.shape[d + 1:])
        return ret(values, _wrap(idx))
    op.__name__ = name
    return op


def _maximum(a, b):
    from ._ops_math import maximum
    return maximum(a, b)


def _minimum(a, b):
    from ._ops_math import minimum
    return minimum(a, b)


max = _max_min("max", amax, _nan_argmax, _ret_max, _maximum)
min = _max_min("min", amin, _nan_argmin, _ret_min, _minimum)


def aminmax(input, *, dim=None, keepdim=False):
    return amin(input, dim, keepdim), amax(input, dim, keepdim)


def _correction(op, unbiased, correction):
    if correction is not None:
        if unbiased is not None and unbiased is not _UNSET:
            raise RuntimeError(f"{op}: pass only one of 'unbiased' and 'correction'")
        return correction
    if unbiased is None or unbiased is _UNSET:
        return 1
    return 1 if unbiased else 0


_UNSET = object()


def var(input, dim=None, unbiased=_UNSET, keepdim=False, *, correction=None):
    if isinstance(dim, builtins.bool):          # legacy var(unbiased)
        unbiased, dim = dim, None
    c = _correction("var", unbiased, correction)
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"var(): input dtype should be a floating point dtype, got {a.dtype}")
    axes = _dims(dim, a.ndim, "var")
    nax = _np_axes(axes, a.ndim)
    n = a.size if axes is None else builtins.int(np.prod([a.shape[d] for d in axes]))
    denom = builtins.max(n - c, 0)
    if n == 0 or denom == 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            m = a.mean(axis=nax, keepdims=True)
            dev = a - m
            out = (dev * dev).sum(axis=nax, keepdims=keepdim) / a.dtype.type(denom)
    else:
        m = _add_reduce(a, nax, None, None, True) * a.dtype.type(1.0 / n)
        dev = a - m
        out = _add_reduce(dev * dev, nax, None, None, keepdim) * a.dtype.type(1.0 / denom)
    out = _on_device_of(a, out)
    if out.dtype != a.dtype:
        out = out.astype(a.dtype)
    if _mode.enabled and input._requires_grad:
        shape = a.shape
        scale = 2.0 / denom if denom > 0 else float("inf")

        def bw(g):
            ge = _expand_grad(g, shape, axes, keepdim)
            if _mode.enabled:
                d = input - input.mean(dim=axes, keepdim=True)
            else:
                d = _wrap(dev)
            return (ge * d * scale,)
        return _make(out, (input,), bw, "Var")
    return _wrap(out)


def std(input, dim=None, unbiased=_UNSET, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


def var_mean(input, dim=None, unbiased=_UNSET, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=_UNSET, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def _l2norm(input, axes, keepdim):
    a = input._data
    nax = _np_axes(axes, a.ndim)
    out = np.sqrt((a * a).sum(axis=nax, keepdims=keepdim))
    if _mode.enabled and input._requires_grad:
        shape = a.shape

        def bw(g):
            if _mode.enabled:
                nk = _l2norm(input, axes, True)
            else:
                nk = _wrap(out if keepdim else out.reshape(_keep_shape(shape, axes)))
            # subgradient 0 at the zero vector (PyTorch's choice)
            safe = nk.masked_fill(nk._data == 0, 1.0)
            ge = _expand_grad(g, shape, axes, keepdim)
            return (ge * input / safe,)
        return _make(out, (input,), bw, "Norm")
    return _wrap(out)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"norm(): input dtype should be a floating point dtype, got {a.dtype}")
    if isinstance(p, str):
        if p == "fro":
            p = 2
        elif p == "nuc":
            raise NotImplementedError("norm: the nuclear norm is not supported")
        else:
            raise ValueError(f"norm: unknown norm type 'p'={p!r}")
    axes = _dims(dim, a.ndim, "norm")
    if p == 2:
        return _l2norm(input, axes, keepdim)
    if p == float("inf"):
        return amax(input.abs(), axes, keepdim)
    if p == float("-inf"):
        return amin(input.abs(), axes, keepdim)
    if p == 0:
        return sum((input != 0).to(a.dtype), axes, keepdim)
    if p == 1:
        return sum(input.abs(), axes, keepdim)
    return sum(input.abs() ** p, axes, keepdim) ** (1.0 / p)


def dist(input, other, p=2):
    return norm(input - other, p)


def logsumexp(input, dim, keepdim=False):
    a = input._data
    if a.dtype.kind != "f":
        a = a.astype(_dt.get_default_dtype())
    axes = _dims(dim, a.ndim, "logsumexp")
    nax = _np_axes(axes, a.ndim)
    if a.size == 0:
        out = _filled(a, np.sum(a, axis=nax, keepdims=keepdim).shape, -np.inf, a.dtype)
        return _wrap(out)
    m = a.max(axis=nax, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)          # all -inf (or inf) slices: no shift
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.log(np.sum(np.exp(a - m), axis=nax, keepdims=True)) + m
    out = s if keepdim else (np.squeeze(s, axis=nax) if nax is not None else s.reshape(()))
    if _mode.enabled and input._requires_grad:
        shape = a.shape

        def bw(g):
            ge = _expand_grad(g, shape, axes, keepdim)
            if _mode.enabled:
                return (ge * (input - logsumexp(input, axes, True)).exp(),)
            return (ge * _wrap(np.exp(a - s)),)
        return _make(out, (input,), bw, "Logsumexp")
    return _wrap(out)


def softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    if dtype is not None:
        input = input.to(dtype)
    a = input._data
    if a.dtype.kind != "f":
        a = a.astype(_dt.get_default_dtype())
    if dim is None:
        dim = 0 if a.ndim in (0, 1, 3) else 1    # PyTorch's legacy implicit choice
    d = _canon_dim(dim, a.ndim, "softmax")
    if a.ndim == 0:
        out = _filled(a, (), 1, a.dtype)
    else:
        m = _max_keep(a, d) if a.size else a
        e = np.exp(a - m)
        out = e / _add_reduce(e, d, None, None, True)
    if _mode.enabled and input._requires_grad:
        def bw(g):
            y = softmax(input, d) if _mode.enabled else _wrap(out)
            gy = g * y
            return (gy - y * gy.sum(dim=d, keepdim=True),)
        return _make(out, (input,), bw, "Softmax")
    return _wrap(out)


def log_softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    if dtype is not None:
        input = input.to(dtype)
    a = input._data
    if a.dtype.kind != "f":
        a = a.astype(_dt.get_default_dtype())
    if dim is None:
        dim = 0 if a.ndim in (0, 1, 3) else 1
    d = _canon_dim(dim, a.ndim, "log_softmax")
    if a.ndim == 0:
        out = _filled(a, (), 0, a.dtype)
    else:
        m = _max_keep(a, d) if a.size else a
        sh = a - m
        out = sh - np.log(_add_reduce(np.exp(sh), d, None, None, True))
    if _mode.enabled and input._requires_grad:
        def bw(g):
            if _mode.enabled:
                y = softmax(input, d)
            else:
                y = _wrap(np.exp(out))
            return (g - y * g.sum(dim=d, keepdim=True),)
        return _make(out, (input,), bw, "LogSoftmax")
    return _wrap(out)


def cumsum(input, dim, *, dtype=None):
    a = input._data
    d = _canon_dim(dim, a.ndim, "cumsum")
    dt = _dt.as_dtype(dtype)
    if dt is None and a.dtype.kind in "biu":
        dt = _dt.int64
    out = np.cumsum(a, axis=d if a.ndim else None, dtype=dt).reshape(a.shape)
    if _mode.enabled and input._requires_grad:
        def bw(g):
            if a.ndim == 0:
                return (g,)
            return (g.flip(d).cumsum(d).flip(d),)
        return _make(out, (input,), bw, "Cumsum")
    return _wrap(out)


def cumprod(input, dim, *, dtype=None):
    a = input._data
    d = _canon_dim(dim, a.ndim, "cumprod")
    dt = _dt.as_dtype(dtype)
    if dt is None and a.dtype.kind in "biu":
        dt = _dt.int64
    out = np.cumprod(a, axis=d if a.ndim else None, dtype=dt).reshape(a.shape)
    if _mode.enabled and input._requires_grad:
        def bw(g):
            if a.ndim == 0:
                return (g,)
            if (a == 0).any():
                return (_wrap(_cumprod_grad_with_zeros(a, g._data, d)),)
            y = cumprod(input, d) if _mode.enabled else _wrap(out)
            return ((g * y).flip(d).cumsum(d).flip(d) / input,)
        return _make(out, (input,), bw, "Cumprod")
    return _wrap(out)


def _cumprod_grad_with_zeros(a, g, d):
    """d/dx_i of sum_j g_j prod_{k<=j} x_k without dividing by x_i (inputs may contain zeros).

    grad_i = prod_{k<i} x_k * sum_{j>=i} g_j prod_{i<k<=j} x_k; the inner products come from the
    cumulative product of an (n, n) matrix holding x_k for k > i and 1 elsewhere (O(n^2) per slice).
    """
    xp = _xp(a)
    x = np.moveaxis(a, d, -1)
    gg = np.moveaxis(g, d, -1)
    n = x.shape[-1]
    ones = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)      # prod_{k<i}
    upper = xp.triu(xp.ones((n, n), dtype=bool), 1)                                # k > i
    m = np.where(upper, x[..., None, :], 1)                                        # (..., i, k)
    r = np.cumprod(m, axis=-1)                                                     # prod_{i<k<=j}
    keep = xp.triu(xp.ones((n, n), dtype=bool))                                    # j >= i
    inner = np.sum(np.where(keep, r * gg[..., None, :], 0), axis=-1)
    return np.moveaxis(left * inner, -1, d).astype(a.dtype, copy=False)


def _cum_ext(name, acc, ret, cmp):
    def op(input, dim):
        a = input._data
        d = _canon_dim(dim, a.ndim, name)
        vals = _accumulate(acc, a, d) if a.ndim else a.copy()
        # index of the running extreme: last position where the value equals the running extreme
        n = a.shape[d] if a.ndim else 1
        xp = _xp(a)
        pos = xp.arange(n).reshape([-1 if k == d else 1 for k in range(a.ndim)]) if a.ndim else xp.zeros((), int)
        hit = np.where(a == vals, pos, 0)
        idx = _accumulate(np.maximum, hit, d) if a.ndim else hit
        idx = idx.astype(np.int64)
        from ._ops_shape import gather
        return ret(gather(input, d, idx) if a.ndim else input.clone(), _wrap(idx))
    op.__name__ = name
    return op


cummax = _cum_ext("cummax", np.maximum, _ret_cummax, None)
cummin = _cum_ext("cummin", np.minimum, _ret_cummin, None)


def logcumsumexp(input, dim):
    d = _canon_dim(dim, input._data.ndim, "logcumsumexp")
    m = input.detach().amax(dim=d, keepdim=True)
    return (input - m).exp().cumsum(d).log() + m


def any(input, dim=None, keepdim=False):
    a = input._data
    axes = _dims(dim, a.ndim, "any")
    return _wrap(a.any(axis=_np_axes(axes, a.ndim), keepdims=keepdim))


def all(input, dim=None, keepdim=False):
    a = input._data
    axes = _dims(dim, a.ndim, "all")
    return _wrap(a.all(axis=_np_axes(axes, a.ndim), keepdims=keepdim))


def count_nonzero(input, dim=None):
    a = input._data
    axes = _dims(dim, a.ndim, "count_nonzero")
    return _wrap(_on_device_of(a, np.count_nonzero(a, axis=_np_axes(axes, a.ndim))).astype(np.int64, copy=False))


def sort(input, dim=-1, descending=False, stable=False):
    a = input._data
    if a.ndim == 0:
        return _ret_sort(input.clone(), _wrap(_filled(a, (), 0, np.int64)))
    d = _canon_dim(dim, a.ndim, "sort")
    key = -a if descending and a.dtype.kind != "b" else a
    if descending and a.dtype.kind == "b":
        key = ~a
    idx = np.argsort(key, axis=d, kind="stable").astype(np.int64)
    from ._ops_shape import gather
    return _ret_sort(gather(input, d, idx), _wrap(idx))


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    a = input._data
    d = _canon_dim(dim, a.ndim, "topk")
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size {n}")
    key = -a if largest else a
    idx = np.argsort(key, axis=d, kind="stable")
    idx = idx[(slice(None),) * d + (slice(0, k),)].astype(np.int64)
    from ._ops_shape import gather
    return _ret_topk(gather(input, d, idx), _wrap(idx))


def kthvalue(input, k, dim=-1, keepdim=False):
    a = input._data
    d = _canon_dim(dim, a.ndim, "kthvalue")
    n = a.shape[d]
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue: k ({k}) is out of range for dimension {d} of size {n}")
    idx = np.argsort(a, axis=d, kind="stable")[(slice(None),) * d + (slice(k - 1, k),)].astype(np.int64)
    from ._ops_shape import gather
    v = gather(input, d, idx)
    if not keepdim:
        v = v.squeeze(d)
        idx = idx.squeeze(d)
    return _ret_kth(v, _wrap(idx))


def median(input, dim=None, keepdim=False):
    a = input._data
    if dim is None:
        flat = input.reshape(-1)
        n = flat._data.shape[0]
        if n == 0:
            return _wrap(_filled(a, (), np.nan, a.dtype))
        return kthvalue(flat, (n - 1) // 2 + 1, 0).values
    d = _canon_dim(dim, a.ndim, "median")
    n = a.shape[d]
    r = kthvalue(input, (n - 1) // 2 + 1, d, keepdim)
    return _ret_median(r.values, r.indices)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _canon_dim(dim, input._data.ndim, "quantile")
    s = sort(x, d).values
    n = s._data.shape[d]
    # the quantiles pick slices (host work): a device tensor q is read back once
    qs = np.atleast_1d(backend.to_device(q._data, backend.CPU) if isinstance(q, Tensor) else
                       np.asarray(q, dtype=np.float64))
    if np.any((qs < 0) | (qs > 1)):
        raise RuntimeError("quantile: 'q' must be in the range [0, 1]")
    outs = []
    for qq in qs:
        pos = qq * (n - 1)
        lo = int(np.floor(pos))
        hi = builtins.min(lo + 1, n - 1)
        frac = pos - lo
        if interpolation == "lower":
            v = s.select(d, lo)
        elif interpolation == "higher":
            v = s.select(d, int(np.ceil(pos)))
        elif interpolation == "nearest":
            v = s.select(d, int(np.round(pos)))
        elif interpolation == "midpoint":
            v = (s.select(d, lo) + s.select(d, hi)) * 0.5 if frac > 0 else s.select(d, lo)
        elif interpolation == "linear":
            v = s.select(d, lo) * (1 - frac) + s.select(d, hi) * frac if frac > 0 else s.select(d, lo)
        else:
            raise ValueError(f"quantile: unknown interpolation {interpolation!r}")
        if keepdim:
            v = v.unsqueeze(d) if dim is not None else v.reshape((1,) * input._data.ndim)
        outs.append(v)
    from ._ops_shape import stack
    return outs[0] if np.ndim(q._data if isinstance(q, Tensor) else q) == 0 else stack(outs, 0)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    a = input._data
    if dim is None:
        res = np.unique(a, return_inverse=return_inverse, return_counts=return_counts)
    else:
        res = np.unique(a, return_inverse=return_inverse, return_counts=return_counts,
                        axis=_canon_dim(dim, a.ndim, "unique"))
    if not isinstance(res, tuple):
        return _wrap(res)
    out = [_wrap(res[0])]
    k = 1
    if return_inverse:
        inv = res[k].astype(np.int64)
        out.append(_wrap(inv.reshape(a.shape) if dim is None else inv.reshape(-1)))
        k += 1
    if return_counts:
        out.append(_wrap(res[k].astype(np.int64)))
    return tuple(out)


def bincount(input, weights=None, minlength=0):
    a = input._data
    if a.dtype.kind not in "iu" or a.ndim != 1:
        raise RuntimeError(f"bincount: argument 'input' must be a 1-D integer tensor, got {a.dtype} {a.shape}")
    w = weights._data if weights is not None else None
    out = np.bincount(a, w, minlength)
    return _wrap(out if w is not None else out.astype(np.int64))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    from ._ops_shape import cat
    d = _canon_dim(dim, input._data.ndim, "diff")
    x = input
    if prepend is not None or append is not None:
        x = cat([t for t in (prepend, x, append) if t is not None], d)
    for _ in range(n):
        m = x._data.shape[d]
        x = x.narrow(d, 1, m - 1) - x.narrow(d, 0, m - 1)
    return x


def trace(input):
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a 2-D tensor, got {input._data.ndim}-D")
    return input.diagonal().sum()


def _take_repeated_diagonals(subs, operand):
    """``operand`` with every subscript repeated within it ('ii', 'iji') reduced to its diagonal, and the
    matching subscripts: the diagonal is a differentiable view, so the rest of einsum never sees a repeat."""
    while True:
        for a, c in enumerate(subs):
            b = subs.find(c, a + 1)
            if b != -1:
                break
        else:
            return subs, operand
        if operand.shape[a] != operand.shape[b]:
            raise ValueError(f"einsum: subscript '{c}' is repeated in '{subs}' over dims of sizes "
                             f"{operand.shape[a]} and {operand.shape[b]}")
        operand = operand.diagonal(0, a, b)            # the diagonal becomes the last dim
        subs = subs[:a] + subs[a + 1:b] + subs[b + 1:] + c


def einsum(equation, *operands):
    """Einstein summation (differentiable, to any order)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, o in enumerate(operands):
        if not isinstance(o, Tensor):
            raise TypeError(f"einsum: operand {i} must be a Tensor, got {type(o).__name__}")
    eq = equation.replace(" ", "")
    if "..." in eq:
        eq = _expand_ellipsis(eq, operands)
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs = eq
        letters = lhs.replace(",", "")
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    subs = lhs.split(",")
    if len(subs) != len(operands):
        raise ValueError(f"einsum: the equation has {len(subs)} operands but {len(operands)} were given")
    for s, o in zip(subs, operands):
        if len(s) != o._data.ndim:
            raise ValueError(f"einsum: subscripts '{s}' do not match an operand with {o._data.ndim} dims")
    if builtins.any(len(set(s)) != len(s) for s in subs):
        subs, operands = zip(*[_take_repeated_diagonals(s, o) for s, o in zip(subs, operands)])
        subs, operands = list(subs), tuple(operands)
        lhs = ",".join(subs)
    arrays = [o._data for o in operands]
    dt = arrays[0].dtype
    for x in arrays[1:]:
        dt = np.promote_types(dt, x.dtype)
    out = np.einsum(f"{lhs}->{rhs}", *arrays, optimize=len(arrays) > 2)
    if _mode.enabled and builtins.any(o._requires_grad for o in operands):
        sizes = {}
        for s, o in zip(subs, operands):
            for c, n in zip(s, o._data.shape):
                sizes[c] = n

        def bw(g):
            grads = []
            for i, (s, o) in enumerate(zip(subs, operands)):
                if not o._requires_grad:
                    grads.append(None)
                    continue
                others = [subs[j] for j in range(len(subs)) if j != i]
                avail = set(rhs).union(*[set(x) for x in others]) if others else set(rhs)
                kept = "".join(c for c in s if c in avail)
                args = [g] + [operands[j] for j in range(len(subs)) if j != i]
                r = einsum(",".join([rhs] + others) + "->" + kept, *args)
                if kept != s:
                    shape_k = [sizes[c] if c in kept else 1 for c in s]
                    order = [c for c in s if c in kept]
                    perm = [kept.index(c) for c in order]
                    r = r.permute(perm) if perm != list(range(len(perm))) else r
                    r = r.reshape(shape_k).expand([sizes[c] for c in s])
                grads.append(r)
            return grads
        return _make(out, tuple(operands), bw, "Einsum")
    return _wrap(out)


def _expand_ellipsis(eq, operands):
    """Rewrite '...' as explicit letters (right-aligned broadcast dims), so backward needs no special case."""
    used = set(c for c in eq if c.isalpha())
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(operands):
        raise ValueError(f"einsum: the equation has {len(subs)} operands but {len(operands)} were given")
    n_ell = 0
    for s, o in zip(subs, operands):
        if "..." in s:
            n_ell = builtins.max(n_ell, o._data.ndim - (len(s) - 3))
    letters = "".join(free[:n_ell])
    new_subs = []
    for s, o in zip(subs, operands):
        if "..." in s:
            k = o._data.ndim - (len(s) - 3)
            s = s.replace("...", letters[n_ell - k:] if k > 0 else "")
        new_subs.append(s)
    if arrow:
        rhs = rhs.replace("...", letters)
    else:
        joined = "".join(new_subs)
        rhs = letters + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in letters))
    return ",".join(new_subs) + "->" + rhs


def _attach():
    g = globals()
    for n in ["sum", "nansum", "mean", "nanmean", "prod", "amax", "amin", "argmax", "argmin", "max", "min",
              "aminmax", "var", "std", "norm", "dist", "logsumexp", "softmax", "log_softmax", "cumsum", "cumprod",
              "cummax", "cummin", "logcumsumexp", "any", "all", "count_nonzero", "sort", "argsort", "msort",
              "topk", "kthvalue", "median", "quantile", "unique", "bincount", "diff", "trace"]:
        setattr(Tensor, n, g[n])

    def cumsum_(self, dim):
        return self._unary_inplace(lambda s: cumsum(s, dim))
    Tensor.cumsum_ = cumsum_


_attach()
