"""Sequence 6, series -> vector: an LSTM reads each 8×8 digit row by row and classifies it from its last state.

scikit-learn's digits become sequences of 8 time steps of 8 pixels (top row first). The LSTM's final
hidden state goes through a Linear layer to the 10 classes. Baselines: the majority class, and a
linear classifier that sees only the last row (what the last step alone carries, without the memory
of the rows before it). Prints the test accuracy, the confusion matrix and the per-class report.
"""
import _common  # noqa: F401  (sets up paths)

import numpy as np

import fastnn
from fastnn import metrics, nn, optim
from fastnn.data import train_test_split
from fastnn.datasets import digits
from fastnn.train import fit, predict, train_tabular

CONFIG = dict(hidden_size=64, epochs=25, lr=1e-2, batch_size=64, seed=0)


class RowClassifier(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.lstm = nn.LSTM(input_size=8, hidden_size=hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, 10)

    def forward(self, rows):  # rows: (batch, 8 steps, 8 pixels)
        _, (h_n, _) = self.lstm(rows)
        return self.fc(h_n[-1])  # the last layer's final hidden state


def main(epochs=CONFIG["epochs"], hidden_size=CONFIG["hidden_size"], verbose=0):
    X, y = digits()
    fastnn.manual_seed(CONFIG["seed"])
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, seed=CONFIG["seed"])
    rows_train = (X_train / 16.0).reshape(-1, 8, 8).astype(np.float32)
    rows_test = (X_test / 16.0).reshape(-1, 8, 8).astype(np.float32)

    model = RowClassifier(hidden_size)
    opt = optim.Adam(model.parameters(), lr=CONFIG["lr"])
    history = fit(model, (rows_train, y_train), nn.CrossEntropyLoss(), opt, epochs=epochs,
                  val_data=(rows_test, y_test), metrics=["accuracy"], batch_size=CONFIG["batch_size"], verbose=verbose)
    y_pred = predict(model, rows_test).argmax(axis=1)
    acc = metrics.accuracy(y_test, y_pred)

    majority = np.mean(y_test == np.bincount(y_train).argmax())
    last_row = train_tabular(np.concatenate([X_train[:, -8:], X_test[:, -8:]]), np.concatenate([y_train, y_test]),
                             "classification", hidden=(), epochs=epochs, lr=1e-2, test_size=len(y_test) / len(y),
                             seed=CONFIG["seed"])
    print(f"digits as sequences: {len(X_train)} training and {len(X_test)} test images, 8 steps of 8 pixels")
    print(f"baselines: majority class {majority:.4f}, linear classifier on the last row only "
          f"{last_row.scores['accuracy']:.4f}")
    print(f"test accuracy: {acc:.4f} (LSTM, {hidden_size} hidden units, {epochs} epochs)")
    print("confusion matrix (rows: true digit, columns: predicted):")
    print(metrics.confusion_matrix(y_test, y_pred))
    print(metrics.classification_report(y_test, y_pred, digits=3))
    _common.save_plot("plot_history", "31_sequence_classification_history.png", history,
                      title="LSTM reading digits row by row")
    return acc


if __name__ == "__main__":
    main(**_common.count_options(__doc__, epochs=("epochs", CONFIG["epochs"], "epochs"),
                                 hidden=("hidden_size", CONFIG["hidden_size"], "LSTM hidden units")))
