// The plain reference of the normalisation kernels: scalar loops in index order, no SIMD and no
// threads; what the tests compare the kernels of every CPU path (and the CUDA ones) with.
#pragma GCC optimize("fp-contract=off")

#include <cmath>
#include <vector>

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

template <typename T>
void batch_norm_forward_reference(int64_t N, int64_t C, int64_t S, const T* x, const T* w, const T* b, T eps, T* y,
                                  T* mean, T* var, T* rstd) {
  const int64_t M = N * S;
  for (int64_t c = 0; c < C; ++c) {
    T mu = 0, ss = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) mu += x[(n * C + c) * S + s];
    mu = M > 0 ? mu / T(M) : T(0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const T d = x[(n * C + c) * S + s] - mu;
        ss += d * d;
      }
    const T v = M > 0 ? ss / T(M) : T(0);
    const T rs = T(1) / std::sqrt(v + eps);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        T o = (x[i] - mu) * rs;
        if (w) o = o * w[c];
        if (b) o = o + b[c];
        y[i] = o;
      }
    mean[c] = mu;
    var[c] = v;
    rstd[c] = rs;
  }
}

template <typename T>
void batch_norm_backward_reference(int64_t N, int64_t C, int64_t S, const T* dy, const T* x, const T* mean,
                                   const T* rstd, const T* w, T* dx, T* dw, T* db) {
  const int64_t M = N * S;
  for (int64_t c = 0; c < C; ++c) {
    const T mu = mean[c], rs = rstd[c];
    T sg = 0, sgx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        sg += dy[i];
        sgx += dy[i] * ((x[i] - mu) * rs);
      }
    if (dw) dw[c] = sgx;
    if (db) db[c] = sg;
    if (!dx || M == 0) continue;
    const T k = w ? rs * w[c] : rs, mg = sg / T(M), mgx = sgx / T(M);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        dx[i] = k * (dy[i] - mg - ((x[i] - mu) * rs) * mgx);
      }
  }
}

template <typename T>
void group_norm_forward_reference(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* w, const T* b,
                                  T eps, T* y, T* mean, T* rstd, bool silu) {
  const int64_t K = C / G, D = K * S;
  for (int64_t r = 0; r < N * G; ++r) {
    const T* xr = x + r * D;
    T mu = 0, ss = 0;
    for (int64_t i = 0; i < D; ++i) mu += xr[i];
    mu = D > 0 ? mu / T(D) : T(0);
    for (int64_t i = 0; i < D; ++i) ss += (xr[i] - mu) * (xr[i] - mu);
    const T rs = T(1) / std::sqrt((D > 0 ? ss / T(D) : T(0)) + eps);
    for (int64_t i = 0; i < D; ++i) {
      const int64_t c = (r % G) * K + i / (S > 0 ? S : 1);
      const T v = (xr[i] - mu) * (w ? rs * w[c] : rs) + (b ? b[c] : T(0));
      y[r * D + i] = silu ? v / (T(1) + std::exp(-v)) : v;
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
}

template <typename T>
void group_norm_backward_reference(int64_t N, int64_t C, int64_t S, int64_t G, const T* dy, const T* x,
                                   const T* mean, const T* rstd, const T* w, const T* b, bool silu, T* dx, T* dw,
                                   T* db) {
  const int64_t K = C / G, D = K * S;
  std::vector<T> g_silu;
  if (silu) {  // the gradient at the normalisation's output, then the plain backward on it
    g_silu.resize((size_t)(N * C * S));
    for (int64_t i = 0; i < N * C * S; ++i) {
      const int64_t c = (i / (S > 0 ? S : 1)) % C, r = (i / (S > 0 ? S : 1)) / K;
      const T v = (x[i] - mean[r]) * (w ? rstd[r] * w[c] : rstd[r]) + (b ? b[c] : T(0));
      const T sg = T(1) / (T(1) + std::exp(-v));
      g_silu[i] = dy[i] * sg * (T(1) + v * (T(1) - sg));
    }
    dy = g_silu.data();
  }
  for (int64_t c = 0; c < C; ++c) {
    T sw = 0, sb = 0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t r = n * G + c / K;
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        sw += dy[i] * ((x[i] - mean[r]) * rstd[r]);
        sb += dy[i];
      }
    }
    if (dw) dw[c] = sw;
    if (db) db[c] = sb;
  }
  for (int64_t r = 0; dx && r < N * G; ++r) {
    const T mu = mean[r], rs = rstd[r];
    T sg = 0, sgx = 0;
    for (int64_t i = r * D; i < (r + 1) * D; ++i) {
      const T g = w ? dy[i] * w[(r % G) * K + (i - r * D) / S] : dy[i];
      sg += g;
      sgx += g * ((x[i] - mu) * rs);
    }
    const T mg = sg / T(D), mgx = sgx / T(D);
    for (int64_t i = r * D; i < (r + 1) * D; ++i) {
      const T g = w ? dy[i] * w[(r % G) * K + (i - r * D) / S] : dy[i];
      dx[i] = rs * (g - mg - ((x[i] - mu) * rs) * mgx);
    }
  }
}

#define FASTNN_NORM_REF(T)                                                                                         \
  template void norm_forward_reference<T>(bool, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*);     \
  template void norm_backward_reference<T>(bool, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, \
                                           T*, T*, T*);                                                  \
  template void batch_norm_forward_reference<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, \
                                                T*, T*);                                                         \
  template void batch_norm_backward_reference<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, const T*, \
                                                 const T*, T*, T*, T*);                                         \
  template void group_norm_forward_reference<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, T, \
                                                T*, T*, T*, bool);                                               \
  template void group_norm_backward_reference<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, \
                                                 const T*, const T*, const T*, bool, T*, T*, T*);
FASTNN_NORM_REF(float)
FASTNN_NORM_REF(double)
#undef FASTNN_NORM_REF

}  // namespace norm
}  // namespace fastnn
