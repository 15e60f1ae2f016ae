"""``GINConv`` and ``GINEConv`` (graph isomorphism networks): x'_i = nn((1 + eps) x_i + sum_j m_ij), with
m_ij = x_j (one SpMM) or ReLU(x_j + edge_attr_ij) (GINE, messages built per edge)."""
from __future__ import annotations

from .... import creation
from ....nn import Sequential
from ....nn.module import Parameter
from ....tensor import Tensor
from ....autograd import no_grad
from ..dense.linear import Linear
from ..inits import reset
from .message_passing import MessagePassing

__all__ = ["GINConv", "GINEConv"]


def _eps(layer, eps, train_eps):
    layer.initial_eps = eps
    if train_eps:
        layer.eps = Parameter(creation.empty(1))
    else:
        layer.register_buffer("eps", creation.empty(1))


def _reset_eps(layer):
    with no_grad():
        layer.eps.fill_(layer.initial_eps)


class GINConv(MessagePassing):
    """PyG's ``GINConv(nn, eps=0.0, train_eps=False, **kwargs)``: ``nn.*`` the wrapped network's parameters,
    ``eps`` a parameter (``train_eps``) or a buffer."""

    _fused_message_weight = None

    def __init__(self, nn, eps=0.0, train_eps=False, **kwargs):
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.nn = nn
        _eps(self, eps, train_eps)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        reset(self.nn)
        _reset_eps(self)

    def forward(self, x, edge_index, size=None):
        if isinstance(x, Tensor):
            x = (x, x)
        out = self.propagate(edge_index, x=x, size=size)
        x_r = x[1]
        if x_r is not None:
            out = out + (1 + self.eps) * x_r
        return self.nn(out)

    def message(self, x_j):
        return x_j

    def __repr__(self):
        return f"{self.__class__.__name__}(nn={self.nn})"


class GINEConv(MessagePassing):
    """PyG's ``GINEConv(nn, eps=0.0, train_eps=False, edge_dim=None, **kwargs)``: with ``edge_dim`` the edge
    features are first mapped by ``lin`` (edge_dim -> the input width of ``nn``)."""

    def __init__(self, nn, eps=0.0, train_eps=False, edge_dim=None, **kwargs):
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.nn = nn
        _eps(self, eps, train_eps)
        if edge_dim is not None:
            first = self.nn[0] if isinstance(self.nn, Sequential) else self.nn
            if hasattr(first, "in_features"):
                in_channels = first.in_features
            elif hasattr(first, "in_channels"):
                in_channels = first.in_channels
            else:
                raise ValueError("Could not infer input channels from `nn`.")
            self.lin = Linear(edge_dim, in_channels)
        else:
            self.lin = None
        self.reset_parameters()

    def reset_parameters(self):
        reset(self.nn)
        _reset_eps(self)
        if self.lin is not None:
            self.lin.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None, size=None):
        if isinstance(x, Tensor):
            x = (x, x)
        out = self.propagate(edge_index, x=x, edge_attr=edge_attr, size=size)
        x_r = x[1]
        if x_r is not None:
            out = out + (1 + self.eps) * x_r
        return self.nn(out)

    def message(self, x_j, edge_attr):
        if not isinstance(edge_attr, Tensor):
            raise ValueError(f"{self.__class__.__name__}: 'edge_attr' is required (got {type(edge_attr).__name__})")
        if self.lin is None and x_j.shape[-1] != edge_attr.shape[-1]:
            raise ValueError("Node and edge feature dimensionalities do not match. Consider setting the "
                             "'edge_dim' attribute of 'GINEConv'")
        if self.lin is not None:
            edge_attr = self.lin(edge_attr)
        return (x_j + edge_attr).relu()

    def __repr__(self):
        return f"{self.__class__.__name__}(nn={self.nn})"
