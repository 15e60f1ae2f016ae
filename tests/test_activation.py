"""The activation family (csrc/ops/activation/: relu, leaky_relu, sigmoid and silu forward and backward): every
CPU path against the plain reference on random shapes (edge sizes, NaN / inf / signed zeros; bitwise for the
piecewise-linear kinds, within a few ulp for the smooth ones), the layers and functions against PyTorch
(non-contiguous inputs, float64, in-place forms under autograd), gradients and gradients of gradients in float64,
and the binding's argument checks."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, kernels, nn
from fastnn.autograd import gradcheck, gradgradcheck
from fastnn.nn import functional as F

SIZES = [0, 1, 7, 15, 16, 17, 31, 33, 1000, 40_009]  # the last one shared between threads
KINDS = [("relu", 0.0), ("leaky_relu", 0.2), ("leaky_relu", 0.01), ("leaky_relu", -0.5), ("leaky_relu", 1.5)]


def _values(rng, n, dtype):
    x = rng.standard_normal(n).astype(dtype)
    if n >= 8:
        x[:8] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, -np.nan]
        rng.shuffle(x)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_kernels_match_reference_bitwise_on_every_path(cpu_path, rng, dtype):
    for n in SIZES:
        x = _values(rng, n, dtype)
        dy = _values(rng, n, dtype)
        for kind, slope in KINDS:
            y = _C.activation_forward(x, kind, slope)
            ref = _C.activation_forward_reference(x, kind, slope)
            assert y.dtype == x.dtype and y.shape == x.shape
            assert np.array_equal(y.view(np.uint8), ref.view(np.uint8)), (n, kind, slope)
            dx = _C.activation_backward(dy, x, kind, slope)
            ref = _C.activation_backward_reference(dy, x, kind, slope)
            assert np.array_equal(dx.view(np.uint8), ref.view(np.uint8)), (n, kind, slope)


def test_kernels_follow_pytorch_definitions(torch, rng):
    x = _values(rng, 4097, np.float32).reshape(17, 241)
    dy = _values(rng, 4097, np.float32).reshape(17, 241)
    tx = torch.tensor(x)
    assert np.array_equal(kernels.activation_forward(x, "relu"), torch.relu(tx).numpy(), equal_nan=True)
    assert np.array_equal(kernels.activation_forward(x, "leaky_relu", 0.2),
                          torch.nn.functional.leaky_relu(tx, 0.2).numpy(), equal_nan=True)
    # the gradients as PyTorch's backward kernels define them (threshold_backward, leaky_relu_backward)
    for kind, slope in (("relu", 0.0), ("leaky_relu", 0.2)):
        ref = np.where(x > 0, dy, dy * np.float32(slope) if kind == "leaky_relu" else np.float32(0))
        assert np.array_equal(kernels.activation_backward(dy, x, kind, slope), ref, equal_nan=True)


def test_in_place_and_shapes(rng):
    x = rng.standard_normal((3, 4, 5)).astype(np.float64)
    ref = np.where(x > 0, x, 0.1 * x)
    y = _C.activation_forward(x, "leaky_relu", 0.1, out=x)
    assert y is x and np.array_equal(x, ref)
    dy = rng.standard_normal((3, 4, 5))
    want = np.where(ref > 0, dy, dy * 0.1)
    assert np.array_equal(_C.activation_backward(dy, ref, "leaky_relu", 0.1, out=dy), want)
    assert _C.activation_forward(np.float32(3.0).reshape(()), "relu").shape == ()


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: _C.activation_forward(x[:, ::2], "relu"), ValueError, "contiguous"),
    (lambda x: _C.activation_forward(x.astype(np.int32), "relu"), TypeError, "float32 or float64"),
    (lambda x: _C.activation_forward(x, "gelu"), ValueError, "kind"),
    (lambda x: _C.activation_forward(x, 3), TypeError, "kind"),
    (lambda x: _C.activation_forward(x, "leaky_relu", float("nan")), ValueError, "negative_slope"),
    (lambda x: _C.activation_forward(x, "leaky_relu", "a"), TypeError, "negative_slope"),
    (lambda x: _C.activation_forward(x, "relu", 0.0, x[:2]), ValueError, "out"),
    (lambda x: _C.activation_forward(x, "relu", 0.0, x.astype(np.float64)), TypeError, "same dtype"),
    (lambda x: _C.activation_forward(x[:, 1:], "relu", 0.0, x[:, :-1].copy()), ValueError, "contiguous"),
    (lambda x: _C.activation_backward(x[:2], x, "relu"), ValueError, "shape"),
    (lambda x: _C.activation_backward(x, x.astype(np.float64), "relu"), TypeError, "same dtype"),
])
def test_kernel_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.ones((4, 8), np.float32))


def test_kernel_overlapping_output_is_refused():
    buf = np.zeros(20, np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        _C.activation_forward(buf[:10], "relu", 0.0, buf[5:15])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("make", [lambda m: m.ReLU(), lambda m: m.LeakyReLU(), lambda m: m.LeakyReLU(0.2),
                                  lambda m: m.LeakyReLU(-0.3)], ids=["relu", "leaky", "leaky0.2", "leaky-0.3"])
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 17), (2, 5, 7, 9), (64, 3, 14, 14)])
def test_layers_match_torch(torch, rng, dtype, make, shape):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(shape).astype(dtype)
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    ty, fy = make(torch.nn)(tx), make(nn)(fx)
    assert np.array_equal(fy.detach().numpy(), ty.detach().numpy())
    (ty * torch.tensor(w)).sum().backward()
    (fy * fastnn.tensor(w)).sum().backward()
    assert np.array_equal(fx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("fn", [lambda F_, t: F_.relu(t), lambda F_, t: F_.leaky_relu(t, 0.3)], ids=["relu", "leaky"])
def test_non_contiguous_input(torch, rng, fn):
    x = rng.standard_normal((6, 9, 5)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    fx = fastnn.tensor(x, requires_grad=True)
    ty = fn(torch.nn.functional, tx.transpose(0, 2)[:, ::2])
    fy = fn(F, fx.transpose(0, 2)[:, ::2])
    assert np.array_equal(fy.detach().numpy(), ty.detach().numpy())
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(g))
    fy.backward(fastnn.tensor(g))
    assert np.array_equal(fx.grad.numpy(), tx.grad.numpy())


def test_other_dtypes_keep_the_array_path():
    x = fastnn.tensor(np.array([-2, 0, 3], np.int64))
    assert fastnn.relu(x).numpy().tolist() == [0, 0, 3]
    h = fastnn.tensor(np.array([-1.0, 2.0], np.float16), requires_grad=True)
    y = F.leaky_relu(h, 0.5)
    assert y.dtype == fastnn.float16 and y.detach().numpy().tolist() == [-0.5, 2.0]
    y.sum().backward()
    assert h.grad.numpy().tolist() == [0.5, 1.0]


@pytest.mark.parametrize("fn", [lambda t: t.relu(), lambda t: F.leaky_relu(t, 0.2),
                                lambda t: F.leaky_relu(t * 2.0, -0.7)], ids=["relu", "leaky", "leaky-neg"])
def test_gradcheck_and_gradgradcheck(rng, fn):
    # values away from the kink at 0, where finite differences are meaningful
    x = rng.standard_normal((3, 4, 5))
    x[np.abs(x) < 0.1] = 0.5
    t = fastnn.tensor(x, requires_grad=True)
    assert gradcheck(fn, (t,))
    assert gradgradcheck(fn, (t,))


def test_double_backward_through_a_critic_matches_torch(torch, rng):
    # the WGAN-GP penalty's pattern: the gradient of the output with create_graph, then its norm's gradient
    x = rng.standard_normal((5, 7)).astype(np.float64)
    w1 = rng.standard_normal((7, 11))
    w2 = rng.standard_normal((11, 1))

    def penalty(lib, act):
        xt = lib.tensor(x, requires_grad=True)
        a, b = lib.tensor(w1, requires_grad=True), lib.tensor(w2, requires_grad=True)
        out = act(xt @ a) @ b
        g, = lib.autograd.grad(out.sum(), xt, create_graph=True)
        ((g.norm(2, dim=1) - 1) ** 2).mean().backward()
        return a.grad.numpy(), b.grad.numpy()

    for name, args in (("relu", ()), ("leaky_relu", (0.2,))):
        got = penalty(fastnn, lambda t: getattr(F, name)(t, *args))
        ref = penalty(torch, lambda t: getattr(torch.nn.functional, name)(t, *args))
        for g, r in zip(got, ref):
            assert np.allclose(g, r, rtol=1e-10, atol=1e-12)


def test_inplace_forms_under_autograd_match_torch(torch, rng):
    # PyTorch's DCGAN code: ReLU(True) after BatchNorm2d, LeakyReLU(0.2, inplace=True) after a convolution
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    g = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)

    def build(m):
        return m.Sequential(m.BatchNorm2d(3), m.ReLU(True), m.Conv2d(3, 2, 3), m.LeakyReLU(0.2, inplace=True),
                            m.Tanh())

    tseq, fseq = build(torch.nn), build(nn)
    fseq.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tseq.state_dict().items()})
    res = []
    for lib, seq in ((torch, tseq), (fastnn, fseq)):
        xt = lib.tensor(x, requires_grad=True)
        y = seq(xt)
        y.backward(lib.tensor(g))
        res.append((y.detach().numpy(), xt.grad.numpy(), seq[2].weight.grad.numpy(), seq[0].weight.grad.numpy()))
    for a, b in zip(*res):
        assert np.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_inplace_forms(torch, rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    for name, args in (("relu", ()), ("leaky_relu", (0.2,)), ("elu", (1.0,)), ("hardtanh", (-0.5, 0.5)),
                       ("silu", ()), ("selu", ()), ("celu", (1.3,)), ("hardswish", ()), ("hardsigmoid", ())):
        tx = torch.tensor(x, requires_grad=True)
        fx = fastnn.tensor(x, requires_grad=True)
        ty = getattr(torch.nn.functional, name)(tx * 1.0, *args, inplace=True)
        fy = getattr(F, name)(fx * 1.0, *args, inplace=True)
        assert np.allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-7), name
        (ty * ty).sum().backward()
        (fy * fy).sum().backward()
        assert np.allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6), name
        # outside autograd the tensor itself is overwritten
        plain = fastnn.tensor(x.copy())
        out = getattr(F, name)(plain, *args, inplace=True)
        assert out is plain and np.allclose(plain.numpy(), fy.detach().numpy(), rtol=1e-6, atol=1e-7), name


def test_inplace_errors_match_torch():
    leaf = fastnn.tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.relu(leaf, inplace=True)
    with pytest.raises(RuntimeError, match="negative slope"):
        F.leaky_relu(leaf * 1.0, -0.1, inplace=True)
    with fastnn.no_grad():
        assert F.leaky_relu(leaf, -0.1, inplace=True) is leaf


def test_zero_gradient_through_the_activation_gradient_reaches_leaves_without_the_work():
    """Inside a gradient of a gradient, an activation's derivative with respect to its input is zero: the
    parameters before it get zero gradients (not None, as in PyTorch), and the backward of the nodes that
    receive only that zero is not run."""
    calls = []

    class Spy(fastnn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            calls.append(g)
            return g

    rng = np.random.default_rng(0)
    w = fastnn.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = fastnn.tensor(rng.standard_normal(4), requires_grad=True)
    v = fastnn.tensor(rng.standard_normal(4))
    x = fastnn.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    for act in (F.relu, lambda t: F.leaky_relu(t, 0.2)):
        calls.clear()
        w.grad = b.grad = None
        out = (act(Spy.apply(x @ w.T + b)) * v).sum()
        gx, = fastnn.autograd.grad(out, x, create_graph=True)
        assert len(calls) == 1                      # the first-order backward
        (gx ** 2).sum().backward()
        assert len(calls) == 1                      # the zero path skipped Spy's backward
        assert b.grad is not None and not b.grad.numpy().any()
        assert w.grad is not None and w.grad.numpy().any()


# ---------------------------------------------------------------- sigmoid and silu (smooth kinds: an exp)
SMOOTH = ["sigmoid", "silu"]


def _close_ulps(a, b, ulps):
    """a and b (same dtype) within ``ulps`` units in the last place of b, NaN where b is NaN, equal infinities."""
    assert a.dtype == b.dtype and a.shape == b.shape
    nan = np.isnan(b)
    assert np.array_equal(np.isnan(a), nan)
    a, b = a[~nan], b[~nan]
    inf = np.isinf(b)
    assert np.array_equal(a[inf], b[inf])
    tiny = np.finfo(b.dtype).tiny
    return bool(np.all(np.abs(a[~inf] - b[~inf]) <= ulps * np.maximum(np.spacing(np.abs(b[~inf])), tiny)))


def _close_grad(a, b, dy, x):
    """Gradients a and b within a few ulp of b, plus the rounding of 1 + x (1 - s) near silu's stationary point
    (about -1.28), where the result cancels to near 0: a few ulp of |dy| (1 + |x|)."""
    with np.errstate(invalid="ignore", over="ignore"):
        slack = 8 * np.finfo(b.dtype).eps * np.abs(dy) * (1 + np.abs(x))
        ok = (a == b) | (np.abs(a - b) <= 16 * np.spacing(np.abs(b)) + slack)
    nan = np.isnan(b)
    return bool(np.array_equal(np.isnan(a), nan) and np.all(ok | nan))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_smooth_kernels_match_reference_on_every_path(cpu_path, rng, dtype):
    for n in SIZES:
        x = _values(rng, n, dtype) * dtype(8)
        if n >= 12:
            x[-4:] = [-120.0, 120.0, -800.0, 800.0]   # exp(-x) overflowing / underflowing in either dtype
        dy = _values(rng, n, dtype)
        for kind in SMOOTH:
            y = _C.activation_forward(x, kind)
            assert _close_ulps(y, _C.activation_forward_reference(x, kind), 4), (n, kind)
            dx = _C.activation_backward(dy, x, kind)
            assert _close_grad(dx, _C.activation_backward_reference(dy, x, kind), dy, x), (n, kind)
            out = x.copy()
            assert _C.activation_forward(out, kind, out=out) is out and np.array_equal(out, y, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_smooth_kernels_follow_pytorch_definitions(torch, rng, dtype):
    x = (_values(rng, 4099, dtype) * dtype(10)).reshape(1, 4099)
    x[0, -4:] = [-120.0, 120.0, -800.0, 800.0]
    dy = _values(rng, 4099, dtype).reshape(1, 4099)
    tx, tdy = torch.tensor(x), torch.tensor(dy)
    ulps = 4
    assert _close_ulps(kernels.activation_forward(x, "silu"), torch.nn.functional.silu(tx).numpy(), ulps)
    assert _close_ulps(kernels.activation_forward(x, "sigmoid"), torch.sigmoid(tx).numpy(), ulps)
    # the gradients as PyTorch's backward kernels define them (silu_backward, sigmoid_backward from the output)
    assert _close_grad(kernels.activation_backward(dy, x, "silu"), torch.ops.aten.silu_backward(tdy, tx).numpy(),
                       dy, x)
    assert _close_grad(kernels.activation_backward(dy, x, "sigmoid"),
                       torch.ops.aten.sigmoid_backward(tdy, torch.sigmoid(tx)).numpy(), dy, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("make", [lambda m: m.SiLU(), lambda m: m.Sigmoid()], ids=["silu", "sigmoid"])
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 17), (2, 5, 7, 9), (64, 3, 14, 14)])
def test_smooth_layers_match_torch(torch, rng, dtype, make, shape):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    w = rng.standard_normal(shape).astype(dtype)
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    ty, fy = make(torch.nn)(tx), make(nn)(fx)
    rtol = 4 * np.finfo(dtype).eps
    assert np.allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=0)
    (ty * torch.tensor(w)).sum().backward()
    (fy * fastnn.tensor(w)).sum().backward()
    assert _close_grad(fx.grad.numpy(), tx.grad.numpy(), w, x)
    assert fy.grad_fn is not None or fy.numel() == 0


@pytest.mark.parametrize("fn", [lambda F_, t: F_.silu(t), lambda F_, t: F_.sigmoid(t), lambda F_, t: t.sigmoid()],
                         ids=["silu", "sigmoid", "method"])
def test_smooth_non_contiguous_input(torch, rng, fn):
    x = rng.standard_normal((6, 9, 5)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    fx = fastnn.tensor(x, requires_grad=True)
    ty = fn(torch.nn.functional, tx.transpose(0, 2)[:, ::2])
    fy = fn(F, fx.transpose(0, 2)[:, ::2])
    assert np.allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=0)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(g).transpose(0, 1).contiguous().transpose(0, 1))
    fy.backward(fastnn.tensor(g).transpose(0, 1).contiguous().transpose(0, 1))   # a non-contiguous gradient
    assert np.allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_smooth_other_dtypes_keep_the_array_path(torch):
    h = np.array([-1.0, 0.5, 3.0], np.float16)
    y = F.silu(fastnn.tensor(h))
    assert y.dtype == fastnn.float16
    assert np.allclose(y.numpy(), torch.nn.functional.silu(torch.tensor(h)).numpy(), rtol=2e-3)
    i = fastnn.tensor(np.array([-1, 0, 2], np.int64)).sigmoid()
    assert i.dtype == fastnn.float32 and np.allclose(i.numpy(), 1 / (1 + np.exp(-np.array([-1.0, 0.0, 2.0]))))


@pytest.mark.parametrize("fn", [F.silu, F.sigmoid, lambda t: F.silu(t * 3.0).sigmoid()], ids=["silu", "sigmoid",
                                                                                               "chain"])
def test_smooth_gradcheck_and_gradgradcheck(rng, fn):
    t = fastnn.tensor(rng.standard_normal((3, 4, 5)) * 3, requires_grad=True)
    assert gradcheck(fn, (t,))
    assert gradgradcheck(fn, (t,))


def test_smooth_third_derivative_matches_torch(torch, rng):
    x = rng.standard_normal(9) * 3
    res = []
    for lib in (torch, fastnn):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.silu(xt).sum() + lib.nn.functional.sigmoid(xt * 0.5).sum()
        g1, = lib.autograd.grad(y, xt, create_graph=True)
        g2, = lib.autograd.grad(g1.sum(), xt, create_graph=True)
        g3, = lib.autograd.grad((g2 * g2).sum(), xt)
        res.append([g.detach().numpy() for g in (g1, g2, g3)])
    for a, b in zip(*res):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-13)


def test_smooth_double_backward_through_a_critic_matches_torch(torch, rng):
    # the WGAN-GP penalty's pattern through silu (a UNet critic's activation)
    x = rng.standard_normal((5, 7))
    w1 = rng.standard_normal((7, 11))
    w2 = rng.standard_normal((11, 1))
    got = []
    for lib in (torch, fastnn):
        xt = lib.tensor(x, requires_grad=True)
        a, b = lib.tensor(w1, requires_grad=True), lib.tensor(w2, requires_grad=True)
        out = lib.nn.functional.silu(xt @ a) @ b
        g, = lib.autograd.grad(out.sum(), xt, create_graph=True)
        ((g.norm(2, dim=1) - 1) ** 2).mean().backward()
        got.append((a.grad.numpy(), b.grad.numpy()))
    for g, r in zip(*got):
        assert np.allclose(g, r, rtol=1e-10, atol=1e-12)
