"""Evaluation metrics with scikit-learn's definitions, on Tensors, numpy arrays or lists.

Classification metrics take labels (a 2-D ``y_true`` of one-hot rows or class probabilities is
reduced with argmax); a 2-D ``y_pred`` of scores (probabilities or logits, shape
(N, C) with C > 1) is reduced with argmax, and non-integer binary scores of shape (N,) or (N, 1)
are thresholded at ``threshold`` (0.5, for probabilities). Results are Python floats or numpy arrays.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .data import _arrays

__all__ = ["accuracy", "confusion_matrix", "precision_recall_f1", "precision", "recall", "f1_score",
           "classification_report", "mse", "mae", "rmse", "r2"]


def _np(x, name):
    a = _arrays.to_numpy(x, name)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"argument '{name}' must hold numbers, got dtype {a.dtype}")
    return a


def _true_labels(y_true):
    y = _np(y_true, "y_true")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] > 1:  # one-hot or class-probability targets
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise ValueError(f"argument 'y_true' must be a 1-D array of class labels, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("argument 'y_true' must hold class labels (integers), got non-integer values")
        y = y.astype(np.int64)
    return y


def to_labels(y_pred, threshold=0.5):
    """Predicted class labels from labels, scores of shape (N, C) (argmax) or binary scores (thresholded)."""
    p = _np(y_pred, "y_pred")
    if p.ndim == 2 and p.shape[1] > 1:
        return p.argmax(axis=1)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim != 1:
        raise ValueError(f"argument 'y_pred' must be labels of shape (N,) or scores of shape (N, C), got shape {p.shape}")
    if p.dtype.kind == "f":
        if np.all(np.isfinite(p)) and np.all(p == np.round(p)):
            return p.astype(np.int64)
        return (p > threshold).astype(np.int64)
    return p


def _pair(y_true, y_pred, threshold=0.5):
    t = _true_labels(y_true)
    p = to_labels(y_pred, threshold)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"'y_true' and 'y_pred' have different numbers of samples: {t.shape[0]} and {p.shape[0]}")
    return t, p


def accuracy(y_true, y_pred, normalize=True, threshold=0.5):
    """Fraction (or count, with ``normalize=False``) of correctly classified samples."""
    t, p = _pair(y_true, y_pred, threshold)
    correct = int(np.count_nonzero(t == p))
    if not normalize:
        return correct
    return correct / t.shape[0] if t.shape[0] else float("nan")


def _labels_for(t, p, num_classes=None, labels=None):
    if num_classes is not None and labels is not None:
        raise ValueError("pass 'num_classes' or 'labels', not both")
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
            raise ValueError(f"'num_classes' must be a positive int, got {num_classes!r}")
        for name, arr in (("y_true", t), ("y_pred", p)):
            if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
                bad = arr[(arr < 0) | (arr >= num_classes)][0]
                raise ValueError(f"'{name}' contains label {bad} outside [0, num_classes={num_classes})")
        return np.arange(num_classes)
    if labels is not None:
        labels = np.asarray(_arrays.to_numpy(labels, "labels"))
        if labels.ndim != 1 or labels.size == 0:
            raise ValueError(f"'labels' must be a non-empty 1-D list of labels, got shape {labels.shape}")
        return labels
    return np.union1d(t, p)


def _confusion(t, p, labels):
    """Counts with rows = true labels and columns = predictions; samples with other labels are ignored."""
    L = len(labels)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]

    def positions(y):
        pos = np.searchsorted(sorted_labels, y)
        pos_c = np.minimum(pos, L - 1)
        ok = sorted_labels[pos_c] == y
        return order[pos_c], ok

    ti, tok = positions(t)
    pi, pok = positions(p)
    keep = tok & pok
    return np.bincount(ti[keep] * L + pi[keep], minlength=L * L).reshape(L, L).astype(np.int64)


def confusion_matrix(y_true, y_pred, num_classes=None, normalize=None, labels=None):
    """Matrix C with ``C[i, j]`` = number of samples of true class i predicted as class j.

    Classes are ``range(num_classes)`` when given, else ``labels``, else the sorted labels present in
    either input. ``normalize``: None (counts), ``"true"`` (rows sum to 1), ``"pred"`` (columns) or
    ``"all"``; empty rows/columns give 0.
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"'normalize' must be one of None, 'true', 'pred', 'all', got {normalize!r}")
    t, p = _pair(y_true, y_pred)
    cm = _confusion(t, p, _labels_for(t, p, num_classes, labels))
    if normalize is None:
        return cm
    with np.errstate(all="ignore"):
        if normalize == "true":
            cm = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            cm = cm / cm.sum(axis=0, keepdims=True)
        else:
            cm = cm / cm.sum()
    return np.nan_to_num(cm)


