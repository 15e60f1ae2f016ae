"""Training checkpoints: models, optimisers, schedulers, EMA models, epoch, RNG state and history in one file.

A checkpoint is written with ``fastnn.save`` (a zip of JSON and .npy files, never pickle) to a
temporary name and renamed, so a crash never leaves a half-written file where a good one was.
Resuming restores everything that decides the rest of a run, so a run interrupted after epoch k
and resumed from its checkpoint continues exactly as the uninterrupted run would have.
"""
from __future__ import annotations

import json
import os

FORMAT = "fastnn.checkpoint"
VERSION = 2


def atomic_save(obj, path):
    """``fastnn.save(obj, path)``, creating the folder; the file is written to a temporary name and renamed."""
    from ..serialization import save
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save(obj, path)


def _rng_state_json():
    from .. import random as fastnn_random
    return json.dumps(fastnn_random.get_rng_state())


def loader_streams(loader):
    """The random streams a loader shuffles with when they are its own (``DataLoader(generator=...)``: a
    ``fastnn.Generator``, a numpy Generator or an int seed) rather than fastnn's global one, whose state
    checkpoints already hold."""
    out = []
    batch_sampler = getattr(loader, "batch_sampler", None)
    for sampler in (getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None), batch_sampler):
        draws = getattr(sampler, "_draws", None)
        if draws is None or draws.generator is None:
            continue
        stream = draws._seeded if draws._seeded is not None else draws.generator
        if all(stream is not s for s in out):
            out.append(stream)
    return out


def _stream_state(stream):
    if hasattr(stream, "get_state"):  # fastnn.Generator
        return stream.get_state()
    return stream.bit_generator.state  # numpy Generator


def _set_stream_state(stream, state):
    if hasattr(stream, "set_state"):
        stream.set_state(state)
    else:
        stream.bit_generator.state = state


def _named(obj, default):
    from .loop import named
    return named(obj, default, default)


def save_checkpoint(path, model, optimizer=None, scheduler=None, epoch=0, history=None, extra=None, *, ema=None,
                    global_step=0, data_streams=(), steps_per_epoch=None):
    """Write a resumable checkpoint.

    ``model``, ``optimizer``, ``scheduler``: one object each, or dicts name -> object (a run with
    several models: a generator and a critic with their optimisers and schedulers). ``ema``: an
    ``AveragedModel`` or a dict model name -> AveragedModel. ``epoch`` is the number of epochs
    completed (the ``initial_epoch`` a resumed run starts at), ``global_step`` the training steps run.
    ``history`` is a History callback or its ``.history`` dict; ``extra`` any JSON-serialisable dict;
    ``data_streams`` the loader's own shuffling streams (:func:`loader_streams`); ``steps_per_epoch``
    the batches per epoch of the run (a resumed run with other batches warns). The RNG states and
    history are stored as JSON strings (they hold 128-bit integers and NaNs).

    In a run of several processes only rank 0 writes (the others return at once), so every rank may
    call it; a ``DistributedDataParallel`` model is saved unwrapped (its ``.module``), so the
    checkpoint resumes with any number of processes.
    """
    from ._distributed import is_main_process
    if not is_main_process():
        return
    models = {k: _unwrapped(m) for k, m in _named(model, "model").items()}
    if not models:
        raise TypeError("save_checkpoint: 'model' is None")
    for k, m in models.items():
        if not hasattr(m, "state_dict"):
            raise TypeError(f"save_checkpoint: model {k!r} must have a state_dict(), got {type(m).__name__}")
    hist = getattr(history, "history", history)
    state = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "global_step": int(global_step),
        "steps_per_epoch": -1 if steps_per_epoch is None else int(steps_per_epoch),
        "models": {k: m.state_dict() for k, m in models.items()},
        "optimizers": {k: o.state_dict() for k, o in _named(optimizer, "optimizer").items()},
        "schedulers": {k: s.state_dict() for k, s in _named(scheduler, "scheduler").items()},
        "ema": {k: m.state_dict() for k, m in _named(ema, "model").items()},
        "rng_state": _rng_state_json(),
        "data_rng_state": json.dumps([_stream_state(g) for g in (data_streams or ())]),
        "history": json.dumps(hist if hist is not None else {}),
        "history_epochs": json.dumps({"epoch": history.epoch, "key_epochs": history.key_epochs}
                                     if hasattr(history, "key_epochs") else {}),
        "extra": json.dumps(extra if extra is not None else {}),
    }
    atomic_save(state, path)


def _unwrapped(model):
    """The module inside a DistributedDataParallel wrapper (checkpoints hold names without 'module.')."""
    from ..nn.parallel import DistributedDataParallel
    return model.module if isinstance(model, DistributedDataParallel) else model


