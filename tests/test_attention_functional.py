"""F.scaled_dot_product_attention against PyTorch: values and gradients for every mask kind, causal,
grouped-query, scale, leading dims, edge sizes and non-contiguous inputs; gradcheck / gradgradcheck
in float64; dropout reproducibility and statistics; errors naming the argument."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn.autograd import gradcheck, gradgradcheck
from fastnn.nn._functional_attention import _attention_math


def _pair(torch, a, grad=True):
    return torch.tensor(a, requires_grad=grad), fastnn.tensor(a, requires_grad=grad)


def _compare(torch, rng, qs, ks, vs, mask=None, mask_grad=False, dtype=np.float32, transpose=False, **kw):
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in (qs, ks, vs))
    if transpose:     # non-contiguous inputs: built (..., E, L) and transposed
        q, k, v = (np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2) for a in (q, k, v))
    (tq, fq), (tk, fk), (tv, fv) = (_pair(torch, a) for a in (q, k, v))
    tm = fm = None
    if mask is not None:
        tm, fm = _pair(torch, mask, grad=mask_grad)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kw)
    fo = F.scaled_dot_product_attention(fq, fk, fv, attn_mask=fm, **kw)
    assert tuple(fo.shape) == tuple(to.shape)
    assert fo.dtype == np.dtype(dtype)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), **tol)
    g = rng.standard_normal(tuple(to.shape)).astype(dtype)
    to.backward(torch.tensor(g))
    fo.backward(fastnn.tensor(g))
    pairs = [(fq, tq), (fk, tk), (fv, tv)] + ([(fm, tm)] if mask_grad else [])
    for f, t in pairs:
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), **tol)


CASES = [
    # (q shape, k shape, v shape, kwargs)
    ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6), {}),
    ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8), {"is_causal": True}),               # L < S, top-left
    ((2, 2, 7, 8), (2, 2, 4, 8), (2, 2, 4, 8), {"is_causal": True}),               # L > S: rows past S see all
    ((2, 4, 5, 8), (2, 2, 6, 8), (2, 2, 6, 5), {"enable_gqa": True}),
    ((1, 6, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4), {"enable_gqa": True, "is_causal": True}),
    ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6), {"scale": 0.37}),
    ((5, 8), (7, 8), (7, 3), {}),                                                  # no batch dims
    ((4, 5, 8), (4, 7, 8), (4, 7, 8), {"is_causal": True}),                         # (N, L, E)
    ((2, 2, 3, 5, 8), (2, 2, 3, 6, 8), (2, 2, 3, 6, 8), {}),                        # two batch dims
    ((2, 3, 5, 8), (1, 3, 6, 8), (1, 3, 6, 8), {}),                                 # broadcast batch
    ((1, 1, 1, 8), (1, 1, 1, 8), (1, 1, 1, 8), {}),
    ((2, 1, 1, 8), (2, 1, 9, 8), (2, 1, 9, 8), {"is_causal": True}),
    ((2, 3, 0, 8), (2, 3, 4, 8), (2, 3, 4, 8), {}),                                 # L = 0
]


@pytest.mark.parametrize("qs,ks,vs,kw", CASES)
def test_sdpa_matches_torch(torch, rng, qs, ks, vs, kw):
    _compare(torch, rng, qs, ks, vs, **kw)


def test_sdpa_non_contiguous_float64(torch, rng):
    _compare(torch, rng, (2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 8), dtype=np.float64, transpose=True,
             is_causal=True)


def test_sdpa_on_every_cpu_path(torch, rng, cpu_path):
    _compare(torch, rng, (2, 4, 9, 16), (2, 2, 11, 16), (2, 2, 11, 16), enable_gqa=True)
    mask = rng.random((9, 11)) < 0.6
    _compare(torch, rng, (2, 2, 9, 16), (2, 2, 11, 16), (2, 2, 11, 16), mask=mask)


@pytest.mark.parametrize("mshape", [(5, 7), (1, 7), (5, 1), (2, 1, 5, 7), (1, 3, 1, 7), (2, 3, 5, 7), (3, 5, 7)])
def test_sdpa_bool_mask_broadcasts(torch, rng, mshape):
    mask = rng.random(mshape) < 0.6
    _compare(torch, rng, (2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6), mask=mask)


@pytest.mark.parametrize("mshape", [(5, 7), (2, 1, 5, 7), (1, 3, 5, 7)])
def test_sdpa_float_mask(torch, rng, mshape):
    mask = rng.standard_normal(mshape).astype(np.float32)
    mask[..., 0, 1:] = -np.inf
    _compare(torch, rng, (2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6), mask=mask)


def test_sdpa_float_mask_gradient(torch, rng):
    mask = rng.standard_normal((2, 1, 5, 7)).astype(np.float32)
    _compare(torch, rng, (2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6), mask=mask, mask_grad=True)


def test_sdpa_partly_broadcast_batch_mask(torch, rng):
    mask = rng.random((2, 1, 1, 5, 6)) < 0.7
    _compare(torch, rng, (2, 3, 4, 5, 8), (2, 3, 4, 6, 8), (2, 3, 4, 6, 8), mask=mask)


def test_sdpa_fully_masked_row_gives_zero(torch, rng):
    mask = rng.random((5, 7)) < 0.7
    mask[2] = False
    _compare(torch, rng, (2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6), mask=mask)
    q = fastnn.randn(1, 1, 5, 8)
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=fastnn.tensor(mask[:, :5]))
    assert np.all(out.numpy()[0, 0, 2] == 0)


def test_sdpa_float16_computed_in_float32(rng):
    q, k, v = (rng.standard_normal((2, 2, 6, 8)).astype(np.float16) for _ in range(3))
    out = F.scaled_dot_product_attention(fastnn.tensor(q), fastnn.tensor(k), fastnn.tensor(v), is_causal=True)
    assert out.dtype == fastnn.float16
    ref = F.scaled_dot_product_attention(*(fastnn.tensor(a.astype(np.float32)) for a in (q, k, v)), is_causal=True)
    np.testing.assert_allclose(out.numpy().astype(np.float32), ref.numpy(), rtol=2e-3, atol=2e-3)


def _f64(rng, *shapes):
    return [fastnn.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


def test_sdpa_gradcheck_and_gradgradcheck(rng):
    q, k, v = _f64(rng, (1, 2, 3, 4), (1, 2, 4, 4), (1, 2, 4, 3))
    mask = fastnn.tensor(rng.random((3, 4)) < 0.7)
    for kw in ({}, {"is_causal": True}, {"attn_mask": mask}, {"scale": 0.5}):
        def f(q, k, v, kw=kw):
            return F.scaled_dot_product_attention(q, k, v, **kw)
        assert gradcheck(f, (q, k, v))
        assert gradgradcheck(f, (q, k, v))


def test_sdpa_gradgradcheck_gqa_float_mask(rng):
    q, k, v = _f64(rng, (1, 4, 3, 4), (1, 2, 5, 4), (1, 2, 5, 2))
    mask = fastnn.tensor(rng.standard_normal((1, 1, 3, 5)))

    def f(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    assert gradcheck(f, (q, k, v))
    assert gradgradcheck(f, (q, k, v))


def test_sdpa_dropout_gradients_with_a_fixed_seed(rng):
    q, k, v = _f64(rng, (1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3))

    def f(q, k, v):
        fastnn.manual_seed(7)             # the same mask at every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, is_causal=True)
    assert gradcheck(f, (q, k, v))
    assert gradgradcheck(f, (q, k, v))


def test_sdpa_dropout_reproducible_and_statistics():
    # zero queries: uniform weights 1/S; value = identity, so out[.., i, j] = keep[i, j] / S
    S, p = 64, 0.25
    q = fastnn.zeros(2, 4, 32, 8)
    k = fastnn.randn(2, 4, S, 8)
    v = fastnn.tensor(np.broadcast_to(np.eye(S, dtype=np.float32), (2, 4, S, S)).copy())
    fastnn.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy()
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy()
    fastnn.manual_seed(3)
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)
    dropped = np.mean(a == 0)
    assert abs(dropped - p) < 0.02
    np.testing.assert_allclose(a[a != 0], 1.0 / ((1 - p) * S), rtol=1e-5)
    # dropout_p = 1 drops everything, as PyTorch
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)


def test_sdpa_dropout_matches_the_math_path():
    """The kernel's mask is dropout_mask's over (B, H, L, S) under the same Philox (key, offset)."""
    from fastnn.nn._functional_misc import _keep_mask
    q, k, v = fastnn.randn(2, 3, 5, 8), fastnn.randn(2, 3, 6, 8), fastnn.randn(2, 3, 6, 4)
    fastnn.manual_seed(11)
    fused = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, is_causal=True)
    fastnn.manual_seed(11)
    keep = _keep_mask((2, 3, 5, 6), 0.4, np.dtype(np.float32), fastnn.device("cpu"))
    ref = _attention_math(q, k, v, None, True, 1 / np.sqrt(8), keep)[0]
    np.testing.assert_allclose(fused.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


def _raises(match, exc=RuntimeError, **kw):
    args = dict(query=fastnn.randn(2, 4, 5, 8), key=fastnn.randn(2, 4, 6, 8), value=fastnn.randn(2, 4, 6, 8))
    args.update(kw)
    with pytest.raises(exc, match=match):
        F.scaled_dot_product_attention(**args)


def test_sdpa_errors():
    _raises("head dim E.*query \\(2, 4, 5, 8\\), key \\(2, 4, 6, 7\\)", key=fastnn.randn(2, 4, 6, 7))
    _raises("sequence length", value=fastnn.randn(2, 4, 5, 8))
    _raises("same dtype", key=fastnn.randn(2, 4, 6, 8, dtype=fastnn.float64))
    _raises("attn_mask of shape \\(4, 6\\) cannot be broadcast", attn_mask=fastnn.ones(4, 6).bool())
    _raises("attn_mask dtype", attn_mask=fastnn.ones(5, 6, dtype=fastnn.int64))
    _raises("attn_mask dtype", attn_mask=fastnn.ones(5, 6, dtype=fastnn.float64))
    _raises("should not be set when is_causal=True", attn_mask=fastnn.ones(5, 6).bool(), is_causal=True)
    _raises("dropout probability", dropout_p=1.5)
    _raises("dropout probability", dropout_p=-0.1)
    _raises("do not broadcast", key=fastnn.randn(2, 2, 6, 8), value=fastnn.randn(2, 2, 6, 8))
    _raises("multiple of", key=fastnn.randn(2, 3, 6, 8), value=fastnn.randn(2, 3, 6, 8), enable_gqa=True)
    _raises("same number of heads", value=fastnn.randn(2, 2, 6, 8), enable_gqa=True)
    _raises("must be a Tensor", TypeError, query=np.zeros((2, 4, 5, 8), np.float32))
    _raises("at least 2 dimensions", query=fastnn.randn(8))


def test_sdpa_and_mha_without_weights_run_the_fused_kernel():
    q = fastnn.randn(2, 3, 4, 8, requires_grad=True)
    assert F.scaled_dot_product_attention(q, q, q).grad_fn.name() == "_FusedAttentionBackward0"
    m = fastnn.nn.MultiheadAttention(8, 2)
    x = fastnn.randn(3, 2, 8)
    names, seen, stack = set(), set(), [m(x, x, x, need_weights=False)[0].grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            names.add(node.name())
            stack += [f for f, _ in node.next_functions]
    assert "_FusedAttentionBackward0" in names
