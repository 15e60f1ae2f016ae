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


def _copy_weights(torch, src, dst):
    """PyTorch model ``dst`` given fastnn model ``src``'s weights (the same state-dict names)."""
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in src.state_dict().items()}
    dst.load_state_dict(state)


def _steps(lib, model, x, y, device="cpu"):
    xt, yt = lib.tensor(x, device=device), lib.tensor(y, device=device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()

    def train():
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()

    def infer():
        model.eval()
        with lib.no_grad():
            model(xt)

    return train, infer


def _synced(torch, fn):
    def run():
        fn()
        torch.cuda.synchronize()
    return run


def run(device="cpu", quick=False):
    import fastnn
    torch = harness.try_import_torch()
    on_gpu = device != "cpu"
    if on_gpu and torch is not None and not torch.cuda.is_available():
        torch = None
    if torch is not None and not on_gpu:
        torch.set_num_threads(fastnn.get_num_threads())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SEQ, D_MODEL)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int64)
    repeats, min_time, rounds = (3, 0.2, 1) if quick else (7, 1.0, 3)
    shape = f"{LAYERS}x d{D_MODEL} h{HEADS} ff{FF} L{SEQ} b{BATCH}"
    fastnn.manual_seed(0)
    model_f = _model(fastnn)
    train_t = infer_t = None
    if torch is not None:
        model_t = _model(torch)
        _copy_weights(torch, model_f, model_t)
        train_t, infer_t = (_synced(torch, f) if on_gpu else f for f in _steps(torch, model_t.to(device), x, y, device))
    train_f, infer_f = _steps(fastnn, model_f.to(device), x, y, device)
    rows = []
    for what, ff, ft in (("Adam training step", train_f, train_t), ("inference forward", infer_f, infer_t)):
        t_fast, t_ref = harness.interleaved(ff, ft, repeats, min_time, rounds, device)
        note = f"fastnn {BATCH / t_fast * 1e3:,.0f} samples/s"
        if t_ref is not None:
            note += f", PyTorch {BATCH / t_ref * 1e3:,.0f} samples/s"
        rows.append(harness.row(f"TransformerEncoder {what}", shape, t_fast, "PyTorch" if t_ref is not None else None,
                                t_ref, note))
    return rows


if __name__ == "__main__":
    harness.standalone(run)
