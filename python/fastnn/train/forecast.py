"""One-step-ahead forecasting of a univariate series with a recurrent network, end to end:
chronological split, scaling fitted on the training part, windows of past steps, training with early
stopping on the validation part, and the test RMSE beside the naive last-value forecast.
Shared by the sunspot example, ``fastnn demo forecast`` and the tests.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..metrics import rmse

_CELLS = ("lstm", "gru", "rnn")


def _module_base():
    from ..nn import Module
    return Module


class RecurrentForecaster(_module_base()):
    """Windows of past values ``(batch, steps)`` or ``(batch, steps, input_size)`` → the next value
    ``(batch, 1)``: a stack of ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` layers (batch first) and a
    Linear head on the last step's hidden state."""

    def __init__(self, input_size=1, hidden_size=32, num_layers=1, cell="lstm", dropout=0.0):
        from .. import nn
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"RecurrentForecaster: 'cell' must be one of {_CELLS}, got {cell!r}")
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.rnn = layer(input_size, hidden_size, num_layers=num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class ForecastResult:
    """What :func:`train_forecaster` produced: ``model``, ``scaler`` (fitted on the training part),
    ``history``, ``splits`` (the train/val/test slices of the series), ``test_index`` (positions of
    the forecast steps in the series), ``y_test``, ``y_pred`` (the model's one-step forecasts) and
    ``y_naive`` (the previous step's value), ``rmse`` and ``naive_rmse`` on the original scale."""

    def __init__(self, model, scaler, history, sequence_length, splits, test_index, y_test, y_pred, y_naive):
        self.model = model
        self.scaler = scaler
        self.history = history
        self.sequence_length = sequence_length
        self.splits = splits
        self.test_index = test_index
        self.y_test = y_test
        self.y_pred = y_pred
        self.y_naive = y_naive
        self.rmse = rmse(y_test, y_pred)
        self.naive_rmse = rmse(y_test, y_naive)

    def predict(self, windows):
        """One-step forecasts on the original scale for raw windows of shape (n, sequence_length)."""
        from .loop import predict
        w = np.asarray(windows, dtype=np.float32)
        if w.ndim != 2 or w.shape[1] != self.sequence_length:
            raise ValueError(f"ForecastResult.predict: 'windows' must have shape (n, {self.sequence_length}), "
                             f"got {w.shape}")
        scaled = self.scaler.transform(w.reshape(-1, 1)).reshape(w.shape).astype(np.float32)
        out = predict(self.model, scaled, batch_size=256)
        return self.scaler.inverse_transform(np.asarray(out, dtype=np.float64).reshape(-1, 1))[:, 0]


def _count(fraction, n, name):
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
        raise ValueError(f"train_forecaster: '{name}' must be a fraction in (0, 1), got {fraction!r}")
    return int(math.ceil(fraction * n))


def train_forecaster(series, *, sequence_length=12, cell="lstm", hidden_size=32, num_layers=1, dropout=0.0,
                     epochs=200, lr=5e-3, batch_size=32, test_size=0.2, val_size=0.1, patience=30, seed=0,
                     verbose=0):
    """Train a :class:`RecurrentForecaster` to predict each step of ``series`` from the
    ``sequence_length`` steps before it, and evaluate it on the last ``test_size`` of the steps.

    The series is split in time order: training, validation (``val_size``), test (the last
    ``ceil(test_size * n)`` steps). A StandardScaler is fitted on the training part alone. A window
    may reach back across a boundary into earlier steps (they are known when the forecast is made),
    but every target lies in its own part. Training uses Adam and MSE with early stopping on the
    validation loss (``patience`` epochs, best weights restored). ``seed`` seeds fastnn's generator.
    """
    from .. import manual_seed, nn, optim
    from ..data import StandardScaler, chronological_split, timeseries_dataset_from_array
    from .callbacks import EarlyStopping
    from .loop import fit, predict

    y = np.asarray(series, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"train_forecaster: 'series' must be 1-D (one value per step), got shape {y.shape}")
    if isinstance(sequence_length, bool) or not isinstance(sequence_length, numbers.Integral) or sequence_length < 1:
        raise ValueError(f"train_forecaster: 'sequence_length' must be a positive int, got {sequence_length!r}")
    n = len(y)
    n_test, n_val = _count(test_size, n, "test_size"), _count(val_size, n, "val_size")
    n_train = n - n_test - n_val
    if n_train < sequence_length + 2:
        raise ValueError(f"train_forecaster: the training part has {max(n_train, 0)} steps of {n}, too few for "
                         f"windows of sequence_length={sequence_length} (need at least {sequence_length + 2})")
    splits = chronological_split(n, train=n_train, val=n_val)
    manual_seed(seed)
    scaler = StandardScaler().fit(y[splits[0]].reshape(-1, 1))
    z = scaler.transform(y.reshape(-1, 1)).astype(np.float32)[:, 0]
    L = sequence_length

    def windows(part, shuffle=False):
        # targets z[t] for t in part; the window of t is z[t - L:t]
        first = max(part.start, L)
        return timeseries_dataset_from_array(z, z[L:, None], L, batch_size=batch_size, shuffle=shuffle,
                                             seed=seed if shuffle else None, start_index=first - L,
                                             end_index=part.stop - 1)

    model = RecurrentForecaster(1, hidden_size, num_layers, cell, dropout)
    opt = optim.Adam(model.parameters(), lr=lr)
    callbacks = [EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)] if patience else []
    history = fit(model, windows(splits[0], shuffle=True), nn.MSELoss(), opt, epochs=epochs,
                  val_data=windows(splits[1]), callbacks=callbacks, verbose=verbose)

    test = windows(splits[2])
    test_index = test.start_positions + L
    out = predict(model, test)
    y_pred = scaler.inverse_transform(np.asarray(out, dtype=np.float64).reshape(-1, 1))[:, 0]
    return ForecastResult(model, scaler, history, L, splits, test_index, y[test_index], y_pred, y[test_index - 1])
