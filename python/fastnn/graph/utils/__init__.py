"""Graph utilities (``torch_geometric.utils``): edge_index manipulation, degrees, Laplacians,
conversions, subgraphs and sampling."""
from .num_nodes import maybe_num_nodes
from .degree import degree

# scatter / softmax over an index (the aggregation kernels):
# from .scatter import scatter
# from .softmax import softmax

__all__ = ["maybe_num_nodes", "degree"]
