"""The attention kernel family on the CPU (csrc/ops/attention/): the flash-attention forward and backward of
every CPU path against a numpy reference in float64, PyTorch's scaled_dot_product_attention, the plain
reference (ref.cpp) and central finite differences; masks (boolean, additive, key padding, broadcast),
causal with Lq != Lk, grouped-query heads, non-contiguous inputs, dropout drawn from Philox exactly as
``kernels.dropout_mask`` lays it out, edge sizes, bad arguments, and the memory of a long sequence."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn import _C, kernels


# ------------------------------------------------------------------ numpy reference (float64)

def _scores(q, k, mask, causal, scale):
    G = q.shape[1] // max(k.shape[1], 1)
    kk = np.repeat(k.astype(np.float64), G, axis=1)
    s = scale * (q.astype(np.float64) @ kk.swapaxes(-1, -2))
    if mask is not None:
        m = np.broadcast_to(mask, s.shape)
        s = np.where(m, s, -np.inf) if mask.dtype == np.bool_ else s + m.astype(np.float64)
    if causal:
        Lq, Lk = s.shape[-2:]
        s = np.where(np.tril(np.ones((Lq, Lk), bool)), s, -np.inf)
    return s


def np_attention(q, k, v, mask=None, causal=False, scale=None, z=None):
    """(out, lse, p): p the softmax weights before dropout; z dropout's scaled keep mask (B, Hq, Lq, Lk)."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = _scores(q, k, mask, causal, scale)
    m = s.max(-1, keepdims=True) if s.shape[-1] else np.full(s.shape[:-1] + (1,), -np.inf)
    dead = ~np.isfinite(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(dead, 0.0, np.exp(s - np.where(dead, 0.0, m)))
        l_sum = e.sum(-1, keepdims=True)
        p = np.where(dead, 0.0, e / np.where(dead, 1.0, l_sum))
        lse = np.where(dead, -np.inf, m + np.log(np.where(dead, 1.0, l_sum)))[..., 0]
    G = q.shape[1] // max(k.shape[1], 1)
    vv = np.repeat(v.astype(np.float64), G, axis=1)
    pz = p if z is None else p * z
    return pz @ vv, lse, p


def np_attention_backward(dout, q, k, v, mask=None, causal=False, scale=None, z=None):
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    out, _, p = np_attention(q, k, v, mask, causal, scale, z)
    G = q.shape[1] // max(k.shape[1], 1)
    kk = np.repeat(k.astype(np.float64), G, axis=1)
    vv = np.repeat(v.astype(np.float64), G, axis=1)
    do = dout.astype(np.float64)
    zz = 1.0 if z is None else z
    dv = (p * zz).swapaxes(-1, -2) @ do
    dp = (do @ vv.swapaxes(-1, -2)) * zz
    ds = p * (dp - (do * out).sum(-1, keepdims=True)) * scale
    dq = ds @ kk
    dk = ds.swapaxes(-1, -2) @ q.astype(np.float64)
    B, Hk = k.shape[:2]
    dk = dk.reshape(B, Hk, G, *dk.shape[2:]).sum(2)
    dv = dv.reshape(B, Hk, G, *dv.shape[2:]).sum(2)
    return dq, dk, dv


def _close(got, want, dtype):
    tol = 2e-5 if dtype == np.float32 else 1e-11
    want = np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=tol * 5, atol=tol * (1 + np.abs(want).max(initial=0)))


def _inputs(rng, B, Hq, Hk, Lq, Lk, D, Dv, dtype=np.float32, layout="c"):
    """q, k, v, dout; layout 'nlhd': views of (N, L, H, D) arrays transposed to (N, H, L, D)."""
    def make(shape):
        if layout == "nlhd":
            a = rng.standard_normal((shape[0], shape[2], shape[1], shape[3])).astype(dtype)
            return a.transpose(0, 2, 1, 3)
        return rng.standard_normal(shape).astype(dtype)
    return (make((B, Hq, Lq, D)), make((B, Hk, Lk, D)), make((B, Hk, Lk, Dv)), make((B, Hq, Lq, Dv)))


CASES = [
    # B, Hq, Hk, Lq, Lk, D, Dv, causal, mask kind
    (1, 1, 1, 1, 1, 1, 1, False, None),
    (2, 3, 3, 17, 17, 8, 8, False, None),
    (2, 4, 2, 70, 130, 64, 64, True, None),        # Lq < Lk causal, GQA
    (1, 2, 1, 130, 70, 33, 17, True, None),        # Lq > Lk causal, D != Dv, vector tails
    (2, 2, 2, 50, 90, 16, 5, False, "key_padding"),
    (1, 4, 4, 33, 41, 7, 9, False, "bool_full"),
    (2, 2, 1, 40, 40, 12, 12, True, "additive_heads"),
    (1, 1, 1, 200, 300, 64, 64, False, "additive_rows"),
    (3, 2, 2, 1, 129, 20, 20, False, None),        # single query row
]


