// Philox blocks kLanes at a time on the CPU paths, and their values laid out as ops/random/random.h
// says: shared by the kernels that draw from Philox (ops/random/cpu_simd.cpp,
// ops/diffusion/cpu_simd.cpp). Included only from *_simd.cpp files (compiled once per CPU path), after
// `#pragma GCC optimize("fp-contract=off")`: the normals' double arithmetic must round every
// operation on its own, as the GPU does.
#pragma once
#include <cstdint>
#include <type_traits>

#if defined(FASTNN_ISA_AVX512) || defined(FASTNN_ISA_AVX2) || defined(__SSE2__)
#include <immintrin.h>
#endif

#include "ops/random/random.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace random {
namespace {

using ::fastnn::random::Dist;
using ::fastnn::random::Params;

// Blocks are generated kLanes at a time, one counter per lane, the ten rounds on vectors of lanes.
constexpr int kLanes = 16;

struct Lanes {
  alignas(64) uint32_t w[4][kLanes];
};

// 32-bit integer lanes with the high and low halves of a 32x32-bit product: what a Philox round
// needs. Compilers do not vectorise the widening multiply from plain loops, so each path spells it
// with its own instructions (the SIMD layer's integer vectors will take this over).
#if defined(FASTNN_ISA_AVX512)
using U32v = __m512i;
constexpr int kU32Width = 16;
inline U32v u32_load(const uint32_t* p) { return _mm512_load_si512(p); }
inline void u32_store(uint32_t* p, U32v a) { _mm512_store_si512(p, a); }
inline U32v u32_set1(uint32_t x) { return _mm512_set1_epi32((int)x); }
inline U32v u32_xor(U32v a, U32v b) { return _mm512_xor_si512(a, b); }
inline U32v u32_iota(uint32_t first) {  // first, first + 1, ... (mod 2^32)
  return _mm512_add_epi32(_mm512_set1_epi32((int)first),
                          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}
inline void u32_mulhilo(U32v a, U32v m, U32v& hi, U32v& lo) {
  const __m512i even = _mm512_mul_epu32(a, m);                         // 64-bit products of lanes 0, 2, ...
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);  // of lanes 1, 3, ...
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}
#elif defined(FASTNN_ISA_AVX2)
using U32v = __m256i;
constexpr int kU32Width = 8;
inline U32v u32_load(const uint32_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
inline void u32_store(uint32_t* p, U32v a) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), a); }
inline U32v u32_set1(uint32_t x) { return _mm256_set1_epi32((int)x); }
inline U32v u32_xor(U32v a, U32v b) { return _mm256_xor_si256(a, b); }
inline U32v u32_iota(uint32_t first) {
  return _mm256_add_epi32(_mm256_set1_epi32((int)first), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline void u32_mulhilo(U32v a, U32v m, U32v& hi, U32v& lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}
#elif defined(__SSE2__)
using U32v = __m128i;
constexpr int kU32Width = 4;
inline U32v u32_load(const uint32_t* p) { return _mm_load_si128(reinterpret_cast<const __m128i*>(p)); }
inline void u32_store(uint32_t* p, U32v a) { _mm_store_si128(reinterpret_cast<__m128i*>(p), a); }
inline U32v u32_set1(uint32_t x) { return _mm_set1_epi32((int)x); }
inline U32v u32_xor(U32v a, U32v b) { return _mm_xor_si128(a, b); }
inline U32v u32_iota(uint32_t first) { return _mm_add_epi32(_mm_set1_epi32((int)first), _mm_setr_epi32(0, 1, 2, 3)); }
inline void u32_mulhilo(U32v a, U32v m, U32v& hi, U32v& lo) {
  const __m128i low_words = _mm_set1_epi64x(0xffffffffLL);
  const __m128i even = _mm_mul_epu32(a, m);
  const __m128i odd = _mm_mul_epu32(_mm_srli_epi64(a, 32), m);
  hi = _mm_or_si128(_mm_srli_epi64(even, 32), _mm_andnot_si128(low_words, odd));
  lo = _mm_or_si128(_mm_and_si128(even, low_words), _mm_slli_epi64(odd, 32));
}
#else
struct U32v {
  uint32_t v;
};
constexpr int kU32Width = 1;
inline U32v u32_load(const uint32_t* p) { return {*p}; }
inline void u32_store(uint32_t* p, U32v a) { *p = a.v; }
inline U32v u32_set1(uint32_t x) { return {x}; }
inline U32v u32_xor(U32v a, U32v b) { return {a.v ^ b.v}; }
inline U32v u32_iota(uint32_t first) { return {first}; }
inline void u32_mulhilo(U32v a, U32v m, U32v& hi, U32v& lo) {
  const uint64_t p = (uint64_t)a.v * m.v;
  hi = {(uint32_t)(p >> 32)};
  lo = {(uint32_t)p};
}
#endif

// The blocks first_block .. first_block + kLanes - 1 of a draw: philox::draw, kLanes at a time.
inline void philox_lanes(uint64_t key, uint64_t offset, uint64_t first_block, Lanes& out) {
  const uint64_t first = offset + first_block;
  // The counters first + l as 128-bit numbers: mostly (low word + l, high word, 0, 0); where the
  // low word wraps within the lanes (once in 2^32 blocks), they are written out lane by lane.
  const bool simple = first >= offset && (uint32_t)first <= 0xffffffffu - (kLanes - 1);
  if (!simple) {
    for (int l = 0; l < kLanes; ++l) {
      const philox::Block c = philox::counter(offset, first_block + (uint64_t)l);
      for (int j = 0; j < 4; ++j) out.w[j][l] = c.w[j];
    }
  }
  const U32v m0 = u32_set1(philox::kMul0), m1 = u32_set1(philox::kMul1);
  for (int v = 0; v < kLanes; v += kU32Width) {
    U32v c0, c1, c2, c3;
    if (simple) {
      c0 = u32_iota((uint32_t)first + (uint32_t)v);
      c1 = u32_set1((uint32_t)(first >> 32));
      c2 = c3 = u32_set1(0);
    } else {
      c0 = u32_load(&out.w[0][v]);
      c1 = u32_load(&out.w[1][v]);
      c2 = u32_load(&out.w[2][v]);
      c3 = u32_load(&out.w[3][v]);
    }
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < philox::kRounds; ++r) {
      if (r) {
        k0 += philox::kWeyl0;
        k1 += philox::kWeyl1;
      }
      // philox::one_round
      U32v hi0, lo0, hi1, lo1;
      u32_mulhilo(c0, m0, hi0, lo0);
      u32_mulhilo(c2, m1, hi1, lo1);
      c0 = u32_xor(u32_xor(hi1, c1), u32_set1(k0));
      c1 = lo1;
      c2 = u32_xor(u32_xor(hi0, c3), u32_set1(k1));
      c3 = lo0;
    }
    u32_store(&out.w[0][v], c0);
    u32_store(&out.w[1][v], c1);
    u32_store(&out.w[2][v], c2);
    u32_store(&out.w[3][v], c3);
  }
}

// The kLanes * P values of one group of blocks, in element order (random.h): value j of the
// block in lane l is element 16 j + l. The same arithmetic as random::block_values, as loops over
// the lanes that the compiler vectorises.
static_assert(kLanes == ::fastnn::random::kGroupBlocks, "one group of blocks per call");

template <typename T, Dist D>
inline void group_values(const Lanes& lanes, const Params<T> prm, T* __restrict out) {
  if constexpr (D == Dist::uniform && sizeof(T) == 4) {
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < kLanes; ++l) out[kLanes * j + l] = philox::uniform_float(lanes.w[j][l]);
  } else if constexpr (D == Dist::uniform) {
    for (int q = 0; q < 2; ++q)
      for (int l = 0; l < kLanes; ++l)
        out[kLanes * q + l] = philox::uniform_double(lanes.w[2 * q][l], lanes.w[2 * q + 1][l]);
  } else if constexpr (D == Dist::keep_mask) {
    if (prm.keep_threshold > 0xffffffffu) {
      for (int i = 0; i < 4 * kLanes; ++i) out[i] = T(0);
      return;
    }
    // the comparison in lanes as wide as T's, which vectorises best with the select
    using Word = typename std::conditional<sizeof(T) == 4, uint32_t, uint64_t>::type;
    const Word threshold = (Word)prm.keep_threshold;
    const T scale = prm.scale;
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < kLanes; ++l) out[kLanes * j + l] = (Word)lanes.w[j][l] >= threshold ? scale : T(0);
  } else if constexpr (sizeof(T) == 4) {
    // normal, float32: two Box-Muller pairs per block
    for (int q = 0; q < 2; ++q)
      for (int l = 0; l < kLanes; ++l) {
        double z0, z1;
        philox::box_muller<32>(lanes.w[2 * q][l], lanes.w[2 * q + 1][l], &z0, &z1);
        out[kLanes * (2 * q) + l] = (T)bitwise::add(prm.mean, bitwise::mul(prm.std, z0));
        out[kLanes * (2 * q + 1) + l] = (T)bitwise::add(prm.mean, bitwise::mul(prm.std, z1));
      }
  } else {
    // normal, float64: one pair per block
    for (int l = 0; l < kLanes; ++l) {
      const uint64_t R = ((((uint64_t)lanes.w[1][l] << 32) | lanes.w[0][l]) >> 11);
      const uint64_t A = ((((uint64_t)lanes.w[3][l] << 32) | lanes.w[2][l]) >> 11);
      double z0, z1;
      philox::box_muller<53>(R, A, &z0, &z1);
      out[l] = (T)bitwise::add(prm.mean, bitwise::mul(prm.std, z0));
      out[kLanes + l] = (T)bitwise::add(prm.mean, bitwise::mul(prm.std, z1));
    }
  }
}

}  // namespace
}  // namespace random
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
