"""Data types and PyTorch's type-promotion rules.

A fastnn dtype is a ``numpy.dtype`` (``fastnn.float32 == numpy.dtype('float32')``), so arrays and
tensors share one notion of type and numpy dtypes are accepted wherever a dtype is.
"""
from __future__ import annotations

import builtins

import numpy as np

float16 = half = np.dtype("float16")
float32 = float = np.dtype("float32")
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = short = np.dtype("int16")
int32 = int = np.dtype("int32")
int64 = long = np.dtype("int64")
bool = np.dtype("bool")

_FLOATING = frozenset([float16, float32, float64])
_SUPPORTED = frozenset([float16, float32, float64, int8, uint8, int16, int32, int64, bool])

_default_float = [float32]


def get_default_dtype():
    return _default_float[0]


def set_default_dtype(d):
    d = as_dtype(d)
    if d not in _FLOATING:
        raise TypeError(f"set_default_dtype: argument 'd' must be a floating point dtype, got {d}")
    _default_float[0] = d


def as_dtype(d, arg="dtype"):
    """Normalise a dtype argument (fastnn/numpy dtype, numpy scalar type, python type or name)."""
    if d is None:
        return None
    if isinstance(d, np.dtype):
        out = d
    elif d is builtins.float:
        out = float64          # torch.tensor(..., dtype=float) means float64
    elif d is builtins.int:
        out = int64
    elif d is builtins.bool:
        out = bool
    else:
        try:
            out = np.dtype(d)
        except TypeError:
            raise TypeError(f"argument '{arg}' must be a dtype such as fastnn.float32, got {d!r}") from None
    if out not in _SUPPORTED:
        raise TypeError(f"argument '{arg}': unsupported dtype {out}")
    return out


def is_floating(d) -> builtins.bool:
    return d in _FLOATING


def _category(d):
    if d is bool or d == bool:
        return 0
    if d.kind in "iu":
        return 1
    return 2


_promote_cache = {}


def promote(da, a_dim, db, b_dim):
    """Result dtype of a binary op between arrays of dtypes da/db (x_dim: whether it has dims).

    PyTorch's rule: the higher category (bool < integer < floating) wins; within a category,
    zero-dimensional operands do not widen dimensioned ones.
    """
    key = (da, a_dim, db, b_dim)
    r = _promote_cache.get(key)
    if r is not None:
        return r
    ca, cb = _category(da), _category(db)
    if ca != cb:
        r = da if ca > cb else db
    elif a_dim == b_dim:
        r = np.promote_types(da, db)
    else:
        r = da if a_dim else db
    _promote_cache[key] = r
    return r


def scalar_result(d, s):
    """Result dtype of a tensor of dtype ``d`` combined with a Python scalar ``s``."""
    if type(s) is builtins.bool:
        return d
    if type(s) is builtins.int:
        return int64 if d == bool else d
    if type(s) is builtins.float:
        return d if d in _FLOATING else _default_float[0]
    if type(s) is complex:
        raise TypeError("complex scalars are not supported")
    # numpy scalars behave like the matching Python scalar kind
    if isinstance(s, np.floating):
        return d if d in _FLOATING else _default_float[0]
    if isinstance(s, np.integer):
        return int64 if d == bool else d
    if isinstance(s, np.bool_):
        return d
    raise TypeError(f"unsupported operand type {type(s).__name__}")
