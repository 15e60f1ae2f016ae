"""Callbacks for the training loop, with Keras's names and hooks.

Every hook receives the 0-based ``epoch`` (or batch index) and a ``logs`` dict. A callback sees
the run through ``self.state`` (a :class:`TrainState`): ``state.model``, ``state.optimizer``,
``state.scheduler`` (the single or first ones), ``state.models``, ``state.optimizers``,
``state.schedulers``, ``state.ema`` (dicts by name), ``state.epochs``, ``state.global_step``,
``state.history``; setting ``state.stop_training = True`` ends the run after the current epoch.
Custom loops can drive the same callbacks through :class:`CallbackList`; ``fit(train_step=...)``
runs GAN-style steps inside the loop itself.
"""
from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
import warnings

import numpy as np

from .._atomic import atomic_open


def _main(state):
    """Whether this process prints and writes files (rank 0 of a distributed run)."""
    from ._distributed import is_main_process
    return is_main_process(state)


class TrainState:
    """What callbacks may read (and ``stop_training``, which they may set) during a run.

    ``models``, ``optimizers``, ``schedulers`` and ``ema`` are dicts by name (a run of one model has
    ``{"model": model}``, ``{"optimizer": ...}``, ...); ``model``, ``optimizer`` and ``scheduler``
    are the single (or first) ones. ``global_step`` counts the training steps (batches) so far."""

    def __init__(self, model=None, optimizer=None, scheduler=None, epochs=0, initial_epoch=0,
                 steps_per_epoch=None, history=None, *, models=None, optimizers=None, schedulers=None, ema=None,
                 global_step=0, **extra):
        self.models = dict(models) if models is not None else ({"model": model} if model is not None else {})
        self.optimizers = dict(optimizers) if optimizers is not None else (
            {"optimizer": optimizer} if optimizer is not None else {})
        self.schedulers = dict(schedulers) if schedulers is not None else (
            {"scheduler": scheduler} if scheduler is not None else {})
        self.ema = dict(ema) if ema is not None else {}
        self.model = model if model is not None else next(iter(self.models.values()), None)
        self.optimizer = optimizer if optimizer is not None else next(iter(self.optimizers.values()), None)
        self.scheduler = scheduler if scheduler is not None else next(iter(self.schedulers.values()), None)
        self.epochs = epochs
        self.initial_epoch = initial_epoch
        self.steps_per_epoch = steps_per_epoch
        self.history = history
        self.epoch = initial_epoch
        self.global_step = global_step
        self.stop_training = False
        self.interrupted = False
        for k, v in extra.items():
            setattr(self, k, v)


class Callback:
    """Base class: override the hooks you need."""

    state: TrainState = None

    def set_state(self, state):
        self.state = state

    @property
    def model(self):
        return None if self.state is None else self.state.model

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass


class CallbackList:
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks=(), state=None):
        self.callbacks = list(callbacks)
        for i, cb in enumerate(self.callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks[{i}] must be a fastnn.train.Callback, got {type(cb).__name__}")
        if state is not None:
            self.set_state(state)

    def set_state(self, state):
        for cb in self.callbacks:
            cb.set_state(state)

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None):
        # Every callback gets its chance to clean up, even when one of them raises.
        error = None
        for cb in self.callbacks:
            try:
                cb.on_train_end(logs)
            except Exception as exc:  # noqa: BLE001 - re-raised below
                error = error or exc
        if error is not None:
            raise error

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)


