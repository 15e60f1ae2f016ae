"""CNN layers against PyTorch with copied weights: Conv1d/2d (padding modes), ConvTranspose1d/2d (output_size),
pooling layers, BatchNorm1d/2d (running statistics, momentum, eval mode, affine, track_running_stats), and
PyTorch's default initialisation bounds."""
import math

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn

torch = pytest.importorskip("torch")


def copy_params(src_torch, dst):
    """Copy a torch module's parameters and buffers into the fastnn module of the same structure."""
    tstate = src_torch.state_dict()
    for name, t in dst.state_dict().items():
        assert name in tstate, name
        t._data[...] = tstate[name].detach().numpy()


def check(f_mod, t_mod, x, rtol=1e-5, atol=1e-5, backward=True):
    fx = fastnn.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    fy, ty = f_mod(fx), t_mod(tx)
    assert tuple(fy.shape) == tuple(ty.shape)
    np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    if backward:
        g = np.random.default_rng(0).standard_normal(tuple(ty.shape)).astype(x.dtype)
        fy.backward(fastnn.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
        fparams = dict(f_mod.named_parameters())
        for name, p in t_mod.named_parameters():
            np.testing.assert_allclose(fparams[name].grad.numpy(), p.grad.numpy(), rtol=rtol * 10, atol=atol * 10)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3),
    dict(kernel_size=(3, 5), stride=2, padding=(1, 2), dilation=(2, 1)),
    dict(kernel_size=4, padding="same", bias=False),
    dict(kernel_size=3, groups=2, padding=1, padding_mode="reflect"),
    dict(kernel_size=3, padding=2, padding_mode="replicate"),
    dict(kernel_size=3, padding=1, padding_mode="circular"),
    dict(kernel_size=3, groups=4, padding="valid"),
])
def test_conv2d_layer(kwargs):
    torch.manual_seed(0)
    t = torch.nn.Conv2d(4, 8, **kwargs)
    f = nn.Conv2d(4, 8, **kwargs)
    copy_params(t, f)
    check(f, t, np.random.default_rng(1).standard_normal((2, 4, 9, 11)).astype(np.float32))
    assert repr(f).startswith("Conv2d(4, 8")


def test_conv1d_and_transposed_layers():
    torch.manual_seed(0)
    x1 = np.random.default_rng(2).standard_normal((3, 4, 20)).astype(np.float32)
    for kw in (dict(kernel_size=5, stride=2, padding=2), dict(kernel_size=3, padding="same", dilation=2, groups=2)):
        t, f = torch.nn.Conv1d(4, 6, **kw), nn.Conv1d(4, 6, **kw)
        copy_params(t, f)
        check(f, t, x1)
    t, f = torch.nn.ConvTranspose1d(4, 2, 4, stride=2, padding=1), nn.ConvTranspose1d(4, 2, 4, stride=2, padding=1)
    copy_params(t, f)
    check(f, t, x1)
    x2 = np.random.default_rng(3).standard_normal((2, 4, 5, 6)).astype(np.float32)
    kw = dict(kernel_size=3, stride=2, padding=1, output_padding=1, groups=2)
    t, f = torch.nn.ConvTranspose2d(4, 6, **kw), nn.ConvTranspose2d(4, 6, **kw)
    copy_params(t, f)
    check(f, t, x2)
    # output_size picks the output padding, as in PyTorch.
    t, f = torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1), nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1)
    copy_params(t, f)
    y = f(fastnn.tensor(x2), output_size=(10, 12))
    ty = t(torch.tensor(x2), output_size=(10, 12))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="output size"):
        f(fastnn.tensor(x2), output_size=(20, 20))


