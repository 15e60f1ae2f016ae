"""Activation functions of ``fastnn.nn.functional``.

Most are compositions of differentiable Tensor ops (so gradients of gradients come for free);
softplus, whose naive composition overflows, is a single graph node with a stable forward and
a backward written in Tensor ops.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _ops_math, kernels
from .._autograd_engine import _mode
from ..tensor import Tensor, _make, _wrap

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu", "gelu", "silu",
           "mish", "sigmoid", "tanh", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "softplus", "softsign",
           "tanhshrink", "logsigmoid", "softmax", "softmin", "log_softmax", "threshold", "prelu", "glu",
           "hardshrink", "softshrink"]


def _check(input, fn):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating point tensor, got {input._data.dtype}")


def _inplace(input, op):
    """The ``inplace=True`` forms: ``op`` (the out-of-place function) written over ``input``. Under autograd the
    op is recorded as an in-place one, as PyTorch allows on non-leaf tensors (the graph keeps the old value for
    the nodes that saw it); on a leaf that requires grad it raises PyTorch's error."""
    return input._unary_inplace(op)


def _piecewise_inplace(input, kind, slope, op):
    """relu_ / leaky_relu_: outside autograd the native kernel writes over the input's array; under autograd the
    op is recorded as an in-place one (the graph keeps the old value for the nodes that saw it)."""
    a = input._data
    if not (_mode.enabled and input._requires_grad) and a.dtype in _ops_math._NATIVE_FLOATS \
            and a.flags.c_contiguous and getattr(a.flags, "writeable", True):  # (cupy's flags have no writeable)
        kernels.activation_forward(a, kind, slope, out=a)
        input._version += 1
        return input
    return _inplace(input, op)


def relu(input, inplace=False):
    _check(input, "relu")
    if inplace:
        return _piecewise_inplace(input, "relu", 0.0, _ops_math.relu)
    return input.relu()


