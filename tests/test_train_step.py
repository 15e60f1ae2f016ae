"""fit with a custom train_step: dicts of models, optimisers and schedulers, logged averages,
val_step, EMA updates, callbacks, checkpoints and exact resume of a GAN-like two-model run."""
import csv

import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import nn, optim
from fastnn.data import DataLoader, TensorDataset
from fastnn.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from fastnn.train import (CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint, TrainState, fit,
                          load_checkpoint, resume, save_checkpoint)


def _real(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 2)) * [0.5, 0.2] + [2.0, -1.0]).astype(np.float32)


def _gan():
    g = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(8, 2))
    d = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    models = {"generator": g, "discriminator": d}
    opts = {"generator": optim.Adam(g.parameters(), lr=0.01, betas=(0.5, 0.999)),
            "discriminator": optim.Adam(d.parameters(), lr=0.02, betas=(0.5, 0.999))}
    scheds = {"generator": optim.lr_scheduler.StepLR(opts["generator"], step_size=2, gamma=0.5),
              "discriminator": optim.lr_scheduler.ExponentialLR(opts["discriminator"], gamma=0.9)}
    ema = AveragedModel(g, multi_avg_fn=get_ema_multi_avg_fn(0.8))
    return models, opts, scheds, ema


def gan_step(batch, models, optimizers, state):
    """Non-saturating GAN step; noise drawn inside the step; the generator updates every other step."""
    g, d = models["generator"], models["discriminator"]
    real = batch
    n = real.shape[0]
    fake = g(fastnn.randn(n, 3))
    optimizers["discriminator"].zero_grad()
    d_loss = (F.binary_cross_entropy_with_logits(d(real), fastnn.ones(n, 1))
              + F.binary_cross_entropy_with_logits(d(fake.detach()), fastnn.zeros(n, 1)))
    d_loss.backward()
    optimizers["discriminator"].step()
    logs = {"d_loss": d_loss, "d_real": d(real).sigmoid().mean().item()}
    if state.global_step % 2 == 0:
        optimizers["generator"].zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(d(fake), fastnn.ones(n, 1))
        g_loss.backward()
        optimizers["generator"].step()
        logs["g_loss"] = g_loss
    return logs


def _all_weights(models, ema, opts):
    out = {f"{name}.{k}": v.numpy().copy() for name, m in models.items() for k, v in m.state_dict().items()}
    out.update({f"ema.{k}": v.numpy().copy() for k, v in ema.state_dict().items()})
    for name, o in opts.items():
        for i, st in o.state_dict()["state"].items():
            for k, v in st.items():
                out[f"opt.{name}.{i}.{k}"] = np.asarray(v.numpy() if hasattr(v, "numpy") else v).copy()
    return out


