"""Shared timing for bench/bench_*.py: median of repeats after warm-up, side by side with a reference.

Each ``bench_<family>.py`` defines ``run(device: str, quick: bool) -> list[dict]``; every row has
``op``, ``shape``, ``fastnn_ms``, ``ref``, ``ref_ms`` (``None`` when no reference is installed)
and optionally ``note``. ``bench/run.py`` collects the rows into one table.
"""
from __future__ import annotations

import statistics
import time

import numpy as np


def _sync(device):
    if device.startswith("cuda"):
        import fastnn.backend as backend
        backend.array_module(device).cuda.Device().synchronize()


def time_ms(fn, device="cpu", warmup=2, repeats=7, min_time=0.0):
    """Median wall time of ``fn()`` in milliseconds (CUDA work synchronised on each call).

    ``min_time`` (seconds) raises the repeat count for very short calls so the median is stable.
    """
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    start_all = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start_all) < min_time:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
        if len(times) > 10000:
            break
    return 1e3 * statistics.median(times)


def interleaved(fn_fast, fn_ref, repeats, min_time, rounds, device="cpu", warmup=2):
    """Best-of-rounds medians of ``fn_fast`` and ``fn_ref`` (None: no reference), alternating the two so
    that load from other processes on a shared machine hits both alike."""
    best_f = best_r = None
    for _ in range(rounds):
        t = time_ms(fn_fast, device, warmup=warmup, repeats=repeats, min_time=min_time)
        best_f = t if best_f is None else min(best_f, t)
        if fn_ref is not None:
            pause()
            t = time_ms(fn_ref, device, warmup=warmup, repeats=repeats, min_time=min_time)
            best_r = t if best_r is None else min(best_r, t)
            pause()
    return best_f, best_r


def pause(seconds=0.2):
    """Let OpenBLAS/OpenMP worker threads stop spinning before timing another library."""
    time.sleep(seconds)


def row(op, shape, fastnn_ms, ref, ref_ms, note=""):
    return {"op": op, "shape": shape, "fastnn_ms": fastnn_ms, "ref": ref, "ref_ms": ref_ms, "note": note}


def standalone(run, argv=None):
    """A bench script run on its own: ``--threads N`` (both libraries use it), ``--quick``; prints what
    the figures are measured on, then one line per row of ``run("cpu", quick)``. Returns the rows."""
    import sys

    import fastnn
    argv = sys.argv[1:] if argv is None else argv
    if "--threads" in argv:
        fastnn.set_num_threads(int(argv[argv.index("--threads") + 1]))
    print(f"fastnn on {fastnn._C.cpu_model()}, CPU path {fastnn._C.cpu_path()}, {fastnn.get_num_threads()} threads",
          flush=True)
    rows = run("cpu", "--quick" in argv)
    if rows:
        w_op = max(len(r["op"]) for r in rows)
        w_shape = max(len(r["shape"]) for r in rows)
        for r in rows:
            ref = f"{r['ref']} {r['ref_ms']:9.3f} ms  {r['ref_ms'] / r['fastnn_ms']:6.2f}x" if r.get("ref_ms") else "no reference"
            print(f"{r['op']:<{w_op}}  {r['shape']:<{w_shape}}  fastnn {r['fastnn_ms']:9.3f} ms  {ref}  {r['note']}",
                  flush=True)
    return rows


def try_import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def reference_torch(device):
    """PyTorch as the reference for ``device``, or None: none installed, or a CPU-only build asked to
    time the GPU. On the CPU it runs with fastnn's thread count."""
    torch = try_import_torch()
    if torch is None:
        return None
    if device != "cpu":
        return torch if torch.cuda.is_available() else None
    import fastnn
    torch.set_num_threads(fastnn.get_num_threads())
    return torch


def synced(torch, fn):
    """``fn`` followed by a wait for PyTorch's GPU, so its wall time covers the work it queued."""
    def run():
        fn()
        torch.cuda.synchronize()
    return run


def model_step_rows(name, shape, batch, steps_fast, steps_ref, repeats, min_time, rounds, device="cpu"):
    """Rows "<name> Adam training step" and "<name> inference forward" from (train, infer) callables of
    each library (``steps_ref`` None without a reference), with the throughputs in the notes."""
    rows = []
    for k, what in enumerate(("Adam training step", "inference forward")):
        fn_ref = None
        if steps_ref is not None:
            fn_ref = synced(try_import_torch(), steps_ref[k]) if device != "cpu" else steps_ref[k]
        t_fast, t_ref = interleaved(steps_fast[k], fn_ref, repeats, min_time, rounds, device)
        note = f"fastnn {batch / t_fast * 1e3:,.0f} samples/s"
        if t_ref is not None:
            note += f", PyTorch {batch / t_ref * 1e3:,.0f} samples/s"
        rows.append(row(f"{name} {what}", shape, t_fast, "PyTorch" if t_ref is not None else None, t_ref, note))
    return rows


def copy_weights(torch, src, dst):
    """PyTorch model ``dst`` given fastnn model ``src``'s state (the same state-dict names)."""
    dst.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in src.state_dict().items()})


def adam_steps(lib, model, loss_fn, x, y, device="cpu"):
    """(train, infer) callables of ``lib`` (fastnn or torch): one Adam step on (x, y) with ``loss_fn``, in
    training mode, and one forward without gradients in eval mode."""
    xt, yt = lib.tensor(x, device=device), lib.tensor(y, device=device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def train():
        model.train()
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()

    def infer():
        model.eval()
        with lib.no_grad():
            model(xt)

    return train, infer
