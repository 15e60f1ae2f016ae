"""Scaled dot-product attention of ``fastnn.nn.functional``.

``scaled_dot_product_attention`` has PyTorch's arguments and meaning. It runs the fused attention
kernel (``fastnn.kernels.attention_forward``: flash-attention tiles, no L x S matrix) as one
autograd Function that saves the output and the log-sum-exp, not the weights; its first-order
backward is the fused backward kernel. When gradients of gradients are asked for (the backward
runs with grad mode on) the backward is instead written with Tensor ops over a recomputation of
the weights (``_attention_math_backward``), so it is itself differentiable.

``_attention_math`` is the same computation written with Tensor ops that does materialise the
weights: ``MultiheadAttention`` uses it when it must return them (``need_weights=True``), and so
does a float mask that requires grad (the kernel treats masks as constants).

Masks, SDPA's meaning: a boolean mask is True where the key takes part, a float mask is added to
the scores; ``is_causal`` keeps key j for query i when j <= i (top-left aligned when L != S). A
query row with no key left gives output 0 (and gradient 0), as PyTorch 2.13 does.
"""
from __future__ import annotations

import math

import numpy as np

from .._autograd_engine import _mode
from ..autograd import Function
from ..tensor import Tensor, _array_on, _wrap
from .. import backend, kernels
from .. import random as _random
from ._functional_activation import softmax
from ._functional_misc import _keep_mask

__all__ = ["scaled_dot_product_attention"]

_FN = "scaled_dot_product_attention"
# storage types the native kernels compute in; others are computed in float32 on the CPU
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------- the Tensor-op path

def _repeat_kv(x, groups):
    """(B, Hk, S, D) -> (B, Hk * groups, S, D), key/value head h serving query heads h*groups ..."""
    return x if groups == 1 else x.repeat_interleave(groups, dim=1)


