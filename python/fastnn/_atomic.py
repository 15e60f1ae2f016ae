"""Atomic file writes, shared by every writer in fastnn (checkpoints, HDF5 stores, PNGs, CSV logs).

A file is written under a temporary name in the target's folder, flushed to disk, then renamed
over the target with ``os.replace``: readers see the old file or the new one, never half of one.
An exception while writing removes the temporary file and leaves the previous file as it was.

A writer killed outright (``kill -9``, out-of-memory killer, power loss) cannot clean up: its
temporary file stays. Temporary names therefore carry the writer's process id,

    .<name>.<pid>.<random>.tmp      (``<random>``: 12 lowercase hex digits)

and the next successful write of the same target removes that target's temporaries whose writer
process no longer exists (``os.kill(pid, 0)`` raises ``ProcessLookupError``). A temporary of a
live process (including this one: another thread may be writing) is never touched, nor is any
file whose name does not match the pattern exactly, nor anything that is not a regular file.
Process ids are those of this machine's process namespace: writers on other machines (or other
containers) sharing the folder must not write the same target at the same time. On Windows, where
``os.kill`` cannot probe a process, stale temporaries are left in place.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets

__all__ = ["atomic_open", "atomic_path", "temporary_name", "stale_temporaries", "remove_stale_temporaries"]

_RANDOM_HEX = 12


def temporary_name(path, pid=None, token=None):
    """The temporary path for ``path`` written by process ``pid`` (default: this one)."""
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    pid = os.getpid() if pid is None else int(pid)
    token = secrets.token_hex(_RANDOM_HEX // 2) if token is None else token
    return os.path.join(folder, f".{base}.{pid}.{token}.tmp")


def _pattern(base):
    return re.compile(re.escape(f".{base}.") + r"([1-9][0-9]*)\." + f"[0-9a-f]{{{_RANDOM_HEX}}}" + r"\.tmp")


def _process_exists(pid):
    """False only when the process is certainly gone; any doubt counts as alive."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a pid this system cannot probe: keep it
    return True


def stale_temporaries(path):
    """Temporaries of ``path`` left by writer processes that no longer run (sorted paths)."""
    if os.name == "nt":
        return []
    folder, base = os.path.split(os.path.abspath(os.fspath(path)))
    pattern = _pattern(base)
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        if not _process_exists(int(m.group(1))):
            found.append(entry.path)
    return sorted(found)


def remove_stale_temporaries(path):
    """Remove the temporaries of ``path`` whose writer process is gone; returns the removed paths.

    A file that another process removes first, or that cannot be removed, is skipped silently:
    cleaning up is a courtesy of a successful write and never makes it fail.
    """
    removed = []
    for tmp in stale_temporaries(path):
        try:
            os.unlink(tmp)
        except OSError:
            continue
        removed.append(tmp)
    return removed


def _create_temporary(path):
    """Create (exclusively) and return the path of a new, empty temporary file for ``path``.

    The file gets the permissions an ordinary ``open(path, "w")`` would (0o666 less the umask).
    """
    for _ in range(100):
        tmp = temporary_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {path}: 100 names were taken")


def _fsync_file(tmp):
    fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(tmp):
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def atomic_path(path, makedirs=False, fsync=True):
    """Yield a temporary path beside ``path`` for a writer that opens files by name (h5py,
    matplotlib); on a normal exit the file is flushed to disk and renamed to ``path``, and stale
    temporaries of ``path`` are removed. On an exception the temporary is removed and ``path`` is
    left as it was. ``makedirs=True`` creates the folder first."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if makedirs:
        os.makedirs(folder, exist_ok=True)
    tmp = _create_temporary(path)
    try:
        yield tmp
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    remove_stale_temporaries(path)


@contextlib.contextmanager
def atomic_open(path, mode="wb", makedirs=False, fsync=True, **kwargs):
    """``open(path, mode)`` for writing, made atomic: the data goes to a temporary file beside
    ``path``, renamed to ``path`` when the block ends normally (stale temporaries of ``path`` are
    then removed); on an exception ``path`` is left as it was. ``mode`` is ``"wb"`` or ``"w"``;
    ``kwargs`` go to ``open`` (``encoding``, ``newline``)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: argument 'mode' must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, makedirs=makedirs, fsync=False) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
