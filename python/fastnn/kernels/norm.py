"""The normalisation family (``csrc/ops/norm/``): layer normalisation and RMS normalisation of each row of a
contiguous (rows, C) block, batch and group normalisation of a contiguous (N, C, S) block, forward and backward.
Arrays in, arrays out, on the arrays' device; float32 or float64, weight / bias (C,) of the same dtype or None."""
from __future__ import annotations

from .. import backend


def layer_norm_forward(x, weight=None, bias=None, eps=1e-5):
    """``(y, mean, rstd)``: ``y = (x - mean) * rstd * weight + bias`` per row, ``rstd = 1 / sqrt(var + eps)``
    (biased variance); ``mean`` and ``rstd`` (rows,) are what the backward needs."""
    return backend.kernel("layer_norm_forward", x, weight, bias)(x, weight, bias, eps)


def layer_norm_backward(dy, x, mean, rstd, weight=None, output_mask=(True, True, True)):
    """``(dx, dweight, dbias)`` of layer_norm_forward; an entry is None where ``output_mask`` is False."""
    return backend.kernel("layer_norm_backward", dy, x, mean, rstd, weight)(dy, x, mean, rstd, weight,
                                                                            tuple(output_mask))


def rms_norm_forward(x, weight=None, eps=None):
    """``(y, rstd)``: ``y = x * rstd * weight`` per row, ``rstd = 1 / sqrt(mean(x**2) + eps)``; ``eps`` None is
    the machine epsilon of x's dtype."""
    return backend.kernel("rms_norm_forward", x, weight)(x, weight, eps)


def rms_norm_backward(dy, x, rstd, weight=None, output_mask=(True, True)):
    """``(dx, dweight)`` of rms_norm_forward; an entry is None where ``output_mask`` is False."""
    return backend.kernel("rms_norm_backward", dy, x, rstd, weight)(dy, x, rstd, weight, tuple(output_mask))


def batch_norm_forward(x, weight=None, bias=None, eps=1e-5):
    """``(y, mean, var, rstd)``: batch normalisation of each channel of the contiguous (N, C, S) block ``x`` with
    its batch statistics, ``y = (x - mean) * rstd * weight + bias``; ``var`` is the biased variance and
    ``rstd = 1 / sqrt(var + eps)``, each (C,)."""
    return backend.kernel("batch_norm_forward", x, weight, bias)(x, weight, bias, eps)


def batch_norm_backward(dy, x, mean, rstd, weight=None, output_mask=(True, True, True)):
    """``(dx, dweight, dbias)`` of batch_norm_forward; an entry is None where ``output_mask`` is False."""
    return backend.kernel("batch_norm_backward", dy, x, mean, rstd, weight)(dy, x, mean, rstd, weight,
                                                                            tuple(output_mask))


def group_norm_forward(x, num_groups, weight=None, bias=None, eps=1e-5, activation=None):
    """``(y, mean, rstd)``: group normalisation of the contiguous (N, C, S) block ``x``: each sample's
    ``num_groups`` groups of ``C // num_groups`` consecutive channels normalised with their own statistics, then
    ``y = (x - mean) * rstd * weight[c] + bias[c]``; ``mean`` and ``rstd`` are (N, num_groups). ``activation``
    ``"silu"`` applies SiLU to ``y`` in the same pass."""
    return backend.kernel("group_norm_forward", x, weight, bias)(x, num_groups, weight, bias, eps, activation)


def group_norm_backward(dy, x, mean, rstd, num_groups, weight=None, output_mask=(True, True, True), bias=None,
                        activation=None):
    """``(dx, dweight, dbias)`` of group_norm_forward; an entry is None where ``output_mask`` is False. With the
    forward's ``activation="silu"``, ``dy`` is the gradient after SiLU and ``bias`` the forward's bias."""
    return backend.kernel("group_norm_backward", dy, x, mean, rstd, weight, bias)(
        dy, x, mean, rstd, num_groups, weight, tuple(output_mask), bias, activation)