def test_gan_run_interrupted_and_resumed_equals_the_uninterrupted_run(tmp_path):
    X = _real()
    fastnn.manual_seed(7)
    models, opts, scheds, ema = _gan()
    ck = ModelCheckpoint(tmp_path / "gan{epoch}.fnn", save_best_only=False)
    full = fit(models, X, optimizer=opts, train_step=gan_step, epochs=5, scheduler=scheds, ema=ema, callbacks=[ck],
               batch_size=16, shuffle=True, verbose=0)
    reference = _all_weights(models, ema, opts)
    assert int(ema.n_averaged.item()) == 5 * 4  # one EMA update per step: 4 batches of 16 in 50 samples
    assert set(full.history) == {"d_loss", "d_real", "g_loss", "generator_lr", "discriminator_lr"}
    assert full.history["generator_lr"] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])
    assert full.history["discriminator_lr"] == pytest.approx([0.02 * 0.9 ** e for e in range(5)])

    ckpt = load_checkpoint(tmp_path / "gan2.fnn")
    assert ckpt["epoch"] == 2 and ckpt["global_step"] == 8
    assert set(ckpt["models"]) == set(ckpt["optimizers"]) == set(ckpt["schedulers"]) == {"generator", "discriminator"}
    assert set(ckpt["ema"]) == {"generator"}

    fastnn.manual_seed(123)  # a different start: everything must come from the checkpoint
    models2, opts2, scheds2, ema2 = _gan()
    resumed = fit(models2, X, optimizer=opts2, train_step=gan_step, epochs=5, scheduler=scheds2, ema=ema2,
                  batch_size=16, shuffle=True, verbose=0, resume_from=tmp_path / "gan2.fnn")
    got = _all_weights(models2, ema2, opts2)
    assert set(got) == set(reference)
    for k, v in reference.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
    assert resumed.history == full.history and resumed.epoch == full.epoch
    with pytest.warns(RuntimeWarning, match="4 batches per epoch and this run has 2"):
        fit(models2, X, optimizer=opts2, train_step=gan_step, epochs=3, batch_size=32, verbose=0,
            resume_from=tmp_path / "gan2.fnn")

    # the same by hand: resume() with dicts, then fit(initial_epoch=...), whose step count starts at
    # initial_epoch * batches per epoch
    fastnn.manual_seed(5)
    models3, opts3, scheds3, ema3 = _gan()
    ck3 = resume(tmp_path / "gan3.fnn", models3, opts3, scheds3, ema={"generator": ema3})
    fit(models3, X, optimizer=opts3, train_step=gan_step, epochs=5, scheduler=scheds3, ema=ema3, batch_size=16,
        verbose=0, initial_epoch=ck3["epoch"])
    got = _all_weights(models3, ema3, opts3)
    for k, v in reference.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)


def test_logged_values_are_batch_weighted_epoch_means_and_state_counts_steps():
    X = _real(50)
    seen = []

    def step(batch, models, optimizers, state):
        v = float(batch[:, 0].sum().item())
        seen.append((state.epoch, state.global_step, batch.shape[0], v))
        return {"s": fastnn.tensor(v), "half": 0.5, "epoch_loss": float(state.epoch)}

    model = nn.Linear(2, 1)
    batch_logs = []
    cb = LambdaCallback(on_batch_end=lambda b, logs: batch_logs.append(dict(logs)))
    hist = fit(model, X, optimizer=optim.SGD(model.parameters(), lr=0.1), train_step=step, epochs=2,
               batch_size=16, shuffle=False, callbacks=[cb], verbose=0)
    assert [s[1] for s in seen] == list(range(8))
    assert [s[2] for s in seen] == [16, 16, 16, 2] * 2
    for e in range(2):
        rows = [s for s in seen if s[0] == e]
        assert hist.history["s"][e] == pytest.approx(sum(r[3] * r[2] for r in rows) / 50)
    assert hist.history["half"] == [0.5, 0.5] and hist.history["epoch_loss"] == [0.0, 1.0]
    assert hist.history["lr"] == [0.1, 0.1]
    assert batch_logs[3] == {"s": seen[3][3], "half": 0.5, "epoch_loss": 0.0, "size": 2}


def test_three_argument_step_single_model_and_optimizer_ema_and_train_mode_each_epoch():
    X = _real(40)
    Y = (X @ np.array([[1.0], [-2.0]], dtype=np.float32)).astype(np.float32)
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.2), nn.Linear(4, 1))
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.5))
    opt = optim.SGD(model.parameters(), lr=0.05)
    modes = []
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    def step(batch, m, o):
        modes.append(m.training)
        x, y = batch
        o.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        o.step()
        m.eval()  # the loop puts the model back in train mode at the next epoch
        for k, v in m.state_dict().items():  # the EMA by hand: first step copies, later ones lerp
            expected[k] = v.numpy().copy() if len(modes) == 1 else 0.5 * expected[k] + 0.5 * v.numpy()
        return {"loss": loss}

    fit(model, (X, Y), optimizer=opt, train_step=step, epochs=3, batch_size=40, ema=ema, verbose=0)
    assert modes == [True, True, True]
    for k, v in ema.module.state_dict().items():
        np.testing.assert_allclose(v.numpy(), expected[k], rtol=1e-6, atol=1e-7)
    # the ordinary loop updates an EMA model too
    ema2 = AveragedModel(model)
    fit(model, (X, Y), nn.MSELoss(), opt, epochs=1, batch_size=10, ema=ema2, verbose=0)
    assert int(ema2.n_averaged.item()) == 4


