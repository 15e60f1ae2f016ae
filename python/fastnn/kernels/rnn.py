"""The recurrent family: one layer and direction of an RNN / LSTM / GRU over a whole packed, time-major
sequence, forward and backward, in one native call each (the loop over time steps runs natively:
one GEMM and one fused gate kernel per step). Contract: ``csrc/ops/rnn/rnn.h``."""
from __future__ import annotations

from .. import backend


def rnn_forward(mode, xg, w_hh, b_ih, b_hh, w_hr, h0, c0, batch_sizes, reverse=False, training=True):
    """``(out, h_n, c_n, saved)`` of one layer and direction; ``xg = x @ w_ih.T`` for every row (no bias).

    mode: 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru'; batch_sizes: rows per time step (non-increasing);
    b_ih, b_hh, w_hr, h0, c0 may be None. ``saved`` (for ``rnn_backward``) only when ``training``.
    """
    return backend.kernel("rnn_forward", xg, w_hh, b_ih, b_hh, w_hr, h0, c0)(
        mode, xg, w_hh, b_ih, b_hh, w_hr, h0, c0, batch_sizes, reverse, training)


def rnn_backward(mode, w_hh, w_hr, h0, c0, batch_sizes, reverse, out, saved, dy, dh_n, dc_n):
    """``(dgx, dgh, dh0, dc0, dw_hh, dw_hr)``: the gradients of the gate pre-activations (dgx of ``xg``, dgh
    of the hidden projection: the same array except for the GRU), of h0 / c0 and of the recurrent weights."""
    return backend.kernel("rnn_backward", w_hh, w_hr, h0, c0, out, saved, dy, dh_n, dc_n)(
        mode, w_hh, w_hr, h0, c0, batch_sizes, reverse, out, saved, dy, dh_n, dc_n)
