"""The Philox random-fill kernels (csrc/ops/random/): dropout in training (the mask drawn and applied) on an
activation of (32, 64, 56, 56) and a standard-normal fill of 4M values, fastnn vs PyTorch CPU side by side
(same thread count, alternating, best of rounds). ``--quick`` uses N=8 and 1M values."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def run(device="cpu", quick=False):
    import fastnn
    import fastnn.nn.functional as F
    from fastnn import _C
    if device != "cpu":
        return []  # the CUDA module has no random kernels bound yet
    torch = harness.try_import_torch()
    if torch is not None:
        torch.set_num_threads(fastnn.get_num_threads())
    n = 8 if quick else 32
    x = np.random.default_rng(0).standard_normal((n, 64, 56, 56)).astype(np.float32)
    fx = fastnn.tensor(x)
    tx = torch.tensor(x) if torch is not None else None
    rows = []

    def f_dropout():
        return F.dropout(fx, 0.5)

    t_dropout = (lambda: torch.nn.functional.dropout(tx, 0.5)) if torch is not None else None
    a, r = harness.interleaved(f_dropout, t_dropout, 7, 0.3, 3)
    rows.append(harness.row("dropout p=0.5 (train)", f"({n}, 64, 56, 56) f32", a, "PyTorch" if r is not None else None,
                            r, f"fastnn {x.size / a / 1e6:.2f} G elements/s"))

    size = (1 if quick else 4) << 20
    out = np.empty(size, np.float32)

    def f_normal():
        fastnn.random.philox_draw(lambda key, offset: _C.philox_normal(out, key, offset))

    t_normal = None
    if torch is not None:
        tout = torch.empty(size)
        t_normal = lambda: tout.normal_()  # noqa: E731
    a, r = harness.interleaved(f_normal, t_normal, 7, 0.3, 3)
    rows.append(harness.row("normal fill (Philox, Box-Muller)", f"{size >> 20}M f32", a,
                            "PyTorch" if r is not None else None, r, f"fastnn {size / a / 1e6:.2f} G values/s"))
    return rows


if __name__ == "__main__":
    harness.standalone(run)
