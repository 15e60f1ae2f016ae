"""DistributedDataParallel: one model replica per process, gradients averaged across processes.

Each process (rank) runs the same model on its own share of every batch. At construction the
parameters and buffers of rank 0 are broadcast, so all replicas start equal; every backward pass
then averages the gradients across ranks, so the optimiser steps keep them equal.

The averaging overlaps with backward, as in PyTorch. Parameters are grouped into buckets in reverse
registration order (roughly the order backward produces their gradients): the first bucket holds
about 1 MiB, the others up to ``bucket_cap_mb``. Each parameter has a post-accumulate-grad hook;
when every gradient of a bucket is final, the bucket's gradients are copied into one contiguous
buffer (already divided by the world size) and its all-reduce is started without waiting, while the
autograd engine goes on with the layers closer to the input. Buckets are launched in index order,
so every rank issues the same collectives in the same order. A callback queued on the engine waits
for all buckets at the end of backward and writes the averages back into ``.grad``.
"""
from __future__ import annotations

import contextlib
import time
import weakref

import numpy as np

from ..module import Module

_FIRST_BUCKET_BYTES = 1024 * 1024      # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES
_DEFAULT_BUCKET_CAP_MB = 25


def _dist():
    from ... import distributed
    return distributed


def _comm():
    from ...distributed import _comm
    return _comm


def _wrap(a):
    from ...tensor import _wrap as wrap
    return wrap(a)


def _xp(a):
    from ... import backend
    return backend.array_module_of(a)


class GradBucket:
    """What a communication hook receives (PyTorch's ``dist.GradBucket``): one bucket of gradients
    flattened into ``buffer()`` (not yet divided by the world size)."""

    def __init__(self, bucket, last):
        self._bucket = bucket
        self._last = last
        self._buffer = _wrap(bucket.buffer)

    def index(self):
        return self._bucket.index

    def buffer(self):
        return self._buffer

    def set_buffer(self, buffer):
        self._buffer = buffer

    def gradients(self):
        return [_wrap(v) for v in self._bucket.views]

    def parameters(self):
        return [p for _, p in self._bucket.params]

    def is_last(self):
        return self._last


def _remove_handles(handles):
    for h in handles:
        h.remove()


class _HookWork:
    """A communication hook's future seen as a Work: waiting copies its value into the bucket."""

    def __init__(self, future, bucket):
        if not callable(getattr(future, "wait", None)):
            raise TypeError(f"a DDP communication hook must return a Future, got {type(future).__name__}")
        self.future = future
        self.bucket = bucket

    def is_completed(self):
        done = getattr(self.future, "done", None)
        return bool(done()) if callable(done) else False

    def wait(self):
        value = self.future.wait()
        if isinstance(value, (list, tuple)):
            value = value[0]
        data = getattr(value, "_data", value)
        if data is not self.bucket.buffer:
            if tuple(data.shape) != self.bucket.buffer.shape:
                raise ValueError(f"a DDP communication hook returned a tensor of shape {tuple(data.shape)} for a "
                                 f"bucket of shape {self.bucket.buffer.shape}")
            self.bucket.buffer[...] = data
        return True


class _Bucket:
    """Parameters whose gradients are reduced together in one flat buffer."""

    def __init__(self, index, params, xp, dtype):
        self.index = index
        self.params = params                  # [(global param index, Parameter)]
        self.offsets, n = [], 0
        for _, p in params:
            self.offsets.append(n)
            n += p._data.size
        self.numel = n
        self.buffer = xp.zeros(n, dtype=dtype)
        self.views = [self.buffer[o:o + p._data.size].reshape(p._data.shape)
                      for o, (_, p) in zip(self.offsets, params)]
        self.nbytes = self.buffer.nbytes
        self.reset()

    def reset(self):
        self.pending = len(self.params)
        self.ready = [False] * len(self.params)
        self.work = None
        self.t_launch = self.t_done = None


