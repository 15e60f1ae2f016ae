"""``GATConv`` (graph attention): per-head attention logits a_src . x_j + a_dst . x_i (+ a_edge . e_ij),
LeakyReLU, softmax over each target's incoming edges (the segment softmax kernel over the cached CSR's
grouping), then the attention-weighted aggregation as one per-head weighted SpMM: the E x H x C message
tensor is never built. Self-loops (the graph without its own loops, plus one per node) are computed once
per ``edge_index`` and cached on it when there are no edge features."""
from __future__ import annotations

from .... import creation
from ....nn import functional as F
from ....nn.module import Parameter
from ....tensor import Tensor
from ... import _aggregate
from ..dense.linear import Linear
from ..inits import glorot, zeros
from .message_passing import MessagePassing

__all__ = ["GATConv"]


class GATConv(MessagePassing):
    """PyG's ``GATConv(in_channels, out_channels, heads=1, concat=True, negative_slope=0.2, dropout=0.0,
    add_self_loops=True, edge_dim=None, fill_value='mean', bias=True, residual=False, **kwargs)``.
    Parameters: ``lin`` (or ``lin_src`` / ``lin_dst`` for a pair of input sizes), ``att_src``, ``att_dst``
    (1, heads, out_channels), ``lin_edge`` / ``att_edge`` with ``edge_dim``, ``res`` with ``residual``,
    ``bias``. ``forward(x, edge_index, edge_attr=None, size=None, return_attention_weights=None)``."""

    _fused_message_weight = "alpha"

    def __init__(self, in_channels, out_channels, heads=1, concat=True, negative_slope=0.2, dropout=0.0,
                 add_self_loops=True, edge_dim=None, fill_value="mean", bias=True, residual=False, **kwargs):
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.edge_dim = edge_dim
        self.fill_value = fill_value
        self.residual = residual
        self.lin = self.lin_src = self.lin_dst = None
        if isinstance(in_channels, int):
            self.lin = Linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
        else:
            self.lin_src = Linear(in_channels[0], heads * out_channels, False, weight_initializer="glorot")
            self.lin_dst = Linear(in_channels[1], heads * out_channels, False, weight_initializer="glorot")
        self.att_src = Parameter(creation.empty(1, heads, out_channels))
        self.att_dst = Parameter(creation.empty(1, heads, out_channels))
        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, heads * out_channels, bias=False, weight_initializer="glorot")
            self.att_edge = Parameter(creation.empty(1, heads, out_channels))
        else:
            self.lin_edge = None
            self.register_parameter("att_edge", None)
        total_out_channels = out_channels * (heads if concat else 1)
        if residual:
            self.res = Linear(in_channels if isinstance(in_channels, int) else in_channels[1], total_out_channels,
                              bias=False, weight_initializer="glorot")
        else:
            self.register_parameter("res", None)
        if bias:
            self.bias = Parameter(creation.empty(total_out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for lin in (self.lin, self.lin_src, self.lin_dst, self.lin_edge, self.res):
            if lin is not None:
                lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        glorot(self.att_edge)
        zeros(self.bias)

    def _with_self_loops(self, edge_index, edge_attr, num_nodes):
        from ...utils import add_self_loops, remove_self_loops
        if edge_attr is not None:
            edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
            return add_self_loops(edge_index, edge_attr, fill_value=self.fill_value, num_nodes=num_nodes)
        c = _aggregate._cache(edge_index)
        key = ("gat_loops", num_nodes)
        r = c.get(key)
        if r is None:
            ei, _ = remove_self_loops(edge_index, None)
            r = c[key] = add_self_loops(ei, None, fill_value=self.fill_value, num_nodes=num_nodes)
        return r

    def forward(self, x, edge_index, edge_attr=None, size=None, return_attention_weights=None):
        H, C = self.heads, self.out_channels
        res = None
        if isinstance(x, Tensor):
            if x.dim() != 2:
                raise ValueError(f"Static graphs not supported in 'GATConv' (x has shape {tuple(x.shape)})")
            if self.res is not None:
                res = self.res(x)
            if self.lin is not None:
                x_src = x_dst = self.lin(x).view(-1, H, C)
            else:
                x_src = self.lin_src(x).view(-1, H, C)
                x_dst = self.lin_dst(x).view(-1, H, C)
        else:
            x_src, x_dst = x
            if x_src.dim() != 2:
                raise ValueError(f"Static graphs not supported in 'GATConv' (x has shape {tuple(x_src.shape)})")
            if x_dst is not None and self.res is not None:
                res = self.res(x_dst)
            if self.lin is not None:
                x_src = self.lin(x_src).view(-1, H, C)
                if x_dst is not None:
                    x_dst = self.lin(x_dst).view(-1, H, C)
            else:
                x_src = self.lin_src(x_src).view(-1, H, C)
                if x_dst is not None:
                    x_dst = self.lin_dst(x_dst).view(-1, H, C)
        x = (x_src, x_dst)
        alpha_src = (x_src * self.att_src).sum(dim=-1)
        alpha_dst = None if x_dst is None else (x_dst * self.att_dst).sum(-1)
        alpha = (alpha_src, alpha_dst)
        _aggregate.check_edge_index(edge_index, self.__class__.__name__)
        if self.add_self_loops:
            num_nodes = x_src.shape[0]
            if x_dst is not None:
                num_nodes = min(num_nodes, x_dst.shape[0])
            num_nodes = min(size) if size is not None else num_nodes
            edge_index, edge_attr = self._with_self_loops(edge_index, edge_attr, num_nodes)
        alpha = self.edge_updater(edge_index, alpha=alpha, edge_attr=edge_attr, size=size)
        out = self.propagate(edge_index, x=x, alpha=alpha, size=size)
        if self.concat:
            out = out.view(-1, self.heads * self.out_channels)
        else:
            out = out.mean(dim=1)
        if res is not None:
            out = out + res
        if self.bias is not None:
            out = out + self.bias
        if return_attention_weights:
            return out, (edge_index, alpha)
        return out

    def edge_update(self, alpha_j, alpha_i, edge_attr, index, ptr, dim_size):
        from ...utils import softmax
        alpha = alpha_j if alpha_i is None else alpha_j + alpha_i
        if index.numel() == 0:
            return alpha
        if edge_attr is not None and self.lin_edge is not None:
            if edge_attr.dim() == 1:
                edge_attr = edge_attr.view(-1, 1)
            edge_attr = self.lin_edge(edge_attr)
            edge_attr = edge_attr.view(-1, self.heads, self.out_channels)
            alpha_edge = (edge_attr * self.att_edge).sum(dim=-1)
            alpha = alpha + alpha_edge
        alpha = F.leaky_relu(alpha, self.negative_slope)
        alpha = softmax(alpha, index, ptr, dim_size)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        return alpha

    def message(self, x_j, alpha):
        return alpha.unsqueeze(-1) * x_j

    def __repr__(self):
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"
