"""Shape, indexing and joining ops (differentiable), attached to Tensor as methods."""
from __future__ import annotations

import builtins

import numpy as np

from . import backend
from . import dtypes as _dt
from ._autograd_engine import Node, _mode
from .tensor import (Size, Tensor, _array_on, _as_tensor_like, _canon_dim, _check_same_device, _filled, _inplace_op,
                     _make, _on_device_of, _scalar_operand, _wrap, _xp)

_ndarray = np.ndarray


def _index_array(index, like):
    """An index or mask argument (Tensor, list, numpy or device array) as an array on the device of array
    ``like``: as in PyTorch, CPU indices may index a tensor on another device."""
    a = index._data if isinstance(index, Tensor) else index
    if a.__class__ is like.__class__:
        return a
    return _array_on(like, a)


def _shape_args(shape, op, arg="shape"):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, Tensor):
            s = s.item()
        if isinstance(s, builtins.bool) or not isinstance(s, (builtins.int, np.integer)):
            raise TypeError(f"{op}: argument '{arg}' must be a tuple of ints, but found element of type "
                            f"{type(s).__name__}")
        out.append(builtins.int(s))
    return tuple(out)


def _resolve_shape(shape, numel, op, in_shape):
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {list(shape)}")
    if any(s < -1 for s in shape):
        raise RuntimeError(f"{op}: invalid shape dimension in {list(shape)}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {numel} "
                               f"(input shape {tuple(in_shape)})")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {numel} "
                           f"(input shape {tuple(in_shape)})")
    return shape


def reshape(input, *shape):
    a = input._data
    if len(shape) == 1 and type(shape[0]) is not builtins.int:
        shape = shape[0]
    try:
        # fast path: numpy checks sizes and infers -1 like PyTorch
        out = a.reshape(shape)
        ok = all(type(s) is builtins.int and s >= -1 for s in shape)
    except (ValueError, TypeError):
        ok = False
    if not ok:
        shape = _resolve_shape(_shape_args((shape,), "reshape"), a.size, "reshape", a.shape)
        out = a.reshape(shape)
    if _mode.enabled and input._requires_grad:
        in_shape = a.shape
        return _make(out, (input,), lambda g: (g.reshape(in_shape),), "Reshape")
    return _wrap(out)


def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, Size, builtins.int, np.integer)):
        dt = _dt.as_dtype(shape[0])
        if dt.itemsize != input._data.dtype.itemsize:
            raise RuntimeError("view(dtype): only dtypes of the same size are supported")
        return _wrap(input._data.view(dt))
    a = input._data
    shape = _resolve_shape(_shape_args(shape, "view"), a.size, "view", a.shape)
    try:
        if a.__class__ is _ndarray:
            out = np.reshape(a, shape, copy=False)
        else:
            # cupy's reshape has no copy=False; a reshaped view starts at a's first element, a copy elsewhere
            out = a.reshape(shape)
            if a.size and out.data.ptr != a.data.ptr:
                raise ValueError
    except ValueError:
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride (input shape "
                           f"{tuple(a.shape)}, strides {input.stride()}, requested {list(shape)}). "
                           "Use .reshape(...) instead.") from None
    if _mode.enabled and input._requires_grad:
        in_shape = a.shape
        return _make(out, (input,), lambda g: (g.reshape(in_shape),), "View")
    return _wrap(out)


def view_as(input, other):
    return view(input, other.shape)


def reshape_as(input, other):
    return reshape(input, other.shape)


def flatten(input, start_dim=0, end_dim=-1):
    nd = input._data.ndim
    if nd == 0:
        return reshape(input, 1)
    s = _canon_dim(start_dim, nd, "flatten", "start_dim")
    e = _canon_dim(end_dim, nd, "flatten", "end_dim")
    if s > e:
        raise RuntimeError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    sh = input._data.shape
    n = 1
    for d in sh[s:e + 1]:
        n *= d
    return reshape(input, sh[:s] + (n,) + sh[e + 1:])


def unflatten(input, dim, sizes):
    sh = input._data.shape
    d = _canon_dim(dim, len(sh), "unflatten")
    sizes = _resolve_shape(tuple(sizes), sh[d], "unflatten", sh)
    return reshape(input, sh[:d] + tuple(sizes) + sh[d + 1:])


def ravel(input):
    return reshape(input, -1)


