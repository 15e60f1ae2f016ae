// The attention kernels on the GPU (cuda.cu). Contract: attention.h. Every function launches on
// `stream`. forward/backward: float32 (Acc float) and float64 (Acc double) storage; forward_16 /
// backward_16: float16 or bfloat16 storage (Format16) with float accumulation and a float lse.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/attention/attention.h"

namespace fastnn::cuda::attention {

using ::fastnn::attention::Grads;
using ::fastnn::attention::Problem;

enum class Format16 : int { float16 = 0, bfloat16 = 1 };

template <typename T, typename Acc>
void forward(const Problem<T>& p, T* out, Acc* lse, cudaStream_t stream);
template <typename T, typename Acc>
void backward(const Problem<T>& p, const Grads<T, Acc>& g, cudaStream_t stream);

void forward_16(const Problem<uint16_t>& p, Format16 f, uint16_t* out, float* lse, cudaStream_t stream);
void backward_16(const Problem<uint16_t>& p, Format16 f, const Grads<uint16_t, float>& g, cudaStream_t stream);

}  // namespace fastnn::cuda::attention