def test_val_step_runs_in_eval_mode_without_grad_and_logs_val_keys(tmp_path):
    X = _real(30)
    models, opts, scheds, ema = _gan()
    seen = []

    def val_step(batch, models):
        d = models["discriminator"]
        seen.append((d.training, models["generator"].training, fastnn.is_grad_enabled()))
        return {"d_real": d(batch).sigmoid().mean(), "loss": F.mse_loss(d(batch), fastnn.ones(batch.shape[0], 1))}

    es = EarlyStopping(monitor="val_d_real", mode="max", patience=0)
    hist = fit(models, X, optimizer=opts, train_step=gan_step, val_step=val_step, val_data=X[:12], epochs=3,
               callbacks=[es, CSVLogger(tmp_path / "log.csv")], batch_size=8, verbose=0)
    assert seen and all(s == (False, False, False) for s in seen)
    assert {"val_d_real", "val_loss", "d_loss", "g_loss"} <= set(hist.history)
    assert models["generator"].training and models["discriminator"].training
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert {"d_loss", "g_loss", "val_d_real", "generator_lr"} <= set(rows[0])


def test_early_stopping_on_a_logged_key_and_restore_of_several_models(tmp_path):
    X = _real(20)
    values = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    models = {"a": nn.Linear(2, 2), "b": nn.Linear(2, 1)}
    snapshots = []

    def step(batch, models, optimizers):
        for m in models.values():  # a visible change of every weight per epoch
            for p in m.parameters():
                p.data.add_(1.0)
        snapshots.append({k: m.weight.detach().numpy().copy() for k, m in models.items()})
        return {"score_loss": next(values)}

    opts = {k: optim.SGD(m.parameters(), lr=0.1) for k, m in models.items()}
    es = EarlyStopping(monitor="score_loss", patience=1, restore_best_weights=True)
    ck = ModelCheckpoint(tmp_path / "best.fnn", monitor="score_loss")
    hist = fit(models, X, optimizer=opts, train_step=step, epochs=5, batch_size=20, callbacks=[es, ck], verbose=0)
    assert hist.history["score_loss"] == [3.0, 2.0, 2.5] and es.stopped_epoch == 2 and es.best_epoch == 1
    for k, m in models.items():  # restored to the weights after the best epoch
        np.testing.assert_array_equal(m.weight.detach().numpy(), snapshots[1][k])
    for m in models.values():
        for p in m.parameters():
            p.data.add_(5.0)
    restored = ck.restore()
    assert set(restored) == {"a", "b"}
    for k, m in models.items():
        np.testing.assert_array_equal(m.weight.detach().numpy(), snapshots[1][k])
    fresh = nn.Linear(2, 1)
    ck.restore({"b": fresh})
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), snapshots[1]["b"])
    with pytest.raises(ValueError, match=r"holds no weights for \['c'\]"):
        ck.restore({"c": fresh})


def test_batch_interval_with_dict_schedulers_and_a_dataloader_of_pairs():
    X = _real(32)
    y = np.zeros((32, 1), np.float32)
    models, opts, scheds, ema = _gan()
    sched = {"generator": optim.lr_scheduler.LambdaLR(opts["generator"], lambda s: 1.0 / (1 + s)),
             "discriminator": optim.lr_scheduler.LambdaLR(opts["discriminator"], lambda s: 0.5 ** s)}
    batches = []

    def step(batch, models, optimizers):
        x, t = batch
        batches.append((x.shape, t.shape))
        return {"g_lr": optimizers["generator"].param_groups[0]["lr"]}

    hist = fit(models, DataLoader(TensorDataset(X, y), batch_size=8), optimizer=opts, train_step=step, epochs=2,
               scheduler=sched, scheduler_interval="batch", verbose=0)
    assert batches[0] == ((8, 2), (8, 1)) and len(batches) == 8
    assert opts["generator"].param_groups[0]["lr"] == pytest.approx(0.01 / 9)
    assert opts["discriminator"].param_groups[0]["lr"] == pytest.approx(0.02 * 0.5 ** 8)
    assert hist.history["g_lr"][1] == pytest.approx(np.mean([0.01 / (1 + s) for s in range(4, 8)]))


