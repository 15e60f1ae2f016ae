"""Dense layers: ``Identity``, ``Linear`` and ``Bilinear``, with PyTorch's default initialisation."""
from __future__ import annotations

import math

from . import init
from ._functional_linear import bilinear, linear
from ._layer_params import add_weight_and_bias, reset_fan_in_uniform
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear"]


def _check_features(name, value, layer):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{layer}: argument '{name}' must be a non-negative int, got {value!r}")


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments (as PyTorch does)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``y = x @ W.T + b`` with W (out_features, in_features) ~ kaiming_uniform(a=sqrt(5)), b ~ U(+-1/sqrt(fan_in))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _check_features("in_features", in_features, "Linear")
        _check_features("out_features", out_features, "Linear")
        self.in_features = in_features
        self.out_features = out_features
        add_weight_and_bias(self, (out_features, in_features), out_features, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        reset_fan_in_uniform(self.weight, self.bias)

    def forward(self, input):
        # Attribute access, not _parameters: a parametrization (spectral norm) computes the weight on access.
        return linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """``y = x1 @ W_k @ x2 + b_k`` with W (out, in1, in2), both ~ U(+-1/sqrt(in1))."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        for n, v in (("in1_features", in1_features), ("in2_features", in2_features), ("out_features", out_features)):
            _check_features(n, v, "Bilinear")
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        add_weight_and_bias(self, (out_features, in1_features, in2_features), out_features, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
