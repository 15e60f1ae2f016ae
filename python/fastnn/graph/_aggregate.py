"""Tensor-level graph ops over the segment kernels (``fastnn.kernels.segment``): the CSR view of a graph,
SpMM (neighbour aggregation with optional per-edge or per-head weights), scatter over an unsorted index
and softmax over the rows sharing an index value. Every op is an autograd Function whose backward runs the
same kernels: the gradient of an aggregation w.r.t. the node features is an aggregation over the
transposed view (edges grouped by source, built once and cached), so it is a gather, never a scatter with
atomics; the gradient w.r.t. the edge weights is ``segment_dot`` (SDDMM).

A graph's CSR view and an index's grouping are built on first use and cached on the index tensor itself,
keyed by the sizes asked for: a model that runs many times on one ``edge_index`` (or one batch vector)
pays for the counting sort once. The cache is dropped when the tensor's array is replaced or its version
changes (in-place writes).

Gradients of gradients through these Functions are not supported (a clear RuntimeError); a layer written
with plain tensor ops keeps them."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._autograd_engine import _mode
from ..autograd import Function
from ..backend import array_module_of
from ..tensor import Tensor, _wrap

__all__ = ["CSR", "csr_of", "spmm", "scatter", "segment_softmax", "gather", "index_groups"]

_REDUCES = {"sum": "sum", "add": "sum", "mean": "mean", "max": "max", "min": "min"}


def _no_double_backward(op):
    if _mode.enabled:
        raise RuntimeError(f"{op}: gradients of gradients through the sparse aggregation kernels are not "
                           f"supported (create_graph=True); write the layer with plain tensor ops "
                           f"(index_select + index_add) where second derivatives are needed")


def _contig(a):
    return a if a.flags.c_contiguous else array_module_of(a).ascontiguousarray(a)


def _rows(a, n):
    """``a`` as a C-contiguous 2-D (n, d) table (trailing dims flattened)."""
    return _contig(a.reshape(n, -1) if a.ndim != 2 else a)


def _check_index(t, name, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(t).__name__}")
    if t._data.dtype not in (np.int64, np.int32):
        raise TypeError(f"{fn}: argument '{name}' must be an int64 (or int32) tensor, got {t._data.dtype}")


def _check_float(t, name, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(t).__name__}")
    if t._data.dtype.kind != "f":
        raise TypeError(f"{fn}: argument '{name}' must be a floating-point tensor, got {t._data.dtype}")


# ------------------------------------------------------------------ caching on index tensors

def _cache(t):
    """The cache dict attached to tensor ``t``, emptied when its array was replaced or written in place
    through ``t`` (``Tensor._version``; a write through a separately held view of its memory is not seen)."""
    c = t.__dict__.get("_graph_cache")
    a = t._data
    v = t._version
    if c is None or c["array"] is not a or c["version"] != v:
        # holding the array keeps its id unique while cached
        c = {"array": a, "version": v}
        t.__dict__["_graph_cache"] = c
    return c


class _Groups:
    """The positions of an index list grouped by value: segment s is ``perm[offsets[s]:offsets[s + 1]]``.
    ``sorted``: the index is non-decreasing, so ``perm`` is the identity and kernels read rows in place."""

    __slots__ = ("offsets", "perm", "sorted", "_index", "_inv_count")

    def __init__(self, offsets, perm, is_sorted, index=None):
        self.offsets, self.perm, self.sorted = offsets, perm, is_sorted
        self._index = index
        self._inv_count = {}

    def index(self):
        """The segment of each position (the index list itself)."""
        if self._index is None:
            xp = array_module_of(self.offsets)
            seg = xp.repeat(xp.arange(self.offsets.shape[0] - 1, dtype=self.perm.dtype), xp.diff(self.offsets))
            if self.sorted:
                self._index = seg
            else:
                self._index = xp.empty_like(seg)
                self._index[self.perm] = seg
        return self._index

    def inv_count(self, dtype):
        """(segments, 1): 1 / the size of each segment (1 for an empty one), for the mean's gradient."""
        r = self._inv_count.get(dtype)
        if r is None:
            xp = array_module_of(self.offsets)
            cnt = xp.maximum(xp.diff(self.offsets), 1).astype(dtype)
            r = self._inv_count[dtype] = (1 / cnt).reshape(-1, 1)
        return r