def test_custom_step_errors():
    X = _real(16)
    models, opts, scheds, ema = _gan()
    with pytest.raises(TypeError, match="dict of models needs a custom 'train_step'"):
        fit(models, X, nn.MSELoss(), opts, verbose=0)
    with pytest.raises(TypeError, match="'optimizer' must be one object or a dict name -> object, got a list"):
        fit(models, X, optimizer=list(opts.values()), train_step=gan_step, verbose=0)
    with pytest.raises(TypeError, match="must return a dict"):
        fit(models, X, optimizer=opts, train_step=lambda b, m, o: 1.0, verbose=0)
    with pytest.raises(ValueError, match="'val_data' needs 'val_step'"):
        fit(models, X, optimizer=opts, train_step=gan_step, val_data=X, verbose=0)
    with pytest.raises(ValueError, match=r"'ema' has keys \['gen'\].*\['generator', 'discriminator'\]"):
        fit(models, X, optimizer=opts, train_step=gan_step, ema={"gen": ema}, verbose=0)
    with pytest.raises(ValueError, match="'ema' is one averaged model but there are several models"):
        fit(models, X, optimizer=opts, train_step=gan_step, ema=AveragedModel(nn.Linear(5, 5)), verbose=0)
    with pytest.raises(ValueError, match=r"logged 'v' with shape \(2,\)"):
        fit(models, X, optimizer=opts, train_step=lambda b, m, o: {"v": fastnn.zeros(2)}, verbose=0)
    with pytest.raises(FloatingPointError, match=r"g_loss is nan at epoch 1, batch 1"):
        fit(models, X, optimizer=opts, train_step=lambda b, m, o: {"g_loss": float("nan")}, verbose=0)
    # a NaN in a key that is not a loss is logged as it is
    h = fit(models, X, optimizer=opts, train_step=lambda b, m, o: {"ratio": float("nan")}, verbose=0)
    assert np.isnan(h.history["ratio"][0])


def test_save_checkpoint_with_dicts_and_a_custom_loop_state(tmp_path):
    models, opts, scheds, ema = _gan()
    path = tmp_path / "c.fnn"
    save_checkpoint(path, models, opts, scheds, epoch=3, ema={"generator": ema}, global_step=12)
    ck = load_checkpoint(path)
    assert ck["epoch"] == 3 and ck["global_step"] == 12 and list(ck["models"]) == ["generator", "discriminator"]
    assert ck["model"] is ck["models"]["generator"]
    models2, opts2, scheds2, ema2 = _gan()
    resume(path, models2, opts2, scheds2, ema=ema2)
    for name in models:
        for (k, a), b in zip(models[name].state_dict().items(), models2[name].state_dict().values()):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    with pytest.raises(ValueError, match=r"no model state for \['critic'\]"):
        resume(path, {"critic": nn.Linear(2, 1), "generator": models2["generator"]})
    state = TrainState(models=models, optimizers=opts)
    assert state.model is models["generator"] and state.optimizer is opts["generator"] and state.global_step == 0


def test_weights_only_checkpoints_of_several_models(tmp_path):
    X = _real(16)
    models, opts, scheds, ema = _gan()
    ck = ModelCheckpoint(tmp_path / "w.fnn", monitor="d_loss", save_weights_only=True)
    fit(models, X, optimizer=opts, train_step=gan_step, epochs=1, callbacks=[ck], verbose=0)
    saved = fastnn.load(tmp_path / "w.fnn")
    assert set(saved) == {"generator", "discriminator"}
    want = {k: {n: v.numpy().copy() for n, v in m.state_dict().items()} for k, m in models.items()}
    for m in models.values():
        for p in m.parameters():
            p.data.mul_(0.0)
    ck.restore()
    for k, m in models.items():
        for n, v in m.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), want[k][n])


