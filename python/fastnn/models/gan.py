"""GAN models: the DCGAN generator and discriminator of PyTorch's DCGAN tutorial, generalised to other
image sizes, and a WGAN critic (no batch normalisation, so the gradient penalty stays per-sample).

The layer stack depends on the image size through :func:`_stages`: a size ``s0 * 2**m`` (``s0 <= 7``
or odd) gets ``m`` stride-2 stages between ``s0 x s0`` and the image. 64 gives the tutorial exactly
(4 -> 8 -> 16 -> 32 -> 64, channels ``ngf*8 ... ngf``), so its state dicts (``main.0.weight`` ...)
load; 28 (MNIST) gives 7 -> 14 -> 28 and 8 (scikit-learn digits) 4 -> 8.
"""
from __future__ import annotations

from .. import nn

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "WGANCritic", "dcgan_weights_init"]

_NORMALIZATIONS = (None, "batch", "layer", "instance", "spectral")


def _positive_int(name, value, owner):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return value


def _stages(image_size, owner):
    """(s0, m): the image size is ``s0 * 2**m`` with ``m >= 1`` stride-2 stages, halving while the size
    is even and above 7 (64 -> (4, 4), 28 -> (7, 2), 8 -> (4, 1))."""
    _positive_int("image_size", image_size, owner)
    size, m = image_size, 0
    while size > 7 and size % 2 == 0:
        size, m = size // 2, m + 1
    if image_size < 8 or m == 0:
        raise ValueError(f"{owner}: image_size must be an even number >= 8 (e.g. 8, 28, 32, 64), got {image_size}")
    return size, m


def _check_images(owner, x, nc, image_size):
    if x.ndim != 4 or tuple(x.shape[1:]) != (nc, image_size, image_size):
        raise ValueError(f"{owner}: input must have shape (N, {nc}, {image_size}, {image_size}) "
                         f"(nc={nc}, image_size={image_size}), got {tuple(x.shape)}")


