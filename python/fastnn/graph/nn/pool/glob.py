"""Global pooling (PyG's ``global_add_pool`` / ``global_mean_pool`` / ``global_max_pool``): one row per
graph of a batch. A sorted batch vector (what ``Batch`` builds) is read as contiguous segments; an unsorted
one takes the scatter path. The grouping is cached on the batch tensor."""
from __future__ import annotations

from ...utils._scatter import scatter

__all__ = ["global_add_pool", "global_mean_pool", "global_max_pool"]


def _pool(x, batch, size, reduce):
    dim = -1 if x.dim() == 1 else -2
    if batch is None:
        if reduce == "sum":
            return x.sum(dim=dim, keepdim=x.dim() <= 2)
        if reduce == "mean":
            return x.mean(dim=dim, keepdim=x.dim() <= 2)
        return x.max(dim=dim, keepdim=x.dim() <= 2)[0]
    return scatter(x, batch, dim=dim, dim_size=size, reduce=reduce)


def global_add_pool(x, batch, size=None):
    """The sum of the node features of each graph: (size, F) (``batch`` None: the whole input, (1, F))."""
    return _pool(x, batch, size, "sum")


def global_mean_pool(x, batch, size=None):
    """The mean of the node features of each graph (an empty graph gives 0)."""
    return _pool(x, batch, size, "mean")


def global_max_pool(x, batch, size=None):
    """The column-wise maximum of the node features of each graph (an empty graph gives 0)."""
    return _pool(x, batch, size, "max")
