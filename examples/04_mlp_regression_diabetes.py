"""Sequence 1: MLP regression on the diabetes data set, against linear baselines.

Three models on the same split, standardised on the training set, reported with MSE, RMSE, MAE
and R² on the test set:
  * least squares (the closed-form linear regression, the classical baseline),
  * a linear model trained by the training loop (Adam on the MSE),
  * an MLP 10 → 32 → 1 (ReLU, dropout 0.3, SGD), five initialisations averaged: with 353
    training samples and a target close to linear in its features, a single network's variance
    costs more than its non-linearity gains; averaging a few removes most of that variance.
"""
import _common  # noqa: F401  (sets up paths)
import numpy as np

from fastnn import metrics
from fastnn.data import train_test_split
from fastnn.datasets import diabetes
from fastnn.train import train_tabular

SEED = 0
MLP_CONFIG = dict(hidden=(32,), dropout=0.3, ensemble=5, epochs=60, lr=1e-2, optimizer="sgd", seed=SEED)
LINEAR_CONFIG = dict(hidden=(), epochs=60, lr=1e-2, seed=SEED)


def least_squares(X, y, seed=SEED):
    """Closed-form linear regression on the same split: returns (y_test, predictions)."""
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=seed)
    A = np.c_[np.ones(len(X_train)), X_train.astype(np.float64)]
    theta = np.linalg.lstsq(A, y_train.astype(np.float64), rcond=None)[0]
    return y_test, np.c_[np.ones(len(X_test)), X_test.astype(np.float64)] @ theta


def scores(y_true, y_pred):
    return {name: getattr(metrics, name)(y_true, y_pred) for name in ("mse", "rmse", "mae", "r2")}


def main(verbose=0, epochs=None, ensemble=None):
    X, y = diabetes()
    y_test, ls_pred = least_squares(X, y)
    rows = {"least squares": scores(y_test, ls_pred)}
    linear_config = dict(LINEAR_CONFIG, epochs=epochs or LINEAR_CONFIG["epochs"])
    mlp_config = dict(MLP_CONFIG, epochs=epochs or MLP_CONFIG["epochs"], ensemble=ensemble or MLP_CONFIG["ensemble"])
    linear = train_tabular(X, y, "regression", verbose=verbose, **linear_config)
    rows["linear (trained)"] = linear.scores
    mlp = train_tabular(X, y, "regression", verbose=verbose, **mlp_config)
    rows["MLP"] = mlp.scores
    print(f"{'model':18s} {'MSE':>9s} {'RMSE':>8s} {'MAE':>8s} {'R2':>7s}")
    for name, s in rows.items():
        print(f"{name:18s} {s['mse']:9.1f} {s['rmse']:8.2f} {s['mae']:8.2f} {s['r2']:7.3f}")
    for base in ("least squares", "linear (trained)"):
        gain = 1 - rows["MLP"]["mse"] / rows[base]["mse"]
        print(f"MLP test MSE vs {base}: {abs(100 * gain):.1f}% {'lower' if gain > 0 else 'higher'}")
    _common.save_plot("plot_history", "04_diabetes_mlp_history.png", mlp.history,
                      title="MLP regression on diabetes (standardised target)")
    order = np.argsort(y_test)
    _common.save_plot("plot_scatter_fit", "04_diabetes_predictions.png", y_test, mlp.y_pred,
                      {"ideal": (y_test[order], y_test[order])}, title="MLP: predicted vs true (test set)",
                      xlabel="true progression", ylabel="predicted")
    return rows


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=MLP_CONFIG["epochs"],
                        help=f"training epochs of both trained models (default {MLP_CONFIG['epochs']})")
    parser.add_argument("--ensemble", type=int, default=MLP_CONFIG["ensemble"],
                        help=f"MLP initialisations averaged (default {MLP_CONFIG['ensemble']})")
    args = parser.parse_args()
    if args.epochs < 1 or args.ensemble < 1:
        parser.error("--epochs and --ensemble must be at least 1")
    main(epochs=args.epochs, ensemble=args.ensemble)
