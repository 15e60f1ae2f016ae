// Portable GEMM kernels in plain C++: fixed-size loops the compiler unrolls and vectorises
// with the baseline ISA (SSE2 on x86-64). Used on CPUs without AVX2/FMA and when
// FASTNN_CPU_PATH=portable.
#include "ops/gemm/cpu_kernel.h"

namespace fastnn {
namespace gemm_detail {
namespace {

// 4 x 8 float (8 xmm accumulators) and 4 x 4 double (8 xmm accumulators).
template <typename T, int MR, int NR>
void ukr_portable(int64_t kc, const T* __restrict Ap, const T* __restrict Bp, T* C, int64_t rs, int64_t cs,
                  T alpha, T beta, int m, int n) {
  T acc[MR * NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += Ap[i] * Bp[j];
    Ap += MR;
    Bp += NR;
  }
  for (int i = 0; i < MR * NR; ++i) acc[i] *= alpha;
  store_tile(acc, NR, C, rs, cs, beta, m, n);
}

template <typename T, int MR>
void pack_a_portable(int64_t mc, int64_t kc, const T* A, int64_t sm, int64_t sk, T* dst) {
  pack_a_generic<T, MR>(mc, kc, A, sm, sk, dst);
}

template <typename T, int NR>
void pack_b_portable(int64_t kc, int64_t nc, const T* B, int64_t sk, int64_t sn, T* dst) {
  pack_b_generic<T, NR>(kc, nc, B, sk, sn, dst);
}

}  // namespace

const Kernel<float>& kernel_portable_f32() {
  static const Kernel<float> k{"portable 4x8", 4, 8, 128, 256, 4096, &pack_a_portable<float, 4>,
                               &pack_b_portable<float, 8>, &ukr_portable<float, 4, 8>};
  return k;
}

const Kernel<double>& kernel_portable_f64() {
  static const Kernel<double> k{"portable 4x4", 4, 4, 96, 256, 4096, &pack_a_portable<double, 4>,
                                &pack_b_portable<double, 4>, &ukr_portable<double, 4, 4>};
  return k;
}

}  // namespace gemm_detail
}  // namespace fastnn
