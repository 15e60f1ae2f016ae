"""The diffusion kernels (csrc/ops/diffusion/) through fastnn.diffusion's schedulers, against the same work in
PyTorch eager / diffusers 0.42.1 (PyTorch eager), side by side (same thread count, alternating, best of rounds):

* noising with per-sample timesteps, drawing the noise: ``DDPMScheduler.diffuse(x0, t, generator)`` against
  ``noise = torch.randn_like(x0); sqrt_ac[t].view(-1, 1, 1, 1) * x0 + sqrt_1m[t].view(-1, 1, 1, 1) * noise``,
  on (128, 1, 28, 28) and (64, 3, 64, 64); the noise given (``add_noise``) against the same without randn;
* one reverse step on (64, 3, 64, 64) including its noise: ``DDPMScheduler.step`` against diffusers'
  ``DDPMScheduler.step`` with a ``torch.Generator``; DDIM (eta = 0) likewise;
* float16 storage rows (arithmetic in float32) against PyTorch in float16.

On CUDA: the fused noising against a device copy of the same bytes (cupy), as effective bandwidth (bytes read and
written per second: x0 read, x_t and the noise written). ``--quick`` uses fewer repeats."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

T = 1000
NOISE_SHAPES = ((128, 1, 28, 28), (64, 3, 64, 64))
STEP_SHAPE = (64, 3, 64, 64)


def _diffusers():
    try:
        import diffusers
    except ImportError:
        return None
    return diffusers


def _cpu_rows(quick):
    import fastnn
    from fastnn import diffusion
    torch = harness.reference_torch("cpu")
    dif = _diffusers() if torch is not None else None
    repeats, min_time, rounds = (5, 0.1, 1) if quick else (9, 0.4, 3)
    rng = np.random.default_rng(0)
    sched = diffusion.DDPMScheduler(num_train_timesteps=T)
    gen = fastnn.Generator().manual_seed(0)
    ac = sched.alphas_cumprod.numpy().astype(np.float32)
    rows = []
    for dtype, tdt_name in ((np.float32, "f32"), (np.float16, "f16")):
        shapes = NOISE_SHAPES if dtype == np.float32 else NOISE_SHAPES[1:]
        for shape in shapes:
            x = rng.standard_normal(shape).astype(dtype)
            t = rng.integers(0, T, shape[0])
            fx, ft = fastnn.tensor(x), fastnn.tensor(t)
            noise = fastnn.tensor(rng.standard_normal(shape).astype(dtype))
            ref = ref_given = None
            if torch is not None:
                tdt = torch.float32 if dtype == np.float32 else torch.float16
                tx, tt = torch.from_numpy(x), torch.from_numpy(t)
                tn = torch.from_numpy(noise.numpy())
                sa = torch.from_numpy(np.sqrt(ac)).to(tdt)
                sb = torch.from_numpy(np.sqrt(1 - ac)).to(tdt)

                def ref():
                    n = torch.randn_like(tx)
                    return sa[tt].view(-1, 1, 1, 1) * tx + sb[tt].view(-1, 1, 1, 1) * n

                def ref_given():
                    return sa[tt].view(-1, 1, 1, 1) * tx + sb[tt].view(-1, 1, 1, 1) * tn

            a, r = harness.interleaved(lambda: sched.diffuse(fx, ft, generator=gen), ref, repeats, min_time, rounds)
            rows.append(harness.row("diffusion noising (noise drawn)", f"{shape} {tdt_name}", a,
                                    "PyTorch" if r is not None else None, r,
                                    f"fastnn {x.size / a / 1e6:.2f} G elements/s"))
            a, r = harness.interleaved(lambda: sched.add_noise(fx, noise, ft), ref_given, repeats, min_time, rounds)
            rows.append(harness.row("diffusion add_noise (noise given)", f"{shape} {tdt_name}", a,
                                    "PyTorch" if r is not None else None, r))
    # the reverse step, noise included
    for dtype, tdt_name in ((np.float32, "f32"), (np.float16, "f16")):
        x = rng.standard_normal(STEP_SHAPE).astype(dtype)
        eps = rng.standard_normal(STEP_SHAPE).astype(dtype)
        fx, fe = fastnn.tensor(x), fastnn.tensor(eps)
        for kind in ("DDPM", "DDIM"):
            if kind == "DDIM" and dtype == np.float16:
                continue
            ours = getattr(diffusion, f"{kind}Scheduler")(num_train_timesteps=T)
            ours.set_timesteps(50 if kind == "DDIM" else T)
            t_step = int(ours.timesteps[len(ours.timesteps) // 2])
            ref = None
            if dif is not None:
                theirs = getattr(dif, f"{kind}Scheduler")(num_train_timesteps=T)
                theirs.set_timesteps(50 if kind == "DDIM" else T)
                tdt = torch.float32 if dtype == np.float32 else torch.float16
                tx, te = torch.from_numpy(x).to(tdt), torch.from_numpy(eps).to(tdt)
                tg = torch.Generator().manual_seed(0)

                def ref(theirs=theirs, tx=tx, te=te, tg=tg):
                    return theirs.step(te, t_step, tx, generator=tg).prev_sample

            a, r = harness.interleaved(lambda: ours.step(fe, t_step, fx, generator=gen).prev_sample, ref, repeats,
                                       min_time, rounds)
            rows.append(harness.row(f"{kind}Scheduler.step" + (" (noise drawn)" if kind == "DDPM" else " (eta=0)"),
                                    f"{STEP_SHAPE} {tdt_name}", a, "diffusers" if r is not None else None, r))
    return rows


def _cuda_rows(quick):
    import fastnn
    from fastnn import backend
    cp = backend.cupy_module()
    from bench_cuda import _events_ms
    from fastnn.kernels import diffusion as kd
    rows = []
    ac = np.cumprod(1.0 - np.linspace(1e-4, 0.02, T))
    sa, sb = cp.asarray(np.sqrt(ac)), cp.asarray(np.sqrt(1.0 - ac))
    shapes = ((64, 3, 64, 64), (256, 3, 128, 128)) if quick else ((64, 3, 64, 64), (256, 3, 128, 128), (64, 4, 512, 512))
    for dtype, name in ((cp.float32, "f32"), (cp.float16, "f16")):
        for shape in shapes:
            x = cp.random.default_rng(0).standard_normal(shape, dtype=cp.float32).astype(dtype)
            t = cp.asarray(np.random.default_rng(1).integers(0, T, shape[0]))
            nbytes = x.nbytes
            ms = _events_ms(cp, lambda: kd.diffuse(x, t, sa, sb, 1, 0))
            ms_copy = _events_ms(cp, lambda: x.copy())
            bw = 3 * nbytes / ms / 1e6  # GB/s: x0 read, x_t and the noise written
            bw_copy = 2 * nbytes / ms_copy / 1e6
            rows.append(harness.row("diffusion noising (noise drawn)", f"{shape} {name}", ms, "device copy", ms_copy,
                                    f"{bw:.0f} GB/s = {100 * bw / bw_copy:.0f} % of copy ({bw_copy:.0f} GB/s)"))
            z = x.copy()
            ms = _events_ms(cp, lambda: kd.sampling_step(x, z, (0.9, -0.4, 0, 0, 0, 0.6, 0.35, 0, 0.08), 1, 0))
            bw = 4 * nbytes / ms / 1e6  # two read, two written
            rows.append(harness.row("sampling step (noise drawn)", f"{shape} {name}", ms, "device copy", ms_copy,
                                    f"{bw:.0f} GB/s = {100 * bw / bw_copy:.0f} % of copy"))
    return rows


def run(device="cpu", quick=False):
    if device == "cpu":
        return _cpu_rows(quick)
    from fastnn import backend
    if not backend.cuda_available():
        return []
    return _cuda_rows(quick)


if __name__ == "__main__":
    harness.standalone(run)
