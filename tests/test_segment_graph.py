"""The segment family's graph-aggregation kernels on the CPU (csrc/ops/segment/): segment_reduce in every mode
with weights, per-head weights, weight_index and index None; segment_dot (SDDMM); csr_from_index; segment
softmax and its backward. Each is compared with a numpy reference on random graphs with power-law degrees,
isolated nodes, self-loops and duplicate edges, on every CPU path, with int32 and int64 indices, in float32 and
float64; results are bitwise the same at 1 and 2 threads; bad input raises a clear error."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, kernels

MODES = ("sum", "mean", "max", "min")


def graph(rng, n, e, itype=np.int64):
    """(src, dst) of e edges over n nodes: targets power-law (hubs, many isolated nodes), sources uniform, so
    self-loops and duplicate edges occur; src[k] == dst[k] is forced for a few edges."""
    if n == 0 or e == 0:
        return np.zeros(0, itype), np.zeros(0, itype)
    dst = np.minimum(rng.pareto(0.7, e).astype(np.int64), n - 1)
    dst = rng.permutation(n)[dst]
    src = rng.integers(0, n, e)
    src[: e // 20] = dst[: e // 20]
    return src.astype(itype), dst.astype(itype)


def csr(dst, n):
    """The numpy CSR of targets `dst`: offsets (n + 1) and the stable order of the positions."""
    perm = np.argsort(dst, kind="stable")
    return np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=n))]).astype(np.int64), perm


def reduce_ref(x, col, offsets, mode, w=None, widx=None):
    """(out, arg) in float64: the rows x[col[k]] (times their weight) reduced over each segment."""
    segs, d = len(offsets) - 1, x.shape[1]
    out, arg = np.zeros((segs, d)), np.full((segs, d), -1, np.int64)
    for s in range(segs):
        k = np.arange(offsets[s], offsets[s + 1])
        if len(k) == 0:
            continue
        rows = x[col[k]].astype(np.float64)
        if mode in ("max", "min"):
            pick = (np.argmax if mode == "max" else np.argmin)(rows, 0)  # first extreme, first NaN
            out[s], arg[s] = rows[pick, np.arange(d)], col[k][pick]
            continue
        if w is not None:
            ww = w[k if widx is None else widx[k]].astype(np.float64)
            rows = rows * (np.repeat(ww, d // ww.shape[1], 1) if ww.ndim == 2 else ww[:, None])
        out[s] = rows.sum(0) / (len(k) if mode == "mean" else 1)
    return out, arg


def tol(dtype):
    """float32 sums over a hub's thousand rows round differently from a float64 sum by a few 1e-5."""
    return dict(rtol=1e-4, atol=3e-4) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)


# ------------------------------------------------------------------ csr_from_index

@pytest.mark.parametrize("itype", [np.int32, np.int64])
@pytest.mark.parametrize("n,e", [(0, 0), (5, 0), (1, 7), (40, 300), (3000, 150_000)])
def test_csr_from_index_is_a_stable_counting_sort(rng, itype, n, e):
    _, dst = graph(rng, n, e, itype)
    offsets, perm = kernels.csr_from_index(dst, n)
    ref_off, ref_perm = csr(dst, n)
    assert offsets.dtype == np.int64 and perm.dtype == itype
    np.testing.assert_array_equal(offsets, ref_off)
    np.testing.assert_array_equal(perm, ref_perm)


def test_csr_from_index_is_the_same_at_any_thread_count(rng):
    _, dst = graph(rng, 500, 300_000)
    old = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        one = kernels.csr_from_index(dst, 500)
        fastnn.set_num_threads(2)
        two = kernels.csr_from_index(dst, 500)
    finally:
        fastnn.set_num_threads(old)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_csr_from_index_rejects_bad_input():
    with pytest.raises(IndexError, match=r"csr_from_index: argument 'index' holds 5 at position 2, outside the "
                                         r"range \[0, 5\)"):
        kernels.csr_from_index(np.array([0, 4, 5, 1], np.int64), 5)
    with pytest.raises(IndexError, match="holds -1 at position 0"):
        kernels.csr_from_index(np.array([-1, 9], np.int32), 5)
    # the first bad position, also when it lies in a later thread's chunk of a large list
    big = np.zeros(400_000, np.int64)
    big[300_001], big[350_000] = 7, -3
    with pytest.raises(IndexError, match="holds 7 at position 300001"):
        kernels.csr_from_index(big, 7)
    with pytest.raises(TypeError, match="argument 'index' must hold int32 or int64"):
        kernels.csr_from_index(np.zeros(3, np.float32), 5)
    with pytest.raises(ValueError, match="argument 'num_rows' must be in"):
        kernels.csr_from_index(np.zeros(3, np.int64), -1)
    with pytest.raises(ValueError, match=r"argument 'index' must be 1-D, got shape \(2, 2\)"):
        kernels.csr_from_index(np.zeros((2, 2), np.int64), 5)


