"""Sequence 14: a class-conditional DDPM on 28x28 digits (MNIST) or clothes (Fashion-MNIST), with
classifier-free guidance.

A ``fastnn.models.UNet2DModel`` with a class embedding (10 classes + a null class) learns eps-prediction on
the real images with ``fastnn.train.diffusion.train_ddpm``; each label is replaced by the null class with
probability ``--p-uncond`` (Ho & Salimans 2021), so the same network is also the unconditional model. An EMA
of the weights is kept; a checkpoint is written after every epoch and ``--resume`` continues an interrupted run
from it exactly. Sampling (DDIM) mixes the two predictions, eps = eps(x, null) + w (eps(x, y) - eps(x, null)):
w = 0 is the unconditional model, w = 1 the conditional one, w = 3 pushes the samples towards their class.

Reports, with the evaluation classifier of the GAN examples (``ImageEvaluator``): for each w, how often the
classifier labels a sample with the class it was asked for, its confidence, inception score and Frechet
distance, beside the untrained UNet's; the training time. Saved: the training curve, one grid per w (one row
per class), and the EMA UNet with ``save_pretrained``.
Quick run: ``python examples/67_ddpm_mnist.py --epochs 1 --subset 500 --samples-per-class 10``.
"""
import argparse
import os
import time

import numpy as np

import _gan_common
from _common import fastnn, output_path, save_grid, save_plot
from fastnn.diffusion import DDIMScheduler, DDPMScheduler
from fastnn.models import UNet2DModel
from fastnn.train import ModelCheckpoint
from fastnn.train.diffusion import sample_images, train_ddpm

# 28 -> 14 pixels, self-attention in the 14x14 middle block; 11 class embeddings, the last one the null class
UNET = dict(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64), layers_per_block=1,
            down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
            norm_num_groups=8, attention_head_dim=8, num_class_embeds=11)
TRAIN = dict(batch_size=64, lr=2e-3, lr_warmup_steps=200, ema_decay=0.995)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--subset", type=int, default=None, help="train on this many images only (default: all)")
    p.add_argument("--p-uncond", type=float, default=0.1, help="label dropout probability (default 0.1)")
    p.add_argument("--guidance", default="0,1,3", help="guidance scales w compared (default 0,1,3)")
    p.add_argument("--samples-per-class", type=int, default=50)
    p.add_argument("--steps", type=int, default=50, help="DDIM sampling steps (default 50)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint of an interrupted run")
    p.add_argument("--evaluator-epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.guidance = [float(w) for w in args.guidance.split(",") if w.strip()]
    for name in ("epochs", "samples_per_class", "steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main():
    args = parse_args()
    x, y = _gan_common.load_images(args.dataset, args.subset, args.seed)
    print(f"{len(x)} images of 28x28 from {_gan_common.DATASETS[args.dataset]}, scaled to [-1, 1]")
    ev = _gan_common.evaluator(x, y, args.dataset, args.evaluator_epochs, args.seed)
    train_part = np.setdiff1d(np.arange(len(x)), ev.test_indices)
    ckpt = output_path(f"67_ddpm_{args.dataset}_{len(x)}.ckpt")
    resume = ckpt if args.resume and os.path.exists(ckpt) else None
    fastnn.manual_seed(args.seed)
    unet = UNet2DModel(**UNET)
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    print(f"\nclass-conditional DDPM: UNet2DModel {UNET['block_out_channels']} "
          f"({sum(p.numel() for p in unet.parameters())} parameters), label dropout {args.p_uncond}, EMA "
          f"{TRAIN['ema_decay']}, {args.epochs} epochs on {len(train_part)} images"
          + (f", resumed from {os.path.relpath(resume)}" if resume else ""), flush=True)
    result = train_ddpm(unet, x[train_part], y[train_part], epochs=args.epochs, scheduler=scheduler,
                        p_uncond=args.p_uncond, callbacks=[ModelCheckpoint(ckpt, monitor="loss", save_best_only=False)],
                        resume_from=resume, verbose=2, **TRAIN)
    print(f"trained in {result.seconds:.1f}s ({fastnn.get_num_threads()} threads); checkpoint "
          f"{os.path.relpath(ckpt)}")
    save_plot("plot_history", "67_training_loss.png", result.history, keys=["loss"],
              title=f"class-conditional DDPM on {args.dataset}")
    folder = output_path(f"67_unet_{args.dataset}")
    result.ema_unet.save_pretrained(folder)
    print(f"saved the EMA UNet to {os.path.relpath(folder)} (UNet2DModel.from_pretrained reads it back)")

    ddim = DDIMScheduler.from_config(scheduler.config)
    k = args.samples_per_class
    labels = np.repeat(np.arange(10), k)
    print(f"\n{10 * k} samples per guidance scale ({k} per class, DDIM {args.steps} steps); Frechet distance to the "
          f"classifier's {len(ev.test_indices)} held-out real images:")

    def generate(model, w):
        start = time.perf_counter()
        images = sample_images(model, ddim, len(labels), class_labels=fastnn.tensor(labels), guidance_scale=w,
                               generator=fastnn.Generator().manual_seed(args.seed + 1),
                               num_inference_steps=args.steps).numpy()
        return images, time.perf_counter() - start

    def line(name, images, seconds=None):
        scores = ev.score(images)
        match = float(np.mean(ev.predict(images) == labels))
        text = _gan_common.score_line(f"  {name}", scores) + f", class match {match:.3f}"
        return text + (f"  ({seconds:.1f}s)" if seconds is not None else "")

    for w in args.guidance:
        images, seconds = generate(result.ema_unet, w)
        print(line(f"guidance w={w:g}", images, seconds))
        rows = np.concatenate([images[labels == c][:10] for c in range(10)])
        save_grid((rows + 1) / 2, f"67_guidance_w{w:g}.png", nrow=min(10, k), scale=2)
    images, _ = generate(result.untrained, 1.0)
    print(line("untrained UNet, w=1", images))
    real = np.random.default_rng(args.seed).choice(train_part, min(len(labels), len(train_part)), replace=False)
    print(_gan_common.score_line(f"  real training images ({len(real)})", ev.score(x[real])))  # every class


if __name__ == "__main__":
    main()
