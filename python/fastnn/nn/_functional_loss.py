"""Loss functions of ``fastnn.nn.functional`` with PyTorch's formulas, reductions and edge cases."""
from __future__ import annotations

import warnings

import numpy as np

from .._autograd_engine import _mode
from ..backend import array_module_of, to_device
from ..tensor import Tensor, _make, _wrap
from ._functional_activation import _softplus_node

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div", "one_hot",
           "soft_margin_loss", "cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "poisson_nll_loss", "gaussian_nll_loss", "triplet_margin_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    warnings.warn("size_average and reduce args will be deprecated, please use reduction instead.",
                  stacklevel=3)
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction, fn, extra=()):
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ValueError(f"{fn}: {reduction!r} is not a valid value for reduction "
                         f"(expected one of {', '.join(repr(r) for r in _REDUCTIONS + tuple(extra))})")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_tensor(t, name, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(t).__name__}")


def _pointwise_operands(input, target, fn):
    """Check the operands of an element-wise loss; warn (like PyTorch) when they broadcast."""
    _check_tensor(input, "input", fn)
    _check_tensor(target, "target", fn)
    if tuple(input.shape) != tuple(target.shape):
        try:
            np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
        except ValueError:
            raise ValueError(f"{fn}: the size of 'target' {tuple(target.shape)} must match the size of 'input' "
                             f"{tuple(input.shape)} (or broadcast to it)") from None
        warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to the input size "
                      f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)
    if input._data.dtype.kind != "f":
        raise TypeError(f"{fn}: 'input' must be a floating point tensor, got {input._data.dtype}")
    if target._data.dtype != input._data.dtype:
        target = target.to(input._data.dtype)
    return input, target


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    input, target = _pointwise_operands(input, target, "mse_loss")
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    input, target = _pointwise_operands(input, target, "l1_loss")
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _huber_elementwise(d, delta):
    ad = d.abs()
    quad = d * d * 0.5
    lin = (ad - 0.5 * delta) * delta
    return quad.where(ad < delta, lin)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: argument 'delta' must be positive, got {delta}")
    input, target = _pointwise_operands(input, target, "huber_loss")
    loss = _huber_elementwise(input - target, delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: argument 'beta' must be non-negative, got {beta}")
    input, target = _pointwise_operands(input, target, "smooth_l1_loss")
    d = input - target
    if beta == 0:
        loss = d.abs()
    else:
        loss = _huber_elementwise(d, beta) / beta
    return _reduce(loss, reduction)


def _bce_node(x, y, w):
    """-w (y log x + (1 - y) log(1 - x)) with logs clamped at -100, one node like PyTorch's kernel."""
    xd, yd = x._data, y._data
    with np.errstate(divide="ignore"):
        lx = np.maximum(np.log(xd), -100.0)
        l1x = np.maximum(np.log1p(-xd), -100.0)
    out = -(yd * lx + (1 - yd) * l1x)
    if w is not None:
        out = out * w._data
    out = out.astype(xd.dtype, copy=False)
    if _mode.enabled and (x._requires_grad or y._requires_grad or (w is not None and w._requires_grad)):
        eps = 1e-12

        def bw(g):
            if _mode.enabled:
                gx = gy = None
                if x._requires_grad:
                    gx = g * (x - y) / ((1 - x) * x).clamp(min=eps)
                    if w is not None:
                        gx = gx * w
                if y._requires_grad:
                    gy = g * ((1 - x).log() - x.log())
                    if w is not None:
                        gy = gy * w
                gw = g * _wrap(out) / w if (w is not None and w._requires_grad) else None
                return gx, gy, gw
            gd = g._data
            gx = gy = gw = None
            if x._requires_grad:
                a = gd * (xd - yd) / np.maximum((1 - xd) * xd, eps)
                if w is not None:
                    a = a * w._data
                gx = _wrap(a.astype(xd.dtype, copy=False))
            if y._requires_grad:
                # PyTorch differentiates the unclamped logs for the target
                with np.errstate(divide="ignore"):
                    a = gd * (np.log1p(-xd) - np.log(xd))
                if w is not None:
                    a = a * w._data
                gy = _wrap(a.astype(xd.dtype, copy=False))
            if w is not None and w._requires_grad:
                gw = _wrap((gd * -(yd * lx + (1 - yd) * l1x)).astype(xd.dtype, copy=False))
            return gx, gy, gw
        return _make(out, (x, y, w), bw, "BinaryCrossEntropy")
    return _wrap(out)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    _check_tensor(input, "input", "binary_cross_entropy")
    _check_tensor(target, "target", "binary_cross_entropy")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy: using a target size ({tuple(target.shape)}) that is different to "
                         f"the input size ({tuple(input.shape)}) is not supported; please ensure they have the same "
                         "size.")
    if input._data.dtype.kind != "f":
        raise TypeError(f"binary_cross_entropy: 'input' must be a floating point tensor, got {input._data.dtype}")
    xd = input._data
    if xd.size and bool(((xd < 0) | (xd > 1)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of 'input' should be between 0 and 1 "
                           "(apply a sigmoid first, or use binary_cross_entropy_with_logits)")
    if target._data.dtype != xd.dtype:
        target = target.to(xd.dtype)
    if weight is not None:
        _check_tensor(weight, "weight", "binary_cross_entropy")
        try:
            np.broadcast_shapes(tuple(weight.shape), tuple(input.shape))
        except ValueError:
            raise ValueError(f"binary_cross_entropy: 'weight' of shape {tuple(weight.shape)} does not broadcast to "
                             f"the input shape {tuple(input.shape)}") from None
        if weight._data.dtype != xd.dtype:
            weight = weight.to(xd.dtype)
        if tuple(weight.shape) != tuple(input.shape):
            weight = weight.expand(*input.shape)
    return _reduce(_bce_node(input, target, weight), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_tensor(input, "input", "binary_cross_entropy_with_logits")
    _check_tensor(target, "target", "binary_cross_entropy_with_logits")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: target size ({tuple(target.shape)}) must be the same as "
                         f"input size ({tuple(input.shape)})")
    if input._data.dtype.kind != "f":
        raise TypeError(f"binary_cross_entropy_with_logits: 'input' must be a floating point tensor, "
                        f"got {input._data.dtype}")
    if target._data.dtype != input._data.dtype:
        target = target.to(input._data.dtype)
    # (1 - y) x + (1 + (pw - 1) y) softplus(-x): softplus(-x) is computed without overflow
    sp = _softplus_node(-input, 1.0, float("inf"))
    if pos_weight is not None:
        _check_tensor(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
        if pos_weight.ndim > 0 and input.ndim > 0 and pos_weight.shape[-1] not in (1, input.shape[-1]):
            raise ValueError(f"binary_cross_entropy_with_logits: 'pos_weight' of shape {tuple(pos_weight.shape)} "
                             f"must broadcast along the last dim of the input shape {tuple(input.shape)}")
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        _check_tensor(weight, "weight", "binary_cross_entropy_with_logits")
        loss = loss * weight
    return _reduce(loss, reduction)


# ----------------------------------------------------------------- class-index losses

def _class_weight_array(weight, C, dtype, fn):
    if weight is None:
        return None
    _check_tensor(weight, "weight", fn)
    w = weight._data
    if w.ndim != 1 or w.shape[0] != C:
        raise ValueError(f"{fn}: 'weight' should be a 1D tensor assigning a weight to each of the {C} classes, "
                         f"got shape {tuple(w.shape)}")
    return w.astype(dtype, copy=False)


def _index_coefficients(x_shape, cd, t, w, ignore_index, smoothing, reduction, dtype, fn):
    """The constant array A with loss = -sum(A * log_probs) (summed over the class dim for 'none').

    Encodes the target one-hot, class weights, ignored entries, label smoothing and the 'mean'
    denominator (the sum of the weights of the non-ignored targets, PyTorch's convention).
    """
    C = x_shape[cd]
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: class-index 'target' must be an integer tensor (int64), got {t.dtype}")
    xp = array_module_of(t)
    valid = t != ignore_index
    all_valid, lo, hi = True, 0, 0
    if xp is np:
        all_valid = bool(valid.all())
        tt = t if all_valid else np.where(valid, t, 0)
        if tt.size:
            lo, hi = int(tt.min()), int(tt.max())
    else:
        tt = xp.where(valid, t, 0)
        if t.size:
            # whether every target counts, and the range of those that do: one transfer from the GPU
            stats = to_device(xp.stack([valid.all().astype(np.int64), tt.min().astype(np.int64),
                                        tt.max().astype(np.int64)]), "cpu")
            all_valid, lo, hi = bool(stats[0]), int(stats[1]), int(stats[2])
        if all_valid:
            tt = t
    if lo < 0 or hi >= C:
        raise IndexError(f"{fn}: Target {lo if lo < 0 else hi} is out of bounds for {C} classes "
                         f"(ignore_index={ignore_index})")
    if w is not None:
        wt = w[tt]
        if not all_valid:
            wt = np.where(valid, wt, 0).astype(dtype, copy=False)
        denom = wt.sum()
    elif all_valid:
        wt = None
        denom = tt.size
    else:
        wt = valid.astype(dtype)
        denom = wt.sum()
    scale = 1.0
    if reduction == "mean":
        # PyTorch: 0/0 (NaN) when every target is ignored; a device sum stays on the device
        if xp is np or isinstance(denom, int):
            scale = np.nan if denom == 0 else 1.0 / denom
        else:
            scale = xp.where(denom == 0, np.nan, 1.0 / xp.where(denom == 0, 1, denom))
    A = xp.zeros(x_shape, dtype=dtype)
    on = (1.0 - smoothing) * scale
    if len(x_shape) == 2 and cd == 1:
        rows = xp.arange(x_shape[0])
        A[rows, tt] = on if wt is None else wt * on
    else:
        vals = xp.full(tt.shape, on, dtype=dtype) if wt is None else wt * on
        xp.put_along_axis(A, np.expand_dims(tt, cd), np.expand_dims(vals, cd), axis=cd)
    if smoothing > 0:
        wc = w if w is not None else xp.ones(C, dtype=dtype)
        shape = [1] * len(x_shape)
        shape[cd] = C
        off = (smoothing / C) * scale * wc.reshape(shape)
        A += off if all_valid else off * np.expand_dims(valid, cd)
    return A


def _expand_class_dim(g, cd, reduction):
    return g if reduction != "none" else np.expand_dims(g, cd)


def _softmax_ce_node(input, target, A, cd, reduction, target_coef=None):
    """loss = -sum(A * log_softmax(input)) as one node; ``target_coef`` maps target grads for prob targets."""
    x = input._data
    m = x.max(axis=cd, keepdims=True)
    z = x - m
    e = np.exp(z)
    s = e.sum(axis=cd, keepdims=True)
    logp = z - np.log(s)
    prod = A * logp
    out = array_module_of(x).asarray(-(prod.sum(axis=cd) if reduction == "none" else prod.sum()), dtype=x.dtype)
    if reduction == "mean" and x.size == 0:
        out = out * np.nan      # the mean over no element, as PyTorch
    needs = _mode.enabled and (input._requires_grad or (target_coef is not None and target._requires_grad))
    if not needs:
        return _wrap(out)
    p = e / s

    def bw(g):
        if _mode.enabled:
            gx = gt = None
            ge = g if reduction != "none" else g.unsqueeze(cd)
            if input._requires_grad:
                At = _wrap(A)
                gx = (input.softmax(cd) * At.sum(cd, keepdim=True) - At) * ge
            if target_coef is not None and target._requires_grad:
                gt = input.log_softmax(cd) * _wrap(-target_coef) * ge
            return gx, gt
        gd = _expand_class_dim(g._data, cd, reduction)
        gx = gt = None
        if input._requires_grad:
            r = p * A.sum(axis=cd, keepdims=True)
            r -= A
            r *= gd
            gx = _wrap(r)
        if target_coef is not None and target._requires_grad:
            gt = _wrap((-logp * target_coef * gd).astype(x.dtype, copy=False))
        return gx, gt

    return _make(out, (input, target if target_coef is not None else None), bw, "CrossEntropy")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy of logits ``input`` (C), (N, C) or (N, C, d1, ...) against class indices or probabilities."""
    fn = "cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, fn)
    _check_tensor(input, "input", fn)
    _check_tensor(target, "target", fn)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x = input._data
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: 'input' must be a floating point tensor, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{fn}: 'input' must have at least 1 dimension (classes), got a 0-d tensor")
    cd = 0 if x.ndim == 1 else 1
    C = x.shape[cd]
    t = target._data
    w = _class_weight_array(weight, C, x.dtype, fn)
    if t.dtype.kind == "f":
        # class probabilities
        if t.shape != x.shape:
            raise ValueError(f"{fn}: probability 'target' must have the input's shape {tuple(x.shape)}, "
                             f"got {tuple(t.shape)}")
        coef = t.astype(x.dtype, copy=False)
        if label_smoothing > 0:
            coef = coef * (1 - label_smoothing) + label_smoothing / C
        tcoef_scale = 1.0 - label_smoothing
        shape = [1] * x.ndim
        shape[cd] = C
        if w is not None:
            coef = coef * w.reshape(shape)
        tcoef = array_module_of(x).full(shape, tcoef_scale, dtype=x.dtype) if w is None \
            else tcoef_scale * w.reshape(shape)
        if reduction == "mean":
            n = x.size // C if C else 0
            with np.errstate(divide="ignore", invalid="ignore"):
                coef = coef / n if n else coef * np.nan
                tcoef = tcoef / n if n else tcoef * np.nan
        tcoef = np.broadcast_to(tcoef, x.shape)
        return _softmax_ce_node(input, target, coef.astype(x.dtype, copy=False), cd, reduction,
                                tcoef.astype(x.dtype, copy=False))
    expected = x.shape[:cd] + x.shape[cd + 1:]
    if t.shape != expected:
        raise ValueError(f"{fn}: for input of shape {tuple(x.shape)} the class-index 'target' must have shape "
                         f"{tuple(expected)}, got {tuple(t.shape)}")
    A = _index_coefficients(x.shape, cd, t, w, ignore_index, label_smoothing, reduction, x.dtype, fn)
    return _softmax_ce_node(input, target, A, cd, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (C), (N, C) or (N, C, d1, ...)."""
    fn = "nll_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, fn)
    _check_tensor(input, "input", fn)
    _check_tensor(target, "target", fn)
    x = input._data
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: 'input' must be a floating point tensor, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{fn}: 'input' must have at least 1 dimension (classes), got a 0-d tensor")
    cd = 0 if x.ndim == 1 else 1
    t = target._data
    expected = x.shape[:cd] + x.shape[cd + 1:]
    if t.shape != expected:
        raise ValueError(f"{fn}: for input of shape {tuple(x.shape)} 'target' must have shape {tuple(expected)}, "
                         f"got {tuple(t.shape)}")
    w = _class_weight_array(weight, x.shape[cd], x.dtype, fn)
    A = _index_coefficients(x.shape, cd, t, w, ignore_index, 0.0, reduction, x.dtype, fn)
    prod = A * x
    out = array_module_of(x).asarray(-(prod.sum(axis=cd) if reduction == "none" else prod.sum()), dtype=x.dtype)
    if reduction == "mean" and x.size == 0:
        out = out * np.nan
    if _mode.enabled and input._requires_grad:
        def bw(g):
            if _mode.enabled:
                ge = g if reduction != "none" else g.unsqueeze(cd)
                return (_wrap(-A) * ge,)
            return (_wrap(-A * _expand_class_dim(g._data, cd, reduction)),)
        return _make(out, (input,), bw, "NllLoss")
    return _wrap(out)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) point-wise: ``target * (log target - input)``; ``input`` holds log-probabilities."""
    fn = "kl_div"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, fn, extra=("batchmean",))
    input, target = _pointwise_operands(input, target, fn)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy(t, t): 0 where t == 0
        zero_mask = target > 0
        safe = target.where(zero_mask, target.new_ones(()))
        loss = target * safe.log() - target * input
    if reduction == "batchmean":
        if input.ndim == 0:
            return loss.sum()
        return loss.sum() / input.shape[0]
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size. "
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition. "
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    return _reduce(loss, reduction)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding along a new last dim (``num_classes=-1``: max value + 1)."""
    _check_tensor(tensor, "tensor", "one_hot")
    t = tensor._data
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: argument 'tensor' must be an integer (class index) tensor, got {t.dtype}")
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("one_hot: can not infer the total number of classes from an empty tensor")
        num_classes = int(t.max()) + 1
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes}), got values in "
                           f"[{int(t.min())}, {int(t.max())}]")
    xp = array_module_of(t)
    out = xp.zeros(t.shape + (num_classes,), dtype=np.int64)
    if t.size:
        # one flat scatter: each element's class lands at offset i * num_classes + t[i]
        out.reshape(-1)[xp.arange(t.size) * num_classes + t.reshape(-1)] = 1
    return _wrap(out)


