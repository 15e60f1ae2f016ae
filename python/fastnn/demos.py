"""The demos behind ``fastnn demo NAME``: each trains a small model on real data shipped by a package
and prints its headline figure beside a baseline, in about a minute or less.

``DEMOS`` is the registry: a name maps to a :class:`Demo` (a one-line summary and the function that
runs it, whose ``epochs`` default is the demo's own). Adding a demo is adding one entry; ``fastnn demo --list``
and the command line read the names and summaries from here.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, NamedTuple


class Demo(NamedTuple):
    summary: str
    run: Callable[..., int]  # run(epochs=..., seed=0, verbose=1) -> exit status


def _load(prefix, loader, errors=(ImportError,)):
    """``loader()``, or None after saying on stderr why it failed (a missing optional package or data file)."""
    try:
        return loader()
    except errors as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return None


def digits(epochs=20, seed=0, verbose=1) -> int:
    """Train the digits MLP and print test accuracy, confusion matrix and report."""
    from . import metrics
    from .datasets import digits as load_digits
    from .train import train_tabular

    data = _load("fastnn demo", load_digits)
    if data is None:
        return 2
    X, y = data
    print(f"fastnn demo: a dense network (64 -> 64 -> 10) on scikit-learn's handwritten digits "
          f"({len(X)} images of 8x8 pixels), 80/20 stratified split, standardised on the training part\n")
    start = time.perf_counter()
    result = train_tabular(X, y, "classification", hidden=(64,), epochs=epochs, lr=2e-3, batch_size=64, seed=seed,
                           verbose=verbose)
    elapsed = time.perf_counter() - start
    print(f"\ntrained {epochs} epochs in {elapsed:.1f}s")
    print(f"test accuracy: {result.scores['accuracy']:.4f} on {len(result.y_test)} held-out images\n")
    print("confusion matrix (rows: true digit, columns: predicted digit):")
    print(result.confusion)
    print()
    print(metrics.classification_report(result.y_test, result.y_pred, digits=3))
    return 0


# The sunspot forecaster's settings, shared with examples/34_sunspot_forecast.py.
FORECAST = dict(sequence_length=12, cell="lstm", hidden_size=32, lr=5e-3, batch_size=32, patience=30)


def forecast(epochs=150, seed=0, verbose=1) -> int:
    """Train the LSTM sunspot forecaster and print its test RMSE beside the naive forecast's."""
    from .datasets import sunspots
    from .train import train_forecaster

    data = _load("fastnn demo", sunspots)
    if data is None:
        return 2
    year, activity = data
    L = FORECAST["sequence_length"]
    print(f"fastnn demo forecast: an LSTM ({FORECAST['hidden_size']} hidden units) forecasting the yearly sunspot "
          f"number one year ahead from the {L} years before it, on statsmodels' sunspots "
          f"({year[0]}-{year[-1]}); chronological split, the last 20% of the years held out for the test, "
          "standardised on the training years\n")
    start = time.perf_counter()
    result = train_forecaster(activity, epochs=epochs, seed=seed, verbose=verbose, **FORECAST)
    elapsed = time.perf_counter() - start
    train, val, test = (year[s] for s in result.splits)
    print(f"\ntrained {len(result.history.epoch)} epochs in {elapsed:.1f}s (training years {train[0]}-{train[-1]}, "
          f"early stopping on {val[0]}-{val[-1]})")
    gain = 100 * (1 - result.rmse / result.naive_rmse)
    print(f"test RMSE over {len(result.y_test)} years ({test[0]}-{test[-1]}): LSTM {result.rmse:.2f}, "
          f"naive last-value forecast {result.naive_rmse:.2f} ({gain:.0f}% lower)")
    return 0


def text(epochs=10, seed=0, verbose=0) -> int:
    """``fastnn demo text``: the embedding classifier (EmbeddingBag mean of words and their character
    n-grams → Linear) on five categories of Debian's fortunes, 5-fold cross-validated; prints the test
    accuracy beside the majority-class baseline, the confusion matrix and the per-class report."""
    from .datasets import fortunes
    from .train.text import classify_texts

    data = _load("fastnn demo text", fortunes, (FileNotFoundError, ImportError))
    if data is None:
        return 2
    texts, y, names = data
    print(f"fastnn demo text: an EmbeddingBag(mean) -> Linear classifier on {len(texts)} quotations of Debian's "
          f"fortunes in {len(names)} categories ({', '.join(names)}); words plus their character 3-5-grams, "
          "stratified 5-fold cross-validation (every quotation predicted once)\n")
    start = time.perf_counter()
    r = classify_texts(texts, y, names, model="embedding", subwords=True, epochs=epochs, weight_decay=0.0, seed=seed,
                       verbose=verbose)
    print(f"trained 5 folds x {epochs} epochs in {time.perf_counter() - start:.1f}s")
    print(f"test accuracy: {r.accuracy:.4f}  (majority-class baseline {r.baseline_accuracy:.4f}, "
          f"chance {1 / len(names):.4f})\n")
    print("confusion matrix (rows: true category, columns: predicted):")
    print(r.confusion)
    print()
    print(r.report())
    return 0


