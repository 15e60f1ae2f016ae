"""Batch normalisation in training mode over the norm family's kernels (batch_norm_forward / _backward): every CPU
path against the plain reference on random (N, C, S) shapes including edge sizes, results independent of the
thread count, BatchNorm1d/2d against PyTorch (outputs, input and parameter gradients, running statistics;
non-contiguous input, float64, momentum None), gradients and gradients of gradients in float64, the fallback
for other dtypes and the binding's argument checks."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, kernels, nn
from fastnn.autograd import gradcheck, gradgradcheck
from fastnn.nn import functional as F
from torch_compare import check_layer, close_outputs, rel_err

SHAPES = [(1, 1, 2), (2, 1, 1), (3, 5, 1), (2, 3, 7), (4, 2, 17), (5, 3, 33), (64, 4, 49), (2, 64, 196), (0, 3, 4),
          (3, 0, 5), (4, 3, 0)]


def _inputs(rng, shape, dtype, affine):
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    C = shape[1]
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    return x, dy, w, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("affine", [True, False])
def test_kernels_match_reference_on_every_path(cpu_path, rng, dtype, affine):
    for shape in SHAPES:
        x, dy, w, b = _inputs(rng, shape, dtype, affine)
        fwd = _C.batch_norm_forward(x, w, b, 1e-5)
        close_outputs(fwd, _C.batch_norm_forward_reference(x, w, b, 1e-5), dtype)
        _, mean, _, rstd = fwd
        close_outputs(_C.batch_norm_backward(dy, x, mean, rstd, w), _C.batch_norm_backward_reference(dy, x, mean, rstd, w),
               dtype)


def test_kernels_against_numpy(rng):
    x, dy, w, b = _inputs(rng, (6, 4, 10), np.float64, True)
    y, mean, var, rstd = kernels.batch_norm_forward(x, w, b, 1e-3)
    mu = x.mean((0, 2))
    v = x.var((0, 2))
    xhat = (x - mu[:, None]) / np.sqrt(v[:, None] + 1e-3)
    assert np.allclose(y, xhat * w[:, None] + b[:, None], rtol=1e-12, atol=1e-12)
    assert np.allclose(mean, mu) and np.allclose(var, v) and np.allclose(rstd, 1 / np.sqrt(v + 1e-3))
    dx, dw, db = kernels.batch_norm_backward(dy, x, mean, rstd, w)
    assert np.allclose(db, dy.sum((0, 2))) and np.allclose(dw, (dy * xhat).sum((0, 2)))
    M = 60
    ref = w[:, None] * rstd[:, None] * (dy - dy.sum((0, 2))[:, None] / M - xhat * (dy * xhat).sum((0, 2))[:, None] / M)
    assert np.allclose(dx, ref, rtol=1e-12, atol=1e-12)
    dx, dw, db = kernels.batch_norm_backward(dy, x, mean, rstd, w, (False, True, False))
    assert dx is None and db is None and dw.shape == (4,)


def test_results_do_not_depend_on_threads(rng):
    x, dy, w, b = _inputs(rng, (32, 24, 50), np.float32, True)
    old = fastnn.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            fastnn.set_num_threads(n)
            fwd = _C.batch_norm_forward(x, w, b, 1e-5)
            outs.append(fwd + _C.batch_norm_backward(dy, x, fwd[1], fwd[3], w))
    finally:
        fastnn.set_num_threads(old)
    for o in outs[1:]:
        for a, b_ in zip(o, outs[0]):
            assert np.array_equal(a, b_)


def test_large_mean_keeps_the_variance(rng):
    x = (rng.standard_normal((8, 2, 100)) + 1e4).astype(np.float32)
    y = _C.batch_norm_forward(x, None, None, 1e-5)[0]
    x64 = x.astype(np.float64)
    ref = (x64 - x64.mean((0, 2), keepdims=True)) / np.sqrt(x64.var((0, 2), keepdims=True) + 1e-5)
    assert rel_err(y, ref) < 2e-3


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: _C.batch_norm_forward(x[:, :, ::2]), ValueError, "contiguous"),
    (lambda x: _C.batch_norm_forward(x[0]), ValueError, "3-D"),
    (lambda x: _C.batch_norm_forward(x, np.ones(4, np.float32)), ValueError, "weight"),
    (lambda x: _C.batch_norm_forward(x, None, np.ones(3, np.float64)), TypeError, "same dtype"),
    (lambda x: _C.batch_norm_forward(x.astype(np.int64)), TypeError, "float32 or float64"),
    (lambda x: _C.batch_norm_forward(x, None, None, -1.0), ValueError, "eps"),
    (lambda x: _C.batch_norm_backward(x, x, np.zeros(2, np.float32), np.zeros(3, np.float32)), ValueError, "mean"),
    (lambda x: _C.batch_norm_backward(x[:1], x, np.zeros(3, np.float32), np.zeros(3, np.float32)), ValueError,
     "dy"),
])
def test_kernel_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.ones((2, 3, 8), np.float32))


@pytest.mark.parametrize("kind,shape", [("BatchNorm2d", (8, 3, 5, 7)), ("BatchNorm2d", (16, 16, 14, 14)),
                                        ("BatchNorm2d", (2, 1, 1, 3)), ("BatchNorm1d", (10, 6)),
                                        ("BatchNorm1d", (4, 5, 9))])
@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"momentum": None}, {"track_running_stats": False}])
def test_layers_match_torch(torch, rng, kind, shape, kwargs):
    tm = getattr(torch.nn, kind)(shape[1], **kwargs)
    fm = getattr(nn, kind)(shape[1], **kwargs)
    if kwargs.get("affine", True):
        w = rng.standard_normal(shape[1]).astype(np.float32)
        b = rng.standard_normal(shape[1]).astype(np.float32)
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(w))
            tm.bias.copy_(torch.tensor(b))
        fm.weight.data = fastnn.tensor(w)
        fm.bias.data = fastnn.tensor(b)
    x = (rng.standard_normal(shape) * 1.5 + 0.5).astype(np.float32)
    for _ in range(2):  # twice: the running statistics move from their first values
        check_layer(torch, tm, fm, x, tol=2e-5)
        for m in (tm, fm):
            m.zero_grad()


def test_non_contiguous_input_and_float64(torch, rng):
    x = rng.standard_normal((7, 4, 6, 5))
    tm, fm = torch.nn.BatchNorm2d(4).double(), nn.BatchNorm2d(4).double()
    tx = torch.tensor(x, requires_grad=True)
    fx = fastnn.tensor(x, requires_grad=True)
    ty = tm(tx.transpose(2, 3)[::2])
    fy = fm(fx.transpose(2, 3)[::2])
    assert rel_err(fy.detach().numpy(), ty.detach().numpy()) < 1e-12
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    fy.backward(fastnn.tensor(g))
    assert rel_err(fx.grad.numpy(), tx.grad.numpy()) < 1e-12
    assert rel_err(fm.weight.grad.numpy(), tm.weight.grad.numpy()) < 1e-12
    assert rel_err(fm.running_var.numpy(), tm.running_var.numpy()) < 1e-12


@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck_and_gradgradcheck(rng, affine):
    x = fastnn.tensor(rng.standard_normal((4, 3, 2, 3)), requires_grad=True)
    w = fastnn.tensor(rng.standard_normal(3), requires_grad=True) if affine else None
    b = fastnn.tensor(rng.standard_normal(3), requires_grad=True) if affine else None
    args = (x, w, b) if affine else (x,)

    def fn(x, w=None, b=None):
        return F.batch_norm(x, None, None, w, b, training=True, eps=1e-3)

    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


def test_double_backward_matches_torch(torch, rng):
    # a penalty on the input gradient through a BatchNorm2d critic (create_graph=True)
    x = rng.standard_normal((6, 2, 3, 3))
    w = rng.standard_normal(2)
    res = []
    for lib in (torch, fastnn):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        out = lib.nn.functional.batch_norm(xt, None, None, wt, None, training=True)
        g, = lib.autograd.grad((out ** 3).sum(), xt, create_graph=True)
        (g ** 2).sum().backward()
        res.append((xt.grad.numpy(), wt.grad.numpy()))
    for a, b in zip(*res):
        assert rel_err(a, b) < 1e-10


def test_other_dtypes_take_the_tensor_op_path(torch, rng):
    x = rng.standard_normal((4, 3, 5)).astype(np.float16)
    got = F.batch_norm(fastnn.tensor(x), None, None, training=True).numpy().astype(np.float64)
    ref = torch.nn.functional.batch_norm(torch.tensor(x).float(), None, None, training=True).numpy()
    assert np.abs(got - ref).max() < 1e-2
    # parameters of another dtype than the input: the Tensor-op path too, same values
    xd = rng.standard_normal((4, 3, 5))
    w = fastnn.tensor(np.ones(3, np.float32))
    y = F.batch_norm(fastnn.tensor(xd), None, None, w, None, training=True)
    ref = torch.nn.functional.batch_norm(torch.tensor(xd), None, None, torch.ones(3, dtype=torch.float64),
                                         training=True).numpy()
    assert rel_err(y.numpy(), ref) < 1e-6
