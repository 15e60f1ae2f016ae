"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's update).

One code path on every device: the fused kernel (``kernels.sgd_step``) updates every float32/float64 parameter
with contiguous arrays; the same operations as array operations update the rest (``_sgd_arrays``), bitwise
alike."""
from __future__ import annotations

from .. import backend, kernels
from ..tensor import Tensor
from .optimizer import Optimizer, _update, required

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
            momentum = group["momentum"]
            scalars = {}  # by whether the momentum buffer starts now
            for p in group["params"]:
                if p._grad is None:
                    continue
                if p._grad.is_sparse:
                    g = _sparse_sgd(p, group)
                    if g is None:
                        continue
                else:
                    g = p._grad._data
                pd = p._data
                buf = None
                first = False
                if momentum != 0:
                    state = self.state[p]
                    if state.get("momentum_buffer") is None:
                        state["momentum_buffer"] = Tensor._wrap(backend.array_module_of(pd).empty_like(pd))
                        first = True
                    buf = state["momentum_buffer"]._data
                s = scalars.get(first)
                if s is None:
                    s = scalars[first] = _sgd_scalars(group, first)
                _update(kernels.sgd_step, _sgd_arrays, pd, g, buf, s)
        return loss


def _sparse_sgd(p, group):
    """A sparse-rows gradient: without momentum only its rows are updated, natively (None is returned);
    with momentum the buffer, as PyTorch's sparse one, ends up holding every row ever touched and updates
    them all at each step, so the dense gradient is returned for the dense update."""
    if group["weight_decay"] != 0:
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
    if group["momentum"] != 0:
        return p._grad.to_dense()._data
    g = p._grad.coalesce()
    pd = p._data
    lr = group["lr"]
    rows = g._rows()
    if pd.flags.c_contiguous and pd.dtype == rows.dtype:
        kernels.index_add_rows(pd.reshape(pd.shape[0], -1), g._idx, rows, lr if group["maximize"] else -lr)
    else:
        pd[g._idx] += (lr if group["maximize"] else -lr) * g._vals
    return None


def _sgd_scalars(group, first):
    """The hyper-parameters of one SGD step as the fused kernel takes them (csrc/ops/optim/optim.h)."""
    dampening = group["dampening"]
    return dict(l2=group["weight_decay"], momentum=group["momentum"], one_minus_dampening=1 - dampening,
                lr=group["lr"], dampened=dampening != 0, nesterov=group["nesterov"], maximize=group["maximize"],
                first=first)


def _sgd_arrays(pd, g, buf, s):
    """The fused kernel's update as array operations, in its order, for the parameters it does not take
    (other float dtypes, non-contiguous arrays; see ``_fusable``). The gradient array is never modified."""
    d = -g if s["maximize"] else g
    if s["l2"] != 0:
        d = d + s["l2"] * pd
    if s["momentum"] != 0:
        if s["first"]:
            buf[...] = d
        else:
            buf *= s["momentum"]
            if s["dampened"]:
                buf += s["one_minus_dampening"] * d
            else:
                buf += d
        d = d + s["momentum"] * buf if s["nesterov"] else buf
    # p <- p - lr * d, without touching the gradient
    pd -= s["lr"] * d
