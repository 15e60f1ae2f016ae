"""fastnn.graph._aggregate: the CSR view and its cache, spmm / scatter / segment_softmax against dense numpy
references on random graphs (skewed degrees, isolated nodes, self-loops, duplicate edges, no edges; int32
and int64 indices), gradchecks in float64, and the errors."""
import numpy as np
import pytest

import fastnn
from fastnn.graph import _aggregate as A


def random_graph(rng, n_src, n_dst, e, dtype=np.int64):
    """Edges with skewed target degrees (a few hubs), a self-loop and a duplicate edge when possible."""
    hubs = rng.integers(0, max(n_dst, 1), 3)
    dst = np.where(rng.random(e) < 0.5, hubs[rng.integers(0, 3, e)], rng.integers(0, max(n_dst, 1), e))
    src = rng.integers(0, max(n_src, 1), e)
    if e >= 3 and n_src == n_dst:
        src[0] = dst[0]
        src[2], dst[2] = src[1], dst[1]
    return np.stack([src, dst]).astype(dtype)


def dense_reduce(x, w, ei, n_dst, reduce):
    """The reference: loop over the targets (``w`` None or one weight per edge)."""
    out = np.zeros((n_dst,) + x.shape[1:], x.dtype)
    for i in range(n_dst):
        sel = np.nonzero(ei[1] == i)[0]
        if len(sel) == 0:
            continue
        m = x[ei[0, sel]]
        if w is not None:
            m = m * w[sel][:, None]
        out[i] = {"sum": m.sum(0), "mean": m.mean(0), "max": m.max(0), "min": m.min(0)}[reduce]
    return out


CASES = [(40, 40, 300), (10, 10, 0), (5, 7, 30), (1, 1, 4), (50, 60, 9)]


@pytest.mark.parametrize("n_src,n_dst,e", CASES)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("itype", [np.int64, np.int32])
def test_spmm_equals_dense(rng, n_src, n_dst, e, reduce, itype):
    ei = random_graph(rng, n_src, n_dst, e, itype)
    x = rng.standard_normal((n_src, 6))
    fe = fastnn.tensor(ei)
    csr = A.csr_of(fe, (n_src, n_dst))
    for w in (None, rng.random(e) + 0.1, rng.random((e, 2)) + 0.1):
        out = A.spmm(csr, fastnn.tensor(x), None if w is None else fastnn.tensor(w), reduce)
        if w is not None and w.ndim == 2:
            msg = x[ei[0]].reshape(e, 2, 3) * w[:, :, None]
            ref = np.zeros((n_dst, 2, 3))
            for i in range(n_dst):
                sel = ei[1] == i
                if sel.any():
                    ref[i] = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[reduce](msg[sel], 0)
            ref = ref.reshape(n_dst, 6)
        else:
            ref = dense_reduce(x, w, ei, n_dst, reduce)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_spmm_gradcheck(rng, reduce):
    ei = fastnn.tensor(random_graph(rng, 7, 6, 25))
    csr = A.csr_of(ei, (7, 6))
    x = fastnn.tensor(rng.standard_normal((7, 4)), requires_grad=True)
    w1 = fastnn.tensor(rng.random(25) + 0.2, requires_grad=True)
    w2 = fastnn.tensor(rng.random((25, 2)) + 0.2, requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda a: A.spmm(csr, a, None, reduce), (x,))
    assert fastnn.autograd.gradcheck(lambda a, b: A.spmm(csr, a, b, reduce), (x, w1))
    x3 = fastnn.tensor(rng.standard_normal((7, 2, 3)), requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda a, b: A.spmm(csr, a, b, reduce), (x3, w2))