def permute(input, *dims):
    nd = input._data.ndim
    dims = _shape_args(dims, "permute", "dims")
    if len(dims) != nd:
        raise RuntimeError(f"permute: number of dims in 'dims' ({len(dims)}) doesn't match the tensor's ndim ({nd})")
    dims = tuple(_canon_dim(d, nd, "permute", "dims") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute: repeated dim in 'dims' {list(dims)}")
    out = input._data.transpose(dims)
    if _mode.enabled and input._requires_grad:
        inv = tuple(np.argsort(dims))
        return _make(out, (input,), lambda g: (g.permute(inv),), "Permute")
    return _wrap(out)


def transpose(input, dim0, dim1):
    nd = input._data.ndim
    if nd == 0:
        return input
    d0 = _canon_dim(dim0, nd, "transpose", "dim0")
    d1 = _canon_dim(dim1, nd, "transpose", "dim1")
    out = input._data.swapaxes(d0, d1)
    if _mode.enabled and input._requires_grad:
        return _make(out, (input,), lambda g: (g.transpose(d0, d1),), "Transpose")
    return _wrap(out)


swapaxes = swapdims = transpose


def t(input):
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    return transpose(input, 0, 1) if input._data.ndim == 2 else input


def _T(self):
    nd = self._data.ndim
    return permute(self, tuple(range(nd - 1, -1, -1))) if nd > 1 else self


def _mT(self):
    if self._data.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices, got {self._data.ndim}-D")
    return transpose(self, -2, -1)


def movedim(input, source, destination):
    nd = input._data.ndim
    src = (source,) if isinstance(source, (builtins.int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (builtins.int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: 'source' and 'destination' must have the same number of dims, "
                           f"got {len(src)} and {len(dst)}")
    src = [_canon_dim(d, nd, "movedim", "source") for d in src]
    dst = [_canon_dim(d, nd, "movedim", "destination") for d in dst]
    order = [d for d in range(nd) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, tuple(order))


moveaxis = movedim


def squeeze(input, dim=None):
    a = input._data
    if dim is None:
        out = a.reshape(tuple(s for s in a.shape if s != 1))
    else:
        dims = (dim,) if isinstance(dim, (builtins.int, np.integer)) else tuple(dim)
        dims = {_canon_dim(d, a.ndim, "squeeze") for d in dims}
        if a.ndim == 0:
            return input
        out = a.reshape(tuple(s for i, s in enumerate(a.shape) if not (i in dims and s == 1)))
    if out.shape == a.shape:
        return input if not (_mode.enabled and input._requires_grad) else reshape(input, a.shape)
    if _mode.enabled and input._requires_grad:
        sh = a.shape
        return _make(out, (input,), lambda g: (g.reshape(sh),), "Squeeze")
    return _wrap(out)


def unsqueeze(input, dim):
    a = input._data
    d = _canon_dim(dim, a.ndim + 1, "unsqueeze")
    out = a.reshape(a.shape[:d] + (1,) + a.shape[d:])
    if _mode.enabled and input._requires_grad:
        sh = a.shape
        return _make(out, (input,), lambda g: (g.reshape(sh),), "Unsqueeze")
    return _wrap(out)


def expand(input, *sizes):
    a = input._data
    sizes = _shape_args(sizes, "expand", "size")
    if len(sizes) < a.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({a.ndim})")
    lead = len(sizes) - a.ndim
    shape = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension ({i})")
            s = a.shape[i - lead]
        elif i >= lead and a.shape[i - lead] != 1 and a.shape[i - lead] != s:
            raise RuntimeError(f"expand: the expanded size of the tensor ({s}) must match the existing size "
                               f"({a.shape[i - lead]}) at non-singleton dimension {i}. Target sizes: "
                               f"{list(sizes)}. Tensor sizes: {list(a.shape)}")
        shape.append(s)
    shape = tuple(shape)
    if shape == a.shape:
        return input
    out = np.broadcast_to(a, shape)
    if _mode.enabled and input._requires_grad:
        return _make(out, (input,), lambda g: (g,), "Expand")   # the engine sums g back to the input's shape
    return _wrap(out)


def expand_as(input, other):
    return expand(input, other.shape)


def broadcast_to(input, shape):
    return expand(input, shape)


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*[t._data.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def broadcast_shapes(*shapes):
    return Size(np.broadcast_shapes(*shapes))


def repeat(input, *sizes):
    a = input._data
    reps = _shape_args(sizes, "repeat", "repeats")
    if len(reps) < a.ndim:
        raise RuntimeError(f"repeat: number of repeat dims ({len(reps)}) can not be smaller than the number of "
                           f"dimensions of the tensor ({a.ndim})")
    lead = len(reps) - a.ndim
    in_shape = (1,) * lead + a.shape
    out = np.tile(a.reshape(in_shape), reps)
    if _mode.enabled and input._requires_grad:
        orig = a.shape

        def bw(g):
            inter = []
            for r, s in zip(reps, in_shape):
                inter += [r, s]
            gg = g.reshape(inter).sum(dim=tuple(range(0, 2 * len(reps), 2)))
            return (gg.reshape(orig),)
        return _make(out, (input,), bw, "Repeat")
    return _wrap(out)


def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input._data.ndim:
        dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


def _check_tensor_list(tensors, op):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: argument 'tensors' must be a sequence of Tensors, not a Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensor as element {i} in argument 'tensors', got {type(t).__name__}")
    _check_same_device(tensors, op)
    return tensors


def _common_dtype(tensors):
    dt = tensors[0]._data.dtype
    for t in tensors[1:]:
        if t._data.dtype != dt:
            dt = _dt.promote(dt, True, t._data.dtype, True)
    return dt


def cat(tensors, dim=0):
    tensors = _check_tensor_list(tensors, "cat")
    # PyTorch skips legacy empty 1-D tensors
    used = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    nd = used[0]._data.ndim
    if nd == 0:
        raise RuntimeError("cat: zero-dimensional tensor cannot be concatenated")
    d = _canon_dim(dim, nd, "cat")
    ref = used[0]._data.shape
    for i, t in enumerate(used):
        sh = t._data.shape
        if len(sh) != nd or any(sh[k] != ref[k] for k in range(nd) if k != d):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {d}: expected {tuple(ref)}, "
                               f"got {tuple(sh)} for tensor number {i} in the list")
    dt = _common_dtype(used)
    if len(used) > 1:
        shape = list(ref)
        shape[d] = builtins.sum(t._data.shape[d] for t in used)
        # into pooled memory: a skip connection's concatenation is large and made on every step
        out = np.concatenate([t._data for t in used], axis=d, out=backend.empty(shape, dt, used[0]._data))
    else:
        out = used[0]._data.astype(dt, copy=True)
    if _mode.enabled and any(t._requires_grad for t in used):
        sizes = [t._data.shape[d] for t in used]

        def bw(g):
            res = []
            start = 0
            idx = [slice(None)] * nd
            for t, n in zip(used, sizes):
                if t._requires_grad:
                    idx[d] = slice(start, start + n)
                    res.append(g[tuple(idx)])
                else:
                    res.append(None)
                start += n
            return res
        return _make(out, tuple(used), bw, "Cat")
    return _wrap(out)


concat = concatenate = cat


def stack(tensors, dim=0):
    tensors = _check_tensor_list(tensors, "stack")
    nd = tensors[0]._data.ndim
    d = _canon_dim(dim, nd + 1, "stack")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {tuple(ref)} at entry 0 and "
                               f"{tuple(t._data.shape)} at entry {i}")
    dt = _common_dtype(tensors)
    out = np.stack([t._data for t in tensors], axis=d, dtype=dt)
    if _mode.enabled and any(t._requires_grad for t in tensors):
        def bw(g):
            idx = [slice(None)] * (nd + 1)
            res = []
            for i, t in enumerate(tensors):
                if t._requires_grad:
                    idx[d] = i
                    res.append(g[tuple(idx)])
                else:
                    res.append(None)
            return res
        return _make(out, tuple(tensors), bw, "Stack")
    return _wrap(out)


def hstack(tensors):
    tensors = _check_tensor_list(tensors, "hstack")
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    tensors = [t if t._data.ndim >= 2 else t.reshape(1, -1) for t in _check_tensor_list(tensors, "vstack")]
    return cat(tensors, 0)


def split(tensor, split_size_or_sections, dim=0):
    nd = tensor._data.ndim
    d = _canon_dim(dim, nd, "split")
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (builtins.int, np.integer)):
        s = builtins.int(split_size_or_sections)
        if s <= 0 and n > 0:
            raise RuntimeError(f"split: split_size must be positive, got {s}")
        sizes = [builtins.min(s, n - i) for i in range(0, n, s)] if n else [0]
    else:
        sizes = [builtins.int(x) for x in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split: split_sizes {sizes} must sum to the size of dim {d} ({n})")
    if _mode.enabled and tensor._requires_grad and len(sizes) > 1:
        return _split_recorded(tensor, sizes, d)
    out = []
    start = 0
    idx = [slice(None)] * nd
    for s in sizes:
        idx[d] = slice(start, start + s)
        out.append(tensor[tuple(idx)])
        start += s
    return tuple(out)


def _split_recorded(tensor, sizes, d):
    """split's pieces as the outputs of one node whose backward concatenates their gradients (pieces without
    one get zeros): one pass over the input's gradient, instead of a zero-filled full-size gradient per piece
    added together (attention's q, k, v chunks of the packed input projection)."""
    a = tensor._data
    xp = _xp(a)
    idx = [slice(None)] * a.ndim
    parts = []
    start = 0
    for s in sizes:
        idx[d] = slice(start, start + s)
        parts.append(a[tuple(idx)])
        start += s

    def bw(*grads):
        if _mode.enabled:
            return (cat(grads, d),)
        return (_wrap(xp.concatenate([g._data for g in grads], axis=d, out=backend.out_like(a))),)

    node = Node(bw, (tensor,), "Split", n_outputs=len(parts), out_meta=[(p.shape, p.dtype, xp) for p in parts])
    out = []
    for k, p in enumerate(parts):
        t = _wrap(p)
        t.grad_fn = node
        t._out_idx = k
        t._requires_grad = True
        out.append(t)
    return tuple(out)


def tensor_split(input, indices_or_sections, dim=0):
    n = input._data.shape[_canon_dim(dim, input._data.ndim, "tensor_split")]
    if isinstance(indices_or_sections, (builtins.int, np.integer)):
        k = builtins.int(indices_or_sections)
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
    else:
        bounds = [0] + [builtins.min(builtins.max(builtins.int(i), 0), n) for i in indices_or_sections] + [n]
        sizes = [builtins.max(b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])]
    return split(input, sizes, dim)


def chunk(input, chunks, dim=0):
    if not isinstance(chunks, (builtins.int, np.integer)) or chunks <= 0:
        raise RuntimeError(f"chunk: argument 'chunks' must be a positive int, got {chunks!r}")
    n = input._data.shape[_canon_dim(dim, input._data.ndim, "chunk")]
    size = -(-n // builtins.int(chunks)) if n else 1
    return split(input, builtins.max(size, 1), dim)


def unbind(input, dim=0):
    nd = input._data.ndim
    d = _canon_dim(dim, nd, "unbind")
    idx = [slice(None)] * nd
    out = []
    for i in range(input._data.shape[d]):
        idx[d] = i
        out.append(input[tuple(idx)])
    return tuple(out)


def narrow(input, dim, start, length):
    nd = input._data.ndim
    d = _canon_dim(dim, nd, "narrow")
    n = input._data.shape[d]
    if start < 0:
        start += n
    if start < 0 or start + length > n or length < 0:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n})")
    idx = [slice(None)] * nd
    idx[d] = slice(start, start + length)
    return input[tuple(idx)]


