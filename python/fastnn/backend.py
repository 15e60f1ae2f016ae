"""The one place that knows about devices.

Given a device it returns the array module (numpy or cupy) that holds tensors there and
the native kernel module (``fastnn._C`` or ``fastnn._C_cuda``, which have the same functions and
arguments) that runs heavy work there; it also reads the ``fastnn.backends`` switches the GPU
kernels take. No other file imports cupy or compares device strings by hand.
"""
from __future__ import annotations

import functools

import numpy as np

from . import _C
from . import backends as _backends


class Device:
    """A device: ``Device("cpu")``, ``Device("cuda")``, ``Device("cuda:0")`` or ``Device("cuda", 1)``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, Device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', got {type!r}")
        if ":" in type:
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise ValueError(f"invalid device string {type + ':' + idx!r}: the index must be an integer")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise ValueError(f"unknown device type {type!r}: expected 'cpu' or 'cuda'")
        if type == "cpu":
            index = None
        elif index is None:
            index = 0
        self.type = type
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"


CPU = Device("cpu")


_default_device = CPU


def set_default_device(device):
    """The device that factory functions (``tensor``, ``zeros``, ``randn``, ...) use when given no ``device``
    (``torch.set_default_device``); ``None`` restores the CPU. Layers built afterwards get their
    parameters there too."""
    global _default_device
    dev = as_device(device)
    if dev.type == "cuda":
        _require_cuda(dev)
    _default_device = dev


def get_default_device() -> Device:
    return _default_device


def on_device(a, device=None):
    """Host array ``a`` placed on ``device``; ``None`` means the default device (the rule of every
    factory function and new parameter)."""
    dev = _default_device if device is None else as_device(device)
    return a if dev == CPU else to_device(a, dev)


def as_device(device) -> Device:
    """Normalise ``None``/str/Device to a Device (``None`` means the CPU)."""
    if device is None:
        return CPU
    return device if isinstance(device, Device) else Device(device)


@functools.lru_cache(maxsize=None)
def _cupy():
    try:
        import cupy  # noqa: F401
    except Exception:
        return None
    return cupy


@functools.lru_cache(maxsize=None)
def _cuda_module():
    try:
        from . import _C_cuda
    except ImportError:
        return None
    return _C_cuda


def cupy_module():
    """The cupy module (for fastnn's own CUDA code); RuntimeError when cupy is not installed."""
    cp = _cupy()
    if cp is None:
        raise RuntimeError("cupy is not installed: pip install fastnn[cuda]")
    return cp


def cuda_built() -> bool:
    """Whether the CUDA kernel module was compiled into this installation."""
    return _cuda_module() is not None


def cuda_device_count() -> int:
    """Visible CUDA devices usable by fastnn: 0 without the CUDA module, without cupy or without a GPU."""
    mod = _cuda_module()
    if mod is None or _cupy() is None:
        return 0
    return mod.device_count()


def cuda_available() -> bool:
    return cuda_device_count() > 0


def cuda_unavailable_reason():
    """Why CUDA cannot be used here (None when it can): not built, cupy missing or no device."""
    if not cuda_built():
        return "fastnn was built without CUDA (nvcc was not found when it was compiled)"
    if _cupy() is None:
        return "cupy is not installed (pip install fastnn[cuda])"
    if cuda_device_count() == 0:
        return "no CUDA device is visible (no GPU, or its driver is not loaded)"
    return None


def cuda_memory(index: int) -> dict:
    """GPU memory of device ``index``: bytes held by live arrays and by cupy's pool (live + cached), and the
    driver's free and total bytes."""
    cp = cupy_module()
    pool = cp.get_default_memory_pool()
    with cp.cuda.Device(index):
        free, total = cp.cuda.runtime.memGetInfo()
        return {"allocated": int(pool.used_bytes()), "reserved": int(pool.total_bytes()), "free": int(free),
                "total": int(total)}


def cuda_release_cached_memory():
    """Hand the blocks cached by cupy's pool (not held by any array) back to the driver."""
    cupy_module().get_default_memory_pool().free_all_blocks()


def _require_cuda(device: Device):
    why = cuda_unavailable_reason()
    if why is not None:
        raise RuntimeError(f"device {device} requested but CUDA is not available: {why}")
    n = cuda_device_count()
    if device.index >= n:
        raise RuntimeError(f"device {device} requested but only {n} CUDA device(s) are available")


def array_module(device):
    """numpy for the CPU, cupy for CUDA."""
    device = as_device(device)
    if device.type == "cpu":
        return np
    _require_cuda(device)
    return _cupy()


def kernel_module(device):
    """fastnn._C for the CPU, fastnn._C_cuda for CUDA: the same functions and arguments, on the arrays of
    their device (fastnn._C_cuda runs on the arrays' GPU, on cupy's current stream there)."""
    device = as_device(device)
    if device.type == "cpu":
        return _C
    _require_cuda(device)
    return _cuda_module()


def kernel(name, *arrays):
    """The native function ``name`` of the device that holds ``arrays`` (all on one device; None entries are
    optional arguments left out)."""
    dev = device_of(arrays[0])
    for a in arrays[1:]:
        if a is not None and device_of(a) != dev:
            raise RuntimeError(f"{name}: expected all arrays on {dev}, got one on {device_of(a)}")
    f = getattr(kernel_module(dev), name, None)
    if f is None:
        raise RuntimeError(f"{name}: no kernel for device {dev} in this build")
    return f


def allow_tf32(op) -> bool:
    """Whether float32 ``op`` ('matmul' or 'conv') may use the GPU's TF32 tensor cores:
    ``fastnn.backends.cuda.matmul.allow_tf32`` / ``fastnn.backends.cudnn.allow_tf32`` (PyTorch's names)."""
    return _backends.cuda.matmul.allow_tf32 if op == "matmul" else _backends.cudnn.allow_tf32


_deterministic_algorithms = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """``fastnn.use_deterministic_algorithms`` (PyTorch's name): every GPU kernel that has a choice sums in a
    fixed order (bitwise reproducible from run to run), at some speed. CPU kernels are deterministic always."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: argument 'mode' must be a bool, got {type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError("use_deterministic_algorithms: argument 'warn_only' must be a bool, "
                        f"got {type(warn_only).__name__}")
    _deterministic_algorithms.update(mode=mode, warn_only=warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic_algorithms["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic_algorithms["mode"] and _deterministic_algorithms["warn_only"]


def deterministic() -> bool:
    """Whether GPU reductions must run in a fixed order (bitwise reproducible): under
    ``fastnn.use_deterministic_algorithms(True)`` or ``fastnn.backends.cudnn.deterministic``."""
    return _deterministic_algorithms["mode"] or _backends.cudnn.deterministic


def is_cuda_array(a) -> bool:
    cp = _cupy()
    return cp is not None and isinstance(a, cp.ndarray)


def is_writeable(a) -> bool:
    """Whether array ``a`` may be written in place. cupy arrays have no read-only state (their ``flags`` hold
    only contiguity and ownership), so a device array always may."""
    return a.flags.writeable if a.__class__ is np.ndarray or not is_cuda_array(a) else True


def device_of(a) -> Device:
    """The device that holds array ``a``."""
    # exact class first: the common CPU case costs one comparison (cupy's stand-in in the tests
    # subclasses numpy.ndarray, so the cupy test must come before isinstance(np.ndarray))
    if a.__class__ is np.ndarray:
        return CPU
    if is_cuda_array(a):
        return Device("cuda", a.device.id)
    return CPU


def data_ptr(a) -> int:
    """Address of the first element of array ``a`` (host or device memory)."""
    if is_cuda_array(a):
        return int(a.data.ptr)
    return int(a.__array_interface__["data"][0])


def check_same_device(a, b, op):
    """RuntimeError naming both devices when arrays ``a`` and ``b`` live on different devices.

    Callers run it only when the two array classes differ, which keeps the all-CPU path free."""
    da, db = device_of(a), device_of(b)
    if da != db:
        raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found at least two "
                           f"devices, {da} and {db}; move them with .to(device) first")


def empty(shape, dtype, like):
    """An uninitialised C-contiguous array on the device of array ``like``: large host arrays come from
    the pool of freed kernel outputs (csrc/core/host_pool.h), device arrays from cupy's pool."""
    if is_cuda_array(like):
        return cupy_module().empty(shape, dtype=dtype)
    from . import _C
    return _C.host_empty(tuple(int(d) for d in shape), np.dtype(dtype))


# Host results from this size up come from the pool (csrc/core/host_pool.h kMinBytes): malloc maps larger
# blocks fresh and gives them back on free, so each training step would fault their pages in again.
_POOL_MIN_BYTES = 1 << 18


def empty_on(shape, dtype, device):
    """An uninitialised C-contiguous array on ``device``; large host arrays come from the pool."""
    if as_device(device) == CPU:
        from . import _C
        return _C.host_empty(tuple(int(d) for d in shape), np.dtype(dtype))
    return array_module(device).empty(shape, dtype=dtype)


def out_like(a, dtype=None):
    """A pooled destination shaped like host array ``a`` (``dtype`` or a's) for an elementwise result, or
    None (the ufunc allocates) for small and device arrays: ``np.add(x, y, out=out_like(x))``."""
    if a.__class__ is not np.ndarray:
        return None
    dt = a.dtype if dtype is None else np.dtype(dtype)
    if a.size * dt.itemsize < _POOL_MIN_BYTES:
        return None
    from . import _C
    return _C.host_empty(a.shape, dt)


def array_module_of(a):
    return _cupy() if is_cuda_array(a) else np


def to_device(a, device):
    """Copy array ``a`` to ``device`` (no copy when it is already there)."""
    device = as_device(device)
    src = device_of(a)
    if src == device:
        return a
    if device.type == "cpu":
        return _cupy().asnumpy(a)
    cp = array_module(device)
    with cp.cuda.Device(device.index):
        return cp.asarray(a)


def cuda_stream_ptr(device) -> int:
    """The raw pointer of cupy's current stream on ``device``, for kernel launches."""
    cp = array_module(device)
    return cp.cuda.get_current_stream().ptr


_DLPACK_CUDA_TYPES = (2, 13)  # kDLCUDA, kDLCUDAManaged


def from_dlpack(obj):
    """The array behind any DLPack producer, sharing its memory: numpy for host memory, cupy for CUDA memory."""
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ (a tensor or array), got {type(obj).__name__}")
    dev_type, dev_index = obj.__dlpack_device__() if hasattr(obj, "__dlpack_device__") else (1, 0)
    if int(dev_type) in _DLPACK_CUDA_TYPES:
        cp = array_module(Device("cuda", int(dev_index)))
        return cp.from_dlpack(obj)
    return np.from_dlpack(obj)


# ------------------------------------------------------------------------------------------------ NCCL
@functools.lru_cache(maxsize=None)
def _nccl():
    if _cupy() is None:
        return None
    try:
        from cupy.cuda import nccl
    except Exception:
        return None
    return nccl if getattr(nccl, "available", True) else None


def nccl_unavailable_reason():
    """Why NCCL cannot be used here (None when it can): no usable GPU, or cupy without its NCCL bindings."""
    why = cuda_unavailable_reason()
    if why is not None:
        return why
    if _nccl() is None:
        return "cupy has no NCCL bindings here (pip install nvidia-nccl-cu12, or a cupy wheel that finds NCCL)"
    return None


def nccl_module():
    """cupy's NCCL bindings (``cupy.cuda.nccl``); RuntimeError naming what is missing."""
    why = nccl_unavailable_reason()
    if why is not None:
        raise RuntimeError(f"backend 'nccl' is not available: {why}")
    return _nccl()


def nccl_select_device(device_id, local_rank):
    """Make the GPU of this process current (``device_id``, else the process's rank on its node, modulo the
    number of GPUs) and return its index; None when no NCCL-capable GPU is there."""
    if nccl_unavailable_reason() is not None:
        return None
    n = cuda_device_count()
    if device_id is None:
        index = int(local_rank or 0) % n
    elif isinstance(device_id, int):
        index = device_id
    else:
        dev = as_device(device_id)
        if dev.type != "cuda":
            raise ValueError(f"init_process_group: argument 'device_id' must be a CUDA device, got {dev}")
        index = dev.index
    if not 0 <= index < n:
        raise ValueError(f"init_process_group: device_id {index} out of range: {n} CUDA device(s) are visible")
    _cupy().cuda.Device(index).use()
    return index


_NCCL_TYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "bool": "NCCL_UINT8", "int32": "NCCL_INT32",
               "int64": "NCCL_INT64", "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32",
               "float64": "NCCL_FLOAT64"}


def nccl_dtype(dtype):
    """The NCCL datatype constant of numpy ``dtype``; TypeError for types NCCL cannot reduce."""
    name = _NCCL_TYPES.get(np.dtype(dtype).name)
    if name is None:
        raise TypeError(f"NCCL collectives do not support dtype {np.dtype(dtype)}")
    return getattr(nccl_module(), name)


def nccl_new_comm(size, unique_id, rank):
    return nccl_module().NcclCommunicator(size, unique_id, rank)


def nccl_unique_id():
    return nccl_module().get_unique_id()


def cuda_record_event():
    """An event recorded on the current stream: ``.done`` tells when the work queued before it has run."""
    cp = _cupy()
    ev = cp.cuda.Event(block=False, disable_timing=True)
    ev.record(cp.cuda.get_current_stream())
    return ev
