"""conv2d forward and forward+backward, fastnn vs PyTorch CPU side by side (same thread count).

Shapes from ANCHORS.md: the LeNet layers and three ResNet-like layers; then conv_transpose2d forward+backward
on a DCGAN generator's layers (28 x 28, batch 64) and the double backward of a WGAN-GP penalty through a
two-conv critic. ``--quick`` uses N=8 for the
ResNet-like layers. The two libraries are timed alternately, best of several rounds, so that load from
other processes on a shared machine hits both alike. The CPU path in use (FASTNN_CPU_PATH picks one)
is printed first and noted on every row.

    [FASTNN_CPU_PATH=avx512|avx2|portable] python bench/bench_conv.py [--quick] [--algo auto|im2col|direct] [--threads N]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# (label, N, C, H, OC, K, stride, padding)
SHAPES = [
    ("LeNet conv1", 128, 1, 28, 6, 5, 1, 0),
    ("LeNet conv2", 128, 6, 12, 16, 5, 1, 0),
    ("ResNet 64->64", 32, 64, 56, 64, 3, 1, 1),
    ("ResNet 128->128", 32, 128, 28, 128, 3, 1, 1),
    ("ResNet 64->128 s2", 32, 64, 56, 128, 3, 2, 1),
]


def run(device="cpu", quick=False):
    import fastnn
    import fastnn.nn.functional as F
    torch = harness.try_import_torch() if device == "cpu" else None
    if torch is not None:
        torch.set_num_threads(fastnn.get_num_threads())
    rng = np.random.default_rng(0)
    rows = []
    for label, n, c, h, oc, k, s, p in SHAPES:
        big = c >= 64
        if quick and big:
            n = 8
        repeats, rounds = (3, 3) if big else (7, 3)
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = (rng.standard_normal((oc, c, k, k)) * 0.1).astype(np.float32)
        b = np.zeros(oc, np.float32)
        fx = fastnn.tensor(x, device=device, requires_grad=True)
        fw = fastnn.tensor(w, device=device, requires_grad=True)
        fb = fastnn.tensor(b, device=device, requires_grad=True)
        oh = (h + 2 * p - k) // s + 1
        g = fastnn.tensor(rng.standard_normal((n, oc, oh, oh)).astype(np.float32), device=device)
        flops = 2.0 * n * oc * oh * oh * c * k * k

        def f_fwd():
            with fastnn.no_grad():
                return F.conv2d(fx, fw, fb, s, p)

        def f_fb():
            fx.grad = fw.grad = fb.grad = None
            F.conv2d(fx, fw, fb, s, p).backward(g)

        t_fwd = t_fb = None
        if torch is not None:
            tx = torch.tensor(x, requires_grad=True)
            tw = torch.tensor(w, requires_grad=True)
            tb = torch.tensor(b, requires_grad=True)
            tg = torch.tensor(g.numpy())

            def t_fwd():
                with torch.no_grad():
                    return torch.nn.functional.conv2d(tx, tw, tb, s, p)

            def t_fb():
                tx.grad = tw.grad = tb.grad = None
                torch.nn.functional.conv2d(tx, tw, tb, s, p).backward(tg)

        shape = f"N{n} {c}->{oc} {h}x{h} k{k} s{s} p{p}"
        for kind, ff, tf, mult in (("fwd", f_fwd, t_fwd, 1.0), ("fwd+bwd", f_fb, t_fb, 3.0)):
            a, r = harness.interleaved(ff, tf, repeats, 0.2 if quick else 0.5, rounds, warmup=1)
            note = f"{label}; fastnn {mult * flops / a / 1e6:.0f} GFLOP/s, {fastnn._C.cpu_path()} path"
            rows.append(harness.row(f"conv2d {kind}", shape, a, "PyTorch" if r is not None else None, r, note))
    rows += transposed_rows(device, quick, torch, rng)
    rows += double_backward_rows(device, quick, torch, rng)
    return rows


# The DCGAN generator's transposed convolutions on 28 x 28 images, batch 64:
# (label, N, C_in, H, C_out, K, stride, padding)
TRANSPOSED = [
    ("DCGAN projection", 64, 64, 1, 128, 7, 1, 0),
    ("DCGAN 7->14", 64, 128, 7, 64, 4, 2, 1),
    ("DCGAN 14->28", 64, 64, 14, 1, 4, 2, 1),
]


def transposed_rows(device, quick, torch, rng):
    import fastnn
    import fastnn.nn.functional as F
    rows = []
    for label, n, c, h, oc, k, s, p in TRANSPOSED:
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = (rng.standard_normal((c, oc, k, k)) * 0.1).astype(np.float32)
        fx = fastnn.tensor(x, device=device, requires_grad=True)
        fw = fastnn.tensor(w, device=device, requires_grad=True)
        oh = (h - 1) * s - 2 * p + k
        g = rng.standard_normal((n, oc, oh, oh)).astype(np.float32)
        fg = fastnn.tensor(g, device=device)

        def f_fb():
            fx.grad = fw.grad = None
            F.conv_transpose2d(fx, fw, None, s, p).backward(fg)

        t_fb = None
        if torch is not None:
            tx, tw, tg = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True), torch.tensor(g)

            def t_fb():
                tx.grad = tw.grad = None
                torch.nn.functional.conv_transpose2d(tx, tw, None, s, p).backward(tg)

        a, r = harness.interleaved(f_fb, t_fb, 5, 0.2 if quick else 0.5, 3, device=device, warmup=1)
        flops = 3 * 2.0 * n * c * h * h * oc * k * k
        note = f"{label}; fastnn {flops / a / 1e6:.0f} GFLOP/s, {fastnn._C.cpu_path()} path"
        rows.append(harness.row("conv_transpose2d fwd+bwd", f"N{n} {c}->{oc} {h}x{h}->{oh}x{oh} k{k} s{s} p{p}", a,
                                "PyTorch" if r is not None else None, r, note))
    return rows


def _critic(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Flatten(), nn.Linear(128 * 7 * 7, 1))


def double_backward_rows(device, quick, torch, rng):
    """The WGAN-GP penalty's grad-of-grad through a two-conv critic: forward, the input gradient with
    create_graph=True, the penalty on its norm and the backward of that to the critic's weights."""
    import fastnn
    n = 64
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    critic = _critic(fastnn).to(device)

    def penalty_step(lib, model, xt):
        def step():
            model.zero_grad()
            xh = xt.detach().requires_grad_(True)
            (gx,) = lib.autograd.grad(model(xh).sum(), xh, create_graph=True)
            ((gx.reshape(n, -1).norm(2, dim=1) - 1) ** 2).mean().backward()
        return step

    f = penalty_step(fastnn, critic, fastnn.tensor(x, device=device))
    t = None
    if torch is not None:
        tc = _critic(torch)
        harness.copy_weights(torch, critic, tc)
        t = penalty_step(torch, tc, torch.tensor(x))
    a, r = harness.interleaved(f, t, 5, 0.2 if quick else 0.5, 3, device=device, warmup=1)
    return [harness.row("conv2d double backward", f"N{n} 1x28x28 critic conv 1->64->128 k4 s2, linear", a,
                        "PyTorch" if r is not None else None, r,
                        f"WGAN-GP penalty: grad(create_graph=True) then backward; {fastnn._C.cpu_path()} path")]


if __name__ == "__main__":
    import fastnn
    if "--algo" in sys.argv:
        fastnn._C.set_conv_algorithm(sys.argv[sys.argv.index("--algo") + 1])
    harness.standalone(run)
