"""The segment-reduction family (``csrc/ops/segment/``): reductions of gathered table rows over segments
given by offsets into an index list. Embedding lookups, EmbeddingBag's bags, the coalescing of sparse-rows
gradients and graph aggregation over CSR neighbour lists are all of this form. Arrays in, arrays out, on the
arrays' device; index lists are checked against the table (IndexError naming the argument)."""
from __future__ import annotations

from .. import backend


def gather_rows(src, index):
    """``src[index]`` for a contiguous 2-D table and a 1-D int32/int64 index list: (len(index), src.shape[1])."""
    return backend.kernel("gather_rows", src, index)(src, index)


def segment_reduce(src, index, offsets, mode, weights=None, skip=-1, weight_index=None):
    """``(out, arg)``: for each segment s, the sum / mean / column-wise max / min of the rows ``src[index[k]]``
    for k in ``[offsets[s], offsets[s+1])`` whose index is not ``skip``. ``index=None`` reads row k at position k
    (contiguous segments of ``src``).

    In modes 'sum' and 'mean' each row is scaled by the weight of its position: ``weights`` (n,) gives one
    scalar per position, ``weights`` (n_w, H) with ``src.shape[1] % H == 0`` one per position and column block
    of width ``d / H`` (attention heads); with ``weight_index`` (same dtype as ``index``, length n) position k
    takes row ``weight_index[k]`` of ``weights``, so per-edge weights stay in edge order. Mean divides the
    weighted sum by the number of rows kept. Empty segments give zeros; ``arg`` (modes 'max' and 'min', else
    None) holds the source row of each extreme (the first one, in position order), -1 when empty. NaN
    propagates. Deterministic on the CPU; on CUDA under ``fastnn.use_deterministic_algorithms(True)``."""
    return backend.kernel("segment_reduce", src, index, offsets, weights, weight_index)(
        src, index, offsets, mode, weights, skip, weight_index, backend.deterministic())


def segment_max_backward(grad, argmax, num_rows):
    """The gradient of modes 'max' and 'min' w.r.t. ``src``: a new (num_rows, d) table with ``grad[s, j]``
    added at row ``argmax[s, j]`` of column j (-1 skipped)."""
    return backend.kernel("segment_max_backward", grad, argmax)(grad, argmax, num_rows, backend.deterministic())


def segment_dot(a, src, index, offsets, heads=1, weight_index=None, num_out=-1):
    """SDDMM, the gradient of the weights of a weighted segment sum: ``out`` (num_out, or n positions, x heads)
    with ``out[wi(k), h] = a[s, h*C:(h+1)*C] . src[index[k], h*C:(h+1)*C]`` (C = d / heads) for each position k
    of segment s; ``wi(k) = weight_index[k]`` (positions naming one row add up) or k. Rows no position names
    are 0."""
    return backend.kernel("segment_dot", a, src, index, offsets, weight_index)(
        a, src, index, offsets, heads, weight_index, num_out)


def csr_from_index(index, num_rows):
    """``(offsets, perm)``: the positions of an unsorted index list grouped by value, ascending and stable in
    position (a counting sort, multi-threaded on the CPU); value v's positions are
    ``perm[offsets[v]:offsets[v+1]]``. ``offsets`` is int64 (num_rows + 1), ``perm`` of ``index``'s dtype.
    IndexError for a value outside ``[0, num_rows)``."""
    return backend.kernel("csr_from_index", index)(index, num_rows)


def segment_softmax(src, offsets, perm):
    """Softmax of each column of ``src`` (E, H), rows in edge order, within each segment: segment s is the rows
    ``perm[offsets[s]:offsets[s+1]]`` (max-subtracted, so large values do not overflow). Rows no position names
    are 0."""
    return backend.kernel("segment_softmax", src, offsets, perm)(src, offsets, perm)


def segment_softmax_backward(grad, out, offsets, perm):
    """The gradient of :func:`segment_softmax` w.r.t. ``src`` from its output ``out``:
    ``out * (grad - sum over the segment of grad * out)`` per column; rows no position names are 0."""
    return backend.kernel("segment_softmax_backward", grad, out, offsets, perm)(grad, out, offsets, perm)


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
