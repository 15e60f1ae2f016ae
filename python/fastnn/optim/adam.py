"""Adam (with AMSGrad) and AdamW, numerically PyTorch's single-tensor update."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .optimizer import Optimizer, _check_non_negative, _fused_params, _gradients, _init_state, _next_step, _scratch

__all__ = ["Adam", "AdamW"]


def _lerp_(a, b, w):
    """a <- lerp(a, b, w) with PyTorch's two-branch formula (exact at both ends)."""
    if w < 0.5:
        d = b - a
        d *= w
        a += d
    else:
        d = a - b
        d *= (1.0 - w)
        np.add(b, d, out=a)


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=None):
        _check_non_negative(lr=lr, eps=eps)
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self._decoupled
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            wd = group["weight_decay"]
            amsgrad = group["amsgrad"]
            decoupled = group.get("decoupled_weight_decay", self._decoupled)
            for p in _fused_params(group):
                # on a GPU: one kernel per parameter, the same arithmetic as below
                state = self.state[p]
                if not state:
                    _init_state(state, p._data, "exp_avg", "exp_avg_sq", *(["max_exp_avg_sq"] if amsgrad else []))
                step = _next_step(state)
                w = 1 - beta1
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                scalars = dict(l2=0.0 if decoupled else wd, decay=1 - lr * wd if decoupled and wd != 0 else 1.0,
                               w=w, one_minus_w=1.0 - w, beta2=beta2, one_minus_beta2=1 - beta2,
                               bias_correction2_sqrt=bias_correction2 ** 0.5, eps=eps,
                               step_size=lr / bias_correction1, lerp_low=w < 0.5, maximize=group["maximize"],
                               amsgrad=amsgrad)
                kernels.adam_step(p._data, p._grad._data, state["exp_avg"]._data, state["exp_avg_sq"]._data,
                                  state["max_exp_avg_sq"]._data if amsgrad else None, scalars)
            for p, pd, g in _gradients(group, decoupled, skip_fused=True):
                state = self.state[p]
                if not state:
                    _init_state(state, pd, "exp_avg", "exp_avg_sq", *(["max_exp_avg_sq"] if amsgrad else []))
                step = _next_step(state)
                if decoupled and wd != 0:
                    pd *= 1 - lr * wd
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                _lerp_(m, g, 1 - beta1)
                v *= beta2
                sq = g * g
                sq *= 1 - beta2
                v += sq
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                if amsgrad:
                    vmax = state["max_exp_avg_sq"]._data
                    np.maximum(vmax, v, out=vmax)
                    denom = _scratch(np.sqrt(vmax))
                else:
                    denom = _scratch(np.sqrt(v))
                denom /= bias_correction2_sqrt
                denom += eps
                # p <- p - step_size * m / denom (denom is scratch now)
                np.divide(m, denom, out=denom)
                denom *= step_size
                pd -= denom
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr * weight_decay`` before the Adam step)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
