"""Rows of a tensor reduced by a host index: the one place the utilities reduce edge values."""
from __future__ import annotations

from .. import _arrays


def scatter_rows(src, index, dim_size, reduce="sum"):
    """Rows of ``src`` (a Tensor) summed / reduced into ``dim_size`` rows by the host int64 array
    ``index``; differentiable. Sums use ``index_add``; the other reductions the segment kernels
    behind :func:`fastnn.graph.utils.scatter`."""
    idx = _arrays.long_tensor(index, src)
    if reduce in ("sum", "add"):
        from ... import zeros
        out = zeros((dim_size,) + tuple(src.shape[1:]), dtype=src.dtype, device=src.device)
        return out.index_add(0, idx, src)
    from . import scatter  # noqa: PLC0415  (fastnn.graph.utils.scatter)
    return scatter(src, idx, dim=0, dim_size=dim_size, reduce=reduce)
