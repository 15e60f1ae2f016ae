"""Graph containers (``torch_geometric.data``): one graph (:class:`Data`) and a batch of graphs (:class:`Batch`)."""
from .data import Data
from .batch import Batch

__all__ = ["Data", "Batch"]
