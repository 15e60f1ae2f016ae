"""Time-series windows with Keras's ``timeseries_dataset_from_array``, and a chronological split.

A forecaster must be judged on the future: the split keeps time order (the training part is the
past, the test part the most recent stretch), scalers are fitted on the training part only, and the
windows of each part are cut from that part alone, so no value of a later part leaks into an earlier
one.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _arrays

__all__ = ["timeseries_dataset_from_array", "chronological_split", "SlidingWindows"]


def _positive_int(value, name, who):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{who}: '{name}' must be a positive int, got {value!r}")
    return int(value)


def _optional_index(value, name, who):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: '{name}' must be an int or None, got {type(value).__name__}")
    return int(value)


def _series_array(x, name, who):
    """The array behind ``x`` (a Tensor keeps its device; anything else becomes a host numpy array)."""
    a = x._data if _arrays.is_tensor(x) else _arrays.to_numpy(x, name)
    if len(a.shape) == 0:
        raise ValueError(f"{who}: '{name}' must have a time dimension (axis 0), got a scalar")
    if getattr(a, "dtype", None) is not None and a.dtype.kind in "OSUV":
        raise TypeError(f"{who}: '{name}' must hold numbers, got dtype {a.dtype}")
    return a


class SlidingWindows:
    """The batches of windows made by :func:`timeseries_dataset_from_array`.

    Iterating yields ``(x, y)`` tensor pairs (``x`` alone when there are no targets): ``x`` of shape
    ``(batch, sequence_length, *data.shape[1:])`` and ``y`` of shape ``(batch, *targets.shape[1:])``;
    without a ``batch_size`` the batch dimension is absent and single windows are yielded. It can be
    iterated once per epoch (``fastnn.train.fit`` takes it as ``train_data``); ``len()`` is the
    number of batches (of windows when unbatched).

    ``start_positions`` holds the index in ``data`` of each window's first time step, in time order;
    ``targets[start_positions[k]]`` is the target of window ``k``. With ``shuffle`` the first pass
    visits the windows in the order ``numpy.random.RandomState(seed)`` shuffles them into (the start
    order Keras uses for the same seed), and every further pass draws a new order from that stream.
    """

    def __init__(self, data, targets, start_positions, sequence_length, sampling_rate, batch_size, shuffle, seed):
        self._data = data
        self._targets = targets
        self.start_positions = start_positions
        self.sequence_length = sequence_length
        self.sampling_rate = sampling_rate
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self._rng = np.random.RandomState(seed) if shuffle and seed is not None else None
        self._offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate

    @property
    def num_windows(self) -> int:
        return int(self.start_positions.shape[0])

    def __len__(self):
        if self.batch_size is None:
            return self.num_windows
        return math.ceil(self.num_windows / self.batch_size)

    def _order(self):
        if not self.shuffle:
            return self.start_positions
        order = self.start_positions.copy()
        if self._rng is not None:
            self._rng.shuffle(order)
        else:
            from .. import random as fastnn_random
            fastnn_random.generator().shuffle(order)
        return order

    def _gather(self, starts, squeeze):
        """The windows (and targets) starting at ``starts`` as tensors; ``squeeze`` drops the batch axis."""
        from .. import backend
        xp = backend.array_module_of(self._data)
        x = self._data[xp.asarray(starts[:, None] + self._offsets[None, :])]
        out = [x]
        if self._targets is not None:
            txp = backend.array_module_of(self._targets)
            out.append(self._targets[txp.asarray(starts)])
        out = [_arrays.wrap(a[0].copy() if squeeze else a) for a in out]
        return out[0] if len(out) == 1 else tuple(out)

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for k in range(order.shape[0]):
                yield self._gather(order[k:k + 1], squeeze=True)
            return
        for lo in range(0, order.shape[0], self.batch_size):
            yield self._gather(order[lo:lo + self.batch_size], squeeze=False)

    def __repr__(self):
        return (f"SlidingWindows(num_windows={self.num_windows}, sequence_length={self.sequence_length}, "
                f"sampling_rate={self.sampling_rate}, batch_size={self.batch_size}, shuffle={self.shuffle})")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                                  shuffle=False, seed=None, start_index=None, end_index=None):
    """Sliding windows over a series, with Keras's arguments and semantics.

    Args:
        data: the series, time along axis 0 (Tensor, numpy array or list), e.g. ``(steps,)`` or
            ``(steps, features)``. Values keep their dtype (cast to float32 for float32 models).
        targets: ``targets[i]`` is the target of the window that starts at ``data[i]``; ``None``
            yields the windows alone. Targets shorter than ``data`` limit the windows to those that
            have one (as in Keras); longer ones are refused.
        sequence_length: time steps per window.
        sequence_stride: steps between the starts of successive windows.
        sampling_rate: steps between successive time steps inside a window: a window starting at
            ``i`` holds ``data[i], data[i + r], ..., data[i + (sequence_length - 1) * r]``.
        batch_size: windows per batch (the last may be smaller); ``None`` yields single windows.
        shuffle: visit the windows in random order instead of time order.
        seed: int seed of the shuffle (``None``: fastnn's global generator, reproducible under
            ``fastnn.manual_seed``).
        start_index, end_index: only ``data[start_index:end_index]`` is used (``end_index``
            exclusive); the window positions, and the targets, are counted from ``start_index``,
            so ``targets[start_index + k]`` goes with the window starting at ``data[start_index + k]``.

    Returns:
        a :class:`SlidingWindows`: an iterable of ``(x, y)`` batches usable by ``fastnn.train.fit``
        and by a plain ``for x, y in windows:`` loop.

    To predict ``data[i + sequence_length]`` from ``data[i:i + sequence_length]`` (one step
    ahead), pass ``data[:-sequence_length]`` and ``targets=data[sequence_length:]``.
    """
    who = "timeseries_dataset_from_array"
    sequence_length = _positive_int(sequence_length, "sequence_length", who)
    sequence_stride = _positive_int(sequence_stride, "sequence_stride", who)
    sampling_rate = _positive_int(sampling_rate, "sampling_rate", who)
    if batch_size is not None:
        batch_size = _positive_int(batch_size, "batch_size", who)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{who}: 'seed' must be an int or None, got {type(seed).__name__}")
    start_index = _optional_index(start_index, "start_index", who)
    end_index = _optional_index(end_index, "end_index", who)

    arr = _series_array(data, "data", who)
    n = int(arr.shape[0])
    if n == 0:
        raise ValueError(f"{who}: 'data' has no time steps (shape {tuple(arr.shape)})")
    start = 0 if start_index is None else start_index
    end = n if end_index is None else end_index
    if not 0 <= start < n:
        raise ValueError(f"{who}: 'start_index' must be 0 or greater and lower than the length of the data ({n}), "
                         f"got start_index={start_index}")
    if not 0 < end <= n:
        raise ValueError(f"{who}: 'end_index' must be higher than 0 and at most the length of the data ({n}), "
                         f"got end_index={end_index}")
    if end <= start:
        raise ValueError(f"{who}: 'end_index' must be higher than 'start_index', got start_index={start} and "
                         f"end_index={end}")

    tarr = None
    if targets is not None:
        tarr = _series_array(targets, "targets", who)
        if tarr.shape[0] > n:
            raise ValueError(f"{who}: 'targets' has {tarr.shape[0]} rows (shape {tuple(tarr.shape)}) but 'data' has "
                             f"only {n} time steps (shape {tuple(arr.shape)}); targets[i] is the target of the window "
                             "starting at data[i], so targets cannot be longer than data")
        from .. import backend
        if backend.device_of(tarr) != backend.device_of(arr):
            raise RuntimeError(f"{who}: 'data' is on {backend.device_of(arr)} but 'targets' on "
                               f"{backend.device_of(tarr)}")

    span = (sequence_length - 1) * sampling_rate + 1
    num_starts = (end - start) - span + 1
    if num_starts < 1:
        raise ValueError(f"{who}: a window spans {span} time steps (sequence_length={sequence_length}, "
                         f"sampling_rate={sampling_rate}) but the data between start_index={start} and "
                         f"end_index={end} holds only {end - start}")
    if tarr is not None:
        num_starts = min(num_starts, int(tarr.shape[0]) - start)
        if num_starts < 1:
            raise ValueError(f"{who}: no window has a target: 'targets' has {tarr.shape[0]} rows, none at or "
                             f"after start_index={start}")
    start_positions = np.arange(start, start + num_starts, sequence_stride, dtype=np.int64)
    return SlidingWindows(arr, tarr, start_positions, sequence_length, sampling_rate, batch_size, bool(shuffle),
                          None if seed is None else int(seed))


def _part_size(value, n, name, who):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: '{name}' must be a fraction in [0, 1) or a number of steps, got {value!r}")
    if isinstance(value, numbers.Integral):
        if not 0 <= value <= n:
            raise ValueError(f"{who}: '{name}'={value} steps is outside [0, {n}] (the series has {n} steps)")
        return int(value)
    if not 0 <= value < 1:
        raise ValueError(f"{who}: '{name}' as a fraction must lie in [0, 1), got {value}")
    return int(math.floor(value * n))


def chronological_split(series, train=0.7, val=0.1):
    """Split a series along time, without shuffling: the first ``train`` part, then ``val``, then
    the rest as the test part (the most recent steps).

    Args:
        series: a number of time steps ``n``, or a Tensor / numpy array / list with time along axis 0.
        train, val: fractions of the steps (floats in [0, 1): ``floor(fraction * n)`` steps) or
            numbers of steps (ints). The test part is what remains and must not be empty;
            ``val=0`` gives an empty validation part.

    Returns:
        ``(train, val, test)``: for a number of steps, three ``slice`` objects (``slice.start`` /
        ``slice.stop`` are the boundaries, e.g. for ``start_index``/``end_index``); for a series,
        its three consecutive parts, each of the series' kind (views of an array or Tensor).

    Fit scalers on the training part only (``StandardScaler().fit(train_part)``) and transform all
    three with it, so nothing about the future leaks into training.
    """
    who = "chronological_split"
    if isinstance(series, numbers.Integral) and not isinstance(series, bool):
        if series < 0:
            raise ValueError(f"{who}: the number of time steps must be non-negative, got {series}")
        n = int(series)
    else:
        n = _arrays.num_samples(series, "series")
    n_train = _part_size(train, n, "train", who)
    n_val = _part_size(val, n, "val", who)
    if n_train < 1:
        raise ValueError(f"{who}: the training part is empty (train={train!r} of {n} steps)")
    if n_train + n_val >= n:
        raise ValueError(f"{who}: train ({n_train} steps) and val ({n_val} steps) leave no test part out of "
                         f"{n} steps; train + val must stay below the whole series")
    parts = (slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, n))
    if isinstance(series, numbers.Integral):
        return parts
    return tuple(series[p] for p in parts)