def select(input, dim, index):
    nd = input._data.ndim
    d = _canon_dim(dim, nd, "select")
    n = input._data.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {tuple(input.shape)} at dimension {d}")
    idx = [slice(None)] * nd
    idx[d] = index
    return input[tuple(idx)]


# ---------------------------------------------------------------------------- indexing

def _check_device_bounds(pairs, op):
    """Raise IndexError when an integer index array leaves [-size, size). numpy raises by itself; cupy wraps
    such indices around (and scatters to the wrapped place), so on a device every (index array, size, dim)
    pair is tested together on the device, with one synchronisation."""
    bad = None
    for ia, n, _ in pairs:
        if ia.size == 0:
            continue
        b = (ia >= n).any() if ia.dtype.kind == "u" else ((ia < -n) | (ia >= n)).any()
        bad = b if bad is None else bad | b
    if bad is None or not builtins.bool(bad):
        return
    for ia, n, d in pairs:
        lo, hi = (builtins.int(ia.min()), builtins.int(ia.max())) if ia.size else (0, 0)
        if lo < -n or hi >= n:
            v = lo if lo < -n else hi
            raise IndexError(f"{op}: index {v} is out of bounds for dimension {d} with size {n}")


def _check_dim_index(ia, shape, d, op):
    """On a device, IndexError when index array ``ia`` leaves dimension ``d`` of ``shape`` (a 0-d shape
    counts as size 1); numpy makes that check itself."""
    if ia.__class__ is not _ndarray:
        _check_device_bounds([(ia, shape[d] if len(shape) else 1, d)], op)


