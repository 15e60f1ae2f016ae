"""``fastnn.distributed``'s process groups and collectives on tensors, with PyTorch's names and arguments.

Ranks passed as ``src``/``dst`` are ranks of the default group (``group_src``/``group_dst`` are ranks within
``group``), as in PyTorch. Collectives change their tensors in place where PyTorch does.
"""
from __future__ import annotations

import os
from datetime import timedelta

import numpy as np

from .. import backend as _backend
from ..tensor import Tensor
from . import _comm, _mpi
from ._comm import (DEFAULT_TIMEOUT, NON_GROUP_MEMBER, DistBackendError, DistError, DistNetworkError,  # noqa: F401
                    DistStoreError, ProcessGroup, ReduceOp, Work, _UsageError, world)


class Backend(str):
    """Backend names (PyTorch's ``Backend``): ``Backend.GLOO == "gloo"``, ``Backend("NCCL") == "nccl"``.
    "gloo" and "mpi" both run over MPI here; "nccl" reduces CUDA tensors with NCCL."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    backend_list = ["gloo", "nccl", "mpi"]

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        value = name.lower()
        if value not in cls.backend_list and value != cls.UNDEFINED:
            raise ValueError(f"Invalid backend: '{name}': expected one of {cls.backend_list} or a "
                             "'cpu:gloo,cuda:nccl' map")
        return str.__new__(cls, value)


class group:
    """``group.WORLD``: the default process group once initialised (PyTorch's ``dist.group``)."""

    WORLD = None


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = NON_GROUP_MEMBER


def _parse_backend(backend):
    """{'cpu': 'gloo'|'mpi', 'cuda': 'nccl'|None} and the name get_backend reports."""
    if backend is None:
        nccl = "nccl" if _backend.nccl_unavailable_reason() is None else None
        return {"cpu": "gloo", "cuda": nccl}, ("cpu:gloo,cuda:nccl" if nccl else "gloo")
    if not isinstance(backend, str):
        raise TypeError(f"init_process_group: argument 'backend' must be a string like 'gloo', got {backend!r}")
    if ":" in backend:
        table = {}
        for item in backend.split(","):
            dev, _, name = item.strip().partition(":")
            if dev not in ("cpu", "cuda"):
                raise ValueError(f"init_process_group: unknown device {dev!r} in backend {backend!r}")
            table[dev] = str(Backend(name))
        if table.get("cuda") not in (None, "nccl") or table.get("cpu") == "nccl":
            raise ValueError(f"init_process_group: backend {backend!r}: CUDA tensors go through 'nccl', CPU "
                             "tensors through 'gloo' or 'mpi'")
        return {"cpu": table.get("cpu", "gloo"), "cuda": table.get("cuda")}, backend.lower()
    name = str(Backend(backend))
    if name == "nccl":
        # PyTorch refuses CPU tensors on an NCCL group; here they go through MPI, which is there anyway
        return {"cpu": "mpi", "cuda": "nccl"}, name
    return {"cpu": name, "cuda": None}, name


def _env_int(name):
    v = os.environ.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"init_process_group: environment variable {name}={v!r} is not an integer") from None


