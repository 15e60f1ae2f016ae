"""Nested inputs, outputs, targets and losses for the training loop (Keras's multi-input/output
conventions on PyTorch-style models).

Inputs: a tuple/list (the model is called ``model(*inputs)``) or a dict (``model(**inputs)``).
Outputs: a model returning a tuple/list has outputs named ``output_1, output_2, ...`` (or the names
in its ``output_names`` attribute, Keras's name); a dict output is named by its keys. Targets,
losses, loss weights and metrics are matched to the outputs by position (lists) or name (dicts).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..data import _arrays
from ..data.dataset import Dataset

# ---------------------------------------------------------------- nested structures


def is_leaf(x):
    return _arrays.is_tensor(x) or isinstance(x, np.ndarray)


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def is_nested(x):
    """Whether ``x`` is a tuple/list/dict of arrays or tensors (nested inputs or targets): lists of
    strings or token ids and named tuples (PackedSequence) are single values."""
    if isinstance(x, dict):
        return bool(x) and all(is_leaf(v) or is_nested(v) for v in x.values())
    if isinstance(x, (list, tuple)) and not _is_namedtuple(x):
        return bool(x) and all(is_leaf(v) or is_nested(v) for v in x)
    return False


def map_structure(fn, x, path="", keep_none=True):
    """``fn(leaf, path)`` applied to every leaf of a nested tuple/list/dict, keeping the structure."""
    if isinstance(x, dict):
        return {k: map_structure(fn, v, f"{path}[{k!r}]") for k, v in x.items()}
    if isinstance(x, (list, tuple)) and not _is_namedtuple(x):
        return type(x)(map_structure(fn, v, f"{path}[{i}]") for i, v in enumerate(x))
    if x is None and keep_none:
        return None
    return fn(x, path)


def leaves(x, path=""):
    """``[(path, leaf)]`` of a nested structure."""
    out = []
    map_structure(lambda v, p: out.append((p, v)), x, path)
    return out


def to_tensor(x, name):
    """A tensor from an array-like (float64 becomes float32, the default float dtype)."""
    if _arrays.is_tensor(x):
        return x
    a = np.asarray(_arrays.to_numpy(x, name))
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    elif a.dtype.kind not in "biuf":
        raise TypeError(f"'{name}' must hold numbers, got dtype {a.dtype}")
    return _arrays.wrap(np.ascontiguousarray(a))


class StructuredDataset(Dataset):
    """Samples ``(inputs, targets)`` (or ``(inputs,)``) where both may be nested tuples/lists/dicts of
    tensors with one first (sample) dimension."""

    def __init__(self, inputs, targets=None, has_target=True, name="data"):
        self.inputs = map_structure(to_tensor, inputs, f"{name}[0]")
        self.targets = map_structure(to_tensor, targets, f"{name}[1]")
        self.has_target = has_target
        all_leaves = leaves(self.inputs, f"{name}[0]") + (leaves(self.targets, f"{name}[1]") if has_target else [])
        if not all_leaves:
            raise ValueError(f"'{name}' holds no array")
        for path, t in all_leaves:
            if len(t.shape) == 0:
                raise ValueError(f"'{name}': {path} is a scalar; every array needs a first (sample) dimension")
        sizes = [int(t.shape[0]) for _, t in all_leaves]
        if any(s != sizes[0] for s in sizes):
            detail = ", ".join(f"{p}: {s}" for (p, _), s in zip(all_leaves, sizes))
            raise ValueError(f"'{name}': every array needs the same number of samples (first dimension), got {detail}")
        self._n = sizes[0]

    def __len__(self):
        return self._n

    def _take(self, pick):
        x = map_structure(lambda t, _: pick(t), self.inputs)
        if not self.has_target:
            return (x,)
        return x, map_structure(lambda t, _: pick(t), self.targets)

    def __getitem__(self, index):
        return self._take(lambda t: t[index])

    def _fetch_batch(self, indices):
        return self._take(lambda t: _arrays.wrap(t._data[indices]))


def structured_data(data, name="data"):
    """A StructuredDataset when ``data`` is ``(X, Y)``/``(X,)`` with nested X or Y, or a dict of inputs;
    else None (the flat ``(x..., y)`` convention applies)."""
    if isinstance(data, dict):
        if not is_nested(data):
            return None
        return StructuredDataset(data, None, has_target=False, name=name)
    if not isinstance(data, tuple) or not any(is_nested(d) for d in data):
        return None
    if len(data) not in (1, 2):
        raise ValueError(f"'{name}': nested data must be (inputs, targets) or (inputs,), got a tuple of "
                         f"{len(data)} elements")
    if len(data) == 2 and data[1] is not None:
        return StructuredDataset(data[0], data[1], name=name)
    return StructuredDataset(data[0], None, has_target=False, name=name)


_INPUT_KEYS = ("x", "input", "inputs", "image", "images")
_TARGET_KEYS = ("y", "target", "targets", "label", "labels")


def split_batch(batch):
    """``(args, kwargs, target_or_None)`` from one batch: the model is called ``model(*args, **kwargs)``."""
    if _arrays.is_tensor(batch):
        return (batch,), {}, None
    if isinstance(batch, dict):
        xk = next((k for k in _INPUT_KEYS if k in batch), None)
        if xk is None:
            raise TypeError(f"dict batch needs an input key among {_INPUT_KEYS}, got keys {sorted(batch)}")
        yk = next((k for k in _TARGET_KEYS if k in batch), None)
        return (batch[xk],), {}, (batch[yk] if yk is not None else None)
    if isinstance(batch, (list, tuple)):
        if len(batch) == 0:
            raise ValueError("got an empty batch")
        first = batch[0]
        if len(batch) <= 2 and is_nested(first):  # (inputs, targets) with several inputs
            target = batch[1] if len(batch) == 2 else None
            if isinstance(first, dict):
                return (), dict(first), target
            return tuple(first), {}, target
        if len(batch) == 1:
            return (first,), {}, None
        return tuple(batch[:-1]), {}, batch[-1]
    raise TypeError(f"a batch must be a Tensor, a tuple/list (inputs..., target) or a dict, got {type(batch).__name__}")


def batch_len(*parts):
    """The number of samples of a batch: the first dimension of its first array."""
    for x in parts:
        if is_leaf(x):
            return int(x.shape[0]) if len(x.shape) else 1
        if isinstance(x, dict):
            x = tuple(x.values())
        if isinstance(x, (list, tuple)) and x:
            n = batch_len(*x)
            if n is not None:
                return n
    return None


def host(x):
    """A numpy copy of a batch output/target, keeping tuples and dicts (concatenated field-wise later)."""
    if isinstance(x, dict):
        return {k: host(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return tuple(host(v) for v in x)
    return np.array(_arrays.to_numpy(x), copy=True)


def concat(parts):
    if not parts:
        return None
    if isinstance(parts[0], dict):
        return {k: concat([p[k] for p in parts]) for k in parts[0]}
    if isinstance(parts[0], tuple):
        return tuple(concat([p[i] for p in parts]) for i in range(len(parts[0])))
    return np.concatenate([p.reshape(p.shape or (1,)) for p in parts], axis=0)


# ---------------------------------------------------------------- outputs, losses, weights, metrics


def output_names(output, model):
    """The names of a model's outputs (a single tensor has one output)."""
    if isinstance(output, dict):
        return [str(k) for k in output]
    given = getattr(model, "output_names", None)
    if isinstance(output, (list, tuple)) and not _is_namedtuple(output):
        n = len(output)
        if given is not None:
            given = [str(g) for g in given]
            if len(given) != n:
                raise ValueError(f"the model's 'output_names' has {len(given)} names {given} but it returned "
                                 f"{n} outputs")
            return given
        return [f"output_{i + 1}" for i in range(n)]
    if given is not None and len(list(given)) == 1:
        return [str(list(given)[0])]
    return ["output_1"]


