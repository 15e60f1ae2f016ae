"""GoogLeNet's inception block (torchvision's ``Inception``): parallel branches concatenated on channels."""
from __future__ import annotations

import numbers

from .. import nn
from .. import cat
from ..nn import functional as F

__all__ = ["BasicConv2d", "InceptionBlock"]


class BasicConv2d(nn.Module):
    """Conv2d without bias, BatchNorm2d (eps=0.001) and ReLU: torchvision's ``BasicConv2d``, with its
    parameter names (``conv``, ``bn``). ``kwargs`` go to ``Conv2d`` (``kernel_size``, ``padding``, ...)."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InceptionBlock(nn.Module):
    """The inception block of GoogLeNet as torchvision builds it (``torchvision.models.googlenet.Inception``),
    with its arguments, branch structure and parameter names, so its state dict loads here:

    - ``branch1``: 1x1 conv to ``ch1x1`` channels;
    - ``branch2``: 1x1 conv to ``ch3x3red``, then 3x3 conv (padding 1) to ``ch3x3``;
    - ``branch3``: 1x1 conv to ``ch5x5red``, then a **3x3** conv (padding 1) to ``ch5x5`` — torchvision's
      known deviation from the paper's 5x5 (pytorch/vision issue 906), kept for weight compatibility;
    - ``branch4``: 3x3 max pooling (stride 1, padding 1, ``ceil_mode=True``), then 1x1 conv to ``pool_proj``.

    Each conv is a ``conv_block`` (default :class:`BasicConv2d`: conv without bias, BatchNorm2d with
    eps=0.001, ReLU). The four outputs keep the input's height and width and are concatenated on the
    channel axis: (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, conv_block=None):
        super().__init__()
        args = dict(in_channels=in_channels, ch1x1=ch1x1, ch3x3red=ch3x3red, ch3x3=ch3x3, ch5x5red=ch5x5red,
                    ch5x5=ch5x5, pool_proj=pool_proj)
        for name, v in args.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"InceptionBlock: argument '{name}' must be a positive int, got {v!r}")
        if conv_block is None:
            conv_block = BasicConv2d
        self.in_channels = int(in_channels)
        self.out_channels = int(ch1x1 + ch3x3 + ch5x5 + pool_proj)
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1), conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1), conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1))

    def _forward(self, x):
        return [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"InceptionBlock: expected input of shape (N, {self.in_channels}, H, W), got "
                             f"{tuple(x.shape)}")
        return cat(self._forward(x), 1)
