"""DDPMScheduler: Ho et al. 2020's ancestral sampler, with diffusers' arguments, defaults and numerics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tensor import Tensor
from .configuration import BaseOutput, register_to_config
from .scheduling_utils import _ONE, SchedulerMixin, _array, _check_generator, _scalar_timestep

__all__ = ["DDPMScheduler", "DDPMSchedulerOutput"]

VARIANCE_TYPES = ("fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned", "learned_range")


@dataclass
class DDPMSchedulerOutput(BaseOutput):
    """``prev_sample`` = x_{t-1}, the next input of the model; ``pred_original_sample`` = x̂_0."""

    prev_sample: Tensor
    pred_original_sample: Tensor | None = None


class DDPMScheduler(SchedulerMixin):
    """Denoising diffusion probabilistic models (Ho et al. 2020), like ``diffusers.DDPMScheduler`` 0.42.1.

    Arguments, defaults, ``config`` keys and ``scheduler_config.json`` are diffusers'. Beyond diffusers:
    ``diffuse(x0, timesteps, generator=None)`` noises a batch in one fused pass drawing ε inside the kernel,
    and ``step`` takes ``variance_noise=`` (the z of the added noise) as DDIMScheduler does.
    """

    @register_to_config
    def __init__(self, num_train_timesteps: int = 1000, beta_start: float = 0.0001, beta_end: float = 0.02,
                 beta_schedule: str = "linear", trained_betas=None, variance_type: str = "fixed_small",
                 clip_sample: bool = True, prediction_type: str = "epsilon", thresholding: bool = False,
                 dynamic_thresholding_ratio: float = 0.995, clip_sample_range: float = 1.0,
                 sample_max_value: float = 1.0, timestep_spacing: str = "leading", steps_offset: int = 0,
                 rescale_betas_zero_snr: bool = False):
        if variance_type not in VARIANCE_TYPES:
            raise ValueError(f"DDPMScheduler: argument 'variance_type' must be one of "
                             f"{', '.join(map(repr, VARIANCE_TYPES))}, got {variance_type!r}")
        self._init_schedule(num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas,
                            rescale_betas_zero_snr, prediction_type, timestep_spacing,
                            ("linear", "scaled_linear", "squaredcos_cap_v2", "laplace", "sigmoid"))
        self.custom_timesteps = False
        self.variance_type = variance_type

    def set_timesteps(self, num_inference_steps=None, device=None, timesteps=None):
        """The timesteps of sampling: ``num_inference_steps`` spaced by ``timestep_spacing``, or the descending
        custom ``timesteps``."""
        fn = "DDPMScheduler.set_timesteps"
        if num_inference_steps is not None and timesteps is not None:
            raise ValueError(f"{fn}: can only pass one of `num_inference_steps` or `custom_timesteps` (timesteps)")
        T = self.config.num_train_timesteps
        if timesteps is not None:
            ts = np.asarray(timesteps.cpu().numpy() if isinstance(timesteps, Tensor) else timesteps).reshape(-1)
            if ts.size == 0 or ts.dtype.kind not in "iu":
                raise ValueError(f"{fn}: argument 'timesteps' must be a non-empty sequence of ints, got {timesteps!r}")
            if np.any(np.diff(ts) >= 0):
                raise ValueError(f"{fn}: `custom_timesteps` must be in descending order, got {ts.tolist()}")
            if ts[0] >= T or ts[-1] < 0:
                raise ValueError(f"{fn}: `timesteps` must start before `self.config.train_timesteps`: {T} and be "
                                 f"non-negative, got {ts.tolist()}")
            ts = ts.astype(np.int64)
            self.custom_timesteps = True
        else:
            if num_inference_steps is None:
                raise ValueError(f"{fn}: pass `num_inference_steps` or `timesteps`")
            ts = self._spaced_timesteps(num_inference_steps, fn)
            self.num_inference_steps = int(num_inference_steps)
            self.custom_timesteps = False
        self._set_timesteps_array(ts, device)
        self._ts_host = ts

    def _prev_t(self, t):
        if self.custom_timesteps or self.num_inference_steps:
            ts = self._ts_host
            where = np.nonzero(ts == t)[0]
            if where.size == 0:
                raise ValueError(f"DDPMScheduler.step: timestep {t} is not one of the scheduler's timesteps "
                                 f"{ts.tolist()} (set by set_timesteps)")
            i = int(where[0])
            return -1 if i == len(ts) - 1 else int(ts[i + 1])
        return t - 1

    def previous_timestep(self, timestep):
        """The timestep that follows ``timestep`` in the sampling chain (-1 after the last)."""
        t = _scalar_timestep(timestep, self._T, "DDPMScheduler.previous_timestep")
        prev = self._prev_t(t)
        if self.custom_timesteps or self.num_inference_steps:
            return Tensor._wrap(np.array(prev, dtype=np.int64))
        return prev

    def _posterior(self, t, prev_t):
        """ᾱ_t, ᾱ_{t'}, α_t = ᾱ_t / ᾱ_{t'} and β_t = 1 - α_t for the (possibly skipping) step t → t', and the
        posterior variance β̃_t = (1-ᾱ_{t'}) / (1-ᾱ_t) β_t of q(x_{t'} | x_t, x_0) (Ho et al. eq. 7), as float32
        scalars."""
        ab = self._acp32(t)
        ab_prev = self._acp32(prev_t) if prev_t >= 0 else _ONE
        alpha = ab / ab_prev
        beta = _ONE - alpha
        var = max((_ONE - ab_prev) / (_ONE - ab) * beta, np.float32(1e-20))
        return ab, ab_prev, alpha, beta, var

    def _get_variance(self, t, predicted_variance=None, variance_type=None):
        """The variance of p(x_{t-1} | x_t) as diffusers returns it (a float32 Tensor; for "fixed_small_log"
        its square root, for "fixed_large_log" log β_t; the model's for "learned")."""
        t = _scalar_timestep(t, self._T, "DDPMScheduler._get_variance")
        _, _, _, beta, var = self._posterior(t, self._prev_t(t))
        vt = variance_type or self.config.variance_type
        if vt in ("learned", "learned_range"):
            if predicted_variance is None:
                raise ValueError(f"DDPMScheduler: variance_type {vt!r} needs the model's predicted variance (a model "
                                 f"output with twice the sample's channels)")
            if vt == "learned":
                return predicted_variance
            frac = (predicted_variance + 1) / 2
            return frac * float(np.log(beta)) + (1 - frac) * float(np.log(var))
        value = {"fixed_small": var, "fixed_small_log": np.exp(np.float32(0.5) * np.log(var)), "fixed_large": beta,
                 "fixed_large_log": np.log(beta)}[vt]
        return Tensor._wrap(np.array(value, dtype=np.float32))

    def _std(self, t, beta, var, predicted_variance):
        """The standard deviation σ_t of the added noise: a float, or a Tensor for learned variances."""
        if t == 0:
            return 0.0, None
        vt = self.variance_type
        if vt in ("fixed_small", "fixed_small_log"):
            return float(np.sqrt(var)), None          # σ² = β̃_t (Ho et al. §3.2)
        if vt in ("fixed_large", "fixed_large_log"):
            # σ² = β_t (Ho et al. §3.2). diffusers' fixed_large_log takes √(log β_t), a NaN; the log-space
            # variant of β_t is meant, whose σ is √β_t
            return float(np.sqrt(beta)), None
        from .._ops_math import exp, sqrt
        if predicted_variance is None:
            raise ValueError(f"DDPMScheduler.step: variance_type {vt!r} needs a model output with twice the "
                             f"sample's channels (the predicted variance in the second half)")
        if vt == "learned":
            return 0.0, sqrt(predicted_variance)
        # learned_range: log σ² interpolated between log β̃_t and log β_t (Nichol & Dhariwal 2021, eq. 15)
        frac = (predicted_variance + 1) / 2
        return 0.0, exp(0.5 * (frac * float(np.log(beta)) + (1 - frac) * float(np.log(var))))

    def step(self, model_output, timestep, sample, generator=None, return_dict=True, variance_noise=None):
        """One ancestral step x_t → x_{t-1} (Ho et al. 2020, Algorithm 2):

            x̂_0    = (x_t - √(1-ᾱ_t) ε̂) / √ᾱ_t                                      (eq. 15)
            μ̃_t    = √ᾱ_{t-1} β_t / (1-ᾱ_t) · x̂_0 + √α_t (1-ᾱ_{t-1}) / (1-ᾱ_t) · x_t   (eq. 7)
            x_{t-1} = μ̃_t + σ_t z,  z ~ N(0, I), no noise at t = 0                     (eq. 11)

        x̂_0 is clipped to ±clip_sample_range (or dynamically thresholded). z comes from ``generator``'s
        Philox stream, drawn inside the fused kernel, or is ``variance_noise`` when given. Returns
        ``DDPMSchedulerOutput(prev_sample, pred_original_sample)`` or a tuple when ``return_dict=False``.

        Computed with Tensor ops, so differentiable (twice too), when autograd records through an input
        that requires grad."""
        fn = "DDPMScheduler.step"
        _check_generator(generator, fn)
        t = _scalar_timestep(timestep, self._T, fn)
        prev_t = self._prev_t(t)
        m_arr = _array(model_output, "model_output", fn)
        x_arr = _array(sample, "sample", fn)
        predicted_variance = None
        if (self.variance_type in ("learned", "learned_range") and m_arr.ndim >= 2 and x_arr.ndim >= 2
                and m_arr.shape[1] == 2 * x_arr.shape[1]):
            from .._ops_shape import split
            mo = model_output if isinstance(model_output, Tensor) else Tensor._wrap(m_arr)
            model_output, predicted_variance = split(mo, x_arr.shape[1], dim=1)
        ab, ab_prev, alpha, beta, var = self._posterior(t, prev_t)
        a, b = self._x0_coefficients(ab)
        e = float(np.sqrt(ab_prev) * beta / (_ONE - ab))
        f = float(np.sqrt(alpha) * (_ONE - ab_prev) / (_ONE - ab))
        s, std_tensor = self._std(t, beta, var, predicted_variance)
        if t == 0:
            variance_noise = None
        return self._run_step(fn, model_output, sample, (a, b, 0.0, 0.0, 0.0, e, f, 0.0, s), generator,
                              variance_noise, std_tensor, return_dict, DDPMSchedulerOutput)
