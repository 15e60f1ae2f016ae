"""Sequence 1: a dense network (MLP) on scikit-learn's 8×8 digits.

64 pixel features → Linear(64, 64) → ReLU → Linear(64, 10), cross-entropy, Adam; standardised on
the training set; test accuracy (target ≥ 95%), confusion matrix and the per-class report.
"""
import _common  # noqa: F401  (sets up paths)

from fastnn import metrics
from fastnn.datasets import digits
from fastnn.train import train_tabular

CONFIG = dict(hidden=(64,), epochs=20, lr=2e-3, batch_size=64, seed=0)


def main(verbose=1, epochs=None):
    X, y = digits()
    cfg = dict(CONFIG, epochs=epochs or CONFIG["epochs"])
    result = train_tabular(X, y, "classification", verbose=verbose, **cfg)
    print(f"\ntest accuracy: {result.scores['accuracy']:.4f}  macro F1: {result.scores['f1']:.4f}")
    print("confusion matrix (rows: true digit, columns: predicted):")
    print(result.confusion)
    print(metrics.classification_report(result.y_test, result.y_pred, digits=3))
    _common.save_plot("plot_history", "03_mlp_digits_history.png", result.history, title="MLP on digits")
    _common.save_plot("plot_confusion_matrix", "03_mlp_digits_confusion.png", result.confusion)
    return result


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=CONFIG["epochs"],
                        help=f"training epochs (default {CONFIG['epochs']})")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    main(epochs=args.epochs)
