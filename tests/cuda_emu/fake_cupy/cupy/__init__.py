"""Host-memory stand-in for the part of cupy that fastnn's CUDA module and tests/test_cuda_kernels.py
use, so that both run on a machine without a GPU against the emulated fastnn._C_cuda
(tests/cuda_emu/run_gpu_tests_emulated.sh). Arrays are numpy arrays; ``data.ptr`` is their host
address. ``empty`` fills with NaN so that an element a kernel forgets to write is noticed.

Everything else a model needs falls through to numpy, but only as far as real cupy goes: the names,
keyword arguments, ufunc methods and ndarray methods come from ../cupy_api.json (written from a real cupy
by tests/cuda_emu/list_cupy_api.py), and a call real cupy cannot run fails here as it would on a GPU
(AttributeError for a missing name or method, TypeError for an unsupported keyword or for a numpy
function cupy does not implement, NotImplementedError for a ufunc method cupy lacks, TypeError for a
``ufunc.at`` dtype cupy's scatter kernels refuse). Some of cupy's behaviour beyond names is copied too:
``flags`` without ``writeable``, no ``__index__``, host arrays copied in only behind an advanced index,
in-place ``sort`` of contiguous arrays only, 0-d device arrays where numpy returns scalars,
``__cuda_array_interface__`` (with the host address as the device pointer) and the memory pool's
counters (live and cached bytes).

Audit switches (environment variables):
  FAKE_CUPY_LOG=path    append one JSON line per distinct use of the stand-in (module names, numpy
                        functions and ufuncs dispatched to it, ndarray methods and attributes, implicit
                        host conversions) with the fastnn line that made it, when the process exits
  FAKE_CUPY_STRICT=0    numpy's behaviour for names real cupy lacks (to list them all in one run)
"""
import atexit as _atexit
import contextlib  # noqa: F401
import json as _json
import os as _os
import sys as _sys
import weakref as _weakref

import numpy as _np
from numpy import float32, float64, int64  # noqa

__version__ = "fake"

with open(_os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "cupy_api.json")) as _f:
    _API = _json.load(_f)
_NAMES = _API["modules"]["cupy"]
_UFUNCS = _API["ufuncs"]
_STRICT = _os.environ.get("FAKE_CUPY_STRICT", "1") != "0"
_LOG_PATH = _os.environ.get("FAKE_CUPY_LOG")
_REAL = f"real cupy {_API['cupy_version']}"


# ------------------------------------------------------------------ signatures of real cupy

class _Sig:
    __slots__ = ("max_pos", "keywords")

    def __init__(self, params):
        pos = [p for p in params if p["kind"] in ("p", "pk")]
        self.max_pos = None if any(p["kind"] == "varpos" for p in params) else len(pos)
        self.keywords = (None if any(p["kind"] == "varkw" for p in params)
                         else frozenset(p["name"] for p in params if p["kind"] in ("pk", "k")))

    def check(self, what, nargs, kwargs):
        if self.max_pos is not None and nargs > self.max_pos:
            raise TypeError(f"{what}() takes at most {self.max_pos} positional arguments in {_REAL} "
                            f"({nargs} given)")
        if kwargs and self.keywords is not None:
            for k in kwargs:
                if k not in self.keywords:
                    raise TypeError(f"{what}() got an unexpected keyword argument {k!r} ({_REAL} has no "
                                    f"such parameter)")


_sigs = {}


def _sig(module, name, entry):
    key = (module, name)
    s = _sigs.get(key)
    if s is None:
        params = entry.get("params")
        s = _sigs[key] = _Sig(params) if params is not None else _Sig([{"name": "", "kind": "varpos"},
                                                                        {"name": "", "kind": "varkw"}])
    return s


# ------------------------------------------------------------------ audit log

_log = {}


def _callsite():
    f = _sys._getframe(2)
    here = __file__
    first = None
    while f is not None:
        fn = f.f_code.co_filename
        if fn != here and "/numpy/" not in fn:
            if first is None:
                first = f"{fn}:{f.f_lineno}"
            if "/fastnn/" in fn:
                return f"{fn}:{f.f_lineno}"
        f = f.f_back
    return first


