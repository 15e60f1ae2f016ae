"""Normalisation, fastnn vs PyTorch side by side: nn.LayerNorm forward + backward (the input's and the
parameters' gradients) at a transformer's token block (32*64 tokens of width 128) and a wide one (8192 x 1024);
nn.BatchNorm2d in training mode, forward + backward, on a DCGAN generator's feature maps (batch 64);
nn.GroupNorm(8, C) forward + backward on a small UNet's feature maps (batch 64, 28x28 and 7x7), and GroupNorm
followed by SiLU (a UNet resnet's norm -> activation): fastnn's fused ``F.group_norm_silu`` against PyTorch's
``F.silu(F.group_norm(...))``.

Both libraries get the same input, output gradient and thread count; the two are timed alternately.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SHAPES = ((32 * 64, 128), (8192, 1024))
BATCH_NORM_SHAPES = ((64, 128, 7, 7), (64, 64, 14, 14))
GROUP_NORM_SHAPES = ((64, 32, 28, 28), (64, 64, 7, 7))


def _step(lib, x, gy, device, layer="LayerNorm"):
    xt = lib.tensor(x, device=device, requires_grad=True)
    g = lib.tensor(gy, device=device)
    kind = "GroupNorm" if layer.startswith("GroupNorm") else layer
    m = (lib.nn.GroupNorm(8, x.shape[1]) if kind == "GroupNorm" else getattr(lib.nn, kind)(x.shape[1])).to(device)
    if layer == "GroupNormSiLU":
        F = lib.nn.functional
        fused = getattr(F, "group_norm_silu", None)
        if fused is not None:
            def forward(t):
                return fused(t, 8, m.weight, m.bias, m.eps)
        else:
            def forward(t):
                return F.silu(F.group_norm(t, 8, m.weight, m.bias, m.eps))
    else:
        forward = m

    def run():
        xt.grad = None
        m.weight.grad = m.bias.grad = None
        forward(xt).backward(g)
    return run


def run(device="cpu", quick=False):
    import fastnn
    torch = harness.reference_torch(device)
    rng = np.random.default_rng(0)
    repeats, min_time, rounds = (3, 0.1, 1) if quick else (7, 0.5, 3)
    rows = []
    for shape in SHAPES:
        x = rng.standard_normal(shape).astype(np.float32)
        gy = rng.standard_normal(shape).astype(np.float32)
        ff = _step(fastnn, x, gy, device)
        ft = None if torch is None else _step(torch, x, gy, device)
        t_fast, t_ref = harness.interleaved(ff, ft, repeats, min_time, rounds, device)
        rows.append(harness.row("LayerNorm forward+backward", f"{shape[0]}x{shape[1]}", t_fast,
                                "PyTorch" if t_ref is not None else None, t_ref))
    for label, layer, shapes in (("BatchNorm2d train fwd+bwd", "BatchNorm2d", BATCH_NORM_SHAPES),
                                 ("GroupNorm(8) fwd+bwd", "GroupNorm", GROUP_NORM_SHAPES),
                                 ("GroupNorm(8)+SiLU fwd+bwd", "GroupNormSiLU", GROUP_NORM_SHAPES)):
        for shape in shapes:
            x = rng.standard_normal(shape).astype(np.float32)
            gy = rng.standard_normal(shape).astype(np.float32)
            ff = _step(fastnn, x, gy, device, layer)
            ft = None if torch is None else _step(torch, x, gy, device, layer)
            t_fast, t_ref = harness.interleaved(ff, ft, repeats, min_time, rounds, device)
            rows.append(harness.row(label, "x".join(map(str, shape)), t_fast,
                                    "PyTorch" if t_ref is not None else None, t_ref))
    return rows


if __name__ == "__main__":
    harness.standalone(run)
