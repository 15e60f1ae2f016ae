"""The resampling family: nearest and bilinear upsampling with their backward passes, any device."""
from __future__ import annotations

from .. import backend


def upsample2d(x, mode, output_size, align_corners=False, scales=(0.0, 0.0)):
    """Nearest or bilinear resampling of NCHW ``x``; ``scales`` are the user's factors (0: from the sizes)."""
    return backend.kernel("upsample2d", x)(x, mode, output_size, bool(align_corners), scales)


def upsample2d_backward(grad_output, mode, input_size, align_corners=False, scales=(0.0, 0.0)):
    return backend.kernel("upsample2d_backward", grad_output)(grad_output, mode, input_size, bool(align_corners),
                                                              scales)
