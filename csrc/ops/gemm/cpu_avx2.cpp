// AVX2+FMA GEMM kernels: 6 x 16 (float) and 6 x 8 (double) micro-tiles, twelve ymm
// accumulators, two B vectors and one broadcast A value per step: 15 of 16 registers.
// Reached only through fastnn::cpu_path_avx2(), so the library still loads on any x86-64.
#include "core/cpu_features.h"
#include "ops/gemm/cpu_kernel.h"

#if FASTNN_HAVE_X86
#include <immintrin.h>
#endif

namespace fastnn {
namespace gemm_detail {

#if FASTNN_HAVE_X86
namespace {

#define FASTNN_AVX2_INLINE FASTNN_TARGET_AVX2 inline __attribute__((always_inline))

template <typename T>
struct Avx;
template <>
struct Avx<float> {
  using V = __m256;
  static constexpr int W = 8;
};
template <>
struct Avx<double> {
  using V = __m256d;
  static constexpr int W = 4;
};

FASTNN_AVX2_INLINE __m256 vload(const float* p) { return _mm256_load_ps(p); }
FASTNN_AVX2_INLINE __m256d vload(const double* p) { return _mm256_load_pd(p); }
FASTNN_AVX2_INLINE __m256 vloadu(const float* p) { return _mm256_loadu_ps(p); }
FASTNN_AVX2_INLINE __m256d vloadu(const double* p) { return _mm256_loadu_pd(p); }
FASTNN_AVX2_INLINE void vstoreu(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
FASTNN_AVX2_INLINE void vstoreu(double* p, __m256d v) { _mm256_storeu_pd(p, v); }
FASTNN_AVX2_INLINE void vstore(float* p, __m256 v) { _mm256_store_ps(p, v); }
FASTNN_AVX2_INLINE void vstore(double* p, __m256d v) { _mm256_store_pd(p, v); }
FASTNN_AVX2_INLINE __m256 vbcast(const float* p) { return _mm256_broadcast_ss(p); }
FASTNN_AVX2_INLINE __m256d vbcast(const double* p) { return _mm256_broadcast_sd(p); }
FASTNN_AVX2_INLINE __m256 vset1(float x) { return _mm256_set1_ps(x); }
FASTNN_AVX2_INLINE __m256d vset1(double x) { return _mm256_set1_pd(x); }
FASTNN_AVX2_INLINE __m256 vfma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
FASTNN_AVX2_INLINE __m256d vfma(__m256d a, __m256d b, __m256d c) { return _mm256_fmadd_pd(a, b, c); }
FASTNN_AVX2_INLINE __m256 vmul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
FASTNN_AVX2_INLINE __m256d vmul(__m256d a, __m256d b) { return _mm256_mul_pd(a, b); }

constexpr int MR = 6;

// R rows (1..6) by NV vectors (1..2) of C: edge tiles run a smaller kernel instead of
// multiplying zero padding, which matters for shapes like M = 128 (21 full strips + 2 rows).
template <typename T, int R, int NV>
FASTNN_AVX2_INLINE void ukr_body(int64_t kc, const T* __restrict Ap, const T* __restrict Bp, T* C, int64_t rs,
                                 int64_t cs, T alpha, T beta, int m, int n) {
  using V = typename Avx<T>::V;
  constexpr int W = Avx<T>::W, NR = 2 * W;
  for (int i = 0; i < R; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * rs), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * rs + (n - 1) * cs), _MM_HINT_T0);
  }
  // Named accumulators, not an array: GCC keeps arrays of vectors on the stack inside the loop.
  const V z = vset1(T(0));
  V c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
#define FASTNN_GEMM_ROW(i, ci0, ci1)             \
  if constexpr (R > i) {                         \
    const V a = vbcast(Ap + i);                  \
    ci0 = vfma(a, b0, ci0);                      \
    if constexpr (NV == 2) ci1 = vfma(a, b1, ci1); \
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    // A strips stream from L2; fetching 16 steps ahead measured about 1% faster.
    _mm_prefetch(reinterpret_cast<const char*>(Ap + 96), _MM_HINT_T0);
    const V b0 = vload(Bp);
    const V b1 = NV == 2 ? vload(Bp + W) : b0;
    FASTNN_GEMM_ROW(0, c00, c01)
    FASTNN_GEMM_ROW(1, c10, c11)
    FASTNN_GEMM_ROW(2, c20, c21)
    FASTNN_GEMM_ROW(3, c30, c31)
    FASTNN_GEMM_ROW(4, c40, c41)
    FASTNN_GEMM_ROW(5, c50, c51)
    Ap += MR;
    Bp += NR;
  }
#undef FASTNN_GEMM_ROW
  V c[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  const V va = vset1(alpha);
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < NV; ++v) c[i][v] = vmul(c[i][v], va);
  if (n == NV * W && cs == 1) {
    if (beta == T(0)) {
      for (int i = 0; i < R; ++i)
        for (int v = 0; v < NV; ++v) vstoreu(C + i * rs + v * W, c[i][v]);
    } else {
      const V vb = vset1(beta);
      for (int i = 0; i < R; ++i)
        for (int v = 0; v < NV; ++v) {
          T* p = C + i * rs + v * W;
          vstoreu(p, vfma(vloadu(p), vb, c[i][v]));
        }
    }
    return;
  }
  alignas(32) T tile[R * NV * W];
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < NV; ++v) vstore(tile + (i * NV + v) * W, c[i][v]);
  store_tile(tile, NV * W, C, rs, cs, beta, m, n);
}

