"""Sequence 2: a LeNet-style convolutional network on scikit-learn's 8×8 digits.

Images (N, 1, 8, 8) scaled to [0, 1]; two 3×3 'same' convolutions with batch normalisation and
ReLU, a 2×2 max pool, dropout, two dense layers; cross-entropy and Adam, trained with
``fastnn.train.fit``. Reports the test accuracy (target ≥ 97%), saves the training curves, the
confusion matrix and the learned first-layer filters as PNG.
"""
import _common  # noqa: F401  (sets up paths)
import numpy as np

import fastnn
import fastnn.nn as nn
import fastnn.optim
from fastnn import metrics
from fastnn.data import TensorDataset, train_test_split
from fastnn.datasets import digits
from fastnn.models import DigitsCNN
from fastnn.train import fit

CONFIG = dict(epochs=12, lr=3e-3, batch_size=64, seed=0)


def save_filters(weight, name):
    from fastnn import plot
    if not plot.available():
        return
    fig = plot.new_figure(figsize=(8, 2.2))
    for i in range(weight.shape[0]):
        ax = fig.add_subplot(2, (weight.shape[0] + 1) // 2, i + 1)
        ax.imshow(weight[i, 0], cmap="gray")
        ax.set_axis_off()
    fig.suptitle("first-layer 3x3 filters")
    print(f"saved {plot.save_figure(fig, _common.output_path(name))}")


def main(verbose=1, epochs=None, device=None):
    cfg = dict(CONFIG, epochs=epochs or CONFIG["epochs"])
    device = device or ("cuda" if fastnn.cuda.is_available() else "cpu")
    X, y = digits()
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, seed=cfg["seed"])
    fastnn.manual_seed(cfg["seed"])
    model = DigitsCNN().to(device)        # fit sends each batch to the model's device
    print(model, "on", device)
    opt = fastnn.optim.Adam(model.parameters(), lr=cfg["lr"])
    history = fit(model, TensorDataset(fastnn.tensor(X_train), fastnn.tensor(y_train)), nn.CrossEntropyLoss(), opt,
                  epochs=cfg["epochs"], val_data=TensorDataset(fastnn.tensor(X_test), fastnn.tensor(y_test)),
                  metrics=["accuracy"], batch_size=cfg["batch_size"], verbose=verbose)
    model.eval()
    with fastnn.no_grad():
        y_pred = model(fastnn.tensor(X_test, device=device)).cpu().numpy().argmax(1)
    acc = metrics.accuracy(y_test, y_pred)
    print(f"\ntest accuracy: {acc:.4f} (target >= 0.97)")
    cm = metrics.confusion_matrix(y_test, y_pred)
    print(metrics.classification_report(y_test, y_pred, digits=3))
    _common.save_plot("plot_history", "10_cnn_digits_history.png", history, title="LeNet-style CNN on digits")
    _common.save_plot("plot_confusion_matrix", "10_cnn_digits_confusion.png", cm)
    save_filters(model.features[0].weight.detach().cpu().numpy(), "10_cnn_digits_filters.png")
    return acc


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args()
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    main(epochs=args.epochs, device=args.device)
