"""Autograd semantics: accumulation, retain_graph, create_graph, autograd.grad (vs PyTorch), hooks,
no_grad, custom Functions, repeated indices, deep graphs and error messages."""
import json

import numpy as np
import pytest

import fastnn
from fastnn.autograd import Function, GradcheckError, gradcheck, gradgradcheck


def t64(a, rg=True):
    return fastnn.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg)


def test_accumulates_over_backward_calls():
    x = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_grad_used_twice_in_graph():
    x = fastnn.tensor([2.0], requires_grad=True)
    y = x * x * x + x          # two paths through x
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [13.0])


def test_retain_graph():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_nonscalar_needs_gradient():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        y.backward()
    y.backward(fastnn.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(fastnn.tensor([1.0, 2.0, 3.0]))


def test_backward_without_grad_raises():
    x = fastnn.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.sum().backward()


def test_broadcast_gradients_reduced_to_input_shape():
    a = fastnn.randn(3, 1, dtype=fastnn.float64, requires_grad=True)
    b = fastnn.randn(4, dtype=fastnn.float64, requires_grad=True)
    c = fastnn.randn(2, 3, 4, dtype=fastnn.float64, requires_grad=True)
    (a * b + c).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,) and c.grad.shape == (2, 3, 4)
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 2 * b.detach().numpy().sum()))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 2 * a.detach().numpy().sum()))


def test_mixed_dtype_grads_have_input_dtypes():
    a = fastnn.ones(3, requires_grad=True)
    b = fastnn.ones(3, dtype=fastnn.float64, requires_grad=True)
    y = a * b
    assert y.dtype == fastnn.float64
    y.sum().backward()
    assert a.grad.dtype == fastnn.float32 and b.grad.dtype == fastnn.float64


def test_leaf_grads_never_alias():
    x = fastnn.ones(3, requires_grad=True)
    y = fastnn.ones(3, requires_grad=True)
    g = fastnn.tensor([1.0, 2.0, 3.0])
    (x + y).backward(g)
    x.grad.mul_(10)
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(g.numpy(), [1.0, 2.0, 3.0])
    w = fastnn.ones(2, 3, requires_grad=True)
    w.sum().backward()     # the gradient of sum is a broadcast view: must be stored writeable
    w.grad.add_(1.0)
    np.testing.assert_allclose(w.grad.numpy(), np.full((2, 3), 2.0))


def test_second_order_scalar():
    x = t64([1.5, -2.0])
    y = (x ** 3).sum()
    (g,) = fastnn.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * np.array([1.5, -2.0]) ** 2)
    (h,) = fastnn.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([1.5, -2.0]))


def test_backward_create_graph_then_grad_of_grad():
    x = t64([0.3, 0.7])
    y = (x.sin() * x).sum()
    y.backward(create_graph=True)
    gx = x.grad
    assert gx.requires_grad
    x.grad = None
    gx.sum().backward()
    xv = np.array([0.3, 0.7])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(xv) - xv * np.sin(xv))


def test_autograd_grad_does_not_touch_dot_grad_and_prunes():
    x = t64([1.0, 2.0])
    w = t64([3.0, 4.0])
    y = (x * w).sum()
    (gx,) = fastnn.autograd.grad(y, [x])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    assert x.grad is None and w.grad is None


def test_autograd_grad_allow_unused_and_nonleaf_inputs():
    x = t64([1.0, 2.0])
    z = t64([5.0])
    h = x * 2
    y = (h * h).sum()
    with pytest.raises(RuntimeError, match="not have been used"):
        fastnn.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = fastnn.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gz is None
    (gh,) = fastnn.autograd.grad(y, h)
    np.testing.assert_allclose(gh.numpy(), 2 * np.array([2.0, 4.0]))


def test_autograd_backward_function_and_inputs():
    x = t64([1.0, 2.0])
    w = t64([3.0, 4.0])
    fastnn.autograd.backward([(x * w).sum()], inputs=[w])
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])


def _critic_params(rng):
    return [rng.standard_normal((8, 4)) * 0.5, rng.standard_normal(8) * 0.1, rng.standard_normal((1, 8)) * 0.5,
            rng.standard_normal(1) * 0.1]


