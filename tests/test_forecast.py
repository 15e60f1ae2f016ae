"""fastnn.train.train_forecaster: the one-step-ahead recurrent forecaster and its chronological protocol."""
import os

import numpy as np
import pytest

import fastnn
from fastnn.train import RecurrentForecaster, train_forecaster


def test_forecaster_model_shapes():
    for cell in ("lstm", "gru", "rnn"):
        m = RecurrentForecaster(hidden_size=8, num_layers=2, cell=cell)
        assert m(fastnn.randn(5, 7)).shape == (5, 1)
        assert RecurrentForecaster(input_size=3, hidden_size=4, cell=cell)(fastnn.randn(2, 6, 3)).shape == (2, 1)
    with pytest.raises(ValueError, match="cell"):
        RecurrentForecaster(cell="transformer")


def test_protocol_on_a_synthetic_series():
    rng = np.random.default_rng(0)
    t = np.arange(240)
    series = 10 + 5 * np.sin(2 * np.pi * t / 11) + 0.3 * rng.normal(size=t.size)
    r = train_forecaster(series, sequence_length=11, hidden_size=16, epochs=40, lr=1e-2, patience=0, seed=0)
    n_test = int(np.ceil(0.2 * 240))
    assert r.splits[2] == slice(240 - n_test, 240)
    np.testing.assert_array_equal(r.test_index, np.arange(240 - n_test, 240))  # every test year is forecast
    np.testing.assert_array_equal(r.y_test, series[240 - n_test:])
    np.testing.assert_array_equal(r.y_naive, series[240 - n_test - 1:-1])
    train = series[r.splits[0]]
    assert r.scaler.mean_[0] == pytest.approx(train.mean())  # fitted on the training years only
    assert r.rmse < 0.5 * r.naive_rmse  # a periodic series is far better forecast than by the last value
    windows = np.stack([series[i - 11:i] for i in r.test_index])
    np.testing.assert_allclose(r.predict(windows), r.y_pred, rtol=1e-5, atol=1e-4)
    assert len(r.history.epoch) == 40


def test_bad_arguments():
    with pytest.raises(ValueError, match="1-D"):
        train_forecaster(np.zeros((20, 2)))
    with pytest.raises(ValueError, match="too few"):
        train_forecaster(np.arange(18.0), sequence_length=12)
    with pytest.raises(ValueError, match="test_size"):
        train_forecaster(np.arange(300.0), test_size=1.2)
    with pytest.raises(ValueError, match="sequence_length"):
        train_forecaster(np.arange(300.0), sequence_length=0)


def test_sunspots_lstm_beats_the_naive_forecast():
    if os.environ.get("CI", "").lower() != "true":
        pytest.importorskip("statsmodels")
    from fastnn.datasets import sunspots
    from fastnn.demos import FORECAST
    _, activity = sunspots()
    r = train_forecaster(activity, epochs=60, seed=0, **FORECAST)
    assert r.naive_rmse == pytest.approx(33.28, abs=0.01)
    assert r.rmse < 0.85 * r.naive_rmse
