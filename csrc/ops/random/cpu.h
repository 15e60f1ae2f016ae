// The CPU random-fill kernels (cpu_simd.cpp, one instantiation per CPU path) and the plain
// reference (ref.cpp). Contract: ops/random/random.h.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/random/random.h"

// Multi-threaded over blocks; each thread computes its own counters, so the result does not depend
// on the thread count.
FASTNN_DECLARE_PER_PATH(namespace random {
  using ::fastnn::random::Dist;
  using ::fastnn::random::Params;
  template <typename T, Dist D>
  void fill(long long n, T* out, uint64_t key, uint64_t offset, const Params<T>& prm);
})

namespace fastnn {
namespace random {

// The kernel of the CPU path in use.
template <typename T, Dist D>
void fill_cpu(long long n, T* out, uint64_t key, uint64_t offset, const Params<T>& prm) {
  FASTNN_DISPATCH(random::fill<T, D>)(n, out, key, offset, prm);
}

// Element by element, one block per element, single-threaded: what the tests compare with.
template <typename T, Dist D>
void fill_reference(long long n, T* out, uint64_t key, uint64_t offset, const Params<T>& prm);

}  // namespace random
}  // namespace fastnn