def _zero_division_value(zero_division):
    if isinstance(zero_division, str) and zero_division == "warn":
        return 0.0
    if isinstance(zero_division, numbers.Real) and (zero_division in (0, 1) or math.isnan(zero_division)):
        return float(zero_division)
    raise ValueError(f"'zero_division' must be 0, 1, nan or 'warn', got {zero_division!r}")


def _divide(num, den, value):
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    mask = den == 0
    out = num / np.where(mask, 1.0, den)
    out[mask] = value
    return out


def _nanaverage(a, weights=None):
    if a.shape[0] == 0:
        return float("nan")
    mask = np.isnan(a)
    if mask.all():
        return float("nan")
    if weights is None:
        return float(np.mean(a[~mask]))
    a, w = a[~mask], np.asarray(weights, dtype=np.float64)[~mask]
    if w.sum() == 0:
        return float(np.mean(a))
    return float(np.average(a, weights=w))


def precision_recall_f1(y_true, y_pred, average="macro", num_classes=None, labels=None, zero_division=0,
                        pos_label=1, return_support=False, threshold=0.5):
    """Precision, recall and F1 as scikit-learn's ``precision_recall_fscore_support``.

    ``average``: ``"macro"`` (unweighted mean over classes), ``"micro"`` (global counts),
    ``"weighted"`` (mean weighted by support), ``"binary"`` (the ``pos_label`` class only) or
    ``None`` (per-class arrays). A ratio with a zero denominator is ``zero_division`` (0, 1 or
    nan, which averages ignore) — without warnings. Returns ``(precision, recall, f1)``, plus the
    per-class support when ``return_support``.
    """
    if average not in (None, "micro", "macro", "weighted", "binary"):
        raise ValueError(f"'average' must be one of None, 'micro', 'macro', 'weighted', 'binary', got {average!r}")
    zd = _zero_division_value(zero_division)
    t, p = _pair(y_true, y_pred, threshold)
    if average == "binary":
        present = np.union1d(t, p)
        if len(present) > 2:
            raise ValueError(f"average='binary' needs binary targets, found {len(present)} classes: "
                             "choose 'macro', 'micro', 'weighted' or None")
        if pos_label not in present and len(present) >= 2:
            raise ValueError(f"pos_label={pos_label} is not a valid label: it should be one of {present.tolist()}")
        lab = np.asarray([pos_label])
    else:
        lab = _labels_for(t, p, num_classes, labels)
    cm = _confusion(t, p, np.union1d(lab, np.union1d(t, p)))
    all_labels = np.union1d(lab, np.union1d(t, p))
    sel = np.searchsorted(all_labels, lab)
    tp = np.diag(cm)[sel]
    pred_sum = cm.sum(axis=0)[sel]
    true_sum = cm.sum(axis=1)[sel]
    if average == "micro":
        tp, pred_sum, true_sum = (np.array([x.sum()]) for x in (tp, pred_sum, true_sum))
    prec = _divide(tp, pred_sum, zd)
    rec = _divide(tp, true_sum, zd)
    f1 = _divide(2 * tp, true_sum + pred_sum, zd)
    if average is None:
        return (prec, rec, f1, true_sum) if return_support else (prec, rec, f1)
    weights = true_sum if average == "weighted" else None
    out = (_nanaverage(prec, weights), _nanaverage(rec, weights), _nanaverage(f1, weights))
    return out + (None,) if return_support else out


