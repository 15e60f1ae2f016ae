"""PNG plots for training follow-up: curves from a History, confusion-matrix heatmaps, fitted curves.

matplotlib is optional (``pip install matplotlib``); figures are drawn with the Agg canvas directly,
so no GUI backend is touched and pyplot's global state is left alone. Every file is written to a
temporary name and renamed.
"""
from __future__ import annotations

import os

import numpy as np

from ._atomic import atomic_path

__all__ = ["available", "plot_history", "plot_confusion_matrix", "plot_curves", "plot_scatter_fit", "save_figure",
           "new_figure"]


def available() -> bool:
    """Whether matplotlib is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def new_figure(figsize=(6.4, 4.8), dpi=100):
    """A matplotlib Figure on an Agg canvas (no pyplot, no window)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("fastnn.plot needs matplotlib: pip install matplotlib") from exc
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path):
    """Write ``fig`` as PNG to ``path`` atomically (folder created); returns the path."""
    path = os.fspath(path)
    with atomic_path(path, makedirs=True) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return path


def _history_dict(history):
    h = getattr(history, "history", history)
    if not isinstance(h, dict):
        raise TypeError(f"plot_history: 'history' must be a History or its .history dict, got {type(history).__name__}")
    return h


def plot_history(history, path, keys=None, title=None):
    """Training curves: one panel per quantity (``loss``, each metric), training and validation
    together; ``lr`` in its own log-scale panel when it changes. Returns the path."""
    h = _history_dict(history)
    if keys is None:
        keys = [k for k in h if not k.startswith("val_") and k != "lr"]
        if "lr" in h and len(set(h["lr"])) > 1:
            keys.append("lr")
    if not keys:
        raise ValueError(f"plot_history: nothing to plot (keys {sorted(h)})")
    fig = new_figure(figsize=(4.2 * len(keys), 3.6))
    def epochs(k):
        # a History knows the epochs of each key (validation every k epochs logs fewer values)
        return np.asarray(history.epochs_of(k)) + 1 if hasattr(history, "epochs_of") else np.arange(1, len(h[k]) + 1)

    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        ax.plot(epochs(key), h[key], label=f"train {key}" if key != "lr" else "lr")
        if "val_" + key in h:
            ax.plot(epochs("val_" + key), h["val_" + key], marker="o" if len(h["val_" + key]) < len(h[key]) else None,
                    label=f"val {key}")
        if key == "lr":
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_confusion_matrix(cm, path, class_names=None, normalize=False, title="Confusion matrix", cmap="Blues"):
    """Heatmap of a confusion matrix (rows: true class, columns: predicted) with the counts written
    in the cells; ``normalize=True`` shows row fractions. Returns the path."""
    from .data import _arrays
    cm = np.asarray(_arrays.to_numpy(cm, "cm"), dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: 'cm' must be a square matrix, got shape {cm.shape}")
    n = cm.shape[0]
    if class_names is not None and len(class_names) != n:
        raise ValueError(f"plot_confusion_matrix: {len(class_names)} class names for a {n}x{n} matrix")
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    size = max(4.0, 0.5 * n + 2)
    fig = new_figure(figsize=(size + 1, size))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(shown, cmap=cmap)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(names, rotation=45 if max(len(s) for s in names) > 3 else 0, ha="right")
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 30:
        vmax = shown.max() if shown.size else 0
        for i in range(n):
            for j in range(n):
                text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if shown[i, j] > vmax / 2 else "black")
    return save_figure(fig, path)


def plot_curves(series, path, xlabel="epoch", ylabel="", title=None, logy=False, x=None):
    """Several named curves on one axis: ``series`` maps a label to a sequence of values."""
    if not series:
        raise ValueError("plot_curves: 'series' is empty")
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, ys in series.items():
        ys = np.asarray(ys, dtype=np.float64)
        xs = np.arange(1, len(ys) + 1) if x is None else np.asarray(x)
        ax.plot(xs, ys, label=str(label))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def plot_scatter_fit(x, y, curves, path, title=None, xlabel="x", ylabel="y", x_test=None, y_test=None, ylim=None):
    """Data points and fitted curves: ``curves`` maps a label to ``(xs, ys)``; ``ylim`` an optional (low, high)."""
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(np.asarray(x), np.asarray(y), s=14, alpha=0.7, label="train")
    if x_test is not None:
        ax.scatter(np.asarray(x_test), np.asarray(y_test), s=14, alpha=0.7, marker="x", label="test")
    for label, (xs, ys) in curves.items():
        ax.plot(np.asarray(xs), np.asarray(ys), label=str(label))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def plot_embedding(points, labels, path, groups=None, title=None, xlabel="PC 1", ylabel="PC 2"):
    """Labelled points in 2-D (e.g. a PCA projection of word vectors); ``groups`` (one name per point)
    colours them."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(labels) != len(points):
        raise ValueError(f"plot_embedding: 'points' must be (n, 2) with one label each, got {points.shape} and "
                         f"{len(labels)} labels")
    fig = new_figure(figsize=(7.5, 6))
    ax = fig.add_subplot(1, 1, 1)
    names = list(dict.fromkeys(groups)) if groups is not None else [None]
    for name in names:
        sel = [i for i in range(len(points)) if groups is None or groups[i] == name]
        ax.scatter(points[sel, 0], points[sel, 1], s=18, label=name)
    for (px, py), text in zip(points, labels):
        ax.annotate(str(text), (px, py), textcoords="offset points", xytext=(3, 3), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if groups is not None:
        ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return save_figure(fig, path)
