"""Image preparation and augmentation, with torchvision's names and defaults.

Every transform takes a numpy array or a fastnn Tensor holding one image ``(H, W)`` or ``(C, H, W)``,
or a batch ``(N, C, H, W)``, and returns the same kind of object with the same shape layout and
dtype. uint8 images hold values 0..255, floating-point images 0..1 (what the photometric
operations clip to). On a batch the random transforms draw their parameters per image, in one
vectorised step. They draw from fastnn's global generator (``fastnn.manual_seed``) unless a
``generator`` (a numpy Generator or an int seed) is given.

Functional forms (``adjust_brightness``, ``rotate``, ``resize``...) take the same inputs; their
factors may be a number or one number per image of a batch.

Differences from torchvision worth knowing: uint8 results are rounded rather than truncated; on a
batch, random parameters are drawn per image rather than once per call; ``ColorJitter`` applies
brightness, contrast and saturation in that fixed order and has no hue.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _arrays
from . import _image_ops as ops
from .dataset import as_generator

__all__ = [
    "Transform", "Compose", "Lambda", "RandomApply", "ToTensor", "Normalize", "Resize", "Grayscale",
    "RandomBrightness", "RandomContrast", "RandomExposure", "ColorJitter", "RandomEqualize",
    "RandomRotation", "RandomAffine", "RandomHorizontalFlip", "RandomVerticalFlip", "GaussianBlur",
    "RandomCrop", "CenterCrop", "Pad",
    "to_tensor", "normalize", "resize", "rgb_to_grayscale", "adjust_brightness", "adjust_contrast",
    "adjust_saturation", "adjust_gamma", "adjust_exposure", "equalize", "equalize_histogram", "rotate",
    "affine", "hflip", "vflip", "gaussian_blur", "crop", "center_crop", "pad",
]


# ----------------------------------------------------------------------------- argument helpers

def _pair(value, what, name):
    """An int or a pair of ints as a (first, second) tuple of positive ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        v = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 1:
        v = (int(value[0]),) * 2
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        v = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{what}: argument '{name}' must be an int or a pair of ints, got {value!r}")
    if min(v) <= 0:
        raise ValueError(f"{what}: argument '{name}' must be positive, got {value!r}")
    return v


