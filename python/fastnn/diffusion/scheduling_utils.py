"""What DDPMScheduler and DDIMScheduler share: the schedule tables, the forward process in closed form
(``add_noise``, ``diffuse``, ``get_velocity``), timestep checking, and running one reverse step either
through the fused native kernel or, when autograd or dynamic thresholding needs it, with Tensor ops.

Numerics. The public tables (``betas``, ``alphas``, ``alphas_cumprod``) are float32 Tensors equal to
diffusers'. The scalar coefficients of a step are computed once per call in float32 scalar arithmetic,
operation by operation as diffusers does, then handed to the fused kernel, so a step agrees with
diffusers' to a few float32 ulps.

Noise. ``generator`` is a ``fastnn.Generator`` (or None: the global stream); the noise of ``diffuse``
and of ``step`` is drawn inside the kernel from the generator's Philox stream (csrc/core/philox.h),
so a seed gives the same numbers on the CPU and on the GPU and the stream moves past what was used.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import random as _random
from .._autograd_engine import is_grad_enabled
from ..tensor import Tensor
from .configuration import ConfigMixin
from .schedule import make_betas

from ..kernels import diffusion as _kd

PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")
# The scalar coefficients of a step are computed in float32 from the float32 tables, operation by operation
# as diffusers' torch code does, so that they equal diffusers' (float64 would be more accurate but differ by
# up to 1e-4 relative where 1 - ᾱ cancels, at the first timesteps). They then go to the kernel as float64.
_ONE = np.float32(1.0)
TIMESTEP_SPACINGS = ("linspace", "leading", "trailing")


def _array(x, name, fn):
    """The array of a Tensor (or of a numpy/cupy array) and whether x was a Tensor."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray) or backend.is_cuda_array(x):
        return x
    raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(x).__name__}")


def _noise_like(noise, x, name, fn):
    """``noise`` as an array, checked to have the shape of the samples ``x`` (argument ``name``)."""
    e = _array(noise, "noise", fn)
    if tuple(e.shape) != tuple(x.shape):
        raise ValueError(f"{fn}: argument 'noise' must have the shape of '{name}' {tuple(x.shape)}, got "
                         f"{tuple(e.shape)}")
    return e


def _needs_graph(*tensors):
    return is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _check_generator(generator, fn):
    if generator is not None and not hasattr(generator, "_philox"):
        raise TypeError(f"{fn}: argument 'generator' must be a fastnn.Generator or None, got "
                        f"{type(generator).__name__}")


def _scalar_timestep(timestep, T, fn):
    """A step's timestep as an int in [0, T) (int, numpy integer, 0-d or one-element Tensor)."""
    t = timestep
    if isinstance(t, Tensor):
        t = t.detach().cpu().numpy()
    if isinstance(t, np.ndarray):
        if t.size != 1:
            raise ValueError(f"{fn}: argument 'timestep' must be one timestep, got shape {tuple(t.shape)}")
        t = t.reshape(())[()]
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer, float, np.floating)) \
            or (isinstance(t, (float, np.floating)) and not float(t).is_integer()):
        raise TypeError(f"{fn}: argument 'timestep' must be an integer timestep, got {timestep!r}")
    t = int(t)
    if not 0 <= t < T:
        raise ValueError(f"{fn}: argument 'timestep' must be in [0, {T}) (num_train_timesteps={T}), got {t}")
    return t


