"""Adam (with AMSGrad) and AdamW, numerically PyTorch's single-tensor update.

One code path on every device: the fused kernel (``kernels.adam_step``: one pass over a parameter's arrays)
updates every float32/float64 parameter with contiguous arrays; the same operations as array operations
update the rest (``_adam_arrays``), bitwise alike."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .optimizer import Optimizer, _check_non_negative, _init_state, _next_step, _scratch, _update, _refuse_sparse

__all__ = ["Adam", "AdamW"]


def _lerp_(a, b, w, one_minus_w=None, low=None):
    """a <- lerp(a, b, w) with PyTorch's two-branch formula (exact at both ends)."""
    if low is None:
        low = w < 0.5
    if low:
        d = b - a
        d *= w
        a += d
    else:
        d = a - b
        d *= 1.0 - w if one_minus_w is None else one_minus_w
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
            decoupled = group.get("decoupled_weight_decay", self._decoupled)
            scalars = {}  # by step count: the parameters of a group mostly share one
            for p in group["params"]:
                if p._grad is None:
                    continue
                _refuse_sparse(p._grad, "Adam")
                pd, g = p._data, p._grad._data
                state = self.state[p]
                if not state:
                    _init_state(state, pd, "exp_avg", "exp_avg_sq", *(["max_exp_avg_sq"] if group["amsgrad"] else []))
                step = _next_step(state)
                s = scalars.get(step)
                if s is None:
                    s = scalars[step] = _adam_scalars(group, step, decoupled)
                _update(kernels.adam_step, _adam_arrays, pd, g, state["exp_avg"]._data, state["exp_avg_sq"]._data,
                        state["max_exp_avg_sq"]._data if s["amsgrad"] else None, s)
        return loss


def _adam_scalars(group, step, decoupled):
    """The hyper-parameters of one Adam step as the fused kernel takes them (csrc/ops/optim/optim.h)."""
    lr = group["lr"]
    beta1, beta2 = group["betas"]
    wd = group["weight_decay"]
    w = 1 - beta1
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    return dict(l2=0.0 if decoupled else wd, decay=1 - lr * wd if decoupled and wd != 0 else 1.0,
                w=w, one_minus_w=1.0 - w, beta2=beta2, one_minus_beta2=1 - beta2,
                bias_correction2_sqrt=bias_correction2 ** 0.5, eps=group["eps"], step_size=lr / bias_correction1,
                lerp_low=w < 0.5, maximize=group["maximize"], amsgrad=group["amsgrad"])


def _adam_arrays(pd, g, m, v, vmax, s):
    """The fused kernel's update as array operations, in its order, for the parameters it does not take
    (other float dtypes, non-contiguous arrays; see ``_fusable``). The gradient array is never modified."""
    if s["maximize"]:
        g = -g
    if s["l2"] != 0:
        g = g + s["l2"] * pd
    if s["decay"] != 1:
        pd *= s["decay"]
    _lerp_(m, g, s["w"], s["one_minus_w"], s["lerp_low"])
    v *= s["beta2"]
    sq = g * g
    sq *= s["one_minus_beta2"]
    v += sq
    if s["amsgrad"]:
        np.maximum(vmax, v, out=vmax)
        denom = _scratch(np.sqrt(vmax))
    else:
        denom = _scratch(np.sqrt(v))
    denom /= s["bias_correction2_sqrt"]
    denom += s["eps"]
    # p <- p - step_size * m / denom (denom is scratch now)
    np.divide(m, denom, out=denom)
    denom *= s["step_size"]
    pd -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr * weight_decay`` before the Adam step)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