def _range(value, what, name, center=None, lowest=None):
    """A number ``v`` as the range (center - v, center + v) (or (-v, v)); a pair as itself."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{what}: argument '{name}' must be non-negative when a single number, got {value}")
        c = 0.0 if center is None else center
        lo, hi = c - float(value), c + float(value)
        if lowest is not None:
            lo = max(lo, lowest)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
    else:
        raise ValueError(f"{what}: argument '{name}' must be a number or a (min, max) pair, got {value!r}")
    if lo > hi or (lowest is not None and lo < lowest):
        raise ValueError(f"{what}: argument '{name}' must give min <= max"
                         + (f" and min >= {lowest}" if lowest is not None else "") + f", got {value!r}")
    return lo, hi


def _probability(p, what):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{what}: argument 'p' must be a probability in [0, 1], got {p!r}")
    return float(p)


def _interpolation(value, what):
    name = getattr(value, "value", value)  # accept enum-like objects with a string value
    if isinstance(name, str) and name.lower() in ("bilinear", "nearest"):
        return name.lower()
    raise ValueError(f"{what}: argument 'interpolation' must be 'bilinear' or 'nearest', got {value!r}")


def _image(img, what):
    batch, restore = ops.as_batch(img, what)
    ops.check_image_dtype(batch, what)
    return batch, restore


# ----------------------------------------------------------------------------- functional forms

def to_tensor(pic):
    """A numpy image (H, W) or (H, W, C) (or a batch (N, H, W, C)) as a float32 Tensor (C, H, W)
    (or (N, C, H, W)); uint8 values are divided by 255. A Tensor is returned unchanged."""
    if _arrays.is_tensor(pic):
        return pic
    if not isinstance(pic, np.ndarray):
        raise TypeError(f"to_tensor: argument 'pic' must be a numpy array, got {type(pic).__name__}")
    if pic.ndim == 2:
        a = pic[None]
    elif pic.ndim == 3:
        a = pic.transpose(2, 0, 1)
    elif pic.ndim == 4:
        a = pic.transpose(0, 3, 1, 2)
    else:
        raise ValueError(f"to_tensor: argument 'pic' must have shape (H, W), (H, W, C) or (N, H, W, C), "
                         f"got shape {pic.shape}")
    if pic.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    elif pic.dtype.kind in "biuf":
        a = a.astype(np.float32)
    else:
        raise TypeError(f"to_tensor: argument 'pic' must hold numbers, got dtype {pic.dtype}")
    return _arrays.wrap(np.ascontiguousarray(a))


def normalize(tensor, mean, std, inplace=False):
    """``(x - mean[c]) / std[c]`` per channel on a floating-point image or batch."""
    x, restore = ops.as_batch(tensor, "normalize", "tensor")
    if x.dtype.kind != "f":
        raise TypeError(f"normalize: argument 'tensor' must be floating point, got dtype {x.dtype}; "
                        "convert it first (e.g. with ToTensor)")
    c = x.shape[1]
    m = np.asarray(mean, dtype=np.float64).reshape(-1)
    s = np.asarray(std, dtype=np.float64).reshape(-1)
    for name, v in (("mean", m), ("std", s)):
        if v.size not in (1, c):
            raise ValueError(f"normalize: argument '{name}' must have 1 or {c} values (one per channel), got {v.size}")
    if np.any(s == 0):
        raise ValueError(f"normalize: argument 'std' must not contain zeros, got {s.tolist()}")
    out = ((x - m.astype(x.dtype)[None, :, None, None]) / s.astype(x.dtype)[None, :, None, None]).astype(x.dtype)
    if inplace:
        x[...] = out
        return tensor
    return restore(out)


def _size_for(h, w, size, what):
    if isinstance(size, numbers.Integral) and not isinstance(size, bool) or (
            isinstance(size, (tuple, list)) and len(size) == 1):
        s = int(size if isinstance(size, numbers.Integral) else size[0])
        if s <= 0:
            raise ValueError(f"{what}: argument 'size' must be positive, got {size!r}")
        # torchvision's rule: the smaller edge becomes ``size``, the aspect ratio is kept
        if h <= w:
            return s, max(1, int(s * w / h))
        return max(1, int(s * h / w)), s
    return _pair(size, what, "size")


def resize(img, size, interpolation="bilinear", antialias=False):
    """Resize to ``size`` ((h, w), or an int for the smaller edge). Bilinear follows PyTorch's
    ``interpolate(..., mode="bilinear", align_corners=False, antialias=False)``; ``antialias=True``
    is not implemented and raises."""
    if antialias:
        raise ValueError("resize: argument 'antialias=True' is not supported; use antialias=False "
                         "(or blur before down-sampling)")
    x, restore = _image(img, "resize")
    oh, ow = _size_for(x.shape[2], x.shape[3], size, "resize")
    return restore(ops.resize(x, (oh, ow), _interpolation(interpolation, "resize")))


def rgb_to_grayscale(img, num_output_channels=1):
    if num_output_channels not in (1, 3):
        raise ValueError("rgb_to_grayscale: argument 'num_output_channels' must be 1 or 3, "
                         f"got {num_output_channels!r}")
    x, restore = _image(img, "rgb_to_grayscale")
    return restore(ops.grayscale(x, num_output_channels))


def _factor(x, value, what, name):
    f = ops.per_image(value, x.shape[0], what, name)
    if np.any(f < 0):
        raise ValueError(f"{what}: argument '{name}' must be non-negative, got {value!r}")
    return f


def adjust_brightness(img, brightness_factor):
    """Multiply by ``brightness_factor`` (0 gives black, 1 the original), clipped to the valid range."""
    x, restore = _image(img, "adjust_brightness")
    return restore(ops.brightness(x, _factor(x, brightness_factor, "adjust_brightness", "brightness_factor")))


def adjust_contrast(img, contrast_factor):
    """Blend with the image's mean grey level (0 gives a uniform grey image, 1 the original)."""
    x, restore = _image(img, "adjust_contrast")
    return restore(ops.contrast(x, _factor(x, contrast_factor, "adjust_contrast", "contrast_factor")))