# ------------------------------------------------------------------ segment_reduce

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_segment_reduce_matches_numpy_on_power_law_graphs(cpu_path, rng, dtype, itype):
    for n, e, d in [(0, 0, 3), (6, 0, 5), (1, 4, 1), (30, 200, 7), (200, 3000, 64), (50, 600, 130)]:
        src, dst = graph(rng, n, e, itype)
        x = rng.standard_normal((n, d)).astype(dtype)
        offsets, perm = kernels.csr_from_index(dst, n)
        perm = perm.astype(itype)
        col = src[perm]
        w1 = rng.standard_normal(e).astype(dtype)
        for mode in MODES:
            out, arg = kernels.segment_reduce(x, col, offsets, mode)
            ref, rarg = reduce_ref(x, col, offsets, mode)
            np.testing.assert_allclose(out, ref, **tol(dtype))
            if mode in ("max", "min"):
                np.testing.assert_array_equal(arg, rarg)
            else:
                assert arg is None
            # the plain reference agrees too
            r2, a2 = _C.segment_reduce_reference(x, col, offsets, mode)
            np.testing.assert_allclose(out, r2, **tol(dtype))
        for mode in ("sum", "mean"):
            out, _ = kernels.segment_reduce(x, col, offsets, mode, w1, -1, perm)  # weights in edge order
            np.testing.assert_allclose(out, reduce_ref(x, col, offsets, mode, w1, perm)[0], **tol(dtype))
            out, _ = kernels.segment_reduce(x, col, offsets, mode, w1[perm])  # weights in position order
            np.testing.assert_allclose(out, reduce_ref(x, col, offsets, mode, w1[perm])[0], **tol(dtype))
            for heads in {1, d} | ({2} if d % 2 == 0 else set()):
                wh = rng.standard_normal((e, heads)).astype(dtype)
                out, _ = kernels.segment_reduce(x, col, offsets, mode, wh, -1, perm)
                ref = reduce_ref(x, col, offsets, mode, wh, perm)[0]
                np.testing.assert_allclose(out, ref, **tol(dtype))
                r2, _ = _C.segment_reduce_reference(x, col, offsets, mode, wh, -1, perm)
                np.testing.assert_allclose(r2, ref, **tol(dtype))


@pytest.mark.parametrize("d", [16, 32, 48, 64, 100])
def test_per_head_weights_on_vector_aligned_and_unaligned_heads(cpu_path, rng, d):
    n, e = 40, 500
    src, dst = graph(rng, n, e)
    offsets, perm = kernels.csr_from_index(dst, n)
    col = src[perm]
    x = rng.standard_normal((n, d)).astype(np.float32)
    for heads in [h for h in (1, 2, 4, 8, d) if d % h == 0]:
        w = rng.random((e, heads)).astype(np.float32)
        out, _ = kernels.segment_reduce(x, col, offsets, "sum", w, -1, perm)
        np.testing.assert_allclose(out, reduce_ref(x, col, offsets, "sum", w, perm)[0], rtol=2e-5, atol=2e-5)


def test_max_and_min_propagate_nan_and_keep_the_first_row_of_ties(cpu_path):
    x = np.array([[1.0, 2.0, -0.0, np.nan], [3.0, 2.0, 0.0, 1.0], [3.0, np.nan, 0.0, 5.0]], np.float32)
    col = np.array([0, 1, 2, 2, 1, 0], np.int64)
    off = np.array([0, 3, 3, 6], np.int64)
    for mode in ("max", "min"):
        out, arg = kernels.segment_reduce(x, col, off, mode)
        ref, rarg = reduce_ref(x, col, off, mode)
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(np.signbit(out), np.signbit(ref))
        np.testing.assert_array_equal(arg, rarg)
        assert (arg[1] == -1).all() and (out[1] == 0).all()
    out, arg = kernels.segment_reduce(x, col, off, "min")
    assert arg[0].tolist() == [0, 2, 0, 0] and arg[2].tolist() == [0, 2, 2, 0]  # NaN first, then ties


