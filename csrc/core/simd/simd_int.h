// Integer lanes of the SIMD layer: Vec<int32_t> (as many lanes as Vec<float>) and Vec<int64_t>
// (as many as Vec<double>), for index arithmetic, counter-based random numbers (Philox needs
// the unsigned 32 x 32 -> high 32 bits product, mulhi) and the exponent tricks of simd_math.h.
//
//   both      set1, load, load_n, store, store_n, + -, & | ^, andnot(a, b) = ~a & b,
//             shl / shr (logical) / sar (arithmetic) by a count in [0, bits), cmp_eq, cmp_gt,
//             cmp_lt (signed) -> Mask<I>, select, any, all
//   int32     mullo (low 32 bits of the product), mulhi (unsigned, high 32 bits), min, max,
//             to_float, round_to_int (nearest, ties to even), trunc_to_int (toward zero);
//             float -> int conversions are defined for |x| < 2^31
//   bit casts as_bits(Vec<float>) -> Vec<int32_t>, as_bits(Vec<double>) -> Vec<int64_t>,
//             from_bits back
#pragma once

#include "core/simd/simd.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {

// ------------------------------------------------------------------------------- avx512
#if defined(FASTNN_ISA_AVX512)

template <>
struct Vec<int32_t> {
  static constexpr int W = 16;
  __m512i v;
};
template <>
struct Vec<int64_t> {
  static constexpr int W = 8;
  __m512i v;
};
template <>
struct Mask<int32_t> {
  __mmask16 m;
};
template <>
struct Mask<int64_t> {
  __mmask8 m;
};

