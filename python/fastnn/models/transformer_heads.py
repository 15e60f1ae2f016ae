"""Task heads on a transformer encoder over token sequences: a sequence classifier and a token tagger.

Both share :class:`TokenEncoder`: token embedding, positional encoding (sinusoidal or learned),
``nn.TransformerEncoder`` (pre-norm by default, batch first) and a final ``LayerNorm``. Padding is
given by ``padding_idx`` (the padding mask is computed from the tokens) or by an explicit
``src_key_padding_mask`` (N, L) with PyTorch's meaning: True marks a padding position, which no
token attends to. So padding never changes the output at the real positions.

Usage::

    model = TransformerClassifier(vocab_size=21, num_classes=2, pooling="cls", padding_idx=0)
    logits = model(tokens)                         # (N, num_classes)
    tagger = TransformerTagger(vocab_size=21, num_tags=5, padding_idx=0)
    loss = nn.CrossEntropyLoss(ignore_index=-100)(tagger(tokens).flatten(0, 1), tags.flatten())
"""
from __future__ import annotations

from .. import cat, nn, zeros

_POSITIONAL = ("sinusoidal", "learned")


def _check_positive(who, **values):
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{who}: '{name}' must be a positive int, got {value!r}")


class TokenEncoder(nn.Module):
    """Embedding + positions + ``nn.TransformerEncoder`` + final norm: (N, L) tokens -> (N, L, d_model).

    ``extra_tokens`` learned vectors (a CLS token) may be prepended by the caller through ``prefix``;
    ``max_len`` bounds the sequence length including them.
    """

    def __init__(self, vocab_size, d_model=128, nhead=4, num_layers=2, dim_feedforward=None, dropout=0.1,
                 max_len=512, padding_idx=None, positional="sinusoidal", activation="gelu", norm_first=True,
                 who="TokenEncoder"):
        super().__init__()
        _check_positive(who, vocab_size=vocab_size, d_model=d_model, nhead=nhead, num_layers=num_layers,
                        max_len=max_len)
        if d_model % nhead:
            raise ValueError(f"{who}: 'd_model' ({d_model}) must be divisible by 'nhead' ({nhead})")
        if positional not in _POSITIONAL:
            raise ValueError(f"{who}: 'positional' must be one of {_POSITIONAL}, got {positional!r}")
        if padding_idx is not None and not -vocab_size <= padding_idx < vocab_size:
            raise ValueError(f"{who}: 'padding_idx' {padding_idx} is outside a vocabulary of {vocab_size}")
        self.who = who
        self.d_model, self.max_len = d_model, max_len
        self.padding_idx = None if padding_idx is None else padding_idx % vocab_size
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=self.padding_idx)
        self.pos_encoder = (nn.SinusoidalPositionalEncoding(d_model, max_len=max_len, dropout=dropout)
                            if positional == "sinusoidal" else nn.LearnedPositionalEmbedding(max_len, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward or 4 * d_model, dropout,
                                           activation=activation, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def padding_mask(self, src, src_key_padding_mask=None):
        """The (N, L) boolean padding mask (True = padding): the one given, else ``src == padding_idx``."""
        if src.ndim != 2:
            raise ValueError(f"{self.who}: 'src' must be (N, L) token indices, got shape {tuple(src.shape)}")
        if src_key_padding_mask is not None:
            if tuple(src_key_padding_mask.shape) != tuple(src.shape):
                raise ValueError(f"{self.who}: 'src_key_padding_mask' must have the shape of 'src' "
                                 f"{tuple(src.shape)}, got {tuple(src_key_padding_mask.shape)}")
            return src_key_padding_mask.bool()
        if self.padding_idx is None:
            return None
        return src == self.padding_idx

    def forward(self, src, padding_mask=None, prefix=None):
        """``src`` (N, L) -> (N, P + L, d_model); ``prefix`` (1, P, d_model) learned vectors go first and
        are never padding."""
        x = self.embedding(src)
        if prefix is not None:
            x = cat([prefix.expand(x.shape[0], -1, -1), x], dim=1)
            if padding_mask is not None:
                pad = padding_mask.new_zeros((padding_mask.shape[0], prefix.shape[1]))
                padding_mask = cat([pad, padding_mask], dim=1)
        if x.shape[1] > self.max_len:
            raise ValueError(f"{self.who}: sequences of {x.shape[1]} positions exceed max_len={self.max_len}")
        x = self.encoder(self.pos_encoder(x), src_key_padding_mask=padding_mask)
        return self.norm(x), padding_mask


class TransformerClassifier(nn.Module):
    """Sequence classifier: (N, L) tokens -> (N, num_classes) logits.

    ``pooling="cls"`` prepends a learned CLS vector and classifies its output; ``pooling="mean"``
    averages the outputs of the non-padding positions. ``dim_feedforward`` defaults to ``4 * d_model``.
    """

    def __init__(self, vocab_size, num_classes, d_model=128, nhead=4, num_layers=2, dim_feedforward=None,
                 dropout=0.1, max_len=512, pooling="cls", padding_idx=None, positional="sinusoidal",
                 activation="gelu", norm_first=True):
        super().__init__()
        _check_positive("TransformerClassifier", num_classes=num_classes)
        if pooling not in ("cls", "mean"):
            raise ValueError(f"TransformerClassifier: 'pooling' must be 'cls' or 'mean', got {pooling!r}")
        self.pooling = pooling
        self.encoder = TokenEncoder(vocab_size, d_model, nhead, num_layers, dim_feedforward, dropout, max_len,
                                    padding_idx, positional, activation, norm_first, who="TransformerClassifier")
        if pooling == "cls":
            self.cls_token = nn.Parameter(zeros(1, 1, d_model))
            nn.init.normal_(self.cls_token, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, src, src_key_padding_mask=None):
        mask = self.encoder.padding_mask(src, src_key_padding_mask)
        if self.pooling == "cls":
            h, _ = self.encoder(src, mask, prefix=self.cls_token)
            pooled = h[:, 0]
        else:
            h, _ = self.encoder(src, mask)
            if mask is None:
                pooled = h.mean(dim=1)
            else:
                keep = (~mask).to(h.dtype).unsqueeze(-1)
                pooled = (h * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return self.head(self.dropout(pooled))


class TransformerTagger(nn.Module):
    """Token tagger: (N, L) tokens -> (N, L, num_tags) logits, one label per position. Train it with
    ``nn.CrossEntropyLoss(ignore_index=-100)`` on tags set to -100 at the padding positions."""

    def __init__(self, vocab_size, num_tags, d_model=128, nhead=4, num_layers=2, dim_feedforward=None, dropout=0.1,
                 max_len=512, padding_idx=None, positional="sinusoidal", activation="gelu", norm_first=True):
        super().__init__()
        _check_positive("TransformerTagger", num_tags=num_tags)
        self.encoder = TokenEncoder(vocab_size, d_model, nhead, num_layers, dim_feedforward, dropout, max_len,
                                    padding_idx, positional, activation, norm_first, who="TransformerTagger")
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, num_tags)

    def forward(self, src, src_key_padding_mask=None):
        h, _ = self.encoder(src, self.encoder.padding_mask(src, src_key_padding_mask))
        return self.head(self.dropout(h))
