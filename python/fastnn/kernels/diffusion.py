"""The diffusion family (``csrc/ops/diffusion/``, contract in ``diffusion.h``): the fused forward process and the
fused reverse step, drawing their noise from Philox inside the kernel. Arrays in, arrays out, on the arrays'
device; float16, float32 or float64 storage (float16 computed in float32), (N, ...) with N the batch. Inputs that
are not C-contiguous are copied once here; the native functions allocate every output.

Each returns the number of Philox counters it used; run it through ``fastnn.random.philox_draw`` so the
stream's offset moves past them::

    out = {}
    def run(key, offset):
        out["r"] = diffuse(x0, t, sa, sb, key, offset)
        return out["r"][3]
    fastnn.random.philox_draw(run, generator)
"""
from __future__ import annotations

from .. import backend


def _contiguous(a):
    if a is None or getattr(getattr(a, "flags", None), "c_contiguous", True):
        return a
    return backend.array_module_of(a).ascontiguousarray(a)


def diffuse(x0, timesteps, sqrt_alpha_prod, sqrt_one_minus_alpha_prod, key, offset, noise=None, velocity=False):
    """``x_t = sqrt_alpha_prod[t_n] * x0 + sqrt_one_minus_alpha_prod[t_n] * noise`` per sample n, in one pass.

    ``timesteps``: int64 or int32 (N,), each in [0, T); the two tables: float64 (T,). ``noise`` is drawn from
    Philox under (``key``, ``offset``) unless given (then it is only read: diffusers' ``add_noise``). With
    ``velocity=True`` also ``v = sqrt_alpha_prod[t] * noise - sqrt_one_minus_alpha_prod[t] * x0`` (the v-prediction
    target). Returns ``(x_t, noise, v or None, counters_used)``; counters_used is 0 when ``noise`` is given.
    """
    return backend.kernel("diffuse", x0, timesteps, sqrt_alpha_prod, sqrt_one_minus_alpha_prod, noise)(
        _contiguous(x0), _contiguous(timesteps), _contiguous(sqrt_alpha_prod), _contiguous(sqrt_one_minus_alpha_prod),
        key, offset, _contiguous(noise), bool(velocity))


def sampling_step(model_output, sample, coef, key, offset, noise=None, clip_range=None):
    """One fused reverse step with ``coef = (a, b, c, d, h, e, f, g, s)`` (float64 scalars)::

        x0   = a * sample + b * model_output          (clamped to [-clip_range, clip_range] unless None)
        eps  = c * sample + d * model_output + h * x0
        prev = e * x0 + f * sample + g * eps + s * z

    ``z`` drawn from Philox under (``key``, ``offset``) when ``s != 0`` unless ``noise`` is given (read only).
    Returns ``(prev_sample, pred_original_sample, counters_used)``.
    """
    try:
        coef = tuple(float(c) for c in coef)
    except TypeError:
        raise TypeError(f"sampling_step: argument 'coef' must be a sequence of 9 numbers (a, b, c, d, h, e, f, g, s), "
                        f"got {coef!r}") from None
    return backend.kernel("sampling_step", model_output, sample, noise)(
        _contiguous(model_output), _contiguous(sample), coef, key, offset, _contiguous(noise), clip_range)
