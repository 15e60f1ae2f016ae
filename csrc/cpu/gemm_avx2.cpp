// AVX2+FMA GEMM kernels: 6 x 16 (float) and 6 x 8 (double) micro-tiles, twelve ymm
// accumulators, two B vectors and one broadcast A value per step: 15 of 16 registers.
// Reached only through fastnn::cpu_path_avx2(), so the library still loads on any x86-64.
#include "cpu/cpu_features.h"
#include "cpu/gemm_kernel.h"

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

template <typename T>
FASTNN_TARGET_AVX2 void ukr_6x2w(int64_t kc, const T* __restrict Ap, const T* __restrict Bp, T* C, int64_t rs,
                                 int64_t cs, T alpha, T beta, int m, int n) {
  using V = typename Avx<T>::V;
  constexpr int W = Avx<T>::W, NR = 2 * W;
  for (int i = 0; i < m; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * rs), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * rs + (n - 1) * cs), _MM_HINT_T0);
  }
  V c00 = vset1(T(0)), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  V c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const V b0 = vload(Bp), b1 = vload(Bp + W);
    V a = vbcast(Ap + 0);
    c00 = vfma(a, b0, c00);
    c01 = vfma(a, b1, c01);
    a = vbcast(Ap + 1);
    c10 = vfma(a, b0, c10);
    c11 = vfma(a, b1, c11);
    a = vbcast(Ap + 2);
    c20 = vfma(a, b0, c20);
    c21 = vfma(a, b1, c21);
    a = vbcast(Ap + 3);
    c30 = vfma(a, b0, c30);
    c31 = vfma(a, b1, c31);
    a = vbcast(Ap + 4);
    c40 = vfma(a, b0, c40);
    c41 = vfma(a, b1, c41);
    a = vbcast(Ap + 5);
    c50 = vfma(a, b0, c50);
    c51 = vfma(a, b1, c51);
    Ap += MR;
    Bp += NR;
  }
  const V va = vset1(alpha);
  V acc[MR][2] = {{vmul(c00, va), vmul(c01, va)}, {vmul(c10, va), vmul(c11, va)},
                  {vmul(c20, va), vmul(c21, va)}, {vmul(c30, va), vmul(c31, va)},
                  {vmul(c40, va), vmul(c41, va)}, {vmul(c50, va), vmul(c51, va)}};
  if (m == MR && n == NR && cs == 1) {
    if (beta == T(0)) {
      for (int i = 0; i < MR; ++i) {
        vstoreu(C + i * rs, acc[i][0]);
        vstoreu(C + i * rs + W, acc[i][1]);
      }
    } else {
      const V vb = vset1(beta);
      for (int i = 0; i < MR; ++i) {
        T* c = C + i * rs;
        vstoreu(c, vfma(vloadu(c), vb, acc[i][0]));
        vstoreu(c + W, vfma(vloadu(c + W), vb, acc[i][1]));
      }
    }
    return;
  }
  alignas(32) T tile[MR * NR];
  for (int i = 0; i < MR; ++i) {
    vstore(tile + i * NR, acc[i][0]);
    vstore(tile + i * NR + W, acc[i][1]);
  }
  store_tile(tile, NR, C, rs, cs, beta, m, n);
}

template <typename T>
FASTNN_TARGET_AVX2 void pack_a_avx2(int64_t mc, int64_t kc, const T* A, int64_t sm, int64_t sk, T* dst) {
  pack_a_generic<T, MR>(mc, kc, A, sm, sk, dst);
}

template <typename T>
FASTNN_TARGET_AVX2 void pack_b_avx2(int64_t kc, int64_t nc, const T* B, int64_t sk, int64_t sn, T* dst) {
  pack_b_generic<T, 2 * Avx<T>::W>(kc, nc, B, sk, sn, dst);
}

}  // namespace

// Block sizes for AMD Zen 3 (32 KiB L1d, 512 KiB L2 per core): the kc x nr strip of B
// (16 KiB) stays in L1 while strips of A stream from L2, the mc x kc block of A uses about
// a third of L2, and the kc x nc panel of B lives in the shared L3.
const Kernel<float>& kernel_avx2_f32() {
  static const Kernel<float> k{"avx2 6x16", MR, 16, 144, 256, 4080, &pack_a_avx2<float>, &pack_b_avx2<float>,
                               &ukr_6x2w<float>};
  return k;
}

const Kernel<double>& kernel_avx2_f64() {
  static const Kernel<double> k{"avx2 6x8", MR, 8, 72, 256, 4080, &pack_a_avx2<double>, &pack_b_avx2<double>,
                                &ukr_6x2w<double>};
  return k;
}

#else
const Kernel<float>& kernel_avx2_f32() { return kernel_portable_f32(); }
const Kernel<double>& kernel_avx2_f64() { return kernel_portable_f64(); }
#endif

}  // namespace gemm_detail
}  // namespace fastnn
