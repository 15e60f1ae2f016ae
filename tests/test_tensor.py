"""Tensor basics: creation, dtypes and PyTorch's promotion rules, conversion, protocols, repr, indexing,
in-place helpers, random generator and error messages."""
import copy
import json

import numpy as np
import pytest

import fastnn


# ---------------------------------------------------------------------------- creation and dtypes

def test_default_dtypes():
    assert fastnn.tensor([1.0]).dtype == fastnn.float32
    assert fastnn.tensor([1]).dtype == fastnn.int64
    assert fastnn.tensor([True]).dtype == fastnn.bool
    assert fastnn.tensor(np.array([1.0])).dtype == fastnn.float64      # numpy arrays keep their dtype
    assert fastnn.tensor([1, 2], dtype=fastnn.float64).dtype == np.float64
    assert fastnn.tensor(3.5).shape == () and fastnn.tensor(3.5).item() == 3.5
    assert fastnn.zeros(2, 3).dtype == fastnn.float32
    assert fastnn.arange(5).dtype == fastnn.int64
    assert fastnn.arange(0, 1, 0.25).dtype == fastnn.float32
    assert fastnn.full((2,), 7).dtype == fastnn.int64
    assert fastnn.full((2,), 7.0).dtype == fastnn.float32
    assert fastnn.full((2,), True).dtype == fastnn.bool
    assert fastnn.float == fastnn.float32 and fastnn.long == fastnn.int64 and fastnn.double == fastnn.float64


def test_creation_shapes_varargs_and_tuples():
    for f in (fastnn.zeros, fastnn.ones, fastnn.empty, fastnn.rand, fastnn.randn):
        assert f(2, 3).shape == (2, 3) and f((2, 3)).shape == (2, 3) and f([4]).shape == (4,)
        assert f(0, 3).shape == (0, 3)
        assert f(2, requires_grad=True).requires_grad
    assert fastnn.eye(3).numpy().tolist() == np.eye(3).tolist()
    assert fastnn.eye(2, 3).shape == (2, 3)
    np.testing.assert_allclose(fastnn.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5), rtol=1e-7)
    np.testing.assert_array_equal(fastnn.arange(2, 11, 3).numpy(), [2, 5, 8])
    assert fastnn.randint(0, 5, (100,)).numpy().max() < 5
    assert fastnn.randint(3, (2, 2)).shape == (2, 2)
    x = fastnn.randn(2, 3, dtype=fastnn.float64)
    for f in (fastnn.zeros_like, fastnn.ones_like, fastnn.empty_like, fastnn.rand_like, fastnn.randn_like):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == fastnn.float64
    assert fastnn.full_like(x, 2.0).numpy().tolist() == [[2.0] * 3] * 2
    assert isinstance(fastnn.zeros(2, 3).shape, fastnn.Size) and fastnn.zeros(2, 3).shape.numel() == 6
    with pytest.raises(TypeError, match="size"):
        fastnn.zeros(2.5)
    with pytest.raises(RuntimeError, match="negative dimension"):
        fastnn.ones(-1)


def test_rand_and_randn_distribution():
    fastnn.manual_seed(0)
    u = fastnn.rand(20000).numpy()
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    n = fastnn.randn(20000).numpy()
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03


def test_manual_seed_reproducible_and_state():
    fastnn.manual_seed(42)
    a = fastnn.randn(4)
    fastnn.manual_seed(42)
    b = fastnn.randn(4)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    state = fastnn.random.get_rng_state()
    json.dumps(state)
    c = fastnn.rand(3)
    fastnn.random.set_rng_state(state)
    np.testing.assert_array_equal(fastnn.rand(3).numpy(), c.numpy())
    assert fastnn.random.generator() is fastnn.random.generator()
    w = fastnn.empty(3)
    fastnn.manual_seed(1)
    w.uniform_(-2, 2)
    fastnn.manual_seed(1)
    np.testing.assert_array_equal(fastnn.empty(3).uniform_(-2, 2).numpy(), w.numpy())


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.zeros(3, dtype=np.float32)
    t = fastnn.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 5
    c = fastnn.tensor(a)
    a[1] = 7
    assert c[1].item() == 0
    with pytest.raises(TypeError):
        fastnn.from_numpy([1, 2])
    with pytest.raises(TypeError, match="complex"):
        fastnn.from_numpy(np.zeros(2, dtype=np.complex64))


