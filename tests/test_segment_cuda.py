"""The segment family's graph kernels on CUDA (fastnn._C_cuda: segment_reduce, segment_max_backward,
segment_dot, csr_from_index, segment_softmax and its backward) against the CPU module on the same random
skewed graphs (a hub holding a large share of the edges, so the block-per-row and merge-path kernels run,
isolated nodes, self-loops, duplicate edges, empty graphs), with and without the deterministic mode, which
must also be bitwise repeatable. Marked ``gpu``: skipped without a GPU and cupy
(tests/cuda_emu/run_gpu_tests_emulated.sh runs them on the CPU with the kernels emulated)."""
import numpy as np
import pytest

from fastnn import _C

from gpu_family import TOL, K, cp, dev, host, pytestmark, rel_err  # noqa: F401


def skewed_graph(rng, nodes, edges, hub_share=0.4, itype=np.int64):
    """(offsets, col, edge order) of a CSR over `nodes` destinations: one hub receives `hub_share` of the
    edges (more than the kernels' long-row threshold when edges allow), the rest are spread unevenly, so
    some nodes have none; sources are random (self-loops and duplicates happen)."""
    hub = int(edges * hub_share)
    dst = np.concatenate([np.full(hub, nodes // 2), rng.integers(0, max(nodes // 3, 1), edges - hub) * 3 % nodes])
    dst = dst[rng.permutation(edges)] if edges else dst.astype(np.int64)
    counts = np.bincount(dst, minlength=nodes) if nodes else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    col = rng.integers(0, max(nodes, 1), edges).astype(itype)
    return offsets, col, dst.astype(itype)


GRAPHS = [(0, 0), (5, 0), (40, 700), (300, 2000)]


def both(f):
    """f(module, deterministic) on the CPU module and on CUDA in both modes; the CUDA results back on the host."""
    cpu = f(_C, True)
    got = {det: f(K, det) for det in (False, True)}
    return cpu, got


def close(got, ref, dtype, tol=None):
    got = np.asarray(host(got))
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.size:
        assert rel_err(got, ref) < (tol or TOL[dtype] * 10), rel_err(got, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("itype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("mode", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("graph", GRAPHS, ids=[f"{n}x{e}" for n, e in GRAPHS])
def test_segment_reduce_matches_cpu(dtype, itype, mode, graph):
    rng = np.random.default_rng(hash((mode, graph)) % 2**32)
    nodes, edges = graph
    offsets, col, _ = skewed_graph(rng, nodes, edges, itype=itype)
    for d in (7, 64):
        x = rng.standard_normal((max(nodes, 1), d)).astype(dtype)
        cpu = _C.segment_reduce(x, col, offsets, mode)
        for det in (False, True):
            out, arg = K.segment_reduce(dev(x), dev(col), dev(offsets), mode, None, -1, None, det)
            close(out, cpu[0], dtype)
            if mode in ("max", "min"):
                np.testing.assert_array_equal(host(arg), cpu[1])
            else:
                assert arg is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("heads", [1, 4])
def test_weighted_reduce_with_weight_index(dtype, mode, heads):
    rng = np.random.default_rng(5 + heads)
    offsets, col, _ = skewed_graph(rng, 120, 1500)
    eid = rng.permutation(1500)  # the edge id of each position
    for d in (heads * 2, heads * 33, 128):
        x = rng.standard_normal((120, d)).astype(dtype)
        w = rng.standard_normal((1500, heads) if heads > 1 else 1500).astype(dtype)
        ref, _ = _C.segment_reduce(x, col, offsets, mode, w, -1, eid)
        for det in (False, True):
            out, _ = K.segment_reduce(dev(x), dev(col), dev(offsets), mode, dev(w), -1, dev(eid), det)
            close(out, ref, dtype)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_skip_and_identity_index(mode):
    rng = np.random.default_rng(9)
    offsets, col, _ = skewed_graph(rng, 50, 900)
    x = rng.standard_normal((900, 6)).astype(np.float32)
    for index, skip in ((col, 3), (None, -1), (None, 17)):
        ref = _C.segment_reduce(x, index, offsets, mode, None, skip)
        for det in (False, True):
            out, arg = K.segment_reduce(dev(x), dev(index), dev(offsets), mode, None, skip, None, det)
            close(out, ref[0], np.float32)
            if arg is not None:
                np.testing.assert_array_equal(host(arg), ref[1])


def test_max_min_nan_and_ties():
    x = np.array([[1, 2], [np.nan, 2], [3, 2], [3, np.nan]], np.float64)
    index = np.array([0, 2, 3, 1] * 80, np.int64)  # a row long enough for the block kernel
    offsets = np.array([0, 3, 320], np.int64)
    for mode in ("max", "min"):
        ref = _C.segment_reduce(x, index, offsets, mode)
        out, arg = K.segment_reduce(dev(x), dev(index), dev(offsets), mode, None, -1, None, True)
        np.testing.assert_array_equal(host(out), ref[0])
        np.testing.assert_array_equal(host(arg), ref[1])


def test_deterministic_mode_is_bitwise_repeatable():
    rng = np.random.default_rng(1)
    offsets, col, eid = skewed_graph(rng, 200, 3000, hub_share=0.6)
    x = rng.standard_normal((200, 40)).astype(np.float32)
    w = rng.standard_normal(3000).astype(np.float32)
    args = (dev(x), dev(col), dev(offsets), "sum", dev(w), -1, dev(eid), True)
    first = host(K.segment_reduce(*args)[0])
    for _ in range(3):
        np.testing.assert_array_equal(host(K.segment_reduce(*args)[0]), first)
    out, arg = _C.segment_reduce(x, col, offsets, "max")
    g = rng.standard_normal(out.shape).astype(np.float32)
    ref = _C.segment_max_backward(g, arg, 200)
    firsts = None
    for _ in range(3):
        got = host(K.segment_max_backward(dev(g), dev(arg), 200, True))
        close(got, ref, np.float32)
        if firsts is None:
            firsts = got
        np.testing.assert_array_equal(got, firsts)
    close(K.segment_max_backward(dev(g), dev(arg), 200, False), ref, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("heads,C", [(1, 16), (4, 8), (3, 5), (2, 40)])
def test_segment_dot_matches_cpu(dtype, heads, C):
    rng = np.random.default_rng(heads * C)
    offsets, col, _ = skewed_graph(rng, 90, 800)
    eid = rng.permutation(800)
    d = heads * C
    a = rng.standard_normal((90, d)).astype(dtype)
    x = rng.standard_normal((90, d)).astype(dtype)
    close(K.segment_dot(dev(a), dev(x), dev(col), dev(offsets), heads, None, -1),
          _C.segment_dot(a, x, col, offsets, heads, None, -1), dtype)
    close(K.segment_dot(dev(a), dev(x), dev(col), dev(offsets), heads, dev(eid), 800),
          _C.segment_dot(a, x, col, offsets, heads, eid, 800), dtype)
    # positions naming one output row add up
    shared = (eid % 7).astype(np.int64)
    close(K.segment_dot(dev(a), dev(x), dev(col), dev(offsets), heads, dev(shared), 10),
          _C.segment_dot(a, x, col, offsets, heads, shared, 10), dtype)


@pytest.mark.parametrize("itype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("n,rows", [(0, 0), (0, 5), (1, 1), (1000, 1), (3000, 250), (5000, 70000)])
def test_csr_from_index_matches_cpu(itype, n, rows):
    rng = np.random.default_rng(n + rows)
    index = (rng.integers(0, rows, n) if rows else np.zeros(0)).astype(itype)
    if n > 10:
        index[: n // 3] = rows // 2  # a hub: one long stable run
    off, perm = K.csr_from_index(dev(index), rows)
    ref_off, ref_perm = _C.csr_from_index(index, rows)
    np.testing.assert_array_equal(host(off), ref_off)
    np.testing.assert_array_equal(host(perm), ref_perm)
    assert host(perm).dtype == itype


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("h", [1, 3])
def test_segment_softmax_matches_cpu(dtype, h):
    rng = np.random.default_rng(h)
    for nodes, edges in ((0, 0), (7, 0), (60, 900)):
        _, _, dst = skewed_graph(rng, nodes, edges)
        offsets, perm = _C.csr_from_index(dst, nodes)
        rows = edges + 3  # rows no position names stay 0
        perm = perm.astype(np.int64)
        src = (rng.standard_normal((rows, h)) * 5).astype(dtype)
        grad = rng.standard_normal((rows, h)).astype(dtype)
        out = _C.segment_softmax(src, offsets, perm)
        close(K.segment_softmax(dev(src), dev(offsets), dev(perm)), out, dtype)
        close(K.segment_softmax_backward(dev(grad), dev(out), dev(offsets), dev(perm)),
              _C.segment_softmax_backward(grad, out, offsets, perm), dtype)


def test_out_of_range_index_raises():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(IndexError):
        K.segment_reduce(dev(x), dev(np.array([0, 4], np.int64)), dev(np.array([0, 2], np.int64)), "sum",
                         None, -1, None, False)
    with pytest.raises(IndexError):
        K.csr_from_index(dev(np.array([0, 5, 1], np.int64)), 5)
