"""Mini-batches of graphs: ``torch_geometric.loader.DataLoader`` over fastnn's DataLoader."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ...data.dataloader import DataLoader as _BaseLoader, default_collate
from .. import _arrays
from ..data import Batch, Data


class Collater:
    """Merge a list of samples: graphs into a :class:`Batch`, tensors stacked, numbers into tensors,
    containers field by field (PyG's ``Collater``)."""

    def __init__(self, dataset, follow_batch=None, exclude_keys=None):
        self.dataset = dataset
        self.follow_batch = follow_batch
        self.exclude_keys = exclude_keys

    def __call__(self, batch):
        elem = batch[0]
        if isinstance(elem, Data):
            return Batch.from_data_list(batch, follow_batch=self.follow_batch, exclude_keys=self.exclude_keys)
        if _arrays.is_tensor(elem):
            return default_collate(batch)
        if isinstance(elem, float):
            return _arrays.tensor(np.asarray(batch, dtype=np.float32))
        if isinstance(elem, int):
            return _arrays.tensor(np.asarray(batch))
        if isinstance(elem, str):
            return batch
        if isinstance(elem, Mapping):
            return {key: self([d[key] for d in batch]) for key in elem}
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):
            return type(elem)(*(self(s) for s in zip(*batch)))
        if isinstance(elem, Sequence):
            return [self(s) for s in zip(*batch)]
        raise TypeError(f"DataLoader found invalid type: '{type(elem)}'")


class DataLoader(_BaseLoader):
    """Iterate over a list/dataset of :class:`Data` in mini-batches merged into :class:`Batch` objects.

    Args:
        dataset: a sequence of Data (any object with ``__getitem__`` and ``__len__``).
        batch_size: graphs per batch.
        shuffle: a new random order every pass (fastnn's generator: ``fastnn.manual_seed`` reproduces it).
        follow_batch: attributes that get their own ``<key>_batch`` assignment vectors.
        exclude_keys: attributes left out of the batches.
        **kwargs: the other arguments of ``fastnn.data.DataLoader`` (``drop_last``, ``sampler``,
            ``generator``, ...); ``collate_fn`` is ignored, as in PyG.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, follow_batch=None, exclude_keys=None, **kwargs):
        kwargs.pop("collate_fn", None)
        self.follow_batch = follow_batch
        self.exclude_keys = exclude_keys
        super().__init__(dataset, batch_size, shuffle, collate_fn=Collater(dataset, follow_batch, exclude_keys),
                         **kwargs)
