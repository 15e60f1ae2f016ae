"""RMSprop (with momentum and the centered variant), numerically PyTorch's update."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _scalar_state, _state_like

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
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
            wd = group["weight_decay"]
            momentum = group["momentum"]
            centered = group["centered"]
            maximize = group["maximize"]
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                pd = p._data
                g = grad._data
                if maximize:
                    g = -g
                state = self.state[p]
                if not state:
                    state["step"] = _scalar_state(0.0)
                    state["square_avg"] = _state_like(pd)
                    if momentum > 0:
                        state["momentum_buffer"] = _state_like(pd)
                    if centered:
                        state["grad_avg"] = _state_like(pd)
                state["step"]._data += 1
                if wd != 0:
                    g = g + wd * pd
                sq = state["square_avg"]._data
                sq *= alpha
                t = g * g
                t *= 1 - alpha
                sq += t
                if centered:
                    ga = state["grad_avg"]._data
                    from .adam import _lerp_
                    _lerp_(ga, g, 1 - alpha)
                    avg = sq - ga * ga
                    np.sqrt(avg, out=avg)
                else:
                    avg = np.sqrt(sq)
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
