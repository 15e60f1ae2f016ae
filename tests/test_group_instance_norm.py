"""nn.GroupNorm / nn.InstanceNorm1d/2d/3d and F.group_norm / F.instance_norm against PyTorch (values, gradients,
running statistics, state dicts, errors), gradcheck and gradgradcheck in float64; the group-norm kernels
(csrc/ops/norm/, group_norm_forward / group_norm_backward) on every CPU path against the plain reference."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, nn
from fastnn.autograd import gradcheck, gradgradcheck
import fastnn.nn.functional as F
from torch_compare import check_layer, layer_pair, rel_err


def pair(torch, kind, *args, **kwargs):
    tm, fm = layer_pair(torch, kind, *args, **kwargs)
    assert list(fm.state_dict()) == list(tm.state_dict())
    return tm, fm


GROUP_CASES = [
    ((1, 1), {}, (2, 1, 3)),
    ((2, 6), {}, (3, 6, 5, 4)),
    ((3, 3), {"eps": 1e-3}, (1, 3, 7)),
    ((1, 4), {"affine": False}, (2, 4)),
    ((5, 10), {"bias": False}, (2, 10, 2, 3, 2)),
    ((4, 8), {}, (1, 8, 1, 1)),
    ((7, 7), {}, (13, 7, 11)),
]


@pytest.mark.parametrize("args,kwargs,shape", GROUP_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_norm_layer_matches_torch(torch, args, kwargs, shape, dtype):
    tm, fm = pair(torch, "GroupNorm", *args, **kwargs)
    if dtype == np.float64:
        tm.double(), fm.double()
    x = (np.random.default_rng(1).standard_normal(shape) * 3 + 1).astype(dtype)
    check_layer(torch, tm, fm, x, 1e-4 if dtype == np.float32 else 1e-10)
    assert repr(fm) == repr(tm)


def test_group_norm_empty_and_noncontiguous(torch):
    x = np.random.default_rng(0).standard_normal((4, 6, 5)).astype(np.float32)
    fy = F.group_norm(fastnn.tensor(x).transpose(0, 2).transpose(0, 2)[:, :, ::2], 3)
    ty = torch.nn.functional.group_norm(torch.tensor(x)[:, :, ::2], 3)
    assert rel_err(fy.numpy(), ty.numpy()) < 1e-5
    for shape in [(0, 4, 3), (2, 4, 0)]:
        e = np.zeros(shape, np.float32)
        assert F.group_norm(fastnn.tensor(e), 2).shape == tuple(torch.nn.functional.group_norm(
            torch.tensor(e), 2).shape)


def test_group_norm_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(2)
    x = fastnn.tensor(rng.standard_normal((2, 6, 3)), requires_grad=True)
    w = fastnn.tensor(rng.standard_normal(6), requires_grad=True)
    b = fastnn.tensor(rng.standard_normal(6), requires_grad=True)
    f = lambda x, w, b: F.group_norm(x, 3, w, b)  # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"num_channels \(5\) must be divisible by num_groups \(2\)"):
        nn.GroupNorm(2, 5)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(fastnn.randn(2, 5, 3), 2)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.group_norm(fastnn.randn(5), 1)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.group_norm(fastnn.randn(1, 2), 2)
    with pytest.raises(RuntimeError, match=r"weight.*\[3\].*\[2, 4, 3\]"):
        F.group_norm(fastnn.randn(2, 4, 3), 2, fastnn.ones(3))


# (N, C, S, G): edge sizes, a prime S, S = 1, groups of one channel, a UNet's 28x28 / 7x7 maps
KERNEL_CASES = [(1, 1, 1, 1), (2, 4, 0, 2), (0, 6, 5, 3), (3, 6, 17, 3), (2, 8, 1, 8), (4, 32, 49, 8),
                (2, 64, 784, 8), (5, 12, 33, 1), (3, 10, 7, 10)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_group_norm_kernels_match_reference_on_every_path(cpu_path, dtype):
    rng = np.random.default_rng(7)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for N, C, S, G in KERNEL_CASES:
        x = (rng.standard_normal((N, C, S)) * 3 + 5).astype(dtype)   # a mean far from 0
        dy = rng.standard_normal((N, C, S)).astype(dtype)
        for affine in (True, False):
            w = rng.standard_normal(C).astype(dtype) if affine else None
            b = rng.standard_normal(C).astype(dtype) if affine else None
            got = _C.group_norm_forward(x, G, w, b, 1e-5)
            ref = _C.group_norm_forward_reference(x, G, w, b, 1e-5)
            assert got[0].shape == x.shape and got[1].shape == got[2].shape == (N, G)
            for g, r in zip(got, ref):
                assert rel_err(g, r) < tol, (N, C, S, G)
            _, mean, rstd = ref
            for mask in ((True, True, True), (True, False, False), (False, True, True)):
                got = _C.group_norm_backward(dy, x, mean, rstd, G, w, mask)
                ref = _C.group_norm_backward_reference(dy, x, mean, rstd, G, w, mask)
                # dx cancels to about 0 in a group of one value: its error is relative to rstd * dy * weight
                scale = (np.abs(rstd).max(initial=0) * np.abs(dy).max(initial=0) *
                         (1 if w is None else np.abs(w).max(initial=0)))
                for g, r, m in zip(got, ref, mask):
                    assert (g is None) == (not m) and (r is None) == (not m)
                    if m:
                        assert np.allclose(g, r, rtol=tol, atol=tol * (scale + np.abs(r).max(initial=0))), \
                            (N, C, S, G, mask)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_group_norm_silu_kernels_equal_the_unfused_kernels_on_every_path(cpu_path, dtype):
    # GroupNorm then SiLU in one pass: the same bits as the group-norm kernel followed by the activation kernel
    # (forward), and as the activation's backward followed by the group-norm backward; the reference within
    # rounding of the plain loops
    rng = np.random.default_rng(9)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for N, C, S, G in KERNEL_CASES:
        x = (rng.standard_normal((N, C, S)) * 3 + 1).astype(dtype)
        dy = rng.standard_normal((N, C, S)).astype(dtype)
        for affine in (True, False):
            w = rng.standard_normal(C).astype(dtype) if affine else None
            b = rng.standard_normal(C).astype(dtype) if affine else None
            v, mean, rstd = _C.group_norm_forward(x, G, w, b, 1e-5)
            y, mean2, rstd2 = _C.group_norm_forward(x, G, w, b, 1e-5, "silu")
            assert np.array_equal(y, _C.activation_forward(v, "silu"))
            assert np.array_equal(mean, mean2) and np.array_equal(rstd, rstd2)
            ref = _C.group_norm_forward_reference(x, G, w, b, 1e-5, "silu")
            assert rel_err(y, ref[0]) < tol
            g = _C.activation_backward(dy, v, "silu")
            for mask in ((True, True, True), (True, False, False), (False, True, True)):
                got = _C.group_norm_backward(dy, x, mean, rstd, G, w, mask, b, "silu")
                want = _C.group_norm_backward(g, x, mean, rstd, G, w, mask)
                refs = _C.group_norm_backward_reference(dy, x, mean, rstd, G, w, mask, b, "silu")
                scale = (np.abs(rstd).max(initial=0) * np.abs(g).max(initial=0) *
                         (1 if w is None else np.abs(w).max(initial=0)))
                for a, c, r, m in zip(got, want, refs, mask):
                    assert (a is None) == (not m)
                    if m:
                        assert np.array_equal(a, c), (N, C, S, G, mask)
                        assert np.allclose(a, r, rtol=tol, atol=tol * (scale + np.abs(r).max(initial=0)))


@pytest.mark.parametrize("shape,G", [((4, 6, 5, 3), 3), ((2, 8, 7), 8), ((3, 4), 2)])
def test_group_norm_silu_matches_torch_and_its_gradients_check(torch, shape, G):
    rng = np.random.default_rng(10)
    x, gy = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
    w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    res = []
    for lib, fn in ((torch, lambda F_, *a: F_.silu(F_.group_norm(*a))),
                    (fastnn, lambda F_, *a: F_.group_norm_silu(*a))):
        ts = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = fn(lib.nn.functional, ts[0], G, ts[1], ts[2])
        y.backward(lib.tensor(gy))
        res.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, c in zip(*res):
        assert np.allclose(a, c, rtol=1e-10, atol=1e-12)
    # float32 against float64, and a non-contiguous input
    xt = fastnn.tensor(x.astype(np.float32).swapaxes(0, 1).copy(), requires_grad=True)
    y32 = F.group_norm_silu(xt.transpose(0, 1), G, fastnn.tensor(w.astype(np.float32)),
                            fastnn.tensor(b.astype(np.float32)))
    assert rel_err(y32.detach().numpy(), res[0][0]) < 1e-5
    args = tuple(fastnn.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 4, 3), (4,), (4,)))
    f = lambda x, w, b: F.group_norm_silu(x, 2, w, b)  # noqa: E731
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_group_norm_silu_grad_of_grad_matches_torch(torch):
    rng = np.random.default_rng(11)
    x, w, b, v = rng.standard_normal((3, 6, 4)), rng.standard_normal(6), rng.standard_normal(6), \
        rng.standard_normal((3, 6, 4))
    res = []
    for lib in (torch, fastnn):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        F_ = lib.nn.functional
        y = F_.silu(F_.group_norm(xt, 3, wt, bt)) if lib is torch else F_.group_norm_silu(xt, 3, wt, bt)
        gx, = lib.autograd.grad((y * lib.tensor(v)).sum(), xt, create_graph=True)
        (gx * gx).sum().backward()
        res.append((gx.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()))
    for a, c in zip(*res):
        assert np.allclose(a, c, rtol=1e-9, atol=1e-11)


def test_group_norm_silu_bad_activation():
    x = np.ones((2, 4, 3), np.float32)
    with pytest.raises(ValueError, match="activation"):
        _C.group_norm_forward(x, 2, None, None, 1e-5, "gelu")
    y, mean, rstd = _C.group_norm_forward(x, 2)
    with pytest.raises(ValueError, match="activation"):
        _C.group_norm_backward(x, x, mean, rstd, 2, None, (True, True, True), None, 1)
    with pytest.raises(ValueError, match="bias"):
        _C.group_norm_backward(x, x, mean, rstd, 2, None, (True, True, True), np.ones(3, np.float32), "silu")


def test_group_norm_kernels_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 32, 28 * 28)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(32).astype(np.float32), rng.standard_normal(32).astype(np.float32)
    old = fastnn.get_num_threads()
    res = []
    try:
        for t in (1, 2):
            fastnn.set_num_threads(t)
            y, mean, rstd = _C.group_norm_forward(x, 8, w, b, 1e-5)
            res.append((y, mean, rstd) + _C.group_norm_backward(dy, x, mean, rstd, 8, w))
    finally:
        fastnn.set_num_threads(old)
    for a, c in zip(*res):
        assert np.array_equal(a, c)


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: _C.group_norm_forward(x, 3), ValueError, "num_groups"),
    (lambda x: _C.group_norm_forward(x, 0), ValueError, "num_groups"),
    (lambda x: _C.group_norm_forward(x, -2), ValueError, "num_groups"),
    (lambda x: _C.group_norm_forward(x, 2.0), TypeError, "num_groups"),
    (lambda x: _C.group_norm_forward(x[:, :, ::2], 2), ValueError, "contiguous"),
    (lambda x: _C.group_norm_forward(x.reshape(2, 24), 2), ValueError, "x"),
    (lambda x: _C.group_norm_forward(x, 2, np.ones(3, np.float32)), ValueError, "weight"),
    (lambda x: _C.group_norm_forward(x, 2, None, np.ones(4)), TypeError, "bias"),
    (lambda x: _C.group_norm_forward(x, 2, None, None, -1.0), ValueError, "eps"),
    (lambda x: _C.group_norm_backward(x, x, np.zeros((2, 3), np.float32), np.ones((2, 2), np.float32), 2),
     ValueError, "mean"),
    (lambda x: _C.group_norm_backward(x[:1], x, np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32), 2),
     ValueError, "dy"),
])
def test_group_norm_kernel_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.ones((2, 4, 6), np.float32))


@pytest.mark.parametrize("shape,G", [((64, 32, 28, 28), 8), ((64, 64, 7, 7), 8), ((3, 6, 5), 2), ((4, 8), 4)])
def test_group_norm_unet_shapes_values_and_gradients_match_torch(torch, shape, G):
    rng = np.random.default_rng(4)
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    gy = rng.standard_normal(shape).astype(np.float32)
    w, b = rng.standard_normal(C).astype(np.float32), rng.standard_normal(C).astype(np.float32)
    res = []
    for lib, dt in ((torch, np.float64), (torch, np.float32), (fastnn, np.float32)):
        ts = [lib.tensor(a.astype(dt), requires_grad=True) for a in (x, w, b)]
        y = lib.nn.functional.group_norm(ts[0], G, ts[1], ts[2])
        y.backward(lib.tensor(gy.astype(dt)))
        res.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    # against float64: within PyTorch's own float32 error (dx cancels to near 0 in groups of few values)
    for exact, theirs, ours in zip(*res):
        err_t, err_o = np.abs(theirs - exact).max(), np.abs(ours - exact).max()
        assert err_o <= max(2 * err_t, 1e-6 * np.abs(exact).max())


def test_group_norm_grad_of_grad_matches_torch(torch):
    # under create_graph the backward is written in Tensor ops: a gradient penalty through GroupNorm
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((3, 6, 4)), rng.standard_normal(6), rng.standard_normal(6)
    v = rng.standard_normal((3, 6, 4))
    res = []
    for lib in (torch, fastnn):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        y = (lib.nn.functional.silu(lib.nn.functional.group_norm(xt, 3, wt, bt)) * lib.tensor(v)).sum()
        gx, = lib.autograd.grad(y, xt, create_graph=True)
        (gx * gx).sum().backward()
        res.append((gx.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()))
    for a, c in zip(*res):
        assert np.allclose(a, c, rtol=1e-9, atol=1e-11)


def test_group_norm_channels_last_input_and_gradient_match_torch(torch):
    # a channels-last view in, a transposed (non-contiguous) output gradient back: the kernels get copies
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5, 4, 6)).astype(np.float32)          # (N, H, W, C)
    gy = rng.standard_normal((3, 6, 5, 4)).astype(np.float32)
    w, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    res = []
    for lib in (torch, fastnn):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        y = lib.nn.functional.group_norm(xt.permute(0, 3, 1, 2), 3, wt, bt)
        y.backward(lib.tensor(gy.transpose(0, 1, 3, 2).copy()).transpose(2, 3))
        res.append((y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()))
    for a, c in zip(*res):
        assert rel_err(a, c) < 1e-5


def test_group_norm_parameter_gradients_only():
    # input without requires_grad: only dweight / dbias are asked of the kernel
    rng = np.random.default_rng(6)
    m = nn.GroupNorm(2, 4)
    x = fastnn.tensor(rng.standard_normal((3, 4, 5)).astype(np.float32))
    m(x).sum().backward()
    assert m.weight.grad.shape == (4,) and np.allclose(m.bias.grad.numpy(), 15.0)


INSTANCE_CASES = [
    ("InstanceNorm1d", (3,), {}, (2, 3, 5)),
    ("InstanceNorm1d", (4,), {"affine": True}, (4, 6)),               # unbatched (C, L)
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}, (2, 3, 4, 5)),
    ("InstanceNorm2d", (2,), {"track_running_stats": True, "momentum": 0.3}, (2, 5, 3)),  # unbatched
    ("InstanceNorm2d", (1,), {"affine": True, "bias": False}, (1, 1, 1, 2)),
    ("InstanceNorm3d", (2,), {"affine": True, "track_running_stats": True, "momentum": None}, (2, 2, 2, 3, 2)),
    ("InstanceNorm3d", (5,), {"eps": 1e-3}, (3, 5, 1, 7, 1)),
]


@pytest.mark.parametrize("kind,args,kwargs,shape", INSTANCE_CASES)
@pytest.mark.parametrize("training", [True, False])
def test_instance_norm_layer_matches_torch(torch, kind, args, kwargs, shape, training):
    tm, fm = pair(torch, kind, *args, **kwargs)
    tm.train(training), fm.train(training)
    x = (np.random.default_rng(1).standard_normal(shape) * 2 - 1).astype(np.float32)
    for _ in range(2):  # the second call sees the running statistics the first one updated
        check_layer(torch, tm, fm, x)
        for p in list(tm.parameters()) + list(fm.parameters()):
            p.grad = None
    assert repr(fm) == repr(tm)
    if "num_batches_tracked" in tm.state_dict():
        assert int(fm.num_batches_tracked.item()) == int(tm.num_batches_tracked.item())


def test_instance_norm_functional_running_stats(torch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 6)).astype(np.float64)
    rm, rv = rng.standard_normal(4), rng.random(4) + 0.5
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    for use in (True, False):
        trm, trv = torch.tensor(rm), torch.tensor(rv)
        frm, frv = fastnn.tensor(rm), fastnn.tensor(rv)
        ty = torch.nn.functional.instance_norm(torch.tensor(x), trm, trv, torch.tensor(w), torch.tensor(b),
                                               use_input_stats=use, momentum=0.2, eps=1e-4)
        fy = F.instance_norm(fastnn.tensor(x), frm, frv, fastnn.tensor(w), fastnn.tensor(b),
                             use_input_stats=use, momentum=0.2, eps=1e-4)
        assert rel_err(fy.numpy(), ty.numpy()) < 1e-12
        assert rel_err(frm.numpy(), trm.numpy()) < 1e-12
        assert rel_err(frv.numpy(), trv.numpy()) < 1e-12


def test_instance_norm_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(2)
    x = fastnn.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = fastnn.tensor(rng.standard_normal(3), requires_grad=True)
    b = fastnn.tensor(rng.standard_normal(3), requires_grad=True)
    f = lambda x, w, b: F.instance_norm(x, weight=w, bias=b)  # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_instance_norm_errors():
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(fastnn.randn(2, 3))
    with pytest.raises(ValueError, match=r"dim=1 to match num_features \(3\), but got: 4"):
        nn.InstanceNorm2d(3, affine=True)(fastnn.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(fastnn.randn(2, 3, 1))
    with pytest.raises(RuntimeError, match="running_mean and running_var to be defined"):
        F.instance_norm(fastnn.randn(2, 3, 4), use_input_stats=False)
    with pytest.raises(RuntimeError, match="weight"):
        F.instance_norm(fastnn.randn(2, 3, 4), weight=fastnn.ones(4))
