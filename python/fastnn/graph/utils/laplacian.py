"""The graph Laplacian as an edge list (``torch_geometric.utils.get_laplacian``)."""
from __future__ import annotations

from .. import _arrays
from ._reduce import scatter_rows
from .loop import add_self_loops, remove_self_loops
from .num_nodes import maybe_num_nodes


def get_laplacian(edge_index, edge_weight=None, normalization=None, dtype=None, num_nodes=None):
    """``(edge_index, edge_weight)`` of the Laplacian, self-loops of the input ignored, with
    d_i = sum of the weights of the edges leaving i:

    - ``None``: L = D - A (off-diagonal entries -w_ij, then the diagonal d_i);
    - ``'sym'``: L = I - D^-1/2 A D^-1/2;
    - ``'rw'``: L = I - D^-1 A.

    Differentiable with respect to ``edge_weight``."""
    fn = "get_laplacian"
    if normalization is not None and normalization not in ("sym", "rw"):
        raise ValueError(f"{fn}: argument 'normalization' must be None, 'sym' or 'rw', got {normalization!r}")
    _arrays.check_edge_index(edge_index, fn, num_nodes)
    edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)
    ei = _arrays.host(edge_index)
    if edge_weight is None:
        from ... import get_default_dtype, ones
        edge_weight = ones(ei.shape[1], dtype=dtype if dtype is not None else get_default_dtype(),
                           device=_arrays.device_of(edge_index))
    elif edge_weight.dim() != 1:
        raise ValueError(f"{fn}: argument 'edge_weight' must be 1-D, got shape {list(edge_weight.shape)}")
    n = maybe_num_nodes(edge_index, num_nodes)
    row, col = ei[0], ei[1]
    deg = scatter_rows(edge_weight, row, n, "sum")
    if normalization is None:
        from ... import cat
        loops, _ = add_self_loops(edge_index, num_nodes=n)
        return loops, cat([-edge_weight, deg], dim=0)
    if normalization == "sym":
        scale = _safe_power(deg, -0.5)
        weight = _arrays.select_rows(scale, row) * edge_weight * _arrays.select_rows(scale, col)
    else:
        weight = _arrays.select_rows(_safe_power(deg, -1.0), row) * edge_weight
    return add_self_loops(edge_index, -weight, fill_value=1.0, num_nodes=n)


def _safe_power(deg, exponent):
    """deg ** exponent, 0 where deg is 0 (an isolated node contributes nothing), as PyG's inf → 0."""
    from ... import ones_like, where, zeros_like
    nonzero = deg != 0
    return where(nonzero, where(nonzero, deg, ones_like(deg)) ** exponent, zeros_like(deg))
