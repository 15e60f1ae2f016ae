"""Data-parallel training throughput: the LeNet-5 / Fashion-MNIST training step on 1 and 2 processes.

    python bench/bench_distributed.py [--quick]        (or through bench/run.py, CPU only)

Each configuration runs in its own processes (``mpiexec -n N``), each process on 1 thread
(OMP_NUM_THREADS=1, ``fastnn.set_num_threads(1)``), so 2 processes use the 2 cores of a 2-core
machine. A row compares one global batch of G images: 1 process stepping on G images (the reference
column) against 2 processes stepping on G/2 each with DistributedDataParallel (Adam, 28x28 inputs);
the ratio is the speed-up, the note gives samples/s, the scaling efficiency (speed-up / 2), the step
time of 2 processes stepping on G/2 each without DDP (what the machine allows two processes: the
bound of the speed-up, below 2x when the cores are shared or memory bandwidth is) and the
communication per step: the time the all-reduces of the gradient buckets take when run alone after
backward ("comm"), and the part of it backward did not hide ("exposed": the wait at the end of
backward, which also absorbs the ranks' load imbalance).

LeNet-5's 62k parameters (247 kB) fit in DDP's first 1 MiB bucket, so by default the one all-reduce
starts when backward ends; ``bucket_cap_mb=0.01`` splits them into 3 buckets (fc3+fc2, fc1, the
convolutions) whose first two reductions overlap with the backward of the convolutions (the
"3 buckets" row).

Each pair of configurations is launched ``launches`` times alternately (2, 1 with ``--quick``) and the
fastest launch of each is kept: on a shared machine another tenant taking a core for a while slows
one launch, not all of them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _worker(argv):
    """Body of one process: time DDP (or plain, 1 process) training steps; rank 0 prints a JSON line."""
    import numpy as np

    import fastnn
    from fastnn import nn
    from fastnn.models import LeNet5
    fastnn.set_num_threads(1)
    batch, steps, rounds, mode, cap = int(argv[0]), int(argv[1]), int(argv[2]), argv[3], float(argv[4])
    rank, world, ddp = 0, 1, None
    fastnn.manual_seed(0)
    model = LeNet5(padding=2)
    net = model
    if mode == "ddp":
        import fastnn.distributed as dist
        from fastnn.nn.parallel import DistributedDataParallel
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        net = ddp = DistributedDataParallel(model, bucket_cap_mb=cap)
    g = np.random.default_rng(rank)
    x = fastnn.from_numpy(g.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = fastnn.from_numpy(g.integers(0, 10, batch).astype(np.int64))
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    times, exposed = [], []
    for _ in range(rounds):
        if ddp is not None:
            dist.barrier()
            ddp.comm_stats["exposed_s"] = 0.0
        t = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t) / steps)
        if ddp is not None:
            exposed.append(ddp.comm_stats["exposed_s"] / steps)
    result = {"step_s": float(np.median(times)), "world": world, "batch": batch}
    if ddp is not None:
        result["exposed_s"] = float(np.median(exposed))
        result["buckets"] = len(ddp._buckets)
        # the same all-reduces alone, blocking: what communication costs when nothing hides it
        from fastnn.distributed import _comm
        bufs = [b.buffer.copy() for b in ddp._buckets]
        comm = []
        for _ in range(rounds):
            dist.barrier()
            t = time.perf_counter()
            for _ in range(steps):
                for buf in bufs:
                    _comm.allreduce_array(buf, _comm.ReduceOp.SUM)
            comm.append((time.perf_counter() - t) / steps)
        result["comm_s"] = float(np.median(comm))
        dist.destroy_process_group()
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)


def _launch(n, batch, steps, rounds, mode, cap=25.0):
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(batch), str(steps), str(rounds), mode, str(cap)]
    if n > 1:
        cmd = [shutil.which("mpiexec"), "-n", str(n)] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"bench_distributed: {' '.join(cmd)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    results = [json.loads(ln[len("RESULT "):]) for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    # processes that do not communicate each report: a step of the pair lasts as long as the slower one
    return max(results, key=lambda r: r["step_s"])


def run(device="cpu", quick=False):
    import harness
    if device != "cpu":
        return []                 # one GPU per process: needs a machine with several GPUs
    if shutil.which("mpiexec") is None:
        print("bench_distributed: mpiexec not found (pip install fastnn[distributed]); skipped", flush=True)
        return []
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        print("bench_distributed: mpi4py not installed (pip install fastnn[distributed]); skipped", flush=True)
        return []
    steps, rounds, launches = (5, 3, 1) if quick else (10, 5, 2)
    configs = [(256, 25.0)] if quick else [(64, 25.0), (256, 25.0), (256, 0.01), (512, 25.0)]
    rows = []
    for global_batch, cap in configs:
        ones, twos, alone = [], [], []
        for _ in range(launches):
            ones.append(_launch(1, global_batch, steps, rounds, "plain"))
            twos.append(_launch(2, global_batch // 2, steps, rounds, "ddp", cap))
            alone.append(_launch(2, global_batch // 2, steps, rounds, "plain"))
        one, two, apart = (min(r, key=lambda x: x["step_s"]) for r in (ones, twos, alone))
        t1, t2, t0 = one["step_s"], two["step_s"], apart["step_s"]
        speedup = t1 / t2
        note = (f"{global_batch / t1:.0f} -> {global_batch / t2:.0f} samples/s, speed-up {speedup:.2f}x, "
                f"efficiency {speedup / 2:.0%}; 2 processes without DDP {t0 * 1e3:.1f} ms (bound "
                f"{t1 / t0:.2f}x); comm {two['comm_s'] * 1e3:.2f} ms/step, exposed "
                f"{two['exposed_s'] * 1e3:.2f} ms/step ({two['buckets']} bucket{'s' if two['buckets'] > 1 else ''})")
        label = "DDP LeNet-5 step, 2 processes x 1 thread" + (f", {two['buckets']} buckets" if cap != 25.0 else "")
        rows.append(harness.row(label, f"global batch {global_batch} (28x28)", t2 * 1e3,
                                "1 process x 1 thread", t1 * 1e3, note))
        harness.pause()
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
    else:
        import harness
        harness.standalone(run)
