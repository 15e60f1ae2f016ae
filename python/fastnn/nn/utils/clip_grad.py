"""Gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``) on the raw gradient arrays."""
from __future__ import annotations

import math

import numpy as np

from ...tensor import Tensor
from ...backend import array_module_of

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(parameters, fn):
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        return list(parameters)
    except TypeError:
        raise TypeError(f"{fn}: argument 'parameters' must be a Tensor or an iterable of Tensors, "
                        f"got {type(parameters).__name__}") from None


def _values(t):
    """The array holding a gradient's elements: a sparse-rows gradient is coalesced first (in place on its
    parameter by the callers), so duplicates count once."""
    return t.coalesce()._vals if t.is_sparse else t._data


def _coalesce_grads(params):
    for p in params:
        if p.grad is not None and p.grad.is_sparse and not p.grad.is_coalesced():
            p.grad = p.grad.coalesce()


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all ``tensors`` together, as a 0-d Tensor on their device."""
    tensors = [t for t in _as_list(tensors, "get_total_norm") if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._wrap(np.zeros((), dtype=np.float32))
    arrs = [_values(t) for t in tensors]
    dtype = arrs[0].dtype
    xp = array_module_of(arrs[0])
    # Partial norms stay arrays on the gradients' device: reading each back to the host would wait
    # for the GPU once per parameter.
    if math.isinf(norm_type):
        parts = [xp.abs(a).max() for a in arrs if a.size]
        total = parts[0] if parts else 0.0
        for part in parts[1:]:
            total = xp.maximum(total, part)
    elif norm_type == 2.0:
        total = sum(xp.vdot(a.ravel(), a.ravel()).astype(np.float64) for a in arrs) ** 0.5
    else:
        total = sum((xp.abs(a.astype(np.float64)) ** norm_type).sum() for a in arrs) ** (1.0 / norm_type)
    total = xp.asarray(total, dtype=dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients by ``max_norm / (total_norm + 1e-6)`` when that is below 1."""
    params = [p for p in _as_list(parameters, "clip_grads_with_norm_") if p.grad is not None]
    tn = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    xp = array_module_of(tn) if hasattr(tn, "dtype") else np
    if xp is not np:
        # On the GPU the coefficient stays there (min(coef, 1) scales every gradient): deciding on
        # the host whether to clip would wait for the GPU at every step.
        coef = xp.minimum(float(max_norm) / (tn.astype(np.float64) + 1e-6), 1.0)
        for p in params:
            g = _values(p.grad)
            g *= coef.astype(g.dtype)
        return
    coef = float(max_norm) / (float(tn) + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        for p in params:
            g = _values(p.grad)
            g *= g.dtype.type(coef)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale the gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d Tensor), like PyTorch.
    """
    params = _as_list(parameters, "clip_grad_norm_")
    _coalesce_grads(params)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_([p for p in params if p.grad is not None], max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    params = _as_list(parameters, "clip_grad_value_")
    _coalesce_grads(params)
    for p in params:
        if p.grad is not None:
            g = _values(p.grad)
            array_module_of(g).clip(g, -clip_value, clip_value, out=g)