def _group(index, num, fn, name):
    """``_Groups`` of 1-D index array ``index`` over values [0, num) (IndexError naming ``name`` otherwise)."""
    try:
        offsets, perm = kernels.csr_from_index(index, num)
    except IndexError:
        lo, hi = (int(index.min()), int(index.max())) if index.size else (0, 0)
        raise IndexError(f"{fn}: argument '{name}' holds values in [{lo}, {hi}], outside [0, {num})") from None
    is_sorted = index.shape[0] < 2 or bool((index[1:] >= index[:-1]).all())
    return _Groups(offsets, perm, is_sorted, index)


def index_groups(index, num, fn="scatter", name="index"):
    """The grouping of the positions of 1-D index tensor ``index`` by value over [0, num), cached on it."""
    c = _cache(index)
    key = ("groups", num)
    g = c.get(key)
    if g is None:
        a = index._data
        if a.ndim != 1:
            raise ValueError(f"{fn}: argument '{name}' must be one-dimensional, got shape {tuple(a.shape)}")
        g = c[key] = _group(_contig(a), num, fn, name)
    return g


# ------------------------------------------------------------------ CSR view of a graph

class CSR:
    """A graph's edges grouped by target node: target i's edges are positions ``offsets[i]:offsets[i+1]``,
    ``perm[k]`` is the edge id at position k and ``col[k]`` its source node. ``num_src`` / ``num_dst`` are the
    node counts of the two sides. ``transpose()`` gives the view grouped by source (built once)."""

    __slots__ = ("offsets", "perm", "col", "num_src", "num_dst", "_src", "_dst", "_t", "_groups", "_index")

    def __init__(self, offsets, perm, col, num_src, num_dst, src=None, dst=None):
        self.offsets, self.perm, self.col = offsets, perm, col
        self.num_src, self.num_dst = int(num_src), int(num_dst)
        self._src, self._dst = src, dst
        self._t = self._groups = self._index = None

    @classmethod
    def build(cls, src_index, dst_index, num_src, num_dst):
        """From the 1-D source and target arrays of the edges (same length and dtype): one counting sort
        and one gather. IndexError when a node id lies outside [0, num_src) / [0, num_dst)."""
        if src_index.shape != dst_index.shape or src_index.ndim != 1:
            raise ValueError(f"CSR.build: the source and target index lists must be 1-D of one length, got "
                             f"{tuple(src_index.shape)} and {tuple(dst_index.shape)}")
        if src_index.dtype != dst_index.dtype:
            raise TypeError(f"CSR.build: the source and target index lists must share a dtype, got "
                            f"{src_index.dtype} and {dst_index.dtype}")
        src_index, dst_index = _contig(src_index), _contig(dst_index)
        if src_index.size:
            lo, hi = int(src_index.min()), int(src_index.max())
            if lo < 0 or hi >= num_src:
                raise IndexError(f"CSR.build: source node ids in [{lo}, {hi}], outside [0, {num_src})")
        try:
            offsets, perm = kernels.csr_from_index(dst_index, num_dst)
        except IndexError:
            lo, hi = int(dst_index.min()), int(dst_index.max())
            raise IndexError(f"CSR.build: target node ids in [{lo}, {hi}], outside [0, {num_dst})") from None
        col = array_module_of(src_index).take(src_index, perm)
        return cls(offsets, perm, col, num_src, num_dst, src_index, dst_index)

    @property
    def num_edges(self):
        return int(self.perm.shape[0])

    def transpose(self):
        """The view grouped by source node (rows = sources, ``col`` = targets), built on first use."""
        if self._t is None:
            if self._src is None:
                raise RuntimeError("CSR.transpose: this view was built without its edge lists")
            t = CSR.build(self._dst, self._src, self.num_dst, self.num_src)
            t._t = self
            self._t = t
        return self._t

    def groups(self):
        """The edges grouped by target as ``_Groups`` (for scatter / softmax over the target index)."""
        if self._groups is None:
            self._groups = _Groups(self.offsets, self.perm, False, self._dst)
        return self._groups


_FLOWS = ("source_to_target", "target_to_source")


def check_edge_index(edge_index, fn):
    """PyG's checks of an ``edge_index`` argument: an integer tensor of shape (2, E)."""
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"{fn}: only supports integer tensors of shape [2, num_messages] for argument "
                         f"'edge_index', got {type(edge_index).__name__}")
    a = edge_index._data
    if a.dtype.kind not in "iu":
        raise ValueError(f"{fn}: expected 'edge_index' to be of integer type (got '{a.dtype}')")
    if a.ndim != 2:
        raise ValueError(f"{fn}: expected 'edge_index' to be two-dimensional (got {a.ndim} dimensions, shape "
                         f"{tuple(a.shape)})")
    if a.shape[0] != 2:
        raise ValueError(f"{fn}: expected 'edge_index' to have size '2' in the first dimension (got "
                         f"'{a.shape[0]}', shape {tuple(a.shape)})")