def _check_advanced_bounds(nidx, shape, op):
    """Bounds of the integer index arrays of a normalised index on a device array of ``shape``."""
    if not isinstance(nidx, tuple):
        nidx = (nidx,)
    # dims taken by the items before an Ellipsis, so that the ones after it line up from the end
    taken = builtins.sum(1 if not hasattr(it, "ndim") else it.ndim if it.dtype.kind == "b" else 1
                         for it in nidx if it is not None and it is not Ellipsis and not isinstance(it, builtins.bool))
    pairs = []
    d = 0
    for it in nidx:
        if it is Ellipsis:
            d += len(shape) - taken
        elif it is None or isinstance(it, builtins.bool):
            continue
        elif hasattr(it, "ndim") and it.dtype.kind == "b":
            d += it.ndim
        else:
            if hasattr(it, "ndim") and d < len(shape):
                pairs.append((it, shape[d], d))
            d += 1
    if pairs:
        _check_device_bounds(pairs, op)


def _norm_index(idx, like):
    """Convert an index to numpy terms, index arrays on the device of array ``like``; returns (index, advanced)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    out = []
    advanced = False
    for k, it in enumerate(items):
        if it is None or it is Ellipsis or isinstance(it, slice):
            if isinstance(it, slice) and any(isinstance(v, Tensor) for v in (it.start, it.stop, it.step)):
                it = slice(*(v.item() if isinstance(v, Tensor) else v for v in (it.start, it.stop, it.step)))
            out.append(it)
        elif isinstance(it, builtins.bool):
            out.append(it)
            advanced = True
        elif isinstance(it, (builtins.int, np.integer)):
            out.append(builtins.int(it))
        elif isinstance(it, (Tensor, np.ndarray, list)) or backend.is_cuda_array(it):
            a = it._data if isinstance(it, Tensor) else it if hasattr(it, "dtype") else np.asarray(it)
            if a.dtype.kind == "b":
                pass
            elif a.dtype.kind in "iu":
                if isinstance(it, Tensor) and a.ndim == 0:
                    out.append(builtins.int(a))
                    continue
            elif a.size == 0 and isinstance(it, list):
                a = a.astype(np.int64)
            else:
                raise IndexError(f"tensors used as indices must be long, int or bool tensors; index {k} has dtype "
                                 f"{a.dtype}")
            if a.__class__ is not like.__class__:
                a = _on_device_of(like, a)
            out.append(a)
            advanced = True
        else:
            raise TypeError(f"index {k}: only integers, slices (':'), ellipsis ('...'), None and long or bool "
                            f"tensors are valid indices, got {type(it).__name__}")
    return tuple(out), advanced


def _getitem(self, idx):
    t = type(idx)
    a = self._data
    if t is builtins.int or t is slice:
        nidx, advanced = idx, False
    else:
        nidx, advanced = _norm_index(idx, a)
        if advanced and a.__class__ is not _ndarray:
            _check_advanced_bounds(nidx, a.shape, "index")
    try:
        out = a[nidx]
    except IndexError as e:
        raise IndexError(f"index {idx!r} is out of bounds for tensor of shape {tuple(a.shape)}: {e}") from None
    if out.__class__ is not a.__class__ and a.__class__ is not _ndarray:
        out = _on_device_of(a, out)     # a numpy scalar when every dim is indexed by an int
    if _mode.enabled and self._requires_grad:
        shape = a.shape
        return _make(out, (self,), lambda g: (_index_scatter(g, shape, nidx, advanced),), "Index")
    return _wrap(out)


# dtypes cupy's add.at takes (its scatter kernel is built on atomicAdd); numpy's takes any
_DEVICE_ADD_AT_DTYPES = frozenset(np.dtype(t) for t in ("int32", "int64", "uint32", "uint64", "float16", "float32",
                                                        "float64"))


def _add_at(out, idx, v):
    """``np.add.at(out, idx, v)``: ``v`` added at ``idx`` in place, repeated indices accumulating. On a device,
    bool and 8/16-bit integer arrays accumulate in int64 and are cast back, which wraps 8/16-bit integers and
    keeps a bool True once anything was added, as numpy's add on the narrow dtype does."""
    if out.__class__ is _ndarray or out.dtype in _DEVICE_ADD_AT_DTYPES:
        np.add.at(out, idx, v)
        return
    wide = out.astype(np.int64)
    np.add.at(wide, idx, v.astype(np.int64, copy=False) if hasattr(v, "astype") else v)
    out[...] = wide.astype(out.dtype, copy=False)


