"""The communication engine under ``fastnn.distributed``: process groups and collectives on arrays.

Host (numpy) arrays go through MPI (mpi4py's buffer interface: no pickling, reduced in place); device (cupy)
arrays through NCCL on the current stream (see ``backend.nccl_*``). Every collective is posted as a
nonblocking MPI operation and completed by polling ``Test``: that is how a collective honours the group's
timeout (a blocking ``MPI_Allreduce`` cannot be interrupted) and how asynchronous collectives overlap with
computation. MPICH only moves a nonblocking collective forward inside MPI calls, so when MPI runs with
``MPI_THREAD_MULTIPLE`` (mpi4py's default) a small progress thread tests the pending requests while the
main thread computes; otherwise they progress in ``Work.wait``/``is_completed`` and in ``progress()``.

``allreduce_array(arr, op, async_=False)`` is the entry point for code that holds arrays rather than
tensors (``DistributedDataParallel``'s gradient buckets).
"""
from __future__ import annotations

import atexit
import enum
import os
import pickle
import sys
import threading
import time
import zlib
from datetime import timedelta

import numpy as np

from .. import backend as _backend
from . import _mpi

DEFAULT_TIMEOUT = timedelta(minutes=30)


class DistError(RuntimeError):
    """Base of the errors raised by ``fastnn.distributed`` (PyTorch's ``torch.distributed.DistError``)."""


class DistBackendError(DistError):
    """A collective failed or timed out in the communication library."""


class DistNetworkError(DistError):
    pass


class DistStoreError(DistError):
    pass


class _UsageError(ValueError, RuntimeError):
    """Misuse of the process-group API. PyTorch raises ValueError for these; code written against other
    libraries expects RuntimeError: this is both."""


NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                   "init_process_group.")


