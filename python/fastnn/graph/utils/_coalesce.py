"""Sorting and de-duplicating edges (``sort_edge_index``, ``coalesce``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from ._missing import MISSING, edge_values, result
from ._reduce import scatter_rows

_REDUCES = ("sum", "add", "mean", "min", "max", "mul")


def _order(ei, sort_by_row):
    """The stable permutation sorting edges by (row, col), or by (col, row)."""
    first, second = (ei[0], ei[1]) if sort_by_row else (ei[1], ei[0])
    return np.lexsort((second, first)).astype(np.int64)


def sort_edge_index(edge_index, edge_attr=MISSING, num_nodes=None, sort_by_row=True):
    """``edge_index`` (and ``edge_attr``, a Tensor or list of Tensors) sorted by row then column
    (``sort_by_row=False``: by column then row)."""
    fn = "sort_edge_index"
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    attrs = edge_values(edge_attr, fn, ei.shape[1])
    perm = _order(ei, sort_by_row)
    out = _arrays.long_tensor(ei[:, perm], edge_index)
    return result(out, edge_attr, [_arrays.select_rows(a, perm) for a in attrs])


def coalesce(edge_index, edge_attr=MISSING, num_nodes=None, reduce="sum", is_sorted=False, sort_by_row=True):
    """Sort the edges (as :func:`sort_edge_index`) and merge duplicates; the attributes of
    duplicate edges are combined with ``reduce`` ('sum', 'mean', 'min', 'max', 'mul')."""
    fn = "coalesce"
    if reduce not in _REDUCES:
        raise ValueError(f"{fn}: argument 'reduce' must be one of {_REDUCES}, got {reduce!r}")
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    attrs = edge_values(edge_attr, fn, ei.shape[1])
    perm = np.arange(ei.shape[1], dtype=np.int64) if is_sorted else _order(ei, sort_by_row)
    ei = ei[:, perm]
    new = np.ones(ei.shape[1], dtype=bool)
    new[1:] = np.any(ei[:, 1:] != ei[:, :-1], axis=0)
    out = _arrays.long_tensor(ei[:, new], edge_index)
    if new.all():
        return result(out, edge_attr, [_arrays.select_rows(a, perm) for a in attrs])
    group = np.cumsum(new) - 1
    num_out = int(new.sum())
    return result(out, edge_attr, [scatter_rows(_arrays.select_rows(a, perm), group, num_out, reduce)
                                   for a in attrs])
