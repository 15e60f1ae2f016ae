"""Sequences 2 and 3: a CNN on Fashion-MNIST, with the data pipeline a real project needs.

1. a first look at the data (``describe``: class counts, pixel statistics, sizes);
2. the prepared set cached in an HDF5 file as float16 (half the size of float32), then read
   lazily, batch by batch, through ``H5Dataset``;
3. augmentation on the training batches (horizontal flips, shifts by padding + random crops);
4. training with ``fit``, keeping the best model on the validation set with ``ModelCheckpoint``;
5. test accuracy of the best model, training curves and the confusion matrix saved as PNG.

Aim: >= 89% test accuracy on the full set. Needs the Debian package ``dataset-fashion-mnist``.
Quick run: ``python examples/12_fashion_mnist_cnn.py --epochs 1 --subset 2000``; ``--val-size N``
(default 5000); ``--device cpu|cuda`` (default: the GPU when one is usable).
"""
import argparse
import os
import time

import _common

import numpy as np

import fastnn
from fastnn import metrics, nn
from fastnn.data import DataLoader, H5Dataset, describe, save_h5, transforms as T
from fastnn.datasets import FASHION_MNIST_CLASSES, fashion_mnist
from fastnn.train import ModelCheckpoint, fit


def fashion_cnn():
    """Two convolution blocks (conv, batch norm, ReLU, max-pool), then a dense head with dropout."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 14 x 14
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 7 x 7
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))


def prepare_store(path, subset, val_size, seed):
    """Split, scale to 0..1 and cache the three parts in one float16 HDF5 file (done once)."""
    x, y = fashion_mnist("train")
    x_test, y_test = fashion_mnist("test")
    report = describe(x, y, class_names=FASHION_MNIST_CLASSES)
    print(report)
    _common.output_path("")  # creates the folder
    try:
        overview = _common.output_path("12_fashion_mnist_overview.png")
        report.plot(overview, samples_per_class=8)
        print(f"saved {os.path.relpath(overview)}")
    except ImportError as exc:
        print(f"({exc})")
    perm = np.random.default_rng(seed).permutation(len(x))
    val, train = perm[:val_size], perm[val_size:]
    if subset:
        train = train[:subset]
        x_test, y_test = x_test[:max(subset // 4, 1000)], y_test[:max(subset // 4, 1000)]
    start = time.perf_counter()
    save_h5(path, dtype="float16", compression="gzip",
            x_train=x[train] / np.float32(255), y_train=y[train],
            x_val=x[val] / np.float32(255), y_val=y[val],
            x_test=x_test / np.float32(255), y_test=y_test)
    print(f"HDF5 store {path}: {os.path.getsize(path) / 1e6:.1f} MB (float16, gzip) in "
          f"{time.perf_counter() - start:.1f} s; as float32 in memory it would be "
          f"{(len(train) + len(val) + len(x_test)) * 784 * 4 / 1e6:.1f} MB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--subset", type=int, default=0,
                        help="train on this many images (0: all those outside the validation part)")
    parser.add_argument("--val-size", type=int, default=5000, help="validation images (default 5000)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args(argv)
    if args.val_size < 1 or args.subset < 0 or args.epochs < 1:
        parser.error("--val-size and --epochs must be at least 1, --subset at least 0")
    device = args.device or ("cuda" if fastnn.cuda.is_available() else "cpu")
    fastnn.manual_seed(args.seed)

    store = _common.output_path(f"12_fashion_mnist{'_subset' + str(args.subset) if args.subset else ''}"
                                f"{'_val' + str(args.val_size) if args.val_size != 5000 else ''}.h5")
    if not os.path.exists(store):
        prepare_store(store, args.subset, val_size=args.val_size, seed=args.seed)

    # Pixel statistics of the training part set the normalisation (never the test part's).
    with H5Dataset(store, "x_train", "y_train") as raw:
        sample = raw[np.arange(0, len(raw), max(1, len(raw) // 5000))][0].numpy()
    mean, std = float(sample.mean()), float(sample.std())
    normalize = T.Normalize(mean, std)
    augment = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(28, padding=2), normalize])
    train = H5Dataset(store, "x_train", "y_train", transform=normalize if args.no_augment else augment)
    val = H5Dataset(store, "x_val", "y_val", transform=normalize)
    test = H5Dataset(store, "x_test", "y_test", transform=normalize)
    print(f"train {len(train)}, validation {len(val)}, test {len(test)} images; normalised with mean {mean:.3f}, "
          f"std {std:.3f}; augmentation: {'none' if args.no_augment else augment}")

    model = fashion_cnn().to(device)        # fit sends each batch to the model's device
    optimizer = fastnn.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = fastnn.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(args.epochs, 1))
    best = ModelCheckpoint(_common.output_path("12_fashion_mnist_best.fnn"), monitor="val_accuracy",
                           save_best_only=True, save_weights_only=True)
    start = time.perf_counter()
    history = fit(model, DataLoader(train, batch_size=args.batch_size, shuffle=True), nn.CrossEntropyLoss(),
                  optimizer, epochs=args.epochs, val_data=DataLoader(val, batch_size=512), metrics=["accuracy"],
                  callbacks=[best], scheduler=scheduler, verbose=2)
    train_time = time.perf_counter() - start
    best.restore(model)
    print(f"best epoch {best.best_epoch + 1} (val accuracy {best.best_score:.4f}), restored from {best.best_path}")

    model.eval()
    preds, labels = [], []
    with fastnn.no_grad():
        for xb, yb in DataLoader(test, batch_size=512):
            preds.append(model(xb.to(device)).cpu().numpy().argmax(1))
            labels.append(yb.numpy())
    y_pred, y_true = np.concatenate(preds), np.concatenate(labels)
    acc = metrics.accuracy(y_true, y_pred)
    print(f"\ntest accuracy: {acc:.4f} ({len(y_true)} images) after {args.epochs} epochs, "
          f"{train_time:.0f} s of training ({train_time / max(args.epochs, 1):.0f} s per epoch, "
          f"{device if device != 'cpu' else str(fastnn.get_num_threads()) + ' CPU threads'})")
    print(metrics.classification_report(y_true, y_pred, target_names=list(FASHION_MNIST_CLASSES), digits=3))
    cm = metrics.confusion_matrix(y_true, y_pred, num_classes=10)
    _common.save_plot("plot_history", "12_fashion_mnist_history.png", history, title="CNN on Fashion-MNIST")
    _common.save_plot("plot_confusion_matrix", "12_fashion_mnist_confusion.png", cm,
                      class_names=list(FASHION_MNIST_CLASSES))
    for d in (train, val, test):
        d.close()
    return acc


if __name__ == "__main__":
    main()
