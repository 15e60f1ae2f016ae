"""Adagrad with learning-rate decay, numerically PyTorch's update."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_non_negative, _gradients, _init_state, _next_step, _scratch

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                            initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state eagerly
        for group in self.param_groups:
            for p in group["params"]:
                _init_state(self.state[p], p._data, "sum", fill=group["initial_accumulator_value"])

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            lr_decay = group["lr_decay"]
            eps = group["eps"]
            for p in group["params"]:
                if p._grad is not None and p._grad.is_sparse:
                    _sparse_adagrad(p, self.state[p], group)
            for p, pd, g in _gradients(group, sparse_skipped=True):
                state = self.state[p]
                if not state:
                    _init_state(state, pd, "sum", fill=group["initial_accumulator_value"])
                step = _next_step(state)
                clr = lr / (1 + (step - 1) * lr_decay)
                s = state["sum"]._data
                s += g * g
                std = _scratch(np.sqrt(s))
                std += eps
                np.divide(g, std, out=std)
                std *= clr
                pd -= std
        return loss


def _sparse_adagrad(p, state, group):
    """PyTorch's Adagrad update for a sparse-rows gradient: only the rows present change (sum and parameter)."""
    if group["weight_decay"] != 0:
        raise RuntimeError("weight_decay option is not compatible with sparse gradients")
    if not state:
        _init_state(state, p._data, "sum", fill=group["initial_accumulator_value"])
    step = _next_step(state)
    clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
    g = p._grad.coalesce()
    ids, v = g._idx, g._vals
    if group["maximize"]:
        v = -v
    s = state["sum"]._data
    s[ids] += v * v
    std = np.sqrt(s[ids])
    std += group["eps"]
    p._data[ids] += (v / std) * v.dtype.type(-clr)