def _assign_buckets(first_cap_bytes, cap_bytes, params):
    """Lists of ``(index, parameter)`` per bucket, as PyTorch's compute_bucket_assignment_by_size: buckets
    per dtype and device, filled in the given order; the first one of each small so the first
    all-reduce starts early."""
    from ... import backend
    open_buckets, out = {}, []
    for i, p in params:
        a = p._data
        key = (a.dtype.str, str(backend.device_of(a)))
        cur = open_buckets.setdefault(key, {"members": [], "bytes": 0, "cap": first_cap_bytes})
        cur["members"].append((i, p))
        cur["bytes"] += a.nbytes
        if cur["bytes"] >= cur["cap"]:
            out.append(cur["members"])
            open_buckets[key] = {"members": [], "bytes": 0, "cap": cap_bytes}
    out.extend(b["members"] for b in open_buckets.values() if b["members"])
    return out


class DistributedDataParallel(Module):
    """Data-parallel wrapper of ``module`` (PyTorch's ``torch.nn.parallel.DistributedDataParallel``).

    Create the process group first (``fastnn.distributed.init_process_group``), build the model the
    same way on every rank, wrap it, and give each rank its own part of the data (a
    :class:`fastnn.data.DistributedSampler`)::

        model = DistributedDataParallel(Net())
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()     # gradients averaged across ranks here
            opt.step()

    Args:
        module: the model; its parameters and buffers are broadcast from rank 0 now.
        device_ids, output_device, dim: PyTorch's (one device per process): ``None`` for CPU modules,
            ``[i]`` or ``None`` for a module on GPU ``i``.
        broadcast_buffers: broadcast the buffers of rank 0 (BatchNorm running statistics) at the
            start of each forward.
        process_group: the group to reduce over (default: the whole world).
        bucket_cap_mb: the size of a gradient bucket in MiB (default 25; the first bucket is 1 MiB).
        find_unused_parameters: allow parameters that get no gradient in a backward pass: they are
            reduced as zeros (a parameter no rank used keeps ``.grad`` as it was). Without it such a
            parameter raises PyTorch's error at the next forward.
        gradient_as_bucket_view: ``.grad`` of each parameter becomes a view into its bucket, which
            saves a copy per parameter and the memory of a second gradient.
        check_reduction, static_graph: accepted for PyTorch compatibility.

    ``no_sync()`` skips the reduction (gradients accumulate locally); the next backward outside it
    reduces the accumulated sum. ``comm_stats`` holds per-bucket launch/finish times of the last
    backward and running totals of the time spent waiting for communication after backward.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: 'module' must be a fastnn.nn.Module, got {type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: 'module' is already wrapped in DistributedDataParallel")
        dist = _dist()
        if process_group is None and not dist.is_initialized():
            raise ValueError("Default process group has not been initialized, please make sure to call "
                             "init_process_group.")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        from ... import backend
        devices = {str(backend.device_of(p._data)) for p in module.parameters()}
        if len(devices) > 1:
            raise ValueError(f"DistributedDataParallel: the module's parameters are on several devices {sorted(devices)}; "
                             "use one device per process")
        self._on_cpu = devices == {"cpu"}
        if self._on_cpu and (device_ids is not None or output_device is not None):
            raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                             "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                             f"{device_ids}, output_device {output_device}, and module parameters {{device(type='cpu')}}.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        if bucket_cap_mb is None:
            bucket_cap_mb = _DEFAULT_BUCKET_CAP_MB
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) or bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: 'bucket_cap_mb' must be a positive number, got {bucket_cap_mb!r}")
        self.module = module
        self.device_ids = None if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.process_group = process_group
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        self.bucket_bytes_cap = int(bucket_cap_mb * 1024 * 1024)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._comm_hook = None
        self.world_size = dist.get_world_size(process_group)
        self.rank = dist.get_rank(process_group)

        self._sync_module_states()

        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._param_names = [n for n, _ in named]
        self._params = [p for _, p in named]
        order = list(reversed(list(enumerate(self._params))))
        groups = _assign_buckets(min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap), self.bucket_bytes_cap, order)
        self._buckets = []
        self._where = {}                  # param index -> (bucket, slot)
        for bi, grp in enumerate(groups):
            a = grp[0][1]._data
            b = _Bucket(bi, grp, _xp(a), a.dtype)
            self._buckets.append(b)
            for slot, (pi, _) in enumerate(grp):
                self._where[pi] = (b, slot)
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._make_hook(i))
                              for i, p in enumerate(self._params)]
        # the hooks hold the wrapper weakly; once it is gone they are removed, so the bare module
        # trains alone again (no collective waiting for ranks that do not take part)
        weakref.finalize(self, _remove_handles, self._hook_handles)
        self._next_bucket = 0
        self._finalize_queued = False
        self._unfinished = None           # names of the parameters the last synced backward did not reach
        self.comm_stats = {"iterations": 0, "buckets": [], "exposed_s": 0.0, "comm_s": 0.0,
                           "bucket_sizes": [b.nbytes for b in self._buckets]}

    # ------------------------------------------------------------------ state broadcast

    def _broadcast_arrays(self, arrays):
        """Broadcast ``arrays`` from rank 0 in place, one collective per dtype (flattened)."""
        if self.world_size == 1 or not arrays:
            return
        by_dtype = {}
        for a in arrays:
            by_dtype.setdefault(a.dtype.str, []).append(a)
        for group in by_dtype.values():
            xp = _xp(group[0])
            flat = xp.concatenate([a.reshape(-1) for a in group])
            _comm().broadcast_array(flat, 0, group=self.process_group)
            o = 0
            for a in group:
                a[...] = flat[o:o + a.size].reshape(a.shape)
                o += a.size

    def _module_buffers(self):
        return [b._data for b in self.module.buffers()]

    def _sync_module_states(self):
        arrays = [p._data for p in self.module.parameters()] + self._module_buffers()
        self._broadcast_arrays(arrays)

    # ------------------------------------------------------------------ forward

    def forward(self, *inputs, **kwargs):
        if self._finalize_queued:
            self._abandon_reduction()
        if self._unfinished is not None:
            names, self._unfinished = self._unfinished, None
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                f"participate in calculating loss. Parameters which did not receive grad for rank {self.rank}: "
                + ", ".join(names))
        if self.require_forward_param_sync and self.broadcast_buffers:
            bufs = self._module_buffers()
            if bufs:
                self._broadcast_arrays(bufs)
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients computed inside accumulate in ``.grad`` without being reduced; the first backward
        after the block reduces the accumulated sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ------------------------------------------------------------------ reduction

    def _make_hook(self, index):
        ref = weakref.ref(self)

        def hook(param):
            ddp = ref()
            if ddp is not None and ddp.require_backward_grad_sync:
                ddp._mark_ready(index)
        return hook

    def _mark_ready(self, index):
        if not self._finalize_queued:
            from ..._autograd_engine import queue_callback
            queue_callback(self._finalize)
            self._finalize_queued = True
            self.comm_stats["buckets"] = []
            self._t_backward = time.perf_counter()
        bucket, slot = self._where[index]
        if bucket.ready[slot]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once. Parameter {self._param_names[index]!r} got its "
                "gradient twice before the end of one backward pass (a backward started from a hook?)")
        bucket.ready[slot] = True
        bucket.pending -= 1
        self._launch_ready()
        self._poll()

    def _launch_ready(self):
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            self._launch(self._buckets[self._next_bucket])
            self._next_bucket += 1

    def register_comm_hook(self, state, hook):
        """Reduce each bucket with ``hook(state, bucket) -> Future`` instead of the built-in averaging
        all-reduce (PyTorch's API; e.g. ``fastnn.distributed.algorithms.ddp_comm_hooks.default_hooks.
        fp16_compress_hook``). ``bucket`` is a :class:`GradBucket` whose buffer holds the gradients
        not yet divided by the world size; the future's value (a tensor, or a list whose first element
        is one) is the averaged bucket. Register it once, before the first backward."""
        if not callable(hook):
            raise TypeError(f"register_comm_hook: 'hook' must be callable, got {type(hook).__name__}")
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        if self.comm_stats["iterations"]:
            raise RuntimeError("register_comm_hook must be called before the first backward pass")
        self._comm_hook = (state, hook)

    def _launch(self, bucket):
        scale = 1.0 / self.world_size if self._comm_hook is None else 1.0
        xp = _xp(bucket.buffer)
        for (_, p), view, ready in zip(bucket.params, bucket.views, bucket.ready):
            g = p._grad
            if g is not None and g.is_sparse:
                g = g.to_dense()       # rows of an Embedding(sparse=True): reduced dense
            if not ready or g is None:
                view[...] = 0
            elif g._data is view:
                if scale != 1.0:
                    view *= scale
            else:
                xp.multiply(g._data, scale, out=view)
        bucket.t_launch = time.perf_counter()
        if self._comm_hook is not None:
            state, hook = self._comm_hook
            bucket.work = _HookWork(hook(state, GradBucket(bucket, bucket.index == len(self._buckets) - 1)),
                                    bucket)
        elif self.world_size > 1:
            comm = _comm()
            bucket.work = comm.allreduce_array(bucket.buffer, comm.ReduceOp.SUM, async_=True, group=self.process_group)

    def _poll(self):
        """Give MPI a chance to progress the outstanding all-reduces (non-blocking collectives advance
        only while the library is called) and note those that finished."""
        for b in self._buckets[:self._next_bucket]:
            if b.t_done is None and (b.work is None or b.work.is_completed()):
                b.t_done = time.perf_counter()

    def _finalize(self):
        """End of backward: launch what is left, wait for every bucket, write the averages into ``.grad``."""
        self._finalize_queued = False
        t0 = time.perf_counter()
        try:
            used = None
            if self.find_unused_parameters:
                used = self._globally_used()
                for b in self._buckets:
                    b.pending = 0              # unused slots go as zeros
            missing = [self._param_names[pi] for b in self._buckets for (pi, _), r in zip(b.params, b.ready) if not r]
            if missing and not self.find_unused_parameters:
                # reduce what is complete (every rank has the same graph, so the same buckets), then fail
                # at the next forward as PyTorch does
                self._unfinished = missing
            self._launch_ready()
            for b in self._buckets[:self._next_bucket]:
                if b.work is not None:
                    b.work.wait()
                if b.t_done is None:
                    b.t_done = time.perf_counter()
            t1 = time.perf_counter()
            for b in self._buckets[:self._next_bucket]:
                for (pi, p), view, ready in zip(b.params, b.views, b.ready):
                    if not ready and (used is None or not used[pi]):
                        continue                  # no rank used it: .grad stays as it was
                    if self.gradient_as_bucket_view:
                        if p._grad is None or p._grad._data is not view:
                            p._grad = _wrap(view)
                    elif p._grad is None or p._grad.is_sparse:
                        p._grad = _wrap(view.copy())
                    else:
                        p._grad._data[...] = view
            st = self.comm_stats
            st["iterations"] += 1
            st["exposed_s"] += t1 - t0
            st["last_exposed_s"] = t1 - t0
            st["last_backward_s"] = t0 - self._t_backward     # first hook to the end of the graph
            st["buckets"] = [(b.index, b.nbytes, b.t_launch - self._t_backward, b.t_done - self._t_backward)
                             for b in self._buckets[:self._next_bucket]]
            st["comm_s"] += sum(b.t_done - b.t_launch for b in self._buckets[:self._next_bucket])
        finally:
            self._next_bucket = 0
            for b in self._buckets:
                b.reset()

    def _abandon_reduction(self):
        """A backward pass that raised never reached its end-of-backward callback: finish the all-reduces
        it started (every rank issued them) and start the next iteration afresh."""
        self._finalize_queued = False
        try:
            for b in self._buckets[:self._next_bucket]:
                if b.work is not None:
                    b.work.wait()
        finally:
            self._next_bucket = 0
            for b in self._buckets:
                b.reset()

    def _globally_used(self):
        """Which parameters some rank used in this backward (one extra all-reduce of a flag per parameter)."""
        used = np.zeros(len(self._params), dtype=np.int32)
        for b in self._buckets:
            for (pi, _), r in zip(b.params, b.ready):
                used[pi] = int(r)
        if self.world_size > 1:
            comm = _comm()
            comm.allreduce_array(used, comm.ReduceOp.SUM, group=self.process_group)
        return used > 0

    # ------------------------------------------------------------------ misc

    def _set_static_graph(self):
        self.static_graph = True