def _first(d):
    return next(iter(d.values()), None) if d else None


def load_checkpoint(path, map_location=None):
    """The checkpoint at ``path`` as a dict: ``epoch``, ``global_step``, ``steps_per_epoch`` (None when
    unknown), ``models``, ``optimizers``, ``schedulers``, ``ema`` (dicts name -> state dict, empty when
    absent), ``model``, ``optimizer``, ``scheduler`` (the first of each, ``None`` when absent),
    ``rng_state``, ``data_rng_state``, ``history``, ``history_epochs`` (``epoch`` and ``key_epochs``
    for ``History``; empty when saved from a plain dict), ``extra``. Tensors go where
    ``map_location`` says (see ``fastnn.load``), by default to their saved device."""
    from ..serialization import load
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path!r}")
    state = load(path, map_location=map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"load_checkpoint: {path!r} is not a fastnn training checkpoint "
                         "(use fastnn.load for plain saved objects)")
    if int(state.get("version", 1)) == 1:  # one model, optimiser and scheduler
        models = {"model": state["model"]}
        optimizers = {"optimizer": state["optimizer"]} if state.get("optimizer") is not None else {}
        schedulers = {"scheduler": state["scheduler"]} if state.get("scheduler") is not None else {}
        ema = {}
    else:
        models, optimizers = dict(state["models"]), dict(state["optimizers"])
        schedulers, ema = dict(state["schedulers"]), dict(state["ema"])
    return {
        "epoch": int(state["epoch"]),
        "global_step": int(state.get("global_step", 0)),
        "steps_per_epoch": None if int(state.get("steps_per_epoch", -1)) < 0 else int(state["steps_per_epoch"]),
        "models": models,
        "optimizers": optimizers,
        "schedulers": schedulers,
        "ema": ema,
        "model": _first(models),
        "optimizer": _first(optimizers),
        "scheduler": _first(schedulers),
        "rng_state": json.loads(state["rng_state"]),
        "data_rng_state": json.loads(state.get("data_rng_state", "[]")),
        "history": json.loads(state["history"]),
        # epochs run and epochs of each history key (absent from checkpoints of a plain dict)
        "history_epochs": json.loads(state.get("history_epochs", "{}")),
        "extra": json.loads(state["extra"]),
    }


def _load_into(given, saved, what, path):
    """Load ``saved[name]`` into each given object; one given object takes the checkpoint's only (or
    same-named) entry."""
    if not given:
        return
    if not saved:
        raise ValueError(f"resume: checkpoint {path!r} holds no {what} state")
    if len(given) == 1 and len(saved) == 1:
        pairs = [(next(iter(given.values())), next(iter(saved.values())))]
    else:
        missing = [k for k in given if k not in saved]
        if missing:
            raise ValueError(f"resume: checkpoint {path!r} holds no {what} state for {missing}; it holds "
                             f"{list(saved)}")
        pairs = [(obj, saved[k]) for k, obj in given.items()]
    for obj, sd in pairs:
        obj.load_state_dict(sd)


def resume(path, model, optimizer=None, scheduler=None, restore_rng=True, *, ema=None, data_streams=()):
    """Load a checkpoint into ``model`` (and ``optimizer``/``scheduler``/``ema`` when given; each one
    object or a dict by name) and restore fastnn's global RNG state (and the states of
    ``data_streams``, a loader's own shuffling streams, when the checkpoint holds as many); returns
    the checkpoint dict, whose ``epoch`` is the ``initial_epoch`` to pass to ``fit``."""
    # straight to the model's device: a checkpoint saved on a GPU resumes on a CPU-only machine
    from .loop import _model_device
    models = {k: _unwrapped(m) for k, m in _named(model, "model").items()}
    if not models:
        raise TypeError("resume: 'model' is None")
    ckpt = load_checkpoint(path, map_location=_model_device(next(iter(models.values())), None) or "cpu")
    path = os.fspath(path)
    _load_into(models, ckpt["models"], "model", path)
    _load_into(_named(optimizer, "optimizer"), ckpt["optimizers"], "optimizer", path)
    _load_into(_named(scheduler, "scheduler"), ckpt["schedulers"], "scheduler", path)
    _load_into(_named(ema, "model"), ckpt["ema"], "ema", path)
    if restore_rng:
        from .. import random as fastnn_random
        fastnn_random.set_rng_state(ckpt["rng_state"])
        saved_streams = ckpt["data_rng_state"]
        if data_streams and len(saved_streams) == len(data_streams):
            for stream, st in zip(data_streams, saved_streams):
                _set_stream_state(stream, st)
    return ckpt
