"""Layer normalisation and RMS normalisation over the trailing dims (``F.layer_norm``, ``F.rms_norm``)."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor

__all__ = ["layer_norm", "rms_norm"]


def _shape_list(shape):
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def normalized_tuple(normalized_shape, fn):
    """``normalized_shape`` (an int or a sequence of ints) as a tuple of ints, PyTorch's error when empty."""
    if isinstance(normalized_shape, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'normalized_shape' must be an int or a sequence of ints, got bool")
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    try:
        shape = tuple(normalized_shape)
    except TypeError:
        raise TypeError(f"{fn}: argument 'normalized_shape' must be an int or a sequence of ints, got "
                        f"{type(normalized_shape).__name__}") from None
    for s in shape:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{fn}: argument 'normalized_shape' must hold ints, got {normalized_shape!r}")
    if len(shape) == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    return tuple(int(s) for s in shape)


def check_norm_args(input, normalized_shape, params, fn, star="*, "):
    """Validate ``input`` and the affine ``params`` ((name, tensor-or-None) pairs) against ``normalized_shape``
    with PyTorch's messages; returns the normalized shape as a tuple."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: argument 'input' must be a Tensor, got {type(input).__name__}")
    shape = normalized_tuple(normalized_shape, fn)
    for name, t in params:
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: argument '{name}' must be a Tensor or None, got {type(t).__name__}")
        if tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{_shape_list(t.shape)} and normalized_shape = {_shape_list(shape)}")
    n = len(shape)
    if input.ndim < n or tuple(input.shape[input.ndim - n:]) != shape:
        raise RuntimeError(f"Given normalized_shape={_shape_list(shape)}, expected input with shape "
                           f"[{star}{', '.join(str(s) for s in shape)}], but got input of size"
                           f"{_shape_list(input.shape)}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"{fn}: expected a floating point input, got dtype {input.dtype}")
    return shape


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalise over the last ``len(normalized_shape)`` dims to zero mean and unit (biased) variance, then
    scale by ``weight`` and shift by ``bias`` (each of ``normalized_shape``, optional)."""
    shape = check_norm_args(input, normalized_shape, (("weight", weight), ("bias", bias)), "layer_norm")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    if input.numel() == 0:
        y = input * 1
    else:
        mean = input.mean(dim=dims, keepdim=True)
        centred = input - mean
        var = (centred * centred).mean(dim=dims, keepdim=True)
        y = centred * (var + eps).rsqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Divide by the root mean square over the last ``len(normalized_shape)`` dims (plus ``eps``, the dtype's
    machine epsilon when None), then scale by ``weight`` (optional)."""
    shape = check_norm_args(input, normalized_shape, (("weight", weight),), "rms_norm", star="*")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    if input.numel() == 0:
        y = input * 1
    else:
        y = input * ((input * input).mean(dim=dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    return y
