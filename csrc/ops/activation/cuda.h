// The activation kernels on the GPU (cuda.cu), launched on `stream`. Contract: activation.h.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/activation/activation.h"

namespace fastnn::cuda::activation {

using ::fastnn::activation::Kind;

template <typename T>
void forward(Kind kind, int64_t n, const T* x, T slope, T* y, cudaStream_t stream);
template <typename T>
void backward(Kind kind, int64_t n, const T* dy, const T* x, T slope, T* dx, cudaStream_t stream);

}  // namespace fastnn::cuda::activation
