"""Every layer, loss, init function, gradient utility, optimiser, scheduler, checkpoint and the training loop run
on CUDA and give the CPU's results.

Each test builds the same thing on the CPU and on the GPU (a CPU module copied with ``.to("cuda")``, or built
under ``fastnn.set_default_device("cuda")``), runs it on the same inputs and compares outputs, parameter and
input gradients, buffers and optimiser state, checking on the way that every result stays on the device.

All tests are ``gpu``-marked and skip without a GPU. Without one they also run against the emulated CUDA
kernels and the host-memory stand-in for cupy:
``bash tests/cuda_emu/run_gpu_tests_emulated.sh tests/test_layers_on_device.py``.
"""
import math
import zlib

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from fastnn.nn import init

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not fastnn.cuda.is_available(), reason="needs a CUDA GPU and cupy")]

CPU = fastnn.device("cpu")
CUDA = fastnn.device("cuda:0")
DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
# float64 results of the two kernel families differ only by summation order; float32 by its rounding
TOL = {np.float64: (1e-10, 1e-9), np.float32: (2e-5, 2e-4)}


def _host(t):
    assert t.device == CUDA or t.device == CPU
    return t.detach().cpu().numpy()


def _close(got, want, dtype, msg, scale=1.0):
    atol, rtol = TOL[dtype]
    np.testing.assert_allclose(got, want, atol=atol * scale, rtol=rtol * scale, err_msg=msg)


def _outputs(out):
    if isinstance(out, fastnn.Tensor):
        return [out]
    return [o for o in out if isinstance(o, fastnn.Tensor)]


class Case:
    """A layer factory and its inputs: ``make()`` builds the module, ``inputs(rng)`` gives numpy arrays (floating
    ones are cast to the tested dtype; those listed in ``no_grad`` get no gradient)."""

    def __init__(self, name, make, inputs, no_grad=(), eval_mode=False, backward=True, scale=1.0):
        self.name, self.make, self.inputs = name, make, inputs
        self.no_grad, self.eval_mode, self.backward, self.scale = set(no_grad), eval_mode, backward, scale

    def __repr__(self):
        return self.name


def _run_case(case, arrays, dtype, device, build="to"):
    """Outputs, input gradients, parameter gradients, parameters and buffers (host arrays) of ``case`` run on
    ``device``; the module is built on the CPU and copied there (``build="to"``) or built under the default
    device (``build="default"``)."""
    fastnn.manual_seed(0)
    if build == "default":
        prev = fastnn.get_default_device()
        fastnn.set_default_device(device)
        try:
            m = case.make()
        finally:
            fastnn.set_default_device(prev)
    else:
        m = case.make().to(device)
    m = m.to(dtype=dtype) if dtype == np.float64 else m
    if case.eval_mode:
        m.eval()
    for name, p in list(m.named_parameters()) + [(n, b) for n, b in m.named_buffers() if b is not None]:
        assert p.device == device, f"{case.name}: {name} on {p.device}, module moved to {device}"
    xs = []
    for i, a in enumerate(arrays):
        a = a.astype(dtype) if a.dtype.kind == "f" else a
        t = fastnn.from_numpy(a.copy()).to(device)
        if a.dtype.kind == "f" and case.backward and i not in case.no_grad:
            t.requires_grad_(True)
        xs.append(t)
    outs = _outputs(m(*xs))
    for o in outs:
        assert o.device == device, f"{case.name}: output on {o.device}, inputs on {device}"
    if case.backward:
        rng = np.random.default_rng(7)
        loss = 0
        for o in outs:
            if o.requires_grad:
                w = fastnn.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=device)
                loss = loss + (o * w).sum()
        assert not isinstance(loss, int), f"{case.name}: no output requires grad"
        loss.backward()
    res = {f"out{i}": _host(o) for i, o in enumerate(outs)}
    for i, x in enumerate(xs):
        if x.grad is not None:
            assert x.grad.device == device, f"{case.name}: input grad {i} on {x.grad.device}"
            res[f"grad_x{i}"] = _host(x.grad)
    for n, p in m.named_parameters():
        res[f"param {n}"] = _host(p)
        if p.grad is not None:
            assert p.grad.device == device, f"{case.name}: grad of {n} on {p.grad.device}"
            res[f"grad {n}"] = _host(p.grad)
    for n, b in m.named_buffers():
        if b is not None:
            assert b.device == device, f"{case.name}: buffer {n} on {b.device}"
            res[f"buffer {n}"] = _host(b)
    return res


def _compare(case, dtype, build="to"):
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    arrays = case.inputs(rng)
    cpu = _run_case(case, arrays, dtype, CPU)
    gpu = _run_case(case, arrays, dtype, CUDA, build)
    assert sorted(gpu) == sorted(cpu), f"{case.name}: {sorted(gpu)} vs {sorted(cpu)}"
    for k in cpu:
        assert gpu[k].dtype == cpu[k].dtype, f"{case.name} {k}: {gpu[k].dtype} vs {cpu[k].dtype}"
        _close(gpu[k], cpu[k], dtype, f"{case.name} {k} dtype={np.dtype(dtype).name}",
               case.scale * (1 if k.startswith(("out", "param", "buffer")) else 10))


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


