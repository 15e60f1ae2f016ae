"""Training checkpoints: model, optimiser, scheduler, epoch, RNG state and history in one file.

A checkpoint is written with ``fastnn.save`` (a zip of JSON and .npy files, never pickle) to a
temporary name and renamed, so a crash never leaves a half-written file where a good one was.
Resuming restores everything that decides the rest of a run, so a run interrupted after epoch k
and resumed from its checkpoint continues exactly as the uninterrupted run would have.
"""
from __future__ import annotations

import json
import os

FORMAT = "fastnn.checkpoint"
VERSION = 1


def atomic_save(obj, path):
    """``fastnn.save(obj, path)``, creating the folder; the file is written to a temporary name and renamed."""
    from ..serialization import save
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save(obj, path)


def _rng_state_json():
    from .. import random as fastnn_random
    return json.dumps(fastnn_random.get_rng_state())


def save_checkpoint(path, model, optimizer=None, scheduler=None, epoch=0, history=None, extra=None):
    """Write a resumable checkpoint.

    ``epoch`` is the number of epochs completed (the ``initial_epoch`` a resumed run starts at).
    ``history`` is a History callback or its ``.history`` dict; ``extra`` any JSON-serialisable dict.
    The RNG state and history are stored as JSON strings (they hold 128-bit integers and NaNs).
    """
    if not hasattr(model, "state_dict"):
        raise TypeError(f"save_checkpoint: 'model' must have a state_dict(), got {type(model).__name__}")
    hist = getattr(history, "history", history)
    state = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "rng_state": _rng_state_json(),
        "history": json.dumps(hist if hist is not None else {}),
        "history_epochs": json.dumps({"epoch": history.epoch, "key_epochs": history.key_epochs}
                                     if hasattr(history, "key_epochs") else {}),
        "extra": json.dumps(extra if extra is not None else {}),
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    atomic_save(state, path)


def load_checkpoint(path, map_location=None):
    """The checkpoint at ``path`` as a dict: ``epoch``, ``model``, ``optimizer``, ``scheduler``
    (state dicts, the last two ``None`` when absent), ``rng_state``, ``history``, ``history_epochs``
    (``epoch`` and ``key_epochs`` for ``History``; empty when saved from a plain dict), ``extra``.
    Tensors go where ``map_location`` says (see ``fastnn.load``), by default to their saved device."""
    from ..serialization import load
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path!r}")
    state = load(path, map_location=map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"load_checkpoint: {path!r} is not a fastnn training checkpoint "
                         "(use fastnn.load for plain saved objects)")
    return {
        "epoch": int(state["epoch"]),
        "model": state["model"],
        "optimizer": state.get("optimizer"),
        "scheduler": state.get("scheduler"),
        "rng_state": json.loads(state["rng_state"]),
        "history": json.loads(state["history"]),
        # epochs run and epochs of each history key (absent from checkpoints of a plain dict)
        "history_epochs": json.loads(state.get("history_epochs", "{}")),
        "extra": json.loads(state["extra"]),
    }


def resume(path, model, optimizer=None, scheduler=None, restore_rng=True):
    """Load a checkpoint into ``model`` (and ``optimizer``/``scheduler`` when given) and restore
    fastnn's global RNG state; returns the checkpoint dict, whose ``epoch`` is the ``initial_epoch``
    to pass to ``fit``."""
    # straight to the model's device: a checkpoint saved on a GPU resumes on a CPU-only machine
    from .loop import _model_device
    ckpt = load_checkpoint(path, map_location=_model_device(model, None) or "cpu")
    model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        if ckpt["optimizer"] is None:
            raise ValueError(f"resume: checkpoint {os.fspath(path)!r} holds no optimizer state")
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        if ckpt["scheduler"] is None:
            raise ValueError(f"resume: checkpoint {os.fspath(path)!r} holds no scheduler state")
        scheduler.load_state_dict(ckpt["scheduler"])
    if restore_rng:
        from .. import random as fastnn_random
        fastnn_random.set_rng_state(ckpt["rng_state"])
    return ckpt
