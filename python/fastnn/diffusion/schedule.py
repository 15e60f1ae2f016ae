"""Noise schedules: the betas β_1..β_T of the forward process q(x_t | x_{t-1}) = N(√(1-β_t) x_{t-1}, β_t I)
(Ho et al. 2020, eq. 2) and what follows from them, ᾱ_t = Π_{s≤t} (1 - β_s) (eq. 4).

The values equal diffusers' float32 tensors: each β is rounded to float32 as diffusers' torch code
produces it (linspace reproduces torch's float32 formula), 1 - β is taken in float32, and the
cumulative product is accumulated in float64 and rounded once, as torch's CPU cumprod does.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["betas_for_alpha_bar", "rescale_zero_terminal_snr", "make_betas", "BETA_SCHEDULES"]

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", "laplace")


def _linspace32(start, end, steps):
    """torch.linspace(start, end, steps, dtype=float32), bit for bit: the first half counts up from start,
    the second half down from end, each as one fused multiply-add rounded to float32 (the float32 product of
    two float32 values is exact in float64, so float64 arithmetic rounded once reproduces the FMA)."""
    if steps == 1:
        return np.array([start], dtype=np.float32)
    s, e = np.float32(start), np.float32(end)
    step = np.float64(np.float32((e - s) / np.float32(steps - 1)))
    i = np.arange(steps)
    up = (step * i + np.float64(s)).astype(np.float32)
    down = (np.float64(e) - step * (steps - 1 - i)).astype(np.float32)
    return np.where(i < steps // 2, up, down)


def _alpha_bar_fn(alpha_transform_type):
    if alpha_transform_type == "cosine":
        # Nichol & Dhariwal 2021, eq. 17: ᾱ(t) = cos²((t + s)/(1 + s) · π/2) with s = 0.008
        return lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    if alpha_transform_type == "exp":
        return lambda t: math.exp(t * -12.0)
    if alpha_transform_type == "laplace":
        def laplace(t):
            lmb = -0.5 * math.copysign(1, 0.5 - t) * math.log(1 - 2 * math.fabs(0.5 - t) + 1e-6)
            snr = math.exp(lmb)
            return math.sqrt(snr / (1 + snr))
        return laplace
    raise ValueError(f"betas_for_alpha_bar: argument 'alpha_transform_type' must be 'cosine', 'exp' or 'laplace', "
                     f"got {alpha_transform_type!r}")


def _betas_for_alpha_bar(num_diffusion_timesteps, max_beta=0.999, alpha_transform_type="cosine"):
    f = _alpha_bar_fn(alpha_transform_type)
    n = int(num_diffusion_timesteps)
    # β_t = 1 - ᾱ(t/T) / ᾱ((t-1)/T), capped below 1 so the last steps stay invertible
    betas = [min(1 - f((i + 1) / n) / f(i / n), max_beta) for i in range(n)]
    return np.asarray(betas, dtype=np.float32)


def _rescale_zero_terminal_snr(betas):
    """Lin et al. 2023 ("Common diffusion noise schedules and sample steps are flawed"), Algorithm 1: shift and
    scale √ᾱ_t so that √ᾱ_T = 0 (zero terminal SNR) while √ᾱ_1 keeps its value.

    In float64, rounded once: the ratio ᾱ_t/ᾱ_{t-1} of the last line cancels, so diffusers' float32 betas
    carry rounding noise of up to 1e-3 relative (5e-7 absolute) on the first steps, which this avoids."""
    alphas = 1.0 - np.asarray(betas, dtype=np.float64)
    sqrt_ab = np.sqrt(np.cumprod(alphas))
    first, last = sqrt_ab[0], sqrt_ab[-1]
    sqrt_ab = (sqrt_ab - last) * (first / (first - last))
    ab = sqrt_ab ** 2
    alphas = np.concatenate([ab[:1], ab[1:] / ab[:-1]])
    return (1.0 - alphas).astype(np.float32)


def make_betas(num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas, rescale_betas_zero_snr,
               owner, schedules=BETA_SCHEDULES):
    """The float32 betas of a scheduler's config (``owner`` names the class in errors)."""
    if isinstance(num_train_timesteps, bool) or not isinstance(num_train_timesteps, (int, np.integer)) \
            or num_train_timesteps < 1:
        raise ValueError(f"{owner}: argument 'num_train_timesteps' must be a positive int, got {num_train_timesteps!r}")
    T = int(num_train_timesteps)
    if trained_betas is not None:
        if hasattr(trained_betas, "numpy") and callable(trained_betas.numpy):
            trained_betas = trained_betas.detach().cpu().numpy()
        betas = np.asarray(trained_betas, dtype=np.float32)
        if betas.ndim != 1 or betas.size == 0:
            raise ValueError(f"{owner}: argument 'trained_betas' must be a 1-d sequence of betas, got shape "
                             f"{betas.shape}")
    elif beta_schedule not in schedules:
        raise _UnsupportedValue(f"{beta_schedule} is not implemented for {owner}: argument 'beta_schedule' must be "
                                f"one of {', '.join(map(repr, schedules))}")
    elif beta_schedule == "linear":
        # Ho et al. 2020, §4: β rising linearly from 1e-4 to 0.02
        betas = _linspace32(beta_start, beta_end, T)
    elif beta_schedule == "scaled_linear":
        # linear in √β (latent diffusion's schedule)
        betas = _linspace32(beta_start ** 0.5, beta_end ** 0.5, T) ** 2
    elif beta_schedule == "squaredcos_cap_v2":
        betas = _betas_for_alpha_bar(T)
    elif beta_schedule == "laplace":
        betas = _betas_for_alpha_bar(T, alpha_transform_type="laplace")
    else:  # sigmoid (GeoDiff)
        x = _linspace32(-6, 6, T).astype(np.float64)
        betas = (1.0 / (1.0 + np.exp(-x)) * (beta_end - beta_start) + beta_start).astype(np.float32)
    if rescale_betas_zero_snr:
        betas = _rescale_zero_terminal_snr(betas)
    return betas


class _UnsupportedValue(NotImplementedError, ValueError):
    """An argument value the class does not implement: NotImplementedError as diffusers raises it, and a
    ValueError like every other bad argument."""


def _as_tensor32(a):
    from ..tensor import Tensor
    return Tensor._wrap(np.ascontiguousarray(a, dtype=np.float32))


def betas_for_alpha_bar(num_diffusion_timesteps, max_beta=0.999, alpha_transform_type="cosine"):
    """Betas discretising a continuous ᾱ(t), t ∈ [0, 1] (``"cosine"``: Nichol & Dhariwal 2021; ``"exp"``;
    ``"laplace"``), each capped at ``max_beta``: a float32 Tensor of length ``num_diffusion_timesteps``."""
    return _as_tensor32(_betas_for_alpha_bar(num_diffusion_timesteps, max_beta, alpha_transform_type))


def rescale_zero_terminal_snr(betas):
    """Betas rescaled to zero terminal SNR (Lin et al. 2023, Algorithm 1), as a float32 Tensor."""
    if hasattr(betas, "numpy") and callable(betas.numpy):
        betas = betas.detach().cpu().numpy()
    return _as_tensor32(_rescale_zero_terminal_snr(betas))
