"""mpi4py, imported on first use only: ``import fastnn`` must work on a machine without MPI."""
from __future__ import annotations

import functools
import os
import shutil
import sys

INSTALL_HINT = "pip install fastnn[distributed]  (brings mpi4py and the MPICH library)"


@functools.lru_cache(maxsize=None)
def _load():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        return None, f"mpi4py is not installed ({exc}): {INSTALL_HINT}"
    except Exception as exc:  # mpi4py present but its MPI library fails to load
        return None, (f"mpi4py could not load its MPI library ({type(exc).__name__}: {exc}); reinstall it with "
                      f"{INSTALL_HINT}, or build mpi4py against this machine's MPI (see README)")
    return MPI, None


def available() -> bool:
    return _load()[0] is not None


def MPI():
    """The ``mpi4py.MPI`` module (initialises MPI on first call); ImportError saying how to install it."""
    mod, why = _load()
    if mod is None:
        raise ImportError(f"fastnn.distributed needs MPI: {why}")
    return mod


def describe() -> str:
    """One line for ``fastnn info``: mpi4py's version and the mpiexec found, without initialising MPI."""
    try:
        import mpi4py
    except ImportError:
        return f"no (mpi4py not installed: {INSTALL_HINT})"
    launcher = find_mpiexec()
    return f"mpi4py {mpi4py.__version__}, mpiexec: {launcher or 'not found (pip install mpich)'}"


def find_mpiexec():
    """Path of the ``mpiexec`` that goes with this Python's mpi4py: the MPICH of the ``mpich`` package sits next
    to ``sys.executable``; else the first one on PATH. None when there is none."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return shutil.which("mpiexec") or shutil.which("mpirun")
