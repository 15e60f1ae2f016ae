"""``fastnn.backends``: PyTorch's ``torch.backends`` switches that fastnn's GPU kernels honour.

* ``fastnn.backends.cuda.matmul.allow_tf32`` (default False, as in PyTorch): float32 matrix
  products on the GPU may use the TF32 tensor cores (10-bit mantissa inputs, float32 accumulation).
* ``fastnn.backends.cudnn.allow_tf32`` (default False): the same for the convolutions. PyTorch's
  default is True; fastnn's convolution kernels are its own (no cuDNN) and default to exact
  float32 so that GPU and CPU results agree to float32 rounding.
"""
from . import cuda, cudnn

__all__ = ["cuda", "cudnn"]
