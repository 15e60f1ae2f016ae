"""The Philox 4x32-10 generator (csrc/core/philox.h) and the random-fill kernels (csrc/ops/random/):
known-answer vectors, an independent numpy implementation of the generator and of the element
layout, the plain reference on every CPU path, the CUDA kernel run on the CPU, and fastnn's random
state (key and offset in manual_seed / get_rng_state / set_rng_state / Generator) with dropout."""
import json
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F
from fastnn import _C

ROOT = pathlib.Path(__file__).resolve().parents[1]
M32 = 0xFFFFFFFF

DISTS = ("uniform", "normal", "keep_mask")
SIZES = [0, 1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 4099]
STREAMS = [(0, 0), (123, 77), (2 ** 64 - 1, 2 ** 64 - 5), (5, 2 ** 32 - 7), (0xDEADBEEF12345678, 2 ** 63)]


# ---------------------------------------------------------------- an independent numpy Philox

def np_philox(key, counters):
    """Philox 4x32-10 of 128-bit counters (Python ints) under a 64-bit key: an array (n, 4) of words."""
    c = [np.array([(x >> (32 * j)) & M32 for x in counters], dtype=np.uint64) for j in range(4)]
    k0, k1 = key & M32, key >> 32
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0 = c[0] * np.uint64(0xD2511F53)
        p1 = c[2] * np.uint64(0xCD9E8D57)
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & np.uint64(M32),
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & np.uint64(M32)]
    return np.stack(c, axis=1)


def per_block(dist, dtype):
    return 4 if dist == "keep_mask" or dtype == np.float32 else 2


def np_place(n, P):
    """For each element: its block within the draw and which of the block's values it is (groups of 16 blocks)."""
    i = np.arange(n)
    g, e = i // (16 * P), i % (16 * P)
    return g * 16 + e % 16, e // 16


