"""fit / evaluate / predict with several inputs and outputs: per-output losses, loss_weights and
metrics with Keras's history keys, matched against a hand-written loop."""
import copy
import csv

import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.data import DataLoader, Dataset
from fastnn.train import CSVLogger, EarlyStopping, ModelCheckpoint, evaluate, fit, predict


def _data(n=70, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(n, 4)).astype(np.float32)
    V = rng.normal(size=(n, 3)).astype(np.float32)
    cls = (U[:, 0] + V[:, 1] > 0).astype(np.int64) + (U[:, 2] > 1).astype(np.int64)
    reg = np.stack([U[:, 1] - V[:, 0], 0.5 * U[:, 3]], 1).astype(np.float32)
    return U, V, cls, reg


class TwoHeads(nn.Module):
    """Two inputs, a shared trunk, a classification head and a regression head."""

    def __init__(self, as_dict=False):
        super().__init__()
        self.u = nn.Linear(4, 8)
        self.v = nn.Linear(3, 8)
        self.cls = nn.Linear(8, 3)
        self.reg = nn.Linear(8, 2)
        self.as_dict = as_dict

    def forward(self, u, v):
        h = (self.u(u) + self.v(v)).relu()
        if self.as_dict:
            return {"label": self.cls(h), "value": self.reg(h)}
        return self.cls(h), self.reg(h)


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_two_heads_equal_a_hand_written_loop_and_keras_history_keys():
    U, V, cls, reg = _data()
    fastnn.manual_seed(0)
    model = TwoHeads()
    ref = copy.deepcopy(model)
    ce, mse = nn.CrossEntropyLoss(), nn.MSELoss()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hist = fit(model, ((U, V), (cls, reg)), {"output_1": ce, "output_2": mse}, opt, epochs=3,
               loss_weights={"output_1": 1.0, "output_2": 0.3}, metrics={"output_1": "accuracy", "output_2": ["mae"]},
               val_data=((U[:20], V[:20]), (cls[:20], reg[:20])), batch_size=16, shuffle=False, verbose=0)
    assert set(hist.history) == {"loss", "output_1_loss", "output_2_loss", "output_1_accuracy", "output_2_mae",
                                 "val_loss", "val_output_1_loss", "val_output_2_loss", "val_output_1_accuracy",
                                 "val_output_2_mae", "lr"}

    ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(3):
        tot, l1s, l2s, n = 0.0, 0.0, 0.0, 0
        for s in range(0, len(U), 16):
            sl = slice(s, s + 16)
            ref_opt.zero_grad()
            o1, o2 = ref(fastnn.from_numpy(U[sl]), fastnn.from_numpy(V[sl]))
            l1 = ce(o1, fastnn.from_numpy(cls[sl]))
            l2 = mse(o2, fastnn.from_numpy(reg[sl]))
            loss = l1 + l2 * 0.3
            loss.backward()
            ref_opt.step()
            b = len(U[sl])
            tot, l1s, l2s, n = tot + loss.item() * b, l1s + l1.item() * b, l2s + l2.item() * b, n + b
        assert hist.history["loss"][epoch] == pytest.approx(tot / n, rel=1e-12)
        assert hist.history["output_1_loss"][epoch] == pytest.approx(l1s / n, rel=1e-12)
        assert hist.history["output_2_loss"][epoch] == pytest.approx(l2s / n, rel=1e-12)
    for k, v in _weights(ref).items():
        np.testing.assert_array_equal(_weights(model)[k], v)

    # validation and evaluate agree, with the same keys; predict gives the outputs as a tuple
    ev = evaluate(model, ((U[:20], V[:20]), (cls[:20], reg[:20])), [ce, mse], {"output_1": "accuracy",
                                                                               "output_2": "mae"},
                  loss_weights=[1.0, 0.3])
    assert set(ev) == {"loss", "output_1_loss", "output_2_loss", "output_1_accuracy", "output_2_mae"}
    for k, v in ev.items():
        assert hist.history["val_" + k][-1] == pytest.approx(v, rel=1e-6)
    p1, p2 = predict(model, ((U, V),), batch_size=32)
    with fastnn.no_grad():
        model.eval()
        o1, o2 = model(fastnn.from_numpy(U), fastnn.from_numpy(V))
    np.testing.assert_allclose(p1, o1.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(p2, o2.numpy(), rtol=1e-6, atol=1e-6)
    acc = fastnn.metrics.accuracy(cls[:20], p1[:20])
    assert ev["output_1_accuracy"] == pytest.approx(acc)


def test_dict_inputs_outputs_targets_and_a_loss_for_every_output():
    U, V, cls, reg = _data(48)

    class Named(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 2)
            self.b = nn.Linear(3, 2)

        def forward(self, left, right):
            return {"sum": self.a(left) + self.b(right), "diff": self.a(left) - self.b(right)}

    model = Named()
    Y = {"diff": reg, "sum": -reg}
    hist = fit(model, ({"right": V, "left": U}, Y), nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01),
               epochs=2, metrics=["mse"], batch_size=10, verbose=0)
    assert set(hist.history) == {"loss", "sum_loss", "diff_loss", "sum_mse", "diff_mse", "lr"}
    for e in range(2):  # one loss per output, weights 1: the total is their sum
        assert hist.history["loss"][e] == pytest.approx(hist.history["sum_loss"][e] + hist.history["diff_loss"][e])
    out = predict(model, {"left": U, "right": V})
    assert isinstance(out, dict) and list(out) == ["sum", "diff"] and out["sum"].shape == (48, 2)
    ev = evaluate(model, ({"left": U, "right": V}, Y), nn.MSELoss(), ["mse"])
    assert ev["diff_mse"] == pytest.approx(np.mean((out["diff"] - reg) ** 2), rel=1e-5)
    assert ev["diff_loss"] == pytest.approx(ev["diff_mse"], rel=1e-5)


