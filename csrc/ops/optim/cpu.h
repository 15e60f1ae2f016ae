// The fused optimiser steps on the CPU (cpu_simd.cpp, one instantiation per CPU path): the CUDA
// kernels' twin, bitwise equal to them and to the array path. Contract: ops/optim/optim.h.
#pragma once
#include "core/cpu_features.h"
#include "ops/optim/optim.h"

FASTNN_DECLARE_PER_PATH(namespace optim {
  using ::fastnn::optim::AdamScalars;
  using ::fastnn::optim::SgdScalars;
  template <typename T>
  void adam_step(long long n, T* p, const T* g, T* m, T* v, T* vmax, const AdamScalars<T>& s);
  template <typename T>
  void sgd_step(long long n, T* p, const T* g, T* buf, const SgdScalars<T>& s);
})

namespace fastnn {
namespace optim {

// Multi-threaded over chunks of the arrays; vmax is used with s.amsgrad only, buf with s.momentum != 0.
template <typename T>
void adam_step_cpu(long long n, T* p, const T* g, T* m, T* v, T* vmax, const AdamScalars<T>& s) {
  FASTNN_DISPATCH(optim::adam_step<T>)(n, p, g, m, v, vmax, s);
}

template <typename T>
void sgd_step_cpu(long long n, T* p, const T* g, T* buf, const SgdScalars<T>& s) {
  FASTNN_DISPATCH(optim::sgd_step<T>)(n, p, g, buf, s);
}

}  // namespace optim
}  // namespace fastnn