# ---------------------------------------------------------------------------- promotion

@pytest.mark.parametrize("make,expected", [
    (lambda: fastnn.tensor([1, 2]) + 1.5, fastnn.float32),
    (lambda: fastnn.tensor([1, 2]) * 2, fastnn.int64),
    (lambda: fastnn.tensor([1.0], dtype=fastnn.float32) + 2.5, fastnn.float32),
    (lambda: fastnn.tensor([1.0], dtype=fastnn.float32) + fastnn.tensor([1.0], dtype=fastnn.float64),
     fastnn.float64),
    (lambda: fastnn.tensor([1.0], dtype=fastnn.float32) + fastnn.tensor(1.0, dtype=fastnn.float64),
     fastnn.float32),
    (lambda: fastnn.tensor([1, 2]) + fastnn.tensor([1.0, 2.0]), fastnn.float32),
    (lambda: fastnn.tensor([1, 2]) / fastnn.tensor([2, 4]), fastnn.float32),
    (lambda: fastnn.tensor([1, 2], dtype=fastnn.int32) + fastnn.tensor([1, 2]), fastnn.int64),
    (lambda: fastnn.tensor([True, False]) + 1, fastnn.int64),
    (lambda: fastnn.tensor([True, False]) + fastnn.tensor([True, True]), fastnn.bool),
    (lambda: 2.0 ** fastnn.tensor([1, 2]), fastnn.float32),
    (lambda: fastnn.tensor([3, 4]) // 2, fastnn.int64),
    (lambda: fastnn.tensor([1, 2]).sum(), fastnn.int64),
    (lambda: fastnn.tensor([1.5], dtype=fastnn.float16) * 2.0, fastnn.float16),
])
def test_type_promotion(make, expected):
    assert make().dtype == expected


def test_promotion_matches_torch(torch):
    dts = [(fastnn.float32, torch.float32), (fastnn.float64, torch.float64), (fastnn.int64, torch.int64),
           (fastnn.int32, torch.int32), (fastnn.bool, torch.bool)]
    for fa, ta in dts:
        for fb, tb in dts:
            for dims in [((2,), (2,)), ((2,), ()), ((), (2,))]:
                f = fastnn.ones(dims[0], dtype=fa) * fastnn.ones(dims[1], dtype=fb)
                t = torch.ones(dims[0], dtype=ta) * torch.ones(dims[1], dtype=tb)
                assert str(f.dtype) == str(t.dtype).replace("torch.", ""), (fa, fb, dims)
        for s in (2, 2.5, True):
            f = fastnn.ones(2, dtype=fa) * s
            t = torch.ones(2, dtype=ta) * s
            assert str(f.dtype) == str(t.dtype).replace("torch.", ""), (fa, s)


def test_comparisons_return_bool():
    x = fastnn.tensor([1.0, 2.0, 3.0])
    for r in (x > 1, x >= 2, x < 2, x <= 1, x == 2, x != 2, 2 < x, fastnn.eq(x, x)):
        assert r.dtype == fastnn.bool
    assert (x > 1).tolist() == [False, True, True]
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert (~(x > 1)).tolist() == [True, False, False]


# ---------------------------------------------------------------------------- reductions API

def test_max_min_namedtuple_and_overloads():
    x = fastnn.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    r = x.max(dim=1)
    assert r.values.tolist() == [5.0, 7.0] and r.indices.tolist() == [1, 0]
    v, i = fastnn.min(x, 0, keepdim=True)
    assert v.shape == (1, 3) and i.tolist() == [[0, 1, 0]]
    assert x.max().item() == 7.0 and x.min().item() == 0.0
    assert fastnn.max(x, fastnn.tensor([4.0, 4.0, 4.0])).tolist() == [[4.0, 5.0, 4.0], [7.0, 4.0, 4.0]]
    assert x.argmax().item() == 3 and x.argmax(dim=0).tolist() == [1, 0, 1]
    assert type(r).__name__ == "max" and r._fields == ("values", "indices")


def test_var_std_unbiased_correction_keepdim():
    a = np.random.default_rng(0).standard_normal((3, 4, 5))
    x = fastnn.tensor(a)
    np.testing.assert_allclose(x.var().item(), a.var(ddof=1))
    np.testing.assert_allclose(x.var(unbiased=False).item(), a.var())
    np.testing.assert_allclose(x.var(1, True).numpy(), a.var(1, ddof=1))
    np.testing.assert_allclose(x.std(dim=(0, 2), keepdim=True).numpy(), a.std((0, 2), ddof=1, keepdims=True))
    np.testing.assert_allclose(x.var(-1, correction=0).numpy(), a.var(-1))
    np.testing.assert_allclose(fastnn.std(x, dim=-2, correction=2).numpy(), a.std(-2, ddof=2))
    np.testing.assert_allclose(x.var(False).item(), a.var())
    v, m = fastnn.var_mean(x, 1)
    np.testing.assert_allclose(m.numpy(), a.mean(1))
    assert x.sum(dim=(0, -1)).shape == (4,) and x.mean(-1, keepdim=True).shape == (3, 4, 1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(3)


def test_mean_of_int_raises_like_torch():
    with pytest.raises(RuntimeError, match="floating point"):
        fastnn.tensor([1, 2]).mean()
    assert fastnn.tensor([1, 2]).float().mean().item() == 1.5


def test_stable_log_softmax_logsumexp_sigmoid():
    x = fastnn.tensor([[1000.0, 0.0, -1000.0]])
    ls = x.log_softmax(1).numpy()
    assert np.all(np.isfinite(ls[:, :2])) and ls[0, 0] == 0.0
    assert np.isfinite(fastnn.logsumexp(x, 1).item())
    s = fastnn.sigmoid(fastnn.tensor([-1000.0, 1000.0])).numpy()
    assert s.tolist() == [0.0, 1.0]
    assert fastnn.softmax(x, dim=1).sum().item() == pytest.approx(1.0)


def test_sort_topk_any_all_nonzero_misc():
    x = fastnn.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    s = x.sort(dim=1)
    assert s.values.tolist() == [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]] and s.indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert x.argsort(dim=1, descending=True).tolist() == [[0, 2, 1], [1, 2, 0]]
    assert x.topk(2).values.tolist() == [[3.0, 2.0], [5.0, 4.0]]
    assert (x > 4).any().item() and not (x > 5).any().item() and (x >= 0).all().item()
    assert (x > 2).any(dim=1).tolist() == [True, True]
    assert fastnn.nonzero(x > 2.5).tolist() == [[0, 0], [1, 1], [1, 2]]
    assert [t.tolist() for t in fastnn.where(x > 4.5)] == [[1], [1]]
    assert fastnn.isnan(fastnn.tensor([float("nan"), 1.0])).tolist() == [True, False]
    assert fastnn.isfinite(fastnn.tensor([float("inf"), 1.0])).tolist() == [False, True]
    assert fastnn.allclose(x, x + 1e-9) and not fastnn.equal(x, x + 1)
    assert fastnn.tensor([1.0, 2.0]).flip(0).tolist() == [2.0, 1.0]
    assert fastnn.tril(fastnn.ones(2, 2)).tolist() == [[1.0, 0.0], [1.0, 1.0]]
    assert fastnn.diag(fastnn.tensor([1.0, 2.0])).tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert fastnn.outer(fastnn.tensor([1.0, 2.0]), fastnn.tensor([3.0])).tolist() == [[3.0], [6.0]]
    assert fastnn.cumsum(fastnn.tensor([1, 2, 3]), 0).tolist() == [1, 3, 6]
    assert x.numel() == 6 and fastnn.numel(x) == 6 and x.nelement() == 6


# ---------------------------------------------------------------------------- protocols and conversion

def test_python_protocols():
    x = fastnn.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert len(x) == 2
    rows = list(x)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0]
    assert bool(fastnn.tensor([1.0])) and not bool(fastnn.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    assert float(fastnn.tensor([2.5])) == 2.5 and int(fastnn.tensor(3)) == 3
    assert [10, 20, 30][fastnn.tensor(1)] == 20
    assert np.asarray(x).shape == (2, 2) and np.array(x, dtype=np.float64).dtype == np.float64
    d = {x: 1}
    assert d[x] == 1 and hash(x) == hash(x) and x in {x}
    assert fastnn.is_tensor(x) and not fastnn.is_tensor(np.ones(2))
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]] and x[0, 1].item() == 2.0
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()
    with pytest.raises(TypeError, match="len"):
        len(fastnn.tensor(1.0))
    assert f"{fastnn.tensor(1.5):.2f}" == "1.50"
    assert 3.0 in x and 5.0 not in x and reversed(fastnn.tensor([1, 2])).tolist() == [2, 1]