def _launch_hint(n):
    return (f"start {n} processes with `python -m fastnn.distributed.run -n {n} script.py` or "
            f"`mpirun -n {n} python script.py`")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group: every process started by ``mpirun``/``mpiexec`` or by
    ``python -m fastnn.distributed.run`` calls it once. Rank and world size come from MPI; ``rank``,
    ``world_size`` and the RANK/WORLD_SIZE environment variables, when given, must agree with them.
    One process without a launcher is a group of size 1.

    ``backend``: "gloo" or "mpi" (both MPI), "nccl" (CUDA tensors through NCCL, one GPU per process, the
    device being ``device_id`` or the process's rank on its node), None (gloo, plus NCCL for CUDA tensors
    when it is available). ``timeout`` (default 30 minutes) bounds every collective: past it, the collective
    raises DistBackendError naming the ranks that did not join. ``init_method`` and ``store`` are accepted
    for ported code and not needed: MPI already connects the processes.
    """
    fn = "init_process_group"
    if world.default is not None:
        raise _UsageError("trying to initialize the default process group twice!")
    table, name = _parse_backend(backend)
    if table["cuda"] == "nccl" and backend is not None:
        why = _backend.nccl_unavailable_reason()
        if why is not None:
            raise RuntimeError(f"{fn}: backend {backend!r} needs NCCL, which is not available here: {why}; "
                               "use backend='gloo' for CPU tensors")
    if init_method is not None and not isinstance(init_method, str):
        raise TypeError(f"{fn}: argument 'init_method' must be a URL string like 'env://', got {init_method!r}")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if not isinstance(timeout, timedelta):
        raise TypeError(f"{fn}: argument 'timeout' must be a datetime.timedelta, got {type(timeout).__name__}")
    if timeout.total_seconds() <= 0:
        raise ValueError(f"{fn}: argument 'timeout' must be positive, got {timeout}")
    for arg, v in (("world_size", world_size), ("rank", rank)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{fn}: argument '{arg}' must be an int, got {v!r}")
    MPI = _mpi.MPI()
    comm = MPI.COMM_WORLD
    size, me = comm.Get_size(), comm.Get_rank()
    for arg, given, actual in (("world_size", int(world_size), size), ("rank", int(rank), me),
                               ("WORLD_SIZE", _env_int("WORLD_SIZE"), size), ("RANK", _env_int("RANK"), me)):
        if given is None or given == -1:
            continue
        src = f"argument '{arg}'" if arg.islower() else f"environment variable {arg}"
        if arg in ("world_size", "WORLD_SIZE") and given != size:
            hint = _launch_hint(given) if size == 1 else "launch as many processes as the world size"
            raise ValueError(f"{fn}: {src} is {given} but MPI started {size} process(es): {hint}")
        if arg in ("rank", "RANK") and given != me:
            raise ValueError(f"{fn}: {src} is {given} but MPI gave this process rank {me} of {size}; "
                             "let the launcher choose the ranks (leave rank=-1)")
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    local_rank = node.Get_rank()
    node.Free()
    device = None
    if table["cuda"] is not None:
        device = _backend.nccl_select_device(device_id, _env_int("LOCAL_RANK") if _env_int("LOCAL_RANK")
                                             is not None else local_rank)
    pg = ProcessGroup(comm, range(size), name, timeout, device)
    pg._cuda_backend = table["cuda"]
    pg.local_rank = local_rank
    _comm._progress.configure(MPI, size)
    world.default = pg
    group.WORLD = GroupMember.WORLD = pg
    if size > 1:
        _comm.install_excepthook()


def is_available() -> bool:
    """Whether fastnn.distributed can run: mpi4py and an MPI library are installed."""
    return _mpi.available()


def is_mpi_available() -> bool:
    return _mpi.available()


def is_gloo_available() -> bool:
    return _mpi.available()


def is_nccl_available() -> bool:
    return _backend.nccl_unavailable_reason() is None


def is_initialized() -> bool:
    return world.default is not None


def get_node_local_rank(fallback_rank=None) -> int:
    """This process's rank on its machine: LOCAL_RANK (set by the launcher), else ``fallback_rank``."""
    v = _env_int("LOCAL_RANK")
    if v is not None:
        return v
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment: start the processes with "
                       "`python -m fastnn.distributed.run`, or pass fallback_rank")


def is_torchelastic_launched() -> bool:
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def destroy_process_group(group=None):
    """Leave ``group`` (None: every group, the default one included, after which init_process_group may be
    called again)."""
    if group is None or group is world.default:
        pg = _comm.default_group()
        for g in world.groups:
            g._free()
        world.groups = []
        _comm._progress.stop()
        pg._free()
        world.default = None
        globals()["group"].WORLD = GroupMember.WORLD = None
        _comm.remove_excepthook()
        return
    if group is NON_GROUP_MEMBER:
        return
    pg = _comm.resolve(group)
    world.groups.remove(pg)
    pg._free()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None, sort_ranks=True):
    """A group of the default group's processes ``ranks`` (None: all). Every process of the default group
    must call it, members or not; non-members get ``GroupMember.NON_GROUP_MEMBER``."""
    fn = "new_group"
    pg = _comm.default_group()
    n = pg.size()
    if ranks is None:
        ranks = list(range(n))
    ranks = [int(r) for r in ranks]
    if sort_ranks:
        ranks = sorted(ranks)
    if len(set(ranks)) != len(ranks) or any(r < 0 or r >= n for r in ranks):
        raise ValueError(f"{fn}: argument 'ranks' must be distinct ranks in [0, {n}), got {ranks}")
    if backend is not None:
        Backend(backend) if ":" not in backend else None
    MPI = _mpi.MPI()
    me = pg.rank()
    color = 0 if me in ranks else MPI.UNDEFINED
    _comm._enter(pg, fn)
    sub = pg.comm.Split(color, ranks.index(me) if me in ranks else 0)
    if sub == MPI.COMM_NULL:
        return NON_GROUP_MEMBER
    g = ProcessGroup(sub, ranks, pg.backend, timeout if timeout is not None else pg.timeout, pg.device)
    g._cuda_backend = pg._cuda_backend
    g.local_rank = pg.local_rank
    world.groups.append(g)
    return g