def test_output_names_attribute_and_a_loader_of_nested_batches():
    U, V, cls, reg = _data(40)

    class Keras(TwoHeads):
        output_names = ["digit", "box"]

    class Pairs(Dataset):
        def __len__(self):
            return len(U)

        def __getitem__(self, i):
            return (U[i], V[i]), {"digit": int(cls[i]), "box": reg[i]}

    model = Keras()
    loader = DataLoader(Pairs(), batch_size=8, shuffle=True)
    hist = fit(model, loader, {"digit": nn.CrossEntropyLoss(), "box": nn.MSELoss()},
               optim.Adam(model.parameters(), lr=0.01), epochs=2, metrics={"digit": "accuracy"}, verbose=0)
    assert set(hist.history) == {"loss", "digit_loss", "box_loss", "digit_accuracy", "lr"}
    out = predict(model, DataLoader(Pairs(), batch_size=16))
    assert isinstance(out, tuple) and out[0].shape == (40, 3) and out[1].shape == (40, 2)


def test_loss_weights_scale_each_head():
    U, V, cls, reg = _data(32)
    fastnn.manual_seed(3)
    model = TwoHeads()
    before = _weights(model)
    # a zero weight: the regression head gets no gradient, so plain SGD leaves it where it was
    fit(model, ((U, V), (cls, reg)), [nn.CrossEntropyLoss(), nn.MSELoss()], optim.SGD(model.parameters(), lr=0.1),
        loss_weights=[1.0, 0.0], epochs=2, verbose=0, batch_size=8)
    after = _weights(model)
    for k in ("reg.weight", "reg.bias"):
        np.testing.assert_array_equal(after[k], before[k])
    for k in ("cls.weight", "u.weight"):
        assert not np.array_equal(after[k], before[k])
    # weights multiply the gradient of their loss: 2x on both heads with SGD at lr/2 is the same run
    fastnn.manual_seed(3)
    m1, m2 = TwoHeads(), None
    m2 = copy.deepcopy(m1)
    data = ((U, V), (cls, reg))
    h1 = fit(m1, data, [nn.CrossEntropyLoss(), nn.MSELoss()], optim.SGD(m1.parameters(), lr=0.1),
             loss_weights=[1.0, 1.0], epochs=1, verbose=0, shuffle=False)
    h2 = fit(m2, data, [nn.CrossEntropyLoss(), nn.MSELoss()], optim.SGD(m2.parameters(), lr=0.05),
             loss_weights=[2.0, 2.0], epochs=1, verbose=0, shuffle=False)
    assert h2.history["loss"][0] == pytest.approx(2 * h1.history["loss"][0], rel=1e-6)
    assert h2.history["output_2_loss"] == pytest.approx(h1.history["output_2_loss"], rel=1e-6)
    for k, v in _weights(m1).items():
        np.testing.assert_allclose(_weights(m2)[k], v, rtol=1e-5, atol=1e-6)


