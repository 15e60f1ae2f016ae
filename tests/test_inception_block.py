"""fastnn.models.InceptionBlock against torchvision's GoogLeNet ``Inception`` (or the same block written
in PyTorch here when torchvision is missing): state dict names, outputs, gradients, running statistics."""
import numpy as np
import pytest

import fastnn
from fastnn.models import BasicConv2d, InceptionBlock
from torch_compare import check_layer, fastnn_state, rel_err


def torch_inception(torch):
    """torchvision's ``Inception`` class, or a copy of it (same structure and names) without torchvision."""
    try:
        from torchvision.models.googlenet import Inception
        return Inception
    except ImportError:
        pass
    nn, F = torch.nn, torch.nn.functional

    class TorchBasicConv2d(nn.Module):
        def __init__(self, in_channels, out_channels, **kwargs):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
            self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)), inplace=True)

    class Inception(nn.Module):
        def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
            super().__init__()
            self.branch1 = TorchBasicConv2d(in_channels, ch1x1, kernel_size=1)
            self.branch2 = nn.Sequential(TorchBasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                         TorchBasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
            self.branch3 = nn.Sequential(TorchBasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                         TorchBasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
            self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                         TorchBasicConv2d(in_channels, pool_proj, kernel_size=1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)

    return Inception


def pair(torch, *args):
    torch.manual_seed(0)
    tm = torch_inception(torch)(*args)
    with torch.no_grad():
        for name, b in tm.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.1)
        for name, p in tm.named_parameters():
            if name.endswith("bn.weight"):
                p.copy_(torch.rand_like(p) + 0.5)
            elif name.endswith("bn.bias"):
                p.copy_(torch.randn_like(p) * 0.1)
    fm = InceptionBlock(*args)
    missing, unexpected = fm.load_state_dict(fastnn_state(tm.state_dict()))
    assert not missing and not unexpected
    return tm, fm


# GoogLeNet's inception3a, then small odd ones with sizes 1 and primes
CASES = [((192, 64, 96, 128, 16, 32, 32), (2, 192, 7, 7)),
         ((3, 1, 2, 5, 1, 3, 2), (3, 3, 5, 7)),
         ((1, 4, 1, 1, 2, 3, 1), (2, 1, 1, 1)),
         ((5, 2, 3, 4, 3, 2, 7), (4, 5, 11, 2))]


@pytest.mark.parametrize("args,shape", CASES)
def test_state_dict_names_equal_torchvision(torch, args, shape):
    tm = torch_inception(torch)(*args)
    fm = InceptionBlock(*args)
    assert list(fm.state_dict()) == list(tm.state_dict())
    for (tn, tp), (fn, fp) in zip(tm.named_parameters(), fm.named_parameters()):
        assert tn == fn and tuple(fp.shape) == tuple(tp.shape)


@pytest.mark.parametrize("args,shape", CASES)
def test_train_mode_equals_pytorch(torch, args, shape):
    tm, fm = pair(torch, *args)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    # output, input and parameter gradients, running statistics after the batch
    check_layer(torch, tm, fm, x, tol=2e-4)
    assert tuple(fm(fastnn.tensor(x)).shape) == (shape[0], args[1] + args[3] + args[5] + args[6]) + shape[2:]
    assert fm.out_channels == args[1] + args[3] + args[5] + args[6]


@pytest.mark.parametrize("args,shape", CASES[:2])
def test_eval_mode_equals_pytorch(torch, args, shape):
    tm, fm = pair(torch, *args)
    tm.eval()
    fm.eval()
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.tensor(x)).numpy()
    with fastnn.no_grad():
        got = fm(fastnn.tensor(x)).numpy()
    assert rel_err(got, ref) < 1e-4


def test_gradcheck_float64():
    fm = InceptionBlock(2, 1, 2, 2, 1, 2, 1).double()
    fm.eval()  # running statistics: a deterministic function of the input for finite differences
    x = fastnn.tensor(np.random.default_rng(0).standard_normal((2, 2, 4, 3)), requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda t: fm(t), (x,))


def test_torchvision_5x5_branch_is_3x3_and_custom_conv_block():
    fm = InceptionBlock(4, 2, 3, 5, 2, 6, 1)
    assert tuple(fm.branch3[1].conv.weight.shape) == (6, 2, 3, 3)
    assert isinstance(fm.branch1, BasicConv2d)
    assert fm.branch4[0].ceil_mode and fm.branch4[0].stride in (1, (1, 1))

    class Plain(fastnn.nn.Module):
        def __init__(self, cin, cout, **kw):
            super().__init__()
            self.conv = fastnn.nn.Conv2d(cin, cout, **kw)

        def forward(self, x):
            return self.conv(x)

    fm = InceptionBlock(4, 2, 3, 5, 2, 6, 1, conv_block=Plain)
    assert "branch1.conv.bias" in fm.state_dict()
    assert tuple(fm(fastnn.randn(1, 4, 6, 6)).shape) == (1, 14, 6, 6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="ch3x3"):
        InceptionBlock(4, 2, 3, 0, 2, 6, 1)
    with pytest.raises(ValueError, match="in_channels"):
        InceptionBlock(2.5, 2, 3, 1, 2, 6, 1)
    with pytest.raises(ValueError, match=r"\(N, 4, H, W\).*\(1, 3, 6, 6\)"):
        InceptionBlock(4, 2, 3, 5, 2, 6, 1)(fastnn.randn(1, 3, 6, 6))
