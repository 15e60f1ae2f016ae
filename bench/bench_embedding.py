"""Embedding and EmbeddingBag forward+backward on a 100k x 128 float32 table (4096 ids; 512 bags of 20 ids,
mode 'sum'), with dense and with sparse gradients, and the optimiser steps on the sparse gradient
(SparseAdam, SGD), fastnn vs PyTorch CPU side by side (same thread count, alternating, best of rounds).
``--quick`` uses a 20k-row table. The CPU path in use is noted on every row."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def run(device="cpu", quick=False):
    import fastnn
    torch = harness.try_import_torch() if device == "cpu" else None
    if torch is not None:
        torch.set_num_threads(fastnn.get_num_threads())
    num, dim = (20_000 if quick else 100_000), 128
    rng = np.random.default_rng(0)
    w = rng.standard_normal((num, dim)).astype(np.float32)
    ids = rng.integers(0, num, 4096)
    bag_ids = rng.integers(0, num, 512 * 20)
    offsets = np.arange(0, 512 * 20, 20)
    shape = f"{num // 1000}k x {dim} f32"
    path = fastnn._C.cpu_path()
    rows = []

    def pair(sparse, bag):
        fl = (fastnn.nn.EmbeddingBag(num, dim, mode="sum", sparse=sparse) if bag else
              fastnn.nn.Embedding(num, dim, sparse=sparse))
        fl.weight.data = fastnn.tensor(w, device=device)
        fi = fastnn.tensor(bag_ids if bag else ids, device=device)
        fo = fastnn.tensor(offsets, device=device) if bag else None

        def f_fb():
            fl.weight.grad = None
            (fl(fi, fo) if bag else fl(fi)).sum().backward()

        t_fb = tl = None
        if torch is not None:
            tl = (torch.nn.EmbeddingBag(num, dim, mode="sum", sparse=sparse) if bag else
                  torch.nn.Embedding(num, dim, sparse=sparse))
            with torch.no_grad():
                tl.weight.copy_(torch.from_numpy(w))
            ti = torch.from_numpy(bag_ids if bag else ids)
            to = torch.from_numpy(offsets) if bag else None

            def t_fb():
                tl.weight.grad = None
                (tl(ti, to) if bag else tl(ti)).sum().backward()
        return fl, f_fb, tl, t_fb

    for bag in (False, True):
        for sparse in (False, True):
            fl, f_fb, tl, t_fb = pair(sparse, bag)
            a, r = harness.interleaved(f_fb, t_fb, 7, 0.3, 3, device)
            what = "EmbeddingBag sum 512x20" if bag else "Embedding 4096 ids"
            rows.append(harness.row(f"{what} fwd+bwd {'sparse' if sparse else 'dense'}", shape, a,
                                    "PyTorch" if r is not None else None, r, f"{path} path"))
    # optimiser steps on one sparse gradient of the Embedding
    for name, kw in (("SparseAdam", dict(lr=1e-3)), ("SGD", dict(lr=0.1))):
        fl, f_fb, tl, t_fb = pair(True, False)
        f_fb()
        fopt = getattr(fastnn.optim, name)(fl.parameters(), **kw)
        topt = None
        if torch is not None:
            t_fb()
            topt = getattr(torch.optim, name)(tl.parameters(), **kw)
        a, r = harness.interleaved(fopt.step, topt.step if topt is not None else None, 7, 0.3, 3, device)
        rows.append(harness.row(f"{name} step, sparse grad 4096 ids", shape, a, "PyTorch" if r is not None else None,
                                r, f"{path} path"))
    return rows


if __name__ == "__main__":
    harness.standalone(run)
