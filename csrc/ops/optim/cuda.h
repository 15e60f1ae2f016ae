// Fused optimiser updates on the GPU (Adam/AdamW, SGD): one kernel per parameter instead of a dozen
// element-wise launches, bitwise equal to the CPU update (ops/optim/optim.h).
#pragma once
#include <cuda_runtime.h>

#include "ops/optim/optim.h"

namespace fastnn::cuda {

// p, m, v (and vmax with amsgrad) are updated in place; all arrays contiguous, n elements.
template <typename T>
void adam_step(long long n, T* p, const T* g, T* m, T* v, T* vmax, const AdamScalars<T>& s, cudaStream_t stream);

// p (and the momentum buffer when momentum != 0) updated in place; contiguous, n elements.
template <typename T>
void sgd_step(long long n, T* p, const T* g, T* buf, const SgdScalars<T>& s, cudaStream_t stream);

}  // namespace fastnn::cuda
