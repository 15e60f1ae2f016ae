// Shape and index maths shared by every module and every device: the bindings compute output
// sizes with it (and expose them to Python), the CPU and CUDA kernels their windows and indices.
// Plain integer arithmetic, no allocation: callable from host code and, under nvcc, device code.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define FASTNN_HD __host__ __device__ __forceinline__
#else
#define FASTNN_HD inline
#endif

namespace fastnn {
namespace shape {

// Floor division for any sign of a (b > 0), as Python's // and PyTorch's div_rtn.
FASTNN_HD int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Output size of a convolution along one dimension: PyTorch's formula with the padding given per
// side (pad_lo + pad_hi = 2 * padding for a symmetric one). Below 1 when the dilated kernel does
// not fit the padded input; the caller reports that.
FASTNN_HD int64_t conv_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad_lo, int64_t pad_hi,
                           int64_t dilation) {
  return floor_div(in + pad_lo + pad_hi - dilation * (kernel - 1) - 1, stride) + 1;
}

// Output size of a transposed convolution (conv2d's input-gradient) along one dimension.
FASTNN_HD int64_t conv_transpose_out(int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                                     int64_t output_padding, int64_t dilation) {
  return (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1;
}

// Output size of a max/avg pool along one dimension: PyTorch's pooling_output_shape. In ceil mode
// the last window must start inside the input or its left padding, otherwise it is dropped.
FASTNN_HD int64_t pool_out(int64_t in, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation,
                           bool ceil_mode) {
  int64_t out = floor_div(in + 2 * padding - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + padding) --out;
  return out;
}

// Window of output cell o of an adaptive pool from `in` to `out` cells: [start, end), PyTorch's
// floor(o * in / out) and ceil((o + 1) * in / out). I is the kernels' index type (32 or 64 bits);
// the products are formed in 64 bits.
template <typename I>
FASTNN_HD I adaptive_start(I o, I in, I out) {
  return (I)(((int64_t)o * in) / out);
}
template <typename I>
FASTNN_HD I adaptive_end(I o, I in, I out) {
  return (I)(((int64_t)(o + 1) * in + out - 1) / out);
}

// Flat index i of a C-contiguous (N, C, H, W) walk to its coordinates (N is implied).
template <typename I>
FASTNN_HD void unflatten(I i, I C, I H, I W, I& n, I& c, I& h, I& w) {
  w = i % W;
  i /= W;
  h = i % H;
  i /= H;
  c = i % C;
  n = i / C;
}

}  // namespace shape
}  // namespace fastnn
