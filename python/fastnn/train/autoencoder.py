"""Training recipes for the autoencoders of ``fastnn.models``, shared by the examples, ``fastnn demo vae`` and
the tests: ``add_noise``, ``train_autoencoder`` (plain or denoising, with held-out reconstruction figures)
and ``train_vae`` (β-VAE, with the held-out ELBO)."""
from __future__ import annotations

import numbers
import time
from typing import NamedTuple, Optional

import numpy as np

from ..data.dataset import Dataset

__all__ = ["add_noise", "NoisyImages", "AutoencoderResult", "train_autoencoder", "VAEResult", "train_vae",
           "vae_train_step", "vae_val_step"]


def _images(x, name, fn):
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 4 or len(a) == 0 or a.shape[2] != a.shape[3]:
        raise ValueError(f"{fn}: '{name}' must be a non-empty batch of square images (N, C, H, H), got shape "
                         f"{a.shape}")
    return a


def _check_std(std, fn):
    if isinstance(std, bool) or not isinstance(std, numbers.Real) or not std >= 0:
        raise ValueError(f"{fn}: argument 'std' must be a number >= 0, got {std!r}")
    return float(std)


def add_noise(images, std, seed=0, clip=(0.0, 1.0)):
    """``images`` plus Gaussian noise of standard deviation ``std`` (numpy, drawn from ``seed``), clipped to
    ``clip`` (None: not clipped) so the noisy images stay valid intensities. Returns float32."""
    std = _check_std(std, "add_noise")
    a = np.asarray(images, dtype=np.float32)
    noisy = a + np.float32(std) * np.random.default_rng(seed).standard_normal(a.shape, dtype=np.float32)
    return noisy if clip is None else np.clip(noisy, clip[0], clip[1])


class NoisyImages(Dataset):
    """Clean images paired with noisy copies drawn afresh at every fetch, so that each epoch of a denoising
    model sees new noise: sample ``i`` is ``(noisy, clean)``, or with ``labels`` ``(noisy, {"label": label,
    "image": clean})``, the targets of :class:`~fastnn.models.DenoisingClassifier`'s outputs. The noise is
    Gaussian of standard deviation ``std``, clipped to ``clip``, drawn from fastnn's global generator (so
    ``fastnn.manual_seed`` reproduces it and checkpoints restore it)."""

    def __init__(self, images, std, labels=None, clip=(0.0, 1.0)):
        self.std = _check_std(std, "NoisyImages")
        self.images = _images(images, "images", "NoisyImages")
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(f"NoisyImages: {len(self.images)} images but {len(self.labels)} labels")
        self.clip = clip

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        noisy, target = self._fetch_batch(np.asarray([i]))
        return noisy[0], ({k: v[0] for k, v in target.items()} if isinstance(target, dict) else target[0])

    def _fetch_batch(self, idx):
        from .. import from_numpy
        from ..creation import randn
        clean = self.images[idx]
        noisy = clean + self.std * randn(*clean.shape).numpy()
        if self.clip is not None:
            noisy = np.clip(noisy, self.clip[0], self.clip[1])
        noisy, clean = from_numpy(noisy.astype(np.float32)), from_numpy(np.ascontiguousarray(clean))
        if self.labels is None:
            return noisy, clean
        return noisy, {"label": from_numpy(np.ascontiguousarray(self.labels[idx])), "image": clean}


class AutoencoderResult(NamedTuple):
    """``train_autoencoder``'s result: figures on the held-out images (MSE per pixel, PSNR in dB with data
    range 1). ``input_mse``/``input_psnr`` compare the (noisy) inputs with the clean images: the baseline the
    output must beat; ``output_mse``/``output_psnr`` compare the reconstructions with the clean images."""
    model: object
    history: object
    seconds: float
    input_mse: float
    output_mse: float
    input_psnr: float
    output_psnr: float
    inputs: np.ndarray
    outputs: np.ndarray


