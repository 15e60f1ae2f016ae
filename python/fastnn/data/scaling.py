"""Feature scalers with scikit-learn's semantics: fit on the training set, then transform any set."""
from __future__ import annotations

import numpy as np

from . import _arrays


def _as_2d(X, who, name="X"):
    a = _arrays.to_numpy(X, name)
    if a.ndim == 1:
        raise ValueError(f"{who}: expected a 2-D array of shape (n_samples, n_features), got a 1-D array of "
                         f"shape {a.shape}; reshape it with X.reshape(-1, 1) for a single feature")
    if a.ndim != 2:
        raise ValueError(f"{who}: expected a 2-D array of shape (n_samples, n_features), got shape {a.shape}")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{who}: expected numeric data, got dtype {a.dtype}")
    return a


def _out_dtype(a):
    return a.dtype if a.dtype.kind == "f" else np.float64


def _handle_zeros(scale):
    """Features with (near) zero spread keep a scale of 1 so they are not divided by zero."""
    scale = scale.copy()
    scale[scale < 10 * np.finfo(scale.dtype).eps] = 1.0
    return scale


class _Scaler:
    _state_keys: tuple = ()

    def _check_fitted(self):
        if getattr(self, "n_features_in_", None) is None:
            raise RuntimeError(f"This {type(self).__name__} instance is not fitted yet: call fit() with the "
                               "training data first")

    def _prepare(self, X, who):
        self._check_fitted()
        a = _as_2d(X, f"{type(self).__name__}.{who}")
        if a.shape[1] != self.n_features_in_:
            raise ValueError(f"{type(self).__name__}.{who}: X has {a.shape[1]} features (shape {a.shape}) but "
                             f"the scaler was fitted on {self.n_features_in_}")
        return a

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def state_dict(self):
        """The fitted statistics as arrays (for fastnn.save)."""
        self._check_fitted()
        return {k: np.asarray(getattr(self, k)) for k in self._state_keys}

    def load_state_dict(self, state):
        for k in self._state_keys:
            if k not in state:
                raise KeyError(f"{type(self).__name__}.load_state_dict: missing key {k!r}")
            v = _arrays.to_numpy(state[k], k)
            setattr(self, k, v if v.ndim else v.item())
        self.n_features_in_ = int(self.n_features_in_)
        return self


class StandardScaler(_Scaler):
    """``(x - mean_) / scale_`` per feature, with the population standard deviation (ddof=0).

    Attributes after ``fit``: ``mean_``, ``var_``, ``scale_`` (features with zero variance keep a
    scale of 1), ``n_samples_seen_``, ``n_features_in_``. Inputs may be Tensors or arrays; outputs
    are of the input's kind, floating inputs keep their dtype.
    """

    _state_keys = ("mean_", "var_", "scale_", "n_samples_seen_", "n_features_in_")

    def __init__(self, *, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std
        self.n_features_in_ = None

    def fit(self, X, y=None):
        a = _as_2d(X, "StandardScaler.fit")
        if a.shape[0] == 0:
            raise ValueError(f"StandardScaler.fit: X has no samples (shape {a.shape})")
        a64 = a.astype(np.float64)
        self.n_features_in_ = a.shape[1]
        self.n_samples_seen_ = a.shape[0]
        self.mean_ = a64.mean(axis=0) if self.with_mean or self.with_std else None
        if self.with_std:
            self.var_ = a64.var(axis=0)
            # a feature is constant when its variance is within rounding error of 0
            eps = np.finfo(np.float64).eps
            n = a.shape[0]
            constant = self.var_ <= n * eps * self.var_ + (n * self.mean_ * eps) ** 2
            scale = np.sqrt(self.var_)
            scale[constant] = 1.0
            self.scale_ = _handle_zeros(scale)
        else:
            self.var_ = None
            self.scale_ = None
        return self

    def transform(self, X):
        a = self._prepare(X, "transform")
        out = a.astype(np.float64)
        if self.with_mean:
            out = out - self.mean_
        if self.with_std:
            out = out / self.scale_
        return _arrays.as_like(out.astype(_out_dtype(a), copy=False), X)

    def inverse_transform(self, X):
        a = self._prepare(X, "inverse_transform")
        out = a.astype(np.float64)
        if self.with_std:
            out = out * self.scale_
        if self.with_mean:
            out = out + self.mean_
        return _arrays.as_like(out.astype(_out_dtype(a), copy=False), X)

    def state_dict(self):
        self._check_fitted()
        keys = [k for k in self._state_keys if getattr(self, k) is not None]
        return {k: np.asarray(getattr(self, k)) for k in keys}

    def load_state_dict(self, state):
        for k in self._state_keys:
            v = state.get(k)
            v = None if v is None else _arrays.to_numpy(v, k)
            setattr(self, k, None if v is None else (v if v.ndim else v.item()))
        if self.n_features_in_ is None:
            raise KeyError("StandardScaler.load_state_dict: missing key 'n_features_in_'")
        self.n_features_in_ = int(self.n_features_in_)
        return self

    def __repr__(self):
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std})"


class MinMaxScaler(_Scaler):
    """Scale each feature linearly to ``feature_range`` using the training minimum and maximum.

    Attributes after ``fit``: ``data_min_``, ``data_max_``, ``data_range_``, ``scale_``, ``min_``
    (``x * scale_ + min_``); constant features keep a range of 1. ``clip=True`` clips transformed
    values of unseen data to the range.
    """

    _state_keys = ("data_min_", "data_max_", "data_range_", "scale_", "min_", "n_samples_seen_", "n_features_in_")

    def __init__(self, feature_range=(0, 1), *, clip=False):
        try:
            lo, hi = feature_range
        except (TypeError, ValueError):
            raise ValueError(f"MinMaxScaler: 'feature_range' must be a pair (min, max), got {feature_range!r}") from None
        if not lo < hi:
            raise ValueError(f"MinMaxScaler: minimum of the desired feature range must be smaller than maximum, "
                             f"got {tuple(feature_range)}")
        self.feature_range = (lo, hi)
        self.clip = clip
        self.n_features_in_ = None

    def fit(self, X, y=None):
        a = _as_2d(X, "MinMaxScaler.fit")
        if a.shape[0] == 0:
            raise ValueError(f"MinMaxScaler.fit: X has no samples (shape {a.shape})")
        a64 = a.astype(np.float64)
        if not np.all(np.isfinite(a64)):
            raise ValueError("MinMaxScaler.fit: X contains NaN or infinity")
        lo, hi = self.feature_range
        self.n_features_in_ = a.shape[1]
        self.n_samples_seen_ = a.shape[0]
        self.data_min_ = a64.min(axis=0)
        self.data_max_ = a64.max(axis=0)
        self.data_range_ = self.data_max_ - self.data_min_
        self.scale_ = (hi - lo) / _handle_zeros(self.data_range_)
        self.min_ = lo - self.data_min_ * self.scale_
        return self

    def transform(self, X):
        a = self._prepare(X, "transform")
        out = a.astype(np.float64) * self.scale_ + self.min_
        if self.clip:
            out = np.clip(out, *self.feature_range)
        return _arrays.as_like(out.astype(_out_dtype(a), copy=False), X)

    def inverse_transform(self, X):
        a = self._prepare(X, "inverse_transform")
        out = (a.astype(np.float64) - self.min_) / self.scale_
        return _arrays.as_like(out.astype(_out_dtype(a), copy=False), X)

    def __repr__(self):
        return f"MinMaxScaler(feature_range={self.feature_range}, clip={self.clip})"
