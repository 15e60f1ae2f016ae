"""interpolate / Upsample (nearest, linear, bilinear with align_corners) against PyTorch and numpy,
with backward, gradcheck and bad inputs, on every CPU path."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F
from fastnn import kernels

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [(dict(size=(26, 20)),), (dict(size=(7, 31)),), (dict(scale_factor=1.5),), (dict(scale_factor=(0.5, 2.0)),),
         (dict(size=(1, 1)),), (dict(scale_factor=2),), (dict(scale_factor=1.7, recompute_scale_factor=True),)]


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_matches_torch(mode, ac, dtype, cpu_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 13, 10)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for (kw,) in CASES:
        fx = fastnn.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        y = F.interpolate(fx, mode=mode, align_corners=ac, **kw)
        ty = TF.interpolate(tx, mode=mode, align_corners=ac, **kw)
        assert tuple(y.shape) == tuple(ty.shape), kw
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
        g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
        y.backward(fastnn.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("linear", False), ("linear", True)])
def test_interpolate_1d(mode, ac):
    x = np.random.default_rng(1).standard_normal((2, 3, 11))
    for kw in (dict(size=17), dict(scale_factor=0.6)):
        np.testing.assert_allclose(F.interpolate(fastnn.tensor(x), mode=mode, align_corners=ac, **kw).numpy(),
                                   TF.interpolate(torch.tensor(x), mode=mode, align_corners=ac, **kw).numpy(),
                                   rtol=1e-12, atol=1e-12)


def test_numpy_reference_and_non_contiguous(cpu_path):
    x = np.random.default_rng(2).standard_normal((2, 3, 5, 12))[:, :, :, ::2]
    y = kernels.upsample2d(x, "nearest", (10, 12))
    np.testing.assert_array_equal(y, x.repeat(2, axis=2).repeat(2, axis=3))
    # align_corners bilinear to 2n-1 points: originals on even positions, midpoints between.
    y = kernels.upsample2d(x, "bilinear", (9, 11), align_corners=True)
    np.testing.assert_allclose(y[:, :, ::2, ::2], x, rtol=1e-12)
    np.testing.assert_allclose(y[:, :, ::2, 1::2], (x[..., :-1] + x[..., 1:]) / 2, rtol=1e-12)


def test_upsample_layers():
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 5)).astype(np.float32)
    for f, t in ((nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
                 (nn.Upsample(size=(7, 3), mode="bilinear"), torch.nn.Upsample(size=(7, 3), mode="bilinear")),
                 (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
                 (nn.UpsamplingBilinear2d(size=(6, 6)), torch.nn.UpsamplingBilinear2d(size=(6, 6)))):
        np.testing.assert_allclose(f(fastnn.tensor(x)).numpy(), t(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-6)


def test_gradcheck_interpolate():
    fastnn.manual_seed(0)
    x = fastnn.randn(1, 2, 4, 5, dtype=fastnn.float64, requires_grad=True)
    ag = fastnn.autograd
    assert ag.gradcheck(lambda x: F.interpolate(x, size=(7, 3), mode="bilinear"), (x,))
    assert ag.gradcheck(lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True), (x,))
    assert ag.gradcheck(lambda x: F.interpolate(x, size=(9, 7), mode="nearest"), (x,))
    assert ag.gradgradcheck(lambda x: F.interpolate(x, size=(6, 6), mode="bilinear") ** 2, (x,))


def test_bad_arguments():
    x = fastnn.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x, size=4, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=4, align_corners=True)
    with pytest.raises(ValueError, match="mode"):
        F.interpolate(x, size=4, mode="bicubic")
    with pytest.raises(ValueError, match="3-D"):
        F.interpolate(x, size=4, mode="linear")
    with pytest.raises(ValueError, match="positive"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(ValueError, match="mode"):
        kernels.upsample2d(np.zeros((1, 1, 2, 2)), "area", (4, 4))
    with pytest.raises(ValueError, match="output_size"):
        kernels.upsample2d(np.zeros((1, 1, 2, 2)), "nearest", (0, 4))
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.upsample2d(np.zeros((1, 1, 2, 2), np.int32), "nearest", (4, 4))


# Rows around one and two vectors of 16 lanes, for the identity and 2x column maps (plain vector
# copies), the general gather, and downsampling, where input rows are skipped.
WIDE_SIZES = [((3, 17), (6, 34)), ((5, 33), (5, 33)), ((4, 31), (9, 47)), ((8, 64), (3, 20)), ((2, 16), (7, 32)),
              ((1, 40), (1, 80)), ((6, 9), (12, 18))]


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_wide_rows_match_torch(mode, ac, dtype, cpu_path):
    rng = np.random.default_rng(4)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for (h, w), size in WIDE_SIZES:
        x = rng.standard_normal((2, 3, h, w)).astype(dtype)
        y = kernels.upsample2d(x, mode, size, bool(ac))
        ty = TF.interpolate(torch.tensor(x), size=size, mode=mode, align_corners=ac)
        np.testing.assert_allclose(y, ty.numpy(), rtol=tol, atol=tol, err_msg=str((h, w, size)))
        g = rng.standard_normal(y.shape).astype(dtype)
        dx = kernels.upsample2d_backward(g, mode, (h, w), bool(ac))
        tx = torch.tensor(x, requires_grad=True)
        TF.interpolate(tx, size=size, mode=mode, align_corners=ac).backward(torch.tensor(g))
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol, err_msg=str((h, w, size)))
