// The attention family on the GPU: a general path for every dtype and head dim (one warp per query
// row, online softmax; the backward in a Delta pass, a dq pass per query row and a dk/dv pass per
// key row, without atomics) and a float16/bfloat16 tensor-core forward for head dims 32/64/128.
// Contract: attention.h. Every function launches on `stream` and returns without waiting.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/attention/attention.h"

namespace fastnn::cuda::attention {
using ::fastnn::attention::Problem; using ::fastnn::attention::Grads;
enum class Format16 : int { float16 = 0, bfloat16 = 1 };
template <typename T, typename Acc> void forward(const Problem<T>& p, T* out, Acc* lse, cudaStream_t stream);      // T float (Acc float), double (Acc double)
template <typename T, typename Acc> void backward(const Problem<T>& p, const Grads<T, Acc>& g, cudaStream_t stream);
void forward_16(const Problem<uint16_t>& p, Format16 f, uint16_t* out, float* lse, cudaStream_t stream);   // float16/bfloat16 storage, float accumulation
void backward_16(const Problem<uint16_t>& p, Format16 f, const Grads<uint16_t, float>& g, cudaStream_t stream);
}
