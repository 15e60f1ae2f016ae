"""DataLoader and default_collate, as in ``torch.utils.data`` (single process, no samplers)."""
from __future__ import annotations

import collections.abc
import math
import numbers

import numpy as np

from . import _arrays
from .dataset import as_generator


def _stack(arrays, what):
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: {what} in a batch must all have the same shape, got shapes "
                           f"{sorted(shapes, key=str)}; pad them or pass a collate_fn")
    from .. import backend
    xp = backend.array_module_of(arrays[0])
    return _arrays.wrap(xp.stack(arrays))


def default_collate(batch):
    """Merge a list of samples into a batch: tensors, arrays and numbers are stacked into tensors
    with a new first dimension; tuples, lists, named tuples and dicts are collated field by field;
    strings are kept as lists. Python floats become float64 tensors and ints int64, as in PyTorch."""
    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)):
        raise TypeError(f"default_collate: 'batch' must be a list of samples, got {type(batch).__name__}")
    if len(batch) == 0:
        raise ValueError("default_collate: 'batch' is empty")
    elem = batch[0]
    if _arrays.is_tensor(elem):
        if not all(_arrays.is_tensor(b) for b in batch):
            raise TypeError("default_collate: a batch mixes tensors and other types")
        return _stack([b._data for b in batch], "tensors")
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSUV":
            raise TypeError(f"default_collate: numpy arrays of dtype {elem.dtype} cannot be collated into a tensor")
        return _stack([np.asarray(b) for b in batch], "arrays")
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "OSUV":
            return list(batch)
        return _arrays.wrap(np.asarray(batch, dtype=elem.dtype))
    if isinstance(elem, bool):
        return _arrays.wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return _arrays.wrap(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return _arrays.wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        keys = list(elem.keys())
        for b in batch:
            if not isinstance(b, collections.abc.Mapping) or set(b.keys()) != set(keys):
                raise RuntimeError(f"default_collate: every dict in a batch needs the same keys {keys}")
        return {k: default_collate([b[k] for b in batch]) for k in keys}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # named tuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size, got sizes "
                               f"{sorted({len(b) for b in batch})}")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


def default_convert(data):
    """Turn numpy arrays (also inside tuples, lists and dicts) into tensors; leave the rest as is."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OSUV":
        return _arrays.wrap(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Args:
        dataset: a Dataset (``__getitem__`` + ``__len__``), a Tensor or a numpy array (rows are samples).
        batch_size: samples per batch; ``None`` yields the samples one by one, unbatched.
        shuffle: draw a new order at the start of every pass, from ``generator``.
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        drop_last: drop the final batch when it is smaller than ``batch_size``.
        generator: a numpy Generator or an int seed; default fastnn's global generator, so
            ``fastnn.manual_seed`` makes the order reproducible.
        num_workers, pin_memory: accepted for PyTorch compatibility; batches are always built in
            the calling process.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, *, collate_fn=None, drop_last=False,
                 generator=None, num_workers=0, pin_memory=False):
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: 'dataset' must define __getitem__ and __len__, got {type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                       or batch_size < 1):
            raise ValueError(f"DataLoader: 'batch_size' must be a positive int or None, got {batch_size!r}")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: 'drop_last' needs a 'batch_size' (it is None)")
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: 'num_workers' must be a non-negative int, got {num_workers!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: 'collate_fn' must be callable, got {type(collate_fn).__name__}")
        if generator is not None:
            as_generator(generator)  # validate now rather than at the first epoch
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self._custom_collate = collate_fn is not None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_size is not None else default_convert)

    def __len__(self):
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _batch_fetcher(self):
        """A function from an index array to a whole batch, when the dataset allows it."""
        if self._custom_collate or self.batch_size is None:
            return None
        ds = self.dataset
        if _arrays.is_tensor(ds):
            return lambda idx: _arrays.wrap(ds._data[idx])
        if isinstance(ds, np.ndarray) and ds.dtype.kind not in "OSUV":
            return lambda idx: _arrays.wrap(ds[idx])
        return getattr(ds, "_fetch_batch", None)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = as_generator(self.generator).permutation(n)
        else:
            order = np.arange(n)
        if self.batch_size is None:
            for i in order.tolist():
                yield self.collate_fn(self.dataset[i])
            return
        fetch = self._batch_fetcher()
        bs = self.batch_size
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            if len(idx) < bs and self.drop_last:
                return
            if fetch is not None:
                yield fetch(idx)
            else:
                yield self.collate_fn([self.dataset[i] for i in idx.tolist()])
