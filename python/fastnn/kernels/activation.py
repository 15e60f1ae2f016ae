"""The activation family (``csrc/ops/activation/``): relu, leaky_relu, sigmoid and silu and their gradients, element
by element.
Arrays in, arrays out, on the arrays' device; C-contiguous float32 or float64, any shape."""
from __future__ import annotations

from .. import backend


def activation_forward(x, kind, negative_slope=0.0, out=None):
    """``relu(x)`` (kind ``"relu"``), ``leaky_relu(x, negative_slope)`` (kind ``"leaky_relu"``), ``sigmoid(x)``
    (kind ``"sigmoid"``) or ``silu(x)`` (kind ``"silu"``), PyTorch's definitions; written into ``out`` when given
    (``x`` itself allowed)."""
    return backend.kernel("activation_forward", x, out)(x, kind, negative_slope, out)


def activation_backward(dy, x, kind, negative_slope=0.0, out=None):
    """The gradient of :func:`activation_forward` from ``dy`` and the forward's ``x`` (for relu / leaky_relu its
    output works as well, for a slope >= 0): ``x > 0 ? dy : dy * slope`` (0 for relu), ``dy * s * (1 - s)``
    (sigmoid), ``dy * s * (1 + x * (1 - s))`` (silu), ``s = sigmoid(x)``; into ``out`` when given (``dy`` itself
    allowed)."""
    return backend.kernel("activation_backward", dy, x, out)(dy, x, kind, negative_slope, out)
