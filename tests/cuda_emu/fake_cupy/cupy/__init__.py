"""Host-memory stand-in for the part of cupy that fastnn's CUDA adapter and tests/test_cuda_kernels.py
use, so that both run on a machine without a GPU against the emulated fastnn._C_cuda
(tests/cuda_emu/run_gpu_tests_emulated.sh). Arrays are numpy arrays; ``data.ptr`` is their host
address. ``empty`` fills with NaN so that an element a kernel forgets to write is noticed."""
import contextlib
import numpy as _np
from numpy import float32, float64, int64  # noqa

__version__ = "fake"


class _Data:
    def __init__(self, ptr):
        self.ptr = ptr


class _Dev:
    id = 0


class ndarray(_np.ndarray):
    @property
    def data(self):
        return _Data(self.__array_interface__["data"][0])

    @property
    def device(self):
        return _Dev()

    def __array_function__(self, func, types, args, kwargs):
        # numpy functions called on cupy arrays return cupy arrays (cupy's __array_function__);
        # numpy's own implementation drops the subclass for some (broadcast_to, concatenate, ...)
        return _as_device(super().__array_function__(func, types, args, kwargs))


def _as_device(r):
    if isinstance(r, _np.ndarray):
        return r if isinstance(r, ndarray) else r.view(ndarray)
    if type(r) in (tuple, list):
        return type(r)(_as_device(x) for x in r)
    return r


def _w(a):
    return _np.asarray(a).view(ndarray)


def asarray(a, dtype=None):
    return _np.array(a, dtype=dtype).view(ndarray)


def asnumpy(a):
    return _np.array(a)


def full(shape, v, dtype):
    return _w(_np.full(shape, v, dtype))


def empty(shape, dtype):
    return _w(_np.full(shape, _np.nan if _np.dtype(dtype).kind == "f" else -7, dtype))


def ones(shape, dtype):
    return _w(_np.ones(shape, dtype))


def ascontiguousarray(a):
    return _w(_np.ascontiguousarray(a))


def broadcast_to(a, shape):
    return _w(_np.broadcast_to(a, shape))


def abs(a):
    return _w(_np.abs(a))


def matmul(a, b, out=None):
    r = _np.matmul(a, b)
    if out is not None:
        out[...] = r
        return out
    return _w(r)


class linalg:
    @staticmethod
    def norm(a):
        return _np.linalg.norm(_np.asarray(a))


class _Stream:
    ptr = 0

    def __init__(self, non_blocking=False):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def synchronize(self):
        pass


class _Device:
    def __init__(self, i=0):
        self.id = i
        self.compute_capability = "90"

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def synchronize(self):
        pass

    def use(self):
        pass


class cuda:
    Device = _Device
    Stream = _Stream

    @staticmethod
    def get_current_stream():
        return _Stream()


class random:
    @staticmethod
    def seed(s):
        pass


def __getattr__(name):
    # Any other cupy function: numpy's, its array results viewed as this module's ndarray, so that
    # whole models (creation functions, reductions, indexing helpers) run under the stand-in.
    f = getattr(_np, name)
    if not callable(f) or isinstance(f, type):
        return f

    def on_host(*args, **kwargs):
        r = f(*args, **kwargs)
        return r.view(ndarray) if isinstance(r, _np.ndarray) else r
    on_host.__name__ = name
    return on_host
