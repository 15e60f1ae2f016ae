"""``softmax`` (PyG's ``torch_geometric.utils.softmax``): softmax over the slices sharing an index value
(or lying in one ``ptr`` range), on the segment softmax kernel (attention over the edges of a node)."""
from __future__ import annotations

import numpy as np

from ...backend import array_module_of
from ...tensor import Tensor
from .. import _aggregate

__all__ = ["softmax"]


def _ptr_groups(ptr, n):
    """The contiguous groups of CSR pointer ``ptr`` over n slices, cached on ``ptr``."""
    c = _aggregate._cache(ptr)
    g = c.get(("ptr", n))
    if g is None:
        p = ptr._data
        if p.ndim != 1 or p.shape[0] < 1:
            raise ValueError(f"softmax: argument 'ptr' must be 1-D with at least one entry, got shape "
                             f"{tuple(p.shape)}")
        xp = array_module_of(p)
        p = xp.ascontiguousarray(p, dtype=np.int64)
        if int(p[0]) != 0 or int(p[-1]) != n or bool((p[1:] < p[:-1]).any()):
            raise ValueError(f"softmax: argument 'ptr' must rise from 0 to the {n} slices of 'src', got "
                             f"ptr[0]={int(p[0])}, ptr[-1]={int(p[-1])}")
        g = c[("ptr", n)] = _aggregate._Groups(p, xp.arange(n, dtype=np.int64), True)
    return g


def softmax(src, index=None, ptr=None, num_nodes=None, dim=0):
    """Softmax of ``src`` over the slices along ``dim`` that share a value of ``index`` (1-D, one value per
    slice; ``num_nodes`` defaults to ``index.max() + 1``), or that lie in one range ``ptr[s]:ptr[s+1]``
    when ``ptr`` is given. Each remaining position (column, head) is normalised separately."""
    if not isinstance(src, Tensor):
        raise TypeError(f"softmax: argument 'src' must be a Tensor, got {type(src).__name__}")
    dim = dim + src.dim() if dim < 0 else dim
    if dim < 0 or dim >= src.dim():
        raise ValueError(f"softmax: argument 'dim' must lie in [0, {src.dim() - 1}], got {dim}")
    x = src if dim == 0 else src.movedim(dim, 0)
    if ptr is not None:
        groups = _ptr_groups(ptr, x.shape[0])
        out = _aggregate._softmax_groups(x, groups)
    elif index is not None:
        if index.dim() != 1 or index.shape[0] != x.shape[0]:
            raise ValueError(f"softmax: argument 'index' must be 1-D with one value per slice of 'src' along "
                             f"dim {dim}, got index {tuple(index.shape)} and src {tuple(src.shape)}")
        n = num_nodes if num_nodes is not None else (int(index._data.max()) + 1 if index.numel() else 0)
        out = _aggregate._softmax_groups(x, _aggregate.index_groups(index, int(n), "softmax"))
    else:
        raise NotImplementedError("'softmax' requires 'index' to be specified")
    return out if dim == 0 else out.movedim(0, dim)