template <typename T, int NV>
FASTNN_TARGET_AVX2 void ukr_rows(int64_t kc, const T* Ap, const T* Bp, T* C, int64_t rs, int64_t cs, T alpha, T beta,
                                 int m, int n) {
  switch (m) {
    case 6: return ukr_body<T, 6, NV>(kc, Ap, Bp, C, rs, cs, alpha, beta, m, n);
    case 5: return ukr_body<T, 5, NV>(kc, Ap, Bp, C, rs, cs, alpha, beta, m, n);
    case 4: return ukr_body<T, 4, NV>(kc, Ap, Bp, C, rs, cs, alpha, beta, m, n);
    case 3: return ukr_body<T, 3, NV>(kc, Ap, Bp, C, rs, cs, alpha, beta, m, n);
    case 2: return ukr_body<T, 2, NV>(kc, Ap, Bp, C, rs, cs, alpha, beta, m, n);
    default: return ukr_body<T, 1, NV>(kc, Ap, Bp, C, rs, cs, alpha, beta, m, n);
  }
}

template <typename T>
FASTNN_TARGET_AVX2 void ukr_avx2(int64_t kc, const T* Ap, const T* Bp, T* C, int64_t rs, int64_t cs, T alpha, T beta,
                                 int m, int n) {
  if (n > Avx<T>::W) ukr_rows<T, 2>(kc, Ap, Bp, C, rs, cs, alpha, beta, m, n);
  else ukr_rows<T, 1>(kc, Ap, Bp, C, rs, cs, alpha, beta, m, n);
}

template <typename T>
FASTNN_TARGET_AVX2 void pack_a_avx2(int64_t mc, int64_t kc, const T* A, int64_t sm, int64_t sk, T* dst) {
  pack_a_generic<T, MR>(mc, kc, A, sm, sk, dst);
}