# The vision transformer's settings on digits, shared with examples/40_vit_digits.py.
VIT_DIGITS = dict(patch_size=2, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, lr=2e-3, batch_size=32,
                  epochs=15)


def vit(epochs=VIT_DIGITS["epochs"], seed=0, verbose=1) -> int:
    """``fastnn demo vit``: a vision transformer on scikit-learn's digits (2x2 patches, CLS token, learned
    positions); prints the test accuracy and the per-class report."""
    from . import metrics
    from .data import train_test_split
    from .datasets import digits as load_digits
    from .train import train_vit

    data = _load("fastnn demo vit", load_digits)
    if data is None:
        return 2
    X, y = data
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, seed=seed)
    images = lambda a: a.reshape(-1, 1, 8, 8)  # noqa: E731
    config = {k: v for k, v in VIT_DIGITS.items() if k != "epochs"}
    print(f"fastnn demo vit: a vision transformer ({config['num_layers']} layers, {config['hidden_dim']} dims, "
          f"{config['num_heads']} heads) on scikit-learn's handwritten digits ({len(X)} images of 8x8 pixels cut into "
          f"{(8 // config['patch_size']) ** 2} patches of {config['patch_size']}x{config['patch_size']}), 80/20 "
          "stratified split\n")
    r = train_vit(images(X_train), y_train, images(X_test), y_test, image_size=8, epochs=epochs, seed=seed,
                  verbose=2 if verbose else 0, **config)
    print(f"\ntrained {epochs} epochs in {r.seconds:.1f}s")
    print(f"test accuracy: {r.accuracy:.4f} on {len(y_test)} held-out images\n")
    print(metrics.classification_report(y_test, r.y_pred, digits=3))
    return 0


# The karate-club GCN's settings, shared with examples/50_gcn_karate.py's defaults.
KARATE = dict(per_class=2, hidden_channels=16)


def graph(epochs=200, seed=0, verbose=1) -> int:
    """``fastnn demo graph``: a 2-layer GCN labels the members of Zachary's karate club from 2 labelled
    members per club (transductive); prints the held-out accuracy of 5 draws of labelled members."""
    from .datasets import karate_club
    from .train.graph import label_nodes

    data = _load("fastnn demo graph", karate_club)
    if data is None:
        return 2
    held_out = data.num_nodes - 2 * KARATE["per_class"]
    print(f"fastnn demo graph: a 2-layer GCN (34 -> {KARATE['hidden_channels']} -> 2) on Zachary's karate club "
          f"({data.num_nodes} members, {data.num_edges // 2} friendships, networkx): {KARATE['per_class']} members "
          f"of each club labelled, the club of the other {held_out} predicted from the friendships\n")
    start = time.perf_counter()
    accuracies = []
    for s in range(seed, seed + 5):
        result = label_nodes(data, seed=s, epochs=epochs, **KARATE)
        accuracies.append(result.accuracy)
        if verbose:
            print(f"draw {s}: labelled members {[int(i) for i in result.train_mask.nonzero()[0]]}, held-out accuracy "
                  f"{result.accuracy:.4f}")
    print(f"\ntrained 5 x {epochs} epochs in {time.perf_counter() - start:.1f}s")
    print(f"held-out accuracy: {sum(accuracies) / len(accuracies):.4f} (mean of 5 draws, min {min(accuracies):.4f}; "
          f"chance 0.5)")
    return 0


# The digits VAE's settings; examples/62_vae.py trains the same model on MNIST.
VAE_DIGITS = dict(latent_dim=8, lr=2e-3, batch_size=32, epochs=40, samples=1000)
VAE_SAMPLES_FILE = "fastnn_demo_vae_samples.png"


