"""The fused optimiser updates, in place: one pass per parameter (see ``fastnn.optim.Adam`` / ``SGD``'s
step for the scalars)."""
from __future__ import annotations

from .. import backend


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars):
    """Fused Adam/AdamW update in place of contiguous arrays of one shape and dtype."""
    return backend.kernel("adam_step", param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)(
        param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars)


def sgd_step(param, grad, momentum_buffer, scalars):
    """Fused SGD update in place."""
    return backend.kernel("sgd_step", param, grad, momentum_buffer)(param, grad, momentum_buffer, scalars)
