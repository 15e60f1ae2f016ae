"""Adversarial training: the WGAN-GP gradient penalty and the training steps of the three classic GAN
recipes, for ``fit(models, data, optimizer=optimizers, train_step=step)``.

Each factory returns ``step(batch, models, optimizers, state=None) -> dict of logged numbers``. The
models and optimisers are dicts with the same names: ``"generator"`` and ``"discriminator"`` (or
``"critic"``, either name is accepted by every recipe). ``batch`` is a tensor of real images or a tuple
whose first item is (labels are ignored). Latent vectors come from fastnn's random generator (or the
``generator`` given), so a checkpoint's random state reproduces them.

- :func:`gan_train_step`: the DCGAN recipe (Goodfellow et al. with the non-saturating generator loss):
  one discriminator step on BCE-with-logits of real (target 1, or ``1 - label_smoothing``) and fake
  (target 0) images, then one generator step on BCE(D(G(z)), 1). Logs ``d_loss``, ``g_loss``, and the
  tutorial's ``d_real`` = mean D(x) and ``d_fake`` = mean D(G(z)) as probabilities.
- :func:`wgan_train_step`: WGAN (Arjovsky et al.): the critic minimises E[C(G(z))] − E[C(x)] and its
  weights are clipped to [−clip_value, clip_value] after each step; the generator minimises −E[C(G(z))]
  once every ``n_critic`` steps (each step is one critic iteration on a new batch, as in the paper's
  algorithm). Logs ``d_loss``, ``g_loss`` (−E[C(G(z))] on the step's fakes, measured every step before
  the critic's update), and ``wasserstein`` = E[C(x)] − E[C(G(z))], the critic's estimate of the
  distance.
- :func:`wgan_gp_train_step`: WGAN-GP (Gulrajani et al.): the same with :func:`gradient_penalty` added to
  the critic loss instead of clipping; logs ``gp`` too.

The papers' optimisers: DCGAN Adam(lr=2e-4, betas=(0.5, 0.999)); WGAN RMSprop(lr=5e-5), n_critic=5,
clip_value=0.01; WGAN-GP Adam(lr=1e-4, betas=(0.0, 0.9)), n_critic=5, lambda_gp=10.
"""
from __future__ import annotations

import contextlib
import copy
import numbers
import time
from typing import NamedTuple

import numpy as np

from .callbacks import Callback

__all__ = ["gradient_penalty", "gan_train_step", "wgan_train_step", "wgan_gp_train_step", "sample_latent", "generate",
           "SampleGrid", "GANResult", "train_gan", "VARIANTS"]


def _as_tensor(x, name):
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        from .. import from_numpy
        return from_numpy(x)
    raise TypeError(f"{name} must be a fastnn Tensor or a numpy array, got {type(x).__name__}")


def gradient_penalty(critic, real, fake, lambda_gp=10.0, generator=None, *, alpha=None):
    """WGAN-GP's penalty ``lambda_gp * E[(||grad_x C(x_hat)||_2 - 1)^2]`` at ``x_hat = alpha * real +
    (1 - alpha) * fake``, one ``alpha ~ U(0, 1)`` per sample (drawn from ``generator``, or given as
    ``alpha``: shape (N,) or broadcastable to ``real``).

    ``real`` and ``fake`` are detached first (the penalty regularises the critic only); the gradient
    is taken with ``fastnn.autograd.grad(create_graph=True)``, so ``penalty.backward()`` reaches the
    critic's parameters through the gradient itself (gradients of gradients). The norm is over all
    the non-batch dimensions of each sample. Returns a 0-d tensor.
    """
    from .. import autograd, enable_grad, ones_like, rand
    from ..tensor import Tensor
    real = _as_tensor(real, "gradient_penalty: real")
    fake = _as_tensor(fake, "gradient_penalty: fake")
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"gradient_penalty: real and fake must have the same shape, got {tuple(real.shape)} "
                         f"and {tuple(fake.shape)}")
    if real.ndim < 2 or real.shape[0] == 0:
        raise ValueError(f"gradient_penalty: real must be a non-empty batch (N, ...) with N >= 1, got shape "
                         f"{tuple(real.shape)}")
    if not isinstance(lambda_gp, numbers.Real) or not np.isfinite(lambda_gp) or lambda_gp < 0:
        raise ValueError(f"gradient_penalty: lambda_gp must be a finite number >= 0, got {lambda_gp!r}")
    n = real.shape[0]
    broadcast_shape = (n,) + (1,) * (real.ndim - 1)
    if alpha is None:
        alpha = rand(*broadcast_shape, generator=generator, dtype=real.dtype, device=real.device)
    else:
        alpha = _as_tensor(alpha, "gradient_penalty: alpha") if not isinstance(alpha, numbers.Real) else alpha
        if isinstance(alpha, Tensor):
            if alpha.ndim == 1 and alpha.shape[0] == n:
                alpha = alpha.reshape(broadcast_shape)
            try:
                np.broadcast_shapes(tuple(alpha.shape), tuple(real.shape))
            except ValueError:
                raise ValueError(f"gradient_penalty: alpha of shape {tuple(alpha.shape)} does not broadcast to "
                                 f"real's shape {tuple(real.shape)}") from None
            alpha = alpha.detach()
    real, fake = real.detach(), fake.detach()
    with enable_grad():  # the penalty is a gradient: it needs the graph even inside no_grad (e.g. validation)
        x_hat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
        scores = critic(x_hat)
        grad, = autograd.grad(scores, x_hat, grad_outputs=ones_like(scores), create_graph=True, retain_graph=True)
        norm = grad.reshape(n, -1).norm(2, dim=1)
        return ((norm - 1) ** 2).mean() * lambda_gp