def adjust_saturation(img, saturation_factor):
    """Blend an RGB image with its grey version (0 gives grey, 1 the original, 2 doubles colours)."""
    x, restore = _image(img, "adjust_saturation")
    return restore(ops.saturation(x, _factor(x, saturation_factor, "adjust_saturation", "saturation_factor")))


def adjust_gamma(img, gamma, gain=1):
    """Exposure correction ``gain * img ** gamma`` on values scaled to 0..1 (gamma < 1 brightens)."""
    x, restore = _image(img, "adjust_gamma")
    g = _factor(x, gamma, "adjust_gamma", "gamma")
    k = ops.per_image(gain, x.shape[0], "adjust_gamma", "gain")
    return restore(ops.gamma(x, g, k))


def adjust_exposure(img, gamma, gain=1):
    """Same as ``adjust_gamma``: an exposure change by a gamma curve."""
    return adjust_gamma(img, gamma, gain)


def equalize(img):
    """Histogram equalisation per image and channel (PIL's ``ImageOps.equalize`` rule); float
    images in 0..1 are equalised on 256 levels."""
    x, restore = _image(img, "equalize")
    return restore(ops.equalize(x))


equalize_histogram = equalize


def _affine_batch(x, angle, translate, scale, shear, center, interpolation, fill, what):
    n, _, h, w = x.shape
    ang = ops.per_image(angle, n, what, "angle")
    sc = ops.per_image(scale, n, what, "scale")
    if np.any(sc <= 0):
        raise ValueError(f"{what}: argument 'scale' must be positive, got {scale!r}")
    tr = np.broadcast_to(np.asarray(translate, dtype=np.float64), (n, 2)) if np.ndim(translate) < 2 \
        else np.asarray(translate, dtype=np.float64)
    sh = np.broadcast_to(np.asarray(shear, dtype=np.float64), (n, 2)) if np.ndim(shear) < 2 \
        else np.asarray(shear, dtype=np.float64)
    if tr.shape != (n, 2) or sh.shape != (n, 2):
        raise ValueError(f"{what}: arguments 'translate' and 'shear' must be pairs (or one pair per image), "
                         f"got shapes {tr.shape} and {sh.shape}")
    if center is None:
        ctr = np.broadcast_to(np.array([(w - 1) * 0.5, (h - 1) * 0.5]), (n, 2))
    else:
        ctr = np.broadcast_to(np.asarray(center, dtype=np.float64), (n, 2))
    inv_a, inv_b = ops.affine_inverse(ang, tr, sc, sh, ctr)
    return ops.warp_affine(x, inv_a, inv_b, interpolation=_interpolation(interpolation, what), fill=fill, what=what)


