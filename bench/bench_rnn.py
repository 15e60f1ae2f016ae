"""Recurrent layers, fastnn vs PyTorch side by side: an LSTM and a GRU (input 16, hidden 128, 50 steps,
batch 64, batch_first) with a linear head on the last step's output.

Rows: the full Adam training step (forward, MSE loss, backward, step) and the inference forward
(no_grad), with samples/s in the note. Both libraries get the same weights, batch and thread count;
the two are timed alternately (best of rounds of medians) so load from other processes hits both.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

INPUT, HIDDEN, STEPS, BATCH = 16, 128, 50, 64


def _model(lib, kind):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(lib.nn, kind)(INPUT, HIDDEN, batch_first=True)
            self.head = lib.nn.Linear(HIDDEN, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    return Net()





def run(device="cpu", quick=False):
    import fastnn
    torch = harness.reference_torch(device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, INPUT)).astype(np.float32)
    y = rng.standard_normal((BATCH, 1)).astype(np.float32)
    repeats, min_time, rounds = (3, 0.2, 1) if quick else (7, 1.0, 3)
    shape = f"in{INPUT} h{HIDDEN} L{STEPS} b{BATCH}"
    rows = []
    for kind in ("LSTM", "GRU"):
        fastnn.manual_seed(0)
        model_f = _model(fastnn, kind)
        steps_t = None
        if torch is not None:
            model_t = _model(torch, kind)
            harness.copy_weights(torch, model_f, model_t)  # from the CPU weights, before either moves
            steps_t = harness.adam_steps(torch, model_t.to(device), torch.nn.MSELoss(), x, y, device)
        steps_f = harness.adam_steps(fastnn, model_f.to(device), fastnn.nn.MSELoss(), x, y, device)
        rows += harness.model_step_rows(kind, shape, BATCH, steps_f, steps_t, repeats, min_time, rounds, device)
    return rows

if __name__ == "__main__":
    harness.standalone(run)