def sample_latent(n, nz, *, generator=None, like=None):
    """``n`` latent vectors from N(0, 1): shape (n, nz, 1, 1) for an int ``nz`` (the DCGAN generator's
    input), (n, *nz) for a tuple. ``like`` (a tensor) gives the dtype and device."""
    from .. import randn
    shape = (nz, 1, 1) if isinstance(nz, numbers.Integral) else tuple(nz)
    kwargs = {} if like is None else {"dtype": like.dtype, "device": like.device}
    return randn(n, *shape, generator=generator, **kwargs)


def _check_latent(nz, owner):
    sizes = (nz,) if isinstance(nz, numbers.Integral) and not isinstance(nz, bool) else nz
    if not isinstance(sizes, (tuple, list)) or not sizes or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in sizes):
        raise ValueError(f"{owner}: nz must be a positive integer (latent shape (nz, 1, 1)) or a tuple of "
                         f"positive integers (the latent shape), got {nz!r}")
    return nz if isinstance(nz, numbers.Integral) else tuple(sizes)


def _check_n_critic(n_critic, owner):
    if isinstance(n_critic, bool) or not isinstance(n_critic, numbers.Integral) or n_critic < 1:
        raise ValueError(f"{owner}: n_critic must be an integer >= 1, got {n_critic!r}")
    return int(n_critic)


def _pick(mapping, names, what, owner):
    """The model/optimiser named by the first of ``names`` found in ``mapping`` (a dict)."""
    if not isinstance(mapping, dict):
        raise TypeError(f"{owner}: {what} must be a dict keyed by {' / '.join(repr(n) for n in names)}, got "
                        f"{type(mapping).__name__}")
    for name in names:
        if name in mapping:
            return name, mapping[name]
    raise KeyError(f"{owner}: {what} needs one of the keys {list(names)}, got {sorted(mapping)}")


_DISCRIMINATOR = ("discriminator", "critic")
_CRITIC = ("critic", "discriminator")


def _parts(models, optimizers, d_names, owner):
    _, gen = _pick(models, ("generator",), "models", owner)
    d_name, disc = _pick(models, d_names, "models", owner)
    _, opt_g = _pick(optimizers, ("generator",), "optimizers", owner)
    if d_name not in optimizers:
        raise KeyError(f"{owner}: optimizers needs the key {d_name!r} (the model's name), got {sorted(optimizers)}")
    return gen, disc, opt_g, optimizers[d_name]


def _real_images(batch, owner):
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError(f"{owner}: the batch is an empty {type(batch).__name__}")
        batch = batch[0]
    real = _as_tensor(batch, f"{owner}: the batch (real images, or a tuple whose first item they are)")
    if real.ndim < 2 or real.shape[0] == 0:
        raise ValueError(f"{owner}: the real images must be a non-empty batch (N, ...), got shape {tuple(real.shape)}")
    return real