def _mask(rng, kind, B, Hq, Lq, Lk, dtype):
    if kind is None:
        return None
    if kind == "key_padding":
        m = rng.random((B, 1, 1, Lk)) > 0.3
        m[..., 0] = True
        return m
    if kind == "bool_full":
        return rng.random((B, Hq, Lq, Lk)) > 0.4
    if kind == "additive_heads":
        return rng.standard_normal((1, Hq, Lq, Lk)).astype(dtype)
    return rng.standard_normal((1, 1, Lq, Lk)).astype(dtype)  # additive_rows


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_backward_match_numpy_on_every_path(cpu_path, case, dtype, rng):
    B, Hq, Hk, Lq, Lk, D, Dv, causal, kind = case
    q, k, v, do = _inputs(rng, B, Hq, Hk, Lq, Lk, D, Dv, dtype, layout="nlhd" if Lq == Lk else "c")
    mask = _mask(rng, kind, B, Hq, Lq, Lk, dtype)
    scale = 1 / np.sqrt(D)
    out, lse, counters = kernels.attention_forward(q, k, v, mask, causal, scale)
    assert counters == 0 and out.dtype == dtype and lse.dtype == dtype and out.flags.c_contiguous
    want, want_lse, _ = np_attention(q, k, v, mask, causal, scale)
    _close(out, want, dtype)
    _close(lse, want_lse, dtype)
    dq, dk, dv = kernels.attention_backward(do, q, k, v, out, lse, mask, causal, scale)
    for got, ref in zip((dq, dk, dv), np_attention_backward(do, q, k, v, mask, causal, scale)):
        assert got.dtype == dtype
        _close(got, ref, dtype)


@pytest.mark.parametrize("case", CASES)
def test_plain_reference_agrees_with_the_kernels(case, rng):
    B, Hq, Hk, Lq, Lk, D, Dv, causal, kind = case
    q, k, v, do = _inputs(rng, B, Hq, Hk, Lq, Lk, D, Dv, np.float64)
    mask = _mask(rng, kind, B, Hq, Lq, Lk, np.float64)
    args = (mask, causal, 0.3, 0.2, 7, 11)
    out, lse, c = _C.attention_forward(q, k, v, *args)
    rout, rlse, rc = _C.attention_forward_reference(q, k, v, *args)
    assert c == rc > 0
    _close(out, rout, np.float64)
    _close(lse, rlse, np.float64)
    for got, ref in zip(_C.attention_backward(do, q, k, v, out, lse, *args),
                        _C.attention_backward_reference(do, q, k, v, rout, rlse, *args)):
        _close(got, ref, np.float64)


def _torch_sdpa(torch, q, k, v, mask, causal, scale, dout):
    tq, tk, tv = (torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in (q, k, v))
    tm = None if mask is None else torch.tensor(mask)
    out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, is_causal=causal, scale=scale,
                                                           enable_gqa=q.shape[1] != k.shape[1])
    out.backward(torch.tensor(np.ascontiguousarray(dout)))
    return out.detach().numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()


@pytest.mark.parametrize("case", [c for c in CASES if not (c[7] and c[3] != c[4])])  # torch: causal with Lq == Lk
def test_matches_torch_sdpa(torch, case, rng):
    B, Hq, Hk, Lq, Lk, D, Dv, causal, kind = case
    q, k, v, do = _inputs(rng, B, Hq, Hk, Lq, Lk, D, Dv, np.float32, layout="nlhd")
    mask = _mask(rng, kind, B, Hq, Lq, Lk, np.float32)
    scale = 1 / np.sqrt(D)
    out, lse, _ = kernels.attention_forward(q, k, v, mask, causal, scale)
    grads = kernels.attention_backward(do, q, k, v, out, lse, mask, causal, scale)
    want = _torch_sdpa(torch, q, k, v, mask, causal, scale, do)
    for got, ref in zip((out,) + grads, want):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * (1 + np.abs(ref).max(initial=0)))


