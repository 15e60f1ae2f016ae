"""Sequence 14: a denoising diffusion probabilistic model (DDPM, Ho et al. 2020) on scikit-learn's 8x8 digits.

Forward process in closed form, x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, drawn by the scheduler's fused
kernel (``DDPMScheduler.diffuse``); a small ``fastnn.models.UNet2DModel`` learns to predict eps (MSE) with
``fastnn.train.diffusion.train_ddpm`` (fit, AdamW, EMA of the weights); ancestral sampling runs the reverse
process x_T -> x_0 through ``DDPMPipeline``, and DDIM (``DDIMScheduler``, deterministic) skips steps.

Reports, with one evaluation classifier trained here on the real digits (``ImageEvaluator``, shared with the
GAN examples): confidence, inception-style score and Frechet distance of the samples of DDIM with 50, 20 and
10 steps and of DDPM with every step (and their times), beside the untrained UNet's, a WGAN-GP's and a VAE's
trained here on the same images (the settings of ``fastnn demo gan`` / ``demo vae``), and real images; then the
variational bound in bits per dimension on held-out digits (Ho et al.'s L_T + sum L_t + L_0 with the
discretised decoder), trained beside untrained. Saved: the training curve, a sample grid, the reverse process
(x_t at several t), and the samples of each sampler side by side.
Quick run: ``python examples/66_ddpm_digits.py --epochs 2 --samples 100 --ddpm-steps 50``.
"""
import argparse
import os
import time

import numpy as np