class History(Callback):
    """Per-epoch values: ``history[key]`` lists the values of ``key`` (``loss``, ``val_loss``, each
    metric, ``val_<metric>``, ``lr``) for the epochs where it was logged, as Keras does: with
    ``validation_freq=k`` the ``val_*`` lists hold one entry per validation. ``epoch`` lists the
    0-based epochs run; ``epochs_of(key)`` the epochs of ``history[key]``'s entries.

    ``key_epochs`` (from a checkpoint) gives ``epochs_of`` for each key; without it a key with
    fewer entries than epochs is taken as logged every ``len(epoch) // len(values)`` epochs."""

    def __init__(self, history=None, epoch=None, key_epochs=None):
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self.epoch = list(epoch) if epoch is not None else (
            list(range(max(len(v) for v in self.history.values()))) if self.history else [])
        self.key_epochs = {k: list(v) for k, v in (key_epochs or {}).items() if k in self.history}
        for k, v in self.history.items():
            if k not in self.key_epochs:
                self.key_epochs[k] = self._spread(len(v))

    def _spread(self, n):
        if n >= len(self.epoch) or n == 0:
            return list(self.epoch[:n])
        every = len(self.epoch) // n
        return [self.epoch[(i + 1) * every - 1] for i in range(n)]

    def epochs_of(self, key):
        """The 0-based epochs at which ``history[key]``'s values were logged."""
        if key not in self.history:
            raise KeyError(f"History.epochs_of: no values recorded for {key!r} (keys {sorted(self.history)})")
        return list(self.key_epochs[key])

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
            self.key_epochs.setdefault(k, []).append(epoch)

    def best(self, key, mode="auto"):
        """``(epoch, value)`` of the best value of ``key`` (min, or max for scores)."""
        values = np.asarray(self.history[key], dtype=np.float64)
        if np.all(np.isnan(values)):
            raise ValueError(f"History.best: no value recorded for {key!r}")
        i = int(np.nanargmax(values) if _resolve_mode(mode, key) == "max" else np.nanargmin(values))
        return self.key_epochs[key][i], float(values[i])

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


_MAX_KEYS = ("acc", "accuracy", "f1", "precision", "recall", "r2", "auc")


