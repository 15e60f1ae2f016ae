"""Image grids and image files (torchvision's ``torchvision.utils.make_grid`` and ``save_image``,
with its arguments, defaults and arithmetic), for sample grids of generative models.

PNG files are written by a small encoder here (numpy and zlib), so saving needs neither PIL nor
matplotlib; other formats (JPEG, ...) go through PIL when it is installed. Files named by a path
are written atomically (see ``fastnn._atomic``).
"""
from __future__ import annotations

import math
import numbers
import os
import struct
import zlib

import numpy as np

from .. import backend
from .._atomic import atomic_open, atomic_path
from ..tensor import _wrap, is_tensor

__all__ = ["make_grid", "save_image", "encode_png"]


def _as_batch(tensor):
    """The images as one array, NCHW or CHW or HW as given (a list is stacked, as torch.stack)."""
    if is_tensor(tensor):
        return tensor.detach()._data
    if isinstance(tensor, (list, tuple)):
        for t in tensor:
            if not is_tensor(t):
                raise TypeError(f"tensor or list of tensors expected, got a list containing {type(t)}")
        if not tensor:
            raise ValueError("make_grid: argument 'tensor' is an empty list")
        shapes = {tuple(t.shape) for t in tensor}
        if len(shapes) != 1:
            raise ValueError(f"make_grid: the tensors of the list must have the same shape, got {sorted(shapes)}")
        arrays = [t.detach()._data for t in tensor]
        for other in arrays[1:]:
            backend.check_same_device(arrays[0], other, "make_grid")
        xp = backend.array_module(backend.device_of(arrays[0]))
        return xp.stack(arrays, axis=0)
    raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")


def _check_number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"make_grid: argument '{name}' must be a number, got {type(value).__name__}")


