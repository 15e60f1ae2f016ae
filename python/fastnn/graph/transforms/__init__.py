"""Graph transforms (``torch_geometric.transforms``): callables from a Data to a Data."""
from .base_transform import BaseTransform
from .compose import Compose
from .to_undirected import ToUndirected
from .self_loops import AddRemainingSelfLoops, AddSelfLoops, RemoveSelfLoops
from .normalize_features import NormalizeFeatures
from .virtual_node import VirtualNode
from .random_link_split import RandomLinkSplit
from .random_node_split import RandomNodeSplit

__all__ = ["BaseTransform", "Compose", "ToUndirected", "AddSelfLoops", "AddRemainingSelfLoops", "RemoveSelfLoops",
           "NormalizeFeatures", "VirtualNode", "RandomLinkSplit", "RandomNodeSplit"]
