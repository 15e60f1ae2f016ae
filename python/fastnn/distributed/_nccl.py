"""Collectives on CUDA arrays through NCCL (cupy's bindings, reached through ``fastnn.backend``).

One process per GPU. The communicator of a group is made on its first CUDA collective: group rank 0 asks
NCCL for a unique id and MPI broadcasts it (NCCL then connects the GPUs itself). Collectives are queued on
cupy's current stream, reading and writing the device buffers directly: nothing goes through the host.
The returned Work records an event after them; waiting on it only blocks the host when given a timeout,
since later work on the same stream already runs after the collective.
"""
from __future__ import annotations

from .. import backend as _backend
from . import _comm
from ._comm import ReduceOp, Work


_MAX_INT_COUNT = 1 << 30

_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.AVG: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD",
        ReduceOp.MIN: "NCCL_MIN", ReduceOp.MAX: "NCCL_MAX"}


def comm_for(pg):
    """The group's NCCL communicator (made on first use); RuntimeError when the group has no NCCL backend."""
    if getattr(pg, "_cuda_backend", None) != "nccl":
        raise RuntimeError(f"CUDA tensors need a process group with the 'nccl' backend (this one is "
                           f"{pg.backend!r}): init_process_group('nccl') or backend=None on a GPU machine")
    if pg._nccl is None:
        _backend.nccl_module()
        uid = _backend.nccl_unique_id() if pg.rank() == 0 else None
        uid = _comm.broadcast_object(uid, 0, pg)
        pg._nccl = _NcclComm(pg, _backend.nccl_new_comm(pg.size(), uid, pg.rank()))
    return pg._nccl


def _contiguous(arr, what):
    if not arr.flags.c_contiguous:
        raise ValueError(f"{what}: NCCL needs a contiguous CUDA tensor, got strides {arr.strides} for shape "
                         f"{arr.shape}; call .contiguous() first")
    return arr


class _NcclComm:
    def __init__(self, pg, comm):
        self.pg = pg
        self.comm = comm
        self.nccl = _backend.nccl_module()

    def destroy(self):
        self.comm.destroy()

    def abort(self):
        try:
            self.comm.abort()
        finally:
            self.pg._nccl = None

    def _op(self, op, what):
        name = _OPS.get(op)
        if name is None:
            raise ValueError(f"{what}: ReduceOp.{op.name} is not supported on CUDA tensors")
        return getattr(self.nccl, name)

    def _stream(self):
        return _backend.cupy_module().cuda.get_current_stream().ptr

    def _done(self, what, async_, finish=None, result=None):
        if finish is not None:
            finish()  # queued on the same stream, after the collective
        work = Work(self.pg, what, event=_backend.cuda_record_event(), result=result)
        return work if async_ else None

    def _avg(self, arr, op):
        if op == ReduceOp.AVG:
            _comm._divide(arr, self.pg.size())

    def all_reduce(self, arr, op, async_, result):
        what = "all_reduce"
        _comm._enter(self.pg, what)
        _contiguous(arr, what)
        self.comm.allReduce(arr.data.ptr, arr.data.ptr, arr.size, _backend.nccl_dtype(arr.dtype),
                            self._op(op, what), self._stream())
        self._avg(arr, op)
        work = self._done(what, async_, result=result)
        return work if async_ else arr

    def broadcast(self, arr, root, async_, result):
        what = "broadcast"
        _comm._enter(self.pg, what)
        _contiguous(arr, what)
        dt, stream = _backend.nccl_dtype(arr.dtype), self._stream()
        # cupy's bcast takes a C int count: larger tensors go in chunks
        for start in range(0, arr.size, _MAX_INT_COUNT):
            count = min(_MAX_INT_COUNT, arr.size - start)
            self.comm.bcast(arr.data.ptr + start * arr.itemsize, count, dt, root, stream)
        return self._done(what, async_, result=result)

    def reduce(self, arr, root, op, async_, result):
        what = "reduce"
        _comm._enter(self.pg, what)
        _contiguous(arr, what)
        self.comm.reduce(arr.data.ptr, arr.data.ptr, arr.size, _backend.nccl_dtype(arr.dtype),
                         self._op(op, what), root, self._stream())
        if self.pg.rank() == root:
            self._avg(arr, op)
        return self._done(what, async_, result=result)

    def all_gather(self, send, recv, async_, finish, result):
        what = "all_gather"
        _comm._enter(self.pg, what)
        cp = _backend.cupy_module()
        send = cp.ascontiguousarray(send)
        _contiguous(recv, what)
        self.comm.allGather(send.data.ptr, recv.data.ptr, send.size, _backend.nccl_dtype(send.dtype),
                            self._stream())
        return self._done(what, async_, finish, result)

    def reduce_scatter(self, send, recv, op, async_, finish, result):
        what = "reduce_scatter"
        _comm._enter(self.pg, what)
        cp = _backend.cupy_module()
        send = cp.ascontiguousarray(send)
        _contiguous(recv, what)
        self.comm.reduceScatter(send.data.ptr, recv.data.ptr, recv.size, _backend.nccl_dtype(send.dtype),
                                self._op(op, what), self._stream())
        self._avg(recv, op)
        return self._done(what, async_, finish, result)