def _away_from_zero(*shape):
    # kinks of piecewise activations at 0 (and at the thresholds below) give one-sided derivatives
    def f(rng):
        a = rng.uniform(0.1, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
        return [a]
    return f


# ---------------------------------------------------------------------------- activations

ACTIVATIONS = [
    Case("ReLU", nn.ReLU, _away_from_zero(3, 4, 5)),
    Case("ReLU6", nn.ReLU6, lambda rng: [rng.uniform(-8, 8, (3, 4, 5))]),
    Case("LeakyReLU", lambda: nn.LeakyReLU(0.1), _away_from_zero(3, 4, 5)),
    Case("ELU", lambda: nn.ELU(0.7), _away_from_zero(3, 4, 5)),
    Case("SELU", nn.SELU, _away_from_zero(3, 4, 5)),
    Case("CELU", lambda: nn.CELU(0.6), _away_from_zero(3, 4, 5)),
    Case("GELU", nn.GELU, _randn(3, 4, 5)),
    Case("GELU_tanh", lambda: nn.GELU("tanh"), _randn(3, 4, 5)),
    Case("SiLU", nn.SiLU, _randn(3, 4, 5)),
    Case("Mish", nn.Mish, _randn(3, 4, 5)),
    Case("Sigmoid", nn.Sigmoid, _randn(3, 4, 5)),
    Case("Tanh", nn.Tanh, _randn(3, 4, 5)),
    Case("Hardtanh", lambda: nn.Hardtanh(-0.5, 0.8), lambda rng: [rng.uniform(-2, 2, (3, 4, 5))]),
    Case("Hardsigmoid", nn.Hardsigmoid, lambda rng: [rng.uniform(-5, 5, (3, 4, 5))]),
    Case("Hardswish", nn.Hardswish, lambda rng: [rng.uniform(-5, 5, (3, 4, 5))]),
    Case("Softplus", lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda rng: [rng.uniform(-4, 4, (3, 4, 5))]),
    Case("Softsign", nn.Softsign, _randn(3, 4, 5)),
    Case("Tanhshrink", nn.Tanhshrink, _randn(3, 4, 5)),
    Case("LogSigmoid", nn.LogSigmoid, lambda rng: [rng.uniform(-30, 30, (3, 4, 5))]),
    Case("Softmax", lambda: nn.Softmax(dim=1), _randn(3, 4, 5)),
    Case("Softmin", lambda: nn.Softmin(dim=-1), _randn(3, 4, 5)),
    Case("LogSoftmax", lambda: nn.LogSoftmax(dim=0), _randn(3, 4, 5)),
    Case("Threshold", lambda: nn.Threshold(0.05, -2.0), _away_from_zero(3, 4, 5)),
    Case("Hardshrink", lambda: nn.Hardshrink(0.3), lambda rng: [rng.uniform(0.4, 2, (3, 4, 5)) *
                                                                rng.choice([-1, 1], (3, 4, 5))]),
    Case("Softshrink", lambda: nn.Softshrink(0.3), lambda rng: [rng.uniform(0.4, 2, (3, 4, 5)) *
                                                                rng.choice([-1, 1], (3, 4, 5))]),
    Case("PReLU_shared", nn.PReLU, _away_from_zero(3, 4, 5)),
    Case("PReLU_channels", lambda: nn.PReLU(4, init=0.1), _away_from_zero(3, 4, 5)),
    Case("GLU", lambda: nn.GLU(dim=1), _randn(3, 6, 5)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=repr)
def test_activations_match_cpu(case, dtype):
    _compare(case, dtype)


@pytest.mark.parametrize("make", [
    lambda: nn.ReLU(inplace=True), lambda: nn.ReLU6(inplace=True), lambda: nn.LeakyReLU(0.2, inplace=True),
    lambda: nn.ELU(inplace=True), lambda: nn.SELU(inplace=True), lambda: nn.SiLU(inplace=True),
    lambda: nn.Hardtanh(inplace=True), lambda: nn.Hardswish(inplace=True), lambda: nn.Hardsigmoid(inplace=True),
    lambda: nn.Threshold(0.1, 5.0, inplace=True), lambda: nn.Mish(inplace=True),
])
def test_inplace_activations_write_the_device_array(make):
    x = np.random.default_rng(0).standard_normal((4, 7)).astype(np.float32)
    cpu_in, gpu_in = fastnn.tensor(x), fastnn.tensor(x, device="cuda")
    cpu_out, gpu_out = make()(cpu_in), make()(gpu_in)
    assert gpu_out is gpu_in and gpu_in.device == CUDA
    _close(_host(gpu_in), cpu_in.numpy(), np.float32, "in place")


# ---------------------------------------------------------------------------- dense, convolution, pooling

def _two(shape1, shape2):
    return lambda rng: [rng.standard_normal(shape1), rng.standard_normal(shape2)]


LAYERS = [
    Case("Identity", lambda: nn.Identity(3, k=1), _randn(2, 3)),
    Case("Linear", lambda: nn.Linear(7, 5), _randn(4, 7)),
    Case("Linear_3d_nobias", lambda: nn.Linear(6, 3, bias=False), _randn(2, 4, 6)),
    Case("Linear_1d", lambda: nn.Linear(6, 3), _randn(6)),
    Case("Bilinear", lambda: nn.Bilinear(4, 3, 5), _two((6, 4), (6, 3))),
    Case("Flatten", lambda: nn.Flatten(1, 2), _randn(2, 3, 4, 5)),
    Case("Unflatten", lambda: nn.Unflatten(1, (2, 6)), _randn(3, 12, 2)),
    Case("Conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), _randn(2, 3, 11)),
    Case("Conv1d_same_dilated", lambda: nn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2), _randn(2, 4, 9)),
    Case("Conv2d", lambda: nn.Conv2d(3, 5, 3, padding=1), _randn(2, 3, 8, 7)),
    Case("Conv2d_strided_grouped", lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                                                     groups=2, bias=False), _randn(2, 4, 9, 8)),
    Case("Conv2d_unbatched", lambda: nn.Conv2d(2, 3, 3, padding="same"), _randn(2, 6, 6)),
    Case("ConvTranspose1d", lambda: nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1), _randn(2, 3, 6)),
    Case("ConvTranspose2d", lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
         _randn(2, 4, 5, 4)),
    Case("ConvTranspose2d_grouped", lambda: nn.ConvTranspose2d(4, 6, (2, 3), stride=(1, 2), groups=2, dilation=(2, 1)),
         _randn(1, 4, 4, 5)),
    Case("MaxPool1d", lambda: nn.MaxPool1d(3, stride=2, padding=1), _randn(2, 3, 10)),
    Case("MaxPool2d", lambda: nn.MaxPool2d(2), _randn(2, 3, 8, 6)),
    Case("MaxPool2d_ceil_dilated", lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True),
         _randn(2, 2, 9, 8)),
    Case("MaxPool2d_indices", lambda: nn.MaxPool2d(2, return_indices=True), _randn(2, 3, 6, 6)),
    Case("AvgPool1d", lambda: nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False), _randn(2, 3, 10)),
    Case("AvgPool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1), _randn(2, 3, 9, 8)),
    Case("AvgPool2d_ceil_divisor", lambda: nn.AvgPool2d(2, ceil_mode=True, divisor_override=3), _randn(2, 3, 7, 7)),
    Case("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(4), _randn(2, 3, 10)),
    Case("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((3, None)), _randn(2, 3, 7, 5)),
    Case("AdaptiveAvgPool2d_1", lambda: nn.AdaptiveAvgPool2d(1), _randn(2, 3, 7, 5)),
    Case("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d((2, 3), return_indices=True), _randn(2, 3, 7, 8)),
    Case("Upsample_nearest", lambda: nn.Upsample(scale_factor=2), _randn(2, 3, 4, 5)),
    Case("Upsample_nearest_size", lambda: nn.Upsample(size=(7, 3)), _randn(2, 3, 4, 5)),
    Case("Upsample_nearest_1d", lambda: nn.Upsample(scale_factor=1.7), _randn(2, 3, 6)),
    Case("Upsample_linear", lambda: nn.Upsample(scale_factor=2, mode="linear"), _randn(2, 3, 6)),
    Case("Upsample_linear_corners", lambda: nn.Upsample(size=11, mode="linear", align_corners=True), _randn(2, 3, 6)),
    Case("Upsample_bilinear", lambda: nn.Upsample(scale_factor=(1.5, 2.5), mode="bilinear"), _randn(2, 3, 4, 5)),
    Case("Upsample_bilinear_corners", lambda: nn.Upsample(size=(9, 6), mode="bilinear", align_corners=True),
         _randn(2, 3, 4, 5)),
    Case("UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d(scale_factor=3), _randn(1, 2, 3, 3)),
    Case("UpsamplingBilinear2d", lambda: nn.UpsamplingBilinear2d(size=(5, 7)), _randn(1, 2, 3, 3)),
    Case("Dropout_eval", lambda: nn.Dropout(0.5), _randn(4, 6), eval_mode=True),
    Case("Dropout2d_eval", lambda: nn.Dropout2d(0.5), _randn(2, 3, 4, 4), eval_mode=True),
    Case("AlphaDropout_eval", lambda: nn.AlphaDropout(0.3), _randn(4, 6), eval_mode=True),
    Case("Sequential_mlp", lambda: nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(),
                                                 nn.Linear(8, 3), nn.LogSoftmax(dim=1)), _randn(5, 6)),
    Case("Sequential_cnn", lambda: nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3),
        nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)), _randn(3, 2, 8, 8)),
    Case("Sequential_autoencoder", lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1),
        nn.Upsample(scale_factor=2, mode="bilinear"), nn.AvgPool2d(2), nn.Sigmoid()), _randn(2, 1, 8, 8)),
    Case("ModuleList_ModuleDict", lambda: _ListDictNet(), _randn(3, 4)),
    Case("LeNet5", lambda: fastnn.models.LeNet5(), _randn(2, 1, 28, 28), scale=3),
    Case("DigitsCNN_eval", lambda: fastnn.models.DigitsCNN(), _randn(3, 1, 8, 8), eval_mode=True),
]