def test_min_backward_goes_through_its_arg(rng):
    x = rng.standard_normal((6, 3))
    col = np.array([5, 1, 1, 0, 3], np.int64)
    off = np.array([0, 2, 5], np.int64)
    out, arg = kernels.segment_reduce(x, col, off, "min")
    g = rng.standard_normal(out.shape)
    back = kernels.segment_max_backward(g, arg, 6)
    ref = np.zeros_like(x)
    for s in range(2):
        for j in range(3):
            ref[arg[s, j], j] += g[s, j]
    np.testing.assert_allclose(back, ref)


@pytest.mark.parametrize("mode", MODES)
def test_index_none_reduces_contiguous_segments(rng, mode):
    x = rng.standard_normal((20, 9))
    off = np.array([0, 0, 4, 5, 13, 20], np.int64)
    w = rng.random(20)
    out, _ = kernels.segment_reduce(x, None, off, mode)
    np.testing.assert_allclose(out, reduce_ref(x, np.arange(20), off, mode)[0], rtol=1e-12)
    if mode in ("sum", "mean"):
        out, _ = kernels.segment_reduce(x, None, off, mode, w)
        np.testing.assert_allclose(out, reduce_ref(x, np.arange(20), off, mode, w)[0], rtol=1e-12)
        widx = np.arange(20)[::-1].copy()
        out, _ = kernels.segment_reduce(x, None, off, mode, w, -1, widx)
        np.testing.assert_allclose(out, reduce_ref(x, np.arange(20), off, mode, w, widx)[0], rtol=1e-12)


def test_skip_drops_positions_in_weighted_mean(rng):
    x = rng.standard_normal((5, 4))
    ids = np.array([3, 1, 3, 4], np.int64)
    w = np.array([2.0, 3.0, 5.0, 7.0])
    out, _ = kernels.segment_reduce(x, ids, np.array([0, 4], np.int64), "mean", w, 3)
    np.testing.assert_allclose(out[0], (3 * x[1] + 7 * x[4]) / 2)


# ------------------------------------------------------------------ segment_dot

def dot_ref(a, x, col, offsets, heads, widx=None, num_out=None):
    n = len(col)
    out = np.zeros((num_out if num_out is not None else n, heads))
    c = x.shape[1] // heads
    for s in range(len(offsets) - 1):
        for k in range(offsets[s], offsets[s + 1]):
            prod = (a[s].astype(np.float64) * x[col[k]]).reshape(heads, c).sum(1)
            out[k if widx is None else widx[k]] += prod
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_segment_dot_matches_numpy(cpu_path, rng, dtype, itype):
    for n, e, d in [(0, 0, 4), (7, 0, 4), (30, 250, 12), (120, 2000, 64), (20, 300, 40)]:
        src, dst = graph(rng, n, e, itype)
        offsets, perm = kernels.csr_from_index(dst, n)
        col = src[perm]
        x = rng.standard_normal((n, d)).astype(dtype)
        a = rng.standard_normal((n, d)).astype(dtype)
        for heads in (1, 2, 4):
            out = kernels.segment_dot(a, x, col, offsets, heads, perm, e)
            assert out.shape == (e, heads) and out.dtype == dtype
            np.testing.assert_allclose(out, dot_ref(a, x, col, offsets, heads, perm, e), **tol(dtype))
            out = kernels.segment_dot(a, x, col, offsets, heads)
            np.testing.assert_allclose(out, dot_ref(a, x, col, offsets, heads), **tol(dtype))


def test_segment_dot_sums_positions_naming_one_row_and_zeroes_the_rest(rng):
    x, a = rng.standard_normal((4, 6)), rng.standard_normal((2, 6))
    col = np.array([0, 1, 2, 3, 3], np.int64)
    off = np.array([0, 2, 5], np.int64)
    widx = np.array([4, 1, 4, 0, 4], np.int64)
    out = kernels.segment_dot(a, x, col, off, 2, widx, 7)
    np.testing.assert_allclose(out, dot_ref(a, x, col, off, 2, widx, 7), rtol=1e-12)
    assert (out[[2, 3, 5, 6]] == 0).all()
    out = kernels.segment_dot(a, x, None, np.array([0, 1, 4], np.int64), 3)
    np.testing.assert_allclose(out, dot_ref(a, x, np.arange(4), np.array([0, 1, 4]), 3), rtol=1e-12)


