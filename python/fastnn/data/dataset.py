"""Datasets, as in ``torch.utils.data``: Dataset, TensorDataset, Subset, ConcatDataset, random_split.

A dataset may also define ``_fetch_batch(indices)``, returning a whole collated batch for an
integer index array at once; DataLoader uses it (with the default collate) instead of one
``__getitem__`` call per sample, which keeps the training loop fast on in-memory data.
"""
from __future__ import annotations

import bisect
import math
import numbers

import numpy as np

from . import _arrays


class Dataset:
    """An indexable collection of samples: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of tensors of equal first dimension: ``dataset[i] == (t[i] for t in tensors)``.

    numpy arrays are accepted and wrapped as tensors without copying.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        converted = []
        for i, t in enumerate(tensors):
            if isinstance(t, np.ndarray):
                t = _arrays.wrap(t)
            elif not _arrays.is_tensor(t):
                raise TypeError(f"TensorDataset: argument {i} must be a Tensor or a numpy array, "
                                f"got {type(t).__name__}")
            if len(t.shape) == 0:
                raise ValueError(f"TensorDataset: tensor {i} is a scalar; every tensor needs a first (sample) dimension")
            converted.append(t)
        sizes = [int(t.shape[0]) for t in converted]
        if any(s != sizes[0] for s in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in converted)
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes} (shapes {shapes})")
        self.tensors = tuple(converted)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return int(self.tensors[0].shape[0])

    def _fetch_batch(self, indices):
        return [_arrays.wrap(t._data[indices]) for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        idx = np.asarray(_arrays.to_numpy(indices, "indices"))
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise TypeError(f"Subset: 'indices' must be a 1-D sequence of integers, got shape {idx.shape} "
                            f"and dtype {idx.dtype}")
        self.indices = idx.astype(np.int64, copy=False)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return self.dataset[[int(self.indices[i]) for i in index]]
        return self.dataset[int(self.indices[index])]

    def __len__(self):
        return len(self.indices)

    def __getattr__(self, name):
        # Expose ``_fetch_batch`` only when the wrapped dataset has it.
        if name == "_fetch_batch" and hasattr(self.__dict__.get("dataset"), "_fetch_batch"):
            return lambda indices: self.dataset._fetch_batch(self.indices[indices])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class ConcatDataset(Dataset):
    """The datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: 'datasets' must not be empty")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise IndexError(f"ConcatDataset: index {idx} is out of range for length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = 0 if d == 0 else self.cumulative_sizes[d - 1]
        return self.datasets[d][idx - start]


def _default_generator():
    from .. import random as fastnn_random
    return fastnn_random.generator()


def as_generator(generator):
    """A numpy Generator: the given one, a fresh one seeded by an int, or fastnn's global one."""
    if generator is None:
        return _default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    inner = getattr(generator, "_gen", None)  # fastnn.Generator: its current numpy stream
    if isinstance(inner, np.random.Generator):
        return inner
    raise TypeError(f"'generator' must be None, an int seed, a fastnn.Generator or a numpy.random.Generator, "
                    f"got {type(generator).__name__}")


def _lengths_from_fractions(lengths, n):
    sizes = [int(math.floor(n * f)) for f in lengths]
    remainder = n - sum(sizes)
    for i in range(remainder):  # like PyTorch: spread the rest round-robin
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: 'lengths' must not be empty")
    if any(not isinstance(x, numbers.Real) or isinstance(x, bool) for x in lengths):
        raise TypeError(f"random_split: 'lengths' must hold numbers, got {lengths}")
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:  # fractions, as PyTorch decides
        if any(x < 0 or x > 1 for x in lengths):
            raise ValueError(f"random_split: fractions in 'lengths' must lie in [0, 1], got {lengths}")
        lengths = _lengths_from_fractions(lengths, n)
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"random_split: 'lengths' must be non-negative integers or fractions, got {lengths}")
    lengths = [int(x) for x in lengths]
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length "
                         f"of the input dataset ({n})")
    perm = as_generator(generator).permutation(n)
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out
