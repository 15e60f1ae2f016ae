"""Evaluation of image generators without any download: ``ImageEvaluator`` trains a small CNN
classifier here, on real images of the data set the generator learns, and scores generated samples
with it.

The scores (the usual ones, computed with this classifier in place of Inception-v3):

- ``confidence``: mean max-probability (``fastnn.metrics.mean_max_probability``): how surely each
  sample looks like one class;
- ``inception_score``: ``exp E_x[KL(p(y|x) || p(y))]`` (``fastnn.metrics.inception_score``): high
  only when samples are confident *and* varied (a constant grey image can be confidently one class,
  its inception score is 1);
- ``frechet_distance``: the Fréchet distance between Gaussians fitted to the classifier's
  penultimate-layer features of the samples and of real images the classifier never trained on
  (``fastnn.metrics.frechet_distance``), 0 for the real distribution itself;
- ``class_counts``: how many samples fall in each predicted class (mode collapse shows here).

These numbers compare generators scored by the *same* evaluator (same data, same seed); they are
not comparable with FID/IS figures computed with Inception-v3 on ImageNet features.
"""
from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np

from .. import metrics as _metrics
from .. import nn
from ..creation import ones, zeros
from ..data import _arrays

__all__ = ["ImageEvaluator", "EvaluatorCNN"]

_FORMAT = "fastnn.ImageEvaluator"
_VERSION = 1


class EvaluatorCNN(nn.Module):
    """The evaluator's classifier: 3x3 convolutions (padding 1, ``strides[i]`` 1 or 2) each followed
    by ReLU, flattened into a ``feature_dim`` ReLU layer — the penultimate layer, returned by
    :meth:`features` — then dropout and a linear layer to the class logits. Strided convolutions
    rather than pooling, and no batch norm, keep a training step cheap on a CPU.

    Raw images go in: they are standardised inside with the training pixels' mean and std (the
    ``mean``/``std`` buffers), so ``features``/``forward`` take images in the generator's value range.
    """

    def __init__(self, in_channels, height, width, num_classes, widths, strides, feature_dim, dropout=0.3):
        super().__init__()
        if len(widths) != len(strides):
            raise ValueError(f"EvaluatorCNN: 'widths' and 'strides' must have the same length, got {len(widths)} "
                             f"and {len(strides)}")
        self.register_buffer("mean", zeros(()))
        self.register_buffer("std", ones(()))
        layers, c, h, w = [], in_channels, height, width
        for out, stride in zip(widths, strides):
            layers += [nn.Conv2d(c, out, 3, stride=stride, padding=1), nn.ReLU()]
            h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
            c = out
        layers += [nn.Flatten(), nn.Linear(c * h * w, feature_dim), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x):
        """Penultimate-layer activations (N, feature_dim) of raw images x (N, C, H, W)."""
        return self.body((x - self.mean) / self.std)

    def forward(self, x):
        return self.head(self.dropout(self.features(x)))


def _architecture(shape, num_classes, feature_dim):
    """Layers sized from the image: enough stride-2 convolutions to bring the smaller side to 4..7
    pixels (8x8 digits: one, 28x28: two), preceded by a stride-1 one on small images so that they
    get two convolutions too."""
    c, h, w = shape
    halvings, side = 0, min(h, w)
    while side > 7 and halvings < 4:
        side = (side - 1) // 2 + 1
        halvings += 1
    strides = [2] * halvings
    if halvings < 2:
        strides = [1] + strides
    widths = [min(32 * 2 ** i, 128) for i in range(len(strides))]
    if feature_dim is None:
        feature_dim = 64 if min(h, w) < 16 else 128
    return dict(in_channels=c, height=h, width=w, num_classes=num_classes, widths=widths, strides=strides,
                feature_dim=int(feature_dim), dropout=0.3)


