// 2-D convolution on the GPU as implicit GEMM (NCHW, any element strides, groups).
#pragma once
#include <cuda_runtime.h>

#include "core/cuda_arrays.h"

namespace fastnn::cuda {


// Geometry of a convolution y = conv(x, w):
//   x (N, C, H, W), w (K, C/G, KH, KW), y (N, K, OH, OW),
//   oh = (h + ph - kh * dh) / sh for the taps that land inside x.
struct ConvGeom {
  long long N, C, H, W, K, OH, OW, KH, KW;
  long long sh, sw, ph, pw, dh, dw, G;
};

// y = conv(x, w) + bias (bias may be null: then no bias).
template <typename T>
void conv2d_forward(const ConvGeom& g, Arr4<const T> x, Arr4<const T> w, const T* bias, long long bias_stride, Arr4<T> y,
                    bool allow_tf32, cudaStream_t stream);

// dx = d conv / d x applied to dy (the transposed convolution); bias (length C, may be null)
// is added, which makes this conv_transpose2d's forward as well.
template <typename T>
void conv2d_backward_input(const ConvGeom& g, Arr4<const T> dy, Arr4<const T> w, const T* bias, long long bias_stride,
                           Arr4<T> dx, bool allow_tf32, cudaStream_t stream);

// dw = d conv / d w applied to dy (x the forward input). dw is overwritten. deterministic: the
// reduction is not split over the chip (no atomics), so the result is bitwise reproducible.
template <typename T>
void conv2d_backward_weight(const ConvGeom& g, Arr4<const T> x, Arr4<const T> dy, Arr4<T> dw, bool allow_tf32,
                            bool deterministic, cudaStream_t stream);

}  // namespace fastnn::cuda
