"""A stand-in for fastnn.distributed over mpi4py, used only while that package is absent."""
import sys
import types

import numpy as np


def install():
    try:
        import fastnn.distributed  # noqa: F401
        return
    except ImportError:
        pass
    from mpi4py import MPI
    W = MPI.COMM_WORLD
    mod = types.ModuleType("fastnn.distributed")
    comm = types.ModuleType("fastnn.distributed._comm")
    state = {"init": False}

    class ReduceOp:
        SUM, AVG, PRODUCT, MIN, MAX = 0, 1, 2, 3, 4

    ops = {0: MPI.SUM, 1: MPI.SUM, 2: MPI.PROD, 3: MPI.MIN, 4: MPI.MAX}

    class Work:
        def __init__(self, req, fin=None):
            self.req, self.fin, self.done = req, fin, False

        def is_completed(self):
            if not self.done and (self.req is None or self.req.Test()):
                self.done = True
                if self.fin:
                    self.fin()
            return self.done

        def wait(self, timeout=None):
            if not self.done:
                if self.req is not None:
                    self.req.Wait()
                self.done = True
                if self.fin:
                    self.fin()
            return True

    def allreduce_array(arr, op=0, async_=False, group=None):
        fin = (lambda: np.divide(arr, W.size, out=arr)) if op == 1 else None
        w = Work(W.Iallreduce(MPI.IN_PLACE, arr, ops[int(op)]), fin)
        if async_:
            return w
        w.wait()
        return arr

    def broadcast_array(arr, root, group=None, async_=False):
        W.Bcast(arr, root=root)

    comm.allreduce_array, comm.broadcast_array, comm.ReduceOp = allreduce_array, broadcast_array, ReduceOp
    mod._comm = comm
    mod.ReduceOp = ReduceOp
    mod.is_available = lambda: True
    mod.is_initialized = lambda: state["init"]

    def init_process_group(backend=None, **kw):
        state["init"] = True
    mod.init_process_group = init_process_group
    mod.destroy_process_group = lambda group=None: state.update(init=False)
    mod.get_rank = lambda group=None: W.rank
    mod.get_world_size = lambda group=None: W.size
    mod.barrier = lambda group=None: W.Barrier()

    def all_reduce(tensor, op=0, group=None, async_op=False):
        allreduce_array(tensor._data, op)
    mod.all_reduce = all_reduce

    def broadcast(tensor, src, group=None, async_op=False):
        W.Bcast(tensor._data, root=src)
    mod.broadcast = broadcast

    def broadcast_object_list(object_list, src=0, group=None, device=None):
        object_list[:] = W.bcast(object_list, root=src)
    mod.broadcast_object_list = broadcast_object_list

    def all_gather_object(object_list, obj, group=None):
        object_list[:] = W.allgather(obj)
    mod.all_gather_object = all_gather_object
    import fastnn
    sys.modules["fastnn.distributed"] = mod
    sys.modules["fastnn.distributed._comm"] = comm
    fastnn.distributed = mod
