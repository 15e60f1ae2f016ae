"""Array-level entry to the native kernels: arrays in, arrays out, dispatching on the array's device.

Tensor ops (autograd) call these; these call ``fastnn._C`` / ``fastnn._C_cuda``.
"""
from __future__ import annotations

import numpy as np

from . import backend

_FLOATS = (np.float32, np.float64)


def _check_float(name, a, fn):
    if a.dtype not in _FLOATS:
        raise TypeError(f"{fn}: argument '{name}' must be float32 or float64, got {a.dtype}")


def matmul(a, b, out=None):
    """``numpy.matmul`` semantics (1-D operands, batched and broadcast batch dims), run by fastnn's GEMM."""
    xp = backend.array_module_of(a)
    if backend.device_of(a) != backend.device_of(b):
        raise RuntimeError(f"matmul: 'a' is on {backend.device_of(a)} but 'b' is on {backend.device_of(b)}")
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
    try:
        batch_shape = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} do not broadcast") from None
    M, K, N = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    full_shape = batch_shape + (M, N)
    final_shape = full_shape
    if a.ndim == 1:
        final_shape = final_shape[:-2] + final_shape[-1:]
    if b.ndim == 1:
        final_shape = final_shape[:-1]
    if out is None:
        out = xp.empty(final_shape, dtype=a.dtype)
    elif out.shape != final_shape or out.dtype != a.dtype:
        raise ValueError(f"matmul: argument 'out' must have shape {final_shape} and dtype {a.dtype}, "
                         f"got {out.shape} and {out.dtype}")
    if out.size == 0:
        return out
    a3 = xp.broadcast_to(a2, batch_shape + (M, K)).reshape((-1, M, K))
    b3 = xp.broadcast_to(b2, batch_shape + (K, N)).reshape((-1, K, N))
    # A caller's non-contiguous `out` cannot always be viewed as 3-D: compute, then copy in.
    target = out if out.flags.c_contiguous else xp.empty(final_shape, dtype=a.dtype)
    o3 = target.reshape((-1, M, N))
    backend.kernel_module(backend.device_of(a)).gemm(a3, b3, o3)
    if target is not out:
        out[...] = target
    return out
