"""The convolution family: forward, input gradient (also conv_transpose2d) and weight gradient, any device;
output sizes from the native modules' one formula."""
from __future__ import annotations

from .. import _C, backend


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """2-D cross-correlation, NCHW; ``padding`` is (top, bottom, left, right)."""
    return backend.kernel("conv2d_forward", x, weight, bias)(x, weight, bias, stride, padding, dilation, groups,
                                                             backend.allow_tf32("conv"))


def conv2d_backward_input(grad_output, weight, input_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                          groups=1):
    """Gradient of conv2d with respect to its input of spatial size ``input_size``; padding is (top, left)."""
    return backend.kernel("conv2d_backward_input", grad_output, weight)(
        grad_output, weight, input_size, stride, padding, dilation, groups, None, backend.allow_tf32("conv"))


def conv2d_backward_weight(x, grad_output, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Gradient of conv2d with respect to its weight; padding is (top, left)."""
    return backend.kernel("conv2d_backward_weight", x, grad_output)(
        x, grad_output, kernel_size, stride, padding, dilation, groups, backend.allow_tf32("conv"),
        backend.deterministic())


def conv2d_output_size(input_size, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """(OH, OW) of conv2d (below 1 when the kernel does not fit); padding (h, w) or (top, bottom, left, right)."""
    return _C.conv2d_output_size(input_size, kernel_size, stride, padding, dilation)


def conv_transpose2d_output_size(input_size, kernel_size, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                                 dilation=(1, 1)):
    """(OH, OW) of conv_transpose2d (and, with output_padding 0 and dilation 1, of max_unpool2d)."""
    return _C.conv_transpose2d_output_size(input_size, kernel_size, stride, padding, output_padding, dilation)