def _images(x, name, what):
    """A float (N, C, H, W) numpy array from an array/tensor, with a clear error otherwise."""
    try:
        a = _arrays.to_numpy(x, name)
    except TypeError:
        raise TypeError(f"{what}: argument '{name}' must be a numpy array or a Tensor of images (N, C, H, W), got "
                        f"{type(x).__name__}") from None
    a = np.asarray(a)
    if a.ndim != 4:
        raise ValueError(f"{what}: argument '{name}' must be a batch of images (N, C, H, W), got shape {a.shape}")
    if a.dtype.kind != "f":
        raise ValueError(f"{what}: argument '{name}' must hold floating-point pixels (in the value range the "
                         f"generator produces, e.g. uint8 images divided by 255), got dtype {a.dtype} with shape "
                         f"{a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: argument '{name}' holds NaN or infinite pixels")
    return np.ascontiguousarray(a, dtype=np.float32)


def _positive_int(v, name, what, allow_none=False):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{what}: argument '{name}' must be a positive int, got {v!r}")
    return int(v)


class ImageEvaluator:
    """A small CNN classifier trained on real images, used to score images from a generator.

    ``ImageEvaluator(images, labels)`` keeps ``test_size`` of the images aside (stratified by
    class), trains the classifier on the rest with fastnn's ``fit`` (AdamW, one-cycle learning
    rate, random shifts of up to ``H // 14 + 1`` pixels), then records its accuracy on the kept-aside
    part (``test_accuracy``) and the mean and covariance of the kept-aside images' penultimate
    features (``real_statistics``), against which :meth:`score` measures the Fréchet distance.

    ``images``: real images (N, C, H, W), floating point, in the value range the generator produces
    (for example [0, 1], or [-1, 1] for a tanh output), H and W at least 8; ``labels``: their class
    indices 0..K-1 (N,). ``epochs`` defaults to a number giving about 1000 training steps (at least
    4, at most 30 epochs). The same ``seed`` gives the same classifier and scores.

    Attributes: ``classifier`` (an ``nn.Module`` in eval mode; ``classifier.features(x)`` gives the
    penultimate layer), ``test_accuracy``, ``real_statistics`` ((mu, sigma) as float64 arrays),
    ``num_classes``, ``image_shape`` ((C, H, W)), ``test_indices`` (indices into ``images`` of the
    kept-aside part), ``history`` (fit's History; None after :meth:`load`), ``seconds`` (training time).
    :meth:`save` / :meth:`load` store and restore everything but ``history``.
    """

    def __init__(self, images, labels, *, epochs=None, seed=0, batch_size=64, verbose=0, test_size=0.2,
                 feature_dim=None, lr=3e-3, augment=True, device=None):
        what = "ImageEvaluator"
        x = _images(images, "images", what)
        y = np.asarray(_arrays.to_numpy(labels, "labels"))
        if y.ndim != 1 or y.dtype.kind not in "iub":
            raise ValueError(f"{what}: argument 'labels' must be a 1-D array of integer class indices, got shape "
                             f"{y.shape} and dtype {y.dtype}")
        if len(y) != len(x):
            raise ValueError(f"{what}: 'images' has {len(x)} images (shape {x.shape}) but 'labels' has {len(y)} "
                             "labels")
        if x.shape[2] < 8 or x.shape[3] < 8:
            raise ValueError(f"{what}: images must be at least 8x8 pixels, got shape {x.shape} for 'images'")
        y = y.astype(np.int64)
        if len(y) and y.min() < 0:
            raise ValueError(f"{what}: argument 'labels' must hold class indices >= 0, got {int(y.min())}")
        if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0 < test_size < 1:
            raise ValueError(f"{what}: argument 'test_size' must be a fraction in (0, 1), got {test_size!r}")
        batch_size = _positive_int(batch_size, "batch_size", what)
        epochs = _positive_int(epochs, "epochs", what, allow_none=True)
        feature_dim = _positive_int(feature_dim, "feature_dim", what, allow_none=True)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"{what}: argument 'lr' must be a positive number, got {lr!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"{what}: argument 'seed' must be an int, got {seed!r}")
        num_classes = int(y.max()) + 1 if len(y) else 0
        counts = np.bincount(y, minlength=num_classes)
        if num_classes < 2 or np.count_nonzero(counts) < 2:
            raise ValueError(f"{what}: 'labels' must hold at least 2 classes, got {np.count_nonzero(counts)}")
        if counts[counts > 0].min() < 2:
            raise ValueError(f"{what}: each class in 'labels' needs at least 2 images (one to train on, one to "
                             f"keep aside), class {int(np.flatnonzero(counts == 1)[0])} has 1")

        from .. import manual_seed, optim
        from ..random import fork_rng
        from ..data.split import train_test_indices
        from ..data.transforms import RandomCrop
        from .loop import fit
        from .vision import _Augmented

        train_idx, test_idx = train_test_indices(len(x), test_size=test_size, stratify=y, seed=int(seed))
        if len(test_idx) < 2:
            raise ValueError(f"{what}: 'test_size'={test_size} keeps {len(test_idx)} image(s) aside out of {len(x)}; "
                             "at least 2 are needed for the feature covariance")
        x_train, y_train = x[train_idx], y[train_idx]
        steps_per_epoch = math.ceil(len(train_idx) / batch_size)
        if epochs is None:
            epochs = min(30, max(4, round(1000 / steps_per_epoch)))

        self.image_shape = tuple(int(s) for s in x.shape[1:])
        self.num_classes = num_classes
        self._config = _architecture(self.image_shape, num_classes, feature_dim)
        self._range = (float(x_train.min()), float(x_train.max()))
        # a private seed: the caller's global random state (say, a GAN's training) is left as it was
        with fork_rng():
            manual_seed(int(seed))
            model = EvaluatorCNN(**self._config)
            model.mean.fill_(float(x_train.mean()))
            model.std.fill_(float(x_train.std()) or 1.0)
            if device is not None:
                model = model.to(device)
            optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
            scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
            if augment:
                c, h, w = self.image_shape
                pad = max(1, min(h, w) // 28)
                # edge padding: the background is right whatever the value range ([0, 1], [-1, 1], ...)
                shift = RandomCrop((h, w), padding=pad, padding_mode="edge")
                train = _Augmented(x_train, y_train, shift, 0.0, 1.0)
            else:
                train = (x_train, y_train)
            start = time.perf_counter()
            self.history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=epochs, scheduler=scheduler,
                               scheduler_interval="batch", batch_size=batch_size, verbose=verbose, device=device)
        self.seconds = time.perf_counter() - start
        model.eval()
        self.classifier = model
        self.test_indices = np.sort(test_idx)
        x_test, y_test = x[self.test_indices], y[self.test_indices]
        logits, feats = self._logits_and_features(x_test)
        self.test_accuracy = float(np.mean(logits.argmax(axis=1) == y_test))
        self.real_statistics = _metrics.feature_statistics(feats)

    # ------------------------------------------------------------ inference

    def _check(self, images, name="images"):
        what = f"ImageEvaluator.{name}" if name != "images" else "ImageEvaluator"
        x = _images(images, "images", what)
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"{what}: argument 'images' must have shape (N, {', '.join(map(str, self.image_shape))}) "
                             f"like the images the evaluator was trained on, got {x.shape}")
        if len(x) == 0:
            raise ValueError(f"{what}: argument 'images' is empty (shape {x.shape})")
        lo, hi = self._range
        span = hi - lo
        if x.min() < lo - 0.5 * span or x.max() > hi + 0.5 * span:
            warnings.warn(f"{what}: the images span [{x.min():.3g}, {x.max():.3g}] but the evaluator was trained on "
                          f"images in [{lo:.3g}, {hi:.3g}]; scale them to the same range (e.g. (x + 1) / 2 for a "
                          "tanh output scored against images in [0, 1])", stacklevel=3)
        return x

    def _logits_and_features(self, x, batch_size=500):
        from .. import from_numpy, no_grad
        model = self.classifier
        was_training = model.training
        model.eval()
        device = next(iter(model.parameters())).device
        logits, feats = [], []
        try:
            with no_grad():
                for i in range(0, len(x), batch_size):
                    xb = from_numpy(x[i:i + batch_size]).to(device)
                    f = model.features(xb)
                    logits.append(model.head(f).cpu().numpy().astype(np.float64))
                    feats.append(f.cpu().numpy().astype(np.float64))
        finally:
            model.train(was_training)
        return np.concatenate(logits), np.concatenate(feats)

    @staticmethod
    def _softmax(logits):
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_proba(self, images):
        """Class probabilities (N, num_classes), float64, of images (N, C, H, W)."""
        return self._softmax(self._logits_and_features(self._check(images, "predict_proba"))[0])

    def predict(self, images):
        """Predicted class indices (N,) of images (N, C, H, W)."""
        return self.predict_proba(images).argmax(axis=1)

    def features(self, images):
        """Penultimate-layer features (N, feature_dim), float64, of images (N, C, H, W)."""
        return self._logits_and_features(self._check(images, "features"))[1]

    def score(self, images, splits=1):
        """Scores of (generated) images (N, C, H, W), N >= 2: a dict with ``confidence`` (mean
        max-probability), ``inception_score`` (mean over ``splits`` parts), ``frechet_distance``
        (against the kept-aside real images' features) and ``class_counts`` (int64 array of the
        number of images predicted in each class)."""
        x = self._check(images, "score")
        if len(x) < 2:
            raise ValueError(f"ImageEvaluator.score: argument 'images' needs at least 2 images for the feature "
                             f"covariance, got shape {x.shape}")
        logits, feats = self._logits_and_features(x)
        probs = self._softmax(logits)
        mu, sigma = _metrics.feature_statistics(feats)
        return {
            "confidence": _metrics.mean_max_probability(probs),
            "inception_score": _metrics.inception_score(probs, splits=splits).mean,
            "frechet_distance": _metrics.frechet_distance(mu, sigma, *self.real_statistics),
            "class_counts": np.bincount(probs.argmax(axis=1), minlength=self.num_classes).astype(np.int64),
        }

    # ------------------------------------------------------------ persistence

    def save(self, path):
        """Write the evaluator (classifier weights, configuration, statistics) to ``path`` with
        ``fastnn.save`` — atomically: a crash never leaves a half-written file there."""
        from .. import save
        mu, sigma = self.real_statistics
        save({"format": _FORMAT, "version": _VERSION, "config": self._config,
              "state_dict": self.classifier.state_dict(), "image_shape": list(self.image_shape),
              "num_classes": self.num_classes, "test_accuracy": self.test_accuracy, "real_mu": mu,
              "real_sigma": sigma, "range": list(self._range), "test_indices": self.test_indices,
              "seconds": self.seconds}, path)

    @classmethod
    def load(cls, path, map_location="cpu"):
        """An evaluator written by :meth:`save` (its ``history`` is None)."""
        from .. import load
        d = load(path, map_location=map_location)
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"ImageEvaluator.load: {path!r} was not written by ImageEvaluator.save")
        if d.get("version") != _VERSION:
            raise ValueError(f"ImageEvaluator.load: {path!r} has version {d.get('version')}, this fastnn reads "
                             f"version {_VERSION}")
        ev = cls.__new__(cls)
        ev._config = dict(d["config"])
        for key in ("widths", "strides"):
            ev._config[key] = [int(v) for v in ev._config[key]]
        ev.classifier = EvaluatorCNN(**ev._config)
        ev.classifier.load_state_dict(d["state_dict"])
        ev.classifier.eval()
        ev.image_shape = tuple(int(s) for s in d["image_shape"])
        ev.num_classes = int(d["num_classes"])
        ev.test_accuracy = float(d["test_accuracy"])
        ev.real_statistics = (np.asarray(d["real_mu"]), np.asarray(d["real_sigma"]))
        ev._range = tuple(float(v) for v in d["range"])
        ev.test_indices = np.asarray(d["test_indices"])
        ev.seconds = float(d["seconds"])
        ev.history = None
        return ev

    def __repr__(self):
        c, h, w = self.image_shape
        return (f"ImageEvaluator(images=({c}, {h}, {w}), num_classes={self.num_classes}, "
                f"feature_dim={self._config['feature_dim']}, test_accuracy={self.test_accuracy:.4f})")