class _ListDictNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 3)})
        self.scale = nn.Parameter(fastnn.ones(4))
        self.plist = nn.ParameterList([nn.Parameter(fastnn.full((4,), 0.5))])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).tanh() * self.scale + self.plist[0]
        return self.heads["a"](x), self.heads["b"](x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", LAYERS, ids=repr)
def test_layers_match_cpu(case, dtype):
    _compare(case, dtype)


BUILT_ON_DEVICE = [
    Case("Linear", lambda: nn.Linear(7, 5), _randn(4, 7)),
    Case("Bilinear", lambda: nn.Bilinear(4, 3, 5), _two((6, 4), (6, 3))),
    Case("Conv1d", lambda: nn.Conv1d(3, 4, 3), _randn(2, 3, 9)),
    Case("Conv2d", lambda: nn.Conv2d(3, 4, 3, padding=1), _randn(2, 3, 6, 6)),
    Case("ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), _randn(2, 3, 4, 4)),
    Case("BatchNorm1d", lambda: nn.BatchNorm1d(5), _randn(6, 5)),
    Case("BatchNorm2d", lambda: nn.BatchNorm2d(3), _randn(4, 3, 5, 5)),
    Case("PReLU", lambda: nn.PReLU(3), _away_from_zero(2, 3, 4)),
    Case("CrossEntropyLoss_weight", lambda: nn.CrossEntropyLoss(weight=fastnn.tensor([1.0, 2.0, 0.5])),
         lambda rng: [rng.standard_normal((5, 3)), rng.integers(0, 3, 5)]),
    Case("LeNet5", lambda: fastnn.models.LeNet5(), _randn(2, 1, 28, 28), scale=3),
]


@pytest.mark.parametrize("case", BUILT_ON_DEVICE, ids=repr)
def test_layers_built_under_default_device_match_cpu(case):
    """``set_default_device("cuda")`` puts parameters and buffers on the GPU with the CPU's initial values."""
    _compare(case, np.float32, build="default")


def test_layers_take_device_argument():
    for m in (nn.Linear(3, 2, device="cuda"), nn.Conv2d(1, 2, 3, device="cuda"), nn.BatchNorm2d(2, device="cuda"),
              nn.PReLU(2, device="cuda"), nn.Bilinear(2, 2, 2, device="cuda"), nn.ConvTranspose2d(2, 1, 2,
                                                                                                   device="cuda")):
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            assert t.device == CUDA, f"{type(m).__name__}.{name} on {t.device}"


def test_max_unpool_round_trip_matches_cpu():
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 8)).astype(np.float32)
    res = {}
    for dev in ("cpu", "cuda"):
        t = fastnn.tensor(x, device=dev, requires_grad=True)
        y, idx = F.max_pool2d(t, 2, return_indices=True)
        assert idx.device == fastnn.device(dev) and idx.dtype == fastnn.int64
        u = nn.MaxUnpool2d(2)(y, idx)
        u.pow(2).sum().backward()
        res[dev] = (_host(y), _host(idx), _host(u), _host(t.grad))
    for g, c in zip(res["cuda"], res["cpu"]):
        np.testing.assert_array_equal(g, c)


# ---------------------------------------------------------------------------- batch normalisation

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make,shape", [
    (lambda: nn.BatchNorm1d(5), (8, 5)),
    (lambda: nn.BatchNorm1d(4, momentum=None), (6, 4, 7)),
    (lambda: nn.BatchNorm1d(4, affine=False), (6, 4, 3)),
    (lambda: nn.BatchNorm2d(3), (4, 3, 5, 6)),
    (lambda: nn.BatchNorm2d(3, momentum=0.3, eps=1e-3), (2, 3, 4, 4)),
    (lambda: nn.BatchNorm2d(3, track_running_stats=False), (4, 3, 5, 5)),
], ids=["1d", "1d_cumulative", "1d_no_affine", "2d", "2d_momentum", "2d_no_running"])
def test_batchnorm_train_then_eval_matches_cpu(make, shape, dtype):
    rng = np.random.default_rng(5)
    batches = [rng.standard_normal(shape) * (i + 1) + i for i in range(3)]
    res = {}
    for dev in ("cpu", "cuda"):
        fastnn.manual_seed(0)
        m = make().to(dev).to(dtype=dtype) if dtype == np.float64 else make().to(dev)
        outs = []
        for b in batches:
            x = fastnn.tensor(b.astype(dtype), device=dev, requires_grad=True)
            y = m(x)
            (y * y.detach().sin()).sum().backward()
            outs += [_host(y), _host(x.grad)]
        m.eval()
        y = m(fastnn.tensor(batches[0].astype(dtype), device=dev))
        assert y.device == fastnn.device(dev)
        outs.append(_host(y))
        for n, t in list(m.named_parameters()) + [(n, b) for n, b in m.named_buffers() if b is not None]:
            assert t.device == fastnn.device(dev), f"{n} on {t.device}"
            outs.append(_host(t))
            if getattr(t, "grad", None) is not None:
                outs.append(_host(t.grad))
        res[dev] = outs
    assert len(res["cuda"]) == len(res["cpu"])
    for i, (g, c) in enumerate(zip(res["cuda"], res["cpu"])):
        assert g.dtype == c.dtype
        _close(g, c, dtype, f"item {i}", 10)


# ---------------------------------------------------------------------------- dropout

@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Dropout(0.3), (64, 50)),
    (lambda: nn.Dropout1d(0.4), (16, 40, 5)),
    (lambda: nn.Dropout2d(0.25), (16, 40, 3, 3)),
    (lambda: nn.Dropout3d(0.5), (8, 50, 2, 2, 2)),
    (lambda: nn.AlphaDropout(0.2), (64, 50)),
], ids=["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"])
def test_dropout_in_training_matches_cpu_for_a_seed(make, shape):
    """The masks come from fastnn's seeded generator, so one seed gives the same mask on both devices; the
    statistics (dropped fraction, scaling of the kept values) are those of the layer's p."""
    x = np.random.default_rng(2).uniform(0.5, 1.5, shape).astype(np.float32)
    res = {}
    for dev in ("cpu", "cuda"):
        m = make().to(dev)
        fastnn.manual_seed(123)
        t = fastnn.tensor(x, device=dev, requires_grad=True)
        y = m(t)
        y.sum().backward()
        assert y.device == t.grad.device == fastnn.device(dev)
        res[dev] = (_host(y), _host(t.grad))
    for g, c in zip(res["cuda"], res["cpu"]):
        _close(g, c, np.float32, "dropout")
    y, gx = res["cuda"]
    p = make().p
    if isinstance(make(), nn.AlphaDropout):
        # dropped units all take the same value, below every kept one
        assert abs((np.abs(y - y.min()) < 1e-6).mean() - p) < 0.05
    else:
        dropped = y == 0
        assert abs(dropped.mean() - p) < 0.05, dropped.mean()
        np.testing.assert_allclose(y[~dropped], x[~dropped] / (1 - p), rtol=1e-6)
        np.testing.assert_allclose(gx[~dropped], 1 / (1 - p), rtol=1e-6)
        np.testing.assert_array_equal(gx[dropped], 0)
    # a different seed gives a different mask on the GPU too
    fastnn.manual_seed(124)
    y2 = _host(make().to("cuda")(fastnn.tensor(x, device="cuda")))
    assert not np.array_equal(y2, y)


