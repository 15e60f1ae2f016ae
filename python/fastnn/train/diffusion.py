"""Denoising diffusion (DDPM) training, sampling and evaluation, for ``fit(models, data,
optimizer=optimizers, train_step=step)`` and the examples, on the schedulers and pipelines of
``fastnn.diffusion`` and ``fastnn.models.UNet2DModel``.

- :func:`ddpm_train_step`: Ho et al.'s (2020) Algorithm 1 for ``fit``: per sample a timestep t ~ U{0..T-1},
  ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` by the scheduler's fused ``diffuse`` (eps drawn inside
  the kernel), and the mean squared error between the UNet's output and the target of the scheduler's
  ``prediction_type`` (eps, x_0 or v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0). With class labels in the
  batch and a class-conditional UNet, classifier-free guidance's label dropout (Ho & Salimans, 2021): each
  label is replaced by the null class with probability ``p_uncond``. Logs ``loss``.
- :func:`train_ddpm`: the whole run (AdamW, optional EMA of the weights, callbacks, checkpoints and exact
  resume) around ``fit``.
- :func:`sample_images`: generated images through ``DDPMPipeline`` / ``DDIMPipeline`` (the pipeline owns
  the reverse-process loop), with classifier-free guidance.
- :func:`variational_bound_bpd`: the negative variational bound of Ho et al. (eq. 5) in bits per
  dimension, L = L_T + sum_{t>1} L_{t-1} + L_0, with the discretised Gaussian decoder of section 3.3.

Random numbers (timesteps, label dropout, the fused kernel's noise) come from fastnn's global streams by
default, whose state ``fit``'s checkpoints hold, so a run stopped after epoch k and resumed from its
checkpoint equals the uninterrupted run bit for bit. A ``generator`` (``fastnn.Generator``) given to
:func:`ddpm_train_step` is a stream of the step's own, not saved in checkpoints.
"""
from __future__ import annotations

import copy
import math
import numbers
import time
from typing import NamedTuple

import numpy as np

__all__ = ["ddpm_train_step", "ddpm_val_step", "train_ddpm", "DDPMResult", "sample_images", "variational_bound_bpd",
           "VariationalBound", "normal_kl", "discretized_gaussian_log_likelihood", "LOSSES"]

LOSSES = ("mse", "l1", "huber")
_PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")


# ----------------------------------------------------------------------------------------- helpers


def _config(obj, key, default=None):
    cfg = getattr(obj, "config", None)
    if cfg is None:
        return default
    if isinstance(cfg, dict):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def _num_train_timesteps(scheduler, owner):
    T = _config(scheduler, "num_train_timesteps")
    if T is None:
        T = len(np.asarray(_array(scheduler.alphas_cumprod)))
    if isinstance(T, bool) or not isinstance(T, numbers.Integral) or T < 1:
        raise TypeError(f"{owner}: argument 'scheduler' must be a fastnn.diffusion scheduler (DDPMScheduler or "
                        f"DDIMScheduler) with config.num_train_timesteps, got {type(scheduler).__name__}")
    return int(T)


def _check_scheduler(scheduler, owner):
    for attr in ("alphas_cumprod", "betas"):
        if not hasattr(scheduler, attr):
            raise TypeError(f"{owner}: argument 'scheduler' must be a fastnn.diffusion scheduler (DDPMScheduler or "
                            f"DDIMScheduler), got {type(scheduler).__name__} (no {attr!r})")
    return _num_train_timesteps(scheduler, owner)


def _prediction_type(scheduler, prediction_type, owner):
    p = _config(scheduler, "prediction_type", "epsilon") if prediction_type is None else prediction_type
    if p not in _PREDICTION_TYPES:
        raise ValueError(f"{owner}: argument 'prediction_type' must be one of {list(_PREDICTION_TYPES)} (or None: the "
                         f"scheduler's config.prediction_type), got {p!r}")
    return p


