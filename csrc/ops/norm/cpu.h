// The normalisation kernels on the CPU: the SIMD ones (norm_simd.cpp, one instantiation per CPU path),
// their drivers (cpu.cpp) and the plain reference (ref.cpp). Contract: norm.h.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/norm/norm.h"

FASTNN_DECLARE_PER_PATH(namespace norm {
  template <typename T>
  void norm_forward(bool centered, int64_t rows, int64_t C, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                    T* rstd);
  // `partial`: 2 * block_count(rows) * C elements of workspace when dw or db is wanted.
  template <typename T>
  void norm_backward(bool centered, int64_t rows, int64_t C, const T* dy, const T* x, const T* mean, const T* rstd,
                     const T* w, T* dx, T* dw, T* db, T* partial);
  template <typename T>
  void batch_norm_forward(int64_t N, int64_t C, int64_t S, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                          T* var, T* rstd);
  // dw and db are the sums the backward needs: always written (C,), whatever the caller wants of them.
  template <typename T>
  void batch_norm_backward(int64_t N, int64_t C, int64_t S, const T* dy, const T* x, const T* mean, const T* rstd,
                           const T* w, T* dx, T* dw, T* db);
  template <typename T>
  void group_norm_forward(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* w, const T* b, T eps, T* y,
                          T* mean, T* rstd, bool silu);
  // `partial`: 2 * N * C elements of workspace (the per-(n, c) sums pw and pb of norm.h); b is read only with silu.
  template <typename T>
  void group_norm_backward(int64_t N, int64_t C, int64_t S, int64_t G, const T* dy, const T* x, const T* mean,
                           const T* rstd, const T* w, const T* b, bool silu, T* dx, T* dw, T* db, T* partial);
})

namespace fastnn {
namespace norm {

// The kernels of the CPU path in use (mean and db null for RMS norm; dx, dw, db null when not wanted).
template <typename T>
void norm_forward_cpu(bool centered, int64_t rows, int64_t C, const T* x, const T* w, const T* b, T eps, T* y,
                      T* mean, T* rstd);
template <typename T>
void norm_backward_cpu(bool centered, int64_t rows, int64_t C, const T* dy, const T* x, const T* mean, const T* rstd,
                       const T* w, T* dx, T* dw, T* db);

// Batch normalisation over the channels of a contiguous (N, C, S) block (norm.h); dx may be null.
template <typename T>
void batch_norm_forward_cpu(int64_t N, int64_t C, int64_t S, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                            T* var, T* rstd) {
  FASTNN_DISPATCH(norm::batch_norm_forward<T>)(N, C, S, x, w, b, eps, y, mean, var, rstd);
}
template <typename T>
void batch_norm_backward_cpu(int64_t N, int64_t C, int64_t S, const T* dy, const T* x, const T* mean, const T* rstd,
                             const T* w, T* dx, T* dw, T* db) {
  FASTNN_DISPATCH(norm::batch_norm_backward<T>)(N, C, S, dy, x, mean, rstd, w, dx, dw, db);
}

// Group normalisation of a contiguous (N, C, S) block in G groups of channels (norm.h); dx, dw, db may be null.
// With `silu`, followed by SiLU in the same pass (norm.h); the backward then reads the bias b (may be null).
template <typename T>
void group_norm_forward_cpu(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* w, const T* b, T eps,
                            T* y, T* mean, T* rstd, bool silu) {
  FASTNN_DISPATCH(norm::group_norm_forward<T>)(N, C, S, G, x, w, b, eps, y, mean, rstd, silu);
}
template <typename T>
void group_norm_backward_cpu(int64_t N, int64_t C, int64_t S, int64_t G, const T* dy, const T* x, const T* mean,
                             const T* rstd, const T* w, const T* b, bool silu, T* dx, T* dw, T* db);

// Plain references for the tests: scalar loops, one row and one column at a time, in index order.
template <typename T>
void norm_forward_reference(bool centered, int64_t rows, int64_t C, const T* x, const T* w, const T* b, T eps, T* y,
                            T* mean, T* rstd);
template <typename T>
void norm_backward_reference(bool centered, int64_t rows, int64_t C, const T* dy, const T* x, const T* mean,
                             const T* rstd, const T* w, T* dx, T* dw, T* db);
template <typename T>
void batch_norm_forward_reference(int64_t N, int64_t C, int64_t S, const T* x, const T* w, const T* b, T eps, T* y,
                                  T* mean, T* var, T* rstd);
template <typename T>
void batch_norm_backward_reference(int64_t N, int64_t C, int64_t S, const T* dy, const T* x, const T* mean,
                                   const T* rstd, const T* w, T* dx, T* dw, T* db);
template <typename T>
void group_norm_forward_reference(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* w, const T* b,
                                  T eps, T* y, T* mean, T* rstd, bool silu);
template <typename T>
void group_norm_backward_reference(int64_t N, int64_t C, int64_t S, int64_t G, const T* dy, const T* x,
                                   const T* mean, const T* rstd, const T* w, const T* b, bool silu, T* dx, T* dw,
                                   T* db);

}  // namespace norm
}  // namespace fastnn
