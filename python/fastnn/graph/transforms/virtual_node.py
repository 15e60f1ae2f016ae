"""A node connected to every other (``torch_geometric.transforms.VirtualNode``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from .base_transform import BaseTransform


class VirtualNode(BaseTransform):
    """Append a virtual node (index ``num_nodes``) with edges to and from every node, so
    information travels between any two nodes in two hops. ``edge_type`` marks the edges: the
    original ones keep theirs (0 when absent), edges into the virtual node get max+1, edges out
    of it max+2. Node-level attributes get a zero row, edge-level ones zero rows (``edge_weight``
    ones), ``batch`` repeats its first entry."""

    def forward(self, data):
        from ... import cat, full
        ei = _arrays.check_edge_index(data.edge_index, "VirtualNode")
        n = data.num_nodes
        arange = np.arange(n, dtype=np.int64)
        virtual = np.full(n, n, dtype=np.int64)
        edge_index = _arrays.long_tensor(np.stack([np.concatenate([ei[0], arange, virtual]),
                                                   np.concatenate([ei[1], virtual, arange])]), data.edge_index)
        edge_type = data.get("edge_type")
        et = _arrays.host(edge_type) if edge_type is not None else np.zeros(ei.shape[1], dtype=np.int64)
        top = int(et.max()) if et.size else 0
        new_type = np.concatenate([et, np.full(n, top + 1, et.dtype), np.full(n, top + 2, et.dtype)])
        old = data.__copy__()
        for key, value in old.items():
            if key in ("edge_index", "edge_type") or not _arrays.is_tensor(value):
                continue
            dim = old.__cat_dim__(key, value)
            size = list(value.shape)
            if key == "edge_weight":
                size[dim], fill = 2 * n, 1.0
            elif key == "batch":
                size[dim], fill = 1, int(value[0])
            elif old.is_edge_attr(key):
                size[dim], fill = 2 * n, 0.0
            elif old.is_node_attr(key):
                size[dim], fill = 1, 0.0
            else:
                continue
            data[key] = cat([value, full(size, fill, dtype=value.dtype, device=value.device)], dim=dim)
        data.edge_index = edge_index
        data.edge_type = _arrays.tensor(new_type, data.edge_index)
        if "num_nodes" in data:
            data.num_nodes = n + 1
        return data
