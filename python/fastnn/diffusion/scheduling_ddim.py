"""DDIMScheduler: Song et al. 2021's non-Markovian sampler, with diffusers' arguments, defaults and numerics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tensor import Tensor
from .configuration import BaseOutput, register_to_config
from .scheduling_utils import _ONE, SchedulerMixin, _check_generator, _scalar_timestep

__all__ = ["DDIMScheduler", "DDIMSchedulerOutput"]


@dataclass
class DDIMSchedulerOutput(BaseOutput):
    """``prev_sample`` = x_{t-Δ}, the next input of the model; ``pred_original_sample`` = x̂_0."""

    prev_sample: Tensor
    pred_original_sample: Tensor | None = None


class DDIMScheduler(SchedulerMixin):
    """Denoising diffusion implicit models (Song et al. 2021), like ``diffusers.DDIMScheduler`` 0.42.1:
    deterministic at ``eta=0``, DDPM-like at ``eta=1``, sampling in ``num_inference_steps`` ≪ T steps."""

    @register_to_config
    def __init__(self, num_train_timesteps: int = 1000, beta_start: float = 0.0001, beta_end: float = 0.02,
                 beta_schedule: str = "linear", trained_betas=None, clip_sample: bool = True,
                 set_alpha_to_one: bool = True, steps_offset: int = 0, prediction_type: str = "epsilon",
                 thresholding: bool = False, dynamic_thresholding_ratio: float = 0.995,
                 clip_sample_range: float = 1.0, sample_max_value: float = 1.0, timestep_spacing: str = "leading",
                 rescale_betas_zero_snr: bool = False):
        self._init_schedule(num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas,
                            rescale_betas_zero_snr, prediction_type, timestep_spacing,
                            ("linear", "scaled_linear", "squaredcos_cap_v2"))
        # ᾱ before the first step: 1 (x_0 itself) or ᾱ_0
        self._final_acp = _ONE if set_alpha_to_one else self._acp32(0)
        self.final_alpha_cumprod = Tensor._wrap(np.array(self._final_acp, dtype=np.float32))

    def set_timesteps(self, num_inference_steps, device=None):
        """The ``num_inference_steps`` timesteps of sampling, spaced by ``timestep_spacing``."""
        ts = self._spaced_timesteps(num_inference_steps, "DDIMScheduler.set_timesteps")
        self.num_inference_steps = int(num_inference_steps)
        self._set_timesteps_array(ts, device)

    def _alphas_at(self, t, prev_t=None):
        """ᾱ_t and ᾱ_{t-Δ} (float32 scalars; ᾱ before the first step is final_alpha_cumprod)."""
        if prev_t is None:
            prev_t = t - self.config.num_train_timesteps // self.num_inference_steps
        return self._acp32(t), (self._acp32(prev_t) if prev_t >= 0 else self._final_acp)

    @staticmethod
    def _variance(ab, ab_prev):
        return ((_ONE - ab_prev) / (_ONE - ab)) * (_ONE - ab / ab_prev)

    def _get_variance(self, timestep, prev_timestep):
        """σ_t²/η² = (1-ᾱ_{t-Δ}) / (1-ᾱ_t) · (1 - ᾱ_t/ᾱ_{t-Δ}) (Song et al. 2021, eq. 16)."""
        ab, ab_prev = self._alphas_at(int(timestep), int(prev_timestep))
        return Tensor._wrap(np.array(self._variance(ab, ab_prev), dtype=np.float32))

    def step(self, model_output, timestep, sample, eta=0.0, use_clipped_model_output=False, generator=None,
             variance_noise=None, return_dict=True):
        """One DDIM step x_t → x_{t-Δ}, Δ = T // num_inference_steps (Song et al. 2021, eq. 12):

            x_{t-Δ} = √ᾱ_{t-Δ} x̂_0 + √(1-ᾱ_{t-Δ}-σ_t²) ε̂ + σ_t z,   σ_t = η √((1-ᾱ_{t-Δ})/(1-ᾱ_t) (1-ᾱ_t/ᾱ_{t-Δ}))

        with x̂_0 and ε̂ from the model output by the prediction type (x̂_0 clipped or thresholded;
        ``use_clipped_model_output`` recomputes ε̂ from the clipped x̂_0). z is drawn inside the fused
        kernel from ``generator``'s Philox stream when eta > 0, or is ``variance_noise``."""
        fn = "DDIMScheduler.step"
        if self.num_inference_steps is None:
            raise ValueError("DDIMScheduler.step: Number of inference steps is 'None', you need to run "
                             "'set_timesteps' after creating the scheduler")
        _check_generator(generator, fn)
        t = _scalar_timestep(timestep, self._T, fn)
        ab, ab_prev = self._alphas_at(t)
        a, b = self._x0_coefficients(ab)
        sa, sb = float(np.sqrt(ab)), float(np.sqrt(_ONE - ab))
        p = self.config.prediction_type
        if use_clipped_model_output:
            # ε̂ = (x_t - √ᾱ_t x̂_0) / √(1-ᾱ_t) from the clipped x̂_0
            c, d, h = 1.0 / sb, 0.0, -sa / sb
        elif p == "epsilon":
            c, d, h = 0.0, 1.0, 0.0
        elif p == "sample":
            c, d, h = 1.0 / sb, -sa / sb, 0.0
        else:  # v_prediction: ε̂ = √ᾱ_t v + √(1-ᾱ_t) x_t
            c, d, h = sb, sa, 0.0
        std = np.float32(eta) * np.sqrt(max(self._variance(ab, ab_prev), np.float32(0)))
        g = float(np.sqrt(max(_ONE - ab_prev - std * std, np.float32(0))))
        std = float(std)
        if eta > 0:
            if variance_noise is not None and generator is not None:
                raise ValueError("DDIMScheduler.step: Cannot pass both generator and variance_noise. Please make sure "
                                 "that either `generator` or `variance_noise` stays `None`.")
            s = std
        else:
            s, variance_noise = 0.0, None
        return self._run_step(fn, model_output, sample, (a, b, c, d, h, float(np.sqrt(ab_prev)), 0.0, g, s), generator,
                              variance_noise, None, return_dict, DDIMSchedulerOutput)
