"""Graph layers (``torch_geometric.nn``): MessagePassing, the convolutions and global pooling."""
# The layers' imports go here (MessagePassing, GCNConv, SAGEConv, GINConv, GINEConv, GATConv,
# global_add_pool / global_mean_pool / global_max_pool).