def _sum_groups(g, hk):
    """The inverse of ``_repeat_kv`` for gradients: (B, Hk * G, S, D) summed to (B, Hk, S, D)."""
    b, hq, s, d = g.shape
    return g if hq == hk else g.reshape(b, hk, hq // hk, s, d).sum(dim=2)


def _causal_drop(like, L, S):
    """Boolean (L, S), True where key j comes after query i (top-left aligned), on ``like``'s device."""
    return _array_on(like, np.triu(np.ones((L, S), dtype=bool), 1))


def _attention_probs(q, k, mask, is_causal, scale):
    """Softmax weights (B, H, L, S) of ``q`` (B, H, L, E) against ``k`` (B, H, S, E), heads already matched.

    ``mask``: None, a boolean array (True = takes part) or a float array or Tensor (added), broadcast to
    (B, H, L, S). A row with every key masked gets weights 0 (its scores are zeroed before the
    softmax, so no NaN reaches the gradients either).
    """
    s = (q @ k.transpose(-2, -1)) * scale
    masked = mask is not None or is_causal
    if mask is not None:
        if isinstance(mask, Tensor):
            s = s + mask
        elif mask.dtype == np.bool_:
            s = s.masked_fill(~mask, float("-inf"))
        else:
            s = s + _wrap(mask)
    if is_causal:
        s = s.masked_fill(_causal_drop(s._data, s.shape[-2], s.shape[-1]), float("-inf"))
    if masked:
        xp = backend.array_module_of(s._data)
        dead = xp.isneginf(s._data).all(axis=-1, keepdims=True)
        if bool(dead.any()):
            s = s.masked_fill(dead, 0.0)
            return softmax(s, dim=-1).masked_fill(dead, 0.0)
    return softmax(s, dim=-1)


def _attention_math(q, k, v, mask=None, is_causal=False, scale=1.0, keep=None):
    """Attention with Tensor ops: ``(out, weights)`` for 4-D q (B, Hq, L, E), k (B, Hk, S, E), v (B, Hk, S, Ev).

    ``keep``: None or dropout's scaled keep mask (B, Hq, L, S), a constant array; ``weights`` are the
    softmax weights after dropout (what ``out = weights @ v`` used), as MultiheadAttention returns.
    """
    groups = q.shape[1] // k.shape[1]
    p = _attention_probs(q, _repeat_kv(k, groups), mask, is_causal, scale)
    if keep is not None:
        p = p * _wrap(keep)
    return p @ _repeat_kv(v, groups), p


def _attention_math_backward(dout, q, k, v, mask, is_causal, scale, keep):
    """(dq, dk, dv) of attention written with Tensor ops, so it is differentiable again.

    The weights are recomputed from q and k; with Delta_i = sum_j dp_ij p_ij (= dout_i . out_i):
    dv = (p z)^T dout, dp = z (dout v^T), ds = p (dp - Delta), dq = scale ds k, dk = scale ds^T q.
    """
    hk = k.shape[1]
    groups = q.shape[1] // hk
    kr, vr = _repeat_kv(k, groups), _repeat_kv(v, groups)
    p = _attention_probs(q, kr, mask, is_causal, scale)
    pd = p if keep is None else p * _wrap(keep)
    dv = pd.transpose(-2, -1) @ dout
    dp = dout @ vr.transpose(-2, -1)
    if keep is not None:
        dp = dp * _wrap(keep)
    ds = p * (dp - (dp * p).sum(dim=-1, keepdim=True))
    dq = (ds @ kr) * scale
    dk = (ds.transpose(-2, -1) @ q) * scale
    return dq, _sum_groups(dk, hk), _sum_groups(dv, hk)


# ---------------------------------------------------------------------------- the fused kernel

def _compute_dtype(a):
    """The dtype the kernel runs in for array ``a``: its own, or float32 for half types on the CPU."""
    if a.dtype in _KERNEL_DTYPES or backend.is_cuda_array(a):
        return a.dtype
    return np.dtype(np.float32)


def _as_compute(a, dtype):
    return a if a is None or a.dtype == dtype or a.dtype == np.bool_ else a.astype(dtype)


class _FusedAttention(Function):
    """Attention through the native kernel on 4-D Tensors; the mask is a constant array (bool or float)."""

    @staticmethod
    def forward(ctx, q, k, v, mask, is_causal, scale, dropout_p):
        dt = _compute_dtype(q._data)
        qa, ka, va = (_as_compute(t._data, dt) for t in (q, k, v))
        mask = _as_compute(mask, dt)
        res = {}

        def run(key, offset):
            res["out"], res["lse"], used = kernels.attention_forward(
                qa, ka, va, mask=mask, is_causal=is_causal, scale=scale, dropout_p=dropout_p, key=key, offset=offset)
            res["rng"] = (key, offset)
            return used

        if dropout_p > 0.0:
            _random.philox_draw(run)
        else:
            run(0, 0)
        ctx.save_for_backward(q, k, v)
        ctx.out, ctx.lse, ctx.rng = res["out"], res["lse"], res["rng"]
        ctx.mask, ctx.is_causal, ctx.scale, ctx.dropout_p = mask, is_causal, scale, dropout_p
        out = res["out"]
        return _wrap(out if out.dtype == q._data.dtype else out.astype(q._data.dtype))

    @staticmethod
    def backward(ctx, dout):
        q, k, v = ctx.saved_tensors
        if _mode.enabled:
            # gradients of gradients: the same backward in Tensor ops (it recomputes the weights)
            keep = None
            if ctx.dropout_p > 0.0:
                keep = _regenerate_keep(q, k, ctx)
            dt = _compute_dtype(q._data)
            args = [t if t._data.dtype == dt else t.to(dt) for t in (dout, q, k, v)]
            grads = _attention_math_backward(*args, ctx.mask, ctx.is_causal, ctx.scale, keep)
            return tuple(g.to(q._data.dtype) if g._data.dtype != q._data.dtype else g for g in grads) + (None,) * 4
        dt = _compute_dtype(q._data)
        key, offset = ctx.rng
        dq, dk, dv = kernels.attention_backward(
            _as_compute(dout._data, dt), *(_as_compute(t._data, dt) for t in (q, k, v)), ctx.out, ctx.lse,
            mask=ctx.mask, is_causal=ctx.is_causal, scale=ctx.scale, dropout_p=ctx.dropout_p, key=key, offset=offset)
        want = q._data.dtype
        return tuple(_wrap(g if g.dtype == want else g.astype(want)) for g in (dq, dk, dv)) + (None,) * 4


def _regenerate_keep(q, k, ctx):
    """The kernel's dropout keep mask (B, Hq, L, S), drawn again from the forward's (key, offset)."""
    b, hq, L, _ = q.shape
    S = k.shape[2]
    dt = _compute_dtype(q._data)
    keep = backend.empty((b, hq, L, S), dt, q._data)
    key, offset = ctx.rng
    kernels.dropout_mask(keep, ctx.dropout_p, key, offset)
    return keep


# ---------------------------------------------------------------------------- argument handling

def _broadcast(shapes, what):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"{_FN}: the batch dimensions of {what} do not broadcast: "
                           + ", ".join(str(tuple(s)) for s in shapes)) from None