def precision(y_true, y_pred, average="macro", **kwargs):
    return precision_recall_f1(y_true, y_pred, average=average, **kwargs)[0]


def recall(y_true, y_pred, average="macro", **kwargs):
    return precision_recall_f1(y_true, y_pred, average=average, **kwargs)[1]


def f1_score(y_true, y_pred, average="macro", **kwargs):
    return precision_recall_f1(y_true, y_pred, average=average, **kwargs)[2]


def classification_report(y_true, y_pred, target_names=None, digits=2, num_classes=None, labels=None,
                          zero_division=0, output_dict=False):
    """Per-class precision, recall, F1 and support, then accuracy and macro/weighted averages,
    formatted as scikit-learn's ``classification_report`` (or a dict with ``output_dict=True``)."""
    t, p = _pair(y_true, y_pred)
    lab = _labels_for(t, p, num_classes, labels)
    if target_names is not None:
        target_names = [str(n) for n in target_names]
        if len(target_names) != len(lab):
            raise ValueError(f"number of classes, {len(lab)}, does not match size of target_names, "
                             f"{len(target_names)}; pass num_classes or labels")
    else:
        target_names = [str(x) for x in lab.tolist()]
    micro_is_accuracy = set(lab.tolist()) >= set(np.union1d(t, p).tolist())
    prec, rec, f1, support = precision_recall_f1(t, p, average=None, labels=lab, zero_division=zero_division,
                                                 return_support=True)
    headers = ["precision", "recall", "f1-score", "support"]
    rows = list(zip(target_names, prec, rec, f1, support))
    averages = []
    for avg in ("micro", "macro", "weighted"):
        heading = "accuracy" if avg == "micro" and micro_is_accuracy else avg + " avg"
        ap, ar, af = precision_recall_f1(t, p, average=avg, labels=lab, zero_division=zero_division)
        averages.append((heading, ap, ar, af, int(support.sum())))
    if output_dict:
        report = {name: dict(zip(headers, [float(a), float(b), float(c), int(s)])) for name, a, b, c, s in rows}
        for heading, ap, ar, af, s in averages:
            if heading == "accuracy":
                report["accuracy"] = float(af)
            else:
                report[heading] = dict(zip(headers, [float(ap), float(ar), float(af), s]))
        return report
    width = max(max(len(n) for n in target_names), len("weighted avg"), digits)
    head_fmt = "{:>{width}s} " + " {:>9}" * len(headers)
    report = head_fmt.format("", *headers, width=width) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for row in rows:
        report += row_fmt.format(*row, width=width, digits=digits)
    report += "\n"
    for heading, ap, ar, af, s in averages:
        if heading == "accuracy":
            acc_fmt = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
            report += acc_fmt.format(heading, "", "", af, s, width=width, digits=digits)
        else:
            report += row_fmt.format(heading, ap, ar, af, s, width=width, digits=digits)
    return report


def _reg_pair(y_true, y_pred):
    t = _np(y_true, "y_true").astype(np.float64)
    p = _np(y_pred, "y_pred").astype(np.float64)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if t.ndim == 0 or t.ndim > 2:
        raise ValueError(f"'y_true' must have shape (N,) or (N, outputs), got {t.shape}")
    if t.shape != p.shape:
        raise ValueError(f"'y_true' and 'y_pred' must have the same shape, got {t.shape} and {p.shape}")
    if t.shape[0] == 0:
        raise ValueError("'y_true' and 'y_pred' are empty")
    return t, p


