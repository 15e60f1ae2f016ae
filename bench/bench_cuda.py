"""GPU kernels: fastnn's CUDA kernels against cuBLAS (through cupy and PyTorch) and cuDNN (PyTorch).

Runs only for ``--device cuda`` (no rows on the CPU). Timing: CUDA events around a run of calls on
the current stream, after warm-up; the row holds the median over several such runs. Inputs are
random (never zeros). Shapes: square SGEMM at 4096 and 8192 (float32, TF32), DGEMM at 2048, the
3x3 convolutions of a ResNet-style network (forward + input-grad + weight-grad), 3x3/2 max pooling,
2x bilinear upsampling, and one optimiser step (fused Adam and SGD kernels) over the 3x3 weights of
a ResNet-style network against PyTorch's default (foreach) implementation. The note column gives the
achieved rate.
"""
from __future__ import annotations

import statistics

import harness


def _events_ms(cp, fn, warmup=2, inner=5, runs=7):
    """Median per-call time in ms: ``runs`` event-timed blocks of ``inner`` back-to-back calls."""
    for _ in range(warmup):
        fn()
    cp.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(runs):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end) / inner)
    return statistics.median(times)


def _torch_cuda():
    torch = harness.try_import_torch()
    if torch is None or not torch.cuda.is_available():
        return None
    return torch


# Shapes (module-level so that a smoke test can shrink them).
GEMM_SIZES = (2048, 4096, 8192)
GEMM_SIZES_QUICK = (4096, 8192)
DGEMM_N = 2048
# ResNet-style 3x3 convolutions, stride 1, padding 1: (N, C, H, W, OC)
CONVS = [(32, 64, 56, 56, 64), (32, 128, 28, 28, 128), (32, 256, 14, 14, 256)]
POOL_INPUT = (32, 64, 112, 112)
# parameter shapes for one optimiser step: the 3x3 convolution weights of a ResNet-18-like network
OPTIM_SHAPES = [(64, 64, 3, 3)] * 4 + [(128, 128, 3, 3)] * 4 + [(256, 256, 3, 3)] * 4 + [(512, 512, 3, 3)] * 4
UPSAMPLE_INPUT = (32, 64, 56, 56)


def _gemm_rows(cp, K, torch, quick):
    rows = []
    sizes = GEMM_SIZES_QUICK if quick else GEMM_SIZES
    reps = dict(runs=3 if quick else 7, inner=3 if quick else 5)
    for n in sizes:
        rng = cp.random.default_rng(0)
        a = rng.standard_normal((1, n, n), dtype=cp.float32)
        b = rng.standard_normal((1, n, n), dtype=cp.float32)
        out = cp.empty((1, n, n), cp.float32)
        flop = 2.0 * n ** 3
        t_fn = _events_ms(cp, lambda: K.gemm(a, b, out, 1.0, 0.0, False), **reps)
        t_ref = _events_ms(cp, lambda: cp.matmul(a[0], b[0], out=out[0]), **reps)
        rows.append(harness.row("sgemm fp32", f"{n}^3", t_fn, "cupy (cuBLAS)", t_ref,
                                f"fastnn {flop / t_fn / 1e9:.1f} TFLOP/s, cuBLAS {flop / t_ref / 1e9:.1f}"))
        t_tf = _events_ms(cp, lambda: K.gemm(a, b, out, 1.0, 0.0, True), **reps)
        t_tref = None
        if torch is not None:
            ta, tb = torch.as_tensor(a[0], device="cuda"), torch.as_tensor(b[0], device="cuda")
            old = torch.backends.cuda.matmul.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = True
            try:
                t_tref = _events_ms(cp, lambda: torch.matmul(ta, tb), **reps)
            finally:
                torch.backends.cuda.matmul.allow_tf32 = old
        rows.append(harness.row("sgemm tf32", f"{n}^3", t_tf, "torch (cuBLAS TF32)" if t_tref else None, t_tref,
                                f"fastnn {flop / t_tf / 1e9:.1f} TFLOP/s"
                                + (f", cuBLAS {flop / t_tref / 1e9:.1f}" if t_tref else "")))
    n = DGEMM_N
    rng = cp.random.default_rng(1)
    a = rng.standard_normal((1, n, n), dtype=cp.float64)
    b = rng.standard_normal((1, n, n), dtype=cp.float64)
    out = cp.empty((1, n, n), cp.float64)
    t_fn = _events_ms(cp, lambda: K.gemm(a, b, out), **reps)
    t_ref = _events_ms(cp, lambda: cp.matmul(a[0], b[0], out=out[0]), **reps)
    rows.append(harness.row("dgemm fp64", f"{n}^3", t_fn, "cupy (cuBLAS)", t_ref,
                            f"fastnn {2.0 * n ** 3 / t_fn / 1e9:.1f} TFLOP/s"))
    return rows


