"""Read the safetensors format (Hugging Face's weight files) without its package: ``load_file(path)`` returns
``{name: numpy array}`` like ``safetensors.numpy.load_file``, so folders written by diffusers'
``save_pretrained`` load into fastnn models.

The format: an 8-byte little-endian header length, a JSON header mapping each tensor name to its dtype,
shape and byte range, then the raw little-endian bytes. bfloat16 has no numpy dtype and is widened to
float32 (exactly: bfloat16 is the top half of a float32).
"""
from __future__ import annotations

import json
import os

import numpy as np

__all__ = ["load_file"]

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


def load_file(filename):
    """``{name: numpy array}`` read from the safetensors file ``filename``."""
    path = os.fspath(filename)
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 8:
        raise ValueError(f"load_file: {path} is not a safetensors file (shorter than its header length)")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"load_file: {path} is not a safetensors file (header length {n} beyond the file's end)")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_file: {path} is not a safetensors file (bad header: {exc})") from None
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        dtype = info["dtype"]
        raw = body[begin:end]
        if dtype == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype in _DTYPES:
            # astype copies: the arrays own writable memory in native byte order
            arr = np.frombuffer(raw, dtype=_DTYPES[dtype]).astype(np.dtype(_DTYPES[dtype]).newbyteorder("="))
        else:
            raise ValueError(f"load_file: tensor {name!r} in {path} has dtype {dtype}, which fastnn does not read")
        out[name] = arr.reshape(shape)
    return out
