"""Dense adjacency matrices back to edge lists (``dense_to_sparse``)."""
from __future__ import annotations

import warnings

import numpy as np

from .. import _arrays


def dense_to_sparse(adj, mask=None):
    """``(edge_index, edge_attr)`` of the non-zero entries of a (N, N) or (B, N, N) dense adjacency;
    for a batch the node indices are offset per graph. ``mask`` (B, N) keeps only the valid nodes
    of each graph. Differentiable with respect to ``adj``'s values."""
    fn = "dense_to_sparse"
    if not _arrays.is_tensor(adj):
        raise TypeError(f"{fn}: argument 'adj' must be a Tensor, got {type(adj).__name__}")
    if adj.dim() < 2 or adj.dim() > 3:
        raise ValueError(f"Dense adjacency matrix 'adj' must be two- or three-dimensional (got {adj.dim()} "
                         "dimensions)")
    if mask is not None and adj.dim() == 2:
        warnings.warn("Mask should not be provided in case the dense adjacency matrix is two-dimensional",
                      stacklevel=2)
        mask = None
    if adj.dim() == 2:
        adj = adj.unsqueeze(0)
    a = _arrays.host(adj)
    b, n = a.shape[0], a.shape[1]
    if a.shape[2] != n:
        raise ValueError(f"{fn}: argument 'adj' must be square in its last two dimensions, got {list(a.shape)}")
    if mask is not None:
        m = _arrays.host(mask, "mask")
        if m.shape != (b, n):
            raise ValueError(f"{fn}: argument 'mask' must have shape {[b, n]}, got {list(m.shape)}")
        m = m.astype(bool)
        keep = m[:, :, None] & m[:, None, :]
        flat_vals = np.flatnonzero((a != 0) & keep)
        counts = m.sum(axis=1)
    else:
        flat_vals = np.flatnonzero(a != 0)
        counts = np.full(b, n, dtype=np.int64)
    g, rem = np.divmod(flat_vals, n * n)
    row, col = np.divmod(rem, n)
    if mask is not None:
        # the position of each node among the valid nodes of its graph
        local = np.cumsum(m, axis=1) - 1
        row, col = local[g, row], local[g, col]
    offset = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ei = np.stack([row + offset[g], col + offset[g]])
    values = adj.reshape(-1).index_select(0, _arrays.long_tensor(flat_vals, adj))
    return _arrays.long_tensor(ei, adj), values