def relu_(input):
    return relu(input, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    _check(input, "leaky_relu")
    if inplace:
        if negative_slope < 0 and _mode.enabled and input._requires_grad:
            # PyTorch's rule: its in-place backward reads the sign of the output, which a negative slope flips
            raise RuntimeError("In-place leakyReLu backward calculation is triggered with a negative slope which is "
                               "not supported. This is caused by calling in-place forward function with a negative "
                               "slope, please call out-of-place version instead.")
        return _piecewise_inplace(input, "leaky_relu", negative_slope,
                                  lambda t: _ops_math.leaky_relu(t, negative_slope))
    return _ops_math.leaky_relu(input, negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def elu(input, alpha=1.0, inplace=False):
    _check(input, "elu")
    if inplace:
        return _inplace(input, lambda t: elu(t, alpha))
    # exp of the clamped input: the branch not taken must not overflow (0 * inf = nan in backward)
    neg = (input.clamp(max=0.0).exp() - 1.0) * alpha
    return input.where(input > 0, neg)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    _check(input, "selu")
    if inplace:
        return _inplace(input, lambda t: selu(t))
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def celu(input, alpha=1.0, inplace=False):
    _check(input, "celu")
    if inplace:
        return _inplace(input, lambda t: celu(t, alpha))
    if alpha == 0:
        raise ValueError("celu: argument 'alpha' must not be 0")
    neg = ((input / alpha).clamp(max=0.0).exp() - 1.0) * alpha
    return input.where(input > 0, neg)


def gelu(input, approximate="none"):
    _check(input, "gelu")
    if approximate == "none":
        return input * ((input * (1.0 / math.sqrt(2.0))).erf() + 1.0) * 0.5
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * (inner.tanh() + 1.0) * 0.5
    raise ValueError(f"gelu: argument 'approximate' must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):
    _check(input, "silu")
    if inplace:
        return _inplace(input, lambda t: silu(t))
    return _ops_math.silu(input)


def mish(input, inplace=False):
    _check(input, "mish")
    if inplace:
        return _inplace(input, lambda t: mish(t))
    return input * softplus(input).tanh()


def sigmoid(input):
    _check(input, "sigmoid")
    return input.sigmoid()


def tanh(input):
    _check(input, "tanh")
    return input.tanh()


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    _check(input, "hardtanh")
    if inplace:
        return _inplace(input, lambda t: hardtanh(t, min_val, max_val))
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return input.clamp(min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def hardsigmoid(input, inplace=False):
    _check(input, "hardsigmoid")
    if inplace:
        return _inplace(input, lambda t: hardsigmoid(t))
    return (input / 6.0 + 0.5).clamp(0.0, 1.0)


def hardswish(input, inplace=False):
    _check(input, "hardswish")
    if inplace:
        return _inplace(input, lambda t: hardswish(t))
    return input * (input + 3.0).clamp(0.0, 6.0) / 6.0


def _softplus_node(x, beta, threshold):
    xd = x._data
    bx = xd * beta if beta != 1 else xd
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows
    sp = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    out = np.where(bx > threshold, xd, sp).astype(xd.dtype, copy=False)
    if _mode.enabled and x._requires_grad:
        def bw(g):
            if _mode.enabled:
                bxt = x * beta
                return (g.where(bxt > threshold, g * bxt.sigmoid()),)
            with np.errstate(over="ignore"):    # exp(-bx) = inf where the sigmoid is 0
                s = 1.0 / (1.0 + np.exp(-bx))
            return (_wrap(np.where(bx > threshold, g._data, g._data * s).astype(xd.dtype, copy=False)),)
        return _make(out, (x,), bw, "Softplus")
    return _wrap(out)


def softplus(input, beta=1.0, threshold=20.0):
    _check(input, "softplus")
    if beta == 0:
        raise ValueError("softplus: argument 'beta' must not be 0")
    with np.errstate(over="ignore"):
        return _softplus_node(input, beta, threshold)


def softsign(input):
    _check(input, "softsign")
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    _check(input, "tanhshrink")
    return input - input.tanh()


def logsigmoid(input):
    _check(input, "logsigmoid")
    return softplus(-input).neg()


def threshold(input, threshold, value, inplace=False):
    _check(input, "threshold")
    if inplace:
        return _inplace(input, lambda t: _threshold(t, threshold, value))
    return input.where(input > threshold, input.new_full((), value))


_threshold = threshold


def hardshrink(input, lambd=0.5):
    _check(input, "hardshrink")
    zero = input.new_zeros(())
    return input.where(input.abs() > lambd, zero)


def softshrink(input, lambd=0.5):
    _check(input, "softshrink")
    zero = input.new_zeros(())
    return (input - lambd).where(input > lambd, (input + lambd).where(input < -lambd, zero))


def prelu(input, weight):
    _check(input, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu: argument 'weight' must be a Tensor, got {type(weight).__name__}")
    w = weight
    if weight.numel() != 1:
        if input.ndim < 2 or input.shape[1] != weight.numel():
            raise ValueError(f"prelu: weight has {weight.numel()} elements but input shape {tuple(input.shape)} "
                             f"has {input.shape[1] if input.ndim >= 2 else 1} channels (dim 1)")
        w = weight.reshape((1, -1) + (1,) * (input.ndim - 2))
    return input.where(input > 0, input * w)


def glu(input, dim=-1):
    _check(input, "glu")
    if input.shape[dim] % 2 != 0:
        raise ValueError(f"glu: halving dimension {dim} must be even, got size {input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _softmax_dim(ndim, fn):
    import warnings
    warnings.warn(f"Implicit dimension choice for {fn} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    _check(input, "softmax")
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmax")
    if dtype is not None:
        input = input.to(dtype)
    return input.softmax(dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    _check(input, "softmin")
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmin")
    if dtype is not None:
        input = input.to(dtype)
    return (-input).softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    _check(input, "log_softmax")
    if dim is None:
        dim = _softmax_dim(input.ndim, "log_softmax")
    if dtype is not None:
        input = input.to(dtype)
    return input.log_softmax(dim)
