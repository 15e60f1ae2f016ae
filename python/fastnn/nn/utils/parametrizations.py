"""``fastnn.nn.utils.parametrizations``: ``spectral_norm`` as a parametrization (PyTorch's modern API)."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor
from .. import functional as F
from ..conv import _ConvTransposeNd
from ..module import Module
from . import parametrize
from ._spectral import power_iteration_step, random_unit_vector, sigma, weight_to_matrix

__all__ = ["spectral_norm"]


class _SpectralNorm(Module):
    """``weight / σ(weight)``, σ estimated by power iteration on buffers ``_u`` and ``_v`` (one step per call in
    training mode; 15 at construction so that the first estimate is already close)."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got "
                             f"{dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = int(dim) if dim >= 0 else int(dim) + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = weight_to_matrix(weight.detach(), self.dim)
            h, w = weight_mat.shape
            # u is drawn before v, as PyTorch does, so that a seeded generator gives the same pair.
            self.register_buffer("_u", random_unit_vector(h, weight, eps))
            self.register_buffer("_v", random_unit_vector(w, weight, eps))
            self._power_method(weight_mat, 15)

    def _power_method(self, weight_mat, n_power_iterations):
        for _ in range(n_power_iterations):
            power_iteration_step(weight_mat, self._u, self._v, self.eps)

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = weight_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        return weight / sigma(weight_mat, self._u, self._v)

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Register spectral normalisation on ``module.<name>``: the weight is divided by its largest singular
    value, estimated by power iteration (``dim`` 1 for transposed convolutions, else 0). Returns ``module``;
    the stored weight is ``module.parametrizations.<name>.original``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, _ConvTransposeNd) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