def _record(kind, name, nargs=None, kwargs=(), extra=None):
    key = (kind, name, nargs, tuple(sorted(kwargs)), extra)
    sites = _log.get(key)
    if sites is None:
        sites = _log[key] = set()
    if len(sites) < 4:
        sites.add(_callsite())


def _write_log():
    with open(_LOG_PATH, "a") as f:
        for (kind, name, nargs, kwargs, extra), sites in _log.items():
            f.write(_json.dumps({"kind": kind, "name": name, "nargs": nargs, "kwargs": list(kwargs),
                                 "extra": extra, "sites": sorted(s for s in sites if s)}) + "\n")


if _LOG_PATH:
    _atexit.register(_write_log)


# ------------------------------------------------------------------ arrays

class _Data:
    def __init__(self, ptr):
        self.ptr = ptr


class _Dev:
    id = 0


class _Flags:
    """cupy.ndarray.flags: contiguity and ownership only (no writeable, aligned, ... as numpy's has)."""
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, c, f, own):
        self.c_contiguous, self.f_contiguous, self.owndata = c, f, own

    @property
    def fnc(self):
        return self.f_contiguous and not self.c_contiguous

    @property
    def forc(self):
        return self.f_contiguous or self.c_contiguous

    def __getitem__(self, name):
        key = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous", "OWNDATA": "owndata"}.get(name)
        if key is None:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return getattr(self, key)


_np_flags = _np.ndarray.flags


class ndarray(_np.ndarray):
    def __array_finalize__(self, obj):
        # every device array lives in an allocation of the memory pool: the host array at the root of
        # its chain of views (or itself), counted once while it lives
        root = self
        while isinstance(root.base, _np.ndarray):
            root = root.base
        if _np_flags.__get__(root).owndata:
            _POOL._hold(root)

    @property
    def __cuda_array_interface__(self):
        # cupy's export (version 3): strides None when C-contiguous, pointer 0 when empty, the legacy
        # default stream reported as 1
        f = _np_flags.__get__(self)
        ptr = _np.ndarray.__array_interface__.__get__(self)["data"][0] if self.size else 0
        return {"shape": tuple(self.shape), "typestr": self.dtype.str, "descr": self.dtype.descr,
                "data": (ptr, False), "strides": None if f.c_contiguous else tuple(self.strides),
                "version": 3, "stream": 1}

    @property
    def flags(self):
        f = _np_flags.__get__(self)
        base = self.base
        # a device array wraps a host allocation: it owns its data when it spans all of that allocation
        own = base is None or type(base) is _np.ndarray and base.flags.owndata and base.nbytes == self.nbytes
        return _Flags(f.c_contiguous, f.f_contiguous, own)

    @property
    def data(self):
        return _Data(self.__array_interface__["data"][0])

    @property
    def device(self):
        return _Dev()

    def __dlpack_device__(self):
        return (2, 0)   # kDLCUDA, device 0

    def get(self, stream=None, order="C", out=None):
        if out is not None:
            out[...] = self.view(_np.ndarray)
            return out
        return _np.array(self.view(_np.ndarray), order=order)

    def __setitem__(self, idx, value):
        # cupy copies host values in only behind an advanced index (x[int_array] = [1, 2]); a basic index
        # fills, and fill refuses anything but a scalar (ValueError: non-scalar numpy.ndarray cannot be
        # used for fill)
        if (_STRICT and (type(value) is _np.ndarray and value.ndim or type(value) in (list, tuple))
                and not _advanced_index(idx)):
            raise ValueError(f"non-scalar numpy.ndarray cannot be used for fill ({_REAL} does not copy a "
                             f"host {type(value).__name__} into a basic-indexed device array)")
        _np.ndarray.__setitem__(self, _cupy_wraps(self.shape, idx), value)

    def __getitem__(self, idx):
        return _np.ndarray.__getitem__(self, _cupy_wraps(self.shape, idx))

    # Like cupy, refuse host arrays as operands: a numpy array (0-d included) meeting a device array in a
    # ufunc or a numpy function is a TypeError, never a silent mix. Numpy and Python scalars are accepted.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if _LOG_PATH:
            _record("ufunc", f"{ufunc.__name__}.{method}", len(inputs), kwargs, ",".join(
                x.dtype.name if isinstance(x, _np.ndarray) else f"{type(x).__name__}-scalar"
                if isinstance(x, (_np.generic, int, float, complex)) else type(x).__name__ for x in inputs)
                + (f" dtype={kwargs['dtype']}" if kwargs.get("dtype") is not None else ""))
        if _STRICT and _check_ufunc(ufunc, method, inputs, kwargs):
            return NotImplemented
        _refuse_host(inputs)
        _refuse_host(kwargs.get("out", ()))
        inputs = _host_views(inputs)
        if method == "at":
            inputs = (inputs[0], _cupy_wraps(inputs[0].shape, inputs[1])) + inputs[2:]
        if "out" in kwargs:
            kwargs["out"] = _host_views(kwargs["out"])
        r = getattr(ufunc, method)(*inputs, **kwargs)
        # cupy's full reductions give 0-d device arrays, not host scalars
        return _w(r) if isinstance(r, _np.generic) else _as_device(r)

    def __array_function__(self, func, types, args, kwargs):
        # cupy's __array_function__ runs cupy's function of the same module path and name (numpy.linalg.norm
        # -> cupy.linalg.norm) with the same arguments; no such function, or numpy's own object re-exported,
        # is NotImplemented, which numpy turns into a TypeError
        if _LOG_PATH:
            _record("function", f"{func.__module__}.{func.__name__}", len(args), kwargs)
        if _STRICT:
            mod = "cupy" + func.__module__[5:] if func.__module__.startswith("numpy") else None
            entry = _API["modules"].get(mod, {}).get(func.__name__)
            if entry is None or entry.get("numpy_object") or entry["kind"] not in ("function", "ufunc"):
                return NotImplemented
            if entry["kind"] == "function":
                _sig(mod, func.__name__, entry).check(f"{mod}.{func.__name__}", len(args), kwargs)
        # numpy functions called on cupy arrays return cupy arrays (cupy's __array_function__);
        # numpy's own implementation drops the subclass for some (broadcast_to, concatenate, ...)
        _refuse_host(args)
        _refuse_host(tuple(kwargs.values()))
        # computed on plain host views so that numpy's own nested calls are not checked again
        r = func(*_host_views(args), **dict(zip(kwargs, _host_views(tuple(kwargs.values())))))
        # cupy's functions give 0-d device arrays where numpy gives scalars (Python ones too, for some)
        if isinstance(r, _np.generic) or func.__name__ in _ARRAY_RESULTS and type(r) in (bool, int, float):
            return _w(r)
        return _as_device(r)