def _wgan_gp(m, params, real, fake, alpha, leaky):
    w1, b1, w2, b2 = params
    x = (alpha * real + (1 - alpha) * fake)
    x.requires_grad_(True)
    h = x @ w1.T + b1
    if leaky:
        h = m.where(h > 0, h, h * 0.2)
    else:
        h = m.tanh(h)
    out = h @ w2.T + b2
    (g,) = m.autograd.grad(out.sum(), x, create_graph=True)
    gp = ((g.norm(2, dim=1) - 1) ** 2).mean()
    loss = out.mean() + 10 * gp
    loss.backward()
    return loss, [p.grad for p in params]


@pytest.mark.parametrize("leaky", [False, True])
def test_wgan_gp_penalty_matches_torch(torch, leaky):
    rng = np.random.default_rng(3)
    params = _critic_params(rng)
    real = rng.standard_normal((5, 4))
    fake = rng.standard_normal((5, 4))
    alpha = rng.uniform(size=(5, 1))
    fp = [fastnn.tensor(p, requires_grad=True) for p in params]
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    fl, fg = _wgan_gp(fastnn, fp, fastnn.tensor(real), fastnn.tensor(fake), fastnn.tensor(alpha), leaky)
    tl, tg = _wgan_gp(torch, tp, torch.tensor(real), torch.tensor(fake), torch.tensor(alpha), leaky)
    np.testing.assert_allclose(fl.item(), tl.item(), rtol=1e-12)
    for a, b in zip(fg, tg):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)


def test_hooks_on_leaf_and_nonleaf():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    hx = x.register_hook(lambda g: g * 10)
    y = x * 3
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    y.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    hx.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fastnn.ones(2).register_hook(lambda g: g)


def test_retain_grad():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [4.0, 8.0])
    z = x * 5
    z.sum().backward()
    assert z.grad is None and not z.is_leaf


def test_no_grad_enable_grad_set_grad_enabled():
    x = fastnn.ones(2, requires_grad=True)
    with fastnn.no_grad():
        y = x * 2
        with fastnn.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @fastnn.no_grad()
    def f(a):
        return a * 2

    @fastnn.no_grad
    def g(a):
        return a * 2
    assert not f(x).requires_grad and not g(x).requires_grad
    assert fastnn.is_grad_enabled()
    with fastnn.set_grad_enabled(False):
        assert not fastnn.is_grad_enabled()
        assert not (x + 1).requires_grad
    assert fastnn.is_grad_enabled()
    fastnn.set_grad_enabled(False)
    assert not fastnn.is_grad_enabled()
    fastnn.set_grad_enabled(True)
    assert fastnn.autograd.no_grad is fastnn.no_grad


def test_detach_and_requires_grad_():
    x = fastnn.ones(2, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    d[0] = 5.0                 # shares storage, like PyTorch
    assert y[0].item() == 5.0
    y.detach_()
    assert y.is_leaf and not y.requires_grad
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        (x * 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating point"):
        fastnn.tensor([1, 2]).requires_grad_()


class _MyExp(Function):
    @staticmethod
    def forward(ctx, x, scale):
        y = fastnn.Tensor._wrap(np.exp(x._data) * scale)
        ctx.save_for_backward(x)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return g * x.exp() * ctx.scale, None


class _SplitTwo(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, ga, gb):
        return ga * 2 + gb * 3


def test_custom_function_forward_backward_and_double_backward():
    x = t64([0.1, 0.5])
    y = _MyExp.apply(x, 2.0)
    assert y.grad_fn is not None and y.grad_fn.name() == "_MyExpBackward0"
    (g,) = fastnn.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * np.exp([0.1, 0.5]))
    (h,) = fastnn.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 2 * np.exp([0.1, 0.5]))
    assert gradcheck(lambda a: _MyExp.apply(a, 2.0), (t64([0.2, 0.3]),))
    assert gradgradcheck(lambda a: _MyExp.apply(a, 2.0), (t64([0.2, 0.3]),))


