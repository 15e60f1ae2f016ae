"""What each rank started by ``python -m fastnn.distributed.run`` executes, by path (importing nothing of
fastnn): sets RANK and LOCAL_RANK from the MPI launcher's variables, as torchrun would, then runs the
script, module (``-m``) or executable (``--no-python``) given to the launcher.

    python _child.py script|module|exec TARGET ARGS...
"""
import os
import runpy
import sys


def _abort_on_failed_exit(code, rank):
    """A rank leaving with a failure status while its group is up would leave the others waiting in their
    next collective until the timeout (MPI cannot tell them): stop the whole job now, with that status."""
    if code in (None, 0):
        return
    dist = sys.modules.get("fastnn.distributed")
    if dist is None or not dist.is_initialized() or dist.get_world_size() < 2:
        return
    status = code if isinstance(code, int) else 1
    if not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
    sys.stderr.write(f"fastnn.distributed: rank {rank} exited with status {status}; aborting every rank of the job\n")
    sys.stderr.flush()
    from mpi4py import MPI
    MPI.COMM_WORLD.Abort(status)


def main(argv):
    kind, target, args = argv[0], argv[1], argv[2:]
    env = os.environ
    rank = env.get("PMI_RANK", env.get("PMIX_RANK", env.get("OMPI_COMM_WORLD_RANK", "0")))
    env["RANK"] = rank
    env["LOCAL_RANK"] = env.get("MPI_LOCALRANKID", env.get("OMPI_COMM_WORLD_LOCAL_RANK", rank))
    if env.pop("FASTNN_LAUNCH_LOCAL_RANK_ARG", None) == "1":  # fastnn.distributed.launch without --use-env
        args = args + [f"--local-rank={env['LOCAL_RANK']}"]
    if kind == "exec":
        os.execvp(target, [target] + args)
    sys.argv = [target] + args
    del sys.path[0]  # this file's folder: the script sees the path it would see when run directly
    try:
        if kind == "module":
            sys.path.insert(0, os.getcwd())
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        _abort_on_failed_exit(exc.code, rank)
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