// Row-major A (unit stride along k) is the common case and the generic loop packs it one
// scalar at a time; here eight k at a time go through an 8 x 8 register transpose (rows 6
// and 7 are don't-care) and are written as eight overlapping 8-wide stores of 6 values.
template <>
FASTNN_TARGET_AVX2 void pack_a_avx2<float>(int64_t mc, int64_t kc, const float* A, int64_t sm, int64_t sk,
                                           float* dst) {
  if (sk != 1 || kc < 9) {
    pack_a_generic<float, MR>(mc, kc, A, sm, sk, dst);
    return;
  }
  int64_t i0 = 0;
  for (; i0 + MR <= mc; i0 += MR, dst += MR * kc) {
    const float* r0 = A + i0 * sm;
    const float *r1 = r0 + sm, *r2 = r1 + sm, *r3 = r2 + sm, *r4 = r3 + sm, *r5 = r4 + sm;
    float* d = dst;
    int64_t k = 0;
    // Each group's last store spills two floats past it; stop while a later write covers them.
    for (; k + 8 < kc; k += 8, d += 8 * MR) {
      const __m256 a0 = _mm256_loadu_ps(r0 + k), a1 = _mm256_loadu_ps(r1 + k), a2 = _mm256_loadu_ps(r2 + k);
      const __m256 a3 = _mm256_loadu_ps(r3 + k), a4 = _mm256_loadu_ps(r4 + k), a5 = _mm256_loadu_ps(r5 + k);
      const __m256 z = _mm256_setzero_ps();
      const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
      const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
      const __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
      const __m256 t6 = _mm256_unpacklo_ps(z, z), t7 = t6;
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      // Column k+j of the 6 rows: low half of u*, then 2 values from the matching u4..u7.
      _mm256_storeu_ps(d + 0 * MR, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(d + 1 * MR, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(d + 2 * MR, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(d + 3 * MR, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(d + 4 * MR, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(d + 5 * MR, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(d + 6 * MR, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(d + 7 * MR, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    for (; k < kc; ++k, d += MR) {
      d[0] = r0[k];
      d[1] = r1[k];
      d[2] = r2[k];
      d[3] = r3[k];
      d[4] = r4[k];
      d[5] = r5[k];
    }
  }
  if (i0 < mc) pack_a_generic<float, MR>(mc - i0, kc, A + i0 * sm, sm, sk, dst);
}

// The same for double: four k at a time, a 4 x 4 transpose for rows 0-3 and pairs for rows 4-5.
template <>
FASTNN_TARGET_AVX2 void pack_a_avx2<double>(int64_t mc, int64_t kc, const double* A, int64_t sm, int64_t sk,
                                            double* dst) {
  if (sk != 1) {
    pack_a_generic<double, MR>(mc, kc, A, sm, sk, dst);
    return;
  }
  int64_t i0 = 0;
  for (; i0 + MR <= mc; i0 += MR, dst += MR * kc) {
    const double* r0 = A + i0 * sm;
    const double *r1 = r0 + sm, *r2 = r1 + sm, *r3 = r2 + sm, *r4 = r3 + sm, *r5 = r4 + sm;
    double* d = dst;
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4, d += 4 * MR) {
      const __m256d a0 = _mm256_loadu_pd(r0 + k), a1 = _mm256_loadu_pd(r1 + k);
      const __m256d a2 = _mm256_loadu_pd(r2 + k), a3 = _mm256_loadu_pd(r3 + k);
      const __m256d a4 = _mm256_loadu_pd(r4 + k), a5 = _mm256_loadu_pd(r5 + k);
      const __m256d t0 = _mm256_unpacklo_pd(a0, a1), t1 = _mm256_unpackhi_pd(a0, a1);
      const __m256d t2 = _mm256_unpacklo_pd(a2, a3), t3 = _mm256_unpackhi_pd(a2, a3);
      const __m256d u0 = _mm256_unpacklo_pd(a4, a5), u1 = _mm256_unpackhi_pd(a4, a5);
      _mm256_storeu_pd(d + 0 * MR, _mm256_permute2f128_pd(t0, t2, 0x20));
      _mm256_storeu_pd(d + 1 * MR, _mm256_permute2f128_pd(t1, t3, 0x20));
      _mm256_storeu_pd(d + 2 * MR, _mm256_permute2f128_pd(t0, t2, 0x31));
      _mm256_storeu_pd(d + 3 * MR, _mm256_permute2f128_pd(t1, t3, 0x31));
      _mm_storeu_pd(d + 0 * MR + 4, _mm256_castpd256_pd128(u0));
      _mm_storeu_pd(d + 1 * MR + 4, _mm256_castpd256_pd128(u1));
      _mm_storeu_pd(d + 2 * MR + 4, _mm256_extractf128_pd(u0, 1));
      _mm_storeu_pd(d + 3 * MR + 4, _mm256_extractf128_pd(u1, 1));
    }
    for (; k < kc; ++k, d += MR) {
      d[0] = r0[k];
      d[1] = r1[k];
      d[2] = r2[k];
      d[3] = r3[k];
      d[4] = r4[k];
      d[5] = r5[k];
    }
  }
  if (i0 < mc) pack_a_generic<double, MR>(mc - i0, kc, A + i0 * sm, sm, sk, dst);
}

template <typename T>
FASTNN_TARGET_AVX2 void pack_b_avx2(int64_t kc, int64_t nc, const T* B, int64_t sk, int64_t sn, T* dst) {
  pack_b_generic<T, 2 * Avx<T>::W>(kc, nc, B, sk, sn, dst);
}

// r[j] = element j of each of the eight inputs.
FASTNN_AVX2_INLINE void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// B stored transposed (unit stride along k, as in x @ W.T): each group of eight k of a
// 16-column strip is two 8 x 8 register transposes instead of 128 scalar copies.
template <>
FASTNN_TARGET_AVX2 void pack_b_avx2<float>(int64_t kc, int64_t nc, const float* B, int64_t sk, int64_t sn,
                                           float* dst) {
  constexpr int NR = 16;
  if (sk != 1 || sn == 1) {
    pack_b_generic<float, NR>(kc, nc, B, sk, sn, dst);
    return;
  }
  int64_t j0 = 0;
  for (; j0 + NR <= nc; j0 += NR, dst += NR * kc) {
    const float* b = B + j0 * sn;
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      for (int h = 0; h < 2; ++h) {
        __m256 r[8];
        for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(b + (h * 8 + j) * sn + k);
        transpose8(r);
        for (int kk = 0; kk < 8; ++kk) _mm256_storeu_ps(dst + (k + kk) * NR + h * 8, r[kk]);
      }
    }
    for (; k < kc; ++k)
      for (int j = 0; j < NR; ++j) dst[k * NR + j] = b[j * sn + k];
  }
  if (j0 < nc) pack_b_generic<float, NR>(kc, nc - j0, B + j0 * sn, sk, sn, dst);
}

}  // namespace

// Block sizes for AMD Zen 3 (32 KiB L1d, 512 KiB L2 per core), chosen by measurement. float:
// the kc x nr strip of B (32 KiB at kc = 512) is reused from L1 across the row strips of A,
// the mc x kc block of A (288 KiB) stays in L2, and the kc x nc panel of B lives in the shared
// L3; the long kc amortises loading and storing the C tile. double: half the depth, so the
// 8-wide B strip (16 KiB) leaves room in L1 for the A strip.
const Kernel<float>& kernel_avx2_f32() {
  static const Kernel<float> k{"avx2 6x16", MR, 16, 144, 512, 4080, &pack_a_avx2<float>, &pack_b_avx2<float>,
                               &ukr_avx2<float>};
  return k;
}

const Kernel<double>& kernel_avx2_f64() {
  static const Kernel<double> k{"avx2 6x8", MR, 8, 72, 256, 4080, &pack_a_avx2<double>, &pack_b_avx2<double>,
                                &ukr_avx2<double>};
  return k;
}

#else
const Kernel<float>& kernel_avx2_f32() { return kernel_portable_f32(); }
const Kernel<double>& kernel_avx2_f64() { return kernel_portable_f64(); }
#endif

}  // namespace gemm_detail
}  // namespace fastnn