def test_custom_function_multiple_outputs_and_unused_output():
    x = t64([1.0, 2.0])
    a, b = _SplitTwo.apply(x)
    a.sum().backward()          # b unused: its gradient is zeros
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    x.grad = None
    a, b = _SplitTwo.apply(x)
    (a.sum() + b.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_custom_function_no_grad_inputs_returns_plain_tensor():
    y = _MyExp.apply(fastnn.ones(2, dtype=fastnn.float64), 1.0)
    assert not y.requires_grad


def test_gradcheck_reports_wrong_backward():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x          # should be 2x

    with pytest.raises(GradcheckError, match=r"input 0.*analytical .* vs numerical"):
        gradcheck(Bad.apply, (t64([1.0, 2.0]),))
    assert gradcheck(Bad.apply, (t64([1.0, 2.0]),), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="float64"):
        gradcheck(lambda a: a * 2, (fastnn.ones(2, requires_grad=True),))


def test_repeated_indices_accumulate(torch):
    x = fastnn.arange(6.0).reshape(2, 3).requires_grad_()
    idx = fastnn.tensor([0, 2, 2, 2, 1])
    x[:, idx].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1, 1, 3], [1, 1, 3]])
    e = fastnn.randn(5, 4, requires_grad=True)
    tokens = fastnn.tensor([[1, 1, 4], [0, 1, 1]])
    out = e[tokens]
    w = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    (out * fastnn.tensor(w)).sum().backward()
    te = torch.tensor(e.detach().numpy(), requires_grad=True)
    (te[torch.tensor([[1, 1, 4], [0, 1, 1]])] * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), te.grad.numpy(), rtol=1e-6)


def test_deep_graph_no_recursion_limit():
    x = fastnn.tensor([1.0], dtype=fastnn.float64, requires_grad=True)
    h = x
    for _ in range(5000):
        h = h * 1.0001 + 0.0
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 5000], rtol=1e-9)


def test_rnn_unrolled_matches_torch(torch):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 6)) * 0.3
    U = rng.standard_normal((3, 6)) * 0.3
    xs = rng.standard_normal((200, 2, 3))

    def run(m, W, U, xs):
        h = m.zeros(2, 6, dtype=W.dtype)
        for t in range(xs.shape[0]):
            h = m.tanh(h @ W + xs[t] @ U)
        return (h ** 2).sum()
    fW, fU = fastnn.tensor(W, requires_grad=True), fastnn.tensor(U, requires_grad=True)
    tW, tU = torch.tensor(W, requires_grad=True), torch.tensor(U, requires_grad=True)
    run(fastnn, fW, fU, fastnn.tensor(xs)).backward()
    run(torch, tW, tU, torch.tensor(xs)).backward()
    np.testing.assert_allclose(fW.grad.numpy(), tW.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fU.grad.numpy(), tU.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_inplace_on_leaf_requiring_grad_raises():
    w = fastnn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w[0] = 2.0
    with fastnn.no_grad():
        w.add_(1.0)
        w[0] = 5.0
        w.mul_(2).clamp_(0, 8)
    np.testing.assert_allclose(w.detach().numpy(), [8.0, 4.0, 4.0])


def test_inplace_on_nonleaf_is_differentiable(torch):
    def f(m, x):
        h = x * 2
        h.add_(x * x)
        h[1] = h[0] * 3
        h.mul_(x)
        return h.sum()
    fx = fastnn.tensor([1.0, 2.0, 3.0], dtype=fastnn.float64, requires_grad=True)
    tx = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    f(fastnn, fx).backward()
    f(torch, tx).backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy())


def test_setitem_with_grad_value(torch):
    def f(m, v):
        buf = m.zeros(4, dtype=v.dtype)
        buf[1:3] = v * 2
        return (buf * m.arange(4, dtype=v.dtype)).sum()
    fv = fastnn.tensor([1.0, 2.0], dtype=fastnn.float64, requires_grad=True)
    tv = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    f(fastnn, fv).backward()
    f(torch, tv).backward()
    np.testing.assert_allclose(fv.grad.numpy(), tv.grad.numpy())


def test_grad_fn_names_and_next_functions():
    x = fastnn.ones(2, requires_grad=True)
    y = (x * 2).sum()
    assert y.grad_fn.name() == "SumBackward0"
    (nf, _), = y.grad_fn.next_functions
    assert nf.name() == "MulBackward0"
    assert nf.next_functions[0][0].name() == "AccumulateGrad"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_gradcheck_nonfinite_reported():
    x = t64([0.0, 1.0])
    with pytest.raises(GradcheckError):
        gradcheck(lambda a: a.abs().sqrt(), (x,))


