// Interface between the GEMM driver (cpu.cpp: blocking, threads) and its kernels (cpu_simd.cpp:
// packing, the register-tiled micro-kernel and matrix-vector rows, written once on the SIMD
// layer and compiled per CPU path).
#pragma once
#include "core/cpu_features.h"
#include <cstdint>

namespace fastnn {
namespace gemm_detail {

template <typename T>
struct Kernel {
  const char* name;
  int mr, nr;  // micro-tile of C held in registers
  int w;       // lanes of one vector: the most columns narrow_rows takes
  int narrow_mr;  // rows of C narrow_rows holds in registers
  // Packs an mc x kc block of A (element strides sm, sk) into ceil(mc/mr) strips of mr x kc,
  // k-major within a strip; the rows of the last strip past mc are left unset (never read into
  // a result: the micro-kernel runs only the rows that exist).
  void (*pack_a)(int64_t mc, int64_t kc, const T* A, int64_t sm, int64_t sk, T* dst);
  // Packs a kc x nc block of B (element strides sk, sn) into ceil(nc/nr) strips of kc x nr,
  // zero-padding the last strip.
  void (*pack_b)(int64_t kc, int64_t nc, const T* B, int64_t sk, int64_t sn, T* dst);
  // C[0:mc, 0:nc] over the B strips [s0, s1): alpha * Ap @ Bp + beta * C (C not read when
  // beta == 0), C with row/column strides rs, cs; Ap is a packed A block, Bp a packed B panel.
  void (*block)(int64_t mc, int64_t nc, int64_t kc, const T* Ap, const T* Bp, int64_t s0, int64_t s1, T* C,
                int64_t rs, int64_t cs, T alpha, T beta);
  // Rows [r0, r1) of y = alpha * X v + beta * y (X: R x K with strides sr, sk; v stride sv;
  // y stride sy; y not read when beta == 0), read in place; acc: scratch of R elements.
  void (*gemv_rows)(int64_t r0, int64_t r1, int64_t K, T alpha, const T* X, int64_t sr, int64_t sk, const T* v,
                    int64_t sv, T beta, T* y, int64_t sy, T* acc);
  // Rows [r0, r1) of C = alpha * A @ B + beta * C (C not read when beta == 0) over kc steps of k,
  // for C of n <= w columns (row/column strides rs, cs): A (strides sm, sk) read in place, Bp the
  // kc x n block of B packed as kc rows of w, zero past n.
  void (*narrow_rows)(int64_t r0, int64_t r1, int64_t kc, T alpha, const T* A, int64_t sm, int64_t sk,
                      const T* Bp, T beta, T* C, int64_t rs, int64_t cs, int n);
};

}  // namespace gemm_detail
}  // namespace fastnn

FASTNN_DECLARE_PER_PATH(template <typename T> const gemm_detail::Kernel<T>& gemm_kernel();)