def test_an_output_without_a_loss_and_a_single_target():
    U, V, cls, reg = _data(30)
    model = TwoHeads()
    # a dict without the second output: only the classifier head is trained, from a single target
    hist = fit(model, ((U, V), cls), {"output_1": nn.CrossEntropyLoss()}, optim.Adam(model.parameters(), lr=0.01),
               epochs=1, metrics={"output_1": "accuracy"}, verbose=0)
    assert set(hist.history) == {"loss", "output_1_loss", "output_1_accuracy", "lr"}
    assert hist.history["loss"] == hist.history["output_1_loss"]
    # a list of targets for the outputs that have a loss only
    hist = fit(model, ((U, V), [reg]), [None, nn.MSELoss()], optim.Adam(model.parameters(), lr=0.01), epochs=1,
               verbose=0)
    assert set(hist.history) == {"loss", "output_2_loss", "lr"}


def test_a_tuple_output_with_one_loss_and_one_target_keeps_the_flat_convention():
    """A loss taking the whole tuple (a VAE's reconstruction, mu, logvar) is called once, as before."""
    X = np.random.default_rng(1).normal(size=(24, 5)).astype(np.float32)

    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(5, 2)
            self.dec = nn.Linear(2, 5)

        def forward(self, x):
            z = self.enc(x)
            return self.dec(z), z

    seen = []

    def loss(out, target):
        seen.append(type(out))
        recon, z = out
        return ((recon - target) ** 2).mean() + 0.01 * (z ** 2).mean()

    model = AE()
    hist = fit(model, (X, X), loss, optim.Adam(model.parameters(), lr=0.01), epochs=2, verbose=0, batch_size=8)
    assert set(hist.history) == {"loss", "lr"} and set(seen) == {tuple}
    # metrics of one output against the one target
    hist = fit(model, (X, X), loss, optim.Adam(model.parameters(), lr=0.01), epochs=1, verbose=0,
               metrics={"output_1": "mse"}, val_data=(X, X))
    assert set(hist.history) == {"loss", "output_1_mse", "val_loss", "val_output_1_mse", "lr"}
    recon = predict(model, X)[0]
    assert hist.history["val_output_1_mse"][0] == pytest.approx(np.mean((recon - X) ** 2), rel=1e-5)


def test_callbacks_monitor_per_output_keys(tmp_path):
    U, V, cls, reg = _data(40)
    model = TwoHeads()
    es = EarlyStopping(monitor="val_output_1_accuracy", patience=1, restore_best_weights=True)
    ck = ModelCheckpoint(tmp_path / "best.fnn", monitor="val_output_2_loss")
    assert es.mode == "max" and ck.mode == "min"
    data = ((U, V), (cls, reg))
    fit(model, data, [nn.CrossEntropyLoss(), nn.MSELoss()], optim.Adam(model.parameters(), lr=0.02), epochs=4,
        val_data=data, metrics=["accuracy"], callbacks=[es, ck, CSVLogger(tmp_path / "log.csv")], verbose=0)
    assert ck.best_path is not None and es.best_epoch is not None
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert {"output_1_loss", "output_2_accuracy", "val_output_1_accuracy"} <= set(rows[0])


def test_mismatched_outputs_losses_weights_and_targets_raise():
    U, V, cls, reg = _data(16)
    data = ((U, V), (cls, reg))

    def run(loss_fn=nn.MSELoss(), data=data, **kw):
        model = TwoHeads()
        fit(model, data, loss_fn, optim.SGD(model.parameters(), lr=0.1), verbose=0, **kw)

    with pytest.raises(ValueError, match=r"^fit: 'loss_fn' has keys \['out'\].*\['output_1', 'output_2'\]"):
        run({"out": nn.MSELoss()})
    with pytest.raises(ValueError, match=r"'loss_fn' has 3 entries but the model has 2 outputs"):
        run([nn.MSELoss()] * 3)
    with pytest.raises(ValueError, match=r"'loss_weights' has 1 entries but the model has 2 outputs"):
        run([nn.CrossEntropyLoss(), nn.MSELoss()], loss_weights=[1.0])
    with pytest.raises(ValueError, match=r"'loss_weights' has keys \['reg'\]"):
        run([nn.CrossEntropyLoss(), nn.MSELoss()], loss_weights={"reg": 1.0})
    with pytest.raises(ValueError, match=r"loss_weights\['output_1'\]"):
        run([nn.CrossEntropyLoss(), nn.MSELoss()], loss_weights={"output_1": float("nan")})
    with pytest.raises(TypeError, match="loss_weights"):
        run([nn.CrossEntropyLoss(), nn.MSELoss()], loss_weights=0.5)
    with pytest.raises(ValueError, match=r"got 3 targets but the model has 2 outputs"):
        run([nn.CrossEntropyLoss(), nn.MSELoss()], data=((U, V), (cls, reg, reg)))
    with pytest.raises(ValueError, match=r"targets have keys \['x'\]"):
        run([nn.CrossEntropyLoss(), nn.MSELoss()], data=((U, V), {"output_1": cls, "x": reg}))
    with pytest.raises(ValueError, match=r"got 1 target but the model has 2 outputs"):
        run([nn.CrossEntropyLoss(), nn.MSELoss()], data=((U, V), cls))
    with pytest.raises(ValueError, match=r"'metrics' has keys \['acc'\]"):
        run([nn.CrossEntropyLoss(), nn.MSELoss()], metrics={"acc": "accuracy", "output_2": "mae"})
    with pytest.raises(TypeError, match=r"loss_fn\[1\]"):
        run([nn.CrossEntropyLoss(), "mse"])
    with pytest.raises(ValueError, match=r"'train_data': every array needs the same number of samples.*"
                                         r"train_data\[0\]\[1\]: 15"):
        run(data=((U, V[:15]), (cls, reg)))

    class Misnamed(TwoHeads):
        output_names = ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"'output_names' has 3 names"):
        model = Misnamed()
        fit(model, data, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), verbose=0)