def test_functional_dropout_forms_on_device():
    x = fastnn.ones(200, 30, device="cuda")
    for out in (F.dropout(x, 0.5), F.dropout(x, 1.0), F.dropout(x, 0.0), F.dropout(x, 0.5, training=False),
                F.dropout2d(fastnn.ones(4, 30, 2, 2, device="cuda"), 0.5), F.alpha_dropout(x, 0.5, True),
                F.alpha_dropout(x, 1.0, True)):
        assert out.device == CUDA
    assert (F.dropout(x, 1.0).cpu().numpy() == 0).all()
    y = x.clone()
    F.dropout(y, 0.5, inplace=True)
    assert y.device == CUDA and abs((y.cpu().numpy() == 0).mean() - 0.5) < 0.05


# ---------------------------------------------------------------------------- losses

def _probs(rng, shape):
    return 1 / (1 + np.exp(-rng.standard_normal(shape)))


def _classes(rng, n, c, ignore=None, shape=None):
    t = rng.integers(0, c, shape if shape is not None else n)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t.astype(np.int64)


def _loss_cases():
    cases = []
    for r in ("mean", "sum", "none"):
        cases += [
            Case(f"L1Loss_{r}", lambda r=r: nn.L1Loss(reduction=r), _two((4, 5), (4, 5))),
            Case(f"MSELoss_{r}", lambda r=r: nn.MSELoss(reduction=r), _two((4, 5), (4, 5))),
            Case(f"HuberLoss_{r}", lambda r=r: nn.HuberLoss(reduction=r, delta=0.5), _two((4, 5), (4, 5))),
            Case(f"SmoothL1Loss_{r}", lambda r=r: nn.SmoothL1Loss(reduction=r, beta=0.5), _two((4, 5), (4, 5))),
            Case(f"BCELoss_{r}", lambda r=r: nn.BCELoss(reduction=r),
                 lambda rng: [_probs(rng, (4, 5)), rng.uniform(0, 1, (4, 5))]),
            Case(f"BCEWithLogitsLoss_{r}", lambda r=r: nn.BCEWithLogitsLoss(reduction=r),
                 lambda rng: [rng.standard_normal((4, 5)), rng.uniform(0, 1, (4, 5))]),
            Case(f"CrossEntropyLoss_{r}", lambda r=r: nn.CrossEntropyLoss(reduction=r),
                 lambda rng: [rng.standard_normal((6, 4)), _classes(rng, 6, 4)]),
            Case(f"CrossEntropyLoss_ignore_smooth_{r}",
                 lambda r=r: nn.CrossEntropyLoss(reduction=r, ignore_index=-1, label_smoothing=0.2),
                 lambda rng: [rng.standard_normal((7, 4)), _classes(rng, 7, 4, ignore=-1)]),
            Case(f"CrossEntropyLoss_weight_spatial_{r}",
                 lambda r=r: nn.CrossEntropyLoss(weight=fastnn.tensor([0.5, 2.0, 1.0]), reduction=r,
                                                 ignore_index=2),
                 lambda rng: [rng.standard_normal((2, 3, 4, 5)), _classes(rng, 2, 3, shape=(2, 4, 5))]),
            Case(f"CrossEntropyLoss_probs_{r}",
                 lambda r=r: nn.CrossEntropyLoss(weight=fastnn.tensor([0.5, 2.0, 1.0, 1.5]), reduction=r,
                                                 label_smoothing=0.1),
                 lambda rng: [rng.standard_normal((5, 4)), rng.dirichlet(np.ones(4), 5)]),
            Case(f"NLLLoss_{r}", lambda r=r: nn.NLLLoss(reduction=r),
                 lambda rng: [rng.standard_normal((6, 4)), _classes(rng, 6, 4)]),
            Case(f"NLLLoss_weight_ignore_{r}",
                 lambda r=r: nn.NLLLoss(weight=fastnn.tensor([1.0, 0.2, 3.0, 1.0]), ignore_index=0, reduction=r),
                 lambda rng: [rng.standard_normal((2, 4, 3)), _classes(rng, 2, 4, shape=(2, 3))]),
            Case(f"KLDivLoss_{r}", lambda r=r: nn.KLDivLoss(reduction=r),
                 lambda rng: [np.log(rng.dirichlet(np.ones(5), 4)), rng.dirichlet(np.ones(5), 4)]),
            Case(f"SoftMarginLoss_{r}", lambda r=r: nn.SoftMarginLoss(reduction=r),
                 lambda rng: [rng.standard_normal((4, 5)), rng.choice([-1.0, 1.0], (4, 5))], no_grad=[1]),
            Case(f"MarginRankingLoss_{r}", lambda r=r: nn.MarginRankingLoss(0.3, reduction=r),
                 lambda rng: [rng.standard_normal(8), rng.standard_normal(8), rng.choice([-1.0, 1.0], 8)],
                 no_grad=[2]),
            Case(f"HingeEmbeddingLoss_{r}", lambda r=r: nn.HingeEmbeddingLoss(0.8, reduction=r),
                 lambda rng: [rng.standard_normal((4, 5)), rng.choice([-1.0, 1.0], (4, 5))], no_grad=[1]),
            Case(f"CosineEmbeddingLoss_{r}", lambda r=r: nn.CosineEmbeddingLoss(0.1, reduction=r),
                 lambda rng: [rng.standard_normal((6, 5)), rng.standard_normal((6, 5)),
                              rng.choice([-1, 1], 6).astype(np.int64)]),
            Case(f"PoissonNLLLoss_{r}", lambda r=r: nn.PoissonNLLLoss(reduction=r),
                 lambda rng: [rng.standard_normal((4, 5)), rng.poisson(2.0, (4, 5)).astype(np.float64)]),
            Case(f"GaussianNLLLoss_{r}", lambda r=r: nn.GaussianNLLLoss(reduction=r),
                 lambda rng: [rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), rng.uniform(0.1, 2, (4, 5))]),
            Case(f"TripletMarginLoss_{r}", lambda r=r: nn.TripletMarginLoss(0.5, reduction=r),
                 lambda rng: [rng.standard_normal((6, 5)) for _ in range(3)]),
        ]
    cases += [
        Case("BCELoss_weight", lambda: nn.BCELoss(weight=fastnn.tensor([0.5, 1.0, 2.0, 1.0, 0.1])),
             lambda rng: [_probs(rng, (4, 5)), rng.uniform(0, 1, (4, 5))]),
        Case("BCEWithLogitsLoss_weight_pos_weight",
             lambda: nn.BCEWithLogitsLoss(weight=fastnn.tensor([[1.0], [2.0], [0.5], [1.0]]),
                                          pos_weight=fastnn.tensor([1.0, 3.0, 0.5, 2.0, 1.0])),
             lambda rng: [rng.standard_normal((4, 5)), rng.uniform(0, 1, (4, 5))]),
        Case("CrossEntropyLoss_1d_input", lambda: nn.CrossEntropyLoss(label_smoothing=0.3),
             lambda rng: [rng.standard_normal(5), np.array(3, dtype=np.int64)]),
        Case("CrossEntropyLoss_probs_spatial", lambda: nn.CrossEntropyLoss(),
             lambda rng: [rng.standard_normal((2, 3, 4)), np.moveaxis(rng.dirichlet(np.ones(3), (2, 4)), -1, 1)]),
        Case("KLDivLoss_batchmean_log_target", lambda: nn.KLDivLoss(reduction="batchmean", log_target=True),
             lambda rng: [np.log(rng.dirichlet(np.ones(5), 4)), np.log(rng.dirichlet(np.ones(5), 4))]),
        Case("SmoothL1Loss_beta0", lambda: nn.SmoothL1Loss(beta=0.0), _two((4, 5), (4, 5))),
        Case("PoissonNLLLoss_full", lambda: nn.PoissonNLLLoss(log_input=False, full=True),
             lambda rng: [rng.uniform(0.5, 3, (4, 5)), rng.poisson(2.0, (4, 5)).astype(np.float64)]),
        Case("GaussianNLLLoss_full_var_per_sample", lambda: nn.GaussianNLLLoss(full=True, eps=1e-3),
             lambda rng: [rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), rng.uniform(0.0, 2, 4)]),
        Case("TripletMarginLoss_swap_p1", lambda: nn.TripletMarginLoss(1.0, p=1, swap=True),
             lambda rng: [rng.standard_normal((6, 5)) for _ in range(3)]),
    ]
    return cases


