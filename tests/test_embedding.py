"""Embedding lookups and bags: the segment kernels against their plain reference on every CPU path, and
F.embedding / F.embedding_bag / nn.Embedding / nn.EmbeddingBag against PyTorch (values and gradients,
float32 1e-4 relative; float64 gradcheck), with every option, edge sizes, non-contiguous inputs and the
errors of bad input."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import _C, kernels
from fastnn.autograd import gradcheck


def _t(torch, a, grad=False):
    t = torch.tensor(np.ascontiguousarray(a))
    return t.requires_grad_(True) if grad else t


def _f(a, grad=False):
    return fastnn.tensor(np.ascontiguousarray(a), requires_grad=grad)


def close(a, b, rtol=1e-4, atol=1e-5):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _bags(rng, n_bags, max_len, num):
    lens = rng.integers(0, max_len + 1, n_bags)
    ids = rng.integers(0, num, int(lens.sum()))
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64) if n_bags else np.zeros(0, np.int64)
    return ids, offsets, lens


# ------------------------------------------------------------------ kernels

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_segment_kernels_match_the_reference_on_every_path(cpu_path, rng, dtype, itype):
    for num, d, segs in [(1, 1, 1), (7, 5, 0), (13, 17, 9), (50, 33, 40), (200, 128, 64)]:
        src = rng.standard_normal((num, d)).astype(dtype)
        ids, offsets, _ = _bags(rng, segs, 6, num)
        ids = ids.astype(itype)
        off = np.append(offsets, len(ids)).astype(np.int64) if segs else np.array([0], np.int64)
        np.testing.assert_array_equal(kernels.gather_rows(src, ids), src[ids])
        w = rng.standard_normal(len(ids)).astype(dtype)
        for mode, weights in [("sum", None), ("sum", w), ("mean", None), ("max", None)]:
            for skip in (-1, int(ids[0]) if len(ids) else -1):
                out, arg = _C.segment_reduce(src, ids, off, mode, weights, skip)
                ref, rarg = _C.segment_reduce_reference(src, ids, off, mode, weights, skip)
                np.testing.assert_allclose(out, ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
                if mode == "max":
                    np.testing.assert_array_equal(arg, rarg)


def test_segment_reduce_against_numpy(rng):
    src = rng.standard_normal((9, 4))
    ids = np.array([3, 1, 3, 8, 0, 2], np.int64)
    off = np.array([0, 3, 3, 6], np.int64)
    out, _ = _C.segment_reduce(src, ids, off, "mean", None, 3)
    np.testing.assert_allclose(out[0], src[1])
    np.testing.assert_array_equal(out[1], 0)
    np.testing.assert_allclose(out[2], src[[8, 0, 2]].mean(0))
    out, arg = _C.segment_reduce(src, ids, off, "max")
    np.testing.assert_allclose(out[2], src[[8, 0, 2]].max(0))
    assert (arg[1] == -1).all()
    g = rng.standard_normal(out.shape)
    back = kernels.segment_max_backward(g, arg, 9)
    ref = np.zeros((9, 4))
    for s in range(3):
        for j in range(4):
            if arg[s, j] >= 0:
                ref[arg[s, j], j] += g[s, j]
    np.testing.assert_allclose(back, ref)


def test_index_coalesce_groups_positions_by_row(rng):
    ids = rng.integers(0, 30, 200)
    uniq, off, order = kernels.index_coalesce(ids, 30, skip=5)
    np.testing.assert_array_equal(uniq, np.unique(ids[ids != 5]))
    np.testing.assert_array_equal(order, np.argsort(np.where(ids == 5, 99, ids), kind="stable")[:len(order)])
    for g, u in enumerate(uniq):
        assert (ids[order[off[g]:off[g + 1]]] == u).all()


def test_rows_renorm_and_index_add_rows(rng, cpu_path):
    w = rng.standard_normal((12, 7)).astype(np.float32) * 3
    ref = w.copy()
    ids = np.array([1, 4, 11], np.int64)
    for p in (2.0, 1.0, 3.0, np.inf):
        a, r = w.copy(), ref.copy()
        kernels.rows_renorm(a, ids, 1.5, p)
        for i in ids:
            n = np.linalg.norm(r[i].astype(np.float64), ord=p)
            if n > 1.5:
                r[i] *= np.float32(1.5 / (n + 1e-7))
        np.testing.assert_allclose(a, r, rtol=1e-5)
    rows = rng.standard_normal((3, 7)).astype(np.float32)
    a = w.copy()
    kernels.index_add_rows(a, ids, rows, -0.5)
    r = w.copy()
    r[ids] += -0.5 * rows
    np.testing.assert_allclose(a, r, rtol=1e-6)


# ------------------------------------------------------------------ functional vs PyTorch

@pytest.mark.parametrize("padding_idx", [None, 0, -1])
@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_embedding_matches_torch(torch, rng, padding_idx, scale, sparse):
    for num, d, shape in [(1, 1, (1,)), (10, 3, (0,)), (10, 3, (2, 0)), (17, 8, (4, 5)), (50, 33, (3, 2, 7))]:
        w = rng.standard_normal((num, d)).astype(np.float32)
        ids = rng.integers(0, num, shape)
        tw, fw = _t(torch, w, True), _f(w, True)
        ty = torch.nn.functional.embedding(_t(torch, ids), tw, padding_idx, None, 2.0, scale, sparse)
        fy = F.embedding(_f(ids), fw, padding_idx, None, 2.0, scale, sparse)
        close(fy, ty)
        g = rng.standard_normal(ty.shape).astype(np.float32)
        if sparse and scale:
            for y, gg in ((ty, _t(torch, g)), (fy, _f(g))):
                with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"):
                    y.backward(gg)
            continue
        ty.backward(_t(torch, g))
        fy.backward(_f(g))
        assert fw.grad.is_sparse == sparse
        tg = tw.grad.to_dense() if sparse else tw.grad
        close(fw.grad.to_dense() if sparse else fw.grad, tg)


def test_embedding_non_contiguous_and_int32(torch, rng):
    w = rng.standard_normal((20, 12))
    ids = rng.integers(0, 20, (6, 8))
    fw = _f(w, True)
    fy = F.embedding(fastnn.tensor(ids.astype(np.int32)).t(), fastnn.tensor(w).t().t())
    close(fy, w[ids.T])
    wt = fastnn.tensor(np.asfortranarray(w))
    close(F.embedding(fastnn.tensor(ids[:, ::2]), wt), w[ids[:, ::2]])
    F.embedding(fastnn.tensor(ids[:, ::3]), fw).sum().backward()
    ref = np.zeros_like(w)
    np.add.at(ref, ids[:, ::3].reshape(-1), 1.0)
    close(fw.grad, ref)


def test_embedding_max_norm_renormalises_the_looked_up_rows(torch, rng):
    w = (rng.standard_normal((15, 6)) * 2).astype(np.float32)
    ids = rng.integers(0, 15, (4, 3))
    for norm_type in (2.0, 1.0, 3.5):
        tw, fw = _t(torch, w, True), _f(w, True)
        ty = torch.nn.functional.embedding(_t(torch, ids), tw, max_norm=1.0, norm_type=norm_type)
        fy = F.embedding(_f(ids), fw, max_norm=1.0, norm_type=norm_type)
        close(fy, ty)
        close(fw, tw)


def test_embedding_gradcheck_float64(rng):
    w = _f(rng.standard_normal((6, 3)), True)
    ids = fastnn.tensor(rng.integers(0, 6, (2, 4)))
    # (padding_idx and scale_grad_by_freq change the gradient on purpose: checked against PyTorch above)
    assert gradcheck(lambda w: F.embedding(ids, w), (w,))
    assert fastnn.autograd.gradgradcheck(lambda w: F.embedding(ids, w) ** 2, (w,))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 1])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_matches_torch(torch, rng, mode, padding_idx, include_last_offset):
    for num, d, n_bags in [(1, 1, 1), (9, 4, 0), (12, 5, 6), (40, 33, 17)]:
        w = rng.standard_normal((num, d)).astype(np.float32)
        ids, offsets, _ = _bags(rng, n_bags, 5, num)
        if padding_idx is not None and padding_idx >= num:
            continue
        off = np.append(offsets, len(ids)) if include_last_offset else offsets
        if include_last_offset and n_bags == 0:
            off = np.array([0], np.int64)
        use_psw = mode == "sum"
        psw = rng.standard_normal(len(ids)).astype(np.float32)
        for sparse in ([False, True] if mode != "max" else [False]):
            tw, fw = _t(torch, w, True), _f(w, True)
            tp, fp = (_t(torch, psw, True), _f(psw, True)) if use_psw else (None, None)
            ty = torch.nn.functional.embedding_bag(_t(torch, ids), tw, _t(torch, off), mode=mode, sparse=sparse,
                                                   per_sample_weights=tp, include_last_offset=include_last_offset,
                                                   padding_idx=padding_idx)
            fy = F.embedding_bag(_f(ids), fw, _f(off), mode=mode, sparse=sparse, per_sample_weights=fp,
                                 include_last_offset=include_last_offset, padding_idx=padding_idx)
            close(fy, ty)
            if ty.numel() == 0:
                continue
            g = rng.standard_normal(ty.shape).astype(np.float32)
            ty.backward(_t(torch, g))
            fy.backward(_f(g))
            close(fw.grad.to_dense() if sparse else fw.grad, tw.grad.to_dense() if sparse else tw.grad)
            if use_psw:
                close(fp.grad, tp.grad)


def test_embedding_bag_2d_input_and_scale_grad_by_freq(torch, rng):
    w = rng.standard_normal((11, 4)).astype(np.float32)
    ids = rng.integers(0, 11, (5, 3))
    for mode in ("sum", "mean"):
        tw, fw = _t(torch, w, True), _f(w, True)
        ty = torch.nn.functional.embedding_bag(_t(torch, ids), tw, mode=mode)
        fy = F.embedding_bag(_f(ids), fw, mode=mode, scale_grad_by_freq=True)
        close(fy, ty)
        fy.sum().backward()
        # each id's gradient divided by its count in the batch (PyTorch's CPU kernel agrees when every id
        # repeats within one bag only; across bags it divides by another count)
        counts = np.bincount(ids.reshape(-1), minlength=11)
        per = 1.0 if mode == "sum" else 1.0 / 3
        ref = np.where(counts > 0, per, 0.0)[:, None] * np.ones((1, 4))
        close(fw.grad, ref)


def test_embedding_bag_gradcheck_float64(rng):
    w = _f(rng.standard_normal((7, 3)), True)
    psw = _f(rng.standard_normal(6), True)
    ids = fastnn.tensor([1, 2, 2, 6, 0, 5])
    off = fastnn.tensor([0, 2, 2, 5])
    assert gradcheck(lambda w, p: F.embedding_bag(ids, w, off, mode="sum", per_sample_weights=p, padding_idx=0),
                     (w, psw))
    assert gradcheck(lambda w: F.embedding_bag(ids, w, off, mode="mean", padding_idx=2), (w,))
    assert gradcheck(lambda w: F.embedding_bag(ids, w, off, mode="max"), (w,))


# ------------------------------------------------------------------ modules

def test_modules_state_dicts_move_both_ways(torch, rng):
    te = torch.nn.Embedding(12, 5, padding_idx=3)
    fe = fastnn.nn.Embedding(12, 5, padding_idx=3)
    fe.load_state_dict({k: fastnn.tensor(v.numpy()) for k, v in te.state_dict().items()})
    ids = rng.integers(0, 12, (3, 4))
    close(fe(_f(ids)), te(_t(torch, ids)))
    te2 = torch.nn.EmbeddingBag(12, 5, mode="max")
    te2.load_state_dict({k: torch.tensor(v.numpy()) for k, v in fastnn.nn.EmbeddingBag(12, 5).state_dict().items()})
    assert list(fe.state_dict()) == ["weight"]
    assert np.all(fe.weight.detach().numpy()[3] == 0)
    assert repr(fe) == repr(te)
    assert repr(fastnn.nn.EmbeddingBag(4, 2, mode="sum", padding_idx=1)) == \
        repr(torch.nn.EmbeddingBag(4, 2, mode="sum", padding_idx=1))


def test_embedding_init_and_from_pretrained(rng):
    e = fastnn.nn.Embedding(4000, 8, padding_idx=-1)
    w = e.weight.detach().numpy()
    assert e.padding_idx == 3999 and np.all(w[-1] == 0)
    assert abs(w[:-1].mean()) < 0.03 and abs(w[:-1].std() - 1) < 0.03
    pre = fastnn.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    e = fastnn.nn.Embedding.from_pretrained(pre)
    assert not e.weight.requires_grad and e.weight.shape == (5, 3)
    close(e(fastnn.tensor([4, 0])), pre.numpy()[[4, 0]])
    b = fastnn.nn.EmbeddingBag.from_pretrained(pre, freeze=False, mode="sum")
    assert b.weight.requires_grad
    close(b(fastnn.tensor([[1, 2]])), pre.numpy()[[1, 2]].sum(0, keepdims=True))
    with pytest.raises(AssertionError, match="Shape of weight"):
        fastnn.nn.Embedding(5, 4, _weight=pre)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        fastnn.nn.Embedding(5, 4, padding_idx=5)


def test_multi_hot_and_one_hot():
    x = fastnn.tensor([[1, 3, 3], [0, 2, 4]])
    np.testing.assert_array_equal(F.multi_hot(x, 5).numpy(), [[0, 1, 0, 1, 0], [1, 0, 1, 0, 1]])
    np.testing.assert_array_equal(F.multi_hot(x, 5, padding_idx=0).numpy()[1], [0, 0, 1, 0, 1])
    flat = fastnn.tensor([2, 2, 4, 1])
    np.testing.assert_array_equal(F.multi_hot(flat, 5, offsets=fastnn.tensor([0, 3, 3])).numpy(),
                                  [[0, 0, 1, 0, 1], [0, 0, 0, 0, 0], [0, 1, 0, 0, 0]])
    np.testing.assert_array_equal(F.multi_hot(flat, 5).numpy(), [0, 1, 1, 0, 1])
    assert F.multi_hot(flat, 5, dtype=fastnn.int64).dtype == np.int64
    with pytest.raises(IndexError, match="num_classes"):
        F.multi_hot(flat, 3)
    np.testing.assert_array_equal(F.one_hot(fastnn.tensor([0, 2]), 3).numpy(), [[1, 0, 0], [0, 0, 1]])


# ------------------------------------------------------------------ bad input

def test_bad_input_gives_clear_errors(rng):
    w = _f(rng.standard_normal((5, 3)), True)
    with pytest.raises(IndexError, match="input.*5"):
        F.embedding(fastnn.tensor([1, 5]), w)
    with pytest.raises(IndexError, match="input.*-1"):
        F.embedding(fastnn.tensor([-1]), w)
    with pytest.raises(IndexError, match="input"):
        fastnn.nn.Embedding(5, 3)(fastnn.tensor([[7]]))
    with pytest.raises(RuntimeError, match="Long, Int"):
        F.embedding(fastnn.tensor([1.0]), w)
    with pytest.raises(RuntimeError, match="'weight' must be 2-D"):
        F.embedding(fastnn.tensor([1]), fastnn.ones(5))
    ids = fastnn.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match=r"offsets\[0\] has to be 0"):
        F.embedding_bag(ids, w, fastnn.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="non-decreasing"):
        F.embedding_bag(ids, w, fastnn.tensor([0, 3, 2]))
    with pytest.raises(RuntimeError, match=r"offsets\[-1\] can not be greater"):
        F.embedding_bag(ids, w, fastnn.tensor([0, 5]))
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(ids, w, fastnn.tensor([0]), mode="mean", per_sample_weights=fastnn.ones(3))
    with pytest.raises(ValueError, match="same shape as input"):
        F.embedding_bag(ids, w, fastnn.tensor([0]), mode="sum", per_sample_weights=fastnn.ones(4))
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(fastnn.tensor([[1, 2]]), w, fastnn.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(ids, w)
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(ids, w, fastnn.tensor([0]), mode="min")
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        F.embedding_bag(ids, w, fastnn.tensor([0]), mode="max", sparse=True)
    with pytest.raises(IndexError, match="input"):
        F.embedding_bag(fastnn.tensor([9]), w, fastnn.tensor([0]))
    with pytest.raises(ValueError, match="input has to be 1D or 2D"):
        F.embedding_bag(fastnn.tensor([[[1]]]), w)
    with pytest.raises(AssertionError, match="Padding_idx"):
        F.embedding(ids, w, padding_idx=-6)
