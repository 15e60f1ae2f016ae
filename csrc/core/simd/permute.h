// Lane rearrangements on top of the SIMD layer (simd.h) for kernels that work on pairs of
// neighbouring elements: stride-2 convolution and pooling windows, 2x resampling.
//
//   deinterleave(p, even, odd)   even = p[0], p[2], ..., p[2W-2]; odd = p[1], ..., p[2W-1]
//   load_even(p)                 the `even` half of deinterleave (reads p[0 .. 2W-1])
//   store_interleaved(p, a, b)   p[2i] = a[i], p[2i+1] = b[i] for i < W (writes p[0 .. 2W-1])
//   store_dup(p, a)              p[2i] = p[2i+1] = a[i] for i < W (writes p[0 .. 2W-1])
//   load_dup(p)                  lanes p[0], p[0], p[1], p[1], ..., p[W/2-1], p[W/2-1]
//   load_halves(lo, hi)          lanes lo[0 .. W/2-1], then hi[0 .. W/2-1]
//   store_halves(lo, hi, a)      the inverse: the low half of a to lo, the high half to hi
//
// The first three touch 2W consecutive elements; callers handle shorter tails with element loops.
#pragma once

#include "core/simd/simd.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {

#if defined(FASTNN_ISA_AVX512)

FASTNN_SIMD_INLINE void deinterleave(const float* p, Vec<float>& even, Vec<float>& odd) {
  const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  even.v = _mm512_permutex2var_ps(a, ie, b);
  odd.v = _mm512_permutex2var_ps(a, _mm512_add_epi32(ie, _mm512_set1_epi32(1)), b);
}
FASTNN_SIMD_INLINE void deinterleave(const double* p, Vec<double>& even, Vec<double>& odd) {
  const __m512d a = _mm512_loadu_pd(p), b = _mm512_loadu_pd(p + 8);
  const __m512i ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  even.v = _mm512_permutex2var_pd(a, ie, b);
  odd.v = _mm512_permutex2var_pd(a, _mm512_add_epi64(ie, _mm512_set1_epi64(1)), b);
}
FASTNN_SIMD_INLINE Vec<float> load_even(const float* p) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return {_mm512_permutex2var_ps(_mm512_loadu_ps(p), ie, _mm512_loadu_ps(p + 16))};
}
FASTNN_SIMD_INLINE Vec<double> load_even(const double* p) {
  const __m512i ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  return {_mm512_permutex2var_pd(_mm512_loadu_pd(p), ie, _mm512_loadu_pd(p + 8))};
}
FASTNN_SIMD_INLINE void store_interleaved(float* p, Vec<float> a, Vec<float> b) {
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  _mm512_storeu_ps(p, _mm512_permutex2var_ps(a.v, lo, b.v));
  _mm512_storeu_ps(p + 16, _mm512_permutex2var_ps(a.v, _mm512_add_epi32(lo, _mm512_set1_epi32(8)), b.v));
}
FASTNN_SIMD_INLINE void store_interleaved(double* p, Vec<double> a, Vec<double> b) {
  const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  _mm512_storeu_pd(p, _mm512_permutex2var_pd(a.v, lo, b.v));
  _mm512_storeu_pd(p + 8, _mm512_permutex2var_pd(a.v, _mm512_add_epi64(lo, _mm512_set1_epi64(4)), b.v));
}

