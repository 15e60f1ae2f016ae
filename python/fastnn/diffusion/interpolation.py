"""Interpolation with a diffusion model: between two starting noises x_T (spherically, so every
interpolant keeps the norm of a Gaussian sample) and between two images through x_t (Ho et al. 2020,
§4.3 and Fig. 8: noise both images to level t with the same ε, mix, run the reverse process from t)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import creation, _ops_math, _ops_reduce, _ops_shape
from ..tensor import Tensor
from ..utils.outputs import BaseOutput
from .pipelines import _labels, denoise

__all__ = ["slerp", "interpolate_noise", "interpolate_images", "InterpolationOutput"]

METHODS = ("slerp", "linear")


def _fractions(t, fn, name="t"):
    """(list of floats, whether t was a single number)."""
    if isinstance(t, Tensor):
        t = t.detach().cpu().numpy()
    arr = np.asarray(t, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"{fn}: argument '{name}' must be a number or a 1-d sequence, got shape {arr.shape}")
    return arr.reshape(-1).tolist(), arr.ndim == 0


def slerp(x, y, t, dot_threshold=0.9995):
    """Spherical linear interpolation (Shoemake 1985) from ``x`` (t = 0) to ``y`` (t = 1), the angle θ taken
    between the two tensors flattened:

        slerp(x, y, t) = sin((1-t) θ) / sin θ · x + sin(t θ) / sin θ · y,   cos θ = <x, y> / (|x| |y|)

    falling back to linear interpolation when |cos θ| > ``dot_threshold`` (nearly parallel). ``t``: a number
    (result shaped like x) or a 1-d sequence of K numbers (result (K, *x.shape)). Differentiable."""
    fn = "slerp"
    for name, v in (("x", x), ("y", y)):
        if not isinstance(v, Tensor):
            raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(v).__name__}")
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"{fn}: arguments 'x' and 'y' must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    ts, single = _fractions(t, fn)
    # θ from Tensor ops, so gradients flow through the angle too
    cos = _ops_reduce.sum(x * y) / (_ops_reduce.norm(x) * _ops_reduce.norm(y))
    c = float(cos.detach().item())
    out = []
    if not math.isfinite(c) or abs(c) > dot_threshold:
        for v in ts:
            out.append((1.0 - v) * x + v * y)
    else:
        theta = _ops_math.acos(_ops_math.clamp(cos, -1.0, 1.0))
        s = _ops_math.sin(theta)
        for v in ts:
            out.append(_ops_math.sin((1.0 - v) * theta) / s * x + _ops_math.sin(v * theta) / s * y)
    return out[0] if single else _ops_shape.stack(out)


def _one_sample(v, name, fn):
    if not isinstance(v, Tensor):
        raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(v).__name__}")
    if v.ndim == 4:
        if v.shape[0] != 1:
            raise ValueError(f"{fn}: argument '{name}' must be one sample (C, H, W) or (1, C, H, W), got "
                             f"{tuple(v.shape)}")
        v = v[0]
    if v.ndim != 3:
        raise ValueError(f"{fn}: argument '{name}' must be one sample (C, H, W) or (1, C, H, W), got "
                         f"{tuple(v.shape)}")
    return v


def _mix(a, b, lambdas, method, fn):
    if method not in METHODS:
        raise ValueError(f"{fn}: argument 'method' must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if method == "slerp":
        return slerp(a, b, lambdas)
    return _ops_shape.stack([(1.0 - lam) * a + lam * b for lam in lambdas])


def _lambdas(lambdas, fn):
    if isinstance(lambdas, (int, np.integer)) and not isinstance(lambdas, bool):
        if lambdas < 2:
            raise ValueError(f"{fn}: argument 'lambdas' must be at least 2 (the two ends), got {lambdas}")
        return np.linspace(0.0, 1.0, int(lambdas)).tolist()
    vals, single = _fractions(lambdas, fn, "lambdas")
    return vals


def interpolate_noise(noise_a, noise_b, lambdas=8, method="slerp"):
    """A batch (K, C, H, W) of starting noises between ``noise_a`` and ``noise_b`` (each (C, H, W) or
    (1, C, H, W)): spherical by default (Gaussian samples live near a sphere of radius √d; a linear mix
    in between is too short and gives washed-out images), or ``method="linear"``. ``lambdas``: K, for K
    fractions evenly spaced in [0, 1], or the fractions. Pass the result as ``latents=`` to a pipeline."""
    fn = "interpolate_noise"
    a, b = _one_sample(noise_a, "noise_a", fn), _one_sample(noise_b, "noise_b", fn)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{fn}: arguments 'noise_a' and 'noise_b' must have the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    return _mix(a, b, _lambdas(lambdas, fn), method, fn)


@dataclass
class InterpolationOutput(BaseOutput):
    """``images``: the K denoised interpolants (K, C, H, W) in model space (about [-1, 1]); ``noisy_images``:
    the mixed x_t they started from; ``lambdas``: the K fractions; ``timestep``: the t of the mix."""

    images: Any
    noisy_images: Any = None
    lambdas: Any = None
    timestep: Any = None


def interpolate_images(x0a, x0b, t_level, unet, scheduler, lambdas=8, *, generator=None, noise=None,
                       num_inference_steps=None, eta=0.0, method="linear", class_labels=None, guidance_scale=1.0,
                       null_class=None):
    """Interpolate between two images through the diffusion (Ho et al. 2020, §4.3): both images (model space,
    (C, H, W) or (1, C, H, W)) are noised to level t with the same ε (``noise``, or drawn from ``generator``),
    x̄_t = (1-λ) x_t^a + λ x_t^b for each λ (``method="slerp"`` for spherical), and the reverse process runs
    from t to 0. Small t keeps the images' details, large t keeps only coarse attributes.

    With a DDPMScheduler and no ``num_inference_steps`` the reverse process visits every t' ≤ ``t_level``
    (stochastic, as in the paper); otherwise the scheduler's ``num_inference_steps`` timesteps that are
    ≤ ``t_level`` are used and the mix is made at the first of them (DDIM with ``eta=0`` is deterministic).
    The scheduler's timesteps are set by this call. Returns an :class:`InterpolationOutput`."""
    fn = "interpolate_images"
    from .scheduling_ddim import DDIMScheduler
    a, b = _one_sample(x0a, "x0a", fn), _one_sample(x0b, "x0b", fn)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{fn}: arguments 'x0a' and 'x0b' must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    T = len(scheduler)
    if isinstance(t_level, bool) or not isinstance(t_level, (int, np.integer)) or not 0 <= t_level < T:
        raise ValueError(f"{fn}: argument 't_level' must be an int in [0, {T}), got {t_level!r}")
    is_ddim = isinstance(scheduler, DDIMScheduler)
    if num_inference_steps is None and not is_ddim:
        scheduler.set_timesteps(timesteps=list(range(int(t_level), -1, -1)))
    else:
        scheduler.set_timesteps(50 if num_inference_steps is None else num_inference_steps)
    ts = scheduler.timesteps.cpu().numpy()
    ts = ts[ts <= t_level]
    if ts.size == 0:
        raise ValueError(f"{fn}: no sampling timestep is ≤ t_level={t_level} with num_inference_steps="
                         f"{scheduler.num_inference_steps}")
    t0 = int(ts[0])
    lam = _lambdas(lambdas, fn)
    if noise is None:
        noise = creation.randn(*a.shape, generator=generator, dtype=a.dtype, device=a.device)
    else:
        noise = _one_sample(noise, "noise", fn)
        if tuple(noise.shape) != tuple(a.shape):
            raise ValueError(f"{fn}: argument 'noise' must have the images' shape {tuple(a.shape)}, got "
                             f"{tuple(noise.shape)}")
    both = scheduler.add_noise(_ops_shape.stack([a, b]), _ops_shape.stack([noise, noise]), t0)
    mixed = _mix(both[0], both[1], lam, method, fn)
    labels = _labels(class_labels, len(lam), mixed.device)
    images, _, _ = denoise(unet, scheduler, mixed, Tensor._wrap(ts.copy()), generator=generator,
                           class_labels=labels, guidance_scale=guidance_scale, null_class=null_class,
                           step_kwargs={"eta": eta} if is_ddim else None)
    return InterpolationOutput(images=images, noisy_images=mixed, lambdas=lam, timestep=t0)