def mse(y_true, y_pred):
    """Mean squared error (averaged over outputs for 2-D targets)."""
    t, p = _reg_pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def mae(y_true, y_pred):
    """Mean absolute error (averaged over outputs for 2-D targets)."""
    t, p = _reg_pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true, y_pred):
    """Root mean squared error (per output, then averaged, like scikit-learn)."""
    t, p = _reg_pair(y_true, y_pred)
    return float(np.mean(np.sqrt(np.mean((t - p) ** 2, axis=0))))


def r2(y_true, y_pred):
    """Coefficient of determination R²; a constant target gives 1.0 for a perfect fit, else 0.0."""
    t, p = _reg_pair(y_true, y_pred)
    if t.shape[0] < 2:
        return float("nan")
    num = ((t - p) ** 2).sum(axis=0)
    den = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    num, den = np.atleast_1d(num), np.atleast_1d(den)
    score = np.ones_like(num)
    ok = (den != 0) & (num != 0)
    score[ok] = 1 - num[ok] / den[ok]
    score[(den == 0) & (num != 0)] = 0.0
    return float(np.mean(score))


# ------------------------------------------------------------------------------------- correlation
# scipy.stats' names and results (statistic and two-sided p-value of the t test), without scipy.

class CorrelationResult(tuple):
    """``(statistic, pvalue)``, also readable as ``.statistic`` / ``.correlation`` and ``.pvalue``."""

    def __new__(cls, statistic, pvalue):
        return super().__new__(cls, (statistic, pvalue))

    statistic = property(lambda self: self[0])
    correlation = statistic
    pvalue = property(lambda self: self[1])

    def __repr__(self):
        return f"CorrelationResult(statistic={self[0]!r}, pvalue={self[1]!r})"


def _betainc(a, b, x):
    """The regularised incomplete beta function I_x(a, b) (continued fraction, Numerical Recipes 6.4)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a


def _correlation_pvalue(r, n):
    if n <= 2 or not math.isfinite(r):
        return float("nan")
    if abs(r) >= 1.0:
        return 0.0
    df = n - 2
    t2 = r * r * df / (1.0 - r * r)
    return _betainc(df / 2.0, 0.5, df / (df + t2))


def _paired(x, y, fn):
    x = np.asarray(_np(x, "x"), np.float64).ravel()
    y = np.asarray(_np(y, "y"), np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{fn}: arguments 'x' and 'y' must have the same length, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"{fn}: needs at least 2 pairs, got {x.size}")
    return x, y


def pearsonr(x, y):
    """Pearson's correlation of x and y and its two-sided p-value (``scipy.stats.pearsonr``)."""
    x, y = _paired(x, y, "pearsonr")
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    r = float(xc @ yc) / den if den > 0 else float("nan")
    r = max(-1.0, min(1.0, r)) if math.isfinite(r) else r
    return CorrelationResult(r, _correlation_pvalue(r, x.size))


def rankdata(a):
    """Ranks from 1, ties given their average rank (``scipy.stats.rankdata``'s default)."""
    a = np.asarray(a, np.float64).ravel()
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_a[1:] != sorted_a[:-1], [True]]))
    ranks = np.empty(a.size, np.float64)
    # a tie group at sorted positions s..e-1 shares the mean of the ranks s+1..e
    ranks[order] = np.repeat((starts[:-1] + starts[1:] + 1) / 2.0, np.diff(starts))
    return ranks


def spearmanr(x, y):
    """Spearman's rank correlation (Pearson's on the average ranks) and its two-sided p-value
    (``scipy.stats.spearmanr`` for two 1-D samples)."""
    x, y = _paired(x, y, "spearmanr")
    r = pearsonr(rankdata(x), rankdata(y))
    return CorrelationResult(r.statistic, r.pvalue)


__all__ += ["pearsonr", "spearmanr", "rankdata", "CorrelationResult"]


