"""Sparse-rows tensors: PyTorch's sparse COO layout with one sparse dimension, as embedding layers with
``sparse=True`` give their weight's gradient. A (rows, d) tensor is stored as its row ids (``_indices()``,
shape (1, nnz)) and the values of those rows (``_values()``, shape (nnz, d)); rows not listed are zero.

Lookups coalesce their gradients natively (unique sorted ids, summed rows: ``kernels.index_coalesce`` and
``segment_reduce``), so a gradient fresh from backward is coalesced; sums of sparse tensors concatenate, as in
PyTorch, and are coalesced again by the optimisers. ``dense + sparse`` and ``sparse + dense`` give dense
tensors; the dense element-wise API (``_data``) is refused with a message naming ``to_dense()``."""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, kernels
from .tensor import Size, Tensor, _wrap

__all__ = ["layout", "strided", "sparse_coo", "SparseRowsTensor", "sparse_rows"]


class layout:
    """A tensor layout (PyTorch's ``torch.layout``): ``fastnn.strided`` or ``fastnn.sparse_coo``."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return "fastnn." + self._name

    def __reduce__(self):
        return self._name


strided = layout("strided")
sparse_coo = layout("sparse_coo")

_new = object.__new__


def _dense_refused(op):
    return RuntimeError(f"{op}: this is a sparse tensor (layout=fastnn.sparse_coo: row indices and values); "
                        "call .to_dense() for a dense one")


class SparseRowsTensor(Tensor):
    """A sparse COO tensor of shape (rows, d) with one sparse dimension (see the module's docstring)."""

    is_sparse = True
    layout = sparse_coo

    # The dense array does not exist: anything reading it gets a clear error rather than wrong values.
    @property
    def _data(self):
        raise _dense_refused("the dense array of a sparse tensor")

    @_data.setter
    def _data(self, value):
        raise _dense_refused("assigning a dense array to a sparse tensor")

    # ---- layout
    @property
    def shape(self):
        return Size(self._size)

    def size(self, dim=None):
        return Size(self._size) if dim is None else self._size[dim]

    @property
    def dtype(self):
        return self._vals.dtype

    @property
    def device(self):
        return backend.device_of(self._vals)

    @property
    def ndim(self):
        return len(self._size)

    def dim(self):
        return len(self._size)

    def numel(self):
        return int(np.prod(self._size))

    def sparse_dim(self):
        return 1

    def dense_dim(self):
        return len(self._size) - 1

    def _nnz(self):
        return int(self._idx.shape[0])

    def is_coalesced(self):
        return self._coalesced

    def is_contiguous(self, memory_format=None):
        raise RuntimeError("is_contiguous: sparse tensors do not have is_contiguous")

    def __repr__(self):
        return (f"tensor(indices={_wrap(self._idx.reshape(1, -1))!r},\n       values={_wrap(self._vals)!r},\n"
                f"       size={tuple(self._size)}, nnz={self._nnz()}, layout=fastnn.sparse_coo)")

    __str__ = __repr__

    # ---- indices and values
    def _indices(self):
        return _wrap(self._idx.reshape(1, -1))

    def _values(self):
        return _wrap(self._vals)

    def indices(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._indices()

    def values(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._values()

    def coalesce(self):
        """This tensor with unique ascending row ids and their rows summed (self when already so)."""
        if self._coalesced:
            return self
        ids, offsets, order = kernels.index_coalesce(self._idx, self._size[0])
        vals, _ = kernels.segment_reduce(self._rows(), order, offsets, "sum")
        return _make_sparse(ids, vals.reshape((-1,) + tuple(self._size[1:])), self._size, True)

    def _rows(self):
        """The values as a contiguous 2-D block (nnz, prod(dense dims))."""
        v = self._vals.reshape(self._vals.shape[0], -1)
        return v if v.flags.c_contiguous else backend.array_module_of(v).ascontiguousarray(v)

    def to_dense(self, dtype=None, *, masked_grad=None):
        xp = backend.array_module_of(self._vals)
        out = xp.zeros(self._size, dtype=self._vals.dtype)
        if self._nnz():
            c = self.coalesce()
            kernels.index_add_rows(out.reshape(self._size[0], -1), c._idx, c._rows())
        t = _wrap(out)
        return t if dtype is None else t.to(dtype)

    def _add_into(self, dense):
        """``dense`` (a C-contiguous array of this shape) += self, in place."""
        if self._nnz():
            c = self.coalesce()
            kernels.index_add_rows(dense.reshape(self._size[0], -1), c._idx, c._rows())
        return dense

    # ---- arithmetic used by gradient accumulation, optimisers and clipping
    def __add__(self, other):
        if isinstance(other, SparseRowsTensor):
            _check_same(self, other, "add")
            xp = backend.array_module_of(self._vals)
            return _make_sparse(xp.concatenate([self._idx, other._idx]), xp.concatenate([self._vals, other._vals]),
                                self._size, False)
        if isinstance(other, Tensor):
            return other + self
        raise TypeError(f"add: a sparse tensor adds only to tensors, got {type(other).__name__}")

    def __radd__(self, other):
        # dense + sparse: a new dense tensor, as PyTorch gives
        if isinstance(other, Tensor) and not isinstance(other, SparseRowsTensor):
            if tuple(other.shape) != tuple(self._size):
                raise RuntimeError(f"add: dense tensor of shape {tuple(other.shape)} and sparse tensor of shape "
                                   f"{tuple(self._size)} must have the same shape")
            if other.requires_grad or self.requires_grad:
                return other + self.to_dense()
            dense = other._data.astype(np.result_type(other._data.dtype, self._vals.dtype), copy=True, order="C")
            return _wrap(self.to(dense.dtype)._add_into(dense))
        return self.__add__(other)

    def __neg__(self):
        return _make_sparse(self._idx, -self._vals, self._size, self._coalesced)

    def __mul__(self, other):
        if not isinstance(other, (numbers.Number, np.generic)) or isinstance(other, bool):
            if isinstance(other, Tensor) and other.ndim == 0 and not isinstance(other, SparseRowsTensor):
                other = other._data
            else:
                raise TypeError(f"mul: a sparse tensor multiplies by a scalar here, got {type(other).__name__}")
        return _make_sparse(self._idx, self._vals * other, self._size, self._coalesced)

    __rmul__ = __mul__

    def mul_(self, other):
        if isinstance(other, Tensor) and not isinstance(other, SparseRowsTensor):
            other = other._data
        self._vals *= other
        return self

    def div_(self, other):
        if isinstance(other, Tensor) and not isinstance(other, SparseRowsTensor):
            other = other._data
        self._vals /= other
        return self

    def zero_(self):
        """Drop every stored row (PyTorch's ``zero_`` on a sparse tensor leaves nnz = 0)."""
        xp = backend.array_module_of(self._vals)
        self._idx = xp.zeros((0,), dtype=np.int64)
        self._vals = xp.zeros((0,) + tuple(self._size[1:]), dtype=self._vals.dtype)
        self._coalesced = True
        return self

    # ---- copies and conversions
    def detach(self):
        return _make_sparse(self._idx, self._vals, self._size, self._coalesced)

    def clone(self, *, memory_format=None):
        return _make_sparse(self._idx.copy(), self._vals.copy(), self._size, self._coalesced)

    def to(self, *args, **kwargs):
        dtype = kwargs.get("dtype")
        device = kwargs.get("device")
        for a in args:
            if isinstance(a, str) or isinstance(a, backend.Device):
                device = a
            else:
                dtype = a
        idx, vals = self._idx, self._vals
        if dtype is not None:
            from . import dtypes as _dt
            dt = _dt.as_dtype(dtype)
            if dt != vals.dtype:
                vals = vals.astype(dt)
        if device is not None and backend.as_device(device) != self.device:
            idx, vals = backend.to_device(idx, device), backend.to_device(vals, device)
        if idx is self._idx and vals is self._vals:
            return self
        return _make_sparse(idx, vals, self._size, self._coalesced)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to(device or "cuda")

    def numpy(self, *, force=False):
        raise _dense_refused("numpy")

    def norm(self, p=2):
        """The ``p``-norm of all elements (duplicates summed first)."""
        v = self.coalesce()._vals
        xp = backend.array_module_of(v)
        if v.size == 0:
            return _wrap(xp.zeros((), dtype=v.dtype))
        return _wrap(xp.linalg.norm(v.reshape(-1), ord=p).astype(v.dtype))


def _check_same(a, b, op):
    if tuple(a._size) != tuple(b._size):
        raise RuntimeError(f"{op}: sparse tensors of shapes {tuple(a._size)} and {tuple(b._size)} must have the "
                           "same shape")
    if a.device != b.device:
        raise RuntimeError(f"{op}: sparse tensors on {a.device} and {b.device}")


def _make_sparse(ids, vals, size, coalesced):
    t = _new(SparseRowsTensor)
    t._idx = ids
    t._vals = vals
    t._size = tuple(int(s) for s in size)
    t._coalesced = bool(coalesced)
    return t


def sparse_rows(indices, values, size, *, coalesced=False):
    """A sparse-rows tensor from row ids (1-D, or (1, nnz) as PyTorch's indices) and their rows (nnz, ...)."""
    idx = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    vals = values._data if isinstance(values, Tensor) else np.asarray(values)
    if idx.ndim == 2 and idx.shape[0] == 1:
        idx = idx[0]
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"sparse_rows: argument 'indices' must hold one row of integer ids, got shape "
                         f"{tuple(idx.shape)} and dtype {idx.dtype}")
    size = tuple(int(s) for s in size)
    if vals.ndim < 1 or vals.shape[0] != idx.shape[0] or tuple(vals.shape[1:]) != size[1:]:
        raise ValueError(f"sparse_rows: argument 'values' has shape {tuple(vals.shape)}: expected "
                         f"({idx.shape[0]},) + {size[1:]} for {idx.shape[0]} ids and size {size}")
    xp = backend.array_module_of(vals)
    idx = xp.ascontiguousarray(idx.astype(np.int64, copy=False))
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size[0]):
        raise IndexError(f"sparse_rows: argument 'indices' holds ids outside [0, {size[0]})")
    return _make_sparse(idx, xp.ascontiguousarray(vals), size, coalesced)