LOSSES = _loss_cases()


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", LOSSES, ids=repr)
def test_losses_match_cpu(case, dtype):
    _compare(case, dtype)


def test_cross_entropy_with_every_target_ignored_gives_nan_on_device():
    x = fastnn.randn(3, 4, device="cuda", requires_grad=True)
    t = fastnn.full((3,), -100, dtype=fastnn.int64, device="cuda")
    loss = F.cross_entropy(x, t)
    assert loss.device == CUDA and math.isnan(loss.item())


@pytest.mark.parametrize("fn", [
    lambda x, t: F.cross_entropy(x, t, reduction="sum"),
    lambda x, t: F.nll_loss(x.log_softmax(1), t),
])
def test_class_index_out_of_range_raises_on_device(fn):
    x = fastnn.randn(3, 4, device="cuda")
    with pytest.raises(IndexError, match="out of bounds"):
        fn(x, fastnn.tensor([0, 4, 1], device="cuda"))


def test_binary_cross_entropy_rejects_values_outside_0_1_on_device():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(fastnn.tensor([0.5, 1.5], device="cuda"), fastnn.tensor([0.0, 1.0], device="cuda"))


def test_one_hot_on_device():
    t = fastnn.tensor([[0, 2], [1, 3]], device="cuda")
    for n in (-1, 5):
        got, want = F.one_hot(t, n), F.one_hot(t.cpu(), n)
        assert got.device == CUDA and got.dtype == fastnn.int64
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


# ---------------------------------------------------------------------------- other functionals

FUNCTIONALS = [
    ("pad_constant", lambda x: F.pad(x, (1, 2, 0, 1), value=0.5)),
    ("pad_crop", lambda x: F.pad(x, (-1, 2))),
    ("pad_reflect", lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect")),
    ("pad_replicate", lambda x: F.pad(x, (3, 1), mode="replicate")),
    ("pad_circular", lambda x: F.pad(x, (1, 2, 2, 1), mode="circular")),
    ("normalize", lambda x: F.normalize(x, p=3.0, dim=-1)),
    ("cosine_similarity", lambda x: F.cosine_similarity(x, x.flip(0), dim=1)),
    ("pairwise_distance", lambda x: F.pairwise_distance(x[0], x[1], p=1.5)),
    ("softplus", lambda x: F.softplus(x * 10, beta=0.5, threshold=4)),
    ("logsigmoid", lambda x: F.logsigmoid(x * 50)),
    ("interpolate_nearest", lambda x: F.interpolate(x, scale_factor=1.5)),
    ("interpolate_bilinear", lambda x: F.interpolate(x, size=(7, 4), mode="bilinear")),
    ("interpolate_recompute", lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear",
                                                      recompute_scale_factor=True)),
    ("upsample_bilinear", lambda x: F.upsample_bilinear(x, scale_factor=2)),
    ("max_pool2d_fn", lambda x: F.max_pool2d(x, (2, 3), stride=1, padding=1)),
    ("avg_pool2d_fn", lambda x: F.avg_pool2d(x, 2, stride=1, count_include_pad=False, padding=1)),
    ("adaptive_max_pool2d_fn", lambda x: F.adaptive_max_pool2d(x, 2)),
    ("batch_norm_fn", lambda x: F.batch_norm(x, None, None, training=True)),
    ("conv2d_fn", lambda x: F.conv2d(x, x[:2, :, :2, :3], stride=(1, 2))),
    ("conv_transpose2d_fn", lambda x: F.conv_transpose2d(x, x[:, :2, :2, :2], stride=2)),
    ("linear_fn", lambda x: F.linear(x, x[0, 0, :4])),
    ("bilinear_fn", lambda x: F.bilinear(x[0], x[1], x.reshape(-1)[:50].reshape(2, 5, 5), x[2, 0, 0, :2])),
    ("prelu_fn", lambda x: F.prelu(x, x[0, :, 0, 0])),
    ("glu_fn", lambda x: F.glu(x, dim=2)),
    ("hardtanh_fn", lambda x: F.hardtanh(x, -0.3, 0.4)),
    ("threshold_fn", lambda x: F.threshold(x, 0.2, -1.0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn", FUNCTIONALS, ids=[n for n, _ in FUNCTIONALS])
def test_functionals_match_cpu(name, fn, dtype):
    x = np.random.default_rng(11).standard_normal((3, 3, 4, 5)).astype(dtype)
    res = {}
    for dev in ("cpu", "cuda"):
        t = fastnn.tensor(x, device=dev, requires_grad=True)
        y = fn(t)
        assert y.device == fastnn.device(dev), f"{name}: output on {y.device}"
        w = fastnn.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)), dtype=y.dtype, device=dev)
        (y * w).sum().backward()
        assert t.grad.device == fastnn.device(dev)
        res[dev] = (_host(y), _host(t.grad))
    _close(res["cuda"][0], res["cpu"][0], dtype, f"{name} value")
    _close(res["cuda"][1], res["cpu"][1], dtype, f"{name} grad", 10)


def test_double_backward_through_layers_on_device():
    """Gradient penalties (WGAN-GP) differentiate gradients of convolutions, linear layers and activations."""
    res = {}
    for dev in ("cpu", "cuda"):
        fastnn.manual_seed(0)
        critic = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2), nn.Flatten(),
                               nn.Linear(12, 1)).to(dev).double()
        x = fastnn.tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 4)), device=dev, requires_grad=True)
        (g,) = fastnn.autograd.grad(critic(x).sum(), [x], create_graph=True)
        penalty = ((g.reshape(2, -1).norm(2, dim=1) - 1) ** 2).mean()
        penalty.backward()
        assert penalty.device == fastnn.device(dev)
        # a parameter the input gradient does not depend on (the last bias) gets no gradient
        res[dev] = [_host(penalty)] + [None if p.grad is None else _host(p.grad) for p in critic.parameters()]
    assert sum(g is not None for g in res["cpu"]) >= 3
    for g, c in zip(res["cuda"], res["cpu"]):
        assert (g is None) == (c is None)
        if c is not None:
            _close(g, c, np.float64, "gradient penalty", 10)


# ---------------------------------------------------------------------------- init

