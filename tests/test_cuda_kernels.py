"""fastnn's CUDA kernels against the CPU kernels (fastnn._C) and against cupy / PyTorch on the GPU.

Both native modules take the same calls: the CUDA module (``K`` here) is called exactly as the CPU
module, on cupy arrays. Every test here needs a GPU and cupy: marked ``gpu`` and skipped when
fastnn.backend.cuda_available() is False. Inputs are fresh random draws (never zeros), outputs written
in place are poisoned with NaN first so an element the kernel forgets to write fails the comparison.
"""
import numpy as np
import pytest

import fastnn
import fastnn.cuda
from fastnn import _C, backend, kernels

from gpu_family import TOL, K, cp, host, pytestmark, rel_err  # noqa: F401


def randn(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------- GEMM
GEMM_SHAPES = [(1, 1, 1, 1), (1, 2, 3, 5), (2, 17, 31, 13), (1, 128, 128, 8), (1, 129, 127, 9), (3, 64, 96, 33),
               (1, 257, 255, 131), (2, 1, 300, 7), (1, 300, 1, 19), (1, 7, 5, 1000)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("batch,M,N,Kd", GEMM_SHAPES)
def test_gemm_matches_cpu(rng, dtype, batch, M, N, Kd):
    a = randn(rng, (batch, M, Kd), dtype)
    b = randn(rng, (batch, Kd, N), dtype)
    ref = np.empty((batch, M, N), dtype)
    _C.gemm(a, b, ref)
    out = cp.full((batch, M, N), np.nan, dtype)
    K.gemm(cp.asarray(a), cp.asarray(b), out)
    assert rel_err(host(out), ref) < TOL[dtype] * max(1.0, np.sqrt(Kd) / 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt", "strided", "neg"])
def test_gemm_layouts(rng, dtype, layout):
    batch, M, N, Kd = 2, 67, 45, 38
    A = cp.asarray(randn(rng, (batch, M, Kd), dtype))
    B = cp.asarray(randn(rng, (batch, Kd, N), dtype))
    if layout in ("tn", "tt"):
        A = cp.ascontiguousarray(A.transpose(0, 2, 1)).transpose(0, 2, 1)
    if layout in ("nt", "tt"):
        B = cp.ascontiguousarray(B.transpose(0, 2, 1)).transpose(0, 2, 1)
    if layout == "strided":
        A = cp.asarray(randn(rng, (batch, 2 * M, 3 * Kd), dtype))[:, ::2, ::3]
        B = cp.asarray(randn(rng, (batch, Kd, 2 * N), dtype))[:, :, 1::2]
    if layout == "neg":
        A = cp.asarray(randn(rng, (batch, M, Kd), dtype))[:, ::-1, :]
        B = cp.asarray(randn(rng, (batch, Kd, N), dtype))[::-1, :, ::-1]
    ref = np.matmul(host(A).astype(np.float64), host(B).astype(np.float64))
    out = cp.full((batch, M, N), np.nan, dtype)
    K.gemm(A, B, out)
    assert rel_err(host(out), ref) < TOL[dtype] * 2


def test_gemm_fast_path_is_taken(rng):
    a = cp.asarray(randn(rng, (1, 128, 64), np.float32))
    b = cp.asarray(randn(rng, (1, 64, 256), np.float32))
    assert K.gemm_path(a, b) == "simt-vec"
    at = cp.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1)
    assert K.gemm_path(at, b) == "simt-vec"
    assert K.gemm_path(a[:, :, 1:], b[:, 1:, :]) == "simt"
    assert K.gemm_path(a.astype(cp.float64), b.astype(cp.float64)) == "simt"
    assert K.gemm_path(a, b, True).startswith("tf32")


def test_gemm_alpha_beta_and_nan_not_read(rng):
    a = randn(rng, (2, 33, 21), np.float32)
    b = randn(rng, (2, 21, 40), np.float32)
    c0 = randn(rng, (2, 33, 40), np.float32)
    out = cp.asarray(c0)
    K.gemm(cp.asarray(a), cp.asarray(b), out, 0.5, -2.0)
    assert rel_err(host(out), 0.5 * (a.astype(np.float64) @ b) - 2.0 * c0) < 1e-5
    out = cp.full((2, 33, 40), np.nan, np.float32)  # beta == 0: C must not be read
    K.gemm(cp.asarray(a), cp.asarray(b), out, alpha=1.0, beta=0.0)
    assert rel_err(host(out), a.astype(np.float64) @ b) < 1e-5


def test_gemm_k_zero_scales_out(rng):
    c0 = randn(rng, (1, 5, 6), np.float32)
    out = cp.asarray(c0)
    K.gemm(cp.empty((1, 5, 0), cp.float32), cp.empty((1, 0, 6), cp.float32), out, alpha=1.0, beta=3.0)
    np.testing.assert_allclose(host(out), 3.0 * c0, rtol=1e-6)


def test_gemm_broadcast_batch_and_large_grid(rng):
    # Batch stride 0 on b, and more batches than a grid dimension holds (65535).
    batch = 70000
    a = cp.asarray(randn(rng, (batch, 2, 3), np.float32))
    b1 = cp.asarray(randn(rng, (1, 3, 2), np.float32))
    b = cp.broadcast_to(b1, (batch, 3, 2))
    out = cp.full((batch, 2, 2), np.nan, cp.float32)
    K.gemm(a, b, out)
    ref = host(a).astype(np.float64) @ host(b1)[0].astype(np.float64)
    assert rel_err(host(out), ref) < 1e-5


def test_gemm_many_row_tiles(rng):
    # More 128-row tiles than gridDim.y allows: the kernel loops over row tiles.
    M = 65536 * 128 + 5
    a = cp.asarray(rng.standard_normal((1, M, 1)).astype(np.float32))
    b = cp.asarray(np.array([[[2.0]]], np.float32))
    out = cp.full((1, M, 1), np.nan, cp.float32)
    K.gemm(a, b, out)
    assert float(cp.abs(out - 2 * a).max()) == 0.0


@pytest.mark.parametrize("M,N,K_", [(256, 256, 256), (100, 130, 70), (1, 1, 1)])
def test_gemm_tf32(rng, M, N, K_):
    a = cp.asarray(randn(rng, (1, M, K_), np.float32))
    b = cp.asarray(randn(rng, (1, K_, N), np.float32))
    out = cp.full((1, M, N), np.nan, cp.float32)
    K.gemm(a, b, out, 1.0, 0.0, True)
    ref = host(a).astype(np.float64) @ host(b).astype(np.float64)
    err = rel_err(host(out), ref)
    assert err < 3e-3, err  # TF32 keeps 10 mantissa bits
    if int(cp.cuda.Device().compute_capability) >= 80 and K_ > 16:
        assert err > 1e-7  # really the tensor-core path, not float32


def test_gemm_vs_cupy_cublas(rng):
    a = cp.asarray(randn(rng, (4, 200, 150), np.float32))
    b = cp.asarray(randn(rng, (4, 150, 170), np.float32))
    out = cp.empty((4, 200, 170), cp.float32)
    K.gemm(a, b, out)
    ref = cp.matmul(a.astype(cp.float64), b.astype(cp.float64))
    assert float(cp.linalg.norm(out - ref) / cp.linalg.norm(ref)) < 2e-6 * 30


def test_gemm_on_non_default_stream(rng):
    a = cp.asarray(randn(rng, (1, 300, 200), np.float32))
    b = cp.asarray(randn(rng, (1, 200, 100), np.float32))
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        out = cp.full((1, 300, 100), np.nan, cp.float32)
        K.gemm(a, b, out)
    s.synchronize()
    assert rel_err(host(out), host(a).astype(np.float64) @ host(b)) < 1e-5


def test_kernels_matmul_on_gpu(rng):
    a = randn(rng, (3, 1, 20, 7), np.float32)
    b = randn(rng, (4, 7, 9), np.float32)
    got = kernels.matmul(cp.asarray(a), cp.asarray(b))
    assert isinstance(got, cp.ndarray)
    assert rel_err(host(got), np.matmul(a.astype(np.float64), b)) < 1e-5


def test_kernels_matmul_out_on_gpu(rng):
    a = cp.asarray(randn(rng, (2, 5, 7), np.float64))
    b = cp.asarray(randn(rng, (7, 3), np.float64))
    out = cp.full((2, 5, 3), np.nan, np.float64)
    assert kernels.matmul(a, b, out=out) is out
    assert rel_err(host(out), np.matmul(host(a), host(b))) < 1e-12
    x = cp.asarray(randn(rng, (4, 4), np.float64))
    want = np.matmul(host(x), host(x))
    kernels.matmul(x, x, out=x)     # out overlaps both operands: computed through a temporary
    assert rel_err(host(x), want) < 1e-12


def test_gemm_errors_on_gpu(rng):
    a = cp.ones((1, 2, 3), cp.float32)
    with pytest.raises(TypeError, match="'b'"):
        K.gemm(a, np.ones((1, 3, 2), np.float32), cp.empty((1, 2, 2), cp.float32))
    with pytest.raises(TypeError, match="same dtype"):
        K.gemm(a, cp.ones((1, 3, 2), cp.float64), cp.empty((1, 2, 2), cp.float32))
    with pytest.raises(ValueError, match="shapes do not agree"):
        K.gemm(a, cp.ones((1, 4, 2), cp.float32), cp.empty((1, 2, 2), cp.float32))
    with pytest.raises(ValueError, match="overlaps"):
        K.gemm(a, a.reshape(1, 3, 2), a.reshape(1, 3, 2)[:, :2, :])
    host_arr = np.ones((1, 2, 2), np.float32)

    class HostMemoryClaimingToBeDevice:
        __cuda_array_interface__ = {"shape": (1, 2, 2), "typestr": "<f4", "data": (host_arr.ctypes.data, False),
                                    "strides": None, "version": 3}
    with pytest.raises(ValueError, match="'out' is not CUDA device memory"):
        K.gemm(a, cp.ones((1, 3, 2), cp.float32), HostMemoryClaimingToBeDevice())


# ---------------------------------------------------------------------------- convolution
CONV_CASES = [
    # N, C, H, W, OC, KH, KW, stride, padding (t, b, l, r), dilation, groups
    (2, 3, 9, 11, 4, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (3, 4, 13, 7, 6, 3, 2, (2, 3), (1, 0, 2, 1), (1, 2), 2),
    (2, 6, 8, 8, 6, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 6),
    (1, 5, 17, 19, 7, 5, 5, (2, 2), (2, 2, 2, 2), (2, 1), 1),
    (4, 16, 12, 12, 32, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (2, 8, 31, 29, 130, 3, 3, (1, 1), (0, 1, 0, 1), (1, 1), 2),
]


def _conv_inputs(rng, case, dtype):
    N, C, H, W, OC, KH, KW, stride, padding, dilation, groups = case
    x = randn(rng, (N, C, H, W), dtype)
    w = randn(rng, (OC, C // groups, KH, KW), dtype)
    bias = randn(rng, (OC,), dtype)
    return x, w, bias


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=[f"cc{i}" for i in range(len(CONV_CASES))])
def test_conv2d_forward_and_grads_match_cpu(rng, dtype, case):
    N, C, H, W, OC, KH, KW, stride, padding, dilation, groups = case
    x, w, bias = _conv_inputs(rng, case, dtype)
    ref = _C.conv2d_forward(x, w, bias, list(stride), list(padding), list(dilation), groups)
    got = K.conv2d_forward(cp.asarray(x), cp.asarray(w), cp.asarray(bias), stride, padding, dilation, groups)
    tol = TOL[dtype] * 10
    assert rel_err(host(got), ref) < tol
    dy = randn(rng, ref.shape, dtype)
    p2 = (padding[0], padding[2])
    ref_dx = _C.conv2d_backward_input(dy, w, [H, W], list(stride), list(p2), list(dilation), groups)
    got_dx = K.conv2d_backward_input(cp.asarray(dy), cp.asarray(w), (H, W), stride, p2, dilation, groups)
    assert rel_err(host(got_dx), ref_dx) < tol
    ref_dw = _C.conv2d_backward_weight(x, dy, [KH, KW], list(stride), list(p2), list(dilation), groups)
    got_dw = K.conv2d_backward_weight(cp.asarray(x), cp.asarray(dy), (KH, KW), stride, p2, dilation, groups)
    assert rel_err(host(got_dw), ref_dw) < tol


def test_conv2d_non_contiguous_inputs(rng):
    x = cp.asarray(randn(rng, (3, 10, 12, 4), np.float32)).transpose(0, 3, 1, 2)  # NHWC memory
    w = cp.asarray(randn(rng, (5, 4, 3, 3), np.float32))[:, :, ::-1, :]
    ref = _C.conv2d_forward(host(x), host(w), None, [1, 1], [1, 1, 1, 1], [1, 1], 1)
    got = K.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert rel_err(host(got), ref) < 2e-5


def test_conv2d_weight_grad_split_k(rng):
    # A long reduction (batch * OH * OW) with few output tiles takes the split-K path.
    x = randn(rng, (16, 3, 40, 40), np.float32)
    dy = randn(rng, (16, 8, 40, 40), np.float32)
    ref = _C.conv2d_backward_weight(x, dy, [3, 3], [1, 1], [1, 1], [1, 1], 1)
    dw = K.conv2d_backward_weight(cp.asarray(x), cp.asarray(dy), (3, 3), (1, 1), (1, 1), (1, 1), 1)
    assert rel_err(host(dw), ref) < 1e-5


def test_conv2d_weight_grad_deterministic(rng):
    """cudnn.deterministic: the split-K shape above is computed unsplit, the same bits on every run."""
    import fastnn.backends as fb
    x = cp.asarray(randn(rng, (16, 3, 40, 40), np.float32))
    dy = cp.asarray(randn(rng, (16, 8, 40, 40), np.float32))
    ref = _C.conv2d_backward_weight(host(x), host(dy), [3, 3], [1, 1], [1, 1], [1, 1], 1)
    fb.cudnn.deterministic = True
    try:
        # the switch reaches the kernel through fastnn.kernels ...
        runs = [host(kernels.conv2d_backward_weight(x, dy, (3, 3), (1, 1), (1, 1), (1, 1), 1)) for _ in range(3)]
    finally:
        fb.cudnn.deterministic = False
    # ... as the native module's argument
    runs.append(host(K.conv2d_backward_weight(x, dy, (3, 3), (1, 1), (1, 1), (1, 1), 1, deterministic=True)))
    assert rel_err(runs[0], ref) < 1e-5
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


def test_conv_transpose2d_through_backward_input_bias(rng):
    # conv_transpose2d(x, w, bias) with output_padding: grad_input larger than the forward needs.
    x = randn(rng, (2, 4, 5, 6), np.float32)
    w = randn(rng, (4, 3, 3, 3), np.float32)
    bias = randn(rng, (3,), np.float32)
    H, W = (5 - 1) * 2 - 2 + 3 + 1, (6 - 1) * 2 - 2 + 3 + 1
    gx, gw, gbias = cp.asarray(x), cp.asarray(w), cp.asarray(bias)
    out = K.conv2d_backward_input(gx, gw, (H, W), (2, 2), (1, 1), (1, 1), 1, bias=gbias)
    ref = _C.conv2d_backward_input(x, w, [H, W], [2, 2], [1, 1], [1, 1], 1) + bias[None, :, None, None]
    assert rel_err(host(out), ref) < 2e-5
    assert rel_err(_C.conv2d_backward_input(x, w, [H, W], [2, 2], [1, 1], [1, 1], 1, bias=bias), ref) < 1e-6


def test_conv2d_vs_torch_cudnn(rng, torch):
    if not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA")
    x = randn(rng, (4, 16, 20, 20), np.float32)
    w = randn(rng, (32, 16, 3, 3), np.float32)
    tx = torch.tensor(x, device="cuda", dtype=torch.float64)
    tw = torch.tensor(w, device="cuda", dtype=torch.float64)
    ref = torch.nn.functional.conv2d(tx, tw, stride=2, padding=1).cpu().numpy()
    got = K.conv2d_forward(cp.asarray(x), cp.asarray(w), None, (2, 2), (1, 1, 1, 1), (1, 1), 1)
    assert rel_err(host(got), ref) < 2e-5


def test_conv2d_tf32_flag(rng):
    x = cp.asarray(randn(rng, (2, 32, 16, 16), np.float32))
    w = cp.asarray(randn(rng, (64, 32, 3, 3), np.float32))
    out = K.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1, True)
    ref = _C.conv2d_forward(host(x).astype(np.float64), host(w).astype(np.float64), None, [1, 1], [1, 1, 1, 1],
                            [1, 1], 1)
    assert rel_err(host(out), ref) < 3e-3


def test_conv2d_empty_batch():
    x = cp.empty((0, 3, 5, 5), cp.float32)
    w = cp.ones((2, 3, 3, 3), cp.float32)
    assert K.conv2d_forward(x, w, None, (1, 1), (0, 0, 0, 0), (1, 1), 1).shape == (0, 2, 3, 3)
    dw = K.conv2d_backward_weight(x, cp.empty((0, 2, 3, 3), cp.float32), (3, 3), (1, 1), (0, 0), (1, 1), 1)
    assert float(cp.abs(dw).max()) == 0.0


def test_conv2d_errors_on_gpu():
    x = cp.ones((1, 3, 5, 5), cp.float32)
    with pytest.raises(ValueError, match="channels"):
        K.conv2d_forward(x, cp.ones((2, 4, 3, 3), cp.float32), None, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        K.conv2d_forward(x, cp.ones((2, 3, 7, 7), cp.float32), None, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match="groups"):
        K.conv2d_forward(x, cp.ones((2, 1, 3, 3), cp.float32), None, (1, 1), (0, 0, 0, 0), (1, 1), 3)


# ---------------------------------------------------------------------------- pooling
POOL_CASES = [
    # shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((1, 2, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ((2, 1, 11, 5), (3, 2), (1, 2), (1, 0), (2, 1), False),
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0), (1, 1), False),
    ((3, 4, 13, 13), (4, 4), (3, 3), (2, 2), (1, 1), True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[f"pc{i}" for i in range(len(POOL_CASES))])
def test_max_pool2d_matches_cpu(rng, dtype, case):
    shape, k, s, p, d, ceil = case
    x = randn(rng, shape, dtype)
    ref, ref_idx = _C.max_pool2d(x, list(k), list(s), list(p), list(d), ceil, True)
    got, idx = K.max_pool2d(cp.asarray(x), k, s, p, d, ceil, True)
    np.testing.assert_array_equal(host(got), ref)
    np.testing.assert_array_equal(host(idx), ref_idx)
    dy = randn(rng, ref.shape, dtype)
    ref_dx = _C.max_pool2d_backward(dy, ref_idx, list(shape[2:]))
    got_dx = K.max_pool2d_backward(cp.asarray(dy), idx, shape[2:])
    assert rel_err(host(got_dx), ref_dx) < TOL[dtype]


def test_max_pool2d_nan_wins(rng):
    x = randn(rng, (1, 1, 4, 4), np.float32)
    x[0, 0, 1, 2] = np.nan
    got, idx = K.max_pool2d(cp.asarray(x), (2, 2), (2, 2), (0, 0), (1, 1), False, True)
    assert np.isnan(host(got)[0, 0, 0, 1]) and int(idx[0, 0, 0, 1]) == 1 * 4 + 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[f"pc{i}" for i in range(len(POOL_CASES))])
@pytest.mark.parametrize("include_pad,divisor", [(True, 0), (False, 0), (True, 3)])
def test_avg_pool2d_matches_cpu(rng, dtype, case, include_pad, divisor):
    shape, k, s, p, _, ceil = case
    x = randn(rng, shape, dtype)
    ref = _C.avg_pool2d(x, list(k), list(s), list(p), ceil, include_pad, divisor)
    got = K.avg_pool2d(cp.asarray(x), k, s, p, ceil, include_pad, divisor)
    assert rel_err(host(got), ref) < TOL[dtype]
    dy = randn(rng, ref.shape, dtype)
    ref_dx = _C.avg_pool2d_backward(dy, list(shape[2:]), list(k), list(s), list(p), ceil, include_pad, divisor)
    got_dx = K.avg_pool2d_backward(cp.asarray(dy), shape[2:], k, s, p, ceil, include_pad, divisor)
    assert rel_err(host(got_dx), ref_dx) < TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape,out", [((2, 3, 10, 7), (3, 4)), ((1, 1, 5, 5), (5, 5)), ((1, 2, 3, 8), (7, 1)),
                                       ((2, 2, 13, 11), (1, 1))])
def test_adaptive_pools_match_cpu(rng, dtype, shape, out):
    x = randn(rng, shape, dtype)
    ref = _C.adaptive_avg_pool2d(x, list(out))
    got = K.adaptive_avg_pool2d(cp.asarray(x), out)
    assert rel_err(host(got), ref) < TOL[dtype]
    dy = randn(rng, ref.shape, dtype)
    assert rel_err(host(K.adaptive_avg_pool2d_backward(cp.asarray(dy), shape[2:])),
                   _C.adaptive_avg_pool2d_backward(dy, list(shape[2:]))) < TOL[dtype]
    ref_m, ref_i = _C.adaptive_max_pool2d(x, list(out), True)
    got_m, got_i = K.adaptive_max_pool2d(cp.asarray(x), out, True)
    np.testing.assert_array_equal(host(got_m), ref_m)
    np.testing.assert_array_equal(host(got_i), ref_i)


def test_pool_non_contiguous_and_torch(rng, torch):
    x = cp.asarray(randn(rng, (2, 9, 11, 3), np.float32)).transpose(0, 3, 1, 2)
    got, _ = K.max_pool2d(x, (3, 3), (2, 2), (1, 1), (1, 1), False, True)
    ref, _ = _C.max_pool2d(host(x), [3, 3], [2, 2], [1, 1], [1, 1], False, True)
    np.testing.assert_array_equal(host(got), ref)
    if torch.cuda.is_available():
        tx = torch.tensor(host(x), device="cuda")
        np.testing.assert_allclose(host(K.avg_pool2d(x, (2, 2), (2, 2), (0, 0), False, True, 0)),
                                   torch.nn.functional.avg_pool2d(tx, 2).cpu().numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------- resampling
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("mode,align", [("nearest", False), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("shape,out,scales", [((2, 3, 5, 7), (10, 14), (0.0, 0.0)), ((1, 2, 4, 4), (9, 3), (0.0, 0.0)),
                                              ((1, 1, 3, 5), (7, 11), (2.5, 2.2)), ((1, 1, 1, 1), (4, 4), (0.0, 0.0))])
def test_upsample_matches_cpu(rng, dtype, mode, align, shape, out, scales):
    x = randn(rng, shape, dtype)
    ref = _C.upsample2d(x, mode, list(out), align, list(scales))
    got = K.upsample2d(cp.asarray(x), mode, out, align, scales)
    assert rel_err(host(got), ref) < TOL[dtype]
    dy = randn(rng, ref.shape, dtype)
    ref_dx = _C.upsample2d_backward(dy, mode, list(shape[2:]), align, list(scales))
    got_dx = K.upsample2d_backward(cp.asarray(dy), mode, shape[2:], align, scales)
    assert rel_err(host(got_dx), ref_dx) < TOL[dtype] * 10


# ---------------------------------------------------------------------------- module surface
def test_fastnn_cuda_queries():
    assert fastnn.cuda.is_available()
    assert fastnn.cuda.device_count() >= 1
    assert isinstance(fastnn.cuda.get_device_name(), str)
    assert fastnn.cuda.current_device() == cp.cuda.Device().id
    fastnn.cuda.manual_seed(1)
    fastnn.cuda.synchronize()


def test_allow_tf32_switch_reaches_the_kernels(rng):
    import fastnn.backends as fb
    a = cp.asarray(randn(rng, (1, 192, 160), np.float32))
    b = cp.asarray(randn(rng, (1, 160, 144), np.float32))
    ref = host(a).astype(np.float64) @ host(b).astype(np.float64)
    out = cp.empty((1, 192, 144), cp.float32)
    kernels.matmul(a, b, out=out)
    exact = rel_err(host(out), ref)
    try:
        fb.cuda.matmul.allow_tf32 = True
        kernels.matmul(a, b, out=out)
    finally:
        fb.cuda.matmul.allow_tf32 = False
    tf32 = rel_err(host(out), ref)
    assert exact < 1e-6 and 1e-6 < tf32 < 3e-3


# ---------------------------------------------------------------------------- fused optimiser updates

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", [
    dict(cls="Adam"), dict(cls="Adam", weight_decay=0.1, amsgrad=True), dict(cls="Adam", maximize=True, betas=(0.3, 0.9)),
    dict(cls="AdamW"), dict(cls="AdamW", weight_decay=0.5, amsgrad=True, maximize=True, lr=0.05),
    dict(cls="SGD", lr=0.1), dict(cls="SGD", lr=0.1, momentum=0.9), dict(cls="SGD", lr=0.1, momentum=0.9, nesterov=True,
                                                                         weight_decay=0.01),
    dict(cls="SGD", lr=0.05, momentum=0.5, dampening=0.3, maximize=True),
], ids=["adam", "adam-l2-amsgrad", "adam-maximize-lowbeta", "adamw", "adamw-amsgrad-maximize", "sgd", "sgd-momentum",
        "sgd-nesterov-l2", "sgd-dampening-maximize"])
def test_fused_optimizers_equal_the_cpu_update_bitwise(cfg, dtype, monkeypatch):
    """On the GPU Adam/AdamW and SGD run one fused kernel per parameter; its correctly rounded operations in
    the array operations' order give the CPU's parameters and state bit for bit (the CPU runs the array
    operations here; tests/test_optim_fused.py shows the CPU's fused kernel equal to them)."""
    cfg = dict(cfg)
    cls = getattr(fastnn.optim, cfg.pop("cls"))
    calls = []
    kernel = "sgd_step" if cls is fastnn.optim.SGD else "adam_step"
    real = getattr(kernels, kernel)
    monkeypatch.setattr(kernels, kernel, lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(0)
    shapes = [(7, 5), (33,), (2, 3, 4), ()]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(4)]
    results = {}
    for dev in ("cpu", "cuda"):
        monkeypatch.setattr(fastnn.optim.optimizer, "_FUSED", dev == "cuda")
        params = [fastnn.tensor(a, device=dev, requires_grad=True) for a in init]
        opt = cls(params, **cfg)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = fastnn.tensor(g, device=dev)
            opt.step()
        results[dev] = ([p.detach().cpu().numpy() for p in params],
                        [v.cpu().numpy() for p in params for k, v in sorted(opt.state[p].items()) if k != "step"])
    assert len(calls) == 4 * len(shapes)
    for a, b in zip(results["cpu"][0] + results["cpu"][1], results["cuda"][0] + results["cuda"][1]):
        np.testing.assert_array_equal(b, a)


def test_fused_sgd_refuses_a_missing_buffer():
    p = cp.zeros(4, cp.float64)
    sc = dict(l2=0.0, momentum=0.9, one_minus_dampening=1.0, lr=0.1, dampened=False, nesterov=False, maximize=False,
              first=True)
    with pytest.raises(ValueError, match="momentum_buffer"):
        K.sgd_step(p, cp.zeros(4, cp.float64), None, sc)
    with pytest.raises(ValueError, match="momentum_buffer"):
        K.sgd_step(p, cp.zeros(4, cp.float64), cp.zeros(4, cp.float64), dict(sc, momentum=0.0))


def test_fused_adam_refuses_mismatched_arrays():
    p = cp.zeros(6, cp.float32)
    sc = dict(l2=0.0, decay=1.0, w=0.1, one_minus_w=0.9, beta2=0.999, one_minus_beta2=0.001,
              bias_correction2_sqrt=0.03, eps=1e-8, step_size=0.01, lerp_low=True, maximize=False, amsgrad=False)
    with pytest.raises(ValueError, match="'exp_avg' has shape"):
        K.adam_step(p, cp.zeros(6, cp.float32), cp.zeros(5, cp.float32), cp.zeros(6, cp.float32), None, sc)
    with pytest.raises(TypeError, match="'param' \\(float32\\) and 'grad' \\(float64\\) must have the same dtype"):
        K.adam_step(p, cp.zeros(6, cp.float64), cp.zeros(6, cp.float32), cp.zeros(6, cp.float32), None, sc)
    with pytest.raises(ValueError, match="contiguous"):
        K.adam_step(p, cp.zeros(12, cp.float32)[::2], cp.zeros(6, cp.float32), cp.zeros(6, cp.float32), None, sc)
    with pytest.raises(ValueError, match="max_exp_avg_sq"):
        K.adam_step(p, cp.zeros(6, cp.float32), cp.zeros(6, cp.float32), cp.zeros(6, cp.float32), None,
                    dict(sc, amsgrad=True))
    with pytest.raises(ValueError, match="overlap|alias"):
        K.adam_step(p, cp.zeros(6, cp.float32), p, cp.zeros(6, cp.float32), None, sc)


# ---------------------------------------------------------------------------- word2vec
def _w2v_case(dtype, sg, cbow_mean):
    rng = np.random.default_rng(11)
    V, D = 23, 17
    lengths = [30, 20, 1, 0, 12]
    tokens = rng.integers(0, V, sum(lengths)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    keep = rng.uniform(0.4, 1.0, V)
    w = rng.integers(1, 30, V) ** 0.75
    cum = np.round(np.cumsum(w) / w.sum() * 2.0 ** 32).astype(np.int64)
    syn0 = (rng.random((V, D)) - 0.5).astype(dtype)
    syn1 = (rng.standard_normal((V, D)) * 0.3).astype(dtype)
    args = (3, 4, sg, cbow_mean, 1e-3, 1e-4, 0, 63, 12345, 77)
    return syn0, syn1, tokens, offsets, keep, cum, args


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sg, cbow_mean", [(True, True), (False, True), (False, False)])
def test_word2vec_matches_cpu(dtype, sg, cbow_mean):
    """The same draws and the same first-order update as the CPU kernel on one thread: the GPU's threads
    update the tables in another order (Hogwild), which changes the result by O(alpha^2) only."""
    syn0, syn1, tokens, offsets, keep, cum, args = _w2v_case(dtype, sg, cbow_mean)
    c0, c1 = syn0.copy(), syn1.copy()
    used, kept, loss = _C.word2vec_train(c0, c1, tokens, offsets, keep, cum, *args, threads=1, compute_loss=True)
    g0, g1 = cp.asarray(syn0), cp.asarray(syn1)
    # strided token ids on the device too
    strided = cp.zeros((len(tokens), 2), np.int64)
    strided[:, 0] = cp.asarray(tokens)
    r = K.word2vec_train(g0, g1, strided[:, 0], cp.asarray(offsets), cp.asarray(keep), cp.asarray(cum), *args,
                         compute_loss=True)
    assert r[0] == used and r[1] == kept
    assert r[2] == pytest.approx(loss, rel=1e-3)
    assert rel_err(host(g0) - syn0, c0 - syn0) < 2e-2
    assert rel_err(host(g1) - syn1, c1 - syn1) < 2e-2


def test_word2vec_errors_on_gpu():
    syn0, syn1, tokens, offsets, keep, cum, args = _w2v_case(np.float32, True, True)
    bad = tokens.copy()
    bad[5] = 23
    with pytest.raises(ValueError, match=r"'tokens' holds word ids outside \[0, 23\)"):
        K.word2vec_train(cp.asarray(syn0), cp.asarray(syn1), cp.asarray(bad), cp.asarray(offsets), None,
                         cp.asarray(cum), *args)
    with pytest.raises(ValueError, match="'offsets'"):
        K.word2vec_train(cp.asarray(syn0), cp.asarray(syn1), cp.asarray(tokens), cp.asarray(offsets[::-1].copy()),
                         None, cp.asarray(cum), *args)
    with pytest.raises(ValueError, match="'keep_prob' must hold probabilities"):
        K.word2vec_train(cp.asarray(syn0), cp.asarray(syn1), cp.asarray(tokens), cp.asarray(offsets),
                         cp.asarray(keep * 3), cp.asarray(cum), *args)


def test_word2vec_model_trains_on_the_gpu():
    import fastnn.models
    docs = [["a", "b", "c", "d"] * 5, ["x", "y", "z"] * 6] * 20
    m = fastnn.models.Word2Vec(docs, vector_size=8, min_count=1, epochs=3, workers=1, device="cuda", sample=0)
    assert isinstance(m.wv.vectors, np.ndarray) and m.wv.vectors.shape == (7, 8) and np.isfinite(m.wv.vectors).all()
# ---------------------------------------------------------------------------- segment
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_segment_kernels_match_cpu(rng, dtype, itype):
    for num, d, segs in [(1, 1, 1), (9, 5, 0), (23, 17, 11)]:
        src = randn(rng, (num, d), dtype)
        lens = rng.integers(0, 5, segs)
        ids = rng.integers(0, num, int(lens.sum())).astype(itype)
        off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        g_src, g_ids, g_off = cp.asarray(src), cp.asarray(ids), cp.asarray(off)
        np.testing.assert_array_equal(host(K.gather_rows(g_src, g_ids)), _C.gather_rows(src, ids))
        w = randn(rng, len(ids), dtype)
        for mode, weights in [("sum", None), ("sum", w), ("mean", None), ("max", None)]:
            skip = int(ids[0]) if len(ids) else -1
            out, arg = K.segment_reduce(g_src, g_ids, g_off, mode, None if weights is None else cp.asarray(weights),
                                        skip)
            ref, rarg = _C.segment_reduce(src, ids, off, mode, weights, skip)
            assert rel_err(host(out), ref) < TOL[dtype]
            if mode == "max":
                np.testing.assert_array_equal(host(arg), rarg)
                gy = randn(rng, ref.shape, dtype)
                assert rel_err(host(K.segment_max_backward(cp.asarray(gy), arg, num)),
                               _C.segment_max_backward(gy, rarg, num)) < TOL[dtype]
        for a, b in zip(K.index_coalesce(g_ids, num, 2), _C.index_coalesce(ids, num, 2)):
            np.testing.assert_array_equal(host(a), b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_segment_row_updates_match_cpu(rng, dtype):
    table = randn(rng, (40, 7), dtype) * 2
    ids = np.array([0, 3, 17, 39], np.int64)
    rows = randn(rng, (4, 7), dtype)
    a, b = table.copy(), cp.asarray(table)
    _C.index_add_rows(a, ids, rows, -0.3)
    K.index_add_rows(b, cp.asarray(ids), cp.asarray(rows), -0.3)
    assert rel_err(host(b), a) < TOL[dtype]
    for p in (2.0, 1.0, 3.0, np.inf):
        a, b = table.copy(), cp.asarray(table)
        _C.rows_renorm(a, ids, 1.0, p)
        K.rows_renorm(b, cp.asarray(ids), 1.0, p)
        assert rel_err(host(b), a) < 1e-5
    m, v = np.abs(randn(rng, (40, 7), dtype)), np.abs(randn(rng, (40, 7), dtype))
    sc = dict(one_minus_beta1=0.1, one_minus_beta2=0.001, eps=1e-8, neg_step_size=-0.01, maximize=False)
    pa, ma, va = table.copy(), m.copy(), v.copy()
    pb, mb, vb = cp.asarray(table), cp.asarray(m), cp.asarray(v)
    _C.sparse_adam_step(pa, ma, va, ids, rows, sc)
    K.sparse_adam_step(pb, mb, vb, cp.asarray(ids), cp.asarray(rows), sc)
    for got, ref in ((pb, pa), (mb, ma), (vb, va)):
        assert rel_err(host(got), ref) < TOL[dtype]


def test_segment_errors_on_gpu():
    src = cp.zeros((5, 3), cp.float32)
    with pytest.raises(IndexError, match="argument 'index' holds 5 at position 1"):
        K.gather_rows(src, cp.asarray(np.array([0, 5], np.int64)))
    with pytest.raises(ValueError, match="strictly increasing"):
        K.index_add_rows(src, cp.asarray(np.array([2, 1], np.int64)), cp.zeros((2, 3), cp.float32))
    with pytest.raises(ValueError, match="offsets"):
        K.segment_reduce(src, cp.asarray(np.array([0, 1], np.int64)), cp.asarray(np.array([0, 3], np.int64)), "sum")


def test_embedding_layers_on_gpu(rng):
    w = randn(rng, (30, 6), np.float32)
    ids = rng.integers(0, 30, (4, 5))
    for sparse in (False, True):
        gpu = fastnn.nn.Embedding.from_pretrained(fastnn.tensor(w, device="cuda"), freeze=False, sparse=sparse)
        cpu = fastnn.nn.Embedding.from_pretrained(fastnn.tensor(w), freeze=False, sparse=sparse)
        yg, yc = gpu(fastnn.tensor(ids, device="cuda")), cpu(fastnn.tensor(ids))
        assert rel_err(host(yg._data), yc.detach().numpy()) < 1e-6
        (yg ** 2).sum().backward()
        (yc ** 2).sum().backward()
        gg = gpu.weight.grad.to_dense() if sparse else gpu.weight.grad
        gc = cpu.weight.grad.to_dense() if sparse else cpu.weight.grad
        assert rel_err(host(gg._data), gc.numpy()) < 1e-5
