// The random-fill kernels' contract, shared by the reference (ref.cpp), the CPU kernels
// (cpu_simd.cpp) and the CUDA kernel (cuda.cu).
//
// fill<T, D>(n, out, key, offset, params) overwrites the n contiguous elements of `out` with a
// draw from Philox 4x32-10 (core/philox.h) under `key` at stream position `offset`: block b of the
// draw is the one of counter offset + b. Each block gives P = per_block<T>(D) values (below), and
// the elements are laid out in groups of 16 blocks so that a vector of 16 lanes, one block per
// lane, stores contiguously: element i lies in group g = i / (16 P), at e = i % (16 P) in it, and
// is value e / 16 of block 16 g + e % 16. counters_for(n) counters are used (the blocks that an
// element lies in), and the caller moves the stream's offset by that many. The value of an
// element depends only on (key, offset, i, params): the same on every CPU path, at any thread
// count and on the GPU, bit for bit (normals included: their log/sin/cos are core/bitwise_math.h's).
//   uniform    [0, 1): float32 from 24 bits of one word (P = 4), float64 from 53 bits of two
//              (P = 2);
//   normal     mean + std * z, z standard normal by Box-Muller, computed in double and rounded once
//              to T: float32 four per block (radius and angle words 0, 1 then 2, 3, 32 bits each),
//              float64 two (53-bit radius from words 0, 1, angle from words 2, 3);
//   keep_mask  dropout's scaled keep mask: `scale` (1 / (1 - p) rounded to T) where the element's
//              word is >= ceil(p 2^32), else 0, so an element is kept with probability 1 - p
//              (to within 2^-32); four per block for both types.
#pragma once
#include <cstdint>

#include "core/host_device.h"
#include "core/philox.h"

namespace fastnn {
namespace random {

enum class Dist : int { uniform = 0, normal = 1, keep_mask = 2 };

template <typename T>
struct Params {
  double mean = 0.0, std = 1.0;  // normal
  uint64_t keep_threshold = 0;   // keep_mask: an element is kept when its word is >= this
  T scale = T(1);                // keep_mask: the value of a kept element
};

template <typename T>
FASTNN_HD int per_block(Dist d) {
  return (d == Dist::keep_mask || sizeof(T) == 4) ? 4 : 2;
}

constexpr int kGroupBlocks = 16;

// Counters a draw of n elements uses.
template <typename T>
FASTNN_HD uint64_t counters_for(Dist d, long long n) {
  if (n <= 0) return 0;
  const long long group = (long long)kGroupBlocks * per_block<T>(d);
  const long long rest = n % group;
  return (uint64_t)(n / group) * kGroupBlocks + (uint64_t)(rest < kGroupBlocks ? rest : kGroupBlocks);
}

// The block that element i lies in and which of the block's values it is, for P values per block.
FASTNN_HD void element_place(long long i, int P, uint64_t* block, int* value) {
  const long long group = (long long)kGroupBlocks * P;
  const long long e = i % group;
  *block = (uint64_t)(i / group) * kGroupBlocks + (uint64_t)(e % kGroupBlocks);
  *value = (int)(e / kGroupBlocks);
}

// ceil(p 2^32) for 0 <= p <= 1 (2^32 when p is 1: nothing kept); exact, p 2^32 is.
FASTNN_HD uint64_t keep_threshold(double p) {
  const double t = p * 4294967296.0;
  uint64_t k = (uint64_t)t;
  return (double)k < t ? k + 1 : k;
}

// The per_block<T>(D) values of block `b`.
template <typename T, Dist D>
FASTNN_HD void block_values(const philox::Block& b, const Params<T>& prm, T* out) {
  if constexpr (D == Dist::uniform) {
    if constexpr (sizeof(T) == 4) {
      for (int j = 0; j < 4; ++j) out[j] = (T)philox::uniform_float(b.w[j]);
    } else {
      for (int j = 0; j < 2; ++j) out[j] = (T)philox::uniform_double(b.w[2 * j], b.w[2 * j + 1]);
    }
  } else if constexpr (D == Dist::normal) {
    if constexpr (sizeof(T) == 4) {
      double z[4];
      philox::normals4(b, z);
      for (int j = 0; j < 4; ++j) out[j] = (T)bitwise::add(prm.mean, bitwise::mul(prm.std, z[j]));
    } else {
      double z[2];
      philox::normals2(b, z);
      for (int j = 0; j < 2; ++j) out[j] = (T)bitwise::add(prm.mean, bitwise::mul(prm.std, z[j]));
    }
  } else {
    for (int j = 0; j < 4; ++j) out[j] = b.w[j] >= prm.keep_threshold ? prm.scale : T(0);
  }
}

}  // namespace random
}  // namespace fastnn