# ------------------------------------------------------------------ segment softmax

def softmax_ref(src, offsets, perm):
    out = np.zeros(src.shape)
    for s in range(len(offsets) - 1):
        e = perm[offsets[s]:offsets[s + 1]]
        if len(e):
            z = np.exp(src[e].astype(np.float64) - src[e].max(0))
            out[e] = z / z.sum(0)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_segment_softmax_and_backward_match_numpy(cpu_path, rng, dtype, itype):
    for n, e, h in [(0, 0, 1), (5, 0, 2), (1, 3, 1), (40, 400, 1), (100, 2000, 8), (30, 300, 20)]:
        _, dst = graph(rng, n, e, itype)
        offsets, perm = kernels.csr_from_index(dst, n)
        src = (rng.standard_normal((e, h)) * 30).astype(dtype)  # large logits: max-subtraction matters
        out = kernels.segment_softmax(src, offsets, perm)
        ref = softmax_ref(src, offsets, perm)
        np.testing.assert_allclose(out, ref, **tol(dtype))
        g = rng.standard_normal((e, h)).astype(dtype)
        ds = kernels.segment_softmax_backward(g, out, offsets, perm)
        dref = np.zeros((e, h))
        for s in range(n):
            k = perm[offsets[s]:offsets[s + 1]]
            dref[k] = ref[k] * (g[k] - (g[k] * ref[k]).sum(0))
        np.testing.assert_allclose(ds, dref, rtol=1e-4 if dtype == np.float32 else 1e-10,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)


def test_segment_softmax_gradient_against_finite_differences(rng):
    n, e, h = 6, 30, 2
    _, dst = graph(rng, n, e)
    offsets, perm = kernels.csr_from_index(dst, n)
    src, g, v = (rng.standard_normal((e, h)) for _ in range(3))
    out = kernels.segment_softmax(src, offsets, perm)
    eps = 1e-6
    fd = ((kernels.segment_softmax(src + eps * v, offsets, perm) -
           kernels.segment_softmax(src - eps * v, offsets, perm)) * g).sum() / (2 * eps)
    np.testing.assert_allclose((kernels.segment_softmax_backward(g, out, offsets, perm) * v).sum(), fd, rtol=1e-6)


def test_segment_softmax_leaves_unnamed_rows_zero_and_handles_repeated_rows(rng):
    src = rng.standard_normal((6, 3))
    offsets = np.array([0, 2, 3], np.int64)
    perm = np.array([4, 1, 0], np.int64)  # rows 2, 3, 5 belong to no segment
    out = kernels.segment_softmax(src, offsets, perm)
    np.testing.assert_allclose(out, softmax_ref(src, offsets, perm), rtol=1e-12)
    assert (out[[2, 3, 5]] == 0).all()
    ds = kernels.segment_softmax_backward(np.ones_like(src), out, offsets, perm)
    assert (ds[[2, 3, 5]] == 0).all()
    # a row named by two segments: the later segment's value, on one thread, as in position order
    out = kernels.segment_softmax(src, np.array([0, 2, 4], np.int64), np.array([0, 1, 1, 2], np.int64))
    np.testing.assert_allclose(out[1], np.exp(src[1] - np.maximum(src[1], src[2])) /
                               (np.exp(src[1] - np.maximum(src[1], src[2])) +
                                np.exp(src[2] - np.maximum(src[1], src[2]))), rtol=1e-12)


# ------------------------------------------------------------------ threads

def test_every_kernel_gives_the_same_bits_at_1_and_2_threads(rng):
    n, e, d = 3000, 60_000, 24
    src, dst = graph(rng, n, e)
    offsets, perm = kernels.csr_from_index(dst, n)
    col = src[perm]
    x = rng.standard_normal((n, d)).astype(np.float32)
    w, wh = rng.random(e).astype(np.float32), rng.random((e, 4)).astype(np.float32)
    logits = rng.standard_normal((e, 4)).astype(np.float32)

    def run_all():
        res = [kernels.segment_reduce(x, col, offsets, m)[i] for m in MODES for i in (0, 1)
               if not (i == 1 and m in ("sum", "mean"))]
        res += [kernels.segment_reduce(x, col, offsets, m, ww, -1, perm)[0] for m in ("sum", "mean") for ww in (w, wh)]
        res += [kernels.segment_dot(x, x, col, offsets, 4, perm, e), kernels.segment_dot(x, x, col, offsets, 1)]
        sm = kernels.segment_softmax(logits, offsets, perm)
        res += [sm, kernels.segment_softmax_backward(logits, sm, offsets, perm)]
        res += list(kernels.csr_from_index(dst, n))
        return res

    old = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        one = run_all()
        fastnn.set_num_threads(2)
        two = run_all()
    finally:
        fastnn.set_num_threads(old)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ bad input

