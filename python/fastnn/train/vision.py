"""Training a vision transformer on an image classification set: used by ``fastnn demo vit`` and the
ViT examples (digits, Fashion-MNIST), so they share one recipe.

The recipe: pixels standardised with the mean and standard deviation of the training images (kept in
the result: ``result.prepare(images)`` applies them to new images), AdamW (``lr``, ``weight_decay``) with a linear warm-up over the first epoch followed by
cosine decay to zero, cross-entropy with label smoothing 0.1, batches of ``batch_size``; the test
part is evaluated once at the end (and after each epoch when ``val`` is true).
"""
from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np


class ViTResult(NamedTuple):
    model: object        # the trained VisionTransformer (eval mode)
    history: object      # fit's History
    accuracy: float      # test accuracy
    y_pred: np.ndarray   # predicted test labels
    seconds: float       # training time
    mean: float          # pixel statistics of the training images, applied before the model
    std: float

    def prepare(self, images):
        """Raw images standardised as the model saw them in training (float32 array)."""
        return ((np.asarray(images, dtype=np.float32) - self.mean) / self.std).astype(np.float32)


from ..data.dataset import Dataset


class _Augmented(Dataset):
    """Images and labels whose batches pass through ``transform`` (fetched a whole batch at a time)."""

    def __init__(self, x, y, transform, mean, std):
        self.x, self.y, self.transform, self.mean, self.std = x, y, transform, mean, std

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self._fetch_batch(np.asarray([i]))[0][0], self.y[i]

    def _fetch_batch(self, idx):
        from .. import from_numpy
        x = self.transform(self.x[idx])
        x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        return from_numpy(((x - self.mean) / self.std).astype(np.float32)), from_numpy(self.y[idx])


def train_vit(x_train, y_train, x_test, y_test, *, image_size, patch_size, num_layers=4, num_heads=4, hidden_dim=64,
              mlp_dim=128, dropout=0.0, num_classes=10, epochs=10, lr=2e-3, weight_decay=0.05, batch_size=64,
              label_smoothing=0.1, train_transform=None, seed=0, verbose=0, val=False, device=None) -> ViTResult:
    """Train ``VisionTransformer`` on raw images (N, C, H, W) and int labels (N,); ``train_transform`` (a
    ``fastnn.data.transforms`` transform of a batch of raw images, e.g. ``RandomCrop(28, padding=2)``) augments
    the training batches."""
    from .. import manual_seed, nn, optim
    from ..models import VisionTransformer
    from .loop import fit, predict
    x_train, x_test = (np.asarray(x, dtype=np.float32) for x in (x_train, x_test))
    y_train, y_test = (np.asarray(y, dtype=np.int64) for y in (y_train, y_test))
    if x_train.ndim != 4 or x_test.ndim != 4 or x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"train_vit: images must be (N, C, H, W) with the same (C, H, W), got {x_train.shape} and "
                         f"{x_test.shape}")
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(f"train_vit: {len(x_train)}/{len(x_test)} images for {len(y_train)}/{len(y_test)} labels")
    if epochs < 1:
        raise ValueError(f"train_vit: 'epochs' must be at least 1, got {epochs}")
    mean, std = float(x_train.mean()), float(x_train.std()) or 1.0
    manual_seed(seed)
    model = VisionTransformer(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout=dropout,
                              num_classes=num_classes, in_channels=x_train.shape[1])
    if device is not None:
        model = model.to(device)
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    total, warmup = epochs * steps_per_epoch, steps_per_epoch

    def schedule(step):  # linear warm-up, then cosine decay to zero
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))

    scheduler = optim.lr_scheduler.LambdaLR(optimizer, schedule)
    start = time.perf_counter()
    prepare = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    train = ((prepare(x_train), y_train) if train_transform is None
             else _Augmented(x_train, y_train, train_transform, mean, std))
    x_test = prepare(x_test)
    history = fit(model, train, nn.CrossEntropyLoss(label_smoothing=label_smoothing), optimizer,
                  epochs=epochs, val_data=(x_test, y_test) if val else None, metrics=["accuracy"],
                  scheduler=scheduler, scheduler_interval="batch", batch_size=batch_size, verbose=verbose)
    seconds = time.perf_counter() - start
    model.eval()
    y_pred = predict(model, (x_test, y_test), batch_size=512).argmax(axis=1)
    return ViTResult(model, history, float(np.mean(y_pred == y_test)), y_pred, seconds, mean, std)