def vae(epochs=VAE_DIGITS["epochs"], seed=0, verbose=1) -> int:
    """``fastnn demo vae``: a convolutional VAE on scikit-learn's digits; saves a grid of generated digits and
    prints how confidently a classifier trained on the real digits labels them, beside the untrained VAE's."""
    import numpy as np

    from . import Generator, manual_seed, tensor
    from .data import train_test_split
    from .datasets import digits_images
    from .models import ConvVAE, elbo
    from .train import train_vae
    from .train.generative import ImageEvaluator
    from .utils import save_image

    data = _load("fastnn demo vae", digits_images)
    if data is None:
        return 2
    X, y = data
    x_train, x_test, y_train, _ = train_test_split(X, y, test_size=0.2, stratify=y, seed=seed)
    cfg = VAE_DIGITS
    print(f"fastnn demo vae: a convolutional variational autoencoder (latent dimension {cfg['latent_dim']}) on "
          f"scikit-learn's handwritten digits ({len(X)} images of 8x8 pixels), 80/20 stratified split; its generated "
          "digits scored by a CNN classifier trained on the real training digits\n")
    start = time.perf_counter()
    evaluator = ImageEvaluator(x_train, y_train, seed=seed)
    print(f"classifier: held-out accuracy {evaluator.test_accuracy:.4f} on real digits "
          f"({time.perf_counter() - start:.1f}s)")
    r = train_vae(x_train, x_test, latent_dim=cfg["latent_dim"], epochs=epochs, lr=cfg["lr"],
                  batch_size=cfg["batch_size"], seed=seed, verbose=2 if verbose else 0)
    manual_seed(seed + 1)
    untrained = ConvVAE(1, 8, cfg["latent_dim"])
    before = elbo(untrained, x_test, generator=Generator().manual_seed(seed))
    print(f"\ntrained {epochs} epochs in {r.seconds:.1f}s; held-out ELBO {r.elbo.elbo:.2f} nats per image "
          f"(untrained VAE {before.elbo:.2f})")
    n = cfg["samples"]
    scores = {"trained VAE": evaluator.score(r.model.sample(n, generator=Generator().manual_seed(seed)).numpy()),
              "untrained VAE": evaluator.score(untrained.sample(n, generator=Generator().manual_seed(seed)).numpy()),
              "real digits": evaluator.score(x_test)}
    print(f"{n} generated digits per VAE (z ~ N(0, I)) and the {len(x_test)} real held-out digits, scored by the "
          "classifier:")
    print(f"  {'':<36}" + "".join(f"{name:>15}" for name in scores))
    classes = {name: int((sc["class_counts"] >= 0.02 * sc["class_counts"].sum()).sum()) for name, sc in scores.items()}
    rows = [("confidence (mean max-probability)", lambda name, sc: f"{sc['confidence']:.4f}"),
            ("Inception score (10 at most)", lambda name, sc: f"{float(sc['inception_score']):.3f}"),
            ("Frechet distance to real digits", lambda name, sc: f"{sc['frechet_distance']:.2f}"),
            ("classes with >= 2% of the images", lambda name, sc: str(classes[name]))]
    for label, fmt in rows:
        print(f"  {label:<36}" + "".join(f"{fmt(name, sc):>15}" for name, sc in scores.items()))
    if classes["untrained VAE"] <= 2:
        print("  (the untrained VAE draws nearly the same grey blob every time, put confidently in one or two "
              "classes: the Inception score and the Frechet distance show that it does not draw digits)")
    grid = r.model.sample(100, generator=Generator().manual_seed(seed)).numpy().repeat(4, axis=2).repeat(4, axis=3)
    save_image(tensor(np.ascontiguousarray(grid)), VAE_SAMPLES_FILE, nrow=10, padding=8, pad_value=1.0)
    print(f"saved a grid of 100 generated digits to {VAE_SAMPLES_FILE}")
    return 0


# The WGAN-GP settings on digits, shared with the GAN examples' digits runs: the paper's penalty with a larger
# learning rate, beta1 = 0.5 and n_critic=2, and an EMA of the generator's weights, so that well under a minute
# of training on 2 cores gives recognisable digits (Frechet distance 39 against 85 after 10 epochs without EMA).
GAN_DIGITS = dict(variant="wgan-gp", nz=32, ngf=32, ndf=32, lr=1e-3, betas=(0.5, 0.9), n_critic=2, lambda_gp=10.0,
                  batch_size=32, ema_decay=0.999, epochs=100)
GAN_EVALUATOR_EPOCHS = None  # the scoring classifier's own default (about 1500 steps: 0.994 held-out accuracy)


