"""Dense adjacency matrices from edge lists (``to_dense_adj``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from ._reduce import scatter_rows


def to_dense_adj(edge_index, batch=None, edge_attr=None, max_num_nodes=None, batch_size=None):
    """The (batch_size, max_num_nodes, max_num_nodes[, ...]) dense adjacency of each graph of a batch:
    entry (b, i, j) sums ``edge_attr`` (1 when None) over the edges i→j of graph b; nodes beyond
    ``max_num_nodes`` are dropped. Differentiable with respect to ``edge_attr``."""
    fn = "to_dense_adj"
    ei = _arrays.check_edge_index(edge_index, fn)
    if batch is None:
        b = np.zeros(int(ei.max()) + 1 if ei.size else 0, dtype=np.int64)
    else:
        b = _arrays.check_index_tensor(batch, fn, "batch", ndim=1)
        if ei.size and ei.max() >= b.shape[0]:
            raise IndexError(f"{fn}: argument 'edge_index' contains node {int(ei.max())}, but 'batch' has only "
                             f"{b.shape[0]} entries")
        if b.size and b.min() < 0:
            raise ValueError(f"{fn}: argument 'batch' contains a negative graph index")
    if batch_size is None:
        batch_size = int(b.max()) + 1 if b.size else 1
    batch_size = _arrays.check_int(batch_size, fn, "batch_size")
    if b.size and b.max() >= batch_size:
        raise ValueError(f"{fn}: argument 'batch' names graph {int(b.max())}, but batch_size={batch_size}")
    num_nodes = np.bincount(b, minlength=batch_size)
    cum = np.concatenate([[0], np.cumsum(num_nodes)])
    idx0 = b[ei[0]]
    idx1 = ei[0] - cum[b[ei[0]]]
    idx2 = ei[1] - cum[b[ei[1]]]
    if edge_attr is not None:
        _arrays.check_edge_values(edge_attr, ei.shape[1], fn, "edge_attr")
    if max_num_nodes is None:
        max_num_nodes = int(num_nodes.max()) if num_nodes.size else 0
    else:
        max_num_nodes = _arrays.check_int(max_num_nodes, fn, "max_num_nodes")
        keep = np.flatnonzero((idx1 < max_num_nodes) & (idx2 < max_num_nodes))
        if keep.size < idx0.size:
            idx0, idx1, idx2 = idx0[keep], idx1[keep], idx2[keep]
            edge_attr = None if edge_attr is None else _arrays.select_rows(edge_attr, keep)
    if edge_attr is None:
        from ... import ones
        edge_attr = ones(idx0.size).to(_arrays.device_of(edge_index))
    m = max_num_nodes
    flat = idx0 * m * m + idx1 * m + idx2
    adj = scatter_rows(edge_attr, flat, batch_size * m * m, "sum")
    return adj.reshape((batch_size, m, m) + tuple(edge_attr.shape[1:]))
