"""Make a graph undirected (``torch_geometric.transforms.ToUndirected``)."""
from __future__ import annotations

from ..utils import to_undirected
from .base_transform import BaseTransform


class ToUndirected(BaseTransform):
    """Add the reverse of every edge and merge duplicates; the edge-level attributes follow, the
    attributes of merged edges combined with ``reduce`` ('add', 'mean', 'max', ...)."""

    def __init__(self, reduce="add", merge=True):
        self.reduce = reduce
        self.merge = merge

    def forward(self, data):
        if "edge_index" not in data:
            return data
        keys = [k for k in data.keys() if k != "edge_index" and data.is_edge_attr(k)]
        data.edge_index, values = to_undirected(data.edge_index, [data[k] for k in keys], reduce=self.reduce)
        for key, value in zip(keys, values):
            data[key] = value
        return data

    def __repr__(self):
        return f"{self.__class__.__name__}()"
