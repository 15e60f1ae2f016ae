"""Graph utilities (``torch_geometric.utils``): edge_index manipulation, degrees, Laplacians,
conversions, subgraphs and sampling. Indices are int64 tensors as in PyG; the functions accept
them on any device and return their results on the same device."""
from .num_nodes import maybe_num_nodes
from ._degree import degree
from .loop import (add_remaining_self_loops, add_self_loops, contains_self_loops, get_self_loop_attr,
                   remove_self_loops, segregate_self_loops)
from ._coalesce import coalesce, sort_edge_index
from .undirected import is_undirected, to_undirected
from .isolated import contains_isolated_nodes, remove_isolated_nodes
from .laplacian import get_laplacian
from ._to_dense_adj import to_dense_adj
from .sparse import dense_to_sparse
from .mask import index_to_mask, mask_select, mask_to_index
from ._one_hot import one_hot
from ._subgraph import bipartite_subgraph, k_hop_subgraph, subgraph
from ._negative_sampling import (batched_negative_sampling, negative_sampling, structured_negative_sampling,
                                 structured_negative_sampling_feasible)
from .dropout import dropout_edge
from .convert import from_networkx, from_scipy_sparse_matrix, to_networkx, to_scipy_sparse_matrix
from .smiles import from_smiles

# scatter / softmax over an index (the segment kernels):
from ._scatter import scatter
from ._softmax import softmax

__all__ = [
    "maybe_num_nodes", "degree", "scatter", "softmax",
    "contains_self_loops", "remove_self_loops", "segregate_self_loops", "add_self_loops",
    "add_remaining_self_loops", "get_self_loop_attr",
    "coalesce", "sort_edge_index", "is_undirected", "to_undirected",
    "contains_isolated_nodes", "remove_isolated_nodes",
    "get_laplacian", "to_dense_adj", "dense_to_sparse",
    "index_to_mask", "mask_to_index", "mask_select", "one_hot",
    "subgraph", "bipartite_subgraph", "k_hop_subgraph",
    "negative_sampling", "batched_negative_sampling", "structured_negative_sampling",
    "structured_negative_sampling_feasible", "dropout_edge",
    "from_networkx", "to_networkx", "to_scipy_sparse_matrix", "from_scipy_sparse_matrix",
    "from_smiles",
]
