"""The activation family's CUDA kernels (fastnn._C_cuda.activation_forward / activation_backward) against the CPU
reference on the same inputs (bitwise for relu / leaky_relu, within a few ulp for sigmoid / silu), in place
included, and nn.LeakyReLU / nn.ReLU / nn.SiLU / nn.Sigmoid on the GPU against the CPU.
Marked ``gpu``: skipped without a GPU and cupy (tests/cuda_emu/run_gpu_tests_emulated.sh runs them on the CPU with
the kernels emulated)."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, nn

from gpu_family import K, cp, dev, host, pytestmark  # noqa: F401


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("n", [0, 1, 33, 1000])
@pytest.mark.parametrize("kind,slope", [("relu", 0.0), ("leaky_relu", 0.2), ("leaky_relu", -1.5)])
def test_kernels_match_cpu_reference_bitwise(dtype, n, kind, slope):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    if n >= 4:
        x[:4] = [np.nan, -0.0, np.inf, -np.inf]
        dy[:4] = [1.0, np.nan, -2.0, np.inf]
    ref = _C.activation_forward_reference(x, kind, slope)
    assert np.array_equal(host(K.activation_forward(dev(x), kind, slope)).view(np.uint8), ref.view(np.uint8))
    ref = _C.activation_backward_reference(dy, x, kind, slope)
    assert np.array_equal(host(K.activation_backward(dev(dy), dev(x), kind, slope)).view(np.uint8), ref.view(np.uint8))
    xd = dev(x)
    K.activation_forward(xd, kind, slope, xd)  # in place
    assert np.array_equal(host(xd).view(np.uint8), _C.activation_forward_reference(x, kind, slope).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("n", [0, 1, 33, 1000])
@pytest.mark.parametrize("kind", ["sigmoid", "silu"])
def test_smooth_kernels_match_cpu_reference(dtype, n, kind):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(n) * 8).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    if n >= 6:
        x[:6] = [np.nan, -0.0, np.inf, -np.inf, -800.0, 800.0]
    tol = dict(rtol=8 * np.finfo(dtype).eps, atol=8 * np.finfo(dtype).eps, equal_nan=True)
    assert np.allclose(host(K.activation_forward(dev(x), kind)), _C.activation_forward_reference(x, kind), **tol)
    assert np.allclose(host(K.activation_backward(dev(dy), dev(x), kind)),
                       _C.activation_backward_reference(dy, x, kind), **tol)
    xd = dev(x)
    K.activation_forward(xd, kind, 0.0, xd)  # in place
    assert np.allclose(host(xd), _C.activation_forward_reference(x, kind), **tol)


@pytest.mark.parametrize("make", [lambda: nn.ReLU(), lambda: nn.LeakyReLU(0.2), lambda: nn.SiLU(),
                                  lambda: nn.Sigmoid()], ids=["relu", "leaky", "silu", "sigmoid"])
def test_layers_on_gpu_match_cpu(make):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    g = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    res = []
    for device in ("cpu", "cuda"):
        xt = fastnn.tensor(x, device=device, requires_grad=True)
        y = make()(xt)
        y.backward(fastnn.tensor(g, device=device))
        res.append((y.detach().cpu().numpy(), xt.grad.cpu().numpy()))
    for a, b in zip(*res):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-7)


def test_inplace_layers_on_gpu():
    x = np.array([[-1.0, 2.0, -3.0]], np.float32)
    t = fastnn.tensor(x, device="cuda")
    assert nn.LeakyReLU(0.5, inplace=True)(t) is t
    assert np.array_equal(t.cpu().numpy(), np.array([[-0.5, 2.0, -1.5]], np.float32))
    t = fastnn.tensor(x, device="cuda", requires_grad=True)
    y = nn.ReLU(True)(t * 1.0)
    y.sum().backward()
    assert np.array_equal(t.grad.cpu().numpy(), np.array([[0.0, 1.0, 0.0]], np.float32))
