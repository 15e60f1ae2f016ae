// 2-D pooling on the GPU (NCHW, any element strides). Output sizes come from the output arrays,
// so ceil_mode is the caller's choice of output size; the windows follow PyTorch exactly.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/cuda_arrays.h"

namespace fastnn::cuda {

struct PoolGeom {
  long long N, C, H, W, OH, OW;
  long long kh, kw, sh, sw, ph, pw, dh, dw;
};

// indices: flat position h * W + w of the maximum inside its (n, c) plane (PyTorch's convention);
// NaN wins over any number.
template <typename T>
void max_pool2d_forward(const PoolGeom& g, Arr4<const T> x, Arr4<T> y, Arr4<int64_t> indices, cudaStream_t stream);

// dx = 0, then dx[n, c].flat[indices] += dy (also the backward of adaptive max pooling).
// Indices outside [0, H * W) are skipped (never written outside dx).
template <typename T>
void max_pool2d_backward(long long N, long long C, long long H, long long W, long long OH, long long OW,
                         Arr4<const T> dy, Arr4<const int64_t> indices, Arr4<T> dx, cudaStream_t stream);

// divisor_override <= 0 means none.
template <typename T>
void avg_pool2d_forward(const PoolGeom& g, bool count_include_pad, long long divisor_override, Arr4<const T> x,
                        Arr4<T> y, cudaStream_t stream);
template <typename T>
void avg_pool2d_backward(const PoolGeom& g, bool count_include_pad, long long divisor_override, Arr4<const T> dy,
                         Arr4<T> dx, cudaStream_t stream);

// Adaptive pools: window of output i along a dimension of size in -> out is
// [floor(i * in / out), ceil((i + 1) * in / out)).
template <typename T>
void adaptive_avg_pool2d_forward(long long N, long long C, long long H, long long W, long long OH, long long OW,
                                 Arr4<const T> x, Arr4<T> y, cudaStream_t stream);
template <typename T>
void adaptive_avg_pool2d_backward(long long N, long long C, long long H, long long W, long long OH, long long OW,
                                  Arr4<const T> dy, Arr4<T> dx, cudaStream_t stream);
template <typename T>
void adaptive_max_pool2d_forward(long long N, long long C, long long H, long long W, long long OH, long long OW,
                                 Arr4<const T> x, Arr4<T> y, Arr4<int64_t> indices, cudaStream_t stream);

}  // namespace fastnn::cuda
