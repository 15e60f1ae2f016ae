"""The GEMM family: ``matmul`` (numpy's semantics) on fastnn's strided batched GEMM, any device."""
from __future__ import annotations

import math

import numpy as np

from .. import backend

_FLOATS = (np.float32, np.float64)


def _check_float(name, a, fn):
    if a.dtype not in _FLOATS:
        raise TypeError(f"{fn}: argument '{name}' must be float32 or float64, got {a.dtype}")


def _merge_dims(shape, strides_list):
    """Collapse adjacent dimensions that every array can walk with one stride (no copy needed).

    Returns (shape, [strides per array]) with size-1 dimensions dropped.
    """
    out_shape, out_strides = [], [[] for _ in strides_list]
    for d, n in enumerate(shape):
        if n == 1:
            continue
        if out_shape and all(s[-1] == st[d] * n for s, st in zip(out_strides, strides_list)):
            out_shape[-1] *= n
            for s, st in zip(out_strides, strides_list):
                s[-1] = st[d]
            continue
        out_shape.append(n)
        for s, st in zip(out_strides, strides_list):
            s.append(st[d])
    return out_shape, out_strides


def _broadcast_batch(sa, sb):
    """numpy's broadcast of two shape tuples, or None when they do not broadcast."""
    if sa == sb:
        return tuple(sa)
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
    out = []
    for x, y in zip(sa, sb):
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def matmul(a, b, out=None):
    """``numpy.matmul`` semantics (1-D operands, batched and broadcast batch dims), run by fastnn's GEMM.

    float32 or float64, both operands of the same dtype. Transposed, sliced and broadcast
    operands are passed to the kernel as strided views, never copied. ``out``, when given,
    must have the result's shape and dtype; it may be any strided view, even one that overlaps
    ``a`` or ``b`` (the result then goes through a temporary). 1-D @ 1-D gives a 0-d array.
    """
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        # The common case (every linear layer) without the general path's views; anything
        # unusual (bad input included) falls through to the general path below.
        dt = a.dtype
        if dt == b.dtype and dt.char in "fd" and a.shape[1] == b.shape[0]:
            shape = (a.shape[0], b.shape[1])
            if out is None:
                res = backend.empty(shape, dt, a)  # large results reuse pooled memory: no fresh page faults
            elif (type(out) is np.ndarray and out.shape == shape and out.dtype == dt and out.flags.writeable
                  and not np.may_share_memory(out, a) and not np.may_share_memory(out, b)):
                res = out
            else:
                res = None
            if res is not None:
                if res.size:
                    backend.kernel_module(backend.CPU).gemm(a[None], b[None], res[None])
                return res
    for name, x in (("a", a), ("b", b)):
        if not hasattr(x, "dtype") or not hasattr(x, "strides"):
            raise TypeError(f"matmul: argument '{name}' must be an array, got {type(x).__name__}")
    xp = backend.array_module_of(a)
    dev_a, dev_b = backend.device_of(a), backend.device_of(b)
    if dev_a is not dev_b and dev_a != dev_b:
        raise RuntimeError(f"matmul: 'a' is on {dev_a} but 'b' is on {dev_b}")
    _check_float("a", a, "matmul")
    _check_float("b", b, "matmul")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: arguments 'a' ({a.dtype}) and 'b' ({b.dtype}) must have the same dtype")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: {a2.shape[-1]} (dim -1 of 'a') "
            f"!= {b2.shape[-2]} (dim -2 of 'b')")
    batch_shape = _broadcast_batch(a2.shape[:-2], b2.shape[:-2])
    if batch_shape is None:
        raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} do not broadcast")
    M, K, N = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    final_shape = batch_shape + (M, N)
    if a.ndim == 1:
        final_shape = final_shape[:-2] + final_shape[-1:]
    if b.ndim == 1:
        final_shape = final_shape[:-1]
    if out is None:
        out = xp.empty(final_shape, dtype=a.dtype)
    else:
        if not isinstance(out, type(a)):
            raise TypeError(f"matmul: argument 'out' must be a {type(a).__name__}, got {type(out).__name__}")
        if out.shape != final_shape or out.dtype != a.dtype:
            raise ValueError(f"matmul: argument 'out' must have shape {final_shape} and dtype {a.dtype}, "
                             f"got {out.shape} and {out.dtype}")
        if not backend.is_writeable(out):
            raise ValueError("matmul: argument 'out' is read-only")
        if out.size and (xp.may_share_memory(out, a) or xp.may_share_memory(out, b)):
            out[...] = matmul(a, b)
            return out
    if out.size == 0:
        return out
    o2 = out[..., None] if b.ndim == 1 else out
    o2 = o2[..., None, :] if a.ndim == 1 else o2
    mod = backend.kernel_module(dev_a)
    tf32 = backend.allow_tf32("matmul")   # no effect on the CPU

    def gemm(x, y, o):
        mod.gemm(x, y, o, 1.0, 0.0, tf32)

    if not batch_shape:
        gemm(a2[None], b2[None], o2[None])
        return out
    # reshape() below only merges dimensions that _merge_dims found mergeable, so it always
    # returns a view, never a copy (a copy of `out` would lose the result).

    # Only 'a' has batch dimensions: when they fold into its rows (and into out's rows), one
    # (batch*M, K) @ (K, N) product replaces a batched call and the kernel sees a taller matrix.
    if b2.ndim == 2:
        shp, _ = _merge_dims(a2.shape[:-1], [a2.strides[:-1], o2.strides[:-1]])
        if len(shp) <= 1:
            rows = math.prod(a2.shape[:-1])
            gemm(a2.reshape((1, rows, K)), b2[None], o2.reshape((1, rows, N)))
            return out

    # General case: broadcast views (stride 0 on repeated operands), batch dimensions merged
    # where all three arrays allow it, a loop over whatever batch dimensions remain.
    A = xp.broadcast_to(a2, batch_shape + (M, K))
    B = xp.broadcast_to(b2, batch_shape + (K, N))
    nb = len(batch_shape)
    # The longest run of trailing batch dimensions that folds into one batch axis.
    for lead in range(nb + 1):
        shp, _ = _merge_dims(batch_shape[lead:], [A.strides[lead:nb], B.strides[lead:nb], o2.strides[lead:nb]])
        if len(shp) <= 1:
            break
    inner = math.prod(batch_shape[lead:])
    for idx in np.ndindex(*batch_shape[:lead]):
        gemm(A[idx].reshape((inner, M, K)), B[idx].reshape((inner, K, N)), o2[idx].reshape((inner, M, N)))
    return out