def np_counters(n, P):
    return 0 if n == 0 else (n // (16 * P)) * 16 + min(n % (16 * P), 16)


def np_words(key, offset, n, P):
    block, value = np_place(n, P)
    used = np_counters(n, P)
    w = np_philox(key, [(offset + b) % 2 ** 128 for b in range(used)]) if used else np.zeros((0, 4), np.uint64)
    return w[block], value, used


def np_uniform(key, offset, n, dtype):
    w, value, used = np_words(key, offset, n, per_block("uniform", dtype))
    rows = np.arange(n)
    if dtype == np.float32:
        out = (w[rows, value] >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)
    else:
        x = ((w[rows, 2 * value + 1] << np.uint64(32)) | w[rows, 2 * value]) >> np.uint64(11)
        out = x.astype(np.float64) * 2.0 ** -53
    return out, used


def np_normal(key, offset, n, dtype):
    """Box-Muller in float64 with numpy's log/sin/cos (the kernel's own are within a few ulp of them)."""
    P = per_block("normal", dtype)
    w, value, used = np_words(key, offset, n, P)
    rows = np.arange(n)
    if dtype == np.float32:
        pair = value // 2
        R, A, bits = w[rows, 2 * pair], w[rows, 2 * pair + 1], 32
        second = value % 2
    else:
        R = ((w[:, 1] << np.uint64(32)) | w[:, 0]) >> np.uint64(11)
        A = ((w[:, 3] << np.uint64(32)) | w[:, 2]) >> np.uint64(11)
        bits, second = 53, value
    u = (R | np.uint64(1)).astype(np.float64) * 2.0 ** -bits
    radius = np.sqrt(-2 * np.log(u))
    # sin and cos of 2 pi v, reduced to [-pi/4, pi/4] exactly (4 v - its nearest integer), so that values near
    # zero keep their relative accuracy
    y = A.astype(np.float64) * 2.0 ** (2 - bits)
    q = np.rint(y).astype(np.int64) % 4
    t = (y - np.rint(y)) * (np.pi / 2)
    s, c = np.sin(t), np.cos(t)
    sin = np.choose(q, [s, c, -s, -c])
    cos = np.choose(q, [c, -s, -c, s])
    return np.where(second == 1, radius * cos, radius * sin), used


def np_keep(key, offset, n, p):
    w, value, used = np_words(key, offset, n, 4)
    threshold = int(np.ceil(p * 2.0 ** 32))
    return w[np.arange(n), value] >= threshold, used


def fill(dist, out, key, offset, p=0.3, mean=0.0, std=1.0):
    if dist == "uniform":
        return _C.philox_uniform(out, key, offset)
    if dist == "normal":
        return _C.philox_normal(out, key, offset, mean, std)
    return _C.dropout_mask(out, p, key, offset)


# ---------------------------------------------------------------- the generator

@pytest.mark.parametrize("counter,key,expected", [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32,) * 4, (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_known_answers_of_random123(counter, key, expected):
    assert _C.philox4x32_10(list(counter), list(key)) == expected
    c = sum(x << (32 * j) for j, x in enumerate(counter))
    assert tuple(int(x) for x in np_philox(key[0] | key[1] << 32, [c])[0]) == expected


def test_numpy_philox_agrees_with_the_native_one_on_random_inputs(rng):
    for _ in range(50):
        counter = [int(x) for x in rng.integers(0, 2 ** 32, 4)]
        key = [int(x) for x in rng.integers(0, 2 ** 32, 2)]
        c = sum(x << (32 * j) for j, x in enumerate(counter))
        assert _C.philox4x32_10(counter, key) == tuple(int(x) for x in np_philox(key[0] | key[1] << 32, [c])[0])


# ---------------------------------------------------------------- the kernels

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dist", DISTS)
def test_kernels_equal_the_reference_on_every_path(cpu_path, dist, dtype):
    for n in SIZES:
        for key, offset in STREAMS:
            got, ref = np.empty(n, dtype), np.empty(n, dtype)
            used = fill(dist, got, key, offset, 0.3, 0.5, 2.0)
            assert _C.philox_fill_reference(dist, ref, key, offset, 0.3, 0.5, 2.0) == used
            assert used == np_counters(n, per_block(dist, dtype)), (n, used)
            np.testing.assert_array_equal(got, ref, err_msg=f"{dist} {dtype.__name__} n={n} key={key} offset={offset}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_equals_the_numpy_philox_bit_for_bit(cpu_path, dtype):
    for n in SIZES + [100003]:
        for key, offset in STREAMS:
            out = np.empty(n, dtype)
            used = _C.philox_uniform(out, key, offset)
            expected, exp_used = np_uniform(key, offset, n, dtype)
            assert used == exp_used
            np.testing.assert_array_equal(out, expected)
            assert out.size == 0 or (out.min() >= 0 and out.max() < 1)


def test_keep_mask_equals_the_numpy_threshold_rule(cpu_path):
    for p in (0.0, 1e-9, 0.1, 0.5, 0.77, 1 - 1e-9, 1.0):
        for dtype in (np.float32, np.float64):
            for n in (0, 1, 17, 65, 1000, 4099):
                key, offset = 99, 2 ** 40 + 3
                out = np.empty(n, dtype)
                used = _C.dropout_mask(out, p, key, offset)
                keep, exp_used = np_keep(key, offset, n, p)
                assert used == exp_used
                scale = dtype(1.0 / (1.0 - p)) if p < 1 else dtype(0)
                np.testing.assert_array_equal(out, np.where(keep, scale, dtype(0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normals_are_box_muller_within_a_few_ulp(cpu_path, dtype):
    n = 20000
    out = np.empty(n, dtype)
    used = _C.philox_normal(out, 42, 1000)
    expected, exp_used = np_normal(42, 1000, n, dtype)
    assert used == exp_used
    if dtype == np.float32:
        # computed in double and rounded once: at most one float32 rounding apart
        np.testing.assert_allclose(out, expected, rtol=2 ** -23, atol=1e-37)
    else:
        err = np.abs(out - expected) / np.maximum(np.abs(expected), 1e-300)
        assert np.quantile(err, 0.999) < 8 * 2 ** -52 and err.max() < 1e-12, err.max()
    shifted = np.empty(n, dtype)
    _C.philox_normal(shifted, 42, 1000, -3.0, 0.25)
    np.testing.assert_allclose(shifted, -3.0 + 0.25 * out.astype(np.float64), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distributions_statistics(dtype):
    n = 400000
    u = np.empty(n, dtype)
    _C.philox_uniform(u, 7, 0)
    assert abs(u.mean() - 0.5) < 0.003 and abs(u.var() - 1 / 12) < 0.002
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 0.095 * n
    z = np.empty(n, dtype)
    _C.philox_normal(z, 7, 10 ** 6)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs((np.abs(z) < 1).mean() - 0.6827) < 0.005 and abs((np.abs(z) < 2).mean() - 0.9545) < 0.003
    assert np.isfinite(z).all()
    # the two values of one Box-Muller pair are uncorrelated
    a, b = z.reshape(-1, 32)[:, :16].ravel(), z.reshape(-1, 32)[:, 16:].ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01
    m = np.empty(n, dtype)
    _C.dropout_mask(m, 0.3, 7, 5 * 10 ** 6)
    assert abs((m != 0).mean() - 0.7) < 0.003
    assert set(np.unique(m)) == {dtype(0), dtype(1 / 0.7)}


def test_result_does_not_depend_on_the_thread_count(cpu_path):
    old = _C.get_num_threads()
    try:
        outs = []
        for threads in (1, 2, 3):
            _C.set_num_threads(threads)
            res = []
            for dist in DISTS:
                for dtype in (np.float32, np.float64):
                    a = np.empty(300007, dtype)
                    fill(dist, a, 31, 2 ** 33 - 100)
                    res.append(a)
            outs.append(res)
        for res in outs[1:]:
            for a, b in zip(outs[0], res):
                np.testing.assert_array_equal(a, b)
    finally:
        _C.set_num_threads(old)


def test_successive_draws_continue_one_stream():
    """Two draws, the second at the offset moved past the first's counters, equal one long draw, when the
    first ends on a whole group of blocks; otherwise they share no counter."""
    whole = np.empty(256, np.float32)
    _C.philox_uniform(whole, 3, 10)
    first, second = np.empty(64, np.float32), np.empty(192, np.float32)
    used = _C.philox_uniform(first, 3, 10)
    _C.philox_uniform(second, 3, 10 + used)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    # a short draw then another: different values (no reused counter)
    a, b = np.empty(5, np.float32), np.empty(5, np.float32)
    used = _C.philox_uniform(a, 3, 0)
    _C.philox_uniform(b, 3, used)
    assert not np.intersect1d(a, b).size


def test_counter_carries_past_64_bits():
    """Offsets near 2^64 continue into the counter's upper words instead of wrapping onto used counters."""
    out = np.empty(64, np.float32)
    _C.philox_uniform(out, 11, 2 ** 64 - 3)
    expected, _ = np_uniform(11, 2 ** 64 - 3, 64, np.float32)
    np.testing.assert_array_equal(out, expected)
    wrapped = np.empty(64, np.float32)
    _C.philox_uniform(wrapped, 11, 0)
    assert not np.array_equal(out[:16 * 3], wrapped[:16 * 3])


def test_binding_errors_name_the_argument():
    out = np.empty(8, np.float32)
    with pytest.raises(TypeError, match="argument 'out' must be an array"):
        _C.philox_uniform([0.0] * 8, 1, 0)
    with pytest.raises(TypeError, match="'out' must be float32 or float64"):
        _C.philox_uniform(np.empty(8, np.int32), 1, 0)
    ro = np.empty(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'out' is read-only"):
        _C.philox_normal(ro, 1, 0)
    with pytest.raises(ValueError, match=r"'out' \(4,\) must be contiguous"):
        _C.dropout_mask(np.empty(8, np.float32)[::2], 0.5, 1, 0)
    with pytest.raises(ValueError, match=r"'key' must be in \[0, 2\^64\)"):
        _C.philox_uniform(out, -1, 0)
    with pytest.raises(ValueError, match=r"'offset' must be in \[0, 2\^64\)"):
        _C.philox_uniform(out, 1, 2 ** 64)
    with pytest.raises(TypeError, match="'key' must be an int"):
        _C.philox_uniform(out, 1.5, 0)
    with pytest.raises(TypeError, match="'offset' must be an int"):
        _C.philox_uniform(out, 1, True)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="'p' must be in"):
            _C.dropout_mask(out, p, 1, 0)
    with pytest.raises(ValueError, match="'std' must be finite and >= 0"):
        _C.philox_normal(out, 1, 0, 0.0, -1.0)
    with pytest.raises(ValueError, match="'mean' must be finite"):
        _C.philox_normal(out, 1, 0, float("inf"), 1.0)
    with pytest.raises(ValueError, match="'dist' must be"):
        _C.philox_fill_reference("poisson", out, 1, 0)
    with pytest.raises(ValueError, match="'counter' must hold 4 words"):
        _C.philox4x32_10([1, 2, 3], [0, 0])
    with pytest.raises(ValueError, match=r"'key' must be in \[0, 2\^32\)"):
        _C.philox4x32_10([1, 2, 3, 4], [2 ** 32, 0])
    # numpy integers are ints; multi-dimensional and 0-d arrays are filled in C order
    assert _C.philox_uniform(out, np.uint64(2 ** 64 - 1), np.int64(5)) == np_counters(8, 4)
    grid, flat = np.empty((3, 5, 7)), np.empty(105)
    _C.philox_normal(grid, 8, 9)
    _C.philox_normal(flat, 8, 9)
    np.testing.assert_array_equal(grid.ravel(), flat)
    scalar = np.empty((), np.float32)
    assert _C.philox_uniform(scalar, 8, 9) == 1 and 0 <= scalar < 1


# ---------------------------------------------------------------- the CUDA kernel, emulated on the CPU

def _emulated_random(tmp_path):
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    launch = re.compile(r"([\w:]+(?:<[^<>;]*>)?)<<<(.*?)>>>\((.*?)\);", re.S)
    src = (ROOT / "csrc" / "ops" / "random" / "cuda.cu").read_text()
    emu, count = launch.subn(lambda m: "emu_launch(%s, [&]{ %s(%s); });" % (m.group(2), m.group(1), m.group(3)), src)
    assert count == 1
    (tmp_path / "random_cuda_emu.cpp").write_text(emu)
    exe = tmp_path / "emulate_random"
    build = subprocess.run([cxx, "-std=c++20", "-O1", "-w", "-pthread", "-I", str(ROOT / "tests" / "cuda_emu"),
                            "-I", str(ROOT / "csrc"), "-I", str(tmp_path),
                            str(ROOT / "tests" / "cuda_emu" / "emulate_random.cpp"), "-o", str(exe)],
                           capture_output=True, text=True)
    if build.returncode != 0 and "barrier" in build.stderr and "No such file" in build.stderr:
        pytest.skip("the C++ library has no <barrier> (C++20)")
    assert build.returncode == 0, build.stderr[-3000:]
    return exe


def test_cuda_kernel_emulated_equals_the_cpu_kernels(tmp_path, cpu_path):
    exe = _emulated_random(tmp_path)
    # the emulated grid holds 3 blocks of 256 threads: sizes past 768 Philox blocks run the grid-stride loop
    cases = []
    for dist in DISTS:
        for dtype in ("float32", "float64"):
            for n in (0, 1, 3, 5, 17, 33, 64, 65, 1001, 4099, 12345):
                for key, offset in ((0, 0), (2 ** 64 - 1, 2 ** 64 - 5), (0xABCDEF, 2 ** 32 - 3)):
                    cases.append((dist, dtype, n, key, offset, 0.37, -1.5, 3.0))
    stdin = "".join(" ".join(str(x) for x in c) + "\n" for c in cases)
    run = subprocess.run([str(exe), str(tmp_path)], input=stdin, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    used = [int(x) for x in run.stdout.split()]
    assert len(used) == len(cases)
    for k, (dist, dtype, n, key, offset, p, mean, std) in enumerate(cases):
        gpu = np.fromfile(tmp_path / f"case{k}.bin", dtype=dtype)
        cpu = np.empty(n, dtype)
        assert fill(dist, cpu, key, offset, p, mean, std) == used[k]
        np.testing.assert_array_equal(gpu, cpu, err_msg=f"{dist} {dtype} n={n} key={key} offset={offset}")


# ---------------------------------------------------------------- fastnn's random state and dropout

def test_manual_seed_sets_the_philox_key_and_zero_offset():
    fastnn.manual_seed(5)
    s = fastnn.get_rng_state()
    assert s["philox"]["offset"] == 0 and 0 <= s["philox"]["key"] < 2 ** 64
    fastnn.manual_seed(6)
    assert fastnn.get_rng_state()["philox"]["key"] != s["philox"]["key"]
    fastnn.manual_seed(5)
    assert fastnn.get_rng_state() == s


def test_each_draw_moves_the_offset_by_the_counters_it_used():
    fastnn.manual_seed(1)
    x = fastnn.ones(10, 33)
    F.dropout(x, 0.5)
    assert fastnn.get_rng_state()["philox"]["offset"] == np_counters(330, 4)
    F.dropout(x, 0.5)
    assert fastnn.get_rng_state()["philox"]["offset"] == 2 * np_counters(330, 4)
    F.dropout(x, 0.0)
    F.dropout(x, 0.5, training=False)
    assert fastnn.get_rng_state()["philox"]["offset"] == 2 * np_counters(330, 4)


def test_dropout_mask_is_the_philox_keep_mask_of_the_global_stream(cpu_path):
    fastnn.manual_seed(77)
    st = fastnn.get_rng_state()["philox"]
    y = F.dropout(fastnn.ones(7, 11, 13), 0.4).numpy()
    keep, _ = np_keep(st["key"], st["offset"], 7 * 11 * 13, 0.4)
    np.testing.assert_array_equal(y.ravel(), np.where(keep, np.float32(1 / 0.6), np.float32(0)))


def test_dropout_statistics_scaling_and_gradient():
    fastnn.manual_seed(0)
    for p in (0.1, 0.5, 0.9):
        x = fastnn.ones(300, 400, requires_grad=True)
        y = F.dropout(x, p)
        kept = y.detach().numpy() != 0
        assert abs(kept.mean() - (1 - p)) < 0.006
        np.testing.assert_array_equal(y.detach().numpy()[kept], np.float32(1 / (1 - p)))
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    x64 = fastnn.tensor(np.full((50, 60), 3.0))
    y64 = F.dropout(x64, 0.25).numpy()
    assert y64.dtype == np.float64 and set(np.unique(y64)) == {0.0, 3.0 / 0.75}
    x16 = fastnn.tensor(np.ones((50, 60), np.float16))
    y16 = F.dropout(x16, 0.3).numpy()
    assert y16.dtype == np.float16 and set(np.unique(y16)) == {np.float16(0), np.float16(1 / 0.7)}


def test_dropout_is_deterministic_under_manual_seed_and_differs_between_calls():
    x = fastnn.ones(64, 50)
    fastnn.manual_seed(3)
    a1, a2 = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    fastnn.manual_seed(3)
    b1, b2 = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)
    fastnn.manual_seed(4)
    assert not np.array_equal(F.dropout(x, 0.5).numpy(), a1)


def test_get_set_rng_state_restores_the_same_masks():
    fastnn.manual_seed(10)
    x = fastnn.ones(3, 8, 5, 5)
    F.dropout(x, 0.3)
    state = json.loads(json.dumps(fastnn.get_rng_state()))
    masks = [F.dropout(x, 0.3).numpy(), F.dropout2d(x, 0.5).numpy(), F.alpha_dropout(x, 0.2, True).numpy(),
             fastnn.rand(4).numpy()]
    fastnn.set_rng_state(state)
    again = [F.dropout(x, 0.3).numpy(), F.dropout2d(x, 0.5).numpy(), F.alpha_dropout(x, 0.2, True).numpy(),
             fastnn.rand(4).numpy()]
    for a, b in zip(masks, again):
        np.testing.assert_array_equal(a, b)
    with fastnn.random.fork_rng():
        inside = F.dropout(x, 0.3).numpy()
    np.testing.assert_array_equal(F.dropout(x, 0.3).numpy(), inside)


def test_dropout_does_not_depend_on_the_thread_count_or_the_cpu_path(cpu_path):
    old = fastnn.get_num_threads()
    x = fastnn.ones(200, 301)
    try:
        res = []
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            fastnn.manual_seed(8)
            res.append(F.dropout(x, 0.35).numpy())
        np.testing.assert_array_equal(res[0], res[1])
    finally:
        fastnn.set_num_threads(old)
    # one fixed mask for this seed, whatever the path: a digest of it
    assert res[0].sum() == pytest.approx(np.count_nonzero(res[0]) / 0.65, rel=1e-6)
    fastnn.manual_seed(8)
    st = fastnn.get_rng_state()["philox"]
    keep, _ = np_keep(st["key"], st["offset"], x.numel(), 0.35)
    np.testing.assert_array_equal(res[0].ravel() != 0, keep)


def test_a_state_saved_before_philox_still_restores():
    """An old checkpoint's RNG state has no 'philox' entry: it restores the numpy generator, and the
    Philox key is derived from that state, so restoring it twice gives the same masks."""
    fastnn.manual_seed(12)
    legacy = {k: v for k, v in fastnn.get_rng_state().items() if k != "philox"}
    x = fastnn.ones(40, 40)
    fastnn.set_rng_state(legacy)
    a, ra = F.dropout(x, 0.5).numpy(), fastnn.rand(3).numpy()
    fastnn.manual_seed(99)
    fastnn.set_rng_state(json.loads(json.dumps(legacy)))
    b, rb = F.dropout(x, 0.5).numpy(), fastnn.rand(3).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ra, rb)
    assert fastnn.get_rng_state()["philox"]["offset"] == np_counters(1600, 4)


def test_bad_rng_states_raise():
    state = fastnn.get_rng_state()
    with pytest.raises(TypeError, match="'philox' entry"):
        fastnn.set_rng_state({**state, "philox": [1, 2]})
    with pytest.raises(ValueError, match="Philox offset"):
        fastnn.set_rng_state({**state, "philox": {"key": 1, "offset": -1}})
    with pytest.raises(ValueError, match="Philox key"):
        fastnn.set_rng_state({**state, "philox": {"key": 2 ** 64, "offset": 0}})
    with pytest.raises(TypeError, match="get_rng_state"):
        fastnn.set_rng_state([1])
    # a failed restore leaves the state as it was
    assert fastnn.get_rng_state() == state


def test_generator_has_its_own_philox_stream():
    g = fastnn.Generator().manual_seed(5)
    fastnn.manual_seed(5)
    assert g.get_state() == fastnn.get_rng_state()
    out = np.empty(100, np.float32)
    fastnn.random.philox_draw(lambda k, o: _C.philox_uniform(out, k, o), generator=g)
    assert g.get_state()["philox"]["offset"] == np_counters(100, 4)
    assert fastnn.get_rng_state()["philox"]["offset"] == 0
    saved = json.loads(json.dumps(g.get_state()))
    first = out.copy()
    fastnn.random.philox_draw(lambda k, o: _C.philox_uniform(out, k, o), generator=g)
    second = out.copy()
    g2 = fastnn.Generator().set_state(saved)
    fastnn.random.philox_draw(lambda k, o: _C.philox_uniform(out, k, o), generator=g2)
    np.testing.assert_array_equal(out, second)
    assert not np.array_equal(first, second)
    legacy = {k: v for k, v in saved.items() if k != "philox"}
    assert fastnn.Generator().set_state(legacy).get_state()["philox"]["offset"] == 0


def test_exact_resume_with_dropout_and_an_old_checkpoint(tmp_path):
    """fastnn.train's resume restores the Philox stream: a run resumed from a checkpoint draws the same dropout
    masks as the uninterrupted run. A checkpoint whose RNG state predates Philox still resumes, twice alike."""
    from fastnn import optim
    from fastnn.train import ModelCheckpoint, fit, load_checkpoint, resume

    rng = np.random.default_rng(5)
    X = rng.standard_normal((48, 6)).astype(np.float32)
    y = rng.integers(0, 3, 48)

    def setup():
        model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.4), nn.Linear(32, 3))
        return model, optim.Adam(model.parameters(), lr=0.01)

    def weights(m):
        return {k: v.numpy().copy() for k, v in m.state_dict().items()}

    fastnn.manual_seed(21)
    model, opt = setup()
    fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=4, batch_size=8, verbose=0,
        callbacks=[ModelCheckpoint(tmp_path / "ck{epoch}.fnn", save_best_only=False)])
    reference = weights(model)

    fastnn.manual_seed(1234)
    model2, opt2 = setup()
    fit(model2, (X, y), nn.CrossEntropyLoss(), opt2, epochs=4, batch_size=8, verbose=0,
        resume_from=tmp_path / "ck2.fnn")
    for k, v in weights(model2).items():
        np.testing.assert_array_equal(v, reference[k])

    # the same checkpoint with its RNG state as written before Philox existed
    state = fastnn.load(tmp_path / "ck2.fnn")
    rng_state = json.loads(state["rng_state"])
    del rng_state["philox"]
    state["rng_state"] = json.dumps(rng_state)
    fastnn.save(state, tmp_path / "old.fnn")
    assert "philox" not in load_checkpoint(tmp_path / "old.fnn")["rng_state"]
    runs = []
    for seed in (1, 2):
        fastnn.manual_seed(seed)
        m, o = setup()
        ck = resume(tmp_path / "old.fnn", m, o)
        fit(m, (X, y), nn.CrossEntropyLoss(), o, epochs=4, initial_epoch=ck["epoch"], batch_size=8, verbose=0)
        runs.append(weights(m))
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])
