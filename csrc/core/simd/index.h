// 64-bit element indices lane for lane beside a Vec<T>: IndexVec<T> holds Vec<T>::W int64 values,
// so an argmax can follow a vector of maxima (select with the same Mask<T>).
//
//   index_set1<T>(x), index_iota<T>(start, step)    lanes x, or start + step * i
//   index_store(p, a), a + b
//   index_select(m, a, b)                           a where m, else b
//   index_from(v)                                   lanes of v (whole numbers below 2^31 in
//                                                   magnitude) as int64
//
// PairIndex<T> holds W/2 int64 values, value i standing for lanes 2i and 2i + 1 of a Vec<T>: one
// index per pair of neighbouring columns (the two columns of a 2x2 pooling window).
//   pair_index_load<T>(p)                 p[0 .. W/2 - 1]
//   pair_index_iota<T>(start, step)       start + step * i
//   a + b
//   pair_eq(a, e, o) -> Mask<T>           lane 2i: a[i] == e[i], lane 2i + 1: a[i] == o[i]
//   pairs_all(m)                          each pair of lanes (2i, 2i + 1) has a lane set
#pragma once

#include "core/simd/simd.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {

template <typename T>
struct IndexVec;

#if defined(FASTNN_ISA_AVX512)

template <>
struct IndexVec<float> {
  __m512i lo, hi;  // lanes 0-7 and 8-15
};
template <>
struct IndexVec<double> {
  __m512i v;
};

template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> index_set1(int64_t x);
template <>
FASTNN_SIMD_INLINE IndexVec<float> index_set1<float>(int64_t x) {
  const __m512i v = _mm512_set1_epi64(x);
  return {v, v};
}
template <>
FASTNN_SIMD_INLINE IndexVec<double> index_set1<double>(int64_t x) {
  return {_mm512_set1_epi64(x)};
}
template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> index_iota(int64_t start, int64_t step);
template <>
FASTNN_SIMD_INLINE IndexVec<float> index_iota<float>(int64_t start, int64_t step) {
  const __m512i i = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i lo = _mm512_add_epi64(_mm512_set1_epi64(start), _mm512_mullo_epi64(i, _mm512_set1_epi64(step)));
  return {lo, _mm512_add_epi64(lo, _mm512_set1_epi64(8 * step))};
}
template <>
FASTNN_SIMD_INLINE IndexVec<double> index_iota<double>(int64_t start, int64_t step) {
  const __m512i i = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  return {_mm512_add_epi64(_mm512_set1_epi64(start), _mm512_mullo_epi64(i, _mm512_set1_epi64(step)))};
}
FASTNN_SIMD_INLINE void index_store(int64_t* p, IndexVec<float> a) {
  _mm512_storeu_si512(p, a.lo);
  _mm512_storeu_si512(p + 8, a.hi);
}
FASTNN_SIMD_INLINE void index_store(int64_t* p, IndexVec<double> a) { _mm512_storeu_si512(p, a.v); }
FASTNN_SIMD_INLINE IndexVec<float> operator+(IndexVec<float> a, IndexVec<float> b) {
  return {_mm512_add_epi64(a.lo, b.lo), _mm512_add_epi64(a.hi, b.hi)};
}
FASTNN_SIMD_INLINE IndexVec<double> operator+(IndexVec<double> a, IndexVec<double> b) {
  return {_mm512_add_epi64(a.v, b.v)};
}
FASTNN_SIMD_INLINE IndexVec<float> index_select(Mask<float> m, IndexVec<float> a, IndexVec<float> b) {
  return {_mm512_mask_blend_epi64(__mmask8(m.m), b.lo, a.lo), _mm512_mask_blend_epi64(__mmask8(m.m >> 8), b.hi, a.hi)};
}
FASTNN_SIMD_INLINE IndexVec<double> index_select(Mask<double> m, IndexVec<double> a, IndexVec<double> b) {
  return {_mm512_mask_blend_epi64(m.m, b.v, a.v)};
}

FASTNN_SIMD_INLINE IndexVec<float> index_from(Vec<float> v) {
  return {_mm512_cvttps_epi64(_mm512_castps512_ps256(v.v)), _mm512_cvttps_epi64(_mm512_extractf32x8_ps(v.v, 1))};
}
FASTNN_SIMD_INLINE IndexVec<double> index_from(Vec<double> v) { return {_mm512_cvttpd_epi64(v.v)}; }

