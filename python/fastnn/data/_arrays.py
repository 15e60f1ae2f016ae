"""Conversions between fastnn tensors, numpy arrays and plain Python data used by the data tools.

The data tools accept tensors, arrays and sequences alike; they work on host arrays and hand
back the kind of object they were given.
"""
from __future__ import annotations

import numpy as np


def tensor_class():
    from ..tensor import Tensor
    return Tensor


def is_tensor(x) -> bool:
    try:
        return isinstance(x, tensor_class())
    except ImportError:  # the tensor module is not importable: nothing can be a Tensor
        return False


def to_numpy(x, name="x"):
    """A host numpy array holding ``x`` (a Tensor, numpy/cupy array, list or number); no copy when possible."""
    if is_tensor(x):
        data = x._data
    else:
        data = x
    if data.__class__ is np.ndarray:
        return data
    from .. import backend
    if backend.is_cuda_array(data):
        # an explicit copy: cupy refuses the implicit conversion np.asarray would ask for
        return backend.to_device(data, "cpu")
    if isinstance(data, np.ndarray):
        return data
    if hasattr(data, "get") and hasattr(data, "__cuda_array_interface__"):  # a cupy array without fastnn's CUDA
        return data.get()
    try:
        return np.asarray(data)
    except Exception as exc:  # ragged lists, arbitrary objects
        raise TypeError(f"argument '{name}' must be a Tensor, an array or a sequence of numbers, "
                        f"got {type(x).__name__}") from exc


def wrap(array):
    """A fastnn Tensor around ``array`` without copying."""
    return tensor_class()._wrap(array)


def as_like(array, like):
    """``array`` returned as the same kind of object as ``like``: Tensor, list or numpy array."""
    if is_tensor(like):
        array = np.ascontiguousarray(array)
        if like._data.__class__ is not np.ndarray:
            # a result computed on the host for a device tensor goes back to that device
            from .. import backend
            array = backend.to_device(array, backend.device_of(like._data))
        return wrap(array)
    if isinstance(like, (list, tuple)):
        return array.tolist()
    return array


def num_samples(x, name="x") -> int:
    """Length of the first dimension of ``x``."""
    if is_tensor(x) or isinstance(x, np.ndarray):
        if len(x.shape) == 0:
            raise ValueError(f"argument '{name}' must have at least one dimension, got a scalar")
        return int(x.shape[0])
    try:
        return len(x)
    except TypeError:
        raise TypeError(f"argument '{name}' must be a Tensor, an array or a sequence, got {type(x).__name__}") from None


def index(x, idx):
    """Rows ``idx`` (an integer index array) of ``x``, keeping its kind (Tensor/array/list)."""
    if is_tensor(x):
        return wrap(x._data[idx])
    if isinstance(x, np.ndarray):
        return x[idx]
    if hasattr(x, "__cuda_array_interface__"):
        return x[idx]
    seq = list(x) if not isinstance(x, (list, tuple)) else x
    return [seq[i] for i in idx.tolist()]
