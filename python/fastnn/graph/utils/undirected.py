"""Undirected graphs: each edge in both directions (``is_undirected``, ``to_undirected``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from ._coalesce import _order, coalesce
from ._missing import MISSING, edge_values
from .num_nodes import maybe_num_nodes


def is_undirected(edge_index, edge_attr=None, num_nodes=None):
    """Whether every edge (i, j) has its reverse (j, i), with equal attributes when given."""
    fn = "is_undirected"
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    attrs = edge_values(edge_attr, fn, ei.shape[1])
    by_row, by_col = _order(ei, True), _order(ei, False)
    if not (np.array_equal(ei[0, by_row], ei[1, by_col]) and np.array_equal(ei[1, by_row], ei[0, by_col])):
        return False
    for a in attrs:
        h = _arrays.host(a)
        if not np.array_equal(h[by_row], h[by_col]):
            return False
    return True


def to_undirected(edge_index, edge_attr=MISSING, num_nodes=None, reduce="add"):
    """Add the reverse of every edge and coalesce; duplicated attributes are combined with
    ``reduce``. An int as second argument is taken as ``num_nodes``, as in PyG."""
    fn = "to_undirected"
    if isinstance(edge_attr, int) and not isinstance(edge_attr, bool):
        num_nodes, edge_attr = edge_attr, MISSING
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    attrs = edge_values(edge_attr, fn, ei.shape[1])
    both = _arrays.long_tensor(np.concatenate([ei, ei[::-1]], axis=1), edge_index)
    from ... import cat
    doubled = [cat([a, a], dim=0) for a in attrs]
    if isinstance(edge_attr, str) or edge_attr is None:
        new_attr = edge_attr
    elif isinstance(edge_attr, (list, tuple)):
        new_attr = doubled
    else:
        new_attr = doubled[0]
    return coalesce(both, new_attr, maybe_num_nodes(edge_index, num_nodes), reduce)
