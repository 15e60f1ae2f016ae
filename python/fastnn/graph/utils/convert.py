"""Conversions between graphs and networkx / scipy.sparse (``torch_geometric.utils.convert``).

networkx and scipy are imported only inside the functions that use them.
"""
from __future__ import annotations

import numpy as np

from .. import _arrays
from ._optional import require
from .num_nodes import maybe_num_nodes


def to_scipy_sparse_matrix(edge_index, edge_attr=None, num_nodes=None):
    """The (N, N) ``scipy.sparse.coo_matrix`` of the graph (values ``edge_attr``, default 1)."""
    fn = "to_scipy_sparse_matrix"
    sp = require("scipy.sparse", fn, "scipy")
    ei = _arrays.check_edge_index(edge_index, fn, num_nodes)
    if edge_attr is None:
        values = np.ones(ei.shape[1], dtype=np.float32)
    else:
        values = _arrays.host(edge_attr.detach() if _arrays.is_tensor(edge_attr) else edge_attr).reshape(-1)
        if values.shape[0] != ei.shape[1]:
            raise ValueError(f"{fn}: argument 'edge_attr' must hold one value per edge ({ei.shape[1]}), got "
                             f"{values.shape[0]}")
    n = maybe_num_nodes(edge_index, num_nodes)
    return sp.coo_matrix((values, (ei[0], ei[1])), (n, n))


def from_scipy_sparse_matrix(A):
    """``(edge_index, edge_weight)`` of a scipy sparse matrix (its stored entries, in COO order)."""
    A = A.tocoo()
    ei = np.stack([A.row.astype(np.int64), A.col.astype(np.int64)])
    return _arrays.long_tensor(ei), _arrays.tensor(np.asarray(A.data))


def _as_tensor(value):
    """``value`` as a tensor when it is numeric (torch.as_tensor's dtypes: int64, float32, bool), else as is."""
    if _arrays.is_tensor(value):
        return value
    if isinstance(value, (list, tuple)) and value and _arrays.is_tensor(value[0]):
        from ... import stack
        return stack(list(value), dim=0)
    try:
        arr = np.asarray(value)
    except Exception:  # ragged lists
        return value
    if arr.dtype.kind == "b":
        return _arrays.tensor(arr)
    if arr.dtype.kind in "iu":
        return _arrays.tensor(arr.astype(np.int64))
    if arr.dtype.kind == "f":  # an array keeps its dtype; Python floats become float32
        return _arrays.tensor(arr if isinstance(value, np.ndarray) else arr.astype(np.float32))
    return value


def from_networkx(G, group_node_attrs=None, group_edge_attrs=None):
    """A Data from a networkx graph: nodes numbered in ``G.nodes()`` order, ``edge_index`` in
    ``G.edges()`` order (an undirected graph becomes directed: both directions), node and edge
    attributes as tensors when numeric (lists otherwise, e.g. karate's ``club``), graph attributes
    copied. ``group_node_attrs`` / ``group_edge_attrs`` (a list of names, or 'all') are
    concatenated into ``x`` / ``edge_attr``."""
    fn = "from_networkx"
    nx = require("networkx", fn)
    G = G.to_directed() if not nx.is_directed(G) else G
    mapping = {node: i for i, node in enumerate(G.nodes())}
    edges = list(G.edges())
    ei = np.asarray([[mapping[s] for s, _ in edges], [mapping[d] for _, d in edges]], dtype=np.int64).reshape(2, -1)
    data_dict = {"edge_index": _arrays.long_tensor(ei)}
    node_attrs = list(next(iter(G.nodes(data=True)))[-1].keys()) if G.number_of_nodes() > 0 else []
    edge_attrs = list(next(iter(G.edges(data=True)))[-1].keys()) if G.number_of_edges() > 0 else []
    if group_node_attrs is not None and not isinstance(group_node_attrs, list):
        group_node_attrs = node_attrs
    if group_edge_attrs is not None and not isinstance(group_edge_attrs, list):
        group_edge_attrs = edge_attrs
    lists = {}
    for _, feats in G.nodes(data=True):
        if set(feats.keys()) != set(node_attrs):
            raise ValueError("Not all nodes contain the same attributes")
        for key, value in feats.items():
            lists.setdefault(str(key), []).append(value)
    for _, _, feats in G.edges(data=True):
        if set(feats.keys()) != set(edge_attrs):
            raise ValueError("Not all edges contain the same attributes")
        for key, value in feats.items():
            key = f"edge_{key}" if key in node_attrs else key
            lists.setdefault(str(key), []).append(value)
    data_dict.update(lists)
    for key, value in G.graph.items():
        if key in ("node_default", "edge_default"):
            continue
        key = f"graph_{key}" if key in node_attrs else key
        data_dict[str(key)] = value
    for key, value in list(data_dict.items()):
        data_dict[key] = _as_tensor(value)
    from ..data import Data
    data = Data.from_dict(data_dict)
    if group_node_attrs is not None:
        data.x = _group(data, group_node_attrs, lambda k: k, fn)
    if group_edge_attrs is not None:
        data.edge_attr = _group(data, group_edge_attrs, lambda k: f"edge_{k}" if k in node_attrs else k, fn)
    if data.x is None and data.pos is None:
        data.num_nodes = G.number_of_nodes()
    return data


def _group(data, keys, name_of, fn):
    from ... import cat
    parts = []
    for key in keys:
        value = data[name_of(key)]
        if not _arrays.is_tensor(value):
            raise ValueError(f"{fn}: attribute '{key}' is not numeric and cannot be grouped into a tensor")
        parts.append(value.reshape(-1, 1) if value.dim() <= 1 else value)
        del data[name_of(key)]
    return cat(parts, dim=-1)


def to_networkx(data, node_attrs=None, edge_attrs=None, graph_attrs=None, to_undirected=False, to_multi=False,
                remove_self_loops=False):
    """A networkx graph of ``data``: ``DiGraph`` (``Graph`` when ``to_undirected`` is True, 'upper' or
    'lower': the edges i<j, or i>j, only; Multi* with ``to_multi``), nodes 0..N-1 with the named
    node attributes, edges in edge_index order with the named edge attributes (tensors as lists)."""
    fn = "to_networkx"
    nx = require("networkx", fn)
    upper, lower = to_undirected == "upper", to_undirected == "lower"
    undirected = to_undirected is True or upper or lower
    if undirected:
        G = nx.MultiGraph() if to_multi else nx.Graph()
    else:
        G = nx.MultiDiGraph() if to_multi else nx.DiGraph()

    def plain(value):
        return value.tolist() if _arrays.is_tensor(value) else value

    for key in graph_attrs or []:
        G.graph[key] = plain(data[key])
    node_values = {key: data[key] for key in node_attrs or []}
    for i in range(data.num_nodes):
        G.add_node(i, **{key: plain(v[i]) for key, v in node_values.items()})
    ei = _arrays.check_edge_index(data.edge_index, fn, data.num_nodes, name="data.edge_index") \
        if data.edge_index is not None else np.zeros((2, 0), dtype=np.int64)
    edge_values = {key: data[key] for key in edge_attrs or []}
    for i, (v, w) in enumerate(ei.T.tolist()):
        if (upper and v > w) or (lower and v < w) or (remove_self_loops and v == w):
            continue
        G.add_edge(v, w, **{key: plain(val[i]) for key, val in edge_values.items()})
    return G