def _index_scatter(g, shape, nidx, advanced):
    """zeros(shape) with ``g`` added at ``nidx`` (repeated indices accumulate); differentiable in g."""
    gd = g._data
    out = _xp(gd).zeros(shape, dtype=gd.dtype)
    if advanced:
        _add_at(out, nidx, gd)
    else:
        out[nidx] = gd
    if _mode.enabled and g._requires_grad:
        return _make(out, (g,), lambda gg: (gg[nidx],), "IndexPutBackward")
    return _wrap(out)


_SCALARS = (builtins.bool, builtins.int, builtins.float, np.generic)


def _setitem(self, idx, value):
    sd = self._data
    nidx, advanced = _norm_index(idx, sd)
    if advanced and sd.__class__ is not _ndarray:
        _check_advanced_bounds(nidx, sd.shape, "__setitem__")
    if isinstance(value, Tensor):
        v = value._data
        vt = value
        if v.__class__ is not sd.__class__:
            # like PyTorch, a 0-d CPU tensor may be assigned into a tensor on another device
            if v.ndim == 0 and backend.device_of(v) == backend.CPU and not value._requires_grad:
                v = _on_device_of(sd, v)
                vt = _wrap(v)
            else:
                backend.check_same_device(sd, v, "__setitem__")
    else:
        v = value
        vt = None
        if sd.__class__ is not _ndarray and not isinstance(v, _SCALARS):
            v = _array_on(sd, v)
    if _mode.enabled and (self._requires_grad or (vt is not None and vt._requires_grad)):
        self._check_inplace()
        if vt is None:
            vt = _wrap(_array_on(sd, v, sd.dtype))
        _inplace_op(self, lambda old: _index_put(old, nidx, vt))
        return
    try:
        self._data[nidx] = v
    except ValueError as e:
        raise RuntimeError(f"__setitem__: value of shape {tuple(np.shape(v))} cannot be assigned to the indexed "
                           f"region of a tensor of shape {tuple(self.shape)}: {e}") from None
    self._version += 1


def _index_put(x, nidx, v):
    out = x._data.copy()
    out[nidx] = v._data
    mask = _filled(out, out.shape, 1, out.dtype)
    mask[nidx] = 0

    def bw(g):
        gx = g * _wrap(mask) if x._requires_grad else None
        gv = g[nidx] if v._requires_grad else None
        return gx, gv
    return _make(out, (x, v), bw, "IndexPut")


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem


def index_select(input, dim, index):
    d = _canon_dim(dim, input._data.ndim, "index_select")
    ia = _index_array(index, input._data)
    if ia.dtype.kind not in "iu":
        raise TypeError(f"index_select: argument 'index' must be an integer tensor, got {ia.dtype}")
    if ia.ndim > 1:
        raise RuntimeError(f"index_select: argument 'index' must be 0-D or 1-D, got shape {tuple(ia.shape)}")
    return input[(slice(None),) * d + (ia.reshape(-1),)]


def masked_select(input, mask):
    m = _index_array(mask, input._data)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: argument 'mask' must be a bool tensor, got {m.dtype}")
    shape = np.broadcast_shapes(input._data.shape, m.shape)
    return expand(input, shape)[np.broadcast_to(m, shape)]


def _full_index(index_arr, dim, ndim):
    """Index tuple selecting, at every position of ``index_arr``, element index_arr[...] along ``dim``."""
    xp = _xp(index_arr)
    idx = []
    for k in range(ndim):
        if k == dim:
            idx.append(index_arr)
        else:
            shp = [1] * ndim
            shp[k] = index_arr.shape[k]
            idx.append(xp.arange(index_arr.shape[k]).reshape(shp))
    return tuple(idx)


def _check_index(index, op, input_nd, like):
    ia = _index_array(index, like)
    if ia.dtype.kind not in "iu":
        raise TypeError(f"{op}: argument 'index' must be an int64 tensor, got {ia.dtype}")
    if ia.ndim != input_nd and not (ia.ndim <= 1 and input_nd <= 1):
        raise RuntimeError(f"{op}: index tensor must have the same number of dimensions as input tensor "
                           f"({ia.ndim} vs {input_nd})")
    return ia


def _check_scatter_index(op, ia, d, a, src):
    """PyTorch's rule for scatter: index no larger than src anywhere and than input apart from ``dim``, and
    its values within input's size along ``dim``."""
    for k in range(ia.ndim):
        if (k != d and ia.shape[k] > a.shape[k]) or (src is not None and ia.shape[k] > src.shape[k]):
            raise RuntimeError(f"{op}: Expected index {tuple(ia.shape)} to be smaller than self {tuple(a.shape)} "
                               f"apart from dimension {d}" + ("" if src is None else
                                                             f" and to be smaller size than src {tuple(src.shape)}"))
    _check_dim_index(ia, a.shape, d, op)


