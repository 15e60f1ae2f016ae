"""Positions for transformers (PyTorch has no such layers; the names are fastnn's).

- ``SinusoidalPositionalEncoding``: the fixed sine/cosine table of "Attention Is All You Need" added
  to an (N, L, E) input, then dropout. The table is a non-persistent buffer ``pe``: it follows the
  module across devices but is not in the state dict (it is a function of the arguments).
- ``LearnedPositionalEmbedding``: a trained (max_len, d_model) ``weight`` (initialised N(0, 1) like
  ``nn.Embedding``) added to an (N, L, E) input.
- ``RotaryEmbedding``: rotary position embedding (RoPE, Su et al. 2021) of (N, H, L, D) queries and
  keys with the half-split pairing: dimension i is rotated with dimension i + D/2 by the angle
  position * base^(-2i/D).

Each takes ``offset`` in forward, the position of the first element, for incremental decoding
with a key/value cache.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import dtypes as _dtypes
from ..tensor import Tensor, _array_on, _wrap
from . import init
from ._layer_params import empty_tensor, place
from .dropout import Dropout
from .module import Module, Parameter

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEmbedding", "RotaryEmbedding"]


def _check_size(name, value, layer, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{layer}: argument '{name}' must be an int >= {minimum}, got {value!r}")


def _positions(layer, x, offset, max_len, d_model, seq_dim=-2):
    """Check ``x`` (..., L, d_model) and ``offset``; returns L."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: argument 'input' must be a Tensor, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[-1] != d_model:
        raise ValueError(f"{layer}: expected an input of shape (N, L, {d_model}), got {tuple(x.shape)}")
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
        raise ValueError(f"{layer}: argument 'offset' must be a non-negative int, got {offset!r}")
    L = x.shape[seq_dim]
    if max_len is not None and offset + L > max_len:
        raise ValueError(f"{layer}: positions {offset}..{offset + L - 1} of an input of shape {tuple(x.shape)} go "
                         f"past max_len={max_len}")
    return L


def sinusoidal_table(max_len, d_model):
    """(max_len, d_model) float64: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(p / 10000^(2i/d))."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    div = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(pos * div)
    pe[:, 1::2] = np.cos(pos * div[: d_model // 2])
    return pe


class SinusoidalPositionalEncoding(Module):
    """``dropout(x + pe[offset : offset + L])`` for x (N, L, d_model) (or (L, d_model))."""

    def __init__(self, d_model, max_len=5000, dropout=0.0, device=None, dtype=None):
        super().__init__()
        _check_size("d_model", d_model, "SinusoidalPositionalEncoding")
        _check_size("max_len", max_len, "SinusoidalPositionalEncoding")
        self.d_model = d_model
        self.max_len = max_len
        dt = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        self.register_buffer("pe", place(sinusoidal_table(max_len, d_model).astype(dt), device), persistent=False)
        self.dropout = Dropout(dropout)

    def forward(self, x, offset=0):
        L = _positions("SinusoidalPositionalEncoding", x, offset, self.max_len, self.d_model)
        pe = self.pe[offset:offset + L]
        if pe.dtype != x.dtype:
            pe = pe.to(x.dtype)
        return self.dropout(x + pe)

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEmbedding(Module):
    """``x + weight[offset : offset + L]`` for x (N, L, d_model), ``weight`` (max_len, d_model) ~ N(0, 1)."""

    def __init__(self, max_len, d_model, device=None, dtype=None):
        super().__init__()
        _check_size("max_len", max_len, "LearnedPositionalEmbedding")
        _check_size("d_model", d_model, "LearnedPositionalEmbedding")
        self.max_len = max_len
        self.d_model = d_model
        self.weight = Parameter(empty_tensor((max_len, d_model), dtype, device))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)

    def forward(self, x, offset=0):
        L = _positions("LearnedPositionalEmbedding", x, offset, self.max_len, self.d_model)
        return x + self.weight[offset:offset + L]

    def extra_repr(self):
        return f"max_len={self.max_len}, d_model={self.d_model}"


class RotaryEmbedding(Module):
    """Rotary position embedding of queries and keys (..., L, head_dim), half-split pairing.

    ``forward(q, k, offset=0) -> (q_rot, k_rot)``: position ``offset + l`` for row l of each (so q and k
    may have different lengths); ``rotate(x, offset=0)`` rotates one tensor. With x1, x2 the first and
    second halves of the last dim and theta_i = position * base^(-2i/head_dim):
    ``out = (x1 cos - x2 sin, x2 cos + x1 sin)``.
    """

    def __init__(self, head_dim, base=10000.0, device=None):
        super().__init__()
        _check_size("head_dim", head_dim, "RotaryEmbedding", minimum=2)
        if head_dim % 2:
            raise ValueError(f"RotaryEmbedding: argument 'head_dim' must be even (dims are rotated in pairs), "
                             f"got {head_dim}")
        if not base > 0:
            raise ValueError(f"RotaryEmbedding: argument 'base' must be positive, got {base!r}")
        self.head_dim = head_dim
        self.base = float(base)
        inv_freq = self.base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
        self.register_buffer("inv_freq", place(inv_freq, device), persistent=False)

    def _cos_sin(self, L, offset, like):
        """cos and sin (L, head_dim) of the angles, computed in float64 then cast to ``like``'s dtype."""
        inv = backend.to_device(self.inv_freq._data, backend.CPU)
        ang = np.outer(np.arange(offset, offset + L, dtype=np.float64), inv)
        ang = np.concatenate([ang, ang], axis=1)
        return (_array_on(like, np.cos(ang), like.dtype), _array_on(like, np.sin(ang), like.dtype))

    def rotate(self, x, offset=0):
        """``x`` (..., L, head_dim) rotated by the positions offset .. offset + L - 1."""
        L = _positions("RotaryEmbedding", x, offset, None, self.head_dim)
        if x._data.dtype.kind != "f":
            raise TypeError(f"RotaryEmbedding: expected a floating point input, got {x.dtype}")
        cos, sin = self._cos_sin(L, offset, x._data)
        half = self.head_dim // 2
        x1, x2 = x[..., :half], x[..., half:]
        from .. import cat
        rotated = cat([-x2, x1], dim=-1)
        return x * _wrap(cos) + rotated * _wrap(sin)

    def forward(self, q, k, offset=0):
        return self.rotate(q, offset), self.rotate(k, offset)

    def extra_repr(self):
        return f"head_dim={self.head_dim}, base={self.base}"
