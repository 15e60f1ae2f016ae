"""nn.LayerNorm / nn.RMSNorm and F.layer_norm / F.rms_norm against PyTorch (values, gradients, state dicts,
error messages), gradcheck and gradgradcheck in float64."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.autograd import gradcheck, gradgradcheck
import fastnn.nn.functional as F


def rel_err(got, ref):
    """Relative error, absolute below a norm of 1 (LayerNorm's input gradient at C=1 is rounding noise)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    return np.linalg.norm((got - ref).ravel()) / max(np.linalg.norm(ref.ravel()), 1.0)


def pair(torch, kind, *args, **kwargs):
    """The same layer in both libraries, fastnn's parameters loaded from PyTorch's randomised state dict."""
    tm = getattr(torch.nn, kind)(*args, **kwargs)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn_like(p))
    fm = getattr(nn, kind)(*args, **kwargs)
    missing, unexpected = fm.load_state_dict({k: fastnn.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    assert not missing and not unexpected
    return tm, fm


def check_layer(torch, tm, fm, x, tol=1e-4):
    """Output and the gradients (input and parameters) of one random weighting of the output."""
    tx = torch.tensor(x, requires_grad=True)
    fx = fastnn.tensor(x, requires_grad=True)
    ty, fy = tm(tx), fm(fx)
    assert rel_err(fy.detach().numpy(), ty.detach().numpy()) < tol
    w = np.random.default_rng(3).standard_normal(x.shape).astype(x.dtype)
    (ty * torch.tensor(w)).sum().backward()
    (fy * fastnn.tensor(w)).sum().backward()
    assert rel_err(fx.grad.numpy(), tx.grad.numpy()) < tol
    for (name, tp), (_, fp) in zip(tm.named_parameters(), fm.named_parameters()):
        assert rel_err(fp.grad.numpy(), tp.grad.numpy()) < tol, name


LAYER_CASES = [
    ("LayerNorm", (16,), {}, (4, 7, 16)),
    ("LayerNorm", ((5, 6),), {}, (3, 5, 6)),
    ("LayerNorm", ([2, 3, 4],), {"eps": 1e-3}, (2, 2, 3, 4)),
    ("LayerNorm", (8,), {"bias": False}, (5, 8)),
    ("LayerNorm", (8,), {"elementwise_affine": False}, (5, 8)),
    ("LayerNorm", (1,), {}, (6, 1)),
    ("LayerNorm", (33,), {}, (1, 33)),
    ("RMSNorm", (16,), {}, (4, 7, 16)),
    ("RMSNorm", ((5, 6),), {"eps": 1e-4}, (3, 5, 6)),
    ("RMSNorm", (8,), {"elementwise_affine": False}, (5, 8)),
    ("RMSNorm", (1,), {}, (6, 1)),
]


@pytest.mark.parametrize("kind,args,kwargs,shape", LAYER_CASES)
def test_layer_matches_torch(torch, rng, kind, args, kwargs, shape):
    tm, fm = pair(torch, kind, *args, **kwargs)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    check_layer(torch, tm, fm, x)


@pytest.mark.parametrize("kind", ["LayerNorm", "RMSNorm"])
def test_layer_float64(torch, rng, kind):
    tm, fm = pair(torch, kind, 12)
    tm, fm = tm.double(), fm.double()
    check_layer(torch, tm, fm, rng.standard_normal((9, 12)), tol=1e-10)


@pytest.mark.parametrize("kind", ["LayerNorm", "RMSNorm"])
def test_non_contiguous_input(torch, rng, kind):
    tm, fm = pair(torch, kind, 10)
    base = rng.standard_normal((10, 6, 3)).astype(np.float32)
    ty = tm(torch.tensor(base).transpose(0, 2))
    fy = fm(fastnn.tensor(base).transpose(0, 2))
    assert rel_err(fy.detach().numpy(), ty.detach().numpy()) < 1e-4


@pytest.mark.parametrize("kind", ["LayerNorm", "RMSNorm"])
def test_zero_rows(torch, kind):
    tm, fm = pair(torch, kind, 4)
    x = fastnn.zeros(0, 4, requires_grad=True)
    y = fm(x)
    assert tuple(y.shape) == (0, 4)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 4)
    assert np.all(fm.weight.grad.numpy() == 0)


@pytest.mark.parametrize("kind,kwargs", [("LayerNorm", {}), ("LayerNorm", {"bias": False}),
                                         ("LayerNorm", {"elementwise_affine": False}), ("RMSNorm", {}),
                                         ("RMSNorm", {"eps": 1e-6, "elementwise_affine": False})])
def test_repr_and_state_dict(torch, kind, kwargs):
    tm = getattr(torch.nn, kind)((3, 4), **kwargs)
    fm = getattr(nn, kind)((3, 4), **kwargs)
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert np.array_equal(fm.state_dict()[k].numpy(), v.numpy()), k
    assert fm.normalized_shape == tm.normalized_shape and fm.eps == tm.eps
    # and back: fastnn's state dict loads into PyTorch
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in fm.state_dict().items()})


