"""A decoder-only (GPT-style) causal language model with a key/value cache and sampling.

Blocks are pre-norm: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``; the attention is causal
self-attention written on ``F.scaled_dot_product_attention`` (the fused kernel: no L x L matrix).
Positions are learned (``wpe``); the output projection ``lm_head`` shares its weight with the token
embedding ``wte`` (weight tying: one tensor, so a gradient from either use reaches it).

The cache: ``forward(idx, past_key_values=..., use_cache=True)`` returns the keys and values of every
layer beside the logits; passing them back makes the next call process only the new tokens, which
attend to the cached ones. ``generate`` runs the prompt once and then one single-token step per new
token, so n new tokens cost n steps of one token instead of n passes over the whole sequence. When
the sequence outgrows ``max_len`` the window slides: the last ``max_len // 2`` tokens are run again to
rebuild the cache (learned positions are absolute), which happens once every ``max_len // 2`` tokens.
"""
from __future__ import annotations

import math

from .. import arange, cat, multinomial, nn, no_grad, ones
from .. import bool as bool_
from ..nn import functional as F


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention over (N, L, E) with an optional (key, value) cache of shape (N, H, S, D)."""

    def __init__(self, d_model, nhead, dropout=0.0, bias=True):
        super().__init__()
        self.nhead, self.head_dim = nhead, d_model // nhead
        self.c_attn = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.c_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x, past=None):
        N, L, E = x.shape
        q, k, v = (t.reshape(N, L, self.nhead, self.head_dim).transpose(1, 2)
                   for t in self.c_attn(x).split(E, dim=2))
        mask, causal = None, True
        if past is not None:
            S = past[0].shape[2]
            k, v = cat([past[0], k], dim=2), cat([past[1], v], dim=2)
            causal = False
            if L > 1:  # query i sits at position S + i: it sees the cache and the new tokens up to itself
                mask = ones(L, S + L, dtype=bool_, device=x.device).tril(diagonal=S)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(N, L, E)
        return self.resid_dropout(self.c_proj(y)), (k, v)


class Block(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward, dropout=0.0, bias=True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = CausalSelfAttention(d_model, nhead, dropout, bias)
        self.ln_2 = nn.LayerNorm(d_model, bias=bias)
        self.mlp = nn.Sequential(nn.Linear(d_model, dim_feedforward, bias=bias), nn.GELU(),
                                 nn.Linear(dim_feedforward, d_model, bias=bias), nn.Dropout(dropout))

    def forward(self, x, past=None):
        a, present = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class CausalTransformerLM(nn.Module):
    """Decoder-only language model: (N, L) token indices -> (N, L, vocab_size) next-token logits.

    ``max_len`` is the context window (positions learned up to it); ``dim_feedforward`` defaults to
    ``4 * d_model``; ``tie_weights`` makes ``lm_head.weight`` the very tensor ``wte.weight``. Weights
    start as in GPT-2: N(0, 0.02), the projections back into the residual stream scaled by
    ``1 / sqrt(2 * num_layers)``.
    """

    def __init__(self, vocab_size, d_model=128, nhead=4, num_layers=4, dim_feedforward=None, dropout=0.1,
                 max_len=256, tie_weights=True, bias=True):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("d_model", d_model), ("nhead", nhead),
                            ("num_layers", num_layers), ("max_len", max_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CausalTransformerLM: '{name}' must be a positive int, got {value!r}")
        if d_model % nhead:
            raise ValueError(f"CausalTransformerLM: 'd_model' ({d_model}) must be divisible by 'nhead' ({nhead})")
        self.vocab_size, self.max_len = vocab_size, max_len
        self.wte = nn.Embedding(vocab_size, d_model)
        self.wpe = nn.Embedding(max_len, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(d_model, nhead, dim_feedforward or 4 * d_model, dropout, bias)
                                     for _ in range(num_layers)])
        self.ln_f = nn.LayerNorm(d_model, bias=bias)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_weights:
            self.lm_head.weight = self.wte.weight
        for name, p in self.named_parameters():
            if p.ndim == 2:
                std = 0.02 / math.sqrt(2 * num_layers) if name.endswith(("c_proj.weight", "mlp.2.weight")) else 0.02
                nn.init.normal_(p, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, past_key_values=None, use_cache=False):
        """Logits (N, L, vocab_size); with ``use_cache`` also the per-layer (key, value) tensors to pass
        back as ``past_key_values`` when the next tokens follow ``idx``."""
        if idx.ndim != 2:
            raise ValueError(f"CausalTransformerLM: 'idx' must be (N, L) token indices, got shape {tuple(idx.shape)}")
        if past_key_values is not None and len(past_key_values) != len(self.blocks):
            raise ValueError(f"CausalTransformerLM: 'past_key_values' holds {len(past_key_values)} layers, the model "
                             f"has {len(self.blocks)}")
        start = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        L = idx.shape[1]
        if start + L > self.max_len:
            raise ValueError(f"CausalTransformerLM: {start} cached + {L} new positions exceed max_len={self.max_len}")
        x = self.drop(self.wte(idx) + self.wpe(arange(start, start + L, device=idx.device)))
        presents = []
        for i, block in enumerate(self.blocks):
            x, present = block(x, None if past_key_values is None else past_key_values[i])
            presents.append(present)
        logits = self.lm_head(self.ln_f(x))
        return (logits, presents) if use_cache else logits

    @no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """``idx`` (N, L) followed by ``max_new_tokens`` sampled tokens: (N, L + max_new_tokens).

        Each new token is drawn from ``softmax(logits / temperature)`` restricted to the ``top_k`` likeliest
        (``top_k=1`` is greedy decoding); ``generator`` (a ``fastnn.Generator``) makes the draws reproducible.
        """
        if idx.ndim != 2 or idx.shape[1] < 1:
            raise ValueError(f"CausalTransformerLM.generate: 'idx' must be (N, L) with L >= 1, got {tuple(idx.shape)}")
        if max_new_tokens < 0:
            raise ValueError(f"CausalTransformerLM.generate: 'max_new_tokens' must be >= 0, got {max_new_tokens}")
        if not temperature > 0:
            raise ValueError(f"CausalTransformerLM.generate: 'temperature' must be > 0, got {temperature}")
        if top_k is not None and not 1 <= top_k:
            raise ValueError(f"CausalTransformerLM.generate: 'top_k' must be >= 1 or None, got {top_k}")
        keep = max(self.max_len // 2, 1)
        past, step_input = None, idx[:, -self.max_len:]
        for _ in range(max_new_tokens):
            if past is not None and past[0][0].shape[2] >= self.max_len:
                past, step_input = None, idx[:, -keep:]  # slide the window: rebuild the cache from the last tokens
            logits, past = self(step_input, past_key_values=past, use_cache=True)
            logits = logits[:, -1, :] / temperature
            if top_k is not None and top_k < logits.shape[-1]:
                kth = logits.topk(top_k, dim=-1)[0][:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            step_input = multinomial(logits.softmax(dim=-1), 1, generator=generator)
            idx = cat([idx, step_input], dim=1)
        return idx
