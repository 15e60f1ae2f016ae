"""Training-step throughput, fastnn vs PyTorch side by side, plus the per-op cost of autograd.

Each case in ``CASES`` builds the same model in both libraries (same weights), one training step
(forward + loss + backward + optimiser step) is timed on the same batch, and the row reports ms
per step with samples/s in the note. PyTorch runs with as many threads as fastnn.

Add a case by appending a ``Case`` (e.g. LeNet-5 with Adam) with its two builders.
"""
from __future__ import annotations

import os
import sys
from collections import namedtuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


# name: row label; shape: row shape column; batch; make_input(rng, batch) -> (x float32, y int64);
# build_fastnn(fastnn, device, x, y) -> step() with step.model; build_torch(torch, device, x, y, weights) -> step();
# export_weights(fastnn model) -> numpy arrays in PyTorch's parameter order.
# (a namedtuple, not a dataclass: bench/run.py loads this file without registering it as a module)
Case = namedtuple("Case", "name shape batch make_input build_fastnn build_torch export_weights")


def _train_step(model, opt, loss_fn, xt, yt):
    """One training step on the fixed batch (the same code for both libraries); ``step.model`` is the model."""
    def step():
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    step.model = model
    return step


def _torch_step(torch, device, model, weights, opt_cls, x, y, **opt_args):
    """PyTorch's side: ``model`` given fastnn's initial weights, a step on the same batch, on ``device``."""
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    model.to(device)
    opt = opt_cls(model.parameters(), **opt_args)
    return _train_step(model, opt, torch.nn.CrossEntropyLoss(), torch.from_numpy(x).to(device),
                       torch.from_numpy(y).to(device))


def _fastnn_step(fastnn, device, model, opt_cls, x, y, **opt_args):
    model.to(device)
    opt = opt_cls(model.parameters(), **opt_args)
    return _train_step(model, opt, fastnn.nn.CrossEntropyLoss(), fastnn.tensor(x, device=device),
                       fastnn.tensor(y, device=device))


# ------------------------------------------------------------------ MLP 784-256-128-10 + SGD

_MLP_SIZES = (784, 256, 128, 10)


def _mlp_input(rng, batch):
    return rng.standard_normal((batch, 784)).astype(np.float32), rng.integers(0, 10, batch).astype(np.int64)


def _mlp_fastnn(fastnn, device, x, y):
    nn = fastnn.nn
    fastnn.manual_seed(0)
    s = _MLP_SIZES
    model = nn.Sequential(nn.Linear(s[0], s[1]), nn.ReLU(), nn.Linear(s[1], s[2]), nn.ReLU(), nn.Linear(s[2], s[3]))
    return _fastnn_step(fastnn, device, model, fastnn.optim.SGD, x, y, lr=0.01, momentum=0.9)


def _mlp_torch(torch, device, x, y, weights):
    nn = torch.nn
    s = _MLP_SIZES
    model = nn.Sequential(nn.Linear(s[0], s[1]), nn.ReLU(), nn.Linear(s[1], s[2]), nn.ReLU(), nn.Linear(s[2], s[3]))
    return _torch_step(torch, device, model, weights, torch.optim.SGD, x, y, lr=0.01, momentum=0.9)


def _export(model):
    return [p.detach().cpu().numpy().copy() for p in model.parameters()]


CASES = [
    Case("train step MLP 784-256-128-10 SGD+momentum, CE", "batch 128 f32", 128, _mlp_input, _mlp_fastnn,
         _mlp_torch, _export),
]


# ------------------------------------------------------------------ LeNet-5 (1x28x28) + Adam

