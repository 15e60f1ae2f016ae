"""``fastnn.cuda``: PyTorch's ``torch.cuda`` queries for fastnn's CUDA backend.

Everything here works without a GPU: ``is_available()`` is then False, ``device_count()`` 0,
``manual_seed`` is silently ignored (as in PyTorch), and the functions that need a device raise
RuntimeError saying why none is usable.
"""
from __future__ import annotations

from . import backend

__all__ = ["is_available", "device_count", "current_device", "set_device", "get_device_name",
           "get_device_capability", "get_device_properties", "synchronize", "manual_seed", "manual_seed_all",
           "is_built", "memory_allocated", "memory_reserved", "mem_get_info", "empty_cache"]


def is_built() -> bool:
    """Whether this installation was compiled with the CUDA kernels (nvcc was found at build time)."""
    return backend.cuda_built()


def is_available() -> bool:
    """True when fastnn can run on a GPU: CUDA kernels built, cupy installed and a device visible."""
    return backend.cuda_available()


def device_count() -> int:
    return backend.cuda_device_count()


def _index(device, fn) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int) and not isinstance(device, bool):
        idx = device
    else:
        d = backend.as_device(device)
        if d.type != "cuda":
            raise ValueError(f"{fn}: expected a CUDA device, got {d}")
        idx = d.index
    n = device_count()
    if not 0 <= idx < n:
        raise RuntimeError(f"{fn}: device cuda:{idx} requested but {n} CUDA device(s) are available")
    return idx


def _require(fn):
    why = backend.cuda_unavailable_reason()
    if why is not None:
        raise RuntimeError(f"{fn}: CUDA is not available: {why}")


def current_device() -> int:
    _require("current_device")
    return backend.cupy_module().cuda.Device().id


def set_device(device) -> None:
    _require("set_device")
    backend.cupy_module().cuda.Device(_index(device, "set_device")).use()


def get_device_properties(device=None) -> dict:
    """name, capability (major, minor), sm_count and total_memory (bytes) of a device."""
    _require("get_device_properties")
    return backend.kernel_module("cuda").device_info(_index(device, "get_device_properties"))


def get_device_name(device=None) -> str:
    return get_device_properties(device)["name"]


def get_device_capability(device=None) -> tuple:
    return tuple(get_device_properties(device)["capability"])


def synchronize(device=None) -> None:
    """Wait until every kernel queued on the device has finished (all of its streams)."""
    _require("synchronize")
    backend.cupy_module().cuda.Device(_index(device, "synchronize")).synchronize()


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory held by the tensors (and other arrays) alive on ``device``."""
    _require("memory_allocated")
    return backend.cuda_memory(_index(device, "memory_allocated"))["allocated"]


def memory_reserved(device=None) -> int:
    """Bytes the memory pool holds on ``device``: in use plus cached for reuse (``empty_cache`` frees the
    cached part)."""
    _require("memory_reserved")
    return backend.cuda_memory(_index(device, "memory_reserved"))["reserved"]


def mem_get_info(device=None) -> tuple:
    """(free, total) bytes of ``device`` as the driver sees them."""
    _require("mem_get_info")
    m = backend.cuda_memory(_index(device, "mem_get_info"))
    return m["free"], m["total"]


def empty_cache() -> None:
    """Give the cached, unused blocks of the memory pool back to the driver (other processes can then use
    them); tensors alive are untouched. Does nothing without CUDA, as in PyTorch."""
    if is_available():
        backend.cuda_release_cached_memory()


def manual_seed(seed: int) -> None:
    """Seed the random generator of the current GPU; ignored when CUDA is not available."""
    seed = _seed_value(seed)
    if is_available():
        backend.cupy_module().random.seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the random generator of every GPU; ignored when CUDA is not available."""
    seed = _seed_value(seed)
    if not is_available():
        return
    cp = backend.cupy_module()
    for i in range(device_count()):
        with cp.cuda.Device(i):
            cp.random.seed(seed)


def _seed_value(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        try:
            import numpy as np
            if isinstance(seed, np.integer):
                return int(seed)
        except ImportError:
            pass
        raise TypeError(f"manual_seed: argument 'seed' must be an int, got {type(seed).__name__}")
    # cupy (like numpy) accepts seeds in [0, 2**64); PyTorch accepts negative seeds by wrapping them.
    return seed % (1 << 64)
