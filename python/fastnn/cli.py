"""The ``fastnn`` command: ``fastnn info``, ``fastnn demo``, ``fastnn bench``."""
from __future__ import annotations

import argparse
import platform
import sys


def info() -> str:
    import numpy as np

    from . import __version__, _C, backend

    lines = [
        f"fastnn {__version__}",
        f"python {platform.python_version()}, numpy {np.__version__}",
        f"cpu path: {_C.cpu_path()}",
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
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn command-line tool")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, CPU path, threads, CUDA status")
    args = parser.parse_args(argv)
    if args.command == "info":
        print(info())
    return 0


if __name__ == "__main__":
    sys.exit(main())
