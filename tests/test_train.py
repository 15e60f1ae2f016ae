"""fastnn.train: fit / evaluate / predict, callbacks, checkpoints and resuming, cross-validation."""
import csv
import io
import math
import os

import numpy as np
import pytest

import fastnn
import fastnn.serialization
from fastnn import nn, optim
from fastnn.data import DataLoader, TensorDataset
from fastnn.train import (Callback, CSVLogger, EarlyStopping, History, LambdaCallback, ModelCheckpoint, ProgressBar,
                          cross_validate, evaluate, fit, load_checkpoint, predict, resume, save_checkpoint)


def _blobs(n=120, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    y = rng.integers(0, k, n)
    X = (centers[y] + rng.normal(size=(n, d))).astype(np.float32)
    return X, y.astype(np.int64)


def _mlp(d=4, k=3, hidden=16, dropout=0.0):
    layers = [nn.Linear(d, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(hidden, k))


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


class _Probe(nn.Module):
    """Records the mode and grad mode seen by each forward call."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, fastnn.is_grad_enabled()))
        return self.lin(x)


# ---------------------------------------------------------------- fit / evaluate / predict

def test_fit_history_keys_and_agreement_with_evaluate():
    X, y = _blobs()
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=0.02)
    hist = fit(model, (X[:90], y[:90]), nn.CrossEntropyLoss(), opt, epochs=4, val_data=(X[90:], y[90:]),
               metrics=["accuracy", "f1"], verbose=0, batch_size=16)
    assert isinstance(hist, History) and hist.epoch == [0, 1, 2, 3]
    assert set(hist.history) == {"loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr"}
    assert all(len(v) == 4 for v in hist.history.values())
    assert hist.history["lr"] == [0.02] * 4
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    ev = evaluate(model, (X[90:], y[90:]), nn.CrossEntropyLoss(), ["accuracy", "f1"])
    assert ev["loss"] == pytest.approx(hist.history["val_loss"][-1], rel=1e-6)
    assert ev["accuracy"] == pytest.approx(hist.history["val_accuracy"][-1])
    assert ev["f1"] == pytest.approx(hist.history["val_f1"][-1])
    out = predict(model, X[90:])
    assert isinstance(out, np.ndarray) and out.shape == (30, 10 // 10 * 3)
    # evaluate's loss is the sample mean: equal to the loss of the whole set in one batch
    full = nn.CrossEntropyLoss()(model(fastnn.from_numpy(X[90:])), fastnn.from_numpy(y[90:])).item()
    assert evaluate(model, (X[90:], y[90:]), nn.CrossEntropyLoss(), batch_size=7)["loss"] == pytest.approx(full, rel=1e-5)
    assert fastnn.metrics.accuracy(y[90:], out) == pytest.approx(ev["accuracy"])


def test_train_eval_modes_and_no_grad():
    X, y = _blobs(40)
    model = _Probe()
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2,
        val_data=(X[:10], y[:10]), batch_size=20, verbose=0)
    # per epoch: two training batches then one validation batch
    assert model.seen == [(True, True), (True, True), (False, False)] * 2
    assert model.training
    model.eval()
    model.seen.clear()
    evaluate(model, (X, y), nn.CrossEntropyLoss())
    predict(model, X)
    assert all(s == (False, False) for s in model.seen)
    assert not model.training  # the caller's mode is kept


def test_fit_accepts_loaders_datasets_and_dict_batches():
    X, y = _blobs(60)
    ds = TensorDataset(X, y)
    for data in (DataLoader(ds, batch_size=16, shuffle=True), ds, [(fastnn.from_numpy(X), fastnn.from_numpy(y))]):
        model = _mlp()
        h = fit(model, data, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05), epochs=2, verbose=0)
        assert len(h.history["loss"]) == 2

    class DictSet(fastnn.data.Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return {"x": X[i], "y": int(y[i])}

    model = _mlp()
    h = fit(model, DictSet(), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05), epochs=1, verbose=0,
            metrics=["accuracy"])
    assert 0 <= h.history["accuracy"][0] <= 1
    with pytest.raises(TypeError, match="one-shot iterator"):
        fit(model, iter([(X, y)]), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), verbose=0)


def test_multi_input_model_and_custom_metric():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 1)
            self.b = nn.Linear(3, 1)

        def forward(self, u, v):
            return self.a(u) + self.b(v)

    rng = np.random.default_rng(0)
    U = rng.normal(size=(64, 2)).astype(np.float32)
    V = rng.normal(size=(64, 3)).astype(np.float32)
    t = (U @ [[1.0], [-2.0]] + V @ [[0.5], [0.0], [3.0]] + 0.1).astype(np.float32)
    model = Two()

    def max_err(y_true, y_pred):
        return np.abs(y_true - y_pred).max()

    h = fit(model, (U, V, t), nn.MSELoss(), optim.Adam(model.parameters(), lr=0.05), epochs=60, verbose=0,
            metrics=["mae", max_err, "r2"], batch_size=16)
    assert h.history["r2"][-1] > 0.99 and h.history["max_err"][-1] < 0.3
    assert predict(model, (U, V, t)).shape == (64, 1)
    with pytest.raises(ValueError, match="unknown metric 'accuracyy'"):
        fit(model, (U, V, t), nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), metrics=["accuracyy"], verbose=0)


def test_binary_accuracy_threshold_follows_the_loss():
    X, y = _blobs(80, k=2)
    yf = y.astype(np.float32)[:, None]
    for loss, head in ((nn.BCEWithLogitsLoss(), []), (nn.BCELoss(), [nn.Sigmoid()])):
        model = nn.Sequential(nn.Linear(4, 1), *head)
        h = fit(model, (X, yf), loss, optim.Adam(model.parameters(), lr=0.05), epochs=15, metrics=["accuracy"],
                verbose=0, batch_size=16)
        out = predict(model, X)
        thr = 0.0 if head == [] else 0.5
        assert h.history["accuracy"][-1] > 0.9
        assert evaluate(model, (X, yf), loss, ["accuracy"])["accuracy"] == pytest.approx(
            np.mean((out[:, 0] > thr) == (y == 1)))


def test_scheduler_stepped_per_epoch_and_plateau_gets_val_loss():
    X, y = _blobs(40)
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    h = fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=5, scheduler=sched, verbose=0)
    assert h.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])

    class Plateau:
        def __init__(self):
            self.got = []

        def step(self, metrics, epoch=None):
            self.got.append(metrics)

    p = Plateau()
    h = fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=3, scheduler=p, val_data=(X[:8], y[:8]), verbose=0)
    assert p.got == h.history["val_loss"]
    real = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    opt.param_groups[0]["lr"] = 0.0  # nothing improves: the rate is cut after each epoch
    h = fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=1, scheduler=real, val_data=(X[:8], y[:8]), verbose=0)
    assert h.history["lr"] == [0.0]


def test_nan_loss_raises_naming_epoch_and_batch_and_still_ends_callbacks():
    X, y = _blobs(40)
    model = _mlp()
    calls = {"n": 0}
    ended = []

    def loss_fn(out, target):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, target)
        return loss * float("nan") if calls["n"] == 7 else loss  # epoch 2, batch 3 with 4 batches per epoch

    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 3"):
        fit(model, (X, y), loss_fn, optim.SGD(model.parameters(), lr=0.1), epochs=3, batch_size=10, verbose=0,
            callbacks=[LambdaCallback(on_train_end=lambda logs: ended.append(True))])
    assert ended == [True]


def test_keyboard_interrupt_runs_on_train_end_and_restores_best_weights():
    X, y = _blobs(40)
    model = _mlp()
    ended = []

    def interrupt(epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt

    stopper = EarlyStopping(monitor="loss", patience=10, restore_best_weights=True)
    with pytest.raises(KeyboardInterrupt):
        fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=10, verbose=0,
            callbacks=[stopper, LambdaCallback(on_epoch_end=interrupt, on_train_end=lambda logs: ended.append(1))])
    assert ended == [1] and stopper.best_epoch is not None


# ---------------------------------------------------------------- progress output

def test_verbose_output(capsys):
    X, y = _blobs(40)
    model = _mlp()
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=3, verbose=1,
        val_data=(X, y), metrics=["accuracy"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3  # not a terminal: one plain line per epoch, no bar
    assert lines[0].startswith("Epoch 1/3 - ") and "loss: " in lines[0] and "val_accuracy: " in lines[0]
    assert "\r" not in "".join(lines)


def test_progress_bar_uses_tqdm_on_a_terminal():
    pytest.importorskip("tqdm")

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    X, y = _blobs(40)
    model = _mlp()
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2, batch_size=8,
        callbacks=[ProgressBar(stream=out)], verbose=1)
    text = out.getvalue()
    assert "\r" in text and "batch" in text  # tqdm's live bar
    assert text.count("Epoch 2/2 - ") == 1  # and the summary line once per epoch
    plain = io.StringIO()
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2,
        callbacks=[ProgressBar(stream=plain)], verbose=1)
    assert "\r" not in plain.getvalue() and len(plain.getvalue().splitlines()) == 2


# ---------------------------------------------------------------- callbacks

class _Script(Callback):
    """Overrides a logged value with scripted numbers, to drive monitors deterministically."""

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class _Snapshots(Callback):
    def __init__(self):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(_weights(self.model))


def test_model_checkpoint_best_restored_equals_best_val_loss(tmp_path):
    X, y = _blobs(100, seed=3)
    y[::3] = (y[::3] + 1) % 3  # label noise so validation loss goes up and down
    model = _mlp(hidden=32)
    ck = ModelCheckpoint(tmp_path / "best.fnn", monitor="val_loss")
    h = fit(model, (X[:70], y[:70]), nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.03),
            epochs=12, val_data=(X[70:], y[70:]), callbacks=[ck], verbose=0, batch_size=8)
    vl = h.history["val_loss"]
    assert 0 < int(np.argmin(vl)) < len(vl) - 1  # the best epoch is neither the first nor the last
    assert ck.best_epoch == int(np.argmin(vl)) and ck.best_score == pytest.approx(min(vl))
    assert os.path.exists(ck.best_path) and not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    fresh = _mlp(hidden=32)
    ck.restore(fresh)
    assert evaluate(fresh, (X[70:], y[70:]), nn.CrossEntropyLoss())["loss"] == pytest.approx(min(vl), rel=1e-6)
    assert load_checkpoint(ck.best_path)["epoch"] == ck.best_epoch + 1


def test_model_checkpoint_every_n_epochs_and_modes(tmp_path):
    X, y = _blobs(30)
    model = _mlp()
    every = ModelCheckpoint(str(tmp_path / "ep{epoch:02d}.fnn"), save_best_only=False, every_n_epochs=2)
    best_acc = ModelCheckpoint(str(tmp_path / "acc.fnn"), monitor="val_accuracy")
    script = _Script("val_accuracy", [0.5, 0.7, 0.6, 0.9, 0.8])
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=5, val_data=(X, y),
        metrics=["accuracy"], callbacks=[script, every, best_acc], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["acc.fnn", "ep02.fnn", "ep04.fnn"]
    assert best_acc.mode == "max" and best_acc.best_epoch == 3 and best_acc.best_score == 0.9
    weights_only = ModelCheckpoint(tmp_path / "w.fnn", monitor="loss", save_weights_only=True)
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2,
        callbacks=[weights_only], verbose=0)
    assert set(fastnn.serialization.load(tmp_path / "w.fnn")) == set(model.state_dict())
    with pytest.warns(RuntimeWarning, match="val_loss"):
        fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=1,
            callbacks=[ModelCheckpoint(tmp_path / "never.fnn")], verbose=0)
    with pytest.raises(ValueError, match="mode"):
        ModelCheckpoint(tmp_path / "x.fnn", mode="best")


def test_early_stopping_stops_and_restores_best_weights():
    X, y = _blobs(40)
    model = _mlp()
    snaps = _Snapshots()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    script = _Script("val_loss", [1.0, 0.5, 0.6, 0.55, 0.7, 0.2, 0.1, 0.1])
    h = fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=8, val_data=(X, y),
            callbacks=[script, snaps, stop], verbose=0)
    assert len(h.epoch) == 4 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    final = _weights(model)
    for k, v in snaps.weights[1].items():
        np.testing.assert_array_equal(final[k], v)
    assert any(not np.array_equal(final[k], snaps.weights[3][k]) for k in final)
    # min_delta: a gain smaller than it does not count
    stop = EarlyStopping(monitor="val_loss", patience=1, min_delta=0.1)
    h = fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=8, val_data=(X, y),
            callbacks=[_Script("val_loss", [1.0, 0.95, 0.5, 0.45, 0.3, 0.29, 0.2, 0.1]), stop], verbose=0)
    assert stop.stopped_epoch == 1 and len(h.epoch) == 2


def test_csv_logger_and_append(tmp_path):
    X, y = _blobs(30)
    model = _mlp()
    path = tmp_path / "log.csv"
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=3, val_data=(X, y),
        metrics=["accuracy"], callbacks=[CSVLogger(path)], verbose=0)
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0].keys()) == ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert all(math.isfinite(float(r["val_loss"])) for r in rows)
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=5, initial_epoch=3,
        val_data=(X, y), metrics=["accuracy"], callbacks=[CSVLogger(path, append=True)], verbose=0)
    assert [r["epoch"] for r in csv.DictReader(open(path))] == ["0", "1", "2", "3", "4"]
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=1,
        callbacks=[CSVLogger(path)], verbose=0)
    assert len(list(csv.DictReader(open(path)))) == 1


def test_lambda_callback_hooks_order():
    X, y = _blobs(30)
    model = _mlp()
    events = []
    cb = LambdaCallback(on_train_begin=lambda logs: events.append("tb"), on_epoch_begin=lambda e, l: events.append(
        f"eb{e}"), on_batch_end=lambda b, l: events.append(f"b{b}"), on_epoch_end=lambda e, l: events.append(f"ee{e}"),
        on_train_end=lambda logs: events.append("te"))
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2, batch_size=15,
        callbacks=[cb], verbose=0)
    assert events == ["tb", "eb0", "b0", "b1", "ee0", "eb1", "b0", "b1", "ee1", "te"]
    with pytest.raises(TypeError, match="on_epoch_end"):
        LambdaCallback(on_epoch_end=5)


# ---------------------------------------------------------------- checkpoints and resuming

def _resume_setup():
    X, y = _blobs(64, seed=5)
    # dropout and shuffling draw from the RNG; batch norm carries running statistics in buffers
    model = nn.Sequential(nn.Linear(4, 24), nn.BatchNorm1d(24), nn.ReLU(), nn.Dropout(0.3), nn.Linear(24, 3))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)  # its next rate depends on its saved state
    return X, y, model, opt, sched


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    fastnn.manual_seed(11)
    X, y, model, opt, sched = _resume_setup()
    ck = ModelCheckpoint(tmp_path / "ck{epoch}.fnn", save_best_only=False)
    full = fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=6, val_data=(X[:16], y[:16]), scheduler=sched,
               callbacks=[ck], verbose=0, batch_size=8)
    reference = _weights(model)

    fastnn.manual_seed(999)  # a different start: everything must come from the checkpoint
    X, y, model2, opt2, sched2 = _resume_setup()
    resumed = fit(model2, (X, y), nn.CrossEntropyLoss(), opt2, epochs=6, val_data=(X[:16], y[:16]), scheduler=sched2,
                  verbose=0, batch_size=8, resume_from=tmp_path / "ck3.fnn")
    for k, v in _weights(model2).items():
        np.testing.assert_array_equal(v, reference[k])
    assert resumed.epoch == full.epoch == list(range(6))
    assert resumed.history["loss"] == full.history["loss"]
    assert resumed.history["lr"] == full.history["lr"]

    # the same by hand: resume() then fit(initial_epoch=...)
    fastnn.manual_seed(5)
    X, y, model3, opt3, sched3 = _resume_setup()
    ckpt = resume(tmp_path / "ck4.fnn", model3, opt3, sched3)
    assert ckpt["epoch"] == 4 and len(ckpt["history"]["loss"]) == 4
    fit(model3, (X, y), nn.CrossEntropyLoss(), opt3, epochs=6, initial_epoch=ckpt["epoch"], val_data=(X[:16], y[:16]),
        scheduler=sched3, verbose=0, batch_size=8)
    for k, v in _weights(model3).items():
        np.testing.assert_array_equal(v, reference[k])


def test_save_load_checkpoint_roundtrip_and_errors(tmp_path):
    X, y, model, opt, sched = _resume_setup()
    fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=1, verbose=0)
    path = tmp_path / "sub" / "c.fnn"
    save_checkpoint(path, model, opt, sched, epoch=1, extra={"note": "x"})
    ck = load_checkpoint(path)
    assert ck["epoch"] == 1 and ck["extra"] == {"note": "x"} and ck["scheduler"] is not None
    for k, v in ck["model"].items():
        np.testing.assert_array_equal(v.numpy(), model.state_dict()[k].numpy())
    fastnn.serialization.save({"a": 1}, tmp_path / "plain.fnn")
    with pytest.raises(ValueError, match="not a fastnn training checkpoint"):
        load_checkpoint(tmp_path / "plain.fnn")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.fnn")
    save_checkpoint(path, model, epoch=1)
    with pytest.raises(ValueError, match="no optimizer state"):
        resume(path, model, opt)


def test_fit_argument_errors():
    X, y = _blobs(20)
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=-1)
    with pytest.raises(ValueError, match="initial_epoch"):
        fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=2, initial_epoch=3)
    with pytest.raises(TypeError, match="optimizer"):
        fit(model, (X, y), nn.CrossEntropyLoss(), object())
    with pytest.raises(TypeError, match="callbacks\\[0\\]"):
        fit(model, (X, y), nn.CrossEntropyLoss(), opt, callbacks=[object()], verbose=0)


# ---------------------------------------------------------------- cross-validation

def test_cross_validate_reports_mean_and_std():
    X, y = _blobs(90)
    X = X * 10 + 5  # badly scaled on purpose: the scaler is fitted per fold
    res = cross_validate(lambda: _mlp(), lambda m: optim.Adam(m.parameters(), lr=0.02), (X, y),
                         nn.CrossEntropyLoss(), k=3, epochs=8, metrics=["accuracy"], stratify=True, seed=0,
                         scaler=fastnn.data.StandardScaler)
    assert len(res.folds) == 3 and set(res.mean) == {"loss", "accuracy"}
    accs = res["accuracy"]
    assert res.mean["accuracy"] == pytest.approx(accs.mean()) and res.std["accuracy"] == pytest.approx(accs.std())
    assert res.mean["accuracy"] > 0.8
    assert "accuracy: " in res.summary() and " ± " in res.summary()
    res2 = cross_validate(lambda: _mlp(), lambda m: optim.SGD(m.parameters(), lr=0.05), TensorDataset(X / 10, y),
                          nn.CrossEntropyLoss(), k=2, epochs=1, stratify=True)
    assert len(res2.folds) == 2


def test_train_tabular_helpers():
    from fastnn.train import Ensemble, mlp, train_tabular
    net = mlp(5, (7, 3), 2, activation="tanh", dropout=0.1)
    assert [type(m).__name__ for m in net] == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert [type(m).__name__ for m in mlp(5, (), 1)] == ["Linear"]
    with pytest.raises(ValueError, match="activation"):
        mlp(2, (3,), 1, activation="swish2")
    X, y = _blobs(90, k=2)
    res = train_tabular(X, y, hidden=(), epochs=10, lr=0.05, seed=1)  # logistic regression
    assert res.scores["accuracy"] > 0.9 and res.confusion.shape == (2, 2) and res.confusion.sum() == 18
    np.testing.assert_array_equal(res.predict(X[:10]), (predict(res.model, res.scaler.transform(X[:10]))[:, 0] > 0))
    Xr = X[:, :3]
    yr = (Xr @ np.array([1.0, -2.0, 0.5]) + 3).astype(np.float32)
    reg = train_tabular(Xr, yr, "regression", hidden=(8,), ensemble=3, epochs=40, lr=1e-2, seed=0)
    assert isinstance(reg.model, Ensemble) and len(reg.model.members) == 3 and reg.scores["r2"] > 0.9
    a = predict(reg.model, reg.scaler.transform(Xr[:4]))
    b = np.mean([predict(m, reg.scaler.transform(Xr[:4])) for m in reg.model.members], axis=0)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="task"):
        train_tabular(X, y, task="ranking")


def test_validation_freq_records_val_only_for_validated_epochs(tmp_path):
    X, y = _blobs(30)
    model = _mlp()
    h = fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=4, val_data=(X, y),
            validation_freq=2, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "last.pt", save_best_only=False)])
    vl = h.history["val_loss"]
    assert len(vl) == 2 and all(math.isfinite(v) for v in vl)
    assert h.epochs_of("val_loss") == [1, 3] and h.epochs_of("loss") == [0, 1, 2, 3]
    assert len(h.history["loss"]) == 4 and h.epoch == [0, 1, 2, 3]
    assert h.best("val_loss")[0] in (1, 3)
    # the epochs of each key survive a checkpoint and a resumed run
    model2 = _mlp()
    h2 = fit(model2, (X, y), nn.CrossEntropyLoss(), optim.SGD(model2.parameters(), lr=0.1), epochs=6,
             val_data=(X, y), validation_freq=2, verbose=0, resume_from=tmp_path / "last.pt")
    assert h2.epochs_of("val_loss") == [1, 3, 5] and len(h2.history["val_loss"]) == 3
    assert h2.epoch == list(range(6))
    # a plain dict with fewer validation entries is read as validated every k epochs
    assert History({"loss": [1, 2, 3, 4], "val_loss": [5, 6]}).epochs_of("val_loss") == [1, 3]


def test_plots_write_png_files_atomically(tmp_path, monkeypatch):
    plot = pytest.importorskip("fastnn.plot")
    pytest.importorskip("matplotlib")
    h = History({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8],
                 "lr": [0.1, 0.1, 0.01]})
    paths = [plot.plot_history(h, tmp_path / "h.png"),
             plot.plot_confusion_matrix(np.array([[5, 1], [2, 7]]), tmp_path / "sub" / "cm.png", class_names=["a", "b"],
                                        normalize=True),
             plot.plot_curves({"a": [1, 2, 3]}, tmp_path / "c.png", logy=True),
             plot.plot_scatter_fit([0, 1], [1, 2], {"fit": ([0, 1], [1, 2])}, tmp_path / "s.png", ylim=(0, 3))]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    with pytest.raises(ValueError, match="square"):
        plot.plot_confusion_matrix(np.ones((2, 3)), tmp_path / "bad.png")
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert not plot.available()
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot.plot_curves({"a": [1]}, tmp_path / "x.png")


def test_custom_loop_drives_the_same_callbacks(tmp_path):
    from fastnn.train import CallbackList, TrainState
    model = _mlp()
    hist = History()
    out = io.StringIO()
    state = TrainState(model, epochs=3)
    cbs = CallbackList([hist, CSVLogger(tmp_path / "gan.csv"), ProgressBar("plain", stream=out),
                        EarlyStopping(monitor="g_loss", patience=0)], state)
    cbs.on_train_begin()
    for epoch, g in enumerate([1.0, 0.8, 0.9]):
        cbs.on_epoch_begin(epoch)
        cbs.on_epoch_end(epoch, {"g_loss": g, "d_loss": 0.5})
        if state.stop_training:
            break
    cbs.on_train_end()
    assert hist.history["g_loss"] == [1.0, 0.8, 0.9] and state.stop_training
    assert out.getvalue().count("\n") == 3 and "Epoch 3/3" in out.getvalue()
    assert len(list(csv.DictReader(open(tmp_path / "gan.csv")))) == 3


def test_a_checkpoint_written_on_a_gpu_resumes_on_the_cpu(tmp_path):
    """resume() loads straight onto the model's device, so GPU-tagged tensors need no GPU."""
    import json
    import zipfile
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(fastnn.randn(5, 3)).sum().backward()
    opt.step()
    path = tmp_path / "gpu.fnn"
    save_checkpoint(path, model, opt, epoch=2)
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    tagged = 0

    def tag(node):
        nonlocal tagged
        if isinstance(node, dict):
            if node.get("t") == "tensor":
                node["dev"] = "cuda:0"
                tagged += 1
            for v in node.values():
                tag(v)
        elif isinstance(node, list):
            for v in node:
                tag(v)
    manifest = json.loads(files["fastnn.json"])
    tag(manifest)
    assert tagged >= 4
    files["fastnn.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in files.items():
            zf.writestr(n, data)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.01)
    ckpt = resume(path, fresh, fresh_opt)
    assert ckpt["epoch"] == 2
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert b.device == fastnn.device("cpu")
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert load_checkpoint(path, map_location="cpu")["model"]["0.weight"].device == fastnn.device("cpu")
