"""Embedding lookups: ``embedding``, ``embedding_bag`` and ``multi_hot`` (PyTorch's names and arguments).

The heavy work is the segment family's (``kernels.gather_rows``, ``segment_reduce``, ``index_coalesce``):
the weight's gradient is computed on the looked-up rows only: as a sparse-rows tensor (``sparse=True``, see
``fastnn.sparse``) holding one row per looked-up position as PyTorch's does (uncoalesced), or, dense, as the
coalesced rows (unique sorted row ids, summed rows) scattered into a zero table."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .. import dtypes as _dtypes
from .._autograd_engine import _mode, no_grad
from ..autograd import Function
from ..backend import array_module_of, empty
from ..sparse import _make_sparse
from ..tensor import Tensor, _wrap

__all__ = ["embedding", "embedding_bag", "multi_hot"]


def _check_tensor(t, name, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(t).__name__}")


def _index_array(t, name, fn):
    """The int32/int64 array of index tensor ``t``, C-contiguous (PyTorch's dtype error otherwise)."""
    _check_tensor(t, name, fn)
    a = t._data
    if a.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"Expected tensor for argument #1 '{name}' to have one of the following scalar types: "
                           f"Long, Int; but got {a.dtype} instead (while checking arguments for {fn})")
    return a if a.flags.c_contiguous else array_module_of(a).ascontiguousarray(a)


def _weight_array(weight, fn):
    _check_tensor(weight, "weight", fn)
    w = weight._data
    if w.ndim != 2:
        raise RuntimeError(f"{fn}: 'weight' must be 2-D, got shape {tuple(w.shape)}")
    if w.dtype.kind != "f":
        raise TypeError(f"{fn}: argument 'weight' must be a floating-point tensor, got {w.dtype}")
    return w if w.flags.c_contiguous else array_module_of(w).ascontiguousarray(w)


def _padding(padding_idx, num):
    """PyTorch's normalisation of padding_idx (negative counts from the end; -1 inside means none)."""
    if padding_idx is None:
        return -1
    if padding_idx > 0:
        assert padding_idx < num, "Padding_idx must be within num_embeddings"
    elif padding_idx < 0:
        assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
        padding_idx = num + padding_idx
    return int(padding_idx)


def _kernel(fn, name, f, *args):
    """``f(*args)``, with an index error renamed after the public argument ``name``."""
    try:
        return f(*args)
    except IndexError as e:
        msg = str(e)
        raise IndexError(f"{fn}: index out of range in self: argument '{name}'"
                         f"{msg[msg.find(' holds'):msg.find(' of the table')] if ' holds' in msg else ''} "
                         f"(num_embeddings)") from None


def _renorm(fn, name, weight, ids, max_norm, norm_type):
    """PyTorch's ``embedding_renorm_``: the looked-up rows of ``weight`` scaled in place to norm <= max_norm."""
    w = weight._data
    if not w.flags.c_contiguous:
        raise RuntimeError(f"{fn}: max_norm renormalises the weight in place, which must be contiguous")
    uniq, _, _ = _kernel(fn, name, kernels.index_coalesce, ids.reshape(-1), w.shape[0])
    with no_grad():
        kernels.rows_renorm(w, uniq, float(max_norm), float(norm_type))


class _Rows:
    """What the backward of a lookup needs: the flat ids, the table's row count, padding_idx (-1: none)."""

    def __init__(self, ids, num, padding):
        self.ids, self.num, self.padding = ids, num, padding
        self._group = None

    def group(self):
        """(ids, offsets, order): the positions grouped by row id, padding excluded (computed once)."""
        if self._group is None:
            self._group = kernels.index_coalesce(self.ids, self.num, self.padding)
        return self._group


def _rows_to_grad(uniq, rows, num, sparse):
    """The weight's gradient from coalesced rows: sparse-rows, or a zero table with the rows added."""
    if sparse:
        return _make_sparse(uniq, rows, (num, rows.shape[1]), True)
    xp = array_module_of(rows)
    dense = xp.zeros((num, rows.shape[1]), dtype=rows.dtype)
    kernels.index_add_rows(dense, uniq, rows)
    return _wrap(dense)


class _Embedding(Function):
    @staticmethod
    def forward(ctx, weight, w, lookup, shape, scale_grad_by_freq, sparse):
        ctx.lookup, ctx.shape, ctx.scale, ctx.sparse = lookup, shape, scale_grad_by_freq, sparse
        return _wrap(kernels.gather_rows(w, lookup.ids).reshape(shape + (w.shape[1],)))

    @staticmethod
    def backward(ctx, gy):
        if not ctx.sparse:
            return _EmbeddingGrad.apply(gy, ctx.lookup, ctx.scale), None, None, None, None, None
        if ctx.scale:
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
        if _mode.enabled:
            raise RuntimeError("embedding: gradients of gradients through a sparse gradient (sparse=True) are not "
                               "supported; use sparse=False")
        return _uncoalesced_grad(gy._data, ctx.lookup), None, None, None, None, None