def test_rng_state_json_roundtrip():
    fastnn.manual_seed(5)
    s = fastnn.get_rng_state()
    a = fastnn.rand(3)
    fastnn.set_rng_state(json.loads(json.dumps(s)))
    b = fastnn.rand(3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_grad_mode_is_thread_local():
    import threading
    seen = []
    x = fastnn.ones(2, requires_grad=True)
    with fastnn.no_grad():
        t = threading.Thread(target=lambda: seen.append((x * 2).requires_grad))
        t.start()
        t.join()
        assert not (x * 2).requires_grad
    assert seen == [True]


def test_backward_frees_intermediates_and_duplicate_inputs():
    import weakref
    w = fastnn.randn(50, 50, requires_grad=True)
    h = (w * 2).relu()
    ref = weakref.ref(h)
    loss = (h * 3).sum()
    del h
    loss.backward()
    assert ref() is None          # the graph no longer holds activations once backward has run
    y = (w * w).sum()
    g1, g2 = fastnn.autograd.grad(y, [w, w])
    np.testing.assert_allclose(g1.numpy(), g2.numpy())


def test_functional_jacobian_hessian_vjp(torch):
    a = np.array([0.3, -1.2, 2.0])
    f = lambda m: (lambda x: (x ** 3).sum() + (x[0] * x[1]))  # noqa: E731
    h = fastnn.autograd.functional.hessian(f(fastnn), fastnn.tensor(a))
    th = torch.autograd.functional.hessian(f(torch), torch.tensor(a))
    np.testing.assert_allclose(h.numpy(), th.numpy())
    g = lambda m: (lambda x: m.tanh(x) * x[0])  # noqa: E731
    j = fastnn.autograd.functional.jacobian(g(fastnn), fastnn.tensor(a))
    tj = torch.autograd.functional.jacobian(g(torch), torch.tensor(a))
    np.testing.assert_allclose(j.numpy(), tj.numpy())
    out, v = fastnn.autograd.functional.vjp(g(fastnn), fastnn.tensor(a), fastnn.tensor([1.0, 2.0, 3.0],
                                                                                     dtype=fastnn.float64))
    np.testing.assert_allclose(v.numpy(), np.array([1.0, 2.0, 3.0]) @ tj.numpy())


def test_zero_and_fill_on_graph_tensor_are_recorded():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.zero_()
    (h + x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("vals", [[2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, 3.0, 0.5]])
def test_prod_gradient_with_zeros_matches_torch(torch, vals):
    a = np.array(vals).reshape(2, 2)
    for dim in (None, 0, 1):
        fx = fastnn.tensor(a, requires_grad=True)
        tx = torch.tensor(a, requires_grad=True)
        (fx.prod() if dim is None else fx.prod(dim)).sum().backward()
        (tx.prod() if dim is None else tx.prod(dim)).sum().backward()
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), err_msg=f"dim={dim}")


def test_grad_kept_by_a_hook_is_not_mutated_by_accumulation():
    w = fastnn.ones(3, requires_grad=True)
    kept = []
    w.register_hook(lambda g: kept.append(g))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert kept[0].tolist() == [2.0, 2.0, 2.0] and kept[1].tolist() == [3.0, 3.0, 3.0]
    assert w.grad.tolist() == [5.0, 5.0, 5.0]
    with fastnn.no_grad():
        w.grad.mul_(0)
    assert kept[0].tolist() == [2.0, 2.0, 2.0]


def test_fresh_gradients_are_not_copied():
    # the weight gradient of x @ w.T is the transpose of a fresh matmul result: it is stored as that
    # (non-contiguous) view rather than copied
    x = fastnn.randn(4, 3)
    w = fastnn.randn(5, 3, requires_grad=True)
    (x @ w.T).relu().sum().backward()
    assert w.grad._data.base is not None and not w.grad._data.flags.c_contiguous
    expected = ((x @ w.T).detach()._data > 0).astype(np.float32).T @ x._data
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("vals", [[2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, 0.0, 0.5]])
def test_cumprod_gradient_with_zeros_matches_torch(torch, vals):
    a = np.array(vals + vals[::-1]).reshape(2, 4)
    w = np.arange(8.0).reshape(2, 4)
    for dim in (0, 1):
        fx = fastnn.tensor(a, requires_grad=True)
        tx = torch.tensor(a, requires_grad=True)
        (fx.cumprod(dim) * fastnn.tensor(w)).sum().backward()
        (tx.cumprod(dim) * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), err_msg=f"dim={dim}")


