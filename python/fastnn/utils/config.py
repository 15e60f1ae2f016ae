"""diffusers' configuration machinery, for models and schedulers alike: ``config`` as a frozen dict,
``register_to_config``, ``save_config``/``save_pretrained`` and ``from_pretrained`` on a local folder,
``from_config``.

A class using it sets ``config_name`` (the JSON file written in the folder: ``config.json`` for models,
``scheduler_config.json`` for schedulers) and decorates its ``__init__`` with ``@register_to_config``: every argument of
``__init__`` (given or left at its default) is recorded in ``self.config``, a ``FrozenDict``
readable as a dict (``config["num_train_timesteps"]``) and by attribute (``config.beta_schedule``).
The JSON file has diffusers' keys plus ``_class_name`` and ``_diffusers_version`` (the diffusers
release whose format the file follows), so diffusers reads our files and we read theirs.
"""
from __future__ import annotations

import functools
import inspect
import json
import logging
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .._atomic import atomic_open

__all__ = ["FrozenDict", "ConfigMixin", "register_to_config"]

logger = logging.getLogger(__name__)

# the diffusers release whose file format and numerics this package follows
DIFFUSERS_FORMAT_VERSION = "0.42.1"


class FrozenDict(OrderedDict):
    """An ordered dict that cannot be changed after construction and whose keys read as attributes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_FrozenDict__frozen", True)

    def _refuse(self, what):
        raise TypeError(f"You cannot use ``{what}`` on a {type(self).__name__} instance: a config is frozen; "
                        f"build a new object with from_config(config, key=value) instead")

    def __delitem__(self, *args, **kwargs):
        self._refuse("__delitem__")

    def setdefault(self, *args, **kwargs):
        self._refuse("setdefault")

    def pop(self, *args, **kwargs):
        self._refuse("pop")

    def update(self, *args, **kwargs):
        self._refuse("update")

    def __setattr__(self, name, value):
        if getattr(self, "_FrozenDict__frozen", False):
            self._refuse("__setattr__")
        super().__setattr__(name, value)

    def __setitem__(self, name, value):
        if getattr(self, "_FrozenDict__frozen", False):
            self._refuse("__setitem__")
        super().__setitem__(name, value)

    def __reduce__(self):
        return (type(self), (list(self.items()),))


def _json_value(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if hasattr(value, "numpy") and callable(value.numpy):   # a Tensor (trained_betas given as one)
        return np.asarray(value.numpy()).tolist()
    return value


class ConfigMixin:
    """What diffusers' ``ConfigMixin`` gives a class: ``config``, saving to and loading from a folder."""

    config_name = None
    ignore_for_config = ()
    _internal_dict = None

    def register_to_config(self, **kwargs):
        """Record ``kwargs`` in ``self.config`` (merged over what is there)."""
        if self.config_name is None:
            raise NotImplementedError(f"{type(self).__name__} must define the class attribute `config_name`")
        kwargs.pop("kwargs", None)
        merged = dict(self._internal_dict or {})
        merged.update(kwargs)
        # object.__setattr__: an nn.Module would otherwise look at the value as a possible submodule
        object.__setattr__(self, "_internal_dict", FrozenDict(merged))

    @property
    def config(self) -> FrozenDict:
        """The arguments this object was built with (read-only)."""
        return self._internal_dict

    # ---- JSON
    def to_json_string(self) -> str:
        d = dict(self._internal_dict or {})
        d["_class_name"] = type(self).__name__
        d["_diffusers_version"] = DIFFUSERS_FORMAT_VERSION
        d.pop("_use_default_values", None)
        d.pop("_ignore_files", None)
        from .. import __version__ as fastnn_version
        d["_fastnn_version"] = fastnn_version
        return json.dumps({k: _json_value(v) for k, v in d.items()}, indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path):
        # written under a temporary name and renamed: a crash never leaves half a config
        with atomic_open(json_file_path, "w", encoding="utf-8") as fh:
            fh.write(self.to_json_string())

    def save_config(self, save_directory, push_to_hub=False, **kwargs):
        """Write ``config_name`` (e.g. ``scheduler_config.json``) into the folder ``save_directory``."""
        if push_to_hub:
            raise NotImplementedError("save_config: push_to_hub is not supported (local folders only)")
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_config: argument 'save_directory' must be a folder, got the file "
                             f"{save_directory!r}")
        os.makedirs(save_directory, exist_ok=True)
        self.to_json_file(os.path.join(save_directory, self.config_name))

    def save_pretrained(self, save_directory, push_to_hub=False, **kwargs):
        """Save the configuration into the folder ``save_directory`` (``from_pretrained`` reads it back)."""
        self.save_config(save_directory, push_to_hub=push_to_hub, **kwargs)

    @classmethod
    def load_config(cls, pretrained_model_name_or_path, return_unused_kwargs=False, subfolder=None, **kwargs):
        """The dict stored in a folder's ``config_name`` file (or in the JSON file named directly)."""
        if cls.config_name is None:
            raise ValueError(f"{cls.__name__} defines no `config_name`: load the config through a subclass")
        path = os.fspath(pretrained_model_name_or_path)
        if os.path.isfile(path):
            config_file = path
        elif os.path.isdir(path):
            candidates = ([os.path.join(path, subfolder, cls.config_name)] if subfolder else []) + \
                [os.path.join(path, cls.config_name)]
            config_file = next((c for c in candidates if os.path.isfile(c)), None)
            if config_file is None:
                raise OSError(f"{cls.__name__}.from_pretrained: no file named {cls.config_name} in folder {path!r}"
                              + (f" nor in its subfolder {subfolder!r}" if subfolder else ""))
        else:
            raise OSError(f"{cls.__name__}.from_pretrained: {path!r} is not a local folder (only local folders are "
                          f"supported: download the repository first)")
        try:
            with open(config_file, encoding="utf-8") as fh:
                config = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise OSError(f"{cls.__name__}.from_pretrained: {config_file!r} is not a valid JSON file ({exc})") from None
        if not isinstance(config, dict):
            raise OSError(f"{cls.__name__}.from_pretrained: {config_file!r} does not hold a JSON object")
        return (config, kwargs) if return_unused_kwargs else config

    @classmethod
    def _init_keys(cls):
        params = inspect.signature(cls.__init__).parameters
        return [k for k, p in params.items()
                if k != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and k not in cls.ignore_for_config]

    @classmethod
    def _known_keys_elsewhere(cls):
        """Arguments of the compatible classes: a DDPM config loaded as DDIM drops ``variance_type`` quietly."""
        keys = set()
        for other in cls._compatible_classes():
            keys.update(other._init_keys())
        return keys

    @classmethod
    def _compatible_classes(cls):
        return []

    @classmethod
    def extract_init_dict(cls, config_dict, **kwargs):
        """``(init_dict, unused_kwargs, hidden_dict)`` as diffusers splits a config for ``cls(**init_dict)``."""
        used_defaults = set(config_dict.get("_use_default_values", ()))
        # arguments left at their default in the saved object take this class's defaults
        config_dict = {k: v for k, v in config_dict.items() if k not in used_defaults and k != "_use_default_values"}
        original = dict(config_dict)
        expected = cls._init_keys()
        elsewhere = cls._known_keys_elsewhere() - set(expected)
        config_dict = {k: v for k, v in config_dict.items()
                       if not k.startswith("_") and k not in elsewhere}
        init_dict = {}
        for key in expected:
            if key in kwargs:
                init_dict[key] = kwargs.pop(key)
                config_dict.pop(key, None)
            elif key in config_dict:
                init_dict[key] = config_dict.pop(key)
        if config_dict:
            logger.warning("The config attributes %s were passed to %s, but are not expected and will be ignored.",
                           config_dict, cls.__name__)
        unused = {**config_dict, **kwargs}
        hidden = {k: v for k, v in original.items() if k not in init_dict}
        return init_dict, unused, hidden

    @classmethod
    def from_config(cls, config=None, return_unused_kwargs=False, **kwargs):
        """A new object built from a config dict (``other.config`` or a loaded JSON dict); ``kwargs`` override it."""
        if "pretrained_model_name_or_path" in kwargs:
            config = kwargs.pop("pretrained_model_name_or_path")
        if config is None:
            raise ValueError(f"{cls.__name__}.from_config: pass a config (a dict) as the first argument")
        if not isinstance(config, dict):
            if isinstance(config, (str, os.PathLike)):
                config, kwargs = cls.load_config(config, return_unused_kwargs=True, **kwargs)
            else:
                raise TypeError(f"{cls.__name__}.from_config: argument 'config' must be a dict, got "
                                f"{type(config).__name__}")
        init_dict, unused, hidden = cls.extract_init_dict(dict(config), **kwargs)
        obj = cls(**init_dict)
        if "_class_name" in hidden:
            hidden["_class_name"] = cls.__name__
        # keys of the file that are not arguments stay readable in config, as diffusers keeps them
        obj.register_to_config(**{k: v for k, v in hidden.items() if k != "_use_default_values"})
        return (obj, {**unused, **hidden}) if return_unused_kwargs else obj

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path=None, subfolder=None, return_unused_kwargs=False,
                        **kwargs):
        """Build from the ``config_name`` file of a local folder (written by ``save_pretrained`` or by diffusers)."""
        if pretrained_model_name_or_path is None:
            raise ValueError(f"{cls.__name__}.from_pretrained: argument 'pretrained_model_name_or_path' is required")
        config, kwargs = cls.load_config(pretrained_model_name_or_path, return_unused_kwargs=True,
                                         subfolder=subfolder, **kwargs)
        return cls.from_config(config, return_unused_kwargs=return_unused_kwargs, **kwargs)

    def __repr__(self):
        return f"{type(self).__name__} {self.to_json_string()}"


