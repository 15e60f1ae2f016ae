"""all_reduce of fastnn.distributed: correctness against numpy, then time and bandwidth per message size.

    python -m fastnn.distributed.run -n 2 bench/dist_allreduce.py            CPU tensors over MPI
    python bench/dist_allreduce.py --device cuda                             one GPU, NCCL (world size 1)
    mpirun -n 8 python bench/dist_allreduce.py --device cuda                 one process per GPU

Prints, per size, the median time of a float32 SUM all_reduce, the algorithm bandwidth (bytes / time) and
the bus bandwidth (algorithm bandwidth × 2(n−1)/n, the traffic each link carries in a ring: nccl-tests'
figure; 0 for one rank, where NCCL only copies). Rank 0 prints; ``--json`` writes the rows. Not a
bench_*.py: bench/run.py runs those in one process, and this one needs the launcher.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import fastnn
import fastnn.distributed as dist


def check(device, n, r):
    """Every op on float32/float64/int64 against numpy (each rank's data is known to all)."""
    for dtype in (np.float32, np.float64, np.int64):
        for op in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
            if op == "AVG" and dtype == np.int64:
                continue
            parts = [np.random.default_rng(k).integers(-3, 4, 4099).astype(dtype) for k in range(n)]
            t = fastnn.from_numpy(parts[r].copy()).to(device)
            dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
            stack = np.stack(parts)
            want = {"SUM": stack.sum(0), "AVG": stack.sum(0) / n, "MAX": stack.max(0), "MIN": stack.min(0),
                    "PRODUCT": stack.prod(0)}[op].astype(dtype)
            got = t.cpu().numpy()
            if not np.array_equal(got, want):
                raise SystemExit(f"all_reduce {op} {np.dtype(dtype).name} on {device}: wrong result "
                                 f"(max abs error {np.abs(got.astype(float) - want).max()})")
    t = fastnn.full((1000,), float(r)).to(device)
    dist.broadcast(t, src=n - 1)
    assert np.array_equal(t.cpu().numpy(), np.full(1000, n - 1, np.float32)), "broadcast"


def sync(device):
    if device == "cuda":
        fastnn.cuda.synchronize()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--sizes-mb", default="1,4,16,64,256")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    dist.init_process_group("nccl" if a.device == "cuda" else "gloo")
    n, r = dist.get_world_size(), dist.get_rank()
    check(a.device, n, r)
    if r == 0:
        print(f"all_reduce correct on {a.device} with {n} rank(s), backend {dist.get_backend()}: SUM AVG MAX MIN "
              "PRODUCT x float32 float64 int64, broadcast", flush=True)
        print(f"{'size':>8} {'time ms':>9} {'algbw GB/s':>11} {'busbw GB/s':>11}")
    rows = []
    for mb in (float(s) for s in a.sizes_mb.split(",")):
        nbytes = int(mb * (1 << 20))
        t = fastnn.ones(nbytes // 4).to(a.device)
        dist.all_reduce(t)  # warm-up (and NCCL's first-use setup)
        times = []
        for _ in range(a.repeats):
            dist.barrier()
            sync(a.device)
            t0 = time.perf_counter()
            dist.all_reduce(t)
            sync(a.device)
            times.append(time.perf_counter() - t0)
        tmax = fastnn.tensor([float(np.median(times))], dtype=fastnn.float64)
        dist.all_reduce(tmax, op=dist.ReduceOp.MAX)  # the slowest rank's median
        sec = float(tmax.numpy()[0])
        algbw = nbytes / sec / 1e9
        busbw = algbw * 2 * (n - 1) / n
        rows.append({"bytes": nbytes, "ms": sec * 1e3, "algbw_GBs": algbw, "busbw_GBs": busbw})
        if r == 0:
            print(f"{mb:>6g}MB {sec * 1e3:>9.3f} {algbw:>11.2f} {busbw:>11.2f}", flush=True)
    if r == 0 and a.json:
        with open(a.json, "w") as f:
            json.dump({"device": a.device, "world_size": n, "backend": dist.get_backend(), "rows": rows}, f, indent=1)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
