"""The Keras-style training loop: fit, evaluate, predict, cross_validate.

Data may be given as a DataLoader (or any re-iterable of batches), a Dataset, or a tuple of arrays
or tensors ``(X, y)`` (wrapped in a DataLoader with ``batch_size``; float64 arrays become float32,
the default float dtype). A batch is ``(inputs..., target)``: the model is called as
``model(*inputs)`` and the loss as ``loss_fn(output, target)``; a batch with one element (or a
bare tensor) has no target. Dict batches use the keys ``"x"``/``"input"`` and ``"y"``/``"target"``.

Several inputs and outputs (Keras's conventions): data ``(X, Y)`` where ``X`` is a tuple/list (the
model is called ``model(*X)``) or a dict (``model(**X)``) and ``Y`` a tuple/list or a dict keyed
by output name; loaders may yield such ``(inputs, targets)`` batches too. See
:mod:`fastnn.train._structured` for how outputs, losses, ``loss_weights`` and metrics are matched.
"""
from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from .. import metrics as _metrics
from ..data import _arrays
from ..data.dataloader import DataLoader
from ..data.split import KFold, StratifiedKFold
from ._structured import Objective, batch_len, concat, host, split_batch, structured_data
from ._structured import to_tensor as _to_tensor
from . import _distributed
from .callbacks import CallbackList, History, ProgressBar, TrainState
from .checkpoint import loader_streams

# ---------------------------------------------------------------- data


def as_loader(data, batch_size=32, shuffle=False, name="data"):
    """A re-iterable of batches for ``data`` (see the module docstring)."""
    from ..data.dataset import TensorDataset
    if data is None:
        return None
    if isinstance(data, DataLoader):
        return data
    structured = structured_data(data, name) if isinstance(data, (tuple, dict)) else None
    if structured is not None:
        return DataLoader(structured, batch_size=batch_size, shuffle=shuffle)
    if isinstance(data, dict):
        raise TypeError(f"'{name}' is a dict: it must map input names to arrays/tensors (the model's keyword "
                        f"inputs), got values of types {sorted({type(v).__name__ for v in data.values()})}")
    if isinstance(data, tuple) or (isinstance(data, list) and data and
                                   all(isinstance(d, np.ndarray) or _arrays.is_tensor(d) for d in data)):
        if not data:
            raise ValueError(f"'{name}' is an empty tuple")
        tensors = [_to_tensor(d, f"{name}[{i}]") for i, d in enumerate(data)]
        return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle)
    if _arrays.is_tensor(data) or isinstance(data, np.ndarray):
        # batches are bare tensors (a custom train_step receives the images themselves)
        t = _to_tensor(data, name)
        if len(t.shape) == 0:
            raise ValueError(f"'{name}' is a scalar; it needs a first (sample) dimension")
        return DataLoader(t, batch_size=batch_size, shuffle=shuffle)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (list, str)):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    if hasattr(data, "__iter__"):
        if iter(data) is data:
            raise TypeError(f"'{name}' is a one-shot iterator; pass a DataLoader or a list of batches, which can be "
                            "iterated once per epoch")
        return data
    raise TypeError(f"'{name}' must be a DataLoader, a Dataset, an iterable of batches or a tuple of arrays/tensors "
                    f"(X, y), got {type(data).__name__}")


def _model_device(model, device):
    """The device batches go to: ``device`` when given, else the device of the model's parameters when that
    is not the CPU (None there: CPU batches need no transfer)."""
    if device is not None:
        return device
    params = getattr(model, "parameters", None)
    p = next(iter(params()), None) if callable(params) else None
    dev = getattr(p, "device", None)
    return dev if dev is not None and dev.type != "cpu" else None