def test_image_head_metrics_and_a_plain_progress_line(capsys):
    rng = np.random.default_rng(2)
    X = rng.random((24, 1, 4, 4)).astype(np.float32)
    y = (X.mean((1, 2, 3)) > 0.5).astype(np.int64)

    class ClassifyAndDenoise(nn.Module):
        output_names = ("label", "image")

        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU())
            self.cls = nn.Linear(8, 2)
            self.dec = nn.Sequential(nn.Linear(8, 16), nn.Unflatten(1, (1, 4, 4)))

        def forward(self, x):
            h = self.enc(x)
            return self.cls(h), self.dec(h)

    model = ClassifyAndDenoise()
    fit(model, (X, {"label": y, "image": X}), {"label": nn.CrossEntropyLoss(), "image": nn.MSELoss()},
        optim.Adam(model.parameters(), lr=0.01), epochs=1, metrics={"image": ["mse", "mae"]}, verbose=2)
    line = capsys.readouterr().out
    assert "Epoch 1/1" in line and "label_loss: " in line and "image_mse: " in line
    ev = evaluate(model, (X, (y, X)), [None, nn.MSELoss()], {"image": "mse"})
    assert set(ev) == {"loss", "image_loss", "image_mse"}  # only the image head has a loss here
    assert ev["image_mse"] == pytest.approx(ev["image_loss"], rel=1e-5)
    assert ev["loss"] == pytest.approx(ev["image_loss"])


def test_weighted_two_head_training_matches_a_pytorch_loop(torch):
    from torch_compare import fastnn_state, rel_err
    U, V, cls, reg = _data(40, seed=4)

    class TorchTwoHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.u, self.v = torch.nn.Linear(4, 8), torch.nn.Linear(3, 8)
            self.cls, self.reg = torch.nn.Linear(8, 3), torch.nn.Linear(8, 2)

        def forward(self, u, v):
            h = (self.u(u) + self.v(v)).relu()
            return self.cls(h), self.reg(h)

    torch.manual_seed(0)
    tm = TorchTwoHeads()
    fm = TwoHeads()
    fm.load_state_dict(fastnn_state(tm.state_dict()))
    t_opt = torch.optim.Adam(tm.parameters(), lr=0.01)
    losses = []
    for _ in range(3):
        tot = 0.0
        for s in range(0, 40, 16):
            t_opt.zero_grad()
            o1, o2 = tm(torch.tensor(U[s:s + 16]), torch.tensor(V[s:s + 16]))
            loss = (0.7 * torch.nn.functional.cross_entropy(o1, torch.tensor(cls[s:s + 16]))
                    + 2.0 * torch.nn.functional.mse_loss(o2, torch.tensor(reg[s:s + 16])))
            loss.backward()
            t_opt.step()
            tot += loss.item() * len(U[s:s + 16])
        losses.append(tot / 40)
    hist = fit(fm, ((U, V), (cls, reg)), [nn.CrossEntropyLoss(), nn.MSELoss()], optim.Adam(fm.parameters(), lr=0.01),
               loss_weights=[0.7, 2.0], epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert hist.history["loss"] == pytest.approx(losses, rel=1e-5)
    for k, v in tm.state_dict().items():
        assert rel_err(fm.state_dict()[k].numpy(), v.numpy()) < 1e-5, k
