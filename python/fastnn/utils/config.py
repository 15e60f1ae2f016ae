"""diffusers-style configuration for models and schedulers: every ``__init__`` argument is recorded in
``obj.config`` (a read-only dict whose keys are also attributes: ``unet.config.sample_size`` and
``unet.config["sample_size"]``), written as JSON by ``save_config`` and rebuilt by ``from_config``.

The JSON holds diffusers' keys (the ``__init__`` argument names) plus ``_class_name``, so a folder
written here reads back in fastnn and its configuration reads in diffusers too.
"""
from __future__ import annotations

import functools
import inspect
import json
import os

import numpy as np

from .._atomic import atomic_open

__all__ = ["FrozenDict", "ConfigMixin", "register_to_config"]


class FrozenDict(dict):
    """A dict that cannot change after construction, whose keys read as attributes as well."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.__dict__["_frozen"] = True

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'") from None

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"a {type(self).__name__} is read-only: build the object again with the new arguments")

    __setitem__ = __delitem__ = __setattr__ = __delattr__ = _refuse
    pop = popitem = setdefault = update = clear = _refuse

    def __reduce__(self):
        return (type(self), (dict(self),))


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def register_to_config(init):
    """Decorator for ``__init__``: records every argument (defaults filled in) as ``self.config``."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = {k: v for k, v in list(bound.arguments.items())[1:]
                  if signature.parameters[k].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                          inspect.Parameter.VAR_KEYWORD)}
        init(self, *args, **kwargs)
        self.register_to_config(**values)

    return wrapper


class ConfigMixin:
    """``config`` / ``save_config`` / ``load_config`` / ``from_config`` on a class whose ``__init__`` is
    decorated with :func:`register_to_config`; ``config_name`` is the JSON file's name in a folder."""

    config_name = "config.json"

    def register_to_config(self, **kwargs):
        merged = dict(getattr(self, "_internal_dict", {}))
        merged.update(kwargs)
        object.__setattr__(self, "_internal_dict", FrozenDict(merged))

    @property
    def config(self):
        return self._internal_dict

    def to_json_string(self):
        data = {"_class_name": type(self).__name__}
        from .. import __version__
        data["_fastnn_version"] = __version__
        data.update({k: _jsonable(v) for k, v in self.config.items()})
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save_config(self, save_directory):
        """Write ``config_name`` (JSON, atomically) into the folder ``save_directory``, created if needed."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory ({save_directory}) should be a directory, not a file")
        os.makedirs(save_directory, exist_ok=True)
        with atomic_open(os.path.join(save_directory, self.config_name), "w", encoding="utf-8") as fh:
            fh.write(self.to_json_string())

    @classmethod
    def load_config(cls, pretrained_model_name_or_path, subfolder=None, **unused):
        """The configuration dict read from a local folder (or a JSON file's path)."""
        path = os.fspath(pretrained_model_name_or_path)
        if subfolder:
            path = os.path.join(path, subfolder)
        if os.path.isdir(path):
            path = os.path.join(path, cls.config_name)
        if not os.path.isfile(path):
            raise EnvironmentError(f"{cls.__name__}: no file named {cls.config_name} found in "
                                   f"{pretrained_model_name_or_path!r} (fastnn reads local folders only)")
        with open(path, encoding="utf-8") as fh:
            try:
                return json.load(fh)
            except json.JSONDecodeError as exc:
                raise EnvironmentError(f"{cls.__name__}: {path} is not a valid JSON file: {exc}") from None

    @classmethod
    def extract_init_dict(cls, config, **kwargs):
        """``(init_kwargs, unused)``: the ``__init__`` arguments found in ``config`` updated by ``kwargs``,
        and the keys ``__init__`` does not take (metadata starting with ``_`` is dropped silently)."""
        params = inspect.signature(cls.__init__).parameters
        accepted = {k for k, p in params.items() if k != "self" and p.kind not in (
            inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
        merged = dict(config)
        merged.update(kwargs)
        init = {k: v for k, v in merged.items() if k in accepted}
        unused = {k: v for k, v in merged.items() if k not in accepted and not k.startswith("_")}
        return init, unused

    @classmethod
    def from_config(cls, config=None, **kwargs):
        """An instance built from a configuration dict (``obj.config`` or ``load_config``'s result);
        ``kwargs`` override its values."""
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config: argument 'config' must be a dict, got "
                            f"{type(config).__name__}")
        init, _ = cls.extract_init_dict(config, **kwargs)
        return cls(**init)
