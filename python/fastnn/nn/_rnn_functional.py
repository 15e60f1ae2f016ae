"""The recurrent layers' computation: each layer and direction over a whole sequence is ONE autograd op.

Its forward is one GEMM for the input projection of every time step (``x @ W_ih^T``) and one native
call (``kernels.rnn_forward``) that loops over the steps (a GEMM ``h @ W_hh^T`` and a fused gate kernel
per step). Its backward is one native call for the loop back through time (a fused gate kernel and a
GEMM ``dgates @ W_hh`` per step, ``dW_hh`` as one GEMM over all steps) and one GEMM each for ``dx`` and
``dW_ih``. No per-step autograd graph and no per-step Python.

The backward is not itself differentiable: asking for gradients of gradients raises.
"""
from __future__ import annotations

import numpy as np

from .. import backend, kernels
from .._autograd_engine import _mode
from ..autograd import Function
from ..tensor import Tensor

_MODES = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}


def _contig(a):
    return backend.array_module_of(a).ascontiguousarray(a)


def _data(t):
    return None if t is None else _contig(t._data)


class _RecurrentSequence(Function):
    """One layer and direction: (x (rows, in), w_ih, w_hh, b_ih, b_hh, w_hr, h0 (B, P), c0 (B, H)) ->
    (out (rows, P), h_n[, c_n]) over the packed time-major rows given by ``cfg = (mode, batch_sizes,
    reverse, record)``; ``record``: keep what backward needs."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, cfg):
        mode, batch_sizes, reverse, record = cfg
        xd = x._data
        w_hh_d, w_hr_d, h0_d, c0_d = _data(w_hh), _data(w_hr), _data(h0), _data(c0)
        xg = kernels.matmul(xd, w_ih._data.T)
        out, hn, cn, saved = kernels.rnn_forward(mode, xg, w_hh_d, _data(b_ih), _data(b_hh), w_hr_d, h0_d, c0_d,
                                                 batch_sizes, reverse, record)
        if record:
            ctx.cfg = cfg
            ctx.arrays = (xd, w_ih._data, w_hh_d, w_hr_d, h0_d, c0_d, out, saved)
            ctx.has_bias = b_ih is not None
        outs = (Tensor._wrap(out), Tensor._wrap(hn))
        return outs + (Tensor._wrap(cn),) if mode == "lstm" else outs

    @staticmethod
    def backward(ctx, g_out, g_hn, g_cn=None):
        if _mode.enabled:
            raise RuntimeError("the fused recurrent kernels (RNN, LSTM, GRU and their cells) have no second "
                               "derivative: gradients of gradients (create_graph=True, gradgradcheck) through "
                               "them are not supported")
        mode, batch_sizes, reverse, _ = ctx.cfg
        xd, w_ih, w_hh, w_hr, h0, c0, out, saved = ctx.arrays
        xp = backend.array_module_of(out)

        def grad(g, like):
            return xp.zeros_like(like) if g is None else _contig(g._data)

        dy = grad(g_out, out)
        dhn = None if g_hn is None else _contig(g_hn._data)
        dcn = None if g_cn is None else _contig(g_cn._data)
        dgx, dgh, dh0, dc0, dw_hh, dw_hr = kernels.rnn_backward(mode, w_hh, w_hr, h0, c0, batch_sizes, reverse, out,
                                                                saved, dy, dhn, dcn)
        need = ctx.needs_input_grad
        wrap = Tensor._wrap
        dx = wrap(kernels.matmul(dgx, w_ih)) if need[0] else None
        dw_ih = wrap(kernels.matmul(dgx.T, xd)) if need[1] else None
        db_ih = wrap(dgx.sum(axis=0)) if ctx.has_bias and need[3] else None
        db_hh = wrap(dgh.sum(axis=0)) if ctx.has_bias and need[4] else None
        return (dx, dw_ih, wrap(dw_hh) if need[2] else None, db_ih, db_hh,
                wrap(dw_hr) if dw_hr is not None and need[5] else None,
                wrap(dh0) if need[6] else None, wrap(dc0) if dc0 is not None and need[7] else None, None)


def recurrent_sequence(mode, x, weights, h0, c0, batch_sizes, reverse):
    """One layer and direction over the packed rows ``x`` (rows, in): ``(out, h_n, c_n or None)``.

    weights: (w_ih, w_hh, b_ih, b_hh, w_hr), the biases and w_hr possibly None."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    record = _mode.enabled and any(t is not None and t._requires_grad for t in (x, *weights, h0, c0))
    cfg = (mode, tuple(int(b) for b in batch_sizes), bool(reverse), record)
    res = _RecurrentSequence.apply(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, cfg)
    return res if mode == "lstm" else (res[0], res[1], None)


def native_mode(mode):
    """The kernels' name of PyTorch's mode string ('LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU')."""
    return _MODES[mode]


def check_dtype(input, weight, fn="RNN"):
    if input._data.dtype != weight._data.dtype:
        raise ValueError(f"{fn} input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                         f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})")


def steps_of(batch_sizes):
    """batch_sizes as a tuple of Python ints (from a Tensor, array or sequence)."""
    if isinstance(batch_sizes, Tensor):
        batch_sizes = batch_sizes._data
    return tuple(int(b) for b in np.asarray(backend.to_device(batch_sizes, backend.CPU)
                                            if not isinstance(batch_sizes, (tuple, list)) else batch_sizes))