# numpy functions that give Python scalars where cupy's give 0-d device arrays
_ARRAY_RESULTS = frozenset(("count_nonzero", "allclose", "array_equal", "array_equiv"))


def _cupy_wraps(shape, idx):
    """cupy wraps out-of-range integer-array indices around (x[[3]] of 3 elements is x[[0]]) where numpy
    raises IndexError; the stand-in does the same, so that only an explicit bounds check catches them."""
    items = idx if type(idx) is tuple else (idx,)
    if not any(isinstance(it, _np.ndarray) and it.dtype.kind in "iu" for it in items):
        return idx
    taken = sum(it.ndim if isinstance(it, _np.ndarray) and it.dtype == _np.bool_ else 1 for it in items
                if it is not None and it is not Ellipsis and type(it) is not bool)
    out, d = [], 0
    for it in items:
        if it is Ellipsis:
            d += len(shape) - taken
        elif it is None or type(it) is bool:
            pass
        elif isinstance(it, _np.ndarray) and it.dtype == _np.bool_:
            d += it.ndim
        else:
            if isinstance(it, _np.ndarray) and it.dtype.kind in "iu" and d < len(shape) and shape[d] > 0:
                it = _np.mod(it.view(_np.ndarray), shape[d])
            d += 1
        out.append(it)
    return tuple(out) if type(idx) is tuple else out[0]


def _advanced_index(idx):
    t = type(idx)
    if t is int or t is slice or idx is None or idx is Ellipsis:
        return False
    if t is tuple:
        return any(_advanced_index(i) for i in idx)
    return isinstance(idx, (_np.ndarray, list))


