// The normalisation kernels on the GPU (contract: norm.h): one thread per row for the statistics,
// the output and dx, one thread per column for dweight / dbias (adding the rows in order, so the
// sums are deterministic), each in a grid-stride loop. Rows of a transformer (C in the hundreds)
// are short enough that a thread's serial passes over its row stay in L1/L2.
#include <cmath>

#include "core/cuda_common.cuh"
#include "ops/norm/cuda.h"

namespace fastnn::cuda::norm {
namespace {

constexpr int kThreads = 128;

#define FASTNN_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

template <typename T>
__global__ void forward_kernel(bool centered, long long rows, long long C, const T* __restrict__ x,
                               const T* __restrict__ w, const T* __restrict__ b, T eps, T* __restrict__ y,
                               T* __restrict__ mean, T* __restrict__ rstd) {
  FASTNN_GRID_STRIDE(r, rows) {
    const T* xr = x + r * C;
    T mu = 0, ss = 0;
    if (centered) {
      for (long long j = 0; j < C; ++j) mu += xr[j];
      mu = C > 0 ? mu / T(C) : T(0);
    }
    for (long long j = 0; j < C; ++j) ss += (xr[j] - mu) * (xr[j] - mu);
    const T rs = T(1) / sqrt((C > 0 ? ss / T(C) : T(0)) + eps);
    T* yr = y + r * C;
    for (long long j = 0; j < C; ++j) {
      T v = (xr[j] - mu) * rs;
      if (w) v = v * w[j];
      if (b) v = v + b[j];
      yr[j] = v;
    }
    if (mean) mean[r] = mu;
    rstd[r] = rs;
  }
}

template <typename T>
__global__ void dx_kernel(bool centered, long long rows, long long C, const T* __restrict__ dy,
                          const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ rstd,
                          const T* __restrict__ w, T* __restrict__ dx) {
  FASTNN_GRID_STRIDE(r, rows) {
    const T mu = centered ? mean[r] : T(0), rs = rstd[r];
    const T* xr = x + r * C;
    const T* gr = dy + r * C;
    T sg = 0, sgx = 0;
    for (long long j = 0; j < C; ++j) {
      const T g = w ? gr[j] * w[j] : gr[j];
      sg += g;
      sgx += g * ((xr[j] - mu) * rs);
    }
    const T mg = centered ? sg / T(C) : T(0), mgx = sgx / T(C);
    for (long long j = 0; j < C; ++j) {
      const T g = w ? gr[j] * w[j] : gr[j];
      dx[r * C + j] = rs * (g - mg - ((xr[j] - mu) * rs) * mgx);
    }
  }
}

template <typename T>
__global__ void affine_grad_kernel(bool centered, long long rows, long long C, const T* __restrict__ dy,
                                   const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ rstd,
                                   T* __restrict__ dw, T* __restrict__ db) {
  FASTNN_GRID_STRIDE(j, C) {
    T sw = 0, sb = 0;
    for (long long r = 0; r < rows; ++r) {
      const T d = dy[r * C + j];
      sw += d * ((x[r * C + j] - (centered ? mean[r] : T(0))) * rstd[r]);
      sb += d;
    }
    if (dw) dw[j] = sw;
    if (db) db[j] = sb;
  }
}

// Batch normalisation: one thread per channel for its statistics / sums (the rows in order, as on the CPU),
// one thread per element for y and dx.
template <typename T>
__global__ void batch_stats_kernel(long long N, long long C, long long S, const T* __restrict__ x, T eps,
                                   T* __restrict__ mean, T* __restrict__ var, T* __restrict__ rstd) {
  FASTNN_GRID_STRIDE(c, C) {
    const long long M = N * S;
    T mu = 0, ss = 0;
    for (long long n = 0; n < N; ++n)
      for (long long s = 0; s < S; ++s) mu += x[(n * C + c) * S + s];
    mu = M > 0 ? mu / T(M) : T(0);
    for (long long n = 0; n < N; ++n)
      for (long long s = 0; s < S; ++s) {
        const T d = x[(n * C + c) * S + s] - mu;
        ss += d * d;
      }
    const T v = M > 0 ? ss / T(M) : T(0);
    mean[c] = mu;
    var[c] = v;
    rstd[c] = T(1) / sqrt(v + eps);
  }
}

template <typename T>
__global__ void batch_apply_kernel(long long total, long long C, long long S, const T* __restrict__ x,
                                   const T* __restrict__ w, const T* __restrict__ b, const T* __restrict__ mean,
                                   const T* __restrict__ rstd, T* __restrict__ y) {
  FASTNN_GRID_STRIDE(i, total) {
    const long long c = (i / S) % C;
    T v = (x[i] - mean[c]) * rstd[c];
    if (w) v = v * w[c];
    if (b) v = v + b[c];
    y[i] = v;
  }
}

template <typename T>
__global__ void batch_sums_kernel(long long N, long long C, long long S, const T* __restrict__ dy,
                                  const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ rstd,
                                  T* __restrict__ dw, T* __restrict__ db) {
  FASTNN_GRID_STRIDE(c, C) {
    T sg = 0, sgx = 0;
    for (long long n = 0; n < N; ++n)
      for (long long s = 0; s < S; ++s) {
        const long long i = (n * C + c) * S + s;
        sg += dy[i];
        sgx += dy[i] * ((x[i] - mean[c]) * rstd[c]);
      }
    dw[c] = sgx;
    db[c] = sg;
  }
}

template <typename T>
__global__ void batch_dx_kernel(long long total, long long M, long long C, long long S, const T* __restrict__ dy,
                                const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ rstd,
                                const T* __restrict__ w, const T* __restrict__ dw, const T* __restrict__ db,
                                T* __restrict__ dx) {
  FASTNN_GRID_STRIDE(i, total) {
    const long long c = (i / S) % C;
    const T k = w ? rstd[c] * w[c] : rstd[c];
    dx[i] = k * (dy[i] - db[c] / T(M) - ((x[i] - mean[c]) * rstd[c]) * (dw[c] / T(M)));
  }
}

// Group normalisation: one thread per (n, g) row for its statistics and its dx (the row's K * S values are
// contiguous), one thread per element for y, one thread per channel for dweight / dbias (samples in order).
template <typename T>
__global__ void group_stats_kernel(long long rows, long long D, const T* __restrict__ x, T eps, T* __restrict__ mean,
                                   T* __restrict__ rstd) {
  FASTNN_GRID_STRIDE(r, rows) {
    const T* xr = x + r * D;
    T mu = 0, ss = 0;
    for (long long i = 0; i < D; ++i) mu += xr[i];
    mu = D > 0 ? mu / T(D) : T(0);
    for (long long i = 0; i < D; ++i) ss += (xr[i] - mu) * (xr[i] - mu);
    mean[r] = mu;
    rstd[r] = T(1) / sqrt((D > 0 ? ss / T(D) : T(0)) + eps);
  }
}

// Element i of the group normalisation's output (before any SiLU).
template <typename T>
__device__ __forceinline__ T group_value(long long i, long long C, long long S, long long K, const T* __restrict__ x,
                                         const T* __restrict__ w, const T* __restrict__ b,
                                         const T* __restrict__ mean, const T* __restrict__ rstd) {
  const long long nc = i / S, c = nc % C, r = nc / K;  // (n * C + c) / K = n * G + c / K
  return (x[i] - mean[r]) * (w ? rstd[r] * w[c] : rstd[r]) + (b ? b[c] : T(0));
}

template <typename T>
__global__ void group_apply_kernel(long long total, long long C, long long S, long long K, const T* __restrict__ x,
                                   const T* __restrict__ w, const T* __restrict__ b, const T* __restrict__ mean,
                                   const T* __restrict__ rstd, bool silu, T* __restrict__ y) {
  FASTNN_GRID_STRIDE(i, total) {
    const T v = group_value(i, C, S, K, x, w, b, mean, rstd);
    y[i] = silu ? v / (T(1) + exp(-v)) : v;
  }
}

// With silu: g = dy * silu'(v) at the normalisation's output v (recomputed), which the backward kernels then
// read in place of dy (norm.h).
template <typename T>
__global__ void group_silu_grad_kernel(long long total, long long C, long long S, long long K,
                                       const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ w,
                                       const T* __restrict__ b, const T* __restrict__ mean,
                                       const T* __restrict__ rstd, T* __restrict__ g) {
  FASTNN_GRID_STRIDE(i, total) {
    const T v = group_value(i, C, S, K, x, w, b, mean, rstd);
    const T s = T(1) / (T(1) + exp(-v));
    g[i] = dy[i] * s * (T(1) + v * (T(1) - s));
  }
}

template <typename T>
__global__ void group_dx_kernel(long long rows, long long G, long long K, long long S, const T* __restrict__ dy,
                                const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ rstd,
                                const T* __restrict__ w, T* __restrict__ dx) {
  FASTNN_GRID_STRIDE(r, rows) {
    const long long D = K * S, c0 = (r % G) * K;
    const T mu = mean[r], rs = rstd[r];
    T sg = 0, sgx = 0;
    for (long long i = r * D; i < (r + 1) * D; ++i) {
      const T g = w ? dy[i] * w[c0 + (i - r * D) / S] : dy[i];
      sg += g;
      sgx += g * ((x[i] - mu) * rs);
    }
    const T mg = sg / T(D), mgx = sgx / T(D);
    for (long long i = r * D; i < (r + 1) * D; ++i) {
      const T g = w ? dy[i] * w[c0 + (i - r * D) / S] : dy[i];
      dx[i] = rs * (g - mg - ((x[i] - mu) * rs) * mgx);
    }
  }
}

template <typename T>
__global__ void group_affine_grad_kernel(long long N, long long C, long long S, long long G, const T* __restrict__ dy,
                                         const T* __restrict__ x, const T* __restrict__ mean,
                                         const T* __restrict__ rstd, T* __restrict__ dw, T* __restrict__ db) {
  FASTNN_GRID_STRIDE(c, C) {
    const long long K = C / G;
    T sw = 0, sb = 0;
    for (long long n = 0; n < N; ++n) {
      const long long r = n * G + c / K;
      for (long long s = 0; s < S; ++s) {
        const long long i = (n * C + c) * S + s;
        sw += dy[i] * ((x[i] - mean[r]) * rstd[r]);
        sb += dy[i];
      }
    }
    if (dw) dw[c] = sw;
    if (db) db[c] = sb;
  }
}

#undef FASTNN_GRID_STRIDE

unsigned blocks(long long n) { return elementwise_blocks(n, kThreads); }

}  // namespace

template <typename T>
void norm_forward(bool centered, int64_t rows, int64_t C, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                  T* rstd, cudaStream_t stream) {
  if (rows == 0) return;
  forward_kernel<T><<<blocks(rows), kThreads, 0, stream>>>(centered, rows, C, x, w, b, eps, y, mean, rstd);
  check_launch("norm_forward");
}

template <typename T>
void norm_backward(bool centered, int64_t rows, int64_t C, const T* dy, const T* x, const T* mean, const T* rstd,
                   const T* w, T* dx, T* dw, T* db, cudaStream_t stream) {
  if (dx && rows > 0 && C > 0) {
    dx_kernel<T><<<blocks(rows), kThreads, 0, stream>>>(centered, rows, C, dy, x, mean, rstd, w, dx);
    check_launch("norm_backward (dx)");
  }
  if ((dw || db) && C > 0) {
    affine_grad_kernel<T><<<blocks(C), kThreads, 0, stream>>>(centered, rows, C, dy, x, mean, rstd, dw, db);
    check_launch("norm_backward (dweight, dbias)");
  }
}

template <typename T>
void batch_norm_forward(int64_t N, int64_t C, int64_t S, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                        T* var, T* rstd, cudaStream_t stream) {
  if (C == 0) return;
  batch_stats_kernel<T><<<blocks(C), kThreads, 0, stream>>>(N, C, S, x, eps, mean, var, rstd);
  check_launch("batch_norm_forward (statistics)");
  const long long total = (long long)N * C * S;
  if (total == 0) return;
  batch_apply_kernel<T><<<blocks(total), kThreads, 0, stream>>>(total, C, S, x, w, b, mean, rstd, y);
  check_launch("batch_norm_forward");
}

template <typename T>
void batch_norm_backward(int64_t N, int64_t C, int64_t S, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* w, T* dx, T* dw, T* db, cudaStream_t stream) {
  if (C == 0) return;
  batch_sums_kernel<T><<<blocks(C), kThreads, 0, stream>>>(N, C, S, dy, x, mean, rstd, dw, db);
  check_launch("batch_norm_backward (sums)");
  const long long total = (long long)N * C * S;
  if (!dx || total == 0) return;
  batch_dx_kernel<T><<<blocks(total), kThreads, 0, stream>>>(total, (long long)N * S, C, S, dy, x, mean, rstd, w, dw,
                                                             db, dx);
  check_launch("batch_norm_backward (dx)");
}

template <typename T>
void group_norm_forward(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* w, const T* b, T eps, T* y,
                        T* mean, T* rstd, bool silu, cudaStream_t stream) {
  const long long rows = (long long)N * G, K = C / G, total = (long long)N * C * S;
  if (rows == 0) return;
  group_stats_kernel<T><<<blocks(rows), kThreads, 0, stream>>>(rows, K * S, x, eps, mean, rstd);
  check_launch("group_norm_forward (statistics)");
  if (total == 0) return;
  group_apply_kernel<T><<<blocks(total), kThreads, 0, stream>>>(total, C, S, K, x, w, b, mean, rstd, silu, y);
  check_launch("group_norm_forward");
}

template <typename T>
void group_norm_backward(int64_t N, int64_t C, int64_t S, int64_t G, const T* dy, const T* x, const T* mean,
                         const T* rstd, const T* w, const T* b, T* silu_g, T* dx, T* dw, T* db, cudaStream_t stream) {
  const long long rows = (long long)N * G, K = C / G, total = (long long)N * C * S;
  if (silu_g && total > 0) {
    group_silu_grad_kernel<T><<<blocks(total), kThreads, 0, stream>>>(total, C, S, K, dy, x, w, b, mean, rstd, silu_g);
    check_launch("group_norm_backward (silu)");
    dy = silu_g;
  }
  if (dx && rows > 0 && K * S > 0) {
    group_dx_kernel<T><<<blocks(rows), kThreads, 0, stream>>>(rows, G, K, S, dy, x, mean, rstd, w, dx);
    check_launch("group_norm_backward (dx)");
  }
  if ((dw || db) && C > 0) {
    group_affine_grad_kernel<T><<<blocks(C), kThreads, 0, stream>>>(N, C, S, G, dy, x, mean, rstd, dw, db);
    check_launch("group_norm_backward (dweight, dbias)");
  }
}

#define FASTNN_NORM_CUDA(T)                                                                                  \
  template void norm_forward<T>(bool, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*,         \
                                cudaStream_t);                                                               \
  template void norm_backward<T>(bool, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, T*, \
                                 T*, T*, cudaStream_t);                                                        \
  template void batch_norm_forward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*, T*,  \
                                      cudaStream_t);                                                           \
  template void batch_norm_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, \
                                       T*, T*, T*, cudaStream_t);                                                \
  template void group_norm_forward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, \
                                      T*, bool, cudaStream_t);                                                   \
  template void group_norm_backward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*,          \
                                       const T*, const T*, const T*, T*, T*, T*, T*, cudaStream_t);
FASTNN_NORM_CUDA(float)
FASTNN_NORM_CUDA(double)
#undef FASTNN_NORM_CUDA

}  // namespace fastnn::cuda::norm