def test_numpy_requires_grad_and_data():
    w = fastnn.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    d = w.data
    assert not d.requires_grad
    d.mul_(3)                           # shares storage
    assert w.detach().tolist() == [3.0, 3.0]
    w.data = fastnn.zeros(2)
    assert w.detach().tolist() == [0.0, 0.0] and w.requires_grad


def test_conversions():
    x = fastnn.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2] and x.long().dtype == fastnn.int64
    assert x.double().dtype == fastnn.float64 and x.int().dtype == fastnn.int32 and x.bool().dtype == fastnn.bool
    assert x.to(fastnn.float64).dtype == fastnn.float64 and x.to("cpu") is x
    assert x.to(np.float64).dtype == fastnn.float64
    y = fastnn.zeros(1, dtype=fastnn.float64)
    assert x.type_as(y).dtype == fastnn.float64 and x.to(y).dtype == fastnn.float64
    assert x.new_zeros(2, 3).dtype == fastnn.float32 and x.new_ones((2,)).tolist() == [1.0, 1.0]
    assert x.new_full((2,), 5.0).tolist() == [5.0, 5.0] and x.new_tensor([1, 2]).dtype == fastnn.float32
    assert str(x.device) == "cpu" and x.is_floating_point() and x.dim() == 1 and x.ndim == 1
    assert x.size() == (2,) and x.size(0) == 2 and x.size(-1) == 2
    xt = fastnn.ones(3, 4).t()
    assert not xt.is_contiguous() and xt.contiguous().is_contiguous()
    c = x.clone()
    c[0] = 0.0
    assert x[0].item() == pytest.approx(1.7)
    w = fastnn.ones(2, requires_grad=True)
    w2 = copy.deepcopy(w)
    assert w2.requires_grad and w2 is not w
    with fastnn.no_grad():
        w2.add_(1)
    assert w.detach().tolist() == [1.0, 1.0]