import _gan_common
from _common import fastnn, output_path, save_grid, save_plot
from fastnn.demos import DDPM_DIGITS, GAN_DIGITS, VAE_DIGITS
from fastnn.diffusion import DDIMScheduler, DDPMScheduler
from fastnn.models import UNet2DModel
from fastnn.train.diffusion import sample_images, train_ddpm, variational_bound_bpd


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=DDPM_DIGITS["epochs"], help="DDPM training epochs")
    p.add_argument("--subset", type=int, default=None, help="train on this many digits only (default: all)")
    p.add_argument("--samples", type=int, default=500, help="generated images scored per sampler (default 500)")
    p.add_argument("--ddpm-steps", type=int, default=DDPM_DIGITS["num_train_timesteps"],
                   help="reverse steps of ancestral (DDPM) sampling (default: all 1000)")
    p.add_argument("--ddim-steps", default="50,20,10", help="DDIM step counts compared (default 50,20,10)")
    p.add_argument("--bpd-images", type=int, default=100, help="held-out digits of the bits/dim bound (default 100)")
    p.add_argument("--bpd-steps", type=int, default=0,
                   help="timesteps of the bound: 0 = all 1000, k = k stratified draws (default 0)")
    p.add_argument("--baseline-epochs", type=int, default=None,
                   help="epochs of the WGAN-GP and VAE baselines (default: their demos' own)")
    p.add_argument("--evaluator-epochs", type=int, default=None, help="epochs of the evaluation classifier")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.ddim_steps = [int(s) for s in args.ddim_steps.split(",") if s.strip()]
    for name in ("epochs", "samples", "ddpm_steps", "bpd_images", "subset"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def timed_samples(unet, scheduler, n, steps, seed):
    start = time.perf_counter()
    images = sample_images(unet, scheduler, n, generator=fastnn.Generator().manual_seed(seed),
                           num_inference_steps=steps).numpy()
    return images, time.perf_counter() - start


def reverse_process_grid(unet, scheduler, steps, seed, rows=8, columns=10):
    """x_t of ``rows`` ancestral chains of ``steps`` steps at ``columns`` timesteps from T-1 down to 0 (one row
    per chain)."""
    _, inter = sample_images(unet, scheduler, rows, generator=fastnn.Generator().manual_seed(seed),
                             num_inference_steps=steps, return_intermediates=columns)
    grid = np.stack([x.numpy() for _, x in inter], axis=1)  # (chain, time, C, H, W)
    return (grid.reshape(-1, *grid.shape[2:]) + 1) / 2, [t for t, _ in inter]


def main():
    args = parse_args()
    x, y = _gan_common.load_images("digits")
    print(f"{len(x)} images of 8x8 from {_gan_common.DATASETS['digits']}, scaled to [-1, 1]")
    ev = _gan_common.evaluator(x, y, "digits", args.evaluator_epochs, args.seed)
    train_part = np.setdiff1d(np.arange(len(x)), ev.test_indices)[:args.subset]
    held_out = x[ev.test_indices]
    cfg = DDPM_DIGITS
    fastnn.manual_seed(args.seed)
    unet = UNet2DModel(**cfg["unet"])
    scheduler = DDPMScheduler(num_train_timesteps=cfg["num_train_timesteps"])
    n_params = sum(p.numel() for p in unet.parameters())
    print(f"\nDDPM: UNet2DModel {cfg['unet']['block_out_channels']} ({n_params} parameters), "
          f"{cfg['num_train_timesteps']} steps, trained on the {len(train_part)} digits the classifier trained on, "
          f"{args.epochs} epochs", flush=True)
    result = train_ddpm(unet, x[train_part], epochs=args.epochs, batch_size=cfg["batch_size"], lr=cfg["lr"],
                        lr_warmup_steps=cfg["lr_warmup_steps"], ema_decay=cfg["ema_decay"], scheduler=scheduler,
                        val_images=held_out, verbose=2)
    print(f"trained in {result.seconds:.1f}s ({result.seconds / args.epochs:.2f}s per epoch on "
          f"{fastnn.get_num_threads()} threads)")
    folder = output_path("66_unet_digits")
    result.ema_unet.save_pretrained(folder)
    print(f"saved the EMA UNet to {os.path.relpath(folder)} (examples/68 interpolates with it)")
    save_plot("plot_history", "66_training_loss.png", result.history, keys=["loss"],
              title="DDPM on digits: eps-prediction MSE")

    n, seed = args.samples, args.seed + 1
    ddim = DDIMScheduler.from_config(scheduler.config)
    runs = {}
    for steps in args.ddim_steps:
        runs[f"DDIM {steps} steps"] = timed_samples(result.ema_unet, ddim, n, steps, seed)
    runs[f"DDPM {args.ddpm_steps} steps"] = timed_samples(result.ema_unet, scheduler, n, args.ddpm_steps, seed)
    untrained, _ = timed_samples(result.untrained, ddim, n, args.ddim_steps[0], seed)
    ddpm_name = f"DDPM {args.ddpm_steps} steps"
    save_grid((runs[ddpm_name][0][:100] + 1) / 2, "66_samples.png", nrow=10, scale=4)
    side = [(images[:40] + 1) / 2 for images, _ in runs.values()]
    save_grid(np.concatenate(side), "66_samplers.png", nrow=10, scale=4)
    print(f"  (66_samplers.png: 4 rows per sampler, top to bottom {', '.join(runs)})")
    grid, steps = reverse_process_grid(result.ema_unet, scheduler, args.ddpm_steps, seed)
    save_grid(grid, "66_reverse_process.png", nrow=len(steps), scale=4)
    print(f"  (66_reverse_process.png: one chain per row, x_t at t = {', '.join(map(str, steps))})")

    print("\nbaselines on the same digits (the settings of `fastnn demo gan` and `fastnn demo vae`):", flush=True)
    from fastnn.train import train_vae
    from fastnn.train.gan import train_gan
    gan_cfg = {k: v for k, v in GAN_DIGITS.items() if k != "epochs"}
    gan = train_gan(x[train_part], epochs=args.baseline_epochs or GAN_DIGITS["epochs"], seed=args.seed, **gan_cfg)
    vae = train_vae((x[train_part] + 1) / 2, latent_dim=VAE_DIGITS["latent_dim"], lr=VAE_DIGITS["lr"],
                    batch_size=VAE_DIGITS["batch_size"], epochs=args.baseline_epochs or VAE_DIGITS["epochs"],
                    seed=args.seed)
    vae_samples = vae.model.sample(n, generator=fastnn.Generator().manual_seed(seed)).numpy() * 2 - 1
    print(f"  WGAN-GP trained in {gan.seconds:.1f}s, VAE in {vae.seconds:.1f}s")

    print(f"\nscores of {n} samples (evaluation classifier; Frechet distance to its {len(ev.test_indices)} held-out "
          "real digits, which no generator trained on):")
    for name, (images, seconds) in runs.items():
        print(_gan_common.score_line(f"  {name}", ev.score(images)) + f"  (sampled in {seconds:.1f}s)")
    print(_gan_common.score_line(f"  untrained UNet, DDIM {args.ddim_steps[0]} steps", ev.score(untrained)))
    print(_gan_common.score_line("  WGAN-GP", ev.score(gan.sample(n, seed=seed))))
    print(_gan_common.score_line("  VAE", ev.score(vae_samples)))
    print(_gan_common.score_line(f"  real training digits ({min(n, len(train_part))})",
                                 ev.score(x[train_part[:n]])))

    held = held_out[:args.bpd_images]
    k = args.bpd_steps or None
    how = "all 1000 timesteps" if k is None else f"{k} stratified timesteps (importance-weighted)"
    print(f"\nvariational bound on {len(held)} held-out digits (Ho et al.'s L_T + sum L_t + L_0, {how}), bits per "
          "dimension:", flush=True)
    for name, model in (("trained (EMA)", result.ema_unet), ("untrained", result.untrained)):
        start = time.perf_counter()
        b = variational_bound_bpd(model, scheduler, held, timesteps=k, generator=fastnn.Generator().manual_seed(seed))
        print(f"  {name:<14} {b.bpd:.3f} bits/dim (L_T {b.prior:.1e}, sum L_t {b.diffusion:.3f}, decoder L_0 "
              f"{b.decoder:.3f}; {time.perf_counter() - start:.1f}s)")


if __name__ == "__main__":
    main()
