"""Sequence 1: logistic regression y = σ(W·X + b) on the breast-cancer data set.

Train/test split (stratified), standardisation fitted on the training set only, one Linear layer
trained with BCEWithLogitsLoss (the sigmoid is inside the loss, for numerical stability), then
test accuracy, confusion matrix and the classification report. Target: ≥ 95% test accuracy.
"""
import _common  # noqa: F401  (sets up paths)
import numpy as np

import fastnn
from fastnn import metrics, nn, optim
from fastnn.data import StandardScaler, train_test_split
from fastnn.datasets import breast_cancer
from fastnn.train import evaluate, fit, predict


def main(epochs=40, verbose=1):
    fastnn.manual_seed(0)
    X, y, names = breast_cancer(return_names=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, seed=0)
    scaler = StandardScaler().fit(X_train)  # statistics of the training set only
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    t_train = y_train.astype(np.float32)[:, None]
    t_test = y_test.astype(np.float32)[:, None]

    model = nn.Linear(X.shape[1], 1)  # t = W·X + b; σ(t) is the probability of "benign"
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, (X_train, t_train), loss_fn, optimizer, epochs=epochs, val_data=(X_test, t_test),
                  metrics=["accuracy"], batch_size=32, verbose=verbose)

    scores = evaluate(model, (X_test, t_test), loss_fn, ["accuracy"])
    probs = 1 / (1 + np.exp(-predict(model, X_test)[:, 0]))
    y_pred = (probs > 0.5).astype(np.int64)
    print(f"\ntest accuracy: {scores['accuracy']:.4f}  (test loss {scores['loss']:.4f})")
    print("confusion matrix (rows: true, columns: predicted):")
    print(metrics.confusion_matrix(y_test, y_pred, num_classes=2))
    print(metrics.classification_report(y_test, y_pred, target_names=names["target_names"], digits=3))
    _common.save_plot("plot_history", "02_logistic_history.png", history, title="Logistic regression (breast cancer)")
    _common.save_plot("plot_confusion_matrix", "02_logistic_confusion.png",
                      metrics.confusion_matrix(y_test, y_pred, num_classes=2), class_names=names["target_names"])
    return scores["accuracy"]


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    main(epochs=args.epochs)
