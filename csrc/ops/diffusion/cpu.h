// The CPU diffusion kernels (cpu_simd.cpp, one instantiation per CPU path) and the plain reference
// (ref.cpp). Contract: ops/diffusion/diffusion.h. S is the storage type (uint16_t holds float16 bits),
// A = Storage<S>::A the arithmetic type.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/diffusion/diffusion.h"

// Multi-threaded over groups of Philox blocks; each thread computes its own counters, so the result
// does not depend on the thread count.
FASTNN_DECLARE_PER_PATH(namespace diffusion {
  using ::fastnn::diffusion::StepCoef;
  using ::fastnn::diffusion::Storage;
  // coef holds (sa_n, sb_n) for each sample n; noise_in given (read) or noise_out written (drawn);
  // v may be null.
  template <typename S>
  void diffuse(long long n, long long per_sample, const S* x0, const typename Storage<S>::A* coef,
               const S* noise_in, S* noise_out, S* xt, S* v, uint64_t key, uint64_t offset);
  // z given (read, may be null when k.s == 0) or drawn when `draw`.
  template <typename S>
  void sampling_step(long long n, const S* model_output, const S* sample, const StepCoef<typename Storage<S>::A>& k,
                     const S* z, bool draw, S* prev, S* x0, uint64_t key, uint64_t offset);
})

namespace fastnn {
namespace diffusion {

template <typename S>
void diffuse_cpu(long long n, long long per_sample, const S* x0, const typename Storage<S>::A* coef,
                 const S* noise_in, S* noise_out, S* xt, S* v, uint64_t key, uint64_t offset) {
  FASTNN_DISPATCH(diffusion::diffuse<S>)(n, per_sample, x0, coef, noise_in, noise_out, xt, v, key, offset);
}

template <typename S>
void sampling_step_cpu(long long n, const S* model_output, const S* sample, const StepCoef<typename Storage<S>::A>& k,
                       const S* z, bool draw, S* prev, S* x0, uint64_t key, uint64_t offset) {
  FASTNN_DISPATCH(diffusion::sampling_step<S>)(n, model_output, sample, k, z, draw, prev, x0, key, offset);
}

// Element by element, one Philox block per element, single-threaded: what the tests compare with.
template <typename S>
void diffuse_reference(long long n, long long per_sample, const S* x0, const typename Storage<S>::A* coef,
                       const S* noise_in, S* noise_out, S* xt, S* v, uint64_t key, uint64_t offset);
template <typename S>
void sampling_step_reference(long long n, const S* model_output, const S* sample,
                             const StepCoef<typename Storage<S>::A>& k, const S* z, bool draw, S* prev, S* x0,
                             uint64_t key, uint64_t offset);

}  // namespace diffusion
}  // namespace fastnn
