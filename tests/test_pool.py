"""Pooling kernels and ops against PyTorch and numpy: max/avg (ceil_mode, padding, dilation, count_include_pad,
divisor_override), adaptive avg/max, indices, backward, both CPU paths, gradcheck, bad inputs."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import kernels

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# (shape, kernel, stride, padding, dilation, ceil_mode)
CONFIGS = [
    ((2, 3, 9, 11), 3, 2, 1, 1, True),
    ((2, 3, 8, 16), 2, 2, 0, 1, False),      # the AVX2 2x2 path with a vector tail
    ((1, 2, 17, 35), 2, 2, 0, 1, False),     # odd sizes: the last row/column is not pooled
    ((2, 2, 10, 9), 3, 1, 1, 2, False),      # dilation
    ((2, 2, 7, 7), 2, 3, 1, 1, True),        # stride > kernel, ceil window starting in the padding
    ((1, 1, 5, 5), 4, 3, 2, 1, True),
    ((1, 3, 6, 13), (2, 3), (1, 2), (1, 0), (1, 1), True),
    ((1, 1, 1, 1), 1, 1, 0, 1, False),
]


def _to_t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_matches_torch(cpu_path, dtype):
    rng = np.random.default_rng(0)
    for shape, k, s, p, d, cm in CONFIGS:
        x = rng.standard_normal(shape).astype(dtype)
        fx = fastnn.tensor(x, requires_grad=True)
        tx = _to_t(x, True)
        y, idx = F.max_pool2d(fx, k, s, p, d, cm, return_indices=True)
        ty, tidx = TF.max_pool2d(tx, k, s, p, d, cm, return_indices=True)
        assert tuple(y.shape) == tuple(ty.shape)
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
        y.backward(fastnn.tensor(g))
        ty.backward(_to_t(g))
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_matches_torch(cpu_path, dtype):
    rng = np.random.default_rng(1)
    for shape, k, s, p, d, cm in CONFIGS:
        if d != 1:
            continue
        for cip, div in ((True, None), (False, None), (True, 3)):
            x = rng.standard_normal(shape).astype(dtype)
            fx = fastnn.tensor(x, requires_grad=True)
            tx = _to_t(x, True)
            y = F.avg_pool2d(fx, k, s, p, cm, cip, div)
            ty = TF.avg_pool2d(tx, k, s, p, cm, cip, div)
            np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
            g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
            y.backward(fastnn.tensor(g))
            ty.backward(_to_t(g))
            np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_pool_numpy_reference():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 10, 14)).astype(np.float32)
    blocks = x.reshape(3, 4, 5, 2, 7, 2)
    y, idx = kernels.max_pool2d(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(y, blocks.max(axis=(3, 5)))
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(3, 4, -1), idx.reshape(3, 4, -1), 2).reshape(y.shape),
                                  y)
    np.testing.assert_allclose(kernels.avg_pool2d(x, (2, 2), (2, 2)), blocks.mean(axis=(3, 5)), rtol=1e-6, atol=1e-6)


def test_max_pool_nan_propagates_and_non_contiguous(cpu_path):
    x = np.arange(2 * 3 * 8 * 20, dtype=np.float32).reshape(2, 3, 8, 20)[:, :, :, ::2]  # non-contiguous
    x = x.copy()
    x[0, 0, 1, 1] = np.nan
    xv = np.ascontiguousarray(x).transpose(0, 1, 3, 2)  # a transposed view
    y = F.max_pool2d(fastnn.from_numpy(xv), 2)
    ref = TF.max_pool2d(torch.tensor(xv), 2)
    np.testing.assert_array_equal(y.numpy(), ref.numpy())
    assert np.isnan(y.numpy()[0, 0, 0, 0])


@pytest.mark.parametrize("out", [(5, 7), (1, 1), (13, 10), (4, 3), (None, 2), 6])
def test_adaptive_pools_match_torch(out):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 13, 10))
    for fn, tfn in ((F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d), (F.adaptive_max_pool2d, TF.adaptive_max_pool2d)):
        fx = fastnn.tensor(x, requires_grad=True)
        tx = _to_t(x, True)
        y, ty = fn(fx, out), tfn(tx, out)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(tuple(ty.shape))
        y.backward(fastnn.tensor(g))
        ty.backward(_to_t(g))
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    y, idx = F.adaptive_max_pool2d(fastnn.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), TF.adaptive_max_pool2d(_to_t(x), out, return_indices=True)[1].numpy())


def test_1d_pools_unbatched_and_unpool():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 17))
    np.testing.assert_allclose(F.max_pool1d(fastnn.tensor(x), 3, 2, 1).numpy(), TF.max_pool1d(_to_t(x), 3, 2, 1).numpy())
    np.testing.assert_allclose(F.avg_pool1d(fastnn.tensor(x), 4, 3).numpy(), TF.avg_pool1d(_to_t(x), 4, 3).numpy())
    np.testing.assert_allclose(F.adaptive_avg_pool1d(fastnn.tensor(x), 5).numpy(),
                               TF.adaptive_avg_pool1d(_to_t(x), 5).numpy())
    x2 = rng.standard_normal((4, 9, 8))   # unbatched (C, H, W)
    np.testing.assert_allclose(F.max_pool2d(fastnn.tensor(x2), 2).numpy(), TF.max_pool2d(_to_t(x2), 2).numpy())
    x4 = rng.standard_normal((2, 3, 8, 6))
    y, idx = F.max_pool2d(fastnn.tensor(x4), 2, return_indices=True)
    ty, tidx = TF.max_pool2d(_to_t(x4), 2, return_indices=True)
    np.testing.assert_array_equal(F.max_unpool2d(y, idx, 2).numpy(), TF.max_unpool2d(ty, tidx, 2).numpy())


def test_zero_size_batch():
    x = np.zeros((0, 3, 8, 8), np.float32)
    y, idx = kernels.max_pool2d(x, (2, 2), (2, 2))
    assert y.shape == (0, 3, 4, 4) and idx.shape == (0, 3, 4, 4)
    assert kernels.avg_pool2d(x, (2, 2), (2, 2)).shape == (0, 3, 4, 4)
    assert kernels.max_pool2d_backward(y, idx, (8, 8)).shape == (0, 3, 8, 8)


def test_gradcheck_pools():
    fastnn.manual_seed(0)
    # Distinct values so that the max is not tied within finite-difference steps.
    x = fastnn.tensor(np.random.default_rng(5).permutation(2 * 7 * 6).reshape(1, 2, 7, 6) / 10.0,
                      requires_grad=True)
    ac = fastnn.autograd
    assert ac.gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (x,))
    assert ac.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), (x,))
    assert ac.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 4)), (x,))
    assert ac.gradcheck(lambda x: F.adaptive_max_pool2d(x, (3, 4)), (x,))
    assert ac.gradgradcheck(lambda x: F.avg_pool2d(x, 2), (x,))
    assert ac.gradgradcheck(lambda x: F.max_pool2d(x, 2) * F.max_pool2d(x, 2), (x,))


def test_bad_arguments():
    x = np.zeros((2, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="half of kernel_size"):
        kernels.max_pool2d(x, (2, 2), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="too small"):
        kernels.max_pool2d(np.zeros((1, 1, 2, 2), np.float32), (5, 5), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="stride"):
        kernels.avg_pool2d(x, (2, 2), (0, 2))
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.avg_pool2d(x.astype(np.int64), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="4-D"):
        kernels.max_pool2d(x[0], (2, 2), (2, 2))
    y, idx = kernels.max_pool2d(x, (2, 2), (2, 2))
    with pytest.raises(ValueError, match="indices"):
        kernels.max_pool2d_backward(y, idx + 1000, (8, 8))
    with pytest.raises(TypeError, match="int64"):
        kernels.max_pool2d_backward(y, idx.astype(np.int32), (8, 8))
    with pytest.raises(ValueError, match="grad_output"):
        kernels.avg_pool2d_backward(np.zeros((2, 3, 3, 3), np.float32), (8, 8), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool2d(fastnn.tensor(x), 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool2d(fastnn.tensor(x), 0)
    with pytest.raises(ValueError, match="3-D|4-D"):
        F.max_pool2d(fastnn.zeros(8), 2)


def test_max_unpool_refuses_invalid_indices():
    y, idx = F.max_pool2d(fastnn.arange(48.0).reshape(1, 3, 4, 4), 2, return_indices=True)
    bad = idx.clone()
    bad[0, 1, 0, 0] = 16
    with pytest.raises(IndexError, match=r"invalid max index.*\[0, 16\)"):
        F.max_unpool2d(y, bad, 2)
    bad[0, 1, 0, 0] = -1
    with pytest.raises(IndexError, match="invalid max index"):
        F.max_unpool2d(y, bad, 2)
    with pytest.raises(ValueError, match="indices"):
        F.max_unpool2d(y, idx[:, :2], 2)
    out = F.max_unpool2d(y, idx, 2, output_size=(5, 5))     # a larger plane takes the same indices
    assert out.shape == (1, 3, 5, 5) and float(out.sum()) == float(y.sum())


# Rows long enough for the vector kernels on every path (4, 8 and 16 lanes of float32; 2, 4 and 8
# of float64): widths around one and two vectors of 16, strides 1 and 2 (vectorised) and 3
# (scalar), with windows clipped by padding at both ends of a row.
# (shape, kernel, stride, padding, dilation, ceil_mode)
WIDE = [
    ((2, 3, 6, 33), 2, 2, 0, 1, False),        # 2x2 stride 2: 16 outputs, one input column left over
    ((1, 2, 5, 62), 2, 2, 0, 1, True),         # 31 outputs: a vector and an overlapping last one
    ((1, 2, 4, 18), 2, 2, 0, 1, False),        # 9 outputs: fewer than 16 lanes
    ((2, 2, 7, 40), 3, 1, 1, 1, False),        # stride 1, padding on both sides
    ((1, 3, 6, 47), 3, 2, 1, 1, True),         # stride 2 with ceil_mode: the last window clipped
    ((1, 2, 9, 64), (2, 3), (1, 2), (1, 1), (2, 1), False),  # dilation in H
    ((1, 2, 8, 70), (3, 2), (2, 1), (0, 1), (1, 3), True),   # dilation in W, stride 1
    ((1, 1, 5, 50), 3, 3, 1, 1, False),        # stride 3: the scalar loop
    ((1, 1, 3, 16), 3, 1, 0, 1, False),        # 14 outputs, all of them inner columns
]


def _wide_input(rng, shape, dtype, ties):
    x = rng.standard_normal(shape).astype(dtype)
    if ties:  # many equal maxima: the first in scan order must win
        x = np.round(x).astype(dtype)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_wide_rows_match_torch(cpu_path, dtype, ties):
    rng = np.random.default_rng(7)
    for shape, k, s, p, d, cm in WIDE:
        x = _wide_input(rng, shape, dtype, ties)
        x.flat[rng.integers(0, x.size, 3)] = np.nan
        y, idx = kernels.max_pool2d(x, _pair(k), _pair(s), _pair(p), _pair(d), cm)
        ty, tidx = TF.max_pool2d(_to_t(x), k, s, p, d, cm, return_indices=True)
        np.testing.assert_array_equal(y, ty.numpy(), err_msg=str((shape, k, s, p, d, cm)))
        np.testing.assert_array_equal(idx, tidx.numpy(), err_msg=str((shape, k, s, p, d, cm)))
        g = rng.standard_normal(y.shape).astype(dtype)
        dx = kernels.max_pool2d_backward(g, idx, shape[2:])
        tx = _to_t(x, True)
        TF.max_pool2d(tx, k, s, p, d, cm).backward(_to_t(g))
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_wide_rows_match_torch(cpu_path, dtype):
    rng = np.random.default_rng(8)
    for shape, k, s, p, d, cm in WIDE:
        if d != 1:
            continue
        for cip, div in ((True, None), (False, None), (True, 5)):
            x = rng.standard_normal(shape).astype(dtype)
            y = kernels.avg_pool2d(x, _pair(k), _pair(s), _pair(p), cm, cip, div)
            ty = TF.avg_pool2d(_to_t(x), k, s, p, cm, cip, div)
            tol = 1e-6 if dtype == np.float32 else 1e-13
            np.testing.assert_allclose(y, ty.numpy(), rtol=tol, atol=tol, err_msg=str((shape, k, s, p, cm, cip)))
            g = rng.standard_normal(y.shape).astype(dtype)
            dx = kernels.avg_pool2d_backward(g, shape[2:], _pair(k), _pair(s), _pair(p), cm, cip, div)
            tx = _to_t(x, True)
            TF.avg_pool2d(tx, k, s, p, cm, cip, div).backward(_to_t(g))
            np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)


def test_max_pool_backward_falls_back_for_foreign_indices(cpu_path):
    # Indices of a 2x2 geometry that point outside their own window (as max_unpool2d may pass): the
    # write-once path must detect them and the general scatter give the right sum.
    rng = np.random.default_rng(9)
    g = rng.standard_normal((2, 3, 5, 20)).astype(np.float32)
    idx = rng.integers(0, 10 * 40, size=g.shape).astype(np.int64)
    dx = kernels.max_pool2d_backward(g, idx, (10, 40))
    ref = np.zeros((2, 3, 10 * 40), np.float32)
    for n in range(2):
        for c in range(3):
            np.add.at(ref[n, c], idx[n, c].ravel(), g[n, c].ravel())
    np.testing.assert_allclose(dx.reshape(ref.shape), ref, rtol=1e-6, atol=1e-6)


def test_pools_non_contiguous_wide(cpu_path):
    rng = np.random.default_rng(10)
    base = rng.standard_normal((2, 4, 40, 36)).astype(np.float32)
    x = base.transpose(0, 1, 3, 2)[:, ::2]        # transposed and strided view: 36 x 40 rows
    for fn, tfn in ((F.max_pool2d, TF.max_pool2d), (F.avg_pool2d, TF.avg_pool2d)):
        y = fn(fastnn.from_numpy(x), 3, 2, 1)
        np.testing.assert_allclose(y.numpy(), tfn(torch.tensor(x), 3, 2, 1).numpy(), rtol=1e-6, atol=1e-6)


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)
