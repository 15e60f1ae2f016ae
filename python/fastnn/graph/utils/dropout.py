"""Random edge dropping for augmentation (``dropout_edge``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays


def dropout_edge(edge_index, p=0.5, force_undirected=False, training=True):
    """Drop each edge with probability ``p``: ``(edge_index, edge_mask)``, the mask telling the kept
    edges (with ``force_undirected``: the kept i<j edges and their reverses; the mask then holds
    their edge ids, twice). Draws from fastnn's generator."""
    fn = "dropout_edge"
    if p < 0.0 or p > 1.0:
        raise ValueError(f"Dropout probability has to be between 0 and 1 (got {p}")
    ei = _arrays.check_edge_index(edge_index, fn)
    if not training or p == 0.0:
        return edge_index, _arrays.tensor(np.ones(ei.shape[1], dtype=bool), edge_index)
    from ... import random as fastnn_random
    mask = fastnn_random.generator().random(ei.shape[1]) >= p
    if force_undirected:
        mask[ei[0] > ei[1]] = False
    out = ei[:, mask]
    if force_undirected:
        out = np.concatenate([out, out[::-1]], axis=1)
        ids = np.flatnonzero(mask)
        return _arrays.long_tensor(out, edge_index), _arrays.long_tensor(np.concatenate([ids, ids]), edge_index)
    return _arrays.long_tensor(out, edge_index), _arrays.tensor(mask, edge_index)
