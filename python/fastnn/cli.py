"""The ``fastnn`` command: ``fastnn info``, ``fastnn demo``, ``fastnn bench``."""
from __future__ import annotations

import argparse
import platform
import sys


def _size(n: int) -> str:
    return f"{n // (1 << 20)} MiB" if n % (1 << 20) == 0 else f"{n // 1024} KiB"


def info() -> str:
    import numpy as np

    from . import __version__, _C, backend

    lines = [
        f"fastnn {__version__}",
        f"python {platform.python_version()}, numpy {np.__version__}",
        f"cpu: {_C.cpu_model()}",
        f"cpu path: {_C.cpu_path()}",
        "cpu paths: " + ", ".join(p + (" (usable)" if not why else f" (not usable: {why})")
                                  for p, why in _C.cpu_paths().items()),
        f"vector extensions: {' '.join(_C.cpu_extensions()) or 'none'}",
        "caches: " + ", ".join(f"{k} {_size(v)}" for k, v in _C.cache_sizes().items()),
        f"cpu threads: {_C.get_num_threads()}",
        f"cuda built: {'yes' if backend.cuda_built() else 'no'}",
    ]
    n = backend.cuda_device_count()
    if n:
        names = ", ".join(backend.kernel_module("cuda").device_info(i)["name"] for i in range(n))
        lines.append(f"cuda available: yes ({n} device(s): {names})")
    else:
        reason = "" if backend.cuda_built() and backend._cupy() is not None else \
            " (cupy not installed)" if backend.cuda_built() else ""
        lines.append(f"cuda available: no{reason}")
    from .distributed import _mpi
    nccl = backend.nccl_unavailable_reason()
    lines.append(f"distributed: {_mpi.describe()}; nccl: {'yes' if nccl is None else 'no'}")
    return "\n".join(lines)


def _bench_script():
    """bench/run.py of the source checkout this package runs from, or of the current directory."""
    from pathlib import Path

    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        script = root / "bench" / "run.py"
        if script.is_file():
            return script
    return None


def bench(argv) -> int:
    """``fastnn bench [args]``: run bench/run.py (same arguments) from a source checkout."""
    import importlib.util

    script = _bench_script()
    if script is None:
        print("fastnn bench: the benchmarks live in the bench/ folder of fastnn's source repository, which is not "
              "part of the installed package. Run `fastnn bench` (or `python bench/run.py`) from a checkout of "
              "the repository.", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("fastnn_bench_run", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(list(argv))


def demo(epochs=20, seed=0, verbose=1) -> int:
    """``fastnn demo``: train the digits MLP and print test accuracy, confusion matrix and report."""
    from .demos import digits
    return digits(epochs=epochs, seed=seed, verbose=verbose)


def demo_list() -> str:
    from .demos import DEFAULT, DEMOS
    width = max(len(n) for n in DEMOS)
    return "\n".join(f"{name:<{width}}  {d.summary}" for name, d in DEMOS.items()) + \
        f"\n\n`fastnn demo` alone runs {DEFAULT}; `fastnn demo NAME` runs the one named."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn command-line tool")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, CPU path, threads, CUDA status")
    demo_parser = sub.add_parser("demo", help="train a small model on real data and show its results beside a "
                                              "baseline (`fastnn demo --list` names them)")
    demo_parser.add_argument("name", nargs="?", default=None,
                             help="which demo (default: the digits MLP); --list shows them all")
    demo_parser.add_argument("--list", action="store_true", help="list the demos, one line each")
    demo_parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's own)")
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo_parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    sub.add_parser("bench", add_help=False,
                   help="run the microbenchmarks: bench/run.py of a source checkout, same arguments")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        # Everything after `bench`, --help included, belongs to bench/run.py.
        return bench(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "info":
        print(info())
    elif args.command == "demo":
        from .demos import DEFAULT, DEMOS
        if args.list:
            print(demo_list())
            return 0
        name = DEFAULT if args.name is None else args.name
        if name not in DEMOS:
            demo_parser.error(f"unknown demo {name!r}; choose one of: {', '.join(DEMOS)} (fastnn demo --list)")
        if args.epochs is not None and args.epochs < 1:
            demo_parser.error(f"--epochs must be at least 1, got {args.epochs}")
        epochs = {} if args.epochs is None else {"epochs": args.epochs}
        return DEMOS[name].run(seed=args.seed, verbose=0 if args.quiet else 1, **epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
