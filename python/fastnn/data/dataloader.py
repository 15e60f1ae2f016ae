"""DataLoader and default_collate, as in ``torch.utils.data`` (single process)."""
from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from . import _arrays
from .dataset import as_generator
from .sampler import BatchSampler, RandomSampler, SequentialSampler


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
    """Iterate over ``dataset`` in batches (``torch.utils.data.DataLoader``'s arguments and rules).

    Args:
        dataset: a Dataset (``__getitem__`` + ``__len__``), a Tensor or a numpy array (rows are samples).
        batch_size: samples per batch; ``None`` yields the samples one by one, unbatched.
        shuffle: visit the samples in a new random order every pass (a ``RandomSampler``).
        sampler: the order of the samples (a Sampler or any iterable of indices with ``__len__``);
            excludes ``shuffle``.
        batch_sampler: yields whole batches as lists of indices (e.g. buckets of sequences of similar
            length); excludes ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``.
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        drop_last: drop the final batch when it is smaller than ``batch_size``.
        generator: for ``shuffle``: a ``fastnn.Generator``, a numpy Generator or an int seed;
            default fastnn's global generator, so ``fastnn.manual_seed`` makes the order reproducible.
        num_workers, pin_memory, timeout, worker_init_fn, multiprocessing_context, prefetch_factor,
            persistent_workers, pin_memory_device, in_order: accepted for PyTorch compatibility;
            batches are always built in the calling process.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: 'dataset' must define __getitem__ and __len__, got {type(dataset).__name__}")
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             f"multiprocessing. Got num_workers={num_workers!r}")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: 'collate_fn' must be callable, got {type(collate_fn).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
            if generator is not None and not shuffle:
                as_generator(generator)  # validate now rather than never
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self._custom_collate = collate_fn is not None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    def __len__(self):
        return len(self.batch_sampler if self._auto_collation else self.sampler)

    def _batch_fetcher(self):
        """A function from an index array to a whole batch, when the dataset allows it."""
        if self._custom_collate or not self._auto_collation:
            return None
        ds = self.dataset
        if _arrays.is_tensor(ds):
            return lambda idx: _arrays.wrap(ds._data[idx])
        if isinstance(ds, np.ndarray) and ds.dtype.kind not in "OSUV":
            return lambda idx: _arrays.wrap(ds[idx])
        return getattr(ds, "_fetch_batch", None)

    def _index_batches(self):
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler._index_batches()
        return self.batch_sampler  # any iterable of index lists

    def __iter__(self):
        if not self._auto_collation:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        fetch = self._batch_fetcher()
        for idx in self._index_batches():
            if fetch is not None:
                yield fetch(np.asarray(idx, dtype=np.int64))
            else:
                idx = idx.tolist() if isinstance(idx, np.ndarray) else idx
                yield self.collate_fn([self.dataset[i] for i in idx])
