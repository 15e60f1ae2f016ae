// The plain reference of the normalisation kernels: scalar loops in index order, no SIMD and no
// threads; what the tests compare the kernels of every CPU path (and the CUDA ones) with.
#pragma GCC optimize("fp-contract=off")

#include <cmath>

#include "ops/norm/cpu.h"

namespace fastnn {
namespace norm {

template <typename T>
void norm_forward_reference(bool centered, int64_t rows, int64_t C, const T* x, const T* w, const T* b, T eps, T* y,
                            T* mean, T* rstd) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
    T mu = 0, ss = 0;
    if (centered) {
      for (int64_t j = 0; j < C; ++j) mu += xr[j];
      mu = C > 0 ? mu / T(C) : T(0);
    }
    for (int64_t j = 0; j < C; ++j) ss += (xr[j] - mu) * (xr[j] - mu);
    const T rs = T(1) / std::sqrt((C > 0 ? ss / T(C) : T(0)) + eps);
    for (int64_t j = 0; j < C; ++j) {
      T v = (xr[j] - mu) * rs;
      if (w) v = v * w[j];
      if (b) v = v + b[j];
      y[r * C + j] = v;
    }
    if (mean) mean[r] = mu;
    rstd[r] = rs;
  }
}

template <typename T>
void norm_backward_reference(bool centered, int64_t rows, int64_t C, const T* dy, const T* x, const T* mean,
                             const T* rstd, const T* w, T* dx, T* dw, T* db) {
  for (int64_t r = 0; dx && r < rows; ++r) {
    const T mu = centered ? mean[r] : T(0), rs = rstd[r];
    T sg = 0, sgx = 0;
    for (int64_t j = 0; j < C; ++j) {
      const T g = w ? dy[r * C + j] * w[j] : dy[r * C + j];
      sg += g;
      sgx += g * ((x[r * C + j] - mu) * rs);
    }
    const T mg = centered ? sg / T(C) : T(0), mgx = sgx / T(C);
    for (int64_t j = 0; j < C; ++j) {
      const T g = w ? dy[r * C + j] * w[j] : dy[r * C + j];
      const T xhat = (x[r * C + j] - mu) * rs;
      dx[r * C + j] = rs * (g - mg - xhat * mgx);
    }
  }
  for (int64_t j = 0; j < C; ++j) {
    T sw = 0, sb = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const T mu = centered ? mean[r] : T(0);
      sw += dy[r * C + j] * ((x[r * C + j] - mu) * rstd[r]);
      sb += dy[r * C + j];
    }
    if (dw) dw[j] = sw;
    if (db) db[j] = sb;
  }
}

#define FASTNN_NORM_REF(T)                                                                                         \
  template void norm_forward_reference<T>(bool, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*);     \
  template void norm_backward_reference<T>(bool, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, \
                                           T*, T*, T*);
FASTNN_NORM_REF(float)
FASTNN_NORM_REF(double)
#undef FASTNN_NORM_REF

}  // namespace norm
}  // namespace fastnn
