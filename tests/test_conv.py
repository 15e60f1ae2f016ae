"""conv2d / conv1d / conv_transpose2d: kernels against PyTorch and a numpy reference, both algorithms and
both CPU paths, gradients in float64 (first and second order), and argument checking."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import _C, kernels

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.fixture(params=["auto", "im2col", "direct"])
def algo(request):
    _C.set_conv_algorithm(request.param)
    yield request.param
    _C.set_conv_algorithm("auto")


def conv2d_numpy(x, w, b, stride, pad, dil, groups):
    """Plain loops over output positions: the reference the kernels must agree with."""
    n, c, h, wd = x.shape
    oc, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, oc, oh, ow), dtype=np.float64)
    ocg = oc // groups
    for o in range(oc):
        g = o // ocg
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride[0]:i * stride[0] + dil[0] * (kh - 1) + 1:dil[0],
                           j * stride[1]:j * stride[1] + dil[1] * (kw - 1) + 1:dil[1]]
                y[:, o, i, j] = np.tensordot(patch, w[o], axes=([1, 2, 3], [0, 1, 2]))
        if b is not None:
            y[:, o] += b[o]
    return y


# (N, C, H, W, OC, K, stride, padding, dilation, groups)
CONFIGS = [
    (2, 3, 11, 13, 4, 3, 1, 1, 1, 1),      # odd sizes
    (3, 4, 9, 7, 6, 3, 2, 2, 2, 2),        # stride, padding >= k/2, dilation, groups
    (1, 4, 10, 10, 4, 5, 1, 4, 1, 4),      # depthwise, batch 1, padding = k - 1
    (2, 2, 13, 11, 3, 2, 3, 0, 1, 1),      # stride > kernel
    (2, 1, 28, 28, 6, 5, 1, 0, 1, 1),      # LeNet conv1
    (3, 6, 12, 12, 16, 5, 1, 0, 1, 1),     # LeNet conv2
    (2, 8, 7, 5, 8, 3, 1, 1, 1, 8),        # depthwise 3x3
    (1, 6, 5, 17, 4, (1, 3), (1, 2), (0, 1), (1, 3), 2),  # rectangular everything
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _run_case(cfg, dtype, rng):
    n, c, h, w, oc, k, s, p, d, g = cfg
    k, s, p, d = _pair(k), _pair(s), _pair(p), _pair(d)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((oc, c // g) + k).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    y = kernels.conv2d(x, wt, b, s, (p[0], p[0], p[1], p[1]), d, g)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(wt, requires_grad=True)
    ty = TF.conv2d(tx, tw, torch.tensor(b), s, p, d, g)
    gy = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(gy))
    dx = kernels.conv2d_backward_input(gy, wt, (h, w), s, p, d, g)
    dw = kernels.conv2d_backward_weight(x, gy, k, s, p, d, g)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(dw, tw.grad.numpy(), **(tol if dtype == np.float64 else dict(rtol=1e-3, atol=1e-3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_kernels_match_torch(cpu_path, algo, dtype):
    rng = np.random.default_rng(0)
    for cfg in CONFIGS:
        _run_case(cfg, dtype, rng)


def test_conv2d_numpy_reference():
    rng = np.random.default_rng(1)
    for (n, c, h, w, oc, k, s, p, d, g) in [(2, 3, 7, 9, 4, 3, 2, 1, 1, 1), (1, 4, 8, 8, 6, 3, 1, 2, 2, 2),
                                            (3, 1, 9, 9, 2, 5, 1, 0, 1, 1)]:
        x = rng.standard_normal((n, c, h, w))
        wt = rng.standard_normal((oc, c // g, k, k))
        b = rng.standard_normal(oc)
        y = kernels.conv2d(x, wt, b, (s, s), (p, p, p, p), (d, d), g)
        np.testing.assert_allclose(y, conv2d_numpy(x, wt, b, (s, s), (p, p), (d, d), g), rtol=1e-12, atol=1e-12)


def test_large_batch_uses_chunks_and_matches(algo):
    # More images than one im2col chunk holds.
    rng = np.random.default_rng(2)
    _run_case((300, 6, 12, 12, 16, 5, 1, 0, 1, 1), np.float32, rng)


def test_non_contiguous_inputs(cpu_path):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 6, 12, 18))
    x = base[::2, ::2, :, ::2]                      # strided view
    wt = rng.standard_normal((3, 3, 3, 5)).transpose(0, 1, 3, 2)  # transposed view
    y = kernels.conv2d(x, wt, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    ref = TF.conv2d(torch.tensor(np.ascontiguousarray(x)), torch.tensor(np.ascontiguousarray(wt)), None, 1, 1)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-10, atol=1e-10)
    # Through the Tensor API with a non-contiguous Tensor.
    t = fastnn.from_numpy(base).permute(0, 1, 3, 2)
    w2 = fastnn.from_numpy(rng.standard_normal((2, 6, 3, 3)))
    np.testing.assert_allclose(F.conv2d(t, w2, padding=1).numpy(),
                               TF.conv2d(torch.tensor(base).permute(0, 1, 3, 2), torch.tensor(w2.numpy()),
                                         padding=1).numpy(), rtol=1e-10, atol=1e-10)


def test_zero_size_batch():
    x = np.zeros((0, 3, 8, 8), np.float32)
    wt = np.ones((4, 3, 3, 3), np.float32)
    assert kernels.conv2d(x, wt, None, (1, 1), (0, 0, 0, 0), (1, 1), 1).shape == (0, 4, 6, 6)
    assert kernels.conv2d_backward_input(np.zeros((0, 4, 6, 6), np.float32), wt, (8, 8)).shape == (0, 3, 8, 8)
    dw = kernels.conv2d_backward_weight(x, np.zeros((0, 4, 6, 6), np.float32), (3, 3))
    assert dw.shape == (4, 3, 3, 3) and not dw.any()


@pytest.mark.parametrize("padding,k,dil", [("same", 4, 1), ("same", 3, 2), ("valid", 3, 1), ("same", (2, 5), (3, 1))])
def test_functional_string_padding(padding, k, dil):
    rng = np.random.default_rng(4)
    k = _pair(k)
    x = rng.standard_normal((2, 3, 9, 10))
    w = rng.standard_normal((5, 3) + k)
    y = F.conv2d(fastnn.from_numpy(x), fastnn.from_numpy(w), None, 1, padding, dil)
    ref = TF.conv2d(torch.tensor(x), torch.tensor(w), None, 1, padding, dil)
    assert tuple(y.shape) == tuple(ref.shape)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)


def test_functional_conv2d_grads_and_unbatched():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 8, 9)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    fx, fw, fb = (fastnn.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    F.conv2d(fx, fw, fb, stride=2, padding=1, groups=2).square().sum().backward()
    TF.conv2d(tx, tw, tb, stride=2, padding=1, groups=2).square().sum().backward()
    for f, t in ((fx, tx), (fw, tw), (fb, tb)):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)
    y = F.conv2d(fastnn.tensor(x[0]), fastnn.tensor(w), None, groups=2)
    assert tuple(y.shape) == (6, 6, 7)


def test_conv1d_matches_torch():
    rng = np.random.default_rng(6)
    for (s, p, d, g) in [(1, 0, 1, 1), (2, 3, 2, 2), (1, "same", 2, 1), (3, 1, 1, 4)]:
        x = rng.standard_normal((3, 4, 23))
        w = rng.standard_normal((8, 4 // g, 4))
        b = rng.standard_normal(8)
        fx, fw, fb = (fastnn.tensor(a, requires_grad=True) for a in (x, w, b))
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv1d(fx, fw, fb, s, p, d, g)
        ty = TF.conv1d(tx, tw, tb, s, p, d, g)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
        y.sum().backward()
        ty.sum().backward()
        for f, t in ((fx, tx), (fw, tw), (fb, tb)):
            np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cfg", [
    # (N, Cin, H, W, Cout, K, stride, padding, output_padding, dilation, groups)
    (2, 4, 5, 6, 3, 3, 2, 1, 1, 1, 1),
    (1, 4, 4, 4, 6, 4, 2, 1, 0, 1, 2),
    (2, 3, 7, 5, 2, 3, 1, 0, 0, 2, 1),
    (2, 2, 3, 4, 2, 3, 3, 2, 2, 1, 1),
    (1, 2, 3, 3, 2, 3, 1, 0, 1, 2, 2),   # output_padding >= stride, allowed by dilation
    (3, 5, 1, 1, 4, 7, 1, 0, 0, 1, 1),   # a DCGAN generator's projection: 1 x 1 -> 7 x 7, one GEMM
    (2, 4, 1, 1, 6, 3, 2, 0, 0, 1, 2),   # the same with groups
])
def test_conv_transpose2d_matches_torch(cfg, algo):
    n, cin, h, w, cout, k, s, p, op, d, g = cfg
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, cin, h, w))
    wt = rng.standard_normal((cin, cout // g, k, k))
    b = rng.standard_normal(cout)
    fx, fw, fb = (fastnn.tensor(a, requires_grad=True) for a in (x, wt, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
    y = F.conv_transpose2d(fx, fw, fb, s, p, op, g, d)
    ty = TF.conv_transpose2d(tx, tw, tb, s, p, op, g, d)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    gy = rng.standard_normal(tuple(ty.shape))
    y.backward(fastnn.tensor(gy))
    ty.backward(torch.tensor(gy))
    for f, t in ((fx, tx), (fw, tw), (fb, tb)):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_gradcheck_conv2d_family():
    fastnn.manual_seed(0)
    x = fastnn.randn(1, 4, 5, 5, dtype=fastnn.float64, requires_grad=True)
    w = fastnn.randn(4, 2, 3, 2, dtype=fastnn.float64, requires_grad=True)
    b = fastnn.randn(4, dtype=fastnn.float64, requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, (2, 1), (1, 2), (1, 2), 2), (x, w, b))
    assert fastnn.autograd.gradcheck(lambda x, w: F.conv2d(x, w, padding="same", groups=2), (x, w))
    wt = fastnn.randn(4, 2, 3, 3, dtype=fastnn.float64, requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1), (x, wt))
    x1 = fastnn.randn(2, 3, 9, dtype=fastnn.float64, requires_grad=True)
    w1 = fastnn.randn(4, 3, 3, dtype=fastnn.float64, requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda x, w: F.conv1d(x, w, None, 2, 1, 2), (x1, w1))


@pytest.mark.parametrize("algo_name", ["im2col", "direct"])
def test_gradgradcheck_conv2d(algo_name):
    _C.set_conv_algorithm(algo_name)
    try:
        fastnn.manual_seed(1)
        x = fastnn.randn(1, 2, 4, 5, dtype=fastnn.float64, requires_grad=True)
        w = fastnn.randn(2, 1, 3, 3, dtype=fastnn.float64, requires_grad=True)
        b = fastnn.randn(2, dtype=fastnn.float64, requires_grad=True)
        assert fastnn.autograd.gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, 1, 1, 1, 2), (x, w, b))
        assert fastnn.autograd.gradgradcheck(lambda x, w: F.conv2d(x, w, None, 2, 1, 2, 2), (x, w))
        wt = fastnn.randn(2, 2, 2, 3, dtype=fastnn.float64, requires_grad=True)
        assert fastnn.autograd.gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1), (x, wt))
        # 1 x 1 inputs: the kernel covers the whole output, each pass one GEMM over the batch.
        x1 = fastnn.randn(3, 2, 1, 1, dtype=fastnn.float64, requires_grad=True)
        w1 = fastnn.randn(2, 3, 3, 2, dtype=fastnn.float64, requires_grad=True)
        assert fastnn.autograd.gradgradcheck(lambda x, w: F.conv_transpose2d(x, w), (x1, w1))
    finally:
        _C.set_conv_algorithm("auto")


def test_gradient_penalty_matches_torch():
    # WGAN-GP: the gradient of ||d critic / d x|| with respect to the weights.
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 2, 8, 8))
    w1 = rng.standard_normal((4, 2, 3, 3))
    w2 = rng.standard_normal((1, 4, 4, 4))

    def penalty(lib, fn, x, w1, w2):
        h = fn.conv2d(x, w1, None, 2, 1).tanh()
        out = fn.conv2d(h, w2).sum()
        (gx,) = lib.autograd.grad(out, x, create_graph=True)
        return (gx.square().sum() - 1.0).square()

    fx, f1, f2 = (fastnn.tensor(a, requires_grad=True) for a in (x, w1, w2))
    tx, t1, t2 = (torch.tensor(a, requires_grad=True) for a in (x, w1, w2))
    penalty(fastnn, F, fx, f1, f2).backward()
    penalty(torch, TF, tx, t1, t2).backward()
    for f, t in ((f1, t1), (f2, t2)):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_bad_arguments():
    x = np.zeros((2, 4, 8, 8), np.float32)
    w = np.zeros((6, 2, 3, 3), np.float32)
    with pytest.raises(TypeError, match="weight"):
        kernels.conv2d(x, w.astype(np.float64), None, (1, 1), (0,) * 4, (1, 1), 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.conv2d(x.astype(np.int32), w, None, (1, 1), (0,) * 4, (1, 1), 2)
    with pytest.raises(ValueError, match="channels"):
        kernels.conv2d(x, w, None, (1, 1), (0,) * 4, (1, 1), 1)
    with pytest.raises(ValueError, match="divisible by groups"):
        kernels.conv2d(x, np.zeros((6, 1, 3, 3), np.float32), None, (1, 1), (0,) * 4, (1, 1), 4)
    with pytest.raises(ValueError, match="4-D"):
        kernels.conv2d(x[0], w, None, (1, 1), (0,) * 4, (1, 1), 2)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        kernels.conv2d(x, np.zeros((6, 2, 5, 5), np.float32), None, (1, 1), (0,) * 4, (3, 3), 2)
    with pytest.raises(ValueError, match="stride"):
        kernels.conv2d(x, w, None, (0, 1), (0,) * 4, (1, 1), 2)
    with pytest.raises(ValueError, match="bias"):
        kernels.conv2d(x, w, np.zeros(5, np.float32), (1, 1), (0,) * 4, (1, 1), 2)
    with pytest.raises(ValueError, match="grad_output"):
        kernels.conv2d_backward_input(np.zeros((2, 5, 6, 6), np.float32), w, (8, 8), groups=2)
    with pytest.raises(ValueError, match="batch sizes"):
        kernels.conv2d_backward_weight(x, np.zeros((3, 6, 6, 6), np.float32), (3, 3), groups=2)
    t = fastnn.zeros(2, 4, 8, 8)
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(t, fastnn.zeros(6, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="padding string"):
        F.conv2d(t, fastnn.zeros(6, 4, 3, 3), padding="full")
    with pytest.raises(ValueError, match="5-D|4-D|3-D"):
        F.conv2d(fastnn.zeros(1, 2, 4, 8, 8), fastnn.zeros(6, 4, 3, 3))
    with pytest.raises(ValueError, match="output padding"):
        F.conv_transpose2d(t, fastnn.zeros(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="channels"):
        F.conv_transpose2d(t, fastnn.zeros(3, 2, 3, 3))
    with pytest.raises(ValueError, match="algorithm|name"):
        _C.set_conv_algorithm("fft")