FASTNN_SIMD_INLINE void store_dup(float* p, Vec<float> a) {
  const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  _mm512_storeu_ps(p, _mm512_permutexvar_ps(lo, a.v));
  _mm512_storeu_ps(p + 16, _mm512_permutexvar_ps(_mm512_add_epi32(lo, _mm512_set1_epi32(8)), a.v));
}
FASTNN_SIMD_INLINE void store_dup(double* p, Vec<double> a) {
  const __m512i lo = _mm512_setr_epi64(0, 0, 1, 1, 2, 2, 3, 3);
  _mm512_storeu_pd(p, _mm512_permutexvar_pd(lo, a.v));
  _mm512_storeu_pd(p + 8, _mm512_permutexvar_pd(_mm512_add_epi64(lo, _mm512_set1_epi64(4)), a.v));
}
FASTNN_SIMD_INLINE Vec<float> load_dup(const float* p) {
  const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  return {_mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_loadu_ps(p)))};
}
FASTNN_SIMD_INLINE Vec<double> load_dup(const double* p) {
  const __m512i dup = _mm512_setr_epi64(0, 0, 1, 1, 2, 2, 3, 3);
  return {_mm512_permutexvar_pd(dup, _mm512_castpd256_pd512(_mm256_loadu_pd(p)))};
}
FASTNN_SIMD_INLINE Vec<float> load_halves(const float* lo, const float* hi) {
  return {_mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(lo)), _mm256_loadu_ps(hi), 1)};
}
FASTNN_SIMD_INLINE Vec<double> load_halves(const double* lo, const double* hi) {
  return {_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd(lo)), _mm256_loadu_pd(hi), 1)};
}
FASTNN_SIMD_INLINE void store_halves(float* lo, float* hi, Vec<float> a) {
  _mm256_storeu_ps(lo, _mm512_castps512_ps256(a.v));
  _mm256_storeu_ps(hi, _mm512_extractf32x8_ps(a.v, 1));
}
FASTNN_SIMD_INLINE void store_halves(double* lo, double* hi, Vec<double> a) {
  _mm256_storeu_pd(lo, _mm512_castpd512_pd256(a.v));
  _mm256_storeu_pd(hi, _mm512_extractf64x4_pd(a.v, 1));
}

#elif defined(FASTNN_ISA_AVX2)

// Within each 128-bit half the shuffles pick the even (odd) elements of a and b; the 64-bit
// permute then puts the halves' pairs back in order.
FASTNN_SIMD_INLINE void deinterleave(const float* p, Vec<float>& even, Vec<float>& odd) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  even.v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
  odd.v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}
FASTNN_SIMD_INLINE void deinterleave(const double* p, Vec<double>& even, Vec<double>& odd) {
  const __m256d a = _mm256_loadu_pd(p), b = _mm256_loadu_pd(p + 4);
  even.v = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8);
  odd.v = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xD8);
}
FASTNN_SIMD_INLINE Vec<float> load_even(const float* p) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  return {_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8))};
}
FASTNN_SIMD_INLINE Vec<double> load_even(const double* p) {
  return {_mm256_permute4x64_pd(_mm256_unpacklo_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)), 0xD8)};
}
FASTNN_SIMD_INLINE void store_interleaved(float* p, Vec<float> a, Vec<float> b) {
  const __m256 lo = _mm256_unpacklo_ps(a.v, b.v), hi = _mm256_unpackhi_ps(a.v, b.v);
  _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}
FASTNN_SIMD_INLINE void store_interleaved(double* p, Vec<double> a, Vec<double> b) {
  const __m256d lo = _mm256_unpacklo_pd(a.v, b.v), hi = _mm256_unpackhi_pd(a.v, b.v);
  _mm256_storeu_pd(p, _mm256_permute2f128_pd(lo, hi, 0x20));
  _mm256_storeu_pd(p + 4, _mm256_permute2f128_pd(lo, hi, 0x31));
}

