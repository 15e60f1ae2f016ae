"""Per-op overhead of the Tensor layer, fastnn vs PyTorch CPU side by side.

Tiny operands (8 float32 elements) so the time is the Python/dispatch cost of one op: with a
graph recorded (inputs require grad), without (``no_grad``), and one backward through a short
chain. The ratio above 1 means fastnn's layer is cheaper than PyTorch's.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

OPS = [
    ("a + b", lambda m, a, b: a + b),
    ("a * 2.0", lambda m, a, b: a * 2.0),
    ("a @ W (8x8)", lambda m, a, b: a @ b),
    ("relu(a)", lambda m, a, b: m.relu(a)),
    ("a.sum()", lambda m, a, b: a.sum()),
    ("a.exp()", lambda m, a, b: a.exp()),
    ("a[1:5]", lambda m, a, b: a[1:5]),
    ("a.reshape(2, 4)", lambda m, a, b: a.reshape(2, 4)),
    ("softmax(a, 0)", lambda m, a, b: m.softmax(a, 0)),
]


def _per_call_us(fn, repeats):
    # 100 calls per timing sample: the ms figure of harness.time_ms / 100 * 1000 is microseconds per call
    def many():
        for _ in range(100):
            fn()
    return harness.time_ms(many, warmup=2, repeats=repeats, min_time=0.1) * 10.0


def _pair(fastnn, torch, name, build, grad, repeats):
    a_np = np.linspace(-1, 1, 8, dtype=np.float32)
    w_np = np.eye(8, dtype=np.float32)
    fa = fastnn.tensor(a_np, requires_grad=grad)
    fb = fastnn.tensor(a_np[::-1].copy(), requires_grad=grad)
    fw = fastnn.tensor(w_np, requires_grad=grad)
    use_w = "@" in name

    def f_fast():
        build(fastnn, fa, fw if use_w else fb)

    t_fast = _per_call_us(f_fast, repeats) if grad else _nograd(fastnn, f_fast, repeats)
    t_ref = None
    if torch is not None:
        ta = torch.tensor(a_np, requires_grad=grad)
        tb = torch.tensor(a_np[::-1].copy(), requires_grad=grad)
        tw = torch.tensor(w_np, requires_grad=grad)

        def f_torch():
            build(torch, ta, tw if use_w else tb)
        harness.pause(0.05)
        t_ref = _per_call_us(f_torch, repeats) if grad else _nograd(torch, f_torch, repeats)
    return t_fast, t_ref


def _nograd(lib, fn, repeats):
    with lib.no_grad():
        return _per_call_us(fn, repeats)


def run(device="cpu", quick=False):
    if device != "cpu":
        return []
    import fastnn
    torch = harness.try_import_torch()
    repeats = 5 if quick else 11
    rows = []
    for name, build in OPS:
        for grad in (True, False):
            t_fast, t_ref = _pair(fastnn, torch, name, build, grad, repeats)
            # rows carry microseconds in the *_ms columns' units divided by 1000
            rows.append(harness.row(f"op overhead: {name}" + (" (grad)" if grad else " (no_grad)"), "8 elems f32",
                                    t_fast / 1000.0, "PyTorch" if t_ref is not None else None,
                                    None if t_ref is None else t_ref / 1000.0,
                                    f"{t_fast:.2f} us vs {t_ref:.2f} us per call" if t_ref is not None
                                    else f"{t_fast:.2f} us per call"))
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        ratio = f"{r['ref_ms'] / r['fastnn_ms']:.2f}x" if r.get("ref_ms") else "-"
        print(f"{r['op']:<42} {ratio:>7}  {r['note']}")
