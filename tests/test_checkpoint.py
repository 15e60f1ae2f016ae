"""fastnn.utils.checkpoint: the same gradients as without it (dropout included: the random state is
restored for the recomputation), less memory held between forward and backward, parameters reached
by backward() and by autograd.grad, gradients of gradients."""
import tracemalloc

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from fastnn.utils.checkpoint import checkpoint, checkpoint_sequential


def _blocks(n=6, width=64):
    fastnn.manual_seed(0)
    return [nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Dropout(0.2), nn.Linear(width, width), nn.Tanh())
            for _ in range(n)]


def _run(blocks, x0, use_checkpoint):
    """(bytes held after the forward, input grad, parameter grads)."""
    for b in blocks:
        b.zero_grad()
    fastnn.manual_seed(1)
    x = x0.clone().requires_grad_()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    h = x
    for b in blocks:
        h = checkpoint(b, h, use_reentrant=False) if use_checkpoint else b(h)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    (h * h).sum().backward()
    return held, x.grad.numpy().copy(), [p.grad.numpy().copy() for b in blocks for p in b.parameters()]


def test_checkpoint_same_gradients_less_memory():
    blocks = _blocks()
    x0 = fastnn.randn(96, 64)
    held_plain, gx_plain, gp_plain = _run(blocks, x0, False)
    held_ckpt, gx_ckpt, gp_ckpt = _run(blocks, x0, True)
    np.testing.assert_array_equal(gx_ckpt, gx_plain)
    for a, b in zip(gp_ckpt, gp_plain):
        np.testing.assert_array_equal(a, b)
    # each plain block keeps ~5 activations of 96 x 64 floats; a checkpointed one keeps only its output
    assert held_ckpt < 0.4 * held_plain, (held_ckpt, held_plain)


def test_checkpoint_random_state_moves_on():
    block = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))
    x = fastnn.randn(4, 8, requires_grad=True)
    fastnn.manual_seed(2)
    y = checkpoint(block, x, use_reentrant=True)
    after_forward = fastnn.rand(3).numpy()
    fastnn.manual_seed(2)
    y2 = checkpoint(block, x, use_reentrant=True)
    y2.sum().backward()                      # the recomputation restores, then puts back, the state
    np.testing.assert_array_equal(fastnn.rand(3).numpy(), after_forward)
    np.testing.assert_array_equal(y.detach().numpy(), y2.detach().numpy())


def test_checkpoint_autograd_grad_kwargs_tuples_and_no_input_grad():
    lin = nn.Linear(5, 5)
    x = fastnn.randn(3, 5)                   # does not require grad: parameters still get gradients

    def f(a, scale, *, shift=0.0):
        y = lin(a) * scale + shift
        return y, y.detach(), "tag"
    y, y_const, tag = checkpoint(f, x, 2.0, shift=1.0, use_reentrant=False)
    assert tag == "tag" and not y_const.requires_grad
    gw, gb = fastnn.autograd.grad(y.sum(), (lin.weight, lin.bias))
    ref_w, ref_b = fastnn.autograd.grad((lin(x) * 2.0 + 1.0).sum(), (lin.weight, lin.bias))
    np.testing.assert_allclose(gw.numpy(), ref_w.numpy(), rtol=1e-6)
    np.testing.assert_allclose(gb.numpy(), ref_b.numpy(), rtol=1e-6)
    assert lin.weight.grad is None


def test_checkpoint_gradients_of_gradients():
    lin = nn.Linear(4, 1)
    x = fastnn.randn(6, 4, dtype=fastnn.float32, requires_grad=True)

    def penalty(use):
        out = checkpoint(lambda a: lin(a).tanh(), x, use_reentrant=False) if use else lin(x).tanh()
        (g,) = fastnn.autograd.grad(out.sum(), (x,), create_graph=True)
        return fastnn.autograd.grad((g * g).sum(), (lin.weight,))[0].numpy()
    np.testing.assert_allclose(penalty(True), penalty(False), rtol=1e-5, atol=1e-7)


def test_checkpoint_transformer_layer_and_sequential(rng):
    fastnn.manual_seed(3)
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True)
    x0 = fastnn.tensor(rng.standard_normal((2, 5, 16)).astype(np.float32))
    grads = []
    for use in (False, True):
        layer.zero_grad()
        fastnn.manual_seed(9)
        x = x0.clone().requires_grad_()
        out = checkpoint(layer, x, use_reentrant=False) if use else layer(x)
        out.pow(2).sum().backward()
        grads.append([x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    seq = nn.Sequential(*[nn.Linear(6, 6) for _ in range(4)])
    x = fastnn.randn(2, 6, requires_grad=True)
    checkpoint_sequential(seq, 2, x).sum().backward()
    g1 = x.grad.numpy().copy()
    x.grad = None
    seq(x).sum().backward()
    np.testing.assert_allclose(g1, x.grad.numpy(), rtol=1e-6)


def test_checkpoint_without_grad_mode_and_errors():
    lin = nn.Linear(3, 3)
    with fastnn.no_grad():
        y = checkpoint(lin, fastnn.randn(2, 3), use_reentrant=False)
    assert not y.requires_grad
    with pytest.raises(TypeError, match="callable"):
        checkpoint(3, fastnn.randn(2))
