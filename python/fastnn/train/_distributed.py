"""What ``fit`` does differently when it runs on several processes (``fit(..., distributed=...)``).

Every rank runs the same loop on its own share of the data: the model is wrapped in
DistributedDataParallel (gradients averaged in backward), the training data are dealt out by a
DistributedSampler whose epoch follows the loop's, and the validation data are split without padding.
Logged numbers are reduced across ranks weighted by sample counts, and epoch metrics are computed on
the outputs of all ranks, so they equal those of one process over the same samples. Only rank 0
prints and writes files; a stop decided on rank 0 is broadcast so all ranks leave together.
"""
from __future__ import annotations

import sys


def _initialized():
    """``fastnn.distributed`` when a process group is initialised, else None (without importing MPI)."""
    dist = sys.modules.get("fastnn.distributed")
    return dist if dist is not None and dist.is_initialized() else None


def current_rank():
    """This process's rank when a process group is initialised, else 0."""
    dist = _initialized()
    return 0 if dist is None else dist.get_rank()


def is_main_process(state=None):
    """Whether this process writes files and prints: rank 0, or any process of a one-process run."""
    rank = getattr(state, "rank", None) if state is not None else None
    return (current_rank() if rank is None else rank) == 0


class _SeedStream:
    """The training sampler's seed as a 'data stream' of checkpoints, so a resumed run (with any number
    of ranks) deals out the same orders as the interrupted one."""

    def __init__(self, sampler):
        self.sampler = sampler

    def get_state(self):
        return {"distributed_sampler_seed": int(self.sampler.seed)}

    def set_state(self, state):
        self.sampler.seed = int(state["distributed_sampler_seed"])


class _RankRngStreams:
    """Every rank's fastnn RNG state as a 'data stream' of checkpoints. ``gather()`` collects them at the
    end of each epoch, before callbacks write checkpoints (rank 0 alone writes, so saving itself must
    not need the other ranks); a run resumed with as many ranks gives each rank its own stream back
    (dropout masks, augmentations continue exactly), with another number of ranks each keeps rank 0's."""

    def __init__(self, ranks):
        # the rank and world size only: the run's History keeps this object (through its TrainState),
        # and it must not keep the DDP wrappers alive after fit
        self.dist, self.rank, self.world = ranks.dist, ranks.rank, ranks.world
        self.states = None

    def gather(self):
        from .. import random as fastnn_random
        states = [None] * self.world
        self.dist.all_gather_object(states, fastnn_random.get_rng_state())
        self.states = states

    def get_state(self):
        return {"rank_rng_states": self.states}

    def set_state(self, state):
        states = state.get("rank_rng_states")
        if states and len(states) == self.world:
            from .. import random as fastnn_random
            fastnn_random.set_rng_state(states[self.rank])


def resolve(distributed):
    """A :class:`Ranks` when the run is distributed (``True``, or ``None`` with a process group already
    initialised), else None."""
    if distributed is None:
        return None if _initialized() is None else Ranks()
    if not isinstance(distributed, bool):
        raise TypeError(f"fit: 'distributed' must be None, True or False, got {distributed!r}")
    if not distributed:
        return None
    from .. import distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return Ranks()


