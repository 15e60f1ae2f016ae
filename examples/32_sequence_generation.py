"""Sequence 6, vector -> series: an LSTM draws an 8×8 digit row by row from its class.

The class (a vector: its embedding) sets the LSTM's initial hidden and cell states; each step
predicts the next row of 8 pixels from the rows before it. Training uses teacher forcing (the true
previous rows are the inputs); generation feeds each predicted row back as the next input. Measured:
the next-row error given the true previous rows beside the class-mean image (the best guess that
ignores the rows already drawn), and how many generated digits a classifier trained on real digits
assigns to the class they were asked for (one per class). The generated digits are saved as an image.
"""
import _common  # noqa: F401  (sets up paths)

import numpy as np

import fastnn
from fastnn import nn, optim
from fastnn.data import train_test_split
from fastnn.datasets import digits
from fastnn.train import fit, predict, train_tabular

CONFIG = dict(hidden_size=128, epochs=40, lr=5e-3, batch_size=64, seed=0)


class RowGenerator(nn.Module):
    def __init__(self, hidden_size, num_classes=10, row=8):
        super().__init__()
        self.h0 = nn.Embedding(num_classes, hidden_size)
        self.c0 = nn.Embedding(num_classes, hidden_size)
        self.lstm = nn.LSTM(row, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, row)

    def _state(self, labels):
        return self.h0(labels).unsqueeze(0), self.c0(labels).unsqueeze(0)

    def forward(self, labels, previous_rows):
        """Teacher forcing: ``previous_rows`` (batch, 8, 8) are the true rows shifted down by one."""
        out, _ = self.lstm(previous_rows, self._state(labels))
        return self.out(out).sigmoid()

    @fastnn.no_grad()
    def generate(self, labels, steps=8):
        state = self._state(labels)
        row = fastnn.zeros(labels.shape[0], 1, self.out.out_features)
        rows = []
        for _ in range(steps):
            out, state = self.lstm(row, state)
            row = self.out(out).sigmoid()
            rows.append(row)
        return fastnn.cat(rows, dim=1)


def shifted(rows):
    """The inputs of teacher forcing: a blank row, then every row but the last."""
    return np.concatenate([np.zeros_like(rows[:, :1]), rows[:, :-1]], axis=1)


def main(epochs=CONFIG["epochs"], hidden_size=CONFIG["hidden_size"], verbose=0):
    X, y = digits()
    fastnn.manual_seed(CONFIG["seed"])
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, seed=CONFIG["seed"])
    rows_train = (X_train / 16.0).reshape(-1, 8, 8).astype(np.float32)
    rows_test = (X_test / 16.0).reshape(-1, 8, 8).astype(np.float32)

    model = RowGenerator(hidden_size)
    opt = optim.Adam(model.parameters(), lr=CONFIG["lr"])
    fit(model, (y_train, shifted(rows_train), rows_train), nn.MSELoss(), opt, epochs=epochs,
        batch_size=CONFIG["batch_size"], verbose=verbose)

    teacher = predict(model, (y_test, shifted(rows_test), rows_test))
    class_mean = np.stack([rows_train[y_train == c].mean(axis=0) for c in range(10)])
    mse_model = float(np.mean((teacher - rows_test) ** 2))
    mse_mean = float(np.mean((class_mean[y_test] - rows_test) ** 2))
    print(f"next-row MSE on {len(y_test)} test digits, given the true rows above: LSTM {mse_model:.4f}, "
          f"class-mean image {mse_mean:.4f}")

    judge = train_tabular(X, y, "classification", hidden=(64,), epochs=30, lr=2e-3, batch_size=64,
                          seed=CONFIG["seed"])
    wanted = np.arange(10)
    model.eval()
    drawn = model.generate(fastnn.tensor(wanted)).numpy().reshape(len(wanted), 64) * 16.0
    seen = judge.predict(drawn)
    hits = int(np.sum(seen == wanted))
    print(f"a digits classifier (test accuracy {judge.scores['accuracy']:.4f}) labels {hits} of {len(wanted)} "
          f"generated digits as the class asked for")
    print("asked for: " + " ".join(map(str, wanted)) + "\nclassified: " + " ".join(map(str, seen)))
    _save_grid(drawn.reshape(1, 10, 8, 8), "32_sequence_generation.png")
    return mse_model, mse_mean, hits


def _save_grid(images, name):
    from fastnn import plot
    if not plot.available():
        print(f"(matplotlib is not installed: skipping {name}; pip install matplotlib)")
        return
    fig = plot.new_figure(figsize=(8, 1.4))
    rows, cols = images.shape[:2]
    for r in range(rows):
        for c in range(cols):
            ax = fig.add_subplot(rows, cols, r * cols + c + 1)
            ax.imshow(images[r, c], cmap="gray_r", vmin=0, vmax=16)
            ax.axis("off")
    fig.suptitle("digits 0-9 generated row by row")
    print(f"saved {plot.save_figure(fig, _common.output_path(name))}")


if __name__ == "__main__":
    main(**_common.count_options(__doc__, epochs=("epochs", CONFIG["epochs"], "epochs"),
                                 hidden=("hidden_size", CONFIG["hidden_size"], "LSTM hidden units")))