def roc_auc_score(y_true, y_score):
    """Area under the ROC curve of binary scores (``sklearn.metrics.roc_auc_score`` for two classes).

    ``y_true`` holds two classes (0/1, or -1/1, or bools: the larger value is the positive class);
    ``y_score`` one score per sample, larger meaning more likely positive (probabilities, logits or
    decision values). Computed as the Mann-Whitney statistic: the probability that a random positive
    outranks a random negative, ties counting one half — the trapezoidal area scikit-learn gives.
    """
    t = _np(y_true, "y_true")
    s = _np(y_score, "y_score")
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if t.ndim != 1 or s.ndim != 1 or t.shape[0] != s.shape[0]:
        raise ValueError(f"roc_auc_score: 'y_true' and 'y_score' must be 1-D of the same length, got shapes "
                         f"{t.shape} and {s.shape}")
    s = s.astype(np.float64)
    if not np.all(np.isfinite(s)):
        raise ValueError("roc_auc_score: 'y_score' holds NaN or infinite values")
    classes = np.unique(t)
    if classes.size != 2:
        raise ValueError(f"roc_auc_score: 'y_true' must hold exactly two classes, got {classes.size} "
                         f"({classes[:5].tolist()}); ROC AUC is not defined otherwise")
    positive = t == classes[1]
    n_pos = int(positive.sum())
    n_neg = t.size - n_pos
    rank_sum = float(rankdata(s)[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


__all__.append("roc_auc_score")


# ---- evaluation of generative models ------------------------------------------------------------

def _float64(x, name, ndim=None):
    a = _np(x, name).astype(np.float64, copy=False)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"argument '{name}' must be {ndim}-D, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"argument '{name}' holds NaN or infinite values")
    return a


def _clip_eigenvalues(w):
    """Eigenvalues of a positive semi-definite matrix with rounding noise set to zero: a
    rank-deficient covariance (fewer samples than features) has eigenvalues of about
    +-eps * largest, whose square roots (about 1e-8) would otherwise add up to a visible error."""
    tol = w.size * np.finfo(np.float64).eps * max(float(np.abs(w).max(initial=0.0)), np.finfo(np.float64).tiny)
    return np.where(w > tol, w, 0.0)


def _psd_sqrt(s):
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(_clip_eigenvalues(w))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2) (the FID formula):

        ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

    ``Tr((S1 S2)^(1/2))`` is computed as ``Tr((S1^(1/2) S2 S1^(1/2))^(1/2))``: the inner matrix is
    symmetric positive semi-definite, so both roots come from ``numpy.linalg.eigh`` and stay real,
    where the general ``scipy.linalg.sqrtm`` of the non-symmetric product can return complex
    values for nearly singular covariances. Inputs in float64; returns a Python float.
    """
    mu1 = _float64(mu1, "mu1", 1)
    mu2 = _float64(mu2, "mu2", 1)
    sigma1 = _float64(sigma1, "sigma1", 2)
    sigma2 = _float64(sigma2, "sigma2", 2)
    d = mu1.shape[0]
    if mu2.shape != (d,):
        raise ValueError(f"frechet_distance: 'mu1' and 'mu2' must have the same shape, got {mu1.shape} and {mu2.shape}")
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if s.shape != (d, d):
            raise ValueError(f"frechet_distance: argument '{name}' must have shape ({d}, {d}) to match the means, "
                             f"got {s.shape}")
    root1 = _psd_sqrt(sigma1)
    inner = root1 @ ((sigma2 + sigma2.T) / 2) @ root1
    w = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = float(np.sqrt(_clip_eigenvalues(w)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def feature_statistics(features):
    """Mean and covariance (unbiased, rows are samples: ``numpy.cov(features, rowvar=False)``) of a
    (N, D) feature matrix, as float64 numpy arrays."""
    f = _float64(features, "features", 2)
    if f.shape[0] < 2:
        raise ValueError(f"feature_statistics: argument 'features' needs at least 2 samples (rows) for a "
                         f"covariance, got shape {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance_from_features(real, fake):
    """Fréchet distance between the Gaussians fitted to two (N, D) feature matrices (rows are
    samples), for example a classifier's penultimate-layer activations of real and generated images."""
    r = _float64(real, "real", 2)
    f = _float64(fake, "fake", 2)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"frechet_distance_from_features: 'real' and 'fake' must have the same number of "
                         f"features (columns), got shapes {r.shape} and {f.shape}")
    for name, a in (("real", r), ("fake", f)):
        if a.shape[0] < 2:
            raise ValueError(f"frechet_distance_from_features: argument '{name}' needs at least 2 samples (rows), "
                             f"got shape {a.shape}")
    return frechet_distance(*feature_statistics(r), *feature_statistics(f))