def train_autoencoder(x_train, x_test, *, noise_std=0.0, latent_dim=32, channels=(32, 64), epochs=30, lr=2e-3,
                      batch_size=64, seed=0, verbose=0) -> AutoencoderResult:
    """Train a :class:`~fastnn.models.ConvAutoencoder` on images in [0, 1] (N, C, H, H) with the mean squared
    error, Adam and ``fastnn.train.fit``. With ``noise_std > 0`` it is a denoising autoencoder: inputs get
    clipped Gaussian noise (drawn afresh each epoch for the training images, :class:`NoisyImages`; fixed for
    the held-out images) and the targets are the clean images."""
    from .. import manual_seed, nn, optim
    from ..metrics import psnr
    from ..models import ConvAutoencoder
    from .loop import fit, predict
    x_train, x_test = _images(x_train, "x_train", "train_autoencoder"), _images(x_test, "x_test", "train_autoencoder")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"train_autoencoder: 'x_train' and 'x_test' images differ: {x_train.shape[1:]} and "
                         f"{x_test.shape[1:]}")
    in_test = add_noise(x_test, noise_std, seed + 2) if noise_std else x_test
    manual_seed(seed)
    model = ConvAutoencoder(x_train.shape[1], x_train.shape[2], latent_dim, channels)
    start = time.perf_counter()
    train = NoisyImages(x_train, noise_std) if noise_std else (x_train, x_train)
    history = fit(model, train, nn.MSELoss(), optim.Adam(model.parameters(), lr=lr), epochs=epochs,
                  val_data=(in_test, x_test), batch_size=batch_size, verbose=verbose)
    seconds = time.perf_counter() - start
    model.eval()
    out = predict(model, (in_test, x_test), batch_size=512)
    return AutoencoderResult(model, history, seconds, float(np.mean((in_test - x_test) ** 2)),
                             float(np.mean((out - x_test) ** 2)), psnr(in_test, x_test), psnr(out, x_test), in_test,
                             out)


def _first(batch):
    """The images of a batch: the batch itself, or the first element of ``(images, ...)``."""
    return batch[0] if isinstance(batch, (list, tuple)) else batch


def _vae_logs(model, x, beta, reconstruction):
    """The β-weighted loss (mean over the batch) and the numbers to log: ``loss``, ``reconstruction`` and ``kl``
    (each in nats per image)."""
    from ..models.autoencoder import _check_vae_args, _vae_terms
    recon, mu, logvar = model(x)
    _check_vae_args(recon, x, mu, logvar, beta, reconstruction, "vae_train_step")
    rec, kl = _vae_terms(recon, x, mu, logvar, reconstruction)
    loss = (rec + beta * kl).mean()
    return loss, {"loss": float(loss.item()), "reconstruction": float(rec.mean().item()),
                  "kl": float(kl.mean().item())}


def vae_train_step(beta=1.0, reconstruction="bce", model="vae"):
    """A ``train_step`` for ``fastnn.train.fit`` training the VAE named ``model`` (in ``fit``'s dicts of models
    and optimisers) on batches of images ``x`` or ``(x, ...)``: one :func:`~fastnn.models.vae_loss` update.
    It logs ``loss`` (reconstruction + ``beta`` x KL), ``reconstruction`` and ``kl``, in nats per image."""

    def step(batch, models, optimizers):
        vae, opt = models[model], optimizers[model]
        opt.zero_grad()
        loss, logs = _vae_logs(vae, _first(batch), beta, reconstruction)
        loss.backward()
        opt.step()
        return logs

    return step


def vae_val_step(beta=1.0, reconstruction="bce", model="vae"):
    """The ``val_step`` going with :func:`vae_train_step`: the same numbers on held-out batches (logged with
    ``val_``)."""

    def step(batch, models):
        return _vae_logs(models[model], _first(batch), beta, reconstruction)[1]

    return step


class VAEResult(NamedTuple):
    """``train_vae``'s result: the model, its history (``loss`` is the β-weighted negative ELBO per image), the
    training time and the ELBO on the held-out images (an ``ELBOResult``, None without them)."""
    model: object
    history: object
    seconds: float
    elbo: Optional[object]


def train_vae(x_train, x_test=None, *, latent_dim=16, beta=1.0, channels=(32, 64), hidden_dim=256, epochs=20,
              lr=2e-3, batch_size=64, seed=0, verbose=0) -> VAEResult:
    """Train a :class:`~fastnn.models.ConvVAE` on images in [0, 1] (N, C, H, H) with :func:`~fastnn.models.vae_loss`
    (Bernoulli reconstruction + ``beta`` x KL), Adam and ``fastnn.train.fit`` with :func:`vae_train_step`; the
    history holds ``loss``, ``reconstruction`` and ``kl`` per image. ``x_test`` (optional) gives the same
    figures on held-out images each epoch (``val_`` keys) and the held-out ELBO at the end."""
    from .. import Generator, manual_seed, optim
    from ..models import ConvVAE, elbo
    from .loop import fit
    x_train = _images(x_train, "x_train", "train_vae")
    if x_test is not None:
        x_test = _images(x_test, "x_test", "train_vae")
    manual_seed(seed)
    model = ConvVAE(x_train.shape[1], x_train.shape[2], latent_dim, channels, hidden_dim)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    history = fit({"vae": model}, x_train, optimizer={"vae": optimizer}, train_step=vae_train_step(beta),
                  val_step=None if x_test is None else vae_val_step(beta), epochs=epochs, val_data=x_test,
                  batch_size=batch_size, verbose=verbose)
    seconds = time.perf_counter() - start
    held_out = None if x_test is None else elbo(model, x_test, generator=Generator().manual_seed(seed))
    return VAEResult(model, history, seconds, held_out)