def test_default_init_bounds():
    fastnn.manual_seed(0)
    conv = nn.Conv2d(3, 64, 5)
    fan_in = 3 * 25
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    assert np.abs(w).max() <= bound + 1e-7 and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound + 1e-7
    assert conv.weight.dtype == fastnn.float32
    tconv = nn.ConvTranspose2d(8, 4, 3)
    assert tuple(tconv.weight.shape) == (8, 4, 3, 3)
    assert np.abs(tconv.weight.detach().numpy()).max() <= 1 / math.sqrt(4 * 9) + 1e-7
    conv64 = nn.Conv2d(2, 2, 3, dtype=fastnn.float64)
    assert conv64.weight.dtype == fastnn.float64


def test_pooling_layers():
    x = np.random.default_rng(4).standard_normal((2, 3, 11, 9)).astype(np.float32)
    pairs = [
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
        (nn.AdaptiveAvgPool2d((3, None)), torch.nn.AdaptiveAvgPool2d((3, None))),
        (nn.AdaptiveMaxPool2d(4), torch.nn.AdaptiveMaxPool2d(4)),
    ]
    for f, t in pairs:
        check(f, t, x)
    x1 = x[:, :, 0]
    check(nn.MaxPool1d(2), torch.nn.MaxPool1d(2), x1)
    check(nn.AvgPool1d(3, 2), torch.nn.AvgPool1d(3, 2), x1)
    check(nn.AdaptiveAvgPool1d(2), torch.nn.AdaptiveAvgPool1d(2), x1)
    y, idx = nn.MaxPool2d(2, return_indices=True)(fastnn.tensor(x))
    up = nn.MaxUnpool2d(2)(y, idx, output_size=(11, 9))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(up.numpy(), torch.nn.MaxUnpool2d(2)(ty, tidx, output_size=(11, 9)).numpy())


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (4, 3, 5, 6)), ("BatchNorm1d", (8, 3)),
                                       ("BatchNorm1d", (4, 3, 7))])
@pytest.mark.parametrize("kwargs", [dict(), dict(momentum=None), dict(affine=False, momentum=0.3),
                                    dict(track_running_stats=False), dict(eps=1e-3)])
def test_batchnorm_matches_torch(cls, shape, kwargs):
    torch.manual_seed(0)
    t = getattr(torch.nn, cls)(3, **kwargs).double()
    f = getattr(nn, cls)(3, dtype=fastnn.float64, **kwargs)
    if t.affine:
        with torch.no_grad():
            t.weight.uniform_(0.5, 1.5)
            t.bias.uniform_(-0.5, 0.5)
    copy_params(t, f)
    rng = np.random.default_rng(5)
    for _ in range(3):  # running statistics evolve over several batches
        x = rng.standard_normal(shape) * 2 + 1
        check(f, t, x, rtol=1e-9, atol=1e-9)
        if t.track_running_stats:
            np.testing.assert_allclose(f.running_mean.numpy(), t.running_mean.numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(f.running_var.numpy(), t.running_var.numpy(), rtol=1e-12, atol=1e-12)
            assert int(f.num_batches_tracked.item()) == int(t.num_batches_tracked.item())
    f.eval()
    t.eval()
    check(f, t, rng.standard_normal(shape), rtol=1e-9, atol=1e-9)


def test_batchnorm_state_and_errors():
    bn = nn.BatchNorm2d(4)
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    with pytest.raises(ValueError, match="4D"):
        bn(fastnn.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="channels"):
        bn(fastnn.zeros(2, 3, 5, 5))
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm1d(4)(fastnn.zeros(1, 4))
    fastnn.manual_seed(0)
    x = fastnn.randn(3, 2, 4, 4, dtype=fastnn.float64, requires_grad=True)
    w = fastnn.tensor([1.5, 0.5], dtype=fastnn.float64, requires_grad=True)
    b = fastnn.tensor([0.1, -0.2], dtype=fastnn.float64, requires_grad=True)
    F = nn.functional
    assert fastnn.autograd.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(4, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(4, 6, "3")
    with pytest.raises(ValueError, match="channels"):
        nn.Conv2d(4, 6, 3)(fastnn.zeros(1, 3, 8, 8))
