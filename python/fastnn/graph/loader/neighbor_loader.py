"""Mini-batches of sampled neighbourhoods: ``torch_geometric.loader.NeighborLoader``.

For each batch of seed nodes, hop k samples up to ``num_neighbors[k]`` incoming edges of every
node reached at hop k-1 (the nodes whose messages reach it), so a model of len(num_neighbors)
message-passing layers computes exact outputs for the seeds from the sampled subgraph alone.
The sampling is done in numpy over a by-destination CSR of the graph, built once per loader; the
random draws come from fastnn's generator.
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

from ...data.dataloader import DataLoader as _BaseLoader
from .. import _arrays
from ..data import Data


class NeighborSampler:
    """Uniform neighbour sampling over the incoming edges of each node of ``data``."""

    def __init__(self, data, num_neighbors, replace=False, directed=True):
        fn = "NeighborLoader"
        if not isinstance(data, Data):
            raise TypeError(f"{fn}: argument 'data' must be a fastnn.graph.Data, got {type(data).__name__}")
        if isinstance(num_neighbors, dict):
            raise NotImplementedError(f"{fn}: per-edge-type 'num_neighbors' is for heterogeneous graphs, which "
                                      "fastnn.graph does not have")
        num_neighbors = list(num_neighbors)
        for k in num_neighbors:
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < -1:
                raise ValueError(f"{fn}: argument 'num_neighbors' must be a list of ints >= -1 (-1: all "
                                 f"neighbours), got {num_neighbors}")
        self.num_nodes = data.num_nodes
        ei = _arrays.check_edge_index(data.edge_index, fn, self.num_nodes, name="data.edge_index")
        order = np.argsort(ei[1], kind="stable")
        self.colptr = np.concatenate([[0], np.cumsum(np.bincount(ei[1], minlength=self.num_nodes))]).astype(np.int64)
        self.row = ei[0][order]
        self.eid = order.astype(np.int64)
        self.num_neighbors = [int(k) for k in num_neighbors]
        self.replace = bool(replace)
        self.directed = bool(directed)
        self._local = np.full(self.num_nodes, -1, dtype=np.int64)  # global → local id, reset after each batch

    def _pick(self, starts, degs, k, gen):
        """Positions (into the CSR) of up to ``k`` incoming edges of each node, grouped by node."""
        total = int(degs.sum())
        owner = np.repeat(np.arange(degs.size), degs)
        pos = np.repeat(starts - np.concatenate([[0], np.cumsum(degs)[:-1]]), degs) + np.arange(total)
        if k < 0 or total == 0:
            return pos, owner
        if self.replace:
            has = degs > 0
            owner = np.repeat(np.flatnonzero(has), k)
            offs = (gen.random(owner.size) * np.repeat(degs[has], k)).astype(np.int64)
            return starts[owner] + offs, owner
        # k without replacement per node: the k smallest random keys within each node's edges
        keys = gen.random(total)
        by = np.lexsort((keys, owner))
        rank = np.arange(total) - np.repeat(np.concatenate([[0], np.cumsum(degs)[:-1]]), degs)
        keep = by[rank < k]
        keep.sort()
        return pos[keep], owner[keep]

    def sample(self, seeds):
        """A Data-free sampling result: (n_id, local row, local col, e_id, nodes per hop, edges per hop)."""
        from ... import random as fastnn_random
        gen = fastnn_random.generator()
        local = self._local
        seeds = np.asarray(seeds, dtype=np.int64)
        uniq, first = np.unique(seeds, return_index=True)
        if uniq.size != seeds.size:
            raise ValueError("NeighborLoader: the seed nodes of a batch must be distinct ('input_nodes' has "
                             "repeated nodes)")
        n_id = [seeds]
        local[seeds] = np.arange(seeds.size)
        count = seeds.size
        frontier = seeds
        rows, cols, eids = [], [], []
        nodes_per_hop, edges_per_hop = [seeds.size], []
        try:
            for k in self.num_neighbors:
                starts = self.colptr[frontier]
                degs = self.colptr[frontier + 1] - starts
                pos, owner = self._pick(starts, degs, k, gen)
                src = self.row[pos]
                fresh = src[local[src] < 0]
                new_nodes, first = np.unique(fresh, return_index=True)
                new_nodes = new_nodes[np.argsort(first, kind="stable")]
                local[new_nodes] = np.arange(count, count + new_nodes.size)
                count += new_nodes.size
                n_id.append(new_nodes)
                rows.append(local[src])
                cols.append(local[frontier[owner]])
                eids.append(self.eid[pos])
                nodes_per_hop.append(int(new_nodes.size))
                edges_per_hop.append(int(pos.size))
                frontier = new_nodes
            nodes = np.concatenate(n_id)
            if self.directed:
                row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
                col = np.concatenate(cols) if cols else np.zeros(0, np.int64)
                e_id = np.concatenate(eids) if eids else np.zeros(0, np.int64)
            else:  # the subgraph induced by the sampled nodes: every edge between two of them
                starts = self.colptr[nodes]
                degs = self.colptr[nodes + 1] - starts
                pos, owner = self._pick(starts, degs, -1, gen)
                inside = local[self.row[pos]] >= 0
                pos, owner = pos[inside], owner[inside]
                row, col, e_id = local[self.row[pos]], owner.astype(np.int64), self.eid[pos]
        finally:
            local[np.concatenate(n_id)] = -1
        return nodes, row, col, e_id, nodes_per_hop, edges_per_hop


class NeighborLoader(_BaseLoader):
    """Iterate over ``input_nodes`` (all nodes by default; an index tensor or a boolean mask) in
    batches of ``batch_size`` seeds, yielding for each the sampled subgraph as a Data:

    - the node attributes of the sampled nodes, seeds first (``out[:batch.batch_size]`` are the
      seeds' outputs), their global ids in ``n_id``;
    - ``edge_index`` in local ids (source, target) and the edge attributes of the sampled edges,
      their global ids in ``e_id``;
    - ``input_id`` (positions of the seeds in ``input_nodes``), ``batch_size``,
      ``num_sampled_nodes`` / ``num_sampled_edges`` per hop.

    ``num_neighbors[k]`` caps the incoming edges sampled per node at hop k (-1: all);
    ``replace`` samples with replacement; ``directed=False`` returns every edge between sampled
    nodes. ``shuffle``, ``drop_last``, ``generator``... are fastnn.data.DataLoader's arguments.
    """

    def __init__(self, data, num_neighbors, input_nodes=None, input_time=None, replace=False,
                 subgraph_type="directional", disjoint=False, temporal_strategy="uniform", time_attr=None,
                 weight_attr=None, transform=None, transform_sampler_output=None, is_sorted=False,
                 filter_per_worker=None, neighbor_sampler=None, directed=True, **kwargs):
        fn = "NeighborLoader"
        if input_time is not None or time_attr is not None:
            raise NotImplementedError(f"{fn}: temporal sampling ('input_time', 'time_attr') is not supported")
        if weight_attr is not None:
            raise NotImplementedError(f"{fn}: weighted sampling ('weight_attr') is not supported")
        if disjoint:
            raise NotImplementedError(f"{fn}: 'disjoint' sampling is not supported")
        if subgraph_type not in ("directional", "bidirectional", "induced"):
            raise ValueError(f"{fn}: argument 'subgraph_type' must be 'directional', 'bidirectional' or 'induced', "
                             f"got {subgraph_type!r}")
        if subgraph_type == "bidirectional":
            raise NotImplementedError(f"{fn}: subgraph_type='bidirectional' is not supported")
        if subgraph_type == "induced":
            directed = False
        kwargs.pop("collate_fn", None)
        kwargs.pop("dataset", None)
        self.data = data
        self.node_sampler = neighbor_sampler or NeighborSampler(data, num_neighbors, replace, directed)
        self.num_neighbors = num_neighbors
        self.transform = transform
        n = self.node_sampler.num_nodes
        self.input_nodes = input_nodes
        if input_nodes is None:
            seeds = np.arange(n, dtype=np.int64)
        else:
            seeds = _arrays.mask_or_index(input_nodes, n, fn, "input_nodes")
        self._seeds = seeds
        super().__init__(np.arange(seeds.size, dtype=np.int64), collate_fn=self._collate, **kwargs)

    def _collate(self, index):
        input_id = np.asarray([int(i) for i in index], dtype=np.int64)
        nodes, row, col, e_id, nodes_per_hop, edges_per_hop = self.node_sampler.sample(self._seeds[input_id])
        out = self._filter(nodes, row, col, e_id)
        out.n_id = _arrays.long_tensor(nodes)
        out.e_id = _arrays.long_tensor(e_id)
        out.input_id = _arrays.long_tensor(input_id)
        out.batch_size = int(input_id.size)
        out.num_sampled_nodes = nodes_per_hop
        out.num_sampled_edges = edges_per_hop
        return self.transform(out) if self.transform is not None else out

    def _filter(self, nodes, row, col, e_id):
        data = self.data
        out = copy.copy(data)
        for key, value in data:
            if key == "edge_index":
                out.edge_index = _arrays.long_tensor(np.stack([row, col]), value)
            elif key == "num_nodes":
                out.num_nodes = int(nodes.size)
            elif data.is_node_attr(key):
                out[key] = _arrays.select_rows(value, nodes, data.__cat_dim__(key, value))
            elif data.is_edge_attr(key):
                out[key] = _arrays.select_rows(value, e_id, data.__cat_dim__(key, value))
        return out

    def __repr__(self):
        return f"{self.__class__.__name__}()"