class ReduceOp:
    """Reduction operations (PyTorch's ``ReduceOp``): ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``,
    ``BAND``, ``BOR``, ``BXOR``."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8
        UNUSED = 9

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


def as_op(op, fn):
    if isinstance(op, str) and op.upper() in ReduceOp.RedOpType.__members__:
        op = ReduceOp.RedOpType[op.upper()]
    if isinstance(op, bool) or not isinstance(op, (int, ReduceOp.RedOpType)):
        raise TypeError(f"{fn}: argument 'op' must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR), "
                        f"got {op!r}")
    try:
        op = ReduceOp.RedOpType(int(op))
    except ValueError:
        raise ValueError(f"{fn}: unknown reduce op {op!r}") from None
    if op in (ReduceOp.PREMUL_SUM, ReduceOp.RedOpType.UNUSED):
        raise ValueError(f"{fn}: ReduceOp.{op.name} is not supported; scale the tensor and use ReduceOp.SUM")
    return op


def _mpi_op(MPI, op, dtype, fn):
    """The MPI operation for ``op`` on ``dtype``; AVG is a SUM divided afterwards."""
    if dtype == np.bool_:
        # MPI defines no arithmetic on booleans: a sum or max of flags is their OR, a product or min their AND
        table = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR, ReduceOp.PRODUCT: MPI.LAND,
                 ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND, ReduceOp.BXOR: MPI.LXOR}
        if op not in table:
            raise TypeError(f"{fn}: ReduceOp.{op.name} is not defined on bool tensors")
        return table[op]
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.kind not in "iu":
        raise TypeError(f"{fn}: ReduceOp.{op.name} needs an integer tensor, got {dtype}")
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def _divide(arr, n):
    """``arr /= n`` in place: exact rounding for floats (so a float64 AVG equals the mean of one process),
    truncation for integers (NCCL's integer average)."""
    xp = _backend.array_module_of(arr)
    if arr.dtype.kind == "f":
        arr /= arr.dtype.type(n)
    elif arr.dtype.kind in "iu":
        q = xp.abs(arr) // n
        arr[...] = xp.where(arr < 0, -q, q)
    else:
        raise TypeError(f"ReduceOp.AVG is not defined on {arr.dtype} tensors")


# ---------------------------------------------------------------------------------------------------- groups
class _SeqBoard:
    """How many collectives each process of the group has entered, in a shared-memory window of the
    processes on this node: a timed-out collective reads it to name the ranks that never joined (ranks on
    other nodes cannot be seen without their cooperation, so they are not named)."""

    def __init__(self, MPI, comm, ranks):
        self.win = None
        self.node_ranks = []
        try:
            node = comm.Split_type(MPI.COMM_TYPE_SHARED)
            self.node = node
            self.win = MPI.Win.Allocate_shared(16, 8, comm=node)
            buf, _ = self.win.Shared_query(node.Get_rank())
            self.mine = np.frombuffer(buf, dtype=np.int64, count=2)
            self.mine[0] = 0
            self.mine[1] = ranks[comm.Get_rank()]
            node.Barrier()
            self.slots = [np.frombuffer(self.win.Shared_query(r)[0], dtype=np.int64, count=2)
                          for r in range(node.Get_size())]
        except Exception:  # diagnostics only: without shared memory the message names no ranks
            self.win = None

    def enter(self):
        if self.win is not None:
            self.mine[0] += 1

    def count(self):
        return int(self.mine[0]) if self.win is not None else -1

    def laggards(self):
        """Global ranks on this node that entered fewer collectives than this one, with their counts."""
        if self.win is None:
            return None
        me = int(self.mine[0])
        return [(int(s[1]), int(s[0])) for s in self.slots if int(s[0]) < me]

    def free(self):
        if self.win is not None:
            try:
                self.win.Free()
                self.node.Free()
            except Exception:
                pass
            self.win = None


class ProcessGroup:
    """A set of processes that run collectives together (PyTorch's ``ProcessGroup``): ``rank()``, ``size()``,
    ``name()``. ``ranks`` are the processes' ranks in the default group."""

    def __init__(self, comm, ranks, backend, timeout, device=None):
        self.comm = comm  # an mpi4py communicator over exactly these processes
        self.ranks = list(ranks)
        self.backend = backend
        self.timeout = timeout
        self.device = device  # the CUDA device index this process uses with NCCL, or None
        self._nccl = None
        self._broken = None
        self._board = _SeqBoard(_mpi.MPI(), comm, self.ranks) if comm.Get_size() > 1 else None

    def rank(self):
        return self.comm.Get_rank()

    def size(self):
        return self.comm.Get_size()

    def name(self):
        return self.backend

    @property
    def group_name(self):
        return f"{self.backend}:{','.join(map(str, self.ranks))}"

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks}, rank={self.rank()})"

    def _timeout_s(self):
        t = self.timeout
        return t.total_seconds() if isinstance(t, timedelta) else float(t)

    def _free(self):
        if self._nccl is not None:
            try:
                self._nccl.destroy()
            except Exception:
                pass
            self._nccl = None
        if self._board is not None:
            self._board.free()
            self._board = None
        MPI = _mpi.MPI()
        if self.comm not in (MPI.COMM_WORLD, MPI.COMM_SELF):
            try:
                self.comm.Free()
            except Exception:
                pass


class _NonMember:
    """What ``new_group`` returns on the processes that are not in the new group (``GroupMember.NON_GROUP_MEMBER``)."""

    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


NON_GROUP_MEMBER = _NonMember()


class _World:
    default = None         # the default ProcessGroup
    groups = []            # every group made by new_group, freed by destroy_process_group()
    prev_excepthook = None


world = _World()


def default_group():
    if world.default is None:
        raise _UsageError(NOT_INITIALIZED)
    return world.default


def resolve(group):
    """The ProcessGroup that ``group`` names (None: the default one), or NON_GROUP_MEMBER."""
    if group is None:
        return default_group()
    if group is NON_GROUP_MEMBER:
        default_group()
        return group
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"argument 'group' must be a ProcessGroup from new_group() or None, got {type(group).__name__}")
    if group not in world.groups and group is not world.default:
        raise _UsageError(f"the process group {group!r} has been destroyed")
    return group


