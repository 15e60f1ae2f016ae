"""Spectral normalisation (nn.utils.parametrizations.spectral_norm over nn.utils.parametrize, and the legacy
nn.utils.spectral_norm hook) against PyTorch: state dict keys and loading, the normalised weight, the power
iteration's update in training mode and none in eval mode, gradients, and gradients of gradients."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.autograd import gradcheck, gradgradcheck
from fastnn.nn.utils import parametrize
from torch_compare import fastnn_state, rel_err


LAYERS = [
    ("Linear", (5, 3), {}, (4, 5)),
    ("Linear", (1, 1), {}, (2, 1)),
    ("Linear", (7, 2), {"bias": False}, (3, 7)),
    ("Conv2d", (3, 4, 3), {"padding": 1}, (2, 3, 6, 5)),
    ("Conv2d", (2, 1, 1), {}, (1, 2, 3, 3)),
    ("Conv1d", (3, 5, 2), {}, (2, 3, 7)),
    ("ConvTranspose2d", (4, 2, 3), {"stride": 2}, (2, 4, 3, 3)),
    ("ConvTranspose1d", (3, 5, 3), {}, (2, 3, 4)),
]


def pair(torch, kind, args, kwargs, legacy=False, **sn):
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(*args, **kwargs).double()
    fm = getattr(nn, kind)(*args, **kwargs).double()
    if legacy:
        tm, fm = torch.nn.utils.spectral_norm(tm, **sn), nn.utils.spectral_norm(fm, **sn)
    else:
        tm = torch.nn.utils.parametrizations.spectral_norm(tm, **sn)
        fm = nn.utils.parametrizations.spectral_norm(fm, **sn)
    assert list(fm.state_dict()) == list(tm.state_dict())
    res = fm.load_state_dict(fastnn_state(tm.state_dict()))
    assert not res.missing_keys and not res.unexpected_keys
    return tm, fm


def check_step(torch, tm, fm, x, training):
    tm.train(training), fm.train(training)
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    ty, fy = tm(tx), fm(fx)
    assert rel_err(fy.detach().numpy(), ty.detach().numpy()) < 1e-10
    w = np.random.default_rng(3).standard_normal(ty.shape)
    (ty * torch.tensor(w)).sum().backward()
    (fy * fastnn.tensor(w)).sum().backward()
    assert rel_err(fx.grad.numpy(), tx.grad.numpy()) < 1e-10
    tparams, fparams = dict(tm.named_parameters()), dict(fm.named_parameters())
    assert sorted(tparams) == sorted(fparams)
    for name in tparams:
        assert rel_err(fparams[name].grad.numpy(), tparams[name].grad.numpy()) < 1e-10, name
    tsd, fsd = tm.state_dict(), fm.state_dict()
    for k in tsd:
        assert rel_err(fsd[k].numpy(), tsd[k].numpy()) < 1e-10, k


@pytest.mark.parametrize("kind,args,kwargs,shape", LAYERS)
@pytest.mark.parametrize("legacy", [False, True])
def test_spectral_norm_matches_torch(torch, kind, args, kwargs, shape, legacy):
    tm, fm = pair(torch, kind, args, kwargs, legacy)
    x = np.random.default_rng(1).standard_normal(shape)
    for training in (True, True, False):  # two power-iteration updates, then eval mode (no update)
        before = {k: v.numpy().copy() for k, v in fm.state_dict().items()}
        check_step(torch, tm, fm, x, training)
        u_key = "weight_u" if legacy else "parametrizations.weight.0._u"
        if not training:
            assert np.array_equal(fm.state_dict()[u_key].numpy(), before[u_key])
    if not legacy:
        w = fm.weight.detach().numpy()
        wm = np.moveaxis(w, 1 if "Transpose" in kind else 0, 0).reshape(w.shape[1 if "Transpose" in kind else 0], -1)
        assert abs(np.linalg.svd(wm, compute_uv=False)[0] - 1) < 0.2


def test_parametrization_structure_and_options(torch):
    fm = nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3), n_power_iterations=3, eps=1e-6)
    assert parametrize.is_parametrized(fm) and parametrize.is_parametrized(fm, "weight")
    assert not parametrize.is_parametrized(fm, "bias")
    assert isinstance(fm.parametrizations.weight.original, nn.Parameter)
    assert type(fm).__name__ == "ParametrizedLinear" and isinstance(fm, nn.Linear)
    assert parametrize.type_before_parametrizations(fm) is nn.Linear
    assert sorted(n for n, _ in fm.named_parameters()) == ["bias", "parametrizations.weight.original"]
    other = nn.Linear(4, 3)
    assert not hasattr(type(other), "weight") or not isinstance(getattr(type(other), "weight", None), property)
    with parametrize.cached():
        assert fm.weight is fm.weight
    assert fm.weight is not fm.weight
    # assigning runs right_inverse (the identity) into original
    fm.eval()
    fm.weight = fastnn.ones(3, 4)
    assert np.array_equal(fm.parametrizations.weight.original.detach().numpy(), np.ones((3, 4), np.float32))
    normalised = fm.weight.detach().numpy()
    parametrize.remove_parametrizations(fm, "weight")
    assert type(fm) is nn.Linear and not parametrize.is_parametrized(fm)
    assert isinstance(fm.weight, nn.Parameter) and np.allclose(fm.weight.detach().numpy(), normalised)
    tm = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(4, 3))
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    assert list(fm.state_dict()) == list(tm.state_dict())


def test_u_v_initialisation_is_unit_and_converged(torch):
    fastnn.manual_seed(3)
    fm = nn.utils.parametrizations.spectral_norm(nn.Linear(8, 6).double())
    u = fm.parametrizations.weight[0]._u.numpy()
    v = fm.parametrizations.weight[0]._v.numpy()
    assert abs(np.linalg.norm(u) - 1) < 1e-12 and abs(np.linalg.norm(v) - 1) < 1e-12
    w = fm.parametrizations.weight.original.detach().numpy()
    # after 15 power iterations at registration uᵀWv is close to the largest singular value
    assert abs(u @ w @ v - np.linalg.svd(w, compute_uv=False)[0]) < 0.05 * np.linalg.svd(w, compute_uv=False)[0]


def test_errors():
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'nope'"):
        nn.utils.parametrizations.spectral_norm(nn.Linear(2, 2), name="nope")
    with pytest.raises(IndexError, match="Dimension out of range"):
        nn.utils.parametrizations.spectral_norm(nn.Linear(2, 2), dim=2)
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        nn.utils.parametrizations.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(nn.Linear(2, 2), "weight")
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        nn.utils.spectral_norm(nn.utils.spectral_norm(nn.Linear(2, 2)))


@pytest.mark.parametrize("kind,args,shape", [("Linear", (3, 2), (2, 3)), ("Conv2d", (2, 2, 2), (1, 2, 3, 3))])
def test_gradcheck_and_gradgradcheck_through_spectral_norm(kind, args, shape):
    m = nn.utils.parametrizations.spectral_norm(getattr(nn, kind)(*args).double()).eval()
    original = m.parametrizations.weight.original
    x = fastnn.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda x, w: _forward_with_weight(m, x, w), (x, original.detach().requires_grad_()))
    assert gradgradcheck(lambda x, w: _forward_with_weight(m, x, w), (x, original.detach().requires_grad_()))


def _forward_with_weight(m, x, w):
    """The layer's output with ``w`` as the unnormalised weight (the spectral norm applied to it)."""
    wn = m.parametrizations.weight[0](w)
    if x.ndim == 2:
        return nn.functional.linear(x, wn, m.bias)
    return nn.functional.conv2d(x, wn, m.bias)


