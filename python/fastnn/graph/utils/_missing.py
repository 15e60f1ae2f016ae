"""PyG's convention for optional edge attributes: a function called without ``edge_attr`` returns
only the edge_index; called with one (even None) it returns ``(edge_index, edge_attr)``."""
MISSING = "???"


def edge_values(edge_attr, fn, num_edges):
    """The list of tensors in ``edge_attr`` (a Tensor, a list of Tensors, None or MISSING), each checked."""
    from .. import _arrays
    if edge_attr is None or isinstance(edge_attr, str):
        return []
    attrs = list(edge_attr) if isinstance(edge_attr, (list, tuple)) else [edge_attr]
    for a in attrs:
        _arrays.check_edge_values(a, num_edges, fn, "edge_attr")
    return attrs


def result(edge_index, edge_attr, new_attrs):
    """The return value in PyG's shape for the given ``edge_attr`` argument."""
    if isinstance(edge_attr, str):
        return edge_index
    if edge_attr is None:
        return edge_index, None
    if isinstance(edge_attr, (list, tuple)):
        return edge_index, new_attrs
    return edge_index, new_attrs[0]
