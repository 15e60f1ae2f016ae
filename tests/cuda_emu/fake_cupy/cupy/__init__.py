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

    def __dlpack_device__(self):
        return (2, 0)   # kDLCUDA, device 0

    # Like cupy, refuse host arrays as operands: a numpy array (0-d included) meeting a device array in a
    # ufunc or a numpy function is a TypeError, never a silent mix. Numpy and Python scalars are accepted.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse_host(inputs)
        _refuse_host(kwargs.get("out", ()))
        inputs = _host_views(inputs)
        if "out" in kwargs:
            kwargs["out"] = _host_views(kwargs["out"])
        r = getattr(ufunc, method)(*inputs, **kwargs)
        # cupy's full reductions give 0-d device arrays, not host scalars
        return _w(r) if isinstance(r, _np.generic) else _as_device(r)

    def __array_function__(self, func, types, args, kwargs):
        # numpy functions called on cupy arrays return cupy arrays (cupy's __array_function__);
        # numpy's own implementation drops the subclass for some (broadcast_to, concatenate, ...)
        _refuse_host(args)
        _refuse_host(tuple(kwargs.values()))
        # computed on plain host views so that numpy's own nested calls are not checked again
        r = func(*_host_views(args), **dict(zip(kwargs, _host_views(tuple(kwargs.values())))))
        # cupy's functions give 0-d device arrays where numpy gives scalars
        return _w(r) if isinstance(r, _np.generic) else _as_device(r)


def _host_views(values):
    return tuple(x.view(_np.ndarray) if isinstance(x, ndarray)
                 else type(x)(_host_views(x)) if type(x) in (list, tuple) else x for x in values)


def _refuse_host(values):
    for x in values:
        if type(x) is _np.ndarray:
            raise TypeError(f"Unsupported type {type(x)} (a host array met a device array)")
        if type(x) in (list, tuple):
            _refuse_host(x)


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


class _HostProducer:
    def __init__(self, x):
        self.x = x

    def __dlpack__(self, *args, **kwargs):
        return self.x.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return (1, 0)


def from_dlpack(x):
    """Shares the memory of a producer whose capsule is host memory (the stand-in's device memory)."""
    return _w(_np.from_dlpack(_HostProducer(x)))


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
        if isinstance(r, _np.generic):
            return _w(r)
        return r.view(ndarray) if isinstance(r, _np.ndarray) else r
    on_host.__name__ = name
    return on_host
