"""Data-parallel training throughput: the LeNet-5 / Fashion-MNIST training step on 1 and 2 processes.

    python bench/bench_distributed.py [--quick]        (or through bench/run.py, CPU only)

One job of 2 processes (``mpiexec -n 2``) per configuration, each process on 1 thread
(OMP_NUM_THREADS=1, ``fastnn.set_num_threads(1)``), so the 2 processes use the 2 cores of a 2-core
machine. A row compares one global batch of G images (LeNet-5, Adam, 28x28 inputs):

- reference column: 1 process stepping on G images (rank 0 alone, rank 1 waiting);
- fastnn column: 2 processes stepping on G/2 each with DistributedDataParallel;

the ratio is the speed-up; the note gives samples/s, the scaling efficiency (speed-up / 2), the
"bound" (2 processes stepping on G/2 each *without* communicating: what the machine allows two
processes, below 2x when its cores or memory bandwidth are shared) and the communication per step:
the all-reduces of the gradient buckets run alone ("comm"), and the wait at the end of backward
("exposed": what backward did not hide, plus the wait for the slower rank).

The three kinds of step alternate in short rounds inside the one job, and the medians over the
rounds are reported: on a shared machine, another tenant taking a core slows all three alike
instead of whichever configuration happened to run then.

LeNet-5's 62k parameters (247 kB) fit in DDP's first 1 MiB bucket, so by default the one all-reduce
starts when backward ends; ``bucket_cap_mb=0.01`` splits them into 3 buckets (fc3+fc2, fc1, the
convolutions) whose first two reductions overlap with the backward of the convolutions (the
"3 buckets" row).
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
    """Body of each of the 2 processes; rank 0 prints one JSON line of medians."""
    import numpy as np

    import fastnn
    import fastnn.distributed as dist
    from fastnn import nn
    from fastnn.distributed import _comm
    from fastnn.models import LeNet5
    from fastnn.nn.parallel import DistributedDataParallel
    fastnn.set_num_threads(1)
    global_batch, steps, rounds, cap = int(argv[0]), int(argv[1]), int(argv[2]), float(argv[3])
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    half = global_batch // world
    g = np.random.default_rng(rank)
    x = fastnn.from_numpy(g.standard_normal((global_batch, 1, 28, 28)).astype(np.float32))
    y = fastnn.from_numpy(g.integers(0, 10, global_batch).astype(np.int64))
    loss_fn = nn.CrossEntropyLoss()

    def stepper(net, params, xb, yb):
        opt = fastnn.optim.Adam(params, lr=1e-3)

        def step():
            opt.zero_grad()
            loss_fn(net(xb), yb).backward()
            opt.step()
        return step

    fastnn.manual_seed(0)
    alone = LeNet5(padding=2)                      # 1 process, the whole batch
    apart = LeNet5(padding=2)                      # 2 processes, half each, no communication
    ddp = DistributedDataParallel(LeNet5(padding=2), bucket_cap_mb=cap)
    step_alone = stepper(alone, alone.parameters(), x, y)
    step_apart = stepper(apart, apart.parameters(), x[:half], y[:half])
    step_ddp = stepper(ddp, ddp.parameters(), x[:half], y[:half])
    bufs = [b.buffer.copy() for b in ddp._buckets]

    def comm_only():
        for buf in bufs:
            _comm.allreduce_array(buf, _comm.ReduceOp.SUM)

    def timed(fn):
        dist.barrier()
        t = time.perf_counter()
        for _ in range(steps):
            fn()
        return (time.perf_counter() - t) / steps

    for fn in (step_alone, step_apart, step_ddp, step_ddp):         # warm-up
        fn()
    res = {k: [] for k in ("alone", "apart", "ddp", "exposed", "comm")}
    for _ in range(rounds):
        dist.barrier()
        if rank == 0:                              # rank 1 waits at the next barrier meanwhile
            res["alone"].append(_time_alone(step_alone, steps))
        dist.barrier()
        res["apart"].append(timed(step_apart))
        ddp.comm_stats["exposed_s"] = 0.0
        res["ddp"].append(timed(step_ddp))
        res["exposed"].append(ddp.comm_stats["exposed_s"] / steps)
        res["comm"].append(timed(comm_only))
    # a step of two processes lasts as long as the slower one
    apart_all = [None] * world
    dist.all_gather_object(apart_all, res["apart"])
    if rank == 0:
        out = {k: float(np.median(v)) for k, v in res.items() if k != "apart"}  # rank 0's
        out["apart"] = float(np.median(np.max(np.array(apart_all), axis=0)))
        out["buckets"] = len(ddp._buckets)
        print("RESULT " + json.dumps(out), flush=True)
    dist.destroy_process_group()


def _time_alone(fn, steps):
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t) / steps


def _launch(global_batch, steps, rounds, cap):
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    cmd = [shutil.which("mpiexec"), "-n", "2", sys.executable, os.path.abspath(__file__), "--worker",
           str(global_batch), str(steps), str(rounds), str(cap)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"bench_distributed: {' '.join(cmd)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


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
    steps, rounds = (3, 5) if quick else (4, 15)
    configs = [(256, 25.0)] if quick else [(64, 25.0), (256, 25.0), (256, 0.01), (512, 25.0)]
    rows = []
    for global_batch, cap in configs:
        r = _launch(global_batch, steps, rounds, cap)
        t1, t2, t0 = r["alone"], r["ddp"], r["apart"]
        speedup = t1 / t2
        note = (f"{global_batch / t1:.0f} -> {global_batch / t2:.0f} samples/s, speed-up {speedup:.2f}x, "
                f"efficiency {speedup / 2:.0%}; without DDP {t0 * 1e3:.1f} ms (bound {t1 / t0:.2f}x); "
                f"comm {r['comm'] * 1e3:.2f} ms/step, exposed {r['exposed'] * 1e3:.2f} ms/step "
                f"({r['buckets']} bucket{'s' if r['buckets'] > 1 else ''})")
        label = "DDP LeNet-5 step, 2 processes x 1 thread" + (f", {r['buckets']} buckets" if cap != 25.0 else "")
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