def test_causal_with_lq_different_from_lk_matches_torch_top_left(torch, rng):
    """PyTorch's is_causal is top-left aligned (tril of ones(Lq, Lk)): the same as an explicit boolean mask."""
    q, k, v, do = _inputs(rng, 2, 2, 2, 23, 57, 16, 16)
    out, lse, _ = kernels.attention_forward(q, k, v, None, True, 0.25)
    mask = np.tril(np.ones((23, 57), bool))
    want = _torch_sdpa(torch, q, k, v, mask, False, 0.25, do)
    grads = kernels.attention_backward(do, q, k, v, out, lse, None, True, 0.25)
    for got, ref in zip((out,) + grads, want):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fully_masked_rows_give_zero_out_minus_inf_lse_and_zero_grads(cpu_path, dtype, rng):
    q, k, v, do = _inputs(rng, 2, 2, 1, 9, 13, 8, 6, dtype)
    mask = rng.random((2, 1, 9, 13)) > 0.5
    mask[0, 0, 3] = False
    mask[1, 0, [0, 8]] = False
    out, lse, _ = kernels.attention_forward(q, k, v, mask, False, 0.5)
    assert np.all(out[0, :, 3] == 0) and np.all(np.isneginf(lse[0, :, 3]))
    assert np.all(out[1, :, [0, 8]] == 0) and np.all(np.isneginf(lse[1, :, [0, 8]]))
    assert np.isfinite(out).all()
    dq, dk, dv = kernels.attention_backward(do, q, k, v, out, lse, mask, False, 0.5)
    assert np.all(dq[0, :, 3] == 0) and np.all(dq[1, :, [0, 8]] == 0)
    for got, ref in zip((dq, dk, dv), np_attention_backward(do, q, k, v, mask, False, 0.5)):
        _close(got, ref, dtype)
    # -inf in an additive mask masks too; no key at all (Lk = 0) masks every row
    add = np.where(mask, 0.0, -np.inf).astype(dtype)
    out2, lse2, _ = kernels.attention_forward(q, k, v, add, False, 0.5)
    _close(out2, out, dtype)
    out0, lse0, _ = kernels.attention_forward(q, k[:, :, :0], v[:, :, :0], None, False, 0.5)
    assert np.all(out0 == 0) and np.all(np.isneginf(lse0))


@pytest.mark.parametrize("shape", [(0, 2, 2, 5, 5, 4, 4), (2, 0, 0, 5, 5, 4, 4), (2, 2, 2, 0, 5, 4, 4),
                                   (2, 2, 2, 5, 0, 4, 4), (2, 2, 2, 5, 5, 0, 4), (2, 2, 2, 5, 5, 4, 0)])
def test_empty_sizes(shape, rng):
    B, Hq, Hk, Lq, Lk, D, Dv = shape
    q, k, v, do = _inputs(rng, B, Hq, Hk, Lq, Lk, D, Dv)
    out, lse, _ = kernels.attention_forward(q, k, v, None, False, 1.0)
    want, want_lse, _ = np_attention(q, k, v, None, False, 1.0)
    assert out.shape == (B, Hq, Lq, Dv) and lse.shape == (B, Hq, Lq)
    _close(out, want, np.float32)
    assert np.array_equal(np.isneginf(lse), np.isneginf(want_lse))
    _close(np.where(np.isneginf(lse), 0, lse), np.where(np.isneginf(want_lse), 0, want_lse), np.float32)
    dq, dk, dv = kernels.attention_backward(do, q, k, v, out, lse, None, False, 1.0)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape
    for got, ref in zip((dq, dk, dv), np_attention_backward(do, q, k, v, None, False, 1.0)):
        _close(got, ref, np.float32)


def _dropout_z(shape, p, key, offset, dtype):
    z = np.empty(shape, dtype)
    used = kernels.dropout_mask(z, p, key, offset)
    return z, used


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_is_dropout_mask_on_the_weights(cpu_path, dtype, rng):
    B, Hq, Hk, Lq, Lk, D = 2, 4, 2, 37, 75, 16
    q, k, v, do = _inputs(rng, B, Hq, Hk, Lq, Lk, D, D, dtype)
    p, key, offset = 0.3, 1234567, 89
    z, used = _dropout_z((B, Hq, Lq, Lk), p, key, offset, dtype)
    for causal in (False, True):
        out, lse, counters = kernels.attention_forward(q, k, v, None, causal, 0.25, p, key, offset)
        assert counters == used
        want, want_lse, _ = np_attention(q, k, v, None, causal, 0.25, z)
        _close(out, want, dtype)
        _close(lse, want_lse, dtype)  # lse is the softmax's, before dropout
        grads = kernels.attention_backward(do, q, k, v, out, lse, None, causal, 0.25, p, key, offset)
        for got, ref in zip(grads, np_attention_backward(do, q, k, v, None, causal, 0.25, z)):
            _close(got, ref, dtype)