# ---------------------------------------------------------------------------------------------------- progress
class _Progress:
    """Tests the pending requests of asynchronous collectives from a background thread, so MPICH moves them
    forward while the main thread computes (MPICH has no progress of its own between MPI calls unless
    MPIR_CVAR_ASYNC_PROGRESS is set, which busy-polls a whole core). The thread sleeps when nothing is
    pending. Requests are tested under one lock, whichever thread tests them."""

    INTERVAL_S = float(os.environ.get("FASTNN_DIST_PROGRESS_INTERVAL", "0.0002"))

    def __init__(self):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.pending = []
        self.thread = None
        self.enabled = False
        self.stopping = False
        self.registered = False

    def configure(self, MPI, size):
        if not self.registered:
            # atexit runs last-registered first: this runs before mpi4py's MPI_Finalize (registered at import)
            atexit.register(self.stop)
            self.registered = True
        self.enabled = (size > 1 and MPI.Query_thread() == MPI.THREAD_MULTIPLE
                        and os.environ.get("FASTNN_DIST_PROGRESS_THREAD", "1") != "0")

    def add(self, work):
        if not self.enabled:
            return
        with self.lock:
            self.pending.append(work)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="fastnn-dist-progress", daemon=True)
                self.thread.start()
            self.cond.notify()

    def _run(self):
        while True:
            with self.lock:
                while not self.pending and not self.stopping:
                    self.cond.wait()
                if self.stopping:
                    return
                self.pending = [w for w in self.pending if not w._test_locked()]
            time.sleep(self.INTERVAL_S)

    def stop(self):
        """End the thread (before MPI is finalised: it must not be inside an MPI call then)."""
        with self.lock:
            self.stopping = True
            self.cond.notify()
        if self.thread is not None:
            self.thread.join(timeout=2)
        self.thread = None
        self.stopping = False

    def test(self, work):
        with self.lock:
            return work._test_locked()

    def poll_all(self):
        with self.lock:
            self.pending = [w for w in self.pending if not w._test_locked()]


_progress = _Progress()


def progress():
    """Move every pending asynchronous collective forward (cheap: one MPI test each). Callers that compute
    between posting and waiting (gradient hooks) may call it to overlap without the progress thread."""
    _progress.poll_all()


# ---------------------------------------------------------------------------------------------------- waiting
def _timeout_error(pg, what, waited):
    board = pg._board
    laggards = board.laggards() if board is not None else None
    me = board.count() if board is not None else -1
    if laggards:
        who = ", ".join(f"rank {r} (at collective #{n})" for r, n in laggards)
        detail = f"; these ranks did not join it: {who} — this rank is at collective #{me}"
    elif laggards == []:
        detail = "; every rank on this node joined it: a rank on another node did not, or the job is deadlocked"
    else:
        detail = ""
    msg = (f"{what}: timed out after {waited:.1f} s waiting for the other ranks of the group "
           f"(timeout={pg.timeout}){detail}. The group is unusable now; an uncaught error aborts the job.")
    pg._broken = msg
    return DistBackendError(msg)


_SPIN_S = float(os.environ.get("FASTNN_DIST_SPIN_MS", "10")) / 1e3
_POLLS_BEFORE_YIELD = 16


def _poll(test, pg, what, timeout_s):
    """Poll ``test()`` until it is true; DistBackendError after ``timeout_s`` seconds. Spins for the first
    10 ms (FASTNN_DIST_SPIN_MS), as MPI's own blocking wait does: a collective between processes of one node
    completes in microseconds to milliseconds, and a sleeping rank would wake late. Then it sleeps with
    growing pauses (up to 1 ms), so a rank waiting long for a slow peer leaves the CPU to others."""
    if test():
        return
    t0 = time.perf_counter()
    deadline = t0 + timeout_s
    spin_until = t0 + _SPIN_S
    pause = 2e-5
    polls = 0
    while not test():
        polls += 1
        if polls % _POLLS_BEFORE_YIELD == 0:
            # like MPICH's own wait: on a busy machine the peer may be waiting for this CPU
            os.sched_yield()
        now = time.perf_counter()
        if now > deadline:
            raise _timeout_error(pg, what, now - t0)
        if now > spin_until:
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)


