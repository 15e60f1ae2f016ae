"""Less common PyTorch ops, built from the differentiable ones (so autograd comes for free)."""
from __future__ import annotations

import builtins
import math

import numpy as np

from . import dtypes as _dt
from ._ops_math import where_
from ._ops_shape import _check_dim_index, cat, stack
from .tensor import Tensor, _array_on, _as_tensor_like, _canon_dim, _wrap, _xp


def logit(input, eps=None):
    x = input if eps is None else input.clamp(eps, 1.0 - eps)
    return (x / (1.0 - x)).log()


def xlogy(input, other):
    """input * log(other), 0 where input == 0 (even if other is 0 or nan)."""
    if not isinstance(other, Tensor):
        other = _as_tensor_like(other, input)
    if not isinstance(input, Tensor):
        input = _as_tensor_like(input, other)
    zero = input._data == 0
    safe = where_(_wrap(zero), 1.0, other) if zero.any() else other
    return where_(_wrap(np.broadcast_to(zero, np.broadcast_shapes(zero.shape, other._data.shape))), 0.0,
                  input * safe.log())


def sinc(input):
    """sin(pi x) / (pi x), 1 at 0."""
    px = input * math.pi
    zero = input._data == 0
    safe = where_(_wrap(zero), 1.0, px) if zero.any() else px
    return where_(_wrap(zero), 1.0, safe.sin() / safe)


def hypot(input, other):
    return (input * input + other * other).sqrt()


def cross(input, other, dim=None):
    if dim is None:
        dim = next(i for i, s in enumerate(input.shape) if s == 3)
    d = _canon_dim(dim, input.ndim, "cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"cross: dimension {d} must have size 3, got shapes {tuple(input.shape)} and "
                           f"{tuple(other.shape)}")
    a = [input.select(d, i) for i in range(3)]
    b = [other.select(d, i) for i in range(3)]
    return stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], d)


def tensordot(a, b, dims=2):
    if isinstance(dims, (builtins.int, np.integer)):
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, (builtins.int, np.integer)) else list(da)
        db = [db] if isinstance(db, (builtins.int, np.integer)) else list(db)
    da = [_canon_dim(d, a.ndim, "tensordot", "dims") for d in da]
    db = [_canon_dim(d, b.ndim, "tensordot", "dims") for d in db]
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    am = a.permute(fa + da).reshape(-1, k)
    bm = b.permute(db + fb).reshape(k, -1)
    return am.matmul(bm).reshape([a.shape[d] for d in fa] + [b.shape[d] for d in fb])


def kron(input, other):
    a, b = input, other
    nd = builtins.max(a.ndim, b.ndim)
    a = a.reshape((1,) * (nd - a.ndim) + tuple(a.shape))
    b = b.reshape((1,) * (nd - b.ndim) + tuple(b.shape))
    ai = []
    bi = []
    for k in range(nd):
        ai += [a.shape[k], 1]
        bi += [1, b.shape[k]]
    out = a.reshape(ai) * b.reshape(bi)
    return out.reshape([a.shape[k] * b.shape[k] for k in range(nd)])


def take(input, index):
    return input.reshape(-1)[index]


def atleast_1d(*tensors):
    res = [t.reshape(1) if t.ndim == 0 else t for t in _flat(tensors)]
    return res[0] if len(res) == 1 else tuple(res)


def atleast_2d(*tensors):
    res = [t.reshape(1, -1) if t.ndim < 2 else t for t in _flat(tensors)]
    return res[0] if len(res) == 1 else tuple(res)