def _resolve_mode(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"'mode' must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if name in _MAX_KEYS or name.endswith(("acc", "accuracy", "f1")) else "min"


class _Monitor:
    """Tracks the best value of one logged quantity."""

    def __init__(self, monitor, mode, min_delta=0.0):
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None

    def improved(self, current):
        if current is None or not math.isfinite(current):
            return False
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def value(self, logs):
        v = (logs or {}).get(self.monitor)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return float(v)


def _copy_state_dict(model):
    from ..data import _arrays
    out = {}
    for k, v in model.state_dict().items():
        if _arrays.is_tensor(v):
            out[k] = _arrays.wrap(v._data.copy())
        else:
            out[k] = v.copy() if hasattr(v, "copy") else v
    return out


class ModelCheckpoint(Callback):
    """Save the model during training.

    Args:
        filepath: where to write; may hold format fields such as ``{epoch:03d}`` (1-based) or
            ``{val_loss:.4f}`` filled from the epoch's logs.
        monitor, mode: the logged quantity that defines "best"; ``mode="auto"`` maximises
            accuracies/F1/R² and minimises the rest.
        save_best_only: write only when ``monitor`` improves (else at every check).
        every_n_epochs: check every n epochs (1 = each epoch); with ``save_best_only=False`` this
            gives periodic checkpoints.
        save_weights_only: write only ``model.state_dict()``; otherwise a resumable checkpoint
            (model, optimiser, scheduler, epoch, RNG state, history) readable by ``resume``.

    After training, ``best_score``, ``best_epoch`` (0-based) and ``best_path`` describe the best
    checkpoint; ``restore()`` loads its weights into the model.
    """

    def __init__(self, filepath, monitor="val_loss", mode="auto", save_best_only=True, every_n_epochs=1,
                 save_weights_only=False, verbose=0):
        if every_n_epochs is None:
            every_n_epochs = 1
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(f"ModelCheckpoint: 'every_n_epochs' must be a positive int, got {every_n_epochs!r}")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self._tracker = _Monitor(monitor, mode)
        self.mode = self._tracker.mode
        self.save_best_only = save_best_only
        self.every_n_epochs = every_n_epochs
        self.save_weights_only = save_weights_only
        self.verbose = verbose
        self.best_path = None
        self.last_path = None
        self.saved_paths = []
        self._warned = False

    @property
    def best_score(self):
        return None if self._tracker.best_epoch is None else self._tracker.best

    @property
    def best_epoch(self):
        return self._tracker.best_epoch

    def on_train_begin(self, logs=None):
        # A resumed run continues from the best value already recorded in its history.
        hist = getattr(self.state, "history", None)
        if hist is not None and self.monitor in hist.history and self.save_best_only:
            for e, v in zip(hist.epochs_of(self.monitor), hist.history[self.monitor]):
                if (e + 1) % self.every_n_epochs == 0 and self._tracker.improved(v):
                    self._tracker.best, self._tracker.best_epoch = float(v), e

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint: cannot fill {self.filepath!r} from epoch={epoch + 1} and logs "
                             f"{sorted((logs or {}).keys())}: {exc}") from None

    def _save(self, path, epoch):
        from ._distributed import is_main_process
        from .checkpoint import atomic_save, save_checkpoint
        st = self.state
        if not is_main_process(st):
            pass                            # one file per run: rank 0 writes it
        elif self.save_weights_only:
            models = st.models or {"model": st.model}
            atomic_save(st.model.state_dict() if len(models) == 1 else
                        {k: m.state_dict() for k, m in models.items()}, path)
        else:
            save_checkpoint(path, st.models or st.model, st.optimizers or st.optimizer, st.schedulers or st.scheduler,
                            epoch=epoch + 1, history=st.history, ema=st.ema or None,
                            global_step=getattr(st, "global_step", 0), data_streams=getattr(st, "data_streams", ()),
                            steps_per_epoch=getattr(st, "steps_per_epoch", None))
        self.last_path = path
        if path not in self.saved_paths:
            self.saved_paths.append(path)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs != 0:
            return
        current = self._tracker.value(logs)
        if self.save_best_only:
            if current is None:
                if not self._warned:
                    warnings.warn(f"ModelCheckpoint: '{self.monitor}' is not in the logs "
                                  f"({sorted((logs or {}).keys())}); nothing saved", RuntimeWarning, stacklevel=2)
                    self._warned = True
                return
            if not self._tracker.improved(current):
                return
            self._tracker.best, self._tracker.best_epoch = current, epoch
            path = self._path(epoch, logs)
            self._save(path, epoch)
            self.best_path = path
            if self.verbose and _main(self.state):
                print(f"Epoch {epoch + 1}: {self.monitor} improved to {current:.5g}, saved {path}")
        else:
            if current is not None and self._tracker.improved(current):
                self._tracker.best, self._tracker.best_epoch = current, epoch
                self.best_path = self._path(epoch, logs)
            path = self._path(epoch, logs)
            self._save(path, epoch)
            if self.verbose and _main(self.state):
                print(f"Epoch {epoch + 1}: saved {path}")

    def restore(self, model=None):
        """Load the best saved weights (or the last saved, when nothing was monitored) into ``model``
        (default: the trained model, or every trained model and EMA model of a run with several;
        a dict name -> model picks some); returns the model (or the dict of models)."""
        path = self.best_path or self.last_path
        if path is None:
            raise RuntimeError("ModelCheckpoint.restore: no checkpoint has been written yet")
        st = self.state
        trained = dict(getattr(st, "models", None) or {}) if st is not None else {}
        if model is None:
            if not trained:
                raise RuntimeError("ModelCheckpoint.restore: pass the model to load the weights into")
            targets, ema = trained, dict(getattr(st, "ema", None) or {})
        elif isinstance(model, dict):
            targets, ema = dict(model), {}
        else:
            name = next((k for k, m in trained.items() if m is model), None)
            targets, ema = {name or "model": model}, {}
        if self.save_weights_only:
            from ..serialization import load
            saved = load(path)
            saved = {"model": saved} if len(trained) <= 1 else saved
            if len(saved) == 1 and len(targets) == 1:
                saved = {next(iter(targets)): next(iter(saved.values()))}
            ema_saved = {}
        else:
            from .checkpoint import load_checkpoint
            ck = load_checkpoint(path)
            saved, ema_saved = ck["models"], ck["ema"]
            if len(saved) == 1 and len(targets) == 1:
                saved = {next(iter(targets)): next(iter(saved.values()))}
        missing = [k for k in targets if k not in saved]
        if missing:
            raise ValueError(f"ModelCheckpoint.restore: {path!r} holds no weights for {missing}; it holds "
                             f"{list(saved)}")
        for k, m in targets.items():
            m.load_state_dict(saved[k])
        for k, m in ema.items():
            if k in ema_saved:
                m.load_state_dict(ema_saved[k])
        if model is None:
            return targets if len(targets) > 1 else next(iter(targets.values()))
        return model


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``restore_best_weights=True`` puts the weights of the best epoch back into the model at the end
    of training. ``baseline``: a value to beat before anything counts as an improvement;
    ``start_from_epoch``: epochs of warm-up during which nothing is monitored.
    After training, ``stopped_epoch`` is the 0-based epoch where it stopped (None if it did not),
    ``best_epoch`` and ``best`` the best epoch and value.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", restore_best_weights=False,
                 baseline=None, start_from_epoch=0, verbose=0):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: 'patience' must be a non-negative int, got {patience!r}")
        self.monitor = monitor
        self.min_delta = min_delta
        self.patience = patience
        self.mode = _resolve_mode(mode, monitor)
        self.restore_best_weights = restore_best_weights
        self.baseline = baseline
        self.start_from_epoch = start_from_epoch
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self._tracker = _Monitor(self.monitor, self.mode, self.min_delta)
        if self.baseline is not None:
            self._tracker.best = float(self.baseline)
        self.wait = 0
        self.stopped_epoch = None
        self.best_weights = None
        self._warned = False

    @property
    def best(self):
        return self._tracker.best

    @property
    def best_epoch(self):
        return self._tracker.best_epoch

    def on_train_begin(self, logs=None):
        self._reset()
        hist = getattr(self.state, "history", None)
        if hist is not None and self.monitor in hist.history:  # resumed run: replay the recorded epochs
            for e, v in zip(hist.epochs_of(self.monitor), hist.history[self.monitor]):
                if e < self.start_from_epoch:
                    continue
                if self._tracker.improved(v):
                    self._tracker.best, self._tracker.best_epoch, self.wait = float(v), e, 0
                else:
                    self.wait += 1

    def _weighted(self):
        """The models (and EMA models) whose weights are kept: every one of the run."""
        st = self.state
        models = dict(getattr(st, "models", None) or {"model": self.model})
        models.update({f"ema:{k}": m for k, m in (getattr(st, "ema", None) or {}).items()})
        return models

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        current = self._tracker.value(logs)
        if current is None:
            if not self._warned:
                warnings.warn(f"EarlyStopping: '{self.monitor}' is not in the logs ({sorted((logs or {}).keys())})",
                              RuntimeWarning, stacklevel=2)
                self._warned = True
            return
        if self._tracker.improved(current):
            self._tracker.best, self._tracker.best_epoch = current, epoch
            self.wait = 0
            if self.restore_best_weights:
                kept = {k: _copy_state_dict(m) for k, m in self._weighted().items()}
                # one model: its state dict itself; several: a dict of them by name ("ema:<name>" for EMA models)
                self.best_weights = next(iter(kept.values())) if len(kept) == 1 else kept
            return
        self.wait += 1
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.state.stop_training = True
            if self.verbose and _main(self.state):
                print(f"Epoch {epoch + 1}: early stopping ({self.monitor} did not improve for {self.wait} epochs; "
                      f"best {self._tracker.best:.5g} at epoch {self._tracker.best_epoch + 1})")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            models = self._weighted()
            for k, m in models.items():
                m.load_state_dict(self.best_weights if len(models) == 1 else self.best_weights[k])
            if self.verbose and _main(self.state):
                print(f"Restored the weights of epoch {self._tracker.best_epoch + 1}")


