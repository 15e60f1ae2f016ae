"""``GCNConv`` (Kipf & Welling) and ``gcn_norm``: X' = D^-1/2 (A + I) D^-1/2 X W + b, the propagation a
weighted SpMM over the cached CSR view. Without edge weights the normalised graph is a function of
``edge_index`` alone, so it is cached on the ``edge_index`` tensor (like the CSR view itself)."""
from __future__ import annotations

from ....nn.module import Parameter
from ....tensor import Tensor
from .... import creation
from ... import _aggregate
from ..dense.linear import Linear
from ..inits import zeros
from .message_passing import MessagePassing

__all__ = ["GCNConv", "gcn_norm"]


def gcn_norm(edge_index, edge_weight=None, num_nodes=None, improved=False, add_self_loops=True,
             flow="source_to_target", dtype=None):
    """(edge_index with self-loops added where missing, weights D^-1/2 A D^-1/2) as PyG's ``gcn_norm``:
    self-loops get weight 2 when ``improved`` else 1; the degree is the weighted in-degree (by ``flow``)."""
    from ...utils import add_remaining_self_loops, scatter
    from ...utils.num_nodes import maybe_num_nodes
    if flow not in ("source_to_target", "target_to_source"):
        raise ValueError(f"gcn_norm: expected 'flow' to be either 'source_to_target' or 'target_to_source' "
                         f"(got '{flow}')")
    fill_value = 2.0 if improved else 1.0
    num_nodes = maybe_num_nodes(edge_index, num_nodes)
    if add_self_loops:
        edge_index, edge_weight = add_remaining_self_loops(edge_index, edge_weight, fill_value, num_nodes)
    if edge_weight is None:
        edge_weight = creation.ones((edge_index.shape[1],), dtype=dtype, device=edge_index.device)
    row, col = edge_index[0], edge_index[1]
    idx = col if flow == "source_to_target" else row
    deg = scatter(edge_weight, idx, dim=0, dim_size=num_nodes, reduce="sum")
    deg_inv_sqrt = deg.pow(-0.5)
    deg_inv_sqrt = deg_inv_sqrt.masked_fill(deg_inv_sqrt == float("inf"), 0)
    edge_weight = deg_inv_sqrt[row] * edge_weight * deg_inv_sqrt[col]
    return edge_index, edge_weight


class GCNConv(MessagePassing):
    """PyG's ``GCNConv(in_channels, out_channels, improved=False, cached=False, add_self_loops=None,
    normalize=True, bias=True, **kwargs)``: parameters ``lin.weight`` (out, in) and ``bias``."""

    _fused_message_weight = "edge_weight"

    def __init__(self, in_channels, out_channels, improved=False, cached=False, add_self_loops=None,
                 normalize=True, bias=True, **kwargs):
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError(f"'{self.__class__.__name__}' does not support adding self-loops to the graph when "
                             f"no on-the-fly normalization is applied")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self._cached_edge_index = None
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        if bias:
            self.bias = Parameter(creation.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.lin.reset_parameters()
        zeros(self.bias)
        self._cached_edge_index = None

    def _normalized(self, x, edge_index, edge_weight):
        n = x.shape[self.node_dim]
        if edge_weight is not None:
            return gcn_norm(edge_index, edge_weight, n, self.improved, self.add_self_loops, self.flow, x.dtype)
        # a function of edge_index alone: kept on it, next to its CSR view
        c = _aggregate._cache(edge_index)
        key = ("gcn_norm", n, self.improved, self.add_self_loops, self.flow, x.dtype)
        r = c.get(key)
        if r is None:
            r = c[key] = gcn_norm(edge_index, None, n, self.improved, self.add_self_loops, self.flow, x.dtype)
        return r

    def forward(self, x, edge_index, edge_weight=None):
        if isinstance(x, (tuple, list)):
            raise ValueError(f"'{self.__class__.__name__}' received a tuple of node features as input while this "
                             f"layer does not support bipartite message passing. Please try other layers such as "
                             f"'SAGEConv' or 'GraphConv' instead")
        if not isinstance(x, Tensor):
            raise TypeError(f"{self.__class__.__name__}: argument 'x' must be a Tensor, got {type(x).__name__}")
        if self.normalize:
            _aggregate.check_edge_index(edge_index, self.__class__.__name__)
            cache = self._cached_edge_index
            if cache is None:
                edge_index, edge_weight = self._normalized(x, edge_index, edge_weight)
                if self.cached:
                    self._cached_edge_index = (edge_index, edge_weight)
            else:
                edge_index, edge_weight = cache
        x = self.lin(x)
        out = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_j, edge_weight):
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j