def _conv_rows(cp, K, torch, quick):
    rows = []
    reps = dict(runs=3 if quick else 7, inner=2 if quick else 5)
    for N, C, H, W, OC in (CONVS[:2] if quick else CONVS):
        rng = cp.random.default_rng(2)
        x = rng.standard_normal((N, C, H, W), dtype=cp.float32)
        w = rng.standard_normal((OC, C, 3, 3), dtype=cp.float32) * 0.05
        dy = rng.standard_normal((N, OC, H, W), dtype=cp.float32)

        fwd = lambda: K.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)  # noqa: E731
        dgrad = lambda: K.conv2d_backward_input(dy, w, (H, W), (1, 1), (1, 1), (1, 1), 1)  # noqa: E731
        wgrad = lambda: K.conv2d_backward_weight(x, dy, (3, 3), (1, 1), (1, 1), (1, 1), 1)  # noqa: E731
        refs = {}
        if torch is not None:
            tx = torch.as_tensor(x, device="cuda")
            tw = torch.as_tensor(w, device="cuda")
            tdy = torch.as_tensor(dy, device="cuda")
            F = torch.nn.functional
            refs = {"fwd": lambda: F.conv2d(tx, tw, padding=1),
                    "dgrad": lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, padding=1),
                    "wgrad": lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, padding=1)}
        flop = 2.0 * N * OC * H * W * C * 9
        total_fn = total_ref = 0.0
        for name, fn in (("fwd", fwd), ("dgrad", dgrad), ("wgrad", wgrad)):
            t_fn = _events_ms(cp, fn, **reps)
            t_ref = None
            if name in refs:
                old = torch.backends.cudnn.allow_tf32
                torch.backends.cudnn.allow_tf32 = False  # fastnn's conv runs in float32 by default
                try:
                    t_ref = _events_ms(cp, refs[name], **reps)
                finally:
                    torch.backends.cudnn.allow_tf32 = old
            total_fn += t_fn
            total_ref = None if t_ref is None or total_ref is None else total_ref + t_ref
            rows.append(harness.row(f"conv2d {name} fp32", f"{N}x{C}x{H}x{W}, {OC}x3x3", t_fn,
                                    "torch (cuDNN fp32)" if t_ref else None, t_ref,
                                    f"fastnn {flop / t_fn / 1e9:.1f} TFLOP/s"))
        rows.append(harness.row("conv2d fwd+bwd fp32", f"{N}x{C}x{H}x{W}, {OC}x3x3", total_fn,
                                "torch (cuDNN fp32)" if total_ref else None, total_ref or None,
                                f"fastnn {3 * flop / total_fn / 1e9:.1f} TFLOP/s"))
    return rows


