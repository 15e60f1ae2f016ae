"""Graph transforms (``torch_geometric.transforms``): callables from a Data to a Data."""
from .base_transform import BaseTransform
from .compose import Compose

__all__ = ["BaseTransform", "Compose"]