@pytest.mark.parametrize("reduce", ["sum", "add", "mean", "max", "min"])
@pytest.mark.parametrize("n,e", [(6, 30), (4, 0), (9, 5)])
def test_scatter_equals_dense_and_gradchecks(rng, reduce, n, e):
    idx = rng.integers(0, n, e)
    src = rng.standard_normal((e, 3))
    out = A.scatter(fastnn.tensor(src), fastnn.tensor(idx), n, reduce)
    ref = np.zeros((n, 3))
    for i in range(n):
        if (idx == i).any():
            ref[i] = {"sum": np.sum, "add": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[reduce](
                src[idx == i], 0)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    s = fastnn.tensor(src, requires_grad=True)
    ti = fastnn.tensor(idx)
    assert fastnn.autograd.gradcheck(lambda a: A.scatter(a, ti, n, reduce), (s,))
    # a sorted index is read as contiguous segments: same result
    order = np.argsort(idx, kind="stable")
    srt = fastnn.tensor(idx[order])
    np.testing.assert_allclose(A.scatter(fastnn.tensor(src[order]), srt, n, reduce).numpy(), ref, rtol=1e-12)
    assert fastnn.autograd.gradcheck(lambda a: A.scatter(a, srt, n, reduce), (s,))


def test_segment_softmax_equals_dense_and_gradchecks(rng):
    idx = rng.integers(0, 5, 21)
    src = rng.standard_normal((21, 2)) * 10
    out = A.segment_softmax(fastnn.tensor(src), fastnn.tensor(idx), 6).numpy()
    for i in range(6):
        sel = idx == i
        if sel.any():
            ex = np.exp(src[sel] - src[sel].max(0))
            np.testing.assert_allclose(out[sel], ex / ex.sum(0), rtol=1e-12)
    s = fastnn.tensor(src / 10, requires_grad=True)
    ti = fastnn.tensor(idx)
    assert fastnn.autograd.gradcheck(lambda a: A.segment_softmax(a, ti, 6), (s,))


def test_csr_is_cached_and_rebuilt_when_the_tensor_changes(rng):
    ei = fastnn.tensor(random_graph(rng, 8, 8, 20))
    csr = A.csr_of(ei, (8, 8))
    assert A.csr_of(ei, (8, 8)) is csr
    assert A.csr_of(ei, (8, 9)) is not csr                 # another size: another view
    assert csr.transpose() is csr.transpose() and csr.transpose().transpose() is csr
    ei.copy_(fastnn.tensor(np.zeros((2, 20), np.int64)))    # replaced arrays and in-place writes
    ei._data = ei._data.copy()
    fresh = A.csr_of(ei, (8, 8))
    assert fresh is not csr and fresh.offsets[1] == 20
    t = csr.transpose()
    np.testing.assert_array_equal(np.sort(t.perm), np.arange(20))


def test_csr_is_rebuilt_after_an_unrecorded_in_place_write(rng):
    ei = fastnn.tensor(random_graph(rng, 8, 8, 20))
    csr = A.csr_of(ei, (8, 8))
    v = ei._version
    ei[1] = 3                                               # same array, new values
    assert ei._version == v + 1
    fresh = A.csr_of(ei, (8, 8))
    assert fresh is not csr and fresh.offsets[3] == 0 and fresh.offsets[4] == 20
    ei.add_(0)
    assert A.csr_of(ei, (8, 8)) is not fresh


def test_transpose_groups_by_source(rng):
    ei = random_graph(rng, 6, 9, 40)
    csr = A.CSR.build(ei[0], ei[1], 6, 9)
    t = csr.transpose()
    assert (t.num_src, t.num_dst) == (9, 6)
    for j in range(6):
        ks = t.perm[t.offsets[j]:t.offsets[j + 1]]
        assert (ei[0, ks] == j).all() and list(ks) == sorted(ks)
        np.testing.assert_array_equal(t.col[t.offsets[j]:t.offsets[j + 1]], ei[1, ks])


def test_gradients_of_gradients_raise(rng):
    ei = fastnn.tensor(random_graph(rng, 5, 5, 12))
    csr = A.csr_of(ei, (5, 5))
    x = fastnn.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    for f in (lambda a: A.spmm(csr, a), lambda a: A.scatter(a[:4], fastnn.tensor([0, 1, 1, 2]), 3),
              lambda a: A.segment_softmax(a, fastnn.tensor([0, 1, 1, 0, 2]), 3)):
        y = f(x).pow(2).sum()
        with pytest.raises(RuntimeError, match="gradients of gradients"):
            fastnn.autograd.grad(y, (x,), create_graph=True)


def test_errors_name_the_argument(rng):
    with pytest.raises(ValueError, match="edge_index"):
        A.csr_of(fastnn.tensor(np.zeros((3, 5), np.int64)))
    with pytest.raises(ValueError, match="edge_index"):
        A.csr_of(fastnn.tensor(np.zeros((2, 5))))
    with pytest.raises(IndexError, match="edge_index"):
        A.csr_of(fastnn.tensor(np.array([[0, 7], [1, 2]])), (4, 4))
    with pytest.raises(IndexError, match="edge_index"):
        A.csr_of(fastnn.tensor(np.array([[0, 1], [1, -1]])), (4, 4))
    csr = A.csr_of(fastnn.tensor(np.array([[0, 1], [1, 2]])), (3, 3))
    with pytest.raises(ValueError, match="'x'"):
        A.spmm(csr, fastnn.randn(4, 2))
    with pytest.raises(ValueError, match="edge_weight"):
        A.spmm(csr, fastnn.randn(3, 2), fastnn.randn(3))
    with pytest.raises(TypeError, match="edge_weight"):
        A.spmm(csr, fastnn.randn(3, 2), fastnn.randn(2).double())
    with pytest.raises(ValueError, match="reduce"):
        A.spmm(csr, fastnn.randn(3, 2), reduce="median")
    with pytest.raises(IndexError, match="index"):
        A.scatter(fastnn.randn(2, 2), fastnn.tensor([0, 5]), 3)
    with pytest.raises(ValueError, match="index"):
        A.scatter(fastnn.randn(2, 2), fastnn.tensor([0, 1, 1]), 3)
    with pytest.raises(TypeError, match="src"):
        A.segment_softmax(fastnn.tensor([1, 2]), fastnn.tensor([0, 1]), 2)
