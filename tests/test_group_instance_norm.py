"""nn.GroupNorm / nn.InstanceNorm1d/2d/3d and F.group_norm / F.instance_norm against PyTorch (values, gradients,
running statistics, state dicts, errors), gradcheck and gradgradcheck in float64."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.autograd import gradcheck, gradgradcheck
import fastnn.nn.functional as F
from torch_compare import check_layer, layer_pair, rel_err


def pair(torch, kind, *args, **kwargs):
    tm, fm = layer_pair(torch, kind, *args, **kwargs)
    assert list(fm.state_dict()) == list(tm.state_dict())
    return tm, fm


GROUP_CASES = [
    ((1, 1), {}, (2, 1, 3)),
    ((2, 6), {}, (3, 6, 5, 4)),
    ((3, 3), {"eps": 1e-3}, (1, 3, 7)),
    ((1, 4), {"affine": False}, (2, 4)),
    ((5, 10), {"bias": False}, (2, 10, 2, 3, 2)),
    ((4, 8), {}, (1, 8, 1, 1)),
    ((7, 7), {}, (13, 7, 11)),
]


@pytest.mark.parametrize("args,kwargs,shape", GROUP_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_norm_layer_matches_torch(torch, args, kwargs, shape, dtype):
    tm, fm = pair(torch, "GroupNorm", *args, **kwargs)
    if dtype == np.float64:
        tm.double(), fm.double()
    x = (np.random.default_rng(1).standard_normal(shape) * 3 + 1).astype(dtype)
    check_layer(torch, tm, fm, x, 1e-4 if dtype == np.float32 else 1e-10)
    assert repr(fm) == repr(tm)


def test_group_norm_empty_and_noncontiguous(torch):
    x = np.random.default_rng(0).standard_normal((4, 6, 5)).astype(np.float32)
    fy = F.group_norm(fastnn.tensor(x).transpose(0, 2).transpose(0, 2)[:, :, ::2], 3)
    ty = torch.nn.functional.group_norm(torch.tensor(x)[:, :, ::2], 3)
    assert rel_err(fy.numpy(), ty.numpy()) < 1e-5
    for shape in [(0, 4, 3), (2, 4, 0)]:
        e = np.zeros(shape, np.float32)
        assert F.group_norm(fastnn.tensor(e), 2).shape == tuple(torch.nn.functional.group_norm(
            torch.tensor(e), 2).shape)


def test_group_norm_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(2)
    x = fastnn.tensor(rng.standard_normal((2, 6, 3)), requires_grad=True)
    w = fastnn.tensor(rng.standard_normal(6), requires_grad=True)
    b = fastnn.tensor(rng.standard_normal(6), requires_grad=True)
    f = lambda x, w, b: F.group_norm(x, 3, w, b)  # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"num_channels \(5\) must be divisible by num_groups \(2\)"):
        nn.GroupNorm(2, 5)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(fastnn.randn(2, 5, 3), 2)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.group_norm(fastnn.randn(5), 1)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.group_norm(fastnn.randn(1, 2), 2)
    with pytest.raises(RuntimeError, match=r"weight.*\[3\].*\[2, 4, 3\]"):
        F.group_norm(fastnn.randn(2, 4, 3), 2, fastnn.ones(3))


INSTANCE_CASES = [
    ("InstanceNorm1d", (3,), {}, (2, 3, 5)),
    ("InstanceNorm1d", (4,), {"affine": True}, (4, 6)),               # unbatched (C, L)
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}, (2, 3, 4, 5)),
    ("InstanceNorm2d", (2,), {"track_running_stats": True, "momentum": 0.3}, (2, 5, 3)),  # unbatched
    ("InstanceNorm2d", (1,), {"affine": True, "bias": False}, (1, 1, 1, 2)),
    ("InstanceNorm3d", (2,), {"affine": True, "track_running_stats": True, "momentum": None}, (2, 2, 2, 3, 2)),
    ("InstanceNorm3d", (5,), {"eps": 1e-3}, (3, 5, 1, 7, 1)),
]


@pytest.mark.parametrize("kind,args,kwargs,shape", INSTANCE_CASES)
@pytest.mark.parametrize("training", [True, False])
def test_instance_norm_layer_matches_torch(torch, kind, args, kwargs, shape, training):
    tm, fm = pair(torch, kind, *args, **kwargs)
    tm.train(training), fm.train(training)
    x = (np.random.default_rng(1).standard_normal(shape) * 2 - 1).astype(np.float32)
    for _ in range(2):  # the second call sees the running statistics the first one updated
        check_layer(torch, tm, fm, x)
        for p in list(tm.parameters()) + list(fm.parameters()):
            p.grad = None
    assert repr(fm) == repr(tm)
    if "num_batches_tracked" in tm.state_dict():
        assert int(fm.num_batches_tracked.item()) == int(tm.num_batches_tracked.item())


def test_instance_norm_functional_running_stats(torch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 6)).astype(np.float64)
    rm, rv = rng.standard_normal(4), rng.random(4) + 0.5
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    for use in (True, False):
        trm, trv = torch.tensor(rm), torch.tensor(rv)
        frm, frv = fastnn.tensor(rm), fastnn.tensor(rv)
        ty = torch.nn.functional.instance_norm(torch.tensor(x), trm, trv, torch.tensor(w), torch.tensor(b),
                                               use_input_stats=use, momentum=0.2, eps=1e-4)
        fy = F.instance_norm(fastnn.tensor(x), frm, frv, fastnn.tensor(w), fastnn.tensor(b),
                             use_input_stats=use, momentum=0.2, eps=1e-4)
        assert rel_err(fy.numpy(), ty.numpy()) < 1e-12
        assert rel_err(frm.numpy(), trm.numpy()) < 1e-12
        assert rel_err(frv.numpy(), trv.numpy()) < 1e-12


def test_instance_norm_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(2)
    x = fastnn.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = fastnn.tensor(rng.standard_normal(3), requires_grad=True)
    b = fastnn.tensor(rng.standard_normal(3), requires_grad=True)
    f = lambda x, w, b: F.instance_norm(x, weight=w, bias=b)  # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_instance_norm_errors():
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(fastnn.randn(2, 3))
    with pytest.raises(ValueError, match=r"dim=1 to match num_features \(3\), but got: 4"):
        nn.InstanceNorm2d(3, affine=True)(fastnn.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(fastnn.randn(2, 3, 1))
    with pytest.raises(RuntimeError, match="running_mean and running_var to be defined"):
        F.instance_norm(fastnn.randn(2, 3, 4), use_input_stats=False)
    with pytest.raises(RuntimeError, match="weight"):
        F.instance_norm(fastnn.randn(2, 3, 4), weight=fastnn.ones(4))
