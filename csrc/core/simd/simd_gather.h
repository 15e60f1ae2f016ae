// Indexed loads: lane i of the result is base[idx[i]], element indices (not bytes).
//
//   gather(const float* base, const int32_t* idx)      W indices read from idx
//   gather(const float* base, Vec<int32_t> idx)        the index-vector form
//   gather(const double* base, const int32_t* idx)     W (double lanes) int32 indices
//   gather(const double* base, const int64_t* idx)     W int64 indices
//   gather(const double* base, Vec<int64_t> idx)
//   gather_n(base, idx, n)                             the first n lanes only; the others are 0
//                                                      and neither idx nor base is read for them
// The hardware gathers scale the index by the element size inside a 64-bit address: int32
// indices reach any element of a 2^31-element array, int64 indices any element at all.
#pragma once

#include "core/simd/simd_int.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {

#if defined(FASTNN_ISA_AVX512)

FASTNN_SIMD_INLINE Vec<float> gather(const float* base, Vec<int32_t> idx) {
  return {_mm512_i32gather_ps(idx.v, base, 4)};
}
FASTNN_SIMD_INLINE Vec<float> gather(const float* base, const int32_t* idx) { return gather(base, load(idx)); }
FASTNN_SIMD_INLINE Vec<float> gather_n(const float* base, const int32_t* idx, int n) {
  const __mmask16 m = __mmask16((1u << n) - 1u);
  return {_mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_maskz_loadu_epi32(m, idx), base, 4)};
}
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, const int32_t* idx) {
  return {_mm512_i32gather_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), base, 8)};
}
FASTNN_SIMD_INLINE Vec<double> gather_n(const double* base, const int32_t* idx, int n) {
  const __mmask8 m = __mmask8((1u << n) - 1u);
  return {_mm512_mask_i32gather_pd(_mm512_setzero_pd(), m, _mm256_maskz_loadu_epi32(m, idx), base, 8)};
}
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, Vec<int64_t> idx) {
  return {_mm512_i64gather_pd(idx.v, base, 8)};
}
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, const int64_t* idx) { return gather(base, load(idx)); }
FASTNN_SIMD_INLINE Vec<double> gather_n(const double* base, const int64_t* idx, int n) {
  const __mmask8 m = __mmask8((1u << n) - 1u);
  return {_mm512_mask_i64gather_pd(_mm512_setzero_pd(), m, _mm512_maskz_loadu_epi64(m, idx), base, 8)};
}

#elif defined(FASTNN_ISA_AVX2)

FASTNN_SIMD_INLINE Vec<float> gather(const float* base, Vec<int32_t> idx) {
  return {_mm256_i32gather_ps(base, idx.v, 4)};
}
FASTNN_SIMD_INLINE Vec<float> gather(const float* base, const int32_t* idx) { return gather(base, load(idx)); }
FASTNN_SIMD_INLINE Vec<float> gather_n(const float* base, const int32_t* idx, int n) {
  const __m256i m = detail::first_n_epi32(n);
  return {_mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, _mm256_maskload_epi32(idx, m),
                                   _mm256_castsi256_ps(m), 4)};
}
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, const int32_t* idx) {
  return {_mm256_i32gather_pd(base, _mm_loadu_si128(reinterpret_cast<const __m128i*>(idx)), 8)};
}
FASTNN_SIMD_INLINE Vec<double> gather_n(const double* base, const int32_t* idx, int n) {
  const __m128i m32 = _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3));
  return {_mm256_mask_i32gather_pd(_mm256_setzero_pd(), base, _mm_maskload_epi32(idx, m32),
                                   _mm256_castsi256_pd(detail::first_n_epi64(n)), 8)};
}
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, Vec<int64_t> idx) {
  return {_mm256_i64gather_pd(base, idx.v, 8)};
}
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, const int64_t* idx) { return gather(base, load(idx)); }
FASTNN_SIMD_INLINE Vec<double> gather_n(const double* base, const int64_t* idx, int n) {
  const __m256i m = detail::first_n_epi64(n);
  return {_mm256_mask_i64gather_pd(_mm256_setzero_pd(), base, load_n(idx, n).v, _mm256_castsi256_pd(m), 8)};
}

#else

// Lane by lane: the baseline ISA has no gather instruction.
template <typename T, typename I>
FASTNN_SIMD_INLINE Vec<T> gather_lanes(const T* base, const I* idx, int n) {
  Vec<T> r = zero<T>();
  for (int i = 0; i < n; ++i) r.v[i] = base[idx[i]];
  return r;
}
FASTNN_SIMD_INLINE Vec<float> gather(const float* base, const int32_t* idx) { return gather_lanes(base, idx, 4); }
FASTNN_SIMD_INLINE Vec<float> gather(const float* base, Vec<int32_t> idx) {
  int32_t i[4];
  store(i, idx);
  return gather_lanes(base, i, 4);
}
FASTNN_SIMD_INLINE Vec<float> gather_n(const float* base, const int32_t* idx, int n) {
  return gather_lanes(base, idx, n);
}
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, const int32_t* idx) { return gather_lanes(base, idx, 2); }
FASTNN_SIMD_INLINE Vec<double> gather_n(const double* base, const int32_t* idx, int n) {
  return gather_lanes(base, idx, n);
}
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, const int64_t* idx) { return gather_lanes(base, idx, 2); }
FASTNN_SIMD_INLINE Vec<double> gather(const double* base, Vec<int64_t> idx) {
  int64_t i[2];
  store(i, idx);
  return gather_lanes(base, i, 2);
}
FASTNN_SIMD_INLINE Vec<double> gather_n(const double* base, const int64_t* idx, int n) {
  return gather_lanes(base, idx, n);
}

#endif

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
