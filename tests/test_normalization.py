"""nn.LayerNorm / nn.RMSNorm and F.layer_norm / F.rms_norm against PyTorch (values, gradients, state dicts,
error messages), gradcheck and gradgradcheck in float64."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.autograd import gradcheck, gradgradcheck
import fastnn.nn.functional as F
from torch_compare import check_layer, close_outputs, layer_pair as pair, rel_err


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


# ------------------------------------------------------------------------------ the norm kernels
from fastnn import _C, kernels  # noqa: E402

KERNEL_SHAPES = [(1, 1), (3, 1), (5, 7), (17, 16), (33, 129), (64, 1000), (2, 4099)]


def _kernel_inputs(rng, rows, C, dtype, affine):
    x = (rng.standard_normal((rows, C)) * 2 + 3).astype(dtype)
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    dy = rng.standard_normal((rows, C)).astype(dtype)
    return x, w, b, dy


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("affine", [True, False])
def test_kernels_match_reference_on_every_path(cpu_path, rng, dtype, affine):
    for rows, C in KERNEL_SHAPES:
        x, w, b, dy = _kernel_inputs(rng, rows, C, dtype, affine)
        fwd = _C.layer_norm_forward(x, w, b, 1e-5)
        close_outputs(fwd, _C.layer_norm_forward_reference(x, w, b, 1e-5), dtype)
        _, mean, rstd = fwd
        close_outputs(_C.layer_norm_backward(dy, x, mean, rstd, w),
               _C.layer_norm_backward_reference(dy, x, mean, rstd, w), dtype)
        fwd = _C.rms_norm_forward(x, w, 1e-6)
        close_outputs(fwd, _C.rms_norm_forward_reference(x, w, 1e-6), dtype)
        close_outputs(_C.rms_norm_backward(dy, x, fwd[1], w), _C.rms_norm_backward_reference(dy, x, fwd[1], w), dtype)


def test_kernels_against_numpy(rng):
    x, w, b, dy = _kernel_inputs(rng, 9, 13, np.float64, True)
    y, mean, rstd = kernels.layer_norm_forward(x, w, b, 1e-3)
    mu = x.mean(1, keepdims=True)
    rs = 1 / np.sqrt(x.var(1, keepdims=True) + 1e-3)
    assert np.allclose(y, (x - mu) * rs * w + b, rtol=1e-12, atol=1e-12)
    assert np.allclose(mean, mu[:, 0]) and np.allclose(rstd, rs[:, 0])
    y, rstd = kernels.rms_norm_forward(x, None, None)
    rs = 1 / np.sqrt((x * x).mean(1, keepdims=True) + np.finfo(np.float64).eps)
    assert np.allclose(y, x * rs, rtol=1e-12) and np.allclose(rstd, rs[:, 0])


def test_large_mean_keeps_the_variance(rng):
    # the two-pass variance: with a mean 1e4 times the spread, the one-pass E[x^2] - E[x]^2 would have no
    # correct digit in float32; what remains is the float32 rounding of the mean itself (~1e-3 of the spread)
    x = (rng.standard_normal((4, 300)) + 1e4).astype(np.float32)
    y, _, _ = kernels.layer_norm_forward(x)
    x64 = x.astype(np.float64)
    ref = (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-5)
    assert rel_err(y, ref) < 2e-3


def test_output_mask_and_empty(rng):
    x, w, b, dy = _kernel_inputs(rng, 6, 5, np.float32, True)
    _, mean, rstd = _C.layer_norm_forward(x, w, b)
    full = _C.layer_norm_backward(dy, x, mean, rstd, w)
    dx, dw, db = _C.layer_norm_backward(dy, x, mean, rstd, w, output_mask=(False, True, False))
    assert dx is None and db is None and np.array_equal(dw, full[1])
    dx, dw = _C.rms_norm_backward(dy, x, rstd, w, output_mask=(True, False))
    assert dw is None and dx.shape == x.shape
    # zero rows: empty outputs and zero parameter gradients
    e = np.zeros((0, 5), np.float32)
    y, mean, rstd = _C.layer_norm_forward(e, w, b)
    assert y.shape == (0, 5) and mean.shape == (0,)
    dx, dw, db = _C.layer_norm_backward(e, e, mean, rstd, w)
    assert dx.shape == (0, 5) and np.all(dw == 0) and np.all(db == 0)


def test_parameter_gradients_do_not_depend_on_threads(rng):
    x, w, b, dy = _kernel_inputs(rng, 3001, 96, np.float32, True)
    _, mean, rstd = _C.layer_norm_forward(x, w, b)
    old = fastnn.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            fastnn.set_num_threads(n)
            outs.append(_C.layer_norm_backward(dy, x, mean, rstd, w))
    finally:
        fastnn.set_num_threads(old)
    for o in outs[1:]:
        for a, b_ in zip(o, outs[0]):
            assert np.array_equal(a, b_)


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: _C.layer_norm_forward(x[:, ::2]), ValueError, "contiguous"),
    (lambda x: _C.layer_norm_forward(x, np.ones(3, np.float32)), ValueError, "weight"),
    (lambda x: _C.layer_norm_forward(x, np.ones(8, np.float64)), TypeError, "same dtype"),
    (lambda x: _C.layer_norm_forward(x.astype(np.int32)), TypeError, "float32 or float64"),
    (lambda x: _C.layer_norm_forward(x[0]), ValueError, "2-D"),
    (lambda x: _C.layer_norm_forward(x, None, None, -1.0), ValueError, "eps"),
    (lambda x: _C.rms_norm_forward(x, None, float("nan")), ValueError, "eps"),
    (lambda x: _C.layer_norm_backward(x, x, np.zeros(3, np.float32), np.zeros(4, np.float32)), ValueError, "mean"),
    (lambda x: _C.rms_norm_backward(x[:2], x, np.zeros(4, np.float32)), ValueError, "dy"),
])
def test_kernel_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.ones((4, 8), np.float32))


def test_layer_uses_kernels_and_falls_back_for_other_dtypes(torch, rng):
    # float16 input: the Tensor-op path (no float16 kernel), same values as PyTorch's within float16 precision
    x = rng.standard_normal((4, 8)).astype(np.float16)
    got = F.layer_norm(fastnn.tensor(x), (8,)).numpy().astype(np.float64)
    ref = torch.nn.functional.layer_norm(torch.tensor(x).float(), (8,)).numpy()
    assert np.abs(got - ref).max() < 1e-2
