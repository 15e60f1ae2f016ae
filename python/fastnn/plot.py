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
           "new_figure", "plot_embedding", "plot_graph", "graph_layout"]


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


def _graph_edges(data_or_edges, num_nodes):
    """(edges (2, E) int64, num_nodes, edge weights or None) from a Data, an edge_index or a list of pairs."""
    from .data import _arrays
    weight = None
    if hasattr(data_or_edges, "edge_index"):  # a fastnn.graph.Data (or anything shaped like one)
        data = data_or_edges
        edges = data.edge_index
        if num_nodes is None:
            num_nodes = data.num_nodes
        weight = getattr(data, "edge_weight", None)
    else:
        edges = data_or_edges
    edges = np.asarray(_arrays.to_numpy(edges, "data_or_edges"))
    if edges.size == 0:
        edges = edges.reshape(2, 0)
    if edges.ndim == 2 and edges.shape[1] == 2 and edges.shape[0] != 2:  # a list of (u, v) pairs
        edges = edges.T
    if edges.ndim != 2 or edges.shape[0] != 2 or edges.dtype.kind not in "iu":
        raise ValueError(f"plot_graph: 'data_or_edges' must be a Data, an integer edge_index of shape (2, E) or "
                         f"(u, v) pairs, got shape {edges.shape} of dtype {edges.dtype}")
    edges = edges.astype(np.int64)
    n = int(edges.max()) + 1 if num_nodes is None and edges.size else int(num_nodes or 0)
    if edges.size and (edges.min() < 0 or edges.max() >= n):
        raise ValueError(f"plot_graph: edge indices must lie in [0, {n}) for {n} nodes, got "
                         f"[{edges.min()}, {edges.max()}]")
    if weight is not None:
        weight = np.asarray(_arrays.to_numpy(weight, "edge_weight"), np.float64).reshape(-1)
        if weight.shape[0] != edges.shape[1]:
            weight = None
    return edges, n, weight


def graph_layout(data_or_edges, num_nodes=None, seed=0):
    """2-D node positions (num_nodes, 2) for drawing a graph: networkx's spring layout when networkx is
    installed, else the spectral layout (the Laplacian's 2nd and 3rd eigenvectors), computed here."""
    edges, n, _ = _graph_edges(data_or_edges, num_nodes)
    try:
        import networkx as nx
    except ImportError:
        nx = None
    if nx is not None:
        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from(edges.T.tolist())
        pos = nx.spring_layout(g, seed=seed)
        return np.array([pos[i] for i in range(n)], np.float64).reshape(n, 2)
    a = np.zeros((n, n))
    a[edges[0], edges[1]] = 1.0
    a = np.maximum(a, a.T)
    np.fill_diagonal(a, 0.0)
    lap = np.diag(a.sum(1)) - a
    _, vectors = np.linalg.eigh(lap)
    pos = np.zeros((n, 2))
    take = vectors[:, 1:3]
    pos[:, :take.shape[1]] = take
    return pos


def plot_graph(data_or_edges, path, node_color=None, pos=None, num_nodes=None, class_names=None, marked=None,
               marked_label="marked", labels=None, title=None, cmap="tab10", node_size=120, seed=0):
    """Draw a graph: nodes at ``pos`` (default :func:`graph_layout`), edges as lines (wider for larger
    ``edge_weight`` when a Data carries one).

    ``data_or_edges`` is a ``fastnn.graph.Data``, an edge_index (2, E) or (u, v) pairs (then
    ``num_nodes`` defaults to the largest index + 1). ``node_color``: one value per node — integers
    are classes (named in the legend by ``class_names``), floats a colour scale with a colour bar —
    or one matplotlib colour. ``marked``: node indices drawn with a thick black outline (e.g. the
    labelled training nodes), named ``marked_label`` in the legend. ``labels``: text per node
    (default: the node ids up to 40 nodes). Returns the path.
    """
    from .data import _arrays
    edges, n, weight = _graph_edges(data_or_edges, num_nodes)
    pos = graph_layout(edges, n, seed=seed) if pos is None else np.asarray(_arrays.to_numpy(pos, "pos"), np.float64)
    if pos.shape != (n, 2):
        raise ValueError(f"plot_graph: 'pos' must have shape ({n}, 2) for {n} nodes, got {pos.shape}")
    fig = new_figure(figsize=(7, 6))
    ax = fig.add_subplot(1, 1, 1)
    if edges.shape[1]:
        from matplotlib.collections import LineCollection
        widths = 0.8 if weight is None else 0.5 + 2.5 * weight / max(float(weight.max()), 1e-12)
        ax.add_collection(LineCollection(pos[edges.T], colors="0.6", linewidths=widths, zorder=1))
    outline = np.zeros(n, bool)
    if marked is not None:
        marked = np.asarray(_arrays.to_numpy(marked, "marked")).reshape(-1)
        outline[marked.astype(bool) if marked.dtype == bool else marked.astype(np.int64)] = True
    colors = None if node_color is None or isinstance(node_color, str) else \
        np.asarray(_arrays.to_numpy(node_color, "node_color")).reshape(-1)
    if colors is not None and colors.shape[0] != n:
        raise ValueError(f"plot_graph: 'node_color' must hold one value per node ({n}), got {colors.shape[0]}")
    style = dict(s=node_size, edgecolors="white", linewidths=0.5, zorder=2)
    if colors is not None and colors.dtype.kind in "iub":
        import matplotlib
        palette = matplotlib.colormaps[cmap]
        for c in np.unique(colors):
            sel = colors == c
            name = class_names[int(c)] if class_names is not None else str(c)
            ax.scatter(pos[sel, 0], pos[sel, 1], color=palette(int(c) % palette.N), label=name, **style)
    elif colors is not None:
        sc = ax.scatter(pos[:, 0], pos[:, 1], c=colors.astype(np.float64), cmap="viridis", **style)
        fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.04)
    else:
        ax.scatter(pos[:, 0], pos[:, 1], color=node_color or "tab:blue", **style)
    if outline.any():
        ax.scatter(pos[outline, 0], pos[outline, 1], s=node_size * 1.6, facecolors="none", edgecolors="black",
                   linewidths=1.8, zorder=2.5, label=marked_label)
    if labels is None and n <= 40:
        labels = range(n)
    if labels is not None:
        for (px, py), text in zip(pos, labels):
            ax.annotate(str(text), (px, py), ha="center", va="center", fontsize=7, zorder=3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    ax.set_axis_off()
    ax.autoscale_view()
    if title:
        ax.set_title(title)
    return save_figure(fig, path)
