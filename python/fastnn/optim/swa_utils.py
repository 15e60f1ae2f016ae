"""Averaged copies of a model's weights (PyTorch's ``torch.optim.swa_utils``): stochastic weight
averaging (SWA), the exponential moving average (EMA) of weights used for generators, the
batch-norm statistics pass ``update_bn`` and the ``SWALR`` schedule.

The averaging functions follow PyTorch's formulas step for step (its two-branch ``lerp`` for the
list versions, truncation when an integer buffer such as ``num_batches_tracked`` is averaged), so a
fastnn ``AveragedModel`` and PyTorch's agree after the same sequence of updates.
"""
from __future__ import annotations

import copy
import itertools
import math
import numbers

import numpy as np

from .. import creation
from .._autograd_engine import no_grad
from ..dtypes import int64
from ..nn.batchnorm import _BatchNorm
from ..nn.module import Module
from .adam import _lerp_
from .lr_scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _count(num_averaged):
    return int(num_averaged.item()) if hasattr(num_averaged, "item") else int(num_averaged)


def _is_float(t):
    return t._data.dtype.kind in "fc"


def _add_truncated(averaged, step):
    """averaged += trunc(step) for an integer tensor (``num_batches_tracked``): PyTorch's historic
    integer ``addcdiv``, which its list version of the SWA update relies on."""
    a = averaged._data
    a += np.trunc(step).astype(a.dtype)


def get_ema_multi_avg_fn(decay=0.999):
    """``fn(ema_params, current_params, num_averaged)``: every EMA tensor moves toward the current
    one, ``ema <- lerp(ema, current, 1 - decay)``, in place."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _):
        with no_grad():
            if not ema_param_list:
                return
            if _is_float(ema_param_list[0]):
                for p_ema, p_model in zip(ema_param_list, current_param_list):
                    _lerp_(p_ema._data, p_model._data, 1 - decay)
                    p_ema._version += 1
            else:
                for p_ema, p_model in zip(ema_param_list, current_param_list):
                    p_ema.copy_(p_ema * decay + p_model * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """``fn(averaged_params, current_params, num_averaged)``: the running mean of all the weights
    seen, ``avg <- lerp(avg, current, 1 / (num_averaged + 1))``, in place."""
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        with no_grad():
            if not averaged_param_list:
                return
            n = _count(num_averaged)
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                if _is_float(p_avg):
                    _lerp_(p_avg._data, p_model._data, 1 / (n + 1))
                else:
                    _add_truncated(p_avg, (p_model._data - p_avg._data) / (n + 1))
                p_avg._version += 1
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """``fn(ema_param, current_param, num_averaged) -> decay * ema_param + (1 - decay) * current_param``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """``fn(averaged_param, current_param, num_averaged) -> averaged + (current - averaged) / (num_averaged + 1)``."""
    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` (``self.module``) whose parameters are averages of ``model``'s over the
    calls to ``update_parameters(model)``; ``n_averaged`` (a persistent int64 buffer) counts them.

    The first update copies the weights; later ones apply ``multi_avg_fn(avg_list, model_list,
    n_averaged)`` or ``avg_fn(avg, model_param, n_averaged)`` (one of them at most), by default the
    plain running mean (SWA). ``get_ema_multi_avg_fn(decay)`` gives the exponential moving average.
    With ``use_buffers=True`` the buffers (batch-norm running statistics) are averaged like the
    parameters; otherwise they are copied from ``model`` at each update. ``forward`` calls
    ``self.module``; the state dict holds ``n_averaged`` and ``module.<name>`` entries, as PyTorch's.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: only one of 'avg_fn' and 'multi_avg_fn' should be provided")
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: argument 'model' must be a Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", creation.tensor(0, dtype=int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, model):
        if self.use_buffers:
            return (list(itertools.chain(self.module.parameters(), self.module.buffers())),
                    list(itertools.chain(model.parameters(), model.buffers())))
        return list(self.module.parameters()), list(model.parameters())

    def update_parameters(self, model):
        """Fold ``model``'s current weights into the average (``model`` has ``self.module``'s structure)."""
        mine, theirs = self._averaged_tensors(model)
        if len(mine) != len(theirs):
            raise ValueError(f"AveragedModel.update_parameters: argument 'model' has {len(theirs)} "
                             f"{'parameters and buffers' if self.use_buffers else 'parameters'}, the averaged "
                             f"model {len(mine)}")
        with no_grad():
            avg = [p.detach() for p in mine]
            cur = []
            for p_avg, p_model in zip(mine, theirs):
                if tuple(p_avg.shape) != tuple(p_model.shape):
                    raise ValueError(f"AveragedModel.update_parameters: a tensor of argument 'model' has shape "
                                     f"{tuple(p_model.shape)}, the averaged model's {tuple(p_avg.shape)}")
                cur.append(p_model.detach().to(p_avg.device))
            n = self.n_averaged
            if _count(n) == 0:
                for a, c in zip(avg, cur):
                    a.copy_(c)
            elif self.avg_fn is None:
                multi = self.multi_avg_fn if self.multi_avg_fn is not None else get_swa_multi_avg_fn()
                # grouped by device and dtype as PyTorch's foreach path does: each group gets one call
                groups = {}
                for a, c in zip(avg, cur):
                    groups.setdefault((str(a.device), str(a.dtype)), ([], []))
                    groups[(str(a.device), str(a.dtype))][0].append(a)
                    groups[(str(a.device), str(a.dtype))][1].append(c)
                for (device, _), (a_list, c_list) in groups.items():
                    multi(a_list, c_list, n.to(device))
            else:
                for a, c in zip(avg, cur):
                    a.copy_(self.avg_fn(a, c, n.to(a.device)))
            if not self.use_buffers:
                # the buffers are not averaged: keep them in step with the source model
                for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                    b_avg.copy_(b_model.detach().to(b_avg.device))
            self.n_averaged.copy_(self.n_averaged + 1)


def update_bn(loader, model, device=None):
    """Recompute the running statistics of every batch-norm layer of ``model`` with one pass over
    ``loader`` (an averaged model's statistics are not the average of its sources' statistics).

    The statistics are reset and accumulated as a cumulative mean (``momentum=None``) over the
    batches; a batch that is a list or tuple contributes its first element. ``model``'s training
    mode and the layers' momenta are restored afterwards."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                if device is not None:
                    batch = batch.to(device)
                model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's learning rate to ``swa_lr`` over ``anneal_epochs`` steps (``"cos"`` or
    ``"linear"``), then holds it there: the schedule of the SWA phase, with PyTorch's formula."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        swa_lrs = _per_group(swa_lr, optimizer, "swa_lr")
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def state_dict(self):
        # the annealing function is a bound static method: saved by its name, not pickled
        state = super().state_dict()
        state["anneal_func"] = "cos" if self.anneal_func == self._cosine_anneal else "linear"
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        strategy = state.pop("anneal_func", "cos")
        super().load_state_dict(state)
        self.anneal_func = self._cosine_anneal if strategy == "cos" else self._linear_anneal
