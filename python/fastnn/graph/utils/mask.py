"""Index vectors and boolean masks (``index_to_mask``, ``mask_to_index``, ``mask_select``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays


def index_to_mask(index, size=None):
    """A boolean vector of length ``size`` (default ``index.max() + 1``) that is True at ``index``."""
    idx = _arrays.check_index_tensor(index, "index_to_mask", "index").reshape(-1)
    size = (int(idx.max()) + 1 if idx.size else 0) if size is None else _arrays.check_int(size, "index_to_mask",
                                                                                          "size")
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise IndexError(f"index_to_mask: argument 'index' has values outside [0, size={size})")
    mask = np.zeros(size, dtype=bool)
    mask[idx] = True
    return _arrays.tensor(mask, index)


def mask_to_index(mask):
    """The positions where the boolean vector ``mask`` is True, as int64."""
    m = _arrays.host(mask, "mask")
    if m.dtype != np.bool_:
        raise TypeError(f"mask_to_index: argument 'mask' must be a bool tensor, got {m.dtype}")
    return _arrays.long_tensor(np.flatnonzero(m.reshape(-1)), mask)


def mask_select(src, dim, mask):
    """The entries of ``src`` along ``dim`` where the 1-D boolean ``mask`` is True."""
    m = _arrays.host(mask, "mask")
    if m.ndim != 1 or m.shape[0] != src.shape[dim]:
        raise ValueError(f"mask_select: argument 'mask' must have shape [{src.shape[dim]}], got {list(m.shape)}")
    return _arrays.select_rows(src, np.flatnonzero(m), dim % src.dim())