FASTNN_SIMD_INLINE void store_dup(float* p, Vec<float> a) {
  _mm256_storeu_ps(p, _mm256_permutevar8x32_ps(a.v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)));
  _mm256_storeu_ps(p + 8, _mm256_permutevar8x32_ps(a.v, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)));
}
FASTNN_SIMD_INLINE void store_dup(double* p, Vec<double> a) {
  _mm256_storeu_pd(p, _mm256_permute4x64_pd(a.v, 0x50));
  _mm256_storeu_pd(p + 4, _mm256_permute4x64_pd(a.v, 0xFA));
}
FASTNN_SIMD_INLINE Vec<float> load_dup(const float* p) {
  return {_mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3))};
}
FASTNN_SIMD_INLINE Vec<double> load_dup(const double* p) {
  return {_mm256_permute4x64_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p)), 0x50)};
}
FASTNN_SIMD_INLINE Vec<float> load_halves(const float* lo, const float* hi) {
  return {_mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)), _mm_loadu_ps(hi), 1)};
}
FASTNN_SIMD_INLINE Vec<double> load_halves(const double* lo, const double* hi) {
  return {_mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(lo)), _mm_loadu_pd(hi), 1)};
}
FASTNN_SIMD_INLINE void store_halves(float* lo, float* hi, Vec<float> a) {
  _mm_storeu_ps(lo, _mm256_castps256_ps128(a.v));
  _mm_storeu_ps(hi, _mm256_extractf128_ps(a.v, 1));
}
FASTNN_SIMD_INLINE void store_halves(double* lo, double* hi, Vec<double> a) {
  _mm_storeu_pd(lo, _mm256_castpd256_pd128(a.v));
  _mm_storeu_pd(hi, _mm256_extractf128_pd(a.v, 1));
}

#else

#define FASTNN_SIMD_PORTABLE_PERMUTE(T)                                                  \
  FASTNN_SIMD_INLINE void deinterleave(const T* p, Vec<T>& even, Vec<T>& odd) {          \
    for (int i = 0; i < Vec<T>::W; ++i) {                                                \
      even.v[i] = p[2 * i];                                                              \
      odd.v[i] = p[2 * i + 1];                                                           \
    }                                                                                    \
  }                                                                                      \
  FASTNN_SIMD_INLINE Vec<T> load_even(const T* p) {                                      \
    Vec<T> r;                                                                            \
    for (int i = 0; i < Vec<T>::W; ++i) r.v[i] = p[2 * i];                               \
    return r;                                                                            \
  }                                                                                      \
  FASTNN_SIMD_INLINE void store_interleaved(T* p, Vec<T> a, Vec<T> b) {                  \
    for (int i = 0; i < Vec<T>::W; ++i) {                                                \
      p[2 * i] = a.v[i];                                                                 \
      p[2 * i + 1] = b.v[i];                                                             \
    }                                                                                    \
  }                                                                                      \
  FASTNN_SIMD_INLINE void store_dup(T* p, Vec<T> a) {                                    \
    for (int i = 0; i < Vec<T>::W; ++i) p[2 * i] = p[2 * i + 1] = a.v[i];                \
  }                                                                                      \
  FASTNN_SIMD_INLINE Vec<T> load_dup(const T* p) {                                       \
    Vec<T> r;                                                                            \
    for (int i = 0; i < Vec<T>::W; ++i) r.v[i] = p[i / 2];                               \
    return r;                                                                            \
  }                                                                                      \
  FASTNN_SIMD_INLINE Vec<T> load_halves(const T* lo, const T* hi) {                      \
    Vec<T> r;                                                                            \
    for (int i = 0; i < Vec<T>::W / 2; ++i) {                                            \
      r.v[i] = lo[i];                                                                    \
      r.v[i + Vec<T>::W / 2] = hi[i];                                                    \
    }                                                                                    \
    return r;                                                                            \
  }                                                                                      \
  FASTNN_SIMD_INLINE void store_halves(T* lo, T* hi, Vec<T> a) {                         \
    for (int i = 0; i < Vec<T>::W / 2; ++i) {                                            \
      lo[i] = a.v[i];                                                                    \
      hi[i] = a.v[i + Vec<T>::W / 2];                                                    \
    }                                                                                    \
  }

FASTNN_SIMD_PORTABLE_PERMUTE(float)
FASTNN_SIMD_PORTABLE_PERMUTE(double)
#undef FASTNN_SIMD_PORTABLE_PERMUTE

#endif

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
