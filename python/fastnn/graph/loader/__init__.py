"""Graph loaders (``torch_geometric.loader``): mini-batches of graphs and sampled neighbourhoods."""
from .dataloader import Collater, DataLoader

__all__ = ["DataLoader", "Collater"]