def _check_ufunc(ufunc, method, inputs, kwargs):
    """Raises where cupy's ufunc (or its method) refuses the call; True where cupy has no function of that
    name, so that numpy reports the missing implementation as it does for cupy."""
    name = ufunc.__name__
    entry = _NAMES.get(name)
    if entry is None:
        return True
    if entry["kind"] != "ufunc":        # matmul: a cupy function of the same name, called with the kwargs
        if method != "__call__":
            return True
        _sig("cupy", name, entry).check(f"cupy.{name}", len(inputs), kwargs)
        return False
    info = _UFUNCS[name]
    if method not in info["methods"]:
        raise NotImplementedError(f"`cupy_{name}.{method}` is not supported in {_REAL}")
    if method == "__call__" or method == "outer":
        allowed = info["call_kwargs"]
    elif method == "reduce":
        allowed = ("axis", "dtype", "out", "keepdims")
    elif method == "accumulate" or method == "reduceat":
        allowed = ("axis", "dtype", "out")
    else:   # at
        allowed = ()
        a, idx = inputs[0], inputs[1]
        if not (isinstance(idx, _np.ndarray) and idx.dtype == _np.bool_) and a.dtype.name not in info["at_dtypes"]:
            raise TypeError(f"cupy.{name}.at only supports {', '.join(info['at_dtypes'])} as data type "
                            f"({_REAL}), got {a.dtype}")
    for k in kwargs:
        if k not in allowed:
            raise TypeError(f"cupy.{name}.{method}: unsupported keyword argument {k!r} in {_REAL}")
    return False


def _refuse_attribute(name):
    def get(self):
        raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r} ({_REAL})")
    return property(get)


def _host_method(name, sig):
    """ndarray method run on the host view: keyword arguments checked against cupy's method, the result a
    device array; numpy's own ufunc calls inside it (sum -> add.reduce) are not cupy's and stay unchecked."""
    base = getattr(_np.ndarray, name)
    what = f"cupy.ndarray.{name}"

    def method(self, *args, **kwargs):
        if _STRICT and sig is not None:
            sig.check(what, len(args), kwargs)
        out = kwargs.get("out")
        if args:
            _refuse_host(args)
            args = _host_views(args)
        if kwargs:
            _refuse_host(tuple(kwargs.values()))
            kwargs = dict(zip(kwargs, _host_views(tuple(kwargs.values()))))
        r = base(self.view(_np.ndarray), *args, **kwargs)
        if out is not None and r is kwargs["out"]:
            return out
        return _w(r) if isinstance(r, _np.generic) else _as_device(r)
    method.__name__ = name
    return method


def _checked_method(name, sig):
    base = getattr(_np.ndarray, name)
    what = f"cupy.ndarray.{name}"
    in_place_sort = name in ("sort", "partition")

    def method(self, *args, **kwargs):
        if _STRICT:
            sig.check(what, len(args), kwargs)
            if in_place_sort and not _np_flags.__get__(self).c_contiguous:
                # cupy sorts in place only contiguous arrays (cupy.sort and cupy.partition copy first)
                raise NotImplementedError(f"Sorting non-contiguous array is not supported ({_REAL})")
        return base(self, *args, **kwargs)
    method.__name__ = name
    return method


# Methods whose numpy implementation goes through numpy's ufunc methods (maximum.reduce for max, ...),
# which cupy's array methods do not: run on the host view instead of through __array_ufunc__.
_HOST_METHODS = ("all", "any", "max", "min", "sum", "prod", "mean", "std", "var", "cumsum", "cumprod",
                 "clip", "round", "trace", "conj", "conjugate", "dot", "argmax", "argmin")


