"""Train/test splits and k-fold cross-validation splitters with scikit-learn's semantics.

An int ``seed`` draws from ``numpy.random.RandomState(seed)`` exactly as scikit-learn's
``random_state=seed`` does, so seeded splits equal scikit-learn's; ``seed=None`` draws from
fastnn's global generator (reproducible under ``fastnn.manual_seed``).
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from . import _arrays


def _rng(seed):
    if seed is None:
        from .. import random as fastnn_random
        return fastnn_random.generator()
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(int(seed))
    raise TypeError(f"'seed' must be None, an int, or a numpy RandomState/Generator, got {type(seed).__name__}")


def _kind(x):
    return np.asarray(x).dtype.kind if x is not None else None


def _split_sizes(n, test_size, train_size, default_test=0.25):
    if test_size is None and train_size is None:
        test_size = default_test
    for name, v in (("test_size", test_size), ("train_size", train_size)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"'{name}' must be an int, a float in (0, 1) or None, got {v!r}")
        if isinstance(v, numbers.Integral):
            if v <= 0 or v >= n:
                raise ValueError(f"{name}={v} should be either positive and smaller than the number of samples "
                                 f"{n} or a float in the (0, 1) range")
        elif v <= 0 or v >= 1:
            raise ValueError(f"{name}={v} should be either positive and smaller than the number of samples "
                             f"{n} or a float in the (0, 1) range")
    floats = [isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) for v in (test_size, train_size)]
    if all(floats) and test_size + train_size > 1:
        raise ValueError(f"the sum of test_size and train_size = {test_size + train_size} should be in the (0, 1) range")
    n_test = None if test_size is None else (math.ceil(test_size * n) if floats[0] else int(test_size))
    n_train = None if train_size is None else (math.floor(train_size * n) if floats[1] else int(train_size))
    if n_train is None:
        n_train = n - n_test
    elif n_test is None:
        n_test = n - n_train
    if n_train + n_test > n:
        raise ValueError(f"the sum of train_size and test_size = {n_train + n_test} should be smaller than the "
                         f"number of samples {n}")
    if n_train == 0:
        raise ValueError(f"with n_samples={n}, test_size={test_size} and train_size={train_size}, the resulting "
                         "train set would be empty")
    return n_train, n_test


def _approximate_mode(class_counts, n_draws, rng):
    """Most likely per-class counts when drawing ``n_draws`` without replacement (ties broken at random)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need -= add_now
            if need == 0:
                break
    return floored.astype(int)


def _labels_1d(y, name):
    y = _arrays.to_numpy(y, name)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:  # multi-label rows: stratify on each distinct row
        y = np.array([" ".join(row.astype(str)) for row in y])
    elif y.ndim != 1:
        raise ValueError(f"'{name}' must be 1-D class labels, got shape {y.shape}")
    return y


def train_test_indices(n, test_size=None, train_size=None, shuffle=True, stratify=None, seed=None):
    """Index arrays ``(train, test)`` of a split of ``n`` samples (see :func:`train_test_split`)."""
    n_train, n_test = _split_sizes(n, test_size, train_size)
    if not shuffle:
        if stratify is not None:
            raise ValueError("stratified train/test split is not implemented for shuffle=False")
        return np.arange(n_train), np.arange(n_train, n_train + n_test)
    rng = _rng(seed)
    if stratify is None:
        perm = rng.permutation(n)
        return perm[n_test:n_test + n_train], perm[:n_test]
    y = _labels_1d(stratify, "stratify")
    if len(y) != n:
        raise ValueError(f"'stratify' has {len(y)} labels but the arrays have {n} samples")
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    if class_counts.min() < 2:
        raise ValueError("the least populated class in 'stratify' has only 1 member, which is too few: "
                         f"classes with too few members: {classes[class_counts < 2].tolist()}")
    if n_train < len(classes) or n_test < len(classes):
        raise ValueError(f"train size {n_train} and test size {n_test} must each be at least the number of "
                         f"classes ({len(classes)}) for a stratified split")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(len(classes)):
        perm = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(perm[:n_i[i]])
        test.extend(perm[n_i[i]:n_i[i] + t_i[i]])
    return rng.permutation(np.asarray(train, dtype=np.int64)), rng.permutation(np.asarray(test, dtype=np.int64))


