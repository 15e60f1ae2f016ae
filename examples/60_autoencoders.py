"""Sequence 10: convolutional autoencoders and denoising autoencoders on digits and Fashion-MNIST.

``fastnn.models.ConvAutoencoder``: two stride-2 4x4 convolutions and a linear layer encode an image into a
small code, a linear layer and two stride-2 transposed convolutions decode it back (sigmoid output, images in
[0, 1]). Trained with the mean squared error through ``fastnn.train.fit`` (``fastnn.train.train_autoencoder``):

- as a plain autoencoder (input = target = the clean image): the held-out reconstruction MSE and PSNR,
  beside reconstructing every image by the mean training image;
- as a denoising autoencoder (input = the image plus clipped Gaussian noise, target = the clean image): the
  held-out noise MSE before (noisy vs clean) and after (denoised vs clean), and the PSNR.

On scikit-learn's 8x8 digits and on a subset of Fashion-MNIST (28x28; skipped when the Debian package
dataset-fashion-mnist is not installed). Saves reconstruction grids, noisy/denoised/clean grids and the loss
curves as PNG.
"""
import _common
import numpy as np

from fastnn.data import train_test_split
from fastnn.datasets import digits_images, fashion_mnist
from fastnn.metrics import psnr
from fastnn.train import predict, train_autoencoder

DIGITS = dict(latent_dim=32, epochs=40, lr=2e-3, batch_size=64, noise_std=0.4)
FASHION = dict(latent_dim=64, epochs=12, lr=2e-3, batch_size=64, noise_std=0.3, train=6000, test=1000)
SHOWN = 10  # held-out images in each grid row


def run(name, x_train, x_test, cfg, scale, verbose):
    print(f"\n{name}: {len(x_train)} training / {len(x_test)} held-out images of {x_train.shape[2]}x{x_train.shape[3]} "
          f"pixels, code of {cfg['latent_dim']} numbers, {cfg['epochs']} epochs")
    common = dict(latent_dim=cfg["latent_dim"], epochs=cfg["epochs"], lr=cfg["lr"], batch_size=cfg["batch_size"],
                  verbose=verbose)
    mean_image = np.broadcast_to(x_train.mean(axis=0), x_test.shape)
    plain = train_autoencoder(x_train, x_test, **common)
    print(f"  autoencoder: held-out reconstruction MSE {plain.output_mse:.4f}, PSNR {plain.output_psnr:.2f} dB "
          f"(the mean training image: MSE {np.mean((mean_image - x_test) ** 2):.4f}, PSNR "
          f"{psnr(mean_image, x_test):.2f} dB); {plain.seconds:.1f}s")
    noisy = train_autoencoder(x_train, x_test, noise_std=cfg["noise_std"], **common)
    gain = 100 * (1 - noisy.output_mse / noisy.input_mse)
    print(f"  denoising autoencoder (Gaussian noise std {cfg['noise_std']}, clipped to [0, 1]): held-out noise MSE "
          f"{noisy.input_mse:.4f} before (noisy vs clean, PSNR {noisy.input_psnr:.2f} dB), {noisy.output_mse:.4f} "
          f"after (denoised vs clean, PSNR {noisy.output_psnr:.2f} dB): {abs(gain):.0f}% "
          f"{'lower' if gain >= 0 else 'HIGHER'}; "
          f"{noisy.seconds:.1f}s")
    # the plain autoencoder given the noisy inputs: how much of the denoising comes from training on noise
    plain.model.eval()
    plain_on_noisy = predict(plain.model, noisy.inputs, batch_size=512)
    print(f"  the plain autoencoder on the same noisy images: MSE {np.mean((plain_on_noisy - x_test) ** 2):.4f}")

    key = name.split()[0].lower().replace("-", "_")
    _common.save_grid(np.concatenate([x_test[:SHOWN], plain.outputs[:SHOWN]]),
                      f"60_autoencoders_{key}_reconstructions.png", nrow=SHOWN, scale=scale)
    _common.save_grid(np.concatenate([noisy.inputs[:SHOWN], noisy.outputs[:SHOWN], x_test[:SHOWN]]),
                      f"60_autoencoders_{key}_denoising.png", nrow=SHOWN, scale=scale)
    _common.save_plot("plot_history", f"60_autoencoders_{key}_history.png", noisy.history,
                      title=f"denoising autoencoder on {name}: MSE per pixel")
    return noisy


def main(verbose=0, epochs=None, fashion_train=None, fashion_test=None):
    digits_cfg = dict(DIGITS, epochs=epochs or DIGITS["epochs"])
    fashion_cfg = dict(FASHION, epochs=epochs or FASHION["epochs"], train=fashion_train or FASHION["train"],
                       test=fashion_test or FASHION["test"])
    print("grids: rows of held-out images; reconstructions: clean / reconstructed; denoising: noisy / denoised / "
          "clean")
    X, y = digits_images()
    x_train, x_test, _, _ = train_test_split(X, y, test_size=0.25, stratify=y, seed=0)
    results = {"digits": run("digits", x_train, x_test, digits_cfg, 4, verbose)}
    try:
        train_images, _ = fashion_mnist("train")
        test_images, _ = fashion_mnist("test")
    except FileNotFoundError as exc:
        print(f"\nFashion-MNIST skipped: {exc}")
        return results
    to_float = lambda a: (a.astype(np.float32) / 255.0)  # noqa: E731
    results["fashion"] = run("Fashion-MNIST", to_float(train_images[:fashion_cfg["train"]]),
                             to_float(test_images[:fashion_cfg["test"]]), fashion_cfg, 2, verbose)
    return results


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="training epochs of every model (default: "
                        f"{DIGITS['epochs']} on digits, {FASHION['epochs']} on Fashion-MNIST)")
    parser.add_argument("--fashion-train", type=int, default=FASHION["train"], help="Fashion-MNIST training images")
    parser.add_argument("--fashion-test", type=int, default=FASHION["test"], help="Fashion-MNIST held-out images")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="fit's progress output")
    args = parser.parse_args()
    for flag, value in (("--epochs", args.epochs), ("--fashion-train", args.fashion_train),
                        ("--fashion-test", args.fashion_test)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be at least 1")
    main(args.verbose, args.epochs, args.fashion_train, args.fashion_test)
