"""Sequence 3: what augmentation does for a small training set.

The same CNN is trained twice per seed on a reduced training set, once on the plain images and
once on randomly transformed copies drawn afresh each epoch; both are tested on the untouched
test set and on a transformed copy of it. Augmentation acts as a regulariser (the clean accuracy
improves or matches) and teaches invariance (the transformed test set is where it shows most).

    python examples/13_augmentation_effect.py                       # digits, 80 images, ~1 min
    python examples/13_augmentation_effect.py --data fashion --train-size 1000 --epochs 30 --batch-size 64
"""
import argparse
import time

import _common

import numpy as np

import fastnn
from fastnn import nn
from fastnn.data import DataLoader, transforms as T
from fastnn.data.image_dataset import ImageDataset
from fastnn.train import fit, predict


def digits_setup():
    from fastnn.datasets import digits_images
    x, y = digits_images()
    perm = np.random.default_rng(0).permutation(len(x))
    test, pool = perm[:1000], perm[1000:]
    augment = T.RandomAffine(degrees=0, translate=(0.125, 0.125))  # shifts of up to one pixel

    def model():
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    return x[pool], y[pool], x[test], y[test], augment, model


def fashion_setup():
    from fastnn.datasets import fashion_mnist
    x, y = fashion_mnist("train")
    x_test, y_test = fashion_mnist("test")
    augment = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(28, padding=2)])  # flips and 2-pixel shifts

    def model():
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 10))
    return (x.astype(np.float32) / 255, y, x_test[:2000].astype(np.float32) / 255, y_test[:2000], augment, model)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "fashion"), default="digits")
    parser.add_argument("--train-size", type=int, default=80)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=40)
    args = parser.parse_args(argv)
    x_pool, y_pool, x_test, y_test, augment, make_model = digits_setup() if args.data == "digits" else fashion_setup()
    fastnn.manual_seed(1234)
    x_test_aug = augment(x_test)  # one fixed transformed copy of the test set
    print(f"{args.data}: {args.train_size} training images, {len(x_test)} test images, {args.epochs} epochs, "
          f"{args.seeds} seeds\naugmentation: {augment}\n")
    results = {False: [], True: []}
    curves = {}
    every = max(1, args.epochs // 20)  # test-set curve points (monitoring only, not model selection)
    start = time.perf_counter()
    for seed in range(args.seeds):
        train = np.random.default_rng(seed + 10).permutation(len(x_pool))[:args.train_size]
        for use in (False, True):
            fastnn.manual_seed(seed)
            model = make_model()
            data = ImageDataset(x_pool[train], y_pool[train], transform=augment if use else None)
            history = fit(model, DataLoader(data, batch_size=args.batch_size, shuffle=True), nn.CrossEntropyLoss(),
                          fastnn.optim.Adam(model.parameters(), lr=3e-3), epochs=args.epochs,
                          val_data=(x_test, y_test), metrics=["accuracy"], verbose=0, validation_freq=every)
            clean = float((predict(model, x_test, batch_size=512).argmax(1) == y_test).mean())
            moved = float((predict(model, x_test_aug, batch_size=512).argmax(1) == y_test).mean())
            results[use].append((clean, moved))
            # one entry per validation: the test set is scored every ``every`` epochs
            curves[f"{'augmented' if use else 'plain'} (seed {seed})"] = history.history["val_accuracy"]
            print(f"seed {seed} {'augmented' if use else 'plain    '}: test accuracy {clean:.4f}, "
                  f"on transformed test images {moved:.4f}")
    plain, aug = np.array(results[False]), np.array(results[True])
    print(f"\nmean over {args.seeds} seeds ({time.perf_counter() - start:.0f} s):")
    print(f"  test accuracy              plain {plain[:, 0].mean():.4f}   augmented {aug[:, 0].mean():.4f}")
    print(f"  transformed test accuracy  plain {plain[:, 1].mean():.4f}   augmented {aug[:, 1].mean():.4f}")
    _common.save_plot("plot_curves", f"13_augmentation_{args.data}_curves.png", curves,
                      ylabel="test accuracy", title=f"{args.data}, {args.train_size} training images",
                      x=np.arange(every, args.epochs + 1, every))
    return plain, aug


if __name__ == "__main__":
    main()
