"""Helpers shared by the distributions (``torch.distributions.utils``'s names)."""
import numbers

import numpy as np

from .. import _ops_shape
from .._autograd_engine import enable_grad
from ..creation import tensor as _tensor
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from ..nn import functional as F

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]


def broadcast_all(*values):
    """Tensors and Python numbers broadcast to one shape; numbers take the dtype of the first tensor given
    (the default dtype when there is none)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        kinds = ", ".join(type(v).__name__ for v in values)
        raise ValueError(f"Input arguments must all be instances of numbers.Number or fastnn.Tensor, got ({kinds})")
    tensors = [v for v in values if isinstance(v, Tensor)]
    if len(tensors) < len(values):
        like = tensors[0] if tensors else None
        dtype = like.dtype if like is not None and like.is_floating_point() else get_default_dtype()
        device = like.device if like is not None else None
        values = [v if isinstance(v, Tensor) else _tensor(v, dtype=dtype, device=device) for v in values]
    return _ops_shape.broadcast_tensors(*values)


def _sum_rightmost(value, dim):
    """Sums out the ``dim`` right-most dims of ``value``."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


def _finfo(t):
    return np.finfo(t._data.dtype)


def clamp_probs(probs):
    """Probabilities kept eps away from 0 and 1, so their logits stay finite."""
    eps = float(_finfo(probs).eps)
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return logits.sigmoid()
    return F.softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    ps = clamp_probs(probs)
    if is_binary:
        return ps.log() - (-ps).log1p()
    return ps.log()


class lazy_property:
    """Computed on first access and then stored on the instance (probs from logits and the reverse). Computed
    with grad mode on, so a parameter derived inside ``no_grad`` still carries its graph later."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
