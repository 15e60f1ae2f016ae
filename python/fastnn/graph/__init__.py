"""Graph neural networks: PyTorch Geometric's counterpart.

``fastnn.graph`` mirrors ``torch_geometric``: ``data`` (Data, Batch), ``loader`` (DataLoader,
NeighborLoader), ``utils`` (degree, self loops, Laplacian, conversions, sampling, scatter),
``nn`` (MessagePassing and the convolution layers) and ``transforms``. Names, arguments,
defaults and return conventions follow PyG, so PyG code runs after renaming
``torch`` → ``fastnn`` and ``torch_geometric`` → ``fastnn.graph``.
"""
from . import data, loader, utils, transforms, nn  # noqa: F401
from .data import Batch, Data
from .loader import DataLoader

__all__ = ["Data", "Batch", "DataLoader", "data", "loader", "utils", "nn", "transforms"]
