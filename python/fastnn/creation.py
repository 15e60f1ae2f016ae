"""Tensor creation functions with PyTorch's signatures."""
from __future__ import annotations

import builtins

import numpy as np

from . import backend
from . import dtypes as _dt
from . import random as _random
from .tensor import Size, Tensor, _array_from_data, _wrap


def _finish(a, device, requires_grad):
    t = _wrap(backend.on_device(a, device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if isinstance(s, builtins.bool) or not isinstance(s, (builtins.int, np.integer)):
            raise TypeError(f"{op}(): argument 'size' must be a tuple of ints, but found element of type "
                            f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"{op}(): trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(builtins.int(s))
    return tuple(out)


def _float_dtype(dtype, op):
    d = _dt.as_dtype(dtype) or _dt.get_default_dtype()
    return d


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (floats default to float32, ints to int64)."""
    a = _array_from_data(data, _dt.as_dtype(dtype))
    return _finish(a, device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device) if (dtype is not None or device is not None) else data
    if isinstance(data, np.ndarray) and (dtype is None or _dt.as_dtype(dtype) == data.dtype) \
            and data.dtype in _dt._SUPPORTED:
        return _finish(data, device, False)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype not in _dt._SUPPORTED:
        raise TypeError(f"from_numpy: can't convert np.ndarray of type {ndarray.dtype}. The only supported types "
                        "are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")
    return _wrap(ndarray)


def from_dlpack(ext_tensor):
    """A tensor sharing memory with any DLPack producer: a torch tensor, a numpy or cupy array, ...
    CPU producers give a CPU tensor, CUDA producers a tensor on the same GPU."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    a = backend.from_dlpack(ext_tensor)
    if a.dtype not in _dt._SUPPORTED:
        raise TypeError(f"from_dlpack: unsupported dtype {a.dtype}")
    return _wrap(a)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(np.zeros(_size(size, "zeros"), dtype=_float_dtype(dtype, "zeros")), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(np.ones(_size(size, "ones"), dtype=_float_dtype(dtype, "ones")), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None, out=None):
    return _finish(np.empty(_size(size, "empty"), dtype=_float_dtype(dtype, "empty")), device, requires_grad)


def _fill_dtype(fill_value):
    if isinstance(fill_value, (builtins.bool, np.bool_)):
        return _dt.bool
    if isinstance(fill_value, (builtins.int, np.integer)):
        return _dt.int64
    return _dt.get_default_dtype()


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    d = _dt.as_dtype(dtype) or _fill_dtype(fill_value)
    return _finish(np.full(_size((size,), "full"), fill_value, dtype=d), device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    if m is None:
        m = n
    return _finish(np.eye(_size((n,), "eye")[0], _size((m,), "eye")[0], dtype=_float_dtype(dtype, "eye")),
                   device, requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("arange: argument 'step' must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    d = _dt.as_dtype(dtype)
    if d is None:
        d = _dt.int64 if builtins.all(isinstance(v, (builtins.int, np.integer)) for v in vals) \
            else _dt.get_default_dtype()
    n = builtins.max(0, int(np.ceil((end - start) / step)))
    a = (start + step * np.arange(n, dtype=np.float64 if d.kind == "f" else np.int64)).astype(d)
    return _finish(a, device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if not isinstance(steps, (builtins.int, np.integer)) or steps < 0:
        raise RuntimeError(f"linspace: argument 'steps' must be a non-negative int, got {steps!r}")
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    return _finish(np.linspace(start, end, steps).astype(_float_dtype(dtype, "linspace")), device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.logspace(start, end, steps, base=base).astype(_float_dtype(dtype, "logspace")), device,
                   requires_grad)


def _gen(generator):
    if generator is None:
        return _random.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    g = getattr(generator, "_gen", None)
    if isinstance(g, np.random.Generator):
        return g
    raise TypeError(f"argument 'generator' must be a numpy Generator or fastnn.Generator, got {type(generator).__name__}")


class Generator:
    """A separate random stream (``torch.Generator``): ``manual_seed``, ``get_state``/``set_state``. Like the
    global state (``fastnn.random``) it holds a numpy Generator and a Philox stream of its own."""

    def __init__(self, device="cpu"):
        self._gen = np.random.Generator(np.random.PCG64())
        self._philox = _random.PhiloxState()
        self.device = backend.as_device(device)
        self._seed = None

    def manual_seed(self, seed):
        self._gen = np.random.Generator(np.random.PCG64(int(seed)))
        self._philox.seed(int(seed))
        self._seed = int(seed)
        return self

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return _random.state_of(self._gen, self._philox)

    def set_state(self, state):
        self._gen, self._philox = _random.from_state(state, "Generator.set_state")
        return self


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    d = _float_dtype(dtype, "rand")
    shape = _size(size, "rand")
    g = _gen(generator)
    a = g.random(shape, dtype=d) if d in (np.float32, np.float64) else g.random(shape).astype(d)
    return _finish(a, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    d = _float_dtype(dtype, "randn")
    shape = _size(size, "randn")
    g = _gen(generator)
    a = g.standard_normal(shape, dtype=d) if d in (np.float32, np.float64) else g.standard_normal(shape).astype(d)
    return _finish(a, device, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    if size is None:
        if isinstance(high, (tuple, list, Size)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint(): missing required argument 'size'")
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"randint: 'low' ({low}) must be smaller than 'high' ({high})")
    d = _dt.as_dtype(dtype) or _dt.int64
    shape = _size((size,) if isinstance(size, (builtins.int, np.integer)) else (tuple(size),), "randint")
    return _finish(_gen(generator).integers(low, high, size=shape).astype(d), device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    d = _dt.as_dtype(dtype) or _dt.int64
    return _finish(_gen(generator).permutation(int(n)).astype(d), device, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    g = _gen(generator)
    # sampled on the CPU from fastnn's generator (seeded runs agree across devices), then moved
    like = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    if device is None and like is not None:
        device = backend.device_of(like._data)
    m = _host(mean)
    s = _host(std)
    if size is not None:
        shape = _size((size,) if isinstance(size, (builtins.int, np.integer)) else (tuple(size),), "normal")
    else:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    d = _dt.as_dtype(dtype) or (mean.dtype if isinstance(mean, Tensor) else std.dtype if isinstance(std, Tensor)
                                 else _dt.get_default_dtype())
    return _finish((g.standard_normal(shape) * s + m).astype(d), device, requires_grad)


def _host(x):
    """A Tensor's array on the CPU (numbers pass through): the samplers draw on the CPU."""
    return backend.to_device(x._data, backend.CPU) if isinstance(x, Tensor) else x


def bernoulli(input, p=None, *, generator=None):
    pr = _host(input) if p is None else _host(p)
    a = (_gen(generator).random(input._data.shape) < pr).astype(input._data.dtype)
    return _finish(a, backend.device_of(input._data), False)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    p = np.asarray(_host(input), dtype=np.float64)
    g = _gen(generator)
    single = p.ndim == 1
    p2 = p.reshape(1, -1) if single else p
    if np.any(p2 < 0) or np.any(~np.isfinite(p2)):
        raise RuntimeError("multinomial: probability tensor contains either inf, nan or element < 0")
    rows = []
    for row in p2:
        tot = row.sum()
        if tot <= 0:
            raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
        if replacement:
            rows.append(g.choice(len(row), size=num_samples, replace=True, p=row / tot))
            continue
        if num_samples > len(row):
            raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        # Exponential race (smallest E / p first) = drawing one by one without replacement; as in PyTorch,
        # categories of weight 0 come last once the others are used up (in index order here).
        with np.errstate(divide="ignore"):
            keys = g.exponential(size=len(row)) / row
        rows.append(np.argsort(keys, kind="stable")[:num_samples])
    out = np.stack(rows).astype(np.int64)
    return _finish(out[0] if single else out, backend.device_of(input._data), False)


def poisson(input, generator=None):
    a = _gen(generator).poisson(_host(input)).astype(input._data.dtype)
    return _finish(a, backend.device_of(input._data), False)


def _like_device(input, device):
    """``device`` or, when None, the device of ``input`` (PyTorch's ``*_like`` rule)."""
    return backend.device_of(input._data) if device is None else device


def _like(name, fn):
    def op(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
        d = _dt.as_dtype(dtype) or input._data.dtype
        return _finish(fn(input._data.shape, d), _like_device(input, device), requires_grad)
    op.__name__ = name
    return op


zeros_like = _like("zeros_like", lambda s, d: np.zeros(s, dtype=d))
ones_like = _like("ones_like", lambda s, d: np.ones(s, dtype=d))
empty_like = _like("empty_like", lambda s, d: np.empty(s, dtype=d))


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d = _dt.as_dtype(dtype) or input._data.dtype
    return _finish(np.full(input._data.shape, fill_value, dtype=d), _like_device(input, device), requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d = _dt.as_dtype(dtype) or input._data.dtype
    if d.kind != "f":
        raise RuntimeError(f"rand_like: expected a floating point dtype, got {d}")
    return rand(input._data.shape, dtype=d, device=_like_device(input, device), requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d = _dt.as_dtype(dtype) or input._data.dtype
    if d.kind != "f":
        raise RuntimeError(f"randn_like: expected a floating point dtype, got {d}")
    return randn(input._data.shape, dtype=d, device=_like_device(input, device), requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):
    return randint(low, high, input._data.shape, dtype=dtype or input._data.dtype,
                   device=_like_device(input, device), requires_grad=requires_grad)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: argument 'indexing' must be 'ij' or 'xy', got {indexing!r}")
    n = len(tensors)
    shape = [t._data.shape[0] if t._data.ndim else 1 for t in tensors]
    if indexing == "xy" and n >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(tensors):
        pos = i
        if indexing == "xy" and n >= 2 and i < 2:
            pos = 1 - i
        view = [1] * n
        view[pos] = -1
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    r, c = np.tril_indices(row, offset, col)
    return _finish(np.stack([r, c]).astype(_dt.as_dtype(dtype) or np.int64), device, False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    r, c = np.triu_indices(row, offset, col)
    return _finish(np.stack([r, c]).astype(_dt.as_dtype(dtype) or np.int64), device, False)


def cdist(x1, x2, p=2.0):
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return d.norm(p=p, dim=-1)
