"""Graph utilities (``torch_geometric.utils``): edge_index manipulation, degrees, Laplacians,
conversions, subgraphs and sampling."""
from .num_nodes import maybe_num_nodes
from .degree import degree

from ._scatter import scatter
from ._softmax import softmax

__all__ = ["maybe_num_nodes", "degree", "scatter", "softmax"]