@contextlib.contextmanager
def _frozen(model):
    """The model's parameters without requires_grad for the block: the generator's step then computes no
    weight gradients of the discriminator it backpropagates through (they would be discarded)."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _item(t):
    return float(t.detach().item())


class _StepCounter:
    """Which call of a step this is: the loop's ``state.global_step`` (train steps before this one) when the
    loop passes its state, so a resumed run alternates exactly as the uninterrupted one; else its own count."""

    def __init__(self):
        self.count = 0

    def __call__(self, state):
        step = getattr(state, "global_step", None)
        if step is None:
            step = self.count
        self.count = int(step) + 1
        return int(step)


def gan_train_step(nz, *, label_smoothing=0.0, generator=None):
    """The DCGAN training step (see the module docstring): one discriminator and one generator update per
    batch, BCE-with-logits, non-saturating generator loss. ``label_smoothing`` (in [0, 1)) lowers the real
    images' target to ``1 - label_smoothing`` (one-sided, as Salimans et al. recommend)."""
    owner = "gan_train_step"
    nz = _check_latent(nz, owner)
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"{owner}: label_smoothing must be in [0, 1), got {label_smoothing!r}")
    from .. import full_like, ones_like, zeros_like
    from ..nn import functional as F

    def step(batch, models, optimizers, state=None):
        gen, disc, opt_g, opt_d = _parts(models, optimizers, _DISCRIMINATOR, owner)
        real = _real_images(batch, owner)
        fake = gen(sample_latent(real.shape[0], nz, generator=generator, like=real))

        opt_d.zero_grad()
        d_real = disc(real).reshape(-1)
        d_fake = disc(fake.detach()).reshape(-1)
        d_loss = (F.binary_cross_entropy_with_logits(d_real, full_like(d_real, 1.0 - label_smoothing))
                  + F.binary_cross_entropy_with_logits(d_fake, zeros_like(d_fake)))
        d_loss.backward()
        opt_d.step()

        opt_g.zero_grad()
        with _frozen(disc):
            g_out = disc(fake).reshape(-1)
            g_loss = F.binary_cross_entropy_with_logits(g_out, ones_like(g_out))
            g_loss.backward()
        opt_g.step()
        return {"d_loss": _item(d_loss), "g_loss": _item(g_loss), "d_real": _item(d_real.detach().sigmoid().mean()),
                "d_fake": _item(d_fake.detach().sigmoid().mean())}

    return step


def _wgan_step(nz, n_critic, owner, critic_loss_extra, after_critic_step, generator):
    """The WGAN alternation shared by weight clipping and the gradient penalty: a critic step on every call,
    a generator step on every ``n_critic``-th."""
    from .. import no_grad
    counter = _StepCounter()

    def step(batch, models, optimizers, state=None):
        gen, critic, opt_g, opt_c = _parts(models, optimizers, _CRITIC, owner)
        real = _real_images(batch, owner)
        i = counter(state)
        with no_grad():  # the critic's step needs no graph through the generator
            fake = gen(sample_latent(real.shape[0], nz, generator=generator, like=real))

        opt_c.zero_grad()
        c_real = critic(real).mean()
        c_fake = critic(fake).mean()
        d_loss = c_fake - c_real
        logs = {"wasserstein": -_item(d_loss), "g_loss": -_item(c_fake)}
        extra = critic_loss_extra(critic, real, fake)
        if extra is not None:
            logs["gp"] = _item(extra)
            d_loss = d_loss + extra
        d_loss.backward()
        opt_c.step()
        after_critic_step(critic)
        logs["d_loss"] = _item(d_loss)

        if (i + 1) % n_critic == 0:
            opt_g.zero_grad()
            with _frozen(critic):
                g_loss = -critic(gen(sample_latent(real.shape[0], nz, generator=generator, like=real))).mean()
                g_loss.backward()
            opt_g.step()
        return logs

    return step


def wgan_train_step(nz, n_critic=5, clip_value=0.01, *, generator=None):
    """The WGAN training step with weight clipping (see the module docstring). Use it with
    ``optim.RMSprop(lr=5e-5)`` for both models, as the paper."""
    owner = "wgan_train_step"
    nz = _check_latent(nz, owner)
    n_critic = _check_n_critic(n_critic, owner)
    if not isinstance(clip_value, numbers.Real) or not np.isfinite(clip_value) or clip_value <= 0:
        raise ValueError(f"{owner}: clip_value must be a finite number > 0, got {clip_value!r}")
    from .. import no_grad

    def clip(critic):
        with no_grad():
            for p in critic.parameters():
                p.clamp_(-clip_value, clip_value)

    return _wgan_step(nz, n_critic, owner, lambda critic, real, fake: None, clip, generator)


