"""Graph layers (``torch_geometric.nn``): MessagePassing, the convolutions and global pooling."""
from . import inits  # noqa: F401
from .conv import GATConv, GCNConv, GINConv, GINEConv, MessagePassing, SAGEConv
from .dense import Linear
from .pool import global_add_pool, global_max_pool, global_mean_pool

__all__ = ["MessagePassing", "GCNConv", "SAGEConv", "GINConv", "GINEConv", "GATConv", "Linear",
           "global_add_pool", "global_mean_pool", "global_max_pool"]
