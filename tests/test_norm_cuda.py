"""The normalisation family's CUDA kernels (fastnn._C_cuda.layer_norm_* / rms_norm_* / batch_norm_* /
group_norm_*) against the CPU reference on the same inputs, and nn.LayerNorm / nn.RMSNorm / nn.GroupNorm on the
GPU against the CPU. Marked ``gpu``: skipped
without a GPU and cupy (tests/cuda_emu/run_gpu_tests_emulated.sh runs them on the CPU with the kernels
emulated)."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, nn

from gpu_family import TOL, K, cp, dev, host, pytestmark, rel_err  # noqa: F401


def same(got, ref, dtype):
    for g, e in zip(got, ref):
        assert (g is None) == (e is None)
        if e is not None:
            assert rel_err(host(g), e) < TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("rows,C", [(1, 1), (7, 5), (33, 130), (0, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_norm_kernels_match_cpu_reference(dtype, rows, C, affine):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((rows, C)) * 2 + 1).astype(dtype)
    dy = rng.standard_normal((rows, C)).astype(dtype)
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    ref = _C.layer_norm_forward_reference(x, w, b, 1e-5)
    same(K.layer_norm_forward(dev(x), dev(w), dev(b), 1e-5), ref, dtype)
    _, mean, rstd = ref
    same(K.layer_norm_backward(dev(dy), dev(x), dev(mean), dev(rstd), dev(w)),
         _C.layer_norm_backward_reference(dy, x, mean, rstd, w), dtype)
    ref = _C.rms_norm_forward_reference(x, w, None)
    same(K.rms_norm_forward(dev(x), dev(w), None), ref, dtype)
    same(K.rms_norm_backward(dev(dy), dev(x), dev(ref[1]), dev(w), (True, True)),
         _C.rms_norm_backward_reference(dy, x, ref[1], w), dtype)
    got = K.layer_norm_backward(dev(dy), dev(x), dev(mean), dev(rstd), dev(w), (False, True, False))
    assert got[0] is None and got[2] is None


@pytest.mark.parametrize("kind", ["LayerNorm", "RMSNorm"])
def test_layers_on_gpu_match_cpu(kind):
    rng = np.random.default_rng(3)
    m = getattr(nn, kind)((3, 4))
    with fastnn.no_grad():
        m.weight.copy_(fastnn.tensor(rng.standard_normal((3, 4)).astype(np.float32)))
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    xc = fastnn.tensor(x, requires_grad=True)
    yc = m(xc)
    (yc * yc).sum().backward()
    gw_c = m.weight.grad.numpy().copy()
    m.zero_grad()
    m.to("cuda")
    xg = fastnn.tensor(x, device="cuda", requires_grad=True)
    yg = m(xg)
    (yg * yg).sum().backward()
    assert rel_err(yg.cpu().detach().numpy(), yc.detach().numpy()) < 1e-5
    assert rel_err(xg.grad.cpu().numpy(), xc.grad.numpy()) < 1e-5
    assert rel_err(m.weight.grad.cpu().numpy(), gw_c) < 1e-5


def test_norm_errors_on_gpu():
    with pytest.raises(TypeError, match="host memory"):
        K.layer_norm_forward(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="weight"):
        K.rms_norm_forward(cp.zeros((2, 8), cp.float32), cp.zeros(3, cp.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(1, 1, 2), (3, 5, 1), (4, 3, 17), (0, 2, 3), (2, 3, 0)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_match_cpu_reference(dtype, shape, affine):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    b = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    ref = _C.batch_norm_forward_reference(x, w, b, 1e-5)
    same(K.batch_norm_forward(dev(x), dev(w), dev(b), 1e-5), ref, dtype)
    _, mean, _, rstd = ref
    same(K.batch_norm_backward(dev(dy), dev(x), dev(mean), dev(rstd), dev(w)),
         _C.batch_norm_backward_reference(dy, x, mean, rstd, w), dtype)
    got = K.batch_norm_backward(dev(dy), dev(x), dev(mean), dev(rstd), dev(w), (False, True, False))
    assert got[0] is None and got[2] is None


def test_batch_norm_layer_on_gpu_matches_cpu():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 3, 4, 5)).astype(np.float32)
    res = []
    for device in ("cpu", "cuda"):
        m = nn.BatchNorm2d(3).to(device)
        xt = fastnn.tensor(x, device=device, requires_grad=True)
        y = m(xt)
        (y * y * y).sum().backward()
        res.append((y.detach().cpu().numpy(), xt.grad.cpu().numpy(), m.weight.grad.cpu().numpy(),
                    m.running_var.cpu().numpy()))
    for a, b in zip(*res):
        assert rel_err(a, b) < 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape,G", [((1, 1, 1), 1), ((3, 6, 5), 3), ((2, 8, 1), 8), ((2, 4, 17), 1),
                                     ((0, 4, 3), 2), ((2, 4, 0), 2)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("act", [None, "silu"])
def test_group_norm_kernels_match_cpu_reference(dtype, shape, G, affine, act):
    rng = np.random.default_rng(13)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    b = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    ref = _C.group_norm_forward_reference(x, G, w, b, 1e-5, act)
    same(K.group_norm_forward(dev(x), G, dev(w), dev(b), 1e-5, act), ref, dtype)
    _, mean, rstd = ref
    for mask in ((True, True, True), (False, True, False), (True, False, True)):
        got = K.group_norm_backward(dev(dy), dev(x), dev(mean), dev(rstd), G, dev(w), mask, dev(b), act)
        want = _C.group_norm_backward_reference(dy, x, mean, rstd, G, w, mask, b, act)
        for g, e in zip(got, want):
            assert (g is None) == (e is None)
            if e is not None:   # dx of a one-value group cancels to about 0: an absolute bound there
                assert np.allclose(host(g), e, rtol=TOL[dtype], atol=TOL[dtype] * (1 + np.abs(e).max(initial=0)))


def test_group_norm_layer_on_gpu_matches_cpu():
    rng = np.random.default_rng(4)
    m = nn.GroupNorm(2, 6)
    with fastnn.no_grad():
        m.weight.copy_(fastnn.tensor(rng.standard_normal(6).astype(np.float32)))
        m.bias.copy_(fastnn.tensor(rng.standard_normal(6).astype(np.float32)))
    x = rng.standard_normal((3, 6, 4, 5)).astype(np.float32)
    res = []
    for device in ("cpu", "cuda"):
        m.to(device)
        m.zero_grad()
        xt = fastnn.tensor(x, device=device, requires_grad=True)
        y = nn.functional.silu(m(xt))
        (y * y).sum().backward()
        res.append([a.cpu().detach().numpy() for a in (y, xt.grad, m.weight.grad, m.bias.grad)])
    for a, c in zip(*res):
        assert rel_err(a, c) < 1e-5