def test_a_step_parameter_with_a_default_is_not_the_state():
    X = _real(8)
    got = []

    def step(batch, models, optimizers, n_critic=5):
        got.append(n_critic)
        return {}

    def step_state(batch, models, optimizers, state=None):
        got.append(type(state).__name__)
        return {}

    def val(batch, models, state):
        got.append(state.epoch)
        return {"v": 1.0}

    m = nn.Linear(2, 1)
    fit(m, X, optimizer=optim.SGD(m.parameters(), lr=0.1), train_step=step, epochs=1, verbose=0)
    fit(m, X, optimizer=optim.SGD(m.parameters(), lr=0.1), train_step=step_state, val_step=val, val_data=X,
        epochs=1, verbose=0)
    assert got == [5, "TrainState", 0]


class _TwoInTwoOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 2), nn.Linear(1, 2)

    def forward(self, x, t):
        h = self.a(x) + self.b(t)
        return {"sum": h.sum(1, keepdim=True), "diff": h - x}


@pytest.mark.gpu
@pytest.mark.skipif(not fastnn.cuda.is_available(), reason="needs a CUDA GPU and cupy")
def test_gpu_custom_and_multi_output_runs_match_the_cpu():
    """Batches (nested ones included) go to the models' device; EMA models follow ``device=``."""
    X = _real(40)
    Y = np.stack([X[:, 0] * X[:, 1], X[:, 0] - X[:, 1]], 1).astype(np.float32)

    def build():
        fastnn.manual_seed(0)
        models = {"a": nn.Linear(2, 4), "b": nn.Linear(4, 2)}
        return models, {k: optim.Adam(m.parameters(), lr=0.01) for k, m in models.items()}

    def step(batch, models, optimizers):
        x, y = batch
        for o in optimizers.values():
            o.zero_grad()
        loss = F.mse_loss(models["b"](models["a"](x).tanh()), y)
        loss.backward()
        for o in optimizers.values():
            o.step()
        return {"loss": loss}

    results = {}
    for dev in ("cpu", "cuda"):
        models, opts = build()
        ema = AveragedModel(models["b"], multi_avg_fn=get_ema_multi_avg_fn(0.9))
        h = fit(models, (X, Y), optimizer=opts, train_step=step, epochs=2, batch_size=16, shuffle=False, ema=ema,
                device=dev, verbose=0)
        fastnn.manual_seed(1)
        net = _TwoInTwoOut()
        h2 = fit(net, ((X, X[:, :1]), {"sum": Y[:, :1], "diff": Y}), {"sum": nn.MSELoss(), "diff": nn.L1Loss()},
                 optim.SGD(net.parameters(), lr=0.1), loss_weights={"diff": 0.5}, epochs=2, batch_size=16,
                 shuffle=False, device=dev, verbose=0)
        results[dev + " multi"] = [h2.history[k] for k in ("loss", "sum_loss", "diff_loss")]
        results[dev] = (h.history["loss"], [p.detach().cpu().numpy() for p in ema.parameters()])
        assert all(p.device.type == dev for p in ema.parameters())
    np.testing.assert_allclose(results["cuda"][0], results["cpu"][0], rtol=1e-4)
    np.testing.assert_allclose(results["cuda multi"], results["cpu multi"], rtol=1e-4)
    for g, c in zip(results["cuda"][1], results["cpu"][1]):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)


