"""The segment-reduction family (``csrc/ops/segment/``): reductions of gathered table rows over segments
given by offsets into an index list. Embedding lookups, EmbeddingBag's bags, the coalescing of sparse-rows
gradients and graph aggregation over CSR neighbour lists are all of this form. Arrays in, arrays out, on the
arrays' device; index lists are checked against the table (IndexError naming the argument)."""
from __future__ import annotations

from .. import backend


def gather_rows(src, index):
    """``src[index]`` for a contiguous 2-D table and a 1-D int32/int64 index list: (len(index), src.shape[1])."""
    return backend.kernel("gather_rows", src, index)(src, index)


def segment_reduce(src, index, offsets, mode, weights=None, skip=-1):
    """``(out, argmax)``: for each segment s, the sum / mean / column-wise max of the rows ``src[index[k]]``
    (times ``weights[k]`` in mode 'sum') for k in ``[offsets[s], offsets[s+1])`` whose index is not ``skip``.
    Empty segments give zeros; ``argmax`` (mode 'max' only) holds the source row of each maximum, -1 when
    empty."""
    return backend.kernel("segment_reduce", src, index, offsets, weights)(src, index, offsets, mode, weights, skip)


def segment_max_backward(grad, argmax, num_rows):
    """The gradient of mode 'max' w.r.t. ``src``: a new (num_rows, d) table with ``grad[s, j]`` added at
    row ``argmax[s, j]`` of column j."""
    return backend.kernel("segment_max_backward", grad, argmax)(grad, argmax, num_rows)


def index_coalesce(index, num_rows, skip=-1):
    """``(ids, offsets, order)``: the positions of ``index`` (values not ``skip``) grouped by value, ``ids``
    ascending and unique; group g is ``order[offsets[g]:offsets[g+1]]``, in position order."""
    return backend.kernel("index_coalesce", index)(index, num_rows, skip)


def index_add_rows(dst, ids, rows, alpha=1.0):
    """``dst[ids] += alpha * rows`` in place; ``ids`` strictly increasing."""
    return backend.kernel("index_add_rows", dst, ids, rows)(dst, ids, rows, alpha)


def rows_renorm(dst, ids, max_norm, norm_type):
    """PyTorch's ``embedding_renorm_`` on the rows ``ids`` (strictly increasing) of ``dst``, in place."""
    return backend.kernel("rows_renorm", dst, ids)(dst, ids, max_norm, norm_type)


def sparse_adam_step(param, exp_avg, exp_avg_sq, ids, grad, scalars):
    """SparseAdam's update of rows ``ids`` of the parameter and its two moments, in place."""
    return backend.kernel("sparse_adam_step", param, exp_avg, exp_avg_sq, ids, grad)(
        param, exp_avg, exp_avg_sq, ids, grad, scalars)
