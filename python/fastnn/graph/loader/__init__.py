"""Graph loaders (``torch_geometric.loader``): mini-batches of graphs and sampled neighbourhoods."""
from .dataloader import Collater, DataLoader
from .neighbor_loader import NeighborLoader, NeighborSampler

__all__ = ["DataLoader", "Collater", "NeighborLoader", "NeighborSampler"]
