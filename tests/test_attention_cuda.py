"""The attention family's CUDA kernels (fastnn._C_cuda.attention_forward / attention_backward) against the CPU
module on the same inputs: values, lse and gradients with masks (boolean, additive, key padding), causal
masking (L_q != L_k too), grouped-query heads, non-contiguous inputs and edge sizes; dropout's mask the
same as the CPU's bit for bit; float16 (and bfloat16 when ml_dtypes is installed) on the tensor-core
path (head dims 32/64/128) and on the general path, within half precision of the float32 result.
Marked ``gpu``: skipped without a GPU and cupy (tests/cuda_emu/run_gpu_tests_emulated.sh runs them on the
CPU with the kernels emulated: threads, barriers, shuffles and the wmma fragments)."""
import numpy as np
import pytest

from fastnn import _C, kernels

from gpu_family import TOL, K, cp, host, pytestmark  # noqa: F401


def rel_err(got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape and not np.isnan(got).any()
    fin = np.isfinite(ref)
    assert (got[~fin] == ref[~fin]).all()  # -inf log-sum-exps of fully masked rows
    # relative to the reference, with a floor for results that are zero but for rounding (the gradients of
    # a softmax over one key, say)
    d = max(np.linalg.norm(ref[fin]), 1e-2 * np.sqrt(fin.sum()))
    return np.linalg.norm(got[fin] - ref[fin]) / (d if d > 0 else 1.0)


def dev(a):
    """``a`` on the device with the same order of strides (a transposed view stays one)."""
    if a is None or a.flags.c_contiguous:
        return None if a is None else cp.asarray(a)
    order = np.argsort(a.strides, kind="stable")[::-1]
    return cp.asarray(np.ascontiguousarray(a.transpose(order))).transpose(tuple(np.argsort(order)))



def heads(rng, B, H, L, D, dtype, strided):
    """A (B, H, L, D) array; ``strided``: a (B, L, H, D) buffer seen through a transpose (the layout of
    a projection's output), so the first three dims have non-C strides."""
    if strided:
        return rng.standard_normal((B, L, H, D)).astype(dtype).transpose(0, 2, 1, 3)
    return rng.standard_normal((B, H, L, D)).astype(dtype)


def make_mask(rng, kind, B, Hq, Lq, Lk, dtype):
    if kind == "none":
        return None
    if kind == "bool":  # broadcast over the batch, one row fully masked
        m = rng.random((1, Hq, Lq, Lk)) > 0.3
        m[0, 0, Lq // 2, :] = False
        return m
    if kind == "padding":  # key padding: (B, 1, 1, Lk)
        m = np.ones((B, 1, 1, Lk), bool)
        m[-1, ..., Lk - Lk // 3:] = False
        return m
    return rng.standard_normal((B, 1, Lq, Lk)).astype(dtype)  # additive, broadcast over the heads


def run_both(q, k, v, dout, mask, causal, scale, p=0.0, key=0, offset=0):
    """(forward, backward) results of the CPU module and of the CUDA module (brought back to the host)."""
    ref = _C.attention_forward(q, k, v, mask, causal, scale, p, key, offset)
    got = K.attention_forward(dev(q), dev(k), dev(v), dev(mask), causal, scale, p, key, offset)
    assert got[2] == ref[2]
    ref_b = _C.attention_backward(dout, q, k, v, ref[0], ref[1], mask, causal, scale, p, key, offset)
    got_b = K.attention_backward(dev(dout), dev(q), dev(k), dev(v), got[0], got[1], dev(mask), causal, scale, p,
                                 key, offset)
    return (ref[:2] + ref_b), tuple(host(a) for a in got[:2] + got_b)


SHAPES = [  # B, Hq, Hk, Lq, Lk, D, Dv
    (2, 4, 2, 37, 45, 5, 7),
    (1, 2, 1, 40, 33, 16, 16),
    (1, 3, 3, 1, 1, 8, 3),
    (2, 2, 1, 9, 70, 33, 4),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("mask_kind,causal", [("none", False), ("none", True), ("bool", False), ("padding", True),
                                              ("additive", False)])
def test_attention_matches_cpu(shape, dtype, mask_kind, causal):
    rng = np.random.default_rng(11)
    B, Hq, Hk, Lq, Lk, D, Dv = shape
    q = heads(rng, B, Hq, Lq, D, dtype, strided=True)
    k, v = heads(rng, B, Hk, Lk, D, dtype, False), heads(rng, B, Hk, Lk, Dv, dtype, True)
    dout = heads(rng, B, Hq, Lq, Dv, dtype, True)
    mask = make_mask(rng, mask_kind, B, Hq, Lq, Lk, dtype)
    ref, got = run_both(q, k, v, dout, mask, causal, 0.37)
    for name, g, e in zip(("out", "lse", "dq", "dk", "dv"), got, ref):
        assert g.dtype == e.dtype, name
        assert rel_err(g, e) < TOL[dtype], name


def test_wide_head_dims_run_in_slices():
    """Head dims wider than the 256 columns a warp holds are done in slices (the scores recomputed)."""
    rng = np.random.default_rng(2)
    q, k = heads(rng, 1, 2, 6, 300, np.float64, False), heads(rng, 1, 2, 9, 300, np.float64, False)
    v, dout = heads(rng, 1, 2, 9, 270, np.float64, False), heads(rng, 1, 2, 6, 270, np.float64, False)
    ref, got = run_both(q, k, v, dout, None, False, 0.05)
    for g, e in zip(got, ref):
        assert rel_err(g, e) < 1e-12


@pytest.mark.parametrize("B,Hq,Lq,Lk", [(0, 2, 3, 4), (1, 2, 0, 4), (1, 2, 3, 0)])
def test_empty_sizes(B, Hq, Lq, Lk):
    rng = np.random.default_rng(0)
    q, k, v = (heads(rng, B, Hq, n, 4, np.float32, False) for n in (Lq, Lk, Lk))
    dout = heads(rng, B, Hq, Lq, 4, np.float32, False)
    ref, got = run_both(q, k, v, dout, None, False, 0.5)
    for g, e in zip(got, ref):
        assert g.shape == e.shape and np.array_equal(g, e)  # zeros and -inf where defined


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_dropout_mask_same_bits_as_cpu(dtype):
    """v the identity: out[i, j] = p[i, j] z[i, j], so the kept pattern is read off the output and must be
    exactly the one fastnn.kernels.dropout_mask draws for (B, Hq, Lq, Lk) under the same key and offset."""
    rng = np.random.default_rng(5)
    B, Hq, Hk, Lq, Lk, p, key, offset = 2, 4, 2, 19, 24, 0.3, 2**40 + 7, 12345
    q, k = heads(rng, B, Hq, Lq, 8, dtype, True), heads(rng, B, Hk, Lk, 8, dtype, False)
    v = np.ascontiguousarray(np.broadcast_to(np.eye(Lk, dtype=dtype), (B, Hk, Lk, Lk)))
    dout = heads(rng, B, Hq, Lq, Lk, dtype, False)
    ref, got = run_both(q, k, v, dout, None, False, 0.4, p, key, offset)
    expected = np.empty((B, Hq, Lq, Lk), dtype)
    kernels.dropout_mask(expected, p, key, offset)
    assert np.array_equal(got[0] != 0, expected != 0)
    assert 0.5 < (expected != 0).mean() < 0.9
    for g, e in zip(got, ref):
        assert rel_err(g, e) < TOL[dtype]


HALF = [np.float16]
try:
    import ml_dtypes

    HALF.append(ml_dtypes.bfloat16)
except ImportError:  # bfloat16 needs the optional ml_dtypes package (cupy's bfloat16 comes from it too)
    ml_dtypes = None
HALF_TOL = {"float16": 4e-3, "bfloat16": 3e-2}


@pytest.mark.parametrize("dtype", HALF, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("D,Dv,Lq,Lk,mask_kind,causal,p,strided", [
    (32, 32, 70, 75, "none", False, 0.0, False),    # tensor cores: partial tiles of queries and keys
    (64, 64, 65, 40, "bool", True, 0.2, True),      # causal with Lq > Lk, dropout, scalar loads
    (128, 128, 33, 47, "additive", True, 0.0, False),
    (64, 64, 17, 130, "padding", False, 0.0, False),
    (24, 24, 17, 20, "none", False, 0.0, False),    # general path: a head dim without a tensor-core kernel
    (32, 16, 12, 9, "bool", False, 0.1, True),      # general path: Dv != D
])
def test_half_precision_close_to_float32(dtype, D, Dv, Lq, Lk, mask_kind, causal, p, strided):
    """16-bit storage with float accumulation: the result of the same (rounded) inputs computed in float32
    on the CPU, within the storage format's precision; dropout draws the float32 mask."""
    rng = np.random.default_rng(9)
    B, Hq, Hk, key, offset = 2, 2, 1, 99, 3
    name = np.dtype(dtype).name
    f32 = [heads(rng, B, Hq, Lq, D, np.float32, strided), heads(rng, B, Hk, Lk, D, np.float32, False),
           heads(rng, B, Hk, Lk, Dv, np.float32, strided), heads(rng, B, Hq, Lq, Dv, np.float32, False)]
    low = [a.astype(dtype) for a in f32]
    q, k, v, dout = [a.astype(np.float32) for a in low]  # the values the 16-bit arrays hold
    mask = make_mask(rng, mask_kind, B, Hq, Lq, Lk, np.float32)
    mask_low = mask.astype(dtype) if mask is not None and mask.dtype != bool else mask
    mask32 = mask_low.astype(np.float32) if mask is not None and mask.dtype != bool else mask
    ref = _C.attention_forward(q, k, v, mask32, causal, 0.3, p, key, offset)
    got = K.attention_forward(*[dev(a) for a in low[:3]], dev(mask_low), causal, 0.3, p, key, offset)
    assert got[2] == ref[2]
    assert got[0].dtype == np.dtype(dtype) and got[1].dtype == np.float32
    out = host(got[0]).astype(np.float32)
    assert rel_err(out, ref[0]) < HALF_TOL[name]
    assert rel_err(host(got[1]), ref[1]) < 1e-5
    ref_b = _C.attention_backward(dout, q, k, v, ref[0], ref[1], mask32, causal, 0.3, p, key, offset)
    got_b = K.attention_backward(dev(low[3]), *[dev(a) for a in low[:3]], got[0], got[1], dev(mask_low), causal,
                                 0.3, p, key, offset)
    for g, e in zip(got_b, ref_b):
        assert g.dtype == np.dtype(dtype)
        assert rel_err(host(g).astype(np.float32), e) < 2 * HALF_TOL[name]


def test_kernels_entry_on_device():
    """fastnn.kernels.attention_forward/backward pick the CUDA module for device arrays (any last-dim
    stride: the entry copies such an array)."""
    rng = np.random.default_rng(4)
    q = rng.standard_normal((1, 2, 5, 12)).astype(np.float32)[..., ::2]
    k, v = (rng.standard_normal((1, 1, 7, 6)).astype(np.float32) for _ in range(2))
    mask = rng.random((5, 7)) > 0.2
    out, lse, n = kernels.attention_forward(dev(q), dev(k), dev(v), dev(mask), False, 0.5)
    ref = kernels.attention_forward(q, k, v, mask, False, 0.5)
    assert isinstance(out, cp.ndarray) and n == 0
    assert rel_err(host(out), ref[0]) < 2e-5 and rel_err(host(lse), ref[1]) < 2e-5
    dq, dk, dv = kernels.attention_backward(dev(np.ones_like(ref[0])), dev(q), dev(k), dev(v), out, lse, dev(mask),
                                            False, 0.5)
    rb = kernels.attention_backward(np.ones_like(ref[0]), q, k, v, ref[0], ref[1], mask, False, 0.5)
    for g, e in zip((dq, dk, dv), rb):
        assert rel_err(host(g), e) < 2e-5