class Ranks:
    """The collectives the loop needs, over the default process group."""

    def __init__(self):
        from .. import distributed as dist
        self.dist = dist
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.ddp = []                 # the DistributedDataParallel wrappers fit made or was given

    # ---- models
    def wrap(self, model):
        """``(model used in training steps, plain module)``: a DDP wrapper (made here unless given)."""
        from ..nn.parallel import DistributedDataParallel as DDP
        if isinstance(model, DDP):
            self.ddp.append(model)
            return model, model.module
        if not any(p.requires_grad for p in model.parameters()):
            return model, model       # nothing to average (e.g. a frozen feature extractor)
        wrapped = DDP(model)
        self.ddp.append(wrapped)
        return wrapped, model

    def sync_buffers(self):
        """Rank 0's buffers (BatchNorm statistics) on every rank, before an evaluation pass."""
        for w in self.ddp:
            if w.broadcast_buffers:
                w._broadcast_arrays(w._module_buffers())

    # ---- data
    def seed(self):
        """One shuffling seed for every rank, drawn from fastnn's global generator of rank 0 (so
        ``fastnn.manual_seed`` decides the orders)."""
        from .. import random as fastnn_random
        s = [int(fastnn_random.generator().integers(0, 2 ** 31 - 1)) if self.rank == 0 else 0]
        self.dist.broadcast_object_list(s, src=0)
        return s[0]

    def train_loader(self, loader, name):
        """``loader`` with its dataset dealt out by a DistributedSampler (kept when it already has one)."""
        from ..data import BatchSampler, DataLoader, DistributedSampler, RandomSampler, SequentialSampler
        if not isinstance(loader, DataLoader):
            raise ValueError(f"fit: distributed training needs '{name}' as arrays, a Dataset or a DataLoader "
                             f"(so it can be split between the ranks), got {type(loader).__name__}")
        if isinstance(loader.sampler, DistributedSampler):
            return loader, loader.sampler
        plain = type(loader.sampler) is SequentialSampler or (
            type(loader.sampler) is RandomSampler and not loader.sampler.replacement
            and loader.sampler._num_samples is None)
        if not plain:
            raise ValueError(f"fit: '{name}' draws its samples with a {type(loader.sampler).__name__}, which cannot "
                             "be split between ranks as it is; give each rank its own sampler (e.g. a "
                             "DistributedSampler over the dataset) in the DataLoader")
        if loader.batch_sampler is not None and not isinstance(loader.batch_sampler, BatchSampler):
            raise ValueError(f"fit: '{name}' has a custom batch_sampler, which cannot be split between ranks; "
                             "give it a DistributedSampler(dataset) as sampler instead")
        sampler = DistributedSampler(loader.dataset, self.world, self.rank,
                                     shuffle=isinstance(loader.sampler, RandomSampler), seed=self.seed())
        return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler,
                          collate_fn=loader.collate_fn if loader._custom_collate else None,
                          drop_last=loader.drop_last), sampler

    def eval_loader(self, loader, name):
        """``loader`` restricted to this rank's samples ``rank, rank + world, ...`` (no padding, so every
        sample is evaluated exactly once)."""
        from ..data import BatchSampler, DataLoader, DistributedSampler
        if not isinstance(loader, DataLoader):
            raise ValueError(f"fit: distributed training needs '{name}' as arrays, a Dataset or a DataLoader, "
                             f"got {type(loader).__name__}")
        if isinstance(loader.sampler, DistributedSampler):
            return loader
        if loader.batch_sampler is not None and not isinstance(loader.batch_sampler, BatchSampler):
            raise ValueError(f"fit: '{name}' has a custom batch_sampler, which cannot be split between ranks")
        return DataLoader(loader.dataset, batch_size=loader.batch_size,
                          sampler=range(self.rank, len(loader.dataset), self.world),
                          collate_fn=loader.collate_fn if loader._custom_collate else None)

    # ---- logs
    def merge_mean(self, mean):
        """The per-key sums and counts of all ranks (in rank order) in ``mean``."""
        parts = [None] * self.world
        self.dist.all_gather_object(parts, (mean.sums, mean.counts))
        sums, counts = {}, {}
        for s, c in parts:
            for k, v in s.items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + c[k]
        mean.sums, mean.counts = sums, counts
        return mean

    def gather_list(self, items):
        """The concatenation of ``items`` of every rank, in rank order."""
        parts = [None] * self.world
        self.dist.all_gather_object(parts, list(items))
        return [x for p in parts for x in p]

    def any_stop(self, stop):
        """Rank 0's decision to stop, on every rank."""
        flag = [bool(stop)]
        self.dist.broadcast_object_list(flag, src=0)
        return flag[0]