def _normalize(a, value_range):
    """torchvision's ``norm_ip``: clamp to [low, high], then map it to [0, 1] (in place on ``a``)."""
    if value_range is not None:
        low, high = value_range
    else:
        low, high = float(a.min()), float(a.max())
    a.clip(low, high, out=a)
    a -= low
    a /= max(high - low, 1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tile a mini-batch of images (B, C, H, W), a list of (C, H, W) images, one (C, H, W) image or
    one (H, W) image into one (C, H', W') image, ``nrow`` images per row, ``padding`` pixels of
    ``pad_value`` around each.

    One-channel images become three-channel (copied), as torchvision does; a single image is
    returned without padding. ``normalize=True`` maps the values to [0, 1] by min and max (over the
    batch, or per image with ``scale_each=True``), or by ``value_range=(min, max)`` after clamping
    to it. The result is a new tensor, on the input's device, outside autograd.
    """
    a = _as_batch(tensor)
    xp = backend.array_module(backend.device_of(a))
    if a.ndim not in (2, 3, 4):
        raise ValueError(f"make_grid: argument 'tensor' must be an image (H, W) or (C, H, W) or a batch "
                         f"(B, C, H, W), got shape {tuple(a.shape)}")
    if isinstance(nrow, bool) or not isinstance(nrow, numbers.Integral) or nrow < 1:
        raise ValueError(f"make_grid: argument 'nrow' must be a positive integer, got {nrow!r}")
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or padding < 0:
        raise ValueError(f"make_grid: argument 'padding' must be a non-negative integer, got {padding!r}")
    _check_number("pad_value", pad_value)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        if a.shape[0] == 1:
            a = xp.concatenate((a, a, a), axis=0)
        a = a[None]
    if a.shape[1] == 1:
        a = xp.concatenate((a, a, a), axis=1)

    if normalize is True:
        a = a.copy()
        if value_range is not None:
            if not isinstance(value_range, tuple):
                raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
            if len(value_range) != 2:
                raise ValueError(f"make_grid: argument 'value_range' must be a tuple (min, max), got {value_range!r}")
            _check_number("value_range[0]", value_range[0])
            _check_number("value_range[1]", value_range[1])
        if a.dtype.kind != "f":
            raise TypeError(f"make_grid: normalize=True needs floating-point images, got dtype {a.dtype}")
        if a.size:
            if scale_each is True:
                for img in a:
                    _normalize(img, value_range)
            else:
                _normalize(a, value_range)

    if a.shape[0] == 1:
        return _wrap(a[0])
    nmaps = a.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(a.shape[2] + padding), int(a.shape[3] + padding)
    grid = xp.full((a.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value, dtype=a.dtype)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            grid[:, y * height + padding:(y + 1) * height, x * width + padding:(x + 1) * width] = a[k]
            k += 1
    return _wrap(grid)


_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey+alpha, RGB, RGBA


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels, compress_level=6):
    """PNG bytes of a uint8 image: (H, W) grey, or (H, W, C) with C = 1 (grey), 2 (grey + alpha),
    3 (RGB) or 4 (RGBA). 8 bits per sample, no interlacing, filter "none" on every row."""
    p = np.asarray(pixels)
    if p.dtype != np.uint8:
        raise TypeError(f"encode_png: argument 'pixels' must be uint8, got dtype {p.dtype}")
    if p.ndim == 2:
        p = p[:, :, None]
    if p.ndim != 3 or p.shape[2] not in _PNG_COLOR_TYPE:
        raise ValueError(f"encode_png: argument 'pixels' must have shape (H, W) or (H, W, C) with C in 1..4, "
                         f"got {p.shape}")
    h, w, c = p.shape
    if h < 1 or w < 1:
        raise ValueError(f"encode_png: a PNG image needs at least one pixel, got shape {p.shape}")
    rows = np.empty((h, 1 + w * c), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (none) for each scanline
    rows[:, 1:] = p.reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOR_TYPE[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), compress_level)) + _chunk(b"IEND", b""))


def _format_of(fp, format):
    if format is not None:
        return str(format).upper()
    name = os.fspath(fp) if isinstance(fp, (str, bytes, os.PathLike)) else getattr(fp, "name", None)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    ext = os.path.splitext(name)[1].lower() if isinstance(name, str) else ""
    if ext in ("", ".png"):
        return "PNG"
    try:
        from PIL import Image
    except ImportError:
        raise ValueError(f"save_image: only PNG can be written without PIL; the extension {ext!r} of 'fp' asks "
                         f"for another format (install Pillow, or pass format='PNG')") from None
    Image.init()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:
        raise ValueError(f"save_image: unknown file extension {ext!r} of 'fp'")
    return fmt


def save_image(tensor, fp, format=None, **kwargs):
    """Save a tensor or a list of tensors as one image file, laid out by ``make_grid(tensor,
    **kwargs)``: values in [0, 1] become bytes as in torchvision (``mul(255).add_(0.5).clamp_(0,
    255)`` then truncation to uint8). ``fp`` is a path or a binary file object; ``format`` is taken
    from the file name when omitted (PNG for a file object without a name)."""
    grid = make_grid(tensor, **kwargs)._data
    if grid.dtype.kind not in "fiub":
        raise TypeError(f"save_image: cannot save a tensor of dtype {grid.dtype} as an image")
    a = grid * 255
    a += 0.5
    a = a.clip(0, 255).astype(np.uint8)  # truncation toward zero, as PyTorch's cast to uint8
    pixels = np.ascontiguousarray(backend.to_device(a, "cpu") if backend.is_cuda_array(a) else a)
    pixels = pixels.transpose(1, 2, 0) if pixels.ndim == 3 else pixels
    fmt = _format_of(fp, format)
    if fmt == "PNG":
        if pixels.ndim == 3 and pixels.shape[2] not in _PNG_COLOR_TYPE:
            raise ValueError(f"save_image: a PNG holds 1 to 4 channels, the grid has {pixels.shape[2]}")
        data = encode_png(pixels)
        if isinstance(fp, (str, bytes, os.PathLike)):
            with atomic_open(fp, "wb") as fh:
                fh.write(data)
        else:
            fp.write(data)
        return
    from PIL import Image  # _format_of has checked that PIL is there
    im = Image.fromarray(pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels)
    if isinstance(fp, (str, bytes, os.PathLike)):
        with atomic_path(fp) as tmp:
            im.save(tmp, format=fmt)
    else:
        im.save(fp, format=fmt)
