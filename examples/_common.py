"""Helpers shared by the examples: which fastnn they use, where plots go, and plotting that
degrades gracefully.

The examples use the installed package (``pip install .``). Only when fastnn cannot be imported
do they fall back to the source tree beside them (``../python``), and only if a compiled module
is there (after ``tools/dev_build.sh``): the sources alone cannot run.

Plots go to ``examples/output/``, or to the folder named by ``FASTNN_EXAMPLES_OUTPUT``.
"""
from __future__ import annotations

import glob
import importlib
import importlib.machinery
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.environ.get("FASTNN_EXAMPLES_OUTPUT") or os.path.join(HERE, "output")
_SRC = os.path.join(os.path.dirname(HERE), "python")


def _has_compiled_module(src):
    """Whether ``src/fastnn`` holds a compiled ``_C`` module this interpreter can load."""
    folder = os.path.join(src, "fastnn")
    return any(glob.glob(os.path.join(glob.escape(folder), "_C" + suffix))
               for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _import_fastnn():
    """Import fastnn: the installed package, else a built source tree beside the examples."""
    try:
        return importlib.import_module("fastnn")
    except ImportError as exc:
        error = exc
    # A failed import may leave half-initialised modules behind: forget them before trying again.
    for name in [m for m in sys.modules if m == "fastnn" or m.startswith("fastnn.")]:
        del sys.modules[name]
    if _has_compiled_module(_SRC) and _SRC not in sys.path:
        sys.path.insert(0, _SRC)
        importlib.invalidate_caches()
        try:
            return importlib.import_module("fastnn")
        except ImportError as exc:
            raise SystemExit(f"fastnn is not installed, and the source tree {_SRC} could not be imported "
                             f"either: {exc}") from exc
    raise SystemExit(f"cannot import fastnn ({error}). Install it with `pip install .` from the repository "
                     "root, or build it in place with `bash tools/dev_build.sh` to run the examples from "
                     "the source tree.") from error


fastnn = _import_fastnn()


def output_path(name):
    os.makedirs(OUTPUT, exist_ok=True)
    return os.path.join(OUTPUT, name)


def save_plot(fn, name, *args, **kwargs):
    """Call ``fastnn.plot.<fn>(..., path)`` and report the file; skip with a message without matplotlib."""
    from fastnn import plot
    if not plot.available():
        print(f"(matplotlib is not installed: skipping {name}; pip install matplotlib)")
        return None
    path = getattr(plot, fn)(*args, path=output_path(name), **kwargs)
    print(f"saved {os.path.relpath(path)}")
    return path


def count_options(doc, **options):
    """Parse the command line's ``--name N`` options, each a count of at least 1: ``options`` maps a name
    to (the keyword of main() it sets, its default, what it counts). Returns main()'s keyword arguments."""
    import argparse
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, (_, default, what) in options.items():
        parser.add_argument(f"--{name}", type=int, default=default, help=f"{what} (default {default})")
    args = vars(parser.parse_args())
    if min(args.values()) < 1:
        parser.error(" and ".join(f"--{n}" for n in options) + " must be at least 1")
    return {keyword: args[name.replace("-", "_")] for name, (keyword, _, _) in options.items()}  # argparse: - → _


def save_grid(images, name, nrow=10, scale=1, pad_value=1.0):
    """Save images (N, C, H, W) in [0, 1] as one PNG grid through ``fastnn.utils.save_image`` (no matplotlib
    needed), each pixel enlarged ``scale`` times (nearest) so that 8x8 digits stay visible; reports the file."""
    import numpy as np
    from fastnn.utils import save_image
    a = np.asarray(images, dtype=np.float32)
    if scale > 1:
        a = a.repeat(scale, axis=2).repeat(scale, axis=3)
    path = output_path(name)
    save_image(fastnn.tensor(np.ascontiguousarray(a)), path, nrow=nrow, padding=2 * scale, pad_value=pad_value)
    print(f"saved {os.path.relpath(path)}")
    return path