def test_gradient_penalty_through_spectral_norm_critic_matches_torch(torch):
    """WGAN-GP's penalty ‖∂D/∂x‖ through a spectrally normalised Conv2d/LeakyReLU/Linear critic: the
    parameter gradients of the penalty equal PyTorch's."""
    def build(lib, mod):
        torch.manual_seed(0)
        return lib.nn.Sequential(mod.utils.parametrizations.spectral_norm(lib.nn.Conv2d(1, 3, 3, stride=2)),
                                 lib.nn.LeakyReLU(0.2), lib.nn.Flatten(),
                                 mod.utils.parametrizations.spectral_norm(lib.nn.Linear(12, 1))).double()
    tm = build(torch, torch.nn)
    fm = build(fastnn, nn)
    fm.load_state_dict(fastnn_state(tm.state_dict()))
    x = np.random.default_rng(2).standard_normal((3, 1, 5, 5))
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    tg, = torch.autograd.grad(tm(tx).sum(), tx, create_graph=True)
    fg, = fastnn.autograd.grad(fm(fx).sum(), fx, create_graph=True)
    assert rel_err(fg.detach().numpy(), tg.detach().numpy()) < 1e-10
    ((tg.flatten(1).norm(dim=1) - 1) ** 2).mean().backward()
    ((fg.reshape(3, -1).norm(dim=1) - 1) ** 2).mean().backward()
    tparams, fparams = dict(tm.named_parameters()), dict(fm.named_parameters())
    assert sorted(tparams) == sorted(fparams)
    for name in tparams:
        if tparams[name].grad is None or not tparams[name].grad.any():
            # biases do not reach the penalty: None or zeros (PyTorch gives zeros through LeakyReLU's mask)
            assert fparams[name].grad is None or not fparams[name].grad.numpy().any(), name
            continue
        assert rel_err(fparams[name].grad.numpy(), tparams[name].grad.numpy()) < 1e-9, name
