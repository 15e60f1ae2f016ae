"""Optimisers and lr schedulers against PyTorch: same start, same gradients, several steps, float64."""
import math

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from fastnn import optim
from fastnn.optim import lr_scheduler

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (2, 3, 2)]


def _params(rng):
    init = [rng.standard_normal(s) for s in SHAPES]
    pf = [fastnn.tensor(a.copy(), requires_grad=True) for a in init]
    pt = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    return pf, pt


def _run(make_f, make_t, steps=6, groups=None, seed=0, skip_grad_at=None):
    """Apply ``steps`` updates with identical random gradients; compare parameters after each step."""
    rng = np.random.default_rng(seed)
    pf, pt = _params(rng)
    if groups is None:
        opt_f, opt_t = make_f(pf), make_t(pt)
    else:
        opt_f = make_f([dict(g, params=[pf[i] for i in idx]) for idx, g in groups])
        opt_t = make_t([dict(g, params=[pt[i] for i in idx]) for idx, g in groups])
    for step in range(steps):
        for k, (a, b) in enumerate(zip(pf, pt)):
            if skip_grad_at is not None and skip_grad_at == (step, k):
                a.grad = None
                b.grad = None
                continue
            g = rng.standard_normal(a.shape)
            a.grad = fastnn.tensor(g)
            b.grad = torch.tensor(g)
        opt_f.step()
        opt_t.step()
        for a, b in zip(pf, pt):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-12,
                                       err_msg=f"after step {step}")
    return opt_f, opt_t, pf, pt


SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.1, momentum=0.5, weight_decay=0.01),
    dict(lr=0.1, momentum=0.9, maximize=True, weight_decay=0.1),
]


@pytest.mark.parametrize("cfg", SGD_CONFIGS, ids=[str(c) for c in SGD_CONFIGS])
def test_sgd(cfg):
    _run(lambda p: optim.SGD(p, **cfg), lambda p: torch.optim.SGD(p, **cfg))


ADAM_CONFIGS = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True),
    dict(lr=0.02, betas=(0.3, 0.9)),        # beta1 < 0.5: the other lerp branch
]


@pytest.mark.parametrize("cfg", ADAM_CONFIGS, ids=[str(c) for c in ADAM_CONFIGS])
def test_adam(cfg):
    _run(lambda p: optim.Adam(p, **cfg), lambda p: torch.optim.Adam(p, **cfg), steps=8)


@pytest.mark.parametrize("cfg", [dict(), dict(lr=0.01, weight_decay=0.1), dict(amsgrad=True, weight_decay=0.3)],
                         ids=["default", "wd", "amsgrad"])
def test_adamw(cfg):
    _run(lambda p: optim.AdamW(p, **cfg), lambda p: torch.optim.AdamW(p, **cfg), steps=8)


RMS_CONFIGS = [
    dict(),
    dict(lr=0.01, alpha=0.9, eps=1e-6),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1),
    dict(lr=0.01, maximize=True),
]


@pytest.mark.parametrize("cfg", RMS_CONFIGS, ids=[str(c) for c in RMS_CONFIGS])
def test_rmsprop(cfg):
    _run(lambda p: optim.RMSprop(p, **cfg), lambda p: torch.optim.RMSprop(p, **cfg))


ADAGRAD_CONFIGS = [
    dict(),
    dict(lr=0.1, lr_decay=0.01),
    dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
    dict(lr=0.1, eps=1e-6, maximize=True),
]


@pytest.mark.parametrize("cfg", ADAGRAD_CONFIGS, ids=[str(c) for c in ADAGRAD_CONFIGS])
def test_adagrad(cfg):
    _run(lambda p: optim.Adagrad(p, **cfg), lambda p: torch.optim.Adagrad(p, **cfg))


def test_param_groups_with_own_options_and_missing_grads():
    groups = [([0], dict(lr=0.1, momentum=0.9)), ([1, 2], dict(lr=0.01))]
    opt_f, opt_t, _, _ = _run(lambda g: optim.SGD(g, lr=0.5), lambda g: torch.optim.SGD(g, lr=0.5),
                              groups=groups, skip_grad_at=(2, 1))
    assert opt_f.param_groups[1]["momentum"] == 0 and opt_f.param_groups[0]["lr"] == 0.1
    groups = [([0, 2], dict(lr=0.01, betas=(0.5, 0.9))), ([1], dict(weight_decay=0.2))]
    _run(lambda g: optim.Adam(g, lr=0.05), lambda g: torch.optim.Adam(g, lr=0.05), groups=groups)


