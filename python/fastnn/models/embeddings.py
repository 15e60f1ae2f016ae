"""Timestep embeddings of diffusion models, with diffusers' names and numerics: ``get_timestep_embedding``
(the DDPM/Transformer sinusoid), ``Timesteps`` (its module form), ``TimestepEmbedding`` (the two-layer MLP
after it) and ``GaussianFourierProjection`` (random Fourier features of log-sigma, for score models).

The sinusoid is computed in float32 whatever the model's dtype, as diffusers does (the UNet casts it to
its own dtype afterwards), so a float64 model fed diffusers' weights gives diffusers' float64 outputs.
It carries no gradient: timesteps are indices, not learned inputs.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, nn
from ..tensor import Tensor

__all__ = ["get_timestep_embedding", "Timesteps", "TimestepEmbedding", "GaussianFourierProjection",
           "get_activation"]

_ACTIVATIONS = {"swish": nn.SiLU, "silu": nn.SiLU, "mish": nn.Mish, "gelu": nn.GELU, "relu": nn.ReLU}


def get_activation(act_fn):
    """The activation module diffusers names ``act_fn`` ("silu"/"swish", "mish", "gelu", "relu")."""
    key = act_fn.lower() if isinstance(act_fn, str) else act_fn
    if key not in _ACTIVATIONS:
        raise ValueError(f"activation function {act_fn} not found in ACT2FN mapping {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[key]()


def _array(timesteps, who):
    if isinstance(timesteps, Tensor):
        return timesteps._data
    if isinstance(timesteps, np.ndarray) or backend.is_cuda_array(timesteps):
        return timesteps
    raise TypeError(f"{who}: argument 'timesteps' must be a 1-D Tensor, got {type(timesteps).__name__}")


def get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos=False, downscale_freq_shift=1, scale=1,
                           max_period=10000):
    """Sinusoidal embeddings (N, embedding_dim) float32 of N timesteps (may be fractional), as in DDPM:
    frequencies ``exp(-log(max_period) * i / (half - downscale_freq_shift))``, ``[sin, cos]`` (``[cos, sin]``
    with ``flip_sin_to_cos``), zero-padded to an odd ``embedding_dim``."""
    t = _array(timesteps, "get_timestep_embedding")
    if t.ndim != 1:
        raise ValueError(f"get_timestep_embedding: Timesteps should be a 1d-array, got shape {tuple(t.shape)}")
    xp = backend.array_module_of(t)
    half = embedding_dim // 2
    # the same float32 operations in the same order as diffusers, so the bits agree
    exponent = np.float32(-math.log(max_period)) * xp.arange(half, dtype=np.float32)
    exponent = exponent / np.float32(half - downscale_freq_shift)
    emb = t[:, None].astype(np.float32) * xp.exp(exponent)[None, :]
    if scale != 1:
        emb = np.float32(scale) * emb
    first, second = (xp.cos(emb), xp.sin(emb)) if flip_sin_to_cos else (xp.sin(emb), xp.cos(emb))
    out = xp.zeros((t.shape[0], embedding_dim), dtype=np.float32)
    out[:, :half] = first
    out[:, half:2 * half] = second
    return Tensor._wrap(out)


class Timesteps(nn.Module):
    """:func:`get_timestep_embedding` as a module (no parameters)."""

    def __init__(self, num_channels, flip_sin_to_cos, downscale_freq_shift, scale=1):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift
        self.scale = scale

    def forward(self, timesteps):
        return get_timestep_embedding(timesteps, self.num_channels, flip_sin_to_cos=self.flip_sin_to_cos,
                                      downscale_freq_shift=self.downscale_freq_shift, scale=self.scale)

    def extra_repr(self):
        return (f"num_channels={self.num_channels}, flip_sin_to_cos={self.flip_sin_to_cos}, "
                f"downscale_freq_shift={self.downscale_freq_shift}")


class TimestepEmbedding(nn.Module):
    """``linear_2(act(linear_1(sample)))``: the MLP that maps the sinusoid to the blocks' embedding width."""

    def __init__(self, in_channels, time_embed_dim, act_fn="silu", out_dim=None, post_act_fn=None,
                 cond_proj_dim=None, sample_proj_bias=True):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim, sample_proj_bias)
        self.cond_proj = nn.Linear(cond_proj_dim, in_channels, bias=False) if cond_proj_dim is not None else None
        self.act = get_activation(act_fn) if act_fn is not None else None
        self.linear_2 = nn.Linear(time_embed_dim, out_dim if out_dim is not None else time_embed_dim,
                                  sample_proj_bias)
        self.post_act = get_activation(post_act_fn) if post_act_fn is not None else None

    def forward(self, sample, condition=None):
        if condition is not None:
            sample = sample + self.cond_proj(condition)
        sample = self.linear_1(sample)
        if self.act is not None:
            sample = self.act(sample)
        sample = self.linear_2(sample)
        if self.post_act is not None:
            sample = self.post_act(sample)
        return sample


class GaussianFourierProjection(nn.Module):
    """Random Fourier features ``[sin(2 pi w x), cos(2 pi w x)]`` of ``x = log(sigma)`` (``log=True``), with a
    fixed (``requires_grad=False``) weight ``w ~ N(0, scale^2)`` saved in the state dict as ``weight``."""

    def __init__(self, embedding_size=256, scale=1.0, set_W_to_weight=True, log=True, flip_sin_to_cos=False):
        super().__init__()
        from .. import randn
        self.weight = nn.Parameter(randn(embedding_size) * scale, requires_grad=False)
        self.log = log
        self.flip_sin_to_cos = flip_sin_to_cos

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = Tensor._wrap(_array(x, "GaussianFourierProjection"))
        if x._data.dtype.kind != "f":
            x = x.float()
        if self.log:
            x = x.log()
        # diffusers' order of operations: ((x * w) * 2) * pi
        x_proj = x[:, None] * self.weight[None, :] * 2 * np.pi
        from .. import cat
        parts = [x_proj.cos(), x_proj.sin()] if self.flip_sin_to_cos else [x_proj.sin(), x_proj.cos()]
        return cat(parts, dim=-1)