def train_test_split(*arrays, test_size=None, train_size=None, shuffle=True, stratify=None, seed=None,
                     random_state=None):
    """Split arrays (Tensors, numpy arrays or lists with the same first dimension) into random train
    and test subsets: returns ``[a_train, a_test, b_train, b_test, ...]`` like scikit-learn, each part
    of the same kind as its input. ``test_size`` defaults to 0.25 when neither size is given.
    ``random_state`` is scikit-learn's name for ``seed``.
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array is required")
    if random_state is not None:
        if seed is not None:
            raise ValueError("train_test_split: pass 'seed' or 'random_state', not both")
        seed = random_state
    sizes = [_arrays.num_samples(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"train_test_split: found input arrays with inconsistent numbers of samples: {sizes}")
    train, test = train_test_indices(sizes[0], test_size, train_size, shuffle, stratify, seed)
    out = []
    for a in arrays:
        out.append(_arrays.index(a, train))
        out.append(_arrays.index(a, test))
    return out


def train_val_test_split(*arrays, val_size=0.15, test_size=0.15, shuffle=True, stratify=None, seed=None):
    """Three-way split (70/15/15 by default): ``[a_train, a_val, a_test, b_train, b_val, b_test, ...]``.

    The test part is taken first, then the validation part from what is left, so the sizes are
    ``ceil(test_size*n)``, ``ceil(val_size*n)`` and the rest.
    """
    if not arrays:
        raise ValueError("train_val_test_split: at least one array is required")
    for name, v in (("val_size", val_size), ("test_size", test_size)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 < v < 1:
            raise ValueError(f"train_val_test_split: '{name}' must be a float in (0, 1), got {v!r}")
    if val_size + test_size >= 1:
        raise ValueError(f"train_val_test_split: val_size + test_size = {val_size + test_size} must be below 1")
    n = _arrays.num_samples(arrays[0], "arrays[0]")
    rng = _rng(seed) if shuffle else None
    rest, test = train_test_indices(n, test_size=test_size, shuffle=shuffle, stratify=stratify, seed=rng)
    n_val = math.ceil(val_size * n)
    strat_rest = None if stratify is None else _labels_1d(stratify, "stratify")[rest]
    tr, va = train_test_indices(len(rest), test_size=n_val, shuffle=shuffle, stratify=strat_rest, seed=rng)
    train, val = rest[tr], rest[va]
    out = []
    for i, a in enumerate(arrays):
        if _arrays.num_samples(a, f"arrays[{i}]") != n:
            raise ValueError(f"train_val_test_split: arrays[{i}] has {_arrays.num_samples(a)} samples, "
                             f"arrays[0] has {n}")
        out.extend([_arrays.index(a, train), _arrays.index(a, val), _arrays.index(a, test)])
    return out


def _n_of(n_or_x, name="n_or_labels"):
    if isinstance(n_or_x, numbers.Integral) and not isinstance(n_or_x, bool):
        if n_or_x < 0:
            raise ValueError(f"'{name}' must be a non-negative number of samples, got {n_or_x}")
        return int(n_or_x)
    return _arrays.num_samples(n_or_x, name)


class KFold:
    """K consecutive folds (shuffled first when ``shuffle``); each fold is the test set once.

    ``split(n_or_X)`` yields ``(train_indices, test_indices)``, both sorted, for a number of samples
    or anything with a first dimension; the first ``n % n_splits`` folds have one extra sample.
    """

    def __init__(self, n_splits=5, shuffle=False, seed=None, *, random_state=None):
        if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise ValueError(f"{type(self).__name__}: 'n_splits' must be an int of at least 2, got {n_splits!r}")
        if random_state is not None:
            seed = random_state
        if not shuffle and seed is not None:
            raise ValueError(f"{type(self).__name__}: setting a seed has no effect since shuffle is False; "
                             "set shuffle=True or leave seed=None")
        self.n_splits = int(n_splits)
        self.shuffle = bool(shuffle)
        self.seed = seed

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _test_folds(self, n, y):
        indices = np.arange(n)
        if self.shuffle:
            _rng(self.seed).shuffle(indices)
        folds = np.empty(n, dtype=np.int64)
        sizes = np.full(self.n_splits, n // self.n_splits, dtype=np.int64)
        sizes[:n % self.n_splits] += 1
        start = 0
        for k, size in enumerate(sizes):
            folds[indices[start:start + size]] = k
            start += size
        return folds

    def split(self, X, y=None, groups=None):
        n = _n_of(X, "X")
        if self.n_splits > n:
            raise ValueError(f"{type(self).__name__}: cannot have n_splits={self.n_splits} greater than the "
                             f"number of samples n_samples={n}")
        folds = self._test_folds(n, y)
        all_idx = np.arange(n)
        for k in range(self.n_splits):
            mask = folds == k
            yield all_idx[~mask], all_idx[mask]

    def __repr__(self):
        return f"{type(self).__name__}(n_splits={self.n_splits}, shuffle={self.shuffle}, seed={self.seed})"


class StratifiedKFold(KFold):
    """K folds that keep each class's proportion (scikit-learn's allocation).

    ``split(labels)`` or ``split(X, y)`` yields ``(train_indices, test_indices)``.
    """

    def split(self, X, y=None, groups=None):
        labels = X if y is None else y
        if isinstance(labels, numbers.Integral):
            raise TypeError("StratifiedKFold.split needs the class labels, not a number of samples")
        labels = _arrays.to_numpy(labels, "y")
        if y is not None and _n_of(X, "X") != len(labels):
            raise ValueError(f"StratifiedKFold.split: X has {_n_of(X, 'X')} samples but y has {len(labels)}")
        return super().split(labels, labels)

    def _test_folds(self, n, y):
        y = _labels_1d(y, "y")
        if y.dtype.kind == "f" and not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("StratifiedKFold: 'y' holds continuous values; class labels are required")
        rng = _rng(self.seed) if self.shuffle else None
        _, y_idx, y_inv = np.unique(y, return_index=True, return_inverse=True)
        _, class_perm = np.unique(y_idx, return_inverse=True)  # classes in order of first appearance
        y_encoded = class_perm[y_inv.reshape(-1)]
        n_classes = len(y_idx)
        y_counts = np.bincount(y_encoded)
        if np.all(self.n_splits > y_counts):
            raise ValueError(f"StratifiedKFold: n_splits={self.n_splits} cannot be greater than the number of "
                             "members in each class")
        if self.n_splits > y_counts.min():
            warnings.warn(f"The least populated class in y has only {y_counts.min()} members, which is less "
                          f"than n_splits={self.n_splits}.", UserWarning, stacklevel=3)
        y_order = np.sort(y_encoded)
        allocation = np.asarray([np.bincount(y_order[i::self.n_splits], minlength=n_classes)
                                 for i in range(self.n_splits)])
        folds = np.empty(n, dtype=np.int64)
        for k in range(n_classes):
            for_class = np.arange(self.n_splits).repeat(allocation[:, k])
            if self.shuffle:
                rng.shuffle(for_class)
            folds[y_encoded == k] = for_class
        return folds