def _flat(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


def column_stack(tensors):
    return cat([t.reshape(-1, 1) if t.ndim < 2 else t for t in tensors], 1)


def dstack(tensors):
    ts = []
    for t in tensors:
        if t.ndim == 0:
            t = t.reshape(1, 1, 1)
        elif t.ndim == 1:
            t = t.reshape(1, -1, 1)
        elif t.ndim == 2:
            t = t.unsqueeze(-1)
        ts.append(t)
    return cat(ts, 2)


def block_diag(*tensors):
    ts = [t.reshape(1, -1) if t.ndim == 1 else (t.reshape(1, 1) if t.ndim == 0 else t) for t in tensors]
    cols = builtins.sum(t.shape[1] for t in ts)
    rows = []
    c0 = 0
    for t in ts:
        parts = []
        if c0:
            parts.append(t.new_zeros(t.shape[0], c0))
        parts.append(t)
        rest = cols - c0 - t.shape[1]
        if rest:
            parts.append(t.new_zeros(t.shape[0], rest))
        rows.append(cat(parts, 1))
        c0 += t.shape[1]
    return cat(rows, 0)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    s = sorted_sequence._data
    v = _array_on(s, input._data if isinstance(input, Tensor) else input)
    sd = side or ("right" if right else "left")
    if s.ndim == 1:
        out = np.searchsorted(s, v, side=sd)
    else:
        out = np.stack([np.searchsorted(si, vi, side=sd) for si, vi in zip(s.reshape(-1, s.shape[-1]),
                                                                             v.reshape(-1, v.shape[-1]))])
        out = out.reshape(v.shape)
    return _wrap(out.astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def histc(input, bins=100, min=0, max=0):
    a = input._data.reshape(-1)
    lo, hi = (float(a.min()), float(a.max())) if (min == 0 and max == 0 and a.size) else (min, max)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    h, _ = np.histogram(a, bins=bins, range=(lo, hi))
    return _wrap(h.astype(a.dtype if a.dtype.kind == "f" else _dt.get_default_dtype()))


def sum_to_size(input, *size):
    from .tensor import _sum_to
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    return _sum_to(input, size)


def index_fill(input, dim, index, value):
    d = _canon_dim(dim, input.ndim, "index_fill")
    a = input._data
    ia = _array_on(a, index._data if isinstance(index, Tensor) else index)
    _check_dim_index(ia, a.shape, d, "index_fill")
    mask = _xp(a).zeros(input.shape[d], dtype=bool)
    mask[ia] = True
    shape = [1] * input.ndim
    shape[d] = -1
    return input.masked_fill(mask.reshape(shape), value)


def index_copy(input, dim, index, source):
    d = _canon_dim(dim, input.ndim, "index_copy")
    a = input._data
    xp = _xp(a)
    ia = _array_on(a, index._data if isinstance(index, Tensor) else index)
    _check_dim_index(ia, a.shape, d, "index_copy")
    mask = xp.zeros(input.shape[d], dtype=bool)
    mask[ia] = True
    shape = [1] * input.ndim
    shape[d] = -1
    # place source rows at their indices (zeros elsewhere), then select
    order = xp.zeros(input.shape[d], dtype=np.int64)
    order[ia] = xp.arange(len(ia))
    placed = source.index_select(d, order)
    return where_(_wrap(mask.reshape(shape)), placed, input)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    p = batch1.matmul(batch2)
    return (input * beta if beta != 1 else input) + (p * alpha if alpha != 1 else p)


def fill_diagonal_(self, fill_value, wrap=False):
    n = builtins.min(self.shape)
    idx = tuple(_xp(self._data).arange(n) for _ in range(self.ndim))
    self[idx] = fill_value
    return self


def _bernoulli_method(self, p=None, *, generator=None):
    from .creation import bernoulli
    return bernoulli(self, p, generator=generator)


def _multinomial_method(self, num_samples, replacement=False, *, generator=None):
    from .creation import multinomial
    return multinomial(self, num_samples, replacement, generator=generator)


def _attach():
    g = globals()
    for n in ["logit", "xlogy", "sinc", "hypot", "cross", "kron", "take", "sum_to_size", "index_fill", "index_copy",
              "baddbmm", "fill_diagonal_"]:
        setattr(Tensor, n, g[n])
    Tensor.bernoulli = _bernoulli_method
    Tensor.multinomial = _multinomial_method

    def index_fill_(self, dim, index, value):
        return self._unary_inplace(lambda s: index_fill(s, dim, index, value))

    def index_copy_(self, dim, index, source):
        return self._unary_inplace(lambda s: index_copy(s, dim, index, source))
    Tensor.index_fill_ = index_fill_
    Tensor.index_copy_ = index_copy_


_attach()
