// The plain reference of the random-fill kernels: every element on its own, from its own block
// (ops/random/random.h).
#pragma GCC optimize("fp-contract=off")

#include "ops/random/cpu.h"

namespace fastnn {
namespace random {

template <typename T, Dist D>
void fill_reference(long long n, T* out, uint64_t key, uint64_t offset, const Params<T>& prm) {
  const int P = per_block<T>(D);
  for (long long i = 0; i < n; ++i) {
    uint64_t block;
    int value;
    element_place(i, P, &block, &value);
    T vals[4];
    block_values<T, D>(philox::draw(key, offset, block), prm, vals);
    out[i] = vals[value];
  }
}

template void fill_reference<float, Dist::uniform>(long long, float*, uint64_t, uint64_t, const Params<float>&);
template void fill_reference<double, Dist::uniform>(long long, double*, uint64_t, uint64_t, const Params<double>&);
template void fill_reference<float, Dist::normal>(long long, float*, uint64_t, uint64_t, const Params<float>&);
template void fill_reference<double, Dist::normal>(long long, double*, uint64_t, uint64_t, const Params<double>&);
template void fill_reference<float, Dist::keep_mask>(long long, float*, uint64_t, uint64_t, const Params<float>&);
template void fill_reference<double, Dist::keep_mask>(long long, double*, uint64_t, uint64_t,
                                                      const Params<double>&);

}  // namespace random
}  // namespace fastnn