def dcgan_weights_init(m):
    """The DCGAN tutorial's ``weights_init``, for ``model.apply(dcgan_weights_init)``: convolution weights
    (transposed too) from N(0, 0.02), batch-norm weights from N(1, 0.02) and biases zero. Other modules
    (Linear, group/instance norm) keep their defaults. A spectrally normalised convolution gets the
    initialisation on its raw weight (``parametrizations.weight.original``)."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(_raw_weight(m).data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def _raw_weight(m):
    if nn.utils.parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original
    return m.weight


class DCGANGenerator(nn.Module):
    """The DCGAN tutorial's generator: ``z`` of shape (N, nz, 1, 1) (or (N, nz)) -> images (N, nc,
    image_size, image_size) in [-1, 1] (Tanh).

    ``ConvTranspose2d(nz, ngf * 2**(m-1), s0, 1, 0)`` makes an ``s0 x s0`` map, then ``m - 1`` stages of
    ``ConvTranspose2d(k=4, s=2, p=1)`` halve the channels while doubling the size, each followed by
    BatchNorm2d and ReLU, and a last ``ConvTranspose2d(ngf, nc, 4, 2, 1)`` + Tanh. No convolution has a
    bias (BatchNorm follows). Weights are initialised by :func:`dcgan_weights_init`.
    """

    def __init__(self, nz=100, ngf=64, nc=1, image_size=64):
        super().__init__()
        owner = "DCGANGenerator"
        for name, value in (("nz", nz), ("ngf", ngf), ("nc", nc)):
            _positive_int(name, value, owner)
        s0, m = _stages(image_size, owner)
        self.nz, self.ngf, self.nc, self.image_size = nz, ngf, nc, image_size
        channels = ngf * 2 ** (m - 1)
        layers = [nn.ConvTranspose2d(nz, channels, s0, 1, 0, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
        for _ in range(m - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(channels // 2), nn.ReLU()]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(dcgan_weights_init)

    def forward(self, input):
        if input.ndim == 2:
            input = input.reshape(input.shape[0], input.shape[1], 1, 1)
        if input.ndim != 4 or tuple(input.shape[1:]) != (self.nz, 1, 1):
            raise ValueError(f"DCGANGenerator: input must have shape (N, {self.nz}, 1, 1) or (N, {self.nz}) "
                             f"(nz={self.nz}), got {tuple(input.shape)}")
        return self.main(input)

    def extra_repr(self):
        return f"nz={self.nz}, ngf={self.ngf}, nc={self.nc}, image_size={self.image_size}"


class DCGANDiscriminator(nn.Module):
    """The DCGAN tutorial's discriminator: images (N, nc, image_size, image_size) -> (N, 1, 1, 1).

    ``m`` stages of ``Conv2d(k=4, s=2, p=1)`` doubling the channels from ``ndf`` (BatchNorm2d on all but
    the first) with LeakyReLU(0.2), then ``Conv2d(ndf * 2**(m-1), 1, s0)`` to one value per image. The
    output is a logit, for ``BCEWithLogitsLoss`` (numerically safer than the tutorial's Sigmoid +
    BCELoss); ``sigmoid=True`` appends the tutorial's ``nn.Sigmoid()``.
    """

    def __init__(self, nc=1, ndf=64, image_size=64, sigmoid=False):
        super().__init__()
        owner = "DCGANDiscriminator"
        _positive_int("nc", nc, owner)
        _positive_int("ndf", ndf, owner)
        s0, m = _stages(image_size, owner)
        self.nc, self.ndf, self.image_size, self.sigmoid = nc, ndf, image_size, bool(sigmoid)
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        channels = ndf
        for _ in range(m - 1):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(channels * 2),
                       nn.LeakyReLU(0.2)]
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, s0, 1, 0, bias=False))
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.main = nn.Sequential(*layers)
        self.apply(dcgan_weights_init)

    def forward(self, input):
        _check_images("DCGANDiscriminator", input, self.nc, self.image_size)
        return self.main(input)

    def extra_repr(self):
        return f"nc={self.nc}, ndf={self.ndf}, image_size={self.image_size}, sigmoid={self.sigmoid}"


class WGANCritic(nn.Module):
    """A WGAN critic: images (N, nc, image_size, image_size) -> scores (N, 1), unbounded (no Sigmoid).

    The DCGAN discriminator's ``m`` stages of ``Conv2d(k=4, s=2, p=1)`` + LeakyReLU(0.2), then
    ``Flatten`` and ``Linear(ndf * 2**(m-1) * s0 * s0, 1)`` (the WGAN-GP paper's critic shape). No batch
    normalisation by default, because the gradient penalty is defined per sample and batch statistics
    would mix the samples. ``normalization`` (after every convolution but the first):

    - ``None`` (default): none;
    - ``"layer"``: layer normalisation over (C, H, W) with a per-channel affine (``GroupNorm(1, C)``),
      what the WGAN-GP paper recommends;
    - ``"instance"``: ``InstanceNorm2d(C, affine=True)``;
    - ``"spectral"``: spectral normalisation of every convolution and the linear layer
      (``nn.utils.parametrizations.spectral_norm``);
    - ``"batch"``: ``BatchNorm2d`` as the original WGAN's (weight clipping) critic; not for WGAN-GP.

    The weights keep PyTorch's default initialisation (``dcgan_weights_init`` can be applied by hand).
    """

    def __init__(self, nc=1, ndf=64, image_size=64, normalization=None):
        super().__init__()
        owner = "WGANCritic"
        _positive_int("nc", nc, owner)
        _positive_int("ndf", ndf, owner)
        if normalization not in _NORMALIZATIONS:
            raise ValueError(f"WGANCritic: normalization must be one of {list(_NORMALIZATIONS)}, got {normalization!r}")
        s0, m = _stages(image_size, owner)
        self.nc, self.ndf, self.image_size, self.normalization = nc, ndf, image_size, normalization
        spectral = nn.utils.parametrizations.spectral_norm if normalization == "spectral" else (lambda layer: layer)
        layers = [spectral(nn.Conv2d(nc, ndf, 4, 2, 1)), nn.LeakyReLU(0.2)]
        channels = ndf
        for _ in range(m - 1):
            layers.append(spectral(nn.Conv2d(channels, channels * 2, 4, 2, 1)))
            channels *= 2
            if normalization == "batch":
                layers.append(nn.BatchNorm2d(channels))
            elif normalization == "layer":
                layers.append(nn.GroupNorm(1, channels))
            elif normalization == "instance":
                layers.append(nn.InstanceNorm2d(channels, affine=True))
            layers.append(nn.LeakyReLU(0.2))
        layers += [nn.Flatten(), spectral(nn.Linear(channels * s0 * s0, 1))]
        self.main = nn.Sequential(*layers)
        # PyTorch's default initialisation, not DCGAN's N(0, 0.02): with that the critic's input gradients start
        # near 0, so the penalty (||grad|| - 1)^2 starts at its maximum and dominates the first epochs.

    def forward(self, input):
        _check_images("WGANCritic", input, self.nc, self.image_size)
        return self.main(input)

    def extra_repr(self):
        return (f"nc={self.nc}, ndf={self.ndf}, image_size={self.image_size}, "
                f"normalization={self.normalization!r}")
