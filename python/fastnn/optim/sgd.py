"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's update)."""
from __future__ import annotations

from .. import backend, kernels
from ..tensor import Tensor
from .optimizer import Optimizer, _fused_params, _gradients, required

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = group["lr"]
            momentum = group["momentum"]
            dampening = group["dampening"]
            nesterov = group["nesterov"]
            for p in _fused_params(group):
                # on a GPU: one kernel per parameter, the same arithmetic as below
                buf = None
                first = False
                if momentum != 0:
                    state = self.state[p]
                    if state.get("momentum_buffer") is None:
                        state["momentum_buffer"] = Tensor._wrap(backend.array_module_of(p._data).empty_like(p._data))
                        first = True
                    buf = state["momentum_buffer"]._data
                scalars = dict(l2=group["weight_decay"], momentum=momentum, one_minus_dampening=1 - dampening,
                               lr=lr, dampened=dampening != 0, nesterov=nesterov, maximize=group["maximize"],
                               first=first)
                kernels.sgd_step(p._data, p._grad._data, buf, scalars)
            for p, pd, d_p in _gradients(group, skip_fused=True):
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        b = d_p.copy()
                        state["momentum_buffer"] = Tensor._wrap(b)
                    else:
                        b = buf._data
                        b *= momentum
                        if dampening != 0:
                            b += (1 - dampening) * d_p
                        else:
                            b += d_p
                    d_p = d_p + momentum * b if nesterov else b
                # p <- p - lr * d_p, without touching the gradient
                pd -= lr * d_p
        return loss
