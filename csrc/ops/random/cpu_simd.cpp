// The CPU random-fill kernels, compiled once per CPU path. The normals' double arithmetic must round
// every operation on its own (as the GPU does), so nothing in this file is contracted into an FMA.
#pragma GCC optimize("fp-contract=off")

#include <cstdint>

#include "core/threads.h"
#include "ops/random/cpu.h"
#include "ops/random/lanes_simd.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace random {
namespace {

// Element operations per output element, for the thread count.
constexpr int64_t kCost[3] = {16, 160, 16};

}  // namespace

template <typename T, Dist D>
void fill(long long n, T* out, uint64_t key, uint64_t offset, const Params<T>& prm) {
  if (n <= 0) return;
  const Params<T> p = prm;  // a copy: `out` cannot alias it
  const long long group = (long long)kLanes * ::fastnn::random::per_block<T>(D);  // elements of a group
  const long long groups = (n + group - 1) / group;
#pragma omp parallel for schedule(static) num_threads(threads_for((int64_t)n * kCost[(int)D]))
  for (long long g = 0; g < groups; ++g) {
    Lanes lanes;
    philox_lanes(key, offset, (uint64_t)(g * kLanes), lanes);
    T* dst = out + g * group;
    if ((g + 1) * group <= n) {
      group_values<T, D>(lanes, p, dst);
    } else {  // the last group, cut short
      alignas(64) T vals[4 * kLanes];
      group_values<T, D>(lanes, p, vals);
      for (long long i = 0; i < n - g * group; ++i) dst[i] = vals[i];
    }
  }
}

template void fill<float, Dist::uniform>(long long, float*, uint64_t, uint64_t, const Params<float>&);
template void fill<double, Dist::uniform>(long long, double*, uint64_t, uint64_t, const Params<double>&);
template void fill<float, Dist::normal>(long long, float*, uint64_t, uint64_t, const Params<float>&);
template void fill<double, Dist::normal>(long long, double*, uint64_t, uint64_t, const Params<double>&);
template void fill<float, Dist::keep_mask>(long long, float*, uint64_t, uint64_t, const Params<float>&);
template void fill<double, Dist::keep_mask>(long long, double*, uint64_t, uint64_t, const Params<double>&);

}  // namespace random
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
