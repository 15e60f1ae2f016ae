"""Helpers of the tests that compare a fastnn layer with PyTorch's on the same weights and data."""
import numpy as np

import fastnn
from fastnn import nn


def rel_err(got, ref):
    """Relative error, absolute below a norm of 1 (an input gradient that is rounding noise, as LayerNorm's
    at C=1, is compared in absolute terms)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    return np.linalg.norm((got - ref).ravel()) / max(np.linalg.norm(ref.ravel()), 1.0)


def close_outputs(got, ref, dtype):
    """A kernel's outputs (a tuple whose entries may be None) against its reference's: the same Nones,
    dtypes and shapes, values within float32/float64 rounding."""
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for g, r in zip(got, ref):
        assert (g is None) == (r is None)
        if r is not None:
            assert g.dtype == r.dtype and g.shape == r.shape
            if r.size:
                assert rel_err(g, r) < tol


def fastnn_state(state_dict):
    """A PyTorch state dict as fastnn tensors."""
    return {k: fastnn.tensor(v.detach().numpy()) for k, v in state_dict.items()}


def layer_pair(torch, kind, *args, **kwargs):
    """The same layer in both libraries: PyTorch's parameters (and running statistics) randomised, then loaded
    into fastnn's."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(*args, **kwargs)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn_like(p))
        for name, b in tm.named_buffers():
            if name == "running_var":
                b.copy_(torch.rand_like(b) + 0.5)
            elif name == "running_mean":
                b.copy_(torch.randn_like(b))
    fm = getattr(nn, kind)(*args, **kwargs)
    missing, unexpected = fm.load_state_dict(fastnn_state(tm.state_dict()))
    assert not missing and not unexpected
    return tm, fm


def check_layer(torch, tm, fm, x, tol=1e-4):
    """Output, the gradients (input and parameters) of one random weighting of the output, and the buffers
    (running statistics) after the call, within ``tol`` of PyTorch's."""
    tx = torch.tensor(x, requires_grad=True)
    fx = fastnn.tensor(x, requires_grad=True)
    ty, fy = tm(tx), fm(fx)
    assert rel_err(fy.detach().numpy(), ty.detach().numpy()) < tol
    w = np.random.default_rng(3).standard_normal(tuple(ty.shape)).astype(x.dtype)
    (ty * torch.tensor(w)).sum().backward()
    (fy * fastnn.tensor(w)).sum().backward()
    assert rel_err(fx.grad.numpy(), tx.grad.numpy()) < tol
    for (name, tp), (_, fp) in zip(tm.named_parameters(), fm.named_parameters()):
        assert rel_err(fp.grad.numpy(), tp.grad.numpy()) < tol, name
    for (name, tb), (_, fb) in zip(tm.named_buffers(), fm.named_buffers()):
        assert rel_err(fb.numpy(), tb.numpy()) < tol, name
