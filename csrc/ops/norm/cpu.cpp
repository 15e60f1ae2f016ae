// The CPU drivers of the normalisation kernels: the path in use, and the backward's workspace for
// the per-block partial sums of dweight / dbias (contract: norm.h).
#include <vector>

#include "ops/norm/cpu.h"

namespace fastnn {
namespace norm {

template <typename T>
void norm_forward_cpu(bool centered, int64_t rows, int64_t C, const T* x, const T* w, const T* b, T eps, T* y,
                      T* mean, T* rstd) {
  FASTNN_DISPATCH(norm::norm_forward<T>)(centered, rows, C, x, w, b, eps, y, mean, rstd);
}

template <typename T>
void norm_backward_cpu(bool centered, int64_t rows, int64_t C, const T* dy, const T* x, const T* mean, const T* rstd,
                       const T* w, T* dx, T* dw, T* db) {
  std::vector<T> partial((dw || db) ? (size_t)(2 * block_count(rows) * C) : 0);
  FASTNN_DISPATCH(norm::norm_backward<T>)(centered, rows, C, dy, x, mean, rstd, w, dx, dw, db, partial.data());
}

template <typename T>
void group_norm_backward_cpu(int64_t N, int64_t C, int64_t S, int64_t G, const T* dy, const T* x, const T* mean,
                             const T* rstd, const T* w, const T* b, bool silu, T* dx, T* dw, T* db) {
  std::vector<T> partial((size_t)(2 * N * C));
  FASTNN_DISPATCH(norm::group_norm_backward<T>)(N, C, S, G, dy, x, mean, rstd, w, b, silu, dx, dw, db,
                                                partial.data());
}

#define FASTNN_NORM_CPU(T)                                                                                   \
  template void norm_forward_cpu<T>(bool, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*);     \
  template void norm_backward_cpu<T>(bool, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, \
                                     T*, T*, T*);                                                              \
  template void group_norm_backward_cpu<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*,    \
                                           const T*, const T*, const T*, bool, T*, T*, T*);
FASTNN_NORM_CPU(float)
FASTNN_NORM_CPU(double)
#undef FASTNN_NORM_CPU

}  // namespace norm
}  // namespace fastnn
