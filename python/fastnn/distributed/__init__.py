"""``fastnn.distributed``: several processes training together (PyTorch's ``torch.distributed``).

Processes are started by ``python -m fastnn.distributed.run -n N script.py`` on one machine, or by
``mpirun -n N python script.py`` anywhere MPI runs; each calls ``init_process_group()`` and then the
collectives. CPU tensors travel through MPI (mpi4py, with MPICH from ``pip install fastnn[distributed]``),
CUDA tensors through NCCL. mpi4py is imported on first use only.
"""
from ._comm import DistBackendError, DistError, DistNetworkError, DistStoreError, Future, ReduceOp, Work  # noqa: F401
from .distributed_c10d import (  # noqa: F401
    Backend, GroupMember, ProcessGroup, all_gather, all_gather_into_tensor, all_gather_object, all_reduce,
    barrier, broadcast, broadcast_object_list, destroy_process_group, gather, gather_object, get_backend,
    get_global_rank, get_group_rank, get_node_local_rank, get_process_group_ranks, get_rank, get_world_size,
    group, init_process_group, irecv, is_available, is_gloo_available, is_initialized, is_mpi_available,
    is_nccl_available, is_torchelastic_launched, isend, monitored_barrier, new_group, recv, reduce,
    reduce_scatter, reduce_scatter_tensor, scatter, scatter_object_list, send)

reduce_op = ReduceOp
