// fastnn's SIMD layer: one vector type per element type, with the operations the kernels need,
// written for three widths. A kernel is written once against it in a *_simd.cpp file; the build
// compiles that file once per CPU path (csrc/core/cpu_features.h), each time with the path's
// target flags and FASTNN_ISA_NS set to isa_avx512, isa_avx2 or isa_portable, so everything here
// lands in a namespace of its own path and no wide instruction can leak into a narrower path.
//
//   path       flags                          float lanes  double lanes
//   avx512     -mavx512f/bw/dq/vl -mavx2 -mfma     16            8
//   avx2       -mavx2 -mfma                         8            4
//   portable   none (GCC vector extensions)         4            2
//
// Loads and stores are unaligned (as fast as aligned ones on every CPU with these paths).
// `_n` variants touch only the first n lanes in memory (masked on avx512, element loops
// elsewhere), so loop tails need no scalar copy of the body.
// max/min follow the x86 rule: when either operand is NaN, the second one is returned; kernels
// that must propagate NaN test it with cmp_unord.
// `fma` is fused (one rounding) on avx512 and avx2; the portable path rounds the product too.
//
// Beside this file: simd_int.h (int32/int64 lanes, bit casts, float <-> int conversion),
// simd_gather.h (indexed loads), simd_math.h (exp, log, tanh, sin, cos), simd_transpose.h
// (W x W in-register transpose).
#pragma once

#ifndef FASTNN_ISA_NS
#error "core/simd/simd.h is included only from *_simd.cpp files, which the build compiles once per CPU path"
#endif

#include <cstdint>
#include <cstring>

#if defined(FASTNN_ISA_AVX512) || defined(FASTNN_ISA_AVX2)
#include <immintrin.h>
#endif

