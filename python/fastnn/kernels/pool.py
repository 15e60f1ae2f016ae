"""The pooling family: max, average and adaptive pools with their backward passes, any device; output
sizes from the native modules' one formula (PyTorch's, ceil_mode included)."""
from __future__ import annotations

from .. import _C, backend


def max_pool2d(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False, with_indices=True):
    """(output, int64 flat indices h * W + w or None)."""
    return backend.kernel("max_pool2d", x)(x, kernel_size, stride, padding, dilation, bool(ceil_mode),
                                           bool(with_indices))


def max_pool2d_backward(grad_output, indices, input_size):
    """Scatter-add of ``grad_output`` at ``indices`` into planes of ``input_size`` (also adaptive max pooling)."""
    return backend.kernel("max_pool2d_backward", grad_output, indices)(grad_output, indices, input_size)


def avg_pool2d(x, kernel_size, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return backend.kernel("avg_pool2d", x)(x, kernel_size, stride, padding, bool(ceil_mode), bool(count_include_pad),
                                           divisor_override)


def avg_pool2d_backward(grad_output, input_size, kernel_size, stride, padding=(0, 0), ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    return backend.kernel("avg_pool2d_backward", grad_output)(grad_output, input_size, kernel_size, stride, padding,
                                                              bool(ceil_mode), bool(count_include_pad),
                                                              divisor_override)


def adaptive_avg_pool2d(x, output_size):
    return backend.kernel("adaptive_avg_pool2d", x)(x, output_size)


def adaptive_avg_pool2d_backward(grad_output, input_size):
    return backend.kernel("adaptive_avg_pool2d_backward", grad_output)(grad_output, input_size)


def adaptive_max_pool2d(x, output_size, with_indices=True):
    return backend.kernel("adaptive_max_pool2d", x)(x, output_size, bool(with_indices))


def pool2d_output_size(input_size, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """(OH, OW) of max_pool2d / avg_pool2d (below 1 when the window does not fit)."""
    return _C.pool2d_output_size(input_size, kernel_size, stride, padding, dilation, bool(ceil_mode))