template <typename T>
struct PairIndex;
template <>
struct PairIndex<float> {
  __m512i v;
};
template <>
struct PairIndex<double> {
  __m256i v;
};

namespace detail {
// Bit i of x (i < 4) moved to bit 2i.
FASTNN_SIMD_INLINE unsigned spread4(unsigned x) {
  x = (x | (x << 2)) & 0x33u;
  return (x | (x << 1)) & 0x55u;
}
}  // namespace detail

template <typename T>
FASTNN_SIMD_INLINE PairIndex<T> pair_index_load(const int64_t* p);
template <>
FASTNN_SIMD_INLINE PairIndex<float> pair_index_load<float>(const int64_t* p) {
  return {_mm512_loadu_si512(p)};
}
template <>
FASTNN_SIMD_INLINE PairIndex<double> pair_index_load<double>(const int64_t* p) {
  return {_mm256_loadu_si256((const __m256i*)p)};
}
template <typename T>
FASTNN_SIMD_INLINE PairIndex<T> pair_index_iota(int64_t start, int64_t step);
template <>
FASTNN_SIMD_INLINE PairIndex<float> pair_index_iota<float>(int64_t start, int64_t step) {
  return {_mm512_add_epi64(_mm512_set1_epi64(start),
                           _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(step)))};
}
template <>
FASTNN_SIMD_INLINE PairIndex<double> pair_index_iota<double>(int64_t start, int64_t step) {
  return {_mm256_setr_epi64x(start, start + step, start + 2 * step, start + 3 * step)};
}
FASTNN_SIMD_INLINE PairIndex<float> operator+(PairIndex<float> a, PairIndex<float> b) {
  return {_mm512_add_epi64(a.v, b.v)};
}
FASTNN_SIMD_INLINE PairIndex<double> operator+(PairIndex<double> a, PairIndex<double> b) {
  return {_mm256_add_epi64(a.v, b.v)};
}
// The 64-bit comparison masks as vectors, each lane covering the two float lanes of its pair; the
// 32-bit blend takes the even lane from one and the odd lane from the other.
FASTNN_SIMD_INLINE Mask<float> pair_eq(PairIndex<float> a, PairIndex<float> e, PairIndex<float> o) {
  const __m512i me = _mm512_movm_epi64(_mm512_cmpeq_epi64_mask(a.v, e.v));
  const __m512i mo = _mm512_movm_epi64(_mm512_cmpeq_epi64_mask(a.v, o.v));
  return {_mm512_movepi32_mask(_mm512_mask_blend_epi32(0xAAAA, me, mo))};
}
FASTNN_SIMD_INLINE Mask<double> pair_eq(PairIndex<double> a, PairIndex<double> e, PairIndex<double> o) {
  const unsigned me = _mm256_cmpeq_epi64_mask(a.v, e.v), mo = _mm256_cmpeq_epi64_mask(a.v, o.v);
  return {__mmask8(detail::spread4(me) | (detail::spread4(mo) << 1))};
}
FASTNN_SIMD_INLINE bool pairs_all(Mask<float> m) {
  const unsigned b = m.m;
  return ((b | (b >> 1)) & 0x5555u) == 0x5555u;
}
FASTNN_SIMD_INLINE bool pairs_all(Mask<double> m) {
  const unsigned b = m.m;
  return ((b | (b >> 1)) & 0x55u) == 0x55u;
}

#elif defined(FASTNN_ISA_AVX2)

template <>
struct IndexVec<float> {
  __m256i lo, hi;  // lanes 0-3 and 4-7
};
template <>
struct IndexVec<double> {
  __m256i v;
};