def test_dropout_is_the_same_on_every_path_and_thread_count(rng):
    q, k, v, do = _inputs(rng, 2, 2, 2, 50, 70, 24, 24)
    args = (None, True, 0.2, 0.5, 99, 5)
    results = []
    old_threads = fastnn.get_num_threads()
    old_path = os.environ.get("FASTNN_CPU_PATH")
    try:
        for path, why in _C.cpu_paths().items():
            if why:
                continue
            os.environ["FASTNN_CPU_PATH"] = path
            _C.refresh_cpu_path()
            for threads in (1, 2, 3):
                fastnn.set_num_threads(threads)
                out, lse, _ = kernels.attention_forward(q, k, v, *args)
                results.append((out, kernels.attention_backward(do, q, k, v, out, lse, *args)))
    finally:
        fastnn.set_num_threads(old_threads)
        if old_path is None:
            os.environ.pop("FASTNN_CPU_PATH", None)
        else:
            os.environ["FASTNN_CPU_PATH"] = old_path
        _C.refresh_cpu_path()
    out0, g0 = results[0]
    dropped = out0 == 0
    for out, grads in results[1:]:
        # which weights are dropped is decided by the draw alone: exactly the same everywhere
        np.testing.assert_allclose(out, out0, rtol=1e-5, atol=1e-6)
        for a, b in zip(grads, g0):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not dropped.all()


