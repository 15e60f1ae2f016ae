"""optim.swa_utils against torch.optim.swa_utils: the same model, the same sequence of weights,
the same averages (SWA and EMA, list and per-tensor functions, with and without buffers)."""

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.optim import swa_utils


def _pair(torch):
    fm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in fm.state_dict().items()})
    return fm, tm


def _step(fm, tm, torch, rng):
    """Perturb the parameters identically and run a training-mode batch so the BN statistics move."""
    x = rng.normal(size=(5, 3)).astype(np.float32)
    fm.train(), tm.train()
    fm(fastnn.tensor(x)), tm(torch.from_numpy(x))
    with torch.no_grad(), fastnn.no_grad():
        for fp, tp in zip(fm.parameters(), tm.parameters()):
            d = rng.normal(size=tuple(fp.shape)).astype(np.float32)
            fp.add_(fastnn.tensor(d))
            tp.add_(torch.from_numpy(d))


def _avg_fns(name, torch):
    tsu = torch.optim.swa_utils
    return {
        "swa_default": ({}, {}),
        "swa_multi": (dict(multi_avg_fn=swa_utils.get_swa_multi_avg_fn()), dict(multi_avg_fn=tsu.get_swa_multi_avg_fn())),
        "swa_single": (dict(avg_fn=swa_utils.get_swa_avg_fn()), dict(avg_fn=tsu.get_swa_avg_fn())),
        "ema_multi": (dict(multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9)), dict(multi_avg_fn=tsu.get_ema_multi_avg_fn(0.9))),
        "ema_single": (dict(avg_fn=swa_utils.get_ema_avg_fn(0.75)), dict(avg_fn=tsu.get_ema_avg_fn(0.75))),
    }[name]


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("fn", ["swa_default", "swa_multi", "swa_single", "ema_multi", "ema_single"])
def test_averaged_model_matches_torch(torch, rng, fn, use_buffers):
    fm, tm = _pair(torch)
    fkw, tkw = _avg_fns(fn, torch)
    if fn == "swa_multi" and use_buffers:
        # PyTorch's list update refuses integer buffers on the CPU (integer addcdiv); its per-tensor
        # default gives the same running mean
        tkw = {}
    fa = swa_utils.AveragedModel(fm, use_buffers=use_buffers, **fkw)
    ta = torch.optim.swa_utils.AveragedModel(tm, use_buffers=use_buffers, **tkw)
    for _ in range(4):
        _step(fm, tm, torch, rng)
        fa.update_parameters(fm)
        ta.update_parameters(tm)
    fsd, tsd = fa.state_dict(), ta.state_dict()
    assert list(fsd.keys()) == list(tsd.keys())
    for k in tsd:
        assert fsd[k].numpy().dtype == tsd[k].numpy().dtype, k
        np.testing.assert_allclose(fsd[k].numpy(), tsd[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(fa.n_averaged) == 4
    x = rng.normal(size=(6, 3)).astype(np.float32)
    fa.eval(), ta.eval()
    np.testing.assert_allclose(fa(fastnn.tensor(x)).detach().numpy(), ta(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    # the source model is left untouched and the copy does not share its tensors
    assert fa.module is not fm and fa.module[0].weight is not fm[0].weight


def test_state_dict_round_trip_and_torch_load(torch, rng, tmp_path):
    fm, tm = _pair(torch)
    fa = swa_utils.AveragedModel(fm, multi_avg_fn=swa_utils.get_ema_multi_avg_fn())
    for _ in range(3):
        _step(fm, tm, torch, rng)
        fa.update_parameters(fm)
    fb = swa_utils.AveragedModel(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)))
    fb.load_state_dict(fa.state_dict())
    for (k, a), (_, b) in zip(fa.state_dict().items(), fb.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    path = tmp_path / "ema.pt"
    fastnn.save(fa.state_dict(), path)
    fc = swa_utils.AveragedModel(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)))
    fc.load_state_dict(fastnn.load(path))
    assert int(fc.n_averaged) == 3
    # PyTorch's AveragedModel loads fastnn's state dict as is
    ta = torch.optim.swa_utils.AveragedModel(tm)
    ta.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in fa.state_dict().items()})
    assert int(ta.n_averaged) == 3


def test_parameters_do_not_train_and_grad_free(torch, rng):
    fm, _ = _pair(torch)
    fa = swa_utils.AveragedModel(fm)
    fa.update_parameters(fm)
    out = fm(fastnn.randn(4, 3)).sum()
    out.backward()
    fa.update_parameters(fm)
    assert all(p.grad is None for p in fa.parameters())


def test_avg_fn_arguments():
    with pytest.raises(ValueError, match="decay"):
        swa_utils.get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="decay"):
        swa_utils.get_ema_avg_fn(-0.1)
    with pytest.raises(ValueError, match="avg_fn"):
        swa_utils.AveragedModel(nn.Linear(2, 2), avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    fa = swa_utils.AveragedModel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="model"):
        fa.update_parameters(nn.Linear(2, 3))


def test_update_bn_matches_torch(torch, rng):
    fm, tm = _pair(torch)
    data = [rng.normal(size=(7, 3)).astype(np.float32) * 2 + 1 for _ in range(3)]
    fm.eval(), tm.eval()
    fm[1].momentum = tm[1].momentum = 0.3
    swa_utils.update_bn([(fastnn.tensor(x), 0) for x in data], fm)
    torch.optim.swa_utils.update_bn([(torch.from_numpy(x), 0) for x in data], tm)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(fm.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert not fm.training and fm[1].momentum == 0.3
    swa_utils.update_bn([fastnn.tensor(x) for x in data], nn.Linear(3, 2))  # no batch norm: nothing to do


@pytest.mark.parametrize("strategy,anneal_epochs", [("cos", 3), ("linear", 4), ("cos", 0)])
def test_swalr_matches_torch(torch, strategy, anneal_epochs):
    fp = [fastnn.nn.Parameter(fastnn.zeros(2))]
    tp = [torch.nn.Parameter(torch.zeros(2))]
    fo, to = fastnn.optim.SGD(fp, lr=0.5), torch.optim.SGD(tp, lr=0.5)
    fs = swa_utils.SWALR(fo, swa_lr=0.05, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    ts = torch.optim.swa_utils.SWALR(to, swa_lr=0.05, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    for _ in range(7):
        assert fo.param_groups[0]["lr"] == pytest.approx(to.param_groups[0]["lr"], rel=1e-12)
        fo.step(), to.step()
        fs.step(), ts.step()
    with pytest.raises(ValueError, match="anneal_strategy"):
        swa_utils.SWALR(fo, swa_lr=0.1, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs"):
        swa_utils.SWALR(fo, swa_lr=0.1, anneal_epochs=-1)