def sum_outer_inner(a, lead, keep):
    """Sums of C-contiguous float array ``a`` over its first ``lead`` dimensions and its dimensions after the
    next ``keep`` ones: shape ``a.shape[lead:lead + keep]``. Two matrix-vector products on the GEMM (rows summed
    against a vector of ones, then the leading block), which read memory at the kernel's speed where a
    multi-axis ufunc reduction (a bias gradient's sum over N, H and W) walks it in one thread. Device arrays
    use their library's sum."""
    shape = a.shape
    if not (0 <= lead and 0 <= keep and lead + keep <= a.ndim):
        raise ValueError(f"sum_outer_inner: 'lead' ({lead}) and 'keep' ({keep}) must be >= 0 with lead + keep <= "
                         f"the {a.ndim} dimensions of 'a' (shape {tuple(shape)})")
    # on a GPU the array library's own reduction is the fast one
    if type(a) is not np.ndarray or a.dtype not in _FLOATS or not a.flags.c_contiguous or 0 in shape:
        return a.sum(axis=tuple(range(lead)) + tuple(range(lead + keep, a.ndim)))
    outer = math.prod(shape[:lead])
    kept = shape[lead:lead + keep]
    middle = math.prod(kept)
    inner = math.prod(shape[lead + keep:])
    if inner > 1:
        rows = matmul(a.reshape(outer * middle, inner), np.ones((inner, 1), dtype=a.dtype)).reshape(outer, middle)
    else:
        rows = a.reshape(outer, middle)
    if outer > 1:
        rows = matmul(np.ones((1, outer), dtype=a.dtype), rows)
    elif inner == 1:
        rows = rows.copy()      # nothing summed: a new array all the same, never a view of ``a``
    return rows.reshape(kept)