def test_results_do_not_depend_on_the_thread_count(rng):
    """Each output element is computed by one thread in one order, whatever the split: bitwise equal."""
    q, k, v, do = _inputs(rng, 1, 2, 1, 300, 300, 32, 32)
    old = fastnn.get_num_threads()
    got = []
    try:
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            out, lse, _ = kernels.attention_forward(q, k, v, None, True, 0.2)
            dq, dk, dv = kernels.attention_backward(do, q, k, v, out, lse, None, True, 0.2)
            got.append((out, lse, dk, dv, dq))
    finally:
        fastnn.set_num_threads(old)
    for g in got[1:]:
        for a, b in zip(g[:4], got[0][:4]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(g[4], got[0][4], rtol=1e-5, atol=1e-6)  # dq: partial sums when split


def test_float64_backward_matches_central_differences(rng):
    B, Hq, Hk, Lq, Lk, D, Dv = 1, 2, 1, 5, 6, 3, 4
    q, k, v, do = _inputs(rng, B, Hq, Hk, Lq, Lk, D, Dv, np.float64)
    mask = rng.standard_normal((1, 1, Lq, Lk))
    args = (mask, True, 0.7)

    def loss(q_, k_, v_):
        return float((kernels.attention_forward(q_, k_, v_, *args)[0] * do).sum())

    out, lse, _ = kernels.attention_forward(q, k, v, *args)
    grads = kernels.attention_backward(do, q, k, v, out, lse, *args)
    h = 1e-6
    for which, g in enumerate(grads):
        xs = [q.copy(), k.copy(), v.copy()]
        num = np.zeros_like(xs[which])
        for idx in np.ndindex(num.shape):
            plus = [a.copy() for a in xs]
            minus = [a.copy() for a in xs]
            plus[which][idx] += h
            minus[which][idx] -= h
            num[idx] = (loss(*plus) - loss(*minus)) / (2 * h)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_strided_masks_and_inputs_are_read_in_place(rng):
    """A mask with a non-unit last stride, negative strides, and broadcast (stride-0) batch/head dims."""
    q, k, v, do = _inputs(rng, 2, 2, 2, 11, 19, 8, 8)
    wide = rng.random((2, 1, 11, 38)) > 0.3
    mask = wide[..., ::2]
    mask[..., 0] = True
    qr = q[:, :, ::-1]
    kb = np.broadcast_to(k[:1], k.shape)
    out, lse, _ = kernels.attention_forward(qr, kb, v, mask, False, 0.3)
    want, _, _ = np_attention(qr, kb, v, mask, False, 0.3)
    _close(out, want, np.float32)
    grads = kernels.attention_backward(do[:, :, ::-1], qr, kb, v, out, lse, mask, False, 0.3)
    for got, ref in zip(grads, np_attention_backward(do[:, :, ::-1], qr, kb, v, mask, False, 0.3)):
        _close(got, ref, np.float32)
    # a last dim that is not unit-stride is made so by the array-level entry
    qs = np.repeat(q, 2, axis=-1)[..., ::2]
    out2, _, _ = kernels.attention_forward(qs, k, v, None, False, 0.3)
    _close(out2, np_attention(q, k, v, None, False, 0.3)[0], np.float32)
    # a 2-D mask (Lq, Lk) broadcasts like PyTorch's
    m2 = rng.random((11, 19)) > 0.2
    m2[:, 0] = True
    _close(kernels.attention_forward(q, k, v, m2, False, 0.3)[0], np_attention(q, k, v, m2, False, 0.3)[0],
           np.float32)


# ------------------------------------------------------------------ bad arguments

def test_bad_arguments_raise_naming_them(rng):
    q, k, v, do = _inputs(rng, 2, 4, 2, 5, 6, 8, 3)
    f = _C.attention_forward
    with pytest.raises(ValueError, match="head dim"):
        f(q, k[..., :7], v)
    with pytest.raises(ValueError, match="multiple of the key/value heads"):
        f(q[:, :3], k, v)
    with pytest.raises(ValueError, match="batch size"):
        f(q, k[:1], v[:1])
    with pytest.raises(ValueError, match="'k' and 'v'"):
        f(q, k, v[:, :, :5])
    with pytest.raises(ValueError, match="argument 'mask'.*does not broadcast"):
        f(q, k, v, np.ones((2, 3, 5, 6), bool))
    with pytest.raises(ValueError, match="argument 'mask'.*does not broadcast"):
        f(q, k, v, np.ones((1, 1, 1, 5), bool))
    with pytest.raises(TypeError, match="argument 'mask' must be bool"):
        f(q, k, v, np.ones((1, 1, 1, 6), np.float64))
    with pytest.raises(TypeError, match="argument 'q' must be float32 or float64"):
        f(q.astype(np.float16), k, v)
    with pytest.raises(TypeError, match="same dtype"):
        f(q, k.astype(np.float64), v)
    with pytest.raises(ValueError, match="'dropout_p' must be in \\[0, 1\\)"):
        f(q, k, v, None, False, 1.0, 1.0)
    with pytest.raises(ValueError, match="'dropout_p'"):
        f(q, k, v, None, False, 1.0, -0.1)
    with pytest.raises(ValueError, match="'scale' must be finite"):
        f(q, k, v, None, False, float("nan"))
    with pytest.raises(ValueError, match="argument 'q'.*unit stride"):
        f(q[..., ::2], k[..., ::2], v)
    with pytest.raises(ValueError, match="argument 'k' must be 4-D"):
        f(q, k[0], v)
    with pytest.raises(ValueError, match="argument 'key'"):
        f(q, k, v, None, False, 1.0, 0.5, -1)
    out, lse, _ = f(q, k, v)
    b = _C.attention_backward
    with pytest.raises(ValueError, match="argument 'dout'"):
        b(do[..., :2], q, k, v, out, lse)
    with pytest.raises(ValueError, match="argument 'lse'"):
        b(do, q, k, v, out, lse[:, :, :4])
    with pytest.raises(TypeError, match="argument 'lse'"):
        b(do, q, k, v, out, lse.astype(np.float64))
    with pytest.raises(ValueError, match="argument 'out'"):
        b(do, q, k, v, np.asfortranarray(out), lse)
    with pytest.raises(ValueError, match="argument 'out'"):
        b(do, q, k, v, out[:, :, :4], lse)


# ------------------------------------------------------------------ memory of a long sequence

MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import fastnn
    from fastnn import kernels
    fastnn.set_num_threads(2)
    B, H, L, D = 1, 8, 8192, 64
    rng = np.random.default_rng(0)
    q, k, v, do = (rng.standard_normal((B, H, L, D), dtype=np.float32) for _ in range(4))
    small = [a[:, :, :64] for a in (q, k, v, do)]
    o, l, _ = kernels.attention_forward(*small[:3], None, True, 0.125)
    kernels.attention_backward(small[3], *small[:3], o, l, None, True, 0.125)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out, lse, _ = kernels.attention_forward(q, k, v, None, CAUSAL, 0.125)
    dq, dk, dv = kernels.attention_backward(do, q, k, v, out, lse, None, CAUSAL, 0.125)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert np.isfinite(dq).all() and np.isfinite(out).all()
    print((after - before) * 1024)
""")


def test_long_sequence_allocates_no_score_matrix():
    """Forward + backward at B1 H8 L8192 D64 float32: the peak RSS grows by the outputs (out, dq, dk, dv:
    64 MiB) and tile scratch, far below one L x L float32 buffer (256 MiB; 2 GiB for all heads)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (os.path.dirname(os.path.dirname(fastnn.__file__)),
                                                                  os.environ.get("PYTHONPATH")) if p))
    r = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT.replace("CAUSAL", "True")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    grown = int(r.stdout.strip().splitlines()[-1])
    assert grown < 128 * 2 ** 20, f"peak RSS grew by {grown / 2 ** 20:.0f} MiB"
