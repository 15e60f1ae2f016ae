"""The activation kernels (csrc/ops/activation/): ReLU and LeakyReLU(0.2) forward, and forward + backward, on a
DCGAN critic's feature map (64, 64, 14, 14); SiLU and Sigmoid the same on a UNet's first feature map
(64, 32, 28, 28); fastnn vs PyTorch side by side (same input and output gradient, same thread count,
alternating, best of rounds). ``--quick`` uses a batch of 8."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def _fns(lib, x, gy, name, device):
    layer = {"relu": lambda: lib.nn.ReLU(), "leaky_relu": lambda: lib.nn.LeakyReLU(0.2),
             "silu": lambda: lib.nn.SiLU(), "sigmoid": lambda: lib.nn.Sigmoid()}[name]()
    xt = lib.tensor(x, device=device)
    xg = lib.tensor(x, device=device, requires_grad=True)
    g = lib.tensor(gy, device=device)

    def forward():
        return layer(xt)

    def forward_backward():
        xg.grad = None
        layer(xg).backward(g)
    return forward, forward_backward


def run(device="cpu", quick=False):
    import fastnn
    torch = harness.reference_torch(device)
    rng = np.random.default_rng(0)
    batch = 8 if quick else 64
    repeats, min_time, rounds = (3, 0.1, 1) if quick else (7, 0.3, 3)
    rows = []
    for name, label, shape in (("relu", "ReLU", (batch, 64, 14, 14)),
                               ("leaky_relu", "LeakyReLU(0.2)", (batch, 64, 14, 14)),
                               ("silu", "SiLU", (batch, 32, 28, 28)), ("sigmoid", "Sigmoid", (batch, 32, 28, 28))):
        x = rng.standard_normal(shape).astype(np.float32)
        gy = rng.standard_normal(shape).astype(np.float32)
        fast = _fns(fastnn, x, gy, name, device)
        ref = _fns(torch, x, gy, name, device) if torch is not None else (None, None)
        for what, f, r in zip(("fwd", "fwd+bwd"), fast, ref):
            t_fast, t_ref = harness.interleaved(f, r, repeats, min_time, rounds, device)
            rows.append(harness.row(f"{label} {what}", f"{shape} f32", t_fast,
                                    "PyTorch" if t_ref is not None else None, t_ref))
    return rows


if __name__ == "__main__":
    harness.standalone(run)