class Work:
    """A collective in flight (PyTorch's ``Work``): ``wait(timeout=None)`` blocks until it has completed
    (RuntimeError after ``timeout`` or the group's timeout), ``is_completed()`` tests without blocking,
    ``result()`` lists the output tensors, ``get_future()`` gives a Future."""

    def __init__(self, pg, what, requests=(), finish=None, event=None, result=None, track=True):
        self._pg = pg
        self._what = what
        self._reqs = list(requests)
        self._finish = finish  # host-side completion (divide for AVG, copy back), run once
        self._event = event    # CUDA event of an NCCL collective
        self._result = result if result is not None else []
        self._mpi_done = not self._reqs
        self._done = False
        self._exc = None
        self._tracked = bool(self._reqs) and track and _progress.enabled
        if self._tracked:  # a blocking caller polls its own requests
            _progress.add(self)

    def _test_locked(self):
        if not self._mpi_done:
            reqs = self._reqs
            self._mpi_done = reqs[0].Test() if len(reqs) == 1 else _mpi.MPI().Request.Testall(reqs)
        return self._mpi_done

    def _test(self):
        # requests the progress thread also tests are tested under its lock; a blocking caller's are its own
        return _progress.test(self) if self._tracked else self._test_locked()

    def _complete(self):
        if not self._done:
            self._done = True
            if self._finish is not None:
                try:
                    self._finish()
                except Exception as exc:
                    self._exc = exc
                    raise

    def is_completed(self):
        if self._done:
            return True
        if self._event is not None:
            if not self._event.done:
                return False
        elif not self._test():
            return False
        self._complete()
        return True

    def wait(self, timeout=None):
        if not self._done:
            if self._event is not None:
                # NCCL ran on the current stream: later work on that stream already follows it, so only a
                # timeout makes the host watch it
                if timeout is not None:
                    try:
                        _poll(lambda: self._event.done, self._pg, self._what, _seconds(timeout))
                    except DistBackendError:
                        nc = self._pg._nccl
                        if nc is not None:  # free the GPU from the kernel that waits for the missing ranks
                            nc.abort()
                        raise
            else:
                limit = self._pg._timeout_s() if timeout is None else _seconds(timeout)
                _poll(self._test, self._pg, self._what, limit)
            self._complete()
        if self._exc is not None:
            raise self._exc
        return True

    def is_success(self):
        return self._done and self._exc is None

    def exception(self):
        return self._exc

    def result(self):
        return list(self._result)

    def synchronize(self):
        self.wait()

    def get_future(self):
        return Future(self)

    def __repr__(self):
        return f"<Work {self._what} completed={self._done}>"


class Future:
    """The result of a Work (PyTorch's ``torch.futures.Future``): ``wait()``/``value()`` give the output
    tensors once the collective has completed, ``done()`` tests, ``then(callback)`` is a Future of
    ``callback(this_future)``, run once, when waited on. ``Future()`` alone holds a value given by
    ``set_result`` (a communication hook that does nothing returns one)."""

    def __init__(self, work=None, parent=None, callback=None):
        self._work = work
        self._parent = parent
        self._callback = callback
        self._has_value = False
        self._value = None

    def done(self):
        if self._has_value:
            return True
        if self._parent is not None:
            return self._parent.done()
        return self._work is not None and self._work.is_completed()

    def set_result(self, result):
        if self._has_value:
            raise RuntimeError("Future.set_result: this future already has a value")
        self._value, self._has_value = result, True

    def wait(self):
        if not self._has_value:
            if self._work is None and self._parent is None:
                raise RuntimeError("Future.wait: no value was set (set_result) and no collective is behind it")
            if self._parent is None:
                self._work.wait()
                self._value = self._work.result()
            else:
                self._parent.wait()
                self._value = self._callback(self._parent)
            self._has_value = True
        return self._value

    def value(self):
        return self.wait()

    def then(self, callback):
        return Future(self._work, self, callback)


def _seconds(t):
    return t.total_seconds() if isinstance(t, timedelta) else float(t)


def _run(pg, what, requests, finish=None, async_=False, result=None):
    """Complete the posted ``requests`` now (within the group's timeout) or hand back a Work."""
    work = Work(pg, what, requests, finish, result=result, track=async_)
    if async_:
        return work
    work.wait()
    return None


def _enter(pg, what):
    if pg._broken is not None:
        raise DistBackendError(f"{what}: the process group can no longer be used: {pg._broken}")
    if pg._board is not None:
        pg._board.enter()


# ---------------------------------------------------------------------------------------------------- buffers
def _wire(arr):
    """A contiguous array that MPI can send, and a function writing results back into ``arr``. float16
    and the integer/float types go as they are; other storage formats travel as float32."""
    if arr.dtype.kind not in "fiub" or arr.dtype.itemsize > 8:
        raise TypeError(f"unsupported dtype {arr.dtype} for a collective")
    if arr.flags.c_contiguous and arr.flags.writeable:
        return arr, None
    buf = np.ascontiguousarray(arr)

    def back():
        arr[...] = buf

    return buf, back


