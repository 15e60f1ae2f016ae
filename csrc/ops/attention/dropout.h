// Dropout's keep mask on the attention weights, as attention.h places it: element
// n = ((b * Hq + h) * Lq + i) * Lk + j of random.h's keep_mask draw under (key, offset). Shared by the
// reference, the CPU kernels and (being host-device code) the CUDA ones.
#pragma once
#include <cstdint>

#include "core/host_device.h"
#include "ops/random/random.h"

namespace fastnn {
namespace attention {

// Whether element n of the draw is kept (its word is >= threshold = random::keep_threshold(p)).
FASTNN_HD bool kept(uint64_t key, uint64_t offset, uint64_t threshold, long long n) {
  uint64_t block;
  int value;
  random::element_place(n, 4, &block, &value);
  return philox::draw(key, offset, block).w[value] >= threshold;
}

// keep[t] = 1 when element n0 + t is kept, else 0, for t < len: each Philox block computed once for
// the run of elements that lie in it (a group of 16 blocks holds 64 consecutive elements). Static, as
// FASTNN_HD is: each CPU path's objects keep their own copy.
static inline void kept_run(uint64_t key, uint64_t offset, uint64_t threshold, long long n0, long long len, uint8_t* keep) {
  constexpr long long group = (long long)random::kGroupBlocks * 4;
  long long n = n0;
  const long long end = n0 + len;
  while (n < end) {
    const long long g = n / group, g_end = (g + 1) * group < end ? (g + 1) * group : end;
    if (g_end - n >= random::kGroupBlocks) {
      philox::Block blocks[random::kGroupBlocks];
      for (int b = 0; b < random::kGroupBlocks; ++b)
        blocks[b] = philox::draw(key, offset, (uint64_t)g * random::kGroupBlocks + b);
      for (; n < g_end; ++n) {
        const long long e = n - g * group;
        keep[n - n0] = blocks[e % random::kGroupBlocks].w[e / random::kGroupBlocks] >= threshold;
      }
    } else {
      for (; n < g_end; ++n) keep[n - n0] = kept(key, offset, threshold, n);
    }
  }
}

}  // namespace attention
}  // namespace fastnn
