"""fastnn.data.image_dataset.ImageDataset: in-memory images with a per-read transform."""
import numpy as np
import pytest

from fastnn.data import DataLoader, transforms as T
from fastnn.data.image_dataset import ImageDataset
from fastnn.random import manual_seed


def test_samples_batches_and_uint8_scaling():
    x = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 1, 4, 4)
    y = np.arange(5)
    ds = ImageDataset(x, y)
    xi, yi = ds[2]
    assert tuple(xi.shape) == (1, 4, 4) and xi.numpy().dtype == np.float32 and tuple(yi.shape) == ()
    assert int(yi.item()) == 2
    np.testing.assert_allclose(xi.numpy(), x[2] / 255.0, rtol=1e-6)
    xb, yb = ds[np.array([4, 0])]
    np.testing.assert_allclose(xb.numpy(), x[[4, 0]] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds[1:3][1].numpy(), [1, 2])
    assert tuple(ImageDataset(x[:, 0], dtype=None)[0].shape) == (1, 4, 4)  # (N, H, W) input, no labels
    with pytest.raises(IndexError):
        ds[5]


def test_transform_runs_per_batch_and_differs_between_epochs():
    x = np.random.default_rng(0).random((20, 1, 6, 6)).astype(np.float32)
    ds = ImageDataset(x, np.arange(20), transform=T.RandomRotation(30, interpolation="bilinear"))
    loader = DataLoader(ds, batch_size=8, shuffle=False)
    manual_seed(0)
    first = np.concatenate([b[0].numpy() for b in loader])
    second = np.concatenate([b[0].numpy() for b in loader])
    assert first.shape == x.shape and not np.array_equal(first, second)
    manual_seed(0)
    again = np.concatenate([b[0].numpy() for b in loader])
    np.testing.assert_array_equal(first, again)


def test_bad_arguments():
    with pytest.raises(ValueError, match="'x'"):
        ImageDataset(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3 images but 'y' holds 2"):
        ImageDataset(np.zeros((3, 1, 2, 2)), np.zeros(2))
    with pytest.raises(TypeError, match="'transform'"):
        ImageDataset(np.zeros((3, 1, 2, 2)), transform=5)
