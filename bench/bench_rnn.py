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


def _copy_weights(torch, src, dst):
    """PyTorch model ``dst`` given fastnn model ``src``'s weights (same parameter names)."""
    with torch.no_grad():
        for name, p in dst.named_parameters():
            p.copy_(torch.from_numpy(np.array(src.get_parameter(name).detach().numpy())))


def _steps(lib, model, x, y):
    xt, yt = lib.tensor(x), lib.tensor(y)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.MSELoss()

    def train():
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()

    def infer():
        with lib.no_grad():
            model(xt)

    return train, infer


def _interleaved(fn_fast, fn_ref, repeats, min_time, rounds):
    best_f = best_r = None
    for _ in range(rounds):
        t = harness.time_ms(fn_fast, warmup=2, repeats=repeats, min_time=min_time)
        best_f = t if best_f is None else min(best_f, t)
        if fn_ref is not None:
            harness.pause()
            t = harness.time_ms(fn_ref, warmup=2, repeats=repeats, min_time=min_time)
            best_r = t if best_r is None else min(best_r, t)
            harness.pause()
    return best_f, best_r


def run(device="cpu", quick=False):
    import fastnn
    if device != "cpu":
        return []
    torch = harness.try_import_torch()
    threads = fastnn.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, INPUT)).astype(np.float32)
    y = rng.standard_normal((BATCH, 1)).astype(np.float32)
    repeats, min_time, rounds = (3, 0.2, 1) if quick else (7, 1.0, 3)
    shape = f"in{INPUT} h{HIDDEN} L{STEPS} b{BATCH}"
    rows = []
    for kind in ("LSTM", "GRU"):
        fastnn.manual_seed(0)
        model_f = _model(fastnn, kind)
        train_f, infer_f = _steps(fastnn, model_f, x, y)
        train_t = infer_t = None
        if torch is not None:
            model_t = _model(torch, kind)
            _copy_weights(torch, model_f, model_t)
            train_t, infer_t = _steps(torch, model_t, x, y)
        for what, ff, ft in (("Adam training step", train_f, train_t), ("inference forward", infer_f, infer_t)):
            t_fast, t_ref = _interleaved(ff, ft, repeats, min_time, rounds)
            note = f"fastnn {BATCH / t_fast * 1e3:,.0f} samples/s"
            if t_ref is not None:
                note += f", PyTorch {BATCH / t_ref * 1e3:,.0f} samples/s"
            rows.append(harness.row(f"{kind} {what}", shape, t_fast, "PyTorch" if t_ref is not None else None, t_ref,
                                    note))
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        ratio = f"{r['ref_ms'] / r['fastnn_ms']:.2f}x" if r.get("ref_ms") else "-"
        print(f"{r['op']:<28} {r['shape']:<22} fastnn {r['fastnn_ms']:.3f} ms  ref {r['ref_ms']:.3f} ms  {ratio}  "
              f"{r['note']}")
