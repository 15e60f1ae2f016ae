// The attention kernels on the CPU: the flash-attention forward and backward on the SIMD layer
// (flash_simd.cpp, one instantiation per CPU path) and the plain reference (ref.cpp).
// Contract: attention.h. On the CPU the accumulation type is the storage type (float32 or float64).
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/attention/attention.h"

FASTNN_DECLARE_PER_PATH(namespace attention {
  using ::fastnn::attention::Grads;
  using ::fastnn::attention::Problem;
  template <typename T>
  void forward(const Problem<T>& p, T* out, T* lse);
  template <typename T>
  void backward(const Problem<T>& p, const Grads<T, T>& g);
})

namespace fastnn {
namespace attention {

// The kernels of the CPU path in use.
template <typename T>
void forward_cpu(const Problem<T>& p, T* out, T* lse) {
  FASTNN_DISPATCH(attention::forward<T>)(p, out, lse);
}
template <typename T>
void backward_cpu(const Problem<T>& p, const Grads<T, T>& g) {
  FASTNN_DISPATCH(attention::backward<T>)(p, g);
}

// Plain references for the tests: one query row at a time, every sum in double, no SIMD, no threads.
template <typename T>
void forward_reference(const Problem<T>& p, T* out, T* lse);
template <typename T>
void backward_reference(const Problem<T>& p, const Grads<T, T>& g);

}  // namespace attention
}  // namespace fastnn
