"""Helpers shared by the examples: where plots go, and plotting that degrades gracefully."""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "output")
# Let the examples run from a source checkout without installing the package.
_SRC = os.path.join(os.path.dirname(HERE), "python")
if os.path.isdir(os.path.join(_SRC, "fastnn")) and _SRC not in sys.path:
    sys.path.insert(0, _SRC)


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