def wgan_gp_train_step(nz, n_critic=5, lambda_gp=10.0, *, generator=None):
    """The WGAN-GP training step (see the module docstring). Use it with ``optim.Adam(lr=1e-4, betas=(0.0,
    0.9))`` for both models and a critic without batch normalisation (``fastnn.models.WGANCritic``)."""
    owner = "wgan_gp_train_step"
    nz = _check_latent(nz, owner)
    n_critic = _check_n_critic(n_critic, owner)
    if not isinstance(lambda_gp, numbers.Real) or not np.isfinite(lambda_gp) or lambda_gp < 0:
        raise ValueError(f"{owner}: lambda_gp must be a finite number >= 0, got {lambda_gp!r}")

    def penalty(critic, real, fake):
        return gradient_penalty(critic, real, fake, lambda_gp, generator)

    return _wgan_step(nz, n_critic, owner, penalty, lambda critic: None, generator)


class SampleGrid(Callback):
    """A callback saving a grid of the generator's images for fixed latent vectors after every ``every``
    epochs: ``path`` is formatted with ``epoch`` (1-based), e.g. ``"samples_{epoch:03d}.png"``. The
    generator (or its EMA copy) runs in eval mode under no_grad on ``z`` (default: ``n`` vectors drawn
    once from a generator seeded with ``seed``, so every epoch shows the same latents). Images in [-1, 1]
    are mapped to [0, 1] (``value_range``). ``generator=None`` takes the run's: its EMA copy when ``fit``
    keeps one for ``"generator"``, else ``models["generator"]``. ``paths`` lists the files written."""

    def __init__(self, generator, path, nz=None, *, z=None, n=64, nrow=8, every=1, seed=0, value_range=(-1.0, 1.0)):
        from .. import Generator
        if z is None:
            if nz is None:
                raise ValueError("SampleGrid: give nz (the latent size) or z (the latent vectors)")
            z = sample_latent(_positive(n, "n", "SampleGrid"), _check_latent(nz, "SampleGrid"),
                              generator=Generator().manual_seed(seed))
        self.generator, self.path, self.z, self.nrow, self.value_range = generator, path, z, nrow, value_range
        self.every = _positive(every, "every", "SampleGrid")
        self.paths = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.paths.append(self.save(self.path.format(epoch=epoch + 1)))

    def _generator(self):
        if self.generator is not None:
            return self.generator
        ema = getattr(self.state, "ema", None) or {}
        if "generator" in ema:
            return ema["generator"].module
        models = getattr(self.state, "models", None) or {}
        if "generator" not in models:
            raise ValueError("SampleGrid: no generator given and the run has no model named 'generator'")
        return models["generator"]

    def save(self, path):
        from ..utils import save_image
        images = generate(self._generator(), self.z)
        save_image(images, path, nrow=self.nrow, normalize=True, value_range=self.value_range)
        return path


def _positive(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def generate(generator, z):
    """The generator's images for latents ``z``, in eval mode under no_grad (its mode is restored)."""
    from .. import no_grad
    was_training = generator.training
    generator.eval()
    try:
        with no_grad():
            return generator(z).detach()
    finally:
        generator.train(was_training)


# The papers' settings per recipe: optimiser, learning rate and betas; the critic of each.
VARIANTS = {
    "dcgan": dict(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), critic="dcgan"),
    "wgan": dict(optimizer="rmsprop", lr=5e-5, betas=None, critic="batch"),
    "wgan-gp": dict(optimizer="adam", lr=1e-4, betas=(0.0, 0.9), critic=None),
}


class GANResult(NamedTuple):
    generator: object          # the trained generator (the EMA copy's module when ema_decay is given)
    critic: object             # the discriminator / critic
    history: object            # fit's History: d_loss, g_loss (+ d_real, d_fake or wasserstein, gp) per epoch
    seconds: float             # training time
    nz: object                 # the latent size
    raw_generator: object      # the generator the optimiser trained (the same object without EMA)
    untrained: object          # a copy of the generator as initialised, the baseline of every score

    def sample(self, n, seed=0, untrained=False):
        """``n`` generated images (numpy, float32, in [-1, 1]) from latents drawn with ``seed``, by the trained
        generator or (``untrained=True``) by the same generator before training."""
        from .. import Generator
        z = sample_latent(n, self.nz, generator=Generator().manual_seed(seed))
        return generate(self.untrained if untrained else self.generator, z).numpy()


