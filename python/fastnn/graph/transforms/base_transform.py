"""The base of the graph transforms (``torch_geometric.transforms.BaseTransform``)."""
from __future__ import annotations

import copy


class BaseTransform:
    """A callable from a Data to a Data. ``__call__`` works on a shallow copy, so the input graph's
    attribute set is left as it was; subclasses implement ``forward``."""

    def __call__(self, data):
        return self.forward(copy.copy(data))

    def forward(self, data):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(data)")

    def __repr__(self):
        return f"{self.__class__.__name__}()"
