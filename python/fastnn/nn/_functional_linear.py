"""``F.linear`` and ``F.bilinear``.

``linear`` is the hot path of dense networks: one GEMM for the forward (``x @ W.T`` read through
strides, no transposed copy), and a backward that works on raw arrays unless a graph of the
gradient is being recorded (``create_graph=True``), where it is written with differentiable
Tensor ops so that gradients of gradients (WGAN-GP) flow through it.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._autograd_engine import _mode
from ..tensor import Tensor, _make, _wrap

__all__ = ["linear", "bilinear"]


def _mm(a, b):
    """2-D (or batched) product of arrays through fastnn's GEMM; numpy for dtypes the kernel lacks."""
    if a.dtype.kind == "f" and a.dtype.itemsize >= 4:
        return kernels.matmul(a, b)
    return np.matmul(a, b)


def _check_linear(input, weight, bias):
    if not isinstance(input, Tensor):
        raise TypeError(f"linear: argument 'input' must be a Tensor, got {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"linear: argument 'weight' must be a Tensor, got {type(weight).__name__}")
    xd, wd = input._data, weight._data
    if wd.ndim != 2:
        raise ValueError(f"linear: argument 'weight' must be 2-D (out_features, in_features), got shape "
                         f"{tuple(wd.shape)}")
    if xd.ndim == 0 or xd.shape[-1] != wd.shape[1]:
        raise ValueError(f"linear: input shape {tuple(xd.shape)} does not match weight shape {tuple(wd.shape)}: "
                         f"the last dim of 'input' must be in_features={wd.shape[1]}")
    if xd.dtype != wd.dtype:
        raise TypeError(f"linear: 'input' ({xd.dtype}) and 'weight' ({wd.dtype}) must have the same dtype")
    if xd.dtype.kind != "f":
        raise TypeError(f"linear: expected a floating point input, got {xd.dtype}")
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"linear: argument 'bias' must be a Tensor or None, got {type(bias).__name__}")
        if bias._data.shape != (wd.shape[0],):
            raise ValueError(f"linear: argument 'bias' must have shape ({wd.shape[0]},), got "
                             f"{tuple(bias._data.shape)}")
        if bias._data.dtype != xd.dtype:
            raise TypeError(f"linear: 'bias' ({bias._data.dtype}) and 'input' ({xd.dtype}) must have the same dtype")


def _linear_backward(input, weight, bias):
    def bw(g):
        x_req = input._requires_grad
        w_req = weight._requires_grad
        b_req = bias is not None and bias._requires_grad
        if _mode.enabled:
            # recording the gradient's own graph: stay in differentiable ops
            gx = g.matmul(weight) if x_req else None
            gw = gb = None
            if w_req or b_req:
                g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
                if w_req:
                    x2 = input.reshape(-1, input.shape[-1]) if input.ndim != 2 else input
                    gw = g2.t().matmul(x2)
                if b_req:
                    gb = g2.sum(0)
            return gx, gw, gb
        gd = g._data
        wd = weight._data
        gx = gw = gb = None
        g2 = gd.reshape(-1, gd.shape[-1]) if gd.ndim != 2 else gd
        if x_req:
            gx = _wrap(_mm(g2, wd).reshape(input._data.shape))
        if w_req:
            xd = input._data
            x2 = xd.reshape(-1, xd.shape[-1]) if xd.ndim != 2 else xd
            gw = _wrap(_mm(g2.T, x2))
        if b_req:
            # many rows (a linear layer over every position of a sequence or feature map) sum on the GEMM
            gb = _wrap(kernels.sum_outer_inner(g2, 1, 1) if g2.shape[0] >= 256 else g2.sum(0))
        return gx, gw, gb
    return bw


def linear(input, weight, bias=None):
    """``y = input @ weight.T + bias`` for input (*, in_features), weight (out_features, in_features)."""
    _check_linear(input, weight, bias)
    xd, wd = input._data, weight._data
    if xd.ndim == 2:
        out = _mm(xd, wd.T)
    elif xd.ndim == 1:
        out = _mm(xd[None, :], wd.T)[0]
    else:
        out = _mm(xd.reshape(-1, xd.shape[-1]), wd.T).reshape(xd.shape[:-1] + (wd.shape[0],))
    if bias is not None:
        out += bias._data
    if _mode.enabled and (input._requires_grad or weight._requires_grad
                          or (bias is not None and bias._requires_grad)):
        return _make(out, (input, weight, bias), _linear_backward(input, weight, bias), "Linear")
    return _wrap(out)


def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1 @ W_k @ x2 + b_k`` for x1 (*, in1), x2 (*, in2), weight (out, in1, in2)."""
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"bilinear: argument '{name}' must be a Tensor, got {type(t).__name__}")
    if weight.ndim != 3:
        raise ValueError(f"bilinear: argument 'weight' must be 3-D (out, in1, in2), got shape {tuple(weight.shape)}")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2 or input1.shape[:-1] != input2.shape[:-1]:
        raise ValueError(f"bilinear: input shapes {tuple(input1.shape)} and {tuple(input2.shape)} do not match "
                         f"weight shape {tuple(weight.shape)}")
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (N, in1) @ (in1, out*in2) -> (N, out, in2), then contract with x2
    t = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = (t * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))
