"""An HDF5 store for prepared data sets: ``save_h5`` writes arrays, ``H5Dataset`` reads samples lazily.

Float arrays are stored in a compact dtype (float16 by default: half the size of float32, with a
relative precision of 2**-11, ample for pixel values) and converted back on reading. Files are
written under a temporary name and renamed, so a crash never leaves a half-written store where a
good one was. h5py is an optional dependency (``pip install h5py`` or ``pip install fastnn[data]``).
"""
from __future__ import annotations

import collections
import numbers
import os

import numpy as np

from .._atomic import atomic_path
from . import _arrays
from .dataset import Dataset

__all__ = ["save_h5", "H5Dataset"]

_CHUNK_BYTES = 64 * 1024  # a chunk is read whole: small enough that random sample access stays cheap


def _h5py(what):
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(f"{what} needs h5py, an optional dependency: pip install h5py "
                          "(or pip install fastnn[data])") from exc
    return h5py


def _chunk_shape(shape, itemsize):
    """Whole samples per chunk, about ``_CHUNK_BYTES`` each."""
    if len(shape) == 0 or shape[0] == 0:
        return None
    per_sample = int(np.prod(shape[1:], dtype=np.int64)) * itemsize or 1
    rows = int(max(1, min(shape[0], _CHUNK_BYTES // per_sample)))
    return (rows,) + tuple(int(s) if s > 0 else 1 for s in shape[1:])


def save_h5(path, dtype="float16", compression="gzip", chunks=True, compression_opts=None, **arrays):
    """Write ``arrays`` (name=array keyword arguments: numpy arrays or Tensors) to the HDF5 file
    ``path`` and return ``path``.

    Floating-point arrays are stored as ``dtype`` ("float16", "float32", "float64", or None to keep
    their own); integer and boolean arrays (labels) are stored as they are. ``chunks=True`` cuts
    each array into chunks of whole samples (about 64 KiB), which is what lazy reading by sample
    needs; ``chunks`` may also be an explicit shape (used for the arrays of that rank, the others
    get the automatic one), a dict of shapes by array name, or None/False for contiguous storage
    (without compression). ``compression`` is "gzip" (level ``compression_opts``, default 4), "lzf" or None.
    The file is written under a temporary name in the same folder, then renamed over ``path``.
    """
    h5py = _h5py("save_h5")
    if not arrays:
        raise ValueError("save_h5: give at least one array as a keyword argument, "
                         "e.g. save_h5(path, x=images, y=labels)")
    store_dtype = None if dtype is None else np.dtype(dtype)
    if store_dtype is not None and store_dtype.kind != "f":
        raise TypeError(f"save_h5: argument 'dtype' must be a floating-point dtype or None, got {dtype!r}")
    if compression not in (None, "gzip", "lzf"):
        raise ValueError(f"save_h5: argument 'compression' must be 'gzip', 'lzf' or None, got {compression!r}")
    if compression is not None and chunks in (None, False):
        raise ValueError("save_h5: compression needs chunked storage; pass chunks=True or a chunk shape")
    prepared = {}
    for name, value in arrays.items():
        a = np.ascontiguousarray(_arrays.to_numpy(value, name))
        if a.dtype.kind not in "biuf":
            raise TypeError(f"save_h5: array '{name}' must hold numbers, got dtype {a.dtype}")
        if a.dtype.kind == "f" and store_dtype is not None:
            if store_dtype.itemsize < a.dtype.itemsize:
                finfo = np.finfo(store_dtype)
                big = np.abs(a[np.isfinite(a)]).max(initial=0.0)
                if big > finfo.max:
                    raise ValueError(f"save_h5: array '{name}' holds values up to {big:g}, beyond {store_dtype}'s "
                                     f"range ({finfo.max:g}); scale it or store it with a wider dtype")
            a = a.astype(store_dtype)
        prepared[name] = a
    path = os.fspath(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for name, a in prepared.items():
                ch = chunks.get(name, True) if isinstance(chunks, dict) else chunks
                if ch is True or (ch not in (None, False) and len(ch) != a.ndim):
                    ch = _chunk_shape(a.shape, a.dtype.itemsize)
                elif ch in (None, False):
                    ch = None
                else:
                    ch = tuple(int(v) for v in ch)
                kwargs = {}
                if ch is not None and a.size:
                    kwargs["chunks"] = ch
                    if compression is not None:
                        kwargs["compression"] = compression
                        if compression == "gzip":
                            kwargs["compression_opts"] = 4 if compression_opts is None else compression_opts
                        kwargs["shuffle"] = True  # byte shuffling makes float arrays compress much better
                f.create_dataset(name, data=a, **kwargs)
    return path


class H5Dataset(Dataset):
    """Samples read lazily from an HDF5 file written by ``save_h5``: ``dataset[i]`` is
    ``(x[i], y[i])`` as Tensors (``x`` converted to ``dtype``, ``transform`` applied), or ``x[i]``
    alone when ``y_key`` is None.

    Indexing with a slice or an array of indices returns a whole batch at once, which is what
    ``DataLoader`` uses, so a batch costs one read rather than one per sample. The file is opened
    on first access in each process (a copy sent to a worker process reopens it); ``close()`` or a
    ``with`` block releases it. Reads go through a cache of whole chunks of at most ``cache_bytes``
    (default 128 MiB) per process: a stored set that fits is decompressed once, not once per epoch.
    """

    def __init__(self, path, x_key="x", y_key="y", transform=None, target_transform=None, dtype=np.float32,
                 cache_bytes=128 * 1024 * 1024):
        self._h5 = _h5py("H5Dataset")
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"H5Dataset: no file at {self.path!r}")
        self.x_key, self.y_key = x_key, y_key
        self.transform, self.target_transform = transform, target_transform
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.cache_bytes = int(cache_bytes)
        self._file, self._pid = None, None
        self._cache, self._cached_bytes, self._rows = collections.OrderedDict(), 0, {}
        f = self._open()
        keys = sorted(f.keys())
        for arg, key in (("x_key", x_key), ("y_key", y_key)):
            if key is not None and key not in f:
                raise KeyError(f"H5Dataset: argument '{arg}' = {key!r} is not in {self.path}; it holds {keys}")
        self._len = int(f[x_key].shape[0])
        if y_key is not None and int(f[y_key].shape[0]) != self._len:
            raise ValueError(f"H5Dataset: '{x_key}' holds {self._len} samples but '{y_key}' holds "
                             f"{f[y_key].shape[0]}")
        self.sample_shape = tuple(f[x_key].shape[1:])
        self.stored_dtype = f[x_key].dtype
        self.close()  # reopened lazily, in whichever process reads

    def _open(self):
        if self._file is None or self._pid != os.getpid():
            self._file = self._h5.File(self.path, "r")
            self._pid = os.getpid()
            self._cache, self._cached_bytes, self._rows = collections.OrderedDict(), 0, {}
        return self._file

    def close(self):
        if self._file is not None and self._pid == os.getpid():
            try:
                self._file.close()
            except Exception:  # already closed by h5py at interpreter shutdown
                pass
        self._file, self._pid = None, None
        self._cache, self._cached_bytes = collections.OrderedDict(), 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, None
        state["_h5"] = None
        state["_cache"], state["_cached_bytes"] = collections.OrderedDict(), 0
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._h5 = _h5py("H5Dataset")

    def __len__(self):
        return self._len

    def _read(self, key, index):
        ds = self._open()[key]
        if isinstance(index, slice):
            return ds[index]
        # Samples are gathered from whole chunks kept in a bounded cache: a shuffled batch touches
        # about one chunk per sample, and reading each chunk once per process (rather than asking
        # h5py for scattered points) is what keeps shuffled epochs fast.
        uniq, inverse = np.unique(index, return_inverse=True)
        out = np.empty((uniq.size,) + ds.shape[1:], dtype=ds.dtype)
        if uniq.size == 0:
            return out
        rows = self._rows_per_block(key, ds)
        blocks = uniq // rows
        starts = np.concatenate([[0], np.flatnonzero(np.diff(blocks)) + 1, [uniq.size]])
        for lo, hi in zip(starts[:-1].tolist(), starts[1:].tolist()):
            b = int(blocks[lo])
            out[lo:hi] = self._block(key, ds, b, rows)[uniq[lo:hi] - b * rows]
        return out[inverse.reshape(-1)]

    def _rows_per_block(self, key, ds):
        rows = self._rows.get(key)
        if rows is None:
            rows = ds.chunks[0] if ds.chunks else _chunk_shape(ds.shape, ds.dtype.itemsize)[0]
            self._rows[key] = rows
        return rows

    def _block(self, key, ds, b, rows):
        cache = self._cache
        got = cache.get((key, b))
        if got is not None:
            cache.move_to_end((key, b))
            return got
        block = ds[b * rows:(b + 1) * rows]
        cache[(key, b)] = block
        self._cached_bytes += block.nbytes
        while self._cached_bytes > self.cache_bytes and len(cache) > 1:
            _, old = cache.popitem(last=False)
            self._cached_bytes -= old.nbytes
        return block

    def _convert_x(self, x):
        if self.dtype is not None and x.dtype.kind == "f":
            x = x.astype(self.dtype, copy=False)
        if self.transform is not None:
            x = self.transform(x)
        return x if _arrays.is_tensor(x) else _arrays.wrap(np.ascontiguousarray(x))

    def _convert_y(self, y):
        if self.target_transform is not None:
            y = self.target_transform(y)
        # np.asarray keeps a single label 0-d (ascontiguousarray would make it shape (1,))
        if _arrays.is_tensor(y):
            return y
        return _arrays.wrap(np.asarray(y) if np.ndim(y) == 0 else np.ascontiguousarray(y))

    def _batch(self, index):
        x = self._convert_x(self._read(self.x_key, index))
        if self.y_key is None:
            return x
        return x, self._convert_y(self._read(self.y_key, index))

    def _fetch_batch(self, indices):
        return self._batch(np.asarray(indices, dtype=np.int64))

    def __getitem__(self, index):
        n = self._len
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step > 0:
                return self._batch(slice(start, stop, step))
            return self._batch(np.arange(start, stop, step, dtype=np.int64))  # h5py reads forwards only
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"H5Dataset: index {i} is out of range for {n} samples")
            i %= n
            one = np.array([i])  # through the chunk cache: per-sample reads do not decompress a chunk each
            x = self._convert_x(self._read(self.x_key, one)[0])
            if self.y_key is None:
                return x
            return x, self._convert_y(self._read(self.y_key, one)[0])
        idx = np.asarray(_arrays.to_numpy(index, "index"))
        if idx.dtype == np.bool_:
            if idx.shape != (n,):
                raise IndexError(f"H5Dataset: a boolean index must have shape ({n},), got {idx.shape}")
            idx = np.flatnonzero(idx)
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise IndexError(f"H5Dataset: index must be an int, a slice, or a 1-D array of ints, got "
                             f"{idx.dtype} of shape {idx.shape}")
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"H5Dataset: indices must lie in [-{n}, {n}), got min {idx.min()} and max {idx.max()}")
        return self._batch(np.where(idx < 0, idx + n, idx).astype(np.int64))

    def __repr__(self):
        return (f"H5Dataset({self.path!r}, x_key={self.x_key!r}, y_key={self.y_key!r}, samples={self._len}, "
                f"sample_shape={self.sample_shape}, stored as {self.stored_dtype})")
