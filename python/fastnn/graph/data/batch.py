"""Many graphs as one disconnected graph: ``torch_geometric.data.Batch``.

``Batch.from_data_list`` concatenates each attribute along ``__cat_dim__`` and adds
``__inc__`` offsets (node indices shift by the nodes of the graphs before), adds the ``batch``
vector (graph id of each node) and ``ptr`` (node offsets), and records the slices and offsets so
``get_example`` / ``to_data_list`` give the graphs back. The batch of a ``Data`` subclass ``D``
is an instance of ``DBatch`` (a subclass of both Batch and D), as in PyG.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .. import _arrays
from .data import Data


def _cumsum(sizes):
    return np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(np.int64)


def _is_array(value):
    return _arrays.is_tensor(value)


def _collate(key, values, data_list, increment):
    """(value, slices, incs) for one attribute over the graphs."""
    elem = values[0]
    if _is_array(elem):
        cat_dim = data_list[0].__cat_dim__(key, elem)
        if cat_dim is None or elem.dim() == 0:
            values = [v.unsqueeze(0) for v in values]
            cat_dim = 0
        slices = _cumsum([v.shape[cat_dim] for v in values])
        incs = None
        if increment:
            incs = _incs(key, values, data_list)
            if incs.ndim > 1 or incs[-1] != 0:
                values = [v + int(inc) if np.ndim(inc) == 0 else v + _arrays.tensor(inc, v)
                          for v, inc in zip(values, incs)]
        from ... import cat
        return cat(values, dim=cat_dim), slices, incs
    if isinstance(elem, (int, float)):  # bools stay bool, ints become int64, floats float32 (torch.tensor's rule)
        arr = np.asarray(values)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        incs = None
        if increment:
            incs = _incs(key, values, data_list)
            if incs[-1] != 0:
                arr = (arr + incs).astype(arr.dtype)
        return _arrays.tensor(arr), np.arange(len(values) + 1, dtype=np.int64), incs
    if isinstance(elem, Mapping):
        out, sl, inc = {}, {}, {}
        for k in elem.keys():
            out[k], sl[k], inc[k] = _collate(k, [v[k] for v in values], data_list, increment)
        return out, sl, inc
    if isinstance(elem, Sequence) and not isinstance(elem, str) and len(elem) > 0 and _is_array(elem[0]):
        parts = [_collate(key, [v[i] for v in values], data_list, increment) for i in range(len(elem))]
        return [p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts]
    return list(values), np.arange(len(values) + 1, dtype=np.int64), None


def _incs(key, values, data_list):
    repeats = [data.__inc__(key, value) for value, data in zip(values, data_list)]
    if _is_array(repeats[0]):
        repeats = np.stack([_arrays.host(r) for r in repeats])
    else:
        repeats = np.asarray(repeats, dtype=np.int64)
    return np.concatenate([np.zeros((1,) + repeats.shape[1:], repeats.dtype), np.cumsum(repeats[:-1], axis=0)])


def _separate(key, value, idx, slices, incs, batch):
    if _is_array(value):
        cat_dim = batch.__cat_dim__(key, value)
        start, end = int(slices[idx]), int(slices[idx + 1])
        out = value.narrow(cat_dim if cat_dim is not None else 0, start, end - start)
        if cat_dim is None:
            out = out.squeeze(0)
        if incs is not None and (np.ndim(incs) > 1 or incs[idx] != 0):
            inc = incs[idx]
            out = out - (int(inc) if np.ndim(inc) == 0 else _arrays.tensor(inc, out))
        return out
    if isinstance(value, Mapping):
        return {k: _separate(k, v, idx, slices[k], incs[k] if incs is not None else None, batch)
                for k, v in value.items()}
    if (isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 0 and _is_array(value[0])
            and isinstance(slices, list)):
        return [_separate(key, v, idx, slices[i], incs[i], batch) for i, v in enumerate(value)]
    return value[idx]


_BATCH_TYPES = {}


def _batch_type(base):
    if issubclass(base, Batch):
        return base
    cls = _BATCH_TYPES.get(base)
    if cls is None:
        cls = type(f"{base.__name__}Batch", (Batch, base), {"__module__": __name__})
        _BATCH_TYPES[base] = cls
    return cls


class Batch(Data):
    """A batch of graphs as one big disconnected graph, with the assignment vector ``batch``
    (graph of each node) and ``ptr`` (first node of each graph, plus the total)."""

    @classmethod
    def from_data_list(cls, data_list, follow_batch=None, exclude_keys=None):
        """Merge ``data_list`` into one batch; ``follow_batch`` names attributes that get their own
        ``<key>_batch`` / ``<key>_ptr`` vectors; ``exclude_keys`` are left out."""
        if not isinstance(data_list, (list, tuple)):
            data_list = list(data_list)
        if len(data_list) == 0:
            raise ValueError("Batch.from_data_list: argument 'data_list' is empty")
        for i, d in enumerate(data_list):
            if not isinstance(d, Data):
                raise TypeError(f"Batch.from_data_list: element {i} of 'data_list' must be a Data, "
                                f"got {type(d).__name__}")
        first = data_list[0]
        out_cls = _batch_type(first.__class__) if cls is Batch else cls
        out = out_cls.__new__(out_cls)
        out.__dict__["_store"] = {}
        follow_batch = set(follow_batch or [])
        exclude_keys = set(exclude_keys or [])
        slice_dict, inc_dict = {}, {}
        add_batch = not isinstance(first, Batch)
        for attr in first.keys():
            if attr in exclude_keys:
                continue
            try:
                values = [d[attr] for d in data_list]
            except KeyError:
                raise KeyError(f"Batch.from_data_list: attribute '{attr}' of the first graph is missing "
                               "from another graph") from None
            if attr == "num_nodes":
                out.__dict__["_num_nodes"] = list(values)
                out.num_nodes = sum(values)
                continue
            if attr == "ptr":
                continue
            value, slices, incs = _collate(attr, values, data_list, increment=True)
            out[attr] = value
            slice_dict[attr] = slices
            inc_dict[attr] = incs
            if attr in follow_batch and isinstance(slices, np.ndarray):
                repeats = np.diff(slices)
                out[f"{attr}_batch"] = _arrays.long_tensor(np.repeat(np.arange(len(repeats)), repeats))
                out[f"{attr}_ptr"] = _arrays.long_tensor(_cumsum(repeats))
        if add_batch and _can_infer_num_nodes(first):
            repeats = [d.num_nodes or 0 for d in data_list]
            like = next((v for v in out._store.values() if _is_array(v)), None)
            out.batch = _arrays.long_tensor(np.repeat(np.arange(len(repeats), dtype=np.int64), repeats), like)
            out.ptr = _arrays.long_tensor(_cumsum(repeats), like)
        out._num_graphs = len(data_list)
        out._slice_dict = slice_dict
        out._inc_dict = inc_dict
        return out

    def _base_data_class(self):
        for base in type(self).__mro__[1:]:
            if not issubclass(base, Batch) and issubclass(base, Data):
                return base
        return Data

    def get_example(self, idx):
        """Graph ``idx`` of the batch, as it was before batching."""
        if "_slice_dict" not in self.__dict__:
            raise RuntimeError("Cannot reconstruct 'Data' object from 'Batch' because 'Batch' was not created "
                               "via 'Batch.from_data_list()'")
        idx = int(idx)
        if idx < 0:
            idx += self.num_graphs
        if not 0 <= idx < self.num_graphs:
            raise IndexError(f"Batch.get_example: index {idx} out of range for {self.num_graphs} graphs")
        data = self._base_data_class().__new__(self._base_data_class())
        data.__dict__["_store"] = {}
        for attr, slices in self._slice_dict.items():
            if attr in self._store:
                data[attr] = _separate(attr, self._store[attr], idx, slices, self._inc_dict[attr], self)
        if "_num_nodes" in self.__dict__:
            data.num_nodes = self._num_nodes[idx]
        return data

    def index_select(self, idx):
        """The graphs picked by ``idx`` (slice, list, or a long/bool tensor or array), as a list."""
        if isinstance(idx, slice):
            index = list(range(self.num_graphs)[idx])
        elif _is_array(idx) or isinstance(idx, np.ndarray):
            arr = _arrays.host(idx)
            if arr.dtype == np.bool_:
                index = np.flatnonzero(arr.reshape(-1)).tolist()
            elif arr.dtype.kind in "iu":
                index = arr.reshape(-1).tolist()
            else:
                raise IndexError(f"Only slices (':'), list, tuples, tensors and np.ndarray of dtype long or bool "
                                 f"are valid indices (got dtype {arr.dtype})")
        elif isinstance(idx, Sequence) and not isinstance(idx, str):
            index = list(idx)
        else:
            raise IndexError(f"Only slices (':'), list, tuples, tensors and np.ndarray of dtype long or bool are "
                             f"valid indices (got '{type(idx).__name__}')")
        return [self.get_example(i) for i in index]

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool):
            return self.get_example(idx)
        if _is_array(idx) and idx.dim() == 0:
            return self.get_example(int(idx.item()))
        if isinstance(idx, str):
            return super().__getitem__(idx)
        return self.index_select(idx)

    def to_data_list(self):
        """The graphs of the batch, as a list of Data."""
        return [self.get_example(i) for i in range(self.num_graphs)]

    @property
    def num_graphs(self):
        if "_num_graphs" in self.__dict__:
            return self._num_graphs
        if "ptr" in self:
            return self.ptr.numel() - 1
        if "batch" in self:
            return int(self.batch.max()) + 1
        raise ValueError("Can not infer the number of graphs")

    @property
    def batch_size(self):
        return self.num_graphs

    def __len__(self):
        return self.num_graphs

    def __reduce__(self):
        return _rebuild_batch, (self._base_data_class(),), self.__dict__.copy()


def _rebuild_batch(base):
    cls = _batch_type(base)
    return cls.__new__(cls)


def _can_infer_num_nodes(data):
    keys = set(data.keys())
    if keys & {"num_nodes", "x", "pos", "batch", "adj", "adj_t", "edge_index", "face"}:
        return True
    return any("node" in k for k in keys)