def register_to_config(init):
    """Decorator for ``__init__``: records every argument (positional, keyword or default) in ``config``."""

    @functools.wraps(init)
    def inner_init(self, *args, **kwargs):
        init_kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        private = {k: v for k, v in kwargs.items() if k.startswith("_")}
        ignore = set(getattr(self, "ignore_for_config", ()))
        params = list(inspect.signature(init).parameters.items())[1:]
        positional = [name for name, p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(args) > len(positional):
            raise TypeError(f"{type(self).__name__}() takes {len(positional)} positional arguments but "
                            f"{len(args)} were given")
        given = dict(zip(positional, args))
        for k in init_kwargs:
            if k in given:
                raise TypeError(f"{type(self).__name__}() got multiple values for argument {k!r}")
        recorded = {}
        for name, p in params:
            if name in ignore or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            recorded[name] = given[name] if name in given else init_kwargs.get(name, p.default)
        defaults_used = [k for k in recorded if k not in given and k not in init_kwargs]
        if defaults_used:
            recorded["_use_default_values"] = defaults_used
        # recorded after __init__ ran: an nn.Module must be set up before attributes are stored on it, and an
        # __init__ that raises on a bad argument leaves no half-made config behind
        init(self, *args, **init_kwargs)
        self.register_to_config(**private, **recorded)

    return inner_init