def _array(x):
    """A numpy array of a Tensor, numpy or cupy array (tables of the scheduler, model outputs)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        x = x.detach()
        if hasattr(x, "cpu"):
            x = x.cpu()
        return x.numpy()
    if hasattr(x, "get") and not isinstance(x, np.ndarray):  # cupy
        return x.get()
    return np.asarray(x)


def _images_and_labels(batch, owner):
    """The (images, labels or None) of a batch: a tensor of images, or a tuple/list (images, labels, ...)."""
    from ..tensor import Tensor
    labels = None
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError(f"{owner}: the batch is an empty {type(batch).__name__}")
        images = batch[0]
        if len(batch) > 1:
            labels = batch[1]
    else:
        images = batch
    if isinstance(images, np.ndarray):
        from .. import from_numpy
        images = from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if not isinstance(images, Tensor):
        raise TypeError(f"{owner}: the batch must be a Tensor of images (N, C, H, W) or a tuple (images, labels), got "
                        f"{type(images).__name__}")
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"{owner}: the images must be a non-empty batch (N, C, H, W), got shape {tuple(images.shape)}")
    if labels is not None and not isinstance(labels, Tensor):
        from .. import tensor
        labels = tensor(np.asarray(labels))
    return images, labels


def _is_conditional(unet):
    return _config(unet, "num_class_embeds") is not None or _config(unet, "class_embed_type") is not None


def _null_class(unet, null_class, owner):
    if null_class is not None:
        if isinstance(null_class, bool) or not isinstance(null_class, numbers.Integral) or null_class < 0:
            raise ValueError(f"{owner}: argument 'null_class' must be a non-negative int (the class index that "
                             f"means 'no label'), got {null_class!r}")
        return int(null_class)
    n = _config(unet, "num_class_embeds")
    if n is None:
        raise ValueError(f"{owner}: classifier-free guidance needs 'null_class' or a UNet with num_class_embeds (its "
                         "last class is then the null class)")
    return int(n) - 1


def _check_labels(labels, n, owner):
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"{owner}: the class labels must have shape ({n},) (one per image), got "
                         f"{tuple(labels.shape)}")
    if str(labels.dtype) not in ("int64", "int32", "int16", "int8", "uint8"):
        raise TypeError(f"{owner}: the class labels must be integer class indices, got dtype {labels.dtype}")


def _unet_output(unet, x, t, class_labels):
    out = unet(x, t, class_labels=class_labels) if class_labels is not None else unet(x, t)
    return out.sample if hasattr(out, "sample") else (out[0] if isinstance(out, tuple) else out)


def _loss_fn(loss, owner):
    from ..nn import functional as F
    fns = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}
    if loss not in fns:
        raise ValueError(f"{owner}: argument 'loss' must be one of {list(fns)}, got {loss!r}")
    return fns[loss]


def _p_uncond(p, owner):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p < 1.0:
        raise ValueError(f"{owner}: argument 'p_uncond' must be a probability in [0, 1), got {p!r}")
    return float(p)


def _ddpm_loss(unet, images, labels, scheduler, T, prediction_type, p_uncond, null_class, loss_fn, generator, owner):
    """The training objective on one batch (a 0-d tensor)."""
    from .. import rand, randint, where
    n = images.shape[0]
    timesteps = randint(0, T, (n,), generator=generator, device=images.device)
    if prediction_type == "v_prediction":
        noisy, noise, target = scheduler.diffuse(images, timesteps, generator=generator, return_velocity=True)
    else:
        noisy, noise = scheduler.diffuse(images, timesteps, generator=generator)
        target = noise if prediction_type == "epsilon" else images
    class_labels = None
    if _is_conditional(unet):
        if labels is None:
            raise ValueError(f"{owner}: the UNet is class-conditional (num_class_embeds="
                             f"{_config(unet, 'num_class_embeds')}) but the batch holds no labels: give (images, "
                             "labels) batches")
        _check_labels(labels, n, owner)
        class_labels = labels.to(images.device) if hasattr(labels, "to") else labels
        if p_uncond > 0:
            drop = rand(n, generator=generator, device=images.device) < p_uncond
            class_labels = where(drop, null_class, class_labels)
    elif p_uncond > 0:
        raise ValueError(f"{owner}: p_uncond={p_uncond} (classifier-free guidance's label dropout) needs a "
                         "class-conditional UNet (num_class_embeds)")
    pred = _unet_output(unet, noisy, timesteps, class_labels)
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"{owner}: the UNet's output has shape {tuple(pred.shape)}, the target "
                         f"({prediction_type}) {tuple(target.shape)}: out_channels must equal in_channels")
    return loss_fn(pred.float(), target.float())


def _models_and_opt(models, optimizers, model, owner, need_opt=True):
    if not isinstance(models, dict) or model not in models:
        raise KeyError(f"{owner}: models must be a dict holding {model!r}, got "
                       f"{sorted(models) if isinstance(models, dict) else type(models).__name__}")
    if not need_opt:
        return models[model], None
    if not isinstance(optimizers, dict) or model not in optimizers:
        raise KeyError(f"{owner}: optimizers must be a dict holding {model!r}, got "
                       f"{sorted(optimizers) if isinstance(optimizers, dict) else type(optimizers).__name__}")
    return models[model], optimizers[model]


# ------------------------------------------------------------------------------------- training


def ddpm_train_step(scheduler, *, prediction_type=None, p_uncond=0.0, null_class=None, loss="mse", generator=None,
                    model="unet"):
    """A ``train_step`` for ``fit`` (see the module docstring): one denoising update of ``models[model]`` with
    ``optimizers[model]`` on batches of images (N, C, H, W) in [-1, 1], or ``(images, labels)``.

    ``prediction_type``: what the UNet predicts, ``"epsilon"``, ``"sample"`` or ``"v_prediction"`` (default: the
    scheduler's ``config.prediction_type``). ``loss``: ``"mse"`` (Ho et al.'s simplified objective), ``"l1"`` or
    ``"huber"``. ``p_uncond``: the probability of replacing a label by ``null_class`` (default: the UNet's last
    class, ``num_class_embeds - 1``) for classifier-free guidance; labels are used only by a class-conditional
    UNet. ``generator``: a ``fastnn.Generator`` for the timesteps, the dropout and the noise (default: the
    global streams, which checkpoints save). Returns ``step(batch, models, optimizers, state=None) -> {"loss"}``.
    """
    owner = "ddpm_train_step"
    T = _check_scheduler(scheduler, owner)
    prediction_type = _prediction_type(scheduler, prediction_type, owner)
    p_uncond = _p_uncond(p_uncond, owner)
    loss_fn = _loss_fn(loss, owner)
    if null_class is not None:
        _null_class(None, null_class, owner)

    def step(batch, models, optimizers, state=None):
        unet, opt = _models_and_opt(models, optimizers, model, owner)
        images, labels = _images_and_labels(batch, owner)
        nc = _null_class(unet, null_class, owner) if p_uncond > 0 and _is_conditional(unet) else null_class
        opt.zero_grad()
        value = _ddpm_loss(unet, images, labels, scheduler, T, prediction_type, p_uncond, nc, loss_fn, generator,
                           owner)
        value.backward()
        opt.step()
        return {"loss": float(value.detach().item())}

    return step


def ddpm_val_step(scheduler, *, prediction_type=None, loss="mse", generator=None, model="unet"):
    """The ``val_step`` going with :func:`ddpm_train_step`: the same loss on held-out batches (logged as
    ``val_loss``), with the labels as given (no dropout). Its timesteps and noise are drawn from
    ``generator`` (default: the global streams)."""
    owner = "ddpm_val_step"
    T = _check_scheduler(scheduler, owner)
    prediction_type = _prediction_type(scheduler, prediction_type, owner)
    loss_fn = _loss_fn(loss, owner)

    def step(batch, models):
        unet, _ = _models_and_opt(models, None, model, owner, need_opt=False)
        images, labels = _images_and_labels(batch, owner)
        value = _ddpm_loss(unet, images, labels, scheduler, T, prediction_type, 0.0, None, loss_fn, generator, owner)
        return {"loss": float(value.item())}

    return step


class DDPMResult(tuple):
    """:func:`train_ddpm`'s result, unpacking as ``history, ema_unet = result``; also ``.unet`` (the trained
    weights the optimiser updated), ``.ema_unet`` (their EMA, or ``.unet`` without ``ema_decay``),
    ``.history``, ``.scheduler``, ``.seconds`` (training time) and ``.untrained`` (a copy of the UNet as
    initialised: the baseline of the evaluations)."""

    def __new__(cls, history, ema_unet, *, unet, scheduler, seconds, untrained):
        self = super().__new__(cls, (history, ema_unet))
        self.unet, self.scheduler, self.seconds, self.untrained = unet, scheduler, seconds, untrained
        return self

    history = property(lambda self: self[0])
    ema_unet = property(lambda self: self[1])


def _images_array(images, name, owner):
    from ..tensor import Tensor
    a = images.numpy() if isinstance(images, Tensor) else np.asarray(images)
    if a.ndim != 4 or len(a) == 0:
        raise ValueError(f"{owner}: argument '{name}' must be a non-empty batch of images (N, C, H, W), got shape "
                         f"{a.shape}")
    if a.dtype.kind != "f":
        raise ValueError(f"{owner}: argument '{name}' must hold floating-point pixels scaled to [-1, 1], got dtype "
                         f"{a.dtype}")
    if a.min() < -1.0 - 1e-6 or a.max() > 1.0 + 1e-6:
        raise ValueError(f"{owner}: argument '{name}' must be scaled to [-1, 1] (DDPM's data range), got values in "
                         f"[{a.min():.3g}, {a.max():.3g}]")
    return np.ascontiguousarray(a, dtype=np.float32)


def train_ddpm(unet, images, labels=None, *, epochs, batch_size=64, lr=1e-3, ema_decay=None, scheduler=None,
               callbacks=(), val_images=None, val_labels=None, prediction_type=None, p_uncond=0.0, null_class=None,
               loss="mse", weight_decay=0.0, lr_warmup_steps=0, seed=None, verbose=0, device=None, resume_from=None):
    """Train ``unet`` (a ``fastnn.models.UNet2DModel``) as a DDPM on ``images`` (N, C, H, W) scaled to [-1, 1] with
    :func:`ddpm_train_step` through ``fit``: AdamW(``lr``, ``weight_decay``) with a linear warm-up over
    ``lr_warmup_steps`` steps, shuffled batches of ``batch_size`` (the last partial one dropped), and with
    ``ema_decay`` an exponential moving average of the weights updated after every step (``AveragedModel`` with
    ``get_ema_multi_avg_fn``), saved in checkpoints. ``scheduler``: the noise schedule (default
    ``DDPMScheduler()``, 1000 linear steps). ``labels`` (N,) go to a class-conditional UNet, with ``p_uncond``
    label dropout for classifier-free guidance. ``val_images`` (and ``val_labels``) give ``val_loss`` each
    epoch. ``callbacks`` go to ``fit`` (e.g. ``ModelCheckpoint``); ``resume_from`` continues an interrupted run
    of the same settings from its checkpoint, the result then being the uninterrupted run's. ``seed``: reseeds
    fastnn's global generators first (None: leaves them as they are, e.g. seeded before building the UNet).

    Returns a :class:`DDPMResult`: ``history, ema_unet = train_ddpm(...)``."""
    from .. import from_numpy, manual_seed, optim
    from ..data import DataLoader, TensorDataset
    from .loop import fit
    owner = "train_ddpm"
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"{owner}: argument 'epochs' must be a non-negative int, got {epochs!r}")
    x = _images_array(images, "images", owner)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or not 1 <= batch_size <= len(x):
        raise ValueError(f"{owner}: argument 'batch_size' must be an int in [1, {len(x)}] (the number of images), got "
                         f"{batch_size!r}")
    if ema_decay is not None and (not isinstance(ema_decay, numbers.Real) or not 0.0 <= ema_decay < 1.0):
        raise ValueError(f"{owner}: argument 'ema_decay' must be in [0, 1) or None, got {ema_decay!r}")
    if scheduler is None:
        from ..diffusion import DDPMScheduler
        scheduler = DDPMScheduler()
    if seed is not None:
        manual_seed(seed)

    def dataset(x, y, name):
        if y is None:
            return TensorDataset(from_numpy(x))
        y = np.asarray(y.numpy() if hasattr(y, "numpy") else y)
        if y.shape != (len(x),) or y.dtype.kind not in "iu":
            raise ValueError(f"{owner}: argument '{name}' must be integer class indices of shape ({len(x)},), got "
                             f"shape {y.shape} and dtype {y.dtype}")
        return TensorDataset(from_numpy(x), from_numpy(y.astype(np.int64)))

    train = dataset(x, labels, "labels")
    val = None
    if val_images is not None:
        val = dataset(_images_array(val_images, "val_images", owner), val_labels, "val_labels")
    step = ddpm_train_step(scheduler, prediction_type=prediction_type, p_uncond=p_uncond, null_class=null_class,
                           loss=loss)
    vstep = None if val is None else ddpm_val_step(scheduler, prediction_type=prediction_type, loss=loss)
    if device is not None:
        unet.to(device)
    untrained = copy.deepcopy(unet)
    opt = optim.AdamW(unet.parameters(), lr=lr, weight_decay=weight_decay)
    sched = None
    if lr_warmup_steps:
        warm = int(lr_warmup_steps)
        sched = {"unet": optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))}
    ema = None
    if ema_decay is not None:
        from ..optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
        ema = AveragedModel(unet, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True)
    val_loader = None if val is None else DataLoader(val, batch_size=max(batch_size, 256))
    start = time.perf_counter()
    history = fit({"unet": unet}, loader, optimizer={"unet": opt}, train_step=step, val_step=vstep,
                  val_data=val_loader, epochs=epochs, callbacks=list(callbacks), scheduler=sched,
                  scheduler_interval="batch", ema=None if ema is None else {"unet": ema}, verbose=verbose,
                  device=device, resume_from=resume_from)
    seconds = time.perf_counter() - start
    final = unet if ema is None else ema.module
    return DDPMResult(history, final, unet=unet, scheduler=scheduler, seconds=seconds, untrained=untrained)


# ------------------------------------------------------------------------------------- sampling


def _pipeline(unet, scheduler):
    from .. import diffusion
    if isinstance(scheduler, getattr(diffusion, "DDIMScheduler", ())):
        return diffusion.DDIMPipeline(unet=unet, scheduler=scheduler), True
    return diffusion.DDPMPipeline(unet=unet, scheduler=scheduler), False


def sample_images(unet, scheduler, n, *, generator=None, num_inference_steps=None, class_labels=None,
                  guidance_scale=1.0, null_class=None, eta=0.0, return_intermediates=False, latents=None):
    """``n`` images generated by ``unet`` through the reverse process of ``scheduler``: ``DDPMPipeline`` for a
    ``DDPMScheduler`` (``num_inference_steps`` default: every training step), ``DDIMPipeline`` for a
    ``DDIMScheduler`` (default 50 steps; ``eta`` 0 is deterministic given x_T). ``class_labels`` (an int or
    (n,)) and ``guidance_scale`` w: classifier-free guidance, eps = eps(x, null) + w (eps(x, y) - eps(x, null))
    (w = 1: the conditional model alone, w = 0: the unconditional one) against ``null_class`` (default the
    UNet's last class). ``latents``: a given x_T (n, C, H, W). The UNet runs in eval mode (restored after) under
    no_grad.

    Returns a fastnn Tensor (n, C, H, W) in [-1, 1] (the training data's range), or with
    ``return_intermediates`` (True: every step, an int k: k steps evenly spaced, or a list of timesteps)
    ``(images, [(t, x_t after step t), ...])``, each x_t also in [-1, 1]."""
    from .. import no_grad
    owner = "sample_images"
    _check_scheduler(scheduler, owner)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{owner}: argument 'n' must be a positive int, got {n!r}")
    pipe, ddim = _pipeline(unet, scheduler)
    kwargs = dict(batch_size=int(n), generator=generator, output_type="tensor", return_dict=True,
                  class_labels=class_labels, guidance_scale=guidance_scale, null_class=null_class,
                  return_intermediates=return_intermediates, latents=latents)
    if num_inference_steps is not None:
        kwargs["num_inference_steps"] = num_inference_steps
    elif not ddim:
        kwargs["num_inference_steps"] = _num_train_timesteps(scheduler, owner)
    if ddim:
        kwargs["eta"] = eta
    was_training = unet.training
    unet.eval()
    try:
        with no_grad():
            out = pipe(**kwargs)
    finally:
        unet.train(was_training)
    images = _to_model_range(out.images)
    if return_intermediates is not False and return_intermediates is not None:
        steps = [int(t) for t in out.intermediate_timesteps]
        return images, [(t, _to_model_range(x)) for t, x in zip(steps, out.intermediates)]
    return images


def _to_model_range(images):
    """The pipeline's ``output_type="tensor"`` images ((N, C, H, W) in [0, 1], as diffusers' postprocessing
    clamps them) mapped back to the model's [-1, 1]."""
    return images * 2.0 - 1.0


# ---------------------------------------------------------------------------------- evaluation


def normal_kl(mean1, logvar1, mean2, logvar2):
    """KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) element-wise, in nats (numpy, float64, broadcasting):
    0.5 (logvar2 - logvar1 + (exp(logvar1) + (mean1 - mean2)^2) / exp(logvar2) - 1)."""
    m1, v1, m2, v2 = (np.asarray(a, np.float64) for a in (mean1, logvar1, mean2, logvar2))
    return 0.5 * (v2 - v1 + np.exp(v1 - v2) + (m1 - m2) ** 2 * np.exp(-v2) - 1.0)


def _log_ndtr_diff(lo, hi):
    """log(Phi(hi) - Phi(lo)) for lo < hi (z-scores, float64), through erfc on the side of the origin where the
    difference does not cancel; clamped at log(1e-12) as Ho et al.'s code does."""
    from .._ops_math import _erfc_fwd
    s = math.sqrt(0.5)
    upper = lo > 0  # both on the right: Phi(hi) - Phi(lo) = (erfc(lo/sqrt2) - erfc(hi/sqrt2)) / 2
    a = np.where(upper, lo, -hi)
    b = np.where(upper, hi, -lo)
    p = 0.5 * (_erfc_fwd(a * s) - _erfc_fwd(b * s))
    return np.log(np.maximum(p, 1e-12))


def discretized_gaussian_log_likelihood(x, *, means, log_scales, levels=256):
    """log-probability (nats, element-wise, float64) of images ``x`` in [-1, 1] quantised to ``levels`` values
    under the discretised Gaussian decoder of Ho et al. (2020, eq. 13): the mass of N(means, exp(log_scales)^2)
    over the bin [x - 1/(levels-1), x + 1/(levels-1)], the first and last bins extended to -inf and +inf."""
    x, mu, ls = (np.asarray(a, np.float64) for a in (x, means, log_scales))
    half = 1.0 / (levels - 1)
    inv = np.exp(-ls)
    lo = np.where(x <= -1.0 + half / 2, -np.inf, (x - half - mu) * inv)
    hi = np.where(x >= 1.0 - half / 2, np.inf, (x + half - mu) * inv)
    return _log_ndtr_diff(*np.broadcast_arrays(lo, hi))


class VariationalBound(NamedTuple):
    """:func:`variational_bound_bpd`'s result, in bits per dimension (means over the images): ``bpd`` = ``prior``
    (L_T) + ``diffusion`` (sum of L_{t-1}, t = 2..T) + ``decoder`` (L_0); ``per_image`` (N,) the bound of each
    image; ``timesteps`` the 0-based steps evaluated (0 = the decoder term), ``terms`` their mean terms and
    ``weights`` the weight of each in the sum (1 with every step, the stratum's size with a subset)."""
    bpd: float
    prior: float
    diffusion: float
    decoder: float
    per_image: np.ndarray
    timesteps: np.ndarray
    terms: np.ndarray
    weights: np.ndarray


def _bound_tables(scheduler, variance_type):
    """Float64 tables of Ho et al.'s posterior q(x_{t-1} | x_t, x_0) and the model's fixed log-variances."""
    # the marginals of the forward process as the scheduler draws x_t (its float32 alphas_cumprod), and betas
    # consistent with them, so that x_0 recovered from a perfect prediction is x_0 to float32 precision
    abar = _array(scheduler.alphas_cumprod).astype(np.float64)
    betas = 1.0 - abar / np.append(1.0, abar[:-1])
    abar_prev = np.append(1.0, abar[:-1])
    post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
    # posterior_variance[0] is 0: its log is taken at step 1 instead (Ho et al.'s "clipped" log-variance)
    post_logvar = np.log(np.append(post_var[1], post_var[1:]))
    if variance_type in (None, "fixed_small", "fixed_small_log"):
        model_logvar = post_logvar
    elif variance_type in ("fixed_large", "fixed_large_log"):
        # sigma_t^2 = beta_t, with step 0's decoder on the posterior variance of step 1 as Nichol & Dhariwal's
        # code does (beta_1 would make the decoder's Gaussian narrower than the data's quantisation)
        model_logvar = np.log(np.append(post_var[1], betas[1:]))
    else:
        raise NotImplementedError(f"variational_bound_bpd: the bound needs a fixed variance (variance_type "
                                  f"'fixed_small' or 'fixed_large'), got {variance_type!r}")
    coef_x0 = betas * np.sqrt(abar_prev) / (1.0 - abar)
    coef_xt = (1.0 - abar_prev) * np.sqrt(1.0 - betas) / (1.0 - abar)
    return dict(betas=betas, abar=abar, post_logvar=post_logvar, model_logvar=model_logvar, coef_x0=coef_x0,
                coef_xt=coef_xt)


def _bound_steps(T, timesteps, rng, owner):
    """(steps, weights): every step with weight 1, or for an int k, step 0 (the decoder) and one step drawn
    uniformly in each of k equal strata of 1..T-1, weighted by its stratum's size (an unbiased estimate of
    the sum over 1..T-1)."""
    if timesteps is None or (isinstance(timesteps, numbers.Integral) and not isinstance(timesteps, bool)
                             and timesteps >= T - 1):
        return np.arange(T), np.ones(T)
    if isinstance(timesteps, bool) or not isinstance(timesteps, numbers.Integral) or timesteps < 1:
        raise ValueError(f"{owner}: argument 'timesteps' must be None (every step) or a positive int (that many "
                         f"strata of the steps 1..T-1), got {timesteps!r}")
    edges = np.round(np.linspace(1, T, int(timesteps) + 1)).astype(np.int64)
    lo, hi = edges[:-1], edges[1:]
    steps = lo + (rng.random(len(lo)) * (hi - lo)).astype(np.int64)
    return np.concatenate([[0], steps]), np.concatenate([[1.0], (hi - lo).astype(np.float64)])


def variational_bound_bpd(unet, scheduler, images, *, generator=None, timesteps=None, class_labels=None,
                          batch_size=256, clip_denoised=True, prediction_type=None):
    """The negative variational bound of Ho et al. (2020, eq. 5) on ``images`` in bits per dimension:

        L = L_T + sum_{t=2..T} L_{t-1} + L_0,  L_T = KL(q(x_T|x_0) || N(0, I)),
        L_{t-1} = KL(q(x_{t-1}|x_t, x_0) || p(x_{t-1}|x_t)),  L_0 = -log p(x_0|x_1),

    with the posterior's mean and variance in closed form (eq. 6-7), the model's mean from its prediction
    (x_0 recovered from eps, x_0 or v, clipped to [-1, 1] with ``clip_denoised`` as in Ho et al.'s evaluation),
    its fixed variance of the scheduler's ``variance_type`` ("fixed_small": the posterior's, "fixed_large":
    beta_t), and the discretised Gaussian decoder of section 3.3 for L_0 on data in [-1, 1] with 256 levels
    (images should be k/255 scaled to [-1, 1]). One x_t ~ q(x_t|x_0) per image and step (the kernel's noise,
    from ``generator`` or the global stream). Divided by the number of dimensions C*H*W and ln 2.

    ``timesteps``: None evaluates all T steps (T UNet passes over the images); an int k evaluates step 0 and one
    step drawn in each of k equal strata of 1..T-1, each term weighted by its stratum's size (an unbiased
    Monte-Carlo estimate of the sum; the strata's draws from ``generator``). Returns a :class:`VariationalBound`.
    """
    from .. import from_numpy, no_grad, tensor
    from .. import random as fastnn_random
    owner = "variational_bound_bpd"
    T = _check_scheduler(scheduler, owner)
    prediction_type = _prediction_type(scheduler, prediction_type, owner)
    x0 = _images_array(images, "images", owner)
    n, dims = len(x0), int(np.prod(x0.shape[1:]))
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{owner}: argument 'batch_size' must be a positive int, got {batch_size!r}")
    labels = None
    if class_labels is not None:
        labels = np.asarray(_array(class_labels))
        if labels.shape != (n,) or labels.dtype.kind not in "iu":
            raise ValueError(f"{owner}: argument 'class_labels' must be integer class indices of shape ({n},), got "
                             f"shape {labels.shape} and dtype {labels.dtype}")
    elif _is_conditional(unet):
        raise ValueError(f"{owner}: the UNet is class-conditional: give 'class_labels' ({n},)")
    tab = _bound_tables(scheduler, _config(scheduler, "variance_type", "fixed_small"))
    rng = fastnn_random.generator() if generator is None else generator._gen
    steps, weights = _bound_steps(T, timesteps, rng, owner)
    x0_64 = x0.astype(np.float64).reshape(n, -1)
    # L_T: the forward process's last marginal against the standard normal prior
    prior = normal_kl(np.sqrt(tab["abar"][-1]) * x0_64, np.log1p(-tab["abar"][-1]), 0.0, 0.0).sum(1)
    terms = np.zeros((len(steps), n))
    device = None
    for p in unet.parameters():
        device = p.device
        break
    was_training = unet.training
    unet.eval()
    try:
        with no_grad():
            for j, t in enumerate(steps):
                for s in range(0, n, batch_size):
                    xb = x0[s:s + batch_size]
                    m = len(xb)
                    tt = tensor(np.full(m, t, np.int64))
                    xt, _ = scheduler.diffuse(from_numpy(xb), tt, generator=generator)
                    lab = None if labels is None else tensor(labels[s:s + m].astype(np.int64))
                    if device is not None:
                        xt, tt = xt.to(device), tt.to(device)
                        lab = None if lab is None else lab.to(device)
                    out = _array(_unet_output(unet, xt, tt, lab)).astype(np.float64).reshape(m, -1)
                    xt64 = _array(xt).astype(np.float64).reshape(m, -1)
                    ab = tab["abar"][t]
                    if prediction_type == "epsilon":
                        x0_hat = (xt64 - np.sqrt(1.0 - ab) * out) / np.sqrt(ab)
                    elif prediction_type == "sample":
                        x0_hat = out
                    else:
                        x0_hat = np.sqrt(ab) * xt64 - np.sqrt(1.0 - ab) * out
                    if clip_denoised:
                        x0_hat = np.clip(x0_hat, -1.0, 1.0)
                    model_mean = tab["coef_x0"][t] * x0_hat + tab["coef_xt"][t] * xt64
                    if t == 0:
                        ll = discretized_gaussian_log_likelihood(x0_64[s:s + m], means=model_mean,
                                                                 log_scales=0.5 * tab["model_logvar"][0])
                        terms[j, s:s + m] = -ll.sum(1)
                    else:
                        true_mean = tab["coef_x0"][t] * x0_64[s:s + m] + tab["coef_xt"][t] * xt64
                        terms[j, s:s + m] = normal_kl(true_mean, tab["post_logvar"][t], model_mean,
                                                      tab["model_logvar"][t]).sum(1)
    finally:
        unet.train(was_training)
    to_bpd = 1.0 / (dims * math.log(2.0))
    is_dec = steps == 0
    decoder = terms[is_dec].sum(0)
    diffusion = (weights[~is_dec, None] * terms[~is_dec]).sum(0)
    per_image = (prior + diffusion + decoder) * to_bpd
    return VariationalBound(float(per_image.mean()), float(prior.mean() * to_bpd), float(diffusion.mean() * to_bpd),
                            float(decoder.mean() * to_bpd), per_image, steps, terms.mean(1) * to_bpd, weights)
