"""The Keras-style training loop: fit, evaluate, predict, cross_validate.

Data may be given as a DataLoader (or any re-iterable of batches), a Dataset, or a tuple of arrays
or tensors ``(X, y)`` (wrapped in a DataLoader with ``batch_size``; float64 arrays become float32,
the default float dtype). A batch is ``(inputs..., target)``: the model is called as
``model(*inputs)`` and the loss as ``loss_fn(output, target)``; a batch with one element (or a
bare tensor) has no target. Dict batches use the keys ``"x"``/``"input"`` and ``"y"``/``"target"``.
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
from .callbacks import CallbackList, History, ProgressBar, TrainState

# ---------------------------------------------------------------- data


def _to_tensor(x, name):
    if _arrays.is_tensor(x):
        return x
    a = np.asarray(_arrays.to_numpy(x, name))
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    elif a.dtype.kind not in "biuf":
        raise TypeError(f"'{name}' must hold numbers, got dtype {a.dtype}")
    return _arrays.wrap(np.ascontiguousarray(a))


def as_loader(data, batch_size=32, shuffle=False, name="data"):
    """A re-iterable of batches for ``data`` (see the module docstring)."""
    from ..data.dataset import TensorDataset
    if data is None:
        return None
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, tuple) or (isinstance(data, list) and data and
                                   all(isinstance(d, np.ndarray) or _arrays.is_tensor(d) for d in data)):
        if not data:
            raise ValueError(f"'{name}' is an empty tuple")
        tensors = [_to_tensor(d, f"{name}[{i}]") for i, d in enumerate(data)]
        return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle)
    if _arrays.is_tensor(data) or isinstance(data, np.ndarray):
        return DataLoader(TensorDataset(_to_tensor(data, name)), batch_size=batch_size, shuffle=shuffle)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (list, str)):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    if hasattr(data, "__iter__"):
        if iter(data) is data:
            raise TypeError(f"'{name}' is a one-shot iterator; pass a DataLoader or a list of batches, which can be "
                            "iterated once per epoch")
        return data
    raise TypeError(f"'{name}' must be a DataLoader, a Dataset, an iterable of batches or a tuple of arrays/tensors "
                    f"(X, y), got {type(data).__name__}")


_INPUT_KEYS = ("x", "input", "inputs", "image", "images")
_TARGET_KEYS = ("y", "target", "targets", "label", "labels")


def split_batch(batch):
    """``(inputs_tuple, target_or_None)`` from one batch."""
    if _arrays.is_tensor(batch):
        return (batch,), None
    if isinstance(batch, dict):
        xk = next((k for k in _INPUT_KEYS if k in batch), None)
        if xk is None:
            raise TypeError(f"dict batch needs an input key among {_INPUT_KEYS}, got keys {sorted(batch)}")
        yk = next((k for k in _TARGET_KEYS if k in batch), None)
        return (batch[xk],), (batch[yk] if yk is not None else None)
    if isinstance(batch, (list, tuple)):
        if len(batch) == 0:
            raise ValueError("got an empty batch")
        if len(batch) == 1:
            return (batch[0],), None
        return tuple(batch[:-1]), batch[-1]
    raise TypeError(f"a batch must be a Tensor, a tuple/list (inputs..., target) or a dict, got {type(batch).__name__}")


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
        return type(x)(_to_device(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


def _batch_len(inputs, target):
    for x in ((target,) if target is not None else ()) + tuple(inputs):
        if _arrays.is_tensor(x) or isinstance(x, np.ndarray):
            return int(x.shape[0]) if len(x.shape) else 1
        if isinstance(x, (list, tuple)) and x:
            return _batch_len(tuple(x), None)
    return 1


def _host(x):
    """A numpy copy of a batch output/target (tuples concatenated field-wise later)."""
    if isinstance(x, (list, tuple)):
        return tuple(_host(v) for v in x)
    return np.array(_arrays.to_numpy(x), copy=True)


def _concat(parts):
    if not parts:
        return None
    if isinstance(parts[0], tuple):
        return tuple(_concat([p[i] for p in parts]) for i in range(len(parts[0])))
    return np.concatenate([p.reshape(p.shape or (1,)) for p in parts], axis=0)


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
    regression = {"mse": _metrics.mse, "mae": _metrics.mae, "rmse": _metrics.rmse, "r2": _metrics.r2}
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


def _run_epoch(model, loader, loss_fn, optimizer, metric_objs, callbacks, epoch, device, batch_scheduler=None):
    total, count = 0.0, 0
    outs, tgts = [], []
    keep = bool(metric_objs)
    for b, batch in enumerate(loader):
        callbacks.on_batch_begin(b, None)
        inputs, target = split_batch(_to_device(batch, device))
        optimizer.zero_grad()
        output = model(*inputs)
        loss = loss_fn(output, target) if target is not None else loss_fn(output)
        value = float(loss.item())
        if not math.isfinite(value):
            raise FloatingPointError(f"loss is {value} at epoch {epoch + 1}, batch {b + 1} "
                                     "(lower the learning rate, scale the inputs or check the data)")
        loss.backward()
        optimizer.step()
        if batch_scheduler is not None:
            batch_scheduler.step()
        n = _batch_len(inputs, target)
        total += value * n
        count += n
        if keep:
            outs.append(_host(output))
            tgts.append(_host(target) if target is not None else None)
        callbacks.on_batch_end(b, {"loss": value, "size": n})
    if count == 0:
        raise ValueError(f"the training data yielded no batch at epoch {epoch + 1}")
    logs = {"loss": total / count}
    if keep:
        logs.update(_compute_metrics(metric_objs, _concat(tgts) if tgts[0] is not None else None, _concat(outs)))
    return logs


def _evaluate_loader(model, loader, loss_fn, metric_objs, device, prefix=""):
    from .. import no_grad
    was_training = _is_training(model)
    _set_mode(model, False)
    total, count = 0.0, 0
    outs, tgts = [], []
    try:
        with no_grad():
            for batch in loader:
                inputs, target = split_batch(_to_device(batch, device))
                output = model(*inputs)
                n = _batch_len(inputs, target)
                if loss_fn is not None:
                    loss = loss_fn(output, target) if target is not None else loss_fn(output)
                    total += float(loss.item()) * n
                count += n
                if metric_objs:
                    outs.append(_host(output))
                    tgts.append(_host(target) if target is not None else None)
    finally:
        _set_mode(model, was_training)
    if count == 0:
        raise ValueError("the evaluation data yielded no batch")
    logs = {}
    if loss_fn is not None:
        logs[prefix + "loss"] = total / count
    if metric_objs:
        logs.update(_compute_metrics(metric_objs, _concat(tgts) if tgts[0] is not None else None, _concat(outs),
                                     prefix))
    return logs


def _current_lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        lr = groups[0].get("lr")
        if isinstance(lr, numbers.Real):
            return float(lr)
        if _arrays.is_tensor(lr):
            return float(lr.item())
    return None


def _needs_metric(scheduler):
    """Whether ``scheduler.step`` wants the monitored value (ReduceLROnPlateau)."""
    try:
        params = list(inspect.signature(scheduler.step).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].name in ("metrics", "metric", "value") and params[0].default is inspect._empty


# ---------------------------------------------------------------- public API


def fit(model, train_data, loss_fn, optimizer, epochs=1, val_data=None, metrics=(), callbacks=(), scheduler=None,
        verbose=1, *, batch_size=32, shuffle=True, initial_epoch=0, device=None, scheduler_interval="epoch",
        resume_from=None, validation_freq=1):
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
    ``resume_from``: a checkpoint path written by ``ModelCheckpoint``/``save_checkpoint`` whose model,
    optimiser, scheduler, RNG state, epoch and history are restored first.

    A NaN or infinite loss raises ``FloatingPointError`` naming the epoch and batch. On any exception
    (KeyboardInterrupt included) the callbacks' ``on_train_end`` still runs before it propagates.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"fit: 'epochs' must be a non-negative int, got {epochs!r}")
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"fit: 'verbose' must be 0, 1 or 2, got {verbose!r}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: 'scheduler_interval' must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if not callable(loss_fn):
        raise TypeError(f"fit: 'loss_fn' must be callable, got {type(loss_fn).__name__}")
    for attr in ("zero_grad", "step"):
        if not callable(getattr(optimizer, attr, None)):
            raise TypeError(f"fit: 'optimizer' must have {attr}(), got {type(optimizer).__name__}")
    if isinstance(validation_freq, bool) or not isinstance(validation_freq, int) or validation_freq < 1:
        raise ValueError(f"fit: 'validation_freq' must be a positive int, got {validation_freq!r}")
    if device is not None and hasattr(model, "to"):
        model.to(device)
    device = _model_device(model, device)

    train_loader = as_loader(train_data, batch_size, shuffle, "train_data")
    val_loader = as_loader(val_data, batch_size, False, "val_data")
    metric_objs = resolve_metrics(metrics, loss_fn)

    history = None
    if resume_from is not None:
        from .checkpoint import resume
        ckpt = resume(resume_from, model, optimizer, scheduler)
        initial_epoch = ckpt["epoch"]
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
    try:
        steps = len(train_loader)
    except TypeError:
        steps = None
    state = TrainState(model, optimizer, scheduler, epochs=int(epochs), initial_epoch=int(initial_epoch),
                       steps_per_epoch=steps, history=history, loss_fn=loss_fn, metrics=metric_objs)
    cbs = CallbackList(cb_list, state)
    plateau = scheduler is not None and _needs_metric(scheduler)
    batch_sched = scheduler if scheduler is not None and scheduler_interval == "batch" and not plateau else None
    logs = {}
    cbs.on_train_begin()
    try:
        for epoch in range(int(initial_epoch), int(epochs)):
            state.epoch = epoch
            cbs.on_epoch_begin(epoch)
            lr = _current_lr(optimizer)
            _set_mode(model, True)
            logs = _run_epoch(model, train_loader, loss_fn, optimizer, metric_objs, cbs, epoch, device, batch_sched)
            if val_loader is not None and (epoch + 1) % validation_freq == 0:
                logs.update(_evaluate_loader(model, val_loader, loss_fn, metric_objs, device, prefix="val_"))
            if lr is not None:
                logs["lr"] = lr
            if scheduler is not None:
                if plateau:
                    scheduler.step(logs.get("val_loss", logs["loss"]))
                elif batch_sched is None:
                    scheduler.step()
            cbs.on_epoch_end(epoch, logs)
            if state.stop_training:
                break
    except KeyboardInterrupt:
        state.interrupted = True
        raise
    finally:
        cbs.on_train_end(logs)
    return history


def evaluate(model, data, loss_fn=None, metrics=(), *, batch_size=256, device=None):
    """Loss and metrics of ``model`` on ``data`` in eval mode under ``no_grad``: a dict with
    ``loss`` (mean over samples, when ``loss_fn`` is given) and each metric."""
    loader = as_loader(data, batch_size, False, "data")
    return _evaluate_loader(model, loader, loss_fn, resolve_metrics(metrics, loss_fn), _model_device(model, device))


def predict(model, data, *, batch_size=256, device=None):
    """The model's outputs on ``data`` (inputs only; a batch's last element is taken as the target
    and ignored when batches have two or more elements), concatenated into one numpy array (a tuple
    of arrays for models with several outputs). Runs in eval mode under ``no_grad``."""
    from .. import no_grad
    loader = as_loader(data, batch_size, False, "data")
    device = _model_device(model, device)
    was_training = _is_training(model)
    _set_mode(model, False)
    outs = []
    try:
        with no_grad():
            for batch in loader:
                inputs, _ = split_batch(_to_device(batch, device))
                outs.append(_host(model(*inputs)))
    finally:
        _set_mode(model, was_training)
    if not outs:
        raise ValueError("predict: the data yielded no batch")
    return _concat(outs)


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
