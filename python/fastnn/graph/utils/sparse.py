"""Dense adjacency matrices back to edge lists (``dense_to_sparse``)."""
from __future__ import annotations

import warnings

import numpy as np

from .. import _arrays


def dense_to_sparse(adj, mask=None):
    """``(edge_index, edge_attr)`` of the non-zero entries of a (N, M) or (B, N, M) dense adjacency.
    For a batch, row indices run over all B*N rows and column indices are offset by M per graph;
    ``mask`` (B, N) keeps only the valid rows of each graph, and the column offsets then count
    valid nodes (PyG's convention). Differentiable with respect to ``adj``'s values."""
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
    a = _arrays.host(adj.detach())
    cols = a.shape[-1]
    if adj.dim() == 2:
        row, col = np.nonzero(a)
        flat = row * cols + col
        ei = np.stack([row, col])
    else:
        rows = a.reshape(-1, cols)
        kept = np.arange(rows.shape[0])
        if mask is not None:
            m = _arrays.host(mask, "mask")
            if m.ndim != 2:
                raise ValueError(f"Mask must be two-dimensional (got {m.ndim} dimensions)")
            if a.shape[-2] != cols:
                raise ValueError(f"Mask is only supported on quadratic adjacency matrices (got [*, {a.shape[-2]}, "
                                 f"{cols}])")
            if m.shape != a.shape[:2]:
                raise ValueError(f"{fn}: argument 'mask' must have shape {list(a.shape[:2])}, got {list(m.shape)}")
            m = m.astype(bool)
            kept = np.flatnonzero(m.reshape(-1))
            count = m.sum(axis=-1)
            offset = np.repeat(np.concatenate([[0], np.cumsum(count)[:-1]]), count)
        else:
            offset = np.repeat(np.arange(a.shape[0], dtype=np.int64) * cols, a.shape[1])
        row, col = np.nonzero(rows[kept])
        flat = kept[row] * cols + col
        ei = np.stack([row, col + offset[row]])
    values = adj.reshape(-1).index_select(0, _arrays.long_tensor(flat, adj))
    return _arrays.long_tensor(ei, adj), values
