"""Image data sets as (N, C, H, W) arrays: Fashion-MNIST from its IDX files, scikit-learn's digits.

Exposed through ``fastnn.datasets``.
"""
from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["FASHION_MNIST_CLASSES", "fashion_mnist", "digits_images", "read_idx"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

# IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path, expect_ndim=None):
    """An IDX file (gzip-compressed when its name ends in .gz) as a numpy array.

    The header is checked: two zero bytes, a known type code, the number of dimensions (compared
    with ``expect_ndim`` when given) and a payload of exactly the announced size.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} is too short to be an IDX file ({len(raw)} bytes)")
    zero, type_code, ndim = int.from_bytes(raw[0:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} has a bad IDX magic number 0x{raw[:4].hex()} "
                         "(expected 0x0000 followed by a type code and the number of dimensions)")
    if expect_ndim is not None and ndim != expect_ndim:
        raise ValueError(f"read_idx: {path} holds {ndim}-dimensional data, expected {expect_ndim} "
                         f"(magic number 0x{raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"read_idx: {path} announces shape {dims} ({expected} bytes of data) but holds "
                         f"{len(raw) - header} bytes")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def fashion_mnist(split="train", root=None):
    """Fashion-MNIST (Zalando): ``(images, labels)`` with images uint8 of shape (N, 1, 28, 28)
    (values 0..255) and labels int64 in 0..9 (names in ``FASHION_MNIST_CLASSES``).

    ``split`` is "train" (60000 images) or "test" (10000). The IDX files are read from ``root``,
    default ``/usr/share/datasets/fashion-mnist`` where the Debian package
    ``dataset-fashion-mnist`` installs them; nothing is downloaded.
    """
    if split not in _FILES:
        raise ValueError(f"fashion_mnist: argument 'split' must be 'train' or 'test', got {split!r}")
    root = FASHION_MNIST_DIR if root is None else os.fspath(root)
    img_path, lbl_path = (os.path.join(root, name) for name in _FILES[split])
    missing = [p for p in (img_path, lbl_path) if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"fashion_mnist: {', '.join(missing)} not found. Install the data set with "
            "`apt-get install dataset-fashion-mnist` (it puts the IDX files in "
            f"{FASHION_MNIST_DIR}), or pass root= pointing to a folder holding them.")
    images = read_idx(img_path, expect_ndim=3)
    labels = read_idx(lbl_path, expect_ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(f"fashion_mnist: expected unsigned-byte IDX files, got {images.dtype} images and "
                         f"{labels.dtype} labels")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"fashion_mnist: {img_path} holds {images.shape[0]} images but {lbl_path} holds "
                         f"{labels.shape[0]} labels")
    if labels.size and labels.max() >= len(FASHION_MNIST_CLASSES):
        raise ValueError(f"fashion_mnist: {lbl_path} holds label {int(labels.max())}, outside 0..9")
    return np.ascontiguousarray(images[:, None]), labels.astype(np.int64)


def digits_images():
    """scikit-learn's handwritten digits as images: float32 (1797, 1, 8, 8) scaled to 0..1 (the raw
    values are 0..16) and int64 labels 0..9."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("fastnn.datasets.digits_images needs scikit-learn, which ships this data set: "
                          "pip install scikit-learn") from exc
    bunch = load_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / 16.0)[:, None]
    return np.ascontiguousarray(x), np.asarray(bunch.target, dtype=np.int64)
