"""RMSprop (with momentum and the centered variant), numerically PyTorch's update."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_non_negative, _gradients, _init_state, _next_step, _scratch

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_non_negative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            alpha = group["alpha"]
            eps = group["eps"]
            momentum = group["momentum"]
            centered = group["centered"]
            for p, pd, g in _gradients(group, who="RMSprop"):
                state = self.state[p]
                if not state:
                    _init_state(state, pd, "square_avg", *(["momentum_buffer"] if momentum > 0 else []),
                                *(["grad_avg"] if centered else []))
                _next_step(state)
                sq = state["square_avg"]._data
                sq *= alpha
                t = g * g
                t *= 1 - alpha
                sq += t
                if centered:
                    ga = state["grad_avg"]._data
                    from .adam import _lerp_
                    _lerp_(ga, g, 1 - alpha)
                    avg = _scratch(sq - ga * ga)
                    np.sqrt(avg, out=avg)
                else:
                    avg = _scratch(np.sqrt(sq))
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    np.divide(g, avg, out=avg)
                    buf += avg
                    pd -= lr * buf
                else:
                    np.divide(g, avg, out=avg)
                    avg *= lr
                    pd -= avg
        return loss
