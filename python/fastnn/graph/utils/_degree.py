"""Node degrees from an index vector (``torch_geometric.utils.degree``)."""
from __future__ import annotations

import numpy as np

from .. import _arrays
from .num_nodes import maybe_num_nodes


def degree(index, num_nodes=None, dtype=None):
    """How often each node appears in the 1-D ``index`` (e.g. ``edge_index[0]`` for out-degrees):
    a tensor of ``num_nodes`` entries, float32 unless ``dtype`` says otherwise (as in PyG)."""
    arr = _arrays.check_index_tensor(index, "degree", "index", ndim=1)
    n = maybe_num_nodes(index, num_nodes)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise IndexError(f"degree: argument 'index' has values outside [0, num_nodes={n})")
    counts = np.bincount(arr, minlength=n)
    from ... import get_default_dtype
    out_dtype = np.dtype(dtype) if dtype is not None else np.dtype(get_default_dtype())
    return _arrays.tensor(counts.astype(out_dtype), index)
