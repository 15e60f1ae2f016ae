"""core/host_pool: large CPU kernel outputs are handed out again after their arrays die, never while a
view of them lives, up to the cap (FASTNN_HOST_POOL_MB; 0 turns reuse off)."""
import os
import subprocess
import sys

import numpy as np

from fastnn import _C


def _table(rows):
    return np.random.default_rng(0).standard_normal((rows, 128)).astype(np.float32)


def test_a_freed_output_is_reused_and_a_live_view_keeps_it():
    w = _table(2000)  # outputs of 2000 x 128 float32: 1 MB, above the pool's 256 KB floor
    ids = np.arange(2000)
    a = _C.gather_rows(w, ids)
    assert a.flags.writeable and a.flags.c_contiguous and a.ctypes.data % 64 == 0
    first = a.ctypes.data
    view = a[5:]
    del a
    b = _C.gather_rows(w, ids[::-1].copy())
    assert b.ctypes.data != first  # the view still holds the first block
    np.testing.assert_array_equal(view, w[5:])  # and its values are intact
    np.testing.assert_array_equal(b, w[::-1])
    held_before = _C._host_pool_bytes()[0]
    del view
    assert _C._host_pool_bytes()[0] >= held_before + 2000 * 128 * 4
    c = _C.gather_rows(w, ids)
    assert c.ctypes.data == first  # the same size comes back from the pool
    np.testing.assert_array_equal(c, w)


def test_small_outputs_bypass_the_pool():
    held = _C._host_pool_bytes()[0]
    a = _C.gather_rows(_table(10), np.arange(10))
    del a
    assert _C._host_pool_bytes()[0] == held


def _run(env_value):
    code = ("import numpy as np; from fastnn import _C; w = np.ones((4000, 128), np.float32); "
            "a = _C.gather_rows(w, np.arange(4000)); del a; print(*_C._host_pool_bytes())")
    env = dict(os.environ, FASTNN_HOST_POOL_MB=env_value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return tuple(int(v) for v in out.split())


def test_the_cap_comes_from_the_environment():
    assert _run("0") == (0, 0)  # reuse off: nothing held
    assert _run("1") == (0, 1 << 20)  # a 2 MB output does not fit a 1 MB cap
    assert _run("64") == (4000 * 128 * 4, 64 << 20)
    assert _run("junk")[1] == 256 << 20  # unreadable: the default
