"""An in-memory image data set whose samples go through a transform each time they are read.

This is how augmentation enters a training loop: ``DataLoader(ImageDataset(x, y, transform=aug))``
draws fresh random transformations for every batch of every epoch. Batches are fetched and
transformed in one vectorised call (the ``_fetch_batch`` path of ``DataLoader``).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _arrays
from .dataset import Dataset

__all__ = ["ImageDataset"]


class ImageDataset(Dataset):
    """``dataset[i]`` is ``(transform(x[i]), target_transform(y[i]))`` as Tensors, or the image
    alone when ``y`` is None. ``x``: images (N, C, H, W) (or (N, H, W)); ``y``: N labels. Images
    are converted to ``dtype`` before the transform (uint8 images are scaled to 0..1 when
    ``dtype`` is a float type), so transforms see float images in 0..1."""

    def __init__(self, x, y=None, transform=None, target_transform=None, dtype=np.float32):
        x = _arrays.to_numpy(x, "x")
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4:
            raise ValueError(f"ImageDataset: argument 'x' must have shape (N, C, H, W) or (N, H, W), got {x.shape}")
        if x.dtype.kind not in "biuf":
            raise TypeError(f"ImageDataset: argument 'x' must hold numbers, got dtype {x.dtype}")
        if y is not None:
            y = _arrays.to_numpy(y, "y")
            if y.shape[:1] != x.shape[:1]:
                raise ValueError(f"ImageDataset: 'x' holds {x.shape[0]} images but 'y' holds "
                                 f"{y.shape[0] if y.ndim else 0} labels")
        for name, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"ImageDataset: argument '{name}' must be callable, got {type(fn).__name__}")
        self.x, self.y = x, y
        self.transform, self.target_transform = transform, target_transform
        self.dtype = None if dtype is None else np.dtype(dtype)

    def __len__(self):
        return int(self.x.shape[0])

    def _images(self, x):
        if self.dtype is not None and x.dtype != self.dtype:
            scale = 255.0 if (x.dtype == np.uint8 and self.dtype.kind == "f") else 1.0
            x = (x.astype(self.dtype) / scale).astype(self.dtype) if scale != 1.0 else x.astype(self.dtype)
        if self.transform is not None:
            x = self.transform(x)
        return x if _arrays.is_tensor(x) else _arrays.wrap(np.ascontiguousarray(x))

    def _targets(self, y):
        if self.target_transform is not None:
            y = self.target_transform(y)
        # np.asarray keeps a single label 0-d (ascontiguousarray would make it shape (1,))
        if _arrays.is_tensor(y):
            return y
        return _arrays.wrap(np.asarray(y) if np.ndim(y) == 0 else np.ascontiguousarray(y))

    def _fetch_batch(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        x = self._images(self.x[idx])
        return x if self.y is None else (x, self._targets(self.y[idx]))

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"ImageDataset: index {index} is out of range for {n} samples")
            x = self._images(self.x[index])
            return x if self.y is None else (x, self._targets(np.asarray(self.y[index])))
        if isinstance(index, slice):
            return self._fetch_batch(np.arange(len(self))[index])
        return self._fetch_batch(np.asarray(_arrays.to_numpy(index, "index")))
