"""``MessagePassing`` (PyG's base class of graph layers): ``propagate`` builds messages, aggregates them at
the target nodes and updates the result, with the ``_i`` / ``_j`` suffix convention of PyG.

Two paths:
- fused: when ``message`` is the default copy ``x_j``, or the weighted copy a built-in layer declares
  (``edge_weight.view(-1, 1) * x_j`` in GCNConv, ``alpha.unsqueeze(-1) * x_j`` in GATConv), and
  ``aggregate`` is the default, ``propagate`` runs one SpMM over the graph's CSR view (cached on the
  ``edge_index`` tensor): the E x F message matrix is never built;
- general: otherwise the messages are built by ``message`` from the gathered ``*_i`` / ``*_j`` tensors and
  aggregated by ``aggregate`` (scatter over the target index, whose grouping is the cached CSR's)."""
from __future__ import annotations

import inspect

from ....nn.module import Module
from ....tensor import Tensor, _wrap
from ... import _aggregate

__all__ = ["MessagePassing"]

_AGGRS = ("add", "sum", "mean", "max", "min")
_SPECIAL = {"edge_index", "adj_t", "edge_index_i", "edge_index_j", "size", "size_i", "size_j", "ptr", "index",
            "dim_size"}
_EMPTY = inspect.Parameter.empty


def _params(fn, skip_first):
    """[(name, default)] of a bound method's parameters (without *args / **kwargs)."""
    out = []
    for k, p in enumerate(inspect.signature(fn).parameters.values()):
        if k == 0 and skip_first:
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out.append((p.name, p.default))
    return out


class _Signature:
    """What ``propagate`` must collect for one layer class (read once per class)."""

    def __init__(self, mp):
        cls = type(mp)
        self.message = _params(mp.message, False)
        self.aggregate = [(n, d) for n, d in _params(mp.aggregate, True) if n != "aggr"]
        self.update = _params(mp.update, True)
        self.edge_update = _params(mp.edge_update, False)
        names = {n for part in (self.message, self.aggregate, self.update) for n, _ in part}
        self.user_args = names - _SPECIAL
        self.edge_args = {n for n, _ in self.edge_update} - _SPECIAL
        # the fused path: message is the default copy, or a weighted copy declared by the class defining it
        owner = next(c for c in cls.__mro__ if "message" in c.__dict__)
        self.fused_weight = None
        fused = owner is MessagePassing or "_fused_message_weight" in owner.__dict__
        if owner is not MessagePassing and fused:
            self.fused_weight = owner.__dict__["_fused_message_weight"]
        self.fused = fused and cls.aggregate is MessagePassing.aggregate
        self.update_default = cls.update is MessagePassing.update


_SIGNATURES = {}