def _group(group, fn):
    g = _comm.resolve(group)
    return None if g is NON_GROUP_MEMBER else g


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (-1 when it is not a member)."""
    g = _comm.resolve(group)
    return -1 if g is NON_GROUP_MEMBER else g.rank()


def get_world_size(group=None) -> int:
    g = _comm.resolve(group)
    return -1 if g is NON_GROUP_MEMBER else g.size()


def get_backend(group=None) -> str:
    g = _comm.resolve(group)
    if g is NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return g.backend


def get_process_group_ranks(group) -> list:
    g = _comm.resolve(group)
    return list(g.ranks)


def get_global_rank(group, group_rank: int) -> int:
    g = _comm.resolve(group)
    if not 0 <= group_rank < len(g.ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {g!r}")
    return g.ranks[group_rank]


def get_group_rank(group, global_rank: int) -> int:
    g = _comm.resolve(group)
    if global_rank not in g.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {g!r}")
    return g.ranks.index(global_rank)


# -------------------------------------------------------------------------------------------- argument checks
def _check_tensor(t, arg, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: argument '{arg}' must be a Tensor, got {type(t).__name__}")
    return t


def _check_list(lst, arg, fn, n, like):
    if not isinstance(lst, (list, tuple)):
        raise TypeError(f"{fn}: argument '{arg}' must be a list of Tensors, got {type(lst).__name__}")
    if len(lst) != n:
        raise ValueError(f"{fn}: argument '{arg}' must hold one tensor per rank of the group ({n}), got {len(lst)}")
    for i, t in enumerate(lst):
        _check_tensor(t, f"{arg}[{i}]", fn)
        if tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype:
            raise ValueError(f"{fn}: {arg}[{i}] has shape {tuple(t.shape)} and dtype {t.dtype}; expected shape "
                             f"{tuple(like.shape)} and dtype {like.dtype} like the input tensor")


def _root(g, rank, group_rank, arg, fn):
    """The group rank of the root given as a global ``rank`` or a ``group_rank`` (one of them)."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"{fn}: give either '{arg}' or 'group_{arg}', not both")
    if rank is None and group_rank is None:
        rank = 0
    if group_rank is not None:
        if not 0 <= int(group_rank) < g.size():
            raise ValueError(f"{fn}: argument 'group_{arg}' must be in [0, {g.size()}), got {group_rank}")
        return int(group_rank)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
        raise TypeError(f"{fn}: argument '{arg}' must be an int rank, got {rank!r}")
    if int(rank) not in g.ranks:
        raise ValueError(f"{fn}: argument '{arg}'={rank} is not a rank of the group (ranks {g.ranks})")
    return g.ranks.index(int(rank))


def _same_device(fn, *tensors):
    devs = {str(t.device) for t in tensors}
    if len(devs) > 1:
        raise RuntimeError(f"{fn}: expected all tensors on one device, got {sorted(devs)}")


def _checked(g, fn, *arrays):
    """The cheap cross-rank check that every rank passed the same shapes and dtypes."""
    _comm.check_same(g, fn, "/".join(_comm._sig(a) for a in arrays), ", ".join(_comm._describe(a) for a in arrays))