def _score_line(name, scores):
    return (f"{name:<22} confidence {scores['confidence']:.3f}   inception score {scores['inception_score']:5.2f}   "
            f"Frechet distance {scores['frechet_distance']:8.1f}")


def gan(epochs=GAN_DIGITS["epochs"], seed=0, verbose=1) -> int:
    """``fastnn demo gan``: a WGAN-GP (DCGAN generator, convolutional critic, gradient penalty) on scikit-learn's
    digits; saves a grid of generated digits and prints the scores that a digits classifier trained here gives
    them, beside the untrained generator's and the real held-out digits'."""
    import os

    import numpy as np

    from . import from_numpy
    from .datasets import digits_images
    from .train.gan import train_gan
    from .train.generative import ImageEvaluator
    from .utils import save_image

    data = _load("fastnn demo gan", digits_images)
    if data is None:
        return 2
    x, y = data
    x = x * 2 - 1  # the generator's Tanh range
    config = {k: v for k, v in GAN_DIGITS.items() if k != "epochs"}
    print(f"fastnn demo gan: a WGAN-GP on scikit-learn's handwritten digits ({len(x)} images of 8x8 pixels): DCGAN "
          f"generator (z of {config['nz']} -> 4x4 -> 8x8), convolutional critic, gradient penalty "
          f"lambda={config['lambda_gp']:g}, {config['n_critic']} critic steps per generator step, Adam "
          f"lr={config['lr']:g} betas={config['betas']}, samples from an EMA of the generator's weights "
          f"(decay {config['ema_decay']})\n")
    start = time.perf_counter()
    evaluator = ImageEvaluator(x, y, epochs=GAN_EVALUATOR_EPOCHS, seed=seed)
    print(f"evaluation classifier trained in {time.perf_counter() - start:.1f}s: held-out accuracy "
          f"{evaluator.test_accuracy:.4f}")
    result = train_gan(x, epochs=epochs, seed=seed, verbose=2 if verbose else 0, **config)
    print(f"\ntrained {epochs} epochs in {result.seconds:.1f}s")
    samples = result.sample(1000, seed=seed + 1)
    path = os.path.abspath("gan_digits_samples.png")
    save_image(from_numpy(samples[:64]), path, nrow=8, padding=1, normalize=True, value_range=(-1, 1))
    print(f"saved a grid of 64 generated digits to {path}\n")
    print("scores from the evaluation classifier (1000 images each; the Frechet distance is to the real digits it "
          "held out):")
    print(_score_line("WGAN-GP generator", evaluator.score(samples)))
    print(_score_line("untrained generator", evaluator.score(result.sample(1000, seed=seed + 1, untrained=True))))
    train_part = np.setdiff1d(np.arange(len(x)), evaluator.test_indices)
    print(_score_line("real training digits", evaluator.score(x[train_part[:1000]])))
    print("(an untrained generator draws a near-constant grey image that the classifier may confidently call one "
          "digit: the inception score, near 1 for it, and the Frechet distance show the difference)")
    return 0


# The digits DDPM, shared with examples/66_ddpm_digits.py: a two-level UNet2DModel (8x8 -> 4x4, 32 and 64
# channels, self-attention in the 4x4 middle block), Ho et al.'s linear schedule over 1000 steps, AdamW with a
# short warm-up and an EMA of the weights; sampled with DDIM (50 deterministic steps).
DDPM_DIGITS = dict(
    unet=dict(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(32, 64), layers_per_block=1,
              down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
              norm_num_groups=8, attention_head_dim=8),
    num_train_timesteps=1000, epochs=60, batch_size=64, lr=3e-3, lr_warmup_steps=100, ema_decay=0.995,
    inference_steps=50, samples=500)
DDPM_SAMPLES_FILE = "fastnn_demo_diffusion_samples.png"