def _probabilities(probs, name="probs"):
    p = _float64(probs, name, 2)
    if p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"argument '{name}' must be a non-empty (N, C) matrix of class probabilities, got shape {p.shape}")
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"argument '{name}' must hold probabilities in [0, 1]; apply softmax to logits first")
    sums = p.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-3):  # loose enough for float16/float32 softmax outputs
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"argument '{name}': each row must sum to 1 (class probabilities), row {worst} sums to "
                         f"{sums[worst]:.6g}; apply softmax to logits first")
    return p


class InceptionScoreResult(tuple):
    """``(mean, std)`` of the Inception score over the splits (the standard definition's return
    value); ``float(result)`` and ``result.mean`` give the mean."""

    def __new__(cls, mean, std):
        return super().__new__(cls, (float(mean), float(std)))

    @property
    def mean(self):
        return self[0]

    @property
    def std(self):
        return self[1]

    def __float__(self):
        return self[0]


def inception_score(probs, splits=1):
    """Inception score ``exp(E_x[KL(p(y|x) || p(y))])`` of an (N, C) matrix of class probabilities
    p(y|x) given by a classifier to N generated samples.

    High when each sample is confidently one class (sharp p(y|x)) *and* the classes are varied
    (flat marginal p(y)); ranges from 1 to C. As in the standard definition the samples are cut
    into ``splits`` consecutive parts of N // splits rows (the remainder is dropped), each part
    uses its own marginal, and the mean and standard deviation over the parts are returned.
    """
    p = _probabilities(probs)
    if isinstance(splits, bool) or not isinstance(splits, numbers.Integral) or not 1 <= splits <= p.shape[0]:
        raise ValueError(f"inception_score: argument 'splits' must be an integer in [1, N={p.shape[0]}], got {splits!r}")
    size = p.shape[0] // splits
    scores = []
    for k in range(splits):
        part = p[k * size:(k + 1) * size]
        marginal = part.mean(axis=0)
        # 0 * log 0 = 0, as scipy.stats.entropy defines the KL divergence
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(math.exp(terms.sum(axis=1).mean()))
    return InceptionScoreResult(np.mean(scores), np.std(scores))


def mean_max_probability(probs):
    """Mean over the samples of the largest class probability: how confidently a classifier puts
    each (generated) sample in one class. It says nothing of diversity: one confidently classified
    image repeated scores high too, hence ``inception_score`` beside it."""
    return float(_probabilities(probs).max(axis=1).mean())


def psnr(x, y, data_range=1.0):
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE(x, y))`` in decibels, over all
    elements (scikit-image's ``peak_signal_noise_ratio`` with ``data_range``); ``inf`` for identical
    inputs. ``data_range`` is the span of possible values: 1.0 for images in [0, 1], 255 for uint8."""
    a = _float64(x, "x")
    b = _float64(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"psnr: 'x' and 'y' must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("psnr: 'x' and 'y' are empty")
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real) or not data_range > 0:
        raise ValueError(f"psnr: argument 'data_range' must be a positive number, got {data_range!r}")
    err = float(np.mean((a - b) ** 2))
    if err == 0.0:
        return float("inf")
    return float(10.0 * math.log10(float(data_range) ** 2 / err))


__all__ += ["frechet_distance", "frechet_distance_from_features", "feature_statistics", "inception_score",
            "InceptionScoreResult", "mean_max_probability", "psnr"]