def test_modified_saved_tensor_raises_like_torch(torch):
    for m in (torch, fastnn):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        y = h * h                 # mul needs h's value for its backward
        h.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    # ops that do not need the value are fine, as in PyTorch
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = h + 1.0
    h.mul_(3.0)
    (y.sum() + h.sum()).backward()
    assert x.grad.tolist() == [8.0, 8.0]


def test_split_and_chunk_gradients_through_one_node(torch):
    """split/chunk record one node for all pieces: pieces without a gradient contribute zeros, uneven sizes
    and dims other than 0 work, and gradients of gradients flow through the concatenating backward."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 7))
    x, tx = fastnn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    p, tp = x.split([2, 4, 1], dim=1), tx.split([2, 4, 1], dim=1)
    assert p[0].grad_fn is p[2].grad_fn
    (p[0].sum() * 3 + (p[2] * p[2]).sum()).backward()
    (tp[0].sum() * 3 + (tp[2] * tp[2]).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    x.grad = None
    q, r = x.chunk(2, dim=0)
    (q * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.r_[np.full((2, 7), 2.0), np.zeros((2, 7))])
    assert gradcheck(lambda t: t.chunk(3, dim=1)[1] * t.chunk(3, dim=1)[2][:, :2], [x])
    assert gradgradcheck(lambda t: t.split([3, 4], dim=1)[1] ** 3, [x])


def test_post_accumulate_grad_hooks_fire_during_backward_in_order():
    """A leaf's post-accumulate-grad hook fires once its .grad is final, before the leaves closer to the
    input are done; queued callbacks run after every leaf; values equal the plain backward."""
    from fastnn import nn
    from fastnn._autograd_engine import queue_callback
    fastnn.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    x = fastnn.randn(7, 4)
    m(x).pow(2).sum().backward()
    ref = [p.grad.numpy().copy() for p in m.parameters()]
    for p in m.parameters():
        p.grad = None
    events, handles = [], []
    for i, p in enumerate(m.parameters()):
        handles.append(p.register_post_accumulate_grad_hook(
            lambda t, i=i: events.append((i, t.grad is not None, all(q.grad is None for q in list(m.parameters())[:2])))))
    first = list(m.parameters())[0]
    handles.append(first.register_hook(lambda g: queue_callback(lambda: events.append("end"))))
    m(x).pow(2).sum().backward()
    assert events[-1] == "end" and len(events) == 5
    # the last layer's hooks fire while the first layer still has no gradient
    assert {e[0] for e in events[:2]} == {2, 3} and all(e[1] and e[2] for e in events[:2])
    for p, r in zip(m.parameters(), ref):
        np.testing.assert_array_equal(p.grad.numpy(), r)
    for h in handles:
        h.remove()
    events.clear()
    m(x).sum().backward()
    assert events == []


def test_post_accumulate_grad_hook_errors_and_accumulation():
    from fastnn._autograd_engine import queue_callback
    a = fastnn.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (a * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fastnn.randn(3).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="no backward pass"):
        queue_callback(lambda: None)
    seen = []
    a.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    # used twice: the hook fires once, with both contributions summed
    (a * a + a).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * a.detach().numpy() + 1, rtol=1e-6)
    (a * 3).sum().backward()
    np.testing.assert_allclose(seen[1], 2 * a.detach().numpy() + 4, rtol=1e-6)
    # autograd.grad accumulates nothing: no hook
    fastnn.autograd.grad((a * 2).sum(), [a])
    assert len(seen) == 2
    # a hook never removed stops counting once its tensor is gone (later passes leave the leaf tracking)
    import gc
    from fastnn._autograd_engine import _state
    live = _state.post_hooks
    b = fastnn.randn(2, requires_grad=True)
    b.register_post_accumulate_grad_hook(lambda t: None)
    assert _state.post_hooks == live + 1
    del a, b
    gc.collect()
    assert _state.post_hooks == live - 1