# -------------------------------------------------------------------------------------------- collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across the ranks, in place on every rank (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR,
    BXOR). AVG is the sum divided by the world size, rounded once."""
    fn = "all_reduce"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    op = _comm.as_op(op, fn)
    if not async_op:
        _checked(g, fn, tensor._data)
    return _comm.allreduce_array(tensor._data, op, async_op, g, result=[tensor])


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every rank."""
    fn = "broadcast"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    root = _root(g, src, group_src, "src", fn)
    if not async_op:
        _checked(g, fn, tensor._data)
    return _comm.broadcast_array(tensor._data, root, g, async_op, result=[tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` of every rank into ``tensor`` of rank ``dst``."""
    fn = "reduce"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    root = _root(g, dst, group_dst, "dst", fn)
    op = _comm.as_op(op, fn)
    if not async_op:
        _checked(g, fn, tensor._data)
    return _comm.reduce_array(tensor._data, root, op, g, async_op, result=[tensor])


def _into_list(buf, tensor_list):
    def finish():
        for i, t in enumerate(tensor_list):
            t._data[...] = buf[i]
    return finish


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[i]`` of every rank receives ``tensor`` of rank i."""
    fn = "all_gather"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    _check_list(tensor_list, "tensor_list", fn, g.size(), tensor)
    _same_device(fn, tensor, *tensor_list)
    if not async_op:
        _checked(g, fn, tensor._data)
    x = tensor._data
    buf = _backend.empty((g.size(),) + tuple(x.shape), x.dtype, x)
    return _comm.allgather_array(x, buf, g, async_op, _into_list(buf, tensor_list), result=list(tensor_list))


def _flat_target(out, n_in, n, arg, fn, in_shape):
    if out.numel() != n * n_in:
        raise ValueError(f"{fn}: argument '{arg}' must hold world_size ({n}) times the elements of the input "
                         f"(shape {in_shape}), got shape {tuple(out.shape)}")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` (world_size·N rows, or shape (world_size, N, ...)) receives every rank's
    ``input_tensor`` in rank order."""
    fn = "all_gather_into_tensor"
    _check_tensor(output_tensor, "output_tensor", fn)
    _check_tensor(input_tensor, "input_tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    _same_device(fn, output_tensor, input_tensor)
    if output_tensor.dtype != input_tensor.dtype:
        raise TypeError(f"{fn}: output_tensor has dtype {output_tensor.dtype}, input_tensor {input_tensor.dtype}")
    _flat_target(output_tensor, input_tensor.numel(), g.size(), "output_tensor", fn, tuple(input_tensor.shape))
    if not async_op:
        _checked(g, fn, input_tensor._data)
    out = output_tensor._data
    if out.flags.c_contiguous:
        return _comm.allgather_array(input_tensor._data, out, g, async_op, result=[output_tensor])
    buf = _backend.empty(out.shape, out.dtype, out)

    def finish():
        out[...] = buf

    return _comm.allgather_array(input_tensor._data, buf, g, async_op, finish, result=[output_tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """``output`` of rank i receives the reduction over the ranks of their ``input_list[i]``."""
    fn = "reduce_scatter"
    _check_tensor(output, "output", fn)
    g = _group(group, fn)
    if g is None:
        return None
    _check_list(input_list, "input_list", fn, g.size(), output)
    _same_device(fn, output, *input_list)
    op = _comm.as_op(op, fn)
    if not async_op:
        _checked(g, fn, output._data)
    xp = _backend.array_module_of(output._data)
    send = xp.stack([t._data for t in input_list])
    return _reduce_scatter_into(g, send, output, op, async_op)


def _reduce_scatter_into(g, send, output, op, async_op):
    out = output._data
    if out.flags.c_contiguous:
        return _comm.reduce_scatter_array(send, out, op, g, async_op, result=[output])
    buf = _backend.empty(out.shape, out.dtype, out)

    def finish():
        out[...] = buf

    return _comm.reduce_scatter_array(send, buf, op, g, async_op, finish, result=[output])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """``output`` of rank i receives block i (of world_size equal blocks along dim 0, or ``input[i]`` when
    ``input`` has shape (world_size, ...)) of ``input`` reduced over the ranks."""
    fn = "reduce_scatter_tensor"
    _check_tensor(output, "output", fn)
    _check_tensor(input, "input", fn)
    g = _group(group, fn)
    if g is None:
        return None
    _same_device(fn, output, input)
    if output.dtype != input.dtype:
        raise TypeError(f"{fn}: output has dtype {output.dtype}, input {input.dtype}")
    _flat_target(input, output.numel(), g.size(), "input", fn, tuple(output.shape))
    op = _comm.as_op(op, fn)
    if not async_op:
        _checked(g, fn, input._data)
    xp = _backend.array_module_of(input._data)
    return _reduce_scatter_into(g, xp.ascontiguousarray(input._data), output, op, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """``gather_list[i]`` on rank ``dst`` receives ``tensor`` of rank i; the others pass no list."""
    fn = "gather"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    root = _root(g, dst, group_dst, "dst", fn)
    if g.rank() == root:
        if not gather_list:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        _check_list(gather_list, "gather_list", fn, g.size(), tensor)
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    if not async_op:
        _checked(g, fn, tensor._data)
    x = tensor._data
    if g.rank() == root:
        buf = np.empty((g.size(),) + tuple(x.shape), x.dtype)
        return _comm.gather_array(x, buf, root, g, async_op, _into_list(buf, gather_list), result=list(gather_list))
    return _comm.gather_array(x, None, root, g, async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """``tensor`` of rank i receives ``scatter_list[i]`` of rank ``src``; the others pass no list."""
    fn = "scatter"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    root = _root(g, src, group_src, "src", fn)
    if g.rank() == root:
        if not scatter_list:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _check_list(scatter_list, "scatter_list", fn, g.size(), tensor)
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    if not async_op:
        _checked(g, fn, tensor._data)
    send = np.stack([np.asarray(t._data) for t in scatter_list]) if g.rank() == root else None
    return _comm.scatter_array(send, tensor._data, root, g, async_op, result=[tensor])


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    """Wait until every rank of the group has reached it (at most ``timeout``, default the group's)."""
    g = _group(group, "barrier")
    if g is None:
        return None
    return _comm.barrier(g, async_op, timeout)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier that raises after ``timeout`` naming the ranks that did not reach it."""
    g = _group(group, "monitored_barrier")
    if g is None:
        return None
    return _comm.barrier(g, False, timeout)


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    fn = "send"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    _comm.send_array(tensor._data, _root(g, dst, group_dst, "dst", fn), tag, g)


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (None: any); returns the sender's rank."""
    fn = "recv"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return -1
    root = None if src is None and group_src is None else _root(g, src, group_src, "src", fn)
    return g.ranks[_comm.recv_array(tensor._data, root, tag, g)]


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    fn = "isend"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    return _comm.send_array(tensor._data, _root(g, dst, group_dst, "dst", fn), tag, g, True, [tensor])


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    fn = "irecv"
    _check_tensor(tensor, "tensor", fn)
    g = _group(group, fn)
    if g is None:
        return None
    root = None if src is None and group_src is None else _root(g, src, group_src, "src", fn)
    return _comm.recv_array(tensor._data, root, tag, g, True, [tensor])


# -------------------------------------------------------------------------------------------- objects
def all_gather_object(object_list, obj, group=None):
    """``object_list[i]`` of every rank receives the picklable ``obj`` of rank i."""
    fn = "all_gather_object"
    g = _group(group, fn)
    if g is None:
        return None
    if not isinstance(object_list, list) or len(object_list) != g.size():
        got = f"a list of {len(object_list)}" if isinstance(object_list, list) else type(object_list).__name__
        raise ValueError(f"{fn}: argument 'object_list' must be a list of world_size ({g.size()}) entries, got {got}")
    object_list[:] = _comm.allgather_object(obj, g)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    fn = "gather_object"
    g = _group(group, fn)
    if g is None:
        return None
    root = _root(g, dst, group_dst, "dst", fn)
    if g.rank() == root and (not isinstance(object_gather_list, list) or len(object_gather_list) != g.size()):
        raise ValueError(f"{fn}: argument 'object_gather_list' must be a list of world_size ({g.size()}) entries "
                         "on the destination rank")
    got = _comm.allgather_object(obj, g)
    if g.rank() == root:
        object_gather_list[:] = got


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Every rank's ``object_list`` (same length everywhere) receives the entries of rank ``src``'s."""
    fn = "broadcast_object_list"
    g = _group(group, fn)
    if g is None:
        return None
    if not isinstance(object_list, list):
        raise TypeError(f"{fn}: argument 'object_list' must be a list, got {type(object_list).__name__}")
    root = _root(g, src, group_src, "src", fn)
    got = _comm.broadcast_object(list(object_list), root, g)
    if len(got) != len(object_list):
        raise ValueError(f"{fn}: rank {g.ranks[root]} broadcast {len(got)} objects but this rank's object_list "
                         f"has {len(object_list)} entries")
    object_list[:] = got


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    fn = "scatter_object_list"
    g = _group(group, fn)
    if g is None:
        return None
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError(f"{fn}: argument 'scatter_object_output_list' must be a non-empty list")
    root = _root(g, src, group_src, "src", fn)
    items = list(scatter_object_input_list) if g.rank() == root else None
    if g.rank() == root and len(items) != g.size():
        raise ValueError(f"{fn}: argument 'scatter_object_input_list' must hold world_size ({g.size()}) objects")
    got = _comm.broadcast_object(items, root, g)
    scatter_object_output_list[0] = got[g.rank()]