def test_repr_like_pytorch():
    assert repr(fastnn.tensor([1.0, 2.0, 3.0])) == "tensor([1., 2., 3.])"
    assert repr(fastnn.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    assert repr(fastnn.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(fastnn.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(fastnn.tensor([1.0], dtype=fastnn.float64)) == "tensor([1.], dtype=fastnn.float64)"
    assert repr(fastnn.tensor(2.0)) == "tensor(2.)"
    y = fastnn.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert repr(fastnn.tensor([True, False])) == "tensor([ True, False])"
    assert "\n" in repr(fastnn.ones(2, 2))


# ---------------------------------------------------------------------------- shape and indexing

def test_shape_ops():
    x = fastnn.arange(24).reshape(2, 3, 4)
    assert x.view(6, -1).shape == (6, 4) and x.reshape((4, 6)).shape == (4, 6)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert fastnn.zeros(1, 3, 1).squeeze().shape == (3,) and fastnn.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert fastnn.zeros(3, 1).expand(2, 3, 4).shape == (2, 3, 4) and fastnn.zeros(3, 1).expand(-1, 5).shape == (3, 5)
    assert fastnn.zeros(2, 3).repeat(2, 2).shape == (4, 6)
    assert fastnn.cat([x, x], dim=-1).shape == (2, 3, 8) and fastnn.stack([x, x]).shape == (2, 2, 3, 4)
    assert [t.shape for t in x.split(2, dim=2)] == [(2, 3, 2), (2, 3, 2)]
    assert [t.shape for t in x.split([1, 3], dim=2)] == [(2, 3, 1), (2, 3, 3)]
    assert [t.shape for t in x.chunk(2, 1)] == [(2, 2, 4), (2, 1, 4)]
    assert len(x.unbind(1)) == 3 and x.T.shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)
    assert x.movedim(0, -1).shape == (3, 4, 2) and x.expand_as(fastnn.zeros(5, 2, 3, 4)).shape == (5, 2, 3, 4)
    assert x.view_as(fastnn.zeros(6, 4)).shape == (6, 4) and x.reshape_as(fastnn.zeros(24)).shape == (24,)
    with pytest.raises(RuntimeError, match=r"shape \[5, -1\] is invalid for input of size 24"):
        x.reshape(5, -1)
    with pytest.raises(RuntimeError, match="Use .reshape"):
        fastnn.ones(3, 4).t().view(12)
    with pytest.raises(RuntimeError, match="sizes of tensors must match"):
        fastnn.cat([fastnn.ones(2, 3), fastnn.ones(3, 2)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        fastnn.stack([fastnn.ones(2), fastnn.ones(3)])


def test_indexing_matches_numpy():
    a = np.arange(60).reshape(3, 4, 5)
    x = fastnn.tensor(a)
    idx = [(1,), (slice(None), 2), (Ellipsis, -1), (None, 0, slice(1, 3)), (slice(None, None, 2), None, 1),
           ([0, 2, 2],), (np.array([[0, 1]]), slice(None), [1, 4]), (a[:, 0, 0] > 10,), (1, [0, 3], [4, 0])]
    for i in idx:
        np.testing.assert_array_equal(x[i].numpy(), a[i], err_msg=str(i))
    np.testing.assert_array_equal(x[fastnn.tensor([2, 0])].numpy(), a[[2, 0]])
    np.testing.assert_array_equal(x[x > 50].numpy(), a[a > 50])
    with pytest.raises(IndexError, match="long, int or bool"):
        x[fastnn.tensor([0.0, 1.0])]
    with pytest.raises(TypeError, match="index"):
        x["a"]
    with pytest.raises(IndexError):
        x[5]


def test_setitem_outside_autograd():
    x = fastnn.zeros(3, 4)
    x[0] = 1.0
    x[1, 1:3] = fastnn.tensor([2.0, 3.0])
    x[x > 2.5] = -1.0
    x[:, fastnn.tensor([3])] = 9.0
    assert x.tolist() == [[1.0, 1.0, 1.0, 9.0], [0.0, 2.0, -1.0, 9.0], [0.0, 0.0, 0.0, 9.0]]
    with pytest.raises(RuntimeError, match="cannot be assigned"):
        x[0] = fastnn.ones(5)


def test_gather_scatter_where_masked_fill_clamp():
    x = fastnn.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert fastnn.gather(x, 1, fastnn.tensor([[0, 0], [1, 0]])).tolist() == [[1.0, 1.0], [4.0, 3.0]]
    z = fastnn.zeros(2, 2).scatter_add(0, fastnn.tensor([[1, 1]]), fastnn.tensor([[5.0, 6.0]]))
    assert z.tolist() == [[0.0, 0.0], [5.0, 6.0]]
    assert fastnn.where(x > 2, x, fastnn.zeros(2, 2)).tolist() == [[0.0, 0.0], [3.0, 4.0]]
    assert x.masked_fill(x > 3, -1.0).tolist() == [[1.0, 2.0], [3.0, -1.0]]
    assert x.clamp(min=1.5, max=3.5).tolist() == [[1.5, 2.0], [3.0, 3.5]]
    assert fastnn.clip(x, max=2.0).tolist() == [[1.0, 2.0], [2.0, 2.0]]
    with pytest.raises(TypeError, match="'index'"):
        fastnn.gather(x, 1, fastnn.tensor([[0.0]]))
    with pytest.raises(TypeError, match="'mask'"):
        x.masked_fill(fastnn.ones(2, 2), 0.0)


# ---------------------------------------------------------------------------- in-place helpers

def test_inplace_helpers_under_no_grad():
    p = fastnn.ones(2, 3, requires_grad=True)
    with fastnn.no_grad():
        assert p.zero_() is p and p.sum().item() == 0
        p.fill_(2.0)
        p.add_(fastnn.ones(3), alpha=0.5)
        p.mul_(2.0)
        p.sub_(1.0)
        p.div_(2.0)
        assert np.allclose(p.detach().numpy(), 2.0)
        p.copy_(fastnn.tensor([1.0, 2.0, 3.0]))
        assert p.detach().tolist() == [[1.0, 2.0, 3.0]] * 2
        p.clamp_(1.5, 2.5)
        assert p.detach().tolist() == [[1.5, 2.0, 2.5]] * 2
        p.normal_(0.0, 0.01)
        assert abs(p.detach().numpy()).max() < 0.1
        p.uniform_(3, 4)
        assert 3 <= p.detach().numpy().min() and p.detach().numpy().max() < 4
        p.addcmul_(fastnn.ones(2, 3), fastnn.ones(2, 3), value=-3.0)
        p.addcdiv_(fastnn.ones(2, 3), fastnn.ones(2, 3) * 2, value=2.0)
        x = fastnn.tensor([1.0, 2.0])
        x += 1
        x *= 2
        x -= fastnn.tensor([1.0, 1.0])
        x /= 2
        assert x.tolist() == [1.5, 2.5]
    assert p.requires_grad and p.is_leaf
    with pytest.raises(RuntimeError, match="shape"):
        fastnn.zeros(3).add_(fastnn.ones(4))
    with pytest.raises(RuntimeError):
        fastnn.zeros(3, dtype=fastnn.int64).div_(2)


def test_inplace_then_backward_sees_new_graph():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    h.relu_()
    h.mul_(3.0)
    h.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


# ---------------------------------------------------------------------------- errors

def test_broadcast_error_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"\(3,\) and \(4,\)"):
        fastnn.ones(3) + fastnn.ones(4)
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(2,\)"):
        fastnn.ones(2, 3) * fastnn.ones(2)
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 3\)"):
        fastnn.ones(2, 3) @ fastnn.ones(2, 3)
    with pytest.raises(RuntimeError, match="same dtype"):
        fastnn.ones(2, 2) @ fastnn.ones(2, 2, dtype=fastnn.float64)
    with pytest.raises(TypeError, match="unsupported operand"):
        fastnn.ones(2) + "a"
    with pytest.raises(TypeError, match="'dim'"):
        fastnn.ones(2).sum(dim=1.5)


def test_matmul_int_and_batched():
    a = fastnn.arange(6).reshape(2, 3)
    assert (a @ a.T).tolist() == (np.arange(6).reshape(2, 3) @ np.arange(6).reshape(2, 3).T).tolist()
    x = fastnn.randn(4, 1, 2, 3)
    y = fastnn.randn(5, 3, 2)
    np.testing.assert_allclose((x @ y).numpy(), x.numpy() @ y.numpy(), rtol=1e-5, atol=1e-5)


def test_tensor_constructor_and_dlpack(torch):
    assert fastnn.Tensor([1, 2]).dtype == fastnn.float32            # torch.Tensor(data) is the default float
    assert fastnn.Tensor(2, 3).shape == (2, 3) and fastnn.Tensor().shape == (0,)
    assert fastnn.tensor(np.float64(1.5)).dtype == fastnn.float64    # numpy scalars keep their dtype
    t = torch.arange(4.0)
    f = fastnn.from_dlpack(t)
    t[0] = 9.0
    assert f[0].item() == 9.0                                        # shared memory
    back = torch.from_dlpack(fastnn.ones(3))
    assert back.tolist() == [1.0, 1.0, 1.0]


def test_index_add_inplace_and_augmented_indexing():
    x = fastnn.zeros(3)
    x[fastnn.tensor([0, 2])] += 1.0
    assert x.tolist() == [1.0, 0.0, 1.0]
    x[1:] *= 4
    assert x.tolist() == [1.0, 0.0, 4.0]
    y = fastnn.zeros(2, 2).index_add(0, fastnn.tensor([1, 1]), fastnn.ones(2, 2))
    assert y.tolist() == [[0.0, 0.0], [2.0, 2.0]]
    with pytest.raises(RuntimeError, match="cast"):
        z = fastnn.zeros(2, dtype=fastnn.int64)
        z += 1.5


def test_repr_of_half_tensors_warns_nothing():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repr(fastnn.tensor([1.5, -2.25]).half()) == "tensor([ 1.5000, -2.2500], dtype=fastnn.float16)"
        assert "6.5504e+04" in repr(fastnn.tensor([65504.0, 1e-5]).half())
        assert repr(fastnn.tensor([1.0, 2.0]).half()) == "tensor([1., 2.], dtype=fastnn.float16)"


def test_get_device_and_data_ptr():
    x = fastnn.arange(12.0).reshape(3, 4)
    assert x.get_device() == -1
    assert x.data_ptr() == x[0].data_ptr() == x.view(12).data_ptr()
    assert x[1].data_ptr() - x.data_ptr() == 4 * x.element_size()
    assert x.clone().data_ptr() != x.data_ptr()