def test_bad_input_names_the_argument_and_shapes():
    x = np.zeros((4, 6), np.float32)
    col = np.array([0, 1, 3], np.int64)
    off = np.array([0, 1, 3], np.int64)
    cases = [
        (lambda: kernels.segment_reduce(x, np.array([0, 4, 1]), off, "sum"), IndexError,
         r"segment_reduce: argument 'index' holds 4 at position 1, outside the range \[0, 4\)"),
        (lambda: kernels.segment_reduce(x, col, off, "prod"), ValueError, "'sum', 'mean', 'max' or 'min'"),
        (lambda: kernels.segment_reduce(x, col, off, "max", np.ones(3, np.float32)), ValueError,
         "modes 'sum' and 'mean' only"),
        (lambda: kernels.segment_reduce(x, col, off, "sum", np.ones((3, 4), np.float32)), ValueError,
         r"argument 'weights' has shape \(3, 4\) but 'src' has \(4, 6\)"),
        (lambda: kernels.segment_reduce(x, col, off, "sum", np.ones(2, np.float32)), ValueError,
         r"argument 'weights' has shape \(2,\) but there are 3 positions"),
        (lambda: kernels.segment_reduce(x, col, off, "sum", np.ones(3, np.float64)), TypeError, "weights"),
        (lambda: kernels.segment_reduce(x, col, off, "sum", np.ones(2, np.float32), -1, np.array([0, 2, 1])),
         IndexError, r"argument 'weight_index' holds 2 at position 1, outside the range \[0, 2\)"),
        (lambda: kernels.segment_reduce(x, col, off, "sum", None, -1, np.array([0, 1, 1])), ValueError,
         "'weight_index' is given without 'weights'"),
        (lambda: kernels.segment_reduce(x, col, off, "sum", np.ones(3, np.float32), -1, np.array([0, 1], np.int64)),
         ValueError, r"argument 'weight_index' has shape \(2,\) but there are 3 positions"),
        (lambda: kernels.segment_reduce(x, col, off, "sum", np.ones(3, np.float32), -1, np.array([0, 1, 2], np.int32)),
         TypeError, "'weight_index' holds int32 indices but 'index' holds int64"),
        (lambda: kernels.segment_reduce(x, col, np.array([0, 4], np.int64), "sum"), ValueError,
         r"argument 'offsets' holds 4 at position 1, outside \[0, 3\]"),
        (lambda: kernels.segment_reduce(x[:, ::2], col, off, "sum"), ValueError, "argument 'src'"),
        (lambda: kernels.segment_dot(x[:1], x, col, off), ValueError, r"argument 'a' has shape \(1, 6\)"),
        (lambda: kernels.segment_dot(x[:2], x, col, off, 4), ValueError, "argument 'heads' must be >= 1 and divide"),
        (lambda: kernels.segment_dot(x[:2], x, col, off, 1, None, 2), ValueError, "argument 'num_out' is 2"),
        (lambda: kernels.segment_dot(x[:2], x, col, off, 1, np.array([0, 5, 1]), 5), IndexError,
         r"argument 'weight_index' holds 5 at position 1, outside the range \[0, 5\)"),
        (lambda: kernels.segment_softmax(x, off, np.array([0, 4, 1])), IndexError,
         r"segment_softmax: argument 'perm' holds 4 at position 1, outside the range \[0, 4\)"),
        (lambda: kernels.segment_softmax(x[:, 0], off, col), ValueError, "argument 'src' must be 2-D"),
        (lambda: kernels.segment_softmax_backward(x, x[:3], off, col), ValueError,
         r"argument 'out' has shape \(3, 6\) but 'grad' has \(4, 6\)"),
        (lambda: kernels.segment_softmax_backward(x, x.astype(np.float64), off, col), TypeError, "'out'"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()
