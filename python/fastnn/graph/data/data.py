"""One graph: ``torch_geometric.data.Data`` with PyG's attribute rules.

A Data is a dictionary of named attributes (tensors, numbers, lists, anything) reachable as
``data.x`` or ``data['x']``. The number of nodes is inferred from node-level attributes as in
PyG (``num_nodes`` when set, else the first of x/pos/batch/..., else ``edge_index.max() + 1``
with a warning); ``__cat_dim__`` / ``__inc__`` tell :class:`Batch` how to concatenate and
offset each attribute ('index' keys and 'face' along the last dimension, offset by the number
of nodes; 'batch' keys by the number of graphs).
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from .. import _arrays

# attributes whose first dimension is, by name, the number of nodes / edges (PyG's N_KEYS, E_KEYS)
N_KEYS = ("x", "feat", "pos", "batch", "node_type", "n_id", "tf")
E_KEYS = ("edge_index", "edge_weight", "edge_attr", "edge_type", "e_id")
# read as None when absent, like PyG's properties
_OPTIONAL = frozenset({"x", "edge_index", "edge_weight", "edge_attr", "y", "pos", "batch", "time"})


def _recursive_apply(value, func):
    if _arrays.is_tensor(value):
        return func(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_recursive_apply(v, func) for v in value))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_recursive_apply(v, func) for v in value]
    if isinstance(value, Mapping):
        return {k: _recursive_apply(v, func) for k, v in value.items()}
    return value


def size_repr(key, value, indent=0):
    pad = " " * indent
    if _arrays.is_tensor(value) and value.dim() == 0:
        out = value.item()
    elif _arrays.is_tensor(value):
        out = str(list(value.shape))
    elif isinstance(value, np.ndarray):
        out = str(list(value.shape))
    elif isinstance(value, str):
        out = f"'{value}'"
    elif isinstance(value, (Sequence, set)):
        out = str([len(value)])
    elif isinstance(value, Mapping) and len(value) == 0:
        out = "{}"
    elif isinstance(value, Mapping) and len(value) == 1 and not isinstance(list(value.values())[0], Mapping):
        out = "{ " + ", ".join(size_repr(k, v, 0) for k, v in value.items()) + " }"
    elif isinstance(value, Mapping):
        out = "{\n" + ",\n".join(size_repr(k, v, indent + 2) for k, v in value.items()) + ",\n" + pad + "}"
    else:
        out = str(value)
    return f"{pad}{str(key).replace(chr(39), '')}={out}"


def warn_or_raise(msg, raise_on_error=True):
    if raise_on_error:
        raise ValueError(msg)
    warnings.warn(msg, stacklevel=3)


class Data:
    """A graph: node features ``x`` (num_nodes, F), ``edge_index`` (2, num_edges) int64, edge
    features ``edge_attr``, targets ``y``, positions ``pos`` and any other keyword attribute.

    Same behaviour as ``torch_geometric.data.Data``: attribute and item access, ``num_nodes``
    (inferred or set), ``num_edges``, ``keys()``, ``to(device)``, ``clone()``, ``apply``,
    ``subgraph``, ``validate`` and the batching rules ``__cat_dim__`` / ``__inc__``.
    """

    def __init__(self, x=None, edge_index=None, edge_attr=None, y=None, pos=None, time=None, **kwargs):
        self.__dict__["_store"] = {}
        for key, value in (("x", x), ("edge_index", edge_index), ("edge_attr", edge_attr), ("y", y),
                           ("pos", pos), ("time", time)):
            if value is not None:
                setattr(self, key, value)
        for key, value in kwargs.items():
            setattr(self, key, value)

    # attribute storage ---------------------------------------------------------------------
    def __getattr__(self, key):
        store = self.__dict__.get("_store")
        if store is None:
            raise AttributeError(key)
        if key in store:
            return store[key]
        if key in _OPTIONAL:
            return None
        raise AttributeError(f"'{self.__class__.__name__}' object has no attribute '{key}'")

    def __setattr__(self, key, value):
        prop = getattr(type(self), key, None)
        if isinstance(prop, property) and prop.fset is not None:
            prop.fset(self, value)
        elif key[:1] == "_":
            self.__dict__[key] = value
        else:
            self[key] = value

    def __delattr__(self, key):
        if key[:1] == "_":
            del self.__dict__[key]
        else:
            del self[key]

    def __getitem__(self, key):
        return self._store[key]

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"{type(self).__name__}: attribute names must be strings, got {type(key).__name__}")
        if value is None:
            self._store.pop(key, None)
        else:
            self._store[key] = value

    def __delitem__(self, key):
        self._store.pop(key, None)

    def __copy__(self):
        out = self.__class__.__new__(self.__class__)
        out.__dict__.update(self.__dict__)
        out.__dict__["_store"] = dict(self._store)
        return out

    def __deepcopy__(self, memo):
        out = self.__class__.__new__(self.__class__)
        for key, value in self.__dict__.items():
            out.__dict__[key] = copy.deepcopy(value, memo)
        return out

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        name = self.__class__.__name__
        if any(isinstance(v, Mapping) for v in self._store.values()):
            return f"{name}(\n" + ",\n".join(size_repr(k, v, 2) for k, v in self._store.items()) + "\n)"
        return f"{name}(" + ", ".join(size_repr(k, v) for k, v in self._store.items()) + ")"

    def keys(self):
        """The names of the attributes, as a list."""
        return list(self._store.keys())

    def __len__(self):
        return len(self._store)

    def __contains__(self, key):
        return key in self._store

    def __iter__(self):
        """(name, value) of each attribute."""
        yield from list(self._store.items())

    def __call__(self, *args):
        yield from self.items(*args)

    def items(self, *args):
        keys = args if args else list(self._store)
        return [(k, self._store[k]) for k in keys if k in self._store]

    def values(self, *args):
        return [v for _, v in self.items(*args)]

    def get(self, key, default=None):
        return self._store.get(key, default)

    def to_dict(self):
        return dict(self._store)

    def to_namedtuple(self):
        from collections import namedtuple
        fields = list(self._store)
        return namedtuple(f"{type(self).__name__}Tuple", fields)(*(self._store[k] for k in fields))

    @classmethod
    def from_dict(cls, mapping):
        return cls(**mapping)

    def update(self, data):
        for key, value in (data.items() if isinstance(data, Mapping) else data):
            self[key] = value
        return self

    # sizes ---------------------------------------------------------------------------------
    @property
    def num_nodes(self):
        """The number of nodes: ``num_nodes`` when set, else inferred from node-level attributes,
        else guessed as ``edge_index.max() + 1`` (with a warning, as in PyG)."""
        store = self._store
        if "num_nodes" in store:
            return store["num_nodes"]
        for key, value in store.items():
            if key in N_KEYS and (_arrays.is_tensor(value) or isinstance(value, np.ndarray)):
                return value.shape[self.__cat_dim__(key, value)]
        for key, value in store.items():
            if "node" in key and (_arrays.is_tensor(value) or isinstance(value, np.ndarray)):
                return value.shape[self.__cat_dim__(key, value)]
        for key in ("adj", "adj_t"):
            value = store.get(key)
            if _arrays.is_tensor(value):
                return value.shape[0 if key == "adj" else 1]
        warnings.warn(f"Unable to accurately infer 'num_nodes' from the attribute set '{set(store)}'. Please "
                      "explicitly set 'num_nodes' as an attribute of 'data' to suppress this warning", stacklevel=2)
        for key in ("edge_index", "face"):
            value = store.get(key)
            if _arrays.is_tensor(value):
                return int(value.max()) + 1 if value.numel() > 0 else 0
        return None

    @num_nodes.setter
    def num_nodes(self, num_nodes):
        self["num_nodes"] = num_nodes

    def size(self, dim=None):
        size = (self.num_nodes, self.num_nodes)
        return size if dim is None else size[dim]

    @property
    def num_edges(self):
        """The number of edges (the size of the edge-level attributes)."""
        store = self._store
        if "num_edges" in store:
            return store["num_edges"]
        for pick in (lambda k: k in E_KEYS, lambda k: "edge" in k):
            for key, value in store.items():
                if pick(key) and (_arrays.is_tensor(value) or isinstance(value, np.ndarray)):
                    return value.shape[self.__cat_dim__(key, value)]
        return 0

    @property
    def num_node_features(self):
        x = self._store.get("x")
        if _arrays.is_tensor(x) or isinstance(x, np.ndarray):
            return 1 if x.ndim == 1 else x.shape[-1]
        return 0

    @property
    def num_features(self):
        return self.num_node_features

    @property
    def num_edge_features(self):
        e = self._store.get("edge_attr")
        if _arrays.is_tensor(e) or isinstance(e, np.ndarray):
            return 1 if e.ndim == 1 else e.shape[-1]
        return 0

    @property
    def num_node_types(self):
        return int(self.node_type.max()) + 1 if "node_type" in self else 1

    @property
    def num_edge_types(self):
        return int(self.edge_type.max()) + 1 if "edge_type" in self else 1

    # batching rules ------------------------------------------------------------------------
    def __cat_dim__(self, key, value, *args, **kwargs):
        """The dimension along which a batch concatenates attribute ``key``."""
        if "index" in key or key == "face":
            return -1
        return 0

    def __inc__(self, key, value, *args, **kwargs):
        """How much a batch adds to attribute ``key`` of each following graph."""
        if "batch" in key and _arrays.is_tensor(value):
            return int(value.max()) + 1 if value.numel() else 0
        if "index" in key or key == "face":
            num_nodes = self.num_nodes
            if num_nodes is None:
                raise RuntimeError(f"Unable to infer 'num_nodes' from the attribute '{key}'. Please explicitly "
                                   "set 'num_nodes' as an attribute of 'data' to prevent this error")
            return num_nodes
        return 0

    # attribute kinds -----------------------------------------------------------------------
    def _attr_level(self, key):
        """'node', 'edge' or None for attribute ``key`` (PyG's rule: by its size along the cat
        dimension; when nodes and edges are as many, by whether the name contains 'edge')."""
        value = self._store[key]
        num_nodes, num_edges = self.num_nodes, self.num_edges
        if isinstance(value, (list, tuple)):
            n = len(value)
        elif (_arrays.is_tensor(value) or isinstance(value, np.ndarray)) and value.ndim > 0:
            n = value.shape[self.__cat_dim__(key, value)]
        else:
            return None
        if n == num_nodes and n == num_edges:
            return "edge" if "edge" in key else "node"
        if n == num_nodes:
            return "node"
        if n == num_edges:
            return "edge"
        return None

    def is_node_attr(self, key):
        """Whether attribute ``key`` holds one entry per node."""
        return self._attr_level(key) == "node"

    def is_edge_attr(self, key):
        """Whether attribute ``key`` holds one entry per edge."""
        return self._attr_level(key) == "edge"

    def node_attrs(self):
        return [k for k in self._store if self.is_node_attr(k)]

    def edge_attrs(self):
        return [k for k in self._store if self.is_edge_attr(k)]

    # tensor methods over all (or the named) attributes ---------------------------------------
    def apply_(self, func, *args):
        for _, value in self.items(*args):
            _recursive_apply(value, func)
        return self

    def apply(self, func, *args):
        for key, value in self.items(*args):
            self._store[key] = _recursive_apply(value, func)
        return self

    def clone(self, *args):
        return copy.copy(self).apply(lambda x: x.clone(), *args)

    def contiguous(self, *args):
        return self.apply(lambda x: x.contiguous(), *args)

    def to(self, device, *args, non_blocking=False):
        return self.apply(lambda x: x.to(device), *args)

    def cpu(self, *args):
        return self.apply(lambda x: x.cpu(), *args)

    def cuda(self, device=None, *args, non_blocking=False):
        return self.apply(lambda x: x.cuda(device), *args)

    def detach(self, *args):
        return self.apply(lambda x: x.detach(), *args)

    def detach_(self, *args):
        return self.apply(lambda x: x.detach(), *args)

    def requires_grad_(self, *args, requires_grad=True):
        return self.apply_(lambda x: x.requires_grad_(requires_grad), *args)

    def pin_memory(self, *args):
        return self

    @property
    def is_cuda(self):
        return any(_arrays.is_tensor(v) and v.is_cuda for v in self._store.values())

    # graph properties ----------------------------------------------------------------------
    def has_isolated_nodes(self):
        from ..utils import contains_isolated_nodes
        return contains_isolated_nodes(self.edge_index, self.num_nodes)

    def has_self_loops(self):
        from ..utils import contains_self_loops
        return contains_self_loops(self.edge_index)

    def is_undirected(self):
        from ..utils import is_undirected
        return is_undirected(self.edge_index, self.get("edge_attr"), num_nodes=self.num_nodes)

    def is_directed(self):
        return not self.is_undirected()

    def is_sorted(self, sort_by_row=True):
        if "edge_index" not in self:
            return True
        ei = _arrays.host(self.edge_index)[0 if sort_by_row else 1]
        return bool(np.all(ei[:-1] <= ei[1:]))

    def sort(self, sort_by_row=True):
        if "edge_index" in self:
            from ..utils import sort_edge_index
            keys = [k for k in self.edge_attrs() if k != "edge_index"]
            self.edge_index, feats = sort_edge_index(self.edge_index, [self[k] for k in keys],
                                                     sort_by_row=sort_by_row)
            for k, v in zip(keys, feats):
                self[k] = v
        return self

    def is_coalesced(self):
        if "edge_index" not in self:
            return True
        from ..utils import coalesce
        new = coalesce(self.edge_index, num_nodes=self.num_nodes)
        return tuple(new.shape) == tuple(self.edge_index.shape) and bool(
            np.array_equal(_arrays.host(new), _arrays.host(self.edge_index)))

    def coalesce(self, reduce="sum"):
        if "edge_index" in self:
            from ..utils import coalesce
            self.edge_index, self.edge_attr = coalesce(self.edge_index, self.get("edge_attr"),
                                                       num_nodes=self.num_nodes, reduce=reduce)
        return self

    def validate(self, raise_on_error=True):
        """Check that ``num_nodes`` is known and ``edge_index`` has shape [2, E] with indices in range."""
        name = self.__class__.__name__
        status = True
        num_nodes = self.num_nodes
        if num_nodes is None:
            status = False
            warn_or_raise(f"'num_nodes' is undefined in '{name}'", raise_on_error)
        if "edge_index" in self:
            ei = self.edge_index
            if ei.dim() != 2 or ei.shape[0] != 2:
                status = False
                warn_or_raise(f"'edge_index' needs to be of shape [2, num_edges] in '{name}' (found "
                              f"{list(ei.shape)})", raise_on_error)
            if ei.numel() > 0:
                if int(ei.min()) < 0:
                    status = False
                    warn_or_raise(f"'edge_index' contains negative indices in '{name}' (found {int(ei.min())})",
                                  raise_on_error)
                if num_nodes is not None and int(ei.max()) >= num_nodes:
                    status = False
                    warn_or_raise(f"'edge_index' contains larger indices than the number of nodes ({num_nodes}) "
                                  f"in '{name}' (found {int(ei.max())})", raise_on_error)
        return status

    # subgraphs -----------------------------------------------------------------------------
    def subgraph(self, subset):
        """The subgraph induced by ``subset`` (node indices or a boolean node mask), nodes relabelled."""
        num_nodes = self.num_nodes
        node_idx = _arrays.mask_or_index(subset, num_nodes, "Data.subgraph")
        edge_mask = None
        if "edge_index" in self:
            from ..utils import subgraph
            edge_index, _, edge_mask = subgraph(subset, self.edge_index, relabel_nodes=True,
                                                num_nodes=num_nodes, return_edge_mask=True)
            edge_idx = np.flatnonzero(_arrays.host(edge_mask))
        else:
            edge_index, edge_idx = None, np.arange(self.num_edges, dtype=np.int64)
        data = copy.copy(self)
        for key, value in self:
            if key == "edge_index":
                data.edge_index = edge_index
            elif key == "num_nodes":
                data.num_nodes = int(node_idx.shape[0])
            elif self.is_node_attr(key):
                data[key] = _arrays.select_rows(value, node_idx, self.__cat_dim__(key, value))
            elif self.is_edge_attr(key):
                data[key] = _arrays.select_rows(value, edge_idx, self.__cat_dim__(key, value))
        return data

    def edge_subgraph(self, subset):
        """The graph keeping only the edges ``subset`` (indices or a boolean edge mask); all nodes stay."""
        edge_idx = _arrays.mask_or_index(subset, self.num_edges, "Data.edge_subgraph")
        data = copy.copy(self)
        for key, value in self:
            if self.is_edge_attr(key):
                data[key] = _arrays.select_rows(value, edge_idx, self.__cat_dim__(key, value))
        return data
