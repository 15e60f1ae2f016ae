"""Start a training script on several processes of this machine (torchrun's counterpart, over MPI).

    python -m fastnn.distributed.run -n 2 train.py --epochs 3
    python -m fastnn.distributed.run --nproc-per-node=2 -m mypackage.train

It runs the script under the ``mpiexec`` of the MPICH that ``pip install fastnn[distributed]`` brings (found
next to this Python, else on PATH), one process per rank, each with RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set as torchrun sets them, and OMP_NUM_THREADS = cores / N
unless it is set. The exit status is the worst of the processes'. Across machines, use ``mpirun`` (or the
cluster's scheduler) directly: ``mpirun -n 8 -f hostfile python train.py``.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from . import _mpi

_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_child.py")


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m fastnn.distributed.run",
        description="Run a training script on N processes of this machine under MPI (torchrun's arguments).")
    p.add_argument("-n", "--nproc-per-node", "--nproc_per_node", "--np", dest="nproc", default="1",
                   help="number of processes (an int, or 'auto'/'cpu': one per core)")
    p.add_argument("--nnodes", default="1", help="accepted for torchrun compatibility; only 1 is supported here")
    p.add_argument("--node-rank", "--node_rank", default="0", help=argparse.SUPPRESS)
    p.add_argument("--standalone", action="store_true", help="accepted and ignored (always standalone)")
    p.add_argument("--master-addr", "--master_addr", default=None,
                   help="MASTER_ADDR for ported code (default 127.0.0.1)")
    p.add_argument("--master-port", "--master_port", default=None, help="MASTER_PORT for ported code (default 29500)")
    p.add_argument("--rdzv-backend", "--rdzv_backend", default=None, help=argparse.SUPPRESS)
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", default=None, help=argparse.SUPPRESS)
    p.add_argument("--rdzv-id", "--rdzv_id", default=None, help=argparse.SUPPRESS)
    p.add_argument("--max-restarts", "--max_restarts", default="0", help=argparse.SUPPRESS)
    p.add_argument("-m", "--module", action="store_true", help="run the target as a module (python -m)")
    p.add_argument("--no-python", "--no_python", action="store_true",
                   help="run the target as an executable, not a Python script")
    p.add_argument("--use-env", "--use_env", action="store_true",
                   help="(fastnn.distributed.launch) do not pass --local-rank to the script")
    p.add_argument("--mpiexec", default=None, help="the mpiexec to use (default: MPICH's, next to this Python)")
    p.add_argument("script", help="the training script (or module with -m)")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def _nproc(value):
    if value in ("auto", "cpu"):
        return os.cpu_count() or 1
    try:
        n = int(value)
    except ValueError:
        raise SystemExit(f"fastnn.distributed.run: --nproc-per-node must be an int, 'auto' or 'cpu', got {value!r}")
    if n < 1:
        raise SystemExit(f"fastnn.distributed.run: --nproc-per-node must be at least 1, got {n}")
    return n


def command(argv):
    """The mpiexec command line and environment for launcher arguments ``argv``."""
    a = _parser().parse_args(argv)
    n = _nproc(a.nproc)
    if a.nnodes not in ("1", "1:1"):
        raise SystemExit("fastnn.distributed.run starts processes on this machine only (--nnodes 1); across "
                         "machines use mpirun with a hostfile: mpirun -n N -f hosts python train.py")
    mpiexec = a.mpiexec or _mpi.find_mpiexec()
    if mpiexec is None:
        raise SystemExit(f"fastnn.distributed.run: no mpiexec found next to {sys.executable} or on PATH: "
                         f"{_mpi.INSTALL_HINT}")
    env = dict(os.environ)
    env["WORLD_SIZE"] = str(n)
    env["LOCAL_WORLD_SIZE"] = str(n)
    env["GROUP_RANK"] = env["NODE_RANK"] = "0"
    env["MASTER_ADDR"] = a.master_addr or env.get("MASTER_ADDR", "127.0.0.1")
    env["MASTER_PORT"] = str(a.master_port or env.get("MASTER_PORT", "29500"))
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
    # Each child learns its rank from MPICH's PMI variables through the small wrapper below, before the script
    # (or MPI) starts, so RANK/LOCAL_RANK are there for code that reads them at import time.
    # The wrapper runs by path, not as a module of the package, so a rank imports fastnn only if its script does.
    kind = "exec" if a.no_python else "module" if a.module else "script"
    child = [sys.executable, _CHILD, kind, a.script] + list(a.script_args)
    extra = []
    if _is_open_mpi(mpiexec):
        # Open MPI (when it is the mpiexec found) refuses root and more ranks than cores unless told
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        extra = ["--oversubscribe"]
    return [mpiexec, "-n", str(n)] + extra + child, env


def _is_open_mpi(mpiexec):
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Open MPI" in out or "OpenRTE" in out


def main(argv=None, local_rank_arg=False):
    argv = sys.argv[1:] if argv is None else list(argv)
    cmd, env = command(argv)
    if local_rank_arg:
        env["FASTNN_LAUNCH_LOCAL_RANK_ARG"] = "1"
    proc = subprocess.Popen(cmd, env=env)
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        # mpiexec forwards the interrupt to every rank; wait for them to stop
        proc.send_signal(signal.SIGINT)
        rc = proc.wait()
    # mpiexec already returns the worst exit status of the ranks (a killed rank counts as failed)
    return 128 - rc if rc < 0 else rc


if __name__ == "__main__":
    sys.exit(main())
