"""Samplers, as in ``torch.utils.data``: the order in which a DataLoader visits a dataset.

A sampler yields dataset indices (Python ints); a batch sampler yields lists of them. DataLoader
builds ``BatchSampler(RandomSampler(dataset) or SequentialSampler(dataset), batch_size, drop_last)``
unless it is given ``sampler=`` or ``batch_sampler=``, e.g. one that buckets sequences by length
so each batch pads little (see :class:`BatchSampler`).

Random samplers draw from ``generator`` (a ``fastnn.Generator``, a numpy Generator or an int
seed), by default from fastnn's global generator, so ``fastnn.manual_seed`` makes the order
reproducible. The whole pass is drawn when iteration starts.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _arrays
from .dataset import as_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


class _Draws:
    """The random stream of a sampler, resolved when a pass starts: a ``fastnn.Generator`` may be
    reseeded between passes, while an int seed gives one stream that moves on from pass to pass."""

    def __init__(self, generator):
        as_generator(generator)  # validate now rather than at the first pass
        self.generator = generator
        self._seeded = np.random.default_rng(int(generator)) if _is_int(generator) else None

    def numpy(self):
        return self._seeded if self._seeded is not None else as_generator(self.generator)


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``.

    ``_index_array()``, when a subclass defines it, returns the whole pass as an int64 array so
    BatchSampler and DataLoader slice it instead of iterating index by index.
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def _index_array(self):
        raise NotImplementedError


def _has_index_array(sampler) -> bool:
    return isinstance(sampler, Sampler) and type(sampler)._index_array is not Sampler._index_array


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _index_array(self):
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of ``data_source``: a permutation, or ``num_samples`` draws with
    ``replacement=True``. Without replacement, ``num_samples`` larger than the dataset chains
    several permutations (PyTorch's rule)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self._draws = _Draws(generator)
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not _is_int(self.num_samples) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def generator(self):
        return self._draws.generator

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self):
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError(f"RandomSampler: cannot draw {k} samples from an empty data_source")
        g = self._draws.numpy()
        if self.replacement:
            return g.integers(0, n, size=k, dtype=np.int64)
        perms = [g.permutation(n) for _ in range(k // n)]
        if k % n:
            perms.append(g.permutation(n)[:k % n])
        return np.concatenate(perms).astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a new one each pass)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self._draws = _Draws(generator)

    @property
    def generator(self):
        return self._draws.generator

    def _index_array(self):
        order = self._draws.numpy().permutation(len(self.indices))
        idx = np.asarray(_arrays.to_numpy(self.indices, "indices"))
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise TypeError(f"SubsetRandomSampler: 'indices' must be a 1-D sequence of integers, got shape "
                            f"{idx.shape} and dtype {idx.dtype}")
        return idx[order].astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (one per sample,
    need not sum to 1), with replacement by default: e.g. weights ``1 / count[label]`` balance the
    classes of an imbalanced training set."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(_arrays.to_numpy(weights, "weights"))
        if w.dtype.kind not in "biuf":
            raise TypeError(f"WeightedRandomSampler: 'weights' must hold numbers, got dtype {w.dtype}")
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = _arrays.wrap(np.ascontiguousarray(w, dtype=np.float64))
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self._draws = _Draws(generator)

    @property
    def generator(self):
        return self._draws.generator

    def _index_array(self):
        from ..creation import multinomial  # its checks: negative, non-finite or all-zero weights
        drawn = multinomial(self.weights, self.num_samples, self.replacement, generator=self._draws.numpy())
        return drawn._data

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` (any iterable of ints) into lists of ``batch_size``; the
    last, smaller list is dropped with ``drop_last=True``.

    Pass one as DataLoader's ``batch_sampler=``, or write your own iterable of index lists: e.g.
    buckets of sequences of similar length, so a batch of padded sequences wastes little::

        order = np.argsort(lengths, kind="stable")             # shortest first
        buckets = [order[i:i + 32].tolist() for i in range(0, len(order), 32)]
        loader = DataLoader(dataset, batch_sampler=buckets, collate_fn=pad_collate)
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def _index_batches(self):
        """The batches of one pass as int64 arrays: slices of the whole pass when the sampler can
        give it at once, else gathered lazily from its iterator."""
        bs = self.batch_size
        if _has_index_array(self.sampler):
            order = self.sampler._index_array()
            stop = len(order) - len(order) % bs if self.drop_last else len(order)
            for i in range(0, stop, bs):
                yield order[i:i + bs]
            return
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == bs:
                yield np.asarray(batch, dtype=np.int64)
                batch = []
        if batch and not self.drop_last:
            yield np.asarray(batch, dtype=np.int64)

    def __iter__(self):
        for batch in self._index_batches():
            yield batch.tolist()

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size
