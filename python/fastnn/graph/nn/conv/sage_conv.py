"""``SAGEConv`` (GraphSAGE): x'_i = W_1 x_i + W_2 aggr_{j in N(i)} x_j, the aggregation one SpMM."""
from __future__ import annotations

from ....nn import functional as F
from ....tensor import Tensor
from ..dense.linear import Linear
from .message_passing import MessagePassing

__all__ = ["SAGEConv"]


class SAGEConv(MessagePassing):
    """PyG's ``SAGEConv(in_channels, out_channels, aggr='mean', normalize=False, root_weight=True,
    project=False, bias=True, **kwargs)``: parameters ``lin_l`` (aggregated neighbours, with the bias),
    ``lin_r`` (root), ``lin`` (projection when ``project``). ``in_channels`` may be a pair (bipartite)."""

    _fused_message_weight = None

    def __init__(self, in_channels, out_channels, aggr="mean", normalize=False, root_weight=True, project=False,
                 bias=True, **kwargs):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.normalize = normalize
        self.root_weight = root_weight
        self.project = project
        if isinstance(in_channels, int):
            in_channels = (in_channels, in_channels)
        super().__init__(aggr, **kwargs)
        if self.project:
            if in_channels[0] <= 0:
                raise ValueError(f"'{self.__class__.__name__}' does not support lazy initialization with "
                                 f"`project=True`")
            self.lin = Linear(in_channels[0], in_channels[0], bias=True)
        self.lin_l = Linear(in_channels[0], out_channels, bias=bias)
        if self.root_weight:
            self.lin_r = Linear(in_channels[1], out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        if self.project:
            self.lin.reset_parameters()
        self.lin_l.reset_parameters()
        if self.root_weight:
            self.lin_r.reset_parameters()

    def forward(self, x, edge_index, size=None):
        if isinstance(x, Tensor):
            x = (x, x)
        if self.project and hasattr(self, "lin"):
            x = (self.lin(x[0]).relu(), x[1])
        out = self.propagate(edge_index, x=x, size=size)
        out = self.lin_l(out)
        x_r = x[1]
        if self.root_weight and x_r is not None:
            out = out + self.lin_r(x_r)
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out

    def message(self, x_j):
        return x_j

    def __repr__(self):
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, aggr={self.aggr})"
