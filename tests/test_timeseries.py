"""fastnn.data.timeseries_dataset_from_array (Keras's window semantics) and chronological_split."""
import itertools

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.data import (MinMaxScaler, SlidingWindows, StandardScaler, chronological_split,
                         timeseries_dataset_from_array)


def reference_windows(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, start_index=None,
                      end_index=None):
    """Keras's windows written out one by one from its documentation: a window may start at every
    ``sequence_stride``-th step from ``start_index`` whose last step ``start + (L-1)*rate`` stays
    before ``end_index``; its target is ``targets[start]`` and windows without a target are dropped."""
    start = start_index or 0
    end = len(data) if end_index is None else end_index
    xs, ys = [], []
    s = start
    while s + (sequence_length - 1) * sampling_rate < end:
        if targets is not None and s >= len(targets):
            break
        xs.append(np.stack([data[s + k * sampling_rate] for k in range(sequence_length)]))
        if targets is not None:
            ys.append(targets[s])
        s += sequence_stride
    return xs, ys


def collect(ds):
    xs, ys = [], []
    for batch in ds:
        if isinstance(batch, tuple):
            x, y = batch
            ys.extend(list(y.numpy()) if ds.batch_size is not None else [y.numpy()])
        else:
            x = batch
        xs.extend(list(x.numpy()) if ds.batch_size is not None else [x.numpy()])
    return xs, ys


def test_keras_documented_example_1():
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3)
    x = np.concatenate([b.numpy() for b in ds])
    assert x[0].tolist() == list(range(0, 20, 2))
    assert x[1].tolist() == list(range(3, 23, 2))
    assert x[2].tolist() == list(range(6, 26, 2))
    assert x[-1].tolist() == list(range(78, 98, 2))
    assert len(x) == 27 and ds.num_windows == 27


def test_keras_documented_example_2_next_step():
    data = np.random.default_rng(0).normal(size=200).astype(np.float32)
    ds = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    inputs, targets = next(iter(ds))
    np.testing.assert_array_equal(inputs[0].numpy(), data[:10])
    assert targets[0].item() == data[10]
    assert inputs.shape == (128, 10) and targets.shape == (128,)
    xs, ys = collect(ds)
    assert len(xs) == 181
    for k in (0, 57, 180):  # window k predicts the step right after it
        np.testing.assert_array_equal(xs[k], data[k:k + 10])
        assert ys[k] == data[k + 10]


