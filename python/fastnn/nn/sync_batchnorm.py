"""``SyncBatchNorm``: batch normalisation whose training statistics span every process of a group.

Each rank reduces its own batch to per-channel (count, mean, sum of squared deviations); one all-gather
brings every rank's triple, and the group's mean and variance are combined from them in float64 (Chan's
pairwise formula: no cancellation, unlike sum and sum of squares). Backward all-reduces the two
per-channel sums the input gradient needs (of dy and of dy·(x − mean)). The result equals BatchNorm over
the concatenation of the ranks' batches; weight and bias gradients stay per-rank sums, which
DistributedDataParallel averages like every other gradient. The backward is first order only. Outside a
process group of several ranks, or in eval mode, it is BatchNorm.
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from .._autograd_engine import _mode
from ..autograd import Function
from ..tensor import Tensor
from .batchnorm import BatchNorm1d, BatchNorm2d, _BatchNorm

__all__ = ["SyncBatchNorm"]


def _group_size(process_group):
    from .. import distributed as dist
    if not dist.is_available() or not dist.is_initialized():
        return 1
    return dist.get_world_size(process_group)


class _SyncBatchNormFn(Function):
    @staticmethod
    def forward(ctx, input, weight, bias, eps, group, stats_out):
        from ..distributed import _comm
        x = input._data
        xp = _backend.array_module_of(x)
        c = x.shape[1]
        dims = (0,) + tuple(range(2, x.ndim))
        bshape = (1, c) + (1,) * (x.ndim - 2)
        n_local = x.size // c
        x64 = x.astype(np.float64, copy=False)
        mean_l = x64.mean(axis=dims) if n_local else xp.zeros(c)
        m2_l = ((x64 - mean_l.reshape(bshape)) ** 2).sum(axis=dims) if n_local else xp.zeros(c)
        mine = xp.concatenate([xp.array([float(n_local)]), mean_l, m2_l])
        world = _comm.resolve(group).size()
        every = _backend.empty((world, 2 * c + 1), np.float64, mine)
        _comm.allgather_array(mine, every, group)
        counts, means, m2s = every[:, :1], every[:, 1:c + 1], every[:, c + 1:]
        n = float(counts.sum())
        if n <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel when training across the group, "
                             f"got {int(n)} (input of shape {tuple(x.shape)} on this rank)")
        mean = (counts * means).sum(axis=0) / n
        m2 = m2s.sum(axis=0) + (counts * (means - mean) ** 2).sum(axis=0)
        var = m2 / n
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat = (x64 - mean.reshape(bshape)) * invstd.reshape(bshape)
        y = xhat
        if weight is not None:
            y = y * weight._data.astype(np.float64).reshape(bshape)
        if bias is not None:
            y = y + bias._data.astype(np.float64).reshape(bshape)
        stats_out.extend([mean, var, n])
        ctx.save_for_backward(weight)
        ctx.arrays = (xhat, invstd, n)
        ctx.group = group
        ctx.has_bias = bias is not None
        return Tensor._wrap(y.astype(x.dtype, copy=False))

    @staticmethod
    def backward(ctx, gy):
        from ..distributed import _comm
        if _mode.enabled:
            raise RuntimeError("SyncBatchNorm: gradients of gradients (create_graph=True) are not supported across "
                               "processes; use BatchNorm, or GroupNorm/LayerNorm, in models that need them")
        (weight,) = ctx.saved_tensors
        xhat, invstd, n = ctx.arrays
        g = gy._data
        xp = _backend.array_module_of(g)
        c = xhat.shape[1]
        dims = (0,) + tuple(range(2, xhat.ndim))
        bshape = (1, c) + (1,) * (xhat.ndim - 2)
        g64 = g.astype(np.float64, copy=False)
        sum_dy_l = g64.sum(axis=dims)
        sum_dy_xhat_l = (g64 * xhat).sum(axis=dims)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if need_x:
            sums = xp.concatenate([sum_dy_l, sum_dy_xhat_l])
            _comm.allreduce_array(sums, _comm.ReduceOp.SUM, False, ctx.group)
            sum_dy, sum_dy_xhat = sums[:c], sums[c:]
            scale = invstd if weight is None else invstd * weight._data.astype(np.float64)
            dx64 = (g64 - (sum_dy / n).reshape(bshape) - xhat * (sum_dy_xhat / n).reshape(bshape)) \
                * scale.reshape(bshape)
            dx = Tensor._wrap(dx64.astype(g.dtype, copy=False))
        if need_w and weight is not None:
            dw = Tensor._wrap(sum_dy_xhat_l.astype(weight._data.dtype))
        if need_b and ctx.has_bias:
            db = Tensor._wrap(sum_dy_l.astype(g.dtype))
        return dx, dw, db, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over the batches of every process of ``process_group`` (None: the default group)
    in training; over N-D input (N, C, ...). ``SyncBatchNorm.convert_sync_batchnorm(model)`` turns a model's
    BatchNorm layers into it."""

    _ndims = tuple(range(2, 65))  # any (N, C, ...) input

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"SyncBatchNorm: input must be a Tensor, got {type(input).__name__}")
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
        if not (self.training and _group_size(self.process_group) > 1):
            return super().forward(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected {self.num_features} channels (dim 1), got input of shape "
                             f"{tuple(input.shape)}")
        stats = []
        y = _SyncBatchNormFn.apply(input, self.weight, self.bias, float(self.eps), self.process_group, stats)
        if self.track_running_stats:
            mean, var, n = stats
            self.num_batches_tracked._data += 1
            if self.momentum is None:  # cumulative moving average
                m = 1.0 / float(self.num_batches_tracked._data)
            else:
                m = float(self.momentum)
            rm, rv = self.running_mean._data, self.running_var._data
            rm *= 1.0 - m
            rm += (m * mean).astype(rm.dtype)
            rv *= 1.0 - m
            rv += (m * var * (n / (n - 1))).astype(rv.dtype)
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm layer (itself included) replaced by a SyncBatchNorm that shares its
        parameters and buffers."""
        out = module
        if isinstance(module, (BatchNorm1d, BatchNorm2d)) or type(module).__name__ == "BatchNorm3d":
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            setattr(out, name, cls.convert_sync_batchnorm(child, process_group))
        return out
