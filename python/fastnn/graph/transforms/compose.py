"""Transforms applied one after the other (``torch_geometric.transforms.Compose``)."""
from __future__ import annotations

from .base_transform import BaseTransform


class Compose(BaseTransform):
    """Apply ``transforms`` in order; a transform may return a tuple/list of graphs, each then transformed."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def forward(self, data):
        for transform in self.transforms:
            if isinstance(data, (list, tuple)):
                data = [transform(d) for d in data]
            else:
                data = transform(data)
        return data

    def __repr__(self):
        args = [f"  {transform}" for transform in self.transforms]
        return "{}([\n{}\n])".format(self.__class__.__name__, ",\n".join(args))
