"""Sequence 10: a two-headed model, classify + denoise, trained with two losses and their weights.

``fastnn.models.DenoisingClassifier``: one shared convolutional encoder reads a noisy 8x8 digit; a class head
gives the digit's logits (output "label") and a transposed-convolution decoder head gives the clean image
(output "image"). ``fastnn.train.fit`` takes the targets as a dict keyed by output name, one loss per output
(``loss_fn={"label": CrossEntropyLoss(), "image": MSELoss()}``) and Keras's ``loss_weights``; the optimised
loss is the weighted sum, and the history holds ``label_loss``, ``image_loss``, ``label_accuracy`` and their
``val_`` counterparts.

The training images get fresh noise at every epoch (``fastnn.train.NoisyImages``). Three weightings are
trained on the same data: both heads, and each head alone (the other weighted 0, so it
stays untrained). Held-out accuracy is reported beside chance, and the denoised MSE beside the noisy input's.
Saves the loss curves and a noisy / denoised / clean grid with the predicted labels as PNG.
"""
import _common
import numpy as np

import fastnn
import fastnn.nn as nn
import fastnn.optim
from fastnn import metrics
from fastnn.data import train_test_split
from fastnn.datasets import digits_images
from fastnn.models import DenoisingClassifier
from fastnn.train import NoisyImages, add_noise, fit, predict

CONFIG = dict(epochs=40, lr=2e-3, batch_size=64, noise_std=0.4, latent_dim=64, seed=0)
# The image loss is a mean squared error per pixel (about 0.08 for the noisy input), the label loss a
# cross-entropy (2.3 at chance): weighting the image loss up puts both on a similar scale.
WEIGHTINGS = {"both heads": {"label": 1.0, "image": 20.0},
              "label head alone": {"label": 1.0, "image": 0.0},
              "image head alone": {"label": 0.0, "image": 20.0}}


def train(x_train, y_train, x_test, y_test, weights, cfg, verbose):
    noisy_test = add_noise(x_test, cfg["noise_std"], seed=cfg["seed"] + 2)
    fastnn.manual_seed(cfg["seed"])
    model = DenoisingClassifier(in_channels=1, image_size=8, num_classes=10, latent_dim=cfg["latent_dim"])
    # Each batch: noisy images (fresh noise every epoch) and the targets {"label": labels, "image": clean images}.
    history = fit(model, NoisyImages(x_train, cfg["noise_std"], labels=y_train),
                  {"label": nn.CrossEntropyLoss(), "image": nn.MSELoss()}, fastnn.optim.Adam(model.parameters(),
                                                                                          lr=cfg["lr"]),
                  epochs=cfg["epochs"], loss_weights=weights, metrics={"label": ["accuracy"]},
                  val_data=(noisy_test, {"label": y_test, "image": x_test}), batch_size=cfg["batch_size"],
                  verbose=verbose)
    model.eval()
    out = predict(model, noisy_test, batch_size=512)
    accuracy = metrics.accuracy(y_test, out["label"].argmax(axis=1))
    return model, history, noisy_test, out, accuracy, float(np.mean((out["image"] - x_test) ** 2))


def main(verbose=0, epochs=None):
    cfg = dict(CONFIG, epochs=epochs or CONFIG["epochs"])
    X, y = digits_images()
    x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, seed=cfg["seed"])
    noisy_mse = float(np.mean((add_noise(x_test, cfg["noise_std"], seed=cfg["seed"] + 2) - x_test) ** 2))
    majority = np.bincount(y_train).argmax()
    print(f"digits: {len(x_train)} training / {len(x_test)} held-out 8x8 images with Gaussian noise of std "
          f"{cfg['noise_std']} (clipped to [0, 1]); {cfg['epochs']} epochs per model\n")
    print(f"{'':<18} {'loss weights':<26} {'accuracy':>9} {'denoised MSE':>13}")
    print(f"{'baselines':<18} {'':<26} {0.1:>9.4f} {noisy_mse:>13.4f}   (chance; the noisy input's MSE; "
          f"majority class {np.mean(y_test == majority):.4f})")
    results = {}
    for name, weights in WEIGHTINGS.items():
        results[name] = train(x_train, y_train, x_test, y_test, weights, cfg, verbose)
        _, history, _, _, acc, mse = results[name]
        shown = f"label {weights['label']:g}, image {weights['image']:g}"
        print(f"{name:<18} {shown:<26} {acc:>9.4f} {mse:>13.4f}")
    model, history, noisy_test, out, acc, mse = results["both heads"]
    print(f"\nboth heads: test accuracy: {acc:.4f} (chance 0.1000); denoised MSE {mse:.4f} vs noisy input "
          f"{noisy_mse:.4f} ({100 * (1 - mse / noisy_mse):.0f}% lower)")
    print("history keys: " + ", ".join(sorted(history.history)))
    shown = 10
    _common.save_grid(np.concatenate([noisy_test[:shown], out["image"][:shown], x_test[:shown]]),
                      "61_two_headed_denoising.png", nrow=shown, scale=4)
    print(f"predicted labels of the grid's columns: {out['label'][:shown].argmax(axis=1).tolist()}, true: "
          f"{y_test[:shown].tolist()}")
    _common.save_plot("plot_history", "61_two_headed_history.png", history,
                      keys=["label_loss", "image_loss", "label_accuracy"],
                      title="two-headed model: each output's loss (unweighted) and the accuracy")
    return results


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs (default {CONFIG['epochs']})")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="fit's progress output")
    args = parser.parse_args()
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    main(args.verbose, args.epochs)
