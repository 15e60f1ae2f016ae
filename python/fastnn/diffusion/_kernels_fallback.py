"""Array-level stand-in for ``fastnn.kernels.diffusion`` (same calls, same results for a given noise) used
while the native diffusion kernels are not in this build. Noise comes from the Philox normal kernel."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..kernels import random as _krandom


def _draw(like, key, offset):
    xp = backend.array_module_of(like)
    z = backend.empty(like.shape, np.float32 if like.dtype == np.float16 else like.dtype, like)
    used = _krandom.philox_normal(z, key, offset) if z.size else 0
    return z.astype(like.dtype, copy=False), int(used), xp


def diffuse(x0, timesteps, sqrt_alpha_prod, sqrt_one_minus_alpha_prod, key, offset, noise=None, velocity=False):
    xp = backend.array_module_of(x0)
    used = 0
    if noise is None:
        noise, used, _ = _draw(x0, key, offset)
    ct = np.float32 if x0.dtype == np.float16 else x0.dtype
    shape = (-1,) + (1,) * (x0.ndim - 1)
    a = xp.asarray(sqrt_alpha_prod)[timesteps].astype(ct).reshape(shape)
    b = xp.asarray(sqrt_one_minus_alpha_prod)[timesteps].astype(ct).reshape(shape)
    x, e = x0.astype(ct, copy=False), noise.astype(ct, copy=False)
    xt = (a * x + b * e).astype(x0.dtype)
    v = (a * e - b * x).astype(x0.dtype) if velocity else None
    return xt, noise, v, used


def sampling_step(model_output, sample, coef, key, offset, noise=None, clip_range=None):
    a, b, c, d, h, e, f, g, s = (float(v) for v in coef)
    ct = np.float32 if sample.dtype == np.float16 else sample.dtype
    x, m = sample.astype(ct, copy=False), model_output.astype(ct, copy=False)
    cast = np.dtype(ct).type
    x0 = cast(a) * x + cast(b) * m
    if clip_range is not None:
        x0 = x0.clip(-clip_range, clip_range)
    prev = cast(e) * x0 + cast(f) * x
    if g != 0.0:
        eps = cast(c) * x + cast(d) * m + cast(h) * x0
        prev = prev + cast(g) * eps
    used = 0
    if s != 0.0:
        if noise is None:
            noise, used, _ = _draw(sample, key, offset)
        prev = prev + cast(s) * noise.astype(ct, copy=False)
    return prev.astype(sample.dtype), x0.astype(sample.dtype), used