def gather(input, dim, index, *, sparse_grad=False):
    a = input._data
    nd = a.ndim
    d = _canon_dim(dim, nd, "gather")
    ia = _check_index(index, "gather", nd, a)
    if nd == 0:
        return input.clone()
    for k in range(nd):
        if k != d and ia.shape[k] > a.shape[k]:
            raise RuntimeError(f"gather: size of 'index' {tuple(ia.shape)} does not fit the input's shape "
                               f"{tuple(a.shape)} at dimension {k}")
    if ia.size and (ia.min() < -a.shape[d] or ia.max() >= a.shape[d]):
        raise IndexError(f"gather: index out of range for dimension {d} of size {a.shape[d]}")
    fidx = _full_index(ia, d, nd)
    out = a[fidx]
    if _mode.enabled and input._requires_grad:
        shape = a.shape
        return _make(out, (input,), lambda g: (_index_scatter(g, shape, fidx, True),), "Gather")
    return _wrap(out)


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    d = _canon_dim(dim, input._data.ndim, "take_along_dim")
    ia = _index_array(indices, input._data)
    shape = list(np.broadcast_shapes(tuple(s if k != d else 1 for k, s in enumerate(input._data.shape)),
                                     tuple(s if k != d else 1 for k, s in enumerate(ia.shape))))
    xs = list(shape)
    xs[d] = input._data.shape[d]
    shape[d] = ia.shape[d]
    return gather(expand(input, xs), d, np.broadcast_to(ia, shape))


def scatter_add(input, dim, index, src):
    a = input._data
    nd = a.ndim
    d = _canon_dim(dim, nd, "scatter_add")
    ia = _check_index(index, "scatter_add", nd, a)
    if not isinstance(src, Tensor):
        src = _as_tensor_like(src, input)
    sd = src._data
    _check_scatter_index("scatter_add", ia, d, a, sd)
    fidx = _full_index(ia, d, nd)
    out = a.copy()
    _add_at(out, fidx, sd[tuple(slice(0, s) for s in ia.shape)].astype(a.dtype, copy=False))
    if _mode.enabled and (input._requires_grad or src._requires_grad):
        ssh = sd.shape

        def bw(g):
            gs = None
            if src._requires_grad:
                gs = g[fidx]
                if gs._data.shape != ssh:
                    gs = _index_scatter(gs, ssh, tuple(slice(0, s) for s in ia.shape), False)
            return g, gs
        return _make(out, (input, src), bw, "ScatterAdd")
    return _wrap(out)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    a = input._data
    nd = a.ndim
    d = _canon_dim(dim, nd, "scatter")
    ia = _check_index(index, "scatter", nd, a)
    if src is None and value is None:
        raise TypeError("scatter: one of 'src' or 'value' is required")
    if src is not None and not isinstance(src, Tensor):
        value, src = src, None
    _check_scatter_index("scatter", ia, d, a, None if src is None else src._data)
    fidx = _full_index(ia, d, nd)
    if src is not None:
        v = src._data[tuple(slice(0, s) for s in ia.shape)]
    else:
        v = value
    out = a.copy()
    if reduce is None:
        out[fidx] = v
    elif reduce == "add":
        _add_at(out, fidx, v)
    elif reduce == "multiply":
        if out.__class__ is _ndarray:
            np.multiply.at(out, fidx, v)
        else:
            # cupy has no multiply.at: done on the host, copies made explicitly
            host = backend.to_device(out, backend.CPU)
            np.multiply.at(host, tuple(backend.to_device(i, backend.CPU) for i in fidx),
                           backend.to_device(v, backend.CPU) if hasattr(v, "shape") else v)
            out = _on_device_of(a, host)
    else:
        raise ValueError(f"scatter: argument 'reduce' must be None, 'add' or 'multiply', got {reduce!r}")
    if _mode.enabled and reduce is None and (input._requires_grad or (src is not None and src._requires_grad)):
        mask = _filled(a, a.shape, 1, a.dtype)
        mask[fidx] = 0
        ssh = src._data.shape if src is not None else None

        def bw(g):
            gx = g * _wrap(mask) if input._requires_grad else None
            gs = None
            if src is not None and src._requires_grad:
                gs = g[fidx]
                if gs._data.shape != ssh:
                    gs = _index_scatter(gs, ssh, tuple(slice(0, s) for s in ia.shape), False)
            return gx, gs
        return _make(out, (input, src), bw, "Scatter")
    return _wrap(out)


def index_add(input, dim, index, source, *, alpha=1):
    d = _canon_dim(dim, input._data.ndim, "index_add")
    ia = _index_array(index, input._data)
    if ia.dtype.kind not in "iu" or ia.ndim > 1:
        raise TypeError(f"index_add: argument 'index' must be a 1-D integer tensor, got {ia.dtype} {ia.shape}")
    _check_dim_index(ia, input._data.shape, d, "index_add")
    if alpha != 1:
        source = source * alpha
    out = input._data.copy()
    sl = (slice(None),) * d + (ia.reshape(-1),)
    _add_at(out, sl, source._data)
    if _mode.enabled and (input._requires_grad or source._requires_grad):
        return _make(out, (input, source), lambda g: (g, g[sl] if source._requires_grad else None), "IndexAdd")
    return _wrap(out)


