"""Sparse graph aggregation kernels (the segment family) on a random graph with power-law in-degrees:
N 100k nodes, E 1M edges, F 64 float32 (``--quick``: N 20k, E 200k), the CSR view (edges grouped by
target) built once before timing, as the references' CSR is prebuilt too. Rows, fastnn's array-level
kernels vs PyTorch CPU side by side (same thread count, alternating, best of rounds):

- sum aggregation vs ``torch.sparse.mm`` on a CSR tensor, and vs PyTorch's gather + ``index_add_``;
- weighted sum (one weight per edge, kept in edge order) vs ``torch.sparse.mm`` with those values;
- mean and max vs ``scatter_reduce`` ("mean" / "amax", include_self=False) on the gathered messages;
- segment softmax over the edges of each target (H 1 and 8) vs the scatter-max / exp / scatter-sum chain;
- SDDMM (``segment_dot``: one dot product per edge) vs a gather and a row-wise product;
- ``csr_from_index`` (a counting sort) vs a stable ``torch.sort`` + ``bincount`` + ``cumsum``.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def power_law_graph(rng, n, e):
    """(src, dst) int64: targets drawn with a Zipf-like skew (a few hubs with thousands of edges, many
    nodes with none), sources uniform."""
    weights = 1.0 / np.arange(1, n + 1) ** 0.8
    dst = rng.choice(n, size=e, p=weights / weights.sum())
    dst = rng.permutation(n)[dst]  # hubs spread over the id range
    return rng.integers(0, n, e), dst


def run(device="cpu", quick=False):
    import fastnn
    from fastnn import kernels
    if device != "cpu":
        return []
    torch = harness.reference_torch(device)
    n, e, f = (20_000, 200_000, 64) if quick else (100_000, 1_000_000, 64)
    rng = np.random.default_rng(0)
    src, dst = power_law_graph(rng, n, e)
    x = rng.standard_normal((n, f)).astype(np.float32)
    w = rng.random(e).astype(np.float32)
    offsets, perm = kernels.csr_from_index(dst, n)
    col = src[perm]
    wsorted = w[perm]
    shape = f"N {n // 1000}k E {e / 1e6:g}M F {f}"
    note = f"{fastnn._C.cpu_path()} path"
    rounds, repeats, min_time = (2, 5, 0.2) if quick else (3, 7, 0.5)
    rows = []

    def add(op, fast, ref_name, ref, shp=shape, extra=""):
        a, r = harness.interleaved(fast, ref, repeats, min_time, rounds, device)
        rows.append(harness.row(op, shp, a, ref_name if r is not None else None, r, (note + " " + extra).strip()))

    t = {}
    if torch is not None:
        tx, tsrc, tdst = torch.from_numpy(x), torch.from_numpy(src), torch.from_numpy(dst)
        crow, tcol = torch.from_numpy(offsets), torch.from_numpy(col)
        t["csr"] = torch.sparse_csr_tensor(crow, tcol, torch.ones(e), size=(n, n))
        t["csr_w"] = torch.sparse_csr_tensor(crow, tcol, torch.from_numpy(wsorted), size=(n, n))
        t["index"] = tdst.view(-1, 1).expand(e, f)

        def index_add():
            return torch.zeros(n, f).index_add_(0, tdst, tx[tsrc])

        def scatter(reduce):
            return lambda: torch.zeros(n, f).scatter_reduce_(0, t["index"], tx[tsrc], reduce, include_self=False)

    def ref(fn):
        return fn if torch is not None else None

    add("graph sum aggregation (SpMM)", lambda: kernels.segment_reduce(x, col, offsets, "sum"),
        "torch.sparse.mm CSR", ref(lambda: torch.sparse.mm(t["csr"], tx)))
    add("graph sum aggregation vs gather+index_add_", lambda: kernels.segment_reduce(x, col, offsets, "sum"),
        "PyTorch gather+index_add_", ref(index_add))
    add("graph weighted sum aggregation", lambda: kernels.segment_reduce(x, col, offsets, "sum", w, -1, perm),
        "torch.sparse.mm CSR", ref(lambda: torch.sparse.mm(t["csr_w"], tx)), extra="weights in edge order")
    add("graph mean aggregation", lambda: kernels.segment_reduce(x, col, offsets, "mean"),
        "PyTorch scatter_reduce mean", ref(scatter("mean") if torch is not None else None))
    add("graph max aggregation (+argmax)", lambda: kernels.segment_reduce(x, col, offsets, "max"),
        "PyTorch scatter_reduce amax", ref(scatter("amax") if torch is not None else None))

    for heads in (1, 8):
        logits = rng.standard_normal((e, heads)).astype(np.float32)

        def torch_softmax(tl=None, heads=heads):
            idx = tdst.view(-1, 1).expand(e, heads)
            m = torch.full((n, heads), float("-inf")).scatter_reduce_(0, idx, tl, "amax", include_self=False)
            z = (tl - m.index_select(0, tdst)).exp()
            s = torch.zeros(n, heads).index_add_(0, tdst, z)
            return z / s.index_select(0, tdst)

        tl = torch.from_numpy(logits) if torch is not None else None
        add(f"graph segment softmax H {heads}", lambda: kernels.segment_softmax(logits, offsets, perm),
            "PyTorch scatter softmax", ref(lambda: torch_softmax(tl)), shp=f"N {n // 1000}k E {e / 1e6:g}M H {heads}")

    y = rng.standard_normal((n, f)).astype(np.float32)
    ty = torch.from_numpy(y) if torch is not None else None
    add("graph SDDMM (segment_dot)", lambda: kernels.segment_dot(y, x, col, offsets, 1, perm, e),
        "PyTorch gather + rowwise dot", ref(lambda: (ty[tdst] * tx[tsrc]).sum(-1)))

    def torch_csr():
        order = torch.sort(tdst, stable=True).indices
        counts = torch.bincount(tdst, minlength=n)
        return torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]), order

    add("graph CSR build (csr_from_index)", lambda: kernels.csr_from_index(dst, n),
        "torch.sort + bincount", ref(torch_csr), shp=f"N {n // 1000}k E {e / 1e6:g}M")
    return rows


if __name__ == "__main__":
    harness.standalone(run)
