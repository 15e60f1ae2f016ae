"""``fastnn.save`` / ``fastnn.load``: checkpoints that never execute code when read.

File format (version 1): a ZIP archive (stored, not compressed) holding

* ``fastnn.json`` — the manifest: ``{"format": "fastnn", "version": 1, "root": NODE}`` where NODE is
  one of the tagged JSON objects below;
* ``arrays/<k>.npy`` — one ``.npy`` file per tensor or array, written by ``numpy.save`` and read by
  ``numpy.load(allow_pickle=False)`` (no object arrays).

Nodes::

    {"t": "none"} | {"t": "bool", "v": true} | {"t": "int", "v": "123"} | {"t": "float", "v": "0.1"}
    {"t": "str", "v": "..."} | {"t": "tensor", "k": 0, "rg": false[, "dev": "cuda:0"]} | {"t": "ndarray", "k": 1}
    {"t": "npscalar", "k": 2} | {"t": "dtype", "v": "float32"} | {"t": "device", "v": "cpu"}
    {"t": "list", "v": [NODE, ...]} | {"t": "tuple", "v": [NODE, ...]}
    {"t": "dict", "v": [[KEY_NODE, NODE], ...]} | {"t": "odict", "v": [[KEY_NODE, NODE], ...]}

Integers and floats are stored as strings (exact, and NaN/inf survive JSON); dict keys are nodes,
so integer keys (optimizer state) come back as integers. Tensors come back detached
(``requires_grad=False``) with their dtype; ``rg`` records the flag for information only, ``dev``
the device a tensor was saved from (absent for the CPU), where ``load`` puts it back unless told
otherwise by ``map_location``.
Writing goes to a temporary file in the target directory, then ``os.replace`` (``fastnn._atomic``):
an error midway leaves any previous file intact and no temporary file behind, and the temporary
files left by writers that were killed outright are removed by the next save of the same file.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np

from ._atomic import atomic_open
from .tensor import Tensor
from . import backend

__all__ = ["save", "load"]

FORMAT = "fastnn"
VERSION = 1
MANIFEST = "fastnn.json"


class _Writer:
    def __init__(self, zf):
        self.zf = zf
        self.count = 0

    def array(self, arr, path):
        arr = backend.to_device(arr, "cpu")
        if arr.dtype.hasobject or arr.dtype.kind not in "biufc":
            raise TypeError(f"fastnn.save: cannot save an array of dtype {arr.dtype} at {path}")
        k = self.count
        self.count += 1
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        self.zf.writestr(f"arrays/{k}.npy", buf.getvalue())
        return k

    def encode(self, obj, path):
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, int):
            return {"t": "int", "v": str(obj)}
        if isinstance(obj, float):
            return {"t": "float", "v": repr(obj)}
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, Tensor):
            node = {"t": "tensor", "k": self.array(obj._data, path), "rg": bool(obj.requires_grad)}
            if obj.device != backend.CPU:
                node["dev"] = str(obj.device)
            return node
        if isinstance(obj, np.ndarray) or backend.is_cuda_array(obj):
            # a bare device array is saved as the host array it copies to, and loads as one
            return {"t": "ndarray", "k": self.array(obj, path)}
        if isinstance(obj, np.generic):
            return {"t": "npscalar", "k": self.array(np.asarray(obj), path)}
        if isinstance(obj, np.dtype):
            return {"t": "dtype", "v": obj.str if obj.kind != "b" else "bool"}
        if isinstance(obj, backend.Device):
            return {"t": "device", "v": str(obj)}
        if isinstance(obj, (dict, OrderedDict)):
            tag = "odict" if isinstance(obj, OrderedDict) else "dict"
            items = []
            for key, value in obj.items():
                if not isinstance(key, (str, int, float, bool, tuple)) and key is not None:
                    raise TypeError(f"fastnn.save: unsupported dict key of type {type(key).__name__} at {path}")
                items.append([self.encode(key, f"{path}[key {key!r}]"), self.encode(value, f"{path}[{key!r}]")])
            return {"t": tag, "v": items}
        if isinstance(obj, (list, tuple)):
            tag = "tuple" if isinstance(obj, tuple) else "list"
            return {"t": tag, "v": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        raise TypeError(f"fastnn.save: cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__} "
                        f"at {path}; supported: tensors, numpy arrays, numbers, strings, None, bools, dtypes, and "
                        "dicts/lists/tuples of them")


def _write_zip(fileobj, obj):
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        w = _Writer(zf)
        root = w.encode(obj, "obj")
        manifest = {"format": FORMAT, "version": VERSION, "root": root, "arrays": w.count}
        zf.writestr(MANIFEST, json.dumps(manifest, allow_nan=False))


def save(obj, f):
    """Save ``obj`` (nested dicts/lists/tuples of tensors, arrays, numbers, strings, None) to path or file ``f``."""
    if hasattr(f, "write"):
        _write_zip(f, obj)
        return
    with atomic_open(os.fspath(f), "wb") as fh:
        _write_zip(fh, obj)


class _Reader:
    def __init__(self, zf, name, map_location):
        self.zf = zf
        self.name = name
        self.map_location = map_location

    def device_for(self, saved):
        """Where a tensor saved from device ``saved`` goes: ``map_location`` decides, else its own device."""
        where = self.map_location
        if isinstance(where, dict):
            return where.get(saved, saved)
        return saved if where is None else where

    def to_device(self, arr, saved):
        dev = self.device_for(saved)
        if dev == backend.CPU:
            return arr
        try:
            return backend.to_device(arr, dev)
        except RuntimeError as e:
            raise RuntimeError(f"fastnn.load: {self.name} holds a tensor saved on {saved}, to be loaded on {dev}, "
                               f"but {e}; pass map_location='cpu' to load it on the CPU") from None

    def array(self, k):
        try:
            data = self.zf.read(f"arrays/{int(k)}.npy")
        except KeyError:
            raise ValueError(f"fastnn.load: {self.name} is corrupt: array {k} is missing") from None
        arr = np.load(io.BytesIO(data), allow_pickle=False)
        return arr

    def decode(self, node):
        if not isinstance(node, dict) or "t" not in node:
            raise ValueError(f"fastnn.load: {self.name} is corrupt: bad node {str(node)[:80]}")
        t = node["t"]
        if t == "none":
            return None
        if t == "bool":
            return bool(node["v"])
        if t == "int":
            return int(node["v"])
        if t == "float":
            return float(node["v"])
        if t == "str":
            return str(node["v"])
        if t == "tensor":
            saved = backend.as_device(node.get("dev", "cpu"))
            return Tensor._wrap(self.to_device(self.array(node["k"]), saved))
        if t == "ndarray":
            return self.array(node["k"])
        if t == "npscalar":
            return self.array(node["k"])[()]
        if t == "dtype":
            return np.dtype(node["v"])
        if t == "device":
            return backend.Device(node["v"])
        if t == "list":
            return [self.decode(v) for v in node["v"]]
        if t == "tuple":
            return tuple(self.decode(v) for v in node["v"])
        if t in ("dict", "odict"):
            items = [(self.decode(k), self.decode(v)) for k, v in node["v"]]
            return OrderedDict(items) if t == "odict" else dict(items)
        raise ValueError(f"fastnn.load: {self.name} is corrupt: unknown node type {t!r}")


def _map_location(map_location):
    if map_location is None:
        return None
    if isinstance(map_location, (str, backend.Device)):
        return backend.as_device(map_location)
    if isinstance(map_location, dict):
        try:
            return {backend.as_device(k): backend.as_device(v) for k, v in map_location.items()}
        except (TypeError, ValueError) as e:
            raise TypeError(f"fastnn.load: argument 'map_location' maps devices to devices "
                            f"(e.g. {{'cuda:1': 'cuda:0'}}): {e}") from None
    raise TypeError(f"fastnn.load: argument 'map_location' must be None, a device string, a fastnn.device or a "
                    f"dict from saved device to device, got {type(map_location).__name__}")


def load(f, map_location=None, weights_only=True):
    """Read an object written by ``fastnn.save``. Tensors go back to the device they were saved from,
    unless ``map_location`` names one device for all (``"cpu"``, ``"cuda:0"``) or maps saved devices to
    devices (``{"cuda:1": "cuda:0"}``, others unchanged), as in ``torch.load``."""
    device = _map_location(map_location)
    name = repr(f) if hasattr(f, "read") else repr(os.fspath(f))
    if not hasattr(f, "read") and not os.path.exists(f):
        raise FileNotFoundError(f"fastnn.load: no such file: {name}")
    try:
        zf = zipfile.ZipFile(f, "r")
    except zipfile.BadZipFile:
        raise ValueError(f"fastnn.load: {name} is not a fastnn file (not a zip archive written by fastnn.save)") \
            from None
    with zf:
        try:
            manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
        except KeyError:
            raise ValueError(f"fastnn.load: {name} is not a fastnn file (no {MANIFEST} manifest)") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"fastnn.load: {name} is not a fastnn file (unreadable manifest)") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(f"fastnn.load: {name} is not a fastnn file (wrong format tag)")
        if manifest.get("version") != VERSION:
            raise ValueError(f"fastnn.load: {name} has format version {manifest.get('version')}, this fastnn reads "
                             f"version {VERSION}")
        return _Reader(zf, name, device).decode(manifest["root"])