template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> index_set1(int64_t x);
template <>
FASTNN_SIMD_INLINE IndexVec<float> index_set1<float>(int64_t x) {
  const __m256i v = _mm256_set1_epi64x(x);
  return {v, v};
}
template <>
FASTNN_SIMD_INLINE IndexVec<double> index_set1<double>(int64_t x) {
  return {_mm256_set1_epi64x(x)};
}
template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> index_iota(int64_t start, int64_t step);
template <>
FASTNN_SIMD_INLINE IndexVec<float> index_iota<float>(int64_t start, int64_t step) {
  const __m256i lo = _mm256_setr_epi64x(start, start + step, start + 2 * step, start + 3 * step);
  return {lo, _mm256_add_epi64(lo, _mm256_set1_epi64x(4 * step))};
}
template <>
FASTNN_SIMD_INLINE IndexVec<double> index_iota<double>(int64_t start, int64_t step) {
  return {_mm256_setr_epi64x(start, start + step, start + 2 * step, start + 3 * step)};
}
FASTNN_SIMD_INLINE void index_store(int64_t* p, IndexVec<float> a) {
  _mm256_storeu_si256((__m256i*)p, a.lo);
  _mm256_storeu_si256((__m256i*)(p + 4), a.hi);
}
FASTNN_SIMD_INLINE void index_store(int64_t* p, IndexVec<double> a) { _mm256_storeu_si256((__m256i*)p, a.v); }
FASTNN_SIMD_INLINE IndexVec<float> operator+(IndexVec<float> a, IndexVec<float> b) {
  return {_mm256_add_epi64(a.lo, b.lo), _mm256_add_epi64(a.hi, b.hi)};
}
FASTNN_SIMD_INLINE IndexVec<double> operator+(IndexVec<double> a, IndexVec<double> b) {
  return {_mm256_add_epi64(a.v, b.v)};
}
FASTNN_SIMD_INLINE IndexVec<float> index_select(Mask<float> m, IndexVec<float> a, IndexVec<float> b) {
  const __m256i mi = _mm256_castps_si256(m.m);
  const __m256i mlo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(mi));
  const __m256i mhi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(mi, 1));
  return {_mm256_blendv_epi8(b.lo, a.lo, mlo), _mm256_blendv_epi8(b.hi, a.hi, mhi)};
}
FASTNN_SIMD_INLINE IndexVec<double> index_select(Mask<double> m, IndexVec<double> a, IndexVec<double> b) {
  return {_mm256_blendv_epi8(b.v, a.v, _mm256_castpd_si256(m.m))};
}

FASTNN_SIMD_INLINE IndexVec<float> index_from(Vec<float> v) {
  const __m256i i = _mm256_cvttps_epi32(v.v);
  return {_mm256_cvtepi32_epi64(_mm256_castsi256_si128(i)), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(i, 1))};
}
FASTNN_SIMD_INLINE IndexVec<double> index_from(Vec<double> v) {
  return {_mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(v.v))};
}

template <typename T>
struct PairIndex;
template <>
struct PairIndex<float> {
  __m256i v;
};
template <>
struct PairIndex<double> {
  __m128i v;
};

template <typename T>
FASTNN_SIMD_INLINE PairIndex<T> pair_index_load(const int64_t* p);
template <>
FASTNN_SIMD_INLINE PairIndex<float> pair_index_load<float>(const int64_t* p) {
  return {_mm256_loadu_si256((const __m256i*)p)};
}
template <>
FASTNN_SIMD_INLINE PairIndex<double> pair_index_load<double>(const int64_t* p) {
  return {_mm_loadu_si128((const __m128i*)p)};
}
template <typename T>
FASTNN_SIMD_INLINE PairIndex<T> pair_index_iota(int64_t start, int64_t step);
template <>
FASTNN_SIMD_INLINE PairIndex<float> pair_index_iota<float>(int64_t start, int64_t step) {
  return {_mm256_setr_epi64x(start, start + step, start + 2 * step, start + 3 * step)};
}
template <>
FASTNN_SIMD_INLINE PairIndex<double> pair_index_iota<double>(int64_t start, int64_t step) {
  return {_mm_set_epi64x(start + step, start)};
}
FASTNN_SIMD_INLINE PairIndex<float> operator+(PairIndex<float> a, PairIndex<float> b) {
  return {_mm256_add_epi64(a.v, b.v)};
}
FASTNN_SIMD_INLINE PairIndex<double> operator+(PairIndex<double> a, PairIndex<double> b) {
  return {_mm_add_epi64(a.v, b.v)};
}
// A 64-bit comparison result covers the two float lanes of its pair: the 32-bit blend takes the
// even lane from one comparison and the odd lane from the other.
FASTNN_SIMD_INLINE Mask<float> pair_eq(PairIndex<float> a, PairIndex<float> e, PairIndex<float> o) {
  return {_mm256_castsi256_ps(_mm256_blend_epi32(_mm256_cmpeq_epi64(a.v, e.v), _mm256_cmpeq_epi64(a.v, o.v), 0xAA))};
}
FASTNN_SIMD_INLINE Mask<double> pair_eq(PairIndex<double> a, PairIndex<double> e, PairIndex<double> o) {
  const __m128i me = _mm_cmpeq_epi64(a.v, e.v), mo = _mm_cmpeq_epi64(a.v, o.v);
  return {_mm256_castsi256_pd(_mm256_set_m128i(_mm_unpackhi_epi64(me, mo), _mm_unpacklo_epi64(me, mo)))};
}
FASTNN_SIMD_INLINE bool pairs_all(Mask<float> m) {
  const unsigned b = _mm256_movemask_ps(m.m);
  return ((b | (b >> 1)) & 0x55u) == 0x55u;
}
FASTNN_SIMD_INLINE bool pairs_all(Mask<double> m) {
  const unsigned b = _mm256_movemask_pd(m.m);
  return ((b | (b >> 1)) & 0x5u) == 0x5u;
}

