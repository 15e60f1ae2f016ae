"""SCOPE sequence 3: augmentation improves or matches accuracy on a reduced training set.

A small CNN learns scikit-learn's digits from 80 images, with and without random shifts of up
to one pixel (three seeds each; 80 epochs, about 30 s of CPU in all). With augmentation the
clean test accuracy must match or beat the plain run, and on a shifted copy of the test set
(what the augmentation teaches) it must be clearly better.
"""
import numpy as np
import pytest

pytest.importorskip("sklearn")

import fastnn  # noqa: E402
from fastnn import nn  # noqa: E402
from fastnn.data import DataLoader, transforms as T  # noqa: E402
from fastnn.data.image_dataset import ImageDataset  # noqa: E402
from fastnn.datasets import digits_images  # noqa: E402
from fastnn.train import fit, predict  # noqa: E402

N_TRAIN, EPOCHS, SEEDS = 80, 80, (0, 1, 2)


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def accuracy(model, x, y):
    return float((predict(model, x, batch_size=512).argmax(1) == y).mean())


def test_augmentation_improves_or_matches_on_reduced_digits():
    x, y = digits_images()
    perm = np.random.default_rng(0).permutation(len(x))
    test, pool = perm[:1000], perm[1000:]
    shift = T.RandomAffine(degrees=0, translate=(0.125, 0.125))  # up to one pixel on 8x8 images
    fastnn.manual_seed(99)
    x_test_shifted = shift(x[test])
    clean = {False: [], True: []}
    shifted = {False: [], True: []}
    for seed in SEEDS:
        train = np.random.default_rng(seed + 10).permutation(pool)[:N_TRAIN]
        for augment in (False, True):
            fastnn.manual_seed(seed)
            model = small_cnn()
            data = ImageDataset(x[train], y[train], transform=shift if augment else None)
            fit(model, DataLoader(data, batch_size=40, shuffle=True), nn.CrossEntropyLoss(),
                fastnn.optim.Adam(model.parameters(), lr=3e-3), epochs=EPOCHS, verbose=0)
            clean[augment].append(accuracy(model, x[test], y[test]))
            shifted[augment].append(accuracy(model, x_test_shifted, y[test]))
    plain, aug = np.mean(clean[False]), np.mean(clean[True])
    print(f"clean test accuracy: plain {plain:.3f} {clean[False]}, augmented {aug:.3f} {clean[True]}")
    print(f"shifted test accuracy: plain {np.mean(shifted[False]):.3f}, augmented {np.mean(shifted[True]):.3f}")
    assert plain > 0.8  # the reduced set is still learnable
    assert aug >= plain  # improves or matches
    assert np.mean(shifted[True]) >= np.mean(shifted[False]) + 0.10