def test_dtype_argument():
    m = nn.LayerNorm(4, dtype=fastnn.float64)
    assert m.weight.dtype == fastnn.float64 and m.bias.dtype == fastnn.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_default_eps(torch, rng, dtype):
    # a tiny input makes eps matter: None means the dtype's machine epsilon, as in PyTorch
    x = (rng.standard_normal((3, 5)) * 1e-4).astype(dtype)
    ty = torch.nn.functional.rms_norm(torch.tensor(x), (5,))
    fy = F.rms_norm(fastnn.tensor(x), (5,))
    assert rel_err(fy.numpy(), ty.numpy()) < 1e-5


def test_functional_with_params(torch, rng):
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    w, b = rng.standard_normal((3, 5)).astype(np.float32), rng.standard_normal((3, 5)).astype(np.float32)
    T = torch.nn.functional
    assert rel_err(F.layer_norm(fastnn.tensor(x), (3, 5), fastnn.tensor(w), fastnn.tensor(b), 1e-3).numpy(),
                   T.layer_norm(torch.tensor(x), (3, 5), torch.tensor(w), torch.tensor(b), 1e-3).numpy()) < 1e-5
    assert rel_err(F.layer_norm(fastnn.tensor(x), [5], bias=fastnn.tensor(b[0])).numpy(),
                   T.layer_norm(torch.tensor(x), [5], bias=torch.tensor(b[0])).numpy()) < 1e-5
    assert rel_err(F.rms_norm(fastnn.tensor(x), (3, 5), fastnn.tensor(w), 1e-3).numpy(),
                   T.rms_norm(torch.tensor(x), (3, 5), torch.tensor(w), 1e-3).numpy()) < 1e-5


BAD = [
    (lambda M, x: M.layer_norm(x((2, 3)), (4,)), ),
    (lambda M, x: M.rms_norm(x((2, 3)), (4,)), ),
    (lambda M, x: M.layer_norm(x((3,)), (2, 3)), ),
    (lambda M, x: M.layer_norm(x((2, 3)), (3,), x((4,))), ),
    (lambda M, x: M.rms_norm(x((2, 3)), (3,), x((4,))), ),
    (lambda M, x: M.layer_norm(x((2, 3)), (3,), None, x((4,))), ),
    (lambda M, x: M.layer_norm(x((2, 3)), []), ),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_input_matches_torch_message(torch, case):
    (call,) = BAD[case]
    with pytest.raises(RuntimeError) as t_err:
        call(torch.nn.functional, lambda s: torch.zeros(s))
    with pytest.raises(RuntimeError) as f_err:
        call(F, lambda s: fastnn.zeros(*s))
    assert str(f_err.value) == str(t_err.value)


def test_layer_bad_input():
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 4\]"):
        nn.LayerNorm(4)(fastnn.zeros(3, 5))
    with pytest.raises(TypeError, match="input"):
        F.layer_norm(np.zeros((2, 3)), (3,))


@pytest.mark.parametrize("fn", ["layer_norm", "rms_norm"])
@pytest.mark.parametrize("affine", [False, True])
def test_gradcheck(rng, fn, affine):
    x = fastnn.tensor(rng.standard_normal((3, 2, 5)), requires_grad=True)
    params = [fastnn.tensor(rng.standard_normal((2, 5)), requires_grad=True) for _ in range(2 if affine else 0)]
    if fn == "layer_norm":
        f = lambda x, *p: F.layer_norm(x, (2, 5), *p, eps=1e-3)  # noqa: E731
    else:
        f = lambda x, *p: F.rms_norm(x, (2, 5), *p[:1], eps=1e-3)  # noqa: E731
        params = params[:1]
    assert gradcheck(f, [x, *params], eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(f, [x, *params], eps=1e-6, atol=1e-5, rtol=1e-4)
