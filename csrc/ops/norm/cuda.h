// The normalisation kernels on the GPU (cuda.cu), launched on `stream`. Contract: norm.h.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/norm/norm.h"

namespace fastnn::cuda::norm {

template <typename T>
void norm_forward(bool centered, int64_t rows, int64_t C, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                  T* rstd, cudaStream_t stream);
template <typename T>
void norm_backward(bool centered, int64_t rows, int64_t C, const T* dy, const T* x, const T* mean, const T* rstd,
                   const T* w, T* dx, T* dw, T* db, cudaStream_t stream);

template <typename T>
void batch_norm_forward(int64_t N, int64_t C, int64_t S, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                        T* var, T* rstd, cudaStream_t stream);
// dw and db (C,) are always written (the sums dx needs); dx may be null.
template <typename T>
void batch_norm_backward(int64_t N, int64_t C, int64_t S, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* w, T* dx, T* dw, T* db, cudaStream_t stream);


// silu: followed by SiLU (norm.h).
template <typename T>
void group_norm_forward(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* w, const T* b, T eps, T* y,
                        T* mean, T* rstd, bool silu, cudaStream_t stream);
// dx, dw, db may each be null (not wanted). silu_g: null, or the N * C * S workspace of the backward through
// SiLU (the bias b is then read; it may be null).
template <typename T>
void group_norm_backward(int64_t N, int64_t C, int64_t S, int64_t G, const T* dy, const T* x, const T* mean,
                         const T* rstd, const T* w, const T* b, T* silu_g, T* dx, T* dw, T* db, cudaStream_t stream);

}  // namespace fastnn::cuda::norm
