"""GEMM: fastnn's kernel (through kernels.matmul) against numpy.matmul (OpenBLAS), 1 and 2 threads.

Shapes: squares 64 to 2048 and the layers of an MNIST MLP (128x784 @ 784x256, 128x256 @ 256x128),
float32, plus float64 at 512 and 1024, and a graph layer's narrow products on a Cora-sized graph
(X @ W: 2708x1433 @ 1433x16, and the weight gradient G^T @ X with G^T a transposed view of
2708x16), where the note also gives PyTorch's time when it is installed. Each row is the best of five alternating rounds of
(numpy median, fastnn median), so that load from other processes on a shared machine hits both
and a burst of it during one round does not decide the row. Each note names fastnn's CPU path
and the kernel OpenBLAS runs (threadpoolctl's "architecture").

OpenBLAS picks its kernel when it loads, from OPENBLAS_CORETYPE when that is set (some machines
set it, with OPENBLAS_L2_SIZE, to force an older kernel). Run on its own,

    python bench/bench_gemm.py [--quick]

this file restarts itself without those two variables, so numpy runs its native kernel.
"""
from __future__ import annotations

import os
import sys

import harness

FORCED_OPENBLAS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

SQUARES = [64, 128, 256, 512, 1024, 2048]
MLP = [(128, 256, 784), (128, 128, 256)]  # (M, N, K): (M, K) @ (K, N)
GAT = [(2708, 16, 1433, False), (16, 1433, 2708, True)]  # (M, N, K, a is a transposed view)
# a linear layer's weight gradient over 1024 positions (attention projections of a UNet): the depth split
WGRAD = [(64, 64, 1024, True)]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _thread_limiter():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits


def openblas_kernel() -> str:
    """The kernel OpenBLAS runs, as threadpoolctl reports it ("unknown" without threadpoolctl)."""
    try:
        import numpy as np
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    np.ones(2) @ np.ones(2)  # loads the BLAS
    for info in threadpool_info():
        if info.get("internal_api") == "openblas":
            return f"OpenBLAS {info.get('version')} {info.get('architecture')}"
    return "not OpenBLAS"


def run(device: str, quick: bool) -> list[dict]:
    if not device.startswith("cpu"):
        return []
    import numpy as np

    import fastnn
    from fastnn import kernels

    limiter = _thread_limiter()
    setting = f"fastnn {fastnn._C.cpu_path()}, {openblas_kernel()}"
    forced = [v for v in FORCED_OPENBLAS if os.environ.get(v)]
    if forced:
        setting += " (forced by " + ", ".join(forced) + ")"
    shapes = [("sgemm", n, n, n, np.float32, False) for n in (SQUARES if not quick else [64, 256, 1024])]
    shapes += [("sgemm", m, n, k, np.float32, False) for m, n, k in MLP]
    if not quick:
        shapes += [("dgemm", n, n, n, np.float64, False) for n in (512, 1024)]
    shapes += [("sgemm", m, n, k, np.float32, ta) for m, n, k, ta in GAT + WGRAD]
    torch = _torch()
    rounds = 2 if quick else 5
    rng = np.random.default_rng(0)
    old_threads = fastnn.get_num_threads()
    rows = []
    try:
        for op, M, N, K, dtype, ta in shapes:
            a = rng.standard_normal((K, M)).astype(dtype).T if ta else rng.standard_normal((M, K)).astype(dtype)
            b = rng.standard_normal((K, N)).astype(dtype)
            c = np.empty((M, N), dtype)
            flop = 2.0 * M * N * K
            # About 0.2 s of work per timing block, at least 3 repeats.
            repeats = max(3, min(200, int(0.2 * 60e9 / flop)))
            for threads in (1, 2):
                fastnn.set_num_threads(threads)
                ctx = limiter(limits=threads) if limiter else None
                if ctx:
                    ctx.__enter__()
                try:
                    # PyTorch only for the graph layer's and the weight gradient's shapes, where it is the usual
                    # reference.
                    t_th = float("inf") if torch is not None and (M, N, K, ta) in GAT + WGRAD else None
                    if t_th is not None:
                        torch.set_num_threads(threads)
                        a_th, b_th = torch.from_numpy(a), torch.from_numpy(b)
                    t_np = t_fn = float("inf")
                    for _ in range(rounds):
                        if t_th is not None:
                            t_th = min(t_th, harness.time_ms(lambda: torch.matmul(a_th, b_th), repeats=repeats))
                        t_np = min(t_np, harness.time_ms(lambda: np.matmul(a, b, out=c), repeats=repeats))
                        harness.pause(0.2)  # OpenBLAS workers spin for ~0.1 s after a call
                        t_fn = min(t_fn, harness.time_ms(lambda: kernels.matmul(a, b, out=c), repeats=repeats))
                        harness.pause(0.05)
                finally:
                    if ctx:
                        ctx.__exit__(None, None, None)
                gf_fn, gf_np = flop / t_fn / 1e6, flop / t_np / 1e6
                note = f"{threads} thr: fastnn {gf_fn:.0f} GFLOP/s, numpy {gf_np:.0f} GFLOP/s"
                if t_th is not None:
                    note += f", torch {t_th:.3f} ms ({flop / t_th / 1e6:.0f} GFLOP/s)"
                note += f"; {setting}"
                if limiter is None:
                    note += " (numpy threads not limited: threadpoolctl missing)"
                rows.append(harness.row(op, f"{M}x{K}{'(T)' if ta else ''} @ {K}x{N}, {threads} thr", t_fn,
                                        "numpy (OpenBLAS)", t_np, note))
    finally:
        fastnn.set_num_threads(old_threads)
    return rows


if __name__ == "__main__":
    if any(os.environ.get(v) for v in FORCED_OPENBLAS):
        env = {k: v for k, v in os.environ.items() if k not in FORCED_OPENBLAS}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    for r in run("cpu", "--quick" in sys.argv[1:]):
        ratio = r["ref_ms"] / r["fastnn_ms"] if r.get("ref_ms") else float("nan")
        print(f"{r['op']:6} {r['shape']:32} fastnn {r['fastnn_ms']:9.3f} ms  numpy {r['ref_ms']:9.3f} ms  "
              f"ratio {ratio:5.2f}  {r['note']}")
