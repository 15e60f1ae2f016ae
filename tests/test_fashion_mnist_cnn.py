"""The Fashion-MNIST pipeline end to end, short enough for CI: float16 HDF5 store, lazy H5Dataset
with augmentation, fit with ModelCheckpoint of the best epoch, test accuracy of the restored model.
(The full run, >= 89%, is examples/12_fashion_mnist_cnn.py.)"""
import os

import numpy as np
import pytest

pytest.importorskip("h5py")
if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)", allow_module_level=True)

import fastnn  # noqa: E402
from fastnn import nn  # noqa: E402
from fastnn.data import DataLoader, H5Dataset, save_h5, transforms as T  # noqa: E402
from fastnn.datasets import fashion_mnist  # noqa: E402
from fastnn.train import ModelCheckpoint, fit  # noqa: E402


def test_short_fashion_mnist_cnn_through_hdf5(tmp_path):
    x, y = fashion_mnist("train")
    x_test, y_test = fashion_mnist("test")
    perm = np.random.default_rng(0).permutation(len(x))
    train, val = perm[:4000], perm[4000:5000]
    store = save_h5(tmp_path / "fashion.h5", x_train=x[train] / np.float32(255), y_train=y[train],
                    x_val=x[val] / np.float32(255), y_val=y[val],
                    x_test=x_test[:2000] / np.float32(255), y_test=y_test[:2000])
    norm = T.Normalize(0.286, 0.353)
    aug = T.Compose([T.RandomHorizontalFlip(), norm])
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    best = ModelCheckpoint(tmp_path / "best.fnn", monitor="val_accuracy", save_weights_only=True)
    history = fit(model, DataLoader(H5Dataset(store, "x_train", "y_train", transform=aug), batch_size=64,
                                    shuffle=True),
                  nn.CrossEntropyLoss(), fastnn.optim.Adam(model.parameters(), lr=3e-3), epochs=4,
                  val_data=DataLoader(H5Dataset(store, "x_val", "y_val", transform=norm), batch_size=500),
                  metrics=["accuracy"], callbacks=[best], verbose=0)
    assert os.path.exists(best.best_path)
    assert best.best_score == max(history.history["val_accuracy"])
    best.restore(model)
    model.eval()
    correct = 0
    with fastnn.no_grad():
        for xb, yb in DataLoader(H5Dataset(store, "x_test", "y_test", transform=norm), batch_size=500):
            correct += int((model(xb).numpy().argmax(1) == yb.numpy()).sum())
    acc = correct / 2000
    print(f"Fashion-MNIST, 4000 training images, 4 epochs: test accuracy {acc:.4f}")
    assert acc >= 0.80
