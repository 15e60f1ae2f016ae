"""Argument checks and conversions shared by the graph utilities, containers and loaders.

The graph utilities do their index bookkeeping (sorting, masks, relabelling) on host numpy
arrays and return fastnn tensors on the device of the input; this module is the one place
that checks an ``edge_index`` and moves arrays between the two.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..data import _arrays


def is_tensor(x) -> bool:
    return _arrays.is_tensor(x)


def host(x, name="x"):
    """A host numpy array holding ``x`` (Tensor or array); no copy when possible."""
    return _arrays.to_numpy(x, name)


def device_of(x):
    from .. import backend
    return backend.device_of(x._data) if is_tensor(x) else backend.as_device("cpu")


def tensor(array, like=None):
    """A fastnn Tensor around the host array ``array``, on the device of ``like`` (a Tensor) if given."""
    array = np.ascontiguousarray(array)
    if like is not None and is_tensor(like) and like._data.__class__ is not np.ndarray:
        from .. import backend
        array = backend.to_device(array, backend.device_of(like._data))
    return _arrays.wrap(array)


def long_tensor(array, like=None):
    return tensor(np.asarray(array, dtype=np.int64), like)


def check_int(value, fn, name, minimum=0, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if is_tensor(value) and value.numel() == 1 and value.dtype.kind in "iu":
            value = int(value.item())
        else:
            raise TypeError(f"{fn}: argument '{name}' must be an int, got {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{fn}: argument '{name}' must be >= {minimum}, got {value}")
    return value


def check_index_tensor(index, fn, name, ndim=None):
    """The host int64 array of an integer index tensor; TypeError/ValueError naming ``name`` otherwise."""
    if not is_tensor(index):
        if isinstance(index, np.ndarray) and index.dtype.kind in "iu":
            arr = index
        else:
            raise TypeError(f"{fn}: argument '{name}' must be an integer Tensor, got {type(index).__name__}")
    else:
        arr = host(index, name)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: argument '{name}' must have an integer dtype (int64 as in PyG), got {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{fn}: argument '{name}' must be {ndim}-D, got shape {list(arr.shape)}")
    return arr.astype(np.int64, copy=False)


def check_edge_index(edge_index, fn, num_nodes=None, name="edge_index"):
    """The host int64 (2, E) array of ``edge_index``; negative or (when ``num_nodes`` is known)
    too large indices are an IndexError naming the argument."""
    arr = check_index_tensor(edge_index, fn, name)
    if arr.ndim != 2 or arr.shape[0] != 2:
        raise ValueError(f"{fn}: argument '{name}' must have shape [2, num_edges], got {list(arr.shape)}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise IndexError(f"{fn}: argument '{name}' contains a negative node index ({lo})")
        if num_nodes is not None and hi >= num_nodes:
            raise IndexError(f"{fn}: argument '{name}' contains node index {hi}, out of range for "
                             f"num_nodes={num_nodes}")
    return arr


def check_edge_values(value, num_edges, fn, name):
    """``value`` (a Tensor whose first dimension is the number of edges) or None."""
    if value is None:
        return None
    if not is_tensor(value):
        raise TypeError(f"{fn}: argument '{name}' must be a Tensor or None, got {type(value).__name__}")
    if value.dim() == 0 or value.shape[0] != num_edges:
        raise ValueError(f"{fn}: argument '{name}' must have num_edges={num_edges} rows, got shape "
                         f"{list(value.shape)}")
    return value


def mask_or_index(subset, n, fn, name="subset"):
    """A host int64 index array from a bool mask of length ``n`` or an integer index tensor/list."""
    if is_tensor(subset) or isinstance(subset, np.ndarray):
        arr = host(subset, name)
    else:
        arr = np.asarray(subset)
        if arr.size == 0:
            arr = arr.astype(np.int64)
    if arr.dtype == np.bool_:
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(f"{fn}: boolean argument '{name}' must have shape [{n}], got {list(arr.shape)}")
        return np.flatnonzero(arr).astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: argument '{name}' must be an integer or boolean Tensor, got dtype {arr.dtype}")
    arr = arr.reshape(-1).astype(np.int64, copy=False)
    if arr.size and (arr.min() < -n or arr.max() >= n):
        raise IndexError(f"{fn}: argument '{name}' has indices out of range for size {n}")
    return np.where(arr < 0, arr + n, arr)


def select_rows(value, idx, dim=0):
    """Entries ``idx`` (host int64 array) of ``value`` along ``dim``, keeping Tensors differentiable."""
    if is_tensor(value):
        return value.index_select(dim, long_tensor(idx, value))
    if isinstance(value, np.ndarray):
        return np.take(value, idx, axis=dim)
    return [value[i] for i in idx.tolist()]
