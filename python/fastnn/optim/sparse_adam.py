"""``SparseAdam``: Adam on sparse-rows gradients (embeddings with ``sparse=True``), PyTorch's masked update:
only the rows present in the gradient move, and only their moments decay (``kernels.sparse_adam_step``, one
native pass over those rows), so a step costs the batch's rows, not the table."""
from __future__ import annotations

import math

from .. import kernels
from .optimizer import Optimizer, _state_like

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        sparse_params = [[i, j] for i, group in enumerate(self.param_groups)
                         for j, p in enumerate(group["params"]) if p.is_sparse]
        if sparse_params:
            raise ValueError(f"Sparse params at indices {sparse_params}: SparseAdam requires dense parameter tensors")

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if not grad.is_sparse:
                    raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = _state_like(p._data)
                    state["exp_avg_sq"] = _state_like(p._data)
                state["step"] += 1
                g = grad.coalesce()
                if g._nnz() == 0:
                    continue
                step = state["step"]
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = group["lr"] * math.sqrt(bias_correction2) / bias_correction1
                pd = p._data
                rows = pd.shape[0]
                kernels.sparse_adam_step(pd.reshape(rows, -1), state["exp_avg"]._data.reshape(rows, -1),
                                         state["exp_avg_sq"]._data.reshape(rows, -1), g._idx, g._rows(),
                                         dict(one_minus_beta1=1 - beta1, one_minus_beta2=1 - beta2, eps=group["eps"],
                                              neg_step_size=-step_size, maximize=group["maximize"]))
        return loss
