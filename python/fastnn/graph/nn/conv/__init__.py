"""Message passing layers (``torch_geometric.nn.conv``)."""
from .message_passing import MessagePassing
from .gcn_conv import GCNConv
from .sage_conv import SAGEConv
from .gin_conv import GINConv, GINEConv
from .gat_conv import GATConv

__all__ = ["MessagePassing", "GCNConv", "SAGEConv", "GINConv", "GINEConv", "GATConv"]