def _fmt(v):
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4f}"
    return str(v)


def format_logs(logs):
    return " - ".join(f"{k}: {_fmt(v)}" for k, v in logs.items())


class ProgressBar(Callback):
    """Live progress: a tqdm bar over the batches when tqdm is installed and the output is a
    terminal; otherwise one plain line per epoch (``Epoch 3/10 - 0.4s - loss: ... - val_loss: ...``).

    ``mode``: ``"auto"``, ``"bar"`` (tqdm, required) or ``"plain"``; ``stream`` defaults to stdout.
    """

    def __init__(self, mode="auto", stream=None):
        if mode not in ("auto", "bar", "plain"):
            raise ValueError(f"ProgressBar: 'mode' must be 'auto', 'bar' or 'plain', got {mode!r}")
        self.mode = mode
        self.stream = stream
        self._bar = None
        self._bar_mode = False
        self._t0 = None

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _use_bar(self):
        if self.mode == "plain":
            return False
        try:
            import tqdm  # noqa: F401
        except ImportError:
            if self.mode == "bar":
                raise ImportError("ProgressBar(mode='bar') needs tqdm: pip install tqdm") from None
            return False
        if self.mode == "bar":
            return True
        out = self._out()
        return bool(getattr(out, "isatty", None) and out.isatty())

    def on_train_begin(self, logs=None):
        self._bar_mode = self._use_bar()

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        self._epoch = epoch
        if self._bar_mode:
            from tqdm.auto import tqdm
            total = getattr(self.state, "steps_per_epoch", None)
            self._bar = tqdm(total=total, desc=f"Epoch {epoch + 1}/{self.state.epochs}", file=self._out(),
                             leave=False, dynamic_ncols=True, unit="batch")

    def on_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)
            shown = {k: f"{v:.4f}" for k, v in (logs or {}).items() if "loss" in k and isinstance(v, float)}
            if shown and batch % 10 == 0:
                self._bar.set_postfix(dict(list(shown.items())[:4]), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        line = f"Epoch {epoch + 1}/{self.state.epochs}"
        if self._t0 is not None:
            line += f" - {time.perf_counter() - self._t0:.1f}s"
        if logs:
            line += " - " + format_logs(logs)
        out = self._out()
        print(line, file=out, flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class CSVLogger(Callback):
    """One CSV row per epoch: ``epoch`` (0-based) then the logged values in sorted order.

    ``append=True`` keeps the rows already in the file (a resumed run). The file is rewritten
    atomically after each epoch, so it is complete whenever it exists.
    """

    def __init__(self, filename, separator=",", append=False):
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self._rows = []
        self._keys = []

    def on_train_begin(self, logs=None):
        self._rows, self._keys = [], []
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                reader = csv.DictReader(f, delimiter=self.separator)
                self._keys = [k for k in (reader.fieldnames or []) if k != "epoch"]
                self._rows = [dict(r) for r in reader]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for k in sorted(logs):
            if k not in self._keys:
                self._keys.append(k)
        row = {"epoch": epoch}
        row.update(logs)
        self._rows.append(row)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["epoch"] + self._keys, delimiter=self.separator,
                                lineterminator="\n", restval="")
        writer.writeheader()
        for r in self._rows:
            writer.writerow({k: r.get(k, "") for k in ["epoch"] + self._keys})
        if _main(self.state):
            with atomic_open(self.filename, "w", makedirs=True, newline="") as f:
                f.write(buf.getvalue())


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None):
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_batch_begin=on_batch_begin,
                     on_batch_end=on_batch_end, on_train_begin=on_train_begin, on_train_end=on_train_end)
        for name, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback: '{name}' must be callable, got {type(fn).__name__}")
                setattr(self, name, fn)