def test_state_dict_matches_torch_layout_and_round_trips():
    opt_f, opt_t, pf, pt = _run(lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
                                lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True), steps=3)
    sf, st = opt_f.state_dict(), opt_t.state_dict()
    assert sorted(sf["state"].keys()) == sorted(st["state"].keys()) == [0, 1, 2]
    assert sorted(sf["state"][0].keys()) == sorted(st["state"][0].keys())
    assert float(sf["state"][0]["step"].item()) == 3.0
    assert sf["param_groups"][0]["params"] == st["param_groups"][0]["params"]
    for k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert sf["param_groups"][0][k] == st["param_groups"][0][k]
    np.testing.assert_allclose(sf["state"][1]["exp_avg_sq"].numpy(), st["state"][1]["exp_avg_sq"].numpy(),
                               rtol=1e-10)
    # through fastnn.save/load, into a fresh optimiser: continuing must match an uninterrupted run
    import io
    buf = io.BytesIO()
    fastnn.save(sf, buf)
    buf.seek(0)
    loaded = fastnn.load(buf)
    clones = [fastnn.tensor(p.detach().numpy().copy(), requires_grad=True) for p in pf]
    opt2 = optim.Adam(clones, lr=0.5)
    opt2.load_state_dict(loaded)
    assert opt2.param_groups[0]["lr"] == 0.01
    rng = np.random.default_rng(9)
    for _ in range(3):
        for a, b, c in zip(pf, clones, pt):
            g = rng.standard_normal(a.shape)
            a.grad, b.grad, c.grad = fastnn.tensor(g), fastnn.tensor(g), torch.tensor(g)
        opt_f.step()
        opt2.step()
        opt_t.step()
    for a, b, c in zip(pf, clones, pt):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        np.testing.assert_allclose(b.detach().numpy(), c.detach().numpy(), rtol=1e-6)


def test_sgd_momentum_state_dict_and_casting():
    p = fastnn.zeros(3, dtype=fastnn.float32, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = fastnn.ones(3)
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"][0].keys()) == ["momentum_buffer"]
    q = fastnn.zeros(3, dtype=fastnn.float64, requires_grad=True)
    opt2 = optim.SGD([q], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    assert opt2.state[q]["momentum_buffer"].dtype == fastnn.float64
    with pytest.raises(ValueError, match="size"):
        optim.SGD([q, fastnn.zeros(1, requires_grad=True)], lr=0.1).load_state_dict(sd)


def test_optimizer_api_errors_and_zero_grad():
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD(lin.weight, lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [lin.weight]}, {"params": [lin.weight]}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam(lin.parameters(), lr=-1)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam(lin.parameters(), betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(lin.parameters(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([lin.weight * 2], lr=0.1)
    with pytest.raises(ValueError, match="differentiable"):
        optim.Adam(lin.parameters(), differentiable=True)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    opt.add_param_group({"params": [nn.Parameter(fastnn.ones(1))], "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0
    lin(fastnn.ones(1, 2)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert np.all(lin.weight.grad.numpy() == 0)
    opt.zero_grad()
    assert lin.weight.grad is None
    named = optim.SGD(lin.named_parameters(), lr=0.1)
    assert named.param_groups[0]["param_names"] == ["weight", "bias"]
    assert "SGD (" in repr(opt) and "lr: 0.1" in repr(opt)


def test_closure_is_called_with_grad():
    w = fastnn.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with fastnn.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -1.6], rtol=1e-6)


# ------------------------------------------------------------------ schedulers

def _lrs(make_sched_f, make_sched_t, epochs=25, metrics=None, groups=2):
    pf = [fastnn.zeros(1, requires_grad=True) for _ in range(groups)]
    pt = [torch.zeros(1, requires_grad=True) for _ in range(groups)]
    of = optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(pf)], lr=0.1, momentum=0.9)
    ot = torch.optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(pt)], lr=0.1, momentum=0.9)
    sf, st = make_sched_f(of), make_sched_t(ot)
    out_f, out_t = [], []
    for e in range(epochs):
        of.step()
        ot.step()
        if metrics is None:
            sf.step()
            st.step()
        else:
            sf.step(metrics[e])
            st.step(metrics[e])
        out_f.append(list(sf.get_last_lr()))
        out_t.append(list(st.get_last_lr()))
    np.testing.assert_allclose(np.array(out_f), np.array(out_t), rtol=1e-12, atol=1e-15)
    return sf, st


SCHEDULERS = {
    "StepLR": lambda m: (lambda o: m.StepLR(o, step_size=4, gamma=0.5)),
    "MultiStepLR": lambda m: (lambda o: m.MultiStepLR(o, milestones=[3, 7, 7, 15], gamma=0.3)),
    "ExponentialLR": lambda m: (lambda o: m.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": lambda m: (lambda o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    "LambdaLR": lambda m: (lambda o: m.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + e))),
    "LambdaLR-list": lambda m: (lambda o: m.LambdaLR(o, lr_lambda=[lambda e: 0.9 ** e, lambda e: 1 + e])),
    "MultiplicativeLR": lambda m: (lambda o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.95)),
    "LinearLR": lambda m: (lambda o: m.LinearLR(o, start_factor=0.25, total_iters=6)),
    "ConstantLR": lambda m: (lambda o: m.ConstantLR(o, factor=0.5, total_iters=4)),
    "PolynomialLR": lambda m: (lambda o: m.PolynomialLR(o, total_iters=10, power=2.0)),
    "CosineAnnealingWarmRestarts": lambda m: (lambda o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                                      eta_min=0.01)),
    "OneCycleLR": lambda m: (lambda o: m.OneCycleLR(o, max_lr=1.0, total_steps=30)),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_sequences_match_torch(name):
    _lrs(SCHEDULERS[name](lr_scheduler), SCHEDULERS[name](torch.optim.lr_scheduler))


def test_sequential_lr_matches_torch():
    def mk(m):
        return lambda o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=3),
                                            m.ExponentialLR(o, gamma=0.8)], milestones=[4])
    _lrs(mk(lr_scheduler), mk(torch.optim.lr_scheduler), epochs=12)


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", factor=0.5, patience=2, threshold=0.1, threshold_mode="abs",
                                              cooldown=2, min_lr=0.02),
                                dict(patience=1, cooldown=1, min_lr=[0.05, 0.001], threshold=0.01)])