def _to_device(x, device):
    if device is None:
        return x
    if _arrays.is_tensor(x):
        return x.to(device)
    if isinstance(x, (list, tuple)):
        if hasattr(x, "_fields"):
            return type(x)(*(_to_device(v, device) for v in x))
        return type(x)(_to_device(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


# ---------------------------------------------------------------- metrics


class Metric:
    """A named metric computed once per epoch on all outputs and targets: ``fn(y_true, y_pred)``
    with numpy arrays, ``y_pred`` being the raw model output."""

    def __init__(self, name, fn):
        self.name = name
        self.fn = fn

    def __call__(self, y_true, y_pred):
        v = self.fn(y_true, y_pred)
        if _arrays.is_tensor(v):
            v = v.item()
        return float(v)


def _threshold_for(loss_fn):
    """Decision threshold for single-column outputs: 0 for logits, 0.5 for probabilities."""
    name = type(loss_fn).__name__ if loss_fn is not None else ""
    fn_name = getattr(loss_fn, "__name__", "")
    return 0.0 if "WithLogits" in name or "with_logits" in fn_name else 0.5


def _per_sample_rows(fn):
    """A regression metric that also takes image-like outputs: (N, C, H, W) becomes (N, C*H*W)."""
    def metric(y_true, y_pred):
        t, p = np.asarray(y_true), np.asarray(y_pred)
        if t.ndim > 2 and t.shape == p.shape:
            t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
        return fn(t, p)
    return metric


def resolve_metrics(metrics, loss_fn=None):
    """Metric objects from names (``accuracy``, ``precision``, ``recall``, ``f1``, ``mse``, ``mae``,
    ``rmse``, ``r2``), callables ``fn(y_true, y_pred)`` or a dict ``{name: callable}``."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, Metric)) or callable(metrics) and not isinstance(metrics, dict):
        metrics = [metrics]
    items = list(metrics.items()) if isinstance(metrics, dict) else [(None, m) for m in metrics]
    thr = _threshold_for(loss_fn)
    classification = {
        "accuracy": lambda t, p: _metrics.accuracy(t, p, threshold=thr),
        "precision": lambda t, p: _metrics.precision_recall_f1(t, p, "macro", threshold=thr)[0],
        "recall": lambda t, p: _metrics.precision_recall_f1(t, p, "macro", threshold=thr)[1],
        "f1": lambda t, p: _metrics.precision_recall_f1(t, p, "macro", threshold=thr)[2],
    }
    aliases = {"acc": "accuracy", "f1_score": "f1", "f1_macro": "f1"}
    regression = {k: _per_sample_rows(f) for k, f in
                  (("mse", _metrics.mse), ("mae", _metrics.mae), ("rmse", _metrics.rmse), ("r2", _metrics.r2))}
    out, names = [], set()
    for name, m in items:
        if isinstance(m, Metric):
            metric = m if name is None else Metric(name, m.fn)
        elif isinstance(m, str):
            key = aliases.get(m.lower(), m.lower())
            fn = classification.get(key) or regression.get(key)
            if fn is None:
                raise ValueError(f"unknown metric {m!r}: use one of {sorted(list(classification) + list(regression))}, "
                                 "or pass a callable fn(y_true, y_pred)")
            metric = Metric(name or m, fn)
        elif callable(m):
            metric = Metric(name or getattr(m, "__name__", type(m).__name__), m)
        else:
            raise TypeError(f"a metric must be a name or a callable, got {type(m).__name__}")
        if metric.name in ("loss", "lr") or metric.name.startswith("val_") or metric.name in names:
            raise ValueError(f"metric name {metric.name!r} is reserved or used twice")
        names.add(metric.name)
        out.append(metric)
    return out


def _compute_metrics(metric_objs, targets, outputs, prefix=""):
    logs = {}
    if not metric_objs:
        return logs
    if targets is None:
        raise ValueError("metrics need targets, but the batches have no target")
    for m in metric_objs:
        logs[prefix + m.name] = m(targets, outputs)
    return logs


# ---------------------------------------------------------------- one pass


def _set_mode(model, training):
    fn = getattr(model, "train", None)
    if callable(fn):
        fn(training)


def _is_training(model):
    return bool(getattr(model, "training", True))


class _Mean:
    """Per-key means weighted by batch size (a key counts only over the batches that logged it)."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def add(self, logs, n):
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v * n
            self.counts[k] = self.counts.get(k, 0) + n

    def result(self, prefix=""):
        return {prefix + k: self.sums[k] / self.counts[k] for k in self.sums}


def _check_finite(logs, epoch, b, keys=None):
    """A NaN or infinite logged loss stops the run, naming the epoch and batch."""
    for k, v in logs.items():
        if (keys is None or k in keys) and "loss" in k and not math.isfinite(v):
            others = {o: w for o, w in logs.items() if o != k and "loss" in o}
            detail = (" (" + ", ".join(f"{o}: {w}" for o, w in others.items()) + ")") if others else ""
            raise FloatingPointError(f"{k} is {v} at epoch {epoch + 1}, batch {b + 1}{detail} "
                                     "(lower the learning rate, scale the inputs or check the data)")


def _update_ema(ema, models):
    for name, averaged in ema.items():
        averaged.update_parameters(models[name])


def _run_epoch(model, loader, objective, optimizer, callbacks, epoch, device, state, batch_schedulers=(),
               ema=None, models=None, ranks=None):
    mean = _Mean()
    outs, tgts = [], []
    seen = 0
    for b, batch in enumerate(loader):
        callbacks.on_batch_begin(b, None)
        args, kwargs, target = split_batch(_to_device(batch, device))
        optimizer.zero_grad()
        output = model(*args, **kwargs)
        objective.resolve(output, target)
        loss, logs = objective.compute(output, target)
        _check_finite(logs, epoch, b, ("loss",))
        loss.backward()
        optimizer.step()
        state.global_step += 1
        for s in batch_schedulers:
            s.step()
        if ema:
            _update_ema(ema, models)
        n = batch_len(target, args, kwargs) or 1
        mean.add(logs, n)
        seen += 1
        if objective.keep_outputs():
            outs.append(host(output))
            tgts.append(host(target) if target is not None else None)
        callbacks.on_batch_end(b, {**logs, "size": n})
    if seen == 0:
        raise ValueError(f"the training data yielded no batch at epoch {epoch + 1}")
    if ranks is not None:
        outs, tgts = _across_ranks(ranks, mean, outs, tgts)
    logs = mean.result()
    if outs:
        logs.update(objective.metric_logs(concat(outs), concat(tgts) if tgts[0] is not None else None))
    return logs


def _across_ranks(ranks, mean, outs, tgts):
    """Sums and counts of every rank in ``mean``; the outputs and targets of every rank (for the epoch's
    metrics) when this rank kept any."""
    ranks.merge_mean(mean)
    if ranks.gather_list([bool(outs)])[0]:
        outs, tgts = ranks.gather_list(outs), ranks.gather_list(tgts)
    return outs, tgts


def _evaluate_loader(model, loader, objective, device, prefix="", ranks=None):
    from .. import no_grad
    was_training = _is_training(model)
    _set_mode(model, False)
    mean = _Mean()
    outs, tgts = [], []
    seen = 0
    try:
        with no_grad():
            for batch in loader:
                args, kwargs, target = split_batch(_to_device(batch, device))
                output = model(*args, **kwargs)
                objective.resolve(output, target)
                _, logs = objective.compute(output, target)
                mean.add(logs, batch_len(target, args, kwargs) or 1)
                seen += 1
                if objective.keep_outputs():
                    outs.append(host(output))
                    tgts.append(host(target) if target is not None else None)
    finally:
        _set_mode(model, was_training)
    if ranks is not None:  # a rank may hold no sample of a small set: only the total must not be empty
        outs, tgts = _across_ranks(ranks, mean, outs, tgts)
        seen = len(mean.counts)
    if seen == 0:
        raise ValueError("the evaluation data yielded no batch")
    logs = mean.result(prefix)
    if outs:
        logs.update(objective.metric_logs(concat(outs), concat(tgts) if tgts[0] is not None else None, prefix))
    return logs


def _step_logs(out, fn_name, epoch, b):
    """The numbers a custom step returned, as floats."""
    if out is None:
        return {}
    if not isinstance(out, dict):
        raise TypeError(f"fit: '{fn_name}' must return a dict of logged numbers, got {type(out).__name__}")
    logs = {}
    for k, v in out.items():
        if not isinstance(k, str):
            raise TypeError(f"fit: '{fn_name}' returned a non-string key {k!r}")
        if _arrays.is_tensor(v) or isinstance(v, np.ndarray):
            if int(np.prod(v.shape)) != 1:
                raise ValueError(f"fit: '{fn_name}' logged {k!r} with shape {tuple(v.shape)}; logged values must be "
                                 "numbers or one-element tensors")
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"fit: '{fn_name}' logged {k!r} as {type(v).__name__}; logged values must be numbers or "
                            "one-element tensors")
        logs[k] = float(v)
    return logs


def _run_steps(step, loader, models_arg, optimizers_arg, callbacks, epoch, device, state, batch_schedulers=(),
               ema=None, models=None, ranks=None):
    mean = _Mean()
    seen = 0
    for b, batch in enumerate(loader):
        callbacks.on_batch_begin(b, None)
        batch = _to_device(batch, device)
        out = step.fn(batch, models_arg, optimizers_arg, state) if step.wants_state else \
            step.fn(batch, models_arg, optimizers_arg)
        logs = _step_logs(out, "train_step", epoch, b)
        _check_finite(logs, epoch, b)
        state.global_step += 1
        for s in batch_schedulers:
            s.step()
        if ema:
            _update_ema(ema, models)
        n = batch_len(batch) or 1
        mean.add(logs, n)
        seen += 1
        callbacks.on_batch_end(b, {**logs, "size": n})
    if seen == 0:
        raise ValueError(f"the training data yielded no batch at epoch {epoch + 1}")
    if ranks is not None:
        ranks.merge_mean(mean)
    return mean.result()


def _validate_steps(step, loader, models, models_arg, device, state, ranks=None):
    from .. import no_grad
    modes = {k: _is_training(m) for k, m in models.items()}
    for m in models.values():
        _set_mode(m, False)
    mean = _Mean()
    seen = 0
    try:
        with no_grad():
            for b, batch in enumerate(loader):
                batch = _to_device(batch, device)
                out = step.fn(batch, models_arg, state) if step.wants_state else step.fn(batch, models_arg)
                mean.add(_step_logs(out, "val_step", state.epoch, b), batch_len(batch) or 1)
                seen += 1
    finally:
        for k, m in models.items():
            _set_mode(m, modes[k])
    if ranks is not None:
        ranks.merge_mean(mean)
        seen = len(mean.counts) or seen
    if seen == 0:
        raise ValueError("the validation data yielded no batch")
    return mean.result("val_")


class _Step:
    """A user step function and whether it takes the TrainState as its last argument."""

    def __init__(self, fn, name, n_args):
        if not callable(fn):
            raise TypeError(f"fit: '{name}' must be callable, got {type(fn).__name__}")
        self.fn = fn
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        # a further parameter with a default (``n_critic=5``) is the user's own, unless it is named ``state``
        extra = positional[n_args] if len(positional) > n_args else None
        self.wants_state = (extra is not None and (extra.default is inspect.Parameter.empty or extra.name == "state")
                            or extra is None and any(p.kind == p.VAR_POSITIONAL for p in params))


def _current_lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        lr = groups[0].get("lr")
        if isinstance(lr, numbers.Real):
            return float(lr)
        if _arrays.is_tensor(lr):
            return float(lr.item())
    return None


def _lr_logs(optimizers):
    """``lr`` (one optimiser) or ``<name>_lr`` for each of several: the rates used during the epoch."""
    out = {}
    for name, opt in optimizers.items():
        lr = _current_lr(opt)
        if lr is not None:
            out["lr" if len(optimizers) == 1 else f"{name}_lr"] = lr
    return out


def _needs_metric(scheduler):
    """Whether ``scheduler.step`` wants the monitored value (ReduceLROnPlateau)."""
    try:
        params = list(inspect.signature(scheduler.step).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].name in ("metrics", "metric", "value") and params[0].default is inspect._empty


def named(obj, arg, default):
    """``{name: obj}`` from one object or a dict of named objects (None gives ``{}``)."""
    if obj is None:
        return {}
    if isinstance(obj, (list, tuple)):
        raise TypeError(f"'{arg}' must be one object or a dict name -> object, got a {type(obj).__name__}")
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"'{arg}' must be keyed by names (str), got the key {k!r}")
        return dict(obj)
    return {default: obj}


