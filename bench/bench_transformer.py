"""A transformer encoder's training step, fastnn vs PyTorch side by side: a 2-layer nn.TransformerEncoder
(d_model 128, 4 heads, dim_feedforward 512, dropout 0.1, batch_first) over 32 sequences of 64 tokens, a linear
classification head (10 classes) on the mean-pooled output, cross-entropy and Adam.

Rows: the full training step (zero_grad, forward, loss, backward, step) and the inference forward (no_grad),
with samples/s in the note; ratio = fastnn throughput / PyTorch throughput (= PyTorch time / fastnn time). Both
libraries get the same weights, batch and thread count; the two are timed alternately.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

D_MODEL, HEADS, FF, LAYERS, SEQ, BATCH, CLASSES = 128, 4, 512, 2, 64, 32, 10


def _model(lib):
    class Classifier(lib.nn.Module):
        def __init__(self):
            super().__init__()
            layer = lib.nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.1, batch_first=True)
            self.encoder = lib.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.head = lib.nn.Linear(D_MODEL, CLASSES)

        def forward(self, x):
            return self.head(self.encoder(x).mean(dim=1))

    return Classifier()





def run(device="cpu", quick=False):
    import fastnn
    torch = harness.reference_torch(device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SEQ, D_MODEL)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int64)
    repeats, min_time, rounds = (3, 0.2, 1) if quick else (7, 1.0, 3)
    shape = f"{LAYERS}x d{D_MODEL} h{HEADS} ff{FF} L{SEQ} b{BATCH}"
    fastnn.manual_seed(0)
    model_f = _model(fastnn)
    steps_t = None
    if torch is not None:
        model_t = _model(torch)
        harness.copy_weights(torch, model_f, model_t)
        steps_t = harness.adam_steps(torch, model_t.to(device), torch.nn.CrossEntropyLoss(), x, y, device)
    steps_f = harness.adam_steps(fastnn, model_f.to(device), fastnn.nn.CrossEntropyLoss(), x, y, device)
    return harness.model_step_rows("TransformerEncoder", shape, BATCH, steps_f, steps_t, repeats, min_time, rounds,
                                   device)

if __name__ == "__main__":
    harness.standalone(run)
