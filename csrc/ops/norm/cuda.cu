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

#define FASTNN_NORM_CUDA(T)                                                                                  \
  template void norm_forward<T>(bool, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*,         \
                                cudaStream_t);                                                               \
  template void norm_backward<T>(bool, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, T*, \
                                 T*, T*, cudaStream_t);
FASTNN_NORM_CUDA(float)
FASTNN_NORM_CUDA(double)
#undef FASTNN_NORM_CUDA

}  // namespace fastnn::cuda::norm
