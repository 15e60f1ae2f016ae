"""Edge-level train/val/test split for link prediction (``torch_geometric.transforms.RandomLinkSplit``)."""
from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np

from .. import _arrays
from ..utils import negative_sampling
from .base_transform import BaseTransform


def _count(value, total):
    return int(value * total) if isinstance(value, float) else int(value)


class RandomLinkSplit(BaseTransform):
    """Split the edges into train / val / test graphs ``(train_data, val_data, test_data)``.

    The graphs carry the message-passing edges in ``edge_index`` (train: the training edges;
    val: the training edges; test: training and validation edges) and the supervision edges in
    ``<key>_index`` with labels ``<key>`` (1 for true edges, or the existing ``<key>`` + 1, and 0 for
    the sampled negatives); with ``split_labels`` in ``pos_<key>[_index]`` / ``neg_<key>[_index]``.
    ``is_undirected`` splits each pair {i, j} once (edges i <= j) and keeps both directions in the
    message-passing edges. ``disjoint_train_ratio`` keeps that share of the training edges for
    supervision only. Negatives: ``neg_sampling_ratio`` per positive, from
    :func:`~fastnn.graph.utils.negative_sampling`; the permutation and the negatives come from
    fastnn's generator (``fastnn.manual_seed`` reproduces a split).
    """

    def __init__(self, num_val=0.1, num_test=0.2, is_undirected=False, key="edge_label", split_labels=False,
                 add_negative_train_samples=True, neg_sampling_ratio=1.0, disjoint_train_ratio=0.0,
                 edge_types=None, rev_edge_types=None):
        for name, value in (("num_val", num_val), ("num_test", num_test),
                            ("disjoint_train_ratio", disjoint_train_ratio)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
                raise ValueError(f"RandomLinkSplit: argument '{name}' must be a non-negative int or float, "
                                 f"got {value!r}")
        if edge_types is not None:
            raise NotImplementedError("RandomLinkSplit: 'edge_types' is for heterogeneous graphs, which "
                                      "fastnn.graph does not have")
        self.num_val = num_val
        self.num_test = num_test
        self.is_undirected = is_undirected
        self.key = key
        self.split_labels = split_labels
        self.add_negative_train_samples = add_negative_train_samples
        self.neg_sampling_ratio = neg_sampling_ratio
        self.disjoint_train_ratio = disjoint_train_ratio
        self.edge_types = edge_types
        self.rev_edge_types = rev_edge_types

    def forward(self, data):
        train_data, val_data, test_data = copy.copy(data), copy.copy(data), copy.copy(data)
        ei = _arrays.check_edge_index(data.edge_index, "RandomLinkSplit", data.num_nodes, name="data.edge_index")
        from ... import random as fastnn_random
        gen = fastnn_random.generator()
        if self.is_undirected:
            candidates = np.flatnonzero(ei[0] <= ei[1])
            perm = candidates[gen.permutation(candidates.size)]
        else:
            perm = gen.permutation(ei.shape[1]).astype(np.int64)
        num_val = _count(self.num_val, perm.size)
        num_test = _count(self.num_test, perm.size)
        num_train = perm.size - num_val - num_test
        if num_train <= 0:
            raise ValueError("Insufficient number of edges for training")
        train_edges = perm[:num_train]
        val_edges = perm[num_train:num_train + num_val]
        test_edges = perm[num_train + num_val:]
        train_val_edges = perm[:num_train + num_val]
        num_disjoint = _count(self.disjoint_train_ratio, train_edges.size)
        if num_train - num_disjoint <= 0:
            raise ValueError("Insufficient number of edges for training")
        self._split(train_data, train_edges[num_disjoint:])
        self._split(val_data, train_edges)
        self._split(test_data, train_val_edges)

        num_neg_train = 0
        if self.add_negative_train_samples:
            num_neg_train = int((num_disjoint if num_disjoint > 0 else num_train) * self.neg_sampling_ratio)
        num_neg_val = int(num_val * self.neg_sampling_ratio)
        num_neg_test = int(num_test * self.neg_sampling_ratio)
        num_neg = num_neg_train + num_neg_val + num_neg_test
        neg = _arrays.host(negative_sampling(data.edge_index, data.num_nodes, num_neg_samples=num_neg,
                                             method="sparse"))
        if neg.shape[1] < num_neg:
            found = neg.shape[1]
            warnings.warn(f"There are not enough negative edges to satisfy the provided sampling ratio. The ratio "
                          f"will be adjusted to {found / num_neg:.2f}.", stacklevel=2)
            num_neg_train = int((num_neg_train / num_neg) * found)
            num_neg_val = int((num_neg_val / num_neg) * found)
            num_neg_test = found - num_neg_train - num_neg_val
        if num_disjoint > 0:
            train_edges = train_edges[:num_disjoint]
        self._create_label(data, train_edges, neg[:, num_neg_val + num_neg_test:], train_data)
        self._create_label(data, val_edges, neg[:, :num_neg_val], val_data)
        self._create_label(data, test_edges, neg[:, num_neg_val:num_neg_val + num_neg_test], test_data)
        return train_data, val_data, test_data

    def _split(self, out, index):
        """Keep the edges ``index`` (both directions when undirected) and their edge-level attributes."""
        from ... import cat
        edge_keys = {k for k in out.keys() if out.is_edge_attr(k)}
        for key, value in out.items():
            if key == "edge_index" or key not in edge_keys:
                continue
            value = _arrays.select_rows(value, index)
            out[key] = cat([value, value], dim=0) if self.is_undirected else value
        ei = _arrays.host(out.edge_index)[:, index]
        if self.is_undirected:
            ei = np.concatenate([ei, ei[::-1]], axis=1)
        out.edge_index = _arrays.long_tensor(ei, out.edge_index)

    def _create_label(self, data, index, neg, out):
        from ... import cat, ones, zeros
        like = data.edge_index
        pos_index = _arrays.host(like)[:, index]
        if self.key in data:
            label = _arrays.select_rows(data[self.key], index)
            if neg.size > 0:
                if label.dtype != np.int64:
                    raise TypeError(f"RandomLinkSplit: an existing '{self.key}' must be int64 to be shifted by the "
                                    f"negative label, got {label.dtype}")
                label = label + 1
            if self.key in out:
                del out[self.key]
        else:
            label = ones(index.size).to(_arrays.device_of(like))
        neg_label = zeros((neg.shape[1],) + tuple(label.shape[1:]), dtype=label.dtype, device=label.device)
        if self.split_labels:
            out[f"pos_{self.key}"] = label
            out[f"pos_{self.key}_index"] = _arrays.long_tensor(pos_index, like)
            if neg.size > 0:
                out[f"neg_{self.key}"] = neg_label
                out[f"neg_{self.key}_index"] = _arrays.long_tensor(neg, like)
        else:
            if neg.size > 0:
                label = cat([label, neg_label], dim=0)
                pos_index = np.concatenate([pos_index, neg], axis=1)
            out[self.key] = label
            out[f"{self.key}_index"] = _arrays.long_tensor(pos_index, like)

    def __repr__(self):
        return f"{self.__class__.__name__}(num_val={self.num_val}, num_test={self.num_test})"