def _lenet_input(rng, batch):
    return rng.standard_normal((batch, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, batch).astype(np.int64)


def _lenet_fastnn(fastnn, device, x, y):
    from fastnn.models import LeNet5
    fastnn.manual_seed(0)
    return _fastnn_step(fastnn, device, LeNet5(), fastnn.optim.Adam, x, y, lr=1e-3)


def _lenet_torch(torch, device, x, y, weights):
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
    return _torch_step(torch, device, model, weights, torch.optim.Adam, x, y, lr=1e-3)


CASES.append(Case("train step LeNet-5 Adam, CE", "1x28x28 batch 128 f32", 128, _lenet_input, _lenet_fastnn,
                  _lenet_torch, _export))

# ------------------------------------------------------------------ tiny-op overhead

def _tiny_op_rows(fastnn, torch, repeats):
    a_np = np.arange(8, dtype=np.float32)
    a = fastnn.tensor(a_np, requires_grad=True)
    b = fastnn.tensor(a_np[::-1].copy(), requires_grad=True)

    def f_fast():
        (a * b).sum().backward()

    f_torch = None
    if torch is not None:
        at = torch.tensor(a_np, requires_grad=True)
        bt = torch.tensor(a_np[::-1].copy(), requires_grad=True)

        def f_torch():
            (at * bt).sum().backward()

    t_fast, t_ref = harness.interleaved(f_fast, f_torch, repeats, 0.3, 3)
    return [harness.row("autograd overhead: (a*b).sum().backward()", "8 elems f32", t_fast,
                        "PyTorch" if t_ref is not None else None, t_ref,
                        "3 ops forward + backward; time per call")]


# ------------------------------------------------------------------ optimiser step alone

def _resnet18_shapes():
    """The parameter shapes of ResNet-18 (ImageNet head): 62 arrays, 11.7M values."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            first_in = cin if block == 0 else cout
            shapes += [(cout, first_in, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)]
            if block == 0 and (stride != 1 or cin != cout):
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
        cin = cout
    return shapes + [(1000, 512), (1000,)]


def _optimizer_rows(fastnn, torch, repeats, quick):
    """One optimiser step over a model's parameters with fixed gradients: fastnn's fused kernel (its array
    operations in the note) against PyTorch's default CPU step."""
    from fastnn.models import LeNet5
    from fastnn.optim import optimizer as optimizer_module
    rng = np.random.default_rng(0)
    cases = [("Adam", "LeNet-5", [tuple(p.shape) for p in LeNet5().parameters()], dict(lr=1e-3)),
             ("SGD+momentum", "LeNet-5", [tuple(p.shape) for p in LeNet5().parameters()], dict(lr=0.01, momentum=0.9)),
             ("Adam", "ResNet-18", _resnet18_shapes(), dict(lr=1e-3)),
             ("SGD+momentum", "ResNet-18", _resnet18_shapes(), dict(lr=0.01, momentum=0.9))]
    rows = []
    for opt_name, model, shapes, kw in cases:
        init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        cls = "Adam" if opt_name == "Adam" else "SGD"

        def make_fast():
            ps = [fastnn.tensor(a.copy(), requires_grad=True) for a in init]
            for p, g in zip(ps, grads):
                p.grad = fastnn.tensor(g)
            return getattr(fastnn.optim, cls)(ps, **kw).step

        step_t = None
        if torch is not None:
            pt = [torch.tensor(a.copy(), requires_grad=True) for a in init]
            for p, g in zip(pt, grads):
                p.grad = torch.from_numpy(g)
            step_t = getattr(torch.optim, cls)(pt, **kw).step
        min_time = 0.2 if quick else 0.5
        t_fast, t_ref = harness.interleaved(make_fast(), step_t, repeats, min_time, 2 if quick else 3)
        old = optimizer_module._FUSED
        optimizer_module._FUSED = False
        try:
            t_arrays = harness.time_ms(make_fast(), warmup=2, repeats=repeats, min_time=min_time)
        finally:
            optimizer_module._FUSED = old
        n = sum(int(np.prod(s)) for s in shapes)
        rows.append(harness.row(f"optimiser step {opt_name}, {model} parameters", f"{n / 1e6:.2f}M f32", t_fast,
                                "PyTorch" if t_ref is not None else None, t_ref,
                                f"{len(shapes)} arrays; fastnn's array operations {t_arrays:.3f} ms"))
    return rows


def _case_row(case, fastnn, torch, device, rng, repeats, quick, label_suffix=""):
    x, y = case.make_input(rng, case.batch)
    step_f = case.build_fastnn(fastnn, device, x, y)
    weights = case.export_weights(step_f.model)
    step_t = None
    if _torch_on(torch, device):
        step_t = case.build_torch(torch, device, x, y, weights)
    t_fast, t_ref = harness.interleaved(step_f, step_t, repeats, 0.3 if quick else 1.0, 2 if quick else 4, device)
    note = f"fastnn {case.batch / t_fast * 1e3:,.0f} samples/s"
    if t_ref is not None:
        note += f", PyTorch {case.batch / t_ref * 1e3:,.0f} samples/s"
    return harness.row(case.name + label_suffix, case.shape, t_fast, "PyTorch" if t_ref is not None else None,
                       t_ref, note)


def _torch_on(torch, device):
    return torch is not None and (device == "cpu" or torch.cuda.is_available())


def run(device="cpu", quick=False):
    import fastnn
    torch = harness.try_import_torch()
    if torch is not None and device != "cpu":
        # float32 on both sides: PyTorch would otherwise run its convolutions in TF32 (fastnn's
        # TF32 switches are off by default)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    threads = fastnn.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    repeats = 5 if quick else 15
    rows = []
    rng = np.random.default_rng(0)
    for case in CASES:
        rows.append(_case_row(case, fastnn, torch, device, rng, repeats, quick))
    if device == "cpu" and threads > 1 and not quick:
        # one core each: the per-core comparison, insensitive to other processes taking a core
        # away from a multi-threaded run on a shared machine
        fastnn.set_num_threads(1)
        if torch is not None:
            torch.set_num_threads(1)
        try:
            rows.append(_case_row(CASES[0], fastnn, torch, device, rng, repeats, quick, " (1 thread)"))
        finally:
            fastnn.set_num_threads(threads)
            if torch is not None:
                torch.set_num_threads(threads)
    if device == "cpu":
        rows += _optimizer_rows(fastnn, torch, repeats, quick)
    rows += _tiny_op_rows(fastnn, torch if device == "cpu" else None, repeats)
    return rows


if __name__ == "__main__":
    harness.standalone(run)