@pytest.mark.parametrize("trial", range(25))
def test_random_settings_match_reference(trial):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(1, 60))
    feat = () if trial % 3 == 0 else (int(rng.integers(1, 4)),)
    data = rng.normal(size=(n,) + feat)
    L = int(rng.integers(1, max(2, n // 2)))
    rate = int(rng.integers(1, 4))
    stride = int(rng.integers(1, 5))
    start = int(rng.integers(0, n)) if trial % 2 else None
    end = None if trial % 4 < 2 or start is None else int(rng.integers(start + 1, n + 1))
    n_t = n if trial % 5 else int(rng.integers(max(1, (start or 0) + 1), n + 1))
    targets = None if trial % 7 == 0 else rng.integers(0, 9, size=n_t)
    batch = [None, 1, 3, 128][trial % 4]
    ref_x, ref_y = reference_windows(data, targets, L, stride, rate, start, end)
    if not ref_x:
        with pytest.raises(ValueError):
            timeseries_dataset_from_array(data, targets, L, stride, rate, batch, start_index=start, end_index=end)
        return
    ds = timeseries_dataset_from_array(data, targets, L, stride, rate, batch, start_index=start, end_index=end)
    xs, ys = collect(ds)
    assert len(xs) == len(ref_x) == ds.num_windows
    assert len(ds) == (len(ref_x) if batch is None else -(-len(ref_x) // batch))
    for a, b in zip(xs, ref_x):
        np.testing.assert_array_equal(a, b)
        assert a.shape == (L,) + feat
    np.testing.assert_array_equal(np.asarray(ys), np.asarray(ref_y))
    assert ds.start_positions[0] == (start or 0)


def test_edge_sizes_and_dtype_kept():
    one = timeseries_dataset_from_array(np.array([5.0]), np.array([1]), sequence_length=1, batch_size=None)
    (x, y), = list(one)
    assert x.shape == (1,) and x.item() == 5.0 and y.item() == 1 and x.dtype == fastnn.float64
    whole = timeseries_dataset_from_array(np.arange(7, dtype=np.int32), None, sequence_length=7)
    (b,) = list(whole)
    assert b.shape == (1, 7) and b.dtype == fastnn.int32
    t = fastnn.arange(12.0).reshape(6, 2)
    x, = [b for b in timeseries_dataset_from_array(t, None, 3, batch_size=10)]
    assert x.shape == (4, 3, 2) and x.dtype == t.dtype
    np.testing.assert_array_equal(x.numpy()[1], t.numpy()[1:4])


def test_non_contiguous_input():
    base = np.arange(120.0).reshape(40, 3)
    data = base[::2, ::-1]  # strided in time, reversed features
    assert not data.flags.c_contiguous
    ds = timeseries_dataset_from_array(data, data[:, 0], sequence_length=4, sampling_rate=2, batch_size=5)
    xs, ys = collect(ds)
    ref_x, ref_y = reference_windows(data, data[:, 0], 4, 1, 2)
    assert len(xs) == len(ref_x)
    for a, b in zip(xs, ref_x):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ys, ref_y)


def test_shuffle_keras_start_order_and_reshuffles_each_pass():
    data = np.arange(50)
    ds = timeseries_dataset_from_array(data, data, sequence_length=5, sequence_stride=2, shuffle=True, seed=7,
                                       batch_size=None)
    expected = np.arange(0, 46, 2)
    np.random.RandomState(7).shuffle(expected)  # Keras shuffles the start positions this way
    first = [int(x.numpy()[0]) for x, _ in ds]
    assert first == expected.tolist()
    second = [int(x.numpy()[0]) for x, _ in ds]
    assert sorted(second) == sorted(first) and second != first
    for x, y in ds:  # the pairing survives the shuffle
        assert int(y.item()) == int(x.numpy()[0])
    again = timeseries_dataset_from_array(data, data, sequence_length=5, sequence_stride=2, shuffle=True, seed=7,
                                          batch_size=None)
    assert [int(x.numpy()[0]) for x, _ in again] == first

    fastnn.manual_seed(3)
    a = [int(b[0].numpy()[0, 0]) for b in timeseries_dataset_from_array(data, data, 5, shuffle=True, batch_size=4)]
    fastnn.manual_seed(3)
    b = [int(b[0].numpy()[0, 0]) for b in timeseries_dataset_from_array(data, data, 5, shuffle=True, batch_size=4)]
    assert a == b


@pytest.mark.parametrize("kwargs,match", [
    (dict(sequence_length=0), "sequence_length"),
    (dict(sequence_length=2.5), "sequence_length"),
    (dict(sequence_length=3, sequence_stride=0), "sequence_stride"),
    (dict(sequence_length=3, sampling_rate=-1), "sampling_rate"),
    (dict(sequence_length=3, batch_size=0), "batch_size"),
    (dict(sequence_length=11), "spans 11 time steps"),
    (dict(sequence_length=4, sampling_rate=4), "spans 13 time steps"),
    (dict(sequence_length=3, start_index=-1), "start_index"),
    (dict(sequence_length=3, start_index=10), "start_index"),
    (dict(sequence_length=3, end_index=11), "end_index"),
    (dict(sequence_length=3, end_index=0), "end_index"),
    (dict(sequence_length=3, start_index=5, end_index=5), "end_index"),
    (dict(sequence_length=3, start_index=5, end_index=7), "holds only 2"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        timeseries_dataset_from_array(np.arange(10.0), None, **kwargs)


def test_bad_targets_and_data():
    with pytest.raises(ValueError, match=r"'targets' has 12 rows.*'data' has only 10"):
        timeseries_dataset_from_array(np.arange(10.0), np.arange(12.0), 3)
    with pytest.raises(ValueError, match="no window has a target"):
        timeseries_dataset_from_array(np.arange(10.0), np.arange(3.0), 3, start_index=4)
    with pytest.raises(ValueError, match="no time steps"):
        timeseries_dataset_from_array(np.zeros((0, 3)), None, 1)
    with pytest.raises(ValueError, match="time dimension"):
        timeseries_dataset_from_array(np.float64(3.0), None, 1)
    with pytest.raises(TypeError, match="seed"):
        timeseries_dataset_from_array(np.arange(10.0), None, 3, shuffle=True, seed="a")
    with pytest.raises(TypeError, match="start_index"):
        timeseries_dataset_from_array(np.arange(10.0), None, 3, start_index=1.5)
    with pytest.raises(TypeError, match="numbers"):
        timeseries_dataset_from_array(np.array(["a", "b", "c"]), None, 1)


def test_shorter_targets_limit_windows_as_keras():
    data = np.arange(20.0)
    ds = timeseries_dataset_from_array(data, data[5:], sequence_length=3)
    assert ds.num_windows == 15  # only the first 15 windows have a target


def test_fit_trains_on_windows():
    rng = np.random.default_rng(0)
    t = np.arange(400)
    series = (np.sin(t * 0.3) + 0.05 * rng.normal(size=t.size)).astype(np.float32)
    L = 8
    ds = timeseries_dataset_from_array(series[:-L], series[L:, None], L, batch_size=32, shuffle=True, seed=0)
    model = nn.Linear(L, 1)
    opt = fastnn.optim.Adam(model.parameters(), lr=0.05)
    before = fastnn.train.evaluate(model, ds, nn.MSELoss())["loss"]
    hist = fastnn.train.fit(model, ds, nn.MSELoss(), opt, epochs=15, verbose=0)
    assert hist.history["loss"][-1] < 0.05 * before
    assert hist.history["loss"][-1] < 0.02  # a linear AR(8) fits a noisy sine well


def test_chronological_split_sizes_and_kinds():
    tr, va, te = chronological_split(309, train=0.7, val=0.1)
    assert (tr, va, te) == (slice(0, 216), slice(216, 246), slice(246, 309))
    x = np.arange(100.0)
    a, b, c = chronological_split(x)
    np.testing.assert_array_equal(np.concatenate([a, b, c]), x)
    assert (len(a), len(b), len(c)) == (70, 10, 20) and np.shares_memory(a, x)
    t = fastnn.arange(10.0)
    a, b, c = chronological_split(t, train=6, val=0)
    assert isinstance(a, fastnn.Tensor) and a.shape == (6,) and b.shape == (0,) and c.numpy().tolist() == [6, 7, 8, 9]
    a, b, c = chronological_split(list(range(5)), train=0.4, val=0.2)
    assert (a, b, c) == ([0, 1], [2], [3, 4])


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(train=0.0), ValueError, "training part is empty"),
    (dict(train=0.9, val=0.1), ValueError, "no test part"),
    (dict(train=1.5), ValueError, "train"),
    (dict(train=-3), ValueError, "train"),
    (dict(val=True), TypeError, "val"),
    (dict(train="0.7"), TypeError, "train"),
])
def test_chronological_split_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        chronological_split(10, **kwargs)


def test_scaler_fitted_on_training_part_only():
    series = np.concatenate([np.zeros(70), np.full(30, 100.0)])[:, None]  # the future differs from the past
    train, val, test = chronological_split(series, train=0.7, val=0.1)
    scaler = StandardScaler().fit(train)
    assert scaler.mean_[0] == 0.0  # no future value took part
    assert np.all(scaler.transform(test) == 100.0)
    mm = MinMaxScaler().fit(series[chronological_split(len(series))[0]])
    assert mm.data_max_[0] == 0.0


def test_windows_per_part_do_not_cross_boundaries():
    series = np.arange(100.0)
    tr, va, te = chronological_split(len(series), train=0.6, val=0.2)
    L = 5
    parts = {}
    for name, part in (("train", tr), ("val", va), ("test", te)):
        ds = timeseries_dataset_from_array(series, series, L, start_index=part.start,
                                           end_index=part.stop if part.stop < len(series) else None)
        xs, _ = collect(ds)
        parts[name] = np.concatenate(xs)
        assert parts[name].min() >= part.start and parts[name].max() < part.stop
    assert isinstance(ds, SlidingWindows) and "SlidingWindows" in repr(ds)
    assert not set(parts["train"]) & set(itertools.chain(parts["val"], parts["test"]))


def test_sunspots_loader():
    import os
    if os.environ.get("CI", "").lower() != "true":
        pytest.importorskip("statsmodels")
    from fastnn.datasets import sunspots
    year, activity = sunspots()
    assert year.shape == activity.shape == (309,)
    assert year.dtype == np.int64 and activity.dtype == np.float32
    assert year[0] == 1700 and year[-1] == 2008 and np.all(np.diff(year) == 1)
    assert activity[0] == 5.0 and activity.min() >= 0 and 150 < activity.max() < 200


def test_sunspots_missing_package_names_install_command(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("statsmodels"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    from fastnn.datasets import sunspots
    with pytest.raises(ImportError, match="pip install statsmodels"):
        sunspots()
