// The recurrent family on the GPU: the whole-sequence loops of driver.h with fastnn's CUDA GEMM and
// one-thread-per-element gate kernels, launched on `stream`. Contract: rnn.h.
#pragma once
#include <cuda_runtime.h>

#include "ops/rnn/driver.h"

namespace fastnn {
namespace rnn {

template <typename T>
void sequence_forward_cuda(const SeqFwd<T>& s, cudaStream_t stream);
template <typename T>
void sequence_backward_cuda(const SeqBwd<T>& s, cudaStream_t stream);

}  // namespace rnn
}  // namespace fastnn