# FASTNN_DIST_CHECK=0 drops the cross-rank check of blocking tensor collectives (one tiny collective each)
_CHECKS = os.environ.get("FASTNN_DIST_CHECK", "1") != "0"


def check_same(pg, what, sig, detail):
    """Raise RuntimeError on every rank when the ranks passed differently shaped or typed tensors
    (``sig``: a string identical on every rank when the call is consistent; ``detail`` describes this rank's
    tensors). One tiny collective; on a mismatch, a second one names every rank's tensors."""
    if pg.size() == 1 or not _CHECKS:
        return
    MPI = _mpi.MPI()
    h = zlib.crc32(sig.encode()) & 0x7FFFFFFF
    v = np.array([h, -h], dtype=np.int64)
    _enter(pg, what)
    _run(pg, what, [pg.comm.Iallreduce(MPI.IN_PLACE, v, MPI.MAX)])
    if v[0] != -v[1]:
        all_details = _allgather_obj(pg, what, detail)
        lines = "; ".join(f"rank {pg.ranks[i]}: {d}" for i, d in enumerate(all_details))
        raise _UsageError(f"{what}: the ranks passed tensors of different shapes or dtypes ({lines})")


def _sig(arr):
    return f"{tuple(arr.shape)}|{arr.dtype.str}"


def _describe(arr):
    return f"shape {tuple(arr.shape)}, dtype {arr.dtype}"


# ---------------------------------------------------------------------------------------------------- host collectives
def _nccl_or_none(pg, *arrays):
    """The NCCL path when these arrays live on a GPU (the group's backend must have NCCL)."""
    a = next((x for x in arrays if x is not None), None)
    if a is None or not _backend.is_cuda_array(a):
        return None
    from . import _nccl
    return _nccl.comm_for(pg)


def allreduce_array(arr, op=ReduceOp.SUM, async_=False, group=None, *, check=False, result=None):
    """Reduce ``arr`` (a numpy or cupy array) in place across the group; returns ``arr`` or, with
    ``async_=True``, a Work to wait on (``arr`` holds the result once it has completed). ``check=True`` first
    verifies that every rank passed the same shape and dtype (one tiny extra collective)."""
    pg = resolve(group)
    if pg is NON_GROUP_MEMBER:
        return None
    what = "all_reduce"
    op = as_op(op, what)
    if check:
        check_same(pg, what, _sig(arr), _describe(arr))
    nc = _nccl_or_none(pg, arr)
    if nc is not None:
        return nc.all_reduce(arr, op, async_, result)
    _enter(pg, what)
    MPI = _mpi.MPI()
    mop = _mpi_op(MPI, op, arr.dtype, what)
    if pg.size() == 1:
        return Work(pg, what, result=result) if async_ else arr
    buf, back = _wire(arr)
    req = pg.comm.Iallreduce(MPI.IN_PLACE, buf, mop)
    n = pg.size()

    def finish():
        if op == ReduceOp.AVG:
            _divide(buf, n)
        if back is not None:
            back()

    work = _run(pg, what, [req], finish, async_, result)
    return work if async_ else arr


def broadcast_array(arr, root, group=None, async_=False, result=None):
    """Copy ``arr`` of group rank ``root`` into ``arr`` of every rank (in place)."""
    pg = resolve(group)
    what = "broadcast"
    nc = _nccl_or_none(pg, arr)
    if nc is not None:
        return nc.broadcast(arr, root, async_, result)
    _enter(pg, what)
    if pg.size() == 1:
        return Work(pg, what, result=result) if async_ else None
    buf, back = _wire(arr)
    return _run(pg, what, [pg.comm.Ibcast(buf, root=root)], back, async_, result)


def allgather_array(send, recv, group=None, async_=False, finish=None, result=None):
    """Gather ``send`` of every rank into ``recv`` (contiguous, ``size`` times larger), rank after rank."""
    pg = resolve(group)
    what = "all_gather"
    nc = _nccl_or_none(pg, send, recv)
    if nc is not None:
        return nc.all_gather(send, recv, async_, finish, result)
    _enter(pg, what)
    sbuf = np.ascontiguousarray(send)
    if pg.size() == 1:
        recv.reshape(-1)[...] = sbuf.reshape(-1)
        if finish is not None:
            finish()
        return Work(pg, what, result=result) if async_ else None
    return _run(pg, what, [pg.comm.Iallgather(sbuf, recv)], finish, async_, result)


