"""A first look at an image data set before training: class counts, per-channel statistics, sizes.

``describe(x, y)`` returns a ``DatasetReport``; ``print(report)`` shows it as tables and
``report.plot()`` draws the class counts and a grid of sample images (matplotlib, optional).
"""
from __future__ import annotations

import collections
import os

import numpy as np

from .._atomic import atomic_path
from . import _arrays

__all__ = ["describe", "DatasetReport", "plot_report"]


def _images_from(x, channels_last, what="describe"):
    """A list of (C, H, W) arrays, or one (N, C, H, W) array, from what the user passed."""
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError(f"{what}: argument 'x' is an empty sequence")
        out = []
        for i, im in enumerate(x):
            a = _arrays.to_numpy(im, f"x[{i}]")
            if a.ndim == 2:
                a = a[None]
            elif a.ndim == 3 and channels_last:
                a = a.transpose(2, 0, 1)
            elif a.ndim != 3:
                raise ValueError(f"{what}: argument 'x[{i}]' must be an image (H, W) or (C, H, W), "
                                 f"got shape {a.shape}")
            if a.dtype.kind not in "biuf":
                raise TypeError(f"{what}: argument 'x[{i}]' must hold numbers, got dtype {a.dtype}")
            out.append(a)
        return out
    a = _arrays.to_numpy(x, "x")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what}: argument 'x' must hold numbers, got dtype {a.dtype}")
    if a.ndim == 4:
        return a.transpose(0, 3, 1, 2) if channels_last else a
    if a.ndim == 3:
        return a[:, None]  # (N, H, W): one channel
    if a.ndim == 2:
        return a[:, None, None, :]  # (N, D): flat samples, described as one channel of D values
    raise ValueError(f"{what}: argument 'x' must have shape (N, C, H, W), (N, H, W) or (N, D), or be a list "
                     f"of images; got shape {a.shape}")


