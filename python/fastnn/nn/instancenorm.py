"""``InstanceNorm1d/2d/3d``: each channel of each sample normalised over its own trailing dims."""
from __future__ import annotations

from ..tensor import Tensor
from . import _functional_norm as FN
from .batchnorm import _BatchNorm
from .normalization import reset_affine

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _InstanceNorm(_BatchNorm):
    """Parameters and buffers as the batch norms (same state_dict keys); input statistics in training, and in
    eval mode too unless ``track_running_stats`` (PyTorch's semantics; ``num_batches_tracked`` stays 0)."""

    _batched_ndim = 3

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        if affine and not bias:
            self.bias = None

    def reset_parameters(self):
        self.reset_running_stats()
        reset_affine(self)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def forward(self, input):
        layer = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{layer}: input must be a Tensor, got {type(input).__name__}")
        nd = self._batched_ndim
        if input.ndim not in (nd - 1, nd):
            raise ValueError(f"expected {nd - 1}D or {nd}D input (got {input.ndim}D input)")
        feature_dim = input.ndim - (nd - 1)
        if input.shape[feature_dim] != self.num_features and self.affine:
            raise ValueError(f"expected input's size at dim={feature_dim} to match num_features "
                             f"({self.num_features}), but got: {input.shape[feature_dim]}.")
        unbatched = input.ndim == nd - 1
        if unbatched:
            input = input.unsqueeze(0)
        out = FN.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Over (N, C, L) or unbatched (C, L) input."""

    _batched_ndim = 3


class InstanceNorm2d(_InstanceNorm):
    """Over (N, C, H, W) or unbatched (C, H, W) input."""

    _batched_ndim = 4


class InstanceNorm3d(_InstanceNorm):
    """Over (N, C, D, H, W) or unbatched (C, D, H, W) input."""

    _batched_ndim = 5
