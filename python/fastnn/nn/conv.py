"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``, with PyTorch's initialisation."""
from __future__ import annotations

import numpy as np

from . import conv_functional as CF
from . import functional as F
from ._layer_params import add_weight_and_bias, reset_fan_in_uniform
from .module import Module

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(v, n, name, layer):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(e, (int, np.integer)) for e in v):
        return tuple(int(e) for e in v)
    raise TypeError(f"{layer}: argument '{name}' must be an int or a tuple of {n} ints, got {v!r}")


class _ConvNd(Module):
    _n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device, dtype):
        super().__init__()
        layer = type(self).__name__
        n = self._n
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{layer}: argument '{name}' must be a positive int, got {v!r}")
        if in_channels % groups != 0:
            raise ValueError(f"{layer}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups != 0:
            raise ValueError(f"{layer}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{layer}: invalid padding string {padding!r}, should be one of 'valid' or 'same'")
            if transposed:
                raise ValueError(f"{layer}: string padding is not supported by transposed convolutions")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", layer)
        self.stride = _tuple(stride, n, "stride", layer)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, n, "padding", layer)
        self.dilation = _tuple(dilation, n, "dilation", layer)
        if padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions")
        self.transposed = transposed
        self.output_padding = _tuple(output_padding, n, "output_padding", layer)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        if transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        add_weight_and_bias(self, shape, out_channels, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        reset_fan_in_uniform(self.weight, self.bias)

    def _explicit_padding(self, input):
        """For padding_mode != 'zeros': pad the input with F.pad and convolve without padding."""
        if self.padding_mode == "zeros":
            return input, self.padding
        if isinstance(self.padding, str):
            if self.padding == "valid":
                return input, 0
            pads = []
            for k, d in zip(reversed(self.kernel_size), reversed(self.dilation)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
        else:
            pads = []
            for p in reversed(self.padding):
                pads += [p, p]
        return F.pad(input, tuple(pads), mode=self.padding_mode), 0

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """The direct convolutions' constructor (PyTorch's signature, shared by every dimension)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups, bias,
                         padding_mode, device, dtype)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W): weight (C_out, C_in / groups, kH, kW), optional bias (C_out,)."""

    _n = 2

    def forward(self, input):
        x, padding = self._explicit_padding(input)
        # Attribute access, not _parameters: a parametrization (spectral norm) computes the weight on access.
        return CF.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L): weight (C_out, C_in / groups, k)."""

    _n = 1

    def forward(self, input):
        x, padding = self._explicit_padding(input)
        return CF.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: only 'zeros' padding mode is supported, got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        """output_padding that yields ``output_size`` (PyTorch's rule), or the layer's own when None."""
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = tuple(output_size)[-n:]
        if len(output_size) != n:
            raise ValueError(f"{type(self).__name__}: output_size must have {n} or more values, got {output_size}")
        res = []
        for i in range(n):
            size = input.shape[input.ndim - n + i]
            lo = (size - 1) * self.stride[i] - 2 * self.padding[i] + self.dilation[i] * (self.kernel_size[i] - 1) + 1
            hi = lo + self.stride[i] - 1
            if not lo <= output_size[i] <= hi:
                raise ValueError(f"{type(self).__name__}: requested an output size of {output_size}, but valid sizes "
                                 f"range from {lo} to {hi} in dim {i} (for an input of {tuple(input.shape)})")
            res.append(output_size[i] - lo)
        return tuple(res)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution: weight (C_in, C_out / groups, kH, kW); output
    H_out = (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1."""

    _n = 2

    def forward(self, input, output_size=None):
        op = self._output_padding(input, output_size)
        return CF.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                   self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    _n = 1

    def forward(self, input, output_size=None):
        op = self._output_padding(input, output_size)
        return CF.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                   self.dilation)
