"""Fused attention, fastnn's flash-attention kernels vs PyTorch's scaled_dot_product_attention, side by side.

CPU (float32, both libraries on the same thread count): B8 H8 L512 D64 and B4 H8 L2048 D64, forward and
forward + backward, causal and not. fastnn runs through its array-level entries
(``kernels.attention_forward`` / ``attention_backward``); PyTorch through ``F.scaled_dot_product_attention``
on tensors that require grad, then ``backward``. With ``--device cuda`` (a GPU, cupy and a CUDA PyTorch):
B4 H16 L4096 D64 and D128 in float32, float16 and bfloat16 (bfloat16 when ml_dtypes gives cupy the dtype).
The note gives fastnn's rate in GFLOP/s (4 B H Lq Lk D for the forward, 3.5 times that with the backward,
halved when causal).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CPU_SHAPES = [(8, 8, 512, 64), (4, 8, 2048, 64)]
GPU_SHAPES = [(4, 16, 4096, 64), (4, 16, 4096, 128)]


def _flops(B, H, L, D, causal, backward):
    f = 4.0 * B * H * L * L * D * (3.5 if backward else 1.0)
    return f / 2 if causal else f


def _gpu_arrays(dtype_name, shape, rng):
    """q, k, v, dout as cupy arrays of `dtype_name`, or None when this cupy cannot hold the dtype."""
    import fastnn.backend as backend
    cp = backend.array_module("cuda")
    if dtype_name == "bfloat16":
        try:
            import ml_dtypes
            host = [rng.standard_normal(shape).astype(np.float32).astype(ml_dtypes.bfloat16) for _ in range(4)]
            return [cp.asarray(a.view(np.uint16)).view(ml_dtypes.bfloat16) for a in host]
        except Exception:  # noqa: BLE001 - no ml_dtypes, or cupy refuses the dtype
            return None
    return [cp.asarray(rng.standard_normal(shape).astype(dtype_name)) for _ in range(4)]


def _rows_for(shape, dtype_name, device, torch, quick, rng):
    from fastnn import kernels
    B, H, L, D = shape
    scale = 1 / np.sqrt(D)
    on_gpu = device != "cpu"
    if on_gpu:
        arrays = _gpu_arrays(dtype_name, shape, rng)
        if arrays is None:
            return []
    else:
        arrays = [rng.standard_normal(shape).astype(dtype_name) for _ in range(4)]
    q, k, v, do = arrays
    tq = tk = tv = tdo = None
    if torch is not None:
        tdt = getattr(torch, dtype_name)
        tq, tk, tv, tdo = (torch.tensor(rng.standard_normal(shape), dtype=tdt, device=device) for _ in range(4))
        for t in (tq, tk, tv):
            t.requires_grad_(True)
    repeats, min_time, rounds = (3, 0.2, 1) if quick else (5, 1.0, 2)
    rows = []
    for causal in (False, True):
        def fwd():
            kernels.attention_forward(q, k, v, None, causal, scale)

        def fwd_bwd():
            out, lse, _ = kernels.attention_forward(q, k, v, None, causal, scale)
            kernels.attention_backward(do, q, k, v, out, lse, None, causal, scale)

        t_fwd = t_fwd_bwd = None
        if torch is not None:
            F = torch.nn.functional

            def t_fwd():
                with torch.no_grad():
                    F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal, scale=scale)

            def t_fwd_bwd():
                out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal, scale=scale)
                out.backward(tdo)
                tq.grad = tk.grad = tv.grad = None

        for what, ff, ft, backward in (("fwd", fwd, t_fwd, False), ("fwd+bwd", fwd_bwd, t_fwd_bwd, True)):
            t_fast, t_ref = harness.interleaved(ff, ft, repeats, min_time, rounds, device)
            rate = _flops(B, H, L, D, causal, backward) / (t_fast * 1e6)
            rows.append(harness.row(f"attention {what}{' causal' if causal else ''}",
                                    f"B{B} H{H} L{L} D{D} {dtype_name}", t_fast,
                                    "PyTorch SDPA" if t_ref is not None else None, t_ref,
                                    f"fastnn {rate:.0f} GFLOP/s"))
    return rows


def run(device="cpu", quick=False):
    import fastnn
    torch = harness.try_import_torch()
    on_gpu = device != "cpu"
    if on_gpu:
        import fastnn.backend as backend
        if not backend.cuda_available():
            return []
        if torch is not None and not torch.cuda.is_available():
            torch = None  # a CPU-only PyTorch is no reference for the GPU
    elif torch is not None:
        torch.set_num_threads(fastnn.get_num_threads())
    rng = np.random.default_rng(0)
    rows = []
    if on_gpu:
        for shape in GPU_SHAPES:
            for dtype_name in ("float32", "float16", "bfloat16"):
                rows += _rows_for(shape, dtype_name, device, torch, quick, rng)
    else:
        for shape in CPU_SHAPES:
            rows += _rows_for(shape, "float32", device, torch, quick, rng)
    return rows


if __name__ == "__main__":
    harness.standalone(run)
