"""``scatter`` (PyG's ``torch_geometric.utils.scatter``): reduce the slices of a tensor along one dimension
into groups given by an index, on the segment kernels (the grouping is cached on the index tensor)."""
from __future__ import annotations

import numpy as np

from ...autograd import Function
from ...backend import array_module_of
from ...tensor import Tensor, _wrap
from .. import _aggregate

__all__ = ["scatter"]

_KERNEL_REDUCES = {"sum": "sum", "add": "sum", "mean": "mean", "max": "max", "min": "min", "amax": "max",
                   "amin": "min"}


def _move(t, dim):
    return t if dim == 0 else t.movedim(dim, 0)


class _ScatterMul(Function):
    """The product of each group (1 for an empty one); the gradient of a factor is the product of the others
    (computed directly for factors equal to zero)."""

    @staticmethod
    def forward(ctx, src, index, num):
        s, idx = src._data, index._data
        xp = array_module_of(s)
        out = xp.ones((num,) + s.shape[1:], s.dtype)
        xp.multiply.at(out, idx, s)
        ctx.save_for_backward(src)
        ctx.idx, ctx.out = idx, out
        return _wrap(out)

    @staticmethod
    def backward(ctx, gy):
        (src,) = ctx.saved_tensors
        s, idx, out = src._data, ctx.idx, ctx.out
        xp = array_module_of(s)
        zero = s == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            others = xp.where(zero, 0, out[idx] / xp.where(zero, 1, s))
        for pos in zip(*xp.nonzero(zero)):
            e, rest = pos[0], pos[1:]
            peers = xp.nonzero(idx == idx[e])[0]
            vals = s[(peers,) + tuple(rest)].copy()
            vals[peers == e] = 1
            others[pos] = vals.prod()
        return _wrap(gy._data[idx] * others), None, None


def scatter(src, index, dim=0, dim_size=None, reduce="sum"):
    """Reduce the slices ``src.select(dim, k)`` into ``dim_size`` groups ``index[k]`` (``index`` 1-D, one
    value per slice). ``reduce``: 'sum'/'add', 'mean', 'max'/'amax', 'min'/'amin' (an empty group gives 0),
    'mul' (an empty group gives 1) or 'any' (one of the slices). ``dim_size`` defaults to ``index.max() + 1``."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter: argument 'src' must be a Tensor, got {type(src).__name__}")
    if not isinstance(index, Tensor):
        raise TypeError(f"scatter: argument 'index' must be a Tensor, got {type(index).__name__}")
    if index.dim() != 1:
        raise ValueError(f"The `index` argument must be one-dimensional (got {index.dim()} dimensions)")
    if index._data.dtype.kind not in "iu":
        raise TypeError(f"scatter: argument 'index' must be an integer tensor, got {index._data.dtype}")
    dim = src.dim() + dim if dim < 0 else dim
    if dim < 0 or dim >= src.dim():
        raise ValueError(f"The `dim` argument must lay between 0 and {src.dim() - 1} (got {dim})")
    if src.shape[dim] != index.shape[0]:
        raise ValueError(f"scatter: argument 'index' has {index.shape[0]} entries but 'src' has {src.shape[dim]} "
                         f"slices along dim {dim} (src shape {tuple(src.shape)})")
    if dim_size is None:
        dim_size = int(index._data.max()) + 1 if index.numel() > 0 else 0
    dim_size = int(dim_size)
    if index._data.dtype not in (np.int64, np.int32):
        index = _wrap(index._data.astype(np.int64))
    x = _move(src, dim)
    mode = _KERNEL_REDUCES.get(reduce)
    if mode is not None:
        kind = x._data.dtype.kind
        if kind != "f":
            # integer / bool counts: exact in float64 below 2**53
            out = _aggregate.scatter(_wrap(x._data.astype(np.float64)), index, dim_size, mode)
            out = _wrap(out._data.astype(x._data.dtype))
        else:
            out = _aggregate.scatter(x, index, dim_size, mode)
    elif reduce == "mul":
        _aggregate.index_groups(index, dim_size, "scatter")   # range check
        out = _ScatterMul.apply(x, index, dim_size)
    elif reduce == "any":
        _aggregate.index_groups(index, dim_size, "scatter")
        xp = array_module_of(x._data)
        o = xp.zeros((dim_size,) + tuple(x._data.shape[1:]), x._data.dtype)
        o[index._data] = x._data
        out = _wrap(o)
    else:
        raise ValueError(f"Encountered invalid `reduce` argument '{reduce}'")
    return out if dim == 0 else out.movedim(0, dim)