INITS = [
    ("uniform_", lambda t: init.uniform_(t, -0.3, 0.7), (6, 4, 3, 3)),
    ("normal_", lambda t: init.normal_(t, 0.5, 2.0), (6, 4, 3, 3)),
    ("trunc_normal_", lambda t: init.trunc_normal_(t, 0.0, 1.0, -0.5, 0.5), (6, 4, 3, 3)),
    ("constant_", lambda t: init.constant_(t, 0.25), (6, 4, 3, 3)),
    ("ones_", init.ones_, (6, 4)),
    ("zeros_", init.zeros_, (6, 4)),
    ("eye_", init.eye_, (6, 4)),
    ("dirac_", init.dirac_, (6, 4, 3, 3)),
    ("dirac_groups", lambda t: init.dirac_(t, groups=2), (6, 4, 3)),
    ("xavier_uniform_", lambda t: init.xavier_uniform_(t, gain=init.calculate_gain("tanh")), (6, 4, 3, 3)),
    ("xavier_normal_", init.xavier_normal_, (6, 4)),
    ("kaiming_uniform_", lambda t: init.kaiming_uniform_(t, a=0.1, mode="fan_out"), (6, 4, 3, 3)),
    ("kaiming_normal_", lambda t: init.kaiming_normal_(t, nonlinearity="relu"), (6, 4, 3, 3)),
    ("orthogonal_", lambda t: init.orthogonal_(t, gain=2.0), (4, 2, 3)),
    ("sparse_", lambda t: init.sparse_(t, 0.5), (6, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,shape", INITS, ids=[n for n, _, _ in INITS])
def test_init_functions_fill_device_tensors_like_cpu(name, fn, shape, dtype):
    vals = {}
    for dev in ("cpu", "cuda"):
        t = fastnn.empty(*shape, dtype=dtype, device=dev)
        fastnn.manual_seed(9)
        with fastnn.no_grad():
            r = fn(t)
        assert r is t and t.device == fastnn.device(dev) and t.dtype == dtype
        vals[dev] = t.cpu().numpy()
    np.testing.assert_allclose(vals["cuda"], vals["cpu"], rtol=1e-12, err_msg=name)
    assert np.isfinite(vals["cuda"]).all()


def test_init_on_parameters_of_a_cuda_module_keeps_them_on_the_gpu():
    m = nn.Linear(5, 4).to("cuda")
    for fn in (init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_):
        fn(m.weight)
    init.zeros_(m.bias)
    assert m.weight.device == m.bias.device == CUDA
    assert m(fastnn.randn(2, 5, device="cuda")).device == CUDA


# ---------------------------------------------------------------------------- nn.utils

def _model_with_grads(dev, dtype=np.float32):
    fastnn.manual_seed(4)
    m = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).to(dev).to(dtype=dtype)
    x = fastnn.tensor(np.random.default_rng(4).standard_normal((7, 5)) * 3, dtype=dtype, device=dev)
    (m(x) ** 2).sum().backward()
    return m


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_cpu(norm_type, max_norm, dtype):
    res = {}
    for dev in ("cpu", "cuda"):
        m = _model_with_grads(dev, dtype)
        total = nn.utils.clip_grad_norm_(m.parameters(), max_norm, norm_type=norm_type)
        assert total.device == fastnn.device(dev) and total.ndim == 0 and total.dtype == dtype
        tn = nn.utils.get_total_norm([p.grad for p in m.parameters()], norm_type)
        assert tn.device == fastnn.device(dev)
        res[dev] = [_host(total), _host(tn)] + [_host(p.grad) for p in m.parameters()]
        for p in m.parameters():
            assert p.grad.device == fastnn.device(dev)
    for g, c in zip(res["cuda"], res["cpu"]):
        _close(g, c, dtype, f"norm_type={norm_type}")
    if max_norm < 1:
        assert res["cuda"][1] <= max_norm * (1 + 1e-5)


def test_clip_grad_norm_error_if_nonfinite_on_device():
    m = _model_with_grads("cuda")
    m[0].weight.grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_cpu():
    res = {}
    for dev in ("cpu", "cuda"):
        m = _model_with_grads(dev)
        nn.utils.clip_grad_value_(m.parameters(), 0.3)
        res[dev] = [_host(p.grad) for p in m.parameters()]
        assert all(p.grad.device == fastnn.device(dev) for p in m.parameters())
    for g, c in zip(res["cuda"], res["cpu"]):
        np.testing.assert_array_equal(g, c)
        assert np.abs(g).max() <= 0.3


def test_parameters_to_vector_and_back_on_device():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).to("cuda")
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.device == CUDA and v.shape == (sum(p.numel() for p in m.parameters()),)
    want = np.concatenate([p.detach().cpu().numpy().ravel() for p in m.parameters()])
    np.testing.assert_array_equal(_host(v), want)
    new = fastnn.arange(v.numel(), dtype=fastnn.float32, device="cuda")
    nn.utils.vector_to_parameters(new, m.parameters())
    assert all(p.device == CUDA for p in m.parameters())
    np.testing.assert_array_equal(_host(nn.utils.parameters_to_vector(m.parameters())),
                                  np.arange(v.numel(), dtype=np.float32))
    # the vector is differentiable
    w = nn.Linear(3, 2).to("cuda")
    (nn.utils.parameters_to_vector(w.parameters()) ** 2).sum().backward()
    assert w.weight.grad.device == CUDA
    np.testing.assert_allclose(w.weight.grad.cpu().numpy(), 2 * w.weight.detach().cpu().numpy())


# ---------------------------------------------------------------------------- optimisers and schedulers

OPTIMIZERS = [
    ("SGD", lambda ps: fastnn.optim.SGD(ps, lr=0.1)),
    ("SGD_momentum", lambda ps: fastnn.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-2)),
    ("SGD_nesterov", lambda ps: fastnn.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", lambda ps: fastnn.optim.Adam(ps, lr=0.01)),
    ("Adam_amsgrad_wd", lambda ps: fastnn.optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", lambda ps: fastnn.optim.AdamW(ps, lr=0.01, weight_decay=0.1)),
    ("AdamW_amsgrad", lambda ps: fastnn.optim.AdamW(ps, lr=0.02, betas=(0.8, 0.9), amsgrad=True, maximize=True)),
    ("RMSprop", lambda ps: fastnn.optim.RMSprop(ps, lr=0.01)),
    ("RMSprop_centered_momentum", lambda ps: fastnn.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True,
                                                                  weight_decay=0.01)),
    ("Adagrad", lambda ps: fastnn.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
]


def _optimise(make_opt, dev, dtype, steps=6, make_sched=None, sched_metric=False):
    fastnn.manual_seed(1)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).to(dev).to(dtype=dtype)
    opt = make_opt(m.parameters())
    sched = make_sched(opt) if make_sched else None
    rng = np.random.default_rng(2)
    x = fastnn.tensor(rng.standard_normal((10, 4)), dtype=dtype, device=dev)
    y = fastnn.tensor(rng.standard_normal((10, 2)), dtype=dtype, device=dev)
    losses, lrs = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
        if sched is not None:
            sched.step(loss) if sched_metric else sched.step()
        losses.append(loss.item())
    return m, opt, losses, lrs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,make_opt", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_optimizers_step_on_cuda_like_cpu(name, make_opt, dtype):
    mc, oc, lc, _ = _optimise(make_opt, "cpu", dtype)
    mg, og, lg, _ = _optimise(make_opt, "cuda", dtype)
    _close(lg, lc, dtype, f"{name} losses", 10)
    for (n, pc), pg in zip(mc.named_parameters(), mg.parameters()):
        assert pg.device == CUDA
        _close(_host(pg), _host(pc), dtype, f"{name} {n}", 10)
        sc, sg = oc.state[pc], og.state[pg]
        assert sorted(sc) == sorted(sg)
        for key in sc:
            if isinstance(sc[key], fastnn.Tensor):
                if key != "step":
                    assert sg[key].device == CUDA, f"{name} state {key} on {sg[key].device}"
                _close(_host(sg[key]), _host(sc[key]), dtype, f"{name} state {key}", 10)


@pytest.mark.parametrize("name,make_opt", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_optimizer_state_dict_round_trip_on_cuda(name, make_opt, tmp_path):
    """A CUDA optimiser saved and loaded (into a CUDA or a CPU optimiser) continues exactly like the original."""
    ref, ref_opt, _, _ = _optimise(make_opt, "cuda", np.float32, steps=3)
    path = tmp_path / "opt.fnn"
    fastnn.save({"model": ref.state_dict(), "opt": ref_opt.state_dict()}, path)
    x = np.ones((3, 4), np.float32)

    def one_step(m, opt):
        opt.zero_grad()
        m(fastnn.tensor(x, device=m[0].weight.device)).pow(2).sum().backward()
        opt.step()
        return [_host(p) for p in m.parameters()]

    want = one_step(ref, ref_opt)
    for dev, loc in (("cuda", None), ("cuda", "cuda"), ("cpu", "cpu"), ("cpu", "cuda")):
        ck = fastnn.load(path, map_location=loc)
        m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).to(dev)
        m.load_state_dict(ck["model"])
        opt = make_opt(m.parameters())
        opt.load_state_dict(ck["opt"])
        for p in m.parameters():
            assert p.device == fastnn.device(dev)
            for key, v in opt.state[p].items():
                if isinstance(v, fastnn.Tensor):
                    # the step counters stay on the host, like PyTorch's
                    want_dev = CPU if key == "step" else fastnn.device(dev)
                    assert v.device == want_dev, f"state {key} on {v.device}, parameter on {dev}"
        for a, b in zip(want, one_step(m, opt)):
            _close(b, a, np.float32, f"{name} after load on {dev} (map_location={loc})")


SCHEDULERS = [
    ("StepLR", lambda o: fastnn.optim.lr_scheduler.StepLR(o, 2, gamma=0.5), False),
    ("MultiStepLR", lambda o: fastnn.optim.lr_scheduler.MultiStepLR(o, [1, 3], gamma=0.3), False),
    ("ExponentialLR", lambda o: fastnn.optim.lr_scheduler.ExponentialLR(o, 0.8), False),
    ("CosineAnnealingLR", lambda o: fastnn.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=1e-3), False),
    ("CosineAnnealingWarmRestarts", lambda o: fastnn.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 2, T_mult=2),
     False),
    ("OneCycleLR", lambda o: fastnn.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=8), False),
    ("LambdaLR", lambda o: fastnn.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (e + 1)), False),
    ("LinearLR", lambda o: fastnn.optim.lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=3), False),
    ("SequentialLR", lambda o: fastnn.optim.lr_scheduler.SequentialLR(
        o, [fastnn.optim.lr_scheduler.ConstantLR(o, 0.5, total_iters=2),
            fastnn.optim.lr_scheduler.ExponentialLR(o, 0.9)], milestones=[2]), False),
    ("ReduceLROnPlateau", lambda o: fastnn.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=0,
                                                                                threshold=0.5), True),
]