def _pool_interp_rows(cp, K, torch, quick):
    rows = []
    reps = dict(runs=3 if quick else 7, inner=5 if quick else 20)
    rng = cp.random.default_rng(3)
    x = rng.standard_normal(POOL_INPUT, dtype=cp.float32)
    H, W = POOL_INPUT[2:]
    shape = "x".join(map(str, POOL_INPUT))
    t_fn = _events_ms(cp, lambda: K.max_pool2d(x, (3, 3), (2, 2), (1, 1), (1, 1), False, True), **reps)
    t_ref = None
    if torch is not None:
        tx = torch.as_tensor(x, device="cuda")
        t_ref = _events_ms(cp, lambda: torch.nn.functional.max_pool2d(tx, 3, 2, 1, return_indices=True), **reps)
    gb = (x.nbytes + x.nbytes / 4 * 3) / 1e9  # input read, values + int64 indices written
    rows.append(harness.row("max_pool2d 3x3/2 fwd", shape, t_fn, "torch (cuDNN/ATen)" if t_ref else None,
                            t_ref, f"fastnn {gb / t_fn * 1e3:.0f} GB/s"))
    y, idx = K.max_pool2d(x, (3, 3), (2, 2), (1, 1), (1, 1), False, True)
    dy = rng.standard_normal(y.shape, dtype=cp.float32)
    t_fn = _events_ms(cp, lambda: K.max_pool2d_backward(dy, idx, (H, W)), **reps)
    t_ref = None
    if torch is not None:
        ty = torch.as_tensor(dy, device="cuda")
        tidx = torch.as_tensor(idx, device="cuda")
        t_ref = _events_ms(cp, lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            ty, tx, [3, 3], [2, 2], [1, 1], [1, 1], False, tidx), **reps)
    rows.append(harness.row("max_pool2d 3x3/2 bwd", shape, t_fn, "torch (ATen)" if t_ref else None, t_ref))
    t_fn = _events_ms(cp, lambda: K.avg_pool2d(x, (2, 2), (2, 2), (0, 0), False, True, 0), **reps)
    t_ref = None
    if torch is not None:
        t_ref = _events_ms(cp, lambda: torch.nn.functional.avg_pool2d(tx, 2), **reps)
    rows.append(harness.row("avg_pool2d 2x2/2 fwd", shape, t_fn, "torch (cuDNN/ATen)" if t_ref else None,
                            t_ref))
    xs = rng.standard_normal(UPSAMPLE_INPUT, dtype=cp.float32)
    up = (2 * UPSAMPLE_INPUT[2], 2 * UPSAMPLE_INPUT[3])
    t_fn = _events_ms(cp, lambda: K.upsample2d(xs, "bilinear", up, False, (0.0, 0.0)), **reps)
    t_ref = None
    if torch is not None:
        txs = torch.as_tensor(xs, device="cuda")
        t_ref = _events_ms(cp, lambda: torch.nn.functional.interpolate(txs, size=up, mode="bilinear"), **reps)
    rows.append(harness.row("upsample bilinear x2 fwd", "x".join(map(str, UPSAMPLE_INPUT)), t_fn, "torch (ATen)" if t_ref else None, t_ref))
    return rows


def _optim_rows(cp, torch, quick):
    import fastnn
    rows = []
    reps = dict(runs=3 if quick else 7, inner=5 if quick else 20)
    rng = cp.random.default_rng(4)
    weights = [rng.standard_normal(s, dtype=cp.float32) for s in OPTIM_SHAPES]
    grads = [rng.standard_normal(s, dtype=cp.float32) for s in OPTIM_SHAPES]
    n = sum(w.size for w in weights)
    shape = f"{len(OPTIM_SHAPES)} params, {n / 1e6:.1f}M f32"
    for name, kwargs in (("Adam", dict(lr=1e-3)), ("SGD", dict(lr=0.1, momentum=0.9))):
        params = [fastnn.from_dlpack(w.copy()).requires_grad_() for w in weights]
        for p, g in zip(params, grads):
            p.grad = fastnn.from_dlpack(g)
        opt = getattr(fastnn.optim, name)(params, **kwargs)
        t_fn = _events_ms(cp, opt.step, **reps)
        t_ref = None
        if torch is not None:
            tparams = [torch.as_tensor(w.copy(), device="cuda").requires_grad_() for w in weights]
            for p, g in zip(tparams, grads):
                p.grad = torch.as_tensor(g, device="cuda")
            topt = getattr(torch.optim, name)(tparams, **kwargs)
            t_ref = _events_ms(cp, topt.step, **reps)
        # per element: Adam reads p, g, m, v and writes p, m, v; SGD reads p, g, buf and writes p, buf
        words = (7 if name == "Adam" else 5) * n
        rows.append(harness.row(f"{name} step (fused kernel)", shape, t_fn, "torch (foreach)" if t_ref else None,
                                t_ref, f"fastnn {words * 4 / t_fn / 1e6:.0f} GB/s"))
    return rows


def run(device: str, quick: bool) -> list[dict]:
    if not device.startswith("cuda"):
        return []
    from fastnn import backend
    if not backend.cuda_available():
        raise RuntimeError("bench_cuda: --device cuda requested but CUDA is not available to fastnn")
    cp = backend.cupy_module()
    K = backend.kernel_module("cuda")     # fastnn._C_cuda: the functions of fastnn._C on cupy arrays
    torch = _torch_cuda()
    rows = []
    rows += _gemm_rows(cp, K, torch, quick)
    rows += _conv_rows(cp, K, torch, quick)
    rows += _pool_interp_rows(cp, K, torch, quick)
    rows += _optim_rows(cp, torch, quick)
    return rows
