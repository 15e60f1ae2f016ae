"""DistributedSampler (``torch.utils.data.distributed.DistributedSampler``): each rank's share of a dataset."""
from __future__ import annotations

import math

import numpy as np

from .sampler import Sampler, _is_int

__all__ = ["DistributedSampler"]

_RANDOM64_FROM = (2 ** 32 - 1) // 20     # from this length on PyTorch draws 64-bit numbers


def randperm_like_torch(n, seed):
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` on the CPU, bit for bit:
    PyTorch's CPU generator is an MT19937 seeded with the low 32 bits of ``seed`` (numpy's legacy
    ``RandomState`` seeds it the same way), and randperm is a Fisher-Yates shuffle swapping position
    ``i`` with ``i + random() % (n - i)``. So a DistributedSampler deals out the same indices as
    PyTorch's for the same seed and epoch."""
    n = int(n)
    if n <= 1:
        return np.arange(n, dtype=np.int64)
    mt = np.random.RandomState(int(seed) % 2 ** 32)
    if n < _RANDOM64_FROM:
        draws = mt.randint(0, 2 ** 32, size=n - 1, dtype=np.uint32).astype(np.uint64)
    else:   # random64(): two 32-bit outputs, the first one high
        pairs = mt.randint(0, 2 ** 32, size=2 * (n - 1), dtype=np.uint32).astype(np.uint64)
        draws = (pairs[0::2] << np.uint64(32)) | pairs[1::2]
    offsets = (draws % np.arange(n, 1, -1, dtype=np.uint64)).astype(np.int64) + np.arange(n - 1, dtype=np.int64)
    r = list(range(n))
    for i, j in enumerate(offsets.tolist()):     # sequential swaps: each depends on the previous ones
        r[i], r[j] = r[j], r[i]
    return np.asarray(r, dtype=np.int64)


class DistributedSampler(Sampler):
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` visits in one epoch.

    The order of the epoch (with ``shuffle=True`` the permutation PyTorch's sampler draws from
    ``seed + epoch``, bit for bit; else ``0..n-1``) is dealt out rank after rank: rank ``r`` takes positions ``r, r + num_replicas, ...``.
    Every rank gets ``ceil(n / num_replicas)`` indices: without ``drop_last`` the order is padded by
    repeating its first indices, with ``drop_last`` its tail is dropped so the shares are equal. So
    batch ``k`` of all ranks together is batch ``k`` (of ``num_replicas`` times the size) of the one
    order, which is what makes N processes train like one process with an N times larger batch.

    Call ``set_epoch(epoch)`` at the start of each epoch (``fastnn.train.fit`` does), or every epoch
    repeats the same order. ``num_replicas`` and ``rank`` default to the process group's.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from .. import distributed as dist
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if not _is_int(num_replicas) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: 'num_replicas' must be a positive int, got {num_replicas!r}")
        if not _is_int(rank):
            raise TypeError(f"DistributedSampler: 'rank' must be an int, got {type(rank).__name__}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        if not _is_int(seed):
            raise TypeError(f"DistributedSampler: 'seed' must be an int, got {type(seed).__name__}")
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: 'dataset' must have a length, got {type(dataset).__name__}")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = int(seed)

    def _index_array(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = randperm_like_torch(n, self.seed + self.epoch)
        else:
            indices = np.arange(n, dtype=np.int64)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                if n == 0:
                    raise ValueError("DistributedSampler: the dataset is empty")
                indices = np.concatenate([indices, np.tile(indices, math.ceil(pad / n))[:pad]])
        else:
            indices = indices[:self.total_size]
        return indices[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch: with ``shuffle=True`` each epoch has its own order, the same on every rank."""
        self.epoch = epoch