def _check_tensors(query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{_FN}: argument '{name}' must be a Tensor, got {type(t).__name__}")
        if t._data.dtype.kind != "f":
            raise RuntimeError(f"{_FN}: argument '{name}' must be a floating point tensor, got {t.dtype}")
        if t.ndim < 2:
            raise RuntimeError(f"{_FN}: argument '{name}' must have at least 2 dimensions (..., L, E), "
                               f"got shape {tuple(t.shape)}")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"{_FN}: expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    backend.check_same_device(key._data, query._data, _FN)
    backend.check_same_device(value._data, query._data, _FN)
    qs, ks, vs = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    if ks[-1] != qs[-1]:
        raise RuntimeError(f"{_FN}: the last dimension (head dim E) of query and key must match: query {qs}, "
                           f"key {ks}")
    if vs[-2] != ks[-2]:
        raise RuntimeError(f"{_FN}: key and value must have the same sequence length (dim -2): key {ks}, "
                           f"value {vs}")


def _batch_and_heads(query, key, value, enable_gqa):
    """``(batch, hq, hk, lead)``: the broadcast batch dims, the query and key/value head counts (dim -3, or
    1 when the inputs have no batch dims) and the output's leading dims."""
    qs, ks, vs = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    if not enable_gqa or query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
        lead = _broadcast([qs[:-2], ks[:-2], vs[:-2]], "query, key and value")
        if not lead:
            return (), 1, 1, ()
        return lead[:-1], lead[-1], lead[-1], lead
    hq, hk, hv = qs[-3], ks[-3], vs[-3]
    if hk != hv:
        raise RuntimeError(f"{_FN}: key and value must have the same number of heads (dim -3): key {ks}, "
                           f"value {vs}")
    if hk == 0 or hq % hk != 0:
        raise RuntimeError(f"{_FN}: with enable_gqa=True the number of query heads ({hq}) must be a multiple of "
                           f"the number of key/value heads ({hk}): query {qs}, key {ks}")
    batch = _broadcast([qs[:-3], ks[:-3], vs[:-3]], "query, key and value")
    return batch, hq, hk, batch + (hq,)


def _to_4d(t, batch, heads):
    """Tensor (..., L, E) broadcast and reshaped to (prod(batch), heads, L, E) (a view where it can)."""
    L, E = t.shape[-2:]
    full = tuple(batch) + (heads, L, E)
    if tuple(t.shape) != full:
        t = t.expand(*full)
    shape = (int(np.prod(batch, dtype=np.int64)), heads, L, E)
    return t if tuple(t.shape) == shape else t.reshape(shape)


def _mask_to_4d(mask, batch, hq, L, S):
    """The mask as 4-D (mB, mH, mL, S), each of mB, mH, mL 1 or full (the kernel's layout).

    Returns an array (boolean, or float for a constant float mask), or a float Tensor when it
    requires grad (then the Tensor-op path adds it and its gradient flows)."""
    full = tuple(batch) + (hq, L, S)
    ms = tuple(mask.shape)
    try:
        if len(ms) > len(full) or tuple(np.broadcast_shapes(ms, full)) != full:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"{_FN}: attn_mask of shape {ms} cannot be broadcast to the attention weights' shape "
                           f"{full} (batch..., heads, L, S)") from None
    ms = (1,) * (len(full) - len(ms)) + ms
    mbatch, mh, mL = ms[:-3], ms[-3], ms[-2]
    if all(d == 1 for d in mbatch):
        src, shape = mbatch + (mh, mL, S), (1, mh, mL, S)
    else:                         # a batch broadcast only in part is spelled out over the whole batch
        src, shape = tuple(batch) + (mh, mL, S), (int(np.prod(batch, dtype=np.int64)), mh, mL, S)
    if mask._requires_grad and _mode.enabled:
        m = mask.reshape(ms)
        return (m.expand(*src) if tuple(m.shape) != src else m).reshape(shape)
    a = mask._data.reshape(ms)
    xp = backend.array_module_of(a)
    if a.shape != src:
        a = xp.broadcast_to(a, src)
    a = a.reshape(shape)          # copies only a spelled-out batch
    if S > 1 and a.strides[-1] != a.itemsize:
        a = xp.ascontiguousarray(a)
    return a


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value, over inputs (N, ..., L, E), (N, ..., S, E), (N, ..., S, Ev).

    ``attn_mask``: boolean (True = takes part) or float (added) of query's dtype, broadcastable to
    (N, ..., L, S); ``is_causal``: top-left causal mask (not together with ``attn_mask``);
    ``dropout_p``: dropout on the weights whenever it is > 0 (as PyTorch's functional form, which
    has no training flag), drawn from fastnn's Philox stream; ``scale``: default 1/sqrt(E);
    ``enable_gqa``: query heads (dim -3) may be a multiple of the key/value heads.
    Returns (N, ..., L, Ev).
    """
    _check_tensors(query, key, value)
    if attn_mask is not None and is_causal:
        raise RuntimeError(f"{_FN}: Explicit attn_mask should not be set when is_causal=True")
    dropout_p = float(dropout_p)
    if not 0.0 <= dropout_p <= 1.0:
        raise RuntimeError(f"{_FN}: dropout probability has to be between 0 and 1, but got {dropout_p}")
    batch, hq, hk, lead = _batch_and_heads(query, key, value, enable_gqa)
    L, E = query.shape[-2:]
    S, Ev = value.shape[-2:]
    scale = float(1.0 / math.sqrt(E) if scale is None and E > 0 else 1.0 if scale is None else scale)
    mask = None
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{_FN}: argument 'attn_mask' must be a Tensor, got {type(attn_mask).__name__}")
        if attn_mask._data.dtype != np.bool_ and attn_mask._data.dtype != query._data.dtype:
            raise RuntimeError(f"{_FN}: expected attn_mask dtype to be bool or to match query dtype, but got "
                               f"attn_mask.dtype: {attn_mask.dtype} and query.dtype: {query.dtype} instead.")
        backend.check_same_device(attn_mask._data, query._data, _FN)
        mask = _mask_to_4d(attn_mask, batch, hq, L, S)
    q4, k4, v4 = _to_4d(query, batch, hq), _to_4d(key, batch, hk), _to_4d(value, batch, hk)
    # the Tensor-op path: a mask that takes gradients, everything dropped, empty problems
    if isinstance(mask, Tensor) or dropout_p == 1.0 or 0 in q4.shape or 0 in k4.shape or 0 in v4.shape:
        out = _sdpa_math_4d(q4, k4, v4, mask, bool(is_causal), scale, dropout_p)
    else:
        out = _FusedAttention.apply(q4, k4, v4, mask, bool(is_causal), scale, dropout_p)
    shape = tuple(lead) + (L, Ev)
    return out if tuple(out.shape) == shape else out.reshape(shape)


def _sdpa_math_4d(q, k, v, mask, is_causal, scale, dropout_p):
    """SDPA on the Tensor-op path (computed in float32 for half types on the CPU, like the kernel)."""
    want = q._data.dtype
    dt = _compute_dtype(q._data)
    if dt != want:
        q, k, v = q.to(dt), k.to(dt), v.to(dt)
        if isinstance(mask, Tensor):
            mask = mask.to(dt)
    keep = None
    if dropout_p > 0.0:
        keep = _keep_mask((q.shape[0], q.shape[1], q.shape[2], k.shape[2]), dropout_p, dt, backend.device_of(q._data))
    out = _attention_math(q, k, v, mask, is_causal, scale, keep)[0]
    return out if dt == want else out.to(want)