def masked_fill(input, mask, value):
    a = input._data
    m = mask._data if isinstance(mask, Tensor) else mask
    if m.__class__ is not a.__class__:
        m = _array_on(a, m)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: argument 'mask' must be a bool tensor, got {m.dtype}")
    vt = value if isinstance(value, Tensor) else None
    if vt is not None:
        if vt._data.ndim != 0:
            raise RuntimeError(f"masked_fill: only supports a 0-dimensional 'value' tensor, got shape "
                               f"{tuple(vt.shape)}")
        v = _on_device_of(a, vt._data.astype(a.dtype))
    elif a.dtype.kind == "f" and isinstance(value, float):
        v = a.dtype.type(value)
    else:
        v = _scalar_operand(a, value, a.dtype)
    try:
        out = np.where(m, v, a)
    except ValueError:
        raise RuntimeError(f"masked_fill: mask of shape {tuple(m.shape)} cannot be broadcast to the input's shape "
                           f"{tuple(a.shape)}") from None
    if out.shape != a.shape:
        raise RuntimeError(f"masked_fill: mask of shape {tuple(m.shape)} cannot be broadcast to the input's shape "
                           f"{tuple(a.shape)}")
    if _mode.enabled and (input._requires_grad or (vt is not None and vt._requires_grad)):
        def bw(g):
            gx = masked_fill(g, m, 0.0) if input._requires_grad else None
            gv = None
            if vt is not None and vt._requires_grad:
                gv = where(_wrap(np.broadcast_to(m, g._data.shape)), g, 0.0).sum()
            return gx, gv
        return _make(out, (input, vt), bw, "MaskedFill")
    return _wrap(out)


def _is_array(v):
    return isinstance(v, np.ndarray) or backend.is_cuda_array(v)


def where(condition, input=None, other=None):
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    xt = input if isinstance(input, Tensor) else None
    yt = other if isinstance(other, Tensor) else None
    _check_same_device([t for t in (condition, xt, yt) if isinstance(t, Tensor)], "where")
    c = condition._data if isinstance(condition, Tensor) else condition
    ref = xt._data if xt is not None else yt._data if yt is not None else None
    if ref is None:
        if not hasattr(c, "dtype"):
            c = np.asarray(c)
    elif c.__class__ is not ref.__class__:
        c = _array_on(ref, c)
    if c.dtype != np.bool_:
        c = c.astype(bool)
    if xt is None and yt is None:
        xt = _wrap(_array_on(c, input, _dt.scalar_result(_dt.bool, input)))
    if xt is not None and yt is not None:
        xd, yd = xt._data, yt._data
        if xd.dtype != yd.dtype:
            r = _dt.promote(xd.dtype, xd.ndim > 0, yd.dtype, yd.ndim > 0)
            xd, yd = xd.astype(r), yd.astype(r)
    elif xt is not None:
        arr = _is_array(other)
        r = xt._data.dtype if arr else _dt.scalar_result(xt._data.dtype, other)
        xd = xt._data.astype(r, copy=False)
        yd = _array_on(xd, other, r) if arr else _scalar_operand(xd, other, r)
    else:
        arr = _is_array(input)
        r = yt._data.dtype if arr else _dt.scalar_result(yt._data.dtype, input)
        yd = yt._data.astype(r, copy=False)
        xd = _array_on(yd, input, r) if arr else _scalar_operand(yd, input, r)
    try:
        out = np.where(c, xd, yd)
    except ValueError:
        raise RuntimeError(f"where: shapes of 'condition' {tuple(c.shape)}, 'input' {tuple(np.shape(xd))} and "
                           f"'other' {tuple(np.shape(yd))} cannot be broadcast together") from None
    if _mode.enabled and ((xt is not None and xt._requires_grad) or (yt is not None and yt._requires_grad)):
        ct = _wrap(c)

        def bw(g):
            gx = where(ct, g, 0.0) if xt is not None and xt._requires_grad else None
            gy = where(ct, 0.0, g) if yt is not None and yt._requires_grad else None
            return gx, gy
        return _make(out, (xt, yt), bw, "Where")
    return _wrap(out)


def nonzero(input, *, as_tuple=False):
    a = input._data
    nz = np.nonzero(a) if a.ndim > 0 else np.nonzero(a.reshape(1))
    if as_tuple:
        return tuple(_wrap(i.astype(np.int64)) for i in nz)
    return _wrap(np.stack(nz, axis=1).astype(np.int64) if nz else _filled(a, (0, 0), 0, np.int64))


def argwhere(input):
    return nonzero(input)


def flip(input, dims):
    nd = input._data.ndim
    dims = (dims,) if isinstance(dims, (builtins.int, np.integer)) else tuple(dims)
    dims = tuple(_canon_dim(d, nd, "flip", "dims") for d in dims)
    out = _on_device_of(input._data, np.flip(input._data, dims).copy())
    if _mode.enabled and input._requires_grad:
        return _make(out, (input,), lambda g: (flip(g, dims),), "Flip")
    return _wrap(out)


def fliplr(input):
    return flip(input, 1)


def flipud(input):
    return flip(input, 0)


def roll(input, shifts, dims=None):
    if dims is None:
        sh = input._data.shape
        return roll(input.reshape(-1), shifts, 0).reshape(sh)
    shifts_t = (shifts,) if isinstance(shifts, (builtins.int, np.integer)) else tuple(shifts)
    dims_t = (dims,) if isinstance(dims, (builtins.int, np.integer)) else tuple(dims)
    if len(shifts_t) != len(dims_t):
        raise RuntimeError(f"roll: 'shifts' and 'dims' must have the same length, got {len(shifts_t)} and {len(dims_t)}")
    dims_t = tuple(_canon_dim(d, input._data.ndim, "roll", "dims") for d in dims_t)
    out = np.roll(input._data, shifts_t, dims_t)
    if _mode.enabled and input._requires_grad:
        neg = tuple(-s for s in shifts_t)
        return _make(out, (input,), lambda g: (roll(g, neg, dims_t),), "Roll")
    return _wrap(out)


