// Internal interface between the GEMM driver (gemm.cpp) and its per-ISA kernels:
// packing routines and a register-blocked micro-kernel, with the block sizes they were tuned for.
#pragma once
#include <algorithm>
#include <cstdint>

namespace fastnn {
namespace gemm_detail {

template <typename T>
struct Kernel {
  const char* name;
  int mr, nr;      // micro-tile of C held in registers
  int mc, kc, nc;  // cache blocks: A block mc x kc (L2), B panel kc x nc (L3), B strip kc x nr (L1)
  // Packs an mc x kc block of A (element strides sm, sk) into ceil(mc/mr) strips of mr x kc,
  // k-major within a strip, zero-padding the last strip.
  void (*pack_a)(int64_t mc, int64_t kc, const T* A, int64_t sm, int64_t sk, T* dst);
  // Packs a kc x nc block of B (element strides sk, sn) into ceil(nc/nr) strips of kc x nr,
  // zero-padding the last strip.
  void (*pack_b)(int64_t kc, int64_t nc, const T* B, int64_t sk, int64_t sn, T* dst);
  // C[0:m, 0:n] = alpha * Ap @ Bp + beta * C (C not read when beta == 0), C with row/column
  // strides rs, cs; m <= mr and n <= nr, Ap and Bp are one packed strip each.
  void (*ukr)(int64_t kc, const T* Ap, const T* Bp, T* C, int64_t rs, int64_t cs, T alpha, T beta, int m, int n);
};

const Kernel<float>& kernel_avx2_f32();
const Kernel<double>& kernel_avx2_f64();
const Kernel<float>& kernel_portable_f32();
const Kernel<double>& kernel_portable_f64();

// Packing loops shared by the kernels. Internal linkage and forced inlining: each kernel file
// inlines them into its own functions, so they are compiled for that file's ISA and an AVX2
// copy can never be picked by the linker for the portable path.
namespace {

#define FASTNN_GEMM_INLINE inline __attribute__((always_inline))

template <typename T, int MR>
FASTNN_GEMM_INLINE void pack_a_generic(int64_t mc, int64_t kc, const T* A, int64_t sm, int64_t sk, T* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int64_t mr = std::min<int64_t>(MR, mc - i0);
    const T* a = A + i0 * sm;
    if (mr == MR && sm == 1) {
      for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < MR; ++i) dst[k * MR + i] = a[k * sk + i];
    } else if (mr == MR && sk == 1) {
      // Row-major A: read each row contiguously, write with stride MR.
      for (int i = 0; i < MR; ++i) {
        const T* r = a + i * sm;
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = r[k];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        int i = 0;
        for (; i < mr; ++i) dst[k * MR + i] = a[i * sm + k * sk];
        for (; i < MR; ++i) dst[k * MR + i] = T(0);
      }
    }
  }
}

template <typename T, int NR>
FASTNN_GEMM_INLINE void pack_b_generic(int64_t kc, int64_t nc, const T* B, int64_t sk, int64_t sn, T* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int64_t nr = std::min<int64_t>(NR, nc - j0);
    const T* b = B + j0 * sn;
    if (nr == NR && sn == 1) {
      for (int64_t k = 0; k < kc; ++k)
        for (int j = 0; j < NR; ++j) dst[k * NR + j] = b[k * sk + j];
    } else if (nr == NR && sk == 1) {
      for (int j = 0; j < NR; ++j) {
        const T* c = b + j * sn;
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = c[k];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        int j = 0;
        for (; j < nr; ++j) dst[k * NR + j] = b[j * sn + k * sk];
        for (; j < NR; ++j) dst[k * NR + j] = T(0);
      }
    }
  }
}

// Writes an mr x nr tile computed into `acc` (already scaled by alpha) to C for the partial
// or strided cases the vector store path does not cover.
template <typename T>
FASTNN_GEMM_INLINE void store_tile(const T* acc, int ld, T* C, int64_t rs, int64_t cs, T beta, int m, int n) {
  if (beta == T(0)) {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) C[i * rs + j * cs] = acc[i * ld + j];
  } else {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) C[i * rs + j * cs] = acc[i * ld + j] + beta * C[i * rs + j * cs];
  }
}

}  // namespace

}  // namespace gemm_detail
}  // namespace fastnn