# ------------------------------------------------------------------ other losses

def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "soft_margin_loss")
    input, target = _pointwise_operands(input, target, "soft_margin_loss")
    return _reduce(_softplus_node(-target * input, 1.0, float("inf")), reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "margin_ranking_loss")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "hinge_embedding_loss")
    zero = input.new_zeros(())
    pos = input.where(target == 1, zero)
    neg = (margin - input).clamp(min=0).where(target == -1, zero)
    return _reduce(pos + neg, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    from ._functional_misc import cosine_similarity
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "cosine_embedding_loss")
    cos = cosine_similarity(input1, input2, dim=-1, eps=1e-12)
    zero = cos.new_zeros(())
    loss = (1 - cos).where(target == 1, (cos - margin).clamp(min=0).where(target == -1, zero))
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "poisson_nll_loss")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        t = target
        one = t.new_ones(())
        safe = t.where(t > 1, one)
        stirling = safe * safe.log() - safe + (safe * 2 * np.pi).log() * 0.5
        loss = loss + stirling.where(t > 1, t.new_zeros(()))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    _check_reduction(reduction, "gaussian_nll_loss")
    if var.ndim == input.ndim - 1 or (var.shape != input.shape and var.ndim == input.ndim and var.shape[-1] != 1):
        if var.ndim == input.ndim - 1:
            var = var.unsqueeze(-1)
    if (var._data < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    with_eps = var.clamp(min=eps)
    # the clamp must not cut the gradient to var (PyTorch clamps a detached copy)
    var_c = var + (with_eps.detach() - var.detach())
    loss = (var_c.log() + (input - target) ** 2 / var_c) * 0.5
    if full:
        loss = loss + 0.5 * np.log(2 * np.pi)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    from ._functional_misc import pairwise_distance
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "triplet_margin_loss")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_s = pairwise_distance(positive, negative, p, eps)
        d_neg = d_neg.minimum(d_s) if hasattr(d_neg, "minimum") else d_neg.where(d_neg < d_s, d_s)
    return _reduce((d_pos - d_neg + margin).clamp(min=0), reduction)
