"""Sparse-rows gradients (embeddings with sparse=True): the tensor type, accumulation by the autograd engine
(several backward calls, several uses in one graph, dense + sparse), and the optimisers: SGD, SparseAdam and
Adagrad trajectories equal PyTorch's, the others refuse with PyTorch's errors; zero_grad and clipping."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F


def _pair(torch, rng, num=30, dim=6, sparse=True, dtype=np.float32):
    w = rng.standard_normal((num, dim)).astype(dtype)
    te = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, sparse=sparse)
    fe = fastnn.nn.Embedding.from_pretrained(fastnn.tensor(w), freeze=False, sparse=sparse)
    return te, fe


def test_sparse_gradient_equals_the_dense_one(rng):
    w = rng.standard_normal((40, 5)).astype(np.float32)
    ids = fastnn.tensor(rng.integers(0, 40, (8, 3)))
    g = fastnn.tensor(rng.standard_normal((8, 3, 5)).astype(np.float32))
    grads = []
    for sparse in (False, True):
        e = fastnn.nn.Embedding.from_pretrained(fastnn.tensor(w), freeze=False, sparse=sparse, padding_idx=3)
        e(ids).backward(g)
        grads.append(e.weight.grad)
    dense, sparse = grads
    assert sparse.is_sparse and sparse.layout == fastnn.sparse_coo and dense.layout == fastnn.strided
    assert sparse.is_coalesced() and sparse.shape == (40, 5) and sparse.dtype == np.float32
    assert sparse.device == dense.device
    np.testing.assert_allclose(sparse.to_dense().numpy(), dense.numpy(), rtol=1e-6)
    idx = sparse.indices().numpy()
    assert idx.shape[0] == 1 and np.all(np.diff(idx[0]) > 0) and 3 not in idx[0]
    np.testing.assert_allclose(sparse.values().numpy(), dense.numpy()[idx[0]], rtol=1e-6)
    assert sparse._nnz() == len(np.unique(ids.numpy()[ids.numpy() != 3]))


def test_accumulation_across_calls_and_uses(torch, rng):
    te, fe = _pair(torch, rng)
    lin_w = rng.standard_normal((6, 2)).astype(np.float32)
    for _ in range(2):  # two backward calls accumulate
        ids_a, ids_b = rng.integers(0, 30, (4,)), rng.integers(0, 30, (5,))
        for e, T in ((te, torch), (fe, fastnn)):
            # two uses of the embedding in one graph
            y = (e(T.tensor(ids_a)) @ T.tensor(lin_w)).sum() + (e(T.tensor(ids_b)) ** 2).sum()
            y.backward()
    assert fe.weight.grad.is_sparse and not fe.weight.grad.is_coalesced()
    with pytest.raises(RuntimeError, match="uncoalesced"):
        fe.weight.grad.indices()
    np.testing.assert_allclose(fe.weight.grad.to_dense().numpy(), te.weight.grad.to_dense().numpy(), rtol=1e-5)
    np.testing.assert_allclose(fe.weight.grad.coalesce()._indices().numpy(),
                               te.weight.grad.coalesce()._indices().numpy())


def test_dense_plus_sparse_is_dense(torch, rng):
    w = rng.standard_normal((10, 3)).astype(np.float32)
    fw = fastnn.tensor(w, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ids = rng.integers(0, 10, (6,))
    for T, x in ((torch, tw), (fastnn, fw)):
        mod = torch.nn.functional if T is torch else F
        y = mod.embedding(T.tensor(ids), x, sparse=True).sum() + (x * x).sum()
        y.backward()
    assert not fw.grad.is_sparse
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-5)
    # a dense .grad taking a later sparse gradient stays dense
    (fw * 2).sum().backward()
    F.embedding(fastnn.tensor(ids), fw, sparse=True).sum().backward()
    (tw * 2).sum().backward()
    torch.nn.functional.embedding(torch.tensor(ids), tw, sparse=True).sum().backward()
    assert not fw.grad.is_sparse
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-5)
    # and a sparse .grad plus a dense gradient becomes dense
    fw.grad = None
    F.embedding(fastnn.tensor(ids), fw, sparse=True).sum().backward()
    (fw * 3).sum().backward()
    assert not fw.grad.is_sparse
    ref = np.zeros_like(w)
    np.add.at(ref, ids, 1.0)
    np.testing.assert_allclose(fw.grad.numpy(), ref + 3, rtol=1e-6)


def test_weight_through_an_op_gets_a_dense_gradient(rng):
    w = fastnn.tensor(rng.standard_normal((10, 3)), requires_grad=True)
    F.embedding(fastnn.tensor([1, 1, 4]), w * 2, sparse=True).sum().backward()
    ref = np.zeros((10, 3))
    ref[1] = 4
    ref[4] = 2
    np.testing.assert_allclose(w.grad.numpy(), ref)


def _trajectory(torch, rng, opt, kw, steps=5, sparse=True, dtype=np.float32, clip=None):
    te, fe = _pair(torch, rng, sparse=sparse, dtype=dtype)
    to = getattr(torch.optim, opt)(te.parameters(), **kw)
    fo = getattr(fastnn.optim, opt)(fe.parameters(), **kw)
    for _ in range(steps):
        ids = rng.integers(0, 30, (9,))
        tgt = rng.standard_normal((9, 6)).astype(dtype)
        for e, o, T in ((te, to, torch), (fe, fo, fastnn)):
            o.zero_grad()
            ((e(T.tensor(ids)) - T.tensor(tgt)) ** 2).sum().backward()
            if clip is not None and T is fastnn:
                fastnn.nn.utils.clip_grad_norm_(e.parameters(), clip)
            elif clip is not None:
                e.weight.grad = e.weight.grad.coalesce()
                n = e.weight.grad._values().norm()
                e.weight.grad = e.weight.grad * min(1.0, clip / (float(n) + 1e-6))
            o.step()
    return te.weight.detach().numpy(), fe.weight.detach().numpy()


@pytest.mark.parametrize("opt,kw", [
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.05, maximize=True)), ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.8, dampening=0.3)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SparseAdam", dict()), ("SparseAdam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("SparseAdam", dict(lr=0.01, maximize=True)), ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, maximize=True))])
def test_optimiser_trajectories_equal_torch(torch, rng, opt, kw):
    t, f = _trajectory(torch, rng, opt, kw)
    np.testing.assert_allclose(f, t, rtol=1e-4, atol=1e-6)
    t, f = _trajectory(torch, rng, opt, kw, dtype=np.float64, steps=3)
    np.testing.assert_allclose(f, t, rtol=1e-10, atol=1e-12)


def test_clip_grad_norm_with_sparse_gradients(torch, rng):
    t, f = _trajectory(torch, rng, "SGD", dict(lr=0.1), clip=0.5)
    np.testing.assert_allclose(f, t, rtol=1e-4, atol=1e-6)
    e = fastnn.nn.Embedding(10, 3, sparse=True)
    e(fastnn.tensor([1, 1, 2])).sum().backward()
    total = fastnn.nn.utils.clip_grad_norm_(e.parameters(), 1.0)
    np.testing.assert_allclose(float(total), np.sqrt(4 * 3 + 1 * 3), rtol=1e-6)
    np.testing.assert_allclose(float(e.weight.grad.norm()), 1.0, rtol=1e-5)
    fastnn.nn.utils.clip_grad_value_(e.parameters(), 0.1)
    assert float(e.weight.grad.to_dense().abs().max()) <= 0.1 + 1e-7


def test_zero_grad_with_sparse_gradients():
    e = fastnn.nn.Embedding(10, 3, sparse=True)
    opt = fastnn.optim.SGD(e.parameters(), lr=0.1)
    e(fastnn.tensor([1, 2])).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert e.weight.grad.is_sparse and e.weight.grad._nnz() == 0
    e(fastnn.tensor([3])).sum().backward()
    assert e.weight.grad.coalesce()._indices().numpy().tolist() == [[3]]
    opt.zero_grad()
    assert e.weight.grad is None


def test_other_optimisers_refuse_sparse_gradients(torch):
    for name, kw, msg in [("Adam", {}, "Adam does not support sparse gradients, please consider SparseAdam"),
                          ("AdamW", {}, "Adam does not support sparse gradients, please consider SparseAdam"),
                          ("RMSprop", {}, "RMSprop does not support sparse gradients"),
                          ("Adagrad", dict(weight_decay=0.1), "weight_decay option is not compatible"),
                          ("SGD", dict(lr=0.1, weight_decay=0.1), r"add\(sparse, dense\) is not supported")]:
        for T in (torch, fastnn):
            e = T.nn.Embedding(10, 3, sparse=True)
            e(T.tensor([1, 2])).sum().backward()
            with pytest.raises(RuntimeError, match=msg):
                getattr(T.optim, name)(e.parameters(), **kw).step()
    e = fastnn.nn.Embedding(10, 3)
    e(fastnn.tensor([1])).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients, please consider Adam"):
        fastnn.optim.SparseAdam(e.parameters()).step()
    for kw, msg in [(dict(lr=0.0), "Invalid learning rate"), (dict(eps=0.0), "Invalid epsilon value"),
                    (dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
                    (dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1")]:
        with pytest.raises(ValueError, match=msg):
            fastnn.optim.SparseAdam(e.parameters(), **kw)


def test_sparse_adam_touches_only_the_rows_present(rng):
    e = fastnn.nn.Embedding(1000, 4, sparse=True)
    before = e.weight.detach().numpy().copy()
    opt = fastnn.optim.SparseAdam(e.parameters(), lr=0.1)
    e(fastnn.tensor([5, 7, 5])).sum().backward()
    opt.step()
    after = e.weight.detach().numpy()
    changed = np.nonzero((after != before).any(1))[0]
    assert changed.tolist() == [5, 7]
    st = opt.state[e.weight]
    assert st["step"] == 1 and np.count_nonzero(st["exp_avg"].numpy().any(1)) == 2


def test_sparse_tensor_api():
    from fastnn.sparse import sparse_rows
    s = sparse_rows([[2, 0, 2]], np.ones((3, 2), np.float32), (4, 2))
    assert not s.is_coalesced() and s._nnz() == 3 and s.sparse_dim() == 1 and s.dense_dim() == 1
    c = s.coalesce()
    assert c.is_coalesced() and c.indices().numpy().tolist() == [[0, 2]]
    np.testing.assert_array_equal(c.values().numpy(), [[1, 1], [2, 2]])
    np.testing.assert_array_equal((s * 2).to_dense().numpy(), [[2, 2], [0, 0], [4, 4], [0, 0]])
    np.testing.assert_array_equal((fastnn.ones(4, 2) + s).numpy(), [[2, 2], [1, 1], [3, 3], [1, 1]])
    np.testing.assert_array_equal((-s).to_dense().numpy()[2], [-2, -2])
    assert "sparse_coo" in repr(s)
    with pytest.raises(RuntimeError, match="to_dense"):
        s.numpy()
    with pytest.raises(RuntimeError, match="to_dense"):
        s.exp()
    with pytest.raises(IndexError, match="indices"):
        sparse_rows([5], np.ones((1, 2)), (4, 2))