def _uncoalesced_grad(gy, lookup):
    """PyTorch's sparse lookup gradient: one row per looked-up position (padding positions left out),
    uncoalesced; the optimisers and ``coalesce()`` sum repeated ids when they need to."""
    rows = gy.reshape(-1, gy.shape[-1])
    ids = lookup.ids
    if lookup.padding >= 0:
        keep = ids != lookup.padding
        ids, rows = ids[keep], rows[keep]
    # copies: the gradient must not alias the caller's ids or the incoming gradient
    values = empty(rows.shape, rows.dtype, rows)
    values[...] = rows
    return _make_sparse(ids.astype(np.int64, copy=True), values, (lookup.num, rows.shape[1]), False)


def _lookup_rows(gy, lookup, scale):
    """(unique row ids, their summed output-gradient rows): the coalesced gradient of a lookup."""
    g = gy.reshape(-1, gy.shape[-1])
    if not g.flags.c_contiguous:
        g = array_module_of(g).ascontiguousarray(g)
    uniq, offsets, order = lookup.group()
    rows, _ = kernels.segment_reduce(g, order, offsets, "mean" if scale else "sum")
    return uniq, rows


class _EmbeddingGrad(Function):
    """The dense gradient of a lookup's weight as an op of the output gradient, so that gradients of
    gradients work: its own backward is a lookup of the incoming table gradient."""

    @staticmethod
    def forward(ctx, gy, lookup, scale):
        ctx.lookup, ctx.scale, ctx.gshape = lookup, scale, tuple(gy.shape)
        uniq, rows = _lookup_rows(gy._data, lookup, scale)
        return _rows_to_grad(uniq, rows, lookup.num, False)

    @staticmethod
    def backward(ctx, gw):
        lk = ctx.lookup
        out = embedding(_wrap(lk.ids), gw)
        if lk.padding >= 0 or ctx.scale:
            xp = array_module_of(lk.ids)
            factor = xp.zeros(lk.ids.shape[0], dtype=gw._data.dtype)
            _, offsets, order = lk.group()
            counts = xp.diff(offsets)
            factor[order] = (1.0 / xp.repeat(counts, counts)) if ctx.scale else 1.0
            out = out * _wrap(factor[:, None])
        return out.reshape(ctx.gshape), None, None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` (num_embeddings, embedding_dim) at the int32/int64 ids ``input`` (any shape): the
    result has shape ``input.shape + (embedding_dim,)``. ``padding_idx``: that row gets no gradient.
    ``max_norm``: looked-up rows whose ``norm_type``-norm exceeds it are first rescaled in place.
    ``scale_grad_by_freq``: each row's gradient is divided by its id's count in ``input``. ``sparse``: the
    weight's gradient is a sparse-rows tensor (see ``fastnn.sparse``)."""
    fn = "embedding"
    ids = _index_array(input, "indices", fn)
    w = _weight_array(weight, fn)
    num = w.shape[0]
    padding = _padding(padding_idx, num)
    flat = ids.reshape(-1)
    if max_norm is not None:
        _renorm(fn, "input", weight, flat, max_norm, norm_type)
    if _mode.enabled and weight._requires_grad:
        return _kernel(fn, "input", _Embedding.apply, weight, w, _Rows(flat, num, padding), tuple(ids.shape),
                       bool(scale_grad_by_freq), bool(sparse))
    return _wrap(_kernel(fn, "input", kernels.gather_rows, w, flat).reshape(tuple(ids.shape) + (w.shape[1],)))


# ------------------------------------------------------------------ bags

class _Bags(_Rows):
    """A batch of bags: the flat ids, the offsets of the S bags (S + 1 values, the last = len(ids))."""

    def __init__(self, ids, offsets, num, padding):
        super().__init__(ids, num, padding)
        self.offsets = offsets
        self._bag_of = None

    def bag_of(self):
        """The bag of each position."""
        if self._bag_of is None:
            xp = array_module_of(self.offsets)
            self._bag_of = xp.repeat(xp.arange(self.offsets.shape[0] - 1, dtype=np.int64), xp.diff(self.offsets))
        return self._bag_of

    def kept(self):
        """Whether each position counts (its id is not padding_idx)."""
        return None if self.padding < 0 else self.ids != self.padding


class _EmbeddingBag(Function):
    @staticmethod
    def forward(ctx, weight, psw, w, bags, mode, scale_grad_by_freq, sparse):
        ctx.bags, ctx.mode, ctx.scale, ctx.sparse = bags, mode, scale_grad_by_freq, sparse
        pw = None if psw is None else psw._data
        out, argmax = kernels.segment_reduce(w, bags.ids, bags.offsets, mode, pw, bags.padding)
        ctx.argmax = argmax
        ctx.save_for_backward(weight, psw)
        return _wrap(out)

    @staticmethod
    def backward(ctx, gy):
        if _mode.enabled:
            raise RuntimeError("embedding_bag: gradients of gradients are not supported")
        weight, psw = ctx.saved_tensors
        bags = ctx.bags
        g = gy._data if gy._data.flags.c_contiguous else array_module_of(gy._data).ascontiguousarray(gy._data)
        xp = array_module_of(g)
        gw = gpsw = None
        if ctx.needs_input_grad[0]:
            if ctx.mode == "max":
                gw = _wrap(kernels.segment_max_backward(g, ctx.argmax, bags.num))
            elif ctx.sparse:
                gw = _bag_sparse_grad(g, bags, psw, ctx.mode)
            else:
                uniq, offsets, order = bags.group()
                scale = None
                if psw is not None:
                    scale = psw._data.reshape(-1)
                elif ctx.mode == "mean":
                    kept = bags.kept()
                    bag_of = bags.bag_of()
                    size = xp.bincount(bag_of if kept is None else bag_of[kept], minlength=g.shape[0])
                    scale = (1.0 / xp.maximum(size, 1).astype(g.dtype))[bag_of]
                wk = None if scale is None else scale[order].astype(g.dtype)
                if ctx.scale:
                    counts = xp.diff(offsets)
                    per = (1.0 / xp.repeat(counts, counts)).astype(g.dtype)
                    wk = per if wk is None else wk * per
                src_rows = bags.bag_of()[order]
                rows, _ = kernels.segment_reduce(g, src_rows, offsets, "sum",
                                                 None if wk is None else xp.ascontiguousarray(wk))
                gw = _rows_to_grad(uniq, rows, bags.num, ctx.sparse)
        if psw is not None and ctx.needs_input_grad[1]:
            w = weight._data if weight._data.flags.c_contiguous else xp.ascontiguousarray(weight._data)
            dots = (kernels.gather_rows(w, bags.ids) * kernels.gather_rows(g, bags.bag_of())).sum(axis=1)
            kept = bags.kept()
            if kept is not None:
                dots = dots * kept
            gpsw = _wrap(dots.reshape(psw.shape))
        return gw, gpsw, None, None, None, None, None


def _bag_sparse_grad(g, bags, psw, mode):
    """PyTorch's sparse bag gradient: each looked-up position gets its bag's output-gradient row, weighted by
    its per-sample weight or 1 / bag size (mean); uncoalesced, padding positions left out."""
    xp = array_module_of(g)
    bag_of = bags.bag_of()
    rows = kernels.gather_rows(g, bag_of)
    kept = bags.kept()
    if psw is not None:
        rows *= psw._data.reshape(-1, 1).astype(g.dtype, copy=False)
    elif mode == "mean":
        size = xp.bincount(bag_of if kept is None else bag_of[kept], minlength=g.shape[0])
        rows *= (1.0 / xp.maximum(size, 1).astype(g.dtype))[bag_of][:, None]
    ids = bags.ids.astype(np.int64, copy=True)
    if kept is not None:
        ids, rows = ids[kept], rows[kept]
    return _make_sparse(ids, rows, (bags.num, g.shape[1]), False)


_MODES = ("sum", "mean", "max")


def _bag_offsets(fn, ids, offsets, include_last_offset):
    """(flat ids, offsets with the end appended: S + 1 int64 values) under PyTorch's rules and errors."""
    xp = array_module_of(ids)
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets).__name__}")
        b, length = ids.shape
        return ids.reshape(-1), xp.arange(0, b * length + 1, max(length, 1), dtype=np.int64)[:b + 1] \
            if length else xp.zeros(b + 1, dtype=np.int64)
    if ids.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {ids.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    _check_tensor(offsets, "offsets", fn)
    off = offsets._data
    if off.ndim != 1:
        raise ValueError(f"offsets has to be a 1D Tensor, but got Tensor of dimension {off.ndim}")
    if off.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"{fn}: argument 'offsets' must be an int32 or int64 tensor, got {off.dtype}")
    off = off.astype(np.int64)
    n = ids.shape[0]
    if off.shape[0] == 0:
        if include_last_offset:
            raise RuntimeError(f"{fn}: include_last_offset needs at least one value in 'offsets'")
        return ids, xp.asarray([n], dtype=np.int64)
    first, last = int(off[0]), int(off[-1])
    if first != 0:
        raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {first}")
    if last > n:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of {last}")
    if off.shape[0] > 1 and bool((xp.diff(off) < 0).any()):
        shown = off.tolist() if off.size < 20 else "a decreasing step"
        raise RuntimeError(f"{fn}: argument 'offsets' must be non-decreasing, got {shown}")
    if not include_last_offset:
        off = xp.concatenate([off, xp.asarray([n], dtype=np.int64)])
    return ids, xp.ascontiguousarray(off)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """The sum, mean or max of the embeddings of each bag, without materialising the lookups.

    Bags: a 2-D ``input`` (B, L) is B bags of L ids (``offsets`` must be None); a 1-D ``input`` is cut into
    bags at ``offsets`` (bag i is ``input[offsets[i]:offsets[i+1]]``, the last one running to the end unless
    ``include_last_offset``). ``per_sample_weights`` (the shape of ``input``) scale each id's row, mode 'sum'
    only. Ids equal to ``padding_idx`` are left out (and not counted by 'mean'); an empty bag gives zeros.
    Returns (number of bags, embedding_dim)."""
    fn = "embedding_bag"
    ids = _index_array(input, "indices", fn)
    w = _weight_array(weight, fn)
    num = w.shape[0]
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None:
        _check_tensor(per_sample_weights, "per_sample_weights", fn)
        if mode != "sum":
            raise NotImplementedError("embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature "
                                      "request on GitHub.")
        if tuple(per_sample_weights.shape) != tuple(ids.shape):
            raise ValueError(f"embedding_bag: per_sample_weights has to be of the same shape as input "
                             f"{tuple(ids.shape)}, got {tuple(per_sample_weights.shape)}")
        if per_sample_weights.dtype != w.dtype:
            raise RuntimeError(f"embedding_bag: expected per_sample_weights ({per_sample_weights.dtype}) and weight "
                               f"({w.dtype}) to have the same dtype")
    padding = _padding(padding_idx, num)
    flat, off = _bag_offsets(fn, ids, offsets, include_last_offset)
    if max_norm is not None:
        _renorm(fn, "input", weight, flat, max_norm, norm_type)
    psw = per_sample_weights
    if psw is not None and not psw._data.flags.c_contiguous:
        psw = psw.contiguous()
    if psw is not None and psw.ndim != 1:
        psw = psw.reshape(-1)
    bags = _Bags(flat, off, num, padding)
    if _mode.enabled and (weight._requires_grad or (psw is not None and psw._requires_grad)):
        return _kernel(fn, "input", _EmbeddingBag.apply, weight, psw, w, bags, mode, bool(scale_grad_by_freq),
                       bool(sparse))
    out, _ = _kernel(fn, "input", kernels.segment_reduce, w, flat, off, mode, None if psw is None else psw._data,
                     padding)
    return _wrap(out)


def multi_hot(input, num_classes, offsets=None, include_last_offset=False, padding_idx=None, dtype=None):
    """Multi-hot (bag-of-words presence) encoding: one row per bag with 1 at every class the bag holds.

    Bags are given as for ``embedding_bag``: a 2-D ``input`` (B, L) is B bags of L class ids, a 1-D ``input``
    is cut at ``offsets``. Ids equal to ``padding_idx`` are ignored (padded batches). Returns (bags,
    num_classes) of ``dtype`` (the default float dtype when None), ready as a model input. With a 1-D
    ``input`` and no offsets, the whole input is one bag, giving shape (num_classes,)."""
    fn = "multi_hot"
    ids = _index_array(input, "input", fn)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"{fn}: argument 'num_classes' must be a positive int, got {num_classes!r}")
    single = ids.ndim == 1 and offsets is None
    flat, off = _bag_offsets(fn, ids.reshape(1, -1) if single else ids, offsets, include_last_offset)
    xp = array_module_of(flat)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= num_classes):
        raise IndexError(f"{fn}: argument 'input' holds values in [{int(flat.min())}, {int(flat.max())}], outside "
                         f"[0, {num_classes}) (num_classes)")
    dt = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
    out = xp.zeros((off.shape[0] - 1, num_classes), dtype=dt)
    bag_of = xp.repeat(xp.arange(off.shape[0] - 1, dtype=np.int64), xp.diff(off))
    keep = slice(None) if padding_idx is None else flat != _padding(padding_idx, num_classes)
    out[bag_of[keep], flat[keep]] = 1
    return _wrap(out[0] if single else out)
