"""Sequence 14: interpolation with a diffusion model, on the digits DDPM of examples/66.

1. Between two starting noises x_T: ``fastnn.diffusion.interpolate_noise`` (spherical, ``slerp``) then DDIM's
   deterministic reverse process from each interpolant (``latents=``). A Gaussian sample in d dimensions lies
   near the sphere of radius sqrt(d): slerp stays on it, while the linear midpoint is about sqrt(2) times too
   short, noise the model never saw at t = T (larger image models turn it into washed-out images; the printed
   norm and pixel spread of the middle images show how much it matters for this one).
2. Between two real images through x_t (Ho et al. 2020, section 4.3): both are noised to level t with the same
   eps, mixed, and denoised from t (``fastnn.diffusion.interpolate_images``). At small t the interpolants keep
   the two images' details and cross-fade; at large t only coarse attributes survive and the path goes through
   other, sharp digits.

The UNet is the one examples/66 saves (``output/66_unet_digits``, read with ``UNet2DModel.from_pretrained``),
else one trained here with the settings of ``fastnn demo diffusion``. Saved: the noise interpolations (slerp
and linear) and the image interpolations at several levels, as PNG grids; the classifier of the GAN examples
names the digit of each interpolant.
Quick run: ``python examples/68_diffusion_interpolation.py --epochs 2 --steps 10``.
"""
import argparse
import os

import numpy as np

import _gan_common
from _common import fastnn, output_path, save_grid
from fastnn.demos import DDPM_DIGITS
from fastnn.diffusion import DDIMScheduler, DDPMScheduler, interpolate_images, interpolate_noise
from fastnn.models import UNet2DModel
from fastnn.train.diffusion import sample_images, train_ddpm


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=DDPM_DIGITS["epochs"],
                   help="training epochs when no UNet saved by examples/66 is found")
    p.add_argument("--subset", type=int, default=None, help="train on this many digits only (default: all)")
    p.add_argument("--unet", default=None, help="a folder written by UNet2DModel.save_pretrained "
                                                "(default: output/66_unet_digits when it exists)")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps (default 50)")
    p.add_argument("--pairs", type=int, default=4, help="interpolated pairs of noises (default 4)")
    p.add_argument("--points", type=int, default=9, help="interpolants per pair, ends included (default 9)")
    p.add_argument("--levels", default="100,300,500,700", help="noise levels t of the image interpolation")
    p.add_argument("--evaluator-epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.levels = [int(t) for t in args.levels.split(",") if t.strip()]
    if args.points < 2 or args.steps < 1 or args.pairs < 1 or args.epochs < 1:
        p.error("--points must be at least 2, --steps, --pairs and --epochs at least 1")
    return args


def load_or_train(args, x, train_part, scheduler):
    folder = args.unet or output_path("66_unet_digits")
    if os.path.isdir(folder):
        print(f"UNet loaded from {os.path.relpath(folder)}")
        return UNet2DModel.from_pretrained(folder)
    if args.unet:
        raise SystemExit(f"--unet {args.unet}: no such folder")
    cfg = DDPM_DIGITS
    fastnn.manual_seed(args.seed)
    result = train_ddpm(UNet2DModel(**cfg["unet"]), x[train_part[:args.subset]], epochs=args.epochs, batch_size=cfg["batch_size"],
                        lr=cfg["lr"], lr_warmup_steps=cfg["lr_warmup_steps"], ema_decay=cfg["ema_decay"],
                        scheduler=scheduler)
    print(f"no UNet saved by examples/66: trained one here, {args.epochs} epochs in {result.seconds:.1f}s")
    return result.ema_unet


def digits_named(ev, images):
    return "".join(str(d) for d in ev.predict(np.asarray(images)))


def main():
    args = parse_args()
    x, y = _gan_common.load_images("digits")
    ev = _gan_common.evaluator(x, y, "digits", args.evaluator_epochs, args.seed)
    train_part = np.setdiff1d(np.arange(len(x)), ev.test_indices)
    scheduler = DDPMScheduler(num_train_timesteps=DDPM_DIGITS["num_train_timesteps"])
    unet = load_or_train(args, x, train_part, scheduler)
    unet.eval()
    ddim = DDIMScheduler.from_config(scheduler.config)
    g = fastnn.Generator().manual_seed(args.seed + 1)
    d = int(np.prod(x.shape[1:]))

    print(f"\n1. between two noises x_T ({args.pairs} pairs, {args.points} points, DDIM {args.steps} steps); the "
          f"norm of a Gaussian x_T is about sqrt({d}) = {np.sqrt(d):.1f}:")
    for method in ("slerp", "linear"):
        rows, norms = [], []
        for _ in range(args.pairs):
            za, zb = fastnn.randn(1, *x.shape[1:], generator=g), fastnn.randn(1, *x.shape[1:], generator=g)
            latents = interpolate_noise(za, zb, args.points, method=method)
            norms.append(float(latents[args.points // 2].norm()))
            images = sample_images(unet, ddim, args.points, latents=latents, num_inference_steps=args.steps)
            rows.append(images.numpy())
        g.manual_seed(args.seed + 1)  # the same pairs for both methods
        grid = np.concatenate(rows)
        contrast = float(np.mean([r.std(axis=(1, 2, 3))[args.points // 2] for r in rows]))
        print(f"  {method:<6}: norm of the middle x_T {np.mean(norms):5.2f}; pixel std of the middle image "
              f"{contrast:.3f}; digits along the first pair: {digits_named(ev, rows[0])}")
        save_grid((grid + 1) / 2, f"68_noise_{method}.png", nrow=args.points, scale=4)

    held = x[ev.test_indices]
    a, b = held[np.flatnonzero(y[ev.test_indices] == 0)[0]], held[np.flatnonzero(y[ev.test_indices] == 7)[0]]
    print(f"\n2. between a held-out 0 and a held-out 7 through x_t (same eps, linear mix, DDIM {args.steps} steps "
          "from t):")
    rows = []
    for t in args.levels:
        out = interpolate_images(fastnn.tensor(a), fastnn.tensor(b), t, unet, ddim, args.points,
                                 generator=fastnn.Generator().manual_seed(args.seed), num_inference_steps=args.steps)
        images = out.images.numpy()
        rows.append(np.concatenate([a[None], images, b[None]]))
        err = float(np.mean((images[0] - a) ** 2)), float(np.mean((images[-1] - b) ** 2))
        print(f"  t={out.timestep:>4}: digits {digits_named(ev, images)}; ends reconstructed with MSE {err[0]:.3f} "
              f"and {err[1]:.3f}")
    save_grid((np.concatenate(rows).clip(-1, 1) + 1) / 2, "68_image_interpolation.png", nrow=args.points + 2, scale=4)
    print("  (68_image_interpolation.png: one row per level, the real 0 and 7 at the ends)")


if __name__ == "__main__":
    main()
