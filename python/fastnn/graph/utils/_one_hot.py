"""One-hot encoding of an index vector (``torch_geometric.utils.one_hot``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays


def one_hot(index, num_classes=None, dtype=None):
    """A (len(index), num_classes) tensor with a 1 at column ``index[i]`` of row i (float32 by default)."""
    idx = _arrays.check_index_tensor(index, "one_hot", "index")
    if idx.ndim != 1:
        raise ValueError("'index' tensor needs to be one-dimensional")
    if num_classes is None:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    num_classes = _arrays.check_int(num_classes, "one_hot", "num_classes")
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise IndexError(f"one_hot: argument 'index' has values outside [0, num_classes={num_classes})")
    from ... import get_default_dtype
    out = np.zeros((idx.size, num_classes), dtype=np.dtype(dtype if dtype is not None else get_default_dtype()))
    out[np.arange(idx.size), idx] = 1
    return _arrays.tensor(out, index)
