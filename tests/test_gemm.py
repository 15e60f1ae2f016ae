"""The CPU GEMM (fastnn._C.gemm) and kernels.matmul against numpy in float64.

Every kernel test runs on every CPU path the machine can run (avx512, avx2, portable: the
cpu_path fixture) and with 1 and 2 threads.
"""
import os

import numpy as np
import pytest

import fastnn
from fastnn import _C, kernels

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _cpu_has_avx2():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return None
    return " avx2" in flags and " fma" in flags


@pytest.fixture(params=[1, 2])
def threads(request):
    old = fastnn.get_num_threads()
    fastnn.set_num_threads(request.param)
    yield request.param
    fastnn.set_num_threads(old)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def check(c, a, b, alpha=1.0, beta=0.0, c0=None):
    """c must equal alpha * a @ b + beta * c0 within the float rounding bound for a K-term sum."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = alpha * np.matmul(a64, b64)
    bound = abs(alpha) * np.matmul(np.abs(a64), np.abs(b64))
    if beta != 0:
        ref = ref + beta * c0.astype(np.float64)
        bound = bound + abs(beta) * np.abs(c0.astype(np.float64))
    k = a.shape[-1]
    eps = np.finfo(c.dtype).eps
    tol = 2 * (k + 2) * eps * bound + np.finfo(c.dtype).tiny
    assert c.shape == ref.shape
    err = np.abs(c.astype(np.float64) - ref)
    assert np.all(err <= tol), f"max error {err.max()} (tolerance {tol.max()})"


def layout(x, kind):
    """The same values as x in another memory layout: 'c', 'f' (transposed storage),
    'step' (a slice with steps of a bigger array) or 'neg' (negative strides)."""
    if kind == "c":
        return np.ascontiguousarray(x)
    if kind == "f":
        return np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    if kind == "step":
        big = np.full(x.shape[:-2] + (2 * x.shape[-2] + 1, 3 * x.shape[-1] + 2), np.nan, dtype=x.dtype)
        view = big[..., 1::2, 2::3][..., : x.shape[-2], : x.shape[-1]]
        view[...] = x
        return view
    if kind == "neg":
        big = np.ascontiguousarray(x[..., ::-1, ::-1])
        return big[..., ::-1, ::-1]
    raise ValueError(kind)


SHAPES = [  # (M, N, K)
    (1, 1, 1), (0, 5, 3), (4, 0, 3), (4, 5, 0), (1, 7, 1), (7, 1, 5), (2, 3, 5), (6, 16, 8), (13, 17, 19),
    (31, 37, 41), (64, 64, 64), (97, 23, 600), (7, 300, 53), (300, 517, 129),
    (1, 300, 200), (250, 1, 190), (1, 1, 1000), (1, 3001, 200), (2900, 1, 210),  # matrix-vector
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,N,K", SHAPES)
def test_gemm_shapes_and_layouts(cpu_path, threads, rng, dtype, M, N, K):
    a = rng.standard_normal((1, M, K)).astype(dtype)
    b = rng.standard_normal((1, K, N)).astype(dtype)
    kinds = [("c", "c", "c"), ("f", "f", "c"), ("step", "neg", "f"), ("neg", "c", "step")]
    if M * N * K > 10**6:
        kinds = kinds[:2]
    for ka, kb, kc in kinds:
        A, B = layout(a, ka), layout(b, kb)
        C = layout(np.full((1, M, N), np.nan, dtype=dtype), kc)
        _C.gemm(A, B, C)  # beta == 0: the NaNs in C are never read
        check(C, a, b)


# Register tiles (ops/gemm/cpu_simd.cpp): rows x columns per path and dtype.
TILES = {("avx512", np.float32): (14, 32), ("avx512", np.float64): (14, 16), ("avx2", np.float32): (6, 16),
         ("avx2", np.float64): (6, 8), ("portable", np.float32): (4, 8), ("portable", np.float64): (4, 4)}


def around(n):
    """Sizes on both sides of multiples of n."""
    return sorted({1, n - 1, n, n + 1, 2 * n - 1, 2 * n + 1} - {0})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_tile_edges(cpu_path, rng, dtype):
    # M and N on both sides of the register tile (edge kernels with fewer rows, fewer vectors
    # and masked columns), K = 1 and K around the lane count (the transposing packs' tails),
    # A and B each row-major or transposed, beta = 0 and beta != 0.
    mr, nr = TILES[(cpu_path, dtype)]
    lanes = _C._simd_lanes(cpu_path, np.dtype(dtype).itemsize)
    for M in around(mr):
        for N in around(nr) + [lanes + 1]:
            for K in (1, lanes - 1, lanes + 3):
                a = rng.standard_normal((1, M, K)).astype(dtype)
                b = rng.standard_normal((1, K, N)).astype(dtype)
                c0 = rng.standard_normal((1, M, N)).astype(dtype)
                for ka, kb in [("c", "c"), ("f", "f"), ("c", "f"), ("f", "c")]:
                    c = c0.copy()
                    _C.gemm(layout(a, ka), layout(b, kb), c, alpha=1.5, beta=-0.5 if K > 1 else 0.0)
                    check(c, a, b, 1.5, -0.5 if K > 1 else 0.0, c0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_depth_blocks_and_strided_c(cpu_path, threads, rng, dtype):
    # K over several depth blocks (beta applied once, then accumulated), row-major and
    # transposed operands, C with a column stride (the element-wise store of the tile).
    for M, N, K, kc in [(70, 90, 1500, "c"), (29, 65, 700, "step"), (200, 33, 1100, "f")]:
        a = rng.standard_normal((2, M, K)).astype(dtype)
        b = rng.standard_normal((2, K, N)).astype(dtype)
        c0 = rng.standard_normal((2, M, N)).astype(dtype)
        for ka, kb in [("c", "f"), ("f", "c")]:
            c = layout(np.zeros_like(c0), kc)
            c[...] = c0
            _C.gemm(layout(a, ka), layout(b, kb), c, alpha=-1.0, beta=0.25)
            check(c, a, b, -1.0, 0.25, c0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_depth_split_small_c(cpu_path, threads, rng, dtype):
    # A small C over a long depth (a weight gradient: 64 x 64 over 1024 rows) is computed by slices of
    # the depth, one per thread, then added: every layout of A, B and C, alpha and beta, odd sizes,
    # the same bits on every call.
    for M, N, K, kc in [(64, 64, 1024, "c"), (17, 33, 2000, "f"), (128, 128, 2048, "step"), (3, 100, 4096, "neg")]:
        a = rng.standard_normal((1, M, K)).astype(dtype)
        b = rng.standard_normal((1, K, N)).astype(dtype)
        c0 = rng.standard_normal((1, M, N)).astype(dtype)
        for ka, kb, alpha, beta in [("f", "c", 1.0, 0.0), ("c", "f", -0.5, 2.0), ("step", "neg", 2.0, 1.0)]:
            results = []
            for _ in range(2):
                c = layout(np.zeros_like(c0), kc)
                c[...] = c0
                _C.gemm(layout(a, ka), layout(b, kb), c, alpha=alpha, beta=beta)
                check(c, a, b, alpha, beta, c0)
                results.append(np.array(c))
            assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.5, -0.5), (-1.0, 0.0), (0.0, 2.0), (0.5, 1.0)])
def test_gemm_alpha_beta(cpu_path, threads, rng, dtype, alpha, beta):
    for M, N, K in [(5, 9, 4), (37, 70, 33), (130, 20, 700)]:
        a = rng.standard_normal((2, M, K)).astype(dtype)
        b = rng.standard_normal((2, K, N)).astype(dtype)
        c0 = rng.standard_normal((2, M, N)).astype(dtype)
        c = c0.copy()
        _C.gemm(a, b, c, alpha=alpha, beta=beta)
        check(c, a, b, alpha, beta, c0)


def test_gemm_k_zero_and_alpha_zero(cpu_path, threads):
    c = np.full((2, 3, 4), np.nan, np.float32)
    _C.gemm(np.ones((2, 3, 0), np.float32), np.ones((2, 0, 4), np.float32), c)
    assert np.all(c == 0)
    c = np.full((1, 3, 4), 2.0)
    _C.gemm(np.full((1, 3, 5), np.nan), np.ones((1, 5, 4)), c, alpha=0.0, beta=0.5)
    assert np.all(c == 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_batched_broadcast_and_splits(cpu_path, threads, rng, dtype):
    # Small matrices in a batch (split over threads by matrix), a batch of 3 medium ones
    # (split inside each matrix), broadcast a or b (batch stride 0), and a wide, short C
    # (threads share the column strips) with N past one column panel.
    cases = [(8, 20, 24, 16, "none"), (4, 64, 64, 64, "a"), (3, 150, 90, 140, "b"), (3, 7, 4200, 40, "none"),
             (2, 5, 300, 1100, "a")]
    for batch, M, N, K, bcast in cases:
        a = rng.standard_normal((1 if bcast == "a" else batch, M, K)).astype(dtype)
        b = rng.standard_normal((1 if bcast == "b" else batch, K, N)).astype(dtype)
        A = np.broadcast_to(a, (batch, M, K))
        B = np.broadcast_to(b, (batch, K, N))
        c = np.full((batch, M, N), np.nan, dtype)
        _C.gemm(A, B, c)
        check(c, A, B)


def test_gemm_team_over_a_batch(cpu_path, threads, rng):
    # A batch of 3 matrices too big to hand out whole: each one is split across the team.
    a = rng.standard_normal((3, 260, 250)).astype(np.float32)
    b = rng.standard_normal((3, 250, 270)).astype(np.float32).transpose(0, 1, 2)
    c = np.empty((3, 260, 270), np.float32)
    _C.gemm(a, b, c)
    check(c, a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_b_against_the_plain_gemm(cpu_path, threads, rng, dtype):
    # B packed once (PackedB, as the recurrent loops use it) and multiplied with a batch of A: the
    # same results as the plain GEMM. Row counts around the tile (rows split between threads or
    # the column strips), N around the strip width (zero-padded last strip), K over several depth
    # blocks, B row-major or transposed (x @ W.T), A and C strided, beta 0 (NaNs never read) and not.
    mr, nr = TILES[(cpu_path, dtype)]
    shapes = [(M, N, K) for M in around(mr) for N in (1, nr - 1, nr + 1) for K in (1, 9)]
    shapes += [(0, 5, 3), (4, 0, 3), (4, 5, 0), (32, 512, 128), (64, 128, 512), (3 * mr + 2, 2 * nr + 5, 1300)]
    for M, N, K in shapes:
        a = rng.standard_normal((2, M, K)).astype(dtype)
        b = rng.standard_normal((K, N)).astype(dtype)
        c0 = rng.standard_normal((2, M, N)).astype(dtype)
        for ka, kb, kc, beta in [("c", "c", "c", 0.0), ("f", "f", "c", 0.5), ("step", "neg", "f", -1.0)]:
            c = layout(np.full_like(c0, np.nan) if beta == 0 else c0.copy(), kc)
            _C._gemm_packed_b(layout(a, ka), layout(b[None], kb)[0], c, alpha=1.5, beta=beta)
            ref = np.full_like(c0, np.nan) if beta == 0 else c0.copy()
            _C.gemm(a, np.broadcast_to(b, (2, K, N)), ref, alpha=1.5, beta=beta)
            check(c, a, np.broadcast_to(b, (2, K, N)), 1.5, beta, c0)
            np.testing.assert_allclose(c, ref, rtol=10 * np.finfo(dtype).eps * max(K, 1), atol=1e-5)


def test_packed_b_alpha_zero_and_bad_shapes(cpu_path):
    c = np.full((1, 3, 4), 2.0)
    _C._gemm_packed_b(np.full((1, 3, 5), np.nan), np.ones((5, 4)), c, alpha=0.0, beta=0.5)
    assert np.all(c == 1.0)
    with pytest.raises(ValueError, match="shapes do not agree"):
        _C._gemm_packed_b(np.ones((1, 3, 5)), np.ones((4, 4)), np.ones((1, 3, 4)))
    with pytest.raises(TypeError):
        _C._gemm_packed_b(np.ones((1, 3, 5)), np.ones((5, 4), np.float32), np.ones((1, 3, 4)))


# Rows of C the narrow-product kernel holds in registers (ops/gemm/cpu_simd.cpp, NarrowTile).
NARROW_MR = {"avx512": 24, "avx2": 12, "portable": 8}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_narrow_side(cpu_path, threads, rng, dtype):
    # One side of at most one vector (A read in place against a packed K x lanes panel of B; a
    # narrow M through C^T = B^T A^T): the narrow side on both sides of the lane count, the other
    # over full register tiles and every tail (8, 4, 2, 1 rows) and split between threads, K = 1,
    # 2 and odd, and deep enough (300) for a narrow M to take the narrow rows, every operand
    # row-major, transposed, stepped or reversed, alpha and beta.
    lanes = _C._simd_lanes(cpu_path, np.dtype(dtype).itemsize)
    mr = NARROW_MR[cpu_path]
    narrow = sorted({1, 2, lanes - 1, lanes, lanes + 1} - {0})
    wide = [3, 2 * mr + 15, 4 * mr + 1]
    kinds = [("c", "c", "c"), ("f", "f", "c"), ("c", "f", "f"), ("step", "neg", "step"), ("neg", "step", "f")]
    for n in narrow:
        for m in wide:
            for K in (1, 2, 37, 300):
                for M, N in ((m, n), (n, m)):
                    a = rng.standard_normal((1, M, K)).astype(dtype)
                    b = rng.standard_normal((1, K, N)).astype(dtype)
                    c0 = rng.standard_normal((1, M, N)).astype(dtype)
                    for i, (ka, kb, kc) in enumerate(kinds):
                        alpha, beta = [(1.0, 0.0), (1.5, -0.5), (-2.0, 1.0), (0.5, 0.0), (1.0, 0.25)][i]
                        c = layout(np.full_like(c0, np.nan) if beta == 0 else c0.copy(), kc)
                        _C.gemm(layout(a, ka), layout(b, kb), c, alpha=alpha, beta=beta)
                        check(c, a, b, alpha, beta, c0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_narrow_depth_blocks_and_batches(cpu_path, threads, rng, dtype):
    # Narrow products with K past the depth block of the B panel (half of L2: beta applied once,
    # then accumulated), K = 0 (beta only), and batches: many small matrices (whole matrices per
    # thread), a few big ones (rows split inside each), an operand broadcast over the batch.
    lanes = _C._simd_lanes(cpu_path, np.dtype(dtype).itemsize)
    cases = [(1, 30, lanes - 1, 70000, "none"), (1, 3, 61, 70000, "none"), (2, 9, 5, 0, "none"),
             (16, 40, lanes, 30, "none"), (16, 2, 50, 30, "b"), (3, 700, 3, 300, "a"), (3, lanes, 500, 300, "b")]
    for batch, M, N, K, bcast in cases:
        a = rng.standard_normal((1 if bcast == "a" else batch, M, K)).astype(dtype)
        b = rng.standard_normal((1 if bcast == "b" else batch, K, N)).astype(dtype)
        A = np.broadcast_to(a, (batch, M, K))
        B = np.broadcast_to(b, (batch, K, N))
        c0 = rng.standard_normal((batch, M, N)).astype(dtype)
        c = c0.copy()
        _C.gemm(A, layout(B, "f"), c, alpha=0.75, beta=-1.5)
        check(c, A, B, 0.75, -1.5, c0)


def test_matmul_graph_layer_shapes(rng):
    # A graph layer's products on a Cora-sized graph: X @ W and the weight gradient G^T @ X (G^T a
    # transposed view), the shapes the narrow rows are for.
    x = rng.standard_normal((2708, 1433)).astype(np.float32)
    w = rng.standard_normal((1433, 16)).astype(np.float32)
    g = rng.standard_normal((2708, 16)).astype(np.float32)
    check(kernels.matmul(x, w), x, w)
    check(kernels.matmul(g.T, x), g.T, x)


@settings(max_examples=40, deadline=None)
@given(M=st.integers(0, 40), N=st.integers(0, 40), K=st.integers(0, 40), batch=st.integers(1, 3),
       ta=st.booleans(), tb=st.booleans(), tc=st.booleans(), step=st.integers(1, 3),
       f64=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_gemm_hypothesis(M, N, K, batch, ta, tb, tc, step, f64, seed):
    rng = np.random.default_rng(seed)
    dtype = np.float64 if f64 else np.float32
    a = rng.standard_normal((batch, K * step, M) if ta else (batch, M, K * step)).astype(dtype)
    a = a.transpose(0, 2, 1)[:, :, ::step] if ta else a[:, :, ::step]
    b = rng.standard_normal((batch, N, K) if tb else (batch, K, N)).astype(dtype)
    b = b.transpose(0, 2, 1) if tb else b
    c = np.full((batch, N, M) if tc else (batch, M, N), np.nan, dtype)
    c = c.transpose(0, 2, 1) if tc else c
    _C.gemm(a, b, c)
    check(c, a, b)


def test_gemm_paths_agree_in_subprocess():
    # The switch is read from the environment at import time as well as on refresh.
    import subprocess
    import sys

    code = ("import numpy as np; from fastnn import _C; r = np.random.default_rng(0);"
            "a = r.standard_normal((1, 50, 70)); b = r.standard_normal((1, 70, 30)); c = np.empty((1, 50, 30));"
            "_C.gemm(a, b, c); print(_C.cpu_path(), float(np.abs(c - a @ b).max()))")
    env = dict(os.environ, FASTNN_CPU_PATH="portable")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    path, err = out.split()
    assert path == "portable" and float(err) < 1e-12


# ---------------------------------------------------------------- bad input


def f32(*shape):
    return np.zeros(shape, np.float32)


@pytest.mark.parametrize("args,exc,match", [
    ((np.zeros((1, 2, 3), np.int64), np.zeros((1, 3, 4), np.int64), np.zeros((1, 2, 4), np.int64)), TypeError,
     "'a' must be float32 or float64, got int64"),
    ((f32(1, 2, 3), np.zeros((1, 3, 4)), f32(1, 2, 4)), TypeError, "'a' \\(float32\\) and 'b' \\(float64\\)"),
    ((f32(1, 2, 3), f32(1, 3, 4), np.zeros((1, 2, 4))), TypeError, "'a' \\(float32\\) and 'out' \\(float64\\)"),
    ((f32(2, 3), f32(1, 3, 4), f32(1, 2, 4)), ValueError, "'a' must be 3-D, got shape \\(2, 3\\)"),
    ((f32(1, 2, 3), f32(3, 4), f32(1, 2, 4)), ValueError, "'b' must be 3-D"),
    ((f32(1, 2, 3), f32(1, 3, 4), f32(2, 4)), ValueError, "'out' must be 3-D"),
    ((f32(1, 2, 3), f32(1, 5, 4), f32(1, 2, 4)), ValueError,
     "shapes do not agree: a \\(1, 2, 3\\) @ b \\(1, 5, 4\\) -> out \\(1, 2, 4\\)"),
    ((f32(2, 2, 3), f32(1, 3, 4), f32(2, 2, 4)), ValueError, "shapes do not agree"),
    ((f32(1, 2, 3), f32(1, 3, 4), f32(1, 3, 4)), ValueError, "shapes do not agree"),
])
def test_gemm_bad_arguments(args, exc, match):
    with pytest.raises(exc, match=match):
        _C.gemm(*args)


def test_gemm_bad_out():
    a, b = f32(1, 2, 3), f32(1, 3, 4)
    ro = f32(1, 2, 4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'out' is read-only"):
        _C.gemm(a, b, ro)
    with pytest.raises(ValueError, match="'out' of shape \\(1, 2, 4\\) has a zero stride"):
        _C.gemm(a, b, np.lib.stride_tricks.as_strided(f32(1, 1, 4), (1, 2, 4), (16, 0, 4)))
    with pytest.raises(ValueError, match="strides under which elements overlap"):
        _C.gemm(a, b, np.lib.stride_tricks.as_strided(f32(8), (1, 2, 4), (4, 8, 4)))
    buf = f32(100)
    with pytest.raises(ValueError, match="'out' overlaps input 'a'"):
        _C.gemm(buf[:6].reshape(1, 2, 3), b, buf[2:10].reshape(1, 2, 4))
    with pytest.raises(ValueError, match="'out' overlaps input 'b'"):
        _C.gemm(a, buf[:12].reshape(1, 3, 4), buf[8:16].reshape(1, 2, 4))


def test_gemm_bad_strides():
    raw = np.zeros(200, np.uint8)
    odd = np.ndarray((1, 2, 3), np.float32, raw, offset=0, strides=(24, 12, 3))
    with pytest.raises(ValueError, match="'a' has a stride that is not a multiple of its item size"):
        _C.gemm(odd, f32(1, 3, 4), f32(1, 2, 4))
    with pytest.raises(ValueError, match="'out' has a stride"):
        _C.gemm(f32(1, 2, 3), f32(1, 3, 4), np.ndarray((1, 2, 4), np.float32, raw, offset=0, strides=(40, 18, 4)))


def test_gemm_not_an_array():
    with pytest.raises(TypeError):
        _C.gemm([[[1.0]]], f32(1, 1, 1), f32(1, 1, 1))


# ---------------------------------------------------------------- kernels.matmul

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)), ((3, 4), (5, 4, 2)),
    ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (6, 4, 5)), ((0, 3), (3, 2)),
    ((2, 0), (0, 3)), ((4, 0, 2, 3), (3, 5)), ((7,), (2, 7, 3)), ((2, 5, 7), (7,)), ((1, 1), (1, 1)),
    ((3, 2, 13, 11), (3, 1, 11, 17)), ((129, 67), (67, 31)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_numpy_semantics(rng, dtype, sa, sb):
    a = rng.standard_normal(sa).astype(dtype)
    b = rng.standard_normal(sb).astype(dtype)
    r = kernels.matmul(a, b)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert r.dtype == dtype and r.shape == np.shape(expected)
    a2 = a[None] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    check(np.reshape(r, np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1])),
          np.broadcast_to(a2, np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + a2.shape[-2:]),
          b2)


def test_matmul_strided_views(cpu_path, threads, rng):
    def r(*shape, dtype):
        return rng.standard_normal(shape).astype(dtype)

    cases = [
        lambda d: (r(6, 4, 5, dtype=d).transpose(0, 2, 1)[::2], r(4, 3, dtype=d)),
        lambda d: (r(2, 3, 5, 4, dtype=d).transpose(1, 0, 2, 3), r(3, 1, 4, 6, dtype=d)),
        lambda d: (r(40, 30, dtype=d)[::-3, 1::2], r(30, 45, dtype=d)[::-2, ::3]),
        lambda d: (r(4, 5, dtype=d).T, r(3, 7, 4, dtype=d).transpose(0, 2, 1)[:, ::-1]),
        lambda d: (np.broadcast_to(r(1, 9, 8, dtype=d), (4, 9, 8)), r(4, 8, 3, dtype=d)),
        lambda d: (r(2, 1, 70, 33, dtype=d)[..., ::-1, :], r(3, 33, 150, dtype=d)[:, :, ::2]),
    ]
    for make in cases:
        for dtype in (np.float32, np.float64):
            a, b = make(dtype)
            res = kernels.matmul(a, b)
            assert res.dtype == dtype
            check(res, np.broadcast_to(a, res.shape[:-2] + a.shape[-2:]), np.broadcast_to(b, res.shape[:-2] + b.shape[-2:]))


def test_matmul_folds_batch_into_rows(monkeypatch, rng):
    # (B, M, K) @ (K, N) with a foldable batch is one (B*M, K) @ (K, N) product.
    calls = []
    real = _C.gemm

    def spy(a, b, out, *args):
        calls.append((a.shape, b.shape, out.shape, b.strides[0]))
        return real(a, b, out, *args)

    monkeypatch.setattr(_C, "gemm", spy)
    a = rng.standard_normal((4, 5, 6)).astype(np.float32)
    b = rng.standard_normal((6, 3)).astype(np.float32)
    r = kernels.matmul(a, b)
    check(r, a, np.broadcast_to(b, (4, 6, 3)))
    assert calls == [((1, 20, 6), (1, 6, 3), (1, 20, 3), 0)]
    # Broadcast operand: batch stride 0, no copy, a single batched call.
    calls.clear()
    r = kernels.matmul(b.T[None].repeat(1, 0), rng.standard_normal((7, 6, 2)).astype(np.float32))
    assert len(calls) == 1 and calls[0][0][0] == 7


def test_matmul_out(rng):
    a = rng.standard_normal((3, 6, 5))
    b = rng.standard_normal((5, 2))
    out = np.full((6, 3, 2), np.nan).transpose(1, 0, 2)
    assert kernels.matmul(a, b, out=out) is out
    check(out, a, np.broadcast_to(b, (3, 5, 2)))
    x = rng.standard_normal((4, 4))
    x0 = x.copy()
    kernels.matmul(x, x, out=x)  # overlaps both inputs: computed through a temporary
    check(x, x0, x0)
    v = rng.standard_normal(5)
    out = np.empty(3)
    kernels.matmul(a[0, :3], v, out=out)
    check(out[:, None], a[0, :3], v[:, None])


def test_matmul_bad_input():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4, 2\) are not aligned"):
        kernels.matmul(a, np.zeros((4, 2), np.float32))
    with pytest.raises(TypeError, match="'a' \\(float32\\) and 'b' \\(float64\\)"):
        kernels.matmul(a, np.zeros((3, 2)))
    with pytest.raises(TypeError, match="'a' must be float32 or float64, got int32"):
        kernels.matmul(a.astype(np.int32), a.astype(np.int32).T)
    with pytest.raises(ValueError, match="at least 1-D"):
        kernels.matmul(np.float32(1.0) * np.ones((), np.float32), a)
    with pytest.raises(ValueError, match="do not broadcast"):
        kernels.matmul(np.zeros((2, 2, 3)), np.zeros((3, 3, 4)))
    with pytest.raises(ValueError, match=r"'out' must have shape \(2, 2\) and dtype float32"):
        kernels.matmul(a, a.T, out=np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match="'a' must be an array, got list"):
        kernels.matmul([[1.0]], a)
    ro = np.zeros((2, 2), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'out' is read-only"):
        kernels.matmul(a, a.T, out=ro)