def flat_outputs(output, names):
    if isinstance(output, dict):
        by_name = {str(k): v for k, v in output.items()}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ValueError(f"the model returned a dict with keys {list(by_name)}, without the outputs {missing} of "
                             "its first batch")
        return [by_name[n] for n in names]
    if isinstance(output, (list, tuple)) and not _is_namedtuple(output):
        return list(output)
    return [output]


def _dict_by_output(value, names, what, where):
    """``{output_name: value[name] or None}`` from a dict keyed by output names; ``what`` names the dict in
    the error for keys that are not output names."""
    unknown = [k for k in value if k not in names]
    if unknown:
        raise ValueError(f"{where}: {what} {unknown} that are not output names; the model's outputs are {names}")
    return {n: value.get(n) for n in names}


def _by_output(value, names, arg, where):
    """``{output_name: entry}`` from a list/tuple (by position) or a dict (by name; missing names give None)."""
    if isinstance(value, dict):
        return _dict_by_output(value, names, f"'{arg}' has keys", where)
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"{where}: '{arg}' has {len(value)} entries but the model has {len(names)} outputs "
                             f"{names}")
        return dict(zip(names, value))
    return None


class Objective:
    """Losses, loss weights and metrics of a model, matched to its outputs at the first batch.

    Flat mode (one loss callable and a single output, or a single target): ``loss_fn(output,
    target)`` as before. Per-output mode (a loss list/dict, ``loss_weights``, or several outputs with
    several targets): the total loss is ``sum(weight[o] * loss[o](output[o], target[o]))``; the
    logs hold ``loss`` (the total), ``<output>_loss`` (unweighted) and ``<output>_<metric>``.
    """

    def __init__(self, loss_fn, metrics, loss_weights=None, model=None, require_loss=True, where="fit"):
        self.where = where
        if loss_fn is None:
            if require_loss:
                raise TypeError(f"{where}: 'loss_fn' must be callable (or a list/dict of callables), got None")
        elif isinstance(loss_fn, (list, tuple, dict)):
            entries = loss_fn.items() if isinstance(loss_fn, dict) else enumerate(loss_fn)
            for k, f in entries:
                if f is not None and not callable(f):
                    raise TypeError(f"{where}: 'loss_fn[{k!r}]' must be callable or None, got {type(f).__name__}")
        elif not callable(loss_fn):
            raise TypeError(f"{where}: 'loss_fn' must be callable (or a list/dict of callables), got "
                            f"{type(loss_fn).__name__}")
        if loss_weights is not None:
            if not isinstance(loss_weights, (list, tuple, dict)):
                raise TypeError(f"{where}: 'loss_weights' must be a list or a dict keyed by output name, got "
                                f"{type(loss_weights).__name__}")
            entries = loss_weights.items() if isinstance(loss_weights, dict) else enumerate(loss_weights)
            for k, w in entries:
                if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w):
                    raise ValueError(f"{where}: 'loss_weights[{k!r}]' must be a finite number, got {w!r}")
        self.loss_fn = loss_fn
        self.loss_weights = loss_weights
        self.metrics = metrics
        self.model = model
        self.resolved = False
        self.per_output = False
        self.names = None
        self._flat_metrics = None

    def check_metrics(self):
        """Fail on unknown metric names before training (a dict may hold per-output metrics)."""
        from .loop import resolve_metrics
        if isinstance(self.metrics, dict):
            for v in self.metrics.values():
                resolve_metrics(v)
        else:
            resolve_metrics(self.metrics)

    # the flat-mode metric objects
    def flat_metrics(self):
        from .loop import resolve_metrics
        if self._flat_metrics is None:
            self._flat_metrics = resolve_metrics(self.metrics, self.loss_fn if callable(self.loss_fn) else None)
        return self._flat_metrics

    def resolve(self, output, target):
        if self.resolved:
            return
        loss_fn, where = self.loss_fn, self.where
        multi_out = isinstance(output, dict) or (isinstance(output, (list, tuple)) and not _is_namedtuple(output))
        multi_tgt = is_nested(target)
        self.per_output = (isinstance(loss_fn, (list, tuple, dict)) or self.loss_weights is not None
                           or (multi_out and multi_tgt))
        if not self.per_output:
            # one loss on the whole output (a VAE's (reconstruction, mu, logvar)) may still have metrics per
            # output, each against the one target: metrics={"output_1": "mse"}
            names = output_names(output, self.model) if multi_out else None
            if names and isinstance(self.metrics, dict) and self.metrics and all(k in names for k in self.metrics):
                from .loop import resolve_metrics
                self.names, self.multi = names, len(names) > 1
                self.out_metrics = {n: resolve_metrics(self.metrics[n]) if n in self.metrics else [] for n in names}
            else:
                self.flat_metrics()
            self.resolved = True
            return
        names = output_names(output, self.model)
        self.names = names
        # losses
        if isinstance(loss_fn, (list, tuple, dict)):
            losses = _by_output(loss_fn, names, "loss_fn", where)
        elif loss_fn is not None:
            losses = {n: loss_fn for n in names}
        else:
            losses = {n: None for n in names}
        if loss_fn is not None and not any(f is not None for f in losses.values()):
            raise ValueError(f"{where}: 'loss_fn' gives no loss for any of the outputs {names}")
        self.losses = losses
        # weights
        w = _by_output(self.loss_weights, names, "loss_weights", where) \
            if self.loss_weights is not None else {}
        self.weights = {n: 1.0 if w.get(n) is None else float(w[n]) for n in names}
        # metrics
        from .loop import resolve_metrics
        m = self.metrics
        self.out_metrics = {}
        if isinstance(m, dict) and (len(names) > 1 or all(k in names for k in m)):
            per = _by_output(m, names, "metrics", where)
            for n in names:
                self.out_metrics[n] = resolve_metrics(per[n], losses[n]) if per[n] is not None else []
        else:
            for n in names:
                self.out_metrics[n] = resolve_metrics(m, losses[n])
        self.multi = len(names) > 1
        self.resolved = True

    def _targets(self, target):
        """``{output_name: target}`` for the outputs."""
        names, where = self.names, self.where
        if target is None:
            return {n: None for n in names}
        if isinstance(target, dict):
            return _dict_by_output(target, names, "the targets have keys", where)
        with_loss = [n for n in names if self.losses[n] is not None]
        if isinstance(target, (list, tuple)) and not _is_namedtuple(target):
            if len(target) == len(names):
                return dict(zip(names, target))
            if len(target) == len(with_loss):  # one target per output that has a loss (as Keras)
                given = dict(zip(with_loss, target))
                return {n: given.get(n) for n in names}
            raise ValueError(f"{where}: got {len(target)} targets but the model has {len(names)} outputs {names}"
                             + (f" ({len(with_loss)} with a loss)" if len(with_loss) != len(names) else ""))
        if len(names) == 1 or len(with_loss) == 1:
            return {n: (target if n == (names[0] if len(names) == 1 else with_loss[0]) else None) for n in names}
        raise ValueError(f"{where}: got 1 target but the model has {len(names)} outputs {names} with losses "
                         f"{with_loss}; give a tuple/list or a dict of targets")

    def _prefix(self, name):
        return f"{name}_" if self.multi else ""

    def compute(self, output, target):
        """``(total_loss_tensor_or_None, {log_key: float})`` for one batch."""
        if not self.per_output:
            if self.loss_fn is None:
                return None, {}
            loss = self.loss_fn(output, target) if target is not None else self.loss_fn(output)
            return loss, {"loss": float(loss.item())}
        outs = dict(zip(self.names, flat_outputs(output, self.names)))
        tgts = self._targets(target)
        total, logs = None, {}
        for n in self.names:
            fn = self.losses[n]
            if fn is None:
                continue
            t = tgts[n]
            if t is None and target is not None:
                raise ValueError(f"{self.where}: output {n!r} has a loss but no target; the targets cover "
                                 f"{[k for k, v in tgts.items() if v is not None]}")
            loss = fn(outs[n], t) if t is not None else fn(outs[n])
            value = float(loss.item())
            if self.multi:
                logs[f"{n}_loss"] = value
            term = loss * self.weights[n] if self.weights[n] != 1.0 else loss
            total = term if total is None else total + term
        if total is not None:
            logs = {"loss": float(total.item()), **logs}
        return total, logs

    def keep_outputs(self):
        if self.names is None:
            return bool(self.flat_metrics())
        return any(self.out_metrics[n] for n in self.names)

    def metric_logs(self, outputs, targets, prefix=""):
        """Epoch metrics from the concatenated host outputs and targets."""
        from .loop import _compute_metrics
        if self.names is None:
            return _compute_metrics(self.flat_metrics(), targets, outputs, prefix)
        outs = dict(zip(self.names, flat_outputs(outputs, self.names)))
        tgts = self._targets(targets) if self.per_output else {n: targets for n in self.names}
        logs = {}
        for n in self.names:
            if self.out_metrics[n]:
                if tgts[n] is None:
                    raise ValueError(f"{self.where}: metrics of output {n!r} need its target, but the batches have "
                                     "none")
                logs.update(_compute_metrics(self.out_metrics[n], tgts[n], outs[n], prefix + self._prefix(n)))
        return logs
