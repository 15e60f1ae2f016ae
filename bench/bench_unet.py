"""The DDPM UNet's training step, fastnn's ``UNet2DModel`` vs diffusers' ``UNet2DModel`` (PyTorch eager) side by
side: the same configuration, the same weights (diffusers' state dict loaded into fastnn), the same batch, noise
targets and timesteps, the same thread count, timed alternately.

One step = forward of the noisy batch at per-sample timesteps, MSE against the noise (epsilon-prediction),
backward, Adam(1e-4). Two configurations, those of the diffusion examples:

- "digits": 1x8x8, block_out_channels (32, 64), DownBlock2D + AttnDownBlock2D / AttnUpBlock2D + UpBlock2D,
  layers_per_block 1, norm_num_groups 8 (attention at 4x4 and in the middle block);
- "28x28": 1x28x28, block_out_channels (32, 64, 64), attention at the lowest resolution (7x7) only,
  layers_per_block 1, norm_num_groups 8.

Batch 64. A third row gives the 28x28 forward alone under no_grad (one sampling step's network call).

    python bench/bench_unet.py [--threads 2] [--quick] [--profile]

``--profile`` prints, for fastnn, where the training step's time goes (cProfile's functions by own time,
which for the native kernels is the kernel time).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BATCH = 64
CONFIGS = {
    "digits": dict(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(32, 64), layers_per_block=1,
                   down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                   up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8),
    "28x28": dict(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64), layers_per_block=1,
                  down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                  up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=8),
}


def _inputs(config, rng):
    s = config["sample_size"]
    x = rng.standard_normal((BATCH, config["in_channels"], s, s)).astype(np.float32)
    noise = rng.standard_normal(x.shape).astype(np.float32)
    t = rng.integers(0, 1000, BATCH).astype(np.int64)
    return x, noise, t


def models(name, torch=None):
    """(fastnn model, diffusers model or None) of configuration ``name``, with the same weights."""
    import fastnn
    from fastnn.models import UNet2DModel
    fastnn.manual_seed(0)
    fm = UNet2DModel(**CONFIGS[name])
    tm = None
    if torch is not None:
        try:
            from diffusers import UNet2DModel as DiffusersUNet
        except ImportError:
            return fm, None
        torch.manual_seed(0)
        tm = DiffusersUNet(**CONFIGS[name])
        tm.load_state_dict({k: torch.from_numpy(np.array(v.detach().numpy())) for k, v in fm.state_dict().items()})
    return fm, tm


def train_step(lib, model, config, rng_seed=0):
    """One epsilon-prediction step of ``lib`` (fastnn or torch) on fixed inputs; returns the loss."""
    x, noise, t = _inputs(config, np.random.default_rng(rng_seed))
    x, noise, t = lib.tensor(x), lib.tensor(noise), lib.tensor(t)
    opt = lib.optim.Adam(model.parameters(), lr=1e-4)
    mse = lib.nn.functional.mse_loss

    def step():
        opt.zero_grad()
        loss = mse(model(x, t).sample, noise)
        loss.backward()
        opt.step()
        return loss
    return step


def forward_only(lib, model, config):
    x, _, t = _inputs(config, np.random.default_rng(0))
    x, t = lib.tensor(x), lib.tensor(t)

    def fwd():
        with lib.no_grad():
            return model(x, t).sample
    return fwd


def run(device="cpu", quick=False):
    import fastnn
    if device != "cpu":
        return []
    torch = harness.reference_torch(device)
    repeats, min_time, rounds = (3, 0.2, 1) if quick else (5, 1.0, 3)
    rows = []
    for name, config in CONFIGS.items():
        fm, tm = models(name, torch)
        shape = f"{config['in_channels']}x{config['sample_size']}x{config['sample_size']} batch {BATCH} f32"
        fast = train_step(fastnn, fm, config)
        ref = train_step(torch, tm, config) if tm is not None else None
        t_fast, t_ref = harness.interleaved(fast, ref, repeats, min_time, rounds)
        rows.append(harness.row(f"UNet2DModel {name} training step (eps MSE, Adam)", shape, t_fast,
                                "diffusers" if t_ref is not None else None, t_ref))
        if name == "28x28":
            fwd_ref = forward_only(torch, tm, config) if tm is not None else None
            t_fast, t_ref = harness.interleaved(forward_only(fastnn, fm, config), fwd_ref, repeats, min_time, rounds)
            rows.append(harness.row(f"UNet2DModel {name} forward (no_grad)", shape, t_fast,
                                    "diffusers" if t_ref is not None else None, t_ref))
    return rows


def profile(name="28x28", steps=3):
    """fastnn's functions by own time over ``steps`` training steps of configuration ``name``."""
    import cProfile
    import pstats

    import fastnn
    fm, _ = models(name)
    step = train_step(fastnn, fm, CONFIGS[name])
    step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    if "--profile" in sys.argv:
        import fastnn
        if "--threads" in sys.argv:
            fastnn.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
        for cfg in CONFIGS:
            print(f"== {cfg}")
            profile(cfg)
    else:
        harness.standalone(run)