def _same_structure(a, b):
    try:
        pa, pb = list(a.named_parameters()), list(b.named_parameters())
    except AttributeError:
        return False
    return [(k, tuple(v.shape)) for k, v in pa] == [(k, tuple(v.shape)) for k, v in pb]


def named_ema(ema, models, where="fit"):
    """``{model_name: AveragedModel}`` from one averaged model (of the single model) or a dict."""
    if ema is None:
        return {}
    if isinstance(ema, dict):
        unknown = [k for k in ema if k not in models]
        if unknown:
            raise ValueError(f"{where}: 'ema' has keys {unknown} that are not model names; the models are "
                             f"{list(models)}")
        out = dict(ema)
    elif len(models) == 1:
        out = {next(iter(models)): ema}
    else:  # the one model whose parameters have the averaged copy's names and shapes
        matches = [k for k, m in models.items() if _same_structure(getattr(ema, "module", None), m)]
        if len(matches) != 1:
            raise ValueError(f"{where}: 'ema' is one averaged model but there are several models {list(models)} and "
                             f"{'none' if not matches else 'several'} of them match its parameters; pass a dict "
                             "{model_name: AveragedModel}")
        out = {matches[0]: ema}
    for k, v in out.items():
        if not callable(getattr(v, "update_parameters", None)):
            raise TypeError(f"{where}: 'ema[{k!r}]' must be an optim.swa_utils.AveragedModel (with "
                            f"update_parameters), got {type(v).__name__}")
    return out