class MessagePassing(Module):
    """The base class of message passing layers (PyG's ``MessagePassing``).

    ``aggr``: 'add' / 'sum', 'mean', 'max' or 'min' (None: ``aggregate`` must be overridden); ``flow``:
    'source_to_target' (messages from ``edge_index[0]`` to ``edge_index[1]``) or 'target_to_source';
    ``node_dim``: the node dimension of the tensors passed to ``propagate`` (default -2)."""

    special_args = _SPECIAL

    def __init__(self, aggr="sum", *, aggr_kwargs=None, flow="source_to_target", node_dim=-2,
                 decomposed_layers=1):
        super().__init__()
        if flow not in ("source_to_target", "target_to_source"):
            raise ValueError(f"Expected 'flow' to be either 'source_to_target' or 'target_to_source' (got "
                             f"'{flow}')")
        if aggr is not None and (not isinstance(aggr, str) or aggr not in _AGGRS):
            raise ValueError(f"MessagePassing: argument 'aggr' must be one of {list(_AGGRS)} or None, got "
                             f"{aggr!r}")
        if decomposed_layers != 1:
            raise ValueError("MessagePassing: decomposed_layers other than 1 is not supported")
        self.aggr = aggr
        self.flow = flow
        self.node_dim = node_dim
        self.decomposed_layers = 1
        sig = _SIGNATURES.get(type(self))
        if sig is None:
            sig = _SIGNATURES[type(self)] = _Signature(self)
        self._sig = sig

    def reset_parameters(self):
        pass

    def __repr__(self):
        if hasattr(self, "in_channels") and hasattr(self, "out_channels"):
            return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"
        if hasattr(self, "channels"):
            return f"{self.__class__.__name__}({self.channels})"
        return f"{self.__class__.__name__}()"

    # ---------------------------------------------------------------- collection

    def _check_input(self, edge_index, size):
        _aggregate.check_edge_index(edge_index, f"{type(self).__name__}.propagate")
        if size is None:
            return [None, None]
        if len(size) != 2:
            raise ValueError(f"{type(self).__name__}.propagate: argument 'size' must be a pair (num_src, "
                             f"num_dst), got {size!r}")
        return [None if s is None else int(s) for s in size]

    def _set_size(self, size, dim, src):
        n = src.shape[self.node_dim]
        if size[dim] is None:
            size[dim] = n
        elif size[dim] != n:
            raise ValueError(f"Encountered tensor with size {n} in dimension {self.node_dim}, but expected size "
                             f"{size[dim]}.")

    def _sizes(self, edge_index, size, kwargs, names):
        """Fill ``size`` (num_src, num_dst) from the node tensors named by ``names`` (``*_i``/``*_j``)."""
        i, j = (1, 0) if self.flow == "source_to_target" else (0, 1)
        for arg in names:
            if arg[-2:] not in ("_i", "_j"):
                continue
            dim = j if arg[-2:] == "_j" else i
            data = kwargs.get(arg[:-2], _EMPTY)
            if isinstance(data, (tuple, list)):
                if len(data) != 2:
                    raise ValueError(f"{type(self).__name__}.propagate: '{arg[:-2]}' must be a tensor or a pair "
                                     f"(source, target) of tensors")
                if isinstance(data[1 - dim], Tensor):
                    self._set_size(size, 1 - dim, data[1 - dim])
                data = data[dim]
            if isinstance(data, Tensor):
                self._set_size(size, dim, data)
        n_src = size[j] if size[j] is not None else size[i]
        n_dst = size[i] if size[i] is not None else size[j]
        if n_src is None:
            a = edge_index._data
            n_src = n_dst = int(a.max()) + 1 if a.size else 0
        return n_src, n_dst

    def _lift(self, data, edge_index, csr, dim, name):
        """The rows of node tensor ``data`` at the edges' source (dim 0) or target (dim 1) ends."""
        nd = self.node_dim if self.node_dim >= 0 else data.dim() + self.node_dim
        side = csr.num_src if dim == (0 if self.flow == "source_to_target" else 1) else csr.num_dst
        if data.shape[nd] != side:
            raise ValueError(f"{type(self).__name__}.propagate: '{name}' has {data.shape[nd]} nodes in dimension "
                             f"{self.node_dim} but the graph has {side} on that side")
        row = edge_index._data[dim]
        if nd != 0:
            return data.index_select(nd, _wrap(row))
        if dim == (0 if self.flow == "source_to_target" else 1):
            return _aggregate.gather(data, row, lambda: csr.transpose().groups())
        return _aggregate.gather(data, row, csr.groups)

    def _collect(self, args, edge_index, csr, kwargs):
        i, j = (1, 0) if self.flow == "source_to_target" else (0, 1)
        out = {}
        for arg in args:
            if arg[-2:] not in ("_i", "_j"):
                out[arg] = kwargs.get(arg, _EMPTY)
                continue
            dim = j if arg[-2:] == "_j" else i
            data = kwargs.get(arg[:-2], _EMPTY)
            if isinstance(data, (tuple, list)):
                data = data[dim]
            if isinstance(data, Tensor):
                data = self._lift(data, edge_index, csr, dim, arg[:-2])
            out[arg] = data
        index = _aggregate.target_index(edge_index, csr, self.flow)
        out["adj_t"] = None
        out["edge_index"] = edge_index
        out["edge_index_i"] = index
        out["edge_index_j"] = _wrap(edge_index._data[j])
        out["ptr"] = None
        out["index"] = index
        out["size"] = [csr.num_src, csr.num_dst] if self.flow == "source_to_target" else [csr.num_dst, csr.num_src]
        out["size_i"] = csr.num_dst
        out["size_j"] = csr.num_src
        out["dim_size"] = csr.num_dst
        return out

    @staticmethod
    def _pick(params, coll, method):
        kw = {}
        for name, default in params:
            v = coll.get(name, _EMPTY)
            if v is _EMPTY:
                if default is _EMPTY:
                    raise TypeError(f"Required parameter '{name}' of '{method}' is empty (pass it to "
                                    f"'propagate')")
                v = default
            kw[name] = v
        return kw

    def _csr(self, edge_index, size, kwargs, names):
        sz = self._check_input(edge_index, size)
        n_src, n_dst = self._sizes(edge_index, sz, kwargs, names)
        return _aggregate.csr_of(edge_index, (n_src, n_dst), self.flow)

    # ---------------------------------------------------------------- propagate

    def propagate(self, edge_index, size=None, **kwargs):
        """Messages along ``edge_index`` (2, E), aggregated at the targets and updated. ``size``: (num_src,
        num_dst) when the node tensors do not tell it; ``kwargs``: the tensors ``message`` / ``aggregate`` /
        ``update`` ask for (a node tensor ``x`` is read as ``x_j`` at the sources and ``x_i`` at the
        targets; a pair (x_src, x_dst) for bipartite graphs)."""
        sig = self._sig
        if sig.fused and self.aggr is not None:
            x = kwargs.get("x", _EMPTY)
            xs = x[0] if isinstance(x, (tuple, list)) else x
            nd = self.node_dim
            if isinstance(xs, Tensor) and (nd == 0 or nd == -xs.dim()):
                csr = self._csr(edge_index, size, kwargs, ("x_j", "x_i"))
                if xs.shape[0] != csr.num_src:
                    raise ValueError(f"{type(self).__name__}.propagate: 'x' has {xs.shape[0]} source nodes, the "
                                     f"graph {csr.num_src}")
                w = None if sig.fused_weight is None else kwargs.get(sig.fused_weight)
                out = _aggregate.spmm(csr, xs, w, self.aggr)
                if sig.update_default:
                    return out
                coll = self._collect({n for n, _ in sig.update} - _SPECIAL, edge_index, csr, kwargs)
                return self.update(out, **self._pick(sig.update, coll, "update"))
        csr = self._csr(edge_index, size, kwargs, sig.user_args)
        coll = self._collect(sig.user_args, edge_index, csr, kwargs)
        out = self.message(**self._pick(sig.message, coll, "message"))
        out = self.aggregate(out, **self._pick(sig.aggregate, coll, "aggregate"))
        return self.update(out, **self._pick(sig.update, coll, "update"))

    def message(self, x_j):
        """The message of each edge (default: the source node's features ``x_j``)."""
        return x_j

    def aggregate(self, inputs, index, ptr=None, dim_size=None):
        """Reduce the messages ``inputs`` at their target nodes ``index`` with ``self.aggr``."""
        if self.aggr is None:
            raise NotImplementedError(f"{type(self).__name__}: aggr=None needs 'aggregate' to be overridden")
        from ...utils._scatter import scatter
        return scatter(inputs, index, dim=self.node_dim, dim_size=dim_size, reduce=self.aggr)

    def message_and_aggregate(self, edge_index):
        """Fused message + aggregate for sparse adjacency inputs (PyG): ``propagate`` already fuses the default
        messages over ``edge_index`` tensors."""
        raise NotImplementedError

    def update(self, inputs):
        """The new node features from the aggregated messages (default: unchanged)."""
        return inputs

    # ---------------------------------------------------------------- edge features

    def edge_updater(self, edge_index, size=None, **kwargs):
        """Compute per-edge values with ``edge_update`` (same collection rules as ``propagate``; as in PyG,
        the sizes come from the tensors, ``size`` is not read)."""
        sig = self._sig
        csr = self._csr(edge_index, None, kwargs, sig.edge_args)
        coll = self._collect(sig.edge_args, edge_index, csr, kwargs)
        return self.edge_update(**self._pick(sig.edge_update, coll, "edge_update"))

    def edge_update(self):
        raise NotImplementedError
