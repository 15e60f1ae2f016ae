"""The attention family (``csrc/ops/attention/``): fused scaled-dot-product attention, forward and backward,
in the flash-attention manner (no L_q x L_k buffer). Arrays in, arrays out, on the arrays' device.

Shapes: q (B, Hq, Lq, D), k (B, Hk, Lk, D), v (B, Hk, Lk, Dv), Hq a multiple of Hk (grouped-query
attention: query head h reads key/value head h // (Hq // Hk)). ``mask`` is None or an array that
broadcasts to (B, Hq, Lq, Lk) and ends in Lk: bool (True = takes part, SDPA's meaning) or q's dtype
(added to the scores). ``is_causal`` masks key j > query i (top-left aligned, as PyTorch's). ``scale``
multiplies q k^T (the caller passes 1/sqrt(D) for the usual default). Dropout on the attention weights
draws from Philox (key, offset) exactly the mask ``dropout_mask`` would fill for shape (B, Hq, Lq, Lk);
the forward returns how many counters it used, for ``fastnn.random.philox_draw``.
"""
from __future__ import annotations

from .. import backend


def _last_dim_unit(a):
    """``a`` itself when its last dim has unit stride (or at most one element), else a contiguous copy."""
    if a.ndim and a.shape[-1] > 1 and a.strides[-1] != a.itemsize:
        return backend.array_module_of(a).ascontiguousarray(a)
    return a


def _mask4(mask):
    """A mask of fewer than four dims as a 4-D view (leading size-1 dims, no copy)."""
    if mask is None or mask.ndim >= 4:
        return mask
    return mask.reshape((1,) * (4 - mask.ndim) + tuple(mask.shape))


def attention_forward(q, k, v, mask=None, is_causal=False, scale=1.0, dropout_p=0.0, key=0, offset=0):
    """``(out, lse, counters)``: out (B, Hq, Lq, Dv) contiguous, lse (B, Hq, Lq) the log-sum-exp of each row's
    scores (float32; float64 for float64 inputs). A fully masked row gives out 0 and lse -inf."""
    q, k, v = _last_dim_unit(q), _last_dim_unit(k), _last_dim_unit(v)
    mask = _mask4(mask)
    return backend.kernel("attention_forward", q, k, v, mask)(q, k, v, mask, bool(is_causal), float(scale),
                                                              float(dropout_p), key, offset)


def attention_backward(dout, q, k, v, out, lse, mask=None, is_causal=False, scale=1.0, dropout_p=0.0, key=0,
                       offset=0):
    """``(dq, dk, dv)`` from the forward's ``out`` and ``lse`` and the same arguments (dropout's mask is drawn
    again from ``key`` and ``offset``); dk and dv are shaped like k and v, summed over each group's query heads."""
    dout, q, k, v = _last_dim_unit(dout), _last_dim_unit(q), _last_dim_unit(k), _last_dim_unit(v)
    mask = _mask4(mask)
    return backend.kernel("attention_backward", dout, q, k, v, out, lse, mask)(
        dout, q, k, v, out, lse, mask, bool(is_causal), float(scale), float(dropout_p), key, offset)
