"""Graph layers through the Python API, fastnn vs PyTorch / PyTorch Geometric on the CPU side by side
(same thread count, alternating, best of rounds):
- neighbour aggregation N 100k, E 1M, F 64 through ``MessagePassing(aggr=...).propagate`` (the CSR view is
  built on the first call and cached on ``edge_index``; the references get theirs prebuilt too): sum vs
  ``torch.sparse.mm`` on a CSR matrix and vs gather + ``index_add_``; mean and max vs
  ``torch_geometric.utils.scatter`` of the gathered messages;
- GCNConv and GATConv (heads 1) forward+backward on a Cora-sized random graph (2,708 nodes, 10,556 edges,
  1,433 -> 16) vs PyG's layers with the same weights.
``--quick`` shrinks the aggregation graph to N 20k, E 200k. The CPU path in use is noted on every row."""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def _pyg():
    try:
        import torch_geometric  # noqa: F401
        import torch_geometric.nn
        import torch_geometric.utils
        return torch_geometric
    except ImportError:
        return None


def aggregation_rows(torch, pyg, quick, note):
    import fastnn
    from fastnn.graph.nn import MessagePassing
    n, e, f = (20_000, 200_000, 64) if quick else (100_000, 1_000_000, 64)
    rng = np.random.default_rng(0)
    ei = rng.integers(0, n, (2, e))
    x = rng.standard_normal((n, f)).astype(np.float32)
    fe = fastnn.tensor(ei, dtype=fastnn.long)
    fx = fastnn.tensor(x)
    shape = f"N {n // 1000}k E {e / 1e6:g}M F {f}"
    rows = []
    mps = {a: MessagePassing(aggr=a) for a in ("add", "mean", "max")}
    for m in mps.values():
        m.propagate(fe, x=fx)          # builds and caches the CSR view on fe
    t_spmm = t_index_add = None
    if torch is not None:
        # (PyTorch warns that its sparse CSR support is in beta and that invariant checks are off.)
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*", category=UserWarning)
        src, dst = torch.from_numpy(ei[0]), torch.from_numpy(ei[1])
        tx = torch.from_numpy(x)
        adj = torch.sparse_coo_tensor(torch.stack([dst, src]), torch.ones(e), (n, n)).coalesce().to_sparse_csr()

        def t_spmm():
            return torch.sparse.mm(adj, tx)

        def t_index_add():
            return torch.zeros(n, f).index_add_(0, dst, tx.index_select(0, src))
    for name, ref_fn in (("sum vs torch.sparse.mm (CSR)", t_spmm), ("sum vs gather + index_add_", t_index_add)):
        a, r = harness.interleaved(lambda: mps["add"].propagate(fe, x=fx), ref_fn, 7, 0.3, 3)
        rows.append(harness.row(f"propagate {name}", shape, a, "PyTorch" if r is not None else None, r, note))
    for aggr in ("mean", "max"):
        t_fn = None
        if pyg is not None:
            def t_fn(aggr=aggr):
                return pyg.utils.scatter(tx.index_select(0, src), dst, 0, dim_size=n, reduce=aggr)
        a, r = harness.interleaved(lambda aggr=aggr: mps[aggr].propagate(fe, x=fx), t_fn, 7, 0.3, 3)
        rows.append(harness.row(f"propagate {aggr} vs PyG scatter", shape, a, "PyG" if r is not None else None,
                                r, note))
    return rows


def layer_rows(torch, pyg, note):
    import fastnn
    from fastnn.graph import nn as gnn
    n, e, fin, fout = 2708, 10_556, 1433, 16
    rng = np.random.default_rng(1)
    ei = rng.integers(0, n, (2, e))
    x = (rng.random((n, fin)) < 0.013).astype(np.float32)   # sparse bag-of-words-like features
    fe = fastnn.tensor(ei, dtype=fastnn.long)
    fx = fastnn.tensor(x)
    rows = []
    for name in ("GCNConv", "GATConv"):
        fl = getattr(gnn, name)(fin, fout)
        t_fb = None
        if pyg is not None:
            tl = getattr(pyg.nn, name)(fin, fout)
            harness.copy_weights(torch, fl, tl)
            te, tx = torch.from_numpy(ei), torch.from_numpy(x)

            def t_fb(tl=tl, te=te, tx=tx):
                tl.zero_grad()
                tl(tx, te).sum().backward()

        def f_fb(fl=fl):
            fl.zero_grad()
            fl(fx, fe).sum().backward()
        a, r = harness.interleaved(f_fb, t_fb, 15, 0.3, 3)
        rows.append(harness.row(f"{name} fwd+bwd", f"Cora-sized {n} nodes {e} edges {fin}->{fout}", a,
                                "PyG" if r is not None else None, r, note))
    return rows


def run(device="cpu", quick=False):
    if device != "cpu":
        return []
    import fastnn
    torch = harness.try_import_torch()
    if torch is not None:
        torch.set_num_threads(fastnn.get_num_threads())
    pyg = _pyg() if torch is not None else None
    note = f"{fastnn._C.cpu_path()} path"
    return aggregation_rows(torch, pyg, quick, note) + layer_rows(torch, pyg, note)


if __name__ == "__main__":
    harness.standalone(run)