def reduce_scatter_array(send, recv, op, group=None, async_=False, finish=None, result=None):
    """Reduce ``send`` (``size`` equal blocks, contiguous) across ranks; rank i receives block i in ``recv``."""
    pg = resolve(group)
    what = "reduce_scatter"
    op = as_op(op, what)
    nc = _nccl_or_none(pg, send, recv)
    if nc is not None:
        return nc.reduce_scatter(send, recv, op, async_, finish, result)
    _enter(pg, what)
    MPI = _mpi.MPI()
    sbuf = np.ascontiguousarray(send)
    n = pg.size()

    def done():
        if op == ReduceOp.AVG:
            _divide(recv, n)
        if finish is not None:
            finish()

    if n == 1:
        recv.reshape(-1)[...] = sbuf.reshape(-1)
        done()
        return Work(pg, what, result=result) if async_ else None
    req = pg.comm.Ireduce_scatter_block(sbuf, recv, _mpi_op(MPI, op, sbuf.dtype, what))
    return _run(pg, what, [req], done, async_, result)


def reduce_array(arr, root, op, group=None, async_=False, result=None):
    """Reduce ``arr`` of every rank into ``arr`` of group rank ``root`` (the others' arrays are left as they were)."""
    pg = resolve(group)
    what = "reduce"
    op = as_op(op, what)
    nc = _nccl_or_none(pg, arr)
    if nc is not None:
        return nc.reduce(arr, root, op, async_, result)
    _enter(pg, what)
    MPI = _mpi.MPI()
    n = pg.size()
    if n == 1:
        return Work(pg, what, result=result) if async_ else None
    buf, back = _wire(arr)
    mop = _mpi_op(MPI, op, buf.dtype, what)
    if pg.rank() == root:
        req = pg.comm.Ireduce(MPI.IN_PLACE, buf, mop, root=root)

        def finish():
            if op == ReduceOp.AVG:
                _divide(buf, n)
            if back is not None:
                back()
    else:
        req = pg.comm.Ireduce(buf, None, mop, root=root)
        finish = None
    return _run(pg, what, [req], finish, async_, result)


def gather_array(send, recv, root, group=None, async_=False, finish=None, result=None):
    """Gather ``send`` of every rank into ``recv`` (contiguous, on group rank ``root`` only; None elsewhere)."""
    pg = resolve(group)
    what = "gather"
    if _backend.is_cuda_array(send):
        raise RuntimeError("gather: not supported on CUDA tensors with NCCL; use all_gather")
    _enter(pg, what)
    sbuf = np.ascontiguousarray(send)
    if pg.size() == 1:
        recv.reshape(-1)[...] = sbuf.reshape(-1)
        if finish is not None:
            finish()
        return Work(pg, what, result=result) if async_ else None
    req = pg.comm.Igather(sbuf, recv if pg.rank() == root else None, root=root)
    return _run(pg, what, [req], finish if pg.rank() == root else None, async_, result)


def scatter_array(send, recv, root, group=None, async_=False, result=None):
    """Block i of ``send`` (contiguous, on group rank ``root`` only) into ``recv`` of rank i."""
    pg = resolve(group)
    what = "scatter"
    if _backend.is_cuda_array(recv):
        raise RuntimeError("scatter: not supported on CUDA tensors with NCCL; use broadcast")
    _enter(pg, what)
    rbuf, back = _wire(recv)
    if pg.size() == 1:
        rbuf.reshape(-1)[...] = send.reshape(-1)
        if back is not None:
            back()
        return Work(pg, what, result=result) if async_ else None
    req = pg.comm.Iscatter(send if pg.rank() == root else None, rbuf, root=root)
    return _run(pg, what, [req], back, async_, result)


def barrier(group=None, async_=False, timeout=None):
    pg = resolve(group)
    what = "barrier"
    _enter(pg, what)
    if pg.size() == 1:
        return Work(pg, what) if async_ else None
    work = Work(pg, what, [pg.comm.Ibarrier()], track=async_)
    if async_:
        return work
    work.wait(timeout)
    return None


def send_array(arr, dst, tag, group=None, async_=False, result=None):
    pg = resolve(group)
    buf = np.ascontiguousarray(arr)
    return _run(pg, "send", [pg.comm.Isend(buf, dest=dst, tag=tag)], None, async_, result)


