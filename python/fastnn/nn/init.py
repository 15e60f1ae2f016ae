"""Weight initialisation (``fastnn.nn.init``), with PyTorch's names, defaults and fan rules.

Every function fills its tensor in place without recording autograd and returns it; random
values come from fastnn's global generator (``fastnn.manual_seed``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..tensor import Tensor
from .. import random as _random
from ..backend import array_module_of

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "sparse_"]


def _check_tensor(tensor, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{fn}: argument 'tensor' must be a Tensor, got {type(tensor).__name__}")


def _fill_random(tensor, draw):
    """Write ``draw(shape)`` (a float64 numpy array from the global generator) into ``tensor``."""
    arr = tensor._data
    values = draw(arr.shape)
    xp = array_module_of(arr)
    if xp is np:
        arr[...] = values
    else:
        arr[...] = xp.asarray(values)
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    dimensions = tensor.dim()
    if dimensions < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions, "
                         f"got shape {tuple(tensor.shape)}")
    num_input_fmaps = tensor.shape[1]
    num_output_fmaps = tensor.shape[0]
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    return num_input_fmaps * receptive_field_size, num_output_fmaps * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    _check_tensor(tensor, "uniform_")
    gen = generator or _random.generator()
    return _fill_random(tensor, lambda shape: gen.uniform(a, b, size=shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    _check_tensor(tensor, "normal_")
    gen = generator or _random.generator()
    return _fill_random(tensor, lambda shape: gen.normal(mean, std, size=shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal(mean, std) conditioned on [a, b]: values outside are redrawn until they fall inside."""
    _check_tensor(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    gen = generator or _random.generator()
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)

    def draw(shape):
        v = gen.normal(mean, std, size=shape)
        bad = (v < a) | (v > b)
        # rejection keeps the exact conditional law; the acceptance rate is bounded away from 0
        # for the documented use (mean inside [a, b]), the cap only guards pathological tails
        for _ in range(1000):
            n = int(bad.sum())
            if n == 0:
                break
            v[bad] = gen.normal(mean, std, size=n)
            bad = (v < a) | (v > b)
        return np.clip(v, a, b)

    return _fill_random(tensor, draw)


def constant_(tensor, val):
    _check_tensor(tensor, "constant_")
    tensor._data[...] = val
    return tensor


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    _check_tensor(tensor, "eye_")
    if tensor.dim() != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported by eye_, got shape {tuple(tensor.shape)}")
    xp = array_module_of(tensor._data)
    tensor._data[...] = xp.eye(*tensor.shape, dtype=tensor._data.dtype)
    return tensor


def dirac_(tensor, groups=1):
    _check_tensor(tensor, "dirac_")
    dims = tensor.dim()
    if dims not in (3, 4, 5):
        raise ValueError(f"Only tensors with 3, 4, or 5 dimensions are supported, got shape {tuple(tensor.shape)}")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    arr = tensor._data
    arr[...] = 0
    for g in range(groups):
        for d in range(min_dim):
            idx = (g * out_chans_per_grp + d, d) + tuple(s // 2 for s in sizes[2:])
            arr[idx] = 1
    return tensor


def xavier_uniform_(tensor, gain=1.0, generator=None):
    _check_tensor(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    _check_tensor(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    _check_tensor(tensor, "kaiming_uniform_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    _check_tensor(tensor, "kaiming_normal_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    _check_tensor(tensor, "orthogonal_")
    if tensor.dim() < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported, got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    gen = generator or _random.generator()
    rows = tensor.shape[0]
    cols = tensor.numel() // rows

    def draw(shape):
        flat = gen.normal(0.0, 1.0, size=(rows, cols))
        if rows < cols:
            flat = flat.T
        q, r = np.linalg.qr(flat)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (gain * q).reshape(shape)

    return _fill_random(tensor, draw)


def sparse_(tensor, sparsity, std=0.01, generator=None):
    _check_tensor(tensor, "sparse_")
    if tensor.dim() != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}")
    gen = generator or _random.generator()
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))

    def draw(shape):
        v = gen.normal(0.0, std, size=shape)
        for c in range(cols):
            v[gen.permutation(rows)[:num_zeros], c] = 0
        return v

    return _fill_random(tensor, draw)