def _tri(name, npfn):
    def op(input, diagonal=0):
        if input._data.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got {input._data.ndim}")
        out = npfn(input._data, diagonal)
        if _mode.enabled and input._requires_grad:
            return _make(out, (input,), lambda g: (op(g, diagonal),), name.capitalize())
        return _wrap(out)
    op.__name__ = name
    return op


tril = _tri("tril", np.tril)
triu = _tri("triu", np.triu)


def _diag_indices(shape, offset, like):
    """Row and column indices of diagonal ``offset`` of a (..., n, m) array, on the device of array ``like``."""
    xp = _xp(like)
    n, m = shape[-2], shape[-1]
    if offset >= 0:
        k = builtins.max(0, builtins.min(n, m - offset))
        return xp.arange(k), xp.arange(k) + offset
    k = builtins.max(0, builtins.min(n + offset, m))
    return xp.arange(k) - offset, xp.arange(k)


def diagonal(input, offset=0, dim1=0, dim2=1):
    nd = input._data.ndim
    if nd < 2:
        raise RuntimeError(f"diagonal: input must have at least 2 dimensions, got {nd}")
    x = movedim(input, (dim1, dim2), (-2, -1))
    r, c = _diag_indices(x._data.shape, offset, x._data)
    return x[..., r, c]


def diag(input, diagonal=0):
    a = input._data
    if a.ndim == 1:
        n = a.shape[0] + abs(diagonal)
        r, c = _diag_indices((n, n), diagonal, a)
        return _index_scatter(input, (n, n), (r, c), True) if input._requires_grad and _mode.enabled else \
            _wrap(np.diag(a, diagonal))
    if a.ndim == 2:
        r, c = _diag_indices(a.shape, diagonal, a)
        return input[r, c]
    raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got {a.ndim}-D")


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    a = input._data
    n = a.shape[-1] + abs(offset)
    r, c = _diag_indices((n, n), offset, a)
    shape = a.shape[:-1] + (n, n)
    if _mode.enabled and input._requires_grad:
        out = _index_scatter(input, shape, (Ellipsis, r, c), True)
    else:
        o = _xp(a).zeros(shape, dtype=a.dtype)
        o[..., r, c] = a
        out = _wrap(o)
    if (dim1, dim2) != (-2, -1):
        out = movedim(out, (-2, -1), (dim1, dim2))
    return out


def repeat_interleave(input, repeats, dim=None):
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    d = _canon_dim(dim, input._data.ndim, "repeat_interleave")
    n = input._data.shape[d]
    r = repeats._data if isinstance(repeats, Tensor) else repeats
    if hasattr(r, "shape"):
        r = backend.to_device(r, backend.CPU)      # the counts fix the output's size: read back once
    idx = np.repeat(np.arange(n), r)
    return index_select(input, d, idx)


def unfold(input, dimension, size, step):
    d = _canon_dim(dimension, input._data.ndim, "unfold")
    n = input._data.shape[d]
    starts = np.arange(0, n - size + 1, step)
    idx = starts[:, None] + np.arange(size)[None, :]
    x = movedim(input, d, -1)
    out = x[..., idx]                    # (..., windows, size)
    return movedim(out, -2, d)


def _attach():
    names = ["reshape", "view", "view_as", "reshape_as", "flatten", "unflatten", "ravel", "permute", "transpose",
             "swapaxes", "swapdims", "t", "movedim", "moveaxis", "squeeze", "unsqueeze", "expand", "expand_as",
             "broadcast_to", "repeat", "tile", "split", "tensor_split", "chunk", "unbind", "narrow", "select",
             "index_select", "masked_select", "gather", "take_along_dim", "scatter_add", "scatter", "index_add",
             "masked_fill", "where", "nonzero", "argwhere", "flip", "fliplr", "flipud", "roll", "tril", "triu",
             "diagonal", "diag", "diag_embed", "repeat_interleave", "unfold"]
    g = globals()
    for n in names:
        setattr(Tensor, n, g[n])
    Tensor.T = property(_T)
    Tensor.mT = property(_mT)
    Tensor.H = property(_T)
    Tensor.mH = property(_mT)

    def _where_method(self, condition, other):
        return where(condition, self, other)
    Tensor.where = _where_method

    def _inplace(fn):
        def m(self, *args, **kwargs):
            return self._unary_inplace(lambda s: fn(s, *args, **kwargs))
        m.__name__ = fn.__name__ + "_"
        return m
    for n in ["masked_fill", "scatter_add", "scatter", "index_add", "tril", "triu"]:
        setattr(Tensor, n + "_", _inplace(g[n]))

    def squeeze_(self, dim=None):
        return _reshape_inplace(self, lambda s: squeeze(s, dim))

    def unsqueeze_(self, dim):
        return _reshape_inplace(self, lambda s: unsqueeze(s, dim))

    def t_(self):
        return _reshape_inplace(self, t)

    def transpose_(self, d0, d1):
        return _reshape_inplace(self, lambda s: transpose(s, d0, d1))
    Tensor.squeeze_ = squeeze_
    Tensor.unsqueeze_ = unsqueeze_
    Tensor.t_ = t_
    Tensor.transpose_ = transpose_


def _reshape_inplace(self, op):
    if _mode.enabled and self._requires_grad:
        return _inplace_op(self, op, reshape=True)
    self._data = op(self)._data
    return self


_attach()