# ---------------------------------------------------------------- public API


def fit(model, train_data, loss_fn=None, optimizer=None, epochs=1, val_data=None, metrics=(), callbacks=(),
        scheduler=None, verbose=1, *, batch_size=32, shuffle=True, initial_epoch=0, device=None,
        scheduler_interval="epoch", resume_from=None, validation_freq=1, loss_weights=None, train_step=None,
        val_step=None, ema=None, distributed=None):
    """Train ``model`` for ``epochs`` epochs; returns a :class:`History`.

    Each epoch: ``model.train()``, one pass over ``train_data`` (``optimizer.zero_grad()``,
    forward, ``loss_fn``, ``backward()``, ``optimizer.step()``), then — every ``validation_freq``
    epochs — ``val_data`` under ``no_grad`` in eval mode, then one ``scheduler.step()`` (given the
    validation loss, or the training loss without validation, for ``ReduceLROnPlateau``), then the
    callbacks' ``on_epoch_end(epoch, logs)`` with ``logs`` holding ``loss``, each metric,
    ``val_loss``, ``val_<metric>`` and ``lr`` (the rate used during the epoch).

    ``metrics``: names (``"accuracy"``, ``"f1"``, ``"mae"``, ...) or callables ``fn(y_true, y_pred)``
    on numpy arrays, computed over the whole epoch. ``verbose``: 0 silent, 1 progress bar (one plain
    line per epoch when the output is not a terminal), 2 one plain line per epoch.
    ``scheduler_interval="batch"`` steps the scheduler after every batch instead (OneCycleLR).
    ``device``: the model is moved there and each batch is copied there; without it batches go to the
    device of the model's parameters.
    ``initial_epoch``: the epoch to start at (``epochs`` is the final epoch, as in Keras);
    ``resume_from``: a checkpoint path written by ``ModelCheckpoint``/``save_checkpoint`` whose models,
    optimisers, schedulers, EMA models, RNG state, epoch and history are restored first.

    Several inputs and outputs (Keras's conventions): ``train_data=(X, Y)`` with ``X`` a tuple/list
    (``model(*X)``) or a dict (``model(**X)``) and ``Y`` a tuple/list or a dict. A model returning a
    tuple has outputs ``output_1, output_2, ...`` (or the names in its ``output_names`` attribute); a
    dict output is named by its keys. ``loss_fn``: one callable (applied to every output), a list
    (by position) or a dict keyed by output name (an output without a loss is skipped);
    ``loss_weights``: a list or a dict (missing weights are 1); the optimised loss is the weighted
    sum. ``metrics``: a list (applied to each output) or a dict output name -> metric(s). The logs
    hold ``loss`` (the weighted total), ``<output>_loss`` (unweighted), ``<output>_<metric>`` and
    ``val_`` before each.

    Custom training step (Keras's ``train_step``): with ``train_step=fn``, ``model`` may be a dict
    name -> Module, ``optimizer`` and ``scheduler`` dicts name -> optimiser/scheduler, and ``fn(batch,
    models, optimizers)`` (or ``fn(batch, models, optimizers, state)``; ``state.global_step`` counts
    the calls so far) does the whole update and returns a dict of numbers to log, averaged over the
    epoch weighted by batch size. ``loss_fn`` and ``metrics`` are not used then. ``val_step(batch,
    models) -> dict`` runs on ``val_data`` under ``no_grad`` in eval mode; its keys are logged with
    ``val_``. Several optimisers log their rates as ``<name>_lr``.

    ``ema``: an ``optim.swa_utils.AveragedModel`` of the model, or a dict ``{model_name:
    AveragedModel}``; ``ema.update_parameters(model)`` runs after every training step, and the EMA
    models are saved in checkpoints and restored on resume.

    Several processes (``distributed``): with a process group initialised (``fastnn.distributed.
    init_process_group``; ``distributed=True`` initialises "gloo" itself) each model is wrapped in
    ``nn.parallel.DistributedDataParallel`` (unless it already is), array and Dataset inputs are dealt
    out by a ``data.DistributedSampler`` (shuffled with a seed drawn from fastnn's generator on rank
    0, ``set_epoch`` called each epoch), validation data are split between the ranks without padding,
    and the logs are reduced across ranks weighted by samples: N processes with ``batch_size=B`` log
    and train as one process with ``batch_size=N*B`` over the same samples. Only rank 0 prints and
    writes checkpoints and logs; a stop decided on rank 0 (EarlyStopping) stops every rank.
    Checkpoints hold the unwrapped models, the sampler's seed and every rank's RNG state, so a run
    resumes with any number of ranks (exactly, dropout included, with as many ranks as before).
    ``distributed=False`` trains each process on its own.

    A NaN or infinite loss (any logged key containing ``loss``) raises ``FloatingPointError`` naming
    the epoch and batch. On any exception (KeyboardInterrupt included) the callbacks'
    ``on_train_end`` still runs before it propagates.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"fit: 'epochs' must be a non-negative int, got {epochs!r}")
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"fit: 'verbose' must be 0, 1 or 2, got {verbose!r}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: 'scheduler_interval' must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if isinstance(validation_freq, bool) or not isinstance(validation_freq, int) or validation_freq < 1:
        raise ValueError(f"fit: 'validation_freq' must be a positive int, got {validation_freq!r}")

    custom = train_step is not None
    models = named(model, "model", "model")
    optimizers = named(optimizer, "optimizer", "optimizer")
    schedulers = named(scheduler, "scheduler", "scheduler")
    if not models:
        raise TypeError("fit: 'model' is None")
    if custom:
        step = _Step(train_step, "train_step", 3)
        vstep = _Step(val_step, "val_step", 2) if val_step is not None else None
        if val_data is not None and vstep is None:
            raise ValueError("fit: 'val_data' needs 'val_step' (batch, models) -> dict with a custom 'train_step'")
        if metrics:
            raise ValueError("fit: 'metrics' are not used with a custom 'train_step'; return them from it or from "
                             "'val_step'")
        if loss_weights is not None:
            raise ValueError("fit: 'loss_weights' is not used with a custom 'train_step'")
        objective = None
    else:
        if isinstance(model, dict):
            raise TypeError("fit: a dict of models needs a custom 'train_step' (batch, models, optimizers) -> dict")
        if val_step is not None:
            raise ValueError("fit: 'val_step' goes with a custom 'train_step'")
        if isinstance(optimizer, dict):
            raise TypeError("fit: a dict of optimizers needs a custom 'train_step' (batch, models, optimizers) -> dict")
        for attr in ("zero_grad", "step"):
            if not callable(getattr(optimizer, attr, None)):
                raise TypeError(f"fit: 'optimizer' must have {attr}(), got {type(optimizer).__name__}")
        objective = Objective(loss_fn, metrics, loss_weights, model)
        objective.check_metrics()  # unknown metric names fail before training
    for name, opt in optimizers.items():
        for attr in ("zero_grad", "step"):
            if not callable(getattr(opt, attr, None)):
                raise TypeError(f"fit: optimizer {name!r} must have {attr}(), got {type(opt).__name__}")
    for name, m in models.items():
        if custom and not callable(getattr(m, "state_dict", None)):
            raise TypeError(f"fit: model {name!r} must be a Module, got {type(m).__name__}")
    ema_models = named_ema(ema, models)
    if device is not None:
        for m in list(models.values()) + list(ema_models.values()):
            if hasattr(m, "to"):
                m.to(device)
    device = _model_device(next(iter(models.values())), device)

    ranks = _distributed.resolve(distributed)
    train_loader = as_loader(train_data, batch_size, shuffle, "train_data")
    val_loader = as_loader(val_data, batch_size, False, "val_data")
    sampler = rank_rngs = None
    streams = loader_streams(train_loader)
    step_model = model      # what the training steps call: the DDP wrappers in a distributed run
    if ranks is not None:
        train_loader, sampler = ranks.train_loader(train_loader, "train_data")
        rank_rngs = _distributed._RankRngStreams(ranks)
        streams = loader_streams(train_loader) + [_distributed._SeedStream(sampler), rank_rngs]
        if val_loader is not None:
            val_loader = ranks.eval_loader(val_loader, "val_data")
        pairs = {k: ranks.wrap(m) for k, m in models.items()}
        models = {k: p[1] for k, p in pairs.items()}
        if isinstance(model, dict):
            step_model, model = {k: p[0] for k, p in pairs.items()}, models
        else:
            step_model, model = next(iter(pairs.values()))
        ema_models = named_ema(ema, models)

    history = None
    global_step = 0
    if resume_from is not None:
        from .checkpoint import resume
        ckpt = resume(resume_from, model, optimizer, scheduler, ema=ema, data_streams=streams)
        initial_epoch = ckpt["epoch"]
        global_step = ckpt["global_step"]
        history = History(ckpt["history"], **ckpt["history_epochs"])
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) or initial_epoch < 0:
        raise ValueError(f"fit: 'initial_epoch' must be a non-negative int, got {initial_epoch!r}")
    if initial_epoch > epochs:
        raise ValueError(f"fit: 'initial_epoch' ({initial_epoch}) is past 'epochs' ({epochs}); 'epochs' is the index "
                         "of the last epoch, not a count of further epochs")

    user_cbs = list(callbacks or ())
    from .callbacks import Callback
    for i, cb in enumerate(user_cbs):
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks[{i}] must be a fastnn.train.Callback, got {type(cb).__name__}")
    given_history = next((c for c in user_cbs if isinstance(c, History)), None)
    if given_history is not None:
        if history is not None:  # carry the restored epochs into the caller's History
            given_history.history, given_history.epoch = history.history, history.epoch
            given_history.key_epochs = history.key_epochs
        history = given_history
    elif history is None:
        history = History()
    cb_list = ([history] if given_history is None else []) + user_cbs
    if verbose and not any(isinstance(c, ProgressBar) for c in user_cbs):
        cb_list.append(ProgressBar("auto" if verbose == 1 else "plain"))
    if ranks is not None and ranks.rank != 0:   # one progress display: rank 0's
        cb_list = [c for c in cb_list if not isinstance(c, ProgressBar)]
    try:
        steps = len(train_loader)
    except TypeError:
        steps = None
    if resume_from is not None and None not in (steps, ckpt["steps_per_epoch"]) and steps != ckpt["steps_per_epoch"]:
        import warnings
        warnings.warn(f"fit: the checkpoint {str(resume_from)!r} was written by a run of {ckpt['steps_per_epoch']} "
                      f"batches per epoch and this run has {steps}: it will not continue exactly as the interrupted "
                      "run (same data and batch_size?)", RuntimeWarning, stacklevel=2)
    if resume_from is None and initial_epoch and steps is not None:
        global_step = int(initial_epoch) * steps  # the steps an uninterrupted run would have counted
    state = TrainState(models=models, optimizers=optimizers, schedulers=schedulers, ema=ema_models,
                       epochs=int(epochs), initial_epoch=int(initial_epoch), steps_per_epoch=steps, history=history,
                       loss_fn=loss_fn, metrics=metrics,
                       global_step=int(global_step), data_streams=streams, rank=0 if ranks is None else ranks.rank,
                       world_size=1 if ranks is None else ranks.world)
    if not custom:
        state.model, state.optimizer, state.scheduler = model, optimizer, scheduler  # as given, even non-Modules
    cbs = CallbackList(cb_list, state)
    plateau = {k: s for k, s in schedulers.items() if _needs_metric(s)}
    batch_scheds = [s for k, s in schedulers.items() if k not in plateau] if scheduler_interval == "batch" else []
    logs = {}
    cbs.on_train_begin()
    try:
        for epoch in range(int(initial_epoch), int(epochs)):
            state.epoch = epoch
            if sampler is not None:
                sampler.set_epoch(epoch)
            cbs.on_epoch_begin(epoch)
            lrs = _lr_logs(optimizers)
            for m in models.values():
                _set_mode(m, True)
            validate = val_loader is not None and (epoch + 1) % validation_freq == 0
            if custom:
                logs = _run_steps(step, train_loader, step_model, optimizer, cbs, epoch, device, state, batch_scheds,
                                  ema_models, models, ranks)
            else:
                logs = _run_epoch(step_model, train_loader, objective, optimizer, cbs, epoch, device, state,
                                  batch_scheds, ema_models, models, ranks)
            if validate and ranks is not None:
                ranks.sync_buffers()      # every rank evaluates with rank 0's BatchNorm statistics
            if validate and custom:
                logs.update(_validate_steps(vstep, val_loader, models, model, device, state, ranks))
            elif validate:
                logs.update(_evaluate_loader(model, val_loader, objective, device, prefix="val_", ranks=ranks))
            logs.update(lrs)
            for name, s in schedulers.items():
                if name in plateau:
                    value = logs.get("val_loss", logs.get("loss"))
                    if value is None:
                        raise ValueError(f"fit: scheduler {name!r} ({type(s).__name__}) needs 'val_loss' or 'loss' in "
                                         f"the logs, got {sorted(logs)}")
                    s.step(value)
                elif scheduler_interval == "epoch":
                    s.step()
            if rank_rngs is not None:
                rank_rngs.gather()        # what a checkpoint written now holds for each rank
            cbs.on_epoch_end(epoch, logs)
            if ranks is not None:
                state.stop_training = ranks.any_stop(state.stop_training)
            if state.stop_training:
                break
    except KeyboardInterrupt:
        state.interrupted = True
        raise
    finally:
        cbs.on_train_end(logs)
    if ranks is not None:
        ranks.dist.barrier()          # rank 0's files are complete when fit returns on any rank
    return history


def evaluate(model, data, loss_fn=None, metrics=(), *, batch_size=256, device=None, loss_weights=None):
    """Loss and metrics of ``model`` on ``data`` in eval mode under ``no_grad``: a dict with
    ``loss`` (mean over samples, when ``loss_fn`` is given) and each metric; with several outputs
    also ``<output>_loss`` and ``<output>_<metric>`` (see :func:`fit`)."""
    loader = as_loader(data, batch_size, False, "data")
    objective = Objective(loss_fn, metrics, loss_weights, model, require_loss=False, where="evaluate")
    objective.check_metrics()
    return _evaluate_loader(model, loader, objective, _model_device(model, device))


def predict(model, data, *, batch_size=256, device=None):
    """The model's outputs on ``data`` (inputs only; a batch's last element is taken as the target
    and ignored when batches have two or more elements), concatenated into one numpy array (a tuple
    or dict of arrays for models with several outputs). Several inputs: ``(X,)`` or ``(X, Y)`` with
    ``X`` a tuple/list or dict of arrays, or a dict of arrays. Runs in eval mode under ``no_grad``."""
    from .. import no_grad
    loader = as_loader(data, batch_size, False, "data")
    device = _model_device(model, device)
    was_training = _is_training(model)
    _set_mode(model, False)
    outs = []
    try:
        with no_grad():
            for batch in loader:
                args, kwargs, _ = split_batch(_to_device(batch, device))
                outs.append(host(model(*args, **kwargs)))
    finally:
        _set_mode(model, was_training)
    if not outs:
        raise ValueError("predict: the data yielded no batch")
    return concat(outs)


class CVResult:
    """Per-fold scores of a cross-validation with their mean and standard deviation (ddof=0)."""

    def __init__(self, folds, histories):
        self.folds = folds
        self.histories = histories
        keys = list(folds[0].keys()) if folds else []
        self.mean = {k: float(np.mean([f[k] for f in folds])) for k in keys}
        self.std = {k: float(np.std([f[k] for f in folds])) for k in keys}

    def __getitem__(self, key):
        return np.array([f[key] for f in self.folds])

    def summary(self, digits=4):
        return "\n".join(f"{k}: {self.mean[k]:.{digits}f} ± {self.std[k]:.{digits}f}" for k in self.mean)

    def __repr__(self):
        return f"CVResult(k={len(self.folds)}, " + ", ".join(
            f"{k}={self.mean[k]:.4f}±{self.std[k]:.4f}" for k in self.mean) + ")"


def cross_validate(build_model, build_optimizer, dataset, loss_fn, k=5, *, epochs=10, metrics=(), batch_size=32,
                   stratify=False, shuffle=True, seed=None, scaler=None, build_scheduler=None, callbacks=None,
                   verbose=0):
    """K-fold cross-validation (sequence 5a): for each fold, a fresh model from ``build_model()``
    and optimiser from ``build_optimizer(model)`` are trained on the other folds and evaluated on
    this one. Returns a :class:`CVResult` (``folds``: per-fold dicts of ``loss`` and each metric;
    ``mean``/``std``; ``summary()`` prints ``mean ± std``).

    ``dataset``: ``(X, y)`` arrays/tensors or a Dataset. ``stratify=True`` keeps class proportions
    per fold (needs labels). ``scaler``: a scaler class or instance (e.g. ``StandardScaler``) fitted
    on each training part only, then applied to both parts (``(X, y)`` data only).
    ``build_scheduler(optimizer)`` and ``callbacks()`` (a function returning a list) are called per fold.
    """
    import copy as _copy

    from ..data.dataset import Subset
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"cross_validate: 'k' must be an int of at least 2, got {k!r}")
    arrays = None
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2:
        X = _arrays.to_numpy(dataset[0], "dataset[0]")
        y = _arrays.to_numpy(dataset[1], "dataset[1]")
        if len(X) != len(y):
            raise ValueError(f"cross_validate: X has {len(X)} samples but y has {len(y)}")
        arrays = (X, y)
        n = len(X)
        labels = y
    else:
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"cross_validate: 'dataset' must be (X, y) or a Dataset, got {type(dataset).__name__}")
        if scaler is not None:
            raise ValueError("cross_validate: 'scaler' needs the data as (X, y) arrays")
        n = len(dataset)
        labels = None
        if stratify:
            tensors = getattr(dataset, "tensors", None)
            labels = _arrays.to_numpy(tensors[-1]) if tensors else np.array(
                [_arrays.to_numpy(dataset[i][-1]) for i in range(n)])
    splitter_cls = StratifiedKFold if stratify else KFold
    splitter = splitter_cls(k, shuffle=shuffle, seed=seed if shuffle else None)
    folds, histories = [], []
    for fold, (tr, te) in enumerate(splitter.split(labels if stratify else n)):
        model = build_model()
        optimizer = build_optimizer(model)
        scheduler = build_scheduler(optimizer) if build_scheduler is not None else None
        if arrays is not None:
            Xtr, Xte, ytr, yte = arrays[0][tr], arrays[0][te], arrays[1][tr], arrays[1][te]
            if scaler is not None:
                sc = scaler() if isinstance(scaler, type) else _copy.deepcopy(scaler)
                Xtr = sc.fit_transform(Xtr)
                Xte = sc.transform(Xte)
            train, test = (Xtr, ytr), (Xte, yte)
        else:
            train, test = Subset(dataset, tr), Subset(dataset, te)
        cbs = callbacks() if callable(callbacks) else list(callbacks or ())
        hist = fit(model, train, loss_fn, optimizer, epochs=epochs, metrics=metrics, callbacks=cbs,
                   scheduler=scheduler, verbose=0, batch_size=batch_size, shuffle=True)
        scores = evaluate(model, test, loss_fn, metrics, batch_size=max(batch_size, 256))
        folds.append(scores)
        histories.append(hist)
        if verbose:
            print(f"fold {fold + 1}/{k}: " + " - ".join(f"{key}: {v:.4f}" for key, v in scores.items()), flush=True)
    return CVResult(folds, histories)
