"""Row-normalised node features (``torch_geometric.transforms.NormalizeFeatures``)."""
from __future__ import annotations

from .base_transform import BaseTransform


class NormalizeFeatures(BaseTransform):
    """Shift each attribute in ``attrs`` (default ['x']) by its minimum and divide each row by its
    sum (rows summing to less than 1 are left unscaled), so feature rows sum to one."""

    def __init__(self, attrs=None):
        self.attrs = attrs or ["x"]

    def forward(self, data):
        for key, value in data.items(*self.attrs):
            if value.numel() > 0:
                value = value - value.min()
                data[key] = value / value.sum(dim=-1, keepdim=True).clamp(min=1.0)
        return data
