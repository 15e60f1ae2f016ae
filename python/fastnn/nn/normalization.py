"""``LayerNorm``, ``RMSNorm`` (the trailing ``normalized_shape`` dims of each sample) and ``GroupNorm`` (groups of
channels of each sample)."""
from __future__ import annotations

import numpy as np

from . import _functional_norm as FN
from ._layer_params import empty_tensor as _empty
from .module import Module, Parameter

__all__ = ["LayerNorm", "RMSNorm", "GroupNorm"]


def _affine_parameters(module, shape, affine, bias, dtype, device):
    """``weight`` and ``bias`` Parameters of ``shape`` when ``affine`` (no ``bias`` unless ``bias``), else
    registered as None, as PyTorch's normalisation layers hold them."""
    module.register_parameter("weight", Parameter(_empty(shape, dtype, device)) if affine else None)
    module.register_parameter("bias", Parameter(_empty(shape, dtype, device)) if affine and bias else None)


def reset_affine(module):
    """A normalisation layer's affine parameters back to the identity: weight ones, bias zeros."""
    if getattr(module, "weight", None) is not None:
        module.weight._data[...] = 1
    if getattr(module, "bias", None) is not None:
        module.bias._data[...] = 0


class LayerNorm(Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last ``len(normalized_shape)`` dims; weight
    starts at ones and bias at zeros (PyTorch's ``nn.LayerNorm``)."""

    def __init__(self, normalized_shape, eps=1e-05, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = FN.normalized_tuple(normalized_shape, "LayerNorm")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, input):
        return FN.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last ``len(normalized_shape)`` dims; ``eps=None`` uses
    the input dtype's machine epsilon; weight starts at ones (PyTorch's ``nn.RMSNorm``)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = FN.normalized_tuple(normalized_shape, "RMSNorm")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.register_parameter("weight", Parameter(_empty(self.normalized_shape, dtype, device))
                                if elementwise_affine else None)
        self.reset_parameters()

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, input):
        return FN.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalise each sample of (N, C, *) input over ``num_groups`` groups of consecutive channels, then a
    per-channel affine (weight starts at ones, bias at zeros) when ``affine`` (PyTorch's ``nn.GroupNorm``)."""

    def __init__(self, num_groups, num_channels, eps=1e-05, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        for name, v in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"GroupNorm: argument '{name}' must be a positive int, got {v!r}")
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, (self.num_channels,), affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, input):
        return FN.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