#define FASTNN_SIMD_AVX512_INT_OPS(I, E, M)                                                                          \
  FASTNN_SIMD_INLINE Vec<I> set1(I x, Vec<I>* = nullptr) { return {_mm512_set1_##E(x)}; }                             \
  FASTNN_SIMD_INLINE Vec<I> load(const I* p) { return {_mm512_loadu_si512(p)}; }                                      \
  FASTNN_SIMD_INLINE Vec<I> load_n(const I* p, int n) { return {_mm512_maskz_loadu_##E(M((1u << n) - 1u), p)}; }      \
  FASTNN_SIMD_INLINE void store(I* p, Vec<I> a) { _mm512_storeu_si512(p, a.v); }                                       \
  FASTNN_SIMD_INLINE void store_n(I* p, Vec<I> a, int n) { _mm512_mask_storeu_##E(p, M((1u << n) - 1u), a.v); }       \
  FASTNN_SIMD_INLINE Vec<I> operator+(Vec<I> a, Vec<I> b) { return {_mm512_add_##E(a.v, b.v)}; }                      \
  FASTNN_SIMD_INLINE Vec<I> operator-(Vec<I> a, Vec<I> b) { return {_mm512_sub_##E(a.v, b.v)}; }                      \
  FASTNN_SIMD_INLINE Vec<I> operator&(Vec<I> a, Vec<I> b) { return {_mm512_and_si512(a.v, b.v)}; }                    \
  FASTNN_SIMD_INLINE Vec<I> operator|(Vec<I> a, Vec<I> b) { return {_mm512_or_si512(a.v, b.v)}; }                     \
  FASTNN_SIMD_INLINE Vec<I> operator^(Vec<I> a, Vec<I> b) { return {_mm512_xor_si512(a.v, b.v)}; }                    \
  FASTNN_SIMD_INLINE Vec<I> andnot(Vec<I> a, Vec<I> b) { return {_mm512_andnot_si512(a.v, b.v)}; }                    \
  FASTNN_SIMD_INLINE Vec<I> shl(Vec<I> a, int n) { return {_mm512_sll_##E(a.v, _mm_cvtsi32_si128(n))}; }               \
  FASTNN_SIMD_INLINE Vec<I> shr(Vec<I> a, int n) { return {_mm512_srl_##E(a.v, _mm_cvtsi32_si128(n))}; }               \
  FASTNN_SIMD_INLINE Vec<I> sar(Vec<I> a, int n) { return {_mm512_sra_##E(a.v, _mm_cvtsi32_si128(n))}; }               \
  FASTNN_SIMD_INLINE Mask<I> cmp_eq(Vec<I> a, Vec<I> b) { return {_mm512_cmpeq_##E##_mask(a.v, b.v)}; }               \
  FASTNN_SIMD_INLINE Mask<I> cmp_gt(Vec<I> a, Vec<I> b) { return {_mm512_cmpgt_##E##_mask(a.v, b.v)}; }               \
  FASTNN_SIMD_INLINE Mask<I> cmp_lt(Vec<I> a, Vec<I> b) { return {_mm512_cmplt_##E##_mask(a.v, b.v)}; }               \
  FASTNN_SIMD_INLINE Vec<I> select(Mask<I> m, Vec<I> a, Vec<I> b) { return {_mm512_mask_blend_##E(m.m, b.v, a.v)}; }  \
  FASTNN_SIMD_INLINE bool any(Mask<I> a) { return a.m != 0; }                                                          \
  FASTNN_SIMD_INLINE bool all(Mask<I> a) { return M(~a.m) == 0; }

FASTNN_SIMD_AVX512_INT_OPS(int32_t, epi32, __mmask16)
FASTNN_SIMD_AVX512_INT_OPS(int64_t, epi64, __mmask8)
#undef FASTNN_SIMD_AVX512_INT_OPS

FASTNN_SIMD_INLINE Vec<int32_t> mullo(Vec<int32_t> a, Vec<int32_t> b) { return {_mm512_mullo_epi32(a.v, b.v)}; }
// Even lanes multiply in place; odd lanes are shifted down first, and their high halves land
// where the result wants them.
FASTNN_SIMD_INLINE Vec<int32_t> mulhi(Vec<int32_t> a, Vec<int32_t> b) {
  const __m512i even = _mm512_srli_epi64(_mm512_mul_epu32(a.v, b.v), 32);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a.v, 32), _mm512_srli_epi64(b.v, 32));
  return {_mm512_mask_blend_epi32(__mmask16(0xAAAA), even, odd)};
}
FASTNN_SIMD_INLINE Vec<int32_t> min(Vec<int32_t> a, Vec<int32_t> b) { return {_mm512_min_epi32(a.v, b.v)}; }
FASTNN_SIMD_INLINE Vec<int32_t> max(Vec<int32_t> a, Vec<int32_t> b) { return {_mm512_max_epi32(a.v, b.v)}; }
FASTNN_SIMD_INLINE Vec<float> to_float(Vec<int32_t> a) { return {_mm512_cvtepi32_ps(a.v)}; }
FASTNN_SIMD_INLINE Vec<int32_t> round_to_int(Vec<float> a) {
  return {_mm512_cvt_roundps_epi32(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
}
FASTNN_SIMD_INLINE Vec<int32_t> trunc_to_int(Vec<float> a) { return {_mm512_cvttps_epi32(a.v)}; }
FASTNN_SIMD_INLINE Vec<int32_t> as_bits(Vec<float> a) { return {_mm512_castps_si512(a.v)}; }
FASTNN_SIMD_INLINE Vec<int64_t> as_bits(Vec<double> a) { return {_mm512_castpd_si512(a.v)}; }
FASTNN_SIMD_INLINE Vec<float> from_bits(Vec<int32_t> a) { return {_mm512_castsi512_ps(a.v)}; }
FASTNN_SIMD_INLINE Vec<double> from_bits(Vec<int64_t> a) { return {_mm512_castsi512_pd(a.v)}; }

// ------------------------------------------------------------------------------- avx2
#elif defined(FASTNN_ISA_AVX2)

template <>
struct Vec<int32_t> {
  static constexpr int W = 8;
  __m256i v;
};
template <>
struct Vec<int64_t> {
  static constexpr int W = 4;
  __m256i v;
};
// A lane is selected when all its bits are set.
template <>
struct Mask<int32_t> {
  __m256i m;
};
template <>
struct Mask<int64_t> {
  __m256i m;
};

#define FASTNN_SIMD_AVX2_INT_OPS(I, E, X, P)                                                                          \
  FASTNN_SIMD_INLINE Vec<I> set1(I x, Vec<I>* = nullptr) { return {_mm256_set1_##X(x)}; }                             \
  FASTNN_SIMD_INLINE Vec<I> load(const I* p) { return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))}; }    \
  FASTNN_SIMD_INLINE Vec<I> load_n(const I* p, int n) {                                                               \
    return {_mm256_maskload_##E(reinterpret_cast<const P*>(p), detail::first_n_##E(n))};                              \
  }                                                                                                                   \
  FASTNN_SIMD_INLINE void store_n(I* p, Vec<I> a, int n) {                                                            \
    _mm256_maskstore_##E(reinterpret_cast<P*>(p), detail::first_n_##E(n), a.v);                                       \
  }                                                                                                                   \
  FASTNN_SIMD_INLINE void store(I* p, Vec<I> a) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a.v); }          \
  FASTNN_SIMD_INLINE Vec<I> operator+(Vec<I> a, Vec<I> b) { return {_mm256_add_##E(a.v, b.v)}; }                      \
  FASTNN_SIMD_INLINE Vec<I> operator-(Vec<I> a, Vec<I> b) { return {_mm256_sub_##E(a.v, b.v)}; }                      \
  FASTNN_SIMD_INLINE Vec<I> operator&(Vec<I> a, Vec<I> b) { return {_mm256_and_si256(a.v, b.v)}; }                    \
  FASTNN_SIMD_INLINE Vec<I> operator|(Vec<I> a, Vec<I> b) { return {_mm256_or_si256(a.v, b.v)}; }                     \
  FASTNN_SIMD_INLINE Vec<I> operator^(Vec<I> a, Vec<I> b) { return {_mm256_xor_si256(a.v, b.v)}; }                    \
  FASTNN_SIMD_INLINE Vec<I> andnot(Vec<I> a, Vec<I> b) { return {_mm256_andnot_si256(a.v, b.v)}; }                    \
  FASTNN_SIMD_INLINE Vec<I> shl(Vec<I> a, int n) { return {_mm256_sll_##E(a.v, _mm_cvtsi32_si128(n))}; }               \
  FASTNN_SIMD_INLINE Vec<I> shr(Vec<I> a, int n) { return {_mm256_srl_##E(a.v, _mm_cvtsi32_si128(n))}; }               \
  FASTNN_SIMD_INLINE Mask<I> cmp_eq(Vec<I> a, Vec<I> b) { return {_mm256_cmpeq_##E(a.v, b.v)}; }                      \
  FASTNN_SIMD_INLINE Mask<I> cmp_gt(Vec<I> a, Vec<I> b) { return {_mm256_cmpgt_##E(a.v, b.v)}; }                      \
  FASTNN_SIMD_INLINE Mask<I> cmp_lt(Vec<I> a, Vec<I> b) { return {_mm256_cmpgt_##E(b.v, a.v)}; }                      \
  FASTNN_SIMD_INLINE Vec<I> select(Mask<I> m, Vec<I> a, Vec<I> b) { return {_mm256_blendv_epi8(b.v, a.v, m.m)}; }     \
  FASTNN_SIMD_INLINE bool any(Mask<I> a) { return _mm256_movemask_epi8(a.m) != 0; }                                    \
  FASTNN_SIMD_INLINE bool all(Mask<I> a) { return _mm256_movemask_epi8(a.m) == -1; }

FASTNN_SIMD_AVX2_INT_OPS(int32_t, epi32, epi32, int)
FASTNN_SIMD_AVX2_INT_OPS(int64_t, epi64, epi64x, long long)
#undef FASTNN_SIMD_AVX2_INT_OPS

FASTNN_SIMD_INLINE Vec<int32_t> sar(Vec<int32_t> a, int n) { return {_mm256_sra_epi32(a.v, _mm_cvtsi32_si128(n))}; }
// AVX2 has no 64-bit arithmetic shift: the logical one, with the sign copied into the top n bits.
FASTNN_SIMD_INLINE Vec<int64_t> sar(Vec<int64_t> a, int n) {
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), a.v);
  return {_mm256_or_si256(_mm256_srl_epi64(a.v, _mm_cvtsi32_si128(n)),
                          _mm256_sll_epi64(sign, _mm_cvtsi32_si128(64 - n)))};
}
FASTNN_SIMD_INLINE Vec<int32_t> mullo(Vec<int32_t> a, Vec<int32_t> b) { return {_mm256_mullo_epi32(a.v, b.v)}; }
FASTNN_SIMD_INLINE Vec<int32_t> mulhi(Vec<int32_t> a, Vec<int32_t> b) {
  const __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(a.v, b.v), 32);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a.v, 32), _mm256_srli_epi64(b.v, 32));
  return {_mm256_blend_epi32(even, odd, 0xAA)};
}
FASTNN_SIMD_INLINE Vec<int32_t> min(Vec<int32_t> a, Vec<int32_t> b) { return {_mm256_min_epi32(a.v, b.v)}; }
FASTNN_SIMD_INLINE Vec<int32_t> max(Vec<int32_t> a, Vec<int32_t> b) { return {_mm256_max_epi32(a.v, b.v)}; }
FASTNN_SIMD_INLINE Vec<float> to_float(Vec<int32_t> a) { return {_mm256_cvtepi32_ps(a.v)}; }
FASTNN_SIMD_INLINE Vec<int32_t> round_to_int(Vec<float> a) {
  return {_mm256_cvtps_epi32(_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))};
}
FASTNN_SIMD_INLINE Vec<int32_t> trunc_to_int(Vec<float> a) { return {_mm256_cvttps_epi32(a.v)}; }
FASTNN_SIMD_INLINE Vec<int32_t> as_bits(Vec<float> a) { return {_mm256_castps_si256(a.v)}; }
FASTNN_SIMD_INLINE Vec<int64_t> as_bits(Vec<double> a) { return {_mm256_castpd_si256(a.v)}; }
FASTNN_SIMD_INLINE Vec<float> from_bits(Vec<int32_t> a) { return {_mm256_castsi256_ps(a.v)}; }
FASTNN_SIMD_INLINE Vec<double> from_bits(Vec<int64_t> a) { return {_mm256_castsi256_pd(a.v)}; }

// ------------------------------------------------------------------------------- portable
#else

template <>
struct Vec<int32_t> {
  static constexpr int W = 4;
  typedef int32_t reg __attribute__((vector_size(16)));
  typedef uint32_t ureg __attribute__((vector_size(16)));
  reg v;
};
template <>
struct Vec<int64_t> {
  static constexpr int W = 2;
  typedef int64_t reg __attribute__((vector_size(16)));
  typedef uint64_t ureg __attribute__((vector_size(16)));
  reg v;
};
template <>
struct Mask<int32_t> {
  typedef int32_t reg __attribute__((vector_size(16)));
  reg m;  // lanes are 0 or -1
};
template <>
struct Mask<int64_t> {
  typedef int64_t reg __attribute__((vector_size(16)));
  reg m;
};

// Shifts and products go through the unsigned type, where overflow and right shifts are defined.
#define FASTNN_SIMD_PORTABLE_INT_OPS(I)                                                                       \
  FASTNN_SIMD_INLINE Vec<I> set1(I x, Vec<I>* = nullptr) { return {typename Vec<I>::reg{} + x}; }             \
  FASTNN_SIMD_INLINE Vec<I> load(const I* p) {                                                                \
    Vec<I> r;                                                                                                 \
    std::memcpy(&r.v, p, sizeof(r.v));                                                                       \
    return r;                                                                                                 \
  }                                                                                                           \
  FASTNN_SIMD_INLINE Vec<I> load_n(const I* p, int n) {                                                       \
    Vec<I> r{};                                                                                               \
    for (int i = 0; i < n; ++i) r.v[i] = p[i];                                                                \
    return r;                                                                                                 \
  }                                                                                                           \
  FASTNN_SIMD_INLINE void store(I* p, Vec<I> a) { std::memcpy(p, &a.v, sizeof(a.v)); }                        \
  FASTNN_SIMD_INLINE void store_n(I* p, Vec<I> a, int n) {                                                    \
    for (int i = 0; i < n; ++i) p[i] = a.v[i];                                                                \
  }                                                                                                           \
  FASTNN_SIMD_INLINE Vec<I> operator+(Vec<I> a, Vec<I> b) {                                                   \
    return {(typename Vec<I>::reg)((typename Vec<I>::ureg)a.v + (typename Vec<I>::ureg)b.v)};                 \
  }                                                                                                           \
  FASTNN_SIMD_INLINE Vec<I> operator-(Vec<I> a, Vec<I> b) {                                                   \
    return {(typename Vec<I>::reg)((typename Vec<I>::ureg)a.v - (typename Vec<I>::ureg)b.v)};                 \
  }                                                                                                           \
  FASTNN_SIMD_INLINE Vec<I> operator&(Vec<I> a, Vec<I> b) { return {a.v & b.v}; }                             \
  FASTNN_SIMD_INLINE Vec<I> operator|(Vec<I> a, Vec<I> b) { return {a.v | b.v}; }                             \
  FASTNN_SIMD_INLINE Vec<I> operator^(Vec<I> a, Vec<I> b) { return {a.v ^ b.v}; }                             \
  FASTNN_SIMD_INLINE Vec<I> andnot(Vec<I> a, Vec<I> b) { return {~a.v & b.v}; }                               \
  FASTNN_SIMD_INLINE Vec<I> shl(Vec<I> a, int n) {                                                            \
    return {(typename Vec<I>::reg)((typename Vec<I>::ureg)a.v << n)};                                         \
  }                                                                                                           \
  FASTNN_SIMD_INLINE Vec<I> shr(Vec<I> a, int n) {                                                            \
    return {(typename Vec<I>::reg)((typename Vec<I>::ureg)a.v >> n)};                                         \
  }                                                                                                           \
  FASTNN_SIMD_INLINE Vec<I> sar(Vec<I> a, int n) { return {a.v >> n}; }                                       \
  FASTNN_SIMD_INLINE Mask<I> cmp_eq(Vec<I> a, Vec<I> b) { return {a.v == b.v}; }                              \
  FASTNN_SIMD_INLINE Mask<I> cmp_gt(Vec<I> a, Vec<I> b) { return {a.v > b.v}; }                               \
  FASTNN_SIMD_INLINE Mask<I> cmp_lt(Vec<I> a, Vec<I> b) { return {a.v < b.v}; }                               \
  FASTNN_SIMD_INLINE Vec<I> select(Mask<I> m, Vec<I> a, Vec<I> b) { return {m.m ? a.v : b.v}; }               \
  FASTNN_SIMD_INLINE bool any(Mask<I> a) {                                                                    \
    for (int i = 0; i < Vec<I>::W; ++i)                                                                       \
      if (a.m[i]) return true;                                                                                \
    return false;                                                                                             \
  }                                                                                                           \
  FASTNN_SIMD_INLINE bool all(Mask<I> a) {                                                                    \
    for (int i = 0; i < Vec<I>::W; ++i)                                                                       \
      if (!a.m[i]) return false;                                                                              \
    return true;                                                                                              \
  }

FASTNN_SIMD_PORTABLE_INT_OPS(int32_t)
FASTNN_SIMD_PORTABLE_INT_OPS(int64_t)
#undef FASTNN_SIMD_PORTABLE_INT_OPS

FASTNN_SIMD_INLINE Vec<int32_t> mullo(Vec<int32_t> a, Vec<int32_t> b) {
  return {(Vec<int32_t>::reg)((Vec<int32_t>::ureg)a.v * (Vec<int32_t>::ureg)b.v)};
}
FASTNN_SIMD_INLINE Vec<int32_t> mulhi(Vec<int32_t> a, Vec<int32_t> b) {
  Vec<int32_t> r;
  for (int i = 0; i < 4; ++i) r.v[i] = int32_t((uint64_t(uint32_t(a.v[i])) * uint32_t(b.v[i])) >> 32);
  return r;
}
FASTNN_SIMD_INLINE Vec<int32_t> min(Vec<int32_t> a, Vec<int32_t> b) { return {a.v < b.v ? a.v : b.v}; }
FASTNN_SIMD_INLINE Vec<int32_t> max(Vec<int32_t> a, Vec<int32_t> b) { return {a.v > b.v ? a.v : b.v}; }
FASTNN_SIMD_INLINE Vec<float> to_float(Vec<int32_t> a) { return {__builtin_convertvector(a.v, Vec<float>::reg)}; }
FASTNN_SIMD_INLINE Vec<int32_t> trunc_to_int(Vec<float> a) {
  return {__builtin_convertvector(a.v, Vec<int32_t>::reg)};
}
FASTNN_SIMD_INLINE Vec<int32_t> round_to_int(Vec<float> a) { return trunc_to_int(round_nearest(a)); }
FASTNN_SIMD_INLINE Vec<int32_t> as_bits(Vec<float> a) { return {(Vec<int32_t>::reg)a.v}; }
FASTNN_SIMD_INLINE Vec<int64_t> as_bits(Vec<double> a) { return {(Vec<int64_t>::reg)a.v}; }
FASTNN_SIMD_INLINE Vec<float> from_bits(Vec<int32_t> a) { return {(Vec<float>::reg)a.v}; }
FASTNN_SIMD_INLINE Vec<double> from_bits(Vec<int64_t> a) { return {(Vec<double>::reg)a.v}; }

#endif

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
