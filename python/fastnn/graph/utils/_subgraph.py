"""Induced and k-hop subgraphs (``subgraph``, ``bipartite_subgraph``, ``k_hop_subgraph``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from .num_nodes import maybe_num_nodes


def _node_mask(subset, n, fn):
    """(mask over n nodes, sorted?-as-given index list) from a bool mask or an index list/tensor."""
    if isinstance(subset, (list, tuple)):
        subset = np.asarray(subset, dtype=np.int64).reshape(-1)
    arr = _arrays.host(subset, "subset") if not isinstance(subset, np.ndarray) else subset
    if arr.dtype == np.bool_:
        return arr.reshape(-1), np.flatnonzero(arr).astype(np.int64)
    idx = _arrays.mask_or_index(arr, n, fn)
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return mask, idx


def _relabel(ei, subset, n):
    """Edge endpoints renumbered by their position in ``subset`` (PyG's ``map_index``)."""
    assoc = np.full(n, -1, dtype=np.int64)
    assoc[subset] = np.arange(subset.size)
    return assoc[ei]


def subgraph(subset, edge_index, edge_attr=None, relabel_nodes=False, num_nodes=None, *, return_edge_mask=False):
    """The edges whose two endpoints lie in ``subset`` (indices or a boolean node mask):
    ``(edge_index, edge_attr)`` and, with ``return_edge_mask``, the boolean mask of kept edges.
    ``relabel_nodes`` renumbers node ``subset[k]`` as k."""
    fn = "subgraph"
    is_mask = _arrays.is_tensor(subset) and subset.dtype == np.bool_ or (
        isinstance(subset, np.ndarray) and subset.dtype == np.bool_)
    if is_mask:
        n = int(subset.shape[0])
        ei = _arrays.check_edge_index(edge_index, fn, n)
    else:
        ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
        n = maybe_num_nodes(edge_index, num_nodes)
    _arrays.check_edge_values(edge_attr, ei.shape[1], fn, "edge_attr")
    mask, idx = _node_mask(subset, n, fn)
    edge_mask = mask[ei[0]] & mask[ei[1]]
    keep = np.flatnonzero(edge_mask)
    out = ei[:, keep]
    if relabel_nodes:
        out = _relabel(out, idx, n)
    attr = None if edge_attr is None else _arrays.select_rows(edge_attr, keep)
    out = _arrays.long_tensor(out, edge_index)
    if return_edge_mask:
        return out, attr, _arrays.tensor(edge_mask, edge_index)
    return out, attr


def bipartite_subgraph(subset, edge_index, edge_attr=None, relabel_nodes=False, size=None, return_edge_mask=False):
    """The edges from ``subset[0]`` (source nodes) to ``subset[1]`` (target nodes) of a bipartite graph."""
    fn = "bipartite_subgraph"
    ei = _arrays.check_edge_index(edge_index, fn)
    _arrays.check_edge_values(edge_attr, ei.shape[1], fn, "edge_attr")
    masks, idxs = [], []
    for k, part in enumerate(subset):
        arr = np.asarray(part) if isinstance(part, (list, tuple)) else _arrays.host(part)
        if arr.dtype == np.bool_:
            n = arr.shape[0]
        else:
            n = (int(ei[k].max()) + 1 if ei.size else 0) if size is None else int(size[k])
        mask, idx = _node_mask(arr if arr.dtype == np.bool_ else arr.astype(np.int64), n, fn)
        masks.append(mask)
        idxs.append((idx, n))
    if ei.size and (ei[0].max() >= masks[0].size or ei[1].max() >= masks[1].size):
        raise IndexError(f"{fn}: argument 'edge_index' has node indices outside the given sizes")
    edge_mask = masks[0][ei[0]] & masks[1][ei[1]]
    keep = np.flatnonzero(edge_mask)
    out = ei[:, keep]
    if relabel_nodes:
        out = np.stack([_relabel(out[0], *idxs[0]), _relabel(out[1], *idxs[1])])
    attr = None if edge_attr is None else _arrays.select_rows(edge_attr, keep)
    out = _arrays.long_tensor(out, edge_index)
    if return_edge_mask:
        return out, attr, _arrays.tensor(edge_mask, edge_index)
    return out, attr


def k_hop_subgraph(node_idx, num_hops, edge_index, relabel_nodes=False, num_nodes=None,
                   flow="source_to_target", directed=False):
    """The nodes within ``num_hops`` hops of ``node_idx`` (the nodes whose messages reach them, for
    ``flow='source_to_target'``): ``(subset, edge_index, mapping, edge_mask)``, where ``subset`` is
    sorted, ``mapping`` gives the position of each ``node_idx`` in it, and the edges are those
    between subset nodes (``directed=True``: only the edges walked)."""
    fn = "k_hop_subgraph"
    if flow not in ("source_to_target", "target_to_source"):
        raise ValueError(f"{fn}: argument 'flow' must be 'source_to_target' or 'target_to_source', got {flow!r}")
    num_hops = _arrays.check_int(num_hops, fn, "num_hops")
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    n = maybe_num_nodes(edge_index, num_nodes)
    if flow == "target_to_source":
        row, col = ei[0], ei[1]
    else:
        col, row = ei[0], ei[1]
    if isinstance(node_idx, (int, np.integer)) and not isinstance(node_idx, bool):
        seeds = np.asarray([int(node_idx)], dtype=np.int64)
    elif isinstance(node_idx, (list, tuple)):
        seeds = np.asarray(node_idx, dtype=np.int64).reshape(-1)
    else:
        seeds = _arrays.check_index_tensor(node_idx, fn, "node_idx").reshape(-1)
    if seeds.size and (seeds.min() < 0 or seeds.max() >= n):
        raise IndexError(f"{fn}: argument 'node_idx' has nodes outside [0, num_nodes={n})")
    subsets = [seeds]
    walked = np.zeros(ei.shape[1], dtype=bool)
    node_mask = np.zeros(n, dtype=bool)
    for _ in range(num_hops):
        node_mask[:] = False
        node_mask[subsets[-1]] = True
        edge_mask = node_mask[row]
        walked |= edge_mask
        subsets.append(col[edge_mask])
    subset, inv = np.unique(np.concatenate(subsets), return_inverse=True)
    inv = inv[:seeds.size]
    node_mask[:] = False
    node_mask[subset] = True
    edge_mask = walked if directed else (node_mask[row] & node_mask[col])
    out = ei[:, edge_mask]
    if relabel_nodes:
        mapping = np.full(n, -1, dtype=np.int64)
        mapping[subset] = np.arange(subset.size)
        out = mapping[out]
    like = edge_index
    return (_arrays.long_tensor(subset, like), _arrays.long_tensor(out, like), _arrays.long_tensor(inv, like),
            _arrays.tensor(edge_mask, like))