def _install_methods():
    import inspect
    cp_nd = _API["ndarray"]
    for name in dir(_np.ndarray):
        entry = cp_nd.get(name)
        sig = _Sig(entry["params"]) if entry is not None and entry.get("params") is not None else None
        if name in _HOST_METHODS:
            setattr(ndarray, name, _host_method(name, sig))
            continue
        if not _STRICT:
            continue
        public = not name.startswith("_")
        if entry is None and (public or name == "__array_namespace__"):
            # a numpy method or attribute that cupy.ndarray lacks (resize, ctypes, to_device, ...)
            setattr(ndarray, name, _refuse_attribute(name))
            continue
        if not public or sig is None or entry["kind"] != "method":
            continue
        try:
            np_params = [p for p in inspect.signature(getattr(_np.ndarray, name)).parameters.values()][1:]
        except (TypeError, ValueError):
            np_params = None
        narrower = (np_params is None or sig.max_pos is not None and len(np_params) > sig.max_pos
                    or sig.keywords is not None and any(p.name not in sig.keywords for p in np_params))
        if narrower or name in ("sort", "partition"):
            setattr(ndarray, name, _checked_method(name, sig))
    if _STRICT and "__index__" not in cp_nd:
        def __index__(self):
            # cupy arrays are no Python integers: range(), list indices and shapes need int(x)
            raise TypeError(f"'cupy.ndarray' object cannot be interpreted as an integer ({_REAL})")
        ndarray.__index__ = __index__


_install_methods()


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
    kind = _np.dtype(dtype).kind
    fill = _np.nan if kind == "f" else _np.iinfo(dtype).max if kind == "u" else -7
    return _w(_np.full(shape, fill, dtype))


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