def csr_of(edge_index, size=None, flow="source_to_target"):
    """The CSR view of graph ``edge_index`` (2, E) with ``size = (num_src, num_dst)`` (None: both max id + 1),
    messages flowing from ``edge_index[0]`` to ``edge_index[1]`` (``flow="source_to_target"``) or back.
    Built on first use and cached on ``edge_index`` (dropped if it is modified in place)."""
    c = _cache(edge_index)
    key = ("csr", flow, None if size is None else (int(size[0]), int(size[1])))
    csr = c.get(key)
    if csr is not None:
        return csr
    fn = "csr_of"
    check_edge_index(edge_index, fn)
    if flow not in _FLOWS:
        raise ValueError(f"{fn}: expected 'flow' to be either 'source_to_target' or 'target_to_source' (got "
                         f"'{flow}')")
    a = edge_index._data
    if a.dtype not in (np.int64, np.int32):
        a = a.astype(np.int64)
    j, i = (0, 1) if flow == "source_to_target" else (1, 0)
    if size is None:
        n = int(a.max()) + 1 if a.size else 0
        size = (n, n)
    num_src, num_dst = int(size[0]), int(size[1])
    try:
        csr = CSR.build(a[j], a[i], num_src, num_dst)
    except IndexError as e:
        side = "source" if "source" in str(e) else "target"
        which = j if side == "source" else i
        num = num_src if side == "source" else num_dst
        row = a[which]
        raise IndexError(f"Found indices in 'edge_index' (row {which}) outside the interval [0, {num}) of the "
                         f"{side} nodes (got values in [{int(row.min())}, {int(row.max())}]); every index in "
                         f"'edge_index' must point into the node feature matrix") from None
    c[key] = csr
    return csr


def target_index(edge_index, csr, flow="source_to_target"):
    """The target-node row of ``edge_index`` as a tensor that carries the CSR's grouping, so that scatter /
    softmax over it reuse the CSR instead of sorting again (one tensor per CSR)."""
    if csr._index is None:
        i = 1 if flow == "source_to_target" else 0
        t = _wrap(edge_index._data[i])
        _cache(t)[("groups", csr.num_dst)] = csr.groups()
        csr._index = t
    return csr._index


# ------------------------------------------------------------------ SpMM

def _weight_rows(w, e, fn):
    """(E,) or (E, H) weight array, C-contiguous."""
    if w.ndim == 2 and w.shape[1] == 1:
        w = w.reshape(-1)
    if w.ndim not in (1, 2) or w.shape[0] != e:
        raise ValueError(f"{fn}: argument 'edge_weight' must have shape ({e},) or ({e}, heads), got "
                         f"{tuple(w.shape)}")
    return _contig(w)


class _SpMM(Function):
    @staticmethod
    def forward(ctx, x, edge_weight, csr, reduce, xa, wa):
        wi = None if wa is None else csr.perm
        out, arg = kernels.segment_reduce(xa, csr.col, csr.offsets, reduce, wa, -1, wi)
        ctx.csr, ctx.reduce, ctx.arg, ctx.xa, ctx.wa = csr, reduce, arg, xa, wa
        ctx.wshape = None if edge_weight is None else tuple(edge_weight.shape)
        ctx.xshape = tuple(x.shape)
        return _wrap(out.reshape((csr.num_dst,) + ctx.xshape[1:]))

    @staticmethod
    def backward(ctx, gy):
        _no_double_backward("spmm")
        csr, reduce, wa = ctx.csr, ctx.reduce, ctx.wa
        g = _rows(gy._data, csr.num_dst)
        gx = gw = None
        if reduce in ("max", "min"):
            if ctx.needs_input_grad[0]:
                gx = _wrap(kernels.segment_max_backward(g, ctx.arg, csr.num_src).reshape(ctx.xshape))
            return gx, None, None, None, None, None
        if reduce == "mean":
            g = g * csr.groups().inv_count(g.dtype)
        if ctx.needs_input_grad[0]:
            t = csr.transpose()
            dx, _ = kernels.segment_reduce(g, t.col, t.offsets, "sum", wa, -1, None if wa is None else t.perm)
            gx = _wrap(dx.reshape(ctx.xshape))
        if wa is not None and ctx.needs_input_grad[1]:
            heads = 1 if wa.ndim == 1 else wa.shape[1]
            dw = kernels.segment_dot(g, ctx.xa, csr.col, csr.offsets, heads, csr.perm, csr.num_edges)
            gw = _wrap(dw.reshape(ctx.wshape))
        return gx, gw, None, None, None, None