def test_a_version_1_checkpoint_still_resumes(tmp_path):
    import json
    import fastnn.serialization
    model = nn.Linear(2, 3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(fastnn.randn(4, 2)).sum().backward()
    opt.step()
    fastnn.serialization.save({
        "format": "fastnn.checkpoint", "version": 1, "epoch": 2, "model": model.state_dict(),
        "optimizer": opt.state_dict(), "rng_state": json.dumps(fastnn.random.get_rng_state()),
        "history": json.dumps({"loss": [1.0, 0.5]}), "history_epochs": json.dumps({}), "extra": json.dumps({})},
        tmp_path / "v1.fnn")
    ck = load_checkpoint(tmp_path / "v1.fnn")
    assert list(ck["models"]) == ["model"] and ck["scheduler"] is None and ck["global_step"] == 0
    fresh = nn.Linear(2, 3)
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.01)
    resume(tmp_path / "v1.fnn", fresh, fresh_opt)
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


@pytest.mark.parametrize("make_gen", [lambda: 5, lambda: fastnn.Generator().manual_seed(3),
                                      lambda: np.random.default_rng(8)], ids=["int", "fastnn", "numpy"])
def test_resume_is_exact_with_a_loader_of_its_own_generator(tmp_path, make_gen):
    X = _real(40)

    def run(resume_from=None, callbacks=()):
        fastnn.manual_seed(0)
        models, opts, scheds, ema = _gan()
        loader = DataLoader(fastnn.from_numpy(X), batch_size=8, shuffle=True, generator=make_gen())
        fit(models, loader, optimizer=opts, train_step=gan_step, epochs=3, verbose=0, callbacks=list(callbacks),
            resume_from=resume_from)
        return {f"{k}.{n}": v.numpy().copy() for k, m in models.items() for n, v in m.state_dict().items()}

    full = run(callbacks=[ModelCheckpoint(tmp_path / "c{epoch}.fnn", save_best_only=False)])
    resumed = run(resume_from=tmp_path / "c1.fnn")
    for k, v in full.items():
        np.testing.assert_array_equal(resumed[k], v, err_msg=k)


def test_plateau_schedulers_in_a_dict_get_the_logged_loss():
    X = _real(16)
    models, opts, _, _ = _gan()
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opts["generator"], factor=0.5, patience=0)
    losses = iter([1.0, 2.0, 3.0])
    fit(models, X, optimizer=opts, train_step=lambda b, m, o: {"loss": next(losses)}, epochs=3, batch_size=16,
        scheduler={"generator": plateau}, verbose=0)
    assert opts["generator"].param_groups[0]["lr"] == pytest.approx(0.01 * 0.25)
    with pytest.raises(ValueError, match=r"scheduler 'generator' \(ReduceLROnPlateau\) needs 'val_loss' or 'loss'"):
        fit(models, X, optimizer=opts, train_step=lambda b, m, o: {"g_loss": 1.0}, epochs=1, batch_size=16,
            scheduler={"generator": plateau}, verbose=0)


def test_multi_output_fit_with_ema_resumes_exactly(tmp_path):
    rng = np.random.default_rng(0)
    U, V = rng.normal(size=(30, 2)).astype(np.float32), rng.normal(size=(30, 1)).astype(np.float32)
    Y = {"sum": (U.sum(1, keepdims=True) + V).astype(np.float32), "diff": (U - V).astype(np.float32)}

    def run(**kw):
        fastnn.manual_seed(0)
        net = _TwoInTwoOut()
        ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.7))
        opt = optim.Adam(net.parameters(), lr=0.01)
        fit(net, ((U, V), Y), {"sum": nn.MSELoss(), "diff": nn.L1Loss()}, opt, epochs=4, loss_weights={"diff": 2.0},
            batch_size=8, ema=ema, scheduler=optim.lr_scheduler.StepLR(opt, 1, 0.5), verbose=0, **kw)
        return [p.detach().numpy().copy() for p in list(net.parameters()) + list(ema.parameters())]

    full = run(callbacks=[ModelCheckpoint(tmp_path / "m{epoch}.fnn", save_best_only=False)])
    resumed = run(resume_from=tmp_path / "m2.fnn")
    for a, b in zip(full, resumed):
        np.testing.assert_array_equal(a, b)
