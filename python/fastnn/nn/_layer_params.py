"""Parameter creation and PyTorch's default initialisation shared by the layers with a weight and a bias."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import dtypes as _dtypes
from ..tensor import Tensor
from . import init
from .module import Parameter


def empty_tensor(shape, dtype, device):
    """An uninitialised floating-point tensor (the layer's ``dtype``, default dtype when None) on ``device``
    (the default device when None)."""
    dt = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
    if not _dtypes.is_floating(dt):
        raise TypeError(f"layer parameters must have a floating point dtype, got {dt}")
    return place(np.empty(shape, dtype=dt), device)


def place(arr, device):
    """Host array ``arr`` as a tensor on ``device`` (the default device when None)."""
    return Tensor._wrap(backend.on_device(arr, device))


def add_weight_and_bias(module, weight_shape, bias_size, bias, dtype, device):
    """``module.weight`` (``weight_shape``) and ``module.bias`` (``bias_size``, or None when ``bias`` is
    false), uninitialised: the layer's ``reset_parameters`` fills them."""
    module.weight = Parameter(empty_tensor(weight_shape, dtype, device))
    if bias:
        module.bias = Parameter(empty_tensor((bias_size,), dtype, device))
    else:
        module.register_parameter("bias", None)


def reset_fan_in_uniform(weight, bias):
    """PyTorch's default for Linear and the convolutions: kaiming_uniform(a=sqrt(5)) on the weight
    (== U(+-1/sqrt(fan_in))), U(+-1/sqrt(fan_in)) on the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)
