"""Array-level image operations behind ``fastnn.data.transforms``.

Every function here works on a 4-D numpy batch ``(N, C, H, W)`` and is vectorised over the batch:
per-image parameters are arrays of length N, and loops run over kernel taps or channels, never
over pixels. ``as_batch`` turns what a user passes (Tensor or array, ``(H, W)``, ``(C, H, W)`` or
``(N, C, H, W)``) into such a batch and returns a function that puts the result back into the
user's form.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _arrays

_LAYOUTS = {2: "(H, W)", 3: "(C, H, W)", 4: "(N, C, H, W)"}


def as_batch(img, what, name="img"):
    """``(batch, restore)``: ``batch`` is a (N, C, H, W) view of ``img``; ``restore(out)`` gives ``out``
    back with ``img``'s number of dimensions and kind (Tensor or numpy array)."""
    if not (_arrays.is_tensor(img) or isinstance(img, np.ndarray)):
        raise TypeError(f"{what}: argument '{name}' must be a numpy array or a fastnn Tensor, "
                        f"got {type(img).__name__}")
    a = _arrays.to_numpy(img, name)
    if a.ndim not in _LAYOUTS:
        raise ValueError(f"{what}: argument '{name}' must have shape (H, W), (C, H, W) or (N, C, H, W), "
                         f"got shape {tuple(a.shape)}")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what}: argument '{name}' must hold numbers, got dtype {a.dtype}")
    ndim = a.ndim
    batch = a.reshape((1,) * (4 - ndim) + a.shape)

    def restore(out):
        out = out.reshape(out.shape[4 - ndim:]) if ndim < 4 else out
        if _arrays.is_tensor(img):
            t = _arrays.wrap(np.ascontiguousarray(out))
            device = getattr(img, "device", None)
            if device is not None and str(device) != "cpu" and hasattr(t, "to"):
                t = t.to(device)
            return t
        return out

    return batch, restore


def check_image_dtype(a, what, name="img"):
    """Interpolating and photometric operations need uint8 (0..255) or floating point (0..1) images."""
    if a.dtype != np.uint8 and a.dtype.kind != "f":
        raise TypeError(f"{what}: argument '{name}' must be uint8 or floating point, got dtype {a.dtype}")


def work(a):
    """``a`` as the floating dtype the arithmetic runs in (float64 stays float64, the rest float32)."""
    return a.astype(np.float64 if a.dtype == np.float64 else np.float32, copy=False)


def back(res, dtype):
    """The result of float arithmetic stored back in the image's dtype (uint8 is rounded and clipped)."""
    if dtype == np.uint8:
        return np.clip(np.rint(res), 0, 255).astype(np.uint8)
    return res.astype(dtype, copy=False)


def bound(dtype):
    """The value of a white pixel: 255 for uint8, 1.0 for float images."""
    return 255.0 if dtype == np.uint8 else 1.0


