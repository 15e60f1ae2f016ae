// Fused optimiser updates on the CPU: the twins of ops/optim/cuda.h, same scalars, same bits.
#pragma once
#include <cstdint>

#include "ops/optim/optim.h"

namespace fastnn {

// p, m, v (and vmax with amsgrad, else null) are updated in place; all arrays contiguous, n elements.
template <typename T>
void adam_step_cpu(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamScalars<T>& s);

// p (and the momentum buffer when momentum != 0, else null) updated in place; contiguous, n elements.
template <typename T>
void sgd_step_cpu(int64_t n, T* p, const T* g, T* buf, const SgdScalars<T>& s);

}  // namespace fastnn
