"""Nodes without edges (``contains_isolated_nodes``, ``remove_isolated_nodes``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from .num_nodes import maybe_num_nodes


def contains_isolated_nodes(edge_index, num_nodes=None):
    """Whether some node has no edge other than self-loops."""
    ei = _arrays.check_edge_index(edge_index, "contains_isolated_nodes", num_nodes)
    n = maybe_num_nodes(edge_index, num_nodes)
    ei = ei[:, ei[0] != ei[1]]
    return np.unique(ei).size < n


def remove_isolated_nodes(edge_index, edge_attr=None, num_nodes=None):
    """Drop the nodes without edges (self-loops do not count) and relabel the others:
    ``(edge_index, edge_attr, mask)`` with ``mask`` the kept nodes; the self-loops of kept nodes
    follow the other edges (one per node), as in PyG."""
    fn = "remove_isolated_nodes"
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    n = maybe_num_nodes(edge_index, num_nodes)
    _arrays.check_edge_values(edge_attr, ei.shape[1], fn, "edge_attr")
    is_loop = ei[0] == ei[1]
    keep_ids, loop_ids = np.flatnonzero(~is_loop), np.flatnonzero(is_loop)
    mask = np.zeros(n, dtype=bool)
    mask[ei[:, keep_ids].reshape(-1)] = True
    assoc = np.full(n, -1, dtype=np.int64)
    assoc[mask] = np.arange(int(mask.sum()))
    # one loop per kept node: the last loop written for it
    loop_of = np.full(n, -1, dtype=np.int64)
    loop_of[ei[0, loop_ids]] = np.arange(loop_ids.size)
    loop_sel = loop_of[mask & (loop_of >= 0)]
    loop_edges = ei[:, loop_ids[loop_sel]]
    out = np.concatenate([assoc[ei[:, keep_ids]], assoc[loop_edges]], axis=1)
    new_attr = None
    if edge_attr is not None:
        new_attr = _arrays.select_rows(edge_attr, np.concatenate([keep_ids, loop_ids[loop_sel]]))
    return _arrays.long_tensor(out, edge_index), new_attr, _arrays.tensor(mask, edge_index)
