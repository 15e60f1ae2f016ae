// Philox 4x32-10, fastnn's counter-based random generator (Salmon, Moraes, Dror and Shaw, "Parallel
// random numbers: as easy as 1, 2, 3", SC'11; the Random123 library), for CPU and CUDA code alike.
//
// A draw is a pure function of (key, counter): no state to carry, any element computable on its
// own, so a kernel's output depends neither on its thread count nor on the device.
//
// Layout. The key is 64 bits: words (k0, k1) = (low, high). The counter is 128 bits, words
// (c0, c1, c2, c3) from least to most significant. A draw at `offset` (a 64-bit position in the
// stream of one key) uses the counters offset, offset + 1, ... as 128-bit numbers (so they never
// wrap onto counters already used); each counter gives one block of four 32-bit words. fastnn's
// random state (python/fastnn/random.py) holds the key and the offset, and moves the offset past
// the counters each draw used, so consecutive draws never share a counter.
//
// Conversions of the words (exact: no rounding happens in them):
//   uniform float32 in [0, 1): the top 24 bits of one word, times 2^-24;
//   uniform float64 in [0, 1): the top 53 bits of two words (lo, hi) = hi:lo, times 2^-53;
//   normal (Box-Muller, as curand): from a radius uniform u in (0, 1) and an angle uniform v,
//     (sqrt(-2 log u) sin(2 pi v), sqrt(-2 log u) cos(2 pi v)), computed in double with
//     core/bitwise_math.h so that CPU and GPU give the same bits.
#pragma once
#include <cstdint>

#include "core/bitwise_math.h"
#include "core/host_device.h"

namespace fastnn {
namespace philox {

constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;   // round multipliers
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments
constexpr int kRounds = 10;

struct Block {
  uint32_t w[4];
};

// One round on a counter held in four words; the key words are those of this round.
FASTNN_HD void one_round(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3, uint32_t k0, uint32_t k1) {
  const uint64_t p0 = (uint64_t)kMul0 * c0;
  const uint64_t p1 = (uint64_t)kMul1 * c2;
  const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
  const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
  c0 = hi1 ^ c1 ^ k0;
  c1 = lo1;
  c2 = hi0 ^ c3 ^ k1;
  c3 = lo0;
}

// The ten rounds: the block of four random words for counter `c` under key (k0, k1).
FASTNN_HD Block philox4x32_10(Block c, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < kRounds; ++r) {
    if (r) {
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    one_round(c.w[0], c.w[1], c.w[2], c.w[3], k0, k1);
  }
  return c;
}

// The counter of block `block` of a draw at `offset`: offset + block as a 128-bit number.
FASTNN_HD Block counter(uint64_t offset, uint64_t block) {
  const uint64_t lo = offset + block;
  const uint32_t carry = lo < offset ? 1u : 0u;
  return {{(uint32_t)lo, (uint32_t)(lo >> 32), carry, 0u}};
}

FASTNN_HD Block draw(uint64_t key, uint64_t offset, uint64_t block) {
  return philox4x32_10(counter(offset, block), (uint32_t)key, (uint32_t)(key >> 32));
}

// ---------------------------------------------------------------- conversions

FASTNN_HD float uniform_float(uint32_t x) { return (float)(x >> 8) * 5.9604644775390625e-08f; }  // 2^-24

FASTNN_HD double uniform_double(uint32_t lo, uint32_t hi) {
  return bitwise::mul(bitwise::u53_to_double((((uint64_t)hi << 32) | lo) >> 11), 1.1102230246251565404e-16);  // 2^-53
}

// A pair of standard normals from a radius integer R and an angle integer A of Bits bits each.
// The radius uniform is (R | 1) 2^-Bits, in (0, 1), so its log is finite.
template <int Bits>
FASTNN_HD void box_muller(uint64_t R, uint64_t A, double* z0, double* z1) {
  const double scale = bitwise::from_bits((uint64_t)(1023 - Bits) << 52);  // 2^-Bits
  const double u = bitwise::mul(bitwise::u53_to_double(R | 1u), scale);
  const double radius = bitwise::sqrt(bitwise::mul(-2.0, bitwise::log_normal_positive(u)));
  double s, c;
  bitwise::sincos_turns<Bits>(A, &s, &c);
  *z0 = bitwise::mul(radius, s);
  *z1 = bitwise::mul(radius, c);
}

// Normals from one block: four float32-grade ones (32-bit radius and angle: words 0, 1 then 2, 3),
// or two float64-grade ones (53-bit radius from words 0, 1 and angle from words 2, 3).
FASTNN_HD void normals4(const Block& b, double z[4]) {
  box_muller<32>(b.w[0], b.w[1], &z[0], &z[1]);
  box_muller<32>(b.w[2], b.w[3], &z[2], &z[3]);
}
FASTNN_HD void normals2(const Block& b, double z[2]) {
  const uint64_t R = ((((uint64_t)b.w[1] << 32) | b.w[0]) >> 11);
  const uint64_t A = ((((uint64_t)b.w[3] << 32) | b.w[2]) >> 11);
  box_muller<53>(R, A, &z[0], &z[1]);
}

}  // namespace philox
}  // namespace fastnn
