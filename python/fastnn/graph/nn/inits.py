"""PyG's parameter initialisers (``torch_geometric.nn.inits``), so that freshly built layers draw their
weights from the same distributions as PyG's."""
from __future__ import annotations

import math

from ...autograd import no_grad
from ...nn import init

__all__ = ["glorot", "zeros", "uniform", "kaiming_uniform", "reset"]


def glorot(value):
    """Uniform in +-sqrt(6 / (size(-2) + size(-1))) (None is left alone)."""
    if value is not None:
        a = math.sqrt(6.0 / (value.shape[-2] + value.shape[-1]))
        with no_grad():
            init.uniform_(value, -a, a)


def zeros(value):
    if value is not None:
        with no_grad():
            init.zeros_(value)


def uniform(size, value):
    """Uniform in +-1/sqrt(size)."""
    if value is not None:
        bound = 1.0 / math.sqrt(size)
        with no_grad():
            init.uniform_(value, -bound, bound)


def kaiming_uniform(value, fan, a):
    if value is not None:
        bound = math.sqrt(6 / ((1 + a ** 2) * fan))
        with no_grad():
            init.uniform_(value, -bound, bound)


def reset(value):
    """Call ``reset_parameters`` on ``value`` and, for a module without one, on its children."""
    if hasattr(value, "reset_parameters"):
        value.reset_parameters()
    elif hasattr(value, "children"):
        for child in value.children():
            reset(child)