class _Event:
    """Host clock stand-in for cupy.cuda.Event (work is synchronous here)."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._t = None

    def record(self, stream=None):
        import time
        self._t = time.perf_counter()

    def synchronize(self):
        pass


def _elapsed_ms(start_event, end_event):
    if start_event._t is None or end_event._t is None:
        raise RuntimeError("cudaErrorInvalidResourceHandle: an event was never recorded")
    return 1e3 * (end_event._t - start_event._t)


class _MemoryPool:
    """cupy's default memory pool as its counters see it: the bytes of live device arrays (allocations
    rounded up to cupy's 512-byte unit) and the freed blocks it keeps cached until free_all_blocks;
    a new allocation reuses cached bytes first."""

    def __init__(self):
        self._live = {}
        self._cached = 0

    def _hold(self, root):
        key = id(root)
        if key in self._live:
            return
        size = -(-root.nbytes // 512) * 512
        self._live[key] = size
        self._cached = max(0, self._cached - size)
        _weakref.finalize(root, self._free, key)

    def _free(self, key):
        self._cached += self._live.pop(key, 0)

    def used_bytes(self):
        return sum(self._live.values())

    def total_bytes(self):
        return self.used_bytes() + self._cached

    def free_all_blocks(self, stream=None):
        self._cached = 0


_POOL = _MemoryPool()


def get_default_memory_pool():
    return _POOL


class _Runtime:
    @staticmethod
    def memGetInfo():
        return 40 << 30, 80 << 30


class cuda:
    Device = _Device
    Stream = _Stream
    Event = _Event
    runtime = _Runtime
    get_elapsed_time = staticmethod(_elapsed_ms)

    @staticmethod
    def get_current_stream(device_id=None):
        return _Stream()


class _Generator:
    """cupy.random.Generator's draws used by fastnn's benchmarks, as device arrays."""

    def __init__(self, seed=None):
        self._g = _np.random.default_rng(seed)

    def standard_normal(self, size=None, dtype=_np.float64, out=None):
        if _np.dtype(dtype) not in (_np.float32, _np.float64):
            raise TypeError(f"cupy.random.Generator.standard_normal: unsupported dtype {dtype}")
        return _w(self._g.standard_normal(size, dtype=dtype))

    def random(self, size=None, dtype=_np.float64, out=None):
        return _w(self._g.random(size, dtype=dtype))

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        return _w(self._g.integers(low, high, size, dtype=dtype, endpoint=endpoint))


class random:
    @staticmethod
    def seed(seed=None):
        pass

    @staticmethod
    def default_rng(seed=None):
        return _Generator(seed)


class _Ufunc:
    """cupy's ufunc object for ``cupy.<name>``: numpy's ufunc on device arrays, so that calls and methods
    (at, reduce, ...) pass the same checks as numpy's ufuncs meeting device arrays."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def _args(self, args):
        _refuse_host(args)
        return args

    def __call__(self, *args, **kwargs):
        return self._uf(*self._args(args), **kwargs)

    def outer(self, a, b, **kwargs):
        return self._uf.outer(*self._args((a, b)), **kwargs)

    def at(self, a, indices, b=None):
        return self._uf.at(*self._args((a, indices) if b is None else (a, indices, b)))

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        return self._uf.reduce(*self._args((array,)), axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def accumulate(self, array, axis=0, dtype=None, out=None):
        return self._uf.accumulate(*self._args((array,)), axis=axis, dtype=dtype, out=out)

    def reduceat(self, array, indices, axis=0, dtype=None, out=None):
        return self._uf.reduceat(*self._args((array, indices)), axis=axis, dtype=dtype, out=out)


def _logged(name, f):
    def call(*args, **kwargs):
        _record("call", name, len(args), kwargs,
                "host-array-argument" if any(type(x) is _np.ndarray for x in args) else None)
        return f(*args, **kwargs)
    call.__name__ = name
    return call


def __getattr__(name):
    # Any other cupy function: numpy's, its array results viewed as this module's ndarray, so that
    # whole models (creation functions, reductions, indexing helpers) run under the stand-in.
    entry = _NAMES.get(name)
    if _LOG_PATH:
        _record("attribute", name, extra=None if entry is not None else "missing in " + _REAL)
    if entry is None and _STRICT:
        raise AttributeError(f"module 'cupy' has no attribute {name!r} ({_REAL} has none)")
    f = getattr(_np, name)
    if isinstance(f, _np.ufunc) and entry is not None and entry["kind"] == "ufunc":
        u = _Ufunc(f)
        return _logged(name, u) if _LOG_PATH else u
    if not callable(f) or isinstance(f, type) or entry is not None and entry.get("numpy_object"):
        return f
    sig = _sig("cupy", name, entry) if entry is not None and entry["kind"] == "function" else None

    def on_host(*args, **kwargs):
        if sig is not None and _STRICT:
            sig.check(f"cupy.{name}", len(args), kwargs)
        r = f(*args, **kwargs)
        if isinstance(r, _np.generic):
            return _w(r)
        return r.view(ndarray) if isinstance(r, _np.ndarray) else r
    on_host.__name__ = name
    return _logged(name, on_host) if _LOG_PATH else on_host


def _install_logging():
    """Wraps the stand-in's own functions and the fake array's attribute lookups to record their use."""
    mod = _sys.modules[__name__]
    for name, f in list(vars(mod).items()):
        if not name.startswith("_") and callable(f) and not isinstance(f, type) and f.__module__ == __name__:
            setattr(mod, name, _logged(name, f))
    for cls, prefix in ((linalg, "linalg."), (random, "random."), (cuda, "cuda.")):
        for name, f in list(vars(cls).items()):
            if not name.startswith("_"):
                f = getattr(cls, name)
                setattr(cls, name, staticmethod(_logged(prefix + name, f)) if not isinstance(f, type)
                        else f)

    getattribute = _np.ndarray.__getattribute__
    here = __file__

    def logging_getattribute(self, name):
        v = getattribute(self, name)
        if (not name.startswith("_") or name in ("__index__", "__array_interface__", "__array_namespace__")) \
                and _sys._getframe(1).f_code.co_filename != here:
            _record("ndarray", name)
            if callable(v) and not isinstance(v, ndarray):
                def method(*args, **kwargs):
                    _record("ndarray-call", name, len(args), kwargs)
                    return v(*args, **kwargs)
                return method
        return v
    ndarray.__getattribute__ = logging_getattribute

    def index(self):
        _record("ndarray", "__index__")
        return _np.ndarray.__index__(self.view(_np.ndarray))
    if "__index__" not in vars(ndarray):
        ndarray.__index__ = index

    # a device array handed to numpy's array constructors is an implicit device-to-host copy, which
    # cupy refuses (TypeError: Implicit conversion to a NumPy array is not allowed)
    for fname in ("array", "asarray", "asanyarray", "ascontiguousarray"):
        f = getattr(_np, fname)

        def conv(*args, _f=f, _n=fname, **kwargs):
            if args and (isinstance(args[0], ndarray) or type(args[0]) in (list, tuple)
                         and any(isinstance(x, ndarray) for x in args[0])):
                if _sys._getframe(1).f_code.co_filename != here:
                    _record("host-conversion", "numpy." + _n)
            return _f(*args, **kwargs)
        setattr(_np, fname, conv)


if _LOG_PATH:
    _install_logging()