def rotate(img, angle, interpolation="bilinear", expand=False, center=None, fill=0):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` ((x, y) pixel coordinates,
    default the image centre); uncovered pixels take ``fill``. ``expand`` is not supported."""
    if expand:
        raise ValueError("rotate: argument 'expand=True' is not supported; the output keeps the input size")
    x, restore = _image(img, "rotate")
    return restore(_affine_batch(x, angle, (0.0, 0.0), 1.0, (0.0, 0.0), center, interpolation, fill, "rotate"))


def affine(img, angle, translate, scale, shear, interpolation="bilinear", fill=0, center=None):
    """Rotate by ``angle`` (degrees), shear by ``shear`` (degrees, a number for x or an (x, y) pair),
    scale by ``scale`` about ``center``, then shift by ``translate`` = (dx, dy) pixels."""
    if isinstance(shear, numbers.Real):
        shear = (float(shear), 0.0)
    x, restore = _image(img, "affine")
    return restore(_affine_batch(x, angle, translate, scale, shear, center, interpolation, fill, "affine"))


def hflip(img):
    x, restore = ops.as_batch(img, "hflip")
    return restore(x[:, :, :, ::-1])


def vflip(img):
    x, restore = ops.as_batch(img, "vflip")
    return restore(x[:, :, ::-1, :])


def _kernel_size(kernel_size, what):
    k = _pair(kernel_size, what, "kernel_size")
    if k[0] % 2 == 0 or k[1] % 2 == 0:
        raise ValueError(f"{what}: argument 'kernel_size' must hold odd positive ints, got {kernel_size!r}")
    return k


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian kernel of ``kernel_size`` ((kx, ky) or an int) and ``sigma`` (a number or
    an (sx, sy) list/tuple; a numpy array of shape (N,) or (N, 2) gives one per image); reflect
    padding, as in torchvision. ``sigma=None`` uses torchvision's default
    ``0.3 * ((k - 1) * 0.5 - 1) + 0.8``."""
    x, restore = _image(img, "gaussian_blur")
    kx, ky = _kernel_size(kernel_size, "gaussian_blur")
    n = x.shape[0]
    if sigma is None:
        s = np.array([0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in (kx, ky)])[None, :].repeat(n, 0)
    elif isinstance(sigma, (tuple, list)):
        if len(sigma) not in (1, 2):
            raise ValueError(f"gaussian_blur: argument 'sigma' must be a number or an (sx, sy) pair, got {sigma!r}")
        s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n, 2))
    else:
        s = np.asarray(sigma, dtype=np.float64)
        if s.ndim == 2 and s.shape == (n, 2):
            pass
        else:
            s = ops.per_image(s, n, "gaussian_blur", "sigma")[:, None].repeat(2, 1)
    if np.any(s <= 0):
        raise ValueError(f"gaussian_blur: argument 'sigma' must be positive, got {sigma!r}")
    return restore(ops.gaussian_blur(x, (kx, ky), s))


def crop(img, top, left, height, width):
    """The (height, width) window at (top, left); parts outside the image are zero, as in torchvision."""
    x, restore = ops.as_batch(img, "crop")
    n, _, h, w = x.shape
    if height <= 0 or width <= 0:
        raise ValueError(f"crop: arguments 'height' and 'width' must be positive, got {height} and {width}")
    pads = (max(0, -left), max(0, -top), max(0, left + width - w), max(0, top + height - h))
    if any(pads):
        x = ops.pad(x, pads)
        top, left = top + pads[1], left + pads[0]
    return restore(x[:, :, top:top + height, left:left + width])


def center_crop(img, output_size):
    x, _ = ops.as_batch(img, "center_crop")
    th, tw = _pair(output_size, "center_crop", "output_size")
    h, w = x.shape[2:]
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad by an int, (left/right, top/bottom) or (left, top, right, bottom)."""
    x, restore = ops.as_batch(img, "pad")
    return restore(ops.pad(x, ops.normalize_padding(padding, "pad"), fill, padding_mode, "pad"))


# ----------------------------------------------------------------------------- transform classes

class Transform:
    """Base class: ``__call__(img)`` returns the transformed image or batch."""

    def __call__(self, img):
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def _args(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self._args()})"


class RandomTransform(Transform):
    """A transform drawing random parameters: from ``generator`` if given, else fastnn's global one."""

    def __init__(self, generator=None):
        self._generator = None if generator is None else as_generator(generator)

    @property
    def rng(self):
        return as_generator(self._generator)


class Compose(Transform):
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: argument 'transforms' item {i} is not callable ({type(t).__name__})")
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Lambda(Transform):
    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument 'lambd' must be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class RandomApply(RandomTransform):
    """Apply ``transforms`` (in order) with probability ``p``; on a batch the choice is per image."""

    def __init__(self, transforms, p=0.5, generator=None):
        super().__init__(generator)
        self.transforms = Compose(transforms)
        self.p = _probability(p, "RandomApply")

    def __call__(self, img):
        x, restore = ops.as_batch(img, "RandomApply")
        keep = self.rng.random(x.shape[0]) < self.p
        if not keep.any():
            return img
        done, _ = ops.as_batch(self.transforms(img), "RandomApply")
        if done.shape != x.shape:
            raise ValueError(f"RandomApply: the transforms must keep the shape {x.shape}, got {done.shape}")
        return restore(np.where(keep[:, None, None, None], done, x))

    def _args(self):
        return f"p={self.p}, transforms={self.transforms.transforms!r}"


class ToTensor(Transform):
    """A numpy image (H, W[, C]) in 0..255 (uint8) or any numbers as a float32 Tensor (C, H, W)."""

    def __call__(self, pic):
        return to_tensor(pic)


class Normalize(Transform):
    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        return normalize(tensor, self.mean, self.std, self.inplace)

    def _args(self):
        return f"mean={self.mean}, std={self.std}"


class Resize(Transform):
    def __init__(self, size, interpolation="bilinear", antialias=False):
        if antialias:
            raise ValueError("Resize: argument 'antialias=True' is not supported")
        if isinstance(size, (tuple, list)) and len(size) == 2:
            _pair(size, "Resize", "size")
        self.size, self.interpolation = size, _interpolation(interpolation, "Resize")

    def __call__(self, img):
        return resize(img, self.size, self.interpolation)

    def _args(self):
        return f"size={self.size}, interpolation={self.interpolation}"


class Grayscale(Transform):
    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: argument 'num_output_channels' must be 1 or 3, got {num_output_channels!r}")
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return rgb_to_grayscale(img, self.num_output_channels)


class _RandomFactor(RandomTransform):
    """Multiply-style adjustments whose factor is drawn uniformly from a range around 1."""
    _fn = None
    _name = ""

    def __init__(self, value, generator=None):
        super().__init__(generator)
        self.range = _range(value, type(self).__name__, self._name, center=1.0, lowest=0.0)

    def __call__(self, img):
        x, _ = _image(img, type(self).__name__)
        f = self.rng.uniform(self.range[0], self.range[1], size=x.shape[0])
        return type(self)._fn(img, f)

    def _args(self):
        return f"{self._name}={self.range}"


class RandomBrightness(_RandomFactor):
    """Brightness factor drawn from [max(0, 1 - b), 1 + b] (or a given (min, max)) per image."""
    _fn = staticmethod(adjust_brightness)
    _name = "brightness"


class RandomContrast(_RandomFactor):
    """Contrast factor drawn from [max(0, 1 - c), 1 + c] (or a given (min, max)) per image."""
    _fn = staticmethod(adjust_contrast)
    _name = "contrast"


class RandomExposure(RandomTransform):
    """Gamma drawn log-uniformly from ``gamma`` = (min, max) per image (so 0.8 and 1.25 are equally likely)."""

    def __init__(self, gamma=(0.8, 1.25), generator=None):
        super().__init__(generator)
        self.gamma = _range(gamma, "RandomExposure", "gamma")
        if self.gamma[0] <= 0:
            raise ValueError(f"RandomExposure: argument 'gamma' must be positive, got {gamma!r}")

    def __call__(self, img):
        x, _ = _image(img, "RandomExposure")
        g = np.exp(self.rng.uniform(np.log(self.gamma[0]), np.log(self.gamma[1]), size=x.shape[0]))
        return adjust_gamma(img, g)

    def _args(self):
        return f"gamma={self.gamma}"


class ColorJitter(RandomTransform):
    """Random brightness, contrast and saturation (applied in that order), each factor drawn per image
    from [max(0, 1 - v), 1 + v] or a given (min, max); 0 leaves that property unchanged."""

    def __init__(self, brightness=0, contrast=0, saturation=0, generator=None):
        super().__init__(generator)
        self.brightness = _range(brightness, "ColorJitter", "brightness", 1.0, 0.0)
        self.contrast = _range(contrast, "ColorJitter", "contrast", 1.0, 0.0)
        self.saturation = _range(saturation, "ColorJitter", "saturation", 1.0, 0.0)

    def __call__(self, img):
        x, _ = _image(img, "ColorJitter")
        n = x.shape[0]
        for rng_, fn in ((self.brightness, adjust_brightness), (self.contrast, adjust_contrast),
                         (self.saturation, adjust_saturation)):
            if rng_ != (1.0, 1.0):
                img = fn(img, self.rng.uniform(rng_[0], rng_[1], size=n))
        return img

    def _args(self):
        return f"brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}"


class RandomEqualize(RandomApply):
    """Histogram equalisation with probability ``p`` (per image on a batch)."""

    def __init__(self, p=0.5, generator=None):
        super().__init__([equalize], p, generator)


class RandomRotation(RandomTransform):
    """Rotate by an angle drawn from (-degrees, degrees) (or a given (min, max)) per image."""

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0, generator=None):
        super().__init__(generator)
        if expand:
            raise ValueError("RandomRotation: argument 'expand=True' is not supported")
        self.degrees = _range(degrees, "RandomRotation", "degrees")
        self.interpolation = _interpolation(interpolation, "RandomRotation")
        self.center, self.fill = center, fill

    def __call__(self, img):
        x, restore = _image(img, "RandomRotation")
        angle = self.rng.uniform(self.degrees[0], self.degrees[1], size=x.shape[0])
        return restore(_affine_batch(x, angle, (0.0, 0.0), 1.0, (0.0, 0.0), self.center, self.interpolation,
                                     self.fill, "RandomRotation"))

    def _args(self):
        return f"degrees={self.degrees}, interpolation={self.interpolation}, fill={self.fill}"


class RandomAffine(RandomTransform):
    """Random rotation (``degrees``), shift (``translate`` = (a, b): |dx| <= a * W, |dy| <= b * H,
    rounded to whole pixels as in torchvision), zoom (``scale`` = (min, max)) and shear, per image."""

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest", fill=0,
                 center=None, generator=None):
        super().__init__(generator)
        self.degrees = _range(degrees, "RandomAffine", "degrees")
        if translate is not None:
            if not (isinstance(translate, (tuple, list)) and len(translate) == 2
                    and all(0.0 <= float(t) <= 1.0 for t in translate)):
                raise ValueError(f"RandomAffine: argument 'translate' must be a pair of fractions in [0, 1], "
                                 f"got {translate!r}")
            translate = (float(translate[0]), float(translate[1]))
        if scale is not None:
            scale = _range(scale, "RandomAffine", "scale")
            if scale[0] <= 0:
                raise ValueError(f"RandomAffine: argument 'scale' must be positive, got {scale!r}")
        if shear is not None:
            if isinstance(shear, numbers.Real) or (isinstance(shear, (tuple, list)) and len(shear) == 2):
                shear = _range(shear, "RandomAffine", "shear") + (0.0, 0.0)
            elif isinstance(shear, (tuple, list)) and len(shear) == 4:
                shear = tuple(float(s) for s in shear)
            else:
                raise ValueError(f"RandomAffine: argument 'shear' must be a number or 2 or 4 numbers, got {shear!r}")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation = _interpolation(interpolation, "RandomAffine")
        self.fill, self.center = fill, center

    def __call__(self, img):
        x, restore = _image(img, "RandomAffine")
        n, _, h, w = x.shape
        g = self.rng
        angle = g.uniform(self.degrees[0], self.degrees[1], size=n)
        tr = np.zeros((n, 2))
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * w, self.translate[1] * h
            tr = np.rint(np.stack([g.uniform(-max_dx, max_dx, n), g.uniform(-max_dy, max_dy, n)], 1))
        sc = np.ones(n) if self.scale is None else g.uniform(self.scale[0], self.scale[1], n)
        sh = np.zeros((n, 2))
        if self.shear is not None:
            sh = np.stack([g.uniform(self.shear[0], self.shear[1], n), g.uniform(self.shear[2], self.shear[3], n)], 1)
        return restore(_affine_batch(x, angle, tr, sc, sh, self.center, self.interpolation, self.fill,
                                     "RandomAffine"))

    def _args(self):
        return (f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear}, "
                f"interpolation={self.interpolation}")


class _RandomFlip(RandomTransform):
    _axis = -1

    def __init__(self, p=0.5, generator=None):
        super().__init__(generator)
        self.p = _probability(p, type(self).__name__)

    def __call__(self, img):
        x, restore = ops.as_batch(img, type(self).__name__)
        flip = self.rng.random(x.shape[0]) < self.p
        if not flip.any():
            return img
        return restore(np.where(flip[:, None, None, None], np.flip(x, axis=self._axis), x))

    def _args(self):
        return f"p={self.p}"


class RandomHorizontalFlip(_RandomFlip):
    _axis = 3


class RandomVerticalFlip(_RandomFlip):
    _axis = 2


class GaussianBlur(RandomTransform):
    """Gaussian blur with ``sigma`` drawn uniformly from (min, max) per image (or fixed)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0), generator=None):
        super().__init__(generator)
        self.kernel_size = _kernel_size(kernel_size, "GaussianBlur")
        if isinstance(sigma, numbers.Real):
            if sigma <= 0:
                raise ValueError(f"GaussianBlur: argument 'sigma' must be positive, got {sigma!r}")
            sigma = (float(sigma), float(sigma))
        else:
            sigma = _range(sigma, "GaussianBlur", "sigma")
            if sigma[0] <= 0:
                raise ValueError(f"GaussianBlur: argument 'sigma' must be positive, got {sigma!r}")
        self.sigma = sigma

    def __call__(self, img):
        x, _ = _image(img, "GaussianBlur")
        s = self.rng.uniform(self.sigma[0], self.sigma[1], size=x.shape[0])
        return gaussian_blur(img, self.kernel_size, s)

    def _args(self):
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}"


class RandomCrop(RandomTransform):
    """A random ``size`` window per image, after optional ``padding`` (as in torchvision)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant", generator=None):
        super().__init__(generator)
        self.size = _pair(size, "RandomCrop", "size")
        self.padding = None if padding is None else ops.normalize_padding(padding, "RandomCrop")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: argument 'padding_mode' must be 'constant', 'edge', 'reflect' or "
                             f"'symmetric', got {padding_mode!r}")

    def __call__(self, img):
        x, restore = ops.as_batch(img, "RandomCrop")
        if self.padding is not None:
            x = ops.pad(x, self.padding, self.fill, self.padding_mode, "RandomCrop")
        th, tw = self.size
        h, w = x.shape[2:]
        if self.pad_if_needed and (h < th or w < tw):
            dw, dh = max(0, tw - w), max(0, th - h)
            x = ops.pad(x, (dw, dh, dw, dh), self.fill, self.padding_mode, "RandomCrop")
            h, w = x.shape[2:]
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: argument 'size' {self.size} is larger than the (padded) image "
                             f"{(h, w)}; use padding or pad_if_needed=True")
        n = x.shape[0]
        top = self.rng.integers(0, h - th + 1, size=n)
        left = self.rng.integers(0, w - tw + 1, size=n)
        return restore(ops.crop(x, top, left, th, tw))

    def _args(self):
        return f"size={self.size}, padding={self.padding}"


class CenterCrop(Transform):
    def __init__(self, size):
        self.size = _pair(size, "CenterCrop", "size")

    def __call__(self, img):
        return center_crop(img, self.size)

    def _args(self):
        return f"size={self.size}"


class Pad(Transform):
    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding = ops.normalize_padding(padding, "Pad")
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, img):
        return pad(img, self.padding, self.fill, self.padding_mode)

    def _args(self):
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"