#define FASTNN_SIMD_INLINE inline __attribute__((always_inline))

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {

#if defined(FASTNN_ISA_AVX512)
constexpr int kVectorBytes = 64;
#elif defined(FASTNN_ISA_AVX2)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif
// Vector registers the compiler can keep live (micro-kernels size their tiles from it).
#if defined(FASTNN_ISA_AVX512)
constexpr int kVectorRegisters = 32;
#else
constexpr int kVectorRegisters = 16;
#endif

template <typename T>
struct Vec;
template <typename T>
struct Mask;

// ------------------------------------------------------------------------------- avx512
#if defined(FASTNN_ISA_AVX512)

template <>
struct Vec<float> {
  static constexpr int W = 16;
  __m512 v;
};
template <>
struct Vec<double> {
  static constexpr int W = 8;
  __m512d v;
};
template <>
struct Mask<float> {
  __mmask16 m;
};
template <>
struct Mask<double> {
  __mmask8 m;
};

#define FASTNN_SIMD_FOR_PS_PD(X) \
  X(float, ps, __mmask16)        \
  X(double, pd, __mmask8)

#define FASTNN_SIMD_AVX512_OPS(T, S, M)                                                                        \
  FASTNN_SIMD_INLINE Vec<T> set1(T x, Vec<T>* = nullptr) { return {_mm512_set1_##S(x)}; }                      \
  FASTNN_SIMD_INLINE Vec<T> load(const T* p) { return {_mm512_loadu_##S(p)}; }                                 \
  FASTNN_SIMD_INLINE Vec<T> load_n(const T* p, int n) {                                                        \
    return {_mm512_maskz_loadu_##S(M((1u << n) - 1u), p)};                                                     \
  }                                                                                                            \
  FASTNN_SIMD_INLINE void store(T* p, Vec<T> a) { _mm512_storeu_##S(p, a.v); }                                 \
  FASTNN_SIMD_INLINE void store_n(T* p, Vec<T> a, int n) { _mm512_mask_storeu_##S(p, M((1u << n) - 1u), a.v); } \
  FASTNN_SIMD_INLINE Vec<T> operator+(Vec<T> a, Vec<T> b) { return {_mm512_add_##S(a.v, b.v)}; }              \
  FASTNN_SIMD_INLINE Vec<T> operator-(Vec<T> a, Vec<T> b) { return {_mm512_sub_##S(a.v, b.v)}; }              \
  FASTNN_SIMD_INLINE Vec<T> operator*(Vec<T> a, Vec<T> b) { return {_mm512_mul_##S(a.v, b.v)}; }              \
  FASTNN_SIMD_INLINE Vec<T> operator/(Vec<T> a, Vec<T> b) { return {_mm512_div_##S(a.v, b.v)}; }              \
  FASTNN_SIMD_INLINE Vec<T> fma(Vec<T> a, Vec<T> b, Vec<T> c) { return {_mm512_fmadd_##S(a.v, b.v, c.v)}; }    \
  FASTNN_SIMD_INLINE Vec<T> max(Vec<T> a, Vec<T> b) { return {_mm512_max_##S(a.v, b.v)}; }                    \
  FASTNN_SIMD_INLINE Vec<T> min(Vec<T> a, Vec<T> b) { return {_mm512_min_##S(a.v, b.v)}; }                    \
  FASTNN_SIMD_INLINE Vec<T> sqrt(Vec<T> a) { return {_mm512_sqrt_##S(a.v)}; }                                  \
  FASTNN_SIMD_INLINE Vec<T> abs(Vec<T> a) { return {_mm512_abs_##S(a.v)}; }                                    \
  FASTNN_SIMD_INLINE Mask<T> cmp_lt(Vec<T> a, Vec<T> b) { return {_mm512_cmp_##S##_mask(a.v, b.v, _CMP_LT_OQ)}; } \
  FASTNN_SIMD_INLINE Mask<T> cmp_le(Vec<T> a, Vec<T> b) { return {_mm512_cmp_##S##_mask(a.v, b.v, _CMP_LE_OQ)}; } \
  FASTNN_SIMD_INLINE Mask<T> cmp_gt(Vec<T> a, Vec<T> b) { return {_mm512_cmp_##S##_mask(a.v, b.v, _CMP_GT_OQ)}; } \
  FASTNN_SIMD_INLINE Mask<T> cmp_ge(Vec<T> a, Vec<T> b) { return {_mm512_cmp_##S##_mask(a.v, b.v, _CMP_GE_OQ)}; } \
  FASTNN_SIMD_INLINE Mask<T> cmp_eq(Vec<T> a, Vec<T> b) { return {_mm512_cmp_##S##_mask(a.v, b.v, _CMP_EQ_OQ)}; } \
  FASTNN_SIMD_INLINE Mask<T> cmp_ne(Vec<T> a, Vec<T> b) { return {_mm512_cmp_##S##_mask(a.v, b.v, _CMP_NEQ_UQ)}; } \
  FASTNN_SIMD_INLINE Mask<T> cmp_unord(Vec<T> a, Vec<T> b) {                                                  \
    return {_mm512_cmp_##S##_mask(a.v, b.v, _CMP_UNORD_Q)};                                                    \
  }                                                                                                            \
  FASTNN_SIMD_INLINE Mask<T> operator|(Mask<T> a, Mask<T> b) { return {M(a.m | b.m)}; }                        \
  FASTNN_SIMD_INLINE Mask<T> operator&(Mask<T> a, Mask<T> b) { return {M(a.m & b.m)}; }                        \
  FASTNN_SIMD_INLINE Mask<T> operator~(Mask<T> a) { return {M(~a.m)}; }                                        \
  FASTNN_SIMD_INLINE bool any(Mask<T> a) { return a.m != 0; }                                                  \
  FASTNN_SIMD_INLINE bool all(Mask<T> a) { return M(~a.m) == 0; }                                              \
  FASTNN_SIMD_INLINE Vec<T> select(Mask<T> m, Vec<T> a, Vec<T> b) { return {_mm512_mask_blend_##S(m.m, b.v, a.v)}; } \
  FASTNN_SIMD_INLINE T reduce_add(Vec<T> a) { return _mm512_reduce_add_##S(a.v); }                             \
  FASTNN_SIMD_INLINE T reduce_max(Vec<T> a) { return _mm512_reduce_max_##S(a.v); }                             \
  FASTNN_SIMD_INLINE T reduce_min(Vec<T> a) { return _mm512_reduce_min_##S(a.v); }

FASTNN_SIMD_FOR_PS_PD(FASTNN_SIMD_AVX512_OPS)
#undef FASTNN_SIMD_AVX512_OPS
#undef FASTNN_SIMD_FOR_PS_PD

FASTNN_SIMD_INLINE Vec<float> round_nearest(Vec<float> a) {
  return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
}
FASTNN_SIMD_INLINE Vec<double> round_nearest(Vec<double> a) {
  return {_mm512_roundscale_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
}
FASTNN_SIMD_INLINE Vec<double> widen_lo(Vec<float> a) { return {_mm512_cvtps_pd(_mm512_castps512_ps256(a.v))}; }
FASTNN_SIMD_INLINE Vec<double> widen_hi(Vec<float> a) {
  return {_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a.v), 1)))};
}
FASTNN_SIMD_INLINE Vec<float> narrow(Vec<double> lo, Vec<double> hi) {
  return {_mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo.v))),
                                              _mm256_castps_pd(_mm512_cvtpd_ps(hi.v)), 1))};
}

// ------------------------------------------------------------------------------- avx2
#elif defined(FASTNN_ISA_AVX2)

template <>
struct Vec<float> {
  static constexpr int W = 8;
  __m256 v;
};
template <>
struct Vec<double> {
  static constexpr int W = 4;
  __m256d v;
};
// A lane is selected when all its bits are set (the form AVX comparisons produce).
template <>
struct Mask<float> {
  __m256 m;
};
template <>
struct Mask<double> {
  __m256d m;
};

namespace detail {
// Lane i of the result is all ones when i < n.
FASTNN_SIMD_INLINE __m256i first_n_epi32(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
FASTNN_SIMD_INLINE __m256i first_n_epi64(int n) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}
}  // namespace detail

#define FASTNN_SIMD_FOR_PS_PD(X) \
  X(float, ps, epi32, si256)     \
  X(double, pd, epi64, si256)

#define FASTNN_SIMD_AVX2_OPS(T, S, I, R)                                                                         \
  FASTNN_SIMD_INLINE Vec<T> set1(T x, Vec<T>* = nullptr) { return {_mm256_set1_##S(x)}; }                        \
  FASTNN_SIMD_INLINE Vec<T> load(const T* p) { return {_mm256_loadu_##S(p)}; }                                   \
  FASTNN_SIMD_INLINE Vec<T> load_n(const T* p, int n) {                                                          \
    return {_mm256_maskload_##S(p, detail::first_n_##I(n))};                                                    \
  }                                                                                                              \
  FASTNN_SIMD_INLINE void store(T* p, Vec<T> a) { _mm256_storeu_##S(p, a.v); }                                   \
  FASTNN_SIMD_INLINE void store_n(T* p, Vec<T> a, int n) { _mm256_maskstore_##S(p, detail::first_n_##I(n), a.v); } \
  FASTNN_SIMD_INLINE Vec<T> operator+(Vec<T> a, Vec<T> b) { return {_mm256_add_##S(a.v, b.v)}; }                \
  FASTNN_SIMD_INLINE Vec<T> operator-(Vec<T> a, Vec<T> b) { return {_mm256_sub_##S(a.v, b.v)}; }                \
  FASTNN_SIMD_INLINE Vec<T> operator*(Vec<T> a, Vec<T> b) { return {_mm256_mul_##S(a.v, b.v)}; }                \
  FASTNN_SIMD_INLINE Vec<T> operator/(Vec<T> a, Vec<T> b) { return {_mm256_div_##S(a.v, b.v)}; }                \
  FASTNN_SIMD_INLINE Vec<T> fma(Vec<T> a, Vec<T> b, Vec<T> c) { return {_mm256_fmadd_##S(a.v, b.v, c.v)}; }      \
  FASTNN_SIMD_INLINE Vec<T> max(Vec<T> a, Vec<T> b) { return {_mm256_max_##S(a.v, b.v)}; }                      \
  FASTNN_SIMD_INLINE Vec<T> min(Vec<T> a, Vec<T> b) { return {_mm256_min_##S(a.v, b.v)}; }                      \
  FASTNN_SIMD_INLINE Vec<T> sqrt(Vec<T> a) { return {_mm256_sqrt_##S(a.v)}; }                                    \
  FASTNN_SIMD_INLINE Vec<T> abs(Vec<T> a) { return {_mm256_andnot_##S(_mm256_set1_##S(T(-0.0)), a.v)}; }        \
  FASTNN_SIMD_INLINE Mask<T> cmp_lt(Vec<T> a, Vec<T> b) { return {_mm256_cmp_##S(a.v, b.v, _CMP_LT_OQ)}; }       \
  FASTNN_SIMD_INLINE Mask<T> cmp_le(Vec<T> a, Vec<T> b) { return {_mm256_cmp_##S(a.v, b.v, _CMP_LE_OQ)}; }       \
  FASTNN_SIMD_INLINE Mask<T> cmp_gt(Vec<T> a, Vec<T> b) { return {_mm256_cmp_##S(a.v, b.v, _CMP_GT_OQ)}; }       \
  FASTNN_SIMD_INLINE Mask<T> cmp_ge(Vec<T> a, Vec<T> b) { return {_mm256_cmp_##S(a.v, b.v, _CMP_GE_OQ)}; }       \
  FASTNN_SIMD_INLINE Mask<T> cmp_eq(Vec<T> a, Vec<T> b) { return {_mm256_cmp_##S(a.v, b.v, _CMP_EQ_OQ)}; }       \
  FASTNN_SIMD_INLINE Mask<T> cmp_ne(Vec<T> a, Vec<T> b) { return {_mm256_cmp_##S(a.v, b.v, _CMP_NEQ_UQ)}; }      \
  FASTNN_SIMD_INLINE Mask<T> cmp_unord(Vec<T> a, Vec<T> b) { return {_mm256_cmp_##S(a.v, b.v, _CMP_UNORD_Q)}; }  \
  FASTNN_SIMD_INLINE Mask<T> operator|(Mask<T> a, Mask<T> b) { return {_mm256_or_##S(a.m, b.m)}; }              \
  FASTNN_SIMD_INLINE Mask<T> operator&(Mask<T> a, Mask<T> b) { return {_mm256_and_##S(a.m, b.m)}; }             \
  FASTNN_SIMD_INLINE Mask<T> operator~(Mask<T> a) {                                                             \
    return {_mm256_xor_##S(a.m, _mm256_castsi256_##S(_mm256_set1_epi32(-1)))};                                 \
  }                                                                                                              \
  FASTNN_SIMD_INLINE bool any(Mask<T> a) { return _mm256_movemask_##S(a.m) != 0; }                              \
  FASTNN_SIMD_INLINE bool all(Mask<T> a) { return _mm256_movemask_##S(a.m) == (1 << Vec<T>::W) - 1; }           \
  FASTNN_SIMD_INLINE Vec<T> select(Mask<T> m, Vec<T> a, Vec<T> b) { return {_mm256_blendv_##S(b.v, a.v, m.m)}; } \
  FASTNN_SIMD_INLINE T reduce_add(Vec<T> a) {                                                                    \
    alignas(32) T t[Vec<T>::W];                                                                                  \
    _mm256_store_##S(t, a.v);                                                                                    \
    T s = t[0];                                                                                                  \
    for (int i = 1; i < Vec<T>::W; ++i) s += t[i];                                                               \
    return s;                                                                                                    \
  }                                                                                                              \
  FASTNN_SIMD_INLINE T reduce_max(Vec<T> a) {                                                                    \
    alignas(32) T t[Vec<T>::W];                                                                                  \
    _mm256_store_##S(t, a.v);                                                                                    \
    T s = t[0];                                                                                                  \
    for (int i = 1; i < Vec<T>::W; ++i) s = t[i] > s ? t[i] : s;                                                 \
    return s;                                                                                                    \
  }                                                                                                              \
  FASTNN_SIMD_INLINE T reduce_min(Vec<T> a) {                                                                    \
    alignas(32) T t[Vec<T>::W];                                                                                  \
    _mm256_store_##S(t, a.v);                                                                                    \
    T s = t[0];                                                                                                  \
    for (int i = 1; i < Vec<T>::W; ++i) s = t[i] < s ? t[i] : s;                                                 \
    return s;                                                                                                    \
  }

FASTNN_SIMD_FOR_PS_PD(FASTNN_SIMD_AVX2_OPS)
#undef FASTNN_SIMD_AVX2_OPS
#undef FASTNN_SIMD_FOR_PS_PD

FASTNN_SIMD_INLINE Vec<float> round_nearest(Vec<float> a) {
  return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
}
FASTNN_SIMD_INLINE Vec<double> round_nearest(Vec<double> a) {
  return {_mm256_round_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
}
FASTNN_SIMD_INLINE Vec<double> widen_lo(Vec<float> a) { return {_mm256_cvtps_pd(_mm256_castps256_ps128(a.v))}; }
FASTNN_SIMD_INLINE Vec<double> widen_hi(Vec<float> a) { return {_mm256_cvtps_pd(_mm256_extractf128_ps(a.v, 1))}; }
FASTNN_SIMD_INLINE Vec<float> narrow(Vec<double> lo, Vec<double> hi) {
  return {_mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo.v)), _mm256_cvtpd_ps(hi.v), 1)};
}

// ------------------------------------------------------------------------------- portable
#else

// GCC/Clang vector extensions: 16 bytes, compiled for whatever the baseline target offers
// (SSE2 on x86-64, NEON on aarch64, scalar code elsewhere).
template <>
struct Vec<float> {
  static constexpr int W = 4;
  typedef float reg __attribute__((vector_size(16)));
  reg v;
};
template <>
struct Vec<double> {
  static constexpr int W = 2;
  typedef double reg __attribute__((vector_size(16)));
  reg v;
};
template <>
struct Mask<float> {
  typedef int32_t reg __attribute__((vector_size(16)));
  reg m;  // lanes are 0 or -1
};
template <>
struct Mask<double> {
  typedef int64_t reg __attribute__((vector_size(16)));
  reg m;
};

#define FASTNN_SIMD_PORTABLE_OPS(T)                                                                      \
  FASTNN_SIMD_INLINE Vec<T> set1(T x, Vec<T>* = nullptr) {                                               \
    Vec<T> r;                                                                                            \
    for (int i = 0; i < Vec<T>::W; ++i) r.v[i] = x;                                                      \
    return r;                                                                                            \
  }                                                                                                      \
  FASTNN_SIMD_INLINE Vec<T> load(const T* p) {                                                           \
    Vec<T> r;                                                                                            \
    std::memcpy(&r.v, p, sizeof(r.v));                                                                   \
    return r;                                                                                            \
  }                                                                                                      \
  FASTNN_SIMD_INLINE Vec<T> load_n(const T* p, int n) {                                                  \
    Vec<T> r = set1(T(0), (Vec<T>*)nullptr);                                                             \
    for (int i = 0; i < n; ++i) r.v[i] = p[i];                                                           \
    return r;                                                                                            \
  }                                                                                                      \
  FASTNN_SIMD_INLINE void store(T* p, Vec<T> a) { std::memcpy(p, &a.v, sizeof(a.v)); }                   \
  FASTNN_SIMD_INLINE void store_n(T* p, Vec<T> a, int n) {                                               \
    for (int i = 0; i < n; ++i) p[i] = a.v[i];                                                           \
  }                                                                                                      \
  FASTNN_SIMD_INLINE Vec<T> operator+(Vec<T> a, Vec<T> b) { return {a.v + b.v}; }                        \
  FASTNN_SIMD_INLINE Vec<T> operator-(Vec<T> a, Vec<T> b) { return {a.v - b.v}; }                        \
  FASTNN_SIMD_INLINE Vec<T> operator*(Vec<T> a, Vec<T> b) { return {a.v * b.v}; }                        \
  FASTNN_SIMD_INLINE Vec<T> operator/(Vec<T> a, Vec<T> b) { return {a.v / b.v}; }                        \
  FASTNN_SIMD_INLINE Vec<T> fma(Vec<T> a, Vec<T> b, Vec<T> c) { return {a.v * b.v + c.v}; }              \
  FASTNN_SIMD_INLINE Vec<T> max(Vec<T> a, Vec<T> b) { return {a.v > b.v ? a.v : b.v}; }                  \
  FASTNN_SIMD_INLINE Vec<T> min(Vec<T> a, Vec<T> b) { return {a.v < b.v ? a.v : b.v}; }                  \
  FASTNN_SIMD_INLINE Vec<T> sqrt(Vec<T> a) {                                                             \
    for (int i = 0; i < Vec<T>::W; ++i) a.v[i] = __builtin_sqrt(a.v[i]);                                 \
    return a;                                                                                            \
  }                                                                                                      \
  FASTNN_SIMD_INLINE Vec<T> abs(Vec<T> a) { return {a.v < T(0) ? -a.v : a.v}; }                          \
  FASTNN_SIMD_INLINE Mask<T> cmp_lt(Vec<T> a, Vec<T> b) { return {a.v < b.v}; }                          \
  FASTNN_SIMD_INLINE Mask<T> cmp_le(Vec<T> a, Vec<T> b) { return {a.v <= b.v}; }                         \
  FASTNN_SIMD_INLINE Mask<T> cmp_gt(Vec<T> a, Vec<T> b) { return {a.v > b.v}; }                          \
  FASTNN_SIMD_INLINE Mask<T> cmp_ge(Vec<T> a, Vec<T> b) { return {a.v >= b.v}; }                         \
  FASTNN_SIMD_INLINE Mask<T> cmp_eq(Vec<T> a, Vec<T> b) { return {a.v == b.v}; }                         \
  FASTNN_SIMD_INLINE Mask<T> cmp_ne(Vec<T> a, Vec<T> b) { return {a.v != b.v}; }                         \
  FASTNN_SIMD_INLINE Mask<T> cmp_unord(Vec<T> a, Vec<T> b) { return {(a.v != a.v) | (b.v != b.v)}; }     \
  FASTNN_SIMD_INLINE Mask<T> operator|(Mask<T> a, Mask<T> b) { return {a.m | b.m}; }                     \
  FASTNN_SIMD_INLINE Mask<T> operator&(Mask<T> a, Mask<T> b) { return {a.m & b.m}; }                     \
  FASTNN_SIMD_INLINE Mask<T> operator~(Mask<T> a) { return {~a.m}; }                                     \
  FASTNN_SIMD_INLINE bool any(Mask<T> a) {                                                               \
    for (int i = 0; i < Vec<T>::W; ++i)                                                                  \
      if (a.m[i]) return true;                                                                           \
    return false;                                                                                        \
  }                                                                                                      \
  FASTNN_SIMD_INLINE bool all(Mask<T> a) {                                                               \
    for (int i = 0; i < Vec<T>::W; ++i)                                                                  \
      if (!a.m[i]) return false;                                                                         \
    return true;                                                                                         \
  }                                                                                                      \
  FASTNN_SIMD_INLINE Vec<T> select(Mask<T> m, Vec<T> a, Vec<T> b) { return {m.m ? a.v : b.v}; }          \
  FASTNN_SIMD_INLINE T reduce_add(Vec<T> a) {                                                            \
    T s = a.v[0];                                                                                        \
    for (int i = 1; i < Vec<T>::W; ++i) s += a.v[i];                                                     \
    return s;                                                                                            \
  }                                                                                                      \
  FASTNN_SIMD_INLINE T reduce_max(Vec<T> a) {                                                            \
    T s = a.v[0];                                                                                        \
    for (int i = 1; i < Vec<T>::W; ++i) s = a.v[i] > s ? a.v[i] : s;                                     \
    return s;                                                                                            \
  }                                                                                                      \
  FASTNN_SIMD_INLINE T reduce_min(Vec<T> a) {                                                            \
    T s = a.v[0];                                                                                        \
    for (int i = 1; i < Vec<T>::W; ++i) s = a.v[i] < s ? a.v[i] : s;                                     \
    return s;                                                                                            \
  }

FASTNN_SIMD_PORTABLE_OPS(float)
FASTNN_SIMD_PORTABLE_OPS(double)
#undef FASTNN_SIMD_PORTABLE_OPS

// Rounding by adding and subtracting 2^(mantissa bits): the baseline ISA (SSE2) has no round
// instruction. Values that large are integers already; the sign is put back so -0.3 gives -0.
#define FASTNN_SIMD_PORTABLE_ROUND(T, I, BIG)                                  \
  FASTNN_SIMD_INLINE Vec<T> round_nearest(Vec<T> a) {                          \
    typedef I ireg __attribute__((vector_size(16)));                          \
    const ireg sign = (ireg)a.v & (ireg{} + (I)((uint64_t)1 << (8 * sizeof(I) - 1))); \
    const typename Vec<T>::reg t = (typename Vec<T>::reg)((ireg)a.v ^ sign);   \
    typename Vec<T>::reg r = (t + BIG) - BIG;                                  \
    r = t < BIG ? r : t;                                                       \
    return {(typename Vec<T>::reg)((ireg)r | sign)};                           \
  }
FASTNN_SIMD_PORTABLE_ROUND(float, int32_t, 8388608.0f)
FASTNN_SIMD_PORTABLE_ROUND(double, int64_t, 4503599627370496.0)
#undef FASTNN_SIMD_PORTABLE_ROUND

FASTNN_SIMD_INLINE Vec<double> widen_lo(Vec<float> a) {
  Vec<double> r;
  r.v[0] = a.v[0];
  r.v[1] = a.v[1];
  return r;
}
FASTNN_SIMD_INLINE Vec<double> widen_hi(Vec<float> a) {
  Vec<double> r;
  r.v[0] = a.v[2];
  r.v[1] = a.v[3];
  return r;
}
FASTNN_SIMD_INLINE Vec<float> narrow(Vec<double> lo, Vec<double> hi) {
  Vec<float> r;
  r.v[0] = float(lo.v[0]);
  r.v[1] = float(lo.v[1]);
  r.v[2] = float(hi.v[0]);
  r.v[3] = float(hi.v[1]);
  return r;
}

#endif

// Also on every path (defined in each section above):
//   round_nearest(a)          to the nearest integer, ties to even (as float)
//   widen_lo(f), widen_hi(f)  the low / high half of a float vector as doubles
//   narrow(lo, hi)            two double vectors rounded into one float vector

// ------------------------------------------------------------------------------- every path
// set1<T>(x): a vector of x in every lane; zero<T>(): all zeros; bcast(p): *p in every lane.
template <typename T>
FASTNN_SIMD_INLINE Vec<T> set1(T x) {
  return set1(x, (Vec<T>*)nullptr);
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T> zero() {
  return set1<T>(T(0));
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T> bcast(const T* p) {
  return set1<T>(*p);
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T> operator-(Vec<T> a) {
  return zero<T>() - a;
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T>& operator+=(Vec<T>& a, Vec<T> b) {
  return a = a + b;
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T>& operator-=(Vec<T>& a, Vec<T> b) {
  return a = a - b;
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T>& operator*=(Vec<T>& a, Vec<T> b) {
  return a = a * b;
}
// Lanes where a is NaN.
template <typename T>
FASTNN_SIMD_INLINE Mask<T> is_nan(Vec<T> a) {
  return cmp_unord(a, a);
}

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
