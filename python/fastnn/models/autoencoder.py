"""Convolutional autoencoders: ``ConvAutoencoder`` (plain or denoising), ``ConvVAE`` with ``vae_loss``
(the negative ELBO) and ``elbo`` (held-out evaluation), and ``DenoisingClassifier`` (one shared encoder,
a class head and a denoising decoder head).

All three share one geometry: ``len(channels)`` stride-2 4x4 convolutions halve the image at each
stage (``image_size`` must be divisible by ``2 ** len(channels)``: 8 → 4 → 2 with two stages on
scikit-learn's digits, 28 → 14 → 7 on MNIST), and the decoder mirrors them with stride-2 4x4
transposed convolutions (padding 1, so each exactly doubles the size) ending in a sigmoid, since the
images are in [0, 1].
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from .. import nn
from .._autograd_engine import no_grad
from ..creation import randn
from ..nn import functional as F

__all__ = ["ConvAutoencoder", "ConvVAE", "DenoisingClassifier", "vae_loss", "elbo", "ELBOResult"]

_RECONSTRUCTIONS = ("bce", "mse")


def _positive_int(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: argument '{name}' must be a positive integer, got {value!r}")
    return int(value)


def _geometry(owner, in_channels, image_size, channels):
    """Check the shared arguments; returns (channels tuple, side of the smallest feature map)."""
    _positive_int(owner, "in_channels", in_channels)
    _positive_int(owner, "image_size", image_size)
    if isinstance(channels, numbers.Integral) or not channels:
        raise ValueError(f"{owner}: argument 'channels' must be a non-empty sequence of positive integers, "
                         f"got {channels!r}")
    channels = tuple(_positive_int(owner, "channels", c) for c in channels)
    stride = 2 ** len(channels)
    if image_size % stride:
        raise ValueError(f"{owner}: argument 'image_size' ({image_size}) must be divisible by 2**len(channels) = "
                         f"{stride}: each of the {len(channels)} stages halves the image")
    return channels, image_size // stride


def _conv_stages(in_channels, channels):
    """Stride-2 4x4 convolutions with ReLU, each halving the height and width, then Flatten."""
    layers, c_in = [], in_channels
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.ReLU()]
        c_in = c
    return layers + [nn.Flatten()]


def _deconv_stages(latent_dim, out_channels, channels, side):
    """Linear to the smallest feature map, then stride-2 4x4 transposed convolutions, each doubling the
    height and width, back to ``out_channels`` in [0, 1] (sigmoid)."""
    channels = channels[::-1]
    layers = [nn.Linear(latent_dim, channels[0] * side * side), nn.ReLU(), nn.Unflatten(1, (channels[0], side, side))]
    for c_in, c_out in zip(channels, channels[1:]):
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
    layers += [nn.ConvTranspose2d(channels[-1], out_channels, 4, stride=2, padding=1), nn.Sigmoid()]
    return nn.Sequential(*layers)


class _ImageModel(nn.Module):
    """Holds the input geometry and checks the images given to ``forward``/``encode``."""

    def _check_images(self, x, fn):
        shape = tuple(getattr(x, "shape", ()))
        want = (self.in_channels, self.image_size, self.image_size)
        if len(shape) != 4 or shape[1:] != want:
            raise ValueError(f"{type(self).__name__}.{fn}: expected images of shape (N, {want[0]}, {want[1]}, "
                             f"{want[2]}), got {shape}")

    def _check_latent(self, z, fn):
        shape = tuple(getattr(z, "shape", ()))
        if len(shape) != 2 or shape[1] != self.latent_dim:
            raise ValueError(f"{type(self).__name__}.{fn}: expected latent codes of shape (N, {self.latent_dim}), "
                             f"got {shape}")


class ConvAutoencoder(_ImageModel):
    """A convolutional autoencoder: ``encoder`` maps (N, in_channels, image_size, image_size) images to
    (N, latent_dim) codes, ``decoder`` maps codes back to images in [0, 1]. Trained on noisy inputs against
    clean targets it is a denoising autoencoder; the model is the same.

    ``channels`` gives the convolution widths, one stride-2 stage each (default two: 32 then 64).
    """

    def __init__(self, in_channels=1, image_size=28, latent_dim=32, channels=(32, 64)):
        super().__init__()
        channels, side = _geometry("ConvAutoencoder", in_channels, image_size, channels)
        self.in_channels, self.image_size, self.channels = int(in_channels), int(image_size), channels
        self.latent_dim = _positive_int("ConvAutoencoder", "latent_dim", latent_dim)
        self.encoder = nn.Sequential(*_conv_stages(in_channels, channels),
                                     nn.Linear(channels[-1] * side * side, self.latent_dim))
        self.decoder = _deconv_stages(self.latent_dim, in_channels, channels, side)

    def encode(self, x):
        self._check_images(x, "encode")
        return self.encoder(x)

    def decode(self, z):
        self._check_latent(z, "decode")
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class ConvVAE(_ImageModel):
    """A convolutional variational autoencoder (Kingma & Welling): the encoder gives the mean ``mu`` and the
    log-variance ``logvar`` of a diagonal Gaussian q(z|x) (heads ``fc_mu`` and ``fc_logvar``), a code is drawn by
    reparameterisation ``z = mu + exp(logvar / 2) * eps`` so gradients reach the encoder, and the decoder gives
    the Bernoulli means (pixel intensities in [0, 1]) of p(x|z). The prior p(z) is N(0, I).

    ``forward(x)`` returns ``(reconstruction, mu, logvar)``, the arguments of :func:`vae_loss` besides ``x``.
    Like PyTorch's VAE example, ``forward`` samples z in eval mode too (use ``decode(mu)`` for the mean code).
    """

    def __init__(self, in_channels=1, image_size=28, latent_dim=16, channels=(32, 64), hidden_dim=256):
        super().__init__()
        channels, side = _geometry("ConvVAE", in_channels, image_size, channels)
        self.in_channels, self.image_size, self.channels = int(in_channels), int(image_size), channels
        self.latent_dim = _positive_int("ConvVAE", "latent_dim", latent_dim)
        self.hidden_dim = _positive_int("ConvVAE", "hidden_dim", hidden_dim)
        self.encoder = nn.Sequential(*_conv_stages(in_channels, channels),
                                     nn.Linear(channels[-1] * side * side, self.hidden_dim), nn.ReLU())
        self.fc_mu = nn.Linear(self.hidden_dim, self.latent_dim)
        self.fc_logvar = nn.Linear(self.hidden_dim, self.latent_dim)
        self.decoder = _deconv_stages(self.latent_dim, in_channels, channels, side)

    def encode(self, x):
        """``(mu, logvar)`` of q(z|x), each (N, latent_dim)."""
        self._check_images(x, "encode")
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu, logvar, generator=None):
        """``mu + exp(logvar / 2) * eps`` with eps ~ N(0, I) drawn from ``generator`` (default: the global one)."""
        if tuple(mu.shape) != tuple(logvar.shape):
            raise ValueError(f"ConvVAE.reparameterize: 'mu' and 'logvar' must have the same shape, got "
                             f"{tuple(mu.shape)} and {tuple(logvar.shape)}")
        eps = randn(*mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + eps * (0.5 * logvar).exp()

    def decode(self, z):
        """Pixel intensities in [0, 1] (the Bernoulli means of p(x|z)) of shape (N, C, H, W)."""
        self._check_latent(z, "decode")
        return self.decoder(z)

    def forward(self, x, generator=None):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar, generator)), mu, logvar

    def sample(self, n, generator=None):
        """``n`` images decoded from codes drawn from the prior N(0, I), without recording gradients."""
        n = _positive_int("ConvVAE.sample", "n", n)
        param = next(self.parameters())
        with no_grad():
            z = randn(n, self.latent_dim, generator=generator, dtype=param.dtype, device=param.device)
            return self.decoder(z)


class DenoisingClassifier(_ImageModel):
    """A two-headed model on one shared encoder: from a (noisy) image it predicts the class (head ``classifier``,
    logits) and the clean image (head ``decoder``, in [0, 1]). ``forward`` returns the dict
    ``{"label": logits (N, num_classes), "image": reconstruction (N, C, H, W)}``, so the training loop's
    ``loss_fn`` and ``loss_weights`` can be dicts keyed by those output names (``output_names``).
    """

    output_names = ("label", "image")

    def __init__(self, in_channels=1, image_size=28, num_classes=10, latent_dim=64, channels=(32, 64), dropout=0.2):
        super().__init__()
        channels, side = _geometry("DenoisingClassifier", in_channels, image_size, channels)
        self.in_channels, self.image_size, self.channels = int(in_channels), int(image_size), channels
        self.latent_dim = _positive_int("DenoisingClassifier", "latent_dim", latent_dim)
        self.num_classes = _positive_int("DenoisingClassifier", "num_classes", num_classes)
        self.encoder = nn.Sequential(*_conv_stages(in_channels, channels),
                                     nn.Linear(channels[-1] * side * side, self.latent_dim), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.latent_dim, self.num_classes))
        self.decoder = _deconv_stages(self.latent_dim, in_channels, channels, side)

    def forward(self, x):
        self._check_images(x, "forward")
        h = self.encoder(x)
        return {"label": self.classifier(h), "image": self.decoder(h)}


def _check_vae_args(recon, x, mu, logvar, beta, reconstruction, fn):
    for name, t in (("recon", recon), ("x", x), ("mu", mu), ("logvar", logvar)):
        if not hasattr(t, "shape") or not hasattr(t, "_data"):
            raise TypeError(f"{fn}: argument '{name}' must be a fastnn Tensor, got {type(t).__name__}")
    if tuple(recon.shape) != tuple(x.shape) or recon.dim() < 1:
        raise ValueError(f"{fn}: 'recon' and 'x' must have the same shape (N, ...), got {tuple(recon.shape)} and "
                         f"{tuple(x.shape)}")
    if mu.dim() != 2 or tuple(mu.shape) != tuple(logvar.shape) or mu.shape[0] != x.shape[0]:
        raise ValueError(f"{fn}: 'mu' and 'logvar' must both have shape (N, latent_dim) with N = {x.shape[0]} "
                         f"images, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not math.isfinite(beta) or beta < 0:
        raise ValueError(f"{fn}: argument 'beta' must be a finite number >= 0, got {beta!r}")
    if reconstruction not in _RECONSTRUCTIONS:
        raise ValueError(f"{fn}: argument 'reconstruction' must be 'bce' or 'mse', got {reconstruction!r}")


def _vae_terms(recon, x, mu, logvar, reconstruction):
    """Per-image reconstruction term and KL(q(z|x) || N(0, I)), each of shape (N,)."""
    n = x.shape[0]
    if reconstruction == "bce":
        rec = F.binary_cross_entropy(recon, x, reduction="none")
    else:
        rec = (recon - x) ** 2
    rec = rec.reshape(n, -1).sum(1)
    # Closed form of KL(N(mu, sigma^2) || N(0, 1)), summed over the latent dimensions.
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)
    return rec, kl


def vae_loss(recon, x, mu, logvar, beta=1.0, reconstruction="bce", reduction="mean"):
    """The β-VAE loss: per image, the reconstruction term summed over every pixel plus ``beta`` times
    KL(q(z|x) || N(0, I)) summed over the latent dimensions; averaged over the batch (``reduction="mean"``),
    summed (``"sum"``) or one value per image (``"none"``).

    ``reconstruction="bce"``: binary cross-entropy ``-[x log r + (1 - x) log(1 - r)]`` of the decoder's
    intensities ``recon`` in [0, 1], the negative log-likelihood of a Bernoulli decoder. With ``beta=1`` this
    is the negative ELBO in nats per image (PyTorch's VAE example's ``BCE + KLD``, divided by the batch size).
    ``reconstruction="mse"``: the summed squared error, a Gaussian decoder's negative log-likelihood up to a
    constant and a factor.

    The KL term is the closed form ``-1/2 sum(1 + logvar - mu^2 - exp(logvar))``.
    """
    _check_vae_args(recon, x, mu, logvar, beta, reconstruction, "vae_loss")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"vae_loss: argument 'reduction' must be 'mean', 'sum' or 'none', got {reduction!r}")
    rec, kl = _vae_terms(recon, x, mu, logvar, reconstruction)
    loss = rec + beta * kl
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


class ELBOResult(NamedTuple):
    """Held-out evidence lower bound, in nats per image: ``elbo = -(reconstruction + kl)``."""
    elbo: float
    reconstruction: float
    kl: float


def elbo(model, images, batch_size=256, reconstruction="bce", generator=None):
    """The evidence lower bound E_q[log p(x|z)] - KL(q(z|x) || p(z)) of ``model`` (a VAE whose ``forward``
    returns ``(recon, mu, logvar)``) on ``images`` (array or Tensor, values in [0, 1]), in nats per image,
    with one z drawn per image (no importance sampling). Runs in eval mode without gradients and restores the
    model's mode. With ``reconstruction="bce"`` log p(x|z) is the Bernoulli log-likelihood of the pixel
    intensities, the usual bound for MNIST-like images. Returns an :class:`ELBOResult`.
    """
    from ..tensor import Tensor
    from ..creation import tensor as as_tensor
    batch_size = _positive_int("elbo", "batch_size", batch_size)
    if reconstruction not in _RECONSTRUCTIONS:
        raise ValueError(f"elbo: argument 'reconstruction' must be 'bce' or 'mse', got {reconstruction!r}")
    data = images.detach().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images)
    if data.ndim < 2 or len(data) == 0:
        raise ValueError(f"elbo: 'images' must be a non-empty batch (N, C, H, W), got shape {data.shape}")
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    rec_sum = kl_sum = 0.0
    try:
        with no_grad():
            for start in range(0, len(data), batch_size):
                x = as_tensor(data[start:start + batch_size], dtype=param.dtype, device=param.device)
                recon, mu, logvar = (model(x, generator=generator) if generator is not None else model(x))
                rec, kl = _vae_terms(recon, x, mu, logvar, reconstruction)
                rec_sum += float(rec.sum().item())
                kl_sum += float(kl.sum().item())
    finally:
        model.train(was_training)
    rec, kl = rec_sum / len(data), kl_sum / len(data)
    return ELBOResult(-(rec + kl), rec, kl)
