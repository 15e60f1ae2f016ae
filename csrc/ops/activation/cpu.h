// The activation kernels on the CPU: the SIMD ones (cpu_simd.cpp, one instantiation per CPU path), the
// dispatch to the path in use, and the plain reference (ref.cpp). Contract: activation.h.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/activation/activation.h"

FASTNN_DECLARE_PER_PATH(namespace activation {
  using ::fastnn::activation::Kind;
  template <typename T>
  void forward(Kind kind, int64_t n, const T* x, T slope, T* y);
  template <typename T>
  void backward(Kind kind, int64_t n, const T* dy, const T* x, T slope, T* dx);
})

namespace fastnn {
namespace activation {

// Multi-threaded over chunks of the arrays.
template <typename T>
void forward_cpu(Kind kind, int64_t n, const T* x, T slope, T* y) {
  FASTNN_DISPATCH(activation::forward<T>)(kind, n, x, slope, y);
}

template <typename T>
void backward_cpu(Kind kind, int64_t n, const T* dy, const T* x, T slope, T* dx) {
  FASTNN_DISPATCH(activation::backward<T>)(kind, n, dy, x, slope, dx);
}

// Plain references for the tests: one scalar loop in index order.
template <typename T>
void forward_reference(Kind kind, int64_t n, const T* x, T slope, T* y);
template <typename T>
void backward_reference(Kind kind, int64_t n, const T* dy, const T* x, T slope, T* dx);

}  // namespace activation
}  // namespace fastnn