def recv_array(arr, src, tag, group=None, async_=False, result=None):
    """Receive into ``arr`` from group rank ``src`` (None: any); returns the sender's group rank (blocking) or
    a Work whose ``_source()`` gives it."""
    MPI = _mpi.MPI()
    pg = resolve(group)
    buf, back = _wire(arr)
    status = MPI.Status()
    req = pg.comm.Irecv(buf, source=MPI.ANY_SOURCE if src is None else src, tag=tag)
    work = Work(pg, "recv", [req], back, result=result, track=async_)
    work._source = lambda: _status_source(req, status)
    if async_:
        return work
    # Wait with a status to learn the sender: the request is still owned here (never handed to the thread
    # when it is blocking), so poll it directly.
    _poll(lambda: req.Test(status), pg, "recv", pg._timeout_s())
    work._mpi_done = True
    work._complete()
    return status.Get_source()


def _status_source(req, status):
    return status.Get_source()


# ---------------------------------------------------------------------------------------------------- objects
def _allgather_bytes(pg, what, payload: bytes):
    MPI = _mpi.MPI()
    n = pg.size()
    if n == 1:
        return [payload]
    sizes = np.zeros(n, dtype=np.int64)
    mine = np.array([len(payload)], dtype=np.int64)
    _run(pg, what, [pg.comm.Iallgather(mine, sizes)])
    data = np.empty(int(sizes.sum()), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    src = np.frombuffer(payload, dtype=np.uint8) if payload else np.empty(0, np.uint8)
    _run(pg, what, [pg.comm.Iallgatherv(src, [data, sizes, offsets, MPI.BYTE])])
    return [data[o:o + s].tobytes() for o, s in zip(offsets, sizes)]


def _allgather_obj(pg, what, obj):
    return [pickle.loads(b) for b in _allgather_bytes(pg, what, pickle.dumps(obj))]


def allgather_object(obj, group=None):
    pg = resolve(group)
    _enter(pg, "all_gather_object")
    return _allgather_obj(pg, "all_gather_object", obj)


def broadcast_object(obj, root, group=None):
    """``obj`` of group rank ``root``, on every rank (pickled; the size travels first)."""
    pg = resolve(group)
    what = "broadcast_object_list"
    _enter(pg, what)
    if pg.size() == 1:
        return obj
    payload = pickle.dumps(obj) if pg.rank() == root else b""
    size = np.array([len(payload)], dtype=np.int64)
    _run(pg, what, [pg.comm.Ibcast(size, root=root)])
    data = np.frombuffer(payload, dtype=np.uint8).copy() if pg.rank() == root else np.empty(int(size[0]), np.uint8)
    _run(pg, what, [pg.comm.Ibcast(data, root=root)])
    return obj if pg.rank() == root else pickle.loads(data.tobytes())


# ---------------------------------------------------------------------------------------------------- faults
# How long a failing rank waits after flushing its report before aborting the job (output forwarding).
_ABORT_GRACE_S = 0.3

def _abort_on_uncaught(exc_type, exc, tb):
    """sys.excepthook while a multi-process group exists: report the failure with this process's rank, then
    abort the whole job so the other ranks stop at once instead of waiting in their next collective.

    The one-line report comes before the traceback, and the abort waits a moment after the flush: the
    launcher forwards each rank's output asynchronously and drops what it has not forwarded when the job is
    aborted, so the line naming the rank must be out first."""
    prev = world.prev_excepthook or sys.__excepthook__
    pg = world.default
    rank = pg.ranks[pg.rank()] if pg is not None else "?"
    try:
        sys.stdout.flush()
        sys.stderr.write(f"fastnn.distributed: rank {rank} failed: {exc_type.__name__}: {exc}\n")
        sys.stderr.flush()
    except Exception:
        pass
    try:
        prev(exc_type, exc, tb)
    finally:
        try:
            sys.stderr.write("fastnn.distributed: aborting every rank of the job\n")
            sys.stderr.flush()
        except Exception:
            pass
        if pg is not None:
            time.sleep(_ABORT_GRACE_S)
            _mpi.MPI().COMM_WORLD.Abort(1)


def install_excepthook():
    if world.prev_excepthook is None:
        world.prev_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught


def remove_excepthook():
    if world.prev_excepthook is not None:
        if sys.excepthook is _abort_on_uncaught:
            sys.excepthook = world.prev_excepthook
        world.prev_excepthook = None