def train_gan(images, variant="wgan-gp", *, epochs=10, nz=64, ngf=64, ndf=64, batch_size=64, lr=None, betas=None,
              n_critic=5, clip_value=0.01, lambda_gp=10.0, label_smoothing=0.0, critic_normalization="default",
              ema_decay=None, seed=0, verbose=0, callbacks=(), device=None, resume_from=None) -> GANResult:
    """Train a DCGAN-style generator on real ``images`` (N, C, H, W) scaled to [-1, 1] with one of the
    recipes of ``VARIANTS`` (``"dcgan"``, ``"wgan"``, ``"wgan-gp"``) through ``fit``'s custom training
    step, with the papers' optimisers unless ``lr``/``betas`` are given. The discriminator is
    ``DCGANDiscriminator`` for ``"dcgan"`` and ``WGANCritic`` otherwise, with batch normalisation for
    weight clipping (as the WGAN paper) and none for the gradient penalty (``critic_normalization``
    overrides it). ``ema_decay`` keeps an exponential moving average of the generator's weights (and
    batch-norm statistics), updated after every step; the result's ``generator`` is then that average.
    ``callbacks`` go to ``fit`` (e.g. :class:`SampleGrid`); batches are shuffled, the last partial one
    dropped. ``resume_from``: a checkpoint of an interrupted run with the same settings (``ModelCheckpoint`` in
    ``callbacks``) to continue from; the result is then the uninterrupted run's."""
    from .. import from_numpy, manual_seed
    from .. import optim
    from ..data import DataLoader, TensorDataset
    from ..models import DCGANDiscriminator, DCGANGenerator, WGANCritic
    from .loop import fit

    if variant not in VARIANTS:
        raise ValueError(f"train_gan: variant must be one of {list(VARIANTS)}, got {variant!r}")
    x = np.asarray(images.numpy() if hasattr(images, "numpy") else images, dtype=np.float32)
    if x.ndim != 4 or x.shape[2] != x.shape[3] or len(x) < batch_size:
        raise ValueError(f"train_gan: images must have shape (N, C, S, S) with N >= batch_size ({batch_size}), "
                         f"got {x.shape}")
    if x.min() < -1.0 - 1e-6 or x.max() > 1.0 + 1e-6:
        raise ValueError(f"train_gan: images must be scaled to [-1, 1] (the generator's Tanh range), got values "
                         f"in [{x.min():.3g}, {x.max():.3g}]")
    cfg = VARIANTS[variant]
    manual_seed(seed)
    nc, size = x.shape[1], x.shape[2]
    G = DCGANGenerator(nz=nz, ngf=ngf, nc=nc, image_size=size)
    norm = cfg["critic"] if critic_normalization == "default" else critic_normalization
    if variant == "dcgan":
        D, d_name, step = DCGANDiscriminator(nc=nc, ndf=ndf, image_size=size), "discriminator", \
            gan_train_step(nz, label_smoothing=label_smoothing)
    else:
        D, d_name = WGANCritic(nc=nc, ndf=ndf, image_size=size, normalization=norm), "critic"
        step = wgan_train_step(nz, n_critic, clip_value) if variant == "wgan" else \
            wgan_gp_train_step(nz, n_critic, lambda_gp)
    lr = cfg["lr"] if lr is None else lr
    betas = cfg["betas"] if betas is None else betas

    def make_optimizer(model):
        if cfg["optimizer"] == "rmsprop":
            return optim.RMSprop(model.parameters(), lr=lr)
        return optim.Adam(model.parameters(), lr=lr, betas=betas)

    models = {"generator": G, d_name: D}
    if device is not None:
        for m in models.values():
            m.to(device)
    optimizers = {name: make_optimizer(m) for name, m in models.items()}
    ema = None
    if ema_decay is not None:
        from ..optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
        ema = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
    untrained = copy.deepcopy(G)
    loader = DataLoader(TensorDataset(from_numpy(x)), batch_size=batch_size, shuffle=True, drop_last=True)
    start = time.perf_counter()
    history = fit(models, loader, optimizer=optimizers, train_step=step, epochs=epochs, callbacks=list(callbacks),
                  ema=None if ema is None else {"generator": ema}, verbose=verbose, device=device,
                  resume_from=resume_from)
    seconds = time.perf_counter() - start
    final = G if ema is None else ema.module
    return GANResult(final, D, history, seconds, nz, G, untrained)