class SchedulerMixin(ConfigMixin):
    """Base of fastnn's schedulers (diffusers' ``SchedulerMixin`` + ``ConfigMixin``)."""

    config_name = "scheduler_config.json"
    order = 1
    _compatibles = ["DDPMScheduler", "DDIMScheduler"]
    has_compatibles = True

    @classmethod
    def _compatible_classes(cls):
        from . import scheduling_ddim, scheduling_ddpm
        return [scheduling_ddpm.DDPMScheduler, scheduling_ddim.DDIMScheduler]

    @property
    def compatibles(self):
        return self._compatible_classes()

    # ---- the schedule, computed once
    def _init_schedule(self, num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas,
                       rescale_betas_zero_snr, prediction_type, timestep_spacing, schedules):
        name = type(self).__name__
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"{name}: argument 'prediction_type' must be one of "
                             f"{', '.join(map(repr, PREDICTION_TYPES))}, got {prediction_type!r}")
        if timestep_spacing not in TIMESTEP_SPACINGS:
            raise ValueError(f"{name}: argument 'timestep_spacing' must be one of "
                             f"{', '.join(map(repr, TIMESTEP_SPACINGS))}, got {timestep_spacing!r}")
        betas = make_betas(num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas,
                           rescale_betas_zero_snr, name, schedules)
        alphas = (np.float32(1.0) - betas).astype(np.float32)
        # torch's CPU cumprod accumulates float32 in double and rounds each output once: the same here
        alphas_cumprod = np.cumprod(alphas.astype(np.float64)).astype(np.float32)
        self.betas = Tensor._wrap(betas)
        self.alphas = Tensor._wrap(alphas)
        self.alphas_cumprod = Tensor._wrap(alphas_cumprod)
        self.one = Tensor._wrap(np.array(1.0, dtype=np.float32))
        # float64 copies of the float32 values: the coefficients of every step and the tables the noising
        # kernel reads (√ᾱ_t and √(1-ᾱ_t), Ho et al. 2020 eq. 4)
        self._acp = alphas_cumprod.astype(np.float64)
        self._sqrt_acp = np.sqrt(self._acp)
        self._sqrt_1m_acp = np.sqrt(1.0 - self._acp)
        self._tables_on = {}
        self.init_noise_sigma = 1.0
        self.num_inference_steps = None
        # diffusers counts the default timesteps from num_train_timesteps, even when trained_betas is longer
        self.timesteps = Tensor._wrap(np.arange(int(num_train_timesteps), dtype=np.int64)[::-1].copy())

    @property
    def _T(self):
        return len(self._acp)

    def __len__(self):
        return self.config.num_train_timesteps

    def scale_model_input(self, sample, timestep=None):
        """The model's input at ``timestep``: the sample itself for DDPM/DDIM (kept for interchangeability)."""
        return sample

    def _spaced_timesteps(self, num_inference_steps, fn):
        """The descending timesteps of ``timestep_spacing`` (Lin et al. 2023, Table 2)."""
        T = self.config.num_train_timesteps
        if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, (int, np.integer)) \
                or num_inference_steps < 1:
            raise ValueError(f"{fn}: argument 'num_inference_steps' must be a positive int, got "
                             f"{num_inference_steps!r}")
        n = int(num_inference_steps)
        if n > T:
            raise ValueError(f"{fn}: `num_inference_steps`: {n} cannot be larger than `self.config.train_timesteps`: "
                             f"{T} as the unet model trained with this scheduler can only handle maximal {T} "
                             f"timesteps.")
        spacing = self.config.timestep_spacing
        if spacing == "linspace":
            ts = np.linspace(0, T - 1, n).round()[::-1].copy().astype(np.int64)
        elif spacing == "leading":
            ts = (np.arange(0, n) * (T // n)).round()[::-1].copy().astype(np.int64)
            ts += self.config.steps_offset
        elif spacing == "trailing":
            ts = np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1
        else:
            raise ValueError(f"{fn}: timestep_spacing {spacing!r} is not supported: choose one of 'linspace', "
                             f"'leading' or 'trailing'")
        return ts

    def _set_timesteps_array(self, ts, device):
        t = Tensor._wrap(ts)
        self.timesteps = t.to(device) if device is not None else t

    # ---- the forward process
    def _timesteps_array(self, timesteps, n, fn, like):
        """``timesteps`` as an int64 (n,) array on like's device, checked against [0, T) and the batch size."""
        if isinstance(timesteps, Tensor):
            timesteps = timesteps._data
        if backend.is_cuda_array(timesteps):
            ts = backend.to_device(timesteps, "cpu")
        elif isinstance(timesteps, (list, tuple, int, np.integer, np.ndarray)) and not isinstance(timesteps, bool):
            ts = np.asarray(timesteps)
        else:
            raise TypeError(f"{fn}: argument 'timesteps' must be a Tensor, an int or a sequence of ints, got "
                            f"{type(timesteps).__name__}")
        shape = tuple(ts.shape)
        if ts.dtype.kind not in "iu":
            if ts.dtype.kind == "f" and ts.size and np.all(np.mod(ts, 1) == 0):
                ts = ts.astype(np.int64)
            elif ts.size:
                raise TypeError(f"{fn}: argument 'timesteps' must hold integers, got dtype {ts.dtype}")
        ts = ts.astype(np.int64).reshape(-1)
        if ts.size == 1 and n != 1:
            ts = np.full(n, ts[0], dtype=np.int64)
        if ts.size != n:
            raise ValueError(f"{fn}: argument 'timesteps' must hold one timestep per sample (or a single one): "
                             f"got shape {shape} for a batch of {n} (original samples of batch size {n})")
        T = self._T
        if n and (ts.min() < 0 or ts.max() >= T):
            bad = ts[(ts < 0) | (ts >= T)][0]
            raise ValueError(f"{fn}: argument 'timesteps' must be in [0, {T}) (num_train_timesteps={T}), got {bad} "
                             f"in timesteps of shape {shape}")
        if backend.is_cuda_array(like):
            ts = backend.to_device(ts, backend.device_of(like))
        return ts

    def _tables(self, like):
        """(√ᾱ, √(1-ᾱ)) as float64 arrays on like's device (copied once per device)."""
        if not backend.is_cuda_array(like):
            return self._sqrt_acp, self._sqrt_1m_acp
        dev = backend.device_of(like)
        key = str(dev)
        if key not in self._tables_on:
            self._tables_on[key] = (backend.to_device(self._sqrt_acp, dev), backend.to_device(self._sqrt_1m_acp, dev))
        return self._tables_on[key]

    def _check_samples(self, x, name, fn):
        arr = _array(x, name, fn)
        if arr.ndim == 0:
            raise ValueError(f"{fn}: argument '{name}' must have a batch dimension first, got a 0-d array")
        if arr.dtype.kind != "f":
            raise TypeError(f"{fn}: argument '{name}' must be a floating-point tensor, got dtype {arr.dtype}")
        return arr

    def _coef_tensors(self, ts, like_arr, ndim):
        """√ᾱ_t and √(1-ᾱ_t) per sample as (N, 1, ..., 1) arrays of like's dtype."""
        a, b = self._tables(like_arr)
        shape = (-1,) + (1,) * (ndim - 1)
        return a[ts].astype(like_arr.dtype).reshape(shape), b[ts].astype(like_arr.dtype).reshape(shape)

    def add_noise(self, original_samples, noise, timesteps):
        """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε for the given ε (Ho et al. 2020, eq. 4), one t per sample.

        Differentiable with respect to ``original_samples`` and ``noise`` (computed with Tensor ops when either
        requires grad, through the fused kernel otherwise: the same numbers)."""
        fn = f"{type(self).__name__}.add_noise"
        x = self._check_samples(original_samples, "original_samples", fn)
        e = _noise_like(noise, x, "original_samples", fn)
        backend.check_same_device(x, e, fn)
        ts = self._timesteps_array(timesteps, x.shape[0], fn, x)
        if _needs_graph(original_samples, noise):
            a, b = self._coef_tensors(ts, x, x.ndim)
            return Tensor._wrap(a) * _as_tensor(original_samples) + Tensor._wrap(b) * _as_tensor(noise)
        dtype = np.result_type(x.dtype, e.dtype)
        x, e = _contig(x, dtype), _contig(e, dtype)
        sa, sb = self._tables(x)
        xt, _, _, _ = _kd.diffuse(x, ts, sa, sb, 0, 0, noise=e)
        return Tensor._wrap(xt)

    def diffuse(self, original_samples, timesteps, generator=None, return_velocity=False):
        """The forward process in one fused pass: draws ε ~ N(0, I) inside the kernel from ``generator``'s
        Philox stream and returns ``(x_t, noise)`` with x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε (Ho et al. 2020,
        eq. 4), or ``(x_t, noise, velocity)`` with v = √ᾱ_t ε - √(1-ᾱ_t) x_0 (Salimans & Ho 2022, §4)
        when ``return_velocity=True``. The same generator state gives the same ε on the CPU and the GPU.
        When ``original_samples`` requires grad, x_t (and v) are recomputed from the drawn ε with Tensor
        ops so that gradients reach x_0; ε never requires grad."""
        fn = f"{type(self).__name__}.diffuse"
        _check_generator(generator, fn)
        x = self._check_samples(original_samples, "original_samples", fn)
        ts = self._timesteps_array(timesteps, x.shape[0], fn, x)
        x = _contig(x, x.dtype)
        sa, sb = self._tables(x)
        out = {}

        def run(key, offset):
            out["r"] = _kd.diffuse(x, ts, sa, sb, key, offset, noise=None, velocity=bool(return_velocity))
            return out["r"][3]

        _random.philox_draw(run, generator)
        xt, eps, v, _ = out["r"]
        if _needs_graph(original_samples):
            eps = Tensor._wrap(eps)
            xt = self.add_noise(original_samples, eps, timesteps)
            if return_velocity:
                return xt, eps, self.get_velocity(original_samples, eps, timesteps)
            return xt, eps
        if return_velocity:
            return Tensor._wrap(xt), Tensor._wrap(eps), Tensor._wrap(v)
        return Tensor._wrap(xt), Tensor._wrap(eps)

    def get_velocity(self, sample, noise, timesteps):
        """The v-prediction target v = √ᾱ_t ε - √(1-ᾱ_t) x_0 (Salimans & Ho 2022, §4) for ``sample`` = x_0."""
        fn = f"{type(self).__name__}.get_velocity"
        x = self._check_samples(sample, "sample", fn)
        e = _noise_like(noise, x, "sample", fn)
        ts = self._timesteps_array(timesteps, x.shape[0], fn, x)
        if _needs_graph(sample, noise):
            a, b = self._coef_tensors(ts, x, x.ndim)
            return Tensor._wrap(a) * _as_tensor(noise) - Tensor._wrap(b) * _as_tensor(sample)
        dtype = np.result_type(x.dtype, e.dtype)
        x, e = _contig(x, dtype), _contig(e, dtype)
        sa, sb = self._tables(x)
        _, _, v, _ = _kd.diffuse(x, ts, sa, sb, 0, 0, noise=e, velocity=True)
        return Tensor._wrap(v)

    # ---- the reverse step
    def _x0_coefficients(self, ab):
        """(a, b) with x̂_0 = a·x_t + b·model_output for the prediction type (Ho et al. 2020 eq. 15 for ε;
        Salimans & Ho 2022 for v: x̂_0 = √ᾱ_t x_t - √(1-ᾱ_t) v). ``ab`` = ᾱ_t as a float32 scalar."""
        p = self.config.prediction_type
        sa, sb = np.sqrt(ab), np.sqrt(_ONE - ab)
        if p == "epsilon":
            if sa == 0:
                # diffusers divides by zero here and returns inf/NaN samples
                raise ValueError("ᾱ_t = 0 at this timestep (rescale_betas_zero_snr=True gives zero terminal SNR): "
                                 "an ε-prediction cannot recover x̂_0 there; use prediction_type='v_prediction' "
                                 "(Lin et al. 2023) or timesteps below the last")
            return 1.0 / float(sa), -float(sb) / float(sa)
        if p == "sample":
            return 0.0, 1.0
        if p == "v_prediction":
            return float(sa), -float(sb)
        raise ValueError(f"prediction_type given as {p} must be one of `epsilon`, `sample`, or `v_prediction`")

    def _acp32(self, t):
        """ᾱ_t as the float32 scalar diffusers computes with."""
        return np.float32(self._acp[t])

    def _threshold_sample(self, sample):
        """Dynamic thresholding (Saharia et al. 2022, §2.4): per sample, s = the `dynamic_thresholding_ratio`
        quantile of |x̂_0|, clamped to [1, sample_max_value]; x̂_0 ← clamp(x̂_0, -s, s) / s."""
        from .. import _ops_reduce, _ops_math, _ops_shape
        n = sample.shape[0]
        flat = sample if sample.dtype in ("float32", "float64") else sample.float()
        flat = _ops_shape.reshape(flat, (n, -1))
        s = _ops_reduce.quantile(_ops_math.abs(flat), self.config.dynamic_thresholding_ratio, dim=1)
        s = _ops_math.clamp(s, min=1, max=self.config.sample_max_value).unsqueeze(1)
        flat = _ops_math.minimum(_ops_math.maximum(flat, -s), s) / s
        return _ops_shape.reshape(flat, tuple(sample.shape)).to(sample.dtype)

    def _run_step(self, fn, model_output, sample, coef, generator, noise, std_tensor=None, return_dict=True,
                  output_cls=None):
        """One reverse step from the nine coefficients (a, b, c, d, h, e, f, g, s):
            x̂_0 = a·x_t + b·m, clipped or thresholded as the config says
            ε̂   = c·x_t + d·m + h·x̂_0
            x_prev = e·x̂_0 + f·x_t + g·ε̂ + s·z         (s·z replaced by std_tensor·z for learned variances)
        through the fused kernel, or with Tensor ops when autograd records, when thresholding is on, or
        when the standard deviation differs per element."""
        m = _array(model_output, "model_output", fn)
        x = _array(sample, "sample", fn)
        if tuple(m.shape) != tuple(x.shape):
            raise ValueError(f"{fn}: argument 'model_output' must have the shape of 'sample' {tuple(x.shape)}, got "
                             f"{tuple(m.shape)}")
        if x.dtype.kind != "f" or m.dtype.kind != "f":
            raise TypeError(f"{fn}: arguments 'model_output' and 'sample' must be floating-point, got "
                            f"{m.dtype} and {x.dtype}")
        backend.check_same_device(m, x, fn)
        z = None
        if noise is not None:
            z = _array(noise, "variance_noise", fn)
            if tuple(z.shape) != tuple(x.shape):
                raise ValueError(f"{fn}: argument 'variance_noise' must have the shape of 'sample' {tuple(x.shape)}, "
                                 f"got {tuple(z.shape)}")
        a, b, c, d, h, e, f, g, s = coef
        cfg = self.config
        clip = float(cfg.clip_sample_range) if (cfg.clip_sample and not cfg.thresholding) else None
        dtype = np.result_type(x.dtype, m.dtype)
        if not (_needs_graph(model_output, sample, noise) or cfg.thresholding or std_tensor is not None):
            xa, ma = _contig(x, dtype), _contig(m, dtype)
            za = _contig(z, dtype) if z is not None else None
            out = {}

            def run(key, offset):
                out["r"] = _kd.sampling_step(ma, xa, (a, b, c, d, h, e, f, g, s), key, offset, noise=za,
                                             clip_range=clip)
                return out["r"][2]

            _random.philox_draw(run, generator)
            prev, x0, _ = out["r"]
            prev, x0 = Tensor._wrap(prev), Tensor._wrap(x0)
        else:
            xt, mt = _as_tensor(sample), _as_tensor(model_output)
            x0 = a * xt + b * mt if a != 0.0 else b * mt
            if cfg.thresholding:
                x0 = self._threshold_sample(x0)
            elif clip is not None:
                from .._ops_math import clamp
                x0 = clamp(x0, -clip, clip)
            prev = e * x0 + f * xt if f != 0.0 else e * x0
            if g != 0.0:
                prev = prev + g * (c * xt + d * mt + h * x0)
            if s != 0.0 or std_tensor is not None:
                zt = _as_tensor(noise) if noise is not None else Tensor._wrap(self._draw_noise(x, dtype, generator))
                prev = prev + (std_tensor * zt if std_tensor is not None else s * zt)
        if not return_dict:
            return prev, x0
        return output_cls(prev_sample=prev, pred_original_sample=x0)

    @staticmethod
    def _draw_noise(like, dtype, generator):
        """z ~ N(0, I) of like's shape from the generator's Philox stream, laid out as the fused step draws it
        (the kernel run with s = 1 and every other coefficient 0 returns its z), so the Tensor-op path and
        the fused path add the same noise for the same generator state."""
        zeros = backend.empty(like.shape, dtype, like)
        zeros[...] = 0
        out = {}

        def run(key, offset):
            out["r"] = _kd.sampling_step(zeros, zeros, (0.0,) * 8 + (1.0,), key, offset)
            return out["r"][2]

        _random.philox_draw(run, generator)
        return out["r"][0]


def _contig(a, dtype):
    xp = backend.array_module_of(a)
    return xp.ascontiguousarray(a.astype(dtype, copy=False))


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor._wrap(x)