def test_reduce_lr_on_plateau_matches_torch(kw):
    rng = np.random.default_rng(4)
    metrics = list(np.concatenate([np.linspace(1, 0.5, 5), 0.5 + 0.01 * rng.standard_normal(25)]))
    _lrs(lambda o: lr_scheduler.ReduceLROnPlateau(o, **kw), lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kw),
         epochs=30, metrics=metrics)


def test_scheduler_state_dict_round_trip():
    p = fastnn.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    s = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        opt.step()
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    p2 = fastnn.zeros(1, requires_grad=True)
    opt2 = optim.SGD([p2], lr=1.0)
    s2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    s2.load_state_dict(sd)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(3):
        s.step()
        s2.step()
    assert s.get_last_lr() == s2.get_last_lr()
    expected = 0.5 * (1 + math.cos(math.pi * 7 / 10))
    assert s.get_last_lr()[0] == pytest.approx(expected, rel=1e-12)
    plateau = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    plateau.step(1.0)
    plateau.step(2.0)
    state = plateau.state_dict()
    fresh = lr_scheduler.ReduceLROnPlateau(opt2)
    fresh.load_state_dict(state)
    assert fresh.patience == 0 and fresh.best == 1.0


def test_training_reduces_loss_with_each_optimizer():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5)).astype(np.float32)
    w_true = rng.standard_normal((5, 1)).astype(np.float32)
    Y = X @ w_true
    for make in [lambda p: optim.SGD(p, lr=0.05, momentum=0.9), lambda p: optim.Adam(p, lr=0.05),
                 lambda p: optim.AdamW(p, lr=0.05), lambda p: optim.RMSprop(p, lr=0.01),
                 lambda p: optim.Adagrad(p, lr=0.3)]:
        fastnn.manual_seed(0)
        model = nn.Linear(5, 1)
        opt = make(model.parameters())
        x, y = fastnn.tensor(X), fastnn.tensor(Y)
        first = None
        for _ in range(60):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
        assert loss.item() < 0.05 * first, type(opt).__name__


@pytest.mark.parametrize("name,kw", [("Adam", {}), ("Adam", {"amsgrad": True, "weight_decay": 0.1}), ("AdamW", {}),
                                     ("RMSprop", {"centered": True, "momentum": 0.5}), ("Adagrad", {}),
                                     ("SGD", {"momentum": 0.9, "nesterov": True})])
def test_zero_dim_parameters_like_torch(name, kw):
    """A learnable scalar (a temperature, a mixing weight) is a 0-d parameter; every optimiser updates it."""
    p = fastnn.tensor(1.5, dtype=fastnn.float64, requires_grad=True)
    tp = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    opt = getattr(optim, name)([p], lr=0.1, **kw)
    topt = getattr(torch.optim, name)([tp], lr=0.1, **kw)
    for _ in range(4):
        opt.zero_grad()
        topt.zero_grad()
        (p * p * p).backward()
        (tp * tp * tp).backward()
        opt.step()
        topt.step()
    assert p.shape == () and abs(p.item() - tp.item()) < 1e-12
