"""Sequence 5a: k-fold cross-validation of an MLP, mean ± standard deviation.

Stratified 5-fold cross-validation on the wine data set: each fold trains a fresh MLP on the
other four folds (standardised with statistics of those four folds only) and scores it on the
held-out fold. Also shows the 70/15/15 train/validation/test split with shuffling.
"""
import _common  # noqa: F401  (sets up paths)
import numpy as np

import fastnn
from fastnn import nn, optim
from fastnn.data import StandardScaler, train_val_test_split
from fastnn.datasets import wine
from fastnn.train import cross_validate, mlp


def main(k=5, epochs=30):
    fastnn.manual_seed(0)
    X, y = wine()
    parts = train_val_test_split(X, y, val_size=0.15, test_size=0.15, stratify=y, seed=0)
    print("70/15/15 split sizes:", [len(p) for p in parts[:3]])

    result = cross_validate(lambda: mlp(X.shape[1], (32,), 3),
                            lambda model: optim.Adam(model.parameters(), lr=3e-3),
                            (X, y), nn.CrossEntropyLoss(), k=k, epochs=epochs, batch_size=16,
                            metrics=["accuracy", "f1"], stratify=True, seed=0, scaler=StandardScaler, verbose=1)
    print(f"\n{k}-fold cross-validation of an MLP on wine:")
    print(result.summary())
    accs = result["accuracy"]
    print("per-fold accuracy:", np.round(accs, 4).tolist())
    _common.save_plot("plot_curves", "05_cv_accuracy.png",
                      {"fold accuracy": accs, f"mean {result.mean['accuracy']:.3f}": [result.mean["accuracy"]] * k},
                      xlabel="fold", ylabel="test accuracy", title=f"{k}-fold cross-validation (wine)")
    return result


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="number of folds k (default 5)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs per fold (default 30)")
    args = parser.parse_args()
    if args.folds < 2 or args.epochs < 1:
        parser.error("--folds must be at least 2 and --epochs at least 1")
    main(k=args.folds, epochs=args.epochs)