#else

template <>
struct IndexVec<float> {
  typedef int64_t reg __attribute__((vector_size(32)));
  reg v;
};
template <>
struct IndexVec<double> {
  typedef int64_t reg __attribute__((vector_size(16)));
  reg v;
};

template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> index_set1(int64_t x) {
  IndexVec<T> r;
  for (int i = 0; i < Vec<T>::W; ++i) r.v[i] = x;
  return r;
}
template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> index_iota(int64_t start, int64_t step) {
  IndexVec<T> r;
  for (int i = 0; i < Vec<T>::W; ++i) r.v[i] = start + step * i;
  return r;
}
template <typename T>
FASTNN_SIMD_INLINE void index_store(int64_t* p, IndexVec<T> a) {
  std::memcpy(p, &a.v, sizeof(a.v));
}
template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> operator+(IndexVec<T> a, IndexVec<T> b) {
  return {a.v + b.v};
}
template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> index_select(Mask<T> m, IndexVec<T> a, IndexVec<T> b) {
  IndexVec<T> r;
  for (int i = 0; i < Vec<T>::W; ++i) r.v[i] = m.m[i] ? a.v[i] : b.v[i];
  return r;
}

template <typename T>
FASTNN_SIMD_INLINE IndexVec<T> index_from(Vec<T> v) {
  IndexVec<T> r;
  for (int i = 0; i < Vec<T>::W; ++i) r.v[i] = (int64_t)v.v[i];
  return r;
}

template <typename T>
struct PairIndex {
  int64_t v[Vec<T>::W / 2];
};

template <typename T>
FASTNN_SIMD_INLINE PairIndex<T> pair_index_load(const int64_t* p) {
  PairIndex<T> r;
  for (int i = 0; i < Vec<T>::W / 2; ++i) r.v[i] = p[i];
  return r;
}
template <typename T>
FASTNN_SIMD_INLINE PairIndex<T> pair_index_iota(int64_t start, int64_t step) {
  PairIndex<T> r;
  for (int i = 0; i < Vec<T>::W / 2; ++i) r.v[i] = start + step * i;
  return r;
}
template <typename T>
FASTNN_SIMD_INLINE PairIndex<T> operator+(PairIndex<T> a, PairIndex<T> b) {
  for (int i = 0; i < Vec<T>::W / 2; ++i) a.v[i] += b.v[i];
  return a;
}
template <typename T>
FASTNN_SIMD_INLINE Mask<T> pair_eq(PairIndex<T> a, PairIndex<T> e, PairIndex<T> o) {
  Mask<T> m;
  for (int i = 0; i < Vec<T>::W / 2; ++i) {
    m.m[2 * i] = a.v[i] == e.v[i] ? -1 : 0;
    m.m[2 * i + 1] = a.v[i] == o.v[i] ? -1 : 0;
  }
  return m;
}
template <typename T>
FASTNN_SIMD_INLINE bool pairs_all(Mask<T> m) {
  for (int i = 0; i < Vec<T>::W / 2; ++i)
    if (!m.m[2 * i] && !m.m[2 * i + 1]) return false;
  return true;
}

#endif

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
