"""fastnn.datasets.fashion_mnist on the Debian package's IDX files, and digits_images."""
import gzip
import os

import numpy as np
import pytest

from fastnn import datasets

FILES = os.path.join("/usr/share/datasets/fashion-mnist", "t10k-images-idx3-ubyte.gz")
needs_files = pytest.mark.skipif(not os.path.exists(FILES),
                                 reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


@needs_files
def test_test_split_shapes_labels_and_balance():
    x, y = datasets.fashion_mnist("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.uint8 and x.flags.c_contiguous
    assert y.shape == (10000,) and y.dtype == np.int64
    assert y.min() == 0 and y.max() == 9
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)
    assert x.max() == 255 and x.min() == 0 and 60 < x.mean() < 90
    assert len(datasets.FASHION_MNIST_CLASSES) == 10 and datasets.FASHION_MNIST_CLASSES[9] == "Ankle boot"
    # trousers are tall and thin: their central column is brighter than their side columns
    trousers = x[y == 1].astype(np.float64)
    assert trousers[:, 0, :, 10:18].mean() > trousers[:, 0, :, :4].mean() + 20


@needs_files
def test_train_split():
    x, y = datasets.fashion_mnist("train")
    assert x.shape == (60000, 1, 28, 28) and y.shape == (60000,)
    np.testing.assert_array_equal(np.bincount(y), [6000] * 10)


def write_idx(path, magic, dims, payload):
    with gzip.open(path, "wb") as f:
        f.write(magic.to_bytes(4, "big"))
        for d in dims:
            f.write(int(d).to_bytes(4, "big"))
        f.write(payload)


def test_idx_header_validation(tmp_path):
    imgs = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", 0x0803, imgs.shape, imgs.tobytes())
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 0x0801, (2,), bytes([3, 9]))
    x, y = datasets.fashion_mnist("test", root=tmp_path)
    np.testing.assert_array_equal(x[:, 0], imgs)
    np.testing.assert_array_equal(y, [3, 9])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 0x0801, (3,), bytes([3, 9]))  # announces 3, holds 2
    with pytest.raises(ValueError, match="announces shape"):
        datasets.fashion_mnist("test", root=tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 0x0803, (2,), bytes([3, 9]))  # wrong dimensionality
    with pytest.raises(ValueError, match="magic|dimensional"):
        datasets.fashion_mnist("test", root=tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 0x1801, (2,), bytes([3, 9]))  # bad magic
    with pytest.raises(ValueError, match="magic"):
        datasets.fashion_mnist("test", root=tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 0x0801, (3,), bytes([3, 9, 1]))  # count mismatch
    with pytest.raises(ValueError, match="2 images but"):
        datasets.fashion_mnist("test", root=tmp_path)


def test_missing_files_name_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        datasets.fashion_mnist("train", root=tmp_path)
    with pytest.raises(ValueError, match="'split'"):
        datasets.fashion_mnist("valid")


def test_digits_images():
    pytest.importorskip("sklearn")
    x, y = datasets.digits_images()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0 and y.dtype == np.int64
    flat, y2 = datasets.digits()
    np.testing.assert_allclose(x.reshape(1797, 64) * 16, flat)
    np.testing.assert_array_equal(y, y2)