def diffusion(epochs=DDPM_DIGITS["epochs"], seed=0, verbose=1) -> int:
    """``fastnn demo diffusion``: a small DDPM on scikit-learn's digits; saves a grid of generated digits and
    prints the scores that a digits classifier trained here gives them, beside the untrained model's and the
    real held-out digits'."""
    import os

    import numpy as np

    from . import Generator, from_numpy, manual_seed
    from .datasets import digits_images
    from .diffusion import DDIMScheduler, DDPMScheduler
    from .models import UNet2DModel
    from .train.diffusion import sample_images, train_ddpm
    from .train.generative import ImageEvaluator
    from .utils import save_image

    data = _load("fastnn demo diffusion", digits_images)
    if data is None:
        return 2
    x, y = data
    x = x * 2 - 1  # DDPM's data range
    cfg = DDPM_DIGITS
    print(f"fastnn demo diffusion: a denoising diffusion model (DDPM) on scikit-learn's handwritten digits ({len(x)} "
          f"images of 8x8 pixels): UNet2DModel with channels {cfg['unet']['block_out_channels']}, "
          f"{cfg['num_train_timesteps']} noise steps (linear betas), epsilon-prediction MSE, AdamW lr={cfg['lr']:g}, "
          f"EMA of the weights (decay {cfg['ema_decay']}); sampled with DDIM in {cfg['inference_steps']} steps\n")
    start = time.perf_counter()
    evaluator = ImageEvaluator(x, y, epochs=GAN_EVALUATOR_EPOCHS, seed=seed)
    print(f"evaluation classifier trained in {time.perf_counter() - start:.1f}s: held-out accuracy "
          f"{evaluator.test_accuracy:.4f} on the {len(evaluator.test_indices)} real digits it kept aside (the "
          "diffusion model never sees them)")
    train_part = np.setdiff1d(np.arange(len(x)), evaluator.test_indices)
    manual_seed(seed)
    unet = UNet2DModel(**cfg["unet"])
    scheduler = DDPMScheduler(num_train_timesteps=cfg["num_train_timesteps"])
    result = train_ddpm(unet, x[train_part], epochs=epochs, batch_size=cfg["batch_size"], lr=cfg["lr"],
                        lr_warmup_steps=cfg["lr_warmup_steps"], ema_decay=cfg["ema_decay"], scheduler=scheduler,
                        verbose=2 if verbose else 0)
    print(f"\ntrained {epochs} epochs in {result.seconds:.1f}s (final loss {result.history.history['loss'][-1]:.4f})")
    ddim = DDIMScheduler.from_config(scheduler.config)
    n = cfg["samples"]
    start = time.perf_counter()
    samples = sample_images(result.ema_unet, ddim, n, generator=Generator().manual_seed(seed + 1),
                            num_inference_steps=cfg["inference_steps"]).numpy()
    seconds = time.perf_counter() - start
    untrained = sample_images(result.untrained, ddim, n, generator=Generator().manual_seed(seed + 1),
                              num_inference_steps=cfg["inference_steps"]).numpy()
    path = os.path.abspath(DDPM_SAMPLES_FILE)
    grid = (samples[:64] + 1) / 2
    grid = np.ascontiguousarray(grid.repeat(4, axis=2).repeat(4, axis=3))  # 8x8 digits enlarged 4 times
    save_image(from_numpy(grid), path, nrow=8, padding=4, pad_value=1.0)
    print(f"sampled {n} digits in {seconds:.1f}s; saved a grid of 64 to {path}\n")
    print(f"scores from the evaluation classifier ({n} images each; the Frechet distance is to the real digits it "
          "held out):")
    print(_score_line("DDPM (EMA weights)", evaluator.score(samples)))
    print(_score_line("untrained DDPM", evaluator.score(untrained)))
    print(_score_line("real training digits", evaluator.score(x[train_part[:n]])))
    return 0


DEMOS = {
    "digits": Demo("a dense network on scikit-learn's handwritten digits: test accuracy, confusion matrix, report "
                   "(the default)", digits),
    "forecast": Demo("an LSTM forecasting yearly sunspots one year ahead: test RMSE beside the naive last-value "
                     "forecast", forecast),
    "text": Demo("an EmbeddingBag classifier on five categories of Debian's fortunes quotations: cross-validated "
                 "accuracy beside the majority-class baseline", text),
    "vit": Demo("a vision transformer on scikit-learn's handwritten digits: test accuracy and per-class report", vit),
    "graph": Demo("a graph convolutional network labelling the karate club's members from 2 labelled per club: "
                  "held-out accuracy", graph),
    "vae": Demo("a convolutional VAE on scikit-learn's handwritten digits: a grid of generated digits and their "
                "classifier confidence beside the untrained VAE's", vae),
    "gan": Demo("a WGAN-GP generating scikit-learn's handwritten digits: sample grid and classifier confidence, "
                "inception score and Frechet distance beside the untrained generator's", gan),
    "diffusion": Demo("a denoising diffusion model (DDPM) generating scikit-learn's handwritten digits: sample grid "
                      "and classifier confidence, inception score and Frechet distance beside the untrained model's",
                      diffusion),
}
DEFAULT = "digits"
