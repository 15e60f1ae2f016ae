"""Self-loops: test, remove, add (``torch_geometric.utils.loop``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from ._reduce import scatter_rows
from .num_nodes import maybe_num_nodes


def contains_self_loops(edge_index):
    """Whether ``edge_index`` has an edge from a node to itself."""
    ei = _arrays.check_edge_index(edge_index, "contains_self_loops")
    return bool(np.any(ei[0] == ei[1]))


def remove_self_loops(edge_index, edge_attr=None):
    """``(edge_index, edge_attr)`` without the self-loops (edge order kept)."""
    ei = _arrays.check_edge_index(edge_index, "remove_self_loops")
    _arrays.check_edge_values(edge_attr, ei.shape[1], "remove_self_loops", "edge_attr")
    keep = np.flatnonzero(ei[0] != ei[1])
    out = _arrays.long_tensor(ei[:, keep], edge_index)
    return out, (None if edge_attr is None else _arrays.select_rows(edge_attr, keep))


def segregate_self_loops(edge_index, edge_attr=None):
    """``(edge_index, edge_attr, loop_edge_index, loop_edge_attr)``: the edges without and the self-loops."""
    ei = _arrays.check_edge_index(edge_index, "segregate_self_loops")
    _arrays.check_edge_values(edge_attr, ei.shape[1], "segregate_self_loops", "edge_attr")
    loop = ei[0] == ei[1]
    keep, loops = np.flatnonzero(~loop), np.flatnonzero(loop)
    sel = (lambda i: None) if edge_attr is None else (lambda i: _arrays.select_rows(edge_attr, i))
    return (_arrays.long_tensor(ei[:, keep], edge_index), sel(keep),
            _arrays.long_tensor(ei[:, loops], edge_index), sel(loops))


def _loop_attr(ei, edge_attr, n, fill_value, fn):
    """The attributes of ``n`` new self-loops: ones, a constant, a tensor broadcast, or the
    ``fill_value`` reduction ('add', 'mean', 'max', ...) of each node's incoming edge attributes."""
    from ... import full, ones
    size = (n,) + tuple(edge_attr.shape[1:])
    if fill_value is None:
        return ones(size, dtype=edge_attr.dtype, device=edge_attr.device)
    if isinstance(fill_value, (int, float)) and not isinstance(fill_value, bool):
        return full(size, fill_value, dtype=edge_attr.dtype, device=edge_attr.device)
    if _arrays.is_tensor(fill_value):
        value = fill_value.to(edge_attr.dtype)
        if value.dim() != edge_attr.dim():
            value = value.unsqueeze(0)
        return value.expand(size).contiguous()
    if isinstance(fill_value, str):
        return scatter_rows(edge_attr, ei[1], n, fill_value)
    raise AttributeError(f"{fn}: no valid 'fill_value' provided (None, a number, a Tensor or a reduction name), "
                         f"got {fill_value!r}")


def add_self_loops(edge_index, edge_attr=None, fill_value=None, num_nodes=None):
    """Append a self-loop (i, i) for every node; ``edge_attr`` gets ``fill_value`` rows for them
    (None: ones; a number; a Tensor; or 'add'/'mean'/'max'/... of the node's incoming edges).
    ``num_nodes`` may be an (N_src, N_dst) pair: then min(N_src, N_dst) loops."""
    fn = "add_self_loops"
    if isinstance(num_nodes, (tuple, list)):
        n = min(_arrays.check_int(v, fn, "num_nodes") for v in num_nodes)
        ei = _arrays.check_edge_index(edge_index, fn)
    else:
        ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
        n = maybe_num_nodes(edge_index, num_nodes)
    _arrays.check_edge_values(edge_attr, ei.shape[1], fn, "edge_attr")
    loops = np.arange(n, dtype=np.int64)
    out = _arrays.long_tensor(np.concatenate([ei, np.stack([loops, loops])], axis=1), edge_index)
    if edge_attr is not None:
        from ... import cat
        edge_attr = cat([edge_attr, _loop_attr(ei, edge_attr, n, fill_value, fn)], dim=0)
    return out, edge_attr


def add_remaining_self_loops(edge_index, edge_attr=None, fill_value=None, num_nodes=None):
    """Replace the self-loops by one per node, appended at the end; a node that had a self-loop
    keeps that loop's attribute (of its last one), the others get ``fill_value``."""
    fn = "add_remaining_self_loops"
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    n = maybe_num_nodes(edge_index, num_nodes)
    _arrays.check_edge_values(edge_attr, ei.shape[1], fn, "edge_attr")
    is_loop = ei[0] == ei[1]
    keep = np.flatnonzero(~is_loop)
    loops = np.arange(n, dtype=np.int64)
    out = _arrays.long_tensor(np.concatenate([ei[:, keep], np.stack([loops, loops])], axis=1), edge_index)
    if edge_attr is not None:
        from ... import cat
        num_edges = ei.shape[1]
        stacked = cat([edge_attr, _loop_attr(ei, edge_attr, n, fill_value, fn)], dim=0)
        pick = num_edges + loops  # the filled row of each node, unless it has a loop of its own
        loop_ids = np.flatnonzero(is_loop)
        pick[ei[0, loop_ids]] = loop_ids  # later loops overwrite earlier ones
        edge_attr = _arrays.select_rows(stacked, np.concatenate([keep, pick]))
    return out, edge_attr


def get_self_loop_attr(edge_index, edge_attr=None, num_nodes=None):
    """The attribute of each node's self-loop (0 without one; 1 per loop when ``edge_attr`` is None)."""
    fn = "get_self_loop_attr"
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    n = maybe_num_nodes(edge_index, num_nodes)
    loop_ids = np.flatnonzero(ei[0] == ei[1])
    if edge_attr is None:
        from ... import ones
        values = ones(loop_ids.size)
        values = values.to(_arrays.device_of(edge_index))
    else:
        values = _arrays.select_rows(_arrays.check_edge_values(edge_attr, ei.shape[1], fn, "edge_attr"), loop_ids)
    # the last loop of a node wins, as in an indexed assignment
    last = np.full(n, -1, dtype=np.int64)
    last[ei[0, loop_ids]] = np.arange(loop_ids.size)
    from ... import cat, zeros
    padded = cat([values, zeros((1,) + tuple(values.shape[1:]), dtype=values.dtype, device=values.device)], dim=0)
    return _arrays.select_rows(padded, np.where(last >= 0, last, loop_ids.size))