def per_image(values, n, what, name):
    """A scalar or a length-N sequence of per-image parameters as a float64 array of shape (N,)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0:
        return np.full(n, float(v))
    if v.shape != (n,):
        raise ValueError(f"{what}: argument '{name}' must be a number or have one value per image ({n}), "
                         f"got shape {v.shape}")
    return v


def fill_per_channel(fill, c, what):
    """``fill`` (a number or one number per channel) as an array of shape (C,)."""
    f = np.asarray(0.0 if fill is None else fill, dtype=np.float64)
    if f.ndim == 0:
        return np.full(c, float(f))
    if f.shape != (c,):
        raise ValueError(f"{what}: argument 'fill' must be a number or one number per channel ({c}), "
                         f"got {list(f.ravel())}")
    return f


# ----------------------------------------------------------------------------- photometric

def grayscale(x, num_output_channels=1, what="rgb_to_grayscale"):
    """ITU-R 601-2 luma (the weights PIL and torchvision use); one-channel input is returned as is."""
    c = x.shape[1]
    if c == 1:
        g = x
    elif c == 3:
        w = work(x)
        g = back(0.2989 * w[:, 0:1] + 0.587 * w[:, 1:2] + 0.114 * w[:, 2:3], x.dtype)
    else:
        raise ValueError(f"{what}: argument 'img' must have 1 or 3 channels, got {c} channels (shape {x.shape})")
    if num_output_channels == 3:
        g = np.repeat(g, 3, axis=1)
    return g


def blend(img1, img2, ratio, dtype):
    """``ratio * img1 + (1 - ratio) * img2`` per image, clipped to the valid range."""
    r = ratio.astype(img1.dtype).reshape(-1, 1, 1, 1)
    return back(np.clip(r * img1 + (1 - r) * img2, 0, bound(dtype)), dtype)


def brightness(x, factor):
    w = work(x)
    return blend(w, np.zeros_like(w), factor, x.dtype)


def contrast(x, factor):
    w = work(x)
    gray = work(grayscale(x)) if x.shape[1] == 3 else w
    mean = gray.mean(axis=(1, 2, 3), keepdims=True)
    return blend(w, np.broadcast_to(mean, w.shape), factor, x.dtype)


def saturation(x, factor):
    if x.shape[1] == 1:
        return x
    w = work(x)
    return blend(w, work(grayscale(x, 3)), factor, x.dtype)


def gamma(x, gamma_, gain):
    w = work(x) / bound(x.dtype)
    g = gamma_.astype(w.dtype).reshape(-1, 1, 1, 1)
    k = gain.astype(w.dtype).reshape(-1, 1, 1, 1)
    return back(np.clip(k * np.power(w, g), 0, 1) * bound(x.dtype), x.dtype)


def equalize(x):
    """Histogram equalisation per image and channel, with PIL's ``ImageOps.equalize`` rule.

    Float images (0..1) are equalised on 256 levels and returned as floats of the same dtype."""
    n, c, h, wd = x.shape
    if x.dtype == np.uint8:
        q = x
    else:
        q = np.clip(np.rint(work(x) * 255), 0, 255).astype(np.uint8)
    flat = q.reshape(n * c, h * wd).astype(np.int64)
    rows = flat.shape[0]
    hist = np.bincount((flat + 256 * np.arange(rows)[:, None]).ravel(), minlength=rows * 256).reshape(rows, 256)
    last = 255 - np.argmax(hist[:, ::-1] > 0, axis=1)
    step = (h * wd - hist[np.arange(rows), last]) // 255
    safe = np.maximum(step, 1)[:, None]
    lut = (np.cumsum(hist, axis=1) + step[:, None] // 2) // safe
    lut = np.concatenate([np.zeros((rows, 1), np.int64), lut[:, :-1]], axis=1)
    lut = np.clip(lut, 0, 255)
    lut = np.where(step[:, None] == 0, np.arange(256)[None, :], lut)  # flat histograms stay as they are
    out = np.take_along_axis(lut, flat, axis=1).reshape(n, c, h, wd).astype(np.uint8)
    if x.dtype == np.uint8:
        return out
    return (out.astype(np.float64) / 255).astype(x.dtype)


# ----------------------------------------------------------------------------- geometry

def _snap(v):
    """Coordinates within 1e-6 of an integer are made exact so that quarter turns and integer
    shifts reproduce pixels exactly instead of blending with a neighbour by 1e-16."""
    r = np.rint(v)
    return np.where(np.abs(v - r) < 1e-6, r, v)


def warp_affine(x, inv_a, inv_b, out_hw=None, interpolation="bilinear", fill=0, what="affine"):
    """Sample ``x`` (N, C, H, W) at ``p_in = inv_a[n] @ p_out + inv_b[n]`` for every output pixel.

    ``inv_a`` is (N, 2, 2) and ``inv_b`` (N, 2), in pixel coordinates (x = column, y = row, pixel
    centres on integers). Points outside the image take ``fill`` (a number or one per channel); with
    bilinear sampling a point near the border blends the image with ``fill``, as if the image were
    surrounded by ``fill``. This is the one sampler behind rotate, affine and the random versions.
    """
    n, c, h, w = x.shape
    ho, wo = (h, w) if out_hw is None else out_hw
    ys, xs = np.meshgrid(np.arange(ho, dtype=np.float64), np.arange(wo, dtype=np.float64), indexing="ij")
    xs, ys = xs.ravel(), ys.ravel()
    sx = _snap(inv_a[:, 0, 0, None] * xs + inv_a[:, 0, 1, None] * ys + inv_b[:, 0, None])  # (N, P)
    sy = _snap(inv_a[:, 1, 0, None] * xs + inv_a[:, 1, 1, None] * ys + inv_b[:, 1, None])
    src = work(x).reshape(n, c, h * w)
    fillv = fill_per_channel(fill, c, what).astype(src.dtype)[None, :, None]

    def gather(ix, iy):
        valid = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        idx = np.clip(iy, 0, h - 1) * w + np.clip(ix, 0, w - 1)
        vals = np.take_along_axis(src, idx[:, None, :], axis=2)
        return np.where(valid[:, None, :], vals, fillv)

    if interpolation == "nearest":
        out = gather(np.floor(sx + 0.5).astype(np.int64), np.floor(sy + 0.5).astype(np.int64))
    elif interpolation == "bilinear":
        x0f, y0f = np.floor(sx), np.floor(sy)
        wx = (sx - x0f).astype(src.dtype)[:, None, :]
        wy = (sy - y0f).astype(src.dtype)[:, None, :]
        x0, y0 = x0f.astype(np.int64), y0f.astype(np.int64)
        top = gather(x0, y0) * (1 - wx) + gather(x0 + 1, y0) * wx
        bottom = gather(x0, y0 + 1) * (1 - wx) + gather(x0 + 1, y0 + 1) * wx
        out = top * (1 - wy) + bottom * wy
    else:
        raise ValueError(f"{what}: argument 'interpolation' must be 'bilinear' or 'nearest', got {interpolation!r}")
    return back(out.reshape(n, c, ho, wo), x.dtype)


def affine_inverse(angle, translate, scale, shear, center):
    """Inverse maps (inv_a, inv_b) of the forward transform
    ``p_out = A (p_in - center) + center + translate`` with ``A = rotation(angle) @ shear @ scale``.

    All arguments are per image: angle, scale (N,); translate, shear, center (N, 2); angles in
    degrees, positive angles turn the image counter-clockwise on screen (rows grow downwards).
    """
    t = np.deg2rad(angle)
    cos, sin = np.cos(t), np.sin(t)
    rot = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)  # (N, 2, 2)
    shx, shy = np.tan(np.deg2rad(shear[:, 0])), np.tan(np.deg2rad(shear[:, 1]))
    one = np.ones_like(shx)
    sh = np.stack([np.stack([one, shx], -1), np.stack([shy, one], -1)], -2)
    a = rot @ sh * scale[:, None, None]
    inv_a = np.linalg.inv(a)
    inv_b = center - np.einsum("nij,nj->ni", inv_a, center + translate)
    return inv_a, inv_b


def linear_weights(in_size, out_size, align_corners=False):
    """Source indices and weights of 1-D linear interpolation with PyTorch's pixel convention."""
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1)) if out_size > 1 else np.zeros(out_size)
    else:
        src = np.maximum((dst + 0.5) * (in_size / out_size) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    l1 = src - i0
    return i0, i1, 1.0 - l1, l1


def resize(x, size, interpolation="bilinear", align_corners=False):
    """Resize (N, C, H, W) to ``size = (h, w)``: separable linear interpolation, or nearest."""
    n, c, h, w = x.shape
    oh, ow = size
    if interpolation == "nearest":
        iy = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
        ix = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
        return x[:, :, iy][:, :, :, ix]
    if interpolation != "bilinear":
        raise ValueError(f"Resize: argument 'interpolation' must be 'bilinear' or 'nearest', got {interpolation!r}")
    v = work(x)
    i0, i1, l0, l1 = linear_weights(h, oh, align_corners)
    v = v[:, :, i0, :] * l0.astype(v.dtype)[:, None] + v[:, :, i1, :] * l1.astype(v.dtype)[:, None]
    j0, j1, m0, m1 = linear_weights(w, ow, align_corners)
    v = v[:, :, :, j0] * m0.astype(v.dtype) + v[:, :, :, j1] * m1.astype(v.dtype)
    return back(v, x.dtype)


def gaussian_kernels(kernel_size, sigma):
    """(N, k) normalised 1-D Gaussian kernels, one per sigma, sampled like torchvision's."""
    half = (kernel_size - 1) * 0.5
    t = np.linspace(-half, half, kernel_size)
    pdf = np.exp(-0.5 * (t[None, :] / sigma[:, None]) ** 2)
    return pdf / pdf.sum(axis=1, keepdims=True)


def gaussian_blur(x, kernel_size, sigma):
    """Separable Gaussian blur with reflect padding; ``sigma`` is (N, 2): (sigma_x, sigma_y) per image."""
    kx, ky = kernel_size
    v = work(x)
    n, c, h, w = v.shape
    wy = gaussian_kernels(ky, sigma[:, 1]).astype(v.dtype)
    wx = gaussian_kernels(kx, sigma[:, 0]).astype(v.dtype)
    pad = np.pad(v, ((0, 0), (0, 0), (ky // 2, ky // 2), (0, 0)), mode="reflect")
    v = sum(wy[:, k, None, None, None] * pad[:, :, k:k + h, :] for k in range(ky))
    pad = np.pad(v, ((0, 0), (0, 0), (0, 0), (kx // 2, kx // 2)), mode="reflect")
    v = sum(wx[:, k, None, None, None] * pad[:, :, :, k:k + w] for k in range(kx))
    return back(v, x.dtype)


def crop(x, top, left, height, width):
    """Per-image crops: ``top``/``left`` are (N,) integer arrays; the crops must lie inside ``x``."""
    n, c = x.shape[:2]
    rows = top[:, None] + np.arange(height)  # (N, height)
    cols = left[:, None] + np.arange(width)
    return x[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
             rows[:, None, :, None], cols[:, None, None, :]]


def pad(x, padding, fill=0, padding_mode="constant", what="pad"):
    """Pad H and W by ``(left, top, right, bottom)`` with a constant (per channel) or a numpy mode."""
    left, top, right, bottom = padding
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    if padding_mode == "constant":
        fills = fill_per_channel(fill, x.shape[1], what)
        if np.all(fills == fills[0]):
            return np.pad(x, widths, mode="constant", constant_values=np.asarray(fills[0]).astype(x.dtype))
        return np.concatenate([np.pad(x[:, i:i + 1], widths, mode="constant",
                                      constant_values=np.asarray(f).astype(x.dtype))
                               for i, f in enumerate(fills)], axis=1)
    if padding_mode not in ("edge", "reflect", "symmetric"):
        raise ValueError(f"{what}: argument 'padding_mode' must be 'constant', 'edge', 'reflect' or 'symmetric', "
                         f"got {padding_mode!r}")
    return np.pad(x, widths, mode=padding_mode)


def normalize_padding(padding, what):
    """An int, (lr, tb) or (left, top, right, bottom) as a 4-tuple of non-negative ints."""
    if isinstance(padding, numbers.Integral):
        p = (int(padding),) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        p = (int(padding[0]), int(padding[1])) * 2
    elif isinstance(padding, (tuple, list)) and len(padding) == 4:
        p = tuple(int(v) for v in padding)
    else:
        raise ValueError(f"{what}: argument 'padding' must be an int or a sequence of 2 or 4 ints, got {padding!r}")
    if min(p) < 0:
        raise ValueError(f"{what}: argument 'padding' must be non-negative, got {padding!r}")
    return p
