"""max_pool2d and avg_pool2d 2x2 stride 2 on (32, 64, 56, 56), forward and forward+backward, fastnn vs
PyTorch CPU side by side (same thread count, alternating, best of rounds). ``--quick`` uses N=8. The CPU
path in use (FASTNN_CPU_PATH picks one) is printed first and noted on every row."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def run(device="cpu", quick=False):
    import fastnn
    import fastnn.nn.functional as F
    torch = harness.try_import_torch() if device == "cpu" else None
    if torch is not None:
        torch.set_num_threads(fastnn.get_num_threads())
    n = 8 if quick else 32
    x = np.random.default_rng(0).standard_normal((n, 64, 56, 56)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((n, 64, 28, 28)).astype(np.float32)
    fx = fastnn.tensor(x, device=device, requires_grad=True)
    fg = fastnn.tensor(g, device=device)
    tx = tg = None
    if torch is not None:
        tx = torch.tensor(x, requires_grad=True)
        tg = torch.tensor(g)
    mbytes = x.nbytes / 1e6
    rows = []
    for name in ("max_pool2d", "avg_pool2d"):
        fop = getattr(F, name)

        def f_fwd():
            with fastnn.no_grad():
                return fop(fx, 2)

        def f_fb():
            fx.grad = None
            fop(fx, 2).backward(fg)

        t_fwd = t_fb = None
        if torch is not None:
            top = getattr(torch.nn.functional, name)

            def t_fwd():
                with torch.no_grad():
                    return top(tx, 2)

            def t_fb():
                tx.grad = None
                top(tx, 2).backward(tg)

        for kind, ff, tf in (("fwd", f_fwd, t_fwd), ("fwd+bwd", f_fb, t_fb)):
            a, r = harness.interleaved(ff, tf, 7, 0.3, 3)
            rows.append(harness.row(f"{name} 2x2 {kind}", f"({n}, 64, 56, 56) f32", a,
                                    "PyTorch" if r is not None else None, r,
                                    f"fastnn reads the input at {mbytes / a:.1f} GB/s, {fastnn._C.cpu_path()} path"))
    return rows


if __name__ == "__main__":
    harness.standalone(run)