@pytest.mark.parametrize("name,make_sched,metric", SCHEDULERS, ids=[n for n, _, _ in SCHEDULERS])
def test_schedulers_drive_cuda_optimizers_like_cpu(name, make_sched, metric):
    def make_opt(ps):
        return fastnn.optim.SGD(ps, lr=0.05, momentum=0.9)
    mc, _, lc, rc = _optimise(make_opt, "cpu", np.float64, 8, make_sched, metric)
    mg, _, lg, rg = _optimise(make_opt, "cuda", np.float64, 8, make_sched, metric)
    assert all(isinstance(r, float) for r in rg), rg
    np.testing.assert_allclose(rg, rc, rtol=1e-12)
    assert len(set(rc)) > 1, f"{name}: the learning rate never changed"
    _close(lg, lc, np.float64, name, 10)
    for pc, pg in zip(mc.parameters(), mg.parameters()):
        _close(_host(pg), _host(pc), np.float64, name, 10)


# ---------------------------------------------------------------------------- saving and loading

def _conv_model():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(12, 2))


def test_cuda_model_state_dict_save_and_load(tmp_path):
    fastnn.manual_seed(0)
    m = _conv_model().to("cuda")
    x = fastnn.randn(4, 1, 4, 4, device="cuda")
    m(x)    # moves the running statistics and the batch counter
    m.eval()
    want = _host(m(x))
    sd = m.state_dict()
    assert all(v.device == CUDA for v in sd.values())
    path = tmp_path / "model.fnn"
    fastnn.save(sd, path)
    for loc, dev in ((None, "cuda"), ("cpu", "cpu"), ("cuda", "cuda"), (fastnn.device("cuda:0"), "cuda"),
                     ({"cuda:0": "cpu"}, "cpu"), ({"cuda:1": "cpu"}, "cuda")):
        loaded = fastnn.load(path, map_location=loc)
        assert set(loaded) == set(sd)
        for k, v in loaded.items():
            assert v.device == fastnn.device(dev), f"{k} loaded on {v.device} with map_location={loc}"
            np.testing.assert_array_equal(v.numpy() if dev == "cpu" else _host(v), _host(sd[k]))
        for target in ("cpu", "cuda"):
            fastnn.manual_seed(5)
            m2 = _conv_model().to(target)
            m2.load_state_dict(loaded)
            for k, v in m2.state_dict().items():
                assert v.device == fastnn.device(target), f"{k} on {v.device} after load_state_dict"
            m2.eval()
            got = m2(x.to(target))
            assert got.device == fastnn.device(target)
            _close(_host(got), want, np.float32, f"map_location={loc} into {target}")
    # whole-tensor round trip, dtype kept
    t = fastnn.arange(6, dtype=fastnn.float64, device="cuda").reshape(2, 3)
    fastnn.save({"t": t, "n": 3}, path)
    back = fastnn.load(path, map_location="cuda")
    assert back["t"].device == CUDA and back["t"].dtype == fastnn.float64 and back["n"] == 3
    np.testing.assert_array_equal(back["t"].cpu().numpy(), t.cpu().numpy())


def test_load_state_dict_assign_and_copy_keep_devices():
    src = nn.Linear(3, 2)
    dst = nn.Linear(3, 2).to("cuda")
    dst.load_state_dict(src.state_dict())
    assert dst.weight.device == CUDA
    np.testing.assert_array_equal(dst.weight.detach().cpu().numpy(), src.weight.detach().numpy())
    dst.load_state_dict(nn.Linear(3, 2).to("cuda").state_dict(), assign=True)
    assert dst.weight.device == CUDA and isinstance(dst.weight, nn.Parameter)


def test_checkpoint_resume_of_a_cuda_model(tmp_path):
    from fastnn.train import checkpoint as ckpt_mod

    def make():
        fastnn.manual_seed(0)
        m = _conv_model().to("cuda")
        o = fastnn.optim.Adam(m.parameters(), lr=0.01)
        s = fastnn.optim.lr_scheduler.StepLR(o, 1, gamma=0.5)
        return m, o, s

    x = fastnn.randn(4, 1, 4, 4, device="cuda")
    y = fastnn.tensor([0, 1, 1, 0], device="cuda")

    def step(m, o, s):
        o.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        o.step()
        s.step()
        return loss.item()

    m, o, s = make()
    step(m, o, s)
    path = tmp_path / "ck.fnn"
    ckpt_mod.save_checkpoint(path, m, o, s, epoch=1)
    cont = [step(m, o, s) for _ in range(2)]
    m2, o2, s2 = make()
    ckpt_mod.resume(path, m2, o2, s2)
    assert all(p.device == CUDA for p in m2.parameters())
    assert all(v.device == CUDA for st in o2.state.values() for k, v in st.items() if k != "step")
    resumed = [step(m2, o2, s2) for _ in range(2)]
    np.testing.assert_allclose(resumed, cont, rtol=1e-6)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_allclose(_host(b), _host(a), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------- the training loop

def _blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2.0, 0.0], [-1.0, 2.0], [-1.0, -2.0]])
    x = centres[y] + rng.standard_normal((n, 2)) * 0.7
    return x.astype(np.float32), y.astype(np.int64)


