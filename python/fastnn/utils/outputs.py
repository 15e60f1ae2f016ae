"""``BaseOutput``: the output records of diffusers-style models and schedulers (``UNet2DOutput``, ...).

A dataclass whose fields are also reachable by key (``out["sample"]``) and by position (``out[0]``,
``out.to_tuple()``, unpacking), as diffusers' ``BaseOutput``: code written for either form ports
unchanged. Fields left at ``None`` are skipped by the key/position forms, as there.
"""
from __future__ import annotations

import dataclasses

__all__ = ["BaseOutput"]


class BaseOutput:
    """Base of the output dataclasses: subclasses are ``@dataclass`` records."""

    def _items(self):
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None]

    def keys(self):
        return [k for k, _ in self._items()]

    def values(self):
        return [v for _, v in self._items()]

    def items(self):
        return self._items()

    def to_tuple(self):
        """The fields that are not None, in declaration order."""
        return tuple(self.values())

    def __getitem__(self, key):
        if isinstance(key, str):
            return dict(self._items())[key]
        return self.to_tuple()[key]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self._items())

    def __contains__(self, key):
        return key in self.keys()
