"""A vision transformer (Dosovitskiy et al., 2020) for small images, with torchvision's argument names.

The image is cut into ``patch_size`` x ``patch_size`` patches embedded by one ``Conv2d`` whose stride is
the patch size (``conv_proj``: a linear map of each patch); a learned CLS vector (``class_token``) goes
first, learned position vectors (``pos_embedding``) are added, a pre-norm ``nn.TransformerEncoder`` runs
over the ``1 + (image_size / patch_size)^2`` tokens, and ``head`` classifies the normalised CLS output.
``attention_maps(x)`` gives the attention weights of every layer, for plotting which patches the CLS
token looks at.
"""
from __future__ import annotations

from .. import cat, nn, zeros


class VisionTransformer(nn.Module):
    """ViT: (N, in_channels, image_size, image_size) images -> (N, num_classes) logits.

    The first nine arguments are torchvision's, in its order (``dropout`` after the embedding and in the
    blocks, ``attention_dropout`` on the attention weights); ``in_channels`` is added for grey images.
    """

    def __init__(self, image_size=28, patch_size=7, num_layers=4, num_heads=4, hidden_dim=64, mlp_dim=128,
                 dropout=0.0, attention_dropout=0.0, num_classes=10, in_channels=1, activation="gelu"):
        super().__init__()
        for name, value in (("image_size", image_size), ("patch_size", patch_size), ("num_layers", num_layers),
                            ("num_heads", num_heads), ("hidden_dim", hidden_dim), ("mlp_dim", mlp_dim),
                            ("num_classes", num_classes), ("in_channels", in_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"VisionTransformer: '{name}' must be a positive int, got {value!r}")
        if image_size % patch_size:
            raise ValueError(f"VisionTransformer: 'image_size' ({image_size}) must be divisible by 'patch_size' "
                             f"({patch_size})")
        if hidden_dim % num_heads:
            raise ValueError(f"VisionTransformer: 'hidden_dim' ({hidden_dim}) must be divisible by 'num_heads' "
                             f"({num_heads})")
        self.image_size, self.patch_size, self.in_channels = image_size, patch_size, in_channels
        self.hidden_dim = hidden_dim
        self.seq_length = (image_size // patch_size) ** 2 + 1
        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, kernel_size=patch_size, stride=patch_size)
        self.class_token = nn.Parameter(zeros(1, 1, hidden_dim))
        self.pos_embedding = nn.Parameter(zeros(1, self.seq_length, hidden_dim))
        nn.init.normal_(self.pos_embedding, std=0.02)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(hidden_dim, num_heads, mlp_dim, dropout, activation=activation,
                                           batch_first=True, norm_first=True)
        layer.self_attn.dropout = attention_dropout  # on the attention weights, apart from the residual dropout
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(hidden_dim)
        self.head = nn.Linear(hidden_dim, num_classes)

    def _tokens(self, x):
        """Patch embeddings with the CLS vector first and the positions added: (N, seq_length, hidden_dim)."""
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"VisionTransformer: expected images of shape (N, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        p = self.conv_proj(x).flatten(2).transpose(1, 2)  # (N, patches, hidden_dim), patches in row-major order
        p = cat([self.class_token.expand(x.shape[0], -1, -1), p], dim=1)
        return self.dropout(p + self.pos_embedding)

    def forward(self, x):
        h = self.encoder(self._tokens(x))
        return self.head(self.ln(h[:, 0]))

    def attention_maps(self, x):
        """The attention weights of each layer: a list of ``num_layers`` tensors (N, num_heads, T, T),
        T = seq_length (token 0 is CLS, then the patches in row-major order). Row CLS of a map, reshaped to
        the patch grid, shows where the classifier looks."""
        h = self._tokens(x)
        maps = []
        for layer in self.encoder.layers:
            a = layer.norm1(h) if layer.norm_first else h
            _, weights = layer.self_attn(a, a, a, need_weights=True, average_attn_weights=False)
            maps.append(weights)
            h = layer(h)
        return maps