def _fit(device, data_on_device=False, **kw):
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))
    opt = fastnn.optim.Adam(model.parameters(), lr=0.02)
    sched = fastnn.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
    x, y = _blobs()
    xv, yv = _blobs(40, 1)
    train = (x, y)
    if data_on_device:
        train = fastnn.data.DataLoader(fastnn.data.TensorDataset(fastnn.tensor(x, device=device),
                                                                 fastnn.tensor(y, device=device)),
                                       batch_size=16, shuffle=True)
    hist = fastnn.train.fit(model, train, nn.CrossEntropyLoss(), opt, epochs=4, val_data=(xv, yv),
                            metrics=["accuracy", "f1"], scheduler=sched, verbose=0, batch_size=16, device=device, **kw)
    ev = fastnn.train.evaluate(model, (xv, yv), nn.CrossEntropyLoss(), metrics=["accuracy"], device=device)
    pred = fastnn.train.predict(model, xv, device=device)
    return model, hist.history, ev, pred


@pytest.mark.parametrize("data_on_device", [False, True], ids=["host_data", "device_data"])
def test_fit_evaluate_predict_on_cuda_match_cpu(data_on_device):
    mc, hc, ec, pc = _fit("cpu", data_on_device)
    mg, hg, eg, pg = _fit("cuda", data_on_device)
    assert all(p.device == CUDA for p in mg.parameters())
    assert sorted(hg) == sorted(hc)

    def close(got, want, key):
        # float32 rounding may flip a borderline prediction: one sample moves a metric by a few percent
        tol = dict(atol=0.05) if "accuracy" in key or "f1" in key else dict(rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(got, want, err_msg=key, **tol)

    for k in hc:
        close(hg[k], hc[k], k)
        assert all(isinstance(v, float) for v in hg[k]), k
    assert sorted(eg) == sorted(ec)
    for k in ec:
        assert isinstance(eg[k], float)
        close(eg[k], ec[k], k)
    assert type(pg) is np.ndarray and pg.shape == (40, 3)
    np.testing.assert_allclose(pg, pc, rtol=1e-3, atol=1e-4)
    assert hg["val_accuracy"][-1] > 0.8


def test_fit_with_checkpoint_and_early_stopping_on_cuda(tmp_path):
    from fastnn.train import EarlyStopping, ModelCheckpoint
    path = tmp_path / "best.fnn"
    cbs = [ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True, verbose=0),
           EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)]
    model, hist, ev, _ = _fit("cuda", callbacks=cbs)
    assert path.exists() and all(p.device == CUDA for p in model.parameters())
    best = fastnn.train.load_checkpoint(str(path))
    m2 = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3)).to("cuda")
    m2.load_state_dict(best["model"])
    assert all(p.device == CUDA for p in m2.parameters())
    assert fastnn.train.evaluate(m2, _blobs(40, 1), nn.CrossEntropyLoss(), device="cuda")["loss"] < 1.0


def test_metrics_take_cuda_tensors():
    from fastnn import metrics
    y = fastnn.tensor([0, 1, 2, 2, 1], device="cuda")
    logits = fastnn.tensor(np.eye(3, dtype=np.float32)[[0, 1, 1, 2, 1]], device="cuda")
    assert metrics.accuracy(y, logits) == pytest.approx(0.8)
    np.testing.assert_array_equal(metrics.confusion_matrix(y, logits, num_classes=3),
                                  metrics.confusion_matrix(y.cpu(), logits.cpu(), num_classes=3))
    p, r, f = metrics.precision_recall_f1(y, logits)
    p2, r2, f2 = metrics.precision_recall_f1(y.cpu(), logits.cpu())
    assert (p, r, f) == (p2, r2, f2)
    yt = fastnn.tensor([1.0, 2.0, 3.0], device="cuda")
    yp = fastnn.tensor([1.5, 2.0, 2.0], device="cuda")
    for fn in (metrics.mse, metrics.mae, metrics.rmse, metrics.r2):
        assert fn(yt, yp) == pytest.approx(fn(yt.cpu(), yp.cpu()))


def test_summary_of_a_cuda_model():
    m = fastnn.models.LeNet5().to("cuda")
    text = fastnn.summary(m, (1, 28, 28), print_fn=None)
    assert "Total params: 44,426" in text
    assert all(p.device == CUDA for p in m.parameters())


def test_data_tools_keep_cuda_tensors_on_the_gpu():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 3)).astype(np.float32) * 4 + 2
    y = (np.arange(20) % 2).astype(np.int64)
    xg, yg = fastnn.tensor(x, device="cuda"), fastnn.tensor(y, device="cuda")
    for scaler in (fastnn.data.StandardScaler(), fastnn.data.MinMaxScaler((-1, 1))):
        got = scaler.fit_transform(xg)
        assert isinstance(got, fastnn.Tensor) and got.device == CUDA
        want = (fastnn.data.MinMaxScaler((-1, 1)) if isinstance(scaler, fastnn.data.MinMaxScaler)
                else fastnn.data.StandardScaler()).fit_transform(x)
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-6, atol=1e-6)
        back = scaler.inverse_transform(got)
        assert back.device == CUDA
        np.testing.assert_allclose(back.cpu().numpy(), x, rtol=1e-5, atol=1e-5)
    xtr, xte, ytr, yte = fastnn.data.train_test_split(xg, yg, test_size=0.25, stratify=yg, seed=0)
    ctr, cte, _, _ = fastnn.data.train_test_split(x, y, test_size=0.25, stratify=y, seed=0)
    assert all(t.device == CUDA for t in (xtr, xte, ytr, yte))
    np.testing.assert_array_equal(xtr.cpu().numpy(), ctr)
    np.testing.assert_array_equal(xte.cpu().numpy(), cte)
    ds = fastnn.data.TensorDataset(xg, yg)
    a, b = fastnn.data.random_split(ds, [15, 5])
    for batch in (next(iter(fastnn.data.DataLoader(a, batch_size=4))), fastnn.data.default_collate([ds[0], ds[1]])):
        assert all(t.device == CUDA for t in batch)
    for tr, te in fastnn.data.StratifiedKFold(2, shuffle=True, seed=0).split(xg, yg):
        assert len(tr) + len(te) == 20


def test_bare_parameter_and_buffers_follow_the_default_device():
    prev = fastnn.get_default_device()
    fastnn.set_default_device("cuda")
    try:
        p = nn.Parameter()
        m = nn.BatchNorm1d(3)
        t = fastnn.zeros(2)
    finally:
        fastnn.set_default_device(prev)
    assert p.device == CUDA and t.device == CUDA
    assert all(b.device == CUDA for b in m.buffers())
    # and a CUDA module's buffers stay there through training steps
    m.train()
    m(fastnn.randn(4, 3, device="cuda"))
    assert m.num_batches_tracked.device == CUDA and m.num_batches_tracked.item() == 1


def test_fit_evaluate_predict_follow_a_cuda_model_without_device_argument():
    """Host data meets a model already on the GPU: the batches follow the model's device."""
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)).to("cuda")
    opt = fastnn.optim.SGD(model.parameters(), lr=0.1)
    x, y = _blobs(32)
    hist = fastnn.train.fit(model, (x, y), nn.CrossEntropyLoss(), opt, epochs=2, verbose=0, batch_size=8)
    assert len(hist.history["loss"]) == 2
    assert "loss" in fastnn.train.evaluate(model, (x, y), nn.CrossEntropyLoss())
    assert fastnn.train.predict(model, x).shape == (32, 3)
    res = fastnn.train.cross_validate(lambda: nn.Linear(2, 3).to("cuda"),
                                      lambda m: fastnn.optim.SGD(m.parameters(), lr=0.1), (x, y),
                                      nn.CrossEntropyLoss(), k=2, epochs=1, metrics=["accuracy"])
    assert len(res.folds) == 2
