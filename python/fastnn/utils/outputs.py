"""``BaseOutput``: the output records of diffusers-style models and schedulers (``UNet2DOutput``,
``DDPMSchedulerOutput``, ...), like diffusers' ``BaseOutput``.

A dataclass whose fields are also reachable by key (``out["sample"]``) and by position (``out[0]``,
``out.to_tuple()``): code written for either form ports unchanged. Fields left at ``None`` are skipped by
the key/position forms, as there.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import fields

__all__ = ["BaseOutput"]


class BaseOutput(OrderedDict):
    """Base of the output dataclasses: fields read as attributes, as dict keys and by position
    (``out[0]``); fields left at None are not part of the dict or the tuple. Subclasses are ``@dataclass``
    records."""

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                super().__setitem__(f.name, v)

    def __getitem__(self, k):
        if isinstance(k, str):
            return OrderedDict.__getitem__(self, k)
        return self.to_tuple()[k]

    def __setattr__(self, name, value):
        if name in self.keys() and value is not None:
            super().__setitem__(name, value)
        super().__setattr__(name, value)

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        super().__setattr__(key, value)

    def __reduce__(self):
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))

    def to_tuple(self):
        return tuple(OrderedDict.__getitem__(self, k) for k in self.keys())