def spmm(csr, x, edge_weight=None, reduce="sum"):
    """``out[i] = reduce over the edges e -> i of edge_weight[e] * x[src_e]`` (num_dst, F...), without building
    the E x F message matrix. ``x``: (num_src, F...); ``edge_weight``: None, (E,) or (E, H) with the
    features' columns split in H blocks (multi-head attention). ``reduce``: sum/add, mean, max, min (an
    empty target gets 0). Differentiable w.r.t. ``x`` and ``edge_weight``."""
    fn = "spmm"
    mode = _REDUCES.get(reduce)
    if mode is None:
        raise ValueError(f"{fn}: argument 'reduce' must be one of {sorted(_REDUCES)}, got {reduce!r}")
    _check_float(x, "x", fn)
    xd = x._data
    if xd.ndim < 1 or xd.shape[0] != csr.num_src:
        raise ValueError(f"{fn}: argument 'x' must have {csr.num_src} rows (the source nodes), got shape "
                         f"{tuple(xd.shape)}")
    xa = _rows(xd, csr.num_src)
    wa = None
    if edge_weight is not None:
        _check_float(edge_weight, "edge_weight", fn)
        wa = _weight_rows(edge_weight._data, csr.num_edges, fn)
        if wa.dtype != xa.dtype:
            raise TypeError(f"{fn}: 'edge_weight' ({wa.dtype}) and 'x' ({xa.dtype}) must share a dtype")
        if wa.ndim == 2 and xa.shape[1] % wa.shape[1]:
            raise ValueError(f"{fn}: {wa.shape[1]} weight heads do not divide the {xa.shape[1]} feature columns "
                             f"of 'x' (shape {tuple(xd.shape)})")
        if mode in ("max", "min"):
            # the kernel weights sums only: weighted extremes reduce the messages, built in position order
            msg = gather(x, csr.col)
            heads = 1 if wa.ndim == 1 else wa.shape[1]
            wp = gather(edge_weight.reshape(csr.num_edges, heads), csr.perm)
            e, d = csr.num_edges, xa.shape[1]
            m = (msg.reshape(e, heads, d // heads) * wp.reshape(e, heads, 1)).reshape(msg.shape)
            return _segments(m, csr.groups(), csr.num_dst, mode, contiguous=True)
    if _mode.enabled and (x._requires_grad or (edge_weight is not None and edge_weight._requires_grad)):
        return _SpMM.apply(x, edge_weight, csr, mode, xa, wa)
    out, _ = kernels.segment_reduce(xa, csr.col, csr.offsets, mode, wa, -1, None if wa is None else csr.perm)
    return _wrap(out.reshape((csr.num_dst,) + tuple(xd.shape[1:])))


# ------------------------------------------------------------------ gather (x_j / x_i of the messages)

class _Gather(Function):
    @staticmethod
    def forward(ctx, x, index, groups, xa):
        ctx.groups, ctx.num, ctx.xshape = groups, xa.shape[0], tuple(x.shape)
        return _wrap(kernels.gather_rows(xa, index).reshape((index.shape[0],) + ctx.xshape[1:]))

    @staticmethod
    def backward(ctx, gy):
        _no_double_backward("gather")
        gr = ctx.groups()
        g = _rows(gy._data, gy._data.shape[0])
        dx, _ = kernels.segment_reduce(g, gr.perm, gr.offsets, "sum")
        return _wrap(dx.reshape(ctx.xshape)), None, None, None


def gather(x, index, groups=None):
    """``x[index]`` along the first dimension (``index`` a 1-D int array already checked against x's rows);
    the backward sums the gradient rows of each source row through ``groups()`` (the positions of ``index``
    grouped by value; computed from ``index`` when None)."""
    xa = _rows(x._data, x._data.shape[0])
    if _mode.enabled and x._requires_grad:
        if groups is None:
            def groups():
                return _group(_contig(index), xa.shape[0], "gather", "index")
        return _Gather.apply(x, index, groups, xa)
    return _wrap(kernels.gather_rows(xa, index).reshape((index.shape[0],) + tuple(x._data.shape[1:])))


# ------------------------------------------------------------------ scatter / softmax over an index

class _Segments(Function):
    @staticmethod
    def forward(ctx, src, groups, num, mode, sa):
        index = None if groups.sorted else groups.perm
        out, arg = kernels.segment_reduce(sa, index, groups.offsets, mode)
        ctx.groups, ctx.mode, ctx.arg, ctx.sshape = groups, mode, arg, tuple(src.shape)
        return _wrap(out.reshape((num,) + ctx.sshape[1:]))

    @staticmethod
    def backward(ctx, gy):
        _no_double_backward("scatter")
        gr, mode = ctx.groups, ctx.mode
        g = _rows(gy._data, gy._data.shape[0])
        if mode in ("max", "min"):
            return _wrap(kernels.segment_max_backward(g, ctx.arg, ctx.sshape[0]).reshape(ctx.sshape)), \
                None, None, None, None
        if mode == "mean":
            g = g * gr.inv_count(g.dtype)
        rows = kernels.gather_rows(g, gr.index())
        return _wrap(rows.reshape(ctx.sshape)), None, None, None, None


def _segments(src, groups, num, mode, contiguous=False):
    """Reduce the rows of ``src`` (E, ...) by ``groups`` into ``num`` rows. ``contiguous``: the rows are
    already in group order (segment s = rows offsets[s]:offsets[s+1])."""
    if contiguous:
        groups = _Groups(groups.offsets, groups.perm, True)
    sa = _rows(src._data, src._data.shape[0])
    if _mode.enabled and src._requires_grad:
        return _Segments.apply(src, groups, num, mode, sa)
    out, _ = kernels.segment_reduce(sa, None if groups.sorted else groups.perm, groups.offsets, mode)
    return _wrap(out.reshape((num,) + tuple(src._data.shape[1:])))


def scatter(src, index, dim_size, reduce="sum"):
    """The rows of ``src`` (E, ...) reduced into ``dim_size`` rows by the unsorted 1-D ``index`` (E,): reduce
    sum/add, mean, max or min; a row no index names is 0. Differentiable w.r.t. ``src``."""
    fn = "scatter"
    mode = _REDUCES.get(reduce)
    if mode is None:
        raise ValueError(f"{fn}: argument 'reduce' must be one of {sorted(_REDUCES)}, got {reduce!r}")
    _check_float(src, "src", fn)
    _check_index(index, "index", fn)
    if index._data.ndim != 1 or src._data.ndim < 1 or index._data.shape[0] != src._data.shape[0]:
        raise ValueError(f"{fn}: argument 'index' must be 1-D with one entry per row of 'src', got index "
                         f"{tuple(index.shape)} and src {tuple(src.shape)}")
    return _segments(src, index_groups(index, int(dim_size), fn), int(dim_size), mode)


class _Softmax(Function):
    @staticmethod
    def forward(ctx, src, groups, sa):
        out = kernels.segment_softmax(sa, groups.offsets, groups.perm)
        ctx.groups, ctx.out, ctx.sshape = groups, out, tuple(src.shape)
        return _wrap(out.reshape(ctx.sshape))

    @staticmethod
    def backward(ctx, gy):
        _no_double_backward("segment_softmax")
        g = _rows(gy._data, gy._data.shape[0])
        d = kernels.segment_softmax_backward(g, ctx.out, ctx.groups.offsets, ctx.groups.perm)
        return _wrap(d.reshape(ctx.sshape)), None, None


def _softmax_groups(src, groups):
    sa = _rows(src._data, src._data.shape[0])
    if _mode.enabled and src._requires_grad:
        return _Softmax.apply(src, groups, sa)
    return _wrap(kernels.segment_softmax(sa, groups.offsets, groups.perm).reshape(tuple(src._data.shape)))


def segment_softmax(src, index, num_segments):
    """Softmax of each column of ``src`` (E, ...) over the rows sharing a value of ``index`` (E,), values in
    [0, num_segments). Differentiable."""
    fn = "segment_softmax"
    _check_float(src, "src", fn)
    _check_index(index, "index", fn)
    if index._data.ndim != 1 or src._data.ndim < 1 or index._data.shape[0] != src._data.shape[0]:
        raise ValueError(f"{fn}: argument 'index' must be 1-D with one entry per row of 'src', got index "
                         f"{tuple(index.shape)} and src {tuple(src.shape)}")
    return _softmax_groups(src, index_groups(index, int(num_segments), fn))
