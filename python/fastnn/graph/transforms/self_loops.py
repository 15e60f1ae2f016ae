"""Self-loop transforms (``AddSelfLoops``, ``AddRemainingSelfLoops``, ``RemoveSelfLoops``)."""
from __future__ import annotations

from ..utils import add_remaining_self_loops, add_self_loops, remove_self_loops
from .base_transform import BaseTransform


class AddSelfLoops(BaseTransform):
    """Add a self-loop to every node; attribute ``attr`` (default 'edge_weight', when present) gets
    ``fill_value`` for the new edges."""

    def __init__(self, attr="edge_weight", fill_value=1.0):
        self.attr = attr
        self.fill_value = fill_value

    def forward(self, data):
        if "edge_index" not in data:
            return data
        data.edge_index, data[self.attr] = add_self_loops(data.edge_index, edge_attr=data.get(self.attr),
                                                          fill_value=self.fill_value, num_nodes=data.num_nodes)
        return data


class AddRemainingSelfLoops(AddSelfLoops):
    """Add a self-loop to every node that has none (existing loops keep their ``attr``)."""

    def forward(self, data):
        if "edge_index" not in data:
            return data
        data.edge_index, data[self.attr] = add_remaining_self_loops(
            data.edge_index, edge_attr=data.get(self.attr), fill_value=self.fill_value, num_nodes=data.num_nodes)
        return data


class RemoveSelfLoops(BaseTransform):
    """Remove the self-loops; attribute ``attr`` (default 'edge_weight', when present) follows."""

    def __init__(self, attr="edge_weight"):
        self.attr = attr

    def forward(self, data):
        if "edge_index" not in data:
            return data
        data.edge_index, data[self.attr] = remove_self_loops(data.edge_index, edge_attr=data.get(self.attr))
        return data