def _median(values):
    """Exact median; integer data of small range goes through a histogram, which is much faster."""
    if values.size == 0:
        return float("nan")
    if values.dtype.kind in "bu" and values.dtype.itemsize <= 2:
        counts = np.cumsum(np.bincount(values.ravel()))
        n = counts[-1]
        lo = np.searchsorted(counts, (n - 1) // 2, side="right")
        hi = np.searchsorted(counts, n // 2, side="right")
        return (lo + hi) / 2.0
    return float(np.median(values))


class DatasetReport:
    """What ``describe`` found. Attributes:

    ``n_samples``; ``dtypes`` (dtype name -> number of samples); ``sizes`` ((H, W) -> number of
    samples); ``channels`` (C -> number of samples); ``channel_stats`` (one dict per channel with
    mean, std, median, min, max); ``nonfinite`` (count of NaN/inf values); ``class_counts``
    (label -> count, sorted by label) and ``class_names`` (label -> name); ``class_stats`` (label ->
    mean and std of the pixel values of that class); ``warnings`` (plain-language findings:
    mixed sizes, mixed channel counts, class imbalance, NaNs...).
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def to_dict(self):
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    @property
    def imbalance(self):
        """Largest class count divided by the smallest (1.0 is perfectly balanced), or None without labels."""
        if not self.class_counts:
            return None
        counts = list(self.class_counts.values())
        return max(counts) / max(min(counts), 1)

    def __str__(self):
        lines = [f"{self.n_samples} samples"]
        lines.append("dtype: " + ", ".join(f"{k} ({v})" for k, v in self.dtypes.items()))
        lines.append("image sizes (H x W): " + ", ".join(
            f"{h}x{w} ({c})" for (h, w), c in sorted(self.sizes.items(), key=lambda kv: -kv[1])))
        lines.append("channels: " + ", ".join(f"{k} ({v})" for k, v in sorted(self.channels.items())))
        lines.append("")
        head = f"{'channel':>8} {'mean':>10} {'std':>10} {'median':>10} {'min':>10} {'max':>10}"
        lines += [head, "-" * len(head)]
        for s in self.channel_stats:
            lines.append(f"{s['channel']:>8} {s['mean']:>10.4g} {s['std']:>10.4g} {s['median']:>10.4g} "
                         f"{s['min']:>10.4g} {s['max']:>10.4g}")
        if self.class_counts:
            lines.append("")
            width = max([5] + [len(str(self.class_names.get(k, k))) for k in self.class_counts])
            head = f"{'label':>5} {'class':<{width}} {'count':>7} {'share':>7} {'mean':>10} {'std':>10}"
            lines += [head, "-" * len(head)]
            total = sum(self.class_counts.values())
            for k, c in self.class_counts.items():
                st = self.class_stats.get(k, {})
                lines.append(f"{k!s:>5} {self.class_names.get(k, k)!s:<{width}} {c:>7} {c / total:>7.1%} "
                             f"{st.get('mean', float('nan')):>10.4g} {st.get('std', float('nan')):>10.4g}")
            lines.append(f"imbalance (largest / smallest class): {self.imbalance:.2f}")
        if self.warnings:
            lines.append("")
            lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self):
        return (f"DatasetReport(n_samples={self.n_samples}, sizes={self.sizes}, "
                f"classes={len(self.class_counts)})")

    def plot(self, path=None, samples_per_class=8):
        """Class counts as bars and a grid of sample images (one row per class); saved as PNG at
        ``path`` when given. Returns the matplotlib figure."""
        return plot_report(self, path, samples_per_class)


def describe(x, y=None, class_names=None, channels_last=False):
    """Statistics of an image data set: per-class counts, per-channel mean/std/median/min/max,
    image sizes, channel counts, dtypes, and warnings about what needs preparing before training.

    ``x``: (N, C, H, W) (or (N, H, W, C) with ``channels_last=True``), (N, H, W), (N, D), or a
    list of images of possibly different sizes; numpy arrays or Tensors. ``y``: N labels.
    ``class_names``: a list indexed by label, or a dict label -> name.
    """
    images = _images_from(x, channels_last)
    n = len(images)
    if isinstance(images, list):
        sizes = collections.Counter(a.shape[1:] for a in images)
        channels = collections.Counter(a.shape[0] for a in images)
        dtypes = collections.Counter(str(a.dtype) for a in images)
        n_channels = max(channels)
        per_channel = [np.concatenate([a[c].ravel() for a in images if a.shape[0] > c]) for c in range(n_channels)]
        sample_means = np.array([a.mean(dtype=np.float64) for a in images])
        sample_sq = np.array([np.square(a, dtype=np.float64).mean() for a in images])
    else:
        sizes = collections.Counter({tuple(int(s) for s in images.shape[2:]): n})
        channels = collections.Counter({int(images.shape[1]): n})
        dtypes = collections.Counter({str(images.dtype): n})
        per_channel = [images[:, c] for c in range(images.shape[1])]
        sample_means = images.reshape(n, -1).mean(axis=1, dtype=np.float64) if n else np.zeros(0)
        sample_sq = np.square(images.reshape(n, -1), dtype=np.float64).mean(axis=1) if n else np.zeros(0)
    channel_stats = []
    nonfinite = 0
    for c, v in enumerate(per_channel):
        v = np.asarray(v)
        if v.dtype.kind == "f":
            finite = np.isfinite(v)
            bad = int(v.size - np.count_nonzero(finite))
            nonfinite += bad
            if bad:
                v = v[finite]
        if v.size == 0:
            channel_stats.append(dict(channel=c, mean=float("nan"), std=float("nan"), median=float("nan"),
                                      min=float("nan"), max=float("nan")))
            continue
        channel_stats.append(dict(channel=c, mean=float(v.mean(dtype=np.float64)), std=float(v.std(dtype=np.float64)),
                                  median=_median(v), min=float(v.min()), max=float(v.max())))

    class_counts, class_stats, names = {}, {}, {}
    if y is not None:
        labels = np.asarray(_arrays.to_numpy(y, "y")).reshape(-1)
        if labels.shape[0] != n:
            raise ValueError(f"describe: argument 'y' must hold one label per sample ({n}), got {labels.shape[0]}")
        uniq, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        keys = [k.item() if hasattr(k, "item") else k for k in uniq]
        class_counts = dict(zip(keys, (int(c) for c in counts)))
        # per-class pixel mean/std from per-sample moments (equal-size samples weigh the same)
        m1 = np.bincount(inverse, weights=sample_means) / counts
        m2 = np.bincount(inverse, weights=sample_sq) / counts
        for k, a, b in zip(keys, m1, m2):
            class_stats[k] = {"mean": float(a), "std": float(np.sqrt(max(b - a * a, 0.0)))}
        if class_names is not None:
            if isinstance(class_names, dict):
                names = {k: str(class_names[k]) for k in keys if k in class_names}
            else:
                class_names = list(class_names)
                for k in keys:
                    if isinstance(k, (int, np.integer)) and 0 <= k < len(class_names):
                        names[k] = str(class_names[k])
    warnings = []
    if len(sizes) > 1:
        warnings.append(f"images have {len(sizes)} different sizes; resize them to one size (e.g. Resize) "
                        "before batching")
    if len(channels) > 1:
        warnings.append(f"images have different channel counts {sorted(channels)}; convert them "
                        "(e.g. Grayscale) to one format")
    if nonfinite:
        warnings.append(f"{nonfinite} NaN or infinite values")
    if class_counts and len(class_counts) > 1:
        ratio = max(class_counts.values()) / max(min(class_counts.values()), 1)
        if ratio > 1.5:
            small = min(class_counts, key=class_counts.get)
            warnings.append(f"classes are imbalanced (largest/smallest = {ratio:.1f}; smallest: "
                            f"{names.get(small, small)}); consider augmentation, class weights or resampling")
    for s in channel_stats:
        if s["std"] == 0:
            warnings.append(f"channel {s['channel']} is constant ({s['mean']:g})")
    report = DatasetReport(n_samples=n, dtypes=dict(dtypes), sizes=dict(sizes), channels=dict(channels),
                           channel_stats=channel_stats, nonfinite=nonfinite, class_counts=class_counts,
                           class_names=names, class_stats=class_stats, warnings=warnings)
    report._images, report._labels = images, (None if y is None else labels)
    return report


def _display(img):
    """(C, H, W) -> what imshow takes: (H, W) grey or (H, W, 3) colour scaled to 0..1."""
    a = np.asarray(img, dtype=np.float64)
    a = a[0] if a.shape[0] == 1 else a[:3].transpose(1, 2, 0)
    lo, hi = np.nanmin(a), np.nanmax(a)
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def plot_report(report, path=None, samples_per_class=8):
    """Figure with the class-count bar chart (when labels were given) and a sample grid."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError("DatasetReport.plot needs matplotlib: pip install matplotlib") from exc
    images, labels = report._images, report._labels
    if labels is not None and report.class_counts:
        keys = list(report.class_counts)
        rows = [np.flatnonzero(labels == k)[:samples_per_class] for k in keys]
    else:
        keys = [None]
        rows = [np.arange(min(len(images), samples_per_class))]
    n_rows = len(rows)
    figsize = (4 + 1.1 * samples_per_class, max(3.0, 1.1 * n_rows))
    if path is None:  # for interactive use: a pyplot figure that shows in notebooks
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=figsize)
    else:  # a figure on an Agg canvas: no pyplot state, no window, whatever the backend
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
    grid = fig.add_gridspec(n_rows, samples_per_class + 4)
    if keys[0] is not None:
        ax = fig.add_subplot(grid[:, :3])
        names = [str(report.class_names.get(k, k)) for k in keys]
        ax.barh(range(len(keys)), [report.class_counts[k] for k in keys], color="tab:blue")
        ax.set_yticks(range(len(keys)), names)
        ax.invert_yaxis()
        ax.set_xlabel("samples")
        ax.set_title("class counts")
    for r, idx in enumerate(rows):
        for j, i in enumerate(idx):
            ax = fig.add_subplot(grid[r, 4 + j])
            ax.imshow(_display(images[i]), cmap="gray", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0 and keys[r] is not None:
                ax.set_ylabel(str(report.class_names.get(keys[r], keys[r])), rotation=0, ha="right", fontsize=8)
    fig.suptitle(f"{report.n_samples} samples")
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path, dpi=100):
    """Save a matplotlib figure as PNG under a temporary name, then rename it to ``path``."""
    path = os.fspath(path)
    with atomic_path(path, makedirs=True) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
    return path
