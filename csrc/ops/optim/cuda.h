// Fused optimiser updates on the GPU (Adam/AdamW, SGD): one kernel per parameter instead of a dozen element-wise
// launches. The arithmetic is fastnn's CPU update (PyTorch's single-tensor formulas) operation by
// operation, each correctly rounded and never contracted into an FMA, so GPU and CPU updates are
// bitwise equal.
#pragma once
#include <cuda_runtime.h>

namespace fastnn::cuda {

// Hyper-parameters, already combined on the host in double and rounded to T there, as the CPU
// path's Python scalars are rounded when they meet a T array.
template <typename T>
struct AdamScalars {
  T l2;             // weight_decay added to the gradient (Adam), 0 when none or decoupled
  T decay;          // 1 - lr * weight_decay applied to the parameter first (AdamW), 1 when none
  T w;              // 1 - beta1: the lerp weight of the first moment
  T one_minus_w;    // beta1, as (1.0 - w) in double then rounded
  T beta2, one_minus_beta2;
  T bias_correction2_sqrt, eps, step_size;
  bool lerp_low;    // w < 0.5: PyTorch's lerp branch
  bool maximize, amsgrad;
};

// p, m, v (and vmax with amsgrad) are updated in place; all arrays contiguous, n elements.
template <typename T>
void adam_step(long long n, T* p, const T* g, T* m, T* v, T* vmax, const AdamScalars<T>& s, cudaStream_t stream);

template <typename T>
struct SgdScalars {
  T l2;                 // weight_decay added to the gradient, 0 when none
  T momentum;           // 0: plain SGD, no buffer
  T one_minus_dampening;
  T lr;
  bool dampened;        // dampening != 0
  bool nesterov, maximize;
  bool first;           // the buffer starts as the gradient (its first step)
};

// p (and the momentum buffer when momentum != 0) updated in place; contiguous, n elements.
template <typename T>
void sgd_step(long long n, T* p, const T* g, T* buf, const SgdScalars<T>& s, cudaStream_t stream);

}  // namespace fastnn::cuda
