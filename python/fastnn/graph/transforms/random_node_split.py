"""Node-level train/val/test masks (``torch_geometric.transforms.RandomNodeSplit``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from .base_transform import BaseTransform

_SPLITS = ("train_rest", "test_rest", "random")


class RandomNodeSplit(BaseTransform):
    """Add boolean ``train_mask`` / ``val_mask`` / ``test_mask`` over the nodes.

    ``split='train_rest'``: ``num_val`` and ``num_test`` random nodes (floats: shares of the nodes),
    the rest for training; ``'test_rest'`` / ``'random'``: ``num_train_per_class`` training nodes per
    class of ``data[key]``, then ``num_val`` validation nodes, and the rest (or ``num_test``) for
    testing. ``num_splits > 1`` stacks that many splits as columns. Draws from fastnn's generator.
    """

    def __init__(self, split="train_rest", num_splits=1, num_train_per_class=20, num_val=500, num_test=1000,
                 key="y"):
        if split not in _SPLITS:
            raise ValueError(f"RandomNodeSplit: argument 'split' must be one of {_SPLITS}, got {split!r}")
        self.split = split
        self.num_splits = num_splits
        self.num_train_per_class = num_train_per_class
        self.num_val = num_val
        self.num_test = num_test
        self.key = key

    def forward(self, data):
        if self.key is not None and self.key not in data:
            return data
        masks = [self._split(data) for _ in range(self.num_splits)]
        for i, name in enumerate(("train_mask", "val_mask", "test_mask")):
            stacked = np.stack([m[i] for m in masks], axis=-1)
            data[name] = _arrays.tensor(stacked[..., 0] if self.num_splits == 1 else stacked)
        return data

    def _split(self, data):
        from ... import random as fastnn_random
        gen = fastnn_random.generator()
        n = data.num_nodes
        train, val, test = (np.zeros(n, dtype=bool) for _ in range(3))
        num_val = round(n * self.num_val) if isinstance(self.num_val, float) else self.num_val
        num_test = round(n * self.num_test) if isinstance(self.num_test, float) else self.num_test
        if self.split == "train_rest":
            perm = gen.permutation(n)
            val[perm[:num_val]] = True
            test[perm[num_val:num_val + num_test]] = True
            train[perm[num_val + num_test:]] = True
            return train, val, test
        y = _arrays.host(data[self.key]).reshape(-1)
        for c in range(int(y.max()) + 1 if y.size else 0):
            idx = np.flatnonzero(y == c)
            train[idx[gen.permutation(idx.size)][:self.num_train_per_class]] = True
        rest = np.flatnonzero(~train)
        rest = rest[gen.permutation(rest.size)]
        val[rest[:num_val]] = True
        test[rest[num_val:] if self.split == "test_rest" else rest[num_val:num_val + num_test]] = True
        return train, val, test

    def __repr__(self):
        return f"{self.__class__.__name__}(split={self.split})"
