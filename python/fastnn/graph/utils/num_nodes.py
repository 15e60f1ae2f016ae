"""The number of nodes of an edge_index when not given (``maybe_num_nodes``)."""
from __future__ import annotations

from .. import _arrays


def maybe_num_nodes(edge_index, num_nodes=None):
    """``num_nodes`` when given, else ``edge_index.max() + 1`` (0 for no edges)."""
    if num_nodes is not None:
        return _arrays.check_int(num_nodes, "maybe_num_nodes", "num_nodes")
    if _arrays.is_tensor(edge_index) and edge_index.numel() > 0:
        return int(edge_index.max()) + 1
    if isinstance(edge_index, tuple):  # a (row, col) pair or a sparse matrix shape
        return max(maybe_num_nodes(e) for e in edge_index)
    return 0
