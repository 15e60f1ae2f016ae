// In-register transpose of a square block: r[i] holds row i of a W x W block (W = lanes of
// Vec<T>); afterwards r[j] holds column j. Packing routines use it to turn rows into columns
// (GEMM's A and transposed B) with whole-vector loads and stores.
#pragma once

#include "core/simd/simd.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {

#if defined(FASTNN_ISA_AVX512)

// Pairs, then quadruples within each 128-bit lane, then the 128-bit lanes across registers.
FASTNN_SIMD_INLINE void transpose(Vec<float> (&r)[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i].v, r[2 * i + 1].v);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i].v, r[2 * i + 1].v);
  }
  for (int g = 0; g < 4; ++g) {  // rows 4g .. 4g+3
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g + 0], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g + 0], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  // u[4g + j], 128-bit lane L: column 4L + j of rows 4g .. 4g+3.
  for (int j = 0; j < 4; ++j) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
    r[j].v = _mm512_shuffle_f32x4(v0, w0, 0x88);
    r[8 + j].v = _mm512_shuffle_f32x4(v0, w0, 0xDD);
    r[4 + j].v = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[12 + j].v = _mm512_shuffle_f32x4(v1, w1, 0xDD);
  }
}

FASTNN_SIMD_INLINE void transpose(Vec<double> (&r)[8]) {
  __m512d t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm512_unpacklo_pd(r[2 * i].v, r[2 * i + 1].v);
    t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i].v, r[2 * i + 1].v);
  }
  // t[2g + j], 128-bit lane L: column 2L + j of rows 2g, 2g+1.
  for (int j = 0; j < 2; ++j) {
    const __m512d v0 = _mm512_shuffle_f64x2(t[j], t[2 + j], 0x88), v1 = _mm512_shuffle_f64x2(t[j], t[2 + j], 0xDD);
    const __m512d w0 = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0x88);
    const __m512d w1 = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0xDD);
    r[j].v = _mm512_shuffle_f64x2(v0, w0, 0x88);
    r[4 + j].v = _mm512_shuffle_f64x2(v0, w0, 0xDD);
    r[2 + j].v = _mm512_shuffle_f64x2(v1, w1, 0x88);
    r[6 + j].v = _mm512_shuffle_f64x2(v1, w1, 0xDD);
  }
}

#elif defined(FASTNN_ISA_AVX2)

FASTNN_SIMD_INLINE void transpose(Vec<float> (&r)[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0].v, r[1].v), t1 = _mm256_unpackhi_ps(r[0].v, r[1].v);
  const __m256 t2 = _mm256_unpacklo_ps(r[2].v, r[3].v), t3 = _mm256_unpackhi_ps(r[2].v, r[3].v);
  const __m256 t4 = _mm256_unpacklo_ps(r[4].v, r[5].v), t5 = _mm256_unpackhi_ps(r[4].v, r[5].v);
  const __m256 t6 = _mm256_unpacklo_ps(r[6].v, r[7].v), t7 = _mm256_unpackhi_ps(r[6].v, r[7].v);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0].v = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1].v = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2].v = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3].v = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4].v = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5].v = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6].v = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7].v = _mm256_permute2f128_ps(u3, u7, 0x31);
}

FASTNN_SIMD_INLINE void transpose(Vec<double> (&r)[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0].v, r[1].v), t1 = _mm256_unpackhi_pd(r[0].v, r[1].v);
  const __m256d t2 = _mm256_unpacklo_pd(r[2].v, r[3].v), t3 = _mm256_unpackhi_pd(r[2].v, r[3].v);
  r[0].v = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1].v = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2].v = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3].v = _mm256_permute2f128_pd(t1, t3, 0x31);
}

#else

FASTNN_SIMD_INLINE void transpose(Vec<float> (&r)[4]) {
  typedef int32_t idx __attribute__((vector_size(16)));
  const Vec<float>::reg t0 = __builtin_shuffle(r[0].v, r[1].v, idx{0, 4, 1, 5});
  const Vec<float>::reg t1 = __builtin_shuffle(r[0].v, r[1].v, idx{2, 6, 3, 7});
  const Vec<float>::reg t2 = __builtin_shuffle(r[2].v, r[3].v, idx{0, 4, 1, 5});
  const Vec<float>::reg t3 = __builtin_shuffle(r[2].v, r[3].v, idx{2, 6, 3, 7});
  r[0].v = __builtin_shuffle(t0, t2, idx{0, 1, 4, 5});
  r[1].v = __builtin_shuffle(t0, t2, idx{2, 3, 6, 7});
  r[2].v = __builtin_shuffle(t1, t3, idx{0, 1, 4, 5});
  r[3].v = __builtin_shuffle(t1, t3, idx{2, 3, 6, 7});
}

FASTNN_SIMD_INLINE void transpose(Vec<double> (&r)[2]) {
  typedef int64_t idx __attribute__((vector_size(16)));
  const Vec<double>::reg t0 = __builtin_shuffle(r[0].v, r[1].v, idx{0, 2});
  r[1].v = __builtin_shuffle(r[0].v, r[1].v, idx{1, 3});
  r[0].v = t0;
}

#endif

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
