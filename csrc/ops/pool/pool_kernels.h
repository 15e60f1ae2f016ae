// Max and average pooling kernels written once on the SIMD layer (pool_simd.cpp) and compiled
// per CPU path; cpu.cpp picks the path's instantiation. Shapes and contracts are those of
// ops/pool/cpu.h; `threads` is the team size (fastnn::threads_for of the work, from the caller).
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/pool/cpu.h"

FASTNN_DECLARE_PER_PATH(namespace pool {
  template <typename T>
  void max_forward(const Pool2dShape& s, const T* x, T* y, int64_t* idx, int threads);

  // The backward of a 2x2 stride-2 max pool (pool::is_2x2s2), writing every element of dx once.
  // Returns false when some index is not in its own window; dx is then incomplete.
  template <typename T>
  bool max_backward_2x2(const Pool2dShape& s, const T* dy, const int64_t* idx, T* dx, int threads);

  template <typename T>
  void avg_forward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* x, T* y,
                   int threads);

  template <typename T>
  void avg_backward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* dy, T* dx,
                    int threads);
})
