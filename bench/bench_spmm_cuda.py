"""Sparse graph aggregation kernels (the segment family) on the GPU: N 1M nodes, E 10M edges, F 64 float32 on a
random graph with power-law in-degrees (``--quick``: N 200k, E 2M), the CSR view (edges grouped by target)
built once before timing, as the reference's CSR is prebuilt too. Rows, fastnn's array-level kernels vs
PyTorch on CUDA side by side (alternating, best of rounds); GPU only (no rows on the CPU):

- sum aggregation (SpMM), default and deterministic (``fastnn.use_deterministic_algorithms(True)``: no
  atomics), vs ``torch.sparse.mm`` on a CSR tensor (cuSPARSE);
- weighted sum (one weight per edge, kept in edge order), vs ``torch.sparse.mm`` with those values;
- max aggregation vs ``scatter_reduce`` ("amax", include_self=False) on the gathered messages;
- ``csr_from_index`` (a stable radix sort) vs a stable ``torch.sort`` + ``bincount`` + ``cumsum``.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from bench_spmm import power_law_graph  # noqa: E402


def run(device="cpu", quick=False):
    if device == "cpu":
        return []
    import fastnn
    from fastnn import backend, kernels
    cp = backend.array_module(device)
    torch = harness.reference_torch(device)
    n, e, f = (200_000, 2_000_000, 64) if quick else (1_000_000, 10_000_000, 64)
    rng = np.random.default_rng(0)
    src_h, dst_h = power_law_graph(rng, n, e)
    x = cp.asarray(rng.standard_normal((n, f)).astype(np.float32))
    w = cp.asarray(rng.random(e).astype(np.float32))
    dst = cp.asarray(dst_h)
    offsets, perm = kernels.csr_from_index(dst, n)
    col = cp.asarray(src_h)[perm]
    shape = f"N {n / 1e6:g}M E {e / 1e6:g}M F {f}"
    rounds, repeats, min_time = (2, 5, 0.2) if quick else (3, 9, 0.5)
    rows = []

    def add(op, fast, ref_name, ref, deterministic=False, note=""):
        before = fastnn.are_deterministic_algorithms_enabled()
        fastnn.use_deterministic_algorithms(deterministic)
        try:
            a, r = harness.interleaved(fast, ref, repeats, min_time, rounds, device)
        finally:
            fastnn.use_deterministic_algorithms(before)
        rows.append(harness.row(op, shape, a, ref_name if r is not None else None, r,
                                (("deterministic " if deterministic else "") + note).strip()))

    t = {}
    if torch is not None:
        tdev = torch.device("cuda", cp.cuda.Device().id)
        tx = torch.as_tensor(x, device=tdev)
        crow, tcol = torch.as_tensor(offsets, device=tdev), torch.as_tensor(col, device=tdev)
        t["csr"] = torch.sparse_csr_tensor(crow, tcol, torch.ones(e, device=tdev), size=(n, n))
        t["csr_w"] = torch.sparse_csr_tensor(crow, tcol, torch.as_tensor(w[perm], device=tdev), size=(n, n))
        tsrc, tdst = torch.as_tensor(src_h, device=tdev), torch.as_tensor(dst_h, device=tdev)
        t["index"] = tdst.view(-1, 1).expand(e, f)

        def csr_ref():
            order = torch.sort(tdst, stable=True).indices
            return torch.cumsum(torch.bincount(tdst, minlength=n), 0), order

    def ref(fn):
        return harness.synced(torch, fn) if torch is not None else None

    spmm = "torch.sparse.mm CSR (cuSPARSE)"
    for det in (False, True):
        add("graph sum aggregation (SpMM)", lambda: kernels.segment_reduce(x, col, offsets, "sum"), spmm,
            ref(lambda: torch.sparse.mm(t["csr"], tx)), det)
    add("graph weighted sum aggregation", lambda: kernels.segment_reduce(x, col, offsets, "sum", w, -1, perm), spmm,
        ref(lambda: torch.sparse.mm(t["csr_w"], tx)), note="weights in edge order")
    add("graph max aggregation", lambda: kernels.segment_reduce(x, col, offsets, "max"),
        "PyTorch scatter_reduce amax",
        ref(lambda: torch.zeros(n, f, device=tdev).scatter_reduce_(0, t["index"], tx[tsrc], "amax",
                                                                   include_self=False)))
    add("csr_from_index (stable sort)", lambda: kernels.csr_from_index(dst, n), "torch stable sort + bincount",
        ref(csr_ref))
    return rows


if __name__ == "__main__":
    print("GPU only: python bench/run.py --device cuda --only spmm_cuda")
