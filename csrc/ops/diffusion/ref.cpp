// The plain reference of the diffusion kernels: every element on its own, its noise from its own
// Philox block (ops/diffusion/diffusion.h).
#pragma GCC optimize("fp-contract=off")

#include "ops/diffusion/cpu.h"

namespace fastnn {
namespace diffusion {
namespace {

// Noise element i of a draw under (key, offset), in storage type S.
template <typename S>
S noise_at(long long i, uint64_t key, uint64_t offset) {
  using A = typename Storage<S>::A;
  uint64_t block;
  int value;
  random::element_place(i, per_block((int)sizeof(S)), &block, &value);
  A vals[4];
  block_noise(philox::draw(key, offset, block), vals);
  return Storage<S>::store(vals[value]);
}

}  // namespace

template <typename S>
void diffuse_reference(long long n, long long per_sample, const S* x0, const typename Storage<S>::A* coef,
                       const S* noise_in, S* noise_out, S* xt, S* v, uint64_t key, uint64_t offset) {
  using A = typename Storage<S>::A;
  for (long long i = 0; i < n; ++i) {
    const long long s = i / per_sample;
    const A sa = coef[2 * s], sb = coef[2 * s + 1];
    S e;
    if (noise_in) {
      e = noise_in[i];
    } else {
      e = noise_at<S>(i, key, offset);
      noise_out[i] = e;
    }
    const A x = Storage<S>::load(x0[i]), eps = Storage<S>::load(e);
    xt[i] = Storage<S>::store(noised(sa, sb, x, eps));
    if (v) v[i] = Storage<S>::store(velocity(sa, sb, x, eps));
  }
}

template <typename S>
void sampling_step_reference(long long n, const S* model_output, const S* sample,
                             const StepCoef<typename Storage<S>::A>& k, const S* z, bool draw, S* prev, S* x0,
                             uint64_t key, uint64_t offset) {
  using A = typename Storage<S>::A;
  for (long long i = 0; i < n; ++i) {
    A zi = A(0);
    if (draw) zi = Storage<S>::load(noise_at<S>(i, key, offset));
    else if (z) zi = Storage<S>::load(z[i]);
    A x, p;
    step_values(k, Storage<S>::load(sample[i]), Storage<S>::load(model_output[i]), zi, &x, &p);
    x0[i] = Storage<S>::store(x);
    prev[i] = Storage<S>::store(p);
  }
}

#define FASTNN_DIFFUSION_REF(S)                                                                                   \
  template void diffuse_reference<S>(long long, long long, const S*, const Storage<S>::A*, const S*, S*, S*, S*, \
                                     uint64_t, uint64_t);                                                         \
  template void sampling_step_reference<S>(long long, const S*, const S*, const StepCoef<Storage<S>::A>&,        \
                                           const S*, bool, S*, S*, uint64_t, uint64_t);
FASTNN_DIFFUSION_REF(uint16_t)
FASTNN_DIFFUSION_REF(float)
FASTNN_DIFFUSION_REF(double)
#undef FASTNN_DIFFUSION_REF

}  // namespace diffusion
}  // namespace fastnn
