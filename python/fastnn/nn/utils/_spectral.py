"""The pieces both spectral normalisations share: the weight as a matrix and the power iteration."""
from __future__ import annotations

from ... import creation
from ..._autograd_engine import no_grad
from .. import functional as F

__all__ = ["weight_to_matrix", "random_unit_vector", "power_iteration_step", "sigma"]


def weight_to_matrix(weight, dim):
    """``weight`` with ``dim`` moved first and the remaining dims flattened: (size of dim, rest)."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.reshape(weight.shape[0], -1)


def random_unit_vector(n, like, eps):
    """A normalised standard-normal vector of ``n`` values from fastnn's generator, ``like``'s dtype and device."""
    return F.normalize(creation.randn(n, dtype=like.dtype, device=like.device), dim=0, eps=eps)


def power_iteration_step(weight_mat, u, v, eps, u_first=True):
    """One power iteration written into the buffers ``u`` and ``v`` in place, outside any graph: u ← Wv/|Wv|
    then v ← Wᵀu/|Wᵀu| (or v first, as PyTorch's legacy hook does)."""
    with no_grad():
        w = weight_mat.detach()
        if u_first:
            F.normalize(w @ v, dim=0, eps=eps, out=u)
            F.normalize(w.t() @ u, dim=0, eps=eps, out=v)
        else:
            F.normalize(w.t() @ u, dim=0, eps=eps, out=v)
            F.normalize(w @ v, dim=0, eps=eps, out=u)


def sigma(weight_mat, u, v):
    """The spectral norm estimate uᵀWv, differentiable in ``weight_mat`` (u and v are constants)."""
    return (u.detach().clone() * (weight_mat @ v.detach().clone())).sum()
